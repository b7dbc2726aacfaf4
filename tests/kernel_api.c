// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel tests of the library APIs on a real kernel: the Windows API return codes (every row
 * of the SPEC table, Tcp and Udp), the native API and its errnos, tokens, owner cgroups,
 * unprivileged association and reservations in another netns.
 *
 * Every test runs in its own cgroup, pin directory, state directory and netns (testlib.h).
 * Children that change cgroup, uid or netns never use cr_assert: they compute a result and
 * return it as their exit status, which the test then checks.
 */
#include "testlib.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */
#include <signal.h>
#include <time.h>
#include <sys/prctl.h>
#include "portrsv/iphlpapi.h"
#include "store.h"

struct kt_env kt;

#define PSTART 7000   /* the block set up before the call under test */
#define PCOUNT 10
#define BUSY_PORT 7005 /* where a socket sits for the "port in use" rows */
#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- helpers */

/* bind() of a fresh IPv4 (or other family) socket of proto to port; 0 or -errno. */
static int try_bind_fam(int proto, enum kt_fam fam, uint16_t port)
{
	int fd = kt_socket(fam, proto);
	int err = kt_bind(fd, fam, port);

	close(fd);
	return err;
}

static int try_bind(int proto, uint16_t port)
{
	return try_bind_fam(proto, KT_V4, port);
}

/* bind() of a fresh socket to 0.0.0.0:port (works with lo down); 0 or -errno. */
static int try_bind_any(int proto, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = kt_socket(KT_V4, proto), err;

	err = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
	close(fd);
	return err;
}

static const char *pname(int proto)
{
	return proto == PORTRSV_TCP ? "tcp" : proto == PORTRSV_UDP ? "udp" : "proto?";
}

static int other_proto(int proto)
{
	return proto == PORTRSV_TCP ? PORTRSV_UDP : PORTRSV_TCP;
}

static int list_all(struct portrsv_reservation **v)
{
	int n;

	*v = NULL;
	n = portrsv_list(kt.p, v);
	cr_assert(n >= 0, "portrsv_list: %d (%s)", n, strerror(-n));
	return n;
}

static int list_count(void)
{
	struct portrsv_reservation *v;
	int n = list_all(&v);

	free(v);
	return n;
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	cr_assert(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return st.st_ino;
}

static uint64_t own_cookie(void)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert(fd >= 0);
	cr_assert(getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &c, &len) == 0);
	close(fd);
	return c;
}

/* Errno values in exit statuses: index in this table (7 = anything else). */
static const int small_errs[] = { 0, EACCES, ENOENT, EINVAL, EPERM, ENOPROTOOPT, EADDRINUSE };

static int err_code(int err)
{
	err = err < 0 ? -err : err;
	for (size_t i = 0; i < ARRAY_LEN(small_errs); i++)
		if (small_errs[i] == err)
			return (int)i;
	return 7;
}

static int code_err(int code)
{
	return code >= 0 && code < (int)ARRAY_LEN(small_errs) ? -small_errs[code] : -9999;
}

/* Windows codes in exit statuses: index in this table (100 = anything else). */
static const ULONG win_codes[] = { NO_ERROR, ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION,
				   ERROR_INVALID_PARAMETER, ERROR_SERVICE_NOT_ACTIVE,
				   ERROR_NOT_FOUND, ERROR_GEN_FAILURE };

static int win_to_exit(ULONG c)
{
	for (size_t i = 0; i < ARRAY_LEN(win_codes); i++)
		if (win_codes[i] == c)
			return (int)i;
	return 100;
}

static ULONG exit_to_win(int s)
{
	return s >= 0 && s < (int)ARRAY_LEN(win_codes) ? win_codes[s] : 0xffffffffu;
}

enum wop { W_CREATE, W_DELETE, W_LOOKUP };

static const char *wop_name(enum wop op)
{
	return op == W_CREATE ? "Create" : op == W_DELETE ? "Delete" : "Lookup";
}

/* The Windows function for op and proto; start in network byte order. */
static ULONG win(enum wop op, int proto, USHORT start_net, USHORT count, PULONG64 token)
{
	bool tcp = proto == PORTRSV_TCP;

	switch (op) {
	case W_CREATE:
		return tcp ? CreatePersistentTcpPortReservation(start_net, count, token)
			   : CreatePersistentUdpPortReservation(start_net, count, token);
	case W_DELETE:
		return tcp ? DeletePersistentTcpPortReservation(start_net, count)
			   : DeletePersistentUdpPortReservation(start_net, count);
	default:
		return tcp ? LookupPersistentTcpPortReservation(start_net, count, token)
			   : LookupPersistentUdpPortReservation(start_net, count, token);
	}
}

/* Windows Create in host order, asserted to succeed; the token. */
static uint64_t win_reserve(int proto, uint16_t start, uint16_t count)
{
	uint64_t t = 0;
	ULONG rc = win(W_CREATE, proto, htons(start), count, &t);

	cr_assert_eq(rc, NO_ERROR, "Create%s %u+%u: %u", pname(proto), start, count, rc);
	cr_assert_neq(t, INVALID_PORT_RESERVATION_TOKEN);
	return t;
}

/* Windows Lookup in host order: the code, and the token in *t. */
static ULONG win_lookup(int proto, uint16_t start, uint16_t count, uint64_t *t)
{
	*t = SENTINEL;
	return win(W_LOOKUP, proto, htons(start), count, t);
}

/* Write our pid to dir/cgroup.procs without asserting (for children): 0 or -1. */
static int join_cgroup_raw(const char *dir)
{
	char path[PATH_MAX + 16], pid[32];
	int fd, n, ok;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, pid, n) == n;
	close(fd);
	return ok ? 0 : -1;
}

/* Run fn in a forked child (same privileges); its exit status. */
static int run_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	cr_assert(waitpid(pid, &status, 0) == pid);
	cr_assert(WIFEXITED(status), "child died");
	return WEXITSTATUS(status);
}

/*
 * A job for a child: optionally join a cgroup, then a socket of proto, optionally
 * associated with token, bound to 127.0.0.1:port. Exit status: 8 * code(associate) +
 * code(bind), or 64+ for a failure of the child's own setup.
 */
struct bind_job {
	char cgroup[PATH_MAX];
	int proto;
	uint16_t port;
	uint64_t token;
};

