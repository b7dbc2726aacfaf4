// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* portrsv: the command. Every failure prints one line on stderr and exits with the status
 * of PORTRSV_ERRNO_MAP (<portrsv/abi.h>); usage errors exit PORTRSV_EXIT_USAGE. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "store.h"

#define MAX_CGROUPS 64

static const char usage_text[] =
	"Usage: portrsv COMMAND [ARGS]\n"
	"\n"
	"  load [--cgroup DIR]...   load and pin the programs, attach to each DIR\n"
	"                           (default: the cgroup v2 root), apply the store;\n"
	"                           again = atomic upgrade\n"
	"  unload                   detach, remove the pins; the store is kept\n"
	"  attach DIR | detach DIR  enforce, or stop enforcing, a cgroup v2 subtree\n"
	"  add PROTO START COUNT [--owner CGROUP_DIR] [--netns NSPATH] [--comment TEXT]\n"
	"      [--pool [--limit PORTS]]\n"
	"                           reserve a block; prints its token. --pool: a pool that\n"
	"                           runtime reservations are acquired from (uid 0 only, or\n"
	"                           at most PORTS ports per cgroup with --limit)\n"
	"  run PROTO START|0 COUNT -- CMD [ARG]...\n"
	"                           run CMD with a runtime reservation from a pool (START 0:\n"
	"                           any free block), given in $PORTRSV_RUNTIME_START, _COUNT,\n"
	"                           _TOKEN and _FD; it ends when CMD exits\n"
	"  delete PROTO START COUNT [--netns NSPATH]\n"
	"  lookup PROTO START COUNT [--netns NSPATH]   print the token of exactly that block\n"
	"  show [PROTO] [--json]    list reservations, pools and runtime reservations\n"
	"  why PROTO PORT [--netns NSPATH]   which reservation covers a port\n"
	"  restore                  what boot runs: load if needed, attach the stored cgroups,\n"
	"                           make the kernel's reservations equal to the store's\n"
	"  gc [--json]              drop reservations whose unnamed netns is gone for good\n"
	"  status [--json]          what is loaded and where it is enforced\n"
	"  monitor [--json | --log [--rate N]]\n"
	"                           stream denied binds until interrupted (--log: journal lines,\n"
	"                           at most N a second, 20 by default, the rest counted)\n"
	"\n"
	"PROTO is tcp or udp. Environment: PORTRSV_PIN_DIR (default " PORTRSV_PIN_DIR_DEFAULT "),\n"
	"PORTRSV_STATE_DIR (default " PORTRSV_STATE_DIR_DEFAULT ").\n"
	"Exit status: 0 ok, 1 failure, 2 invalid arguments, 3 conflict, 4 not found,\n"
	"5 permission denied, 6 not loaded.\n"
	"\n"
	"Examples:\n"
	"  portrsv load --cgroup /sys/fs/cgroup/services\n"
	"  portrsv add tcp 5000 20 --comment 'web pool'\n"
	"  portrsv show --json\n";

static const char *cmd = "portrsv";

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on stderr naming the cause; the exit status that err maps to. */
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	/* The library's detail (a store's file and line, ...) says it all, and more than errno. */
	if (portrsv_errmsg()[0]) {
		fprintf(stderr, "portrsv: %s: %s\n", cmd, portrsv_errmsg());
		return portrsv_errno_to_exit(err);
	}
	fprintf(stderr, "portrsv: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s%s\n", fmt[0] ? ": " : "", portrsv_strerror(err));
	return portrsv_errno_to_exit(err);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "portrsv: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'portrsv --help')\n");
	return PORTRSV_EXIT_USAGE;
}

/* A path of the command line that does not name what it must (what: "owner cgroup", ...). */
static int fail_path(int err, const char *what, const char *path)
{
	char mnt[PATH_MAX] = "";

	if (err == -EINVAL && strstr(what, "cgroup") && !portrsv_cgroup2_mount(mnt, sizeof(mnt)))
		fprintf(stderr, "portrsv: %s: %s '%s': not a cgroup v2 directory (cgroup2 is "
			"mounted at %s)\n", cmd, what, path, mnt);
	else
		fprintf(stderr, "portrsv: %s: %s '%s': %s\n", cmd, what, path,
			err == -EINVAL ? "wrong kind of file" : strerror(-err));
	/* A path that names nothing is a bad argument, not a reservation "not found" (4). */
	return err == -ENOENT || err == -EINVAL ? PORTRSV_EXIT_USAGE : portrsv_errno_to_exit(err);
}

static int check_cgroup(const char *what, const char *dir)
{
	int err = portrsv_cgroup_id(dir, NULL, NULL);

	if (err == -EINVAL || err == -ENOTDIR)
		return fail_path(-EINVAL, what, dir);
	return err ? fail_path(err, what, dir) : 0;
}

static int check_netns(const char *path)
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

struct args {
	const char *pos[3];
	int npos;
	const char *owner, *netns, *comment;
	const char *cgroups[MAX_CGROUPS];
	int ncgroups;
	bool json;
	bool pool;
	const char *limit;
	bool log;
	const char *rate;
};

enum { OPT_OWNER = 256, OPT_NETNS, OPT_COMMENT, OPT_CGROUP, OPT_JSON, OPT_POOL, OPT_LIMIT,
       OPT_LOG, OPT_RATE };

/*
 * Parse argv of one command: at most max_pos positionals (at least min_pos) and the options
 * in allowed (a string of OPT_* codes, as chars offset from OPT_OWNER).
 */
static int parse(int argc, char **argv, int min_pos, int max_pos, const char *allowed,
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
		{ NULL, 0, NULL, 0 },
	};
	int c, idx;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, &idx)) != -1) {
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
		case OPT_NETNS: a->netns = optarg; break;
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
	if (a->npos < min_pos)
		return usage_error("missing arguments");
	return 0;
}
#define O_OWNER "a"
#define O_NETNS "b"
#define O_COMMENT "c"
#define O_CGROUP "d"
#define O_JSON "e"
#define O_POOL "f"
#define O_LIMIT "g"
#define O_LOG "h"
#define O_RATE "i"

