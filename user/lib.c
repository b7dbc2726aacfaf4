// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reservations in the pinned maps: create, delete, lookup, list, query, associate.
 *
 * Create writes in an order that keeps the kernel safe at every step; the store's lock
 * serializes changes, and the maps would stay consistent even without it:
 *   1. per port, the reserved_anywhere count, then one portrsv_ports entry, BPF_NOEXIST:
 *      whoever inserts a port first owns it, so two overlapping creates can never both
 *      succeed; from here on bind4 refuses the ports (an entry without its reservation
 *      denies). The ports also go into the netns's sysctl guard (abi.h) and then its
 *      ip_local_reserved_ports, so no autobind takes one either, whoever writes the sysctl;
 *   2. a port already in use fails the create: for a small block, bind() said so before
 *      step 1 and holds the ports from then to here (probe.c); else sock_diag says so now
 *      (nothing can slip in between, step 1 already refuses new binds);
 *   3. the token, BPF_NOEXIST, so that tokens are unique among live reservations;
 *   4. the reservation;
 *   5. the store (durable), after which the call returns.
 * A failure at any step undoes the earlier ones. Delete goes the other way round, the store
 * first. restore.c applies many creates at once in the same order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "store.h"

#define TOKEN_TRIES 16

bool portrsv_proto_valid(int proto)
{
	return proto == PORTRSV_TCP || proto == PORTRSV_UDP;
}

struct portrsv *portrsv_open(const struct portrsv_open_opts *opts)
{
	const char *dirs[] = { PORTRSV_PIN_PORTS, PORTRSV_PIN_RESV, PORTRSV_PIN_TOKENS,
			       PORTRSV_PIN_ANY, PORTRSV_PIN_OWNER_PATHS, PORTRSV_PIN_OWNERS,
			       PORTRSV_PIN_ANCHORS };
	struct portrsv *p;
	int *fds[7], err = 0;

	portrsv_set_errmsg(NULL);
	if (portrsv_check_opts(opts, portrsv_open_opts)) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ports_fd = p->resv_fd = p->tokens_fd = p->any_fd = -1;
	p->owner_paths_fd = p->owners_fd = p->anchors_fd = -1;
	p->rt_fd = p->creators_fd = -1;
	fds[0] = &p->ports_fd;
	fds[1] = &p->resv_fd;
	fds[2] = &p->tokens_fd;
	fds[3] = &p->any_fd;
	fds[4] = &p->owner_paths_fd;
	fds[5] = &p->owners_fd;
	fds[6] = &p->anchors_fd;
	snprintf(p->pin_dir, sizeof(p->pin_dir), "%s",
		 portrsv_pin_dir(OPTS_GET(opts, pin_dir, NULL)));
	snprintf(p->state_dir, sizeof(p->state_dir), "%s",
		 portrsv_state_dir(OPTS_GET(opts, state_dir, NULL)));
	for (int i = 0; i < 7 && !err; i++) {
		*fds[i] = portrsv_obj_get(p->pin_dir, dirs[i]);
		if (*fds[i] < 0)
			err = *fds[i];
	}
	if (err) {
		portrsv_close(p);
		errno = -err;
		return NULL;
	}
	/* Runtime reservations: pinned by versions that have them; none elsewhere. */
	p->rt_fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_RUNTIME);
	if (p->rt_fd < 0) {
		portrsv_set_errmsg(NULL); /* a layout message of an older pin is no failure */
		p->rt_fd = -1;
	}
	/* Creators: pinned since 0.2 (a load over older pins makes the map). */
	p->creators_fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_CREATORS);
	if (p->creators_fd < 0) {
		portrsv_set_errmsg(NULL);
		p->creators_fd = -1;
	}
	return p;
}

void portrsv_close(struct portrsv *p)
{
	if (!p)
		return;
	if (p->ports_fd >= 0)
		close(p->ports_fd);
	if (p->resv_fd >= 0)
		close(p->resv_fd);
	if (p->tokens_fd >= 0)
		close(p->tokens_fd);
	if (p->any_fd >= 0)
		close(p->any_fd);
	if (p->owner_paths_fd >= 0)
		close(p->owner_paths_fd);
	if (p->owners_fd >= 0)
		close(p->owners_fd);
	if (p->anchors_fd >= 0)
		close(p->anchors_fd);
	if (p->rt_fd >= 0)
		close(p->rt_fd);
	if (p->creators_fd >= 0)
		close(p->creators_fd);
	portrsv_creator_cache_free(p);
	portrsv_store_unhold(p);
	free(p);
}

static struct portrsv_key key_of(uint64_t netns, int proto, uint16_t port)
{
	struct portrsv_key k;

	memset(&k, 0, sizeof(k)); /* padding is part of the hash key */
	k.netns = netns;
	k.proto = proto;
	k.port = port;
	return k;
}

/* Map update errors as the API reports them: a full map is -ENOSPC, privilege is -EPERM. */
static int map_err(int err)
{
	if (err == -E2BIG)
		return -ENOSPC;
	if (err == -EACCES)
		return -EPERM;
	return err;
}

/* Publish the token: r->token if set (restore), else a fresh random one. */
static int put_token(struct portrsv *p, const struct portrsv_token *val, uint64_t *token)
{
	uint64_t t = *token;
	int err;

	if (t != PORTRSV_TOKEN_INVALID)
		return map_err(bpf_map_update_elem(p->tokens_fd, &t, val, BPF_NOEXIST));
	for (int i = 0; i < TOKEN_TRIES; i++) {
		if (getrandom(&t, sizeof(t), 0) != sizeof(t))
			return -errno;
		if (t == PORTRSV_TOKEN_INVALID)
			continue;
		err = bpf_map_update_elem(p->tokens_fd, &t, val, BPF_NOEXIST);
		if (err == -EEXIST)
			continue;
		if (err)
			return map_err(err);
		*token = t;
		return 0;
	}
	return -EAGAIN;
}

#define BIT_SET(bits, p) ((bits)[(p) / 8] & (1 << ((p) % 8)))

int portrsv_any_add(struct portrsv *p, int proto, uint16_t port, int delta)
{
	__u32 idx = PORTRSV_ANY_INDEX(proto, port), n = 0;
	int err = bpf_map_lookup_elem(p->any_fd, &idx, &n);

	if (err)
		return map_err(err);
	if (delta < 0 && n == 0)
		return 0; /* already low: restore recounts what a crash left */
	n += delta;
	return map_err(bpf_map_update_elem(p->any_fd, &idx, &n, BPF_ANY));
}

int portrsv_any_recount(struct portrsv *p)
{
	static __u32 want[PORTRSV_ANY_ENTRIES], keys[PORTRSV_ANY_ENTRIES], have[PORTRSV_ANY_ENTRIES];
	struct portrsv_key k, next;
	__u32 count, out;
	int err;

	memset(want, 0, sizeof(want));
	for (err = bpf_map_get_next_key(p->ports_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->ports_fd, &k, &next)) {
		k = next;
		want[PORTRSV_ANY_INDEX(k.proto, k.port)]++;
	}
	if (err != -ENOENT)
		return map_err(err);
	/* One batch read of the whole array; writes only where a count is off. */
	count = PORTRSV_ANY_ENTRIES;
	err = bpf_map_lookup_batch(p->any_fd, NULL, &out, keys, have, &count, NULL);
	if (err && err != -ENOENT)
		return map_err(err);
	for (__u32 i = 0; i < count; i++) {
		if (have[i] == want[keys[i]])
			continue;
		err = bpf_map_update_elem(p->any_fd, &keys[i], &want[keys[i]], BPF_ANY);
		if (err)
			return map_err(err);
	}
	return 0;
}

