// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * net.ipv4.ip_local_reserved_ports of the calling thread's netns: the kernel's own port
 * choice (bind(0), connect() and sendto() autobind, listen() without bind) skips these
 * ports, so an unassociated socket is never handed a reserved port. (It applies to IPv6
 * too.) Ports the administrator put there are never removed: each port entry remembers
 * whether it was there before portrsv (PORTRSV_PORT_ADMIN, lib.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define SYSCTL "/proc/sys/net/ipv4/ip_local_reserved_ports"
#define NPORTS (PORTRSV_PORT_MAX + 1)

/* Parse "1,5-9,..." into a bitmap; the kernel writes it, but check anyway. */
static int parse_list(const char *s, unsigned char *bits)
{
	char *end;

	while (*s && *s != '\n') {
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s || a >= NPORTS)
			return -EINVAL;
		s = end;
		if (*s == '-') {
			b = strtoul(s + 1, &end, 10);
			if (end == s + 1 || b >= NPORTS || b < a)
				return -EINVAL;
			s = end;
		}
		for (unsigned long p = a; p <= b; p++)
			bits[p / 8] |= 1 << (p % 8);
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -EINVAL;
	}
	return 0;
}

static bool is_set(const unsigned char *bits, unsigned p)
{
	return bits[p / 8] & (1 << (p % 8));
}

int portrsv_sysctl_read(unsigned char *bits)
{
	char *buf;
	ssize_t n;
	int fd, err;

	memset(bits, 0, NPORTS / 8);
	fd = open(SYSCTL, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(1 << 20);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (1 << 20) - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (!err) {
		buf[n] = '\0';
		err = parse_list(buf, bits);
	}
	free(buf);
	return err;
}

int portrsv_sysctl_write(const unsigned char *bits)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	int fd, err = 0;

	if (!buf)
		return -ENOMEM;
	for (unsigned p = 0; p < NPORTS; p++) {
		unsigned q = p;

		if (!is_set(bits, p))
			continue;
		while (q + 1 < NPORTS && is_set(bits, q + 1))
			q++;
		len += snprintf(buf + len, cap - len, len ? ",%u" : "%u", p);
		if (q > p)
			len += snprintf(buf + len, cap - len, "-%u", q);
		p = q;
	}
	buf[len++] = '\n';
	fd = open(SYSCTL, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		err = -errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}
