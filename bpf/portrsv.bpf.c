// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * portrsv's kernel side: refuse every bind() into a reserved block that the socket is not
 * entitled to. The matching rules are in include/portrsv/abi.h.
 *
 *   cgroup/bind4, bind6      the decision, and bind(0) allocation for associated sockets
 *   cgroup/post_bind4, 6     second line: a port the kernel chose itself, or one bind4 never
 *                            allowed, must not land inside a reservation
 *   cgroup/setsockopt        SOL_PORTRSV: associate a socket with a token; acquire and
 *                            release runtime reservations (abi.h, "Runtime reservations")
 *   cgroup/getsockopt        SOL_PORTRSV/PORTRSV_SO_ACQUIRED: the last acquired block
 *   cgroup/sock_release      give the socket's held port back; end the runtime
 *                            reservations it acquired
 *   tp_btf/cgroup_mkdir      a cgroup made at an owner's path becomes that owner at once
 *   cgroup/sysctl            keep portrsv's ports in every write of ip_local_reserved_ports
 *
 * MPTCP: the association is made on the MPTCP socket, but the kernel binds its first subflow
 * (a TCP socket) and runs bind4/post_bind4 on that. The "user socket" below is the MPTCP
 * socket for a subflow and the socket itself otherwise; tokens and held ports live on it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "portrsv/abi.h"

#define AF_INET 2
#define AF_INET6 10

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PORTRSV_MAX_PORTS);
	__type(key, struct portrsv_key);
	__type(value, struct portrsv_port);
} portrsv_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PORTRSV_MAX_RESV);
	__type(key, struct portrsv_key);
	__type(value, struct portrsv_resv);
} portrsv_resv SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PORTRSV_MAX_RESV);
	__type(key, __u64);
	__type(value, struct portrsv_token);
} portrsv_tokens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct portrsv_sock);
} portrsv_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PORTRSV_ANY_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} portrsv_any SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PORTRSV_MAX_DENIALS);
	__type(key, struct portrsv_key);
	__type(value, struct portrsv_denial);
} portrsv_denials SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PORTRSV_MAX_OWNERS);
	__type(key, struct portrsv_owner_key);
	__type(value, __u32);
} portrsv_owner_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PORTRSV_MAX_OWNERS);
	__type(key, __u32);
	__type(value, struct portrsv_owner);
} portrsv_owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PORTRSV_MAX_ANCHORS);
	__type(key, __u32);
	__type(value, __u64);
} portrsv_anchors SEC(".maps");

/* Scratch for cgroup_mkdir: the tracepoint's path, and the key made from it. */
#define MKDIR_PATH_LEN 1024 /* the kernel's TRACE_CGROUP_PATH_LEN */
struct mkdir_scratch {
	char path[MKDIR_PATH_LEN];
	struct portrsv_owner_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mkdir_scratch);
} portrsv_mkdir_scratch SEC(".maps");

/* The monitors' ring buffers (abi.h): each monitor makes its own. */
struct events_buf {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PORTRSV_EVENTS_BYTES);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, PORTRSV_MAX_MONITORS);
	__type(key, __u32);
	__array(values, struct events_buf);
} portrsv_monitors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PORTRSV_MAX_MONITORS);
	__type(key, __u32);
	__type(value, struct portrsv_monitor_slot);
} portrsv_monitor_slots SEC(".maps");

/* Runtime reservations (abi.h): token -> reservation, pool port -> token, usage, per socket. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PORTRSV_MAX_RUNTIME);
	__type(key, __u64);
	__type(value, struct portrsv_rt);
} portrsv_runtime SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PORTRSV_MAX_PORTS);
	__type(key, struct portrsv_key);
	__type(value, __u64);
} portrsv_rt_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PORTRSV_MAX_USAGE);
	__type(key, struct portrsv_usage_key);
	__type(value, __u32);
} portrsv_rt_usage SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct portrsv_acq);
} portrsv_acquired SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* readers see the old list or the new, whole */
	__uint(max_entries, PORTRSV_MAX_POOL_LISTS);
	__type(key, struct portrsv_key);
	__type(value, struct portrsv_pool_list);
} portrsv_pools SEC(".maps");

/* Who created each persistent reservation (abi.h): user space's alone, no program reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PORTRSV_MAX_RESV);
	__type(key, struct portrsv_key);
	__type(value, struct portrsv_creator);
} portrsv_creators SEC(".maps");

/* The port space of a socket: TCP (MPTCP included), UDP, or 0 for anything else. */
static __always_inline __u8 port_space(__u32 type, __u32 protocol)
{
	if (type == SOCK_STREAM && (protocol == PORTRSV_PROTO_TCP ||
					    protocol == PORTRSV_IPPROTO_MPTCP))
		return PORTRSV_PROTO_TCP;
	if (type == SOCK_DGRAM && protocol == PORTRSV_PROTO_UDP)
		return PORTRSV_PROTO_UDP;
	return 0;
}

/* Is (proto, port) reserved in some netns? The common "no" costs one inlined array lookup. */
static __always_inline bool reserved_anywhere(__u8 proto, __u16 port)
{
	__u32 idx = PORTRSV_ANY_INDEX(proto, port);
	__u32 *n = bpf_map_lookup_elem(&portrsv_any, &idx);

	return !n || *n;
}

static __always_inline struct portrsv_resv *resv_of(__u64 netns, __u8 proto, __u16 start)
{
	struct portrsv_key key = { .netns = netns, .port = start, .proto = proto };

	return bpf_map_lookup_elem(&portrsv_resv, &key);
}

static __always_inline struct portrsv_port *port_entry(__u64 netns, __u8 proto, __u16 port)
{
	struct portrsv_key key = { .netns = netns, .port = port, .proto = proto };

	return bpf_map_lookup_elem(&portrsv_ports, &key);
}

/* The cgroup v2 id of ancestor level of cgroup cg (a kernel pointer), or 0. */
static __always_inline __u64 ancestor_id(__u64 cg, __u32 level)
{
	__u64 anc = 0, kn = 0, id = 0;

	bpf_probe_read_kernel(&anc, sizeof(anc),
			      (void *)(cg + bpf_core_field_offset(struct cgroup, ancestors) +
				       level * sizeof(void *)));
	if (!anc)
		return 0;
	bpf_probe_read_kernel(&kn, sizeof(kn),
			      (void *)(anc + bpf_core_field_offset(struct cgroup, kn)));
	if (!kn)
		return 0;
	bpf_probe_read_kernel(&id, sizeof(id),
			      (void *)(kn + bpf_core_field_offset(struct kernfs_node, id)));
	return id;
}

