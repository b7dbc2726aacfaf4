// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's port choice, guarded in the kernel (SPEC rule 12): the cgroup/sysctl program
 * keeps portrsv's ports in every write of ip_local_reserved_ports from an enforced cgroup,
 * so that autobind (listen() without bind, connect(), sendto(), TCP Fast Open, MPTCP) never
 * lands in a reservation, whoever rewrote the sysctl: the host's administrator
 * (sysctl --system), root of an unprivileged user namespace, another portrsv instance.
 */
#include "testlib.h"
#include "clirun.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <bpf/bpf.h>

struct kt_env kt;

#define RESERVED "/proc/sys/net/ipv4/ip_local_reserved_ports"
#define PORT_RANGE "/proc/sys/net/ipv4/ip_local_port_range"
#define NPORTS (PORTRSV_PORT_MAX + 1)
#define START 40000
#define COUNT 10
#define AUTOBINDS 1000

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

/* ip_local_reserved_ports of the calling thread's netns, without the newline. */
static void reserved_text(char *buf, size_t len)
{
	int fd = open(RESERVED, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	cr_assert(fd >= 0, "%s: %s", RESERVED, strerror(errno));
	n = read(fd, buf, len - 1);
	close(fd);
	cr_assert(n >= 0, "read %s: %s", RESERVED, strerror(errno));
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* One write(2) (pwrite at off > 0) of len bytes: 0 or -errno. */
static int write_raw(const char *path, const char *data, size_t len, off_t off)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = off ? pwrite(fd, data, len, off) : write(fd, data, len);
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Tests of appending skip where the kernel drops a program's new value (abi.h, NO_REWRITE). */
static void need_rewrite(void)
{
	if (!portrsv_sysctl_rewrites(kt.p))
		cr_skip_test("this kernel lacks sysctl_new_value (Linux 6.18; 6.1 and 6.12 stable "
			     "fixes of 2026): a cgroup/sysctl program's new value is dropped, so the "
			     "guard refuses writes instead of appending portrsv's ports");
}

/* ---- What a write leaves in the sysctl ------------------------------------------------- */

struct write_row {
	char name[48];
	char data[64];   /* what the writer writes ... */
	size_t len;      /* ... this many bytes of it (0: strlen) */
	size_t fill;     /* > 0: instead, a list "1,3,5,..." of about this many bytes */
	off_t off;       /* the file offset of the write */
	int err;         /* expected result of the write */
	char want[64];   /* ip_local_reserved_ports afterwards */
};

/* Before each row: the administrator's 9000, then tcp 40000+10 and udp 40005+10. */
#define BEFORE "9000,40000-40014"

ParameterizedTestParameters(sysctl, writes)
{
	static struct write_row rows[] = {
		{ "sysctl -w style", "80,443\n", 0, 0, 0, 0, "80,443,40000-40014" },
		{ "cleared", "\n", 0, 0, 0, 0, "40000-40014" },
		{ "no newline", "81", 0, 0, 0, 0, "81,40000-40014" },
		{ "trailing blanks", "82 \t\n\n", 0, 0, 0, 0, "82,40000-40014" },
		{ "one NUL", "", 1, 0, 0, 0, "40000-40014" },
		{ "a NUL after a port", "83\0" "40003", 8, 0, 0, 0, "83,40000-40014" },
		{ "a range around the block", "39990-40020\n", 0, 0, 0, 0, "39990-40020" },
		{ "already has them", "40000-40014\n", 0, 0, 0, 0, "40000-40014" },
		{ "part of the block", "40003-40004\n", 0, 0, 0, 0, "40000-40014" },
		{ "at an offset: ORed in", "84\n", 0, 0, 1, 0, "84,9000,40000-40014" },
		{ "not a port list", "abc\n", 0, 0, 0, -EINVAL, BEFORE },
		{ "port past 65535", "70000\n", 0, 0, 0, -EINVAL, BEFORE },
		{ "combined past a page", "", 0, 4093, 0, -EPERM, BEFORE },
		{ "fills a page", "", 0, 4096, 0, -EPERM, BEFORE },
		{ "longer than a page", "", 0, 6000, 0, -EPERM, BEFORE },
	};

	return cr_make_param_array(struct write_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct write_row *row, sysctl, writes, .init = kt_setup, .fini = kt_teardown)
{
	char text[8192], buf[8192];
	size_t len = row->len ? row->len : strlen(row->data);
	const char *data = row->data;
	int err;

	need_rewrite();
	cr_assert_eq(write_raw(RESERVED, "9000\n", 5, 0), 0);
	kt_reserve(PORTRSV_TCP, START, COUNT);
	kt_reserve(PORTRSV_UDP, START + 5, COUNT);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, BEFORE, "%s: before [%s]", row->name, text);
	if (row->fill) {
		size_t n = 0;

		for (unsigned p = 1; n + 6 < row->fill && n + 6 < 4093; p += 2)
			n += snprintf(buf + n, sizeof(buf) - n, "%s%u", n ? "," : "", p);
		while (n < row->fill - 1)
			buf[n++] = ' ';
		buf[n++] = '\n';
		data = buf;
		len = n;
	}
	err = write_raw(RESERVED, data, len, row->off);
	cr_assert_eq(err, row->err, "%s: write %d (%s), want %d", row->name, err,
		     strerror(-err), row->err);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, row->want, "%s: ip_local_reserved_ports [%s], want [%s]",
			 row->name, text, row->want);
}

/* A netns without a reservation: writes are the writer's own, also after a delete. */
Test(sysctl, no_reservation_left, .init = kt_setup, .fini = kt_teardown)
{
	char text[256];

	kt_reserve(PORTRSV_TCP, START, COUNT);
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, START, COUNT, NULL), 0);
	reserved_text(text, sizeof(text));
	cr_assert_str_empty(text, "after the delete [%s]", text);
	cr_assert_eq(write_raw(RESERVED, "85\n", 3, 0), 0);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "85", "written with no reservation [%s]", text);
	cr_assert_eq(write_raw(RESERVED, "\n", 1, 0), 0);
	reserved_text(text, sizeof(text));
	cr_assert_str_empty(text, "cleared with no reservation [%s]", text);
}

