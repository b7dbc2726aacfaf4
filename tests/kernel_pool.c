// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Pools (SPEC "Runtime reservations"): persistent reservations with PORTRSV_F_POOL, from
 * which runtime reservations are acquired. Here: what user space does with them. Create
 * with .pool/.limit (and add --pool/--limit), accepted and refused; stored with the limit
 * and restored after an unload; the kernel's entry fixed in place when the store's limit
 * changes; show and show --json; a delete refused while a runtime reservation lives; show
 * listing a runtime reservation with its acquirer.
 *
 * A runtime reservation is an entry of the pinned runtime map (token -> struct portrsv_rt,
 * abi.h) that the BPF programs write at acquire. Where this build's programs pin no such
 * map, the test pins one of that layout itself, and writes the entry the program would.
 */
#include <bpf/bpf.h>
#include <time.h>
#include "testlib.h"
#include "json.h"
#include "clirun.h"
#include "store.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */
#include <stdarg.h>

struct kt_env kt;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define POOL 7000
#define POOL_N 10

/* ---- Helpers ---------------------------------------------------------------------------- */

#define MAXW 12

/* portrsv WORDS..., NULL-terminated; as root. "@CG@" is the test's cgroup. */
static int cli(const char *first, ...)
{
	char *argv[MAXW + 2];
	int argc = 1;
	va_list ap;

	argv[0] = (char *)portrsv_bin();
	va_start(ap, first);
	for (const char *w = first; w; w = va_arg(ap, const char *)) {
		cr_assert(argc <= MAXW);
		argv[argc++] = (char *)(strcmp(w, "@CG@") ? w : kt.cgroup);
	}
	va_end(ap);
	argv[argc] = NULL;
	struct run_opts o = { 0 };

	return run_argv_opts(&o, argv);
}

/* A failure: status want, nothing on stdout, one portrsv line on stderr naming cause. */
static void assert_failed(int want, const char *what, const char *cause)
{
	size_t n = strlen(R.err);

	cr_assert_eq(R.status, want, "%s: exit %d, want %d; stdout [%s] stderr [%s]", what,
		     R.status, want, R.out, R.err);
	cr_assert_str_empty(R.out, "%s: stdout [%s]", what, R.out);
	cr_assert(n > 1 && R.err[n - 1] == '\n' && strchr(R.err, '\n') == R.err + n - 1 &&
		  !strncmp(R.err, "portrsv: ", 9), "%s: stderr must be one portrsv line: [%s]",
		  what, R.err);
	cr_assert(strstr(R.err, cause), "%s: stderr must name '%s': [%s]", what, cause, R.err);
}

static void self_netns(uint64_t *cookie, uint64_t *ino)
{
	cr_assert_eq(portrsv_netns_self(cookie, ino), 0);
}

/* The kernel's reservations; *out malloc'ed. */
static int list(struct portrsv_reservation **out)
{
	int n = portrsv_list(kt.p, out);

	cr_assert(n >= 0, "portrsv_list: %s", strerror(-n));
	return n;
}

/* The listed reservation of (proto, start), which must be there. */
static struct portrsv_reservation find(enum portrsv_proto proto, uint16_t start)
{
	struct portrsv_reservation *v = NULL, r = { 0 };
	int n = list(&v), i;

	for (i = 0; i < n && !(v[i].proto == proto && v[i].start == start); i++)
		;
	cr_assert(i < n, "%s %u is not listed", portrsv_proto_name(proto), start);
	r = v[i];
	free(v);
	return r;
}

static int count_listed(void)
{
	struct portrsv_reservation *v = NULL;
	int n = list(&v);

	free(v);
	return n;
}

/* The store as the file has it now. */
static void read_store(struct portrsv_store *s)
{
	char msg[512];
	int err = portrsv_store_read(kt.state_dir, s, msg, sizeof(msg));

	cr_assert_eq(err, 0, "store: %s", msg);
}

static const struct portrsv_store_entry *stored(const struct portrsv_store *s, int proto,
						uint16_t start)
{
	for (size_t i = 0; i < s->n; i++)
		if ((int)s->v[i].proto == proto && s->v[i].start == start)
			return &s->v[i];
	return NULL;
}

static char *store_text(void)
{
	char path[PATH_MAX + 32], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", kt.state_dir, PORTRSV_STORE_FILE);
	f = fopen(path, "re");
	cr_assert(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	cr_assert(buf && fread(buf, 1, n, f) == (size_t)n);
	fclose(f);
	return buf;
}

static void create_pool(uint16_t start, uint16_t count, uint32_t limit, uint64_t *token)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .pool = true, .limit = limit);
	int err = portrsv_create(kt.p, PORTRSV_TCP, start, count, &o, token);

	cr_assert_eq(err, 0, "create pool %u+%u limit %u: %s (%s)", start, count, limit,
		     strerror(-err), portrsv_errmsg());
}

static struct portrsv_pool_info pool_info(uint16_t start)
{
	struct portrsv_reservation r = find(PORTRSV_TCP, start);
	struct portrsv_pool_info pi;
	int err = portrsv_pool_info(kt.p, &r, &pi);

	cr_assert_eq(err, 0, "pool_info %u: %s", start, strerror(-err));
	return pi;
}

/* ---- A runtime reservation, as the acquire program writes it -------------------------- */

static bool rt_pinned_here; /* the test pinned the runtime map: it unpins it */

