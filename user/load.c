// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Load, pin, attach, detach, unload.
 *
 * Pins under the pin directory (0700):
 *   ports reservations tokens sockets          the maps (kept across loads; names in
 *   reserved_anywhere denials sysctl_guard     abi.h, PORTRSV_PIN_*)
 *   runtime runtime_ports runtime_usage
 *   acquired pools monitors monitor_slots creators
 *   progs/<hook>                               the programs, replaced on every load
 *   links/<cgroup id>/<hook>                   one bpf_link per hook and enforced cgroup
 *   links/cgroup_mkdir                         the owner tracepoint's link (one per
 *                                              instance: it only writes owner slots)
 * Pinned links keep enforcement alive with no portrsv process running; a new load switches
 * each pinned link to the new program with bpf_link_update, so there is no moment without
 * a program attached.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "portrsv.skel.h"

#define BPFFS_DEFAULT "/sys/fs/bpf"
#define MKDIR_LINK "cgroup_mkdir"

/*
 * The hooks, in attach order: release and setsockopt first so that no port is ever held
 * without a program to give it back, the bind checks last. Detach goes in reverse.
 */
static const struct hook {
	const char *name;
	enum bpf_attach_type type;
} hooks[] = {
	{ "sock_release", BPF_CGROUP_INET_SOCK_RELEASE },
	{ "setsockopt", BPF_CGROUP_SETSOCKOPT },
	{ "getsockopt", BPF_CGROUP_GETSOCKOPT },
	{ "sysctl", BPF_CGROUP_SYSCTL },
	{ "post_bind4", BPF_CGROUP_INET4_POST_BIND },
	{ "post_bind6", BPF_CGROUP_INET6_POST_BIND },
	{ "bind4", BPF_CGROUP_INET4_BIND },
	{ "bind6", BPF_CGROUP_INET6_BIND },
};
#define N_HOOKS (sizeof(hooks) / sizeof(hooks[0]))

static int path_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool on_bpffs(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == BPF_FS_MAGIC;
}

