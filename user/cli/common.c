// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What every command shares: errors, the parsing of its arguments, the names of things. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "cli.h"

const struct cli_cmd *cli_cmd;

/* "portrsv: add: " (or "portrsv: " before a command is known) */
static void prefix(void)
{
	if (cli_cmd)
		fprintf(stderr, "portrsv: %s: ", cli_cmd->name);
	else
		fprintf(stderr, "portrsv: ");
}

int fail(int err, const char *fmt, ...)
{
	va_list ap;

	prefix();
	/* The library's detail (a store's file and line, ...) says it all, and more than errno. */
	if (portrsv_errmsg()[0]) {
		fprintf(stderr, "%s\n", portrsv_errmsg());
		return portrsv_errno_to_exit(err);
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s%s\n", fmt[0] ? ": " : "", portrsv_strerror(err));
	return portrsv_errno_to_exit(err);
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	prefix();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cli_cmd) {
		/* One line: the usage's line breaks (and their indent) become one space. */
		fprintf(stderr, " (usage: portrsv %s ", cli_cmd->name);
		for (const char *u = cli_cmd->usage; *u; u++) {
			if (*u != '\n') {
				fputc(*u, stderr);
				continue;
			}
			fputc(' ', stderr);
			while (u[1] == ' ')
				u++;
		}
		fprintf(stderr, ")\n");
	} else
		fprintf(stderr, " (see 'portrsv --help')\n");
	return PORTRSV_EXIT_USAGE;
}

void print_usage(FILE *f)
{
	fprintf(f, "Usage: portrsv %s %s\n\n%s", cli_cmd->name, cli_cmd->usage, cli_cmd->help);
}

int fail_path(int err, const char *what, const char *path)
{
	char mnt[PATH_MAX] = "", epath[4 * PATH_MAX];

	portrsv_escape(path, epath, sizeof(epath));
	prefix();
	if (err == -EINVAL && strstr(what, "cgroup") && !portrsv_cgroup2_mount(mnt, sizeof(mnt)))
		fprintf(stderr, "%s '%s': not a cgroup v2 directory (cgroup2 is mounted at %s)\n",
			what, epath, mnt);
	else if (err == -EINVAL && strstr(what, "namespace"))
		fprintf(stderr, "%s '%s': not a network namespace (give /run/netns/NAME, NAME "
			"of 'ip netns', or /proc/PID/ns/net)\n", what, epath);
	else
		fprintf(stderr, "%s '%s': %s\n", what, epath,
			err == -EINVAL ? "wrong kind of file" : strerror(-err));
	/* A path that names nothing is a bad argument, not a reservation "not found" (4). */
	return err == -ENOENT || err == -EINVAL ? PORTRSV_EXIT_USAGE : portrsv_errno_to_exit(err);
}

int check_cgroup(const char *what, const char *dir)
{
	int err = portrsv_cgroup_id(dir, NULL, NULL);

	if (err == -EINVAL || err == -ENOTDIR)
		return fail_path(-EINVAL, what, dir);
	return err ? fail_path(err, what, dir) : 0;
}

int check_netns(const char *path)
{
	int saved, err;

	if (!path)
		return 0;
	err = portrsv_netns_enter(path, &saved);
	if (err)
		return fail_path(err, "network namespace", path);
	portrsv_netns_leave(saved);
	return 0;
}

enum { OPT_OWNER = 256, OPT_NETNS, OPT_COMMENT, OPT_CGROUP, OPT_JSON, OPT_POOL, OPT_LIMIT,
       OPT_LOG, OPT_RATE, OPT_HELP };

/* NAME, as `ip netns` names it, is /run/netns/NAME: how show and why write it back. */
static const char *netns_arg(const char *arg)
{
	static char path[PATH_MAX];

	if (strchr(arg, '/') || !strncmp(arg, "net:[", 5) || !strcmp(arg, ".") ||
	    !strcmp(arg, "..") || !arg[0])
		return arg;
	snprintf(path, sizeof(path), PORTRSV_NETNS_RUN_DIR "/%s", arg);
	return path;
}

/* The i-th word of names ("PROTO START COUNT"), for "missing COUNT". */
static int word(const char *names, int i, char *buf, size_t len)
{
	const char *s = names;

	for (; i > 0 && s; i--)
		s = strchr(s, ' ') ? strchr(s, ' ') + 1 : NULL;
	if (!s)
		return -1;
	snprintf(buf, len, "%.*s", (int)strcspn(s, " "), s);
	return 0;
}

