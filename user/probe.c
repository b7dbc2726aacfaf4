// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Is a small block free? Asked of the kernel's own bind(), in microseconds, where a dump of
 * the socket tables (sockdiag.c) walks the whole TCP established hash, milliseconds twice.
 *
 * A socket of ours bound to each port, IPv4 0.0.0.0 and IPv6 :: with IPV6_V6ONLY, neither
 * with SO_REUSEADDR nor SO_REUSEPORT, conflicts with every socket of the calling thread's
 * netns that has the port: listening, connected, connecting, bound only (which sock_diag
 * lists only from Linux 6.8), TIME_WAIT, bound to a device, with either reuse option. The
 * two families between them meet every kind of address (a dual-stack [::] and a v4-mapped
 * socket meet 0.0.0.0, an IPv6 one meets [::]). Bound, our sockets also keep the ports
 * while the caller claims the block: no bind() can take one (ours has no reuse option to
 * share) and no autobind either (connect() never picks a port that a bind() holds). Once
 * the claim is in the maps, the programs refuse every bind and the sysctl every autobind,
 * and ours close: the block was free at no instant the caller could lose it.
 *
 * What bind() cannot see, the caller dumps instead (PORTRSV_PROBE_UNSURE, or after the
 * claim where portrsv_probe_sure() says no):
 * - UDP: with more than ten sockets in the port's hash slot (of every netns),
 *   udp_lib_get_port() looks only in the second hash's slot of the address bound, for a
 *   wildcard the other wildcard sockets, not those bound to an address or connected: a UDP
 *   block is held by bind() but always dumped too (UDP's table is small, its dump cheap);
 * - a VRF: a socket bound to a VRF or one of its devices lives in the VRF's own bind bucket
 *   (net.ipv4.tcp_l3mdev_accept off, the default), which ours, bound to no device, never
 *   meets; a netns with a VRF device is not trusted (only the vrf driver makes L3 masters),
 *   asked before the binds and again once the ports are claimed (a VRF and a socket in it
 *   made in between). A socket bound into a VRF that was deleted since keeps its bucket
 *   and is not seen: the one case left, and an odd one;
 * - a bind refused for another cause than the port's use (EACCES: a port under 1024
 *   without CAP_NET_BIND_SERVICE, or another instance's programs), or one we cannot make
 *   (out of descriptors): only a conflict (EADDRINUSE) says the port is used.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "internal.h"

#define NL_BUF (32 * 1024)

/* Does an RTM_NEWLINK message describe a link of kind "vrf"? */
static bool is_vrf(const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
	int len = (int)nlh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));

	if (len < 0)
		return false;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		int ilen = (int)RTA_PAYLOAD(a);

		if (a->rta_type != IFLA_LINKINFO)
			continue;
		for (const struct rtattr *i = RTA_DATA(a); RTA_OK(i, ilen); i = RTA_NEXT(i, ilen))
			if (i->rta_type == IFLA_INFO_KIND && RTA_PAYLOAD(i) >= 3 &&
			    !strncmp(RTA_DATA(i), "vrf", RTA_PAYLOAD(i)))
				return true;
	}
	return false;
}

/*
 * 1 when the calling thread's netns has a VRF device, 0 when not, -errno when it cannot
 * tell. Where the kernel has no vrf driver (/sys/module/vrf: loaded, or built in, since it
 * has a version), there can be none. Else the links are asked for, filtered to kind "vrf" by
 * the kernel; each answer is looked at all the same (an unfiltered dump lists every link).
 */
