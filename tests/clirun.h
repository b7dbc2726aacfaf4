/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Running a command the way a user does, for the command's tests: fork/exec with stdin
 * /dev/null, stdout and stderr captured separately (R), a timeout, and the child always
 * reaped before anything is asserted, so that no process stays behind in the test's cgroup.
 */
#ifndef PORTRSV_TEST_CLIRUN_H
#define PORTRSV_TEST_CLIRUN_H

#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <time.h>
#include <criterion/criterion.h>

#define OUT_MAX (1024 * 1024) /* show --json of a thousand reservations */
#define RUN_TIMEOUT_MS 60000
#define NOBODY 65534

/* The last command run: exit status (128 + signal if killed), stdout, stderr. */
static struct {
	int status;
	size_t nout, nerr;
	char out[OUT_MAX];
	char err[OUT_MAX];
} R;

/* How to run the next command. */
struct run_opts {
	bool unpriv;            /* as uid/gid nobody */
	bool drop_dac;          /* without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH */
	const char *fault;      /* PORTRSV_FAULT for the child, or none */
};

static inline const char *env_or(const char *var, const char *fallback)
{
	const char *v = getenv(var);

	return v && *v ? v : fallback;
}

static inline const char *portrsv_bin(void)
{
	return env_or("PORTRSV_BIN", "build/portrsv");
}

static inline void slurp(int fd, char *buf, size_t *n, bool *open)
{
	char scratch[4096];
	ssize_t k;

	/* Keep draining when the buffer is full, so that the child never blocks on us. */
	if (*n < OUT_MAX - 1)
		k = read(fd, buf + *n, OUT_MAX - 1 - *n);
	else
		k = read(fd, scratch, sizeof(scratch));
	if (k > 0 && *n < OUT_MAX - 1)
		*n += k;
	else if (k == 0 || (k < 0 && errno != EINTR))
		*open = false;
	buf[*n] = '\0';
}

/* Run argv (argv[0] = the program's path) as o says, capturing into R; the status. */
static inline int run_argv_opts(const struct run_opts *o, char *const argv[])
{
	int po[2], pe[2], status, rc;
	bool oopen = true, eopen = true, timed_out = false;
	struct timespec t0, t;
	pid_t pid;

	memset(&R, 0, sizeof(R));
	cr_assert(pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0, "pipe: %s",
		  strerror(errno));
	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		/* Opened while still root: the checkout may lie under a directory that nobody
		 * cannot traverse (/root, a mktemp directory), and exec through the open file
		 * needs no search permission on its parents. */
		int exe = open(argv[0], O_PATH | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(126);
		if (o->fault)
			setenv("PORTRSV_FAULT", o->fault, 1);
		else
			unsetenv("PORTRSV_FAULT");
		if (o->drop_dac && (prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) ||
				    prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0)))
			_exit(125);
		if (o->unpriv && (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
				  setresuid(NOBODY, NOBODY, NOBODY)))
			_exit(125);
		if (exe >= 0)
			fexecve(exe, argv, environ);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (oopen || eopen) {
		struct pollfd pfd[2] = { { .fd = oopen ? po[0] : -1, .events = POLLIN },
					 { .fd = eopen ? pe[0] : -1, .events = POLLIN } };
		long spent;

		clock_gettime(CLOCK_MONOTONIC, &t);
		spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (spent >= RUN_TIMEOUT_MS) {
			timed_out = true;
			break;
		}
		rc = poll(pfd, 2, RUN_TIMEOUT_MS - spent);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc <= 0)
			continue;
		if (pfd[0].revents)
			slurp(po[0], R.out, &R.nout, &oopen);
		if (pfd[1].revents)
			slurp(pe[0], R.err, &R.nerr, &eopen);
	}
	if (timed_out || oopen || eopen)
		kill(pid, SIGKILL);
	close(po[0]);
	close(pe[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	cr_assert(!timed_out, "%s %s: no exit within %d ms", argv[0], argv[1] ? argv[1] : "",
		  RUN_TIMEOUT_MS);
	R.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	cr_assert(R.status != 125, "could not drop privileges in the child");
	cr_assert(R.status != 127, "could not exec %s", argv[0]);
	return R.status;
}

static inline bool matches(const char *re, const char *s)
{
	regex_t rx;
	bool ok;

	cr_assert(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) == 0, "bad regex %s", re);
	ok = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return ok;
}

/* Success with nothing printed at all. */
static inline void assert_silent_ok(const char *what)
{
	cr_assert_eq(R.status, 0, "%s: exit %d; stdout [%s] stderr [%s]", what, R.status, R.out,
		     R.err);
	cr_assert_str_empty(R.out, "%s: stdout must be empty, got [%s]", what, R.out);
	cr_assert_str_empty(R.err, "%s: stderr must be empty, got [%s]", what, R.err);
}

/* Success printing only a token (add, lookup); the token. */
static inline uint64_t assert_token(const char *what)
{
	cr_assert_eq(R.status, 0, "%s: exit %d; stderr [%s]", what, R.status, R.err);
	cr_assert_str_empty(R.err, "%s: stderr must be empty, got [%s]", what, R.err);
	cr_assert(matches("^0x[0-9a-f]{16}\n$", R.out), "%s: stdout must be only a token, got [%s]",
		  what, R.out);
	return strtoull(R.out, NULL, 16);
}

#endif /* PORTRSV_TEST_CLIRUN_H */