/*
 * Give the ports of a block back: from ip_local_reserved_ports each port that neither the
 * administrator had there (PORTRSV_PORT_ADMIN), nor a reservation of the other protocol,
 * nor another instance still covers, then from the ports map. The sysctl guard drops the
 * ports before the sysctl is written: our own write, from an enforced cgroup, would get
 * them back. sysctl = false: the maps only (a netns we cannot enter).
 */
void portrsv_release_ports(struct portrsv *p, uint64_t netns, int proto, uint16_t start,
			   uint32_t n, bool sysctl)
{
	int other = proto == PORTRSV_TCP ? PORTRSV_UDP : PORTRSV_TCP;
	unsigned char bits[(PORTRSV_PORT_MAX + 1) / 8], others[(PORTRSV_PORT_MAX + 1) / 8],
		others_admin[(PORTRSV_PORT_MAX + 1) / 8];
	bool changed = false;

	sysctl = sysctl && portrsv_sysctl_read(bits) == 0;
	/* Not knowing what the other instances hold, keep every port in the sysctl. */
	sysctl = sysctl && portrsv_guard_others(p, netns, others, others_admin) == 0;
	for (uint32_t port = start; port < start + n; port++) {
		struct portrsv_key k = key_of(netns, proto, port), o = key_of(netns, other, port);
		struct portrsv_port pv, ov;

		if (sysctl && !bpf_map_lookup_elem(p->ports_fd, &k, &pv) && pv.start == start &&
		    !(pv.flags & PORTRSV_PORT_ADMIN) && bpf_map_lookup_elem(p->ports_fd, &o, &ov) &&
		    !BIT_SET(others, port) && BIT_SET(bits, port)) {
			bits[port / 8] &= ~(1 << (port % 8));
			changed = true;
		}
		if (!bpf_map_delete_elem(p->ports_fd, &k))
			portrsv_any_add(p, proto, port, -1); /* after the entry is gone, never before */
	}
	if (portrsv_guard_change(p, netns, proto, start, n))
		return; /* the guard still has them: the sysctl keeps them too */
	if (changed)
		portrsv_sysctl_write(p, netns, bits);
}

/*
 * Insert the ports of a block (step 1) and mark them in bits, the netns's
 * ip_local_reserved_ports, noting per port whether the administrator had it there already:
 * a port in the sysctl is the administrator's unless another reservation (this instance's
 * of the other protocol, or another instance's, others) put it there, which then knows.
 * Sets *n to the number of ports inserted, for the undo.
 */
static int claim_ports(struct portrsv *p, uint64_t netns, int proto, uint16_t start,
		       uint16_t count, unsigned char *bits, const unsigned char *others,
		       const unsigned char *others_admin, uint32_t *n)
{
	int other = proto == PORTRSV_TCP ? PORTRSV_UDP : PORTRSV_TCP;
	int err;

	*n = 0;
	for (uint32_t port = start; port < (uint32_t)start + count; port++, (*n)++) {
		struct portrsv_key k = key_of(netns, proto, port), o = key_of(netns, other, port);
		struct portrsv_port pv = { .start = start }, ov;

		if (!bpf_map_lookup_elem(p->ports_fd, &o, &ov))
			pv.flags = ov.flags & PORTRSV_PORT_ADMIN;
		else if (BIT_SET(others, port))
			pv.flags = BIT_SET(others_admin, port) ? PORTRSV_PORT_ADMIN : 0;
		else if (BIT_SET(bits, port))
			pv.flags = PORTRSV_PORT_ADMIN;
		/* The count first: a bind must never find the entry with a count of 0. */
		err = portrsv_any_add(p, proto, port, +1);
		if (err)
			return err;
		err = bpf_map_update_elem(p->ports_fd, &k, &pv, BPF_NOEXIST);
		if (err) {
			portrsv_any_add(p, proto, port, -1);
			return map_err(err);
		}
		bits[port / 8] |= 1 << (port % 8);
	}
	return 0;
}

static bool any_set(const unsigned char *bits, uint16_t start, uint16_t count)
{
	for (uint32_t port = start; port < (uint32_t)start + count; port++)
		if (BIT_SET(bits, port))
			return true;
	return false;
}

/*
 * Apply mode: a port of the block that a socket bound before the reservation holds is marked
 * PORTRSV_PORT_BUSY, so that bind(0) allocation hands out every free port before it, rather
 * than fail with EADDRINUSE while another port is free (bpf/portrsv.bpf.c, alloc_step). A
 * mark, not a reference: once that socket is gone the port is handed out again, last, and
 * the first bind of it clears the mark. No program can touch the entry yet (the reservation
 * is not published: every bind of the block is refused), so the write races with nothing.
 */
static uint32_t hold_busy(struct portrsv *p, uint64_t netns, const struct portrsv_item *it,
			  const unsigned char *used)
{
	uint32_t n = 0;

	for (uint32_t port = it->start; port < (uint32_t)it->start + it->r.count; port++) {
		struct portrsv_key k = key_of(netns, it->proto, port);
		struct portrsv_port pv;

		if (!BIT_SET(used, port))
			continue;
		n++;
		if (!bpf_map_lookup_elem(p->ports_fd, &k, &pv) && pv.start == it->start) {
			pv.flags |= PORTRSV_PORT_BUSY;
			bpf_map_update_elem(p->ports_fd, &k, &pv, BPF_EXIST);
		}
	}
	return n;
}

/*
 * May bind() be asked about it (probe.c)? Not where a reservation, ours or another
 * instance's, covers a port: the programs would refuse the bind and log a denial (and the
 * claim fails on ours anyway).
 */
static bool may_probe(struct portrsv *p, uint64_t netns, const struct portrsv_item *it,
		      const unsigned char *others)
{
	for (uint32_t port = it->start; port < (uint32_t)it->start + it->r.count; port++) {
		struct portrsv_key k = key_of(netns, it->proto, port);
		struct portrsv_port pv;

		if (BIT_SET(others, port) || !bpf_map_lookup_elem(p->ports_fd, &k, &pv))
			return false;
	}
	return true;
}

/*
 * Steps 1-4 of the header comment for many reservations of the calling thread's netns at
 * once (restore applies thousands at boot): the sysctl is read and written once, the
 * socket tables dumped once. Step 1 for all comes before the one sock_diag, and the sysctl
 * is written before it too: from then on no bind and no autobind can take a port of any of
 * the blocks. item->token in: the token to use, or 0 for a new one. Each item gets its own
 * err; returns the first failure that is not an item's own (the sysctl, sock_diag), or
 * PORTRSV_BATCH_UNCHECKED when that failure did not stop the apply-mode items (sock_diag
 * only: a sysctl that could not be written fails every item, apply mode too).
 */
