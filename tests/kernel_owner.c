// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Owners follow their workload (SPEC "Owners follow their workload"): an owner is a cgroup
 * path. A service restart (rmdir + mkdir, a new cgroup id) and a boot (the owner made after
 * restore) leave the block in force for everyone else and the new cgroup entitled at once,
 * with no portrsv process running; a lookalike path never is; portrsv inside a cgroup
 * namespace names owners by the paths it sees.
 */
#include <stdarg.h>
#include <sys/mount.h>
#include <bpf/bpf.h>
#include "testlib.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */
#include "clirun.h"
#include "json.h"

struct kt_env kt;

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PSTART 7600
#define PCOUNT 10

/* Sub-cgroups a test may make, deepest first: removed in this order at teardown. */
static const char *const subs[] = { "ns/own/inner", "ns/own", "ns/other", "ns", "own/inner",
				    "x/own", "x", "own2", "ow", "own", "other" };

static void sub(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s%s%s", kt.cgroup, rel[0] ? "/" : "", rel);
}

static void make_sub(const char *rel)
{
	char path[PATH_MAX];

	sub(path, sizeof(path), rel);
	cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
}

static void remove_sub(const char *rel)
{
	char path[PATH_MAX];

	sub(path, sizeof(path), rel);
	cr_assert(rmdir(path) == 0, "rmdir %s: %s", path, strerror(errno));
}

static void teardown(void)
{
	char path[PATH_MAX];

	if (kt.cgroup[0])
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
			sub(path, sizeof(path), subs[i]);
			rmdir(path);
		}
	kt_teardown();
}

