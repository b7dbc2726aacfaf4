/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * portrsv native API: persistent port reservations enforced by cgroup BPF programs.
 *
 * Conventions, as in libbpf: int functions return 0 (or a count) on success and a negative
 * errno on failure; functions returning a pointer return NULL and set errno. Ports are in
 * host order. Options structs start with `size_t sz`, set with PORTRSV_OPTS(); a NULL
 * options pointer means all defaults. Errors common to every call:
 *   -EPERM               the caller may not read or change reservations (needs root)
 *   -PORTRSV_ENOTLOADED  portrsv's programs are not loaded (ENOPKG)
 *   -EINVAL              an argument is invalid (port or count 0, bad options, NULL output)
 *   -ERANGE              the block passes port 65535
 * Every failure of these, and of the errors each function lists, sets portrsv_errmsg() to a
 * line naming the cause (never a token). The mapping from these errno values to Windows codes and to the command's exit status is
 * PORTRSV_ERRNO_MAP in <portrsv/abi.h>.
 */
#ifndef PORTRSV_H
#define PORTRSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <linux/types.h>
#include <portrsv/abi.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PORTRSV_API
#define PORTRSV_API __attribute__((visibility("default")))
#endif

/* Declare and zero an options struct with its size set, e.g. PORTRSV_OPTS(portrsv_create_opts, o, .comment = "web"). */
#define PORTRSV_OPTS(TYPE, NAME, ...) \
	struct TYPE NAME = { .sz = sizeof(struct TYPE), __VA_ARGS__ }

enum portrsv_proto {
	PORTRSV_TCP = PORTRSV_PROTO_TCP,
	PORTRSV_UDP = PORTRSV_PROTO_UDP,
};

/* An open handle on the pinned maps of one pin directory. */
struct portrsv;

struct portrsv_open_opts {
	size_t sz;
	const char *pin_dir;   /* default: $PORTRSV_PIN_DIR, else /sys/fs/bpf/portrsv */
	const char *state_dir; /* default: $PORTRSV_STATE_DIR, else /var/lib/portrsv */
};
#define portrsv_open_opts__last_field state_dir

/*
 * Open the pinned maps. Returns NULL with errno EPERM (not privileged), PORTRSV_ENOTLOADED
 * (nothing pinned), EINVAL (bad opts) or another errno.
 */
PORTRSV_API struct portrsv *portrsv_open(const struct portrsv_open_opts *opts);
/* Close a handle; NULL is accepted. */
PORTRSV_API void portrsv_close(struct portrsv *p);

struct portrsv_create_opts {
	size_t sz;
	const char *owner_cgroup; /* cgroup v2 directory binding without token; NULL = none */
	const char *netns;        /* netns path (/run/netns/X, /proc/PID/ns/net); NULL = caller's */
	const char *comment;      /* at most PORTRSV_COMMENT_LEN - 1 bytes; NULL = none */
	bool pool;                /* a pool: its ports go only to runtime reservations */
	uint32_t limit;           /* pools: ports one cgroup may hold at once; 0 = uid 0 only */
	const char *container;    /* the container it is published for (portrsv-cni(8)):
				   * [A-Za-z0-9][A-Za-z0-9_.-]{0,126}; NULL = none */
};
#define portrsv_create_opts__last_field container

/*
 * Reserve count ports from start in the port space proto. On success stores the new token
 * in *token and returns 0. Errors: -EINVAL (start or count 0, bad proto, comment too long
 * or not one printable line, owner not a cgroup v2 directory, netns path not a network
 * namespace, a limit without pool or above count, a pool with an owner, NULL token),
 * -ERANGE (block passes 65535), -EEXIST (overlaps a reservation: portrsv_errmsg() names
 * it), -EADDRINUSE (a port of the block is in use: portrsv_errmsg() names the port and the
 * pid and command holding it), -ENOENT (owner cgroup or netns does not exist), -ENOSPC
 * (maps full).
 */