/*
 * Is the socket's cgroup the owner cgroup or below it? The socket's, not the binding task's:
 * a socket made in a container and bound by a helper elsewhere is the container's. Only on
 * the slow path of a reserved port. The owner is the cgroup now at the owner's path
 * (portrsv_owners); its depth is not known to user space inside a cgroup namespace, so every
 * level of the socket's cgroup is compared, down to PORTRSV_OWNER_DEPTH.
 *
 * Linux 6.1 has no bpf_rdonly_cast (6.2), so the socket is reached the way the kernel passes
 * it: ctx is really a struct bpf_sock_addr_kern, whose first field points at the struct sock.
 * Every pointer below is read as a plain number with bpf_probe_read_kernel at CO-RE offsets,
 * which loads on 6.1 and later alike.
 */
/* The cgroup v2 of a struct sock (a kernel pointer), as a kernel pointer; 0 if unknown. */
static __always_inline __u64 sock_cgroup(__u64 sk)
{
	__u64 cg = 0;

	if (sk)
		bpf_probe_read_kernel(&cg, sizeof(cg),
				      (void *)(sk + bpf_core_field_offset(struct sock,
									  sk_cgrp_data.cgroup)));
	return cg;
}

/* The cgroup v2 id of a struct sock (a kernel pointer); 0 if unknown. */
static __always_inline __u64 sock_cgroup_id(__u64 sk)
{
	__u64 cg = sock_cgroup(sk), kn = 0, id = 0;

	if (!cg)
		return 0;
	bpf_probe_read_kernel(&kn, sizeof(kn),
			      (void *)(cg + bpf_core_field_offset(struct cgroup, kn)));
	if (kn)
		bpf_probe_read_kernel(&id, sizeof(id),
				      (void *)(kn + bpf_core_field_offset(struct kernfs_node, id)));
	return id;
}

/* The struct sock of a bind's context (a struct bpf_sock_addr_kern), as a number. */
static __always_inline __u64 addr_sock(struct bpf_sock_addr *ctx)
{
	__u64 sk = 0;

	bpf_probe_read_kernel(&sk, sizeof(sk),
			      (void *)ctx + bpf_core_field_offset(struct bpf_sock_addr_kern, sk));
	return sk;
}

static __always_inline bool in_owner_cgroup(struct bpf_sock_addr *ctx, const struct portrsv_resv *r)
{
	__u32 slot = r->owner;
	struct portrsv_owner *o;
	__u64 sk, cg, want;
	int cg_level = -1;

	/* reserved set: an entry of 0.1.0's layout (an owner id where this one has 0) that the
	 * upgrade's apply has not rewritten yet: its slot means nothing, nobody is its owner. */
	if (!slot || r->reserved)
		return false;
	o = bpf_map_lookup_elem(&portrsv_owners, &slot);
	if (!o || !(want = o->cgid))
		return false; /* the owner is not there (yet): nobody binds in its name */
	sk = addr_sock(ctx);
	cg = sock_cgroup(sk);
	if (!cg)
		return false;
	bpf_probe_read_kernel(&cg_level, sizeof(cg_level),
			      (void *)(cg + bpf_core_field_offset(struct cgroup, level)));
	for (__u32 l = 0; l < PORTRSV_OWNER_DEPTH; l++) {
		if ((int)l > cg_level)
			return false;
		if (ancestor_id(cg, l) == want)
			return true;
	}
	return false;
}

/* The token of the runtime reservation that has pool port (proto, port), or NULL. */
static __always_inline __u64 *rt_port_token(__u64 netns, __u8 proto, __u16 port)
{
	struct portrsv_key key = { .netns = netns, .port = port, .proto = proto };

	return bpf_map_lookup_elem(&portrsv_rt_ports, &key);
}

/* Does the live runtime reservation of token have the pool port? */
static __always_inline bool rt_has(__u64 netns, __u8 proto, __u16 port, __u64 token)
{
	__u64 *t;

	if (!token)
		return false;
	t = rt_port_token(netns, proto, port);
	return t && *t == token && bpf_map_lookup_elem(&portrsv_runtime, &token);
}

/* A pool's ports go to the runtime reservation that has them, and to nobody else. */
static __always_inline bool entitled(struct bpf_sock_addr *ctx, const struct portrsv_resv *r,
				     __u64 netns, __u8 proto, __u16 port, __u64 token)
{
	if (r->flags & PORTRSV_F_POOL)
		return rt_has(netns, proto, port, token);
	return (token && r->token == token) || in_owner_cgroup(ctx, r);
}

/* Give one reference of a port back; never below zero, whatever happened meanwhile. */
static __always_inline void port_put(__u64 netns, __u8 proto, __u16 port)
{
	struct portrsv_port *pp = port_entry(netns, proto, port);
	__u32 refs;

	if (!pp)
		return;
	for (int i = 0; i < 8; i++) {
		refs = pp->refs;
		if (!refs || __sync_val_compare_and_swap(&pp->refs, refs, refs - 1) == refs)
			return;
	}
}

/* Every monitor gets the event; one that has no room counts it as lost. */
static long monitor_step(__u32 i, struct portrsv_event *e)
{
	struct portrsv_monitor_slot *slot;
	void *rb = bpf_map_lookup_elem(&portrsv_monitors, &i);

	if (!rb || !bpf_ringbuf_output(rb, e, sizeof(*e), 0))
		return 0;
	slot = bpf_map_lookup_elem(&portrsv_monitor_slots, &i);
	if (slot)
		__sync_fetch_and_add(&slot->lost, 1);
	return 0;
}

/* Count and report a refused bind of socket sk (a kernel pointer), then fail it with err. */
static __always_inline int deny(__u64 sk, __u64 netns, __u8 proto, __u16 port, __u8 family,
				struct portrsv_resv *r, __u16 start, int err)
{
	struct portrsv_key k = { .netns = netns, .port = port, .proto = proto };
	struct portrsv_denial *d, fresh = {};
	struct portrsv_event e = {};

	if (r)
		__sync_fetch_and_add(&r->denied, 1);
	e.ts_boot_ns = bpf_ktime_get_boot_ns();
	e.cgid = sock_cgroup_id(sk);
	e.netns = netns;
	e.token = r ? r->token : 0;
	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.uid = (__u32)bpf_get_current_uid_gid();
	e.port = port;
	e.resv_start = start;
	e.resv_count = r ? r->count : 0;
	e.proto = proto;
	e.family = family;
	e.err = err;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	/* The last refusal of this port, for `portrsv why`. */
	d = bpf_map_lookup_elem(&portrsv_denials, &k);
	if (!d) {
		bpf_map_update_elem(&portrsv_denials, &k, &fresh, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&portrsv_denials, &k);
	}
	if (d) {
		__sync_fetch_and_add(&d->count, 1);
		d->ts_boot_ns = e.ts_boot_ns;
		d->cgid = e.cgid;
		d->pid = e.pid;
		d->uid = e.uid;
		__builtin_memcpy(d->comm, e.comm, sizeof(d->comm));
	}
	bpf_loop(PORTRSV_MAX_MONITORS, monitor_step, &e, 0);
	bpf_set_retval(-err);
	return 0;
}