static int job_bind(void *arg)
{
	const struct bind_job *j = arg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(j->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, assoc = 0, b;

	if (j->cgroup[0] && join_cgroup_raw(j->cgroup))
		return 64;
	fd = socket(AF_INET, (j->proto == PORTRSV_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
		    j->proto);
	if (fd < 0)
		return 65;
	if (j->token)
		assoc = portrsv_associate(fd, j->token);
	b = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
	close(fd);
	return 8 * err_code(assoc) + err_code(b);
}

static void job_result(int status, int *assoc, int *bind_err)
{
	cr_assert(status < 64, "child setup failed: status %d", status);
	*assoc = code_err(status / 8);
	*bind_err = code_err(status % 8);
}

/* Extra resources of some tests, removed by api_teardown even when an assert failed. */
static pid_t ns_child = -1;
static char subdirs[4][PATH_MAX]; /* sub-cgroups, deepest last */

static void api_teardown(void)
{
	if (ns_child > 0) {
		kill(ns_child, SIGKILL);
		waitpid(ns_child, NULL, 0);
		ns_child = -1;
	}
	for (int i = (int)ARRAY_LEN(subdirs) - 1; i >= 0; i--) {
		if (subdirs[i][0] && rmdir(subdirs[i]) && errno != ENOENT)
			fprintf(stderr, "teardown: rmdir %s: %s\n", subdirs[i], strerror(errno));
		subdirs[i][0] = '\0';
	}
	kt_teardown();
}

#define API_TEST(suite, name) Test(suite, name, .init = kt_setup, .fini = api_teardown)

/* =============================================================== Windows API */

enum pre {
	PRE_NONE,        /* nothing */
	PRE_BLOCK,       /* PSTART+PCOUNT of the row's protocol */
	PRE_BLOCK_OTHER, /* PSTART+PCOUNT of the other protocol */
	PRE_DELETED,     /* PSTART+PCOUNT created then deleted */
	PRE_TCP_LISTEN,  /* a TCP listener on 127.0.0.1:BUSY_PORT */
	PRE_TCP6_LISTEN, /* a TCP listener on [::1]:BUSY_PORT */
	PRE_TCP_BOUND,   /* a bound, unconnected, not listening TCP socket on BUSY_PORT */
	PRE_UDP_BOUND,   /* a bound UDP socket on BUSY_PORT */
	PRE_UDP6_BOUND,  /* a bound UDP socket on [::1]:BUSY_PORT */
};

/* Set up pre; *token gets the token of a PRE_BLOCK*, *busy the busy socket (or -1). */
static void setup_pre(enum pre pre, int proto, uint64_t *token, int *busy)
{
	*token = 0;
	*busy = -1;
	switch (pre) {
	case PRE_NONE:
		break;
	case PRE_BLOCK:
		*token = win_reserve(proto, PSTART, PCOUNT);
		break;
	case PRE_BLOCK_OTHER:
		*token = win_reserve(other_proto(proto), PSTART, PCOUNT);
		break;
	case PRE_DELETED:
		win_reserve(proto, PSTART, PCOUNT);
		cr_assert_eq(win(W_DELETE, proto, htons(PSTART), PCOUNT, NULL), NO_ERROR);
		break;
	case PRE_TCP_LISTEN:
	case PRE_TCP6_LISTEN:
	case PRE_TCP_BOUND: {
		enum kt_fam f = pre == PRE_TCP6_LISTEN ? KT_V6 : KT_V4;


		*busy = kt_socket(f, IPPROTO_TCP);
		cr_assert_eq(kt_bind(*busy, f, BUSY_PORT), 0);
		if (pre != PRE_TCP_BOUND)
			cr_assert_eq(listen(*busy, 1), 0);
		break;
	}
	case PRE_UDP_BOUND:
	case PRE_UDP6_BOUND: {
		enum kt_fam f = pre == PRE_UDP6_BOUND ? KT_V6 : KT_V4;

		*busy = kt_socket(f, IPPROTO_UDP);
		cr_assert_eq(kt_bind(*busy, f, BUSY_PORT), 0);
		break;
	}
	}
}

/* Does the pre leave a live reservation of proto (1) or of the other proto (2)? */
static int pre_live(enum pre pre)
{
	return pre == PRE_BLOCK ? 1 : pre == PRE_BLOCK_OTHER ? 2 : 0;
}

static bool pre_busy_proto(enum pre pre, int proto)
{
	switch (pre) {
	case PRE_TCP_LISTEN:
	case PRE_TCP6_LISTEN:
	case PRE_TCP_BOUND:
		return proto == PORTRSV_TCP;
	case PRE_UDP_BOUND:
	case PRE_UDP6_BOUND:
		return proto == PORTRSV_UDP;
	default:
		return false;
	}
}

struct win_base {
	char name[40];
	enum wop op;
	enum pre pre;
	uint16_t start; /* host order; the call gets htons(start) */
	uint16_t count;
	bool null_token;
	ULONG want_tcp;
	ULONG want_udp;
};

struct win_row {
	char name[40];
	int proto;
	enum wop op;
	enum pre pre;
	uint16_t start;
	uint16_t count;
	bool null_token;
	ULONG want;
};

#define BOTH(c) c, c
static const struct win_base win_base[] = {
	/* NO_ERROR */
	{ "create", W_CREATE, PRE_NONE, PSTART, PCOUNT, false, BOTH(NO_ERROR) },
	{ "create one port", W_CREATE, PRE_NONE, PSTART, 1, false, BOTH(NO_ERROR) },
	{ "create port 65535", W_CREATE, PRE_NONE, 65535, 1, false, BOTH(NO_ERROR) },
	{ "create ending at 65535", W_CREATE, PRE_NONE, 65000, 536, false, BOTH(NO_ERROR) },
	{ "create adjacent below", W_CREATE, PRE_BLOCK, PSTART - 10, 10, false, BOTH(NO_ERROR) },
	{ "create adjacent above", W_CREATE, PRE_BLOCK, PSTART + PCOUNT, 10, false, BOTH(NO_ERROR) },
	{ "create over other proto", W_CREATE, PRE_BLOCK_OTHER, PSTART, PCOUNT, false, BOTH(NO_ERROR) },
	{ "create over deleted block", W_CREATE, PRE_DELETED, PSTART, PCOUNT, false, BOTH(NO_ERROR) },
	{ "lookup", W_LOOKUP, PRE_BLOCK, PSTART, PCOUNT, false, BOTH(NO_ERROR) },
	{ "delete", W_DELETE, PRE_BLOCK, PSTART, PCOUNT, false, BOTH(NO_ERROR) },
	/* ERROR_INVALID_PARAMETER */
	{ "create start 0", W_CREATE, PRE_NONE, 0, PCOUNT, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "create count 0", W_CREATE, PRE_NONE, PSTART, 0, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "create 65535+2", W_CREATE, PRE_NONE, 65535, 2, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "create 65000+1000", W_CREATE, PRE_NONE, 65000, 1000, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "create 65000+537", W_CREATE, PRE_NONE, 65000, 537, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "create 2+65535", W_CREATE, PRE_NONE, 2, 65535, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "create token NULL", W_CREATE, PRE_NONE, PSTART, PCOUNT, true, BOTH(ERROR_INVALID_PARAMETER) },
	{ "lookup token NULL", W_LOOKUP, PRE_BLOCK, PSTART, PCOUNT, true, BOTH(ERROR_INVALID_PARAMETER) },
	{ "lookup start 0", W_LOOKUP, PRE_BLOCK, 0, PCOUNT, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "lookup count 0", W_LOOKUP, PRE_BLOCK, PSTART, 0, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "lookup 65535+2", W_LOOKUP, PRE_NONE, 65535, 2, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "delete start 0", W_DELETE, PRE_BLOCK, 0, PCOUNT, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "delete count 0", W_DELETE, PRE_BLOCK, PSTART, 0, false, BOTH(ERROR_INVALID_PARAMETER) },
	{ "delete 65000+1000", W_DELETE, PRE_NONE, 65000, 1000, false, BOTH(ERROR_INVALID_PARAMETER) },
	/* ERROR_SHARING_VIOLATION: overlaps */
	{ "create duplicate", W_CREATE, PRE_BLOCK, PSTART, PCOUNT, false, BOTH(ERROR_SHARING_VIOLATION) },
	{ "create overlap below", W_CREATE, PRE_BLOCK, PSTART - 5, 10, false, BOTH(ERROR_SHARING_VIOLATION) },
	{ "create overlap above", W_CREATE, PRE_BLOCK, PSTART + 5, 10, false, BOTH(ERROR_SHARING_VIOLATION) },
	{ "create sharing first port", W_CREATE, PRE_BLOCK, PSTART - 9, 10, false, BOTH(ERROR_SHARING_VIOLATION) },
	{ "create sharing last port", W_CREATE, PRE_BLOCK, PSTART + PCOUNT - 1, 10, false, BOTH(ERROR_SHARING_VIOLATION) },
	{ "create containing", W_CREATE, PRE_BLOCK, PSTART - 10, 30, false, BOTH(ERROR_SHARING_VIOLATION) },
	{ "create inside", W_CREATE, PRE_BLOCK, PSTART + 2, 3, false, BOTH(ERROR_SHARING_VIOLATION) },
	/* ERROR_SHARING_VIOLATION: ports in use (only in the socket's own port space) */
	{ "create over tcp listener", W_CREATE, PRE_TCP_LISTEN, PSTART, PCOUNT, false, ERROR_SHARING_VIOLATION, NO_ERROR },
	{ "create over tcp6 listener", W_CREATE, PRE_TCP6_LISTEN, PSTART, PCOUNT, false, ERROR_SHARING_VIOLATION, NO_ERROR },
	{ "create over bound tcp", W_CREATE, PRE_TCP_BOUND, PSTART, PCOUNT, false, ERROR_SHARING_VIOLATION, NO_ERROR },
	{ "create over bound udp", W_CREATE, PRE_UDP_BOUND, PSTART, PCOUNT, false, NO_ERROR, ERROR_SHARING_VIOLATION },
	{ "create over bound udp6", W_CREATE, PRE_UDP6_BOUND, PSTART, PCOUNT, false, NO_ERROR, ERROR_SHARING_VIOLATION },
	{ "create busy port last", W_CREATE, PRE_TCP_LISTEN, BUSY_PORT - 9, 10, false, ERROR_SHARING_VIOLATION, NO_ERROR },
	{ "create busy port first", W_CREATE, PRE_UDP_BOUND, BUSY_PORT, 10, false, NO_ERROR, ERROR_SHARING_VIOLATION },
	{ "create ending below busy", W_CREATE, PRE_TCP_LISTEN, BUSY_PORT - 10, 10, false, BOTH(NO_ERROR) },
	{ "create starting above busy", W_CREATE, PRE_UDP_BOUND, BUSY_PORT + 1, 10, false, BOTH(NO_ERROR) },
	/* ERROR_NOT_FOUND */
	{ "delete never created", W_DELETE, PRE_NONE, PSTART, PCOUNT, false, BOTH(ERROR_NOT_FOUND) },
	{ "lookup never created", W_LOOKUP, PRE_NONE, PSTART, PCOUNT, false, BOTH(ERROR_NOT_FOUND) },
	{ "delete other count", W_DELETE, PRE_BLOCK, PSTART, PCOUNT - 5, false, BOTH(ERROR_NOT_FOUND) },
	{ "lookup other count", W_LOOKUP, PRE_BLOCK, PSTART, PCOUNT + 1, false, BOTH(ERROR_NOT_FOUND) },
	{ "delete other start", W_DELETE, PRE_BLOCK, PSTART + 1, PCOUNT - 1, false, BOTH(ERROR_NOT_FOUND) },
	{ "lookup other start", W_LOOKUP, PRE_BLOCK, PSTART + 1, PCOUNT - 1, false, BOTH(ERROR_NOT_FOUND) },
	{ "delete after delete", W_DELETE, PRE_DELETED, PSTART, PCOUNT, false, BOTH(ERROR_NOT_FOUND) },
	{ "lookup after delete", W_LOOKUP, PRE_DELETED, PSTART, PCOUNT, false, BOTH(ERROR_NOT_FOUND) },
	{ "delete other proto", W_DELETE, PRE_BLOCK_OTHER, PSTART, PCOUNT, false, BOTH(ERROR_NOT_FOUND) },
	{ "lookup other proto", W_LOOKUP, PRE_BLOCK_OTHER, PSTART, PCOUNT, false, BOTH(ERROR_NOT_FOUND) },
};

ParameterizedTestParameters(winapi, codes)
{
	static struct win_row rows[2 * ARRAY_LEN(win_base)];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_LEN(win_base); i++)
		for (int t = 0; t < 2; t++) {
			const struct win_base *b = &win_base[i];
			struct win_row *r = &rows[n++];

			memset(r, 0, sizeof(*r));
			memcpy(r->name, b->name, sizeof(r->name));
			r->proto = t ? PORTRSV_UDP : PORTRSV_TCP;
			r->op = b->op;
			r->pre = b->pre;
			r->start = b->start;
			r->count = b->count;
			r->null_token = b->null_token;
			r->want = t ? b->want_udp : b->want_tcp;
		}
	return cr_make_param_array(struct win_row, rows, n);
}

/* One call of the SPEC table, then what the code promises about the state afterwards. */
ParameterizedTest(struct win_row *row, winapi, codes, .init = kt_setup, .fini = kt_teardown)
{
	int proto = row->proto, busy;
	uint64_t pre_tok, tok = SENTINEL, t2;
	bool valid_block = row->start >= 1 && row->count >= 1 &&
			   (uint32_t)row->start + row->count - 1 <= 65535;
	ULONG rc;

	setup_pre(row->pre, proto, &pre_tok, &busy);
	rc = win(row->op, proto, htons(row->start), row->count, row->null_token ? NULL : &tok);
	cr_assert_eq(rc, row->want, "%s%s %s %u+%u: got %u, want %u", wop_name(row->op),
		     pname(proto), row->name, row->start, row->count, rc, row->want);

	if (rc == NO_ERROR && row->op == W_CREATE) {
		cr_assert(tok != INVALID_PORT_RESERVATION_TOKEN && tok != SENTINEL,
			  "%s: token %#llx", row->name, (unsigned long long)tok);
		if (pre_live(row->pre))
			cr_assert_neq(tok, pre_tok, "%s: token reused", row->name);
		cr_assert_eq(win_lookup(proto, row->start, row->count, &t2), NO_ERROR);
		cr_assert_eq(t2, tok, "%s: Lookup gives another token than Create", row->name);
		cr_assert_eq(try_bind(proto, row->start), -EACCES, "%s: block not enforced",
			     row->name);
		cr_assert_eq(list_count(), 1 + (pre_live(row->pre) ? 1 : 0));
		cr_assert_eq(win(W_DELETE, proto, htons(row->start), row->count, NULL), NO_ERROR);
		cr_assert_eq(win_lookup(proto, row->start, row->count, &t2), ERROR_NOT_FOUND);
		cr_assert_eq(try_bind(proto, row->start), 0, "%s: port still refused after Delete",
			     row->name);
	} else if (rc == NO_ERROR && row->op == W_LOOKUP) {
		cr_assert_eq(tok, pre_tok, "%s: Lookup %#llx, Create gave %#llx", row->name,
			     (unsigned long long)tok, (unsigned long long)pre_tok);
		cr_assert_eq(try_bind(proto, PSTART), -EACCES);
	} else if (rc == NO_ERROR && row->op == W_DELETE) {
		cr_assert_eq(win_lookup(proto, PSTART, PCOUNT, &t2), ERROR_NOT_FOUND);
		cr_assert_eq(list_count(), 0);
		for (uint16_t p = PSTART; p < PSTART + PCOUNT; p++)
			cr_assert_eq(try_bind(proto, p), 0, "%s: port %u refused after Delete",
				     row->name, p);
	} else {
		/* A failed call changed nothing. */
		struct portrsv_reservation *v;
		int n = list_all(&v);

		cr_assert_eq(n, pre_live(row->pre) ? 1 : 0, "%s: %d reservations after failure",
			     row->name, n);
		if (n == 1)
			cr_assert_eq(v[0].token, pre_tok, "%s: the existing reservation changed",
				     row->name);
		free(v);
		if (row->pre == PRE_BLOCK) {
			cr_assert_eq(win_lookup(proto, PSTART, PCOUNT, &t2), NO_ERROR);
			cr_assert_eq(t2, pre_tok);
		}
		if (row->op == W_CREATE && valid_block) {
			bool dup = row->pre == PRE_BLOCK && row->start == PSTART &&
				   row->count == PCOUNT;

			cr_assert_eq(win_lookup(proto, row->start, row->count, &t2),
				     dup ? NO_ERROR : ERROR_NOT_FOUND,
				     "%s: failed Create left a reservation", row->name);
			/* Every port of the block outside the old one is still free to bind. */
			for (uint32_t p = row->start; p < (uint32_t)row->start + row->count; p++) {
				bool in_pre = row->pre == PRE_BLOCK && p >= PSTART &&
					      p < PSTART + PCOUNT;

				if (p == BUSY_PORT && pre_busy_proto(row->pre, proto))
					continue;
				cr_assert_eq(try_bind(proto, p), in_pre ? -EACCES : 0,
					     "%s: port %u after failed Create", row->name, p);
			}
		}
	}
	if (busy >= 0) {
		cr_assert_eq(kt_port(busy), BUSY_PORT, "the busy socket lost its port");
		close(busy);
	}
}

/* StartPort is in network byte order: htons(8000) reserves 8000, not its byte swap. */
KT_TEST(winapi, start_port_network_order)
{
	static const int protos[] = { PORTRSV_TCP, PORTRSV_UDP };
	const uint16_t port = 8000, swapped = (uint16_t)((port >> 8) | (port << 8)); /* 16415 */
	struct portrsv_reservation r;

	cr_assert_neq(htons(port), port, "a big-endian host cannot show the byte order");
	for (size_t i = 0; i < ARRAY_LEN(protos); i++) {
		int proto = protos[i];
		uint64_t tok = 0, t2;

		cr_assert_eq(win(W_CREATE, proto, htons(port), 1, &tok), NO_ERROR);
		cr_assert_eq(try_bind(proto, port), -EACCES, "%s: port 8000 not reserved",
			     pname(proto));
		cr_assert_eq(try_bind(proto, swapped), 0, "%s: byte-swapped port reserved",
			     pname(proto));
		cr_assert_eq(portrsv_query(kt.p, proto, port, NULL, &r), 0);
		cr_assert_eq(r.start, port);
		cr_assert_eq(r.token, tok);
		cr_assert_eq(portrsv_query(kt.p, proto, swapped, NULL, &r), -ENOENT);
		/* Lookup and Delete read StartPort the same way. */
		cr_assert_eq(win(W_LOOKUP, proto, htons(port), 1, &t2), NO_ERROR);
		cr_assert_eq(t2, tok);
		cr_assert_eq(win(W_LOOKUP, proto, port, 1, &t2), ERROR_NOT_FOUND);
		cr_assert_eq(win(W_DELETE, proto, port, 1, NULL), ERROR_NOT_FOUND);
		cr_assert_eq(win(W_DELETE, proto, htons(port), 1, NULL), NO_ERROR);
		cr_assert_eq(try_bind(proto, port), 0);
	}
}

/* ERROR_SERVICE_NOT_ACTIVE: nothing loaded at $PORTRSV_PIN_DIR. */
enum notloaded { NL_MISSING_DIR, NL_UNLOADED };

struct nl_row {
	char name[40];
	enum notloaded how;
	int proto;
	enum wop op;
	uint16_t start;
	uint16_t count;
	ULONG want;
};

ParameterizedTestParameters(winapi, not_active)
{
	static struct nl_row rows[2 * 2 * 3 + 4];
	static const enum wop ops[] = { W_CREATE, W_DELETE, W_LOOKUP };
	size_t n = 0;

	for (int h = NL_MISSING_DIR; h <= NL_UNLOADED; h++)
		for (int t = 0; t < 2; t++)
			for (size_t o = 0; o < 3; o++)
				rows[n++] = (struct nl_row){
					.name = "valid block", .how = h,
					.proto = t ? PORTRSV_UDP : PORTRSV_TCP, .op = ops[o],
					.start = 8000, .count = 5, .want = ERROR_SERVICE_NOT_ACTIVE,
				};
	/* Arguments are checked first, as on Windows. */
	rows[n++] = (struct nl_row){ "start 0", NL_MISSING_DIR, PORTRSV_TCP, W_CREATE, 0, 5,
				     ERROR_INVALID_PARAMETER };
	rows[n++] = (struct nl_row){ "count 0", NL_MISSING_DIR, PORTRSV_UDP, W_LOOKUP, 8000, 0,
				     ERROR_INVALID_PARAMETER };
	rows[n++] = (struct nl_row){ "passes 65535", NL_UNLOADED, PORTRSV_TCP, W_DELETE, 65535,
				     2, ERROR_INVALID_PARAMETER };
	rows[n++] = (struct nl_row){ "start 0", NL_UNLOADED, PORTRSV_UDP, W_CREATE, 0, 1,
				     ERROR_INVALID_PARAMETER };
	return cr_make_param_array(struct nl_row, rows, n);
}

ParameterizedTest(struct nl_row *row, winapi, not_active, .init = kt_setup,
		  .fini = kt_teardown)
{
	char missing[PATH_MAX + 32];
	uint64_t tok = SENTINEL, t2;
	ULONG rc;

	snprintf(missing, sizeof(missing), "%s/does-not-exist", kt.state_dir);
	if (row->how == NL_MISSING_DIR) {
		setenv("PORTRSV_PIN_DIR", missing, 1);
		rc = win(row->op, row->proto, htons(row->start), row->count, &tok);
		setenv("PORTRSV_PIN_DIR", kt.pin_dir, 1);
		cr_assert(access(missing, F_OK) != 0, "the call created the pin dir");
	} else {
		cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
		rc = win(row->op, row->proto, htons(row->start), row->count, &tok);
	}
	cr_assert_eq(rc, row->want, "%s%s %s (%s): got %u, want %u", wop_name(row->op),
		     pname(row->proto), row->name,
		     row->how == NL_MISSING_DIR ? "missing pin dir" : "after unload", rc, row->want);
	if (row->how == NL_MISSING_DIR) {
		/* The real instance was not touched, and works. */
		cr_assert_eq(list_count(), 0);
		cr_assert_eq(win(W_CREATE, row->proto, htons(8000), 5, &t2), NO_ERROR);
	}
}

/* Nothing ever loaded (kt_setup_opts(false)): every function says so. */
static void setup_unloaded(void)
{
	kt_setup_opts(false);
}

Test(winapi, never_loaded, .init = setup_unloaded, .fini = kt_teardown)
{
	static const enum wop ops[] = { W_CREATE, W_DELETE, W_LOOKUP };
	uint64_t tok;

	cr_assert(access(kt.pin_dir, F_OK) != 0);
	for (int t = 0; t < 2; t++)
		for (size_t o = 0; o < 3; o++) {
			int proto = t ? PORTRSV_UDP : PORTRSV_TCP;
			ULONG rc = win(ops[o], proto, htons(8000), 5, &tok);

			cr_assert_eq(rc, ERROR_SERVICE_NOT_ACTIVE, "%s%s: %u", wop_name(ops[o]),
				     pname(proto), rc);
		}
	errno = 0;
	cr_assert_null(portrsv_open(NULL));
	cr_assert_eq(errno, PORTRSV_ENOTLOADED, "portrsv_open errno %d", errno);
}

/* ERROR_ACCESS_DENIED: an unprivileged caller, and nothing changes. */
struct denied_row {
	char name[40];
	int proto;
	enum wop op;
	uint16_t start;
	uint16_t count;
	ULONG want;
};

ParameterizedTestParameters(winapi, access_denied)
{
	static struct denied_row rows[] = {
		{ "create new block", PORTRSV_TCP, W_CREATE, 8000, 10, ERROR_ACCESS_DENIED },
		{ "create new block", PORTRSV_UDP, W_CREATE, 8000, 10, ERROR_ACCESS_DENIED },
		{ "create duplicate", PORTRSV_TCP, W_CREATE, PSTART, PCOUNT, ERROR_ACCESS_DENIED },
		{ "delete existing", PORTRSV_TCP, W_DELETE, PSTART, PCOUNT, ERROR_ACCESS_DENIED },
		{ "delete existing", PORTRSV_UDP, W_DELETE, PSTART, PCOUNT, ERROR_ACCESS_DENIED },
		{ "lookup existing", PORTRSV_TCP, W_LOOKUP, PSTART, PCOUNT, ERROR_ACCESS_DENIED },
		{ "lookup existing", PORTRSV_UDP, W_LOOKUP, PSTART, PCOUNT, ERROR_ACCESS_DENIED },
	};

	return cr_make_param_array(struct denied_row, rows, ARRAY_LEN(rows));
}

static int denied_child(void *arg)
{
	const struct denied_row *row = arg;
	uint64_t tok = 0;

	return win_to_exit(win(row->op, row->proto, htons(row->start), row->count, &tok));
}

ParameterizedTest(struct denied_row *row, winapi, access_denied, .init = kt_setup,
		  .fini = kt_teardown)
{
	uint64_t tcp = win_reserve(PORTRSV_TCP, PSTART, PCOUNT);
	uint64_t udp = win_reserve(PORTRSV_UDP, PSTART, PCOUNT);
	uint64_t t;
	ULONG rc = exit_to_win(kt_unprivileged(denied_child, row));

	cr_assert_eq(rc, row->want, "%s%s %s as uid 65534: got %u, want %u", wop_name(row->op),
		     pname(row->proto), row->name, rc, row->want);
	/* Nothing changed: both reservations, their tokens, and nothing new. */
	cr_assert_eq(win_lookup(PORTRSV_TCP, PSTART, PCOUNT, &t), NO_ERROR);
	cr_assert_eq(t, tcp);
	cr_assert_eq(win_lookup(PORTRSV_UDP, PSTART, PCOUNT, &t), NO_ERROR);
	cr_assert_eq(t, udp);
	cr_assert_eq(win_lookup(row->proto, 8000, 10, &t), ERROR_NOT_FOUND);
	cr_assert_eq(list_count(), 2);
	cr_assert_eq(try_bind(row->proto, PSTART), -EACCES);
}

/* The native API refuses an unprivileged caller the same way: EPERM. */
static int open_child(void *arg)
{
	struct portrsv *p;

	errno = 0;
	p = portrsv_open(NULL);
	if (p) {
		portrsv_close(p);
		return 100;
	}
	return err_code(errno);
}

KT_TEST(native, open_unprivileged)
{
	kt_reserve(PORTRSV_TCP, PSTART, PCOUNT);
	cr_assert_eq(code_err(kt_unprivileged(open_child, NULL)), -EPERM);
}

/* =============================================================== native API */

struct ncreate_row {
	char name[40];
	int proto;
	uint16_t start;
	uint16_t count;
	enum pre pre; /* with the row's proto; PRE_BLOCK is tcp PSTART+PCOUNT */
	int want;
	/* in portrsv_errmsg(); -EADDRINUSE rows: the holder's state in "tcp 7005 is in use by
	 * COMM[PID] (STATE)", this process being the holder */
	char msg[80];
};

/* This process as portrsv_errmsg() names a holder: "COMM[PID]". */
static void self_holder(char *buf, size_t len)
{
	char comm[32] = "";
	FILE *f = fopen("/proc/self/comm", "re");

	cr_assert(f && fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(buf, len, "%s[%d]", comm, (int)getpid());
}

/* A failed call's detail: one line, naming the cause (want a substring), never a token. */
static void assert_errmsg(const char *what, const char *want, uint64_t token)
{
	const char *m = portrsv_errmsg();
	char hex[24];

	snprintf(hex, sizeof(hex), "%016" PRIx64, token);
	cr_assert(strstr(m, want), "%s: errmsg [%s], want [%s]", what, m, want);
	cr_assert(!strchr(m, '\n'), "%s: errmsg of two lines [%s]", what, m);
	cr_assert(!token || !strstr(m, hex), "%s: a token in errmsg [%s]", what, m);
}

ParameterizedTestParameters(native, create)
{
	static struct ncreate_row rows[] = {
		{ "tcp", PORTRSV_TCP, PSTART, PCOUNT, PRE_NONE, 0, "" },
		{ "udp", PORTRSV_UDP, PSTART, PCOUNT, PRE_NONE, 0, "" },
		{ "port 65535", PORTRSV_TCP, 65535, 1, PRE_NONE, 0, "" },
		{ "proto 0", 0, PSTART, PCOUNT, PRE_NONE, -EINVAL,
		  "protocol 0 is neither tcp (PORTRSV_TCP, 6) nor udp (PORTRSV_UDP, 17)" },
		{ "proto icmp", 1, PSTART, PCOUNT, PRE_NONE, -EINVAL, "protocol 1 is neither tcp" },
		{ "proto sctp", 132, PSTART, PCOUNT, PRE_NONE, -EINVAL, "protocol 132 is neither" },
		{ "proto mptcp", PORTRSV_IPPROTO_MPTCP, PSTART, PCOUNT, PRE_NONE, -EINVAL,
		  "protocol 262 is neither tcp" },
		{ "proto -1", -1, PSTART, PCOUNT, PRE_NONE, -EINVAL, "protocol -1 is neither tcp" },
		{ "start 0", PORTRSV_TCP, 0, PCOUNT, PRE_NONE, -EINVAL,
		  "port 0 is no port: ports are 1-65535" },
		{ "count 0", PORTRSV_UDP, PSTART, 0, PRE_NONE, -EINVAL,
		  "count 0: a block has at least one port" },
		{ "65535+2", PORTRSV_TCP, 65535, 2, PRE_NONE, -ERANGE,
		  "block 65535-65536 passes port 65535" },
		{ "65000+1000", PORTRSV_UDP, 65000, 1000, PRE_NONE, -ERANGE,
		  "block 65000-65999 passes port 65535" },
		{ "duplicate", PORTRSV_TCP, PSTART, PCOUNT, PRE_BLOCK, -EEXIST,
		  "tcp 7000-7009 overlaps the reservation tcp 7000-7009" },
		{ "overlap", PORTRSV_TCP, PSTART + 9, 5, PRE_BLOCK, -EEXIST,
		  "tcp 7009-7013 overlaps the reservation tcp 7000-7009" },
		{ "containing", PORTRSV_TCP, PSTART - 1, PCOUNT + 2, PRE_BLOCK, -EEXIST,
		  "tcp 6999-7010 overlaps the reservation tcp 7000-7009" },
		{ "one port overlaps", PORTRSV_TCP, PSTART + 9, 1, PRE_BLOCK, -EEXIST,
		  "tcp 7009 overlaps the reservation tcp 7000-7009" },
		{ "tcp listener", PORTRSV_TCP, PSTART, PCOUNT, PRE_TCP_LISTEN, -EADDRINUSE, "LISTEN" },
		{ "tcp6 listener", PORTRSV_TCP, PSTART, PCOUNT, PRE_TCP6_LISTEN, -EADDRINUSE,
		  "LISTEN" },
		{ "bound tcp", PORTRSV_TCP, PSTART, PCOUNT, PRE_TCP_BOUND, -EADDRINUSE, "UNCONN" },
		{ "bound udp", PORTRSV_UDP, PSTART, PCOUNT, PRE_UDP_BOUND, -EADDRINUSE, "UNCONN" },
		{ "bound udp6", PORTRSV_UDP, PSTART, PCOUNT, PRE_UDP6_BOUND, -EADDRINUSE, "UNCONN" },
	};

	return cr_make_param_array(struct ncreate_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct ncreate_row *row, native, create, .init = kt_setup,
		  .fini = kt_teardown)
{
	uint64_t pre_tok = 0, tok = SENTINEL, t2;
	struct portrsv_reservation r;
	int busy, err;

	setup_pre(row->pre, PORTRSV_TCP, &pre_tok, &busy);
	err = portrsv_create(kt.p, row->proto, row->start, row->count, NULL, &tok);
	cr_assert_eq(err, row->want, "%s: create %d (%s), want %d", row->name, err,
		     strerror(-err), row->want);
	if (err == -EADDRINUSE) {
		char self[64], want[160];

		self_holder(self, sizeof(self));
		snprintf(want, sizeof(want), "%s %d is in use by %s (%s)", pname(row->proto),
			 BUSY_PORT, self, row->msg);
		/* bind() sees a bound-only socket that sock_diag before 6.8 cannot name */
		if (row->pre == PRE_TCP_BOUND && !portrsv_feature_present(PORTRSV_FEAT_DIAG_BOUND))
			snprintf(want, sizeof(want), "is in use by a socket that is only bound, "
				 "which this kernel does not list (Linux 6.8)");
		assert_errmsg(row->name, want, pre_tok);
	} else if (err) {
		assert_errmsg(row->name, row->msg, pre_tok);
	} else {
		cr_assert_str_empty(portrsv_errmsg(), "%s: errmsg [%s] on success", row->name,
				    portrsv_errmsg());
	}
	if (!err) {
		cr_assert(tok != 0 && tok != SENTINEL);
		cr_assert_eq(portrsv_lookup(kt.p, row->proto, row->start, row->count, NULL, &t2), 0);
		cr_assert_eq(t2, tok);
		cr_assert_eq(try_bind(row->proto, row->start), -EACCES);
	} else {
		cr_assert_eq(tok, SENTINEL, "%s: token written by a failed create", row->name);
		cr_assert_eq(list_count(), row->pre == PRE_BLOCK ? 1 : 0,
			     "%s: failed create left something", row->name);
		if (row->proto == PORTRSV_TCP || row->proto == PORTRSV_UDP) {
			if (row->start >= 1 && row->start != BUSY_PORT &&
			    !(row->pre == PRE_BLOCK && row->start >= PSTART &&
			      row->start < PSTART + PCOUNT)) {
				cr_assert_eq(portrsv_query(kt.p, row->proto, row->start, NULL, &r),
					     -ENOENT, "%s", row->name);
				cr_assert_eq(try_bind(row->proto, row->start), 0, "%s", row->name);
			}
		}
	}
	if (busy >= 0)
		close(busy);
}

/*
 * The feature probe tells the truth: where it says sock_diag cannot list a bound-only TCP
 * socket, a create that dumps the socket tables really does not see one (the weakness
 * portrsv(8) documents for such kernels), and where it says it can, create refuses the
 * block. A small block, asked of bind(), is refused on every kernel.
 */
KT_TEST(native, diag_bound_probe)
{
	bool present = portrsv_feature_present(PORTRSV_FEAT_DIAG_BOUND);
	int busy = kt_socket(KT_V4, IPPROTO_TCP), err;
	uint64_t tok;

	cr_assert_eq(kt_bind(busy, KT_V4, BUSY_PORT), 0);
	/* bind() sees it on any kernel (probe.c): never in doubt for a small block */
	err = portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, &tok);
	cr_assert_eq(err, -EADDRINUSE, "create of %u ports over a bound-only tcp socket gave %d "
		     "(%s)", PCOUNT, err, strerror(-err));
	setenv("PORTRSV_FAULT", "probe-unsure", 1); /* as for a block of more than 16 ports */
	err = portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, &tok);
	cr_assert_eq(err, present ? -EADDRINUSE : 0, "probe says %s; create over a bound-only "
		     "tcp socket gave %d (%s)", present ? "present" : "missing", err,
		     strerror(-err));
	close(busy);
}

/* The other calls of portrsv.h: each refusal with its errno and the detail naming why. */
enum other_op { O_POOL_INFO, O_CREATOR_SZ, O_MONITOR_NO_FN, O_MONITOR_SZ, O_ATTACH_TMP,
		O_DETACH_MISSING, O_LOAD_FILE, O_OPEN_SZ, O_QUERY_PORT0, O_RELEASE_0,
		O_ASSOCIATE_0, O_ACQUIRE_NULL, O_CGROUP_PATH_NULL, O_DELETE_BAD_NS_NAME };

struct other_row {
	char name[32];
	enum other_op op;
	int want;
	char msg[80];
};

ParameterizedTestParameters(native, other_rejections)
{
	static struct other_row rows[] = {
		{ "pool_info of no pool", O_POOL_INFO, -EINVAL, "tcp 7000-7009 is not a pool" },
		{ "creator, sz too small", O_CREATOR_SZ, -EINVAL,
		  "out->sz 8 is smaller than struct portrsv_creator_info" },
		{ "monitor without fn", O_MONITOR_NO_FN, -EINVAL, "opts->fn is NULL" },
		{ "monitor, sz 0", O_MONITOR_SZ, -EINVAL, "struct portrsv_monitor_opts: sz 0" },
		{ "attach /tmp", O_ATTACH_TMP, -EINVAL,
		  "cgroup '/tmp' is not a cgroup v2 directory (cgroup2 is mounted at " },
		{ "detach a missing dir", O_DETACH_MISSING, -ENOENT,
		  "cgroup '/nonexistent/portrsv-cg': no such directory" },
		{ "load --cgroup a file", O_LOAD_FILE, -EINVAL,
		  "cgroup '/etc/passwd' is not a cgroup v2 directory" },
		{ "open, sz 4", O_OPEN_SZ, -EINVAL, "struct portrsv_open_opts: sz 4 is too small" },
		{ "query port 0", O_QUERY_PORT0, -EINVAL, "port 0 is no port" },
		{ "release token 0", O_RELEASE_0, -EINVAL, "token 0 is INVALID_PORT_RESERVATION_TOKEN" },
		{ "associate token 0", O_ASSOCIATE_0, -EINVAL, "token 0 is INVALID_PORT_RESERVATION" },
		{ "acquire, NULL out", O_ACQUIRE_NULL, -EINVAL, "out is NULL" },
		{ "cgroup_path, NULL buf", O_CGROUP_PATH_NULL, -EINVAL, "buf is NULL" },
		{ "delete net:[x]", O_DELETE_BAD_NS_NAME, -EINVAL,
		  "netns 'net:[x]' is neither a path nor net:[INO] or net:[INO]:COOKIE" },
	};

	return cr_make_param_array(struct other_row, rows, ARRAY_LEN(rows));
}

static int no_event(const struct portrsv_event *e, void *ctx)
{
	(void)e;
	(void)ctx;
	return -ECANCELED;
}

ParameterizedTest(struct other_row *row, native, other_rejections, .init = kt_setup,
		  .fini = kt_teardown)
{
	uint64_t tok = kt_reserve(PORTRSV_TCP, PSTART, PCOUNT);
	struct portrsv_reservation r;
	struct portrsv_creator_info ci = { .sz = 8 };
	struct portrsv_pool_info pi;
	struct portrsv *h;
	const char *bad_cg[] = { "/etc/passwd" };
	int fd = kt_socket(KT_V4, IPPROTO_TCP), err = 0;

	cr_assert_eq(portrsv_query(kt.p, PORTRSV_TCP, PSTART, NULL, &r), 0);
	switch (row->op) {
	case O_POOL_INFO:
		err = portrsv_pool_info(kt.p, &r, &pi);
		break;
	case O_CREATOR_SZ:
		err = portrsv_creator(kt.p, &r, &ci);
		break;
	case O_MONITOR_NO_FN: {
		PORTRSV_OPTS(portrsv_monitor_opts, mo, .fn = NULL);
		err = portrsv_monitor(&mo);
		break;
	}
	case O_MONITOR_SZ: {
		PORTRSV_OPTS(portrsv_monitor_opts, mo, .fn = no_event);
		mo.sz = 0;
		err = portrsv_monitor(&mo);
		break;
	}
	case O_ATTACH_TMP:
		err = portrsv_attach(NULL, "/tmp");
		break;
	case O_DETACH_MISSING:
		err = portrsv_detach(NULL, "/nonexistent/portrsv-cg");
		break;
	case O_LOAD_FILE: {
		PORTRSV_OPTS(portrsv_load_opts, lo, .cgroups = bad_cg, .n_cgroups = 1);
		err = portrsv_load(&lo);
		break;
	}
	case O_OPEN_SZ: {
		struct portrsv_open_opts oo = { .sz = 4 };

		h = portrsv_open(&oo);
		err = h ? 0 : -errno;
		portrsv_close(h);
		break;
	}
	case O_QUERY_PORT0:
		err = portrsv_query(kt.p, PORTRSV_TCP, 0, NULL, &r);
		break;
	case O_RELEASE_0:
		err = portrsv_release(fd, 0);
		break;
	case O_ASSOCIATE_0:
		err = portrsv_associate(fd, 0);
		break;
	case O_ACQUIRE_NULL:
		err = portrsv_acquire(fd, 0, 1, NULL);
		break;
	case O_CGROUP_PATH_NULL:
		err = portrsv_cgroup_path(1, NULL, 0);
		break;
	case O_DELETE_BAD_NS_NAME: {
		PORTRSV_OPTS(portrsv_ns_opts, no, .netns = "net:[x]");
		err = portrsv_delete(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &no);
		break;
	}
	}
	cr_assert_eq(err, row->want, "%s: %d (%s), want %d", row->name, err, strerror(-err),
		     row->want);
	assert_errmsg(row->name, row->msg, tok);
	close(fd);
	/* Nothing changed: the reservation is there and in force. */
	cr_assert_eq(list_count(), 1);
	cr_assert_eq(try_bind(PORTRSV_TCP, PSTART), -EACCES);
}

/*
 * An overlap the store does not know of (the kernel's reservation outlived its line: a
 * crash between the store and the maps, before restore removes it): create names that
 * block, its kind and its comment (escaped: a bidi override is no text to print raw), as
 * for a stored one; never its token.
 */
KT_TEST(native, create_over_a_kernel_only_reservation)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .comment = "web \xe2\x80\xae pool", .pool = true,
		     .limit = 2);
	struct portrsv_store st;
	char msg[256];
	uint64_t tok, t2 = SENTINEL;

	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok), 0);
	cr_assert_eq(portrsv_store_read(kt.state_dir, &st, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(st.n, 1);
	portrsv_store_remove(&st, 0);
	cr_assert_eq(portrsv_store_write(kt.state_dir, &st), 0);
	portrsv_store_free(&st);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART + 5, 10, NULL, &t2), -EEXIST);
	assert_errmsg("kernel-only overlap",
		      "tcp 7005-7014 overlaps the pool tcp 7000-7009 'web \\u202e pool'", tok);
	cr_assert_eq(t2, SENTINEL);
	cr_assert_eq(try_bind(PORTRSV_TCP, PSTART + 12), 0, "the refused create left its block in force");
}

