/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * portrsv kernel <-> user ABI: the one place where ports, tokens, map layouts, the socket
 * option and the errno values are defined. Included by the BPF programs (after vmlinux.h)
 * and by user space (after <linux/types.h>).
 *
 * Matching rules, with worked examples (all ports in host order):
 *
 *   A reservation is (netns cookie, proto, start, count) -> token. It is stored twice:
 *   - portrsv_resv, keyed by {netns, proto, start}: the reservation itself;
 *   - portrsv_ports, keyed by {netns, proto, port}, one entry for every port of the block,
 *     whose value names the block's start. So "which reservation covers tcp/5003 in netns N"
 *     is two hash lookups, whatever the number of reservations: {N, tcp, 5003} -> start 5000
 *     -> {N, tcp, 5000} -> token, count, owner.
 *   - portrsv_tokens maps token -> {netns, proto, start}, for association.
 *
 *   Reservation tcp 5000+20 in netns N with token T:
 *     bind(5003) from netns N, socket associated with T      -> allowed
 *     bind(5003) from netns N, not associated, not in owner  -> EACCES
 *     bind(5003) from another netns M                        -> allowed (not reserved in M)
 *     bind(5003) of a UDP socket                             -> allowed (TCP and UDP apart)
 *     bind(0) associated with T                              -> a free port of 5000..5019
 *     bind(5020) associated with T                           -> allowed (outside every block)
 *
 *   Proto is the IP protocol number of the port space: 6 (TCP, MPTCP included) or 17 (UDP).
 *   No zero value means "any": a key with proto 0 or port 0 never matches, and token 0 is
 *   never stored (PORTRSV_TOKEN_INVALID).
 */
#ifndef PORTRSV_ABI_H
#define PORTRSV_ABI_H

/* Ports and blocks. A block is valid when start >= 1, count >= 1, start + count - 1 <= 65535. */
#define PORTRSV_PORT_MIN 1
#define PORTRSV_PORT_MAX 65535

/* INVALID_PORT_RESERVATION_TOKEN on Windows. Never the token of a reservation. */
#define PORTRSV_TOKEN_INVALID 0ULL

/* Port spaces, IP protocol numbers. MPTCP sockets (IPPROTO_MPTCP) use the TCP space. */
#define PORTRSV_PROTO_TCP 6
#define PORTRSV_PROTO_UDP 17
#define PORTRSV_IPPROTO_MPTCP 262

/*
 * Association: setsockopt(fd, SOL_PORTRSV, PORTRSV_SO_ASSOCIATE, &token, sizeof(__u64)).
 * Consumed by the cgroup/setsockopt program, never reaches the protocol. Errors:
 *   ENOENT      no reservation with this token in the socket's netns and port space
 *   EINVAL      optlen is not 8, or the token is 0
 *   ENOPROTOOPT portrsv's programs do not enforce the socket's cgroup (the level is unknown
 *               to the kernel itself)
 */
#define SOL_PORTRSV 0x70727376 /* "prsv" */
#define PORTRSV_SO_ASSOCIATE 1

