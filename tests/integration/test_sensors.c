// SPDX-License-Identifier: Apache-2.0
/*
 * Integration tests of the kernel sensors: the real nodeguard binary on the
 * real kernel, root only.
 *
 * Each group starts one `nodeguard trace --json` and runs every trigger in a
 * container of its own (tests/integration/ctr.c), then asserts the exact
 * fields of the events that trigger must produce. The last test of a group
 * stops the agent (SIGINT) and checks the final stats line and that every
 * BPF program and link it held is gone.
 *
 *   tracepoints  default mode: exec, fork/exit, credentials via the syscall
 *                tracepoints, connect/sendmsg; host processes filtered out
 *   fallback     --creds-fallback (tp_btf/sys_enter + sys_exit): the same
 *                credential assertions
 *   all          --all: a host process is reported, with container:false
 *   cli          `nodeguard trace` as a non-root user is refused
 *
 * Environment: NODEGUARD (default ./nodeguard), NG_TRIGGER (default
 * build/tests/ng-trigger), BPFTOOL (default bpftool), NG_IT_KEEP=1 keeps the
 * scratch directory, NODEGUARD_ALLOW_SKIP=1 lets a run without root/BTF
 * exit 0 after saying it skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "ctr.h"

#define ARGV_MAX 300        /* --argv-max of the tracepoint group (not a power of two) */
#define RUN_TIMEOUT_MS 15000
#define EVENT_TIMEOUT_MS 5000
#define AGENT_START_MS 20000
#define AGENT_STOP_MS 10000
#define DETACH_TIMEOUT_MS 10000

/* ------------------------------------------------------------- fixtures */

static struct {
	char dir[64];            /* scratch: /tmp/ng-it-XXXXXX, 0755 */
	char trigger[PATH_MAX];  /* dir/ng-trigger */
	char suid[PATH_MAX];     /* dir/ng-trigger-suid, root 04755 */
	char nodeguard[PATH_MAX];
	char nodeguard_copy[PATH_MAX]; /* dir/nodeguard, for the non-root run */
	const char *bpftool;
	uint32_t host_pidns, host_mntns, host_netns, host_userns;
	uint64_t cap_bnd;
	uint64_t host_cgroup_id; /* this process's v2 cgroup */
} env;

struct suite {
	const char *name;
	const char *const *args;     /* extra trace arguments */
	const char *const *prog_names; /* programs that must be loaded */
	int nprogs;                  /* exactly this many */
	struct agent ag;
	int started;
	char *names[AGENT_MAX_IDS];  /* bpftool names of ag.prog_ids while running */
};

static struct suite *S; /* the group being run */

/* containers of the running test; the per-test teardown removes them */
#define TEST_CTRS 4
static struct ctr *ctrs[TEST_CTRS];

static int test_teardown(void **state)
{
	int i;

	(void)state;
	if (S) {
		S->ag.from = 0;
		S->ag.cgroup = 0;
	}
	for (i = 0; i < TEST_CTRS; i++) {
		if (!ctrs[i])
			continue;
		ctr_destroy(ctrs[i]);
		free(ctrs[i]);
		ctrs[i] = NULL;
	}
	return 0;
}

static struct ctr *new_ctr(void)
{
	int i;

	for (i = 0; i < TEST_CTRS; i++)
		if (!ctrs[i]) {
			ctrs[i] = calloc(1, sizeof(struct ctr));
			assert_non_null(ctrs[i]);
			return ctrs[i];
		}
	fail_msg("more than %d containers in one test", TEST_CTRS);
	return NULL;
}

/* ------------------------------------------------- assertion helpers */

static const cJSON *cur_ev;
static const struct ctr *cur_ctr;

static void ctx_dump(void)
{
	if (cur_ev) {
		char *s = cJSON_PrintUnformatted(cur_ev);

		print_error("  event: %s\n", s ? s : "?");
		free(s);
	}
	if (cur_ctr)
		ctr_dump(cur_ctr, stderr);
}

#define FAILF(...)                                 \
	do {                                       \
		print_error(__VA_ARGS__);          \
		ctx_dump();                        \
		_fail(__FILE__, __LINE__);         \
	} while (0)

#define EXPECT_INT(e, key, want)                                                             \
	do {                                                                                 \
		int64_t g_ = js_int(e, key), w_ = (int64_t)(want);                           \
		cur_ev = (e);                                                                \
		if (g_ != w_)                                                                \
			FAILF("field \"%s\" is %" PRId64 "%s, want %" PRId64 "\n", key, g_,  \
			      g_ == INT64_MIN ? " (absent)" : "", w_);                       \
	} while (0)

#define EXPECT_STR(e, key, want)                                                          \
	do {                                                                              \
		const char *g_ = js_str(e, key), *w_ = (want);                            \
		cur_ev = (e);                                                             \
		if (!g_ || strcmp(g_, w_))                                                \
			FAILF("field \"%s\" is \"%s\", want \"%s\"\n", key, g_ ? g_ : "(absent)", w_); \
	} while (0)

#define EXPECT_BOOL(e, key, want)                                                           \
	do {                                                                                \
		int g_ = js_bool(e, key), w_ = !!(want);                                    \
		cur_ev = (e);                                                               \
		if (g_ != w_)                                                               \
			FAILF("field \"%s\" is %s, want %s\n", key,                         \
			      g_ < 0 ? "(absent)" : g_ ? "true" : "false", w_ ? "true" : "false"); \
	} while (0)

#define EXPECT_TRUE(cond, ...)              \
	do {                                \
		if (!(cond))                \
			FAILF(__VA_ARGS__); \
	} while (0)

/* the common header of an event from a process in container c */
#define EXPECT_CTR_HDR(e, c, pid, ppid, nspid, comm, uid, gid, euid, egid)                  \
	do {                                                                                 \
		EXPECT_INT(e, "pid", pid);                                                   \
		EXPECT_INT(e, "tid", pid);                                                   \
		EXPECT_INT(e, "ppid", ppid);                                                 \
		EXPECT_INT(e, "nspid", nspid);                                               \
		EXPECT_STR(e, "comm", comm);                                                 \
		EXPECT_INT(e, "uid", uid);                                                   \
		EXPECT_INT(e, "gid", gid);                                                   \
		EXPECT_INT(e, "euid", euid);                                                 \
		EXPECT_INT(e, "egid", egid);                                                 \
		EXPECT_INT(e, "cgroup_id", (c)->cgroup_id);                                  \
		EXPECT_INT(e, "pidns", (c)->pidns);                                          \
		EXPECT_TRUE(js_int(e, "pidns") != env.host_pidns, "pidns is the host's\n"); \
		EXPECT_INT(e, "mntns", (c)->mntns);                                          \
		EXPECT_INT(e, "netns", (c)->netns);                                          \
		EXPECT_BOOL(e, "container", 1);                                              \
		EXPECT_TRUE(js_int(e, "ts_ns") > 0, "ts_ns missing\n");                     \
	} while (0)

/* a report value the trigger must have sent */
static const char *report(const struct ctr *c, const char *key, int nth, pid_t *pid)
{
	const char *v = ctr_report(c, key, nth, pid);

	cur_ctr = c;
	if (!v) {
		print_error("trigger sent no \"%s\" report\n", key);
		ctx_dump();
		fail();
	}
	return v;
}

/* the nth event of kind from pid, which must be there */
static cJSON *event(const char *kind, pid_t pid, int nth)
{
	cJSON *e = agent_find(&S->ag, kind, pid, nth);

	if (!e) {
		print_error("no %s event #%d from pid %d; its events:\n", kind, nth, (int)pid);
		agent_dump(&S->ag, pid, stderr);
		ctx_dump();
		fail();
	}
	return e;
}

#define EXPECT_COUNT(kind, pid, want)                                                       \
	do {                                                                                \
		size_t n_ = agent_count(&S->ag, kind, pid);                                 \
		if (n_ != (size_t)(want)) {                                                 \
			print_error("%zu %s events from pid %d, want %d; its events:\n", n_, \
				    kind ? kind : "(any)", (int)(pid), (int)(want));        \
			agent_dump(&S->ag, pid, stderr);                                    \
			cur_ev = NULL;                                                      \
			ctx_dump();                                                         \
			_fail(__FILE__, __LINE__);                                          \
		}                                                                           \
	} while (0)