static int count_char(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static int cli(const char *first, ...)
{
	char *argv[16];
	const char *a;
	va_list ap;
	int n = 0;

	argv[n++] = (char *)portrsv_bin();
	va_start(ap, first);
	for (a = first; a && n < 15; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return run_argv_opts(&(struct run_opts){ 0 }, argv);
}

/* bind() of a fresh socket by a child that first joins cgroup rel: 0 or -errno. */
static int bind_in(const char *rel, int proto, uint16_t port)
{
	char path[PATH_MAX + 16], pid[32];
	int pfd[2], status, res = -1;
	pid_t child;

	sub(path, sizeof(path), rel);
	strcat(path, "/cgroup.procs");
	cr_assert(pipe(pfd) == 0);
	child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = open(path, O_WRONLY | O_CLOEXEC), err;

		snprintf(pid, sizeof(pid), "%d\n", getpid());
		if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
			_exit(2);
		close(fd);
		fd = socket(AF_INET, proto == PORTRSV_UDP ? SOCK_DGRAM : SOCK_STREAM, 0);
		err = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
		_exit(write(pfd[1], &err, sizeof(err)) == sizeof(err) ? 0 : 3);
	}
	close(pfd[1]);
	if (read(pfd[0], &res, sizeof(res)) != sizeof(res))
		res = -1000;
	close(pfd[0]);
	cr_assert(waitpid(child, &status, 0) == child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 && res != -1000,
		  "binding child in %s failed: status %d", rel, status);
	return -res;
}

static uint64_t owner_now(int proto)
{
	struct portrsv_reservation r;

	cr_assert_eq(portrsv_query(kt.p, proto, PSTART, NULL, &r), 0);
	return r.owner_cgid;
}

/* ---- A restart: rmdir + mkdir, nothing else ---------------------------------------------- */

struct restart_row {
	char name[40];
	int proto;
	int restarts;      /* rmdir + mkdir of the owner before the bind */
	char where[16];    /* the binding child's cgroup, below the test's */
	int want;
};

ParameterizedTestParameters(owner, restart)
{
	static struct restart_row rows[] = {
		{ "owner, never restarted", PORTRSV_TCP, 0, "own", 0 },
		{ "owner after a restart", PORTRSV_TCP, 1, "own", 0 },
		{ "owner after 3 restarts, udp", PORTRSV_UDP, 3, "own", 0 },
		{ "below the restarted owner", PORTRSV_TCP, 1, "own/inner", 0 },
		{ "sibling", PORTRSV_TCP, 1, "other", -EACCES },
		{ "parent", PORTRSV_UDP, 1, "", -EACCES },
		{ "same name, deeper", PORTRSV_TCP, 1, "x/own", -EACCES },
		{ "longer name", PORTRSV_TCP, 1, "own2", -EACCES },
		{ "prefix of the name", PORTRSV_UDP, 1, "ow", -EACCES },
	};

	return cr_make_param_array(struct restart_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct restart_row *row, owner, restart, .init = kt_setup, .fini = teardown)
{
	char owner[PATH_MAX], path[PATH_MAX];
	uint64_t tok, before, now;

	make_sub("own");
	sub(owner, sizeof(owner), "own");
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = owner);
	cr_assert_eq(portrsv_create(kt.p, row->proto, PSTART, PCOUNT, &o, &tok), 0);
	cr_assert_eq(bind_in("own", row->proto, PSTART + 1), 0, "%s: the owner, first", row->name);
	before = owner_now(row->proto);
	for (int i = 0; i < row->restarts; i++) {
		remove_sub("own");
		/* Between the two, no cgroup is the owner: nobody binds in its name. */
		cr_assert_eq(portrsv_cgroup_path(owner_now(row->proto), path, sizeof(path)), -ENOENT);
		make_sub("own");
	}
	now = owner_now(row->proto);
	cr_assert(row->restarts ? now != before : now == before, "%s: owner id %" PRIu64
		  " -> %" PRIu64, row->name, before, now);
	if (!strcmp(row->where, "x/own"))
		make_sub("x");
	if (row->where[0] && strcmp(row->where, "own"))
		make_sub(row->where);
	cr_assert_eq(bind_in(row->where, row->proto, PSTART + 2), row->want,
		     "%s: bind in %s", row->name, row->where[0] ? row->where : "the test cgroup");
	/* The library names the owner by its path, the same after every restart. */
	{
		struct portrsv_reservation r;

		cr_assert_eq(portrsv_query(kt.p, row->proto, PSTART, NULL, &r), 0);
		cr_assert_eq(portrsv_owner_path(kt.p, &r, path, sizeof(path)), 0);
		cr_assert_str_eq(path, owner);
	}
	/* The other protocol is not reserved: everyone binds it. */
	cr_assert_eq(bind_in("", row->proto == PORTRSV_TCP ? PORTRSV_UDP : PORTRSV_TCP,
			     PSTART + 3), 0);
}

/* A cgroup v1 hierarchy has its own ids and paths: the same path there is no owner. */
KT_TEST(owner, v1_lookalike)
{
	char owner[PATH_MAX], v1[] = "/tmp/portrsv-v1-XXXXXX", dir[PATH_MAX * 2], mnt[PATH_MAX];
	uint64_t tok, dead;
	pid_t child;
	int status;

	make_sub("own");
	sub(owner, sizeof(owner), "own");
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = owner);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok), 0);
	remove_sub("own");
	dead = owner_now(PORTRSV_TCP);
	cr_assert_eq(portrsv_cgroup2_mount(mnt, sizeof(mnt)), 0);
	cr_assert(mkdtemp(v1));
	/* A private v1 hierarchy of no controller, at the owner's path below its root. */
	child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("cgroup", v1, "cgroup", 0, "none,name=portrsvtest"))
			_exit(2);
		snprintf(dir, sizeof(dir), "%s%s", v1, owner + strlen(mnt));
		for (char *s = dir + strlen(v1) + 1; (s = strchr(s, '/')); s++) {
			*s = '\0';
			mkdir(dir, 0755);
			*s = '/';
		}
		if (mkdir(dir, 0755))
			_exit(3);
		rmdir(dir);
		for (char *s; (s = strrchr(dir, '/')) && s > dir + strlen(v1); ) {
			*s = '\0';
			rmdir(dir);
		}
		umount(v1);
		_exit(0);
	}
	cr_assert(waitpid(child, &status, 0) == child);
	rmdir(v1);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "v1 mkdir: status %d", status);
	cr_assert_eq(owner_now(PORTRSV_TCP), dead, "a v1 cgroup took the owner's slot");
	make_sub("own");
	cr_assert_neq(owner_now(PORTRSV_TCP), dead);
	cr_assert_eq(bind_in("own", PORTRSV_TCP, PSTART), 0);
}

/* ---- At boot the owner does not exist yet ------------------------------------------------ */

static int find_str(int arr, const char *needle)
{
	for (int i = 0; i < jcount(arr); i++)
		if (strstr(J[jchild(arr, i)].str, needle))
			return i;
	return -1;
}

