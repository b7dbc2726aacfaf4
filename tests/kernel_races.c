// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Creation races: `add` against a socket bound before it that changes state while add
 * looks, by bind() (a small block, user/probe.c) or in the socket tables (sock_diag's
 * three passes, forced with PORTRSV_FAULT=probe-unsure); bind(0) from a block with a port that the kernel still holds
 * (TIME_WAIT) although no socket of ours does.
 */
#include "testlib.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <criterion/parameterized.h> /* after criterion.h, which it would break */

struct kt_env kt;

/* The racing child of a test: killed and reaped on every path, before the teardown. */
static pid_t racer = -1;

/*
 * What the add race's parent and child tell each other, in memory they share: the child's
 * timings follow how long an add takes here (milliseconds on a host, a hundred times that
 * in QEMU under load), and the parent knows when the child has had its turn at a free block.
 */
struct race_shared {
	unsigned long freed; /* parent: blocks freed (deletes) so far */
	unsigned long tried; /* child: freed as it read it before its last bind attempt */
	long add_us;         /* parent: how long an add takes, averaged; 0 before the first */
};
static struct race_shared *shared;

static void races_fini(void)
{
	if (racer > 0) {
		kill(racer, SIGKILL);
		while (waitpid(racer, NULL, 0) < 0 && errno == EINTR)
			;
		racer = -1;
	}
	if (shared) {
		munmap(shared, sizeof(*shared));
		shared = NULL;
	}
	kt_teardown();
}

static long now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000L + t.tv_nsec / 1000;
}

/* usleep, for a second and more too */
static void sleep_us(long us)
{
	struct timespec t = { .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000 };

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

static void spin_us(unsigned us)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < (long)us);
}

#define RACE_PORT 7101
#define RACE_START 7100
#define RACE_COUNT 3
#define RACE_ROUNDS 200
#define RACE_ROUNDS_MAX 5000
#define RACE_MIN_ADDS 15 /* successful adds, and refused ones, a row needs to have proved
			   * anything */
#define RACE_EXTEND_S 300 /* rounds past RACE_ROUNDS only this long: the failure then says
			   * why, before the test's timeout */
/* Bound-only sockets outside the block: they make each of add's dumps take milliseconds,
 * as on a busy host, so that the child's state changes land inside them. */
#define RACE_FILL 2000
#define RACE_FILL_PORT 20000

/* What the child does with a socket it managed to bind before the reservation. */
enum race_kind {
	RACE_LISTEN,     /* bind, listen, close */
	RACE_DISCONNECT, /* bind, listen, connect(AF_UNSPEC): bound-only again, close */
	RACE_CONNECT,    /* bind, connect to a listener outside the block, close */
};

struct race_row {
	char name[48]; /* an array: rows reach the worker by copy, pointers do not */
	enum kt_fam fam;
	enum race_kind kind;
	bool dump; /* add looks in the socket tables (sock_diag), not by bind() (probe.c) */
};

/* Loop socket/bind/...: binds fail while the block is reserved; the rest is its race. */
static void racer_loop(const struct race_row *row, uint16_t peer)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(peer),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(peer),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	unsigned seed = getpid();

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		unsigned long freed = __atomic_load_n(&shared->freed, __ATOMIC_ACQUIRE);
		long add_us = __atomic_load_n(&shared->add_us, __ATOMIC_RELAXED);
		int fd = socket(row->fam == KT_V4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC,
				0), err;

		if (fd < 0)
			_exit(1);
		err = kt_bind(fd, row->fam, RACE_PORT);
		__atomic_store_n(&shared->tried, freed, __ATOMIC_RELEASE);
		if (err) {
			close(fd);
			continue;
		}
		/* Somewhere inside add's look at the tables, which takes about as long as an add
		 * (3 ms on a host, much more in QEMU: there a fixed 3 ms lands before the look). */
		spin_us(rand_r(&seed) % (add_us > 3000 ? add_us : 3000));
		switch (row->kind) {
		case RACE_LISTEN:
			listen(fd, 1);
			break;
		case RACE_DISCONNECT:
			listen(fd, 1);
			/* Up to a third of an add: the two changes may land in different dumps. */
			spin_us(rand_r(&seed) % (add_us / 3 > 500 ? add_us / 3 : 500));
			connect(fd, &unspec, sizeof(unspec));
			break;
		case RACE_CONNECT:
			/* A reset, not TIME_WAIT, at close: the next bind gets the port again. */
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			if (row->fam == KT_V4)
				connect(fd, (struct sockaddr *)&a4, sizeof(a4));
			else
				connect(fd, (struct sockaddr *)&a6, sizeof(a6));
			break;
		}
		/* Long enough for the parent to finish an add it began before our bind, stop us and
		 * look: a socket that add missed is still bound then. 30 ms on a host; four adds
		 * where an add takes longer (QEMU: 30 ms was less than one add, so add always
		 * outlived the socket it should refuse for, and no add was refused). Asleep: on
		 * one CPU a spin here would slow the adds it waits for, and so lengthen itself. */
		sleep_us(add_us * 4 > 30000 ? add_us * 4 : 30000);
		close(fd);
		/* The parent's turn at a free block: on one CPU (a VM) the next bind would
		 * otherwise come before any add could, and every add be refused. */
		sleep_us(rand_r(&seed) % (add_us > 1000 ? add_us : 1000));
	}
}

