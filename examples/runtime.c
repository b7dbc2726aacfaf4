// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * runtime: Windows' example for SIO_ACQUIRE_PORT_RESERVATION, ported. It opens a socket of
 * the given family, type and protocol, acquires a runtime reservation on it, associates a
 * second socket with the reservation's token, binds that one to port 0 (so it gets a port of
 * the block), prints the port, and releases the reservation.
 *   runtime FAMILY TYPE PROTOCOL START COUNT
 * with Linux's numbers: AF_INET=2 AF_INET6=10, SOCK_STREAM=1 SOCK_DGRAM=2, IPPROTO_TCP=6
 * IPPROTO_UDP=17; START 0 asks for any free block of COUNT ports. E.g. `runtime 2 2 17 0 20`.
 * Needs a pool (portrsv add udp 5000 100 --pool --limit 20) and no privilege.
 *
 * Differences from Windows' sample: Winsock needs no WSAStartup here; errors of the socket
 * calls are errno (printed with strerror), those of WSAIoctl WSAGetLastError(); the sample
 * associates and binds the acquiring socket where its text says "second socket", and this
 * port does what the text says (Windows would allow either); it exits 1 on any failure, where
 * the sample exits 0 once the acquire succeeded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <portrsv/mstcpip.h>

static int number(const char *s, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return !*s || *end || errno || *v < min || *v > max ? -1 : 0;
}

int main(int argc, char **argv)
{
	long family, type, protocol, start, count;
	INET_PORT_RANGE portRange = { 0 };
	INET_PORT_RESERVATION_INSTANCE portRes = { 0 };
	struct sockaddr_storage service = { 0 }, sockName;
	socklen_t nameLen = sizeof(sockName);
	SOCKET sock, sockRes;
	DWORD bytesReturned = 0;
	uint16_t port;
	int status = 0;

	if (argc != 6) {
		printf("usage: %s <addressfamily> <type> <protocol> <StartingPort> <NumberOfPorts>\n",
		       argv[0]);
		printf("Opens a socket for the specified family, type, & protocol\n");
		printf("and then acquires a runtime port reservation for the protocol specified\n");
		printf("%s example usage\n", argv[0]);
		printf("   %s 2 2 17 5000 20\n", argv[0]);
		printf("   where AF_INET=2 SOCK_DGRAM=2 IPPROTO_UDP=17 StartPort=5000 NumPorts=20\n");
		return 1;
	}
	if (number(argv[1], 0, 255, &family) || number(argv[2], 0, 255, &type) ||
	    number(argv[3], 0, 255, &protocol) || (family != AF_INET && family != AF_INET6)) {
		printf("family must be %d (AF_INET) or %d (AF_INET6); type and protocol numbers\n",
		       AF_INET, AF_INET6);
		return 1;
	}
	if (number(argv[4], 0, 65535, &start)) {
		printf("Starting point must be either 0 or between 1 and 65,535\n");
		return 1;
	}
	if (number(argv[5], 0, 65535, &count)) {
		printf("Number of ports must be a positive number\n");
		return 1;
	}
	portRange.StartPort = htons((USHORT)start);
	portRange.NumberOfPorts = (USHORT)count;

	sock = socket((int)family, (int)type, (int)protocol);
	if (sock == INVALID_SOCKET) {
		printf("socket function failed with error = %s\n", strerror(errno));
		return 1;
	}
	printf("socket function succeeded\n");

	if (WSAIoctl(sock, SIO_ACQUIRE_PORT_RESERVATION, &portRange, sizeof(INET_PORT_RANGE),
		     &portRes, sizeof(INET_PORT_RESERVATION_INSTANCE), &bytesReturned, NULL,
		     NULL) != 0) {
		printf("WSAIoctl(SIO_ACQUIRE_PORT_RESERVATION) failed with error = %d\n",
		       WSAGetLastError());
		close(sock);
		return 1;
	}
	printf("WSAIoctl(SIO_ACQUIRE_PORT_RESERVATION) succeeded, bytesReturned = %u\n",
	       bytesReturned);
	printf("  Starting port=%d,  Number of Ports=%d, Token=0x%016" PRIx64 "\n",
	       ntohs(portRes.Reservation.StartPort), portRes.Reservation.NumberOfPorts,
	       (uint64_t)portRes.Token.Token);

	sockRes = socket((int)family, (int)type, (int)protocol);
	if (sockRes == INVALID_SOCKET) {
		printf("socket function for second socket failed with error = %s\n",
		       strerror(errno));
		close(sock);
		return 1;
	}
	printf("socket function for second socket succeeded\n");

	if (WSAIoctl(sockRes, SIO_ASSOCIATE_PORT_RESERVATION, &portRes.Token, sizeof(ULONG64),
		     NULL, 0, &bytesReturned, NULL, NULL) != 0) {
		printf("WSAIoctl(SIO_ASSOCIATE_PORT_RESERVATION) failed with error = %d\n",
		       WSAGetLastError());
		status = 1;
	} else {
		printf("WSAIoctl(SIO_ASSOCIATE_PORT_RESERVATION) succeeded, bytesReturned = %u\n",
		       bytesReturned);
		service.ss_family = (sa_family_t)family; /* any address, port 0 */
		if (bind(sockRes, (struct sockaddr *)&service, family == AF_INET ?
			 sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) != 0) {
			printf("bind failed with error = %s\n", strerror(errno));
			status = 1;
		} else {
			printf("bind succeeded\n");
			if (getsockname(sockRes, (struct sockaddr *)&sockName, &nameLen) != 0) {
				printf("getsockname failed with error = %s\n", strerror(errno));
				status = 1;
			} else {
				port = family == AF_INET ?
					ntohs(((struct sockaddr_in *)&sockName)->sin_port) :
					ntohs(((struct sockaddr_in6 *)&sockName)->sin6_port);
				printf("getsockname succeeded\n");
				printf("Port number allocated = %u\n", port);
			}
		}
	}

	/* Comment out this block to keep the reservation until the first socket is closed. */
	if (WSAIoctl(sock, SIO_RELEASE_PORT_RESERVATION, &portRes.Token, sizeof(ULONG64), NULL, 0,
		     &bytesReturned, NULL, NULL) != 0) {
		printf("WSAIoctl(SIO_RELEASE_PORT_RESERVATION) failed with error = %d\n",
		       WSAGetLastError());
		status = 1;
	} else {
		printf("WSAIoctl(SIO_RELEASE_PORT_RESERVATION) succeeded, bytesReturned = %u\n",
		       bytesReturned);
	}

	if (close(sockRes) != 0)
		printf("closesocket for second socket failed with error = %s\n", strerror(errno));
	if (close(sock) != 0)
		printf("closesocket for first socket failed with error = %s\n", strerror(errno));
	return status;
}
