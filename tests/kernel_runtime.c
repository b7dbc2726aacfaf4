// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runtime reservations on the real kernel: portrsv_acquire / portrsv_release from pools,
 * as uid 65534 in an enforced cgroup, every errno of SPEC, association only from the
 * acquiring process, the lifetime (close, release, kill -9, unload), concurrent acquirers
 * and a load upgrade under a hammer of acquires.
 */
#include "testlib.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <netinet/tcp.h>
#include <bpf/bpf.h>
#include <criterion/parameterized.h> /* after criterion.h, which it would break */

struct kt_env kt;

#define POOL 7000
#define POOL_N 100

/* A pool in the test's netns: limit 0 = uid 0 only. */
static void make_pool(enum portrsv_proto proto, uint16_t start, uint16_t count, uint32_t limit)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .pool = true, .limit = limit);
	uint64_t token = 0;
	int err = portrsv_create(kt.p, proto, start, count, &o, &token);

	cr_assert(err == 0, "pool %s %u+%u limit %u: %s", portrsv_proto_name(proto), start, count,
		  limit, strerror(-err));
}

/* Entries of one of the instance's pinned maps, and the sum of __u32 values (usage). */
static unsigned map_entries(const char *name, unsigned long *sum)
{
	char path[PATH_MAX], key[64], next[64];
	unsigned n = 0;
	__u32 v;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", kt.pin_dir, name);
	fd = bpf_obj_get(path);
	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	if (sum)
		*sum = 0;
	for (void *k = NULL; !bpf_map_get_next_key(fd, k, next); k = key) {
		memcpy(key, next, sizeof(key));
		if (sum && !bpf_map_lookup_elem(fd, key, &v))
			*sum += v;
		n++;
	}
	close(fd);
	return n;
}

/* Nothing of any runtime reservation is left in the maps. */
static void assert_no_runtime(void)
{
	unsigned long used;

	cr_assert_eq(map_entries(PORTRSV_PIN_RUNTIME, NULL), 0, "runtime reservations left");
	cr_assert_eq(map_entries(PORTRSV_PIN_RT_PORTS, NULL), 0, "pool ports still claimed");
	map_entries(PORTRSV_PIN_RT_USAGE, &used);
	cr_assert_eq(used, 0, "%lu ports still counted against cgroups", used);
}

static int tcp_socket(void)
{
	return kt_socket(KT_V4, IPPROTO_TCP);
}

static bool block_has(const struct portrsv_runtime *rt, uint16_t port)
{
	return port >= rt->start && port < rt->start + rt->count;
}

/* ---- acquire: one row per outcome ---- */

enum sock_kind { SK_TCP, SK_TCP6, SK_UDP, SK_MPTCP, SK_UNIX, SK_RAW };

struct acq_row {
	char name[48];
	enum sock_kind sock;
	uint16_t pool, pool_n;    /* a TCP pool (0: none) */
	uint32_t limit;
	bool udp_pool;            /* the pool is UDP */
	bool plain;               /* also a persistent reservation 8100+10 (not a pool) */
	uint16_t pre_start, pre_count; /* acquired first, by the same process (0: nothing) */
	bool root;                /* acquire as uid 0 rather than 65534 */
	bool outside;             /* socket made outside the enforced cgroup */
	uint16_t start, count;
	int err;                  /* expected, positive errno; 0 = success */
	uint16_t got;             /* expected start on success */
	char msg[72];             /* in portrsv_errmsg() on failure */
};

