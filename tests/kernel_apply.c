// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Re-applying the store never drops a reservation, and no interrupted or racing load,
 * unload or restore leaves an instance that enforces nothing while add, restore or status
 * say otherwise (SPEC rules 7 and 11). The command ($PORTRSV_BIN, the test build with
 * PORTRSV_FAULT) runs as a child in the test's cgroup, netns, pin and state directories.
 *
 * Never run `portrsv load` without --cgroup here: it would attach to the host's root cgroup.
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdarg.h>
#include <bpf/bpf.h>
#include "testlib.h"
#include "clirun.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */

struct kt_env kt;

#define START 7000
#define COUNT 4
#define SQUAT_PORT 7001 /* held by a process outside the owner cgroup */
#define OWNER_PORT 7002 /* held by the block's own service, in the owner cgroup */

/* ---- Running the command ---------------------------------------------------------------- */

#define MAXW 8

static const char *fault_point;

/* portrsv WORDS..., NULL-terminated; as root, with PORTRSV_FAULT=fault_point if set. */
static int cli(const char *first, ...)
{
	char *argv[MAXW + 2];
	struct run_opts o = { .fault = fault_point };
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)portrsv_bin();
	va_start(ap, first);
	for (const char *w = first; w; w = va_arg(ap, const char *)) {
		cr_assert(argc <= MAXW);
		argv[argc++] = (char *)w;
	}
	va_end(ap);
	argv[argc] = NULL;
	return run_argv_opts(&o, argv);
}

static bool one_line(const char *s)
{
	size_t n = strlen(s);

	return n > 1 && s[n - 1] == '\n' && strchr(s, '\n') == s + n - 1;
}

/* A failure with status want: nothing on stdout, one "portrsv: " line naming cause. */
static void assert_failed(int want, const char *what, const char *cause)
{
	cr_assert_eq(R.status, want, "%s: exit %d, want %d; stdout [%s] stderr [%s]", what,
		     R.status, want, R.out, R.err);
	cr_assert_str_empty(R.out, "%s: stdout must be empty, got [%s]", what, R.out);
	cr_assert(one_line(R.err) && !strncmp(R.err, "portrsv: ", 9),
		  "%s: stderr must be one portrsv line, got [%s]", what, R.err);
	cr_assert(strstr(R.err, cause), "%s: stderr must name the cause (%s): [%s]", what, cause,
		  R.err);
}

static int try_bind(int proto, uint16_t port)
{
	int fd = kt_socket(KT_V4, proto);
	int err = kt_bind(fd, KT_V4, port);

	close(fd);
	return err;
}

static int try_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = kt_socket(KT_V4, IPPROTO_TCP);
	int err = connect(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;

	close(fd);
	return err;
}

/* ---- Holders: processes with a listener, killed by the fini -------------------------- */

static pid_t kids[4];
static int nkids;
static char owner_cg[PATH_MAX];

/* A child named comm, in cgroup cg (NULL: the test's), listening on tcp port; its pid. */
static pid_t hold_port(const char *comm, const char *cg, uint16_t port)
{
	int pfd[2];
	char c;
	pid_t pid;

	cr_assert(pipe(pfd) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		char path[PATH_MAX + 16], buf[32];
		int fd, one = 1;

		close(pfd[0]);
		prctl(PR_SET_NAME, comm);
		if (cg) {
			snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
			snprintf(buf, sizeof(buf), "%d\n", getpid());
			fd = open(path, O_WRONLY);
			if (fd < 0 || write(fd, buf, strlen(buf)) < 0)
				_exit(1);
			close(fd);
		}
		fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8))
			_exit(2);
		if (write(pfd[1], "r", 1) != 1)
			_exit(3);
		for (;;) {
			int c2 = accept(fd, NULL, NULL);

			if (c2 >= 0)
				close(c2);
		}
	}
	close(pfd[1]);
	kids[nkids++] = pid;
	cr_assert_eq(read(pfd[0], &c, 1), 1, "%s could not listen on %u", comm, port);
	close(pfd[0]);
	return pid;
}

