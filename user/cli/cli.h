/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * portrsv, the command: one file per concept (as bpftool has prog.c, map.c, ...):
 *   main.c       dispatch, --help, --version
 *   common.c     errors, argument parsing, names of things (blocks, netns, cgroups, times)
 *   json.c       the one JSON writer (json-c, strings escaped by escape.c)
 *   instance.c   load, restore, unload, attach, detach, gc
 *   resv.c       add, delete, lookup
 *   show.c       show
 *   why.c        why
 *   status.c     status
 *   monitor.c    monitor
 *   run.c        run
 * Every failure prints one line on stderr and exits with the status of PORTRSV_ERRNO_MAP
 * (<portrsv/abi.h>); usage errors exit PORTRSV_EXIT_USAGE.
 */
#ifndef PORTRSV_CLI_H
#define PORTRSV_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include <bpf/libbpf.h>
#include "internal.h"

#define MAX_CGROUPS 64

/* A command: its name, its usage ("PROTO START COUNT [--netns NSPATH]"), what it does. */
struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};
extern const struct cli_cmd *cli_cmd; /* the one running */

/* One line on stderr naming the cause; the exit status that err maps to. */
int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A bad command line: one line on stderr with the command's usage; PORTRSV_EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A path of the command line that does not name what it must (what: "owner cgroup", ...). */
int fail_path(int err, const char *what, const char *path);
int check_cgroup(const char *what, const char *dir);
int check_netns(const char *path);

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
	bool help; /* --help: the command's usage was printed; exit 0 */
};

/* Options a command takes, for parse(): a string of these. */
#define O_OWNER "a"
#define O_NETNS "b"
#define O_COMMENT "c"
#define O_CGROUP "d"
#define O_JSON "e"
#define O_POOL "f"
#define O_LIMIT "g"
#define O_LOG "h"
#define O_RATE "i"

/*
 * Parse argv of one command: the positionals named in names (space-separated, those from
 * min_pos on optional) and the options in allowed (O_*). --help prints the command's usage
 * and sets a->help.
 */
int parse(int argc, char **argv, int min_pos, const char *names, const char *allowed,
	  struct args *a);
/* PROTO START COUNT, or PROTO PORT when count is NULL. */
int parse_block(const struct args *a, enum portrsv_proto *proto, uint16_t *start,
		uint16_t *count);
/* --help again: print the running command's usage on stdout. */
void print_usage(FILE *f);

struct portrsv *open_or_fail(int *status);

/* The names of things, one way everywhere. */
#define BLOCK_LEN 16
const char *block_name(uint16_t start, uint16_t count, char *buf); /* "8080-8089", "8080" */
/* UTC, ISO 8601, of seconds since the epoch; usec >= 0 adds microseconds. */
void iso8601(uint64_t t, int usec, char *buf, size_t len);
/* The wall-clock time of a BPF timestamp (bpf_ktime_get_boot_ns). */
void boot_time(uint64_t ts_boot_ns, bool usec, char *buf, size_t len);
/* A cgroup's path, or "(gone: cgroup id N)" when it was removed. */
void cgroup_label(uint64_t cgid, char *buf, size_t len);
/* The owner cgroup's path, or "" when there is none; *present: a cgroup is there now. */
void owner_path(struct portrsv *p, const struct portrsv_reservation *r, char *buf, size_t len,
		bool *present);
/* A netns as the user names it: "host", NAME for /run/netns/NAME, else net:[INO]. */
#define NETNS_LEN 288
void netns_label(uint64_t ino, uint64_t cookie, char *buf, size_t len);
/* A token, for the commands that may print one (add, lookup, show): 0x and 16 hex digits. */
#define TOKEN_LEN 19
const char *token_string(uint64_t token, char buf[TOKEN_LEN]);
/* show.c: a reservation as show --json lists it (add and lookup --json print it too). */
json_object *resv_json(struct portrsv *p, const struct portrsv_reservation *r);
/* A comm of the kernel's (16 bytes, maybe not NUL-terminated) as a string. */
void comm_string(const char comm[16], char out[17]);

/* json.c: the one JSON writer. Strings go through escape.c (valid UTF-8, no raw control). */
json_object *jstr(const char *s);          /* NULL s: JSON null */
json_object *jint(int64_t v);
json_object *jbool(bool v);
void jset(json_object *o, const char *key, json_object *v);
/* The document o (pretty, or one line for streams), owned by o; NULL when out of memory. */
const char *jstring(json_object *o, bool pretty);
/* Print o on stdout (pretty, or one line for streams) and free it. */
void jprint(json_object *o);
void jprint_line(json_object *o);

/* The commands. */
int cmd_load(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_delete_lookup(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_why(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* instance.c: libbpf's first warning, named by a failed load. */
int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap);

#endif
