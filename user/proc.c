// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What /proc says about a process: its comm and its cgroup v2 path, read one way for the
 * creator of a reservation (creator.c) and for the holders of a port (holders.c). Both are
 * text the process chose (prctl(PR_SET_NAME), a cgroup's name): kept raw here, escaped by
 * whoever prints them (escape.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

ssize_t portrsv_proc_read(const char *path, char *buf, size_t len)
{
	ssize_t n = 0, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	n = n < 0 ? -errno : got;
	close(fd);
	if (n >= 0)
		buf[got] = '\0';
	return n;
}

/* /proc/PID/FILE, or /proc/self/FILE for pid 0. */
static void proc_path(uint32_t pid, const char *file, char *buf, size_t len)
{
	if (pid)
		snprintf(buf, len, "/proc/%u/%s", pid, file);
	else
		snprintf(buf, len, "/proc/self/%s", file);
}

int portrsv_proc_comm(uint32_t pid, char comm[PORTRSV_COMM_LEN])
{
	char path[64], buf[64];
	ssize_t n;

	proc_path(pid, "comm", path, sizeof(path));
	n = portrsv_proc_read(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* A comm may itself hold a newline (PR_SET_NAME takes any byte): only the one the
	 * kernel adds goes. */
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	snprintf(comm, PORTRSV_COMM_LEN, "%.*s", PORTRSV_COMM_LEN - 1, buf);
	return 0;
}

/*
 * The cgroup v2 line of /proc/PID/cgroup, "0::PATH". The kernel writes PATH raw, newlines
 * included: it ends at the next line that starts like a hierarchy's ("N:"), or at the final
 * newline (the v2 line is the last one, where v1 hierarchies are mounted too).
 */
int portrsv_proc_cgroup(uint32_t pid, char *cg, size_t len)
{
	char path[64], buf[PATH_MAX + 4096], *line = buf, *end;
	ssize_t n;

	proc_path(pid, "cgroup", path, sizeof(path));
	n = portrsv_proc_read(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	while (strncmp(line, "0::", 3)) {
		line = strchr(line, '\n');
		if (!line)
			return -ENOENT; /* no cgroup v2 line: a v1-only system */
		line++;
	}
	line += 3;
	for (end = line; (end = strchr(end, '\n')); end++) {
		const char *c = end + 1;

		while (*c >= '0' && *c <= '9')
			c++;
		if (!*c || (c > end + 1 && *c == ':'))
			break;
	}
	if (!end)
		end = buf + n;
	if (line[0] != '/' || (size_t)(end - line) >= len)
		return -EINVAL;
	memcpy(cg, line, end - line);
	cg[end - line] = '\0';
	return 0;
}
