// SPDX-License-Identifier: Apache-2.0
/*
 * Detection-engine scenario tests: the real `nodeguard` agent (embedded
 * default policy) on the real kernel, root only.
 *
 * Every scenario runs in a fresh kubelet-shaped container of its own
 * (tests/integration/ctr.c) with tests/integration/scen_helper.c as pid 1,
 * and asserts the exact incident the default policy promises: rules in
 * order, each detection's severity and category, the incident's severity,
 * its attribution (container id, pod uid, cgroup id, runtime, node, key),
 * both on the agent's stdout and in the journal, which the test replays
 * itself (scen_journal.c). The benign workload asserts nothing at all.
 *
 * Completeness: a scenario's events are all consumed before the assertions,
 * because after the container has exited the test runs a "barrier": a marker
 * container execs a program from /tmp with a fresh nonce, and waits for that
 * detection. The agent reads one ring buffer in order, so every earlier
 * event has been through the rules by then.
 *
 *   scenarios  one `nodeguard run` for: setuid escalation (default and
 *              privileged bounding set), interactive shell, exec from /tmp,
 *              reverse shell, cloud metadata connect, benign workload, an
 *              unexplained credential change (ng_tasks entry rewritten),
 *              severity escalation across two categories, and a timeline
 *              that overflows (dropped detections are not "journaled")
 *   lifecycle  `nodeguard` with no arguments; kill -9 mid-stream; restart
 *              restore; SIGHUP reload (valid, then invalid); policy check
 *
 * Environment: NODEGUARD (default ./nodeguard), NG_SCEN_HELPER (default
 * build/tests/ng-scen-helper), NG_SCEN_DIR (parent of the scratch directory,
 * default /var/lib: not under /tmp, where every exec is a detection, and not
 * nosuid), NG_IT_KEEP=1 keeps the scratch directories,
 * NODEGUARD_ALLOW_SKIP=1 lets a run without root/BTF exit 0 after saying so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent.h"
#include "ctr.h"
#include "incident.h" /* agent/: INC_MAX_ENTRIES */
#include "nodeguard/credcheck.h"
#include "scen_agent.h"
#include "scen_journal.h"

#define RUN_TIMEOUT_MS 20000
#define LINE_TIMEOUT_MS 10000
#define AGENT_START_MS 30000
#define AGENT_STOP_MS 15000
#define WATCHDOG_S 240

#define NODE "test-node"
#define REVERSE_PORT "8080"  /* not a mining-pool port of the policy */
#define BENIGN_PORT "9090"
#define STORM_EXECS 150      /* < INC_MAX_ENTRIES: every detection gets a record */
#define TIMELINE_EXECS (INC_MAX_ENTRIES + 44)

/* ------------------------------------------------------------- fixtures */

static struct {
	char dir[PATH_MAX];      /* scratch, 0755, not under /tmp */
	char tmpdir[64];         /* /tmp/ng-scen-XXXXXX: what must run from /tmp */
	char helper[PATH_MAX];   /* dir/ng-scen-helper */
	char suid[PATH_MAX];     /* dir/ng-scen-suid, root 04755 */
	char probe[PATH_MAX];    /* dir/ng-scen-hup-probe (a copy of true) */
	char payload[PATH_MAX];  /* tmpdir/payload (a copy of true) */
	char marker[PATH_MAX];   /* tmpdir/ng-scen-mark (a copy of true) */
	char nodeguard[PATH_MAX];
	char ip[PATH_MAX];       /* iproute2 */
	char policy[PATH_MAX];   /* policy/default.yaml */
	int default_rules;       /* rules in it */
	char node_default[256];  /* the node name `nodeguard` picks with no arguments */
} env;

/* one running agent, its journal and its barrier container */
struct run {
	struct agent ag;
	int started;
	char jdir[PATH_MAX];
	char journal[PATH_MAX + 32];
	const char *node;
	struct ctr marker;
	int marker_made;
	int nonce;
};

#define MAX_RUNS 8
static struct run *runs[MAX_RUNS];
static struct run *S;        /* the scenario group's agent */
static struct run *cur_run;  /* for failure messages */
static const struct ctr *cur_ctr;

static struct run *run_new(const char *sub)
{
	struct run *r = calloc(1, sizeof(*r));
	int i;

	assert_non_null(r);
	r->ag.out_fd = -1;
	snprintf(r->jdir, sizeof(r->jdir), "%s/%s", env.dir, sub);
	assert_int_equal(mkdir(r->jdir, 0700), 0);
	snprintf(r->journal, sizeof(r->journal), "%s/journal.jsonl", r->jdir);
	r->node = NODE;
	for (i = 0; i < MAX_RUNS; i++)
		if (!runs[i]) {
			runs[i] = r;
			return r;
		}
	fail_msg("more than %d agent runs", MAX_RUNS);
	return NULL;
}

static void run_free(struct run *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; i < MAX_RUNS; i++)
		if (runs[i] == r)
			runs[i] = NULL;
	if (cur_run == r)
		cur_run = NULL;
	agent_free(&r->ag);
	if (r->marker_made)
		ctr_destroy(&r->marker);
	free(r);
}

/* containers of the running test; the per-test teardown removes them */
#define TEST_CTRS 8
static struct ctr *ctrs[TEST_CTRS];

static void bg_abort(void);

