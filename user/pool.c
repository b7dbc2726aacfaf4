// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Pools and their runtime reservations, as user space sees them: listed from the pinned
 * portrsv_runtime map (token -> struct portrsv_rt, abi.h), which only the BPF programs
 * write. A pool is a persistent reservation with PORTRSV_F_POOL (lib.c creates, deletes
 * and lists it); what it holds now is counted here. Maps pinned by a version without
 * runtime reservations read as holding none.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "internal.h"

static struct portrsv_key pool_key(uint64_t netns, int proto, uint16_t start)
{
	struct portrsv_key k;

	memset(&k, 0, sizeof(k)); /* padding is part of the hash key */
	k.netns = netns;
	k.proto = proto;
	k.port = start;
	return k;
}

/*
 * Each live runtime reservation, until fn returns non-zero (returned). Collected first:
 * the programs delete entries while we walk, and a hash walk whose key vanished restarts.
 */
typedef int (*rt_fn)(uint64_t token, const struct portrsv_rt *rt, void *ctx);

static int rt_each(struct portrsv *p, rt_fn fn, void *ctx)
{
	uint64_t key, next, *keys = NULL, *nk;
	size_t n = 0, cap = 0;
	int err, ret = 0;

	if (p->rt_fd < 0)
		return 0;
	for (err = bpf_map_get_next_key(p->rt_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->rt_fd, &key, &next)) {
		key = next;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			nk = realloc(keys, cap * sizeof(*keys));
			if (!nk) {
				free(keys);
				return -ENOMEM;
			}
			keys = nk;
		}
		keys[n++] = key;
	}
	if (err != -ENOENT) {
		free(keys);
		return err == -EACCES ? -EPERM : err;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		struct portrsv_rt rt;

		if (bpf_map_lookup_elem(p->rt_fd, &keys[i], &rt))
			continue; /* ended while we walked */
		rt.comm[sizeof(rt.comm) - 1] = '\0'; /* map contents are input too */
		ret = fn(keys[i], &rt, ctx);
	}
	free(keys);
	return ret;
}

struct use_ctx {
	const struct portrsv_key *k;
	struct portrsv_pool_use *u;
};

static int count_use(uint64_t token, const struct portrsv_rt *rt, void *ctx)
{
	struct use_ctx *c = ctx;
	struct portrsv_pool_use *u = c->u;
	uint32_t j;

	if (rt->netns != c->k->netns || rt->proto != c->k->proto || rt->pool != c->k->port)
		return 0;
	u->runtime++;
	u->ports += rt->count;
	for (j = 0; j < u->npids && u->pids[j] != rt->tgid; j++)
		;
	if (j < u->npids)
		return 0;
	if (u->npids < sizeof(u->pids) / sizeof(u->pids[0]))
		u->pids[u->npids++] = rt->tgid;
	else
		u->more_pids = true;
	return 0;
}

int portrsv_pool_use(struct portrsv *p, const struct portrsv_key *k, struct portrsv_pool_use *u)
{
	struct use_ctx c = { k, u };

	memset(u, 0, sizeof(*u));
	return rt_each(p, count_use, &c);
}

int portrsv_pool_info(struct portrsv *p, const struct portrsv_reservation *r,
		      struct portrsv_pool_info *out)
{
	struct portrsv_pool_use u;
	struct portrsv_resv kr;
	struct portrsv_key k;
	int err;

	portrsv_set_errmsg(NULL);
	if (!p || !r || !out)
		return portrsv_fail(-EINVAL, "%s is NULL", !p ? "the handle" : !r ? "r" : "out");
	err = portrsv_check_proto(r->proto);
	if (err)
		return err;
	if (!(r->flags & PORTRSV_F_POOL)) {
		char block[16];

		portrsv_block_format(r->start, r->count, block, sizeof(block));
		return portrsv_fail(-EINVAL, "%s %s is not a pool", portrsv_proto_name(r->proto),
				    block);
	}
	k = pool_key(r->netns_cookie, r->proto, r->start);
	err = bpf_map_lookup_elem(p->resv_fd, &k, &kr);
	if (err)
		return err == -ENOENT ? -ENOENT : err == -EACCES ? -EPERM : err;
	/* Deleted and made again as something else since r was listed. */
	if (kr.token != r->token || !(kr.flags & PORTRSV_F_POOL))
		return -ENOENT;
	err = portrsv_pool_use(p, &k, &u);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	out->limit = kr.limit;
	out->in_use = u.ports;
	out->runtime = u.runtime;
	return 0;
}

struct list_ctx {
	struct portrsv *p;
	struct portrsv_runtime_info *v;
	size_t n, cap;
};

/* Wall-clock seconds of a bpf_ktime_get_boot_ns stamp, as monitor events have it. */
static uint64_t boot_to_epoch(uint64_t boot_ns)
{
	struct portrsv_event e = { .ts_boot_ns = boot_ns };

	return portrsv_event_realtime_ns(&e) / 1000000000ULL;
}

static int add_info(uint64_t token, const struct portrsv_rt *rt, void *ctx)
{
	struct list_ctx *c = ctx;
	struct portrsv_runtime_info *i, *nv;
	struct portrsv_resv kr;
	struct portrsv_key k;

	if (!portrsv_proto_valid(rt->proto))
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 32;
		nv = realloc(c->v, c->cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		c->v = nv;
	}
	i = &c->v[c->n++];
	memset(i, 0, sizeof(*i));
	i->proto = rt->proto;
	i->start = rt->start;
	i->count = rt->count;
	i->pool = rt->pool;
	i->token = token;
	i->netns_cookie = rt->netns;
	i->cgid = rt->cgid;
	i->created = boot_to_epoch(rt->created_ns);
	i->pid = rt->tgid;
	memcpy(i->comm, rt->comm, sizeof(i->comm));
	i->comm[sizeof(i->comm) - 1] = '\0';
	/* The netns inode is the pool's: the kernel knows the netns by its cookie only. */
	k = pool_key(rt->netns, rt->proto, rt->pool);
	if (!bpf_map_lookup_elem(c->p->resv_fd, &k, &kr))
		i->netns_ino = kr.netns_ino;
	return 0;
}

static int cmp_info(const void *a, const void *b)
{
	const struct portrsv_runtime_info *x = a, *y = b;

	if (x->netns_cookie != y->netns_cookie)
		return x->netns_cookie < y->netns_cookie ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return (int)x->start - (int)y->start;
}

int portrsv_list_runtime(struct portrsv *p, struct portrsv_runtime_info **out)
{
	struct list_ctx c = { .p = p };
	int err;

	portrsv_set_errmsg(NULL);
	if (!p || !out)
		return portrsv_fail(-EINVAL, "%s is NULL", p ? "out" : "the handle");
	err = rt_each(p, add_info, &c);
	if (err) {
		free(c.v);
		return err;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_info);
	*out = c.v;
	return (int)c.n;
}
