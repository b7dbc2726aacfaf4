// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runtime reservations the Windows way and from the shell, against the real BPF programs:
 *   - WSAIoctl's three codes on real sockets, and each error a caller can meet (another
 *     process associating, a cgroup portrsv does not enforce, an AF_UNIX socket, ...);
 *   - examples/runtime ($PORTRSV_EXAMPLES), Windows' example ported, as uid 65534;
 *   - `portrsv run` as uid 65534: the command itself may associate, its children may not,
 *     and the block is free again once it exits.
 * Each test makes its own pools (portrsv_create with .pool) in its own netns and cgroup.
 */
#include "testlib.h"
#include "clirun.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */
#include <sys/un.h>
#include "portrsv/mstcpip.h"

struct kt_env kt;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define POOL 7000     /* tcp pool 7000+20, limit 8 */
#define POOL_N 20
#define LIMIT 8
#define ROOTPOOL 7100 /* tcp pool 7100+10, no limit: uid 0 only */
#define ROOTPOOL_N 10

static void make_pool(enum portrsv_proto proto, uint16_t start, uint16_t count, uint32_t limit)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .pool = true, .limit = limit);
	uint64_t token = 0;
	int err = portrsv_create(kt.p, proto, start, count, &o, &token);

	cr_assert_eq(err, 0, "pool %s %u+%u limit %u: %s", portrsv_proto_name(proto), start,
		     count, limit, strerror(-err));
}

/* The tcp pool with a limit only: a wildcard then has one pool to choose from, whoever asks.
 * The rows that need the pool without limit make it themselves. */
static void pools(void)
{
	kt_setup();
	make_pool(PORTRSV_TCP, POOL, POOL_N, LIMIT);
}

static int tcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	return fd;
}

/* SIO_ACQUIRE_PORT_RESERVATION: 0 or WSAGetLastError(); *res the block (host order). */
static int acquire(SOCKET s, uint16_t start, uint16_t count, INET_PORT_RESERVATION_INSTANCE *res)
{
	INET_PORT_RANGE range = { .StartPort = htons(start), .NumberOfPorts = count };
	INET_PORT_RESERVATION_INSTANCE out;
	DWORD n = 0xdead;

	memset(&out, 0, sizeof(out));
	if (WSAIoctl(s, SIO_ACQUIRE_PORT_RESERVATION, &range, sizeof(range), &out, sizeof(out), &n,
		     NULL, NULL)) {
		cr_assert_eq(n, 0, "failed acquire: *lpcbBytesReturned = %u", n);
		return WSAGetLastError();
	}
	cr_assert_eq(WSAGetLastError(), 0);
	cr_assert_eq(n, sizeof(out), "acquire: *lpcbBytesReturned = %u", n);
	cr_assert_neq(out.Token.Token, INVALID_PORT_RESERVATION_TOKEN);
	out.Reservation.StartPort = ntohs(out.Reservation.StartPort);
	if (res)
		*res = out;
	return 0;
}

/* SIO_ASSOCIATE_PORT_RESERVATION or SIO_RELEASE_PORT_RESERVATION: 0 or the code. */
static int token_ioctl(SOCKET s, DWORD code, ULONG64 token)
{
	INET_PORT_RESERVATION_TOKEN t = { .Token = token };
	DWORD n = 0xdead;

	if (WSAIoctl(s, code, &t, sizeof(t), NULL, 0, &n, NULL, NULL)) {
		cr_assert_eq(n, 0);
		return WSAGetLastError();
	}
	cr_assert_eq(n, 0, "*lpcbBytesReturned = %u", n);
	cr_assert_eq(WSAGetLastError(), 0);
	return 0;
}

/* Is the block start+count free: can a fresh socket acquire exactly it (then let it go)? */
static bool block_free(uint16_t start, uint16_t count)
{
	INET_PORT_RESERVATION_INSTANCE r;
	int fd = tcp_socket(), rc = acquire(fd, start, count, &r);

	close(fd);
	return rc == 0 && r.Reservation.StartPort == start;
}

/* In a child (another process, same cgroup and netns): fn's result as its exit status. */
static int in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(fn(arg) & 0xff);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child died");
	return WEXITSTATUS(status);
}

/* Child bodies return a WSA code minus 10000 (fits an exit status), 0 for success. */
#define CODE(wsa) ((wsa) ? (wsa) - 10000 : 0)

