// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdarg.h>
#include <limits.h>
#include <string.h>
#include "internal.h"

/* The BPF programs cannot include <errno.h>; abi.h spells the values out instead. */
_Static_assert(PORTRSV_EACCES == EACCES, "PORTRSV_EACCES differs from EACCES");
_Static_assert(PORTRSV_EINVAL == EINVAL, "PORTRSV_EINVAL differs from EINVAL");
_Static_assert(PORTRSV_ENOENT == ENOENT, "PORTRSV_ENOENT differs from ENOENT");
_Static_assert(PORTRSV_EADDRINUSE == EADDRINUSE, "PORTRSV_EADDRINUSE differs from EADDRINUSE");


/* INT_MIN has no positive counterpart; INT_MAX is no errno, so it stays unmapped. */
static int errno_abs(int err)
{
	if (err == INT_MIN)
		return INT_MAX;
	return err < 0 ? -err : err;
}

/* Switches rather than a table so that a duplicated errno in the map fails to compile. */
unsigned long portrsv_errno_to_win(int err)
{
	switch (errno_abs(err)) {
#define X(e, win, exit) case e: return win;
	PORTRSV_ERRNO_MAP(X)
#undef X
	}
	return PORTRSV_WIN_ERROR_GEN_FAILURE;
}

int portrsv_errno_to_exit(int err)
{
	switch (errno_abs(err)) {
#define X(e, win, exit) case e: return exit;
	PORTRSV_ERRNO_MAP(X)
#undef X
	}
	return PORTRSV_EXIT_FAILURE;
}

unsigned long portrsv_errno_to_wsa(int err)
{
	switch (errno_abs(err)) {
#define X(e, wsa) case e: return wsa;
	PORTRSV_WSA_MAP(X)
#undef X
	}
	return PORTRSV_WSASYSCALLFAILURE;
}

PORTRSV_API const char *portrsv_strerror(int err)
{
	err = errno_abs(err);
	switch (err) {
	case PORTRSV_ENOTLOADED:
		return "portrsv is not loaded (run 'portrsv load')";
	case EEXIST:
		return "overlaps an existing reservation";
	case EADDRINUSE:
		return "a port of the block is in use";
	case ENOENT:
		return "no such reservation";
	case EPERM:
	case EACCES:
		return "permission denied (portrsv needs root, or CAP_BPF and CAP_NET_ADMIN)";
	case ERANGE:
		return "block passes port " PORTRSV_STR(PORTRSV_PORT_MAX);
	case EDQUOT:
		return "the cgroup would hold more ports of the pool than its limit";
	case ENOPROTOOPT:
		return "portrsv does not enforce this cgroup (or is not loaded)";
	case E2BIG: /* only the sysctl's value reports it (map updates give ENOSPC) */
		return "ip_local_reserved_ports would pass " PORTRSV_STR(PORTRSV_SYSCTL_VALUE_MAX)
		       " bytes: too many separate ranges";
	}
	return strerror(err);
}

static __thread char errmsg[512];

void portrsv_set_errmsg(const char *fmt, ...)
{
	va_list ap;

	errmsg[0] = '\0';
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
}

int portrsv_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

int portrsv_check_proto(int proto)
{
	if (proto == PORTRSV_PROTO_TCP || proto == PORTRSV_PROTO_UDP)
		return 0;
	return portrsv_fail(-EINVAL, "protocol %d is neither tcp (PORTRSV_TCP, %d) nor udp "
			    "(PORTRSV_UDP, %d)", proto, PORTRSV_PROTO_TCP, PORTRSV_PROTO_UDP);
}

int portrsv_check_block(uint32_t start, uint32_t count)
{
	int err = portrsv_block_valid(start, count);

	if (err == -EINVAL && start < PORTRSV_PORT_MIN)
		return portrsv_fail(err, "port %u is no port: ports are %d-%d", start,
				    PORTRSV_PORT_MIN, PORTRSV_PORT_MAX);
	if (err == -EINVAL)
		return portrsv_fail(err, "count 0: a block has at least one port");
	if (err)
		return portrsv_fail(err, "block %u-%" PRIu64 " passes port %d", start,
				    (uint64_t)start + count - 1, PORTRSV_PORT_MAX);
	return 0;
}

int portrsv_check_container(const char *id)
{
	if (portrsv_container_valid(id))
		return 0;
	/* Not quoted: it may be anything, control bytes too. */
	return portrsv_fail(-EINVAL, "container id is not [A-Za-z0-9][A-Za-z0-9_.-]{0,%d}",
			    PORTRSV_CONTAINER_LEN - 2);
}

const char *portrsv_errmsg(void)
{
	return errmsg;
}