/*
 * Runtime reservations (SPEC "Runtime reservations"; Windows' SIO_ACQUIRE_PORT_RESERVATION),
 * carved out of pools (persistent reservations with PORTRSV_F_POOL) by the BPF programs, with
 * no daemon and no privilege:
 *   setsockopt(fd, SOL_PORTRSV, PORTRSV_SO_ACQUIRE, &req, sizeof(req))
 *       acquire req.count ports from req.start (0: any free block of that size in a pool of
 *       the socket's netns and protocol, first fit, pools in creation order) with token req.token
 *       (the caller's getrandom() bytes; the program refuses one already in use, EEXIST);
 *   getsockopt(fd, SOL_PORTRSV, PORTRSV_SO_ACQUIRED, &req, &len)
 *       the block and token of the last acquire on this socket (ENOENT: none alive);
 *   setsockopt(fd, SOL_PORTRSV, PORTRSV_SO_RELEASE, &token, sizeof(__u64))
 *       end one of this socket's runtime reservations (EPERM: another socket acquired it).
 * Errors of acquire: EINVAL (count 0, block past 65535, token 0, optlen), EOPNOTSUPP (not a
 * TCP/UDP socket), ENOENT (no pool covers the block / no pool in this netns and protocol),
 * EADDRINUSE (a port of the block is taken, or no free block of that size), EDQUOT (the
 * socket's cgroup would hold more than the pool's limit), EPERM (uid not 0 on a pool without
 * limit), ENOSPC (the socket holds PORTRSV_RT_PER_SOCKET already, or the maps are full),
 * EEXIST (token in use). A cgroup portrsv does not enforce gets ENOPROTOOPT from the kernel.
 *
 * A port of a pool is taken when a runtime reservation has it (portrsv_rt_ports, claimed
 * with BPF_NOEXIST: two acquirers never get the same port) or when a socket still holds it
 * (refs, from a reservation that ended while the socket stayed bound). A bind of a pool
 * port is allowed only to a socket associated with the token of the runtime reservation
 * that has the port; association with a runtime token only from the acquiring process
 * (EACCES). The reservation ends when the acquiring socket is closed (sock_release), when
 * it is released, or at unload; the sockets bound to its ports keep them until they close.
 *
 *   Pool tcp 7000+100, limit 20. Process A (cgroup C) acquires start 0 count 10 on socket S:
 *     -> 7000+10, token T. A binds a second socket associated with T to port 0 -> 7000.
 *     B (another process) associates with T -> EACCES; binds 7005 -> EACCES.
 *     A acquires 7005+5 -> EADDRINUSE; 7010+11 -> EDQUOT (C would hold 21 > 20).
 *     close(S): 7000+10 is free again; A's second socket stays bound to 7000 until closed.
 */
#define PORTRSV_SO_ACQUIRE 2
#define PORTRSV_SO_ACQUIRED 3
#define PORTRSV_SO_RELEASE 4

struct portrsv_acquire_req {
	__u64 token;
	__u16 start;  /* in: 0 = wildcard; out: the block's first port */
	__u16 count;
	__u32 pad;    /* zero */
};

#define PORTRSV_RT_PER_SOCKET 4 /* runtime reservations one socket may hold at once */
#define PORTRSV_MAX_RUNTIME 16384
#define PORTRSV_MAX_USAGE 16384 /* (pool, cgroup) pairs holding runtime reservations */
#define PORTRSV_MAX_POOLS_SCAN 16 /* pools of one netns and protocol (ENOSPC past them) */
#define PORTRSV_MAX_POOL_LISTS 4096 /* netns x protocol with pools */

/*
 * portrsv_pools: the pools of one netns and protocol, for a wildcard acquire (a walk of
 * portrsv_resv would visit every bucket of it). Keyed like portrsv_resv with port 0, kept by
 * user space with the reservations (create, delete, restore rebuilds it). A pool missing
 * from it only fails wildcard acquires; one listed that is gone is checked in portrsv_resv.
 */
struct portrsv_pool_list {
	__u32 n;
	__u16 start[PORTRSV_MAX_POOLS_SCAN];
	__u16 pad[2];
};

/* Value of portrsv_runtime, keyed by token. */
struct portrsv_rt {
	__u64 netns;      /* netns cookie */
	__u64 cgid;       /* cgroup of the acquiring socket (whose limit it counts against) */
	__u64 created_ns; /* bpf_ktime_get_boot_ns at acquire */
	__u32 tgid;       /* the acquiring process: the only one that may associate */
	__u16 start;
	__u16 count;
	__u16 pool;       /* start of the pool it is carved from */
	__u16 cursor;     /* next-fit offset of the next bind(0) */
	__u8 proto;
	__u8 pad[7];
	char comm[16];    /* of the acquiring process */
};

/* Key of portrsv_rt_usage: how many ports one cgroup holds of one pool (value __u32). */
struct portrsv_usage_key {
	__u64 netns;
	__u64 cgid;
	__u16 pool;
	__u8 proto;
	__u8 pad[5];
};

