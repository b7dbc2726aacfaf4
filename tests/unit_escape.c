// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Text from outside, escaped for a terminal and written as JSON (user/escape.c). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct esc_row {
	char name[24];
	char in[32];
	char text[96]; /* escaped for a terminal */
	char json[96]; /* as a JSON string (the text itself, JSON-escaped) */
};

static struct esc_row rows[] = {
	{ "plain", "nginx", "nginx", "\"nginx\"" },
	{ "empty", "", "", "\"\"" },
	{ "utf8", "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"" },
	{ "esc_sequence", "a\x1b[31mb", "a\\u001b[31mb", "\"a\\u001b[31mb\"" },
	{ "cr_lf_tab", "a\r\nb\tc", "a\\u000d\\u000ab\\u0009c", "\"a\\u000d\\u000ab\\u0009c\"" },
	{ "del", "a\x7f", "a\\u007f", "\"a\\u007f\"" },
	{ "c1_nel", "a\xc2\x85z", "a\\u0085z", "\"a\\u0085z\"" },
	{ "c1_csi", "\xc2\x9b" "31m", "\\u009b31m", "\"\\u009b31m\"" },
	{ "bidi_override", "x\xe2\x80\xaey", "x\\u202ey", "\"x\\u202ey\"" },
	{ "line_separator", "\xe2\x80\xa8", "\\u2028", "\"\\u2028\"" },
	{ "invalid_byte", "a\xffz", "a\\xffz", "\"a\\ufffdz\"" },
	{ "truncated_seq", "\xe2\x82", "\\xe2\\x82", "\"\\ufffd\\ufffd\"" },
	{ "overlong_slash", "\xc0\xaf", "\\xc0\\xaf", "\"\\ufffd\\ufffd\"" },
	{ "surrogate", "\xed\xa0\x80", "\\xed\\xa0\\x80", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "past_10ffff", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "backslash", "a\\b", "a\\\\b", "\"a\\\\b\"" },
	{ "quote", "say \"hi\"", "say \"hi\"", "\"say \\\"hi\\\"\"" },
	{ "forged_line", "x\nportrsv: ok", "x\\u000aportrsv: ok", "\"x\\u000aportrsv: ok\"" },
};

ParameterizedTestParameters(escape, rows)
{
	return cr_make_param_array(struct esc_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct esc_row *row, escape, rows)
{
	char out[256], *doc = NULL;
	size_t len = 0;
	FILE *f;

	cr_assert_eq(portrsv_escape(row->in, out, sizeof(out)), strlen(row->text), "%s", row->name);
	cr_assert_str_eq(out, row->text, "%s", row->name);
	f = open_memstream(&doc, &len);
	cr_assert(f);
	portrsv_json_string(f, row->in);
	fclose(f);
	cr_assert_str_eq(doc, row->json, "%s", row->name);
	free(doc);
}

/* A short buffer cuts before an escape or a character, never inside one. */
Test(escape, cut_whole)
{
	static const struct {
		const char *in;
		size_t cap;
		const char *out;
	} cuts[] = {
		{ "ab\x1b", 4, "ab" },        /* \u001b needs 6 */
		{ "ab\x1b", 9, "ab\\u001b" },
		{ "a\xc3\xa9", 3, "a" },      /* é needs 2 */
		{ "a\xc3\xa9", 4, "a\xc3\xa9" },
		{ "\xff", 4, "" },            /* \xff needs 4 */
		{ "x", 1, "" },
	};
	char out[16];

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		memset(out, 'Z', sizeof(out));
		portrsv_escape(cuts[i].in, out, cuts[i].cap);
		cr_assert_str_eq(out, cuts[i].out, "cut %zu", i);
	}
}

/* A holder as an error or a note names it: COMM[PID] (STATE), the comm escaped. */
Test(escape, holder_format)
{
	static const struct {
		uint32_t pid;    /* 0: no process has the socket */
		size_t nprocs;
		char comm[16];
		uint8_t state;
		const char *out;
	} rows[] = {
		{ 1234, 1, "nginx", 10, "nginx[1234] (LISTEN)" },
		{ 7, 1, "ng\x1b[31m", 1, "ng\\u001b[31m[7] (ESTAB)" },
		{ 9, 1, "a\\b", 7, "a\\\\b[9] (UNCONN)" },
		{ 0, 0, "", 6, "no process (TIME-WAIT)" },
		{ 3, 1, "x", 200, "x[3] (UNKNOWN)" },
		{ 42, 2, "nginx", 10, "nginx[42] and 1 more process (LISTEN)" },
		{ 42, 4, "nginx", 10, "nginx[42] and 3 more processes (LISTEN)" },
	};
	struct portrsv_holder_proc procs[4];
	char out[128];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct portrsv_holder h = { .port = 8080, .state = rows[i].state, .procs = procs,
					    .nprocs = rows[i].nprocs };

		memset(procs, 0, sizeof(procs));
		for (size_t j = 0; j < rows[i].nprocs; j++) {
			procs[j].pid = rows[i].pid + (uint32_t)j;
			memcpy(procs[j].comm, rows[i].comm, sizeof(rows[i].comm));
		}
		portrsv_holder_format(&h, out, sizeof(out));
		cr_expect_str_eq(out, rows[i].out, "row %zu", i);
	}
}