static struct acq_row acq_rows[] = {
	{ "specific", SK_TCP, POOL, POOL_N, 20, .start = 7010, .count = 5, .got = 7010 },
	{ "wildcard", SK_TCP, POOL, POOL_N, 20, .start = 0, .count = 10, .got = POOL },
	{ "wildcard_first_fit", SK_TCP, POOL, POOL_N, 30, .pre_start = 7000, .pre_count = 3,
	  .start = 0, .count = 4, .got = 7003 },
	{ "ipv6_socket", SK_TCP6, POOL, POOL_N, 20, .start = 7090, .count = 10, .got = 7090 },
	{ "mptcp_socket", SK_MPTCP, POOL, POOL_N, 20, .start = 7001, .count = 1, .got = 7001 },
	{ "udp", SK_UDP, POOL, POOL_N, 20, .udp_pool = true, .start = 0, .count = 2, .got = POOL },
	{ "whole_pool_as_root", SK_TCP, POOL, 10, 0, .root = true, .start = 0, .count = 10,
	  .got = POOL },
	{ "count_0", SK_TCP, POOL, POOL_N, 20, .start = 7000, .count = 0, .err = EINVAL,
	  .msg = "count 0: a block has at least one port" },
	{ "past_65535", SK_TCP, POOL, POOL_N, 20, .start = 65530, .count = 7, .err = EINVAL,
	  .msg = "block 65530-65536 passes port 65535" },
	{ "wildcard_past_65535", SK_TCP, POOL, POOL_N, 20, .start = 0, .count = 0, .err = EINVAL,
	  .msg = "count 0: a block has at least one port" },
	{ "unix_socket", SK_UNIX, POOL, POOL_N, 20, .start = 0, .count = 1, .err = EOPNOTSUPP,
	  .msg = "the socket is neither TCP nor UDP (domain 1, type 1, protocol 0)" },
	{ "raw_socket", SK_RAW, POOL, POOL_N, 20, .root = true, .start = 0, .count = 1,
	  .err = EOPNOTSUPP,
	  .msg = "the socket is neither TCP nor UDP (domain 2, type 3, protocol 6)" },
	{ "not_enforced", SK_TCP, POOL, POOL_N, 20, .outside = true, .start = 0, .count = 1,
	  .err = ENOPROTOOPT, .msg = "portrsv does not enforce this cgroup" },
	{ "outside_every_pool", SK_TCP, POOL, POOL_N, 20, .start = 8000, .count = 1,
	  .err = ENOENT,
	  .msg = "no pool of the socket's network namespace and protocol covers 8000" },
	{ "straddles_pool_end", SK_TCP, POOL, POOL_N, 20, .start = 7095, .count = 10,
	  .err = ENOENT,
	  .msg = "no pool of the socket's network namespace and protocol covers 7095-7104" },
	{ "straddles_pool_start", SK_TCP, POOL, POOL_N, 20, .start = 6999, .count = 2,
	  .err = ENOENT, .msg = "covers 6999-7000" },
	{ "persistent_not_pool", SK_TCP, POOL, POOL_N, 20, .plain = true, .start = 8100,
	  .count = 2, .err = ENOENT, .msg = "covers 8100-8101" },
	{ "no_pool_in_netns", SK_TCP, 0, 0, 0, .start = 0, .count = 1, .err = ENOENT,
	  .msg = "no pool in the socket's network namespace and protocol" },
	{ "no_pool_of_protocol", SK_UDP, POOL, POOL_N, 20, .start = 0, .count = 1,
	  .err = ENOENT, .msg = "no pool in the socket's network namespace and protocol" },
	{ "block_taken", SK_TCP, POOL, POOL_N, 20, .pre_start = 7000, .pre_count = 10,
	  .start = 7009, .count = 2, .err = EADDRINUSE,
	  .msg = "a port of 7009-7010 is taken by another runtime reservation" },
	{ "no_free_block", SK_TCP, POOL, 20, 20, .pre_start = 7005, .pre_count = 10,
	  .start = 0, .count = 6, .err = EADDRINUSE,
	  .msg = "no block of 6 free ports is left in the pools" },
	{ "wildcard_larger_than_pool", SK_TCP, POOL, 10, 0, .root = true, .start = 0,
	  .count = 11, .err = EADDRINUSE, .msg = "no block of 11 free ports is left" },
	{ "limit", SK_TCP, POOL, POOL_N, 20, .pre_start = 7050, .pre_count = 15, .start = 0,
	  .count = 6, .err = EDQUOT,
	  .msg = "6 more ports would pass the pool's limit for the socket's cgroup" },
	{ "limit_exactly", SK_TCP, POOL, POOL_N, 20, .pre_start = 7050, .pre_count = 15,
	  .start = 0, .count = 5, .got = POOL },
	{ "limit_larger_than_block", SK_TCP, POOL, POOL_N, 5, .start = 7000, .count = 6,
	  .err = EDQUOT, .msg = "6 more ports would pass the pool's limit" },
	{ "no_limit_not_root", SK_TCP, POOL, POOL_N, 0, .start = 0, .count = 1, .err = EPERM,
	  .msg = "the pool has no limit: only uid 0 may acquire from it" },
	{ "no_limit_root", SK_TCP, POOL, POOL_N, 0, .root = true, .start = 7020, .count = 30,
	  .got = 7020 },
};

ParameterizedTestParameters(runtime, acquire)
{
	return cr_make_param_array(struct acq_row, acq_rows, sizeof(acq_rows) / sizeof(acq_rows[0]));
}

