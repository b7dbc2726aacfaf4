// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * WSAIoctl's argument checks and <portrsv/mstcpip.h>'s layouts and values; needs no privilege
 * and no kernel side: every row fails before a reservation is looked at (a bad argument, or
 * a descriptor that is not a socket). The calls that reach the BPF programs are in
 * tests/kernel_runtime_win.c.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/ioctl.h> /* Linux's IOC_IN and the header side by side: they must not clash */
#include <stddef.h>
#include <unistd.h>
#include "internal.h"
#include "portrsv/mstcpip.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Windows' numbers, spelled out (mstcpip.h, winerror.h, the structures' sizes on x64). */
Test(mstcpip, windows_values)
{
	cr_assert_eq(SIO_ACQUIRE_PORT_RESERVATION, 0x98000064U);
	cr_assert_eq(SIO_RELEASE_PORT_RESERVATION, 0x98000065U);
	cr_assert_eq(SIO_ASSOCIATE_PORT_RESERVATION, 0x98000066U);
	cr_assert_eq(_WSAIOW(IOC_VENDOR, 100), SIO_ACQUIRE_PORT_RESERVATION);
	cr_assert_eq(_WSAIOW(IOC_VENDOR, 101), SIO_RELEASE_PORT_RESERVATION);
	cr_assert_eq(_WSAIOW(IOC_VENDOR, 102), SIO_ASSOCIATE_PORT_RESERVATION);
	cr_assert_eq(sizeof(INET_PORT_RANGE), 4);
	cr_assert_eq(offsetof(INET_PORT_RANGE, StartPort), 0);
	cr_assert_eq(offsetof(INET_PORT_RANGE, NumberOfPorts), 2);
	cr_assert_eq(sizeof(INET_PORT_RESERVATION), 4);
	cr_assert_eq(sizeof(INET_PORT_RESERVATION_TOKEN), 8);
	cr_assert_eq(sizeof(INET_PORT_RESERVATION_INSTANCE), 16);
	cr_assert_eq(offsetof(INET_PORT_RESERVATION_INSTANCE, Reservation), 0);
	cr_assert_eq(offsetof(INET_PORT_RESERVATION_INSTANCE, Token), 8);
	cr_assert_eq(sizeof(ULONG), 4);
	cr_assert_eq(sizeof(DWORD), 4);
	cr_assert_eq(sizeof(USHORT), 2);
	cr_assert_eq(sizeof(ULONG64), 8);
	cr_assert_eq(INVALID_PORT_RESERVATION_TOKEN, 0);
	cr_assert_eq(SOCKET_ERROR, -1);
	cr_assert_eq(INVALID_SOCKET, -1);
	cr_assert_eq(WSAEINTR, 10004);
	cr_assert_eq(WSAEBADF, 10009);
	cr_assert_eq(WSAEACCES, 10013);
	cr_assert_eq(WSAEFAULT, 10014);
	cr_assert_eq(WSAEINVAL, 10022);
	cr_assert_eq(WSAENOTSOCK, 10038);
	cr_assert_eq(WSAENOPROTOOPT, 10042);
	cr_assert_eq(WSAEOPNOTSUPP, 10045);
	cr_assert_eq(WSAEAFNOSUPPORT, 10047);
	cr_assert_eq(WSAEADDRINUSE, 10048);
	cr_assert_eq(WSAEADDRNOTAVAIL, 10049);
	cr_assert_eq(WSAENOBUFS, 10055);
	cr_assert_eq(WSAEDQUOT, 10069);
	cr_assert_eq(WSASYSCALLFAILURE, 10107);
}

/* Rows hold no pointers (Criterion copies them into each test's process): what each
 * argument is, by kind. */
enum fd_kind { FD_CLOSED, FD_PIPE };
enum code { ACQUIRE, ASSOCIATE, RELEASE, OTHER_CODE, ZERO_CODE };
enum in_kind { IN_NULL, IN_BUF };
enum out_kind { OUT_NULL, OUT_BUF };

