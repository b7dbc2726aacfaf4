// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The pin and state directories hold what decides who may bind where: they must be ours,
 * 0700, and real directories. One made in a world-writable place (/sys/fs/bpf is often
 * 1777) by someone else first, a symlink to elsewhere, or one that others may write, would
 * let them swap our pins or store under us: each is refused, and nothing is changed.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

int portrsv_dir_check(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		portrsv_set_errmsg("%s is a symbolic link: refusing it", path);
		return -EPERM;
	}
	if (!S_ISDIR(st.st_mode)) {
		portrsv_set_errmsg("%s: not a directory", path);
		return -ENOTDIR;
	}
	/* Root's is no one else's: an unprivileged reader of root's pins is refused by them. */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		portrsv_set_errmsg("%s is owned by uid %u, not by us: refusing it", path,
				   (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		portrsv_set_errmsg("%s is writable by others (mode %04o): refusing it", path,
				   (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int portrsv_private_dir(const char *path)
{
	struct stat st;
	int err;

	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	err = portrsv_dir_check(path);
	if (err)
		return err;
	/* Ours and not writable by others: tighten a readable one (a read-only one stays). */
	if (lstat(path, &st))
		return -errno;
	if ((st.st_mode & 07777) == 0700 || chmod(path, 0700) == 0 || errno == EROFS)
		return 0;
	return -errno;
}