KT_TEST(native, create_null_args)
{
	uint64_t tok;

	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, NULL), -EINVAL);
	assert_errmsg("create, NULL token", "token is NULL", 0);
	cr_assert_eq(portrsv_create(NULL, PORTRSV_TCP, PSTART, PCOUNT, NULL, &tok), -EINVAL);
	assert_errmsg("create, NULL handle", "the handle is NULL", 0);
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, NULL), -EINVAL);
	assert_errmsg("lookup, NULL token", "token is NULL", 0);
	cr_assert_eq(portrsv_list(kt.p, NULL), -EINVAL);
	assert_errmsg("list, NULL out", "out is NULL", 0);
	cr_assert_eq(list_count(), 0);
	cr_assert_eq(try_bind(PORTRSV_TCP, PSTART), 0);
}

struct nfind_row {
	char name[40];
	bool del;
	int proto;
	uint16_t start;
	uint16_t count;
	int want;
	char msg[64]; /* in portrsv_errmsg() for -EINVAL and -ERANGE */
};

ParameterizedTestParameters(native, delete_lookup)
{
	static struct nfind_row rows[] = {
		{ "lookup", false, PORTRSV_TCP, PSTART, PCOUNT, 0 },
		{ "delete", true, PORTRSV_TCP, PSTART, PCOUNT, 0 },
		{ "lookup proto 0", false, 0, PSTART, PCOUNT, -EINVAL, "protocol 0 is neither tcp" },
		{ "delete proto 0", true, 0, PSTART, PCOUNT, -EINVAL, "protocol 0 is neither tcp" },
		{ "delete proto icmp", true, 1, PSTART, PCOUNT, -EINVAL, "protocol 1 is neither" },
		{ "lookup start 0", false, PORTRSV_TCP, 0, PCOUNT, -EINVAL, "port 0 is no port" },
		{ "delete count 0", true, PORTRSV_TCP, PSTART, 0, -EINVAL, "count 0: a block" },
		{ "lookup 65535+2", false, PORTRSV_TCP, 65535, 2, -ERANGE,
		  "block 65535-65536 passes port 65535" },
		{ "delete 65000+1000", true, PORTRSV_TCP, 65000, 1000, -ERANGE,
		  "block 65000-65999 passes port 65535" },
		{ "lookup other count", false, PORTRSV_TCP, PSTART, PCOUNT - 1, -ENOENT },
		{ "delete other count", true, PORTRSV_TCP, PSTART, PCOUNT + 1, -ENOENT },
		{ "lookup other start", false, PORTRSV_TCP, PSTART + 1, PCOUNT, -ENOENT },
		{ "delete middle port", true, PORTRSV_TCP, PSTART + 5, 1, -ENOENT },
		{ "lookup never created", false, PORTRSV_TCP, 8000, 10, -ENOENT },
		{ "delete never created", true, PORTRSV_TCP, 8000, 10, -ENOENT },
		{ "lookup udp", false, PORTRSV_UDP, PSTART, PCOUNT, -ENOENT },
		{ "delete udp", true, PORTRSV_UDP, PSTART, PCOUNT, -ENOENT },
	};

	return cr_make_param_array(struct nfind_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct nfind_row *row, native, delete_lookup, .init = kt_setup,
		  .fini = kt_teardown)
{
	uint64_t tok = kt_reserve(PORTRSV_TCP, PSTART, PCOUNT), t = SENTINEL;
	int err;

	if (row->del)
		err = portrsv_delete(kt.p, row->proto, row->start, row->count, NULL);
	else
		err = portrsv_lookup(kt.p, row->proto, row->start, row->count, NULL, &t);
	cr_assert_eq(err, row->want, "%s: %d (%s), want %d", row->name, err, strerror(-err),
		     row->want);
	if (err == -EINVAL || err == -ERANGE)
		assert_errmsg(row->name, row->msg, tok);
	if (!err && !row->del)
		cr_assert_eq(t, tok);
	if (err && !row->del)
		cr_assert_eq(t, SENTINEL, "%s: token written by a failed lookup", row->name);
	if (!err && row->del) {
		cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, &t), -ENOENT);
		cr_assert_eq(list_count(), 0);
		cr_assert_eq(try_bind(PORTRSV_TCP, PSTART + 5), 0);
		/* Deleting again: gone. */
		cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL), -ENOENT);
	} else {
		cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, &t), 0);
		cr_assert_eq(t, tok);
		cr_assert_eq(try_bind(PORTRSV_TCP, PSTART + 5), -EACCES);
	}
}