static int rt_map(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", kt.pin_dir, PORTRSV_PIN_RUNTIME);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	cr_assert_eq(errno, ENOENT, "%s: %s", path, strerror(errno));
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "portrsv_runtime", sizeof(__u64),
			    sizeof(struct portrsv_rt), 64, NULL);
	cr_assert(fd >= 0, "bpf_map_create: %s", strerror(errno));
	cr_assert_eq(bpf_obj_pin(fd, path), 0, "pin %s: %s", path, strerror(errno));
	rt_pinned_here = true;
	return fd;
}

static void rt_unpin(void)
{
	char path[PATH_MAX];

	if (!rt_pinned_here)
		return;
	snprintf(path, sizeof(path), "%s/%s", kt.pin_dir, PORTRSV_PIN_RUNTIME);
	unlink(path);
	rt_pinned_here = false;
}

static void teardown(void)
{
	rt_unpin();
	kt_teardown();
}

/* Write the runtime reservation token -> (start, count) of pool POOL, acquired by us. */
static void rt_put(int fd, uint64_t token, uint16_t start, uint16_t count)
{
	struct portrsv_rt rt = { .start = start, .count = count, .pool = POOL,
				 .proto = PORTRSV_TCP, .tgid = getpid() };
	struct timespec bt;
	uint64_t cookie, cgid;

	self_netns(&cookie, NULL);
	cr_assert_eq(portrsv_cgroup_id(kt.cgroup, &cgid, NULL), 0);
	rt.netns = cookie;
	rt.cgid = cgid;
	clock_gettime(CLOCK_BOOTTIME, &bt);
	rt.created_ns = (uint64_t)bt.tv_sec * 1000000000ULL + bt.tv_nsec;
	snprintf(rt.comm, sizeof(rt.comm), "pool\x1btest");
	cr_assert_eq(bpf_map_update_elem(fd, &token, &rt, BPF_NOEXIST), 0, "runtime entry: %s",
		     strerror(errno));
}

/* A handle that sees the runtime map (kt.p was opened before the test pinned it). */
static struct portrsv *reopen(void)
{
	struct portrsv *p;

	portrsv_close(kt.p);
	p = kt.p = portrsv_open(NULL);
	cr_assert(p, "portrsv_open: %s", strerror(errno));
	return p;
}

#define TEST(name) Test(pool, name, .init = kt_setup, .fini = teardown)

/* ---- Create: accepted and refused ----------------------------------------------------- */

enum pre { PRE_NONE, PRE_OVERLAP, PRE_IN_USE };

struct create_row {
	char name[48];
	uint16_t start, count;
	bool pool;
	uint32_t limit;
	bool owner;
	enum pre pre;
	int want;
	char msg[72]; /* in portrsv_errmsg() when refused */
};

ParameterizedTestParameters(pool, create)
{
	static struct create_row rows[] = {
		{ "pool, uid 0 only", POOL, POOL_N, true, 0, false, PRE_NONE, 0 },
		{ "pool, limit 5", POOL, POOL_N, true, 5, false, PRE_NONE, 0 },
		{ "pool, limit = count", POOL, POOL_N, true, POOL_N, false, PRE_NONE, 0 },
		{ "pool, limit 1", POOL, POOL_N, true, 1, false, PRE_NONE, 0 },
		{ "pool of one port", 65535, 1, true, 1, false, PRE_NONE, 0 },
		{ "plain, limit 0", POOL, POOL_N, false, 0, false, PRE_NONE, 0 },
		{ "limit > count", POOL, POOL_N, true, POOL_N + 1, false, PRE_NONE, -EINVAL,
		  "pool limit 11 is more than the pool's 10 ports" },
		{ "limit huge", POOL, POOL_N, true, UINT32_MAX, false, PRE_NONE, -EINVAL,
		  "pool limit 4294967295 is more than the pool's 10 ports" },
		{ "limit without pool", POOL, POOL_N, false, 5, false, PRE_NONE, -EINVAL,
		  "a limit (5 ports) applies to pools only" },
		{ "pool with owner", POOL, POOL_N, true, 0, true, PRE_NONE, -EINVAL,
		  "a pool has no owner cgroup" },
		{ "pool with owner and limit", POOL, POOL_N, true, 3, true, PRE_NONE, -EINVAL,
		  "a pool has no owner cgroup" },
		{ "pool overlapping a reservation", POOL, POOL_N, true, 5, false, PRE_OVERLAP,
		  -EEXIST,
		  "tcp 7000-7009 overlaps the reservation tcp 7009-7013" },
		{ "pool over a port in use", POOL, POOL_N, true, 5, false, PRE_IN_USE, -EADDRINUSE,
		  "tcp 7003 is in use by " },
		{ "pool block past 65535", 65530, 7, true, 1, false, PRE_NONE, -ERANGE,
		  "block 65530-65536 passes port 65535" },
	};
	return cr_make_param_array(struct create_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct create_row *row, pool, create, .init = kt_setup, .fini = teardown)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .pool = row->pool, .limit = row->limit,
		     .owner_cgroup = row->owner ? kt.cgroup : NULL);
	struct portrsv_store s;
	uint64_t token = 0;
	int fd = -1, before, err;
	char why[512];

	if (row->pre == PRE_OVERLAP)
		kt_reserve(PORTRSV_TCP, row->start + row->count - 1, 5);
	if (row->pre == PRE_IN_USE) {
		fd = kt_socket(KT_V4, IPPROTO_TCP);
		cr_assert_eq(kt_bind(fd, KT_V4, row->start + 3), 0);
		/* Listening: sock_diag sees a TCP socket that is only bound from Linux 6.8 on. */
		cr_assert_eq(listen(fd, 1), 0);
	}
	before = count_listed();
	err = portrsv_create(kt.p, PORTRSV_TCP, row->start, row->count, &o, &token);
	/* The detail lasts until the next call into the library (portrsv_list below). */
	snprintf(why, sizeof(why), "%s", portrsv_errmsg());
	if (fd >= 0)
		close(fd);
	/* block_valid's -ERANGE and -EINVAL are both "invalid"; compare what the row says. */
	cr_assert_eq(err, row->want, "%s: create = %d (%s), want %d (%s)", row->name, err,
		     portrsv_errmsg(), row->want, strerror(-row->want));
	read_store(&s);
	if (err) {
		cr_assert_eq(token, 0, "%s: a token on failure", row->name);
		cr_assert_eq(count_listed(), before, "%s: a refused create changed the kernel",
			     row->name);
		cr_assert_null(stored(&s, PORTRSV_TCP, row->start), "%s: stored", row->name);
		cr_assert(strstr(why, row->msg) && why[0], "%s: errmsg [%s], want [%s]", row->name,
			  why, row->msg);
	} else {
		struct portrsv_reservation r = find(PORTRSV_TCP, row->start);
		const struct portrsv_store_entry *e = stored(&s, PORTRSV_TCP, row->start);
		struct portrsv_pool_info pi;

		cr_assert_eq(r.token, token);
		cr_assert_eq(r.flags, PORTRSV_F_PERSISTENT | (row->pool ? PORTRSV_F_POOL : 0),
			     "%s: flags %#x", row->name, r.flags);
		cr_assert(e, "%s: not stored", row->name);
		cr_assert_eq(e->pool, row->pool, "%s: stored pool flag", row->name);
		cr_assert_eq(e->limit, row->limit, "%s: stored limit", row->name);
		err = portrsv_pool_info(kt.p, &r, &pi);
		if (row->pool) {
			cr_assert_eq(err, 0, "%s: pool_info: %s", row->name, strerror(-err));
			cr_assert_eq(pi.limit, row->limit);
			cr_assert_eq(pi.in_use, 0);
			cr_assert_eq(pi.runtime, 0);
		} else {
			cr_assert_eq(err, -EINVAL, "%s: pool_info of no pool = %d", row->name, err);
		}
		/* A pool is reserved like any block: a bind without a runtime token is refused. */
		fd = kt_socket(KT_V4, IPPROTO_TCP);
		cr_assert_eq(kt_bind(fd, KT_V4, row->start), -EACCES, "%s: bind into it", row->name);
		close(fd);
	}
	portrsv_store_free(&s);
}