/* the JSON argv array equals want[0..n) exactly */
static void expect_argv(const cJSON *e, char *const want[], int n)
{
	const cJSON *a = js_obj(e, "argv");
	int i;

	cur_ev = e;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
		FAILF("argv has %d elements, want %d\n", cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1, n);
	for (i = 0; i < n; i++) {
		const cJSON *v = cJSON_GetArrayItem(a, i);

		if (!cJSON_IsString(v) || strcmp(v->valuestring, want[i]))
			FAILF("argv[%d] is \"%s\", want \"%s\"\n", i,
			      cJSON_IsString(v) ? v->valuestring : "(not a string)", want[i]);
	}
}

/* kernel dev_t encoding (what the BPF side reads from s_dev) of a stat st_dev */
static uint64_t kdev(dev_t d)
{
	return ((uint64_t)major(d) << 20) | minor(d);
}

/* ---------------------------------------------------------- credentials */

struct ids {
	int64_t v[8];  /* uid euid suid fsuid gid egid sgid fsgid */
	int64_t ngroups;
	uint64_t inh, prm, eff;
};

static const char *const id_keys[8] = { "uid", "euid", "suid", "fsuid",
					"gid", "egid", "sgid", "fsgid" };

static struct ids parse_ids(const char *s)
{
	struct ids r;
	unsigned long long inh, prm, eff;
	long long v[9];

	memset(&r, 0, sizeof(r));
	if (sscanf(s, "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%llx,%llx,%llx", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &inh, &prm, &eff) != 12)
		fail_msg("malformed id report \"%s\"", s);
	memcpy(r.v, v, sizeof(r.v));
	r.ngroups = v[8];
	r.inh = inh;
	r.prm = prm;
	r.eff = eff;
	return r;
}

static void expect_creds(const cJSON *e, const char *key, const struct ids *w)
{
	const cJSON *o = js_obj(e, key);
	char hex[24];
	int i;

	cur_ev = e;
	if (!cJSON_IsObject(o))
		FAILF("\"%s\" is not an object\n", key);
	for (i = 0; i < 8; i++)
		if (js_int(o, id_keys[i]) != w->v[i])
			FAILF("%s.%s is %" PRId64 ", want %" PRId64 "\n", key, id_keys[i],
			      js_int(o, id_keys[i]), w->v[i]);
	if (js_int(o, "ngroups") != w->ngroups)
		FAILF("%s.ngroups is %" PRId64 ", want %" PRId64 "\n", key, js_int(o, "ngroups"), w->ngroups);
	if (js_int(o, "userns") != env.host_userns)
		FAILF("%s.userns is %" PRId64 ", want %u\n", key, js_int(o, "userns"), env.host_userns);
#define CAP(field, val)                                                                     \
	snprintf(hex, sizeof(hex), "0x%016" PRIx64, (uint64_t)(val));                       \
	if (!js_str(o, field) || strcmp(js_str(o, field), hex))                              \
		FAILF("%s.%s is %s, want %s\n", key, field, js_str(o, field) ? js_str(o, field) : "(absent)", hex);
	CAP("cap_eff", w->eff);
	CAP("cap_prm", w->prm);
	CAP("cap_inh", w->inh);
#undef CAP
}

enum caps_rule { CAPS_SAME, CAPS_CLEAR_PE, CAPS_DROP_FS, CAPS_DROP_NET_RAW };

/* include/linux/capability.h CAP_FS_SET: what an fsuid 0 -> non-0 change drops */
#define CAP_FS_SET_BITS                                                                  \
	((1ull << 0) | (1ull << 1) | (1ull << 2) | (1ull << 3) | (1ull << 4) | (1ull << 9) | \
	 (1ull << 27) | (1ull << 32))
#define CAP_NET_RAW_BIT (1ull << 13)

struct cred_case {
	const char *op;
	int ptr_args;     /* args[0..] come from the trigger's "ptr" report (after any count) */
	int64_t args[3];
	int64_t ret;      /* setfs[ug]id return the old fsuid/fsgid: 0 */
	int64_t ids[8];   /* -1: unchanged */
	int64_t ngroups;  /* -1: unchanged */
	enum caps_rule caps;
};

#define U(a, b, c, d) a, b, c, d
#define SAME4 -1, -1, -1, -1
static const struct cred_case cred_cases[] = {
	{ "setuid", 0, { 1000, 0, 0 }, 0, { U(1000, 1000, 1000, 1000), SAME4 }, -1, CAPS_CLEAR_PE },
	{ "setgid", 0, { 1000, 0, 0 }, 0, { SAME4, U(1000, 1000, 1000, 1000) }, -1, CAPS_SAME },
	{ "setreuid", 0, { 1000, 1001, 0 }, 0, { U(1000, 1001, 1001, 1001), SAME4 }, -1, CAPS_CLEAR_PE },
	{ "setregid", 0, { 1000, 1001, 0 }, 0, { SAME4, U(1000, 1001, 1001, 1001) }, -1, CAPS_SAME },
	{ "setresuid", 0, { 1000, 1001, 1002 }, 0, { U(1000, 1001, 1002, 1001), SAME4 }, -1, CAPS_CLEAR_PE },
	{ "setresgid", 0, { 1000, 1001, 1002 }, 0, { SAME4, U(1000, 1001, 1002, 1001) }, -1, CAPS_SAME },
	{ "setfsuid", 0, { 1005, 0, 0 }, 0, { U(-1, -1, -1, 1005), SAME4 }, -1, CAPS_DROP_FS },
	{ "setfsgid", 0, { 1005, 0, 0 }, 0, { SAME4, U(-1, -1, -1, 1005) }, -1, CAPS_SAME },
	{ "setgroups", 1, { 2, 0, 0 }, 0, { SAME4, SAME4 }, 2, CAPS_SAME },
	{ "capset", 2, { 0, 0, 0 }, 0, { SAME4, SAME4 }, -1, CAPS_DROP_NET_RAW },
};

/* ------------------------------------------------------------ running */

static char *trig_argv[64];

/* run argv in a fresh container, wait for its pid 1's exit event */
static struct ctr *run_in_ctr(char *const argv[], int want_status)
{
	struct ctr *c = new_ctr();
	cJSON *ex;
	int err;

	err = ctr_create(c);
	if (err)
		fail_msg("Failed to create the container cgroup: %s", strerror(-err));
	/* from now on, only this container's events */
	agent_scope(&S->ag, c->cgroup_id);
	cur_ctr = c;
	cur_ev = NULL;
	err = ctr_run(c, argv, env.dir, RUN_TIMEOUT_MS);
	if (err)
		FAILF("container run failed: %s\n", strerror(-err));
	if (!c->init_pid || !c->pidns)
		FAILF("container did not report its init pid and namespaces\n");
	if (!WIFEXITED(c->init_status) || WEXITSTATUS(c->init_status) != want_status)
		FAILF("trigger ended with wait status %#x, want exit %d\n", c->init_status, want_status);
	/* pid 1 exits last: once its exit event is here, everything before it is */
	ex = agent_wait(&S->ag, "exit", c->init_pid, EVENT_TIMEOUT_MS);
	if (!ex) {
		print_error("no exit event from the container's pid 1 (%d) within %d ms; its events:\n",
			    (int)c->init_pid, EVENT_TIMEOUT_MS);
		agent_dump(&S->ag, c->init_pid, stderr);
		ctx_dump();
		fail();
	}
	return c;
}

static char **targv(const char *first, ...)
{
	va_list ap;
	const char *s;
	int n = 0;

	trig_argv[n++] = (char *)first;
	va_start(ap, first);
	while ((s = va_arg(ap, const char *)) && n < 63)
		trig_argv[n++] = (char *)s;
	va_end(ap);
	trig_argv[n] = NULL;
	return trig_argv;
}