static int has_vrf(void)
{
	struct {
		struct nlmsghdr nlh;
		struct ifinfomsg ifi;
		char attrs[32];
	} req = {
		.nlh = { .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			 .nlmsg_seq = 1 },
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK }, from;
	char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct rtattr *info, *kind;
	int fd, rc = 0;
	bool done = false;

	if (access("/sys/module", F_OK) == 0 && access("/sys/module/vrf", F_OK) && errno == ENOENT)
		return 0;
	info = (struct rtattr *)req.attrs;
	info->rta_type = IFLA_LINKINFO;
	kind = RTA_DATA(info);
	kind->rta_type = IFLA_INFO_KIND;
	kind->rta_len = RTA_LENGTH(4);
	memcpy(RTA_DATA(kind), "vrf", 4);
	info->rta_len = RTA_LENGTH(RTA_ALIGN(kind->rta_len));
	req.nlh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi)) + RTA_ALIGN(info->rta_len);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.nlh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		rc = -errno;
	while (!rc && !done) {
		ssize_t n;

		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		n = recvmsg(fd, &mh, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (mh.msg_flags & MSG_TRUNC)) {
			rc = n < 0 ? -errno : -EPROTO;
			break;
		}
		if (from.nl_pid != 0)
			continue; /* only the kernel's answers count */
		for (const struct nlmsghdr *nlh = (void *)buf; NLMSG_OK(nlh, n) && !rc && !done;
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != req.nlh.nlmsg_seq)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				rc = -EAGAIN; /* the links changed while it ran */
			else if (nlh->nlmsg_type == NLMSG_DONE) {
				int e = 0;

				/* a dump that failed part-way says so in its DONE */
				if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(e)))
					memcpy(&e, NLMSG_DATA(nlh), sizeof(e));
				rc = e < 0 ? e : 0;
				done = true;
			}
			else if (nlh->nlmsg_type == NLMSG_ERROR)
				rc = -EPROTO;
			else if (nlh->nlmsg_type == RTM_NEWLINK && is_vrf(nlh))
				rc = 1;
		}
	}
	close(fd);
	return rc;
}

/* A socket of family bound to port, unshared, and to no other port (a cgroup program of
 * another tool may rewrite it); -errno of what failed. */
static int bind_one(int family, int type, uint16_t port, int *out)
{
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} a;
	socklen_t alen;
	int fd, on = 1;

	memset(&a, 0, sizeof(a));
	if (family == AF_INET) {
		a.v4.sin_family = AF_INET;
		a.v4.sin_port = htons(port);
		alen = sizeof(a.v4);
	} else {
		a.v6.sin6_family = AF_INET6;
		a.v6.sin6_port = htons(port);
		alen = sizeof(a.v6);
	}
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if ((family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on))) ||
	    bind(fd, (struct sockaddr *)&a, alen)) {
		int err = -errno;

		close(fd);
		return err;
	}
	alen = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &alen) ||
	    ntohs(family == AF_INET ? a.v4.sin_port : a.v6.sin6_port) != port) {
		close(fd);
		return -EADDRNOTAVAIL; /* not the port asked: bind() told nothing of it */
	}
	*out = fd;
	return 0;
}

int portrsv_probe_hold(int proto, uint16_t start, uint16_t count, struct portrsv_probe *pr)
{
	int type = proto == PORTRSV_TCP ? SOCK_STREAM : SOCK_DGRAM;
	bool v6 = true;
	int err;

	pr->n = 0;
	if ((proto != PORTRSV_TCP && proto != PORTRSV_UDP) || !count ||
	    count > PORTRSV_PROBE_MAX || portrsv_faulting("probe-unsure"))
		return PORTRSV_PROBE_UNSURE;
	err = has_vrf();
	if (err)
		return PORTRSV_PROBE_UNSURE;
	for (uint32_t port = start; port < (uint32_t)start + count; port++) {
		err = bind_one(AF_INET, type, port, &pr->fds[pr->n]);
		if (!err)
			pr->n++;
		if (!err && v6) {
			err = bind_one(AF_INET6, type, port, &pr->fds[pr->n]);
			if (err == -EAFNOSUPPORT)
				v6 = false, err = 0; /* no IPv6 in this kernel: no socket has it */
			else if (!err)
				pr->n++;
		}
		if (err) {
			portrsv_probe_release(pr);
			if (err == -EADDRINUSE) {
				pr->busy = (uint16_t)port;
				return -EADDRINUSE;
			}
			return PORTRSV_PROBE_UNSURE;
		}
	}
	return 0;
}

bool portrsv_probe_sure(int proto)
{
	return proto == PORTRSV_TCP && has_vrf() == 0;
}

void portrsv_probe_release(struct portrsv_probe *pr)
{
	for (int i = 0; i < pr->n; i++)
		close(pr->fds[i]);
	pr->n = 0;
}