/*
 * The netns is the one whose table is written, not the writer's: an fd of the sysctl opened
 * in the reservation's netns and written from another netns (setns, or passed over a
 * socket) still gets portrsv's ports appended.
 */
Test(sysctl, written_from_another_netns, .init = kt_setup, .fini = kt_teardown)
{
	int fd, home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	char text[256];
	ssize_t n;

	need_rewrite();
	cr_assert(home >= 0);
	kt_reserve(PORTRSV_TCP, START, COUNT);
	fd = open(RESERVED, O_WRONLY | O_CLOEXEC);
	cr_assert(fd >= 0);
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	reserved_text(text, sizeof(text));
	cr_assert_str_empty(text, "the new netns [%s]", text);
	n = write(fd, "86\n", 3);
	cr_assert(n >= 3, "write through the fd: %s", strerror(errno));
	close(fd);
	cr_assert_eq(setns(home, CLONE_NEWNET), 0, "setns back: %s", strerror(errno));
	close(home);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "86,40000-40009", "the reservation's netns [%s]", text);
}

/* ---- Autobind after the sysctl was rewritten -------------------------------------------- */

enum kind { K_LISTEN, K_TCP_CONNECT, K_UDP_CONNECT, K_UDP_SENDTO, K_MPTCP_CONNECT, K_TFO,
	    K_BIND0 };

static const char *kind_name(enum kind k)
{
	static const char *const n[] = { "listen() without bind", "TCP connect()",
					 "UDP connect()", "UDP sendto()", "MPTCP connect()",
					 "TCP Fast Open sendto()", "bind(0)" };
	return n[k];
}

#define SERVER 39000 /* the listener and UDP peer: below every window */

/* Aim the kernel's choice at [lo, hi] on this socket too, where the kernel has the option. */
static void aim(int fd, uint16_t lo, uint16_t hi)
{
	uint32_t range = lo | (uint32_t)hi << 16;

	if (setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)))
		cr_assert(errno == ENOPROTOOPT, "IP_LOCAL_PORT_RANGE: %s", strerror(errno));
}

