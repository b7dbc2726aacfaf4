// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * portrsv benchmark: what enforcement costs, next to no enforcement and next to Landlock.
 *
 *   build/bench [--quick] [--csv FILE] [--reps N] [--iters N] [--cpu N] [--nice N]
 *               [--state-base DIR] [--profile FAM/CASE|restore|cni]
 *
 * How it times (tests/bench/RESULTS.md says why): CPU time of this thread, pinned at nice
 * -20; every run of a case right next to a run of its family's baseline, after an RCU grace
 * period; cases in a new random order each repetition; medians of the paired ratios.
 *
 * Runs as root. Everything it makes is its own and is removed on every exit path:
 *   - cgroups  $CGROUP2/portrsv-bench-PID/{plain,r0,r1,r10k,r60k}
 *   - pins     /sys/fs/bpf/portrsv-bench-PID/{r0,r1,r10k,r60k}   (one portrsv instance each)
 *   - state    $STATE_BASE/portrsv-bench-PID/{r0,r1,r10k,r60k}   (default /tmp)
 *   - a private network namespace with lo up, where every socket and reservation lives.
 * Each portrsv instance is attached to its own cgroup only (never the root cgroup) and holds
 * one reservation set, so that the process measures a configuration by moving itself into
 * that cgroup:
 *   plain  no program attached: the baseline (and the Landlock children)
 *   r0     portrsv attached, no reservation
 *   r1     one TCP and one UDP reservation of 1,000 ports (5000-5999): also the token bind,
 *          the refused bind and bind(0) allocation
 *   r10k   10,000 reservations of one port (5,000 TCP + 5,000 UDP, 10000-14999), loaded at
 *          once by portrsv_restore from a store file written here
 *   r60k   60,000 reserved TCP ports and 60,000 UDP ports (2000-61999, 4 blocks each)
 *
 * A supervisor process forks the worker and cleans up after it whatever way it ended (a
 * SIGKILL included); the worker also cleans up itself (atexit and signal handlers).
 * kernel.bpf_stats_enabled is turned on only for the program-cost pass and put back.
 *
 * Exit status: 0 when the benchmark ran (targets met or not); 1 when it could not run.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <linux/membarrier.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include "internal.h"

/* ---- Landlock, defined here: Debian's <linux/landlock.h> predates network rules. ---- */
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#endif
#define BENCH_LANDLOCK_RULE_NET_PORT 2 /* LANDLOCK_RULE_NET_PORT */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

struct bench_landlock_ruleset_attr {
	__u64 handled_access_fs;
	__u64 handled_access_net;
};

struct bench_landlock_net_port_attr {
	__u64 allowed_access;
	__u64 port;
};

/* ---- Parameters ---- */
#define PREFIX "portrsv-bench-"
#define PORT_OUT 63000       /* outside every reservation of every instance */
#define PORT_CTL 63100       /* control plane: add/delete */
#define R1_START 5000        /* r1: one block per protocol */
#define R1_COUNT 1000
#define R1_PORT 5500         /* token and refused binds */
#define R10K_START 10000     /* r10k: single-port reservations */
#define R10K_PER_PROTO 5000
#define R60K_START 2000      /* r60k: 4 blocks of 15,000 per protocol */
#define R60K_BLOCK 15000
#define R60K_BLOCKS 4
#define RT_POOL 64100        /* r0: a pool for runtime reservations */
#define RT_POOL_N 200
#define RT_HELD 25           /* sockets holding 4 ports each for the "half taken" case */
#define LL_RANGE_START 62500 /* Landlock 1,000-port rule set: 62500-63499 */
#define LL_DENIED_PORT 64000
#define MAX_REPS 512
#define MAX_SAMPLES 8192 /* a baseline gets one sample per case of its family and repetition */

enum { INST_R0, INST_R1, INST_R10K, INST_R60K, N_INST };
static const char *const inst_name[N_INST] = { "r0", "r1", "r10k", "r60k" };

struct instance {
	char cgroup[PATH_MAX];
	char pin_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	struct portrsv *p;
	uint64_t tok_tcp, tok_udp; /* r1's tokens */
};

static struct {
	bool quick;
	const char *csv;
	const char *profile;
	int reps, iters, ctl_n, ctl10k_n, restore_n, stats_reps, stats_iters;
	int cpu;
	int nice;
	const char *state_base;
} opt = { .cpu = -1, .nice = -20, .state_base = "/tmp" };

/* What cleanup needs; filled before anything is created. */
static struct {
	pid_t owner;                 /* the supervisor: names are derived from its pid */
	char cg_mnt[PATH_MAX];
	char cg_top[PATH_MAX];
	char cg_plain[PATH_MAX];
	char pin_top[PATH_MAX];
	char state_top[PATH_MAX];
	char orig_cgroup[PATH_MAX];
	struct instance inst[N_INST];
	char stats_prev[16];         /* kernel.bpf_stats_enabled before we touched it */
	volatile sig_atomic_t stats_changed;
	volatile pid_t ll_child;
	volatile sig_atomic_t cleaning;
	bool is_worker;
} g;

#define STATS_SYSCTL "/proc/sys/kernel/bpf_stats_enabled"

/* ---- Small helpers ---- */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#define FMT(buf, ...)                                                                   \
	do {                                                                            \
		int n_ = snprintf((buf), sizeof(buf), __VA_ARGS__);                     \
		if (n_ < 0 || (size_t)n_ >= sizeof(buf))                                \
			die("path too long: %s", (buf));                                \
	} while (0)

static double clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t len = (ssize_t)strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != len)
		err = -errno;
	close(fd);
	return err;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int join_cgroup(const char *dir)
{
	char path[PATH_MAX + 16], pid[32];
	int n = snprintf(path, sizeof(path), "%s/cgroup.procs", dir);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	return write_file(path, pid);
}

