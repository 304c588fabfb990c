// SPDX-License-Identifier: Apache-2.0
/*
 * Containment tests: the real `nodeguard` agent with a test policy of kill,
 * deny and isolate rules, `nodeguardctl isolate|freeze|kill-container|release`
 * through its control socket, on the real kernel, root only.
 *
 * Every container is a kubelet-shaped cgroup with its own pid, mount, uts
 * and net namespaces (tests/integration/ctr.c) whose pid 1 is the shell-like
 * ng-contain-helper (contain_helper.c). Tests that need traffic give it a
 * veth to a "peer" namespace of ours (contain_lib.c): container 10.213.S.1,
 * peer 10.213.S.2-.9, nothing routed anywhere else. The agent itself runs in
 * a kubelet-shaped cgroup too (as a DaemonSet pod would), which is what the
 * self guardrail is about.
 *
 * Journal assertions replay <journal>/journal.jsonl with cJSON
 * (scen_journal.c + contain_lib.c), independently of agent/store/incident.c.
 *
 *   kill          setuid(0) by a setuid-root helper run by uid 1000: SIGKILL
 *                 in the kernel, no marker; the journal names the rule
 *   kill_dry_run  the same under a dry_run rule: marker, exit 0, "would"
 *   deny          EPERM to the denied CIDR:port; other ports/addresses and
 *                 host processes unaffected
 *   isolate       an established TCP connection stops in both directions,
 *                 new connects fail (out and in), loopback stays; release
 *                 restores all of it; Markdown report: intent/result/release
 *   isolate_rule  a connect matching an [isolate] rule isolates
 *   freeze        cgroup.events frozen 1, a busy loop's CPU time stops;
 *                 release thaws it
 *   kill_container  nodeguardctl kill-container empties the cgroup
 *   guardrail_self  the agent's own cgroup: manual actions refused, rule
 *                 actions and in-kernel kills not carried out
 *   rate_limit    rule_actions_per_minute 2, a burst of 5: 2 kills, 3
 *                 journaled as suppressed
 *   restart       SIGKILL the agent while a container is isolated: still
 *                 isolated; a new agent adopts it; release works
 *   uninstall     `nodeguard uninstall --force`: no pins, no ng_enf_* progs
 *                 or links left
 *
 * Environment: NODEGUARD (./nodeguard), NODEGUARDCTL (./nodeguardctl),
 * NG_CONTAIN_HELPER (build/tests/ng-contain-helper), BPFTOOL (bpftool),
 * NG_CONTAIN_DIR (parent of the scratch directory, default /var/lib: not
 * nosuid), NG_IT_KEEP=1 keeps the scratch directory,
 * NODEGUARD_ALLOW_SKIP=1 lets a run without root/BTF exit 0 after saying so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "contain_lib.h"
#include "ctr.h"
#include "scen_agent.h"
#include "scen_journal.h"

#define CMD_MS 20000          /* one helper command (recv waits up to 15 s) */
#define START_MS 15000        /* a container's helper says ready */
#define AGENT_START_MS 30000
#define AGENT_STOP_MS 15000
#define ACT_MS 10000          /* an action reaches the journal / takes effect */
#define CTL_MS 15000          /* one nodeguardctl call */
#define WATCHDOG_S 175
#define OTHERS_WAIT_S 90    /* for another agent to go away, before the watchdog starts */

#define NODE "ct-node"
#define PIN_DIR "/sys/fs/bpf/nodeguard"

/* ports on the peer (10.213.S.2 unless said) */
#define P_ALLOW 18080
#define P_DENY 18081          /* denied on .2 by ct-deny-peer */
#define P_HOLD 18082
#define P_IN 18083            /* the container's own listener */
#define P_ISO 18084           /* on .4: ct-isolate-on-connect */
#define P_BURST 18090         /* on .5, 18090-18099: ct-burst */

#define R_KILL "ct-kill-setuid-root"
#define R_DRY "ct-kill-setuid-root-dry"
#define R_DENY "ct-deny-peer"
#define R_ISO "ct-isolate-on-connect"
#define R_BURST "ct-burst"

/* ------------------------------------------------------------- fixtures */

static struct {
	char dir[PATH_MAX];      /* scratch, 0755, not nosuid */
	char helper[PATH_MAX];   /* dir/helper */
	char suid_kill[PATH_MAX];/* root 04755 copies of the helper */
	char suid_dry[PATH_MAX];
	char jdir[PATH_MAX];     /* journal directory */
	char journal[PATH_MAX + 32];
	char policy[PATH_MAX + 32];
	char sock[PATH_MAX + 32];
	char nodeguard[PATH_MAX];
	char ctl[PATH_MAX];
	char ip[PATH_MAX];
	char bpftool[PATH_MAX];
	char subnet[32];         /* 10.213.S */
	struct ctr agent_ctr;    /* the agent's own cgroup */
	int agent_ctr_made;
	struct agent ag;
	int agent_up, ag_used;
	char agent_script[PATH_MAX * 3];
} env;

/* boxes and peers of the running test; the per-test teardown removes them */
#define TEST_BOXES 4
static struct cbox *boxes[TEST_BOXES];
static struct peer *peers[TEST_BOXES];
static const struct cbox *cur_box; /* for failure messages */

static int streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static int has(const char *hay, const char *needle)
{
	return hay && needle && strstr(hay, needle);
}

/* ------------------------------------------------- failure context */

static size_t ctr_actions(struct sj *j, const char *ctr_id, struct cj_action *out, size_t max);

/* other `nodeguard run` agents on the node share the pinned state with ours */
static int other_agents(void)
{
	return ng_other_agents(env.ag.pid);
}