static void close_rst(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/*
 * One autobind of kind k: the port the kernel chose, or 0 when it found none (every port
 * of the window taken or reserved: EADDRINUSE, EADDRNOTAVAIL, EAGAIN).
 */
static uint16_t autobind(enum kind k, int listener, uint16_t lo, uint16_t hi)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(SERVER),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in any = { .sin_family = AF_INET };
	int udp = k == K_UDP_CONNECT || k == K_UDP_SENDTO;
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
			k == K_MPTCP_CONNECT ? IPPROTO_MPTCP : 0);
	uint16_t port = 0;
	int r = -1, c;

	cr_assert(fd >= 0, "%s: socket: %s", kind_name(k), strerror(errno));
	aim(fd, lo, hi);
	switch (k) {
	case K_LISTEN:
		r = listen(fd, 1);
		break;
	case K_TCP_CONNECT:
	case K_MPTCP_CONNECT:
	case K_UDP_CONNECT:
		r = connect(fd, (struct sockaddr *)&peer, sizeof(peer));
		break;
	case K_UDP_SENDTO:
		r = sendto(fd, "x", 1, 0, (struct sockaddr *)&peer, sizeof(peer)) == 1 ? 0 : -1;
		break;
	case K_TFO:
		r = sendto(fd, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&peer, sizeof(peer)) == 1
			    ? 0 : -1;
		break;
	case K_BIND0:
		r = bind(fd, (struct sockaddr *)&any, sizeof(any));
		break;
	}
	if (r == 0)
		port = kt_port(fd);
	else
		cr_assert(errno == EADDRINUSE || errno == EADDRNOTAVAIL || errno == EAGAIN,
			  "%s: %s", kind_name(k), strerror(errno));
	if (r == 0 && listener >= 0 && !udp && k != K_LISTEN && k != K_BIND0) {
		c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		cr_assert(c >= 0, "accept: %s", strerror(errno));
		close_rst(c);
	}
	close_rst(fd);
	return port;
}

struct auto_row {
	enum kind kind;
	bool exact;  /* the window is the block itself: no autobind may succeed */
};

ParameterizedTestParameters(sysctl, autobind_after_rewrite)
{
	static struct auto_row rows[2 * (K_BIND0 + 1)];
	size_t n = 0;

	for (int k = K_LISTEN; k <= K_BIND0; k++)
		for (int e = 0; e < 2; e++)
			rows[n++] = (struct auto_row){ .kind = k, .exact = e };
	return cr_make_param_array(struct auto_row, rows, n);
}

/*
 * The host case, in the test's own netns and cgroup: tcp and udp 40000+10 reserved, then a
 * process in the enforced cgroup writes the administrator's value (as sysctl --system
 * would). The value read back has both; then the kernel's choice is aimed straight at the
 * block (ip_local_port_range of the netns, and IP_LOCAL_PORT_RANGE where the kernel has it;
 * a write of ip_local_port_range cannot make a reserved port available: rule 12's second
 * sysctl), and no autobind of any kind lands inside. Around the block, the 4 free ports of
 * the window are taken; exactly on the block, every autobind fails.
 */
ParameterizedTest(struct auto_row *row, sysctl, autobind_after_rewrite, .init = kt_setup,
		  .fini = kt_teardown)
{
	uint16_t lo = row->exact ? START : START - 2, hi = row->exact ? START + COUNT - 1
								 : START + COUNT + 1;
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(SERVER),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char text[256], range[32];
	int listener, got = 0, one = 1;

	need_rewrite();
	kt_reserve(PORTRSV_TCP, START, COUNT);
	kt_reserve(PORTRSV_UDP, START, COUNT);
	cr_assert_eq(write_raw(RESERVED, "9000,9005-9010\n", 15, 0), 0);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "9000,9005-9010,40000-40009", "after the rewrite [%s]", text);
	snprintf(range, sizeof(range), "%u %u\n", lo, hi);
	cr_assert_eq(write_raw(PORT_RANGE, range, strlen(range), 0), 0, "%s", range);
	kt_write("/proc/sys/net/ipv4/tcp_fastopen", "1\n");

	if (row->kind == K_MPTCP_CONNECT) {
		int m = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);

		if (m < 0)
			cr_skip_test("this kernel has no MPTCP (%s)", strerror(errno));
		close(m);
	}
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(listener >= 0);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(listener, (struct sockaddr *)&srv, sizeof(srv)), 0, "%s",
		     strerror(errno));
	cr_assert_eq(listen(listener, 64), 0);
	for (int i = 0; i < AUTOBINDS; i++) {
		uint16_t port = autobind(row->kind, listener, lo, hi);

		cr_assert(port < START || port >= START + COUNT,
			  "%s, autobind %d: got reserved port %u", kind_name(row->kind), i, port);
		got += port != 0;
	}
	close(listener);
	if (row->exact)
		cr_assert_eq(got, 0, "%s: %d autobinds inside a window of reserved ports",
			     kind_name(row->kind), got);
	else
		cr_assert_gt(got, 0, "%s: no autobind succeeded: the test proves nothing",
			     kind_name(row->kind));
}

/* ---- The container case ----------------------------------------------------------------- */

struct ct_row {
	char name[48];
	char value[32];  /* what root of the user namespace writes */
	bool exact;      /* aim at the block alone */
	char want[64];   /* ip_local_reserved_ports the child reads back */
};

