/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared helpers of the kernel tests. Each test gets, in its own Criterion process:
 *   - its own cgroup under the cgroup v2 mount, with portrsv loaded and attached there only
 *     (never the root cgroup);
 *   - its own pin directory (PORTRSV_PIN_DIR) and state directory (PORTRSV_STATE_DIR);
 *   - its own network namespace with lo up, so every socket stays inside it.
 * kt_setup() puts the test process in both; kt_teardown() undoes everything, and
 * scripts/test-cleanup.sh removes what a crashed test left behind.
 *
 * Without root a kernel test skips; under CI=true it fails instead, since CI has root and a
 * skipped kernel test would prove nothing.
 */
#ifndef PORTRSV_TESTLIB_H
#define PORTRSV_TESTLIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "internal.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP PORTRSV_IPPROTO_MPTCP
#endif

#define KT_PREFIX "portrsv-test-"

struct kt_env {
	char cgroup[PATH_MAX];     /* this test's cgroup */
	char orig_cgroup[PATH_MAX];/* where the process was, to go back before rmdir */
	char pin_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	struct portrsv *p;         /* open on pin_dir, after kt_setup */
};

extern struct kt_env kt;

static inline void kt_require_root(void)
{
	const char *ci = getenv("CI");

	if (geteuid() == 0)
		return;
	if (ci && !strcmp(ci, "true"))
		cr_assert_fail("kernel test needs root, and CI=true: a skip would hide a failure");
	cr_skip_test("kernel test needs root");
}

/*
 * A test that needs a kernel feature newer than 6.1 skips on a kernel that lacks it, naming
 * the feature: the one skip CI accepts, since no test could pass there.
 */
static inline void kt_need(enum portrsv_feat f)
{
	const struct portrsv_feature *ft = &portrsv_features[f];

	if (!portrsv_feature_present(f))
		cr_skip_test("this kernel lacks %s (Linux %s): %s", ft->name, ft->since, ft->lack);
}

static inline void kt_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s: %s", path,
		  strerror(errno));
	close(fd);
}

/*
 * Write a file from a child outside the enforced cgroup (in the cgroup the test started in),
 * where portrsv's programs do not run: e.g. ip_local_reserved_ports without the sysctl guard.
 */
static inline void kt_write_outside(const char *path, const char *text)
{
	char procs[PATH_MAX + 16], pid[32];
	int status, fd;
	pid_t child = fork();

	cr_assert(child >= 0);
	if (child == 0) {
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", kt.orig_cgroup);
		snprintf(pid, sizeof(pid), "%d\n", getpid());
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
			_exit(1);
		close(fd);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		_exit(fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ? 2 : 0);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "write %s from outside: exit %d",
		  path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Move the calling process into cgroup dir. */
static inline void kt_join_cgroup(const char *dir)
{
	char path[PATH_MAX + 16], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	kt_write(path, pid);
}

/* A private netns with lo up, for the calling process. */
static inline void kt_private_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	cr_assert(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	strcpy(ifr.ifr_name, "lo");
	cr_assert(ioctl(fd, SIOCGIFFLAGS, &ifr) == 0);
	ifr.ifr_flags |= IFF_UP;
	cr_assert(ioctl(fd, SIOCSIFFLAGS, &ifr) == 0, "lo up: %s", strerror(errno));
	close(fd);
}

/* The cgroup v2 path of the calling process, from /proc/self/cgroup ("0::/path"). */
static inline void kt_current_cgroup(char *buf, size_t len)
{
	char mnt[PATH_MAX], line[PATH_MAX];
	FILE *f = fopen("/proc/self/cgroup", "re");

	cr_assert(f && portrsv_cgroup2_mount(mnt, sizeof(mnt)) == 0);
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "%s%s", mnt, strcmp(line + 3, "/") ? line + 3 : "");
	}
	fclose(f);
	cr_assert(buf[0], "no cgroup v2 line in /proc/self/cgroup");
}

/*
 * Make the test's cgroup, pin and state directories; load portrsv attached to the cgroup
 * (load = false leaves that to the test); put the process in the cgroup and a fresh netns.
 */
static inline int kt_remove_entry(const char *path, const struct stat *st, int type,
				  struct FTW *ftw)
{
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path); /* a cgroup's control files refuse: they go with their directory */
	return 0;         /* on with the walk whatever failed */
}

/*
 * What a dead process with this test's pid left (a crashed run, or one killed before its
 * teardown): this process is alive, so whatever bears its pid is stale. Cleared before the
 * test, so that it starts from nothing, not from someone else's cgroups, pins or store.
 */
