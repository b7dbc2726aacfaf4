// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Denied binds, as the BPF programs report them: every monitor has a ring buffer of its own
 * in a slot of the pinned portrsv_monitors (abi.h), so several monitors each see every
 * event from their start on, and what a full buffer could not take is counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

struct monitor {
	portrsv_event_fn fn;
	void *ctx;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct monitor *m = ctx;

	if (len < sizeof(struct portrsv_event))
		return 0; /* not ours to interpret */
	return m->fn(data, m->ctx);
}

/* Start time (clock ticks since boot, /proc/PID/stat field 22) of pid; 0 if it is gone. */
static uint64_t start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			  "%*d %*d %*d %llu", &t) != 1)
		return 0;
	return t;
}

static uint64_t pidns_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) ? 0 : st.st_ino;
}

/* A slot whose monitor is gone (killed): free it. Only one of our pid namespace can be told. */
static void sweep(int outer, int slots)
{
	struct portrsv_monitor_slot s;
	uint64_t ns = pidns_ino();
	__u32 id;

	for (__u32 i = 0; i < PORTRSV_MAX_MONITORS; i++) {
		if (bpf_map_lookup_elem(outer, &i, &id) || bpf_map_lookup_elem(slots, &i, &s))
			continue;
		if (s.pidns == ns && ns && start_time(s.pid) != s.start_time)
			bpf_map_delete_elem(outer, &i);
	}
}

/* Claim a free slot for ring buffer rb; the slot, or -EBUSY when every one is taken. */
static int claim(const char *pin_dir, int outer, int slots, int rb)
{
	struct portrsv_monitor_slot s = { .pid = (__u32)getpid(), .pidns = pidns_ino() };
	int dir, ret = -EBUSY;

	s.start_time = start_time(getpid());
	/* Claims and sweeps of concurrent monitors one at a time: a sweep never frees a
	 * slot between its claim and the claimer's slot record. */
	dir = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	if (flock(dir, LOCK_EX)) {
		ret = -errno;
		close(dir);
		return ret;
	}
	sweep(outer, slots);
	for (__u32 i = 0; i < PORTRSV_MAX_MONITORS; i++) {
		if (bpf_map_update_elem(slots, &i, &s, BPF_ANY) == 0 &&
		    bpf_map_update_elem(outer, &i, &rb, BPF_NOEXIST) == 0) {
			ret = (int)i;
			break;
		}
	}
	flock(dir, LOCK_UN);
	close(dir);
	if (ret == -EBUSY)
		portrsv_set_errmsg("%d monitors run already, the most there may be",
				   PORTRSV_MAX_MONITORS);
	return ret;
}

int portrsv_monitor(const struct portrsv_monitor_opts *opts)
{
	const char *pin_dir = portrsv_pin_dir(OPTS_GET(opts, pin_dir, NULL));
	const volatile int *stop = OPTS_GET(opts, stop, NULL);
	portrsv_lost_fn lost_fn = OPTS_GET(opts, lost, NULL);
	struct monitor m = { OPTS_GET(opts, fn, NULL), OPTS_GET(opts, ctx, NULL) };
	struct portrsv_monitor_slot s;
	struct ring_buffer *rb = NULL;
	int outer, slots, buf = -1, err = 0;
	uint64_t reported = 0;
	__u32 slot;

	portrsv_set_errmsg(NULL);
	if (!opts)
		return portrsv_fail(-EINVAL, "opts is NULL (fn is required)");
	err = portrsv_check_opts(opts, portrsv_monitor_opts);
	if (err)
		return err;
	if (!m.fn)
		return portrsv_fail(-EINVAL, "opts->fn is NULL");
	outer = portrsv_obj_get(pin_dir, PORTRSV_PIN_MONITORS);
	if (outer < 0)
		return outer;
	slots = portrsv_obj_get(pin_dir, PORTRSV_PIN_MONITOR_SLOTS);
	if (slots < 0) {
		close(outer);
		return slots;
	}
	buf = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "portrsv_monitor", 0, 0, PORTRSV_EVENTS_BYTES,
			     NULL);
	if (buf < 0) {
		err = -errno;
		goto out;
	}
	rb = ring_buffer__new(buf, on_event, &m, NULL);
	if (!rb) {
		err = -errno;
		goto out;
	}
	err = claim(pin_dir, outer, slots, buf);
	if (err < 0)
		goto out;
	slot = (__u32)err;
	err = 0;
	while (!err && !(stop && *stop)) {
		err = ring_buffer__poll(rb, 200);
		if (err == -EINTR || err > 0)
			err = 0;
		if (!bpf_map_lookup_elem(slots, &slot, &s) && s.lost > reported) {
			if (lost_fn)
				lost_fn(s.lost - reported, m.ctx);
			reported = s.lost;
		}
	}
	bpf_map_delete_elem(outer, &slot);
	ring_buffer__consume(rb); /* what came before the slot was freed */
out:
	ring_buffer__free(rb);
	if (buf >= 0)
		close(buf);
	close(slots);
	close(outer);
	return err < 0 ? err : 0;
}

uint64_t portrsv_event_realtime_ns(const struct portrsv_event *e)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return (uint64_t)rt.tv_sec * 1000000000ULL + rt.tv_nsec -
	       ((uint64_t)bt.tv_sec * 1000000000ULL + bt.tv_nsec) + e->ts_boot_ns;
}
