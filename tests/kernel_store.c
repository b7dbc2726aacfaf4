// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Issue 3 on a real kernel: the persistent store ($PORTRSV_STATE_DIR/reservations), restore
 * after a simulated reboot, reconciliation of kernel and store, stale references, refused
 * corrupt stores, crash safety (fault injection and random SIGKILLs), concurrent changes,
 * ephemeral port exclusion through ip_local_reserved_ports, and upgrades under load.
 *
 * Every test runs in its own cgroup, pin and state directories and netns (testlib.h). The
 * command ($PORTRSV_BIN) runs as a child of the test, so it shares all four. Reservations
 * made in the test's netns are stored with netns "-" (or the netns' name), which restore
 * resolves in the netns it runs in: restore always runs from the test's netns here.
 *
 * Never run `portrsv load` without --cgroup here, and never write a store without a
 * `cgroup` line for the test's cgroup: a restore that has to load would attach to the
 * host's root cgroup.
 */
#include "testlib.h"
#include "json.h"
#include "clirun.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */
#include <ctype.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include "store.h"

struct kt_env kt;

#define RESERVED_PORTS "/proc/sys/net/ipv4/ip_local_reserved_ports"
#define PORT_RANGE "/proc/sys/net/ipv4/ip_local_port_range"
#define NPORTS 65536

/* ---- Children of the test: tracked, so that .fini kills what an assert left behind ---- */

#define MAXKIDS 32
static pid_t kids[MAXKIDS];

static pid_t spawn(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid > 0) {
		for (int i = 0; i < MAXKIDS; i++) {
			if (!kids[i]) {
				kids[i] = pid;
				break;
			}
		}
	}
	return pid;
}

/* Wait for pid; its raw wait status. */
static int reap(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	for (int i = 0; i < MAXKIDS; i++)
		if (kids[i] == pid)
			kids[i] = 0;
	return status;
}

static void kill_kids(void)
{
	for (int i = 0; i < MAXKIDS; i++) {
		if (!kids[i])
			continue;
		kill(kids[i], SIGKILL);
		reap(kids[i]);
	}
}

/* Sub-cgroups a test may make below its cgroup; removed before the cgroup itself. */
static const char *const subcgs[] = { "owner", "sub" };

static void subcg(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", kt.cgroup, name);
}

static void make_subcg(char *buf, size_t len, const char *name)
{
	subcg(buf, len, name);
	cr_assert(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", buf, strerror(errno));
}

static void teardown(void)
{
	char path[PATH_MAX];

	kill_kids();
	if (kt.cgroup[0])
		for (size_t i = 0; i < sizeof(subcgs) / sizeof(subcgs[0]); i++) {
			subcg(path, sizeof(path), subcgs[i]);
			rmdir(path);
		}
	kt_teardown();
}

#define KS_TEST(name) Test(store, name, .init = kt_setup, .fini = teardown)

/* ---- Running the command ---------------------------------------------------------------- */

/* For the next command: PORTRSV_FAULT, and whether to run without CAP_DAC_*. */
static const char *fault_point;
static bool drop_dac;

static int run_argv(char *const argv[])
{
	struct run_opts o = { .fault = fault_point, .drop_dac = drop_dac };

	return run_argv_opts(&o, argv);
}

/* portrsv WORDS..., NULL-terminated. */
static int cli(const char *first, ...)
{
	char *argv[24];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)portrsv_bin();
	va_start(ap, first);
	for (const char *w = first; w; w = va_arg(ap, const char *)) {
		cr_assert(argc < 23);
		argv[argc++] = (char *)w;
	}
	va_end(ap);
	argv[argc] = NULL;
	return run_argv(argv);
}


static int count_char(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}



/* A failure with status want: nothing on stdout, exactly one "portrsv: " line on stderr. */
static void assert_failed(int want, const char *what)
{
	cr_assert_eq(R.status, want, "%s: exit %d, want %d; stdout [%s] stderr [%s]", what,
		     R.status, want, R.out, R.err);
	cr_assert_str_empty(R.out, "%s: stdout must be empty, got [%s]", what, R.out);
	cr_assert(R.nerr > 1 && R.err[R.nerr - 1] == '\n' && count_char(R.err, '\n') == 1,
		  "%s: stderr must be one line, got [%s]", what, R.err);
	cr_assert(!strncmp(R.err, "portrsv: ", 9), "%s: stderr must start with 'portrsv: ': [%s]",
		  what, R.err);
}

static char *tokstr(uint64_t t)
{
	static char buf[4][24];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "0x%016" PRIx64, t);
	return buf[i];
}

/* `portrsv lookup`: the token, or 0 when it exits 4 (not found). */
static uint64_t cli_lookup(const char *proto, unsigned start, unsigned count)
{
	char s[16], c[16];

	snprintf(s, sizeof(s), "%u", start);
	snprintf(c, sizeof(c), "%u", count);
	cli("lookup", proto, s, c, NULL);
	if (R.status == 4) {
		assert_failed(4, "lookup of a missing block");
		return 0;
	}
	return assert_token("lookup");
}

/* ---- Files ------------------------------------------------------------------------------ */

static const char *store_path(void)
{
	static char p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/%s", kt.state_dir, PORTRSV_STORE_FILE);
	return p;
}

static const char *tmp_path(void)
{
	static char p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/%s.tmp", kt.state_dir, PORTRSV_STORE_FILE);
	return p;
}

/* The whole file, NUL-terminated (*len without the NUL); NULL with errno when unreadable. */
static char *slurp_file(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	cr_assert(buf);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while ((k = read(fd, buf + n, cap - n - 1)) > 0) {
		n += k;
		if (cap - n < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
	}
	close(fd);
	cr_assert(k == 0, "read %s: %s", path, strerror(errno));
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static char *store_text(void)
{
	char *s = slurp_file(store_path(), NULL);

	cr_assert(s, "%s: %s", store_path(), strerror(errno));
	return s;
}

static void spit_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert(write(fd, buf, len) == (ssize_t)len, "write %s: %s", path, strerror(errno));
	close(fd);
}

/* How many lines of text are exactly line. */
static int count_lines(const char *text, const char *line)
{
	size_t n = strlen(line);
	int found = 0;

	for (const char *s = text; *s;) {
		const char *e = strchr(s, '\n');
		size_t l = e ? (size_t)(e - s) : strlen(s);

		found += l == n && !strncmp(s, line, n);
		s += l + (e != NULL);
	}
	return found;
}

/* How many lines start with prefix. */
static int count_prefixed(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	int found = 0;

	for (const char *s = text; *s;) {
		const char *e = strchr(s, '\n');

		found += !strncmp(s, prefix, n);
		if (!e)
			break;
		s = e + 1;
	}
	return found;
}

/* Replace every "@CG@" of src by the test's cgroup. */
static void subst_cg(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (const char *s = src; *s && o + 1 < len;) {
		if (!strncmp(s, "@CG@", 4)) {
			o += snprintf(dst + o, len - o, "%s", kt.cgroup);
			s += 4;
		} else {
			dst[o++] = *s++;
		}
	}
	dst[o < len ? o : len - 1] = '\0';
}

/* ---- Sets of reservations: the store's lines, the kernel's maps, show --json ------------ */

struct ent {
	int proto;
	unsigned start, count;
	uint64_t token;
};

#define MAXE 1024
struct eset {
	int n;
	struct ent v[MAXE];
};

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto - y->proto;
	return (int)x->start - (int)y->start;
}

static void set_sort(struct eset *s)
{
	qsort(s->v, s->n, sizeof(s->v[0]), cmp_ent);
}

static void set_add(struct eset *s, int proto, unsigned start, unsigned count, uint64_t token)
{
	cr_assert(s->n < MAXE);
	s->v[s->n++] = (struct ent){ proto, start, count, token };
	set_sort(s);
}

/* The entry for exactly (proto, start, count), or -1. */
static int set_find(const struct eset *s, int proto, unsigned start, unsigned count)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i].proto == proto && s->v[i].start == start && s->v[i].count == count)
			return i;
	return -1;
}

static void set_del(struct eset *s, int i)
{
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
	s->n--;
}

static int proto_num(const char *s)
{
	if (!strcmp(s, "tcp"))
		return PORTRSV_TCP;
	if (!strcmp(s, "udp"))
		return PORTRSV_UDP;
	cr_assert_fail("protocol '%s'", s);
	return 0;
}

static const char *pname(int proto)
{
	return proto == PORTRSV_TCP ? "tcp" : "udp";
}

/* One "resv ..." line of the store. */
static struct ent resv_line(const char *line)
{
	char proto[8], tok[32], ns[PATH_MAX], owner[PATH_MAX], when[32], comment[256];
	unsigned st, ct;

	cr_assert(!strncmp(line, "resv ", 5), "unexpected store line [%s]", line);
	cr_assert(sscanf(line, "resv %7s %u %u %31s %4095s %4095s %31s %255s", proto, &st, &ct,
			 tok, ns, owner, when, comment) == 8, "bad resv line [%s]", line);
	cr_assert(matches("^0x[0-9a-f]{16}$", tok), "bad token in [%s]", line);
	return (struct ent){ proto_num(proto), st, ct, strtoull(tok, NULL, 16) };
}

/* The store's reservations, read by this test's own reading of the format: comment and blank
 * lines, then the header, then cgroup and resv lines. */
static void parse_store_text(const char *text, struct eset *s)
{
	char *copy = strdup(text), *save, *line;
	bool header = false;

	cr_assert(copy);
	s->n = 0;
	cr_assert(!*text || text[strlen(text) - 1] == '\n', "store does not end in a newline");
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !line[strspn(line, " \t")])
			continue;
		if (!header) {
			cr_assert_str_eq(line, "portrsv-store 1", "store header: [%s]", line);
			header = true;
			continue;
		}
		if (!strncmp(line, "cgroup ", 7))
			continue;
		cr_assert(s->n < MAXE);
		s->v[s->n++] = resv_line(line);
	}
	cr_assert(header, "store has no header: [%s]", text);
	free(copy);
	set_sort(s);
}

/* The journal's changes on s, read the same way (store.h): a line without its newline is
 * no change. */
static void apply_journal_text(const char *text, struct eset *s)
{
	const char *l = strchr(text, '\n');

	cr_assert(l && !strncmp(text, "portrsv-journal 1 ", 18), "journal header: [%.60s]", text);
	for (l++; strchr(l, '\n'); l = strchr(l, '\n') + 1) {
		char line[8192];
		size_t n = strchr(l, '\n') - l;

		cr_assert(n < sizeof(line));
		memcpy(line, l, n);
		line[n] = '\0';
		if (line[0] == '+') {
			cr_assert(s->n < MAXE);
			s->v[s->n++] = resv_line(line + 2);
			continue;
		}
		cr_assert(!strncmp(line, "- 0x", 4) && n == 20, "journal line [%s]", line);
		for (int i = 0; i < s->n; i++)
			if (s->v[i].token == strtoull(line + 2, NULL, 16)) {
				memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
				s->n--;
				break;
			}
	}
	set_sort(s);
}

static void store_set(struct eset *s)
{
	char jpath[PATH_MAX + 32], *t = store_text(), *j;

	parse_store_text(t, s);
	free(t);
	/* The tests that make one make the store large first: a journal here extends it. */
	snprintf(jpath, sizeof(jpath), "%s/%s", kt.state_dir, PORTRSV_JOURNAL_FILE);
	j = slurp_file(jpath, NULL);
	if (j && strchr(j, '\n'))
		apply_journal_text(j, s);
	free(j);
}

/* The kernel's persistent reservations, through the library. */
static void kernel_set(struct eset *s)
{
	struct portrsv_reservation *v = NULL;
	int n = portrsv_list(kt.p, &v);

	cr_assert(n >= 0, "portrsv_list: %s", strerror(-n));
	s->n = 0;
	for (int i = 0; i < n; i++) {
		if (!(v[i].flags & PORTRSV_F_PERSISTENT))
			continue;
		cr_assert(s->n < MAXE);
		s->v[s->n++] = (struct ent){ v[i].proto, v[i].start, v[i].count, v[i].token };
	}
	free(v);
	set_sort(s);
}

static void set_str(const struct eset *s, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->n && o < len; i++)
		o += snprintf(buf + o, len - o, "%s%s %u+%u %s", i ? ", " : "", pname(s->v[i].proto),
			      s->v[i].start, s->v[i].count, tokstr(s->v[i].token));
}

static void assert_sets_eq(const struct eset *a, const struct eset *b, const char *what)
{
	static char sa[16384], sb[16384];
	bool eq = a->n == b->n;

	for (int i = 0; eq && i < a->n; i++) /* field by field: padding is no part of it */
		eq = a->v[i].proto == b->v[i].proto && a->v[i].start == b->v[i].start &&
		     a->v[i].count == b->v[i].count && a->v[i].token == b->v[i].token;
	if (eq)
		return;
	set_str(a, sa, sizeof(sa));
	set_str(b, sb, sizeof(sb));
	cr_assert_fail("%s differ:\n  [%s]\n  [%s]", what, sa, sb);
}

