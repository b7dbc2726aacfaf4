// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Journal lines of denied binds: their format and the rate limit (user/denylog.c). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>
#include "internal.h"

#define MS 1000000ULL

/* Rate 10/s, burst 5: which of a run of denials at these times are written. */
struct rl_row {
	char name[32];
	int n;
	uint64_t gap_ns;    /* between denials */
	int written;        /* lines that may go */
	uint64_t folded;    /* counted instead */
};

static struct rl_row rl_rows[] = {
	{ "under_burst", 5, 0, 5, 0 },
	{ "storm", 1000, 0, 5, 995 },
	{ "at_the_rate", 50, 100 * MS, 50, 0 },
	{ "twice_the_rate", 100, 50 * MS, 54, 46 }, /* 5 + 99 x 0.5 tokens */
	{ "slow", 10, 1000 * MS, 10, 0 },
};

ParameterizedTestParameters(denylog, rate_limit)
{
	return cr_make_param_array(struct rl_row, rl_rows, sizeof(rl_rows) / sizeof(rl_rows[0]));
}

ParameterizedTest(struct rl_row *row, denylog, rate_limit)
{
	struct portrsv_denylog d;
	uint64_t t = 1000 * MS;
	char line[128];
	int written = 0;

	portrsv_denylog_init(&d, 10, 5);
	for (int i = 0; i < row->n; i++, t += row->gap_ns)
		written += portrsv_denylog_take(&d, t);
	cr_assert_eq(written, row->written, "%s: %d written", row->name, written);
	cr_assert_eq(d.folded, row->folded, "%s: %lu folded", row->name, (unsigned long)d.folded);
	/* Every denial is written or counted, and the count is said once. */
	cr_assert_eq((uint64_t)written + d.folded, (uint64_t)row->n);
	if (row->folded) {
		char want[96];

		snprintf(want, sizeof(want), "<4>%lu more denied binds folded (rate limit 10/s)",
			 (unsigned long)row->folded);
		cr_assert_gt(portrsv_denylog_folded(&d, line, sizeof(line)), 0);
		cr_assert_str_eq(line, want);
	}
	cr_assert_eq(portrsv_denylog_folded(&d, line, sizeof(line)), 0, "%s: said twice", row->name);
}

struct line_row {
	char name[24];
	char comm[16];
	uint16_t port, start, count;
	int err;
	char want[160];
};

static struct line_row line_rows[] = {
	{ "refused", "nginx", 8084, 8080, 10, EACCES,
	  "<4>tcp 8084 refused to nginx [1234] uid 0 in cgroup 999999999 (gone): reserved 8080-8089" },
	{ "one_port", "sshd", 2222, 2222, 1, EACCES,
	  "<4>tcp 2222 refused to sshd [1234] uid 0 in cgroup 999999999 (gone): reserved 2222" },
	{ "exhausted", "worker", 0, 9000, 4, EADDRINUSE,
	  "<4>tcp port 0 refused to worker [1234] uid 0 in cgroup 999999999 (gone): every port "
	  "of reserved 9000-9003 is taken" },
	{ "forged_comm", "x\nportrsv: ok", 8084, 8080, 10, EACCES,
	  "<4>tcp 8084 refused to x\\u000aportrsv: ok [1234] uid 0 in cgroup 999999999 (gone): "
	  "reserved 8080-8089" },
	{ "escape_comm", "\x1b[2J\xff", 8084, 8080, 10, EACCES,
	  "<4>tcp 8084 refused to \\u001b[2J\\xff [1234] uid 0 in cgroup 999999999 (gone): "
	  "reserved 8080-8089" },
};

ParameterizedTestParameters(denylog, line)
{
	return cr_make_param_array(struct line_row, line_rows,
				   sizeof(line_rows) / sizeof(line_rows[0]));
}

ParameterizedTest(struct line_row *row, denylog, line)
{
	struct portrsv_event e = { .cgid = 999999999, .pid = 1234, .port = row->port,
				   .resv_start = row->start, .resv_count = row->count,
				   .proto = PORTRSV_PROTO_TCP, .err = row->err, .token = 0x1234abcd };
	char line[512];

	memcpy(e.comm, row->comm, sizeof(e.comm));
	portrsv_denylog_line(NULL, &e, line, sizeof(line));
	cr_assert_str_eq(line, row->want, "%s", row->name);
	cr_assert(!strstr(line, "1234abcd"), "the token is a secret: %s", line);
}