static void ctx_dump(void)
{
	struct sj j;
	int others = other_agents();

	if (others)
		fprintf(stderr, "NOTE: %d other nodeguard agent(s) run on this node: they share the pinned "
			"state under " PIN_DIR " with ours, and interfere\n", others);

	if (cur_box) {
		fprintf(stderr, "container %.12s (cgroup %" PRIu64 ", helper pid %d), last reply \"%s\"\n",
			cur_box->c.id, cur_box->c.cgroup_id, (int)cur_box->pid, cur_box->line);
	}
	if (env.ag.err_path[0]) {
		char *s = sa_stderr(&env.ag);
		size_t n = s ? strlen(s) : 0;

		fprintf(stderr, "agent stderr (last 4000 bytes):\n%s\n", s ? s + (n > 4000 ? n - 4000 : 0) : "");
		free(s);
	}
	if (!sj_load(&j, env.journal)) {
		static struct cj_action a[CJ_MAX_ACTIONS];
		size_t n = cur_box ? ctr_actions(&j, cur_box->c.id, a, CJ_MAX_ACTIONS)
				   : cj_actions(&j, NULL, a, CJ_MAX_ACTIONS);

		fprintf(stderr, "journal: %zu incidents; %zu action records%s:\n%s", j.ninc, n,
			cur_box ? " of this container" : "", cj_describe(a, n < CJ_MAX_ACTIONS ? n : CJ_MAX_ACTIONS));
		sj_free(&j);
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

/* a helper command whose reply must be exactly want */
static void expect_reply_at(int line, struct cbox *b, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void expect_reply_at(int line, struct cbox *b, const char *want, const char *fmt, ...)
{
	char cmd[1024];
	const char *r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = cbox_cmd(b, CMD_MS, "%s", cmd);
	if (!streq(r, want)) {
		print_error("helper: `%s` replied \"%s\", want \"%s\"\n", cmd, r ? r : "(nothing)", want);
		ctx_dump();
		_fail(__FILE__, line);
	}
}

#define EXPECT_REPLY(b, want, ...) expect_reply_at(__LINE__, b, want, __VA_ARGS__)

/* ------------------------------------------------- agent */

static void ng_agent_up(void)
{
	/* sa_start runs bin with argv[0] "nodeguard": sh -c joins the agent's
	 * cgroup, then execs the agent with "$@" */
	const char *args[] = { "-c", env.agent_script, env.nodeguard, "run", "--policy", env.policy,
			       "--journal-dir", env.jdir, "--node-name", NODE, NULL };
	int err;

	if (env.ag_used)
		agent_free(&env.ag); /* a previous run's lines and fds */
	env.ag_used = 1;
	err = sa_start(&env.ag, "/bin/sh", args, env.dir, NULL, AGENT_START_MS);

	if (err) {
		char *s = sa_stderr(&env.ag);

		print_error("nodeguard run did not start (%s, status %#x):\n%s\n", strerror(-err),
			    env.ag.exit_status, s ? s : "");
		free(s);
		fail();
	}
	env.agent_up = 1;
	EXPECT(ctr_cgroup_id_of(env.ag.pid) == env.agent_ctr.cgroup_id,
	       "the agent (pid %d) is not in its cgroup %s\n", (int)env.ag.pid, env.agent_ctr.scope);
}

static void agent_alive(void)
{
	int st;

	if (env.ag.pid > 0 && waitpid(env.ag.pid, &st, WNOHANG) == env.ag.pid) {
		env.ag.pid = 0;
		env.agent_up = 0;
		env.ag.exit_status = st;
		FAILF("the agent died (status %#x)\n", st);
	}
}

static void agent_stop_now(void)
{
	if (!env.agent_up)
		return;
	agent_stop(&env.ag, AGENT_STOP_MS);
	env.agent_up = 0;
}

/* nodeguardctl ARGS...; exit status, stdout+stderr in out */
static int ctl(char *out, size_t outn, ...)
{
	char *argv[16], err[4096] = "", o[4096] = "";
	va_list ap;
	int n = 0, rc;

	argv[n++] = env.ctl;
	va_start(ap, outn);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = run_capture(argv, o, sizeof(o), err, sizeof(err), CTL_MS);
	if (out)
		snprintf(out, outn, "%s%s%s", o, *o && *err ? " | stderr: " : "", err);
	return rc;
}

/* ------------------------------------------------- boxes */

static int test_teardown(void **state)
{
	int i;

	(void)state;
	cur_box = NULL;
	for (i = 0; i < TEST_BOXES; i++) {
		if (boxes[i]) {
			cbox_stop(boxes[i], 2000);
			free(boxes[i]);
			boxes[i] = NULL;
		}
		if (peers[i]) {
			peer_destroy(peers[i]);
			free(peers[i]);
			peers[i] = NULL;
		}
	}
	return 0;
}

/* a container running the helper; in ctr's cgroup when given; with a veth to a peer when p */
static struct cbox *box_new(struct ctr *in, struct peer **p)
{
	char msg[512];
	int i, err;

	for (i = 0; i < TEST_BOXES && boxes[i]; i++)
		;
	if (i == TEST_BOXES)
		fail_msg("more than %d containers in one test", TEST_BOXES);
	boxes[i] = calloc(1, sizeof(struct cbox));
	assert_non_null(boxes[i]);
	err = cbox_start(boxes[i], in, env.helper, env.dir, START_MS, msg, sizeof(msg));
	if (err) {
		free(boxes[i]);
		boxes[i] = NULL;
		FAILF("Failed to start a container: %s\n", msg);
	}
	cur_box = boxes[i];
	if (p) {
		peers[i] = calloc(1, sizeof(struct peer));
		assert_non_null(peers[i]);
		err = peer_create(peers[i], env.subnet);
		if (err) {
			free(peers[i]);
			peers[i] = NULL;
			FAILF("Failed to create the peer namespace: %s\n", strerror(-err));
		}
		err = peer_link(peers[i], boxes[i]->pid, env.ip, msg, sizeof(msg));
		EXPECT(!err, "Failed to link the container to its peer: %s\n", msg);
		*p = peers[i];
	}
	return boxes[i];
}

static void addr(char *buf, size_t n, int host)
{
	snprintf(buf, n, "%s.%d", env.subnet, host);
}

/* the peer end of the held connection: accepted on lfd */
static int peer_accept(int lfd)
{
	int fd = tcp_accept_tmo(lfd, CMD_MS);

	EXPECT(fd >= 0, "the peer did not accept the container's connection: %s\n", strerror(-fd));
	return fd;
}

/* exactly text arrives on fd within ms */
static void expect_peer_gets(int fd, const char *text, int ms)
{
	char buf[256];
	size_t got = 0, want = strlen(text);
	uint64_t deadline = mono_ns() + (uint64_t)ms * 1000000ull;

	while (got < want) {
		int64_t left = (int64_t)(deadline - mono_ns()) / 1000000;
		ssize_t n;

		if (left <= 0 || deadline < mono_ns())
			FAILF("the peer received \"%.*s\" of \"%s\" within %d ms\n", (int)got, buf, text, ms);
		n = recv_tmo(fd, buf + got, want - got, (int)left);
		if (n == -ETIMEDOUT)
			continue;
		EXPECT(n > 0, "the peer's recv: %s\n", n == 0 ? "eof" : strerror((int)-n));
		got += (size_t)n;
	}
	EXPECT(!memcmp(buf, text, want), "the peer received \"%.*s\", want \"%s\"\n", (int)want, buf, text);
}

static void expect_peer_gets_nothing(int fd, int ms)
{
	char buf[256];
	ssize_t n = recv_tmo(fd, buf, sizeof(buf), ms);

	EXPECT(n == -ETIMEDOUT, "the peer received %s within %d ms, want nothing\n",
	       n > 0 ? "data" : n == 0 ? "eof" : strerror((int)-n), ms);
}

static void peer_send(int fd, const char *text)
{
	ssize_t n = send(fd, text, strlen(text), MSG_NOSIGNAL);

	EXPECT(n == (ssize_t)strlen(text), "the peer's send: %s\n", n < 0 ? strerror(errno) : "short");
}

/* an inbound connect from the peer to the container's listener: 0 or -errno */
static int inbound(struct peer *p, int ms)
{
	char ip[48];
	int fd = peer_socket(p), r;

	EXPECT(fd >= 0, "peer socket: %s\n", strerror(-fd));
	addr(ip, sizeof(ip), 1);
	r = tcp_connect_tmo(fd, ip, P_IN, ms);
	close(fd);
	return r;
}

/* ------------------------------------------------- journal */

struct want_act {
	const char *action, *phase, *result; /* NULL: any */
};

static int act_is(const struct cj_action *a, const struct want_act *w)
{
	return (!w->action || streq(a->action, w->action)) && (!w->phase || streq(a->phase, w->phase)) &&
	       (!w->result || streq(a->result, w->result));
}

/* action records of every incident of the container, in journal order */
static size_t ctr_actions(struct sj *j, const char *ctr_id, struct cj_action *out, size_t max)
{
	struct sj_incident *inc[32];
	size_t ni = cj_incidents_for(j, ctr_id, inc, 32), i, n = 0, k;
	static struct cj_action all[CJ_MAX_ACTIONS];
	size_t na = cj_actions(j, NULL, all, CJ_MAX_ACTIONS);

	for (k = 0; k < na && k < CJ_MAX_ACTIONS; k++)
		for (i = 0; i < ni && i < 32; i++)
			if (streq(all[k].incident, inc[i]->id)) {
				if (n < max)
					out[n] = all[k];
				n++;
			}
	return n;
}

static size_t count_acts(const struct cj_action *a, size_t n, const struct want_act *w)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += act_is(&a[i], w);
	return c;
}

/*
 * Wait until the journal holds at least `want` action records like w for
 * the container; load it into j (the caller frees) and its actions into a.
 */
static size_t wait_acts(struct sj *j, const char *ctr_id, const struct want_act *w, size_t want,
			struct cj_action *a, size_t *na, int ms)
{
	uint64_t deadline = mono_ns() + (uint64_t)ms * 1000000ull;
	size_t c;

	for (;;) {
		int err = sj_load(j, env.journal);

		*na = err ? 0 : ctr_actions(j, ctr_id, a, CJ_MAX_ACTIONS);
		if (*na > CJ_MAX_ACTIONS)
			*na = CJ_MAX_ACTIONS;
		c = count_acts(a, *na, w);
		if (c >= want || mono_ns() > deadline)
			return c;
		sj_free(j);
		agent_alive();
		msleep(50);
	}
}

static void expect_journal_sane(const struct sj *j)
{
	EXPECT(j->malformed == 0, "journal: %zu malformed lines\n", j->malformed);
	EXPECT(j->orphans == 0, "journal: %zu records of incidents never opened\n", j->orphans);
	EXPECT(j->bad_refs == 0, "journal: %zu records with impossible entry indexes\n", j->bad_refs);
}

/* the container's one incident */
static struct sj_incident *one_incident(struct sj *j, const char *ctr_id)
{
	struct sj_incident *inc[8];
	size_t n = cj_incidents_for(j, ctr_id, inc, 8);

	EXPECT(n == 1, "%zu incidents for container %.12s in the journal, want 1\n", n, ctr_id);
	return inc[0];
}

static int det_has_rule(const struct sj_incident *inc, const char *rule)
{
	size_t i;

	for (i = 0; i < inc->ndet; i++)
		if (streq(inc->det[i].rule, rule))
			return 1;
	return 0;
}

/* does any string field of the action record mention s? */
static int act_mentions(const struct cj_action *a, const char *s)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, a->obj)
		if (cJSON_IsString(it) && has(it->valuestring, s))
			return 1;
	return 0;
}

/* ============================================================ kill */

static void run_suid(struct cbox *b, const char *suid, const char *marker, int *st)
{
	const char *r = cbox_cmd(b, CMD_MS, "suid %s %s", suid, marker);
	unsigned long long lat;

	EXPECT(r && sscanf(r, "status %d lat_ns %llu", st, &lat) == 2, "suid: reply \"%s\"\n", r ? r : "(nothing)");
}

