// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * "Why can't this bind?" (SPEC "Diagnosis"): every reason a bind of (proto, port) would fail
 * or be surprising in one netns, gathered into one struct that `portrsv why` prints as text
 * and as JSON. Everything is looked at from inside that netns, on this thread: the
 * reservation (portrsv_query), the sockets (sock_diag), and the sysctls of net.ipv4, which
 * /proc/sys shows for the netns of the thread that opens them.
 *
 * The reasons, and why each is one:
 *   - a portrsv reservation (persistent, pool or runtime): binds are refused (EACCES);
 *   - a socket on the port, in any state (TIME-WAIT included): bind fails with EADDRINUSE
 *     unless the binder and the holder share it (SO_REUSEADDR / SO_REUSEPORT);
 *   - the administrator's bit in ip_local_reserved_ports, or another portrsv instance's:
 *     the kernel never hands the port to autobind (this instance's own bit is no reason of
 *     its own: its reservation is);
 *   - the port in ip_local_port_range, not reserved: autobind may hand it to anyone first;
 *   - the port below ip_unprivileged_port_start: only CAP_NET_BIND_SERVICE binds it;
 *   - a reservation of the port in another netns: not in force here, which is what an
 *     operator asking about the wrong netns needs to hear.
 * Tokens are secrets: none is kept in the result.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

#define NPORTS (PORTRSV_PORT_MAX + 1)

static bool bit(const unsigned char *bits, unsigned p)
{
	return bits[p / 8] & (1 << (p % 8));
}

const char *portrsv_why_kind_name(enum portrsv_why_kind k)
{
	switch (k) {
	case PORTRSV_WHY_PERSISTENT:
		return "persistent";
	case PORTRSV_WHY_POOL:
		return "pool";
	case PORTRSV_WHY_RUNTIME:
		return "runtime";
	}
	return "?";
}

const char *portrsv_why_sysctl_name(enum portrsv_why_sysctl s)
{
	switch (s) {
	case PORTRSV_WHY_SYSCTL_CLEAR:
		return "clear";
	case PORTRSV_WHY_SYSCTL_OURS:
		return "portrsv";
	case PORTRSV_WHY_SYSCTL_ADMIN:
		return "admin";
	case PORTRSV_WHY_SYSCTL_OTHER:
		return "other-instance";
	}
	return "?";
}

/*
 * The path of cgroup cgid below the cgroup v2 root, as /proc/PID/cgroup names it (the way
 * the holders' and the creator's cgroups are named): "" when it is gone.
 */
static void cgroup_rel(uint64_t cgid, char *buf, size_t len)
{
	char mnt[PATH_MAX];
	size_t m;

	if (portrsv_cgroup_path(cgid, buf, len) || portrsv_cgroup2_mount(mnt, sizeof(mnt))) {
		buf[0] = '\0';
		return;
	}
	m = strcmp(mnt, "/") ? strlen(mnt) : 0;
	if (!m || strncmp(buf, mnt, m))
		return;
	if (!buf[m])
		snprintf(buf, len, "/"); /* the root itself */
	else if (buf[m] == '/')
		memmove(buf, buf + m, strlen(buf + m) + 1);
}

/* Numbers of a /proc/sys file of this thread's netns ("32768\t60999\n"): how many were read. */
static int sysctl_numbers(const char *name, uint32_t *v, int n)
{
	char path[128], buf[128], *s = buf, *end;
	ssize_t len;
	int i;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/%s", name);
	len = portrsv_proc_read(path, buf, sizeof(buf));
	if (len < 0) {
		portrsv_set_errmsg("%s: %s", path, strerror((int)-len));
		return (int)len;
	}
	for (i = 0; i < n; i++) {
		unsigned long x;

		errno = 0;
		x = strtoul(s, &end, 10);
		if (end == s || errno || x > UINT32_MAX)
			break;
		v[i] = (uint32_t)x;
		s = end;
	}
	if (i < n) {
		portrsv_set_errmsg("%s: not %d number%s", path, n, n == 1 ? "" : "s");
		return -EINVAL;
	}
	return 0;
}

