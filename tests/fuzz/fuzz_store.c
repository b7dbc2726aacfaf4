// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the store parser (make fuzz). Whatever the bytes, the parser returns
 * 0, -EBADMSG or -ENOMEM, never crashes or leaks, and a refusal leaves an empty store and a
 * one-line "FILE:LINE: cause" message. What it accepts must survive a round trip: formatted
 * and parsed again it gives the same store, and formatted again the same bytes, so that no
 * write can produce a store that the next read refuses. An input that starts with 'J' is a
 * store and a journal on it (parse_with_journal), held to the same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* store_format() is static; formatting to memory is what keeps this fast (no file I/O). */
#include "../../user/store.c"

#define check(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_store: %s: ", #cond);          \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

static char *format(const struct portrsv_store *s, size_t *len)
{
	struct out o = { 0 };
	int err = store_format(&o, s);

	check(!err, "a parsed store does not format: %d", err);
	check(out_room(&o, 1), "out of memory");
	o.b[o.n] = '\0';
	*len = o.n;
	return o.b;
}

/*
 * An input "J" BASE "\f" JOURNAL is a store and the lines of a journal on it (after its
 * header, as the reader passes them: whole lines only). Its parse: 0 or -EBADMSG, as for
 * a store alone.
 */
static int parse_with_journal(const uint8_t *data, size_t size, struct portrsv_store *s,
			      char *msg, size_t msglen)
{
	const uint8_t *ff = memchr(data, '\f', size);
	size_t blen = ff ? (size_t)(ff - data) : size, jlen = ff ? size - blen - 1 : 0;
	char *base = malloc(blen + 1), *jt = malloc(jlen + 1);
	struct journal j = { .text = jt, .file = "in.journal", .buf = jt };
	int ret;

	check(base && jt, "out of memory");
	memcpy(base, data, blen);
	base[blen] = '\0';
	if (jlen)
		memcpy(jt, ff + 1, jlen);
	while (jlen && jt[jlen - 1] != '\n')
		jlen--; /* a torn last line is the reader's to drop */
	jt[jlen] = '\0';
	j.len = j.buf_len = jlen;
	memset(s, 0, sizeof(*s));
	msg[0] = '\0';
	if (memchr(jt, '\0', jlen) || memchr(base, '\0', blen)) {
		free(base); /* the reader refuses NUL bytes before parsing */
		free(jt);
		snprintf(msg, msglen, "in: NUL byte");
		return -EBADMSG;
	}
	ret = parse_text(base, blen, "in", s, msg, msglen, &j); /* s keeps base and jt */
	return ret;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_one_line(const char *msg, const char *file)
{
	check(!strncmp(msg, file, strlen(file)) && msg[strlen(file)] == ':',
	      "message does not name the file: \"%s\"", msg);
	for (const char *c = msg; *c; c++)
		check(!((unsigned char)*c < 0x20 || *c == 0x7f), "control character in \"%s\"",
		      msg);
}

/* What the parser promises about every store it accepts. */
static void check_valid(const struct portrsv_store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct portrsv_store_entry *e = &s->v[i];

		check(e->proto == PORTRSV_TCP || e->proto == PORTRSV_UDP, "proto %d", e->proto);
		check(!portrsv_block_valid(e->start, e->count), "block %u+%u", e->start, e->count);
		check(e->token != PORTRSV_TOKEN_INVALID, "token 0");
		check(e->created <= TIME_MAX, "created %llu", (unsigned long long)e->created);
		check(!e->netns || e->netns[0] == '/' || !strncmp(e->netns, "net:[", 5), "netns");
		check(!e->owner || e->owner[0] == '/', "owner");
		check(!e->comment || strlen(e->comment) < PORTRSV_COMMENT_LEN, "comment too long");
		check(e->pool || !e->limit, "limit %u without pool", e->limit);
		check(e->limit <= e->count, "limit %u past count %u", e->limit, e->count);
		check(!e->by.cgroup || e->by.cgroup[0] == '/', "creator cgroup");
		check(memchr(e->by.comm, '\0', sizeof(e->by.comm)), "creator comm not terminated");
		check(!e->by.cgroup || e->by.uid != UINT32_MAX, "creator uid -1");
		check(!e->container || portrsv_container_valid(e->container), "container");
		for (const char *c = e->comment; c && *c; c++)
			check((unsigned char)*c >= 0x20 && *c != 0x7f, "control in comment");
		for (size_t j = 0; j < i; j++) {
			const struct portrsv_store_entry *o = &s->v[j];

			check(o->token != e->token, "duplicate token");
			check(!(same_text(o->netns, e->netns) && o->proto == e->proto &&
				portrsv_blocks_overlap(o->start, o->count, e->start, e->count)),
			      "entries %zu and %zu overlap", j, i);
		}
	}
	for (size_t i = 0; i < s->ncgroups; i++) {
		check(s->cgroups[i][0] == '/', "cgroup");
		for (size_t j = 0; j < i; j++)
			check(strcmp(s->cgroups[i], s->cgroups[j]), "duplicate cgroup");
	}
}

static void check_same(const struct portrsv_store *a, const struct portrsv_store *b)
{
	check(a->n == b->n, "%zu entries became %zu", a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct portrsv_store_entry *x = &a->v[i], *y = &b->v[i];

		check(x->proto == y->proto && x->start == y->start && x->count == y->count &&
		      x->token == y->token && x->created == y->created, "entry %zu changed", i);
		check(same_text(x->netns, y->netns), "netns of entry %zu changed", i);
		check(same_text(x->owner, y->owner), "owner of entry %zu changed", i);
		check(same_text(x->comment, y->comment), "comment of entry %zu changed", i);
		check(x->pool == y->pool && x->limit == y->limit, "pool of entry %zu changed", i);
		check(same_text(x->by.cgroup, y->by.cgroup) &&
			      (!x->by.cgroup || (x->by.uid == y->by.uid &&
						 !strcmp(x->by.comm, y->by.comm))),
		      "creator of entry %zu changed", i);
		check(same_text(x->container, y->container), "container of entry %zu changed", i);
	}
	check(a->ncgroups == b->ncgroups, "%zu cgroups became %zu", a->ncgroups, b->ncgroups);
	for (size_t i = 0; i < a->ncgroups; i++)
		check(!strcmp(a->cgroups[i], b->cgroups[i]), "cgroup %zu changed", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct portrsv_store a, b;
	char msg[512], *text, *again;
	size_t len, len2;
	int ret;

	if (size && data[0] == 'J')
		ret = parse_with_journal(data + 1, size - 1, &a, msg, sizeof(msg));
	else
		ret = portrsv_store_parse((const char *)data, size, "in", &a, msg, sizeof(msg));
	check(ret == 0 || ret == -EBADMSG || ret == -ENOMEM, "returned %d", ret);
	if (ret) {
		check(!a.n && !a.v && !a.ncgroups && !a.cgroups, "a refused store is not empty");
		check_one_line(msg, strncmp(msg, "in.journal:", 11) ? "in" : "in.journal");
		return 0;
	}
	check(!msg[0], "message on success: \"%s\"", msg);
	check_valid(&a);

	text = format(&a, &len);
	ret = portrsv_store_parse(text, len, "out", &b, msg, sizeof(msg));
	check(!ret, "what was accepted, formatted, is refused: %s\n%s", msg, text);
	check_same(&a, &b);
	again = format(&b, &len2);
	check(len == len2 && !memcmp(text, again, len), "formatting is not stable");

	free(again);
	free(text);
	portrsv_store_free(&b);
	portrsv_store_free(&a);
	return 0;
}