static void test_kill(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act kill_ok = { "kill", NULL, "ok" };
	struct cbox *b = box_new(NULL, NULL);
	char marker[PATH_MAX + 32];
	struct sj j;
	struct sj_incident *inc;
	size_t na, i;
	int st = 0, named = 0;

	(void)state;
	snprintf(marker, sizeof(marker), "%s/marker-kill-%.12s", env.dir, b->c.id);
	run_suid(b, env.suid_kill, marker, &st);
	EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	       "the setuid(0) process ended with wait status %#x (%s %d), want killed by SIGKILL\n", st,
	       WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	EXPECT(access(marker, F_OK) && errno == ENOENT, "the marker %s exists: the process ran on after setuid(0)\n",
	       marker);

	EXPECT(wait_acts(&j, b->c.id, &kill_ok, 1, a, &na, ACT_MS) >= 1,
	       "no kill action with result ok in the journal within %d ms:\n%s", ACT_MS, cj_describe(a, na));
	expect_journal_sane(&j);
	inc = one_incident(&j, b->c.id);
	for (i = 0; i < na; i++) {
		EXPECT(!streq(a[i].result, "would") && !streq(a[i].result, "failed"),
		       "kill action record with result %s:\n%s", a[i].result, cj_describe(a, na));
		if (act_is(&a[i], &kill_ok))
			EXPECT(a[i].dry_run == 0, "the kill record has dry_run %d, want false\n", a[i].dry_run);
		if (streq(a[i].action, "kill"))
			named |= act_mentions(&a[i], R_KILL);
	}
	EXPECT(named || det_has_rule(inc, R_KILL),
	       "neither the kill record nor a detection names rule %s:\n%s%s\n", R_KILL, cj_describe(a, na),
	       sj_describe(inc));
	EXPECT(named, "the kill record does not name rule %s:\n%s", R_KILL, cj_describe(a, na));
	print_message("kill: wait status %#x, %zu action records, rule named in the record\n", st, na);
	sj_free(&j);
}

static void test_kill_dry_run(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act would = { "kill", NULL, "would" };
	static const struct want_act any_ok = { NULL, NULL, "ok" };
	struct cbox *b = box_new(NULL, NULL);
	char marker[PATH_MAX + 32];
	struct sj j;
	size_t na, i;
	int st = -1, named = 0;

	(void)state;
	snprintf(marker, sizeof(marker), "%s/marker-dry-%.12s", env.dir, b->c.id);
	run_suid(b, env.suid_dry, marker, &st);
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the dry-run setuid(0) process: wait status %#x, want exit 0\n", st);
	EXPECT(access(marker, F_OK) == 0, "no marker %s: the dry-run rule stopped the process\n", marker);

	EXPECT(wait_acts(&j, b->c.id, &would, 1, a, &na, ACT_MS) >= 1,
	       "no kill action with result \"would\" in the journal within %d ms:\n%s", ACT_MS, cj_describe(a, na));
	expect_journal_sane(&j);
	one_incident(&j, b->c.id);
	EXPECT(count_acts(a, na, &any_ok) == 0, "an action with result ok under a dry-run rule:\n%s", cj_describe(a, na));
	for (i = 0; i < na; i++) {
		if (act_is(&a[i], &would))
			EXPECT(a[i].dry_run == 1, "the \"would\" kill record has dry_run %d, want true\n", a[i].dry_run);
		if (streq(a[i].action, "kill"))
			named |= act_mentions(&a[i], R_DRY);
	}
	EXPECT(named, "the \"would kill\" record does not name rule %s:\n%s", R_DRY, cj_describe(a, na));
	sj_free(&j);
}

/* ============================================================ deny */

static void test_deny(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act deny_ok = { "deny", NULL, "ok" };
	struct peer *p;
	struct cbox *b = box_new(NULL, &p);
	int l1 = peer_listen(p, 2, P_ALLOW), l2 = peer_listen(p, 2, P_DENY), l3 = peer_listen(p, 3, P_DENY);
	char ip2[48], ip3[48], first_r[256];
	const char *first, *r2 = NULL;
	uint64_t deadline;
	struct sj j;
	size_t na, i;
	int fd, r, named = 0;

	(void)state;
	EXPECT(l1 >= 0 && l2 >= 0 && l3 >= 0, "peer listeners: %d %d %d\n", l1, l2, l3);
	addr(ip2, sizeof(ip2), 2);
	addr(ip3, sizeof(ip3), 3);
	/* the offending connect itself, then (once the agent has acted) the next ones */
	first = cbox_cmd(b, CMD_MS, "connect %s %d %d", ip2, P_DENY, 3000);
	snprintf(first_r, sizeof(first_r), "%s", first ? first : "(nothing)");
	for (deadline = mono_ns() + ACT_MS * 1000000ull; mono_ns() < deadline; msleep(20)) {
		r2 = cbox_cmd(b, CMD_MS, "connect %s %d %d", ip2, P_DENY, 3000);
		if (!streq(r2, "ok"))
			break;
	}
	EXPECT(streq(r2, "err EPERM"), "connects to the denied %s:%d are not refused with EPERM: \"%s\"\n", ip2,
	       P_DENY, r2 ? r2 : "(nothing)");
	EXPECT_REPLY(b, "err EPERM", "connect %s %d %d", ip2, P_DENY, 3000);
	EXPECT_REPLY(b, "ok", "connect %s %d %d", ip2, P_ALLOW, 3000);
	EXPECT_REPLY(b, "ok", "connect %s %d %d", ip3, P_DENY, 3000);
	/* the rule's scope is container: a host process (our cgroup) is not denied */
	fd = peer_socket(p);
	EXPECT(fd >= 0, "peer socket: %s\n", strerror(-fd));
	r = tcp_connect_tmo(fd, ip2, P_DENY, 3000);
	close(fd);
	EXPECT(r == 0, "a host process's connect to %s:%d (rule scope: container): %s, want success\n", ip2,
	       P_DENY, strerror(-r));

	EXPECT(wait_acts(&j, b->c.id, &deny_ok, 1, a, &na, ACT_MS) >= 1,
	       "no deny action with result ok journaled for the container within %d ms:\n%s", ACT_MS,
	       cj_describe(a, na));
	expect_journal_sane(&j);
	for (i = 0; i < na; i++)
		if (streq(a[i].action, "deny"))
			named |= act_mentions(&a[i], R_DENY);
	EXPECT(named, "the deny records do not name rule %s:\n%s", R_DENY, cj_describe(a, na));
	sj_free(&j);
	/* docs/policy.md: deny "refuses the offending connection in the kernel" */
	EXPECT(streq(first_r, "err EPERM"),
	       "the first connect to the denied %s:%d (the one the rule matched) returned \"%s\", want \"err "
	       "EPERM\": deny is applied only after the detection, so the offending connection goes through\n",
	       ip2, P_DENY, first_r);
	close(l1);
	close(l2);
	close(l3);
}


/*
 * A brand-new container whose very first act is the connect: the agent has
 * seen nothing of it yet, so only the container-wide deny entries compiled
 * from the policy can refuse it. Without them the connect reaches routing and
 * fails with ENETUNREACH (the peer subnet is only reachable through a box's
 * veth), with them it is refused with EPERM before routing.
 */
static void test_deny_fresh_container(void **state)
{
	char root[PATH_MAX], dir[PATH_MAX], ip2[48], hex[65];
	unsigned char rnd[32];
	int pfd[2], i, refused = 0, tries = 5;

	(void)state;
	EXPECT(!ctr_cgroup2_root(root, sizeof(root)), "no cgroup2 mount\n");
	addr(ip2, sizeof(ip2), 2);
	for (i = 0; i < tries; i++) {
		char res[64] = "";
		pid_t pid;
		int st = 0;
		ssize_t n;

		EXPECT(getrandom(rnd, sizeof(rnd), 0) == sizeof(rnd), "getrandom\n");
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", rnd[k]);
		snprintf(dir, sizeof(dir),
			 "%s/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%02x%02x%02x%02x_0000_4000_8000_000000000%03d.slice/cri-containerd-%s.scope",
			 root, rnd[0], rnd[1], rnd[2], rnd[3], i, hex);
		for (char *q = dir + strlen(root) + 1; (q = strchr(q, '/')); q++) {
			*q = '\0';
			mkdir(dir, 0755);
			*q = '/';
		}
		EXPECT(!mkdir(dir, 0755), "mkdir %s: %s\n", dir, strerror(errno));
		EXPECT(!pipe(pfd), "pipe\n");
		pid = fork();
		EXPECT(pid >= 0, "fork\n");
		if (pid == 0) {
			char pb[PATH_MAX];
			int fd = -1, r;
			pid_t c;

			close(pfd[0]);
			snprintf(pb, sizeof(pb), "%s/cgroup.procs", dir);
			fd = open(pb, O_WRONLY);
			if (fd < 0 || write(fd, "0", 1) != 1) {
				dprintf(pfd[1], "cgroup.procs: %s", strerror(errno));
				_exit(3);
			}
			close(fd);
			if (unshare(CLONE_NEWNS | CLONE_NEWPID)) {
				(void)!write(pfd[1], "unshare", 7);
				_exit(4);
			}
			c = fork();
			if (c == 0) {
				/* the first thing this container does */
				int sfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

				r = sfd < 0 ? -errno : tcp_connect_tmo(sfd, ip2, P_DENY, 2000);
				(void)!write(pfd[1], r == -EPERM ? "EPERM" : r == 0 ? "ok" : strerror(-r),
					     r == -EPERM ? 5 : r == 0 ? 2 : strlen(strerror(-r)));
				_exit(0);
			}
			if (c < 0)
				(void)!write(pfd[1], "fork", 4);
			else if (waitpid(c, &r, 0) == c && WIFSIGNALED(r))
				dprintf(pfd[1], "signal %d", WTERMSIG(r));
			_exit(0);
		}
		close(pfd[1]);
		n = read(pfd[0], res, sizeof(res) - 1);
		close(pfd[0]);
		waitpid(pid, &st, 0);
		rmdir(dir);
		*strrchr(dir, '/') = '\0';
		rmdir(dir); /* the pod slice */
		res[n > 0 ? n : 0] = '\0';
		if (!strcmp(res, "EPERM"))
			refused++;
		else
			fprintf(stderr, "fresh container %d: first connect to %s:%d gave \"%s\" (status %#x)\n", i,
				ip2, P_DENY, res, st);
	}
	EXPECT(refused == tries,
	       "%d of %d brand-new containers had their first connect to the denied %s:%d refused\n",
	       refused, tries, ip2, P_DENY);
}