/* the entrypoint exec every container starts with: exact, then return it */
static cJSON *expect_entry_exec(const struct ctr *c, char *const argv[])
{
	cJSON *e = event("exec", c->init_pid, 0);
	int n = 0;

	while (argv[n])
		n++;
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", 0, 0, 0, 0);
	EXPECT_STR(e, "filename", argv[0]);
	expect_argv(e, argv, n);
	EXPECT_INT(e, "argc", n);
	return e;
}

/* ========================================================= exec tests */

static void test_exec_known_argv(void **state)
{
	char *const want[] = { "ng-known", "argv", "alpha", "beta gamma", "", "--flag=1", "", NULL };
	struct ctr *c;
	struct stat st;
	cJSON *e;
	const cJSON *old;

	(void)state;
	c = run_in_ctr(targv(env.trigger, "exec", env.trigger, "ng-known", "argv", "alpha",
			     "beta gamma", "", "--flag=1", "", NULL), 0);
	expect_entry_exec(c, trig_argv);
	EXPECT_COUNT("exec", c->init_pid, 2);
	e = event("exec", c->init_pid, 1);
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", 0, 0, 0, 0);
	EXPECT_STR(e, "comm", report(c, "comm", 0, NULL));
	EXPECT_STR(e, "filename", env.trigger);
	expect_argv(e, want, 7);
	EXPECT_INT(e, "argc", 7);
	EXPECT_BOOL(e, "argv_truncated", 0);
	EXPECT_BOOL(e, "argv_unreadable", 0);
	EXPECT_BOOL(e, "filename_truncated", 0);
	EXPECT_BOOL(e, "setuid", 0);
	EXPECT_BOOL(e, "setgid", 0);
	EXPECT_BOOL(e, "secure_exec", 0);
	EXPECT_BOOL(e, "caps_gained", 0);
	EXPECT_BOOL(e, "tty", 0);
	EXPECT_BOOL(e, "stdin_socket", 0);
	EXPECT_BOOL(e, "stdout_socket", 0);
	EXPECT_BOOL(e, "stderr_socket", 0);
	EXPECT_BOOL(e, "exe_unlinked", 0);
	EXPECT_BOOL(e, "exe_memfd", 0);
	assert_int_equal(stat(env.trigger, &st), 0);
	EXPECT_INT(e, "exe_ino", st.st_ino);
	EXPECT_INT(e, "exe_dev", kdev(st.st_dev));
	EXPECT_INT(js_obj(e, "creds"), "uid", 0);
	EXPECT_INT(js_obj(e, "creds"), "euid", 0);
	old = js_obj(e, "old_creds");
	EXPECT_TRUE(cJSON_IsObject(old), "old_creds is not an object\n");
	EXPECT_INT(old, "uid", 0);
	EXPECT_INT(old, "euid", 0);
	/* nothing about the exec changed the credentials */
	EXPECT_TRUE(cJSON_Compare(old, js_obj(e, "creds"), 1), "old_creds != creds\n");
	cur_ev = e;
	EXPECT_TRUE(cJSON_GetArraySize(js_obj(e, "caps_gained_names")) == 0, "caps gained\n");

	e = event("exit", c->init_pid, 0);
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", 0, 0, 0, 0);
	EXPECT_INT(e, "exit_code", 0);
	EXPECT_INT(e, "exit_status", 0);
	EXPECT_INT(e, "exit_signal", 0);

	/*
	 * The shim that started pid 1 stays in the host pid namespace but has
	 * the container's mount namespace and cgroup: in scope, container:true.
	 */
	e = event("fork", c->shim_pid, 0);
	EXPECT_INT(e, "child_pid", c->init_pid);
	EXPECT_INT(e, "child_tid", c->init_pid);
	EXPECT_INT(e, "nspid", c->shim_pid);
	EXPECT_INT(e, "pidns", env.host_pidns);
	EXPECT_INT(e, "mntns", c->mntns);
	EXPECT_INT(e, "netns", c->netns);
	EXPECT_INT(e, "cgroup_id", c->cgroup_id);
	EXPECT_BOOL(e, "container", 1);
}

static int popcount64(uint64_t v)
{
	return __builtin_popcountll(v);
}

/* a non-root user execs a setuid-root copy of the helper */
static void run_setuid_helper(void)
{
	struct ctr *c;
	struct stat st;
	struct ids want_new, want_old, who;
	cJSON *e;
	int i;

	c = run_in_ctr(targv(env.trigger, "suid-exec", "65534", env.suid, NULL), 0);
	expect_entry_exec(c, trig_argv);
	EXPECT_COUNT("exec", c->init_pid, 2);
	e = event("exec", c->init_pid, 1);
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger-suid", 65534, 65534, 0, 65534);
	EXPECT_STR(e, "filename", env.suid);
	expect_argv(e, (char *[]){ env.suid, "whoami" }, 2);
	EXPECT_BOOL(e, "setuid", 1);
	EXPECT_BOOL(e, "setgid", 0);
	EXPECT_BOOL(e, "secure_exec", 1);
	EXPECT_BOOL(e, "caps_gained", 1);
	EXPECT_BOOL(e, "tty", 0);
	EXPECT_BOOL(e, "stdin_socket", 0);
	EXPECT_BOOL(e, "exe_memfd", 0);
	assert_int_equal(stat(env.suid, &st), 0);
	EXPECT_INT(e, "exe_ino", st.st_ino);

	/* a setuid-root exec: euid/suid/fsuid 0, permitted = effective = bounding set */
	who = parse_ids(report(c, "ids", 0, NULL));
	memset(&want_new, 0, sizeof(want_new));
	for (i = 0; i < 8; i++)
		want_new.v[i] = i >= 1 && i <= 3 ? 0 : 65534;
	want_new.ngroups = 0;
	want_new.prm = want_new.eff = env.cap_bnd;
	want_new.inh = 0;
	expect_creds(e, "creds", &want_new);
	for (i = 0; i < 8; i++)
		EXPECT_TRUE(who.v[i] == want_new.v[i], "the helper saw %s=%" PRId64 "\n", id_keys[i], who.v[i]);
	EXPECT_TRUE(who.prm == env.cap_bnd, "the helper's CapPrm is %#" PRIx64 "\n", who.prm);

	want_old = want_new;
	for (i = 0; i < 8; i++)
		want_old.v[i] = 65534;
	want_old.prm = want_old.eff = 0;
	expect_creds(e, "old_creds", &want_old);
	cur_ev = e;
	EXPECT_TRUE(cJSON_GetArraySize(js_obj(e, "caps_gained_names")) == popcount64(env.cap_bnd),
		    "caps_gained_names has %d names, want %d\n",
		    cJSON_GetArraySize(js_obj(e, "caps_gained_names")), popcount64(env.cap_bnd));

	/* the drop to 65534 before it: three credential events, exact */
	EXPECT_COUNT("cred", c->init_pid, 3);
	EXPECT_STR(event("cred", c->init_pid, 0), "op", "setgroups");
	EXPECT_STR(event("cred", c->init_pid, 1), "op", "setresgid");
	EXPECT_STR(event("cred", c->init_pid, 2), "op", "setresuid");
	e = event("cred", c->init_pid, 2);
	EXPECT_INT(js_obj(e, "old"), "uid", 0);
	EXPECT_INT(js_obj(e, "new"), "uid", 65534);
	EXPECT_INT(js_obj(e, "new"), "suid", 65534);
}

static void test_exec_setuid_helper(void **state)
{
	(void)state;
	run_setuid_helper();
}

