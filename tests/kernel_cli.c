// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The command as users and scripts see it: build/portrsv ($PORTRSV_BIN) runs as a child of
 * the test, in the test's cgroup, netns, pin and state directories, and every case checks
 * its exit status, its stdout and its stderr ("portrsv: ..." on exactly one line for every
 * failure). Also the ported Windows example, $PORTRSV_EXAMPLES/reserve.
 *
 * Never run `portrsv load` without --cgroup here: it would attach to the host's root cgroup.
 */
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include "testlib.h"
#include "json.h"
#include "clirun.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */
#include <ctype.h>
#include <inttypes.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>

struct kt_env kt;

#define START 7000
#define COUNT 10

/* ---- Running the command ---------------------------------------------------------------- */

#define MAXW 8     /* words of one command line */
#define WLEN 72    /* a 64-byte comment and its NUL fit */

static const char *reserve_bin(void)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/reserve", env_or("PORTRSV_EXAMPLES", "build/examples"));
	return path;
}

static int run_argv(bool unpriv, char *const argv[])
{
	struct run_opts o = { .unpriv = unpriv };

	return run_argv_opts(&o, argv);
}

/* "@CG@" stands for the test's cgroup, which rows of static tables cannot know. */
static void subst(char *dst, size_t len, const char *w)
{
	snprintf(dst, len, "%s", strcmp(w, "@CG@") ? w : kt.cgroup);
}

/* Run prog with argc words; the status. */
static int run_words(bool unpriv, const char *prog, int argc, const char (*words)[WLEN])
{
	static char buf[MAXW][PATH_MAX];
	char *argv[MAXW + 2];

	cr_assert(argc <= MAXW);
	argv[0] = (char *)prog;
	for (int i = 0; i < argc; i++) {
		subst(buf[i], sizeof(buf[i]), words[i]);
		argv[i + 1] = buf[i];
	}
	argv[argc + 1] = NULL;
	return run_argv(unpriv, argv);
}

static int run_va(bool unpriv, const char *prog, const char *first, va_list ap)
{
	char words[MAXW][WLEN];
	int argc = 0;

	for (const char *w = first; w; w = va_arg(ap, const char *)) {
		cr_assert(argc < MAXW && strlen(w) < WLEN);
		strcpy(words[argc++], w);
	}
	return run_words(unpriv, prog, argc, words);
}

/* portrsv WORDS..., NULL-terminated; as root. */
static int cli(const char *first, ...)
{
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = run_va(false, portrsv_bin(), first, ap);
	va_end(ap);
	return rc;
}

/* reserve WORDS..., NULL-terminated. */
static int reserve(const char *first, ...)
{
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = run_va(false, reserve_bin(), first, ap);
	va_end(ap);
	return rc;
}

/* ---- Checking what it printed --------------------------------------------------------- */


static bool one_line(const char *s)
{
	size_t n = strlen(s);

	return n > 1 && s[n - 1] == '\n' && strchr(s, '\n') == s + n - 1;
}

/* stderr is exactly one line, and it is portrsv's. */
static void assert_err_line(const char *what)
{
	cr_assert(one_line(R.err), "%s: stderr must be one line, got [%s]", what, R.err);
	cr_assert(!strncmp(R.err, "portrsv: ", 9),
		  "%s: stderr must start with 'portrsv: ', got [%s]", what, R.err);
}

/* A failure with status want: nothing on stdout, one line on stderr. */
static void assert_failed(int want, const char *what)
{
	cr_assert_eq(R.status, want, "%s: exit %d, want %d; stdout [%s] stderr [%s]", what,
		     R.status, want, R.out, R.err);
	cr_assert_str_empty(R.out, "%s: stdout must be empty, got [%s]", what, R.out);
	assert_err_line(what);
}

/* The stderr line names the cause (an expectation: the checks after it still run). */
static void assert_mentions(const char *what, const char *cause)
{
	cr_expect(strstr(R.err, cause), "%s: stderr must name the cause ('%s'), got [%s]", what,
		  cause, R.err);
}



static uint64_t add_ok(const char *proto, const char *start, const char *count)
{
	cli("add", proto, start, count, NULL);
	return assert_token("add");
}

/* ---- Binds of the test process -------------------------------------------------------- */

static int try_bind(int proto, uint16_t port)
{
	int fd = kt_socket(KT_V4, proto);
	int err = kt_bind(fd, KT_V4, port);

	close(fd);
	return err;
}

static int store_size(void)
{
	struct portrsv_reservation *v = NULL;
	int n = portrsv_list(kt.p, &v);

	cr_assert(n >= 0, "portrsv_list: %s", strerror(-n));
	free(v);
	return n;
}


/* ---- Argument rejections: exit 2, one stderr line, nothing changed ---------------------- */

struct words_row {
	char name[32];
	int argc;
	char argv[MAXW][WLEN];
	int want;
	char mention[40]; /* the stderr line names the cause: it contains this */
};

#define C64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define C63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