/* ============================================================ isolate */

/* rows of the Markdown report's "## Actions" table: "| time | action | phase | target | result | ..." */
static void expect_md_actions(const char *incident, const char *action)
{
	static char out[262144];
	char *argv[] = { env.ctl, "report", (char *)incident, "--format", "md", "--dir", env.jdir, NULL };
	char err[2048];
	int rc = run_capture(argv, out, sizeof(out), err, sizeof(err), CTL_MS);
	char *sec, *line, *save = NULL;
	int intent = 0, result = 0, release = 0;

	EXPECT(rc == 0, "nodeguardctl report %s --format md: exit %d: %s\n", incident, rc, err);
	sec = strstr(out, "## Actions");
	EXPECT(sec, "the Markdown report has no \"## Actions\" section:\n%s\n", out);
	for (line = strtok_r(sec, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *cell[8];
		int n = 0;
		char *s = line, *bar;

		if (line != sec && !strncmp(line, "## ", 3))
			break;
		if (line[0] != '|')
			continue;
		while (n < 8 && (bar = strchr(s, '|'))) {
			*bar = '\0';
			cell[n++] = s;
			s = bar + 1;
		}
		/* cell[0] is before the first '|': | time | action | phase | target | result */
		if (n < 6)
			continue;
		for (int k = 1; k < n; k++) {
			while (*cell[k] == ' ')
				cell[k]++;
			for (char *e = cell[k] + strlen(cell[k]); e > cell[k] && e[-1] == ' ';)
				*--e = '\0';
		}
		if (strcmp(cell[2], action))
			continue;
		intent |= streq(cell[3], "intent");
		result |= streq(cell[3], "result") && streq(cell[5], "ok");
		release |= streq(cell[3], "release");
	}
	EXPECT(intent && result && release,
	       "the Markdown report's Actions table of %s: %s intent %s, result ok %s, release %s\n", incident,
	       action, intent ? "shown" : "MISSING", result ? "shown" : "MISSING", release ? "shown" : "MISSING");
}

/* the incident's release record says who released it */
static void expect_release_who(const struct cj_action *a, size_t na, const char *action)
{
	size_t i;

	for (i = 0; i < na; i++) {
		if (!streq(a[i].action, action) || !streq(a[i].phase, "release"))
			continue;
		EXPECT(act_mentions(&a[i], "uid 0") && act_mentions(&a[i], "nodeguardctl"),
		       "the %s release record does not say who released it (uid 0, nodeguardctl):\n%s", action,
		       cj_describe(&a[i], 1));
		return;
	}
	FAILF("no %s release record:\n%s", action, cj_describe(a, na));
}

static void test_isolate(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act iso_intent = { "isolate", "intent", NULL },
				     iso_ok = { "isolate", "result", "ok" },
				     iso_rel = { "isolate", "release", NULL };
	struct peer *p;
	struct cbox *b = box_new(NULL, &p);
	int lh = peer_listen(p, 2, P_HOLD), la = peer_listen(p, 2, P_ALLOW), pfd, rc;
	char ip2[48], out[8192];
	struct sj j;
	struct sj_incident *inc;
	size_t na;

	(void)state;
	EXPECT(lh >= 0 && la >= 0, "peer listeners: %d %d\n", lh, la);
	addr(ip2, sizeof(ip2), 2);
	EXPECT_REPLY(b, "ok", "listen %d", P_IN);
	EXPECT_REPLY(b, "ok", "hold %s %d %d", ip2, P_HOLD, 3000);
	pfd = peer_accept(lh);
	/* before: data both ways, connects both ways */
	EXPECT_REPLY(b, "ok", "send ping1");
	expect_peer_gets(pfd, "ping1", 3000);
	peer_send(pfd, "pong1");
	EXPECT_REPLY(b, "data pong1", "recv %d", 3000);
	EXPECT_REPLY(b, "ok", "connect %s %d %d", ip2, P_ALLOW, 3000);
	rc = inbound(p, 3000);
	EXPECT(rc == 0, "inbound connect before isolation: %s\n", strerror(-rc));

	rc = ctl(out, sizeof(out), "isolate", "--container", b->c.id, NULL);
	EXPECT(rc == 0, "nodeguardctl isolate --container %s: exit %d: %s\n", b->c.id, rc, out);

	/* isolated: nothing flows either way, new connects fail either way */
	EXPECT_REPLY(b, "ok", "send ping2"); /* queued in the kernel, never delivered */
	expect_peer_gets_nothing(pfd, 1000);
	peer_send(pfd, "pong2");
	EXPECT_REPLY(b, "timeout", "recv %d", 1000);
	EXPECT_REPLY(b, "err EPERM", "connect %s %d %d", ip2, P_ALLOW, 3000);
	EXPECT_REPLY(b, "err EPERM", "udp %s %d", ip2, P_ALLOW);
	rc = inbound(p, 1000);
	EXPECT(rc == -ETIMEDOUT, "inbound connect to an isolated container: %s, want a timeout (SYN dropped)\n",
	       rc ? strerror(-rc) : "connected");
	/* loopback stays */
	EXPECT_REPLY(b, "ok", "connect 127.0.0.1 %d %d", P_IN, 3000);

	EXPECT(wait_acts(&j, b->c.id, &iso_ok, 1, a, &na, ACT_MS) >= 1, "no isolate result ok journaled:\n%s",
	       cj_describe(a, na));
	inc = one_incident(&j, b->c.id);
	EXPECT(streq(inc->status, "contained"), "incident status %s after isolate, want contained\n", inc->status);
	sj_free(&j);

	rc = ctl(out, sizeof(out), "release", "--container", b->c.id, NULL);
	EXPECT(rc == 0, "nodeguardctl release --container %s: exit %d: %s\n", b->c.id, rc, out);

	/* released: the queued data arrives (TCP retransmits), both ways; new connects work */
	expect_peer_gets(pfd, "ping2", 10000);
	EXPECT_REPLY(b, "data pong2", "recv %d", 10000);
	EXPECT_REPLY(b, "ok", "send ping3");
	expect_peer_gets(pfd, "ping3", 5000);
	EXPECT_REPLY(b, "ok", "connect %s %d %d", ip2, P_ALLOW, 3000);
	rc = inbound(p, 3000);
	EXPECT(rc == 0, "inbound connect after release: %s\n", strerror(-rc));

	EXPECT(wait_acts(&j, b->c.id, &iso_rel, 1, a, &na, ACT_MS) >= 1, "no isolate release journaled:\n%s",
	       cj_describe(a, na));
	expect_journal_sane(&j);
	inc = one_incident(&j, b->c.id);
	EXPECT(count_acts(a, na, &iso_intent) == 1 && count_acts(a, na, &iso_ok) == 1 &&
	       count_acts(a, na, &iso_rel) == 1,
	       "isolate records: %zu intent, %zu result ok, %zu release; want 1 each:\n%s",
	       count_acts(a, na, &iso_intent), count_acts(a, na, &iso_ok), count_acts(a, na, &iso_rel),
	       cj_describe(a, na));
	expect_release_who(a, na, "isolate");
	EXPECT(streq(inc->status, "released"), "incident status %s after release, want released\n", inc->status);
	expect_md_actions(inc->id, "isolate");
	sj_free(&j);
	close(pfd);
	close(lh);
	close(la);
}

static void test_isolate_rule(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act iso_ok = { "isolate", "result", "ok" };
	struct peer *p;
	struct cbox *b = box_new(NULL, &p);
	char ip2[48], ip4[48], out[8192];
	const char *r = NULL;
	struct sj j;
	struct sj_incident *inc;
	uint64_t deadline;
	size_t na;
	int rc;

	(void)state;
	addr(ip2, sizeof(ip2), 2);
	addr(ip4, sizeof(ip4), 4);
	EXPECT_REPLY(b, "ok", "udp %s %d", ip2, P_ALLOW);
	/* the triggering connect: nothing listens there, any result */
	r = cbox_cmd(b, CMD_MS, "connect %s %d %d", ip4, P_ISO, 1000);
	EXPECT(r, "the trigger connect got no reply\n");
	for (deadline = mono_ns() + ACT_MS * 1000000ull; mono_ns() < deadline; msleep(20)) {
		r = cbox_cmd(b, CMD_MS, "udp %s %d", ip2, P_ALLOW);
		if (!streq(r, "ok"))
			break;
	}
	EXPECT(streq(r, "err EPERM"), "after a connect matching %s the container is not isolated (udp: %s)\n", R_ISO,
	       r ? r : "(nothing)");
	EXPECT(wait_acts(&j, b->c.id, &iso_ok, 1, a, &na, ACT_MS) >= 1, "no isolate result ok journaled:\n%s",
	       cj_describe(a, na));
	expect_journal_sane(&j);
	inc = one_incident(&j, b->c.id);
	EXPECT(det_has_rule(inc, R_ISO), "no detection of %s: %s\n", R_ISO, sj_describe(inc));
	EXPECT(streq(inc->status, "contained"), "incident status %s, want contained\n", inc->status);
	/* release by incident id this time */
	rc = ctl(out, sizeof(out), "release", inc->id, NULL);
	EXPECT(rc == 0, "nodeguardctl release %s: exit %d: %s\n", inc->id, rc, out);
	sj_free(&j);
	EXPECT_REPLY(b, "ok", "udp %s %d", ip2, P_ALLOW);
}

/* ============================================================ freeze */

static void test_freeze(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act fr_intent = { "freeze", "intent", NULL },
				     fr_ok = { "freeze", "result", "ok" },
				     fr_rel = { "freeze", "release", NULL };
	struct cbox *b = box_new(NULL, NULL);
	const char *r = cbox_cmd(b, CMD_MS, "spin");
	long long t0, t1, t2;
	char out[8192];
	struct sj j;
	struct sj_incident *inc;
	uint64_t deadline;
	pid_t spin;
	size_t na;
	int rc;

	(void)state;
	EXPECT(r && sscanf(r, "pid %d", &spin) == 1 && spin > 0, "spin: \"%s\"\n", r ? r : "(nothing)");
	t0 = proc_cpu_ticks(spin);
	msleep(300);
	t1 = proc_cpu_ticks(spin);
	EXPECT(t0 >= 0 && t1 > t0, "the busy loop (pid %d) burns no CPU: %lld -> %lld ticks\n", (int)spin, t0, t1);
	EXPECT(cg_frozen(b->c.scope) == 0, "cgroup.events frozen is %d before freeze\n", cg_frozen(b->c.scope));

	rc = ctl(out, sizeof(out), "freeze", "--container", b->c.id, NULL);
	EXPECT(rc == 0, "nodeguardctl freeze --container %s: exit %d: %s\n", b->c.id, rc, out);
	for (deadline = mono_ns() + ACT_MS * 1000000ull; cg_frozen(b->c.scope) != 1 && mono_ns() < deadline;)
		msleep(10);
	EXPECT(cg_frozen(b->c.scope) == 1, "cgroup.events does not say frozen 1 within %d ms\n", ACT_MS);
	t1 = proc_cpu_ticks(spin);
	msleep(700);
	t2 = proc_cpu_ticks(spin);
	EXPECT(t1 >= 0 && t2 == t1, "the busy loop's CPU time went on while frozen: %lld -> %lld ticks\n", t1, t2);

	EXPECT(wait_acts(&j, b->c.id, &fr_ok, 1, a, &na, ACT_MS) >= 1, "no freeze result ok journaled:\n%s",
	       cj_describe(a, na));
	inc = one_incident(&j, b->c.id);
	EXPECT(streq(inc->status, "contained"), "incident status %s after freeze, want contained\n", inc->status);
	sj_free(&j);

	rc = ctl(out, sizeof(out), "release", "--container", b->c.id, NULL);
	EXPECT(rc == 0, "nodeguardctl release --container %s: exit %d: %s\n", b->c.id, rc, out);
	for (deadline = mono_ns() + ACT_MS * 1000000ull; cg_frozen(b->c.scope) != 0 && mono_ns() < deadline;)
		msleep(10);
	EXPECT(cg_frozen(b->c.scope) == 0, "cgroup.events does not say frozen 0 after release\n");
	t1 = proc_cpu_ticks(spin);
	msleep(300);
	t2 = proc_cpu_ticks(spin);
	EXPECT(t2 > t1, "the busy loop burns no CPU after release: %lld -> %lld ticks\n", t1, t2);
	EXPECT_REPLY(b, "ok", "udp 127.0.0.1 %d", P_ALLOW); /* the shell answers again */

	EXPECT(wait_acts(&j, b->c.id, &fr_rel, 1, a, &na, ACT_MS) >= 1, "no freeze release journaled:\n%s",
	       cj_describe(a, na));
	expect_journal_sane(&j);
	inc = one_incident(&j, b->c.id);
	EXPECT(count_acts(a, na, &fr_intent) == 1 && count_acts(a, na, &fr_ok) == 1 && count_acts(a, na, &fr_rel) == 1,
	       "freeze records: %zu intent, %zu result ok, %zu release; want 1 each:\n%s",
	       count_acts(a, na, &fr_intent), count_acts(a, na, &fr_ok), count_acts(a, na, &fr_rel),
	       cj_describe(a, na));
	expect_release_who(a, na, "freeze");
	EXPECT(streq(inc->status, "released"), "incident status %s after release, want released\n", inc->status);
	expect_md_actions(inc->id, "freeze");
	sj_free(&j);
}

/* ============================================================ kill-container */

static int cg_populated(const char *dir)
{
	char p[PATH_MAX + 32], buf[256], *s;
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/cgroup.events", dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	s = strstr(buf, "populated ");
	return s ? s[10] == '1' : -1;
}

static void test_kill_container(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act kc_ok = { "kill-container", "result", "ok" };
	struct cbox *b = box_new(NULL, NULL);
	const char *r = cbox_cmd(b, CMD_MS, "spin");
	char out[8192];
	uint64_t deadline;
	struct sj j;
	size_t na;
	pid_t spin;
	int rc;

	(void)state;
	EXPECT(r && sscanf(r, "pid %d", &spin) == 1 && spin > 0, "spin: \"%s\"\n", r ? r : "(nothing)");
	rc = ctl(out, sizeof(out), "kill-container", "--container", b->c.id, NULL);
	EXPECT(rc == 0, "nodeguardctl kill-container --container %s: exit %d: %s\n", b->c.id, rc, out);
	for (deadline = mono_ns() + ACT_MS * 1000000ull; cg_populated(b->c.scope) != 0 && mono_ns() < deadline;)
		msleep(10);
	EXPECT(cg_populated(b->c.scope) == 0, "the container's cgroup is still populated after kill-container\n");
	EXPECT(kill(spin, 0) && errno == ESRCH, "the busy loop (pid %d) survived kill-container\n", (int)spin);
	EXPECT(wait_acts(&j, b->c.id, &kc_ok, 1, a, &na, ACT_MS) >= 1, "no kill-container result ok journaled:\n%s",
	       cj_describe(a, na));
	expect_journal_sane(&j);
	sj_free(&j);
}

/* ============================================================ guardrails */

/*
 * The agent's own cgroup (it runs in a kubelet-shaped one, as in a
 * DaemonSet). A container in that same cgroup (kubectl exec into the agent's
 * pod) triggers an isolate rule and a kill rule, and nodeguardctl asks to
 * isolate, freeze and kill it: nothing happens to it or to the agent.
 */
static void test_guardrail_self(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act any_ok = { NULL, NULL, "ok" }, kill_refused = { "kill", "result", "refused" },
				     iso_refused = { "isolate", "result", "refused" },
				     frz_refused = { "freeze", "result", "refused" };
	struct peer *p;
	struct cbox *b = box_new(&env.agent_ctr, &p);
	char ip2[48], ip4[48], out[8192], marker[PATH_MAX + 32];
	static const char *const acts[] = { "isolate", "freeze", "kill-container" };
	struct sj j;
	size_t na, i;
	int rc, st = -1;

	(void)state;
	addr(ip2, sizeof(ip2), 2);
	addr(ip4, sizeof(ip4), 4);
	EXPECT(ctr_cgroup_id_of(b->pid) == env.agent_ctr.cgroup_id, "the helper is not in the agent's cgroup\n");
	EXPECT_REPLY(b, "ok", "udp %s %d", ip2, P_ALLOW);

	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		rc = ctl(out, sizeof(out), acts[i], "--container", env.agent_ctr.id, NULL);
		EXPECT(rc != 0, "nodeguardctl %s of the agent's own container succeeded (exit 0): %s\n", acts[i], out);
		agent_alive();
		EXPECT(cg_frozen(env.agent_ctr.scope) == 0, "the agent's cgroup is frozen after %s\n", acts[i]);
		EXPECT_REPLY(b, "ok", "udp %s %d", ip2, P_ALLOW);
		print_message("guardrail: %s of the agent's container refused: %s\n", acts[i], out);
	}

	/* a rule's isolate, then a kill rule in the kernel */
	(void)cbox_cmd(b, CMD_MS, "connect %s %d %d", ip4, P_ISO, 1000);
	snprintf(marker, sizeof(marker), "%s/marker-self-%d", env.dir, (int)getpid());
	run_suid(b, env.suid_kill, marker, &st);
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "a setuid(0) in the agent's own cgroup ended with wait status %#x, want exit 0 (never killed)\n", st);
	EXPECT(access(marker, F_OK) == 0, "no marker %s: a process of the agent's cgroup was stopped\n", marker);
	/* give the agent time to act on the isolate rule if it (wrongly) would */
	msleep(1500);
	agent_alive();
	EXPECT_REPLY(b, "ok", "udp %s %d", ip2, P_ALLOW);
	EXPECT(cg_frozen(env.agent_ctr.scope) == 0, "the agent's cgroup is frozen\n");

	/* journaled as refused: the two manual requests that reach the responder,
	 * the rule's isolate and the kernel's kill */
	wait_acts(&j, env.agent_ctr.id, &kill_refused, 1, a, &na, ACT_MS);
	EXPECT(count_acts(a, na, &any_ok) == 0, "an action against the agent's own container was carried out:\n%s",
	       cj_describe(a, na));
	EXPECT(count_acts(a, na, &kill_refused) >= 1, "the in-kernel kill in the agent's cgroup is not journaled as "
	       "refused:\n%s", cj_describe(a, na));
	EXPECT(count_acts(a, na, &iso_refused) >= 2, "%zu isolate results \"refused\" for the agent's container, want "
	       "2 (nodeguardctl, rule %s):\n%s", count_acts(a, na, &iso_refused), R_ISO, cj_describe(a, na));
	EXPECT(count_acts(a, na, &frz_refused) >= 1, "no freeze result \"refused\" for the agent's container:\n%s",
	       cj_describe(a, na));
	print_message("guardrail: %zu action records for the agent's container, none ok\n", na);
	sj_free(&j);
}