ParameterizedTestParameters(sysctl, container_root)
{
	static struct ct_row rows[] = {
		{ "cleared, aimed around the block", "\n", false, "40000-40009" },
		{ "cleared, aimed at the block", "\n", true, "40000-40009" },
		{ "its own value, aimed at the block", "80\n", true, "80,40000-40009" },
	};

	return cr_make_param_array(struct ct_row, rows, sizeof(rows) / sizeof(rows[0]));
}

static void put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		_exit(20);
	close(fd);
}

/*
 * Can this process make a user namespace? Not in a chroot (the kernel refuses CLONE_NEWUSER
 * there: vm-run's guest and the fresh-Debian tree run the tests in one). Tried in a child,
 * since /proc/1/root may be unreadable, which would hide the chroot.
 */
static bool chrooted(void)
{
	static int answer = -1;
	int status;
	pid_t pid;

	if (answer >= 0)
		return answer;
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) ? 1 : 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	answer = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	return answer;
}

/*
 * The child: nobody on the host, root of its own user and network namespace, in the enforced
 * cgroup. It rewrites the sysctl and then tries to get a reserved port with
 * IP_LOCAL_PORT_RANGE (or its netns's ip_local_port_range) + listen(). It reports on out.
 */
static int container_child(const struct ct_row *row, int in, int out)
{
	uint16_t lo = row->exact ? START : START - 2;
	uint16_t hi = row->exact ? START + COUNT - 1 : START + COUNT + 1;
	char text[256], range[32], c;
	int got = 0, inside = 0, first = 0;

	if (chrooted()) {
		/* No user namespace can be made in a chroot (vm-run's guest runs the tests in
		 * one): the host's root in a netns of its own is the closest there. */
		if (unshare(CLONE_NEWNET))
			_exit(22);
	} else {
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534) || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
			_exit(21); /* dumpable again, or /proc/self/uid_map stays root's */
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
			_exit(22);
		put_file("/proc/self/setgroups", "deny");
		put_file("/proc/self/uid_map", "0 65534 1");
		put_file("/proc/self/gid_map", "0 65534 1");
	}
	if (write(out, "r", 1) != 1 || read(in, &c, 1) != 1) /* the reservation is made */
		_exit(23);
	if (write_raw(RESERVED, row->value, strlen(row->value), 0))
		_exit(24);
	reserved_text(text, sizeof(text));
	snprintf(range, sizeof(range), "%u %u\n", lo, hi);
	if (write_raw(PORT_RANGE, range, strlen(range), 0))
		_exit(25);
	for (int i = 0; i < AUTOBINDS; i++) {
		uint16_t port = autobind(K_LISTEN, -1, lo, hi);

		if (port >= START && port < START + COUNT && !inside++)
			first = port;
		got += port != 0;
	}
	dprintf(out, "%s|%d|%d|%d", text, got, inside, first);
	return 0;
}