static int child_associate(void *arg)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	return fd < 0 ? 255 : CODE(token_ioctl(fd, SIO_ASSOCIATE_PORT_RESERVATION, *(ULONG64 *)arg));
}

/* Out of the enforced cgroup (back where the test started): sockets made there are not
 * portrsv's. */
static int child_unenforced_acquire(void *arg)
{
	char path[PATH_MAX + 16], pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", kt.orig_cgroup);
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		return 254;
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	return fd < 0 ? 255 : CODE(acquire(fd, 0, 2, NULL));
}

static int child_nobody_acquire(void *arg)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t start = *(uint16_t *)arg;

	return fd < 0 ? 255 : CODE(acquire(fd, start, 2, NULL));
}

enum scenario {
	ACQ_ANY,            /* acquire 0+4 */
	ACQ_SPECIFIC,       /* acquire POOL+4+4 */
	ACQ_WHOLE_LIMIT,    /* acquire LIMIT ports at once */
	ASSOC_BIND,         /* acquire, associate a second socket, bind 0 -> a port of the block */
	ASSOC_PERSISTENT,   /* associate with a persistent reservation's token */
	RELEASE_FREES,      /* release, then the block is acquirable again */
	CLOSE_FREES,        /* close the acquiring socket: the block is free */
	ROOT_NO_LIMIT,      /* uid 0 on a pool without limit */
	ASSOC_OTHER_PROC,   /* a forked child associates with the token */
	RELEASE_OTHER_SOCK, /* release on another socket than the acquiring one */
	NOT_ENFORCED,       /* a socket of a cgroup portrsv does not enforce */
	UNIX_SOCKET,        /* AF_UNIX */
	ASSOC_UNIX,         /* associate an AF_UNIX socket with a persistent reservation's token */
	NO_POOL_HERE,       /* a block outside every pool */
	NO_UDP_POOL,        /* a UDP socket: no UDP pool in the netns */
	TAKEN,              /* a block overlapping one acquired */
	ALL_TAKEN,          /* wildcard when no block of that size is left (udp pool 7200+4) */
	OVER_LIMIT,         /* more than LIMIT ports in the cgroup */
	NOBODY_NO_LIMIT,    /* uid 65534 on a pool without limit */
	PER_SOCKET,         /* a fifth reservation on one socket */
	UNKNOWN_TOKEN,      /* associate with a token no one has */
	RELEASE_UNKNOWN,    /* release a token no one has */
	RELEASE_TWICE,      /* release the same token again */
};

struct wsa_case {
	char name[40];
	enum scenario sc;
	int want; /* WSAGetLastError() of the call under test; 0 = success */
};

static struct wsa_case wsa_cases[] = {
	{ "acquire any 4", ACQ_ANY, 0 },
	{ "acquire 7004+4", ACQ_SPECIFIC, 0 },
	{ "acquire the whole limit", ACQ_WHOLE_LIMIT, 0 },
	{ "associate and bind port 0", ASSOC_BIND, 0 },
	{ "associate persistent token", ASSOC_PERSISTENT, 0 },
	{ "release frees the block", RELEASE_FREES, 0 },
	{ "close frees the block", CLOSE_FREES, 0 },
	{ "root, pool without limit", ROOT_NO_LIMIT, 0 },
	{ "another process associates", ASSOC_OTHER_PROC, WSAEACCES },
	{ "release on another socket", RELEASE_OTHER_SOCK, WSAEACCES },
	{ "cgroup not enforced", NOT_ENFORCED, WSAENOPROTOOPT },
	{ "AF_UNIX socket", UNIX_SOCKET, WSAEOPNOTSUPP },
	{ "associate AF_UNIX socket", ASSOC_UNIX, WSAEINVAL },
	{ "block outside every pool", NO_POOL_HERE, WSAEADDRNOTAVAIL },
	{ "no udp pool", NO_UDP_POOL, WSAEADDRNOTAVAIL },
	{ "block overlaps one taken", TAKEN, WSAEADDRINUSE },
	{ "no free block of that size", ALL_TAKEN, WSAEADDRINUSE },
	{ "over the cgroup's limit", OVER_LIMIT, WSAEDQUOT },
	{ "nobody, pool without limit", NOBODY_NO_LIMIT, WSAEACCES },
	{ "fifth reservation on a socket", PER_SOCKET, WSAENOBUFS },
	{ "associate unknown token", UNKNOWN_TOKEN, WSAEADDRNOTAVAIL },
	{ "release unknown token", RELEASE_UNKNOWN, WSAEADDRNOTAVAIL },
	{ "release twice", RELEASE_TWICE, WSAEADDRNOTAVAIL },
};