/* Comments: stored and listed; too long or not one printable line: refused, nothing made. */
struct comment_row {
	char name[32];
	char comment[100];
	int want;
	char msg[48]; /* in portrsv_errmsg() when refused */
};

ParameterizedTestParameters(native, comment)
{
	static struct comment_row rows[] = {
		{ "empty", "", 0 },
		{ "words", "web server, do not touch", 0 },
		{ "utf-8", "r\xc3\xa9serv\xc3\xa9 pour nginx", 0 },
		{ "63 bytes", "", 0 },
		{ "64 bytes", "", -EINVAL, "comment is 64 bytes, at most 63" },
		{ "99 bytes", "", -EINVAL, "comment is 99 bytes, at most 63" },
		{ "newline", "two\nlines", -EINVAL, "comment has a control byte 0x0a at offset 3" },
		{ "trailing newline", "line\n", -EINVAL, "control byte 0x0a at offset 4" },
		{ "carriage return", "a\rb", -EINVAL, "control byte 0x0d at offset 1" },
		{ "tab", "a\tb", -EINVAL, "control byte 0x09 at offset 1" },
		{ "escape", "a\x1b[31mred", -EINVAL, "control byte 0x1b at offset 1" },
		{ "del", "a\x7f", -EINVAL, "control byte 0x7f at offset 1" },
	};

	memset(rows[3].comment, 'a', 63);
	memset(rows[4].comment, 'b', 64);
	memset(rows[5].comment, 'c', 99);
	return cr_make_param_array(struct comment_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct comment_row *row, native, comment, .init = kt_setup,
		  .fini = kt_teardown)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .comment = row->comment);
	struct portrsv_reservation *v, r;
	uint64_t tok = SENTINEL;
	int err, n;

	err = portrsv_create(kt.p, PORTRSV_UDP, PSTART, PCOUNT, &o, &tok);
	cr_assert_eq(err, row->want, "%s (%zu bytes): create %d, want %d", row->name,
		     strlen(row->comment), err, row->want);
	if (err)
		assert_errmsg(row->name, row->msg, 0);
	n = list_all(&v);
	if (!err) {
		cr_assert_eq(n, 1);
		cr_assert_str_eq(v[0].comment, row->comment, "%s: comment stored as '%s'",
				 row->name, v[0].comment);
		cr_assert_eq(v[0].token, tok);
		cr_assert_eq(portrsv_query(kt.p, PORTRSV_UDP, PSTART + 1, NULL, &r), 0);
		cr_assert_str_eq(r.comment, row->comment);
	} else {
		cr_assert_eq(n, 0, "%s: refused comment left a reservation", row->name);
		cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_UDP, PSTART, PCOUNT, NULL, &tok), -ENOENT);
		cr_assert_eq(try_bind(PORTRSV_UDP, PSTART), 0);
	}
	free(v);
}

