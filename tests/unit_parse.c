// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Strict parsing of untrusted text and block arithmetic; needs no privilege. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <string.h>
#include "internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PARAMS(type, rows) cr_make_param_array(type, rows, ARRAY_SIZE(rows))

/*
 * Rows hold their text inline: Criterion re-executes the binary for each test and copies
 * the rows over, so a pointer to a string literal would not survive address randomization.
 */
#define TEXT_LEN 32

struct u16_case {
	char in[TEXT_LEN];
	int ret;
	uint16_t val;
};

/* Shared by port and count: both are 1..65535. */
static struct u16_case u16_cases[] = {
	{ "1", 0, 1 },
	{ "80", 0, 80 },
	{ "080", 0, 80 },
	{ "65535", 0, 65535 },
	{ "", -EINVAL },
	{ "+80", -EINVAL },
	{ "-1", -EINVAL },
	{ " 80", -EINVAL },
	{ "\t80", -EINVAL },
	{ "80 ", -EINVAL },
	{ "80\n", -EINVAL },
	{ "80abc", -EINVAL },
	{ "0x50", -EINVAL },
	{ "abc", -EINVAL },
	{ "0", -EINVAL },
	{ "00", -EINVAL },
	{ "65536", -ERANGE },
	{ "4294967297", -ERANGE },
	{ "99999999999999999999", -ERANGE },
};

ParameterizedTestParameters(parse, port)
{
	return PARAMS(struct u16_case, u16_cases);
}

ParameterizedTest(struct u16_case *c, parse, port)
{
	uint16_t v = 0;
	int ret = portrsv_parse_port(c->in, &v);

	cr_assert_eq(ret, c->ret, "parse_port(\"%s\") = %d, want %d", c->in, ret, c->ret);
	if (!ret)
		cr_assert_eq(v, c->val, "parse_port(\"%s\") -> %u", c->in, v);
}

ParameterizedTestParameters(parse, count)
{
	return PARAMS(struct u16_case, u16_cases);
}

ParameterizedTest(struct u16_case *c, parse, count)
{
	uint16_t v = 0;
	int ret = portrsv_parse_count(c->in, &v);

	cr_assert_eq(ret, c->ret, "parse_count(\"%s\") = %d, want %d", c->in, ret, c->ret);
	if (!ret)
		cr_assert_eq(v, c->val, "parse_count(\"%s\") -> %u", c->in, v);
}

Test(parse, null_text)
{
	enum portrsv_proto proto;
	uint16_t v;
	uint64_t u;

	cr_assert_eq(portrsv_parse_port(NULL, &v), -EINVAL);
	cr_assert_eq(portrsv_parse_count(NULL, &v), -EINVAL);
	cr_assert_eq(portrsv_parse_u64(NULL, &u), -EINVAL);
	cr_assert_eq(portrsv_parse_proto(NULL, &proto), -EINVAL);
}

struct u64_case {
	char in[TEXT_LEN];
	int ret;
	uint64_t val;
};

ParameterizedTestParameters(parse, u64)
{
	static struct u64_case rows[] = {
		{ "0", 0, 0 },
		{ "42", 0, 42 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE },
		{ "99999999999999999999999", -ERANGE },
		{ "0x0", 0, 0 },
		{ "0x2a", 0, 42 },
		{ "0X2A", 0, 42 },
		{ "0xffffffffffffffff", 0, UINT64_MAX },
		{ "0x0123456789abcdef", 0, 0x0123456789abcdefULL },
		{ "0x10000000000000000", -ERANGE },
		{ "0x00000000000000001", -ERANGE },
		{ "", -EINVAL },
		{ "0x", -EINVAL },
		{ "0X", -EINVAL },
		{ "x10", -EINVAL },
		{ "0x 1", -EINVAL },
		{ "0x-1", -EINVAL },
		{ "0x+1", -EINVAL },
		{ "0x0x1", -EINVAL },
		{ "0xg", -EINVAL },
		{ "0x1 ", -EINVAL },
		{ "-1", -EINVAL },
		{ "+1", -EINVAL },
		{ " 1", -EINVAL },
		{ "1 ", -EINVAL },
		{ "12ab", -EINVAL },
		{ "1e3", -EINVAL },
	};

	return PARAMS(struct u64_case, rows);
}