ParameterizedTestParameters(cli, rejects)
{
	static struct words_row rows[] = {
		{ "START garbage", 4, { "add", "tcp", "80abc", "10" }, 2, "80abc" },
		{ "START 0", 4, { "add", "tcp", "0", "10" }, 2, "'0'" },
		{ "START 65536", 4, { "add", "tcp", "65536", "10" }, 2, "65536" },
		{ "START -1", 4, { "add", "tcp", "-1", "10" }, 2, "'-1'" },
		{ "START -1x", 4, { "add", "tcp", "-1x", "10" }, 2, "'-1" },
		{ "START +80", 4, { "add", "tcp", "+80", "10" }, 2, "+80" },
		{ "START empty", 4, { "add", "tcp", "", "10" }, 2, "''" },
		{ "START blank", 4, { "add", "tcp", " 80", "10" }, 2, "' 80'" },
		{ "START hex", 4, { "add", "tcp", "0x50", "10" }, 2, "0x50" },
		{ "START huge", 4, { "add", "tcp", "18446744073709551697", "10" }, 2,
		  "18446744073709551697" },
		{ "COUNT 0", 4, { "add", "tcp", "7000", "0" }, 2, "'0'" },
		{ "COUNT 65536", 4, { "add", "tcp", "7000", "65536" }, 2, "65536" },
		{ "COUNT garbage", 4, { "add", "tcp", "7000", "10x" }, 2, "10x" },
		{ "block 65535+2", 4, { "add", "tcp", "65535", "2" }, 2, "65535" },
		{ "block 65000+1000", 4, { "add", "udp", "65000", "1000" }, 2, "65535" },
		{ "block 2+65535", 4, { "add", "tcp", "2", "65535" }, 2, "65535" },
		{ "proto TCP", 4, { "add", "TCP", "7000", "10" }, 2, "TCP" },
		{ "proto sctp", 4, { "add", "sctp", "7000", "10" }, 2, "sctp" },
		{ "proto empty", 4, { "add", "", "7000", "10" }, 2, "protocol" },
		{ "unknown option", 5, { "add", "tcp", "7000", "10", "--bogus" }, 2, "--bogus" },
		{ "option without value", 5, { "add", "tcp", "7000", "10", "--comment" }, 2,
		  "--comment" },
		{ "unknown command", 1, { "frobnicate" }, 2, "frobnicate" },
		{ "no command", 0, { "" }, 2, "command" },
		{ "add missing count", 3, { "add", "tcp", "7000" }, 2, "missing COUNT" },
		{ "add no arguments", 1, { "add" }, 2, "missing PROTO" },
		{ "add extra argument", 5, { "add", "tcp", "7000", "10", "11" }, 2, "'11'" },
		{ "comment of 64 bytes", 6, { "add", "tcp", "7000", "10", "--comment", C64 }, 2,
		  "comment" },
		{ "comment with newline", 6, { "add", "tcp", "7000", "10", "--comment", "a\nb" }, 2,
		  "byte 0x0a" },
		{ "--json on delete", 5, { "delete", "tcp", "7000", "10", "--json" }, 2, "--json" },
		{ "add --netns not a netns", 6, { "add", "tcp", "7000", "10", "--netns", "/etc/passwd" },
		  2, "not a network namespace" },
		{ "lookup --netns missing", 6, { "lookup", "udp", "7000", "10", "--netns",
		  "/nonexistent" }, 2, "/nonexistent" },
		{ "why --netns missing", 5, { "why", "udp", "7000", "--netns", "/nonexistent" }, 2,
		  "/nonexistent" },
		{ "why --netns not a netns", 5, { "why", "udp", "7000", "--netns", "/etc/passwd" }, 2,
		  "not a network namespace" },
		{ "run missing COUNT", 3, { "run", "tcp", "7000" }, 2, "missing COUNT" },
		{ "run missing CMD", 4, { "run", "tcp", "7000", "1" }, 2, "missing CMD" },
		{ "monitor --rate without --log", 3, { "monitor", "--rate", "5" }, 2, "--log" },
		{ "--owner on lookup", 6, { "lookup", "tcp", "7000", "10", "--owner", "@CG@" }, 2,
		  "--owner" },
		{ "lookup START 0", 4, { "lookup", "tcp", "0", "10" }, 2, "'0'" },
		{ "lookup missing count", 3, { "lookup", "tcp", "7000" }, 2, "missing" },
		{ "delete proto sctp", 4, { "delete", "sctp", "7000", "10" }, 2, "sctp" },
		{ "delete block passes", 4, { "delete", "tcp", "65535", "2" }, 2, "65535" },
		{ "delete extra argument", 5, { "delete", "tcp", "7000", "10", "x" }, 2, "'x'" },
		{ "show proto sctp", 2, { "show", "sctp" }, 2, "sctp" },
		{ "show two protos", 3, { "show", "tcp", "udp" }, 2, "udp" },
		{ "show --comment", 3, { "show", "--comment", "x" }, 2, "--comment" },
		{ "status argument", 2, { "status", "now" }, 2, "now" },
		{ "why port 0", 3, { "why", "tcp", "0" }, 2, "'0'" },
		{ "attach no dir", 1, { "attach" }, 2, "missing" },
		{ "detach two dirs", 3, { "detach", "@CG@", "@CG@" }, 2, "unexpected" },
		{ "load positional", 4, { "load", "--cgroup", "@CG@", "extra" }, 2, "extra" },
		{ "load --pool", 4, { "load", "--cgroup", "@CG@", "--pool" }, 2, "--pool" },
		{ "unload --json", 2, { "unload", "--json" }, 2, "--json" },
		{ "unload argument", 2, { "unload", "now" }, 2, "now" },
	};

	return cr_make_param_array(struct words_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct words_row *row, cli, rejects, .init = kt_setup, .fini = kt_teardown)
{
	uint64_t t = add_ok("udp", "7000", "10");

	run_words(false, portrsv_bin(), row->argc, row->argv);
	assert_failed(row->want, row->name);
	assert_mentions(row->name, row->mention);
	/* Nothing changed: the one reservation, still enforced. */
	cr_assert_eq(store_size(), 1, "%s: the store changed", row->name);
	cli("lookup", "udp", "7000", "10", NULL);
	cr_assert_eq(assert_token("lookup"), t);
	cr_assert_eq(try_bind(IPPROTO_UDP, START + 1), -EACCES, "%s: enforcement changed",
		     row->name);
}

/* The longest comment that fits is taken, and help is no failure. */
KT_TEST(cli, comment_63_bytes)
{
	cli("add", "tcp", "7000", "10", "--comment", C63, NULL);
	assert_token("add with a 63-byte comment");
	cli("show", "--json", NULL);
	jparse(R.out);
	cr_assert_str_eq(J[jget(jchild(0, 0), "comment", J_STR)].str, C63);
}

/* A comment that is not UTF-8 (the kernel and the store take bytes): show prints it escaped,
 * and every JSON document stays valid UTF-8 (jparse checks it). */
KT_TEST(cli, comment_not_utf8)
{
	cli("add", "tcp", "7000", "10", "--comment", "caf\xc3\xa9 \xff\xc2\x85", NULL);
	assert_token("add with a comment that is not UTF-8");
	cli("show", "--json", NULL);
	jparse(R.out);
	/* In JSON the text itself, U+FFFD for the byte that is not UTF-8. */
	cr_assert_str_eq(J[jget(jchild(0, 0), "comment", J_STR)].str,
			 "caf\xc3\xa9 \xef\xbf\xbd\xc2\x85");
	cli("show", NULL);
	cr_assert(strstr(R.out, "caf\xc3\xa9 \\xff\\u0085"), "show: %s", R.out);
	cr_assert(!strchr(R.out, '\xff'), "a raw byte reached the terminal: %s", R.out);
}

KT_TEST(cli, help)
{
	cli("--help", NULL);
	cr_assert_eq(R.status, 0);
	cr_assert(strstr(R.out, "Usage: portrsv"), "help: [%s]", R.out);
	cr_assert_str_empty(R.err);
}

/* Each command's --help (or -h): its usage on stdout, exit 0, and nothing done. */
ParameterizedTestParameters(cli, command_help)
{
	static struct words_row rows[] = {
		{ "load", 2, { "load", "--help" }, 0, "Usage: portrsv load [--cgroup DIR]" },
		{ "unload", 2, { "unload", "--help" }, 0, "Usage: portrsv unload" },
		{ "attach", 2, { "attach", "-h" }, 0, "Usage: portrsv attach DIR" },
		{ "detach", 2, { "detach", "--help" }, 0, "Usage: portrsv detach DIR" },
		{ "add", 2, { "add", "--help" }, 0, "Usage: portrsv add PROTO START COUNT" },
		{ "add, after arguments", 5, { "add", "tcp", "7000", "10", "--help" }, 0,
		  "Usage: portrsv add PROTO START COUNT" },
		{ "delete", 2, { "delete", "--help" }, 0, "Usage: portrsv delete PROTO START COUNT" },
		{ "lookup", 2, { "lookup", "-h" }, 0, "Usage: portrsv lookup PROTO START COUNT" },
		{ "show", 2, { "show", "--help" }, 0, "Usage: portrsv show [PROTO] [--json]" },
		{ "why", 2, { "why", "--help" }, 0, "Usage: portrsv why PROTO PORT" },
		{ "restore", 2, { "restore", "--help" }, 0, "Usage: portrsv restore" },
		{ "gc", 2, { "gc", "--help" }, 0, "Usage: portrsv gc" },
		{ "status", 2, { "status", "--help" }, 0, "Usage: portrsv status" },
		{ "monitor", 2, { "monitor", "--help" }, 0, "Usage: portrsv monitor" },
		{ "run", 2, { "run", "--help" }, 0, "Usage: portrsv run PROTO START|0 COUNT" },
	};

	return cr_make_param_array(struct words_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct words_row *row, cli, command_help, .init = kt_setup,
		  .fini = kt_teardown)
{
	run_words(false, portrsv_bin(), row->argc, row->argv);
	cr_assert_eq(R.status, 0, "%s --help: exit %d [%s]", row->name, R.status, R.err);
	cr_assert(!strncmp(R.out, row->mention, strlen(row->mention)), "%s --help: [%s]",
		  row->name, R.out);
	cr_assert_str_empty(R.err, "%s --help: stderr [%s]", row->name, R.err);
	cr_assert_eq(store_size(), 0, "%s --help changed the store", row->name);
}

/* Every command that prints takes --json, and prints one document a JSON parser takes. */
KT_TEST(cli, json_everywhere)
{
	uint64_t t;
	int o;

	cli("add", "tcp", "7000", "10", "--comment", "web", "--json", NULL);
	cr_assert_eq(R.status, 0, "add --json: [%s]", R.err);
	o = jparse(R.out);
	t = strtoull(J[jget(o, "token", J_STR)].str, NULL, 16);
	cr_assert_str_eq(J[jget(o, "proto", J_STR)].str, "tcp");
	cr_assert_eq(J[jget(o, "start", J_NUM)].num, 7000);
	cr_assert_eq(J[jget(o, "count", J_NUM)].num, 10);
	cr_assert_str_eq(J[jget(o, "comment", J_STR)].str, "web");
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES, "add --json did not reserve");

	cli("lookup", "tcp", "7000", "10", "--json", NULL);
	cr_assert_eq(R.status, 0, "lookup --json: [%s]", R.err);
	o = jparse(R.out);
	cr_assert_eq(strtoull(J[jget(o, "token", J_STR)].str, NULL, 16), t);
	cr_assert_eq(J[jget(o, "end", J_NUM)].num, 7009);

	cli("restore", "--json", NULL);
	cr_assert_eq(R.status, 0, "restore --json: [%s]", R.err);
	o = jparse(R.out);
	cr_assert(J[jget(o, "ok", J_BOOL)].b, "[%s]", R.out);
	cr_assert_str_eq(J[jget(o, "pin_dir", J_STR)].str, kt.pin_dir);
	cr_assert_str_eq(J[jget(o, "state_dir", J_STR)].str, kt.state_dir);
	cr_assert_eq(jcount(jget(o, "notes", J_ARR)), 0, "[%s]", R.out);

	cli("load", "--cgroup", kt.cgroup, "--json", NULL);
	cr_assert_eq(R.status, 0, "load --json: [%s]", R.err);
	o = jparse(R.out);
	cr_assert(J[jget(o, "ok", J_BOOL)].b, "[%s]", R.out);
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES, "not enforced after load --json");

	cli("gc", "--json", NULL);
	cr_assert_eq(R.status, 0, "gc --json: [%s]", R.err);
	cr_assert_eq(jcount(jparse(R.out)), 0, "[%s]", R.out);

	cli("status", "--json", NULL);
	cr_assert_eq(R.status, 0, "status --json: [%s]", R.err);
	o = jparse(R.out);
	cr_assert_eq(J[jget(o, "reservations", J_NUM)].num, 1);
	cr_assert_eq(jcount(jget(o, "problems", J_ARR)), 0, "[%s]", R.out);

	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0);
	cr_assert_eq(jcount(jparse(R.out)), 1, "[%s]", R.out);
}