int portrsv_reserve_batch(struct portrsv *p, uint64_t netns, struct portrsv_item *items,
			  size_t n)
{
	unsigned char bits[(PORTRSV_PORT_MAX + 1) / 8], used[2][(PORTRSV_PORT_MAX + 1) / 8];
	unsigned char *others = used[0], *others_admin = used[1]; /* until the dumps */
	bool need[2] = { false, false }, probed = false;
	struct portrsv_probe pr = { .n = 0 };
	int err;

	err = portrsv_sysctl_read(bits);
	if (err)
		portrsv_set_errmsg("ip_local_reserved_ports: %s", strerror(-err));
	if (!err) {
		err = portrsv_guard_others(p, netns, others, others_admin);
		if (err)
			portrsv_set_errmsg("the other portrsv instances' %s maps: %s",
					   PORTRSV_GUARD_MAP_NAME, strerror(-err));
	}
	if (err) {
		for (size_t i = 0; i < n; i++)
			items[i].err = err;
		return err;
	}
	/* One new block: bind() tells whether it is free, and keeps it so until it is claimed. */
	if (n == 1 && !items[0].apply && may_probe(p, netns, &items[0], others)) {
		err = portrsv_probe_hold(items[0].proto, items[0].start, items[0].r.count, &pr);
		if (err == -EADDRINUSE) {
			items[0].err = err; /* why_taken names who holds it */
			return 0;
		}
		probed = err == 0;
		err = 0;
	}
	for (size_t i = 0; i < n; i++)
		items[i].err = claim_ports(p, netns, items[i].proto, items[i].start,
					   items[i].r.count, bits, others, others_admin,
					   &items[i].claimed);
	/* The guard before the sysctl: from here on no write can take the ports out. */
	err = n == 1 ? portrsv_guard_change(p, netns, items[0].proto, items[0].start,
					    items[0].r.count)
		     : portrsv_guard_sync(p, netns);
	if (!err) {
		err = portrsv_sysctl_write(p, netns, bits);
		if (err == -E2BIG)
			portrsv_set_errmsg("%s", portrsv_strerror(err));
		else if (err)
			portrsv_set_errmsg("ip_local_reserved_ports: %s", strerror(-err));
		/* Not in the sysctl, a block is not reserved: autobind could hand its ports out.
		 * A new block fails; a stored one is applied all the same (explicit binds are
		 * refused, fail closed) and the caller reports it. */
		for (size_t i = 0; err && i < n; i++) {
			if (items[i].apply)
				items[i].unguarded = err;
			else if (!items[i].err)
				items[i].err = err;
		}
		err = 0; /* not a failure of the apply-mode items: sock_diag still runs */
	}
	/* Dump only the socket tables of the protocols the batch reserves in, and none for a
	 * block that bind() found free, where it can be sure (TCP, no VRF). */
	if (probed && !portrsv_probe_sure(items[0].proto)) {
		/* The claim holds the ports now; ours would be what the dump finds. */
		portrsv_probe_release(&pr);
		probed = false;
	}
	for (size_t i = 0; i < n && !probed; i++)
		need[items[i].proto == PORTRSV_UDP] = true;
	if (probed)
		memset(used, 0, sizeof(used));
	if (!err && need[0])
		err = portrsv_ports_in_use_map(PORTRSV_TCP, used[0]);
	if (!err && need[1])
		err = portrsv_ports_in_use_map(PORTRSV_UDP, used[1]);
	if (err == -ENOENT)
		err = -EOPNOTSUPP; /* no inet_diag for proto: "not found" would mislead */
	for (size_t i = 0; i < n; i++) {
		struct portrsv_item *it = &items[i];
		struct portrsv_token tv = { .resv = key_of(netns, it->proto, it->start) };
		uint64_t t = it->token;

		if (!it->err && err && !it->apply)
			it->err = err;
		if (!it->err && it->apply) {
			if (!err)
				it->busy = hold_busy(p, netns, it, used[it->proto == PORTRSV_UDP]);
		} else if (!it->err && any_set(used[it->proto == PORTRSV_UDP], it->start, it->r.count))
			it->err = -EADDRINUSE;
		if (!it->err && (it->r.flags & PORTRSV_F_POOL))
			it->err = portrsv_pool_index(p, netns, it->proto, it->start, true);
		if (!it->err)
			it->err = put_token(p, &tv, &t);
		if (!it->err) {
			it->r.token = t;
			it->err = map_err(bpf_map_update_elem(p->resv_fd, &tv.resv, &it->r,
							      BPF_NOEXIST));
			if (it->err)
				bpf_map_delete_elem(p->tokens_fd, &t);
		}
		if (it->err && (it->r.flags & PORTRSV_F_POOL))
			portrsv_pool_index(p, netns, it->proto, it->start, false);
		if (it->err)
			portrsv_release_ports(p, netns, it->proto, it->start, it->claimed, true);
		else
			it->token = t;
	}
	portrsv_probe_release(&pr); /* claimed or given back: the ports need ours no more */
	/* Apply mode fails closed: applied unchecked beats skipped. */
	for (size_t i = 0; err && i < n; i++)
		if (items[i].apply && !items[i].err)
			return PORTRSV_BATCH_UNCHECKED;
	return err;
}

/* One reservation: see portrsv_reserve_batch. */
int portrsv_reserve(struct portrsv *p, uint64_t netns, int proto, uint16_t start,
		    struct portrsv_resv *r, uint64_t *token)
{
	struct portrsv_item it = { .proto = proto, .start = start, .r = *r, .token = *token };

	portrsv_reserve_batch(p, netns, &it, 1);
	if (!it.err) {
		*r = it.r;
		*token = it.token;
	}
	return it.err;
}

/* Remove a reservation from the maps and, when sysctl, its ports from the calling thread's
 * netns's ip_local_reserved_ports. Token first: no new association; then the reservation;
 * the ports open last. */
int portrsv_unreserve(struct portrsv *p, const struct portrsv_key *k,
		      const struct portrsv_resv *r, bool sysctl)
{
	int err = bpf_map_delete_elem(p->tokens_fd, &r->token);

	if (err && err != -ENOENT)
		return map_err(err);
	err = bpf_map_delete_elem(p->resv_fd, k);
	if (err && err != -ENOENT)
		return map_err(err);
	portrsv_creator_drop(p, k, r->token);
	if (r->flags & PORTRSV_F_POOL)
		portrsv_pool_index(p, k->netns, k->proto, k->port, false);
	portrsv_release_ports(p, k->netns, k->proto, k->port, r->count, sysctl);
	return 0; /* the owner slot is the caller's to put: restore reuses it */
}

/* Take the store's lock and read it; a store that cannot be read refuses every change. */
int portrsv_store_begin(const char *state_dir, struct portrsv_store *s)
{
	char msg[512];
	int lock, err;

	lock = portrsv_store_lock(state_dir);
	if (lock < 0) {
		if (!portrsv_errmsg()[0]) /* the directory check names its own cause */
			portrsv_set_errmsg("%s: %s", state_dir, strerror(-lock));
		return lock;
	}
	err = portrsv_store_read(state_dir, s, msg, sizeof(msg));
	if (err) {
		portrsv_set_errmsg("%s", msg);
		close(lock);
		return err;
	}
	return lock;
}

void portrsv_store_end(int lock, struct portrsv_store *s)
{
	portrsv_store_free(s);
	if (lock >= 0)
		close(lock);
}

