// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who created a reservation (SPEC "Diagnosis"): uid, command and cgroup of the creating
 * process, recorded at creation in the store (by=) and the creators map, read back by
 * portrsv_creator(); kept across unload and restore; a store line without it loads and has
 * no creator; a load over pins without the map makes it.
 */
#include <inttypes.h>
#include <sys/prctl.h>
#include <bpf/bpf.h>
#include "testlib.h"
#include "clirun.h"
#include "json.h"
#include "store.h"

struct kt_env kt;

#define START 7700
#define COUNT 5
/* A comm with a newline, a colon, a percent sign and a control byte: stored encoded. */
#define ODD_COMM "kt\ncr:%\x01"
#define ODD_COMM_ENC "kt%0Acr%3A%25%01"

/* The test cgroup as /proc/self/cgroup names it. */
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

static void query(uint16_t port, struct portrsv_reservation *r)
{
	int err = portrsv_query(kt.p, PORTRSV_TCP, port, NULL, r);

	cr_assert_eq(err, 0, "query %u: %s", port, strerror(-err));
}

static void assert_creator(uint16_t port, uint32_t uid, const char *comm, bool cgid)
{
	PORTRSV_OPTS(portrsv_creator_info, c);
	struct portrsv_reservation r;
	uint64_t want;
	int err;

	query(port, &r);
	err = portrsv_creator(kt.p, &r, &c);
	cr_assert_eq(err, 0, "portrsv_creator: %s (%s)", strerror(-err), portrsv_errmsg());
	cr_assert_eq(c.uid, uid, "uid %u, want %u", c.uid, uid);
	cr_assert_str_eq(c.comm, comm);
	cr_assert_str_eq(c.cgroup, rel_cgroup());
	cr_assert_eq(portrsv_cgroup_id(kt.cgroup, &want, NULL), 0);
	if (cgid)
		cr_assert_eq(c.cgid, want, "cgid %" PRIu64 ", want %" PRIu64, c.cgid, want);
}

static int creators_fd(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/" PORTRSV_PIN_CREATORS, kt.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	return fd;
}

static int map_entries(void)
{
	struct portrsv_key k, next;
	int fd = creators_fd(), n = 0;

	for (int e = bpf_map_get_next_key(fd, NULL, &next); !e;
	     e = bpf_map_get_next_key(fd, &k, &next)) {
		k = next;
		n++;
	}
	close(fd);
	return n;
}

static char *store_text(void)
{
	static char buf[65536];
	char path[PATH_MAX];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/" PORTRSV_STORE_FILE, kt.state_dir);
	f = fopen(path, "re");
	cr_assert(f, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void put_store(const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(path, sizeof(path), "%s/" PORTRSV_STORE_FILE, kt.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "we");
	cr_assert(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(tmp, 0600), 0);
	cr_assert_eq(rename(tmp, path), 0);
}

static uint64_t create_odd(void)
{
	char old[PORTRSV_COMM_LEN] = "";
	uint64_t t;

	cr_assert_eq(prctl(PR_GET_NAME, old), 0);
	cr_assert_eq(prctl(PR_SET_NAME, ODD_COMM), 0);
	t = kt_reserve(PORTRSV_TCP, START, COUNT);
	prctl(PR_SET_NAME, old);
	return t;
}

static void restore(void)
{
	int n;

	portrsv_close(kt.p);
	n = portrsv_restore(NULL);
	cr_assert_eq(n, 0, "restore: %d (%s)", n, portrsv_errmsg());
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);
}

/* The API, from a process with an odd comm in the test cgroup: every field as recorded. */
KT_TEST(creator, api_records_self)
{
	char want[256];

	create_odd();
	assert_creator(START, 0, ODD_COMM, true);
	snprintf(want, sizeof(want), " by=0:%s:%s\n", ODD_COMM_ENC, rel_cgroup());
	cr_assert(strstr(store_text(), want), "no '%s' in the store:\n%s", want, store_text());
	cr_assert_eq(map_entries(), 1);
}

/* bpftool shows the map's entry with named fields (BTF). */
KT_TEST(creator, bpftool_shows_fields)
{
	char cmd[PATH_MAX + 64], out[8192] = "";
	int root, e, v;
	uint64_t cgid;
	size_t n;
	FILE *f;

	create_odd();
	cr_assert_eq(portrsv_cgroup_id(kt.cgroup, &cgid, NULL), 0);
	snprintf(cmd, sizeof(cmd), "bpftool -j map dump pinned %s/" PORTRSV_PIN_CREATORS,
		 kt.pin_dir);
	f = popen(cmd, "r");
	cr_assert(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	cr_assert_eq(pclose(f), 0, "bpftool failed: %s", out);
	root = jparse(out);
	cr_assert_eq(J[root].type, J_ARR, "%s", out);
	cr_assert_eq(jcount(root), 1, "%s", out);
	e = jchild(root, 0);
	v = jget(jget(e, "formatted", J_OBJ), "value", J_OBJ);
	cr_assert_eq(J[jget(v, "uid", J_NUM)].num, 0);
	cr_assert_eq((uint64_t)J[jget(v, "cgid", J_NUM)].num, cgid, "%s", out);
	jget(v, "comm", J_ARR);
	cr_assert_eq(J[jget(jget(jget(e, "formatted", J_OBJ), "key", J_OBJ), "port", J_NUM)].num,
		     START);
}

/* The command's add: comm "portrsv", the caller's uid and cgroup. */
KT_TEST(creator, command_add)
{
	char *argv[] = { (char *)portrsv_bin(), "add", "tcp", "7700", "5", NULL };
	struct run_opts o = { 0 };

	cr_assert_eq(run_argv_opts(&o, argv), 0, "add: %s", R.err);
	assert_creator(START, 0, "portrsv", true);
}

KT_TEST(creator, delete_removes_entry)
{
	PORTRSV_OPTS(portrsv_creator_info, c);
	struct portrsv_reservation r;

	create_odd();
	query(START, &r);
	cr_assert_eq(map_entries(), 1);
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, START, COUNT, NULL), 0);
	cr_assert_eq(map_entries(), 0);
	cr_assert_null(strstr(store_text(), " by="));
	cr_assert_eq(portrsv_creator(kt.p, &r, &c), -ENOENT);
}

