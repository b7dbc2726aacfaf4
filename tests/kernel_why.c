// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * "Why can't this bind?" (SPEC "Diagnosis"): portrsv_diagnose finds every reason, one test
 * per cause, each asserting the exact fields: a reservation (persistent, pool, runtime; owner,
 * comment, creator, refused binds, never the token), the sockets on the port as ss finds them
 * (LISTEN, UDP UNCONN, TIME-WAIT without process, a socket shared by two processes), the
 * administrator's bit in ip_local_reserved_ports and another instance's, ip_local_port_range
 * and ip_unprivileged_port_start of the netns, a reservation in another netns; a free port has
 * no finding, and a bad netns path is an error.
 */
#include "testlib.h"
#include <signal.h>
#include <time.h>
#include <sys/prctl.h>
#include <criterion/parameterized.h> /* after criterion.h, which it would break */

struct kt_env kt;

/* Processes a test started (socket holders, a netns holder): killed on every path. */
static pid_t kids[8];
static int nkids;
/* A second portrsv instance, when a test loads one. */
static char other_pin[PATH_MAX], other_state[PATH_MAX], other_cg[PATH_MAX];

static void fini(void)
{
	char cmd[PATH_MAX + 16];

	for (int i = 0; i < nkids; i++) {
		if (kids[i] <= 0)
			continue;
		kill(kids[i], SIGKILL);
		while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	nkids = 0;
	if (other_pin[0])
		portrsv_unload(other_pin);
	if (other_cg[0])
		rmdir(other_cg);
	if (other_state[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", other_state);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", other_state);
	}
	other_pin[0] = other_cg[0] = other_state[0] = '\0';
	kt_teardown();
}

#define WHY_TEST(name) Test(why, name, .init = kt_setup, .fini = fini)

/* The test cgroup as /proc/PID/cgroup names it. */
static const char *rel_cgroup(void)
{
	static char rel[PATH_MAX];
	char mnt[PATH_MAX];
	size_t n;

	cr_assert_eq(portrsv_cgroup2_mount(mnt, sizeof(mnt)), 0);
	n = strcmp(mnt, "/") ? strlen(mnt) : 0;
	snprintf(rel, sizeof(rel), "%s", kt.cgroup + n);
	return rel;
}

/* This process's comm, read here the plain way (not by the helper under test). */
static const char *own_comm(void)
{
	static char comm[32];
	FILE *f = fopen("/proc/self/comm", "re");

	cr_assert(f && fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return comm;
}

static void diagnose(enum portrsv_proto proto, uint16_t port, const char *netns,
		     struct portrsv_why *w)
{
	int err = portrsv_diagnose(kt.p, proto, port, netns, w);

	cr_assert_eq(err, 0, "diagnose %s %u: %s (%s)", portrsv_proto_name(proto), port,
		     strerror(-err), portrsv_errmsg());
}

/* No byte sequence of token anywhere in the result, the holders and other netns included. */
static void assert_no_token(const struct portrsv_why *w, uint64_t token)
{
	cr_assert_null(memmem(w, sizeof(*w), &token, sizeof(token)), "the token is in the result");
	for (size_t i = 0; i < w->holders.n; i++)
		cr_assert_null(memmem(&w->holders.v[i], sizeof(w->holders.v[i]), &token,
				      sizeof(token)));
	if (w->nother)
		cr_assert_null(memmem(w->other, w->nother * sizeof(*w->other), &token,
				      sizeof(token)), "the token is in other_netns");
}

/* Nothing but what a test expects: the defaults of a fresh netns for everything else. */
static void assert_quiet_sysctls(const struct portrsv_why *w)
{
	cr_assert_eq(w->port_range.lo, 32768);
	cr_assert_eq(w->port_range.hi, 60999);
	cr_assert_eq(w->unpriv.value, 1024);
}

/* ---- A free port ----------------------------------------------------------------------- */

WHY_TEST(free_port_has_no_finding)
{
	static const enum portrsv_proto protos[] = { PORTRSV_TCP, PORTRSV_UDP };
	uint64_t cookie, ino;

	cr_assert_eq(portrsv_netns_self(&cookie, &ino), 0);
	/* Something elsewhere: another port, the other protocol, must not show. */
	kt_reserve(PORTRSV_UDP, 8079, 1);
	kt_reserve(PORTRSV_TCP, 8081, 1);
	for (size_t i = 0; i < 2; i++) {
		struct portrsv_why w;

		diagnose(protos[i], i ? 8082 : 8080, NULL, &w);
		cr_assert_eq(w.reasons, 0, "%s: %u reasons", portrsv_proto_name(protos[i]),
			     w.reasons);
		cr_assert_eq(w.proto, protos[i]);
		cr_assert_eq(w.port, i ? 8082 : 8080);
		cr_assert_eq(w.netns_cookie, cookie);
		cr_assert_eq(w.netns_ino, ino);
		cr_assert_not(w.reserved);
		cr_assert_eq(w.holders.n, 0);
		cr_assert_eq(w.reserved_ports, PORTRSV_WHY_SYSCTL_CLEAR);
		cr_assert_not(w.port_range.inside);
		cr_assert_not(w.port_range.autobind);
		cr_assert_not(w.unpriv.below);
		cr_assert_eq(w.nother, 0);
		assert_quiet_sysctls(&w);
		portrsv_why_free(&w);
	}
}

/* ---- Rejections ------------------------------------------------------------------------ */

struct bad_row {
	char name[40];
	int proto;
	uint16_t port;
	char netns[64];
	int err;
};

ParameterizedTestParameters(why, rejected)
{
	static struct bad_row rows[] = {
		{ "no such netns path", PORTRSV_TCP, 8080, "/nonexistent", -ENOENT },
		{ "a regular file", PORTRSV_TCP, 8080, "/etc/hostname", -EINVAL },
		{ "another namespace type", PORTRSV_UDP, 8080, "/proc/self/ns/uts", -EINVAL },
		{ "a directory", PORTRSV_TCP, 8080, "/proc/self/ns", -EINVAL },
		{ "port 0", PORTRSV_TCP, 0, "", -EINVAL },
		{ "protocol 0", 0, 8080, "", -EINVAL },
		{ "protocol 7", 7, 8080, "", -EINVAL },
	};

	return cr_make_param_array(struct bad_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bad_row *row, why, rejected, .init = kt_setup, .fini = fini)
{
	struct portrsv_why w;
	uint64_t before, after;
	int err;

	cr_assert_eq(portrsv_netns_self(&before, NULL), 0);
	err = portrsv_diagnose(kt.p, row->proto, row->port, row->netns[0] ? row->netns : NULL, &w);
	cr_assert_eq(err, row->err, "%s: %d (%s), want %d", row->name, err, strerror(-err),
		     row->err);
	if (row->netns[0])
		cr_assert(strstr(portrsv_errmsg(), row->netns), "%s: message '%s' names no path",
			  row->name, portrsv_errmsg());
	cr_assert_eq(w.reasons, 0);
	cr_assert_eq(w.holders.n, 0);
	portrsv_why_free(&w);
	cr_assert_eq(portrsv_netns_self(&after, NULL), 0);
	cr_assert_eq(after, before, "%s: left in another netns", row->name);
	cr_assert_eq(portrsv_diagnose(NULL, PORTRSV_TCP, 8080, NULL, &w), -EINVAL);
	cr_assert_eq(portrsv_diagnose(kt.p, PORTRSV_TCP, 8080, NULL, NULL), -EINVAL);
}

/* ---- 1. The reservation ---------------------------------------------------------------- */

#define RESV 7400
#define RESV_N 10

WHY_TEST(reservation_with_owner_comment_creator_denial)
{
	char owner[PATH_MAX + 16];
	struct portrsv_why w;
	uint64_t token;
	time_t t0 = time(NULL);
	int fd, err;

	snprintf(owner, sizeof(owner), "%s/svc", kt.cgroup);
	cr_assert_eq(mkdir(owner, 0755), 0);
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = owner, .comment = "web pool");
	err = portrsv_create(kt.p, PORTRSV_TCP, RESV, RESV_N, &o, &token);
	cr_assert_eq(err, 0, "create: %s", strerror(-err));
	/* A refused bind, to be found as the last one. */
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(kt_bind(fd, KT_V4, RESV + 3), -EACCES);
	close(fd);

	diagnose(PORTRSV_TCP, RESV + 3, NULL, &w);
	cr_assert(w.reserved);
	cr_assert_eq(w.reasons, 1, "%u reasons", w.reasons);
	cr_assert_eq(w.resv.kind, PORTRSV_WHY_PERSISTENT);
	cr_assert_str_eq(portrsv_why_kind_name(w.resv.kind), "persistent");
	cr_assert_eq(w.resv.r.proto, PORTRSV_TCP);
	cr_assert_eq(w.resv.r.start, RESV);
	cr_assert_eq(w.resv.r.count, RESV_N);
	cr_assert_eq(w.resv.r.token, 0, "the token is a secret");
	cr_assert_eq(w.resv.r.netns_cookie, w.netns_cookie);
	cr_assert_str_eq(w.resv.r.comment, "web pool");
	cr_assert(w.resv.r.created >= (uint64_t)t0 - 1 && w.resv.r.created <= (uint64_t)time(NULL));
	cr_assert_eq(w.resv.r.denied, 1);
	cr_assert(w.resv.has_owner);
	cr_assert_str_eq(w.resv.owner, owner);
	cr_assert(w.resv.owner_present);
	cr_assert(w.resv.has_creator);
	cr_assert_eq(w.resv.creator.uid, 0);
	cr_assert_str_eq(w.resv.creator.comm, own_comm());
	cr_assert_str_eq(w.resv.creator.cgroup, rel_cgroup());
	cr_assert(w.resv.has_denial);
	cr_assert_eq(w.resv.denial.pid, (uint32_t)getpid());
	cr_assert_eq(w.resv.denial.uid, 0);
	cr_assert_eq(w.resv.denial.count, 1);
	cr_assert_str_eq(w.resv.denial.comm, own_comm());
	cr_assert_str_eq(w.resv.denial_cgroup, rel_cgroup());
	/* portrsv's own bit in the sysctl is no reason of its own. */
	cr_assert_eq(w.reserved_ports, PORTRSV_WHY_SYSCTL_OURS);
	cr_assert_eq(w.holders.n, 0);
	cr_assert_eq(w.nother, 0);
	assert_no_token(&w, token);
	portrsv_why_free(&w);

	/* The owner gone: not present (refused to everyone); another port: no denial yet. */
	cr_assert_eq(rmdir(owner), 0);
	diagnose(PORTRSV_TCP, RESV, NULL, &w);
	cr_assert(w.reserved);
	cr_assert(w.resv.has_owner);
	cr_assert_str_eq(w.resv.owner, owner);
	cr_assert_not(w.resv.owner_present);
	cr_assert_not(w.resv.has_denial);
	cr_assert_eq(w.resv.r.denied, 1, "counted per reservation");
	portrsv_why_free(&w);

	/* The other protocol is not reserved. */
	diagnose(PORTRSV_UDP, RESV + 3, NULL, &w);
	cr_assert_not(w.reserved);
	cr_assert_eq(w.reasons, 0, "udp %u: %u reasons (the sysctl bit is portrsv's)", RESV + 3,
		     w.reasons);
	portrsv_why_free(&w);
}

WHY_TEST(reservation_without_owner_or_creator)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40], *buf, *by, *end;
	struct portrsv_why w;
	uint64_t token;
	FILE *f;
	long n;

	token = kt_reserve(PORTRSV_UDP, RESV, 1);
	/* A store line of before creators were recorded: without its by= field. */
	snprintf(path, sizeof(path), "%s/reservations", kt.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(path, "re");
	cr_assert(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	cr_assert(buf && fread(buf, 1, n, f) == (size_t)n);
	fclose(f);
	by = strstr(buf, " by=");
	cr_assert(by, "no by= in the store:\n%s", buf);
	end = strchr(by, '\n');
	cr_assert(end);
	memmove(by, end, strlen(end) + 1);
	f = fopen(tmp, "we");
	cr_assert(f && fputs(buf, f) >= 0);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(tmp, 0600), 0);
	cr_assert_eq(rename(tmp, path), 0);
	free(buf);

	diagnose(PORTRSV_UDP, RESV, NULL, &w);
	cr_assert(w.reserved);
	cr_assert_eq(w.reasons, 1);
	cr_assert_not(w.resv.has_owner);
	cr_assert_str_eq(w.resv.owner, "");
	cr_assert_not(w.resv.has_creator, "a store line without by= has no creator");
	cr_assert_not(w.resv.has_denial);
	cr_assert_str_eq(w.resv.r.comment, "");
	assert_no_token(&w, token);
	portrsv_why_free(&w);
}

#define POOL 7500
#define POOL_N 10

WHY_TEST(pool_and_runtime)
{
	struct portrsv_runtime rt;
	struct portrsv_why w;
	uint64_t token;
	int fd, err;

	PORTRSV_OPTS(portrsv_create_opts, o, .pool = true, .comment = "rt pool");
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, POOL, POOL_N, &o, &token), 0);
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	err = portrsv_acquire(fd, POOL + 4, 3, &rt);
	cr_assert_eq(err, 0, "acquire: %s", strerror(-err));

	diagnose(PORTRSV_TCP, POOL + 5, NULL, &w);
	cr_assert(w.reserved);
	cr_assert_eq(w.reasons, 1);
	cr_assert_eq(w.resv.kind, PORTRSV_WHY_RUNTIME);
	cr_assert_str_eq(portrsv_why_kind_name(w.resv.kind), "runtime");
	cr_assert_eq(w.resv.r.start, POOL, "r is the pool the runtime reservation is carved from");
	cr_assert_eq(w.resv.r.count, POOL_N);
	cr_assert_str_eq(w.resv.r.comment, "rt pool");
	cr_assert_eq(w.resv.rt.start, POOL + 4);
	cr_assert_eq(w.resv.rt.count, 3);
	cr_assert_eq(w.resv.rt.pid, (uint32_t)getpid());
	cr_assert_str_eq(w.resv.rt.comm, own_comm());
	cr_assert_str_eq(w.resv.rt.cgroup, rel_cgroup());
	cr_assert(w.resv.rt.created > 0);
	cr_assert(w.resv.has_creator, "the pool's creator");
	cr_assert_str_eq(w.resv.creator.cgroup, rel_cgroup());
	assert_no_token(&w, token);
	assert_no_token(&w, rt.token);
	portrsv_why_free(&w);

	/* Ports of the pool outside the runtime reservation, on either side. */
	static const uint16_t pool_only[] = { POOL, POOL + 3, POOL + 7, POOL + POOL_N - 1 };

	for (size_t i = 0; i < sizeof(pool_only) / sizeof(pool_only[0]); i++) {
		diagnose(PORTRSV_TCP, pool_only[i], NULL, &w);
		cr_assert(w.reserved);
		cr_assert_eq(w.resv.kind, PORTRSV_WHY_POOL, "port %u", pool_only[i]);
		cr_assert_eq(w.resv.rt.pid, 0);
		cr_assert_eq(w.resv.rt.count, 0);
		portrsv_why_free(&w);
	}
	close(fd);
}

