// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* why: every reason a bind of a port would fail or be surprising. Never prints a token. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

int cmd_why(int argc, char **argv)
{
	char owner[PATH_MAX], eowner[4 * PATH_MAX], ecomment[6 * PORTRSV_COMMENT_LEN],
		block[BLOCK_LEN];
	struct portrsv_reservation r;
	struct portrsv_denial d;
	bool have_denial = false, present = false;
	enum portrsv_proto proto;
	struct portrsv *p;
	uint16_t port;
	struct args a;
	int err;

	err = parse(argc, argv, 2, "PROTO PORT", O_NETNS O_JSON, &a);
	if (err || a.help)
		return err;
	err = parse_block(&a, &proto, &port, NULL);
	if (!err)
		err = check_netns(a.netns);
	if (err)
		return err;
	p = open_or_fail(&err);
	if (!p)
		return err;
	PORTRSV_OPTS(portrsv_ns_opts, o, .netns = a.netns);
	err = portrsv_query(p, proto, port, &o, &r);
	if (!err && portrsv_last_denial(p, proto, port, &o, &d) == 0)
		have_denial = true;
	if (!err)
		owner_path(p, &r, owner, sizeof(owner), &present);
	portrsv_close(p);
	if (err == -ENOENT) {
		fprintf(stderr, "portrsv: why: %s %u is outside every reservation\n", a.pos[0], port);
		return PORTRSV_EXIT_NOTFOUND;
	}
	if (err)
		return fail(err, "%s %u", a.pos[0], port);
	portrsv_escape(owner, eowner, sizeof(eowner));
	portrsv_escape(r.comment, ecomment, sizeof(ecomment));
	printf("%s %u is reserved by %s %s (%" PRIu64 " binds denied)%s%s%s%s%s\n", a.pos[0],
	       port, a.pos[0], block_name(r.start, r.count, block), r.denied,
	       owner[0] ? ", owner " : "", eowner,
	       owner[0] && !present ? " (not present yet: refused to everyone)" : "",
	       r.comment[0] ? ", comment: " : "", ecomment);
	if (have_denial) {
		/* Who was refused: what an operator asks first when a service cannot bind. */
		char when[48], cg[PATH_MAX], comm[17], ecomm[6 * 17], ecg[4 * PATH_MAX];

		boot_time(d.ts_boot_ns, false, when, sizeof(when));
		cgroup_label(d.cgid, cg, sizeof(cg));
		comm_string(d.comm, comm);
		portrsv_escape(comm, ecomm, sizeof(ecomm));
		portrsv_escape(cg, ecg, sizeof(ecg));
		printf("last refused here at %s: pid %u (%s), uid %u, %s; %" PRIu64
		       " bind%s of this port refused\n", when, d.pid, ecomm, d.uid, ecg,
		       (uint64_t)d.count, d.count == 1 ? "" : "s");
	}
	return 0;
}