static int row_socket(enum sock_kind k)
{
	switch (k) {
	case SK_TCP6:
		return socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	case SK_UDP:
		return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	case SK_MPTCP:
		return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	case SK_UNIX:
		return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	case SK_RAW:
		return socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	default:
		return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
}

/*
 * The row's acquire, in a child (uid 65534 unless root), after its pre-acquire. On success
 * the child also checks the block: a socket associated with the token binds port 0 inside
 * it, a socket without the token is refused a port of it. Exit: the errno, or 100+ for a
 * failed check.
 */
static int acq_child(const struct acq_row *row)
{
	struct portrsv_runtime pre, rt = { 0 };
	int fd, pre_fd = -1, b, err;

	if (row->outside) {
		char procs[PATH_MAX + 16], pid[32];
		int cfd;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", kt.orig_cgroup);
		snprintf(pid, sizeof(pid), "%d\n", getpid());
		cfd = open(procs, O_WRONLY | O_CLOEXEC);
		if (cfd < 0 || write(cfd, pid, strlen(pid)) < 0)
			return 101;
		close(cfd);
	}
	if (row->pre_count) {
		pre_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (pre_fd < 0)
			return 102;
	}
	/* Sockets first (a raw socket needs root), then the uid the row asks for. */
	fd = row_socket(row->sock);
	if (fd < 0)
		return 103;
	if (!row->root && (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
			   setresuid(65534, 65534, 65534)))
		return 104;
	if (row->pre_count && portrsv_acquire(pre_fd, row->pre_start, row->pre_count, &pre))
		return 105;
	err = portrsv_acquire(fd, row->start, row->count, &rt);
	if (err) /* the detail names the cause: 120 when it does not */
		return strstr(portrsv_errmsg(), row->msg) ? -err : 120;
	if (rt.start != row->got || rt.count != row->count || rt.token == PORTRSV_TOKEN_INVALID)
		return 106;
	if (row->sock == SK_UNIX || row->sock == SK_RAW)
		return 107;
	/* A second socket of the acquiring process binds port 0: a port of the block. */
	b = row_socket(row->sock);
	if (b < 0 || portrsv_associate(b, rt.token))
		return 108;
	if (kt_bind(b, row->sock == SK_TCP6 ? KT_V6 : KT_V4, 0) || !block_has(&rt, kt_port(b)))
		return 109;
	close(b);
	/* Without the token: refused. */
	b = row_socket(row->sock);
	if (b < 0 || kt_bind(b, row->sock == SK_TCP6 ? KT_V6 : KT_V4, rt.start) != -EACCES)
		return 110;
	close(b);
	return 0;
}

ParameterizedTest(struct acq_row *row, runtime, acquire, .init = kt_setup, .fini = kt_teardown)
{
	enum portrsv_proto pool_proto = row->udp_pool ? PORTRSV_UDP : PORTRSV_TCP;
	int status;
	pid_t pid;

	if (row->pool)
		make_pool(pool_proto, row->pool, row->pool_n, row->limit);
	if (row->plain)
		kt_reserve(PORTRSV_TCP, 8100, 10);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(acq_child(row));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "%s: child died", row->name);
	cr_assert_eq(WEXITSTATUS(status), row->err, "%s: exit %d (%s), want %d (%s)", row->name,
		     WEXITSTATUS(status), WEXITSTATUS(status) < 100 ? strerror(WEXITSTATUS(status))
		     : WEXITSTATUS(status) == 120 ? "errmsg lacks the row's msg" : "a check failed",
		     row->err, strerror(row->err));
	/* The child's sockets are closed: whatever it acquired is back in the pool. */
	assert_no_runtime();
}

/* ---- association, release, lifetime ---- */