/* ---- The command: add --pool [--limit] ------------------------------------------------ */

/* Arrays, not pointers: Criterion hands rows to the test in another process. */
struct cli_row {
	char name[48];
	char argv[MAXW][24];
	int want;
	char mention[48]; /* on failure, the stderr line names it */
	uint32_t limit;   /* on success, the pool's limit */
};

ParameterizedTestParameters(pool, cli_add)
{
	static struct cli_row rows[] = {
		{ "--pool", { "add", "tcp", "7000", "10", "--pool" }, 0, "", 0 },
		{ "--pool --limit 4", { "add", "tcp", "7000", "10", "--pool", "--limit", "4" }, 0,
		  "", 4 },
		{ "--limit first", { "add", "tcp", "7000", "10", "--limit", "10", "--pool" }, 0,
		  "", 10 },
		{ "--pool --comment --netns",
		  { "add", "tcp", "7000", "10", "--pool", "--comment", "p", "--netns",
		    "/proc/self/ns/net" }, 0, "", 0 },
		{ "--limit alone", { "add", "tcp", "7000", "10", "--limit", "4" }, 2, "--pool" },
		{ "--limit 0", { "add", "tcp", "7000", "10", "--pool", "--limit", "0" }, 2, "'0'" },
		{ "--limit > count", { "add", "tcp", "7000", "10", "--pool", "--limit", "11" }, 2,
		  "'11'" },
		{ "--limit garbage", { "add", "tcp", "7000", "10", "--pool", "--limit", "4x" }, 2,
		  "'4x'" },
		{ "--limit negative", { "add", "tcp", "7000", "10", "--pool", "--limit", "-1" }, 2,
		  "'-1'" },
		{ "--limit without value", { "add", "tcp", "7000", "10", "--pool", "--limit" }, 2,
		  "needs a value" },
		{ "--pool --owner", { "add", "tcp", "7000", "10", "--pool", "--owner", "@CG@" }, 2,
		  "owner" },
		{ "--pool=x", { "add", "tcp", "7000", "10", "--pool=x" }, 2, "--pool" },
		{ "--pool on delete", { "delete", "tcp", "7000", "10", "--pool" }, 2,
		  "does not apply" },
		{ "--limit on show", { "show", "--limit", "3" }, 2, "does not apply" },
	};
	return cr_make_param_array(struct cli_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct cli_row *row, pool, cli_add, .init = kt_setup, .fini = teardown)
{
	const char *w[MAXW];
	int n = 0;

	while (n < MAXW && row->argv[n][0]) {
		w[n] = row->argv[n];
		n++;
	}
	cli(n > 0 ? w[0] : NULL, n > 1 ? w[1] : NULL, n > 2 ? w[2] : NULL, n > 3 ? w[3] : NULL,
	    n > 4 ? w[4] : NULL, n > 5 ? w[5] : NULL, n > 6 ? w[6] : NULL, n > 7 ? w[7] : NULL,
	    n > 8 ? w[8] : NULL, NULL);
	if (row->want) {
		assert_failed(row->want, row->name, row->mention);
		cr_assert_eq(count_listed(), 0, "%s: a refused add changed the kernel", row->name);
		return;
	}
	cr_assert_eq(R.status, 0, "%s: exit %d [%s]", row->name, R.status, R.err);
	cr_assert_str_empty(R.err, "%s: stderr [%s]", row->name, R.err);
	cr_assert_eq(find(PORTRSV_TCP, 7000).token, strtoull(R.out, NULL, 16));
	cr_assert(find(PORTRSV_TCP, 7000).flags & PORTRSV_F_POOL, "%s: no pool", row->name);
	cr_assert_eq(pool_info(7000).limit, row->limit, "%s: limit", row->name);
}

/* A pool refused at add like any block: exit 3 for an overlap and a port in use. */
TEST(cli_add_conflicts)
{
	int fd;

	cli("add", "tcp", "7005", "10", NULL);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	cli("add", "tcp", "7000", "10", "--pool", "--limit", "2", NULL);
	assert_failed(3, "pool over a reservation", "7005");
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(kt_bind(fd, KT_V4, 8003), 0);
	cr_assert_eq(listen(fd, 1), 0); /* sock_diag sees bound-only TCP from 6.8 on */
	cli("add", "tcp", "8000", "10", "--pool", NULL);
	close(fd);
	assert_failed(3, "pool over a port in use", "in use");
	cr_assert_eq(count_listed(), 1);
}

/* ---- Stored and restored --------------------------------------------------------------- */

TEST(stored_and_restored)
{
	struct portrsv_reservation r;
	uint64_t t1, t2, t3;
	char *text;
	int err;

	create_pool(POOL, POOL_N, 4, &t1);
	create_pool(8000, 20, 0, &t2);
	t3 = kt_reserve(PORTRSV_TCP, 9000, 5);
	text = store_text();
	/* The creator (by=) follows the pool field. */
	cr_assert(strstr(text, " pool=4 by="), "[%s]", text);
	cr_assert(strstr(text, " - pool by="), "[%s]", text);
	free(text);

	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(portrsv_unload(NULL), 0);
	PORTRSV_OPTS(portrsv_restore_opts, o);
	err = portrsv_restore(&o);
	cr_assert_eq(err, 0, "restore: %d (%s)", err, portrsv_errmsg());
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);

	r = find(PORTRSV_TCP, POOL);
	cr_assert_eq(r.token, t1);
	cr_assert_eq(r.flags, PORTRSV_F_PERSISTENT | PORTRSV_F_POOL);
	cr_assert_eq(pool_info(POOL).limit, 4);
	r = find(PORTRSV_TCP, 8000);
	cr_assert_eq(r.token, t2);
	cr_assert_eq(r.flags, PORTRSV_F_PERSISTENT | PORTRSV_F_POOL);
	cr_assert_eq(pool_info(8000).limit, 0);
	r = find(PORTRSV_TCP, 9000);
	cr_assert_eq(r.token, t3);
	cr_assert_eq(r.flags, PORTRSV_F_PERSISTENT, "a plain reservation became %#x", r.flags);
}