ParameterizedTest(struct ct_row *row, sysctl, container_root, .init = kt_setup,
		  .fini = kt_teardown)
{
	int to_child[2], from_child[2], status, got, inside, first;
	char nspath[64], report[512] = "", text[256];
	ssize_t n;
	pid_t pid;
	uint64_t t;

	need_rewrite();
	chrooted(); /* asked here, not in the child: the answer is kept for it */
	cr_assert(pipe(to_child) == 0 && pipe(from_child) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(to_child[1]);
		close(from_child[0]);
		_exit(container_child(row, to_child[0], from_child[1]));
	}
	close(to_child[0]);
	close(from_child[1]);
	if (chrooted())
		fprintf(stderr, "note: in a chroot no user namespace can be made: the child is "
			"the host's root in a netns of its own\n"); /* cr_log_warn would exit 1 */
	n = read(from_child[0], report, 1);
	if (n != 1) {
		waitpid(pid, &status, 0);
		cr_assert_fail("%s: the child could not make its namespaces (exit %d)", row->name,
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", pid);
	PORTRSV_OPTS(portrsv_create_opts, o, .netns = nspath);
	int err = portrsv_create(kt.p, PORTRSV_TCP, START, COUNT, &o, &t);

	cr_assert_eq(err, 0, "create --netns %s: %s", nspath, strerror(-err));
	cr_assert_eq(write(to_child[1], "g", 1), 1);
	n = read(from_child[0], report, sizeof(report) - 1);
	report[n > 0 ? n : 0] = '\0';
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child exit %d", row->name,
		  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	cr_assert_eq(sscanf(report, "%255[^|]|%d|%d|%d", text, &got, &inside, &first), 4,
		     "%s: report [%s]", row->name, report);
	cr_assert_str_eq(text, row->want, "%s: the child read [%s], want [%s]", row->name, text,
			 row->want);
	cr_assert_eq(inside, 0, "%s: %d of %d listen() autobinds got a reserved port (first %d)",
		     row->name, inside, AUTOBINDS, first);
	if (row->exact)
		cr_assert_eq(got, 0, "%s: %d listen() succeeded in a reserved window", row->name, got);
	else
		cr_assert_gt(got, 0, "%s: no listen() succeeded: the test proves nothing", row->name);
	/* The host's own sysctl in the test's netns: untouched by the child's netns. */
	reserved_text(text, sizeof(text));
	cr_assert_str_empty(text, "the test's netns [%s]", text);
}

/* ---- Two instances in one netns ---------------------------------------------------------- */

static struct {
	char pin_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	struct portrsv *p;
} b;

/* A second instance (its own pin and state directory) attached to the test's cgroup too. */
static void setup_two(void)
{
	const char *cg[1];
	int err;

	kt_setup();
	snprintf(b.pin_dir, sizeof(b.pin_dir), "%s-b", kt.pin_dir);
	snprintf(b.state_dir, sizeof(b.state_dir), "%s-b", kt.state_dir);
	cr_assert(mkdir(b.state_dir, 0700) == 0 || errno == EEXIST);
	cg[0] = kt.cgroup;
	PORTRSV_OPTS(portrsv_load_opts, lo, .cgroups = cg, .n_cgroups = 1, .pin_dir = b.pin_dir,
		     .state_dir = b.state_dir);
	err = portrsv_load(&lo);
	cr_assert_eq(err, 0, "load of the second instance: %s", strerror(-err));
	PORTRSV_OPTS(portrsv_open_opts, oo, .pin_dir = b.pin_dir, .state_dir = b.state_dir);
	b.p = portrsv_open(&oo);
	cr_assert(b.p, "open of the second instance: %s", strerror(errno));
}

static void teardown_two(void)
{
	char cmd[PATH_MAX + 16];

	portrsv_close(b.p);
	b.p = NULL;
	if (b.pin_dir[0]) {
		portrsv_unload(b.pin_dir);
	}
	if (b.state_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b.state_dir);
		if (system(cmd))
			fprintf(stderr, "teardown: could not remove %s\n", b.state_dir);
	}
	kt_teardown();
}

struct two_step {
	char who;       /* 'A' (the test's instance), 'B' (the second), 'W' (a writer) */
	char op;        /* 'A' add, 'D' delete; for W: writes text */
	int proto;
	uint16_t start, count;
	char want[48];  /* ip_local_reserved_ports afterwards */
	char text[16];  /* W: the value written */
};

struct two_row {
	char name[48];
	char admin[16]; /* the administrator's value before the first step */
	struct two_step steps[6];
};

ParameterizedTestParameters(sysctl, two_instances)
{
	static struct two_row rows[] = {
		{ "same ports, tcp and udp, A deletes first", "",
		  { { 'A', 'A', PORTRSV_TCP, 41000, 5, "41000-41004" },
		    { 'B', 'A', PORTRSV_UDP, 41000, 5, "41000-41004" },
		    { 'A', 'D', PORTRSV_TCP, 41000, 5, "41000-41004" },
		    { 'B', 'D', PORTRSV_UDP, 41000, 5, "" } } },
		{ "same ports, tcp and udp, B deletes first", "",
		  { { 'A', 'A', PORTRSV_TCP, 41000, 5, "41000-41004" },
		    { 'B', 'A', PORTRSV_UDP, 41000, 5, "41000-41004" },
		    { 'B', 'D', PORTRSV_UDP, 41000, 5, "41000-41004" },
		    { 'A', 'D', PORTRSV_TCP, 41000, 5, "" } } },
		{ "one port space, the blocks overlap", "",
		  { { 'A', 'A', PORTRSV_TCP, 41000, 5, "41000-41004" },
		    { 'B', 'A', PORTRSV_TCP, 41003, 5, "41000-41007" },
		    { 'A', 'D', PORTRSV_TCP, 41000, 5, "41003-41007" },
		    { 'B', 'D', PORTRSV_TCP, 41003, 5, "" } } },
		{ "the administrator's port under both, A first", "41002",
		  { { 'A', 'A', PORTRSV_TCP, 41000, 5, "41000-41004" },
		    { 'B', 'A', PORTRSV_UDP, 41000, 5, "41000-41004" },
		    { 'A', 'D', PORTRSV_TCP, 41000, 5, "41000-41004" },
		    { 'B', 'D', PORTRSV_UDP, 41000, 5, "41002" } } },
		{ "the administrator's port under both, B first", "41002",
		  { { 'A', 'A', PORTRSV_TCP, 41000, 5, "41000-41004" },
		    { 'B', 'A', PORTRSV_UDP, 41000, 5, "41000-41004" },
		    { 'B', 'D', PORTRSV_UDP, 41000, 5, "41000-41004" },
		    { 'A', 'D', PORTRSV_TCP, 41000, 5, "41002" } } },
		{ "a rewrite keeps both instances' ports", "",
		  { { 'A', 'A', PORTRSV_TCP, 41000, 5, "41000-41004" },
		    { 'B', 'A', PORTRSV_UDP, 42000, 5, "41000-41004,42000-42004" },
		    { 'W', 0, 0, 0, 0, "80,41000-41004,42000-42004", "80\n" },
		    { 'A', 'D', PORTRSV_TCP, 41000, 5, "80,42000-42004" },
		    { 'W', 0, 0, 0, 0, "42000-42004", "\n" },
		    { 'B', 'D', PORTRSV_UDP, 42000, 5, "" } } },
	};

	return cr_make_param_array(struct two_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct two_row *row, sysctl, two_instances, .init = setup_two,
		  .fini = teardown_two)
{
	char text[256], what[96], admin[20];
	uint64_t t;

	need_rewrite();
	snprintf(admin, sizeof(admin), "%s\n", row->admin);
	cr_assert_eq(write_raw(RESERVED, admin, strlen(admin), 0), 0);
	for (int i = 0; i < 6 && row->steps[i].who; i++) {
		const struct two_step *s = &row->steps[i];
		struct portrsv *p = s->who == 'A' ? kt.p : b.p;
		int err = 0;

		snprintf(what, sizeof(what), "%s, step %d: %c %c %u+%u", row->name, i, s->who,
			 s->op ? s->op : 'W', s->start, s->count);
		if (s->who == 'W')
			err = write_raw(RESERVED, s->text, strlen(s->text), 0);
		else if (s->op == 'A')
			err = portrsv_create(p, s->proto, s->start, s->count, NULL, &t);
		else
			err = portrsv_delete(p, s->proto, s->start, s->count, NULL);
		cr_assert_eq(err, 0, "%s: %s", what, strerror(-err));
		reserved_text(text, sizeof(text));
		cr_assert_str_eq(text, s->want, "%s: ip_local_reserved_ports [%s], want [%s]", what,
				 text, s->want);
	}
}

/*
 * The guard comes back with the store: after unload (the guard's map is gone with the other
 * pins) a load re-applies the stored reservation, and a rewrite keeps its ports again.
 */
Test(sysctl, load_restores_the_guard, .init = kt_setup, .fini = kt_teardown)
{
	const char *cg[1] = { kt.cgroup };
	char text[256];
	int err;

	need_rewrite();
	kt_reserve(PORTRSV_TCP, START, COUNT);
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
	reserved_text(text, sizeof(text));
	cr_assert_str_empty(text, "after unload [%s]", text);
	cr_assert_eq(write_raw(RESERVED, "87\n", 3, 0), 0);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "87", "unloaded, the write is the writer's own [%s]", text);
	PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = cg, .n_cgroups = 1);
	err = portrsv_load(&o);
	cr_assert_eq(err, 0, "load: %s", strerror(-err));
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "87,40000-40009", "after load [%s]", text);
	cr_assert_eq(write_raw(RESERVED, "\n", 1, 0), 0);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "40000-40009", "cleared after load [%s]", text);
}