/* A child process associating with a token it did not acquire: its errno. */
static int other_process_associates(uint64_t token)
{
	int status;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		_exit(fd < 0 ? 100 : -portrsv_associate(fd, token));
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

KT_TEST(runtime, association_only_from_the_acquiring_process)
{
	struct portrsv_runtime rt;
	int s = tcp_socket(), a = tcp_socket(), b = tcp_socket();

	make_pool(PORTRSV_TCP, POOL, POOL_N, 50);
	cr_assert_eq(portrsv_acquire(s, 7040, 10, &rt), 0);
	cr_assert_eq(other_process_associates(rt.token), EACCES);
	cr_assert_eq(other_process_associates(rt.token ^ 1), ENOENT);
	/* The acquiring process: a port of the block, not one of the pool outside it. */
	cr_assert_eq(portrsv_associate(a, rt.token), 0);
	cr_assert_eq(kt_bind(a, KT_V4, 7039), -EACCES);
	cr_assert_eq(kt_bind(a, KT_V4, 7050), -EACCES);
	cr_assert_eq(kt_bind(a, KT_V4, 7045), 0);
	/* The acquiring socket itself binds once associated. */
	cr_assert_eq(kt_bind(b, KT_V4, 7041), -EACCES);
	cr_assert_eq(portrsv_associate(s, rt.token), 0);
	cr_assert_eq(kt_bind(s, KT_V4, 7041), 0);
	close(a);
	close(b);
	close(s);
	assert_no_runtime();
}

KT_TEST(runtime, bind0_allocates_from_the_block)
{
	struct portrsv_runtime rt;
	int s = tcp_socket(), fds[4];
	bool seen[4] = { false };

	make_pool(PORTRSV_TCP, POOL, POOL_N, 50);
	cr_assert_eq(portrsv_acquire(s, 0, 4, &rt), 0);
	for (int i = 0; i < 4; i++) {
		fds[i] = tcp_socket();
		cr_assert_eq(portrsv_associate(fds[i], rt.token), 0);
		cr_assert_eq(kt_bind(fds[i], KT_V4, 0), 0, "bind(0) #%d", i);
		cr_assert(block_has(&rt, kt_port(fds[i])), "port %u", kt_port(fds[i]));
		cr_assert(!seen[kt_port(fds[i]) - rt.start], "port %u twice", kt_port(fds[i]));
		seen[kt_port(fds[i]) - rt.start] = true;
	}
	int extra = tcp_socket();

	cr_assert_eq(portrsv_associate(extra, rt.token), 0);
	cr_assert_eq(kt_bind(extra, KT_V4, 0), -EADDRINUSE, "the block is exhausted");
	close(extra);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	close(s);
}

KT_TEST(runtime, close_frees_the_block_bound_sockets_keep_their_ports)
{
	struct portrsv_runtime rt, again;
	int s = tcp_socket(), bound = tcp_socket(), s2 = tcp_socket(), other = tcp_socket();

	make_pool(PORTRSV_TCP, POOL, 10, 10);
	cr_assert_eq(portrsv_acquire(s, POOL, 10, &rt), 0);
	cr_assert_eq(portrsv_associate(bound, rt.token), 0);
	cr_assert_eq(kt_bind(bound, KT_V4, 7003), 0);
	cr_assert_eq(listen(bound, 1), 0);
	close(s); /* the reservation ends */
	cr_assert_eq(map_entries(PORTRSV_PIN_RUNTIME, NULL), 0);
	cr_assert_eq(kt_port(bound), 7003, "the bound socket keeps its port");
	/* Its token is gone: no new association. */
	cr_assert_eq(portrsv_associate(other, rt.token), -ENOENT);
	/* The port still bound is taken; the rest of the pool is free again. */
	cr_assert_eq(portrsv_acquire(s2, 7003, 1, &again), -EADDRINUSE);
	cr_assert_eq(portrsv_acquire(s2, 7004, 6, &again), 0);
	cr_assert_eq(again.start, 7004);
	cr_assert_eq(kt_bind(other, KT_V4, 7000), -EACCES, "a freed pool port is not anyone's");
	close(bound);
	cr_assert_eq(portrsv_acquire(s2, 7003, 1, &again), 0, "free once its socket closed");
	close(s2);
	close(other);
	assert_no_runtime();
}

struct rel_row {
	char name[32];
	int how; /* 0 the acquiring socket, 1 another socket, 2 unknown token, 3 token 0, 4 twice */
	int err;
};

static struct rel_row rel_rows[] = {
	{ "acquiring_socket", 0, 0 },
	{ "another_socket", 1, EPERM },
	{ "unknown_token", 2, ENOENT },
	{ "token_0", 3, EINVAL },
	{ "released_twice", 4, ENOENT },
};

ParameterizedTestParameters(runtime, release)
{
	return cr_make_param_array(struct rel_row, rel_rows, sizeof(rel_rows) / sizeof(rel_rows[0]));
}

ParameterizedTest(struct rel_row *row, runtime, release, .init = kt_setup, .fini = kt_teardown)
{
	struct portrsv_runtime rt, again;
	int s = tcp_socket(), o = tcp_socket(), err;

	make_pool(PORTRSV_TCP, POOL, 10, 0); /* root only, no limit: "taken" is EADDRINUSE */
	cr_assert_eq(portrsv_acquire(s, POOL, 10, &rt), 0);
	switch (row->how) {
	case 1:
		err = portrsv_release(o, rt.token);
		break;
	case 2:
		err = portrsv_release(s, rt.token + 1);
		break;
	case 3:
		err = portrsv_release(s, 0);
		break;
	case 4:
		cr_assert_eq(portrsv_release(s, rt.token), 0);
		err = portrsv_release(s, rt.token);
		break;
	default:
		err = portrsv_release(s, rt.token);
	}
	cr_assert_eq(err, -row->err, "%s: %d (%s)", row->name, err, strerror(-err));
	/* Released: the block is free for another socket; refused: it is still taken. */
	err = portrsv_acquire(o, POOL, 10, &again);
	cr_assert_eq(err, row->err && row->how != 4 ? -EADDRINUSE : 0, "%s: acquire again %d",
		     row->name, err);
	close(s);
	close(o);
	assert_no_runtime();
}

KT_TEST(runtime, one_socket_holds_at_most_four)
{
	struct portrsv_runtime rt[PORTRSV_RT_PER_SOCKET + 1];
	int s = tcp_socket();

	make_pool(PORTRSV_TCP, POOL, POOL_N, POOL_N);
	for (int i = 0; i < PORTRSV_RT_PER_SOCKET; i++)
		cr_assert_eq(portrsv_acquire(s, 0, 2, &rt[i]), 0, "acquire #%d", i);
	cr_assert_eq(portrsv_acquire(s, 0, 2, &rt[PORTRSV_RT_PER_SOCKET]), -ENOSPC);
	/* Releasing one makes room again; getsockopt reports the last one. */
	cr_assert_eq(portrsv_release(s, rt[1].token), 0);
	cr_assert_eq(portrsv_acquire(s, 0, 2, &rt[PORTRSV_RT_PER_SOCKET]), 0);
	cr_assert_eq(rt[PORTRSV_RT_PER_SOCKET].start, rt[1].start, "first fit takes the gap");
	close(s);
	assert_no_runtime();
}

KT_TEST(runtime, other_socket_options_untouched)
{
	int s = tcp_socket(), type = 0, nodelay = 1;
	socklen_t len = sizeof(type);
	struct portrsv_acquire_req req;
	socklen_t rlen = sizeof(req);

	/* The getsockopt program leaves every other level as the kernel answered it. */
	cr_assert_eq(getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len), 0);
	cr_assert_eq(type, SOCK_STREAM);
	cr_assert_eq(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay)), 0);
	len = sizeof(nodelay);
	nodelay = 0;
	cr_assert_eq(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
	cr_assert_eq(nodelay, 1);
	cr_assert_eq(getsockopt(s, IPPROTO_TCP, 0x7fff, &type, &len), -1);
	cr_assert_eq(errno, ENOPROTOOPT);
	/* Nothing acquired: ENOENT; a short buffer or an unknown option: EINVAL. */
	cr_assert_eq(getsockopt(s, SOL_PORTRSV, PORTRSV_SO_ACQUIRED, &req, &rlen), -1);
	cr_assert_eq(errno, ENOENT);
	rlen = 4;
	cr_assert_eq(getsockopt(s, SOL_PORTRSV, PORTRSV_SO_ACQUIRED, &req, &rlen), -1);
	cr_assert_eq(errno, EINVAL);
	rlen = sizeof(req);
	cr_assert_eq(getsockopt(s, SOL_PORTRSV, 99, &req, &rlen), -1);
	cr_assert_eq(errno, EINVAL);
	close(s);
}

