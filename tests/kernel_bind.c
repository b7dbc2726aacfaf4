// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kernel enforcement of bind(): the matrix of families, port spaces and tokens, ports
 * outside reservations, and bind(0) allocation from a block. */
#include "testlib.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */

struct kt_env kt;

#define START 7000
#define COUNT 10

enum tok { TOK_NONE, TOK_WRONG, TOK_RIGHT };

struct bind_row {
	enum kt_fam fam;
	int proto;      /* IPPROTO_TCP, IPPROTO_MPTCP, IPPROTO_UDP */
	enum tok tok;
	int assoc_err;  /* expected portrsv_associate result */
	int bind_err;   /* expected bind result */
};

static const char *tok_name(enum tok t)
{
	return t == TOK_NONE ? "no token" : t == TOK_WRONG ? "wrong token" : "right token";
}

/*
 * Every family x port space x token. The reservation is TCP+UDP 7000+10 with one token
 * each; "wrong" is the other protocol's token, which association refuses (ENOENT), so the
 * bind is then as without a token.
 */
ParameterizedTestParameters(binds, matrix)
{
	static struct bind_row rows[4 * 3 * 3];
	static const int protos[] = { IPPROTO_TCP, IPPROTO_MPTCP, IPPROTO_UDP };
	size_t n = 0;

	for (int f = KT_V4; f <= KT_DUAL; f++)
		for (size_t p = 0; p < 3; p++)
			for (int t = TOK_NONE; t <= TOK_RIGHT; t++)
				rows[n++] = (struct bind_row){
					.fam = f, .proto = protos[p], .tok = t,
					.assoc_err = t == TOK_WRONG ? -ENOENT : 0,
					.bind_err = t == TOK_RIGHT ? 0 : -EACCES,
				};
	return cr_make_param_array(struct bind_row, rows, n);
}

ParameterizedTest(struct bind_row *row, binds, matrix, .init = kt_setup, .fini = kt_teardown)
{
	uint64_t tcp = kt_reserve(PORTRSV_TCP, START, COUNT);
	uint64_t udp = kt_reserve(PORTRSV_UDP, START, COUNT);
	uint64_t mine = row->proto == IPPROTO_UDP ? udp : tcp;
	uint64_t other = row->proto == IPPROTO_UDP ? tcp : udp;
	int fd = kt_socket(row->fam, row->proto);
	int err;

	if (row->tok != TOK_NONE) {
		err = portrsv_associate(fd, row->tok == TOK_RIGHT ? mine : other);
		cr_assert_eq(err, row->assoc_err, "%s proto %d %s: associate %d, want %d",
			     kt_fam_name(row->fam), row->proto, tok_name(row->tok), err,
			     row->assoc_err);
	}
	err = kt_bind(fd, row->fam, START + 3);
	cr_assert_eq(err, row->bind_err, "%s proto %d %s: bind %d (%s), want %d",
		     kt_fam_name(row->fam), row->proto, tok_name(row->tok), err, strerror(-err),
		     row->bind_err);
	if (err) {
		/* Refused: the socket stays unbound and usable. */
		cr_assert_eq(kt_bind(fd, row->fam, START + COUNT), 0, "socket unusable after EACCES");
		cr_assert_eq(kt_port(fd), START + COUNT);
	} else {
		cr_assert_eq(kt_port(fd), START + 3);
	}
	close(fd);
}

struct outside_row {
	const char name[24];
	enum portrsv_proto resv;  /* protocol of the reservation */
	int proto;                /* socket */
	uint16_t port;
	int want;
};

