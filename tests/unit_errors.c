// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The errno -> Windows code -> exit status map, and portrsv_strerror; needs no privilege. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct map_case {
	int err;
	unsigned long win;
	int exit;
};

/* Every row of the map both signs, as the API returns -errno and errno holds +errno. */
#define X(e, w, x) { (e), (w), (x) }, { -(e), (w), (x) },
static struct map_case map_cases[] = {
	PORTRSV_ERRNO_MAP(X)
	{ ENOMEM, PORTRSV_WIN_ERROR_GEN_FAILURE, PORTRSV_EXIT_FAILURE },
	{ -ENOMEM, PORTRSV_WIN_ERROR_GEN_FAILURE, PORTRSV_EXIT_FAILURE },
	{ -ENOSPC, PORTRSV_WIN_ERROR_GEN_FAILURE, PORTRSV_EXIT_FAILURE },
	{ -EOPNOTSUPP, PORTRSV_WIN_ERROR_GEN_FAILURE, PORTRSV_EXIT_FAILURE },
	{ 4095, PORTRSV_WIN_ERROR_GEN_FAILURE, PORTRSV_EXIT_FAILURE },
	{ INT_MAX, PORTRSV_WIN_ERROR_GEN_FAILURE, PORTRSV_EXIT_FAILURE },
	{ INT_MIN, PORTRSV_WIN_ERROR_GEN_FAILURE, PORTRSV_EXIT_FAILURE },
};
#undef X

ParameterizedTestParameters(errors, map)
{
	return cr_make_param_array(struct map_case, map_cases, ARRAY_SIZE(map_cases));
}

ParameterizedTest(struct map_case *c, errors, map)
{
	unsigned long win = portrsv_errno_to_win(c->err);
	int exit = portrsv_errno_to_exit(c->err);
	const char *msg = portrsv_strerror(c->err);

	cr_assert_eq(win, c->win, "errno_to_win(%d) = %lu, want %lu", c->err, win, c->win);
	cr_assert_eq(exit, c->exit, "errno_to_exit(%d) = %d, want %d", c->err, exit, c->exit);
	cr_assert_neq(msg, NULL, "strerror(%d) is NULL", c->err);
	cr_assert_neq(msg[0], '\0', "strerror(%d) is empty", c->err);
}

/* The values the Windows API and scripts rely on, spelled out rather than taken from the map. */
Test(errors, pinned)
{
	cr_assert_eq(portrsv_errno_to_win(0), 0);
	cr_assert_eq(portrsv_errno_to_win(-EPERM), 5);
	cr_assert_eq(portrsv_errno_to_win(-EEXIST), 32);
	cr_assert_eq(portrsv_errno_to_win(-EINVAL), 87);
	cr_assert_eq(portrsv_errno_to_win(-PORTRSV_ENOTLOADED), 1062);
	cr_assert_eq(portrsv_errno_to_win(-ENOENT), 1168);
	cr_assert_eq(portrsv_errno_to_win(-ENOMEM), 31);
	cr_assert_eq(portrsv_errno_to_exit(0), 0);
	cr_assert_eq(portrsv_errno_to_exit(-ENOMEM), 1);
	cr_assert_eq(portrsv_errno_to_exit(-EINVAL), 2);
	cr_assert_eq(portrsv_errno_to_exit(-EADDRINUSE), 3);
	cr_assert_eq(portrsv_errno_to_exit(-ENOENT), 4);
	cr_assert_eq(portrsv_errno_to_exit(-EACCES), 5);
	cr_assert_eq(portrsv_errno_to_exit(-PORTRSV_ENOTLOADED), 6);
	/* Runtime reservations (portrsv run): the limit, and no program answering. */
	cr_assert_eq(portrsv_errno_to_win(-EDQUOT), 1816);
	cr_assert_eq(portrsv_errno_to_exit(-EDQUOT), 3);
	cr_assert_eq(portrsv_errno_to_win(-ENOPROTOOPT), 1062);
	cr_assert_eq(portrsv_errno_to_exit(-ENOPROTOOPT), 6);
	cr_assert_eq(portrsv_errno_to_win(-ENOSPC), 31);
	cr_assert_eq(portrsv_errno_to_exit(-ENOSPC), 1);
}

struct wsa_case {
	int err;
	unsigned long wsa;
};

/* Every row of the Winsock map, both signs, and errno values it leaves out. */
#define X(e, w) { (e), (w) }, { -(e), (w) },
static struct wsa_case wsa_cases[] = {
	PORTRSV_WSA_MAP(X)
	{ EIO, PORTRSV_WSASYSCALLFAILURE },
	{ -EIO, PORTRSV_WSASYSCALLFAILURE },
	{ -PORTRSV_ENOTLOADED, PORTRSV_WSASYSCALLFAILURE },
	{ 4095, PORTRSV_WSASYSCALLFAILURE },
	{ INT_MAX, PORTRSV_WSASYSCALLFAILURE },
	{ INT_MIN, PORTRSV_WSASYSCALLFAILURE },
};
#undef X

ParameterizedTestParameters(errors, wsa_map)
{
	return cr_make_param_array(struct wsa_case, wsa_cases, ARRAY_SIZE(wsa_cases));
}

ParameterizedTest(struct wsa_case *c, errors, wsa_map)
{
	unsigned long wsa = portrsv_errno_to_wsa(c->err);

	cr_assert_eq(wsa, c->wsa, "errno_to_wsa(%d) = %lu, want %lu", c->err, wsa, c->wsa);
}