/* ---- add, lookup, delete -------------------------------------------------------------- */

KT_TEST(cli, add_lookup_delete)
{
	uint64_t tcp, udp;

	tcp = add_ok("tcp", "7000", "10");
	cr_assert_neq(tcp, PORTRSV_TOKEN_INVALID);
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 3), -EACCES, "add did not take effect");
	cr_assert_eq(try_bind(IPPROTO_TCP, START + COUNT), 0);

	cli("lookup", "tcp", "7000", "10", NULL);
	cr_assert_eq(assert_token("lookup"), tcp, "lookup printed another token");

	/* TCP and UDP are separate port spaces: same block, another token. */
	udp = add_ok("udp", "7000", "10");
	cr_assert_neq(udp, tcp);
	cli("lookup", "udp", "7000", "10", NULL);
	cr_assert_eq(assert_token("lookup udp"), udp);

	cli("delete", "tcp", "7000", "10", NULL);
	assert_silent_ok("delete");
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 3), 0, "delete did not open the ports");
	cr_assert_eq(try_bind(IPPROTO_UDP, START + 3), -EACCES, "delete tcp removed udp too");

	cli("lookup", "tcp", "7000", "10", NULL);
	assert_failed(4, "lookup of a deleted block");
	cli("delete", "tcp", "7000", "10", NULL);
	assert_failed(4, "delete of a deleted block");

	/* The block can be reserved again, with a new token. */
	cr_assert_neq(add_ok("tcp", "7000", "10"), tcp);
}

/* The edges of the port space are ordinary blocks. */
KT_TEST(cli, edges)
{
	uint64_t last = add_ok("tcp", "65535", "1");
	uint64_t first = add_ok("tcp", "1", "1");

	cli("lookup", "tcp", "65535", "1", NULL);
	cr_assert_eq(assert_token("lookup 65535"), last);
	cli("lookup", "tcp", "1", "1", NULL);
	cr_assert_eq(assert_token("lookup 1"), first);
	cli("delete", "tcp", "65535", "1", NULL);
	assert_silent_ok("delete 65535");
	cli("delete", "tcp", "1", "1", NULL);
	assert_silent_ok("delete 1");
}

/* ---- Conflicts and not-found ---------------------------------------------------------- */

enum holder { H_NONE, H_LISTEN, H_BOUND, H_LISTEN6, H_UDP, H_UDP6 };

struct conflict_row {
	char name[32];
	int want;
	char pre[4];        /* protocol of a reservation 7000+10 made first; "" = none */
	enum holder holder; /* a socket of the test holding port hport */
	uint16_t hport;
	char argv[4][8];    /* the command */
};

ParameterizedTestParameters(cli, conflicts)
{
	static struct conflict_row rows[] = {
		{ "same block", 3, "tcp", H_NONE, 0, { "add", "tcp", "7000", "10" } },
		{ "overlap start", 3, "tcp", H_NONE, 0, { "add", "tcp", "6995", "6" } },
		{ "overlap end", 3, "tcp", H_NONE, 0, { "add", "tcp", "7009", "5" } },
		{ "inside", 3, "tcp", H_NONE, 0, { "add", "tcp", "7002", "2" } },
		{ "covering", 3, "tcp", H_NONE, 0, { "add", "tcp", "6990", "30" } },
		{ "adjacent below", 0, "tcp", H_NONE, 0, { "add", "tcp", "6990", "10" } },
		{ "adjacent above", 0, "tcp", H_NONE, 0, { "add", "tcp", "7010", "5" } },
		{ "udp beside tcp", 0, "tcp", H_NONE, 0, { "add", "udp", "7000", "10" } },
		{ "udp overlap", 3, "udp", H_NONE, 0, { "add", "udp", "7005", "10" } },
		{ "listener in block", 3, "", H_LISTEN, 7105, { "add", "tcp", "7100", "10" } },
		{ "listener, first port", 3, "", H_LISTEN, 7100, { "add", "tcp", "7100", "10" } },
		{ "listener, last port", 3, "", H_LISTEN, 7109, { "add", "tcp", "7100", "10" } },
		{ "listener outside", 0, "", H_LISTEN, 7110, { "add", "tcp", "7100", "10" } },
		{ "ipv6 listener", 3, "", H_LISTEN6, 7105, { "add", "tcp", "7100", "10" } },
		{ "bound, not listening", 3, "", H_BOUND, 7105, { "add", "tcp", "7100", "10" } },
		{ "udp socket in block", 3, "", H_UDP, 7105, { "add", "udp", "7100", "10" } },
		{ "udp ipv6 socket", 3, "", H_UDP6, 7105, { "add", "udp", "7100", "10" } },
		{ "listener, udp block", 0, "", H_LISTEN, 7105, { "add", "udp", "7100", "10" } },
		{ "udp socket, tcp block", 0, "", H_UDP, 7105, { "add", "tcp", "7100", "10" } },
		{ "delete, count small", 4, "tcp", H_NONE, 0, { "delete", "tcp", "7000", "9" } },
		{ "delete, count large", 4, "tcp", H_NONE, 0, { "delete", "tcp", "7000", "11" } },
		{ "delete, start inside", 4, "tcp", H_NONE, 0, { "delete", "tcp", "7001", "9" } },
		{ "delete, other proto", 4, "tcp", H_NONE, 0, { "delete", "udp", "7000", "10" } },
		{ "lookup, count small", 4, "tcp", H_NONE, 0, { "lookup", "tcp", "7000", "9" } },
		{ "lookup, other proto", 4, "tcp", H_NONE, 0, { "lookup", "udp", "7000", "10" } },
		{ "lookup, empty store", 4, "", H_NONE, 0, { "lookup", "tcp", "7000", "10" } },
		{ "delete, empty store", 4, "", H_NONE, 0, { "delete", "tcp", "7000", "10" } },
	};

	return cr_make_param_array(struct conflict_row, rows, sizeof(rows) / sizeof(rows[0]));
}

static int holder_socket(enum holder h, uint16_t port)
{
	enum kt_fam fam = h == H_LISTEN6 || h == H_UDP6 ? KT_V6 : KT_V4;
	int fd;

	fd = kt_socket(fam, h == H_UDP || h == H_UDP6 ? IPPROTO_UDP : IPPROTO_TCP);

	cr_assert_eq(kt_bind(fd, fam, port), 0, "holder bind %u: %s", port, strerror(errno));
	if (h == H_LISTEN || h == H_LISTEN6)
		cr_assert_eq(listen(fd, 1), 0);
	return fd;
}

ParameterizedTest(struct conflict_row *row, cli, conflicts, .init = kt_setup,
		  .fini = kt_teardown)
{
	uint64_t pre = 0;
	int fd = -1, before;

	if (row->pre[0])
		pre = add_ok(row->pre, "7000", "10");
	if (row->holder != H_NONE)
		fd = holder_socket(row->holder, row->hport);
	before = store_size();

	cli(row->argv[0], row->argv[1], row->argv[2], row->argv[3], NULL);
	if (row->want) {
		assert_failed(row->want, row->name);
		cr_assert_eq(store_size(), before, "%s: a failed command changed the store",
			     row->name);
	} else if (!strcmp(row->argv[0], "add")) {
		assert_token(row->name);
		cr_assert_eq(store_size(), before + 1);
	}
	if (pre) {
		cli("lookup", row->pre, "7000", "10", NULL);
		cr_assert_eq(assert_token("lookup"), pre, "%s: the first reservation changed",
			     row->name);
	}
	if (fd >= 0 && row->want == 3) {
		/* A refused create leaves no port of the block behind: once free, it works. */
		close(fd);
		cli(row->argv[0], row->argv[1], row->argv[2], row->argv[3], NULL);
		assert_token(row->name);
	} else if (fd >= 0) {
		close(fd);
	}
}

/* ---- show ----------------------------------------------------------------------------- */

struct table_row {
	char proto[4];
	unsigned int start, end;
	uint64_t token;
};

