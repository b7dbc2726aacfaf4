/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Windows persistent port reservation API (iphlpapi.h), on Linux: same names, types,
 * byte order and return codes. Link with -lportrsv.
 *
 * StartPort is in network byte order, NumberOfPorts in host order, as on Windows. Every call
 * acts on the calling thread's network namespace and on the pins of $PORTRSV_PIN_DIR.
 * Return codes:
 *   NO_ERROR                  success
 *   ERROR_ACCESS_DENIED       the caller may not use reservations (needs root)
 *   ERROR_SHARING_VIOLATION   Create: the block overlaps a reservation or a port is in use
 *   ERROR_INVALID_PARAMETER   StartPort or NumberOfPorts is 0, the block passes 65535, or
 *                             Token is NULL
 *   ERROR_SERVICE_NOT_ACTIVE  portrsv's programs are not loaded
 *   ERROR_NOT_FOUND           Delete, Lookup: no reservation of exactly this block
 *   ERROR_GEN_FAILURE         anything else (out of memory, maps full)
 * A socket presents a token with portrsv_associate() (<portrsv.h>) before bind(), where
 * Windows uses WSAIoctl(SIO_ASSOCIATE_PORT_RESERVATION).
 */
#ifndef PORTRSV_IPHLPAPI_H
#define PORTRSV_IPHLPAPI_H

#include <stdint.h>
#include <linux/types.h>
#include <portrsv/abi.h>
#include <portrsv/wintypes.h> /* ULONG (32 bits, as on Windows), USHORT, ULONG64 */

#ifdef __cplusplus
extern "C" {
#endif

#define INVALID_PORT_RESERVATION_TOKEN PORTRSV_TOKEN_INVALID

#ifndef NO_ERROR
#define NO_ERROR                 PORTRSV_WIN_NO_ERROR
#endif
#define ERROR_ACCESS_DENIED      PORTRSV_WIN_ERROR_ACCESS_DENIED
#define ERROR_GEN_FAILURE        PORTRSV_WIN_ERROR_GEN_FAILURE
#define ERROR_SHARING_VIOLATION  PORTRSV_WIN_ERROR_SHARING_VIOLATION
#define ERROR_INVALID_PARAMETER  PORTRSV_WIN_ERROR_INVALID_PARAMETER
#define ERROR_SERVICE_NOT_ACTIVE PORTRSV_WIN_ERROR_SERVICE_NOT_ACTIVE
#define ERROR_NOT_FOUND          PORTRSV_WIN_ERROR_NOT_FOUND

PORTRSV_WINAPI ULONG CreatePersistentTcpPortReservation(USHORT StartPort, USHORT NumberOfPorts,
							PULONG64 Token);
PORTRSV_WINAPI ULONG CreatePersistentUdpPortReservation(USHORT StartPort, USHORT NumberOfPorts,
							PULONG64 Token);
PORTRSV_WINAPI ULONG DeletePersistentTcpPortReservation(USHORT StartPort, USHORT NumberOfPorts);
PORTRSV_WINAPI ULONG DeletePersistentUdpPortReservation(USHORT StartPort, USHORT NumberOfPorts);
PORTRSV_WINAPI ULONG LookupPersistentTcpPortReservation(USHORT StartPort, USHORT NumberOfPorts,
							PULONG64 Token);
PORTRSV_WINAPI ULONG LookupPersistentUdpPortReservation(USHORT StartPort, USHORT NumberOfPorts,
							PULONG64 Token);

#ifdef __cplusplus
}
#endif
#endif /* PORTRSV_IPHLPAPI_H */
