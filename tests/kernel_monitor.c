// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Denied binds reach portrsv_monitor and `portrsv monitor` with who, where and what. */
#include <pthread.h>
#include <signal.h>
#include "testlib.h"
#include "json.h"
#include <bpf/bpf.h>
#include <criterion/parameterized.h> /* after criterion.h, which it would break */

struct kt_env kt;

#define START 7300
#define COUNT 2
#define MAX_EVENTS 16

struct seen {
	struct portrsv_event ev[MAX_EVENTS];
	int n;
	volatile int stop;
	int ret;
};

/* Wait (bounded) until n monitors have claimed their slots: they see events from then on. */
static void wait_monitors(unsigned n)
{
	char path[PATH_MAX];
	unsigned have = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/" PORTRSV_PIN_MONITORS, kt.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	for (int i = 0; i < 2000 && have < n; i++) {
		__u32 k, next;

		have = 0;
		for (void *key = NULL; !bpf_map_get_next_key(fd, key, &next); key = &k) {
			k = next;
			have++;
		}
		if (have < n)
			usleep(5000);
	}
	close(fd);
	cr_assert_geq(have, n, "%u monitors running, want %u", have, n);
}

static int collect(const struct portrsv_event *e, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < MAX_EVENTS)
		s->ev[s->n++] = *e;
	return 0;
}

static void *run_monitor(void *arg)
{
	struct seen *s = arg;
	PORTRSV_OPTS(portrsv_monitor_opts, o, .fn = collect, .ctx = s, .stop = &s->stop);

	s->ret = portrsv_monitor(&o);
	return NULL;
}

struct mon_row {
	const char name[24];
	int proto;
	enum kt_fam fam;
	bool token;       /* associate, then exhaust the block with bind(0) */
	int err;          /* errno in the event */
};

