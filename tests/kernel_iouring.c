// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* io_uring's IORING_OP_BIND (Linux 6.11) goes through the same cgroup hook as bind(): the
 * same decisions. Raw io_uring syscalls, since Debian's liburing predates the bind op. */
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "testlib.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */

struct kt_env kt;

#define START 7100
#define COUNT 4

/* One IORING_OP_BIND of fd to 127.0.0.1:port; the completion's result (0 or -errno). */
static int uring_bind(int fd, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct io_uring_params p = { 0 };
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqe;
	unsigned *sq_tail, *sq_array, *cq_head;
	void *sq, *cq;
	size_t sq_len, cq_len;
	int ring, res;

	ring = syscall(__NR_io_uring_setup, 1, &p);
	cr_assert(ring >= 0, "io_uring_setup: %s", strerror(errno));
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		    IORING_OFF_SQES);
	cr_assert(sq != MAP_FAILED && cq != MAP_FAILED && sqes != MAP_FAILED);

	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = PORTRSV_IORING_OP_BIND;
	sqes[0].fd = fd;
	sqes[0].addr = (uintptr_t)&a;
	sqes[0].addr2 = sizeof(a);
	sq_array = (unsigned *)((char *)sq + p.sq_off.array);
	sq_tail = (unsigned *)((char *)sq + p.sq_off.tail);
	sq_array[*sq_tail & (p.sq_entries - 1)] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);

	cr_assert_eq(syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0), 1,
		     "io_uring_enter: %s", strerror(errno));
	cq_head = (unsigned *)((char *)cq + p.cq_off.head);
	cqe = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes) +
	      (*cq_head & (p.cq_entries - 1));
	res = cqe->res;
	__atomic_store_n(cq_head, *cq_head + 1, __ATOMIC_RELEASE);

	munmap(sqes, p.sq_entries * sizeof(*sqes));
	munmap(cq, cq_len);
	munmap(sq, sq_len);
	close(ring);
	return res;
}

struct uring_row {
	const char name[24];
	int proto;
	bool token;
	uint16_t port;
	int want;
};

ParameterizedTestParameters(uring, bind)
{
	static struct uring_row rows[] = {
		{ "tcp no token", IPPROTO_TCP, false, START + 1, -EACCES },
		{ "tcp token", IPPROTO_TCP, true, START + 1, 0 },
		{ "tcp token port 0", IPPROTO_TCP, true, 0, 0 },
		{ "tcp outside", IPPROTO_TCP, false, START + COUNT, 0 },
		{ "udp no token", IPPROTO_UDP, false, START, -EACCES },
		{ "udp token", IPPROTO_UDP, true, START, 0 },
		{ "mptcp no token", IPPROTO_MPTCP, false, START + 2, -EACCES },
	};

	return cr_make_param_array(struct uring_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct uring_row *row, uring, bind, .init = kt_setup, .fini = kt_teardown)
{
	enum portrsv_proto space = row->proto == IPPROTO_UDP ? PORTRSV_UDP : PORTRSV_TCP;
	uint64_t token = kt_reserve(space, START, COUNT);
	int fd = kt_socket(KT_V4, row->proto);
	int res;

	kt_need(PORTRSV_FEAT_IOURING_BIND);
	if (row->token)
		cr_assert_eq(portrsv_associate(fd, token), 0);
	res = uring_bind(fd, row->port);
	cr_assert_eq(res, row->want, "%s: io_uring bind gave %d (%s), want %d", row->name, res,
		     strerror(-res), row->want);
	if (!res) {
		uint16_t port = kt_port(fd);

		cr_assert(row->port ? port == row->port : port >= START && port < START + COUNT,
			  "%s: bound to %u", row->name, port);
	}
	close(fd);
}

/* The probe tells the truth: where it says io_uring has no bind op, the op really fails. */
Test(uring, probe, .init = kt_setup, .fini = kt_teardown)
{
	bool present = portrsv_feature_present(PORTRSV_FEAT_IOURING_BIND);
	int fd = kt_socket(KT_V4, IPPROTO_TCP);
	int res = uring_bind(fd, START + COUNT);

	cr_assert_eq(res == 0, present, "probe says %s, but io_uring bind gave %d (%s)",
		     present ? "present" : "missing", res, strerror(-res));
	if (!present)
		cr_assert_eq(res, -EINVAL, "an unknown io_uring op must fail with EINVAL, got %d", res);
	close(fd);
}