/* Winsock's own numbers (winerror.h), spelled out: programs ported from Windows test them. */
Test(errors, wsa_pinned)
{
	static const struct wsa_case rows[] = {
		{ 0, 0 },
		{ -EINTR, 10004 },
		{ -EBADF, 10009 },
		{ -EACCES, 10013 },
		{ -EPERM, 10013 },
		{ -EFAULT, 10014 },
		{ -EINVAL, 10022 },
		{ -ERANGE, 10022 },
		{ -ENOTSOCK, 10038 },
		{ -ENOPROTOOPT, 10042 },
		{ -EOPNOTSUPP, 10045 },
		{ -EAFNOSUPPORT, 10047 },
		{ -EADDRINUSE, 10048 },
		{ -EEXIST, 10048 },
		{ -ENOENT, 10049 },
		{ -ENOSPC, 10055 },
		{ -ENOMEM, 10055 },
		{ -EDQUOT, 10069 },
		{ -EIO, 10107 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		cr_expect_eq(portrsv_errno_to_wsa(rows[i].err), rows[i].wsa, "errno %d: %lu, want %lu",
			     rows[i].err, portrsv_errno_to_wsa(rows[i].err), rows[i].wsa);
}

struct text_case {
	int err;
	char text[96];
};

ParameterizedTestParameters(errors, strerror)
{
	static struct text_case rows[] = {
		{ PORTRSV_ENOTLOADED, "portrsv is not loaded (run 'portrsv load')" },
		{ EEXIST, "overlaps an existing reservation" },
		{ EADDRINUSE, "a port of the block is in use" },
		{ ENOENT, "no such reservation" },
		{ EPERM, "permission denied (portrsv needs root, or CAP_BPF and CAP_NET_ADMIN)" },
		{ EACCES, "permission denied (portrsv needs root, or CAP_BPF and CAP_NET_ADMIN)" },
		{ ERANGE, "block passes port 65535" },
		{ EDQUOT, "the cgroup would hold more ports of the pool than its limit" },
		{ ENOPROTOOPT, "portrsv does not enforce this cgroup (or is not loaded)" },
	};

	return cr_make_param_array(struct text_case, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct text_case *c, errors, strerror)
{
	cr_assert_str_eq(portrsv_strerror(c->err), c->text);
	cr_assert_str_eq(portrsv_strerror(-c->err), c->text);
}

Test(errors, strerror_fallback)
{
	cr_assert_str_eq(portrsv_strerror(-ENOMEM), strerror(ENOMEM));
	cr_assert_str_eq(portrsv_strerror(EINVAL), strerror(EINVAL));
	cr_assert_str_eq(portrsv_strerror(-EINVAL), strerror(EINVAL));
}

/* The API's argument checks: the errno, and the detail naming the cause (portrsv_errmsg). */
struct check_case {
	char name[32];
	int proto;
	uint32_t start, count;
	int want;
	char msg[80]; /* "" with want 0: the detail is left empty */
};

ParameterizedTestParameters(errors, checks)
{
	static struct check_case rows[] = {
		{ "tcp block", PORTRSV_TCP, 8080, 10, 0, "" },
		{ "udp last port", PORTRSV_UDP, 65535, 1, 0, "" },
		{ "proto 0", 0, 8080, 10, -EINVAL, "protocol 0 is neither tcp (PORTRSV_TCP, 6) nor udp" },
		{ "proto 99", 99, 8080, 10, -EINVAL, "protocol 99 is neither tcp" },
		{ "port 0", PORTRSV_TCP, 0, 10, -EINVAL, "port 0 is no port: ports are 1-65535" },
		{ "count 0", PORTRSV_TCP, 8080, 0, -EINVAL, "count 0: a block has at least one port" },
		{ "past 65535", PORTRSV_TCP, 65530, 7, -ERANGE, "block 65530-65536 passes port 65535" },
		{ "port past 65535", PORTRSV_UDP, 70000, 1, -ERANGE, "block 70000-70000 passes port 65535" },
		{ "all ports and one", PORTRSV_TCP, 1, 65536, -ERANGE, "block 1-65536 passes port 65535" },
	};

	return cr_make_param_array(struct check_case, rows, ARRAY_SIZE(rows));
}

ParameterizedTest(struct check_case *c, errors, checks)
{
	int err;

	portrsv_set_errmsg("stale");
	portrsv_set_errmsg(NULL);
	err = portrsv_check_proto(c->proto);
	if (!err)
		err = portrsv_check_block(c->start, c->count);
	cr_assert_eq(err, c->want, "%s: %d, want %d", c->name, err, c->want);
	if (!c->want)
		cr_assert_str_empty(portrsv_errmsg(), "%s: detail [%s] on success", c->name,
				    portrsv_errmsg());
	else
		cr_assert(strstr(portrsv_errmsg(), c->msg), "%s: detail [%s], want [%s]", c->name,
			  portrsv_errmsg(), c->msg);
}

/* One way to write a block everywhere: "8080-8089", "8080" for one port. */
Test(errors, block_format)
{
	static const struct { uint16_t start, count; const char *want; } rows[] = {
		{ 8080, 10, "8080-8089" }, { 8080, 1, "8080" }, { 1, 65535, "1-65535" },
		{ 65535, 1, "65535" }, { 65530, 7, "65530-65536" } /* a refused block, as named */,
	};
	char buf[16];

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		portrsv_block_format(rows[i].start, rows[i].count, buf, sizeof(buf));
		cr_expect_str_eq(buf, rows[i].want, "%u+%u", rows[i].start, rows[i].count);
	}
}
