// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * portrsv-cni: a chained CNI plugin (spec 1.0.0 and 1.1.0) that turns a container's published
 * ports (runtimeConfig.portMappings) into portrsv reservations in the host netns, the netns
 * this plugin runs in, recorded with the container id. The config is parsed and checked in
 * config.c; this file runs the commands. Usage and error codes: man/portrsv-cni.8.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "internal.h"
#include "store.h"

struct env {
	enum cni_cmd cmd;
	const char *container; /* CNI_CONTAINERID */
	const char *netns;     /* CNI_NETNS: the container's, only checked */
	const char *ifname;    /* CNI_IFNAME */
};

static void print_json(json_object *o)
{
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	      stdout);
	fputc('\n', stdout);
}

/* The CNI error object on stdout; the exit status is the caller's (non-zero). */
static int report(const char *version, const struct cni_error *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cniVersion", json_object_new_string(version));
	json_object_object_add(o, "code", json_object_new_int(e->code));
	json_object_object_add(o, "msg", json_object_new_string(e->msg));
	if (e->details[0])
		json_object_object_add(o, "details", json_object_new_string(e->details));
	print_json(o);
	json_object_put(o);
	return 1;
}

static int do_version(void)
{
	json_object *o = json_object_new_object(), *v = json_object_new_array();

	for (size_t i = 0; cni_versions[i]; i++)
		json_object_array_add(v, json_object_new_string(cni_versions[i]));
	json_object_object_add(o, "cniVersion", json_object_new_string("1.1.0"));
	json_object_object_add(o, "supportedVersions", v);
	print_json(o);
	json_object_put(o);
	return 0;
}