/* Value of the socket-local storage portrsv_acquired: the acquiring socket's reservations. */
struct portrsv_acq {
	__u64 tokens[PORTRSV_RT_PER_SOCKET]; /* 0 = free slot */
	__u32 last;                          /* slot of the last acquire */
	__u32 pad;
};

/* errno values the BPF programs return through bpf_set_retval (checked against <errno.h>). */
#define PORTRSV_EACCES 13
#define PORTRSV_EINVAL 22
#define PORTRSV_ENOENT 2
#define PORTRSV_EADDRINUSE 98
#define PORTRSV_EPERM 1
#define PORTRSV_EEXIST 17
#define PORTRSV_ENOSPC 28
#define PORTRSV_EOPNOTSUPP 95
#define PORTRSV_EDQUOT 122

/* Key of portrsv_ports (port = the port) and of portrsv_resv (port = the block's start). */
struct portrsv_key {
	__u64 netns;  /* netns cookie (SO_NETNS_COOKIE / bpf_get_netns_cookie) */
	__u16 port;
	__u8 proto;   /* PORTRSV_PROTO_TCP or PORTRSV_PROTO_UDP */
	__u8 pad[5];  /* zero */
};

/* Value of portrsv_ports. */
struct portrsv_port {
	__u16 start;  /* first port of the covering reservation */
	__u16 flags;  /* PORTRSV_PORT_ADMIN */
	__u32 refs;   /* sockets holding this port (bound or allocated); 0 = free for bind(0) */
};

/* The port was in ip_local_reserved_ports before portrsv put it there: never removed. */
#define PORTRSV_PORT_ADMIN (1U << 0)
/* The kernel may still hold the port although no socket of ours does (TIME_WAIT after a
 * connection, a bind that failed): bind(0) takes it only when no other port is free. Set
 * and cleared by the BPF programs only (bpf/portrsv.bpf.c, alloc_step). */
#define PORTRSV_PORT_BUSY (1U << 1)

/* Reservation flags. */
#define PORTRSV_F_PERSISTENT (1U << 0) /* stored, restored at boot */
#define PORTRSV_F_RUNTIME    (1U << 1) /* lives with the acquiring socket, never stored */
#define PORTRSV_F_POOL       (1U << 2) /* persistent; its ports go only to runtime reservations */

#define PORTRSV_COMMENT_LEN 64

/* Value of portrsv_resv. */
struct portrsv_resv {
	__u64 token;
	__u64 reserved;      /* 0 (0.1.0's owner cgroup id: the layout is kept, so that a load
			      * upgrades pinned maps in place; restore.c rewrites old entries) */
	__u64 netns_ino;     /* inode of the netns (as in net:[ino]), for display */
	__u64 created;       /* seconds since the epoch */
	__u64 denied;        /* binds refused, counted by the BPF programs */
	__u32 owner;         /* slot in portrsv_owners whose cgroup binds without token; 0 = none
			      * (where 0.1.0 kept the owner's depth: ignored while reserved is
			      * set, until the upgrade's apply rewrites the entry) */
	__u32 limit;         /* pools: the most ports the sockets of one cgroup may hold in
			      * runtime reservations of it; 0 = only uid 0 acquires, no limit */
	__u32 flags;         /* PORTRSV_F_* */
	__u16 count;
	__u16 cursor;        /* next-fit offset of the next bind(0) allocation */
	char comment[PORTRSV_COMMENT_LEN];
};

/*
 * Owner cgroups follow their path, not their id (a service restart or a boot makes a new id).
 *
 *   portrsv_owner_paths  {anchor, path} -> slot   every owner path in use
 *   portrsv_owners       slot -> {cgid}           the cgroup now at that path (0: none yet)
 *   portrsv_anchors      i -> anchor              the anchors of the paths above
 *
 * The anchor is the cgroup v2 id of the directory the path starts from: the root of the
 * cgroup v2 mount portrsv saw (the hierarchy's root, or a cgroup namespace's root). The path
 * is the owner below it, "/system.slice/nginx.service", NUL-padded: the kernel compares whole
 * keys, so a path that merely hashes alike never matches. A program on the cgroup_mkdir
 * tracepoint looks up every cgroup v2 directory made below an anchor and, when its path is
 * an owner's, writes its id into the slot before any task can enter it. User space fills a
 * slot when it creates or restores an owner. A slot whose cgroup is gone holds a dead id,
 * which matches no socket: the block is then enforced for everyone (fail closed).
 */
