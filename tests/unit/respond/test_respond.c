// SPDX-License-Identifier: Apache-2.0
/*
 * The action layer without a kernel: the guardrail decision
 * (decide_verdict) and the responder on a fake cgroup v2 tree in a scratch
 * directory (cgroup.freeze, cgroup.events, cgroup.kill are plain files), no
 * enforcer (deny/isolate fail "no enforcer"), an in-memory journal.
 *
 * Asserted: the order of the guardrails and their reasons; per-rule and
 * node-wide rate limits; every action journaled as intent (undo data) then
 * result; dry-run "would" records that change nothing; "suppressed by rate
 * limit" records, a burst of them counted; kernel enforcement records
 * (killed / would / suppressed / protected); API actions skipped, never
 * silently; manual actions; release (records, undo, status); reconcile of
 * a restored freeze; the default policy's kill rules compile to the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "nodeguard/enforce.h"
#include "container.h"
#include "enforcer.h"
#include "incident.h"
#include "killrules.h"
#include "policy.h"
#include "k8s_config.h"
#include "respond.h"

#define ID1 "4f3c2b1a09e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100ffee"
#define ID2 "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9"
#define ID3 "1111111111112222222222223333333333334444444444445555555555556666"
#define UIDU "0f1e2d3c_4b5a_6978_8695_a4b3c2d1e0f9"
#define POD "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice"
#define SELF_PATH "/system.slice/nodeguard.service"

/* ------------------------------------------------------------------ fixture */

#define MAX_LINES 4096

static struct {
	char dir[PATH_MAX];      /* the fake cgroup v2 mount */
	struct policy *pol;
	struct incmgr *im;
	struct container_cache *ctr;
	struct responder *r;
	char *line[MAX_LINES];   /* the journal */
	size_t nlines;
	cJSON *parsed[MAX_LINES];
} F;

static int cap_write(const char *line, size_t len, void *ctx)
{
	(void)ctx;
	assert_true(F.nlines < MAX_LINES);
	F.line[F.nlines++] = strndup(line, len);
	return 0;
}

static void put(const char *dir, const char *file, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void get(const char *dir, const char *file, char *buf, size_t n)
{
	char p[PATH_MAX];
	FILE *f;
	size_t k;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	f = fopen(p, "re");
	assert_non_null(f);
	k = fread(buf, 1, n - 1, f);
	buf[k] = '\0';
	fclose(f);
}

static void mkdirs(const char *path)
{
	char p[PATH_MAX], *s;

	snprintf(p, sizeof(p), "%s", path);
	for (s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

/* a container directory: absolute path into buf; its cgroup files */
static void ctr_dir(const char *id, char *buf, size_t n)
{
	snprintf(buf, n, "%s" POD "/cri-containerd-%s.scope", F.dir, id);
}

static void make_ctr(const char *id, bool frozen_events)
{
	char d[PATH_MAX];

	ctr_dir(id, d, sizeof(d));
	mkdirs(d);
	/* no newline: a write of "1" replaces the whole of it, as in cgroupfs */
	put(d, "cgroup.freeze", "0");
	put(d, "cgroup.events", frozen_events ? "populated 1\nfrozen 1\n" : "populated 1\nfrozen 0\n");
	put(d, "cgroup.kill", "");
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_ino;
}

static uint64_t ctr_cgid(const char *id)
{
	char d[PATH_MAX];

	ctr_dir(id, d, sizeof(d));
	return ino_of(d);
}

static const char *policy_fmt =
	"version: 1\n"
	"settings:\n"
	"  dry_run: %s\n"
	"  protected_namespaces: [kube-system, \"openshift-*\"]\n"
	"  actions_per_minute: %u\n"
	"  rule_actions_per_minute: %u\n"
	"  quarantine_allow_dns: true\n"
	"  quarantine_allow_namespaces: [monitoring]\n"
	"  quarantine_allow_cidrs: [10.0.0.0/8]\n"
	"  delete_grace_seconds: 5\n"
	"rules:\n"
	"  - {name: fr, severity: high, category: execution, actions: [log, freeze], match: {event: exec}}\n"
	"  - {name: ki, severity: high, category: execution, actions: [kill],\n"
	"     match: {event: exec, parent_binary: [\"*\"]}}\n"
	"  - {name: kk, severity: critical, category: privilege_escalation, actions: [kill],\n"
	"     match: {event: anomaly, scope: any, anomaly: [euid_root]}}\n"
	"  - {name: dn, severity: medium, category: network, actions: [deny], match: {event: connect, ports: [443]}}\n"
	"  - {name: dc, severity: medium, category: network, actions: [deny],\n"
	"     match: {event: connect, cidrs: [169.254.169.254/32], ports: [80, \"8000-8080\"], protocol: tcp}}\n"
	"  - {name: api, severity: low, category: execution, actions: [label, event], match: {event: exec}}\n"
	"  - {name: kc, severity: high, category: execution, actions: [kill-container], match: {event: exec}}\n"
	"  - {name: hostkill, severity: high, category: execution, actions: [kill],\n"
	"     match: {event: exec, scope: any, parent_binary: [\"*\"]}}\n"
	"  - {name: dry, severity: high, category: execution, dry_run: true, actions: [freeze],\n"
	"     match: {event: exec}}\n"
	"  - {name: iso, severity: high, category: execution, actions: [isolate], match: {event: exec}}\n"
	"  - {name: quar, severity: high, category: execution, actions: [network-policy, revoke-rbac, delete-pod],\n"
	"     delete_daemonset_pods: true, match: {event: exec}}\n";

enum { R_FR, R_KI, R_KK, R_DN, R_DC, R_API, R_KC, R_HOSTKILL, R_DRY, R_ISO, R_QUAR };

static struct policy *load(bool dry, unsigned apm, unsigned rapm)
{
	char text[4096];
	struct policy *p = NULL;
	struct policy_errors e = { 0 };
	int r;

	snprintf(text, sizeof(text), policy_fmt, dry ? "true" : "false", apm, rapm);
	r = policy_parse("t.yaml", text, strlen(text), &p, &e);
	if (r) {
		char b[600];

		for (size_t i = 0; i < e.n; i++) {
			policy_error_format(&e.v[i], b, sizeof(b));
			print_message("%s\n", b);
		}
	}
	policy_errors_free(&e);
	assert_int_equal(r, 0);
	return p;
}

/* the agent wires detection's incident opener; these tests open incidents
 * with the incident manager itself */
static int open_incident(void *ctx, const struct inc_detection *d, struct incident **inc,
			 bool *opened)
{
	return incident_mgr_detect(ctx, d, inc, opened);
}

static void responder_up(bool dry, unsigned apm, unsigned rapm)
{
	struct responder_opts ro = { 0 };

	F.pol = load(dry, apm, rapm);
	ro.policy = F.pol;
	ro.incidents = F.im;
	ro.containers = F.ctr;
	ro.cgroup2 = F.dir;
	ro.self_pid = 999999;
	ro.self_cgroup = 4242;
	ro.self_cgroup_path = SELF_PATH;
	ro.open_incident = open_incident;
	ro.open_ctx = F.im;
	F.r = responder_new(&ro);
	assert_non_null(F.r);
}

static int setup(void **state)
{
	struct incident_mgr_opts io = { .node = "n1", .window_s = 600, .write = cap_write };

	(void)state;
	memset(&F, 0, sizeof(F));
	snprintf(F.dir, sizeof(F.dir), "/tmp/ng-respond-XXXXXX");
	assert_non_null(mkdtemp(F.dir));
	make_ctr(ID1, true);
	make_ctr(ID2, false);
	make_ctr(ID3, true);
	mkdirs(F.dir); /* the mount itself */
	{
		char d[PATH_MAX];

		snprintf(d, sizeof(d), "%s" SELF_PATH, F.dir);
		mkdirs(d);
	}
	F.im = incident_mgr_new(&io);
	F.ctr = container_cache_new(F.dir, 64);
	assert_non_null(F.im);
	assert_non_null(F.ctr);
	return 0;
}

static void rm_tree(const char *p)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
	size_t i;

	(void)state;
	responder_free(F.r);
	incident_mgr_free(F.im);
	container_cache_free(F.ctr);
	policy_free(F.pol);
	for (i = 0; i < F.nlines; i++) {
		free(F.line[i]);
		cJSON_Delete(F.parsed[i]);
	}
	rm_tree(F.dir);
	return 0;
}

/* ------------------------------------------------------------------ journal helpers */

static const cJSON *rec_at(size_t i)
{
	if (!F.parsed[i]) {
		F.parsed[i] = cJSON_Parse(F.line[i]);
		assert_non_null(F.parsed[i]);
	}
	return F.parsed[i];
}

static const char *js(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* the action records from journal line `from` on */
static size_t actions_from(size_t from, const cJSON **out, size_t max)
{
	size_t i, n = 0;

	for (i = from; i < F.nlines; i++) {
		const cJSON *r = rec_at(i);

		if (!strcmp(js(r, "rec"), "action") && n < max)
			out[n++] = cJSON_GetObjectItemCaseSensitive(r, "action");
	}
	return n;
}

/* the status records (their "status") from line `from` on, joined by ',' */
static void statuses_from(size_t from, char *buf, size_t n)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = from; i < F.nlines; i++) {
		const cJSON *r = rec_at(i);

		if (!strcmp(js(r, "rec"), "status"))
			off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? "," : "", js(r, "status"));
	}
}

