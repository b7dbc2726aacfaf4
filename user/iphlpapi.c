// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Windows API over the native one: byte order in, Windows codes out. */
#include <arpa/inet.h>
#include <errno.h>
#include "internal.h"
#include "portrsv/iphlpapi.h"

enum op { CREATE, DELETE, LOOKUP };

/* Parameters are checked before anything is opened: a bad call is INVALID_PARAMETER even
 * when portrsv is not loaded, as Windows checks its arguments first. */
static ULONG call(enum op op, enum portrsv_proto proto, USHORT StartPort, USHORT NumberOfPorts,
		  PULONG64 Token)
{
	uint16_t start = ntohs(StartPort);
	struct portrsv *p;
	int err;

	if ((op != DELETE && !Token) || portrsv_block_valid(start, NumberOfPorts))
		return ERROR_INVALID_PARAMETER;
	p = portrsv_open(NULL);
	if (!p)
		return portrsv_errno_to_win(errno);
	switch (op) {
	case CREATE:
		err = portrsv_create(p, proto, start, NumberOfPorts, NULL, Token);
		break;
	case DELETE:
		err = portrsv_delete(p, proto, start, NumberOfPorts, NULL);
		break;
	default:
		err = portrsv_lookup(p, proto, start, NumberOfPorts, NULL, Token);
		break;
	}
	portrsv_close(p);
	return portrsv_errno_to_win(err);
}

ULONG CreatePersistentTcpPortReservation(USHORT StartPort, USHORT NumberOfPorts, PULONG64 Token)
{
	return call(CREATE, PORTRSV_TCP, StartPort, NumberOfPorts, Token);
}

ULONG CreatePersistentUdpPortReservation(USHORT StartPort, USHORT NumberOfPorts, PULONG64 Token)
{
	return call(CREATE, PORTRSV_UDP, StartPort, NumberOfPorts, Token);
}

ULONG DeletePersistentTcpPortReservation(USHORT StartPort, USHORT NumberOfPorts)
{
	return call(DELETE, PORTRSV_TCP, StartPort, NumberOfPorts, NULL);
}

ULONG DeletePersistentUdpPortReservation(USHORT StartPort, USHORT NumberOfPorts)
{
	return call(DELETE, PORTRSV_UDP, StartPort, NumberOfPorts, NULL);
}

ULONG LookupPersistentTcpPortReservation(USHORT StartPort, USHORT NumberOfPorts, PULONG64 Token)
{
	return call(LOOKUP, PORTRSV_TCP, StartPort, NumberOfPorts, Token);
}

ULONG LookupPersistentUdpPortReservation(USHORT StartPort, USHORT NumberOfPorts, PULONG64 Token)
{
	return call(LOOKUP, PORTRSV_UDP, StartPort, NumberOfPorts, Token);
}