/* PROTO START COUNT, or PROTO PORT when count is NULL. */
static int parse_block(const struct args *a, enum portrsv_proto *proto, uint16_t *start,
		       uint16_t *count)
{
	int err;

	if (portrsv_parse_proto(a->pos[0], proto))
		return usage_error("protocol '%s' is not tcp or udp", a->pos[0]);
	if (portrsv_parse_port(a->pos[1], start))
		return usage_error("port '%s' is not a number from %d to %d", a->pos[1],
				   PORTRSV_PORT_MIN, PORTRSV_PORT_MAX);
	if (!count)
		return 0;
	if (portrsv_parse_count(a->pos[2], count))
		return usage_error("count '%s' is not a number from 1 to %d", a->pos[2],
				   PORTRSV_PORT_MAX);
	err = portrsv_block_valid(*start, *count);
	if (err)
		return usage_error("block %u+%u passes port %d", *start, *count, PORTRSV_PORT_MAX);
	return 0;
}

static struct portrsv *open_or_fail(int *status)
{
	struct portrsv *p = portrsv_open(NULL);

	struct statfs sf;

	/* `ip netns exec` mounts a fresh /sys: the pins are there, just not visible. */
	if (!p && errno == PORTRSV_ENOTLOADED &&
	    !strncmp(portrsv_pin_dir(NULL), "/sys/fs/bpf/", 12) && statfs("/sys/fs/bpf", &sf) == 0 &&
	    sf.f_type != BPF_FS_MAGIC) {
		fprintf(stderr, "portrsv: %s: %s: not loaded, or hidden: /sys/fs/bpf is not a bpf "
			"filesystem here (under 'ip netns exec'? use --netns instead)\n", cmd,
			portrsv_pin_dir(NULL));
		*status = PORTRSV_EXIT_NOTLOADED;
	} else if (!p) {
		*status = fail(-errno, "%s", portrsv_pin_dir(NULL));
	}
	return p;
}

/*
 * libbpf's own log: shown whole with PORTRSV_DEBUG=1; otherwise its first warning (the
 * cause; later ones only say that loading failed) is named by a failed load, on one line.
 */
static char libbpf_last[256];

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (secure_getenv("PORTRSV_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_WARN && !libbpf_last[0]) {
		vsnprintf(libbpf_last, sizeof(libbpf_last), fmt, ap);
		libbpf_last[strcspn(libbpf_last, "\n")] = '\0';
	}
	return 0;
}

static void report(const char *msg, void *ctx)
{
	fprintf(stderr, "portrsv: %s: %s\n", cmd, msg);
}

/* load and restore: what could not be applied was reported line by line; exit 1 then. */
static int applied(int ret)
{
	if (ret < 0 && libbpf_last[0] && !portrsv_errmsg()[0]) {
		fprintf(stderr, "portrsv: %s: %s (PORTRSV_DEBUG=1 shows libbpf's log; maps pinned by "
			"another version need 'portrsv unload' first)\n", cmd, libbpf_last);
		return ret == -EINVAL ? PORTRSV_EXIT_FAILURE : portrsv_errno_to_exit(ret);
	}
	if (ret < 0)
		return fail(ret, "%s", portrsv_state_dir(NULL));
	return ret ? PORTRSV_EXIT_FAILURE : 0;
}

static int cmd_load(int argc, char **argv)
{
	struct args a;
	int err = parse(argc, argv, 0, 0, O_CGROUP, &a);

	if (err)
		return err;
	for (int i = 0; i < a.ncgroups && !err; i++)
		err = check_cgroup("cgroup", a.cgroups[i]);
	if (err)
		return err;
	PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = a.cgroups, .n_cgroups = a.ncgroups,
		     .report = report);
	return applied(portrsv_load(&o));
}

static int cmd_restore(int argc, char **argv)
{
	struct args a;
	int err = parse(argc, argv, 0, 0, "", &a);

	if (err)
		return err;
	PORTRSV_OPTS(portrsv_restore_opts, o, .report = report);
	return applied(portrsv_restore(&o));
}

static int cmd_unload(int argc, char **argv)
{
	struct args a;
	int err = parse(argc, argv, 0, 0, "", &a);

	if (err)
		return err;
	err = portrsv_unload(NULL);
	return err ? fail(err, "%s", portrsv_pin_dir(NULL)) : 0;
}

static int cmd_attach(int argc, char **argv)
{
	bool attach = !strcmp(argv[0], "attach");
	struct args a;
	int err = parse(argc, argv, 1, 1, "", &a);

	if (!err)
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

static int cmd_add(int argc, char **argv)
{
	enum portrsv_proto proto;
	uint16_t start, count, limit = 0;
	struct portrsv *p;
	uint64_t token;
	struct args a;
	int err;

	err = parse(argc, argv, 3, 3, O_OWNER O_NETNS O_COMMENT O_POOL O_LIMIT, &a);
	if (!err)
		err = parse_block(&a, &proto, &start, &count);
	if (err)
		return err;
	if (a.comment && strlen(a.comment) >= PORTRSV_COMMENT_LEN)
		return usage_error("comment longer than %d bytes", PORTRSV_COMMENT_LEN - 1);
	if (a.limit && !a.pool)
		return usage_error("--limit applies to pools only (add --pool)");
	if (a.pool && a.owner)
		return usage_error("a pool has no owner cgroup: its ports go to runtime "
				   "reservations only (drop --owner or --pool)");
	if (a.limit && (portrsv_parse_count(a.limit, &limit) || limit > count))
		return usage_error("limit '%s' is not a number from 1 to %u (the pool's ports; "
				   "without --limit only uid 0 acquires)", a.limit, count);
	p = open_or_fail(&err);
	if (!p)
		return err;
	if (a.owner)
		err = check_cgroup("owner cgroup", a.owner);
	if (!err)
		err = check_netns(a.netns);
	if (err) {
		portrsv_close(p);
		return err;
	}
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = a.owner, .netns = a.netns,
		     .comment = a.comment, .pool = a.pool, .limit = limit);
	err = portrsv_create(p, proto, start, count, &o, &token);
	portrsv_close(p);
	if (err)
		return fail(err, "%s %u-%u", a.pos[0], start, start + count - 1);
	printf("0x%016" PRIx64 "\n", token);
	return 0;
}