KT_TEST(native, comment_null_is_empty)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .comment = NULL);
	struct portrsv_reservation *v;
	uint64_t tok;

	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok), 0);
	cr_assert_eq(list_all(&v), 1);
	cr_assert_str_eq(v[0].comment, "");
	free(v);
}

/* Options structs: .sz as in libbpf (too small refused, larger only with zeroes past). */
struct sz_row {
	char name[40];
	size_t sz;
	int nonzero_at; /* byte index past the struct made non-zero; -1 none */
	int want;
	bool comment_kept;
};

#define CSZ sizeof(struct portrsv_create_opts)

ParameterizedTestParameters(native, create_opts_sz)
{
	static struct sz_row rows[] = {
		{ "exact", CSZ, -1, 0, true },
		{ "larger, zero tail", CSZ + 16, -1, 0, true },
		{ "larger, first tail byte set", CSZ + 16, 0, -EINVAL, false },
		{ "larger, last tail byte set", CSZ + 16, 15, -EINVAL, false },
		{ "larger by one, byte set", CSZ + 1, 0, -EINVAL, false },
		{ "tail set beyond sz", CSZ + 4, 8, 0, true },
		{ "older struct without comment", offsetof(struct portrsv_create_opts, comment), -1,
		  0, false },
		{ "sz 0", 0, -1, -EINVAL, false },
		{ "sz 4", 4, -1, -EINVAL, false },
	};

	return cr_make_param_array(struct sz_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct sz_row *row, native, create_opts_sz, .init = kt_setup,
		  .fini = kt_teardown)
{
	struct {
		struct portrsv_create_opts o;
		unsigned char tail[16];
	} w;
	struct portrsv_reservation *v;
	uint64_t tok = SENTINEL;
	int err, n;

	memset(&w, 0, sizeof(w));
	cr_assert_eq(offsetof(__typeof__(w), tail), CSZ);
	w.o.sz = row->sz;
	w.o.comment = "sized";
	if (row->nonzero_at >= 0)
		w.tail[row->nonzero_at] = 0xff;
	err = portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &w.o, &tok);
	cr_assert_eq(err, row->want, "%s: sz %zu: %d, want %d", row->name, row->sz, err,
		     row->want);
	if (err) {
		char want[96];

		snprintf(want, sizeof(want), "struct portrsv_create_opts: sz %zu is too small, or "
			 "sets fields this library does not know", row->sz);
		assert_errmsg(row->name, want, 0);
	}
	n = list_all(&v);
	if (!err) {
		cr_assert_eq(n, 1);
		cr_assert_str_eq(v[0].comment, row->comment_kept ? "sized" : "", "%s", row->name);
		cr_assert_eq(try_bind(PORTRSV_TCP, PSTART), -EACCES);
	} else {
		cr_assert_eq(n, 0, "%s: refused opts left a reservation", row->name);
		cr_assert_eq(tok, SENTINEL);
		cr_assert_eq(try_bind(PORTRSV_TCP, PSTART), 0);
	}
	free(v);
}