static void test_rate_limit(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act k_ok = { "kill", NULL, "ok" }, k_sup = { "kill", NULL, "suppressed" };
	struct peer *p;
	struct cbox *b = box_new(NULL, &p);
	char ip5[48];
	const char *r;
	int st[5], killed = 0, exited = 0, i;
	struct sj j;
	struct sj_incident *inc;
	size_t na, nd = 0, k, nsup = 0, accounted = 0;

	(void)state;
	addr(ip5, sizeof(ip5), 5);
	r = cbox_cmd(b, CMD_MS, "burst 5 %s %d %d", ip5, P_BURST, 4000);
	EXPECT(r && sscanf(r, "statuses %d %d %d %d %d", &st[0], &st[1], &st[2], &st[3], &st[4]) == 5,
	       "burst: \"%s\"\n", r ? r : "(nothing)");
	for (i = 0; i < 5; i++) {
		killed += WIFSIGNALED(st[i]) && WTERMSIG(st[i]) == SIGKILL;
		exited += WIFEXITED(st[i]) && WEXITSTATUS(st[i]) == 0;
	}
	EXPECT(killed == 2 && exited == 3,
	       "burst of 5 under rule_actions_per_minute 2: %d killed, %d exited normally; want 2 and 3 "
	       "(statuses %#x %#x %#x %#x %#x)\n", killed, exited, st[0], st[1], st[2], st[3], st[4]);
	/* the journal must account for every suppressed kill: one record each, or
	 * records that say how many more they stand for ("(N more since ...)") */
	wait_acts(&j, b->c.id, &k_sup, 3, a, &na, ACT_MS);
	expect_journal_sane(&j);
	inc = one_incident(&j, b->c.id);
	for (k = 0; k < inc->ndet; k++)
		nd += streq(inc->det[k].rule, R_BURST);
	EXPECT(nd == 5, "%zu detections of %s, want 5: %s\n", nd, R_BURST, sj_describe(inc));
	EXPECT(count_acts(a, na, &k_ok) == 2, "kill records with result ok: %zu, want 2:\n%s", count_acts(a, na, &k_ok),
	       cj_describe(a, na));
	for (k = 0; k < na; k++) {
		const char *more;

		if (!act_is(&a[k], &k_sup))
			continue;
		nsup++;
		accounted++;
		more = a[k].detail ? strstr(a[k].detail, " more since ") : NULL;
		if (more) {
			while (more > a[k].detail && more[-1] >= '0' && more[-1] <= '9')
				more--;
			accounted += (size_t)atoi(more);
		}
	}
	EXPECT(accounted == 3,
	       "the journal accounts for %zu suppressed kills (%zu records), want 3: suppressed actions "
	       "past the first are only counted in memory:\n%s", accounted, nsup, cj_describe(a, na));
	sj_free(&j);
}