/* The data rows of show's table, each with the protocol of its section. */
static int parse_table(const char *text, struct table_row *rows, int max)
{
	char proto[8] = "", line[1024], tok[32];
	const char *s = text;
	int n = 0;

	while (*s) {
		size_t len = strcspn(s, "\n");
		unsigned int a, b;

		snprintf(line, sizeof(line), "%.*s", (int)len, s);
		s += len + (s[len] == '\n');
		if (sscanf(line, "Protocol %7s Port Exclusion Ranges", proto) == 1)
			continue;
		if (sscanf(line, "%u %u %31s", &a, &b, tok) != 3)
			continue;
		cr_assert(proto[0], "a table row before any section: [%s]", line);
		cr_assert(n < max);
		snprintf(rows[n].proto, sizeof(rows[n].proto), "%s", proto);
		rows[n].start = a;
		rows[n].end = b;
		cr_assert(matches("^0x[0-9a-f]{16}$", tok), "token column [%s]", tok);
		rows[n].token = strtoull(tok, NULL, 16);
		n++;
	}
	return n;
}

KT_TEST(cli, show_table)
{
	struct table_row rows[8];
	uint64_t t1 = add_ok("tcp", "7000", "10");
	uint64_t t2 = add_ok("tcp", "8000", "1");
	uint64_t t3;
	int n;

	cli("add", "udp", "9000", "100", "--comment", "dns pool", NULL);
	t3 = assert_token("add udp");

	cli("show", NULL);
	cr_assert_eq(R.status, 0, "show: %s", R.err);
	cr_assert_str_empty(R.err);
	cr_assert(strstr(R.out, "Protocol tcp Port Exclusion Ranges"), "[%s]", R.out);
	cr_assert(strstr(R.out, "Protocol udp Port Exclusion Ranges"), "[%s]", R.out);
	cr_assert(strstr(R.out, "dns pool"), "comment missing: [%s]", R.out);
	n = parse_table(R.out, rows, 8);
	cr_assert_eq(n, 3, "want 3 rows: [%s]", R.out);
	cr_assert(!strcmp(rows[0].proto, "tcp") && rows[0].start == 7000 && rows[0].end == 7009 &&
		  rows[0].token == t1, "row 0: [%s]", R.out);
	cr_assert(!strcmp(rows[1].proto, "tcp") && rows[1].start == 8000 && rows[1].end == 8000 &&
		  rows[1].token == t2, "row 1: [%s]", R.out);
	cr_assert(!strcmp(rows[2].proto, "udp") && rows[2].start == 9000 && rows[2].end == 9099 &&
		  rows[2].token == t3, "row 2: [%s]", R.out);

	cli("show", "udp", NULL);
	cr_assert_eq(R.status, 0);
	cr_assert(strstr(R.out, "Protocol udp Port Exclusion Ranges"));
	cr_assert(!strstr(R.out, "Protocol tcp"), "show udp lists tcp: [%s]", R.out);
	n = parse_table(R.out, rows, 8);
	cr_assert(n == 1 && rows[0].start == 9000 && rows[0].token == t3, "[%s]", R.out);

	cli("show", "tcp", NULL);
	cr_assert_eq(R.status, 0);
	cr_assert(!strstr(R.out, "Protocol udp"), "show tcp lists udp: [%s]", R.out);
	cr_assert_eq(parse_table(R.out, rows, 8), 2, "[%s]", R.out);
}

KT_TEST(cli, show_empty)
{
	struct table_row rows[2];

	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0);
	cr_assert_str_eq(R.out, "[]\n");
	cr_assert_str_empty(R.err);
	cli("show", NULL);
	cr_assert_eq(R.status, 0);
	cr_assert(strstr(R.out, "Protocol tcp Port Exclusion Ranges"));
	cr_assert_eq(parse_table(R.out, rows, 2), 0);
	/* A filter that matches nothing is an empty array too. */
	add_ok("udp", "7000", "10");
	cli("show", "tcp", "--json", NULL);
	cr_assert_eq(R.status, 0);
	cr_assert_str_eq(R.out, "[]\n");
}

/* A created time: ISO 8601 UTC, within the window of the test. */
static void assert_created(const char *s, time_t lo, time_t hi)
{
	struct tm tm = { 0 };
	const char *end;
	time_t t;

	cr_assert(matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", s),
		  "created is not ISO 8601 UTC: [%s]", s);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cr_assert(end && !*end);
	t = timegm(&tm);
	cr_assert(t >= lo - 1 && t <= hi + 1, "created %s is not the time of the add", s);
}

/* One object of show --json. owner NULL: JSON null. */
static void check_json_resv(int obj, const char *proto, unsigned int start, unsigned int count,
			    uint64_t token, const char *owner, const char *comment, time_t lo,
			    time_t hi)
{
	char tok[24], netns[64];
	ssize_t n;

	cr_assert_eq(J[obj].type, J_OBJ, "array element is not an object");
	cr_assert_str_eq(J[jget(obj, "proto", J_STR)].str, proto);
	cr_assert_eq(J[jget(obj, "start", J_NUM)].num, start);
	cr_assert_eq(J[jget(obj, "count", J_NUM)].num, count);
	snprintf(tok, sizeof(tok), "0x%016" PRIx64, token);
	cr_assert_str_eq(J[jget(obj, "token", J_STR)].str, tok);
	if (owner)
		cr_assert_str_eq(J[jget(obj, "owner", J_STR)].str, owner);
	else
		jget(obj, "owner", J_NULL);
	/* The netns as the kernel names it: readlink of /proc/self/ns/net. */
	n = readlink("/proc/self/ns/net", netns, sizeof(netns) - 1);
	cr_assert(n > 0);
	netns[n] = '\0';
	cr_assert_str_eq(J[jget(obj, "netns", J_STR)].str, netns);
	cr_assert_str_eq(J[jget(obj, "comment", J_STR)].str, comment);
	assert_created(J[jget(obj, "created", J_STR)].str, lo, hi);
}

KT_TEST(cli, show_json)
{
	const char *comment = "web \"pool\" \\ x/y";
	uint64_t t1, t2, t3;
	time_t lo, hi;
	int root;

	lo = time(NULL);
	t1 = add_ok("tcp", "7000", "10");
	cli("add", "udp", "9000", "100", "--owner", kt.cgroup, "--comment", comment, NULL);
	t2 = assert_token("add udp --owner --comment");
	t3 = add_ok("tcp", "65535", "1");
	hi = time(NULL);

	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0, "show --json: %s", R.err);
	cr_assert_str_empty(R.err);
	root = jparse(R.out);
	cr_assert_eq(J[root].type, J_ARR, "show --json is not an array: [%s]", R.out);
	cr_assert_eq(jcount(root), 3, "[%s]", R.out);
	/* Sorted by netns, proto, start: tcp 7000, tcp 65535, udp 9000. */
	check_json_resv(jchild(root, 0), "tcp", 7000, 10, t1, NULL, "", lo, hi);
	check_json_resv(jchild(root, 1), "tcp", 65535, 1, t3, NULL, "", lo, hi);
	check_json_resv(jchild(root, 2), "udp", 9000, 100, t2, kt.cgroup, comment, lo, hi);

	cli("show", "udp", "--json", NULL);
	cr_assert_eq(R.status, 0);
	root = jparse(R.out);
	cr_assert_eq(J[root].type, J_ARR);
	cr_assert_eq(jcount(root), 1, "show udp --json: [%s]", R.out);
	check_json_resv(jchild(root, 0), "udp", 9000, 100, t2, kt.cgroup, comment, lo, hi);

	/* Options may come first. */
	cli("show", "--json", "tcp", NULL);
	cr_assert_eq(R.status, 0);
	root = jparse(R.out);
	cr_assert_eq(jcount(root), 2, "show --json tcp: [%s]", R.out);
}

/* ---- why ------------------------------------------------------------------------------ */

KT_TEST(cli, why)
{
	char tok[24];
	uint64_t t;

	cli("add", "tcp", "7000", "10", "--comment", "web", NULL);
	t = assert_token("add");
	snprintf(tok, sizeof(tok), "0x%016" PRIx64, t);
	cli("why", "tcp", "7003", NULL);
	cr_assert_eq(R.status, 0, "why: %s", R.err);
	cr_assert(one_line(R.out) && strstr(R.out, "7000-7009") && strstr(R.out, "web"),
		  "why: [%s]", R.out);
	cr_assert(!strstr(R.out, tok), "why printed the token, a secret: [%s]", R.out);
	cli("why", "tcp", "7010", NULL);
	assert_failed(4, "why outside every reservation");
	cli("why", "udp", "7003", NULL);
	assert_failed(4, "why of the other protocol");
}

/* ---- status --------------------------------------------------------------------------- */

/*
 * A kernel without BTF (no /sys/kernel/btf/vmlinux, here hidden in this test's own mount
 * namespace): load says so in one line and changes nothing; the attached programs stay.
 */