KT_TEST(runtime, limit_is_per_cgroup)
{
	char sub[PATH_MAX + 8];
	struct portrsv_runtime rt;
	int s = tcp_socket(), status;
	pid_t pid;

	make_pool(PORTRSV_TCP, POOL, POOL_N, 10);
	cr_assert_eq(portrsv_acquire(s, 0, 10, &rt), 0);
	cr_assert_eq(portrsv_acquire(tcp_socket(), 0, 1, &rt), -EDQUOT);
	/* A child cgroup (enforced through its parent) has a limit of its own. */
	snprintf(sub, sizeof(sub), "%s/sub", kt.cgroup);
	cr_assert(mkdir(sub, 0755) == 0 || errno == EEXIST);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct portrsv_runtime r2;
		char procs[PATH_MAX + 32], me[32];
		int fd = open(strcat(strcpy(procs, sub), "/cgroup.procs"), O_WRONLY | O_CLOEXEC);

		snprintf(me, sizeof(me), "%d\n", getpid());
		if (fd < 0 || write(fd, me, strlen(me)) < 0)
			_exit(100);
		close(fd);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (setresuid(65534, 65534, 65534))
			_exit(101);
		if (portrsv_acquire(fd, 0, 10, &r2))
			_exit(102);
		_exit(-portrsv_acquire(socket(AF_INET, SOCK_STREAM, 0), 0, 1, &r2));
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), EDQUOT, "child cgroup: exit %d", WEXITSTATUS(status));
	rmdir(sub);
}