static void kill_kids(void)
{
	for (int i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	nkids = 0;
}

static void teardown(void)
{
	kill_kids();
	fault_point = NULL;
	if (owner_cg[0])
		rmdir(owner_cg);
	owner_cg[0] = '\0';
	kt_teardown();
}

/* The netns cookie of the test. */
static uint64_t my_netns(void)
{
	uint64_t c;

	cr_assert_eq(portrsv_netns_self(&c, NULL), 0);
	return c;
}

/* Remove tcp START+COUNT from the kernel's maps only, as if the kernel had lost it. */
static void kernel_forgets(void)
{
	struct portrsv_key k;
	struct portrsv_resv r;

	memset(&k, 0, sizeof(k));
	k.netns = my_netns();
	k.proto = PORTRSV_PROTO_TCP;
	k.port = START;
	cr_assert_eq(bpf_map_lookup_elem(kt.p->resv_fd, &k, &r), 0);
	cr_assert_eq(portrsv_unreserve(kt.p, &k, &r, true), 0);
	cr_assert_eq(try_bind(IPPROTO_TCP, SQUAT_PORT), 0, "the kernel still has it");
}

static uint64_t lookup_token(void)
{
	char start[8], count[8];

	snprintf(start, sizeof(start), "%d", START);
	snprintf(count, sizeof(count), "%d", COUNT);
	cli("lookup", "tcp", start, count, NULL);
	return assert_token("lookup");
}

/* ================ 1. A stored block is applied whatever is bound ====================== */

enum reapply { RE_LOAD, RE_RESTORE_UNLOADED, RE_RESTORE_LOST };

struct inuse_row {
	char name[40];
	enum reapply how;
	int want; /* exit status of the re-apply */
};

ParameterizedTestParameters(apply, in_use)
{
	static struct inuse_row rows[] = {
		{ "unload, then load", RE_LOAD, 0 },
		{ "unload, then restore", RE_RESTORE_UNLOADED, 0 },
		{ "restore of a block the kernel lost", RE_RESTORE_LOST, 0 },
	};

	return cr_make_param_array(struct inuse_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct inuse_row *row, apply, in_use, .init = kt_setup, .fini = teardown)
{
	char want[128];
	uint64_t token;
	pid_t squat, owner;
	int fds[3];

	snprintf(owner_cg, sizeof(owner_cg), "%s/owner", kt.cgroup);
	cr_assert(mkdir(owner_cg, 0755) == 0, "mkdir %s: %s", owner_cg, strerror(errno));
	cli("add", "tcp", "7000", "4", "--owner", owner_cg, NULL);
	token = assert_token("add");

	/* The block not in force: a squatter and the service itself take a port each. */
	if (row->how == RE_RESTORE_LOST) {
		kernel_forgets();
	} else {
		cli("unload", NULL);
		assert_silent_ok("unload");
	}
	squat = hold_port("squatter", NULL, SQUAT_PORT);
	owner = hold_port("ownersvc", owner_cg, OWNER_PORT);

	if (row->how == RE_LOAD)
		cli("load", "--cgroup", kt.cgroup, NULL);
	else
		cli("restore", NULL);
	cr_assert_eq(R.status, row->want, "%s: exit %d [%s]", row->name, R.status, R.err);
	cr_assert_str_empty(R.out, "%s: [%s]", row->name, R.out);
	/* One note, naming each holder. */
	cr_assert(one_line(R.err) && strstr(R.err, "in use"), "%s: the note [%s]", row->name, R.err);
	snprintf(want, sizeof(want), "%u by squatter[%d] (LISTEN)", SQUAT_PORT, (int)squat);
	cr_assert(strstr(R.err, want), "%s: [%s] must name [%s]", row->name, R.err, want);
	snprintf(want, sizeof(want), "%u by ownersvc[%d] (LISTEN)", OWNER_PORT, (int)owner);
	cr_assert(strstr(R.err, want), "%s: [%s] must name [%s]", row->name, R.err, want);

	/* In force: the free ports are refused to everyone without the token. */
	cr_assert_eq(lookup_token(), token, "%s: the stored token", row->name);
	cr_assert_eq(try_bind(IPPROTO_TCP, START), -EACCES, "%s: tcp %d", row->name, START);
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 3), -EACCES, "%s: tcp %d", row->name, START + 3);
	/* The sockets bound before keep working. */
	cr_assert_eq(try_connect(SQUAT_PORT), 0, "%s: the squatter's listener", row->name);
	cr_assert_eq(try_connect(OWNER_PORT), 0, "%s: the owner's listener", row->name);

	/* bind(0) with the token gets the free ports, never a held one, then EADDRINUSE. */
	for (int i = 0; i < 3; i++) {
		fds[i] = kt_socket(KT_V4, IPPROTO_TCP);
		cr_assert_eq(portrsv_associate(fds[i], token), 0);
	}
	cr_assert_eq(kt_bind(fds[0], KT_V4, 0), 0, "%s: first bind(0)", row->name);
	cr_assert_eq(kt_bind(fds[1], KT_V4, 0), 0, "%s: second bind(0): a held port handed out?",
		     row->name);
	cr_assert(kt_port(fds[0]) != kt_port(fds[1]), "%s", row->name);
	for (int i = 0; i < 2; i++)
		cr_assert(kt_port(fds[i]) == START || kt_port(fds[i]) == START + 3,
			  "%s: bind(0) got %u", row->name, kt_port(fds[i]));
	cr_assert_eq(kt_bind(fds[2], KT_V4, 0), -EADDRINUSE, "%s: third bind(0)", row->name);
	for (int i = 0; i < 3; i++)
		close(fds[i]);

	/* Applied once: a second restore has nothing to say. */
	cli("restore", NULL);
	assert_silent_ok("second restore");
	kill_kids();
}