static void expect_act(const cJSON *a, const char *action, const char *phase, const char *target,
		       const char *result, bool dry)
{
	assert_non_null(a);
	assert_string_equal(js(a, "action"), action);
	assert_string_equal(js(a, "phase"), phase);
	if (target)
		assert_string_equal(js(a, "target"), target);
	assert_string_equal(js(a, "result"), result);
	assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "dry_run")), dry);
}

/* the intent's detail is one compact JSON object: the undo data */
static cJSON *undo_of(const cJSON *a)
{
	cJSON *u = cJSON_Parse(js(a, "detail"));

	assert_non_null(u);
	assert_true(cJSON_IsObject(u));
	return u;
}

/* ------------------------------------------------------------------ detections */

static struct incident *detect(const char *key, const char *rule, uint64_t cgid)
{
	struct inc_attr attr = { .is_container = true, .cgroup_id = cgid };
	struct inc_detection d = {
		.source = "kernel", .rule = rule, .severity = SEV_HIGH, .category = "execution",
		.wall_ns = 1700000000000000000ull, .summary = "s", .fingerprint = rule, .key = key,
		.attr = &attr,
	};
	struct incident *inc = NULL;
	bool opened;

	if (!strncmp(key, "ctr:", 4))
		snprintf(attr.container_id, sizeof(attr.container_id), "%s", key + 4);
	assert_int_equal(incident_mgr_detect(F.im, &d, &inc, &opened), 0);
	return inc;
}

static struct ng_event *new_event(unsigned kind, uint32_t pid, uint64_t cgid)
{
	struct ng_event *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	ev->hdr.kind = (uint16_t)kind;
	ev->hdr.pid = ev->hdr.tid = pid;
	ev->hdr.cgroup_id = cgid;
	ev->hdr.flags = NG_HF_CONTAINER;
	ev->hdr.ts_ns = 1000;
	snprintf(ev->comm, sizeof(ev->comm), "sh");
	return ev;
}

/* a container target: the cache resolves the fake tree by walking it */
struct tgt {
	struct resp_target t;
	struct ctr_info ci;
};

static void ctr_target(struct tgt *x, const char *id, uint32_t pid, const char *ns,
		       const struct ng_event *ev)
{
	memset(x, 0, sizeof(*x));
	assert_int_equal(container_cache_lookup(F.ctr, ctr_cgid(id), &x->ci), 0);
	assert_true(x->ci.is_container);
	assert_string_equal(x->ci.container_id, id);
	x->t.pid = pid;
	x->t.cgroup_id = x->ci.cgroup_id;
	x->t.is_container = true;
	x->t.ctr = &x->ci;
	x->t.pod_namespace = ns;
	x->t.ev = ev;
}

/* ------------------------------------------------------------------ decide_verdict */

static struct rule mkrule(const char *name, enum ng_scope scope, enum ng_tri dry)
{
	struct rule r = { 0 };

	r.id = 1;
	r.name = (char *)name;
	r.enabled = true;
	r.dry_run = dry;
	r.match.scope = scope;
	return r;
}

static void test_decide_guardrails(void **state)
{
	static char *prot[] = { "kube-system", "openshift-*" };
	struct policy_settings s = { 0 };
	struct resp_self self = { .pid = 100, .cgroup_id = 7, .cgroup_path = "/kubepods.slice/agent.scope" };
	struct rule rc = mkrule("r", SCOPE_CONTAINER, TRI_ANY), ra = mkrule("a", SCOPE_ANY, TRI_ANY);
	struct resp_case c = { .action = ACT_KILL, .rule = &rc, .pid = 200, .cgroup_id = 9,
			       .cgroup_path = POD "/cri-containerd-" ID1 ".scope", .is_container = true };
	char why[256];

	(void)state;
	s.protected_namespaces.v = prot;
	s.protected_namespaces.n = 2;

	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_DO);
	assert_string_equal(why, "");

	/* the agent: its process, its cgroup, a cgroup that contains it */
	c.pid = 100;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	assert_string_equal(why, "the agent's own process");
	c.pid = 200;
	c.cgroup_id = 7;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	assert_string_equal(why, "the agent's own cgroup");
	c.cgroup_id = 9;
	c.action = ACT_FREEZE;
	c.cgroup_path = "/kubepods.slice";
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	assert_string_equal(why, "cgroup /kubepods.slice contains the agent");
	/* not a prefix match on names: /kubepods.slice/agent.scope2 is not inside */
	self.cgroup_path = "/kubepods.slice/agent.scope2";
	c.cgroup_path = "/kubepods.slice/agent.scope";
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_DO);
	self.cgroup_path = "/kubepods.slice/agent.scope";

	/* cgroup-wide actions: never the root or a top-level cgroup, never unknown */
	self.cgroup_path = NULL;
	c.cgroup_path = "/";
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	assert_string_equal(why, "cgroup / is the node root or a top-level cgroup");
	c.cgroup_path = "/system.slice";
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	c.cgroup_path = NULL;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	assert_string_equal(why, "the cgroup's path is unknown");
	/* ... which does not matter to a process kill */
	c.action = ACT_KILL;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_DO);

	/* host processes: only for rules whose scope includes the host */
	c.is_container = false;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	assert_string_equal(why, "host process, and rule r is scoped to containers");
	c.rule = &ra;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_DO);
	ra.match.scope = SCOPE_HOST;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_DO);
	c.is_container = true;
	c.rule = &rc;

	/* protected namespaces: fnmatch globs, once the namespace is known */
	c.pod_namespace = "kube-system";
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	assert_string_equal(why, "protected namespace kube-system");
	c.pod_namespace = "openshift-monitoring";
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	assert_string_equal(why, "protected namespace openshift-monitoring (openshift-*)");
	c.pod_namespace = "openshift";
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_DO);
	c.pod_namespace = "kube-system-x";
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_DO);

	/* a guardrail beats dry-run: the journal says refused, not would */
	s.dry_run = true;
	c.pod_namespace = "kube-system";
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_REFUSED);
	c.pod_namespace = NULL;

	/* dry-run: the node's, the rule's; a rule's false does not undo the node's */
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_WOULD);
	assert_string_equal(why, "dry-run (settings.dry_run)");
	rc.dry_run = TRI_FALSE;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_WOULD);
	s.dry_run = false;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_DO);
	rc.dry_run = TRI_TRUE;
	assert_int_equal(decide_verdict(&s, &self, &c, NULL, 1, why, sizeof(why)), RESP_WOULD);
	assert_string_equal(why, "dry-run (the rule's dry_run)");

	assert_string_equal(decide_verdict_result(RESP_DO), "ok");
	assert_string_equal(decide_verdict_result(RESP_WOULD), "would");
	assert_string_equal(decide_verdict_result(RESP_SUPPRESSED), "suppressed");
	assert_string_equal(decide_verdict_result(RESP_REFUSED), "refused");
	assert_true(decide_action_is_cgroup(ACT_ISOLATE) && decide_action_is_cgroup(ACT_FREEZE) &&
		    decide_action_is_cgroup(ACT_KILL_CONTAINER) && !decide_action_is_cgroup(ACT_KILL) &&
		    !decide_action_is_cgroup(ACT_DENY));
	assert_true(decide_action_is_api(ACT_LABEL) && decide_action_is_api(ACT_EVENT) &&
		    decide_action_is_api(ACT_DELETE_POD) && !decide_action_is_api(ACT_ISOLATE));
}