/* The nearest existing ancestor of the pin directory must be on bpffs; mount it if missing. */
static int ensure_bpffs(const char *pin_dir)
{
	char dir[PATH_MAX], *slash;

	if (path_fmt(dir, sizeof(dir), "%s", pin_dir))
		return -ENAMETOOLONG;
	while (access(dir, F_OK) != 0 && (slash = strrchr(dir, '/')) && slash != dir)
		*slash = '\0';
	if (on_bpffs(dir))
		return 0;
	if (!on_bpffs(BPFFS_DEFAULT) &&
	    mount("bpf", BPFFS_DEFAULT, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700"))
		return errno == EPERM ? -EPERM : -errno;
	if (on_bpffs(dir))
		return 0;
	return portrsv_fail(-EINVAL, "pin directory %s is not on a bpf filesystem (mount one: "
			    "mount -t bpf bpf %s)", pin_dir, dir);
}

static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	int err;

	if (path_fmt(buf, sizeof(buf), "%s", path))
		return -ENAMETOOLONG;
	for (char *s = buf + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	err = portrsv_private_dir(buf);
	return err;
}

/* Pin fd at path, replacing what is there in one rename (bpffs refuses dots in names). */
static int pin_replace(int fd, const char *path)
{
	char tmp[PATH_MAX];
	int err;

	if (path_fmt(tmp, sizeof(tmp), "%s-new", path))
		return -ENAMETOOLONG;
	unlink(tmp);
	err = bpf_obj_pin(fd, tmp);
	if (err)
		return err;
	if (rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
	return err;
}

static const struct hook *hook_of(enum bpf_attach_type type)
{
	for (size_t i = 0; i < N_HOOKS; i++)
		if (hooks[i].type == type)
			return &hooks[i];
	return NULL;
}

static int link_dir(char *buf, size_t len, const char *pin_dir, uint64_t cgid)
{
	return path_fmt(buf, len, "%s/links/%" PRIu64, pin_dir, cgid);
}

/* Attach hook h (program fd) to the cgroup, or point the existing pinned link at it. */
static int attach_hook(const char *ldir, int cg_fd, const struct hook *h, int prog_fd)
{
	char path[PATH_MAX];
	int fd, err;

	if (path_fmt(path, sizeof(path), "%s/%s", ldir, h->name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		err = bpf_link_update(fd, prog_fd, NULL);
		close(fd);
		if (err != -ENOLINK)
			return err;
		/* Detached, pin kept (a detach killed half-way, the cgroup renewed): replace it. */
		if (unlink(path))
			return -errno;
	} else if (errno != ENOENT) {
		return -errno;
	}
	fd = bpf_link_create(prog_fd, cg_fd, h->type, NULL);
	if (fd < 0)
		return fd;
	err = bpf_obj_pin(fd, path);
	close(fd);
	return err;
}

static int attach_all(const char *pin_dir, const char *cgroup_dir, const int *prog_fds)
{
	char ldir[PATH_MAX];
	uint64_t cgid;
	int cg_fd, err;

	err = portrsv_cgroup_id(cgroup_dir, &cgid, NULL);
	if (err)
		return err;
	err = link_dir(ldir, sizeof(ldir), pin_dir, cgid);
	if (!err)
		err = portrsv_private_dir(ldir);
	if (err)
		return err;
	cg_fd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0)
		return -errno;
	for (size_t i = 0; i < N_HOOKS && !err; i++) {
		err = attach_hook(ldir, cg_fd, &hooks[i], prog_fds[i]);
		if (!i)
			portrsv_fault("attach-mid-hooks");
	}
	close(cg_fd);
	return err;
}

/* Unpin the links of one cgroup (the kernel detaches each as its last reference goes). */
static int detach_id(const char *pin_dir, uint64_t cgid)
{
	char ldir[PATH_MAX], path[PATH_MAX];
	int err;

	err = link_dir(ldir, sizeof(ldir), pin_dir, cgid);
	if (err)
		return err;
	if (access(ldir, F_OK))
		return -errno;
	for (size_t i = N_HOOKS; i-- > 0;) {
		int fd;

		if (path_fmt(path, sizeof(path), "%s/%s", ldir, hooks[i].name))
			return -ENAMETOOLONG;
		/*
		 * Detach now: dropping the pin only schedules the link's release, so the
		 * program would go on refusing binds for a while after we return.
		 */
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			err = bpf_link_detach(fd);
			close(fd);
			if (err && err != -ENOLINK)
				return err;
		} else if (errno != ENOENT) {
			return -errno;
		}
		if (unlink(path) && errno != ENOENT)
			return -errno;
	}
	return rmdir(ldir) ? -errno : 0;
}

int portrsv_attached(const char *pin_dir, uint64_t **out)
{
	char ldir[PATH_MAX];
	uint64_t *v = NULL, *nv, id;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	pin_dir = portrsv_pin_dir(pin_dir);
	if (!out)
		return portrsv_fail(-EINVAL, "out is NULL");
	if (path_fmt(ldir, sizeof(ldir), "%s/links", pin_dir))
		return portrsv_fail(-EINVAL, "pin directory %s: path too long", pin_dir);
	d = opendir(ldir);
	if (!d)
		return portrsv_pin_errno(pin_dir, errno);
	while ((de = readdir(d))) {
		if (portrsv_parse_u64(de->d_name, &id))
			continue; /* ".", "..", and nothing else lives here */
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			closedir(d);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = id;
	}
	closedir(d);
	*out = v;
	return (int)n;
}

/* The program fds of the pinned programs, in hooks[] order. */
static int pinned_progs(const char *pin_dir, int *fds)
{
	char name[64];
	int err = 0;

	for (size_t i = 0; i < N_HOOKS; i++)
		fds[i] = -1;
	for (size_t i = 0; i < N_HOOKS && !err; i++) {
		snprintf(name, sizeof(name), "progs/%s", hooks[i].name);
		fds[i] = portrsv_obj_get(pin_dir, name);
		if (fds[i] < 0)
			err = fds[i];
	}
	return err;
}

static void close_fds(int *fds)
{
	for (size_t i = 0; i < N_HOOKS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int pin_maps(struct portrsv_bpf *skel, const char *pin_dir)
{
	const struct {
		struct bpf_map *map;
		const char *name;
	} maps[] = {
		{ skel->maps.portrsv_ports, PORTRSV_PIN_PORTS },
		{ skel->maps.portrsv_resv, PORTRSV_PIN_RESV },
		{ skel->maps.portrsv_tokens, PORTRSV_PIN_TOKENS },
		{ skel->maps.portrsv_socks, PORTRSV_PIN_SOCKS },
		{ skel->maps.portrsv_monitors, PORTRSV_PIN_MONITORS },
		{ skel->maps.portrsv_monitor_slots, PORTRSV_PIN_MONITOR_SLOTS },
		{ skel->maps.portrsv_any, PORTRSV_PIN_ANY },
		{ skel->maps.portrsv_denials, PORTRSV_PIN_DENIALS },
		{ skel->maps.portrsv_owner_paths, PORTRSV_PIN_OWNER_PATHS },
		{ skel->maps.portrsv_owners, PORTRSV_PIN_OWNERS },
		{ skel->maps.portrsv_anchors, PORTRSV_PIN_ANCHORS },
		{ skel->maps.portrsv_sysctl, PORTRSV_PIN_SYSCTL },
		{ skel->maps.portrsv_runtime, PORTRSV_PIN_RUNTIME },
		{ skel->maps.portrsv_rt_ports, PORTRSV_PIN_RT_PORTS },
		{ skel->maps.portrsv_rt_usage, PORTRSV_PIN_RT_USAGE },
		{ skel->maps.portrsv_acquired, PORTRSV_PIN_ACQUIRED },
		{ skel->maps.portrsv_pools, PORTRSV_PIN_POOLS },
		{ skel->maps.portrsv_creators, PORTRSV_PIN_CREATORS },
	};
	char path[PATH_MAX];
	int err;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		err = portrsv_pin_path(path, sizeof(path), pin_dir, maps[i].name);
		if (!err)
			err = bpf_map__set_pin_path(maps[i].map, path);
		if (err)
			return err;
	}
	return 0;
}

/*
 * The owner tracepoint: attach the new program, then let its pin replace the old link's, so
 * that some program always watches cgroup creation (two at once write the same ids). A
 * tracing link cannot be switched to another program in place as cgroup links are.
 */
static int attach_mkdir(struct portrsv_bpf *skel, const char *pin_dir)
{
	struct bpf_link *link;
	char path[PATH_MAX];
	int err;

	err = path_fmt(path, sizeof(path), "%s/links/" MKDIR_LINK, pin_dir);
	if (err)
		return err;
	link = bpf_program__attach_trace(skel->progs.portrsv_cgroup_mkdir);
	err = libbpf_get_error(link);
	if (err)
		return err;
	err = pin_replace(bpf_link__fd(link), path);
	bpf_link__destroy(link); /* the pin holds it now */
	return err;
}

/*
 * Load, pin, upgrade every attachment, attach to each cgroup; with none given, attach to
 * the cgroup v2 root when root is set.
 */
int portrsv_load_progs(const char *pin_dir, const char *const *cgroups, size_t n_cgroups,
		       bool root_default)
{
	struct portrsv_bpf *skel = NULL;
	char path[PATH_MAX], root[PATH_MAX];
	struct bpf_program *prog;
	int fds[N_HOOKS], err, n;
	uint64_t *ids = NULL;

	if (n_cgroups && !cgroups)
		return -EINVAL;
	/* CO-RE needs the kernel's BTF: without it libbpf's error would not say so; nothing is made before this. */
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		portrsv_set_errmsg("this kernel has no BTF (/sys/kernel/btf/vmlinux, "
				   "CONFIG_DEBUG_INFO_BTF): portrsv needs Linux 6.1 or newer with BTF");
		return -EOPNOTSUPP;
	}
	err = ensure_bpffs(pin_dir);
	if (!err)
		err = mkdir_parents(pin_dir);
	if (!err && path_fmt(path, sizeof(path), "%s/progs", pin_dir) == 0)
		err = portrsv_private_dir(path);
	if (!err && path_fmt(path, sizeof(path), "%s/links", pin_dir) == 0)
		err = portrsv_private_dir(path);
	if (err)
		return err;

	skel = portrsv_bpf__open();
	if (!skel)
		return -errno;
	err = pin_maps(skel, pin_dir);
	if (!err)
		err = portrsv_bpf__load(skel);
	if (err)
		goto out;
	portrsv_fault("load-after-maps");
	/* Before 0.2 the monitors shared one ring buffer; nothing writes it any more. */
	if (!portrsv_pin_path(path, sizeof(path), pin_dir, PORTRSV_PIN_EVENTS))
		unlink(path);

	err = attach_mkdir(skel, pin_dir);
	if (err)
		goto out;
	bpf_object__for_each_program(prog, skel->obj) {
		const struct hook *h = hook_of(bpf_program__expected_attach_type(prog));

		if (prog == skel->progs.portrsv_cgroup_mkdir)
			continue;
		if (!h) {
			err = -EINVAL;
			goto out;
		}
		fds[h - hooks] = bpf_program__fd(prog);
		err = path_fmt(path, sizeof(path), "%s/progs/%s", pin_dir, h->name);
		if (!err)
			err = pin_replace(bpf_program__fd(prog), path);
		if (err)
			goto out;
	}

	portrsv_fault("load-after-progs");
	/* Upgrade every attachment in place, then add the requested ones. */
	n = portrsv_attached(pin_dir, &ids);
	for (int i = 0; i < n && !err; i++) {
		err = portrsv_cgroup_path(ids[i], path, sizeof(path));
		if (err == -ENOENT) {
			err = detach_id(pin_dir, ids[i]); /* the cgroup is gone */
			continue;
		}
		if (!err)
			err = attach_all(pin_dir, path, fds);
	}
	if (n < 0)
		err = n;
	if (!err && !n_cgroups && root_default) {
		err = portrsv_cgroup2_mount(root, sizeof(root));
		if (!err)
			err = attach_all(pin_dir, root, fds);
	}
	for (size_t i = 0; i < n_cgroups && !err; i++)
		err = attach_all(pin_dir, cgroups[i], fds);
out:
	free(ids);
	portrsv_bpf__destroy(skel);
	return err;
}

int portrsv_attach_progs(const char *pin_dir, const char *cgroup_dir)
{
	int fds[N_HOOKS], err;

	err = pinned_progs(pin_dir, fds);
	if (!err)
		err = attach_all(pin_dir, cgroup_dir, fds);
	close_fds(fds);
	return err;
}

/* Does portrsv's sock_release program (id) still run for the sockets of cgroup cgid? */
static bool release_runs(uint64_t cgid, __u32 id)
{
	__u32 ids[64], cnt = 64;
	char path[PATH_MAX];
	int fd, err;

	if (portrsv_cgroup_path(cgid, path, sizeof(path)))
		return true; /* removed: its sockets keep the programs they had */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return true;
	err = bpf_prog_query(fd, BPF_CGROUP_INET_SOCK_RELEASE, BPF_F_QUERY_EFFECTIVE, NULL, ids,
			     &cnt);
	close(fd);
	for (__u32 i = 0; !err && i < cnt; i++)
		if (ids[i] == id)
			return true;
	return err != 0; /* cannot tell: leave it */
}

/*
 * After a detach: a runtime reservation acquired by a socket of a cgroup that no program of
 * ours watches any more would never see its socket close. End it now, as sock_release
 * would (the BPF side: rt_end in bpf/portrsv.bpf.c).
 */
static void runtime_sweep(const char *pin_dir)
{
	int rt_fd = portrsv_obj_get(pin_dir, PORTRSV_PIN_RUNTIME);
	int ports_fd = portrsv_obj_get(pin_dir, PORTRSV_PIN_RT_PORTS);
	int usage_fd = portrsv_obj_get(pin_dir, PORTRSV_PIN_RT_USAGE);
	int prog_fd = portrsv_obj_get(pin_dir, "progs/sock_release");
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	__u64 token, next;
	struct portrsv_rt rt;

	if (rt_fd < 0 || ports_fd < 0 || usage_fd < 0 || prog_fd < 0 ||
	    bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		goto out;
	for (int e = bpf_map_get_next_key(rt_fd, NULL, &next); !e;
	     e = bpf_map_get_next_key(rt_fd, &token, &next)) {
		struct portrsv_usage_key uk = { 0 };
		__u32 used;

		token = next;
		if (bpf_map_lookup_elem(rt_fd, &token, &rt) || release_runs(rt.cgid, info.id) ||
		    bpf_map_delete_elem(rt_fd, &token))
			continue;
		for (uint32_t i = 0; i < rt.count; i++) {
			struct portrsv_key k = { .netns = rt.netns, .port = rt.start + i,
						 .proto = rt.proto };
			__u64 t;

			if (!bpf_map_lookup_elem(ports_fd, &k, &t) && t == token)
				bpf_map_delete_elem(ports_fd, &k);
		}
		uk.netns = rt.netns;
		uk.cgid = rt.cgid;
		uk.pool = rt.pool;
		uk.proto = rt.proto;
		/* Nothing of this cgroup's can acquire now: a plain write does not race. */
		if (!bpf_map_lookup_elem(usage_fd, &uk, &used)) {
			used = used > rt.count ? used - rt.count : 0;
			bpf_map_update_elem(usage_fd, &uk, &used, BPF_EXIST);
		}
	}
out:
	if (rt_fd >= 0)
		close(rt_fd);
	if (ports_fd >= 0)
		close(ports_fd);
	if (usage_fd >= 0)
		close(usage_fd);
	if (prog_fd >= 0)
		close(prog_fd);
}

int portrsv_detach_cgroup(const char *pin_dir, const char *cgroup_dir)
{
	uint64_t cgid;
	int err, fd;

	fd = portrsv_obj_get(pin_dir, PORTRSV_PIN_RESV);
	if (fd < 0)
		return fd;
	close(fd);
	err = portrsv_cgroup_id(cgroup_dir, &cgid, NULL);
	if (err)
		return err;
	err = detach_id(pin_dir, cgid);
	if (!err)
		runtime_sweep(pin_dir);
	return err;
}

int portrsv_unload_progs(const char *pin_dir)
{
	const char *pins[] = { PORTRSV_PIN_PORTS, PORTRSV_PIN_RESV, PORTRSV_PIN_TOKENS,
			       PORTRSV_PIN_SOCKS, PORTRSV_PIN_EVENTS, PORTRSV_PIN_ANY,
			       PORTRSV_PIN_DENIALS, PORTRSV_PIN_OWNER_PATHS, PORTRSV_PIN_OWNERS,
			       PORTRSV_PIN_ANCHORS, PORTRSV_PIN_SYSCTL, PORTRSV_PIN_RUNTIME,
			       PORTRSV_PIN_RT_PORTS, PORTRSV_PIN_RT_USAGE, PORTRSV_PIN_ACQUIRED,
			       PORTRSV_PIN_POOLS, PORTRSV_PIN_MONITORS, PORTRSV_PIN_MONITOR_SLOTS,
			       PORTRSV_PIN_CREATORS };
	char path[PATH_MAX];
	uint64_t *ids = NULL;
	int n, err = 0;

	/* Whatever a killed load or unload left is removed too: only no pin dir is "not loaded". */
	err = portrsv_dir_check(pin_dir);
	if (err == -ENOENT)
		return -PORTRSV_ENOTLOADED;
	if (err)
		return err;
	n = portrsv_attached(pin_dir, &ids);
	for (int i = 0; i < n && !err; i++)
		err = detach_id(pin_dir, ids[i]);
	free(ids);
	if (n < 0 && n != -PORTRSV_ENOTLOADED)
		return n;
	if (err)
		return err;
	portrsv_fault("unload-after-links");
	for (size_t i = 0; i < N_HOOKS; i++) {
		if (path_fmt(path, sizeof(path), "%s/progs/%s", pin_dir, hooks[i].name))
			return -ENAMETOOLONG;
		if (unlink(path) && errno != ENOENT)
			return -errno;
	}
	portrsv_fault("unload-after-progs");
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		portrsv_pin_path(path, sizeof(path), pin_dir, pins[i]);
		if (unlink(path) && errno != ENOENT)
			return -errno;
		if (!i)
			portrsv_fault("unload-mid-maps");
	}
	if (path_fmt(path, sizeof(path), "%s/links/" MKDIR_LINK, pin_dir))
		return -ENAMETOOLONG;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	if (path_fmt(path, sizeof(path), "%s/links", pin_dir) == 0)
		rmdir(path);
	if (path_fmt(path, sizeof(path), "%s/progs", pin_dir) == 0)
		rmdir(path);
	return rmdir(pin_dir) && errno != ENOENT ? -errno : 0;
}

/* Is every hook of cgroup cgid linked, and is each link still attached? */
static bool links_live(const char *pin_dir, uint64_t cgid)
{
	char name[64];

	for (size_t i = 0; i < N_HOOKS; i++) {
		struct bpf_link_info info = { 0 };
		__u32 len = sizeof(info);
		int fd, err;

		snprintf(name, sizeof(name), "links/%" PRIu64 "/%s", cgid, hooks[i].name);
		fd = portrsv_obj_get(pin_dir, name);
		if (fd < 0)
			return false;
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (err || info.type != BPF_LINK_TYPE_CGROUP || !info.cgroup.cgroup_id)
			return false; /* a detached link has no cgroup */
	}
	return true;
}

bool portrsv_owners_followed(const char *pin_dir)
{
	char path[PATH_MAX];
	int fd;

	if (path_fmt(path, sizeof(path), "%s/links/" MKDIR_LINK, portrsv_pin_dir(pin_dir)))
		return false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int portrsv_enforcing_state(const char *pin_dir)
{
	int fds[N_HOOKS], err, n;
	uint64_t *ids = NULL;
	bool live = false;

	pin_dir = portrsv_pin_dir(pin_dir);
	err = portrsv_obj_get(pin_dir, PORTRSV_PIN_RESV);
	if (err < 0)
		return err;
	close(err);
	err = pinned_progs(pin_dir, fds);
	close_fds(fds);
	if (err == -PORTRSV_ENOTLOADED) {
		portrsv_set_errmsg("%s: maps pinned without their programs (a load or unload was "
				   "interrupted): nothing is enforced; run 'portrsv restore'", pin_dir);
		return err;
	}
	if (err)
		return err;
	n = portrsv_attached(pin_dir, &ids);
	for (int i = 0; i < n && !live; i++)
		live = links_live(pin_dir, ids[i]);
	free(ids);
	if (n < 0 && n != -PORTRSV_ENOTLOADED)
		return n;
	if (!live) {
		portrsv_set_errmsg("%s: the programs are attached to no cgroup: nothing is enforced; "
				   "run 'portrsv restore' or 'portrsv attach DIR'", pin_dir);
		return PORTRSV_ATTACHED_NOWHERE;
	}
	return 0;
}

int portrsv_enforcing(const char *pin_dir)
{
	int err = portrsv_enforcing_state(pin_dir);

	return err == PORTRSV_ATTACHED_NOWHERE ? -PORTRSV_ENOTLOADED : err;
}
