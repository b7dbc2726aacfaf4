// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Denied binds as journal lines (`portrsv monitor --log`, run by portrsv-monitor.service):
 * one line per denial, naming the port, the process, its cgroup and the reservation, e.g.
 *   <4>tcp 8084 refused to nginx [1234] uid 0 in /system.slice/nginx.service: reserved 8080-8089 'web pool'
 * ("<4>" is the warning level for journald's stdout stream), never the token. A token bucket
 * keeps a storm of denials from flooding the journal: past it, lines are folded into a
 * count, written before the next line that may go and when the monitor stops.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

void portrsv_denylog_init(struct portrsv_denylog *d, unsigned rate, unsigned burst)
{
	memset(d, 0, sizeof(*d));
	d->rate = rate;
	d->burst = burst;
	d->tokens = burst;
}

bool portrsv_denylog_take(struct portrsv_denylog *d, uint64_t now_ns)
{
	if (d->last_ns && now_ns > d->last_ns) {
		d->tokens += (double)(now_ns - d->last_ns) * d->rate / 1e9;
		if (d->tokens > d->burst)
			d->tokens = d->burst;
	}
	d->last_ns = now_ns;
	if (d->tokens >= 1) {
		d->tokens -= 1;
		return true;
	}
	d->folded++;
	return false;
}

int portrsv_denylog_folded(struct portrsv_denylog *d, char *buf, size_t len)
{
	int n = 0;

	if (d->folded)
		n = snprintf(buf, len, "<4>%" PRIu64 " more denied bind%s folded (rate limit %u/s)",
			     d->folded, d->folded == 1 ? "" : "s", d->rate);
	d->folded = 0;
	return n;
}

int portrsv_denylog_line(struct portrsv *p, const struct portrsv_event *e, char *buf, size_t len)
{
	struct portrsv_key k = { .netns = e->netns, .port = e->resv_start, .proto = e->proto };
	char comm[sizeof(e->comm) + 1], ecomm[6 * sizeof(e->comm) + 1], cg[PATH_MAX],
		ecg[PATH_MAX], mnt[PATH_MAX], block[16], ecomment[6 * PORTRSV_COMMENT_LEN + 1] = "";
	const char *rel = cg;
	struct portrsv_resv r;
	size_t m;

	memcpy(comm, e->comm, sizeof(e->comm));
	comm[sizeof(e->comm)] = '\0';
	portrsv_escape(comm, ecomm, sizeof(ecomm));
	if (portrsv_cgroup_path(e->cgid, cg, sizeof(cg)))
		snprintf(cg, sizeof(cg), "cgroup %" PRIu64 " (gone)", (uint64_t)e->cgid);
	else if (!portrsv_cgroup2_mount(mnt, sizeof(mnt)) && (m = strlen(mnt)) &&
		 !strncmp(cg, mnt, m) && (cg[m] == '/' || !cg[m]))
		rel = cg[m] ? cg + m : "/";
	portrsv_escape(rel, ecg, sizeof(ecg));
	portrsv_block_format(e->resv_start, e->resv_count, block, sizeof(block));
	if (p && !bpf_map_lookup_elem(p->resv_fd, &k, &r) && r.comment[0]) {
		r.comment[sizeof(r.comment) - 1] = '\0';
		portrsv_escape(r.comment, ecomment, sizeof(ecomment));
	}
	if (e->err == EADDRINUSE)
		return snprintf(buf, len, "<4>%s port 0 refused to %s [%u] uid %u in %s: every "
				"port of reserved %s%s%s%s is taken", portrsv_proto_name(e->proto),
				ecomm, e->pid, e->uid, ecg, block, ecomment[0] ? " '" : "",
				ecomment, ecomment[0] ? "'" : "");
	return snprintf(buf, len, "<4>%s %u refused to %s [%u] uid %u in %s: reserved %s%s%s%s",
			portrsv_proto_name(e->proto), e->port, ecomm, e->pid, e->uid, ecg, block,
			ecomment[0] ? " '" : "", ecomment, ecomment[0] ? "'" : "");
}
