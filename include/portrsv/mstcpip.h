/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Windows' runtime port reservations (mstcpip.h: SIO_ACQUIRE_PORT_RESERVATION,
 * SIO_ASSOCIATE_PORT_RESERVATION, SIO_RELEASE_PORT_RESERVATION), on Linux: same names, types,
 * layouts, byte order, control codes and WSAE* codes, through a WSAIoctl() with Windows'
 * parameters. Link with -lportrsv.
 *
 *   SIO_ACQUIRE_PORT_RESERVATION    in: INET_PORT_RANGE (StartPort in network order, 0 = any
 *                                   free block of NumberOfPorts ports in a pool, NumberOfPorts
 *                                   in host order); out: INET_PORT_RESERVATION_INSTANCE (the
 *                                   block, StartPort in network order, and its token)
 *   SIO_ASSOCIATE_PORT_RESERVATION  in: INET_PORT_RESERVATION_TOKEN; no output. Before bind()
 *   SIO_RELEASE_PORT_RESERVATION    in: INET_PORT_RESERVATION_TOKEN; no output
 *
 * They are portrsv_acquire(), portrsv_associate() and portrsv_release() of <portrsv.h>. A
 * SOCKET is a file descriptor. WSAIoctl() returns 0, or SOCKET_ERROR with the reason in
 * WSAGetLastError() (per thread, as on Windows); PORTRSV_WSA_MAP in <portrsv/abi.h> maps the
 * native errno values to these codes. Overlapped I/O is not supported: an lpOverlapped or
 * lpCompletionRoutine that is not NULL fails with WSAEOPNOTSUPP, as does any other control
 * code. A runtime reservation is carved out of a pool (portrsv add PROTO START COUNT --pool)
 * and lasts as long as the socket that acquired it; only sockets of the acquiring process may
 * associate with its token.
 */
#ifndef PORTRSV_MSTCPIP_H
#define PORTRSV_MSTCPIP_H

#include <stdint.h>
#include <linux/types.h>
#include <portrsv/abi.h>
#include <portrsv/wintypes.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int SOCKET;
#define INVALID_SOCKET (-1)
#define SOCKET_ERROR   (-1)

/*
 * Winsock's control code layout (winsock2.h): IOC_IN is bit 31 there, IOC_OUT bit 30, the
 * vendor family 0x18000000. Windows' IOC_IN, IOC_OUT and IOC_INOUT are not defined here:
 * Linux's <sys/ioctl.h> has macros of those names with other values.
 */
#ifndef IOC_VENDOR
#define IOC_VENDOR 0x18000000U
#endif
#ifndef _WSAIOW
#define _WSAIOW(x, y)  (0x80000000U | (x) | (y))
#define _WSAIORW(x, y) (0xc0000000U | (x) | (y))
#endif

/* Windows' values: _WSAIOW(IOC_VENDOR, 100 / 101 / 102) = 0x98000064 / 65 / 66. */
#define SIO_ACQUIRE_PORT_RESERVATION   0x98000064U
#define SIO_RELEASE_PORT_RESERVATION   0x98000065U
#define SIO_ASSOCIATE_PORT_RESERVATION 0x98000066U

typedef struct _INET_PORT_RANGE {
	USHORT StartPort;     /* network byte order */
	USHORT NumberOfPorts; /* host byte order */
} INET_PORT_RANGE, *PINET_PORT_RANGE;
typedef struct _INET_PORT_RANGE INET_PORT_RESERVATION, *PINET_PORT_RESERVATION;

typedef struct {
	ULONG64 Token;
} INET_PORT_RESERVATION_TOKEN, *PINET_PORT_RESERVATION_TOKEN;

/* Windows' C declaration has anonymous members (a Microsoft extension); these are the names
 * its C++ declaration and its documentation use. */
typedef struct {
	INET_PORT_RESERVATION Reservation;
	INET_PORT_RESERVATION_TOKEN Token;
} INET_PORT_RESERVATION_INSTANCE, *PINET_PORT_RESERVATION_INSTANCE;

#define INVALID_PORT_RESERVATION_TOKEN PORTRSV_TOKEN_INVALID

/* winsock2.h's overlapped types, for WSAIoctl()'s signature; overlapped I/O is refused. */
typedef void *WSAEVENT;
typedef struct _WSAOVERLAPPED {
	ULONG_PTR Internal;
	ULONG_PTR InternalHigh;
	DWORD Offset;
	DWORD OffsetHigh;
	WSAEVENT hEvent;
} WSAOVERLAPPED, *LPWSAOVERLAPPED;
typedef void (*LPWSAOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwError, DWORD cbTransferred,
						   LPWSAOVERLAPPED lpOverlapped, DWORD dwFlags);

#define WSAEINTR          PORTRSV_WSAEINTR
#define WSAEBADF          PORTRSV_WSAEBADF
#define WSAEACCES         PORTRSV_WSAEACCES
#define WSAEFAULT         PORTRSV_WSAEFAULT
#define WSAEINVAL         PORTRSV_WSAEINVAL
#define WSAENOTSOCK       PORTRSV_WSAENOTSOCK
#define WSAENOPROTOOPT    PORTRSV_WSAENOPROTOOPT
#define WSAEOPNOTSUPP     PORTRSV_WSAEOPNOTSUPP
#define WSAEAFNOSUPPORT   PORTRSV_WSAEAFNOSUPPORT
#define WSAEADDRINUSE     PORTRSV_WSAEADDRINUSE
#define WSAEADDRNOTAVAIL  PORTRSV_WSAEADDRNOTAVAIL
#define WSAENOBUFS        PORTRSV_WSAENOBUFS
#define WSAEDQUOT         PORTRSV_WSAEDQUOT
#define WSASYSCALLFAILURE PORTRSV_WSASYSCALLFAILURE

/*
 * Perform dwIoControlCode on socket s. Checks, in this order: lpOverlapped or
 * lpCompletionRoutine not NULL, or a code other than the three above -> WSAEOPNOTSUPP;
 * lpcbBytesReturned NULL -> WSAEFAULT; lpvInBuffer NULL -> WSAEFAULT; cbInBuffer smaller
 * than the input structure -> WSAEINVAL; acquire: lpvOutBuffer NULL -> WSAEFAULT,
 * cbOutBuffer smaller than INET_PORT_RESERVATION_INSTANCE -> WSAEINVAL. Then the native
 * call's errno through PORTRSV_WSA_MAP. *lpcbBytesReturned (when not NULL) is 0 unless an
 * acquire succeeds (then sizeof(INET_PORT_RESERVATION_INSTANCE)). NumberOfPorts 0, a block
 * past 65535 and token 0 are WSAEINVAL before the socket is looked at.
 */
PORTRSV_WINAPI int WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer,
			    DWORD cbInBuffer, LPVOID lpvOutBuffer, DWORD cbOutBuffer,
			    LPDWORD lpcbBytesReturned, LPWSAOVERLAPPED lpOverlapped,
			    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/* The WSAE* code of this thread's last failed WSAIoctl(); 0 after one that succeeded. */
PORTRSV_WINAPI int WSAGetLastError(void);

#ifdef __cplusplus
}
#endif
#endif /* PORTRSV_MSTCPIP_H */
