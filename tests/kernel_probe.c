// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A port in use fails a create (SPEC rule 7), whichever way the library asks: bind() for a
 * block of up to PORTRSV_PROBE_MAX ports (user/probe.c), the socket tables (sock_diag) for a
 * larger block, or when bind() cannot tell (forced here with PORTRSV_FAULT=probe-unsure, a
 * switch of the test build). One row per kind of socket on the port: each address family
 * and address (127.0.0.1, 0.0.0.0, ::1, dual-stack ::, IPv6-only ::, v4-mapped), listening,
 * bound only, connected, TIME-WAIT, with SO_REUSEADDR and SO_REUSEPORT, bound to a device,
 * MPTCP;
 * each in a block of ten (or one) probed and in one of a hundred dumped. Each create must fail
 * with EADDRINUSE naming the holder, leave nothing behind, and succeed once the socket is gone;
 * a socket of the other protocol or of another netns is no conflict. A netns with a VRF is
 * never probed (a socket bound to a VRF is in a bind bucket of its own).
 */
#include "testlib.h"
#include <sys/wait.h>
#include <criterion/parameterized.h> /* after criterion.h, which it would break */

struct kt_env kt;

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PORT 7305 /* where the holder sits; blocks start at 7300 (probe) or 7250 (dump) */

enum holder {
	H_LISTEN,    /* listen() on the family's address */
	H_BOUND,     /* bound, neither listening nor connected (TCP: sock_diag from 6.8) */
	H_ANY,       /* IPv4 0.0.0.0, listening (TCP) or bound (UDP) */
	H_V6ONLY,    /* [::] with IPV6_V6ONLY */
	H_REUSE,     /* SO_REUSEADDR and SO_REUSEPORT, on 0.0.0.0 */
	H_DEVICE,    /* SO_BINDTODEVICE lo, on 0.0.0.0 */
	H_CONNECTED, /* bound to the port, then connected elsewhere */
	H_TIME_WAIT, /* TCP: the port's connection ended, its end waits (no process) */
	H_NONE,      /* nothing on the port: create succeeds */
	H_OTHER_NETNS, /* the same socket, in another netns: no conflict */
	H_OTHER_PROTO, /* a socket of the other protocol on 0.0.0.0: no conflict */
	H_MPTCP,       /* an MPTCP listener (its first subflow is a TCP socket) */
};

enum path { P_PROBE, P_UNSURE, P_BIG };

struct row {
	char name[64];
	int proto;
	enum kt_fam fam;
	enum holder holder;
	enum path path;
	int want; /* of the create */
};

static const char *const path_name[] = { "probe", "probe-unsure", "block of 100" };

static void set_int(int fd, int level, int opt)
{
	int on = 1;

	cr_assert_eq(setsockopt(fd, level, opt, &on, sizeof(on)), 0, "setsockopt %d: %s", opt,
		     strerror(errno));
}

static int bind_any(int fd, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	return bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
}

/* The [::] of an IPV6_V6ONLY socket (kt_bind's KT_V6 is ::1). */
static int bind_v6any(int fd, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY);
	return bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
}

/* A TCP connection whose end on port is left in TIME-WAIT (it closes first). */
static void time_wait(uint16_t port)
{
	int l = kt_socket(KT_V4, IPPROTO_TCP), c = kt_socket(KT_V4, IPPROTO_TCP), a;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PORT + 1000),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char line[256], want[16];
	bool waiting = false;
	FILE *f;

	cr_assert_eq(kt_bind(l, KT_V4, PORT + 1000), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(kt_bind(c, KT_V4, port), 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&to, sizeof(to)), 0);
	a = accept(l, NULL, NULL);
	cr_assert(a >= 0);
	close(l);
	close(c); /* the client's end, on port, closes first: it is the one that waits */
	cr_assert_eq(read(a, line, 1), 0, "the server sees the end");
	close(a);
	snprintf(want, sizeof(want), ":%04X ", port);
	for (int tries = 0; !waiting && tries < 200; tries++) {
		f = fopen("/proc/net/tcp", "re");
		cr_assert(f);
		while (fgets(line, sizeof(line), f))
			if (strstr(line, want) && strstr(line, want) < line + 20 &&
			    strstr(line, " 06 "))
				waiting = true;
		fclose(f);
		if (!waiting)
			usleep(5000);
	}
	cr_assert(waiting, "no TIME-WAIT socket on %u", port);
}

