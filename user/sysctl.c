// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * net.ipv4.ip_local_reserved_ports of the calling thread's netns: the kernel's own port
 * choice (bind(0), connect() and sendto() autobind, listen() without bind) skips these
 * ports, so an unassociated socket is never handed a reserved port. (It applies to IPv6
 * too.) Ports the administrator put there are never removed: each port entry remembers
 * whether it was there before portrsv (PORTRSV_PORT_ADMIN, lib.c).
 *
 * The sysctl alone is no guard: whoever can write it re-opens the ports. The cgroup/sysctl
 * program keeps this instance's ports in every write from an enforced cgroup, from
 * portrsv_sysctl (abi.h, "The sysctl guard"), which portrsv_guard_sync keeps up to date.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include "internal.h"

#define SYSCTL "/proc/sys/net/ipv4/ip_local_reserved_ports"
#define NPORTS (PORTRSV_PORT_MAX + 1)
#define BATCH 1024

/* Parse "1,5-9,..." into a bitmap (ORed in); the kernel writes it, but check anyway. */
int portrsv_ranges_parse(const char *s, unsigned char *bits)
{
	char *end;

	while (*s && *s != '\n') {
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s || a >= NPORTS)
			return -EINVAL;
		s = end;
		if (*s == '-') {
			b = strtoul(s + 1, &end, 10);
			if (end == s + 1 || b >= NPORTS || b < a)
				return -EINVAL;
			s = end;
		}
		for (unsigned long p = a; p <= b; p++)
			bits[p / 8] |= 1 << (p % 8);
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -EINVAL;
	}
	return 0;
}

static bool is_set(const unsigned char *bits, unsigned p)
{
	return bits[p / 8] & (1 << (p % 8));
}

int portrsv_sysctl_read(unsigned char *bits)
{
	char *buf;
	ssize_t n;
	int fd, err;

	memset(bits, 0, NPORTS / 8);
	fd = open(SYSCTL, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(1 << 20);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (1 << 20) - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (!err) {
		buf[n] = '\0';
		err = portrsv_ranges_parse(buf, bits);
	}
	free(buf);
	return err;
}

int portrsv_ranges_format(const unsigned char *bits, char *buf, size_t cap)
{
	size_t len = 0;
	int n;

	if (!cap)
		return -ENOSPC;
	buf[0] = '\0';
	for (unsigned p = 0; p < NPORTS; p++) {
		unsigned q = p;

		if (!is_set(bits, p))
			continue;
		while (q + 1 < NPORTS && is_set(bits, q + 1))
			q++;
		n = q > p ? snprintf(buf + len, cap - len, len ? ",%u-%u" : "%u-%u", p, q)
			  : snprintf(buf + len, cap - len, len ? ",%u" : "%u", p);
		if (n < 0 || (size_t)n >= cap - len) {
			buf[len] = '\0';
			return -ENOSPC;
		}
		len += n;
		p = q;
	}
	return (int)len;
}

/* The initial pid namespace: where bpf_get_current_pid_tgid() counts (PROC_PID_INIT_INO). */
static bool in_init_pidns(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) == 0 && st.st_ino == 0xEFFFFFFCU;
}

/*
 * Mark (tgid != 0) or unmark (0) this process as the writer of netns's sysctl in its guard
 * entry: the cgroup/sysctl program then leaves our write alone (abi.h, writer_tgid). No
 * entry: the program leaves every write alone anyway. Returns whether the mark is set.
 */
static bool guard_writer(struct portrsv *p, uint64_t netns, __u32 tgid)
{
	struct portrsv_sysctl_guard g;
	bool set = false;
	int fd;

	if (!p)
		return false;
	fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_SYSCTL);
	if (fd < 0)
		return false;
	if (!bpf_map_lookup_elem(fd, &netns, &g) && (tgid || g.writer_tgid == (__u32)getpid())) {
		g.writer_tgid = tgid;
		set = !bpf_map_update_elem(fd, &netns, &g, BPF_EXIST) && tgid;
	}
	close(fd);
	return set;
}

/*
 * Write bits into the sysctl of the calling thread's netns, whose guard entry is p's for
 * netns (p NULL: none to mark). The value, administrator's ports and portrsv's, must fit
 * one write the kernel parses whole: -E2BIG, nothing written, when it does not.
 */