#define PORTRSV_OWNER_PATH_LEN 256  /* path below the anchor, NUL included */
#define PORTRSV_MAX_OWNERS 4096     /* slots; slot 0 means "no owner" */
#define PORTRSV_MAX_ANCHORS 4
#define PORTRSV_OWNER_DEPTH 32      /* cgroup levels searched; a deeper socket is no owner's */

struct portrsv_owner_key {
	__u64 anchor;
	char path[PORTRSV_OWNER_PATH_LEN];
};

/* Value of portrsv_owners. Slot 0 ("no owner") holds instead the last slot handed out. */
struct portrsv_owner {
	__u64 cgid; /* cgroup v2 id now at the path; 0 = none seen yet */
};

/* Value of portrsv_tokens. */
struct portrsv_token {
	struct portrsv_key resv; /* key of the reservation in portrsv_resv */
};

/* Value of the socket-local storage portrsv_socks. */
struct portrsv_sock {
	__u64 token;       /* associated token; 0 = none */
	__u16 held_port;   /* port whose refs this socket holds; 0 = none */
	__u16 allow_port;  /* port bind4 allowed (checked again by post_bind); 0 = none */
	__u8 held_proto;
	__u8 pad[3];
};

/*
 * Denied binds reach every running monitor: each has a ring buffer of its own, made when it
 * starts (so it sees what happens from then on), in slot i of portrsv_monitors (a hash of
 * maps, claimed with BPF_NOEXIST); the programs write each event into every slot's buffer
 * and count in portrsv_monitor_slots[i].lost the events a full buffer could not take.
 */
#define PORTRSV_MAX_MONITORS 8

struct portrsv_monitor_slot {
	__u64 lost;        /* events the slot's buffer had no room for (BPF programs) */
	__u64 start_time;  /* of the monitor process (/proc/PID/stat field 22), for liveness */
	__u64 pidns;       /* inode of its pid namespace: pid means something only there */
	__u32 pid;
	__u32 pad;
};

/* Event emitted to the monitors' ring buffers for every denied bind. */
struct portrsv_event {
	__u64 ts_boot_ns;  /* bpf_ktime_get_boot_ns */
	__u64 cgid;        /* the socket's cgroup (not the binding task's) */
	__u64 netns;
	__u64 token;       /* token of the refusing reservation */
	__u32 pid;
	__u32 uid;
	__u16 port;
	__u16 resv_start;
	__u16 resv_count;
	__u8 proto;
	__u8 family;       /* AF_INET or AF_INET6 */
	__s32 err;         /* positive errno returned to the caller */
	char comm[16];
};

/* Value of portrsv_denials, keyed like portrsv_ports: the last refused bind of a port, for
 * `portrsv why`. An LRU map: the ports refused least recently are forgotten first. */
struct portrsv_denial {
	__u64 ts_boot_ns;
	__u64 cgid;
	__u64 count;       /* binds of this port refused since its entry was made */
	__u32 pid;
	__u32 uid;
	char comm[16];
};

#define PORTRSV_COMM_LEN 16 /* a task's comm: TASK_COMM_LEN, 15 bytes and the NUL */
/* A container id (portrsv_create_opts.container): [A-Za-z0-9][A-Za-z0-9_.-]{0,126} and the NUL. */
#define PORTRSV_CONTAINER_LEN 128

/*
 * Value of portrsv_creators, keyed like portrsv_resv: who created a persistent reservation,
 * for `bpftool map dump` and `portrsv why`. Written by user space only (no program reads
 * it): on create, and from the store (its "by=" field, portrsv-store(5)) on every restore
 * and load, which also drop entries whose reservation is gone; deleted with the
 * reservation. The cgroup's path lives in the store; cgid is the id of the cgroup at that
 * path when the entry was written (0: there was none). token tells an entry from a stale one
 * of an earlier reservation at the same key.
 */
