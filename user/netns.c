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
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include "internal.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
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

int portrsv_netns_enter_arg(const char *path, int *saved)
{
	char epath[4 * 256];
	int err = portrsv_netns_enter(path, saved);

	if (!err || !path)
		return err;
	/* A path is text from outside: escaped, cut short rather than the message lost. */
	portrsv_escape(path, epath, sizeof(epath));
	if (err == -EINVAL)
		return portrsv_fail(err, "'%s' is not a network namespace (give /run/netns/NAME, "
				    "NAME of 'ip netns', or /proc/PID/ns/net)", epath);
	if (err == -ENOENT)
		return portrsv_fail(err, "network namespace '%s': no such file", epath);
	return portrsv_fail(err, "network namespace '%s': %s", epath, strerror(-err));
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

/* Enter path if it is the netns (ino, cookie), cookie 0 taking any: 1 entered, 0 it is
 * another netns, -errno when it could not be told. */
static int enter_if(const char *path, uint64_t ino, uint64_t cookie, int *saved)
{
	struct stat st;
	uint64_t c;
	int err;

	if (stat(path, &st))
		return -errno;
	if (st.st_ino != ino)
		return 0;
	err = portrsv_netns_enter(path, saved);
	if (err)
		return err;
	if (!cookie)
		return 1;
	err = portrsv_netns_self(&c, NULL);
	if (!err && c == cookie)
		return 1;
	portrsv_netns_leave(*saved);
	*saved = -1;
	return err;
}

static bool try_enter(const char *path, uint64_t ino, uint64_t cookie, int *saved)
{
	return enter_if(path, ino, cookie, saved) == 1;
}

/* One search for a netns; unsure is the first error that leaves it possibly alive. */
struct scan {
	uint64_t ino, cookie;
	int *saved;
	int unsure;
};

static void unsure(struct scan *sc, int err)
{
	if (!sc->unsure)
		sc->unsure = err < 0 ? err : -EIO;
}

/* Is /proc/PID still there? An error of a process that is gone tells nothing. */
static bool proc_gone(const char *pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%.16s", pid);
	return access(path, F_OK) && (errno == ENOENT || errno == ESRCH);
}

/*
 * A process root may not even look at (an LSM, or one with capabilities we lack: EACCES on
 * its /proc/PID/ns links, which need the same ptrace read access) is beyond any search:
 * skipped, as no tool here could tell what it holds. Every other failure fails closed.
 */
static bool opaque(const char *pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%.16s/ns/net", pid);
	return stat(path, &st) && (errno == EACCES || errno == EPERM);
}

/* An error reading /proc/PID/ns/mnt or mountinfo that says it has no mounts to keep: gone,
 * or a zombie or an exiting process, whose namespaces are let go already. */
static bool no_mounts(int err, const char *pid)
{
	return err == ENOENT || err == ESRCH || err == EINVAL || proc_gone(pid);
}

/*
 * A socket keeps its netns alive with no process, thread, file or mount in it (unshare, a
 * socket, setns back). Take the fd (pidfd_getfd), tell its netns by SO_NETNS_COOKIE and
 * enter it through SIOCGSKNS. What cannot be told leaves the netns possibly alive.
 */
static bool try_socket(struct scan *sc, const char *pid, int *pidfd, int fdnum)
{
	socklen_t len = sizeof(uint64_t);
	bool known = false;
	char path[64];
	int sfd, nsfd, r;
	uint64_t c = 0;

	if (*pidfd < 0) {
		*pidfd = (int)syscall(SYS_pidfd_open, (pid_t)atoi(pid), 0);
		if (*pidfd < 0) {
			if (errno != ESRCH)
				unsure(sc, -errno);
			return false;
		}
	}
	sfd = (int)syscall(SYS_pidfd_getfd, *pidfd, fdnum, 0);
	if (sfd < 0) {
		/* EBADF: closed meanwhile; ESRCH: the process is exiting. */
		if (errno != EBADF && errno != ESRCH && !proc_gone(pid))
			unsure(sc, -errno);
		return false;
	}
	if (!getsockopt(sfd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len) && len == sizeof(c)) {
		known = true;
		if (sc->cookie && c != sc->cookie) {
			close(sfd);
			return false;
		}
	} else if (errno == ENOTSOCK) {
		close(sfd); /* the fd number was reused meanwhile */
		return false;
	}
	nsfd = ioctl(sfd, SIOCGSKNS);
	if (nsfd < 0) {
		unsure(sc, -errno); /* its netns may be the one */
		close(sfd);
		return false;
	}
	close(sfd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", nsfd);
	r = enter_if(path, sc->ino, sc->cookie, sc->saved);
	close(nsfd);
	if (r < 0 || (r == 0 && known && sc->cookie))
		unsure(sc, r); /* the cookie said it is ours, and it could not be entered */
	return r == 1;
}

/* Every process (deep: and thread, open nsfs file, socket) for the netns; true once entered. */
static bool scan_proc(struct scan *sc, bool deep)
{
	char path[PATH_MAX], link[64], want[64];
	struct dirent *de, *te;
	bool found = false;
	DIR *d, *t;

	snprintf(want, sizeof(want), "net:[%" PRIu64 "]", sc->ino);
	d = opendir("/proc");
	if (!d)
		unsure(sc, -errno);
	while (d && !found && (de = readdir(d))) {
		int pidfd = -1;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/ns/net", de->d_name);
		found = try_enter(path, sc->ino, sc->cookie, sc->saved);
		if (found || !deep || opaque(de->d_name))
			continue;
		/* A thread may live in another netns than its process. */
		snprintf(path, sizeof(path), "/proc/%.16s/task", de->d_name);
		t = opendir(path);
		while (t && !found && (te = readdir(t))) {
			if (te->d_name[0] < '0' || te->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%.16s/task/%.16s/ns/net", de->d_name,
				 te->d_name);
			found = try_enter(path, sc->ino, sc->cookie, sc->saved);
		}
		if (t)
			closedir(t);
		/* An open nsfs file or a socket keeps a netns alive with no process in it. */
		snprintf(path, sizeof(path), "/proc/%.16s/fd", de->d_name);
		t = opendir(path);
		if (!t && !found && !proc_gone(de->d_name))
			unsure(sc, -errno);
		while (t && !found && (te = readdir(t))) {
			ssize_t n;

			if (te->d_name[0] < '0' || te->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%.16s/fd/%.16s", de->d_name, te->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (!strcmp(link, want))
				found = try_enter(path, sc->ino, sc->cookie, sc->saved);
			else if (!strncmp(link, "socket:[", 8))
				found = try_socket(sc, de->d_name, &pidfd, atoi(te->d_name));
		}
		if (t)
			closedir(t);
		if (pidfd >= 0)
			close(pidfd);
	}
	if (d)
		closedir(d);
	return found;
}

/* The nsfs mounts of one mount namespace, as /proc/PID sees it, whose root is the netns. */
static bool scan_mountinfo(struct scan *sc, const char *pid, const char *want)
{
	char path[PATH_MAX + 64], *line = NULL, *root, *mnt, *sep;
	bool found = false;
	size_t cap = 0;
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/proc/%.16s/mountinfo", pid);
	f = fopen(path, "re");
	if (!f) {
		if (!no_mounts(errno, pid))
			unsure(sc, -errno);
		return false;
	}
	while (!found && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype ... */
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep, " - nsfs ", 8))
			continue;
		*sep = '\0';
		if (sscanf(line, "%*s %*s %*s %ms %ms", &root, &mnt) != 2)
			continue;
		portrsv_mountinfo_unescape(root);
		portrsv_mountinfo_unescape(mnt);
		/* The mount point is below that process's root, in its mount namespace. */
		if (!strcmp(root, want) && snprintf(path, sizeof(path), "/proc/%.16s/root%s", pid,
						    mnt) < (int)sizeof(path)) {
			r = enter_if(path, sc->ino, sc->cookie, sc->saved);
			found = r == 1;
			if (r < 0 && !proc_gone(pid))
				unsure(sc, r);
		} else if (!strcmp(root, want)) {
			unsure(sc, -ENAMETOOLONG);
		}
		free(root);
		free(mnt);
	}
	free(line);
	fclose(f);
	return found;
}

/* A bind mount of nsfs (ip netns add, or anywhere else, in any mount namespace of a process)
 * keeps a netns alive too: each mount namespace's mountinfo once, ours first. */
static bool scan_mounts(struct scan *sc)
{
	struct { dev_t dev; ino_t ino; } *seen = NULL, *ns;
	char path[64], want[64];
	struct dirent *de = NULL;
	const char *pid = "self";
	size_t n = 0, cap = 0;
	bool found = false;
	struct stat st;
	DIR *d;

	snprintf(want, sizeof(want), "net:[%" PRIu64 "]", sc->ino);
	d = opendir("/proc");
	if (!d)
		unsure(sc, -errno);
	while (!found) {
		if (de) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				goto next;
			pid = de->d_name;
		}
		snprintf(path, sizeof(path), "/proc/%.16s/ns/mnt", pid);
		if (stat(path, &st)) {
			if (!no_mounts(errno, pid) && !opaque(pid))
				unsure(sc, -errno);
			goto next;
		}
		for (size_t i = 0; i < n; i++)
			if (seen[i].dev == st.st_dev && seen[i].ino == st.st_ino)
				goto next;
		if (n == cap) {
			ns = realloc(seen, (cap = cap ? 2 * cap : 16) * sizeof(*seen));
			if (!ns) {
				unsure(sc, -ENOMEM);
				break;
			}
			seen = ns;
		}
		seen[n].dev = st.st_dev;
		seen[n++].ino = st.st_ino;
		found = scan_mountinfo(sc, pid, want);
next:
		if (!d || !(de = readdir(d)))
			break;
	}
	if (d)
		closedir(d);
	free(seen);
	return found;
}