PORTRSV_API int portrsv_create(struct portrsv *p, enum portrsv_proto proto, uint16_t start,
			       uint16_t count, const struct portrsv_create_opts *opts,
			       uint64_t *token);

struct portrsv_ns_opts {
	size_t sz;
	const char *netns; /* netns path; NULL = caller's */
};
#define portrsv_ns_opts__last_field netns

/* Delete the persistent reservation of exactly (start, count). -ENOENT if there is none. */
PORTRSV_API int portrsv_delete(struct portrsv *p, enum portrsv_proto proto, uint16_t start,
			       uint16_t count, const struct portrsv_ns_opts *opts);

/* Token of the persistent reservation of exactly (start, count). -ENOENT if there is none. */
PORTRSV_API int portrsv_lookup(struct portrsv *p, enum portrsv_proto proto, uint16_t start,
			       uint16_t count, const struct portrsv_ns_opts *opts,
			       uint64_t *token);

/* A reservation as listed or queried. */
struct portrsv_reservation {
	enum portrsv_proto proto;
	uint16_t start;
	uint16_t count;
	uint64_t token;
	uint64_t netns_cookie;
	uint64_t netns_ino;   /* the netns as in net:[ino] */
	uint64_t owner_cgid;  /* the cgroup now at the owner's path (portrsv_owner_path());
			       * 0 = no owner, or no cgroup there yet */
	uint64_t created;     /* seconds since the epoch */
	uint64_t denied;      /* binds refused so far */
	uint32_t flags;       /* PORTRSV_F_PERSISTENT, PORTRSV_F_POOL */
	char comment[PORTRSV_COMMENT_LEN];
};

/*
 * All reservations of every netns, sorted by netns, proto, start. On success *out is a
 * malloc'ed array (free() it) of the returned count of entries.
 */
PORTRSV_API int portrsv_list(struct portrsv *p, struct portrsv_reservation **out);

/*
 * The persistent reservations created for a container (portrsv_create_opts.container), in
 * the store's order. On success *out is a malloc'ed array (free() it) of the returned count
 * of entries, 0 and NULL when the container has none; the entries are filled as
 * portrsv_list() fills them, except that a stored reservation the kernel does not hold (not
 * restored) is left out. -EINVAL (not a container id), or the store's error (-EBADMSG).
 */
PORTRSV_API int portrsv_list_container(struct portrsv *p, const char *container,
				       struct portrsv_reservation **out);

/*
 * Delete every persistent reservation created for container, each in the netns it was made
 * in. Returns how many were deleted (0 for a container with none: not an error), or -EINVAL
 * (not a container id), or the first error of a delete (those before it stay deleted).
 */
PORTRSV_API int portrsv_delete_container(struct portrsv *p, const char *container);

/*
 * The containers that have persistent reservations, each once, in the store's order. On
 * success *out is a malloc'ed array of malloc'ed strings (free each, then the array) of the
 * returned count. The store's error (-EBADMSG) or -ENOMEM.
 */
PORTRSV_API int portrsv_containers(struct portrsv *p, char ***out);

/* The reservation covering (proto, port) in the netns of opts: 0, or -ENOENT if none. */
PORTRSV_API int portrsv_query(struct portrsv *p, enum portrsv_proto proto, uint16_t port,
			      const struct portrsv_ns_opts *opts, struct portrsv_reservation *out);

/*
 * The owner cgroup of a listed or queried reservation, by path (the owner follows its path:
 * a cgroup made again there is the owner at once). 0, or -ENOENT when it has no owner.
 */
PORTRSV_API int portrsv_owner_path(struct portrsv *p, const struct portrsv_reservation *r,
				   char *buf, size_t len);