/* Newton's square root, without libm. */
static double sqrt_approx(double x)
{
	double r = x > 1 ? x / 2 : 1;

	for (int i = 0; i < 40 && x > 0; i++)
		r = (r + x / r) / 2;
	return x > 0 ? r : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	static double s[MAX_SAMPLES];

	if (n <= 0)
		return NAN;
	if (n > MAX_SAMPLES)
		n = MAX_SAMPLES;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double percentile(const double *v, int n, double q)
{
	static double s[MAX_SAMPLES];
	int i;

	if (n <= 0)
		return NAN;
	if (n > MAX_SAMPLES)
		n = MAX_SAMPLES;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	i = (int)(q * n + 0.999999) - 1; /* ceil(q * n) - 1 */
	return s[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* ---- Cleanup ---- */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_tree(const char *path)
{
	if (path[0] && access(path, F_OK) == 0)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Kill (by pid) whatever still lives in one of our cgroups: only our own Landlock children. */
static void kill_members(const char *dir)
{
	char path[PATH_MAX + 16], buf[4096], *s, *end;

	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= (int)sizeof(path) ||
	    read_file(path, buf, sizeof(buf)))
		return;
	for (s = buf; *s; s = end) {
		long pid = strtol(s, &end, 10);

		if (end == s)
			break;
		if (pid > 0 && pid != getpid())
			kill((pid_t)pid, SIGKILL);
	}
}

static void cleanup(void)
{
	if (g.cleaning || !g.owner)
		return;
	g.cleaning = 1;
	if (g.ll_child > 0)
		kill(g.ll_child, SIGKILL);
	if (g.stats_changed && g.stats_prev[0] && write_file(STATS_SYSCTL, g.stats_prev) == 0)
		g.stats_changed = 0;
	if (g.is_worker && g.orig_cgroup[0])
		join_cgroup(g.orig_cgroup);
	for (int i = 0; i < N_INST; i++) {
		struct instance *in = &g.inst[i];

		if (g.is_worker) {
			portrsv_close(in->p);
			in->p = NULL;
		}
		if (in->pin_dir[0] && access(in->pin_dir, F_OK) == 0) {
			portrsv_unload(in->pin_dir);
			rm_tree(in->pin_dir); /* whatever a half-done load left */
		}
	}
	rm_tree(g.pin_top);
	if (g.cg_top[0] && access(g.cg_top, F_OK) == 0) {
		char churn[PATH_MAX + 16];

		snprintf(churn, sizeof(churn), "%s/churn", g.cg_top);
		rmdir(churn); /* what an interrupted mkdir_cycles left */
		for (int round = 0; round < 50; round++) {
			bool busy = false;

			for (int i = 0; i < N_INST; i++)
				if (g.inst[i].cgroup[0] && rmdir(g.inst[i].cgroup) && errno == EBUSY) {
					kill_members(g.inst[i].cgroup);
					busy = true;
				}
			if (rmdir(g.cg_plain) && errno == EBUSY) {
				kill_members(g.cg_plain);
				busy = true;
			}
			if (!busy && (rmdir(g.cg_top) == 0 || errno != EBUSY))
				break;
			usleep(20000);
		}
		if (access(g.cg_top, F_OK) == 0)
			fprintf(stderr, "bench: could not remove %s\n", g.cg_top);
	}
	rm_tree(g.state_top);
	g.cleaning = 0;
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_signals(void (*fn)(int))
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS,
				    SIGABRT, SIGFPE, SIGILL, SIGUSR1, SIGUSR2, SIGALRM };
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ---- Setup ---- */
static void current_cgroup(char *buf, size_t len)
{
	char line[PATH_MAX];
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		die("/proc/self/cgroup: %s", strerror(errno));
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		int n;

		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		n = snprintf(buf, len, "%s%s", g.cg_mnt, strcmp(line + 3, "/") ? line + 3 : "");
		if (n < 0 || (size_t)n >= len)
			die("cgroup path too long");
	}
	fclose(f);
	if (!buf[0])
		die("no cgroup v2 line in /proc/self/cgroup");
}

static void private_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("lo up: %s", strerror(errno));
	close(fd);
}

static void pin_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	if (opt.cpu < 0)
		for (int c = CPU_SETSIZE - 1; c >= 0; c--)
			if (CPU_ISSET(c, &set)) {
				opt.cpu = c;
				break;
			}
	CPU_ZERO(&set);
	CPU_SET(opt.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("pin to cpu %d: %s", opt.cpu, strerror(errno));
}

static void names(pid_t owner)
{
	int err = portrsv_cgroup2_mount(g.cg_mnt, sizeof(g.cg_mnt));

	if (err)
		die("no cgroup v2 mount: %s", strerror(-err));
	g.owner = owner;
	FMT(g.cg_top, "%s/" PREFIX "%d", g.cg_mnt, owner);
	FMT(g.cg_plain, "%s/plain", g.cg_top);
	FMT(g.pin_top, "/sys/fs/bpf/" PREFIX "%d", owner);
	FMT(g.state_top, "%s/" PREFIX "%d", opt.state_base, owner);
	for (int i = 0; i < N_INST; i++) {
		FMT(g.inst[i].cgroup, "%s/%s", g.cg_top, inst_name[i]);
		FMT(g.inst[i].pin_dir, "%s/%s", g.pin_top, inst_name[i]);
		FMT(g.inst[i].state_dir, "%s/%s", g.state_top, inst_name[i]);
	}
}

static void make_dirs(void)
{
	if (mkdir(g.cg_top, 0755))
		die("mkdir %s: %s", g.cg_top, strerror(errno));
	if (mkdir(g.cg_plain, 0755))
		die("mkdir %s: %s", g.cg_plain, strerror(errno));
	for (int i = 0; i < N_INST; i++)
		if (mkdir(g.inst[i].cgroup, 0755))
			die("mkdir %s: %s", g.inst[i].cgroup, strerror(errno));
	if (mkdir(g.state_top, 0700))
		die("mkdir %s: %s", g.state_top, strerror(errno));
	for (int i = 0; i < N_INST; i++)
		if (mkdir(g.inst[i].state_dir, 0700))
			die("mkdir %s: %s", g.inst[i].state_dir, strerror(errno));
}

/*
 * The owner tracepoint's cost: mkdir + rmdir of an empty cgroup, what systemd and container
 * runtimes do on every service or container start. Wall time: the work is in the kernel.
 */
static void mkdir_cycles(double *out, int n)
{
	char dir[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s/churn", g.cg_top);
	for (int i = 0; i < n; i++) {
		double t0 = now_ns();

		if (mkdir(dir, 0755) || rmdir(dir))
			die("mkdir/rmdir %s: %s", dir, strerror(errno));
		out[i] = now_ns() - t0;
	}
}

static double load_instance(struct instance *in)
{
	const char *cg[1] = { in->cgroup };
	PORTRSV_OPTS(portrsv_load_opts, o, .cgroups = cg, .n_cgroups = 1, .pin_dir = in->pin_dir,
		     .state_dir = in->state_dir);
	double t0 = now_ns();
	int err = portrsv_load(&o);
	double t = now_ns() - t0;

	if (err)
		die("portrsv_load %s: %s %s", in->pin_dir, strerror(err < 0 ? -err : EPROTO),
		    portrsv_errmsg());
	return t;
}

static void open_instance(struct instance *in)
{
	PORTRSV_OPTS(portrsv_open_opts, o, .pin_dir = in->pin_dir, .state_dir = in->state_dir);

	in->p = portrsv_open(&o);
	if (!in->p)
		die("portrsv_open %s: %s", in->pin_dir, strerror(errno));
}

static uint64_t create(struct instance *in, enum portrsv_proto proto, uint16_t start,
		       uint16_t count)
{
	uint64_t tok = 0;
	int err = portrsv_create(in->p, proto, start, count, NULL, &tok);

	if (err)
		die("create %s %u+%u in %s: %s %s", portrsv_proto_name(proto), start, count,
		    in->pin_dir, strerror(-err), portrsv_errmsg());
	return tok;
}

/* The r10k store: 10,000 reservations of one port, in our netns, enforced on r10k's cgroup. */
static void write_store_10k(struct instance *in)
{
	char path[PATH_MAX + 32], netns[64], when[32];
	struct tm tm;
	time_t t = time(NULL);
	uint64_t tok;
	FILE *f;

	FMT(path, "%s/reservations", in->state_dir);
	FMT(netns, "/proc/%d/ns/net", getpid());
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	f = fopen(path, "we");
	if (!f)
		die("%s: %s", path, strerror(errno));
	fchmod(fileno(f), 0600);
	fprintf(f, "# written by portrsv's benchmark\nportrsv-store 1\ncgroup %s\n", in->cgroup);
	for (int proto = 0; proto < 2; proto++)
		for (int i = 0; i < R10K_PER_PROTO; i++) {
			do {
				if (getrandom(&tok, sizeof(tok), 0) != sizeof(tok))
					die("getrandom: %s", strerror(errno));
			} while (!tok);
			fprintf(f, "resv %s %d 1 0x%016" PRIx64 " %s - %s bench\n",
				proto ? "udp" : "tcp", R10K_START + i, tok, netns, when);
		}
	if (fflush(f) || fsync(fileno(f)) || fclose(f))
		die("%s: %s", path, strerror(errno));
}

static void report_skip(const char *msg, void *ctx)
{
	fprintf(stderr, "bench: restore: %s\n", msg);
}

/* Wall time of a restore; its CPU time (this thread, user and kernel) in *cpu. */
static double restore_instance(struct instance *in, double *cpu)
{
	PORTRSV_OPTS(portrsv_restore_opts, o, .pin_dir = in->pin_dir, .state_dir = in->state_dir,
		     .report = report_skip);
	double t0 = now_ns(), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	int err = portrsv_restore(&o);
	double t = now_ns() - t0;

	*cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	if (err < 0)
		die("portrsv_restore %s: %s %s", in->state_dir, strerror(-err), portrsv_errmsg());
	if (err > 0)
		die("portrsv_restore %s: %d items skipped", in->state_dir, err);
	return t;
}

/* ---- The data path ---- */
enum kind { K_BASE, K_OUT, K_TOKEN, K_REFUSED, K_ALLOC, K_LANDLOCK };

struct fam {
	const char *id, *label;
	int family, type;
	enum portrsv_proto proto;
};

static const struct fam fams[] = {
	{ "tcp4", "tcp/ipv4", AF_INET, SOCK_STREAM, PORTRSV_TCP },
	{ "tcp6", "tcp/ipv6", AF_INET6, SOCK_STREAM, PORTRSV_TCP },
	{ "udp4", "udp/ipv4", AF_INET, SOCK_DGRAM, PORTRSV_UDP },
	{ "udp6", "udp/ipv6", AF_INET6, SOCK_DGRAM, PORTRSV_UDP },
};
#define N_FAMS 4

struct bcase {
	const char *id;          /* baseline, r0, ..., landlock1000 */
	const char *label;
	const struct fam *fam;
	enum kind kind;
	int inst;                /* instance, or -1: the plain cgroup */
	int ll_ports;            /* Landlock: ports allowed by its rules */
	uint16_t port;
	int x;                   /* chart position: 0 none, 1 one, 2 10k, 3 60k; -1 not on it */
	double samples[MAX_SAMPLES];
	double wall_samples[MAX_SAMPLES];
	double base_samples[MAX_REPS]; /* the baseline measured right next to samples[i] */
	int nsamples;
	double med;              /* CPU ns per operation */
	double wall_med;         /* wall-clock ns per operation */
	double bpf_ns_op;        /* all programs' run time per operation (stats pass) */
	double bind_ns_run;      /* bind4/bind6 run time per run (stats pass) */
	double stat_samples[2][MAX_REPS];
	int nstat;
};

static struct bcase cases[N_FAMS * 10];
static int ncases;

static const struct {
	const char *id, *label;
	enum kind kind;
	int inst, x;
} kinds[] = {
	{ "baseline", "baseline (no program attached)", K_BASE, -1, -1 },
	{ "r0", "portrsv, 0 reservations", K_OUT, INST_R0, 0 },
	{ "r1", "portrsv, 1 reservation", K_OUT, INST_R1, 1 },
	{ "r10k", "portrsv, 10,000 reservations", K_OUT, INST_R10K, 2 },
	{ "r60k", "portrsv, 60,000 reserved ports", K_OUT, INST_R60K, 3 },
	{ "token", "bind in reservation, with token", K_TOKEN, INST_R1, -1 },
	{ "refused", "refused bind (EACCES)", K_REFUSED, INST_R1, -1 },
	{ "alloc", "bind(0) from 1,000-port reservation", K_ALLOC, INST_R1, -1 },
	{ "landlock1", "Landlock, 1 port allowed", K_LANDLOCK, -1, -1 },
	{ "landlock1000", "Landlock, 1,000 ports allowed", K_LANDLOCK, -1, -1 },
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static int landlock_abi;

static void build_cases(void)
{
	for (int f = 0; f < N_FAMS; f++)
		for (size_t k = 0; k < N_KINDS; k++) {
			struct bcase *c;

			if (kinds[k].kind == K_LANDLOCK &&
			    (fams[f].proto != PORTRSV_TCP || landlock_abi < 4))
				continue;
			c = &cases[ncases++];
			c->id = kinds[k].id;
			c->label = kinds[k].label;
			c->fam = &fams[f];
			c->kind = kinds[k].kind;
			c->inst = kinds[k].inst;
			c->x = kinds[k].x;
			c->port = PORT_OUT;
			if (c->kind == K_TOKEN || c->kind == K_REFUSED)
				c->port = R1_PORT;
			else if (c->kind == K_ALLOC)
				c->port = 0;
			if (c->kind == K_LANDLOCK)
				c->ll_ports = strcmp(c->id, "landlock1") ? 1000 : 1;
			c->bpf_ns_op = c->bind_ns_run = NAN;
		}
}

static struct bcase *find_case(const char *fam, const char *id)
{
	for (int i = 0; i < ncases; i++)
		if (!strcmp(cases[i].fam->id, fam) && !strcmp(cases[i].id, id))
			return &cases[i];
	return NULL;
}

static socklen_t case_addr(const struct bcase *c, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (c->fam->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(c->port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(c->port);
	a6->sin6_addr = in6addr_loopback;
	return sizeof(*a6);
}

static uint64_t case_token(const struct bcase *c)
{
	if (c->kind != K_TOKEN && c->kind != K_ALLOC)
		return 0;
	return c->fam->proto == PORTRSV_TCP ? g.inst[INST_R1].tok_tcp : g.inst[INST_R1].tok_udp;
}

/*
 * The measured loop: socket, [associate,] bind, close, n times. Returns the CPU time of this
 * thread per operation in ns (and the wall time in *wall when not NULL), or -1 with *bad_err
 * set when an operation did not end as the case expects (the run is invalid).
 *
 * CPU time, not wall time: on a shared machine other processes preempt the benchmark, and
 * wall time then measures them (runs here varied 2x in wall time, 2% in CPU time).
 */
static double run_loop_t(const struct bcase *c, long n, int *bad_err, double *wall)
{
	struct sockaddr_storage ss;
	socklen_t len = case_addr(c, &ss);
	int family = c->fam->family, type = c->fam->type | SOCK_CLOEXEC;
	int expect = c->kind == K_REFUSED ? EACCES : 0;
	uint64_t token = case_token(c);
	double t0 = now_ns(), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);

	for (long i = 0; i < n; i++) {
		int fd = socket(family, type, 0), r;

		if (fd < 0) {
			*bad_err = errno;
			return -1;
		}
		if (token && (r = portrsv_associate(fd, token))) {
			close(fd);
			*bad_err = -r;
			return -1;
		}
		r = bind(fd, (struct sockaddr *)&ss, len) ? errno : 0;
		close(fd);
		if (r != expect) {
			*bad_err = r ? r : EPROTO;
			return -1;
		}
	}
	if (wall)
		*wall = (now_ns() - t0) / n;
	return (clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / n;
}

static double run_loop(const struct bcase *c, long n, int *bad_err)
{
	return run_loop_t(c, n, bad_err, NULL);
}

/* bind(0) must land inside the reservation: checked once per case, outside the timing. */
static void check_alloc(const struct bcase *c)
{
	struct sockaddr_storage ss;
	socklen_t len = case_addr(c, &ss);
	int fd = socket(c->fam->family, c->fam->type | SOCK_CLOEXEC, 0), err;
	uint16_t port;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	err = portrsv_associate(fd, case_token(c));
	if (err || bind(fd, (struct sockaddr *)&ss, len))
		die("%s %s: associate/bind(0): %s", c->fam->id, c->id, strerror(err ? -err : errno));
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	if (port < R1_START || port >= R1_START + R1_COUNT)
		die("%s bind(0) with token got port %u, outside %u-%u", c->fam->id, port, R1_START,
		    R1_START + R1_COUNT - 1);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t xorshift(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const char *cur_cg;

static void enter(const char *cg)
{
	int err;

	if (cur_cg == cg)
		return;
	err = join_cgroup(cg);
	if (err)
		die("join %s: %s", cg, strerror(-err));
	cur_cg = cg;
}

static const char *case_cgroup(const struct bcase *c)
{
	return c->inst < 0 ? g.cg_plain : g.inst[c->inst].cgroup;
}

static long ll_sys_create(const void *attr, size_t size, __u32 flags)
{
	return syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

/* In a child: restrict to binding ll_ports TCP ports, check it holds, run the loop. */
static int landlock_child(const struct bcase *c, long warm, long n, int wfd)
{
	struct bench_landlock_ruleset_attr ra = { .handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP };
	struct bench_landlock_net_port_attr pa = { .allowed_access = LANDLOCK_ACCESS_NET_BIND_TCP };
	struct bcase deny = *c;
	double r[3] = { 0, 0, 0 };
	int rfd, bad = 0;
	int first = c->ll_ports == 1 ? PORT_OUT : LL_RANGE_START;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rfd = (int)ll_sys_create(&ra, sizeof(ra), 0);
	if (rfd < 0)
		return errno;
	for (int p = first; p < first + c->ll_ports; p++) {
		pa.port = p;
		if (syscall(SYS_landlock_add_rule, rfd, BENCH_LANDLOCK_RULE_NET_PORT, &pa, 0))
			return errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_landlock_restrict_self, rfd, 0))
		return errno;
	close(rfd);
	/* Landlock must refuse a port outside its rules, or we would measure nothing. */
	deny.port = LL_DENIED_PORT;
	deny.kind = K_REFUSED;
	if (run_loop(&deny, 1, &bad) < 0)
		return bad ? bad : EPROTO;
	if (run_loop(c, warm, &bad) < 0)
		return bad;
	r[0] = run_loop_t(c, n, &bad, &r[2]);
	if (r[0] < 0)
		return bad;
	r[1] = 1;
	if (write(wfd, r, sizeof(r)) != sizeof(r))
		return EIO;
	return 0;
}

static double run_landlock(const struct bcase *c, long warm, long n, double *wall)
{
	double r[3] = { 0, 0, 0 };
	int pfd[2], status;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		catch_signals(SIG_DFL); /* the worker cleans up, never its children */
		close(pfd[0]);
		_exit(landlock_child(c, warm, n, pfd[1]));
	}
	g.ll_child = pid;
	close(pfd[1]);
	if (read(pfd[0], r, sizeof(r)) != sizeof(r))
		r[1] = 0;
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	g.ll_child = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) || r[1] != 1)
		die("%s %s: Landlock child failed: %s", c->fam->id, c->id,
		    WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "killed");
	*wall = r[2];
	return r[0];
}

/*
 * Let the previous case's deferred work finish before this one is timed: sockets are freed
 * partly through RCU callbacks, which run on this CPU a grace period later and would
 * otherwise be charged to whichever case comes next (a UDP case before a TCP baseline made
 * it look 3-5% slower). MEMBARRIER_CMD_GLOBAL waits for an RCU grace period, asleep, so the
 * callbacks run while this thread is not on the CPU. Each case therefore leaves out the
 * tail of its own deferred frees, the same for the baseline and portrsv.
 */
static void settle(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(20000);
}

static double measure(struct bcase *c, long n, double *wall)
{
	long warm = n / 10 > 50 ? n / 10 : 50;
	int bad = 0;
	double v;

	enter(case_cgroup(c));
	if (c->kind == K_LANDLOCK)
		return run_landlock(c, warm, n, wall);
	if (run_loop(c, warm, &bad) < 0 || (v = run_loop_t(c, n, &bad, wall)) < 0)
		die("%s %s: unexpected result: %s", c->fam->id, c->id,
		    bad ? strerror(bad) : "bind succeeded");
	return v;
}

/* One sanity check per configuration, before anything is timed: enforcement is real. */
static void sanity(void)
{
	struct {
		int where;
		uint16_t port;
	} refused[] = {
		{ INST_R1, R1_PORT }, { INST_R10K, R10K_START + 7 }, { INST_R60K, 30000 },
	};

	for (int f = 0; f < N_FAMS; f++) {
		struct bcase c = { .fam = &fams[f], .kind = K_REFUSED };
		int bad = 0;

		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			c.inst = refused[i].where;
			c.port = refused[i].port;
			enter(case_cgroup(&c));
			if (run_loop(&c, 1, &bad) < 0)
				die("sanity: %s bind %u in %s not refused (%s): portrsv does not "
				    "enforce the benchmark's cgroup", fams[f].id, c.port,
				    inst_name[c.inst], strerror(bad));
		}
		c.kind = K_BASE;
		c.inst = -1;
		c.port = R1_PORT;
		enter(case_cgroup(&c));
		if (run_loop(&c, 1, &bad) < 0)
			die("sanity: %s bind %u in the plain cgroup: %s", fams[f].id, c.port,
			    strerror(bad));
	}
}

/* ---- Program statistics ---- */
static const char *const prog_names[] = { "bind4", "bind6", "post_bind4", "post_bind6",
					  "sock_release", "setsockopt", "sysctl" };
#define N_PROGS 7
#define PROG_SYSCTL 6

struct progstat {
	__u64 run_time_ns, run_cnt;
};

static int prog_fds[N_INST][N_PROGS];

static void open_progs(void)
{
	char path[PATH_MAX];

	for (int i = 0; i < N_INST; i++)
		for (int j = 0; j < N_PROGS; j++) {
			FMT(path, "%s/progs/%s", g.inst[i].pin_dir, prog_names[j]);
			prog_fds[i][j] = bpf_obj_get(path);
			if (prog_fds[i][j] < 0)
				die("%s: %s", path, strerror(errno));
		}
}

static void close_progs(void)
{
	for (int i = 0; i < N_INST; i++)
		for (int j = 0; j < N_PROGS; j++)
			if (prog_fds[i][j] > 0)
				close(prog_fds[i][j]);
}

static void prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		die("bpf_obj_get_info_by_fd: %s", strerror(errno));
}

static void read_stats(int inst, struct progstat *st)
{
	struct bpf_prog_info info;

	for (int j = 0; j < N_PROGS; j++) {
		prog_info(prog_fds[inst][j], &info);
		st[j].run_time_ns = info.run_time_ns;
		st[j].run_cnt = info.run_cnt;
	}
}

static void stats_enable(void)
{
	char cur[16];

	if (read_file(STATS_SYSCTL, cur, sizeof(cur)))
		die("%s: %s", STATS_SYSCTL, strerror(errno));
	if (atoi(cur) != 0)
		return; /* already on: leave it as it is */
	g.stats_changed = 1;
	if (write_file(STATS_SYSCTL, "1\n"))
		die("enable %s: %s", STATS_SYSCTL, strerror(errno));
}

static void stats_restore(void)
{
	if (g.stats_changed && write_file(STATS_SYSCTL, g.stats_prev) == 0)
		g.stats_changed = 0;
}

static void stats_pass(long n)
{
	struct progstat a[N_PROGS], b[N_PROGS];

	stats_enable();
	for (int rep = 0; rep < opt.stats_reps; rep++)
		for (int i = 0; i < ncases; i++) {
			struct bcase *c = &cases[i];
			int bind_prog = c->fam->family == AF_INET ? 0 : 1, bad = 0;
			double total = 0;

			if (c->inst < 0)
				continue;
			enter(case_cgroup(c));
			settle();
			run_loop(c, n / 10 > 50 ? n / 10 : 50, &bad);
			read_stats(c->inst, a);
			if (run_loop(c, n, &bad) < 0)
				die("stats pass %s %s: %s", c->fam->id, c->id, strerror(bad));
			read_stats(c->inst, b);
			for (int j = 0; j < N_PROGS; j++)
				total += b[j].run_time_ns - a[j].run_time_ns;
			c->stat_samples[0][c->nstat] = total / n;
			c->stat_samples[1][c->nstat] =
				b[bind_prog].run_cnt > a[bind_prog].run_cnt
					? (double)(b[bind_prog].run_time_ns - a[bind_prog].run_time_ns) /
						  (b[bind_prog].run_cnt - a[bind_prog].run_cnt)
					: NAN;
			c->nstat++;
		}
	stats_restore();
	for (int i = 0; i < ncases; i++) {
		struct bcase *c = &cases[i];

		if (!c->nstat)
			continue;
		c->bpf_ns_op = median(c->stat_samples[0], c->nstat);
		c->bind_ns_run = median(c->stat_samples[1], c->nstat);
	}
}

/* ---- Map memory, as bpftool reports it: the memlock line of the map fd's fdinfo ---- */
static const char *const map_names[] = { PORTRSV_PIN_PORTS, PORTRSV_PIN_RESV, PORTRSV_PIN_TOKENS,
					 PORTRSV_PIN_SOCKS, PORTRSV_PIN_RUNTIME };
#define N_MAPS 5

/*
 * ---- A write of ip_local_reserved_ports (SPEC rule 12) ----
 * What the cgroup/sysctl program adds to a write of the administrator's value (as sysctl -w
 * or sysctl --system would do it): the same write, pwrite at offset 0 on an open fd, from the
 * plain cgroup (no program) and from r1's (the program appends r1's "5000-5999"), in pairs,
 * in random order. The netns's value is put back afterwards.
 */
#define RESERVED_SYSCTL "/proc/sys/net/ipv4/ip_local_reserved_ports"
#define SYSCTL_VALUE "9000,9005-9010\n"

struct sysctl_cost {
	double plain, guarded, ratio, diff, run_ns;
	int n, reps;
};

static double sysctl_loop(int fd, int n)
{
	double t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);

	for (int i = 0; i < n; i++)
		if (pwrite(fd, SYSCTL_VALUE, strlen(SYSCTL_VALUE), 0) < (ssize_t)strlen(SYSCTL_VALUE))
			die("write %s: %s", RESERVED_SYSCTL, strerror(errno));
	return (clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / n;
}

static void sysctl_pass(struct sysctl_cost *out)
{
	double pl[MAX_REPS], gu[MAX_REPS], ra[MAX_REPS], di[MAX_REPS];
	char saved[65536], path[PATH_MAX];
	struct bpf_prog_info a, b;
	int fd, prog, n = opt.quick ? 200 : 2000, reps = opt.quick ? 3 : 21;

	if (read_file(RESERVED_SYSCTL, saved, sizeof(saved)))
		die("%s: %s", RESERVED_SYSCTL, strerror(errno));
	fd = open(RESERVED_SYSCTL, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", RESERVED_SYSCTL, strerror(errno));
	FMT(path, "%s/progs/%s", g.inst[INST_R1].pin_dir, prog_names[PROG_SYSCTL]);
	prog = bpf_obj_get(path);
	if (prog < 0)
		die("%s: %s", path, strerror(errno));
	for (int rep = 0; rep < reps; rep++) {
		bool plain_first = xorshift() & 1;

		for (int k = 0; k < 2; k++) {
			bool plain = (k == 0) == plain_first;

			enter(plain ? g.cg_plain : g.inst[INST_R1].cgroup);
			sysctl_loop(fd, n / 10); /* warm-up */
			(plain ? pl : gu)[rep] = sysctl_loop(fd, n);
		}
		ra[rep] = gu[rep] / pl[rep];
		di[rep] = gu[rep] - pl[rep];
	}
	/* The program's own run time, with the kernel's accounting on only for this. */
	stats_enable();
	enter(g.inst[INST_R1].cgroup);
	prog_info(prog, &a);
	sysctl_loop(fd, n);
	prog_info(prog, &b);
	stats_restore();
	out->run_ns = b.run_cnt > a.run_cnt ? (double)(b.run_time_ns - a.run_time_ns) /
						      (b.run_cnt - a.run_cnt) : NAN;
	enter(g.cg_plain);
	if (pwrite(fd, saved, strlen(saved), 0) < (ssize_t)strlen(saved))
		die("put back %s: %s", RESERVED_SYSCTL, strerror(errno));
	close(fd);
	close(prog);
	out->plain = median(pl, reps);
	out->guarded = median(gu, reps);
	out->ratio = median(ra, reps);
	out->diff = median(di, reps);
	out->n = n;
	out->reps = reps;
}

static long long map_memlock(const char *pin_dir, const char *name, unsigned *entries)
{
	char path[PATH_MAX], line[256];
	long long v = -1;
	int fd;
	FILE *f;

	FMT(path, "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	FMT(path, "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "memlock:", 8))
			v = strtoll(line + 8, NULL, 10);
		if (!strncmp(line, "max_entries:", 12))
			*entries = (unsigned)strtoul(line + 12, NULL, 10);
	}
	if (f)
		fclose(f);
	close(fd);
	return v;
}

struct memrow {
	long long bytes[N_MAPS];
	unsigned max_entries[N_MAPS];
	long long total;
};

static void map_memory(const struct instance *in, struct memrow *m)
{
	m->total = 0;
	for (int j = 0; j < N_MAPS; j++) {
		m->bytes[j] = map_memlock(in->pin_dir, map_names[j], &m->max_entries[j]);
		m->total += m->bytes[j] > 0 ? m->bytes[j] : 0;
	}
}

/* ---- Where the state directory lives (fsync cost depends on it) ---- */
static void fs_of(const char *path, char *out, size_t len)
{
	char line[4096], real[PATH_MAX], best[PATH_MAX] = "";
	size_t bestlen = 0;
	FILE *f;

	snprintf(out, len, "unknown filesystem");
	if (!realpath(path, real))
		return;
	f = fopen("/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[1024], type[64], src[1024], *sep = strstr(line, " - ");
		size_t ml;

		if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %1023s", type, src) != 2)
			continue;
		ml = strlen(mnt);
		if (strncmp(real, mnt, ml) || (real[ml] && real[ml] != '/' && ml > 1))
			continue;
		if (ml >= bestlen) {
			bestlen = ml;
			snprintf(best, sizeof(best), "%s on %s (%s)", type, mnt, src);
		}
	}
	if (f)
		fclose(f);
	if (best[0])
		snprintf(out, len, "%s", best);
}

static bool on_tmpfs(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && (sf.f_type == 0x01021994 /* TMPFS_MAGIC */ ||
					  sf.f_type == 0x858458f6 /* RAMFS_MAGIC */);
}

/* ---- Output ---- */
static void cpu_model(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "re");

	snprintf(buf, len, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !v)
			continue;
		v++;
		while (isspace((unsigned char)*v))
			v++;
		v[strcspn(v, "\n")] = '\0';
		snprintf(buf, len, "%s", v);
		break;
	}
	if (f)
		fclose(f);
}