static void assert_no_overlap(const struct eset *s, const char *what)
{
	for (int i = 1; i < s->n; i++) {
		const struct ent *x = &s->v[i - 1], *y = &s->v[i];

		cr_assert(x->proto != y->proto || x->start + x->count <= y->start,
			  "%s: %s %u+%u overlaps %u+%u", what, pname(x->proto), x->start, x->count,
			  y->start, y->count);
	}
}


/* The kernel's reservations as `portrsv show --json` prints them. */
static void json_set(struct eset *s)
{
	int root;

	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0, "show --json: exit %d [%s]", R.status, R.err);
	root = jparse(R.out);
	cr_assert_eq(J[root].type, J_ARR);
	s->n = 0;
	for (int i = 0; i < jcount(root); i++) {
		int o = jchild(root, i);

		cr_assert(s->n < MAXE);
		s->v[s->n++] = (struct ent){
			proto_num(J[jget(o, "proto", J_STR)].str),
			(unsigned)J[jget(o, "start", J_NUM)].num,
			(unsigned)J[jget(o, "count", J_NUM)].num,
			strtoull(J[jget(o, "token", J_STR)].str, NULL, 16),
		};
	}
	set_sort(s);
}

/* show --json without the "denied" counters, which binds of the test move. */
static void show_stripped(char *dst, size_t len)
{
	char *d;

	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0, "show --json: exit %d [%s]", R.status, R.err);
	jparse(R.out);
	snprintf(dst, len, "%s", R.out);
	while ((d = strstr(dst, "\"denied\": "))) {
		char *e = d + strlen("\"denied\": ");

		while (isdigit((unsigned char)*e))
			e++;
		if (!strncmp(e, ", ", 2))
			e += 2;
		memmove(d, e, strlen(e) + 1);
	}
}

/* ---- ip_local_reserved_ports ------------------------------------------------------------ */

static void sysctl_text(char *buf, size_t len)
{
	int fd = open(RESERVED_PORTS, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	cr_assert(fd >= 0, "%s: %s", RESERVED_PORTS, strerror(errno));
	n = read(fd, buf, len - 1);
	close(fd);
	cr_assert(n >= 0);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static void parse_bits(const char *s, unsigned char *bits)
{
	memset(bits, 0, NPORTS / 8);
	while (*s) {
		char *e;
		unsigned long a = strtoul(s, &e, 10), b = a;

		cr_assert(e != s && a < NPORTS, "bad port list [%s]", s);
		s = e;
		if (*s == '-') {
			b = strtoul(s + 1, &e, 10);
			cr_assert(e != s + 1 && b < NPORTS && b >= a, "bad port list [%s]", s);
			s = e;
		}
		for (unsigned long p = a; p <= b; p++)
			bits[p / 8] |= 1 << (p % 8);
		if (*s == ',')
			s++;
		else
			cr_assert(!*s, "bad port list [%s]", s);
	}
}

static bool bit(const unsigned char *bits, unsigned p)
{
	return bits[p / 8] & (1 << (p % 8));
}

static void set_bits(const struct eset *s, unsigned char *bits)
{
	memset(bits, 0, NPORTS / 8);
	for (int i = 0; i < s->n; i++)
		for (unsigned p = s->v[i].start; p < s->v[i].start + s->v[i].count; p++)
			bits[p / 8] |= 1 << (p % 8);
}

/* ip_local_reserved_ports equals want (subset: only contains it). */
static void assert_sysctl(const unsigned char *want, bool subset, const char *what)
{
	unsigned char have[NPORTS / 8];
	char text[65536];

	sysctl_text(text, sizeof(text));
	parse_bits(text, have);
	for (unsigned p = 0; p < NPORTS; p++) {
		if (bit(want, p) && !bit(have, p))
			cr_assert_fail("%s: port %u missing from ip_local_reserved_ports [%.500s]",
				       what, p, text);
		if (!subset && !bit(want, p) && bit(have, p))
			cr_assert_fail("%s: port %u in ip_local_reserved_ports but reserved by "
				       "nothing [%.500s]", what, p, text);
	}
}

static void assert_sysctl_is_store(bool subset, const char *what)
{
	static struct eset s;
	unsigned char want[NPORTS / 8];

	store_set(&s);
	set_bits(&s, want);
	assert_sysctl(want, subset, what);
}

/* ---- Binds and maps --------------------------------------------------------------------- */

static int try_bind_fam(int proto, enum kt_fam f, uint16_t port, uint64_t token)
{
	int fd = kt_socket(f, proto), err = 0;

	if (token)
		err = portrsv_associate(fd, token);
	if (!err)
		err = kt_bind(fd, f, port);
	close(fd);
	return err;
}

static int try_bind(int proto, uint16_t port)
{
	return try_bind_fam(proto, KT_V4, port, 0);
}

static uint64_t my_cookie(void)
{
	uint64_t c;

	cr_assert(portrsv_netns_self(&c, NULL) == 0);
	return c;
}

static struct portrsv_key key_of(uint64_t netns, int proto, uint16_t port)
{
	struct portrsv_key k;

	memset(&k, 0, sizeof(k));
	k.netns = netns;
	k.proto = proto;
	k.port = port;
	return k;
}

/*
 * The kernel's maps agree with themselves: every port entry belongs to a reservation that
 * covers it, every reservation has all its ports, every token names its reservation. The
 * number of faults; the first few described in why.
 */
static int map_faults(char *why, size_t len)
{
	struct portrsv_key k, next;
	struct portrsv_port pv;
	struct portrsv_resv r;
	struct portrsv_token tv;
	uint64_t t, tnext;
	size_t o = 0;
	long ports = 0, covered = 0, tokens = 0, resvs = 0;
	int faults = 0, err;

	why[0] = '\0';
#define FAULT(...)                                                                    \
	do {                                                                          \
		faults++;                                                             \
		if (o < len)                                                          \
			o += snprintf(why + o, len - o, __VA_ARGS__);                 \
	} while (0)
	for (err = bpf_map_get_next_key(kt.p->ports_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(kt.p->ports_fd, &k, &next)) {
		struct portrsv_key rk;

		k = next;
		if (bpf_map_lookup_elem(kt.p->ports_fd, &k, &pv))
			continue;
		ports++;
		rk = key_of(k.netns, k.proto, pv.start);
		if (bpf_map_lookup_elem(kt.p->resv_fd, &rk, &r))
			FAULT("port %s/%u names block %u, which has no reservation; ",
			      pname(k.proto), k.port, pv.start);
		else if (k.port < pv.start || k.port >= pv.start + r.count)
			FAULT("port %s/%u outside its reservation %u+%u; ", pname(k.proto),
			      k.port, pv.start, r.count);
	}
	for (err = bpf_map_get_next_key(kt.p->resv_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(kt.p->resv_fd, &k, &next)) {
		k = next;
		if (bpf_map_lookup_elem(kt.p->resv_fd, &k, &r))
			continue;
		resvs++;
		covered += r.count;
		if (bpf_map_lookup_elem(kt.p->tokens_fd, &r.token, &tv) ||
		    memcmp(&tv.resv, &k, sizeof(k)))
			FAULT("reservation %s %u+%u: its token does not name it; ", pname(k.proto),
			      k.port, r.count);
	}
	if (ports != covered)
		FAULT("%ld port entries for %ld reserved ports; ", ports, covered);
	for (err = bpf_map_get_next_key(kt.p->tokens_fd, NULL, &tnext); !err;
	     err = bpf_map_get_next_key(kt.p->tokens_fd, &t, &tnext)) {
		t = tnext;
		if (bpf_map_lookup_elem(kt.p->tokens_fd, &t, &tv))
			continue;
		tokens++;
		if (bpf_map_lookup_elem(kt.p->resv_fd, &tv.resv, &r) || r.token != t)
			FAULT("token %s names no reservation with that token; ", tokstr(t));
	}
	if (tokens != resvs)
		FAULT("%ld tokens for %ld reservations; ", tokens, resvs);
#undef FAULT
	return faults;
}

static void assert_maps_consistent(const char *what)
{
	char why[2048];

	cr_assert_eq(map_faults(why, sizeof(why)), 0, "%s: kernel maps inconsistent: %s", what,
		     why);
}

/* Kernel (the library's list and show --json) == store, the maps agree with themselves. */
static void assert_kernel_is_store(const char *what)
{
	static struct eset s, k, j;

	store_set(&s);
	kernel_set(&k);
	json_set(&j);
	assert_sets_eq(&s, &k, what);
	assert_sets_eq(&s, &j, what);
	assert_maps_consistent(what);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t seed_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (((uint64_t)t.tv_nsec << 20) ^ (uint64_t)t.tv_sec ^ ((uint64_t)getpid() << 40)) | 1;
}

/* ================================ 1. Store content ======================================== */

struct content_row {
	char name[40];
	bool cli;
	char proto[4];
	uint16_t start, count;
	char comment[40];  /* "" = none */
	char encoded[48];  /* the comment field as the store must write it */
};

ParameterizedTestParameters(store, content)
{
	static struct content_row rows[] = {
		{ "library tcp, no comment", false, "tcp", 7000, 10, "", "-" },
		{ "library udp, comment with space", false, "udp", 7000, 1, "web pool", "web%20pool" },
		{ "library, UTF-8 comment", false, "tcp", 7100, 5, "caf\xc3\xa9", "caf%C3%A9" },
		{ "command tcp, comment with %", true, "tcp", 65535, 1, "100%", "100%25" },
		{ "command udp, comment '-'", true, "udp", 1, 100, "-", "%2D" },
		{ "command udp, no comment", true, "udp", 20000, 300, "", "-" },
	};

	return cr_make_param_array(struct content_row, rows, sizeof(rows) / sizeof(rows[0]));
}

static void assert_modes(const char *what)
{
	struct stat st;

	cr_assert(stat(kt.state_dir, &st) == 0 && S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700, "%s: state dir mode %o, want 0700", what,
		     st.st_mode & 07777);
	cr_assert(lstat(store_path(), &st) == 0, "%s: %s: %s", what, store_path(), strerror(errno));
	cr_assert(S_ISREG(st.st_mode), "%s: store is not a regular file", what);
	cr_assert_eq(st.st_mode & 07777, 0600, "%s: store mode %o, want 0600", what,
		     st.st_mode & 07777);
}

/* The first line that is not a comment or blank. */
static void first_record(const char *text, char *buf, size_t len)
{
	for (const char *s = text; *s;) {
		const char *e = strchr(s, '\n');
		size_t l = e ? (size_t)(e - s) : strlen(s);

		if (s[0] != '#' && l > 0) {
			snprintf(buf, len, "%.*s", (int)l, s);
			return;
		}
		s += l + (e != NULL);
	}
	buf[0] = '\0';
}

ParameterizedTest(struct content_row *row, store, content, .init = kt_setup, .fini = teardown)
{
	char line[256], prefix[128], s[16], c[16], cgline[PATH_MAX + 8], *text, *l, when[32];
	int proto = proto_num(row->proto);
	time_t before = time(NULL) - 1, after;
	struct tm tm = { 0 };
	uint64_t t;

	umask(0); /* the modes must not depend on the caller's umask */
	snprintf(s, sizeof(s), "%u", row->start);
	snprintf(c, sizeof(c), "%u", row->count);
	if (row->cli) {
		if (row->comment[0])
			cli("add", row->proto, s, c, "--comment", row->comment, NULL);
		else
			cli("add", row->proto, s, c, NULL);
		t = assert_token(row->name);
	} else {
		PORTRSV_OPTS(portrsv_create_opts, o, .comment = row->comment[0] ? row->comment : NULL);
		int err = portrsv_create(kt.p, proto, row->start, row->count, &o, &t);

		cr_assert_eq(err, 0, "%s: create: %s", row->name, strerror(-err));
	}
	after = time(NULL) + 1;

	assert_modes(row->name);
	text = store_text();
	first_record(text, line, sizeof(line));
	cr_assert_str_eq(line, "portrsv-store 1", "%s: first record [%s]", row->name, line);
	snprintf(cgline, sizeof(cgline), "cgroup %s", kt.cgroup);
	cr_assert_eq(count_lines(text, cgline), 1, "%s: want one [%s] in [%s]", row->name, cgline,
		     text);
	cr_assert_eq(count_prefixed(text, "resv "), 1, "%s: want one resv line in [%s]", row->name,
		     text);
	/* resv PROTO START COUNT TOKEN NETNS OWNER CREATED COMMENT */
	{
		/* The test's own netns has no name: "-" only where PID 1's netns proves it is
		 * the host's, net:[INO]:COOKIE otherwise (a sandbox). */
		char ns[128];
		uint64_t cookie, ino;

		cr_assert_eq(portrsv_netns_self(&cookie, &ino), 0);
		cr_assert_eq(portrsv_netns_name(NULL, ino, cookie, ns, sizeof(ns)), 0);
		snprintf(prefix, sizeof(prefix), "resv %s %u %u %s %s - ", row->proto, row->start,
			 row->count, tokstr(t), ns[0] ? ns : "-");
	}
	l = strstr(text, prefix);
	cr_assert(l, "%s: no line starting [%s] in [%s]", row->name, prefix, text);
	l += strlen(prefix);
	cr_assert(sscanf(l, "%31s %255s", when, line) == 2, "%s: [%s]", row->name, l);
	cr_assert_str_eq(line, row->encoded, "%s: comment field [%s], want [%s]", row->name, line,
			 row->encoded);
	cr_assert(strptime(when, "%Y-%m-%dT%H:%M:%SZ", &tm), "%s: created [%s]", row->name, when);
	cr_assert(timegm(&tm) >= before && timegm(&tm) <= after, "%s: created %s is not now",
		  row->name, when);
	cr_assert(access(tmp_path(), F_OK) != 0);
	free(text);

	/* Delete: the line goes, the rest stays. */
	if (row->cli) {
		cli("delete", row->proto, s, c, NULL);
		assert_silent_ok(row->name);
	} else {
		int err = portrsv_delete(kt.p, proto, row->start, row->count, NULL);

		cr_assert_eq(err, 0, "%s: delete: %s", row->name, strerror(-err));
	}
	assert_modes(row->name);
	text = store_text();
	cr_assert_eq(count_prefixed(text, "resv "), 0, "%s: resv line left after delete: [%s]",
		     row->name, text);
	cr_assert(!strstr(text, tokstr(t)), "%s: token left after delete: [%s]", row->name, text);
	first_record(text, line, sizeof(line));
	cr_assert_str_eq(line, "portrsv-store 1");
	cr_assert_eq(count_lines(text, cgline), 1, "%s: cgroup line lost: [%s]", row->name, text);
	free(text);
}

/* A missing state directory is created 0700, the store 0600, whatever the umask. */
KS_TEST(state_dir_created)
{
	char cmd[PATH_MAX + 16], *text;
	uint64_t t;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kt.state_dir);
	cr_assert(system(cmd) == 0);
	umask(0);
	cli("add", "tcp", "7000", "10", NULL);
	t = assert_token("add without a state dir");
	assert_modes("fresh state dir");
	text = store_text();
	cr_assert(strstr(text, tokstr(t)), "token not stored: [%s]", text);
	free(text);
}

/* attach, detach and load record the enforced cgroups: one line each, no duplicates. */
struct cg_step {
	char cmd[8];
	char dir[4]; /* "CG" the test's cgroup, "SUB" a cgroup below it */
	int want_cg, want_sub;
};

KS_TEST(cgroup_lines)
{
	static const struct cg_step steps[] = {
		{ "attach", "SUB", 1, 1 }, { "attach", "SUB", 1, 1 }, { "detach", "SUB", 1, 0 },
		{ "detach", "CG", 0, 0 },  { "attach", "CG", 1, 0 },  { "load", "CG", 1, 0 },
		{ "attach", "SUB", 1, 1 }, { "load", "SUB", 1, 1 },   { "detach", "SUB", 1, 0 },
	};
	char sub[PATH_MAX], cgline[PATH_MAX + 8], subline[PATH_MAX + 8], what[64], *text;

	make_subcg(sub, sizeof(sub), "sub");
	snprintf(cgline, sizeof(cgline), "cgroup %s", kt.cgroup);
	snprintf(subline, sizeof(subline), "cgroup %s", sub);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct cg_step *s = &steps[i];
		const char *dir = strcmp(s->dir, "CG") ? sub : kt.cgroup;

		snprintf(what, sizeof(what), "step %zu: %s %s", i, s->cmd, s->dir);
		if (!strcmp(s->cmd, "load"))
			cli("load", "--cgroup", dir, NULL);
		else
			cli(s->cmd, dir, NULL);
		assert_silent_ok(what);
		text = store_text();
		cr_assert_eq(count_lines(text, cgline), s->want_cg, "%s: [%s] %d times in [%s]", what,
			     cgline, count_lines(text, cgline), text);
		cr_assert_eq(count_lines(text, subline), s->want_sub, "%s: [%s] %d times in [%s]",
			     what, subline, count_lines(text, subline), text);
		free(text);
	}
	cli("detach", kt.cgroup, NULL);
	assert_silent_ok("detach CG");
	cli("attach", kt.cgroup, NULL); /* the test's cgroup recorded again, for teardown */
	assert_silent_ok("attach CG");
}

/* ================================ 2. Reboot ============================================== */

struct resv_spec {
	char proto[4];
	char start[8], count[8];
	char comment[16];
	bool owner;
};

static const struct resv_spec reboot_set[] = {
	{ "tcp", "7000", "10", "web pool", false },
	{ "udp", "7000", "10", "dns", false },
	{ "tcp", "7100", "5", "owned", true },
	{ "udp", "65535", "1", "", false },
	{ "tcp", "1", "1", "", false },
};
#define N_REBOOT (sizeof(reboot_set) / sizeof(reboot_set[0]))

/* A bind of a child in the owner cgroup: 0 or -errno. */
static int bind_in_cgroup(const char *cg, int proto, uint16_t port)
{
	int pfd[2], status, res = -1;
	pid_t pid;

	cr_assert(pipe(pfd) == 0);
	pid = spawn();
	if (pid == 0) {
		char path[PATH_MAX + 16], buf[32];
		int fd, fam = AF_INET, err;
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		snprintf(buf, sizeof(buf), "%d\n", getpid());
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, buf, strlen(buf)) < 0)
			_exit(2);
		close(fd);
		fd = socket(fam, proto == PORTRSV_UDP ? SOCK_DGRAM : SOCK_STREAM, 0);
		err = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
		if (write(pfd[1], &err, sizeof(err)) != sizeof(err))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	cr_assert(read(pfd[0], &res, sizeof(res)) == sizeof(res), "child in %s failed", cg);
	close(pfd[0]);
	status = reap(pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return -res;
}

KS_TEST(reboot)
{
	static char before[OUT_MAX], after[OUT_MAX];
	unsigned char bits_before[NPORTS / 8];
	char owner[PATH_MAX], cmd[PATH_MAX + 16], *store_before, *store_after;
	uint64_t tokens[N_REBOOT];
	static struct eset s;
	struct stat st;

	make_subcg(owner, sizeof(owner), "owner");
	for (size_t i = 0; i < N_REBOOT; i++) {
		const struct resv_spec *r = &reboot_set[i];

		if (r->owner)
			cli("add", r->proto, r->start, r->count, "--comment", r->comment, "--owner",
			    owner, NULL);
		else if (r->comment[0])
			cli("add", r->proto, r->start, r->count, "--comment", r->comment, NULL);
		else
			cli("add", r->proto, r->start, r->count, NULL);
		tokens[i] = assert_token("add");
	}
	show_stripped(before, sizeof(before));
	store_set(&s);
	cr_assert_eq(s.n, (int)N_REBOOT);
	set_bits(&s, bits_before);
	assert_sysctl(bits_before, false, "before the reboot");

	/* The reboot: programs, pins and maps gone; the netns's sysctl empty. */
	portrsv_close(kt.p);
	kt.p = NULL;
	cli("unload", NULL);
	assert_silent_ok("unload");
	if (stat(kt.pin_dir, &st) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kt.pin_dir);
		cr_assert(system(cmd) == 0);
	}
	kt_write(RESERVED_PORTS, "\n");
	sysctl_text(cmd, sizeof(cmd));
	cr_assert_str_empty(cmd, "ip_local_reserved_ports not cleared: [%s]", cmd);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), 0, "still enforced after the simulated reboot");

	store_before = store_text();
	cli("restore", NULL);
	assert_silent_ok("restore after reboot");
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p, "portrsv_open after restore: %s", strerror(errno));

	show_stripped(after, sizeof(after));
	cr_assert_str_eq(after, before, "restore brought back something else:\n%s\nwant\n%s", after,
			 before);
	for (size_t i = 0; i < N_REBOOT; i++) {
		const struct resv_spec *r = &reboot_set[i];

		cr_assert_eq(cli_lookup(r->proto, atoi(r->start), atoi(r->count)), tokens[i],
			     "%s %s+%s: token changed across the reboot", r->proto, r->start,
			     r->count);
	}
	assert_sysctl(bits_before, false, "after restore");
	assert_kernel_is_store("after restore");

	/* Enforced again, tokens and owner work. */
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), -EACCES);
	cr_assert_eq(try_bind_fam(IPPROTO_TCP, KT_V4, 7001, tokens[0]), 0);
	cr_assert_eq(try_bind_fam(IPPROTO_TCP, KT_V6, 7002, 0), -EACCES);
	cr_assert_eq(try_bind(IPPROTO_UDP, 7009), -EACCES);
	cr_assert_eq(try_bind_fam(IPPROTO_UDP, KT_V4, 7009, tokens[1]), 0);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7101), -EACCES);
	cr_assert_eq(bind_in_cgroup(owner, PORTRSV_TCP, 7101), 0, "the owner cgroup lost its right");
	cr_assert_eq(bind_in_cgroup(owner, PORTRSV_UDP, 7001), -EACCES);
	cr_assert_eq(try_bind(IPPROTO_UDP, 65535), -EACCES);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7010), 0, "a port outside every block is refused");

	/* Restore again: nothing changes, not even the store. */
	cli("restore", NULL);
	assert_silent_ok("second restore");
	show_stripped(after, sizeof(after));
	cr_assert_str_eq(after, before, "second restore changed the reservations:\n%s\nwant\n%s",
			 after, before);
	assert_sysctl(bits_before, false, "after the second restore");
	store_after = store_text();
	cr_assert_str_eq(store_after, store_before, "restore rewrote the store");
	free(store_before);
	free(store_after);
}