/* Who created a persistent reservation: the process that called portrsv_create(). */
struct portrsv_creator_info {
	size_t sz;                   /* in: sizeof(struct portrsv_creator_info) */
	uint32_t uid;                /* its real uid */
	char comm[PORTRSV_COMM_LEN]; /* its command, raw (escape it before printing) */
	uint64_t cgid;               /* id of the cgroup at that path when the maps were last
				      * written (create, restore, load); 0 = none there then */
	char cgroup[4096];           /* its cgroup v2 path, as /proc/PID/cgroup gives it */
};
#define portrsv_creator_info__last_field cgroup

/*
 * Who created the listed or queried persistent reservation r: uid, command and cgroup of
 * the creating process, recorded at creation in the store and the maps. 0; -ENOENT when it
 * is not known (a reservation of a store written before portrsv recorded creators, or a
 * runtime reservation); -EINVAL (NULL argument, out->sz too small); or the store's error
 * (-EBADMSG: corrupt, see portrsv_errmsg()).
 */
PORTRSV_API int portrsv_creator(struct portrsv *p, const struct portrsv_reservation *r,
				struct portrsv_creator_info *out);

/*
 * The last refused bind of (proto, port) in the netns of opts, with how many were refused
 * (port 0: refusals of bind(0) on an exhausted block). -ENOENT if none is remembered.
 */
PORTRSV_API int portrsv_last_denial(struct portrsv *p, enum portrsv_proto proto, uint16_t port,
				    const struct portrsv_ns_opts *opts,
				    struct portrsv_denial *out);

/*
 * Associate a socket with a reservation's token, before bind(). Needs no privilege. Errors:
 * -EINVAL (token 0; a socket of an enforced cgroup that is neither TCP nor UDP), -ENOENT
 * (no reservation with this token in the socket's netns and port space), -EACCES (a
 * runtime reservation of another process), -ENOPROTOOPT (portrsv does not enforce the
 * socket's cgroup; a socket that is neither TCP nor UDP there gets the kernel's own answer,
 * e.g. -EOPNOTSUPP for AF_UNIX), -EBADF / -ENOTSOCK (bad fd).
 */
PORTRSV_API int portrsv_associate(int sockfd, uint64_t token);

/*
 * Runtime reservations (Windows' SIO_ACQUIRE_PORT_RESERVATION): a block carved out of a pool
 * for as long as the socket sockfd lives, made by the kernel for any process of an enforced
 * cgroup (uid 0 only, for a pool without limit). Only the acquiring process may associate
 * sockets with its token (portrsv_associate); they bind the block's ports, port 0 included.
 */
struct portrsv_runtime {
	uint16_t start;
	uint16_t count;
	uint64_t token;
};

/*
 * Acquire count ports from start (0: any free block of count ports in a pool of the
 * socket's netns and protocol, first fit) on socket sockfd. On success *out has the block
 * and its token. Errors: -EINVAL (count 0, block past 65535, NULL out), -EOPNOTSUPP (not a
 * TCP or UDP socket), -ENOPROTOOPT (portrsv does not enforce the socket's cgroup), -ENOENT
 * (no pool covers the block, or none is in this netns and protocol), -EADDRINUSE (a port of
 * the block is taken, or every block of that size is), -EDQUOT (the socket's cgroup would
 * pass the pool's limit), -EPERM (uid not 0 and the pool has no limit), -ENOSPC (the socket
 * holds PORTRSV_RT_PER_SOCKET runtime reservations already, or the maps are full),
 * -EBADF / -ENOTSOCK.
 */
PORTRSV_API int portrsv_acquire(int sockfd, uint16_t start, uint16_t count,
				struct portrsv_runtime *out);

/*
 * End the runtime reservation of token, acquired on sockfd: its ports go back to the pool
 * (sockets bound to them keep them until they close). -EPERM when another socket acquired
 * it, -ENOENT when no runtime reservation has this token, -EINVAL for token 0.
 */
PORTRSV_API int portrsv_release(int sockfd, uint64_t token);

