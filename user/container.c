// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A container's reservations: those created with portrsv_create_opts.container, which the
 * store records ("container=ID", store.h). The CNI plugin (user/cni/) lists, checks and
 * deletes a container's ports by its id; the kernel maps do not know containers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "store.h"

/* The held copy (portrsv_store_hold), or a read of our own into *own, returned. */
static const struct portrsv_store *read_store(struct portrsv *p, struct portrsv_store *own,
					      int *err)
{
	char msg[512];

	*err = 0;
	if (p->held)
		return p->held;
	/* Without the lock: a write is a rename, so this is one whole store, old or new. */
	*err = portrsv_store_read(p->state_dir, own, msg, sizeof(msg));
	if (*err)
		portrsv_set_errmsg("%s", msg);
	return *err ? NULL : own;
}

static void done_store(const struct portrsv_store *s, struct portrsv_store *own)
{
	if (s == own)
		portrsv_store_free(own);
}

int portrsv_list_container(struct portrsv *p, const char *container,
			   struct portrsv_reservation **out)
{
	struct portrsv_reservation *v = NULL;
	const struct portrsv_store *s;
	struct portrsv_store own;
	int err, got = 0;

	portrsv_set_errmsg(NULL);
	if (!p || !out)
		return -EINVAL;
	*out = NULL;
	err = portrsv_check_container(container);
	if (err)
		return err;
	s = read_store(p, &own, &err);
	if (!s)
		return err;
	v = calloc(s->n ? s->n : 1, sizeof(*v));
	if (!v) {
		err = -ENOMEM;
		goto out;
	}
	/* By token, not by listing the kernel's reservations: a container has a few among
	 * thousands. Tokens are unique across the store and the kernel: one match at most. */
	for (size_t i = 0; i < s->n && !err; i++) {
		if (!s->v[i].container || strcmp(s->v[i].container, container))
			continue;
		err = portrsv_by_token(p, s->v[i].token, &v[got]);
		if (!err)
			got++;
		else if (err == -ENOENT)
			err = 0; /* stored only: restore could not apply it */
	}
	if (got && !err) {
		*out = v;
		v = NULL;
	}
out:
	free(v);
	done_store(s, &own);
	return err ? err : got;
}

int portrsv_delete_container(struct portrsv *p, const char *container)
{
	struct mine {
		int proto;
		uint16_t start, count;
		char *netns;
	} *v = NULL;
	bool held;
	size_t n = 0;
	int err, done = 0;

	portrsv_set_errmsg(NULL);
	if (!p)
		return -EINVAL;
	err = portrsv_check_container(container);
	if (err)
		return err;
	/* One read for all, under the lock: each delete below uses that copy and keeps it. */
	held = p->held != NULL;
	err = portrsv_store_hold(p);
	if (err)
		return err;
	v = calloc(p->held->n ? p->held->n : 1, sizeof(*v));
	if (!v)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < p->held->n; i++) {
		const struct portrsv_store_entry *e = &p->held->v[i];

		if (!e->container || strcmp(e->container, container))
			continue;
		v[n] = (struct mine){ e->proto, e->start, e->count, NULL };
		if (e->netns && !(v[n].netns = strdup(e->netns)))
			err = -ENOMEM;
		n++;
	}
	/* By the stored netns name, as `portrsv delete --netns` takes it. */
	for (size_t i = 0; !err && i < n; i++) {
		PORTRSV_OPTS(portrsv_ns_opts, o, .netns = v[i].netns);

		err = portrsv_delete(p, v[i].proto, v[i].start, v[i].count, &o);
		if (err == -ENOENT)
			err = 0;
		else if (!err)
			done++;
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].netns);
	free(v);
	if (!held)
		portrsv_store_unhold(p);
	return err ? err : done;
}

int portrsv_containers(struct portrsv *p, char ***out)
{
	const struct portrsv_store *s;
	struct portrsv_store own;
	char **v = NULL;
	int err, n = 0;

	portrsv_set_errmsg(NULL);
	if (!p || !out)
		return -EINVAL;
	*out = NULL;
	s = read_store(p, &own, &err);
	if (!s)
		return err;
	v = calloc(s->n ? s->n : 1, sizeof(*v));
	if (!v)
		err = -ENOMEM;
	for (size_t i = 0; i < s->n && !err; i++) {
		bool seen = false;

		if (!s->v[i].container)
			continue;
		for (int j = 0; j < n && !seen; j++)
			seen = !strcmp(v[j], s->v[i].container);
		if (seen)
			continue;
		v[n] = strdup(s->v[i].container);
		if (!v[n])
			err = -ENOMEM;
		else
			n++;
	}
	done_store(s, &own);
	if (err) {
		for (int j = 0; j < n; j++)
			free(v[j]);
		free(v);
		return err;
	}
	if (!n) {
		free(v);
		v = NULL;
	}
	*out = v;
	return n;
}