/* reverse-shell shape: stdin/stdout/stderr are a TCP socket */
static void test_exec_socket_stdio(void **state)
{
	struct ctr *c;
	cJSON *e;

	(void)state;
	c = run_in_ctr(targv(env.trigger, "sock-exec", env.trigger, NULL), 0);
	EXPECT_COUNT("exec", c->init_pid, 2);
	e = event("exec", c->init_pid, 1);
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", 0, 0, 0, 0);
	EXPECT_STR(e, "filename", env.trigger);
	expect_argv(e, (char *[]){ env.trigger, "argv", "from-socket" }, 3);
	EXPECT_BOOL(e, "stdin_socket", 1);
	EXPECT_BOOL(e, "stdout_socket", 1);
	EXPECT_BOOL(e, "stderr_socket", 1);
	EXPECT_BOOL(e, "tty", 0);
	EXPECT_BOOL(e, "setuid", 0);
	/* the entrypoint's stdio was /dev/null and a log file */
	e = event("exec", c->init_pid, 0);
	EXPECT_BOOL(e, "stdin_socket", 0);
	EXPECT_BOOL(e, "stdout_socket", 0);
	EXPECT_BOOL(e, "stderr_socket", 0);
	/* and the connection it made */
	EXPECT_COUNT("connect", c->init_pid, 1);
	e = event("connect", c->init_pid, 0);
	EXPECT_INT(e, "dport", atoi(report(c, "port", 0, NULL)));
	EXPECT_STR(e, "daddr", "127.0.0.1");
}

/* fexecve() of a memfd */
static void test_exec_memfd(void **state)
{
	char fn[32];
	unsigned long long ino;
	unsigned maj, min;
	struct ctr *c;
	cJSON *e;

	(void)state;
	c = run_in_ctr(targv(env.trigger, "memfd-exec", NULL), 0);
	EXPECT_COUNT("exec", c->init_pid, 2);
	e = event("exec", c->init_pid, 1);
	/* execveat(fd, "", AT_EMPTY_PATH) names the file /dev/fd/<fd> */
	snprintf(fn, sizeof(fn), "/dev/fd/%s", report(c, "fd", 0, NULL));
	EXPECT_STR(e, "filename", fn);
	EXPECT_STR(e, "comm", report(c, "comm", 0, NULL));
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, js_str(e, "comm"), 0, 0, 0, 0);
	expect_argv(e, (char *[]){ "ng-memfd", "argv", "in-memory" }, 3);
	EXPECT_BOOL(e, "exe_memfd", 1);
	EXPECT_BOOL(e, "exe_unlinked", 1);
	EXPECT_BOOL(e, "setuid", 0);
	EXPECT_BOOL(e, "stdin_socket", 0);
	if (sscanf(report(c, "exe", 0, NULL), "%llu,%u,%u", &ino, &maj, &min) != 3)
		FAILF("malformed exe report\n");
	EXPECT_INT(e, "exe_ino", ino);
	EXPECT_INT(e, "exe_dev", ((uint64_t)maj << 20) | min);
	/* the entrypoint was a file with a name */
	e = event("exec", c->init_pid, 0);
	EXPECT_BOOL(e, "exe_memfd", 0);
	EXPECT_BOOL(e, "exe_unlinked", 0);
}

/* a controlling terminal is seen (the other tests assert tty:false) */
static void test_exec_ctty(void **state)
{
	struct ctr *c;
	cJSON *e;

	(void)state;
	c = run_in_ctr(targv(env.trigger, "ctty-exec", env.trigger, NULL), 0);
	EXPECT_COUNT("exec", c->init_pid, 2);
	EXPECT_BOOL(event("exec", c->init_pid, 0), "tty", 0);
	e = event("exec", c->init_pid, 1);
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", 0, 0, 0, 0);
	expect_argv(e, (char *[]){ env.trigger, "argv", "with-tty" }, 3);
	EXPECT_BOOL(e, "tty", 1);
	EXPECT_BOOL(e, "stdin_socket", 0);
}

/* argv longer than --argv-max: truncated flag, exactly argv-max bytes kept */
static void test_exec_argv_truncated(void **state)
{
	static char args[8][128];
	char full[2048], *argv[16];
	const cJSON *a;
	size_t flen = 0, klen = 0, i;
	int n = 0, k, len;

	(void)state;
	argv[n++] = env.trigger;
	argv[n++] = "argv";
	/* arguments of 97 bytes; nudge the length so byte ARGV_MAX-1 is not a NUL */
	flen = strlen(env.trigger) + 1 + 5;
	len = 97;
	if ((ARGV_MAX - flen) % (size_t)(len + 1) == 0)
		len = 96;
	for (k = 0; k < 6; k++) {
		memset(args[k], 'a' + k, (size_t)len);
		args[k][len] = '\0';
		argv[n++] = args[k];
	}
	argv[n] = NULL;
	for (k = 0; k < n; k++) {
		memcpy(full + klen, argv[k], strlen(argv[k]) + 1);
		klen += strlen(argv[k]) + 1;
	}
	assert_true(klen > ARGV_MAX);
	assert_int_not_equal(full[ARGV_MAX - 1], '\0');

	{
		struct ctr *c = run_in_ctr(argv, 0);
		cJSON *e = event("exec", c->init_pid, 0);
		char got[ARGV_MAX + 512];
		size_t gl = 0;

		EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", 0, 0, 0, 0);
		EXPECT_BOOL(e, "argv_truncated", 1);
		EXPECT_BOOL(e, "argv_unreadable", 0);
		EXPECT_INT(e, "argc", n);
		a = js_obj(e, "argv");
		EXPECT_TRUE(cJSON_IsArray(a), "argv is not an array\n");
		/* the kept bytes: the elements joined by the NULs that separated them */
		for (i = 0; i < (size_t)cJSON_GetArraySize(a); i++) {
			const char *s = cJSON_GetArrayItem(a, (int)i)->valuestring;
			size_t l = s ? strlen(s) : 0;

			if (i)
				got[gl++] = '\0';
			EXPECT_TRUE(gl + l < sizeof(got), "argv too long\n");
			memcpy(got + gl, s, l);
			gl += l;
		}
		EXPECT_TRUE(gl == ARGV_MAX, "kept %zu argv bytes, want exactly %d\n", gl, ARGV_MAX);
		EXPECT_TRUE(!memcmp(got, full, ARGV_MAX), "kept argv bytes differ from the first %d\n",
			    ARGV_MAX);
	}
}