int portrsv_sysctl_write(struct portrsv *p, uint64_t netns, const unsigned char *bits)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	int fd, err = 0, len;
	bool marked = false;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	len = portrsv_ranges_format(bits, buf, cap - 1);
	if (len >= 0 && len > PORTRSV_SYSCTL_VALUE_MAX)
		len = -E2BIG; /* the kernel would apply the first page of it, dropping the rest */
	if (len < 0) {
		free(buf);
		return len;
	}
	if (len < PORTRSV_SYSCTL_VALUE_MAX)
		buf[len++] = '\n';
	/* Our value already holds our ports: the guard must not append them again. */
	if (in_init_pidns())
		marked = guard_writer(p, netns, (__u32)getpid());
	/* The sysctl guard of another instance may have added its ports: the kernel then
	 * reports more bytes written than we wrote. */
	fd = open(SYSCTL, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		err = -errno;
	else if ((n = write(fd, buf, len)) < 0)
		err = -errno;
	else if (n < (ssize_t)len)
		err = -EIO;
	if (fd >= 0)
		close(fd);
	if (marked)
		guard_writer(p, netns, 0);
	free(buf);
	return err;
}

/*
 * The sysctl guard (abi.h): portrsv_sysctl's entry for a netns is what this instance's
 * ports map holds in it, both protocols, with the ports the administrator had first.
 */
/*
 * Does the kernel keep the value a cgroup/sysctl program sets (abi.h, NO_REWRITE)? A child in
 * a new cgroup below an enforced one and in a netns of its own writes "2" while the guard says
 * portrsv holds port 1 there: "1-2" read back means yes. Anything that goes wrong means no
 * (the guard then refuses rather than appends: fail closed).
 */
static bool probe_rewrite(struct portrsv *p, int fd)
{
	char cg[PATH_MAX], probe[PATH_MAX + 64], procs[PATH_MAX + 96];
	struct portrsv_sysctl_guard g = { .len = 1, .ranges = "1" };
	uint64_t *ids = NULL, cookie = 0;
	int sv[2] = { -1, -1 }, status;
	int n = portrsv_attached(p->pin_dir, &ids);
	bool works = false;
	pid_t pid = -1;

	if (n <= 0 || portrsv_cgroup_path(ids[0], cg, sizeof(cg))) {
		free(ids);
		return false;
	}
	free(ids);
	snprintf(probe, sizeof(probe), "%s/portrsv-probe-%d", cg, (int)getpid());
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", probe);
	if (mkdir(probe, 0700) && errno != EEXIST)
		return false;
	/* A socket pair, not pipes: MSG_NOSIGNAL, so that a dead child is no SIGPIPE here. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		goto out;
	pid = fork();
	if (pid == 0) {
		char me[32], got[64] = "";
		int f;
		ssize_t k;

		close(sv[0]);
		snprintf(me, sizeof(me), "%d\n", (int)getpid());
		f = open(procs, O_WRONLY | O_CLOEXEC);
		if (f < 0 || write(f, me, strlen(me)) < 0 || unshare(CLONE_NEWNET) ||
		    portrsv_netns_self(&cookie, NULL))
			_exit(1);
		close(f);
		if (send(sv[1], &cookie, sizeof(cookie), MSG_NOSIGNAL) != sizeof(cookie) ||
		    recv(sv[1], me, 1, 0) != 1)
			_exit(1);
		f = open(SYSCTL, O_RDWR | O_CLOEXEC);
		/* Appended to, the write returns the longer value's length. */
		if (f < 0 || write(f, "2\n", 2) <= 0)
			_exit(1);
		k = pread(f, got, sizeof(got) - 1, 0);
		_exit(k > 0 && !strncmp(got, "1-2", 3) ? 0 : 1);
	}
	/* Only the child has its end: its death ends our recv. */
	close(sv[1]);
	sv[1] = -1;
	if (pid < 0 || recv(sv[0], &cookie, sizeof(cookie), MSG_WAITALL) != sizeof(cookie) ||
	    !cookie)
		goto out;
	if (!bpf_map_update_elem(fd, &cookie, &g, BPF_ANY) &&
	    send(sv[0], "g", 1, MSG_NOSIGNAL) == 1 && waitpid(pid, &status, 0) == pid) {
		works = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		pid = -1;
	}
	bpf_map_delete_elem(fd, &cookie);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	rmdir(probe);
	return works;
}

