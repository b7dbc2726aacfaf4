// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reserve: the example of CreatePersistentTcpPortReservation from the Windows documentation,
 * ported to Linux. It creates a persistent TCP port reservation, allocates a port from it to
 * a socket, then closes the socket and deletes the reservation.
 *
 *   reserve <Starting Port> <Number of Ports>
 *
 * portrsv_associate() stands where Windows calls WSAIoctl(SIO_ASSOCIATE_PORT_RESERVATION).
 * Must run as root, with portrsv loaded (portrsv load). Exits 0 when every step succeeded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <portrsv.h>
#include <portrsv/iphlpapi.h>

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s <Starting Port> <Number of Ports>\n", prog);
	fprintf(stderr, "Creates a persistent TCP port reservation\n");
	fprintf(stderr, "Example usage:\n");
	fprintf(stderr, "   %s 5000 20\n", prog);
	fprintf(stderr, "   where StartPort=5000 NumPorts=20\n");
}

/* A decimal number from 0 to 65535, digits only: no sign, no blanks, nothing after. */
static int parse_ushort(const char *s, USHORT *v)
{
	unsigned long n;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n > 65535)
		return -1;
	*v = (USHORT)n;
	return 0;
}

/* Allocate a port of the reservation to a new socket, print it; 0 on success. */
static int allocate(ULONG64 token)
{
	struct sockaddr_in service = { .sin_family = AF_INET };
	struct sockaddr_in name;
	socklen_t len = sizeof(name);
	int sock, err, ret = 1;

	sock = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (sock < 0) {
		fprintf(stderr, "socket function failed with error = %d\n", errno);
		return 1;
	}
	printf("socket function succeeded\n");

	err = portrsv_associate(sock, token);
	if (err) {
		fprintf(stderr, "portrsv_associate failed with error = %d (%s)\n", -err,
			strerror(-err));
		goto out;
	}
	printf("portrsv_associate succeeded\n");

	service.sin_addr.s_addr = htonl(INADDR_ANY);
	service.sin_port = 0;
	if (bind(sock, (struct sockaddr *)&service, sizeof(service))) {
		fprintf(stderr, "bind failed with error = %d (%s)\n", errno, strerror(errno));
		goto out;
	}
	printf("bind succeeded\n");

	if (getsockname(sock, (struct sockaddr *)&name, &len)) {
		fprintf(stderr, "getsockname failed with error = %d\n", errno);
		goto out;
	}
	printf("getsockname succeeded\n");
	printf("Port number allocated = %u\n", ntohs(name.sin_port));
	ret = 0;
out:
	if (close(sock))
		fprintf(stderr, "close failed with error = %d\n", errno);
	return ret;
}

int main(int argc, char **argv)
{
	USHORT start, count, start_ns;
	ULONG64 token = INVALID_PORT_RESERVATION_TOKEN;
	ULONG status;
	int ret;

	if (argc != 3 || parse_ushort(argv[1], &start) || parse_ushort(argv[2], &count)) {
		usage(argv[0]);
		return 1;
	}
	start_ns = htons(start);

	status = CreatePersistentTcpPortReservation(start_ns, count, &token);
	if (status != NO_ERROR) {
		fprintf(stderr, "CreatePersistentTcpPortReservation returned error: %lu\n",
			(unsigned long)status);
		return 1;
	}
	printf("CreatePersistentTcpPortReservation call succeeded\n");
	printf("  Token = 0x%016llx\n", (unsigned long long)token);

	ret = allocate(token);

	status = DeletePersistentTcpPortReservation(start_ns, count);
	if (status != NO_ERROR) {
		fprintf(stderr, "DeletePersistentTcpPortReservation returned error: %lu\n",
			(unsigned long)status);
		return 1;
	}
	printf("DeletePersistentTcpPortReservation call succeeded\n");
	return ret;
}