static void test_decide_rate_limits(void **state)
{
	struct policy_settings s = { .actions_per_minute = 3, .rule_actions_per_minute = 2 };
	struct rule a = mkrule("a", SCOPE_CONTAINER, TRI_ANY), b = mkrule("b", SCOPE_CONTAINER, TRI_ANY),
		    c2 = mkrule("c", SCOPE_CONTAINER, TRI_ANY);
	struct resp_case c = { .action = ACT_KILL, .rule = &a, .pid = 5, .is_container = true };
	struct resp_rates *rr = decide_rates_new();
	uint64_t t0 = 1000000000ull, min = 60000000000ull;
	char why[256];

	(void)state;
	assert_non_null(rr);
	/* per rule: 2 a minute */
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0, why, sizeof(why)), RESP_DO);
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + 1, why, sizeof(why)), RESP_DO);
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + 2, why, sizeof(why)), RESP_SUPPRESSED);
	assert_string_equal(why, "rule a: 2 per minute");
	/* the node: 3 a minute, whatever the rule */
	c.rule = &b;
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + 3, why, sizeof(why)), RESP_DO);
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + 4, why, sizeof(why)), RESP_SUPPRESSED);
	assert_string_equal(why, "node: 3 per minute");
	c.rule = &c2;
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + 5, why, sizeof(why)), RESP_SUPPRESSED);
	/* dry-run and API actions take no token */
	c2.dry_run = TRI_TRUE;
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + 6, why, sizeof(why)), RESP_WOULD);
	c2.dry_run = TRI_ANY;
	c.no_rate = true;
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + 7, why, sizeof(why)), RESP_DO);
	c.no_rate = false;
	/* a minute later both windows are fresh */
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + min, why, sizeof(why)), RESP_DO);
	c.rule = &a;
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + min + 1, why, sizeof(why)), RESP_DO);
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + min + 2, why, sizeof(why)), RESP_DO);
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + min + 3, why, sizeof(why)), RESP_SUPPRESSED);
	/* what the kernel did counts too */
	c.rule = &b;
	decide_rates_count(rr, "b", t0 + 3 * min);
	decide_rates_count(rr, "b", t0 + 3 * min);
	assert_int_equal(decide_verdict(&s, NULL, &c, rr, t0 + 3 * min + 1, why, sizeof(why)), RESP_SUPPRESSED);
	assert_string_equal(why, "rule b: 2 per minute");
	decide_rates_free(rr);
	decide_rates_free(NULL);
}

/* ------------------------------------------------------------------ actions */

/* freeze: intent with undo data, result ok, contained; release: undone, released */
static void test_freeze_and_release(void **state)
{
	const cJSON *a[16];
	struct tgt x;
	struct incident *inc;
	char d[PATH_MAX], buf[256], st[128], msg[512];
	cJSON *u;
	size_t from, n;

	(void)state;
	responder_up(false, 100, 10);
	inc = detect("ctr:" ID1, "fr", ctr_cgid(ID1));
	ctr_target(&x, ID1, 4321, NULL, NULL);
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_FR], inc, &x.t), 0);
	n = actions_from(from, a, 16);
	assert_int_equal(n, 2);
	expect_act(a[0], "freeze", "intent", "container:" ID1, "", false);
	u = undo_of(a[0]);
	assert_string_equal(js(u, "rule"), "fr");
	snprintf(buf, sizeof(buf), "%" PRIu64, ctr_cgid(ID1));
	assert_string_equal(js(u, "cgroup_id"), buf);
	assert_string_equal(js(u, "cgroup_path"), POD "/cri-containerd-" ID1 ".scope");
	assert_string_equal(js(u, "container_id"), ID1);
	assert_string_equal(js(u, "pod_uid"), "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9");
	cJSON_Delete(u);
	expect_act(a[1], "freeze", "result", "container:" ID1, "ok", false);
	assert_string_equal(js(a[1], "detail"), "frozen (cgroup.events: frozen 1)");
	ctr_dir(ID1, d, sizeof(d));
	get(d, "cgroup.freeze", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	statuses_from(from, st, sizeof(st));
	assert_string_equal(st, "contained");
	assert_int_equal(inc->status, INC_CONTAINED);

	/* the same detection again: already in effect, nothing more */
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_FR], inc, &x.t), 0);
	assert_int_equal(actions_from(from, a, 16), 0);

	/* release by incident id prefix */
	from = F.nlines;
	assert_int_equal(responder_release_incident(F.r, "ng-", "alice", msg, sizeof(msg)), 0);
	snprintf(buf, sizeof(buf), "incident %s: 1 action released, 0 failed; status released", inc->id);
	assert_string_equal(msg, buf);
	n = actions_from(from, a, 16);
	assert_int_equal(n, 1);
	expect_act(a[0], "freeze", "release", "container:" ID1, "ok", false);
	assert_string_equal(js(a[0], "detail"), "released by alice");
	get(d, "cgroup.freeze", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	statuses_from(from, st, sizeof(st));
	assert_string_equal(st, "released");
	assert_int_equal(inc->status, INC_RELEASED);

	/* nothing left to release */
	from = F.nlines;
	assert_int_equal(responder_release_incident(F.r, inc->id, "alice", msg, sizeof(msg)), 0);
	assert_int_equal(actions_from(from, a, 16), 0);
	assert_int_equal(responder_release_incident(F.r, "nope", "alice", msg, sizeof(msg)), -ENOENT);
}