static int unhex(const char *h, unsigned char *out, size_t max)
{
	size_t i, n = strlen(h);

	if (n % 2 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return (int)(n / 2);
}

static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], l, cp, j;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			l = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			l = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			l = 4, cp = c & 0x07;
		else
			return 0;
		if (i + l > n)
			return 0;
		for (j = 1; j < l; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((l == 3 && cp < 0x800) || (l == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += l;
	}
	return 1;
}

/* quotes, newline, ESC, invalid UTF-8: valid JSON that decodes to the bytes */
static void test_exec_hostile_argv(void **state)
{
	char *hostile[] = {
		env.trigger, "argv",
		"quote\"d 'single'",
		"new\nline\r\n",
		"\x1b[31mred\x1b[0m \x1b]0;title\x07",
		"bad\xff\xfe utf8",
		"overlong \xc0\xaf",
		"surrogate \xed\xa0\x80",
		"truncated \xe2\x82",
		"back\\slash\ttab \x7f del",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7",
		"c1 \xc2\x85 \xc2\x9b",
		"{\"json\":[1,2]}",
		NULL,
	};
	int n = 0, i;
	struct ctr *c;
	cJSON *e;
	const cJSON *a, *hx;

	(void)state;
	while (hostile[n])
		n++;
	c = run_in_ctr(hostile, 0);
	e = event("exec", c->init_pid, 0);
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", 0, 0, 0, 0);
	EXPECT_INT(e, "argc", n);
	EXPECT_BOOL(e, "argv_truncated", 0);
	a = js_obj(e, "argv");
	hx = js_obj(e, "argv_hex");
	EXPECT_TRUE(cJSON_IsArray(a) && cJSON_GetArraySize(a) == n, "argv does not have %d elements\n", n);
	/* arguments that are not UTF-8 need the exact bytes beside the text */
	EXPECT_TRUE(cJSON_IsArray(hx) && cJSON_GetArraySize(hx) == n,
		    "argv_hex missing or not %d elements although argv has invalid UTF-8\n", n);
	for (i = 0; i < n; i++) {
		const unsigned char *want = (const unsigned char *)hostile[i];
		size_t wl = strlen(hostile[i]);
		const cJSON *s = cJSON_GetArrayItem(a, i), *h = cJSON_GetArrayItem(hx, i);
		unsigned char bytes[512];
		int bl;

		EXPECT_TRUE(cJSON_IsString(s) && cJSON_IsString(h), "argv[%d] or argv_hex[%d] not a string\n", i, i);
		bl = unhex(h->valuestring, bytes, sizeof(bytes));
		EXPECT_TRUE(bl == (int)wl && !memcmp(bytes, want, wl),
			    "argv_hex[%d] \"%s\" does not decode to the %zu bytes of the argument\n", i,
			    h->valuestring, wl);
		/* valid UTF-8 must come through the text form unchanged too */
		if (utf8_ok(want, wl))
			EXPECT_TRUE(!strcmp(s->valuestring, hostile[i]), "argv[%d] text differs\n", i);
		else
			EXPECT_TRUE(strstr(s->valuestring, "\xef\xbf\xbd") != NULL,
				    "argv[%d] has invalid UTF-8 but no U+FFFD in the text\n", i);
	}
}

/* =================================================== fork and exit tests */

static void test_fork_exit(void **state)
{
	pid_t a, b;
	int a_ns, b_ns;
	struct ctr *c;
	cJSON *e;

	(void)state;
	c = run_in_ctr(targv(env.trigger, "fork-exit", NULL), 0);
	a_ns = atoi(report(c, "child_a", 0, &a));
	b_ns = atoi(report(c, "child_b", 0, &b));
	EXPECT_TRUE(a > 0 && b > 0 && a != b, "no host pids for the children\n");

	EXPECT_COUNT("fork", c->init_pid, 2);
	e = event("fork", c->init_pid, 0);
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", 0, 0, 0, 0);
	EXPECT_INT(e, "child_pid", a);
	EXPECT_INT(e, "child_tid", a);
	e = event("fork", c->init_pid, 1);
	EXPECT_INT(e, "child_pid", b);
	EXPECT_INT(e, "child_tid", b);

	EXPECT_COUNT(NULL, a, 1);
	e = event("exit", a, 0);
	EXPECT_CTR_HDR(e, c, a, c->init_pid, a_ns, "ng-trigger", 0, 0, 0, 0);
	EXPECT_INT(e, "exit_code", 7 << 8);
	EXPECT_INT(e, "exit_status", 7);
	EXPECT_INT(e, "exit_signal", 0);

	EXPECT_COUNT(NULL, b, 1);
	e = event("exit", b, 0);
	EXPECT_CTR_HDR(e, c, b, c->init_pid, b_ns, "ng-trigger", 0, 0, 0, 0);
	EXPECT_INT(e, "exit_code", SIGTERM);
	EXPECT_INT(e, "exit_status", 0);
	EXPECT_INT(e, "exit_signal", SIGTERM);

	EXPECT_COUNT("exit", c->init_pid, 1);
	e = event("exit", c->init_pid, 0);
	EXPECT_INT(e, "exit_code", 0);
	EXPECT_INT(e, "nspid", 1);
}

/* ====================================================== credential tests */

static void cred_test(const char *op)
{
	const struct cred_case *k = NULL;
	struct ids before, after, want;
	const cJSON *args;
	struct ctr *c;
	cJSON *e;
	size_t i;
	int j;

	for (i = 0; i < sizeof(cred_cases) / sizeof(cred_cases[0]); i++)
		if (!strcmp(cred_cases[i].op, op))
			k = &cred_cases[i];
	assert_non_null(k);

	c = run_in_ctr(targv(env.trigger, "cred", op, NULL), 0);
	before = parse_ids(report(c, "before", 0, NULL));
	after = parse_ids(report(c, "after", 0, NULL));
	/* the trigger starts as root with every id 0 */
	for (j = 0; j < 8; j++)
		EXPECT_TRUE(before.v[j] == 0, "trigger did not start as root\n");

	want = before;
	for (j = 0; j < 8; j++)
		if (k->ids[j] != -1)
			want.v[j] = k->ids[j];
	if (k->ngroups != -1)
		want.ngroups = k->ngroups;
	switch (k->caps) {
	case CAPS_SAME: break;
	case CAPS_CLEAR_PE: want.prm = want.eff = 0; break;
	case CAPS_DROP_FS: want.eff &= ~CAP_FS_SET_BITS; break;
	case CAPS_DROP_NET_RAW:
		want.eff &= ~CAP_NET_RAW_BIT;
		want.prm &= ~CAP_NET_RAW_BIT;
		want.inh = 0;
		break;
	}
	/* the kernel agrees with the table (else the table, not the sensor, is wrong) */
	cur_ctr = c;
	cur_ev = NULL;
	EXPECT_TRUE(!memcmp(&after, &want, sizeof(want)),
		    "the trigger's own view after %s differs from the expected credentials\n", op);

	EXPECT_COUNT("cred", c->init_pid, 1);
	e = event("cred", c->init_pid, 0);
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", want.v[0], want.v[4],
		       want.v[1], want.v[5]);
	EXPECT_STR(e, "op", op);
	EXPECT_INT(e, "ret", k->ret);
	args = js_obj(e, "args");
	EXPECT_TRUE(cJSON_IsArray(args) && cJSON_GetArraySize(args) == 3, "args is not 3 numbers\n");
	{
		int64_t wa[3] = { k->args[0], k->args[1], k->args[2] };
		unsigned long long p0 = 0, p1 = 0;

		if (k->ptr_args == 1) {
			sscanf(report(c, "ptr", 0, NULL), "%llu", &p0);
			wa[1] = (int64_t)p0;
		} else if (k->ptr_args == 2) {
			sscanf(report(c, "ptr", 0, NULL), "%llu,%llu", &p0, &p1);
			wa[0] = (int64_t)p0;
			wa[1] = (int64_t)p1;
		}
		for (j = 0; j < 3; j++)
			EXPECT_TRUE((int64_t)cJSON_GetArrayItem(args, j)->valuedouble == wa[j],
				    "args[%d] is %.0f, want %" PRId64 "\n", j,
				    cJSON_GetArrayItem(args, j)->valuedouble, wa[j]);
	}
	expect_creds(e, "old", &before);
	expect_creds(e, "new", &want);
	cur_ev = e;
	EXPECT_TRUE(cJSON_GetArraySize(js_obj(e, "caps_gained_names")) == 0, "caps gained\n");
}