Test(owner, absent_at_boot, .init = kt_setup, .fini = teardown)
{
	char owner[PATH_MAX];
	int root, waiting, problems, arr, obj;

	make_sub("own");
	sub(owner, sizeof(owner), "own");
	cli("add", "tcp", "7600", "10", "--owner", owner, "--comment", "svc", NULL);
	assert_token("add --owner");
	remove_sub("own");
	/* The boot: nothing loaded, the owner not made yet. */
	portrsv_close(kt.p);
	kt.p = NULL;
	cli("unload", NULL);
	assert_silent_ok("unload");
	cli("restore", NULL);
	cr_assert_eq(R.status, 0, "restore with an absent owner: exit %d [%s]", R.status, R.err);
	cr_assert(strstr(R.err, owner) && strstr(R.err, "not present yet"), "[%s]", R.err);
	cr_assert_eq(count_char(R.err, '\n'), 1, "one line for the owner: [%s]", R.err);
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);
	/* In force for everyone meanwhile. */
	cr_assert_eq(bind_in("", PORTRSV_TCP, PSTART), -EACCES, "the block is open at boot");
	make_sub("other");
	cr_assert_eq(bind_in("other", PORTRSV_TCP, PSTART + 1), -EACCES);

	cli("status", "--json", NULL);
	root = jparse(R.out);
	cr_assert(root >= 0, "status --json is not JSON: [%s]", R.out);
	waiting = jget(root, "waiting", J_ARR);
	problems = jget(root, "problems", J_ARR);
	cr_assert(waiting >= 0 && problems >= 0, "[%s]", R.out);
	cr_assert(find_str(waiting, owner) >= 0, "status does not list the owner as waiting: [%s]",
		  R.out);
	cr_assert(find_str(problems, owner) < 0, "a waiting owner is not a problem: [%s]", R.out);
	cli("status", NULL);
	cr_assert(matches("waiting:\n  owner [^\n]*/own of tcp 7600-7609 not present yet", R.out),
		  "[%s]", R.out);
	cli("show", "--json", NULL);
	arr = jparse(R.out);
	cr_assert(arr >= 0 && jcount(arr) == 1, "[%s]", R.out);
	obj = jchild(arr, 0);
	cr_assert_str_eq(J[jget(obj, "owner", J_STR)].str, owner);
	cr_assert_eq(J[jget(obj, "owner_present", J_BOOL)].b, false, "[%s]", R.out);

	/* The service starts: its cgroup is made, and it binds at once. */
	make_sub("own");
	cr_assert_eq(bind_in("own", PORTRSV_TCP, PSTART + 2), 0, "the owner was refused");
	cr_assert_eq(bind_in("other", PORTRSV_TCP, PSTART + 3), -EACCES);
	cli("show", "--json", NULL);
	arr = jparse(R.out);
	cr_assert(arr >= 0 && jcount(arr) == 1, "[%s]", R.out);
	cr_assert_eq(J[jget(jchild(arr, 0), "owner_present", J_BOOL)].b, true, "[%s]", R.out);
	cli("status", "--json", NULL);
	root = jparse(R.out);
	cr_assert(root >= 0);
	cr_assert_eq(jcount(jget(root, "waiting", J_ARR)), 0, "[%s]", R.out);
	/* And a restore now has nothing to say. */
	cli("restore", NULL);
	assert_silent_ok("restore with the owner present");
}

/* Deleting the last reservation of an owner frees its slot; another keeps it. */
KT_TEST(owner, slots_freed)
{
	char owner[PATH_MAX];
	struct portrsv_owner_key k, next;
	uint64_t t1, t2;
	int n, fd;

	make_sub("own");
	sub(owner, sizeof(owner), "own");
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = owner);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &t1), 0);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_UDP, PSTART, PCOUNT, &o, &t2), 0);
	fd = portrsv_obj_get(kt.pin_dir, PORTRSV_PIN_OWNER_PATHS);
	cr_assert(fd >= 0);
	for (int round = 0; round < 3; round++) {
		n = 0;
		for (int e = bpf_map_get_next_key(fd, NULL, &next); !e;
		     e = bpf_map_get_next_key(fd, &k, &next), n++)
			k = next;
		cr_assert_eq(n, round < 2 ? 1 : 0, "round %d: %d owner paths", round, n);
		if (round == 0)
			cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL), 0);
		else if (round == 1)
			cr_assert_eq(portrsv_delete(kt.p, PORTRSV_UDP, PSTART, PCOUNT, NULL), 0);
	}
	close(fd);
}