static inline void kt_clear_stale(const char *path)
{
	if (access(path, F_OK) == 0)
		nftw(path, kt_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void kt_setup_opts(bool load)
{
	char mnt[PATH_MAX];
	const char *cg[1];

	kt_require_root();
	memset(&kt, 0, sizeof(kt));
	cr_assert(portrsv_cgroup2_mount(mnt, sizeof(mnt)) == 0, "no cgroup v2 mount");
	snprintf(kt.cgroup, sizeof(kt.cgroup), "%s/" KT_PREFIX "%d", mnt, getpid());
	snprintf(kt.pin_dir, sizeof(kt.pin_dir), "/sys/fs/bpf/" KT_PREFIX "%d", getpid());
	snprintf(kt.state_dir, sizeof(kt.state_dir), "/tmp/" KT_PREFIX "%d", getpid());
	kt_clear_stale(kt.cgroup);
	kt_clear_stale(kt.pin_dir);
	kt_clear_stale(kt.state_dir);
	cr_assert(mkdir(kt.cgroup, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", kt.cgroup,
		  strerror(errno));
	cr_assert(mkdir(kt.state_dir, 0700) == 0 || errno == EEXIST);
	setenv("PORTRSV_PIN_DIR", kt.pin_dir, 1);
	setenv("PORTRSV_STATE_DIR", kt.state_dir, 1);
	kt_current_cgroup(kt.orig_cgroup, sizeof(kt.orig_cgroup));
	if (load) {
		cg[0] = kt.cgroup;
		PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = cg, .n_cgroups = 1);
		int err = portrsv_load(&o);

		cr_assert(err == 0, "portrsv_load: %s", strerror(-err));
		kt.p = portrsv_open(NULL);
		cr_assert(kt.p, "portrsv_open: %s", strerror(errno));
	}
	kt_join_cgroup(kt.cgroup);
	kt_private_netns();
}

static inline void kt_setup(void)
{
	kt_setup_opts(true);
}

static inline void kt_teardown(void)
{
	char cmd[3 * PATH_MAX];

	if (!kt.cgroup[0])
		return;
	portrsv_close(kt.p);
	kt.p = NULL;
	if (kt.orig_cgroup[0])
		kt_join_cgroup(kt.orig_cgroup);
	portrsv_unload(kt.pin_dir);
	rmdir(kt.cgroup);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kt.state_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "teardown: could not remove %s\n", kt.state_dir);
}

/* The family and address of one bind of the matrix. */
enum kt_fam { KT_V4, KT_V6, KT_V4MAPPED, KT_DUAL };

static inline const char *kt_fam_name(enum kt_fam f)
{
	static const char *const n[] = { "ipv4", "ipv6", "v4-mapped", "dual-stack" };

	return n[f];
}

/* A socket of the family and port space: proto 6 TCP, 262 MPTCP, 17 UDP. */
static inline int kt_socket(enum kt_fam f, int proto)
{
	int fd = socket(f == KT_V4 ? AF_INET : AF_INET6,
			(proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, proto);

	cr_assert(fd >= 0, "socket(%s, %d): %s", kt_fam_name(f), proto, strerror(errno));
	if (f == KT_DUAL || f == KT_V4MAPPED) {
		int off = 0;

		cr_assert(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0);
	}
	return fd;
}

/* bind() to port: 0 or -errno. IPv4 and v4-mapped use 127.0.0.1, IPv6 ::1, dual-stack ::. */
static inline int kt_bind(int fd, enum kt_fam f, uint16_t port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };

	if (f == KT_V4) {
		a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return bind(fd, (struct sockaddr *)&a4, sizeof(a4)) ? -errno : 0;
	}
	if (f == KT_V6)
		a6.sin6_addr = in6addr_loopback;
	else if (f == KT_V4MAPPED)
		inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr);
	return bind(fd, (struct sockaddr *)&a6, sizeof(a6)) ? -errno : 0;
}

/* The local port of a socket. */
static inline uint16_t kt_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	cr_assert(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Create a persistent reservation in the test's netns; returns its token. */
static inline uint64_t kt_reserve(enum portrsv_proto proto, uint16_t start, uint16_t count)
{
	uint64_t token = 0;
	int err = portrsv_create(kt.p, proto, start, count, NULL, &token);

	cr_assert(err == 0, "create %s %u+%u: %s", portrsv_proto_name(proto), start, count,
		  strerror(-err));
	cr_assert(token != PORTRSV_TOKEN_INVALID);
	return token;
}

/* Run fn in a child that dropped every privilege (uid/gid nobody); its exit status. */
static inline int kt_unprivileged(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(125);
		_exit(fn(arg));
	}
	cr_assert(waitpid(pid, &status, 0) == pid);
	cr_assert(WIFEXITED(status), "unprivileged child died");
	return WEXITSTATUS(status);
}

#define KT_TEST(suite, name) \
	Test(suite, name, .init = kt_setup, .fini = kt_teardown)

#endif /* PORTRSV_TESTLIB_H */
