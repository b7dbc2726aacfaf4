// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * portrsv-cni (user/cni/), run as a runtime runs it: the binary with CNI_* in its environment
 * and the network config on stdin, its stdout read with json-c. The plugin runs in the
 * test's private netns, which plays the host; CNI_NETNS (the container's) is only named.
 * Every command under both spec versions, the error objects, the all-or-nothing ADD, DEL and
 * GC removing exactly what they should, and the enforcement of what ADD made.
 */
#include <stdarg.h>
#include <time.h>
#include <sys/mman.h>
#include <json-c/json.h>
#include "testlib.h"
#include <criterion/parameterized.h> /* after criterion.h, which it would break */
#include "store.h"

struct kt_env kt;

#define PREV "{\"cniVersion\":\"%s\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:ff\"," \
	     "\"sandbox\":\"/run/netns/t\"}],\"ips\":[{\"address\":\"10.88.0.2/16\",\"gateway\":" \
	     "\"10.88.0.1\",\"interface\":0}],\"routes\":[{\"dst\":\"0.0.0.0/0\"}],\"dns\":{}}"

static const char *const versions[] = { "1.0.0", "1.1.0" };

/* Sub-cgroups of the test's, removed at teardown. */
static const char *const subs[] = { "rt", "own", "other" };

static void sub(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", kt.cgroup, rel);
}

static void make_subs(void)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		sub(path, sizeof(path), subs[i]);
		cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
			  strerror(errno));
	}
}

static void setup(void)
{
	kt_setup();
	make_subs();
}

static void teardown(void)
{
	char path[PATH_MAX];

	if (kt.cgroup[0])
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
			sub(path, sizeof(path), subs[i]);
			rmdir(path);
		}
	kt_teardown();
}

static const char *plugin(void)
{
	const char *v = getenv("PORTRSV_CNI_BIN");

	return v && *v ? v : "build/portrsv-cni";
}

/* How to run the plugin. */
struct call {
	const char *cmd;       /* CNI_COMMAND; NULL = unset */
	const char *container; /* CNI_CONTAINERID; NULL = unset */
	const char *cgroup;    /* a sub-cgroup to run in; NULL = the test's */
	bool cgroupns;         /* in a cgroup namespace of its own: its cgroup reads as "/" */
	const char *pin_dir;   /* PORTRSV_PIN_DIR; NULL = the test's */
};

/* The last run: exit status, stdout. */
static struct {
	int status;
	char out[65536];
	json_object *json; /* stdout parsed; NULL when empty or not JSON */
} P;

static int run(const struct call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int run(const struct call *c, const char *fmt, ...)
{
	int in = memfd_create("stdin", MFD_CLOEXEC), out = memfd_create("stdout", MFD_CLOEXEC);
	char *text = NULL;
	int status, n;
	va_list ap;
	pid_t pid;

	cr_assert(in >= 0 && out >= 0);
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0);
	cr_assert(write(in, text, n) == n);
	free(text);
	cr_assert(lseek(in, 0, SEEK_SET) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char path[PATH_MAX];

		if (c->cgroup) {
			char procs[PATH_MAX + 16], me[32];
			int fd;

			sub(path, sizeof(path), c->cgroup);
			snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
			snprintf(me, sizeof(me), "%d\n", getpid());
			fd = open(procs, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, me, strlen(me)) < 0)
				_exit(120);
			close(fd);
		}
		if (c->cgroupns && unshare(CLONE_NEWCGROUP))
			_exit(121);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0)
			_exit(122);
		unsetenv("CNI_COMMAND");
		unsetenv("CNI_CONTAINERID");
		if (c->cmd)
			setenv("CNI_COMMAND", c->cmd, 1);
		if (c->container)
			setenv("CNI_CONTAINERID", c->container, 1);
		if (c->pin_dir)
			setenv("PORTRSV_PIN_DIR", c->pin_dir, 1);
		setenv("CNI_NETNS", "/run/netns/portrsv-test-container", 1);
		setenv("CNI_IFNAME", "eth0", 1);
		setenv("CNI_PATH", "/usr/lib/cni", 1);
		execl(plugin(), "portrsv-cni", (char *)NULL);
		_exit(127);
	}
	close(in);
	cr_assert(waitpid(pid, &status, 0) == pid);
	cr_assert(WIFEXITED(status), "plugin died: status %d", status);
	P.status = WEXITSTATUS(status);
	cr_assert(P.status != 127 && (P.status < 120 || P.status > 122), "could not run %s: %d",
		  plugin(), P.status);
	n = pread(out, P.out, sizeof(P.out) - 1, 0);
	cr_assert(n >= 0);
	P.out[n] = '\0';
	close(out);
	json_object_put(P.json);
	P.json = n ? json_tokener_parse(P.out) : NULL;
	return P.status;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

/* The last run failed with a CNI error object of code; msg and details contain the texts. */
static void assert_error(const char *version, int code, const char *in_msg, const char *in_details)
{
	json_object *v;
	const char *msg, *details;

	cr_assert_neq(P.status, 0, "exit 0, stdout %s", P.out);
	cr_assert(P.json && json_object_is_type(P.json, json_type_object), "stdout not JSON: %s",
		  P.out);
	cr_assert_str_eq(jstr(P.json, "cniVersion") ? jstr(P.json, "cniVersion") : "", version,
			 "%s", P.out);
	cr_assert(json_object_object_get_ex(P.json, "code", &v) && json_object_is_type(v, json_type_int),
		  "no code: %s", P.out);
	cr_assert_eq(json_object_get_int(v), code, "code: %s", P.out);
	msg = jstr(P.json, "msg");
	details = jstr(P.json, "details");
	cr_assert(msg && *msg, "no msg: %s", P.out);
	if (in_msg)
		cr_assert(strstr(msg, in_msg), "msg lacks '%s': %s", in_msg, P.out);
	if (in_details)
		cr_assert(details && strstr(details, in_details), "details lack '%s': %s", in_details,
			  P.out);
}

