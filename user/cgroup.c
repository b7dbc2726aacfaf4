// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgroup v2 mount, ids as BPF sees them, and paths back from ids. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include "internal.h"

/* Not in the uapi headers: include/linux/exportfs.h. */
#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe
#endif

/* kernfs file handles are the 64-bit kernfs node id, which is the cgroup id. */
union cg_handle {
	struct file_handle fh;
	char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
void portrsv_mountinfo_unescape(char *s)
{
	char *d = s;

	for (; *s; d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*d = *s++;
		}
	}
	*d = '\0';
}

int portrsv_cgroup2_mount(char *buf, size_t len)
{
	char *line = NULL, *sep, *mnt;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		/* Optional fields vary in number; " - " cannot occur escaped, so it is the anchor. */
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		if (strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		*sep = '\0';
		/* Fields: id, parent, major:minor, root, mount point. */
		if (sscanf(line, "%*s %*s %*s %*s %ms", &mnt) != 1)
			continue;
		portrsv_mountinfo_unescape(mnt);
		err = strlen(mnt) < len ? 0 : -ENAMETOOLONG;
		if (!err)
			strcpy(buf, mnt);
		free(mnt);
		break;
	}
	free(line);
	fclose(f);
	return err;
}

int portrsv_cgroup_id(const char *dir, uint64_t *id, uint32_t *level)
{
	char mnt[PATH_MAX], real[PATH_MAX], *p;
	union cg_handle h = { .fh.handle_bytes = sizeof(uint64_t) };
	struct statfs sfs;
	struct stat st;
	size_t n;
	int mount_id, err;

	if (stat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -EINVAL; /* not a directory: not a cgroup, a bad argument */
	if (statfs(dir, &sfs))
		return -errno;
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return -EINVAL;
	if (id) {
		if (name_to_handle_at(AT_FDCWD, dir, &h.fh, &mount_id, 0))
			return errno == EOVERFLOW ? -EINVAL : -errno;
		if (h.fh.handle_bytes != sizeof(uint64_t))
			return -EINVAL;
	}
	if (level) {
		err = portrsv_cgroup2_mount(mnt, sizeof(mnt));
		if (err)
			return err;
		if (!realpath(dir, real))
			return -errno;
		/* A mount point "/" is stripped to "", so real always resumes at a '/'. */
		n = strlen(mnt);
		n -= n && mnt[n - 1] == '/';
		if (strncmp(real, mnt, n) || (real[n] && real[n] != '/'))
			return -EINVAL;
		for (*level = 0, p = real + n; *p; p++)
			*level += p[0] == '/' && p[1];
	}
	if (id)
		memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

int portrsv_cgroup_path(uint64_t cgid, char *buf, size_t len)
{
	union cg_handle h = { .fh.handle_bytes = sizeof(uint64_t), .fh.handle_type = FILEID_KERNFS };
	char mnt[PATH_MAX], link[32];
	int mfd, fd, err;
	ssize_t n;

	if (!buf || !len) /* no clearing of the detail: the library's own flows call this */
		return portrsv_fail(-EINVAL, "%s", buf ? "len is 0" : "buf is NULL");
	err = portrsv_cgroup2_mount(mnt, sizeof(mnt));
	if (err)
		return err;
	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	memcpy(h.fh.f_handle, &cgid, sizeof(cgid));
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	close(mfd);
	/* ESTALE: removed; ENOTDIR: the id of a kernfs file, not of a cgroup. */
	if (err == -ESTALE || err == -ENOTDIR)
		return -ENOENT;
	if (err)
		return err;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len);
	err = n < 0 ? -errno : (size_t)n >= len ? -ENAMETOOLONG : 0;
	close(fd);
	if (!err)
		buf[n] = '\0';
	return err;
}

int portrsv_cgroup_fail(const char *what, const char *dir, int err)
{
	char mnt[PATH_MAX] = "?", edir[4 * 256];

	portrsv_escape(dir, edir, sizeof(edir));
	if (err == -ENOENT)
		return portrsv_fail(err, "%s '%s': no such directory", what, edir);
	if (err != -EINVAL && err != -ENOTDIR)
		return portrsv_fail(err, "%s '%s': %s", what, edir, strerror(-err));
	portrsv_cgroup2_mount(mnt, sizeof(mnt));
	return portrsv_fail(-EINVAL, "%s '%s' is not a cgroup v2 directory (cgroup2 is mounted "
			    "at %s)", what, edir, mnt);
}

int portrsv_cgroup_check(const char *what, const char *dir)
{
	int err;

	if (!dir)
		return portrsv_fail(-EINVAL, "%s is NULL", what);
	err = portrsv_cgroup_id(dir, NULL, NULL);
	return err ? portrsv_cgroup_fail(what, dir, err) : 0;
}
