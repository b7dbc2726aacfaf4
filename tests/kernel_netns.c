// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Namespaces that come and go: delete by every name a netns has (the store's, the one show
 * prints, a path), gc of reservations whose unnamed netns is gone, and a named netns that
 * does not exist yet at restore (waiting, then applied when `ip netns add` makes it).
 */
#include "testlib.h"
#include "clirun.h"
#include "json.h"
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <criterion/parameterized.h> /* after criterion.h, which it would break */

struct kt_env kt;

/* Processes that hold a netns of a test, and a named netns: undone on every path. */
static pid_t holders[4];
static int nholders;
static char named[64];

static void ip_netns(const char *verb, const char *name)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "ip netns %s %s >/dev/null 2>&1", verb, name);
	if (system(cmd) != 0 && !strcmp(verb, "add"))
		cr_assert_fail("ip netns add %s failed", name);
}

static void netns_fini(void)
{
	for (int i = 0; i < nholders; i++) {
		if (holders[i] <= 0)
			continue;
		kill(holders[i], SIGKILL);
		while (waitpid(holders[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	nholders = 0;
	if (named[0])
		ip_netns("delete", named);
	named[0] = '\0';
	kt_teardown();
}

/* A process in a netns of its own: index in holders; the netns's inode and cookie. */
static int spawn_netns(uint64_t *ino, uint64_t *cookie)
{
	char path[64], c;
	int p[2], saved;
	struct stat st;
	pid_t pid;

	cr_assert(nholders < 4);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	holders[nholders] = pid;
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the netns holder died");
	close(p[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	cr_assert_eq(stat(path, &st), 0);
	*ino = st.st_ino;
	cr_assert_eq(portrsv_netns_enter(path, &saved), 0);
	cr_assert_eq(portrsv_netns_self(cookie, NULL), 0);
	portrsv_netns_leave(saved);
	return nholders++;
}

/* Kill the holder: nothing keeps its netns any more, it is gone for good. */
static void end_netns(int i)
{
	kill(holders[i], SIGKILL);
	cr_assert_eq(waitpid(holders[i], NULL, 0), holders[i]);
	holders[i] = -1;
}

/* portrsv WORDS..., NULL-terminated, as root or as nobody; the exit status (R has output). */
static int cli_as(bool unpriv, const char *first, ...)
{
	struct run_opts o = { .unpriv = unpriv };
	char *argv[16];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)portrsv_bin();
	va_start(ap, first);
	for (const char *w = first; w && argc < 15; w = va_arg(ap, const char *))
		argv[argc++] = (char *)w;
	va_end(ap);
	argv[argc] = NULL;
	return run_argv_opts(&o, argv);
}
#define cli(...) cli_as(false, __VA_ARGS__, NULL)

/* Does the store hold a reservation "resv PROTO START COUNT ..."? */
static bool stored(const char *proto, unsigned start, unsigned count)
{
	char path[PATH_MAX + 32], line[4096], want[64];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/reservations", kt.state_dir);
	snprintf(want, sizeof(want), "resv %s %u %u ", proto, start, count);
	f = fopen(path, "re");
	cr_assert(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		found |= !strncmp(line, want, strlen(want));
	fclose(f);
	return found;
}

/* Does the kernel hold a persistent reservation starting at start (any netns)? */
static bool in_kernel(unsigned start)
{
	struct portrsv_reservation *v = NULL;
	bool found = false;
	int n = portrsv_list(kt.p, &v);

	cr_assert(n >= 0, "portrsv_list: %s", strerror(-n));
	for (int i = 0; i < n; i++)
		found |= v[i].start == start;
	free(v);
	return found;
}

static void assert_one_stderr_line(const char *what)
{
	char *nl = strchr(R.err, '\n');

	cr_assert(R.err[0] && nl && !nl[1], "%s: want one line on stderr, got [%s]", what, R.err);
}

/* ---- delete by each name of a netns -------------------------------------------------- */

enum name_form {
	N_STORED,       /* net:[INO]:COOKIE, as the store keeps it */
	N_SHOWN,        /* net:[INO], as show prints it */
	N_PROC,         /* /proc/PID/ns/net, as it was added */
	N_WRONG_COOKIE, /* net:[INO]:COOKIE+1 */
	N_WRONG_INO,    /* net:[INO+1] */
	N_MALFORMED,    /* net:[INO]x */
};

enum ns_state {
	NS_LIVE,     /* the holder lives */
	NS_GONE,     /* the holder was killed; the kernel still has the reservation */
	NS_RELOADED, /* gone, then unload + load: the reservation lives in the store only */
};

struct delete_row {
	char name[48];
	enum ns_state state;
	enum name_form form;
	int want_exit;
};

ParameterizedTestParameters(netns, delete_by_name)
{
	static struct delete_row rows[] = {
		{ "live, stored name", NS_LIVE, N_STORED, 0 },
		{ "live, shown name", NS_LIVE, N_SHOWN, 0 },
		{ "live, /proc path", NS_LIVE, N_PROC, 0 },
		{ "gone, stored name", NS_GONE, N_STORED, 0 },
		{ "gone, shown name", NS_GONE, N_SHOWN, 0 },
		{ "gone, /proc path", NS_GONE, N_PROC, PORTRSV_EXIT_NOTFOUND },
		{ "gone, wrong cookie", NS_GONE, N_WRONG_COOKIE, PORTRSV_EXIT_NOTFOUND },
		{ "gone, wrong inode", NS_GONE, N_WRONG_INO, PORTRSV_EXIT_NOTFOUND },
		{ "gone, malformed name", NS_GONE, N_MALFORMED, PORTRSV_EXIT_USAGE },
		{ "store only, stored name", NS_RELOADED, N_STORED, 0 },
		{ "store only, shown name", NS_RELOADED, N_SHOWN, 0 },
		{ "store only, wrong cookie", NS_RELOADED, N_WRONG_COOKIE, PORTRSV_EXIT_NOTFOUND },
	};

	return cr_make_param_array(struct delete_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct delete_row *row, netns, delete_by_name, .init = kt_setup,
		  .fini = netns_fini)
{
	char proc[64], name[96];
	uint64_t ino, cookie;
	int h = spawn_netns(&ino, &cookie);

	snprintf(proc, sizeof(proc), "/proc/%d/ns/net", holders[h]);
	cli("add", "tcp", "7300", "2", "--netns", proc);
	assert_token("add --netns /proc/PID/ns/net");
	cr_assert(stored("tcp", 7300, 2) && in_kernel(7300));
	switch (row->form) {
	case N_STORED: snprintf(name, sizeof(name), "net:[%" PRIu64 "]:%" PRIu64, ino, cookie); break;
	case N_SHOWN: snprintf(name, sizeof(name), "net:[%" PRIu64 "]", ino); break;
	case N_PROC: snprintf(name, sizeof(name), "%s", proc); break;
	case N_WRONG_COOKIE:
		snprintf(name, sizeof(name), "net:[%" PRIu64 "]:%" PRIu64, ino, cookie + 1);
		break;
	case N_WRONG_INO: snprintf(name, sizeof(name), "net:[%" PRIu64 "]", ino + 1); break;
	case N_MALFORMED: snprintf(name, sizeof(name), "net:[%" PRIu64 "]x", ino); break;
	}
	/* What show prints is what the shown form is: the contract under test. */
	if (row->form == N_SHOWN) {
		cli("show");
		cr_assert(strstr(R.out, name), "show must print %s: [%s]", name, R.out);
	}
	if (row->state != NS_LIVE)
		end_netns(h);
	if (row->state == NS_RELOADED) {
		const char *cg[] = { kt.cgroup };

		PORTRSV_OPTS(portrsv_load_opts, lo, .cgroups = cg, .n_cgroups = 1);
		portrsv_close(kt.p);
		kt.p = NULL;
		cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
		cr_assert_eq(portrsv_load(&lo), 0, "load: a gone unnamed netns is no failure");
		kt.p = portrsv_open(NULL);
		cr_assert(kt.p);
		cr_assert(!in_kernel(7300) && stored("tcp", 7300, 2));
	}
	cli("delete", "tcp", "7300", "2", "--netns", name);
	cr_assert_eq(R.status, row->want_exit, "%s: delete --netns %s: exit %d, want %d; stderr [%s]",
		     row->name, name, R.status, row->want_exit, R.err);
	if (row->want_exit) {
		assert_one_stderr_line(row->name);
		cr_assert(stored("tcp", 7300, 2), "%s: a refused delete changed the store", row->name);
		cr_assert_eq(in_kernel(7300), row->state != NS_RELOADED, "%s: a refused delete "
			     "changed the kernel", row->name);
		return;
	}
	assert_silent_ok(row->name);
	cr_assert(!stored("tcp", 7300, 2), "%s: still in the store", row->name);
	cr_assert(!in_kernel(7300), "%s: still in the kernel", row->name);
}

/* ---- gc ------------------------------------------------------------------------------- */

/* gc drops the reservations of gone unnamed netns only: a live one and the test's own netns
 * stay; as nobody it is refused and changes nothing; again, it has nothing to do. Netns A
 * goes before step 1, C before step 3. */
Test(netns, gc, .init = kt_setup, .fini = netns_fini)
{
	static const struct {
		bool unpriv, json;
		int end;              /* holder to kill first: 0 A, 2 C, -1 none */
		int want_exit;
		const char *want_out; /* regex of the whole stdout; @GONE@ = the netns killed last */
		bool a_stays, c_stays;
	} steps[] = {
		{ true, false, 0, PORTRSV_EXIT_PERM, "^$", true, true },
		{ false, true, -1, 0, "^\\[\n  \\{\n    \"proto\": \"tcp\",\n    \"start\": 7400,\n    "
		  "\"count\": 1,\n    \"netns\": \"@GONE@\"\n  \\}\n\\]\n$", false, true },
		{ false, true, -1, 0, "^\\[\\]\n$", false, true },
		{ false, false, 2, 0, "^dropped tcp 7430: netns @GONE@ is gone\n$", false, false },
		{ false, false, -1, 0, "^$", false, false },
	};
	char proc[3][64], gone[96] = "", re[256];
	uint64_t ino[3], cookie[3];
	const char *ports[3] = { "7400", "7410", "7430" };

	for (int i = 0; i < 3; i++) {
		int h = spawn_netns(&ino[i], &cookie[i]);

		snprintf(proc[i], sizeof(proc[i]), "/proc/%d/ns/net", holders[h]);
		cli("add", "tcp", ports[i], "1", "--netns", proc[i]);
		assert_token("add in a netns of a holder");
	}
	cli("add", "tcp", "7420", "1");
	assert_token("add in the test's netns");
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const char *at = strstr(steps[i].want_out, "@GONE@");

		if (steps[i].end >= 0) {
			end_netns(steps[i].end);
			snprintf(gone, sizeof(gone), "net:\\[%" PRIu64 "\\]:%" PRIu64,
				 ino[steps[i].end], cookie[steps[i].end]);
		}
		if (at)
			snprintf(re, sizeof(re), "%.*s%s%s", (int)(at - steps[i].want_out),
				 steps[i].want_out, gone, at + 6);
		else
			snprintf(re, sizeof(re), "%s", steps[i].want_out);
		if (steps[i].json)
			cli_as(steps[i].unpriv, "gc", "--json", NULL);
		else
			cli_as(steps[i].unpriv, "gc", NULL);
		cr_assert_eq(R.status, steps[i].want_exit, "gc %zu: exit %d, want %d; stderr [%s]",
			     i, R.status, steps[i].want_exit, R.err);
		cr_assert(matches(re, R.out), "gc %zu: stdout [%s], want /%s/", i, R.out, re);
		if (steps[i].want_exit)
			assert_one_stderr_line("gc refused");
		else
			cr_assert_str_empty(R.err, "gc %zu: stderr [%s]", i, R.err);
		cr_assert_eq(stored("tcp", 7400, 1), steps[i].a_stays, "gc %zu: A in the store", i);
		cr_assert_eq(in_kernel(7400), steps[i].a_stays, "gc %zu: A in the kernel", i);
		cr_assert_eq(stored("tcp", 7430, 1), steps[i].c_stays, "gc %zu: C in the store", i);
		cr_assert_eq(in_kernel(7430), steps[i].c_stays, "gc %zu: C in the kernel", i);
		/* The live ones always stay. */
		cr_assert(stored("tcp", 7410, 1) && in_kernel(7410), "gc %zu: B was dropped", i);
		cr_assert(stored("tcp", 7420, 1) && in_kernel(7420), "gc %zu: the test's netns", i);
	}
}

/* ---- a named netns that does not exist yet --------------------------------------------- */

/* Stored for /run/netns/NAME; NAME deleted: restore exits 0 and says it waits, status lists
 * it; ip netns add NAME; restore applies it there (a bind is refused) and nothing waits. */
Test(netns, named_waits_then_applies, .init = kt_setup, .fini = netns_fini)
{
	char path[128], want[160];
	int fd, saved, err;

	snprintf(named, sizeof(named), KT_PREFIX "ns-%d", getpid());
	snprintf(path, sizeof(path), "/run/netns/%s", named);
	ip_netns("add", named);
	cli("add", "tcp", "7500", "2", "--netns", path);
	assert_token("add --netns /run/netns/NAME");
	ip_netns("delete", named);
	snprintf(want, sizeof(want), "netns %s not present yet", named);

	cli("restore");
	cr_assert_eq(R.status, 0, "restore with the netns missing: exit %d; stderr [%s]", R.status,
		     R.err);
	cr_assert(strstr(R.err, want), "restore must report [%s]; stderr [%s]", want, R.err);
	cli("status");
	cr_assert(strstr(R.out, "waiting:\n") && strstr(R.out, want), "status: [%s]", R.out);
	cr_assert(!strstr(R.err, named), "status calls the waiting netns a problem: [%s]", R.err);
	cli("status", "--json");
	snprintf(want, sizeof(want), "tcp 7500-7501: netns %s not present yet", named);
	{
		int root = jparse(R.out), w = jget(root, "waiting", J_ARR);

		cr_assert(jcount(w) == 1 && !strcmp(J[jchild(w, 0)].str, want),
			  "status --json: [%s], want waiting [%s]", R.out, want);
	}

	ip_netns("add", named);
	cli("restore");
	cr_assert_eq(R.status, 0, "restore with the netns back: exit %d; stderr [%s]", R.status,
		     R.err);
	cr_assert(!strstr(R.err, "not present"), "restore still waits: [%s]", R.err);
	cli("status", "--json");
	cr_assert_eq(jcount(jget(jparse(R.out), "waiting", J_ARR)), 0,
		     "status --json still waits: [%s]", R.out);
	/* Applied in the new netns: a bind there without the token is refused. */
	cr_assert_eq(portrsv_netns_enter(path, &saved), 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	err = fd >= 0 ? kt_bind(fd, KT_V4, 7501) : -errno;
	if (fd >= 0)
		close(fd);
	portrsv_netns_leave(saved);
	cr_assert_eq(err, -EACCES, "bind 7501 in the recreated netns: %s, want EACCES",
		     strerror(-err));
}

/* ---- what keeps an unnamed netns alive ------------------------------------------------- */

enum hold {
	HOLD_NONE,       /* nothing: gone for good, dropped */
	HOLD_SOCKET,     /* only a UDP socket of a process that went back to its own netns */
	HOLD_MOUNT_SPACE, /* a bind mount of the nsfs file at a path with a space */
	HOLD_MOUNT_MNTNS, /* a bind mount in another mount namespace only */
};

struct hold_row {
	char name[48];
	enum hold hold;
};

/* Where the mount rows bind the netns; removed on every path. */
static char hold_dir[PATH_MAX], hold_file[PATH_MAX + 16];

static void hold_fini(void)
{
	if (hold_file[0]) {
		umount2(hold_file, MNT_DETACH);
		unlink(hold_file);
	}
	if (hold_dir[0])
		rmdir(hold_dir);
	hold_file[0] = hold_dir[0] = '\0';
	netns_fini();
}

/*
 * A process that unshares a netns, makes a UDP socket there and goes back to its first
 * netns; on 'b' it binds the socket to port+1 and writes the bind's errno (0: bound).
 * cmd/res: the pipes; its netns's inode and cookie come back through res first.
 */
static int spawn_socket_holder(uint64_t *ino, uint64_t *cookie, int *cmd, int *res)
{
	int c[2], r[2];
	pid_t pid;

	cr_assert(nholders < 4);
	cr_assert_eq(pipe(c), 0);
	cr_assert_eq(pipe(r), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		uint64_t id[2];
		int old, fd, e;
		char x;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		old = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (old < 0 || unshare(CLONE_NEWNET))
			_exit(1);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || portrsv_netns_self(&id[1], &id[0]) ||
		    write(r[1], id, sizeof(id)) != sizeof(id))
			_exit(1);
		/* Go back once the test has added the reservation by /proc/PID/ns/net. */
		if (read(c[0], &x, 1) != 1 || setns(old, CLONE_NEWNET) || write(r[1], "x", 1) != 1)
			_exit(1);
		close(old);
		while (read(c[0], &x, 1) == 1) {
			struct sockaddr_in a = { .sin_family = AF_INET };

			a.sin_port = htons(7601);
			e = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
			if (write(r[1], &e, sizeof(e)) != sizeof(e))
				_exit(1);
		}
		_exit(0);
	}
	holders[nholders] = pid;
	close(c[0]);
	close(r[1]);
	{
		uint64_t id[2];

		cr_assert_eq(read(r[0], id, sizeof(id)), (ssize_t)sizeof(id), "holder died");
		*ino = id[0];
		*cookie = id[1];
	}
	*cmd = c[1];
	*res = r[0];
	return nholders++;
}

/* A process in a mount namespace of its own that bind-mounts src on hold_file there. */
static void spawn_mount_holder(const char *src)
{
	int p[2];
	pid_t pid;
	char c;

	cr_assert(nholders < 4);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount(src, hold_file, NULL, MS_BIND, NULL) || write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	holders[nholders++] = pid;
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the mount holder died");
	close(p[0]);
}

ParameterizedTestParameters(netns, gc_keeps_held)
{
	static struct hold_row rows[] = {
		{ "nothing holds it", HOLD_NONE },
		{ "a socket holds it", HOLD_SOCKET },
		{ "a mount at a path with a space", HOLD_MOUNT_SPACE },
		{ "a mount in another mount namespace", HOLD_MOUNT_MNTNS },
	};

	return cr_make_param_array(struct hold_row, rows, sizeof(rows) / sizeof(rows[0]));
}

/* gc drops the reservation of a netns only when nothing keeps it; a kept one stays refused. */
ParameterizedTest(struct hold_row *row, netns, gc_keeps_held, .init = kt_setup,
		  .fini = hold_fini)
{
	const char *proto = row->hold == HOLD_SOCKET ? "udp" : "tcp";
	char proc[64], enter[PATH_MAX + 64] = "";
	uint64_t ino, cookie;
	int h, cmd = -1, res = -1, err, saved, fd;
	bool kept = row->hold != HOLD_NONE;

	if (row->hold == HOLD_SOCKET)
		h = spawn_socket_holder(&ino, &cookie, &cmd, &res);
	else
		h = spawn_netns(&ino, &cookie);
	snprintf(proc, sizeof(proc), "/proc/%d/ns/net", holders[h]);
	cli("add", proto, "7600", "2", "--netns", proc);
	assert_token("add --netns /proc/PID/ns/net");
	if (row->hold == HOLD_MOUNT_SPACE || row->hold == HOLD_MOUNT_MNTNS) {
		snprintf(hold_dir, sizeof(hold_dir), "/tmp/" KT_PREFIX "%d hold\tdir", getpid());
		cr_assert(mkdir(hold_dir, 0700) == 0 || errno == EEXIST);
		snprintf(hold_file, sizeof(hold_file), "%s/ns net", hold_dir);
		fd = open(hold_file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		cr_assert(fd >= 0, "%s: %s", hold_file, strerror(errno));
		close(fd);
	}
	switch (row->hold) {
	case HOLD_NONE: end_netns(h); break;
	case HOLD_SOCKET: {
		char c;

		cr_assert_eq(write(cmd, "g", 1), 1);
		cr_assert_eq(read(res, &c, 1), 1, "the socket holder did not go back");
		break;
	}
	case HOLD_MOUNT_SPACE:
		cr_assert_eq(mount(proc, hold_file, NULL, MS_BIND, NULL), 0, "bind mount: %s",
			     strerror(errno));
		end_netns(h);
		snprintf(enter, sizeof(enter), "%s", hold_file);
		break;
	case HOLD_MOUNT_MNTNS:
		spawn_mount_holder(proc);
		end_netns(h);
		snprintf(enter, sizeof(enter), "/proc/%d/root%s", holders[nholders - 1], hold_file);
		break;
	}
	cli("gc");
	cr_assert_eq(R.status, 0, "%s: gc: exit %d; stderr [%s]", row->name, R.status, R.err);
	cr_assert_str_empty(R.err, "%s: gc: stderr [%s]", row->name, R.err);
	cr_assert_eq(strstr(R.out, "dropped") != NULL, !kept, "%s: gc said [%s]", row->name, R.out);
	cr_assert_eq(stored(proto, 7600, 2), kept, "%s: in the store", row->name);
	cr_assert_eq(in_kernel(7600), kept, "%s: in the kernel", row->name);
	if (!kept)
		return;
	/* Still enforced in that netns: a bind there without the token is refused. */
	if (row->hold == HOLD_SOCKET) {
		cr_assert_eq(write(cmd, "b", 1), 1);
		cr_assert_eq(read(res, &err, sizeof(err)), (ssize_t)sizeof(err));
		err = -err;
	} else {
		cr_assert_eq(portrsv_netns_enter(enter, &saved), 0, "enter %s", enter);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		err = fd >= 0 ? kt_bind(fd, KT_V4, 7601) : -errno;
		if (fd >= 0)
			close(fd);
		portrsv_netns_leave(saved);
	}
	cr_assert_eq(err, -EACCES, "%s: bind 7601 in the held netns: %s, want EACCES", row->name,
		     strerror(-err));
	/* And restore finds it there: it is applied, not "gone for good". */
	cli("restore");
	cr_assert_eq(R.status, 0, "%s: restore: exit %d; stderr [%s]", row->name, R.status, R.err);
	cr_assert(!strstr(R.err, "gone"), "%s: restore: [%s]", row->name, R.err);
	if (cmd >= 0)
		close(cmd);
	if (res >= 0)
		close(res);
}

/* ---- a named netns half made: the file exists, the mount is not there yet -------------- */

/* ip netns add makes /run/netns/NAME, then mounts the netns on it: in between it is a plain
 * file. restore there waits (exit 0), status calls it waiting; a restore during which it is
 * mounted applies it. */
Test(netns, named_plain_file_waits, .init = kt_setup, .fini = netns_fini)
{
	char path[128], want[160];
	int fd, saved, err;

	snprintf(named, sizeof(named), KT_PREFIX "pf-%d", getpid());
	snprintf(path, sizeof(path), "/run/netns/%s", named);
	ip_netns("add", named);
	cli("add", "tcp", "7520", "2", "--netns", path);
	assert_token("add --netns /run/netns/NAME");
	ip_netns("delete", named);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	close(fd);
	snprintf(want, sizeof(want), "netns %s not present yet", named);

	cli("restore");
	cr_assert_eq(R.status, 0, "restore over a plain file: exit %d; stderr [%s]", R.status, R.err);
	cr_assert(strstr(R.err, want), "restore must report [%s]; stderr [%s]", want, R.err);
	cli("status");
	cr_assert(strstr(R.out, "waiting:\n") && strstr(R.out, want), "status: [%s]", R.out);
	cr_assert(!strstr(R.err, named), "status calls the waiting netns a problem: [%s]", R.err);

	/* The mount comes while restore runs (as from ip netns add): restore waits for it. */
	{
		uint64_t ino, cookie;
		char proc[64];
		int h = spawn_netns(&ino, &cookie);
		pid_t m;

		snprintf(proc, sizeof(proc), "/proc/%d/ns/net", holders[h]);
		m = fork();
		cr_assert(m >= 0);
		if (m == 0) {
			usleep(200 * 1000);
			_exit(mount(proc, path, NULL, MS_BIND, NULL) ? 1 : 0);
		}
		cli("restore");
		cr_assert_eq(waitpid(m, &err, 0), m);
		cr_assert(WIFEXITED(err) && WEXITSTATUS(err) == 0, "bind mount on %s failed", path);
	}
	cr_assert_eq(R.status, 0, "restore with the netns made: exit %d; stderr [%s]", R.status,
		     R.err);
	cr_assert(!strstr(R.err, "not present"), "restore still waits: [%s]", R.err);
	cr_assert_eq(portrsv_netns_enter(path, &saved), 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	err = fd >= 0 ? kt_bind(fd, KT_V4, 7521) : -errno;
	if (fd >= 0)
		close(fd);
	portrsv_netns_leave(saved);
	cr_assert_eq(err, -EACCES, "bind 7521 in the mounted netns: %s, want EACCES",
		     strerror(-err));
}

/* ---- names and order: show names a netns as the user does, and sorts by port ----------- */

/*
 * Blocks in a named netns, an unnamed one and the test's own: show --json and the table name
 * them NAME, net:[INO] and net:[INO] (the test's netns is not the host's), and list them by
 * protocol, then port, whatever the netns; --netns NAME is /run/netns/NAME.
 */
Test(netns, show_names_and_order, .init = kt_setup, .fini = netns_fini)
{
	static const struct { const char *proto; unsigned start; int who; } want[] = {
		{ "tcp", 7000, 1 }, { "tcp", 7100, 0 }, { "tcp", 7200, 2 }, { "udp", 7050, 0 },
	};
	char proc[64], label[3][64];
	uint64_t ino, cookie, own_ino;
	struct stat st;
	int root, h;

	snprintf(named, sizeof(named), KT_PREFIX "ns-%d", getpid());
	ip_netns("add", named);
	h = spawn_netns(&ino, &cookie);
	snprintf(proc, sizeof(proc), "/proc/%d/ns/net", holders[h]);
	cr_assert_eq(stat("/proc/self/ns/net", &st), 0);
	own_ino = st.st_ino;
	snprintf(label[0], sizeof(label[0]), "net:[%" PRIu64 "]", own_ino);
	snprintf(label[1], sizeof(label[1]), "%s", named);
	snprintf(label[2], sizeof(label[2]), "net:[%" PRIu64 "]", ino);

	cli("add", "tcp", "7200", "1", "--netns", proc);
	assert_token("add in an unnamed netns");
	cli("add", "tcp", "7100", "1");
	assert_token("add in the test's netns");
	cli("add", "udp", "7050", "1");
	assert_token("add udp");
	cli("add", "tcp", "7000", "1", "--netns", named); /* NAME, as ip netns names it */
	assert_token("add --netns NAME");

	cli("show", "--json");
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	root = jparse(R.out);
	cr_assert_eq(jcount(root), 4, "[%s]", R.out);
	for (int i = 0; i < 4; i++) {
		int o = jchild(root, i);

		cr_assert_str_eq(J[jget(o, "proto", J_STR)].str, want[i].proto, "row %d: [%s]", i,
				 R.out);
		cr_assert_eq(J[jget(o, "start", J_NUM)].num, want[i].start, "row %d: [%s]", i, R.out);
		cr_assert_str_eq(J[jget(o, "netns", J_STR)].str, label[want[i].who],
				 "row %d: [%s]", i, R.out);
	}
	cr_assert_eq(J[jget(jchild(root, 2), "netns_ino", J_NUM)].num, (double)ino);
	cr_assert_eq(J[jget(jchild(root, 2), "netns_cookie", J_NUM)].num, (double)cookie);

	cli("show", "tcp");
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	{
		const char *a = strstr(R.out, "\n      7000"), *b = strstr(R.out, "\n      7100"),
			   *c = strstr(R.out, "\n      7200");

		cr_assert(a && b && c && a < b && b < c, "not by port: [%s]", R.out);
		cr_assert(strstr(a, named) && strstr(a, named) < b, "7000 not in %s: [%s]", named,
			  R.out);
		cr_assert(strstr(c, label[2]), "7200 not in %s: [%s]", label[2], R.out);
	}
	/* The name the user gave is the name the other commands take. */
	cli("lookup", "tcp", "7000", "1", "--netns", named);
	assert_token("lookup --netns NAME");
	cli("delete", "tcp", "7000", "1", "--netns", named);
	assert_silent_ok("delete --netns NAME");
}