/* A reservation in a named netns (/run/netns/NAME) comes back in that netns. */
static char named_ns[PATH_MAX];
static bool made_run_netns;

static void teardown_named(void)
{
	if (named_ns[0]) {
		umount2(named_ns, MNT_DETACH);
		unlink(named_ns);
		named_ns[0] = '\0';
	}
	if (made_run_netns)
		rmdir("/run/netns");
	made_run_netns = false;
	teardown();
}

/* A new netns with lo up, bind-mounted at named_ns. */
static void make_named_netns(void)
{
	char path[64], c;
	int ready[2], done[2], fd;
	pid_t pid;

	if (mkdir("/run/netns", 0755) == 0)
		made_run_netns = true;
	else
		cr_assert_eq(errno, EEXIST, "mkdir /run/netns: %s", strerror(errno));
	snprintf(named_ns, sizeof(named_ns), "/run/netns/" KT_PREFIX "%d", getpid());
	fd = open(named_ns, O_CREAT | O_RDONLY | O_CLOEXEC, 0444);
	cr_assert(fd >= 0, "%s: %s", named_ns, strerror(errno));
	close(fd);
	cr_assert(pipe(ready) == 0 && pipe(done) == 0);
	pid = spawn();
	if (pid == 0) {
		struct ifreq ifr = { 0 };
		int s;

		if (unshare(CLONE_NEWNET))
			_exit(2);
		s = socket(AF_INET, SOCK_DGRAM, 0);
		strcpy(ifr.ifr_name, "lo");
		if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
			_exit(3);
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) || write(ready[1], "r", 1) != 1)
			_exit(4);
		close(done[1]);
		if (read(done[0], &c, 1) < 0)
			_exit(5);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	cr_assert(read(ready[0], &c, 1) == 1, "netns child failed");
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	cr_assert(mount(path, named_ns, NULL, MS_BIND, NULL) == 0, "bind mount %s: %s", named_ns,
		  strerror(errno));
	close(done[1]);
	close(ready[0]);
	cr_assert_eq(reap(pid), 0);
}

/* Run in the named netns: fn's result. */
static void in_named(void (*fn)(void *), void *arg)
{
	int saved;

	cr_assert_eq(portrsv_netns_enter(named_ns, &saved), 0);
	fn(arg);
	portrsv_netns_leave(saved);
}

struct named_probe {
	char sysctl[256];
	int tcp_bind;   /* bind of tcp 7001 without token */
	int tcp_token;  /* with the token */
	uint64_t token;
};