struct portrsv_creator {
	__u64 token;
	__u64 cgid;
	__u32 uid;                     /* real uid of the creating process */
	char comm[PORTRSV_COMM_LEN];   /* its command, NUL-terminated */
	__u32 pad;
};

/*
 * Map capacities. Hash maps are not preallocated: memory follows what is reserved, plus a
 * bucket array of 16 bytes per entry of capacity (2 MiB for the ports). 131072 ports hold
 * every port of both protocols of one netns; a create past them fails with ENOSPC.
 */
#define PORTRSV_MAX_PORTS 131072  /* reserved ports, all netns and protocols together */
#define PORTRSV_MAX_RESV  32768
#define PORTRSV_EVENTS_BYTES (256 * 1024)
#define PORTRSV_MAX_DENIALS 4096

/*
 * Names under $PORTRSV_PIN_DIR. Maps are pinned by these names; programs under progs/;
 * links under links/<cgroup id>/<program>.
 */
#define PORTRSV_PIN_DIR_DEFAULT "/sys/fs/bpf/portrsv"
#define PORTRSV_STATE_DIR_DEFAULT "/var/lib/portrsv"
#define PORTRSV_PIN_PORTS  "ports"
#define PORTRSV_PIN_RESV   "reservations"
#define PORTRSV_PIN_TOKENS "tokens"
#define PORTRSV_PIN_SOCKS  "sockets"
#define PORTRSV_PIN_EVENTS "events" /* before 0.2: one ring buffer; unload still removes it */
#define PORTRSV_PIN_MONITORS "monitors"
#define PORTRSV_PIN_MONITOR_SLOTS "monitor_slots"
#define PORTRSV_PIN_ANY    "reserved_anywhere"
#define PORTRSV_PIN_DENIALS "denials"
#define PORTRSV_PIN_OWNER_PATHS "owner_paths"
#define PORTRSV_PIN_OWNERS "owners"
#define PORTRSV_PIN_ANCHORS "anchors"
#define PORTRSV_PIN_SYSCTL "sysctl_guard"
#define PORTRSV_PIN_RUNTIME "runtime"
#define PORTRSV_PIN_RT_PORTS "runtime_ports"
#define PORTRSV_PIN_RT_USAGE "runtime_usage"
#define PORTRSV_PIN_ACQUIRED "acquired"
#define PORTRSV_PIN_POOLS "pools"
#define PORTRSV_PIN_CREATORS "creators" /* since 0.2; a load over older pins makes it */

/*
 * portrsv_any: an array, index PORTRSV_ANY_INDEX(proto, port), value = how many
 * reservations in any netns cover that port. A bind to a port with 0 here is outside every
 * reservation: the programs answer it without the netns cookie and the hash lookup. User
 * space raises a count before the port's entry exists and lowers it after the entry is gone,
 * so a count is never too low; restore recounts.
 */
#define PORTRSV_ANY_INDEX(proto, port) \
	((__u32)((proto) == PORTRSV_PROTO_UDP) * (PORTRSV_PORT_MAX + 1) + (port))
#define PORTRSV_ANY_ENTRIES (2 * (PORTRSV_PORT_MAX + 1))

