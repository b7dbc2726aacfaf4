// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * why: every reason a bind of a port would fail or be surprising in a netns, one line per
 * finding (or one JSON document), from what portrsv_diagnose (diagnose.c) gathered. Text
 * from outside (comm, cgroup, owner, comment) is printed escaped. Never prints a token.
 * Exit 0 when it found a reason, PORTRSV_EXIT_NOTFOUND when the port is free.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "cli.h"

/* s escaped (escape.c) on stdout. */
static void put_esc(const char *s)
{
	size_t cap = 6 * strlen(s) + 1;
	char *buf = malloc(cap);

	if (!buf) {
		fputs("?", stdout);
		return;
	}
	portrsv_escape(s, buf, cap);
	fputs(buf, stdout);
	free(buf);
}

/* "127.0.0.1:8080", "[::1]:8080": how ss writes a local address. */
static void local_addr(const struct portrsv_holder *h, char *buf, size_t len)
{
	snprintf(buf, len, h->family == AF_INET6 ? "[%s]:%u" : "%s:%u", h->addr, h->port);
}

/* ---- text ---------------------------------------------------------------------------- */

static void text_reservation(const char *pre, const struct portrsv_why *w)
{
	const struct portrsv_why_resv *o = &w->resv;
	char block[BLOCK_LEN], rtblock[BLOCK_LEN], when[32], comm[17];

	block_name(o->r.start, o->r.count, block);
	printf("%s: reserved by portrsv: ", pre);
	if (o->kind == PORTRSV_WHY_RUNTIME) {
		iso8601(o->rt.created, -1, when, sizeof(when));
		comm_string(o->rt.comm, comm);
		printf("runtime reservation %s acquired by pid %u (",
		       block_name(o->rt.start, o->rt.count, rtblock), o->rt.pid);
		put_esc(comm);
		printf(") in ");
		put_esc(o->rt.cgroup[0] ? o->rt.cgroup : "(gone)");
		printf(" at %s, only its process may bind it, from pool %s", when, block);
	} else if (o->kind == PORTRSV_WHY_POOL) {
		printf("pool %s, only runtime reservations acquired from it may bind", block);
	} else {
		printf("persistent %s", block);
	}
	printf(" (%" PRIu64 " binds denied)", o->r.denied);
	if (o->has_owner) {
		printf(", owner ");
		put_esc(o->owner);
		if (!o->owner_present)
			printf(" (not present yet: refused to everyone)");
	}
	if (o->r.comment[0]) {
		printf(", comment: ");
		put_esc(o->r.comment);
	}
	iso8601(o->r.created, -1, when, sizeof(when));
	printf(", created %s", when);
	if (o->has_creator) {
		comm_string(o->creator.comm, comm);
		printf(" by uid %u (", o->creator.uid);
		put_esc(comm);
		printf(") in ");
		put_esc(o->creator.cgroup);
	}
	printf("\n");
	if (o->has_denial) {
		/* Who was refused: what an operator asks first when a service cannot bind. */
		boot_time(o->denial.ts_boot_ns, false, when, sizeof(when));
		comm_string(o->denial.comm, comm);
		printf("%s: last refused here at %s: pid %u (", pre, when, o->denial.pid);
		put_esc(comm);
		printf("), uid %u, ", o->denial.uid);
		put_esc(o->denial_cgroup[0] ? o->denial_cgroup : "(gone)");
		printf("; %" PRIu64 " bind%s of this port refused\n", (uint64_t)o->denial.count,
		       o->denial.count == 1 ? "" : "s");
	}
}

static void text_holder(const char *pre, const struct portrsv_holder *h)
{
	char local[64];

	local_addr(h, local, sizeof(local));
	printf("%s: in use by a %s socket %s of uid %u", pre, portrsv_sock_state_name(h->state),
	       local, h->uid);
	if (!h->nprocs)
		printf(", held by no process");
	for (size_t i = 0; i < h->nprocs; i++) {
		printf("%s pid %u (", i ? "," : ":", h->procs[i].pid);
		put_esc(h->procs[i].comm);
		printf(") in ");
		put_esc(h->procs[i].cgroup[0] ? h->procs[i].cgroup : "(gone)");
	}
	printf("\n");
}

static void text_other(const char *pre, const struct portrsv_reservation *r)
{
	char block[BLOCK_LEN], netns[NETNS_LEN];

	netns_label(r->netns_ino, r->netns_cookie, netns, sizeof(netns));
	printf("%s: reserved in another netns, ", pre);
	put_esc(netns);
	printf(": %s %s (not in force here)", r->flags & PORTRSV_F_POOL ? "pool" : "persistent",
	       block_name(r->start, r->count, block));
	if (r->comment[0]) {
		printf(", comment: ");
		put_esc(r->comment);
	}
	printf("\n");
}