/* PORTRSV_GUARD_NO_REWRITE or 0, probed once per load (the entry of cookie 0 keeps it). */
static __u32 rewrite_flags(struct portrsv *p, int fd)
{
	struct portrsv_sysctl_guard g;
	uint64_t zero = 0;

	if (!bpf_map_lookup_elem(fd, &zero, &g) && (g.flags & PORTRSV_GUARD_PROBED))
		return g.flags & PORTRSV_GUARD_NO_REWRITE;
	memset(&g, 0, sizeof(g));
	g.flags = PORTRSV_GUARD_PROBED | (probe_rewrite(p, fd) ? 0 : PORTRSV_GUARD_NO_REWRITE);
	bpf_map_update_elem(fd, &zero, &g, BPF_ANY);
	return g.flags & PORTRSV_GUARD_NO_REWRITE;
}

bool portrsv_sysctl_rewrites(struct portrsv *p)
{
	int fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_SYSCTL);
	bool yes = fd >= 0 && !rewrite_flags(p, fd);

	if (fd >= 0)
		close(fd);
	return yes;
}

/* netns's entry of the guard (fd) from the ports this instance holds there (held) and
 * those of them that were the administrator's (admin); none held: no entry. */
static int guard_put(struct portrsv *p, int fd, uint64_t netns, const unsigned char *held,
		     const unsigned char *admin, bool any)
{
	struct portrsv_sysctl_guard g;
	int err, n;

	if (!any) {
		err = bpf_map_delete_elem(fd, &netns);
		return err == -ENOENT ? 0 : err;
	}
	memset(&g, 0, sizeof(g));
	n = portrsv_ranges_format(held, g.ranges, sizeof(g.ranges));
	if (n < 0 || n > PORTRSV_SYSCTL_VALUE_MAX) {
		g.flags |= PORTRSV_GUARD_TOO_LONG; /* every write in this netns is refused */
		g.ranges[0] = '\0';
		n = 0;
	}
	g.len = n;
	g.flags |= rewrite_flags(p, fd);
	if (portrsv_ranges_format(admin, g.admin, sizeof(g.admin)) < 0) {
		g.flags |= PORTRSV_GUARD_ADMIN_TOO_LONG;
		g.admin[0] = '\0';
	}
	return bpf_map_update_elem(fd, &netns, &g, BPF_ANY);
}

int portrsv_guard_sync(struct portrsv *p, uint64_t netns)
{
	unsigned char held[NPORTS / 8], admin[NPORTS / 8];
	struct portrsv_key keys[BATCH];
	struct portrsv_port vals[BATCH];
	bool any = false;
	__u32 batch = 0;
	int fd, err;

	fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_SYSCTL);
	if (fd < 0) {
		portrsv_set_errmsg("%s/%s: %s (load again to upgrade)", p->pin_dir,
				   PORTRSV_PIN_SYSCTL, strerror(-fd));
		return fd;
	}
	memset(held, 0, sizeof(held));
	memset(admin, 0, sizeof(admin));
	/* In batches: the walk is what an add costs with many ports reserved. */
	for (bool first = true, last = false; !last; first = false) {
		__u32 got = BATCH;

		err = bpf_map_lookup_batch(p->ports_fd, first ? NULL : &batch, &batch, keys, vals,
					   &got, NULL);
		if (err && err != -ENOENT)
			goto out;
		last = err == -ENOENT;
		for (__u32 i = 0; i < got; i++) {
			if (keys[i].netns != netns)
				continue;
			held[keys[i].port / 8] |= 1 << (keys[i].port % 8);
			if (vals[i].flags & PORTRSV_PORT_ADMIN)
				admin[keys[i].port / 8] |= 1 << (keys[i].port % 8);
			any = true;
		}
	}
	err = guard_put(p, fd, netns, held, admin, any);
out:
	if (err)
		portrsv_set_errmsg("%s/%s: %s", p->pin_dir, PORTRSV_PIN_SYSCTL, strerror(-err));
	close(fd);
	return err;
}

