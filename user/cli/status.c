// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * status: what is loaded, where it is enforced, what this kernel lacks, and every problem
 * that quietly weakens enforcement. Never prints a token.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include "cli.h"
#include "store.h"

#define HEALTH_MAX 16
#define HEALTH_LEN (PATH_MAX + 160)

/* Problems (enforcement is weaker than the store says) and waits (applied, waiting for
 * something to appear: no problem). */
struct health {
	char probs[HEALTH_MAX][HEALTH_LEN];
	int n, more;
	char waits[HEALTH_MAX][HEALTH_LEN];
	int nwait, more_waits;
};

static void add_line(char (*v)[HEALTH_LEN], int *n, int *more, const char *fmt, va_list ap)
{
	if (*n == HEALTH_MAX) {
		(*more)++;
		return;
	}
	vsnprintf(v[(*n)++], HEALTH_LEN, fmt, ap);
}

static void problem(struct health *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct health *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line(h->probs, &h->n, &h->more, fmt, ap);
	va_end(ap);
}

static void wait_note(struct health *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void wait_note(struct health *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line(h->waits, &h->nwait, &h->more_waits, fmt, ap);
	va_end(ap);
}

/* "tcp 8080-8089" of a stored entry. */
static const char *entry_name(const struct portrsv_store_entry *e, char *buf)
{
	char block[BLOCK_LEN];

	snprintf(buf, BLOCK_LEN + 8, "%s %s", portrsv_proto_name(e->proto),
		 block_name(e->start, e->count, block));
	return buf;
}

/*
 * A stored reservation the kernel lacks is not enforced (a load or restore killed before it
 * applied the store). One whose netns does not exist (yet) is waiting, or gone for good (gc
 * drops it), not a problem here; one whose netns cannot be entered otherwise is.
 */
static void check_applied(struct health *h, const struct portrsv_store *s,
			  const struct portrsv_reservation *v, int n)
{
	const struct portrsv_store_entry *first = NULL;
	char rel[PORTRSV_OWNER_PATH_LEN], name[BLOCK_LEN + 8];
	unsigned missing = 0;
	int saved, err;

	for (size_t i = 0; i < s->n; i++) {
		const struct portrsv_store_entry *e = &s->v[i];
		bool in = false;

		for (int j = 0; j < n && !in; j++)
			in = v[j].token == e->token;
		/* An owner no slot can follow (not below this cgroup v2 mount, ...): restore
		 * applied the block with no owner. */
		if (e->owner && portrsv_owner_rel(e->owner, NULL, rel, sizeof(rel)))
			problem(h, "owner %s of %s cannot be followed: %s", e->owner,
				entry_name(e, name), portrsv_errmsg());
		if (in)
			continue;
		err = portrsv_netns_enter_name(e->netns, &saved);
		if (err == -ENOENT || (err && portrsv_netns_run_name(e->netns)))
			continue;
		if (err) {
			problem(h, "%s: netns %s cannot be entered: %s", entry_name(e, name),
				e->netns, strerror(-err));
			continue;
		}
		portrsv_netns_leave(saved);
		if (!missing++)
			first = e;
	}
	if (missing)
		problem(h, "%u stored reservation%s not in the kernel, so not enforced (first: %s); "
			"run 'portrsv restore'", missing, missing == 1 ? " is" : "s are",
			entry_name(first, name));
}

/* The stored netns and cgroups: each there, entered, enforced. */
static void check_store(struct health *h, const struct portrsv_reservation *v, int n,
			const uint64_t *ids, int nids)
{
	char err[512], name[BLOCK_LEN + 8];
	struct portrsv_store s;
	uint64_t id;

	if (portrsv_store_read(portrsv_state_dir(NULL), &s, err, sizeof(err))) {
		problem(h, "%s", err);
		return;
	}
	/* A named netns not made yet: restore applies it when it appears. One that cannot be
	 * entered for any other reason is a problem. */
	for (size_t i = 0; i < s.n; i++) {
		const char *ns = portrsv_netns_run_name(s.v[i].netns);
		int saved, r = ns ? portrsv_netns_enter_name(s.v[i].netns, &saved) : 0;

		if (ns && !r)
			portrsv_netns_leave(saved);
		if (r == -ENOENT)
			wait_note(h, "%s: netns %s not present yet", entry_name(&s.v[i], name), ns);
		else if (r)
			problem(h, "%s: netns %s cannot be entered: %s", entry_name(&s.v[i], name),
				s.v[i].netns, strerror(-r));
	}
	for (size_t i = 0; i < s.ncgroups; i++) {
		bool on = false;

		if (!portrsv_cgroup_id(s.cgroups[i], &id, NULL))
			for (int j = 0; j < nids; j++)
				on |= ids[j] == id;
		if (!on)
			problem(h, "stored cgroup %s is not enforced (run 'portrsv restore')",
				s.cgroups[i]);
	}
	check_applied(h, &s, v, n);
	portrsv_store_free(&s);
}

static void check_health(struct health *h, struct portrsv *p, const struct portrsv_reservation *v,
			 int n, const uint64_t *ids, int nids)
{
	unsigned char bits[(PORTRSV_PORT_MAX + 1) / 8];
	char path[PATH_MAX], block[BLOCK_LEN];
	unsigned missing = 0, first = 0;
	uint64_t cookie;

	for (int i = 0; i < nids; i++)
		if (portrsv_cgroup_path(ids[i], path, sizeof(path)))
			problem(h, "enforced cgroup id %" PRIu64 " is gone (recreated? run "
				"'portrsv restore')", ids[i]);
	if (!portrsv_owners_followed(NULL))
		problem(h, "the owner tracepoint is not attached: owner cgroups made again (a "
			"service restart) are refused; run 'portrsv restore'");
	for (int i = 0; i < n; i++) {
		bool present;

		owner_path(p, &v[i], path, sizeof(path), &present);
		if (path[0] && !present)
			wait_note(h, "owner %s of %s %s not present yet: refused to everyone until "
				  "it appears", path, portrsv_proto_name(v[i].proto),
				  block_name(v[i].start, v[i].count, block));
	}
	check_store(h, v, n, ids, nids);
	/* ip_local_reserved_ports of this netns: a sysctl.d or an admin may have rewritten it. */
	if (portrsv_netns_self(&cookie, NULL) || portrsv_sysctl_read(bits))
		return;
	for (int i = 0; i < n; i++) {
		if (v[i].netns_cookie != cookie)
			continue;
		for (uint32_t port = v[i].start; port < (uint32_t)v[i].start + v[i].count; port++)
			if (!(bits[port / 8] & (1 << (port % 8))) && !missing++)
				first = port;
	}
	if (missing)
		problem(h, "ip_local_reserved_ports of this netns lacks %u reserved ports (first: %u): "
			"autobind may hand them out; run 'portrsv restore'", missing, first);
}

/*
 * The running kernel and what it lacks of what portrsv uses (docs: portrsv(8), KERNELS).
 * Not a problem: a kernel that lacks a feature is supported, with that one thing weaker.
 */
static json_object *kernel_json(void)
{
	json_object *o = json_object_new_object(), *lacks = json_object_new_array();
	struct utsname u;

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown");
	jset(o, "release", jstr(u.release));
	for (int f = 0; f < PORTRSV_FEAT_COUNT; f++) {
		const struct portrsv_feature *ft = &portrsv_features[f];
		json_object *l;

		if (portrsv_feature_present(f))
			continue;
		l = json_object_new_object();
		jset(l, "feature", jstr(ft->name));
		jset(l, "since", jstr(ft->since));
		jset(l, "effect", jstr(ft->lack));
		json_object_array_add(lacks, l);
	}
	jset(o, "lacks", lacks);
	return o;
}

static void print_kernel(json_object *k)
{
	json_object *lacks = json_object_object_get(k, "lacks");
	size_t n = json_object_array_length(lacks);
	char e[3][512];

	portrsv_escape(json_object_get_string(json_object_object_get(k, "release")), e[0],
		       sizeof(e[0]));
	printf("kernel: %s\n", e[0]);
	for (size_t i = 0; i < n; i++) {
		json_object *l = json_object_array_get_idx(lacks, i);

		printf("  lacks %s (Linux %s): %s\n",
		       json_object_get_string(json_object_object_get(l, "feature")),
		       json_object_get_string(json_object_object_get(l, "since")),
		       json_object_get_string(json_object_object_get(l, "effect")));
	}
	if (!n)
		printf("  has every feature portrsv uses\n");
}

static json_object *lines_json(char (*v)[HEALTH_LEN], int n, int more)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < n; i++)
		json_object_array_add(a, jstr(v[i]));
	if (more) {
		char line[64];

		snprintf(line, sizeof(line), "and %d more", more);
		json_object_array_add(a, jstr(line));
	}
	return a;
}