/* A runtime reservation as listed. */
struct portrsv_runtime_info {
	enum portrsv_proto proto;
	uint16_t start;
	uint16_t count;
	uint16_t pool;          /* start of the pool it is carved from */
	uint64_t token;
	uint64_t netns_cookie;
	uint64_t netns_ino;
	uint64_t cgid;          /* cgroup of the acquiring socket */
	uint64_t created;       /* seconds since the epoch */
	uint32_t pid;           /* the acquiring process */
	char comm[16];
};

/*
 * Every live runtime reservation, sorted by netns, proto, start. On success *out is a
 * malloc'ed array (free() it) of the returned count of entries.
 */
PORTRSV_API int portrsv_list_runtime(struct portrsv *p, struct portrsv_runtime_info **out);

/* What a pool holds now. */
struct portrsv_pool_info {
	uint32_t limit;   /* ports one cgroup may hold; 0 = uid 0 only, no limit */
	uint32_t in_use;  /* ports in runtime reservations */
	uint32_t runtime; /* runtime reservations */
};

/* The state of the pool r (listed or queried). -EINVAL when r is not a pool. */
PORTRSV_API int portrsv_pool_info(struct portrsv *p, const struct portrsv_reservation *r,
				  struct portrsv_pool_info *out);

/* Called with one line for every stored item that load or restore could not apply. */
typedef void (*portrsv_report_fn)(const char *msg, void *ctx);

struct portrsv_load_opts {
	size_t sz;
	const char *const *cgroups; /* directories to attach to; NULL/0: see portrsv_load */
	size_t n_cgroups;
	const char *pin_dir;        /* as in portrsv_open_opts */
	const char *state_dir;
	portrsv_report_fn report;
	void *ctx;
};
#define portrsv_load_opts__last_field ctx

/*
 * Load and pin the programs and maps, attach them to each cgroup and record the cgroups in
 * the store, then apply the store. Without cgroups, a first load (no cgroup recorded in the
 * store, nothing attached) attaches to the cgroup v2 root and records it; a later one only
 * re-attaches what is recorded (as it does with cgroups too). When already loaded, the maps and their contents are kept
 * and every existing attachment is switched to the new programs atomically. Mounts bpffs at
 * /sys/fs/bpf when it is missing. Returns the number of stored items that could not be
 * applied (each reported), or a negative errno (-EBADMSG: the store is corrupt, see
 * portrsv_errmsg(); nothing was changed).
 */
PORTRSV_API int portrsv_load(const struct portrsv_load_opts *opts);

struct portrsv_restore_opts {
	size_t sz;
	const char *pin_dir;
	const char *state_dir;
	portrsv_report_fn report;
	void *ctx;
};
#define portrsv_restore_opts__last_field ctx

/*
 * What boot runs: load if needed, attach every stored cgroup, and make the kernel's
 * persistent reservations equal to the store's, tokens included: stored ones missing from
 * the kernel are added, kernel ones the store does not have are removed. Idempotent. Only
 * the stored cgroups are attached, never the cgroup v2 root by default: a store that
 * records no cgroup (its last one detached) enforces nowhere, which is reported, not
 * counted. A stored netns or cgroup that no longer exists is reported and skipped, and
 * stays in the store. A reservation whose owner cgroup does not exist yet is applied
 * (refused to everyone until a cgroup is made at the owner's path) and reported, not
 * counted. Each item that cannot be applied is reported once, in one line, and counted
 * once. Returns the number of skipped items, or a negative errno as portrsv_load.
 */
PORTRSV_API int portrsv_restore(const struct portrsv_restore_opts *opts);

/* One reservation that portrsv_gc dropped, as fields; netns as the store named it. */
typedef void (*portrsv_gc_fn)(enum portrsv_proto proto, uint16_t start, uint16_t count,
			      const char *netns, void *ctx);

