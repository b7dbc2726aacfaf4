/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tests' reader of the command's --json output: json-c (Debian's libjson-c) parses,
 * strictly and with UTF-8 checked; the tree is then flattened into an array of nodes, so
 * that a test asks for members by key with their type. Criterion asserts on misuse.
 */
#ifndef PORTRSV_TEST_JSON_H
#define PORTRSV_TEST_JSON_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
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

#define JMAX 32768 /* show --json of a thousand reservations; untouched pages cost nothing */
static struct jnode J[JMAX];
static int NJ;

/* Append v (and what it holds) under parent; its index. */
static int jflatten(struct json_object *v, int parent, const char *key)
{
	struct jnode *n;
	int i = NJ++;

	cr_assert(i < JMAX, "JSON document too large for the test reader");
	n = &J[i];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	if (key) {
		cr_assert(strlen(key) < sizeof(n->key), "key too long: %s", key);
		strcpy(n->key, key);
	}
	switch (json_object_get_type(v)) {
	case json_type_null:
		n->type = J_NULL;
		break;
	case json_type_boolean:
		n->type = J_BOOL;
		n->b = json_object_get_boolean(v);
		break;
	case json_type_int:
	case json_type_double:
		n->type = J_NUM;
		n->num = json_object_get_double(v);
		snprintf(n->str, sizeof(n->str), "%s", json_object_to_json_string(v));
		break;
	case json_type_string:
		n->type = J_STR;
		cr_assert(json_object_get_string_len(v) < (int)sizeof(n->str), "string too long");
		cr_assert(strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v),
			  "string with a NUL in it");
		strcpy(n->str, json_object_get_string(v));
		break;
	case json_type_array:
		n->type = J_ARR;
		for (size_t k = 0; k < json_object_array_length(v); k++)
			jflatten(json_object_array_get_idx(v, k), i, NULL);
		break;
	case json_type_object:
		n->type = J_OBJ;
		json_object_object_foreach(v, k, m)
			jflatten(m, i, k);
		break;
	}
	return i;
}

/* Parse text as one JSON value and nothing else; its root node. */
static int jparse(const char *text)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *v;
	size_t len = strlen(text), used;
	int root;

	cr_assert(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, text, (int)len);
	used = json_tokener_get_parse_end(tok);
	cr_assert(v && json_tokener_get_error(tok) == json_tokener_success,
		  "not valid JSON (%s, at offset %zu): [%s]",
		  json_tokener_error_desc(json_tokener_get_error(tok)), used, text);
	while (used < len && strchr(" \t\r\n", text[used]))
		used++;
	cr_assert(used == len, "text after the JSON value: [%s]", text + used);
	json_tokener_free(tok);
	NJ = 0;
	root = jflatten(v, -1, NULL);
	json_object_put(v);
	return root;
}

static inline int jcount(int node)
{
	int n = 0;

	for (int i = node + 1; i < NJ; i++)
		n += J[i].parent == node;
	return n;
}

static inline int jchild(int node, int idx)
{
	for (int i = node + 1; i < NJ; i++)
		if (J[i].parent == node && idx-- == 0)
			return i;
	return -1;
}

/* Member key of object node, which must be there with the given type. */
static int jget(int node, const char *key, enum jtype type)
{
	int found = -1;

	for (int i = node + 1; i < NJ && found < 0; i++)
		if (J[i].parent == node && !strcmp(J[i].key, key))
			found = i;
	cr_assert(found >= 0, "key \"%s\" missing", key);
	cr_assert_eq(J[found].type, type, "key \"%s\" has JSON type %d, want %d", key,
		     J[found].type, type);
	return found;
}

#endif /* PORTRSV_TEST_JSON_H */