static const struct bcase *base_of(const struct bcase *c)
{
	return find_case(c->fam->id, "baseline");
}

/*
 * How a case compares, repetition by repetition. Each sample of a case was measured right
 * next to (just before or just after, at random) a sample of its family's baseline, so that
 * both saw the same machine: on this kind of shared VM the cost of the whole loop moves by
 * 20% when the other vCPU gets busy, and only adjacent pairs cancel that.
 *   CMP_RATIO  case / adjacent baseline      CMP_DIFF  case - adjacent baseline
 *   CMP_CASES  (a / its baseline) / (b / its baseline), both of the same repetition
 */
enum cmp { CMP_RATIO, CMP_DIFF, CMP_CASES };

static int compare_values(const struct bcase *a, const struct bcase *b, enum cmp m, double *v)
{
	int n = a->nsamples;

	if (m == CMP_CASES && b->nsamples < n)
		n = b->nsamples;
	for (int i = 0; i < n; i++) {
		double ra = a->samples[i] / a->base_samples[i];

		v[i] = m == CMP_RATIO ? ra
		       : m == CMP_DIFF ? a->samples[i] - a->base_samples[i]
				       : ra / (b->samples[i] / b->base_samples[i]);
	}
	return n;
}

/* The median of the comparison; 1 or 0 for a baseline itself. */
static double compare(const struct bcase *a, const struct bcase *b, enum cmp m)
{
	double v[MAX_REPS];

	if (a->kind == K_BASE)
		return m == CMP_DIFF ? 0 : 1;
	return median(v, compare_values(a, b, m, v));
}

