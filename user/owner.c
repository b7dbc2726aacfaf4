// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Owner cgroups by path: the slots of portrsv_owners and their keys in portrsv_owner_paths
 * (abi.h explains both, bpf/portrsv.bpf.c's cgroup_mkdir program keeps them current).
 *
 * A slot is made before the reservation that uses it and freed after the last one is gone,
 * all under the store's lock. Between making the key and writing the id a cgroup may be
 * removed and made again at the path; the tracepoint then writes the new id, and this file
 * never leaves an older one behind: it writes what it found, looks again, and writes again
 * until the two agree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

#define REFRESH_TRIES 8

int portrsv_owner_rel(const char *dir, uint64_t *anchor, char *rel, size_t len)
{
	char mnt[PATH_MAX];
	const char *r, *c;
	size_t n;
	int err;

	err = portrsv_cgroup2_mount(mnt, sizeof(mnt));
	if (err)
		return err;
	n = strlen(mnt);
	n -= n && mnt[n - 1] == '/';
	if (dir[0] != '/' || strncmp(dir, mnt, n) || (dir[n] && dir[n] != '/')) {
		portrsv_set_errmsg("owner %s is not below the cgroup v2 mount %s", dir, mnt);
		return -EINVAL;
	}
	r = dir[n] ? dir + n : "/";
	/* Spelled one way only: the kernel's path has no "." "..", empty or trailing part. */
	for (c = r; *c; c++) {
		if (c[0] != '/')
			continue;
		if ((c[1] == '/' || (c[1] == '\0' && c != r)) ||
		    (c[1] == '.' && (c[2] == '/' || !c[2] || (c[2] == '.' && (c[3] == '/' || !c[3]))))) {
			portrsv_set_errmsg("owner %s is not a canonical path", dir);
			return -EINVAL;
		}
	}
	if (strlen(r) >= PORTRSV_OWNER_PATH_LEN - 1 || strlen(r) >= len) {
		portrsv_set_errmsg("owner %s: path below the cgroup v2 mount longer than %d bytes",
				   dir, PORTRSV_OWNER_PATH_LEN - 2);
		return -ENAMETOOLONG;
	}
	if (anchor) {
		err = portrsv_cgroup_id(mnt, anchor, NULL);
		if (err)
			return err;
	}
	strcpy(rel, r);
	return 0;
}

/* Make sure the tracepoint program searches below this anchor. */
static int add_anchor(struct portrsv *p, uint64_t anchor)
{
	uint64_t v;
	int free_i = -1;

	for (uint32_t i = 0; i < PORTRSV_MAX_ANCHORS; i++) {
		if (bpf_map_lookup_elem(p->anchors_fd, &i, &v))
			return -errno;
		if (v == anchor)
			return 0;
		if (!v && free_i < 0)
			free_i = (int)i;
	}
	if (free_i < 0) {
		portrsv_set_errmsg("more than %d cgroup v2 roots (cgroup namespaces) have owners",
				   PORTRSV_MAX_ANCHORS);
		return -ENOSPC;
	}
	return bpf_map_update_elem(p->anchors_fd, &free_i, &anchor, BPF_ANY);
}

static int make_key(const char *dir, struct portrsv_owner_key *k)
{
	uint64_t anchor;
	int err;

	memset(k, 0, sizeof(*k)); /* the padding past the path is part of the key */
	err = portrsv_owner_rel(dir, &anchor, k->path, sizeof(k->path));
	k->anchor = anchor;
	return err;
}

/*
 * A slot no key uses, -ENOSPC when all are taken: round robin from the last one handed out
 * (kept in slot 0, which means "no owner" to the programs), so that a slot just freed goes to
 * another path only after every other one (a cgroup_mkdir program that found the old key a
 * moment before could still write its cgroup into the slot).
 */
static int free_slot(struct portrsv *p, uint32_t *slot)
{
	unsigned char used[PORTRSV_MAX_OWNERS / 8] = { 1 };
	struct portrsv_owner_key k, next;
	struct portrsv_owner last = { 0 };
	uint32_t s, zero = 0;
	int err;

	for (err = bpf_map_get_next_key(p->owner_paths_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->owner_paths_fd, &k, &next)) {
		k = next;
		if (!bpf_map_lookup_elem(p->owner_paths_fd, &k, &s) && s < PORTRSV_MAX_OWNERS)
			used[s / 8] |= 1 << (s % 8);
	}
	if (err != -ENOENT)
		return err;
	bpf_map_lookup_elem(p->owners_fd, &zero, &last);
	for (uint32_t i = 1; i <= PORTRSV_MAX_OWNERS; i++) {
		s = (uint32_t)((last.cgid + i) % PORTRSV_MAX_OWNERS);
		if (used[s / 8] & (1 << (s % 8)))
			continue;
		last.cgid = s;
		bpf_map_update_elem(p->owners_fd, &zero, &last, BPF_ANY);
		*slot = s;
		return 0;
	}
	portrsv_set_errmsg("%d owner cgroups in use", PORTRSV_MAX_OWNERS - 1);
	return -ENOSPC;
}

/* Write the id of the cgroup now at dir into the slot, until a second look agrees. */
static bool refresh(struct portrsv *p, uint32_t slot, const char *dir)
{
	struct portrsv_owner o;
	uint64_t id, again;

	if (portrsv_cgroup_id(dir, &id, NULL))
		return false; /* not there: the tracepoint fills the slot when it comes */
	o.cgid = id;
	for (int i = 0; i < REFRESH_TRIES; i++) {
		if (bpf_map_update_elem(p->owners_fd, &slot, &o, BPF_ANY))
			return false;
		if (portrsv_cgroup_id(dir, &again, NULL))
			return false; /* gone again: the dead id matches nothing */
		if (again == o.cgid)
			return true;
		o.cgid = again;
	}
	return true;
}

int portrsv_owner_slot(struct portrsv *p, const char *dir, uint32_t *slot, bool *present)
{
	struct portrsv_owner_key k;
	struct portrsv_owner none = { 0 };
	uint32_t s;
	int err;

	err = make_key(dir, &k);
	if (!err)
		err = add_anchor(p, k.anchor);
	if (err)
		return err;
	if (bpf_map_lookup_elem(p->owner_paths_fd, &k, &s)) {
		err = free_slot(p, &s);
		/* Empty before the key is there: the tracepoint may fill it from then on. */
		if (!err)
			err = bpf_map_update_elem(p->owners_fd, &s, &none, BPF_ANY);
		if (!err)
			err = bpf_map_update_elem(p->owner_paths_fd, &k, &s, BPF_NOEXIST);
		if (err == -E2BIG)
			err = -ENOSPC;
		if (err)
			return err;
	}
	*slot = s;
	if (present)
		*present = refresh(p, s, dir);
	else
		refresh(p, s, dir);
	return 0;
}

/* Does any reservation use the slot? */
static bool slot_used(struct portrsv *p, uint32_t slot)
{
	struct portrsv_key k, next, keys[256];
	struct portrsv_resv r, vals[256];
	__u32 batch = 0;
	int err;

	/*
	 * In batches: a walk key by key was two syscalls per reservation, 7 ms of a CNI DEL
	 * with 10,000 stored. A bucket larger than a batch (-ENOSPC) falls back to the walk.
	 */
	for (bool first = true, last = false; !last; first = false) {
		__u32 got = sizeof(keys) / sizeof(keys[0]);

		err = bpf_map_lookup_batch(p->resv_fd, first ? NULL : &batch, &batch, keys, vals,
					   &got, NULL);
		if (err && err != -ENOENT)
			break;
		last = err == -ENOENT;
		for (__u32 i = 0; i < got; i++)
			if (vals[i].owner == slot)
				return true;
	}
	if (err == -ENOENT)
		return false;
	for (err = bpf_map_get_next_key(p->resv_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->resv_fd, &k, &next)) {
		k = next;
		if (!bpf_map_lookup_elem(p->resv_fd, &k, &r) && r.owner == slot)
			return true;
	}
	return err != -ENOENT; /* cannot tell: keep it */
}

/* Drop every key of the slots marked in drop[], then empty those slots. */
static void drop_slots(struct portrsv *p, const unsigned char *drop)
{
	struct portrsv_owner_key k, next, *keys = NULL, *nk;
	struct portrsv_owner none = { 0 };
	size_t n = 0;
	uint32_t s;
	int err;

	for (err = bpf_map_get_next_key(p->owner_paths_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->owner_paths_fd, &k, &next)) {
		k = next;
		if (bpf_map_lookup_elem(p->owner_paths_fd, &k, &s) || s >= PORTRSV_MAX_OWNERS ||
		    !(drop[s / 8] & (1 << (s % 8))))
			continue;
		nk = realloc(keys, (n + 1) * sizeof(*keys));
		if (!nk)
			break;
		keys = nk;
		keys[n++] = k;
	}
	/* Deleting while walking restarts a hash walk: collect first. */
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(p->owner_paths_fd, &keys[i]);
	for (s = 1; s < PORTRSV_MAX_OWNERS; s++)
		if (drop[s / 8] & (1 << (s % 8)))
			bpf_map_update_elem(p->owners_fd, &s, &none, BPF_ANY);
	free(keys);
}

void portrsv_owner_put(struct portrsv *p, uint32_t slot)
{
	unsigned char drop[PORTRSV_MAX_OWNERS / 8] = { 0 };

	if (!slot || slot >= PORTRSV_MAX_OWNERS || slot_used(p, slot))
		return;
	drop[slot / 8] |= 1 << (slot % 8);
	drop_slots(p, drop);
}

void portrsv_owner_sweep(struct portrsv *p)
{
	unsigned char drop[PORTRSV_MAX_OWNERS / 8], used[PORTRSV_MAX_OWNERS / 8] = { 0 };
	struct portrsv_key k, next;
	struct portrsv_resv r;
	int err;

	for (err = bpf_map_get_next_key(p->resv_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->resv_fd, &k, &next)) {
		k = next;
		if (!bpf_map_lookup_elem(p->resv_fd, &k, &r) && r.owner < PORTRSV_MAX_OWNERS)
			used[r.owner / 8] |= 1 << (r.owner % 8);
	}
	if (err != -ENOENT)
		return;
	for (size_t i = 0; i < sizeof(drop); i++)
		drop[i] = (unsigned char)~used[i];
	drop[0] &= ~1; /* slot 0 is "none" */
	drop_slots(p, drop);
}

int portrsv_owner_of(struct portrsv *p, uint32_t slot, char *path, size_t len, uint64_t *cgid,
		     bool *present)
{
	struct portrsv_owner_key k, next;
	struct portrsv_owner o = { 0 };
	char mnt[PATH_MAX], here[PATH_MAX];
	uint64_t anchor;
	uint32_t s;
	int err;

	if (!slot || slot >= PORTRSV_MAX_OWNERS)
		return -ENOENT;
	if (bpf_map_lookup_elem(p->owners_fd, &slot, &o))
		return -errno;
	for (err = bpf_map_get_next_key(p->owner_paths_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->owner_paths_fd, &k, &next)) {
		k = next;
		if (!bpf_map_lookup_elem(p->owner_paths_fd, &k, &s) && s == slot)
			break;
	}
	if (err)
		return err == -ENOENT ? -ENOENT : err;
	k.path[sizeof(k.path) - 1] = '\0'; /* map contents are input too */
	err = portrsv_cgroup2_mount(mnt, sizeof(mnt));
	if (!err)
		err = portrsv_cgroup_id(mnt, &anchor, NULL);
	if (err)
		return err;
	/* Below another cgroup v2 root than ours: the path as the kernel keys it. */
	snprintf(path, len, "%s%s", anchor == k.anchor ? mnt : "",
		 anchor == k.anchor && !strcmp(k.path, "/") ? "" : k.path);
	if (cgid)
		*cgid = o.cgid;
	if (present)
		*present = o.cgid && !portrsv_cgroup_path(o.cgid, here, sizeof(here));
	return 0;
}