#define CRED_TEST(op)                              \
	static void test_cred_##op(void **state)   \
	{                                          \
		(void)state;                       \
		cred_test(#op);                    \
	}
CRED_TEST(setuid)
CRED_TEST(setgid)
CRED_TEST(setreuid)
CRED_TEST(setregid)
CRED_TEST(setresuid)
CRED_TEST(setresgid)
CRED_TEST(setfsuid)
CRED_TEST(setfsgid)
CRED_TEST(setgroups)
CRED_TEST(capset)

/* ========================================================== network tests */

static void net_test(const char *cmd, const char *kind, const char *other, const char *family,
		     const char *proto, const char *daddr, const char *saddr, int bound)
{
	struct ctr *c;
	cJSON *e;

	c = run_in_ctr(targv(env.trigger, cmd, NULL), 0);
	EXPECT_COUNT(kind, c->init_pid, 1);
	EXPECT_COUNT(other, c->init_pid, 0);
	e = event(kind, c->init_pid, 0);
	EXPECT_CTR_HDR(e, c, c->init_pid, c->shim_pid, 1, "ng-trigger", 0, 0, 0, 0);
	EXPECT_STR(e, "family", family);
	EXPECT_STR(e, "protocol", proto);
	EXPECT_STR(e, "daddr", daddr);
	EXPECT_INT(e, "dport", atoi(report(c, "port", 0, NULL)));
	EXPECT_STR(e, "saddr", saddr);
	if (bound) {
		int sport = atoi(report(c, "sport", 0, NULL));

		EXPECT_TRUE(sport > 0, "client was not bound\n");
		EXPECT_INT(e, "sport", sport);
	} else {
		/* unbound: the port is picked after the hook runs */
		EXPECT_INT(e, "sport", 0);
	}
}

static void test_tcp4_connect(void **state)
{
	(void)state;
	net_test("tcp4", "connect", "sendmsg", "ipv4", "tcp", "127.0.0.1", "127.0.0.1", 1);
}

static void test_tcp6_connect(void **state)
{
	(void)state;
	net_test("tcp6", "connect", "sendmsg", "ipv6", "tcp", "::1", "::", 0);
}

static void test_udp4_sendto(void **state)
{
	(void)state;
	net_test("udp4", "sendmsg", "connect", "ipv4", "udp", "127.0.0.1", "0.0.0.0", 0);
}

static void test_udp6_sendto(void **state)
{
	(void)state;
	net_test("udp6", "sendmsg", "connect", "ipv6", "udp", "::1", "::", 0);
}

/* ==================================================== host processes */

/* container-only mode: a host process doing everything emits nothing */
static void test_host_process_filtered(void **state)
{
	struct ctr *h = new_ctr(), *c;
	pid_t child;
	size_t i;
	int err;

	size_t from;

	(void)state;
	cur_ctr = h;
	agent_scope(&S->ag, 0);
	from = S->ag.from;
	err = ctr_run_host(h, targv(env.trigger, "host-activity", NULL), env.dir, RUN_TIMEOUT_MS);
	EXPECT_TRUE(!err, "host run failed: %s\n", strerror(-err));
	EXPECT_TRUE(WIFEXITED(h->init_status) && WEXITSTATUS(h->init_status) == 0,
		    "host trigger status %#x\n", h->init_status);
	child = atoi(report(h, "child", 0, NULL));
	/* a container after it: once its pid 1 exit is in, the host's would be too */
	c = run_in_ctr(targv(env.trigger, "exit", "0", NULL), 0);
	EXPECT_COUNT("exec", c->init_pid, 1);
	/* everything since the host process started, any cgroup */
	S->ag.from = from;
	S->ag.cgroup = 0;
	EXPECT_COUNT(NULL, h->init_pid, 0);
	EXPECT_COUNT(NULL, child, 0);
	for (i = 0; i < S->ag.nev; i++) {
		const cJSON *e = S->ag.ev[i];

		if (!strcmp(js_str(e, "kind") ? js_str(e, "kind") : "", "stats"))
			continue;
		EXPECT_BOOL(e, "container", 1);
	}
}

/* --all: the same host process is reported, exactly */
static void test_host_process_traced(void **state)
{
	struct ctr *h = new_ctr();
	pid_t child;
	cJSON *e;
	int err;

	(void)state;
	cur_ctr = h;
	/* the host process and its child live in this process's cgroup */
	agent_scope(&S->ag, env.host_cgroup_id);
	err = ctr_run_host(h, targv(env.trigger, "host-activity", NULL), env.dir, RUN_TIMEOUT_MS);
	EXPECT_TRUE(!err, "host run failed: %s\n", strerror(-err));
	EXPECT_TRUE(WIFEXITED(h->init_status) && WEXITSTATUS(h->init_status) == 0,
		    "host trigger status %#x\n", h->init_status);
	child = atoi(report(h, "child", 0, NULL));
	EXPECT_TRUE(agent_wait(&S->ag, "exit", h->init_pid, EVENT_TIMEOUT_MS) != NULL,
		    "no exit event from the host process\n");

#define EXPECT_HOST_HDR(e, pid, ppid)                                  \
	do {                                                           \
		EXPECT_INT(e, "pid", pid);                             \
		EXPECT_INT(e, "ppid", ppid);                           \
		EXPECT_INT(e, "nspid", pid);                           \
		EXPECT_STR(e, "comm", "ng-trigger");                   \
		EXPECT_INT(e, "cgroup_id", env.host_cgroup_id);        \
		EXPECT_INT(e, "pidns", env.host_pidns);                \
		EXPECT_INT(e, "mntns", env.host_mntns);                \
		EXPECT_INT(e, "netns", env.host_netns);                \
		EXPECT_BOOL(e, "container", 0);                        \
	} while (0)

	EXPECT_COUNT("exec", h->init_pid, 1);
	e = event("exec", h->init_pid, 0);
	EXPECT_HOST_HDR(e, h->init_pid, getpid());
	EXPECT_STR(e, "filename", env.trigger);
	expect_argv(e, trig_argv, 2);

	EXPECT_COUNT("fork", h->init_pid, 1);
	EXPECT_INT(event("fork", h->init_pid, 0), "child_pid", child);
	e = event("exit", child, 0);
	EXPECT_HOST_HDR(e, child, h->init_pid);
	EXPECT_INT(e, "exit_code", 0);

	EXPECT_COUNT("cred", h->init_pid, 1);
	e = event("cred", h->init_pid, 0);
	EXPECT_HOST_HDR(e, h->init_pid, getpid());
	EXPECT_STR(e, "op", "setresgid");
	EXPECT_INT(e, "ret", 0);
	EXPECT_TRUE(cJSON_GetArrayItem(js_obj(e, "args"), 0)->valuedouble == 4294967295.0 &&
			    cJSON_GetArrayItem(js_obj(e, "args"), 1)->valuedouble == 0 &&
			    cJSON_GetArrayItem(js_obj(e, "args"), 2)->valuedouble == 1,
		    "args are not [4294967295,0,1]\n");
	EXPECT_INT(js_obj(e, "old"), "sgid", 0);
	EXPECT_INT(js_obj(e, "new"), "sgid", 1);

	EXPECT_COUNT("connect", h->init_pid, 1);
	e = event("connect", h->init_pid, 0);
	EXPECT_HOST_HDR(e, h->init_pid, getpid());
	EXPECT_STR(e, "daddr", "127.0.0.1");
	EXPECT_INT(e, "dport", atoi(report(h, "port", 0, NULL)));
	EXPECT_INT(e, "sport", atoi(report(h, "sport", 0, NULL)));

	EXPECT_COUNT("sendmsg", h->init_pid, 1);
	e = event("sendmsg", h->init_pid, 0);
	EXPECT_HOST_HDR(e, h->init_pid, getpid());
	EXPECT_STR(e, "protocol", "udp");
	EXPECT_INT(e, "dport", atoi(report(h, "port", 1, NULL)));

	e = event("exit", h->init_pid, 0);
	EXPECT_HOST_HDR(e, h->init_pid, getpid());
	EXPECT_INT(e, "exit_code", 0);
}

/* ========================================== stop: stats and detach */

static cJSON *bpftool_json(const char *what)
{
	char cmd[512], *buf = NULL;
	size_t len = 0, cap = 0;
	cJSON *j;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s -j %s show 2>/dev/null", env.bpftool, what);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	for (;;) {
		size_t n;

		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!nb)
				break;
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, p);
		if (!n)
			break;
		len += n;
	}
	pclose(p);
	if (!buf)
		return NULL;
	buf[len] = '\0';
	j = cJSON_Parse(buf);
	free(buf);
	return j;
}

/* how many of ids (programs or links) bpftool still lists; names into msg */
static int still_listed(const char *what, const uint32_t *ids, int n, char *msg, size_t ml)
{
	cJSON *j = bpftool_json(what), *it;
	int left = 0, i;

	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		snprintf(msg, ml, " (`%s -j %s show` gave no JSON array)", env.bpftool, what);
		return -1;
	}
	cJSON_ArrayForEach(it, j) {
		uint32_t id = (uint32_t)js_int(it, "id");
		const char *nm = js_str(it, "name") ? js_str(it, "name") : js_str(it, "type");

		for (i = 0; i < n; i++) {
			size_t l = strlen(msg);

			if (id != ids[i])
				continue;
			snprintf(msg + l, ml - l, " %s %u (%s)", what, id, nm ? nm : "?");
			left++;
		}
	}
	cJSON_Delete(j);
	return left;
}