static void probe(void *arg)
{
	struct named_probe *p = arg;
	int fd;

	sysctl_text(p->sysctl, sizeof(p->sysctl));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	p->tcp_bind = kt_bind(fd, KT_V4, 7001);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	p->tcp_token = portrsv_associate(fd, p->token);
	if (!p->tcp_token)
		p->tcp_token = kt_bind(fd, KT_V4, 7001);
	close(fd);
}

static void clear_sysctl(void *arg)
{
	kt_write(RESERVED_PORTS, "\n");
}

Test(store, named_netns_reboot, .init = kt_setup, .fini = teardown_named)
{
	struct named_probe pr = { 0 };
	char line[PATH_MAX + 64], own[256], *text;
	uint64_t t;

	make_named_netns();
	cli("add", "tcp", "7000", "10", "--netns", named_ns, "--comment", "named", NULL);
	t = assert_token("add --netns");
	pr.token = t;
	text = store_text();
	snprintf(line, sizeof(line), "resv tcp 7000 10 %s %s - ", tokstr(t), named_ns);
	cr_assert(strstr(text, line), "want [%s...] in [%s]", line, text);
	free(text);
	in_named(probe, &pr);
	cr_assert_str_eq(pr.sysctl, "7000-7009", "named netns sysctl [%s]", pr.sysctl);
	cr_assert_eq(pr.tcp_bind, -EACCES);
	cr_assert_eq(pr.tcp_token, 0);

	portrsv_close(kt.p);
	kt.p = NULL;
	cli("unload", NULL);
	assert_silent_ok("unload");
	in_named(clear_sysctl, NULL);
	cli("restore", NULL);
	assert_silent_ok("restore");
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);

	cli("lookup", "tcp", "7000", "10", "--netns", named_ns, NULL);
	cr_assert_eq(assert_token("lookup --netns"), t, "the token changed across the reboot");
	cr_assert_eq(cli_lookup("tcp", 7000, 10), 0, "restored into the wrong netns");
	memset(&pr, 0, sizeof(pr));
	pr.token = t;
	in_named(probe, &pr);
	cr_assert_str_eq(pr.sysctl, "7000-7009", "named netns sysctl after restore [%s]", pr.sysctl);
	cr_assert_eq(pr.tcp_bind, -EACCES, "not enforced in the named netns after restore");
	cr_assert_eq(pr.tcp_token, 0);
	sysctl_text(own, sizeof(own));
	cr_assert_str_empty(own, "the test's own netns got [%s]", own);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), 0);

	cli("delete", "tcp", "7000", "10", "--netns", named_ns, NULL);
	assert_silent_ok("delete --netns");
	memset(&pr, 0, sizeof(pr));
	pr.token = t;
	in_named(probe, &pr);
	cr_assert_str_empty(pr.sysctl, "named netns sysctl after delete [%s]", pr.sysctl);
	cr_assert_eq(pr.tcp_bind, 0);
}

/* ================================ 3. Reconcile ============================================ */

enum rec_action {
	DROP_LINE,     /* the store lost B: restore removes it from the kernel */
	KERNEL_LOSS,   /* the kernel lost B: restore adds it with its stored token */
	TOKEN_CHANGED, /* the store's B has another token: the kernel takes it */
	COUNT_CHANGED, /* the store's B is shorter */
	START_MOVED,   /* the store's B starts elsewhere */
	ORPHAN_PORTS,  /* a crash inside create left port entries and no reservation */
	ORPHAN_TOKEN,  /* a crash inside create left a token and no reservation */
	HALF_DELETED,  /* a crash inside delete: store, token and reservation gone, ports left */
};

struct rec_row {
	char name[40];
	enum rec_action act;
	uint16_t b_start, b_count; /* B afterwards; count 0: gone */
	uint64_t b_token;          /* 0: B's original token */
	bool sysctl_exact;         /* ip_local_reserved_ports == the store's ports afterwards */
};

#define B_START 7100
#define B_COUNT 10
#define FIXED_TOKEN 0x1111111111111111ULL

ParameterizedTestParameters(store, reconcile)
{
	static struct rec_row rows[] = {
		{ "store lost B", DROP_LINE, 0, 0, 0, true },
		{ "kernel lost B", KERNEL_LOSS, B_START, B_COUNT, 0, true },
		{ "token changed in store", TOKEN_CHANGED, B_START, B_COUNT, FIXED_TOKEN, true },
		{ "count changed in store", COUNT_CHANGED, B_START, 5, 0, true },
		{ "start moved in store", START_MOVED, 7150, B_COUNT, 0, true },
		{ "orphan ports from a crash", ORPHAN_PORTS, B_START, B_COUNT, 0, true },
		{ "orphan token from a crash", ORPHAN_TOKEN, B_START, B_COUNT, 0, true },
		{ "half-done delete", HALF_DELETED, 0, 0, 0, false },
	};

	return cr_make_param_array(struct rec_row, rows, sizeof(rows) / sizeof(rows[0]));
}

/* Rewrite the store line holding token: drop it (line NULL) or replace it. */
static void store_replace(uint64_t token, const char *line)
{
	char *text = store_text(), *out = calloc(1, strlen(text) + 512), *save, *l;
	int hits = 0;

	cr_assert(out);
	for (l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strstr(l, tokstr(token))) {
			hits++;
			if (!line)
				continue;
			l = (char *)line;
		}
		strcat(out, l);
		strcat(out, "\n");
	}
	cr_assert_eq(hits, 1, "token %s on %d lines", tokstr(token), hits);
	spit_file(store_path(), out, strlen(out));
	free(text);
	free(out);
}

/* The fields of the store line holding token. */
static void store_fields(uint64_t token, char *ns, char *owner, char *when, char *comment)
{
	char *text = store_text(), *l = strstr(text, tokstr(token));

	cr_assert(l, "token %s not stored", tokstr(token));
	cr_assert(sscanf(l, "%*s %255s %255s %31s %255s", ns, owner, when, comment) == 4);
	free(text);
}

ParameterizedTest(struct rec_row *row, store, reconcile, .init = kt_setup, .fini = teardown)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .comment = "b");
	char ns[256], owner[256], when[32], comment[256], line[1024];
	uint64_t cookie = my_cookie(), ta, tb, want;
	struct portrsv_key k;
	struct portrsv_resv r;
	int err;

	ta = kt_reserve(PORTRSV_TCP, 7000, 10);
	err = portrsv_create(kt.p, PORTRSV_UDP, B_START, B_COUNT, &o, &tb);
	cr_assert_eq(err, 0);
	store_fields(tb, ns, owner, when, comment);
	k = key_of(cookie, PORTRSV_UDP, B_START);
	cr_assert(bpf_map_lookup_elem(kt.p->resv_fd, &k, &r) == 0);

	switch (row->act) {
	case DROP_LINE:
		store_replace(tb, NULL);
		break;
	case KERNEL_LOSS:
		cr_assert_eq(portrsv_unreserve(kt.p, &k, &r, true), 0);
		cr_assert_eq(try_bind(IPPROTO_UDP, B_START + 1), 0);
		break;
	case TOKEN_CHANGED:
		snprintf(line, sizeof(line), "resv udp %u %u %s %s %s %s %s", B_START, B_COUNT,
			 tokstr(FIXED_TOKEN), ns, owner, when, comment);
		store_replace(tb, line);
		break;
	case COUNT_CHANGED:
	case START_MOVED:
		snprintf(line, sizeof(line), "resv udp %u %u %s %s %s %s %s", row->b_start,
			 row->b_count, tokstr(tb), ns, owner, when, comment);
		store_replace(tb, line);
		break;
	case ORPHAN_PORTS:
		for (uint16_t p = 7300; p < 7305; p++) {
			struct portrsv_key pk = key_of(cookie, PORTRSV_UDP, p);
			struct portrsv_port pv = { .start = 7300 };

			cr_assert_eq(bpf_map_update_elem(kt.p->ports_fd, &pk, &pv, BPF_NOEXIST), 0);
		}
		break;
	case ORPHAN_TOKEN: {
		struct portrsv_token tv = { .resv = key_of(cookie, PORTRSV_UDP, 7400) };
		uint64_t t = FIXED_TOKEN;

		cr_assert_eq(bpf_map_update_elem(kt.p->tokens_fd, &t, &tv, BPF_NOEXIST), 0);
		break;
	}
	case HALF_DELETED:
		store_replace(tb, NULL);
		cr_assert_eq(bpf_map_delete_elem(kt.p->tokens_fd, &tb), 0);
		cr_assert_eq(bpf_map_delete_elem(kt.p->resv_fd, &k), 0);
		break;
	}

	cli("restore", NULL);
	assert_silent_ok(row->name);

	/* A is untouched. */
	cr_assert_eq(cli_lookup("tcp", 7000, 10), ta, "%s: A changed", row->name);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), -EACCES);
	/* B as the store says. */
	want = row->b_token ? row->b_token : tb;
	if (row->b_count) {
		cr_assert_eq(cli_lookup("udp", row->b_start, row->b_count), want,
			     "%s: B is not as stored", row->name);
		for (unsigned p = B_START; p < B_START + B_COUNT; p++) {
			bool in = p >= row->b_start && p < row->b_start + row->b_count;

			cr_assert_eq(try_bind(IPPROTO_UDP, p), in ? -EACCES : 0,
				     "%s: udp %u", row->name, p);
		}
		cr_assert_eq(try_bind_fam(IPPROTO_UDP, KT_V4, row->b_start, want), 0,
			     "%s: the stored token does not bind", row->name);
		if (want != tb) {
			int fd = kt_socket(KT_V4, IPPROTO_UDP);

			cr_assert_eq(portrsv_associate(fd, tb), -ENOENT,
				     "%s: the replaced token still associates", row->name);
			close(fd);
		}
	} else {
		cr_assert_eq(cli_lookup("udp", B_START, B_COUNT), 0, "%s: B still there", row->name);
		for (unsigned p = B_START; p < B_START + B_COUNT; p++)
			cr_assert_eq(try_bind(IPPROTO_UDP, p), 0, "%s: udp %u refused", row->name, p);
	}
	assert_kernel_is_store(row->name);
	assert_sysctl_is_store(!row->sysctl_exact, row->name);
	/* The orphans' ports are free again: binds and a new reservation get them. */
	cr_assert_eq(try_bind(IPPROTO_UDP, 7301), 0, "%s: udp 7301", row->name);
	cli("add", "udp", "7300", "5", NULL);
	assert_token("add over the former orphans");
	cli("restore", NULL);
	assert_silent_ok("second restore");
	assert_kernel_is_store(row->name);
}

/* ================================ 4. Stale references ===================================== */

#define MISSING_NETNS "/run/netns/portrsv-test-missing"

struct stale_row {
	char name[40];
	bool reboot; /* unloaded first: restore has to load, attach and apply */
};

ParameterizedTestParameters(store, stale_references)
{
	static struct stale_row rows[] = {
		{ "loaded", false },
		{ "after a reboot", true },
	};

	return cr_make_param_array(struct stale_row, rows, sizeof(rows) / sizeof(rows[0]));
}

/* Does one line of text contain both a and b? */
static bool same_line(const char *text, const char *a, const char *b)
{
	for (const char *s = text; *s;) {
		const char *e = strchr(s, '\n'), *x = strstr(s, a), *y = strstr(s, b);

		if (!e)
			e = s + strlen(s);
		if (x && x < e && y && y < e)
			return true;
		s = *e ? e + 1 : e;
	}
	return false;
}