int portrsv_store_commit(const char *state_dir, struct portrsv_store *s)
{
	int err = portrsv_store_write(state_dir, s);

	if (err)
		portrsv_set_errmsg("%s/%s: %s", state_dir, PORTRSV_STORE_FILE, strerror(-err));
	return err;
}

int portrsv_store_hold(struct portrsv *p)
{
	struct portrsv_store *s;
	int lock;

	if (p->held)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return portrsv_fail(-ENOMEM, "out of memory");
	lock = portrsv_store_begin(p->state_dir, s);
	if (lock < 0) {
		free(s);
		return lock;
	}
	p->held = s;
	p->held_lock = lock;
	p->held_err = 0;
	return 0;
}

void portrsv_store_unhold(struct portrsv *p)
{
	if (!p->held)
		return;
	portrsv_store_end(p->held_lock, p->held);
	free(p->held);
	p->held = NULL;
}

/* The store a change works on: the held copy, or one read under a lock of its own (*lock,
 * -1 for the held copy). NULL with *lock the error when neither can be had. */
static struct portrsv_store *store_get(struct portrsv *p, struct portrsv_store *local, int *lock)
{
	if (p->held && p->held_err) {
		*lock = p->held_err;
		portrsv_set_errmsg("%s/%s could not be read again after a failed write",
				   p->state_dir, PORTRSV_STORE_FILE);
		return NULL;
	}
	if (p->held) {
		*lock = -1;
		return p->held;
	}
	*lock = portrsv_store_begin(p->state_dir, local);
	return *lock < 0 ? NULL : local;
}

static void store_put(struct portrsv *p, int lock, struct portrsv_store *s)
{
	if (s != p->held)
		portrsv_store_end(lock, s);
}

/*
 * Make s durable after its one change: the entry added (its last) or the reservation of
 * token removed (portrsv_store_log). A held copy that could not be written is read again,
 * to stay what the file is.
 */
static int store_commit(struct portrsv *p, struct portrsv_store *s,
			const struct portrsv_store_entry *added, uint64_t removed)
{
	struct portrsv_store fresh;
	char msg[512];
	int err = portrsv_store_log(p->state_dir, s, added, removed);

	if (err)
		portrsv_set_errmsg("%s/%s: %s", p->state_dir, PORTRSV_STORE_FILE, strerror(-err));
	if (err && s == p->held) {
		if (portrsv_store_read(p->state_dir, &fresh, msg, sizeof(msg)) == 0) {
			portrsv_store_free(s);
			*s = fresh;
		} else {
			p->held_err = -EIO;
		}
	}
	return err;
}

/*
 * Does a stored netns name mean the netns (name, cookie) of the caller? The same name, or a
 * name that resolves to the same cookie: one netns can be named two ways ("-" and
 * net:[INO]:COOKIE where PID 1's netns cannot be read, a path and its /run/netns name).
 */
static bool same_netns(const char *stored, const char *name, uint64_t cookie)
{
	uint64_t c;
	int saved;

	if (!strcmp(stored ? stored : "", name))
		return true;
	/* "-" is PID 1's netns; where that cannot be read, the netns restore runs in, which
	 * is all a sandbox can say: the caller's. */
	if ((!stored || !*stored) && access("/proc/1/ns/net", R_OK))
		return true;
	if (portrsv_netns_enter_name(stored && *stored ? stored : "/proc/1/ns/net", &saved))
		return false; /* gone: not this live one */
	if (portrsv_netns_self(&c, NULL))
		c = 0;
	portrsv_netns_leave(saved);
	return c == cookie;
}

/* The detail of a new block overlapping a reservation or pool (o_*), in the kernel or stored. */
static void overlaps(int proto, uint16_t start, uint16_t count, uint16_t o_start,
		     uint16_t o_count, bool pool, const char *comment)
{
	const char *pn = portrsv_proto_name(proto);
	char b[2][16], ec[6 * PORTRSV_COMMENT_LEN + 1];

	portrsv_block_format(start, count, b[0], sizeof(b[0]));
	portrsv_block_format(o_start, o_count, b[1], sizeof(b[1]));
	portrsv_escape(comment ? comment : "", ec, sizeof(ec));
	portrsv_set_errmsg("%s %s overlaps the %s %s %s%s%s%s", pn, b[0],
			   pool ? "pool" : "reservation", pn, b[1], ec[0] ? " '" : "", ec,
			   ec[0] ? "'" : "");
}

/*
 * Why a new block (proto, start, count) of the calling thread's netns could not be reserved:
 * -EEXIST, the reservation of the kernel it overlaps; -EADDRINUSE, the socket and process
 * holding a port of it. Only the detail; a token is never in it.
 */
static void why_taken(struct portrsv *p, uint64_t netns, int proto, uint16_t start,
		      uint16_t count, int err)
{
	const char *pn = portrsv_proto_name(proto);
	char b[16], who[6 * PORTRSV_COMM_LEN + 96];
	struct portrsv_holders h;

	portrsv_block_format(start, count, b, sizeof(b));
	if (err == -EEXIST) {
		for (uint32_t port = start; port < (uint32_t)start + count; port++) {
			struct portrsv_key k = key_of(netns, proto, port);
			struct portrsv_port pv;
			struct portrsv_resv r;

			if (bpf_map_lookup_elem(p->ports_fd, &k, &pv))
				continue;
			k.port = pv.start;
			if (bpf_map_lookup_elem(p->resv_fd, &k, &r)) {
				portrsv_set_errmsg("%s %s overlaps a reservation of port %u being "
						   "made or removed", pn, b, port);
				return;
			}
			r.comment[sizeof(r.comment) - 1] = '\0'; /* map contents are input too */
			overlaps(proto, start, count, pv.start, r.count, r.flags & PORTRSV_F_POOL,
				 r.comment);
			return;
		}
		portrsv_set_errmsg("%s %s overlaps a reservation being made or removed", pn, b);
		return;
	}
	if (portrsv_port_holders(proto, start, count, &h) || !h.n) {
		portrsv_holders_free(&h);
		/* bind() found it in use (probe.c), sock_diag lists nobody. */
		if (proto == PORTRSV_TCP && !portrsv_feature_present(PORTRSV_FEAT_DIAG_BOUND))
			portrsv_set_errmsg("a port of %s %s is in use by a socket that is only "
					   "bound, which this kernel does not list (Linux 6.8), "
					   "or by one closed since", pn, b);
		else
			portrsv_set_errmsg("a port of %s %s is in use (by a socket closed since)",
					   pn, b);
		return;
	}
	portrsv_holder_format(&h.v[0], who, sizeof(who));
	if (h.n == 1)
		portrsv_set_errmsg("%s %u is in use by %s", pn, h.v[0].port, who);
	else
		portrsv_set_errmsg("%s %u is in use by %s, and %zu more socket%s on %s", pn,
				   h.v[0].port, who, h.n - 1, h.n == 2 ? "" : "s", b);
	portrsv_holders_free(&h);
}