static void assert_ok_silent(void)
{
	cr_assert_eq(P.status, 0, "exit %d: %s", P.status, P.out);
	cr_assert_str_eq(P.out, "", "stdout: %s", P.out);
}

/* ADD printed prevResult, unchanged. */
static void assert_prev(const char *version)
{
	char *want = NULL;
	json_object *w;

	cr_assert_eq(P.status, 0, "exit %d: %s", P.status, P.out);
	cr_assert(asprintf(&want, PREV, version) > 0);
	w = json_tokener_parse(want);
	free(want);
	cr_assert(w && P.json, "stdout: %s", P.out);
	cr_assert(json_object_equal(w, P.json), "prevResult changed: %s", P.out);
	json_object_put(w);
}

/* How many reservations the container has. */
static int owned(const char *container)
{
	struct portrsv_reservation *r = NULL;
	int n = portrsv_list_container(kt.p, container, &r);

	cr_assert(n >= 0, "list_container %s: %s", container, strerror(-n));
	free(r);
	return n;
}

static int all_reservations(void)
{
	struct portrsv_reservation *r = NULL;
	int n = portrsv_list(kt.p, &r);

	cr_assert(n >= 0);
	free(r);
	return n;
}

static bool reserved(enum portrsv_proto proto, uint16_t port)
{
	struct portrsv_reservation r;
	int err = portrsv_query(kt.p, proto, port, NULL, &r);

	cr_assert(err == 0 || err == -ENOENT, "query: %s", strerror(-err));
	return !err;
}

#define CONF(extra, maps) \
	"{\"cniVersion\":\"%s\",\"name\":\"test\",\"type\":\"portrsv-cni\"" extra \
	",\"runtimeConfig\":{\"portMappings\":[" maps "]},\"prevResult\":" PREV "}"
#define TCP(port) "{\"hostPort\":" #port ",\"containerPort\":80,\"protocol\":\"tcp\"}"
#define UDP(port) "{\"hostPort\":" #port ",\"containerPort\":53,\"protocol\":\"udp\",\"hostIP\":\"127.0.0.1\"}"

/* ---- VERSION --------------------------------------------------------------------------- */

Test(cni, version, .init = setup, .fini = teardown)
{
	for (size_t i = 0; i < 2; i++) {
		json_object *sv;
		bool seen[2] = { false, false };

		run(&(struct call){ .cmd = "VERSION" }, "{\"cniVersion\":\"%s\"}", versions[i]);
		cr_assert_eq(P.status, 0, "%s: %s", versions[i], P.out);
		cr_assert(json_object_object_get_ex(P.json, "supportedVersions", &sv) &&
			  json_object_is_type(sv, json_type_array), "%s", P.out);
		for (size_t j = 0; j < json_object_array_length(sv); j++)
			for (size_t k = 0; k < 2; k++)
				seen[k] |= !strcmp(json_object_get_string(json_object_array_get_idx(sv, j)),
						   versions[k]);
		cr_assert(seen[0] && seen[1], "%s", P.out);
		cr_assert(jstr(P.json, "cniVersion"), "%s", P.out);
	}
}

/* ---- ADD, CHECK, DEL under each version ----------------------------------------------- */

/*
 * Parameters are indexes: the worker is the binary run again, at another address (PIE), so a
 * pointer in a parameter would point nowhere there.
 */
static int version_idx[] = { 0, 1 };

ParameterizedTestParameters(cni, lifecycle)
{
	return cr_make_param_array(int, version_idx, 2);
}

ParameterizedTest(int *vi, cni, lifecycle, .init = setup, .fini = teardown)
{
	const char *v = versions[*vi];
	struct call add = { "ADD", "c1" }, check = { "CHECK", "c1" }, del = { "DEL", "c1" };
	char store[PATH_MAX + 32], line[512];
	bool found = false;
	FILE *f;

	run(&add, CONF("", TCP(7701) "," UDP(7702)), v, v);
	assert_prev(v);
	cr_assert_eq(owned("c1"), 2);
	cr_assert(reserved(PORTRSV_TCP, 7701) && reserved(PORTRSV_UDP, 7702));
	cr_assert(!reserved(PORTRSV_UDP, 7701) && !reserved(PORTRSV_TCP, 7702));
	/* The store says whose they are. */
	snprintf(store, sizeof(store), "%s/%s", kt.state_dir, PORTRSV_STORE_FILE);
	f = fopen(store, "re");
	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, "resv udp 7702 1 ") && strstr(line, " container=c1") &&
			 strstr(line, "cni%20test%20127.0.0.1");
	fclose(f);
	cr_assert(found, "no udp 7702 line with container=c1 and the hostIP in the store");
	/* A repeated ADD (a runtime retrying) keeps them, and adds none. */
	run(&add, CONF("", TCP(7701) "," UDP(7702)), v, v);
	assert_prev(v);
	cr_assert_eq(all_reservations(), 2);

	run(&check, CONF("", TCP(7701) "," UDP(7702)), v, v);
	assert_ok_silent();
	run(&del, CONF("", TCP(7701) "," UDP(7702)), v, v);
	assert_ok_silent();
	cr_assert_eq(owned("c1"), 0);
	cr_assert_eq(all_reservations(), 0);
	/* DEL again, and DEL of a container never seen, without prevResult: success. */
	run(&del, CONF("", TCP(7701) "," UDP(7702)), v, v);
	assert_ok_silent();
	run(&(struct call){ "DEL", "never-added" },
	    "{\"cniVersion\":\"%s\",\"name\":\"test\",\"type\":\"portrsv-cni\"}", v);
	assert_ok_silent();
	run(&check, CONF("", TCP(7701) "," UDP(7702)), v, v);
	assert_error(v, 104, "7701", NULL);
}