KT_TEST(runtime, kill9_leaves_nothing)
{
	int pipefd[2], status;
	char c;
	pid_t pid;

	make_pool(PORTRSV_TCP, POOL, POOL_N, POOL_N);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct portrsv_runtime rt;
		int fds[3];

		for (int i = 0; i < 3; i++) {
			fds[i] = socket(AF_INET, SOCK_STREAM, 0);
			if (portrsv_acquire(fds[i], 0, 7, &rt) || portrsv_associate(fds[i], rt.token) ||
			    kt_bind(fds[i], KT_V4, 0))
				_exit(1);
		}
		if (write(pipefd[1], "x", 1) != 1)
			_exit(2);
		pause();
		_exit(3);
	}
	close(pipefd[1]);
	cr_assert_eq(read(pipefd[0], &c, 1), 1, "child did not acquire");
	cr_assert_eq(map_entries(PORTRSV_PIN_RUNTIME, NULL), 3);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
	close(pipefd[0]);
	assert_no_runtime();
	/* The whole pool can be had again. */
	struct portrsv_runtime all;
	int s = tcp_socket();

	cr_assert_eq(portrsv_acquire(s, POOL, POOL_N, &all), 0);
	close(s);
}

KT_TEST(runtime, unload_ends_them)
{
	struct portrsv_runtime rt;
	int s = tcp_socket(), b = tcp_socket();
	const char *cg[1] = { kt.cgroup };

	make_pool(PORTRSV_TCP, POOL, 10, 10);
	cr_assert_eq(portrsv_acquire(s, POOL, 10, &rt), 0);
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
	PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = cg, .n_cgroups = 1);
	cr_assert_eq(portrsv_load(&o), 0);
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);
	/* The pool is back from the store; the runtime reservation is not, nor its token. */
	cr_assert_eq(map_entries(PORTRSV_PIN_RUNTIME, NULL), 0);
	cr_assert_eq(portrsv_associate(b, rt.token), -ENOENT);
	cr_assert_eq(kt_bind(b, KT_V4, POOL), -EACCES, "the pool is enforced again");
	close(s);
	close(b);
}

/* ---- concurrency ---- */

#define RACERS 8
#define RACE_POOL_N 12 /* 8 racers of up to 4 ports: they must collide */
#define RACE_ROUNDS 300

/* What each racer holds now: set after its acquire returned, cleared before its close. */
struct race_board {
	volatile uint32_t live[RACERS]; /* start << 16 | count, 0 = none */
	volatile uint32_t bad;          /* first failure: racer << 24 | round << 8 | code */
	volatile uint32_t acquired, refused;
};

static int racer(struct race_board *b, int me, int rounds)
{
	unsigned seed = (unsigned)getpid();

	for (int round = 0; round < rounds && !b->bad; round++) {
		uint16_t count = 1 + rand_r(&seed) % 4;
		struct portrsv_runtime rt;
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a, err;

		err = portrsv_acquire(s, 0, count, &rt);
		if (err == -EADDRINUSE || err == -EDQUOT) {
			__sync_fetch_and_add(&b->refused, 1);
			close(s);
			continue;
		}
		if (err) {
			b->bad = me << 24 | round << 8 | 1;
			return 1;
		}
		b->live[me] = (uint32_t)rt.start << 16 | rt.count;
		__sync_synchronize();
		for (int o = 0; o < RACERS; o++) {
			uint32_t l = b->live[o];

			if (o != me && l && portrsv_blocks_overlap(l >> 16, l & 0xffff, rt.start,
								   rt.count)) {
				b->bad = me << 24 | round << 8 | 2;
				return 1;
			}
		}
		/* A port of the block is nobody else's: bind(0) gets one. */
		a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (portrsv_associate(a, rt.token) || kt_bind(a, KT_V4, 0) ||
		    !block_has(&rt, kt_port(a))) {
			b->bad = me << 24 | round << 8 | 3;
			return 1;
		}
		close(a);
		/* Hold the block while the others run (on one CPU too): the pool fills. */
		sched_yield();
		__sync_fetch_and_add(&b->acquired, 1);
		b->live[me] = 0;
		__sync_synchronize();
		if (round % 2)
			close(s);
		else if (portrsv_release(s, rt.token) || close(s)) {
			b->bad = me << 24 | round << 8 | 4;
			return 1;
		}
	}
	return 0;
}

