// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The network configuration of portrsv-cni (config.h): json-c reads it, this file checks
 * every field the plugin uses and refuses, with the field's name, what it cannot honour.
 * Fields it does not use (type, ipam, dns, containerPort...) pass untouched: the config is
 * the whole chain's.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"

const char *const cni_versions[] = { "1.0.0", "1.1.0", NULL };

static const char *const commands[] = {
	[CNI_ADD] = "ADD",	 [CNI_DEL] = "DEL",	  [CNI_CHECK] = "CHECK",
	[CNI_GC] = "GC",	 [CNI_STATUS] = "STATUS", [CNI_VERSION] = "VERSION",
};

int cni_command(const char *s, enum cni_cmd *cmd)
{
	for (size_t i = 0; s && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(s, commands[i])) {
			*cmd = (enum cni_cmd)i;
			return 0;
		}
	return -1;
}

int cni_fail(struct cni_error *e, int code, const char *details, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	snprintf(e->details, sizeof(e->details), "%s", details ? details : "");
	return -1;
}

/* Untrusted text in a message: at most 64 bytes, printable ASCII, the rest as '?'. */
static const char *shown(const char *s, size_t len, char *buf, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 4 < cap && n < 64; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (len > 64 && n + 4 < cap) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * The string at key of o: 0 with *s and *len; 1 when absent (or null); -1 (e filled) when it
 * is not a string or holds a NUL.
 */
static int get_string(json_object *o, const char *key, const char *where, const char **s,
		      size_t *len, struct cni_error *e)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 1;
	if (!json_object_is_type(v, json_type_string))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "%s%s is not a string", where, key);
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if (strlen(*s) != *len)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "%s%s has a NUL byte", where, key);
	return 0;
}

static int parse_version(json_object *root, enum cni_cmd cmd, struct cni_config *c,
			 struct cni_error *e)
{
	const char *s;
	size_t len;
	char q[80];
	int r = get_string(root, "cniVersion", "", &s, &len, e);

	if (r < 0)
		return r;
	if (r)
		return cni_fail(e, CNI_ERR_VERSION, "supported: 1.0.0, 1.1.0",
				"cniVersion is missing");
	for (size_t i = 0; cni_versions[i]; i++)
		if (!strcmp(s, cni_versions[i]))
			snprintf(c->version, sizeof(c->version), "%s", s);
	if (!c->version[0])
		return cni_fail(e, CNI_ERR_VERSION, "supported: 1.0.0, 1.1.0",
				"cniVersion '%s' is not supported", shown(s, len, q, sizeof(q)));
	/* GC and STATUS came with 1.1.0; a 1.0.0 runtime never sends them. */
	if ((cmd == CNI_GC || cmd == CNI_STATUS) && !strcmp(c->version, "1.0.0"))
		return cni_fail(e, CNI_ERR_VERSION, "GC and STATUS need cniVersion 1.1.0",
				"%s is not a command of cniVersion 1.0.0", commands[cmd]);
	return 0;
}

static int parse_owner(json_object *root, struct cni_config *c, struct cni_error *e)
{
	const char *s;
	size_t len;
	int r = get_string(root, "owner", "", &s, &len, e);

	if (r)
		return r < 0 ? r : 0;
	if (s[0] != '/')
		return cni_fail(e, CNI_ERR_OWNER, "a cgroup v2 directory, e.g. /sys/fs/cgroup/podman",
				"owner is not an absolute path");
	if (len >= sizeof(c->owner))
		return cni_fail(e, CNI_ERR_OWNER, NULL, "owner is longer than %zu bytes",
				sizeof(c->owner) - 1);
	memcpy(c->owner, s, len + 1);
	return 0;
}

static int parse_int(json_object *m, const char *key, size_t i, bool need, uint16_t *out,
		     struct cni_error *e)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(m, key, &v) || !v) {
		if (need)
			return cni_fail(e, CNI_ERR_CONFIG, NULL,
					"runtimeConfig.portMappings[%zu].%s is missing", i, key);
		return 1;
	}
	if (!json_object_is_type(v, json_type_int))
		return cni_fail(e, CNI_ERR_CONFIG, NULL,
				"runtimeConfig.portMappings[%zu].%s is not an integer", i, key);
	errno = 0;
	x = json_object_get_int64(v);
	if (errno || x < 1 || x > 65535)
		return cni_fail(e, CNI_ERR_CONFIG, NULL,
				"runtimeConfig.portMappings[%zu].%s is not a port from 1 to 65535",
				i, key);
	*out = (uint16_t)x;
	return 0;
}