static int test_teardown(void **state)
{
	int i;

	(void)state;
	/* a test that failed while a container ran in the background */
	bg_abort();
	/* a lifecycle test that failed half-way leaves its agent running */
	for (i = 0; i < MAX_RUNS; i++)
		if (runs[i] && runs[i] != S)
			run_free(runs[i]);
	cur_ctr = NULL;
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
	int i, err;

	for (i = 0; i < TEST_CTRS; i++)
		if (!ctrs[i]) {
			ctrs[i] = calloc(1, sizeof(struct ctr));
			assert_non_null(ctrs[i]);
			err = ctr_create(ctrs[i]);
			if (err)
				fail_msg("Failed to create a container cgroup: %s", strerror(-err));
			return ctrs[i];
		}
	fail_msg("more than %d containers in one test", TEST_CTRS);
	return NULL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------- failure context */

static void dump_lines(const struct run *r, const struct ctr *c)
{
	size_t i;

	for (i = 0; i < r->ag.nev; i++) {
		const cJSON *e = r->ag.ev[i];
		const char *k = js_str(e, "kind"), *id = js_str(e, "container_id");
		char *s;

		if (!k || strcmp(k, "detection"))
			continue;
		if (c && (!id || strcmp(id, c->id)) &&
		    js_int(js_obj(e, "event"), "cgroup_id") != (int64_t)c->cgroup_id)
			continue;
		s = cJSON_PrintUnformatted(e);
		fprintf(stderr, "  line: %s\n", s ? s : "?");
		free(s);
	}
}

static void ctx_dump(void)
{
	if (cur_ctr)
		ctr_dump(cur_ctr, stderr);
	if (cur_run) {
		char *s = sa_stderr(&cur_run->ag);
		size_t n = s ? strlen(s) : 0;

		fprintf(stderr, "agent detections%s:\n", cur_ctr ? " for this container" : "");
		dump_lines(cur_run, cur_ctr);
		fprintf(stderr, "agent stderr (last 3000 bytes):\n%s\n", s ? s + (n > 3000 ? n - 3000 : 0) : "");
		free(s);
	}
}

#define FAILF(...)                                 \
	do {                                       \
		print_error(__VA_ARGS__);          \
		ctx_dump();                        \
		_fail(__FILE__, __LINE__);         \
	} while (0)

#define EXPECT(cond, ...)                   \
	do {                                \
		if (!(cond))                \
			FAILF(__VA_ARGS__); \
	} while (0)

#define EXPECT_STR(o, key, want)                                                                  \
	do {                                                                                      \
		const char *g_ = js_str(o, key), *w_ = (want);                                    \
		if (!g_ || strcmp(g_, w_))                                                        \
			FAILF("\"%s\" is \"%s\", want \"%s\"\n", key, g_ ? g_ : "(absent)", w_);  \
	} while (0)

#define EXPECT_INT(o, key, want)                                                               \
	do {                                                                                   \
		int64_t g_ = js_int(o, key), w_ = (int64_t)(want);                             \
		if (g_ != w_)                                                                  \
			FAILF("\"%s\" is %" PRId64 "%s, want %" PRId64 "\n", key, g_,          \
			      g_ == INT64_MIN ? " (absent)" : "", w_);                         \
	} while (0)

#define EXPECT_BOOL(o, key, want)                                                              \
	do {                                                                                   \
		int g_ = js_bool(o, key), w_ = !!(want);                                       \
		if (g_ != w_)                                                                  \
			FAILF("\"%s\" is %s, want %s\n", key,                                  \
			      g_ < 0 ? "(absent)" : g_ ? "true" : "false", w_ ? "true" : "false"); \
	} while (0)

static int streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* ------------------------------------------------- agent and containers */

static void run_start(struct run *r, const char *const extra[])
{
	const char *args[32];
	int n = 0, i, err;

	args[n++] = "run";
	args[n++] = "--journal-dir";
	args[n++] = r->jdir;
	args[n++] = "--node-name";
	args[n++] = r->node;
	for (i = 0; extra && extra[i] && n < 30; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	cur_run = r;
	err = sa_start(&r->ag, env.nodeguard, args, env.dir, NULL, AGENT_START_MS);
	if (err)
		FAILF("nodeguard run did not start (%s, status %#x)\n", strerror(-err), r->ag.exit_status);
	r->started = 1;
}

static void run_stop(struct run *r)
{
	int err;

	cur_run = r;
	err = agent_stop(&r->ag, AGENT_STOP_MS);
	r->started = 0;
	EXPECT(err == 0, "the agent did not stop on SIGINT within %d ms\n", AGENT_STOP_MS);
	EXPECT(WIFEXITED(r->ag.exit_status) && WEXITSTATUS(r->ag.exit_status) == 0,
	       "the agent exited with status %#x after SIGINT, want exit 0\n", r->ag.exit_status);
}

static void expect_alive(struct run *r)
{
	int st;

	if (r->ag.pid > 0 && waitpid(r->ag.pid, &st, WNOHANG) == r->ag.pid) {
		r->ag.pid = 0;
		r->ag.exit_status = st;
		FAILF("the agent died (status %#x)\n", st);
	}
}

/* run argv as pid 1 of c; it must exit 0 without an error report */
static void run_ctr(struct ctr *c, char *const argv[])
{
	int err = ctr_run(c, argv, env.dir, RUN_TIMEOUT_MS);

	cur_ctr = c;
	EXPECT(!err && c->init_status == 0 && !ctr_report(c, "error", 0, NULL),
	       "container run of %s %s failed: %s, status %#x\n", argv[0], argv[1] ? argv[1] : "",
	       err ? strerror(-err) : "ok", c->init_status);
}

static int line_is_for(const cJSON *e, const struct ctr *c)
{
	const char *k = js_str(e, "kind"), *id = js_str(e, "container_id");

	if (!streq(k, "detection"))
		return 0;
	return streq(id, c->id) || js_int(js_obj(e, "event"), "cgroup_id") == (int64_t)c->cgroup_id;
}

/* detection lines since index from that belong to c */
static size_t lines_for(struct run *r, size_t from, const struct ctr *c, cJSON **out, size_t max)
{
	size_t i, n = 0;

	agent_poll(&r->ag);
	for (i = from; i < r->ag.nev; i++)
		if (line_is_for(r->ag.ev[i], c)) {
			if (n < max)
				out[n] = r->ag.ev[i];
			n++;
		}
	return n;
}

/* everything the agent read before now has been through the rules afterwards */
static void barrier(struct run *r)
{
	char nonce[32];
	char *argv[] = { env.marker, nonce, NULL };
	const struct ctr *saved;
	long deadline;
	size_t i, from;

	if (!r->marker_made) {
		int err = ctr_create(&r->marker);

		if (err)
			FAILF("Failed to create the marker container: %s\n", strerror(-err));
		r->marker_made = 1;
	}
	snprintf(nonce, sizeof(nonce), "barrier-%d", ++r->nonce);
	agent_poll(&r->ag);
	from = r->ag.nev;
	saved = cur_ctr;
	run_ctr(&r->marker, argv);
	cur_ctr = saved;
	deadline = now_ms() + LINE_TIMEOUT_MS;
	for (;;) {
		agent_poll(&r->ag);
		for (i = from; i < r->ag.nev; i++) {
			const cJSON *e = r->ag.ev[i], *argvj;

			if (!line_is_for(e, &r->marker))
				continue;
			argvj = js_obj(js_obj(e, "event"), "argv");
			if (cJSON_GetArraySize(argvj) == 2 &&
			    streq(cJSON_GetArrayItem(argvj, 1)->valuestring, nonce))
				return;
		}
		expect_alive(r);
		EXPECT(now_ms() < deadline, "barrier: no detection of the marker exec %s within %d ms\n",
		       nonce, LINE_TIMEOUT_MS);
		sleep_ms(20);
	}
}

static size_t mark(struct run *r)
{
	agent_poll(&r->ag);
	return r->ag.nev;
}

/* ------------------------------------------------- incident assertions */

struct exp_det {
	const char *rule, *severity, *category;
};

#define MAX_EXP 8

struct got {
	cJSON *lines[MAX_EXP];      /* the container's stdout detection lines */
	size_t nlines;
	char incident[64];
};

static void expect_journal_sane(const struct sj *j, const char *path)
{
	EXPECT(j->malformed == 0, "journal %s: %zu malformed lines\n", path, j->malformed);
	EXPECT(j->orphans == 0, "journal %s: %zu records of incidents never opened\n", path, j->orphans);
	EXPECT(j->bad_refs == 0, "journal %s: %zu records with impossible entry indexes\n", path,
	       j->bad_refs);
}

/*
 * The scenario in c (whose events are all in: barrier() ran) produced
 * exactly one incident with exactly these detections, in this order, and
 * severity sev; on stdout and in the journal alike.
 */
static void expect_incident(struct run *r, size_t from, const struct ctr *c, const struct exp_det *want,
			    size_t nwant, const char *sev, struct got *g)
{
	char cg[24], key[80];
	struct sj j;
	struct sj_incident *inc;
	size_t i;
	int err;

	cur_run = r;
	cur_ctr = c;
	memset(g, 0, sizeof(*g));
	g->nlines = lines_for(r, from, c, g->lines, MAX_EXP);
	EXPECT(g->nlines == nwant, "%zu detection lines for container %.12s, want %zu\n", g->nlines,
	       c->id, nwant);
	for (i = 0; i < nwant; i++) {
		const cJSON *e = g->lines[i];

		EXPECT_STR(e, "rule", want[i].rule);
		EXPECT_STR(e, "severity", want[i].severity);
		EXPECT_STR(e, "category", want[i].category);
		EXPECT_STR(e, "container_id", c->id);
		EXPECT_STR(e, "pod_uid", c->pod_uid);
		EXPECT_BOOL(e, "journaled", 1);
		EXPECT_BOOL(e, "incident_opened", i == 0);
		EXPECT_INT(js_obj(e, "event"), "cgroup_id", c->cgroup_id);
		EXPECT_BOOL(js_obj(e, "event"), "container", 1);
		if (i == 0) {
			EXPECT(js_str(e, "incident") && strlen(js_str(e, "incident")) < sizeof(g->incident),
			       "no incident id\n");
			snprintf(g->incident, sizeof(g->incident), "%s", js_str(e, "incident"));
		} else {
			EXPECT_STR(e, "incident", g->incident);
		}
	}
	if (nwant)
		EXPECT_STR(g->lines[nwant - 1], "incident_severity", sev);

	err = sj_load(&j, r->journal);
	EXPECT(err == 0 || (nwant == 0 && err == -ENOENT), "Failed to read the journal %s: %s\n",
	       r->journal, strerror(-err));
	expect_journal_sane(&j, r->journal);
	i = sj_count_for(&j, c->id, c->cgroup_id);
	if (!nwant) {
		EXPECT(i == 0, "%zu incidents for the container in the journal, want none: %s\n", i,
		       sj_describe(sj_first_for(&j, c->id)));
		sj_free(&j);
		return;
	}
	EXPECT(i == 1, "%zu incidents for container %.12s in the journal, want 1\n", i, c->id);
	inc = sj_first_for(&j, c->id);
	EXPECT(inc, "the container's incident is not attributed to container id %s\n", c->id);
	EXPECT(streq(inc->id, g->incident), "journal incident %s, stdout says %s\n", inc->id, g->incident);
	snprintf(cg, sizeof(cg), "%" PRIu64, c->cgroup_id);
	snprintf(key, sizeof(key), "ctr:%s", c->id);
	EXPECT(streq(inc->pod_uid, c->pod_uid), "pod_uid %s, want %s\n", inc->pod_uid, c->pod_uid);
	EXPECT(streq(inc->cgroup_id, cg), "cgroup_id %s, want %s\n", inc->cgroup_id, cg);
	EXPECT(streq(inc->runtime, "containerd"), "runtime %s, want containerd\n", inc->runtime);
	EXPECT(js_bool(inc->attribution, "container") == 1, "attribution.container is not true\n");
	EXPECT(streq(inc->node, r->node), "node %s, want %s\n", inc->node, r->node);
	EXPECT(streq(inc->key, key), "key %s, want %s\n", inc->key, key);
	EXPECT(inc->ndet == nwant, "%zu detections in the journal, want %zu: %s\n", inc->ndet, nwant,
	       sj_describe(inc));
	for (i = 0; i < nwant; i++) {
		const struct sj_det *d = &inc->det[i];

		EXPECT(streq(d->rule, want[i].rule) && streq(d->severity, want[i].severity) &&
		       streq(d->category, want[i].category) && d->count == 1,
		       "journal detection %zu is %s(%s,%s)x%" PRIu64 ", want %s(%s,%s)x1\n", i, d->rule,
		       d->severity, d->category, d->count, want[i].rule, want[i].severity,
		       want[i].category);
		EXPECT(streq(d->summary, js_str(g->lines[i], "summary")),
		       "journal summary \"%s\", stdout \"%s\"\n", d->summary, js_str(g->lines[i], "summary"));
	}
	EXPECT(streq(inc->severity, sev), "incident severity %s, want %s: %s\n", inc->severity, sev,
	       sj_describe(inc));
	/* docs/incidents.md: one category keeps the highest detection's severity */
	for (i = 1; i < nwant && streq(want[i].category, want[0].category); i++)
		;
	if (i == nwant)
		EXPECT(streq(inc->severity_reason, "highest detection"),
		       "severity reason \"%s\", want \"highest detection\"\n", inc->severity_reason);
	EXPECT(streq(inc->status, "open"), "incident status %s, want open\n", inc->status);
	sj_free(&j);
}

static const cJSON *ev_of(const struct got *g, size_t i)
{
	return js_obj(g->lines[i], "event");
}

/* ============================================================ scenarios */

/* a non-root user runs a setuid-root binary that makes itself root and starts a shell */
static void escalate(const char *variant, const struct exp_det *want, size_t nwant)
{
	struct ctr *c = new_ctr();
	char *argv[] = { env.helper, "escalate", env.suid, (char *)variant, NULL };
	size_t from = mark(S);
	struct got g;
	const cJSON *e;
	pid_t sh = 0;

	run_ctr(c, argv);
	EXPECT(ctr_report(c, "shell", 0, &sh) && sh == c->init_pid, "the root shell was not started\n");
	EXPECT(streq(ctr_report(c, "suid", 0, NULL), "1000,0") && streq(ctr_report(c, "root", 0, NULL), "0,0"),
	       "the setuid binary did not run as uid 1000 euid 0, then become root\n");
	barrier(S);
	expect_incident(S, from, c, want, nwant, "high", &g);

	e = ev_of(&g, 0);
	EXPECT_STR(e, "kind", "exec");
	EXPECT_STR(e, "filename", env.suid);
	EXPECT_INT(e, "pid", c->init_pid);
	EXPECT_INT(e, "uid", 1000);
	EXPECT_INT(e, "euid", 0);
	EXPECT_BOOL(e, "setuid", 1);
	e = ev_of(&g, nwant - 1);
	EXPECT_STR(e, "kind", "cred");
	EXPECT_STR(e, "op", "setuid");
	EXPECT_INT(e, "pid", c->init_pid);
	EXPECT_INT(e, "ret", 0);
	EXPECT_INT(js_obj(e, "old"), "uid", 1000);
	EXPECT_INT(js_obj(e, "old"), "euid", 0);
	EXPECT_INT(js_obj(e, "new"), "uid", 0);
}

/* a default container (containerd's bounding set): the two escalation rules, high */
static void test_setuid_escalation(void **state)
{
	static const struct exp_det want[] = {
		{ "setuid-exec-by-nonroot-in-container", "high", "privilege_escalation" },
		{ "setid-to-root-in-container", "high", "privilege_escalation" },
	};

	(void)state;
	escalate("default", want, 2);
}

/* a privileged container: the setuid exec also gains CAP_SYS_ADMIN & co */
static void test_setuid_escalation_privileged(void **state)
{
	static const struct exp_det want[] = {
		{ "setuid-exec-by-nonroot-in-container", "high", "privilege_escalation" },
		{ "dangerous-capability-gained", "high", "privilege_escalation" },
		{ "setid-to-root-in-container", "high", "privilege_escalation" },
	};

	(void)state;
	escalate("privileged", want, 3);
}

static void test_interactive_shell(void **state)
{
	static const struct exp_det want[] = {
		{ "interactive-shell-in-container", "medium", "execution" },
	};
	struct ctr *c = new_ctr();
	char *argv[] = { env.helper, "ctty-shell", NULL };
	size_t from = mark(S);
	struct got g;
	pid_t sh = 0;

	(void)state;
	run_ctr(c, argv);
	EXPECT(ctr_report(c, "shell", 0, &sh) && sh > 0, "no shell started\n");
	barrier(S);
	expect_incident(S, from, c, want, 1, "medium", &g);
	EXPECT_STR(ev_of(&g, 0), "filename", "/bin/sh");
	EXPECT_INT(ev_of(&g, 0), "pid", sh);
	EXPECT_BOOL(ev_of(&g, 0), "tty", 1);
	EXPECT_BOOL(ev_of(&g, 0), "stdin_socket", 0);
}

static void test_exec_from_tmp(void **state)
{
	static const struct exp_det want[] = {
		{ "exec-from-writable-or-anonymous-location", "high", "suspicious_exec" },
	};
	struct ctr *c = new_ctr();
	char *argv[] = { env.helper, "exec-loop", env.payload, "1", "0", NULL };
	size_t from = mark(S);
	const cJSON *av;
	struct got g;

	(void)state;
	run_ctr(c, argv);
	barrier(S);
	expect_incident(S, from, c, want, 1, "high", &g);
	EXPECT_STR(ev_of(&g, 0), "filename", env.payload);
	av = js_obj(ev_of(&g, 0), "argv");
	EXPECT(cJSON_GetArraySize(av) == 2 && streq(cJSON_GetArrayItem(av, 1)->valuestring, "0"),
	       "argv of the /tmp exec is not [payload, \"0\"]\n");
}

static void test_reverse_shell(void **state)
{
	static const struct exp_det want[] = {
		{ "reverse-shell-socket-stdio", "critical", "execution" },
		{ "shell-after-outbound-connect", "high", "execution" },
	};
	struct ctr *c = new_ctr();
	char *argv[] = { env.helper, "reverse-shell", REVERSE_PORT, NULL };
	size_t from = mark(S), i;
	struct got g;
	pid_t sh = 0;

	(void)state;
	run_ctr(c, argv);
	EXPECT(ctr_report(c, "shell", 0, &sh) && sh > 0, "no shell started\n");
	barrier(S);
	expect_incident(S, from, c, want, 2, "critical", &g);
	for (i = 0; i < 2; i++) {
		EXPECT_STR(ev_of(&g, i), "kind", "exec");
		EXPECT_STR(ev_of(&g, i), "filename", "/bin/sh");
		EXPECT_INT(ev_of(&g, i), "pid", sh);
		EXPECT_BOOL(ev_of(&g, i), "stdin_socket", 1);
		EXPECT_BOOL(ev_of(&g, i), "stdout_socket", 1);
		EXPECT_BOOL(ev_of(&g, i), "stderr_socket", 1);
	}
}

static void test_metadata_connect(void **state)
{
	static const struct exp_det want[] = {
		{ "cloud-metadata-connect", "high", "credential_access" },
	};
	struct ctr *c = new_ctr();
	char *argv[] = { env.helper, "metadata", env.ip, NULL };
	size_t from = mark(S);
	struct got g;
	pid_t who = 0;

	(void)state;
	run_ctr(c, argv);
	EXPECT(ctr_report(c, "connect", 0, &who) && streq(ctr_report(c, "md.ok", 0, NULL), "1"),
	       "the metadata connect did not happen\n");
	print_message("metadata address on a %s link\n", ctr_report(c, "md.link", 0, NULL));
	barrier(S);
	expect_incident(S, from, c, want, 1, "high", &g);
	EXPECT_STR(ev_of(&g, 0), "kind", "connect");
	EXPECT_STR(ev_of(&g, 0), "daddr", "169.254.169.254");
	EXPECT_INT(ev_of(&g, 0), "dport", 80);
	EXPECT_STR(ev_of(&g, 0), "protocol", "tcp");
	EXPECT_INT(ev_of(&g, 0), "pid", who);
	EXPECT_INT(ev_of(&g, 0), "netns", c->netns);
}

static void test_benign_workload(void **state)
{
	struct ctr *c = new_ctr();
	char *argv[] = { env.helper, "benign", "50", BENIGN_PORT, NULL };
	size_t from = mark(S);
	struct got g;

	(void)state;
	run_ctr(c, argv);
	EXPECT(streq(ctr_report(c, "probes", 0, NULL), "50") && streq(ctr_report(c, "dns", 0, NULL), "3") &&
	       streq(ctr_report(c, "connects", 0, NULL), "5") &&
	       streq(ctr_report(c, "dropped", 0, NULL), "65534,65534") &&
	       streq(ctr_report(c, "benign.ok", 0, NULL), "1"),
	       "the benign workload did not run to the end\n");
	barrier(S);
	expect_incident(S, from, c, NULL, 0, NULL, &g);
}

/*
 * docs/incidents.md: a timeline that chains two categories raises the
 * incident one step above its highest detection. An interactive shell
 * (medium, execution), then a program run from /tmp (high, suspicious_exec)
 * in the same container: critical.
 */
static void test_category_chain_escalates(void **state)
{
	static const struct exp_det want[] = {
		{ "interactive-shell-in-container", "medium", "execution" },
		{ "exec-from-writable-or-anonymous-location", "high", "suspicious_exec" },
	};
	struct ctr *c = new_ctr();
	char *shell[] = { env.helper, "ctty-shell", NULL };
	char *tmp[] = { env.helper, "exec-loop", env.payload, "1", "0", NULL };
	size_t from = mark(S);
	struct sj j;
	struct got g;

	(void)state;
	run_ctr(c, shell);
	run_ctr(c, tmp);
	barrier(S);
	expect_incident(S, from, c, want, 2, "critical", &g);
	EXPECT_STR(g.lines[0], "incident_severity", "medium");
	assert_int_equal(sj_load(&j, S->journal), 0);
	EXPECT(streq(sj_first_for(&j, c->id)->severity_reason,
		     "chain of 2 categories: execution -> suspicious_exec"),
	       "severity reason \"%s\"\n", sj_first_for(&j, c->id)->severity_reason);
	sj_free(&j);
}

/*
 * More distinct detections than an incident's timeline holds: the ones it
 * drops are not journaled, and stdout must not claim they are.
 */
static void test_timeline_full(void **state)
{
	struct ctr *c = new_ctr();
	char n[16];
	char *argv[] = { env.helper, "exec-loop", env.payload, n, "0", NULL };
	cJSON *lines[TIMELINE_EXECS + 8];
	struct sj j;
	struct sj_incident *inc;
	size_t from = mark(S), nl, i;
	int err;

	(void)state;
	snprintf(n, sizeof(n), "%d", TIMELINE_EXECS);
	run_ctr(c, argv);
	EXPECT(streq(ctr_report(c, "execs", 0, NULL), n), "the exec loop did not finish\n");
	barrier(S);
	nl = lines_for(S, from, c, lines, TIMELINE_EXECS + 8);
	EXPECT(nl == TIMELINE_EXECS, "%zu detection lines, want %d\n", nl, TIMELINE_EXECS);
	err = sj_load(&j, S->journal);
	EXPECT(!err, "Failed to read the journal: %s\n", strerror(-err));
	expect_journal_sane(&j, S->journal);
	inc = sj_first_for(&j, c->id);
	EXPECT(inc && sj_count_for(&j, c->id, c->cgroup_id) == 1, "not one incident for the container\n");
	EXPECT(inc->ndet == INC_MAX_ENTRIES, "%zu detections journaled, want the timeline's %d\n",
	       inc->ndet, INC_MAX_ENTRIES);
	for (i = 0; i < nl; i++) {
		const char *sum = js_str(lines[i], "summary");
		int in_journal = sj_find_det(inc, "exec-from-writable-or-anonymous-location", sum) != NULL;

		EXPECT_STR(lines[i], "incident", inc->id);
		EXPECT(js_bool(lines[i], "journaled") == (i < INC_MAX_ENTRIES) && in_journal == (i < INC_MAX_ENTRIES),
		       "detection %zu \"%s\": journaled %d on stdout, %s the journal; want %s\n", i, sum,
		       js_bool(lines[i], "journaled"), in_journal ? "in" : "not in",
		       i < INC_MAX_ENTRIES ? "true, in" : "false, not in");
	}
	sj_free(&j);
}

/* -------------------------------------------- unexplained credential change */

struct bg_run {
	pthread_t th;
	struct ctr *c;
	char **argv;
	int timeout_ms;
	int err;
};

static void *bg_main(void *p)
{
	struct bg_run *b = p;

	b->err = ctr_run(b->c, b->argv, env.dir, b->timeout_ms);
	return NULL;
}

static struct bg_run *bg_live; /* started, not joined */

static void bg_start(struct bg_run *b, struct ctr *c, char **argv, int timeout_ms)
{
	b->c = c;
	b->argv = argv;
	b->timeout_ms = timeout_ms;
	b->err = -EINPROGRESS;
	assert_int_equal(pthread_create(&b->th, NULL, bg_main, b), 0);
	bg_live = b;
}

static void bg_join(struct bg_run *b)
{
	/* ctr_run ends by itself: its own timeout kills the container */
	pthread_join(b->th, NULL);
	if (bg_live == b)
		bg_live = NULL;
}

/* kill the background container and wait for its runner (before freeing it) */
static void bg_abort(void)
{
	char p[sizeof(bg_live->c->scope) + 16];
	int fd;

	if (!bg_live)
		return;
	snprintf(p, sizeof(p), "%s/cgroup.kill", bg_live->c->scope);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
	bg_join(bg_live);
}

/* the ids of the BPF maps the agent holds, from /proc/<pid>/fdinfo */
static int agent_map_ids(pid_t pid, uint32_t *ids, int max)
{
	char p[64], lp[128], target[128], fi[128], line[256];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	dir = opendir(p);
	if (!dir)
		return -errno;
	while ((d = readdir(dir)) && n < max) {
		ssize_t l;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(lp, sizeof(lp), "%s/%s", p, d->d_name);
		l = readlink(lp, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = '\0';
		if (strcmp(target, "anon_inode:bpf-map"))
			continue;
		snprintf(fi, sizeof(fi), "/proc/%d/fdinfo/%s", (int)pid, d->d_name);
		f = fopen(fi, "re");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "map_id:", 7))
				ids[n++] = (uint32_t)strtoul(line + 7, NULL, 10);
		if (f)
			fclose(f);
	}
	closedir(dir);
	return n;
}

/* the agent's "ng_tasks" map, found the way a responder's tool would: by id and name */
static int find_tasks_map(pid_t agent_pid)
{
	uint32_t held[256], id = 0, found_id = 0;
	int nheld = agent_map_ids(agent_pid, held, 256), fd = -1, i, nfound = 0;

	EXPECT(nheld > 0, "the agent holds no BPF map fds (%d)\n", nheld);
	while (!bpf_map_get_next_id(id, &id)) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		int mfd, mine = 0;

		for (i = 0; i < nheld; i++)
			mine |= held[i] == id;
		if (!mine)
			continue;
		mfd = bpf_map_get_fd_by_id(id);
		if (mfd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (!bpf_obj_get_info_by_fd(mfd, &info, &len) && !strcmp(info.name, "ng_tasks") &&
		    info.key_size == sizeof(__u32) && info.value_size == sizeof(struct ng_taskstate)) {
			if (found_id != id)
				nfound++;
			found_id = id;
			if (fd >= 0)
				close(fd);
			fd = mfd;
			continue;
		}
		close(mfd);
	}
	EXPECT(nfound == 1, "%d ng_tasks maps (key u32, value %zu bytes) held by the agent, want 1\n",
	       nfound, sizeof(struct ng_taskstate));
	return fd;
}

static uint32_t ns_of(pid_t pid, const char *name)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, name);
	return stat(p, &st) ? 0 : (uint32_t)st.st_ino;
}