/* not frozen within 2 s: failed, and cgroup.freeze set back */
static void test_freeze_timeout(void **state)
{
	const cJSON *a[4];
	struct tgt x;
	struct incident *inc;
	char d[PATH_MAX], buf[64];
	size_t from;

	(void)state;
	responder_up(false, 100, 10);
	inc = detect("ctr:" ID2, "fr", ctr_cgid(ID2));
	ctr_target(&x, ID2, 1, NULL, NULL);
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_FR], inc, &x.t), -ETIMEDOUT);
	assert_int_equal(actions_from(from, a, 4), 2);
	expect_act(a[1], "freeze", "result", "container:" ID2, "failed", false);
	assert_string_equal(js(a[1], "detail"), "not frozen within 2000 ms (cgroup.events never said "
						"frozen 1); cgroup.freeze set back to 0");
	ctr_dir(ID2, d, sizeof(d));
	get(d, "cgroup.freeze", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	assert_int_equal(inc->status, INC_OPEN);
}

/* dry-run (node and rule): the journal says would, nothing changes */
static void test_dry_run(void **state)
{
	const cJSON *a[8];
	struct tgt x;
	struct incident *inc;
	char d[PATH_MAX], buf[64];
	cJSON *u;
	size_t from;

	(void)state;
	responder_up(true, 100, 10);
	inc = detect("ctr:" ID1, "fr", ctr_cgid(ID1));
	ctr_target(&x, ID1, 1, NULL, NULL);
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_FR], inc, &x.t), 0);
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_KC], inc, &x.t), 0);
	assert_int_equal(actions_from(from, a, 8), 4);
	expect_act(a[0], "freeze", "intent", "container:" ID1, "", true);
	u = undo_of(a[0]);
	assert_string_equal(js(u, "container_id"), ID1);
	cJSON_Delete(u);
	expect_act(a[1], "freeze", "result", "container:" ID1, "would", true);
	assert_string_equal(js(a[1], "detail"), "would freeze (dry-run)");
	expect_act(a[3], "kill-container", "result", "container:" ID1, "would", true);
	assert_string_equal(js(a[3], "detail"), "would kill the container (dry-run)");
	ctr_dir(ID1, d, sizeof(d));
	get(d, "cgroup.freeze", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	get(d, "cgroup.kill", buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_int_equal(inc->status, INC_OPEN);
	responder_free(F.r);
	F.r = NULL;
	policy_free(F.pol);

	/* the rule's dry_run on a live node */
	responder_up(false, 100, 10);
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_DRY], inc, &x.t), 0);
	assert_int_equal(actions_from(from, a, 8), 2);
	expect_act(a[1], "freeze", "result", "container:" ID1, "would", true);
	get(d, "cgroup.freeze", buf, sizeof(buf));
	assert_string_equal(buf, "0");
}

/* protected namespace, the agent itself, a host process: refused, journaled */
static void test_guardrail_records(void **state)
{
	const cJSON *a[16];
	struct tgt x;
	struct incident *inc;
	struct ng_event *ev = new_event(NG_EV_EXEC, 77, 0);
	char d[PATH_MAX], buf[64], msg[512], id[48];
	size_t from;

	(void)state;
	responder_up(false, 100, 10);
	inc = detect("ctr:" ID1, "fr", ctr_cgid(ID1));
	ctr_target(&x, ID1, 77, "openshift-etcd", ev);
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_FR], inc, &x.t);
	assert_int_equal(actions_from(from, a, 16), 2);
	expect_act(a[0], "freeze", "intent", "container:" ID1, "", false);
	expect_act(a[1], "freeze", "result", "container:" ID1, "refused", false);
	assert_string_equal(js(a[1], "detail"), "refused: protected namespace openshift-etcd (openshift-*)");
	ctr_dir(ID1, d, sizeof(d));
	get(d, "cgroup.freeze", buf, sizeof(buf));
	assert_string_equal(buf, "0");

	/* the agent's own process */
	x.t.pod_namespace = NULL;
	x.t.pid = 999999;
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_KI], inc, &x.t);
	assert_int_equal(actions_from(from, a, 16), 2);
	expect_act(a[0], "kill", "intent", "pid:999999", "", false);
	expect_act(a[1], "kill", "result", "pid:999999", "refused", false);
	assert_string_equal(js(a[1], "detail"), "refused: the agent's own process");

	/* a host process and a rule scoped to containers */
	x.t.pid = 77;
	x.t.is_container = false;
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_KI], inc, &x.t);
	assert_int_equal(actions_from(from, a, 16), 2);
	expect_act(a[1], "kill", "result", "pid:77", "refused", false);
	assert_string_equal(js(a[1], "detail"), "refused: host process, and rule ki is scoped to containers");
	assert_int_equal(inc->status, INC_OPEN);

	/* by hand against the agent's own cgroup */
	{
		char self[PATH_MAX];
		struct responder_opts ro = { .policy = F.pol, .incidents = F.im, .containers = F.ctr,
					     .cgroup2 = F.dir, .self_pid = 1, .self_cgroup = ctr_cgid(ID3),
					     .open_incident = open_incident, .open_ctx = F.im };

		responder_free(F.r);
		F.r = responder_new(&ro);
		assert_non_null(F.r);
		(void)self;
	}
	from = F.nlines;
	assert_int_equal(responder_manual(F.r, "isolate", ID3, "bob", id, sizeof(id), msg, sizeof(msg)), -EPERM);
	assert_string_equal(msg, "refused: the agent's own cgroup");
	assert_int_equal(actions_from(from, a, 16), 2);
	expect_act(a[1], "isolate", "result", "container:" ID3, "refused", false);
	free(ev);
}

/* user-space kill (a rule the kernel cannot evaluate), rate limits, a burst counted */
static void test_kill_and_rate_limit(void **state)
{
	const cJSON *a[64];
	struct tgt x;
	struct incident *inc;
	struct ng_event *ev = new_event(NG_EV_EXEC, 0, 0);
	pid_t kids[2];
	size_t from, n, i, nsup = 0, accounted = 0;
	int k, st;

	(void)state;
	responder_up(false, 100, 2);
	inc = detect("ctr:" ID1, "ki", ctr_cgid(ID1));
	ctr_target(&x, ID1, 0, NULL, NULL);
	x.t.ctr = NULL; /* no cgroup check against /proc: the children are not in the fake tree */
	for (k = 0; k < 2; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (!kids[k]) {
			pause();
			_exit(0);
		}
	}
	from = F.nlines;
	for (k = 0; k < 2; k++) {
		int rc;

		x.t.pid = (uint32_t)kids[k];
		rc = responder_on_detection(F.r, &F.pol->rules[R_KI], inc, &x.t);
		if (rc)
			kill(kids[k], SIGKILL); /* never leave a child behind */
		assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
		assert_int_equal(rc, 0);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	}
	n = actions_from(from, a, 64);
	assert_int_equal(n, 4);
	expect_act(a[0], "kill", "intent", NULL, "", false);
	{
		cJSON *u = undo_of(a[0]);

		assert_string_equal(js(u, "rule"), "ki");
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(u, "pid")->valueint, kids[0]);
		assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(u, "in_kernel")));
		cJSON_Delete(u);
	}
	expect_act(a[1], "kill", "result", NULL, "ok", false);
	{
		char want[128];

		/* pidfd_send_signal; kill(2) where there is no pidfd_open (valgrind) */
		snprintf(want, sizeof(want), "killed pid %d from user space (pidfd_send_signal SIGKILL)", kids[0]);
		if (strcmp(js(a[1], "detail"), want))
			snprintf(want, sizeof(want), "killed pid %d from user space (kill(2) SIGKILL: no "
				 "pidfd_open)", kids[0]);
		assert_string_equal(js(a[1], "detail"), want);
	}
	/* a kill does not contain the incident */
	assert_int_equal(inc->status, INC_OPEN);

	/* 12 more: the rule's 2 a minute are used up */
	from = F.nlines;
	for (k = 0; k < 12; k++) {
		x.t.pid = 4000000 + (uint32_t)k;
		responder_on_detection(F.r, &F.pol->rules[R_KI], inc, &x.t);
	}
	n = actions_from(from, a, 64);
	/* ten journaled one by one, the rest counted */
	assert_int_equal(n, 20);
	for (i = 0; i < n; i += 2) {
		expect_act(a[i], "kill", "intent", NULL, "", false);
		expect_act(a[i + 1], "kill", "result", NULL, "suppressed", false);
		assert_string_equal(js(a[i + 1], "detail"), "suppressed by rate limit (rule ki: 2 per minute)");
	}
	/* the count is journaled when the responder goes (or after 5 s on a tick) */
	from = F.nlines;
	responder_free(F.r);
	F.r = NULL;
	n = actions_from(from, a, 64);
	assert_int_equal(n, 2);
	expect_act(a[1], "kill", "result", "pid:4000011", "suppressed", false);
	assert_non_null(strstr(js(a[1], "detail"), "suppressed by rate limit (rule ki: 2 per minute) (1 more since "));
	/* the journal accounts for all 12 */
	n = actions_from(0, a, 64);
	for (i = 0; i < n; i++) {
		const char *m, *det = js(a[i], "detail");

		if (strcmp(js(a[i], "result"), "suppressed"))
			continue;
		nsup++;
		accounted++;
		if ((m = strstr(det, " more since "))) {
			while (m > det && m[-1] >= '0' && m[-1] <= '9')
				m--;
			accounted += (size_t)atoi(m);
		}
	}
	assert_int_equal(nsup, 11);
	assert_int_equal(accounted, 12);
	free(ev);
}