/* A store written by 0.1.0 (nine fields a line) loads unchanged: no pool anywhere. */
TEST(old_store_loads)
{
	char path[PATH_MAX + 32];
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/%s", kt.state_dir, PORTRSV_STORE_FILE);
	f = fopen(path, "we");
	cr_assert(f);
	fprintf(f, "# portrsv persistent reservations; format: portrsv-store(5). Written by "
		   "portrsv.\nportrsv-store 1\ncgroup %s\nresv tcp 7000 10 0x0123456789abcdef - - "
		   "2026-11-25T15:00:00Z web%%20pool\n", kt.cgroup);
	fclose(f);
	PORTRSV_OPTS(portrsv_restore_opts, o);
	err = portrsv_restore(&o);
	/* The test's netns is not PID 1's: "-" is the host's, where restore applies it. */
	cr_assert(err >= 0, "restore: %d (%s)", err, portrsv_errmsg());
	struct portrsv_store s;

	read_store(&s);
	cr_assert_eq(s.n, 1);
	cr_assert(!s.v[0].pool && !s.v[0].limit);
	cr_assert_str_eq(s.v[0].comment, "web pool");
	portrsv_store_free(&s);
}

/*
 * The store's limit changed (an administrator's edit; a killed delete left the kernel's
 * entry closed): restore changes the kernel's entry in place, counters kept, never a remove
 * and an add.
 */
struct fix_row {
	char name[40];
	bool pool_before;
	uint32_t limit_before;
	bool pool_after;
	uint32_t limit_after;
};

