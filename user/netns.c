// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-thread network namespace switching and identity. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include "internal.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* thread-self, not self: setns(CLONE_NEWNET) only moves the calling thread. */
#define NETNS_SELF "/proc/thread-self/ns/net"

int portrsv_netns_enter(const char *path, int *saved)
{
	struct statfs sfs;
	int old, fd, type, err;

	if (!saved)
		return -EINVAL;
	*saved = -1;
	if (!path)
		return 0;
	old = open(NETNS_SELF, O_RDONLY | O_CLOEXEC);
	if (old < 0)
		return -errno;
	/* O_NONBLOCK, O_NOCTTY: a wrong path naming a FIFO or a tty must not hang or adopt it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		goto out_old;
	}
	/* Only nsfs gets the ioctl: on a device its number could mean something else. */
	if (fstatfs(fd, &sfs)) {
		err = -errno;
		goto out_fd;
	}
	type = sfs.f_type == NSFS_MAGIC ? ioctl(fd, NS_GET_NSTYPE) : -1;
	if (type != CLONE_NEWNET) {
		err = -EINVAL;
		goto out_fd;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		goto out_fd;
	}
	close(fd);
	*saved = old;
	return 0;
out_fd:
	close(fd);
out_old:
	close(old);
	return err;
}

void portrsv_netns_leave(int saved)
{
	if (saved < 0)
		return;
	/* Cannot fail for an fd we opened on our own former netns while still privileged. */
	(void)setns(saved, CLONE_NEWNET);
	close(saved);
}

int portrsv_netns_self(uint64_t *cookie, uint64_t *ino)
{
	socklen_t len = sizeof(uint64_t);
	uint64_t c = 0;
	struct stat st;
	int fd, err = 0;

	if (cookie) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len))
			err = -errno;
		else if (len != sizeof(c))
			err = -EINVAL;
		close(fd);
		if (err)
			return err;
	}
	if (ino && stat(NETNS_SELF, &st))
		return -errno;
	if (cookie)
		*cookie = c;
	if (ino)
		*ino = st.st_ino;
	return 0;
}

/*
 * How the store names a netns, so that `portrsv restore` finds the same one again:
 *   ""                  the host's: that of PID 1, where restore runs at boot. Only when
 *                       that can be proved (PID 1's netns is readable and the same).
 *   path                the path the caller gave, unless it is under /proc: a PID is no
 *                       name, the next process with that PID may live elsewhere
 *   /run/netns/NAME     when one is bind-mounted there
 *   net:[INO]:COOKIE    anything else; found again only while it lives, never after a
 *                       reboot, and never confused with a later netns of the same inode
 */