/* ---- portrsv inside a cgroup namespace ----------------------------------------------------- */

/* In a cgroup namespace rooted at the test's "ns", with cgroup2 mounted as it sees it:
 * create the reservation with owner <mount>/own. Exit status: -errno of the create. */
static int create_in_cgroupns(const char *mnt)
{
	char path[PATH_MAX + 32], pid[32];
	struct portrsv *p;
	uint64_t tok;
	int fd, err;

	sub(path, sizeof(path), "ns/cgroup.procs");
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		return 100;
	close(fd);
	if (unshare(CLONE_NEWCGROUP | CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || umount2(mnt, MNT_DETACH) ||
	    mount("cgroup2", mnt, "cgroup2", 0, NULL))
		return 101;
	snprintf(path, sizeof(path), "%s/own", mnt);
	p = portrsv_open(NULL);
	if (!p)
		return 102;
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = path);
	err = portrsv_create(p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok);
	portrsv_close(p);
	return -err;
}

KT_TEST(owner, cgroup_namespace)
{
	char mnt[PATH_MAX];
	pid_t child;
	int status;

	cr_assert_eq(portrsv_cgroup2_mount(mnt, sizeof(mnt)), 0);
	make_sub("ns");
	make_sub("ns/own");
	make_sub("ns/other");
	make_sub("own");
	child = fork();
	cr_assert(child >= 0);
	if (child == 0)
		_exit(create_in_cgroupns(mnt));
	cr_assert(waitpid(child, &status, 0) == child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "create in a cgroup namespace: status %d", WEXITSTATUS(status));
	/* The owner is the namespace's /own, which is ns/own here. */
	cr_assert_eq(bind_in("ns/own", PORTRSV_TCP, PSTART), 0, "the owner was refused");
	cr_assert_eq(bind_in("ns/other", PORTRSV_TCP, PSTART + 1), -EACCES);
	cr_assert_eq(bind_in("own", PORTRSV_TCP, PSTART + 2), -EACCES,
		     "the test cgroup's own (not below the namespace) was let in");
	cr_assert_eq(bind_in("ns", PORTRSV_TCP, PSTART + 3), -EACCES);
	/* Restarted, it is followed below the namespace's root. */
	remove_sub("ns/own");
	make_sub("ns/own");
	make_sub("ns/own/inner");
	cr_assert_eq(bind_in("ns/own", PORTRSV_TCP, PSTART + 4), 0, "the restarted owner");
	cr_assert_eq(bind_in("ns/own/inner", PORTRSV_TCP, PSTART + 5), 0);
	remove_sub("own");
	make_sub("own");
	cr_assert_eq(bind_in("own", PORTRSV_TCP, PSTART + 6), -EACCES);
}

/* ---- Errors ------------------------------------------------------------------------------ */

struct oerr_row {
	char name[40];
	int len;   /* a cgroup name of this length below the test cgroup */
	int want;
};

ParameterizedTestParameters(owner, path_length)
{
	static struct oerr_row rows[] = {
		{ "short", 8, 0 },
		{ "longest kept", 150, 0 },
		{ "too long for the key", 250, -ENAMETOOLONG },
	};

	return cr_make_param_array(struct oerr_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct oerr_row *row, owner, path_length, .init = kt_setup, .fini = kt_teardown)
{
	char name[256], dir[PATH_MAX + 256];
	uint64_t tok = 0;
	int err;

	memset(name, 'n', row->len);
	name[row->len] = '\0';
	snprintf(dir, sizeof(dir), "%s/%s", kt.cgroup, name);
	cr_assert(mkdir(dir, 0755) == 0, "mkdir: %s", strerror(errno));
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = dir);
	err = portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok);
	rmdir(dir);
	cr_assert_eq(err, row->want, "%s: %d (%s)", row->name, err, strerror(-err));
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, &tok),
		     row->want ? -ENOENT : 0);
}

/*
 * A delegated user (a subtree chowned to it, as systemd delegates to user services and
 * rootless containers) makes cgroups only below its subtree: none of them is at the owner's
 * path, whatever it is named, and the owner's own path is not its to make.
 */