ParameterizedTestParameters(pool, restore_fixes)
{
	static struct fix_row rows[] = {
		{ "limit raised", true, 2, true, 8 },
		{ "limit dropped", true, 2, true, 0 },
		{ "limit set", true, 0, true, 3 },
		{ "pool became plain", true, 2, false, 0 },
		{ "plain became pool", false, 0, true, 5 },
	};
	return cr_make_param_array(struct fix_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct fix_row *row, pool, restore_fixes, .init = kt_setup, .fini = teardown)
{
	PORTRSV_OPTS(portrsv_create_opts, co, .pool = row->pool_before, .limit = row->limit_before);
	struct portrsv_reservation r;
	struct portrsv_store s;
	uint64_t token;
	int fd, err;

	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, POOL, POOL_N, &co, &token), 0);
	/* One refused bind: a counter that a remove and an add would reset. */
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(kt_bind(fd, KT_V4, POOL + 1), -EACCES);
	close(fd);
	cr_assert_eq(find(PORTRSV_TCP, POOL).denied, 1);

	read_store(&s);
	cr_assert_eq(s.n, 1);
	s.v[0].pool = row->pool_after;
	s.v[0].limit = row->limit_after;
	cr_assert_eq(portrsv_store_write(kt.state_dir, &s), 0);
	portrsv_store_free(&s);
	PORTRSV_OPTS(portrsv_restore_opts, o);
	err = portrsv_restore(&o);
	cr_assert_eq(err, 0, "%s: restore: %d (%s)", row->name, err, portrsv_errmsg());

	r = find(PORTRSV_TCP, POOL);
	cr_assert_eq(r.token, token, "%s: token", row->name);
	cr_assert_eq(r.denied, 1, "%s: counters reset: removed and added again", row->name);
	cr_assert_eq(!!(r.flags & PORTRSV_F_POOL), row->pool_after, "%s: flags %#x", row->name,
		     r.flags);
	if (row->pool_after)
		cr_assert_eq(pool_info(POOL).limit, row->limit_after, "%s: limit", row->name);
}

/* ---- show ------------------------------------------------------------------------------ */

TEST(show_pool)
{
	uint64_t t1, t2, t3;
	int root, o;

	create_pool(POOL, POOL_N, 4, &t1);
	create_pool(8000, 20, 0, &t2);
	t3 = kt_reserve(PORTRSV_TCP, 9000, 5);

	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	root = jparse(R.out);
	cr_assert_eq(J[root].type, J_ARR);
	cr_assert_eq(jcount(root), 3, "[%s]", R.out);
	o = jchild(root, 0);
	cr_assert_str_eq(J[jget(o, "kind", J_STR)].str, "pool");
	cr_assert_eq(J[jget(o, "start", J_NUM)].num, POOL);
	cr_assert_eq(J[jget(o, "count", J_NUM)].num, POOL_N);
	cr_assert_eq(J[jget(o, "limit", J_NUM)].num, 4);
	cr_assert_eq(J[jget(o, "in_use", J_NUM)].num, 0);
	cr_assert_eq(strtoull(J[jget(o, "token", J_STR)].str, NULL, 16), t1);
	cr_assert(J[jget(o, "persistent", J_BOOL)].b);
	jget(o, "owner", J_NULL);
	jget(o, "created", J_STR);
	jget(o, "netns", J_STR);
	jget(o, "comment", J_STR);
	o = jchild(root, 1);
	cr_assert_str_eq(J[jget(o, "kind", J_STR)].str, "pool");
	jget(o, "limit", J_NULL);
	cr_assert_eq(J[jget(o, "in_use", J_NUM)].num, 0);
	cr_assert_eq(strtoull(J[jget(o, "token", J_STR)].str, NULL, 16), t2);
	o = jchild(root, 2);
	cr_assert_str_eq(J[jget(o, "kind", J_STR)].str, "persistent");
	cr_assert_eq(strtoull(J[jget(o, "token", J_STR)].str, NULL, 16), t3);
	for (int i = o + 1; i < NJ; i++)
		cr_assert(J[i].parent != o || (strcmp(J[i].key, "limit") &&
					       strcmp(J[i].key, "in_use")),
			  "a plain reservation has pool keys: [%s]", R.out);

	cli("show", NULL);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	cr_assert(strstr(R.out, "Kind"), "[%s]", R.out);
	cr_assert(matches("\n +7000 +7009 +0x[0-9a-f]{16} +0 +net:\\[[0-9]+\\] +pool +- +limit 4 "
			  "per cgroup, 0 in use\n", R.out), "[%s]", R.out);
	cr_assert(matches("\n +8000 +8019 +0x[0-9a-f]{16} +0 +net:\\[[0-9]+\\] +pool +- +uid 0 "
			  "only, 0 in use\n", R.out), "[%s]", R.out);
	cr_assert(matches("\n +9000 +9004 +0x[0-9a-f]{16} +0 +net:\\[[0-9]+\\] +persistent +- *\n",
			  R.out), "[%s]", R.out);
}

/* ---- Runtime reservations: listed, shown, and holding their pool ------------------------ */

