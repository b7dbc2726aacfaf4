// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The store meets the kernel: load, restore, attach and detach, each under the store's lock.
 *
 * The store is the truth for persistent reservations. Every change writes it durably and
 * changes the kernel in the order that leaves, after a crash at any point, at most an extra
 * reservation in the kernel that the store does not have (lib.c). Applying the store
 * (load, restore) therefore makes the kernel equal to it: stored reservations missing from
 * the kernel are added with their stored tokens, kernel ones the store lacks are removed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "store.h"

static const char *ns_label(const struct portrsv_store_entry *e);

/* A block as every message writes it (portrsv_block_format), into b (16 bytes). */
#define BLOCK_LEN 16
static const char *blk(uint16_t start, uint16_t count, char *b)
{
	portrsv_block_format(start, count, b, BLOCK_LEN);
	return b;
}

struct applier {
	struct portrsv *p;
	portrsv_report_fn report;
	void *ctx;
	int skipped;
	int settle;     /* waits left for a /run/netns/NAME that ip netns add is still mounting */
};

static void vreport(struct applier *a, const char *fmt, va_list ap)
{
	char msg[PATH_MAX + 256];

	if (!a->report)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	a->report(msg, a->ctx);
}

static void skip(struct applier *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void skip(struct applier *a, const char *fmt, ...)
{
	va_list ap;

	a->skipped++;
	va_start(ap, fmt);
	vreport(a, fmt, ap);
	va_end(ap);
}

/*
 * A note is no failure: what was applied and what the operator should know about it. What
 * waits for the world to catch up (an owner cgroup or a named netns not made yet: applied,
 * or applied by the restore portrsv-netns.path runs when it appears), what has nothing left
 * to enforce (an unnamed netns gone for good, for `portrsv gc`), ports in use.
 */
static void note(struct applier *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct applier *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(a, fmt, ap);
	va_end(ap);
}

/*
 * A block applied over ports in use (rule 7): who holds them, one line for the block. Runs in
 * the block's netns.
 */
static void note_busy(struct applier *a, const struct portrsv_store_entry *e)
{
	char line[1024], b[BLOCK_LEN];
	struct portrsv_holders h;
	size_t len = 0;
	int err = portrsv_port_holders(e->proto, e->start, e->count, &h);

	line[0] = '\0';
	for (size_t i = 0; !err && i < h.n && len < sizeof(line) - 128; i++) {
		char who[6 * PORTRSV_COMM_LEN + 96];

		portrsv_holder_format(&h.v[i], who, sizeof(who));
		len += snprintf(line + len, sizeof(line) - len, "%s%u by %s", i ? ", " : "",
				h.v[i].port, who);
	}
	note(a, "applied %s %s in netns %s over ports in use (their sockets keep them, "
	     "everyone else is refused): %s", portrsv_proto_name(e->proto),
	     blk(e->start, e->count, b), ns_label(e),
	     err ? strerror(-err) : h.n ? line : "sockets gone since");
	if (!err)
		portrsv_holders_free(&h);
}

/* A stored reservation resolved against this boot: its netns cookie and owner slot. */
struct resolved {
	uint64_t netns;
	uint32_t owner; /* slot in portrsv_owners */
	bool ok;       /* the netns exists and the owner has a slot */
	bool present;  /* the kernel has it exactly */
	bool reported; /* a failure of it was reported (and counted): never a second line */
	char *owner_why; /* its owner cannot be followed: why (reported by add_netns) */
};

static const char *ns_label(const struct portrsv_store_entry *e)
{
	return e->netns ? e->netns : "host";
}

static void resolve(struct applier *a, const struct portrsv_store_entry *e, struct resolved *r)
{
	char b[BLOCK_LEN];
	uint64_t ino, cookie;
	bool has_cookie;
	int err, saved;

	err = portrsv_netns_enter_name(e->netns, &saved);
	/* ip netns add makes the file, then mounts the netns on it: the path unit's restore
	 * runs in between, and no later event comes. A short wait, bounded for the whole run. */
	while (err == -ENOENT && portrsv_netns_run_name(e->netns) && a->settle > 0 &&
	       !access(e->netns, F_OK)) {
		a->settle--;
		usleep(50 * 1000);
		err = portrsv_netns_enter_name(e->netns, &saved);
	}
	if (!err) {
		err = portrsv_netns_self(&r->netns, NULL);
		portrsv_netns_leave(saved);
	}
	if (err == -ENOENT && portrsv_netns_run_name(e->netns)) {
		note(a, "waiting: %s %s: netns %s not present yet", portrsv_proto_name(e->proto),
		     blk(e->start, e->count, b), portrsv_netns_run_name(e->netns));
		return;
	}
	if (err == -ENOENT && !portrsv_netns_parse_ino(e->netns, &ino, &cookie, &has_cookie)) {
		note(a, "not applied: %s %s: netns %s is gone for good (portrsv gc drops it)",
		     portrsv_proto_name(e->proto), blk(e->start, e->count, b), e->netns);
		return;
	}
	if (err) {
		skip(a, "skipped %s %s: netns %s: %s", portrsv_proto_name(e->proto),
		     blk(e->start, e->count, b), ns_label(e), strerror(-err));
		return;
	}
	if (e->owner) {
		bool present;

		err = portrsv_owner_slot(a->p, e->owner, &r->owner, &present);
		if (err) {
			/* Fail closed: applied with no owner at all, refused to everyone; a
			 * failure all the same, the operator must fix the path (status says).
			 * Reported once the apply is known (add_netns): one line whatever
			 * else goes wrong with the reservation. */
			r->owner_why = strdup(portrsv_errmsg()[0] ? portrsv_errmsg()
							   : portrsv_strerror(err));
			r->owner = 0;
			present = true;
		}
		/* Fail closed: in force for everyone until the owner is made (the tracepoint). */
		if (!present)
			note(a, "waiting: %s %s: owner %s not present yet (the block is refused "
				"to everyone until it appears)", portrsv_proto_name(e->proto),
				blk(e->start, e->count, b), e->owner);
	}
	r->ok = true;
}

struct kresv {
	struct portrsv_key k;
	struct portrsv_resv r;
};

/* The kernel's persistent reservations, copied: we delete while we decide. */
static int kernel_persistent(struct portrsv *p, struct kresv **out)
{
	struct portrsv_key k, next;
	struct kresv *v = NULL, *nv;
	size_t n = 0;
	int err;

	for (err = bpf_map_get_next_key(p->resv_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->resv_fd, &k, &next)) {
		struct portrsv_resv r;

		k = next;
		if (bpf_map_lookup_elem(p->resv_fd, &k, &r) || !(r.flags & PORTRSV_F_PERSISTENT))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = (struct kresv){ .k = k, .r = r };
	}
	if (err != -ENOENT) {
		free(v);
		return err;
	}
	*out = v;
	return (int)n;
}

/*
 * Does every port of a kernel reservation have its entry? A crash between the unpinning of
 * two maps (unload) leaves maps that a later load pins again beside fresh ones: a
 * reservation without its ports refuses nothing, and must be made again, not kept.
 */
static bool ports_whole(struct portrsv *p, const struct kresv *x)
{
	for (uint32_t port = x->k.port; port < (uint32_t)x->k.port + x->r.count; port++) {
		struct portrsv_key k = x->k;
		struct portrsv_port pv;

		k.port = port;
		if (bpf_map_lookup_elem(p->ports_fd, &k, &pv) || pv.start != x->k.port)
			return false;
	}
	return true;
}

/* Remove a kernel reservation the store does not have, in its netns when we know one. */
static void remove_extra(struct applier *a, const struct portrsv_store *s,
			 const struct resolved *rs, struct kresv *x)
{
	int saved = -1;

	for (size_t i = 0; i < s->n; i++) {
		if (!rs[i].ok || rs[i].netns != x->k.netns)
			continue;
		if (portrsv_netns_enter_name(s->v[i].netns, &saved) == 0) {
			portrsv_unreserve(a->p, &x->k, &x->r, true);
			portrsv_netns_leave(saved);
			return;
		}
	}
	/* A netns we cannot enter: the maps only, its sysctl is not ours to reach. */
	portrsv_unreserve(a->p, &x->k, &x->r, false);
}

/*
 * A pool of the kernel that the store does not have (as it is) while runtime reservations
 * live in it: removing it would take their ports from sockets that were promised them.
 * It is kept, and the restore fails until they end (their sockets close); then the next
 * restore removes it.
 */
static bool pool_held(struct applier *a, const struct kresv *x)
{
	struct portrsv_pool_use u;
	char b[BLOCK_LEN];

	if (portrsv_pool_use(a->p, &x->k, &u) || !u.runtime)
		return false;
	skip(a, "kept pool %s %s that the store does not have: %u runtime reservation%s "
	     "(%u port%s) live in it; restore again once they end",
	     portrsv_proto_name(x->k.proto), blk(x->k.port, x->r.count, b), u.runtime,
	     u.runtime == 1 ? "" : "s", u.ports, u.ports == 1 ? "" : "s");
	return true;
}

/*
 * Add the stored reservations of one netns that the kernel lacks, in one batch, and merge
 * the ports of those it has into the netns's sysctl (reset when the netns was renewed).
 * Entries with another netns are left for their own call; done[] marks what was handled.
 */
static void add_netns(struct applier *a, const struct portrsv_store *s, struct resolved *rs,
		      bool *done, size_t first)
{
	char b[BLOCK_LEN];
	const struct portrsv_store_entry *e0 = &s->v[first];
	struct portrsv_item *items = calloc(s->n, sizeof(*items));
	size_t *idx = calloc(s->n, sizeof(*idx)), n = 0;
	unsigned char bits[(PORTRSV_PORT_MAX + 1) / 8];
	uint64_t ino = 0;
	int err, serr = 0, saved;

	err = items && idx ? portrsv_netns_enter_name(e0->netns, &saved) : -ENOMEM;
	if (!err) {
		err = portrsv_netns_self(NULL, &ino);
		if (!err)
			err = portrsv_sysctl_read(bits);
		for (size_t i = first; i < s->n && !err; i++) {
			const struct portrsv_store_entry *e = &s->v[i];

			if (done[i] || !rs[i].ok || rs[i].netns != rs[first].netns)
				continue;
			if (rs[i].present) {
				for (uint32_t p = e->start; p < (uint32_t)e->start + e->count; p++)
					bits[p / 8] |= 1 << (p % 8);
				continue;
			}
			items[n] = (struct portrsv_item){
				.proto = e->proto, .start = e->start, .token = e->token,
				.r = { .count = e->count,
				       .flags = PORTRSV_F_PERSISTENT | (e->pool ? PORTRSV_F_POOL : 0),
				       .limit = e->pool ? e->limit : 0, .owner = rs[i].owner,
				       .created = e->created, .netns_ino = ino },
			};
			snprintf(items[n].r.comment, sizeof(items[n].r.comment), "%s",
				 e->comment ? e->comment : "");
			items[n].apply = true; /* whatever is bound: rule 7, only add refuses */
			idx[n++] = i;
		}
		/* The guard first (after a crash it may lack ports the maps have). A sysctl that
		 * cannot take the ports stops nothing: the blocks are applied all the same (every
		 * bind into them is refused), and the failure is reported below. */
		if (!err)
			serr = portrsv_guard_sync(a->p, rs[first].netns);
		if (!err && !serr)
			serr = portrsv_sysctl_write(a->p, rs[first].netns, bits);
		if (serr)
			portrsv_set_errmsg(NULL);
		if (!err && n &&
		    portrsv_reserve_batch(a->p, rs[first].netns, items, n) == PORTRSV_BATCH_UNCHECKED)
			note(a, "netns %s: %s: applied without knowing which ports are in use",
			     ns_label(e0), portrsv_errmsg()[0] ? portrsv_errmsg() : "sock_diag failed");
		for (size_t j = 0; !err && !serr && j < n; j++)
			if (!items[j].err && items[j].unguarded)
				serr = items[j].unguarded;
		for (size_t j = 0; !err && j < n; j++)
			if (!items[j].err && items[j].busy)
				note_busy(a, &s->v[idx[j]]);
		portrsv_netns_leave(saved);
	}
	for (size_t i = first; i < s->n; i++) {
		if (done[i] || !rs[i].ok || rs[i].netns != rs[first].netns)
			continue;
		done[i] = true;
		if (err && !rs[i].present && !rs[i].reported) {
			rs[i].reported = true;
			skip(a, "skipped %s %s in netns %s: %s", portrsv_proto_name(s->v[i].proto),
			     blk(s->v[i].start, s->v[i].count, b), ns_label(&s->v[i]),
			     portrsv_strerror(err));
		}
	}
	for (size_t j = 0; !err && j < n; j++) {
		const struct portrsv_store_entry *e = &s->v[idx[j]];

		if (items[j].err && !rs[idx[j]].reported) {
			rs[idx[j]].reported = true;
			skip(a, "skipped %s %s in netns %s: %s", portrsv_proto_name(e->proto),
			     blk(e->start, e->count, b), ns_label(e), portrsv_strerror(items[j].err));
		}
	}
	/* Applied (or kept) without the owner it names: one line, after the failures above. */
	for (size_t i = first; i < s->n; i++) {
		const struct portrsv_store_entry *e = &s->v[i];

		if (!rs[i].owner_why || rs[i].reported || rs[i].netns != rs[first].netns)
			continue;
		rs[i].reported = true;
		skip(a, "%s %s: owner cgroup %s cannot be followed (%s): applied with no owner, "
		     "refused to everyone", portrsv_proto_name(e->proto), blk(e->start, e->count, b),
		     e->owner, rs[i].owner_why);
	}
	/* Applied, enforced for binds, but the kernel's own choice may hand the ports out. */
	if (!err && serr)
		skip(a, "netns %s: ip_local_reserved_ports: %s: its reservations are applied, but "
		     "autobind (listen() without bind(), connect()) may hand their ports out",
		     ns_label(e0), portrsv_strerror(serr));
	free(items);
	free(idx);
}

/*
 * A crash inside portrsv_reserve or portrsv_unreserve can leave port entries or tokens that
 * no reservation owns; an orphan port refuses every bind and every reservation over it.
 * Collect first, then delete: deleting the key being walked restarts a hash walk.
 */
static void sweep_orphans(struct portrsv *p)
{
	struct portrsv_key k, next, *ports = NULL, *np;
	uint64_t t, tnext, *tokens = NULL, *nt;
	struct portrsv_token tv;
	struct portrsv_port pv;
	struct portrsv_resv r;
	size_t n = 0, nt_ = 0;
	int err;

	for (err = bpf_map_get_next_key(p->ports_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->ports_fd, &k, &next)) {
		struct portrsv_key rk;

		k = next;
		if (bpf_map_lookup_elem(p->ports_fd, &k, &pv))
			continue;
		rk = k;
		rk.port = pv.start;
		if (!bpf_map_lookup_elem(p->resv_fd, &rk, &r) && k.port >= pv.start &&
		    k.port - pv.start < r.count)
			continue;
		np = realloc(ports, (n + 1) * sizeof(*ports));
		if (!np)
			break;
		ports = np;
		ports[n++] = k;
	}
	for (err = bpf_map_get_next_key(p->tokens_fd, NULL, &tnext); !err;
	     err = bpf_map_get_next_key(p->tokens_fd, &t, &tnext)) {
		t = tnext;
		if (bpf_map_lookup_elem(p->tokens_fd, &t, &tv))
			continue;
		if (!bpf_map_lookup_elem(p->resv_fd, &tv.resv, &r) && r.token == t)
			continue;
		nt = realloc(tokens, (nt_ + 1) * sizeof(*tokens));
		if (!nt)
			break;
		tokens = nt;
		tokens[nt_++] = t;
	}
	for (size_t i = 0; i < n; i++)
		if (!bpf_map_delete_elem(p->ports_fd, &ports[i]))
			portrsv_any_add(p, ports[i].proto, ports[i].port, -1);
	for (size_t i = 0; i < nt_; i++)
		bpf_map_delete_elem(p->tokens_fd, &tokens[i]);
	free(ports);
	free(tokens);
}

struct by_token {
	uint64_t token;
	size_t i;
};

static int cmp_token(const void *x, const void *y)
{
	const struct by_token *a = x, *b = y;

	return a->token < b->token ? -1 : a->token > b->token;
}

static int apply(struct applier *a, const struct portrsv_store *s)
{
	struct resolved *rs = calloc(s->n ? s->n : 1, sizeof(*rs));
	struct by_token *byt;
	struct kresv *kv = NULL;
	bool *done;
	int n;

	if (!rs)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const struct portrsv_store_entry *e = &s->v[i], *prev = i ? &s->v[i - 1] : NULL;

		/* Thousands of entries share a netns: resolve a name once, not per entry. */
		if (prev && rs[i - 1].ok && !e->owner && !strcmp(e->netns ? e->netns : "",
							      prev->netns ? prev->netns : "")) {
			rs[i] = (struct resolved){ .netns = rs[i - 1].netns, .ok = true };
			continue;
		}
		resolve(a, e, &rs[i]);
	}
	/* Stored tokens are unique: a sorted index finds a kernel reservation's entry. */
	byt = calloc(s->n ? s->n : 1, sizeof(*byt));
	n = byt ? kernel_persistent(a->p, &kv) : -ENOMEM;
	for (size_t i = 0; i < s->n && byt; i++)
		byt[i] = (struct by_token){ s->v[i].token, i };
	if (byt)
		qsort(byt, s->n, sizeof(*byt), cmp_token);
	for (int j = 0; j < n; j++) {
		struct kresv *x = &kv[j];
		struct by_token want = { x->r.token, 0 }, *f;
		bool keep = false;

		f = bsearch(&want, byt, s->n, sizeof(*byt), cmp_token);
		if (f) {
			const struct portrsv_store_entry *e = &s->v[f->i];
			size_t i = f->i;

			bool same = rs[i].netns == x->k.netns && e->proto == x->k.proto &&
				    e->start == x->k.port && e->count == x->r.count;

			uint32_t flags = (x->r.flags & ~PORTRSV_F_POOL) | (e->pool ? PORTRSV_F_POOL : 0);
			uint32_t limit = e->pool ? e->limit : 0;

			/* The same block with another owner slot (an upgrade from pins whose
			 * reservations named owners by id), or another pool flag or limit (the
			 * store edited, a delete of a pool killed after closing it): change it in
			 * place, never leaving the block open between a remove and an add, nor
			 * taking a pool from the runtime reservations that live in it. */
			if (rs[i].ok && same && (rs[i].owner != x->r.owner || x->r.reserved ||
						 x->r.flags != flags || x->r.limit != limit)) {
				x->r.owner = rs[i].owner;
				x->r.reserved = 0;
				x->r.flags = flags;
				x->r.limit = limit;
				if (bpf_map_update_elem(a->p->resv_fd, &x->k, &x->r, BPF_EXIST))
					same = false;
			}
			/* Same token, not resolvable now: not ours to judge, keep it. */
			keep = !rs[i].ok || same;
			if (keep && rs[i].ok && !ports_whole(a->p, x))
				keep = false; /* removed below, then made again */
			if (keep && rs[i].ok)
				rs[i].present = true;
		}
		if (!keep && (x->r.flags & PORTRSV_F_POOL) && pool_held(a, x)) {
			/* Reported: kept while its runtime reservations live. The stored entry
			 * of its token, which cannot be applied over it, is that same failure. */
			if (f)
				rs[f->i].reported = true;
			continue;
		}
		if (!keep)
			remove_extra(a, s, rs, x);
	}
	free(byt);
	if (n >= 0)
		sweep_orphans(a->p); /* before adding: an orphan port would refuse its block */
	portrsv_fault("apply-before-add");
	done = calloc(s->n ? s->n : 1, sizeof(*done));
	for (size_t i = 0; i < s->n && n >= 0 && done; i++)
		if (rs[i].ok && !done[i])
			add_netns(a, s, rs, done, i);
	if (!done && n >= 0)
		n = -ENOMEM;
	if (n >= 0)
		n = portrsv_any_recount(a->p) ?: n;
	if (n >= 0)
		n = portrsv_pool_reindex(a->p) ?: n;
	if (n >= 0)
		n = portrsv_creator_sync(a->p, s) ?: n;
	if (n >= 0)
		portrsv_owner_sweep(a->p); /* slots of removed or failed reservations */
	free(done);
	free(kv);
	for (size_t i = 0; i < s->n; i++)
		free(rs[i].owner_why);
	free(rs);
	return n < 0 ? n : a->skipped;
}