ParameterizedTestParameters(races, add_vs_state_change)
{
	static struct race_row rows[] = {
		/* bind() meets a socket whatever its state: two rows show it */
		{ "ipv4 bound, then listen", KT_V4, RACE_LISTEN, false },
		{ "ipv6 listen, then disconnect", KT_V6, RACE_DISCONNECT, false },
		/* the passes of portrsv_ports_in_use_map close a race each */
		{ "dump: ipv4 bound, then listen", KT_V4, RACE_LISTEN, true },
		{ "dump: ipv6 bound, then listen", KT_V6, RACE_LISTEN, true },
		{ "dump: ipv4 listen, then disconnect", KT_V4, RACE_DISCONNECT, true },
		{ "dump: ipv6 listen, then disconnect", KT_V6, RACE_DISCONNECT, true },
		{ "dump: ipv4 bound, then connect", KT_V4, RACE_CONNECT, true },
	};

	return cr_make_param_array(struct race_row, rows, sizeof(rows) / sizeof(rows[0]));
}

/*
 * After every add that succeeds, with the child stopped, no socket may hold a port of the
 * block: it was bound before the reservation, so add had to see it and refuse (rule 7).
 * Every add that fails must fail with EADDRINUSE.
 */
ParameterizedTest(struct race_row *row, races, add_vs_state_change, .init = kt_setup,
		  .fini = races_fini, .timeout = 600)
{
	unsigned char bits[(PORTRSV_PORT_MAX + 1) / 8];
	int adds = 0, refused = 0, leaks = 0, rounds = 0, lfd, status, fill[RACE_FILL];
	long add_us = 0;
	uint16_t peer;

	/* Bound-only TCP sockets are invisible to sock_diag before 6.8: a dumping add cannot
	 * refuse a socket it cannot see, and the check below of every add cannot see one
	 * left behind. */
	kt_need(PORTRSV_FEAT_DIAG_BOUND);
	if (row->dump)
		setenv("PORTRSV_FAULT", "probe-unsure", 1); /* the three sock_diag passes */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &(struct rlimit){ RACE_FILL + 256, RACE_FILL + 256 }),
		     0, "setrlimit: %s", strerror(errno));
	for (int i = 0; i < RACE_FILL; i++) {
		fill[i] = kt_socket(row->fam, IPPROTO_TCP);
		cr_assert_eq(kt_bind(fill[i], row->fam, RACE_FILL_PORT + i), 0);
	}
	lfd = kt_socket(row->fam, IPPROTO_TCP);
	cr_assert_eq(kt_bind(lfd, row->fam, 0), 0);
	cr_assert_eq(listen(lfd, 4096), 0);
	cr_assert_eq(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
	peer = kt_port(lfd);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	cr_assert(shared != MAP_FAILED, "mmap: %s", strerror(errno));
	racer = fork();
	cr_assert(racer >= 0, "fork: %s", strerror(errno));
	if (racer == 0)
		racer_loop(row, peer);
	/* At least RACE_ROUNDS rounds, and more (to RACE_ROUNDS_MAX, for RACE_EXTEND_S at most)
	 * until the race was run enough both ways. */
	time_t t0 = time(NULL);

	for (int round = 0; round < RACE_ROUNDS_MAX && (round < RACE_ROUNDS ||
	     ((adds < RACE_MIN_ADDS || refused < RACE_MIN_ADDS) &&
	      time(NULL) - t0 < RACE_EXTEND_S)); round++, rounds++) {
		uint64_t token = 0;
		long t = now_us();
		int err = portrsv_create(kt.p, PORTRSV_TCP, RACE_START, RACE_COUNT, NULL, &token);
		unsigned long freed;
		int c;

		/* What the child's timings follow: an average, which one slow add moves little. */
		t = now_us() - t;
		add_us = add_us ? (7 * add_us + t) / 8 : t;
		__atomic_store_n(&shared->add_us, add_us, __ATOMIC_RELAXED);

		/* The connections the child made: accepted and dropped, so its backlog never
		 * fills (they are the child's peers, on a port outside the block). */
		while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(c);
		if (err) {
			cr_assert_eq(err, -EADDRINUSE, "%s: round %d: add: %s, want EADDRINUSE",
				     row->name, round, strerror(-err));
			refused++;
			continue;
		}
		adds++;
		cr_assert_eq(kill(racer, SIGSTOP), 0);
		cr_assert_eq(waitpid(racer, &status, WUNTRACED), racer);
		cr_assert(WIFSTOPPED(status));
		cr_assert_eq(portrsv_ports_in_use_map(PORTRSV_TCP, bits), 0);
		for (int p = RACE_START; p < RACE_START + RACE_COUNT; p++)
			if (bits[p / 8] & (1 << (p % 8)))
				leaks++;
		cr_assert_eq(kill(racer, SIGCONT), 0);
		err = portrsv_delete(kt.p, PORTRSV_TCP, RACE_START, RACE_COUNT, NULL);
		cr_assert_eq(err, 0, "%s: delete: %s", row->name, strerror(-err));
		/* The child's turn: a bind attempt that it began after the delete, at a free block.
		 * On one CPU (a VM under load) it got none in a fixed pause, held no port through
		 * hundreds of rounds, and no add was refused. The next add races what the child
		 * does next with the socket that bind gave it. */
		freed = __atomic_add_fetch(&shared->freed, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&shared->tried, __ATOMIC_ACQUIRE) < freed) {
			cr_assert_eq(waitpid(racer, &status, WNOHANG), 0, "%s: the child died",
				     row->name);
			usleep(100);
		}
	}
	cr_log_info("%s: %d rounds in %ld s: %d adds, %d refused; an add took %ld us", row->name,
		    rounds, (long)(time(NULL) - t0), adds, refused, add_us);
	close(lfd);
	for (int i = 0; i < RACE_FILL; i++)
		close(fill[i]);
	cr_assert_eq(leaks, 0, "%s: %d of %d successful adds left a socket bound inside the "
		     "block (%d refused)", row->name, leaks, adds, refused);
	cr_assert_geq(adds, RACE_MIN_ADDS, "%s: only %d of %d adds succeeded: the race proved "
		      "nothing", row->name, adds, rounds);
	cr_assert_geq(refused, RACE_MIN_ADDS, "%s: only %d of %d adds were refused: the child "
		      "rarely held the port", row->name, refused, rounds);
}