TEST(runtime_listed)
{
	struct portrsv_runtime_info *v = NULL;
	struct portrsv_pool_info pi;
	uint64_t t, cookie, ino, cgid;
	time_t lo = time(NULL) - 1, hi;
	int fd, n;

	create_pool(POOL, POOL_N, 4, &t);
	n = portrsv_list_runtime(kt.p, &v);
	cr_assert_eq(n, 0, "runtime reservations before any: %d", n);
	free(v);
	fd = rt_map();
	rt_put(fd, 0x1122334455667788ULL, POOL + 2, 3);
	hi = time(NULL) + 1;
	reopen();

	n = portrsv_list_runtime(kt.p, &v);
	cr_assert_eq(n, 1, "%d", n);
	self_netns(&cookie, &ino);
	cr_assert_eq(portrsv_cgroup_id(kt.cgroup, &cgid, NULL), 0);
	cr_assert_eq(v[0].proto, PORTRSV_TCP);
	cr_assert_eq(v[0].start, POOL + 2);
	cr_assert_eq(v[0].count, 3);
	cr_assert_eq(v[0].pool, POOL);
	cr_assert_eq(v[0].token, 0x1122334455667788ULL);
	cr_assert_eq(v[0].netns_cookie, cookie);
	cr_assert_eq(v[0].netns_ino, ino, "netns inode from the pool");
	cr_assert_eq(v[0].cgid, cgid);
	cr_assert_eq(v[0].pid, (uint32_t)getpid());
	cr_assert_str_eq(v[0].comm, "pool\x1btest");
	cr_assert((time_t)v[0].created >= lo && (time_t)v[0].created <= hi,
		  "created %llu not in [%lld, %lld]", (unsigned long long)v[0].created,
		  (long long)lo, (long long)hi);
	free(v);
	pi = pool_info(POOL);
	cr_assert_eq(pi.in_use, 3);
	cr_assert_eq(pi.runtime, 1);
	cr_assert_eq(pi.limit, 4);

	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	{
		int root = jparse(R.out), o;
		char cgpath[PATH_MAX];

		cr_assert_eq(jcount(root), 2, "[%s]", R.out);
		o = jchild(root, 0);
		cr_assert_str_eq(J[jget(o, "kind", J_STR)].str, "pool");
		cr_assert_eq(J[jget(o, "in_use", J_NUM)].num, 3);
		o = jchild(root, 1);
		cr_assert_str_eq(J[jget(o, "kind", J_STR)].str, "runtime");
		cr_assert_eq(J[jget(o, "start", J_NUM)].num, POOL + 2);
		cr_assert_eq(J[jget(o, "count", J_NUM)].num, 3);
		cr_assert_eq(J[jget(o, "pool", J_NUM)].num, POOL);
		cr_assert_eq(J[jget(o, "pid", J_NUM)].num, getpid());
		cr_assert_str_eq(J[jget(o, "token", J_STR)].str, "0x1122334455667788");
		cr_assert(!J[jget(o, "persistent", J_BOOL)].b);
		cr_assert_eq(portrsv_cgroup_path(cgid, cgpath, sizeof(cgpath)), 0);
		cr_assert_str_eq(J[jget(o, "cgroup", J_STR)].str, cgpath);
		/* The comm's ESC is escaped text, not a raw control character. */
		cr_assert_str_eq(J[jget(o, "comm", J_STR)].str, "pool\x1btest");
		jget(o, "owner", J_NULL);
		jget(o, "created", J_STR);
	}
	cli("show", NULL);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	cr_assert_null(strchr(R.out, '\x1b'), "a raw ESC reached the terminal: [%s]", R.out);
	{
		char re[PATH_MAX + 256], cgpath[PATH_MAX];

		cr_assert_eq(portrsv_cgroup_path(cgid, cgpath, sizeof(cgpath)), 0);
		snprintf(re, sizeof(re), "\n +7002 +7004 +0x1122334455667788 +0 +net:\\[%"
			 PRIu64 "\\] +runtime +- +pid %d \\(pool.u001btest\\) in %s, pool 7000\n", ino, getpid(),
			 cgpath);
		cr_assert(matches(re, R.out), "want /%s/ in [%s]", re, R.out);
		cr_assert(strstr(R.out, "limit 4 per cgroup, 3 in use"), "[%s]", R.out);
	}
}

struct del_row {
	char name[40];
	bool via_cli;
	bool ino_form; /* delete --netns net:[INO] */
};

ParameterizedTestParameters(pool, delete_refused)
{
	static struct del_row rows[] = {
		{ "API", false, false },
		{ "command", true, false },
		{ "command, --netns net:[INO]", true, true },
	};
	return cr_make_param_array(struct del_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct del_row *row, pool, delete_refused, .init = kt_setup, .fini = teardown)
{
	uint64_t t, tok = 0x0a0b0c0d0e0f1011ULL, got, ino;
	char nsname[64];
	struct portrsv_store s;
	int fd, err;

	create_pool(POOL, POOL_N, 5, &t);
	fd = rt_map();
	rt_put(fd, tok, POOL, 4);
	reopen();
	self_netns(NULL, &ino);
	snprintf(nsname, sizeof(nsname), "net:[%" PRIu64 "]", ino);

	if (row->via_cli) {
		if (row->ino_form)
			cli("delete", "tcp", "7000", "10", "--netns", nsname, NULL);
		else
			cli("delete", "tcp", "7000", "10", NULL);
		assert_failed(3, row->name, "1 runtime reservation (4 ports) held by pid");
		{
			char pid[32];

			snprintf(pid, sizeof(pid), "pid %d", getpid());
			cr_assert(strstr(R.err, pid), "%s: [%s]", row->name, R.err);
		}
	} else {
		PORTRSV_OPTS(portrsv_ns_opts, o, .netns = NULL);
		err = portrsv_delete(kt.p, PORTRSV_TCP, POOL, POOL_N, &o);
		cr_assert_eq(err, -EADDRINUSE, "%s: delete = %d", row->name, err);
		cr_assert(strstr(portrsv_errmsg(), "runtime reservation"), "[%s]", portrsv_errmsg());
	}
	/* Nothing changed: the pool is there, open to acquires, stored; lookup finds it. */
	cr_assert_eq(find(PORTRSV_TCP, POOL).flags, PORTRSV_F_PERSISTENT | PORTRSV_F_POOL);
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, POOL, POOL_N, NULL, &got), 0);
	cr_assert_eq(got, t);
	read_store(&s);
	cr_assert(stored(&s, PORTRSV_TCP, POOL), "%s: gone from the store", row->name);
	portrsv_store_free(&s);
	/* restore keeps it, and never touches the runtime reservation. */
	PORTRSV_OPTS(portrsv_restore_opts, ro);
	cr_assert_eq(portrsv_restore(&ro), 0, "%s", portrsv_errmsg());
	cr_assert_eq(pool_info(POOL).in_use, 4);

	/* The runtime reservation ends: the delete goes through. */
	cr_assert_eq(bpf_map_delete_elem(fd, &tok), 0);
	if (row->via_cli) {
		cli("delete", "tcp", "7000", "10", NULL);
		cr_assert_eq(R.status, 0, "%s: [%s]", row->name, R.err);
	} else {
		cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, POOL, POOL_N, NULL), 0);
	}
	cr_assert_eq(count_listed(), 0);
	close(fd);
}