/*
 * A distribution-free 95% confidence interval of that median: the order statistics
 * n/2 -+ 0.98 sqrt(n) of the values (the binomial approximation; with 5 repetitions it is
 * simply their range).
 */
static void compare_ci(const struct bcase *a, const struct bcase *b, enum cmp m, double *lo,
		       double *hi)
{
	double v[MAX_REPS];
	int n = compare_values(a, b, m, v), l, h;

	qsort(v, n, sizeof(*v), cmp_double);
	l = (int)(n / 2.0 - 0.98 * sqrt_approx(n));
	h = (int)(n / 2.0 + 0.98 * sqrt_approx(n) + 0.999999);
	l = l < 0 ? 0 : l >= n ? n - 1 : l;
	h = h < 0 ? 0 : h >= n ? n - 1 : h;
	*lo = n ? v[l] : NAN;
	*hi = n ? v[h] : NAN;
}

static void print_num(double v, const char *fmt, int width)
{
	if (isnan(v))
		printf("%*s", width, "-");
	else
		printf(fmt, width, v);
}

static void print_table(void)
{
	printf("%-9s %-37s %7s %7s %13s %7s %8s %9s %9s\n", "socket", "case", "ns/op", "x base",
	       "95% CI", "+ns", "wall ns", "bpf ns/op", "bind ns");
	for (int f = 0; f < N_FAMS; f++) {
		for (int i = 0; i < ncases; i++) {
			struct bcase *c = &cases[i];
			const struct bcase *b = base_of(c);

			if (c->fam != &fams[f])
				continue;
			printf("%-9s %-37s %7.0f %7.3f ", c->fam->label, c->label, c->med,
			       compare(c, b, CMP_RATIO));
			if (c->kind == K_BASE) {
				printf("%13s %7s", "-", "-");
			} else {
				double lo, hi;

				compare_ci(c, b, CMP_RATIO, &lo, &hi);
				printf("%6.3f-%-6.3f %+7.0f", lo, hi, compare(c, b, CMP_DIFF));
			}
			printf(" %8.0f", c->wall_med);
			print_num(c->bpf_ns_op, " %*.0f", 9);
			print_num(c->bind_ns_run, " %*.1f", 9);
			printf("\n");
		}
		if (f < N_FAMS - 1)
			printf("\n");
	}
}

