// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the running kernel can do, found by trying (never by its version number): the
 * features portrsv uses that Linux 6.1, the oldest kernel it supports, lacks. Each missing
 * one weakens a named thing and nothing else; `status` says which, and the tests that need
 * one skip on that kernel only, naming it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/io_uring.h>
#include "internal.h"


const struct portrsv_feature portrsv_features[PORTRSV_FEAT_COUNT] = {
	[PORTRSV_FEAT_IOURING_BIND] = {
		.name = "io_uring_bind",
		.since = "6.11",
		.lack = "io_uring has no bind operation (IORING_OP_BIND): there is nothing of "
			"io_uring's to enforce",
	},
	[PORTRSV_FEAT_DIAG_BOUND] = {
		.name = "sock_diag_bound_inactive",
		.since = "6.8",
		.lack = "sock_diag does not list TCP sockets that are bound but neither listening nor "
			"connected: 'add' of a block of more than "
			PORTRSV_STR(PORTRSV_PROBE_MAX) " ports cannot see such a socket on one of its "
			"ports",
	},
};

/* Does io_uring know IORING_OP_BIND? io_uring off (sysctl, seccomp) counts as no. */
static bool probe_iouring_bind(void)
{
	size_t len = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
	struct io_uring_params p = { 0 };
	struct io_uring_probe *pr;
	bool ok = false;
	int ring;

	ring = syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0)
		return false;
	pr = calloc(1, len);
	if (pr && syscall(__NR_io_uring_register, ring, IORING_REGISTER_PROBE, pr, 256) == 0)
		ok = pr->last_op >= PORTRSV_IORING_OP_BIND &&
		     (pr->ops[PORTRSV_IORING_OP_BIND].flags & IO_URING_OP_SUPPORTED);
	free(pr);
	close(ring);
	return ok;
}

/* Does the TCP dump list a socket that is only bound? Bind one to an ephemeral port and look. */
static bool probe_diag_bound(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	unsigned char *bits;
	bool ok = false;
	uint16_t port;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bits = malloc((PORTRSV_PORT_MAX + 1) / 8);
	if (bits && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0 &&
	    portrsv_ports_in_use_map(PORTRSV_TCP, bits) == 0) {
		port = ntohs(a.sin_port);
		ok = bits[port / 8] & (1 << (port % 8));
	}
	free(bits);
	close(fd);
	return ok;
}

bool portrsv_feature_present(enum portrsv_feat f)
{
	/* Probed once per process: the answers cannot change while it runs. */
	static int known[PORTRSV_FEAT_COUNT]; /* 0 unknown, 1 present, -1 missing */

	if ((unsigned)f >= PORTRSV_FEAT_COUNT)
		return false;
	if (!known[f]) {
		bool ok = f == PORTRSV_FEAT_IOURING_BIND ? probe_iouring_bind() : probe_diag_bound();

		known[f] = ok ? 1 : -1;
	}
	return known[f] > 0;
}