ParameterizedTestParameters(runtime_win, wsaioctl)
{
	return cr_make_param_array(struct wsa_case, wsa_cases, ARRAY_SIZE(wsa_cases));
}

ParameterizedTest(struct wsa_case *c, runtime_win, wsaioctl, .init = pools, .fini = kt_teardown)
{
	INET_PORT_RESERVATION_INSTANCE r, r2;
	int s = tcp_socket(), s2 = tcp_socket(), got = -1, fd;
	uint16_t start, port;
	uint64_t token;

	switch (c->sc) {
	case ACQ_ANY:
		got = acquire(s, 0, 4, &r);
		if (!got) {
			cr_assert(r.Reservation.StartPort >= POOL &&
				  r.Reservation.StartPort + 4 <= POOL + POOL_N, "block %u",
				  r.Reservation.StartPort);
			cr_assert_eq(r.Reservation.NumberOfPorts, 4);
		}
		break;
	case ACQ_SPECIFIC:
		got = acquire(s, POOL + 4, 4, &r);
		if (!got)
			cr_assert_eq(r.Reservation.StartPort, POOL + 4);
		break;
	case ACQ_WHOLE_LIMIT:
		got = acquire(s, 0, LIMIT, &r);
		if (!got)
			cr_assert_eq(r.Reservation.NumberOfPorts, LIMIT);
		break;
	case ASSOC_BIND:
		cr_assert_eq(acquire(s, 0, 2, &r), 0);
		got = token_ioctl(s2, SIO_ASSOCIATE_PORT_RESERVATION, r.Token.Token);
		if (!got) {
			cr_assert_eq(kt_bind(s2, KT_V4, 0), 0, "bind 0: %s", strerror(errno));
			port = kt_port(s2);
			cr_assert(port >= r.Reservation.StartPort &&
				  port < r.Reservation.StartPort + 2, "bound %u outside %u+2", port,
				  r.Reservation.StartPort);
			/* A socket not associated may not bind a port of the block. */
			fd = tcp_socket();
			cr_assert_eq(kt_bind(fd, KT_V4, r.Reservation.StartPort +
					     (port == r.Reservation.StartPort)), -EACCES);
			close(fd);
		}
		break;
	case ASSOC_PERSISTENT:
		token = kt_reserve(PORTRSV_TCP, 6000, 4);
		got = token_ioctl(s2, SIO_ASSOCIATE_PORT_RESERVATION, token);
		if (!got) {
			cr_assert_eq(kt_bind(s2, KT_V4, 0), 0);
			cr_assert(kt_port(s2) >= 6000 && kt_port(s2) < 6004, "bound %u", kt_port(s2));
		}
		break;
	case RELEASE_FREES:
		cr_assert_eq(acquire(s, POOL, 4, &r), 0);
		cr_assert(!block_free(POOL, 4), "an acquired block is acquirable again");
		got = token_ioctl(s, SIO_RELEASE_PORT_RESERVATION, r.Token.Token);
		if (!got)
			cr_assert(block_free(POOL, 4), "released block not free");
		break;
	case CLOSE_FREES:
		cr_assert_eq(acquire(s, POOL + 8, 4, &r), 0);
		close(s);
		s = -1;
		got = acquire(s2, POOL + 8, 4, &r2);
		break;
	case ROOT_NO_LIMIT:
		make_pool(PORTRSV_TCP, ROOTPOOL, ROOTPOOL_N, 0);
		got = acquire(s, ROOTPOOL, ROOTPOOL_N, &r);
		break;
	case ASSOC_OTHER_PROC:
		cr_assert_eq(acquire(s, 0, 2, &r), 0);
		token = r.Token.Token;
		got = in_child(child_associate, &token);
		got = got ? got + 10000 : 0;
		/* And the acquiring process itself still may. */
		cr_assert_eq(token_ioctl(s2, SIO_ASSOCIATE_PORT_RESERVATION, token), 0);
		break;
	case RELEASE_OTHER_SOCK:
		cr_assert_eq(acquire(s, 0, 2, &r), 0);
		got = token_ioctl(s2, SIO_RELEASE_PORT_RESERVATION, r.Token.Token);
		cr_assert(!block_free(r.Reservation.StartPort, 2), "released by another socket");
		break;
	case NOT_ENFORCED:
		got = in_child(child_unenforced_acquire, NULL);
		cr_assert(got != 254 && got != 255, "child setup failed: %d", got);
		got = got ? got + 10000 : 0;
		break;
	case UNIX_SOCKET:
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert(fd >= 0);
		got = acquire(fd, 0, 2, NULL);
		close(fd);
		break;
	case ASSOC_UNIX:
		token = kt_reserve(PORTRSV_TCP, 6000, 4);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert(fd >= 0);
		got = token_ioctl(fd, SIO_ASSOCIATE_PORT_RESERVATION, token);
		close(fd);
		break;
	case NO_POOL_HERE:
		got = acquire(s, 5000, 4, NULL);
		break;
	case NO_UDP_POOL:
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		cr_assert(fd >= 0);
		got = acquire(fd, 0, 2, NULL);
		close(fd);
		break;
	case TAKEN:
		cr_assert_eq(acquire(s, POOL, 4, &r), 0);
		got = acquire(s2, POOL + 2, 4, NULL);
		break;
	case ALL_TAKEN:
		/* A udp pool without limit (uid 0, no quota): take most of it, then ask for 2 more. */
		make_pool(PORTRSV_UDP, 7200, 4, 0); /* a limit is 1..count: none here */
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		cr_assert(fd >= 0);
		cr_assert_eq(acquire(fd, 0, 3, &r), 0);
		got = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		cr_assert(got >= 0);
		start = (uint16_t)got;
		got = acquire(start, 0, 2, NULL);
		close(start);
		close(fd);
		break;
	case OVER_LIMIT:
		cr_assert_eq(acquire(s, POOL, LIMIT - 2, &r), 0);
		got = acquire(s2, POOL + 10, 3, NULL);
		break;
	case NOBODY_NO_LIMIT:
		make_pool(PORTRSV_TCP, ROOTPOOL, ROOTPOOL_N, 0);
		start = ROOTPOOL;
		got = kt_unprivileged(child_nobody_acquire, &start);
		got = got ? got + 10000 : 0;
		break;
	case PER_SOCKET:
		for (int i = 0; i < PORTRSV_RT_PER_SOCKET; i++)
			cr_assert_eq(acquire(s, 0, 1, NULL), 0, "acquire %d of %d", i + 1,
				     PORTRSV_RT_PER_SOCKET);
		got = acquire(s, 0, 1, NULL);
		break;
	case UNKNOWN_TOKEN:
		got = token_ioctl(s2, SIO_ASSOCIATE_PORT_RESERVATION, 0x123456789abcdef0ULL);
		break;
	case RELEASE_UNKNOWN:
		got = token_ioctl(s, SIO_RELEASE_PORT_RESERVATION, 0x123456789abcdef0ULL);
		break;
	case RELEASE_TWICE:
		cr_assert_eq(acquire(s, 0, 2, &r), 0);
		cr_assert_eq(token_ioctl(s, SIO_RELEASE_PORT_RESERVATION, r.Token.Token), 0);
		got = token_ioctl(s, SIO_RELEASE_PORT_RESERVATION, r.Token.Token);
		break;
	}
	if (s >= 0)
		close(s);
	close(s2);
	cr_assert_eq(got, c->want, "%s: WSAGetLastError() = %d, want %d", c->name, got, c->want);
}