static int read_stdin(char **buf, size_t *len, struct cni_error *e)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	ssize_t r;

	if (!b)
		return cni_fail(e, CNI_ERR_IO, NULL, "out of memory");
	for (;;) {
		if (n == cap) {
			char *nb;

			if (cap > CNI_MAX_INPUT) {
				free(b);
				return cni_fail(e, CNI_ERR_DECODE, NULL,
						"config is larger than %d bytes", CNI_MAX_INPUT);
			}
			nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return cni_fail(e, CNI_ERR_IO, NULL, "out of memory");
			}
			b = nb;
			cap *= 2;
		}
		r = read(STDIN_FILENO, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;

			free(b);
			return cni_fail(e, CNI_ERR_IO, NULL, "stdin: %s", strerror(err));
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

static int env_get(struct env *v, struct cni_error *e)
{
	const char *cmd = getenv("CNI_COMMAND");

	if (!cmd || !*cmd)
		return cni_fail(e, CNI_ERR_ENV, NULL, "CNI_COMMAND is not set");
	if (cni_command(cmd, &v->cmd))
		return cni_fail(e, CNI_ERR_ENV, "ADD, DEL, CHECK, GC, STATUS or VERSION",
				"CNI_COMMAND is not a CNI command");
	if (v->cmd != CNI_ADD && v->cmd != CNI_DEL && v->cmd != CNI_CHECK)
		return 0;
	v->container = getenv("CNI_CONTAINERID");
	v->netns = getenv("CNI_NETNS");
	v->ifname = getenv("CNI_IFNAME");
	if (!v->container || !*v->container)
		return cni_fail(e, CNI_ERR_ENV, NULL, "CNI_CONTAINERID is not set");
	if (!portrsv_container_valid(v->container))
		return cni_fail(e, CNI_ERR_ENV, "[A-Za-z0-9][A-Za-z0-9_.-]{0,126}",
				"CNI_CONTAINERID is not a container id portrsv records");
	if (!v->ifname || !*v->ifname)
		return cni_fail(e, CNI_ERR_ENV, NULL, "CNI_IFNAME is not set");
	/* DEL may come after the netns is gone; ADD and CHECK name one. */
	if (v->cmd != CNI_DEL && (!v->netns || !*v->netns))
		return cni_fail(e, CNI_ERR_ENV, NULL, "CNI_NETNS is not set");
	return 0;
}

/* A portrsv errno as a CNI error (what the library said, in details). */
static int fail_errno(struct cni_error *e, int err, const char *what)
{
	const char *why = portrsv_errmsg();
	int code = err == -EPERM || err == -EACCES ? CNI_ERR_DENIED :
		   err == -PORTRSV_ENOTLOADED	   ? CNI_ERR_NOT_LOADED :
		   err == -EAGAIN || err == -EBUSY ? CNI_ERR_AGAIN :
							    CNI_ERR_PORTRSV;

	if (code == CNI_ERR_NOT_LOADED)
		return cni_fail(e, code, "load it first: portrsv load (or portrsv restore)",
				"%s: portrsv is not loaded", what);
	return cni_fail(e, code, why && *why ? why : NULL, "%s: %s", what, portrsv_strerror(err));
}

static int open_portrsv(struct portrsv **p, struct cni_error *e)
{
	*p = portrsv_open(NULL);
	return *p ? 0 : fail_errno(e, -errno, "portrsv");
}

/*
 * Who may bind the published ports: "owner", or the cgroup this plugin runs in, the
 * runtime's (rootful podman binds the published ports itself right after ADD). The root
 * would let every process bind them: refused, with what to configure.
 */
static int resolve_owner(const struct cni_config *c, char *out, size_t len, struct cni_error *e)
{
	struct portrsv_store_creator self;
	char cg[PATH_MAX], mnt[PATH_MAX];
	int err, n;

	if (c->owner[0]) {
		uint32_t level = 0;

		err = portrsv_cgroup_id(c->owner, NULL, &level);
		if (err)
			return cni_fail(e, CNI_ERR_OWNER, "owner must be an existing cgroup v2 directory",
					"owner %s: %s", c->owner,
					err == -ENOENT ? "no such cgroup" :
					err == -EINVAL ? "not a cgroup v2 directory" : strerror(-err));
		/* As for the default: an owner of every process reserves nothing. */
		if (!level)
			return cni_fail(e, CNI_ERR_OWNER,
					"name the cgroup of the process that binds published ports",
					"owner %s is the cgroup v2 root: every process could bind the "
					"published ports", c->owner);
		snprintf(out, len, "%s", c->owner);
		return 0;
	}
	err = portrsv_creator_self(&self, cg, sizeof(cg));
	if (!err)
		err = portrsv_cgroup2_mount(mnt, sizeof(mnt));
	if (err)
		return cni_fail(e, CNI_ERR_OWNER, "set \"owner\" in the plugin's config",
				"the caller's cgroup v2: %s", strerror(-err));
	if (!strcmp(cg, "/"))
		return cni_fail(e, CNI_ERR_OWNER,
				"set \"owner\" in the plugin's config to the cgroup v2 directory of "
				"the process that binds published ports (the runtime's)",
				"the default owner, the runtime's cgroup, is the cgroup v2 root: "
				"every process could bind the published ports");
	n = snprintf(out, len, "%s%s", strcmp(mnt, "/") ? mnt : "", cg);
	if (n < 0 || (size_t)n >= len)
		return cni_fail(e, CNI_ERR_OWNER, NULL, "the caller's cgroup path is too long");
	return 0;
}

/* Which container (of those portrsv knows) holds token; "" when none. */
static void container_of(struct portrsv *p, uint64_t token, char *out, size_t len)
{
	char **ids = NULL;
	int n = portrsv_containers(p, &ids);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		struct portrsv_reservation *r = NULL;
		int m = portrsv_list_container(p, ids[i], &r);

		for (int j = 0; j < m && !out[0]; j++)
			if (r[j].token == token)
				snprintf(out, len, "%s", ids[i]);
		free(r);
		free(ids[i]);
	}
	free(ids);
}

/* A run of consecutive host ports of one protocol: one reservation. */
struct block {
	enum portrsv_proto proto;
	uint16_t start, count;
	const char *host_ip; /* the run's address when all of its entries share one, else "" */
	bool made;
};

