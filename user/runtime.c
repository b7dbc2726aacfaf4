// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runtime reservations, the caller's side: two socket options that the BPF programs
 * consume (abi.h, "Runtime reservations"). No privilege, no map access: the kernel decides.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include "internal.h"

/* A token from the kernel's CSPRNG, never 0. */
static int random_token(uint64_t *token)
{
	do {
		ssize_t n = getrandom(token, sizeof(*token), 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n != (ssize_t)sizeof(*token))
			*token = PORTRSV_TOKEN_INVALID;
	} while (*token == PORTRSV_TOKEN_INVALID);
	return 0;
}

void portrsv_sock_not_ours(int sockfd)
{
	int v[3] = { -1, -1, -1 };
	const int opt[3] = { SO_DOMAIN, SO_TYPE, SO_PROTOCOL };

	for (int i = 0; i < 3; i++) {
		socklen_t len = sizeof(v[i]);

		if (getsockopt(sockfd, SOL_SOCKET, opt[i], &v[i], &len))
			v[i] = -1;
	}
	portrsv_set_errmsg("the socket is neither TCP nor UDP (domain %d, type %d, protocol %d): "
			   "it has no port space", v[0], v[1], v[2]);
}

/* Tokens drawn before an acquire gives up on EEXIST (a token some reservation has). */
#define ACQUIRE_TRIES 8

/* The detail of an acquire the kernel refused. */
static void acquire_why(int sockfd, uint16_t start, uint16_t count, int err)
{
	char block[16];

	portrsv_block_format(start, count, block, sizeof(block));
	switch (-err) {
	case EOPNOTSUPP:
		portrsv_sock_not_ours(sockfd);
		break;
	case EADDRINUSE:
		if (start)
			portrsv_set_errmsg("a port of %s is taken by another runtime reservation",
					   block);
		else
			portrsv_set_errmsg("no block of %u free port%s is left in the pools of the "
					   "socket's network namespace and protocol", count,
					   count == 1 ? "" : "s");
		break;
	case ENOENT:
		if (start)
			portrsv_set_errmsg("no pool of the socket's network namespace and protocol "
					   "covers %s", block);
		else
			portrsv_set_errmsg("no pool in the socket's network namespace and protocol");
		break;
	case EDQUOT:
		portrsv_set_errmsg("%u more port%s would pass the pool's limit for the socket's "
				   "cgroup", count, count == 1 ? "" : "s");
		break;
	case EPERM:
		portrsv_set_errmsg("the pool has no limit: only uid 0 may acquire from it");
		break;
	case ENOSPC:
		portrsv_set_errmsg("the socket holds %d runtime reservations already, or the maps "
				   "are full", PORTRSV_RT_PER_SOCKET);
		break;
	case ENOPROTOOPT:
		portrsv_set_errmsg("%s", portrsv_strerror(err));
		break;
	case EEXIST: /* every token drawn was some reservation's already: never in practice */
		portrsv_set_errmsg("no unused token in %d draws from getrandom()", ACQUIRE_TRIES);
		break;
	}
}

int portrsv_acquire(int sockfd, uint16_t start, uint16_t count, struct portrsv_runtime *out)
{
	struct portrsv_acquire_req req = { .start = start, .count = count };
	socklen_t len = sizeof(req);
	uint64_t token;
	int err = -EEXIST;

	portrsv_set_errmsg(NULL);
	if (!out)
		return portrsv_fail(-EINVAL, "out is NULL");
	if (!count)
		return portrsv_fail(-EINVAL, "count 0: a block has at least one port");
	if ((uint32_t)start + count - 1 > PORTRSV_PORT_MAX) {
		char block[16];

		portrsv_block_format(start, count, block, sizeof(block));
		return portrsv_fail(-EINVAL, "block %s passes port %d", block, PORTRSV_PORT_MAX);
	}
	/* The program refuses a token some reservation has (EEXIST): draw again. */
	for (int tries = 0; tries < ACQUIRE_TRIES && err == -EEXIST; tries++) {
		err = random_token(&token);
		if (err)
			return err;
		req.token = token;
		err = setsockopt(sockfd, SOL_PORTRSV, PORTRSV_SO_ACQUIRE, &req, sizeof(req)) ? -errno : 0;
	}
	if (err) {
		acquire_why(sockfd, start, count, err);
		return err;
	}
	if (getsockopt(sockfd, SOL_PORTRSV, PORTRSV_SO_ACQUIRED, &req, &len))
		return -errno;
	if (len != sizeof(req) || !req.count)
		return -EPROTO;
	out->start = req.start;
	out->count = req.count;
	out->token = req.token;
	return 0;
}

int portrsv_release(int sockfd, uint64_t token)
{
	int err;

	portrsv_set_errmsg(NULL);
	if (token == PORTRSV_TOKEN_INVALID)
		return portrsv_fail(-EINVAL, "token 0 is INVALID_PORT_RESERVATION_TOKEN");
	if (!setsockopt(sockfd, SOL_PORTRSV, PORTRSV_SO_RELEASE, &token, sizeof(token)))
		return 0;
	err = -errno;
	/* Never the token itself in the detail: it is a secret. */
	if (err == -ENOENT)
		portrsv_set_errmsg("no runtime reservation has this token");
	else if (err == -ENOPROTOOPT)
		portrsv_set_errmsg("%s", portrsv_strerror(err));
	else if (err == -EPERM)
		portrsv_set_errmsg("another socket acquired the runtime reservation of this token");
	return err;
}