static int cmd_delete_lookup(int argc, char **argv)
{
	bool del = !strcmp(argv[0], "delete");
	enum portrsv_proto proto;
	uint16_t start, count;
	struct portrsv *p;
	uint64_t token;
	struct args a;
	int err;

	err = parse(argc, argv, 3, 3, O_NETNS, &a);
	if (!err)
		err = parse_block(&a, &proto, &start, &count);
	if (err)
		return err;
	p = open_or_fail(&err);
	if (!p)
		return err;
	/* delete also takes a netns that is gone: its reservations may live on in the store. */
	err = del ? 0 : check_netns(a.netns);
	if (err) {
		portrsv_close(p);
		return err;
	}
	PORTRSV_OPTS(portrsv_ns_opts, o, .netns = a.netns);
	err = del ? portrsv_delete(p, proto, start, count, &o)
		  : portrsv_lookup(p, proto, start, count, &o, &token);
	portrsv_close(p);
	if (err == -ENOENT && a.netns && access(a.netns, F_OK)) {
		fprintf(stderr, "portrsv: %s: netns %s does not exist, and the store has no %s "
			"%u+%u for it\n", cmd, a.netns, a.pos[0], start, count);
		return portrsv_errno_to_exit(err);
	}
	if (err)
		return fail(err, "%s %u+%u", a.pos[0], start, count);
	if (!del)
		printf("0x%016" PRIx64 "\n", token);
	return 0;
}

/* Text from outside as a JSON string: escaped (escape.c), always valid UTF-8. */
static void json_string(const char *s)
{
	portrsv_json_string(stdout, s);
}

/* UTC, ISO 8601, of seconds since the epoch; usec >= 0 adds microseconds. */
static void iso8601(uint64_t t, int usec, char *buf, size_t len)
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

/* The wall-clock time of a BPF timestamp (bpf_ktime_get_boot_ns). */
static void boot_time(uint64_t ts_boot_ns, bool usec, char *buf, size_t len)
{
	struct portrsv_event e = { .ts_boot_ns = ts_boot_ns };
	uint64_t ns = portrsv_event_realtime_ns(&e);

	iso8601(ns / 1000000000ULL, usec ? (int)(ns % 1000000000ULL / 1000) : -1, buf, len);
}

/* A cgroup's path, or "(gone: cgroup id N)" when it was removed. */
static void cgroup_label(uint64_t cgid, char *buf, size_t len)
{
	if (portrsv_cgroup_path(cgid, buf, len))
		snprintf(buf, len, "(gone: cgroup id %" PRIu64 ")", cgid);
}

/*
 * The owner cgroup's path, or "" when there is none; *present: a cgroup is there now (an
 * owner follows its path, so one that is not there yet is waited for, not gone).
 */
static void owner_path(struct portrsv *p, const struct portrsv_reservation *r, char *buf,
		       size_t len, bool *present)
{
	char now[PATH_MAX];

	buf[0] = '\0';
	*present = false;
	if (portrsv_owner_path(p, r, buf, len))
		return;
	*present = r->owner_cgid && !portrsv_cgroup_path(r->owner_cgid, now, sizeof(now));
}

/* What show lists: the reservations, and the runtime reservations of their pools. */
struct listing {
	struct portrsv_reservation *v;
	int n;
	struct portrsv_runtime_info *rt;
	int nrt;
	bool *rt_shown; /* each runtime reservation once: after its pool, or at the end */
};

static const char *kind_of(const struct portrsv_reservation *r)
{
	return r->flags & PORTRSV_F_POOL ? "pool" : "persistent";
}

static bool in_pool(const struct portrsv_reservation *r, const struct portrsv_runtime_info *rt)
{
	return (r->flags & PORTRSV_F_POOL) && rt->netns_cookie == r->netns_cookie &&
	       rt->proto == r->proto && rt->pool == r->start;
}

/* The runtime reservation's acquirer, escaped: comm and cgroup path. */
static void rt_labels(const struct portrsv_runtime_info *rt, char *comm, size_t clen, char *cg,
		      size_t glen)
{
	char raw[PATH_MAX];

	portrsv_escape(rt->comm, comm, clen);
	cgroup_label(rt->cgid, raw, sizeof(raw));
	portrsv_escape(raw, cg, glen);
}

static void json_runtime(const struct portrsv_runtime_info *rt, bool first)
{
	char comm[sizeof(rt->comm) + 1], cg[PATH_MAX], when[32];

	/* json_string escapes them (escape.c): raw here, or they would be escaped twice. */
	memcpy(comm, rt->comm, sizeof(rt->comm));
	comm[sizeof(rt->comm)] = '\0';
	cgroup_label(rt->cgid, cg, sizeof(cg));
	iso8601(rt->created, -1, when, sizeof(when));
	printf("%s\n  {\"proto\": \"%s\", \"start\": %u, \"count\": %u, \"end\": %u, "
	       "\"token\": \"0x%016" PRIx64 "\", \"owner\": null, \"netns\": \"net:[%" PRIu64 "]\", "
	       "\"netns_cookie\": %" PRIu64 ", \"comment\": \"\", \"created\": \"%s\", "
	       "\"denied\": 0, \"persistent\": false, \"kind\": \"runtime\", \"pool\": %u, "
	       "\"pid\": %u, \"comm\": ", first ? "" : ",", portrsv_proto_name(rt->proto),
	       rt->start, rt->count, rt->start + rt->count - 1, rt->token, rt->netns_ino,
	       rt->netns_cookie, when, rt->pool, rt->pid);
	json_string(comm);
	printf(", \"cgroup\": ");
	json_string(cg);
	printf("}");
}