struct ioctl_case {
	char name[40];
	enum fd_kind fd;
	enum code code;
	enum in_kind in;
	uint16_t start;      /* acquire: StartPort, host order (the test converts) */
	uint16_t count;      /* acquire: NumberOfPorts */
	uint64_t token;      /* associate, release */
	DWORD cb_in;
	enum out_kind out;
	DWORD cb_out;
	bool no_lpcb;        /* lpcbBytesReturned NULL */
	bool overlapped;     /* lpOverlapped not NULL */
	bool routine;        /* lpCompletionRoutine not NULL */
	int wsa;             /* WSAGetLastError() after SOCKET_ERROR */
};

#define RANGE sizeof(INET_PORT_RANGE)
#define TOKEN sizeof(INET_PORT_RESERVATION_TOKEN)
#define INSTANCE sizeof(INET_PORT_RESERVATION_INSTANCE)

static struct ioctl_case ioctl_cases[] = {
	/* Overlapped I/O and unknown codes: refused whatever the rest. */
	{ "acquire overlapped", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, RANGE, OUT_BUF, INSTANCE,
	  .overlapped = true, .wsa = WSAEOPNOTSUPP },
	{ "acquire completion routine", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, RANGE, OUT_BUF, INSTANCE,
	  .routine = true, .wsa = WSAEOPNOTSUPP },
	{ "associate overlapped", FD_PIPE, ASSOCIATE, IN_BUF, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .overlapped = true, .routine = true, .wsa = WSAEOPNOTSUPP },
	{ "release overlapped", FD_PIPE, RELEASE, IN_BUF, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .overlapped = true, .wsa = WSAEOPNOTSUPP },
	{ "overlapped before lpcb NULL", FD_PIPE, ACQUIRE, IN_NULL, 0, 4, 0, 0, OUT_NULL, 0,
	  .no_lpcb = true, .overlapped = true, .wsa = WSAEOPNOTSUPP },
	{ "other code", FD_PIPE, OTHER_CODE, IN_BUF, 0, 4, 0, RANGE, OUT_BUF, INSTANCE,
	  .wsa = WSAEOPNOTSUPP },
	{ "code 0", FD_PIPE, ZERO_CODE, IN_BUF, 0, 4, 0, RANGE, OUT_BUF, INSTANCE,
	  .wsa = WSAEOPNOTSUPP },
	{ "other code, lpcb NULL", FD_PIPE, OTHER_CODE, IN_NULL, 0, 0, 0, 0, OUT_NULL, 0,
	  .no_lpcb = true, .wsa = WSAEOPNOTSUPP },
	/* Buffers. */
	{ "acquire lpcb NULL", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, RANGE, OUT_BUF, INSTANCE,
	  .no_lpcb = true, .wsa = WSAEFAULT },
	{ "acquire in NULL", FD_PIPE, ACQUIRE, IN_NULL, 0, 4, 0, RANGE, OUT_BUF, INSTANCE,
	  .wsa = WSAEFAULT },
	{ "acquire cbIn 0", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, 0, OUT_BUF, INSTANCE,
	  .wsa = WSAEINVAL },
	{ "acquire cbIn 3", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, RANGE - 1, OUT_BUF, INSTANCE,
	  .wsa = WSAEINVAL },
	{ "acquire out NULL", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, RANGE, OUT_NULL, INSTANCE,
	  .wsa = WSAEFAULT },
	{ "acquire cbOut 0", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, RANGE, OUT_BUF, 0,
	  .wsa = WSAEINVAL },
	{ "acquire cbOut 15", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, RANGE, OUT_BUF, INSTANCE - 1,
	  .wsa = WSAEINVAL },
	{ "acquire cbOut 8 (a token only)", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, RANGE, OUT_BUF, TOKEN,
	  .wsa = WSAEINVAL },
	{ "associate lpcb NULL", FD_PIPE, ASSOCIATE, IN_BUF, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .no_lpcb = true, .wsa = WSAEFAULT },
	{ "associate in NULL", FD_PIPE, ASSOCIATE, IN_NULL, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .wsa = WSAEFAULT },
	{ "associate cbIn 4", FD_PIPE, ASSOCIATE, IN_BUF, 0, 0, 7, TOKEN - 4, OUT_NULL, 0,
	  .wsa = WSAEINVAL },
	{ "associate cbIn 0", FD_PIPE, ASSOCIATE, IN_BUF, 0, 0, 7, 0, OUT_NULL, 0,
	  .wsa = WSAEINVAL },
	{ "release lpcb NULL", FD_PIPE, RELEASE, IN_BUF, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .no_lpcb = true, .wsa = WSAEFAULT },
	{ "release in NULL", FD_PIPE, RELEASE, IN_NULL, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .wsa = WSAEFAULT },
	{ "release cbIn 7", FD_PIPE, RELEASE, IN_BUF, 0, 0, 7, TOKEN - 1, OUT_NULL, 0,
	  .wsa = WSAEINVAL },
	/* Values. */
	{ "acquire count 0", FD_PIPE, ACQUIRE, IN_BUF, 5000, 0, 0, RANGE, OUT_BUF, INSTANCE,
	  .wsa = WSAEINVAL },
	{ "acquire wildcard count 0", FD_PIPE, ACQUIRE, IN_BUF, 0, 0, 0, RANGE, OUT_BUF, INSTANCE,
	  .wsa = WSAEINVAL },
	{ "acquire past 65535", FD_PIPE, ACQUIRE, IN_BUF, 65535, 2, 0, RANGE, OUT_BUF, INSTANCE,
	  .wsa = WSAEINVAL },
	{ "acquire 65000+537", FD_PIPE, ACQUIRE, IN_BUF, 65000, 537, 0, RANGE, OUT_BUF, INSTANCE,
	  .wsa = WSAEINVAL },
	{ "associate token 0", FD_PIPE, ASSOCIATE, IN_BUF, 0, 0, 0, TOKEN, OUT_NULL, 0,
	  .wsa = WSAEINVAL },
	{ "release token 0", FD_PIPE, RELEASE, IN_BUF, 0, 0, 0, TOKEN, OUT_NULL, 0,
	  .wsa = WSAEINVAL },
	/* Valid arguments reach the descriptor: not a socket, or not open. */
	{ "acquire on a pipe", FD_PIPE, ACQUIRE, IN_BUF, 5000, 4, 0, RANGE, OUT_BUF, INSTANCE,
	  .wsa = WSAENOTSOCK },
	{ "acquire wildcard on a pipe", FD_PIPE, ACQUIRE, IN_BUF, 0, 65535, 0, RANGE, OUT_BUF,
	  INSTANCE, .wsa = WSAENOTSOCK },
	{ "acquire 65535+1 on a pipe", FD_PIPE, ACQUIRE, IN_BUF, 65535, 1, 0, RANGE, OUT_BUF,
	  INSTANCE, .wsa = WSAENOTSOCK },
	{ "acquire bigger buffers on a pipe", FD_PIPE, ACQUIRE, IN_BUF, 0, 4, 0, RANGE + 60,
	  OUT_BUF, INSTANCE + 48, .wsa = WSAENOTSOCK },
	{ "acquire closed fd", FD_CLOSED, ACQUIRE, IN_BUF, 5000, 4, 0, RANGE, OUT_BUF, INSTANCE,
	  .wsa = WSAEBADF },
	{ "associate on a pipe", FD_PIPE, ASSOCIATE, IN_BUF, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .wsa = WSAENOTSOCK },
	{ "associate closed fd", FD_CLOSED, ASSOCIATE, IN_BUF, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .wsa = WSAEBADF },
	{ "release on a pipe", FD_PIPE, RELEASE, IN_BUF, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .wsa = WSAENOTSOCK },
	{ "release closed fd", FD_CLOSED, RELEASE, IN_BUF, 0, 0, 7, TOKEN, OUT_NULL, 0,
	  .wsa = WSAEBADF },
};

