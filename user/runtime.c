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

int portrsv_acquire(int sockfd, uint16_t start, uint16_t count, struct portrsv_runtime *out)
{
	struct portrsv_acquire_req req = { .start = start, .count = count };
	socklen_t len = sizeof(req);
	uint64_t token;
	int err = -EEXIST;

	if (!out || !count || (uint32_t)start + count - 1 > PORTRSV_PORT_MAX)
		return -EINVAL;
	/* The program refuses a token some reservation has (EEXIST): draw again. */
	for (int tries = 0; tries < 8 && err == -EEXIST; tries++) {
		err = random_token(&token);
		if (err)
			return err;
		req.token = token;
		err = setsockopt(sockfd, SOL_PORTRSV, PORTRSV_SO_ACQUIRE, &req, sizeof(req)) ? -errno : 0;
	}
	if (err)
		return err;
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
	if (token == PORTRSV_TOKEN_INVALID)
		return -EINVAL;
	if (setsockopt(sockfd, SOL_PORTRSV, PORTRSV_SO_RELEASE, &token, sizeof(token)))
		return -errno;
	return 0;
}