int portrsv_create(struct portrsv *p, enum portrsv_proto proto, uint16_t start, uint16_t count,
		   const struct portrsv_create_opts *opts, uint64_t *token)
{
	const char *comment = OPTS_GET(opts, comment, NULL);
	const char *owner = OPTS_GET(opts, owner_cgroup, NULL);
	const char *ns = OPTS_GET(opts, netns, NULL);
	bool pool = OPTS_GET(opts, pool, false);
	uint32_t limit = OPTS_GET(opts, limit, 0);
	const char *container = OPTS_GET(opts, container, NULL);
	struct portrsv_resv r = { .count = count, .flags = PORTRSV_F_PERSISTENT };
	struct portrsv_store_entry e = { .proto = proto, .start = start, .count = count };
	char nsname[PATH_MAX], owner_path[PATH_MAX], by_cgroup[PATH_MAX];
	struct portrsv_store local, *s;
	uint64_t netns, ino, t = 0;
	int err, saved, lock;

	portrsv_set_errmsg(NULL);
	if (!p || !token)
		return portrsv_fail(-EINVAL, "%s is NULL", p ? "token" : "the handle");
	err = portrsv_check_opts(opts, portrsv_create_opts);
	if (!err)
		err = portrsv_check_proto(proto);
	if (!err)
		err = portrsv_check_block(start, count);
	if (err)
		return err;
	if (limit && !pool) {
		portrsv_set_errmsg("a limit (%u ports) applies to pools only", limit);
		return -EINVAL;
	}
	if (pool && limit > count) {
		portrsv_set_errmsg("pool limit %u is more than the pool's %u ports", limit, count);
		return -EINVAL;
	}
	if (pool && owner) {
		/* An owner binds without a token: the pool's ports would not be the runtime
		 * reservations' alone. */
		portrsv_set_errmsg("a pool has no owner cgroup: its ports go to runtime "
				   "reservations only");
		return -EINVAL;
	}
	if (container) {
		err = portrsv_check_container(container);
		if (err)
			return err;
		e.container = (char *)container; /* portrsv_store_add copies it */
	}
	if (pool) {
		r.flags |= PORTRSV_F_POOL;
		r.limit = limit;
		e.pool = true;
		e.limit = limit;
	}
	if (comment) {
		if (strlen(comment) >= sizeof(r.comment))
			return portrsv_fail(-EINVAL, "comment is %zu bytes, at most %zu",
					    strlen(comment), sizeof(r.comment) - 1);
		for (const char *c = comment; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f) /* one line in listings and the store */
				return portrsv_fail(-EINVAL, "comment has a control byte 0x%02x at "
						    "offset %td", (unsigned char)*c, c - comment);
		strcpy(r.comment, comment);
		e.comment = r.comment;
	}
	if (owner) {
		/* It must exist now (a typo must not wait forever); later it follows its path. */
		err = portrsv_cgroup_check("owner", owner);
		if (err)
			return err;
		if (!realpath(owner, owner_path))
			return portrsv_cgroup_fail("owner", owner, -errno);
		err = portrsv_owner_rel(owner_path, NULL, nsname, sizeof(nsname));
		if (err)
			return err;
		e.owner = owner_path;
	}
	e.created = r.created = time(NULL);
	/* Who asks, recorded with the reservation (portrsv why): known, or not created. */
	err = portrsv_creator_self(&e.by, by_cgroup, sizeof(by_cgroup));
	if (err)
		return portrsv_fail(err, "the calling process's cgroup v2 path (/proc/self/cgroup) "
				    "cannot be recorded as the creator's: %s", strerror(-err));

	s = store_get(p, &local, &lock);
	if (!s)
		return lock;
	/*
	 * Under the lock that load and unload take: a token for an instance that enforces
	 * nothing by accident (half-loaded, unloaded since we opened it, a killed load whose
	 * stored cgroups are not attached) would be a lie. One the operator detached from every
	 * cgroup (the store records none) takes reservations for the next attach (the command
	 * warns; portrsv_enforcing tells).
	 */
	err = portrsv_enforcing_state(p->pin_dir);
	if (err == PORTRSV_ATTACHED_NOWHERE && s->ncgroups)
		err = -PORTRSV_ENOTLOADED;
	else if (err == PORTRSV_ATTACHED_NOWHERE)
		err = 0, portrsv_set_errmsg(NULL);
	if (err)
		goto out;
	if (owner && (err = portrsv_owner_slot(p, owner_path, &r.owner, NULL)))
		goto out;
	err = portrsv_netns_enter_arg(ns, &saved);
	if (err)
		goto out;
	err = portrsv_netns_self(&netns, &ino);
	r.netns_ino = ino;
	if (!err)
		err = portrsv_netns_name(ns, ino, netns, nsname, sizeof(nsname));
	/* A stored block that restore could not apply (its owner was gone...) still owns its
	 * ports: creating over it would leave a store that refuses itself. */
	for (size_t i = 0; !err && i < s->n; i++) {
		const struct portrsv_store_entry *o = &s->v[i];

		if (o->proto == proto && portrsv_blocks_overlap(o->start, o->count, start, count) &&
		    same_netns(o->netns, nsname, netns)) {
			overlaps(proto, start, count, o->start, o->count, o->pool, o->comment);
			err = -EEXIST;
		}
	}
	if (!err) {
		err = portrsv_reserve(p, netns, proto, start, &r, &t);
		if (err == -EEXIST || err == -EADDRINUSE)
			why_taken(p, netns, proto, start, count, err);
	}
	if (!err) {
		struct portrsv_key k = key_of(netns, proto, start);

		/* Durable before we return; not durable means not created. */
		e.token = t;
		e.netns = nsname[0] ? nsname : NULL;
		err = portrsv_creator_put(p, &k, t, &e.by);
		if (!err)
			err = portrsv_store_add(s, &e);
		if (!err) {
			portrsv_fault("create-before-store");
			err = store_commit(p, s, &s->v[s->n - 1], 0);
		}
		if (err) {
			struct portrsv_key k = key_of(netns, proto, start);

			portrsv_unreserve(p, &k, &r, true);
		}
	}
	portrsv_netns_leave(saved);
	if (!err)
		*token = t;
out:
	if (err)
		portrsv_owner_put(p, r.owner);
	store_put(p, lock, s);
	return err;
}

/* The netns cookie named by opts (the caller's when NULL). */
static int ns_cookie(const struct portrsv_ns_opts *opts, uint64_t *netns)
{
	int err, saved;

	err = portrsv_check_opts(opts, portrsv_ns_opts);
	if (err)
		return err;
	err = portrsv_netns_enter_arg(OPTS_GET(opts, netns, NULL), &saved);
	if (err)
		return err;
	err = portrsv_netns_self(netns, NULL);
	portrsv_netns_leave(saved);
	return err;
}

/* The persistent reservation of exactly (start, count), with its key. */
static int find_exact(struct portrsv *p, int proto, uint16_t start, uint16_t count,
		      const struct portrsv_ns_opts *opts, struct portrsv_key *k,
		      struct portrsv_resv *r)
{
	uint64_t netns;
	int err;

	if (!p)
		return portrsv_fail(-EINVAL, "the handle is NULL");
	err = portrsv_check_proto(proto);
	if (!err)
		err = portrsv_check_block(start, count);
	if (!err)
		err = ns_cookie(opts, &netns);
	if (err)
		return err;
	*k = key_of(netns, proto, start);
	err = bpf_map_lookup_elem(p->resv_fd, k, r);
	if (err)
		return err == -ENOENT ? -ENOENT : map_err(err);
	if (r->count != count || !(r->flags & PORTRSV_F_PERSISTENT))
		return -ENOENT;
	return 0;
}