/* The same rule for portrsv_ns_opts (lookup, delete, query) and portrsv_open_opts. */
KT_TEST(native, ns_opts_sz)
{
	struct {
		struct portrsv_ns_opts o;
		unsigned char tail[8];
	} w;
	struct {
		struct portrsv_open_opts o;
		unsigned char tail[8];
	} wo;
	struct portrsv_reservation r;
	struct portrsv *p;
	uint64_t tok = kt_reserve(PORTRSV_TCP, PSTART, PCOUNT), t;

	memset(&w, 0, sizeof(w));
	w.o.sz = sizeof(w);
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &w.o, &t), 0);
	cr_assert_eq(t, tok);
	cr_assert_eq(portrsv_query(kt.p, PORTRSV_TCP, PSTART, &w.o, &r), 0);
	w.tail[3] = 1;
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &w.o, &t), -EINVAL);
	cr_assert_eq(portrsv_query(kt.p, PORTRSV_TCP, PSTART, &w.o, &r), -EINVAL);
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &w.o), -EINVAL);
	w.tail[3] = 0;
	w.o.sz = 0;
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &w.o), -EINVAL);
	/* None of the refusals deleted anything. */
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, &t), 0);
	cr_assert_eq(t, tok);

	memset(&wo, 0, sizeof(wo));
	wo.o.sz = sizeof(wo);
	wo.o.pin_dir = kt.pin_dir;
	p = portrsv_open(&wo.o);
	cr_assert_not_null(p, "open with zero tail: %s", strerror(errno));
	portrsv_close(p);
	wo.tail[7] = 1;
	errno = 0;
	cr_assert_null(portrsv_open(&wo.o));
	cr_assert_eq(errno, EINVAL);
}

/* portrsv_list: everything, sorted, with every field right. */
KT_TEST(native, list)
{
	static const struct {
		int proto;
		uint16_t start, count;
	} made[] = {
		{ PORTRSV_UDP, 9000, 5 }, { PORTRSV_TCP, 8000, 1 }, { PORTRSV_TCP, 7000, 10 },
		{ PORTRSV_UDP, 7000, 3 }, { PORTRSV_TCP, 9999, 1 }, { PORTRSV_UDP, 8500, 100 },
	};
	/* Sorted: proto (tcp 6 before udp 17), then start. */
	static const int order[] = { 2, 1, 4, 3, 5, 0 };
	uint64_t toks[ARRAY_LEN(made)], ino = ino_of("/proc/self/ns/net"), cookie = own_cookie();
	struct portrsv_reservation *v;
	time_t before = time(NULL), after;
	int n;

	cr_assert_eq(list_all(&v), 0, "fresh instance not empty");
	free(v);
	for (size_t i = 0; i < ARRAY_LEN(made); i++)
		toks[i] = kt_reserve(made[i].proto, made[i].start, made[i].count);
	after = time(NULL);
	n = list_all(&v);
	cr_assert_eq(n, (int)ARRAY_LEN(made));
	for (int i = 0; i < n; i++) {
		int m = order[i];

		cr_assert_eq(v[i].proto, made[m].proto, "entry %d: proto %d", i, v[i].proto);
		cr_assert_eq(v[i].start, made[m].start, "entry %d: start %u", i, v[i].start);
		cr_assert_eq(v[i].count, made[m].count, "entry %d: count %u", i, v[i].count);
		cr_assert_eq(v[i].token, toks[m], "entry %d: token", i);
		cr_assert_eq(v[i].flags, PORTRSV_F_PERSISTENT, "entry %d: flags %#x", i, v[i].flags);
		cr_assert(v[i].created + 2 >= (uint64_t)before && v[i].created <= (uint64_t)after + 2,
			  "entry %d: created %llu, now %lld", i, (unsigned long long)v[i].created,
			  (long long)after);
		cr_assert_eq(v[i].netns_ino, ino, "entry %d: netns_ino %llu, want %llu", i,
			     (unsigned long long)v[i].netns_ino, (unsigned long long)ino);
		cr_assert_eq(v[i].netns_cookie, cookie, "entry %d: netns_cookie", i);
		cr_assert_eq(v[i].owner_cgid, 0);
		cr_assert_eq(v[i].denied, 0);
		cr_assert_str_eq(v[i].comment, "");
	}
	free(v);
	/* A deleted one leaves the list. */
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, 8000, 1, NULL), 0);
	n = list_all(&v);
	cr_assert_eq(n, (int)ARRAY_LEN(made) - 1);
	for (int i = 0; i < n; i++)
		cr_assert(!(v[i].proto == PORTRSV_TCP && v[i].start == 8000));
	free(v);
}

/* portrsv_query: the reservation covering a port, -ENOENT outside. */
struct query_row {
	char name[32];
	int proto;
	uint16_t port;
	int want;
	uint16_t want_start; /* tcp 7000+10, udp 7005+10 */
};