ParameterizedTestParameters(monitor, events)
{
	static struct mon_row rows[] = {
		{ "tcp4 no token", IPPROTO_TCP, KT_V4, false, EACCES },
		{ "tcp6 no token", IPPROTO_TCP, KT_V6, false, EACCES },
		{ "udp dual no token", IPPROTO_UDP, KT_DUAL, false, EACCES },
		{ "tcp4 exhausted", IPPROTO_TCP, KT_V4, true, EADDRINUSE },
	};

	return cr_make_param_array(struct mon_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct mon_row *row, monitor, events, .init = kt_setup, .fini = kt_teardown)
{
	enum portrsv_proto space = row->proto == IPPROTO_UDP ? PORTRSV_UDP : PORTRSV_TCP;
	uint64_t token = kt_reserve(space, START, COUNT), cookie, now;
	struct portrsv_reservation r;
	struct seen s = { 0 };
	int fds[COUNT + 1], fd;
	pthread_t th;
	uint64_t cgid;

	cr_assert_eq(portrsv_netns_self(&cookie, NULL), 0);
	cr_assert_eq(portrsv_cgroup_id(kt.cgroup, &cgid, NULL), 0);
	cr_assert_eq(pthread_create(&th, NULL, run_monitor, &s), 0);
	wait_monitors(1);
	if (row->token) {
		for (int i = 0; i <= COUNT; i++) {
			fds[i] = kt_socket(row->fam, row->proto);
			cr_assert_eq(portrsv_associate(fds[i], token), 0);
			cr_assert_eq(kt_bind(fds[i], row->fam, 0), i < COUNT ? 0 : -EADDRINUSE);
		}
		for (int i = 0; i <= COUNT; i++)
			close(fds[i]);
	} else {
		fd = kt_socket(row->fam, row->proto);
		cr_assert_eq(kt_bind(fd, row->fam, START + 1), -EACCES);
		close(fd);
	}
	for (int i = 0; i < 50 && !s.n; i++)
		usleep(20000);
	s.stop = 1;
	pthread_join(th, NULL);
	cr_assert_eq(s.ret, 0, "%s: monitor returned %d", row->name, s.ret);
	cr_assert_eq(s.n, 1, "%s: %d events, want 1", row->name, s.n);

	struct portrsv_event *e = &s.ev[0];

	now = portrsv_event_realtime_ns(e) / 1000000000ULL;
	cr_assert(now + 5 >= (uint64_t)time(NULL) && now <= (uint64_t)time(NULL) + 1,
		  "%s: event time %" PRIu64 " is not now", row->name, now);
	cr_assert_eq(e->pid, (uint32_t)getpid());
	cr_assert_eq(e->uid, 0);
	cr_assert_eq(e->cgid, cgid, "%s: cgroup %" PRIu64 ", want %" PRIu64, row->name,
		     (uint64_t)e->cgid, cgid);
	cr_assert_eq(e->netns, cookie);
	cr_assert_eq(e->proto, space);
	cr_assert_eq(e->port, row->token ? 0 : START + 1);
	cr_assert_eq(e->resv_start, START);
	cr_assert_eq(e->resv_count, COUNT);
	cr_assert_eq(e->token, token);
	cr_assert_eq(e->err, row->err);
	cr_assert_eq(e->family, row->fam == KT_V4 ? AF_INET : AF_INET6);
	/* The same refusal is counted on the reservation. */
	cr_assert_eq(portrsv_query(kt.p, space, START, NULL, &r), 0);
	cr_assert_eq(r.denied, 1);
}

/* The command streams one JSON object per denied bind and exits 0 on SIGINT. */
KT_TEST(monitor, command_json)
{
	const char *bin = getenv("PORTRSV_BIN") ? getenv("PORTRSV_BIN") : "build/portrsv";
	char out[4096] = "", want[64];
	int pipefd[2], status, fd;
	ssize_t n, got = 0;
	pid_t pid;

	uint64_t token = kt_reserve(PORTRSV_TCP, START, COUNT);
	char tok[24];

	snprintf(tok, sizeof(tok), "%016" PRIx64, token);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		execl(bin, "portrsv", "monitor", "--json", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	wait_monitors(1);
	fd = kt_socket(KT_V4, IPPROTO_TCP);
	cr_assert_eq(kt_bind(fd, KT_V4, START), -EACCES);
	close(fd);
	usleep(500000);
	kill(pid, SIGINT);
	while ((n = read(pipefd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "monitor exit status %d", status);
	snprintf(want, sizeof(want), "\"pid\": %d,", getpid());
	cr_assert(strstr(out, want), "no event of our pid in: %s", out);
	cr_assert(strstr(out, "\"proto\": \"tcp\", \"port\": 7300, \"start\": 7300, \"count\": 2"),
		  "event fields: %s", out);
	cr_assert(strstr(out, "\"error\": \"EACCES\""), "%s", out);
	cr_assert(!strstr(out, tok), "monitor printed the token, a secret: %s", out);
	cr_assert_eq(strchr(out, '\n') - out + 1, (long)strlen(out), "one line per event: %s", out);
	/* Parsed: the netns named as show names it (the test's own, unnamed: net:[INO]). */
	{
		struct stat st;
		char ns[64];
		int o = jparse(out);

		cr_assert_eq(stat("/proc/self/ns/net", &st), 0);
		snprintf(ns, sizeof(ns), "net:[%" PRIu64 "]", (uint64_t)st.st_ino);
		cr_assert_str_eq(J[jget(o, "netns", J_STR)].str, ns, "%s", out);
		cr_assert_str_eq(J[jget(o, "block", J_STR)].str, "7300-7301", "%s", out);
		cr_assert_str_eq(J[jget(o, "family", J_STR)].str, "ipv4", "%s", out);
		cr_assert_eq(J[jget(o, "port", J_NUM)].num, 7300);
	}
}

/* why remembers each port's last refusal: who, where, how many times. */
KT_TEST(monitor, last_denial)
{
	const char *bin = getenv("PORTRSV_BIN") ? getenv("PORTRSV_BIN") : "build/portrsv";
	struct portrsv_denial d;
	char cmd[PATH_MAX + 32], out[1024] = "", want[64];
	uint64_t cgid;
	size_t n;
	FILE *f;
	int fd;

	kt_reserve(PORTRSV_UDP, START, COUNT);
	cr_assert_eq(portrsv_last_denial(kt.p, PORTRSV_UDP, START, NULL, &d), -ENOENT);
	for (int i = 0; i < 3; i++) {
		fd = kt_socket(KT_V6, IPPROTO_UDP);
		cr_assert_eq(kt_bind(fd, KT_V6, START), -EACCES);
		close(fd);
	}
	cr_assert_eq(portrsv_last_denial(kt.p, PORTRSV_UDP, START, NULL, &d), 0);
	cr_assert_eq(d.count, 3);
	cr_assert_eq(d.pid, (uint32_t)getpid());
	cr_assert_eq(portrsv_cgroup_id(kt.cgroup, &cgid, NULL), 0);
	cr_assert_eq(d.cgid, cgid);
	cr_assert_eq(portrsv_last_denial(kt.p, PORTRSV_UDP, START + 1, NULL, &d), -ENOENT);
	cr_assert_eq(portrsv_last_denial(kt.p, PORTRSV_TCP, START, NULL, &d), -ENOENT);

	snprintf(cmd, sizeof(cmd), "%s why udp %d", bin, START);
	f = popen(cmd, "r");
	cr_assert(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	cr_assert_eq(pclose(f), 0, "why: %s", out);
	snprintf(want, sizeof(want), "pid %d (", getpid());
	cr_assert(strstr(out, want), "why does not name the refused pid: %s", out);
	cr_assert(strstr(out, "3 binds of this port refused"), "%s", out);
}

/* ---- several monitors, lost events, the socket's cgroup ---- */

struct counter {
	volatile int stop;
	volatile int hold;     /* fn waits while set: the monitor falls behind */
	volatile uint64_t seen, lost;
	int ret;
	volatile int started;
};

static int count_event(const struct portrsv_event *e, void *ctx)
{
	struct counter *c = ctx;

	while (c->hold && !c->stop)
		usleep(1000);
	c->seen++;
	return 0;
}

static void count_lost(uint64_t n, void *ctx)
{
	((struct counter *)ctx)->lost += n;
}

static void *run_counter(void *arg)
{
	struct counter *c = arg;
	PORTRSV_OPTS(portrsv_monitor_opts, o, .fn = count_event, .ctx = c, .stop = &c->stop,
		     .lost = count_lost);

	c->started = 1;
	c->ret = portrsv_monitor(&o);
	return NULL;
}

/* Refuse n binds of the test's reservation. */
static void refuse(int n)
{
	for (int i = 0; i < n; i++) {
		int fd = kt_socket(KT_V4, IPPROTO_TCP);

		cr_assert_eq(kt_bind(fd, KT_V4, START), -EACCES);
		close(fd);
	}
}

/* Wait (bounded) until the monitor has counted want events, seen or lost. */
static void wait_counted(struct counter *c, uint64_t want)
{
	for (int i = 0; i < 1000 && c->seen + c->lost < want; i++)
		usleep(10000);
}

KT_TEST(monitor, several_monitors_each_see_every_event)
{
	struct counter c[3] = { 0 }, late = { 0 };
	pthread_t th[3], lt;

	kt_reserve(PORTRSV_TCP, START, COUNT);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, run_counter, &c[i]), 0);
	wait_monitors(3);
	refuse(10);
	for (int i = 0; i < 3; i++)
		wait_counted(&c[i], 10);
	/* A monitor started now sees what happens from now on, not the 10 before. */
	cr_assert_eq(pthread_create(&lt, NULL, run_counter, &late), 0);
	wait_monitors(4);
	refuse(5);
	for (int i = 0; i < 3; i++)
		wait_counted(&c[i], 15);
	wait_counted(&late, 5);
	usleep(100000); /* a stale event would have arrived by now */
	for (int i = 0; i < 3; i++) {
		c[i].stop = 1;
		pthread_join(th[i], NULL);
		cr_assert_eq(c[i].ret, 0, "monitor %d: %d", i, c[i].ret);
		cr_assert_eq(c[i].seen, 15, "monitor %d saw %" PRIu64 " of 15", i, c[i].seen);
		cr_assert_eq(c[i].lost, 0);
	}
	late.stop = 1;
	pthread_join(lt, NULL);
	cr_assert_eq(late.seen, 5, "the late monitor saw %" PRIu64 ", want the 5 after it", late.seen);
}

KT_TEST(monitor, lost_events_are_counted)
{
	struct counter c = { .hold = 1 };
	const int flood = 6000; /* about twice what a monitor's buffer holds */
	pthread_t th;

	kt_reserve(PORTRSV_TCP, START, COUNT);
	cr_assert_eq(pthread_create(&th, NULL, run_counter, &c), 0);
	wait_monitors(1);
	refuse(flood);
	c.hold = 0;
	wait_counted(&c, flood);
	c.stop = 1;
	pthread_join(th, NULL);
	cr_assert_eq(c.ret, 0);
	cr_assert_gt(c.lost, 0, "a flood past the buffer lost nothing?");
	cr_assert_eq(c.seen + c.lost, (uint64_t)flood, "seen %" PRIu64 " + lost %" PRIu64
		     " != %d refused: events vanished uncounted", c.seen, c.lost, flood);
}

/* Up to PORTRSV_MAX_MONITORS at once; a killed monitor's slot is freed for the next. */
KT_TEST(monitor, slots)
{
	struct counter c[PORTRSV_MAX_MONITORS] = { 0 }, extra = { 0 };
	pthread_t th[PORTRSV_MAX_MONITORS];
	int status, pipefd[2];
	pid_t pid;
	char x;

	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct counter cc = { 0 };
		pthread_t t;

		pthread_create(&t, NULL, run_counter, &cc);
		wait_monitors(1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	cr_assert_eq(read(pipefd[0], &x, 1), 1);
	close(pipefd[0]);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	for (int i = 0; i < PORTRSV_MAX_MONITORS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, run_counter, &c[i]), 0);
	wait_monitors(PORTRSV_MAX_MONITORS);
	run_counter(&extra);
	cr_assert_eq(extra.ret, -EBUSY, "monitor #%d: %d", PORTRSV_MAX_MONITORS + 1, extra.ret);
	for (int i = 0; i < PORTRSV_MAX_MONITORS; i++) {
		c[i].stop = 1;
		pthread_join(th[i], NULL);
		cr_assert_eq(c[i].ret, 0, "monitor %d: %d (the killed one's slot was not freed?)", i,
			     c[i].ret);
	}
}

/* The event names the socket's cgroup, not that of the task that binds it. */
KT_TEST(monitor, cgroup_is_the_sockets)
{
	char sub[PATH_MAX + 8];
	struct counter c = { 0 };
	struct portrsv_denial d;
	uint64_t cgid;
	pthread_t th;
	int fd;

	kt_reserve(PORTRSV_TCP, START, COUNT);
	cr_assert_eq(portrsv_cgroup_id(kt.cgroup, &cgid, NULL), 0);
	snprintf(sub, sizeof(sub), "%s/sub", kt.cgroup);
	cr_assert(mkdir(sub, 0755) == 0 || errno == EEXIST);
	fd = kt_socket(KT_V4, IPPROTO_TCP); /* made in the test's cgroup */
	kt_join_cgroup(sub);
	cr_assert_eq(pthread_create(&th, NULL, run_counter, &c), 0);
	wait_monitors(1);
	cr_assert_eq(kt_bind(fd, KT_V4, START), -EACCES);
	close(fd);
	wait_counted(&c, 1);
	c.stop = 1;
	pthread_join(th, NULL);
	kt_join_cgroup(kt.cgroup);
	rmdir(sub);
	cr_assert_eq(c.seen, 1);
	cr_assert_eq(portrsv_last_denial(kt.p, PORTRSV_TCP, START, NULL, &d), 0);
	cr_assert_eq(d.cgid, cgid, "denial names cgroup %" PRIu64 ", the socket's is %" PRIu64,
		     (uint64_t)d.cgid, cgid);
}

/* ---- monitor --log: journal lines, rate-limited ---- */

/* Run `portrsv monitor --log --rate 10` while fn acts; its stdout in out; seconds it ran. */
static double run_log(void (*fn)(void), char *out, size_t cap)
{
	struct timespec t0, t1;
	const char *bin = getenv("PORTRSV_BIN") ? getenv("PORTRSV_BIN") : "build/portrsv";
	int pipefd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		execl(bin, "portrsv", "monitor", "--log", "--rate", "10", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wait_monitors(1);
	fn();
	usleep(500000);
	kill(pid, SIGTERM);
	while ((n = read(pipefd[0], out + got, cap - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "monitor --log: status %#x: %s",
		  status, out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void refuse_one(void)
{
	refuse(1);
}

static void refuse_storm(void)
{
	refuse(200);
}

KT_TEST(monitor, log_line)
{
	PORTRSV_OPTS(portrsv_create_opts, o, .comment = "web pool");
	char out[4096], want[256], mnt[PATH_MAX], comm[32] = "";
	uint64_t token;
	FILE *f = fopen("/proc/self/comm", "re");

	cr_assert(f && fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	cr_assert_eq(portrsv_create(kt.p, PORTRSV_TCP, START, COUNT, &o, &token), 0);
	cr_assert_eq(portrsv_cgroup2_mount(mnt, sizeof(mnt)), 0);
	run_log(refuse_one, out, sizeof(out));
	snprintf(want, sizeof(want), "<4>tcp %d refused to %s [%d] uid 0 in %s: reserved %d-%d "
		 "'web pool'\n", START, comm, getpid(), kt.cgroup + strlen(mnt), START,
		 START + COUNT - 1);
	cr_assert_str_eq(out, want);
}

KT_TEST(monitor, log_rate_limit)
{
	char out[64 * 1024];
	unsigned long lines = 0, folded = 0, f;

	double secs;

	kt_reserve(PORTRSV_TCP, START, COUNT);
	secs = run_log(refuse_storm, out, sizeof(out));
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		if (sscanf(l, "<4>%lu more denied binds folded (rate limit 10/s)", &f) == 1)
			folded += f;
		else if (strstr(l, " refused to "))
			lines++;
		else
			cr_assert_fail("unexpected line: %s", l);
	}
	/* A burst of 5 x the rate, then 10 a second: the rest folded, every denial written or
	 * counted. */
	cr_assert_leq(lines, 50 + (unsigned long)(10 * secs) + 1, "%lu lines in %.1f s", lines, secs);
	cr_assert_gt(folded, 0, "nothing folded");
	cr_assert_eq(lines + folded, 200, "%lu lines + %lu folded != 200 denials", lines, folded);
}
