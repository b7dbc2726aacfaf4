/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Library internals shared by the files of user/ and the command; never installed. */
#ifndef PORTRSV_INTERNAL_H
#define PORTRSV_INTERNAL_H

#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include "portrsv.h"

#define PORTRSV_HIDDEN __attribute__((visibility("hidden")))

/* Is an options struct acceptable: NULL, or sz covering what we know with zeroes past it. */
#define OPTS_VALID(opts, type) \
	(!(opts) || portrsv_opts_valid((opts), offsetof(struct type, type##__last_field) + \
				       sizeof((opts)->type##__last_field), (opts)->sz))
#define OPTS_GET(opts, field, fallback)                                          \
	(((opts) && (opts)->sz >= offsetof(__typeof__(*(opts)), field) + sizeof((opts)->field)) \
		 ? (opts)->field : (fallback))
bool portrsv_opts_valid(const void *opts, size_t known, size_t sz);

struct portrsv {
	int ports_fd;
	int resv_fd;
	int tokens_fd;
	int any_fd;
	int owner_paths_fd;
	int owners_fd;
	int anchors_fd;
	int rt_fd;       /* portrsv_runtime; -1 where the loaded version has none */
	int creators_fd; /* portrsv_creators; -1 where the loaded version has none */
	struct portrsv_creator_cache *creator_cache; /* creator.c */
	struct portrsv_store *held; /* portrsv_store_hold: read once, under held_lock */
	int held_lock;
	int held_err; /* the held copy could not be read again after a failed write */
	char pin_dir[PATH_MAX];
	char state_dir[PATH_MAX];
};

/*
 * Hold the store's lock and one copy of it across several changes of one handle (the CNI
 * plugin's ADD and DEL: a container's blocks, found and changed with one read of a store of
 * thousands). portrsv_create and portrsv_delete then use the held copy and keep it equal
 * to the file; no other process changes the store meanwhile. 0 or -errno (message set).
 * While it is held, nothing else that changes the store may be called on any handle of the
 * process (portrsv_gc, restore, load, attach, detach): they take the lock themselves, and a
 * second flock() of it waits on the first for ever.
 */
int portrsv_store_hold(struct portrsv *p);
void portrsv_store_unhold(struct portrsv *p);

/* $PORTRSV_PIN_DIR / $PORTRSV_STATE_DIR with their defaults, when arg is NULL. */
const char *portrsv_pin_dir(const char *arg);
const char *portrsv_state_dir(const char *arg);

/* lib.c */
bool portrsv_proto_valid(int proto);
/* Detail of the last failure in this thread (fmt NULL clears it); portrsv_errmsg() reads it. */
void portrsv_set_errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Set the detail and return err: `return portrsv_fail(-EINVAL, "count 0 ...")`. */
int portrsv_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The common argument checks of the API, each failure with its detail set: 0 or -errno. */
int portrsv_check_proto(int proto);
int portrsv_check_block(uint32_t start, uint32_t count);
int portrsv_check_container(const char *id); /* a container id the store takes */
/* runtime.c: the detail for a socket that has no port space (neither TCP nor UDP). */
void portrsv_sock_not_ours(int sockfd);
#define portrsv_check_opts(opts, type) \
	(OPTS_VALID(opts, type) ? 0 : portrsv_fail(-EINVAL, "struct " #type ": sz %zu is too " \
			"small, or sets fields this library does not know", (opts)->sz))
int portrsv_reserve(struct portrsv *p, uint64_t netns, int proto, uint16_t start,
		    struct portrsv_resv *r, uint64_t *token);
/* One reservation of a batch: in, proto start r token (0 = new); out, token and err. */
struct portrsv_item {
	int proto;
	uint16_t start;
	struct portrsv_resv r;
	uint64_t token;
	int err;
	uint32_t claimed; /* ports inserted, for the undo */
	/*
	 * in: apply, a stored reservation re-applied (restore, load): a port in use does not
	 * fail it (rule 7: the sockets bound before keep working, everyone else is refused);
	 * out: busy, how many of its ports were in use then.
	 */
	bool apply;
	uint32_t busy;
	int unguarded; /* out, apply mode: the sysctl could not take its ports (-errno) */
};
int portrsv_reserve_batch(struct portrsv *p, uint64_t netns, struct portrsv_item *items,
			  size_t n);
/* The sysctl or sock_diag failed in apply mode: its items were applied, not checked. */
#define PORTRSV_BATCH_UNCHECKED 1
int portrsv_unreserve(struct portrsv *p, const struct portrsv_key *k,
		      const struct portrsv_resv *r, bool sysctl);
void portrsv_release_ports(struct portrsv *p, uint64_t netns, int proto, uint16_t start,
			   uint32_t n, bool sysctl);
/* Raise (+1) or lower (-1) the count of reservations covering (proto, port) anywhere. */
int portrsv_any_add(struct portrsv *p, int proto, uint16_t port, int delta);
/* Recount portrsv_any from the ports map (restore: after a crash a count may be high). */
int portrsv_any_recount(struct portrsv *p);
struct portrsv_store;
/* The store's lock and contents for one change: returns the lock fd, or -errno. */
int portrsv_store_begin(const char *state_dir, struct portrsv_store *s);
int portrsv_store_commit(const char *state_dir, struct portrsv_store *s);
int portrsv_by_token(struct portrsv *p, uint64_t token, struct portrsv_reservation *out);
void portrsv_store_end(int lock, struct portrsv_store *s);

/* pool.c: the runtime reservations of the pool at k (netns, proto, start): how many, how
 * many ports, and up to npids of their acquiring pids (distinct). 0 entries where the
 * runtime map is not pinned. */
struct portrsv_pool_use {
	uint32_t runtime;
	uint32_t ports;
	uint32_t npids;
	uint32_t pids[8];
	bool more_pids; /* pids past those 8 */
};
int portrsv_pool_use(struct portrsv *p, const struct portrsv_key *k, struct portrsv_pool_use *u);

/* escape.c: text from outside, for a terminal, the journal or JSON (escape.c explains). */
size_t portrsv_escape(const char *in, char *out, size_t cap);
void portrsv_json_string(FILE *f, const char *s);
/* The same JSON string, handed to put piece by piece (the command's JSON writer). */
void portrsv_json_escape(const char *s, void (*put)(void *ctx, const char *b, size_t n),
			 void *ctx);

/* denylog.c: denied binds as journal lines, rate-limited (denylog.c explains). */
struct portrsv_denylog {
	unsigned rate, burst; /* lines per second, and at once */
	double tokens;
	uint64_t last_ns;     /* CLOCK_MONOTONIC of the last take */
	uint64_t folded;      /* lines not written since the last folded line */
};
void portrsv_denylog_init(struct portrsv_denylog *d, unsigned rate, unsigned burst);
/* May a line be written at now_ns? If not, it is counted as folded. */
bool portrsv_denylog_take(struct portrsv_denylog *d, uint64_t now_ns);
/* The "N more denied binds folded" line into buf, and the count back to 0; 0 when none. */
int portrsv_denylog_folded(struct portrsv_denylog *d, char *buf, size_t len);
/* One denial's line (p may be NULL: no comment); snprintf's result. */
int portrsv_denylog_line(struct portrsv *p, const struct portrsv_event *e, char *buf, size_t len);

/* creator.c: who created a persistent reservation (abi.h portrsv_creators, the store's by=). */
struct portrsv_store_creator;
/* The calling process: its real uid, comm, and cgroup v2 path into cg (c->cgroup = cg). */
int portrsv_creator_self(struct portrsv_store_creator *c, char *cg, size_t len);
/* Write the map's entry of the reservation at k (a no-op where the map is not pinned). */
int portrsv_creator_put(struct portrsv *p, const struct portrsv_key *k, uint64_t token,
			const struct portrsv_store_creator *c);
/* Delete it, when it is that of the reservation of token. */
void portrsv_creator_drop(struct portrsv *p, const struct portrsv_key *k, uint64_t token);
struct portrsv_store;
/* Make the map equal to the store's creators of the reservations in the kernel (restore). */
int portrsv_creator_sync(struct portrsv *p, const struct portrsv_store *s);
void portrsv_creator_cache_free(struct portrsv *p);

/* poolindex.c: portrsv_pools (abi.h), the pools of each netns and protocol. */
int portrsv_pool_index(struct portrsv *p, uint64_t netns, int proto, uint16_t start, bool add);
/* Rebuild it from the reservations (restore). */
int portrsv_pool_reindex(struct portrsv *p);

/* sysctl.c: ip_local_reserved_ports of the calling thread's netns, as a 65536-bit map. */
int portrsv_sysctl_read(unsigned char *bits);
int portrsv_sysctl_write(struct portrsv *p, uint64_t netns, const unsigned char *bits);
/* "1,5-9" <-> bitmap: parse ORs into bits; format returns the length or -ENOSPC. */
int portrsv_ranges_parse(const char *s, unsigned char *bits);
int portrsv_ranges_format(const unsigned char *bits, char *buf, size_t cap);
/* The sysctl guard (abi.h): set portrsv_sysctl's entry of netns from this instance's ports. */
/* Does the kernel keep a cgroup/sysctl program's new value (abi.h, NO_REWRITE)? Probed
 * once per load. */
bool portrsv_sysctl_rewrites(struct portrsv *p);
int portrsv_guard_sync(struct portrsv *p, uint64_t netns);
/* The same after a change of the ports of one block only: the entry as it is, those ports
 * set from the ports map (a walk of the whole map per add cost 2 ms with 10,000 stored).
 * A block larger than PORTRSV_GUARD_CHANGE_MAX, or an entry that is missing or was cut
 * short, gets portrsv_guard_sync. */
#define PORTRSV_GUARD_CHANGE_MAX 256
int portrsv_guard_change(struct portrsv *p, uint64_t netns, int proto, uint16_t start,
			 uint32_t count);
/* Ports other instances hold in netns, and those they know were the administrator's. */
int portrsv_guard_others(struct portrsv *p, uint64_t netns, unsigned char *held,
			 unsigned char *admin);

/* parse.c: strict parsing of untrusted text; each returns 0 or -EINVAL / -ERANGE. */
int portrsv_parse_proto(const char *s, enum portrsv_proto *proto);
const char *portrsv_proto_name(int proto);
int portrsv_parse_port(const char *s, uint16_t *port);   /* 1..65535 */
int portrsv_parse_count(const char *s, uint16_t *count); /* 1..65535 */
int portrsv_parse_u64(const char *s, uint64_t *v);       /* decimal or 0x hex */
/* A container id: [A-Za-z0-9][A-Za-z0-9_.-]{0,126} (PORTRSV_CONTAINER_LEN). */
bool portrsv_container_valid(const char *s);
/* 0, or -EINVAL/-ERANGE when (start, count) is not a block inside 1..65535. */
int portrsv_block_valid(uint32_t start, uint32_t count);
/* A block the one way every output writes it: "8080-8089", or "8080" for one port. */
void portrsv_block_format(uint16_t start, uint16_t count, char *buf, size_t len);
/* Do blocks [a, a+na) and [b, b+nb) share a port? */
bool portrsv_blocks_overlap(uint32_t a, uint32_t na, uint32_t b, uint32_t nb);

/* errors.c: the lookups of PORTRSV_ERRNO_MAP; err may be negative or positive. */
unsigned long portrsv_errno_to_win(int err);
int portrsv_errno_to_exit(int err);
/* The lookup of PORTRSV_WSA_MAP (WSAIoctl's codes); err may be negative or positive. */
unsigned long portrsv_errno_to_wsa(int err);

/* cgroup.c */
/* Decode a mountinfo field in place: \040 is a space, \011 a tab, ... */
void portrsv_mountinfo_unescape(char *s);
/* The cgroup v2 mount point, from /proc/self/mountinfo, into buf. -ENOENT if none. */
int portrsv_cgroup2_mount(char *buf, size_t len);
/* Id and depth below the cgroup v2 root of a cgroup v2 directory. -ENOENT, or -EINVAL if not a cgroup v2 directory. */
int portrsv_cgroup_id(const char *dir, uint64_t *id, uint32_t *level);
/* The detail for dir, a cgroup argument (what: "owner", "cgroup") that failed with err:
 * "... is not a cgroup v2 directory (cgroup2 is mounted at M)", "no such directory"; err
 * back (-ENOTDIR as -EINVAL). */
int portrsv_cgroup_fail(const char *what, const char *dir, int err);
/* portrsv_cgroup_id(dir) of an argument, the detail set on failure. */
int portrsv_cgroup_check(const char *what, const char *dir);

/* owner.c: owner cgroups by path (abi.h, "Owner cgroups follow their path"). */
/* The key path of a canonical absolute cgroup v2 directory (which need not exist), and the
 * id of the cgroup v2 root it is below (anchor may be NULL). */
int portrsv_owner_rel(const char *dir, uint64_t *anchor, char *rel, size_t len);
/* The slot of owner dir, made if needed and filled with the id of the cgroup there now;
 * *present (may be NULL): whether there is one. */
int portrsv_owner_slot(struct portrsv *p, const char *dir, uint32_t *slot, bool *present);
/* Free the slot when no reservation uses it any more. */
void portrsv_owner_put(struct portrsv *p, uint32_t slot);
/* Free every slot no reservation uses (restore, after a crash). */
void portrsv_owner_sweep(struct portrsv *p);
/* The path of a slot's owner, the id last seen there and whether that cgroup exists. */
int portrsv_owner_of(struct portrsv *p, uint32_t slot, char *path, size_t len, uint64_t *cgid,
		     bool *present);

/* netns.c */
/* Where `ip netns add NAME` keeps a netns: a store name under it is named, may come later. */
#define PORTRSV_NETNS_RUN_DIR "/run/netns"
/* NAME of a store name /run/netns/NAME; NULL for any other. */
const char *portrsv_netns_run_name(const char *name);
/*
 * Enter the netns at path (NULL = stay) on the calling thread; *saved gets an fd of the
 * previous netns (-1 when nothing changed) for portrsv_netns_leave.
 */
int portrsv_netns_enter(const char *path, int *saved);
void portrsv_netns_leave(int saved);
/* The store's name for a netns (netns.c explains); "" for the host's. */
int portrsv_netns_name(const char *path, uint64_t ino, uint64_t cookie, char *buf, size_t len);
/* portrsv_netns_enter for a path the caller gave (opts->netns): a failure sets the detail
 * ("'/etc/passwd' is not a network namespace ..."). */
int portrsv_netns_enter_arg(const char *path, int *saved);
/* Enter a netns by its store name (NULL/"" = stay); -ENOENT when it is gone. */
int portrsv_netns_enter_name(const char *name, int *saved);
/*
 * "net:[INO]" (what show prints) or "net:[INO]:COOKIE" (what the store keeps): 0 and the
 * numbers (cookie 0 and !*has_cookie for the first), 1 when name is not of this form,
 * -EINVAL when it starts like it and is malformed.
 */
int portrsv_netns_parse_ino(const char *name, uint64_t *ino, uint64_t *cookie, bool *has_cookie);
/* Enter the live netns of inode ino and cookie (0: any), wherever something keeps it alive
 * (a process, a thread, an open nsfs file, a mount); -ENOENT when there is none. */
int portrsv_netns_enter_ino(uint64_t ino, uint64_t cookie, int *saved);
/* Cookie and inode of the calling thread's netns. */
int portrsv_netns_self(uint64_t *cookie, uint64_t *ino);

/* sockdiag.c: asked of the kernel's socket tables (TCP in any state, UDP; IPv4 and IPv6). */
/* Every port in use by a socket of proto, as a 65536-bit map (one dump for many blocks). */
int portrsv_ports_in_use_map(enum portrsv_proto proto, unsigned char *bits);
/* Each socket of proto (IPv4 and IPv6) in the states of each pass (idiag_states bits;
 * PORTRSV_DIAG_ALL: TIME_WAIT and bound-only too), until fn returns non-zero (returned). */
#define PORTRSV_DIAG_ALL (~0U)
struct inet_diag_msg;
typedef int (*portrsv_diag_fn)(const struct inet_diag_msg *d, void *ctx);
int portrsv_diag_each(enum portrsv_proto proto, const uint32_t *passes, size_t npasses,
		      portrsv_diag_fn fn, void *ctx);

/* A number macro as a string literal, for messages. */
#define PORTRSV_STR_(x) #x
#define PORTRSV_STR(x) PORTRSV_STR_(x)

/* probe.c: whether a small block is free, asked of bind() (the comment there says how). */
#define PORTRSV_PROBE_MAX 16   /* ports; a larger block is dumped for (sockdiag.c) */
#define PORTRSV_PROBE_UNSURE 1 /* bind() cannot tell: dump the socket tables */
struct portrsv_probe {
	int fds[2 * PORTRSV_PROBE_MAX];
	int n;
	uint16_t busy; /* -EADDRINUSE: the port in use */
};
/*
 * Bind every port of the block in the calling thread's netns and keep the sockets: 0, the
 * block is free and held until portrsv_probe_release; -EADDRINUSE, pr->busy is in use;
 * PORTRSV_PROBE_UNSURE, nothing is held and only a dump can tell. The caller makes sure no
 * reservation covers a port (a refused bind would be logged as a denial).
 */
int portrsv_probe_hold(int proto, uint16_t start, uint16_t count, struct portrsv_probe *pr);
/* After the claim: may the dump be skipped for a block that bind() found free? TCP only,
 * and still no VRF in the netns (probe.c). */
bool portrsv_probe_sure(int proto);
void portrsv_probe_release(struct portrsv_probe *pr);

/* proc.c: what /proc says about a process (pid 0: the caller), raw (escape to print). */
/* The whole of a small /proc file into buf, NUL-terminated; its length, or -errno. */
ssize_t portrsv_proc_read(const char *path, char *buf, size_t len);
/* Its comm, without the newline the kernel adds (one the comm holds itself is kept). */
int portrsv_proc_comm(uint32_t pid, char comm[PORTRSV_COMM_LEN]);
/* Its cgroup v2 path, the "0::" line of /proc/PID/cgroup; -ENOENT when it has none. */
int portrsv_proc_cgroup(uint32_t pid, char *cg, size_t len);

/* holders.c: who uses the ports [start, start + count) of proto in the calling thread's netns,
 * as `ss -anp` finds them: each socket, and every process that has it open (none for a
 * TIME-WAIT socket, or one whose last holder closed it meanwhile). */
struct portrsv_holder_proc {
	uint32_t pid;
	char comm[PORTRSV_COMM_LEN]; /* raw; "" when the process ended meanwhile */
	char cgroup[PATH_MAX];       /* as its /proc/PID/cgroup has it; "" when unknown */
};
struct portrsv_holder {
	uint16_t port;
	uint8_t state;               /* the kernel's TCP_* (UDP: TCP_CLOSE unconnected) */
	uint8_t family;              /* AF_INET, AF_INET6 */
	char addr[46];               /* local address, as inet_ntop writes it */
	uint32_t uid;                /* the socket's (idiag_uid) */
	uint64_t ino;                /* 0 for TIME-WAIT */
	struct portrsv_holder_proc *procs;
	size_t nprocs;
};
struct portrsv_holders {
	struct portrsv_holder *v;
	size_t n;
};
int portrsv_port_holders(enum portrsv_proto proto, uint16_t start, uint16_t count,
			 struct portrsv_holders *h);
void portrsv_holders_free(struct portrsv_holders *h);
/* A state as ss names it: "LISTEN", "ESTAB", "TIME-WAIT", "UNCONN", ... ("UNKNOWN"). */
const char *portrsv_sock_state_name(uint8_t state);
/* "nginx[1234] (LISTEN)" (its first process; "and N more processes" when it has more),
 * the comm escaped; "no process (TIME-WAIT)"; snprintf's result. */
int portrsv_holder_format(const struct portrsv_holder *h, char *buf, size_t len);

/*
 * diagnose.c: every reason a bind of (proto, port) would fail or be surprising in a netns
 * (`portrsv why`, SPEC "Diagnosis"). Text from outside (comm, cgroup, owner, comment) is kept
 * raw: escape it when printing. No token is kept anywhere in it (r.token is 0).
 */
enum portrsv_why_kind {
	PORTRSV_WHY_PERSISTENT, /* a persistent reservation */
	PORTRSV_WHY_POOL,       /* a pool's port that no runtime reservation covers */
	PORTRSV_WHY_RUNTIME,    /* a runtime reservation carved from the pool */
};
/* Whose bit the port is in ip_local_reserved_ports of the netns. */
enum portrsv_why_sysctl {
	PORTRSV_WHY_SYSCTL_CLEAR, /* not there */
	PORTRSV_WHY_SYSCTL_OURS,  /* this instance's, for its reservation: no reason of its own */
	PORTRSV_WHY_SYSCTL_ADMIN, /* the administrator's entry (there before portrsv, or alone) */
	PORTRSV_WHY_SYSCTL_OTHER, /* another portrsv instance's (another pin directory) */
};
struct portrsv_why_resv {
	enum portrsv_why_kind kind;
	struct portrsv_reservation r; /* the covering reservation (for RUNTIME its pool); token 0 */
	bool has_owner;
	bool owner_present;           /* a cgroup is at the owner's path now */
	char owner[PATH_MAX];
	bool has_creator;             /* false: a store from before creators, or unknown */
	struct portrsv_creator_info creator; /* of r (the pool, for RUNTIME) */
	bool has_denial;              /* the last refused bind of this port is remembered */
	struct portrsv_denial denial;
	char denial_cgroup[PATH_MAX]; /* the refused socket's cgroup, as /proc/PID/cgroup names
				       * it; "" when it is gone */
	struct {                      /* RUNTIME: the runtime reservation covering the port */
		uint16_t start, count;
		uint32_t pid;         /* the acquiring process */
		char comm[PORTRSV_COMM_LEN];
		uint64_t cgid;
		char cgroup[PATH_MAX]; /* of the acquiring socket, as denial_cgroup */
		uint64_t created;
	} rt;
};
struct portrsv_why {
	enum portrsv_proto proto;
	uint16_t port;
	uint64_t netns_cookie, netns_ino;   /* the netns asked about */
	bool reserved;                      /* resv is set: this instance reserves the port */
	struct portrsv_why_resv resv;
	struct portrsv_holders holders;     /* every socket of proto on the port */
	enum portrsv_why_sysctl reserved_ports; /* ip_local_reserved_ports */
	struct {
		uint32_t lo, hi;
		bool inside;   /* lo <= port <= hi */
		bool autobind; /* inside and not in ip_local_reserved_ports: autobind may take it */
	} port_range;                       /* ip_local_port_range */
	struct {
		uint32_t value;
		bool below;    /* port < value: only CAP_NET_BIND_SERVICE binds it */
	} unpriv;                           /* ip_unprivileged_port_start */
	struct portrsv_reservation *other;  /* reservations of the port in other netns; token 0 */
	size_t nother;
	/* Findings that are reasons: the reservation, each holder, an ADMIN or OTHER bit,
	 * autobind, below, each other netns's reservation. 0: the port is free. */
	unsigned reasons;
};
/*
 * Everything about (proto, port) in the netns at path (NULL: the caller's), into *w (free it
 * with portrsv_why_free, also after a failure). 0 (w->reasons 0: free), or -errno: -EINVAL
 * (bad proto, port 0, path not a netns), -ENOENT (no such path), the maps', sock_diag's or
 * the store's error (portrsv_errmsg() names the cause).
 */
int portrsv_diagnose(struct portrsv *p, enum portrsv_proto proto, uint16_t port,
		     const char *netns, struct portrsv_why *w);
void portrsv_why_free(struct portrsv_why *w);
/* "persistent", "pool", "runtime": show's words for them. */
const char *portrsv_why_kind_name(enum portrsv_why_kind k);
/* "clear", "portrsv", "admin", "other-instance". */
const char *portrsv_why_sysctl_name(enum portrsv_why_sysctl s);

/* features.c: what the running kernel lacks of what portrsv uses (6.1 lacks both). */
#define PORTRSV_IORING_OP_BIND 56 /* enum io_uring_op, Linux 6.11; newer than Debian 12's headers */
enum portrsv_feat {
	PORTRSV_FEAT_IOURING_BIND, /* io_uring's IORING_OP_BIND, Linux 6.11 */
	PORTRSV_FEAT_DIAG_BOUND,   /* sock_diag lists bound-only TCP sockets, Linux 6.8 */
	PORTRSV_FEAT_COUNT,
};
struct portrsv_feature {
	const char *name;  /* for --json */
	const char *since; /* the first Linux release that has it */
	const char *lack;  /* what is weaker without it */
};
extern const struct portrsv_feature portrsv_features[PORTRSV_FEAT_COUNT];
/* Probed by trying, once per process. */
bool portrsv_feature_present(enum portrsv_feat f);

/* dirs.c: make or check a directory that must be ours and 0700 (-EPERM if someone else's). */
int portrsv_private_dir(const char *path);
/* Check only: a real directory, ours, writable by nobody else; -EPERM (message set) if not,
 * -ENOENT when missing. */
int portrsv_dir_check(const char *path);

/* fault.c: PORTRSV_FAULT=point kills the process there; test builds only (crash tests). */
void portrsv_fault(const char *point);
/* Will portrsv_fault(point) kill? For a point that first leaves a half-done write. */
bool portrsv_faulting(const char *point);

/* load.c: the kernel side of load, attach and detach; restore.c adds the store. */
int portrsv_load_progs(const char *pin_dir, const char *const *cgroups, size_t n_cgroups,
		       bool root_default);
int portrsv_attach_progs(const char *pin_dir, const char *cgroup_dir);
int portrsv_detach_cgroup(const char *pin_dir, const char *cgroup_dir);
int portrsv_unload_progs(const char *pin_dir);
/* Is the owner tracepoint's link pinned (owners follow their path)? */
bool portrsv_owners_followed(const char *pin_dir);
/*
 * 0 when the instance enforces: maps and every program pinned, and at least one cgroup with
 * a live link on every hook. -PORTRSV_ENOTLOADED otherwise, with the message set when maps
 * are pinned (half-loaded: a load or unload was killed, or everything was detached).
 */
int portrsv_enforcing(const char *pin_dir);
/* The same, telling a complete instance attached nowhere (PORTRSV_ATTACHED_NOWHERE, message
 * set) from one with missing pins (-PORTRSV_ENOTLOADED). */
#define PORTRSV_ATTACHED_NOWHERE 1
int portrsv_enforcing_state(const char *pin_dir);

/* pins.c */
int portrsv_pin_path(char *buf, size_t len, const char *pin_dir, const char *name);
/* Open a pinned map or program; -PORTRSV_ENOTLOADED when missing, -EPERM when not ours. */
int portrsv_obj_get(const char *pin_dir, const char *name);
/* May the caller load, attach and change reservations (root or the capabilities)? */
bool portrsv_privileged(void);
/* Map of the pin-dir error of a failed open to the API's errno. */
int portrsv_pin_errno(const char *pin_dir, int err);

#endif /* PORTRSV_INTERNAL_H */
