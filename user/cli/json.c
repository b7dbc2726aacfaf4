// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The one JSON writer of the command: documents are built as json-c trees, so that no
 * command can print invalid JSON, and every string is written by escape.c (valid UTF-8, no
 * raw control character, bidi override or line separator), not by json-c's own escaper,
 * which passes C1 controls through to the terminal.
 */
#include <stdio.h>
#include <json-c/printbuf.h>
#include "cli.h"

static void put_printbuf(void *pb, const char *b, size_t n)
{
	printbuf_memappend(pb, b, (int)n);
}

static int write_string(json_object *o, struct printbuf *pb, int level, int flags)
{
	portrsv_json_escape(json_object_get_string(o), put_printbuf, pb);
	return 0;
}

json_object *jstr(const char *s)
{
	json_object *o;

	if (!s)
		return NULL;
	o = json_object_new_string(s);
	if (o)
		json_object_set_serializer(o, write_string, NULL, NULL);
	return o;
}

json_object *jint(int64_t v)
{
	return json_object_new_int64(v);
}

json_object *jbool(bool v)
{
	return json_object_new_boolean(v);
}

void jset(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

const char *jstring(json_object *o, bool pretty)
{
	int flags = JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE;

	/* json-c writes an empty array over two lines. */
	if (json_object_is_type(o, json_type_array) && !json_object_array_length(o))
		flags = JSON_C_TO_STRING_PLAIN;
	else if (pretty)
		flags |= JSON_C_TO_STRING_PRETTY;
	return json_object_to_json_string_ext(o, flags);
}

static void print(json_object *o, bool pretty)
{
	const char *s = jstring(o, pretty);

	if (!s) { /* out of memory: one line on stderr, and no half document on stdout */
		fprintf(stderr, "portrsv: %s: out of memory writing JSON\n", cli_cmd->name);
		exit(PORTRSV_EXIT_FAILURE);
	}
	puts(s);
	fflush(stdout);
	json_object_put(o);
}

void jprint(json_object *o)
{
	print(o, true);
}

void jprint_line(json_object *o)
{
	print(o, false);
}