KT_TEST(cli, load_without_btf)
{
	uint64_t tok = add_ok("tcp", "7000", "10");

	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
	/* /sys, not /: in a chroot / is no mount point. */
	cr_assert_eq(mount(NULL, "/sys", NULL, MS_REC | MS_PRIVATE, NULL), 0, "%s", strerror(errno));
	cr_assert_eq(mount("none", "/sys/kernel/btf", "tmpfs", 0, NULL), 0, "mount: %s",
		     strerror(errno));
	cli("load", "--cgroup", kt.cgroup, NULL);
	assert_failed(1, "load without BTF");
	assert_mentions("load without BTF", "no BTF");
	cr_assert_eq(umount("/sys/kernel/btf"), 0);
	cli("lookup", "tcp", "7000", "10", NULL);
	cr_assert_eq(assert_token("lookup after a refused load"), tok);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), -EACCES, "a refused load must leave enforcement as it was");
}

/*
 * Maps pinned by another version of portrsv (another layout) are refused by every command
 * that would read or write them, with a message saying what to do; unload still removes
 * them, and restore then brings the store back.
 */
KT_TEST(cli, maps_of_another_version)
{
	char path[PATH_MAX + 32], cmd[2 * PATH_MAX];
	const char *const cmds[][4] = { { "show" }, { "add", "udp", "7100", "1" },
					{ "lookup", "tcp", "7000", "10" }, { "restore" } };
	uint64_t tok = add_ok("tcp", "7000", "10");

	snprintf(path, sizeof(path), "%s/" PORTRSV_PIN_RESV, kt.pin_dir);
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(unlink(path), 0);
	snprintf(cmd, sizeof(cmd), "bpftool map create '%s' type hash key %zu value 104 "
		 "entries 8 name portrsv_resv", path, sizeof(struct portrsv_key));
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *argv[6] = { (char *)portrsv_bin() };

		for (int j = 0; j < 4 && cmds[i][j]; j++)
			argv[j + 1] = (char *)cmds[i][j];
		run_argv_opts(&(struct run_opts){ 0 }, argv);
		assert_failed(1, cmds[i][0]);
		assert_mentions(cmds[i][0], "another version of portrsv");
	}
	cli("unload", NULL);
	assert_silent_ok("unload of another version's maps");
	cr_assert(access(kt.pin_dir, F_OK) != 0, "unload left %s", kt.pin_dir);
	cli("restore", NULL);
	assert_silent_ok("restore after unload");
	cli("lookup", "tcp", "7000", "10", NULL);
	cr_assert_eq(assert_token("lookup after restore"), tok);
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7001), -EACCES);
}

/*
 * A privileged copy run by someone else (here setuid root, run by nobody) must not let the
 * environment choose its pins or store: PORTRSV_PIN_DIR and PORTRSV_STATE_DIR are read with
 * secure_getenv, so it uses the defaults. (A file system mounted nosuid would not make the
 * copy privileged, and the test would prove nothing: that is a failure, not a skip.)
 */
KT_TEST(cli, setuid_ignores_environment)
{
	char copy[PATH_MAX], *argv[] = { copy, "status", "--json", NULL };
	struct run_opts o = { .unpriv = true };
	struct statvfs sv;
	int in, out, root;
	ssize_t n;
	char buf[65536];

	snprintf(copy, sizeof(copy), "%s/portrsv-setuid", kt.state_dir);
	in = open(portrsv_bin(), O_RDONLY | O_CLOEXEC);
	out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	cr_assert(in >= 0 && out >= 0, "copy %s: %s", portrsv_bin(), strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, n), n);
	close(in);
	cr_assert_eq(fchmod(out, 04755), 0);
	close(out);
	cr_assert_eq(statvfs(copy, &sv), 0);
	cr_assert(!(sv.f_flag & ST_NOSUID), "%s is on a nosuid file system", copy);

	run_argv_opts(&o, argv);
	unlink(copy);
	root = jparse(R.out);
	cr_assert_str_eq(J[jget(root, "pin_dir", J_STR)].str, PORTRSV_PIN_DIR_DEFAULT,
			 "a setuid portrsv followed PORTRSV_PIN_DIR=%s: [%s] [%s]", kt.pin_dir, R.out,
			 R.err);
	cr_assert(!strstr(R.err, kt.pin_dir), "[%s]", R.err);
}

/* status names the running kernel and exactly the features it lacks, as the probes found. */
static void assert_kernel(int root)
{
	int k = jget(root, "kernel", J_OBJ), lacks = jget(k, "lacks", J_ARR);
	struct utsname u;
	int n = 0;

	cr_assert_eq(uname(&u), 0);
	cr_assert_str_eq(J[jget(k, "release", J_STR)].str, u.release);
	for (int f = 0; f < PORTRSV_FEAT_COUNT; f++) {
		if (portrsv_feature_present(f))
			continue;
		cr_assert(n < jcount(lacks), "status --json omits missing %s: [%s]",
			  portrsv_features[f].name, R.out);
		cr_assert_str_eq(J[jget(jchild(lacks, n), "feature", J_STR)].str,
				 portrsv_features[f].name);
		cr_assert_str_eq(J[jget(jchild(lacks, n), "since", J_STR)].str,
				 portrsv_features[f].since);
		jget(jchild(lacks, n), "effect", J_STR);
		n++;
	}
	cr_assert_eq(jcount(lacks), n, "status --json lists a feature the kernel has: [%s]", R.out);
}

KT_TEST(cli, status_loaded)
{
	int root, cgs, found = 0;

	add_ok("tcp", "7000", "10");
	cli("status", NULL);
	cr_assert_eq(R.status, 0, "status: %s", R.err);
	cr_assert_str_empty(R.err);
	cr_assert(strstr(R.out, kt.cgroup), "status does not list %s: [%s]", kt.cgroup, R.out);
	cr_assert(strstr(R.out, kt.pin_dir), "status does not name the pin dir: [%s]", R.out);
	cr_assert(strstr(R.out, "\nkernel: "), "status does not name the kernel: [%s]", R.out);

	cli("status", "--json", NULL);
	cr_assert_eq(R.status, 0, "status --json: %s", R.err);
	cr_assert_str_empty(R.err);
	root = jparse(R.out);
	cr_assert_eq(J[root].type, J_OBJ, "[%s]", R.out);
	cr_assert(J[jget(root, "loaded", J_BOOL)].b);
	cr_assert_str_eq(J[jget(root, "pin_dir", J_STR)].str, kt.pin_dir);
	cr_assert_eq(J[jget(root, "reservations", J_NUM)].num, 1);
	cgs = jget(root, "cgroups", J_ARR);
	for (int i = 0; i < jcount(cgs); i++) {
		int c = jchild(cgs, i);

		cr_assert_eq(J[c].type, J_OBJ);
		found += !strcmp(J[jget(c, "path", J_STR)].str, kt.cgroup);
		jget(c, "id", J_NUM);
	}
	cr_assert_eq(found, 1, "status --json must list %s once: [%s]", kt.cgroup, R.out);
	assert_kernel(root);
}

/* ---- Not loaded: PORTRSV_PIN_DIR names a directory that does not exist ------------------ */

static char missing_pin_dir[PATH_MAX];

static void setup_missing(void)
{
	kt_setup();
	snprintf(missing_pin_dir, sizeof(missing_pin_dir), "%s-missing", kt.pin_dir);
	setenv("PORTRSV_PIN_DIR", missing_pin_dir, 1);
}

