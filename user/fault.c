// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Fault injection for the crash tests: PORTRSV_FAULT=NAME kills the process with SIGKILL
 * when it reaches the point NAME, as a power cut would; one NAME is a switch instead,
 * probe-unsure: a block is never probed by bind() (probe.c), its sockets are dumped. Only in
 * test builds (PORTRSV_FAULTS, set by the Makefile for the tests' library and command):
 * what ships ignores the variable.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

bool portrsv_faulting(const char *point)
{
#ifdef PORTRSV_FAULTS
	const char *f = getenv("PORTRSV_FAULT");

	return f && !strcmp(f, point);
#else
	(void)point;
	return false;
#endif
}

void portrsv_fault(const char *point)
{
#ifdef PORTRSV_FAULTS
	const char *f = getenv("PORTRSV_FAULT");

	if (f && !strcmp(f, point))
		kill(getpid(), SIGKILL);
#else
	(void)point;
#endif
}
