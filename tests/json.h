/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small strict JSON reader for the tests of the command's --json output: parse into a flat
 * array of nodes, then ask for members by key with their type. Criterion asserts on misuse.
 */
#ifndef PORTRSV_TEST_JSON_H
#define PORTRSV_TEST_JSON_H

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	enum jtype type;
	int parent;
	char key[32];
	char str[512]; /* strings decoded; numbers as written */
	double num;
	bool b;
};

#define JMAX 8192
static struct jnode J[JMAX];
static int NJ;
static const char *jp;

static void jws(void)
{
	while (*jp == ' ' || *jp == '\t' || *jp == '\n' || *jp == '\r')
		jp++;
}

static bool jstring(char *out, size_t len)
{
	size_t n = 0;

	if (*jp++ != '"')
		return false;
	for (; *jp != '"'; jp++) {
		unsigned char c = *jp;

		if (c < 0x20) /* NUL (end of text) and raw control characters */
			return false;
		if (c == '\\') {
			const char *esc = "\"\\/bfnrt", *val = "\"\\/\b\f\n\r\t", *e;
			unsigned int u;

			jp++;
			if (*jp == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)jp[i]))
						return false;
				sscanf(jp + 1, "%4x", &u);
				c = u < 0x80 ? u : '?';
				jp += 4;
			} else if (*jp && (e = strchr(esc, *jp))) {
				c = val[e - esc];
			} else {
				return false;
			}
		}
		if (n + 1 < len)
			out[n++] = c;
	}
	jp++;
	out[n] = '\0';
	return true;
}

static bool jnumber(struct jnode *v)
{
	const char *s = jp;

	if (*jp == '-')
		jp++;
	if (*jp == '0')
		jp++;
	else if (isdigit((unsigned char)*jp))
		while (isdigit((unsigned char)*jp))
			jp++;
	else
		return false;
	if (*jp == '.') {
		if (!isdigit((unsigned char)*++jp))
			return false;
		while (isdigit((unsigned char)*jp))
			jp++;
	}
	if (*jp == 'e' || *jp == 'E') {
		jp++;
		if (*jp == '+' || *jp == '-')
			jp++;
		if (!isdigit((unsigned char)*jp))
			return false;
		while (isdigit((unsigned char)*jp))
			jp++;
	}
	snprintf(v->str, sizeof(v->str), "%.*s", (int)(jp - s), s);
	v->num = strtod(v->str, NULL);
	return true;
}

static int jvalue(int parent, const char *key, int depth)
{
	int i = NJ;
	struct jnode *v;

	if (NJ == JMAX || depth > 16)
		return -1;
	v = &J[NJ++];
	memset(v, 0, sizeof(*v));
	v->parent = parent;
	snprintf(v->key, sizeof(v->key), "%s", key ? key : "");
	jws();
	if (*jp == '{' || *jp == '[') {
		bool obj = *jp++ == '{';
		char k[32];

		v->type = obj ? J_OBJ : J_ARR;
		jws();
		if (*jp == (obj ? '}' : ']')) {
			jp++;
			return i;
		}
		for (;;) {
			jws();
			if (obj) {
				if (!jstring(k, sizeof(k)))
					return -1;
				jws();
				if (*jp++ != ':')
					return -1;
			}
			if (jvalue(i, obj ? k : NULL, depth + 1) < 0)
				return -1;
			jws();
			if (*jp == ',') {
				jp++;
				continue;
			}
			if (*jp++ != (obj ? '}' : ']'))
				return -1;
			return i;
		}
	}
	if (*jp == '"') {
		v->type = J_STR;
		return jstring(v->str, sizeof(v->str)) ? i : -1;
	}
	if (!strncmp(jp, "null", 4)) {
		v->type = J_NULL;
		jp += 4;
		return i;
	}
	if (!strncmp(jp, "true", 4) || !strncmp(jp, "false", 5)) {
		v->type = J_BOOL;
		v->b = *jp == 't';
		jp += v->b ? 4 : 5;
		return i;
	}
	v->type = J_NUM;
	return jnumber(v) ? i : -1;
}

/* Parse text as one JSON value and nothing else; its root node. */
static int jparse(const char *text)
{
	int root;

	NJ = 0;
	jp = text;
	root = jvalue(-1, NULL, 0);
	cr_assert(root == 0, "not valid JSON (at offset %ld): [%s]", (long)(jp - text), text);
	jws();
	cr_assert(*jp == '\0', "text after the JSON value: [%s]", jp);
	return root;
}

static int jcount(int node)
{
	int n = 0;

	for (int i = node + 1; i < NJ; i++)
		n += J[i].parent == node;
	return n;
}

static int jchild(int node, int idx)
{
	for (int i = node + 1; i < NJ; i++)
		if (J[i].parent == node && idx-- == 0)
			return i;
	return -1;
}

/* Member key of object node, which must be there exactly once with the given type. */
static int jget(int node, const char *key, enum jtype type)
{
	int found = -1;

	for (int i = node + 1; i < NJ; i++) {
		if (J[i].parent != node || strcmp(J[i].key, key))
			continue;
		cr_assert(found < 0, "key \"%s\" twice in one object", key);
		found = i;
	}
	cr_assert(found >= 0, "key \"%s\" missing", key);
	cr_assert_eq(J[found].type, type, "key \"%s\" has JSON type %d, want %d", key,
		     J[found].type, type);
	return found;
}

#endif /* PORTRSV_TEST_JSON_H */