/*
 * bind(0) with the token from a block of two ports, A and B, where the kernel may still
 * hold A although no socket of ours does. Every bind(0) must get a port the kernel lets it
 * have while one is free; EADDRINUSE only when both are really taken.
 */
#define ALLOC_START 7200 /* A; B is ALLOC_START + 1 */

enum port_a {
	A_TIMEWAIT, /* a connection from A closed actively: TIME_WAIT holds it */
	A_RESET,    /* a connection from A reset at close: marked, but free in fact */
	A_HELD,     /* a socket with the token is bound to A */
	A_FOREIGN,  /* a socket made outside the enforced cgroup holds A: nothing of ours
		     * knows it until a bind fails on it */
};

struct alloc_row {
	char name[48];
	enum port_a a;
	bool hold_b;   /* a socket with the token is bound to B */
	int binds;     /* bind(0)s, each closed before the next */
	int want_err;  /* of each bind(0) */
	int want_off;  /* offset in the block of the port each gets, when want_err is 0 */
};

ParameterizedTestParameters(races, alloc_skips_kernel_held)
{
	static struct alloc_row rows[] = {
		{ "A in TIME_WAIT, B free", A_TIMEWAIT, false, 20, 0, 1 },
		{ "A in TIME_WAIT, B held", A_TIMEWAIT, true, 1, -EADDRINUSE, 0 },
		/* marked as in TIME_WAIT: the last resort, and it works */
		{ "A reset (marked, free), B held", A_RESET, true, 3, 0, 0 },
		{ "A reset (marked, free), B free", A_RESET, false, 20, 0, 1 },
		{ "A held, B held", A_HELD, true, 1, -EADDRINUSE, 0 },
		{ "A held, B free", A_HELD, false, 20, 0, 1 },
		{ "A held outside the enforced cgroup, B free", A_FOREIGN, false, 20, 0, 1 },
	};

	return cr_make_param_array(struct alloc_row, rows, sizeof(rows) / sizeof(rows[0]));
}