static int parse_mapping(json_object *m, size_t i, struct cni_mapping *out, struct cni_error *e)
{
	char where[64], q[80];
	const char *s;
	uint16_t cport;
	size_t len;
	int r;

	if (!json_object_is_type(m, json_type_object))
		return cni_fail(e, CNI_ERR_CONFIG, NULL,
				"runtimeConfig.portMappings[%zu] is not an object", i);
	snprintf(where, sizeof(where), "runtimeConfig.portMappings[%zu].", i);
	if (parse_int(m, "hostPort", i, true, &out->host_port, e))
		return -1;
	if (parse_int(m, "containerPort", i, false, &cport, e) < 0)
		return -1;
	out->proto = PORTRSV_TCP;
	r = get_string(m, "protocol", where, &s, &len, e);
	if (r < 0)
		return r;
	if (!r && !strcasecmp(s, "udp"))
		out->proto = PORTRSV_UDP;
	else if (!r && !strcasecmp(s, "sctp"))
		return cni_fail(e, CNI_ERR_PROTOCOL, "portrsv reserves tcp and udp ports only",
				"%sprotocol sctp (host port %u) is not supported", where,
				out->host_port);
	else if (!r && strcasecmp(s, "tcp"))
		return cni_fail(e, CNI_ERR_PROTOCOL, "portrsv reserves tcp and udp ports only",
				"%sprotocol '%s' is not tcp or udp", where,
				shown(s, len, q, sizeof(q)));
	out->host_ip[0] = '\0';
	r = get_string(m, "hostIP", where, &s, &len, e);
	if (r < 0)
		return r;
	if (!r && len) {
		unsigned char a[16];

		if (len >= sizeof(out->host_ip) ||
		    (inet_pton(AF_INET, s, a) != 1 && inet_pton(AF_INET6, s, a) != 1))
			return cni_fail(e, CNI_ERR_CONFIG, NULL,
					"%shostIP '%s' is not an IPv4 or IPv6 address", where,
					shown(s, len, q, sizeof(q)));
		memcpy(out->host_ip, s, len + 1);
	}
	return 0;
}

/*
 * runtimeConfig.portMappings. The reservation is of a port in the host netns, whatever the
 * address: two mappings of one (protocol, port) on two addresses are one reservation.
 */
static int parse_mappings(json_object *root, struct cni_config *c, struct cni_error *e)
{
	json_object *rc, *pm;
	size_t n;

	if (!json_object_object_get_ex(root, "runtimeConfig", &rc) || !rc)
		return 0;
	if (!json_object_is_type(rc, json_type_object))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "runtimeConfig is not an object");
	if (!json_object_object_get_ex(rc, "portMappings", &pm) || !pm)
		return 0;
	if (!json_object_is_type(pm, json_type_array))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "runtimeConfig.portMappings is not an array");
	n = json_object_array_length(pm);
	if (n > CNI_MAX_MAPPINGS)
		return cni_fail(e, CNI_ERR_CONFIG, NULL,
				"runtimeConfig.portMappings has more than %d entries", CNI_MAX_MAPPINGS);
	c->maps = calloc(n ? n : 1, sizeof(*c->maps));
	if (!c->maps)
		return cni_fail(e, CNI_ERR_IO, NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct cni_mapping m;
		bool dup = false;

		if (parse_mapping(json_object_array_get_idx(pm, i), i, &m, e))
			return -1;
		/* n is at most 65535 and duplicates are rare: a scan is enough. */
		for (size_t j = 0; j < c->nmaps && !dup; j++)
			dup = c->maps[j].proto == m.proto && c->maps[j].host_port == m.host_port;
		if (!dup)
			c->maps[c->nmaps++] = m;
	}
	return 0;
}

