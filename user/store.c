// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The persistent store: parse, format, durable write, lock. The format is in store.h and
 * man/portrsv-store.5. The parser trusts nothing: every field is checked, and the whole file is
 * refused (never partly applied) at its first bad line.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "internal.h"
#include "store.h"

#define HEADER "portrsv-store"
#define JOURNAL_HEADER "portrsv-journal"
#define RESV_FIELDS 9 /* the fields every reservation line has */
#define MAX_EXTRA 8    /* optional key or key=value fields after them (store.h) */
#define MAX_FIELDS (RESV_FIELDS + MAX_EXTRA)
#define TIME_FMT "%Y-%m-%dT%H:%M:%SZ"
/* 9999-12-31T23:59:59Z, the last time the format's four-digit year can hold. */
#define TIME_MAX 253402300799ULL

/* Is str a string of s's text (a line's, read), not a copy of its own? */
static bool in_text(const struct portrsv_store *s, const char *str)
{
	for (int k = 0; k < 2; k++)
		if (s->text[k] && str >= s->text[k] && str <= s->text[k] + s->text_len[k])
			return true;
	return false;
}

/* The strings of e that are its own. */
static void entry_free(const struct portrsv_store *s, struct portrsv_store_entry *e)
{
	char *own[] = { e->netns, e->owner, e->by.cgroup, e->comment, e->container };

	for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++)
		if (own[k] && !in_text(s, own[k]))
			free(own[k]);
}

void portrsv_store_free(struct portrsv_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_free(s, &s->v[i]);
	for (size_t i = 0; i < s->ncgroups; i++)
		free(s->cgroups[i]);
	free(s->v);
	free(s->cgroups);
	free(s->text[0]);
	free(s->text[1]);
	memset(s, 0, sizeof(*s));
}

static char *dup_or_null(const char *s, int *err)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

int portrsv_store_add(struct portrsv_store *s, const struct portrsv_store_entry *e)
{
	struct portrsv_store_entry *nv, c = *e;
	int err = 0;

	/* Copies of its own: e's strings are the caller's. */
	c.netns = dup_or_null(e->netns, &err);
	c.owner = dup_or_null(e->owner, &err);
	c.by.cgroup = dup_or_null(e->by.cgroup, &err);
	c.comment = dup_or_null(e->comment && *e->comment ? e->comment : NULL, &err);
	c.container = dup_or_null(e->container && *e->container ? e->container : NULL, &err);
	nv = err ? NULL : realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv) {
		const struct portrsv_store none = { 0 };

		entry_free(&none, &c);
		return -ENOMEM;
	}
	s->v = nv;
	s->v[s->n++] = c;
	return 0;
}

void portrsv_store_remove(struct portrsv_store *s, size_t i)
{
	entry_free(s, &s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
	s->n--;
}

int portrsv_store_add_cgroup(struct portrsv_store *s, const char *path)
{
	char **nv, *d;

	for (size_t i = 0; i < s->ncgroups; i++)
		if (!strcmp(s->cgroups[i], path))
			return 0;
	if (s->ncgroups == PORTRSV_STORE_MAX_CGROUPS)
		return -ENOSPC;
	d = strdup(path);
	nv = d ? realloc(s->cgroups, (s->ncgroups + 1) * sizeof(*nv)) : NULL;
	if (!nv) {
		free(d);
		return -ENOMEM;
	}
	s->cgroups = nv;
	s->cgroups[s->ncgroups++] = d;
	return 0;
}

void portrsv_store_remove_cgroup(struct portrsv_store *s, const char *path)
{
	for (size_t i = 0; i < s->ncgroups; i++) {
		if (strcmp(s->cgroups[i], path))
			continue;
		free(s->cgroups[i]);
		memmove(&s->cgroups[i], &s->cgroups[i + 1],
			(s->ncgroups - i - 1) * sizeof(s->cgroups[0]));
		s->ncgroups--;
		return;
	}
}

/*
 * The store's text as it is formatted, in memory, then written with one write(): the same
 * lines serve a whole store and a journal's line. A failed allocation is remembered and
 * reported once, at the end.
 */
struct out {
	char *b;
	size_t n, cap;
	bool oom;
};

static bool out_room(struct out *o, size_t more)
{
	char *nb;
	size_t cap;

	if (o->n + more <= o->cap)
		return true;
	if (o->oom)
		return false;
	cap = o->cap ? o->cap : 4096;
	while (cap < o->n + more)
		cap *= 2;
	nb = realloc(o->b, cap);
	if (!nb) {
		o->oom = true;
		return false;
	}
	o->b = nb;
	o->cap = cap;
	return true;
}

static void put_c(struct out *o, char c)
{
	if (out_room(o, 1))
		o->b[o->n++] = c;
}

static void put_s(struct out *o, const char *s)
{
	size_t len = strlen(s);

	if (out_room(o, len)) {
		memcpy(o->b + o->n, s, len);
		o->n += len;
	}
}

/* %XX of byte c. */
static void put_pct(struct out *o, unsigned char c)
{
	put_c(o, '%');
	put_c(o, "0123456789ABCDEF"[c >> 4]);
	put_c(o, "0123456789ABCDEF"[c & 15]);
}

/* Percent-encoding of store.h: "-" stands for NULL/empty. */
static void put_text(struct out *o, const char *s)
{
	if (!s || !*s) {
		put_s(o, " -");
		return;
	}
	put_c(o, ' ');
	if (!strcmp(s, "-")) {
		put_s(o, "%2D");
		return;
	}
	for (; *s; s++) {
		unsigned char c = *s;

		if (c <= 0x20 || c >= 0x7f || c == '%')
			put_pct(o, c);
		else
			put_c(o, c);
	}
}

/*
 * Decimal and hex without printf, which was a third of the time a 10,000-line store took to
 * format. width: the least number of digits (zeros before).
 */
static void put_num(struct out *o, uint64_t v, unsigned base, int width)
{
	char d[20];
	int n = 0;

	do { /* constant divisors: a division by a variable is slow */
		d[n++] = "0123456789abcdef"[base == 16 ? v & 15 : v % 10];
		v = base == 16 ? v >> 4 : v / 10;
	} while (v);
	while (n < width)
		d[n++] = '0';
	while (n)
		put_c(o, d[--n]);
}

/* One part of "by=UID:COMM:CGROUP": as put_text, with ':' encoded too, and "" as itself. */
static void put_part(struct out *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = *s;

		if (c <= 0x20 || c >= 0x7f || c == '%' || c == ':')
			put_pct(o, c);
		else
			put_c(o, c);
	}
}

