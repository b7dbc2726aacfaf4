// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * portrsv_pools: the pools of each netns and protocol, which a wildcard acquire looks up
 * (abi.h). Changed with the reservations, under the state directory's lock; restore
 * rebuilds it from portrsv_resv. Each list is replaced whole, so the programs read the old
 * list or the new one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "internal.h"

static struct portrsv_key list_key(uint64_t netns, int proto)
{
	struct portrsv_key k;

	memset(&k, 0, sizeof(k));
	k.netns = netns;
	k.proto = proto;
	return k;
}

int portrsv_pool_index(struct portrsv *p, uint64_t netns, int proto, uint16_t start, bool add)
{
	struct portrsv_key k = list_key(netns, proto);
	struct portrsv_pool_list l;
	int fd, err = 0;
	__u32 i;

	fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_POOLS);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &k, &l))
		memset(&l, 0, sizeof(l));
	if (l.n > PORTRSV_MAX_POOLS_SCAN)
		l.n = PORTRSV_MAX_POOLS_SCAN; /* not ours: keep what can be read */
	for (i = 0; i < l.n && l.start[i] != start; i++)
		;
	if (add && i == l.n) {
		if (l.n == PORTRSV_MAX_POOLS_SCAN) {
			portrsv_set_errmsg("this netns has %d %s pools already, the most there may be",
					   PORTRSV_MAX_POOLS_SCAN, portrsv_proto_name(proto));
			err = -ENOSPC;
		} else {
			l.start[l.n++] = start;
			err = bpf_map_update_elem(fd, &k, &l, BPF_ANY);
		}
	} else if (!add && i < l.n) {
		memmove(&l.start[i], &l.start[i + 1], (l.n - i - 1) * sizeof(l.start[0]));
		l.start[--l.n] = 0;
		err = l.n ? bpf_map_update_elem(fd, &k, &l, BPF_ANY) : bpf_map_delete_elem(fd, &k);
	}
	close(fd);
	return err;
}

struct want {
	struct portrsv_key k;
	struct portrsv_pool_list l;
};

static struct want *want_of(struct want *v, size_t n, const struct portrsv_key *k)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(&v[i].k, k, sizeof(*k)))
			return &v[i];
	return NULL;
}

int portrsv_pool_reindex(struct portrsv *p)
{
	struct portrsv_key k, next;
	struct portrsv_resv r;
	struct want *v = NULL, *w;
	size_t n = 0;
	int fd, err;

	fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_POOLS);
	if (fd < 0)
		return fd;
	for (err = bpf_map_get_next_key(p->resv_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->resv_fd, &k, &next)) {
		struct portrsv_key lk;

		k = next;
		if (bpf_map_lookup_elem(p->resv_fd, &k, &r) || !(r.flags & PORTRSV_F_POOL))
			continue;
		lk = list_key(k.netns, k.proto);
		w = want_of(v, n, &lk);
		if (!w) {
			struct want *nv = realloc(v, (n + 1) * sizeof(*v));

			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
			w = &v[n++];
			memset(w, 0, sizeof(*w));
			w->k = lk;
		}
		if (w->l.n < PORTRSV_MAX_POOLS_SCAN)
			w->l.start[w->l.n++] = k.port;
	}
	if (err == -ENOENT)
		err = 0;
	/* Lists that should be there, whole; then away with those that should not. */
	for (size_t i = 0; !err && i < n; i++)
		err = bpf_map_update_elem(fd, &v[i].k, &v[i].l, BPF_ANY);
	for (int e = bpf_map_get_next_key(fd, NULL, &next); !err && !e;
	     e = bpf_map_get_next_key(fd, &k, &next)) {
		k = next;
		if (!want_of(v, n, &k))
			bpf_map_delete_elem(fd, &k);
	}
	free(v);
	close(fd);
	return err;
}