static void print_lines(const char *title, char (*v)[HEALTH_LEN], int n, int more)
{
	char e[4 * HEALTH_LEN];

	for (int i = 0; i < n; i++) {
		portrsv_escape(v[i], e, sizeof(e));
		printf("%s  %s\n", i ? "" : title, e);
	}
	if (more)
		printf("  and %d more\n", more);
}

/* Not loaded: said on stdout (and as JSON), and as a failure on stderr. */
static int not_loaded(bool json)
{
	json_object *k = kernel_json();

	if (json) {
		json_object *o = json_object_new_object();

		jset(o, "loaded", jbool(false));
		jset(o, "pin_dir", jstr(portrsv_pin_dir(NULL)));
		jset(o, "state_dir", jstr(portrsv_state_dir(NULL)));
		jset(o, "kernel", k);
		jprint(o);
	} else {
		printf("portrsv is not loaded (pin dir %s)\n", portrsv_pin_dir(NULL));
		print_kernel(k);
		json_object_put(k);
	}
	return fail(-PORTRSV_ENOTLOADED, "%s", portrsv_pin_dir(NULL));
}

int cmd_status(int argc, char **argv)
{
	struct portrsv_reservation *v = NULL;
	static struct health h;
	char path[PATH_MAX];
	uint64_t *ids = NULL;
	json_object *k, *cgroups;
	struct portrsv *p;
	struct args a;
	int err, n, nids;

	err = parse(argc, argv, 0, "", O_JSON, &a);
	if (err || a.help)
		return err;
	p = portrsv_open(NULL);
	if (!p && errno != PORTRSV_ENOTLOADED)
		return fail(-errno, "%s", portrsv_pin_dir(NULL));
	if (!p)
		return not_loaded(a.json);
	n = portrsv_list(p, &v);
	nids = n < 0 ? 0 : portrsv_attached(NULL, &ids);
	/* Maps without programs or links: loaded to look at, enforcing nothing. The worst
	 * problem, so the first (and the one stderr names). */
	portrsv_set_errmsg(NULL);
	if (n >= 0 && nids >= 0 && portrsv_enforcing(NULL) && portrsv_errmsg()[0])
		problem(&h, "%s", portrsv_errmsg());
	portrsv_set_errmsg(NULL);
	if (n >= 0 && nids >= 0)
		check_health(&h, p, v, n, ids, nids);
	portrsv_close(p);
	free(v);
	if (n < 0 || nids < 0)
		return fail(n < 0 ? n : nids, "%s", portrsv_pin_dir(NULL));
	k = kernel_json();
	cgroups = json_object_new_array();
	for (int i = 0; i < nids; i++) {
		json_object *c = json_object_new_object();

		cgroup_label(ids[i], path, sizeof(path));
		jset(c, "id", jint((int64_t)ids[i]));
		jset(c, "path", jstr(path));
		json_object_array_add(cgroups, c);
	}
	free(ids);
	if (a.json) {
		json_object *o = json_object_new_object();

		jset(o, "loaded", jbool(true));
		jset(o, "pin_dir", jstr(portrsv_pin_dir(NULL)));
		jset(o, "state_dir", jstr(portrsv_state_dir(NULL)));
		jset(o, "reservations", jint(n));
		jset(o, "cgroups", cgroups);
		jset(o, "kernel", k);
		jset(o, "waiting", lines_json(h.waits, h.nwait, h.more_waits));
		jset(o, "problems", lines_json(h.probs, h.n, h.more));
		jprint(o);
	} else {
		char e[4 * PATH_MAX];

		printf("loaded: yes\npin dir: %s\nstate dir: %s\nreservations: %d\n"
		       "enforced cgroups:%s\n", portrsv_pin_dir(NULL), portrsv_state_dir(NULL), n,
		       nids ? "" : " none");
		for (int i = 0; i < nids; i++) {
			json_object *c = json_object_array_get_idx(cgroups, i);

			portrsv_escape(json_object_get_string(json_object_object_get(c, "path")), e,
				       sizeof(e));
			printf("  %s (id %" PRIu64 ")\n", e, (uint64_t)json_object_get_int64(
				       json_object_object_get(c, "id")));
		}
		print_lines("waiting:\n", h.waits, h.nwait, h.more_waits);
		print_lines("problems:\n", h.probs, h.n, h.more);
		print_kernel(k);
		json_object_put(k);
		json_object_put(cgroups);
	}
	if (!h.n)
		return 0;
	/* Degraded enforcement is a failure an operator must see: one line on stderr. */
	fprintf(stderr, "portrsv: status: %s%s\n", h.probs[0],
		h.n + h.more > 1 ? " (and more: status lists them)" : "");
	return PORTRSV_EXIT_FAILURE;
}
