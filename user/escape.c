// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Text from outside (a process's comm, cgroup and netns names, comments) on its way to a
 * terminal, the journal or a JSON document. Valid UTF-8 that prints passes as it is; what
 * could move a cursor, end a line, reorder text or break the encoding does not:
 *   C0 controls, DEL, C1 controls (U+0080..U+009F), line and paragraph separators,
 *   bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069)   \uXXXX
 *   a byte that is not part of valid UTF-8 (overlong, surrogate, past U+10FFFF) \xHH
 *   a backslash                                                             \\
 * so the escaped text says unambiguously what the bytes were. A JSON string carries the text
 * itself, with JSON's escapes for ", \ and the same code points (\uXXXX, which a JSON
 * reader decodes), and U+FFFD for each byte that is not UTF-8: every document is valid
 * UTF-8, and a reader gets the text as it was wherever it was UTF-8.
 */
#include <stdio.h>
#include <string.h>
#include "internal.h"

/* The length of the valid UTF-8 sequence at s (n bytes left), and its code point; 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, c = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, c = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* A code point that must not reach a terminal as it is. */
static bool needs_escape(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * Escape in (NUL-terminated) into out (cap bytes, cap >= 1): always NUL-terminated, cut
 * before an escape or a character that does not fit. Returns the length written.
 */
size_t portrsv_escape(const char *in, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), o = 0;

	while (*s) {
		char esc[16];
		uint32_t c;
		size_t len = utf8_seq(s, n, &c), w;
		const char *src;

		if (!len) {
			snprintf(esc, sizeof(esc), "\\x%02x", *s);
			src = esc, w = 4, len = 1;
		} else if (c == '\\') {
			src = "\\\\", w = 2;
		} else if (needs_escape(c)) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			src = esc, w = 6;
		} else {
			src = (const char *)s, w = len;
		}
		if (o + w + 1 > cap)
			break;
		memcpy(out + o, src, w);
		o += w;
		s += len;
		n -= len;
	}
	out[o] = '\0';
	return o;
}

void portrsv_json_escape(const char *s, void (*put)(void *ctx, const char *b, size_t n),
			 void *ctx)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	put(ctx, "\"", 1);
	while (*p) {
		char esc[8];
		uint32_t c;
		size_t len = utf8_seq(p, n, &c);

		if (!len) {
			put(ctx, "\\ufffd", 6); /* not UTF-8: the replacement character */
			len = 1;
		} else if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(ctx, esc, 2);
		} else if (needs_escape(c)) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(ctx, esc, 6);
		} else {
			put(ctx, (const char *)p, len);
		}
		p += len;
		n -= len;
	}
	put(ctx, "\"", 1);
}

static void put_file(void *f, const char *b, size_t n)
{
	fwrite(b, 1, n, f);
}

void portrsv_json_string(FILE *f, const char *s)
{
	portrsv_json_escape(s, put_file, f);
}
