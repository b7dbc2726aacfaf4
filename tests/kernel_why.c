// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * "Why can't this bind?" (SPEC "Diagnosis"): portrsv_diagnose finds every reason, one test
 * per cause, each asserting the exact fields: a reservation (persistent, pool, runtime; owner,
 * comment, creator, refused binds, never the token), the sockets on the port as ss finds them
 * (LISTEN, UDP UNCONN, TIME-WAIT without process, a socket shared by two processes), the
 * administrator's bit in ip_local_reserved_ports and another instance's, ip_local_port_range
 * and ip_unprivileged_port_start of the netns, a reservation in another netns; a free port has
 * no finding, and a bad netns path is an error. Then the command, `portrsv why [--json]`: one
 * line (and the JSON member) per cause with exit 0, exit 4 for a free port, exit 2 for a bad
 * --netns, no token in any output, and a comm with ESC, CR and LF printed escaped on its line.
 */
#include "testlib.h"
#include "clirun.h"
#include "json.h"
#include <signal.h>
#include <stdarg.h>
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

/* ---- The command: portrsv why [--json] ------------------------------------------------- */

/* portrsv why WORDS..., NULL-terminated; the exit status (R has the output). */
static int why_cli(const char *first, ...)
{
	struct run_opts o = { 0 };
	char *argv[16];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)portrsv_bin();
	argv[argc++] = "why";
	va_start(ap, first);
	for (const char *w = first; w && argc < 15; w = va_arg(ap, const char *))
		argv[argc++] = (char *)w;
	va_end(ap);
	argv[argc] = NULL;
	return run_argv_opts(&o, argv);
}
#define why(...) why_cli(__VA_ARGS__, NULL)

/* Never a token, in any spelling, on stdout or stderr. */
static void assert_no_token_printed(const char *what, uint64_t token)
{
	char hex[24], bare[24], dec[24];

	snprintf(hex, sizeof(hex), "0x%016" PRIx64, token);
	snprintf(bare, sizeof(bare), "%016" PRIx64, token);
	snprintf(dec, sizeof(dec), "%" PRIu64, token);
	for (int i = 0; i < 2; i++) {
		const char *s = i ? R.err : R.out;

		cr_assert(!strstr(s, bare) && !strstr(s, dec) && !strcasestr(s, hex),
			  "%s: the token is printed: [%s]", what, s);
	}
}