ParameterizedTest(struct stale_row *row, store, stale_references, .init = kt_setup,
		  .fini = teardown)
{
	char text[2048], gone[PATH_MAX], gonecg[PATH_MAX], *now;
	static char err1[OUT_MAX];

	subcg(gone, sizeof(gone), "gone");
	subcg(gonecg, sizeof(gonecg), "gone-cgroup");
	cr_assert(access(gone, F_OK) != 0 && access(MISSING_NETNS, F_OK) != 0);
	snprintf(text, sizeof(text),
		 "# written by hand\n"
		 "portrsv-store 1\n"
		 "cgroup %s\n"
		 "cgroup %s\n"
		 "resv tcp 7000 10 0x00000000000000a1 - %s 2026-01-01T00:00:00Z gone-owner\n"
		 "resv udp 7100 10 0x00000000000000a2 " MISSING_NETNS
		 " - 2026-01-01T00:00:00Z gone-netns\n"
		 "resv tcp 7200 5 0x00000000000000a3 - - 2026-01-01T00:00:00Z fine\n"
		 "resv udp 7300 1 0x00000000000000a4 - %s 2026-01-01T00:00:00Z owned\n",
		 kt.cgroup, gonecg, gone, kt.cgroup);
	if (row->reboot) {
		portrsv_close(kt.p);
		kt.p = NULL;
		cli("unload", NULL);
		assert_silent_ok("unload");
		kt_write(RESERVED_PORTS, "\n");
	}
	spit_file(store_path(), text, strlen(text));

	for (int round = 0; round < 2; round++) {
		cli("restore", NULL);
		cr_assert_eq(R.status, 1, "%s: restore with stale references: exit %d [%s]",
			     row->name, R.status, R.err);
		cr_assert_str_empty(R.out);
		cr_assert_eq(count_char(R.err, '\n'), 3, "%s: want one stderr line per stale item: [%s]",
			     row->name, R.err);
		cr_assert_eq(count_prefixed(R.err, "portrsv: "), 3, "[%s]", R.err);
		cr_assert(same_line(R.err, "7000", gone), "%s: no line names the owner %s: [%s]",
			  row->name, gone, R.err);
		cr_assert(same_line(R.err, gone, "not present yet"), "[%s]", R.err);
		/* A named netns that is missing waits, named as ip netns names it. */
		cr_assert(same_line(R.err, "7100", "netns portrsv-test-missing not present yet"),
			  "%s: no line says the netns waits: [%s]", row->name, R.err);
		cr_assert(same_line(R.err, gonecg, gonecg), "%s: no line names the cgroup: [%s]",
			  row->name, R.err);
		cr_assert(!strstr(R.err, "7200") && !strstr(R.err, "7300"),
			  "%s: a good reservation reported: [%s]", row->name, R.err);
		if (round == 0)
			strcpy(err1, R.err);
		else
			cr_assert_str_eq(R.err, err1);
		now = store_text();
		cr_assert_str_eq(now, text, "%s: restore changed the store", row->name);
		free(now);
		if (!kt.p) {
			kt.p = portrsv_open(NULL);
			cr_assert(kt.p, "%s: restore did not load: %s", row->name, strerror(errno));
		}

		/* The others are applied, with their tokens, and enforced. */
		cr_assert_eq(cli_lookup("tcp", 7200, 5), 0xa3);
		cr_assert_eq(cli_lookup("udp", 7300, 1), 0xa4);
		cr_assert_eq(try_bind(IPPROTO_TCP, 7201), -EACCES, "%s: tcp 7201", row->name);
		cr_assert_eq(try_bind(IPPROTO_UDP, 7300), 0, "owner of udp 7300 refused");
		/* An owner that is not there yet: applied, refused to everyone (fail closed). */
		cr_assert_eq(cli_lookup("tcp", 7000, 10), 0xa1);
		cr_assert_eq(try_bind(IPPROTO_TCP, 7001), -EACCES,
			     "%s: the block of an absent owner is open", row->name);
		cr_assert_eq(cli_lookup("udp", 7100, 10), 0);
		{
			unsigned char want[NPORTS / 8];

			parse_bits("7000-7009,7200-7204,7300", want);
			assert_sysctl(want, false, row->name);
		}
	}

	/* A change through the command keeps the stale lines. */
	cli("add", "udp", "7400", "1", NULL);
	assert_token("add with stale lines in the store");
	cli("delete", "tcp", "7200", "5", NULL);
	assert_silent_ok("delete with stale lines in the store");
	now = store_text();
	cr_assert(strstr(now, "0x00000000000000a1") && strstr(now, "0x00000000000000a2") &&
		  strstr(now, gonecg), "a change dropped the stale lines: [%s]", now);
	free(now);
}

/*
 * A block of a stale stored reservation is not in the kernel. Whatever add says about it,
 * the store must stay readable: two overlapping lines would refuse every later change.
 */
KS_TEST(add_over_stale_block)
{
	char text[1024], gone[PATH_MAX], *now;
	static struct eset s;

	uint64_t cookie, ino;

	/* In this test's own netns, by the name the store gives an unnamed one: "-" would be
	 * PID 1's, which is this netns only where PID 1's cannot be read (some sandboxes). */
	cr_assert_eq(portrsv_netns_self(&cookie, &ino), 0);
	subcg(gone, sizeof(gone), "gone");
	snprintf(text, sizeof(text),
		 "portrsv-store 1\n"
		 "cgroup %s\n"
		 "resv tcp 7000 10 0x00000000000000a1 net:[%" PRIu64 "]:%" PRIu64 " %s "
		 "2026-01-01T00:00:00Z gone-owner\n",
		 kt.cgroup, ino, cookie, gone);
	spit_file(store_path(), text, strlen(text));
	cli("restore", NULL);
	cr_assert_eq(R.status, 0, "an absent owner is waited for, not a failure: [%s]", R.err);

	cli("add", "tcp", "7005", "10", NULL);
	cr_assert_eq(R.status, 3, "add over a stale block: exit %d [%s]", R.status, R.err);
	now = store_text();
	cr_assert(strstr(now, "0x00000000000000a1"), "the stale line was dropped: [%s]", now);
	free(now);
	/* The store still takes changes and restores. */
	cli("add", "udp", "7400", "1", NULL);
	assert_token("a later add");
	cli("restore", NULL);
	cr_assert_eq(R.status, 0, "restore: exit %d [%s]", R.status, R.err);
	cr_assert_eq(count_char(R.err, '\n'), 1, "restore: only the waiting owner to report: [%s]",
		     R.err);
	store_set(&s);
	assert_no_overlap(&s, "store after add over a stale block");
}

/* ================================ 5. Bad stores ========================================== */

enum bad_kind { B_TEXT, B_NUL, B_DIR, B_BIG, B_UNREADABLE };

struct bad_row {
	char name[40];
	enum bad_kind kind;
	char content[400]; /* "@CG@": the test's cgroup; B_NUL: the first '^' becomes NUL */
	int line;          /* the message names FILE:LINE:, 0: only FILE */
	int want;          /* exit status */
};

#define HDR "portrsv-store 1\ncgroup @CG@\n"
#define TS " 2026-01-01T00:00:00Z"
#define RL(proto, start, count, tok) "resv " proto " " start " " count " 0x00000000000000" tok " - -" TS " -\n"

ParameterizedTestParameters(store, bad_store)
{
	static struct bad_row rows[] = {
		{ "truncated line", B_TEXT, HDR "resv tcp 7100 10 0x00000000000000b1 - -\n", 3, 1 },
		{ "no final newline", B_TEXT, HDR "resv tcp 7100 10 0x00000000000000b1 - -" TS " -", 3, 1 },
		{ "unknown version", B_TEXT, "portrsv-store 9\ncgroup @CG@\n", 1, 1 },
		{ "version 1.0", B_TEXT, "portrsv-store 1.0\ncgroup @CG@\n", 1, 1 },
		{ "duplicate token", B_TEXT, HDR RL("tcp", "7100", "10", "b1") RL("udp", "7200", "10", "b1"), 4, 1 },
		{ "duplicate entry", B_TEXT, HDR RL("udp", "7100", "10", "b1") RL("udp", "7100", "10", "b2"), 4, 1 },
		{ "overlapping entries", B_TEXT, HDR RL("tcp", "7100", "10", "b1") RL("tcp", "7105", "10", "b2"), 4, 1 },
		{ "overlap, 3rd entry", B_TEXT, HDR RL("tcp", "7100", "10", "b1") RL("udp", "7100", "10", "b2") RL("tcp", "7000", "101", "b3"), 5, 1 },
		{ "token 0", B_TEXT, HDR RL("tcp", "7100", "10", "00"), 3, 1 },
		{ "port 0", B_TEXT, HDR RL("tcp", "0", "10", "b1"), 3, 1 },
		{ "count 0", B_TEXT, HDR RL("tcp", "7100", "0", "b1"), 3, 1 },
		{ "count past 65535", B_TEXT, HDR RL("tcp", "7100", "65536", "b1"), 3, 1 },
		{ "block past 65535", B_TEXT, HDR RL("udp", "65530", "10", "b1"), 3, 1 },
		{ "non-numeric start", B_TEXT, HDR RL("tcp", "7x00", "10", "b1"), 3, 1 },
		{ "non-numeric count", B_TEXT, HDR RL("tcp", "7100", "ten", "b1"), 3, 1 },
		{ "non-numeric token", B_TEXT, HDR "resv tcp 7100 10 0xzzzzzzzzzzzzzzzz - -" TS " -\n", 3, 1 },
		{ "negative start", B_TEXT, HDR RL("tcp", "-7100", "10", "b1"), 3, 1 },
		{ "protocol sctp", B_TEXT, HDR RL("sctp", "7100", "10", "b1"), 3, 1 },
		{ "bad created", B_TEXT, HDR "resv tcp 7100 10 0x00000000000000b1 - - yesterday -\n", 3, 1 },
		{ "unknown record", B_TEXT, HDR "bogus 1 2 3\n", 3, 1 },
		{ "relative cgroup", B_TEXT, "portrsv-store 1\ncgroup relative/x\n", 2, 1 },
		{ "missing header", B_TEXT, "cgroup @CG@\n" RL("tcp", "7100", "10", "b1"), 1, 1 },
		{ "header after a record", B_TEXT, "# c\n\ncgroup @CG@\nportrsv-store 1\n", 3, 1 },
		{ "empty file", B_TEXT, "", 1, 1 },
		{ "NUL byte", B_NUL, HDR "resv tcp 7100 10 0x00000000000000b1^ - -" TS " -\n", 3, 1 },
		{ "a directory", B_DIR, "", 0, 1 },
		{ "a 100 MB file", B_BIG, "", 0, 1 },
		{ "unreadable (no DAC override)", B_UNREADABLE, HDR RL("tcp", "7100", "10", "b1"), 0, 5 },
	};

	return cr_make_param_array(struct bad_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bad_row *row, store, bad_store, .init = kt_setup, .fini = teardown)
{
	static char content[4096];
	char mention[PATH_MAX + 32], what[96];
	const char *cmds[][4] = { { "add", "udp", "7300", "1" },
				  { "restore" },
				  { "load", "--cgroup", kt.cgroup } };
	size_t len = 0;
	struct stat st0, st;
	uint64_t pre, t;

	pre = kt_reserve(PORTRSV_TCP, 7000, 10);
	cr_assert(unlink(store_path()) == 0);
	switch (row->kind) {
	case B_TEXT:
	case B_NUL:
	case B_UNREADABLE:
		subst_cg(content, sizeof(content), row->content);
		len = strlen(content);
		if (row->kind == B_NUL)
			*strchr(content, '^') = '\0';
		spit_file(store_path(), content, len);
		if (row->kind == B_UNREADABLE)
			cr_assert(chmod(store_path(), 0) == 0);
		break;
	case B_DIR:
		cr_assert(mkdir(store_path(), 0700) == 0);
		break;
	case B_BIG: {
		int fd = open(store_path(), O_WRONLY | O_CREAT | O_TRUNC, 0600);

		cr_assert(fd >= 0 && ftruncate(fd, 100 << 20) == 0);
		close(fd);
		break;
	}
	}
	cr_assert(stat(store_path(), &st0) == 0);
	if (row->line)
		snprintf(mention, sizeof(mention), "%s:%d: ", store_path(), row->line);
	else
		snprintf(mention, sizeof(mention), "%s", store_path());

	drop_dac = row->kind == B_UNREADABLE;
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		snprintf(what, sizeof(what), "%s: portrsv %s", row->name, cmds[c][0]);
		cli(cmds[c][0], cmds[c][1], cmds[c][2], cmds[c][3], NULL);
		drop_dac = false;
		assert_failed(row->want, what);
		cr_assert(strstr(R.err, mention), "%s: stderr must name [%s]: [%s]", what, mention,
			  R.err);
		drop_dac = row->kind == B_UNREADABLE;

		/* The file as it was. */
		cr_assert(lstat(store_path(), &st) == 0, "%s: the store is gone", what);
		cr_assert_eq(st.st_mode, st0.st_mode, "%s: mode changed", what);
		cr_assert_eq(st.st_size, st0.st_size, "%s: size changed", what);
		cr_assert(st.st_mtim.tv_sec == st0.st_mtim.tv_sec &&
			  st.st_mtim.tv_nsec == st0.st_mtim.tv_nsec, "%s: mtime changed", what);
		cr_assert_eq(st.st_ino, st0.st_ino, "%s: the file was replaced", what);
		if (row->kind != B_DIR && row->kind != B_BIG) {
			size_t n;
			char *now;

			chmod(store_path(), 0600);
			now = slurp_file(store_path(), &n);
			chmod(store_path(), st0.st_mode & 07777);
			cr_assert(now && n == len && !memcmp(now, content, len),
				  "%s: the store's bytes changed", what);
			free(now);
		}
		cr_assert(access(tmp_path(), F_OK) != 0);

		/* The kernel as it was: the old reservation enforced, nothing added. */
		cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, 7000, 10, NULL, &t), 0,
			     "%s: the pre-existing reservation was dropped", what);
		cr_assert_eq(t, pre, "%s: token changed", what);
		cr_assert_eq(try_bind(IPPROTO_TCP, 7001), -EACCES, "%s: no longer enforced", what);
		cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_UDP, 7300, 1, NULL, &t), -ENOENT,
			     "%s: the add went through", what);
	}
	drop_dac = false;
	chmod(store_path(), 0600);
}

