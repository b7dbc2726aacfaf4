// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who holds a port: the sockets of the calling thread's netns that use it (sock_diag gives
 * each one's inode), and the process that has each socket open, found the way `ss -p` finds
 * it, by reading the links of /proc/PID/fd ("socket:[INODE]"). A socket no process has open
 * (TIME_WAIT, or one passed away and closed) is reported with pid 0.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "internal.h"

#define DIAG_BUF (32 * 1024) /* no dump skb is larger */

static int add_holder(struct portrsv_holders *h, uint16_t port, uint64_t ino)
{
	struct portrsv_holder *nv;

	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].port == port && h->v[i].ino == ino)
			return 0; /* a dual-stack socket is in both dumps */
	nv = realloc(h->v, (h->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	h->v = nv;
	h->v[h->n++] = (struct portrsv_holder){ .port = port, .ino = ino };
	return 0;
}

/* One dump of (family, proto); the sockets on a port of [start, start + count). */
static int dump(int fd, uint8_t family, uint8_t proto, uint32_t seq, uint16_t start,
		uint16_t count, struct portrsv_holders *h, void *buf)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = seq },
		.req = { .sdiag_family = family, .sdiag_protocol = proto, .idiag_states = ~0U },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK }, from;
	struct iovec iov = { .iov_base = buf, .iov_len = DIAG_BUF };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	const struct inet_diag_msg *d;
	const struct nlmsghdr *nlh;
	ssize_t n;
	int rc;

	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		n = recvmsg(fd, &mh, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (mh.msg_flags & MSG_TRUNC))
			return n < 0 ? -errno : -EPROTO;
		if (from.nl_pid != 0)
			continue;
		for (nlh = buf; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
			uint16_t port;

			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_DONE)
				return 0;
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
			if (port >= start && port - start < count &&
			    (rc = add_holder(h, port, d->idiag_inode)))
				return rc;
		}
	}
}

/* The pid and command of the process that has socket inode ino open, by /proc/PID/fd. */
static void find_processes(struct portrsv_holders *h)
{
	char path[320], link[64], want[40];
	struct dirent *pe, *fe;
	DIR *proc, *fds;
	size_t left = 0;

	for (size_t i = 0; i < h->n; i++)
		left += h->v[i].ino != 0;
	proc = left ? opendir("/proc") : NULL;
	while (proc && left && (pe = readdir(proc))) {
		if (!isdigit((unsigned char)pe->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		fds = opendir(path);
		while (fds && left && (fe = readdir(fds))) {
			ssize_t k;

			snprintf(path, sizeof(path), "/proc/%s/fd/%.20s", pe->d_name, fe->d_name);
			k = readlink(path, link, sizeof(link) - 1);
			if (k <= 0)
				continue;
			link[k] = '\0';
			for (size_t i = 0; i < h->n; i++) {
				if (h->v[i].pid || !h->v[i].ino)
					continue;
				snprintf(want, sizeof(want), "socket:[%" PRIu64 "]", h->v[i].ino);
				if (strcmp(link, want))
					continue;
				h->v[i].pid = (uint32_t)strtoul(pe->d_name, NULL, 10);
				left--;
			}
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
	for (size_t i = 0; i < h->n; i++) {
		FILE *f;

		if (!h->v[i].pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%u/comm", h->v[i].pid);
		f = fopen(path, "re");
		if (f && fgets(h->v[i].comm, sizeof(h->v[i].comm), f))
			h->v[i].comm[strcspn(h->v[i].comm, "\n")] = '\0';
		if (f)
			fclose(f);
	}
}

int portrsv_port_holders(enum portrsv_proto proto, uint16_t start, uint16_t count,
			 struct portrsv_holders *h)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	void *buf;
	int fd, rc = 0;

	memset(h, 0, sizeof(*h));
	if (proto != PORTRSV_TCP && proto != PORTRSV_UDP)
		return -EINVAL;
	buf = malloc(DIAG_BUF);
	if (!buf)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		rc = -errno;
	for (size_t i = 0; i < sizeof(families) && !rc; i++)
		rc = dump(fd, families[i], proto == PORTRSV_TCP ? IPPROTO_TCP : IPPROTO_UDP,
			  (uint32_t)i + 1, start, count, h, buf);
	if (fd >= 0)
		close(fd);
	free(buf);
	if (rc) {
		portrsv_holders_free(h);
		return rc;
	}
	find_processes(h);
	return 0;
}

void portrsv_holders_free(struct portrsv_holders *h)
{
	free(h->v);
	h->v = NULL;
	h->n = 0;
}