/*
 * Protected namespaces (settings.protected_namespaces, default kube-system,
 * openshift-*; this policy: kube-system). Without a Kubernetes API the pod's
 * namespace comes from the journal: the container's open incident carries
 * it in its attribution, as it would after a restart. The agent is stopped,
 * that incident is appended to its journal, the agent starts again and
 * restores it; then manual and rule actions on the container are refused.
 */
static void test_guardrail_protected(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act any_ok = { NULL, NULL, "ok" },
				     iso_refused = { "isolate", "result", "refused" },
				     frz_refused = { "freeze", "result", "refused" },
				     kill_refused = { "kill", "result", "refused" };
	struct peer *p;
	struct cbox *b = box_new(NULL, &p);
	char ip2[48], ip4[48], out[8192], root[PATH_MAX], id[64], line[4096], ts[64], marker[PATH_MAX + 64];
	int st = -1;
	struct timespec now;
	struct tm tm;
	struct sj j;
	size_t na, i;
	FILE *f;
	int rc, named = 0;

	(void)state;
	addr(ip2, sizeof(ip2), 2);
	addr(ip4, sizeof(ip4), 4);
	EXPECT_REPLY(b, "ok", "udp %s %d", ip2, P_ALLOW);
	EXPECT(!ctr_cgroup2_root(root, sizeof(root)) && !strncmp(b->c.scope, root, strlen(root)),
	       "the scope %s is not under the cgroup2 mount\n", b->c.scope);

	agent_stop_now();
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(id, sizeof(id), "ng-%Y%m%d-%H%M%S-5eed0001", &tm);
	snprintf(line, sizeof(line),
		 "{\"rec\":\"open\",\"v\":1,\"incident\":\"%s\",\"ts\":\"%s.%09ldZ\",\"ts_ns\":\"%lld%09ld\","
		 "\"node\":\"" NODE "\",\"key\":\"ctr:%s\",\"attribution\":{\"container\":true,"
		 "\"runtime\":\"containerd\",\"container_id\":\"%s\",\"pod_uid\":\"%s\",\"qos\":\"besteffort\","
		 "\"cgroup_path\":\"%s\",\"cgroup_id\":\"%" PRIu64 "\",\"pod_namespace\":\"kube-system\","
		 "\"pod_name\":\"ct-protected\",\"pod\":null}}\n",
		 id, ts, now.tv_nsec, (long long)now.tv_sec, now.tv_nsec, b->c.id, b->c.id, b->c.pod_uid,
		 b->c.scope + strlen(root), b->c.cgroup_id);
	f = fopen(env.journal, "ae");
	EXPECT(f && fputs(line, f) != EOF && !fclose(f), "Failed to append to %s\n", env.journal);
	ng_agent_up();

	rc = ctl(out, sizeof(out), "isolate", "--container", b->c.id, NULL);
	EXPECT(rc != 0 && has(out, "protected namespace kube-system"),
	       "nodeguardctl isolate of a kube-system container: exit %d: %s; want refused (protected namespace)\n",
	       rc, out);
	rc = ctl(out, sizeof(out), "freeze", "--container", b->c.id, NULL);
	EXPECT(rc != 0, "nodeguardctl freeze of a kube-system container: exit 0: %s\n", out);
	EXPECT(cg_frozen(b->c.scope) == 0, "the kube-system container is frozen\n");
	(void)cbox_cmd(b, CMD_MS, "connect %s %d %d", ip4, P_ISO, 1000);
	/* the kernel's kill rule: the restored namespace puts the cgroup in ng_protected */
	snprintf(marker, sizeof(marker), "%s/marker-protected-%.12s", env.dir, b->c.id);
	run_suid(b, env.suid_kill, marker, &st);
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "a setuid(0) in a kube-system container ended with wait status %#x, want exit 0 (never killed)\n", st);
	EXPECT(access(marker, F_OK) == 0, "no marker %s: a process of a kube-system container was stopped\n", marker);
	msleep(1500);
	agent_alive();
	EXPECT_REPLY(b, "ok", "udp %s %d", ip2, P_ALLOW);

	wait_acts(&j, b->c.id, &kill_refused, 1, a, &na, ACT_MS);
	EXPECT(count_acts(a, na, &kill_refused) == 1, "the in-kernel kill in a kube-system container is not journaled "
	       "as refused (once):\n%s", cj_describe(a, na));
	sj_free(&j);
	wait_acts(&j, b->c.id, &iso_refused, 2, a, &na, ACT_MS);
	expect_journal_sane(&j);
	EXPECT(count_acts(a, na, &any_ok) == 0, "an action against a kube-system container was carried out:\n%s",
	       cj_describe(a, na));
	EXPECT(count_acts(a, na, &iso_refused) == 2 && count_acts(a, na, &frz_refused) == 1,
	       "refused results: %zu isolate (want 2: nodeguardctl, rule %s), %zu freeze (want 1):\n%s",
	       count_acts(a, na, &iso_refused), R_ISO, count_acts(a, na, &frz_refused), cj_describe(a, na));
	for (i = 0; i < na; i++)
		if (streq(a[i].phase, "result") && !streq(a[i].action, "kill"))
			named += has(a[i].detail, "protected namespace kube-system") != 0;
	EXPECT(named == 3, "%d refusals say \"protected namespace kube-system\", want 3:\n%s", named,
	       cj_describe(a, na));
	EXPECT(streq(one_incident(&j, b->c.id)->id, id), "the refusals are not on the restored incident %s\n", id);
	sj_free(&j);
}

/* ============================================================ restart */

/* the link ids, prog ids and names (ng_enf_*) bpftool shows */
struct bpfobj {
	uint32_t prog_ids[64], link_ids[64];
	int nprogs, nlinks;
};