/* A pool the store lost while a runtime reservation lives in it: kept, and reported. */
TEST(restore_keeps_held_pool)
{
	struct portrsv_store s;
	uint64_t t;
	int fd, err;

	create_pool(POOL, POOL_N, 5, &t);
	fd = rt_map();
	rt_put(fd, 77, POOL + 5, 2);
	read_store(&s);
	portrsv_store_remove(&s, 0);
	cr_assert_eq(portrsv_store_write(kt.state_dir, &s), 0);
	portrsv_store_free(&s);
	PORTRSV_OPTS(portrsv_restore_opts, o);
	err = portrsv_restore(&o);
	cr_assert_eq(err, 1, "restore = %d: the kept pool is a failure to apply", err);
	reopen();
	cr_assert_eq(find(PORTRSV_TCP, POOL).token, t);
	cr_assert_eq(pool_info(POOL).in_use, 2);
	/* Once it ends, restore removes the pool. */
	cr_assert_eq(bpf_map_delete_elem(fd, &(uint64_t){ 77 }), 0);
	cr_assert_eq(portrsv_restore(&o), 0);
	cr_assert_eq(count_listed(), 0);
	close(fd);
}

/* What restore reported, a line each. */
struct lines {
	int n;
	char v[8][512];
};

static void collect(const char *msg, void *ctx)
{
	struct lines *l = ctx;

	cr_assert(!strchr(msg, '\n'), "a report of two lines: [%s]", msg);
	if (l->n < 8)
		snprintf(l->v[l->n], sizeof(l->v[0]), "%s", msg);
	l->n++;
}

/*
 * One failure, one line, one count. A stored reservation whose owner cannot be followed
 * (outside today's cgroup v2 mount) and whose block cannot be applied either (a pool the
 * store lost is kept over it, a runtime reservation living in it) is one item that could not
 * be applied: one "skipped" line, not also an "applied with no owner" one that the skip
 * contradicts. Blocks are written one way (7000-7009), never 7000+10.
 */
TEST(restore_reports_a_failure_once)
{
	struct portrsv_store s;
	struct portrsv_store_entry e;
	struct lines l = { 0 };
	char owner[] = "/sys/fs/cgroup-gone/system.slice/own";
	uint64_t t;
	int fd, err;

	create_pool(POOL, POOL_N, 5, &t);
	fd = rt_map();
	rt_put(fd, 77, POOL + 5, 2);
	read_store(&s);
	e = s.v[0];
	e.pool = false;
	e.limit = 0;
	e.count = 5;
	e.token = 0xb1;
	e.owner = owner;
	cr_assert_eq(portrsv_store_add(&s, &e), 0);
	portrsv_store_remove(&s, 0);
	cr_assert_eq(portrsv_store_write(kt.state_dir, &s), 0);
	portrsv_store_free(&s);
	PORTRSV_OPTS(portrsv_restore_opts, o, .report = collect, .ctx = &l);
	err = portrsv_restore(&o);
	cr_assert_eq(l.n, 2, "want the kept pool and the skipped block, %d lines: [%s] [%s] [%s]",
		     l.n, l.v[0], l.v[1], l.v[2]);
	cr_assert_eq(err, 2, "restore = %d: two items could not be applied", err);
	cr_assert(strstr(l.v[0], "kept pool tcp 7000-7009 that the store does not have") ||
		  strstr(l.v[1], "kept pool tcp 7000-7009 that the store does not have"),
		  "[%s] [%s]", l.v[0], l.v[1]);
	cr_assert(strstr(l.v[0], "skipped tcp 7000-7004") || strstr(l.v[1], "skipped tcp 7000-7004"),
		  "[%s] [%s]", l.v[0], l.v[1]);
	for (int i = 0; i < 2; i++) {
		cr_assert(!strstr(l.v[i], "cannot be followed"), "a second line: [%s]", l.v[i]);
		cr_assert(!strchr(l.v[i], '+'), "a block not written 7000-7009: [%s]", l.v[i]);
		cr_assert(!strstr(l.v[i], "0x"), "a token: [%s]", l.v[i]);
	}
	/* The kept pool still refuses the block to everyone else. */
	reopen();
	cr_assert_eq(find(PORTRSV_TCP, POOL).token, t);
	cr_assert_eq(bpf_map_delete_elem(fd, &(uint64_t){ 77 }), 0);
	close(fd);
}

/* ---- With the kernel's acquire (portrsv_acquire) -------------------------------------- */

/* A runtime reservation of count ports from the pool at POOL, on a new TCP socket. */
static int acquire(uint16_t count, struct portrsv_runtime *rt)
{
	int fd = kt_socket(KT_V4, IPPROTO_TCP), err;

	err = portrsv_acquire(fd, 0, count, rt);
	cr_assert_eq(err, 0, "acquire %u: %s", count, strerror(-err));
	cr_assert(rt->start >= POOL && rt->start + rt->count <= POOL + POOL_N);
	return fd;
}

struct acq_row {
	char name[40];
	bool via_cli;
};