/* ================================ 6. Crash safety ======================================== */

enum crash_op { OP_ADD, OP_DEL };

struct crash_row {
	char name[48];
	char point[32]; /* "" = no fault */
	enum crash_op op;
	bool new_state; /* the store holds the change afterwards */
};

ParameterizedTestParameters(store, crash)
{
	static struct crash_row rows[] = {
		{ "add, killed before the store", "create-before-store", OP_ADD, false },
		{ "add, killed before rename", "store-before-rename", OP_ADD, false },
		{ "add, killed after rename", "store-after-rename", OP_ADD, true },
		{ "delete, killed before rename", "store-before-rename", OP_DEL, false },
		{ "delete, killed after rename", "store-after-rename", OP_DEL, true },
		{ "delete, killed after the store", "delete-after-store", OP_DEL, true },
		{ "add, no fault", "", OP_ADD, true },
		{ "delete, no fault", "", OP_DEL, true },
	};

	return cr_make_param_array(struct crash_row, rows, sizeof(rows) / sizeof(rows[0]));
}

/*
 * n more one-port TCP reservations (20000..) in this netns, the store written whole and
 * restored: a store large enough that changes go to the journal (store.h).
 */
static void grow_store(int n)
{
	struct portrsv_store st;
	char msg[512];

	cr_assert_eq(portrsv_store_read(kt.state_dir, &st, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_gt(st.n, 0);
	for (int i = 0; i < n; i++) {
		struct portrsv_store_entry e = { .proto = PORTRSV_TCP, .start = 20000 + i,
						 .count = 1, .netns = st.v[0].netns,
						 .created = st.v[0].created, .comment = "bulk" };

		cr_assert_eq(getrandom(&e.token, sizeof(e.token), 0), (ssize_t)sizeof(e.token));
		e.token |= 1;
		cr_assert_eq(portrsv_store_add(&st, &e), 0);
	}
	cr_assert_eq(portrsv_store_write(kt.state_dir, &st), 0);
	cr_assert_geq(st.base_len, PORTRSV_JOURNAL_MIN_BASE, "not large enough for a journal");
	portrsv_store_free(&st);
	cli("restore", NULL);
	assert_silent_ok("restore of the grown store");
}

static const char *journal_path(void)
{
	static char p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/%s", kt.state_dir, PORTRSV_JOURNAL_FILE);
	return p;
}

static void run_crash(const struct crash_row *row, bool big);

ParameterizedTest(struct crash_row *row, store, crash, .init = kt_setup, .fini = teardown)
{
	run_crash(row, false);
}

/* The same crashes where the change is a line appended to the journal. */
ParameterizedTestParameters(store, crash_journal)
{
	static struct crash_row rows[] = {
		{ "add, killed before the append", "journal-before-append", OP_ADD, false },
		{ "add, killed mid-append", "journal-mid-append", OP_ADD, false },
		{ "add, killed before the sync", "journal-before-sync", OP_ADD, true },
		{ "delete, killed before the append", "journal-before-append", OP_DEL, false },
		{ "delete, killed mid-append", "journal-mid-append", OP_DEL, false },
		{ "delete, killed before the sync", "journal-before-sync", OP_DEL, true },
		{ "delete, killed after the store", "delete-after-store", OP_DEL, true },
		{ "add, no fault", "", OP_ADD, true },
		{ "delete, no fault", "", OP_DEL, true },
	};

	return cr_make_param_array(struct crash_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct crash_row *row, store, crash_journal, .init = kt_setup,
		  .fini = teardown)
{
	run_crash(row, true);
}

static void run_crash(const struct crash_row *row, bool big)
{
	static struct eset old, s, want;
	PORTRSV_OPTS(portrsv_create_opts, o, .comment = "B");
	char *base = NULL, *after;
	uint64_t tb;
	int i;

	kt_reserve(PORTRSV_TCP, 7000, 10);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_UDP, 7100, 10, &o, &tb), 0);
	if (big) {
		grow_store(900);
		base = store_text();
	}
	store_set(&old);

	fault_point = row->point[0] ? row->point : NULL;
	if (row->op == OP_ADD)
		cli("add", "tcp", "7200", "5", "--comment", "crash", NULL);
	else
		cli("delete", "udp", "7100", "10", NULL);
	fault_point = NULL;
	cr_assert_eq(R.status, row->point[0] ? 128 + SIGKILL : 0, "%s: exit %d [%s]", row->name,
		     R.status, R.err);

	/* The store parses and holds the old or the new state, as the point says. */
	store_set(&s);
	want = old;
	if (row->new_state && row->op == OP_DEL)
		set_del(&want, set_find(&want, PORTRSV_UDP, 7100, 10));
	if (row->new_state && row->op == OP_ADD) {
		i = set_find(&s, PORTRSV_TCP, 7200, 5);
		cr_assert(i >= 0, "%s: the add is not in the store", row->name);
		set_add(&want, PORTRSV_TCP, 7200, 5, s.v[i].token);
	}
	assert_sets_eq(&s, &want, row->name);
	if (big) { /* the change went to the journal, the store itself untouched */
		after = store_text();
		cr_assert_str_eq(after, base, "%s: the store was rewritten", row->name);
		free(after);
		free(base);
		if (row->new_state)
			cr_assert_eq(access(journal_path(), F_OK), 0, "%s: no journal", row->name);
	}
	cli("show", NULL);
	cr_assert_eq(R.status, 0, "%s: show after the crash: [%s]", row->name, R.err);

	cli("restore", NULL);
	assert_silent_ok(row->name);
	assert_kernel_is_store(row->name);
	assert_sysctl_is_store(false, row->name);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7201), set_find(&s, PORTRSV_TCP, 7200, 5) >= 0 ? -EACCES : 0,
		     "%s: tcp 7201", row->name);
	cr_assert_eq(try_bind(IPPROTO_UDP, 7101), set_find(&s, PORTRSV_UDP, 7100, 10) >= 0 ? -EACCES : 0,
		     "%s: udp 7101", row->name);

	/* Idempotent, and the store takes further changes (no lock or temp file in the way). */
	cli("restore", NULL);
	assert_silent_ok("second restore");
	assert_kernel_is_store(row->name);
	cli("add", "udp", "7300", "1", NULL);
	assert_token("add after the crash");
	cli("delete", "tcp", "7000", "10", NULL);
	assert_silent_ok("delete after the crash");
	assert_kernel_is_store(row->name);
	cr_assert(access(tmp_path(), F_OK) != 0);
}

/* Fault injection is for test builds only: the command that ships ignores PORTRSV_FAULT. */
ParameterizedTestParameters(store, release_has_no_faults)
{
	static struct crash_row rows[] = {
		{ "add", "create-before-store", OP_ADD, true },
		{ "add", "store-before-rename", OP_ADD, true },
		{ "add", "store-after-rename", OP_ADD, true },
		{ "delete", "delete-after-store", OP_DEL, true },
	};

	return cr_make_param_array(struct crash_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct crash_row *row, store, release_has_no_faults, .init = kt_setup,
		  .fini = teardown)
{
	const char *bin = getenv("PORTRSV_RELEASE_BIN");
	char *add[] = { (char *)bin, "add", "tcp", "7200", "5", NULL };
	char *del[] = { (char *)bin, "delete", "tcp", "7200", "5", NULL };
	struct run_opts o = { .fault = row->point };

	cr_assert(bin && *bin, "PORTRSV_RELEASE_BIN names the release build (make kernel-test)");
	if (row->op == OP_DEL)
		kt_reserve(PORTRSV_TCP, 7200, 5);
	run_argv_opts(&o, row->op == OP_ADD ? add : del);
	cr_assert_eq(R.status, 0, "%s with PORTRSV_FAULT=%s: exit %d [%s]", row->name, row->point,
		     R.status, R.err);
	assert_kernel_is_store(row->name);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7201), row->op == OP_ADD ? -EACCES : 0, "%s", row->name);
}

/*
 * A long series of library adds and deletes in a child that is SIGKILLed at random moments.
 * The child reports on a pipe: "I op" before each call, "K op" once it returned. After each
 * kill the store must equal the acknowledged changes, give or take the one call in flight.
 */
#define SERIES_STEPS 200

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(int fd, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(fd, buf, n) != n)
		_exit(30);
}

static void series_child(int wfd, int steps, uint64_t seed)
{
	struct portrsv *p = portrsv_open(NULL);

	if (!p)
		_exit(20);
	for (int i = 0; i < steps; i++) {
		struct portrsv_reservation *v = NULL;
		int n = portrsv_list(p, &v), err;

		if (n < 0)
			_exit(21);
		if (n > 0 && rnd(&seed) % 2) {
			struct portrsv_reservation r = v[rnd(&seed) % n];

			say(wfd, "I D %d %u %u\n", r.proto, r.start, r.count);
			err = portrsv_delete(p, r.proto, r.start, r.count, NULL);
			if (err)
				_exit(22);
			say(wfd, "K D %d %u %u\n", r.proto, r.start, r.count);
		} else {
			int proto = rnd(&seed) % 2 ? PORTRSV_TCP : PORTRSV_UDP;
			unsigned start = 7000 + rnd(&seed) % 400, count = 1 + rnd(&seed) % 20;
			uint64_t t;

			say(wfd, "I A %d %u %u\n", proto, start, count);
			err = portrsv_create(p, proto, start, count, NULL, &t);
			if (err == -EEXIST)
				say(wfd, "K N\n");
			else if (err)
				_exit(23);
			else
				say(wfd, "K A %d %u %u %" PRIx64 "\n", proto, start, count, t);
		}
		free(v);
	}
	_exit(0);
}