/* No published ports: ADD passes prevResult on and reserves nothing. */
Test(cni, add_without_ports, .init = setup, .fini = teardown)
{
	for (size_t i = 0; i < 2; i++) {
		run(&(struct call){ "ADD", "c1" },
		    "{\"cniVersion\":\"%s\",\"name\":\"test\",\"type\":\"portrsv-cni\",\"prevResult\":" PREV "}",
		    versions[i], versions[i]);
		assert_prev(versions[i]);
		cr_assert_eq(all_reservations(), 0);
	}
}

/* ---- Refusals: each an error object, and nothing reserved -------------------------------- */

struct refusal {
	const char *name;
	struct call call;
	const char *version; /* the version the error object carries */
	const char *input;   /* printf format: %s the version (at most twice) */
	int code;
	const char *in_msg;
};

static struct refusal refusals[] = {
	{ "bad JSON", { "ADD", "c1" }, "1.1.0", "{\"cniVersion\":\"1.1.0\",", 6, "not JSON" },
	{ "text after the object", { "ADD", "c1" }, "1.1.0", "{\"cniVersion\":\"1.1.0\"} {}", 6,
	  "not JSON" },
	{ "not an object", { "ADD", "c1" }, "1.1.0", "[1,2]", 6, "not a JSON object" },
	{ "ADD without prevResult", { "ADD", "c1" }, "1.0.0",
	  "{\"cniVersion\":\"%s\",\"name\":\"test\",\"runtimeConfig\":{\"portMappings\":[" TCP(7711) "]}}",
	  7, "prevResult" },
	{ "CHECK without prevResult", { "CHECK", "c1" }, "1.1.0",
	  "{\"cniVersion\":\"%s\",\"name\":\"test\"}", 7, "prevResult" },
	{ "unknown version", { "ADD", "c1" }, "1.1.0", CONF("", TCP(7711)), 1, "0.4.0" },
	{ "no version", { "ADD", "c1" }, "1.1.0", "{\"name\":\"test\",\"prevResult\":{}}", 1,
	  "missing" },
	{ "no name", { "ADD", "c1" }, "1.0.0", "{\"cniVersion\":\"%s\",\"prevResult\":{}}", 7, "name" },
	{ "missing CNI_CONTAINERID", { "ADD", NULL }, "1.1.0", CONF("", TCP(7711)), 4,
	  "CNI_CONTAINERID" },
	{ "bad CNI_CONTAINERID", { "ADD", "../etc" }, "1.1.0", CONF("", TCP(7711)), 4,
	  "CNI_CONTAINERID" },
	{ "missing CNI_COMMAND", { NULL, "c1" }, "1.1.0", CONF("", TCP(7711)), 4, "CNI_COMMAND" },
	{ "unknown CNI_COMMAND", { "UPDATE", "c1" }, "1.1.0", CONF("", TCP(7711)), 4, "CNI_COMMAND" },
	{ "owner not a cgroup", { "ADD", "c1" }, "1.1.0",
	  CONF(",\"owner\":\"/nonexistent/portrsv-test\"", TCP(7711)), 102, "nonexistent" },
	{ "owner relative", { "ADD", "c1" }, "1.0.0", CONF(",\"owner\":\"podman\"", TCP(7711)), 102,
	  "absolute" },
	{ "owner not a string", { "ADD", "c1" }, "1.1.0", CONF(",\"owner\":5", TCP(7711)), 7,
	  "owner" },
	{ "owner a file", { "ADD", "c1" }, "1.1.0", CONF(",\"owner\":\"/etc/passwd\"", TCP(7711)), 102,
	  "/etc/passwd" },
	{ "sctp", { "ADD", "c1" }, "1.1.0",
	  CONF("", TCP(7711) ",{\"hostPort\":7712,\"protocol\":\"sctp\"}"), 105, "sctp" },
	{ "other protocol", { "ADD", "c1" }, "1.0.0",
	  CONF("", "{\"hostPort\":7712,\"protocol\":\"icmp\"}"), 105, "icmp" },
	{ "hostPort 0", { "ADD", "c1" }, "1.1.0", CONF("", "{\"hostPort\":0}"), 7, "hostPort" },
	{ "hostPort 65536", { "ADD", "c1" }, "1.1.0", CONF("", "{\"hostPort\":65536}"), 7,
	  "hostPort" },
	{ "hostPort a string", { "ADD", "c1" }, "1.1.0", CONF("", "{\"hostPort\":\"80\"}"), 7,
	  "hostPort" },
	{ "no hostPort", { "ADD", "c1" }, "1.1.0", CONF("", "{\"containerPort\":80}"), 7,
	  "hostPort" },
	{ "bad hostIP", { "ADD", "c1" }, "1.1.0",
	  CONF("", "{\"hostPort\":7711,\"hostIP\":\"127.0.0.256\"}"), 7, "hostIP" },
	{ "portMappings not an array", { "ADD", "c1" }, "1.1.0",
	  "{\"cniVersion\":\"%s\",\"name\":\"t\",\"runtimeConfig\":{\"portMappings\":{}},\"prevResult\":{}}",
	  7, "portMappings" },
	{ "GC under 1.0.0", { "GC" }, "1.0.0",
	  "{\"cniVersion\":\"%s\",\"name\":\"test\",\"cni.dev/valid-attachments\":[]}", 1, "GC" },
	{ "STATUS under 1.0.0", { "STATUS" }, "1.0.0", "{\"cniVersion\":\"%s\",\"name\":\"test\"}", 1,
	  "STATUS" },
	{ "GC without valid-attachments", { "GC" }, "1.1.0",
	  "{\"cniVersion\":\"%s\",\"name\":\"test\"}", 7, "valid-attachments" },
	{ "GC attachment without containerID", { "GC" }, "1.1.0",
	  "{\"cniVersion\":\"%s\",\"name\":\"test\",\"cni.dev/valid-attachments\":[{\"ifname\":\"eth0\"}]}",
	  7, "containerID" },
};

