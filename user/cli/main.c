// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* portrsv: the command's dispatch, and the usage of each command (`portrsv CMD --help`). */
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "cli.h"

#define NETNS_HELP "  --netns NSPATH   the netns: /run/netns/NAME (or just NAME), /proc/PID/ns/net,\n" \
		   "                   net:[INO] as show prints it; default: this process's\n"
#define JSON_HELP  "  --json           one JSON document on stdout\n"

static const struct cli_cmd cmds[] = {
	{ "load", cmd_load, "[--cgroup DIR]... [--json]",
	  "Load and pin the programs, attach to each cgroup v2 DIR (default: those the store\n"
	  "records, else the cgroup v2 root) and apply the store. Again: an atomic upgrade.\n"
	  JSON_HELP },
	{ "unload", cmd_unload, "", "Detach, remove the pins. The store is kept.\n" },
	{ "attach", cmd_attach, "DIR", "Enforce the reservations in the cgroup v2 subtree DIR.\n" },
	{ "detach", cmd_attach, "DIR", "Stop enforcing in the cgroup v2 subtree DIR.\n" },
	{ "add", cmd_add,
	  "PROTO START COUNT [--owner CGROUP_DIR] [--netns NSPATH] [--comment TEXT]\n"
	  "       [--pool [--limit PORTS]] [--json]",
	  "Reserve COUNT ports from START and print the block's token (0x and 16 hex digits).\n"
	  "  --owner DIR      processes of this cgroup v2 directory may bind without the token\n"
	  NETNS_HELP
	  "  --comment TEXT   up to 63 bytes, shown by show and why\n"
	  "  --pool           a pool that runtime reservations are acquired from (uid 0 only)\n"
	  "  --limit PORTS    with --pool: any process may acquire, at most PORTS per cgroup\n"
	  JSON_HELP },
	{ "delete", cmd_delete_lookup, "PROTO START COUNT [--netns NSPATH]",
	  "Delete exactly that block.\n" NETNS_HELP },
	{ "lookup", cmd_delete_lookup, "PROTO START COUNT [--netns NSPATH] [--json]",
	  "Print the token of exactly that block.\n" NETNS_HELP JSON_HELP },
	{ "show", cmd_show, "[PROTO] [--json]",
	  "List reservations, pools and runtime reservations, by protocol and port.\n" JSON_HELP },
	{ "why", cmd_why, "PROTO PORT [--netns NSPATH] [--json]",
	  "Every reason a bind of PORT would fail or be surprising: a reservation (and its\n"
	  "refused binds), sockets using the port, ip_local_reserved_ports, ip_local_port_range,\n"
	  "ip_unprivileged_port_start, a reservation in another netns. Exit 0 with a reason,\n"
	  "4 when the port is free.\n" NETNS_HELP JSON_HELP },
	{ "restore", cmd_restore, "[--json]",
	  "What boot runs: load if needed, attach the stored cgroups, make the kernel's\n"
	  "reservations equal to the store's. Idempotent.\n" JSON_HELP },
	{ "gc", cmd_gc, "[--json]",
	  "Drop reservations whose unnamed netns is gone for good.\n" JSON_HELP },
	{ "status", cmd_status, "[--json]",
	  "What is loaded, where it is enforced, what this kernel lacks, and every problem that\n"
	  "weakens enforcement (exit 1 when there is one).\n" JSON_HELP },
	{ "monitor", cmd_monitor, "[--json | --log [--rate N]]",
	  "Stream denied binds until interrupted, from now on.\n"
	  "  --json           one JSON object a line\n"
	  "  --log            journal lines (what portrsv-monitor.service runs), at most N a\n"
	  "                   second (--rate, 20 by default); the rest are counted\n" },
	{ "run", cmd_run, "PROTO START|0 COUNT -- CMD [ARG]...",
	  "Run CMD with a runtime reservation from a pool (START 0: any free block), given in\n"
	  "$PORTRSV_RUNTIME_START, _COUNT, _TOKEN and _FD. It ends when CMD exits.\n" },
};

static void usage(void)
{
	printf("Usage: portrsv COMMAND [ARGS]   ('portrsv COMMAND --help' for each)\n\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %s %s\n", cmds[i].name, cmds[i].usage);
	printf("\nPROTO is tcp or udp. Environment: PORTRSV_PIN_DIR (default "
	       PORTRSV_PIN_DIR_DEFAULT "),\nPORTRSV_STATE_DIR (default " PORTRSV_STATE_DIR_DEFAULT
	       ").\nExit status: 0 ok, 1 failure, 2 invalid arguments, 3 conflict, 4 not found,\n"
	       "5 permission denied, 6 not loaded.\n\nExamples:\n"
	       "  portrsv load --cgroup /sys/fs/cgroup/services\n"
	       "  portrsv add tcp 5000 20 --comment 'web pool'\n"
	       "  portrsv why tcp 5003\n"
	       "  portrsv show --json\n");
}

int main(int argc, char **argv)
{
	char ecmd[256];

	libbpf_set_print(libbpf_log);
	if (argc < 2)
		return usage_error("no command");
	if (!strcmp(argv[1], "--version")) {
		printf("portrsv %s\n", PORTRSV_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage();
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		cli_cmd = &cmds[i];
		return cmds[i].fn(argc - 1, argv + 1);
	}
	portrsv_escape(argv[1], ecmd, sizeof(ecmd));
	return usage_error("unknown command '%s'", ecmd);
}
