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

static int read_store(struct portrsv *p, struct portrsv_store *s)
{
	char msg[512];
	int err;

	/* Without the lock: a write is a rename, so this is one whole store, old or new. */
	err = portrsv_store_read(p->state_dir, s, msg, sizeof(msg));
	if (err)
		portrsv_set_errmsg("%s", msg);
	return err;
}


int portrsv_list_container(struct portrsv *p, const char *container,
			   struct portrsv_reservation **out)
{
	struct portrsv_reservation *v = NULL;
	struct portrsv_store s;
	int err, got = 0;

	portrsv_set_errmsg(NULL);
	if (!p || !out)
		return -EINVAL;
	*out = NULL;
	err = portrsv_check_container(container);
	if (err)
		return err;
	err = read_store(p, &s);
	if (err)
		return err;
	v = calloc(s.n ? s.n : 1, sizeof(*v));
	if (!v) {
		err = -ENOMEM;
		goto out;
	}
	/* By token, not by listing the kernel's reservations: a container has a few among
	 * thousands. Tokens are unique across the store and the kernel: one match at most. */
	for (size_t i = 0; i < s.n && !err; i++) {
		if (strcmp(s.v[i].container, container))
			continue;
		err = portrsv_by_token(p, s.v[i].token, &v[got]);
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
	portrsv_store_free(&s);
	return err ? err : got;
}

int portrsv_delete_container(struct portrsv *p, const char *container)
{
	struct portrsv_store s;
	int err, done = 0;

	portrsv_set_errmsg(NULL);
	if (!p)
		return -EINVAL;
	err = portrsv_check_container(container);
	if (err)
		return err;
	err = read_store(p, &s);
	if (err)
		return err;
	/*
	 * By the stored netns name, as `portrsv delete --netns` takes it: each delete takes the
	 * store's lock itself. One deleted in between by someone else is not ours to count.
	 */
	for (size_t i = 0; i < s.n && !err; i++) {
		const struct portrsv_store_entry *e = &s.v[i];
		PORTRSV_OPTS(portrsv_ns_opts, o, .netns = e->netns);

		if (strcmp(e->container, container))
			continue;
		err = portrsv_delete(p, e->proto, e->start, e->count, &o);
		if (err == -ENOENT)
			err = 0;
		else if (!err)
			done++;
	}
	portrsv_store_free(&s);
	return err ? err : done;
}

int portrsv_containers(struct portrsv *p, char ***out)
{
	struct portrsv_store s;
	char **v = NULL;
	int err, n = 0;

	portrsv_set_errmsg(NULL);
	if (!p || !out)
		return -EINVAL;
	*out = NULL;
	err = read_store(p, &s);
	if (err)
		return err;
	v = calloc(s.n ? s.n : 1, sizeof(*v));
	if (!v)
		err = -ENOMEM;
	for (size_t i = 0; i < s.n && !err; i++) {
		bool seen = false;

		if (!s.v[i].container[0])
			continue;
		for (int j = 0; j < n && !seen; j++)
			seen = !strcmp(v[j], s.v[i].container);
		if (seen)
			continue;
		v[n] = strdup(s.v[i].container);
		if (!v[n])
			err = -ENOMEM;
		else
			n++;
	}
	portrsv_store_free(&s);
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
