// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * monitor: denied binds, from this monitor's start until interrupted, as text, one JSON
 * object a line, or journal lines (--log, rate-limited). Never prints a token.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

static volatile int stop_monitor;

static void on_signal(int sig)
{
	stop_monitor = 1;
}

/* How a monitor prints: JSON, text, or journal lines (--log, rate-limited). */
struct monitor_out {
	bool json, log;
	struct portrsv *p;         /* the reservations: their netns's names, their comments */
	struct portrsv_denylog rl;
	struct { uint64_t cookie; char label[NETNS_LEN]; } names[32]; /* netns cookie -> name */
	unsigned nnames;
};

/*
 * An event names its netns by cookie only; show names it by NAME or net:[INO]. The refusing
 * reservation has both: found once per netns in the listing, and kept.
 */
static const char *event_netns(struct monitor_out *m, uint64_t cookie)
{
	struct portrsv_reservation *v = NULL;
	unsigned slot = m->nnames % 32;
	int n;

	for (unsigned i = 0; i < m->nnames && i < 32; i++)
		if (m->names[i].cookie == cookie)
			return m->names[i].label;
	snprintf(m->names[slot].label, NETNS_LEN, "netns cookie %" PRIu64, cookie);
	n = portrsv_list(m->p, &v);
	for (int i = 0; i < n; i++) {
		if (v[i].netns_cookie != cookie)
			continue;
		netns_label(v[i].netns_ino, cookie, m->names[slot].label, NETNS_LEN);
		break;
	}
	free(v);
	m->names[slot].cookie = cookie;
	m->nnames++;
	return m->names[slot].label;
}

static void print_event(struct monitor_out *m, const struct portrsv_event *e)
{
	char when[48], cg[PATH_MAX], comm[17], block[BLOCK_LEN];
	const char *netns = event_netns(m, e->netns);

	boot_time(e->ts_boot_ns, true, when, sizeof(when));
	cgroup_label(e->cgid, cg, sizeof(cg));
	comm_string(e->comm, comm);
	if (m->json) {
		json_object *o = json_object_new_object();

		jset(o, "time", jstr(when));
		jset(o, "pid", jint(e->pid));
		jset(o, "comm", jstr(comm));
		jset(o, "uid", jint(e->uid));
		jset(o, "cgroup", jstr(cg));
		jset(o, "netns", jstr(netns));
		jset(o, "netns_cookie", jint((int64_t)e->netns));
		jset(o, "proto", jstr(portrsv_proto_name(e->proto)));
		jset(o, "port", jint(e->port));
		jset(o, "start", jint(e->resv_start));
		jset(o, "count", jint(e->resv_count));
		jset(o, "block", jstr(block_name(e->resv_start, e->resv_count ? e->resv_count : 1,
						 block)));
		jset(o, "family", jstr(e->family == 10 ? "ipv6" : "ipv4"));
		/* never the token: a secret */
		jset(o, "error", jstr(e->err == EADDRINUSE ? "EADDRINUSE" : "EACCES"));
		jprint_line(o);
	} else {
		char ecomm[6 * 17], ecg[4 * PATH_MAX], enetns[4 * NETNS_LEN];

		portrsv_escape(comm, ecomm, sizeof(ecomm));
		portrsv_escape(cg, ecg, sizeof(ecg));
		portrsv_escape(netns, enetns, sizeof(enetns));
		printf("%s %s %s %u refused (%s): reservation %s, pid %u (%s) uid %u, %s, netns "
		       "%s\n", when, portrsv_proto_name(e->proto), e->family == 10 ? "ipv6" : "ipv4",
		       e->port, e->err == EADDRINUSE ? "block exhausted" : "no token",
		       block_name(e->resv_start, e->resv_count ? e->resv_count : 1, block), e->pid,
		       ecomm, e->uid, ecg, enetns);
		fflush(stdout);
	}
}

static uint64_t monotonic_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static void log_folded(struct monitor_out *m)
{
	char line[128];

	if (portrsv_denylog_folded(&m->rl, line, sizeof(line)) > 0)
		puts(line);
}

static void log_event(struct monitor_out *m, const struct portrsv_event *e)
{
	char line[2048];

	if (!portrsv_denylog_take(&m->rl, monotonic_ns()))
		return;
	log_folded(m);
	portrsv_denylog_line(m->p, e, line, sizeof(line));
	puts(line);
	fflush(stdout);
}

static int monitor_event(const struct portrsv_event *e, void *ctx)
{
	struct monitor_out *m = ctx;

	if (m->log)
		log_event(m, e);
	else
		print_event(m, e);
	return 0;
}

/* Events the kernel could not hand to this monitor: said, never dropped silently. */
static void print_lost(uint64_t n, void *ctx)
{
	struct monitor_out *m = ctx;

	if (m->json) {
		json_object *o = json_object_new_object();

		jset(o, "lost", jint((int64_t)n));
		jprint_line(o);
		return;
	}
	printf("%s%" PRIu64 " events lost: the monitor fell behind\n", m->log ? "<4>" : "", n);
	fflush(stdout);
}

int cmd_monitor(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	static struct monitor_out m;
	uint16_t rate = 20;
	struct args a;
	int err = parse(argc, argv, 0, "", O_JSON O_LOG O_RATE, &a), status = 0;

	if (err || a.help)
		return err;
	if (a.rate && !a.log)
		return usage_error("--rate applies to --log only");
	if (a.log && a.json)
		return usage_error("--log and --json exclude each other");
	if (a.rate && portrsv_parse_count(a.rate, &rate))
		return usage_error("rate '%s' is not a number of lines per second from 1 to %d",
				   a.rate, PORTRSV_PORT_MAX);
	m.json = a.json;
	m.log = a.log;
	portrsv_denylog_init(&m.rl, rate, 5 * rate);
	if (!(m.p = open_or_fail(&status)))
		return status;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	PORTRSV_OPTS(portrsv_monitor_opts, o, .fn = monitor_event, .ctx = &m,
		     .stop = &stop_monitor, .lost = print_lost);
	err = portrsv_monitor(&o);
	if (m.log)
		log_folded(&m); /* what the limit folded last is said too */
	portrsv_close(m.p);
	return err ? fail(err, "%s", portrsv_pin_dir(NULL)) : 0;
}