#define NREFUSALS (sizeof(refusals) / sizeof(refusals[0]))

ParameterizedTestParameters(cni, refused)
{
	static int idx[NREFUSALS];

	for (size_t i = 0; i < NREFUSALS; i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, NREFUSALS);
}

ParameterizedTest(int *ri, cni, refused, .init = setup, .fini = teardown)
{
	const struct refusal *r = &refusals[*ri];
	const char *in_version = !strcmp(r->name, "unknown version") ? "0.4.0" : r->version;

	/* The unrelated reservation of another container must survive every refusal. */
	run(&(struct call){ "ADD", "bystander" }, CONF("", TCP(7790)), "1.1.0", "1.1.0");
	assert_prev("1.1.0");
	run(&r->call, r->input, in_version, in_version);
	cr_log_info("%s: %s", r->name, P.out);
	assert_error(r->version, r->code, r->in_msg, NULL);
	cr_assert_eq(all_reservations(), 1, "%s: something was reserved or removed", r->name);
	cr_assert_eq(owned("bystander"), 1, "%s", r->name);
}

/* ---- Who holds the port ------------------------------------------------------------------ */

Test(cni, port_of_a_host_process, .init = setup, .fini = teardown)
{
	char comm[32] = "", want[64];
	int fd = kt_socket(KT_V4, IPPROTO_TCP);
	FILE *f = fopen("/proc/self/comm", "re");

	cr_assert(f && fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	cr_assert_eq(kt_bind(fd, KT_V4, 7720), 0);
	cr_assert_eq(listen(fd, 1), 0);
	snprintf(want, sizeof(want), "pid %d (%s)", getpid(), comm);
	/* Not adjacent: two reservations; tcp 7718 is made first, then 7720 fails. */
	run(&(struct call){ "ADD", "c1" }, CONF("", TCP(7720) "," TCP(7718)), "1.1.0", "1.1.0");
	assert_error("1.1.0", 100, "tcp/7720", want);
	/* All or nothing: 7718, made first, is gone again. */
	cr_assert_eq(all_reservations(), 0);
	close(fd);
}

Test(cni, second_container_same_port, .init = setup, .fini = teardown)
{
	for (size_t i = 0; i < 2; i++) {
		const char *v = versions[i];

		run(&(struct call){ "ADD", "first" }, CONF("", TCP(7730)), v, v);
		assert_prev(v);
		run(&(struct call){ "ADD", "second" }, CONF("", TCP(7730)), v, v);
		assert_error(v, 101, "tcp/7730", "container first");
		cr_assert_eq(owned("first"), 1);
		cr_assert_eq(owned("second"), 0);
		/* A port a plain reservation holds names no container. */
		kt_reserve(PORTRSV_UDP, 7731, 4);
		run(&(struct call){ "ADD", "second" }, CONF("", UDP(7733)), v, v);
		assert_error(v, 101, "udp/7733", "not for a container");
		cr_assert_eq(portrsv_delete(kt.p, PORTRSV_UDP, 7731, 4, NULL), 0);
		run(&(struct call){ "DEL", "first" }, CONF("", TCP(7730)), v, v);
		assert_ok_silent();
	}
}

/*
 * The 3rd of 4 fails: the first two go again, the 4th is never made. Ports that are not
 * adjacent are one reservation each, made in (protocol, port) order.
 */
Test(cni, add_is_all_or_nothing, .init = setup, .fini = teardown)
{
	run(&(struct call){ "ADD", "first" }, CONF("", TCP(7748)), "1.1.0", "1.1.0");
	assert_prev("1.1.0");
	run(&(struct call){ "ADD", "second" }, CONF("", UDP(7741) "," TCP(7748) "," TCP(7744) "," TCP(7740)),
	    "1.1.0", "1.1.0");
	assert_error("1.1.0", 101, "tcp/7748", "container first");
	cr_assert(!reserved(PORTRSV_TCP, 7740) && !reserved(PORTRSV_TCP, 7744));
	cr_assert(!reserved(PORTRSV_UDP, 7741));
	cr_assert_eq(owned("second"), 0);
	cr_assert_eq(owned("first"), 1);
}

/* ---- DEL, CHECK, GC: exactly the container's ------------------------------------------------ */

Test(cni, del_removes_exactly_that_container, .init = setup, .fini = teardown)
{
	run(&(struct call){ "ADD", "a" }, CONF("", TCP(7750) "," UDP(7751)), "1.0.0", "1.0.0");
	assert_prev("1.0.0");
	run(&(struct call){ "ADD", "b" }, CONF("", TCP(7752)), "1.0.0", "1.0.0");
	assert_prev("1.0.0");
	kt_reserve(PORTRSV_TCP, 7753, 1);
	/* DEL's config need not list the ports: the container id says which. */
	run(&(struct call){ "DEL", "a" }, "{\"cniVersion\":\"%s\",\"name\":\"test\"}", "1.0.0");
	assert_ok_silent();
	cr_assert_eq(owned("a"), 0);
	cr_assert_eq(owned("b"), 1);
	cr_assert(reserved(PORTRSV_TCP, 7752) && reserved(PORTRSV_TCP, 7753));
	cr_assert(!reserved(PORTRSV_TCP, 7750) && !reserved(PORTRSV_UDP, 7751));
	run(&(struct call){ "DEL", "a" }, "{\"cniVersion\":\"%s\",\"name\":\"test\"}", "1.0.0");
	assert_ok_silent();
	cr_assert_eq(all_reservations(), 2);
}

Test(cni, check_fails_when_one_is_missing, .init = setup, .fini = teardown)
{
	for (size_t i = 0; i < 2; i++) {
		const char *v = versions[i];

		run(&(struct call){ "ADD", "c1" }, CONF("", TCP(7760) "," UDP(7761)), v, v);
		assert_prev(v);
		run(&(struct call){ "CHECK", "c1" }, CONF("", TCP(7760) "," UDP(7761)), v, v);
		assert_ok_silent();
		cr_assert_eq(portrsv_delete(kt.p, PORTRSV_UDP, 7761, 1, NULL), 0);
		run(&(struct call){ "CHECK", "c1" }, CONF("", TCP(7760) "," UDP(7761)), v, v);
		assert_error(v, 104, "udp/7761", NULL);
		/* Another container's reservation of the port is not this one's. */
		run(&(struct call){ "ADD", "c2" }, CONF("", UDP(7761)), v, v);
		assert_prev(v);
		run(&(struct call){ "CHECK", "c1" }, CONF("", TCP(7760) "," UDP(7761)), v, v);
		assert_error(v, 104, "udp/7761", NULL);
		run(&(struct call){ "DEL", "c1" }, CONF("", TCP(7760)), v, v);
		run(&(struct call){ "DEL", "c2" }, CONF("", TCP(7760)), v, v);
		cr_assert_eq(all_reservations(), 0);
	}
}

Test(cni, gc_keeps_only_valid_attachments, .init = setup, .fini = teardown)
{
	run(&(struct call){ "ADD", "keep" }, CONF("", TCP(7770)), "1.1.0", "1.1.0");
	run(&(struct call){ "ADD", "gone1" }, CONF("", TCP(7771) "," UDP(7772)), "1.1.0", "1.1.0");
	run(&(struct call){ "ADD", "gone2" }, CONF("", UDP(7773)), "1.1.0", "1.1.0");
	kt_reserve(PORTRSV_TCP, 7774, 1); /* no container's: GC leaves it */
	/* Another network's container: not in this network's valid-attachments, and not ours. */
	run(&(struct call){ "ADD", "elsewhere" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test2\",\"runtimeConfig\":{\"portMappings\":["
	    TCP(7775) "]},\"prevResult\":" PREV "}", "1.1.0");
	assert_prev("1.1.0");
	cr_assert_eq(all_reservations(), 6);
	run(&(struct call){ "GC" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"cni.dev/valid-attachments\":"
	    "[{\"containerID\":\"keep\",\"ifname\":\"eth0\"},{\"containerID\":\"not-ours\",\"ifname\":\"eth0\"}]}");
	assert_ok_silent();
	cr_assert_eq(owned("keep"), 1);
	cr_assert_eq(owned("gone1"), 0);
	cr_assert_eq(owned("gone2"), 0);
	cr_assert(reserved(PORTRSV_TCP, 7774));
	cr_assert_eq(owned("elsewhere"), 1, "GC of network test took network test2's ports");
	cr_assert_eq(all_reservations(), 3);
	run(&(struct call){ "GC" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"cni.dev/valid-attachments\":[]}");
	assert_ok_silent();
	cr_assert_eq(owned("keep"), 0);
	cr_assert_eq(owned("elsewhere"), 1);
	cr_assert_eq(all_reservations(), 2);
	/* test2's own GC takes it. */
	run(&(struct call){ "GC" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test2\",\"cni.dev/valid-attachments\":[]}");
	assert_ok_silent();
	cr_assert_eq(owned("elsewhere"), 0);
	cr_assert_eq(all_reservations(), 1);
}

/* ---- STATUS, and commands without portrsv loaded ------------------------------------------ */

Test(cni, status, .init = setup, .fini = teardown)
{
	char none[PATH_MAX + 8];
	struct call st = { "STATUS" };

	run(&st, "{\"cniVersion\":\"1.1.0\",\"name\":\"test\"}");
	assert_ok_silent();
	snprintf(none, sizeof(none), "%s-none", kt.pin_dir);
	st.pin_dir = none;
	run(&st, "{\"cniVersion\":\"1.1.0\",\"name\":\"test\"}");
	assert_error("1.1.0", 50, "not loaded", "portrsv load");
	run(&(struct call){ "ADD", "c1", .pin_dir = none }, CONF("", TCP(7780)), "1.1.0", "1.1.0");
	assert_error("1.1.0", 103, "not loaded", NULL);
	run(&(struct call){ "CHECK", "c1", .pin_dir = none }, CONF("", TCP(7780)), "1.0.0", "1.0.0");
	assert_error("1.0.0", 103, "not loaded", NULL);
	/* Teardown and GC must not fail where nothing is enforced. */
	run(&(struct call){ "DEL", "c1", .pin_dir = none }, CONF("", TCP(7780)), "1.0.0", "1.0.0");
	assert_ok_silent();
	run(&(struct call){ "GC", .pin_dir = none },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"cni.dev/valid-attachments\":[]}");
	assert_ok_silent();
	/* Unloaded for real, in the test's own pin directory. */
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
	run(&(struct call){ "STATUS" }, "{\"cniVersion\":\"1.1.0\",\"name\":\"test\"}");
	assert_error("1.1.0", 50, "not loaded", NULL);
}

/* ---- Enforcement: who may bind what ADD reserved ------------------------------------------- */

/* bind() of a fresh socket by a child that first joins sub-cgroup rel: 0 or -errno. */
static int bind_in(const char *rel, int proto, uint16_t port)
{
	char path[PATH_MAX + 16];
	int pfd[2], status, res = -1000;
	pid_t child;

	sub(path, sizeof(path), rel);
	strcat(path, "/cgroup.procs");
	cr_assert(pipe(pfd) == 0);
	child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		char pid[32];
		int fd = open(path, O_WRONLY | O_CLOEXEC), err;

		snprintf(pid, sizeof(pid), "%d\n", getpid());
		if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
			_exit(2);
		close(fd);
		fd = socket(AF_INET, proto == PORTRSV_UDP ? SOCK_DGRAM : SOCK_STREAM, 0);
		err = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
		_exit(write(pfd[1], &err, sizeof(err)) == sizeof(err) ? 0 : 3);
	}
	close(pfd[1]);
	if (read(pfd[0], &res, sizeof(res)) != sizeof(res))
		res = -1000;
	close(pfd[0]);
	cr_assert(waitpid(child, &status, 0) == child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 && res != -1000,
		  "binding child in %s failed: status %d", rel, status);
	return -res;
}

/* The default owner: the cgroup the runtime (the plugin's caller) runs in. */
Test(cni, default_owner_is_the_callers_cgroup, .init = setup, .fini = teardown)
{
	run(&(struct call){ "ADD", "c1", .cgroup = "rt" }, CONF("", TCP(7800) "," UDP(7801)), "1.1.0",
	    "1.1.0");
	assert_prev("1.1.0");
	cr_assert_eq(bind_in("rt", PORTRSV_TCP, 7800), 0);
	cr_assert_eq(bind_in("rt", PORTRSV_UDP, 7801), 0);
	cr_assert_eq(bind_in("other", PORTRSV_TCP, 7800), -EACCES);
	cr_assert_eq(bind_in("other", PORTRSV_UDP, 7801), -EACCES);
	cr_assert_eq(bind_in("own", PORTRSV_TCP, 7800), -EACCES);
}

Test(cni, configured_owner, .init = setup, .fini = teardown)
{
	char conf[PATH_MAX + 64];

	snprintf(conf, sizeof(conf), "%s/own", kt.cgroup);
	run(&(struct call){ "ADD", "c1", .cgroup = "rt" },
	    "{\"cniVersion\":\"1.0.0\",\"name\":\"test\",\"owner\":\"%s\",\"runtimeConfig\":"
	    "{\"portMappings\":[" TCP(7810) "]},\"prevResult\":" PREV "}", conf, "1.0.0");
	assert_prev("1.0.0");
	cr_assert_eq(bind_in("own", PORTRSV_TCP, 7810), 0);
	cr_assert_eq(bind_in("rt", PORTRSV_TCP, 7810), -EACCES);
	cr_assert_eq(bind_in("other", PORTRSV_TCP, 7810), -EACCES);
	/* After DEL the port is free for anyone again. */
	run(&(struct call){ "DEL", "c1" }, "{\"cniVersion\":\"1.0.0\",\"name\":\"test\"}");
	assert_ok_silent();
	cr_assert_eq(bind_in("other", PORTRSV_TCP, 7810), 0);
}

/* An owner of every process reserves nothing: the cgroup v2 root is refused as "owner" too. */
Test(cni, owner_never_the_root, .init = setup, .fini = teardown)
{
	char mnt[PATH_MAX];

	cr_assert_eq(portrsv_cgroup2_mount(mnt, sizeof(mnt)), 0);
	run(&(struct call){ "ADD", "c1" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"owner\":\"%s\",\"runtimeConfig\":"
	    "{\"portMappings\":[" TCP(7830) "]},\"prevResult\":" PREV "}", mnt, "1.1.0");
	assert_error("1.1.0", 102, "cgroup v2 root", NULL);
	cr_assert_eq(all_reservations(), 0);
}

/* A runtime whose cgroup reads as the root (here: a cgroup namespace of its own) must name an owner. */
Test(cni, default_owner_never_the_root, .init = setup, .fini = teardown)
{
	run(&(struct call){ "ADD", "c1", .cgroup = "rt", .cgroupns = true }, CONF("", TCP(7820)),
	    "1.1.0", "1.1.0");
	assert_error("1.1.0", 102, "cgroup v2 root", "\"owner\"");
	cr_assert_eq(all_reservations(), 0);
}

/* ---- The library's container functions ---------------------------------------------------- */

struct id_row {
	const char *name;
	const char *id;
	int want; /* of portrsv_create with .container = id */
};

static const struct id_row ids[] = {
	{ "one letter", "a", 0 },
	{ "podman's 64 hex digits", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0 },
	{ "punctuation inside", "A1_b.c-d", 0 },
	{ "127 bytes", "Zxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0 },
	{ "128 bytes", "Zxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", -EINVAL },
	{ "empty", "", -EINVAL },
	{ "leading dash", "-a", -EINVAL },
	{ "leading dot", ".a", -EINVAL },
	{ "slash", "a/b", -EINVAL },
	{ "space", "a b", -EINVAL },
	{ "equals", "a=b", -EINVAL },
	{ "newline", "a\n", -EINVAL },
	{ "UTF-8", "\xc3\xbc", -EINVAL },
};

/* Each id through create, list, delete: accepted ids round-trip, refused ones change nothing. */
Test(container_api, ids, .init = setup, .fini = teardown)
{
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct id_row *r = &ids[i];
		PORTRSV_OPTS(portrsv_create_opts, o, .container = r->id);
		struct portrsv_reservation *v = NULL;
		uint64_t token = 0;
		char **names = NULL;
		int err = portrsv_create(kt.p, PORTRSV_TCP, 7900, 2, &o, &token);

		cr_assert_eq(err, r->want, "%s: create = %d", r->name, err);
		if (err) {
			cr_assert_eq(all_reservations(), 0, "%s", r->name);
			cr_assert_eq(portrsv_list_container(kt.p, r->id, &v), -EINVAL, "%s", r->name);
			cr_assert_null(v);
			cr_assert_eq(portrsv_delete_container(kt.p, r->id), -EINVAL, "%s", r->name);
			continue;
		}
		cr_assert_eq(portrsv_list_container(kt.p, r->id, &v), 1, "%s", r->name);
		cr_assert(v[0].token == token && v[0].start == 7900 && v[0].count == 2, "%s", r->name);
		free(v);
		cr_assert_eq(portrsv_containers(kt.p, &names), 1, "%s", r->name);
		cr_assert_str_eq(names[0], r->id);
		free(names[0]);
		free(names);
		cr_assert_eq(portrsv_delete_container(kt.p, r->id), 1, "%s", r->name);
		cr_assert_eq(portrsv_delete_container(kt.p, r->id), 0, "%s: twice", r->name);
		cr_assert_eq(all_reservations(), 0, "%s", r->name);
	}
}

Test(container_api, arguments, .init = setup, .fini = teardown)
{
	struct portrsv_reservation *v = (void *)1;
	char **names = (void *)1;

	cr_assert_eq(portrsv_list_container(NULL, "a", &v), -EINVAL);
	cr_assert_eq(portrsv_list_container(kt.p, "a", NULL), -EINVAL);
	cr_assert_eq(portrsv_list_container(kt.p, NULL, &v), -EINVAL);
	cr_assert_eq(portrsv_delete_container(NULL, "a"), -EINVAL);
	cr_assert_eq(portrsv_delete_container(kt.p, NULL), -EINVAL);
	cr_assert_eq(portrsv_containers(NULL, &names), -EINVAL);
	cr_assert_eq(portrsv_containers(kt.p, NULL), -EINVAL);
	/* None yet: 0 and NULL. */
	cr_assert_eq(portrsv_list_container(kt.p, "a", &v), 0);
	cr_assert_null(v);
	cr_assert_eq(portrsv_containers(kt.p, &names), 0);
	cr_assert_null(names);
}

/* Several containers, several blocks each, plain reservations among them; listing and
 * deleting pick exactly the container's, each container listed once. */
Test(container_api, several, .init = setup, .fini = teardown)
{
	static const struct { const char *c; enum portrsv_proto proto; uint16_t start, count; } rows[] = {
		{ "a", PORTRSV_TCP, 7910, 1 }, { "b", PORTRSV_TCP, 7911, 3 }, { NULL, PORTRSV_TCP, 7914, 1 },
		{ "a", PORTRSV_UDP, 7910, 5 }, { "b", PORTRSV_UDP, 7920, 1 }, { "a", PORTRSV_TCP, 7930, 1 },
	};
	struct portrsv_reservation *v = NULL;
	char **names = NULL;
	uint64_t token;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		PORTRSV_OPTS(portrsv_create_opts, o, .container = rows[i].c);

		cr_assert_eq(portrsv_create(kt.p, rows[i].proto, rows[i].start, rows[i].count, &o, &token), 0);
	}
	cr_assert_eq(portrsv_containers(kt.p, &names), 2);
	cr_assert(!strcmp(names[0], "a") && !strcmp(names[1], "b"));
	for (int i = 0; i < 2; i++)
		free(names[i]);
	free(names);
	cr_assert_eq(portrsv_list_container(kt.p, "a", &v), 3);
	cr_assert(v[0].start == 7910 && v[0].proto == PORTRSV_TCP && v[1].proto == PORTRSV_UDP &&
		  v[1].count == 5 && v[2].start == 7930, "in the store's order");
	free(v);
	cr_assert_eq(portrsv_delete_container(kt.p, "a"), 3);
	cr_assert_eq(owned("b"), 2);
	cr_assert(reserved(PORTRSV_TCP, 7914) && !reserved(PORTRSV_UDP, 7912));
	cr_assert_eq(all_reservations(), 3);
}

/* A published range arrives as one entry per port: every port reserved, DEL takes them all. */
Test(cni, port_range, .init = setup, .fini = teardown)
{
	char *maps = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&maps, &len);
	struct timespec t0, t1;

	cr_assert(f);
	for (int p = 8000; p < 8200; p++)
		fprintf(f, "%s{\"hostPort\":%d,\"containerPort\":%d,\"protocol\":\"tcp\"}", p > 8000 ? "," : "",
			p, p);
	fclose(f);
	/* A host process on a port inside the range: refused naming that port, nothing made. */
	{
		int fd = kt_socket(KT_V4, IPPROTO_TCP);
		char want[32];

		snprintf(want, sizeof(want), "pid %d (", getpid());
		cr_assert_eq(kt_bind(fd, KT_V4, 8123), 0);
		cr_assert_eq(listen(fd, 1), 0);
		run(&(struct call){ "ADD", "ranged" },
		    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"runtimeConfig\":{\"portMappings\":[%s]},"
		    "\"prevResult\":" PREV "}", maps, "1.1.0");
		assert_error("1.1.0", 100, "tcp/8123 ", want);
		cr_assert_eq(all_reservations(), 0);
		close(fd);
	}
	/* Another container inside the range: refused naming the first port it holds. */
	run(&(struct call){ "ADD", "inside" }, CONF("", TCP(8150) "," TCP(8151)), "1.1.0", "1.1.0");
	assert_prev("1.1.0");
	run(&(struct call){ "ADD", "ranged" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"runtimeConfig\":{\"portMappings\":[%s]},"
	    "\"prevResult\":" PREV "}", maps, "1.1.0");
	assert_error("1.1.0", 101, "tcp/8150 ", "container inside");
	cr_assert_eq(all_reservations(), 1);
	run(&(struct call){ "DEL", "inside" }, "{\"cniVersion\":\"1.1.0\",\"name\":\"test\"}");
	assert_ok_silent();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run(&(struct call){ "ADD", "ranged" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"runtimeConfig\":{\"portMappings\":[%s]},"
	    "\"prevResult\":" PREV "}", maps, "1.1.0");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_log_info("ADD of 200 ports: %.2f s", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_prev("1.1.0");
	cr_assert(reserved(PORTRSV_TCP, 8000) && reserved(PORTRSV_TCP, 8199));
	cr_assert(!reserved(PORTRSV_TCP, 7999) && !reserved(PORTRSV_TCP, 8200));
	cr_assert_eq(all_reservations(), 1, "200 adjacent ports are one reservation");
	/* ADD again (a retry) with one more port: only that one is made. */
	run(&(struct call){ "ADD", "ranged" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"runtimeConfig\":{\"portMappings\":[%s," TCP(8200) "]},"
	    "\"prevResult\":" PREV "}", maps, "1.1.0");
	assert_prev("1.1.0");
	cr_assert_eq(owned("ranged"), 2);
	run(&(struct call){ "CHECK", "ranged" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"runtimeConfig\":{\"portMappings\":[%s]},"
	    "\"prevResult\":" PREV "}", maps, "1.1.0");
	assert_ok_silent();
	run(&(struct call){ "DEL", "ranged" }, "{\"cniVersion\":\"1.1.0\",\"name\":\"test\"}");
	assert_ok_silent();
	cr_assert_eq(all_reservations(), 0);
	free(maps);
}

/* Runtimes start containers in parallel: of several ADDs for one port, exactly one wins. */
Test(cni, parallel_adds_one_wins, .init = setup, .fini = teardown)
{
	enum { N = 6 };
	pid_t pids[N];
	int outs[N], wins = 0, refused = 0, winner = -1;
	char *conf = NULL;
	int len = asprintf(&conf, CONF("", TCP(7960) "," UDP(7961)), "1.1.0", "1.1.0");

	cr_assert(len > 0);
	for (int i = 0; i < N; i++) {
		int in = memfd_create("stdin", MFD_CLOEXEC);
		char id[16];

		outs[i] = memfd_create("stdout", MFD_CLOEXEC);
		cr_assert(in >= 0 && outs[i] >= 0);
		cr_assert(write(in, conf, len) == len && lseek(in, 0, SEEK_SET) == 0);
		snprintf(id, sizeof(id), "racer%d", i);
		pids[i] = fork();
		cr_assert(pids[i] >= 0);
		if (pids[i] == 0) {
			if (dup2(in, 0) < 0 || dup2(outs[i], 1) < 0)
				_exit(122);
			setenv("CNI_COMMAND", "ADD", 1);
			setenv("CNI_CONTAINERID", id, 1);
			setenv("CNI_NETNS", "/run/netns/portrsv-test-container", 1);
			setenv("CNI_IFNAME", "eth0", 1);
			execl(plugin(), "portrsv-cni", (char *)NULL);
			_exit(127);
		}
		close(in);
	}
	for (int i = 0; i < N; i++) {
		int status;
		char buf[4096];
		ssize_t n;

		cr_assert(waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status));
		n = pread(outs[i], buf, sizeof(buf) - 1, 0);
		cr_assert(n > 0);
		buf[n] = '\0';
		close(outs[i]);
		if (WEXITSTATUS(status) == 0) {
			wins++;
			winner = i;
		} else {
			cr_assert(strstr(buf, "\"code\":101"), "racer %d: %s", i, buf);
			refused++;
		}
	}
	free(conf);
	cr_assert_eq(wins, 1, "%d ADDs won", wins);
	cr_assert_eq(refused, N - 1);
	/* The winner has both ports; the losers none (none half-made). */
	cr_assert_eq(all_reservations(), 2);
	cr_assert(reserved(PORTRSV_TCP, 7960) && reserved(PORTRSV_UDP, 7961));
	{
		char id[16];

		snprintf(id, sizeof(id), "racer%d", winner);
		cr_assert_eq(owned(id), 2, "the winner %s", id);
	}
}

/* What boot does (unload, then restore from the store): the container's ports come back as
 * its, CHECK passes, DEL and GC still find them by the container id. */
Test(cni, survives_unload_and_restore, .init = setup, .fini = teardown)
{
	int n;

	run(&(struct call){ "ADD", "boot1", .cgroup = "rt" }, CONF("", TCP(7840) "," UDP(7841)), "1.1.0",
	    "1.1.0");
	assert_prev("1.1.0");
	run(&(struct call){ "ADD", "boot2" }, CONF("", TCP(7842)), "1.1.0", "1.1.0");
	assert_prev("1.1.0");
	portrsv_close(kt.p);
	kt.p = NULL;
	cr_assert_eq(portrsv_unload(kt.pin_dir), 0);
	n = portrsv_restore(NULL);
	cr_assert_eq(n, 0, "restore: %d (%s)", n, portrsv_errmsg());
	kt.p = portrsv_open(NULL);
	cr_assert(kt.p);
	cr_assert_eq(owned("boot1"), 2);
	cr_assert_eq(owned("boot2"), 1);
	run(&(struct call){ "CHECK", "boot1" }, CONF("", TCP(7840) "," UDP(7841)), "1.1.0", "1.1.0");
	assert_ok_silent();
	/* The owner followed: the runtime's cgroup binds, another does not. */
	cr_assert_eq(bind_in("rt", PORTRSV_TCP, 7840), 0);
	cr_assert_eq(bind_in("other", PORTRSV_TCP, 7840), -EACCES);
	run(&(struct call){ "DEL", "boot1" }, "{\"cniVersion\":\"1.1.0\",\"name\":\"test\"}");
	assert_ok_silent();
	run(&(struct call){ "GC" },
	    "{\"cniVersion\":\"1.1.0\",\"name\":\"test\",\"cni.dev/valid-attachments\":[]}");
	assert_ok_silent();
	cr_assert_eq(all_reservations(), 0);
}