/* The holder of the row on PORT, in the calling thread's netns; its fd, or -1 (none left). */
static int make_holder(const struct row *r)
{
	int sp = r->proto == PORTRSV_TCP ? IPPROTO_TCP : IPPROTO_UDP, fd = -1, peer;
	bool tcp = r->proto == PORTRSV_TCP;

	switch (r->holder) {
	case H_LISTEN:
	case H_BOUND:
	case H_OTHER_NETNS:
		fd = kt_socket(r->fam, sp);
		cr_assert_eq(kt_bind(fd, r->fam, PORT), 0, "bind the holder: %s", strerror(errno));
		if (tcp && r->holder != H_BOUND)
			cr_assert_eq(listen(fd, 1), 0);
		break;
	case H_ANY:
	case H_REUSE:
	case H_DEVICE:
		fd = kt_socket(KT_V4, sp);
		if (r->holder == H_REUSE) {
			set_int(fd, SOL_SOCKET, SO_REUSEADDR);
			set_int(fd, SOL_SOCKET, SO_REUSEPORT);
		}
		if (r->holder == H_DEVICE)
			cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3), 0,
				     "SO_BINDTODEVICE lo: %s", strerror(errno));
		cr_assert_eq(bind_any(fd, PORT), 0);
		if (tcp)
			cr_assert_eq(listen(fd, 1), 0);
		break;
	case H_V6ONLY:
		fd = kt_socket(KT_V6, sp);
		cr_assert_eq(bind_v6any(fd, PORT), 0);
		if (tcp)
			cr_assert_eq(listen(fd, 1), 0);
		break;
	case H_CONNECTED: {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PORT + 1000),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		peer = kt_socket(KT_V4, sp);
		cr_assert_eq(kt_bind(peer, KT_V4, PORT + 1000), 0);
		if (tcp)
			cr_assert_eq(listen(peer, 1), 0);
		fd = kt_socket(KT_V4, sp);
		cr_assert_eq(kt_bind(fd, KT_V4, PORT), 0);
		cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0, "connect: %s",
			     strerror(errno));
		if (tcp) {
			int a = accept(peer, NULL, NULL);

			cr_assert(a >= 0);
			close(a); /* the holder's end stays open: CLOSE-WAIT, on PORT */
		}
		close(peer);
		break;
	}
	case H_TIME_WAIT:
		time_wait(PORT);
		break;
	case H_OTHER_PROTO:
		fd = kt_socket(KT_V4, tcp ? IPPROTO_UDP : IPPROTO_TCP);
		cr_assert_eq(bind_any(fd, PORT), 0);
		if (!tcp)
			cr_assert_eq(listen(fd, 1), 0);
		break;
	case H_MPTCP:
		fd = kt_socket(r->fam, IPPROTO_MPTCP);
		cr_assert_eq(kt_bind(fd, r->fam, PORT), 0, "bind the holder: %s", strerror(errno));
		cr_assert_eq(listen(fd, 1), 0);
		break;
	case H_NONE:
		break;
	}
	return fd;
}

static void block_of(const struct row *r, uint16_t *start, uint16_t *count)
{
	*start = r->path == P_BIG ? PORT - 55 : PORT - 5;
	*count = r->path == P_BIG ? 100 : 10;
	cr_assert(*count <= PORTRSV_PROBE_MAX || r->path == P_BIG, "a probed block of %u",
		  *count);
	if (r->path == P_PROBE && r->fam == KT_V4MAPPED) /* and a block of one, now and then */
		*start = PORT, *count = 1;
}

#define ROW(n, pr, f, h, p, w) { n, pr, f, h, p, w }
/* Each holder by bind() and by the socket tables (a block too large to probe); the switch
 * that forces the tables on a small block, on a few. */
#define BOTH(n, pr, f, h, w) ROW(n, pr, f, h, P_PROBE, w), ROW(n, pr, f, h, P_BIG, w)
#define THREE(n, pr, f, h, w) BOTH(n, pr, f, h, w), ROW(n, pr, f, h, P_UNSURE, w)
#define INUSE (-EADDRINUSE)