struct alloc_ctx {
	__u64 netns;
	__u64 rt_token;  /* a runtime reservation's block: only the ports it has */
	__u16 start;
	__u16 count;
	__u16 owner;     /* the start that the ports' entries name (the pool's, for runtime) */
	__u16 cursor;
	__u16 found;     /* offset + 1 of the claimed port; 0 = none yet */
	__u8 proto;
};

/*
 * bind(0) from a block, next-fit, in two passes over the block: the first claims a port
 * that nobody holds (refs 0) and that is not PORTRSV_PORT_BUSY, the second any port that
 * nobody holds. A port can be free in portrsv's count while the kernel still holds it, and
 * then the kernel fails the bind with EADDRINUSE although another port of the block is
 * free. The kernel's bind hash cannot be read from here on 6.1 (the socket lookup helpers
 * find listeners and full 4-tuples, not "something bound to port P"), so the programs mark
 * what they can know instead:
 *   - sock_release of a TCP socket in a connected state (not CLOSE, not LISTEN): its port
 *     goes to FIN_WAIT/TIME_WAIT, held by the kernel for up to a minute;
 *   - a bind of a socket that still holds a port from its previous bind and is unbound:
 *     that bind failed in the kernel (EADDRINUSE), so the port is taken by something else;
 * and post_bind clears the mark of a port that was bound after all. Limits: the mark is a
 * preference, never a refusal, so a busy port is still handed out when it is the last one
 * (and then the kernel says EADDRINUSE if it is really taken); a port held by a socket
 * that no enforced cgroup made (bound before the reservation, rule 7, or outside the
 * enforced cgroups) is learned only from the first bind that fails on it; a mark outlives
 * the TIME_WAIT it stands for until the port is bound again, which only reorders choice.
 */
static long alloc_step(__u32 i, struct alloc_ctx *a)
{
	__u16 off = (a->cursor + i) % a->count;
	struct portrsv_port *pp = port_entry(a->netns, a->proto, a->start + off);
	bool last_resort = i >= a->count;

	if (pp && pp->start == a->owner && (last_resort || !(pp->flags & PORTRSV_PORT_BUSY)) &&
	    (!a->rt_token || rt_has(a->netns, a->proto, a->start + off, a->rt_token)) &&
	    __sync_val_compare_and_swap(&pp->refs, 0, 1) == 0) {
		a->found = off + 1;
		return 1;
	}
	return 0;
}

/* Mark a port as held by the kernel beyond our count (alloc_step); flags are ours alone. */
static __always_inline void port_busy(__u64 netns, __u8 proto, __u16 port, bool busy)
{
	struct portrsv_port *pp = port_entry(netns, proto, port);

	if (!pp || !!(pp->flags & PORTRSV_PORT_BUSY) == busy)
		return;
	if (busy)
		pp->flags |= PORTRSV_PORT_BUSY;
	else
		pp->flags &= ~PORTRSV_PORT_BUSY;
}

/* The user socket of sk: the MPTCP socket for an MPTCP subflow, sk itself otherwise. */
static __always_inline struct portrsv_sock *user_storage(struct bpf_sock *sk, __u64 flags)
{
	struct mptcp_sock *msk = bpf_skc_to_mptcp_sock(sk);

	if (msk)
		return bpf_sk_storage_get(&portrsv_socks, msk, 0, flags);
	return bpf_sk_storage_get(&portrsv_socks, sk, 0, flags);
}

/* Record that the user socket holds port, and that sk may end up bound to it. */
static __always_inline int hold(struct bpf_sock *sk, struct portrsv_sock *us, __u8 proto,
				__u16 port)
{
	struct portrsv_sock *ss;

	if (!us)
		return -1;
	us->held_port = port;
	us->held_proto = proto;
	ss = bpf_sk_storage_get(&portrsv_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!ss)
		return -1;
	ss->allow_port = port;
	return 0;
}

static __always_inline int check_bind(struct bpf_sock_addr *ctx, __u8 family)
{
	struct bpf_sock *sk = ctx->sk;
	struct portrsv_rt *rt = NULL;
	struct portrsv_sock *us;
	struct portrsv_resv *r;
	struct portrsv_port *pp;
	struct portrsv_token *t;
	__u64 netns, token;
	__u16 port;
	__u8 proto;

	if (!sk)
		return 1;
	proto = port_space(ctx->type, ctx->protocol);
	if (!proto || sk->src_port)
		return 1; /* not ours, or already bound: the kernel answers EINVAL */

	port = bpf_ntohs(ctx->user_port);
	/* The common case, a port outside every reservation, ends here. */
	if (port && !reserved_anywhere(proto, port))
		return 1;
	netns = bpf_get_netns_cookie(ctx);

	if (port == 0) {
		struct alloc_ctx a = { .netns = netns, .proto = proto };

		us = user_storage(sk, 0);
		token = us ? us->token : 0;
		if (!us || !token)
			return 1; /* the kernel's own choice: post_bind checks it */
		t = bpf_map_lookup_elem(&portrsv_tokens, &token);
		rt = t ? NULL : bpf_map_lookup_elem(&portrsv_runtime, &token);
		if (rt) {
			/* A runtime reservation: its block, inside its pool. */
			if (rt->netns != netns || rt->proto != proto || !rt->count)
				return 1;
			r = resv_of(netns, proto, rt->pool);
			if (!r || !(r->flags & PORTRSV_F_POOL))
				return 1;
			a.start = rt->start;
			a.count = rt->count;
			a.cursor = rt->cursor;
			a.owner = rt->pool;
			a.rt_token = token;
		} else {
			if (!t || t->resv.netns != netns || t->resv.proto != proto)
				return 1; /* reservation gone: an ordinary bind(0) */
			r = resv_of(netns, proto, t->resv.port);
			if (!r || r->token != token || !r->count || (r->flags & PORTRSV_F_POOL))
				return 1;
			a.start = t->resv.port;
			a.count = r->count;
			a.cursor = r->cursor;
			a.owner = a.start;
		}
		if (us->held_port) {
			/* Still unbound, so the bind that took it failed: the kernel holds it. */
			port_busy(netns, us->held_proto, us->held_port, true);
			port_put(netns, us->held_proto, us->held_port);
		}
		us->held_port = 0;
		bpf_loop(2 * (__u32)a.count, alloc_step, &a, 0);
		if (!a.found)
			return deny(addr_sock(ctx), netns, proto, 0, family, r, a.owner,
				    PORTRSV_EADDRINUSE);
		if (rt)
			rt->cursor = a.found % a.count;
		else
			r->cursor = a.found % a.count;
		port = a.start + a.found - 1;
		if (hold(sk, us, proto, port)) {
			port_put(netns, proto, port);
			return deny(addr_sock(ctx), netns, proto, port, family, r, a.owner,
				    PORTRSV_EADDRINUSE);
		}
		ctx->user_port = bpf_htons(port);
		return 1;
	}

	pp = port_entry(netns, proto, port);
	if (!pp)
		return 1;
	r = resv_of(netns, proto, pp->start);
	us = user_storage(sk, 0);
	token = us ? us->token : 0;
	if (!r || !entitled(ctx, r, netns, proto, port, token))
		return deny(addr_sock(ctx), netns, proto, port, family, r, pp->start,
			    PORTRSV_EACCES);

	if (!us)
		us = user_storage(sk, BPF_SK_STORAGE_GET_F_CREATE);
	if (us && us->held_port)
		port_put(netns, us->held_proto, us->held_port);
	__sync_fetch_and_add(&pp->refs, 1);
	if (hold(sk, us, proto, port)) {
		port_put(netns, proto, port);
		return deny(addr_sock(ctx), netns, proto, port, family, r, pp->start,
			    PORTRSV_EACCES);
	}
	return 1;
}