static void enf_objects(struct bpfobj *o)
{
	static char out[1 << 20];
	char err[1024];
	char *argv_p[] = { env.bpftool, "-j", "prog", "show", NULL };
	char *argv_l[] = { env.bpftool, "-j", "link", "show", NULL };
	cJSON *arr, *it;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = run_capture(argv_p, out, sizeof(out), err, sizeof(err), 20000);
	EXPECT(rc == 0, "bpftool prog show: exit %d: %s\n", rc, err);
	arr = cJSON_Parse(out);
	EXPECT(cJSON_IsArray(arr), "bpftool -j prog show: not a JSON array\n");
	cJSON_ArrayForEach(it, arr) {
		const char *name = js_str(it, "name");

		if (name && !strncmp(name, "ng_enf_", 7) && o->nprogs < 64)
			o->prog_ids[o->nprogs++] = (uint32_t)js_int(it, "id");
	}
	cJSON_Delete(arr);
	rc = run_capture(argv_l, out, sizeof(out), err, sizeof(err), 20000);
	EXPECT(rc == 0, "bpftool link show: exit %d: %s\n", rc, err);
	arr = cJSON_Parse(out);
	EXPECT(cJSON_IsArray(arr), "bpftool -j link show: not a JSON array\n");
	cJSON_ArrayForEach(it, arr) {
		uint32_t pid = (uint32_t)js_int(it, "prog_id");

		for (int i = 0; i < o->nprogs; i++)
			if (o->prog_ids[i] == pid && o->nlinks < 64)
				o->link_ids[o->nlinks++] = (uint32_t)js_int(it, "id");
	}
	cJSON_Delete(arr);
}

static void test_restart(void **state)
{
	static struct cj_action a[CJ_MAX_ACTIONS];
	static const struct want_act iso_ok = { "isolate", "result", "ok" }, iso_rel = { "isolate", "release", NULL };
	struct peer *p;
	struct cbox *b = box_new(NULL, &p);
	int lh = peer_listen(p, 2, P_HOLD), pfd, rc;
	char ip2[48], out[8192], *s;
	struct sj j;
	size_t na, from;

	(void)state;
	EXPECT(lh >= 0, "peer listener: %d\n", lh);
	addr(ip2, sizeof(ip2), 2);
	EXPECT_REPLY(b, "ok", "hold %s %d %d", ip2, P_HOLD, 3000);
	pfd = peer_accept(lh);
	rc = ctl(out, sizeof(out), "isolate", "--container", b->c.id, NULL);
	EXPECT(rc == 0, "nodeguardctl isolate --container %s: exit %d: %s\n", b->c.id, rc, out);
	EXPECT_REPLY(b, "err EPERM", "udp %s %d", ip2, P_ALLOW);
	EXPECT(wait_acts(&j, b->c.id, &iso_ok, 1, a, &na, ACT_MS) >= 1, "no isolate result ok journaled:\n%s",
	       cj_describe(a, na));
	sj_free(&j);

	/* the agent dies hard: the isolation is in pinned maps and links */
	sa_kill9(&env.ag);
	env.agent_up = 0;
	EXPECT(WIFSIGNALED(env.ag.exit_status) && WTERMSIG(env.ag.exit_status) == SIGKILL,
	       "the agent's status after SIGKILL: %#x\n", env.ag.exit_status);
	msleep(300);
	EXPECT_REPLY(b, "err EPERM", "udp %s %d", ip2, P_ALLOW);
	EXPECT_REPLY(b, "err EPERM", "connect %s %d %d", ip2, P_HOLD, 2000);
	peer_send(pfd, "while-dead");
	EXPECT_REPLY(b, "timeout", "recv %d", 1000);
	EXPECT_REPLY(b, "ok", "send from-isolated");
	expect_peer_gets_nothing(pfd, 1000);

	/* a new agent adopts the pinned state and says so */
	ng_agent_up();
	s = sa_stderr(&env.ag);
	EXPECT(s, "no agent stderr\n");
	{
		/* "adopted pinned state: N isolated cgroups, ..." */
		const char *l = strcasestr(s, "adopted pinned state: ");
		unsigned n = 0;

		EXPECT(l && sscanf(l + strlen("adopted pinned state: "), "%u isolated", &n) == 1 && n >= 1,
		       "the restarted agent does not report the adopted isolation (\"adopted pinned state: N "
		       "isolated cgroups\", N >= 1):\n%s\n", s);
		print_message("restart: %.*s\n", (int)strcspn(l, "\n"), l);
	}
	free(s);
	EXPECT_REPLY(b, "err EPERM", "udp %s %d", ip2, P_ALLOW);

	from = 0;
	rc = ctl(out, sizeof(out), "release", "--container", b->c.id, NULL);
	EXPECT(rc == 0, "nodeguardctl release --container %s after the restart: exit %d: %s\n", b->c.id, rc, out);
	EXPECT_REPLY(b, "ok", "udp %s %d", ip2, P_ALLOW);
	expect_peer_gets(pfd, "from-isolated", 15000);
	EXPECT_REPLY(b, "data while-dead", "recv %d", 15000);
	EXPECT(wait_acts(&j, b->c.id, &iso_rel, 1, a, &na, ACT_MS) >= 1, "no isolate release journaled:\n%s",
	       cj_describe(a, na));
	expect_journal_sane(&j);
	expect_release_who(a, na, "isolate");
	(void)from;
	sj_free(&j);
	close(pfd);
	close(lh);
}

/* ============================================================ uninstall */

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_uninstall(void **state)
{
	struct bpfobj before, after;
	char *argv[] = { env.nodeguard, "uninstall", "--force", NULL };
	char out[8192], err[8192];
	int rc, i, k, others;

	(void)state;
	if (other_agents() > 0) {
		/* an uninstall would take that agent's enforcement away under it */
		print_message("uninstall: SKIPPED: %d other nodeguard agent(s) run on this node and share "
			      PIN_DIR "; run this suite alone\n", other_agents());
		skip();
	}
	enf_objects(&before);
	EXPECT(before.nprogs > 0 && before.nlinks > 0, "no ng_enf_* programs (%d) or links (%d) before uninstall\n",
	       before.nprogs, before.nlinks);
	EXPECT(dir_entries(PIN_DIR) > 0, "nothing pinned under %s before uninstall\n", PIN_DIR);
	agent_stop_now();
	EXPECT(WIFEXITED(env.ag.exit_status) && WEXITSTATUS(env.ag.exit_status) == 0,
	       "the agent exited with status %#x on SIGINT, want 0\n", env.ag.exit_status);
	rc = run_capture(argv, out, sizeof(out), err, sizeof(err), 30000);
	EXPECT(rc == 0, "nodeguard uninstall --force: exit %d\nstdout: %s\nstderr: %s\n", rc, out, err);
	print_message("uninstall: %s%s", out, err);
	rc = dir_entries(PIN_DIR);
	EXPECT(rc == 0, "%d entries left under %s after uninstall\n", rc, PIN_DIR);
	enf_objects(&after);
	/* none of ours may be left; none at all unless another agent runs */
	for (i = 0; i < after.nprogs; i++)
		for (k = 0; k < before.nprogs; k++)
			EXPECT(after.prog_ids[i] != before.prog_ids[k], "ng_enf_* program %u still loaded\n",
			       after.prog_ids[i]);
	for (i = 0; i < after.nlinks; i++)
		for (k = 0; k < before.nlinks; k++)
			EXPECT(after.link_ids[i] != before.link_ids[k], "ng_enf_* link %u still attached\n",
			       after.link_ids[i]);
	others = other_agents();
	if (others)
		print_message("uninstall: %d other nodeguard agent(s) run: %d ng_enf_* programs, %d links are theirs\n",
			      others, after.nprogs, after.nlinks);
	else
		EXPECT(after.nprogs == 0 && after.nlinks == 0,
		       "%d ng_enf_* programs and %d links left after uninstall (no other agent runs)\n", after.nprogs,
		       after.nlinks);
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

static void cleanup_all(void)
{
	static int done;
	char *argv[] = { env.nodeguard, "uninstall", "--force", NULL };
	char out[4096], err[4096];
	int i;

	if (done++)
		return;
	for (i = 0; i < TEST_BOXES; i++)
		if (boxes[i])
			cbox_stop(boxes[i], 500);
	if (env.ag.pid > 0) {
		kill(env.ag.pid, SIGKILL);
		waitpid(env.ag.pid, NULL, 0);
		env.ag.pid = 0;
	}
	/* pinned containment outlives the agent: take it all down, unless another
	 * agent uses it now (its reconcile drops what our gone cgroups left) */
	if (ng_other_agents(0) > 0)
		fprintf(stderr, "contain: another nodeguard agent runs: pinned state under " PIN_DIR
			" left to it (no uninstall)\n");
	else if (env.nodeguard[0] && run_capture(argv, out, sizeof(out), err, sizeof(err), 30000) != 0)
		rm_tree(PIN_DIR);
	if (env.agent_ctr_made)
		ctr_destroy(&env.agent_ctr);
	ctr_cleanup_all();
	if (getenv("NG_IT_KEEP"))
		fprintf(stderr, "contain: kept %s\n", env.dir);
	else if (env.dir[0])
		rm_tree(env.dir);
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) == EOF)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