/*
 * A pool whose runtime reservations live is not deleted: their sockets hold its ports, and
 * their owners were promised them for as long as the sockets live. -EADDRINUSE, with the
 * message naming how many and whose; 0 when it holds none (or is no pool).
 */
static int pool_in_use(struct portrsv *p, const struct portrsv_key *k,
		       const struct portrsv_resv *r)
{
	struct portrsv_pool_use u;
	char pids[128], block[16];
	size_t len = 0;
	int err;

	if (!(r->flags & PORTRSV_F_POOL))
		return 0;
	err = portrsv_pool_use(p, k, &u);
	portrsv_block_format(k->port, r->count, block, sizeof(block));
	if (err) {
		portrsv_set_errmsg("pool %s %s: its runtime reservations cannot be read: %s",
				   portrsv_proto_name(k->proto), block, strerror(-err));
		return err;
	}
	if (!u.runtime)
		return 0;
	pids[0] = '\0';
	for (uint32_t i = 0; i < u.npids && len < sizeof(pids) - 16; i++)
		len += snprintf(pids + len, sizeof(pids) - len, "%s%u", i ? ", " : "", u.pids[i]);
	portrsv_set_errmsg("pool %s %s has %u runtime reservation%s (%u port%s) held by pid%s "
			   "%s%s: they end when the acquiring sockets close or release them",
			   portrsv_proto_name(k->proto), block, u.runtime,
			   u.runtime == 1 ? "" : "s", u.ports, u.ports == 1 ? "" : "s",
			   u.npids == 1 ? "" : "s", pids, u.more_pids ? ", ..." : "");
	return -EADDRINUSE;
}

/*
 * Close a pool to new runtime reservations before it is deleted: the kernel's entry loses
 * PORTRSV_F_POOL, so that an acquire finds no pool there (ENOENT), then the runtime map is
 * read again; an acquire that won the race makes the delete fail, the pool reopened.
 * A no-op for a reservation that is no pool.
 */
static void pool_reopen(struct portrsv *p, const struct portrsv_key *k,
			const struct portrsv_resv *r);

static int pool_close(struct portrsv *p, const struct portrsv_key *k, struct portrsv_resv *r)
{
	struct portrsv_resv now;
	int err = pool_in_use(p, k, r);

	if (err || !(r->flags & PORTRSV_F_POOL))
		return err;
	if (bpf_map_lookup_elem(p->resv_fd, k, &now) || now.token != r->token)
		return 0; /* gone already: nothing left to acquire from */
	now.flags &= ~PORTRSV_F_POOL;
	err = bpf_map_update_elem(p->resv_fd, k, &now, BPF_EXIST);
	if (err)
		return map_err(err);
	err = pool_in_use(p, k, r);
	if (err)
		pool_reopen(p, k, r);
	return err;
}

/* Undo pool_close: the delete failed after it. */
static void pool_reopen(struct portrsv *p, const struct portrsv_key *k,
			const struct portrsv_resv *r)
{
	struct portrsv_resv now;

	if (!(r->flags & PORTRSV_F_POOL) || bpf_map_lookup_elem(p->resv_fd, k, &now) ||
	    now.token != r->token)
		return;
	now.flags |= PORTRSV_F_POOL;
	bpf_map_update_elem(p->resv_fd, k, &now, BPF_EXIST);
}

/*
 * A stored reservation the kernel does not have (restore skipped it: its owner or netns is
 * gone) must still be deletable, or it would hold its ports in the store forever. -ENOENT
 * when there is none; 1 when it was removed from the store (nothing left to do).
 */
static int delete_stored_only(struct portrsv *p, struct portrsv_store *s, int proto,
			      uint16_t start, uint16_t count, const char *ns)
{
	char name[PATH_MAX];
	uint64_t cookie = 0, ino;
	bool live;
	int err, saved;

	live = portrsv_netns_enter(ns, &saved) == 0;
	if (live) {
		err = portrsv_netns_self(&cookie, &ino);
		portrsv_netns_leave(saved);
		if (!err)
			err = portrsv_netns_name(ns, ino, cookie, name, sizeof(name));
		if (err)
			return err;
	} else if (ns && ns[0] == '/') {
		snprintf(name, sizeof(name), "%s", ns); /* a netns that is gone, named as stored */
	} else {
		return -ENOENT;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct portrsv_store_entry *o = &s->v[i];
		uint64_t token = o->token;

		if ((int)o->proto != proto || o->start != start || o->count != count)
			continue;
		if (strcmp(o->netns ? o->netns : "", name) &&
		    !(live && same_netns(o->netns, name, cookie)))
			continue;
		portrsv_store_remove(s, i);
		err = store_commit(p, s, NULL, token);
		return err ? err : 1;
	}
	return -ENOENT;
}

/*
 * Remove a kernel reservation named by its key: in its netns when that still lives (so
 * that its ports leave that netns's ip_local_reserved_ports), the maps only otherwise.
 */
static void unreserve_anywhere(struct portrsv *p, const struct portrsv_key *k,
			       const struct portrsv_resv *r)
{
	int saved;

	if (portrsv_netns_enter_ino(r->netns_ino, k->netns, &saved) == 0) {
		portrsv_unreserve(p, k, r, true);
		portrsv_netns_leave(saved);
	} else {
		portrsv_unreserve(p, k, r, false);
	}
}

/*
 * delete --netns net:[INO] (the name show prints) or net:[INO]:COOKIE (the store's name of
 * an unnamed netns), whether that netns lives or not. The kernel's reservation is found by
 * inode (and cookie), its store entry by token; a reservation that lives in the store only
 * (restore could not apply it) by its stored name. A name that fits two netns (the inode
 * of a dead one reused) is refused: fail rather than delete the wrong one.
 */
