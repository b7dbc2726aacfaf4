/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The persistent store, $PORTRSV_STATE_DIR/reservations (format: man/portrsv-store.5):
 *
 *   # comment lines and blank lines are ignored
 *   portrsv-store 1
 *   cgroup /sys/fs/cgroup/services
 *   resv tcp 5000 20 0x0123456789abcdef - - 2026-11-25T15:00:00Z web%20pool
 *
 * resv fields: proto start count token netns owner created comment. netns is "-" (the
 * host's, that of PID 1), a path (/run/netns/NAME), or net:[INO]:COOKIE for a namespace
 * that had no name (it does not survive a reboot). owner is "-" or a cgroup v2 path;
 * comment is "-" when empty. Paths and comments are percent-encoded: every byte <= 0x20,
 * >= 0x7f and '%' as %XX, and a comment or path of exactly "-" as %2D.
 *
 * Optional trailing fields, each once, after the comment: "pool" (a pool whose runtime
 * reservations only uid 0 acquires) or "pool=LIMIT" (LIMIT 1..count, decimal: the most
 * ports one cgroup may hold of it); "by=UID:COMM:CGROUP", who created it: the real uid
 * (decimal), the command (at most 15 bytes, may be empty) and the cgroup v2 path (absolute,
 * as /proc/PID/cgroup gives it), COMM and CGROUP percent-encoded with ':' as %3A too;
 * "container=ID", the container it was published for (portrsv-cni(8)), ID matching
 * [A-Za-z0-9][A-Za-z0-9_.-]{0,126} (nothing to encode). A line
 * with none is what version 1 always wrote and still means a plain persistent reservation
 * (of an unknown creator); an unknown trailing field is refused.
 *
 * The journal, $PORTRSV_STATE_DIR/reservations.journal, extends a large store (at least
 * PORTRSV_JOURNAL_MIN_BASE bytes) by the changes made since it was written, so that one
 * change appends a line and syncs it rather than rewrite megabytes:
 *
 *   portrsv-journal 1 HASH LEN          the store it extends: 16 hex digits, decimal bytes
 *   + resv tcp 8080 1 0x... - ...       a reservation added (a store line)
 *   - 0x0123456789abcdef                the reservation of that token removed
 *
 * A journal whose header does not name the store's bytes (a store written since, or
 * copied in) is stale and ignored; a last line without its newline is a change that a
 * crash cut short, never reported done, and ignored. Anything else wrong in it makes the
 * whole store refused, as a bad line of the store does.
 */
#ifndef PORTRSV_STORE_H
#define PORTRSV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "portrsv.h"

#define PORTRSV_STORE_FILE "reservations"
#define PORTRSV_STORE_VERSION 1
#define PORTRSV_STORE_MAX_BYTES (16 << 20) /* a larger file is refused, not read */
#define PORTRSV_STORE_MAX_CGROUPS 1024
#define PORTRSV_JOURNAL_FILE "reservations.journal"
#define PORTRSV_JOURNAL_MIN_BASE (64 << 10) /* a smaller store is rewritten whole */
#define PORTRSV_JOURNAL_MAX_OPS 128         /* then the store is written again, whole */
#define PORTRSV_JOURNAL_MAX_BYTES (4 << 20) /* a larger journal is refused, not read */

/* Who created a reservation (store.h, "by="). */
struct portrsv_store_creator {
	char *cgroup; /* NULL: unknown (a line without by=, written before it existed) */
	uint32_t uid;
	char comm[PORTRSV_COMM_LEN];
};

/*
 * One reservation. Its strings belong to the store that holds it: those of a parsed line
 * point into the text read (struct portrsv_store), those of an entry added are its own
 * copies (portrsv_store_add copies e's). Small, so that 10,000 read fast.
 */
struct portrsv_store_entry {
	enum portrsv_proto proto;
	uint16_t start;
	uint16_t count;
	uint64_t token;
	char *netns;     /* NULL = host */
	char *owner;     /* NULL = none */
	uint64_t created;
	char *comment;   /* NULL = none; shorter than PORTRSV_COMMENT_LEN */
	bool pool;       /* PORTRSV_F_POOL */
	uint32_t limit;  /* pools: ports one cgroup may hold; 0 = uid 0 only */
	struct portrsv_store_creator by;
	char *container; /* NULL = none; shorter than PORTRSV_CONTAINER_LEN */
};

struct portrsv_store {
	struct portrsv_store_entry *v;
	size_t n;
	/* The store's and the journal's text as read, split in place: what the strings of the
	 * entries read point into (NULL: none). */
	char *text[2];
	size_t text_len[2];
	char **cgroups;
	size_t ncgroups;
	/* The files as read or last written (0: none): what a journaled change extends. */
	uint64_t base_hash;
	size_t base_len;
	size_t journal_len;   /* bytes of whole lines in the journal, header included */
	unsigned journal_ops; /* changes in it */
	bool journal_stale;   /* a stale journal is there, to remove before the next write */
};

/*
 * Parse a whole store. On error returns -EBADMSG (-ENOMEM when memory runs out) and writes
 * "FILE:LINE: cause" into err; s is then empty.
 */
int portrsv_store_parse(const char *buf, size_t len, const char *file,
			struct portrsv_store *s, char *err, size_t errlen);
/* Read $dir/reservations (a missing file is an empty store). -EBADMSG, -EFBIG, -errno. */
int portrsv_store_read(const char *dir, struct portrsv_store *s, char *err, size_t errlen);
/* Write the store durably: temp file, fsync, rename, fsync of the directory. Mode 0600.
 * The journal goes: the new store holds what it held. */
int portrsv_store_write(const char *dir, struct portrsv_store *s);
/*
 * Make one change of s durable, s holding it already: the entry added (added, the new
 * last entry of s) or the reservation of token removed (added NULL). Appended to the
 * journal and synced when s is large; written whole (portrsv_store_write) otherwise, or
 * when the journal is full.
 */
int portrsv_store_log(const char *dir, struct portrsv_store *s,
		      const struct portrsv_store_entry *added, uint64_t removed);
/* Take the state directory's lock (creating the directory 0700); returns the fd to close. */
int portrsv_store_lock(const char *dir);
void portrsv_store_free(struct portrsv_store *s);

/* Append a copy of e. */
int portrsv_store_add(struct portrsv_store *s, const struct portrsv_store_entry *e);
/* Remove entry i. */
void portrsv_store_remove(struct portrsv_store *s, size_t i);
int portrsv_store_add_cgroup(struct portrsv_store *s, const char *path);
void portrsv_store_remove_cgroup(struct portrsv_store *s, const char *path);

#endif /* PORTRSV_STORE_H */