int portrsv_netns_enter_ino(uint64_t ino, uint64_t cookie, int *saved)
{
	struct scan sc = { .ino = ino, .cookie = cookie, .saved = saved };

	*saved = -1;
	/* The inode can be reused by a later netns; the cookie, never within a boot. Cheap
	 * places first: a process that lives there; then mounts, threads, open files and
	 * sockets. Anything short of "looked everywhere, it is not there" is no -ENOENT. */
	if (scan_proc(&sc, false) || scan_mounts(&sc) || scan_proc(&sc, true))
		return 0;
	return sc.unsure ? sc.unsure : -ENOENT;
}

/*
 * Enter a netns named by the store (NULL: stay). -ENOENT when it no longer exists, or, for
 * /run/netns/NAME, not yet: `ip netns add` makes the file before it mounts the netns on it,
 * and a file there that is no nsfs mount is a netns on its way.
 */
int portrsv_netns_enter_name(const char *name, int *saved)
{
	uint64_t ino, cookie;
	struct statfs sfs;
	bool has_cookie;
	int err;

	if (!name || !*name)
		return portrsv_netns_enter(NULL, saved);
	err = portrsv_netns_parse_ino(name, &ino, &cookie, &has_cookie);
	if (err == 1) {
		err = portrsv_netns_enter(name, saved);
		if (err == -EINVAL && portrsv_netns_run_name(name) && !statfs(name, &sfs) &&
		    sfs.f_type != NSFS_MAGIC)
			err = -ENOENT;
		return err;
	}
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