/*
 * The sysctl guard (SPEC rule 12). Autobind (listen() without bind, connect(), sendto(), TCP
 * Fast Open, MPTCP) never reaches post_bind: net.ipv4.ip_local_reserved_ports of the netns is
 * its only guard. The cgroup/sysctl program keeps portrsv's ports in every value written to it
 * by a process in an enforced cgroup: the value written becomes "WRITTEN,RANGES", RANGES being
 * portrsv_sysctl's entry for the netns whose table is written (not the writer's netns: an fd
 * may be passed, or kept across setns).
 *
 *   portrsv_sysctl: netns cookie -> struct portrsv_sysctl_guard, kept up to date by user space
 *   whenever the ports of the netns change (raised before the sysctl is written on add,
 *   lowered before the sysctl is written on delete: portrsv's own write would otherwise get
 *   the deleted ports back). No entry, or len 0: the write is left alone.
 *
 *   Reservations tcp 5000+10 and udp 6000+1 in netns N: ranges "5000-5009,6000".
 *     write "80,443\n" at offset 0  -> the kernel gets "80,443,5000-5009,6000"
 *     write "\n" (clear)            -> "5000-5009,6000"
 *     write "80 \n\n"               -> "80,5000-5009,6000" (trailing white space goes)
 *     write "80\0junk"              -> "80,5000-5009,6000" (the value ends at a NUL; alone,
 *                                      the kernel would refuse this one with EINVAL)
 *     write at an offset > 0        -> left alone: the kernel ORs such a write into the
 *                                      bitmap, it cannot remove a port
 *     a read                        -> left alone
 *   Fail closed: when the combined value does not fit in PORTRSV_SYSCTL_VALUE_MAX bytes (the
 *   kernel parses one page of a write), when the writer's own value fills a page, or when
 *   RANGES did not fit in the entry (PORTRSV_GUARD_TOO_LONG), the write is refused (EPERM)
 *   and the sysctl keeps its value; the same when the program's scratch buffer of this CPU
 *   is in use (a preempted writer).
 *
 *   portrsv's own write is left alone: it is the whole bitmap (the administrator's ports and
 *   portrsv's), so appending RANGES again would halve what fits. Right before it writes,
 *   user space sets writer_tgid to its tgid (in the initial pid namespace, where
 *   bpf_get_current_pid_tgid() counts; elsewhere it leaves it 0) and clears it right after;
 *   a write whose writer's tgid equals a non-zero writer_tgid is not changed. The guard is
 *   raised before that write on add, lowered before it on delete, as always, so no write
 *   ever drops a port. Only the instance's own tgid matches: a process in a container has
 *   another global pid, and the map is writable only with BPF privileges. Limit: a portrsv
 *   killed between set and clear leaves its tgid there until the next change of the
 *   netns's ports (portrsv_guard_sync writes the entry whole, writer_tgid 0; restore does
 *   at boot); until then a process that gets that pid back is not appended to. What
 *   portrsv itself writes must fit PORTRSV_SYSCTL_VALUE_MAX bytes (user space refuses a
 *   longer value, E2BIG, before writing: the kernel would apply its first page); another
 *   writer's value, with ",RANGES" appended, must fit the same. Another instance's guard
 *   still appends its ranges to this instance's write.
 *
 *   Several instances (pin directories) in one netns: a port leaves the sysctl only when no
 *   instance's portrsv_sysctl entry for the netns has it in ranges (user space finds the other
 *   instances' maps by name, PORTRSV_GUARD_MAP_NAME) and the administrator did not have it
 *   there first ("admin", the ports that were in the sysctl before any instance reserved
 *   them; PORTRSV_GUARD_ADMIN_TOO_LONG: treat every port as the administrator's).
 */
#define PORTRSV_GUARD_LEN 4096         /* ranges and admin, NUL included */
#define PORTRSV_SYSCTL_VALUE_MAX 4095  /* PAGE_SIZE - 1 on 4 KiB pages: the smallest */
#define PORTRSV_MAX_GUARDS 4096        /* netns with reservations, per instance */
#define PORTRSV_GUARD_TOO_LONG (1U << 0)
#define PORTRSV_GUARD_ADMIN_TOO_LONG (1U << 1)
/*
 * The kernel drops the value a cgroup/sysctl program sets (bpf_sysctl_set_new_value): since
 * Linux 5.16 __cgroup_bpf_run_filter_sysctl tested the programs' verdict as 1 where the prog
 * array now returns 0, until the stable fixes of 2026 (Debian's 6.12.95 still has the bug;
 * its 6.1.192 and 6.18 do not). Then appending is impossible and the guard refuses (EPERM)
 * every write but portrsv's own in a netns where portrsv reserves ports: fail closed, the
 * administrator writes from outside the enforced cgroups, or lets portrsv merge. User space
 * probes it once per load (a write in a netns of a child of its own) and keeps the answer in
 * the entry of netns cookie 0 (no netns has it) with PORTRSV_GUARD_PROBED.
 */
