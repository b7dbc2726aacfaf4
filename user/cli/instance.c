// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The instance: load, restore, unload, attach, detach, gc. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "cli.h"

/*
 * libbpf's own log: shown whole with PORTRSV_DEBUG=1; otherwise its first warning (the
 * cause; later ones only say that loading failed) is named by a failed load, on one line.
 */
static char libbpf_last[256];

int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (secure_getenv("PORTRSV_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_WARN && !libbpf_last[0]) {
		vsnprintf(libbpf_last, sizeof(libbpf_last), fmt, ap);
		libbpf_last[strcspn(libbpf_last, "\n")] = '\0';
	}
	return 0;
}

/*
 * What load and restore say about the blocks they applied (a holder of a port, a netns not
 * there yet, ...): a line on stderr each, or with --json the "notes" of the document.
 */
static void report(const char *msg, void *ctx)
{
	json_object *notes = ctx;

	if (notes)
		json_object_array_add(notes, jstr(msg));
	else
		fprintf(stderr, "portrsv: %s: %s\n", cli_cmd->name, msg);
}

/* load and restore: what could not be applied was reported line by line; exit 1 then. */
static int applied(int ret, json_object *notes)
{
	int status = 0;

	if (ret < 0 && libbpf_last[0] && !portrsv_errmsg()[0]) {
		fprintf(stderr, "portrsv: %s: %s (PORTRSV_DEBUG=1 shows libbpf's log; maps pinned by "
			"another version need 'portrsv unload' first)\n", cli_cmd->name, libbpf_last);
		status = ret == -EINVAL ? PORTRSV_EXIT_FAILURE : portrsv_errno_to_exit(ret);
	} else if (ret < 0) {
		status = fail(ret, "%s", portrsv_state_dir(NULL));
	} else if (ret) {
		status = PORTRSV_EXIT_FAILURE;
	}
	if (notes) {
		json_object *o = json_object_new_object();

		jset(o, "ok", jbool(!status));
		jset(o, "pin_dir", jstr(portrsv_pin_dir(NULL)));
		jset(o, "state_dir", jstr(portrsv_state_dir(NULL)));
		jset(o, "notes", notes);
		jprint(o);
	}
	return status;
}

int cmd_load(int argc, char **argv)
{
	json_object *notes = NULL;
	struct args a;
	int err = parse(argc, argv, 0, "", O_CGROUP O_JSON, &a);

	if (err || a.help)
		return err;
	for (int i = 0; i < a.ncgroups && !err; i++)
		err = check_cgroup("cgroup", a.cgroups[i]);
	if (err)
		return err;
	if (a.json)
		notes = json_object_new_array();
	PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = a.cgroups, .n_cgroups = a.ncgroups,
		     .report = report, .ctx = notes);
	return applied(portrsv_load(&o), notes);
}

int cmd_restore(int argc, char **argv)
{
	json_object *notes = NULL;
	struct args a;
	int err = parse(argc, argv, 0, "", O_JSON, &a);

	if (err || a.help)
		return err;
	if (a.json)
		notes = json_object_new_array();
	PORTRSV_OPTS(portrsv_restore_opts, o, .report = report, .ctx = notes);
	return applied(portrsv_restore(&o), notes);
}

int cmd_unload(int argc, char **argv)
{
	struct args a;
	int err = parse(argc, argv, 0, "", "", &a);

	if (err || a.help)
		return err;
	err = portrsv_unload(NULL);
	return err ? fail(err, "%s", portrsv_pin_dir(NULL)) : 0;
}

int cmd_attach(int argc, char **argv)
{
	bool attach = !strcmp(argv[0], "attach");
	struct args a;
	int err = parse(argc, argv, 1, "DIR", "", &a);

	if (err || a.help)
		return err;
	err = check_cgroup("cgroup", a.pos[0]);
	if (err)
		return err;
	err = attach ? portrsv_attach(NULL, a.pos[0]) : portrsv_detach(NULL, a.pos[0]);
	if (err == -ENOENT && !attach) {
		fprintf(stderr, "portrsv: detach: %s: portrsv is not attached there\n", a.pos[0]);
		return portrsv_errno_to_exit(err);
	}
	return err ? fail(err, "%s", a.pos[0]) : 0;
}

static void print_line(const char *msg, void *ctx)
{
	printf("%s\n", msg);
}

/* gc --json: one array. gc calls back only after its store change is durable. */
static void gc_object(enum portrsv_proto proto, uint16_t start, uint16_t count,
		      const char *netns, void *ctx)
{
	json_object *o = json_object_new_object();

	jset(o, "proto", jstr(portrsv_proto_name(proto)));
	jset(o, "start", jint(start));
	jset(o, "count", jint(count));
	jset(o, "netns", jstr(netns));
	json_object_array_add(ctx, o);
}

int cmd_gc(int argc, char **argv)
{
	json_object *dropped = NULL;
	struct portrsv *p;
	struct args a;
	int err = parse(argc, argv, 0, "", O_JSON, &a);

	if (err || a.help)
		return err;
	if (!portrsv_privileged())
		return fail(-EPERM, "%s", portrsv_state_dir(NULL));
	p = open_or_fail(&err);
	if (!p)
		return err;
	if (a.json)
		dropped = json_object_new_array();
	PORTRSV_OPTS(portrsv_gc_opts, o, .report = a.json ? NULL : print_line,
		     .dropped = a.json ? gc_object : NULL, .ctx = dropped);
	err = portrsv_gc(p, &o);
	portrsv_close(p);
	/* What was dropped is durable even when gc then fails: said all the same. */
	if (dropped && (err >= 0 || json_object_array_length(dropped)))
		jprint(dropped);
	else
		json_object_put(dropped);
	return err < 0 ? fail(err, "%s", portrsv_state_dir(NULL)) : 0;
}