static void show_json(struct portrsv *p, struct listing *l, enum portrsv_proto proto)
{
	const struct portrsv_reservation *v = l->v;
	char owner[PATH_MAX], when[32];
	bool first = true, present;

	printf("[");
	for (int i = 0; i < l->n; i++) {
		if (proto && v[i].proto != proto)
			continue;
		owner_path(p, &v[i], owner, sizeof(owner), &present);
		iso8601(v[i].created, -1, when, sizeof(when));
		printf("%s\n  {\"proto\": \"%s\", \"start\": %u, \"count\": %u, \"end\": %u, "
		       "\"token\": \"0x%016" PRIx64 "\", \"owner\": ", first ? "" : ",",
		       portrsv_proto_name(v[i].proto), v[i].start, v[i].count,
		       v[i].start + v[i].count - 1, v[i].token);
		if (owner[0])
			json_string(owner);
		else
			printf("null");
		if (owner[0])
			printf(", \"owner_present\": %s", present ? "true" : "false");
		printf(", \"netns\": \"net:[%" PRIu64 "]\", \"netns_cookie\": %" PRIu64
		       ", \"comment\": ", v[i].netns_ino, v[i].netns_cookie);
		json_string(v[i].comment);
		printf(", \"created\": \"%s\", \"denied\": %" PRIu64 ", \"persistent\": %s, "
		       "\"kind\": \"%s\"", when, v[i].denied,
		       v[i].flags & PORTRSV_F_PERSISTENT ? "true" : "false", kind_of(&v[i]));
		if (v[i].flags & PORTRSV_F_POOL) {
			struct portrsv_pool_info pi = { 0 };

			portrsv_pool_info(p, &v[i], &pi);
			if (pi.limit)
				printf(", \"limit\": %u", pi.limit);
			else
				printf(", \"limit\": null");
			printf(", \"in_use\": %u, \"runtime\": %u", pi.in_use, pi.runtime);
		}
		printf("}");
		first = false;
		for (int j = 0; j < l->nrt; j++) {
			if (l->rt_shown[j] || !in_pool(&v[i], &l->rt[j]))
				continue;
			json_runtime(&l->rt[j], false);
			l->rt_shown[j] = true;
		}
	}
	/* A runtime reservation whose pool is not listed (deleted under it by an older
	 * version, or listed in between): shown all the same. */
	for (int j = 0; j < l->nrt; j++) {
		if (l->rt_shown[j] || (proto && l->rt[j].proto != proto))
			continue;
		json_runtime(&l->rt[j], first);
		first = false;
	}
	printf("%s]\n", first ? "" : "\n");
}

static void table_runtime(const struct portrsv_runtime_info *rt)
{
	char comm[6 * sizeof(rt->comm) + 1], cg[6 * PATH_MAX], netns[32];

	rt_labels(rt, comm, sizeof(comm), cg, sizeof(cg));
	snprintf(netns, sizeof(netns), "net:[%" PRIu64 "]", rt->netns_ino);
	printf("%10u  %10u    0x%016" PRIx64 "  %6u  %-18s  %-10s  pid %u (%s) in %s, pool %u\n",
	       rt->start, rt->start + rt->count - 1, rt->token, 0, netns, "runtime", rt->pid,
	       comm, cg, rt->pool);
}

/* Like `netsh int ipv4 show excludedportrange`, one section per protocol. */
static void show_table(struct portrsv *p, struct listing *l, enum portrsv_proto proto)
{
	static const enum portrsv_proto protos[] = { PORTRSV_TCP, PORTRSV_UDP };
	const struct portrsv_reservation *v = l->v;
	char owner[PATH_MAX], netns[32], pool[64], eowner[6 * PATH_MAX],
		ecomment[6 * PORTRSV_COMMENT_LEN];
	bool present;

	for (size_t j = 0; j < 2; j++) {
		if (proto && protos[j] != proto)
			continue;
		printf("\nProtocol %s Port Exclusion Ranges\n\n", portrsv_proto_name(protos[j]));
		printf("Start Port    End Port    Token                 Denied  Netns               "
		       "Kind        Owner / Comment\n");
		printf("----------    --------    ------------------    ------  ------------------  "
		       "----------  ---------------\n");
		for (int i = 0; i < l->n; i++) {
			if (v[i].proto != protos[j])
				continue;
			owner_path(p, &v[i], owner, sizeof(owner), &present);
			snprintf(netns, sizeof(netns), "net:[%" PRIu64 "]", v[i].netns_ino);
			pool[0] = '\0';
			if (v[i].flags & PORTRSV_F_POOL) {
				struct portrsv_pool_info pi = { 0 };

				portrsv_pool_info(p, &v[i], &pi);
				if (pi.limit)
					snprintf(pool, sizeof(pool), "limit %u per cgroup, %u in use",
						 pi.limit, pi.in_use);
				else
					snprintf(pool, sizeof(pool), "uid 0 only, %u in use", pi.in_use);
			}
			portrsv_escape(owner, eowner, sizeof(eowner));
			portrsv_escape(v[i].comment, ecomment, sizeof(ecomment));
			printf("%10u  %10u    0x%016" PRIx64 "  %6" PRIu64 "  %-18s  %-10s  %s%s%s%s%s%s\n",
			       v[i].start, v[i].start + v[i].count - 1, v[i].token, v[i].denied,
			       netns, kind_of(&v[i]), pool, eowner,
			       owner[0] && !present ? " (not present yet)" : "",
			       (owner[0] || pool[0]) && v[i].comment[0] ? " / " : "", ecomment, "");
			for (int k = 0; k < l->nrt; k++) {
				if (l->rt_shown[k] || !in_pool(&v[i], &l->rt[k]))
					continue;
				table_runtime(&l->rt[k]);
				l->rt_shown[k] = true;
			}
		}
		for (int k = 0; k < l->nrt; k++)
			if (!l->rt_shown[k] && l->rt[k].proto == protos[j]) {
				table_runtime(&l->rt[k]);
				l->rt_shown[k] = true;
			}
		printf("\n");
	}
}