static void print_text(const struct portrsv_why *w, const char *pre)
{
	if (w->reserved)
		text_reservation(pre, w);
	for (size_t i = 0; i < w->holders.n; i++)
		text_holder(pre, &w->holders.v[i]);
	if (w->reserved_ports == PORTRSV_WHY_SYSCTL_ADMIN)
		printf("%s: in ip_local_reserved_ports, the administrator's entry: autobind never "
		       "picks it, an explicit bind still may\n", pre);
	else if (w->reserved_ports == PORTRSV_WHY_SYSCTL_OTHER)
		printf("%s: in ip_local_reserved_ports, reserved by another portrsv instance "
		       "(another PORTRSV_PIN_DIR)\n", pre);
	if (w->port_range.autobind)
		printf("%s: inside ip_local_port_range %u-%u: autobind (bind to port 0, connect, "
		       "sendto) may hand it to any socket first\n", pre, w->port_range.lo,
		       w->port_range.hi);
	if (w->unpriv.below)
		printf("%s: below ip_unprivileged_port_start %u: only a process with "
		       "CAP_NET_BIND_SERVICE may bind it\n", pre, w->unpriv.value);
	for (size_t i = 0; i < w->nother; i++)
		text_other(pre, &w->other[i]);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static json_object *block_json(uint16_t start, uint16_t count)
{
	json_object *o = json_object_new_object();
	char block[BLOCK_LEN];

	jset(o, "start", jint(start));
	jset(o, "count", jint(count));
	jset(o, "end", jint(start + count - 1));
	jset(o, "block", jstr(block_name(start, count, block)));
	return o;
}

static json_object *resv_why_json(const struct portrsv_why_resv *o)
{
	json_object *j = block_json(o->r.start, o->r.count), *c;
	char when[32], comm[17];

	jset(j, "kind", jstr(portrsv_why_kind_name(o->kind)));
	jset(j, "persistent", jbool(o->r.flags & PORTRSV_F_PERSISTENT));
	jset(j, "owner", jstr(o->has_owner ? o->owner : NULL));
	jset(j, "owner_present", o->has_owner ? jbool(o->owner_present) : NULL);
	jset(j, "comment", jstr(o->r.comment));
	iso8601(o->r.created, -1, when, sizeof(when));
	jset(j, "created", jstr(when));
	jset(j, "denied", jint((int64_t)o->r.denied));
	c = NULL;
	if (o->has_creator) {
		c = json_object_new_object();
		comm_string(o->creator.comm, comm);
		jset(c, "uid", jint(o->creator.uid));
		jset(c, "comm", jstr(comm));
		jset(c, "cgroup", jstr(o->creator.cgroup));
	}
	jset(j, "creator", c);
	c = NULL;
	if (o->has_denial) {
		c = json_object_new_object();
		boot_time(o->denial.ts_boot_ns, true, when, sizeof(when));
		comm_string(o->denial.comm, comm);
		jset(c, "time", jstr(when));
		jset(c, "pid", jint(o->denial.pid));
		jset(c, "comm", jstr(comm));
		jset(c, "uid", jint(o->denial.uid));
		jset(c, "cgroup", jstr(o->denial_cgroup[0] ? o->denial_cgroup : NULL));
		jset(c, "count", jint((int64_t)o->denial.count));
	}
	jset(j, "last_denial", c);
	c = NULL;
	if (o->kind == PORTRSV_WHY_RUNTIME) {
		c = block_json(o->rt.start, o->rt.count);
		comm_string(o->rt.comm, comm);
		iso8601(o->rt.created, -1, when, sizeof(when));
		jset(c, "pid", jint(o->rt.pid));
		jset(c, "comm", jstr(comm));
		jset(c, "cgroup", jstr(o->rt.cgroup[0] ? o->rt.cgroup : NULL));
		jset(c, "created", jstr(when));
	}
	jset(j, "runtime", c);
	return j;
}

static json_object *holder_json(const struct portrsv_holder *h)
{
	json_object *j = json_object_new_object(), *procs = json_object_new_array();
	char local[64];

	local_addr(h, local, sizeof(local));
	jset(j, "state", jstr(portrsv_sock_state_name(h->state)));
	jset(j, "family", jstr(h->family == AF_INET6 ? "ipv6" : "ipv4"));
	jset(j, "address", jstr(h->addr));
	jset(j, "port", jint(h->port));
	jset(j, "local", jstr(local));
	jset(j, "uid", jint(h->uid));
	jset(j, "inode", jint((int64_t)h->ino));
	for (size_t i = 0; i < h->nprocs; i++) {
		json_object *p = json_object_new_object();

		jset(p, "pid", jint(h->procs[i].pid));
		jset(p, "comm", jstr(h->procs[i].comm));
		jset(p, "cgroup", jstr(h->procs[i].cgroup[0] ? h->procs[i].cgroup : NULL));
		json_object_array_add(procs, p);
	}
	jset(j, "processes", procs);
	return j;
}

static json_object *other_json(const struct portrsv_reservation *r)
{
	json_object *j = block_json(r->start, r->count);
	char netns[NETNS_LEN];

	netns_label(r->netns_ino, r->netns_cookie, netns, sizeof(netns));
	jset(j, "netns", jstr(netns));
	jset(j, "netns_ino", jint((int64_t)r->netns_ino));
	jset(j, "netns_cookie", jint((int64_t)r->netns_cookie));
	jset(j, "kind", jstr(r->flags & PORTRSV_F_POOL ? "pool" : "persistent"));
	jset(j, "comment", jstr(r->comment));
	return j;
}

static void print_json(const struct portrsv_why *w, const char *netns)
{
	json_object *j = json_object_new_object(), *a, *o;

	jset(j, "proto", jstr(portrsv_proto_name(w->proto)));
	jset(j, "port", jint(w->port));
	jset(j, "netns", jstr(netns));
	jset(j, "free", jbool(!w->reasons));
	jset(j, "reasons", jint(w->reasons));
	jset(j, "reservation", w->reserved ? resv_why_json(&w->resv) : NULL);
	a = json_object_new_array();
	for (size_t i = 0; i < w->holders.n; i++)
		json_object_array_add(a, holder_json(&w->holders.v[i]));
	jset(j, "holders", a);
	o = json_object_new_object();
	jset(o, "set", jbool(w->reserved_ports != PORTRSV_WHY_SYSCTL_CLEAR));
	jset(o, "by", w->reserved_ports == PORTRSV_WHY_SYSCTL_CLEAR
			      ? NULL : jstr(portrsv_why_sysctl_name(w->reserved_ports)));
	jset(j, "reserved_ports_sysctl", o);
	o = json_object_new_object();
	jset(o, "lo", jint(w->port_range.lo));
	jset(o, "hi", jint(w->port_range.hi));
	jset(o, "inside", jbool(w->port_range.inside));
	jset(o, "autobind", jbool(w->port_range.autobind));
	jset(j, "local_port_range", o);
	o = json_object_new_object();
	jset(o, "value", jint(w->unpriv.value));
	jset(o, "below", jbool(w->unpriv.below));
	jset(j, "unprivileged_port_start", o);
	a = json_object_new_array();
	for (size_t i = 0; i < w->nother; i++)
		json_object_array_add(a, other_json(&w->other[i]));
	jset(j, "other_netns", a);
	jprint(j);
}

int cmd_why(int argc, char **argv)
{
	char netns[NETNS_LEN], pre[64 + NETNS_LEN * 6];
	struct portrsv_why w;
	enum portrsv_proto proto;
	struct portrsv *p;
	uint16_t port;
	struct args a;
	int err;

	err = parse(argc, argv, 2, "PROTO PORT", O_NETNS O_JSON, &a);
	if (err || a.help)
		return err;
	err = parse_block(&a, &proto, &port, NULL);
	if (!err)
		err = check_netns(a.netns);
	if (err)
		return err;
	p = open_or_fail(&err);
	if (!p)
		return err;
	err = portrsv_diagnose(p, proto, port, a.netns, &w);
	portrsv_close(p);
	if (err) {
		portrsv_why_free(&w);
		if (a.netns && (err == -ENOENT || err == -EINVAL))
			return fail_path(err, "network namespace", a.netns); /* gone meanwhile */
		return fail(err, "%s %u", portrsv_proto_name(proto), port);
	}
	netns_label(w.netns_ino, w.netns_cookie, netns, sizeof(netns));
	if (a.netns) {
		char enetns[6 * NETNS_LEN];

		portrsv_escape(netns, enetns, sizeof(enetns));
		snprintf(pre, sizeof(pre), "%s %u in netns %s", portrsv_proto_name(proto), port,
			 enetns);
	} else {
		snprintf(pre, sizeof(pre), "%s %u", portrsv_proto_name(proto), port);
	}
	if (a.json)
		print_json(&w, netns);
	else
		print_text(&w, pre);
	if (!w.reasons)
		fprintf(stderr, "portrsv: why: %s is free: no reservation, socket or sysctl stands "
			"in the way of a bind\n", pre);
	err = w.reasons ? PORTRSV_EXIT_OK : PORTRSV_EXIT_NOTFOUND;
	portrsv_why_free(&w);
	return err;
}