SEC("cgroup/bind4")
int portrsv_bind4(struct bpf_sock_addr *ctx)
{
	return check_bind(ctx, AF_INET);
}

SEC("cgroup/bind6")
int portrsv_bind6(struct bpf_sock_addr *ctx)
{
	return check_bind(ctx, AF_INET6);
}

/* A socket may sit on a reserved port only if bind4/6 allowed exactly that port. */
static __always_inline int check_post_bind(struct bpf_sock *ctx)
{
	struct portrsv_sock *ss;
	struct portrsv_port *pp;
	__u64 netns;
	__u16 port;
	__u8 proto;

	proto = port_space(ctx->type, ctx->protocol);
	if (!proto)
		return 1;
	port = ctx->src_port;
	if (!reserved_anywhere(proto, port))
		return 1;
	netns = bpf_get_netns_cookie(ctx);
	pp = port_entry(netns, proto, port);
	if (!pp)
		return 1;
	ss = bpf_sk_storage_get(&portrsv_socks, ctx, 0, 0);
	if (ss && ss->allow_port == port) {
		port_busy(netns, proto, port, false); /* bound: whatever held it is gone */
		return 1;
	}
	return deny((__u64)ctx, netns, proto, port, ctx->family, resv_of(netns, proto, pp->start),
		    pp->start,
		    PORTRSV_EACCES);
}

SEC("cgroup/post_bind4")
int portrsv_post4(struct bpf_sock *ctx)
{
	return check_post_bind(ctx);
}

SEC("cgroup/post_bind6")
int portrsv_post6(struct bpf_sock *ctx)
{
	return check_post_bind(ctx);
}

/*
 * Runtime reservations (abi.h, "Runtime reservations"). A block is claimed port by port in
 * portrsv_rt_ports with BPF_NOEXIST, so two acquirers never share a port whatever the
 * interleaving; the cgroup's share of the pool is reserved first with a compare-and-swap,
 * so no interleaving passes the limit either. Everything a failed acquire claimed is given
 * back before it returns.
 */

/* Give back the pool ports [start, start + count) that token has. */
struct unclaim_ctx {
	__u64 netns;
	__u64 token;
	__u16 start;
	__u8 proto;
};

static long unclaim_step(__u32 i, struct unclaim_ctx *c)
{
	struct portrsv_key key = { .netns = c->netns, .port = c->start + i, .proto = c->proto };
	__u64 *t = bpf_map_lookup_elem(&portrsv_rt_ports, &key);

	/* Only token's owner deletes its entries, and nobody writes over one (NOEXIST). */
	if (t && *t == c->token)
		bpf_map_delete_elem(&portrsv_rt_ports, &key);
	return 0;
}

static __always_inline void unclaim(__u64 netns, __u8 proto, __u16 start, __u16 count,
				    __u64 token)
{
	struct unclaim_ctx c = { .netns = netns, .token = token, .start = start, .proto = proto };

	bpf_loop(count, unclaim_step, &c, 0);
}

/* The ports one cgroup holds of one pool: reserve count of them within limit (0: none). */
static __always_inline int usage_get(__u64 netns, __u8 proto, __u16 pool, __u64 cgid,
				     __u32 count, __u32 limit)
{
	struct portrsv_usage_key k = { .netns = netns, .cgid = cgid, .pool = pool, .proto = proto };
	__u32 zero = 0, *u, cur;

	u = bpf_map_lookup_elem(&portrsv_rt_usage, &k);
	if (!u) {
		bpf_map_update_elem(&portrsv_rt_usage, &k, &zero, BPF_NOEXIST);
		u = bpf_map_lookup_elem(&portrsv_rt_usage, &k);
		if (!u)
			return PORTRSV_ENOSPC;
	}
	for (int i = 0; i < 16; i++) {
		cur = *u;
		if (limit && cur + count > limit)
			return PORTRSV_EDQUOT;
		if (__sync_val_compare_and_swap(u, cur, cur + count) == cur)
			return 0;
	}
	return PORTRSV_EDQUOT; /* contended past reason: refuse rather than pass the limit */
}

static __always_inline void usage_put(__u64 netns, __u8 proto, __u16 pool, __u64 cgid,
				      __u32 count)
{
	struct portrsv_usage_key k = { .netns = netns, .cgid = cgid, .pool = pool, .proto = proto };
	__u32 *u = bpf_map_lookup_elem(&portrsv_rt_usage, &k), cur;

	if (!u)
		return;
	for (int i = 0; i < 16; i++) {
		cur = *u;
		if (__sync_val_compare_and_swap(u, cur, cur > count ? cur - count : 0) == cur)
			return;
	}
}

/* End the runtime reservation of token: whoever deletes its entry first gives back the rest. */
static __always_inline void rt_end(__u64 token)
{
	struct portrsv_rt *rt = bpf_map_lookup_elem(&portrsv_runtime, &token), c;

	if (!rt)
		return;
	c = *rt;
	if (bpf_map_delete_elem(&portrsv_runtime, &token))
		return;
	unclaim(c.netns, c.proto, c.start, c.count, token);
	usage_put(c.netns, c.proto, c.pool, c.cgid, c.count);
}

enum { CLAIM_SEARCH, CLAIM_TAKE, CLAIM_UNDO };