KT_TEST(creator, survives_unload_and_restore)
{
	create_odd();
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
	kt.p = portrsv_open(NULL);
	cr_assert_null(kt.p);
	restore();
	assert_creator(START, 0, ODD_COMM, true);
	cr_assert_eq(map_entries(), 1);
}

/* A store written before creators were recorded: it loads, and nobody is named. */
KT_TEST(creator, older_store_line)
{
	PORTRSV_OPTS(portrsv_creator_info, c);
	struct portrsv_reservation r;
	char *text, *by, *end;

	create_odd();
	text = store_text();
	by = strstr(text, " by=");
	cr_assert(by);
	end = strchr(by, '\n');
	memmove(by, end, strlen(end) + 1);
	put_store(text);
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
	restore();
	query(START, &r);
	cr_assert_eq(portrsv_creator(kt.p, &r, &c), -ENOENT);
	cr_assert_eq(map_entries(), 0);
}

/* Restore over live maps drops an entry whose store line lost its creator. */
KT_TEST(creator, restore_drops_stale_entry)
{
	char *text, *by, *end;

	create_odd();
	text = store_text();
	by = strstr(text, " by=");
	end = strchr(by, '\n');
	memmove(by, end, strlen(end) + 1);
	put_store(text);
	cr_assert_eq(map_entries(), 1);
	restore();
	cr_assert_eq(map_entries(), 0);
}

/* A load over pins of a version without the map (an upgrade) makes it and fills it. */
KT_TEST(creator, load_over_older_pins)
{
	char path[PATH_MAX];
	const char *cg[1] = { kt.cgroup };
	int n;

	create_odd();
	portrsv_close(kt.p);
	kt.p = NULL;
	snprintf(path, sizeof(path), "%s/" PORTRSV_PIN_CREATORS, kt.pin_dir);
	cr_assert_eq(unlink(path), 0);
	PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = cg, .n_cgroups = 1);
	n = portrsv_load(&o);
	cr_assert_eq(n, 0, "load: %d (%s)", n, portrsv_errmsg());
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);
	cr_assert_eq(map_entries(), 1);
	assert_creator(START, 0, ODD_COMM, true);
}

/* Arguments: NULL, and an out->sz that does not cover the structure. */
KT_TEST(creator, bad_arguments)
{
	struct portrsv_creator_info c = { .sz = offsetof(struct portrsv_creator_info, cgroup) };
	PORTRSV_OPTS(portrsv_creator_info, ok);
	struct portrsv_reservation r;

	create_odd();
	query(START, &r);
	cr_assert_eq(portrsv_creator(kt.p, &r, &c), -EINVAL);
	cr_assert_eq(portrsv_creator(NULL, &r, &ok), -EINVAL);
	cr_assert_eq(portrsv_creator(kt.p, NULL, &ok), -EINVAL);
	cr_assert_eq(portrsv_creator(kt.p, &r, NULL), -EINVAL);
	r.token ^= 1; /* no such reservation in the store */
	cr_assert_eq(portrsv_creator(kt.p, &r, &ok), -ENOENT);
}

/* One handle asks again after the store changed: it reads the new store, not its copy. */
KT_TEST(creator, handle_follows_store)
{
	PORTRSV_OPTS(portrsv_creator_info, c);
	struct portrsv_reservation r;

	create_odd();
	assert_creator(START, 0, ODD_COMM, true);
	kt_reserve(PORTRSV_TCP, START + COUNT, 1);
	query(START + COUNT, &r);
	cr_assert_eq(portrsv_creator(kt.p, &r, &c), 0, "%s", portrsv_errmsg());
	cr_assert_str_eq(c.cgroup, rel_cgroup());
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, START + COUNT, 1, NULL), 0);
	cr_assert_eq(portrsv_creator(kt.p, &r, &c), -ENOENT);
	assert_creator(START, 0, ODD_COMM, true);
}