/* Lines of s. */
static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* This netns as the command names it: net:[INO] (the test's is no /run/netns one). */
static const char *here_label(void)
{
	static char label[64];
	uint64_t ino;

	cr_assert_eq(portrsv_netns_self(NULL, &ino), 0);
	snprintf(label, sizeof(label), "net:[%" PRIu64 "]", ino);
	return label;
}

/* The JSON document's root, with the members every document has, checked. */
static int why_doc(const char *proto, unsigned port, bool free_port)
{
	int root = jparse(R.out);

	cr_assert_eq(J[root].type, J_OBJ);
	cr_assert_str_eq(J[jget(root, "proto", J_STR)].str, proto);
	cr_assert_eq(J[jget(root, "port", J_NUM)].num, port);
	cr_assert_eq(J[jget(root, "free", J_BOOL)].b, free_port);
	jget(root, "reasons", J_NUM);
	jget(root, "holders", J_ARR);
	jget(root, "reserved_ports_sysctl", J_OBJ);
	jget(root, "local_port_range", J_OBJ);
	jget(root, "unprivileged_port_start", J_OBJ);
	jget(root, "other_netns", J_ARR);
	return root;
}

WHY_TEST(cli_reservation)
{
	char owner[PATH_MAX + 16], want[128];
	uint64_t token;
	int root, r, c, fd;

	snprintf(owner, sizeof(owner), "%s/svc", kt.cgroup);
	cr_assert_eq(mkdir(owner, 0755), 0);
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = owner, .comment = "web pool");
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, RESV, RESV_N, &o, &token), 0);
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(kt_bind(fd, KT_V4, RESV + 3), -EACCES);
	close(fd);

	why("tcp", "7403");
	cr_assert_eq(R.status, 0, "why: %d [%s] [%s]", R.status, R.out, R.err);
	cr_assert_str_empty(R.err);
	cr_assert_eq(lines(R.out), 2, "the reservation and its last refusal: [%s]", R.out);
	cr_assert(strstr(R.out, "tcp 7403: reserved by portrsv: persistent 7400-7409 (1 binds "
			 "denied), owner "), "[%s]", R.out);
	cr_assert(strstr(R.out, ", comment: web pool, created "), "[%s]", R.out);
	snprintf(want, sizeof(want), " by uid 0 (%s) in %s\n", own_comm(), rel_cgroup());
	cr_assert(strstr(R.out, want), "the creator %s: [%s]", want, R.out);
	snprintf(want, sizeof(want), "tcp 7403: last refused here at ");
	cr_assert(strstr(R.out, want), "[%s]", R.out);
	snprintf(want, sizeof(want), ": pid %d (%s), uid 0, %s; 1 bind of this port refused\n",
		 getpid(), own_comm(), rel_cgroup());
	cr_assert(strstr(R.out, want), "the refusal %s: [%s]", want, R.out);
	assert_no_token_printed("why", token);

	why("tcp", "7403", "--json");
	cr_assert_eq(R.status, 0, "why --json: %d [%s]", R.status, R.err);
	assert_no_token_printed("why --json", token);
	root = why_doc("tcp", 7403, false);
	cr_assert_str_eq(J[jget(root, "netns", J_STR)].str, here_label());
	cr_assert_eq(J[jget(root, "reasons", J_NUM)].num, 1);
	r = jget(root, "reservation", J_OBJ);
	cr_assert_eq(J[jget(r, "start", J_NUM)].num, RESV);
	cr_assert_eq(J[jget(r, "count", J_NUM)].num, RESV_N);
	cr_assert_eq(J[jget(r, "end", J_NUM)].num, RESV + RESV_N - 1);
	cr_assert_str_eq(J[jget(r, "block", J_STR)].str, "7400-7409");
	cr_assert_str_eq(J[jget(r, "kind", J_STR)].str, "persistent");
	cr_assert(J[jget(r, "persistent", J_BOOL)].b);
	cr_assert_str_eq(J[jget(r, "owner", J_STR)].str, owner);
	cr_assert(J[jget(r, "owner_present", J_BOOL)].b);
	cr_assert_str_eq(J[jget(r, "comment", J_STR)].str, "web pool");
	cr_assert(matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$", J[jget(r, "created", J_STR)].str));
	cr_assert_eq(J[jget(r, "denied", J_NUM)].num, 1);
	c = jget(r, "creator", J_OBJ);
	cr_assert_eq(J[jget(c, "uid", J_NUM)].num, 0);
	cr_assert_str_eq(J[jget(c, "comm", J_STR)].str, own_comm());
	cr_assert_str_eq(J[jget(c, "cgroup", J_STR)].str, rel_cgroup());
	c = jget(r, "last_denial", J_OBJ);
	cr_assert_eq(J[jget(c, "pid", J_NUM)].num, getpid());
	cr_assert_eq(J[jget(c, "uid", J_NUM)].num, 0);
	cr_assert_eq(J[jget(c, "count", J_NUM)].num, 1);
	cr_assert_str_eq(J[jget(c, "comm", J_STR)].str, own_comm());
	cr_assert_str_eq(J[jget(c, "cgroup", J_STR)].str, rel_cgroup());
	jget(c, "time", J_STR);
	jget(r, "runtime", J_NULL);
	cr_assert_eq(jcount(jget(root, "holders", J_ARR)), 0);
	c = jget(root, "reserved_ports_sysctl", J_OBJ);
	cr_assert(J[jget(c, "set", J_BOOL)].b);
	cr_assert_str_eq(J[jget(c, "by", J_STR)].str, "portrsv");
	for (int i = 0; i < NJ; i++)
		cr_assert(strcmp(J[i].key, "token"), "a \"token\" member");
}