/* what the kernel did, journaled as the kill's intent and result */
static void test_kernel_enforce(void **state)
{
	static const struct {
		uint32_t flags;
		int32_t err;
		const char *result, *detail;
		bool dry;
	} cases[] = {
		{ 0, 0, "ok", "killed in kernel at exec, 0 round trips", false },
		{ NG_ENF_DRY_RUN, 0, "would", "would kill (dry-run)", true },
		{ NG_ENF_SUPPRESSED, 0, "suppressed", "suppressed by rate limit (rule kk: 10 per minute, in the kernel)", false },
		{ NG_ENF_PROTECTED, 0, "refused", NULL, false },
		{ NG_ENF_FAILED, -3, "failed", "bpf_send_signal(SIGKILL) at exec failed: No such process", false },
	};
	const cJSON *a[8];
	struct ng_event *ev = new_event(NG_EV_ENFORCE, 0, ctr_cgid(ID1));
	struct tgt x;
	struct incident *inc;
	char want[128];
	size_t from, i;

	(void)state;
	responder_up(false, 100, 10);
	ev->enforce.action = NG_ENF_KILL;
	ev->enforce.rule_id = R_KK + 1;
	ev->enforce.hook = NG_EV_EXEC;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *u;

		ev->hdr.pid = 500 + (uint32_t)i;
		ev->enforce.flags = cases[i].flags;
		ev->enforce.err = cases[i].err;
		from = F.nlines;
		assert_int_equal(responder_on_enforce(F.r, ev, NULL), 0);
		/* the first opens the container's incident (no detection yet): a
		 * detection record, then the pair */
		assert_int_equal(actions_from(from, a, 8), 2);
		snprintf(want, sizeof(want), "pid:%u", ev->hdr.pid);
		expect_act(a[0], "kill", "intent", want, "", cases[i].dry);
		u = undo_of(a[0]);
		assert_string_equal(js(u, "rule"), "kk");
		assert_string_equal(js(u, "container_id"), ID1);
		assert_string_equal(js(u, "hook"), "exec");
		assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "in_kernel")));
		cJSON_Delete(u);
		expect_act(a[1], "kill", "result", want, cases[i].result, cases[i].dry);
		if (cases[i].detail)
			assert_string_equal(js(a[1], "detail"), cases[i].detail);
		else
			assert_true(!strncmp(js(a[1], "detail"), "protected", 9));
	}
	/* one incident, keyed like the agent's */
	inc = incident_mgr_first(F.im);
	assert_non_null(inc);
	assert_null(inc->next);
	assert_string_equal(inc->key, "ctr:" ID1);
	assert_int_equal(inc->nentries, 1);
	assert_string_equal(inc->entries[0].rule, "kk");

	/* a kill rule compiled into the kernel does nothing at detection time */
	responder_set_kernel_kill(F.r, true);
	assert_true(responder_kill_in_kernel(F.r, &F.pol->rules[R_KK]));
	assert_false(responder_kill_in_kernel(F.r, &F.pol->rules[R_KI])); /* parent_binary */
	ctr_target(&x, ID1, 600, NULL, NULL);
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_KK], inc, &x.t), 0);
	assert_int_equal(actions_from(from, a, 8), 0);
	responder_set_kernel_kill(F.r, false);
	assert_false(responder_kill_in_kernel(F.r, &F.pol->rules[R_KK]));
	free(ev);
}

/* deny without an enforcer: the undo data says what would be denied; failed */
static void test_deny_entries(void **state)
{
	const cJSON *a[8];
	struct ng_event *ev = new_event(NG_EV_CONNECT, 10, 0);
	struct tgt x;
	struct incident *inc;
	const cJSON *e;
	cJSON *u;
	char buf[64];
	size_t from;

	(void)state;
	responder_up(false, 100, 10);
	inc = detect("ctr:" ID1, "dn", ctr_cgid(ID1));
	ev->conn.family = AF_INET;
	ev->conn.protocol = 6;
	ev->conn.dport = 443;
	memcpy(ev->conn.daddr, ((uint8_t[4]){ 93, 184, 216, 34 }), 4);
	ctr_target(&x, ID1, 10, NULL, ev);
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_DN], inc, &x.t), -ENOTSUP);
	assert_int_equal(actions_from(from, a, 8), 2);
	expect_act(a[0], "deny", "intent", "container:" ID1, "", false);
	u = undo_of(a[0]);
	snprintf(buf, sizeof(buf), "%" PRIu64, ctr_cgid(ID1));
	assert_string_equal(js(u, "cgroup_id"), buf);
	assert_string_equal(js(u, "protocol"), "tcp");
	e = cJSON_GetObjectItemCaseSensitive(u, "entries");
	assert_int_equal(cJSON_GetArraySize(e), 1);
	assert_string_equal(js(cJSON_GetArrayItem(e, 0), "cidr"), "93.184.216.34/32");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(e, 0), "ports"), 0)->valuestring,
			    "443");
	cJSON_Delete(u);
	expect_act(a[1], "deny", "result", "container:" ID1, "failed", false);
	assert_string_equal(js(a[1], "detail"), "no enforcer: network containment is unavailable on this node");
	assert_int_equal(inc->status, INC_OPEN);

	/* the rule's CIDRs and ports, and the v4-mapped twin of each IPv4 CIDR */
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_DC], inc, &x.t);
	assert_int_equal(actions_from(from, a, 8), 2);
	u = undo_of(a[0]);
	assert_string_equal(js(u, "rule"), "dc");
	e = cJSON_GetObjectItemCaseSensitive(u, "entries");
	assert_int_equal(cJSON_GetArraySize(e), 2);
	assert_string_equal(js(cJSON_GetArrayItem(e, 0), "cidr"), "169.254.169.254/32");
	assert_string_equal(js(cJSON_GetArrayItem(e, 1), "cidr"), "::ffff:169.254.169.254/128");
	{
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(e, 1), "ports");

		assert_int_equal(cJSON_GetArraySize(p), 2);
		assert_string_equal(cJSON_GetArrayItem(p, 0)->valuestring, "80");
		assert_string_equal(cJSON_GetArrayItem(p, 1)->valuestring, "8000-8080");
	}
	cJSON_Delete(u);

	/* isolate without an enforcer fails the same way */
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_ISO], inc, &x.t), -ENOTSUP);
	assert_int_equal(actions_from(from, a, 8), 2);
	expect_act(a[1], "isolate", "result", "container:" ID1, "failed", false);
	free(ev);
}