/* The guard's map carries BTF: bpftool shows the ranges as a named string field. */
Test(sysctl, bpftool_shows_the_guard, .init = kt_setup, .fini = kt_teardown)
{
	static char out[1 << 20]; /* each entry (the probe's of cookie 0 too) dumps ~60 KiB */
	char cmd[PATH_MAX + 64];
	size_t n;
	FILE *f;

	kt_reserve(PORTRSV_UDP, START, COUNT);
	snprintf(cmd, sizeof(cmd), "bpftool -j map dump pinned %s/" PORTRSV_PIN_SYSCTL, kt.pin_dir);
	f = popen(cmd, "r");
	cr_assert(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	cr_assert_eq(pclose(f), 0, "bpftool failed: %.300s", out);
	cr_assert(strstr(out, "\"formatted\""), "no BTF-formatted dump: %.300s", out);
	cr_assert(strstr(out, "\"ranges\":\"40000-40009\""), "ranges not shown: %.300s", out);
	cr_assert(strstr(out, "\"len\":11"), "len not shown: %.300s", out);
}

/* ---- portrsv's own write is not appended to ------------------------------------------- */

/*
 * portrsv writes the whole bitmap, its own ports included: the guard leaves that write
 * alone (abi.h, writer_tgid), so portrsv's value may use all 4095 bytes, while another
 * writer's value gets ",RANGES" appended and must fit with it. Reservations: N udp single
 * ports 20000, 20002, ... ("20000," is 6 bytes: ranges of 6N - 1 bytes). The administrator's
 * entries: K ports 1000, 1002, ... (5K - 1 bytes), written while nothing guards the sysctl.
 */
struct frag_row {
	char name[48];
	unsigned n;          /* fragmented reservations */
	unsigned admin;      /* administrator's ports before the adds */
	int add_exit;        /* `portrsv add udp 30000 1` afterwards */
	unsigned admin_boot; /* administrator's ports after unload, before restore */
	int restore_exit;
};

#define FRAG_START 20000
#define ADMIN_START 1000
#define TOO_LONG_MSG "ip_local_reserved_ports would pass 4095 bytes: too many separate ranges"

ParameterizedTestParameters(sysctl, own_write)
{
	static struct frag_row rows[] = {
		/* 1000 + 1 + 2399 = 3400 bytes: fits once, not with portrsv's ports twice. */
		{ "400 ranges, 1000 bytes of admin", 400, 200, 0, 200, 0 },
		/* 1694 + 1 + 2399 = 4094; one more range passes 4095; 1704 at boot does not fit. */
		{ "just fits, then does not", 400, 339, 1, 341, 1 },
	};

	return cr_make_param_array(struct frag_row, rows, sizeof(rows) / sizeof(rows[0]));
}

/* "P,P+2,..." of k ports from first: 0 or -errno of one write of it at offset 0. */
static int write_list(unsigned first, unsigned k, char *buf, size_t cap)
{
	size_t n = 0;

	for (unsigned i = 0; i < k; i++)
		n += snprintf(buf + n, cap - n, "%s%u", i ? "," : "", first + 2 * i);
	buf[n++] = '\n';
	return write_raw(RESERVED, buf, n, 0);
}

static void reserved_bits(unsigned char *bits)
{
	char text[65536];

	memset(bits, 0, NPORTS / 8);
	reserved_text(text, sizeof(text));
	for (char *s = text; *s;) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		cr_assert(end != s && a < NPORTS, "bad sysctl text at [%.20s]", s);
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long q = a; q <= b && q < NPORTS; q++)
			bits[q / 8] |= 1 << (q % 8);
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			break;
	}
}