struct claim_ctx {
	__u64 netns;
	__u64 token;
	__u64 cgid;
	__u32 uid;
	__u16 want;        /* the block's start; 0 = any block of count */
	__u16 count;
	__u16 pools[PORTRSV_MAX_POOLS_SCAN];
	__u32 npools;
	__u32 pi;          /* the pool being searched, or the next one when pool_count is 0 */
	__u16 pool;        /* its start */
	__u16 pool_count;  /* 0: not in a pool */
	__u32 off;         /* the candidate block's offset in the pool */
	__u32 i;           /* ports of the candidate seen (SEARCH), claimed (TAKE), undone */
	__u32 undo;        /* ports to give back (UNDO) */
	__u8 proto;
	__u8 mode;
	__u8 done;
	__u8 eligible;     /* some pool let us search it: failing is EADDRINUSE */
	__u8 quota;        /* some pool refused for its limit */
	__u8 perm;         /* some pool refused for uid */
};

/*
 * Zero, as far as the verifier can tell anything. Linux 6.1's verifier checks a bpf_loop
 * callback once, with the state of the first call: a field of claim_ctx that starts as the
 * constant 0 is taken to be 0 in every call, and the code behind a test of it is removed as
 * dead (newer kernels verify callbacks as called any number of times). Fields the callback
 * changes start from this instead: a value in .bss is not a constant to the verifier.
 */
volatile __u32 opaque_zero;

/* Start searching pool pi, if the caller may take count ports of it. */
static __always_inline void enter_pool(struct claim_ctx *c)
{
	__u16 pool = c->pools[c->pi & (PORTRSV_MAX_POOLS_SCAN - 1)];
	struct portrsv_resv *r = resv_of(c->netns, c->proto, pool);
	__u32 off = c->want ? c->want - pool : 0;
	int err;

	c->pi++;
	if (!r || !(r->flags & PORTRSV_F_POOL))
		return;
	if (off + c->count > r->count) {
		c->eligible = 1; /* wildcard: the pool is smaller than the block */
		return;
	}
	if (!r->limit && c->uid != 0) {
		c->perm = 1;
		return;
	}
	err = usage_get(c->netns, c->proto, pool, c->cgid, c->count, r->limit);
	if (err) {
		c->quota |= err == PORTRSV_EDQUOT;
		return;
	}
	c->eligible = 1;
	c->pool = pool;
	c->pool_count = r->count;
	c->off = off;
	c->i = 0;
	c->mode = CLAIM_SEARCH;
}

/* The candidate failed at port i: the next one past it, or the next pool. */
static __always_inline void next_candidate(struct claim_ctx *c)
{
	c->off += c->i + 1;
	c->i = 0;
	c->mode = CLAIM_SEARCH;
	if (!c->want && c->off + c->count <= c->pool_count)
		return;
	usage_put(c->netns, c->proto, c->pool, c->cgid, c->count);
	c->pool_count = 0;
}

/* Is pool port free: no runtime reservation has it, and no socket still holds it? */
static __always_inline bool pool_port_free(struct claim_ctx *c, __u16 port)
{
	struct portrsv_port *pp = port_entry(c->netns, c->proto, port);

	return pp && pp->start == c->pool && !pp->refs && !rt_port_token(c->netns, c->proto, port);
}

static long claim_step(__u32 n, struct claim_ctx *c)
{
	struct portrsv_key key = { .netns = c->netns, .proto = c->proto };
	__u16 port;

	if (!c->pool_count) {
		if (c->pi >= c->npools)
			return 1;
		enter_pool(c);
		return 0;
	}
	port = c->pool + c->off + c->i;
	key.port = port;
	switch (c->mode) {
	case CLAIM_SEARCH:
		if (!pool_port_free(c, port)) {
			next_candidate(c);
			return 0;
		}
		if (++c->i == c->count) {
			c->mode = CLAIM_TAKE;
			c->i = 0;
		}
		return 0;
	case CLAIM_TAKE:
		/* Checked again: a socket may have bound it since the search. */
		if (pool_port_free(c, port) &&
		    !bpf_map_update_elem(&portrsv_rt_ports, &key, &c->token, BPF_NOEXIST)) {
			if (++c->i == c->count) {
				c->done = 1;
				return 1;
			}
			return 0;
		}
		c->mode = CLAIM_UNDO;
		c->undo = c->i;
		c->i = 0;
		return 0;
	default:
		if (c->i < c->undo) {
			unclaim_step(c->i, &(struct unclaim_ctx){ .netns = c->netns, .token = c->token,
				     .start = c->pool + c->off, .proto = c->proto });
			c->i++;
			return 0;
		}
		c->i = c->undo;
		next_candidate(c);
		return 0;
	}
}

/* The cgroup v2 id of the socket of a sockopt call: its limit counts it. */
static __always_inline __u64 sockopt_cgroup_id(struct bpf_sockopt *ctx)
{
	__u64 sk = 0;

	bpf_probe_read_kernel(&sk, sizeof(sk),
			      (void *)ctx + bpf_core_field_offset(struct bpf_sockopt_kern, sk));
	return sock_cgroup_id(sk);
}

static __always_inline int sockopt_fail(struct bpf_sockopt *ctx, int err)
{
	bpf_set_retval(-err);
	return 0;
}

/* Consumed: the protocol never sees SOL_PORTRSV. */
static __always_inline int sockopt_done(struct bpf_sockopt *ctx)
{
	ctx->optlen = -1;
	return 1;
}