/* By table (the digit + 1; 0: none): the branches on random hex digits were a tenth of
 * what reading a store cost. */
static const unsigned char hex_digit[256] = {
	['0'] = 1,  ['1'] = 2,	['2'] = 3,  ['3'] = 4,	['4'] = 5,  ['5'] = 6,	['6'] = 7,
	['7'] = 8,  ['8'] = 9,	['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
	['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
	['F'] = 16,
};

static int hexval(char c)
{
	return (int)hex_digit[(unsigned char)c] - 1;
}

/* Decode in place; rejects bad escapes, NUL and bytes that must have been escaped. */
static int decode(char *s)
{
	char *o = s;

	for (char *i = s; *i; i++) {
		unsigned char c = *i;

		if (c <= 0x20 || c >= 0x7f)
			return -1;
		if (c == '%') {
			int hi = hexval(i[1]), lo = hi < 0 ? -1 : hexval(i[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		*o++ = c;
	}
	*o = '\0';
	return 0;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms):
 * gmtime_r() + strftime() per line, and strptime() + timegm() + the check that it formats
 * back, were a fifth of the time a 10,000-line store took to read and write.
 */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, unsigned *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

/* A time that parse_time() cannot read back is refused, so no write makes a store unreadable. */
static int check_time(uint64_t t)
{
	return t > TIME_MAX ? -EINVAL : 0;
}

/* The time as parse_time() reads it; check_time() first. */
static void put_time(struct out *o, uint64_t t)
{
	unsigned y, mo, d, sec = (unsigned)(t % 86400);

	civil_from_days((int64_t)(t / 86400), &y, &mo, &d);
	put_num(o, y, 10, 4);
	put_c(o, '-');
	put_num(o, mo, 10, 2);
	put_c(o, '-');
	put_num(o, d, 10, 2);
	put_c(o, 'T');
	put_num(o, sec / 3600, 10, 2);
	put_c(o, ':');
	put_num(o, sec / 60 % 60, 10, 2);
	put_c(o, ':');
	put_num(o, sec % 60, 10, 2);
	put_c(o, 'Z');
}

/* Two decimal digits at s, or -1. */
static int two(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/*
 * Exactly what put_time() writes for some time from 1970 to TIME_MAX: YYYY-MM-DDTHH:MM:SSZ
 * with a real date (no Feb 30), hours to 23, seconds to 59, nothing before or after.
 */
static int parse_time(const char *s, uint64_t *t)
{
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y1, y2, mo, d, h, mi, sec;
	unsigned y;

	if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z')
		return -1;
	y1 = two(s);
	y2 = two(s + 2);
	mo = two(s + 5);
	d = two(s + 8);
	h = two(s + 11);
	mi = two(s + 14);
	sec = two(s + 17);
	if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || sec < 0 || sec > 59)
		return -1;
	y = (unsigned)(y1 * 100 + y2);
	if (y < 1970 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return -1;
	*t = (uint64_t)days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	     (uint64_t)(h * 3600 + mi * 60 + sec);
	return 0;
}

/* One reservation's line; nothing the parser would refuse is written (-EINVAL). */
static int format_entry(struct out *o, const struct portrsv_store_entry *e)
{
	if (check_time(e->created) || (e->proto != PORTRSV_TCP && e->proto != PORTRSV_UDP))
		return -EINVAL;
	if (e->by.cgroup && (e->by.cgroup[0] != '/' || strlen(e->by.cgroup) >= PATH_MAX ||
			     e->by.uid == UINT32_MAX ||
			     strnlen(e->by.comm, sizeof(e->by.comm)) == sizeof(e->by.comm)))
		return -EINVAL;
	if ((e->container && !portrsv_container_valid(e->container)) ||
	    (e->comment && strlen(e->comment) >= PORTRSV_COMMENT_LEN))
		return -EINVAL;
	put_s(o, e->proto == PORTRSV_TCP ? "resv tcp " : "resv udp ");
	put_num(o, e->start, 10, 1);
	put_c(o, ' ');
	put_num(o, e->count, 10, 1);
	put_s(o, " 0x");
	put_num(o, e->token, 16, 16);
	put_text(o, e->netns);
	put_text(o, e->owner);
	put_c(o, ' ');
	put_time(o, e->created);
	put_text(o, e->comment);
	if (e->pool)
		put_s(o, " pool");
	if (e->pool && e->limit) {
		put_c(o, '=');
		put_num(o, e->limit, 10, 1);
	}
	if (e->by.cgroup) {
		put_s(o, " by=");
		put_num(o, e->by.uid, 10, 1);
		put_c(o, ':');
		put_part(o, e->by.comm);
		put_c(o, ':');
		put_part(o, e->by.cgroup);
	}
	if (e->container) {
		put_s(o, " container=");
		put_s(o, e->container);
	}
	put_c(o, '\n');
	return o->oom ? -ENOMEM : 0;
}

static int store_format(struct out *o, const struct portrsv_store *s)
{
	int err;

	put_s(o, "# portrsv persistent reservations; format: portrsv-store(5). Written by portrsv.\n"
		 HEADER " ");
	put_num(o, PORTRSV_STORE_VERSION, 10, 1);
	put_c(o, '\n');
	for (size_t i = 0; i < s->ncgroups; i++) {
		put_s(o, "cgroup");
		put_text(o, s->cgroups[i]);
		put_c(o, '\n');
	}
	for (size_t i = 0; i < s->n; i++)
		if ((err = format_entry(o, &s->v[i])))
			return err;
	return o->oom ? -ENOMEM : 0;
}

/*
 * What a journal's header names the store by: a hash of its bytes (a store copied, or
 * restored from a backup, keeps its journal). Bytes in a fixed order: the same on every
 * machine.
 */
static uint64_t text_hash(const char *b, size_t n)
{
	const unsigned char *u = (const unsigned char *)b;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, u + i, 8);
		w = le64toh(w);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ u[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	return h;
}

/*
 * What the parser has accepted so far, in two trees: by token, and by (netns, proto, block).
 * A linear scan per line made a 16 MB store of small blocks take minutes to read.
 */
struct seen {
	uint64_t token;
	const char *netns; /* the entry's own copy, which stays put while s->v moves */
	enum portrsv_proto proto;
	uint16_t start;
	uint16_t count;
	size_t line; /* where it was read, for the message of a repeat */
};

struct parser {
	const char *file;
	size_t line;
	char *err;
	size_t errlen;
	uint64_t *tokens; /* open addressing (0: a free slot, no token is 0): ntok of tcap */
	size_t ntok, tcap;
	void *blocks;     /* owns the struct seen */
	const char *last_netns; /* the netns copy of the last entry: runs share one pointer */
	/*
	 * Until a line breaks the order, blocks come in runs of one (netns, proto) each, every
	 * run rising: nothing can overlap, and no tree is built (a store written in
	 * that order reads without one). At the first line out of order the tree is built from
	 * every entry so far, in file order, as if it had been kept all along.
	 */
	bool tree;
	struct {
		const char *netns; /* text compared, the parser's copy */
		enum portrsv_proto proto;
		uint32_t end; /* past its last block */
	} runs[8];
	size_t nruns;
	size_t cap;   /* of s->v: a store is read in one go, so it grows geometrically */
	size_t want;  /* the first capacity: lines that may be reservations (at most) */
	size_t *lines; /* of each entry of s->v, for a tree built late (in_order) */
	struct gone {
		uint64_t token;
		size_t line; /* of the journal's "-" */
		bool hit;
	} *gone;     /* the journal's removals, sorted by token: those lines are dropped */
	size_t ngone;
};

/*
 * The tokens seen so far, in a hash set (a tree of them was a quarter of the time a
 * 10,000-line store took to read). Returns 1 with *line the line of the first when token
 * was there already, 0 when it is new, -ENOMEM.
 */
static int token_seen(struct parser *p, const struct portrsv_store *s, uint64_t token,
		      size_t *line)
{
	size_t i;

	if (2 * (p->ntok + 1) > p->tcap) {
		size_t cap = p->tcap ? 2 * p->tcap : 1024;
		uint64_t *nt;

		while (!p->tcap && cap < 2 * (p->want + 1)) /* the lines counted: once */
			cap *= 2;
		nt = calloc(cap, sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		for (size_t j = 0; j < p->tcap; j++) {
			if (!p->tokens[j])
				continue;
			for (i = (p->tokens[j] * 0x9e3779b97f4a7c15ULL) >> 20 & (cap - 1); nt[i];
			     i = (i + 1) & (cap - 1))
				;
			nt[i] = p->tokens[j];
		}
		free(p->tokens);
		p->tokens = nt;
		p->tcap = cap;
	}
	for (i = (token * 0x9e3779b97f4a7c15ULL) >> 20 & (p->tcap - 1); p->tokens[i];
	     i = (i + 1) & (p->tcap - 1))
		if (p->tokens[i] == token) {
			/* Every token in the set is an entry's: its line, for the message. */
			for (size_t k = 0; k < s->n; k++)
				if (s->v[k].token == token)
					*line = p->lines[k];
			return 1;
		}
	p->tokens[i] = token;
	p->ntok++;
	return 0;
}

/*
 * Blocks of one netns and protocol compare equal when they overlap. The tree never holds two
 * that overlap, so this orders it, and a search for a block finds any block it overlaps.
 */
static int cmp_block(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	int c;

	if (!x->netns != !y->netns)
		return x->netns ? 1 : -1;
	/* Equal text is one pointer when the lines are consecutive (parse_resv). */
	if (x->netns != y->netns && (c = strcmp(x->netns, y->netns)))
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (portrsv_blocks_overlap(x->start, x->count, y->start, y->count))
		return 0;
	return x->start < y->start ? -1 : 1;
}

/* Untrusted text quoted in a message, which must stay one line and free of terminal controls. */
static const char *shown(const char *s)
{
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "(text with control characters)";
	return s;
}

static int bad(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "%s:%zu: ", p->file, p->line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* net:[INO]:COOKIE exactly as netns.c writes it, so that equal text means one namespace. */
static bool netns_anon(const char *s)
{
	char buf[64], again[64], *cookie;
	uint64_t ino, ck;

	if (strncmp(s, "net:[", 5) || strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s + 5);
	cookie = strstr(buf, "]:");
	if (!cookie)
		return false;
	*cookie = '\0';
	cookie += 2;
	if (portrsv_parse_u64(buf, &ino) || portrsv_parse_u64(cookie, &ck))
		return false;
	snprintf(again, sizeof(again), "net:[%" PRIu64 "]:%" PRIu64, ino, ck);
	return !strcmp(again, s);
}

enum text_kind { TEXT, PATH, NETNS };

/* The text field f ("-" = none) into out, or NULL. */
static int text_field(struct parser *p, char *f, const char *what, enum text_kind kind,
		      char **out)
{
	*out = NULL;
	if (!strcmp(f, "-"))
		return 0;
	if (decode(f))
		return bad(p, "%s: bad percent-encoding", what);
	if (kind == NETNS && f[0] != '/' && !netns_anon(f))
		return bad(p, "%s '%s' is neither an absolute path nor net:[INO]:COOKIE", what,
			   shown(f));
	if (kind == PATH && f[0] != '/')
		return bad(p, "%s '%s' is not an absolute path", what, shown(f));
	*out = f;
	return 0;
}

/* Out of memory is no fault of the file: say so, but do not call it corrupt. */
static int no_memory(struct parser *p)
{
	bad(p, "out of memory");
	return -ENOMEM;
}

/*
 * portrsv_store_add() grows s->v one entry at a time, which is fine for one change but
 * quadratic for a whole store wherever realloc() copies (always, under ASan).
 */
static int append(struct parser *p, struct portrsv_store *s, const struct portrsv_store_entry *e)
{
	struct portrsv_store_entry *nv;

	if (s->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : p->want ? p->want : 16;

		size_t *nl;

		nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		nl = realloc(p->lines, cap * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		p->lines = nl;
		p->cap = cap;
	}
	p->lines[s->n] = p->line;
	s->v[s->n++] = *e; /* its strings are in the text, which the store keeps */
	return 0;
}

/* Remember the entry just appended to s, for the duplicate and overlap checks. */
static int remember(struct parser *p, const struct portrsv_store_entry *e, size_t line)
{
	struct seen *k = malloc(sizeof(*k));

	if (!k)
		return -ENOMEM;
	*k = (struct seen){ e->token, e->netns, e->proto, e->start, e->count, line };
	if (e->netns && p->last_netns && !strcmp(e->netns, p->last_netns))
		k->netns = p->last_netns;
	p->last_netns = k->netns;
	if (!tsearch(k, &p->blocks, cmp_block)) {
		free(k);
		return -ENOMEM;
	}
	return 0;
}

/*
 * portrsv_parse_port()/portrsv_parse_count() (digits only, leading zeros allowed, min..65535)
 * without strtoul(), which was a tenth of the time a 10,000-line store took to read.
 */
static int parse_u16(const char *s, uint32_t min, uint16_t *v)
{
	uint32_t x = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		x = x * 10 + (uint32_t)(*s - '0');
		if (x > PORTRSV_PORT_MAX)
			return -1;
	}
	if (x < min)
		return -1;
	*v = (uint16_t)x;
	return 0;
}

/* A token as the writer puts it: 0x and exactly 16 hex digits, either case. */
static int parse_token(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	int bad = 0;

	if (s[0] != '0' || s[1] != 'x' || strnlen(s + 2, 17) != 16)
		return -1;
	for (int i = 2; i < 18; i++) {
		int h = hexval(s[i]);

		bad |= h; /* -1 has every bit: one test at the end, no branch per digit */
		x = x << 4 | (uint64_t)(h & 15);
	}
	if (bad < 0)
		return -1;
	*v = x;
	return 0;
}

/* Decimal 1..65535 without sign, blanks or leading zeros (the form the writer uses). */
static int parse_limit(const char *s, uint32_t *v)
{
	uint32_t x = 0;

	if (!*s || *s == '0' || strlen(s) > 5)
		return -1;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return -1;
		x = x * 10 + (*c - '0');
	}
	if (x > PORTRSV_PORT_MAX)
		return -1;
	*v = x;
	return 0;
}

/* A uid in decimal without sign or leading zeros; (uid_t)-1 is no uid. */
static int parse_uid(const char *s, uint32_t *v)
{
	uint64_t x = 0;

	if (!*s || (*s == '0' && s[1]) || strlen(s) > 10)
		return -1;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return -1;
		x = x * 10 + (*c - '0');
	}
	if (x >= UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* "by=UID:COMM:CGROUP" (store.h): v is the text after "by=", split in place. */
static int parse_by(struct parser *p, char *v, struct portrsv_store_entry *e)
{
	char *comm = strchr(v, ':'), *cg = comm ? strchr(comm + 1, ':') : NULL;

	if (e->by.cgroup)
		return bad(p, "field 'by' appears twice");
	if (!cg || strchr(cg + 1, ':'))
		return bad(p, "creator '%s' is not UID:COMM:CGROUP", shown(v));
	*comm++ = '\0';
	*cg++ = '\0';
	if (parse_uid(v, &e->by.uid))
		return bad(p, "creator uid '%s' is not a number from 0 to %u", shown(v),
			   UINT32_MAX - 1);
	if (decode(comm))
		return bad(p, "creator command: bad percent-encoding");
	if (strlen(comm) >= sizeof(e->by.comm))
		return bad(p, "creator command longer than %d bytes", PORTRSV_COMM_LEN - 1);
	if (decode(cg))
		return bad(p, "creator cgroup: bad percent-encoding");
	if (cg[0] != '/')
		return bad(p, "creator cgroup '%s' is not an absolute path", shown(cg));
	if (strlen(cg) >= PATH_MAX)
		return bad(p, "creator cgroup longer than %d bytes", PATH_MAX - 1);
	strcpy(e->by.comm, comm);
	e->by.cgroup = cg; /* in the parser's copy: append() duplicates it */
	return 0;
}

/* "container=ID" (store.h): v is the text after "container=". */
static int parse_container(struct parser *p, char *v, struct portrsv_store_entry *e)
{
	if (e->container)
		return bad(p, "field 'container' appears twice");
	if (!portrsv_container_valid(v))
		return bad(p, "container '%.32s' is not [A-Za-z0-9][A-Za-z0-9_.-]{0,%d}", shown(v),
			   PORTRSV_CONTAINER_LEN - 2);
	e->container = v;
	return 0;
}

/*
 * One optional trailing field of a reservation (store.h): "pool", "pool=LIMIT",
 * "by=UID:COMM:CGROUP" or "container=ID".
 */
static int parse_extra(struct parser *p, char *f, struct portrsv_store_entry *e)
{
	const char *eq = strchr(f, '=');
	size_t klen = eq ? (size_t)(eq - f) : strlen(f);

	if (klen == 4 && !strncmp(f, "pool", 4)) {
		if (e->pool)
			return bad(p, "field 'pool' appears twice");
		e->pool = true;
		if (!eq)
			return 0;
		if (parse_limit(eq + 1, &e->limit))
			return bad(p, "pool limit '%s' is not a number from 1 to %d", shown(eq + 1),
				   PORTRSV_PORT_MAX);
		if (e->limit > e->count)
			return bad(p, "pool limit %u is more than the block's %u ports", e->limit,
				   e->count);
		return 0;
	}
	if (klen == 2 && !strncmp(f, "by", 2) && eq)
		return parse_by(p, f + 3, e);
	if (klen == 9 && !strncmp(f, "container", 9) && eq)
		return parse_container(p, f + 10, e);
	return bad(p, "unknown field '%.32s' (written by a newer portrsv?)", shown(f));
}

static bool same_netns_text(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Does e keep the order that needs no tree (struct parser)? A run may be taken up again
 * above its end (a journal's addition on a store written in order, say). */
static bool in_order(struct parser *p, const struct portrsv_store_entry *e)
{
	for (size_t i = p->nruns; i-- > 0;)
		if (p->runs[i].proto == e->proto && same_netns_text(p->runs[i].netns, e->netns)) {
			if (e->start < p->runs[i].end)
				return false;
			p->runs[i].end = (uint32_t)e->start + e->count;
			return true;
		}
	if (p->nruns == sizeof(p->runs) / sizeof(p->runs[0]))
		return false;
	p->runs[p->nruns].netns = e->netns;
	p->runs[p->nruns].proto = e->proto;
	p->runs[p->nruns++].end = (uint32_t)e->start + e->count;
	return true;
}

static int cmp_gone(const void *a, const void *b)
{
	uint64_t x = ((const struct gone *)a)->token, y = ((const struct gone *)b)->token;

	return x < y ? -1 : x > y;
}

static int parse_resv(struct parser *p, char **f, int n, struct portrsv_store *s)
{
	struct portrsv_store_entry e = { 0 };
	struct seen k, *const *o;
	char *comment, b[2][16];
	size_t first = 0;
	int err;

	if (n < RESV_FIELDS)
		return bad(p, "reservation has %d fields, want %d (truncated line?)", n, RESV_FIELDS);
	if (n > MAX_FIELDS)
		return bad(p, "reservation has more than %d fields", MAX_FIELDS);
	if (portrsv_parse_proto(f[1], &e.proto))
		return bad(p, "protocol '%s' is not tcp or udp", shown(f[1]));
	if (parse_u16(f[2], PORTRSV_PORT_MIN, &e.start))
		return bad(p, "start port '%s' is not a number from %d to %d", shown(f[2]),
			   PORTRSV_PORT_MIN, PORTRSV_PORT_MAX);
	if (parse_u16(f[3], 1, &e.count))
		return bad(p, "count '%s' is not a number from 1 to %d", shown(f[3]),
			   PORTRSV_PORT_MAX);
	if (portrsv_block_valid(e.start, e.count)) {
		portrsv_block_format(e.start, e.count, b[0], sizeof(b[0]));
		return bad(p, "block %s passes port %d", b[0], PORTRSV_PORT_MAX);
	}
	if (parse_token(f[4], &e.token))
		return bad(p, "token is not 0x and 16 hex digits (not shown: a token is a secret)");
	if (e.token == PORTRSV_TOKEN_INVALID)
		return bad(p, "token is 0 (INVALID_PORT_RESERVATION_TOKEN)");
	err = text_field(p, f[5], "netns", NETNS, &e.netns);
	if (!err)
		err = text_field(p, f[6], "owner", PATH, &e.owner);
	if (!err && parse_time(f[7], &e.created))
		err = bad(p, "created '%s' is not a time YYYY-MM-DDTHH:MM:SSZ", shown(f[7]));
	if (!err)
		err = text_field(p, f[8], "comment", TEXT, &comment);
	if (err)
		return err;
	if (comment) {
		if (strlen(comment) >= PORTRSV_COMMENT_LEN)
			return bad(p, "comment is %zu bytes, at most %d", strlen(comment),
				   PORTRSV_COMMENT_LEN - 1);
		for (const char *c = comment; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return bad(p, "comment has a control byte 0x%02x at offset %td",
					   (unsigned char)*c, c - comment);
		e.comment = comment;
	}
	for (int i = RESV_FIELDS; i < n; i++) {
		err = parse_extra(p, f[i], &e);
		if (err)
			return err;
	}
	if (p->ngone) {
		struct gone key = { .token = e.token }, *g;

		g = bsearch(&key, p->gone, p->ngone, sizeof(*g), cmp_gone);
		if (g && g->hit)
			return bad(p, "the token removed by line %zu of the journal appears again",
				   g->line);
		if (g) {
			g->hit = true;
			return 0; /* removed since: neither kept nor in the way of what follows */
		}
	}
	k = (struct seen){ e.token, e.netns, e.proto, e.start, e.count };
	if (e.netns && p->last_netns && !strcmp(e.netns, p->last_netns))
		k.netns = p->last_netns; /* the same text: cmp_block compares pointers first */
	err = token_seen(p, s, e.token, &first);
	if (err > 0) /* the token itself is a secret: never in a message */
		return bad(p, "the token of line %zu appears again", first);
	if (err)
		return no_memory(p);
	o = p->tree ? tfind(&k, &p->blocks, cmp_block) : NULL;
	if (!o && !p->tree && !in_order(p, &e)) {
		p->tree = true;
		for (size_t i = 0; i < s->n; i++)
			if (remember(p, &s->v[i], p->lines[i]))
				return no_memory(p);
		o = tfind(&k, &p->blocks, cmp_block);
	}
	if (o) {
		portrsv_block_format(e.start, e.count, b[0], sizeof(b[0]));
		portrsv_block_format((*o)->start, (*o)->count, b[1], sizeof(b[1]));
		return bad(p, "%s %s overlaps %s of line %zu", f[1], b[0], b[1], (*o)->line);
	}
	if (append(p, s, &e) || (p->tree && remember(p, &s->v[s->n - 1], p->line)))
		return no_memory(p);
	return 0;
}

/*
 * Split line in place at runs of spaces, as strtok_r(line, " ") would (which, with its
 * strspn and strcspn per field, was a quarter of the time a 10,000-line store took to
 * read). Up to max + 1 fields are kept in f; the count stops there too.
 */
static int split(char *line, char **f, int max)
{
	int n = 0;

	for (char *c = line;;) {
		while (*c == ' ')
			c++;
		if (!*c)
			return n;
		if (n <= max)
			f[n++] = c;
		while (*c && *c != ' ')
			c++;
		if (!*c)
			return n;
		*c++ = '\0';
	}
}

/* A journal to replay on the store (store.h): its lines after the header, all whole. */
struct journal {
	char *text;
	size_t len;
	unsigned ops; /* its lines, counted before the parse splits them */
	const char *file;
	char *buf;    /* the allocation text is in */
	size_t buf_len;
};

static int parse_text(char *copy, size_t len, const char *file, struct portrsv_store *s,
		      char *err, size_t errlen, const struct journal *j);

int portrsv_store_parse(const char *buf, size_t len, const char *file,
			struct portrsv_store *s, char *err, size_t errlen)
{
	char *copy;

	memset(s, 0, sizeof(*s));
	if (errlen)
		err[0] = '\0';
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	return parse_text(copy, len, file, s, err, errlen, NULL); /* s keeps copy */
}

/*
 * The journal's removals into p->gone, sorted; every other line must be an addition.
 * The lines are numbered from 2: the header, checked by the reader, is line 1.
 */
static int journal_removals(struct parser *p, const struct journal *j)
{
	size_t cap = 0;

	p->file = j->file;
	p->line = 1;
	for (const char *l = j->text, *end; l < j->text + j->len; l = end + 1) {
		struct gone *ng;
		char tok[20];

		end = memchr(l, '\n', j->text + j->len - l);
		p->line++;
		if (end - l > 2 && l[0] == '+' && l[1] == ' ')
			continue;
		if (end - l != 20 || l[0] != '-' || l[1] != ' ')
			return bad(p, "not '+ LINE' nor '- TOKEN' (a journal line)");
		memcpy(tok, l + 2, 18);
		tok[18] = '\0';
		if (p->ngone == cap) {
			cap = cap ? 2 * cap : 16;
			ng = realloc(p->gone, cap * sizeof(*ng));
			if (!ng)
				return no_memory(p);
			p->gone = ng;
		}
		if (parse_token(tok, &p->gone[p->ngone].token))
			return bad(p, "token is not 0x and 16 hex digits (not shown: a token is a secret)");
		p->gone[p->ngone].line = p->line;
		p->gone[p->ngone++].hit = false;
	}
	if (p->ngone > 1)
		qsort(p->gone, p->ngone, sizeof(*p->gone), cmp_gone);
	for (size_t i = 1; i < p->ngone; i++)
		if (p->gone[i].token == p->gone[i - 1].token) {
			p->line = p->gone[i].line > p->gone[i - 1].line ? p->gone[i].line
									 : p->gone[i - 1].line;
			return bad(p, "removes a reservation removed already");
		}
	return 0;
}

/* The journal's additions, after the store's lines; then every removal must have hit. */
static int journal_additions(struct parser *p, const struct journal *j, struct portrsv_store *s)
{
	char *f[MAX_FIELDS + 1];
	int ret = 0, n;

	p->file = j->file;
	p->line = 1;
	for (char *l = j->text, *end; !ret && l < j->text + j->len; l = end + 1) {
		end = memchr(l, '\n', j->text + j->len - l);
		*end = '\0';
		p->line++;
		if (l[0] != '+')
			continue;
		n = split(l + 2, f, MAX_FIELDS);
		if (!n || strcmp(f[0], "resv"))
			ret = bad(p, "adds what is not a reservation");
		else
			ret = parse_resv(p, f, n, s);
	}
	for (size_t i = 0; !ret && i < p->ngone; i++)
		if (!p->gone[i].hit) {
			p->line = p->gone[i].line;
			ret = bad(p, "removes a reservation the store does not have");
		}
	return ret;
}

/* portrsv_store_parse of copy[len], which it splits in place (copy[len] is a NUL), and of
 * the journal j on it (NULL: none). s takes copy and j's buffer, whatever the outcome:
 * the entries' strings point into them. */
static int parse_text(char *copy, size_t len, const char *file, struct portrsv_store *s,
		      char *err, size_t errlen, const struct journal *j)
{
	struct parser p = { .file = file, .err = err, .errlen = errlen };
	const char *buf = copy;
	char *line, *next, *f[MAX_FIELDS + 1];
	bool header = false;
	int ret = 0, n;

	memset(s, 0, sizeof(*s));
	s->text[0] = copy;
	s->text_len[0] = len;
	if (j) {
		s->text[1] = j->buf;
		s->text_len[1] = j->buf_len;
	}
	if (errlen)
		err[0] = '\0';
	/*
	 * A zero-length file is what a crash leaves of one written without fsync (an editor, a
	 * restore from backup). Read as "no reservations", the next write would make the loss
	 * permanent; only a missing file is an empty store.
	 */
	if (!len) {
		p.line = 1;
		ret = bad(&p, "empty file, no '%s %d' header", HEADER, PORTRSV_STORE_VERSION);
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		const char *nul = memchr(buf, '\0', len);

		p.line = 1;
		for (const char *c = buf; c < nul; c++)
			p.line += *c == '\n';
		ret = bad(&p, "NUL byte: not a text file");
		goto out;
	}
	if (j && (ret = journal_removals(&p, j)))
		goto out;
	p.file = file;
	p.line = 0;
	/* Sized once: growing a 10,000-entry array by doubling copied megabytes per read. One
	 * more: the change that follows (portrsv_store_add) then reallocs in place. */
	p.want = 1 + (buf[0] == 'r');
	for (const char *c = buf; (c = memchr(c, '\n', buf + len - c)) && ++c < buf + len;)
		p.want += *c == 'r';
	for (line = copy; *line && !ret; line = next) {
		p.line++;
		next = strchr(line, '\n');
		if (!next) {
			ret = bad(&p, "truncated: the last line has no newline");
			break;
		}
		*next++ = '\0';
		if (line[0] == '#' || !line[0] ||
		    ((line[0] == ' ' || line[0] == '\t' || line[0] == '\r') &&
		     line[strspn(line, " \t\r")] == '\0'))
			continue;
		n = split(line, f, MAX_FIELDS);
		if (!header) {
			if (n != 2 || strcmp(f[0], HEADER))
				ret = bad(&p, "no '%s %d' header", HEADER, PORTRSV_STORE_VERSION);
			else if (strcmp(f[1], "1"))
				ret = bad(&p, "unknown store version '%s' (this portrsv reads %d)",
					  shown(f[1]), PORTRSV_STORE_VERSION);
			header = true;
		} else if (!strcmp(f[0], "resv")) {
			ret = parse_resv(&p, f, n, s);
		} else if (!strcmp(f[0], "cgroup")) {
			char *path;

			if (n != 2)
				ret = bad(&p, "cgroup line needs exactly one path");
			else if (!(ret = text_field(&p, f[1], "cgroup", PATH, &path)) && !path)
				ret = bad(&p, "cgroup needs an absolute path");
			else if (!ret && (ret = portrsv_store_add_cgroup(s, path)))
				ret = ret == -ENOSPC ? bad(&p, "more than %d cgroups",
							   PORTRSV_STORE_MAX_CGROUPS)
						     : no_memory(&p);
		} else {
			ret = bad(&p, "unknown record '%.32s'", shown(f[0]));
		}
	}
	if (!ret && !header) {
		p.line = 1;
		ret = bad(&p, "no '%s %d' header", HEADER, PORTRSV_STORE_VERSION);
	}
	if (!ret && j)
		ret = journal_additions(&p, j, s);
out:
	tdestroy(p.blocks, free);
	free(p.tokens);
	free(p.lines);
	free(p.gone);
	if (ret)
		portrsv_store_free(s);
	return ret;
}

static int path_in(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * The whole of path (a regular file, at most max bytes: what it is) into *out, NUL-terminated, with its
 * length; -ENOENT when missing, the cause in err otherwise.
 */
static int slurp(const char *path, size_t max, const char *what, char **out, size_t *len,
		 char *err, size_t errlen)
{
	char *buf = NULL;
	struct stat st;
	ssize_t got = 0, r;
	int fd, ret = 0;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		if (ret != -ENOENT)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		ret = -EBADMSG;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: %lld bytes, more than %s can hold (%zu)", path,
			 (long long)st.st_size, what, max);
		ret = -EFBIG;
		goto out;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < st.st_size && (r = read(fd, buf + got, st.st_size - got)) > 0)
		got += r;
	if (got != st.st_size) {
		snprintf(err, errlen, "%s: short read", path);
		ret = -EIO;
		goto out;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	if (ret && ret != -EBADMSG && ret != -EFBIG && errlen && !err[0])
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
	free(buf);
	close(fd);
	return ret;
}

/*
 * The journal of dir that extends a store of these bytes (store.h): *j its lines after the
 * header, whole ones only (a torn last line is dropped), j->text NULL when there is none or
 * it is stale (*stale set). -EBADMSG with the cause in err for a header it cannot read.
 */
static int read_journal(const char *dir, uint64_t hash, size_t len, struct journal *j,
			char **alloc, char *jpath, size_t jcap, bool *stale, char *err,
			size_t errlen)
{
	char *text, *nl, want[64];
	size_t n;
	int ret;

	memset(j, 0, sizeof(*j));
	*alloc = NULL;
	*stale = false;
	ret = path_in(jpath, jcap, dir, PORTRSV_JOURNAL_FILE);
	if (!ret)
		ret = slurp(jpath, PORTRSV_JOURNAL_MAX_BYTES, "a journal", &text, &n, err, errlen);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	nl = memchr(text, '\n', n);
	if (!nl) { /* not even a whole header: a journal begun when a crash came */
		free(text);
		*stale = n > 0;
		return 0;
	}
	if (memchr(text, '\0', n)) {
		snprintf(err, errlen, "%s: NUL byte: not a text file", jpath);
		free(text);
		return -EBADMSG;
	}
	if (strncmp(text, JOURNAL_HEADER " 1 ", strlen(JOURNAL_HEADER " 1 "))) {
		snprintf(err, errlen, "%s:1: no '%s 1 HASH LEN' header", jpath, JOURNAL_HEADER);
		free(text);
		return -EBADMSG;
	}
	snprintf(want, sizeof(want), JOURNAL_HEADER " 1 %016" PRIx64 " %zu\n", hash, len);
	/* Otherwise it extends another store: the one before a rewrite, or one replaced. */
	*stale = (size_t)(nl + 1 - text) != strlen(want) || memcmp(text, want, strlen(want));
	while (n && text[n - 1] != '\n')
		n--; /* a change cut short by a crash: never reported done */
	*alloc = text;
	j->text = nl + 1;
	j->len = n - (size_t)(nl + 1 - text);
	j->file = jpath;
	j->buf = text;
	j->buf_len = n;
	for (size_t i = 0; i < j->len; i++)
		j->ops += j->text[i] == '\n';
	return 0;
}

/*
 * A stale journal (it extends other bytes) is left over from a rewrite that a crash cut
 * short, and then every change in it is in the store; or the store was replaced (an
 * editor, a backup put back) by one without them. Those are not silently dropped: 0 when
 * s has each, -EBADMSG naming the first it lacks.
 */
static int stale_journal_check(const struct portrsv_store *s, const struct journal *j,
			       const char *path, char *err, size_t errlen)
{
	size_t line = 1;

	for (char *l = j->text, *end; l < j->text + j->len; l = end + 1) {
		char tok[19] = "";
		uint64_t t = 0;
		bool has = false;

		end = memchr(l, '\n', j->text + j->len - l);
		line++;
		if (end - l == 20 && !strncmp(l, "- 0x", 4))
			memcpy(tok, l + 2, 18);
		else if (end - l > 2 && l[0] == '+') {
			/* "+ resv PROTO START COUNT 0x...": the token is the fifth field */
			const char *f = l + 2;

			for (int k = 0; k < 4 && f; k++) {
				f = memchr(f, ' ', end - f);
				if (f)
					f++;
			}
			if (f && end - f >= 18)
				memcpy(tok, f, 18);
		}
		if (parse_token(tok, &t))
			goto lacks;
		for (size_t i = 0; i < s->n && !has; i++)
			has = s->v[i].token == t;
		if (has != (l[0] == '+'))
			goto lacks;
	}
	return 0;
lacks:
	snprintf(err, errlen, "%s:%zu: a change that %s lacks, in a journal of another store "
		 "(this one was replaced without the changes made since): put them in, or remove "
		 "the journal to go on without them", j->file, line, path);
	return -EBADMSG;
}

int portrsv_store_read(const char *dir, struct portrsv_store *s, char *err, size_t errlen)
{
	char path[PATH_MAX], jpath[PATH_MAX], *buf = NULL, *jbuf = NULL;
	struct journal j = { 0 };
	uint64_t hash;
	bool stale;
	size_t got;
	int ret;

	memset(s, 0, sizeof(*s));
	if (errlen)
		err[0] = '\0';
	ret = path_in(path, sizeof(path), dir, PORTRSV_STORE_FILE);
	if (ret)
		return ret;
	ret = portrsv_dir_check(dir);
	if (ret == -ENOENT)
		return 0; /* nothing stored yet */
	if (ret) {
		snprintf(err, errlen, "%s", portrsv_errmsg());
		return ret;
	}
	ret = slurp(path, PORTRSV_STORE_MAX_BYTES, "a store", &buf, &got, err, errlen);
	if (ret == -ENOENT)
		return 0; /* nothing stored yet (a journal extends a store: none without it) */
	if (ret)
		return ret;
	hash = text_hash(buf, got);
	ret = read_journal(dir, hash, got, &j, &jbuf, jpath, sizeof(jpath), &stale, err, errlen);
	if (!ret) { /* in place: no copy of megabytes; s keeps the text */
		bool replay = j.text && !stale;

		ret = parse_text(buf, got, path, s, err, errlen, replay ? &j : NULL);
		buf = NULL;
		if (replay)
			jbuf = NULL;
	}
	if (!ret && j.text && stale && (ret = stale_journal_check(s, &j, path, err, errlen)))
		portrsv_store_free(s);
	if (!ret) {
		s->base_hash = hash;
		s->base_len = got;
		s->journal_stale = stale;
		if (j.text && !stale) {
			s->journal_len = (size_t)(j.text - j.buf) + j.len;
			s->journal_ops = j.ops;
		}
	}
	free(jbuf);
	free(buf);
	return ret;
}

static int ensure_dir(const char *dir)
{
	return portrsv_private_dir(dir);
}

static int sync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	if (dfd < 0)
		return -errno;
	err = fsync(dfd) ? -errno : 0;
	close(dfd);
	return err;
}

/* Remove the journal of dir, durably when sync (a journal that reappears after a crash must
 * then be harmless: stale). */
static int remove_journal(const char *dir, bool sync)
{
	char jpath[PATH_MAX];
	int err = path_in(jpath, sizeof(jpath), dir, PORTRSV_JOURNAL_FILE);

	if (err)
		return err;
	if (unlink(jpath))
		return errno == ENOENT ? 0 : -errno;
	return sync ? sync_dir(dir) : 0;
}

/* All of o into fd. */
static int write_all(int fd, const struct out *o)
{
	for (size_t done = 0; done < o->n;) {
		ssize_t w = write(fd, o->b + done, o->n - done);

		if (w > 0)
			done += w;
		else if (w < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

int portrsv_store_write(const char *dir, struct portrsv_store *s)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct out o = { 0 };
	uint64_t hash;
	int fd, err;

	err = path_in(path, sizeof(path), dir, PORTRSV_STORE_FILE);
	if (!err)
		err = path_in(tmp, sizeof(tmp), dir, PORTRSV_STORE_FILE ".tmp");
	if (!err)
		err = ensure_dir(dir);
	if (!err)
		err = store_format(&o, s);
	if (err) {
		free(o.b);
		return err;
	}
	hash = text_hash(o.b, o.n);
	/* The bytes of the store as read, with a journal: its changes undid each other, and
	 * removing it is the whole write (a crash before leaves the old state, after the new). */
	if (s->journal_len && hash == s->base_hash && o.n == s->base_len) {
		free(o.b);
		err = remove_journal(dir, true);
		if (!err)
			s->journal_len = s->journal_ops = 0;
		return err;
	}
	/* A stale journal goes first, durably: were this store ever to have the bytes it
	 * names, it would be replayed on it. */
	if (s->journal_stale && (err = remove_journal(dir, true))) {
		free(o.b);
		return err;
	}
	s->journal_stale = false;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(o.b);
		return -errno;
	}
	err = write_all(fd, &o);
	free(o.b);
	if (!err && (fchmod(fd, 0600) || fsync(fd)))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err)
		goto fail;
	portrsv_fault("store-before-rename");
	if (rename(tmp, path)) {
		err = -errno;
		goto fail;
	}
	portrsv_fault("store-after-rename");
	err = sync_dir(dir);
	if (err)
		return err;
	/* The journal's changes are in the store now. Left by a crash, it names the old
	 * bytes: stale, ignored. */
	if (s->journal_len && remove_journal(dir, false))
		s->journal_stale = true;
	s->base_hash = hash;
	s->base_len = o.n;
	s->journal_len = s->journal_ops = 0;
	return 0;
fail:
	unlink(tmp);
	return err;
}

int portrsv_store_log(const char *dir, struct portrsv_store *s,
		      const struct portrsv_store_entry *added, uint64_t removed)
{
	char jpath[PATH_MAX], head[64];
	struct out o = { 0 };
	struct stat st;
	int fd, err;

	if (!s->base_hash || s->base_len < PORTRSV_JOURNAL_MIN_BASE ||
	    s->journal_ops >= PORTRSV_JOURNAL_MAX_OPS || s->journal_len > s->base_len / 4)
		return portrsv_store_write(dir, s); /* small, or time to fold the journal in */
	err = path_in(jpath, sizeof(jpath), dir, PORTRSV_JOURNAL_FILE);
	if (err)
		return err;
	if (!s->journal_len) {
		snprintf(head, sizeof(head), JOURNAL_HEADER " 1 %016" PRIx64 " %zu\n",
			 s->base_hash, s->base_len);
		put_s(&o, head);
	}
	if (added) {
		put_s(&o, "+ ");
		err = format_entry(&o, added);
	} else {
		put_s(&o, "- 0x");
		put_num(&o, removed, 16, 16);
		put_c(&o, '\n');
		err = o.oom ? -ENOMEM : 0;
	}
	if (err) {
		free(o.b);
		return err;
	}
	/* A new journal replaces a stale one; an old one loses what a crash left of a line. */
	fd = open(jpath, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
			       (s->journal_len ? 0 : O_CREAT | O_TRUNC), 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (fstat(fd, &st))
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL; /* someone else's: not written to */
	else if ((size_t)st.st_size != s->journal_len && ftruncate(fd, s->journal_len))
		err = -errno;
	else if (lseek(fd, s->journal_len, SEEK_SET) < 0)
		err = -errno;
	if (!err) {
		portrsv_fault("journal-before-append");
		if (portrsv_faulting("journal-mid-append")) {
			o.n /= 2; /* half a line, then the crash */
			write_all(fd, &o);
			portrsv_fault("journal-mid-append");
		}
		err = write_all(fd, &o);
	}
	if (!err) {
		portrsv_fault("journal-before-sync");
		if (fdatasync(fd)) {
			err = -errno;
			/* Not durable means not done: the line must not be read back either. */
			if (!ftruncate(fd, s->journal_len))
				fdatasync(fd);
		}
	}
	close(fd);
	/* A new journal's name must last too. */
	if (!err && !s->journal_len)
		err = sync_dir(dir);
	if (!err) {
		s->journal_len += o.n;
		s->journal_ops++;
		s->journal_stale = false;
	} else {
		/* What the journal holds now is unknown: the next change writes it all. */
		s->base_hash = 0;
	}
out:
	free(o.b);
	return err;
}

int portrsv_store_lock(const char *dir)
{
	int fd, err;

	err = ensure_dir(dir);
	if (err)
		return err;
	/*
	 * The state directory itself: flock needs no write access, so restore runs on a
	 * read-only /var, and a read-only view and a read-write one of the same directory
	 * (ReadOnlyPaths= for the unit, an administrator's shell) lock the same inode. A lock
	 * file, created where that can fail, would split the lock between the two.
	 */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