/* ---- 2. The sockets on the port -------------------------------------------------------- */

/* A child named comm, as uid, holding a socket bound to addr:port (listening, for TCP). */
static pid_t spawn_sock(int family, int type, const char *addr, uint16_t port,
			const char *comm, uid_t uid)
{
	int p[2];
	char c = 0;
	pid_t pid;

	cr_assert(nkids < 8);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len;
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		if (prctl(PR_SET_NAME, comm) || (uid && (setresgid(uid, uid, uid) ||
							 setresuid(uid, uid, uid))))
			_exit(1);
		if (family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			a->sin_family = AF_INET;
			a->sin_port = htons(port);
			inet_pton(AF_INET, addr, &a->sin_addr);
			len = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			a->sin6_family = AF_INET6;
			a->sin6_port = htons(port);
			inet_pton(AF_INET6, addr, &a->sin6_addr);
			len = sizeof(*a);
		}
		fd = socket(family, type | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) ||
		    (type == SOCK_STREAM && listen(fd, 4)))
			_exit(2);
		c = 'x';
		if (write(p[1], &c, 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	kids[nkids++] = pid;
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the socket holder %s died", comm);
	close(p[0]);
	return pid;
}

struct hold_row {
	char name[40];
	enum portrsv_proto proto;
	int family;
	char addr[40];
	uint16_t port;
	char comm[16];
	uid_t uid;
	uint8_t state;
	char state_name[16];
};

ParameterizedTestParameters(why, holder)
{
	static struct hold_row rows[] = {
		{ "tcp listener", PORTRSV_TCP, AF_INET, "127.0.0.1", 7600, "why-listen", 65534,
		  10, "LISTEN" },
		{ "tcp6 listener, odd comm", PORTRSV_TCP, AF_INET6, "::1", 7601, "w\x1b[1m\r\nx", 4242,
		  10, "LISTEN" },
		{ "udp unconnected", PORTRSV_UDP, AF_INET, "127.0.0.1", 7602, "why-udp", 4242, 7,
		  "UNCONN" },
		{ "udp6 unconnected", PORTRSV_UDP, AF_INET6, "::", 7603, "why-udp6", 0, 7,
		  "UNCONN" },
	};

	return cr_make_param_array(struct hold_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct hold_row *row, why, holder, .init = kt_setup, .fini = fini)
{
	struct portrsv_why w;
	const struct portrsv_holder *h;
	pid_t pid = spawn_sock(row->family, row->proto == PORTRSV_TCP ? SOCK_STREAM : SOCK_DGRAM,
			       row->addr, row->port, row->comm, row->uid);

	diagnose(row->proto, row->port, NULL, &w);
	cr_assert_eq(w.holders.n, 1, "%s: %zu holders", row->name, w.holders.n);
	cr_assert_eq(w.reasons, 1, "%s: %u reasons", row->name, w.reasons);
	cr_assert_not(w.reserved);
	h = &w.holders.v[0];
	cr_assert_eq(h->port, row->port);
	cr_assert_eq(h->state, row->state, "%s: state %u", row->name, h->state);
	cr_assert_str_eq(portrsv_sock_state_name(h->state), row->state_name);
	cr_assert_eq(h->family, row->family);
	cr_assert_str_eq(h->addr, row->addr);
	cr_assert_eq(h->uid, row->uid, "%s: uid %u", row->name, h->uid);
	cr_assert_neq(h->ino, 0);
	cr_assert_eq(h->nprocs, 1, "%s: %zu processes", row->name, h->nprocs);
	cr_assert_eq(h->procs[0].pid, (uint32_t)pid);
	cr_assert_str_eq(h->procs[0].comm, row->comm, "%s: comm kept raw, newline included",
			 row->name);
	cr_assert_str_eq(h->procs[0].cgroup, rel_cgroup());
	portrsv_why_free(&w);

	/* The other protocol on the same port: nothing. */
	diagnose(row->proto == PORTRSV_TCP ? PORTRSV_UDP : PORTRSV_TCP, row->port, NULL, &w);
	cr_assert_eq(w.holders.n, 0, "%s: the other protocol", row->name);
	cr_assert_eq(w.reasons, 0);
	portrsv_why_free(&w);
}

WHY_TEST(socket_shared_by_two_processes)
{
	struct portrsv_why w;
	int fd = kt_socket(KT_V4, IPPROTO_TCP), p[2];
	bool me = false, kid = false;
	char c;
	pid_t pid;

	cr_assert_eq(kt_bind(fd, KT_V4, 7610), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_NAME, "why-sharer");
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	kids[nkids++] = pid;
	cr_assert_eq(read(p[0], &c, 1), 1);
	diagnose(PORTRSV_TCP, 7610, NULL, &w);
	cr_assert_eq(w.holders.n, 1, "one socket");
	cr_assert_eq(w.holders.v[0].nprocs, 2, "%zu processes", w.holders.v[0].nprocs);
	for (size_t i = 0; i < 2; i++) {
		const struct portrsv_holder_proc *pr = &w.holders.v[0].procs[i];

		if (pr->pid == (uint32_t)getpid()) {
			me = true;
			cr_assert_str_eq(pr->comm, own_comm());
		} else if (pr->pid == (uint32_t)pid) {
			kid = true;
			cr_assert_str_eq(pr->comm, "why-sharer");
		}
		cr_assert_str_eq(pr->cgroup, rel_cgroup());
	}
	cr_assert(me && kid, "both holders listed");
	portrsv_why_free(&w);
	close(fd);
}

WHY_TEST(time_wait_has_no_process)
{
	struct portrsv_why w;
	int l = kt_socket(KT_V4, IPPROTO_TCP), c = kt_socket(KT_V4, IPPROTO_TCP), a;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7620),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char b;

	cr_assert_eq(kt_bind(l, KT_V4, 7620), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&to, sizeof(to)), 0);
	a = accept(l, NULL, NULL);
	cr_assert(a >= 0);
	close(l);
	/* The server's end closes first: it is the one that waits, on port 7620. */
	close(a);
	cr_assert_eq(read(c, &b, 1), 0, "the client sees the end");
	close(c);
	for (int tries = 0;; tries++) {
		diagnose(PORTRSV_TCP, 7620, NULL, &w);
		if ((w.holders.n == 1 && w.holders.v[0].state == 6) || tries == 100)
			break;
		portrsv_why_free(&w);
		usleep(10000);
	}
	cr_assert_eq(w.holders.n, 1, "%zu sockets", w.holders.n);
	cr_assert_str_eq(portrsv_sock_state_name(w.holders.v[0].state), "TIME-WAIT");
	cr_assert_eq(w.holders.v[0].port, 7620);
	cr_assert_str_eq(w.holders.v[0].addr, "127.0.0.1");
	cr_assert_eq(w.holders.v[0].ino, 0);
	cr_assert_eq(w.holders.v[0].nprocs, 0, "a TIME-WAIT socket has no process");
	cr_assert_eq(w.reasons, 1);
	portrsv_why_free(&w);
}