ParameterizedTest(struct u64_case *c, parse, u64)
{
	uint64_t v = 0;
	int ret = portrsv_parse_u64(c->in, &v);

	cr_assert_eq(ret, c->ret, "parse_u64(\"%s\") = %d, want %d", c->in, ret, c->ret);
	if (!ret)
		cr_assert_eq(v, c->val, "parse_u64(\"%s\") -> %#llx", c->in,
			     (unsigned long long)v);
}

struct proto_case {
	char in[TEXT_LEN];
	int ret;
	enum portrsv_proto val;
};

ParameterizedTestParameters(parse, proto)
{
	static struct proto_case rows[] = {
		{ "tcp", 0, PORTRSV_TCP },
		{ "udp", 0, PORTRSV_UDP },
		{ "TCP", -EINVAL },
		{ "Udp", -EINVAL },
		{ "tcp6", -EINVAL },
		{ "udp6", -EINVAL },
		{ "tc", -EINVAL },
		{ " tcp", -EINVAL },
		{ "tcp ", -EINVAL },
		{ "6", -EINVAL },
		{ "mptcp", -EINVAL },
		{ "", -EINVAL },
	};

	return PARAMS(struct proto_case, rows);
}

ParameterizedTest(struct proto_case *c, parse, proto)
{
	enum portrsv_proto v = 0;
	int ret = portrsv_parse_proto(c->in, &v);

	cr_assert_eq(ret, c->ret, "parse_proto(\"%s\") = %d, want %d", c->in, ret, c->ret);
	if (!ret)
		cr_assert_eq(v, c->val, "parse_proto(\"%s\") -> %d", c->in, v);
}

Test(parse, proto_name)
{
	cr_assert_str_eq(portrsv_proto_name(PORTRSV_PROTO_TCP), "tcp");
	cr_assert_str_eq(portrsv_proto_name(PORTRSV_PROTO_UDP), "udp");
	cr_assert_str_eq(portrsv_proto_name(0), "?");
	cr_assert_str_eq(portrsv_proto_name(-1), "?");
	cr_assert_str_eq(portrsv_proto_name(PORTRSV_IPPROTO_MPTCP), "?");
}

struct block_case {
	uint32_t start;
	uint32_t count;
	int ret;
};

ParameterizedTestParameters(block, valid)
{
	static struct block_case rows[] = {
		{ 1, 1, 0 },
		{ 5000, 20, 0 },
		{ 1, 65535, 0 },
		{ 65535, 1, 0 },
		{ 65000, 536, 0 },
		{ 65535, 2, -ERANGE },
		{ 65000, 537, -ERANGE },
		{ 1, 65536, -ERANGE },
		{ 65536, 1, -ERANGE },
		/* start + count - 1 wraps to 0 or 1 in 32 bits. */
		{ 2, UINT32_MAX, -ERANGE },
		{ 3, UINT32_MAX - 1, -ERANGE },
		{ UINT32_MAX, UINT32_MAX, -ERANGE },
		{ 0, 1, -EINVAL },
		{ 1, 0, -EINVAL },
		{ 0, 0, -EINVAL },
		{ 65535, 0, -EINVAL },
	};

	return PARAMS(struct block_case, rows);
}

ParameterizedTest(struct block_case *c, block, valid)
{
	int ret = portrsv_block_valid(c->start, c->count);

	cr_assert_eq(ret, c->ret, "block_valid(%u, %u) = %d, want %d", c->start, c->count,
		     ret, c->ret);
}

struct overlap_case {
	uint32_t a, na, b, nb;
	bool want;
};