static bool has_port(const unsigned char *bits, unsigned q)
{
	return bits[q / 8] & (1 << (q % 8));
}

/* Every port of the reservations (want) or none, and the administrator's k ports. */
static void assert_holds(const char *what, unsigned n, bool want, unsigned k)
{
	unsigned char bits[NPORTS / 8];

	reserved_bits(bits);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(has_port(bits, FRAG_START + 2 * i), want, "%s: port %u %s", what,
			     FRAG_START + 2 * i, want ? "missing" : "there");
	for (unsigned i = 0; i < k; i++)
		cr_assert(has_port(bits, ADMIN_START + 2 * i), "%s: admin port %u missing", what,
			  ADMIN_START + 2 * i);
}

static int frag_cli(const char *first, ...)
{
	struct run_opts o = { 0 };
	char *argv[16];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)portrsv_bin();
	va_start(ap, first);
	for (const char *w = first; w; w = va_arg(ap, const char *)) {
		cr_assert(argc < 15);
		argv[argc++] = (char *)w;
	}
	va_end(ap);
	argv[argc] = NULL;
	return run_argv_opts(&o, argv);
}

ParameterizedTest(struct frag_row *row, sysctl, own_write, .init = kt_setup, .fini = kt_teardown)
{
	static char buf[65536];
	size_t before_len, text_len = 0;
	char text[8192];
	int err;

	need_rewrite();
	cr_assert_eq(write_list(ADMIN_START, row->admin, buf, sizeof(buf)), 0);
	for (unsigned i = 0; i < row->n; i++) {
		uint64_t t = 0;

		err = portrsv_create(kt.p, PORTRSV_UDP, FRAG_START + 2 * i, 1, NULL, &t);
		cr_assert_eq(err, 0, "%s: create udp %u (the %u-th): %s", row->name,
			     FRAG_START + 2 * i, i + 1, strerror(-err));
	}
	assert_holds("after the adds", row->n, true, row->admin);

	/* Another writer (not marked as portrsv's): appended to, refused past 4095 bytes. */
	cr_assert_eq(write_list(ADMIN_START, row->admin, buf, sizeof(buf)), 0,
		     "%s: rewrite of the admin list", row->name);
	assert_holds("after another writer's rewrite", row->n, true, row->admin);
	reserved_text(text, sizeof(text));
	before_len = strlen(text);
	err = write_list(ADMIN_START, 4095 / 5 - row->n, buf, sizeof(buf));
	cr_assert_eq(err, -EPERM, "%s: a write that passes 4095 bytes with portrsv's: %d",
		     row->name, err);
	reserved_text(text, sizeof(text));
	text_len = strlen(text);
	cr_assert_eq(text_len, before_len, "%s: a refused write changed the sysctl", row->name);

	frag_cli("add", "udp", "30000", "1", NULL);
	cr_assert_eq(R.status, row->add_exit, "%s: add exit %d [%s]", row->name, R.status, R.err);
	if (row->add_exit)
		cr_assert(strstr(R.err, TOO_LONG_MSG), "%s: add said [%s]", row->name, R.err);
	else
		frag_cli("delete", "udp", "30000", "1", NULL);
	assert_holds("after the add", row->n, true, row->admin);

	/* The reboot: pins gone, the administrator's list written anew, then restore. */
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(frag_cli("unload", NULL), 0, "unload: [%s]", R.err);
	cr_assert_eq(write_list(ADMIN_START, row->admin_boot, buf, sizeof(buf)), 0);
	frag_cli("restore", NULL);
	cr_assert_eq(R.status, row->restore_exit, "%s: restore exit %d [%s]", row->name, R.status,
		     R.err);
	cr_assert(!strstr(R.err, "applied without knowing"), "%s: restore said [%s]", row->name,
		  R.err);
	if (row->restore_exit)
		cr_assert(strstr(R.err, TOO_LONG_MSG), "%s: restore said [%s]", row->name, R.err);
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p, "portrsv_open after restore: %s", strerror(errno));
	assert_holds("after restore", row->n, !row->restore_exit, row->admin_boot);
	/* Whatever the sysctl took, every block is applied: a bind into one is refused. */
	for (unsigned i = 0; i < row->n; i += row->n / 4 + 1) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(FRAG_START + 2 * i),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e;

		cr_assert(fd >= 0);
		e = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
		close(fd);
		cr_assert_eq(e, EACCES, "%s: bind udp %u after restore: %s", row->name,
			     FRAG_START + 2 * i, strerror(e));
	}
	if (row->restore_exit)
		return;
	/* Another writer after restore: still appended to. */
	cr_assert_eq(write_list(ADMIN_START, row->admin_boot, buf, sizeof(buf)), 0);
	assert_holds("another writer after restore", row->n, true, row->admin_boot);
	cr_assert_eq(write_raw(RESERVED, "\n", 1, 0), 0);
	assert_holds("cleared by another writer after restore", row->n, true, 0);
}