#define PORTRSV_GUARD_NO_REWRITE (1U << 2)
#define PORTRSV_GUARD_PROBED (1U << 3)
#define PORTRSV_GUARD_MAP_NAME "portrsv_sysctl" /* the map's name, as bpf_map_info has it */
#define PORTRSV_SYSCTL_NAME "net/ipv4/ip_local_reserved_ports"

struct portrsv_sysctl_guard {
	__u32 len;                        /* bytes of ranges, NUL excluded */
	__u32 flags;                      /* PORTRSV_GUARD_* */
	__u32 writer_tgid;                /* portrsv's own write in flight: leave it alone */
	__u32 pad;
	char ranges[PORTRSV_GUARD_LEN];   /* portrsv's ports in the netns, "5000-5009,6000" */
	char admin[PORTRSV_GUARD_LEN];    /* those the administrator had there first */
};

/* Windows return codes (winerror.h values), re-exported by <portrsv/iphlpapi.h>. */
#define PORTRSV_WIN_NO_ERROR                 0
#define PORTRSV_WIN_ERROR_ACCESS_DENIED      5
#define PORTRSV_WIN_ERROR_GEN_FAILURE        31
#define PORTRSV_WIN_ERROR_SHARING_VIOLATION  32
#define PORTRSV_WIN_ERROR_INVALID_PARAMETER  87
#define PORTRSV_WIN_ERROR_SERVICE_NOT_ACTIVE 1062
#define PORTRSV_WIN_ERROR_NOT_FOUND          1168
#define PORTRSV_WIN_ERROR_NOT_ENOUGH_QUOTA   1816

/* Exit status of the command. */
#define PORTRSV_EXIT_OK       0
#define PORTRSV_EXIT_FAILURE  1
#define PORTRSV_EXIT_USAGE    2
#define PORTRSV_EXIT_CONFLICT 3
#define PORTRSV_EXIT_NOTFOUND 4
#define PORTRSV_EXIT_PERM     5
#define PORTRSV_EXIT_NOTLOADED 6

/* The native API reports "portrsv's programs are not loaded" as -PORTRSV_ENOTLOADED. */
#define PORTRSV_ENOTLOADED ENOPKG

/*
 * The one errno mapping: native API errno -> Windows code -> exit status. Any errno not
 * listed is ERROR_GEN_FAILURE and exit 1.
 *   EEXIST      the block overlaps a reservation
 *   EADDRINUSE  a port of the block is in use
 *   EDQUOT      runtime: the cgroup would hold more ports of the pool than its limit. Windows
 *               says ERROR_NOT_ENOUGH_QUOTA; exit 3 like EADDRINUSE, as the caller's answer
 *               is the same (wait for ports to come back, or ask for fewer)
 *   ENOPROTOOPT runtime: no portrsv program answers the socket option (not loaded, or the
 *               cgroup is not enforced): ERROR_SERVICE_NOT_ACTIVE and exit 6, as for a
 *               library call made while portrsv is not loaded
 * ENOSPC (maps full, or the socket holds PORTRSV_RT_PER_SOCKET runtime reservations) and
 * EOPNOTSUPP (not a TCP/UDP socket, which `portrsv run` never makes) stay unlisted:
 * ERROR_GEN_FAILURE and exit 1.
 */
#define PORTRSV_ERRNO_MAP(X)                                                            \
	X(0,                  PORTRSV_WIN_NO_ERROR,                 PORTRSV_EXIT_OK)        \
	X(EPERM,              PORTRSV_WIN_ERROR_ACCESS_DENIED,      PORTRSV_EXIT_PERM)      \
	X(EACCES,             PORTRSV_WIN_ERROR_ACCESS_DENIED,      PORTRSV_EXIT_PERM)      \
	X(EEXIST,             PORTRSV_WIN_ERROR_SHARING_VIOLATION,  PORTRSV_EXIT_CONFLICT)  \
	X(EADDRINUSE,         PORTRSV_WIN_ERROR_SHARING_VIOLATION,  PORTRSV_EXIT_CONFLICT)  \
	X(EINVAL,             PORTRSV_WIN_ERROR_INVALID_PARAMETER,  PORTRSV_EXIT_USAGE)     \
	X(ERANGE,             PORTRSV_WIN_ERROR_INVALID_PARAMETER,  PORTRSV_EXIT_USAGE)     \
	X(PORTRSV_ENOTLOADED, PORTRSV_WIN_ERROR_SERVICE_NOT_ACTIVE, PORTRSV_EXIT_NOTLOADED) \
	X(ENOENT,             PORTRSV_WIN_ERROR_NOT_FOUND,          PORTRSV_EXIT_NOTFOUND)  \
	X(EDQUOT,             PORTRSV_WIN_ERROR_NOT_ENOUGH_QUOTA,   PORTRSV_EXIT_CONFLICT)  \
	X(ENOPROTOOPT,        PORTRSV_WIN_ERROR_SERVICE_NOT_ACTIVE, PORTRSV_EXIT_NOTLOADED)

