// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which ports are in use, asked of the kernel's socket tables (a small block: probe.c). */
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

/* idiag_states bit of TCP_LISTEN (10); PORTRSV_DIAG_ALL is every state. */
#define DIAG_LISTEN (1U << 10)

/*
 * One dump of (family, proto) in states: fn for each socket, until it returns non-zero.
 * family AF_UNSPEC: TCP sockets of both families in one walk, asked the way the kernel has
 * answered since 2.6 (TCPDIAG_GETSOCK, struct inet_diag_req): SOCK_DIAG_BY_FAMILY wants one
 * family, and each TCP dump walks the whole established hash (262,144 buckets here, shared
 * by every netns) whatever it finds, so one walk for both halves what an add costs.
 */
static int dump(int fd, uint8_t family, uint8_t proto, uint32_t states, uint32_t seq,
		void *buf, portrsv_diag_fn fn, void *ctx)
{
	bool compat = family == AF_UNSPEC;
	struct {
		struct nlmsghdr nlh;
		union {
			struct inet_diag_req_v2 v2;
			struct inet_diag_req v1;
		} req;
	} msg = {
		.nlh = {
			.nlmsg_type = compat ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = seq,
		},
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK }, from;
	struct iovec iov = { .iov_base = buf, .iov_len = DIAG_BUF };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	const struct nlmsghdr *nlh;
	ssize_t n;
	int rc;

	if (compat) {
		msg.nlh.nlmsg_len = NLMSG_LENGTH(sizeof(msg.req.v1));
		msg.req.v1.idiag_states = states;
	} else {
		msg.nlh.nlmsg_len = NLMSG_LENGTH(sizeof(msg.req.v2));
		msg.req.v2 = (struct inet_diag_req_v2){ .sdiag_family = family,
							.sdiag_protocol = proto,
							.idiag_states = states };
	}
	if (sendto(fd, &msg, msg.nlh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
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
			if (nlh->nlmsg_type != msg.nlh.nlmsg_type ||
			    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				continue;
			rc = fn(NLMSG_DATA(nlh), ctx);
			if (rc)
				return rc;
		}
	}
}

int portrsv_diag_each(enum portrsv_proto proto, const uint32_t *passes, size_t npasses,
		      portrsv_diag_fn fn, void *ctx)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 }, both[] = { AF_UNSPEC };
	const uint8_t *fams = proto == PORTRSV_TCP ? both : families;
	size_t nfams = proto == PORTRSV_TCP ? 1 : 2;
	uint32_t seq = 0;
	void *buf;
	int fd, rc = 0;

	if (proto != PORTRSV_TCP && proto != PORTRSV_UDP)
		return -EINVAL;
	buf = malloc(DIAG_BUF);
	if (!buf)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	/* One socket for all: each dump only follows one that ran to its DONE. A socket has
	 * one family for life, so each family's passes are a look of their own. */
	for (size_t j = 0; j < npasses && !rc; j++)
		for (size_t i = 0; i < nfams && !rc; i++)
			rc = dump(fd, fams[i], proto == PORTRSV_TCP ? IPPROTO_TCP : IPPROTO_UDP,
				  passes[j], ++seq, buf, fn, ctx);
	close(fd);
out:
	free(buf);
	return rc;
}

static int mark_port(const struct inet_diag_msg *d, void *bits)
{
	uint16_t port = ntohs(d->id.idiag_sport);

	((unsigned char *)bits)[port / 8] |= 1 << (port % 8);
	return 0;
}

/*
 * The passes of one look, in order. The caller has claimed the ports already, so no socket
 * can newly bind one; what can still happen is that a socket bound before changes state,
 * and moves from one of the kernel's tables to another while we walk them. Inside one TCP
 * dump the kernel walks the listening table first, then (6.8+) the bound-only sockets,
 * then the established table (every connected state and TIME_WAIT): a bound socket that
 * calls listen() after the first walk passed and before the second reaches it is in
 * neither, and an unentitled listener would stay on a reserved port while add says
 * success. So TCP is looked at in three dumps:
 *   1. every state but LISTEN: bound-only, connecting, connected, closing, TIME_WAIT;
 *   2. LISTEN only: a socket that was bound in 1 and listened meanwhile is here now
 *      (bound -> listening can only go this way round, 1 before 2);
 *   3. every state but LISTEN again: a listener that disconnected (connect(AF_UNSPEC),
 *      back to bound-only) between 1 and 2 is bound-only now.
 * A socket escapes only by changing state twice in the right instants (listening in 1,
 * bound in 2, listening again in 3), each within microseconds; a socket that merely
 * listens, connects or disconnects once while add runs is always seen. The kernel moves a
 * socket from one table to the next under its own lock in a few instructions; a dump that
 * passes in that instant does not see it in either, which the next pass does.
 * UDP has one table for every bound socket, whatever connect() does: one dump.
 * Kernels before 6.8 list no bound-only TCP socket at all (PORTRSV_FEAT_DIAG_BOUND): there,
 * a socket bound before the reservation that listens after the second pass is missed.
 */
static const uint32_t tcp_passes[] = { PORTRSV_DIAG_ALL & ~DIAG_LISTEN, DIAG_LISTEN,
				       PORTRSV_DIAG_ALL & ~DIAG_LISTEN };
static const uint32_t udp_passes[] = { PORTRSV_DIAG_ALL };

int portrsv_ports_in_use_map(enum portrsv_proto proto, unsigned char *bits)
{
	memset(bits, 0, (PORTRSV_PORT_MAX + 1) / 8);
	return proto == PORTRSV_TCP ? portrsv_diag_each(proto, tcp_passes, 3, mark_port, bits)
				    : portrsv_diag_each(proto, udp_passes, 1, mark_port, bits);
}