static const struct row rows[] = {
	THREE("tcp listen 127.0.0.1", PORTRSV_TCP, KT_V4, H_LISTEN, INUSE),
	BOTH("tcp listen ::1", PORTRSV_TCP, KT_V6, H_LISTEN, INUSE),
	BOTH("tcp listen dual-stack ::", PORTRSV_TCP, KT_DUAL, H_LISTEN, INUSE),
	BOTH("tcp listen v4-mapped", PORTRSV_TCP, KT_V4MAPPED, H_LISTEN, INUSE),
	BOTH("tcp listen 0.0.0.0", PORTRSV_TCP, KT_V4, H_ANY, INUSE),
	BOTH("tcp listen v6-only ::", PORTRSV_TCP, KT_V6, H_V6ONLY, INUSE),
	BOTH("tcp listen reuseaddr+reuseport", PORTRSV_TCP, KT_V4, H_REUSE, INUSE),
	BOTH("tcp listen bound to lo", PORTRSV_TCP, KT_V4, H_DEVICE, INUSE),
	THREE("tcp bound 127.0.0.1", PORTRSV_TCP, KT_V4, H_BOUND, INUSE),
	BOTH("tcp bound ::1", PORTRSV_TCP, KT_V6, H_BOUND, INUSE),
	BOTH("tcp connected", PORTRSV_TCP, KT_V4, H_CONNECTED, INUSE),
	BOTH("tcp time-wait", PORTRSV_TCP, KT_V4, H_TIME_WAIT, INUSE),
	BOTH("mptcp listen 127.0.0.1", PORTRSV_TCP, KT_V4, H_MPTCP, INUSE),
	BOTH("mptcp listen dual-stack ::", PORTRSV_TCP, KT_DUAL, H_MPTCP, INUSE),
	THREE("udp 127.0.0.1", PORTRSV_UDP, KT_V4, H_BOUND, INUSE),
	BOTH("udp ::1", PORTRSV_UDP, KT_V6, H_BOUND, INUSE),
	THREE("udp dual-stack ::", PORTRSV_UDP, KT_DUAL, H_BOUND, INUSE),
	BOTH("udp v4-mapped", PORTRSV_UDP, KT_V4MAPPED, H_BOUND, INUSE),
	BOTH("udp 0.0.0.0", PORTRSV_UDP, KT_V4, H_ANY, INUSE),
	BOTH("udp v6-only ::", PORTRSV_UDP, KT_V6, H_V6ONLY, INUSE),
	BOTH("udp reuseaddr+reuseport", PORTRSV_UDP, KT_V4, H_REUSE, INUSE),
	BOTH("udp bound to lo", PORTRSV_UDP, KT_V4, H_DEVICE, INUSE),
	BOTH("udp connected", PORTRSV_UDP, KT_V4, H_CONNECTED, INUSE),
	THREE("tcp free", PORTRSV_TCP, KT_V4, H_NONE, 0),
	BOTH("udp free", PORTRSV_UDP, KT_V4, H_NONE, 0),
	BOTH("tcp listen in another netns", PORTRSV_TCP, KT_DUAL, H_OTHER_NETNS, 0),
	BOTH("udp in another netns", PORTRSV_UDP, KT_DUAL, H_OTHER_NETNS, 0),
	BOTH("tcp block, a udp socket", PORTRSV_TCP, KT_V4, H_OTHER_PROTO, 0),
	BOTH("udp block, a tcp listener", PORTRSV_UDP, KT_V4, H_OTHER_PROTO, 0),
};

ParameterizedTestParameters(probe, in_use)
{
	return cr_make_param_array(struct row, rows, ARRAY_LEN(rows));
}