/* The runtime reservation of netns covering the port, if pool r has one. */
static int find_runtime(struct portrsv *p, struct portrsv_why *w)
{
	struct portrsv_why_resv *o = &w->resv;
	struct portrsv_runtime_info *rt = NULL;
	int n = portrsv_list_runtime(p, &rt);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (rt[i].netns_cookie != w->netns_cookie || (int)rt[i].proto != (int)w->proto ||
		    rt[i].pool != o->r.start || w->port < rt[i].start ||
		    w->port - rt[i].start >= rt[i].count)
			continue;
		o->kind = PORTRSV_WHY_RUNTIME;
		o->rt.start = rt[i].start;
		o->rt.count = rt[i].count;
		o->rt.pid = rt[i].pid;
		memcpy(o->rt.comm, rt[i].comm, sizeof(o->rt.comm));
		o->rt.comm[sizeof(o->rt.comm) - 1] = '\0';
		o->rt.cgid = rt[i].cgid;
		cgroup_rel(rt[i].cgid, o->rt.cgroup, sizeof(o->rt.cgroup));
		o->rt.created = rt[i].created;
		break;
	}
	for (int i = 0; i < n; i++)
		rt[i].token = 0;
	free(rt);
	return 0;
}

/* 1. The reservation of this instance covering the port in the thread's netns. */
static int reservation(struct portrsv *p, struct portrsv_why *w)
{
	struct portrsv_why_resv *o = &w->resv;
	char now[PATH_MAX];
	int err;

	err = portrsv_query(p, w->proto, w->port, NULL, &o->r);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	w->reserved = true;
	o->kind = o->r.flags & PORTRSV_F_POOL ? PORTRSV_WHY_POOL : PORTRSV_WHY_PERSISTENT;
	if (o->kind == PORTRSV_WHY_POOL) {
		err = find_runtime(p, w);
		if (err)
			goto out;
	}
	err = portrsv_owner_path(p, &o->r, o->owner, sizeof(o->owner));
	if (!err) {
		o->has_owner = true;
		o->owner_present = o->r.owner_cgid &&
				   !portrsv_cgroup_path(o->r.owner_cgid, now, sizeof(now));
	} else if (err != -ENOENT) {
		goto out;
	}
	o->creator.sz = sizeof(o->creator);
	err = portrsv_creator(p, &o->r, &o->creator);
	if (!err)
		o->has_creator = true;
	else if (err != -ENOENT)
		goto out;
	/* The denials map is newer than some pins: none remembered there either. */
	err = portrsv_last_denial(p, w->proto, w->port, NULL, &o->denial);
	if (!err) {
		o->has_denial = true;
		cgroup_rel(o->denial.cgid, o->denial_cgroup, sizeof(o->denial_cgroup));
	} else if (err != -ENOENT && err != -PORTRSV_ENOTLOADED) {
		goto out;
	}
	err = 0;
	w->reasons++;
out:
	o->r.token = 0; /* a secret: the lookups above needed it, nothing after them does */
	return err;
}

/* 3. Whose bit the port is in ip_local_reserved_ports (protocol-blind, like the sysctl). */
static int reserved_ports(struct portrsv *p, struct portrsv_why *w)
{
	static const int protos[] = { PORTRSV_TCP, PORTRSV_UDP };
	unsigned char *bits, *held = NULL, *admin = NULL;
	bool ours = false, theirs_admin = false;
	int err;

	bits = malloc(3 * (NPORTS / 8));
	if (!bits)
		return -ENOMEM;
	held = bits + NPORTS / 8;
	admin = held + NPORTS / 8;
	err = portrsv_sysctl_read(bits);
	if (err) {
		portrsv_set_errmsg("/proc/sys/" PORTRSV_SYSCTL_NAME ": %s", strerror(-err));
		goto out;
	}
	w->reserved_ports = PORTRSV_WHY_SYSCTL_CLEAR;
	if (!bit(bits, w->port))
		goto out;
	/* This instance's entry says whether it put the bit there or found it there. */
	for (size_t i = 0; i < 2; i++) {
		struct portrsv_key k;
		struct portrsv_port v;

		memset(&k, 0, sizeof(k));
		k.netns = w->netns_cookie;
		k.proto = protos[i];
		k.port = w->port;
		if (bpf_map_lookup_elem(p->ports_fd, &k, &v))
			continue;
		if (v.flags & PORTRSV_PORT_ADMIN)
			theirs_admin = true;
		else
			ours = true;
	}
	if (theirs_admin) {
		w->reserved_ports = PORTRSV_WHY_SYSCTL_ADMIN;
	} else if (ours) {
		w->reserved_ports = PORTRSV_WHY_SYSCTL_OURS;
	} else {
		err = portrsv_guard_others(p, w->netns_cookie, held, admin);
		if (err) {
			portrsv_set_errmsg("the sysctl guards of other portrsv instances: %s",
					   strerror(-err));
			goto out;
		}
		w->reserved_ports = bit(held, w->port) && !bit(admin, w->port)
					    ? PORTRSV_WHY_SYSCTL_OTHER
					    : PORTRSV_WHY_SYSCTL_ADMIN;
	}
	if (w->reserved_ports != PORTRSV_WHY_SYSCTL_OURS)
		w->reasons++;
out:
	free(bits);
	return err;
}

