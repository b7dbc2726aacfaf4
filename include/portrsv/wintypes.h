/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Windows base types that <portrsv/iphlpapi.h> and <portrsv/mstcpip.h> share, with
 * Windows' sizes (LLP64: ULONG and DWORD are 32 bits). Included by those two headers; not
 * meant to be included alone.
 */
#ifndef PORTRSV_WINTYPES_H
#define PORTRSV_WINTYPES_H

#include <stdint.h>

typedef uint32_t ULONG;
typedef uint16_t USHORT;
typedef uint64_t ULONG64;
typedef ULONG64 *PULONG64;
typedef uint32_t DWORD;
typedef DWORD *LPDWORD;
typedef void *LPVOID;
typedef uintptr_t ULONG_PTR;

/* The functions of the Windows API that libportrsv exports. */
#define PORTRSV_WINAPI __attribute__((visibility("default")))

#endif /* PORTRSV_WINTYPES_H */