static __always_inline int rt_acquire(struct bpf_sockopt *ctx, struct bpf_sock *sk, __u8 proto)
{
	struct portrsv_acquire_req *req = ctx->optval;
	struct claim_ctx c = {};
	struct portrsv_acq *acq;
	struct portrsv_resv *r;
	struct portrsv_port *pp;
	struct portrsv_rt rt = {};
	__u32 slot = PORTRSV_RT_PER_SOCKET;
	__u64 token;
	int err;

	if (ctx->optlen != sizeof(*req) || (void *)(req + 1) > ctx->optval_end)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	token = req->token;
	c.want = req->start;
	c.count = req->count;
	if (!c.count || !token || req->pad || (__u32)c.want + c.count - 1 > PORTRSV_PORT_MAX)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	if (!proto)
		return sockopt_fail(ctx, PORTRSV_EOPNOTSUPP);
	/* The caller's random token must be no other reservation's. */
	if (bpf_map_lookup_elem(&portrsv_tokens, &token) ||
	    bpf_map_lookup_elem(&portrsv_runtime, &token))
		return sockopt_fail(ctx, PORTRSV_EEXIST);
	acq = bpf_sk_storage_get(&portrsv_acquired, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!acq)
		return sockopt_fail(ctx, PORTRSV_ENOSPC);
	for (__u32 i = 0; i < PORTRSV_RT_PER_SOCKET; i++)
		if (!acq->tokens[i] && slot == PORTRSV_RT_PER_SOCKET)
			slot = i;
	if (slot >= PORTRSV_RT_PER_SOCKET)
		return sockopt_fail(ctx, PORTRSV_ENOSPC);

	/* What claim_step changes starts unknown to the verifier (opaque_zero). */
	c.pi = c.off = c.i = c.undo = c.npools = opaque_zero;
	c.pool = c.pool_count = opaque_zero;
	c.mode = c.done = c.eligible = c.quota = c.perm = opaque_zero;
	c.netns = bpf_get_netns_cookie(ctx);
	c.proto = proto;
	c.token = token;
	c.uid = (__u32)bpf_get_current_uid_gid();
	c.cgid = sockopt_cgroup_id(ctx);
	if (c.want) {
		pp = port_entry(c.netns, proto, c.want);
		r = pp ? resv_of(c.netns, proto, pp->start) : NULL;
		if (!r || !(r->flags & PORTRSV_F_POOL) ||
		    (__u32)c.want + c.count > (__u32)pp->start + r->count)
			return sockopt_fail(ctx, PORTRSV_ENOENT); /* not inside one pool */
		c.pools[0] = pp->start;
		c.npools = 1;
	} else {
		struct portrsv_key lk = { .netns = c.netns, .proto = proto };
		struct portrsv_pool_list *pl = bpf_map_lookup_elem(&portrsv_pools, &lk);

		if (!pl || !pl->n)
			return sockopt_fail(ctx, PORTRSV_ENOENT);
		__builtin_memcpy(c.pools, pl->start, sizeof(c.pools));
		c.npools = pl->n < PORTRSV_MAX_POOLS_SCAN ? pl->n : PORTRSV_MAX_POOLS_SCAN;
	}

	bpf_loop(1 << 20, claim_step, &c, 0);
	if (!c.done) {
		if (c.pool_count) { /* the loop's bound, in the middle of a candidate */
			unclaim(c.netns, proto, c.pool + c.off, c.count, token);
			usage_put(c.netns, proto, c.pool, c.cgid, c.count);
		}
		err = c.eligible ? PORTRSV_EADDRINUSE : c.quota ? PORTRSV_EDQUOT :
		      c.perm ? PORTRSV_EPERM : PORTRSV_ENOSPC;
		return sockopt_fail(ctx, err);
	}

	rt.netns = c.netns;
	rt.cgid = c.cgid;
	rt.created_ns = bpf_ktime_get_boot_ns();
	rt.tgid = bpf_get_current_pid_tgid() >> 32;
	rt.start = c.pool + c.off;
	rt.count = c.count;
	rt.pool = c.pool;
	rt.proto = proto;
	bpf_get_current_comm(rt.comm, sizeof(rt.comm));
	err = bpf_map_update_elem(&portrsv_runtime, &token, &rt, BPF_NOEXIST);
	if (err) {
		unclaim(c.netns, proto, rt.start, c.count, token);
		usage_put(c.netns, proto, c.pool, c.cgid, c.count);
		return sockopt_fail(ctx, err == -17 ? PORTRSV_EEXIST : PORTRSV_ENOSPC);
	}
	/*
	 * A delete closes the pool (clears PORTRSV_F_POOL), then looks for its runtime
	 * reservations: this one is either seen there, or sees the pool closed now.
	 */
	r = resv_of(c.netns, proto, c.pool);
	if (!r || !(r->flags & PORTRSV_F_POOL)) {
		rt_end(token);
		return sockopt_fail(ctx, PORTRSV_ENOENT);
	}
	acq->tokens[slot & (PORTRSV_RT_PER_SOCKET - 1)] = token;
	acq->last = slot;
	return sockopt_done(ctx);
}

/* End a runtime reservation of this socket's; another socket's is EPERM. */
static __always_inline int rt_release(struct bpf_sockopt *ctx, struct bpf_sock *sk)
{
	struct portrsv_acq *acq = bpf_sk_storage_get(&portrsv_acquired, sk, 0, 0);
	__u64 token, *val = ctx->optval;

	if (ctx->optlen != sizeof(token) || (void *)(val + 1) > ctx->optval_end)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	token = *val;
	if (!token)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	for (__u32 i = 0; acq && i < PORTRSV_RT_PER_SOCKET; i++) {
		if (acq->tokens[i] != token)
			continue;
		acq->tokens[i] = 0;
		if (!bpf_map_lookup_elem(&portrsv_runtime, &token))
			return sockopt_fail(ctx, PORTRSV_ENOENT); /* ended by unload meanwhile */
		rt_end(token);
		return sockopt_done(ctx);
	}
	if (bpf_map_lookup_elem(&portrsv_runtime, &token))
		return sockopt_fail(ctx, PORTRSV_EPERM);
	return sockopt_fail(ctx, PORTRSV_ENOENT);
}

static __always_inline int associate(struct bpf_sockopt *ctx, struct bpf_sock *sk, __u8 proto)
{
	struct portrsv_sock *ss;
	struct portrsv_token *t;
	struct portrsv_resv *r;
	struct portrsv_rt *rt;
	__u64 token, *val = ctx->optval, netns;

	if (ctx->optlen != sizeof(token) || (void *)(val + 1) > ctx->optval_end)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	token = *val;
	if (token == PORTRSV_TOKEN_INVALID)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	if (!proto) /* neither TCP nor UDP: no port space, a wrong argument (WSAEINVAL) */
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	netns = bpf_get_netns_cookie(ctx);
	t = bpf_map_lookup_elem(&portrsv_tokens, &token);
	if (t) {
		if (t->resv.netns != netns || t->resv.proto != proto)
			return sockopt_fail(ctx, PORTRSV_ENOENT);
		r = resv_of(t->resv.netns, proto, t->resv.port);
		if (!r || r->token != token)
			return sockopt_fail(ctx, PORTRSV_ENOENT);
	} else {
		rt = bpf_map_lookup_elem(&portrsv_runtime, &token);
		if (!rt || rt->netns != netns || rt->proto != proto)
			return sockopt_fail(ctx, PORTRSV_ENOENT);
		/* Windows' process-level security: only the acquiring process. */
		if (rt->tgid != bpf_get_current_pid_tgid() >> 32)
			return sockopt_fail(ctx, PORTRSV_EACCES);
	}
	ss = bpf_sk_storage_get(&portrsv_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!ss)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	ss->token = token;
	return sockopt_done(ctx);
}

SEC("cgroup/setsockopt")
int portrsv_sockopt(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	__u8 proto;

	if (ctx->level != SOL_PORTRSV)
		return 1;
	if (!sk)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	proto = port_space(sk->type, sk->protocol);
	switch (ctx->optname) {
	case PORTRSV_SO_ASSOCIATE:
		return associate(ctx, sk, proto);
	case PORTRSV_SO_ACQUIRE:
		return rt_acquire(ctx, sk, proto);
	case PORTRSV_SO_RELEASE:
		return rt_release(ctx, sk);
	default:
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	}
}

