// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The persistent store: round trip, refusal of every kind of bad store (with the file and
 * line named, and the file left as it was), file-level refusals, the lock. Needs no root.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "internal.h"
#include "store.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PARAMS(type, rows) cr_make_param_array(type, rows, ARRAY_SIZE(rows))

/* The state directory of the running test, made by setup() and removed by teardown(). */
static char dir[64];
static char file[128];

static void setup(void)
{
	strcpy(dir, "/tmp/portrsv-test-unit-store.XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(file, sizeof(file), "%s/%s", dir, PORTRSV_STORE_FILE);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void teardown(void)
{
	if (dir[0])
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, buf, len), (ssize_t)len, "write %s", path);
	close(fd);
}

/* The whole file, NUL-terminated; *len without the NUL. */
static char *get_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;

	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	*len = 0;
	for (;;) {
		size_t r;

		if (cap - *len < 4096) {
			cap = cap * 2 + 4096;
			buf = realloc(buf, cap + 1);
			cr_assert_not_null(buf);
		}
		r = fread(buf + *len, 1, cap - *len, f);
		if (!r)
			break;
		*len += r;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/*
 * What "left as it was" means: same inode, type, mode, size, times and bytes, and no file
 * added to or removed from the directory. Bytes are hashed (FNV-1a) so that a 100 MB file
 * costs no 100 MB copy; they are skipped only when the file cannot be opened.
 */
struct snapshot {
	struct stat st;
	uint64_t hash;
	bool hashed;
	int entries;
};

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d, "opendir %s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void take(struct snapshot *s, const char *path)
{
	unsigned char buf[1 << 16];
	ssize_t r;
	int fd;

	memset(s, 0, sizeof(*s));
	cr_assert_eq(lstat(path, &s->st), 0, "lstat %s: %s", path, strerror(errno));
	s->entries = count_entries(dir);
	s->hash = 0xcbf29ce484222325ULL;
	if (!S_ISREG(s->st.st_mode))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			s->hash = (s->hash ^ buf[i]) * 0x100000001b3ULL;
	close(fd);
	s->hashed = true;
}

static void assert_unchanged(const struct snapshot *a, const char *path, const char *what)
{
	struct snapshot b;

	take(&b, path);
	cr_assert_eq(a->st.st_ino, b.st.st_ino, "%s: %s was replaced", what, path);
	cr_assert_eq(a->st.st_mode, b.st.st_mode, "%s: mode of %s changed", what, path);
	cr_assert_eq(a->st.st_size, b.st.st_size, "%s: size of %s changed", what, path);
	cr_assert(a->st.st_mtim.tv_sec == b.st.st_mtim.tv_sec &&
		  a->st.st_mtim.tv_nsec == b.st.st_mtim.tv_nsec, "%s: %s was written", what, path);
	cr_assert(a->st.st_ctim.tv_sec == b.st.st_ctim.tv_sec &&
		  a->st.st_ctim.tv_nsec == b.st.st_ctim.tv_nsec, "%s: %s was changed", what, path);
	cr_assert_eq(a->hashed, b.hashed);
	cr_assert_eq(a->hash, b.hash, "%s: the bytes of %s changed", what, path);
	cr_assert_eq(a->entries, b.entries, "%s: files appeared in or vanished from %s", what,
		     dir);
}

/* A message is one line that a terminal shows as it is: no control characters at all. */
static void assert_one_line(const char *msg, const char *what)
{
	for (const char *c = msg; *c; c++)
		cr_assert(!((unsigned char)*c < 0x20 || *c == 0x7f),
			  "%s: control character 0x%02x in message \"%s\"", what,
			  (unsigned char)*c, msg);
}

static bool str_eq_or_null(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void assert_stores_eq(const struct portrsv_store *a, const struct portrsv_store *b)
{
	cr_assert_eq(a->n, b->n, "%zu entries, want %zu", b->n, a->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct portrsv_store_entry *x = &a->v[i], *y = &b->v[i];

		cr_assert_eq(x->proto, y->proto, "entry %zu: proto", i);
		cr_assert_eq(x->start, y->start, "entry %zu: start", i);
		cr_assert_eq(x->count, y->count, "entry %zu: count", i);
		cr_assert_eq(x->token, y->token, "entry %zu: token", i);
		cr_assert(str_eq_or_null(x->netns, y->netns), "entry %zu: netns '%s', want '%s'", i,
			  y->netns ? y->netns : "(null)", x->netns ? x->netns : "(null)");
		cr_assert(str_eq_or_null(x->owner, y->owner), "entry %zu: owner '%s', want '%s'", i,
			  y->owner ? y->owner : "(null)", x->owner ? x->owner : "(null)");
		cr_assert_eq(x->created, y->created, "entry %zu: created", i);
		cr_assert(str_eq_or_null(x->comment, y->comment), "entry %zu: comment '%s', want '%s'",
			  i, y->comment ? y->comment : "(null)", x->comment ? x->comment : "(null)");
		cr_assert_eq(x->pool, y->pool, "entry %zu: pool", i);
		cr_assert_eq(x->limit, y->limit, "entry %zu: limit", i);
		cr_assert(str_eq_or_null(x->by.cgroup, y->by.cgroup),
			  "entry %zu: creator cgroup '%s', want '%s'", i,
			  y->by.cgroup ? y->by.cgroup : "(null)", x->by.cgroup ? x->by.cgroup : "(null)");
		cr_assert(str_eq_or_null(x->container, y->container),
			  "entry %zu: container '%s', want '%s'", i,
			  y->container ? y->container : "(null)", x->container ? x->container : "(null)");
		if (x->by.cgroup) {
			cr_assert_eq(x->by.uid, y->by.uid, "entry %zu: creator uid", i);
			cr_assert_str_eq(x->by.comm, y->by.comm, "entry %zu: creator comm", i);
		}
	}
	cr_assert_eq(a->ncgroups, b->ncgroups, "%zu cgroups, want %zu", b->ncgroups, a->ncgroups);
	for (size_t i = 0; i < a->ncgroups; i++)
		cr_assert_str_eq(a->cgroups[i], b->cgroups[i], "cgroup %zu", i);
}

/* ---- Round trip ---------------------------------------------------------------------- */

#define C63 "sixty-three bytes: 100% - \xc3\xbc\xc3\xb1\xc3\xaf \xe2\x9c\x93 " \
	".........................x"
#define TIME_MAX 253402300799ULL /* 9999-12-31T23:59:59Z */

/* The longest container id: 127 bytes. */
#define C126 "Z" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const struct portrsv_store_entry roundtrip_entries[] = {
	{ PORTRSV_TCP, 5000, 20, 0x0123456789abcdefULL, NULL, NULL, 1764082800, "" },
	{ PORTRSV_UDP, 5000, 20, 0xfedcba9876543210ULL, "/run/netns/blue",
	  "/sys/fs/cgroup/system.slice/web.service", 1764082801,
	  "web pool 100% - \xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb8" "d" "\xc3\xa9" " \xe2\x9c\x93" },
	{ PORTRSV_TCP, 5000, 20, 0x8000000000000000ULL, "net:[4026531840]:4096",
	  "/sys/fs/cgroup/a b/%41/-", 0, "-" },
	{ PORTRSV_TCP, 1, 65535, UINT64_MAX, "/run/netns/with space%and-dash",
	  "/sys/fs/cgroup/\xc3\xbc", TIME_MAX, C63 },
	{ PORTRSV_UDP, 65535, 1, 1, "/proc/1/ns/net", "/", 1, "%2D" },
	{ PORTRSV_UDP, 1, 1, 2, "/run/netns/-", "/sys/fs/cgroup/\x01\t\n\x7f", 2, "a - b" },
	{ PORTRSV_UDP, 2, 65534, 3, NULL, "/-", 3, "%" },
	{ PORTRSV_TCP, 7000, 100, 4, NULL, NULL, 4, "pool", true, 20 },
	{ PORTRSV_TCP, 8000, 10, 5, "/run/netns/blue", NULL, 5, "", true, 0 },
	{ PORTRSV_UDP, 7000, 65535 - 7000 + 1, 6, "/run/netns/green", NULL, 6, "", true,
	  65535 - 7000 + 1 },
	/* Creators (store.h: by=UID:COMM:CGROUP): ':' encoded, '-' and "" as themselves. */
	{ PORTRSV_TCP, 9000, 1, 7, NULL, NULL, 7, "", false, 0,
	  { "/system.slice/web.service", 0, "portrsv" } },
	{ PORTRSV_TCP, 9001, 1, 8, NULL, NULL, 8, "", true, 0,
	  { "/a:b/with space/100%/\xc3\xbc/\n", 4294967294U, "a\nb:%\x01\x7f c" } },
	{ PORTRSV_TCP, 9002, 1, 9, NULL, NULL, 9, "", false, 0, { "/", 1000, "" } },
	{ PORTRSV_TCP, 9003, 1, 10, NULL, NULL, 10, "", false, 0, { "/-", 65534, "-" } },
	{ PORTRSV_TCP, 9004, 1, 11, NULL, NULL, 11, "", false, 0,
	  { "/x", 1, "fifteen bytes.." } },
	/* Containers (store.h: container=ID), the last field. */
	{ PORTRSV_TCP, 9100, 1, 12, NULL, "/sys/fs/cgroup/podman", 12, "cni podman", false, 0,
	  { "/podman", 0, "podman" }, "0123abcdef" },
	{ PORTRSV_UDP, 9101, 1, 13, "/run/netns/blue", NULL, 13, "", false, 0, { NULL },
	  "a_b.c-d" },
	{ PORTRSV_TCP, 9102, 1, 14, NULL, NULL, 14, "", false, 0, { NULL }, C126 },
};

static const char *const roundtrip_cgroups[] = {
	"/sys/fs/cgroup",
	"/sys/fs/cgroup/with space",
	"/sys/fs/cgroup/100%/\xc3\xbc",
	"/-",
};

static void fill(struct portrsv_store *s)
{
	memset(s, 0, sizeof(*s));
	cr_assert_eq(sizeof(C63) - 1, 63);
	for (size_t i = 0; i < ARRAY_SIZE(roundtrip_entries); i++)
		cr_assert_eq(portrsv_store_add(s, &roundtrip_entries[i]), 0);
	for (size_t i = 0; i < ARRAY_SIZE(roundtrip_cgroups); i++)
		cr_assert_eq(portrsv_store_add_cgroup(s, roundtrip_cgroups[i]), 0);
	/* Already there: kept once. */
	cr_assert_eq(portrsv_store_add_cgroup(s, roundtrip_cgroups[0]), 0);
	cr_assert_eq(s->ncgroups, ARRAY_SIZE(roundtrip_cgroups));
}

Test(store, roundtrip, .init = setup, .fini = teardown)
{
	struct portrsv_store a, b;
	struct stat st;
	char msg[512], tmp[160], *text, *line;
	size_t len;

	fill(&a);
	umask(0); /* the store must be 0600 whatever the umask */
	cr_assert_eq(portrsv_store_write(dir, &a), 0);
	cr_assert_eq(stat(file, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	cr_assert_eq(access(tmp, F_OK), -1, "%s left behind", tmp);

	text = get_file(file, &len);
	cr_assert_eq(strlen(text), len, "the store holds a NUL byte");
	cr_assert_eq(text[len - 1], '\n');
	/* The first line that is not a comment is the header. */
	for (line = text; *line == '#'; line = strchr(line, '\n') + 1)
		;
	cr_assert_eq(strncmp(line, "portrsv-store 1\n", 16), 0, "header: %.40s", line);
	/* The format is documented: pin a few lines of it. */
	cr_assert_not_null(strstr(text, "\nresv tcp 5000 20 0x0123456789abcdef - - "
					"2025-11-25T15:00:00Z -\n"), "%s", text);
	cr_assert_not_null(strstr(text, "\nresv udp 65535 1 0x0000000000000001 /proc/1/ns/net / "
					"1970-01-01T00:00:01Z %252D\n"), "%s", text);
	cr_assert_not_null(strstr(text, " 9999-12-31T23:59:59Z "), "%s", text);
	/* Pools: a trailing field; plain reservations are written as version 1 always did. */
	cr_assert_not_null(strstr(text, "\nresv tcp 7000 100 0x0000000000000004 - - "
					"1970-01-01T00:00:04Z pool pool=20\n"), "%s", text);
	cr_assert_not_null(strstr(text, "\nresv tcp 8000 10 0x0000000000000005 /run/netns/blue - "
					"1970-01-01T00:00:05Z - pool\n"), "%s", text);
	cr_assert_not_null(strstr(text, "\ncgroup /sys/fs/cgroup/with%20space\n"), "%s", text);
	/* Creators: the last field, after pool. */
	cr_assert_not_null(strstr(text, "\nresv tcp 9000 1 0x0000000000000007 - - "
					"1970-01-01T00:00:07Z - by=0:portrsv:/system.slice/web.service\n"),
			   "%s", text);
	cr_assert_not_null(strstr(text, " - pool by=4294967294:a%0Ab%3A%25%01%7F%20c:"
					"/a%3Ab/with%20space/100%25/%C3%BC/%0A\n"), "%s", text);
	cr_assert_not_null(strstr(text, " - by=1000::/\n"), "%s", text);
	cr_assert_not_null(strstr(text, " - by=65534:-:/-\n"), "%s", text);
	cr_assert_not_null(strstr(text, "\nresv tcp 9100 1 0x000000000000000c - /sys/fs/cgroup/podman "
					"1970-01-01T00:00:12Z cni%20podman by=0:podman:/podman "
					"container=0123abcdef\n"), "%s", text);
	cr_assert_not_null(strstr(text, " - container=a_b.c-d\n"), "%s", text);
	cr_assert_not_null(strstr(text, " - container=" C126 "\n"), "%s", text);
	cr_assert_not_null(strstr(text, " /sys/fs/cgroup/a%20b/%2541/- 1970-01-01T00:00:00Z %2D\n"),
			   "%s", text);
	free(text);

	cr_assert_eq(portrsv_store_read(dir, &b, msg, sizeof(msg)), 0, "%s", msg);
	assert_stores_eq(&a, &b);
	portrsv_store_free(&b);

	/* Written again from what was read: the same bytes. */
	text = get_file(file, &len);
	cr_assert_eq(portrsv_store_read(dir, &b, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(portrsv_store_write(dir, &b), 0);
	{
		size_t len2;
		char *again = get_file(file, &len2);

		cr_assert_eq(len, len2);
		cr_assert_eq(memcmp(text, again, len), 0, "a rewrite changed the store");
		free(again);
	}
	free(text);
	portrsv_store_free(&b);
	portrsv_store_free(&a);
	cr_assert_eq(a.n, 0);
	cr_assert_null(a.v);
}

Test(store, roundtrip_empty, .init = setup, .fini = teardown)
{
	struct portrsv_store a = { 0 }, b;
	char msg[512], *text;
	size_t len;

	cr_assert_eq(portrsv_store_write(dir, &a), 0);
	text = get_file(file, &len);
	cr_assert_not_null(strstr(text, "portrsv-store 1\n"));
	free(text);
	cr_assert_eq(portrsv_store_read(dir, &b, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(b.n, 0);
	cr_assert_eq(b.ncgroups, 0);
	portrsv_store_free(&b);
}

Test(store, missing_file_is_empty, .init = setup, .fini = teardown)
{
	struct portrsv_store s = { .n = 99 };
	char msg[512] = "stale", sub[160];

	cr_assert_eq(portrsv_store_read(dir, &s, msg, sizeof(msg)), 0);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(s.ncgroups, 0);
	cr_assert_str_empty(msg);
	/* Nor does reading create anything. */
	cr_assert_eq(count_entries(dir), 0);
	snprintf(sub, sizeof(sub), "%s/never-made", dir);
	cr_assert_eq(portrsv_store_read(sub, &s, msg, sizeof(msg)), 0);
	cr_assert_eq(access(sub, F_OK), -1);
}

Test(store, write_replaces_mode, .init = setup, .fini = teardown)
{
	struct portrsv_store a;
	struct stat st;

	put_file(file, "old\n", 4);
	cr_assert_eq(chmod(file, 0644), 0);
	fill(&a);
	cr_assert_eq(portrsv_store_write(dir, &a), 0);
	cr_assert_eq(stat(file, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	portrsv_store_free(&a);
}

Test(store, write_makes_dir, .init = setup, .fini = teardown)
{
	struct portrsv_store a = { 0 };
	char sub[160];
	struct stat st;

	umask(0);
	snprintf(sub, sizeof(sub), "%s/state", dir);
	cr_assert_eq(portrsv_store_write(sub, &a), 0);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700, "mode %o", st.st_mode & 07777);
	/* A file where the directory should be. */
	snprintf(sub, sizeof(sub), "%s/plain", dir);
	put_file(sub, "x", 1);
	cr_assert_eq(portrsv_store_write(sub, &a), -ENOTDIR);
}

/* A time the format cannot hold is refused, not written into a store that reads back as
 * corrupt; the store on disk stays as it was. */
Test(store, write_refuses_unreadable_time, .init = setup, .fini = teardown)
{
	static const uint64_t times[] = { TIME_MAX + 1, (uint64_t)INT64_MAX + 1, UINT64_MAX };
	struct portrsv_store a;
	struct snapshot before;

	fill(&a);
	cr_assert_eq(portrsv_store_write(dir, &a), 0);
	take(&before, file);
	for (size_t i = 0; i < ARRAY_SIZE(times); i++) {
		a.v[1].created = times[i];
		cr_assert_eq(portrsv_store_write(dir, &a), -EINVAL, "created %llu",
			     (unsigned long long)times[i]);
		assert_unchanged(&before, file, "refused write");
	}
	portrsv_store_free(&a);
}

/* A creator the parser would refuse is not written either. */
Test(store, write_refuses_unreadable_creator, .init = setup, .fini = teardown)
{
	static const struct {
		const char *name, *cgroup;
		uint32_t uid;
		const char comm[16];
	} rows[] = {
		{ "relative cgroup", "system.slice", 0, "a" },
		{ "empty cgroup", "", 0, "a" },
		{ "uid -1", "/a", UINT32_MAX, "a" },
		{ "comm without NUL", "/a", 0, "sixteen_bytes__x" },
	};
	struct portrsv_store a;
	struct snapshot before;
	char cg[64];

	fill(&a);
	cr_assert_eq(portrsv_store_write(dir, &a), 0);
	take(&before, file);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct portrsv_store_creator *by = &a.v[0].by;

		free(by->cgroup);
		snprintf(cg, sizeof(cg), "%s", rows[i].cgroup);
		by->cgroup = strdup(cg);
		by->uid = rows[i].uid;
		memcpy(by->comm, rows[i].comm, sizeof(by->comm));
		cr_assert_eq(portrsv_store_write(dir, &a), -EINVAL, "%s", rows[i].name);
		assert_unchanged(&before, file, rows[i].name);
	}
	portrsv_store_free(&a);
}

/* A container id the parser would refuse is not written either. */
Test(store, write_refuses_unreadable_container, .init = setup, .fini = teardown)
{
	static const char *const rows[] = { "-a", ".a", "_a", "a b", "a/b", "a:b", "a\n", "a%41",
					    "\xc3\xbc" };
	struct portrsv_store a;
	struct snapshot before;

	fill(&a);
	cr_assert_eq(portrsv_store_write(dir, &a), 0);
	take(&before, file);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		free(a.v[0].container); /* the entry's own copy (portrsv_store_add) */
		a.v[0].container = strdup(rows[i]);
		cr_assert_not_null(a.v[0].container);
		cr_assert_eq(portrsv_store_write(dir, &a), -EINVAL, "'%s' written", rows[i]);
		assert_unchanged(&before, file, rows[i]);
	}
	portrsv_store_free(&a);
}

/* ---- Bad stores ---------------------------------------------------------------------- */

#define HDR "portrsv-store 1\n"
#define T "2026-11-25T15:00:00Z"
#define TOK1 "0x0123456789abcdef"
#define TOK2 "0x0123456789abcdee"
#define TOK3 "0x0123456789abcded"
#define TOK4 "0x0123456789abcdec"
/* A reservation line of the given fields. */
#define RESV(proto_start_count, token, netns, owner, created, comment) \
	"resv " proto_start_count " " token " " netns " " owner " " created " " comment "\n"
#define GOOD RESV("tcp 5000 20", TOK1, "-", "-", T, "web")
/* The line of a reservation with one field replaced. */
#define WITH_COMMENT(c) HDR RESV("tcp 5000 20", TOK1, "-", "-", T, c)
#define WITH_NETNS(n) HDR RESV("tcp 5000 20", TOK1, n, "-", T, "-")
#define WITH_OWNER(o) HDR RESV("tcp 5000 20", TOK1, "-", o, T, "-")
#define WITH_TIME(t) HDR RESV("tcp 5000 20", TOK1, "-", "-", t, "-")
#define WITH_TOKEN(k) HDR RESV("tcp 5000 20", k, "-", "-", T, "-")
#define WITH_BLOCK(b) HDR RESV(b, TOK1, "-", "-", T, "-")
/* A reservation of tcp 5000+20 with trailing fields (store.h: "pool", "pool=LIMIT"). */
#define WITH_EXTRA(x) HDR "resv tcp 5000 20 " TOK1 " - - " T " web " x "\n"
#define X16 "xxxxxxxxxxxxxxxx"
#define A16 "%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41"

struct store_case {
	char name[64];
	char text[512];
	size_t len;
	int ret;
	char want[128]; /* in the message, after the file name; "" when ret is 0 */
	size_t n;       /* entries, when ret is 0 */
	bool pool;      /* when ret is 0: the first entry's pool flag and limit */
	uint32_t limit;
	/* When ret is 0: the first entry's creator ("": none). Arrays, not pointers: the
	 * parameters reach each test in a process of its own. */
	char by_cgroup[32];
	uint32_t by_uid;
	char by_comm[16];
	char container[128]; /* when ret is 0: the first entry's container ("": none) */
};

/* sizeof, not strlen: some rows hold a NUL byte. */
#define OK(name, text, n) { name, text, sizeof(text) - 1, 0, "", n }
#define BAD(name, text, want) { name, text, sizeof(text) - 1, -EBADMSG, want, 0 }
#define OK_POOL(name, text, limit) { name, text, sizeof(text) - 1, 0, "", 1, true, limit }
#define OK_CT(name, x, id) \
	{ name, WITH_EXTRA(x), sizeof(WITH_EXTRA(x)) - 1, 0, "", 1, false, 0, "", 0, "", id }
#define OK_BY(name, x, uid, comm, cgroup) \
	{ name, WITH_EXTRA(x), sizeof(WITH_EXTRA(x)) - 1, 0, "", 1, false, 0, cgroup, uid, comm }

static struct store_case store_cases[] = {
	OK("valid", HDR GOOD, 1),
	OK("header only", HDR, 0),
	OK("comments and blank lines anywhere", "# a\n\n \t \r\n" HDR "# b\n\n" GOOD "# c\n", 1),
	OK("cgroups only", HDR "cgroup /sys/fs/cgroup\ncgroup /sys/fs/cgroup/a%20b\n", 0),
	OK("same block, other protocol",
	   HDR RESV("tcp 5000 20", TOK1, "-", "-", T, "-")
	       RESV("udp 5000 20", TOK2, "-", "-", T, "-"),
	   2),
	OK("same block, other netns",
	   HDR RESV("tcp 5000 20", TOK1, "-", "-", T, "-")
	       RESV("tcp 5000 20", TOK2, "/run/netns/a", "-", T, "-")
	       RESV("tcp 5000 20", TOK3, "/run/netns/b", "-", T, "-")
	       RESV("tcp 5000 20", TOK4, "net:[4026531840]:1", "-", T, "-"),
	   4),
	OK("adjacent blocks",
	   HDR RESV("tcp 5000 20", TOK1, "-", "-", T, "-")
	       RESV("tcp 5020 1", TOK2, "-", "-", T, "-")
	       RESV("tcp 4999 1", TOK3, "-", "-", T, "-"),
	   3),
	OK("whole range", WITH_BLOCK("udp 1 65535"), 1),
	OK("last port", WITH_BLOCK("udp 65535 1"), 1),
	OK("leading zeros in ports", WITH_BLOCK("udp 065535 01"), 1),
	OK("comment of 63 bytes", WITH_COMMENT(X16 X16 X16 "xxxxxxxxxxxxxxx"), 1),
	OK("comment of 63 escaped bytes",
	   WITH_COMMENT(A16 A16 A16 "%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41"), 1),
	OK("comment %2D is a dash", WITH_COMMENT("%2D"), 1),
	OK("escaped UTF-8 comment", WITH_COMMENT("%C3%BC%E2%9C%93"), 1),
	OK("anonymous netns", WITH_NETNS("net:[4026531840]:18446744073709551615"), 1),
	OK("epoch", WITH_TIME("1970-01-01T00:00:00Z"), 1),
	OK("leap day", WITH_TIME("2028-02-29T23:59:59Z"), 1),
	OK("year 9999", WITH_TIME("9999-12-31T23:59:59Z"), 1),
	/* Pools: optional trailing fields; a line without them is what version 1 wrote. */
	OK_POOL("pool without limit", WITH_EXTRA("pool"), 0),
	OK_POOL("pool with limit", WITH_EXTRA("pool=5"), 5),
	OK_POOL("pool limit of the whole block", WITH_EXTRA("pool=20"), 20),
	OK_POOL("pool limit 1", WITH_EXTRA("pool=1"), 1),
	OK_POOL("pool after an empty comment",
		HDR "resv tcp 5000 20 " TOK1 " - - " T " - pool=3\n", 3),
	OK("pool and plain side by side",
	   HDR RESV("tcp 6000 20", TOK2, "-", "-", T, "-")
	       RESV("tcp 5000 20", TOK1, "-", "-", T, "- pool=2"),
	   2),

	BAD("empty file", "", ":1: empty file"),
	BAD("only comments", "# nothing\n\n", ":1: no 'portrsv-store 1' header"),
	BAD("missing header", GOOD, ":1: no 'portrsv-store 1' header"),
	BAD("garbage header", "\x7f" "ELF\x02\x01\x01\n", ":1: no 'portrsv-store 1' header"),
	BAD("header word alone", "portrsv-store\n", ":1: no 'portrsv-store 1' header"),
	BAD("header with a third field", "portrsv-store 1 x\n", ":1: no 'portrsv-store 1' header"),
	BAD("unknown version", "portrsv-store 2\n" GOOD, ":1: unknown store version '2'"),
	BAD("version 01", "portrsv-store 01\n", ":1: unknown store version '01'"),
	BAD("version with CR", "portrsv-store 1\r\n", ":1: unknown store version '(text with"),
	BAD("bad header after comments", "# a\n\nportrsv-store 2\n", ":3: unknown store version"),
	BAD("header twice", HDR HDR, ":2: unknown record 'portrsv-store'"),
	BAD("truncated line", HDR "resv tcp 5000 20 " TOK1 " - -\n",
	    ":2: reservation has 7 fields, want 9"),
	BAD("trailing text is no field", HDR "resv tcp 5000 20 " TOK1 " - - " T " a b c d\n",
	    ":2: unknown field 'b' (written by a newer portrsv?)"),
	BAD("too many fields",
	    WITH_EXTRA("pool pool pool pool pool pool pool pool pool"),
	    ":2: reservation has more than 17 fields"),
	BAD("unknown trailing field", WITH_EXTRA("creator=1"), ":2: unknown field 'creator=1'"),
	BAD("pool twice", WITH_EXTRA("pool pool=3"), ":2: field 'pool' appears twice"),
	BAD("pool limit twice", WITH_EXTRA("pool=2 pool=3"), ":2: field 'pool' appears twice"),
	BAD("pool limit 0", WITH_EXTRA("pool=0"), ":2: pool limit '0' is not a number from 1"),
	BAD("pool limit empty", WITH_EXTRA("pool="), ":2: pool limit '' is not a number"),
	BAD("pool limit leading zero", WITH_EXTRA("pool=05"), ":2: pool limit '05' is not"),
	BAD("pool limit signed", WITH_EXTRA("pool=+5"), ":2: pool limit '+5' is not"),
	BAD("pool limit negative", WITH_EXTRA("pool=-1"), ":2: pool limit '-1' is not"),
	BAD("pool limit hex", WITH_EXTRA("pool=0x5"), ":2: pool limit '0x5' is not"),
	BAD("pool limit text", WITH_EXTRA("pool=5x"), ":2: pool limit '5x' is not"),
	BAD("pool limit 65536", WITH_EXTRA("pool=65536"), ":2: pool limit '65536' is not"),
	BAD("pool limit huge", WITH_EXTRA("pool=99999999999"), ":2: pool limit '99999999999'"),
	BAD("pool limit past the block", WITH_EXTRA("pool=21"),
	    ":2: pool limit 21 is more than the block's 20 ports"),
	BAD("pool key case", WITH_EXTRA("POOL"), ":2: unknown field 'POOL'"),
	BAD("pool key prefix", WITH_EXTRA("pools=1"), ":2: unknown field 'pools=1'"),
	BAD("pool with a colon", WITH_EXTRA("pool:3"), ":2: unknown field 'pool:3'"),
	OK("no creator", WITH_EXTRA(""), 1),
	/* Containers: container=ID, ID as a CNI runtime's container id. */
	OK_CT("container", "container=0123abcdef", "0123abcdef"),
	OK_CT("container of one byte", "container=a", "a"),
	OK_CT("container punctuated", "container=A1_b.c-d", "A1_b.c-d"),
	OK_CT("container of 127 bytes", "container=" C126, C126),
	{ "container before creator", WITH_EXTRA("container=c1 by=0:a:/"),
	  sizeof(WITH_EXTRA("container=c1 by=0:a:/")) - 1, 0, "", 1, false, 0, "/", 0, "a", "c1" },
	{ "container after pool", WITH_EXTRA("pool=2 container=c1"),
	  sizeof(WITH_EXTRA("pool=2 container=c1")) - 1, 0, "", 1, true, 2, "", 0, "", "c1" },
	BAD("container twice", WITH_EXTRA("container=a container=b"),
	    ":2: field 'container' appears twice"),
	BAD("container empty", WITH_EXTRA("container="), ":2: container '' is not [A-Za-z0-9]"),
	BAD("container of 128 bytes", WITH_EXTRA("container=" C126 "x"), ":2: container 'Zxxx"),
	BAD("container leading dash", WITH_EXTRA("container=-a"), ":2: container '-a' is not"),
	BAD("container leading dot", WITH_EXTRA("container=.a"), ":2: container '.a' is not"),
	BAD("container slash", WITH_EXTRA("container=a/b"), ":2: container 'a/b' is not"),
	BAD("container colon", WITH_EXTRA("container=a:b"), ":2: container 'a:b' is not"),
	BAD("container percent", WITH_EXTRA("container=a%41"), ":2: container 'a%41' is not"),
	BAD("container control byte", WITH_EXTRA("container=a\x01"),
	    ":2: container '(text with control characters)' is not"),
	BAD("container UTF-8", WITH_EXTRA("container=\xc3\xbc"), ":2: container '"),
	BAD("container key alone", WITH_EXTRA("container"), ":2: unknown field 'container'"),
	BAD("container key case", WITH_EXTRA("Container=a"), ":2: unknown field 'Container=a'"),
	OK_BY("creator", "by=0:portrsv:/system.slice/x.service", 0, "portrsv",
	      "/system.slice/x.service"),
	OK_BY("creator after pool", "pool by=1000:sh:/", 1000, "sh", "/"),
	OK_BY("creator before pool", "by=1000:sh:/ pool=2", 1000, "sh", "/"),
	OK_BY("creator with empty comm", "by=1::/a", 1, "", "/a"),
	OK_BY("creator largest uid", "by=4294967294:x:/a", 4294967294U, "x", "/a"),
	OK_BY("creator encoded", "by=5:a%0Ab%3ac%25%20:/%3A%20%0a", 5, "a\nb:c% ", "/: \n"),
	OK_BY("creator comm of 15 bytes", "by=5:fifteen_bytes__:/a", 5, "fifteen_bytes__", "/a"),
	OK_BY("creator comm of 15 escaped bytes",
	      "by=5:%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41:/a", 5, "AAAAAAAAAAAAAAA", "/a"),
	OK_BY("creator dash is a dash", "by=5:-:/-", 5, "-", "/-"),
	BAD("creator twice", WITH_EXTRA("by=0:a:/ by=0:a:/"), ":2: field 'by' appears twice"),
	BAD("creator without value", WITH_EXTRA("by"), ":2: unknown field 'by'"),
	BAD("creator key case", WITH_EXTRA("BY=0:a:/"), ":2: unknown field 'BY=0:a:/'"),
	BAD("creator empty", WITH_EXTRA("by="), ":2: creator '' is not UID:COMM:CGROUP"),
	BAD("creator of two parts", WITH_EXTRA("by=0:/a"), ":2: creator '0:/a' is not UID"),
	BAD("creator of four parts", WITH_EXTRA("by=0:a:/b:c"),
	    ":2: creator '0:a:/b:c' is not UID:COMM:CGROUP"),
	BAD("creator uid empty", WITH_EXTRA("by=:a:/"), ":2: creator uid '' is not a number"),
	BAD("creator uid leading zero", WITH_EXTRA("by=01:a:/"), ":2: creator uid '01' is not"),
	BAD("creator uid negative", WITH_EXTRA("by=-1:a:/"), ":2: creator uid '-1' is not"),
	BAD("creator uid signed", WITH_EXTRA("by=+1:a:/"), ":2: creator uid '+1' is not"),
	BAD("creator uid hex", WITH_EXTRA("by=0x1:a:/"), ":2: creator uid '0x1' is not"),
	BAD("creator uid -1", WITH_EXTRA("by=4294967295:a:/"),
	    ":2: creator uid '4294967295' is not a number from 0 to 4294967294"),
	BAD("creator uid huge", WITH_EXTRA("by=99999999999:a:/"), ":2: creator uid '9999"),
	BAD("creator comm of 16 bytes", WITH_EXTRA("by=0:sixteen_bytes___:/"),
	    ":2: creator command longer than 15 bytes"),
	BAD("creator comm of 16 escaped bytes", WITH_EXTRA("by=0:" A16 ":/"),
	    ":2: creator command longer than 15 bytes"),
	BAD("creator comm with NUL", WITH_EXTRA("by=0:a%00:/"),
	    ":2: creator command: bad percent-encoding"),
	BAD("creator comm bad escape", WITH_EXTRA("by=0:a%G0:/"),
	    ":2: creator command: bad percent-encoding"),
	BAD("creator comm raw byte", WITH_EXTRA("by=0:a\x7f:/"),
	    ":2: creator command: bad percent-encoding"),
	BAD("creator cgroup empty", WITH_EXTRA("by=0:a:"),
	    ":2: creator cgroup '' is not an absolute path"),
	BAD("creator cgroup relative", WITH_EXTRA("by=0:a:system.slice"),
	    ":2: creator cgroup 'system.slice' is not an absolute path"),
	BAD("creator cgroup dash", WITH_EXTRA("by=0:a:-"),
	    ":2: creator cgroup '-' is not an absolute path"),
	BAD("creator cgroup with NUL", WITH_EXTRA("by=0:a:/%00"),
	    ":2: creator cgroup: bad percent-encoding"),
	BAD("creator cgroup truncated escape", WITH_EXTRA("by=0:a:/%4"),
	    ":2: creator cgroup: bad percent-encoding"),
	BAD("last line without newline", HDR "resv tcp 5000 20 " TOK1 " - - " T " -",
	    ":2: truncated: the last line has no newline"),
	BAD("header without newline", "portrsv-store 1", ":1: truncated"),
	BAD("line number counts comments", "# a\n\n" HDR "# b\n\nresv bad\n",
	    ":6: reservation has 2 fields"),
	BAD("duplicate token", HDR GOOD RESV("udp 6000 1", TOK1, "/run/netns/x", "-", T, "-"),
	    ":3: the token of line 2 appears again"),
	BAD("overlap, same netns and protocol",
	    HDR RESV("tcp 5000 20", TOK1, "-", "-", T, "-")
		RESV("tcp 5019 5", TOK2, "-", "-", T, "-"),
	    ":3: tcp 5019-5023 overlaps 5000-5019 of line 2"),
	BAD("overlap, nested",
	    HDR RESV("udp 5000 20", TOK1, "-", "-", T, "-")
		RESV("udp 5005 1", TOK2, "-", "-", T, "-"),
	    ":3: udp 5005 overlaps 5000-5019 of line 2"),
	BAD("overlap, first port",
	    HDR RESV("tcp 5000 20", TOK1, "-", "-", T, "-")
		RESV("tcp 4990 11", TOK2, "-", "-", T, "-"),
	    ":3: tcp 4990-5000 overlaps 5000-5019 of line 2"),
	BAD("overlap, named netns",
	    HDR RESV("tcp 5000 20", TOK1, "/run/netns/a", "-", T, "-")
		RESV("tcp 5000 1", TOK2, "/run/netns/a", "-", T, "-"),
	    ":3: tcp 5000 overlaps 5000-5019 of line 2"),
	BAD("overlap, anonymous netns",
	    HDR RESV("tcp 5000 20", TOK1, "net:[1]:2", "-", T, "-")
		RESV("tcp 1 65535", TOK2, "net:[1]:2", "-", T, "-"),
	    ":3: tcp 1-65535 overlaps 5000-5019 of line 2"),
	BAD("overlap found among others",
	    HDR RESV("tcp 5000 20", TOK1, "-", "-", T, "-")
		RESV("udp 5000 20", TOK2, "-", "-", T, "-")
		RESV("tcp 7000 20", TOK3, "-", "-", T, "-")
		RESV("tcp 6000 1001", TOK4, "-", "-", T, "-"),
	    ":5: tcp 6000-7000 overlaps 7000-7019 of line 4"),
	BAD("token 0", WITH_TOKEN("0x0000000000000000"), ":2: token is 0"),
	BAD("token short", WITH_TOKEN("0x123"), ":2: token is not 0x and 16 hex digits (not shown"),
	BAD("token 17 digits", WITH_TOKEN("0x00123456789abcdef"),
	    ":2: token is not 0x and 16 hex digits (not shown"),
	BAD("token without 0x", WITH_TOKEN("000123456789abcdef"),
	    ":2: token is not 0x and 16 hex digits (not shown"),
	BAD("token 0X", WITH_TOKEN("0X0123456789abcdef"),
	    ":2: token is not 0x and 16 hex digits (not shown"),
	BAD("token not hex", WITH_TOKEN("0x0123456789abcdeg"),
	    ":2: token is not 0x and 16 hex digits (not shown"),
	BAD("token signed", WITH_TOKEN("0x-123456789abcde"),
	    ":2: token is not 0x and 16 hex digits (not shown"),
	BAD("port 0", WITH_BLOCK("tcp 0 20"), ":2: start port '0' is not a number from 1 to 65535"),
	BAD("port 65536", WITH_BLOCK("tcp 65536 1"), ":2: start port '65536'"),
	BAD("port 80abc", WITH_BLOCK("tcp 80abc 1"), ":2: start port '80abc'"),
	BAD("port -1", WITH_BLOCK("tcp -1 1"), ":2: start port '-1'"),
	BAD("port +80", WITH_BLOCK("tcp +80 1"), ":2: start port '+80'"),
	BAD("port hex", WITH_BLOCK("tcp 0x50 1"), ":2: start port '0x50'"),
	BAD("count 0", WITH_BLOCK("tcp 5000 0"), ":2: count '0' is not a number from 1 to 65535"),
	BAD("count 20abc", WITH_BLOCK("tcp 5000 20abc"), ":2: count '20abc'"),
	BAD("count 65536", WITH_BLOCK("tcp 1 65536"), ":2: count '65536'"),
	BAD("count huge", WITH_BLOCK("tcp 1 99999999999999999999"), ":2: count '9999"),
	BAD("block past 65535", WITH_BLOCK("tcp 65530 7"), ":2: block 65530-65536 passes port 65535"),
	BAD("block 65535+2", WITH_BLOCK("udp 65535 2"), ":2: block 65535-65536 passes port 65535"),
	BAD("protocol sctp", WITH_BLOCK("sctp 5000 20"), ":2: protocol 'sctp' is not tcp or udp"),
	BAD("protocol TCP", WITH_BLOCK("TCP 5000 20"), ":2: protocol 'TCP'"),
	BAD("protocol number", WITH_BLOCK("6 5000 20"), ":2: protocol '6'"),
	BAD("created month 13", WITH_TIME("2026-13-01T00:00:00Z"),
	    ":2: created '2026-13-01T00:00:00Z' is not a time"),
	BAD("created Feb 30", WITH_TIME("2026-02-30T00:00:00Z"), ":2: created '2026-02-30T00"),
	BAD("created Feb 29, no leap year", WITH_TIME("2026-02-29T00:00:00Z"), ":2: created"),
	BAD("created second 60", WITH_TIME("2026-11-25T15:00:60Z"), ":2: created"),
	BAD("created hour 24", WITH_TIME("2026-11-25T24:00:00Z"), ":2: created"),
	BAD("created one-digit fields", WITH_TIME("2026-1-5T1:2:3Z"),
	    ":2: created '2026-1-5T1:2:3Z'"),
	BAD("created blank inside", WITH_TIME("2026-\t1-25T15:00:00Z"),
	    ":2: created '(text with control characters)'"),
	BAD("created without Z", WITH_TIME("2026-11-25T15:00:00"), ":2: created"),
	BAD("created with offset", WITH_TIME("2026-11-25T15:00:00+01:00"), ":2: created"),
	BAD("created trailing text", WITH_TIME("2026-11-25T15:00:00Zx"), ":2: created"),
	BAD("created before 1970", WITH_TIME("1969-12-31T23:59:59Z"), ":2: created"),
	BAD("created year 0", WITH_TIME("0000-01-01T00:00:00Z"), ":2: created"),
	BAD("created date only", WITH_TIME("2026-11-25"), ":2: created '2026-11-25'"),
	BAD("created seconds", WITH_TIME("1764082800"), ":2: created '1764082800'"),
	BAD("escape %G1", WITH_COMMENT("a%G1"), ":2: comment: bad percent-encoding"),
	BAD("escape %1G", WITH_COMMENT("a%1G"), ":2: comment: bad percent-encoding"),
	BAD("escape %00", WITH_COMMENT("a%00b"), ":2: comment: bad percent-encoding"),
	BAD("trailing %", WITH_COMMENT("abc%"), ":2: comment: bad percent-encoding"),
	BAD("trailing %4", WITH_COMMENT("abc%4"), ":2: comment: bad percent-encoding"),
	BAD("bad escape in netns", WITH_NETNS("/run/netns/%zz"), ":2: netns: bad percent-encoding"),
	BAD("bad escape in owner", WITH_OWNER("/sys/fs/cgroup/%"),
	    ":2: owner: bad percent-encoding"),
	BAD("bad escape in cgroup", HDR "cgroup /sys/%xx\n", ":2: cgroup: bad percent-encoding"),
	BAD("raw tab", WITH_COMMENT("a\tb"), ":2: comment: bad percent-encoding"),
	BAD("CRLF line end", HDR "resv tcp 5000 20 " TOK1 " - - " T " -\r\n",
	    ":2: comment: bad percent-encoding"),
	BAD("raw DEL", WITH_COMMENT("a\x7f"), ":2: comment: bad percent-encoding"),
	BAD("raw ESC in netns", WITH_NETNS("/run/netns/\x1b[2J"),
	    ":2: netns: bad percent-encoding"),
	BAD("raw UTF-8", WITH_COMMENT("\xc3\xbc"), ":2: comment: bad percent-encoding"),
	BAD("escaped tab in comment", WITH_COMMENT("a%09b"), ":2: comment has a control byte 0x09 at offset 1"),
	BAD("escaped newline in comment", WITH_COMMENT("a%0Ab"), ":2: comment has a control"),
	BAD("escaped DEL in comment", WITH_COMMENT("%7F"), ":2: comment has a control byte 0x7f at offset 0"),
	BAD("relative owner", WITH_OWNER("sys/fs/cgroup/x"),
	    ":2: owner 'sys/fs/cgroup/x' is not an absolute path"),
	BAD("owner %2D", WITH_OWNER("%2D"), ":2: owner '-' is not an absolute path"),
	BAD("owner net:[]", WITH_OWNER("net:[4026531840]:1"),
	    ":2: owner 'net:[4026531840]:1' is not an absolute path"),
	BAD("owner with an escaped newline", WITH_OWNER("%0Aevil"),
	    ":2: owner '(text with control characters)' is not an absolute path"),
	BAD("relative netns", WITH_NETNS("run/netns/a"),
	    ":2: netns 'run/netns/a' is neither an absolute path nor net:[INO]:COOKIE"),
	BAD("netns %2D", WITH_NETNS("%2D"), ":2: netns '-' is neither"),
	BAD("netns net:[ garbage", WITH_NETNS("net:[garbage"),
	    ":2: netns 'net:[garbage' is neither"),
	BAD("netns net:[ino] alone", WITH_NETNS("net:[4026531840]"),
	    ":2: netns 'net:[4026531840]'"),
	BAD("netns net:[] leading zero", WITH_NETNS("net:[04026531840]:1"), ":2: netns 'net:[0402"),
	BAD("netns net:[] hex", WITH_NETNS("net:[0x10]:1"), ":2: netns 'net:[0x10]:1'"),
	BAD("netns net:[] trailing", WITH_NETNS("net:[1]:2x"), ":2: netns 'net:[1]:2x'"),
	BAD("netns net:[] past 64 bits", WITH_NETNS("net:[1]:18446744073709551616"),
	    ":2: netns 'net:[1]:18446744073709551616'"),
	BAD("relative cgroup", HDR "cgroup sys/fs/cgroup\n",
	    ":2: cgroup 'sys/fs/cgroup' is not an absolute path"),
	BAD("cgroup net:[]", HDR "cgroup net:[1]:2\n", ":2: cgroup 'net:[1]:2' is not an absolute"),
	BAD("cgroup -", HDR "cgroup -\n", ":2: cgroup needs an absolute path"),
	BAD("cgroup two paths", HDR "cgroup /a /b\n", ":2: cgroup line needs exactly one path"),
	BAD("cgroup no path", HDR "cgroup\n", ":2: cgroup line needs exactly one path"),
	BAD("unknown record", HDR "reserve tcp 5000 20 " TOK1 " - - " T " -\n",
	    ":2: unknown record 'reserve'"),
	BAD("indented comment", HDR "  # not a comment\n", ":2: unknown record '#'"),
	BAD("tab-separated", HDR "resv\ttcp\n", ":2: unknown record '(text with control"),
	BAD("NUL byte", HDR GOOD "resv\0tcp 6000 1 " TOK2 " - - " T " -\n", ":3: NUL byte"),
	BAD("NUL first", "\0" HDR, ":1: NUL byte"),
	BAD("NUL last", HDR "\0", ":2: NUL byte"),
	BAD("comment of 64 bytes", WITH_COMMENT(X16 X16 X16 X16),
	    ":2: comment is 64 bytes, at most 63"),
	BAD("comment of 64 escaped bytes", WITH_COMMENT(A16 A16 A16 A16),
	    ":2: comment is 64 bytes, at most 63"),
};

ParameterizedTestParameters(store, parse)
{
	return PARAMS(struct store_case, store_cases);
}

/* Straight through the parser: the file name given is the one in the message. */
ParameterizedTest(struct store_case *c, store, parse)
{
	struct portrsv_store s = { .n = 7 };
	char msg[512], want[160];
	int ret = portrsv_store_parse(c->text, c->len, "F", &s, msg, sizeof(msg));

	cr_assert_eq(ret, c->ret, "%s: parse = %d (%s), want %d", c->name, ret, msg, c->ret);
	assert_one_line(msg, c->name);
	if (ret) {
		snprintf(want, sizeof(want), "F%s", c->want);
		cr_assert_eq(strncmp(msg, want, strlen(want)), 0,
			     "%s: message \"%s\", want \"%s...\"", c->name, msg, want);
		cr_assert(s.n == 0 && !s.v && s.ncgroups == 0 && !s.cgroups,
			  "%s: a refused store is not empty", c->name);
	} else {
		cr_assert_str_empty(msg, "%s: message \"%s\" on success", c->name, msg);
		cr_assert_eq(s.n, c->n, "%s: %zu entries, want %zu", c->name, s.n, c->n);
		cr_assert(!s.n || (s.v[0].pool == c->pool && s.v[0].limit == c->limit) ||
				  c->by_cgroup[0],
			  "%s: pool %d limit %u, want %d %u", c->name, s.v[0].pool, s.v[0].limit,
			  c->pool, c->limit);
		if (c->by_cgroup[0]) {
			cr_assert_not_null(s.v[0].by.cgroup, "%s: no creator", c->name);
			cr_assert_str_eq(s.v[0].by.cgroup, c->by_cgroup, "%s: creator cgroup", c->name);
			cr_assert_eq(s.v[0].by.uid, c->by_uid, "%s: creator uid", c->name);
			cr_assert_str_eq(s.v[0].by.comm, c->by_comm, "%s: creator comm", c->name);
		} else if (s.n) {
			cr_assert_null(s.v[0].by.cgroup, "%s: a creator where there is none", c->name);
		}
		if (s.n)
			cr_assert_str_eq(s.v[0].container ? s.v[0].container : "", c->container,
					 "%s: container", c->name);
	}
	portrsv_store_free(&s);
}

ParameterizedTestParameters(store, read)
{
	return PARAMS(struct store_case, store_cases);
}

/* Through the file: the message names the file, and a refused file is left as it was. */
ParameterizedTest(struct store_case *c, store, read, .init = setup, .fini = teardown)
{
	struct portrsv_store s;
	struct snapshot before;
	char msg[512], want[320];
	int ret;

	put_file(file, c->text, c->len);
	take(&before, file);
	ret = portrsv_store_read(dir, &s, msg, sizeof(msg));
	cr_assert_eq(ret, c->ret, "%s: read = %d (%s), want %d", c->name, ret, msg, c->ret);
	assert_one_line(msg, c->name);
	/* Tokens are secrets: no message of the parser shows one (every row's share a prefix). */
	cr_assert(!strstr(msg, "0123456789abcde"), "%s: a token in \"%s\"", c->name, msg);
	if (ret) {
		snprintf(want, sizeof(want), "%s%s", file, c->want);
		cr_assert_eq(strncmp(msg, want, strlen(want)), 0,
			     "%s: message \"%s\", want \"%s...\"", c->name, msg, want);
		cr_assert_eq(s.n, 0);
	} else {
		cr_assert_eq(s.n, c->n);
	}
	assert_unchanged(&before, file, c->name);
	portrsv_store_free(&s);
}

/* ---- File-level refusals ------------------------------------------------------------- */

enum file_kind { HUGE, OVER_LIMIT, AT_LIMIT, DIRECTORY, SYMLINK, FIFO, UNREADABLE };

struct file_case {
	char name[48];
	enum file_kind kind;
	int ret;
	char want[96]; /* in the message, right after the file name */
};

ParameterizedTestParameters(store, file)
{
	static struct file_case rows[] = {
		{ "100 MB, sparse", HUGE, -EFBIG, ": 104857600 bytes, more than a store can hold" },
		{ "one byte over the limit", OVER_LIMIT, -EFBIG, ": 16777217 bytes" },
		{ "at the limit: read, then refused", AT_LIMIT, -EBADMSG, ":2: NUL byte" },
		{ "a directory", DIRECTORY, -EBADMSG, ": not a regular file" },
		{ "a symlink to a valid store", SYMLINK, -ELOOP, ": " },
		{ "a FIFO", FIFO, -EBADMSG, ": not a regular file" },
		{ "unreadable", UNREADABLE, -EACCES, ": Permission denied" },
	};

	return PARAMS(struct file_case, rows);
}

static void make_sparse(off_t size)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, HDR, strlen(HDR)), (ssize_t)strlen(HDR));
	cr_assert_eq(ftruncate(fd, size), 0, "ftruncate: %s", strerror(errno));
	close(fd);
}

ParameterizedTest(struct file_case *c, store, file, .init = setup, .fini = teardown,
		  .timeout = 20)
{
	struct snapshot before, target;
	struct rusage ru0, ru1;
	struct timespec t0, t1;
	struct portrsv_store s;
	char msg[512], want[320], other[160];
	double secs;
	int ret;

	snprintf(other, sizeof(other), "%s/elsewhere", dir);
	switch (c->kind) {
	case HUGE:
		make_sparse(100 << 20);
		break;
	case OVER_LIMIT:
		make_sparse(PORTRSV_STORE_MAX_BYTES + 1);
		break;
	case AT_LIMIT:
		make_sparse(PORTRSV_STORE_MAX_BYTES);
		break;
	case DIRECTORY:
		cr_assert_eq(mkdir(file, 0700), 0);
		break;
	case SYMLINK:
		put_file(other, HDR GOOD, strlen(HDR GOOD));
		cr_assert_eq(symlink(other, file), 0);
		take(&target, other);
		break;
	case FIFO:
		cr_assert_eq(mkfifo(file, 0600), 0);
		break;
	case UNREADABLE:
		if (geteuid() == 0) {
			teardown(); /* a skipped test gets no .fini */
			cr_skip_test("root reads any file: run the tests as a user for this row");
		}
		put_file(file, HDR GOOD, strlen(HDR GOOD));
		cr_assert_eq(chmod(file, 0), 0);
		break;
	}
	take(&before, file);
	getrusage(RUSAGE_SELF, &ru0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = portrsv_store_read(dir, &s, msg, sizeof(msg));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &ru1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	cr_assert_eq(ret, c->ret, "%s: read = %d (%s), want %d", c->name, ret, msg, c->ret);
	snprintf(want, sizeof(want), "%s%s", file, c->want);
	cr_assert_eq(strncmp(msg, want, strlen(want)), 0, "%s: message \"%s\", want \"%s...\"",
		     c->name, msg, want);
	assert_one_line(msg, c->name);
	cr_assert_eq(s.n, 0);
	assert_unchanged(&before, file, c->name);
	if (c->kind == SYMLINK)
		assert_unchanged(&target, other, c->name);
	/*
	 * Refused on its size alone, never read. Time alone cannot tell (100 MB of holes read
	 * fast); memory can: a read would have touched at least the file's size.
	 */
	if (c->kind == HUGE || c->kind == OVER_LIMIT) {
		cr_assert_lt(secs, 0.5, "%s: took %.3f s", c->name, secs);
		cr_assert_lt(ru1.ru_maxrss - ru0.ru_maxrss, 8 << 10, "%s: peak memory grew %ld kB",
			     c->name, ru1.ru_maxrss - ru0.ru_maxrss);
	}
	portrsv_store_free(&s);
}

/* ---- Parser API edges ---------------------------------------------------------------- */

Test(store, message_buffer)
{
	static const char text[] = HDR "resv tcp 0 1\n";
	struct portrsv_store s;
	char small[8];

	/* No buffer at all. */
	cr_assert_eq(portrsv_store_parse(text, sizeof(text) - 1, "F", &s, NULL, 0), -EBADMSG);
	/* A short buffer is cut, still terminated. */
	memset(small, 'z', sizeof(small));
	cr_assert_eq(portrsv_store_parse(text, sizeof(text) - 1, "a-long-file-name", &s, small,
					 sizeof(small)), -EBADMSG);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(strncmp(small, "a-long-", 7), 0);
	/* Long enough for the name but not the cause. */
	cr_assert_eq(portrsv_store_parse(text, sizeof(text) - 1, "F", &s, small, 6), -EBADMSG);
	cr_assert_str_eq(small, "F:2: ");
}

/* The parser stops at the end it is given, not at a NUL the caller did not promise. */
Test(store, parse_respects_len)
{
	static const char text[] = HDR GOOD "garbage that is never looked at";
	struct portrsv_store s;
	char msg[256];
	char *exact = malloc(strlen(HDR GOOD));

	memcpy(exact, text, strlen(HDR GOOD)); /* no NUL after it */
	cr_assert_eq(portrsv_store_parse(exact, strlen(HDR GOOD), "F", &s, msg, sizeof(msg)), 0,
		     "%s", msg);
	cr_assert_eq(s.n, 1);
	portrsv_store_free(&s);
	free(exact);
}

/* Reading thousands of small reservations stays fast: the duplicate and overlap checks are
 * not a scan of every earlier line. */
Test(store, parse_many, .timeout = 30)
{
	enum { N = 100000 };
	size_t cap = N * 80 + 64, len = 0;
	char *buf = malloc(cap), msg[256];
	struct portrsv_store s;
	struct timespec t0, t1;

	cr_assert_not_null(buf);
	len += sprintf(buf + len, HDR);
	for (int i = 0; i < N; i++)
		len += sprintf(buf + len, "resv %s %d 1 0x%016x /run/netns/n%d - " T " -\n",
			       i & 1 ? "udp" : "tcp", 1 + i % 65535, i + 1, i / 65535);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(portrsv_store_parse(buf, len, "F", &s, msg, sizeof(msg)), 0, "%s", msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(s.n, N);
	cr_assert_lt((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, 10.0);
	portrsv_store_free(&s);
	/* The same plus one line that overlaps the first: found, and named. */
	len += sprintf(buf + len, "resv tcp 1 1 0x%016x /run/netns/n0 - " T " -\n", N + 1);
	cr_assert_eq(portrsv_store_parse(buf, len, "F", &s, msg, sizeof(msg)), -EBADMSG);
	cr_assert_str_eq(msg, "F:100002: tcp 1 overlaps 1 of line 2");
	free(buf);
}

/* ---- In-memory edits ----------------------------------------------------------------- */

Test(store, edits)
{
	struct portrsv_store s = { 0 };
	struct portrsv_store_entry e = { PORTRSV_TCP, 1, 1, 1, "/run/netns/a", "/x", 0, "c" };
	char path[32];

	for (int i = 0; i < 3; i++) {
		e.start = 10 * (i + 1);
		cr_assert_eq(portrsv_store_add(&s, &e), 0);
	}
	/* Copies, not the caller's pointers. */
	cr_assert_neq(s.v[0].netns, e.netns);
	cr_assert_str_eq(s.v[0].netns, "/run/netns/a");
	portrsv_store_remove(&s, 1);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.v[0].start, 10);
	cr_assert_eq(s.v[1].start, 30);
	portrsv_store_remove(&s, 1);
	portrsv_store_remove(&s, 0);
	cr_assert_eq(s.n, 0);

	for (int i = 0; i < PORTRSV_STORE_MAX_CGROUPS; i++) {
		snprintf(path, sizeof(path), "/cg/%d", i);
		cr_assert_eq(portrsv_store_add_cgroup(&s, path), 0);
	}
	cr_assert_eq(portrsv_store_add_cgroup(&s, "/cg/one-too-many"), -ENOSPC);
	cr_assert_eq(portrsv_store_add_cgroup(&s, "/cg/5"), 0, "a known one is no new one");
	portrsv_store_remove_cgroup(&s, "/cg/5");
	portrsv_store_remove_cgroup(&s, "/cg/not-there");
	cr_assert_eq(s.ncgroups, PORTRSV_STORE_MAX_CGROUPS - 1);
	cr_assert_str_eq(s.cgroups[5], "/cg/6");
	portrsv_store_free(&s);
	portrsv_store_free(&s);
	portrsv_store_free(NULL);
}

/* ---- Lock ---------------------------------------------------------------------------- */

/* 0 when another process may take the lock now, EWOULDBLOCK when it may not. */
static int try_lock_elsewhere(void)
{
	char path[160];
	pid_t pid;
	int status;

	snprintf(path, sizeof(path), "%s", dir); /* the lock is the state directory's */
	pid = fork();
	cr_assert(pid >= 0);
	if (!pid) {
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			_exit(100);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			_exit(0);
		_exit(errno == EWOULDBLOCK ? EWOULDBLOCK : 101);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert(WEXITSTATUS(status) < 100, "child: %d", WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

Test(store, lock, .init = setup, .fini = teardown)
{
	char sub[160];
	struct stat st;
	int fd;

	fd = portrsv_store_lock(dir);
	cr_assert(fd >= 0, "lock: %s", strerror(-fd));
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_eq(try_lock_elsewhere(), EWOULDBLOCK, "a second locker got the lock");
	close(fd);
	cr_assert_eq(try_lock_elsewhere(), 0, "the lock outlived its fd");
	fd = portrsv_store_lock(dir);
	cr_assert(fd >= 0);
	cr_assert_eq(try_lock_elsewhere(), EWOULDBLOCK);
	close(fd);

	/* It makes the state directory, 0700. */
	umask(0);
	snprintf(sub, sizeof(sub), "%s/state", dir);
	fd = portrsv_store_lock(sub);
	cr_assert(fd >= 0, "lock: %s", strerror(-fd));
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700, "mode %o", st.st_mode & 07777);
	close(fd);
}

/* ---- The journal (store.h): large stores take a change as one appended line ---------- */

#define JBIG 1000 /* entries: about 90 KB, above PORTRSV_JOURNAL_MIN_BASE */
static char jfile[160];

/* A store of n one-port TCP reservations (ports 1000.., tokens 1..n), written whole. */
static void write_big(struct portrsv_store *s, int n)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < n; i++) {
		struct portrsv_store_entry e = { .proto = PORTRSV_TCP, .start = 1000 + i,
						 .count = 1, .token = i + 1,
						 .netns = "/run/netns/t", .created = 1 };

		cr_assert_eq(portrsv_store_add(s, &e), 0);
	}
	cr_assert_eq(portrsv_store_write(dir, s), 0);
	snprintf(jfile, sizeof(jfile), "%s/%s", dir, PORTRSV_JOURNAL_FILE);
}

static void add_logged(struct portrsv_store *s, uint16_t port, uint64_t token)
{
	struct portrsv_store_entry e = { .proto = PORTRSV_UDP, .start = port, .count = 1,
					 .token = token, .created = 2, .comment = "j" };

	cr_assert_eq(portrsv_store_add(s, &e), 0);
	cr_assert_eq(portrsv_store_log(dir, s, &s->v[s->n - 1], 0), 0);
}

static void remove_logged(struct portrsv_store *s, uint64_t token)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].token == token) {
			portrsv_store_remove(s, i);
			cr_assert_eq(portrsv_store_log(dir, s, NULL, token), 0);
			return;
		}
	cr_assert_fail("token %llu not in the store", (unsigned long long)token);
}

/* What is read back is what s holds. */
static void assert_reads_as(const struct portrsv_store *s, const char *what)
{
	struct portrsv_store r;
	char msg[512];

	cr_assert_eq(portrsv_store_read(dir, &r, msg, sizeof(msg)), 0, "%s: %s", what, msg);
	cr_assert_eq(r.n, s->n, "%s: %zu entries read, %zu held", what, r.n, s->n);
	assert_stores_eq(s, &r);
	/* and what the next change extends: the same files, the same journal */
	cr_assert_eq(r.base_hash, s->base_hash, "%s: base hash", what);
	cr_assert_eq(r.base_len, s->base_len, "%s: base length", what);
	cr_assert_eq(r.journal_len, s->journal_len, "%s: journal of %zu bytes read, %zu held",
		     what, r.journal_len, s->journal_len);
	cr_assert_eq(r.journal_ops, s->journal_ops, "%s: journal of %u changes read, %u held",
		     what, r.journal_ops, s->journal_ops);
	portrsv_store_free(&r);
}

Test(journal, appends_and_reads_back, .init = setup, .fini = teardown)
{
	struct portrsv_store s;
	char *before, *after, *j;
	size_t blen, alen, jlen;
	struct stat st;

	write_big(&s, JBIG);
	before = get_file(file, &blen);
	cr_assert_geq(blen, PORTRSV_JOURNAL_MIN_BASE);
	cr_assert_eq(access(jfile, F_OK), -1, "a journal before any change");

	add_logged(&s, 7000, 0xabc);        /* an addition */
	remove_logged(&s, 5);               /* a removal of the store's */
	add_logged(&s, 7001, 0xabd);
	remove_logged(&s, 0xabd);           /* a removal of the journal's own */
	assert_reads_as(&s, "after 4 changes");
	cr_assert_eq(s.journal_ops, 4);

	/* The store itself is untouched; the journal is what store.h says, mode 0600. */
	after = get_file(file, &alen);
	cr_assert(alen == blen && !memcmp(before, after, blen), "the store was rewritten");
	j = get_file(jfile, &jlen);
	cr_assert_eq(strncmp(j, "portrsv-journal 1 ", 18), 0, "%.60s", j);
	{
		char len_nl[32];

		snprintf(len_nl, sizeof(len_nl), " %zu\n", blen);
		cr_assert_eq(strcspn(j + 18, " "), 16, "hash: %.60s", j);
		cr_assert_eq(strncmp(j + 34, len_nl, strlen(len_nl)), 0, "length: %.60s", j);
	}
	cr_assert_not_null(strstr(j, "\n+ resv udp 7000 1 0x0000000000000abc - - "
				    "1970-01-01T00:00:02Z j\n"), "%s", j);
	cr_assert_not_null(strstr(j, "\n- 0x0000000000000005\n"), "%s", j);
	cr_assert_eq(stat(jfile, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);

	/* Another process's read (a copy of the files, new inodes and times) sees the same:
	 * the journal names the store by its bytes. */
	unlink(file);
	put_file(file, after, alen);
	assert_reads_as(&s, "copied");
	free(before);
	free(after);
	free(j);
	portrsv_store_free(&s);
}

Test(journal, small_store_is_rewritten, .init = setup, .fini = teardown)
{
	struct portrsv_store s;

	write_big(&s, 2);
	add_logged(&s, 7000, 0xabc);
	remove_logged(&s, 1);
	cr_assert_eq(access(jfile, F_OK), -1, "a journal for a store of 2");
	cr_assert_eq(s.journal_ops, 0);
	assert_reads_as(&s, "small");
	portrsv_store_free(&s);
}

Test(journal, folded_in_when_full, .init = setup, .fini = teardown)
{
	struct portrsv_store s;
	char *text;
	size_t len;

	write_big(&s, JBIG);
	for (int i = 0; i < PORTRSV_JOURNAL_MAX_OPS; i++)
		add_logged(&s, 20000 + i, 0x10000 + i);
	cr_assert_eq(s.journal_ops, PORTRSV_JOURNAL_MAX_OPS);
	cr_assert_eq(access(jfile, F_OK), 0);
	add_logged(&s, 30000, 0x20000); /* one more: the store written whole */
	cr_assert_eq(access(jfile, F_OK), -1, "the journal outlived the rewrite");
	cr_assert_eq(s.journal_ops, 0);
	text = get_file(file, &len);
	cr_assert_not_null(strstr(text, "\nresv udp 30000 1 0x0000000000020000 "), "not folded in");
	cr_assert_not_null(strstr(text, "\nresv udp 20000 1 0x0000000000010000 "), "not folded in");
	free(text);
	assert_reads_as(&s, "folded");
	add_logged(&s, 30001, 0x20001); /* and a new journal starts */
	cr_assert_eq(access(jfile, F_OK), 0);
	assert_reads_as(&s, "new journal");
	portrsv_store_free(&s);
}

/* As the CNI plugin does it: each change by a process of its own, which reads the store
 * first. The journal still folds in after PORTRSV_JOURNAL_MAX_OPS changes. */
Test(journal, folded_in_when_full_across_reads, .init = setup, .fini = teardown)
{
	struct portrsv_store s, r;
	char msg[512];

	write_big(&s, JBIG);
	portrsv_store_free(&s);
	for (int i = 0; i <= PORTRSV_JOURNAL_MAX_OPS; i++) {
		cr_assert_eq(portrsv_store_read(dir, &r, msg, sizeof(msg)), 0, "%s", msg);
		cr_assert_eq(r.journal_ops, (unsigned)i, "change %d: the journal read has %u", i,
			     r.journal_ops);
		add_logged(&r, 20000 + i, 0x10000 + i);
		portrsv_store_free(&r);
	}
	cr_assert_eq(access(jfile, F_OK), -1, "the journal outlived %d changes",
		     PORTRSV_JOURNAL_MAX_OPS + 1);
	cr_assert_eq(portrsv_store_read(dir, &r, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(r.n, (size_t)JBIG + PORTRSV_JOURNAL_MAX_OPS + 1);
	portrsv_store_free(&r);
}

/* Write s whole in a child killed right after the rename: the journal stays, stale. */
static void write_killed_after_rename(struct portrsv_store *s)
{
	int status;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (!pid) {
		setenv("PORTRSV_FAULT", "store-after-rename", 1);
		_exit(portrsv_store_write(dir, s) ? 1 : 0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %#x", status);
}

Test(journal, stale, .init = setup, .fini = teardown)
{
	struct portrsv_store s, r;
	char msg[512], want[256], *text;
	size_t len;

	/* A rewrite cut short after its rename: the journal names the old bytes, and what
	 * it holds is all in the store. Ignored, and removed by the next write. */
	write_big(&s, JBIG);
	add_logged(&s, 7000, 0xabc);
	remove_logged(&s, 7);
	write_killed_after_rename(&s);
	cr_assert_eq(access(jfile, F_OK), 0, "the journal is gone: the test proves nothing");
	cr_assert_eq(portrsv_store_read(dir, &r, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert(r.journal_stale);
	cr_assert_eq(r.journal_ops, 0);
	assert_stores_eq(&s, &r);
	add_logged(&r, 7002, 0xabe); /* the next change: a journal of its own in its place */
	cr_assert_eq(r.journal_ops, 1);
	cr_assert(!r.journal_stale);
	portrsv_store_free(&s);
	assert_reads_as(&r, "after the stale one");
	write_killed_after_rename(&r);
	cr_assert_eq(portrsv_store_read(dir, &s, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert(s.journal_stale);
	cr_assert_eq(portrsv_store_write(dir, &s), 0); /* a whole write removes it first */
	cr_assert_eq(access(jfile, F_OK), -1, "the stale journal stayed");
	portrsv_store_free(&s);
	portrsv_store_free(&r);

	/* The store replaced by one without the journal's changes (a backup put back): not
	 * silently dropped, but refused, the store and journal left as they are. */
	write_big(&s, JBIG);
	text = get_file(file, &len);
	add_logged(&s, 7000, 0xabc);
	unlink(file);
	text[len - 2] = 'x'; /* the last comment, changed */
	put_file(file, text, len);
	cr_assert_eq(portrsv_store_read(dir, &r, msg, sizeof(msg)), -EBADMSG);
	snprintf(want, sizeof(want), "%s:2: a change that %s lacks, in a journal of another store",
		 jfile, file);
	cr_assert_eq(strncmp(msg, want, strlen(want)), 0, "message \"%s\", want \"%s...\"", msg,
		     want);
	cr_assert_eq(r.n, 0);
	cr_assert_eq(access(jfile, F_OK), 0);
	/* Removing the journal is how to go on without them. */
	cr_assert_eq(unlink(jfile), 0);
	cr_assert_eq(portrsv_store_read(dir, &r, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(r.n, JBIG);
	free(text);
	portrsv_store_free(&s);
	portrsv_store_free(&r);
}

Test(journal, torn_last_line, .init = setup, .fini = teardown)
{
	struct portrsv_store s;
	int fd;

	write_big(&s, JBIG);
	add_logged(&s, 7000, 0xabc);
	/* A crash in the middle of the next append: half a line, never reported done. */
	fd = open(jfile, O_WRONLY | O_APPEND | O_CLOEXEC);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "+ resv udp 7001 1 0x00", 22), 22);
	close(fd);
	assert_reads_as(&s, "torn");
	/* The next change replaces the torn part rather than continue it. */
	add_logged(&s, 7002, 0xabe);
	assert_reads_as(&s, "after the torn line");
	remove_logged(&s, 0xabc);
	assert_reads_as(&s, "and a removal");
	/* A journal whose header itself was cut short is none. */
	portrsv_store_free(&s);
	put_file(jfile, "portrsv-jour", 12);
	cr_assert_eq(portrsv_store_read(dir, &s, (char[256]){ 0 }, 256), 0);
	cr_assert_eq(s.n, JBIG);
	portrsv_store_free(&s);
}

Test(journal, undone_changes_remove_it, .init = setup, .fini = teardown)
{
	struct portrsv_store s;
	char *before, *after;
	size_t blen, alen;

	pid_t pid;
	int status;

	write_big(&s, JBIG);
	before = get_file(file, &blen);
	add_logged(&s, 7000, 0xabc);
	/* Removed again, and written whole: the same bytes as the store, so only the journal
	 * goes. Were the store renamed into place instead, a crash right after the rename
	 * would leave the journal naming those very bytes, and replayed: 7000 back. */
	portrsv_store_remove(&s, s.n - 1);
	pid = fork();
	cr_assert(pid >= 0);
	if (!pid) {
		setenv("PORTRSV_FAULT", "store-after-rename", 1);
		_exit(portrsv_store_write(dir, &s) ? 1 : 0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && !WEXITSTATUS(status), "the write crashed or failed: %#x",
		  status);
	cr_assert_eq(access(jfile, F_OK), -1);
	after = get_file(file, &alen);
	cr_assert(alen == blen && !memcmp(before, after, blen));
	s.journal_len = s.journal_ops = 0; /* as the child's write left its copy */
	assert_reads_as(&s, "undone");
	free(before);
	free(after);
	portrsv_store_free(&s);
}

struct journal_case {
	char name[48];
	char line[160]; /* appended to a journal of one change (+ udp 7000, token 0xabc) */
	char msg[96];   /* the message after "DIR/" */
};

ParameterizedTestParameters(journal, refused)
{
	static struct journal_case rows[] = {
		{ "unknown line", "x 1\n", "reservations.journal:3: not '+ LINE' nor '- TOKEN'" },
		{ "empty line", "\n", "reservations.journal:3: not '+ LINE' nor '- TOKEN'" },
		{ "short token", "- 0x123\n", "reservations.journal:3: not '+ LINE' nor '- TOKEN'" },
		{ "bad token", "- 0x0123456789abcdeg\n",
		  "reservations.journal:3: token is not 0x and 16 hex digits" },
		{ "unknown token", "- 0x00000000000f0000\n",
		  "reservations.journal:3: removes a reservation the store does not have" },
		{ "removed twice", "- 0x0000000000000abc\n- 0x0000000000000abc\n",
		  "reservations.journal:4: removes a reservation removed already" },
		{ "not a reservation", "+ cgroup /x\n",
		  "reservations.journal:3: adds what is not a reservation" },
		{ "bad reservation", "+ resv tcp 0 1 0x0000000000000abd - - " T " -\n",
		  "reservations.journal:3: start port '0' is not a number" },
		{ "overlap", "+ resv tcp 1005 2 0x0000000000000abd /run/netns/t - " T " -\n",
		  "reservations.journal:3: tcp 1005-1006 overlaps 1005 of line " },
		{ "token again", "+ resv tcp 9 1 0x0000000000000001 - - " T " -\n",
		  "reservations.journal:3: the token of line " },
		{ "removed token again", "+ resv tcp 9 1 0x0000000000000005 - - " T " -\n"
					 "- 0x0000000000000005\n",
		  "reservations.journal:3: the token removed by line 4 of the journal appears " },
		{ "NUL byte", "+ resv\0 tcp\n", "reservations.journal: NUL byte: not a text file" },
	};

	return PARAMS(struct journal_case, rows);
}

ParameterizedTest(struct journal_case *c, journal, refused, .init = setup, .fini = teardown)
{
	struct portrsv_store s;
	struct snapshot before, jbefore;
	char msg[512], want[256];
	int fd;

	write_big(&s, JBIG);
	add_logged(&s, 7000, 0xabc);
	portrsv_store_free(&s);
	fd = open(jfile, O_WRONLY | O_APPEND | O_CLOEXEC);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, c->line, strlen(c->line) + (strstr(c->name, "NUL") ? 8 : 0)),
		     (ssize_t)(strlen(c->line) + (strstr(c->name, "NUL") ? 8 : 0)));
	close(fd);
	take(&before, file);
	take(&jbefore, jfile);
	cr_assert_eq(portrsv_store_read(dir, &s, msg, sizeof(msg)), -EBADMSG, "%s: read", c->name);
	snprintf(want, sizeof(want), "%s/%s", dir, c->msg);
	cr_assert_eq(strncmp(msg, want, strlen(want)), 0, "%s: message \"%s\", want \"%s...\"",
		     c->name, msg, want);
	assert_one_line(msg, c->name);
	assert_unchanged(&before, file, c->name);
	assert_unchanged(&jbefore, jfile, c->name);
	cr_assert_eq(s.n, 0);
}
