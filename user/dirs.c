// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The pin and state directories hold what decides who may bind where: they must be ours,
 * 0700, and real directories. One made in a world-writable place (/sys/fs/bpf is often
 * 1777) by someone else first would let them swap our pins or store under us.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

int portrsv_private_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		portrsv_set_errmsg("%s: not a directory", path);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		portrsv_set_errmsg("%s is owned by uid %u, not by us: refusing it", path,
				   (unsigned)st.st_uid);
		return -EPERM;
	}
	return (st.st_mode & 07777) == 0700 || chmod(path, 0700) == 0 ? 0 : -errno;
}