static int cmd_show(int argc, char **argv)
{
	struct listing l = { 0 };
	enum portrsv_proto proto = 0;
	struct portrsv *p;
	struct args a;
	int err, n;

	err = parse(argc, argv, 0, 1, O_JSON, &a);
	if (err)
		return err;
	if (a.npos && portrsv_parse_proto(a.pos[0], &proto))
		return usage_error("protocol '%s' is not tcp or udp", a.pos[0]);
	p = open_or_fail(&err);
	if (!p)
		return err;
	n = portrsv_list(p, &l.v);
	if (n >= 0) {
		l.n = n;
		n = portrsv_list_runtime(p, &l.rt);
	}
	if (n >= 0) {
		l.nrt = n;
		l.rt_shown = calloc(l.nrt ? l.nrt : 1, sizeof(*l.rt_shown));
		if (!l.rt_shown)
			n = -ENOMEM;
	}
	if (n < 0) {
		portrsv_close(p);
		free(l.v);
		free(l.rt);
		return fail(n, "%s", portrsv_pin_dir(NULL));
	}
	if (a.json)
		show_json(p, &l, proto);
	else
		show_table(p, &l, proto);
	portrsv_close(p);
	free(l.v);
	free(l.rt);
	free(l.rt_shown);
	return 0;
}

static int cmd_why(int argc, char **argv)
{
	struct portrsv_reservation r;
	struct portrsv_denial d;
	bool have_denial = false;
	enum portrsv_proto proto;
	char owner[PATH_MAX], eowner[6 * PATH_MAX], ecomment[6 * PORTRSV_COMMENT_LEN];
	struct portrsv *p;
	bool present = false;
	uint16_t port;
	struct args a;
	int err;

	err = parse(argc, argv, 2, 2, O_NETNS, &a);
	if (!err)
		err = parse_block(&a, &proto, &port, NULL);
	if (err)
		return err;
	p = open_or_fail(&err);
	if (!p)
		return err;
	PORTRSV_OPTS(portrsv_ns_opts, o, .netns = a.netns);
	err = portrsv_query(p, proto, port, &o, &r);
	if (!err && portrsv_last_denial(p, proto, port, &o, &d) == 0)
		have_denial = true;
	if (!err)
		owner_path(p, &r, owner, sizeof(owner), &present);
	portrsv_close(p);
	if (err == -ENOENT) {
		fprintf(stderr, "portrsv: why: %s %u is outside every reservation%s%s\n",
			a.pos[0], port, a.netns ? " in netns " : "", a.netns ? a.netns : "");
		return PORTRSV_EXIT_NOTFOUND;
	}
	if (err)
		return fail(err, "%s %u", a.pos[0], port);
	/* No token: it is a secret, and only add, lookup and show print it. */
	portrsv_escape(owner, eowner, sizeof(eowner));
	portrsv_escape(r.comment, ecomment, sizeof(ecomment));
	printf("%s %u is reserved by %s %u-%u (%" PRIu64
	       " binds denied)%s%s%s%s%s\n", a.pos[0], port, a.pos[0], r.start,
	       r.start + r.count - 1, r.denied, owner[0] ? ", owner " : "", eowner,
	       owner[0] && !present ? " (not present yet: refused to everyone)" : "",
	       r.comment[0] ? ", comment: " : "", ecomment);
	if (have_denial) {
		/* Who was refused: what an operator asks first when a service cannot bind. */
		char when[48], cg[PATH_MAX], comm[sizeof(d.comm) + 1];

		boot_time(d.ts_boot_ns, false, when, sizeof(when));
		char ecomm[6 * sizeof(comm)], ecg[6 * PATH_MAX];

		cgroup_label(d.cgid, cg, sizeof(cg));
		memcpy(comm, d.comm, sizeof(d.comm));
		comm[sizeof(d.comm)] = '\0';
		portrsv_escape(comm, ecomm, sizeof(ecomm));
		portrsv_escape(cg, ecg, sizeof(ecg));
		printf("last refused here at %s: pid %u (%s), uid %u, %s; %" PRIu64
		       " bind%s of this port refused\n", when, d.pid, ecomm, d.uid, ecg,
		       (uint64_t)d.count, d.count == 1 ? "" : "s");
	}
	return 0;
}

/*
 * What `status` checks beyond "loaded": the things that quietly weaken enforcement. Each
 * problem is one line in probs (and later on stderr).
 */
struct health {
	char probs[8][PATH_MAX + 160];
	int n;
	char waits[8][PATH_MAX + 160]; /* applied, waiting for something to appear: no problem */
	int nwait;
};

static void problem(struct health *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct health *h, const char *fmt, ...)
{
	va_list ap;

	if (h->n == 8)
		return;
	va_start(ap, fmt);
	vsnprintf(h->probs[h->n++], sizeof(h->probs[0]), fmt, ap);
	va_end(ap);
}

/*
 * A stored reservation the kernel lacks is not enforced (a load or restore killed before it
 * applied the store). One whose netns does not exist (yet) is waiting, or gone for good (gc
 * drops it), not a problem here; one whose netns cannot be entered otherwise is. Named ones
 * are reported by check_health already.
 */
static void check_applied(struct health *h, const struct portrsv_store *s,
			  const struct portrsv_reservation *v, int n)
{
	const struct portrsv_store_entry *first = NULL;
	char rel[PORTRSV_OWNER_PATH_LEN];
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
			problem(h, "owner %s of %s %u+%u cannot be followed: %s", e->owner,
				portrsv_proto_name(e->proto), e->start, e->count, portrsv_errmsg());
		if (in)
			continue;
		err = portrsv_netns_enter_name(e->netns, &saved);
		if (err == -ENOENT || (err && portrsv_netns_run_name(e->netns)))
			continue;
		if (err) {
			problem(h, "%s %u+%u: netns %s cannot be entered: %s",
				portrsv_proto_name(e->proto), e->start, e->count, e->netns,
				strerror(-err));
			continue;
		}
		portrsv_netns_leave(saved);
		if (!missing++)
			first = e;
	}
	if (missing)
		problem(h, "%u stored reservation%s not in the kernel, so not enforced (first: %s "
			"%u+%u); run 'portrsv restore'", missing, missing == 1 ? " is" : "s are",
			portrsv_proto_name(first->proto), first->start, first->count);
}

