// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for portrsv-cni's config parser (user/cni/config.c), for every command:
 * it never crashes or leaks; what it accepts keeps the invariants the plugin relies on (a
 * known version, ports 1..65535 of tcp or udp, one mapping per (protocol, port), an address
 * that parses, prevResult for ADD and CHECK); what it refuses has a code and a one-line
 * message free of control bytes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "config.h"

#define check(cond, ...)                                       \
	do {                                                   \
		if (!(cond)) {                                 \
			fprintf(stderr, "fuzz_cni: %s: ", #cond); \
			fprintf(stderr, __VA_ARGS__);          \
			fputc('\n', stderr);                   \
			abort();                               \
		}                                              \
	} while (0)

static bool one_line(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static void accepted(const struct cni_config *c, enum cni_cmd cmd)
{
	unsigned char a[16];

	check(!strcmp(c->version, "1.0.0") || !strcmp(c->version, "1.1.0"), "version %s",
	      c->version);
	check(c->name[0], "empty name");
	check(!c->owner[0] || c->owner[0] == '/', "owner %s", c->owner);
	check(c->nmaps <= CNI_MAX_MAPPINGS, "%zu mappings", c->nmaps);
	for (size_t i = 0; i < c->nmaps; i++) {
		const struct cni_mapping *m = &c->maps[i];

		check(m->host_port >= 1, "port 0");
		check(m->proto == PORTRSV_TCP || m->proto == PORTRSV_UDP, "proto %d", m->proto);
		check(!m->host_ip[0] || inet_pton(AF_INET, m->host_ip, a) == 1 ||
			      inet_pton(AF_INET6, m->host_ip, a) == 1,
		      "hostIP %s", m->host_ip);
		for (size_t j = 0; j < i; j++)
			check(c->maps[j].proto != m->proto || c->maps[j].host_port != m->host_port,
			      "mapping %u twice", m->host_port);
	}
	if (cmd == CNI_ADD || cmd == CNI_CHECK)
		check(c->prev_result && json_object_is_type(c->prev_result, json_type_object),
		      "no prevResult");
	if (cmd == CNI_GC)
		for (size_t i = 0; i < c->nvalid; i++)
			check(c->valid[i], "NULL valid attachment");
	if (cmd == CNI_GC || cmd == CNI_STATUS)
		check(!strcmp(c->version, "1.1.0"), "%d under 1.0.0", cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum cni_cmd cmds[] = { CNI_ADD, CNI_DEL, CNI_CHECK, CNI_GC, CNI_STATUS };

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct cni_config c;
		struct cni_error e;
		int r = cni_config_parse((const char *)data, size, cmds[i], &c, &e);

		if (!r) {
			accepted(&c, cmds[i]);
		} else {
			check(r == -1, "returned %d", r);
			check(e.code > 0, "code %d", e.code);
			check(e.msg[0] && one_line(e.msg), "msg '%s'", e.msg);
			check(one_line(e.details), "details '%s'", e.details);
		}
		cni_config_free(&c);
	}
	return 0;
}