/* getsockopt(SOL_PORTRSV, PORTRSV_SO_ACQUIRED): the socket's last acquired block. */
SEC("cgroup/getsockopt")
int portrsv_getsockopt(struct bpf_sockopt *ctx)
{
	struct portrsv_acquire_req *out = ctx->optval;
	struct bpf_sock *sk = ctx->sk;
	struct portrsv_acq *acq;
	struct portrsv_rt *rt;
	__u64 token;

	if (ctx->level != SOL_PORTRSV)
		return 1; /* everything else is left as the kernel answered it */
	if (!sk || ctx->optname != PORTRSV_SO_ACQUIRED)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	if (ctx->optlen < (int)sizeof(*out) || (void *)(out + 1) > ctx->optval_end)
		return sockopt_fail(ctx, PORTRSV_EINVAL);
	acq = bpf_sk_storage_get(&portrsv_acquired, sk, 0, 0);
	if (!acq)
		return sockopt_fail(ctx, PORTRSV_ENOENT);
	token = acq->tokens[acq->last & (PORTRSV_RT_PER_SOCKET - 1)];
	rt = token ? bpf_map_lookup_elem(&portrsv_runtime, &token) : NULL;
	if (!rt)
		return sockopt_fail(ctx, PORTRSV_ENOENT);
	out->token = token;
	out->start = rt->start;
	out->count = rt->count;
	out->pad = 0;
	ctx->optlen = sizeof(*out);
	bpf_set_retval(0);
	return 1;
}

#define TCP_STATE_CLOSE 7
#define TCP_STATE_LISTEN 10

SEC("cgroup/sock_release")
int portrsv_release(struct bpf_sock *ctx)
{
	struct portrsv_sock *ss = bpf_sk_storage_get(&portrsv_socks, ctx, 0, 0);
	struct portrsv_acq *acq = bpf_sk_storage_get(&portrsv_acquired, ctx, 0, 0);
	__u64 netns;

	/* The runtime reservations this socket acquired end with it. */
	for (__u32 i = 0; acq && i < PORTRSV_RT_PER_SOCKET; i++) {
		__u64 token = acq->tokens[i];

		if (token) {
			acq->tokens[i] = 0;
			rt_end(token);
		}
	}
	if (!ss || !ss->held_port)
		return 1;
	netns = bpf_get_netns_cookie(ctx);
	/* A TCP socket closed while connected leaves its port to FIN_WAIT/TIME_WAIT. */
	if (ss->held_proto == PORTRSV_PROTO_TCP && ctx->state != TCP_STATE_CLOSE &&
	    ctx->state != TCP_STATE_LISTEN)
		port_busy(netns, ss->held_proto, ss->held_port, true);
	port_put(netns, ss->held_proto, ss->held_port);
	return 1;
}

/* Find the offset in path just past the first level components ("/a/b/c", 1 -> "/b/c"). */
struct skip_ctx {
	const char *path;
	__u32 level;  /* components still to skip */
	__u32 off;    /* offset of the '/' that starts the rest, once level is 0 */
};

static long skip_step(__u32 i, struct skip_ctx *c)
{
	char ch;

	if (i >= MKDIR_PATH_LEN)
		return 1;
	ch = c->path[i & (MKDIR_PATH_LEN - 1)];
	if (!ch)
		return 1;
	if (ch == '/' && i > 0 && c->level-- == 1) {
		c->off = i;
		return 1;
	}
	return 0;
}

/* One level of the anchor search: is the anchor the new cgroup's ancestor at level l? */
struct level_ctx {
	__u64 cg;
	__u64 want;
	int level;  /* the new cgroup's level: the anchor is strictly above */
	int found;  /* the anchor's level, or -1 */
};

static long level_step(__u32 l, struct level_ctx *c)
{
	if ((int)l >= c->level)
		return 1;
	if (ancestor_id(c->cg, l) == c->want) {
		c->found = (int)l;
		return 1;
	}
	return 0;
}

struct mkdir_ctx {
	__u64 cg;
	__u64 id;
	int level;
	int path_len;             /* of s->path, once read: 0 not yet, -1 unusable */
	const char *path;         /* the tracepoint's (kernel memory) */
	struct mkdir_scratch *s;
};

/* One anchor: the new cgroup's path below it, looked up among the owners. */
static long anchor_step(__u32 i, struct mkdir_ctx *m)
{
	struct level_ctx lc = { .cg = m->cg, .level = m->level, .found = -1 };
	struct skip_ctx c = { .path = m->s->path };
	struct portrsv_owner o = { .cgid = m->id };
	__u64 *anchor = bpf_map_lookup_elem(&portrsv_anchors, &i);
	__u32 *slot;
	int n;

	if (!anchor || !*anchor)
		return 0;
	lc.want = *anchor;
	bpf_loop(PORTRSV_OWNER_DEPTH, level_step, &lc, 0);
	if (lc.found < 0)
		return 0;
	/* The path only now: most cgroups are made where no owner is. */
	if (!m->path_len) {
		m->path_len = bpf_probe_read_kernel_str(m->s->path, sizeof(m->s->path), m->path);
		if (m->path_len <= 1 || m->path_len >= MKDIR_PATH_LEN)
			m->path_len = -1;
	}
	if (m->path_len < 0)
		return 1;
	if (lc.found > 0) {
		c.level = lc.found;
		bpf_loop(MKDIR_PATH_LEN, skip_step, &c, 0);
		if (c.level || !c.off)
			return 0;
	}
	__builtin_memset(&m->s->key, 0, sizeof(m->s->key));
	m->s->key.anchor = lc.want;
	/* A path that fills the key may have been cut: user space allows one char less. */
	n = bpf_probe_read_kernel_str(m->s->key.path, sizeof(m->s->key.path),
				      m->path + (c.off & (MKDIR_PATH_LEN - 1)));
	if (n <= 1 || n >= (int)sizeof(m->s->key.path))
		return 0;
	slot = bpf_map_lookup_elem(&portrsv_owner_paths, &m->s->key);
	if (slot && *slot)
		bpf_map_update_elem(&portrsv_owners, slot, &o, BPF_ANY);
	return 0;
}

/*
 * A cgroup was made: if its path below an anchor is an owner's, that owner is now this
 * cgroup. The tracepoint fires inside mkdir, under the cgroup mutex that attaching a task
 * also takes, so no task (no socket) is in the new cgroup before its slot names it. Only the
 * cgroup v2 hierarchy (hierarchy id 0) counts: a v1 cgroup at the same path is not the owner.
 * A path the kernel had to truncate (TRACE_CGROUP_PATH_LEN) is ignored.
 */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(portrsv_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct mkdir_ctx m = { .cg = (__u64)cgrp, .path = path };
	__u32 zero = 0;

	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	m.s = bpf_map_lookup_elem(&portrsv_mkdir_scratch, &zero);
	if (!m.s)
		return 0;
	m.level = BPF_CORE_READ(cgrp, level);
	m.id = BPF_CORE_READ(cgrp, kn, id);
	bpf_loop(PORTRSV_MAX_ANCHORS, anchor_step, &m, 0);
	return 0;
}