/*
 * A port held when the block was applied is handed out by bind(0) last, not lost: once its
 * holder is gone (a listener that never had a connection, so no TIME_WAIT), all the block's
 * ports go to associated sockets.
 */
Test(apply, held_port_handed_out_last, .init = kt_setup, .fini = teardown)
{
	bool seen[4] = { false };
	uint64_t token;
	int fds[4];

	cli("add", "tcp", "7000", "4", NULL);
	token = assert_token("add");
	cli("unload", NULL);
	assert_silent_ok("unload");
	hold_port("squatter", NULL, SQUAT_PORT);
	cli("load", "--cgroup", kt.cgroup, NULL);
	cr_assert_eq(R.status, 0, "load over a held port: exit %d [%s]", R.status, R.err);
	kill_kids();
	for (int i = 0; i < 4; i++) {
		int e;

		fds[i] = kt_socket(KT_V4, IPPROTO_TCP);
		cr_assert_eq(portrsv_associate(fds[i], token), 0);
		e = kt_bind(fds[i], KT_V4, 0);
		cr_assert_eq(e, 0, "bind(0) %d after the holder closed: %s", i, strerror(-e));
		cr_assert(kt_port(fds[i]) >= START && kt_port(fds[i]) < START + 4);
		seen[kt_port(fds[i]) - START] = true;
	}
	/* The held one came last. */
	cr_assert_eq(kt_port(fds[3]), SQUAT_PORT, "bind(0) handed out the held port before a free one");
	for (int i = 0; i < 4; i++) {
		cr_assert(seen[i], "port %d never handed out", START + i);
		close(fds[i]);
	}
}

/* add still refuses a block in use (only re-applying the store may apply over one). */
Test(apply, add_refuses_in_use, .init = kt_setup, .fini = teardown)
{
	char want[64];
	pid_t squat = hold_port("squatter", NULL, SQUAT_PORT);

	cli("add", "tcp", "7000", "4", NULL);
	/* The library's detail: the port, and who holds it. */
	snprintf(want, sizeof(want), "tcp %u is in use by squatter[%d] (LISTEN)", SQUAT_PORT,
		 (int)squat);
	assert_failed(3, "add over a listener", want);
	cr_assert_eq(try_bind(IPPROTO_TCP, START), 0, "a refused add left the block in force");
}