static void wait_note(struct health *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void wait_note(struct health *h, const char *fmt, ...)
{
	va_list ap;

	if (h->nwait == 8)
		return;
	va_start(ap, fmt);
	vsnprintf(h->waits[h->nwait++], sizeof(h->waits[0]), fmt, ap);
	va_end(ap);
}

static void check_health(struct health *h, struct portrsv *p, const struct portrsv_reservation *v,
			 int n, const uint64_t *ids, int nids)
{
	unsigned char bits[(PORTRSV_PORT_MAX + 1) / 8];
	char path[PATH_MAX], err[512];
	struct portrsv_store s;
	uint64_t cookie, id;
	unsigned missing = 0, first = 0;

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
			wait_note(h, "owner %s of %s %u+%u not present yet: refused to everyone "
				  "until it appears", path, portrsv_proto_name(v[i].proto),
				  v[i].start, v[i].count);
	}
	if (portrsv_store_read(portrsv_state_dir(NULL), &s, err, sizeof(err))) {
		problem(h, "%s", err);
	} else {
		/* A named netns not made yet: restore applies it when it appears. One that
		 * cannot be entered for any other reason is a problem. */
		for (size_t i = 0; i < s.n; i++) {
			const char *name = portrsv_netns_run_name(s.v[i].netns);
			int saved, r = name ? portrsv_netns_enter_name(s.v[i].netns, &saved) : 0;

			if (!r)
				portrsv_netns_leave(saved);
			if (r == -ENOENT)
				wait_note(h, "%s %u+%u: netns %s not present yet",
					  portrsv_proto_name(s.v[i].proto), s.v[i].start, s.v[i].count,
					  name);
			else if (r)
				problem(h, "%s %u+%u: netns %s cannot be entered: %s",
					portrsv_proto_name(s.v[i].proto), s.v[i].start, s.v[i].count,
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
	/* ip_local_reserved_ports of this netns: a sysctl.d or an admin may have rewritten it. */
	if (portrsv_netns_self(&cookie, NULL) || portrsv_sysctl_read(bits))
		return;
	for (int i = 0; i < n; i++) {
		if (v[i].netns_cookie != cookie)
			continue;
		for (uint32_t p = v[i].start; p < (uint32_t)v[i].start + v[i].count; p++)
			if (!(bits[p / 8] & (1 << (p % 8))) && !missing++)
				first = p;
	}
	if (missing)
		problem(h, "ip_local_reserved_ports of this netns lacks %u reserved ports (first: %u): "
			"autobind may hand them out; run 'portrsv restore'", missing, first);
}

/*
 * The running kernel and what it lacks of what portrsv uses (docs: portrsv(8), KERNELS).
 * Not a problem: a kernel that lacks a feature is supported, with that one thing weaker.
 */
static void print_kernel(bool json)
{
	struct utsname u;
	bool any = false;

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown");
	if (json) {
		printf("\"kernel\": {\"release\": ");
		json_string(u.release);
		printf(", \"lacks\": [");
	} else {
		printf("kernel: %s\n", u.release);
	}
	for (int f = 0; f < PORTRSV_FEAT_COUNT; f++) {
		const struct portrsv_feature *ft = &portrsv_features[f];

		if (portrsv_feature_present(f))
			continue;
		if (json) {
			printf("%s{\"feature\": \"%s\", \"since\": \"%s\", \"effect\": ",
			       any ? ", " : "", ft->name, ft->since);
			json_string(ft->lack);
			printf("}");
		} else {
			printf("  lacks %s (Linux %s): %s\n", ft->name, ft->since, ft->lack);
		}
		any = true;
	}
	if (json)
		printf("]}");
	else if (!any)
		printf("  has every feature portrsv uses\n");
}

static int cmd_status(int argc, char **argv)
{
	struct portrsv_reservation *v = NULL;
	struct health h = { .n = 0 };
	char path[PATH_MAX];
	uint64_t *ids = NULL;
	struct portrsv *p;
	struct args a;
	int err, n, nids;

	err = parse(argc, argv, 0, 0, O_JSON, &a);
	if (err)
		return err;
	p = portrsv_open(NULL);
	if (!p && errno != PORTRSV_ENOTLOADED)
		return fail(-errno, "%s", portrsv_pin_dir(NULL));
	if (!p) {
		if (a.json) {
			printf("{\"loaded\": false, \"pin_dir\": ");
			json_string(portrsv_pin_dir(NULL));
			printf(", ");
			print_kernel(true);
			printf("}\n");
		} else {
			printf("portrsv is not loaded (pin dir %s)\n", portrsv_pin_dir(NULL));
			print_kernel(false);
		}
		/* A failure like any other: one line on stderr too. */
		return fail(-PORTRSV_ENOTLOADED, "%s", portrsv_pin_dir(NULL));
	}
	n = portrsv_list(p, &v);
	nids = n < 0 ? 0 : portrsv_attached(NULL, &ids);
	if (n >= 0 && nids >= 0)
		check_health(&h, p, v, n, ids, nids);
	portrsv_close(p);
	/* Maps without programs or links: loaded to look at, enforcing nothing. */
	portrsv_set_errmsg(NULL);
	if (n >= 0 && nids >= 0 && portrsv_enforcing(NULL) && portrsv_errmsg()[0])
		problem(&h, "%s", portrsv_errmsg());
	portrsv_set_errmsg(NULL);
	free(v);
	if (n < 0 || nids < 0)
		return fail(n < 0 ? n : nids, "%s", portrsv_pin_dir(NULL));
	if (a.json) {
		printf("{\"loaded\": true, \"pin_dir\": ");
		json_string(portrsv_pin_dir(NULL));
		printf(", \"state_dir\": ");
		json_string(portrsv_state_dir(NULL));
		printf(", \"reservations\": %d, \"cgroups\": [", n);
	} else {
		printf("loaded: yes\npin dir: %s\nstate dir: %s\nreservations: %d\n"
		       "enforced cgroups:\n", portrsv_pin_dir(NULL), portrsv_state_dir(NULL), n);
	}
	for (int i = 0; i < nids; i++) {
		cgroup_label(ids[i], path, sizeof(path));
		if (a.json) {
			printf("%s{\"id\": %" PRIu64 ", \"path\": ", i ? ", " : "", ids[i]);
			json_string(path);
			printf("}");
		} else {
			printf("  %s (id %" PRIu64 ")\n", path, ids[i]);
		}
	}
	if (!a.json) {
		for (int i = 0; i < h.nwait; i++)
			printf("%s  %s\n", i ? "" : "waiting:\n", h.waits[i]);
		print_kernel(false);
	}
	if (a.json) {
		printf("], ");
		print_kernel(true);
		printf(", \"waiting\": [");
		for (int i = 0; i < h.nwait; i++) {
			printf("%s", i ? ", " : "");
			json_string(h.waits[i]);
		}
		printf("], \"problems\": [");
		for (int i = 0; i < h.n; i++) {
			printf("%s", i ? ", " : "");
			json_string(h.probs[i]);
		}
		printf("]}\n");
	}
	free(ids);
	/* Degraded enforcement is a failure an operator must see: each problem on stderr. */
	for (int i = 0; i < h.n; i++)
		fprintf(stderr, "portrsv: status: %s\n", h.probs[i]);
	return h.n ? PORTRSV_EXIT_FAILURE : 0;
}

static void print_line(const char *msg, void *ctx)
{
	printf("%s\n", msg);
}

/* gc --json: one array. gc calls back only after its store change is durable, and cannot
 * fail after that: the array opens with the first object and always closes. */
static void gc_object(enum portrsv_proto proto, uint16_t start, uint16_t count,
		      const char *netns, void *ctx)
{
	int *n = ctx;

	printf("%s\n  {\"proto\": \"%s\", \"start\": %u, \"count\": %u, \"netns\": ",
	       (*n)++ ? "," : "[", portrsv_proto_name(proto), start, count);
	json_string(netns);
	printf("}");
}

static int cmd_gc(int argc, char **argv)
{
	struct portrsv *p;
	struct args a;
	int n = 0, err = parse(argc, argv, 0, 0, O_JSON, &a);

	if (err)
		return err;
	if (!portrsv_privileged())
		return fail(-EPERM, "%s", portrsv_state_dir(NULL));
	p = open_or_fail(&err);
	if (!p)
		return err;
	PORTRSV_OPTS(portrsv_gc_opts, o, .report = a.json ? NULL : print_line,
		     .dropped = a.json ? gc_object : NULL, .ctx = &n);
	err = portrsv_gc(p, &o);
	portrsv_close(p);
	if (a.json && (err >= 0 || n))
		printf(n ? "\n]\n" : "[]\n");
	return err < 0 ? fail(err, "%s", portrsv_state_dir(NULL)) : 0;
}

static volatile int stop_monitor;

static void on_signal(int sig)
{
	stop_monitor = 1;
}

static int print_event(const struct portrsv_event *e, void *ctx)
{
	bool json = *(bool *)ctx;
	char when[48], cg[PATH_MAX], comm[sizeof(e->comm) + 1];

	boot_time(e->ts_boot_ns, true, when, sizeof(when));
	cgroup_label(e->cgid, cg, sizeof(cg));
	memcpy(comm, e->comm, sizeof(e->comm));
	comm[sizeof(e->comm)] = '\0';
	if (json) {
		printf("{\"time\": \"%s\", \"pid\": %u, \"comm\": ", when, e->pid);
		json_string(comm);
		printf(", \"uid\": %u, \"cgroup\": ", e->uid);
		json_string(cg);
		printf(", \"netns_cookie\": %" PRIu64 ", \"proto\": \"%s\", \"port\": %u, "
		       "\"start\": %u, \"count\": %u, "
		       "\"error\": \"%s\"}\n", (uint64_t)e->netns, portrsv_proto_name(e->proto),
		       e->port, e->resv_start, e->resv_count, /* never the token: a secret */
		       e->err == EADDRINUSE ? "EADDRINUSE" : "EACCES");
	} else {
		char ecomm[6 * sizeof(comm)], ecg[6 * PATH_MAX];

		portrsv_escape(comm, ecomm, sizeof(ecomm));
		portrsv_escape(cg, ecg, sizeof(ecg));
		printf("%s %s %s %u refused (%s): reservation %u-%u, pid %u (%s) uid %u, %s, "
		       "netns cookie %" PRIu64 "\n", when, portrsv_proto_name(e->proto),
		       e->family == 10 ? "ipv6" : "ipv4", e->port,
		       e->err == EADDRINUSE ? "block exhausted" : "no token",
		       e->resv_start, e->resv_start + e->resv_count - (e->resv_count ? 1 : 0),
		       e->pid, ecomm, e->uid, ecg, (uint64_t)e->netns);
	}
	fflush(stdout);
	return 0;
}

/* How a monitor prints: JSON, text, or journal lines (--log, rate-limited). */
struct monitor_out {
	bool json, log;
	struct portrsv *p;         /* --log: the reservations' comments */
	struct portrsv_denylog rl;
};

static uint64_t monotonic_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static void log_folded(struct monitor_out *m)
{
	char line[128];

	if (portrsv_denylog_folded(&m->rl, line, sizeof(line)) > 0)
		puts(line);
}

static int log_event(const struct portrsv_event *e, void *ctx)
{
	struct monitor_out *m = ctx;
	char line[2048];

	if (!portrsv_denylog_take(&m->rl, monotonic_ns()))
		return 0;
	log_folded(m);
	portrsv_denylog_line(m->p, e, line, sizeof(line));
	puts(line);
	fflush(stdout);
	return 0;
}

static int monitor_event(const struct portrsv_event *e, void *ctx)
{
	struct monitor_out *m = ctx;

	return m->log ? log_event(e, ctx) : print_event(e, &m->json);
}

/* Events the kernel could not hand to this monitor: said, never dropped silently. */
static void print_lost(uint64_t n, void *ctx)
{
	struct monitor_out *m = ctx;

	if (m->json)
		printf("{\"lost\": %" PRIu64 "}\n", n);
	else
		printf("%s%" PRIu64 " events lost: the monitor fell behind\n", m->log ? "<4>" : "",
		       n);
	fflush(stdout);
}

static int cmd_monitor(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct monitor_out m = { 0 };
	uint16_t rate = 20;
	struct args a;
	int err = parse(argc, argv, 0, 0, O_JSON O_LOG O_RATE, &a), status = 0;

	if (err)
		return err;
	if (a.rate && !a.log)
		return usage_error("--rate applies to --log only");
	if (a.log && a.json)
		return usage_error("--log and --json exclude each other");
	if (a.rate && portrsv_parse_count(a.rate, &rate))
		return usage_error("rate '%s' is not a number of lines per second from 1 to %d",
				   a.rate, PORTRSV_PORT_MAX);
	m.json = a.json;
	m.log = a.log;
	portrsv_denylog_init(&m.rl, rate, 5 * rate);
	if (m.log && !(m.p = open_or_fail(&status)))
		return status;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	PORTRSV_OPTS(portrsv_monitor_opts, o, .fn = monitor_event, .ctx = &m,
		     .stop = &stop_monitor, .lost = print_lost);
	err = portrsv_monitor(&o);
	if (m.log)
		log_folded(&m); /* what the limit folded last is said too */
	portrsv_close(m.p);
	return err ? fail(err, "%s", portrsv_pin_dir(NULL)) : 0;
}

/*
 * run PROTO START|0 COUNT [--] CMD [ARG]...: acquire a runtime reservation on a socket that
 * stays open across exec (no CLOEXEC), describe it in CMD's environment and exec CMD in this
 * very process, so that CMD (same tgid) may associate sockets with the token; the
 * reservation ends when the socket does, that is when CMD exits (or closes the descriptor,
 * or releases it). The socket is AF_INET6 (AF_INET where the kernel has no IPv6): its
 * family does not matter, as a reservation covers IPv4 and IPv6 alike.
 */
static int cmd_run(int argc, char **argv)
{
	enum portrsv_proto proto;
	struct portrsv_runtime rt;
	uint16_t start = 0, count;
	char val[32];
	int fd, err, first;

	first = argc > 4 && !strcmp(argv[4], "--") ? 5 : 4;
	if (argc < 4 || (argv[1][0] == '-' && argv[1][1]) || first >= argc)
		return usage_error("usage: portrsv run PROTO START|0 COUNT -- CMD [ARG]...");
	if (portrsv_parse_proto(argv[1], &proto))
		return usage_error("protocol '%s' is not tcp or udp", argv[1]);
	if (strcmp(argv[2], "0") && portrsv_parse_port(argv[2], &start))
		return usage_error("port '%s' is not 0 (any block) or a number from %d to %d",
				   argv[2], PORTRSV_PORT_MIN, PORTRSV_PORT_MAX);
	if (portrsv_parse_count(argv[3], &count))
		return usage_error("count '%s' is not a number from 1 to %d", argv[3],
				   PORTRSV_PORT_MAX);
	if (start && portrsv_block_valid(start, count))
		return usage_error("block %u+%u passes port %d", start, count, PORTRSV_PORT_MAX);

	fd = socket(AF_INET6, proto == PORTRSV_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0 && errno == EAFNOSUPPORT)
		fd = socket(AF_INET, proto == PORTRSV_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		return fail(-errno, "socket");
	err = portrsv_acquire(fd, start, count, &rt);
	if (err) {
		close(fd);
		if (err == -ENOENT && !start)
			fprintf(stderr, "portrsv: run: no %s pool in this network namespace\n",
				argv[1]);
		else if (err == -ENOENT)
			fprintf(stderr, "portrsv: run: no %s pool covers %u+%u\n", argv[1], start,
				count);
		else if (err == -EADDRINUSE && !start)
			fprintf(stderr, "portrsv: run: no free block of %u %s ports in a pool\n",
				count, argv[1]);
		else if (err == -EPERM)
			fprintf(stderr, "portrsv: run: the %s pool has no --limit: only root may "
				"acquire from it\n", argv[1]);
		else
			return fail(err, "%s %s %u", argv[1], start ? argv[2] : "any", count);
		return portrsv_errno_to_exit(err);
	}
	snprintf(val, sizeof(val), "%u", rt.start);
	err = setenv("PORTRSV_RUNTIME_START", val, 1);
	snprintf(val, sizeof(val), "%u", rt.count);
	err = err ?: setenv("PORTRSV_RUNTIME_COUNT", val, 1);
	snprintf(val, sizeof(val), "0x%016" PRIx64, rt.token);
	err = err ?: setenv("PORTRSV_RUNTIME_TOKEN", val, 1);
	snprintf(val, sizeof(val), "%d", fd);
	err = err ?: setenv("PORTRSV_RUNTIME_FD", val, 1);
	if (err)
		return fail(-errno, "environment");
	fflush(NULL);
	execvp(argv[first], argv + first);
	/* As env(1): 127 when CMD is not found, 126 when it is but cannot be run. */
	err = errno;
	fprintf(stderr, "portrsv: run: %s: %s\n", argv[first], strerror(err));
	return err == ENOENT || err == ENOTDIR ? 127 : 126;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "load", cmd_load },     { "unload", cmd_unload }, { "attach", cmd_attach },
	{ "detach", cmd_attach }, { "add", cmd_add },       { "delete", cmd_delete_lookup },
	{ "lookup", cmd_delete_lookup }, { "show", cmd_show }, { "why", cmd_why },
	{ "status", cmd_status }, { "restore", cmd_restore }, { "monitor", cmd_monitor },
	{ "gc", cmd_gc },         { "run", cmd_run },
};

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_log);
	if (argc < 2) {
		fprintf(stderr, "portrsv: no command (see 'portrsv --help')\n");
		return PORTRSV_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("portrsv %s\n", PORTRSV_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		cmd = cmds[i].name;
		return cmds[i].fn(argc - 1, argv + 1);
	}
	return usage_error("unknown command '%s'", argv[1]);
}