/*
 * cgroup/sysctl: the kernel's own port choice, guarded in the kernel (SPEC rule 12; the
 * rules and worked examples are in abi.h, "The sysctl guard"). A write of
 * net/ipv4/ip_local_reserved_ports at offset 0 replaces the netns's bitmap: this program
 * makes it "WRITTEN,RANGES" so that portrsv's ports of that netns stay reserved whatever the
 * writer (sysctl --system, root of a user namespace) put there. What does not fit, or what
 * cannot be checked, is refused: never a write that drops portrsv's ports.
 *
 * The netns is the one whose table is written, found from the table's header: its set is
 * the struct net's sysctls. Read with bpf_probe_read_kernel at CO-RE offsets (Linux 6.1
 * has no bpf_rdonly_cast), like in_owner_cgroup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* readers see the old value or the new, whole */
	__uint(max_entries, PORTRSV_MAX_GUARDS);
	__type(key, __u64);
	__type(value, struct portrsv_sysctl_guard);
} portrsv_sysctl SEC(".maps");

/* The value being built. Per CPU, and the program may be preempted: busy says so. */
struct sysctl_scratch {
	__u32 busy;
	__u32 pad;
	char buf[2 * PORTRSV_GUARD_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sysctl_scratch);
} portrsv_sysctl_buf SEC(".maps");

/* In .rodata: the skeleton shows it, and it is what a write must name. */
const volatile char sysctl_name[] = PORTRSV_SYSCTL_NAME;

/* The cookie of the netns that owns the sysctl table being written; 0 if unknown. */
static __always_inline __u64 sysctl_netns(struct bpf_sysctl *ctx)
{
	__u64 head = 0, set = 0, cookie = 0;

	bpf_probe_read_kernel(&head, sizeof(head),
			      (void *)ctx + bpf_core_field_offset(struct bpf_sysctl_kern, head));
	if (!head)
		return 0;
	bpf_probe_read_kernel(&set, sizeof(set),
			      (void *)(head + bpf_core_field_offset(struct ctl_table_header, set)));
	if (!set)
		return 0;
	bpf_probe_read_kernel(&cookie, sizeof(cookie),
			      (void *)(set - bpf_core_field_offset(struct net, sysctls) +
				       bpf_core_field_offset(struct net, net_cookie)));
	return cookie;
}

struct scan_ctx {
	__u32 n;    /* bytes the writer wrote */
	__u32 eff;  /* up to the first NUL, trailing white space left out */
};

static long scan_step(__u32 i, struct scan_ctx *s)
{
	__u32 zero = 0;
	struct sysctl_scratch *b = bpf_map_lookup_elem(&portrsv_sysctl_buf, &zero);
	char c;

	if (!b || i >= s->n)
		return 1;
	c = b->buf[i & (PORTRSV_GUARD_LEN - 1)];
	if (!c)
		return 1;
	if (c != ' ' && c != '\n' && c != '\t')
		s->eff = i + 1;
	return 0;
}

static __always_inline int sysctl_refuse(struct sysctl_scratch *b)
{
	if (b)
		b->busy = 0;
	return 0; /* EPERM for the writer; the sysctl keeps its value */
}

SEC("cgroup/sysctl")
int portrsv_sysctl_write(struct bpf_sysctl *ctx)
{
	struct portrsv_sysctl_guard *g;
	struct scan_ctx s = {};
	struct sysctl_scratch *b;
	char name[sizeof(sysctl_name) + 1];
	__u64 len, total, off; /* 64-bit: Linux 6.1's verifier bounds a size by 64-bit compares */
	__u32 zero = 0;
	__u64 netns;
	long n;

	if (!ctx->write || ctx->file_pos)
		return 1; /* a read, or a write the kernel ORs in: neither removes a port */
	n = bpf_sysctl_get_name(ctx, name, sizeof(name), 0);
	if (n != sizeof(sysctl_name) - 1)
		return 1;
	for (int i = 0; i < sizeof(sysctl_name) - 1; i++)
		if (name[i] != sysctl_name[i])
			return 1;
	netns = sysctl_netns(ctx);
	if (!netns)
		return 0; /* cannot tell whose ports: refuse */
	g = bpf_map_lookup_elem(&portrsv_sysctl, &netns);
	if (!g || (!g->len && !(g->flags & PORTRSV_GUARD_TOO_LONG)))
		return 1; /* portrsv reserves nothing in this netns */
	/* portrsv's own write: the whole bitmap, its ports included (abi.h, writer_tgid). */
	if (g->writer_tgid && g->writer_tgid == (__u32)(bpf_get_current_pid_tgid() >> 32))
		return 1;
	if (g->flags & (PORTRSV_GUARD_TOO_LONG | PORTRSV_GUARD_NO_REWRITE))
		return 0; /* cannot keep portrsv's ports in the value: refuse (abi.h) */
	len = g->len;
	if (len >= PORTRSV_GUARD_LEN)
		return 0;

	b = bpf_map_lookup_elem(&portrsv_sysctl_buf, &zero);
	if (!b || __sync_val_compare_and_swap(&b->busy, 0, 1) != 0)
		return 0;
	/* -E2BIG: the writer's value fills a page (the kernel would parse a part of it). */
	n = bpf_sysctl_get_new_value(ctx, b->buf, PORTRSV_GUARD_LEN);
	if (n < 0 || n >= PORTRSV_GUARD_LEN)
		return sysctl_refuse(b);
	s.n = n;
	bpf_loop(n, scan_step, &s, 0);
	total = s.eff ? s.eff + 1 + len : len;
	if (total > PORTRSV_SYSCTL_VALUE_MAX || s.eff >= PORTRSV_GUARD_LEN)
		return sysctl_refuse(b);
	/* total <= PORTRSV_SYSCTL_VALUE_MAX: the masks change nothing, they tell the verifier. */
	off = s.eff & (PORTRSV_GUARD_LEN - 1);
	if (off)
		b->buf[off++] = ',';
	off &= PORTRSV_GUARD_LEN - 1;
	len &= PORTRSV_GUARD_LEN - 1;
	bpf_probe_read_kernel(b->buf + off, len, g->ranges);
	if (total == 0 || total > PORTRSV_SYSCTL_VALUE_MAX)
		return sysctl_refuse(b);
	/*
	 * Linux 6.1's verifier learns nothing from "total != 0", and a size must be at least 1:
	 * (total - 1) & 0xfff + 1 is total, in a form it can bound (the asm keeps the compiler
	 * from folding it back).
	 */
	total -= 1;
	asm volatile("%0 &= 0xfff" : "+r"(total));
	total += 1;
	if (bpf_sysctl_set_new_value(ctx, b->buf, total))
		return sysctl_refuse(b);
	b->busy = 0;
	return 1;
}