static void teardown_missing(void)
{
	char cmd[PATH_MAX + 16];

	/* Only if a command created it (which the test reports): leave nothing behind. */
	if (missing_pin_dir[0] && access(missing_pin_dir, F_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", missing_pin_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "teardown: could not remove %s\n", missing_pin_dir);
	}
	kt_teardown();
}

ParameterizedTestParameters(cli, not_loaded)
{
	static struct words_row rows[] = {
		{ "status", 1, { "status" }, 6, "not loaded" },
		{ "status --json", 2, { "status", "--json" }, 6, "not loaded" },
		{ "add", 4, { "add", "tcp", "7000", "10" }, 6, "not loaded" },
		{ "show", 1, { "show" }, 6, "not loaded" },
		{ "show --json", 2, { "show", "--json" }, 6, "not loaded" },
		{ "lookup", 4, { "lookup", "tcp", "7000", "10" }, 6, "not loaded" },
		{ "delete", 4, { "delete", "tcp", "7000", "10" }, 6, "not loaded" },
		{ "why", 3, { "why", "tcp", "7000" }, 6, "not loaded" },
		{ "unload", 1, { "unload" }, 6, "not loaded" },
		{ "attach", 2, { "attach", "@CG@" }, 6, "not loaded" },
		{ "detach", 2, { "detach", "@CG@" }, 6, "not loaded" },
	};

	return cr_make_param_array(struct words_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct words_row *row, cli, not_loaded, .init = setup_missing,
		  .fini = teardown_missing)
{
	run_words(false, portrsv_bin(), row->argc, row->argv);
	cr_assert_eq(R.status, row->want, "%s: exit %d, want %d; stderr [%s]", row->name,
		     R.status, row->want, R.err);
	if (!strcmp(row->argv[0], "status")) {
		/* status also says so on stdout, for humans and for scripts. */
		if (row->argc == 2) {
			int root = jparse(R.out);

			cr_assert(!J[jget(root, "loaded", J_BOOL)].b);
			assert_kernel(root);
		} else {
			cr_assert(strstr(R.out, "not loaded"), "status: [%s]", R.out);
		}
		assert_err_line(row->name);
	} else {
		assert_failed(row->want, row->name);
	}
	assert_mentions(row->name, row->mention);
	cr_assert(access(missing_pin_dir, F_OK) != 0, "%s created %s", row->name,
		  missing_pin_dir);
	/* The real pin dir was not touched. */
	cr_assert_eq(store_size(), 0);
}

/* ---- Unprivileged: exit 5 and nothing changes ----------------------------------------- */

ParameterizedTestParameters(cli, unprivileged)
{
	static struct words_row rows[] = {
		{ "add", 4, { "add", "tcp", "7100", "10" }, 5, "permission denied" },
		{ "add over existing", 4, { "add", "udp", "7000", "10" }, 5, "permission denied" },
		{ "delete", 4, { "delete", "tcp", "7000", "10" }, 5, "permission denied" },
		{ "lookup", 4, { "lookup", "tcp", "7000", "10" }, 5, "permission denied" },
		{ "show", 1, { "show" }, 5, "permission denied" },
		{ "show --json", 2, { "show", "--json" }, 5, "permission denied" },
		{ "why", 3, { "why", "tcp", "7001" }, 5, "permission denied" },
		{ "load", 3, { "load", "--cgroup", "@CG@" }, 5, "permission denied" },
		{ "unload", 1, { "unload" }, 5, "permission denied" },
		{ "attach", 2, { "attach", "@CG@" }, 5, "permission denied" },
		{ "detach", 2, { "detach", "@CG@" }, 5, "permission denied" },
	};

	return cr_make_param_array(struct words_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct words_row *row, cli, unprivileged, .init = kt_setup,
		  .fini = kt_teardown)
{
	static char show[OUT_MAX], status[OUT_MAX];
	uint64_t tcp = add_ok("tcp", "7000", "10");
	uint64_t udp;

	cli("add", "udp", "7000", "10", "--comment", "kept", NULL);
	udp = assert_token("add udp");
	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0);
	strcpy(show, R.out);
	cli("status", NULL);
	cr_assert_eq(R.status, 0);
	strcpy(status, R.out);

	run_words(true, portrsv_bin(), row->argc, row->argv);
	assert_failed(row->want, row->name);
	assert_mentions(row->name, row->mention);

	/* As root: the same reservations with the same tokens, the same attachments. */
	cli("show", "--json", NULL);
	cr_assert_eq(R.status, 0);
	cr_assert_str_eq(R.out, show, "%s: reservations changed", row->name);
	cli("lookup", "tcp", "7000", "10", NULL);
	cr_assert_eq(assert_token("lookup tcp"), tcp);
	cli("lookup", "udp", "7000", "10", NULL);
	cr_assert_eq(assert_token("lookup udp"), udp);
	cli("lookup", "tcp", "7100", "10", NULL);
	assert_failed(4, "lookup of the block nobody tried to add");
	cli("status", NULL);
	cr_assert_eq(R.status, 0, "%s: portrsv no longer loaded: %s", row->name, R.err);
	cr_assert_str_eq(R.out, status, "%s: status changed", row->name);
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES, "%s: enforcement changed",
		     row->name);
}

/* ---- load, attach, detach, unload ----------------------------------------------------- */

static void setup_unloaded(void)
{
	kt_setup_opts(false);
}

/* Does status list the test's cgroup, and how often? */
static int status_lists_cgroup(void)
{
	int root, cgs, found = 0;

	cli("status", "--json", NULL);
	root = jparse(R.out);
	cgs = jget(root, "cgroups", J_ARR);
	for (int i = 0; i < jcount(cgs); i++)
		found += !strcmp(J[jget(jchild(cgs, i), "path", J_STR)].str, kt.cgroup);
	/* Attached nowhere, nothing is enforced: status says so, and fails. */
	if (jcount(cgs) == 0)
		cr_assert(R.status == 1 && strstr(R.err, "attached to no cgroup"),
			  "status --json, attached nowhere: exit %d [%s]", R.status, R.err);
	else
		cr_assert_eq(R.status, 0, "status --json: %s", R.err);
	return found;
}

/*
 * A TCP bind that may take a moment to be allowed: here the lifecycle as such is checked,
 * how promptly detach and unload act is the *_is_synchronous tests' business.
 */
static int bind_soon(uint16_t port)
{
	int err = 0;

	for (int i = 0; i < 100; i++) {
		err = try_bind(IPPROTO_TCP, port);
		if (err != -EACCES)
			break;
		usleep(10000);
	}
	return err;
}

Test(cli, lifecycle, .init = setup_unloaded, .fini = kt_teardown)
{
	struct stat st;
	uint64_t token;
	int fd;

	cli("status", NULL);
	cr_assert_eq(R.status, 6, "status before load: %d", R.status);

	cli("load", "--cgroup", kt.cgroup, NULL);
	assert_silent_ok("load");
	cr_assert(stat(kt.pin_dir, &st) == 0 && S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700, "pin dir mode %o", st.st_mode & 07777);
	cr_assert_eq(status_lists_cgroup(), 1);

	/* The loader has exited: pinned links enforce on their own. */
	token = add_ok("tcp", "7000", "10");
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES, "not enforced after load");
	cr_assert_eq(try_bind(IPPROTO_TCP, START + COUNT), 0);

	cli("detach", kt.cgroup, NULL);
	assert_silent_ok("detach");
	cr_assert_eq(bind_soon(START + 1), 0, "still enforced after detach");
	cr_assert_eq(status_lists_cgroup(), 0, "status lists a detached cgroup");
	cli("detach", kt.cgroup, NULL);
	assert_failed(4, "second detach");
	/* A reservation added where nothing is enforced: made, and the operator is warned. */
	cli("add", "tcp", "7200", "1", NULL);
	cr_assert_eq(R.status, 0, "add, attached nowhere: [%s]", R.err);
	assert_err_line("add, attached nowhere");
	cr_assert(strstr(R.err, "warning") && strstr(R.err, "attached to no cgroup"), "[%s]",
		  R.err);
	cli("delete", "tcp", "7200", "1", NULL);
	assert_silent_ok("delete");

	cli("attach", kt.cgroup, NULL);
	assert_silent_ok("attach");
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES, "not enforced after attach");
	cli("attach", kt.cgroup, NULL);
	assert_silent_ok("second attach");
	cr_assert_eq(status_lists_cgroup(), 1);

	/* Load again: an upgrade in place, reservations and tokens kept. */
	cli("load", "--cgroup", kt.cgroup, NULL);
	assert_silent_ok("second load");
	cli("lookup", "tcp", "7000", "10", NULL);
	cr_assert_eq(assert_token("lookup after upgrade"), token, "upgrade changed the token");
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES, "not enforced after upgrade");
	cr_assert_eq(status_lists_cgroup(), 1, "upgrade duplicated the attachment");
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(portrsv_associate(fd, token), 0, "token unknown after upgrade");
	cr_assert_eq(kt_bind(fd, KT_V4, START + 1), 0);
	close(fd);

	cli("unload", NULL);
	assert_silent_ok("unload");
	cr_assert(stat(kt.pin_dir, &st) != 0 && errno == ENOENT, "unload left %s", kt.pin_dir);
	cr_assert_eq(bind_soon(START + 1), 0, "still enforced after unload");
	cli("unload", NULL);
	assert_failed(6, "second unload");
	cli("status", NULL);
	cr_assert_eq(R.status, 6, "status after unload: %d", R.status);
}

/*
 * detach and unload take effect before the command returns: the very next bind is no longer
 * checked. Repeated, since a late detach shows only now and then.
 */
#define CYCLES 100

Test(cli, detach_is_synchronous, .init = kt_setup, .fini = kt_teardown)
{
	int late = 0;

	add_ok("tcp", "7000", "10");
	for (int i = 0; i < CYCLES; i++) {
		cli("detach", kt.cgroup, NULL);
		assert_silent_ok("detach");
		late += try_bind(IPPROTO_TCP, START + 1) != 0;
		cli("attach", kt.cgroup, NULL);
		assert_silent_ok("attach");
		cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES,
			     "not enforced after attach");
	}
	cr_assert_eq(late, 0, "%d of %d binds right after 'detach' were still refused", late,
		     CYCLES);
}