static const char policy_fmt[] =
	"version: 1\n"
	"settings:\n"
	"  node_name: " NODE "\n"
	"  journal_fsync: always\n"
	"  protected_namespaces: [kube-system]\n"
	"  actions_per_minute: 1000\n"
	"  rule_actions_per_minute: 2\n"
	"rules:\n"
	"  - name: " R_KILL "\n"
	"    description: a container process became root through setuid(0)\n"
	"    severity: critical\n"
	"    category: privilege_escalation\n"
	"    actions: [kill]\n"
	"    match:\n"
	"      event: cred-change\n"
	"      gains_root: true\n"
	"      binary: [%s]\n"
	"  - name: " R_DRY "\n"
	"    severity: critical\n"
	"    category: privilege_escalation\n"
	"    dry_run: true\n"
	"    actions: [kill]\n"
	"    match:\n"
	"      event: cred-change\n"
	"      gains_root: true\n"
	"      binary: [%s]\n"
	"  - name: " R_DENY "\n"
	"    severity: medium\n"
	"    category: network\n"
	"    actions: [deny]\n"
	"    match:\n"
	"      event: connect\n"
	"      cidrs: [%s.2/32]\n"
	"      ports: [%d]\n"
	"  - name: " R_ISO "\n"
	"    severity: high\n"
	"    category: network\n"
	"    actions: [isolate]\n"
	"    match:\n"
	"      event: connect\n"
	"      cidrs: [%s.4/32]\n"
	"      ports: [%d]\n"
	"  - name: " R_BURST "\n"
	"    severity: medium\n"
	"    category: network\n"
	"    actions: [kill]\n"
	"    match:\n"
	"      event: connect\n"
	"      cidrs: [%s.5/32]\n"
	"      ports: [\"%d-%d\"]\n";

static int find_exe(char *out, size_t n, const char *const cand[])
{
	for (; *cand; cand++)
		if (!access(*cand, X_OK)) {
			snprintf(out, n, "%s", *cand);
			return 0;
		}
	return -1;
}

static int setup_env(void)
{
	static const char *const ips[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip", NULL };
	const char *ng = getenv("NODEGUARD") ? getenv("NODEGUARD") : "./nodeguard";
	const char *ctl_bin = getenv("NODEGUARDCTL") ? getenv("NODEGUARDCTL") : "./nodeguardctl";
	const char *hp = getenv("NG_CONTAIN_HELPER") ? getenv("NG_CONTAIN_HELPER") : "build/tests/ng-contain-helper";
	const char *parent = getenv("NG_CONTAIN_DIR") ? getenv("NG_CONTAIN_DIR") : "/var/lib";
	const char *bt = getenv("BPFTOOL");
	const char *bts[] = { bt ? bt : "/usr/sbin/bpftool", "/usr/sbin/bpftool", "/usr/bin/bpftool", NULL };
	char text[8192], root[PATH_MAX];
	unsigned char r;
	struct statvfs sv;
	int err;

	if (!realpath(ng, env.nodeguard) || access(env.nodeguard, X_OK)) {
		fprintf(stderr, "contain: %s not found: build it with `make nodeguard`\n", ng);
		return -1;
	}
	if (!realpath(ctl_bin, env.ctl) || access(env.ctl, X_OK)) {
		fprintf(stderr, "contain: %s not found: build it with `make nodeguardctl`\n", ctl_bin);
		return -1;
	}
	if (access(hp, X_OK)) {
		fprintf(stderr, "contain: helper %s not found: build it with `make integration`\n", hp);
		return -1;
	}
	if (find_exe(env.ip, sizeof(env.ip), ips)) {
		fprintf(stderr, "contain: iproute2's ip not found (apt-get install iproute2)\n");
		return -1;
	}
	if (find_exe(env.bpftool, sizeof(env.bpftool), bts)) {
		fprintf(stderr, "contain: bpftool not found (make deps)\n");
		return -1;
	}
	if (ctr_cgroup2_root(root, sizeof(root))) {
		fprintf(stderr, "contain: no cgroup2 mount in /proc/self/mountinfo\n");
		return -1;
	}
	snprintf(env.dir, sizeof(env.dir), "%s/ng-contain-XXXXXX", parent);
	if (!mkdtemp(env.dir)) {
		fprintf(stderr, "contain: mkdtemp %s: %s\n", env.dir, strerror(errno));
		env.dir[0] = '\0';
		return -1;
	}
	atexit(cleanup_all);
	/* the setuid copies are run by uid 1000: the directory must be searchable */
	chmod(env.dir, 0755);
	if (!statvfs(env.dir, &sv) && (sv.f_flag & ST_NOSUID)) {
		fprintf(stderr, "contain: %s is on a nosuid mount: set NG_CONTAIN_DIR elsewhere\n", env.dir);
		return -1;
	}
	snprintf(env.helper, sizeof(env.helper), "%s/helper", env.dir);
	snprintf(env.suid_kill, sizeof(env.suid_kill), "%s/suid-kill", env.dir);
	snprintf(env.suid_dry, sizeof(env.suid_dry), "%s/suid-dry", env.dir);
	if ((err = copy_file(hp, env.helper, 0755)) || (err = copy_file(hp, env.suid_kill, 04755)) ||
	    (err = copy_file(hp, env.suid_dry, 04755))) {
		fprintf(stderr, "contain: Failed to copy the helper: %s\n", strerror(-err));
		return -1;
	}
	snprintf(env.jdir, sizeof(env.jdir), "%s/journal", env.dir);
	snprintf(env.journal, sizeof(env.journal), "%s/journal.jsonl", env.jdir);
	snprintf(env.policy, sizeof(env.policy), "%s/policy.yaml", env.dir);
	snprintf(env.sock, sizeof(env.sock), "%s/ctl/nodeguard.sock", env.dir);
	if (mkdir(env.jdir, 0700)) {
		perror("contain: mkdir journal");
		return -1;
	}
	/* the agent and every nodeguardctl we run use this socket */
	setenv("NODEGUARD_SOCKET", env.sock, 1);
	setenv("NODEGUARD_JOURNAL_DIR", env.jdir, 1);

	if (getrandom(&r, 1, 0) != 1)
		r = 77;
	snprintf(env.subnet, sizeof(env.subnet), "10.213.%d", 16 + r % 200);
	snprintf(text, sizeof(text), policy_fmt, env.suid_kill, env.suid_dry, env.subnet, P_DENY, env.subnet,
		 P_ISO, env.subnet, P_BURST, P_BURST + 9);
	if ((err = write_text(env.policy, text))) {
		fprintf(stderr, "contain: write %s: %s\n", env.policy, strerror(-err));
		return -1;
	}
	err = ctr_create(&env.agent_ctr);
	if (err) {
		fprintf(stderr, "contain: Failed to create the agent's cgroup: %s\n", strerror(-err));
		return -1;
	}
	env.agent_ctr_made = 1;
	snprintf(env.agent_script, sizeof(env.agent_script), "echo $$ > '%s/cgroup.procs' && exec \"$0\" \"$@\"",
		 env.agent_ctr.scope);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	ng_agent_up();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	agent_stop_now();
	return 0;
}

static void on_watchdog(int sig)
{
	static const char m[] = "\ncontain: FAILED: watchdog: the suite ran longer than 175 s\n";

	(void)sig;
	(void)!write(2, m, sizeof(m) - 1);
	cleanup_all();
	_exit(1);
}

static void on_term(int sig)
{
	(void)sig;
	cleanup_all();
	_exit(1);
}

static long now_ms(void)
{
	return (long)(mono_ns() / 1000000ull);
}

#define T(f) cmocka_unit_test_teardown(f, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_kill),
		T(test_kill_dry_run),
		T(test_deny),
		T(test_deny_fresh_container),
		T(test_isolate),
		T(test_isolate_rule),
		T(test_freeze),
		T(test_kill_container),
		T(test_guardrail_self),
		T(test_rate_limit),
		T(test_guardrail_protected),
		T(test_restart),
		T(test_uninstall),
	};
	long start = now_ms();
	int fails;

	if (geteuid() != 0 || access("/sys/kernel/btf/vmlinux", R_OK)) {
		const char *allow = getenv("NODEGUARD_ALLOW_SKIP");

		fprintf(stderr,
			"\n"
			"**********************************************************************\n"
			"*  SKIPPED: containment tests need root and kernel BTF               *\n"
			"*  (euid %-5u, /sys/kernel/btf/vmlinux %-9s)                     *\n"
			"*  Nothing was tested. Run as root on a kernel with BTF.             *\n"
			"**********************************************************************\n\n",
			(unsigned)geteuid(), access("/sys/kernel/btf/vmlinux", R_OK) ? "missing" : "present");
		return allow && !strcmp(allow, "1") ? 0 : 1;
	}
	{
		/* one agent per node: wait (bounded) for another suite's agent to finish */
		int waited = 0, n;

		while ((n = other_agents()) > 0 && waited < OTHERS_WAIT_S) {
			if (!waited)
				fprintf(stderr, "contain: %d other nodeguard agent(s) running; waiting up to %d s "
					"(they share the pinned state)\n", n, OTHERS_WAIT_S);
			sleep(1);
			waited++;
		}
		if (n > 0)
			fprintf(stderr, "contain: WARNING: %d other nodeguard agent(s) still running: results "
				"may be disturbed\n", n);
	}
	if (setup_env())
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_watchdog);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	alarm(WATCHDOG_S);

	fails = cmocka_run_group_tests_name("contain", tests, group_setup, group_teardown);
	fprintf(stderr, "contain: %d failed, %.1f s\n", fails, (now_ms() - start) / 1000.0);
	return fails ? 1 : 0;
}