int portrsv_netns_name(const char *path, uint64_t ino, uint64_t cookie, char *buf, size_t len)
{
	char cand[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d;

	if (path && strncmp(path, "/proc/", 6)) {
		if (path[0] == '/')
			n = snprintf(buf, len, "%s", path);
		else if (getcwd(cand, sizeof(cand)))
			n = snprintf(buf, len, "%s/%s", cand, path);
		else
			return -errno;
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	if (stat("/proc/1/ns/net", &st) == 0 && st.st_ino == ino) {
		buf[0] = '\0';
		return 0;
	}
	d = opendir("/run/netns");
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(cand, sizeof(cand), "/run/netns/%s", de->d_name);
		if (stat(cand, &st) == 0 && st.st_ino == ino) {
			n = snprintf(buf, len, "%s", cand);
			closedir(d);
			return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
		}
	}
	if (d)
		closedir(d);
	n = snprintf(buf, len, "net:[%" PRIu64 "]:%" PRIu64, ino, cookie);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int portrsv_netns_parse_ino(const char *name, uint64_t *ino, uint64_t *cookie, bool *has_cookie)
{
	const char *p;
	char *end;

	if (!name || strncmp(name, "net:[", 5))
		return 1;
	p = name + 5;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	*ino = strtoull(p, &end, 10);
	if (errno || *end != ']')
		return -EINVAL;
	p = end + 1;
	*cookie = 0;
	*has_cookie = false;
	if (!*p)
		return 0;
	if (*p != ':' || p[1] < '0' || p[1] > '9')
		return -EINVAL;
	errno = 0;
	*cookie = strtoull(p + 1, &end, 10);
	if (errno || *end || !*cookie)
		return -EINVAL;
	*has_cookie = true;
	return 0;
}

/* Enter path if it is the netns (ino, cookie); cookie 0 takes any cookie. */
static bool try_enter(const char *path, uint64_t ino, uint64_t cookie, int *saved)
{
	struct stat st;
	uint64_t c;

	if (stat(path, &st) || st.st_ino != ino || portrsv_netns_enter(path, saved))
		return false;
	if (!cookie || (portrsv_netns_self(&c, NULL) == 0 && c == cookie))
		return true;
	portrsv_netns_leave(*saved);
	*saved = -1;
	return false;
}

/* Every process (deep: and thread, and open nsfs file) for the netns; true once entered. */
static bool scan_proc(uint64_t ino, uint64_t cookie, bool deep, int *saved)
{
	char path[PATH_MAX], link[64], want[64];
	struct dirent *de, *te;
	bool found = false;
	DIR *d, *t;

	snprintf(want, sizeof(want), "net:[%" PRIu64 "]", ino);
	d = opendir("/proc");
	while (d && !found && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/ns/net", de->d_name);
		found = try_enter(path, ino, cookie, saved);
		if (found || !deep)
			continue;
		/* A thread may live in another netns than its process. */
		snprintf(path, sizeof(path), "/proc/%.16s/task", de->d_name);
		t = opendir(path);
		while (t && !found && (te = readdir(t))) {
			if (te->d_name[0] < '0' || te->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%.16s/task/%.16s/ns/net", de->d_name,
				 te->d_name);
			found = try_enter(path, ino, cookie, saved);
		}
		if (t)
			closedir(t);
		/* An open nsfs file keeps a netns alive with no process in it. */
		snprintf(path, sizeof(path), "/proc/%.16s/fd", de->d_name);
		t = opendir(path);
		while (t && !found && (te = readdir(t))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%.16s/fd/%.16s", de->d_name, te->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (!strcmp(link, want))
				found = try_enter(path, ino, cookie, saved);
		}
		if (t)
			closedir(t);
	}
	if (d)
		closedir(d);
	return found;
}

/* A bind mount of nsfs (ip netns add, or anywhere else) keeps a netns alive too. */
static bool scan_mounts(uint64_t ino, uint64_t cookie, int *saved)
{
	char line[4 * PATH_MAX], mnt[PATH_MAX], *sep;
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && !found && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype ... */
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep, " - nsfs ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 || strchr(mnt, '\\'))
			continue; /* escaped names (\040 ...) are not worth decoding here */
		found = try_enter(mnt, ino, cookie, saved);
	}
	if (f)
		fclose(f);
	return found;
}

int portrsv_netns_enter_ino(uint64_t ino, uint64_t cookie, int *saved)
{
	*saved = -1;
	/* The inode can be reused by a later netns; the cookie, never within a boot. Cheap
	 * places first: a process that lives there; then threads, open files and mounts. */
	if (scan_proc(ino, cookie, false, saved) || scan_mounts(ino, cookie, saved) ||
	    scan_proc(ino, cookie, true, saved))
		return 0;
	return -ENOENT;
}

/* Enter a netns named by the store (NULL: stay). -ENOENT when it no longer exists. */
int portrsv_netns_enter_name(const char *name, int *saved)
{
	uint64_t ino, cookie;
	bool has_cookie;
	int err;

	if (!name || !*name)
		return portrsv_netns_enter(NULL, saved);
	err = portrsv_netns_parse_ino(name, &ino, &cookie, &has_cookie);
	if (err == 1)
		return portrsv_netns_enter(name, saved);
	if (err || !has_cookie)
		return -EINVAL; /* the store always names an unnamed netns with its cookie */
	return portrsv_netns_enter_ino(ino, cookie, saved);
}

const char *portrsv_netns_run_name(const char *name)
{
	const size_t n = sizeof(PORTRSV_NETNS_RUN_DIR); /* with its '/' in place of the NUL */

	if (!name || strncmp(name, PORTRSV_NETNS_RUN_DIR "/", n) || !name[n] ||
	    strchr(name + n, '/'))
		return NULL;
	return name + n;
}
