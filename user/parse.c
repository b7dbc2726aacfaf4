// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Strict parsing of untrusted text. strtoul() alone is too lenient: it skips leading
 * whitespace, accepts a sign (negating "-1" into ULONG_MAX) and stops quietly at garbage,
 * so every parser here checks the text itself before and after calling it.
 */
#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

int portrsv_parse_proto(const char *s, enum portrsv_proto *proto)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "tcp"))
		*proto = PORTRSV_TCP;
	else if (!strcmp(s, "udp"))
		*proto = PORTRSV_UDP;
	else
		return -EINVAL;
	return 0;
}

const char *portrsv_proto_name(int proto)
{
	switch (proto) {
	case PORTRSV_PROTO_TCP:
		return "tcp";
	case PORTRSV_PROTO_UDP:
		return "udp";
	}
	return "?";
}

static bool all_digits(const char *s, int (*is)(int))
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is((unsigned char)*s))
			return false;
	return true;
}

/*
 * Below min is -EINVAL and above max -ERANGE, as in portrsv_block_valid(): port or count 0
 * is never meaningful, while -ERANGE reads "passes port 65535" to the user.
 */
static int parse_range(const char *s, unsigned long min, unsigned long max, uint16_t *out)
{
	unsigned long v;
	char *end;

	if (!s || !all_digits(s, isdigit))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

int portrsv_parse_port(const char *s, uint16_t *port)
{
	return parse_range(s, PORTRSV_PORT_MIN, PORTRSV_PORT_MAX, port);
}

int portrsv_parse_count(const char *s, uint16_t *count)
{
	return parse_range(s, 1, PORTRSV_PORT_MAX, count);
}

int portrsv_parse_u64(const char *s, uint64_t *v)
{
	unsigned long long r;
	int base = 10;
	char *end;

	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
		if (!all_digits(s, isxdigit))
			return -EINVAL;
		/* Tokens print as at most 16 digits; a longer text is not one of ours. */
		if (strlen(s) > 16)
			return -ERANGE;
	} else if (!all_digits(s, isdigit)) {
		return -EINVAL;
	}
	errno = 0;
	r = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*v = r;
	return 0;
}

int portrsv_block_valid(uint32_t start, uint32_t count)
{
	if (start < PORTRSV_PORT_MIN || count < 1)
		return -EINVAL;
	/* start + count - 1 <= MAX, rearranged so that nothing wraps in 32 bits. */
	if (start > PORTRSV_PORT_MAX || count > PORTRSV_PORT_MAX - start + 1)
		return -ERANGE;
	return 0;
}

void portrsv_block_format(uint16_t start, uint16_t count, char *buf, size_t len)
{
	if (count <= 1)
		snprintf(buf, len, "%u", start);
	else
		snprintf(buf, len, "%u-%u", start, start + count - 1);
}

bool portrsv_blocks_overlap(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
	/* 64-bit ends: a block may end past UINT32_MAX when the caller did not validate it. */
	return na && nb && a < (uint64_t)b + nb && b < (uint64_t)a + na;
}

/*
 * libbpf's rule for extensible options: a caller built against an older header passes a
 * smaller sz and gets defaults; a newer one may pass a larger sz only if it left the fields
 * we do not know zero, since silently ignoring a request would be worse than refusing it.
 */
bool portrsv_opts_valid(const void *opts, size_t known, size_t sz)
{
	const unsigned char *p = opts;
	size_t i;

	if (!opts)
		return true;
	if (sz < sizeof(size_t))
		return false;
	for (i = known; i < sz; i++)
		if (p[i])
			return false;
	return true;
}

/* ASCII only, whatever the locale says. */
static bool alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool portrsv_container_valid(const char *s)
{
	size_t n;

	if (!s || !alnum(s[0]))
		return false;
	for (n = 1; s[n]; n++)
		if (n >= PORTRSV_CONTAINER_LEN - 1 ||
		    !(alnum(s[n]) || s[n] == '_' || s[n] == '.' || s[n] == '-'))
			return false;
	return true;
}