ParameterizedTestParameters(block, overlap)
{
	static struct overlap_case rows[] = {
		{ 5000, 20, 5020, 10, false },  /* adjacent */
		{ 5000, 20, 4990, 10, false },  /* adjacent below */
		{ 1, 1, 2, 1, false },
		{ 5000, 20, 6000, 20, false },
		{ 5000, 20, 5005, 5, true },    /* nested */
		{ 5000, 20, 5000, 20, true },   /* identical */
		{ 5000, 20, 5019, 5, true },    /* partial, last port */
		{ 5000, 20, 4990, 11, true },   /* partial, first port */
		{ 1, 65535, 65535, 1, true },
		{ 5000, 0, 5000, 20, false },   /* empty blocks hold no port */
		{ 5000, 20, 5005, 0, false },
		{ UINT32_MAX, 2, 0, 1, false }, /* an end past 32 bits does not wrap */
		{ UINT32_MAX, 2, UINT32_MAX, 1, true },
	};

	return PARAMS(struct overlap_case, rows);
}

/* Overlap is symmetric, so each row is checked both ways round. */
ParameterizedTest(struct overlap_case *c, block, overlap)
{
	bool ab = portrsv_blocks_overlap(c->a, c->na, c->b, c->nb);
	bool ba = portrsv_blocks_overlap(c->b, c->nb, c->a, c->na);

	cr_assert_eq(ab, c->want, "overlap(%u+%u, %u+%u) = %d", c->a, c->na, c->b, c->nb, ab);
	cr_assert_eq(ba, c->want, "overlap(%u+%u, %u+%u) = %d", c->b, c->nb, c->a, c->na, ba);
}

#define KNOWN 24

struct opts_case {
	size_t sz;
	int dirty;  /* offset of a non-zero byte, -1 for none */
	bool want;
};

ParameterizedTestParameters(opts, valid)
{
	static struct opts_case rows[] = {
		{ 0, -1, false },
		{ sizeof(size_t) - 1, -1, false },
		{ sizeof(size_t), -1, true },   /* older caller: defaults for the rest */
		{ KNOWN - 1, -1, true },
		{ KNOWN, -1, true },
		{ KNOWN + 16, -1, true },       /* newer caller, unknown fields unused */
		{ KNOWN + 16, KNOWN, false },
		{ KNOWN + 16, KNOWN + 15, false },
		{ KNOWN + 16, KNOWN + 16, true }, /* past sz: not the caller's */
		{ KNOWN + 16, KNOWN - 1, true },  /* known fields may hold anything */
		{ KNOWN, KNOWN, true },
	};

	return PARAMS(struct opts_case, rows);
}

ParameterizedTest(struct opts_case *c, opts, valid)
{
	unsigned char buf[64] = { 0 };
	bool ok;

	if (c->dirty >= 0)
		buf[c->dirty] = 0x01;
	ok = portrsv_opts_valid(buf, KNOWN, c->sz);
	cr_assert_eq(ok, c->want, "opts_valid(sz %zu, byte %d set) = %d", c->sz, c->dirty, ok);
}

/* A caller built against a newer header, with one more field than we know. */
struct newer_create_opts {
	struct portrsv_create_opts known;
	uint64_t future;
};

Test(opts, macro)
{
	static const char *fallback = "fallback";
	PORTRSV_OPTS(portrsv_create_opts, o, .comment = "web");
	struct newer_create_opts n = { .known.sz = sizeof(n) };
	/* Through pointers: the macros test for NULL, which an &object never is. */
	struct portrsv_create_opts *op = &o, *np = &n.known, *none = NULL;

	cr_assert_eq(OPTS_VALID(none, portrsv_create_opts), true);
	cr_assert_eq(OPTS_VALID(op, portrsv_create_opts), true);
	cr_assert_eq(OPTS_VALID(np, portrsv_create_opts), true);
	n.future = 1;
	cr_assert_eq(OPTS_VALID(np, portrsv_create_opts), false);

	cr_assert_eq(OPTS_GET(op, netns, fallback), NULL);
	cr_assert_eq(OPTS_GET(none, netns, fallback), fallback);
	/* An older caller's struct ends before comment. */
	op->sz = offsetof(struct portrsv_create_opts, comment);
	cr_assert_eq(OPTS_GET(op, comment, fallback), fallback);
	cr_assert_eq(OPTS_GET(op, netns, fallback), NULL);
}