/* Ports of [start, start + count) that a fresh socket of proto can bind: all, or -errno. */
static int all_free(int proto, uint16_t start, uint16_t count, uint16_t skip)
{
	int sp = proto == PORTRSV_TCP ? IPPROTO_TCP : IPPROTO_UDP;

	for (uint32_t p = start; p < (uint32_t)start + count; p++) {
		int fd, err;

		if (p == skip)
			continue;
		fd = kt_socket(KT_V4, sp);
		err = bind_any(fd, (uint16_t)p);
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

ParameterizedTest(const struct row *r, probe, in_use, .init = kt_setup, .fini = kt_teardown)
{
	bool inuse = r->want == INUSE;
	uint16_t start, count;
	uint64_t token = 0;
	char pid[24], msg[1024];
	int fd, home = -1, err;

	if (r->proto == PORTRSV_TCP && r->holder == H_BOUND && r->path != P_PROBE)
		kt_need(PORTRSV_FEAT_DIAG_BOUND); /* sock_diag lists it from 6.8; bind() always */
	if (r->path == P_UNSURE)
		setenv("PORTRSV_FAULT", "probe-unsure", 1);
	block_of(r, &start, &count);
	if (r->holder == H_OTHER_NETNS) {
		home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		cr_assert(home >= 0);
		kt_private_netns();
	}
	fd = make_holder(r);
	if (home >= 0)
		cr_assert_eq(setns(home, CLONE_NEWNET), 0, "back home: %s", strerror(errno));

	err = portrsv_create(kt.p, r->proto, start, count, NULL, &token);
	cr_assert_eq(err, r->want, "%s (%s): create %u+%u: %d (%s), want %d", r->name,
		     path_name[r->path], start, count, err, portrsv_errmsg(), r->want);
	snprintf(msg, sizeof(msg), "%s", portrsv_errmsg());
	snprintf(pid, sizeof(pid), "[%d]", getpid());
	if (inuse) {
		struct portrsv_reservation *v;
		int n = portrsv_list(kt.p, &v);

		cr_assert(strstr(msg, " in use by "), "%s (%s): message '%s'", r->name,
			  path_name[r->path], msg);
		if (r->holder == H_TIME_WAIT)
			cr_assert(strstr(msg, "TIME-WAIT"), "%s", msg);
		else if (r->proto == PORTRSV_TCP && r->holder == H_BOUND &&
			 !portrsv_feature_present(PORTRSV_FEAT_DIAG_BOUND))
			cr_assert(strstr(msg, "only bound, which this kernel does not list"), "%s",
				  msg); /* bind() saw it, sock_diag cannot name it */
		else
			cr_assert(strstr(msg, pid), "%s (%s): the holder %s is not named in '%s'",
				  r->name, path_name[r->path], pid, msg);
		cr_assert_eq(n, 0, "%s: a failed create left %d reservations", r->name, n);
		free(v);
		/* Nothing left held: every other port of the block binds. */
		cr_assert_eq(all_free(r->proto, start, count, PORT), 0, "%s: a port left taken",
			     r->name);
		if (fd >= 0) {
			close(fd);
			/* A connected TCP end closes in the background (LAST-ACK): a moment. */
			for (int tries = 0; tries < 200; tries++) {
				err = portrsv_create(kt.p, r->proto, start, count, NULL, &token);
				if (err != -EADDRINUSE || r->holder != H_CONNECTED)
					break;
				usleep(5000);
			}
			cr_assert_eq(err, 0, "%s: create once the holder is gone: %s", r->name,
				     portrsv_errmsg());
		}
	}
	if (!inuse || fd >= 0) {
		int probe = kt_socket(KT_V4, r->proto == PORTRSV_TCP ? IPPROTO_TCP : IPPROTO_UDP);

		/* Enforced, and nothing of the probe's left: the port is refused, not in use. */
		cr_assert_eq(bind_any(probe, PORT), -EACCES, "%s: not enforced", r->name);
		close(probe);
		cr_assert_eq(portrsv_delete(kt.p, r->proto, start, count, NULL), 0);
		cr_assert_eq(all_free(r->proto, start, count, 0), 0, "%s: a port taken after delete",
			     r->name);
	}
	if (!inuse && fd >= 0)
		close(fd);
}

/* The probe's binds come from an enforced cgroup: none may count as a refused bind. */
KT_TEST(probe, no_denial_logged)
{
	struct portrsv_reservation r;
	uint64_t token = 0;

	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PORT, 1, NULL, &token), 0);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PORT + 1, 1, NULL, &token), 0);
	cr_assert_eq(portrsv_query(kt.p, PORTRSV_TCP, PORT, NULL, &r), 0);
	cr_assert_eq(r.denied, 0, "the probe of the second block counted %llu denials",
		     (unsigned long long)r.denied);
	/* A block over a reservation is not probed, it overlaps. */
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PORT, 2, NULL, &token), -EEXIST);
	cr_assert_eq(portrsv_query(kt.p, PORTRSV_TCP, PORT, NULL, &r), 0);
	cr_assert_eq(r.denied, 0, "a refused overlap counted %llu denials",
		     (unsigned long long)r.denied);
}

/*
 * A socket bound to a VRF is in a bind bucket of its own, which a probe bound to no device
 * never meets: with a VRF in the netns, create dumps the socket tables instead.
 */
KT_TEST(probe, vrf_is_dumped)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	uint64_t token = 0;
	int fd, st;
	pid_t pid;

	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2); /* its "Unknown device type" is the skip's message */
		execlp("ip", "ip", "link", "add", "portrsv-vrf", "type", "vrf", "table", "10",
		       (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		cr_skip_test("this kernel lacks vrf (CONFIG_NET_VRF): `ip link add type vrf` "
			     "failed, so no socket can be in a VRF's bind bucket");
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "portrsv-vrf", 12), 0,
		     "SO_BINDTODEVICE: %s", strerror(errno));
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind in the VRF: %s",
		     strerror(errno));
	cr_assert_eq(listen(fd, 1), 0);
	/* The bucket is the VRF's: an unbound socket binds the port beside it. */
	cr_assert_eq(all_free(PORTRSV_TCP, PORT, 1, 0), 0, "the kernel shares VRF buckets now");
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PORT, 1, NULL, &token), -EADDRINUSE,
		     "create over a VRF listener: %s", portrsv_errmsg());
	close(fd);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PORT, 1, NULL, &token), 0, "%s",
		     portrsv_errmsg());
}
