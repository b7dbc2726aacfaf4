// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the writers of untrusted text: escape.c, and the command's JSON
 * writer (user/cli/json.c: json-c trees whose strings escape.c writes). Any bytes, as a JSON
 * string, must parse with json-c (strict, UTF-8 checked) as exactly one string, which gives
 * back ASCII input exactly; in a document of the command, pretty or one line, as a member
 * and an array element, they must parse back to the same string, the document stays one
 * line when it should, and the key set is intact; escaped for a terminal they must hold no
 * control byte.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "cli/cli.h"

const struct cli_cmd *cli_cmd; /* json.c names the command when out of memory */

#define check(cond, ...)                                        \
	do {                                                    \
		if (!(cond)) {                                  \
			fprintf(stderr, "fuzz_json: %s: ", #cond); \
			fprintf(stderr, __VA_ARGS__);           \
			fputc('\n', stderr);                    \
			abort();                                \
		}                                               \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *esc = malloc(size * 6 + 1), *doc = NULL;
	struct json_tokener *tok;
	struct json_object *v;
	size_t doclen = 0;
	FILE *f;

	if (!in || !esc)
		abort();
	memcpy(in, data, size);
	in[size] = '\0'; /* text from outside is a C string: up to the first NUL */
	portrsv_escape(in, esc, size * 6 + 1);
	for (const unsigned char *p = (const unsigned char *)esc; *p; p++)
		check(*p >= 0x20 && *p != 0x7f, "control byte %#x in escaped text", *p);
	f = open_memstream(&doc, &doclen);
	if (!f)
		abort();
	portrsv_json_string(f, in);
	fclose(f);
	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, doc, (int)doclen);
	check(v && json_tokener_get_error(tok) == json_tokener_success &&
	      json_tokener_get_parse_end(tok) == doclen, "invalid JSON: %s", doc);
	check(json_object_is_type(v, json_type_string), "not a string: %s", doc);
	/* ASCII (which is UTF-8) comes back as it went in, controls included. */
	bool ascii = true;

	for (size_t i = 0; in[i]; i++)
		ascii &= (unsigned char)in[i] < 0x80;
	check(!ascii || !strcmp(json_object_get_string(v), in), "JSON says %s for %s",
	      json_object_get_string(v), esc);

	/* The same text in a document of the command's writer, both layouts. */
	for (int pretty = 0; pretty < 2; pretty++) {
		json_object *o = json_object_new_object(), *a = json_object_new_array(), *back;
		const char *out;

		jset(o, "comment", jstr(in));
		json_object_array_add(a, jstr(in));
		jset(o, "list", a);
		jset(o, "n", jint((int64_t)size));
		out = jstring(o, pretty);
		check(out, "no document");
		check(pretty || !strchr(out, '\n'), "a line document has a newline: %s", out);
		json_tokener_reset(tok);
		back = json_tokener_parse_ex(tok, out, (int)strlen(out));
		check(back && json_tokener_get_error(tok) == json_tokener_success &&
		      json_tokener_get_parse_end(tok) == strlen(out), "invalid JSON: %s", out);
		check(json_object_object_length(back) == 3, "keys: %s", out);
		check(!strcmp(json_object_get_string(json_object_object_get(back, "comment")),
			      json_object_get_string(v)), "member differs: %s", out);
		check(!strcmp(json_object_get_string(json_object_array_get_idx(
				      json_object_object_get(back, "list"), 0)),
			      json_object_get_string(v)), "element differs: %s", out);
		json_object_put(back);
		json_object_put(o);
	}
	json_object_put(v);
	json_tokener_free(tok);
	free(doc);
	free(esc);
	free(in);
	return 0;
}