static void test_unexplained_credential_change(void **state)
{
	static const struct exp_det want[] = {
		{ "unexplained-credential-change", "critical", "privilege_escalation" },
		{ "unexplained-id-change", "medium", "privilege_escalation" },
	};
	struct ctr *c = new_ctr();
	char ready[PATH_MAX + 16], go[PATH_MAX + 16], buf[32];
	char *argv[] = { env.helper, "wait-fork", ready, go, NULL };
	struct ng_taskstate st, real;
	struct bg_run bg;
	size_t from = mark(S), got = 0;
	long deadline;
	int rfd, wfd = -1, mfd;
	__u32 key;
	pid_t pid;
	struct got g;
	char status[64];

	(void)state;
	cur_run = S;
	cur_ctr = c;
	snprintf(ready, sizeof(ready), "%s/ready-%.12s", env.dir, c->id);
	snprintf(go, sizeof(go), "%s/go-%.12s", env.dir, c->id);
	assert_int_equal(mkfifo(ready, 0600), 0);
	assert_int_equal(mkfifo(go, 0600), 0);
	rfd = open(ready, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rfd >= 0);
	bg_start(&bg, c, argv, RUN_TIMEOUT_MS);

	/* the helper's host pid, once it blocks on the go fifo */
	deadline = now_ms() + RUN_TIMEOUT_MS;
	while (now_ms() < deadline) {
		ssize_t n = read(rfd, buf + got, sizeof(buf) - 1 - got);

		if (n > 0)
			got += (size_t)n;
		else if (got)
			break; /* the writer closed: the whole pid is in */
		sleep_ms(5);
	}
	close(rfd);
	buf[got] = '\0';
	pid = (pid_t)atoi(buf);
	if (pid <= 0) {
		bg_join(&bg);
		FAILF("the helper did not say its pid (\"%s\")\n", buf);
	}
	EXPECT(ctr_cgroup_id_of(pid) == c->cgroup_id, "pid %d is not in the container's cgroup\n", pid);

	/* its state as the sensors recorded it at exec: root, in the container's namespaces */
	mfd = find_tasks_map(S->ag.pid);
	key = (__u32)pid;
	EXPECT(!bpf_map_lookup_elem(mfd, &key, &real), "no ng_tasks entry for tid %d: %s\n", pid,
	       strerror(errno));
	EXPECT(real.c.uid == 0 && real.c.euid == 0 && real.c.fsuid == 0 && real.c.cap_eff != 0,
	       "ng_tasks[%d] is uid %u euid %u fsuid %u cap_eff %#llx, want root with capabilities\n",
	       pid, real.c.uid, real.c.euid, real.c.fsuid, (unsigned long long)real.c.cap_eff);
	EXPECT(real.mntns == ns_of(pid, "mnt") && real.netns == ns_of(pid, "net") &&
	       real.mntns != ns_of(getpid(), "mnt") && real.netns != ns_of(getpid(), "net"),
	       "ng_tasks[%d] namespaces mnt %u net %u, want the container's %u %u\n", pid, real.mntns,
	       real.netns, ns_of(pid, "mnt"), ns_of(pid, "net"));

	/* what a kernel exploit leaves behind: the record says uid 1000, no caps */
	st = real;
	st.c.uid = st.c.euid = st.c.fsuid = 1000;
	st.c.cap_eff = st.c.cap_prm = st.c.cap_inh = 0;
	EXPECT(!bpf_map_update_elem(mfd, &key, &st, BPF_EXIST), "Failed to rewrite ng_tasks[%d]: %s\n",
	       pid, strerror(errno));
	close(mfd);

	/* now let it fork */
	deadline = now_ms() + RUN_TIMEOUT_MS;
	while (wfd < 0 && now_ms() < deadline) {
		wfd = open(go, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (wfd < 0)
			sleep_ms(5);
	}
	if (wfd < 0 || write(wfd, "g", 1) != 1) {
		bg_join(&bg);
		FAILF("Failed to release the helper: %s\n", strerror(errno));
	}
	close(wfd);
	bg_join(&bg);
	cur_ctr = c;
	snprintf(status, sizeof(status), "%s", ctr_report(c, "forked", 0, NULL) ? ctr_report(c, "forked", 0, NULL) : "");
	/* the default policy kills on an unexplained change, in the kernel, at
	 * the fork hook that caught it: the helper never reports its fork */
	EXPECT(!bg.err && WIFSIGNALED(c->init_status) && WTERMSIG(c->init_status) == SIGKILL &&
		       !streq(status, "0"),
	       "the helper was not killed by the default policy (%s, status %#x, reported \"%s\")\n",
	       bg.err ? strerror(-bg.err) : "ok", c->init_status, status);

	barrier(S);
	expect_incident(S, from, c, want, 2, "critical", &g);
	for (got = 0; got < 2; got++) {
		const cJSON *e = ev_of(&g, got);

		EXPECT_STR(e, "kind", "anomaly");
		EXPECT_INT(e, "pid", pid);
		EXPECT_INT(e, "tid", pid);
		EXPECT_STR(e, "hook", "fork");
		EXPECT_STR(e, "reasons", "euid_root,fsuid_root,uid_root,caps_gained,ids_changed");
		EXPECT_INT(js_obj(e, "old"), "uid", 1000);
		EXPECT_INT(js_obj(e, "old"), "euid", 1000);
		EXPECT_INT(js_obj(e, "old"), "fsuid", 1000);
		EXPECT_STR(js_obj(e, "old"), "cap_eff", "0x0000000000000000");
		EXPECT_INT(js_obj(e, "new"), "uid", 0);
		EXPECT_INT(js_obj(e, "new"), "euid", 0);
	}
}

static int scen_setup(void **state)
{
	(void)state;
	S = run_new("scenarios");
	run_start(S, NULL);
	return 0;
}

static int scen_teardown(void **state)
{
	struct sj j;
	int err;

	(void)state;
	if (!S)
		return 0;
	if (S->started) {
		agent_stop(&S->ag, AGENT_STOP_MS);
		if (!WIFEXITED(S->ag.exit_status) || WEXITSTATUS(S->ag.exit_status)) {
			fprintf(stderr, "scenarios: the agent exited with status %#x\n", S->ag.exit_status);
			run_free(S);
			S = NULL;
			return -1;
		}
	}
	/* the whole journal replays cleanly */
	err = sj_load(&j, S->journal);
	if (err || j.malformed || j.orphans || j.bad_refs) {
		fprintf(stderr, "scenarios: journal %s: %s, %zu malformed, %zu orphans, %zu bad refs\n",
			S->journal, err ? strerror(-err) : "read", j.malformed, j.orphans, j.bad_refs);
		sj_free(&j);
		run_free(S);
		S = NULL;
		return -1;
	}
	sj_free(&j);
	run_free(S);
	S = NULL;
	return 0;
}

/* ============================================================ lifecycle */

/* `nodeguard` with no arguments: embedded policy, default journal dir, host name */
static void test_no_arguments(void **state)
{
	static const struct exp_det want[] = {
		{ "exec-from-writable-or-anonymous-location", "high", "suspicious_exec" },
	};
	struct run *r = run_new("noargs");
	char varlib[PATH_MAX + 16], ready[600];
	const char *const none[] = { NULL };
	char *argv[] = { env.helper, "exec-loop", env.payload, "1", "0", NULL };
	struct ctr *c;
	size_t from;
	struct got g;
	char *err_text;
	int err;

	(void)state;
	/* /var/lib/nodeguard of the agent is r->jdir/varlib/nodeguard */
	snprintf(varlib, sizeof(varlib), "%s/varlib", r->jdir);
	assert_int_equal(mkdir(varlib, 0755), 0);
	snprintf(r->journal, sizeof(r->journal), "%s/nodeguard/journal.jsonl", varlib);
	r->node = env.node_default;
	cur_run = r;
	err = sa_start(&r->ag, env.nodeguard, none, env.dir, varlib, AGENT_START_MS);
	EXPECT(!err, "`nodeguard` did not start: %s (status %#x)\n", strerror(-err), r->ag.exit_status);
	r->started = 1;
	snprintf(ready, sizeof(ready), SA_READY "%s: policy <embedded> (%d rules), journal /var/lib/nodeguard/journal.jsonl, containers\n",
		 env.node_default, env.default_rules);
	err_text = sa_stderr(&r->ag);
	EXPECT(err_text && strstr(err_text, ready), "stderr lacks \"%s\"\n", ready);
	free(err_text);

	c = new_ctr();
	from = mark(r);
	run_ctr(c, argv);
	barrier(r);
	expect_incident(r, from, c, want, 1, "high", &g);
	EXPECT_STR(ev_of(&g, 0), "filename", env.payload);
	run_stop(r);
	run_free(r);
	cur_run = NULL;
}

/* kill -9 mid-stream: every detection reported journaled is in the journal */
static void test_kill9_loses_nothing(void **state)
{
	struct run *r = run_new("kill9");
	char n[16];
	char *argv[] = { env.helper, "exec-loop", env.payload, n, "10", NULL };
	struct bg_run bg;
	struct ctr *c;
	struct sj j;
	struct sj_incident *inc;
	size_t from, i, k, nj = 0, want_kill = 40;
	long deadline;
	char restored[256], *err_text;
	int err;

	(void)state;
	snprintf(n, sizeof(n), "%d", STORM_EXECS);
	run_start(r, NULL);
	c = new_ctr();
	from = mark(r);
	bg_start(&bg, c, argv, RUN_TIMEOUT_MS);
	deadline = now_ms() + RUN_TIMEOUT_MS;
	while (now_ms() < deadline) {
		cJSON *tmp[1];

		nj = lines_for(r, from, c, tmp, 0);
		if (nj >= want_kill)
			break;
		sleep_ms(5);
	}
	sa_kill9(&r->ag);
	r->started = 0;
	bg_join(&bg);
	cur_ctr = c;
	EXPECT(nj >= want_kill, "only %zu detections before the deadline\n", nj);
	EXPECT(WIFSIGNALED(r->ag.exit_status) && WTERMSIG(r->ag.exit_status) == SIGKILL,
	       "the agent was not killed by SIGKILL (status %#x)\n", r->ag.exit_status);
	EXPECT(!bg.err && c->init_status == 0, "the exec storm failed (%s, status %#x)\n",
	       bg.err ? strerror(-bg.err) : "ok", c->init_status);

	/* every complete line the agent wrote before it died */
	{
		cJSON *lines[STORM_EXECS + 8];
		size_t nl = lines_for(r, from, c, lines, STORM_EXECS + 8);

		EXPECT(nl >= want_kill && nl < STORM_EXECS,
		       "%zu detection lines: the kill did not land mid-stream (want %zu..%d)\n", nl,
		       want_kill, STORM_EXECS - 1);
		err = sj_load(&j, r->journal);
		EXPECT(!err, "Failed to read the journal %s: %s\n", r->journal, strerror(-err));
		expect_journal_sane(&j, r->journal);
		for (i = 0, k = 0; i < nl; i++) {
			const char *id = js_str(lines[i], "incident"), *rule = js_str(lines[i], "rule"),
				   *sum = js_str(lines[i], "summary");
			const struct sj_det *d;
			uint64_t same = 0;
			size_t x;

			EXPECT_STR(lines[i], "rule", "exec-from-writable-or-anonymous-location");
			EXPECT_STR(lines[i], "container_id", c->id);
			if (js_bool(lines[i], "journaled") != 1)
				continue;
			k++;
			inc = sj_find(&j, id);
			EXPECT(inc, "incident %s (reported journaled) is not in the journal\n", id);
			d = sj_find_det(inc, rule, sum);
			EXPECT(d, "detection %s \"%s\" of %s was reported journaled but is not in the journal\n",
			       rule, sum, id);
			/* repeats: no more lines than the journal's count */
			for (x = 0; x <= i; x++)
				same += streq(js_str(lines[x], "incident"), id) &&
					streq(js_str(lines[x], "rule"), rule) &&
					streq(js_str(lines[x], "summary"), sum) &&
					js_bool(lines[x], "journaled") == 1;
			EXPECT(same <= d->count, "%" PRIu64 " journaled lines of \"%s\", journal count %" PRIu64 "\n",
			       same, sum, d->count);
		}
		EXPECT(k == nl, "%zu of %zu lines were reported journaled, want all\n", k, nl);
		EXPECT(sj_count_for(&j, c->id, c->cgroup_id) == 1, "the storm spans %zu incidents, want 1\n",
		       sj_count_for(&j, c->id, c->cgroup_id));
		print_message("kill -9 after %zu journaled detection lines; journal holds %zu of the storm's detections\n",
			      nl, sj_first_for(&j, c->id)->ndet);
	}

	/* a new agent on the same journal starts and restores the open incidents */
	snprintf(restored, sizeof(restored),
		 "journal %s: %zu records in 1 files, 0 malformed; %zu open incidents restored", r->journal,
		 j.nrecs, sj_count_open(&j));
	sj_free(&j);
	agent_free(&r->ag);
	run_start(r, NULL);
	err_text = sa_stderr(&r->ag);
	EXPECT(err_text && strstr(err_text, restored), "stderr after the restart lacks \"%s\"\n", restored);
	EXPECT(!strstr(err_text, "torn"), "the restart reports a torn journal record\n");
	free(err_text);
	run_stop(r);
	run_free(r);
	cur_run = NULL;
}

/* after a normal stop, a new agent restores the incident and joins it */
static void test_restart_restore(void **state)
{
	static const struct exp_det want[] = {
		{ "exec-from-writable-or-anonymous-location", "high", "suspicious_exec" },
	};
	struct run *r = run_new("restart");
	char *one[] = { env.helper, "exec-loop", env.payload, "1", "0", NULL };
	char *two[] = { env.helper, "exec-loop", env.payload, "2", "0", NULL };
	char restored[256], *err_text;
	cJSON *lines[8];
	struct ctr *c;
	struct sj j;
	struct sj_incident *inc;
	struct got g;
	size_t from, nl, i;
	int err;

	(void)state;
	run_start(r, NULL);
	c = new_ctr();
	from = mark(r);
	run_ctr(c, one);
	barrier(r);
	expect_incident(r, from, c, want, 1, "high", &g);
	run_stop(r);

	err = sj_load(&j, r->journal);
	EXPECT(!err, "Failed to read the journal: %s\n", strerror(-err));
	snprintf(restored, sizeof(restored),
		 "journal %s: %zu records in 1 files, 0 malformed; %zu open incidents restored", r->journal,
		 j.nrecs, sj_count_open(&j));
	EXPECT(sj_count_open(&j) == 2, "%zu open incidents after the stop, want 2 (scenario, marker)\n",
	       sj_count_open(&j));
	sj_free(&j);

	agent_free(&r->ag);
	run_start(r, NULL);
	err_text = sa_stderr(&r->ag);
	EXPECT(err_text && strstr(err_text, restored), "stderr after the restart lacks \"%s\"\n", restored);
	free(err_text);

	/* the same container again: "payload 0" repeats, "payload 1" is new */
	from = mark(r);
	run_ctr(c, two);
	barrier(r);
	nl = lines_for(r, from, c, lines, 8);
	EXPECT(nl == 2, "%zu detection lines after the restart, want 2\n", nl);
	for (i = 0; i < 2; i++) {
		EXPECT_STR(lines[i], "incident", g.incident);
		EXPECT_BOOL(lines[i], "incident_opened", 0);
		EXPECT_BOOL(lines[i], "journaled", 1);
		EXPECT_STR(lines[i], "rule", want[0].rule);
		EXPECT_STR(lines[i], "container_id", c->id);
	}
	run_stop(r);

	err = sj_load(&j, r->journal);
	EXPECT(!err, "Failed to read the journal: %s\n", strerror(-err));
	expect_journal_sane(&j, r->journal);
	EXPECT(sj_count_for(&j, c->id, c->cgroup_id) == 1, "%zu incidents for the container, want 1\n",
	       sj_count_for(&j, c->id, c->cgroup_id));
	inc = sj_first_for(&j, c->id);
	EXPECT(inc && streq(inc->id, g.incident), "the container's incident changed id\n");
	EXPECT(inc->ndet == 2 && inc->det[0].count == 2 && inc->det[1].count == 1 &&
	       streq(inc->det[1].rule, want[0].rule) && streq(inc->det[0].summary, js_str(lines[0], "summary")) &&
	       streq(inc->det[1].summary, js_str(lines[1], "summary")),
	       "after the restart the incident is %s, want the first detection x2 and a new one\n",
	       sj_describe(inc));
	EXPECT(streq(inc->severity, "high") && streq(inc->status, "open"), "incident %s\n", sj_describe(inc));
	sj_free(&j);
	run_free(r);
	cur_run = NULL;
}

static int write_text(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int err = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	return err;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb)
				break;
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		if (!n)
			break;
		len += n;
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define HUP_RULE                                                         \
	"\n"                                                             \
	"  - name: scenario-hup-probe\n"                                 \
	"    description: The scenario tests' reload probe ran.\n"       \
	"    severity: medium\n"                                         \
	"    category: execution\n"                                      \
	"    match:\n"                                                   \
	"      event: exec\n"                                            \
	"      scope: container\n"                                       \
	"      binary: [\"*/ng-scen-hup-probe\"]\n"                      \
	"    actions: [log]\n"

/* the same rule with a severity that does not exist, on the 4th line of the rule */
#define HUP_BAD_RULE                                                     \
	"\n"                                                             \
	"  - name: scenario-hup-probe\n"                                 \
	"    description: The scenario tests' reload probe ran.\n"       \
	"    severity: severe\n"                                         \
	"    category: execution\n"                                      \
	"    match:\n"                                                   \
	"      event: exec\n"                                            \
	"      scope: container\n"                                       \
	"      binary: [\"*/ng-scen-hup-probe\"]\n"                      \
	"    actions: [log]\n"

static void hup_probe(struct run *r, int want_detection)
{
	static const struct exp_det want[] = {
		{ "scenario-hup-probe", "medium", "execution" },
	};
	struct ctr *c = new_ctr();
	char *argv[] = { env.probe, NULL };
	size_t from = mark(r);
	struct got g;

	run_ctr(c, argv);
	barrier(r);
	expect_incident(r, from, c, want, want_detection ? 1 : 0, "medium", &g);
	if (want_detection)
		EXPECT_STR(ev_of(&g, 0), "filename", env.probe);
}

static void test_sighup_reload(void **state)
{
	struct run *r = run_new("sighup");
	char pol[PATH_MAX + 16], want[2 * PATH_MAX + 256], *base, *text, *err_text;
	const char *extra[] = { "--policy", pol, NULL };
	size_t off, blen;
	int bad_line, err;

	(void)state;
	snprintf(pol, sizeof(pol), "%s/policy.yaml", r->jdir);
	base = read_text(env.policy);
	assert_non_null(base);
	blen = strlen(base);
	assert_int_equal(write_text(pol, base), 0);
	run_start(r, extra);

	/* the default policy has no rule for the probe */
	hup_probe(r, 0);

	/* a valid policy with one more rule: reloaded, and it detects */
	text = malloc(blen + sizeof(HUP_BAD_RULE) + 1);
	assert_non_null(text);
	snprintf(text, blen + sizeof(HUP_RULE) + 1, "%s%s", base, HUP_RULE);
	assert_int_equal(write_text(pol, text), 0);
	off = sa_stderr_len(&r->ag);
	assert_int_equal(kill(r->ag.pid, SIGHUP), 0);
	snprintf(want, sizeof(want), "nodeguard: info: SIGHUP: policy %s reloaded: %d rules\n", pol,
		 env.default_rules + 1);
	err = sa_wait_stderr(&r->ag, want, off, LINE_TIMEOUT_MS);
	EXPECT(!err, "no \"%s\" after SIGHUP\n", want);
	hup_probe(r, 1);

	/* an invalid one: rejected with FILE:LINE:COL, the running policy stays */
	snprintf(text, blen + sizeof(HUP_BAD_RULE) + 1, "%s%s", base, HUP_BAD_RULE);
	assert_int_equal(write_text(pol, text), 0);
	bad_line = count_lines(base) + 4; /* blank, name, description, severity */
	off = sa_stderr_len(&r->ag);
	assert_int_equal(kill(r->ag.pid, SIGHUP), 0);
	snprintf(want, sizeof(want), "nodeguard: error: SIGHUP: new policy %s rejected; the running policy stays\n", pol);
	err = sa_wait_stderr(&r->ag, want, off, LINE_TIMEOUT_MS);
	EXPECT(!err, "no \"%s\" after SIGHUP with a broken policy\n", want);
	snprintf(want, sizeof(want),
		 "nodeguard: error: %s:%d:15: unknown severity 'severe' (expected info, low, medium, high or critical)\n"
		 "nodeguard: error: SIGHUP: new policy %s rejected; the running policy stays\n",
		 pol, bad_line, pol);
	err_text = sa_stderr(&r->ag);
	EXPECT(err_text && strstr(err_text + off, want), "the rejection does not say \"%s\"\n", want);
	free(err_text);
	hup_probe(r, 1);

	free(text);
	free(base);
	run_stop(r);
	run_free(r);
	cur_run = NULL;
}

/* run `nodeguard args...`; exit status, stdout and stderr (malloc'd) */
static int run_cli(const char *const args[], char **out, char **err)
{
	char op[PATH_MAX + 32], ep[PATH_MAX + 32];
	const char *argv[16];
	int n = 0, st = 0, o, e;
	long deadline;
	pid_t pid;

	snprintf(op, sizeof(op), "%s/cli.out", env.dir);
	snprintf(ep, sizeof(ep), "%s/cli.err", env.dir);
	argv[n++] = "nodeguard";
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	o = open(op, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	e = open(ep, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(o >= 0 && e >= 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		execv(env.nodeguard, (char *const *)argv);
		_exit(127);
	}
	close(o);
	close(e);
	deadline = now_ms() + LINE_TIMEOUT_MS;
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		sleep_ms(10);
	}
	*out = read_text(op);
	*err = read_text(ep);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_policy_check(void **state)
{
	char bad[PATH_MAX + 16], broken[PATH_MAX + 16], want[PATH_MAX + 128], *base, *text, *out, *err;
	const char *ok_args[] = { "policy", "check", env.policy, NULL };
	const char *bad_args[] = { "policy", "check", bad, NULL };
	const char *broken_args[] = { "policy", "check", broken, NULL };
	size_t blen;
	int rc;

	(void)state;
	rc = run_cli(ok_args, &out, &err);
	snprintf(want, sizeof(want), "%s: ok, %d rules\n", env.policy, env.default_rules);
	EXPECT(rc == 0 && out && streq(out, want) && err && !*err,
	       "policy check %s: exit %d, stdout \"%s\", stderr \"%s\"; want 0, \"%s\", \"\"\n", env.policy,
	       rc, out ? out : "", err ? err : "", want);
	free(out);
	free(err);

	/* a value the schema does not allow */
	base = read_text(env.policy);
	assert_non_null(base);
	blen = strlen(base);
	text = malloc(blen + sizeof(HUP_BAD_RULE) + 64);
	assert_non_null(text);
	snprintf(bad, sizeof(bad), "%s/bad-policy.yaml", env.dir);
	snprintf(text, blen + sizeof(HUP_BAD_RULE) + 1, "%s%s", base, HUP_BAD_RULE);
	assert_int_equal(write_text(bad, text), 0);
	rc = run_cli(bad_args, &out, &err);
	snprintf(want, sizeof(want),
		 "%s:%d:15: unknown severity 'severe' (expected info, low, medium, high or critical)\n", bad,
		 count_lines(base) + 4);
	EXPECT(rc == 1 && streq(out, "") && streq(err, want),
	       "policy check of a bad severity: exit %d, stdout \"%s\", stderr \"%s\"; want 1, \"\", \"%s\"\n",
	       rc, out ? out : "", err ? err : "", want);
	free(out);
	free(err);

	/* YAML that does not parse: an unclosed flow sequence on a known line */
	snprintf(broken, sizeof(broken), "%s/broken-policy.yaml", env.dir);
	snprintf(text, blen + 64, "%s\n  - name: broken\n    mitre: [T1, T2\n", base);
	assert_int_equal(write_text(broken, text), 0);
	rc = run_cli(broken_args, &out, &err);
	/* libyaml reports the end of input, and where the sequence began */
	snprintf(want, sizeof(want),
		 "%s:%d:1: YAML: did not find expected ',' or ']' (while parsing a flow sequence at %d:12)\n",
		 broken, count_lines(base) + 4, count_lines(base) + 3);
	EXPECT(rc == 1 && streq(out, "") && streq(err, want),
	       "policy check of broken YAML: exit %d, stdout \"%s\", stderr \"%s\"; want 1, \"\", \"%s\"\n",
	       rc, out ? out : "", err ? err : "", want);
	free(out);
	free(err);
	free(text);
	free(base);
}

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

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[PATH_MAX * 2];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (!lstat(p, &st) && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void rm_scratch(void)
{
	if (getenv("NG_IT_KEEP")) {
		fprintf(stderr, "scenarios: kept %s and %s\n", env.dir, env.tmpdir);
		return;
	}
	if (env.dir[0])
		rm_tree(env.dir);
	if (env.tmpdir[0])
		rm_tree(env.tmpdir);
}

static void kill_agents(void)
{
	int i;

	for (i = 0; i < MAX_RUNS; i++)
		if (runs[i] && runs[i]->ag.pid > 0) {
			kill(runs[i]->ag.pid, SIGKILL);
			waitpid(runs[i]->ag.pid, NULL, 0);
			runs[i]->ag.pid = 0;
		}
}

static void cleanup_all(void)
{
	int i;

	kill_agents();
	for (i = 0; i < MAX_RUNS; i++)
		if (runs[i] && runs[i]->marker_made) {
			ctr_destroy(&runs[i]->marker);
			runs[i]->marker_made = 0;
		}
	ctr_cleanup_all();
	rm_scratch();
}

static int find_ip(void)
{
	static const char *const cand[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" };
	size_t i;

	for (i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (!access(cand[i], X_OK)) {
			snprintf(env.ip, sizeof(env.ip), "%s", cand[i]);
			return 0;
		}
	return -1;
}

static int setup_env(void)
{
	const char *ng = getenv("NODEGUARD") ? getenv("NODEGUARD") : "./nodeguard";
	const char *hp = getenv("NG_SCEN_HELPER") ? getenv("NG_SCEN_HELPER") : "build/tests/ng-scen-helper";
	const char *parent = getenv("NG_SCEN_DIR") ? getenv("NG_SCEN_DIR") : "/var/lib";
	const char *node = getenv("NODE_NAME");
	char root[PATH_MAX], *pol;
	struct statvfs sv;
	int err;

	if (!realpath(ng, env.nodeguard) || access(env.nodeguard, X_OK)) {
		fprintf(stderr, "scenarios: %s not found or not executable: build it with `make nodeguard`\n", ng);
		return -1;
	}
	if (access(hp, X_OK)) {
		fprintf(stderr, "scenarios: helper %s not found: build it with `make integration`\n", hp);
		return -1;
	}
	if (!realpath("policy/default.yaml", env.policy)) {
		fprintf(stderr, "scenarios: policy/default.yaml not found (run from the repository root)\n");
		return -1;
	}
	if (find_ip()) {
		fprintf(stderr, "scenarios: iproute2's ip not found (apt-get install iproute2)\n");
		return -1;
	}
	if (ctr_cgroup2_root(root, sizeof(root))) {
		fprintf(stderr, "scenarios: no cgroup2 mount in /proc/self/mountinfo\n");
		return -1;
	}
	pol = read_text(env.policy);
	if (!pol)
		return -1;
	{
		char *s = pol;

		for (env.default_rules = 0; (s = strstr(s, "\n  - name: ")); s++)
			env.default_rules++;
	}
	free(pol);
	if (node && *node)
		snprintf(env.node_default, sizeof(env.node_default), "%s", node);
	else if (gethostname(env.node_default, sizeof(env.node_default) - 1))
		snprintf(env.node_default, sizeof(env.node_default), "unknown");

	snprintf(env.dir, sizeof(env.dir), "%s/ng-scen-XXXXXX", parent);
	if (!strncmp(env.dir, "/tmp/", 5) || !strncmp(env.dir, "/var/tmp/", 9) ||
	    !strncmp(env.dir, "/dev/shm/", 9)) {
		fprintf(stderr, "scenarios: NG_SCEN_DIR %s: every exec there is a detection; pick another\n", parent);
		env.dir[0] = '\0';
		return -1;
	}
	if (!mkdtemp(env.dir)) {
		fprintf(stderr, "scenarios: mkdtemp %s: %s\n", env.dir, strerror(errno));
		env.dir[0] = '\0';
		return -1;
	}
	snprintf(env.tmpdir, sizeof(env.tmpdir), "/tmp/ng-scen-XXXXXX");
	if (!mkdtemp(env.tmpdir)) {
		perror("scenarios: mkdtemp /tmp");
		env.tmpdir[0] = '\0';
		return -1;
	}
	atexit(cleanup_all);
	/* the setuid helper is run by uid 1000: directories must be searchable */
	chmod(env.dir, 0755);
	chmod(env.tmpdir, 0755);
	if (!statvfs(env.dir, &sv) && (sv.f_flag & ST_NOSUID)) {
		fprintf(stderr, "scenarios: %s is on a nosuid mount: set NG_SCEN_DIR elsewhere\n", env.dir);
		return -1;
	}
	snprintf(env.helper, sizeof(env.helper), "%s/ng-scen-helper", env.dir);
	snprintf(env.suid, sizeof(env.suid), "%s/ng-scen-suid", env.dir);
	snprintf(env.probe, sizeof(env.probe), "%s/ng-scen-hup-probe", env.dir);
	snprintf(env.payload, sizeof(env.payload), "%s/payload", env.tmpdir);
	snprintf(env.marker, sizeof(env.marker), "%s/ng-scen-mark", env.tmpdir);
	if ((err = copy_file(hp, env.helper, 0755)) || (err = copy_file(hp, env.suid, 04755)) ||
	    (err = copy_file("/bin/true", env.probe, 0755)) ||
	    (err = copy_file("/bin/true", env.payload, 0755)) ||
	    (err = copy_file("/bin/true", env.marker, 0755))) {
		fprintf(stderr, "scenarios: Failed to copy helpers: %s\n", strerror(-err));
		return -1;
	}
	return 0;
}

static void on_watchdog(int sig)
{
	static const char m[] = "\nscenarios: FAILED: watchdog: the suite ran longer than 240 s\n";

	(void)sig;
	(void)!write(2, m, sizeof(m) - 1);
	cleanup_all();
	_exit(1);
}

#define T(f) cmocka_unit_test_teardown(f, test_teardown)

int main(void)
{
	const struct CMUnitTest scen_tests[] = {
		T(test_setuid_escalation),
		T(test_setuid_escalation_privileged),
		T(test_interactive_shell),
		T(test_exec_from_tmp),
		T(test_reverse_shell),
		T(test_metadata_connect),
		T(test_benign_workload),
		T(test_unexplained_credential_change),
		T(test_category_chain_escalates),
		T(test_timeline_full),
	};
	const struct CMUnitTest life_tests[] = {
		T(test_no_arguments),
		T(test_kill9_loses_nothing),
		T(test_restart_restore),
		T(test_sighup_reload),
		T(test_policy_check),
	};
	long start = now_ms();
	int fails = 0;

	if (geteuid() != 0 || access("/sys/kernel/btf/vmlinux", R_OK)) {
		const char *allow = getenv("NODEGUARD_ALLOW_SKIP");

		fprintf(stderr,
			"\n"
			"**********************************************************************\n"
			"*  SKIPPED: scenario tests need root and kernel BTF                  *\n"
			"*  (euid %-5u, /sys/kernel/btf/vmlinux %-9s)                     *\n"
			"*  Nothing was tested. Run as root on a kernel with BTF.             *\n"
			"**********************************************************************\n\n",
			(unsigned)geteuid(), access("/sys/kernel/btf/vmlinux", R_OK) ? "missing" : "present");
		return allow && !strcmp(allow, "1") ? 0 : 1;
	}
	if (setup_env())
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_watchdog);
	alarm(WATCHDOG_S);

	fails += cmocka_run_group_tests_name("scenarios", scen_tests, scen_setup, scen_teardown);
	fails += cmocka_run_group_tests_name("lifecycle", life_tests, NULL, NULL);
	fprintf(stderr, "scenarios: %d failed, %.1f s\n", fails, (now_ms() - start) / 1000.0);
	return fails ? 1 : 0;
}