WHY_TEST(cli_runtime_never_prints_a_token)
{
	struct portrsv_runtime rt;
	char want[128];
	uint64_t token;
	int fd, root, r;

	PORTRSV_OPTS(portrsv_create_opts, o, .pool = true);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_UDP, POOL, POOL_N, &o, &token), 0);
	fd = kt_socket(KT_V4, IPPROTO_UDP);
	cr_assert_eq(portrsv_acquire(fd, POOL + 2, 2, &rt), 0);
	why("udp", "7503");
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	snprintf(want, sizeof(want), "udp 7503: reserved by portrsv: runtime reservation 7502-7503 "
		 "acquired by pid %d (%s) in %s at ", getpid(), own_comm(), rel_cgroup());
	cr_assert(strstr(R.out, want), "[%s]", R.out);
	cr_assert(strstr(R.out, "from pool 7500-7509 (0 binds denied)"), "[%s]", R.out);
	assert_no_token_printed("why runtime", token);
	assert_no_token_printed("why runtime", rt.token);
	why("udp", "7503", "--json");
	cr_assert_eq(R.status, 0);
	assert_no_token_printed("why runtime --json", token);
	assert_no_token_printed("why runtime --json", rt.token);
	root = why_doc("udp", 7503, false);
	r = jget(root, "reservation", J_OBJ);
	cr_assert_str_eq(J[jget(r, "kind", J_STR)].str, "runtime");
	cr_assert_str_eq(J[jget(r, "block", J_STR)].str, "7500-7509");
	r = jget(r, "runtime", J_OBJ);
	cr_assert_str_eq(J[jget(r, "block", J_STR)].str, "7502-7503");
	cr_assert_eq(J[jget(r, "pid", J_NUM)].num, getpid());
	cr_assert_str_eq(J[jget(r, "cgroup", J_STR)].str, rel_cgroup());
	why("udp", "7500");
	cr_assert_eq(R.status, 0);
	cr_assert(strstr(R.out, "udp 7500: reserved by portrsv: pool 7500-7509, only runtime "
			 "reservations acquired from it may bind"), "[%s]", R.out);
	close(fd);
}

/* One row per cause that is no reservation: its setup, its text line, its JSON member. */
enum cause { C_LISTEN, C_UNCONN, C_TIMEWAIT, C_ADMIN, C_OTHER_INSTANCE, C_RANGE, C_UNPRIV,
	     C_OTHER_NETNS };

struct cause_row {
	char name[32];
	enum cause cause;
	char proto[4];
	uint16_t port;
	char text[160]; /* a regex the one line matches */
};

ParameterizedTestParameters(why, cli_cause)
{
	static struct cause_row rows[] = {
		{ "listener", C_LISTEN, "tcp", 7600,
		  "^tcp 7600: in use by a LISTEN socket 127\\.0\\.0\\.1:7600 of uid 65534: pid [0-9]+ "
		  "\\(why-listen\\) in /[^ ]+\n$" },
		{ "udp", C_UNCONN, "udp", 7602,
		  "^udp 7602: in use by a UNCONN socket \\[::1\\]:7602 of uid 4242: pid [0-9]+ "
		  "\\(why-udp\\) in /[^ ]+\n$" },
		{ "time-wait", C_TIMEWAIT, "tcp", 7620,
		  "^tcp 7620: in use by a TIME-WAIT socket 127\\.0\\.0\\.1:7620 of uid 0, held by no "
		  "process\n$" },
		{ "admin's bit", C_ADMIN, "tcp", 7700,
		  "^tcp 7700: in ip_local_reserved_ports, the administrator's entry: " },
		{ "another instance", C_OTHER_INSTANCE, "udp", 7710,
		  "^udp 7710: in ip_local_reserved_ports, reserved by another portrsv instance" },
		{ "port range", C_RANGE, "tcp", 7850,
		  "^tcp 7850: inside ip_local_port_range 7800-7900: autobind " },
		{ "unprivileged", C_UNPRIV, "udp", 80,
		  "^udp 80: below ip_unprivileged_port_start 1024: only a process with "
		  "CAP_NET_BIND_SERVICE may bind it\n$" },
		{ "other netns", C_OTHER_NETNS, "tcp", 7902,
		  "^tcp 7902: reserved in another netns, net:\\[[0-9]+\\]: persistent 7900-7904 \\(not "
		  "in force here\\), comment: elsewhere\n$" },
	};

	return cr_make_param_array(struct cause_row, rows, sizeof(rows) / sizeof(rows[0]));
}

