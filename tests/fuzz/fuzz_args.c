// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the parsers of untrusted arguments (make fuzz): port, count, u64,
 * proto, and the block arithmetic. Each result is checked against a plain reference
 * written here digit by digit, and printing a parsed number back gives the text it came
 * from, up to leading zeros (and the case of hex digits).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define check(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_args: %s: ", #cond);           \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

/* s without its leading zeros ("0" stays "0"). */
static const char *strip_zeros(const char *s)
{
	while (s[0] == '0' && s[1])
		s++;
	return s;
}

/* Reference: is s digits of base 10 or 16, and what value; ERANGE past UINT64_MAX. */
static int ref_number(const char *s, int base, uint64_t *v)
{
	bool overflow = false;
	uint64_t r = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -EINVAL;
		/* Keep scanning after an overflow: a bad character later still means EINVAL. */
		overflow = overflow || __builtin_mul_overflow(r, (uint64_t)base, &r) ||
			   __builtin_add_overflow(r, (uint64_t)d, &r);
	}
	if (overflow)
		return -ERANGE;
	*v = r;
	return 0;
}

static void check_u16(const char *s, int (*parse)(const char *, uint16_t *), const char *name)
{
	uint16_t v = 0xa5a5;
	uint64_t want;
	int ret = parse(s, &v), ref = ref_number(s, 10, &want);
	char back[8];

	check(ret == 0 || ret == -EINVAL || ret == -ERANGE, "%s returned %d", name, ret);
	if (!ref && want > PORTRSV_PORT_MAX)
		ref = -ERANGE;
	else if (!ref && want == 0)
		ref = -EINVAL;
	check(ret == ref, "%s(\"%s\") = %d, reference %d", name, s, ret, ref);
	if (ret) {
		check(v == 0xa5a5, "%s wrote its result on failure", name);
		return;
	}
	check(v >= 1 && v <= PORTRSV_PORT_MAX && v == want, "%s(\"%s\") -> %u", name, s, v);
	snprintf(back, sizeof(back), "%u", v);
	check(!strcmp(back, strip_zeros(s)), "%s(\"%s\") prints back as %s", name, s, back);
}

static void check_u64(const char *s)
{
	uint64_t v = 0xa5a5a5a5a5a5a5a5ULL, want;
	int ret = portrsv_parse_u64(s, &v), ref;
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	char back[24], lower[24];

	check(ret == 0 || ret == -EINVAL || ret == -ERANGE, "parse_u64 returned %d", ret);
	ref = ref_number(hex ? s + 2 : s, hex ? 16 : 10, &want);
	/* Longer than a token prints is not one: refused even when the value would fit. */
	if (hex && !ref && strlen(s + 2) > 16)
		ref = -ERANGE;
	check(ret == ref, "parse_u64(\"%s\") = %d, reference %d", s, ret, ref);
	if (ret) {
		check(v == 0xa5a5a5a5a5a5a5a5ULL, "parse_u64 wrote its result on failure");
		return;
	}
	check(v == want, "parse_u64(\"%s\") -> %" PRIu64, s, v);
	if (hex) {
		size_t i;

		for (i = 0; s[2 + i]; i++)
			lower[i] = tolower((unsigned char)s[2 + i]);
		lower[i] = '\0';
		snprintf(back, sizeof(back), "%" PRIx64, v);
		check(!strcmp(back, strip_zeros(lower)), "parse_u64(\"%s\") prints back as %s", s,
		      back);
	} else {
		snprintf(back, sizeof(back), "%" PRIu64, v);
		check(!strcmp(back, strip_zeros(s)), "parse_u64(\"%s\") prints back as %s", s,
		      back);
	}
}

static void check_proto(const char *s)
{
	enum portrsv_proto p = -1;
	int ret = portrsv_parse_proto(s, &p);
	bool known = !strcmp(s, "tcp") || !strcmp(s, "udp");

	check(ret == (known ? 0 : -EINVAL), "parse_proto(\"%s\") = %d", s, ret);
	if (ret) {
		check(p == (enum portrsv_proto)-1, "parse_proto wrote its result on failure");
		return;
	}
	check(!strcmp(portrsv_proto_name(p), s), "proto %d is named %s", p, portrsv_proto_name(p));
}

static int ref_block(uint32_t start, uint32_t count)
{
	if (start < 1 || count < 1)
		return -EINVAL;
	return (uint64_t)start + count - 1 <= PORTRSV_PORT_MAX ? 0 : -ERANGE;
}

static bool ref_overlap(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
	uint64_t lo = a > b ? a : b;
	uint64_t hi = (uint64_t)a + na < (uint64_t)b + nb ? (uint64_t)a + na : (uint64_t)b + nb;

	return lo < hi; /* the intersection [lo, hi) holds a port */
}

static void check_blocks(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
	bool ab = portrsv_blocks_overlap(a, na, b, nb);

	check(portrsv_block_valid(a, na) == ref_block(a, na), "block_valid(%u, %u)", a, na);
	check(ab == ref_overlap(a, na, b, nb), "overlap(%u+%u, %u+%u) = %d", a, na, b, nb, ab);
	check(ab == portrsv_blocks_overlap(b, nb, a, na), "overlap is not symmetric");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size + 1 bytes: ASan sees any read past the terminating NUL. */
	char *s = malloc(size + 1), *sp;
	uint32_t w[4];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_u16(s, portrsv_parse_port, "parse_port");
	check_u16(s, portrsv_parse_count, "parse_count");
	check_u64(s);
	check_proto(s);

	/* "START COUNT", as the command line gives a block. */
	sp = strchr(s, ' ');
	if (sp) {
		uint16_t start, count;

		*sp = '\0';
		if (!portrsv_parse_port(s, &start) && !portrsv_parse_count(sp + 1, &count))
			check_blocks(start, count, start, count);
	}
	/* And the raw bytes as four 32-bit numbers, for the arithmetic's edges. */
	if (size >= sizeof(w)) {
		memcpy(w, data, sizeof(w));
		check_blocks(w[0], w[1], w[2], w[3]);
		check_blocks(w[0] & 0x1ffff, w[1] & 0x1ffff, w[2] & 0x1ffff, w[3] & 0x1ffff);
	}
	free(s);
	return 0;
}