/* ---- examples/runtime ------------------------------------------------------------------ */

/* Copy file from to to, mode 0755. */
static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	cr_assert(in >= 0 && out >= 0, "copy %s to %s: %s", from, to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, n), n);
	cr_assert_eq(fchmod(out, 0755), 0);
	close(in);
	close(out);
}

static char staged[PATH_MAX];

static void unstage(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", staged);
	if (staged[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", staged);
}

/*
 * An example as uid 65534 runs it: the checkout may lie under a directory that nobody
 * cannot enter (/root, a mktemp directory), and the examples load ../libportrsv.so.0. So
 * they are run from a copy, with the library, in a directory of this test's that anyone
 * may enter (removed at exit; scripts/test-cleanup.sh removes what a crash leaves).
 */
static const char *example(const char *name)
{
	static char path[PATH_MAX];
	const char *dir = env_or("PORTRSV_EXAMPLES", "build/examples");
	char from[PATH_MAX], to[PATH_MAX];

	if (!staged[0]) {
		snprintf(staged, sizeof(staged), "/tmp/" KT_PREFIX "%d-examples", getpid());
		cr_assert(mkdir(staged, 0755) == 0 || errno == EEXIST, "%s: %s", staged,
			  strerror(errno));
		cr_assert_eq(chmod(staged, 0755), 0);
		atexit(unstage);
		snprintf(to, sizeof(to), "%s/examples", staged);
		cr_assert(mkdir(to, 0755) == 0 || errno == EEXIST);
		snprintf(from, sizeof(from), "%s/../libportrsv.so.0", dir);
		snprintf(to, sizeof(to), "%s/libportrsv.so.0", staged);
		copy_file(from, to);
		for (const char *const *e = (const char *const[]){ "runtime", "bindtry", NULL }; *e;
		     e++) {
			snprintf(from, sizeof(from), "%s/%s", dir, *e);
			snprintf(to, sizeof(to), "%s/examples/%s", staged, *e);
			copy_file(from, to);
		}
		snprintf(to, sizeof(to), "%s/portrsv", staged);
		copy_file(portrsv_bin(), to);
	}
	if (!strcmp(name, "portrsv"))
		snprintf(path, sizeof(path), "%s/portrsv", staged);
	else
		snprintf(path, sizeof(path), "%s/examples/%s", staged, name);
	return path;
}

/* The command, for a shell of uid 65534 to run by its path (see example()). */
static const char *portrsv_staged(void)
{
	return example("portrsv");
}

struct example_case {
	char args[5][8];   /* family type protocol start count */
	int status;
	char want[64];     /* a line of its output */
};

static struct example_case example_cases[] = {
	{ { "2", "1", "6", "0", "4" }, 0, "Port number allocated = " },
	{ { "10", "1", "6", "0", "4" }, 0, "Port number allocated = " },
	{ { "2", "1", "6", "7010", "3" }, 0, "Port number allocated = " },
	{ { "2", "1", "6", "5000", "4" }, 1, "failed with error = 10049" },
	{ { "2", "2", "17", "0", "4" }, 1, "failed with error = 10049" }, /* no udp pool */
	{ { "2", "1", "6", "0", "9" }, 1, "failed with error = 10069" },  /* limit 8 */
	{ { "2", "1", "6", "7100", "2" }, 1, "failed with error = 10013" }, /* nobody, no limit */
	{ { "2", "1", "6", "0", "0" }, 1, "failed with error = 10022" },
};

ParameterizedTestParameters(runtime_win, example)
{
	return cr_make_param_array(struct example_case, example_cases, ARRAY_SIZE(example_cases));
}

ParameterizedTest(struct example_case *c, runtime_win, example, .init = pools,
		  .fini = kt_teardown)
{
	char *argv[] = { (char *)example("runtime"), c->args[0], c->args[1], c->args[2],
			 c->args[3], c->args[4], NULL };
	struct run_opts o = { .unpriv = true };
	unsigned start, count, port;
	const char *p;

	if (!strcmp(c->args[3], "7100"))
		make_pool(PORTRSV_TCP, ROOTPOOL, ROOTPOOL_N, 0);
	run_argv_opts(&o, argv);
	cr_assert_eq(R.status, c->status, "runtime %s %s %s %s %s: exit %d, want %d [%s] [%s]",
		     c->args[0], c->args[1], c->args[2], c->args[3], c->args[4], R.status,
		     c->status, R.out, R.err);
	cr_assert(strstr(R.out, c->want), "no '%s' in [%s]", c->want, R.out);
	if (c->status)
		return;
	p = strstr(R.out, "Starting port=");
	cr_assert(p && sscanf(p, "Starting port=%u,  Number of Ports=%u", &start, &count) == 2,
		  "[%s]", R.out);
	cr_assert(sscanf(strstr(R.out, c->want) + strlen(c->want), "%u", &port) == 1);
	cr_assert_eq(count, (unsigned)atoi(c->args[4]));
	if (atoi(c->args[3]))
		cr_assert_eq(start, (unsigned)atoi(c->args[3]));
	cr_assert(start >= POOL && start + count <= POOL + POOL_N, "block %u+%u outside the pool",
		  start, count);
	cr_assert(port >= start && port < start + count, "port %u outside the block %u+%u", port,
		  start, count);
	cr_assert(strstr(R.out, "SIO_RELEASE_PORT_RESERVATION) succeeded"), "[%s]", R.out);
	cr_assert(block_free(start, count), "block %u+%u not free after the example", start,
		  count);
}

/* ---- portrsv run ------------------------------------------------------------------------ */

static int run_cli(bool unpriv, const char *a1, const char *a2, const char *a3, const char *a4,
		   const char *a5, const char *a6, const char *a7, const char *a8)
{
	char *argv[] = { (char *)portrsv_bin(), (char *)a1, (char *)a2, (char *)a3, (char *)a4,
			 (char *)a5, (char *)a6, (char *)a7, (char *)a8, NULL };
	struct run_opts o = { .unpriv = unpriv };

	return run_argv_opts(&o, argv);
}

static void parse_env_line(unsigned *start, unsigned *count, uint64_t *token, int *fd)
{
	const char *p = strstr(R.out, "env ");

	cr_assert(p && sscanf(p, "env %u %u %" SCNx64 " %d", start, count, token, fd) == 4,
		  "no env line in [%s]", R.out);
	cr_assert(matches("env [0-9]+ [0-9]+ 0x[0-9a-f]{16} [0-9]+\n", R.out), "[%s]", R.out);
}

/* The command itself (sh, then bindtry exec'd in its place: one process) binds with the
 * token; the block is free once it exits. */
KT_TEST(runtime_win, run_same_process_binds)
{
	char script[2 * PATH_MAX];
	unsigned start, count, port;
	uint64_t token;
	int fd;

	make_pool(PORTRSV_TCP, POOL, POOL_N, LIMIT);
	snprintf(script, sizeof(script),
		 "echo env $PORTRSV_RUNTIME_START $PORTRSV_RUNTIME_COUNT $PORTRSV_RUNTIME_TOKEN "
		 "$PORTRSV_RUNTIME_FD; [ -S /proc/$$/fd/$PORTRSV_RUNTIME_FD ] || exit 9; "
		 "exec '%s' tcp 0 \"$PORTRSV_RUNTIME_TOKEN\"", example("bindtry"));
	run_cli(true, "run", "tcp", "0", "4", "--", "sh", "-c", script);
	cr_assert_eq(R.status, 0, "exit %d [%s] [%s]", R.status, R.out, R.err);
	cr_assert_str_empty(R.err);
	parse_env_line(&start, &count, &token, &fd);
	cr_assert_eq(count, 4);
	cr_assert(start >= POOL && start + count <= POOL + POOL_N, "block %u+%u", start, count);
	cr_assert_neq(token, 0);
	cr_assert(fd > 2, "fd %d", fd);
	cr_assert(sscanf(strstr(R.out, "bound port ") ? strstr(R.out, "bound port ") : "",
			 "bound port %u", &port) == 1, "[%s]", R.out);
	cr_assert(port >= start && port < start + count, "port %u outside %u+%u", port, start,
		  count);
	cr_assert(block_free(start, count), "block %u+%u not free after the command", start,
		  count);
	/* The token died with it. */
	fd = tcp_socket();
	cr_assert_eq(portrsv_associate(fd, token), -ENOENT);
	close(fd);
}

/* A child of the command is another process: its association and its bind are refused. */
KT_TEST(runtime_win, run_child_refused)
{
	char script[4 * PATH_MAX];
	unsigned start, count;
	uint64_t token;
	int fd;

	make_pool(PORTRSV_TCP, POOL, POOL_N, LIMIT);
	snprintf(script, sizeof(script),
		 "echo env $PORTRSV_RUNTIME_START $PORTRSV_RUNTIME_COUNT $PORTRSV_RUNTIME_TOKEN "
		 "$PORTRSV_RUNTIME_FD; '%s' tcp 0 \"$PORTRSV_RUNTIME_TOKEN\"; echo child1 $?; "
		 "'%s' tcp \"$PORTRSV_RUNTIME_START\"; echo child2 $?",
		 example("bindtry"), example("bindtry"));
	run_cli(true, "run", "tcp", "0", "2", "--", "sh", "-c", script);
	cr_assert_eq(R.status, 0, "exit %d [%s] [%s]", R.status, R.out, R.err);
	parse_env_line(&start, &count, &token, &fd);
	cr_assert(strstr(R.out, "Permission denied\nchild1 1\n"), "child's association: [%s]",
		  R.out);
	cr_assert(strstr(R.out, "Permission denied\nchild2 1\n"), "child's bind: [%s]", R.out);
	cr_assert(block_free(start, count), "block %u+%u not free after the command", start,
		  count);
}

struct run_case {
	char words[8][24];
	int status;
	char err[64]; /* in the one line of stderr; "" = stderr empty */
};

static struct run_case run_cases[] = {
	{ { "run", "tcp", "0", "4", "--", "sh", "-c", "exit 7" }, 7, "" },
	{ { "run", "tcp", "7002", "3", "sh", "-c", "exit 0" }, 0, "" }, /* -- left out */
	{ { "run", "tcp", "0", "4", "--", "/nonexistent/cmd" }, 127, "/nonexistent/cmd: No such" },
	{ { "run", "tcp", "0", "4", "--", "no-such-command-portrsv" }, 127, "No such file" },
	{ { "run", "tcp", "0", "4", "--", "/etc/passwd" }, 126, "Permission denied" },
	{ { "run", "udp", "0", "4", "--", "true" }, 4, "no udp pool" },
	{ { "run", "tcp", "5000", "4", "--", "true" }, 4, "no tcp pool covers 5000-5003" },
	{ { "run", "tcp", "0", "9", "--", "true" }, 3, "limit" },
	{ { "run", "tcp", "0", "21", "--", "true" }, 3, "" }, /* EADDRINUSE or EDQUOT: both 3 */
	{ { "run", "tcp", "0", "0", "--", "true" }, 2, "count '0'" },
	{ { "run", "tcp", "65535", "2", "--", "true" }, 2, "passes port 65535" },
	{ { "run", "icmp", "0", "1", "--", "true" }, 2, "not tcp or udp" },
	{ { "run", "tcp", "0", "4", "--" }, 2, "usage" },
	{ { "run", "tcp", "0" }, 2, "usage" },
};

ParameterizedTestParameters(runtime_win, run_errors)
{
	return cr_make_param_array(struct run_case, run_cases, ARRAY_SIZE(run_cases));
}

ParameterizedTest(struct run_case *c, runtime_win, run_errors, .init = pools,
		  .fini = kt_teardown)
{
	/* Through sh, which prints the status: the test runner takes 127 for its own failure
	 * to exec, and 127 is one of the statuses under test here. PATH of directories nobody
	 * may search: one it may not (root's own) makes execvp fail with EACCES, 126. */
	char *argv[14] = { "/bin/sh", "-c", "PATH=/usr/bin:/bin \"$@\"; echo \"status=$?\"", "sh",
			   (char *)portrsv_staged() };
	struct run_opts o = { .unpriv = true };
	const char *st;
	int n = 5, status;

	for (int i = 0; i < 8 && c->words[i][0]; i++)
		argv[n++] = c->words[i];
	argv[n] = NULL;
	run_argv_opts(&o, argv);
	cr_assert_eq(R.status, 0, "sh: exit %d [%s] [%s]", R.status, R.out, R.err);
	st = strstr(R.out, "status=");
	cr_assert(st && sscanf(st, "status=%d", &status) == 1, "no status in [%s]", R.out);
	cr_assert_eq(status, c->status, "%s %s %s %s: exit %d, want %d [%s] [%s]", c->words[1],
		     c->words[2], c->words[3], c->words[5], status, c->status, R.out, R.err);
	if (c->status == 0 || c->status == 7) {
		cr_assert_str_empty(R.err, "[%s]", R.err);
	} else {
		cr_assert(matches("^portrsv: run: [^\n]+\n$", R.err),
			  "want one line on stderr, got [%s]", R.err);
		cr_assert(strstr(R.err, c->err), "no '%s' in [%s]", c->err, R.err);
	}
	/* Whatever happened, the pool is whole again. */
	cr_assert(block_free(POOL, LIMIT), "pool not free after run");
}