/* ================ 2. Interrupted load, unload, restore ================================ */

enum op { OP_LOAD, OP_UNLOAD, OP_RESTORE };

struct fault_row {
	char name[48];
	enum op op;
	char point[24];
	int add_want;    /* exit of `add` in the state the kill left */
	int status_want; /* exit of `status` there */
};

ParameterizedTestParameters(apply, killed)
{
	static struct fault_row rows[] = {
		{ "load, maps pinned", OP_LOAD, "load-after-maps", 6, 1 },
		{ "load, programs pinned", OP_LOAD, "load-after-progs", 6, 1 },
		{ "load, one hook linked", OP_LOAD, "attach-mid-hooks", 6, 1 },
		{ "load, attached, store not written", OP_LOAD, "load-before-store", 0, 1 },
		{ "load, before the store is applied", OP_LOAD, "apply-before-add", 0, 1 },
		{ "unload, links gone", OP_UNLOAD, "unload-after-links", 6, 1 },
		{ "unload, programs gone", OP_UNLOAD, "unload-after-progs", 6, 1 },
		{ "unload, one map unpinned", OP_UNLOAD, "unload-mid-maps", 6, 6 },
		{ "restore, loaded", OP_RESTORE, "restore-after-load", 0, 1 },
		{ "restore, one hook linked", OP_RESTORE, "attach-mid-hooks", 6, 1 },
		{ "restore, before the store is applied", OP_RESTORE, "apply-before-add", 0, 1 },
	};

	return cr_make_param_array(struct fault_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct fault_row *row, apply, killed, .init = kt_setup, .fini = teardown)
{
	cli("add", "tcp", "7000", "4", NULL);
	assert_token("add");
	portrsv_close(kt.p);
	kt.p = NULL;
	if (row->op != OP_UNLOAD) {
		cli("unload", NULL);
		assert_silent_ok("unload");
	}

	fault_point = row->point;
	if (row->op == OP_LOAD)
		cli("load", "--cgroup", kt.cgroup, NULL);
	else if (row->op == OP_UNLOAD)
		cli("unload", NULL);
	else
		cli("restore", NULL);
	fault_point = NULL;
	cr_assert_eq(R.status, 128 + SIGKILL, "%s: not killed at %s: exit %d [%s]", row->name,
		     row->point, R.status, R.err);

	/* What the kill left: add gives a token only if it is enforced. */
	cli("add", "udp", "7300", "1", NULL);
	if (row->add_want == 0) {
		assert_token(row->name);
		cr_assert_eq(try_bind(IPPROTO_UDP, 7300), -EACCES, "%s: add's token enforces nothing",
			     row->name);
	} else {
		assert_failed(row->add_want, row->name,
			      row->status_want == 6 ? "not loaded" : "nothing is enforced");
	}
	cli("status", NULL);
	cr_assert_eq(R.status, row->status_want, "%s: status exit %d [%s]", row->name, R.status,
		     R.err);
	if (row->status_want == 1)
		cr_assert(strstr(R.err, "not enforced") || strstr(R.err, "nothing is enforced"),
			  "%s: status must name the problem: [%s]", row->name, R.err);

	/* restore repairs every state. */
	cli("restore", NULL);
	assert_silent_ok(row->name);
	cr_assert_eq(try_bind(IPPROTO_TCP, SQUAT_PORT), -EACCES, "%s: not enforced after restore",
		     row->name);
	if (row->add_want == 0)
		cr_assert_eq(try_bind(IPPROTO_UDP, 7300), -EACCES, "%s: udp 7300", row->name);
	cli("status", NULL);
	cr_assert_eq(R.status, 0, "%s: status after restore: [%s]", row->name, R.err);
	cli("add", "tcp", "7500", "1", NULL);
	assert_token("add after restore");
	cr_assert_eq(try_bind(IPPROTO_TCP, 7500), -EACCES, "%s: tcp 7500", row->name);
}

/* The command that ships has none of these fault points: each run goes through. */
ParameterizedTestParameters(apply, release_has_no_faults)
{
	static struct fault_row rows[] = {
		{ "load", OP_LOAD, "load-after-maps", 0, 0 },
		{ "load", OP_LOAD, "attach-mid-hooks", 0, 0 },
		{ "restore", OP_RESTORE, "restore-after-load", 0, 0 },
		{ "restore", OP_RESTORE, "apply-before-add", 0, 0 },
		{ "unload", OP_UNLOAD, "unload-after-links", 0, 0 },
	};

	return cr_make_param_array(struct fault_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct fault_row *row, apply, release_has_no_faults, .init = kt_setup,
		  .fini = teardown)
{
	const char *bin = getenv("PORTRSV_RELEASE_BIN");
	char *load[] = { (char *)bin, "load", "--cgroup", kt.cgroup, NULL };
	char *restore[] = { (char *)bin, "restore", NULL };
	char *unload[] = { (char *)bin, "unload", NULL };
	struct run_opts o = { .fault = row->point };

	cr_assert(bin && *bin, "PORTRSV_RELEASE_BIN names the release build (make kernel-test)");
	cli("add", "tcp", "7000", "4", NULL);
	assert_token("add");
	portrsv_close(kt.p);
	kt.p = NULL;
	if (row->op != OP_UNLOAD) {
		cli("unload", NULL);
		assert_silent_ok("unload");
	}
	run_argv_opts(&o, row->op == OP_LOAD ? load : row->op == OP_RESTORE ? restore : unload);
	cr_assert_eq(R.status, 0, "%s with PORTRSV_FAULT=%s: exit %d [%s]", row->name, row->point,
		     R.status, R.err);
	cr_assert_eq(try_bind(IPPROTO_TCP, SQUAT_PORT), row->op == OP_UNLOAD ? 0 : -EACCES,
		     "%s with PORTRSV_FAULT=%s", row->name, row->point);
}

/* Concurrent unload and load: each round ends loaded and enforcing, or cleanly unloaded. */
#define RACE_ROUNDS 20

static pid_t spawn_cli(const char *a, const char *b, const char *c)
{
	char *argv[] = { (char *)portrsv_bin(), (char *)a, (char *)b, (char *)c, NULL };
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		unsetenv("PORTRSV_FAULT");
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

Test(apply, load_unload_race, .init = kt_setup, .fini = teardown)
{
	char port[8];
	int enforced = 0, unloaded = 0;

	cli("add", "tcp", "7000", "4", NULL);
	assert_token("add");
	portrsv_close(kt.p);
	kt.p = NULL;
	for (int i = 0; i < RACE_ROUNDS; i++) {
		pid_t u = spawn_cli("unload", NULL, NULL);
		pid_t l = spawn_cli("load", "--cgroup", kt.cgroup);

		cr_assert_eq(waitpid(u, NULL, 0), u);
		cr_assert_eq(waitpid(l, NULL, 0), l);
		snprintf(port, sizeof(port), "%d", 7300 + i);
		cli("add", "udp", port, "1", NULL);
		if (R.status == 0) {
			enforced++;
			cr_assert_eq(try_bind(IPPROTO_UDP, 7300 + i), -EACCES,
				     "round %d: add gave a token that enforces nothing", i);
			cr_assert_eq(try_bind(IPPROTO_TCP, SQUAT_PORT), -EACCES, "round %d", i);
		} else {
			unloaded++;
			assert_failed(6, "add after the race", "not loaded");
			cr_assert(access(kt.pin_dir, F_OK) != 0, "round %d: unloaded, but %s is left",
				  i, kt.pin_dir);
		}
		cli("restore", NULL);
		cr_assert_eq(R.status, 0, "round %d: restore: [%s]", i, R.err);
		cr_assert_eq(try_bind(IPPROTO_TCP, SQUAT_PORT), -EACCES, "round %d: restore", i);
	}
	cr_log_info("load/unload race: %d rounds ended loaded, %d unloaded", enforced, unloaded);
}

/* ================ 3. restore on a read-only state directory =========================== */

struct ro_row {
	char name[40];
	bool no_lock; /* no lock file (0.1.0 locked one, this version the directory) */
};

ParameterizedTestParameters(apply, readonly_state)
{
	static struct ro_row rows[] = {
		{ "0.1.0's lock file left there", false },
		{ "no lock file", true },
	};

	return cr_make_param_array(struct ro_row, rows, sizeof(rows) / sizeof(rows[0]));
}

static void teardown_ro(void)
{
	umount2(kt.state_dir, MNT_DETACH);
	teardown();
}

ParameterizedTest(struct ro_row *row, apply, readonly_state, .init = kt_setup,
		  .fini = teardown_ro)
{
	char path[PATH_MAX + 16];
	struct stat st0, st;

	cli("add", "tcp", "7000", "4", NULL);
	assert_token("add");
	portrsv_close(kt.p);
	kt.p = NULL;
	cli("unload", NULL);
	assert_silent_ok("unload");
	snprintf(path, sizeof(path), "%s/lock", kt.state_dir);
	if (!row->no_lock)
		close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	snprintf(path, sizeof(path), "%s/reservations", kt.state_dir);
	cr_assert_eq(stat(path, &st0), 0);

	/* A private mount namespace in which the state directory is read-only. */
	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
	cr_assert(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 ||
		  mount(NULL, "/tmp", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "%s", strerror(errno));
	cr_assert_eq(mount(kt.state_dir, kt.state_dir, NULL, MS_BIND, NULL), 0, "%s",
		     strerror(errno));
	cr_assert_eq(mount(NULL, kt.state_dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0,
		     "%s", strerror(errno));

	cli("restore", NULL);
	assert_silent_ok(row->name);
	cr_assert_eq(try_bind(IPPROTO_TCP, SQUAT_PORT), -EACCES, "%s: not enforced", row->name);
	cli("status", NULL);
	cr_assert_eq(R.status, 0, "%s: status: [%s]", row->name, R.err);
	/* Changes are refused, one line, the store as it was. */
	cli("add", "tcp", "7100", "1", NULL);
	assert_failed(1, "add on a read-only store", "Read-only");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(st.st_ino == st0.st_ino && st.st_size == st0.st_size, "%s: the store changed",
		  row->name);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7100), 0, "%s: a refused add is in force", row->name);
}

/* ================ 4. Pin and state directories that are not ours ====================== */

enum which { PIN, STATE };
enum badness { B_OK, B_SYMLINK, B_FOREIGN, B_WRITABLE };

struct dir_row {
	char name[40];
	enum which which;
	enum badness bad;
	int want; /* exit of load, and of add, status on a loaded instance */
	char cause[24];
};

ParameterizedTestParameters(apply, dirs)
{
	static struct dir_row rows[] = {
		{ "pin dir ok", PIN, B_OK, 0, "" },
		{ "pin dir a symlink", PIN, B_SYMLINK, 5, "symbolic link" },
		{ "pin dir of uid 65534", PIN, B_FOREIGN, 5, "owned by uid 65534" },
		{ "pin dir mode 0777", PIN, B_WRITABLE, 5, "writable by others" },
		{ "state dir ok", STATE, B_OK, 0, "" },
		{ "state dir a symlink", STATE, B_SYMLINK, 5, "symbolic link" },
		{ "state dir of uid 65534", STATE, B_FOREIGN, 5, "owned by uid 65534" },
		{ "state dir mode 0777", STATE, B_WRITABLE, 5, "writable by others" },
	};

	return cr_make_param_array(struct dir_row, rows, sizeof(rows) / sizeof(rows[0]));
}

static char link_path[PATH_MAX];

static void setup_unloaded(void)
{
	kt_setup_opts(false);
}

static void teardown_dirs(void)
{
	if (link_path[0])
		unlink(link_path);
	link_path[0] = '\0';
	if (kt.pin_dir[0] && !access(kt.pin_dir, F_OK)) {
		chown(kt.pin_dir, 0, 0);
		chmod(kt.pin_dir, 0700);
	}
	if (kt.state_dir[0]) {
		chown(kt.state_dir, 0, 0);
		chmod(kt.state_dir, 0700);
	}
	setenv("PORTRSV_PIN_DIR", kt.pin_dir, 1);
	setenv("PORTRSV_STATE_DIR", kt.state_dir, 1);
	teardown();
}

/* Make the directory bad as the row says; which directory the command is to use. */
static void make_bad(const char *dir, enum badness bad, const char *var)
{
	switch (bad) {
	case B_OK:
		return;
	case B_SYMLINK:
		snprintf(link_path, sizeof(link_path), "/tmp/" KT_PREFIX "%d-link", getpid());
		cr_assert_eq(symlink(dir, link_path), 0, "symlink: %s", strerror(errno));
		setenv(var, link_path, 1);
		return;
	case B_FOREIGN:
		cr_assert_eq(chown(dir, NOBODY, NOBODY), 0);
		return;
	case B_WRITABLE:
		cr_assert_eq(chmod(dir, 0777), 0);
		return;
	}
}

static int count_entries(const char *dir)
{
	char cmd[PATH_MAX + 32];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "find '%s' -mindepth 1 | wc -l", dir);
	f = popen(cmd, "r");
	cr_assert(f && fscanf(f, "%d", &n) == 1);
	pclose(f);
	return n;
}

ParameterizedTest(struct dir_row *row, apply, dirs, .init = setup_unloaded,
		  .fini = teardown_dirs)
{
	const char *dir = row->which == PIN ? kt.pin_dir : kt.state_dir;
	const char *var = row->which == PIN ? "PORTRSV_PIN_DIR" : "PORTRSV_STATE_DIR";
	char what[96], store[PATH_MAX + 16];

	/* A first load: refused, and nothing made. */
	if (row->which == PIN)
		cr_assert_eq(mkdir(kt.pin_dir, 0700), 0, "%s", strerror(errno));
	snprintf(store, sizeof(store), "%s/reservations", kt.state_dir);
	make_bad(dir, row->bad, var);
	snprintf(what, sizeof(what), "%s: load", row->name);
	cli("load", "--cgroup", kt.cgroup, NULL);
	if (!row->want) {
		assert_silent_ok(what);
		cli("add", "tcp", "7000", "4", NULL);
		assert_token(row->name);
		cr_assert_eq(try_bind(IPPROTO_TCP, START), -EACCES, "%s: not enforced", row->name);
		return;
	}
	assert_failed(row->want, what, row->cause);
	if (row->which == PIN)
		cr_assert_eq(count_entries(kt.pin_dir), 0, "%s: pins were made", what);
	else
		cr_assert(access(kt.pin_dir, F_OK) != 0, "%s: pins were made", what);
	cr_assert(access(store, F_OK) != 0, "%s: the store was written", what);

	/* A loaded instance whose directory turns bad: add and status refuse it. */
	if (link_path[0])
		unlink(link_path);
	link_path[0] = '\0';
	cr_assert_eq(chown(dir, 0, 0), 0);
	cr_assert_eq(chmod(dir, 0700), 0);
	setenv(var, dir, 1);
	cli("load", "--cgroup", kt.cgroup, NULL);
	assert_silent_ok("load with the directory repaired");
	make_bad(dir, row->bad, var);
	snprintf(what, sizeof(what), "%s: add", row->name);
	cli("add", "tcp", "7000", "4", NULL);
	assert_failed(row->want, what, row->cause);
	cr_assert_eq(try_bind(IPPROTO_TCP, START), 0, "%s: a refused add is in force", row->name);
	snprintf(what, sizeof(what), "%s: status", row->name);
	cli("status", NULL);
	cr_assert_neq(R.status, 0, "%s: exit 0 [%s]", what, R.err);
	cr_assert(strstr(R.err, row->cause), "%s: [%s]", what, R.err);
}