ParameterizedTestParameters(native, query)
{
	static struct query_row rows[] = {
		{ "tcp below", PORTRSV_TCP, 6999, -ENOENT, 0 },
		{ "tcp first", PORTRSV_TCP, 7000, 0, 7000 },
		{ "tcp middle", PORTRSV_TCP, 7005, 0, 7000 },
		{ "tcp last", PORTRSV_TCP, 7009, 0, 7000 },
		{ "tcp above", PORTRSV_TCP, 7010, -ENOENT, 0 },
		{ "udp below", PORTRSV_UDP, 7004, -ENOENT, 0 },
		{ "udp first", PORTRSV_UDP, 7005, 0, 7005 },
		{ "udp middle", PORTRSV_UDP, 7010, 0, 7005 },
		{ "udp last", PORTRSV_UDP, 7014, 0, 7005 },
		{ "udp above", PORTRSV_UDP, 7015, -ENOENT, 0 },
		{ "tcp far", PORTRSV_TCP, 9000, -ENOENT, 0 },
		{ "port 0", PORTRSV_TCP, 0, -EINVAL, 0 },
		{ "proto 0", 0, 7005, -EINVAL, 0 },
		{ "proto mptcp", PORTRSV_IPPROTO_MPTCP, 7005, -EINVAL, 0 },
	};

	return cr_make_param_array(struct query_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct query_row *row, native, query, .init = kt_setup, .fini = kt_teardown)
{
	uint64_t tcp = kt_reserve(PORTRSV_TCP, 7000, 10);
	uint64_t udp = kt_reserve(PORTRSV_UDP, 7005, 10);
	struct portrsv_reservation r;
	int err;

	memset(&r, 0, sizeof(r));
	err = portrsv_query(kt.p, row->proto, row->port, NULL, &r);
	cr_assert_eq(err, row->want, "%s: query %u: %d, want %d", row->name, row->port, err,
		     row->want);
	if (!err) {
		cr_assert_eq(r.proto, row->proto);
		cr_assert_eq(r.start, row->want_start);
		cr_assert_eq(r.count, 10);
		cr_assert_eq(r.token, row->proto == PORTRSV_TCP ? tcp : udp);
		cr_assert_eq(r.flags, PORTRSV_F_PERSISTENT);
		cr_assert_eq(r.netns_ino, ino_of("/proc/self/ns/net"));
	}
}

/* The denied counter counts refused binds, exactly, per reservation. */
KT_TEST(native, denied_counter)
{
	uint64_t tcp = kt_reserve(PORTRSV_TCP, 7000, 10);
	uint64_t udp = kt_reserve(PORTRSV_UDP, 7000, 10);
	struct portrsv_reservation r, *v;
	int fd, n;

	kt_reserve(PORTRSV_TCP, 8000, 5);
	/* 4 refused tcp binds. */
	cr_assert_eq(try_bind_fam(IPPROTO_TCP, KT_V4, 7000), -EACCES);
	cr_assert_eq(try_bind_fam(IPPROTO_TCP, KT_V6, 7005), -EACCES);
	cr_assert_eq(try_bind_fam(IPPROTO_TCP, KT_DUAL, 7009), -EACCES);
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(portrsv_associate(fd, udp), -ENOENT); /* wrong port space */
	cr_assert_eq(kt_bind(fd, KT_V4, 7003), -EACCES);
	close(fd);
	/* 2 refused udp binds. */
	cr_assert_eq(try_bind_fam(IPPROTO_UDP, KT_V4, 7001), -EACCES);
	cr_assert_eq(try_bind_fam(IPPROTO_UDP, KT_V4MAPPED, 7002), -EACCES);
	/* Allowed binds count nothing: with the token, and outside every block. */
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(portrsv_associate(fd, tcp), 0);
	cr_assert_eq(kt_bind(fd, KT_V4, 7004), 0);
	close(fd);
	cr_assert_eq(try_bind(IPPROTO_TCP, 7010), 0);
	cr_assert_eq(try_bind(IPPROTO_UDP, 6999), 0);

	cr_assert_eq(portrsv_query(kt.p, PORTRSV_TCP, 7000, NULL, &r), 0);
	cr_assert_eq(r.denied, 4, "tcp denied %llu, want 4", (unsigned long long)r.denied);
	cr_assert_eq(portrsv_query(kt.p, PORTRSV_UDP, 7000, NULL, &r), 0);
	cr_assert_eq(r.denied, 2, "udp denied %llu, want 2", (unsigned long long)r.denied);
	cr_assert_eq(portrsv_query(kt.p, PORTRSV_TCP, 8000, NULL, &r), 0);
	cr_assert_eq(r.denied, 0, "untouched block denied %llu", (unsigned long long)r.denied);
	n = list_all(&v);
	cr_assert_eq(n, 3);
	cr_assert_eq(v[0].denied, 4);
	cr_assert_eq(v[1].denied, 0);
	cr_assert_eq(v[2].denied, 2);
	free(v);
}

/* =============================================================== tokens */

#define NTOK 200

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

KT_TEST(tokens, distinct)
{
	static uint64_t toks[NTOK], sorted[NTOK];
	struct portrsv_reservation *v;
	uint64_t ors = 0, ands = ~0ULL;
	int n;

	for (int i = 0; i < NTOK; i++) {
		int err = portrsv_create(kt.p, i % 2 ? PORTRSV_UDP : PORTRSV_TCP, 7000 + i, 1,
					 NULL, &toks[i]);

		cr_assert_eq(err, 0, "create %d: %s", i, strerror(-err));
		cr_assert_neq(toks[i], PORTRSV_TOKEN_INVALID, "token %d is 0", i);
		ors |= toks[i];
		ands &= toks[i];
	}
	memcpy(sorted, toks, sizeof(toks));
	qsort(sorted, NTOK, sizeof(sorted[0]), cmp_u64);
	for (int i = 1; i < NTOK; i++)
		cr_assert_neq(sorted[i], sorted[i - 1], "token %#llx given twice",
			      (unsigned long long)sorted[i]);
	/* 64 random bits: every bit is 1 in some token and 0 in another. */
	cr_assert_eq(ors, ~0ULL, "bits never set: %#llx", (unsigned long long)~ors);
	cr_assert_eq(ands, 0, "bits always set: %#llx", (unsigned long long)ands);
	n = list_all(&v);
	cr_assert_eq(n, NTOK);
	for (int i = 0; i < n; i++) {
		int k = v[i].start - 7000;

		cr_assert(k >= 0 && k < NTOK);
		cr_assert_eq(v[i].token, toks[k], "list token of %u", v[i].start);
	}
	free(v);
}

/* Delete + create of the same block: a new token; the old one associates no more. */
KT_TEST(tokens, renewed_after_delete)
{
	uint64_t t1 = kt_reserve(PORTRSV_TCP, PSTART, PCOUNT), t2, t3;
	int early = kt_socket(KT_V4, IPPROTO_TCP), fd;

	cr_assert_eq(portrsv_associate(early, t1), 0);
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL), 0);
	t2 = kt_reserve(PORTRSV_TCP, PSTART, PCOUNT);
	cr_assert_neq(t2, t1, "same token after delete + create");
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, &t3), 0);
	cr_assert_eq(t3, t2);
	/* The old token is unknown now. */
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(portrsv_associate(fd, t1), -ENOENT);
	cr_assert_eq(kt_bind(fd, KT_V4, PSTART + 1), -EACCES);
	/* A socket associated with the old token before the delete holds no right either. */
	cr_assert_eq(kt_bind(early, KT_V4, PSTART + 2), -EACCES);
	/* The new one works. */
	cr_assert_eq(portrsv_associate(fd, t2), 0);
	cr_assert_eq(kt_bind(fd, KT_V4, PSTART + 1), 0);
	close(fd);
	close(early);
}

/* The same through the Windows API. */
KT_TEST(tokens, renewed_after_delete_winapi)
{
	for (int t = 0; t < 2; t++) {
		int proto = t ? PORTRSV_UDP : PORTRSV_TCP, fd;
		uint64_t t1 = win_reserve(proto, PSTART, PCOUNT), t2, t3;

		cr_assert_eq(win(W_DELETE, proto, htons(PSTART), PCOUNT, NULL), NO_ERROR);
		t2 = win_reserve(proto, PSTART, PCOUNT);
		cr_assert_neq(t2, t1);
		cr_assert_eq(win_lookup(proto, PSTART, PCOUNT, &t3), NO_ERROR);
		cr_assert_eq(t3, t2);
		fd = kt_socket(KT_V4, proto);
		cr_assert_eq(portrsv_associate(fd, t1), -ENOENT);
		cr_assert_eq(portrsv_associate(fd, t2), 0);
		cr_assert_eq(kt_bind(fd, KT_V4, PSTART), 0);
		close(fd);
	}
}

/* =============================================================== owner cgroup */

static void make_subdir(int slot, const char *rel)
{
	snprintf(subdirs[slot], sizeof(subdirs[slot]), "%s/%s", kt.cgroup, rel);
	cr_assert(mkdir(subdirs[slot], 0755) == 0, "mkdir %s: %s", subdirs[slot],
		  strerror(errno));
}

struct owner_row {
	char name[40];
	char where[16]; /* cgroup of the binding child, relative to kt.cgroup ("" = kt.cgroup) */
	int proto;
	bool token;
	int want;
};

ParameterizedTestParameters(owner, bind)
{
	static struct owner_row rows[] = {
		{ "in owner, tcp", "owner", PORTRSV_TCP, false, 0 },
		{ "in owner, udp", "owner", PORTRSV_UDP, false, 0 },
		{ "below owner", "owner/inner", PORTRSV_TCP, false, 0 },
		{ "sibling of owner", "other", PORTRSV_TCP, false, -EACCES },
		{ "parent of owner", "", PORTRSV_UDP, false, -EACCES },
		{ "sibling with token", "other", PORTRSV_TCP, true, 0 },
	};

	return cr_make_param_array(struct owner_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct owner_row *row, owner, bind, .init = kt_setup, .fini = api_teardown)
{
	struct bind_job job = { .proto = row->proto, .port = PSTART + 3 };
	struct portrsv_reservation r;
	char path[PATH_MAX];
	uint64_t tok, cgid;
	uint32_t level;
	int status, assoc, b;

	make_subdir(0, "owner");
	make_subdir(1, "other");
	make_subdir(2, "owner/inner");
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = subdirs[0]);
	cr_assert_eq(portrsv_create(kt.p, row->proto, PSTART, PCOUNT, &o, &tok), 0);
	/* The reservation names the owner. */
	cr_assert_eq(portrsv_cgroup_id(subdirs[0], &cgid, &level), 0);
	cr_assert_eq(portrsv_query(kt.p, row->proto, PSTART, NULL, &r), 0);
	cr_assert_eq(r.owner_cgid, cgid);
	cr_assert_eq(portrsv_cgroup_path(r.owner_cgid, path, sizeof(path)), 0);
	cr_assert_str_eq(path, subdirs[0]);

	snprintf(job.cgroup, sizeof(job.cgroup), "%s%s%s", kt.cgroup, row->where[0] ? "/" : "",
		 row->where);
	job.token = row->token ? tok : 0;
	status = run_child(job_bind, &job);
	job_result(status, &assoc, &b);
	cr_assert_eq(assoc, 0, "%s: associate %d", row->name, assoc);
	cr_assert_eq(b, row->want, "%s: bind in %s: %d, want %d", row->name, job.cgroup, b,
		     row->want);
	/* The test process itself is in kt.cgroup, above the owner: refused. */
	cr_assert_eq(try_bind(row->proto, PSTART + 4), -EACCES);
	/* The child has exited: the sub-cgroups are empty and go. */
	for (int i = 2; i >= 0; i--) {
		cr_assert(rmdir(subdirs[i]) == 0, "rmdir %s: %s", subdirs[i], strerror(errno));
		subdirs[i][0] = '\0';
	}
}

struct owner_err_row {
	char name[32];
	char dir[64]; /* "@" + name: relative to kt.cgroup */
	int want;
	char msg[64]; /* in portrsv_errmsg(), after "owner '" + dir + "'" */
};

ParameterizedTestParameters(owner, errors)
{
	static struct owner_err_row rows[] = {
		{ "missing dir", "/nonexistent/portrsv-owner", -ENOENT, ": no such directory" },
		{ "missing cgroup", "@no-such-cgroup", -ENOENT, ": no such directory" },
		{ "tmp", "/tmp", -EINVAL, " is not a cgroup v2 directory (cgroup2 is mounted at /" },
		{ "proc", "/proc", -EINVAL, " is not a cgroup v2 directory" },
		{ "a cgroup file", "@cgroup.procs", -EINVAL, " is not a cgroup v2 directory" },
		{ "the test cgroup", "@", 0, "" },
	};

	return cr_make_param_array(struct owner_err_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct owner_err_row *row, owner, errors, .init = kt_setup,
		  .fini = kt_teardown)
{
	char dir[PATH_MAX + 64];
	uint64_t tok = SENTINEL;
	int err;

	if (row->dir[0] == '@')
		snprintf(dir, sizeof(dir), "%s/%s", kt.cgroup, row->dir + 1);
	else
		snprintf(dir, sizeof(dir), "%s", row->dir);
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = dir);
	err = portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok);
	cr_assert_eq(err, row->want, "%s (%s): %d (%s), want %d", row->name, dir, err,
		     strerror(-err), row->want);
	if (err) {
		char want[PATH_MAX + 128];

		snprintf(want, sizeof(want), "owner '%s'%s", dir, row->msg);
		assert_errmsg(row->name, want, 0);
	}
	cr_assert_eq(list_count(), err ? 0 : 1);
	/* With the test cgroup as owner the test process binds freely; otherwise no block. */
	cr_assert_eq(try_bind(PORTRSV_TCP, PSTART), 0);
}

/* =============================================================== unprivileged association */

struct unpriv_row {
	char name[40];
	int proto;
	int tok;       /* 0 none, 1 right, 2 unknown, 3 other port space's */
	uint16_t port;
	int want_assoc;
	int want_bind;
};