static void run_racers(struct race_board *b, int rounds, void (*during)(void))
{
	pid_t pids[RACERS];
	int status;

	for (int i = 0; i < RACERS; i++) {
		pids[i] = fork();
		cr_assert(pids[i] >= 0);
		if (pids[i] == 0) {
			if (setresuid(65534, 65534, 65534))
				_exit(100);
			_exit(racer(b, i, rounds));
		}
	}
	if (during)
		during();
	for (int i = 0; i < RACERS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "racer %d: status %#x, bad %#x (racer, round, code: 1 acquire failed, "
			  "2 overlapping blocks, 3 bind(0) outside or failed, 4 release)", i, status,
			  b->bad);
	}
	cr_assert_eq(b->bad, 0);
}

KT_TEST(runtime, concurrent_acquirers_never_overlap)
{
	struct race_board *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert(b != MAP_FAILED);
	make_pool(PORTRSV_TCP, POOL, RACE_POOL_N, RACE_POOL_N);
	run_racers(b, RACE_ROUNDS, NULL);
	/* Contention was real: some acquires found the small pool full. */
	cr_assert_gt(b->acquired, RACERS * RACE_ROUNDS / 4, "acquired %u", b->acquired);
	cr_assert_gt(b->refused, 0, "no acquire was ever refused: the racers never collided");
	assert_no_runtime();
	munmap(b, sizeof(*b));
}

/* Upgrade the loaded programs three times while the racers hammer. */
static void upgrade_thrice(void)
{
	const char *cg[1] = { kt.cgroup };

	for (int i = 0; i < 3; i++) {
		PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = cg, .n_cgroups = 1);
		cr_assert_eq(portrsv_load(&o), 0, "upgrade #%d", i);
	}
}

KT_TEST(runtime, load_upgrade_during_a_hammer)
{
	struct race_board *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct portrsv_runtime held, again;
	int s = tcp_socket(), a = tcp_socket(), o = tcp_socket();

	cr_assert(b != MAP_FAILED);
	make_pool(PORTRSV_TCP, POOL, RACE_POOL_N + 8, RACE_POOL_N + 8);
	cr_assert_eq(portrsv_acquire(s, 7000 + RACE_POOL_N, 8, &held), 0);
	run_racers(b, RACE_ROUNDS / 3, upgrade_thrice);
	/* What was acquired before is unchanged: its block, token and process. */
	cr_assert_eq(map_entries(PORTRSV_PIN_RUNTIME, NULL), 1);
	cr_assert_eq(portrsv_acquire(o, 7000 + RACE_POOL_N, 1, &again), -EADDRINUSE);
	cr_assert_eq(portrsv_associate(a, held.token), 0);
	cr_assert_eq(kt_bind(a, KT_V4, 0), 0);
	cr_assert(block_has(&held, kt_port(a)));
	close(a);
	close(s);
	close(o);
	assert_no_runtime();
	munmap(b, sizeof(*b));
}

/* ---- wildcard over several pools, and the pools index ---- */

struct wild_step {
	uint16_t count;
	int err;
	uint16_t got;
};

KT_TEST(runtime, wildcard_takes_the_next_pool)
{
	/* Pools 7000+4 (limit 4) and 7100+8 (limit 8), pools in creation order, first fit. */
	static const struct wild_step steps[] = {
		{ 3, 0, 7000 },      /* first pool */
		{ 2, 0, 7100 },      /* first pool: 3 + 2 > its limit; the second */
		{ 6, 0, 7102 },      /* second pool, after the 2 */
		{ 1, 0, 7003 },      /* the first pool's last port */
		{ 1, EDQUOT, 0 },    /* both limits reached */
	};
	int fds[5];

	make_pool(PORTRSV_TCP, 7000, 4, 4);
	make_pool(PORTRSV_TCP, 7100, 8, 8);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct portrsv_runtime rt;
		int err;

		fds[i] = tcp_socket();
		err = portrsv_acquire(fds[i], 0, steps[i].count, &rt);
		cr_assert_eq(err, -steps[i].err, "step %zu: %d", i, err);
		if (!err)
			cr_assert_eq(rt.start, steps[i].got, "step %zu: %u", i, rt.start);
	}
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close(fds[i]);
	assert_no_runtime();
}

KT_TEST(runtime, wildcard_no_block_in_any_pool)
{
	struct portrsv_runtime a, b, c;
	int s1 = tcp_socket(), s2 = tcp_socket(), s3 = tcp_socket();

	/* Root, no limits: every pool is searched, none has 3 free ports in a row. */
	make_pool(PORTRSV_TCP, 7000, 4, 0);
	make_pool(PORTRSV_TCP, 7100, 4, 0);
	cr_assert_eq(portrsv_acquire(s1, 7001, 2, &a), 0);
	cr_assert_eq(portrsv_acquire(s2, 7101, 2, &b), 0);
	cr_assert_eq(portrsv_acquire(s3, 0, 3, &c), -EADDRINUSE);
	cr_assert_eq(portrsv_acquire(s3, 0, 1, &c), 0);
	cr_assert_eq(c.start, 7000);
	close(s1);
	close(s2);
	close(s3);
	assert_no_runtime();
}