static int delegated_child(void *arg)
{
	char path[PATH_MAX];
	int err;

	(void)arg;
	sub(path, sizeof(path), "own");
	if (mkdir(path, 0755) == 0 || errno != EACCES)
		return 10; /* it made the owner's cgroup itself */
	sub(path, sizeof(path), "other/own");
	if (mkdir(path, 0755))
		return 11;
	err = bind_in("other/own", PORTRSV_TCP, PSTART);
	rmdir(path);
	return err == -EACCES ? 0 : 12;
}

KT_TEST(owner, delegated_user)
{
	char owner[PATH_MAX], path[PATH_MAX + 32];
	uint64_t tok;
	int rc;

	make_sub("own");
	make_sub("other");
	sub(owner, sizeof(owner), "own");
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = owner);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok), 0);
	remove_sub("own");
	/* Delegation: the directory and its cgroup.procs belong to the user. */
	sub(path, sizeof(path), "other");
	cr_assert_eq(chown(path, NOBODY, NOBODY), 0);
	strcat(path, "/cgroup.procs");
	cr_assert_eq(chown(path, NOBODY, NOBODY), 0);
	/* Writing to cgroup.procs needs write access to the common ancestor's, too: the
	 * test's cgroup, whose procs the child may write as the delegated user's manager. */
	sub(path, sizeof(path), "cgroup.procs");
	cr_assert_eq(chmod(path, 0666), 0);
	rc = kt_unprivileged(delegated_child, NULL);
	chmod(path, 0644);
	cr_assert_eq(rc, 0, "delegated user: step %d", rc);
	cr_assert_eq(portrsv_cgroup_path(owner_now(PORTRSV_TCP), path, sizeof(path)), -ENOENT,
		     "the owner's slot names a live cgroup");
}

/*
 * Pins of 0.1.0 keep their layout across an upgrade: a reservation there kept its owner's
 * cgroup id where this version has `reserved` and its depth where this one has the slot.
 * Such an entry lets nobody in as owner until load rewrites it, in place (the block is never
 * open), with the owner's slot.
 */
KT_TEST(owner, entry_of_0_1_0_rewritten)
{
	struct portrsv_key k = { .proto = PORTRSV_PROTO_TCP, .port = PSTART };
	char owner[PATH_MAX];
	struct portrsv_resv r;
	uint64_t tok, cgid, cookie;
	uint32_t slot;

	make_sub("own");
	sub(owner, sizeof(owner), "own");
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = owner);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok), 0);
	cr_assert_eq(portrsv_netns_self(&cookie, NULL), 0);
	k.netns = cookie;
	cr_assert_eq(bpf_map_lookup_elem(kt.p->resv_fd, &k, &r), 0);
	slot = r.owner;
	cr_assert_eq(portrsv_cgroup_id(owner, &cgid, NULL), 0);
	/* As 0.1.0 wrote it: the id, and the depth below the mount (2 here) as "slot". */
	r.reserved = cgid;
	r.owner = 2;
	cr_assert_eq(bpf_map_update_elem(kt.p->resv_fd, &k, &r, BPF_EXIST), 0);
	cr_assert_eq(bind_in("own", PORTRSV_TCP, PSTART), -EACCES, "an old entry let an owner in");
	cr_assert_eq(bind_in("", PORTRSV_TCP, PSTART + 1), -EACCES, "an old entry is not enforced");
	cli("load", "--cgroup", kt.cgroup, NULL);
	cr_assert_eq(R.status, 0, "load (upgrade): exit %d [%s]", R.status, R.err);
	cr_assert_eq(bpf_map_lookup_elem(kt.p->resv_fd, &k, &r), 0);
	cr_assert_eq(r.reserved, 0);
	cr_assert_eq(r.owner, slot);
	cr_assert_eq(r.token, tok, "rewritten, not made again");
	cr_assert_eq(bind_in("own", PORTRSV_TCP, PSTART), 0, "the owner after the upgrade");
	cr_assert_eq(bind_in("", PORTRSV_TCP, PSTART + 1), -EACCES);
}

/*
 * A stored owner that cannot be followed (a path outside today's cgroup v2 mount, as after a
 * hybrid host turned unified) must not leave its block open: restore applies it with no
 * owner, refused to everyone, fails (exit 1) naming the owner, and status says so.
 */
