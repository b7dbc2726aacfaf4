// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who created a persistent reservation: the real uid, comm and cgroup v2 path of the process
 * that called portrsv_create. The store keeps all three (its "by=" field, portrsv-store(5));
 * portrsv_creators (abi.h) keeps uid, comm and the cgroup's id for bpftool, written on
 * create, rebuilt from the store on every restore and load, dropped with the reservation.
 * A reservation of a store written before the field existed has no creator (-ENOENT).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "store.h"

int portrsv_creator_self(struct portrsv_store_creator *c, char *cg, size_t len)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->uid = (uint32_t)getuid();
	err = portrsv_proc_comm(0, c->comm);
	if (err) {
		portrsv_set_errmsg("who creates the reservation: /proc/self/comm: %s",
				   strerror(-err));
		return err;
	}
	err = portrsv_proc_cgroup(0, cg, len);
	if (err) {
		portrsv_set_errmsg("who creates the reservation: /proc/self/cgroup: %s",
				   err == -ENOENT ? "no cgroup v2 line" : strerror(-err));
		return err;
	}
	c->cgroup = cg;
	return 0;
}

/* The id of the cgroup at path (as /proc/PID/cgroup names it) below mount mnt; 0 for none. */
static uint64_t cgid_of(const char *mnt, const char *path)
{
	char dir[PATH_MAX];
	uint64_t id;
	int n = snprintf(dir, sizeof(dir), "%s%s", strcmp(mnt, "/") ? mnt : "", path);

	if (n < 0 || (size_t)n >= sizeof(dir) || portrsv_cgroup_id(dir, &id, NULL))
		return 0;
	return id;
}

static int put(struct portrsv *p, const char *mnt, const struct portrsv_key *k, uint64_t token,
	       const struct portrsv_store_creator *c)
{
	struct portrsv_creator v = { .token = token, .uid = c->uid };

	memcpy(v.comm, c->comm, sizeof(v.comm));
	v.comm[sizeof(v.comm) - 1] = '\0';
	v.cgid = mnt ? cgid_of(mnt, c->cgroup) : 0;
	return bpf_map_update_elem(p->creators_fd, k, &v, BPF_ANY) ? -errno : 0;
}

int portrsv_creator_put(struct portrsv *p, const struct portrsv_key *k, uint64_t token,
			const struct portrsv_store_creator *c)
{
	char mnt[PATH_MAX];
	int err;

	if (p->creators_fd < 0 || !c->cgroup)
		return 0; /* pins of a version without the map: the store has it all */
	err = put(p, portrsv_cgroup2_mount(mnt, sizeof(mnt)) ? NULL : mnt, k, token, c);
	if (err)
		portrsv_set_errmsg("%s/%s: %s", p->pin_dir, PORTRSV_PIN_CREATORS, strerror(-err));
	return err;
}

void portrsv_creator_drop(struct portrsv *p, const struct portrsv_key *k, uint64_t token)
{
	struct portrsv_creator v;

	if (p->creators_fd >= 0 && !bpf_map_lookup_elem(p->creators_fd, k, &v) &&
	    v.token == token)
		bpf_map_delete_elem(p->creators_fd, k);
}