/* GC: cni.dev/valid-attachments, [{"containerID": ..., "ifname": ...}, ...]. */
static int parse_valid(json_object *root, struct cni_config *c, struct cni_error *e)
{
	json_object *va;
	size_t n;

	/* Without the list every container would look gone: refuse rather than delete all. */
	if (!json_object_object_get_ex(root, "cni.dev/valid-attachments", &va) || !va)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "GC without cni.dev/valid-attachments");
	if (!json_object_is_type(va, json_type_array))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "cni.dev/valid-attachments is not an array");
	n = json_object_array_length(va);
	c->valid = calloc(n ? n : 1, sizeof(*c->valid));
	if (!c->valid)
		return cni_fail(e, CNI_ERR_IO, NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(va, i);
		char where[64];
		const char *s;
		size_t len;
		int r;

		if (!json_object_is_type(a, json_type_object))
			return cni_fail(e, CNI_ERR_CONFIG, NULL,
					"cni.dev/valid-attachments[%zu] is not an object", i);
		snprintf(where, sizeof(where), "cni.dev/valid-attachments[%zu].", i);
		r = get_string(a, "containerID", where, &s, &len, e);
		if (r < 0)
			return r;
		if (r)
			return cni_fail(e, CNI_ERR_CONFIG, NULL, "%scontainerID is missing", where);
		c->valid[c->nvalid++] = (char *)s; /* owned by root */
	}
	return 0;
}

int cni_config_parse(const char *buf, size_t len, enum cni_cmd cmd, struct cni_config *c,
		     struct cni_error *e)
{
	struct json_tokener *tok;
	enum json_tokener_error je;
	json_object *root, *prev;
	const char *s;
	size_t slen, end;
	int r;

	memset(c, 0, sizeof(*c));
	memset(e, 0, sizeof(*e));
	if (len > CNI_MAX_INPUT)
		return cni_fail(e, CNI_ERR_DECODE, NULL, "config is larger than %d bytes",
				CNI_MAX_INPUT);
	if (len && memchr(buf, '\0', len))
		return cni_fail(e, CNI_ERR_DECODE, NULL, "config has a NUL byte");
	tok = json_tokener_new_ex(64); /* a config is a few levels deep */
	if (!tok)
		return cni_fail(e, CNI_ERR_IO, NULL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	je = json_tokener_get_error(tok);
	end = tok->char_offset;
	json_tokener_free(tok);
	if (!root || je != json_tokener_success) {
		json_object_put(root);
		return cni_fail(e, CNI_ERR_DECODE, NULL, "config is not JSON: %s",
				je == json_tokener_continue ? "unexpected end of input"
							    : json_tokener_error_desc(je));
	}
	c->root = root;
	for (; end < len; end++)
		if (!strchr(" \t\r\n", buf[end]))
			return cni_fail(e, CNI_ERR_DECODE, NULL,
					"config is not JSON: text after the object");
	if (!json_object_is_type(root, json_type_object))
		return cni_fail(e, CNI_ERR_DECODE, NULL, "config is not a JSON object");
	if (parse_version(root, cmd, c, e))
		return -1;
	r = get_string(root, "name", "", &s, &slen, e);
	if (r < 0)
		return r;
	if (r || !slen)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "name is missing");
	if (slen >= sizeof(c->name))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "name is longer than %zu bytes",
				sizeof(c->name) - 1);
	memcpy(c->name, s, slen + 1);
	if (parse_owner(root, c, e) || parse_mappings(root, c, e))
		return -1;
	if (json_object_object_get_ex(root, "prevResult", &prev) && prev) {
		if (!json_object_is_type(prev, json_type_object))
			return cni_fail(e, CNI_ERR_CONFIG, NULL, "prevResult is not an object");
		c->prev_result = prev;
	}
	if ((cmd == CNI_ADD || cmd == CNI_CHECK) && !c->prev_result)
		return cni_fail(e, CNI_ERR_CONFIG,
				"portrsv is a chained plugin: list it after the plugins that make the "
				"interface (bridge, portmap)",
				"%s without prevResult", commands[cmd]);
	if (cmd == CNI_GC && parse_valid(root, c, e))
		return -1;
	return 0;
}

void cni_config_free(struct cni_config *c)
{
	if (!c)
		return;
	free(c->maps);
	free(c->valid);
	json_object_put(c->root);
	memset(c, 0, sizeof(*c));
}