KS_TEST(crash_series)
{
	static struct eset model, s;
	static char buf[65536];
	uint64_t seed = seed_now();
	int steps = 0, kills = 0, rounds = 0, last_steps = -1;
	unsigned window = 30000;
	char why[1024];

	model.n = 0;
	while (steps < SERIES_STEPS) {
		char pop = 0, *save, *l;
		int pfd[2], status, pproto = 0, n_intents = 0;
		unsigned pstart = 0, pcount = 0;
		size_t len = 0;
		ssize_t k;
		pid_t pid;

		cr_assert(++rounds <= 200, "no progress (seed %" PRIu64 ")", seed);
		cr_assert(pipe(pfd) == 0);
		pid = spawn();
		if (pid == 0) {
			close(pfd[0]);
			series_child(pfd[1], SERIES_STEPS - steps, seed + rounds);
		}
		close(pfd[1]);
		/* A kill within 1-31 ms, longer where a round saw no step done (a slow machine:
		 * QEMU without KVM), so that the series gets on. */
		usleep(1000 + rnd(&seed) % window);
		if (steps == last_steps && window < 2000000)
			window *= 2;
		last_steps = steps;
		kill(pid, SIGKILL);
		status = reap(pid);
		while ((k = read(pfd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += k;
		close(pfd[0]);
		buf[len] = '\0';
		cr_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
			  "series child failed: status %#x (seed %" PRIu64 ")", status, seed);
		kills += WIFSIGNALED(status);

		for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char op;
			int proto;
			unsigned st, ct;
			uint64_t t;

			if (l[0] == 'I') {
				cr_assert(sscanf(l, "I %c %d %u %u", &op, &proto, &st, &ct) == 4);
				pop = op;
				pproto = proto;
				pstart = st;
				pcount = ct;
				n_intents++;
			} else if (!strncmp(l, "K A", 3)) {
				cr_assert(sscanf(l, "K A %d %u %u %" SCNx64, &proto, &st, &ct, &t) == 4);
				set_add(&model, proto, st, ct, t);
				pop = 0;
			} else if (!strncmp(l, "K D", 3)) {
				int i;

				cr_assert(sscanf(l, "K D %d %u %u", &proto, &st, &ct) == 3);
				i = set_find(&model, proto, st, ct);
				cr_assert(i >= 0, "deleted %s %u+%u, which was never acknowledged",
					  pname(proto), st, ct);
				set_del(&model, i);
				pop = 0;
			} else {
				cr_assert_str_eq(l, "K N");
				pop = 0;
			}
		}
		steps += n_intents;

		/* The store: every acknowledged change, and the call in flight done or not. */
		cli("show", NULL);
		cr_assert_eq(R.status, 0, "show after kill %d: [%s]", kills, R.err);
		store_set(&s);
		if (pop == 'A') {
			int i = set_find(&s, pproto, pstart, pcount);

			if (i >= 0 && set_find(&model, pproto, pstart, pcount) < 0)
				set_add(&model, pproto, pstart, pcount, s.v[i].token);
		} else if (pop == 'D') {
			int i = set_find(&model, pproto, pstart, pcount);

			if (i >= 0 && set_find(&s, pproto, pstart, pcount) < 0)
				set_del(&model, i);
		}
		assert_sets_eq(&s, &model, "store vs acknowledged changes");
		assert_no_overlap(&s, "store");

		cli("restore", NULL);
		assert_silent_ok("restore after a kill");
		{
			static struct eset kset;

			kernel_set(&kset);
			assert_sets_eq(&s, &kset, "store vs kernel after restore");
		}
		assert_sysctl_is_store(true, "after restore");
		/* The maps too: a kill between the library's map updates must not leave port
		 * entries or tokens that no reservation owns (they refuse binds forever). */
		cr_assert_eq(map_faults(why, sizeof(why)), 0,
			     "after kill %d of round %d and restore: %s (seed %" PRIu64 ")", kills,
			     rounds, why, seed);
	}
	cr_assert_geq(kills, 3, "only %d of %d rounds were killed mid-series", kills, rounds);
}

/* ================================ 7. Concurrency ========================================= */

#define NPROC 8
#define NOPS 150
#define CONC_LO 7000
#define CONC_SPAN 200

/* One child's series; the command for children >= n_lib. Exit 0, or the failing step. */
static void conc_child(int idx, bool use_cli, uint64_t seed)
{
	struct portrsv *p = portrsv_open(NULL);

	if (!p)
		_exit(100);
	for (int i = 0; i < NOPS; i++) {
		struct portrsv_reservation *v = NULL;
		int n = portrsv_list(p, &v), err;
		bool del = n > 0 && rnd(&seed) % 3 == 0; /* drift up: end with some left */
		int proto;
		unsigned start, count;
		uint64_t t;

		if (n < 0)
			_exit(101);
		if (del) {
			struct portrsv_reservation r = v[rnd(&seed) % n];

			proto = r.proto;
			start = r.start;
			count = r.count;
		} else {
			proto = rnd(&seed) % 2 ? PORTRSV_TCP : PORTRSV_UDP;
			count = 1 + rnd(&seed) % 20;
			start = CONC_LO + rnd(&seed) % (CONC_SPAN - count + 1);
		}
		free(v);
		if (use_cli) {
			char s[16], c[16];
			int status;
			pid_t pid;

			snprintf(s, sizeof(s), "%u", start);
			snprintf(c, sizeof(c), "%u", count);
			pid = fork();
			if (pid == 0) {
				int null = open("/dev/null", O_WRONLY);

				dup2(null, 1);
				dup2(null, 2);
				execl(portrsv_bin(), portrsv_bin(), del ? "delete" : "add",
				      pname(proto), s, c, (char *)NULL);
				_exit(127);
			}
			if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
				_exit(102);
			err = WEXITSTATUS(status);
			if (!(err == 0 || err == (del ? 4 : 3)))
				_exit(1 + i % 99);
		} else {
			err = del ? portrsv_delete(p, proto, start, count, NULL)
				  : portrsv_create(p, proto, start, count, NULL, &t);
			if (!(err == 0 || err == (del ? -ENOENT : -EEXIST))) {
				fprintf(stderr, "child %d step %d: %s %s %u+%u: %s\n", idx, i,
					del ? "delete" : "create", pname(proto), start, count,
					strerror(-err));
				_exit(1 + i % 99);
			}
		}
	}
	_exit(0);
}

static void run_concurrency(bool big)
{
	static struct eset s, k;
	uint64_t seed = seed_now();
	pid_t pids[NPROC];
	int alive = NPROC, samples = 0;
	bool journaled = false;
	char why[2048];

	if (big) { /* changes to the journal, and folded in when it fills (store.h) */
		kt_reserve(PORTRSV_TCP, 6000, 1);
		grow_store(800);
	}
	for (int i = 0; i < NPROC; i++) {
		pids[i] = spawn();
		if (pids[i] == 0)
			conc_child(i, i >= NPROC - 2, seed + 7919 * (i + 1));
	}
	/* While they run: under the store's lock, kernel == store, no overlap, maps sane. */
	while (alive) {
		int lock;

		usleep(20000);
		for (int i = 0; i < NPROC; i++) {
			int status;

			if (pids[i] && waitpid(pids[i], &status, WNOHANG) == pids[i]) {
				for (int j = 0; j < MAXKIDS; j++)
					if (kids[j] == pids[i])
						kids[j] = 0;
				cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
					  "child %d failed: status %#x (seed %" PRIu64 ")", i,
					  status, seed);
				pids[i] = 0;
				alive--;
			}
		}
		lock = portrsv_store_lock(kt.state_dir);
		cr_assert(lock >= 0, "lock: %s", strerror(-lock));
		store_set(&s);
		kernel_set(&k);
		journaled |= access(journal_path(), F_OK) == 0;
		close(lock);
		assert_sets_eq(&s, &k, "store vs kernel while running");
		assert_no_overlap(&s, "store while running");
		samples++;
	}
	cr_assert_geq(samples, 2);
	cr_assert(!big || journaled, "no change went to the journal");

	cli("show", NULL);
	cr_assert_eq(R.status, 0, "show: [%s]", R.err);
	store_set(&s);
	assert_no_overlap(&s, "store");
	cr_assert_gt(s.n, 0, "nothing left reserved: the series proved little");
	kernel_set(&k);
	assert_sets_eq(&s, &k, "store vs kernel");
	cr_assert_eq(map_faults(why, sizeof(why)), 0, "maps after the concurrent series: %s", why);
	/* Every stored port is kept from the kernel's own choice. (That no other port stays
	 * there is admin_sysctl's business.) */
	assert_sysctl_is_store(true, "after the concurrent series");
	/* Every reserved port is answered by its reservation. */
	for (int i = 0; i < s.n; i++)
		for (unsigned p = s.v[i].start; p < s.v[i].start + s.v[i].count; p++) {
			struct portrsv_reservation q;

			cr_assert_eq(portrsv_query(kt.p, s.v[i].proto, p, NULL, &q), 0);
			cr_assert(q.start == s.v[i].start && q.token == s.v[i].token);
		}
	cli("restore", NULL);
	assert_silent_ok("restore after the concurrent series");
	assert_kernel_is_store("after restore");
}

KS_TEST(concurrency)
{
	run_concurrency(false);
}

KS_TEST(concurrency_journal)
{
	run_concurrency(true);
}

/* ================================ 8. Ephemeral exclusion ================================== */

enum eph_kind { E_BIND0, E_CONNECT, E_SENDTO, E_LISTEN };

struct eph_row {
	char name[32];
	enum eph_kind kind;
	int proto; /* IPPROTO_TCP / IPPROTO_UDP */
	bool v6;
	int n;
};

ParameterizedTestParameters(store, ephemeral)
{
	static struct eph_row rows[] = {
		{ "bind(0) tcp", E_BIND0, IPPROTO_TCP, false, 2000 },
		{ "bind(0) udp", E_BIND0, IPPROTO_UDP, false, 2000 },
		{ "bind(0) tcp6", E_BIND0, IPPROTO_TCP, true, 1000 },
		{ "bind(0) udp6", E_BIND0, IPPROTO_UDP, true, 1000 },
		{ "connect() tcp", E_CONNECT, IPPROTO_TCP, false, 2000 },
		{ "connect() tcp6", E_CONNECT, IPPROTO_TCP, true, 1000 },
		{ "sendto() udp", E_SENDTO, IPPROTO_UDP, false, 2000 },
		{ "sendto() udp6", E_SENDTO, IPPROTO_UDP, true, 1000 },
		{ "listen() tcp", E_LISTEN, IPPROTO_TCP, false, 2000 },
		{ "listen() tcp6", E_LISTEN, IPPROTO_TCP, true, 1000 },
	};

	return cr_make_param_array(struct eph_row, rows, sizeof(rows) / sizeof(rows[0]));
}

#define EPH_LO 7000
#define EPH_HI 7999
#define EPH_RESV 500
#define PEER_PORT 9500

static void loopback(bool v6, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	}
}