/* 4. ip_local_port_range and ip_unprivileged_port_start of the thread's netns. */
static int port_sysctls(struct portrsv_why *w)
{
	uint32_t range[2];
	int err;

	err = sysctl_numbers("ip_local_port_range", range, 2);
	if (!err)
		err = sysctl_numbers("ip_unprivileged_port_start", &w->unpriv.value, 1);
	if (err)
		return err;
	w->port_range.lo = range[0];
	w->port_range.hi = range[1];
	w->port_range.inside = w->port >= range[0] && w->port <= range[1];
	/* A reserved bit keeps autobind off it, whoever set it. */
	w->port_range.autobind = w->port_range.inside &&
				 w->reserved_ports == PORTRSV_WHY_SYSCTL_CLEAR;
	w->unpriv.below = w->port < w->unpriv.value;
	w->reasons += w->port_range.autobind + w->unpriv.below;
	return 0;
}

/* 5. Reservations of the port in every other netns (the same proto). */
static int other_netns(struct portrsv *p, struct portrsv_why *w)
{
	struct portrsv_reservation *v = NULL;
	int n = portrsv_list(p, &v);
	size_t k = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		v[i].token = 0;
		if (v[i].netns_cookie == w->netns_cookie || (int)v[i].proto != (int)w->proto ||
		    w->port < v[i].start || w->port - v[i].start >= v[i].count)
			continue;
		v[k++] = v[i];
	}
	for (size_t i = k; i < (size_t)n; i++)
		memset(&v[i], 0, sizeof(v[i]));
	if (!k) {
		free(v);
		v = NULL;
	}
	w->other = v;
	w->nother = k;
	w->reasons += k;
	return 0;
}

int portrsv_diagnose(struct portrsv *p, enum portrsv_proto proto, uint16_t port,
		     const char *netns, struct portrsv_why *w)
{
	int saved = -1, err;

	portrsv_set_errmsg(NULL);
	if (!w)
		return portrsv_fail(-EINVAL, "w is NULL");
	memset(w, 0, sizeof(*w));
	if (!p)
		return portrsv_fail(-EINVAL, "the handle is NULL");
	err = portrsv_check_proto(proto);
	if (!err)
		err = portrsv_check_block(port, 1);
	if (err)
		return err;
	w->proto = proto;
	w->port = port;
	err = portrsv_netns_enter_arg(netns, &saved);
	if (err)
		return err;
	err = portrsv_netns_self(&w->netns_cookie, &w->netns_ino);
	if (!err)
		err = reservation(p, w);
	if (!err) {
		err = portrsv_port_holders(proto, port, 1, &w->holders);
		if (err)
			portrsv_set_errmsg("sock_diag: %s", strerror(-err));
		w->reasons += w->holders.n;
	}
	if (!err)
		err = reserved_ports(p, w);
	if (!err)
		err = port_sysctls(w);
	if (!err)
		err = other_netns(p, w);
	portrsv_netns_leave(saved);
	return err;
}

void portrsv_why_free(struct portrsv_why *w)
{
	if (!w)
		return;
	portrsv_holders_free(&w->holders);
	free(w->other);
	w->other = NULL;
	w->nother = 0;
}