KT_TEST(runtime, pools_per_netns_and_protocol)
{
	uint64_t token;
	int err;

	for (int i = 0; i < PORTRSV_MAX_POOLS_SCAN; i++)
		make_pool(PORTRSV_TCP, 20000 + i * 10, 10, 0);
	PORTRSV_OPTS(portrsv_create_opts, o, .pool = true);
	err = portrsv_create(kt.p, PORTRSV_TCP, 21000, 10, &o, &token);
	cr_assert_eq(err, -ENOSPC, "pool #%d: %d", PORTRSV_MAX_POOLS_SCAN + 1, err);
	cr_assert(strstr(portrsv_errmsg(), "pools"), "message: %s", portrsv_errmsg());
	/* The refused pool left nothing: its ports are free, UDP has its own pools. */
	cr_assert_eq(kt_bind(tcp_socket(), KT_V4, 21000), 0);
	make_pool(PORTRSV_UDP, 21000, 10, 0);
	/* Deleting one makes room. */
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, 20000, 10, NULL), 0);
	make_pool(PORTRSV_TCP, 22000, 10, 0);
}

KT_TEST(runtime, restore_rebuilds_the_pools_index)
{
	struct portrsv_key k = { 0 };
	struct portrsv_runtime rt;
	char path[PATH_MAX];
	int fd, s = tcp_socket();

	make_pool(PORTRSV_TCP, POOL, 10, 10);
	/* Lose the index entry (as a crash between two writes could): wildcard finds no pool. */
	snprintf(path, sizeof(path), "%s/" PORTRSV_PIN_POOLS, kt.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert(fd >= 0);
	cr_assert_eq(bpf_map_get_next_key(fd, NULL, &k), 0);
	cr_assert_eq(bpf_map_delete_elem(fd, &k), 0);
	close(fd);
	cr_assert_eq(portrsv_acquire(s, 0, 1, &rt), -ENOENT);
	cr_assert_eq(portrsv_acquire(s, POOL, 1, &rt), 0, "a specific block needs no index");
	cr_assert_eq(portrsv_release(s, rt.token), 0);
	PORTRSV_OPTS(portrsv_restore_opts, ro);
	cr_assert_eq(portrsv_restore(&ro), 0);
	cr_assert_eq(portrsv_acquire(s, 0, 1, &rt), 0);
	cr_assert_eq(rt.start, POOL);
	close(s);
}

/* Detached, a cgroup's sockets would close unseen: detach ends their runtime reservations. */
KT_TEST(runtime, detach_ends_those_of_its_sockets)
{
	char other[PATH_MAX + 8], procs[PATH_MAX + 32], me[32];
	struct portrsv_runtime kept, again;
	int pipefd[2], status, s = tcp_socket(), s2 = tcp_socket();
	pid_t pid;
	char c;

	make_pool(PORTRSV_TCP, POOL, 20, 0);
	cr_assert_eq(portrsv_acquire(s, POOL, 10, &kept), 0);
	snprintf(other, sizeof(other), "%s-b", kt.cgroup);
	cr_assert(mkdir(other, 0755) == 0 || errno == EEXIST);
	cr_assert_eq(portrsv_attach(kt.pin_dir, other), 0);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct portrsv_runtime rt;
		int fd;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", other);
		snprintf(me, sizeof(me), "%d\n", getpid());
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, me, strlen(me)) < 0)
			_exit(1);
		close(fd);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (portrsv_acquire(fd, POOL + 10, 10, &rt) || write(pipefd[1], "x", 1) != 1)
			_exit(2);
		pause();
		_exit(3);
	}
	close(pipefd[1]);
	cr_assert_eq(read(pipefd[0], &c, 1), 1, "child did not acquire");
	close(pipefd[0]);
	cr_assert_eq(map_entries(PORTRSV_PIN_RUNTIME, NULL), 2);
	cr_assert_eq(portrsv_detach(kt.pin_dir, other), 0);
	/* The child's is gone (its socket is still open), ours is kept. */
	cr_assert_eq(map_entries(PORTRSV_PIN_RUNTIME, NULL), 1);
	cr_assert_eq(portrsv_acquire(s2, POOL + 10, 10, &again), 0);
	cr_assert_eq(portrsv_acquire(s2, POOL, 1, &again), -EADDRINUSE);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	rmdir(other);
	close(s);
	close(s2);
	assert_no_runtime();
}
