// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which ports are in use, asked of the kernel's socket tables rather than probed by bind. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include "internal.h"

/* Netlink never builds a dump skb larger than 32 KiB, so nothing is ever truncated. */
#define DIAG_BUF (32 * 1024)

/* Mark in bits (a 65536-bit map) the local port of every socket of the dump. */
static int dump_ports(int fd, uint8_t family, uint8_t proto, uint32_t seq, unsigned char *bits,
		      void *buf)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = seq,
		},
		/* Every state: TIME_WAIT and bound-only sockets hold their port too. */
		.req = { .sdiag_family = family, .sdiag_protocol = proto, .idiag_states = ~0U },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK }, from;
	struct iovec iov = { .iov_base = buf, .iov_len = DIAG_BUF };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	const struct inet_diag_msg *d;
	const struct nlmsghdr *nlh;
	uint16_t port;
	ssize_t n;
	int rc;

	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		n = recvmsg(fd, &mh, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (n == 0)
			return -EPROTO;
		/* Only the kernel's answers count, not what another process sent us. */
		if (from.nl_pid != 0)
			continue;
		for (nlh = buf; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_DONE) {
				/* A dump that failed part-way says so in its DONE. */
				if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
					memcpy(&rc, NLMSG_DATA(nlh), sizeof(rc));
					if (rc < 0)
						return rc;
				}
				return 0;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
					return -EPROTO;
				rc = ((const struct nlmsgerr *)NLMSG_DATA(nlh))->error;
				return rc < 0 ? rc : -EPROTO;
			}
			if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*d)))
				continue;
			d = NLMSG_DATA(nlh);
			port = ntohs(d->id.idiag_sport);
			bits[port / 8] |= 1 << (port % 8);
		}
	}
}

int portrsv_ports_in_use_map(enum portrsv_proto proto, unsigned char *bits)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	void *buf;
	size_t i;
	int fd, rc = 0;

	if (proto != PORTRSV_TCP && proto != PORTRSV_UDP)
		return -EINVAL;
	memset(bits, 0, (PORTRSV_PORT_MAX + 1) / 8);
	buf = malloc(DIAG_BUF);
	if (!buf)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	/* One socket for both: the second dump only follows a first that ran to its DONE. */
	for (i = 0; i < sizeof(families) && !rc; i++)
		rc = dump_ports(fd, families[i], proto == PORTRSV_TCP ? IPPROTO_TCP : IPPROTO_UDP,
				(uint32_t)i + 1, bits, buf);
	close(fd);
out:
	free(buf);
	return rc;
}