/* Open the handle for apply, with the store's lock held by the caller. */
static struct portrsv *open_dirs(const char *pin_dir, const char *state_dir)
{
	PORTRSV_OPTS(portrsv_open_opts, o, .pin_dir = pin_dir, .state_dir = state_dir);

	return portrsv_open(&o);
}

/* Privileged, under the store's lock, with the store read: the lock fd, or -errno. */
static int begin(const char *state_dir, struct portrsv_store *s)
{
	portrsv_set_errmsg(NULL);
	if (!portrsv_privileged())
		return -EPERM;
	return portrsv_store_begin(state_dir, s);
}

/* Record a cgroup in the store by its canonical path. */
static int record_cgroup(struct portrsv_store *s, const char *dir)
{
	char path[PATH_MAX];

	if (!realpath(dir, path))
		return -errno;
	return portrsv_store_add_cgroup(s, path);
}

/* The stored cgroups that exist; the others are reported. *live is malloc'ed. */
static int live_cgroups(struct applier *a, const struct portrsv_store *s, const char ***live)
{
	size_t n = 0;

	*live = calloc(s->ncgroups ? s->ncgroups : 1, sizeof(**live));
	if (!*live)
		return -ENOMEM;
	for (size_t i = 0; i < s->ncgroups; i++) {
		int e = portrsv_cgroup_id(s->cgroups[i], NULL, NULL);

		if (e)
			skip(a, "skipped cgroup %s: %s", s->cgroups[i], strerror(-e));
		else
			(*live)[n++] = s->cgroups[i];
	}
	return (int)n;
}