/* Winsock error codes (winerror.h WSAE* values), re-exported by <portrsv/mstcpip.h>. */
#define PORTRSV_WSAEINTR           10004
#define PORTRSV_WSAEBADF           10009
#define PORTRSV_WSAEACCES          10013
#define PORTRSV_WSAEFAULT          10014
#define PORTRSV_WSAEINVAL          10022
#define PORTRSV_WSAENOTSOCK        10038
#define PORTRSV_WSAENOPROTOOPT     10042
#define PORTRSV_WSAEOPNOTSUPP      10045
#define PORTRSV_WSAEAFNOSUPPORT    10047
#define PORTRSV_WSAEADDRINUSE      10048
#define PORTRSV_WSAEADDRNOTAVAIL   10049
#define PORTRSV_WSAENOBUFS         10055
#define PORTRSV_WSAEDQUOT          10069
#define PORTRSV_WSASYSCALLFAILURE  10107

/*
 * The one errno -> Winsock mapping, for WSAIoctl() (<portrsv/mstcpip.h>): errno of
 * portrsv_acquire / portrsv_associate / portrsv_release -> WSAGetLastError(). Any errno not
 * listed is WSASYSCALLFAILURE (Winsock's "a system call failed").
 *   EPERM       release from another socket than the acquiring one, uid not 0 on a pool
 *               without limit: Windows' access check, WSAEACCES
 *   ENOENT      no pool covers the block, no reservation has the token: the block is not
 *               available here, WSAEADDRNOTAVAIL
 *   EEXIST      the random token is in use (the library retries; seen only if that fails)
 *   ENOSPC      the socket holds PORTRSV_RT_PER_SOCKET reservations, or the maps are full
 */
#define PORTRSV_WSA_MAP(X)                        \
	X(0,            0)                        \
	X(EINTR,        PORTRSV_WSAEINTR)         \
	X(EBADF,        PORTRSV_WSAEBADF)         \
	X(EACCES,       PORTRSV_WSAEACCES)        \
	X(EPERM,        PORTRSV_WSAEACCES)        \
	X(EFAULT,       PORTRSV_WSAEFAULT)        \
	X(EINVAL,       PORTRSV_WSAEINVAL)        \
	X(ERANGE,       PORTRSV_WSAEINVAL)        \
	X(ENOTSOCK,     PORTRSV_WSAENOTSOCK)      \
	X(ENOPROTOOPT,  PORTRSV_WSAENOPROTOOPT)   \
	X(EOPNOTSUPP,   PORTRSV_WSAEOPNOTSUPP)    \
	X(EAFNOSUPPORT, PORTRSV_WSAEAFNOSUPPORT)  \
	X(EADDRINUSE,   PORTRSV_WSAEADDRINUSE)    \
	X(EEXIST,       PORTRSV_WSAEADDRINUSE)    \
	X(ENOENT,       PORTRSV_WSAEADDRNOTAVAIL) \
	X(ENOSPC,       PORTRSV_WSAENOBUFS)       \
	X(ENOMEM,       PORTRSV_WSAENOBUFS)       \
	X(ENOBUFS,      PORTRSV_WSAENOBUFS)       \
	X(EDQUOT,       PORTRSV_WSAEDQUOT)

#endif /* PORTRSV_ABI_H */
