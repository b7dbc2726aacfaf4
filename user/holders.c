// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who holds a port: the sockets of the calling thread's netns that use it (sock_diag gives
 * each one's state, local address, uid and inode), and every process that has each socket
 * open, found the way `ss -p` finds them, by reading the links of /proc/PID/fd
 * ("socket:[INODE]"). A socket no process has open (TIME-WAIT, or one passed away and
 * closed) has no process.
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
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "internal.h"

struct want {
	uint16_t start, count;
	struct portrsv_holders *h;
};

/* A socket on a port of [start, start + count): one holder (a socket with an inode once,
 * however many passes list it; TIME-WAIT sockets have none and are each their own). */
static int add_holder(const struct inet_diag_msg *d, void *ctx)
{
	struct want *w = ctx;
	struct portrsv_holders *h = w->h;
	uint16_t port = ntohs(d->id.idiag_sport);
	struct portrsv_holder *nv, *n;

	if (port < w->start || port - w->start >= w->count)
		return 0;
	for (size_t i = 0; d->idiag_inode && i < h->n; i++)
		if (h->v[i].port == port && h->v[i].ino == d->idiag_inode)
			return 0;
	nv = realloc(h->v, (h->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	h->v = nv;
	n = &h->v[h->n++];
	*n = (struct portrsv_holder){ .port = port, .state = d->idiag_state,
				      .family = d->idiag_family, .uid = d->idiag_uid,
				      .ino = d->idiag_inode };
	if (!inet_ntop(d->idiag_family, d->id.idiag_src, n->addr, sizeof(n->addr)))
		snprintf(n->addr, sizeof(n->addr), "?");
	return 0;
}

/* The inode of an fd's link "socket:[INODE]"; 0 for anything else. */
static uint64_t socket_ino(const char *link)
{
	unsigned long long ino;
	char *end;

	if (strncmp(link, "socket:[", 8) || link[8] < '0' || link[8] > '9')
		return 0;
	errno = 0;
	ino = strtoull(link + 8, &end, 10);
	return errno || strcmp(end, "]") ? 0 : ino;
}

/* Process pid has holder o's socket open: once per process, however many fds it has. */
static int add_proc(struct portrsv_holder *o, uint32_t pid)
{
	struct portrsv_holder_proc *nv;

	for (size_t i = 0; i < o->nprocs; i++)
		if (o->procs[i].pid == pid)
			return 0;
	nv = realloc(o->procs, (o->nprocs + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	o->procs = nv;
	nv = &o->procs[o->nprocs++];
	memset(nv, 0, sizeof(*nv));
	nv->pid = pid;
	/* Gone meanwhile: its pid stays, comm and cgroup "" (unknown). */
	if (portrsv_proc_comm(pid, nv->comm))
		nv->comm[0] = '\0';
	if (portrsv_proc_cgroup(pid, nv->cgroup, sizeof(nv->cgroup)))
		nv->cgroup[0] = '\0';
	return 0;
}

/* Every process that has a holder's socket open, by /proc/PID/fd. */
static int find_processes(struct portrsv_holders *h)
{
	char path[320], link[64];
	struct dirent *pe, *fe;
	DIR *proc, *fds;
	bool any = false;
	int err = 0;

	for (size_t i = 0; i < h->n; i++)
		any |= h->v[i].ino != 0;
	proc = any ? opendir("/proc") : NULL;
	while (proc && !err && (pe = readdir(proc))) {
		uint32_t pid;

		if (!isdigit((unsigned char)pe->d_name[0]))
			continue;
		pid = (uint32_t)strtoul(pe->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		fds = opendir(path);
		while (fds && !err && (fe = readdir(fds))) {
			uint64_t ino;
			ssize_t k;

			snprintf(path, sizeof(path), "/proc/%s/fd/%.20s", pe->d_name, fe->d_name);
			k = readlink(path, link, sizeof(link) - 1);
			if (k <= 0)
				continue;
			link[k] = '\0';
			ino = socket_ino(link);
			for (size_t i = 0; ino && !err && i < h->n; i++)
				if (h->v[i].ino == ino)
					err = add_proc(&h->v[i], pid);
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
	return err;
}

int portrsv_port_holders(enum portrsv_proto proto, uint16_t start, uint16_t count,
			 struct portrsv_holders *h)
{
	static const uint32_t all[] = { PORTRSV_DIAG_ALL };
	struct want w = { .start = start, .count = count, .h = h };
	int rc;

	memset(h, 0, sizeof(*h));
	rc = portrsv_diag_each(proto, all, 1, add_holder, &w);
	if (!rc)
		rc = find_processes(h);
	if (rc)
		portrsv_holders_free(h);
	return rc;
}

void portrsv_holders_free(struct portrsv_holders *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].procs);
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

/* The kernel's TCP_NEW_SYN_RECV (a request socket), which <netinet/tcp.h> does not name. */
#define TCP_NEW_SYN_RECV (TCP_CLOSING + 1)

/* ss's names (misc/ss.c sstate_name); a request socket is a SYN-RECV to it. */
const char *portrsv_sock_state_name(uint8_t state)
{
	static const char *const names[] = {
		[TCP_ESTABLISHED] = "ESTAB",	  [TCP_SYN_SENT] = "SYN-SENT",
		[TCP_SYN_RECV] = "SYN-RECV",	  [TCP_FIN_WAIT1] = "FIN-WAIT-1",
		[TCP_FIN_WAIT2] = "FIN-WAIT-2",	  [TCP_TIME_WAIT] = "TIME-WAIT",
		[TCP_CLOSE] = "UNCONN",		  [TCP_CLOSE_WAIT] = "CLOSE-WAIT",
		[TCP_LAST_ACK] = "LAST-ACK",	  [TCP_LISTEN] = "LISTEN",
		[TCP_CLOSING] = "CLOSING",	  [TCP_NEW_SYN_RECV] = "SYN-RECV",
	};

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "UNKNOWN";
}

int portrsv_holder_format(const struct portrsv_holder *h, char *buf, size_t len)
{
	const struct portrsv_holder_proc *pr = h->nprocs ? &h->procs[0] : NULL;
	char comm[6 * PORTRSV_COMM_LEN + 1];

	if (!pr)
		return snprintf(buf, len, "no process (%s)", portrsv_sock_state_name(h->state));
	/* A comm is text from outside: escaped, no control character reaches a terminal. */
	portrsv_escape(pr->comm, comm, sizeof(comm));
	if (h->nprocs == 1)
		return snprintf(buf, len, "%s[%u] (%s)", comm, pr->pid,
				portrsv_sock_state_name(h->state));
	return snprintf(buf, len, "%s[%u] and %zu more process%s (%s)", comm, pr->pid,
			h->nprocs - 1, h->nprocs == 2 ? "" : "es", portrsv_sock_state_name(h->state));
}