int portrsv_load(const struct portrsv_load_opts *opts)
{
	const char *const *cgroups = OPTS_GET(opts, cgroups, NULL);
	size_t n_cgroups = OPTS_GET(opts, n_cgroups, 0);
	const char *pin_dir = portrsv_pin_dir(OPTS_GET(opts, pin_dir, NULL));
	const char *state_dir = portrsv_state_dir(OPTS_GET(opts, state_dir, NULL));
	struct applier a = { .report = OPTS_GET(opts, report, NULL), .ctx = OPTS_GET(opts, ctx, NULL) };
	struct portrsv_store s;
	const char **live = NULL;
	uint64_t *ids = NULL;
	char root[PATH_MAX];
	int lock, err = 0, n_live;
	bool first;

	portrsv_set_errmsg(NULL);
	err = portrsv_check_opts(opts, portrsv_load_opts);
	if (err)
		return err;
	if (n_cgroups && !cgroups)
		return portrsv_fail(-EINVAL, "n_cgroups is %zu but cgroups is NULL", n_cgroups);
	/* Refuse a bad cgroup before anything is pinned: a failed load leaves nothing behind. */
	for (size_t i = 0; i < n_cgroups && !err; i++)
		err = portrsv_cgroup_check("cgroup", cgroups[i]);
	if (err)
		return err;
	lock = begin(state_dir, &s);
	if (lock < 0)
		return lock;
	/* The whole host is the default of a first load only: loaded again without --cgroup,
	 * or with cgroups on record, load upgrades and re-attaches what is recorded. */
	first = s.ncgroups == 0 && portrsv_attached(pin_dir, &ids) <= 0;
	free(ids);
	n_live = live_cgroups(&a, &s, &live);
	err = n_live < 0 ? n_live : 0;
	if (!err)
		err = portrsv_load_progs(pin_dir, cgroups, n_cgroups, !n_cgroups && first);
	for (int i = 0; i < n_live && !err; i++)
		err = portrsv_attach_progs(pin_dir, live[i]);
	for (size_t i = 0; i < n_cgroups && !err; i++)
		err = record_cgroup(&s, cgroups[i]);
	if (!err && !n_cgroups && first) {
		err = portrsv_cgroup2_mount(root, sizeof(root));
		if (!err)
			err = record_cgroup(&s, root);
	}
	portrsv_fault("load-before-store");
	if (!err)
		err = portrsv_store_commit(state_dir, &s);
	if (!err) {
		a.p = open_dirs(pin_dir, state_dir);
		err = a.p ? apply(&a, &s) : -errno;
	}
	free(live);
	portrsv_close(a.p);
	portrsv_store_end(lock, &s);
	return err;
}