static void test_stop_stats_detach(void **state)
{
	struct agent *a = &S->ag;
	const cJSON *pk;
	long waited = 0;
	char msg[4096];
	int err, i, j, left;

	(void)state;
	cur_ctr = NULL;
	cur_ev = NULL;
	a->from = 0;
	a->cgroup = 0;
	/* while running: it held exactly the programs of this mode, all ng_* */
	EXPECT_TRUE(a->nprogs == S->nprogs, "agent held %d BPF programs, want %d\n", a->nprogs, S->nprogs);
	EXPECT_TRUE(a->nlinks == S->nprogs, "agent held %d BPF links, want %d\n", a->nlinks, S->nprogs);
	for (i = 0; i < a->nprogs; i++)
		EXPECT_TRUE(S->names[i] && !strncmp(S->names[i], "ng_", 3),
			    "program %u is named \"%s\"\n", a->prog_ids[i], S->names[i] ? S->names[i] : "?");
	for (j = 0; S->prog_names[j]; j++) {
		int found = 0;

		for (i = 0; i < a->nprogs; i++)
			found |= S->names[i] && !strcmp(S->names[i], S->prog_names[j]);
		EXPECT_TRUE(found, "program %s was not loaded\n", S->prog_names[j]);
	}

	err = agent_stop(a, AGENT_STOP_MS);
	EXPECT_TRUE(!err, "agent did not stop on SIGINT within %d ms\n", AGENT_STOP_MS);
	EXPECT_TRUE(WIFEXITED(a->exit_status) && WEXITSTATUS(a->exit_status) == 0,
		    "agent exit status %#x, want exit 0; stderr:\n%s\n", a->exit_status, agent_stderr(a));
	EXPECT_TRUE(a->bad_lines == 0, "%zu output lines are not JSON objects (valid UTF-8, no "
		    "control bytes), first: %s\n", a->bad_lines, a->first_bad);
	EXPECT_TRUE(a->stats != NULL, "no final stats line\n");
	EXPECT_TRUE(a->ev[a->nev - 1] == a->stats, "stats is not the last line\n");
	EXPECT_INT(a->stats, "dropped", 0);
	EXPECT_INT(a->stats, "decode_errors", 0);
	pk = js_obj(a->stats, "per_kind");
	EXPECT_TRUE(cJSON_IsObject(pk), "stats has no per_kind\n");
	{
		static const char *const kinds[] = { "exec", "fork", "exit", "cred", "connect", "sendmsg" };
		const cJSON *k;
		int64_t sum = 0;

		for (i = 0; i < 6; i++)
			EXPECT_TRUE(cJSON_IsObject(js_obj(pk, kinds[i])), "per_kind has no %s\n", kinds[i]);
		/* every kind the agent counts, including ones added after this test */
		cJSON_ArrayForEach(k, pk) {
			size_t lines = agent_count(a, k->string, 0);

			EXPECT_INT(k, "dropped", 0);
			/* every line was emitted by the kernel side (more may come after the drain) */
			EXPECT_TRUE(js_int(k, "emitted") >= (int64_t)lines,
				    "%s: %" PRId64 " emitted, %zu lines\n", k->string, js_int(k, "emitted"), lines);
			sum += js_int(k, "emitted");
		}
		EXPECT_INT(a->stats, "emitted", sum);
	}

	/* nothing it attached is left: programs and links go (link release is deferred) */
	for (;;) {
		msg[0] = '\0';
		left = still_listed("prog", a->prog_ids, a->nprogs, msg, sizeof(msg));
		if (left == 0)
			left = still_listed("link", a->link_ids, a->nlinks, msg, sizeof(msg));
		if (left <= 0 || waited >= DETACH_TIMEOUT_MS)
			break;
		usleep(50 * 1000);
		waited += 50;
	}
	EXPECT_TRUE(left == 0, "%d BPF objects of the stopped agent remain after %ld ms:%s\n", left,
		    waited, msg);
	print_message("[     INFO ] %s: all %d programs and %d links gone %ld ms after exit\n", S->name,
		      a->nprogs, a->nlinks, waited);
}

/* ================================================================= cli */

static void test_nonroot_refused(void **state)
{
	char out[PATH_MAX], err[PATH_MAX], buf[4096];
	int st = -1, fd, i;
	ssize_t n;
	pid_t pid;

	(void)state;
	snprintf(out, sizeof(out), "%s/nonroot.out", env.dir);
	snprintf(err, sizeof(err), "%s/nonroot.err", env.dir);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(120);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(121);
		execl(env.nodeguard_copy, "nodeguard", "trace", "--json", (char *)NULL);
		_exit(122);
	}
	for (i = 0; i < 1000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		usleep(10 * 1000);
	}
	if (i == 1000) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("non-root `nodeguard trace` still running after 10 s");
	}
	fd = open(err, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fail_msg("non-root trace: wait status %#x, want exit 1; stderr: %s", st, buf);
	if (!strstr(buf, "nodeguard: error: ") || !strstr(buf, "needs root"))
		fail_msg("non-root trace: no \"needs root\" error on stderr: \"%s\"", buf);
	{
		struct stat so;

		assert_int_equal(stat(out, &so), 0);
		if (so.st_size != 0)
			fail_msg("non-root trace wrote %lld bytes to stdout", (long long)so.st_size);
	}
}

/* ============================================================ groups */

static int names_snapshot(struct suite *s)
{
	cJSON *j = bpftool_json("prog"), *it;
	int i;

	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return -1;
	}
	cJSON_ArrayForEach(it, j) {
		for (i = 0; i < s->ag.nprogs; i++)
			if ((uint32_t)js_int(it, "id") == s->ag.prog_ids[i] && js_str(it, "name"))
				s->names[i] = strdup(js_str(it, "name"));
	}
	cJSON_Delete(j);
	return 0;
}

static int group_setup(struct suite *s)
{
	int err;

	S = s;
	err = agent_start(&s->ag, env.nodeguard, s->args, env.dir, AGENT_START_MS);
	if (err) {
		fprintf(stderr, "[  ERROR   ] %s: nodeguard trace did not start (%s); stderr:\n%s\n",
			s->name, strerror(-err), agent_stderr(&s->ag));
		return -1;
	}
	s->started = 1;
	if (agent_snapshot_bpf(&s->ag) || names_snapshot(s)) {
		fprintf(stderr, "[  ERROR   ] %s: cannot list the agent's BPF objects\n", s->name);
		return -1;
	}
	return 0;
}

static int group_teardown(struct suite *s)
{
	int i;

	agent_free(&s->ag);
	for (i = 0; i < AGENT_MAX_IDS; i++) {
		free(s->names[i]);
		s->names[i] = NULL;
	}
	S = NULL;
	return 0;
}

static const char *const tp_args[] = { "--argv-max", "300", NULL };
static const char *const fb_args[] = { "--creds-fallback", NULL };
static const char *const all_args[] = { "--all", NULL };

static const char *const tp_progs[] = {
	"ng_exec", "ng_fork", "ng_exit", "ng_connect4", "ng_connect6", "ng_sendmsg4",
	"ng_sendmsg6", "ng_enter_setuid", "ng_exit_setuid", "ng_enter_setgid", "ng_exit_setgid",
	"ng_enter_capset", "ng_exit_capset", "ng_enter_execve", NULL,
};
static const char *const fb_progs[] = {
	"ng_exec", "ng_fork", "ng_exit", "ng_connect4", "ng_connect6", "ng_sendmsg4",
	"ng_sendmsg6", "ng_raw_enter", "ng_raw_exit", NULL,
};

/* process 3 + credentials (10 enter/exit pairs + execve, execveat) + net 4 */
static struct suite tp_suite = {
	.name = "tracepoints", .args = tp_args, .prog_names = tp_progs, .nprogs = 3 + 22 + 4,
};
static struct suite fb_suite = {
	.name = "fallback", .args = fb_args, .prog_names = fb_progs, .nprogs = 3 + 2 + 4,
};
static struct suite all_suite = {
	.name = "all", .args = all_args, .prog_names = tp_progs, .nprogs = 3 + 22 + 4,
};