static void load_other_instance(uint16_t port)
{
	const char *cg[1] = { other_cg };
	struct portrsv *q;
	uint64_t token;

	snprintf(other_pin, sizeof(other_pin), "%s-b", kt.pin_dir);
	snprintf(other_state, sizeof(other_state), "%s-b", kt.state_dir);
	snprintf(other_cg, sizeof(other_cg), "%s/b", kt.cgroup);
	cr_assert_eq(mkdir(other_state, 0700), 0);
	cr_assert_eq(mkdir(other_cg, 0755), 0);
	PORTRSV_OPTS(portrsv_load_opts, lo, .cgroups = cg, .n_cgroups = 1, .pin_dir = other_pin,
		     .state_dir = other_state);
	cr_assert_eq(portrsv_load(&lo), 0);
	PORTRSV_OPTS(portrsv_open_opts, oo, .pin_dir = other_pin, .state_dir = other_state);
	q = portrsv_open(&oo);
	cr_assert(q);
	cr_assert_eq(portrsv_create(q, PORTRSV_UDP, port, 1, NULL, &token), 0);
	portrsv_close(q);
}

static void time_wait(uint16_t port)
{
	int l = kt_socket(KT_V4, IPPROTO_TCP), c = kt_socket(KT_V4, IPPROTO_TCP), a;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct portrsv_why w;
	char b;

	cr_assert_eq(kt_bind(l, KT_V4, port), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&to, sizeof(to)), 0);
	a = accept(l, NULL, NULL);
	cr_assert(a >= 0);
	close(l);
	close(a);
	cr_assert_eq(read(c, &b, 1), 0);
	close(c);
	for (int tries = 0;; tries++) {
		diagnose(PORTRSV_TCP, port, NULL, &w);
		if ((w.holders.n == 1 && w.holders.v[0].state == 6) || tries == 100)
			break;
		portrsv_why_free(&w);
		usleep(10000);
	}
	cr_assert_eq(w.holders.n, 1);
	portrsv_why_free(&w);
}