static int delete_by_ino(struct portrsv *p, struct portrsv_store *s, int proto, uint16_t start,
			 uint16_t count, const char *ns, uint64_t ino, uint64_t cookie,
			 bool has_cookie)
{
	struct portrsv_key k, next, fk;
	struct portrsv_resv r, fr;
	char prefix[40];
	int nk = 0, idx = -1, err;

	/* With its cookie the key is whole: one lookup, where an inode alone walks the map. */
	if (has_cookie) {
		k = key_of(cookie, proto, start);
		err = bpf_map_lookup_elem(p->resv_fd, &k, &r);
		if (err && err != -ENOENT)
			return map_err(err);
		if (!err && r.count == count && (r.flags & PORTRSV_F_PERSISTENT) &&
		    r.netns_ino == ino) {
			fk = k;
			fr = r;
			nk = 1;
		}
	}
	for (err = has_cookie ? -ENOENT : bpf_map_get_next_key(p->resv_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->resv_fd, &k, &next)) {
		k = next;
		if (k.proto != proto || k.port != start || bpf_map_lookup_elem(p->resv_fd, &k, &r))
			continue;
		if (r.count != count || !(r.flags & PORTRSV_F_PERSISTENT) || r.netns_ino != ino ||
		    (has_cookie && k.netns != cookie))
			continue;
		fk = k;
		fr = r;
		nk++;
	}
	if (err != -ENOENT)
		return map_err(err);
	snprintf(prefix, sizeof(prefix), "net:[%" PRIu64 "]:", ino);
	for (size_t i = 0; i < s->n; i++) {
		const struct portrsv_store_entry *o = &s->v[i];

		if ((int)o->proto != proto || o->start != start || o->count != count)
			continue;
		if (nk ? o->token != fr.token
		       : !o->netns || (has_cookie ? strcmp(o->netns, ns)
						  : strncmp(o->netns, prefix, strlen(prefix))))
			continue;
		if (idx >= 0)
			nk = 2; /* two stored netns of that inode */
		idx = (int)i;
	}
	if (nk > 1) {
		char block[16];

		portrsv_block_format(start, count, block, sizeof(block));
		return portrsv_fail(-EINVAL, "netns %s names more than one netns with %s %s: name "
				    "it as net:[INO]:COOKIE (portrsv-store(5))", ns,
				    portrsv_proto_name(proto), block);
	}
	if (!nk && idx < 0)
		return -ENOENT;
	if (nk && (err = pool_close(p, &fk, &fr)))
		return err;
	/* The store first, as portrsv_delete. */
	if (idx >= 0) {
		uint64_t token = s->v[idx].token;

		portrsv_store_remove(s, idx);
		err = store_commit(p, s, NULL, token);
		if (err) {
			if (nk)
				pool_reopen(p, &fk, &fr);
			return err;
		}
	}
	portrsv_fault("delete-after-store");
	if (nk)
		unreserve_anywhere(p, &fk, &fr);
	return 0;
}

int portrsv_delete(struct portrsv *p, enum portrsv_proto proto, uint16_t start, uint16_t count,
		   const struct portrsv_ns_opts *opts)
{
	const char *ns = OPTS_GET(opts, netns, NULL);
	uint64_t ino, cookie;
	struct portrsv_store local, *s;
	struct portrsv_resv r;
	struct portrsv_key k;
	bool has_cookie;
	int err, lock, saved, form;

	portrsv_set_errmsg(NULL);
	if (!p)
		return portrsv_fail(-EINVAL, "the handle is NULL");
	err = portrsv_check_opts(opts, portrsv_ns_opts);
	if (!err)
		err = portrsv_check_proto(proto);
	if (!err)
		err = portrsv_check_block(start, count);
	if (err)
		return err;
	form = portrsv_netns_parse_ino(ns, &ino, &cookie, &has_cookie);
	if (form < 0) {
		char ens[4 * 256];

		portrsv_escape(ns, ens, sizeof(ens));
		return portrsv_fail(form, "netns '%s' is neither a path nor net:[INO] or "
				    "net:[INO]:COOKIE", ens);
	}
	s = store_get(p, &local, &lock);
	if (!s)
		return lock;
	if (form == 0) {
		err = delete_by_ino(p, s, proto, start, count, ns, ino, cookie, has_cookie);
		goto out;
	}
	err = find_exact(p, proto, start, count, opts, &k, &r);
	if (err == -ENOENT)
		err = delete_stored_only(p, s, proto, start, count, OPTS_GET(opts, netns, NULL));
	if (err)
		goto out; /* 1: it lived in the store only, and is gone from there */
	err = pool_close(p, &k, &r);
	if (err)
		goto out;
	/* The store first: once the delete is durable the kernel follows; a crash in between
	 * leaves an extra reservation in the kernel, which restore removes (a pool closed to
	 * new runtime reservations, which is what restore finds then). */
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].token != r.token)
			continue;
		portrsv_store_remove(s, i);
		err = store_commit(p, s, NULL, r.token);
		break;
	}
	if (err) {
		pool_reopen(p, &k, &r);
		goto out;
	}
	portrsv_fault("delete-after-store");
	err = portrsv_netns_enter(OPTS_GET(opts, netns, NULL), &saved);
	if (!err) {
		err = portrsv_unreserve(p, &k, &r, true);
		portrsv_netns_leave(saved);
		portrsv_owner_put(p, r.owner);
	}
out:
	store_put(p, lock, s);
	return err < 0 ? err : 0;
}

int portrsv_gc(struct portrsv *p, const struct portrsv_gc_opts *opts)
{
	portrsv_report_fn report = OPTS_GET(opts, report, NULL);
	struct portrsv_store_entry *gone = NULL;
	struct portrsv_store s;
	struct portrsv_token tv;
	struct portrsv_resv r;
	uint64_t ino, cookie;
	size_t n = 0;
	bool has_cookie;
	int lock, err = 0, saved;

	portrsv_set_errmsg(NULL);
	if (!p)
		return portrsv_fail(-EINVAL, "the handle is NULL");
	err = portrsv_check_opts(opts, portrsv_gc_opts);
	if (err)
		return err;
	if (!portrsv_privileged())
		return -EPERM;
	lock = portrsv_store_begin(p->state_dir, &s);
	if (lock < 0)
		return lock;
	gone = calloc(s.n ? s.n : 1, sizeof(*gone));
	if (!gone) {
		err = -ENOMEM;
		goto out;
	}
	/* Only unnamed netns: a path may be made again (ip netns add), a cookie never is.
	 * Anything short of "looked everywhere and it is not there" keeps the entry. */
	for (size_t i = 0; i < s.n; i++) {
		const struct portrsv_store_entry *e = &s.v[i];

		if (portrsv_netns_parse_ino(e->netns, &ino, &cookie, &has_cookie) || !has_cookie)
			continue;
		err = portrsv_netns_enter_ino(ino, cookie, &saved);
		if (!err)
			portrsv_netns_leave(saved);
		if (err != -ENOENT) {
			err = 0;
			continue;
		}
		err = 0;
		gone[n] = *e;
		gone[n].netns = strdup(e->netns);
		gone[n].owner = NULL;
		if (!gone[n++].netns) {
			err = -ENOMEM;
			goto out;
		}
		portrsv_store_remove(&s, i--);
	}
	if (!n)
		goto out;
	/* The store first: a crash after it leaves kernel entries that restore removes. */
	err = portrsv_store_commit(p->state_dir, &s);
	if (err)
		goto out;
	for (size_t j = 0; j < n; j++) {
		char msg[PATH_MAX + 128], block[16];

		/* The netns is gone, and so is its sysctl: the maps only. */
		if (!bpf_map_lookup_elem(p->tokens_fd, &gone[j].token, &tv) &&
		    !bpf_map_lookup_elem(p->resv_fd, &tv.resv, &r) && r.token == gone[j].token)
			portrsv_unreserve(p, &tv.resv, &r, false);
		portrsv_block_format(gone[j].start, gone[j].count, block, sizeof(block));
		snprintf(msg, sizeof(msg), "dropped %s %s: netns %s is gone",
			 portrsv_proto_name(gone[j].proto), block, gone[j].netns);
		if (report)
			report(msg, OPTS_GET(opts, ctx, NULL));
		if (OPTS_GET(opts, dropped, NULL))
			OPTS_GET(opts, dropped, NULL)(gone[j].proto, gone[j].start, gone[j].count,
						      gone[j].netns, OPTS_GET(opts, ctx, NULL));
	}
out:
	for (size_t j = 0; gone && j < n; j++)
		free((char *)gone[j].netns);
	free(gone);
	portrsv_store_end(lock, &s);
	return err ? err : (int)n;
}