Test(owner, unfollowable_owner, .init = kt_setup, .fini = teardown)
{
	char text[1024], path[PATH_MAX + 32];
	uint64_t cookie, ino;
	int fd;

	cr_assert_eq(portrsv_netns_self(&cookie, &ino), 0);
	snprintf(text, sizeof(text),
		 "portrsv-store 1\n"
		 "cgroup %s\n"
		 "resv tcp 7600 10 0x00000000000000b1 net:[%" PRIu64 "]:%" PRIu64
		 " /sys/fs/cgroup-gone/system.slice/own 2026-01-01T00:00:00Z old-mount\n",
		 kt.cgroup, ino, cookie);
	snprintf(path, sizeof(path), "%s/reservations", kt.state_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	cli("restore", NULL);
	cr_assert_eq(R.status, 1, "restore: exit %d [%s]", R.status, R.err);
	cr_assert(strstr(R.err, "/sys/fs/cgroup-gone/system.slice/own") &&
		  strstr(R.err, "cannot be followed") && count_char(R.err, '\n') == 1, "[%s]", R.err);
	cr_assert_eq(bind_in("", PORTRSV_TCP, 7601), -EACCES, "the block of an unfollowable owner is open");
	cli("lookup", "tcp", "7600", "10", NULL);
	cr_assert_eq(assert_token("lookup"), 0xb1);
	cli("status", NULL);
	cr_assert_eq(R.status, 1, "status: exit %d [%s]", R.status, R.err);
	cr_assert(strstr(R.err, "cannot be followed"), "[%s]", R.err);
}

/* Without the owner tracepoint's link, status says so and restore attaches it again. */
Test(owner, tracepoint_repaired, .init = kt_setup, .fini = teardown)
{
	char owner[PATH_MAX], link[PATH_MAX + 32];

	make_sub("own");
	sub(owner, sizeof(owner), "own");
	cli("add", "tcp", "7600", "10", "--owner", owner, NULL);
	assert_token("add --owner");
	snprintf(link, sizeof(link), "%s/links/cgroup_mkdir", kt.pin_dir);
	cr_assert_eq(unlink(link), 0, "%s: %s", link, strerror(errno));
	cli("status", NULL);
	cr_assert_eq(R.status, 1, "status without the tracepoint: exit %d [%s]", R.status, R.err);
	cr_assert(strstr(R.err, "owner tracepoint"), "[%s]", R.err);
	cli("restore", NULL);
	assert_silent_ok("restore repairing the tracepoint");
	cr_assert_eq(access(link, F_OK), 0);
	remove_sub("own");
	make_sub("own");
	cr_assert_eq(bind_in("own", PORTRSV_TCP, PSTART), 0, "the restarted owner after the repair");
	cli("status", NULL);
	cr_assert(!strstr(R.err, "owner tracepoint"), "[%s]", R.err);
}

/* A slot just freed is not handed to the next owner path at once (round robin). */
KT_TEST(owner, freed_slot_not_reused_at_once)
{
	char a[PATH_MAX], b[PATH_MAX];
	struct portrsv_key k = { .proto = PORTRSV_PROTO_TCP, .port = PSTART };
	struct portrsv_resv r;
	uint64_t tok, cookie;
	uint32_t first;

	make_sub("own");
	make_sub("other");
	sub(a, sizeof(a), "own");
	sub(b, sizeof(b), "other");
	cr_assert_eq(portrsv_netns_self(&cookie, NULL), 0);
	k.netns = cookie;
	PORTRSV_OPTS(portrsv_create_opts, oa, .owner_cgroup = a);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &oa, &tok), 0);
	cr_assert_eq(bpf_map_lookup_elem(kt.p->resv_fd, &k, &r), 0);
	first = r.owner;
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL), 0);
	PORTRSV_OPTS(portrsv_create_opts, ob, .owner_cgroup = b);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &ob, &tok), 0);
	cr_assert_eq(bpf_map_lookup_elem(kt.p->resv_fd, &k, &r), 0);
	cr_assert(r.owner && r.owner != first, "slot %u reused at once", first);
	cr_assert_eq(bind_in("other", PORTRSV_TCP, PSTART), 0);
	cr_assert_eq(bind_in("own", PORTRSV_TCP, PSTART + 1), -EACCES);
}