int portrsv_restore(const struct portrsv_restore_opts *opts)
{
	const char *pin_dir = portrsv_pin_dir(OPTS_GET(opts, pin_dir, NULL));
	const char *state_dir = portrsv_state_dir(OPTS_GET(opts, state_dir, NULL));
	struct applier a = { .report = OPTS_GET(opts, report, NULL), .ctx = OPTS_GET(opts, ctx, NULL),
			     .settle = 20 /* 1 s */ };
	const char **live = NULL;
	struct portrsv_store s;
	int lock, err = 0, n_live = 0;

	portrsv_set_errmsg(NULL);
	err = portrsv_check_opts(opts, portrsv_restore_opts);
	if (err)
		return err;
	lock = begin(state_dir, &s);
	if (lock < 0)
		return lock;
	err = live_cgroups(&a, &s, &live);
	if (err < 0)
		goto out;
	n_live = err;
	err = 0;
	if (!s.ncgroups && s.n && a.report) /* a note, not a failure: nothing to enforce yet */
		a.report("no enforced cgroup recorded: the reservations are not enforced anywhere "
			 "(portrsv attach DIR)", a.ctx);
	a.p = open_dirs(pin_dir, state_dir);
	if (!a.p && errno != PORTRSV_ENOTLOADED) {
		err = -errno;
	} else if (!a.p || portrsv_enforcing(pin_dir) == -PORTRSV_ENOTLOADED ||
		   !portrsv_owners_followed(pin_dir)) {
		/*
		 * Not loaded, or half-loaded (a killed load or unload left maps without programs
		 * or links, or no owner tracepoint): load again, which keeps what is pinned and attaches the stored
		 * cgroups. Never the whole host by default here: a store whose last cgroup was
		 * detached must not come back as host-wide enforcement at boot.
		 */
		portrsv_close(a.p);
		portrsv_set_errmsg(NULL);
		err = portrsv_load_progs(pin_dir, live, n_live, false);
		a.p = err ? NULL : open_dirs(pin_dir, state_dir);
		if (!err && !a.p)
			err = -errno;
		portrsv_fault("restore-after-load");
	} else {
		for (int i = 0; i < n_live && !err; i++)
			err = portrsv_attach_progs(pin_dir, live[i]);
	}
	if (!err)
		err = apply(&a, &s);
out:
	free(live);
	portrsv_close(a.p);
	portrsv_store_end(lock, &s);
	return err;
}

