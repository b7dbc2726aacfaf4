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

struct want {
	uint16_t start, count;
	struct portrsv_holders *h;
};

/* A socket on a port of [start, start + count): one holder (once: dual-stack sockets are in
 * both families' dumps). */
static int add_holder(const struct inet_diag_msg *d, void *ctx)
{
	struct want *w = ctx;
	struct portrsv_holders *h = w->h;
	uint16_t port = ntohs(d->id.idiag_sport);
	struct portrsv_holder *nv;

	if (port < w->start || port - w->start >= w->count)
		return 0;
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].port == port && h->v[i].ino == d->idiag_inode)
			return 0;
	nv = realloc(h->v, (h->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	h->v = nv;
	h->v[h->n++] = (struct portrsv_holder){ .port = port, .ino = d->idiag_inode };
	return 0;
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
	static const uint32_t all[] = { PORTRSV_DIAG_ALL };
	struct want w = { .start = start, .count = count, .h = h };
	int rc;

	memset(h, 0, sizeof(*h));
	rc = portrsv_diag_each(proto, all, 1, add_holder, &w);
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
