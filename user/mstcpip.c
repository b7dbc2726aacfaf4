// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Windows' port reservation ioctls over the native calls: byte order in, WSAE* codes out. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "internal.h"
#include "portrsv/mstcpip.h"

static __thread int last_error;

int WSAGetLastError(void)
{
	return last_error;
}

static int fail(int wsa)
{
	last_error = wsa;
	return SOCKET_ERROR;
}

/* The argument checks need no socket and no kernel: a bad call fails the same whether or not
 * portrsv is loaded, as Windows checks its arguments first. */
int WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
	     LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
	     LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	INET_PORT_RESERVATION_INSTANCE inst;
	INET_PORT_RESERVATION_TOKEN tok;
	struct portrsv_runtime rt;
	INET_PORT_RANGE range;
	int err;

	if (lpcbBytesReturned)
		*lpcbBytesReturned = 0;
	if (lpOverlapped || lpCompletionRoutine)
		return fail(WSAEOPNOTSUPP);
	if (dwIoControlCode != SIO_ACQUIRE_PORT_RESERVATION &&
	    dwIoControlCode != SIO_ASSOCIATE_PORT_RESERVATION &&
	    dwIoControlCode != SIO_RELEASE_PORT_RESERVATION)
		return fail(WSAEOPNOTSUPP);
	if (!lpcbBytesReturned)
		return fail(WSAEFAULT);
	if (!lpvInBuffer)
		return fail(WSAEFAULT);

	if (dwIoControlCode == SIO_ACQUIRE_PORT_RESERVATION) {
		if (cbInBuffer < sizeof(range))
			return fail(WSAEINVAL);
		if (!lpvOutBuffer)
			return fail(WSAEFAULT);
		if (cbOutBuffer < sizeof(inst))
			return fail(WSAEINVAL);
		memcpy(&range, lpvInBuffer, sizeof(range)); /* the caller's buffer may be unaligned */
		if (!range.NumberOfPorts ||
		    (range.StartPort && portrsv_block_valid(ntohs(range.StartPort), range.NumberOfPorts)))
			return fail(WSAEINVAL);
		err = portrsv_acquire(s, ntohs(range.StartPort), range.NumberOfPorts, &rt);
		if (err)
			return fail((int)portrsv_errno_to_wsa(err));
		memset(&inst, 0, sizeof(inst));
		inst.Reservation.StartPort = htons(rt.start);
		inst.Reservation.NumberOfPorts = rt.count;
		inst.Token.Token = rt.token;
		memcpy(lpvOutBuffer, &inst, sizeof(inst));
		*lpcbBytesReturned = sizeof(inst);
		last_error = 0;
		return 0;
	}

	if (cbInBuffer < sizeof(tok))
		return fail(WSAEINVAL);
	memcpy(&tok, lpvInBuffer, sizeof(tok));
	if (tok.Token == INVALID_PORT_RESERVATION_TOKEN)
		return fail(WSAEINVAL);
	if (dwIoControlCode == SIO_ASSOCIATE_PORT_RESERVATION)
		err = portrsv_associate(s, tok.Token);
	else
		err = portrsv_release(s, tok.Token);
	if (err)
		return fail((int)portrsv_errno_to_wsa(err));
	last_error = 0;
	return 0;
}