/* attach, detach: a failure that is the directory's, named (nothing set otherwise). */
static void cgroup_why(const char *dir, int err)
{
	int cerr;

	if ((err != -EINVAL && err != -ENOENT && err != -ENOTDIR) || portrsv_errmsg()[0])
		return;
	cerr = portrsv_cgroup_id(dir, NULL, NULL);
	if (cerr)
		portrsv_cgroup_fail("cgroup", dir, cerr);
}

int portrsv_attach(const char *pin_dir, const char *cgroup_dir)
{
	const char *state_dir = portrsv_state_dir(NULL);
	struct portrsv_store s;
	int lock, err;

	if (!cgroup_dir)
		return portrsv_fail(-EINVAL, "cgroup_dir is NULL");
	lock = begin(state_dir, &s);
	if (lock < 0)
		return lock;
	err = portrsv_attach_progs(portrsv_pin_dir(pin_dir), cgroup_dir);
	cgroup_why(cgroup_dir, err);
	if (!err)
		err = record_cgroup(&s, cgroup_dir);
	if (!err)
		err = portrsv_store_commit(state_dir, &s);
	portrsv_store_end(lock, &s);
	return err;
}

int portrsv_detach(const char *pin_dir, const char *cgroup_dir)
{
	const char *state_dir = portrsv_state_dir(NULL);
	char path[PATH_MAX];
	struct portrsv_store s;
	int lock, err;

	if (!cgroup_dir)
		return portrsv_fail(-EINVAL, "cgroup_dir is NULL");
	lock = begin(state_dir, &s);
	if (lock < 0)
		return lock;
	err = portrsv_detach_cgroup(portrsv_pin_dir(pin_dir), cgroup_dir);
	cgroup_why(cgroup_dir, err);
	if (err == -ENOENT && !portrsv_errmsg()[0]) {
		char edir[4 * 256];

		portrsv_escape(cgroup_dir, edir, sizeof(edir));
		portrsv_set_errmsg("portrsv is not attached to cgroup '%s'", edir);
	}
	if (!err && realpath(cgroup_dir, path)) {
		portrsv_store_remove_cgroup(&s, path);
		err = portrsv_store_commit(state_dir, &s);
	}
	portrsv_store_end(lock, &s);
	return err;
}