static void write_csv(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "family,case,x,median_ns,ratio,overhead_ns,wall_median_ns,bpf_ns_op,bind_ns_run,"
		   "label,samples,adjacent_baseline_samples\n");
	for (int i = 0; i < ncases; i++) {
		struct bcase *c = &cases[i];
		const struct bcase *b = base_of(c);
		char label[64];

		snprintf(label, sizeof(label), "%s", c->label);
		for (char *q = label; *q; q++)
			if (*q == ',')
				*q = ' '; /* one field, for any CSV reader */
		fprintf(f, "%s,%s,%d,%.1f,%.4f,%.1f,%.1f,%.1f,%.1f,%s,", c->fam->id, c->id, c->x,
			c->med, compare(c, b, CMP_RATIO), compare(c, b, CMP_DIFF), c->wall_med, c->bpf_ns_op,
			c->bind_ns_run,
			label);
		for (int j = 0; j < c->nsamples; j++)
			fprintf(f, "%s%.1f", j ? " " : "", c->samples[j]);
		fprintf(f, ",");
		for (int j = 0; j < c->nsamples && c->kind != K_BASE; j++)
			fprintf(f, "%s%.1f", j ? " " : "", c->base_samples[j]);
		fprintf(f, "\n");
	}
	if (fclose(f))
		die("%s: %s", path, strerror(errno));
}

/* Where a target's figure starts: a continuation line is indented this much. */
#define TARGET_INDENT "                                                               "