/*
 * A kernel that drops the value a cgroup/sysctl program sets (abi.h, NO_REWRITE: Debian's
 * 6.12.95) cannot get portrsv's ports appended: the guard refuses every other writer there
 * (EPERM, the sysctl unchanged) and lets portrsv's own writes through. Forced here by the
 * probe's answer in the entry of cookie 0, so that it runs on every kernel.
 */
Test(sysctl, refuses_where_the_kernel_drops_new_values, .init = kt_setup, .fini = kt_teardown)
{
	struct portrsv_sysctl_guard g = { .flags = PORTRSV_GUARD_PROBED | PORTRSV_GUARD_NO_REWRITE };
	uint64_t zero = 0;
	char text[256];
	int fd = portrsv_obj_get(kt.pin_dir, PORTRSV_PIN_SYSCTL);

	cr_assert(fd >= 0);
	cr_assert_eq(bpf_map_update_elem(fd, &zero, &g, BPF_ANY), 0);
	close(fd);
	cr_assert_eq(write_raw(RESERVED, "87\n", 3, 0), 0, "before any reservation: not guarded");
	kt_reserve(PORTRSV_UDP, START, COUNT);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "87,40000-40009", "portrsv's own write [%s]", text);
	cr_assert_eq(write_raw(RESERVED, "9000\n", 5, 0), -EPERM, "a write that would drop them");
	cr_assert_eq(write_raw(RESERVED, "\n", 1, 0), -EPERM, "a clearing write");
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "87,40000-40009", "a refused write changed it [%s]", text);
	/* portrsv's own changes still go through. */
	kt_reserve(PORTRSV_TCP, START + 100, COUNT);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "87,40000-40009,40100-40109", "[%s]", text);
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_UDP, START, COUNT, NULL), 0);
	reserved_text(text, sizeof(text));
	cr_assert_str_eq(text, "87,40100-40109", "[%s]", text);
}