/* Why ADD cannot reserve b: the holder named (-EADDRINUSE), or the reservation (-EEXIST). */
static int fail_reserve(struct portrsv *p, const struct block *b, int err, struct cni_error *e)
{
	const char *proto = portrsv_proto_name(b->proto);
	char d[sizeof(e->details)] = "", who[PORTRSV_CONTAINER_LEN];
	unsigned port = b->start;
	size_t used = 0;

	if (err == -EADDRINUSE) {
		struct portrsv_holders h = { 0 };

		if (!portrsv_port_holders(b->proto, b->start, b->count, &h) && h.n)
			port = h.v[0].port;
		for (size_t i = 0; i < h.n && used < sizeof(d); i++) {
			const struct portrsv_holder *s = &h.v[i];
			char comm[6 * PORTRSV_COMM_LEN];

			if (s->port != port)
				continue;
			if (!s->nprocs) /* TIME-WAIT, or a socket no process holds any more */
				used += (size_t)snprintf(d + used, sizeof(d) - used,
							 "%sa %s socket of no process", used ? ", " : "",
							 portrsv_sock_state_name(s->state));
			for (size_t j = 0; j < s->nprocs && used < sizeof(d); j++) {
				portrsv_escape(s->procs[j].comm, comm, sizeof(comm));
				used += (size_t)snprintf(d + used, sizeof(d) - used,
							 "%sheld by pid %u (%s), %s", used ? ", " : "",
							 s->procs[j].pid, comm,
							 portrsv_sock_state_name(s->state));
			}
		}
		portrsv_holders_free(&h);
		return cni_fail(e, CNI_ERR_PORT_IN_USE, d[0] ? d : NULL,
				"host port %s/%u is in use by a host process", proto, port);
	}
	if (err == -EEXIST) {
		PORTRSV_OPTS(portrsv_ns_opts, o);
		struct portrsv_reservation r;
		char why[256], blk[16];

		/* The create's own message, before the queries below clear it. */
		snprintf(why, sizeof(why), "%s", portrsv_errmsg());
		/* The first port of the run that a reservation covers. */
		for (uint32_t q = b->start; q < (uint32_t)b->start + b->count; q++) {
			if (portrsv_query(p, b->proto, (uint16_t)q, &o, &r))
				continue;
			port = q;
			container_of(p, r.token, who, sizeof(who));
			portrsv_block_format(r.start, r.count, blk, sizeof(blk));
			if (who[0])
				snprintf(d, sizeof(d), "published by container %s", who);
			else
				snprintf(d, sizeof(d), "reserved by portrsv as %s %s, not for a container",
					 proto, blk);
			break;
		}
		return cni_fail(e, CNI_ERR_PORT_RESERVED, d[0] ? d : why,
				"host port %s/%u is already reserved", proto, port);
	}
	if (err == -ENOENT || err == -EINVAL)
		return cni_fail(e, CNI_ERR_OWNER, portrsv_errmsg(), "owner cgroup: %s",
				portrsv_strerror(err));
	{
		char what[64];

		char blk[16];

		portrsv_block_format(b->start, b->count, blk, sizeof(blk));
		snprintf(what, sizeof(what), "reserve %s/%s", proto, blk);
		return fail_errno(e, err, what);
	}
}

/* Does this container already have (proto, port) here? A repeated ADD keeps it. */
static bool have(const struct portrsv_reservation *r, int n, const struct cni_mapping *m,
		 uint64_t netns)
{
	for (int i = 0; i < n; i++)
		if (r[i].proto == m->proto && r[i].netns_cookie == netns && m->host_port >= r[i].start &&
		    m->host_port - r[i].start < r[i].count)
			return true;
	return false;
}

/*
 * "cni NETWORK HOSTIP": the network and the address asked for, for `portrsv list` (the
 * reservation is of the port on every address: portrsv-cni(8)), and for GC, which collects
 * only what its own network made. The address goes first when both do not fit.
 */
