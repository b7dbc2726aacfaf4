// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Persistent reservations: add, delete, lookup. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

/* add and lookup --json: the reservation as show --json lists it. */
static int print_json(struct portrsv *p, enum portrsv_proto proto, uint16_t start,
		      const char *netns)
{
	struct portrsv_reservation r;
	int err;

	PORTRSV_OPTS(portrsv_ns_opts, o, .netns = netns);
	err = portrsv_query(p, proto, start, &o, &r);
	if (err)
		return err;
	jprint(resv_json(p, &r));
	return 0;
}

static void print_token(uint64_t token)
{
	char tok[TOKEN_LEN];

	puts(token_string(token, tok));
}

int cmd_add(int argc, char **argv)
{
	char block[BLOCK_LEN];
	enum portrsv_proto proto;
	uint16_t start, count, limit = 0;
	struct portrsv *p;
	uint64_t token;
	struct args a;
	int err;

	err = parse(argc, argv, 3, "PROTO START COUNT",
		    O_OWNER O_NETNS O_COMMENT O_POOL O_LIMIT O_JSON, &a);
	if (err || a.help)
		return err;
	err = parse_block(&a, &proto, &start, &count);
	if (err)
		return err;
	if (a.comment && strlen(a.comment) >= PORTRSV_COMMENT_LEN)
		return usage_error("comment longer than %d bytes", PORTRSV_COMMENT_LEN - 1);
	for (const char *c = a.comment; c && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return usage_error("comment has a control character (byte 0x%02x): it is "
					   "one line in listings and in the store",
					   (unsigned char)*c);
	if (a.limit && !a.pool)
		return usage_error("--limit applies to pools only (add --pool)");
	if (a.pool && a.owner)
		return usage_error("a pool has no owner cgroup: its ports go to runtime "
				   "reservations only (drop --owner or --pool)");
	if (a.limit && (portrsv_parse_count(a.limit, &limit) || limit > count))
		return usage_error("limit '%s' is not a number from 1 to %u (the pool's ports; "
				   "without --limit only uid 0 acquires)", a.limit, count);
	p = open_or_fail(&err);
	if (!p)
		return err;
	if (a.owner)
		err = check_cgroup("owner cgroup", a.owner);
	if (!err)
		err = check_netns(a.netns);
	if (err) {
		portrsv_close(p);
		return err;
	}
	PORTRSV_OPTS(portrsv_create_opts, o, .owner_cgroup = a.owner, .netns = a.netns,
		     .comment = a.comment, .pool = a.pool, .limit = limit);
	err = portrsv_create(p, proto, start, count, &o, &token);
	if (err) {
		portrsv_close(p);
		return fail(err, "%s %s", a.pos[0], block_name(start, count, block));
	}
	/* Durable and enforced from here on: a failure to describe it is no failure to add. */
	if (!a.json || print_json(p, proto, start, a.netns))
		print_token(token);
	portrsv_close(p);
	/* Stored, but refused to nobody: the operator must hear it now, not at the outage. */
	portrsv_set_errmsg(NULL);
	if (portrsv_enforcing(NULL) && portrsv_errmsg()[0])
		fprintf(stderr, "portrsv: add: warning: %s\n", portrsv_errmsg());
	portrsv_set_errmsg(NULL);
	return 0;
}

int cmd_delete_lookup(int argc, char **argv)
{
	bool del = !strcmp(argv[0], "delete");
	char block[BLOCK_LEN];
	enum portrsv_proto proto;
	uint16_t start, count;
	struct portrsv *p;
	uint64_t token;
	struct args a;
	int err;

	err = parse(argc, argv, 3, "PROTO START COUNT", del ? O_NETNS : O_NETNS O_JSON, &a);
	if (err || a.help)
		return err;
	err = parse_block(&a, &proto, &start, &count);
	if (err)
		return err;
	p = open_or_fail(&err);
	if (!p)
		return err;
	/* delete also takes a netns that is gone: its reservations may live on in the store. */
	err = del ? 0 : check_netns(a.netns);
	if (err) {
		portrsv_close(p);
		return err;
	}
	block_name(start, count, block);
	PORTRSV_OPTS(portrsv_ns_opts, o, .netns = a.netns);
	err = del ? portrsv_delete(p, proto, start, count, &o)
		  : portrsv_lookup(p, proto, start, count, &o, &token);
	if (!err && !del && a.json)
		err = print_json(p, proto, start, a.netns);
	else if (!err && !del)
		print_token(token);
	portrsv_close(p);
	if (err == -ENOENT && a.netns && access(a.netns, F_OK)) {
		fprintf(stderr, "portrsv: %s: netns %s does not exist, and the store has no %s "
			"%s for it\n", cli_cmd->name, a.netns, a.pos[0], block);
		return portrsv_errno_to_exit(err);
	}
	if (err == -ENOENT && !portrsv_errmsg()[0]) {
		fprintf(stderr, "portrsv: %s: no reservation %s %s%s%s (exactly this block; "
			"'portrsv show' lists them)\n", cli_cmd->name, a.pos[0], block,
			a.netns ? " in netns " : "", a.netns ? a.netns : "");
		return portrsv_errno_to_exit(err);
	}
	return err ? fail(err, "%s %s", a.pos[0], block) : 0;
}