/*
 * Give the ports of every reservation back to the kernel's own choice, in each netns the
 * store can name: unloaded, portrsv reserves nothing. The next load or restore merges them
 * in again.
 */
static void release_all(struct portrsv *p, const struct portrsv_store *s)
{
	struct kresv *kv = NULL;
	int n = kernel_persistent(p, &kv), saved;

	for (int j = 0; j < n; j++) {
		for (size_t i = 0; i < s->n; i++) {
			if (s->v[i].token != kv[j].r.token ||
			    portrsv_netns_enter_name(s->v[i].netns, &saved))
				continue;
			portrsv_release_ports(p, kv[j].k.netns, kv[j].k.proto, kv[j].k.port,
					      kv[j].r.count, true);
			portrsv_netns_leave(saved);
			break;
		}
	}
	free(kv);
}

int portrsv_unload(const char *pin_dir)
{
	const char *state_dir = portrsv_state_dir(NULL);
	struct portrsv_store s = { 0 };
	char msg[512];
	struct portrsv *p;
	int lock, err;

	pin_dir = portrsv_pin_dir(pin_dir);
	portrsv_set_errmsg(NULL);
	/*
	 * The store's lock for the whole unload, as load, restore, attach and detach hold it:
	 * racing with a load, an unload half-way would leave maps without programs. A state
	 * directory we cannot lock only costs that: unload must always work.
	 */
	lock = portrsv_store_lock(state_dir);
	p = open_dirs(pin_dir, state_dir);
	err = p ? 0 : -errno;
	/* A store we cannot read only costs the sysctl cleanup. */
	if (p && lock >= 0 && !portrsv_store_read(state_dir, &s, msg, sizeof(msg)))
		release_all(p, &s);
	portrsv_close(p);
	portrsv_set_errmsg(NULL);
	/*
	 * Maps half-unpinned (a killed unload) are not loaded, and maps of another version
	 * cannot be read here (portrsv_obj_get): both are unpinned all the same, the latter
	 * leaving their ports in the sysctl for the next restore to merge.
	 */
	if (!err || err == -PORTRSV_ENOTLOADED || err == -EPROTO)
		err = portrsv_unload_progs(pin_dir);
	portrsv_store_end(lock, &s);
	return err;
}