static int tp_setup(void **state) { (void)state; return group_setup(&tp_suite); }
static int tp_teardown(void **state) { (void)state; return group_teardown(&tp_suite); }
static int fb_setup(void **state) { (void)state; return group_setup(&fb_suite); }
static int fb_teardown(void **state) { (void)state; return group_teardown(&fb_suite); }
static int all_setup(void **state) { (void)state; return group_setup(&all_suite); }
static int all_teardown(void **state) { (void)state; return group_teardown(&all_suite); }

#define T(f) cmocka_unit_test_teardown(f, test_teardown)

/* =============================================================== main */

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;
	int err = 0;

	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	if (out < 0) {
		err = -errno;
		close(in);
		return err;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			err = -EIO;
			break;
		}
	if (n < 0)
		err = -errno;
	/* chmod after chown: chown clears the setuid bit */
	if (!err && (fchown(out, 0, 0) || fchmod(out, mode)))
		err = -errno;
	close(out);
	close(in);
	return err;
}

static uint32_t ns_ino(const char *name)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/self/ns/%s", name);
	return stat(p, &st) ? 0 : (uint32_t)st.st_ino;
}

static uint64_t status_hex(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[512];
	uint64_t v = 0;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtoull(line + strlen(key), NULL, 16);
	if (f)
		fclose(f);
	return v;
}

static void rm_scratch(void)
{
	DIR *d;
	struct dirent *e;

	if (!env.dir[0] || getenv("NG_IT_KEEP"))
		return;
	d = opendir(env.dir);
	if (d) {
		while ((e = readdir(d))) {
			char p[PATH_MAX];

			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", env.dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(env.dir);
}

static int setup_env(void)
{
	const char *ng = getenv("NODEGUARD") ? getenv("NODEGUARD") : "./nodeguard";
	const char *tr = getenv("NG_TRIGGER") ? getenv("NG_TRIGGER") : "build/tests/ng-trigger";
	char root[PATH_MAX];
	int err;

	if (!realpath(ng, env.nodeguard) || access(env.nodeguard, X_OK)) {
		fprintf(stderr, "integration: %s not found or not executable: build it with `make nodeguard`\n", ng);
		return -1;
	}
	if (access(tr, X_OK)) {
		fprintf(stderr, "integration: trigger %s not found: build it with `make integration`\n", tr);
		return -1;
	}
	if (ctr_cgroup2_root(root, sizeof(root))) {
		fprintf(stderr, "integration: no cgroup2 mount in /proc/self/mountinfo\n");
		return -1;
	}
	env.bpftool = getenv("BPFTOOL") && *getenv("BPFTOOL") ? getenv("BPFTOOL") : "bpftool";
	snprintf(env.dir, sizeof(env.dir), "/tmp/ng-it-XXXXXX");
	if (!mkdtemp(env.dir)) {
		env.dir[0] = '\0';
		perror("integration: mkdtemp");
		return -1;
	}
	atexit(rm_scratch);
	/* the setuid helper is run by uid 65534: the directory must be searchable */
	chmod(env.dir, 0755);
	snprintf(env.trigger, sizeof(env.trigger), "%s/ng-trigger", env.dir);
	snprintf(env.suid, sizeof(env.suid), "%s/ng-trigger-suid", env.dir);
	snprintf(env.nodeguard_copy, sizeof(env.nodeguard_copy), "%s/nodeguard", env.dir);
	if ((err = copy_file(tr, env.trigger, 0755)) || (err = copy_file(tr, env.suid, 04755)) ||
	    (err = copy_file(env.nodeguard, env.nodeguard_copy, 0755))) {
		fprintf(stderr, "integration: Failed to copy helpers to %s: %s\n", env.dir, strerror(-err));
		return -1;
	}
	env.host_pidns = ns_ino("pid");
	env.host_mntns = ns_ino("mnt");
	env.host_netns = ns_ino("net");
	env.host_userns = ns_ino("user");
	env.cap_bnd = status_hex("CapBnd:");
	env.host_cgroup_id = ctr_cgroup_id_of(getpid());
	atexit(ctr_cleanup_all);
	return 0;
}

#define WATCHDOG_S 240

static void on_watchdog(int sig)
{
	static const char m[] = "\nintegration: FAILED: watchdog: over 240 s, or terminated\n";
	struct suite *all[] = { &tp_suite, &fb_suite, &all_suite };
	size_t i;

	(void)sig;
	(void)!write(2, m, sizeof(m) - 1);
	for (i = 0; i < 3; i++)
		if (all[i]->ag.pid > 0)
			kill(all[i]->ag.pid, SIGKILL);
	ctr_cleanup_all();
	rm_scratch();
	_exit(1);
}

int main(void)
{
	const struct CMUnitTest tp_tests[] = {
		T(test_exec_known_argv),
		T(test_exec_setuid_helper),
		T(test_exec_socket_stdio),
		T(test_exec_memfd),
		T(test_exec_ctty),
		T(test_exec_argv_truncated),
		T(test_exec_hostile_argv),
		T(test_fork_exit),
		T(test_cred_setuid),
		T(test_cred_setgid),
		T(test_cred_setreuid),
		T(test_cred_setregid),
		T(test_cred_setresuid),
		T(test_cred_setresgid),
		T(test_cred_setfsuid),
		T(test_cred_setfsgid),
		T(test_cred_setgroups),
		T(test_cred_capset),
		T(test_tcp4_connect),
		T(test_tcp6_connect),
		T(test_udp4_sendto),
		T(test_udp6_sendto),
		T(test_host_process_filtered),
		T(test_stop_stats_detach),
	};
	const struct CMUnitTest fb_tests[] = {
		T(test_cred_setuid),
		T(test_cred_setgid),
		T(test_cred_setreuid),
		T(test_cred_setregid),
		T(test_cred_setresuid),
		T(test_cred_setresgid),
		T(test_cred_setfsuid),
		T(test_cred_setfsgid),
		T(test_cred_setgroups),
		T(test_cred_capset),
		T(test_exec_setuid_helper),
		T(test_stop_stats_detach),
	};
	const struct CMUnitTest all_tests[] = {
		T(test_host_process_traced),
		T(test_stop_stats_detach),
	};
	const struct CMUnitTest cli_tests[] = {
		cmocka_unit_test(test_nonroot_refused),
	};
	int fails = 0;

	if (geteuid() != 0 || access("/sys/kernel/btf/vmlinux", R_OK)) {
		const char *allow = getenv("NODEGUARD_ALLOW_SKIP");

		fprintf(stderr,
			"\n"
			"**********************************************************************\n"
			"  SKIPPED: integration tests need root and kernel BTF\n"
			"  (euid %u, /sys/kernel/btf/vmlinux %s). Nothing was tested.\n"
			"**********************************************************************\n\n",
			(unsigned)geteuid(), access("/sys/kernel/btf/vmlinux", R_OK) ? "missing" : "present");
		return allow && !strcmp(allow, "1") ? 0 : 1;
	}
	if (setup_env())
		return 1;
	signal(SIGPIPE, SIG_IGN);
	/* a hang anywhere must fail the run, not block CI */
	signal(SIGALRM, on_watchdog);
	signal(SIGTERM, on_watchdog);
	alarm(WATCHDOG_S);

	/* a group whose setup fails returns non-zero too */
	fails += cmocka_run_group_tests_name("tracepoints", tp_tests, tp_setup, tp_teardown) != 0;
	fails += cmocka_run_group_tests_name("fallback (--creds-fallback)", fb_tests, fb_setup,
					     fb_teardown) != 0;
	fails += cmocka_run_group_tests_name("all (--all)", all_tests, all_setup, all_teardown) != 0;
	fails += cmocka_run_group_tests_name("cli", cli_tests, NULL, NULL) != 0;
	fprintf(stderr, "integration: %s\n", fails ? "FAILED" : "all groups passed");
	return fails ? 1 : 0;
}