ParameterizedTest(struct cause_row *row, why, cli_cause, .init = kt_setup, .fini = fini)
{
	char port[8], path[64];
	uint64_t ino, cookie, token = 0;
	pid_t pid = 0;
	int root, h, m;

	snprintf(port, sizeof(port), "%u", row->port);
	switch (row->cause) {
	case C_LISTEN:
		pid = spawn_sock(AF_INET, SOCK_STREAM, "127.0.0.1", row->port, "why-listen", 65534);
		break;
	case C_UNCONN:
		pid = spawn_sock(AF_INET6, SOCK_DGRAM, "::1", row->port, "why-udp", 4242);
		break;
	case C_TIMEWAIT:
		time_wait(row->port);
		break;
	case C_ADMIN:
		kt_write_outside(SYSCTL_RESERVED, "7700\n");
		break;
	case C_OTHER_INSTANCE:
		load_other_instance(row->port);
		break;
	case C_RANGE:
		kt_write_outside("/proc/sys/net/ipv4/ip_local_port_range", "7800 7900");
		break;
	case C_UNPRIV:
		break;
	case C_OTHER_NETNS: {
		PORTRSV_OPTS(portrsv_create_opts, o, .netns = path, .comment = "elsewhere");

		spawn_netns(path, sizeof(path), &ino, &cookie);
		cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, 7900, 5, &o, &token), 0);
		break;
	}
	}
	why(row->proto, port);
	cr_assert_eq(R.status, 0, "%s: exit %d [%s] [%s]", row->name, R.status, R.out, R.err);
	cr_assert_str_empty(R.err, "%s: [%s]", row->name, R.err);
	cr_assert(matches(row->text, R.out), "%s: one line, matching %s: [%s]", row->name,
		  row->text, R.out);
	cr_assert_eq(lines(R.out), 1, "%s: [%s]", row->name, R.out);
	if (token)
		assert_no_token_printed(row->name, token);

	why(row->proto, port, "--json");
	cr_assert_eq(R.status, 0, "%s --json: exit %d [%s]", row->name, R.status, R.err);
	root = why_doc(row->proto, row->port, false);
	cr_assert_eq(J[jget(root, "reasons", J_NUM)].num, 1, "%s", row->name);
	jget(root, "reservation", J_NULL);
	h = jget(root, "holders", J_ARR);
	cr_assert_eq(jcount(h), row->cause <= C_TIMEWAIT, "%s", row->name);
	switch (row->cause) {
	case C_LISTEN:
	case C_UNCONN:
		h = jchild(h, 0);
		cr_assert_str_eq(J[jget(h, "state", J_STR)].str,
				 row->cause == C_LISTEN ? "LISTEN" : "UNCONN");
		cr_assert_eq(J[jget(h, "uid", J_NUM)].num, row->cause == C_LISTEN ? 65534 : 4242);
		cr_assert_str_eq(J[jget(h, "address", J_STR)].str,
				 row->cause == C_LISTEN ? "127.0.0.1" : "::1");
		cr_assert_str_eq(J[jget(h, "family", J_STR)].str,
				 row->cause == C_LISTEN ? "ipv4" : "ipv6");
		cr_assert_eq(J[jget(h, "port", J_NUM)].num, row->port);
		m = jget(h, "processes", J_ARR);
		cr_assert_eq(jcount(m), 1);
		m = jchild(m, 0);
		cr_assert_eq(J[jget(m, "pid", J_NUM)].num, pid);
		cr_assert_str_eq(J[jget(m, "comm", J_STR)].str,
				 row->cause == C_LISTEN ? "why-listen" : "why-udp");
		cr_assert_str_eq(J[jget(m, "cgroup", J_STR)].str, rel_cgroup());
		break;
	case C_TIMEWAIT:
		h = jchild(h, 0);
		cr_assert_str_eq(J[jget(h, "state", J_STR)].str, "TIME-WAIT");
		cr_assert_eq(jcount(jget(h, "processes", J_ARR)), 0);
		break;
	case C_ADMIN:
	case C_OTHER_INSTANCE:
		m = jget(root, "reserved_ports_sysctl", J_OBJ);
		cr_assert(J[jget(m, "set", J_BOOL)].b);
		cr_assert_str_eq(J[jget(m, "by", J_STR)].str,
				 row->cause == C_ADMIN ? "admin" : "other-instance");
		break;
	case C_RANGE:
		m = jget(root, "local_port_range", J_OBJ);
		cr_assert_eq(J[jget(m, "lo", J_NUM)].num, 7800);
		cr_assert_eq(J[jget(m, "hi", J_NUM)].num, 7900);
		cr_assert(J[jget(m, "inside", J_BOOL)].b);
		cr_assert(J[jget(m, "autobind", J_BOOL)].b);
		break;
	case C_UNPRIV:
		m = jget(root, "unprivileged_port_start", J_OBJ);
		cr_assert_eq(J[jget(m, "value", J_NUM)].num, 1024);
		cr_assert(J[jget(m, "below", J_BOOL)].b);
		break;
	case C_OTHER_NETNS: {
		char label[64];

		snprintf(label, sizeof(label), "net:[%" PRIu64 "]", ino);
		m = jget(root, "other_netns", J_ARR);
		cr_assert_eq(jcount(m), 1);
		m = jchild(m, 0);
		cr_assert_str_eq(J[jget(m, "netns", J_STR)].str, label);
		cr_assert_eq(J[jget(m, "netns_cookie", J_NUM)].num, (double)cookie);
		cr_assert_str_eq(J[jget(m, "block", J_STR)].str, "7900-7904");
		cr_assert_str_eq(J[jget(m, "comment", J_STR)].str, "elsewhere");
		assert_no_token_printed(row->name, token);
		break;
	}
	}
	if (row->cause != C_OTHER_NETNS)
		cr_assert_eq(jcount(jget(root, "other_netns", J_ARR)), 0);
}

WHY_TEST(cli_free_port)
{
	why("tcp", "8080");
	cr_assert_eq(R.status, PORTRSV_EXIT_NOTFOUND, "exit %d [%s] [%s]", R.status, R.out, R.err);
	cr_assert_str_empty(R.out, "[%s]", R.out);
	cr_assert_eq(lines(R.err), 1, "[%s]", R.err);
	cr_assert(!strncmp(R.err, "portrsv: why: tcp 8080 is free", 30), "[%s]", R.err);
	why("udp", "8080", "--json");
	cr_assert_eq(R.status, PORTRSV_EXIT_NOTFOUND);
	why_doc("udp", 8080, true);
	cr_assert_eq(J[jget(0, "reasons", J_NUM)].num, 0);
	jget(0, "reservation", J_NULL);
	cr_assert(!J[jget(jget(0, "reserved_ports_sysctl", J_OBJ), "set", J_BOOL)].b);
	cr_assert(!J[jget(jget(0, "local_port_range", J_OBJ), "inside", J_BOOL)].b);
	cr_assert(!J[jget(jget(0, "unprivileged_port_start", J_OBJ), "below", J_BOOL)].b);
}

