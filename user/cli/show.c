// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* show: the reservations, pools and runtime reservations, by protocol and port. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* One line of show: a reservation (persistent or pool), or a runtime reservation. */
struct row {
	const struct portrsv_reservation *r;   /* NULL for a runtime reservation */
	const struct portrsv_runtime_info *rt;
};

static int proto_of(const struct row *w)
{
	return w->r ? w->r->proto : w->rt->proto;
}

static int start_of(const struct row *w)
{
	return w->r ? w->r->start : w->rt->start;
}

static uint64_t cookie_of(const struct row *w)
{
	return w->r ? w->r->netns_cookie : w->rt->netns_cookie;
}

/* By protocol, then port; a runtime reservation right after its pool's line. */
static int by_port(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int sx = start_of(x), sy = start_of(y);

	if (proto_of(x) != proto_of(y))
		return proto_of(x) - proto_of(y);
	if (sx != sy)
		return sx - sy;
	if (!x->r != !y->r)
		return x->r ? -1 : 1; /* a pool before a runtime block at its first port */
	if (cookie_of(x) != cookie_of(y))
		return cookie_of(x) < cookie_of(y) ? -1 : 1;
	return 0;
}

static const char *kind_of(const struct portrsv_reservation *r)
{
	return r->flags & PORTRSV_F_POOL ? "pool" : "persistent";
}

/* What a persistent and a runtime reservation both have: the block and its token... */
static json_object *block_json(enum portrsv_proto proto, uint16_t start, uint16_t count,
			       uint64_t token)
{
	json_object *o = json_object_new_object();
	char tok[TOKEN_LEN];

	jset(o, "proto", jstr(portrsv_proto_name(proto)));
	jset(o, "start", jint(start));
	jset(o, "count", jint(count));
	jset(o, "end", jint(start + count - 1));
	jset(o, "token", jstr(token_string(token, tok)));
	return o;
}

/* ... and its netns, by name, inode and cookie. */
static void netns_json(json_object *o, uint64_t ino, uint64_t cookie)
{
	char netns[NETNS_LEN];

	netns_label(ino, cookie, netns, sizeof(netns));
	jset(o, "netns", jstr(netns));
	jset(o, "netns_ino", jint((int64_t)ino));
	jset(o, "netns_cookie", jint((int64_t)cookie));
}

json_object *resv_json(struct portrsv *p, const struct portrsv_reservation *r)
{
	json_object *o = block_json(r->proto, r->start, r->count, r->token);
	char owner[PATH_MAX], when[32];
	bool present;

	owner_path(p, r, owner, sizeof(owner), &present);
	iso8601(r->created, -1, when, sizeof(when));
	jset(o, "owner", jstr(owner[0] ? owner : NULL));
	if (owner[0])
		jset(o, "owner_present", jbool(present));
	netns_json(o, r->netns_ino, r->netns_cookie);
	jset(o, "comment", jstr(r->comment));
	jset(o, "created", jstr(when));
	jset(o, "denied", jint((int64_t)r->denied));
	jset(o, "persistent", jbool(r->flags & PORTRSV_F_PERSISTENT));
	jset(o, "kind", jstr(kind_of(r)));
	if (r->flags & PORTRSV_F_POOL) {
		struct portrsv_pool_info pi = { 0 };

		portrsv_pool_info(p, r, &pi);
		jset(o, "limit", pi.limit ? jint(pi.limit) : NULL);
		jset(o, "in_use", jint(pi.in_use));
		jset(o, "runtime", jint(pi.runtime));
	}
	return o;
}

static json_object *runtime_json(const struct portrsv_runtime_info *rt)
{
	json_object *o = block_json(rt->proto, rt->start, rt->count, rt->token);
	char comm[17], cg[PATH_MAX], when[32];

	comm_string(rt->comm, comm);
	cgroup_label(rt->cgid, cg, sizeof(cg));
	iso8601(rt->created, -1, when, sizeof(when));
	jset(o, "owner", NULL);
	netns_json(o, rt->netns_ino, rt->netns_cookie);
	jset(o, "comment", jstr(""));
	jset(o, "created", jstr(when));
	jset(o, "denied", jint(0));
	jset(o, "persistent", jbool(false));
	jset(o, "kind", jstr("runtime"));
	jset(o, "pool", jint(rt->pool));
	jset(o, "pid", jint(rt->pid));
	jset(o, "comm", jstr(comm));
	jset(o, "cgroup", jstr(cg));
	return o;
}