/* API actions are accepted but never silently dropped */
static void test_api_skipped(void **state)
{
	const cJSON *a[8];
	struct tgt x;
	struct incident *inc;
	size_t from;

	(void)state;
	responder_up(false, 100, 10);
	inc = detect("ctr:" ID1, "api", ctr_cgid(ID1));
	ctr_target(&x, ID1, 1, NULL, NULL);
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_API], inc, &x.t), 0);
	assert_int_equal(actions_from(from, a, 8), 4);
	expect_act(a[0], "label", "intent", "container:" ID1, "", false);
	expect_act(a[1], "label", "result", "container:" ID1, "skipped", false);
	assert_string_equal(js(a[1], "detail"), "no Kubernetes API configured");
	expect_act(a[3], "event", "result", "container:" ID1, "skipped", false);
	/* once per incident */
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_API], inc, &x.t);
	assert_int_equal(actions_from(from, a, 8), 0);
}

/* ------------------------------------------------------------------ Kubernetes actions */

/* an action queue whose API server does not answer (a closed port): every
 * job stays queued, as while the API server is down */
static struct apiq *dead_apiq(void)
{
	char kc[PATH_MAX], err[256];
	struct k8s_client_opts co = { .connect_timeout_ms = 500, .timeout_ms = 1000,
				      .max_retries = K8S_NO_RETRIES };
	struct apiq_opts qo = { .node = "n1", .max = 4 };
	struct k8s_config *cfg;
	FILE *f;

	snprintf(kc, sizeof(kc), "%s/kubeconfig", F.dir);
	f = fopen(kc, "w");
	assert_non_null(f);
	fprintf(f, "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
		   "clusters: [{name: k, cluster: {server: \"https://127.0.0.1:1\", "
		   "certificate-authority: /etc/ssl/certs/ca-certificates.crt}}]\n"
		   "users: [{name: u, user: {token: t0k3n}}]\n"
		   "contexts: [{name: c, context: {cluster: k, user: u}}]\n");
	fclose(f);
	cfg = k8s_config_from_kubeconfig(kc, NULL, err, sizeof(err));
	assert_non_null(cfg);
	qo.client = k8s_client_new(cfg, &co);
	assert_non_null(qo.client);
	return apiq_new(&qo);
}

static void mkpod(struct pod_info *p, const char *ns, const char *name)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->namespace, sizeof(p->namespace), "%s", ns);
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->uid, sizeof(p->uid), "0b7c1f4e-2a9d-4c55-8e1a-3f6d2b9c7a10");
	snprintf(p->node, sizeof(p->node), "n1");
	snprintf(p->service_account, sizeof(p->service_account), "web-sa");
}

/* wait (up to 5 s) until the worker has reported n results */
static void api_wait(struct responder *r, size_t from, size_t n)
{
	const cJSON *a[32];
	int i;

	for (i = 0; i < 500; i++) {
		responder_api_poll(r);
		if (actions_from(from, a, 32) >= n)
			return;
		usleep(10000);
	}
	fail_msg("no %zu action records after 5 s", n);
}

static void test_api_queued_resumed(void **state)
{
	const cJSON *a[32];
	struct pod_info pod;
	struct incident *inc;
	struct responder *r2;
	struct responder_opts ro = { 0 };
	struct apiq *q = dead_apiq(), *q2;
	struct tgt x;
	cJSON *args;
	char msg[256];
	size_t from;

	(void)state;
	assert_non_null(q);
	responder_up(false, 100, 10);
	responder_set_apiq(F.r, q);
	inc = detect("ctr:" ID1, "api", ctr_cgid(ID1));
	ctr_target(&x, ID1, 1, "shop", NULL);
	mkpod(&pod, "shop", "web-1");
	x.t.pod = &pod;
	from = F.nlines;
	assert_int_equal(responder_on_detection(F.r, &F.pol->rules[R_API], inc, &x.t), 0);
	/* intents at once, with every argument the worker needs */
	assert_int_equal(actions_from(from, a, 32), 2);
	expect_act(a[0], "label", "intent", "pod:shop/web-1", "", false);
	expect_act(a[1], "event", "intent", "pod:shop/web-1", "", false);
	args = cJSON_Parse(js(a[0], "detail"));
	assert_non_null(args);
	assert_string_equal(js(args, "pod_namespace"), "shop");
	assert_string_equal(js(args, "pod_name"), "web-1");
	assert_string_equal(js(args, "pod_uid"), pod.uid);
	assert_string_equal(js(args, "service_account"), "web-sa");
	assert_string_equal(js(args, "incident"), inc->id);
	cJSON_Delete(args);
	args = cJSON_Parse(js(a[1], "detail"));
	assert_string_equal(js(args, "reason"), "NodeguardIncident");
	assert_string_equal(js(args, "event_key"), inc->id);
	cJSON_Delete(args);
	/* the API is unreachable: each is journaled once as queued, in order,
	 * the waiting one too, and only once however often it is retried */
	api_wait(F.r, from, 4);
	usleep(1600 * 1000); /* two more attempts of the first (backoff 0.5 s, 1 s) */
	responder_api_poll(F.r);
	assert_int_equal(actions_from(from, a, 32), 4);
	expect_act(a[2], "label", "result", "pod:shop/web-1", "queued", false);
	assert_non_null(strstr(js(a[2], "detail"), "unreachable"));
	expect_act(a[3], "event", "result", "pod:shop/web-1", "queued", false);
	assert_int_equal(apiq_pending(q), 2);
	/* a repeat of the detection while pending: nothing new */
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_API], inc, &x.t);
	assert_int_equal(actions_from(from, a, 32), 0);
	/* nothing took effect, so there is nothing to release */
	assert_int_equal(responder_release_incident(F.r, inc->id, "alice", msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "no action in effect"));

	/* a restart: the next agent pushes both again from the journal */
	apiq_free(q);
	responder_set_apiq(F.r, NULL);
	ro.policy = F.pol;
	ro.incidents = F.im;
	ro.containers = F.ctr;
	ro.cgroup2 = F.dir;
	ro.self_pid = 999999;
	ro.self_cgroup = 4242;
	ro.self_cgroup_path = SELF_PATH;
	ro.open_incident = open_incident;
	ro.open_ctx = F.im;
	r2 = responder_new(&ro);
	assert_non_null(r2);
	assert_int_equal(responder_api_resume(r2), 0); /* no API: they wait */
	q2 = dead_apiq();
	responder_set_apiq(r2, q2);
	from = F.nlines;
	assert_int_equal(responder_api_resume(r2), 2);
	assert_int_equal(apiq_pending(q2), 2);
	/* still unreachable: already journaled as queued, not again */
	{
		size_t got = 0;
		int i;

		for (i = 0; i < 500 && got < 2; i++, usleep(10000))
			got += responder_api_poll(r2);
		assert_int_equal(got, 2); /* the worker did report both queued */
	}
	assert_int_equal(actions_from(from, a, 32), 0);
	apiq_free(q2);
	responder_free(r2);
}

