// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * run PROTO START|0 COUNT [--] CMD [ARG]...: acquire a runtime reservation on a socket that
 * stays open across exec (no CLOEXEC), describe it in CMD's environment and exec CMD in this
 * very process, so that CMD (same tgid) may associate sockets with the token; the
 * reservation ends when the socket does, that is when CMD exits (or closes the descriptor,
 * or releases it). The socket is AF_INET6 (AF_INET where the kernel has no IPv6): its
 * family does not matter, as a reservation covers IPv4 and IPv6 alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "cli.h"

/* What CMD is told, in its environment. */
static int describe(const struct portrsv_runtime *rt, int fd)
{
	char val[32], tok[TOKEN_LEN];
	int err;

	snprintf(val, sizeof(val), "%u", rt->start);
	err = setenv("PORTRSV_RUNTIME_START", val, 1);
	snprintf(val, sizeof(val), "%u", rt->count);
	err = err ?: setenv("PORTRSV_RUNTIME_COUNT", val, 1);
	err = err ?: setenv("PORTRSV_RUNTIME_TOKEN", token_string(rt->token, tok), 1);
	snprintf(val, sizeof(val), "%d", fd);
	return err ?: setenv("PORTRSV_RUNTIME_FD", val, 1);
}

static int acquire_failed(int err, const char *proto, uint16_t start, uint16_t count)
{
	char block[BLOCK_LEN];

	if (err == -ENOENT && !start)
		fprintf(stderr, "portrsv: run: no %s pool in this network namespace\n", proto);
	else if (err == -ENOENT)
		fprintf(stderr, "portrsv: run: no %s pool covers %s\n", proto,
			block_name(start, count, block));
	else if (err == -EADDRINUSE && !start)
		fprintf(stderr, "portrsv: run: no free block of %u %s ports in a pool\n", count,
			proto);
	else if (err == -EPERM)
		fprintf(stderr, "portrsv: run: the %s pool has no --limit: only root may acquire "
			"from it\n", proto);
	else if (start)
		return fail(err, "%s %s", proto, block_name(start, count, block));
	else
		return fail(err, "%s, any block of %u", proto, count);
	return portrsv_errno_to_exit(err);
}

int cmd_run(int argc, char **argv)
{
	enum portrsv_proto proto;
	struct portrsv_runtime rt;
	uint16_t start = 0, count;
	char e[3][64];
	int fd, err, first;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		print_usage(stdout);
		return 0;
	}
	if (argc > 1 && argv[1][0] == '-' && argv[1][1]) {
		portrsv_escape(argv[1], e[0], sizeof(e[0]));
		return usage_error("unknown option '%s'", e[0]);
	}
	if (argc < 4)
		return usage_error("missing %s", argc < 2 ? "PROTO" : argc < 3 ? "START" : "COUNT");
	first = argc > 4 && !strcmp(argv[4], "--") ? 5 : 4;
	if (first >= argc)
		return usage_error("missing CMD");
	for (int i = 0; i < 3; i++)
		portrsv_escape(argv[i + 1], e[i], sizeof(e[i]));
	if (portrsv_parse_proto(argv[1], &proto))
		return usage_error("protocol '%s' is not tcp or udp", e[0]);
	if (strcmp(argv[2], "0") && portrsv_parse_port(argv[2], &start))
		return usage_error("port '%s' is not 0 (any block) or a number from %d to %d",
				   e[1], PORTRSV_PORT_MIN, PORTRSV_PORT_MAX);
	if (portrsv_parse_count(argv[3], &count))
		return usage_error("count '%s' is not a number from 1 to %d", e[2],
				   PORTRSV_PORT_MAX);
	if (start && portrsv_block_valid(start, count))
		return usage_error("block %u-%u passes port %d", start, start + count - 1,
				   PORTRSV_PORT_MAX);

	fd = socket(AF_INET6, proto == PORTRSV_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0 && errno == EAFNOSUPPORT)
		fd = socket(AF_INET, proto == PORTRSV_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		return fail(-errno, "socket");
	err = portrsv_acquire(fd, start, count, &rt);
	if (err) {
		close(fd);
		return acquire_failed(err, argv[1], start, count);
	}
	if (describe(&rt, fd))
		return fail(-errno, "environment");
	fflush(NULL);
	execvp(argv[first], argv + first);
	/* As env(1): 127 when CMD is not found, 126 when it is but cannot be run. */
	err = errno;
	portrsv_escape(argv[first], e[0], sizeof(e[0]));
	fprintf(stderr, "portrsv: run: %s: %s\n", e[0], strerror(err));
	return err == ENOENT || err == ENOTDIR ? 127 : 126;
}