ParameterizedTestParameters(pool, delete_refused_acquired)
{
	static struct acq_row rows[] = { { "API", false }, { "command", true } };

	return cr_make_param_array(struct acq_row, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct acq_row *row, pool, delete_refused_acquired, .init = kt_setup,
		  .fini = teardown)
{
	struct portrsv_runtime rt;
	char pid[32];
	uint64_t t;
	int fd, err;

	create_pool(POOL, POOL_N, 5, &t);
	reopen();
	fd = acquire(3, &rt);
	snprintf(pid, sizeof(pid), "pid %d", getpid());
	if (row->via_cli) {
		cli("delete", "tcp", "7000", "10", NULL);
		assert_failed(3, row->name, "1 runtime reservation (3 ports) held by pid");
		cr_assert(strstr(R.err, pid), "[%s]", R.err);
	} else {
		err = portrsv_delete(kt.p, PORTRSV_TCP, POOL, POOL_N, NULL);
		cr_assert_eq(err, -EADDRINUSE, "delete = %d", err);
		cr_assert(strstr(portrsv_errmsg(), pid), "[%s]", portrsv_errmsg());
	}
	/* The pool is still open to acquires: the refused delete reopened it. */
	{
		struct portrsv_runtime rt2;
		int fd2 = acquire(2, &rt2);

		cr_assert_eq(pool_info(POOL).in_use, 5);
		close(fd2);
	}
	cr_assert_eq(pool_info(POOL).in_use, 3, "closing the socket ends its reservation");
	close(fd);
	cr_assert_eq(pool_info(POOL).in_use, 0);
	if (row->via_cli) {
		cli("delete", "tcp", "7000", "10", NULL);
		cr_assert_eq(R.status, 0, "%s: [%s]", row->name, R.err);
	} else {
		cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, POOL, POOL_N, NULL), 0, "%s",
			     portrsv_errmsg());
	}
	cr_assert_eq(count_listed(), 0);
}

/* show lists a real runtime reservation: kind, pid, comm, cgroup, pool. */
TEST(show_acquired)
{
	struct portrsv_runtime rt;
	char cgpath[PATH_MAX], re[PATH_MAX + 256];
	uint64_t t, cgid;
	int fd, root, o;

	create_pool(POOL, POOL_N, 0, &t);
	reopen();
	fd = acquire(4, &rt);
	cr_assert_eq(portrsv_cgroup_id(kt.cgroup, &cgid, NULL), 0);
	cr_assert_eq(portrsv_cgroup_path(cgid, cgpath, sizeof(cgpath)), 0);

	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	root = jparse(R.out);
	cr_assert_eq(jcount(root), 2, "[%s]", R.out);
	o = jchild(root, 0);
	cr_assert_str_eq(J[jget(o, "kind", J_STR)].str, "pool");
	jget(o, "limit", J_NULL);
	cr_assert_eq(J[jget(o, "in_use", J_NUM)].num, 4);
	o = jchild(root, 1);
	cr_assert_str_eq(J[jget(o, "kind", J_STR)].str, "runtime");
	cr_assert_eq(J[jget(o, "start", J_NUM)].num, rt.start);
	cr_assert_eq(J[jget(o, "count", J_NUM)].num, 4);
	cr_assert_eq(J[jget(o, "pool", J_NUM)].num, POOL);
	cr_assert_eq(J[jget(o, "pid", J_NUM)].num, getpid());
	cr_assert_str_eq(J[jget(o, "cgroup", J_STR)].str, cgpath);
	cr_assert_eq(strtoull(J[jget(o, "token", J_STR)].str, NULL, 16), rt.token);

	cli("show", "tcp", NULL);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	snprintf(re, sizeof(re), "\n +%u +%u +0x%016" PRIx64 " +0 +net:\\[[0-9]+\\] +runtime +- +pid "
		 "%d \\([^)]*\\) in %s, pool 7000\n", rt.start, rt.start + 3, rt.token, getpid(),
		 cgpath);
	cr_assert(matches(re, R.out), "want /%s/ in [%s]", re, R.out);
	cr_assert(strstr(R.out, "uid 0 only, 4 in use"), "[%s]", R.out);
	cli("show", "udp", "--json", NULL);
	cr_assert_str_eq(R.out, "[]\n", "a tcp runtime reservation under udp");
	close(fd);
	cli("show", "--json", NULL);
	cr_assert_eq(jcount(jparse(R.out)), 1, "ended with its socket: [%s]", R.out);
}

/* restore and a changed limit leave a live runtime reservation alone. */
TEST(restore_keeps_acquired)
{
	struct portrsv_runtime rt, rt2;
	struct portrsv_store s;
	uint64_t t;
	int fd, fd2, err;

	create_pool(POOL, POOL_N, 3, &t);
	reopen();
	fd = acquire(3, &rt);
	fd2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(portrsv_acquire(fd2, 0, 1, &rt2), -EDQUOT, "limit 3 held already");
	read_store(&s);
	s.v[0].limit = 5;
	cr_assert_eq(portrsv_store_write(kt.state_dir, &s), 0);
	portrsv_store_free(&s);
	PORTRSV_OPTS(portrsv_restore_opts, o);
	err = portrsv_restore(&o);
	cr_assert_eq(err, 0, "restore: %d (%s)", err, portrsv_errmsg());
	cr_assert_eq(pool_info(POOL).limit, 5);
	cr_assert_eq(pool_info(POOL).in_use, 3, "restore dropped a runtime reservation");
	cr_assert_eq(portrsv_acquire(fd2, 0, 2, &rt2), 0, "the new limit applies");
	cr_assert_eq(pool_info(POOL).in_use, 5);
	close(fd2);
	close(fd);
}