/* an ok result with an undo document: release queues the undo, journaled
 * as queued with the document, for an agent with the API to apply */
static void test_api_release_waits(void **state)
{
	static const char undo[] = "{\"action\":\"label\",\"namespace\":\"shop\",\"name\":\"web-1\","
				   "\"key\":\"nodeguard.io/quarantine\",\"value\":\"v\",\"previous\":null}";
	const cJSON *a[32];
	struct inc_action ia = { .action = "label", .phase = "intent", .target = "pod:shop/web-1",
				 .result = "", .detail = "{\"pod_namespace\":\"shop\",\"pod_name\":\"web-1\"}" };
	struct inc_action ok = { .action = "label", .phase = "result", .target = "pod:shop/web-1",
				 .result = "ok", .detail = "labelled", .undo = (char *)undo };
	struct incident *inc;
	struct apiq *q;
	char msg[256];
	size_t from;

	(void)state;
	responder_up(false, 100, 10);
	inc = detect("ctr:" ID1, "api", ctr_cgid(ID1));
	assert_int_equal(incident_mgr_action(F.im, inc, &ia), 0);
	assert_int_equal(incident_mgr_action(F.im, inc, &ok), 0);
	from = F.nlines;
	assert_int_equal(responder_release_incident(F.r, inc->id, "alice", msg, sizeof(msg)), 0);
	assert_int_equal(actions_from(from, a, 32), 1);
	expect_act(a[0], "label", "release", "pod:shop/web-1", "queued", false);
	assert_non_null(strstr(js(a[0], "detail"), "waiting for an agent with Kubernetes API access"));
	assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a[0], "undo")));
	/* the agent with the API picks it up */
	q = dead_apiq();
	responder_set_apiq(F.r, q);
	assert_int_equal(responder_api_resume(F.r), 1);
	apiq_free(q);
	responder_set_apiq(F.r, NULL);
}

/* the policy's settings travel in the intents: network-policy implies the
 * label first, then its allows; delete-pod its grace and force */
static void test_api_intent_args(void **state)
{
	const cJSON *a[32];
	struct pod_info pod;
	struct incident *inc;
	struct tgt x;
	cJSON *j;
	size_t from;

	(void)state;
	responder_up(false, 100, 10);
	inc = detect("ctr:" ID1, "quar", ctr_cgid(ID1));
	ctr_target(&x, ID1, 1, "shop", NULL);
	mkpod(&pod, "shop", "web-1");
	snprintf(pod.owner_kind, sizeof(pod.owner_kind), "ReplicaSet");
	snprintf(pod.owner_name, sizeof(pod.owner_name), "web-5d8f");
	x.t.pod = &pod;
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_QUAR], inc, &x.t);
	assert_int_equal(actions_from(from, a, 32), 8);
	expect_act(a[0], "label", "intent", "pod:shop/web-1", "", false);
	expect_act(a[1], "label", "result", "pod:shop/web-1", "skipped", false);
	expect_act(a[2], "network-policy", "intent", "pod:shop/web-1", "", false);
	expect_act(a[4], "revoke-rbac", "intent", "pod:shop/web-1", "", false);
	expect_act(a[6], "delete-pod", "intent", "pod:shop/web-1", "", false);
	j = cJSON_Parse(js(a[2], "detail"));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "allow_dns")));
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "allow_namespaces"), 0)->valuestring,
			    "monitoring");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "allow_cidrs"), 0)->valuestring,
			    "10.0.0.0/8");
	assert_string_equal(js(j, "owner_kind"), "ReplicaSet");
	assert_string_equal(js(j, "node"), "n1");
	cJSON_Delete(j);
	j = cJSON_Parse(js(a[6], "detail"));
	assert_int_equal(cJSON_GetObjectItem(j, "grace_seconds")->valueint, 5);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "force_daemonset")));
	cJSON_Delete(j);
}

/* guardrails hold for API actions too: protected namespace, dry-run */
static void test_api_guardrails(void **state)
{
	const cJSON *a[32];
	struct pod_info pod;
	struct incident *inc;
	struct tgt x;
	size_t from;

	(void)state;
	responder_up(false, 100, 10);
	inc = detect("ctr:" ID1, "api", ctr_cgid(ID1));
	ctr_target(&x, ID1, 1, "kube-system", NULL);
	mkpod(&pod, "kube-system", "coredns-1");
	x.t.pod = &pod;
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_API], inc, &x.t);
	assert_int_equal(actions_from(from, a, 32), 4);
	expect_act(a[1], "label", "result", "pod:kube-system/coredns-1", "refused", false);
	assert_non_null(strstr(js(a[1], "detail"), "protected namespace kube-system"));
	responder_free(F.r);
	policy_free(F.pol);
	responder_up(true, 100, 10);
	inc = detect("ctr:" ID3, "api", ctr_cgid(ID3));
	ctr_target(&x, ID3, 1, "shop", NULL);
	mkpod(&pod, "shop", "web-3");
	x.t.pod = &pod;
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_API], inc, &x.t);
	assert_int_equal(actions_from(from, a, 32), 4);
	expect_act(a[1], "label", "result", "pod:shop/web-3", "would", true);
	/* the agent's own pod, named by the DaemonSet's downward API */
	responder_free(F.r);
	policy_free(F.pol);
	responder_up(false, 100, 10);
	setenv("POD_NAMESPACE", "nodeguard", 1);
	setenv("POD_NAME", "nodeguard-x7k2p", 1);
	inc = detect("ctr:" ID3, "api", ctr_cgid(ID3));
	ctr_target(&x, ID3, 1, "nodeguard", NULL);
	mkpod(&pod, "nodeguard", "nodeguard-x7k2p");
	x.t.pod = &pod;
	from = F.nlines;
	responder_on_detection(F.r, &F.pol->rules[R_API], inc, &x.t);
	unsetenv("POD_NAMESPACE");
	unsetenv("POD_NAME");
	assert_int_equal(actions_from(from, a, 32), 4);
	expect_act(a[1], "label", "result", "pod:nodeguard/nodeguard-x7k2p", "refused", false);
	assert_string_equal(js(a[1], "detail"), "refused: the agent's own pod");
}