static void target(const char *name, bool met, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void target(const char *name, bool met, const char *fmt, ...)
{
	va_list ap;

	printf("  %-7s %-52s ", met ? "MET" : "MISSED", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* ---- The run ---- */
static void usage(FILE *f)
{
	fprintf(f, "usage: bench [--quick] [--csv FILE] [--reps N] [--iters N] [--cpu N] [--nice N] "
		   "[--state-base DIR] [--profile FAM/CASE|restore|cni]\n"
		   "  --quick        5 repetitions of 500 iterations, smaller control-plane samples\n"
		   "  --csv FILE     write each case's median (and samples) for the chart\n"
		   "  --reps N       repetitions (default 101, at most 512)\n"
		   "  --iters N      socket/bind/close cycles per case and repetition (default 1000)\n"
		   "  --profile FAM/CASE  after setup, run only that case (e.g. tcp4/r0) reps x iters\n"
		   "                 times and print each repetition: for perf record\n"
		   "  --profile restore   after setup, unload and restore the 10,000 reservations\n"
		   "                 reps times\n"
		   "  --profile cni       after setup, run the CNI plugin's ADD and DEL with 10,000\n"
		   "                 stored reps times\n"
		   "  --cpu N        CPU to pin to (default: the last allowed one)\n"
		   "  --nice N       scheduling priority of the benchmark (default -20)\n"
		   "  --state-base D where the state directories go (default /tmp; not tmpfs)\n");
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' }, { "csv", required_argument, NULL, 'c' },
		{ "reps", required_argument, NULL, 'r' }, { "iters", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'C' }, { "profile", required_argument, NULL, 'P' },
		{ "nice", required_argument, NULL, 'N' },
		{ "state-base", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, reps = 0, iters = 0;

	while ((c = getopt_long(argc, argv, "qc:r:n:C:s:P:N:h", lo, NULL)) != -1) {
		switch (c) {
		case 'q': opt.quick = true; break;
		case 'c': opt.csv = optarg; break;
		case 'r': reps = atoi(optarg); break;
		case 'n': iters = atoi(optarg); break;
		case 'C': opt.cpu = atoi(optarg); break;
		case 'P': opt.profile = optarg; break;
		case 'N': opt.nice = atoi(optarg); break;
		case 's': opt.state_base = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc || reps < 0 || reps > MAX_REPS || iters < 0) {
		usage(stderr);
		exit(2);
	}
	/*
	 * Many short repetitions rather than a few long ones: on a shared machine a repetition
	 * now and then takes a burst of someone else's interrupts or RCU callbacks, and the
	 * median over many short ones leaves those out (11 x 10,000 gave ratios with an IQR of
	 * 10-20%; 101 x 1,000 a few %).
	 */
	opt.reps = reps ? reps : opt.quick ? 5 : 101;
	opt.iters = iters ? iters : opt.quick ? 500 : 1000;
	opt.stats_iters = opt.quick ? 500 : 2000;
	opt.ctl_n = opt.quick ? 20 : 200;
	opt.ctl10k_n = opt.quick ? 3 : 20;
	opt.restore_n = opt.quick ? 1 : 5;
	opt.stats_reps = opt.quick ? 1 : 15;
}

/* CPU ns per getsockopt(SO_TYPE) of a TCP socket made in cgroup cg (median of 7 runs). */
static double getsockopt_ns(const char *cg, long n)
{
	double v[7];
	int s, type;

	enter(cg);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket: %s", strerror(errno));
	for (int r = 0; r < 7; r++) {
		double c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);

		for (long i = 0; i < n; i++) {
			socklen_t len = sizeof(type);

			if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len))
				die("getsockopt: %s", strerror(errno));
		}
		v[r] = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / n;
	}
	close(s);
	enter(g.cg_plain);
	return median(v, 7);
}

/* One acquire of any 4 ports on a new socket; its time in *t. */
static int acquire_timed(double *t, struct portrsv_runtime *rt)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;
	double t0;

	if (s < 0)
		die("socket: %s", strerror(errno));
	t0 = now_ns();
	err = portrsv_acquire(s, 0, 4, rt);
	*t = now_ns() - t0;
	if (err)
		die("runtime acquire: %s", strerror(-err));
	return s;
}

/*
 * Runtime reservations, from a pool of r0 (root: no limit): acquire and release on an empty
 * pool, then acquire with the pool's first half held (first fit walks past it).
 */
static void runtime_cycles(struct instance *in, double *acq, double *rel, double *half, int n)
{
	PORTRSV_OPTS(portrsv_create_opts, po, .pool = true);
	struct portrsv_runtime rt;
	int held[RT_HELD], err;
	uint64_t tok;
	double t0;

	err = portrsv_create(in->p, PORTRSV_TCP, RT_POOL, RT_POOL_N, &po, &tok);
	if (err)
		die("pool: %s %s", strerror(-err), portrsv_errmsg());
	enter(in->cgroup);
	for (int i = 0; i < n; i++) {
		int s = acquire_timed(&acq[i], &rt);

		t0 = now_ns();
		err = portrsv_release(s, rt.token);
		rel[i] = now_ns() - t0;
		if (err)
			die("runtime release: %s", strerror(-err));
		close(s);
	}
	for (int i = 0; i < RT_HELD; i++)
		held[i] = acquire_timed(&t0, &rt);
	for (int i = 0; i < n; i++)
		close(acquire_timed(&half[i], &rt));
	for (int i = 0; i < RT_HELD; i++)
		close(held[i]);
	enter(g.cg_plain);
	err = portrsv_delete(in->p, PORTRSV_TCP, RT_POOL, RT_POOL_N, NULL);
	if (err)
		die("delete pool: %s %s", strerror(-err), portrsv_errmsg());
}

/*
 * The CNI plugin (build/portrsv-cni, or $PORTRSV_CNI_BIN) as a runtime runs it for a pod
 * start: a new process, CNI_* in its environment, the config on stdin; ADD publishes one TCP
 * port for container "bench", DEL removes it. Wall time of fork, exec and wait: the process
 * start, opening the instance, the reservation and the store's write, all of it.
 */
static double cni_run(struct instance *in, const char *cmd)
{
	static const char conf[] =
		"{\"cniVersion\":\"1.1.0\",\"name\":\"bench\",\"type\":\"portrsv-cni\","
		"\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":63100,\"containerPort\":80,"
		"\"protocol\":\"tcp\"}]},\"prevResult\":{\"cniVersion\":\"1.1.0\"}}";
	static char bin[PATH_MAX];
	int in_fd, status;
	double t0, t;
	pid_t pid;

	if (!bin[0]) {
		const char *env = getenv("PORTRSV_CNI_BIN");
		ssize_t n = readlink("/proc/self/exe", bin, sizeof(bin) - 16);

		if (env && *env)
			FMT(bin, "%s", env);
		else if (n > 0) {
			bin[n] = '\0';
			strcpy(strrchr(bin, '/') + 1, "portrsv-cni"); /* next to build/bench */
		}
		if (access(bin, X_OK))
			die("%s: %s (make build/portrsv-cni, or set PORTRSV_CNI_BIN)", bin,
			    strerror(errno));
	}
	in_fd = memfd_create("cni-config", MFD_CLOEXEC);
	if (in_fd < 0 || write(in_fd, conf, sizeof(conf) - 1) != sizeof(conf) - 1 ||
	    lseek(in_fd, 0, SEEK_SET))
		die("cni config: %s", strerror(errno));
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null < 0 || dup2(in_fd, 0) < 0 || dup2(null, 1) < 0)
			_exit(126);
		setenv("PORTRSV_PIN_DIR", in->pin_dir, 1);
		setenv("PORTRSV_STATE_DIR", in->state_dir, 1);
		setenv("CNI_COMMAND", cmd, 1);
		setenv("CNI_CONTAINERID", "bench", 1);
		setenv("CNI_NETNS", "/run/netns/portrsv-bench-container", 1);
		setenv("CNI_IFNAME", "eth0", 1);
		setenv("CNI_PATH", "/usr/lib/cni", 1);
		execl(bin, "portrsv-cni", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	t = now_ns() - t0;
	close(in_fd);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("portrsv-cni %s in %s: status %d (run it by hand for its error object)", cmd,
		    in->state_dir, status);
	return t;
}

/* ADD then DEL, n times, with what in already stores. */
static void cni_cycles(struct instance *in, double *add, double *del, int n)
{
	for (int i = 0; i < n; i++) {
		add[i] = cni_run(in, "ADD");
		del[i] = cni_run(in, "DEL");
	}
}

static int worker(void)
{
	double t_load[3], t_restore[MAX_REPS], c_restore[MAX_REPS], t_add[1024], t_del[1024];
	double t_mk0[1024], t_mk1[1024];
	double t_add10k[1024];
	double t_cni_add[1024], t_cni_del[1024], t_cni_add10k[1024], t_cni_del10k[1024];
	double t_acq[1024], t_acq_half[1024], t_rel[1024], gso_base, gso_prog;
	struct sysctl_cost sc;
	double t_block[2 * R60K_BLOCKS];
	struct memrow mem[N_INST];
	struct instance *r0 = &g.inst[INST_R0], *r1 = &g.inst[INST_R1];
	struct instance *r10k = &g.inst[INST_R10K], *r60k = &g.inst[INST_R60K];
	char cpu[256], fsdesc[PATH_MAX + 128], loadavg[64] = "?";
	struct bpf_prog_info pinfo[N_PROGS];
	struct utsname un;
	double t_start = now_ns();
	int nrestore = 0;

	g.is_worker = true;
	atexit(cleanup);
	catch_signals(on_signal);
	signal(SIGPIPE, SIG_IGN);

	current_cgroup(g.orig_cgroup, sizeof(g.orig_cgroup));
	make_dirs();
	/* Nothing ever falls back to the host's default pin or state directory. */
	setenv("PORTRSV_PIN_DIR", r0->pin_dir, 1);
	setenv("PORTRSV_STATE_DIR", r0->state_dir, 1);
	pin_cpu();
	/* Other processes on the machine preempt us less (and rarely share our CPU) at -20. */
	if (setpriority(PRIO_PROCESS, 0, opt.nice))
		fprintf(stderr, "bench: nice %d: %s\n", opt.nice, strerror(errno));
	private_netns();
	landlock_abi = (int)ll_sys_create(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (landlock_abi < 0)
		landlock_abi = 0;

	/* Cgroup creation before any program of ours watches it. */
	mkdir_cycles(t_mk0, opt.ctl_n);
	/* r10k first, while this netns's ip_local_reserved_ports is empty. */
	write_store_10k(r10k);
	t_restore[nrestore] = restore_instance(r10k, &c_restore[nrestore]);
	nrestore++;
	t_load[0] = load_instance(r0);
	t_load[1] = load_instance(r1);
	t_load[2] = load_instance(r60k);
	for (int i = 0; i < N_INST; i++)
		open_instance(&g.inst[i]);
	r1->tok_tcp = create(r1, PORTRSV_TCP, R1_START, R1_COUNT);
	r1->tok_udp = create(r1, PORTRSV_UDP, R1_START, R1_COUNT);
	for (int proto = 0; proto < 2; proto++)
		for (int b = 0; b < R60K_BLOCKS; b++) {
			double t0 = now_ns();

			create(r60k, proto ? PORTRSV_UDP : PORTRSV_TCP, R60K_START + b * R60K_BLOCK,
			       R60K_BLOCK);
			t_block[proto * R60K_BLOCKS + b] = now_ns() - t0;
		}

	build_cases();
	sanity();
	for (int i = 0; i < ncases; i++)
		if (cases[i].kind == K_ALLOC) {
			enter(case_cgroup(&cases[i]));
			check_alloc(&cases[i]);
		}

	if (opt.profile && !strcmp(opt.profile, "restore")) {
		printf("profiling restore of 10,000 reservations (pid %d, cpu %d)\n", getpid(),
		       opt.cpu);
		fflush(stdout);
		for (int rep = 0; rep < opt.reps; rep++) {
			portrsv_close(r10k->p);
			r10k->p = NULL;
			if (portrsv_unload(r10k->pin_dir))
				die("unload %s", r10k->pin_dir);
			double cpu, wall = restore_instance(r10k, &cpu);

			printf("  %.1f ms wall, %.1f ms cpu\n", wall / 1e6, cpu / 1e6);
			fflush(stdout);
			open_instance(r10k);
		}
		return 0;
	}
	if (opt.profile && !strcmp(opt.profile, "cni")) {
		printf("profiling cni ADD and DEL with 10,000 stored (pid %d, cpu %d)\n", getpid(),
		       opt.cpu);
		fflush(stdout);
		for (int rep = 0; rep < opt.reps; rep++) {
			double add, del;

			cni_cycles(r10k, &add, &del, 1);
			printf("  ADD %.2f ms, DEL %.2f ms\n", add / 1e6, del / 1e6);
			fflush(stdout);
		}
		return 0;
	}
	if (opt.profile) {
		char fam[16] = "";
		const char *slash = strchr(opt.profile, '/');
		struct bcase *c = NULL;

		if (slash && slash - opt.profile < (int)sizeof(fam)) {
			memcpy(fam, opt.profile, slash - opt.profile);
			c = find_case(fam, slash + 1);
		}
		if (!c)
			die("--profile %s: no such case (FAM/CASE, e.g. tcp4/r0)", opt.profile);
		printf("profiling %s %s (pid %d, cpu %d)\n", c->fam->id, c->id, getpid(), opt.cpu);
		fflush(stdout);
		for (int rep = 0; rep < opt.reps; rep++) {
			double wall, v = measure(c, opt.iters, &wall);

			printf("  %.0f ns/op cpu, %.0f wall\n", v, wall);
			fflush(stdout);
		}
		return 0;
	}

	/*
	 * The data path: every repetition measures every case once, in a new random order (a
	 * fixed seed, so runs are comparable), so that no case always follows the same one; each
	 * right next to its family's baseline, before or after it at random, after an RCU grace
	 * period (settle()).
	 */
	for (int rep = 0; rep < opt.reps; rep++) {
		int order[N_FAMS * 10], n = 0;

		for (int k = 0; k < ncases; k++)
			if (cases[k].kind != K_BASE)
				order[n++] = k;
		for (int k = n - 1; k > 0; k--) {
			int j = (int)(xorshift() % (uint64_t)(k + 1)), t = order[k];

			order[k] = order[j];
			order[j] = t;
		}
		for (int k = 0; k < n; k++) {
			struct bcase *c = &cases[order[k]];
			struct bcase *b = (struct bcase *)base_of(c);
			bool base_first = xorshift() & 1;
			double vb, wb, vc, wc;

			if (b->nsamples >= MAX_SAMPLES)
				die("too many samples: lower --reps");
			settle();
			if (base_first)
				vb = measure(b, opt.iters, &wb);
			vc = measure(c, opt.iters, &wc);
			if (!base_first)
				vb = measure(b, opt.iters, &wb);
			b->samples[b->nsamples] = vb;
			b->wall_samples[b->nsamples++] = wb;
			c->samples[c->nsamples] = vc;
			c->wall_samples[c->nsamples] = wc;
			c->base_samples[c->nsamples++] = vb;
		}
	}
	for (int i = 0; i < ncases; i++) {
		cases[i].med = median(cases[i].samples, cases[i].nsamples);
		cases[i].wall_med = median(cases[i].wall_samples, cases[i].nsamples);
	}

	/* The programs' own cost, with the kernel's accounting on only for this pass. */
	open_progs();
	stats_pass(opt.stats_iters);
	for (int j = 0; j < N_PROGS; j++)
		prog_info(prog_fds[INST_R0][j], &pinfo[j]);
	close_progs();
	enter(g.cg_plain);

	sysctl_pass(&sc);

	/* Control plane: durable add and delete with a small store, then with 10,000 stored. */
	for (int i = 0; i < opt.ctl_n; i++) {
		double t0 = now_ns();
		int err;

		create(r0, PORTRSV_TCP, PORT_CTL, 1);
		t_add[i] = now_ns() - t0;
		t0 = now_ns();
		err = portrsv_delete(r0->p, PORTRSV_TCP, PORT_CTL, 1, NULL);
		t_del[i] = now_ns() - t0;
		if (err)
			die("delete: %s %s", strerror(-err), portrsv_errmsg());
	}
	for (int i = 0; i < opt.ctl10k_n; i++) {
		double t0 = now_ns();
		int err;

		create(r10k, PORTRSV_TCP, PORT_CTL, 1);
		t_add10k[i] = now_ns() - t0;
		err = portrsv_delete(r10k->p, PORTRSV_TCP, PORT_CTL, 1, NULL);
		if (err)
			die("delete: %s %s", strerror(-err), portrsv_errmsg());
	}
	/* A pod start and stop: the CNI plugin, a process each time, with 0 and 10,000 stored. */
	cni_cycles(r0, t_cni_add, t_cni_del, opt.ctl_n);
	cni_cycles(r10k, t_cni_add10k, t_cni_del10k, opt.ctl10k_n);
	/* Cgroup creation with the tracepoint loaded and an owner at the path made each time. */
	{
		char dir[PATH_MAX + 16];
		uint64_t tok;
		int err;

		snprintf(dir, sizeof(dir), "%s/churn", g.cg_top);
		PORTRSV_OPTS(portrsv_create_opts, oo, .owner_cgroup = dir);
		if (mkdir(dir, 0755))
			die("mkdir %s: %s", dir, strerror(errno));
		err = portrsv_create(r0->p, PORTRSV_TCP, PORT_CTL, 1, &oo, &tok);
		if (err || rmdir(dir))
			die("owner reservation: %s %s", strerror(-err), portrsv_errmsg());
		mkdir_cycles(t_mk1, opt.ctl_n);
		err = portrsv_delete(r0->p, PORTRSV_TCP, PORT_CTL, 1, NULL);
		if (err)
			die("delete: %s %s", strerror(-err), portrsv_errmsg());
	}
	runtime_cycles(r0, t_acq, t_rel, t_acq_half, opt.ctl_n);
	gso_base = getsockopt_ns(g.cg_plain, opt.ctl_n * 500L);
	gso_prog = getsockopt_ns(r0->cgroup, opt.ctl_n * 500L);
	for (int i = 0; i < N_INST; i++)
		map_memory(&g.inst[i], &mem[i]);
	/* Loading 10,000 reservations again: unload (the store stays), restore. */
	while (nrestore < opt.restore_n) {
		portrsv_close(r10k->p);
		r10k->p = NULL;
		if (portrsv_unload(r10k->pin_dir))
			die("unload %s", r10k->pin_dir);
		t_restore[nrestore] = restore_instance(r10k, &c_restore[nrestore]);
		nrestore++;
		open_instance(r10k);
	}

	/* ---- Report ---- */
	cpu_model(cpu, sizeof(cpu));
	uname(&un);
	if (read_file("/proc/loadavg", loadavg, sizeof(loadavg)) == 0)
		loadavg[strcspn(loadavg, "\n")] = '\0'; /* the machine's other load, roughly */
	fs_of(r0->state_dir, fsdesc, sizeof(fsdesc));
	printf("portrsv benchmark%s\n", opt.quick ? " (quick mode: figures are indicative only)" : "");
	printf("CPU      %s, %ld CPUs online, benchmark pinned to CPU %d at nice %d; load average "
	       "%s\n", cpu, sysconf(_SC_NPROCESSORS_ONLN), opt.cpu, getpriority(PRIO_PROCESS, 0),
	       loadavg);
	printf("kernel   %s %s %s %s\n", un.sysname, un.release, un.version, un.machine);
	printf("method   %d repetitions x %d socket/bind/close cycles per case (after %d warm-up "
	       "cycles), each next to a run of its baseline (after an RCU grace period), cases in a "
	       "new random order each repetition; medians; 127.0.0.1 / ::1, port %d\n", opt.reps,
	       opt.iters, opt.iters / 10 > 50 ? opt.iters / 10 : 50, PORT_OUT);
	printf("         baseline = a sibling cgroup with no program attached; Landlock ABI %d "
	       "(children restricted to bind TCP %d or %d-%d)\n", landlock_abi, PORT_OUT,
	       LL_RANGE_START, LL_RANGE_START + 999);
	printf("         0/1/10k/60k: portrsv attached, no reservation / 1 per protocol (%d ports) / "
	       "10,000 of 1 port (5,000 TCP + 5,000 UDP) / 60,000 ports per protocol (%d blocks)\n",
	       R1_COUNT, R60K_BLOCKS);
	printf("         ns/op = CPU time of the benchmark thread per cycle (CLOCK_THREAD_CPUTIME_ID: "
	       "other processes on the machine do not count); wall ns = wall-clock median\n");
	printf("         x base, +ns = median over repetitions of case / baseline and case - baseline "
	       "run next to it; 95%% CI = confidence interval of that median ratio\n");
	printf("         bpf ns/op = run time of all portrsv programs per cycle, bind ns = bind4/bind6 "
	       "run time per run (kernel.bpf_stats_enabled, a separate pass of %d x %d cycles; "
	       "the accounting itself adds to these)\n", opt.stats_reps, opt.stats_iters);
	printf("         refused binds: the events ring buffer is not consumed (no monitor), so "
	       "after it fills a denial costs no event\n");
	printf("state    %s: %s%s\n\n", r0->state_dir, fsdesc,
	       on_tmpfs(r0->state_dir) ? "  WARNING: tmpfs, fsync costs nothing here" : "");
	print_table();

	printf("\nprograms (r0 instance)   %-12s %8s %8s %10s\n", "", "xlated", "jited",
	       "verified");
	for (int j = 0; j < N_PROGS; j++)
		printf("  %-35s %8u %8u %10u\n", prog_names[j], pinfo[j].xlated_prog_len / 8,
		       pinfo[j].jited_prog_len, pinfo[j].verified_insns);
	printf("  (xlated: BPF instructions after verification; jited: bytes of machine code; "
	       "verified: instructions the verifier processed)\n");

	printf("\ncontrol plane                                       median        p90    n\n");
	printf("  %-45s %8.2f ms %8.2f ms %4d\n", "load programs, pin, attach (empty store)",
	       median(t_load, 3) / 1e6, percentile(t_load, 3, 0.9) / 1e6, 3);
	printf("  %-45s %8.2f ms %8.2f ms %4d\n", "durable add (1 port, store of 0-1 entries)",
	       median(t_add, opt.ctl_n) / 1e6, percentile(t_add, opt.ctl_n, 0.9) / 1e6, opt.ctl_n);
	printf("  %-45s %8.2f ms %8.2f ms %4d\n", "durable delete (same)",
	       median(t_del, opt.ctl_n) / 1e6, percentile(t_del, opt.ctl_n, 0.9) / 1e6, opt.ctl_n);
	printf("  %-45s %8.2f ms %8.2f ms %4d\n", "durable add with 10,000 stored",
	       median(t_add10k, opt.ctl10k_n) / 1e6, percentile(t_add10k, opt.ctl10k_n, 0.9) / 1e6,
	       opt.ctl10k_n);
	printf("  %-45s %8.2f ms %8.2f ms %4d\n", "cni ADD, 1 port (a process; store of 0-1)",
	       median(t_cni_add, opt.ctl_n) / 1e6, percentile(t_cni_add, opt.ctl_n, 0.9) / 1e6,
	       opt.ctl_n);
	printf("  %-45s %8.2f ms %8.2f ms %4d\n", "cni DEL (same)",
	       median(t_cni_del, opt.ctl_n) / 1e6, percentile(t_cni_del, opt.ctl_n, 0.9) / 1e6,
	       opt.ctl_n);
	printf("  %-45s %8.2f ms %8.2f ms %4d\n", "cni ADD with 10,000 stored",
	       median(t_cni_add10k, opt.ctl10k_n) / 1e6,
	       percentile(t_cni_add10k, opt.ctl10k_n, 0.9) / 1e6, opt.ctl10k_n);
	printf("  %-45s %8.2f ms %8.2f ms %4d\n", "cni DEL with 10,000 stored",
	       median(t_cni_del10k, opt.ctl10k_n) / 1e6,
	       percentile(t_cni_del10k, opt.ctl10k_n, 0.9) / 1e6, opt.ctl10k_n);
	printf("  %-45s %8.2f ms %8.2f ms %4d\n", "create a 15,000-port block (r60k setup)",
	       median(t_block, 2 * R60K_BLOCKS) / 1e6,
	       percentile(t_block, 2 * R60K_BLOCKS, 0.9) / 1e6, 2 * R60K_BLOCKS);
	printf("  %-45s %8.3f ms %8.3f ms %4d\n", "cgroup mkdir + rmdir, nothing loaded",
	       median(t_mk0, opt.ctl_n) / 1e6, percentile(t_mk0, opt.ctl_n, 0.9) / 1e6, opt.ctl_n);
	printf("  %-45s %8.3f ms %8.3f ms %4d\n", "  the same, owner tracepoint, owner at the path",
	       median(t_mk1, opt.ctl_n) / 1e6, percentile(t_mk1, opt.ctl_n, 0.9) / 1e6, opt.ctl_n);
	printf("  %-45s %8.1f us %8.1f us %4d\n", "runtime acquire (any 4 ports, empty pool)",
	       median(t_acq, opt.ctl_n) / 1e3, percentile(t_acq, opt.ctl_n, 0.9) / 1e3, opt.ctl_n);
	printf("  %-45s %8.1f us %8.1f us %4d\n", "  the same, first 100 of 200 ports taken",
	       median(t_acq_half, opt.ctl_n) / 1e3, percentile(t_acq_half, opt.ctl_n, 0.9) / 1e3,
	       opt.ctl_n);
	printf("  %-45s %8.1f us %8.1f us %4d\n", "runtime release (of the first)",
	       median(t_rel, opt.ctl_n) / 1e3, percentile(t_rel, opt.ctl_n, 0.9) / 1e3, opt.ctl_n);
	printf("  %-45s %8.0f ns  (%.0f ns without portrsv's getsockopt program)\n",
	       "getsockopt(SO_TYPE), CPU time", gso_prog, gso_base);
	printf("  %-45s %8.1f ms %8.1f ms %4d\n", "restore 10,000 reservations (programs too)",
	       median(t_restore, nrestore) / 1e6, percentile(t_restore, nrestore, 0.9) / 1e6,
	       nrestore);
	printf("  %-45s %8.1f ms %8.1f ms %4d\n", "  the same, CPU time of the restoring thread",
	       median(c_restore, nrestore) / 1e6, percentile(c_restore, nrestore, 0.9) / 1e6,
	       nrestore);

	printf("\nsysctl write (%s, pwrite of \"9000,9005-9010\")   ns/op  x base      +ns "
	       "prog ns\n", RESERVED_SYSCTL);
	printf("  %-45s %8.0f %7.3f %8s %7s\n", "no program (plain cgroup)", sc.plain, 1.0, "-", "-");
	printf("  %-45s %8.0f %7.3f %+8.0f", "portrsv's cgroup/sysctl (r1: appends 5000-5999)",
	       sc.guarded, sc.ratio, sc.diff);
	print_num(sc.run_ns, " %*.0f", 7);
	printf("\n  (CPU time per write, medians of %d pairs of %d writes; prog ns: the program's "
	       "own run time, kernel.bpf_stats_enabled)\n", sc.reps, sc.n);

	printf("\nmap memory (memlock, KiB)  %10s %10s %10s %10s %10s %10s\n", "ports",
	       "reservations", "tokens", "sockets", "runtime", "total");
	for (int i = 0; i < N_INST; i++) {
		printf("  %-24s", inst_name[i]);
		for (int j = 0; j < N_MAPS; j++)
			printf(" %10.0f", mem[i].bytes[j] / 1024.0);
		printf(" %10.0f\n", mem[i].total / 1024.0);
	}
	printf("  (max_entries: ports %u, reservations %u, tokens %u; hash maps not preallocated)\n",
	       mem[0].max_entries[0], mem[0].max_entries[1], mem[0].max_entries[2]);

	/* ---- Targets ---- */
	{
		double worst_out = 0, worst_6001 = 0, worst_prog = 0, lo, hi, olo = 0, ohi = 0;
		double slo = 0, shi = 0;
		char wo[64] = "", wp[64] = "";
		const char *w6 = "";
		bool have_ll = landlock_abi >= 4, ll_ok = true;
		char lldesc[512] = "";
		double mr = median(t_restore, nrestore) / 1e6, ma = median(t_add, opt.ctl_n) / 1e6;
		double mm = mem[INST_R10K].total / 1048576.0;
		int n_out = 0, n_over = 0, n_clear = 0;

		for (int i = 0; i < ncases; i++) {
			struct bcase *c = &cases[i];
			double r = compare(c, NULL, CMP_RATIO);

			if (c->kind != K_OUT)
				continue;
			compare_ci(c, NULL, CMP_RATIO, &lo, &hi);
			n_out++;
			n_over += r > 1.05;
			n_clear += lo > 1.05;
			if (r > worst_out) {
				worst_out = r;
				olo = lo;
				ohi = hi;
				snprintf(wo, sizeof(wo), "%s %s", c->fam->id, c->id);
			}
			if (!isnan(c->bind_ns_run) && c->bind_ns_run > worst_prog) {
				worst_prog = c->bind_ns_run;
				snprintf(wp, sizeof(wp), "%s %s", c->fam->id, c->id);
			}
		}
		for (int f = 0; f < N_FAMS; f++) {
			const struct bcase *a = find_case(fams[f].id, "r60k");
			const struct bcase *b = find_case(fams[f].id, "r1");
			double r = compare(a, b, CMP_CASES);

			if (r > worst_6001) {
				worst_6001 = r;
				compare_ci(a, b, CMP_CASES, &slo, &shi);
				w6 = fams[f].id;
			}
		}
		/* portrsv's worst configuration against Landlock's cheapest, per TCP family. */
		for (int f = 0; f < 2 && have_ll; f++) {
			const struct bcase *b = find_case(fams[f].id, "baseline"), *pw = NULL, *lw = NULL;
			double pr = -INFINITY, ll = INFINITY, plo, phi, llo, lhi;
			const char *pr_ids[] = { "r0", "r1", "r10k", "r60k" };
			const char *ll_ids[] = { "landlock1", "landlock1000" };
			size_t l = strlen(lldesc);

			for (int k = 0; k < 4; k++) {
				const struct bcase *c = find_case(fams[f].id, pr_ids[k]);

				if (compare(c, b, CMP_DIFF) > pr) {
					pr = compare(c, b, CMP_DIFF);
					pw = c;
				}
			}
			for (int k = 0; k < 2; k++) {
				const struct bcase *c = find_case(fams[f].id, ll_ids[k]);

				if (compare(c, b, CMP_DIFF) < ll) {
					ll = compare(c, b, CMP_DIFF);
					lw = c;
				}
			}
			compare_ci(pw, b, CMP_DIFF, &plo, &phi);
			compare_ci(lw, b, CMP_DIFF, &llo, &lhi);
			ll_ok = ll_ok && pr <= ll;
			snprintf(lldesc + l, sizeof(lldesc) - l,
				 "%s%s: portrsv %+.0f ns (%s, CI %+.0f..%+.0f) vs Landlock %+.0f ns (%s, "
				 "CI %+.0f..%+.0f)", f ? "\n" TARGET_INDENT : "", fams[f].id, pr, pw->id,
				 plo, phi, ll, lw->id, llo, lhi);
		}
		printf("\ntargets (ratios: median and its 95%% CI over the repetitions)\n");
		target("enforced bind outside reservations <= 1.05x", worst_out <= 1.05,
		       "worst %.4fx (%s, CI %.3f-%.3f); %d of %d cases above 1.05, %d with the whole "
		       "CI above", worst_out, wo, olo, ohi, n_over, n_out, n_clear);
		target("60,000 reserved ports vs 1 reservation <= 1.02x", worst_6001 <= 1.02,
		       "worst %.4fx (%s, CI %.3f-%.3f)", worst_6001, w6, slo, shi);
		target("program run time per bind <= 100 ns", worst_prog <= 100,
		       "worst %.1f ns per bind4/bind6 run (%s)", worst_prog, wp);
		if (have_ll) {
			target("portrsv overhead <= Landlock's (TCP loop)", ll_ok, "%s", lldesc);
		} else {
			printf("  %-7s %-52s Landlock ABI %d has no network rules\n", "N/A",
			       "portrsv overhead <= Landlock's (TCP loop)", landlock_abi);
		}
		target("10,000 reservations loaded <= 300 ms", mr <= 300,
		       "%.1f ms wall, %.1f ms CPU (median of %d)", mr,
		       median(c_restore, nrestore) / 1e6, nrestore);
		target("maps for 10,000 reservations <= 8 MiB", mm <= 8, "%.2f MiB", mm);
		target("durable add median <= 5 ms", ma <= 5, "%.2f ms (median of %d, %s)", ma,
		       opt.ctl_n, fsdesc);
		{
			double mc = median(t_cni_add10k, opt.ctl10k_n) / 1e6;

			target("cni ADD with 10,000 stored <= 10 ms", mc <= 10,
			       "%.2f ms wall, a process each (median of %d; %.2f ms with 0 stored)",
			       mc, opt.ctl10k_n, median(t_cni_add, opt.ctl_n) / 1e6);
		}
	}
	printf("\nbenchmark ran in %.1f s\n", (now_ns() - t_start) / 1e9);
	if (opt.csv)
		write_csv(opt.csv);
	fflush(stdout);
	return 0;
}

/* ---- The supervisor: runs the worker, cleans up after it however it ended ---- */
static volatile pid_t worker_pid;
static volatile sig_atomic_t got_signals;

static void forward(int sig)
{
	got_signals++;
	if (worker_pid > 0)
		kill(worker_pid, got_signals > 1 ? SIGKILL : sig);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = forward };
	int status, rc;
	pid_t pid;

	parse_args(argc, argv);
	if (geteuid() != 0)
		die("needs root (cgroups, BPF programs, network namespaces)");
	names(getpid());
	if (read_file(STATS_SYSCTL, g.stats_prev, sizeof(g.stats_prev)))
		g.stats_prev[0] = '\0';
	if (access(g.cg_top, F_OK) == 0 || access(g.pin_top, F_OK) == 0)
		die("%s or %s already exists", g.cg_top, g.pin_top);
	if (mkdir(opt.state_base, 0755) && errno != EEXIST)
		die("%s: %s", opt.state_base, strerror(errno));

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(worker());
	worker_pid = pid;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	worker_pid = 0;
	/* The worker cleaned up unless it was killed; either way, make sure. Killed, it may have
	 * left kernel.bpf_stats_enabled on: put back the value read before it started. */
	g.stats_changed = WIFSIGNALED(status);
	cleanup();
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "bench: worker killed by signal %d\n", WTERMSIG(status));
		rc = 128 + WTERMSIG(status);
	} else {
		rc = WEXITSTATUS(status);
	}
	return rc;
}