Test(cli, unload_is_synchronous, .init = setup_unloaded, .fini = kt_teardown)
{
	int late = 0;

	for (int i = 0; i < CYCLES; i++) {
		cli("load", "--cgroup", kt.cgroup, NULL);
		assert_silent_ok("load");
		/* unload keeps the store: from the second load on, load brings the block back. */
		if (i == 0)
			add_ok("tcp", "7000", "10");
		cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES, "not enforced after load");
		cli("unload", NULL);
		assert_silent_ok("unload");
		late += try_bind(IPPROTO_TCP, START + 1) != 0;
	}
	cr_assert_eq(late, 0, "%d of %d binds right after 'unload' were still refused", late,
		     CYCLES);
}

/* ---- --netns, and paths that name no cgroup or netns ---------------------------------- */

/* A reservation made with --netns applies in that netns and only there. */
KT_TEST(cli, netns_option)
{
	char ns[64], ino[64], tok[24];
	uint64_t t;
	ssize_t n;
	int home, root;

	/* The test's netns stays reachable through an fd while the test moves to a new one. */
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert(home >= 0);
	snprintf(ns, sizeof(ns), "/proc/%d/fd/%d", getpid(), home);
	n = readlink("/proc/thread-self/ns/net", ino, sizeof(ino) - 1);
	cr_assert(n > 0);
	ino[n] = '\0';
	kt_private_netns();

	cli("add", "tcp", "7000", "10", "--netns", ns, NULL);
	t = assert_token("add --netns");
	snprintf(tok, sizeof(tok), "0x%016" PRIx64, t);
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), 0, "reservation leaked into this netns");
	cli("lookup", "tcp", "7000", "10", NULL);
	assert_failed(4, "lookup in the caller's netns");
	cli("lookup", "tcp", "7000", "10", "--netns", ns, NULL);
	cr_assert_eq(assert_token("lookup --netns"), t);
	cli("why", "tcp", "7001", "--netns", ns, NULL);
	cr_assert(R.status == 0 && strstr(R.out, "7000-7009") && !strstr(R.out, tok),
		  "why --netns (the block, never the token): %d [%s] [%s]", R.status, R.out, R.err);
	cli("show", "--json", NULL);
	root = jparse(R.out);
	cr_assert_eq(jcount(root), 1);
	cr_assert_str_eq(J[jget(jchild(root, 0), "netns", J_STR)].str, ino);

	cr_assert(setns(home, CLONE_NEWNET) == 0, "setns: %s", strerror(errno));
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES, "not enforced in the named netns");
	cli("delete", "tcp", "7000", "10", "--netns", ns, NULL);
	assert_silent_ok("delete --netns");
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), 0);
	close(home);
}

#define NOWHERE "/nonexistent-portrsv-path"

ParameterizedTestParameters(cli, bad_paths)
{
	static struct words_row rows[] = {
		{ "owner missing", 6, { "add", "tcp", "7000", "10", "--owner", NOWHERE }, 2,
		  NOWHERE },
		{ "owner not a cgroup", 6, { "add", "tcp", "7000", "10", "--owner", "/proc" }, 2,
		  "/proc" },
		{ "owner empty", 6, { "add", "tcp", "7000", "10", "--owner", "" }, 2, "owner" },
		{ "netns missing", 6, { "add", "tcp", "7000", "10", "--netns", NOWHERE }, 2,
		  NOWHERE },
		{ "netns not a netns", 6, { "add", "tcp", "7000", "10", "--netns", "/proc" }, 2,
		  "/proc" },
		{ "netns missing, owner ok", 8,
		  { "add", "tcp", "7000", "10", "--owner", "@CG@", "--netns", NOWHERE },
		  2, NOWHERE },
		{ "lookup, netns missing", 6,
		  { "lookup", "tcp", "7000", "10", "--netns", NOWHERE }, 2, NOWHERE },
		{ "delete, netns missing", 6,
		  { "delete", "tcp", "7000", "10", "--netns", NOWHERE }, 4, NOWHERE },
		{ "attach, dir missing", 2, { "attach", NOWHERE }, 2, NOWHERE },
		{ "attach, not a cgroup", 2, { "attach", "/proc" }, 2, "/proc" },
		{ "detach, dir missing", 2, { "detach", NOWHERE }, 2, NOWHERE },
	};

	return cr_make_param_array(struct words_row, rows, sizeof(rows) / sizeof(rows[0]));
}

/* Each fails with one line naming the path; none of them is about a reservation. */
ParameterizedTest(struct words_row *row, cli, bad_paths, .init = kt_setup, .fini = kt_teardown)
{
	run_words(false, portrsv_bin(), row->argc, row->argv);
	assert_failed(row->want, row->name);
	assert_mentions(row->name, row->mention);
	cr_expect(!strstr(R.err, "no such reservation"),
		  "%s: the cause is a path, not a reservation: [%s]", row->name, R.err);
	cr_assert_eq(store_size(), 0);
	cr_assert_eq(status_lists_cgroup(), 1, "%s: attachments changed", row->name);
}

/* A first load that cannot attach where asked leaves nothing loaded. */
ParameterizedTestParameters(cli, failed_load)
{
	static struct words_row rows[] = {
		{ "cgroup missing", 3, { "load", "--cgroup", NOWHERE }, 2, NOWHERE },
		{ "not a cgroup", 3, { "load", "--cgroup", "/proc" }, 2, "/proc" },
	};

	return cr_make_param_array(struct words_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct words_row *row, cli, failed_load, .init = setup_unloaded,
		  .fini = kt_teardown)
{
	run_words(false, portrsv_bin(), row->argc, row->argv);
	assert_failed(row->want, row->name);
	assert_mentions(row->name, row->mention);
	cr_expect(!strstr(R.err, "no such reservation"), "%s: [%s]", row->name, R.err);
	cr_expect(access(kt.pin_dir, F_OK) != 0, "%s: the failed load left %s behind", row->name,
		  kt.pin_dir);
	cli("status", NULL);
	cr_assert_eq(R.status, 6, "%s: status after a failed load: %d", row->name, R.status);
}

/* status --json when not loaded is JSON too, whatever the pin dir is called. */
Test(cli, status_json_not_loaded_escapes, .init = kt_setup, .fini = teardown_missing)
{
	int root;

	snprintf(missing_pin_dir, sizeof(missing_pin_dir), "%s-a\"b\\c", kt.pin_dir);
	setenv("PORTRSV_PIN_DIR", missing_pin_dir, 1);
	cli("status", "--json", NULL);
	cr_assert_eq(R.status, 6);
	root = jparse(R.out);
	cr_assert(!J[jget(root, "loaded", J_BOOL)].b);
	cr_assert_str_eq(J[jget(root, "pin_dir", J_STR)].str, missing_pin_dir);
}

/* ---- Concurrent commands, and the denied counter -------------------------------------- */

#define NCONC 8

/* Read a whole small file into buf. */
static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	n = read(fd, buf, len - 1);
	close(fd);
	cr_assert(n >= 0);
	buf[n] = '\0';
}

/* The same block added by several processes at once: exactly one gets it. */
KT_TEST(cli, concurrent_adds)
{
	char path[PATH_MAX + 16], out[256], err[256], winner[256] = "";
	int status[NCONC], wins = 0, conflicts = 0;
	pid_t pids[NCONC];

	for (int i = 0; i < NCONC; i++) {
		fflush(NULL);
		pids[i] = fork();
		if (pids[i] == 0) {
			int o, e;

			snprintf(path, sizeof(path), "%s/out%d", kt.state_dir, i);
			o = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			snprintf(path, sizeof(path), "%s/err%d", kt.state_dir, i);
			e = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
				_exit(126);
			execl(portrsv_bin(), portrsv_bin(), "add", "tcp", "7000", "10",
			      (char *)NULL);
			_exit(127);
		}
	}
	/* Reap every child before asserting anything. */
	for (int i = 0; i < NCONC; i++) {
		status[i] = -1;
		if (pids[i] > 0 && waitpid(pids[i], &status[i], 0) != pids[i])
			status[i] = -1;
	}
	for (int i = 0; i < NCONC; i++) {
		cr_assert(pids[i] > 0, "fork failed");
		cr_assert(status[i] >= 0 && WIFEXITED(status[i]), "child %d died", i);
		snprintf(path, sizeof(path), "%s/out%d", kt.state_dir, i);
		read_file(path, out, sizeof(out));
		snprintf(path, sizeof(path), "%s/err%d", kt.state_dir, i);
		read_file(path, err, sizeof(err));
		if (WEXITSTATUS(status[i]) == 0) {
			wins++;
			cr_assert(matches("^0x[0-9a-f]{16}\n$", out), "winner printed [%s]", out);
			strcpy(winner, out);
		} else {
			cr_assert_eq(WEXITSTATUS(status[i]), 3, "loser %d: exit %d [%s]", i,
				     WEXITSTATUS(status[i]), err);
			cr_assert(one_line(err) && !out[0], "loser %d: [%s] [%s]", i, out, err);
			conflicts++;
		}
	}
	cr_assert_eq(wins, 1, "%d processes got the same block", wins);
	cr_assert_eq(conflicts, NCONC - 1);
	cr_assert_eq(store_size(), 1);
	cli("lookup", "tcp", "7000", "10", NULL);
	assert_token("lookup");
	cr_assert_str_eq(R.out, winner, "lookup does not give the winner's token");
}