/* by hand: kill-container and freeze through the same journal; release by container */
static void test_manual(void **state)
{
	const cJSON *a[16];
	struct incident *inc;
	char id[48], msg[512], d[PATH_MAX], buf[64], st[128];
	size_t from;
	cJSON *u;

	(void)state;
	responder_up(false, 100, 10);
	assert_int_equal(responder_manual(F.r, "reboot", ID1, "alice", id, sizeof(id), msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "unknown action 'reboot' (isolate, freeze or kill-container)");
	assert_int_equal(responder_manual(F.r, "freeze", "abcdefabcdef", "alice", id, sizeof(id), msg, sizeof(msg)),
			 -ENOENT);
	assert_int_equal(responder_manual(F.r, "freeze", "4f3c", "alice", id, sizeof(id), msg, sizeof(msg)), -EINVAL);

	from = F.nlines;
	assert_int_equal(responder_manual(F.r, "freeze", "4f3c2b1a09e8", "alice", id, sizeof(id), msg, sizeof(msg)), 0);
	assert_string_equal(msg, "frozen (cgroup.events: frozen 1)");
	inc = incident_mgr_find(F.im, id);
	assert_non_null(inc);
	assert_string_equal(inc->key, "ctr:" ID1);
	assert_int_equal(inc->status, INC_CONTAINED);
	/* the synthetic detection: source manual, rule manual-freeze, category response */
	assert_int_equal(inc->nentries, 1);
	assert_string_equal(inc->entries[0].source, "manual");
	assert_string_equal(inc->entries[0].rule, "manual-freeze");
	assert_string_equal(inc->entries[0].category, "response");
	assert_int_equal(inc->entries[0].severity, SEV_HIGH);
	assert_int_equal(inc->ncats, 0); /* not part of a category chain */
	assert_int_equal(actions_from(from, a, 16), 2);
	u = undo_of(a[0]);
	assert_string_equal(js(u, "rule"), "manual-freeze");
	assert_string_equal(js(u, "requested_by"), "alice");
	cJSON_Delete(u);
	expect_act(a[1], "freeze", "result", "container:" ID1, "ok", false);
	/* again: joins the incident, nothing more to do */
	from = F.nlines;
	assert_int_equal(responder_manual(F.r, "freeze", ID1, "alice", id, sizeof(id), msg, sizeof(msg)), 0);
	assert_string_equal(id, inc->id);
	assert_int_equal(actions_from(from, a, 16), 0);

	assert_int_equal(responder_manual(F.r, "kill-container", ID1, "alice", id, sizeof(id), msg, sizeof(msg)), 0);
	ctr_dir(ID1, d, sizeof(d));
	get(d, "cgroup.kill", buf, sizeof(buf));
	assert_string_equal(buf, "1");

	/* release by container: freeze undone, kill-container cannot be (what
	 * can be undone first) */
	from = F.nlines;
	assert_int_equal(responder_release_container(F.r, "4f3c2b1a09e8d7", "bob", msg, sizeof(msg)), 0);
	assert_string_equal(msg, "container 4f3c2b1a09e8: 2 actions released, 0 failed, in 1 incident");
	assert_int_equal(actions_from(from, a, 16), 2);
	expect_act(a[0], "freeze", "release", "container:" ID1, "ok", false);
	assert_string_equal(js(a[0], "detail"), "released by bob");
	expect_act(a[1], "kill-container", "release", "container:" ID1, "irreversible", false);
	assert_string_equal(js(a[1], "detail"),
			    "released by bob: the container's killed processes cannot be brought back");
	get(d, "cgroup.freeze", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	statuses_from(from, st, sizeof(st));
	assert_string_equal(st, "released");
	assert_int_equal(responder_release_container(F.r, "abcdefabcdef", "bob", msg, sizeof(msg)), -ENOENT);
	assert_int_equal(responder_release_container(F.r, "xyz", "bob", msg, sizeof(msg)), -EINVAL);
}

/* after a restart: a contained incident whose freeze was lost is re-applied;
 * one whose container is gone is released */
static void test_reconcile(void **state)
{
	const cJSON *a[16];
	struct incident_mgr_opts io = { .node = "n1", .window_s = 600, .write = cap_write };
	struct incmgr *im2;
	struct incident *i1, *i2;
	char id[48], msg[512], d[PATH_MAX], buf[64], summary[512];
	size_t nlines, k, from;

	(void)state;
	responder_up(false, 100, 10);
	assert_int_equal(responder_manual(F.r, "freeze", ID1, "alice", id, sizeof(id), msg, sizeof(msg)), 0);
	assert_int_equal(responder_manual(F.r, "freeze", ID3, "alice", id, sizeof(id), msg, sizeof(msg)), 0);
	responder_free(F.r);
	F.r = NULL;

	/* a new agent: replay the journal into a fresh incident manager */
	nlines = F.nlines;
	im2 = incident_mgr_new(&io);
	assert_non_null(im2);
	for (k = 0; k < nlines; k++)
		assert_int_equal(incident_mgr_apply_record(im2, rec_at(k)), 0);
	incident_mgr_free(F.im);
	F.im = im2;
	i1 = incident_mgr_first(F.im);
	i2 = i1->next;
	assert_int_equal(i1->status, INC_CONTAINED);
	assert_int_equal(i2->status, INC_CONTAINED);

	/* meanwhile: ID1 thawed behind our back, ID3's container is gone */
	ctr_dir(ID1, d, sizeof(d));
	put(d, "cgroup.freeze", "0");
	ctr_dir(ID3, d, sizeof(d));
	rm_tree(d);

	{
		struct responder_opts ro = { .policy = F.pol, .incidents = F.im, .containers = F.ctr,
					     .cgroup2 = F.dir, .self_pid = 1, .self_cgroup_path = SELF_PATH,
					     .open_incident = open_incident, .open_ctx = F.im };

		F.r = responder_new(&ro);
		assert_non_null(F.r);
	}
	from = F.nlines;
	assert_int_equal(responder_reconcile(F.r, summary, sizeof(summary)), 0);
	assert_string_equal(summary,
			    "reconcile: 2 contained incidents: 0 actions holding, 1 re-applied, 0 failed, "
			    "1 released (cgroup gone); pinned: 0 orphan isolations released, 0 kept, "
			    "0 deny entries of gone cgroups removed");
	assert_int_equal(actions_from(from, a, 16), 3);
	expect_act(a[0], "freeze", "intent", "container:" ID1, "", false);
	expect_act(a[1], "freeze", "result", "container:" ID1, "ok", false);
	assert_string_equal(js(a[1], "detail"), "re-applied after a restart: cgroup.freeze was 0; "
						"frozen (cgroup.events: frozen 1)");
	expect_act(a[2], "freeze", "release", "container:" ID3, "ok", false);
	assert_string_equal(js(a[2], "detail"), "released by reconcile: the cgroup is gone");
	ctr_dir(ID1, d, sizeof(d));
	get(d, "cgroup.freeze", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	assert_int_equal(i1->status, INC_CONTAINED);
	assert_int_equal(i2->status, INC_RELEASED);

	/* a second pass finds everything in place */
	assert_int_equal(responder_reconcile(F.r, summary, sizeof(summary)), 0);
	if (!strstr(summary, "1 contained incident: 1 action holding, 0 re-applied"))
		fail_msg("second reconcile: %s", summary);
}

/* the default policy's kill rules are enforced in the kernel */
static void test_default_policy_kills(void **state)
{
	struct policy *p = NULL;
	struct policy_errors e = { 0 };
	char why[160];
	size_t i, nkill = 0;

	(void)state;
	assert_int_equal(policy_load_default(&p, &e), 0);
	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		if (!(r->actions & ACT_KILL))
			continue;
		nkill++;
		assert_true(!strcmp(r->name, "unexplained-credential-change") ||
			    !strcmp(r->name, "container-entered-host-namespace"));
		if (!killrules_compilable(r, why, sizeof(why)))
			fail_msg("default kill rule %s does not compile to the kernel: %s", r->name, why);
		/* no other containment by default */
		assert_int_equal(r->actions & ~(ACT_LOG | ACT_KILL), 0);
	}
	assert_int_equal(nkill, 2);
	policy_free(p);
	policy_errors_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide_guardrails),
		cmocka_unit_test(test_decide_rate_limits),
		cmocka_unit_test_setup_teardown(test_freeze_and_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guardrail_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_and_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_enforce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_queued_resumed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_release_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_guardrails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_intent_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manual, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile, setup, teardown),
		cmocka_unit_test(test_default_policy_kills),
	};

	/* the responder's log lines are not test output */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
