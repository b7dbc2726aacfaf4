// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Where portrsv's pins and state live, and what a failed open of a pin means. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include "internal.h"

static const char *env_or(const char *arg, const char *var, const char *fallback)
{
	const char *e;

	if (arg && *arg)
		return arg;
	e = secure_getenv(var); /* a setuid or file-capability caller ignores the environment */
	return e && *e ? e : fallback;
}

const char *portrsv_pin_dir(const char *arg)
{
	return env_or(arg, "PORTRSV_PIN_DIR", PORTRSV_PIN_DIR_DEFAULT);
}

const char *portrsv_state_dir(const char *arg)
{
	return env_or(arg, "PORTRSV_STATE_DIR", PORTRSV_STATE_DIR_DEFAULT);
}

int portrsv_pin_path(char *buf, size_t len, const char *pin_dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * A pin that cannot be opened means "not loaded" only when the pin directory itself is
 * missing or holds no such pin; a directory we may not search means "not ours".
 */
int portrsv_pin_errno(const char *pin_dir, int err)
{
	struct stat st;

	err = err < 0 ? -err : err;
	if (err == EACCES || err == EPERM)
		return -EPERM;
	if (err != ENOENT)
		return -err;
	if (stat(pin_dir, &st) == 0 && access(pin_dir, X_OK) != 0)
		return -EPERM;
	return -PORTRSV_ENOTLOADED;
}

/*
 * The layout of each pinned map, as this build reads and writes it. Maps pinned by another
 * version may differ: reading one into our structs would overrun them, writing would fill
 * the kernel's with garbage. (The events ring buffer has no key or value.)
 */
static const struct {
	const char *name;
	__u32 key, value;
} layouts[] = {
	{ PORTRSV_PIN_PORTS, sizeof(struct portrsv_key), sizeof(struct portrsv_port) },
	{ PORTRSV_PIN_RESV, sizeof(struct portrsv_key), sizeof(struct portrsv_resv) },
	{ PORTRSV_PIN_TOKENS, sizeof(__u64), sizeof(struct portrsv_token) },
	{ PORTRSV_PIN_SOCKS, sizeof(int), sizeof(struct portrsv_sock) },
	{ PORTRSV_PIN_ANY, sizeof(__u32), sizeof(__u32) },
	{ PORTRSV_PIN_DENIALS, sizeof(struct portrsv_key), sizeof(struct portrsv_denial) },
	{ PORTRSV_PIN_OWNER_PATHS, sizeof(struct portrsv_owner_key), sizeof(__u32) },
	{ PORTRSV_PIN_OWNERS, sizeof(__u32), sizeof(struct portrsv_owner) },
	{ PORTRSV_PIN_ANCHORS, sizeof(__u32), sizeof(__u64) },
	{ PORTRSV_PIN_SYSCTL, sizeof(__u64), sizeof(struct portrsv_sysctl_guard) },
	{ PORTRSV_PIN_RUNTIME, sizeof(__u64), sizeof(struct portrsv_rt) },
	{ PORTRSV_PIN_RT_PORTS, sizeof(struct portrsv_key), sizeof(__u64) },
	{ PORTRSV_PIN_RT_USAGE, sizeof(struct portrsv_usage_key), sizeof(__u32) },
	{ PORTRSV_PIN_ACQUIRED, sizeof(int), sizeof(struct portrsv_acq) },
	{ PORTRSV_PIN_POOLS, sizeof(struct portrsv_key), sizeof(struct portrsv_pool_list) },
	{ PORTRSV_PIN_MONITORS, sizeof(__u32), sizeof(__u32) },
	{ PORTRSV_PIN_MONITOR_SLOTS, sizeof(__u32), sizeof(struct portrsv_monitor_slot) },
	{ PORTRSV_PIN_CREATORS, sizeof(struct portrsv_key), sizeof(struct portrsv_creator) },
};

static int check_layout(int fd, const char *path, const char *name)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (strcmp(layouts[i].name, name))
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		if (info.key_size == layouts[i].key && info.value_size == layouts[i].value)
			return 0;
		portrsv_set_errmsg("%s was pinned by another version of portrsv (key %u, value %u "
				   "bytes; this one uses %u, %u): run 'portrsv unload', then "
				   "'portrsv restore'", path, info.key_size, info.value_size,
				   layouts[i].key, layouts[i].value);
		return -EPROTO;
	}
	return 0;
}

int portrsv_obj_get(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];
	int fd, err;

	err = portrsv_pin_path(path, sizeof(path), pin_dir, name);
	if (err)
		return err;
	/* A symlinked, foreign or shared pin directory is refused; a missing one is "not loaded". */
	err = portrsv_dir_check(pin_dir);
	if (err && err != -ENOENT)
		return err == -EACCES ? -EPERM : err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return portrsv_pin_errno(pin_dir, errno);
	err = check_layout(fd, path, name);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

/*
 * Root, or the capabilities loading and attaching need: CAP_SYS_ADMIN alone, or CAP_BPF with
 * CAP_PERFMON (the programs read kernel socket types) and CAP_NET_ADMIN (cgroup attach).
 */
bool portrsv_privileged(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &h, d))
		return false;
	return has_cap(d, CAP_SYS_ADMIN) ||
	       (has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON) && has_cap(d, CAP_NET_ADMIN));
}