int parse(int argc, char **argv, int min_pos, const char *names, const char *allowed,
	  struct args *a)
{
	static const struct option opts[] = {
		{ "owner", required_argument, NULL, OPT_OWNER },
		{ "netns", required_argument, NULL, OPT_NETNS },
		{ "comment", required_argument, NULL, OPT_COMMENT },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "pool", no_argument, NULL, OPT_POOL },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "log", no_argument, NULL, OPT_LOG },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c, idx, max_pos = 0;
	char missing[32];

	for (const char *s = names; *s; s++)
		max_pos += (s == names || s[-1] == ' ') && *s != ' ';
	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, &idx)) != -1) {
		if (c == 'h' || c == OPT_HELP) {
			print_usage(stdout);
			a->help = true;
			return 0;
		}
		if (c == '?' || c == ':') {
			if (c == ':')
				return usage_error("option '%s' needs a value", argv[optind - 1]);
			/* In a cluster like -1x, optind has not moved past it yet. */
			if (optopt >= OPT_OWNER) /* a long option given a value it takes none of */
				return usage_error("option '%s' takes no value", argv[optind - 1]);
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
		/* argv[optind - 1] is the option's value here, not the option. */
		if (!strchr(allowed, 'a' + (c - OPT_OWNER)))
			return usage_error("option '--%s' does not apply here", opts[idx].name);
		switch (c) {
		case OPT_OWNER: a->owner = optarg; break;
		case OPT_NETNS: a->netns = netns_arg(optarg); break;
		case OPT_COMMENT: a->comment = optarg; break;
		case OPT_JSON: a->json = true; break;
		case OPT_POOL: a->pool = true; break;
		case OPT_LIMIT: a->limit = optarg; break;
		case OPT_LOG: a->log = true; break;
		case OPT_RATE: a->rate = optarg; break;
		case OPT_CGROUP:
			if (a->ncgroups == MAX_CGROUPS)
				return usage_error("more than %d --cgroup", MAX_CGROUPS);
			a->cgroups[a->ncgroups++] = optarg;
			break;
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos == max_pos)
			return usage_error("unexpected argument '%s'", argv[optind]);
		a->pos[a->npos++] = argv[optind];
	}
	if (a->npos < min_pos && !word(names, a->npos, missing, sizeof(missing)))
		return usage_error("missing %s", missing);
	return 0;
}

int parse_block(const struct args *a, enum portrsv_proto *proto, uint16_t *start,
		uint16_t *count)
{
	char epos[3][64];

	for (int i = 0; i < a->npos; i++)
		portrsv_escape(a->pos[i], epos[i], sizeof(epos[i]));
	if (portrsv_parse_proto(a->pos[0], proto))
		return usage_error("protocol '%s' is not tcp or udp", epos[0]);
	if (portrsv_parse_port(a->pos[1], start))
		return usage_error("port '%s' is not a number from %d to %d", epos[1],
				   PORTRSV_PORT_MIN, PORTRSV_PORT_MAX);
	if (!count)
		return 0;
	if (portrsv_parse_count(a->pos[2], count))
		return usage_error("count '%s' is not a number from 1 to %d", epos[2],
				   PORTRSV_PORT_MAX);
	if (portrsv_block_valid(*start, *count))
		return usage_error("block %u-%u passes port %d", *start, *start + *count - 1,
				   PORTRSV_PORT_MAX);
	return 0;
}

struct portrsv *open_or_fail(int *status)
{
	struct portrsv *p = portrsv_open(NULL);
	struct statfs sf;

	/* `ip netns exec` mounts a fresh /sys: the pins are there, just not visible. */
	if (!p && errno == PORTRSV_ENOTLOADED &&
	    !strncmp(portrsv_pin_dir(NULL), "/sys/fs/bpf/", 12) && statfs("/sys/fs/bpf", &sf) == 0 &&
	    sf.f_type != BPF_FS_MAGIC) {
		prefix();
		fprintf(stderr, "%s: not loaded, or hidden: /sys/fs/bpf is not a bpf filesystem "
			"here (under 'ip netns exec'? use --netns instead)\n", portrsv_pin_dir(NULL));
		*status = PORTRSV_EXIT_NOTLOADED;
	} else if (!p) {
		*status = fail(-errno, "%s", portrsv_pin_dir(NULL));
	}
	return p;
}

const char *block_name(uint16_t start, uint16_t count, char *buf)
{
	portrsv_block_format(start, count, buf, BLOCK_LEN);
	return buf;
}

void iso8601(uint64_t t, int usec, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	char stamp[32];
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(buf, len, "?");
	else if (usec >= 0)
		snprintf(buf, len, "%s.%06dZ", stamp, usec);
	else
		snprintf(buf, len, "%sZ", stamp);
}

void boot_time(uint64_t ts_boot_ns, bool usec, char *buf, size_t len)
{
	struct portrsv_event e = { .ts_boot_ns = ts_boot_ns };
	uint64_t ns = portrsv_event_realtime_ns(&e);

	iso8601(ns / 1000000000ULL, usec ? (int)(ns % 1000000000ULL / 1000) : -1, buf, len);
}

void cgroup_label(uint64_t cgid, char *buf, size_t len)
{
	if (portrsv_cgroup_path(cgid, buf, len))
		snprintf(buf, len, "(gone: cgroup id %" PRIu64 ")", cgid);
}

void owner_path(struct portrsv *p, const struct portrsv_reservation *r, char *buf, size_t len,
		bool *present)
{
	char now[PATH_MAX];

	buf[0] = '\0';
	*present = false;
	if (portrsv_owner_path(p, r, buf, len))
		return;
	*present = r->owner_cgid && !portrsv_cgroup_path(r->owner_cgid, now, sizeof(now));
}

void netns_label(uint64_t ino, uint64_t cookie, char *buf, size_t len)
{
	char name[PATH_MAX];
	const char *run;

	if (portrsv_netns_name(NULL, ino, cookie, name, sizeof(name)))
		snprintf(buf, len, "net:[%" PRIu64 "]", ino);
	else if (!name[0])
		snprintf(buf, len, "host");
	else if ((run = portrsv_netns_run_name(name)))
		snprintf(buf, len, "%s", run);
	else
		snprintf(buf, len, "net:[%" PRIu64 "]", ino);
}

void comm_string(const char comm[16], char out[17])
{
	memcpy(out, comm, 16);
	out[16] = '\0';
}

const char *token_string(uint64_t token, char buf[TOKEN_LEN])
{
	snprintf(buf, TOKEN_LEN, "0x%016" PRIx64, token);
	return buf;
}
