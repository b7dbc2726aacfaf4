// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-thread network namespace switching and identity. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
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

/* Enter a netns named by the store (NULL: stay). -ENOENT when it no longer exists. */
int portrsv_netns_enter_name(const char *name, int *saved)
{
	uint64_t ino, cookie, c;
	char path[64];
	struct dirent *de;
	struct stat st;
	int err = -ENOENT;
	DIR *d;

	if (!name || !*name)
		return portrsv_netns_enter(NULL, saved);
	if (strncmp(name, "net:[", 5))
		return portrsv_netns_enter(name, saved);
	if (sscanf(name, "net:[%" SCNu64 "]:%" SCNu64, &ino, &cookie) != 2)
		return -EINVAL;
	/* The inode can be reused by a later netns; the cookie, never within a boot. */
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/ns/net", de->d_name);
		if (stat(path, &st) || st.st_ino != ino || portrsv_netns_enter(path, saved))
			continue;
		if (portrsv_netns_self(&c, NULL) == 0 && c == cookie) {
			err = 0;
			break;
		}
		portrsv_netns_leave(*saved);
		*saved = -1;
	}
	if (d)
		closedir(d);
	return err;
}