struct portrsv_gc_opts {
	size_t sz;
	portrsv_report_fn report; /* one line for every reservation dropped */
	void *ctx;                /* passed to report and dropped */
	portrsv_gc_fn dropped;    /* the same reservations, as fields (for --json) */
};
#define portrsv_gc_opts__last_field dropped

/*
 * Drop the persistent reservations whose unnamed network namespace (stored as
 * net:[INO]:COOKIE, see portrsv-store(5)) is gone for good: no process, thread, open nsfs
 * file or mount keeps it any more. They go from the store and from the kernel. A netns
 * stored by path (/run/netns/NAME) is never dropped: it may be made again. Returns the
 * number dropped, or -EPERM (no privilege), -EINVAL, or a negative errno of the store.
 */
PORTRSV_API int portrsv_gc(struct portrsv *p, const struct portrsv_gc_opts *opts);

/* Detach everywhere and remove every pin. The store is kept. -PORTRSV_ENOTLOADED if not loaded. */
PORTRSV_API int portrsv_unload(const char *pin_dir);
/* Attach the loaded programs to a cgroup v2 directory (0 also when already attached) and
 * record it in the store ($PORTRSV_STATE_DIR), so that restore attaches it again. */
PORTRSV_API int portrsv_attach(const char *pin_dir, const char *cgroup_dir);
/* Detach from a cgroup v2 directory and drop it from the store. -ENOENT if portrsv is
 * not attached there or the directory does not exist (portrsv_errmsg() says which),
 * -EINVAL if it is no cgroup v2 directory. */
PORTRSV_API int portrsv_detach(const char *pin_dir, const char *cgroup_dir);

/* The cgroup v2 ids portrsv is attached to. Returns their count; *out is malloc'ed. */
PORTRSV_API int portrsv_attached(const char *pin_dir, uint64_t **out);

/* The path of a cgroup v2 id, into buf. -ENOENT if it no longer exists. */
PORTRSV_API int portrsv_cgroup_path(uint64_t cgid, char *buf, size_t len);

/*
 * Called for every denied bind: return 0 to go on, a negative errno to stop monitoring (it
 * is then portrsv_monitor's result). The event's fields are in <portrsv/abi.h>.
 */
typedef int (*portrsv_event_fn)(const struct portrsv_event *e, void *ctx);

/* Called with how many events were lost since the last call (the monitor fell behind). */
typedef void (*portrsv_lost_fn)(uint64_t n, void *ctx);

struct portrsv_monitor_opts {
	size_t sz;
	const char *pin_dir;
	portrsv_event_fn fn;
	void *ctx;                /* passed to fn and lost */
	const volatile int *stop; /* polled every 200 ms: non-zero ends the monitor */
	portrsv_lost_fn lost;     /* NULL: lost events are not reported */
};
#define portrsv_monitor_opts__last_field lost

/*
 * Stream denied binds (time, pid, comm, uid, the socket's cgroup, netns, proto, port,
 * reservation) from now on, until *stop is set or fn returns a negative errno. Each monitor
 * has a ring buffer of its own: up to PORTRSV_MAX_MONITORS run at once and each sees every
 * event; what its buffer could not take while it fell behind is counted and passed to lost.
 * Returns 0 when stopped, fn's error, or a negative errno (-EBUSY: as many monitors run
 * as there may be).
 */
PORTRSV_API int portrsv_monitor(const struct portrsv_monitor_opts *opts);
/* The wall-clock time of an event, in nanoseconds since the epoch. */
PORTRSV_API uint64_t portrsv_event_realtime_ns(const struct portrsv_event *e);

/*
 * Detail of the last failure in the calling thread, or "": one line naming the cause, e.g.
 * the file and line of a corrupt store, the reservation a block overlaps, the process that
 * holds a port. Never a token. Valid until the next call into the library from this thread.
 */
PORTRSV_API const char *portrsv_errmsg(void);

/* Text of an errno value of this API (strerror, with portrsv's meaning for ours). */
PORTRSV_API const char *portrsv_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* PORTRSV_H */