ParameterizedTestParameters(unpriv, associate)
{
	static struct unpriv_row rows[] = {
		{ "tcp, token", PORTRSV_TCP, 1, PSTART + 3, 0, 0 },
		{ "udp, token", PORTRSV_UDP, 1, PSTART + 3, 0, 0 },
		{ "tcp, token, last port", PORTRSV_TCP, 1, PSTART + PCOUNT - 1, 0, 0 },
		{ "tcp, no token", PORTRSV_TCP, 0, PSTART + 3, 0, -EACCES },
		{ "udp, no token", PORTRSV_UDP, 0, PSTART, 0, -EACCES },
		{ "tcp, unknown token", PORTRSV_TCP, 2, PSTART + 3, -ENOENT, -EACCES },
		{ "udp, tcp's token", PORTRSV_UDP, 3, PSTART + 3, -ENOENT, -EACCES },
		{ "tcp, no token, outside", PORTRSV_TCP, 0, PSTART + PCOUNT, 0, 0 },
	};

	return cr_make_param_array(struct unpriv_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct unpriv_row *row, unpriv, associate, .init = kt_setup,
		  .fini = kt_teardown)
{
	uint64_t tcp = kt_reserve(PORTRSV_TCP, PSTART, PCOUNT);
	uint64_t udp = kt_reserve(PORTRSV_UDP, PSTART, PCOUNT);
	uint64_t mine = row->proto == PORTRSV_TCP ? tcp : udp;
	uint64_t other = row->proto == PORTRSV_TCP ? udp : tcp;
	struct bind_job job = { .proto = row->proto, .port = row->port };
	int assoc, b;

	job.token = row->tok == 0 ? 0 : row->tok == 1 ? mine : row->tok == 2 ? ~(tcp ^ udp) : other;
	job_result(kt_unprivileged(job_bind, &job), &assoc, &b);
	cr_assert_eq(assoc, row->want_assoc, "%s: associate as uid 65534: %d, want %d", row->name,
		     assoc, row->want_assoc);
	cr_assert_eq(b, row->want_bind, "%s: bind as uid 65534: %d, want %d", row->name, b,
		     row->want_bind);
}

/* =============================================================== other netns */

/* A child parked in a netns of its own; its /proc/PID/ns/net names that netns. */
static pid_t spawn_netns_holder(void)
{
	int pfd[2];
	char c;
	pid_t pid;

	cr_assert(pipe(pfd) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(2);
		close(pfd[1]);
		for (;;)
			pause();
	}
	close(pfd[1]);
	cr_assert(read(pfd[0], &c, 1) == 1, "netns holder failed");
	close(pfd[0]);
	return pid;
}

/* A socket of proto bound to 0.0.0.0:port (and listening, for TCP); the fd. */
static int open_bound_any(int proto, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = kt_socket(KT_V4, proto);

	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind %u: %s", port,
		  strerror(errno));
	if (proto == PORTRSV_TCP)
		cr_assert(listen(fd, 1) == 0);
	return fd;
}

/* Run fn in the netns at path, on this thread, and come back. */
static int in_netns(const char *path, int (*fn)(int, uint16_t), int proto, uint16_t port)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int other = open(path, O_RDONLY | O_CLOEXEC), r;

	cr_assert(self >= 0 && other >= 0);
	cr_assert(setns(other, CLONE_NEWNET) == 0, "setns %s: %s", path, strerror(errno));
	r = fn(proto, port);
	cr_assert(setns(self, CLONE_NEWNET) == 0);
	close(self);
	close(other);
	return r;
}

API_TEST(netns, other_netns)
{
	char path[64];
	uint64_t tok, mytok, t, ino, myino = ino_of("/proc/self/ns/net");
	struct portrsv_reservation *v, r;
	int n, busy_there, busy_here;

	ns_child = spawn_netns_holder();
	snprintf(path, sizeof(path), "/proc/%d/ns/net", ns_child);
	ino = ino_of(path);
	cr_assert_neq(ino, myino);
	PORTRSV_OPTS(portrsv_create_opts, o, .netns = path, .comment = "elsewhere");
	PORTRSV_OPTS(portrsv_ns_opts, ns, .netns = path);

	/* "In use" means in use in that netns: a socket there blocks, one here does not. */
	busy_there = in_netns(path, open_bound_any, PORTRSV_TCP, BUSY_PORT);
	busy_here = open_bound_any(PORTRSV_TCP, BUSY_PORT + 1);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok), -EADDRINUSE,
		     "a listener in the target netns did not block the create");
	cr_assert_eq(list_count(), 0);
	close(busy_there);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &o, &tok), 0,
		     "a listener in the caller's netns blocked a create in another netns");
	close(busy_here);
	/* In the list with that netns's inode. */
	n = list_all(&v);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].netns_ino, ino, "netns_ino %llu, want %llu",
		     (unsigned long long)v[0].netns_ino, (unsigned long long)ino);
	cr_assert_eq(v[0].token, tok);
	cr_assert_neq(v[0].netns_cookie, own_cookie());
	free(v);
	/* Found with .netns, not without. */
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &ns, &t), 0);
	cr_assert_eq(t, tok);
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, &t), -ENOENT);
	cr_assert_eq(portrsv_query(kt.p, PORTRSV_TCP, PSTART + 1, &ns, &r), 0);
	cr_assert_eq(r.token, tok);
	cr_assert_eq(portrsv_query(kt.p, PORTRSV_TCP, PSTART + 1, NULL, &r), -ENOENT);
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL), -ENOENT);
	/* Here the port is free; there it is enforced. */
	cr_assert_eq(try_bind(PORTRSV_TCP, PSTART + 1), 0);
	cr_assert_eq(in_netns(path, try_bind_any, PORTRSV_TCP, PSTART + 1), -EACCES);
	cr_assert_eq(in_netns(path, try_bind_any, PORTRSV_TCP, PSTART + PCOUNT), 0);
	/* The same block in our netns is a separate reservation; the list sorts by netns. */
	mytok = kt_reserve(PORTRSV_TCP, PSTART, PCOUNT);
	cr_assert_neq(mytok, tok);
	n = list_all(&v);
	cr_assert_eq(n, 2);
	cr_assert(v[0].netns_cookie < v[1].netns_cookie, "list not sorted by netns");
	cr_assert(v[0].netns_ino != v[1].netns_ino);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(v[i].token, v[i].netns_ino == ino ? tok : mytok);
		cr_assert_str_eq(v[i].comment, v[i].netns_ino == ino ? "elsewhere" : "");
	}
	free(v);
	cr_assert_eq(portrsv_delete(kt.p, PORTRSV_TCP, PSTART, PCOUNT, &ns), 0);
	cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_TCP, PSTART, PCOUNT, NULL, &t), 0);
	cr_assert_eq(t, mytok);
	cr_assert_eq(in_netns(path, try_bind_any, PORTRSV_TCP, PSTART + 1), 0);
	cr_assert_eq(list_count(), 1);
	/* The caller's thread is back in its own netns. */
	cr_assert_eq(ino_of("/proc/thread-self/ns/net"), myino);
	kill(ns_child, SIGKILL);
	cr_assert(waitpid(ns_child, NULL, 0) == ns_child);
	ns_child = -1;
}

struct ns_err_row {
	char name[32];
	char path[48];
	int want;
};

ParameterizedTestParameters(netns, bad_paths)
{
	static struct ns_err_row rows[] = {
		{ "missing", "/run/netns/portrsv-test-no-such-netns", -ENOENT },
		{ "a directory", "/tmp", -EINVAL },
		{ "a regular file", "/proc/self/status", -EINVAL },
		{ "/etc/passwd", "/etc/passwd", -EINVAL },
		{ "a device", "/dev/null", -EINVAL },
		{ "a pid namespace", "/proc/self/ns/pid", -EINVAL },
		{ "own netns", "/proc/self/ns/net", 0 },
	};

	return cr_make_param_array(struct ns_err_row, rows, ARRAY_LEN(rows));
}

ParameterizedTest(struct ns_err_row *row, netns, bad_paths, .init = kt_setup,
		  .fini = kt_teardown)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .netns = row->path);
	PORTRSV_OPTS(portrsv_ns_opts, ns, .netns = row->path);
	uint64_t tok = SENTINEL, t;
	struct portrsv_reservation r;
	char want[160];
	int err;

	if (row->want == -EINVAL)
		snprintf(want, sizeof(want), "'%s' is not a network namespace (give "
			 "/run/netns/NAME, NAME of 'ip netns', or /proc/PID/ns/net)", row->path);
	else
		snprintf(want, sizeof(want), "network namespace '%s': no such file", row->path);
	err = portrsv_create(kt.p, PORTRSV_UDP, PSTART, PCOUNT, &o, &tok);
	cr_assert_eq(err, row->want, "%s: create %d (%s), want %d", row->name, err,
		     strerror(-err), row->want);
	if (err)
		assert_errmsg(row->name, want, 0);
	cr_assert_eq(list_count(), err ? 0 : 1);
	if (err) {
		cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_UDP, PSTART, PCOUNT, &ns, &t), row->want);
		assert_errmsg(row->name, want, 0);
		cr_assert_eq(portrsv_query(kt.p, PORTRSV_UDP, PSTART, &ns, &r), row->want);
		assert_errmsg(row->name, want, 0);
		cr_assert_eq(portrsv_delete(kt.p, PORTRSV_UDP, PSTART, PCOUNT, &ns), row->want);
		cr_assert_eq(try_bind(PORTRSV_UDP, PSTART), 0);
	} else {
		/* Our own netns named by path: the same as no .netns. */
		cr_assert_eq(portrsv_lookup(kt.p, PORTRSV_UDP, PSTART, PCOUNT, NULL, &t), 0);
		cr_assert_eq(t, tok);
		cr_assert_eq(try_bind(PORTRSV_UDP, PSTART), -EACCES);
	}
	cr_assert_eq(ino_of("/proc/thread-self/ns/net"), ino_of("/proc/self/ns/net"));
}

/*
 * The owner cgroup is matched against the socket's cgroup (where it was created), not the
 * binding task's: a socket made in the owner and bound from elsewhere is the owner's, and
 * one made elsewhere stays refused when its task moves into the owner.
 */
KT_TEST(owner, socket_cgroup_not_task)
{
	char own[PATH_MAX + 8], other[PATH_MAX + 8];
	uint64_t token;
	int in_owner, outside;

	snprintf(own, sizeof(own), "%s/owner", kt.cgroup);
	snprintf(other, sizeof(other), "%s/other", kt.cgroup);
	cr_assert_eq(mkdir(own, 0755), 0);
	cr_assert_eq(mkdir(other, 0755), 0);
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = own);
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, 7000, 10, &o, &token), 0);

	kt_join_cgroup(own);
	in_owner = kt_socket(KT_V4, IPPROTO_TCP);
	kt_join_cgroup(other);
	outside = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(kt_bind(in_owner, KT_V4, 7001), 0,
		     "a socket made in the owner cgroup, bound from outside it, was refused");
	kt_join_cgroup(own);
	cr_assert_eq(kt_bind(outside, KT_V4, 7002), -EACCES,
		     "a socket made outside the owner cgroup got in by its task moving there");
	close(in_owner);
	close(outside);
	kt_join_cgroup(kt.cgroup);
	cr_assert_eq(rmdir(own), 0);
	cr_assert_eq(rmdir(other), 0);
}