/* The "Kind" column's detail: a pool's limit and use, a runtime reservation's acquirer. */
static void detail(struct portrsv *p, const struct row *w, char *buf, size_t len)
{
	char comm[17], ecomm[6 * 17], cg[PATH_MAX], ecg[4 * PATH_MAX];
	struct portrsv_pool_info pi = { 0 };

	buf[0] = '\0';
	if (w->rt) {
		comm_string(w->rt->comm, comm);
		portrsv_escape(comm, ecomm, sizeof(ecomm));
		cgroup_label(w->rt->cgid, cg, sizeof(cg));
		portrsv_escape(cg, ecg, sizeof(ecg));
		snprintf(buf, len, "pid %u (%s) in %s, pool %u", w->rt->pid, ecomm, ecg,
			 w->rt->pool);
	} else if (w->r->flags & PORTRSV_F_POOL) {
		portrsv_pool_info(p, w->r, &pi);
		if (pi.limit)
			snprintf(buf, len, "limit %u per cgroup, %u in use", pi.limit, pi.in_use);
		else
			snprintf(buf, len, "uid 0 only, %u in use", pi.in_use);
	}
}

/* Like `netsh int ipv4 show excludedportrange`, one section per protocol. */
static void show_table(struct portrsv *p, const struct row *rows, size_t n,
		       enum portrsv_proto proto)
{
	static const enum portrsv_proto protos[] = { PORTRSV_TCP, PORTRSV_UDP };

	for (size_t j = 0; j < 2; j++) {
		if (proto && protos[j] != proto)
			continue;
		printf("\nProtocol %s Port Exclusion Ranges\n\n", portrsv_proto_name(protos[j]));
		printf("Start Port    End Port    Token                 Denied  Netns               "
		       "Kind        Owner                 Comment\n");
		printf("----------    --------    ------------------    ------  ------------------  "
		       "----------  --------------------  --------------------\n");
		for (size_t i = 0; i < n; i++) {
			const struct row *w = &rows[i];
			char owner[PATH_MAX] = "", eowner[4 * PATH_MAX], netns[NETNS_LEN],
				enetns[4 * NETNS_LEN], ecomment[6 * PORTRSV_COMMENT_LEN] = "",
				more[5 * PATH_MAX], tok[TOKEN_LEN];
			bool present = true;

			if (proto_of(w) != (int)protos[j])
				continue;
			if (w->r) {
				owner_path(p, w->r, owner, sizeof(owner), &present);
				portrsv_escape(w->r->comment, ecomment, sizeof(ecomment));
				netns_label(w->r->netns_ino, w->r->netns_cookie, netns, sizeof(netns));
			} else {
				netns_label(w->rt->netns_ino, w->rt->netns_cookie, netns,
					    sizeof(netns));
			}
			portrsv_escape(owner, eowner, sizeof(eowner));
			portrsv_escape(netns, enetns, sizeof(enetns));
			if (owner[0] && !present)
				strcat(eowner, " (not present yet)");
			detail(p, w, more, sizeof(more));
			printf("%10u  %10u    %s  %6" PRIu64 "  %-18s  %-10s  %-20s  %s%s%s\n",
			       start_of(w), start_of(w) + (w->r ? w->r->count : w->rt->count) - 1,
			       token_string(w->r ? w->r->token : w->rt->token, tok),
			       w->r ? w->r->denied : 0, enetns,
			       w->r ? kind_of(w->r) : "runtime", eowner[0] ? eowner : "-",
			       ecomment, ecomment[0] && more[0] ? "; " : "", more);
		}
		printf("\n");
	}
}

int cmd_show(int argc, char **argv)
{
	struct portrsv_reservation *v = NULL;
	struct portrsv_runtime_info *rt = NULL;
	enum portrsv_proto proto = 0;
	struct row *rows = NULL;
	struct portrsv *p;
	size_t nrows = 0;
	int err, n, nrt = 0;
	struct args a;

	err = parse(argc, argv, 0, "PROTO", O_JSON, &a);
	if (err || a.help)
		return err;
	if (a.npos && portrsv_parse_proto(a.pos[0], &proto))
		return usage_error("protocol '%s' is not tcp or udp", a.pos[0]);
	p = open_or_fail(&err);
	if (!p)
		return err;
	n = portrsv_list(p, &v);
	if (n >= 0)
		nrt = portrsv_list_runtime(p, &rt);
	if (n >= 0 && nrt >= 0 && !(rows = calloc((size_t)n + nrt + 1, sizeof(*rows))))
		nrt = -ENOMEM;
	if (n < 0 || nrt < 0) {
		portrsv_close(p);
		free(v);
		free(rt);
		return fail(n < 0 ? n : nrt, "%s", portrsv_pin_dir(NULL));
	}
	for (int i = 0; i < n; i++)
		if (!proto || v[i].proto == proto)
			rows[nrows++].r = &v[i];
	for (int i = 0; i < nrt; i++)
		if (!proto || rt[i].proto == proto)
			rows[nrows++].rt = &rt[i];
	qsort(rows, nrows, sizeof(*rows), by_port);
	if (a.json) {
		json_object *arr = json_object_new_array();

		for (size_t i = 0; i < nrows; i++)
			json_object_array_add(arr, rows[i].r ? resv_json(p, rows[i].r)
							     : runtime_json(rows[i].rt));
		jprint(arr);
	} else {
		show_table(p, rows, nrows, proto);
	}
	portrsv_close(p);
	free(rows);
	free(v);
	free(rt);
	return 0;
}