Test(why, state_names)
{
	static const struct {
		uint8_t state;
		const char *name;
	} rows[] = {
		{ 0, "UNKNOWN" },	{ 1, "ESTAB" },	      { 2, "SYN-SENT" },   { 3, "SYN-RECV" },
		{ 4, "FIN-WAIT-1" },	{ 5, "FIN-WAIT-2" },  { 6, "TIME-WAIT" },  { 7, "UNCONN" },
		{ 8, "CLOSE-WAIT" },	{ 9, "LAST-ACK" },    { 10, "LISTEN" },    { 11, "CLOSING" },
		{ 12, "SYN-RECV" },	{ 13, "UNKNOWN" },    { 255, "UNKNOWN" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_assert_str_eq(portrsv_sock_state_name(rows[i].state), rows[i].name, "state %u",
				 rows[i].state);
}

/* One comm reader for the creator and the holders: the kernel's newline goes, the comm's stays. */
Test(why, proc_comm_keeps_its_own_newline)
{
	static const char *const names[] = { "plain", "a\nb", "ends\n", "\x1b[31m\r\n", "" };
	char comm[PORTRSV_COMM_LEN], cg[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cr_assert_eq(prctl(PR_SET_NAME, names[i]), 0);
		cr_assert_eq(portrsv_proc_comm(0, comm), 0);
		cr_assert_str_eq(comm, names[i], "row %zu", i);
		cr_assert_eq(portrsv_proc_comm((uint32_t)getpid(), comm), 0);
		cr_assert_str_eq(comm, names[i], "row %zu by pid", i);
	}
	cr_assert_eq(portrsv_proc_comm(0x7ffffff0, comm), -ENOENT, "no such process");
	cr_assert_eq(portrsv_proc_cgroup(0x7ffffff0, cg, sizeof(cg)), -ENOENT);
	cr_assert_eq(portrsv_proc_cgroup(0, cg, sizeof(cg)), 0);
	cr_assert_eq(cg[0], '/');
	cr_assert_eq(portrsv_proc_cgroup(0, cg, 1), -EINVAL, "does not fit");
}

/* ---- 3. ip_local_reserved_ports -------------------------------------------------------- */

#define SYSCTL_RESERVED "/proc/sys/net/ipv4/ip_local_reserved_ports"

struct bit_row {
	char name[48];
	bool admin;   /* the administrator sets the bit first */
	bool reserve; /* then portrsv reserves the port */
	enum portrsv_proto asked;
	enum portrsv_why_sysctl want;
	unsigned reasons;
};

ParameterizedTestParameters(why, reserved_ports)
{
	static struct bit_row rows[] = {
		{ "admin's bit alone", true, false, PORTRSV_TCP, PORTRSV_WHY_SYSCTL_ADMIN, 1 },
		{ "admin's bit, asked for udp", true, false, PORTRSV_UDP, PORTRSV_WHY_SYSCTL_ADMIN, 1 },
		{ "portrsv's bit", false, true, PORTRSV_TCP, PORTRSV_WHY_SYSCTL_OURS, 1 },
		{ "portrsv's bit, asked for udp", false, true, PORTRSV_UDP, PORTRSV_WHY_SYSCTL_OURS,
		  0 },
		{ "admin's first, then reserved", true, true, PORTRSV_TCP, PORTRSV_WHY_SYSCTL_ADMIN,
		  2 },
		{ "neither", false, false, PORTRSV_TCP, PORTRSV_WHY_SYSCTL_CLEAR, 0 },
	};

	return cr_make_param_array(struct bit_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bit_row *row, why, reserved_ports, .init = kt_setup, .fini = fini)
{
	struct portrsv_why w;

	if (row->admin)
		kt_write_outside(SYSCTL_RESERVED, "7700\n");
	if (row->reserve)
		kt_reserve(PORTRSV_TCP, 7700, 1);
	diagnose(row->asked, 7700, NULL, &w);
	cr_assert_eq(w.reserved_ports, row->want, "%s: %s", row->name,
		     portrsv_why_sysctl_name(w.reserved_ports));
	cr_assert_eq(w.reasons, row->reasons, "%s: %u reasons", row->name, w.reasons);
	cr_assert_eq(w.reserved, row->reserve && row->asked == PORTRSV_TCP);
	portrsv_why_free(&w);
	/* The next port: its bit is nobody's. */
	diagnose(row->asked, 7701, NULL, &w);
	cr_assert_eq(w.reserved_ports, PORTRSV_WHY_SYSCTL_CLEAR);
	portrsv_why_free(&w);
}

/* A second instance (its own pin and state directories) reserves the port in this netns. */
WHY_TEST(reserved_ports_of_another_instance)
{
	const char *cg[1] = { other_cg };
	struct portrsv *q;
	struct portrsv_why w;
	uint64_t token;
	int err;

	snprintf(other_pin, sizeof(other_pin), "%s-b", kt.pin_dir);
	snprintf(other_state, sizeof(other_state), "%s-b", kt.state_dir);
	snprintf(other_cg, sizeof(other_cg), "%s/b", kt.cgroup);
	cr_assert_eq(mkdir(other_state, 0700), 0);
	cr_assert_eq(mkdir(other_cg, 0755), 0);
	PORTRSV_OPTS(portrsv_load_opts, lo, .cgroups = cg, .n_cgroups = 1, .pin_dir = other_pin,
		     .state_dir = other_state);
	err = portrsv_load(&lo);
	cr_assert_eq(err, 0, "load the second instance: %s", strerror(-err));
	PORTRSV_OPTS(portrsv_open_opts, oo, .pin_dir = other_pin, .state_dir = other_state);
	q = portrsv_open(&oo);
	cr_assert(q, "open the second instance: %s", strerror(errno));
	err = portrsv_create(q, PORTRSV_UDP, 7710, 2, NULL, &token);
	cr_assert_eq(err, 0, "create in the second instance: %s", strerror(-err));
	portrsv_close(q);

	diagnose(PORTRSV_TCP, 7711, NULL, &w);
	cr_assert_not(w.reserved, "this instance has no reservation");
	cr_assert_eq(w.reserved_ports, PORTRSV_WHY_SYSCTL_OTHER, "%s",
		     portrsv_why_sysctl_name(w.reserved_ports));
	cr_assert_eq(w.reasons, 1);
	portrsv_why_free(&w);
	/* The administrator's bit next to it stays the administrator's. */
	kt_write_outside(SYSCTL_RESERVED, "7710-7711,7712\n");
	diagnose(PORTRSV_TCP, 7712, NULL, &w);
	cr_assert_eq(w.reserved_ports, PORTRSV_WHY_SYSCTL_ADMIN);
	portrsv_why_free(&w);
}

/* ---- 4. ip_local_port_range and ip_unprivileged_port_start of the netns ---------------- */

struct range_row {
	char name[48];
	char range[24];    /* "" = the default 32768 60999 */
	char unpriv[8];    /* "" = the default 1024 */
	bool admin_bit;    /* the port in ip_local_reserved_ports too */
	uint16_t port;
	uint32_t lo, hi, start;
	bool inside, autobind, below;
	unsigned reasons;
};

ParameterizedTestParameters(why, port_sysctls)
{
	static struct range_row rows[] = {
		{ "inside the range", "7800 7900", "", false, 7850, 7800, 7900, 1024, true, true,
		  false, 1 },
		{ "the range's first port", "7800 7900", "", false, 7800, 7800, 7900, 1024, true,
		  true, false, 1 },
		{ "the range's last port", "7800 7900", "", false, 7900, 7800, 7900, 1024, true,
		  true, false, 1 },
		{ "just below the range", "7800 7900", "", false, 7799, 7800, 7900, 1024, false,
		  false, false, 0 },
		{ "inside, but reserved", "7800 7900", "", true, 7850, 7800, 7900, 1024, true,
		  false, false, 1 },
		{ "the default range", "", "", false, 40000, 32768, 60999, 1024, true, true, false,
		  1 },
		{ "below the default 1024", "", "", false, 1023, 32768, 60999, 1024, false, false,
		  true, 1 },
		{ "the default start itself", "", "", false, 1024, 32768, 60999, 1024, false, false,
		  false, 0 },
		{ "below a raised start", "", "8000", false, 7950, 32768, 60999, 8000, false, false,
		  true, 1 },
		{ "every port unprivileged", "", "0", false, 80, 32768, 60999, 0, false, false,
		  false, 0 },
	};

	return cr_make_param_array(struct range_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct range_row *row, why, port_sysctls, .init = kt_setup, .fini = fini)
{
	struct portrsv_why w;
	char bitv[16];
	int saved;

	/* Only the test's netns changes (checked below). The kernel keeps
	 * ip_unprivileged_port_start below the range's first port, so no port is both. */
	if (row->range[0])
		kt_write_outside("/proc/sys/net/ipv4/ip_local_port_range", row->range);
	if (row->unpriv[0])
		kt_write_outside("/proc/sys/net/ipv4/ip_unprivileged_port_start", row->unpriv);
	if (row->admin_bit) {
		snprintf(bitv, sizeof(bitv), "%u\n", row->port);
		kt_write_outside(SYSCTL_RESERVED, bitv);
	}
	diagnose(PORTRSV_TCP, row->port, NULL, &w);
	cr_assert_eq(w.port_range.lo, row->lo, "%s", row->name);
	cr_assert_eq(w.port_range.hi, row->hi, "%s", row->name);
	cr_assert_eq(w.port_range.inside, row->inside, "%s", row->name);
	cr_assert_eq(w.port_range.autobind, row->autobind, "%s", row->name);
	cr_assert_eq(w.unpriv.value, row->start, "%s", row->name);
	cr_assert_eq(w.unpriv.below, row->below, "%s", row->name);
	cr_assert_eq(w.reasons, row->reasons, "%s: %u reasons", row->name, w.reasons);
	portrsv_why_free(&w);
	/* Asked about the netns the test started in (its runner's), the values are that
	 * netns's, not the test's. */
	if (row->range[0] || row->unpriv[0]) {
		uint32_t lo = 0, hi = 0, start = 0;
		char outer[64];
		FILE *f;

		snprintf(outer, sizeof(outer), "/proc/%d/ns/net", (int)getppid());
		cr_assert_eq(portrsv_netns_enter(outer, &saved), 0);
		f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
		cr_assert(f && fscanf(f, "%u %u", &lo, &hi) == 2);
		fclose(f);
		f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
		cr_assert(f && fscanf(f, "%u", &start) == 1);
		fclose(f);
		portrsv_netns_leave(saved);
		diagnose(PORTRSV_TCP, row->port, outer, &w);
		cr_assert_eq(w.port_range.lo, lo, "%s: the host's", row->name);
		cr_assert_eq(w.port_range.hi, hi);
		cr_assert_eq(w.unpriv.value, start);
		portrsv_why_free(&w);
	}
}

/* ---- 5. Reservations in other netns ---------------------------------------------------- */

/* A process in a netns of its own: its /proc path, inode and cookie. */
static void spawn_netns(char *path, size_t len, uint64_t *ino, uint64_t *cookie)
{
	struct stat st;
	int p[2], saved;
	char c;
	pid_t pid;

	cr_assert(nkids < 8);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) || write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	kids[nkids++] = pid;
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the netns holder died");
	close(p[0]);
	snprintf(path, len, "/proc/%d/ns/net", pid);
	cr_assert_eq(stat(path, &st), 0);
	*ino = st.st_ino;
	cr_assert_eq(portrsv_netns_enter(path, &saved), 0);
	cr_assert_eq(portrsv_netns_self(cookie, NULL), 0);
	portrsv_netns_leave(saved);
}

WHY_TEST(reserved_in_another_netns)
{
	uint64_t ino, cookie, here, here_ino, t_other, t_here;
	struct portrsv_why w;
	char path[64];

	cr_assert_eq(portrsv_netns_self(&here, &here_ino), 0);
	spawn_netns(path, sizeof(path), &ino, &cookie);
	PORTRSV_OPTS(portrsv_create_opts, o, .netns = path, .comment = "elsewhere");
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, 7900, 5, &o, &t_other), 0);
	/* Here, only the other protocol: it does not count for tcp. */
	t_here = kt_reserve(PORTRSV_UDP, 7900, 5);

	diagnose(PORTRSV_TCP, 7902, NULL, &w);
	cr_assert_not(w.reserved, "not in force here");
	cr_assert_eq(w.netns_cookie, here);
	cr_assert_eq(w.nother, 1, "%zu other", w.nother);
	cr_assert_eq(w.other[0].netns_cookie, cookie);
	cr_assert_eq(w.other[0].netns_ino, ino);
	cr_assert_eq(w.other[0].proto, PORTRSV_TCP);
	cr_assert_eq(w.other[0].start, 7900);
	cr_assert_eq(w.other[0].count, 5);
	cr_assert_str_eq(w.other[0].comment, "elsewhere");
	cr_assert_eq(w.other[0].token, 0);
	cr_assert_eq(w.reasons, 1);
	assert_no_token(&w, t_other);
	assert_no_token(&w, t_here);
	portrsv_why_free(&w);

	/* Asked from the other netns: reserved there, and this one's udp block is "other". */
	diagnose(PORTRSV_UDP, 7904, path, &w);
	cr_assert_eq(w.netns_cookie, cookie);
	cr_assert_eq(w.netns_ino, ino);
	cr_assert_not(w.reserved, "udp is reserved only in the test's netns");
	cr_assert_eq(w.nother, 1);
	cr_assert_eq(w.other[0].netns_cookie, here);
	cr_assert_eq(w.other[0].netns_ino, here_ino);
	cr_assert_eq(w.other[0].proto, PORTRSV_UDP);
	portrsv_why_free(&w);
	diagnose(PORTRSV_TCP, 7904, path, &w);
	cr_assert(w.reserved);
	cr_assert_eq(w.resv.r.netns_cookie, cookie);
	cr_assert_eq(w.nother, 0);
	cr_assert_eq(w.reasons, 1);
	assert_no_token(&w, t_other);
	portrsv_why_free(&w);

	/* Past the block: nowhere. */
	diagnose(PORTRSV_TCP, 7905, NULL, &w);
	cr_assert_eq(w.nother, 0);
	cr_assert_eq(w.reasons, 0);
	portrsv_why_free(&w);
}

/* Sockets are looked for in the netns asked about, not the caller's. */
WHY_TEST(holders_of_the_netns_asked)
{
	uint64_t ino, cookie;
	struct portrsv_why w;
	char path[64];
	int fd;

	spawn_netns(path, sizeof(path), &ino, &cookie);
	fd = kt_socket(KT_V4, IPPROTO_UDP);
	cr_assert_eq(kt_bind(fd, KT_V4, 7950), 0);
	diagnose(PORTRSV_UDP, 7950, path, &w);
	cr_assert_eq(w.holders.n, 0, "the socket is in the test's netns, not that one");
	cr_assert_eq(w.reasons, 0);
	portrsv_why_free(&w);
	diagnose(PORTRSV_UDP, 7950, NULL, &w);
	cr_assert_eq(w.holders.n, 1);
	cr_assert_eq(w.holders.v[0].nprocs, 1);
	cr_assert_eq(w.holders.v[0].procs[0].pid, (uint32_t)getpid());
	portrsv_why_free(&w);
	close(fd);
}
