// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Denied binds, as the BPF programs report them through the pinned ring buffer. */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
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

int portrsv_monitor(const struct portrsv_monitor_opts *opts)
{
	const char *pin_dir = portrsv_pin_dir(OPTS_GET(opts, pin_dir, NULL));
	const volatile int *stop = OPTS_GET(opts, stop, NULL);
	struct monitor m = { OPTS_GET(opts, fn, NULL), OPTS_GET(opts, ctx, NULL) };
	struct ring_buffer *rb;
	int fd, err = 0;

	if (!opts || !OPTS_VALID(opts, portrsv_monitor_opts) || !m.fn)
		return -EINVAL;
	fd = portrsv_obj_get(pin_dir, PORTRSV_PIN_EVENTS);
	if (fd < 0)
		return fd;
	rb = ring_buffer__new(fd, on_event, &m, NULL);
	if (!rb) {
		err = -errno;
		close(fd);
		return err;
	}
	while (!err && !(stop && *stop)) {
		err = ring_buffer__poll(rb, 200);
		if (err == -EINTR || err > 0)
			err = 0;
	}
	ring_buffer__free(rb);
	close(fd);
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