static void make_comment(const char *network, const char *host_ip, char out[PORTRSV_COMMENT_LEN])
{
	size_t room = PORTRSV_COMMENT_LEN - 1 - 4 - strlen(network);

	if (strlen(network) > PORTRSV_COMMENT_LEN - 1 - 4)
		room = 0;
	snprintf(out, PORTRSV_COMMENT_LEN, "cni %s%s%s", network,
		 host_ip[0] && room > strlen(host_ip) ? " " : "",
		 host_ip[0] && room > strlen(host_ip) ? host_ip : "");
	for (char *s = out; *s; s++)
		if (*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Was r made by this plugin for network (its comment, make_comment())? */
static bool made_by(const struct portrsv_reservation *r, const char *network)
{
	char want[PORTRSV_COMMENT_LEN];
	size_t n;

	make_comment(network, "", want);
	n = strlen(want);
	/* A name too long for the comment cannot be told apart: never this network's. */
	if (strlen(network) > PORTRSV_COMMENT_LEN - 1 - 4)
		return false;
	return !strncmp(r->comment, want, n) && (!r->comment[n] || r->comment[n] == ' ');
}

static int cmp_mapping(const void *a, const void *b)
{
	const struct cni_mapping *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return (int)x->host_port - (int)y->host_port;
}

/*
 * The mappings this container does not have yet, as runs of consecutive ports: a published
 * range of a thousand ports is one reservation (one store write), not a thousand.
 */
static size_t make_blocks(struct cni_mapping *maps, size_t n, const struct portrsv_reservation *mine,
			  int nmine, uint64_t netns, struct block *out)
{
	size_t nb = 0;

	qsort(maps, n, sizeof(*maps), cmp_mapping);
	for (size_t i = 0; i < n; i++) {
		const struct cni_mapping *m = &maps[i];
		struct block *last = nb ? &out[nb - 1] : NULL;

		if (have(mine, nmine, m, netns))
			continue;
		if (last && last->proto == m->proto &&
		    (uint32_t)last->start + last->count == m->host_port) {
			last->count++;
			if (strcmp(last->host_ip, m->host_ip))
				last->host_ip = "";
			continue;
		}
		out[nb++] = (struct block){ m->proto, m->host_port, 1, m->host_ip, false };
	}
	return nb;
}

static int do_add(const struct env *v, struct cni_config *c, struct cni_error *e)
{
	struct portrsv_reservation *mine = NULL;
	char owner[PATH_MAX], comment[PORTRSV_COMMENT_LEN];
	struct portrsv *p = NULL;
	struct block *blocks = NULL;
	uint64_t netns, token;
	size_t nb = 0;
	int err = 0, n = 0;

	if (!c->nmaps)
		goto done; /* nothing published */
	if (resolve_owner(c, owner, sizeof(owner), e) || open_portrsv(&p, e))
		return -1;
	/* One read of the store, under its lock, for the look and every create below. */
	err = portrsv_store_hold(p);
	if (!err)
		err = portrsv_netns_self(&netns, NULL);
	if (!err) {
		n = portrsv_list_container(p, v->container, &mine);
		err = n < 0 ? n : 0;
	}
	if (err) {
		fail_errno(e, err, "the container's reservations");
		goto out;
	}
	blocks = calloc(c->nmaps, sizeof(*blocks));
	if (!blocks) {
		err = cni_fail(e, CNI_ERR_IO, NULL, "out of memory");
		goto out;
	}
	nb = make_blocks(c->maps, c->nmaps, mine, n, netns, blocks);
	for (size_t i = 0; i < nb; i++) {
		struct block *b = &blocks[i];
		PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = owner, .comment = comment,
			     .container = v->container);

		make_comment(c->name, b->host_ip, comment);
		err = portrsv_create(p, b->proto, b->start, b->count, &o, &token);
		if (err) {
			fail_reserve(p, b, err, e);
			break;
		}
		b->made = true;
	}
	/* All or nothing: what this ADD made goes again when one fails. */
	for (size_t i = 0; err && i < nb; i++)
		if (blocks[i].made)
			portrsv_delete(p, blocks[i].proto, blocks[i].start, blocks[i].count, NULL);
out:
	free(blocks);
	free(mine);
	portrsv_close(p);
	if (err)
		return -1;
done:
	print_json(c->prev_result); /* on down the chain, unchanged */
	return 0;
}

static int do_del(const struct env *v, struct cni_error *e)
{
	struct portrsv *p = portrsv_open(NULL);
	int n;

	/* Not loaded: nothing is enforced, and DEL must not stop a container's teardown. */
	if (!p && errno == PORTRSV_ENOTLOADED)
		return 0;
	if (!p)
		return fail_errno(e, -errno, "portrsv");
	n = portrsv_delete_container(p, v->container);
	portrsv_close(p);
	return n < 0 ? fail_errno(e, n, "delete the container's reservations") : 0;
}

static int do_check(const struct env *v, const struct cni_config *c, struct cni_error *e)
{
	struct portrsv_reservation *mine = NULL;
	struct portrsv *p;
	uint64_t netns;
	int n, err = 0;

	if (open_portrsv(&p, e))
		return -1;
	n = portrsv_list_container(p, v->container, &mine);
	if (n < 0)
		err = fail_errno(e, n, "the container's reservations");
	else if ((err = portrsv_netns_self(&netns, NULL)))
		err = fail_errno(e, err, "this netns");
	for (size_t i = 0; !err && i < c->nmaps; i++)
		if (!have(mine, n, &c->maps[i], netns))
			err = cni_fail(e, CNI_ERR_MISSING, "ADD the container again, or portrsv restore",
				       "host port %s/%u of container %s is not reserved",
				       portrsv_proto_name(c->maps[i].proto), c->maps[i].host_port,
				       v->container);
	free(mine);
	portrsv_close(p);
	return err ? -1 : 0;
}

static int do_gc(const struct cni_config *c, struct cni_error *e)
{
	struct portrsv *p = portrsv_open(NULL);
	char **ids = NULL;
	int n, err = 0;

	if (!p && errno == PORTRSV_ENOTLOADED)
		return 0; /* nothing enforced, nothing to collect */
	if (!p)
		return fail_errno(e, -errno, "portrsv");
	n = portrsv_store_hold(p); /* one read of the store for the whole collection */
	if (!n)
		n = portrsv_containers(p, &ids);
	if (n < 0)
		err = fail_errno(e, n, "the containers' reservations");
	for (int i = 0; i < n; i++) {
		struct portrsv_reservation *r = NULL;
		bool valid = false, ours;
		int m, d;

		for (size_t j = 0; j < c->nvalid && !valid; j++)
			valid = !strcmp(ids[i], c->valid[j]);
		/*
		 * valid-attachments lists this network's containers only: a container is
		 * collected when every reservation it has was made for this network, so that
		 * a GC of one network never takes another network's published ports.
		 */
		m = valid || err ? 0 : portrsv_list_container(p, ids[i], &r);
		ours = m > 0;
		for (int j = 0; j < m; j++)
			ours &= made_by(&r[j], c->name);
		free(r);
		if (m < 0)
			err = fail_errno(e, m, "a gone container's reservations");
		else if (ours && (d = portrsv_delete_container(p, ids[i])) < 0)
			err = fail_errno(e, d, "delete a gone container's reservations");
		free(ids[i]);
	}
	free(ids);
	portrsv_close(p);
	return err ? -1 : 0;
}

static int do_status(struct cni_error *e)
{
	struct portrsv *p = portrsv_open(NULL);

	if (p) {
		portrsv_close(p);
		return 0;
	}
	if (errno == PORTRSV_ENOTLOADED)
		return cni_fail(e, CNI_ERR_UNAVAILABLE,
				"load it: portrsv load (or portrsv restore)",
				"portrsv is not loaded: published ports are not reserved");
	return cni_fail(e, CNI_ERR_UNAVAILABLE, portrsv_errmsg(), "portrsv: %s",
			portrsv_strerror(-errno));
}

int main(void)
{
	struct cni_config c = { 0 };
	struct cni_error e = { 0 };
	struct env v = { 0 };
	const char *version = "1.1.0";
	char *buf = NULL;
	size_t len = 0;
	int err;

	err = env_get(&v, &e);
	if (!err)
		err = read_stdin(&buf, &len, &e);
	/* VERSION answers whatever it was given: it is how a runtime learns what to send. */
	if (!err && v.cmd == CNI_VERSION) {
		free(buf);
		return do_version();
	}
	if (!err)
		err = cni_config_parse(buf, len, v.cmd, &c, &e);
	if (c.version[0])
		version = c.version;
	if (!err) {
		switch (v.cmd) {
		case CNI_ADD:
			err = do_add(&v, &c, &e);
			break;
		case CNI_DEL:
			err = do_del(&v, &e);
			break;
		case CNI_CHECK:
			err = do_check(&v, &c, &e);
			break;
		case CNI_GC:
			err = do_gc(&c, &e);
			break;
		case CNI_STATUS:
			err = do_status(&e);
			break;
		case CNI_VERSION:
			break;
		}
	}
	if (err)
		report(version, &e);
	fflush(stdout);
	cni_config_free(&c);
	free(buf);
	return err ? 1 : 0;
}