ParameterizedTest(struct eph_row *row, store, ephemeral, .init = kt_setup, .fini = teardown)
{
	enum kt_fam fam = row->v6 ? KT_V6 : KT_V4;
	struct sockaddr_storage peer;
	struct linger lg = { 1, 0 };
	char range[64];
	socklen_t plen;
	int lfd = -1, bad = 0, first_bad = 0;

	kt_write(PORT_RANGE, "7000 7999\n");
	{
		int fd = open(PORT_RANGE, O_RDONLY);
		ssize_t n = read(fd, range, sizeof(range) - 1);

		close(fd);
		cr_assert(n > 0);
		range[n] = '\0';
		cr_assert(matches("^7000[[:space:]]+7999\n$", range), "range [%s]", range);
	}
	kt_reserve(PORTRSV_TCP, EPH_LO, EPH_RESV);
	kt_reserve(PORTRSV_UDP, EPH_LO, EPH_RESV);
	loopback(row->v6, PEER_PORT, &peer, &plen);
	if (row->kind == E_CONNECT) {
		lfd = kt_socket(fam, IPPROTO_TCP);
		cr_assert_eq(kt_bind(lfd, fam, PEER_PORT), 0);
		cr_assert(listen(lfd, 64) == 0);
	}
	for (int i = 0; i < row->n; i++) {
		int fd = kt_socket(fam, row->proto), afd = -1;
		uint16_t port;

		switch (row->kind) {
		case E_BIND0:
			cr_assert_eq(kt_bind(fd, fam, 0), 0, "%s #%d: %s", row->name, i,
				     strerror(errno));
			break;
		case E_CONNECT:
			cr_assert(connect(fd, (struct sockaddr *)&peer, plen) == 0,
				  "%s #%d: %s", row->name, i, strerror(errno));
			afd = accept(lfd, NULL, NULL);
			cr_assert(afd >= 0);
			cr_assert(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
			break;
		case E_SENDTO:
			cr_assert(sendto(fd, "x", 1, 0, (struct sockaddr *)&peer, plen) == 1,
				  "%s #%d: %s", row->name, i, strerror(errno));
			break;
		case E_LISTEN:
			cr_assert(listen(fd, 1) == 0, "%s #%d: %s", row->name, i, strerror(errno));
			break;
		}
		port = kt_port(fd);
		close(fd);
		if (afd >= 0)
			close(afd);
		cr_assert(port >= EPH_LO && port <= EPH_HI,
			  "%s #%d: port %u outside ip_local_port_range: the range did not apply",
			  row->name, i, port);
		if (port < EPH_LO + EPH_RESV && !bad++)
			first_bad = port;
	}
	if (lfd >= 0)
		close(lfd);
	cr_assert_eq(bad, 0, "%s: %d of %d autobinds got a reserved port (first: %d)", row->name,
		     bad, row->n, first_bad);
}

/* The administrator's entries in ip_local_reserved_ports survive reservations coming and going. */
struct sys_step {
	char op;       /* 'A' add, 'D' delete */
	int proto;
	uint16_t start, count;
	char want[64]; /* ip_local_reserved_ports afterwards */
	bool subset;   /* only: contains want */
};

struct sys_row {
	char name[48];
	struct sys_step steps[6];
};

#define ADMIN "9000,9005-9010"

ParameterizedTestParameters(store, admin_sysctl)
{
	static struct sys_row rows[] = {
		{ "tcp and udp side by side",
		  { { 'A', PORTRSV_TCP, 9100, 5, ADMIN ",9100-9104", false },
		    { 'A', PORTRSV_UDP, 9102, 5, ADMIN ",9100-9106", false },
		    { 'D', PORTRSV_TCP, 9100, 5, ADMIN ",9102-9106", false },
		    { 'D', PORTRSV_UDP, 9102, 5, ADMIN, false } } },
		{ "same block tcp+udp, newer deleted first",
		  { { 'A', PORTRSV_TCP, 9200, 5, ADMIN ",9200-9204", false },
		    { 'A', PORTRSV_UDP, 9200, 5, ADMIN ",9200-9204", false },
		    { 'D', PORTRSV_UDP, 9200, 5, ADMIN ",9200-9204", false },
		    { 'D', PORTRSV_TCP, 9200, 5, ADMIN, false } } },
		{ "same block tcp+udp, older deleted first",
		  { { 'A', PORTRSV_TCP, 9200, 5, ADMIN ",9200-9204", false },
		    { 'A', PORTRSV_UDP, 9200, 5, ADMIN ",9200-9204", false },
		    { 'D', PORTRSV_TCP, 9200, 5, ADMIN ",9200-9204", false },
		    { 'D', PORTRSV_UDP, 9200, 5, ADMIN, false } } },
		{ "exactly the administrator's block",
		  { { 'A', PORTRSV_TCP, 9005, 6, ADMIN, false },
		    { 'D', PORTRSV_TCP, 9005, 6, ADMIN, false } } },
		{ "overlapping the administrator's 9005",
		  { { 'A', PORTRSV_TCP, 9003, 5, "9000,9003-9010", false },
		    { 'D', PORTRSV_TCP, 9003, 5, ADMIN, false } } },
		{ "the administrator's single port",
		  { { 'A', PORTRSV_UDP, 9000, 1, ADMIN, false },
		    { 'A', PORTRSV_TCP, 8990, 20, "8990-9010", false },
		    { 'D', PORTRSV_UDP, 9000, 1, "8990-9010", false },
		    { 'D', PORTRSV_TCP, 8990, 20, ADMIN, false } } },
		{ "around the admin ports, udp over part",
		  { { 'A', PORTRSV_TCP, 8995, 20, "8995-9014", false },
		    { 'A', PORTRSV_UDP, 9008, 10, "8995-9017", false },
		    { 'D', PORTRSV_TCP, 8995, 20, "9000,9005-9017", false },
		    { 'D', PORTRSV_UDP, 9008, 10, ADMIN, false } } },
	};

	return cr_make_param_array(struct sys_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct sys_row *row, store, admin_sysctl, .init = kt_setup, .fini = teardown)
{
	unsigned char want[NPORTS / 8];
	char text[4096], what[96];

	kt_write(RESERVED_PORTS, ADMIN "\n");
	sysctl_text(text, sizeof(text));
	cr_assert_str_eq(text, ADMIN);
	for (int i = 0; i < 6 && row->steps[i].op; i++) {
		const struct sys_step *s = &row->steps[i];
		int err;

		snprintf(what, sizeof(what), "%s, step %d: %c %s %u+%u", row->name, i, s->op,
			 pname(s->proto), s->start, s->count);
		if (s->op == 'A') {
			uint64_t t;

			err = portrsv_create(kt.p, s->proto, s->start, s->count, NULL, &t);
		} else {
			err = portrsv_delete(kt.p, s->proto, s->start, s->count, NULL);
		}
		cr_assert_eq(err, 0, "%s: %s", what, strerror(-err));
		if (s->subset) {
			parse_bits(s->want, want);
			assert_sysctl(want, true, what);
		} else {
			sysctl_text(text, sizeof(text));
			cr_assert_str_eq(text, s->want, "%s: ip_local_reserved_ports [%s], want [%s]",
					 what, text, s->want);
		}
	}
}

/* ================================ 9. Upgrade under load =================================== */

#define RELOADS 20

KS_TEST(upgrade_under_load)
{
	uint64_t tt, tu, t;
	int stop[2], res[2], status;
	long counts[4] = { 0 }; /* attempts, successes, other errors, last other errno */
	pid_t pid;
	char c;

	tt = kt_reserve(PORTRSV_TCP, 7000, 10);
	tu = kt_reserve(PORTRSV_UDP, 7000, 10);
	cr_assert(pipe(stop) == 0 && pipe(res) == 0);
	pid = spawn();
	if (pid == 0) {
		static const struct {
			enum kt_fam fam;
			int proto;
			uint16_t port;
		} tries[] = {
			{ KT_V4, IPPROTO_TCP, 7001 },
			{ KT_V4, IPPROTO_UDP, 7002 },
			{ KT_V6, IPPROTO_TCP, 7003 },
			{ KT_DUAL, IPPROTO_UDP, 7004 },
		};
		long n[4] = { 0 };

		close(stop[1]);
		close(res[0]);
		fcntl(stop[0], F_SETFL, O_NONBLOCK);
		if (write(res[1], "r", 1) != 1)
			_exit(2);
		for (int i = 0; read(stop[0], &c, 1) < 0 && errno == EAGAIN; i++) {
			int f = tries[i % 4].fam, proto = tries[i % 4].proto;
			int fd = socket(f == KT_V4 ? AF_INET : AF_INET6,
					proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM, proto);
			int err, off = 0;

			if (fd < 0)
				_exit(3);
			if (f == KT_DUAL)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
			err = kt_bind(fd, f, tries[i % 4].port);
			close(fd);
			n[0]++;
			if (!err)
				n[1]++;
			else if (err != -EACCES) {
				n[2]++;
				n[3] = -err;
			}
		}
		if (write(res[1], n, sizeof(n)) != sizeof(n))
			_exit(4);
		_exit(0);
	}
	close(stop[0]);
	close(res[1]);
	cr_assert(read(res[0], &c, 1) == 1, "hammer did not start");
	for (int i = 0; i < RELOADS; i++) {
		char what[32];

		snprintf(what, sizeof(what), "load #%d", i);
		cli("load", "--cgroup", kt.cgroup, NULL);
		assert_silent_ok(what);
	}
	close(stop[1]);
	cr_assert(read(res[0], counts, sizeof(counts)) == sizeof(counts), "hammer died");
	close(res[0]);
	status = reap(pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hammer status %#x", status);
	cr_log_info("upgrade_under_load: %ld binds tried during %d loads", counts[0], RELOADS);
	cr_assert_gt(counts[0], 4 * RELOADS, "only %ld binds tried during %d loads", counts[0],
		     RELOADS);
	cr_assert_eq(counts[1], 0, "%ld of %ld binds into reserved ports succeeded during reloads",
		     counts[1], counts[0]);
	cr_assert_eq(counts[2], 0, "%ld binds failed with another errno (%s)", counts[2],
		     strerror(counts[3]));

	/* Reservations, tokens and attachments as before. */
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, 7000, 10, NULL, &t), 0);
	cr_assert_eq(t, tt);
	cr_assert_eq(cli_lookup("udp", 7000, 10), tu);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), -EACCES, "not enforced after the reloads");
	cr_assert_eq(try_bind_fam(IPPROTO_UDP, KT_V6, 7002, 0), -EACCES);
	cr_assert_eq(try_bind_fam(IPPROTO_TCP, KT_V4, 7005, tt), 0, "the token no longer binds");
	{
		uint64_t *ids = NULL;
		int n = portrsv_attached(kt.pin_dir, &ids);

		cr_assert_eq(n, 1, "%d attachments after %d loads", n, RELOADS);
		free(ids);
	}
	assert_kernel_is_store("after the reloads");
}

/* unload gives the ports back to the kernel's choice; load merges them in again, and the
 * administrator's port inside the block is still the administrator's afterwards. */
KS_TEST(unload_releases_sysctl)
{
	char text[4096];
	const char *cg[1] = { kt.cgroup };

	kt_write(RESERVED_PORTS, "9000\n");
	kt_reserve(PORTRSV_TCP, 8995, 10);
	sysctl_text(text, sizeof(text));
	cr_assert_str_eq(text, "8995-9004");
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
	sysctl_text(text, sizeof(text));
	cr_assert_str_eq(text, "9000", "after unload: [%s]", text);

	PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = cg, .n_cgroups = 1);
	cr_assert_eq(portrsv_load(&o), 0);
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);
	sysctl_text(text, sizeof(text));
	cr_assert_str_eq(text, "8995-9004", "after load: [%s]", text);
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, 8995, 10, NULL), 0);
	sysctl_text(text, sizeof(text));
	cr_assert_str_eq(text, "9000", "after delete: [%s]", text);
}

static bool is_attached(const char *dir)
{
	uint64_t *ids = NULL, id;
	int n = portrsv_attached(kt.pin_dir, &ids);
	bool found = false;

	cr_assert_eq(portrsv_cgroup_id(dir, &id, NULL), 0);
	for (int i = 0; i < n; i++)
		found |= ids[i] == id;
	free(ids);
	return found;
}

/*
 * load re-attaches every recorded cgroup, not only those it is given; and a store whose
 * last cgroup was detached attaches nothing at restore, never the whole host.
 */
KS_TEST(recorded_cgroups)
{
	char sub[PATH_MAX + 8];
	const char *cg[1] = { kt.cgroup };
	uint64_t *ids = NULL;

	snprintf(sub, sizeof(sub), "%s/sub", kt.cgroup);
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_assert_eq(portrsv_attach(kt.pin_dir, sub), 0);
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(portrsv_unload(kt.pin_dir), 0);

	PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = cg, .n_cgroups = 1);
	cr_assert_eq(portrsv_load(&o), 0);
	cr_assert(is_attached(kt.cgroup));
	cr_assert(is_attached(sub), "load did not re-attach the recorded sub-cgroup");

	cr_assert_eq(portrsv_detach(kt.pin_dir, sub), 0);
	cr_assert_eq(portrsv_detach(kt.pin_dir, kt.cgroup), 0);
	cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
	PORTRSV_OPTS(portrsv_restore_opts, r);
	cr_assert_eq(portrsv_restore(&r), 0);
	cr_assert_eq(portrsv_attached(kt.pin_dir, &ids), 0, "restore attached something");
	free(ids);
	cr_assert_eq(rmdir(sub), 0);
}

/* A stored reservation restore had to skip (owner gone, netns gone) can still be deleted. */
KS_TEST(delete_stale)
{
	char text[1024], gone[PATH_MAX], *now;
	uint64_t cookie, ino;

	/* The test's own netns by its store name, not "-" (see add_over_stale_block). */
	cr_assert_eq(portrsv_netns_self(&cookie, &ino), 0);
	subcg(gone, sizeof(gone), "gone");
	snprintf(text, sizeof(text),
		 "portrsv-store 1\n"
		 "cgroup %s\n"
		 "resv tcp 7000 10 0x00000000000000a1 net:[%" PRIu64 "]:%" PRIu64 " %s "
		 "2026-01-01T00:00:00Z gone-owner\n"
		 "resv udp 7000 10 0x00000000000000a2 /run/netns/portrsv-test-gone - "
		 "2026-01-01T00:00:00Z gone-netns\n",
		 kt.cgroup, ino, cookie, gone);
	spit_file(store_path(), text, strlen(text));
	cli("restore", NULL);
	/* Both wait (the owner, the named netns): reported, no failure. */
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	cr_assert(strstr(R.err, "netns portrsv-test-gone not present yet"), "[%s]", R.err);
	cli("delete", "tcp", "7000", "10", NULL);
	cr_assert_eq(R.status, 0, "delete of the stale owner's block: exit %d [%s]", R.status, R.err);
	cli("delete", "udp", "7000", "10", "--netns", "/run/netns/portrsv-test-gone", NULL);
	cr_assert_eq(R.status, 0, "delete in a netns that is gone: exit %d [%s]", R.status, R.err);
	now = store_text();
	cr_assert(!strstr(now, "resv "), "stale lines left: [%s]", now);
	free(now);
	cli("delete", "udp", "7000", "10", "--netns", "/run/netns/portrsv-test-gone", NULL);
	cr_assert_eq(R.status, 4, "second delete: exit %d [%s]", R.status, R.err);
	cli("restore", NULL);
	cr_assert_eq(R.status, 0, "restore after the cleanup: exit %d [%s]", R.status, R.err);
}

static uint32_t any_count(int proto, uint16_t port)
{
	uint32_t idx = PORTRSV_ANY_INDEX(proto, port), n = 99;

	cr_assert_eq(bpf_map_lookup_elem(kt.p->any_fd, &idx, &n), 0);
	return n;
}

/*
 * reserved_anywhere counts reservations per (proto, port) across netns: raised before a
 * port's entry exists, lowered after it is gone, recounted by restore. The programs trust
 * a 0 there, so a count that went wrong must be mended by restore.
 */
KS_TEST(reserved_anywhere_counts)
{
	uint32_t idx = PORTRSV_ANY_INDEX(PORTRSV_TCP, 7001), zero = 0;
	PORTRSV_OPTS(portrsv_restore_opts, r);

	kt_reserve(PORTRSV_TCP, 7000, 4);
	cr_assert_eq(any_count(PORTRSV_TCP, 7001), 1);
	cr_assert_eq(any_count(PORTRSV_UDP, 7001), 0);
	cr_assert_eq(any_count(PORTRSV_TCP, 7004), 0);
	kt_reserve(PORTRSV_UDP, 7001, 1);
	cr_assert_eq(any_count(PORTRSV_UDP, 7001), 1);

	/* A wrong 0 would let binds through: restore puts the count back. */
	cr_assert_eq(bpf_map_update_elem(kt.p->any_fd, &idx, &zero, BPF_ANY), 0);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), 0, "the fast path trusts the count");
	cr_assert_eq(portrsv_restore(&r), 0);
	cr_assert_eq(any_count(PORTRSV_TCP, 7001), 1);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), -EACCES);

	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, 7000, 4, NULL), 0);
	cr_assert_eq(any_count(PORTRSV_TCP, 7001), 0);
	cr_assert_eq(any_count(PORTRSV_UDP, 7001), 1);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), 0);
	cr_assert_eq(try_bind(IPPROTO_UDP, 7001), -EACCES);
}