/* A TCP socket with the token, bound to port (0: allocated); the fd, or -errno of bind. */
static int token_socket(uint64_t token, uint16_t port)
{
	int fd = kt_socket(KT_V4, IPPROTO_TCP), err;

	cr_assert_eq(portrsv_associate(fd, token), 0);
	err = kt_bind(fd, KT_V4, port);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* Connect from port of the block to a listener outside it and close, first (TIME_WAIT) or
 * with a reset (no TIME_WAIT). */
static void connect_and_close(uint64_t token, uint16_t port, bool reset)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int l = kt_socket(KT_V4, IPPROTO_TCP), c, s;

	cr_assert_eq(kt_bind(l, KT_V4, 0), 0);
	cr_assert_eq(listen(l, 1), 0);
	sa.sin_port = htons(kt_port(l));
	c = token_socket(token, port);
	cr_assert(c >= 0, "bind %u with the token: %s", port, strerror(-c));
	cr_assert_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	s = accept(l, NULL, NULL);
	cr_assert(s >= 0);
	if (reset)
		cr_assert_eq(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(c); /* the active close: c's port goes to FIN_WAIT, then TIME_WAIT */
	close(s);
	close(l);
}

/* A listener on port in a child outside every enforced cgroup (rule 10: not enforced). */
static void foreign_listener(uint16_t port)
{
	char procs[PATH_MAX + 16], c;
	int p[2];

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", kt.orig_cgroup);
	cr_assert_eq(pipe(p), 0);
	racer = fork();
	cr_assert(racer >= 0);
	if (racer == 0) {
		int fd = open(procs, O_WRONLY | O_CLOEXEC), s;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || write(fd, "0\n", 2) != 2)
			_exit(1);
		close(fd);
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 || kt_bind(s, KT_V4, port) || listen(s, 1) || write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the foreign listener could not bind %u", port);
	close(p[0]);
}

ParameterizedTest(struct alloc_row *row, races, alloc_skips_kernel_held, .init = kt_setup,
		  .fini = races_fini)
{
	uint64_t token = kt_reserve(PORTRSV_TCP, ALLOC_START, 2);
	int held_a = -1, held_b = -1, fd;

	if (row->a == A_FOREIGN) {
		struct sockaddr_in any = { .sin_family = AF_INET };

		foreign_listener(ALLOC_START);
		/* The limit (alloc_step): the first bind(0) learns it from the kernel's refusal,
		 * and the same socket's next bind(0) gets B. */
		fd = kt_socket(KT_V4, IPPROTO_TCP);
		cr_assert_eq(portrsv_associate(fd, token), 0);
		cr_assert_eq(kt_bind(fd, KT_V4, 0), -EADDRINUSE, "%s: A is the first choice",
			     row->name);
		cr_assert_eq(bind(fd, (struct sockaddr *)&any, sizeof(any)), 0,
			     "%s: bind(0) again: %s", row->name, strerror(errno));
		cr_assert_eq(kt_port(fd), ALLOC_START + 1);
		close(fd);
	} else if (row->a == A_HELD) {
		held_a = token_socket(token, ALLOC_START);
		cr_assert(held_a >= 0);
	} else if (row->a != A_FOREIGN) {
		connect_and_close(token, ALLOC_START, row->a == A_RESET);
	}
	/* A taken is what the kernel says, not only what we think. (A bind to a reset A
	 * would succeed and clear its mark: the rows with A reset test the mark itself.) */
	if (row->a != A_RESET)
		cr_assert_eq(token_socket(token, ALLOC_START), -EADDRINUSE, "%s: A must be taken",
			     row->name);
	if (row->hold_b) {
		held_b = token_socket(token, ALLOC_START + 1);
		cr_assert(held_b >= 0);
	}
	for (int i = 0; i < row->binds; i++) {
		fd = token_socket(token, 0);
		if (row->want_err) {
			cr_assert_eq(fd, row->want_err, "%s: bind(0) %d: %s, want %s", row->name, i,
				     fd < 0 ? strerror(-fd) : "success", strerror(-row->want_err));
			continue;
		}
		cr_assert(fd >= 0, "%s: bind(0) %d of %d: %s while port %u is free", row->name,
			  i + 1, row->binds, strerror(-fd), ALLOC_START + row->want_off);
		cr_assert_eq(kt_port(fd), ALLOC_START + row->want_off, "%s: bind(0) %d got %u",
			     row->name, i, kt_port(fd));
		close(fd);
	}
	if (held_a >= 0)
		close(held_a);
	if (held_b >= 0)
		close(held_b);
}
