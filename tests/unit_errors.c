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
	{ -ENOPROTOOPT, PORTRSV_WIN_ERROR_GEN_FAILURE, PORTRSV_EXIT_FAILURE },
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
