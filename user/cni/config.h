/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * portrsv-cni's input: the network configuration on stdin (CNI spec 1.0.0 and 1.1.0), parsed
 * with json-c and checked here, before anything is reserved. Who reads this file first reads
 * what the plugin accepts; man/portrsv-cni.8 says the same for the administrator.
 */
#ifndef PORTRSV_CNI_CONFIG_H
#define PORTRSV_CNI_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "portrsv.h"

#define CNI_MAX_INPUT (4 << 20)  /* stdin larger than this is refused */
#define CNI_MAX_MAPPINGS 65535   /* a range arrives as one entry per port */

/*
 * Error codes of the CNI error object. 1-99 are the spec's well-known codes; 100 and up are
 * portrsv-cni's own (portrsv-cni(8), ERRORS).
 */
enum cni_code {
	CNI_ERR_VERSION = 1,      /* incompatible CNI version */
	CNI_ERR_FIELD = 2,        /* unsupported field in the network config */
	CNI_ERR_ENV = 4,          /* invalid or missing CNI_* environment variable */
	CNI_ERR_IO = 5,           /* I/O failure (stdin) */
	CNI_ERR_DECODE = 6,       /* stdin is not JSON */
	CNI_ERR_CONFIG = 7,       /* invalid network config */
	CNI_ERR_AGAIN = 11,       /* try again later: a transient failure (EAGAIN, EBUSY) */
	CNI_ERR_UNAVAILABLE = 50, /* STATUS: portrsv is not loaded */
	CNI_ERR_PORT_IN_USE = 100,   /* a host process uses the host port */
	CNI_ERR_PORT_RESERVED = 101, /* another container or reservation holds the host port */
	CNI_ERR_OWNER = 102,         /* the owner cgroup is missing, not cgroup v2, or the root */
	CNI_ERR_NOT_LOADED = 103,    /* ADD/CHECK: portrsv is not loaded */
	CNI_ERR_MISSING = 104,       /* CHECK: a reservation of the container is missing */
	CNI_ERR_PROTOCOL = 105,      /* a port mapping's protocol is not tcp or udp (sctp) */
	CNI_ERR_DENIED = 106,        /* not privileged to change reservations */
	CNI_ERR_PORTRSV = 107,       /* any other error of portrsv */
};

struct cni_error {
	int code;
	char msg[256];
	char details[1024];
};

enum cni_cmd { CNI_ADD, CNI_DEL, CNI_CHECK, CNI_GC, CNI_STATUS, CNI_VERSION };

struct cni_mapping {
	enum portrsv_proto proto;
	uint16_t host_port;
	char host_ip[46]; /* INET6_ADDRSTRLEN; "" = every address */
};

struct cni_config {
	char version[8];          /* "1.0.0" or "1.1.0" */
	char name[256];           /* the network's name */
	char owner[PATH_MAX];     /* "owner"; "" = the default (the caller's cgroup) */
	struct cni_mapping *maps; /* runtimeConfig.portMappings, one per (protocol, host port) */
	size_t nmaps;
	json_object *prev_result; /* borrowed from root; NULL when absent (DEL, GC, STATUS) */
	char **valid;             /* GC: the containerIDs of cni.dev/valid-attachments */
	size_t nvalid;
	json_object *root;
};

/* The versions this plugin speaks, oldest first. */
extern const char *const cni_versions[];

/* A command name (CNI_COMMAND) to its value: 0, or -1 when unknown. */
int cni_command(const char *s, enum cni_cmd *cmd);

/*
 * Parse and check the config of command cmd from buf[0..len). 0, or -1 with *e filled
 * (code, msg, details). c is zeroed first and is the caller's to free either way.
 */
int cni_config_parse(const char *buf, size_t len, enum cni_cmd cmd, struct cni_config *c,
		     struct cni_error *e);
void cni_config_free(struct cni_config *c);

/* Fill *e; returns -1, for `return cni_fail(...)`. */
int cni_fail(struct cni_error *e, int code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif /* PORTRSV_CNI_CONFIG_H */