static int cmp_u64(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

int portrsv_creator_sync(struct portrsv *p, const struct portrsv_store *s)
{
	struct portrsv_key k, next, *stale = NULL, *ns;
	uint64_t *known = NULL;
	struct portrsv_creator v;
	char mnt[PATH_MAX];
	const char *m;
	size_t nk = 0, nstale = 0;
	int err = 0, e;

	if (p->creators_fd < 0)
		return 0;
	m = portrsv_cgroup2_mount(mnt, sizeof(mnt)) ? NULL : mnt;
	known = calloc(s->n ? s->n : 1, sizeof(*known));
	if (!known)
		return -ENOMEM;
	for (size_t i = 0; i < s->n && !err; i++) {
		const struct portrsv_store_entry *se = &s->v[i];
		struct portrsv_token tv;
		struct portrsv_resv r;

		if (!se->by.cgroup)
			continue;
		if (bpf_map_lookup_elem(p->tokens_fd, &se->token, &tv) ||
		    bpf_map_lookup_elem(p->resv_fd, &tv.resv, &r) || r.token != se->token)
			continue; /* not applied: skipped and reported */
		known[nk++] = se->token;
		err = put(p, m, &tv.resv, se->token, &se->by);
	}
	qsort(known, nk, sizeof(*known), cmp_u64);
	/* Away with entries of reservations gone, or whose store line names no creator. */
	for (e = bpf_map_get_next_key(p->creators_fd, NULL, &next); !err && !e;
	     e = bpf_map_get_next_key(p->creators_fd, &k, &next)) {
		k = next;
		if (bpf_map_lookup_elem(p->creators_fd, &k, &v) ||
		    bsearch(&v.token, known, nk, sizeof(*known), cmp_u64))
			continue;
		ns = realloc(stale, (nstale + 1) * sizeof(*stale));
		if (!ns) {
			err = -ENOMEM;
			break;
		}
		stale = ns;
		stale[nstale++] = k;
	}
	/* Deleted after the walk: deleting the key being walked restarts a hash walk. */
	for (size_t i = 0; i < nstale; i++)
		bpf_map_delete_elem(p->creators_fd, &stale[i]);
	free(stale);
	free(known);
	if (err)
		portrsv_set_errmsg("%s/%s: %s", p->pin_dir, PORTRSV_PIN_CREATORS, strerror(-err));
	return err;
}

/* The store as last read by portrsv_creator, and which file that was. */
struct by_token {
	uint64_t token;
	size_t i;
};

struct portrsv_creator_cache {
	struct portrsv_store s;
	struct by_token *byt; /* s's entries sorted by token: a listing asks for each */
	struct file_id {
		dev_t dev;
		ino_t ino;
		struct timespec mtime;
		off_t size;
	} store, journal; /* as they were when read; a missing file is all 0 */
};

/* path's identity, all 0 when it is missing. */
static struct file_id file_id(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return (struct file_id){ 0 };
	return (struct file_id){ st.st_dev, st.st_ino, st.st_mtim, st.st_size };
}

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

void portrsv_creator_cache_free(struct portrsv *p)
{
	if (!p->creator_cache)
		return;
	portrsv_store_free(&p->creator_cache->s);
	free(p->creator_cache->byt);
	free(p->creator_cache);
	p->creator_cache = NULL;
}

/*
 * The store, read again only when its file or journal changed: every write renames a new
 * file into place or appends to the journal, so a listing that asks for each reservation's
 * creator reads it once, not N times. The files are looked at before they are read: a
 * change in between costs a read, never staleness.
 */
static int cmp_by_token(const void *a, const void *b)
{
	const struct by_token *x = a, *y = b;

	return x->token < y->token ? -1 : x->token > y->token;
}

static int cached_store(struct portrsv *p, struct portrsv_creator_cache **out)
{
	struct portrsv_creator_cache *c = p->creator_cache;
	char path[PATH_MAX], jpath[PATH_MAX], msg[512];
	struct file_id store, journal;
	int err;

	if (snprintf(path, sizeof(path), "%s/%s", p->state_dir, PORTRSV_STORE_FILE) >=
		    (int)sizeof(path) ||
	    snprintf(jpath, sizeof(jpath), "%s/%s", p->state_dir, PORTRSV_JOURNAL_FILE) >=
		    (int)sizeof(jpath))
		return -ENAMETOOLONG;
	store = file_id(path); /* missing: an empty store, read below */
	journal = file_id(jpath);
	if (c && store.ino && same_file(&c->store, &store) && same_file(&c->journal, &journal)) {
		*out = c;
		return 0;
	}
	portrsv_creator_cache_free(p);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	err = portrsv_store_read(p->state_dir, &c->s, msg, sizeof(msg));
	if (err) {
		portrsv_set_errmsg("%s", msg);
		free(c);
		return err;
	}
	c->byt = calloc(c->s.n ? c->s.n : 1, sizeof(*c->byt));
	if (!c->byt) {
		portrsv_store_free(&c->s);
		free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->s.n; i++)
		c->byt[i] = (struct by_token){ c->s.v[i].token, i };
	qsort(c->byt, c->s.n, sizeof(*c->byt), cmp_by_token);
	c->store = store;
	c->journal = journal;
	p->creator_cache = c;
	*out = c;
	return 0;
}

int portrsv_creator(struct portrsv *p, const struct portrsv_reservation *r,
		    struct portrsv_creator_info *out)
{
	size_t known = offsetof(struct portrsv_creator_info, portrsv_creator_info__last_field) +
		       sizeof(out->portrsv_creator_info__last_field);
	struct portrsv_key k = { 0 };
	struct by_token want = { r ? r->token : 0, 0 }, *f;
	struct portrsv_creator_cache *c;
	const struct portrsv_store_entry *e = NULL;
	struct portrsv_creator v;
	size_t sz;
	int err;

	portrsv_set_errmsg(NULL);
	if (!p || !r || !out)
		return portrsv_fail(-EINVAL, "%s is NULL", !p ? "the handle" : !r ? "r" : "out");
	if (out->sz < known)
		return portrsv_fail(-EINVAL, "out->sz %zu is smaller than struct "
				    "portrsv_creator_info (%zu)", out->sz, known);
	sz = out->sz;
	if (!(r->flags & PORTRSV_F_PERSISTENT))
		return -ENOENT; /* runtime reservations: portrsv_list_runtime names the process */
	err = cached_store(p, &c);
	if (err)
		return err;
	/* Stored tokens are unique (the parser refuses a repeated one). */
	f = bsearch(&want, c->byt, c->s.n, sizeof(*c->byt), cmp_by_token);
	if (f)
		e = &c->s.v[f->i];
	if (e && ((int)e->proto != (int)r->proto || e->start != r->start || e->count != r->count))
		e = NULL;
	if (!e || !e->by.cgroup)
		return -ENOENT;
	memset(out, 0, sz);
	out->sz = sz;
	out->uid = e->by.uid;
	memcpy(out->comm, e->by.comm, sizeof(out->comm));
	snprintf(out->cgroup, sizeof(out->cgroup), "%s", e->by.cgroup);
	k.netns = r->netns_cookie;
	k.proto = r->proto;
	k.port = r->start;
	if (p->creators_fd >= 0 && !bpf_map_lookup_elem(p->creators_fd, &k, &v) &&
	    v.token == r->token)
		out->cgid = v.cgid;
	return 0;
}