ParameterizedTestParameters(binds, outside)
{
	static struct outside_row rows[] = {
		{ "tcp below block", PORTRSV_TCP, IPPROTO_TCP, START - 1, 0 },
		{ "tcp above block", PORTRSV_TCP, IPPROTO_TCP, START + COUNT, 0 },
		{ "tcp first port", PORTRSV_TCP, IPPROTO_TCP, START, -EACCES },
		{ "tcp last port", PORTRSV_TCP, IPPROTO_TCP, START + COUNT - 1, -EACCES },
		{ "udp under tcp resv", PORTRSV_TCP, IPPROTO_UDP, START + 1, 0 },
		{ "tcp under udp resv", PORTRSV_UDP, IPPROTO_TCP, START + 1, 0 },
		{ "mptcp under udp resv", PORTRSV_UDP, IPPROTO_MPTCP, START + 1, 0 },
		{ "udp first port", PORTRSV_UDP, IPPROTO_UDP, START, -EACCES },
	};

	return cr_make_param_array(struct outside_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct outside_row *row, binds, outside, .init = kt_setup,
		  .fini = kt_teardown)
{
	int fd, err;

	kt_reserve(row->resv, START, COUNT);
	fd = kt_socket(KT_V4, row->proto);
	err = kt_bind(fd, KT_V4, row->port);
	cr_assert_eq(err, row->want, "%s: bind %u gave %d, want %d", row->name, row->port, err,
		     row->want);
	close(fd);
}

/* Sockets that are not associated get their ports from the kernel as before. */
KT_TEST(binds, port_zero_without_token)
{
	int fd;

	kt_reserve(PORTRSV_TCP, START, COUNT);
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(kt_bind(fd, KT_V4, 0), 0);
	cr_assert(kt_port(fd) < START || kt_port(fd) >= START + COUNT);
	close(fd);
}

/* bind(0) hands out every port of the block once, next-fit, then EADDRINUSE; a released
 * port comes back, and the rotation continues after the last port handed out. */
static void allocation(int proto, enum kt_fam fam)
{
	enum portrsv_proto space = proto == IPPROTO_UDP ? PORTRSV_UDP : PORTRSV_TCP;
	uint64_t token = kt_reserve(space, START, COUNT);
	int fds[COUNT], fd;
	bool seen[COUNT] = { 0 };

	for (int i = 0; i < COUNT; i++) {
		fds[i] = kt_socket(fam, proto);
		cr_assert_eq(portrsv_associate(fds[i], token), 0);
		cr_assert_eq(kt_bind(fds[i], fam, 0), 0, "allocation %d failed", i);
		uint16_t port = kt_port(fds[i]);

		cr_assert(port >= START && port < START + COUNT, "port %u outside the block", port);
		cr_assert_eq(port, START + i, "next-fit: allocation %d got %u", i, port);
		cr_assert(!seen[port - START], "port %u handed out twice", port);
		seen[port - START] = true;
	}
	fd = kt_socket(fam, proto);
	cr_assert_eq(portrsv_associate(fd, token), 0);
	cr_assert_eq(kt_bind(fd, fam, 0), -EADDRINUSE, "exhausted block must give EADDRINUSE");

	/* Free START + 4: the same socket, still unbound, now gets exactly it. */
	close(fds[4]);
	cr_assert_eq(kt_bind(fd, fam, 0), 0, "released port not returned to the pool");
	cr_assert_eq(kt_port(fd), START + 4);
	fds[4] = fd;

	/* Free two ports; rotation goes on after START + 4, so START + 7 comes before START + 2. */
	close(fds[2]);
	close(fds[7]);
	fd = kt_socket(fam, proto);
	cr_assert_eq(portrsv_associate(fd, token), 0);
	cr_assert_eq(kt_bind(fd, fam, 0), 0);
	cr_assert_eq(kt_port(fd), START + 7, "next-fit from the cursor, got %u", kt_port(fd));
	fds[7] = fd;
	fds[2] = -1;
	for (int i = 0; i < COUNT; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

KT_TEST(binds, allocation_tcp4) { allocation(IPPROTO_TCP, KT_V4); }
KT_TEST(binds, allocation_tcp6) { allocation(IPPROTO_TCP, KT_V6); }
KT_TEST(binds, allocation_udp4) { allocation(IPPROTO_UDP, KT_V4); }
KT_TEST(binds, allocation_udp_dual) { allocation(IPPROTO_UDP, KT_DUAL); }
KT_TEST(binds, allocation_mptcp4) { allocation(IPPROTO_MPTCP, KT_V4); }

/* A token is only good in the netns of its reservation: another netns does not know it. */
KT_TEST(binds, token_of_other_netns)
{
	uint64_t token = kt_reserve(PORTRSV_TCP, START, COUNT);
	int fd;

	kt_private_netns();
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(portrsv_associate(fd, token), -ENOENT);
	/* And the reservation does not reach into this netns at all. */
	cr_assert_eq(kt_bind(fd, KT_V4, START + 1), 0);
	close(fd);
}

struct assoc_row {
	const char name[24];
	int level_ok;      /* 1: SOL_PORTRSV */
	int optname;
	int optlen;
	int token_kind;    /* 0: the token, 1: zero, 2: unknown */
	int want;
};

ParameterizedTestParameters(binds, associate_errors)
{
	static struct assoc_row rows[] = {
		{ "right token", 1, PORTRSV_SO_ASSOCIATE, 8, 0, 0 },
		{ "token zero", 1, PORTRSV_SO_ASSOCIATE, 8, 1, -EINVAL },
		{ "unknown token", 1, PORTRSV_SO_ASSOCIATE, 8, 2, -ENOENT },
		{ "short optlen", 1, PORTRSV_SO_ASSOCIATE, 4, 0, -EINVAL },
		{ "long optlen", 1, PORTRSV_SO_ASSOCIATE, 16, 0, -EINVAL },
		{ "unknown optname", 1, 99, 8, 0, -EINVAL },
	};

	return cr_make_param_array(struct assoc_row, rows, sizeof(rows) / sizeof(rows[0]));
}

/* The raw socket option, as any program may use it without the library. */
ParameterizedTest(struct assoc_row *row, binds, associate_errors, .init = kt_setup,
		  .fini = kt_teardown)
{
	uint64_t token = kt_reserve(PORTRSV_TCP, START, COUNT);
	uint64_t buf[2] = { row->token_kind == 0 ? token : row->token_kind == 1 ? 0 : ~token, 0 };
	int fd = kt_socket(KT_V4, IPPROTO_TCP);
	int err;

	err = setsockopt(fd, SOL_PORTRSV, row->optname, buf, row->optlen) ? -errno : 0;
	cr_assert_eq(err, row->want, "%s: setsockopt gave %d, want %d", row->name, err,
		     row->want);
	/* Only a successful association opens the block. */
	cr_assert_eq(kt_bind(fd, KT_V4, START), row->want ? -EACCES : 0);
	close(fd);
}

/*
 * A socket that is neither TCP nor UDP has no port space: EINVAL (Windows' WSAEINVAL), with
 * the detail naming the socket, through the library and through the raw option alike. An
 * unknown token on a TCP socket is ENOENT, with its detail and never the token.
 */
struct sock_row {
	char name[24];
	int domain, type, protocol;
	int want;
	char msg[64];
};

ParameterizedTestParameters(binds, associate_socket_kinds)
{
	static struct sock_row rows[] = {
		{ "AF_UNIX stream", AF_UNIX, SOCK_STREAM, 0, -EINVAL,
		  "neither TCP nor UDP (domain 1, type 1, protocol 0)" },
		{ "AF_UNIX dgram", AF_UNIX, SOCK_DGRAM, 0, -EINVAL,
		  "neither TCP nor UDP (domain 1, type 2, protocol 0)" },
		{ "raw tcp", AF_INET, SOCK_RAW, IPPROTO_TCP, -EINVAL,
		  "neither TCP nor UDP (domain 2, type 3, protocol 6)" },
		{ "tcp, unknown token", AF_INET, SOCK_STREAM, 0, -ENOENT,
		  "no reservation of the socket's network namespace and protocol" },
		{ "tcp6, right token", AF_INET6, SOCK_STREAM, 0, 0, "" },
	};

	return cr_make_param_array(struct sock_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct sock_row *row, binds, associate_socket_kinds, .init = kt_setup,
		  .fini = kt_teardown)
{
	uint64_t token = kt_reserve(PORTRSV_TCP, START, COUNT);
	uint64_t use = row->want == -ENOENT ? ~token : token;
	int fd = socket(row->domain, row->type | SOCK_CLOEXEC, row->protocol), err;
	char hex[24];

	cr_assert(fd >= 0, "%s: socket: %s", row->name, strerror(errno));
	err = portrsv_associate(fd, use);
	cr_assert_eq(err, row->want, "%s: associate %d (%s), want %d", row->name, err,
		     strerror(-err), row->want);
	snprintf(hex, sizeof(hex), "%016" PRIx64, use);
	if (err) {
		cr_assert(strstr(portrsv_errmsg(), row->msg), "%s: errmsg [%s], want [%s]",
			  row->name, portrsv_errmsg(), row->msg);
		cr_assert(!strstr(portrsv_errmsg(), hex), "%s: a token in [%s]", row->name,
			  portrsv_errmsg());
	} else {
		cr_assert_str_empty(portrsv_errmsg());
	}
	err = setsockopt(fd, SOL_PORTRSV, PORTRSV_SO_ASSOCIATE, &use, sizeof(use)) ? -errno : 0;
	cr_assert_eq(err, row->want, "%s: the raw option gave %d, want %d", row->name, err,
		     row->want);
	close(fd);
}

/* Outside an enforced cgroup the option level does not exist: ENOPROTOOPT. */
Test(binds, associate_unenforced, .init = kt_setup, .fini = kt_teardown)
{
	uint64_t token = kt_reserve(PORTRSV_TCP, START, COUNT);
	int fd;

	kt_join_cgroup(kt.orig_cgroup);
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(portrsv_associate(fd, token), -ENOPROTOOPT);
	cr_assert_eq(portrsv_associate(fd, 0), -EINVAL);
	close(fd);
}

/*
 * post_bind as the second line: with the kernel's ephemeral range squeezed onto the block
 * and ip_local_reserved_ports cleared, bind(0) of a socket without token would land on a
 * reserved port; post_bind refuses it, and the socket is left unbound.
 */
KT_TEST(binds, post_bind_refuses_kernel_choice)
{
	char range[32];
	int fd, err;

	kt_reserve(PORTRSV_TCP, START, COUNT);
	snprintf(range, sizeof(range), "%d %d\n", START, START + COUNT - 1);
	kt_write("/proc/sys/net/ipv4/ip_local_port_range", range);
	kt_write_outside("/proc/sys/net/ipv4/ip_local_reserved_ports", "\n");
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	err = kt_bind(fd, KT_V4, 0);
	cr_assert_eq(err, -EACCES, "bind(0) onto a reserved port gave %d", err);
	cr_assert_eq(kt_port(fd), 0, "refused socket must stay unbound");
	cr_assert_eq(kt_bind(fd, KT_V4, START + COUNT), 0);
	close(fd);
}

/* The pinned maps carry BTF: bpftool shows reservations as named fields. */
KT_TEST(binds, bpftool_shows_fields)
{
	char cmd[PATH_MAX + 64], out[8192] = "";
	uint64_t token = kt_reserve(PORTRSV_UDP, START, COUNT);
	char hex[24];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "bpftool -j map dump pinned %s/" PORTRSV_PIN_RESV, kt.pin_dir);
	f = popen(cmd, "r");
	cr_assert(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	cr_assert_eq(pclose(f), 0, "bpftool failed: %s", out);
	snprintf(hex, sizeof(hex), "%" PRIu64, token);
	cr_assert(strstr(out, "\"formatted\""), "no BTF-formatted dump: %s", out);
	cr_assert(strstr(out, "\"port\":7000"), "start not shown as a field: %s", out);
	cr_assert(strstr(out, "\"proto\":17"), "proto not shown: %s", out);
	cr_assert(strstr(out, "\"count\":10"), "count not shown: %s", out);
	cr_assert(strstr(out, hex), "token %s not shown: %s", hex, out);
}
