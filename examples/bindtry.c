// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bindtry: try one bind() the way a service would, optionally presenting a token first.
 *   bindtry tcp|udp PORT [TOKEN]
 * Prints the port bound, or the error; exits 0 when the bind succeeded. PORT 0 asks for
 * any port (from the reservation when a token is given).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <portrsv.h>

static int number(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end || *v > max ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	uint64_t port, token = 0;
	int udp, fd, err;

	if (argc < 3 || argc > 4 || (strcmp(argv[1], "tcp") && strcmp(argv[1], "udp")) ||
	    number(argv[2], 65535, &port) || (argc == 4 && number(argv[3], UINT64_MAX, &token))) {
		fprintf(stderr, "usage: bindtry tcp|udp PORT [TOKEN]\n");
		return 2;
	}
	udp = !strcmp(argv[1], "udp");
	fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (argc == 4 && (err = portrsv_associate(fd, token))) {
		printf("associate %s: %s\n", argv[3], strerror(-err));
		return 1;
	}
	a.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		printf("bind %s %" PRIu64 "%s: %s\n", argv[1], port, argc == 4 ? " with token" : "",
		       strerror(errno));
		return 1;
	}
	getsockname(fd, (struct sockaddr *)&a, &len);
	printf("bind %s %" PRIu64 "%s: ok, bound port %u\n", argv[1], port,
	       argc == 4 ? " with token" : "", ntohs(a.sin_port));
	close(fd);
	return 0;
}