int portrsv_lookup(struct portrsv *p, enum portrsv_proto proto, uint16_t start, uint16_t count,
		   const struct portrsv_ns_opts *opts, uint64_t *token)
{
	struct portrsv_resv r;
	struct portrsv_key k;
	int err;

	portrsv_set_errmsg(NULL);
	if (!token)
		return portrsv_fail(-EINVAL, "token is NULL");
	err = find_exact(p, proto, start, count, opts, &k, &r);
	if (!err)
		*token = r.token;
	return err;
}

static void fill(struct portrsv *p, struct portrsv_reservation *out,
		 const struct portrsv_key *k, const struct portrsv_resv *r)
{
	struct portrsv_owner o = { 0 };

	memset(out, 0, sizeof(*out));
	if (r->owner && !bpf_map_lookup_elem(p->owners_fd, &r->owner, &o))
		out->owner_cgid = o.cgid;
	out->proto = k->proto;
	out->start = k->port;
	out->count = r->count;
	out->token = r->token;
	out->netns_cookie = k->netns;
	out->netns_ino = r->netns_ino;
	out->created = r->created;
	out->denied = r->denied;
	/* the rest is ours */
	out->flags = r->flags & (PORTRSV_F_PERSISTENT | PORTRSV_F_RUNTIME | PORTRSV_F_POOL);
	memcpy(out->comment, r->comment, sizeof(out->comment));
	out->comment[sizeof(out->comment) - 1] = '\0'; /* map contents are input too */
}

static int cmp_resv(const void *a, const void *b)
{
	const struct portrsv_reservation *x = a, *y = b;

	if (x->netns_cookie != y->netns_cookie)
		return x->netns_cookie < y->netns_cookie ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return (int)x->start - (int)y->start;
}

int portrsv_list(struct portrsv *p, struct portrsv_reservation **out)
{
	struct portrsv_reservation *v = NULL, *nv;
	struct portrsv_key k, next;
	struct portrsv_resv r;
	size_t n = 0, cap = 0;
	int err;

	portrsv_set_errmsg(NULL);
	if (!p || !out)
		return portrsv_fail(-EINVAL, "%s is NULL", p ? "out" : "the handle");
	for (err = bpf_map_get_next_key(p->resv_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(p->resv_fd, &k, &next)) {
		k = next;
		if (bpf_map_lookup_elem(p->resv_fd, &k, &r))
			continue; /* deleted while we walked */
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		fill(p, &v[n++], &k, &r);
	}
	if (err != -ENOENT) {
		free(v);
		return map_err(err);
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_resv);
	*out = v;
	return (int)n;
}

/*
 * The kernel's reservation of token, through the tokens map: two lookups, where a listing
 * walks every reservation (10,000 of them cost a pod start ~9 ms). -ENOENT when the kernel
 * has none, or one of another token at that key.
 */
int portrsv_by_token(struct portrsv *p, uint64_t token, struct portrsv_reservation *out)
{
	struct portrsv_token tv;
	struct portrsv_resv r;
	int err;

	err = bpf_map_lookup_elem(p->tokens_fd, &token, &tv);
	if (!err)
		err = bpf_map_lookup_elem(p->resv_fd, &tv.resv, &r);
	if (err)
		return err == -ENOENT ? -ENOENT : map_err(err);
	if (r.token != token)
		return -ENOENT;
	fill(p, out, &tv.resv, &r);
	return 0;
}

int portrsv_query(struct portrsv *p, enum portrsv_proto proto, uint16_t port,
		  const struct portrsv_ns_opts *opts, struct portrsv_reservation *out)
{
	struct portrsv_port pv;
	struct portrsv_resv r;
	struct portrsv_key k;
	uint64_t netns;
	int err;

	portrsv_set_errmsg(NULL);
	if (!p || !out)
		return portrsv_fail(-EINVAL, "%s is NULL", p ? "out" : "the handle");
	err = portrsv_check_proto(proto);
	if (!err)
		err = portrsv_check_block(port, 1);
	if (!err)
		err = ns_cookie(opts, &netns);
	if (err)
		return err;
	k = key_of(netns, proto, port);
	err = bpf_map_lookup_elem(p->ports_fd, &k, &pv);
	if (err)
		return err == -ENOENT ? -ENOENT : map_err(err);
	k.port = pv.start;
	err = bpf_map_lookup_elem(p->resv_fd, &k, &r);
	if (err)
		return err == -ENOENT ? -ENOENT : map_err(err);
	fill(p, out, &k, &r);
	return 0;
}

int portrsv_last_denial(struct portrsv *p, enum portrsv_proto proto, uint16_t port,
			const struct portrsv_ns_opts *opts, struct portrsv_denial *out)
{
	struct portrsv_key k;
	uint64_t netns;
	int fd, err;

	portrsv_set_errmsg(NULL);
	if (!p || !out)
		return portrsv_fail(-EINVAL, "%s is NULL", p ? "out" : "the handle");
	err = portrsv_check_proto(proto);
	if (!err)
		err = ns_cookie(opts, &netns);
	if (err)
		return err;
	fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_DENIALS);
	if (fd < 0)
		return fd;
	k = key_of(netns, proto, port);
	err = bpf_map_lookup_elem(fd, &k, out);
	close(fd);
	if (err)
		return err == -ENOENT ? -ENOENT : map_err(err);
	out->comm[sizeof(out->comm) - 1] = '\0'; /* map contents are input too */
	return 0;
}

int portrsv_owner_path(struct portrsv *p, const struct portrsv_reservation *res, char *buf,
		       size_t len)
{
	struct portrsv_key k;
	struct portrsv_resv r;
	int err;

	portrsv_set_errmsg(NULL);
	if (!p || !res || !buf || !len)
		return portrsv_fail(-EINVAL, "%s", !p ? "the handle is NULL" : !res ? "r is NULL"
				    : !buf ? "buf is NULL" : "len is 0");
	err = portrsv_check_proto(res->proto);
	if (err)
		return err;
	k = key_of(res->netns_cookie, res->proto, res->start);
	err = bpf_map_lookup_elem(p->resv_fd, &k, &r);
	if (err)
		return err == -ENOENT ? -ENOENT : map_err(err);
	if (!r.owner)
		return -ENOENT;
	return portrsv_owner_of(p, r.owner, buf, len, NULL, NULL);
}

int portrsv_associate(int sockfd, uint64_t token)
{
	int err;

	portrsv_set_errmsg(NULL);
	if (token == PORTRSV_TOKEN_INVALID)
		return portrsv_fail(-EINVAL, "token 0 is INVALID_PORT_RESERVATION_TOKEN");
	if (!setsockopt(sockfd, SOL_PORTRSV, PORTRSV_SO_ASSOCIATE, &token, sizeof(token)))
		return 0;
	err = -errno;
	/* Never the token itself in the detail: it is a secret. */
	if (err == -EINVAL)
		portrsv_sock_not_ours(sockfd);
	else if (err == -ENOENT)
		portrsv_set_errmsg("no reservation of the socket's network namespace and "
				   "protocol has this token");
	else if (err == -EACCES)
		portrsv_set_errmsg("the runtime reservation of this token belongs to another "
				   "process");
	else if (err == -ENOPROTOOPT)
		portrsv_set_errmsg("%s", portrsv_strerror(err));
	return err;
}