/* Every refused bind is counted on its reservation, and show reports it. */
KT_TEST(cli, denied_counter)
{
	struct table_row rows[2];
	int root;

	add_ok("tcp", "7000", "10");
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 1), -EACCES);
	cr_assert_eq(try_bind(IPPROTO_TCP, START + 9), -EACCES);
	cli("show", "--json", NULL);
	root = jparse(R.out);
	cr_assert_eq(J[jget(jchild(root, 0), "denied", J_NUM)].num, 2, "[%s]", R.out);
	cli("show", NULL);
	cr_assert_eq(parse_table(R.out, rows, 2), 1);
	cr_assert(strstr(R.out, "       2  net:["), "Denied column: [%s]", R.out);
}

/* ---- The ported Windows example ------------------------------------------------------- */

KT_TEST(example, allocates)
{
	const char *line;
	unsigned int port;

	reserve("7200", "20", NULL);
	cr_assert_eq(R.status, 0, "reserve: exit %d; stdout [%s] stderr [%s]", R.status, R.out,
		     R.err);
	cr_assert(matches("(^|\n)  Token = 0x[0-9a-f]{16}\n", R.out), "[%s]", R.out);
	line = strstr(R.out, "Port number allocated = ");
	cr_assert(line, "no allocated port: [%s]", R.out);
	cr_assert(line == R.out || line[-1] == '\n');
	cr_assert_eq(sscanf(line, "Port number allocated = %u\n", &port), 1);
	cr_assert(port >= 7200 && port < 7220, "port %u is outside 7200+20", port);
	cr_assert(strstr(R.out, "DeletePersistentTcpPortReservation call succeeded"));
	/* The example deletes its reservation. */
	cr_assert_eq(store_size(), 0);
}

struct example_row {
	char name[32];
	int argc;
	char argv[4][WLEN];
	char err[48];  /* stderr contains this ("" = usage) */
};

ParameterizedTestParameters(example, rejects)
{
	static struct example_row rows[] = {
		{ "no arguments", 0, { "" }, "" },
		{ "one argument", 1, { "5000" }, "" },
		{ "three arguments", 3, { "5000", "20", "1" }, "" },
		{ "start garbage", 2, { "50x", "20" }, "" },
		{ "start empty", 2, { "", "20" }, "" },
		{ "start negative", 2, { "-1", "20" }, "" },
		{ "start plus", 2, { "+5000", "20" }, "" },
		{ "start blank", 2, { " 5000", "20" }, "" },
		{ "start 65536", 2, { "65536", "20" }, "" },
		{ "count garbage", 2, { "5000", "2o" }, "" },
		{ "count 65536", 2, { "5000", "65536" }, "" },
		{ "start 0", 2, { "0", "10" }, "returned error: 87" },
		{ "count 0", 2, { "5000", "0" }, "returned error: 87" },
		{ "block passes 65535", 2, { "65535", "2" }, "returned error: 87" },
	};

	return cr_make_param_array(struct example_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct example_row *row, example, rejects, .init = kt_setup,
		  .fini = kt_teardown)
{
	run_words(false, reserve_bin(), row->argc, row->argv);
	cr_assert_eq(R.status, 1, "%s: exit %d, want 1", row->name, R.status);
	cr_assert_str_empty(R.out, "%s: stdout [%s]", row->name, R.out);
	cr_assert(strstr(R.err, row->err[0] ? row->err : "usage: "), "%s: stderr [%s]", row->name,
		  R.err);
	cr_assert_eq(store_size(), 0);
}

/* A block that overlaps a reservation: ERROR_SHARING_VIOLATION, and the old one stays. */
KT_TEST(example, sharing_violation)
{
	uint64_t t = add_ok("tcp", "7200", "20");

	reserve("7210", "5", NULL);
	cr_assert_eq(R.status, 1);
	cr_assert(strstr(R.err, "CreatePersistentTcpPortReservation returned error: 32"), "[%s]",
		  R.err);
	cli("lookup", "tcp", "7200", "20", NULL);
	cr_assert_eq(assert_token("lookup"), t);
}

Test(example, not_loaded, .init = setup_missing, .fini = teardown_missing)
{
	reserve("7200", "20", NULL);
	cr_assert_eq(R.status, 1);
	cr_assert(strstr(R.err, "CreatePersistentTcpPortReservation returned error: 1062"), "[%s]",
		  R.err);
}

/* A pin directory someone else made first (in a world-writable /sys/fs/bpf) is refused. */
Test(cli, foreign_pin_dir, .init = setup_unloaded, .fini = kt_teardown)
{
	cr_assert_eq(mkdir(kt.pin_dir, 0777), 0);
	cr_assert_eq(chown(kt.pin_dir, 65534, 65534), 0);
	cli("load", "--cgroup", kt.cgroup, NULL);
	cr_assert_eq(R.status, 5, "load into a foreign pin dir: exit %d [%s]", R.status, R.err);
	cr_assert(strstr(R.err, "owned by uid 65534"), "[%s]", R.err);
	cr_assert(one_line(R.err), "[%s]", R.err);
	cr_assert_eq(rmdir(kt.pin_dir), 0, "load put something into the foreign pin dir");
}

/* status fails, naming each cause, when enforcement has quietly weakened; restore mends. */
KT_TEST(cli, status_problems)
{
	char sub[PATH_MAX + 8];

	add_ok("tcp", "7000", "10");
	cli("status", NULL);
	cr_assert_eq(R.status, 0, "healthy status: exit %d [%s]", R.status, R.err);

	/* From outside the enforced cgroup: inside, the sysctl guard keeps the ports. */
	kt_write_outside("/proc/sys/net/ipv4/ip_local_reserved_ports", "\n");
	cli("status", NULL);
	cr_assert_eq(R.status, 1, "status after the sysctl was reset: exit %d", R.status);
	cr_assert(strstr(R.err, "ip_local_reserved_ports of this netns lacks 10 reserved ports"),
		  "[%s]", R.err);
	cli("restore", NULL);
	cr_assert_eq(R.status, 0, "restore: [%s]", R.err);
	cli("status", NULL);
	cr_assert_eq(R.status, 0, "status after restore: exit %d [%s]", R.status, R.err);

	/* A service restart recreates its cgroup: same path, new id, no programs. */
	snprintf(sub, sizeof(sub), "%s/svc", kt.cgroup);
	cr_assert_eq(mkdir(sub, 0755), 0);
	cli("attach", sub, NULL);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	cr_assert_eq(rmdir(sub), 0);
	cr_assert_eq(mkdir(sub, 0755), 0);
	cli("status", "--json", NULL);
	cr_assert_eq(R.status, 1, "status with a recreated cgroup: exit %d", R.status);
	/* Several problems, one stderr line: the first, and where the rest are. */
	assert_err_line("status with a recreated cgroup");
	cr_assert(strstr(R.err, "is gone"), "[%s]", R.err);
	cr_assert(strstr(R.err, "status lists them"), "[%s]", R.err);
	{
		int root = jparse(R.out), probs = jget(root, "problems", J_ARR);
		bool gone = false, not_enforced = false;

		for (int i = 0; i < jcount(probs); i++) {
			gone |= !!strstr(J[jchild(probs, i)].str, "is gone");
			not_enforced |= !!strstr(J[jchild(probs, i)].str, "is not enforced");
		}
		cr_assert(gone && not_enforced, "problems: [%s]", R.out);
	}
	cli("restore", NULL);
	cr_assert_eq(R.status, 0, "restore: [%s]", R.err);
	cli("detach", sub, NULL);
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	cli("load", "--cgroup", kt.cgroup, NULL); /* drops the link of the gone cgroup */
	cr_assert_eq(R.status, 0, "[%s]", R.err);
	cli("status", NULL);
	cr_assert_eq(R.status, 0, "status after mending: exit %d [%s]", R.status, R.err);
	cr_assert_eq(rmdir(sub), 0);
}