ParameterizedTestParameters(mstcpip, ioctl_args)
{
	return cr_make_param_array(struct ioctl_case, ioctl_cases, ARRAY_SIZE(ioctl_cases));
}

static void completion(DWORD err, DWORD n, LPWSAOVERLAPPED ov, DWORD flags)
{
}

ParameterizedTest(struct ioctl_case *c, mstcpip, ioctl_args)
{
	static const DWORD codes[] = {
		[ACQUIRE] = SIO_ACQUIRE_PORT_RESERVATION,
		[ASSOCIATE] = SIO_ASSOCIATE_PORT_RESERVATION,
		[RELEASE] = SIO_RELEASE_PORT_RESERVATION,
		[OTHER_CODE] = _WSAIOW(IOC_VENDOR, 103),
		[ZERO_CODE] = 0,
	};
	/* Input and output in one buffer each, larger than any structure, with a canary. */
	unsigned char in[128], out[128];
	WSAOVERLAPPED ov = { 0 };
	DWORD got = 0xdeadbeef;
	int pfd[2], fd, ret;

	cr_assert_eq(pipe(pfd), 0);
	if (c->fd == FD_PIPE) {
		fd = pfd[0];
	} else {
		fd = pfd[0];
		close(pfd[0]);
		pfd[0] = -1;
	}
	memset(in, 0, sizeof(in));
	memset(out, 0xa5, sizeof(out));
	if (c->code == ACQUIRE) {
		INET_PORT_RANGE r = { .StartPort = htons(c->start), .NumberOfPorts = c->count };
		memcpy(in, &r, sizeof(r));
	} else {
		INET_PORT_RESERVATION_TOKEN t = { .Token = c->token };
		memcpy(in, &t, sizeof(t));
	}

	ret = WSAIoctl(fd, codes[c->code], c->in == IN_BUF ? in : NULL, c->cb_in,
		       c->out == OUT_BUF ? out : NULL, c->cb_out, c->no_lpcb ? NULL : &got,
		       c->overlapped ? &ov : NULL, c->routine ? completion : NULL);

	cr_assert_eq(ret, SOCKET_ERROR, "%s: WSAIoctl returned %d", c->name, ret);
	cr_assert_eq(WSAGetLastError(), c->wsa, "%s: WSAGetLastError() = %d, want %d", c->name,
		     WSAGetLastError(), c->wsa);
	if (!c->no_lpcb)
		cr_assert_eq(got, 0, "%s: *lpcbBytesReturned = %u after a failure", c->name, got);
	for (size_t i = 0; i < sizeof(out); i++)
		cr_assert_eq(out[i], 0xa5, "%s: output byte %zu written on failure", c->name, i);
	if (pfd[0] >= 0)
		close(pfd[0]);
	close(pfd[1]);
}

/* The code is read per thread, as on Windows: a failure in one thread leaves another's. */
static void *fail_in_thread(void *arg)
{
	DWORD got;
	int *seen = arg;

	seen[0] = WSAGetLastError();
	WSAIoctl(-1, SIO_ASSOCIATE_PORT_RESERVATION, NULL, 0, NULL, 0, &got, NULL, NULL);
	seen[1] = WSAGetLastError();
	return NULL;
}

Test(mstcpip, last_error_per_thread)
{
	int seen[2] = { -1, -1 };
	pthread_t t;
	DWORD got;

	cr_assert_eq(WSAIoctl(-1, 0, NULL, 0, NULL, 0, &got, NULL, NULL), SOCKET_ERROR);
	cr_assert_eq(WSAGetLastError(), WSAEOPNOTSUPP);
	cr_assert_eq(pthread_create(&t, NULL, fail_in_thread, seen), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(seen[0], 0, "a new thread starts with %d", seen[0]);
	cr_assert_eq(seen[1], WSAEFAULT, "the thread's own failure: %d", seen[1]);
	cr_assert_eq(WSAGetLastError(), WSAEOPNOTSUPP, "this thread's code changed to %d",
		     WSAGetLastError());
}