struct netns_row {
	char name[32];
	char netns[64];
	char msg[64];
};

ParameterizedTestParameters(why, cli_bad_netns)
{
	static struct netns_row rows[] = {
		{ "missing", "/nonexistent", "/nonexistent" },
		{ "missing name", "nonexistent-why-ns", "nonexistent-why-ns" },
		{ "a regular file", "/etc/hostname", "not a network namespace" },
		{ "another namespace", "/proc/self/ns/uts", "not a network namespace" },
	};

	return cr_make_param_array(struct netns_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct netns_row *row, why, cli_bad_netns, .init = kt_setup, .fini = fini)
{
	for (int json = 0; json < 2; json++) {
		if (json)
			why("tcp", "8080", "--netns", row->netns, "--json");
		else
			why("tcp", "8080", "--netns", row->netns);
		cr_assert_eq(R.status, PORTRSV_EXIT_USAGE, "%s: exit %d [%s]", row->name, R.status,
			     R.err);
		cr_assert_str_empty(R.out, "%s: [%s]", row->name, R.out);
		cr_assert_eq(lines(R.err), 1, "%s: [%s]", row->name, R.err);
		cr_assert(strstr(R.err, row->msg), "%s: [%s] names no %s", row->name, R.err,
			  row->msg);
	}
}

/* Asked with --netns, every line says which netns; the JSON names it. */
WHY_TEST(cli_netns_path)
{
	uint64_t ino, cookie, token;
	char path[64], label[64], want[128];
	int root;

	spawn_netns(path, sizeof(path), &ino, &cookie);
	PORTRSV_OPTS(portrsv_create_opts, o, .netns = path);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, 7900, 5, &o, &token), 0);
	snprintf(label, sizeof(label), "net:[%" PRIu64 "]", ino);
	why("tcp", "7901", "--netns", path);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	snprintf(want, sizeof(want), "tcp 7901 in netns %s: reserved by portrsv: persistent "
		 "7900-7904 ", label);
	cr_assert(!strncmp(R.out, want, strlen(want)), "[%s], want [%s]", R.out, want);
	cr_assert_eq(lines(R.out), 1);
	assert_no_token_printed("why --netns", token);
	why("tcp", "7901", "--netns", path, "--json");
	cr_assert_eq(R.status, 0);
	root = why_doc("tcp", 7901, false);
	cr_assert_str_eq(J[jget(root, "netns", J_STR)].str, label);
	jget(root, "reservation", J_OBJ);
	assert_no_token_printed("why --netns --json", token);
}

/* A holder's comm with ESC, CR and LF: escaped, its finding stays one line. */
WHY_TEST(cli_holder_comm_escaped)
{
	static const char comm[] = "w\x1b[1m\r\nx";
	pid_t pid = spawn_sock(AF_INET, SOCK_STREAM, "127.0.0.1", 7601, comm, 0);
	int root, m;

	why("tcp", "7601");
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	cr_assert_eq(lines(R.out), 1, "one line: [%s]", R.out);
	cr_assert_null(strchr(R.out, '\x1b'), "a raw ESC: [%s]", R.out);
	cr_assert_null(strchr(R.out, '\r'), "a raw CR: [%s]", R.out);
	cr_assert(strstr(R.out, "(w\\u001b[1m\\u000d\\u000ax)"), "escaped: [%s]", R.out);
	why("tcp", "7601", "--json");
	cr_assert_eq(R.status, 0);
	cr_assert_null(strchr(R.out, '\x1b'), "a raw ESC in JSON: [%s]", R.out);
	cr_assert_null(strchr(R.out, '\r'));
	root = why_doc("tcp", 7601, false);
	m = jchild(jget(jchild(jget(root, "holders", J_ARR), 0), "processes", J_ARR), 0);
	cr_assert_eq(J[jget(m, "pid", J_NUM)].num, pid);
	cr_assert_str_eq(J[jget(m, "comm", J_STR)].str, comm, "JSON carries the comm itself");
}