int portrsv_guard_change(struct portrsv *p, uint64_t netns, int proto, uint16_t start,
			 uint32_t count)
{
	unsigned char held[NPORTS / 8] = { 0 }, admin[NPORTS / 8] = { 0 };
	int other = proto == PORTRSV_TCP ? PORTRSV_UDP : PORTRSV_TCP;
	struct portrsv_sysctl_guard g;
	bool any = false;
	int fd, err;

	if (count > PORTRSV_GUARD_CHANGE_MAX)
		return portrsv_guard_sync(p, netns);
	fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_SYSCTL);
	if (fd < 0)
		return portrsv_guard_sync(p, netns); /* which says why */
	/* Only an exact entry is changed: none yet (the netns's first), or one that could
	 * not hold everything, is built again from the ports map. */
	if (bpf_map_lookup_elem(fd, &netns, &g) ||
	    (g.flags & (PORTRSV_GUARD_TOO_LONG | PORTRSV_GUARD_ADMIN_TOO_LONG)) ||
	    g.len >= sizeof(g.ranges) || !memchr(g.admin, '\0', sizeof(g.admin)) ||
	    (g.ranges[g.len] = '\0', portrsv_ranges_parse(g.ranges, held)) ||
	    portrsv_ranges_parse(g.admin, admin)) {
		close(fd);
		return portrsv_guard_sync(p, netns);
	}
	for (uint32_t port = start; port < (uint32_t)start + count; port++) {
		struct portrsv_key k = { .netns = netns, .proto = proto, .port = port };
		struct portrsv_key o = { .netns = netns, .proto = other, .port = port };
		struct portrsv_port pv, ov;
		bool has_k = !bpf_map_lookup_elem(p->ports_fd, &k, &pv);
		bool has_o = !bpf_map_lookup_elem(p->ports_fd, &o, &ov);
		unsigned char bit = 1 << (port % 8);

		held[port / 8] &= ~bit;
		admin[port / 8] &= ~bit;
		if (has_k || has_o)
			held[port / 8] |= bit;
		if ((has_k && (pv.flags & PORTRSV_PORT_ADMIN)) ||
		    (has_o && (ov.flags & PORTRSV_PORT_ADMIN)))
			admin[port / 8] |= bit;
	}
	for (size_t i = 0; i < sizeof(held) && !any; i++)
		any = held[i];
	err = guard_put(p, fd, netns, held, admin, any);
	if (err)
		portrsv_set_errmsg("%s/%s: %s", p->pin_dir, PORTRSV_PIN_SYSCTL, strerror(-err));
	close(fd);
	return err;
}

/*
 * The ports that other instances (other pin directories, found by map name among all BPF
 * maps) hold in netns, and those of them they know were the administrator's. Fails when the
 * maps cannot all be read: the caller must then assume every port is someone's.
 */
int portrsv_guard_others(struct portrsv *p, uint64_t netns, unsigned char *held,
			 unsigned char *admin)
{
	struct portrsv_sysctl_guard g;
	struct bpf_map_info info, own = { 0 };
	__u32 id = 0, ilen;
	int fd, err;

	memset(held, 0, NPORTS / 8);
	memset(admin, 0, NPORTS / 8);
	fd = portrsv_obj_get(p->pin_dir, PORTRSV_PIN_SYSCTL);
	if (fd >= 0) {
		ilen = sizeof(own);
		bpf_obj_get_info_by_fd(fd, &own, &ilen);
		close(fd);
	}
	while (!(err = bpf_map_get_next_id(id, &id))) {
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile */
			return -errno;
		}
		memset(&info, 0, sizeof(info));
		ilen = sizeof(info);
		err = bpf_obj_get_info_by_fd(fd, &info, &ilen);
		if (err || info.id == own.id || strcmp(info.name, PORTRSV_GUARD_MAP_NAME) ||
		    info.key_size != sizeof(__u64) || info.value_size != sizeof(g)) {
			close(fd);
			if (err)
				return err;
			continue;
		}
		err = bpf_map_lookup_elem(fd, &netns, &g);
		close(fd);
		if (err == -ENOENT)
			continue;
		if (err)
			return err;
		g.ranges[sizeof(g.ranges) - 1] = g.admin[sizeof(g.admin) - 1] = '\0';
		if ((g.flags & PORTRSV_GUARD_TOO_LONG) || portrsv_ranges_parse(g.ranges, held))
			memset(held, 0xff, NPORTS / 8);
		if ((g.flags & PORTRSV_GUARD_ADMIN_TOO_LONG) || portrsv_ranges_parse(g.admin, admin))
			memset(admin, 0xff, NPORTS / 8);
	}
	return err == -ENOENT ? 0 : err;
}
