// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-thread network namespace switching and identity. */
#include <errno.h>
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
