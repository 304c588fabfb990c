// SPDX-License-Identifier: Apache-2.0
/*
 * The action layer (respond.h): guardrails, then containment, each action
 * journaled as an intent (with the data needed to undo it) and a result.
 *
 *   kill            rules compiled into the kernel (killrules_load) are
 *                   enforced at the hook; the NG_EV_ENFORCE record is
 *                   journaled here. Other kill rules: pidfd_send_signal.
 *   deny            LPM entries for the container's cgroup (or node-wide)
 *   isolate         enforcer_isolate on the container's cgroup
 *   freeze          cgroup.freeze, confirmed through cgroup.events
 *   kill-container  cgroup.kill
 *   label, network-policy, revoke-rbac, delete-pod, event
 *                   on the pod, through the API action queue (apiq.h): the
 *                   intent holds every argument; the worker's result (with
 *                   the undo document) is journaled when it reports; without
 *                   an API they are journaled as skipped
 *
 * Storm control: an action already in effect on the incident is not done
 * again; "would", "suppressed", "refused" outcomes of the same rule and
 * action on one incident are journaled once a minute with a count of the
 * ones in between; kernel refusals (deny/isolate) likewise. A few action
 * slots of every incident are kept for release records.
 *
 * Record shapes are documented in docs/incidents.md (integration tests
 * assert them).
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "evfmt.h"
#include "jsonw.h"
#include "killrules.h"
#include "log.h"
#include "respond.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define NS_PER_S 1000000000ull
#define RATE_WINDOW_NS (60ull * NS_PER_S)  /* rate limits: per minute */
#define QUIET_WINDOW_NS (60ull * NS_PER_S) /* non-actions: a burst per minute ... */
#define QUIET_BURST 10                     /* ... of this many records, then counted */
#define QUIET_FLUSH_NS (5ull * NS_PER_S)   /* counted ones journaled this late at most */
#define FREEZE_CONFIRM_MS 2000
#define ACTION_RESERVE 16                  /* action slots kept for release records */
#define QUIET_MAX 256
#define ENFSEEN_MAX 256
#define RATE_RULES_MAX 8192
#define DENY_ENTRIES_MAX 256
#define CDENY_CIDRS_MAX 64                 /* CIDRs of a deny rule compiled per container */
#define SWEEP_NS (30ull * NS_PER_S)        /* gone containers' compiled entries dropped */
#define WALK_DIRS_MAX 65536
#define WALK_DEPTH_MAX 12
/* ng_deny_val.rule_id of an entry compiled from the policy (not an action) */
#define DENY_COMPILED (1u << 31)

enum outcome { O_OK, O_FAILED, O_WOULD, O_SUPPRESSED, O_REFUSED, O_SKIPPED, O_NOOP };

/*
 * Non-actions (would / suppressed / refused) of one rule and action on one
 * incident: QUIET_BURST records a minute, the rest counted and journaled
 * as one record ("(N more since T)") within QUIET_FLUSH_NS.
 */
struct quiet {
	char inc[48];
	uint32_t action;
	char rule[132];
	int verdict;
	uint64_t win_start;        /* monotonic ns: the minute's start */
	uint32_t in_win;           /* records journaled in this minute */
	uint32_t hidden;           /* counted, not journaled yet */
	uint64_t hidden_mono, hidden_wall; /* the first of them */
	uint64_t last_use;
	/* the last counted one, journaled for all of them */
	char target[128];
	char *undo;
	char det[512];
	bool dry;
};

/* kernel refusals (deny / isolate) of one cgroup, action and rule: as
 * struct quiet, a burst a minute, the rest counted */
struct enfseen {
	uint64_t cg;
	uint32_t action, rule_id;
	char inc[48];
	uint64_t win_start, last_use;
	uint32_t in_win, hidden;
	uint64_t hidden_mono, hidden_wall;
	char target[128];
	char det[512];
};

struct rate_win {
	uint64_t start;
	uint32_t count;
};

struct rate_rule {
	char *name;
	struct rate_win w;
};

struct resp_rates {
	struct rate_win global;
	struct rate_rule *rules;
	size_t n, cap;
};

/* a deny rule the kernel evaluates exactly: compiled per container */
struct cdeny {
	uint32_t rule_id;
	char name[132];
	struct cidr cidrs[2 * CDENY_CIDRS_MAX]; /* with the v4-mapped twins */
	size_t ncidrs;
	struct port_range ports[NG_DENY_PORTS_MAX];
	size_t nports;
	uint8_t protocol;
};

/* container cgroups the compiled deny rules were considered for */
struct cgset {
	uint64_t *id;              /* open addressing, 0 = empty */
	char **path;
	bool *compiled;            /* entries installed (not a guardrail skip) */
	size_t cap, n;
};

struct responder {
	const struct policy *pol;
	struct enforcer *enf;
	struct incmgr *im;
	struct ctr_cache *ctr;
	char cgroup2[PATH_MAX];
	char self_path[PATH_MAX];
	struct resp_self self;
	struct resp_rates *rates;
	bool kernel_kill;
	uint8_t *kkill;            /* per rule index: its kill runs in the kernel */
	size_t nkkill;
	struct quiet quiet[QUIET_MAX];
	struct enfseen enf_seen[ENFSEEN_MAX];
	int64_t boot_off;          /* realtime - boottime, for kernel timestamps */
	struct cdeny *cd;          /* compiled deny rules of the policy */
	size_t ncd;
	struct cgset seen;
	uint64_t last_sweep;
	struct jsonw w;
	struct apiq *q;            /* Kubernetes actions; NULL: no API */
};

/* ---------------------------------------------------------------- time */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static const char *wall_str(uint64_t ns, char *buf, size_t n)
{
	time_t s = (time_t)(ns / NS_PER_S);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* ---------------------------------------------------------------- rates */

struct resp_rates *resp_rates_new(void)
{
	return calloc(1, sizeof(struct resp_rates));
}

void resp_rates_free(struct resp_rates *rr)
{
	size_t i;

	if (!rr)
		return;
	for (i = 0; i < rr->n; i++)
		free(rr->rules[i].name);
	free(rr->rules);
	free(rr);
}

static void win_roll(struct rate_win *w, uint64_t now)
{
	if (!w->start || now < w->start || now - w->start >= RATE_WINDOW_NS) {
		w->start = now ? now : 1;
		w->count = 0;
	}
}

/* the rule's window; NULL only when memory ran out */
static struct rate_win *rule_win(struct resp_rates *rr, const char *name)
{
	size_t i, old = 0;
	char *dup;

	for (i = 0; i < rr->n; i++)
		if (!strcmp(rr->rules[i].name, name))
			return &rr->rules[i].w;
	dup = strdup(name);
	if (!dup)
		return NULL;
	if (rr->n >= RATE_RULES_MAX) {
		/* bounded: reuse the window that started longest ago */
		for (i = 1; i < rr->n; i++)
			if (rr->rules[i].w.start < rr->rules[old].w.start)
				old = i;
		free(rr->rules[old].name);
		rr->rules[old] = (struct rate_rule){ .name = dup };
		return &rr->rules[old].w;
	}
	if (rr->n == rr->cap) {
		size_t nc = rr->cap ? rr->cap * 2 : 32;
		struct rate_rule *nr = realloc(rr->rules, nc * sizeof(*nr));

		if (!nr) {
			free(dup);
			return NULL;
		}
		rr->rules = nr;
		rr->cap = nc;
	}
	rr->rules[rr->n] = (struct rate_rule){ .name = dup };
	return &rr->rules[rr->n++].w;
}

void resp_rates_count(struct resp_rates *rr, const char *rule, uint64_t now_ns)
{
	struct rate_win *w;

	if (!rr)
		return;
	win_roll(&rr->global, now_ns);
	rr->global.count++;
	w = rule ? rule_win(rr, rule) : NULL;
	if (w) {
		win_roll(w, now_ns);
		w->count++;
	}
}

/* ---------------------------------------------------------------- decision */

bool respond_action_is_cgroup(uint32_t act)
{
	return act == ACT_ISOLATE || act == ACT_FREEZE || act == ACT_KILL_CONTAINER;
}

bool respond_action_is_api(uint32_t act)
{
	return act == ACT_LABEL || act == ACT_NETWORK_POLICY || act == ACT_REVOKE_RBAC ||
	       act == ACT_DELETE_POD || act == ACT_EVENT;
}

const char *resp_verdict_result(enum resp_verdict v)
{
	switch (v) {
	case RESP_DO: return "ok";
	case RESP_WOULD: return "would";
	case RESP_SUPPRESSED: return "suppressed";
	case RESP_REFUSED: return "refused";
	}
	return "unknown";
}

/* components of a cgroup path: "/" 0, "/a" 1, "/a/b" 2 */
static int path_depth(const char *p)
{
	char prev = '/';
	int d = 0;

	for (; *p; prev = *p++)
		if (*p != '/' && prev == '/')
			d++;
	return d;
}

/* is `anc` the cgroup `p` or one of its ancestors? */
static bool path_contains(const char *anc, const char *p)
{
	size_t n = strlen(anc);

	while (n > 1 && anc[n - 1] == '/')
		n--;
	if (n == 1 && anc[0] == '/')
		return true;
	return !strncmp(anc, p, n) && (p[n] == '\0' || p[n] == '/');
}

const char *respond_namespace_protected(const struct policy_settings *s, const char *ns)
{
	size_t i;

	for (i = 0; s && ns && i < s->protected_namespaces.n; i++)
		if (fnmatch(s->protected_namespaces.v[i], ns, 0) == 0)
			return s->protected_namespaces.v[i];
	return NULL;
}

enum resp_verdict respond_decide(const struct policy_settings *s, const struct resp_self *self,
				 const struct resp_case *c, struct resp_rates *rr, uint64_t now_ns,
				 char *why, size_t n)
{
	const struct rule *ru = c->rule;
	const char *rname = ru && ru->name ? ru->name : "?", *pat;
	bool cg = respond_action_is_cgroup(c->action);
	struct rate_win *rw = NULL;

#define SAY(...) (why && n ? (void)snprintf(why, n, __VA_ARGS__) : (void)0)
	SAY("%s", "");
	if (self) {
		if (c->pid && self->pid && c->pid == self->pid) {
			SAY("the agent's own process");
			return RESP_REFUSED;
		}
		if (c->cgroup_id && self->cgroup_id && c->cgroup_id == self->cgroup_id) {
			SAY("the agent's own cgroup");
			return RESP_REFUSED;
		}
		if (cg && self->cgroup_path && *self->cgroup_path && c->cgroup_path &&
		    *c->cgroup_path && path_contains(c->cgroup_path, self->cgroup_path)) {
			SAY("cgroup %s contains the agent", c->cgroup_path);
			return RESP_REFUSED;
		}
	}
	if (c->self_pod) {
		SAY("the agent's own pod");
		return RESP_REFUSED;
	}
	if (cg) {
		if (!c->cgroup_path || !*c->cgroup_path) {
			SAY("the cgroup's path is unknown");
			return RESP_REFUSED;
		}
		if (path_depth(c->cgroup_path) < 2) {
			SAY("cgroup %s is the node root or a top-level cgroup", c->cgroup_path);
			return RESP_REFUSED;
		}
	}
	if (!c->is_container && (!ru || ru->match.scope == SCOPE_CONTAINER)) {
		SAY("host process, and rule %s is scoped to containers", rname);
		return RESP_REFUSED;
	}
	if (s && c->pod_namespace && (pat = respond_namespace_protected(s, c->pod_namespace))) {
		if (strcmp(pat, c->pod_namespace))
			SAY("protected namespace %s (%s)", c->pod_namespace, pat);
		else
			SAY("protected namespace %s", c->pod_namespace);
		return RESP_REFUSED;
	}
	if ((s && s->dry_run) || (ru && ru->dry_run == TRI_TRUE)) {
		SAY("%s", s && s->dry_run ? "dry-run (settings.dry_run)" : "dry-run (the rule's dry_run)");
		return RESP_WOULD;
	}
	if (c->no_rate || !rr || !s)
		return RESP_DO;
	win_roll(&rr->global, now_ns);
	rw = rule_win(rr, rname);
	if (rw) {
		win_roll(rw, now_ns);
		if (s->rule_actions_per_minute && rw->count >= s->rule_actions_per_minute) {
			SAY("rule %s: %u per minute", rname, s->rule_actions_per_minute);
			return RESP_SUPPRESSED;
		}
	}
	if (s->actions_per_minute && rr->global.count >= s->actions_per_minute) {
		SAY("node: %u per minute", s->actions_per_minute);
		return RESP_SUPPRESSED;
	}
	rr->global.count++;
	if (rw)
		rw->count++;
	return RESP_DO;
#undef SAY
}

/* ---------------------------------------------------------------- small helpers */

static const char *verb(uint32_t act)
{
	switch (act) {
	case ACT_KILL: return "kill";
	case ACT_DENY: return "deny";
	case ACT_ISOLATE: return "isolate";
	case ACT_FREEZE: return "freeze";
	case ACT_KILL_CONTAINER: return "kill the container";
	default: return action_name(act);
	}
}

static void cidr_str(const struct cidr *c, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, n, "%s/%u", a, c->prefix);
}

static bool cidr_eq(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

static int cidr_parse(const char *s, struct cidr *out)
{
	char a[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long p;
	char *end;

	if (!slash || n == 0 || n >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, n);
	a[n] = '\0';
	memset(out, 0, sizeof(*out));
	out->family = strchr(a, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(out->family, a, out->addr) != 1)
		return -EINVAL;
	p = strtoul(slash + 1, &end, 10);
	if (*end || p > (out->family == AF_INET ? 32u : 128u))
		return -EINVAL;
	out->prefix = (uint8_t)p;
	return 0;
}

/* ::ffff:a.b.c.d/(96+p): how a dual-stack socket reaches an IPv4 CIDR */
static struct cidr v4mapped(const struct cidr *c)
{
	struct cidr m = { .family = AF_INET6, .prefix = (uint8_t)(96 + c->prefix) };

	m.addr[10] = m.addr[11] = 0xff;
	memcpy(m.addr + 12, c->addr, 4);
	return m;
}

static const struct rule *rule_by_id(const struct responder *r, uint32_t id)
{
	if (!r->pol || !id || id > r->pol->nrules)
		return NULL;
	return &r->pol->rules[id - 1];
}

static int write_cg_file(const char *dir, const char *file, const char *val)
{
	char p[PATH_MAX];
	ssize_t w;
	int fd, err = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, val, strlen(val));
	if (w < 0)
		err = -errno;
	else if ((size_t)w != strlen(val))
		err = -EIO;
	close(fd);
	return err;
}

static ssize_t read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, n - 1);
	if (r < 0)
		r = -errno;
	else
		buf[r] = '\0';
	close(fd);
	return r;
}

static void cg_dir(const struct responder *r, const char *rel, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s", r->cgroup2, rel);
}

/* does the cgroup still exist (directory with this id)? */
static bool cgroup_alive(struct responder *r, uint64_t cgid, const char *rel)
{
	struct ctr_info ci;
	char d[PATH_MAX];
	struct stat st;

	if (rel && *rel) {
		cg_dir(r, rel, d, sizeof(d));
		return stat(d, &st) == 0 && (!cgid || st.st_ino == cgid);
	}
	return cgid && r->ctr && ctr_cache_lookup(r->ctr, cgid, &ci) == 0;
}

static bool cg_frozen_file(const char *dir, const char *file, const char *want)
{
	char p[PATH_MAX], buf[512];

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	if (read_file(p, buf, sizeof(buf)) < 0)
		return false;
	if (!strcmp(file, "cgroup.freeze"))
		return buf[0] == want[0];
	/* cgroup.events: "populated 1\nfrozen 1\n" */
	{
		const char *f = strstr(buf, "frozen ");

		return f && (f == buf || f[-1] == '\n') && f[7] == want[0];
	}
}

/* ---------------------------------------------------------------- records */

static int rec_undo(struct responder *r, struct incident *inc, const char *action,
		    const char *phase, const char *target, const char *result, const char *detail,
		    const char *undo, bool dry)
{
	struct inc_action a = {
		.ts_ns = wall_ns(), .action = (char *)action, .phase = (char *)phase,
		.target = (char *)target, .result = (char *)result, .detail = (char *)detail,
		.undo = (char *)undo, .dry_run = dry,
	};
	int err = incmgr_action(r->im, inc, &a);

	if (err)
		log_err("incident %s: Failed to journal the %s of %s on %s: %s", inc->id, phase,
			action, target, strerror(-err));
	return err;
}

static int rec(struct responder *r, struct incident *inc, const char *action, const char *phase,
	       const char *target, const char *result, const char *detail, bool dry)
{
	return rec_undo(r, inc, action, phase, target, result, detail, NULL, dry);
}

/* room for one more intent/result pair, keeping slots for releases */
static bool have_room(const struct incident *inc)
{
	return inc->nactions + 2 + ACTION_RESERVE <= INC_MAX_ACTIONS;
}

static void set_contained(struct responder *r, struct incident *inc, const char *action,
			  const char *rule)
{
	char why[256];

	if (inc->status == INC_CONTAINED)
		return;
	snprintf(why, sizeof(why), "%s (rule %s)", action, rule);
	if (incmgr_set_status(r->im, inc, INC_CONTAINED, why, wall_ns()))
		log_err("incident %s: Failed to journal the contained status", inc->id);
}

/* is an earlier action in effect: result ok (or skipped for API actions)
 * and no release since? */
struct active {
	size_t intent, result;
};

static bool same_action(const struct inc_action *a, const struct inc_action *b)
{
	return !strcmp(a->action, b->action) && !strcmp(a->target, b->target);
}

/* the actions of inc in effect: ok results (with their intent) not released */
static size_t active_actions(const struct incident *inc, struct active *out, size_t max)
{
	size_t i, j, k, n = 0;

	for (i = 0; i < inc->nactions; i++) {
		const struct inc_action *a = &inc->actions[i];

		if (!strcmp(a->phase, "release")) {
			for (j = 0; j < n;) {
				if (same_action(&inc->actions[out[j].result], a))
					out[j] = out[--n];
				else
					j++;
			}
			continue;
		}
		if (strcmp(a->phase, "result") || strcmp(a->result, "ok") || n >= max)
			continue;
		for (j = i; j > 0; j--) {
			const struct inc_action *x = &inc->actions[j - 1];

			if (!strcmp(x->phase, "intent") && same_action(x, a))
				break;
		}
		if (!j)
			continue; /* a result without its intent: nothing to undo from */
		/* the same again (re-applied by reconcile): one action in effect */
		for (k = 0; k < n; k++)
			if (same_action(&inc->actions[out[k].intent], a) &&
			    !strcmp(inc->actions[out[k].intent].detail, inc->actions[j - 1].detail))
				break;
		if (k < n) {
			out[k] = (struct active){ .intent = j - 1, .result = i };
			continue;
		}
		out[n++] = (struct active){ .intent = j - 1, .result = i };
	}
	/* oldest first */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && out[j - 1].result > out[j].result; j--) {
			struct active t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* an action with this target (and undo detail, when given) already in effect? */
static bool in_effect(const struct incident *inc, const char *action, const char *target,
		      const char *detail)
{
	struct active act[INC_MAX_ACTIONS];
	size_t i, n = active_actions(inc, act, INC_MAX_ACTIONS);

	for (i = 0; i < n; i++) {
		const struct inc_action *in = &inc->actions[act[i].intent];

		if (!strcmp(in->action, action) && !strcmp(in->target, target) &&
		    (!detail || !strcmp(in->detail, detail)))
			return true;
	}
	return false;
}

static const char *verdict_result(int v)
{
	return resp_verdict_result((enum resp_verdict)v);
}

/* journal the counted non-actions of q as one intent/result pair */
static void quiet_flush(struct responder *r, struct quiet *q)
{
	struct incident *inc;
	char det[700], t[32];

	if (!q->hidden)
		return;
	inc = incmgr_find(r->im, q->inc);
	if (inc && have_room(inc)) {
		snprintf(det, sizeof(det), "%s", q->det);
		if (q->hidden > 1)
			snprintf(det + strlen(det), sizeof(det) - strlen(det), " (%u more since %s)",
				 q->hidden - 1, wall_str(q->hidden_wall, t, sizeof(t)));
		rec(r, inc, action_name(q->action), "intent", q->target, "", q->undo ? q->undo : "{}",
		    q->dry);
		rec(r, inc, action_name(q->action), "result", q->target, verdict_result(q->verdict), det,
		    q->dry);
	} else {
		log_warn("incident %s: %u %s records of %s (rule %s) not journaled: no room", q->inc,
			 q->hidden, verdict_result(q->verdict), action_name(q->action), q->rule);
	}
	q->hidden = 0;
	free(q->undo);
	q->undo = NULL;
}

/*
 * A non-action (would / suppressed / refused): journal it as an intent and
 * a result, unless QUIET_BURST like it were journaled on this incident in
 * the last minute; then count it (quiet_flush journals the count).
 * true if it was journaled now (the caller logs only those).
 */
static bool journal_quiet(struct responder *r, struct incident *inc, uint32_t action,
			  const char *rule, int verdict, const char *target, const char *undo,
			  const char *det, bool dry)
{
	struct quiet *q = NULL, *lru = &r->quiet[0];
	uint64_t now = mono_ns();
	size_t i;

	for (i = 0; i < QUIET_MAX; i++) {
		struct quiet *x = &r->quiet[i];

		if (x->last_use && x->action == action && x->verdict == verdict &&
		    !strcmp(x->inc, inc->id) && !strncmp(x->rule, rule, sizeof(x->rule) - 1)) {
			q = x;
			break;
		}
		if (x->last_use < lru->last_use)
			lru = x;
	}
	if (!q) {
		q = lru;
		quiet_flush(r, q);
		memset(q, 0, sizeof(*q));
		snprintf(q->inc, sizeof(q->inc), "%s", inc->id);
		snprintf(q->rule, sizeof(q->rule), "%s", rule);
		q->action = action;
		q->verdict = verdict;
	}
	q->last_use = now ? now : 1;
	if (!q->win_start || now - q->win_start >= QUIET_WINDOW_NS) {
		quiet_flush(r, q);
		q->win_start = now ? now : 1;
		q->in_win = 0;
	}
	if (q->in_win < QUIET_BURST) {
		q->in_win++;
		rec(r, inc, action_name(action), "intent", target, "", undo, dry);
		rec(r, inc, action_name(action), "result", target, verdict_result(verdict), det, dry);
		return true;
	}
	if (!q->hidden) {
		q->hidden_mono = now;
		q->hidden_wall = wall_ns();
	}
	q->hidden++;
	snprintf(q->target, sizeof(q->target), "%s", target);
	snprintf(q->det, sizeof(q->det), "%s", det);
	free(q->undo);
	q->undo = strdup(undo ? undo : "{}");
	q->dry = dry;
	return false;
}

/* ---------------------------------------------------------------- undo data */

static void undo_common(struct jsonw *w, const char *rule, uint64_t cgid,
			const struct ctr_info *ci, const char *who)
{
	char d[24];

	jsonw_kv_str(w, "rule", rule);
	snprintf(d, sizeof(d), "%" PRIu64, cgid);
	jsonw_kv_str(w, "cgroup_id", d);
	jsonw_kv_str(w, "cgroup_path", ci ? ci->path : "");
	jsonw_kv_str(w, "container_id", ci ? ci->container_id : "");
	if (ci && ci->pod_uid[0])
		jsonw_kv_str(w, "pod_uid", ci->pod_uid);
	if (who)
		jsonw_kv_str(w, "requested_by", who);
}

static const char *jget(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static uint64_t jget_u64(const cJSON *o, const char *k)
{
	const char *s = jget(o, k);

	return s ? strtoull(s, NULL, 10) : 0;
}

/* ---------------------------------------------------------------- the actions */

struct deny_plan {
	uint64_t cgid;         /* 0: node-wide */
	struct cidr cidrs[DENY_ENTRIES_MAX];
	size_t n;
	struct port_range ports[NG_DENY_PORTS_MAX];
	size_t nports;
	uint8_t protocol;
};

static int deny_plan(const struct rule *ru, const struct resp_target *t, bool node_wide,
		     struct deny_plan *p, char *err, size_t errn)
{
	const struct match *m = &ru->match;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->cgid = node_wide ? 0 : t->cgroup_id;
	if (m->ncidrs) {
		if (m->nports > NG_DENY_PORTS_MAX) {
			snprintf(err, errn, "the rule has %zu port ranges; a deny entry holds at most %d",
				 m->nports, NG_DENY_PORTS_MAX);
			return -E2BIG;
		}
		for (i = 0; i < m->ncidrs; i++) {
			if (p->n + 2 > DENY_ENTRIES_MAX) {
				snprintf(err, errn, "the rule has more than %d CIDRs", DENY_ENTRIES_MAX / 2);
				return -E2BIG;
			}
			p->cidrs[p->n++] = m->cidrs[i];
			/* as the rule matches it: also through a dual-stack socket */
			if (m->cidrs[i].family == AF_INET)
				p->cidrs[p->n++] = v4mapped(&m->cidrs[i]);
		}
		memcpy(p->ports, m->ports, m->nports * sizeof(*m->ports));
		p->nports = m->nports;
		p->protocol = m->protocol;
		return 0;
	}
	/* no CIDRs in the rule: exactly the observed destination and port */
	if (!t->ev || (t->ev->hdr.kind != NG_EV_CONNECT && t->ev->hdr.kind != NG_EV_SENDMSG) ||
	    (t->ev->conn.family != AF_INET && t->ev->conn.family != AF_INET6)) {
		snprintf(err, errn, "deny needs a connect detection (a destination to refuse)");
		return -EINVAL;
	}
	p->cidrs[0].family = (uint8_t)t->ev->conn.family;
	p->cidrs[0].prefix = t->ev->conn.family == AF_INET ? 32 : 128;
	memcpy(p->cidrs[0].addr, t->ev->conn.daddr, t->ev->conn.family == AF_INET ? 4 : 16);
	p->n = 1;
	if (t->ev->conn.dport) {
		p->ports[0].lo = p->ports[0].hi = t->ev->conn.dport;
		p->nports = 1;
	}
	p->protocol = t->ev->conn.protocol == 6 || t->ev->conn.protocol == 17
			      ? (uint8_t)t->ev->conn.protocol : m->protocol;
	return 0;
}

static void deny_json(struct jsonw *w, const struct deny_plan *p)
{
	char b[64];
	size_t i, j;

	jsonw_kv_str(w, "protocol", p->protocol == 6 ? "tcp" : p->protocol == 17 ? "udp" : "any");
	jsonw_key(w, "entries");
	jsonw_arr_open(w);
	for (i = 0; i < p->n; i++) {
		jsonw_obj_open(w);
		cidr_str(&p->cidrs[i], b, sizeof(b));
		jsonw_kv_str(w, "cidr", b);
		jsonw_key(w, "ports");
		jsonw_arr_open(w);
		for (j = 0; j < p->nports; j++) {
			if (p->ports[j].lo == p->ports[j].hi)
				snprintf(b, sizeof(b), "%u", p->ports[j].lo);
			else
				snprintf(b, sizeof(b), "%u-%u", p->ports[j].lo, p->ports[j].hi);
			jsonw_str_val(w, b);
		}
		jsonw_arr_close(w);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
}

static int do_deny(struct responder *r, const struct deny_plan *p, uint32_t rule_id, char *det,
		   size_t detn)
{
	char b[64];
	size_t i;
	int err = 0;

	if (!r->enf) {
		snprintf(det, detn, "no enforcer: network containment is unavailable on this node");
		return -ENOTSUP;
	}
	for (i = 0; i < p->n; i++) {
		err = enforcer_deny_add(r->enf, p->cgid, &p->cidrs[i], p->ports, p->nports,
					p->protocol, rule_id);
		if (err)
			break;
	}
	if (err) {
		cidr_str(&p->cidrs[i], b, sizeof(b));
		snprintf(det, detn, "Failed to add deny entry %s: %s (entries added before it were "
			 "removed)", b, strerror(-err));
		while (i-- > 0)
			enforcer_deny_del(r->enf, p->cgid, &p->cidrs[i]);
		return err;
	}
	cidr_str(&p->cidrs[0], b, sizeof(b));
	snprintf(det, detn, "%s: connects and UDP sends to %s%s refused (EPERM), %zu entr%s",
		 p->cgid ? "cgroup" : "node-wide", b, p->n > 1 ? " and more" : "", p->n,
		 p->n == 1 ? "y" : "ies");
	return 0;
}

static int do_isolate(struct responder *r, uint64_t cgid, const char *rel, uint32_t rule_id,
		      char *det, size_t detn)
{
	char d[PATH_MAX];
	size_t nallow = r->pol ? r->pol->settings.nisolate_allow : 0;
	int err;

	if (!r->enf) {
		snprintf(det, detn, "no enforcer: network containment is unavailable on this node");
		return -ENOTSUP;
	}
	cg_dir(r, rel, d, sizeof(d));
	err = enforcer_isolate(r->enf, cgid, d, rule_id);
	if (err) {
		snprintf(det, detn, "Failed to isolate %s: %s", d, strerror(-err));
		return err;
	}
	snprintf(det, detn, "isolated: new connects and UDP sends refused, established traffic "
		 "dropped; %s", nallow ? "loopback and the isolate_allow list pass" : "loopback passes");
	return 0;
}

static int do_freeze(struct responder *r, const char *rel, char *det, size_t detn)
{
	char d[PATH_MAX], p[PATH_MAX + 16];
	uint64_t deadline;
	int err, fd;

	cg_dir(r, rel, d, sizeof(d));
	err = write_cg_file(d, "cgroup.freeze", "1");
	if (err) {
		snprintf(det, detn, "Failed to write 1 to %s/cgroup.freeze: %s", d, strerror(-err));
		return err;
	}
	/* cgroup.events signals a change with POLLPRI; poll it, bounded */
	snprintf(p, sizeof(p), "%s/cgroup.events", d);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	deadline = mono_ns() + FREEZE_CONFIRM_MS * 1000000ull;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLPRI };
		uint64_t now;

		if (cg_frozen_file(d, "cgroup.events", "1")) {
			if (fd >= 0)
				close(fd);
			snprintf(det, detn, "frozen (cgroup.events: frozen 1)");
			return 0;
		}
		now = mono_ns();
		if (now >= deadline)
			break;
		if (fd >= 0)
			poll(&pfd, 1, 20);
		else
			usleep(20000);
	}
	if (fd >= 0)
		close(fd);
	/* not frozen in time: undo, so "failed" means nothing stays in effect */
	write_cg_file(d, "cgroup.freeze", "0");
	snprintf(det, detn, "not frozen within %d ms (cgroup.events never said frozen 1); "
		 "cgroup.freeze set back to 0", FREEZE_CONFIRM_MS);
	return -ETIMEDOUT;
}

static int do_kill_container(struct responder *r, const char *rel, char *det, size_t detn)
{
	char d[PATH_MAX];
	int err;

	cg_dir(r, rel, d, sizeof(d));
	err = write_cg_file(d, "cgroup.kill", "1");
	if (err) {
		snprintf(det, detn, "Failed to write 1 to %s/cgroup.kill: %s%s", d, strerror(-err),
			 err == -ENOENT ? " (cgroup.kill needs Linux >= 5.14)" : "");
		return err;
	}
	snprintf(det, detn, "cgroup.kill written: every process of the cgroup killed");
	return 0;
}

/* is pid still the process the detection saw? (checked after pidfd_open:
 * if it died since, the pidfd refers to the dead one and the signal fails) */
static bool same_process(const struct responder *r, const struct resp_target *t, char *why,
			 size_t n)
{
	char p[64], buf[4096];
	const char *l;

	if (t->ctr && t->ctr->path[0] && !t->ctr->path_truncated) {
		snprintf(p, sizeof(p), "/proc/%u/cgroup", t->pid);
		if (read_file(p, buf, sizeof(buf)) < 0)
			return true; /* gone: pidfd_send_signal will say so */
		for (l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			size_t len = strcspn(l, "\n");

			if (!strncmp(l, "0::", 3)) {
				char cur[PATH_MAX];

				snprintf(cur, sizeof(cur), "%.*s", (int)(len - 3), l + 3);
				if (path_contains(t->ctr->path, cur))
					return true;
				snprintf(why, n, "pid %u is no longer in cgroup %s", t->pid, t->ctr->path);
				return false;
			}
		}
		return true;
	}
	if (t->ev && t->ev->comm[0]) {
		snprintf(p, sizeof(p), "/proc/%u/comm", t->pid);
		if (read_file(p, buf, sizeof(buf)) < 0)
			return true;
		buf[strcspn(buf, "\n")] = '\0';
		if (strcmp(buf, t->ev->comm)) {
			snprintf(why, n, "pid %u is now \"%s\", not \"%s\"", t->pid, buf, t->ev->comm);
			return false;
		}
	}
	(void)r;
	return true;
}

static int do_kill_pid(struct responder *r, const struct resp_target *t, char *det, size_t detn)
{
	char why[256] = "";
	int fd, err;

	fd = (int)syscall(SYS_pidfd_open, (pid_t)t->pid, 0);
	if (fd < 0 && errno == ENOSYS) {
		/* no pidfd (Linux < 5.3, or valgrind): kill(2) right after the check */
		if (!same_process(r, t, why, sizeof(why))) {
			snprintf(det, detn, "not killed: %s (pid reused)", why);
			return -ESRCH;
		}
		if (kill((pid_t)t->pid, SIGKILL)) {
			err = -errno;
			snprintf(det, detn, "kill(%u, SIGKILL): %s", t->pid, strerror(-err));
			return err;
		}
		snprintf(det, detn, "killed pid %u from user space (kill(2) SIGKILL: no pidfd_open)",
			 t->pid);
		return 0;
	}
	if (fd < 0) {
		err = -errno;
		snprintf(det, detn, "pidfd_open(%u): %s%s", t->pid, strerror(errno),
			 err == -ESRCH ? " (the process had already exited)" : "");
		return err;
	}
	if (!same_process(r, t, why, sizeof(why))) {
		close(fd);
		snprintf(det, detn, "not killed: %s (pid reused)", why);
		return -ESRCH;
	}
	if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0)) {
		err = -errno;
		close(fd);
		snprintf(det, detn, "pidfd_send_signal(SIGKILL) to pid %u: %s%s", t->pid,
			 strerror(-err), err == -ESRCH ? " (the process had already exited)" : "");
		return err;
	}
	close(fd);
	snprintf(det, detn, "killed pid %u from user space (pidfd_send_signal SIGKILL)", t->pid);
	return 0;
}

/* target strings: what an action acts on (docs/incidents.md) */
static void target_str(uint32_t act, const struct resp_target *t, bool node_wide, char *buf,
		       size_t n)
{
	if (act == ACT_KILL)
		snprintf(buf, n, "pid:%u", t->pid);
	else if (act == ACT_DENY && node_wide)
		snprintf(buf, n, "node");
	else if (t->ctr && t->ctr->container_id[0])
		snprintf(buf, n, "container:%s", t->ctr->container_id);
	else
		snprintf(buf, n, "cgroup:%" PRIu64, t->cgroup_id);
}

/* a decision other than RESP_DO: journaled (storm-controlled), logged, said */
static enum outcome journal_verdict(struct responder *r, struct incident *inc, uint32_t act,
				    const struct rule *ru, enum resp_verdict v, const char *target,
				    const char *undo, const char *why, char *msg, size_t msgn)
{
	char det[768];

	if (v == RESP_WOULD)
		snprintf(det, sizeof(det), "would %s (dry-run)", verb(act));
	else if (v == RESP_SUPPRESSED)
		snprintf(det, sizeof(det), "suppressed by rate limit (%s)", why);
	else
		snprintf(det, sizeof(det), "refused: %s", why);
	if (journal_quiet(r, inc, act, ru->name, (int)v, target, undo, det, v == RESP_WOULD))
		log_info("incident %s: %s %s (rule %s): %s", inc->id, action_name(act), target,
			 ru->name, det);
	if (msg)
		snprintf(msg, msgn, "%s", det);
	return v == RESP_WOULD ? O_WOULD : v == RESP_SUPPRESSED ? O_SUPPRESSED : O_REFUSED;
}

/* ---------------------------------------------------------------- Kubernetes actions */

/*
 * Where an API action of (action, target) stands on inc, from its records in
 * order: an intent makes it pending; a "queued" result keeps it pending; an
 * "ok" or "skipped" result puts it in effect; any other result ends it; a
 * release ends it. *intent: the index of the last intent.
 */
enum api_state { API_NONE, API_PENDING, API_ACTIVE };

static enum api_state api_state(const struct incident *inc, const char *action, const char *target,
				size_t *intent)
{
	enum api_state st = API_NONE;
	size_t i;

	for (i = 0; i < inc->nactions; i++) {
		const struct inc_action *a = &inc->actions[i];

		if (strcmp(a->action, action) || strcmp(a->target, target))
			continue;
		if (!strcmp(a->phase, "intent")) {
			st = API_PENDING;
			if (intent)
				*intent = i;
		} else if (!strcmp(a->phase, "result")) {
			if (!strcmp(a->result, "queued"))
				continue;
			st = !strcmp(a->result, "ok") || !strcmp(a->result, "skipped") ? API_ACTIVE
											 : API_NONE;
		} else if (!strcmp(a->phase, "release")) {
			st = API_NONE;
		}
	}
	return st;
}

/* the incident's newest detection summary, for Events */
static const char *inc_summary(const struct incident *inc)
{
	return inc->nentries && inc->entries[inc->nentries - 1].summary
		       ? inc->entries[inc->nentries - 1].summary
		       : "";
}

/* the arguments of an API action: everything the worker needs, also after a
 * restart (the intent's detail) */
static void api_args(struct responder *r, struct jsonw *w, const struct rule *ru, uint32_t act,
		     const struct incident *inc, const struct resp_target *t, const char *who)
{
	const struct policy_settings *s = r->pol ? &r->pol->settings : NULL;
	const struct pod_info *p = t->pod;
	size_t i;

	char d[24];

	jsonw_obj_open(w);
	jsonw_kv_str(w, "rule", ru->name);
	snprintf(d, sizeof(d), "%" PRIu64, t->cgroup_id);
	jsonw_kv_str(w, "cgroup_id", d);
	jsonw_kv_str(w, "cgroup_path", t->ctr ? t->ctr->path : "");
	jsonw_kv_str(w, "container_id", t->ctr ? t->ctr->container_id : "");
	if (who)
		jsonw_kv_str(w, "requested_by", who);
	jsonw_kv_str(w, "incident", inc->id);
	if (p) {
		/* the API's uid: the worker acts only while the pod is this one */
		jsonw_kv_str(w, "pod_namespace", p->namespace);
		jsonw_kv_str(w, "pod_name", p->name);
		jsonw_kv_str(w, "pod_uid", p->uid);
		jsonw_kv_str(w, "node", p->node);
		jsonw_kv_str(w, "service_account", p->service_account);
		jsonw_kv_str(w, "owner_kind", p->owner_kind);
		jsonw_kv_str(w, "owner_name", p->owner_name);
	} else if (t->pod_namespace) {
		jsonw_kv_str(w, "pod_namespace", t->pod_namespace);
	}
	switch (act) {
	case ACT_NETWORK_POLICY:
		jsonw_kv_bool(w, "allow_dns", s && s->quarantine_allow_dns);
		jsonw_key(w, "allow_namespaces");
		jsonw_arr_open(w);
		for (i = 0; s && i < s->quarantine_allow_namespaces.n; i++)
			jsonw_str_val(w, s->quarantine_allow_namespaces.v[i]);
		jsonw_arr_close(w);
		jsonw_key(w, "allow_cidrs");
		jsonw_arr_open(w);
		for (i = 0; s && i < s->quarantine_allow_cidrs.n; i++)
			jsonw_str_val(w, s->quarantine_allow_cidrs.v[i]);
		jsonw_arr_close(w);
		break;
	case ACT_DELETE_POD:
		jsonw_kv_i64(w, "grace_seconds", s ? s->delete_grace_s : -1);
		jsonw_kv_bool(w, "force_daemonset", ru->delete_daemonset_pods);
		break;
	case ACT_EVENT: {
		char m[1200];

		snprintf(m, sizeof(m), "nodeguard incident %s (%s, rule %s): %s", inc->id,
			 severity_name(inc->severity), ru->name, inc_summary(inc));
		jsonw_kv_str(w, "reason", "NodeguardIncident");
		jsonw_kv_str(w, "type", "Warning");
		jsonw_kv_str(w, "message", m);
		jsonw_kv_str(w, "event_key", inc->id);
		break;
	}
	default:
		break;
	}
	jsonw_obj_close(w);
}

static int api_push(struct responder *r, enum apiq_kind kind, const char *inc, const char *action,
		    const char *target, const char *args)
{
	struct apiq_job j = { .kind = kind, .args = args };

	snprintf(j.inc, sizeof(j.inc), "%s", inc);
	snprintf(j.action, sizeof(j.action), "%s", action);
	snprintf(j.target, sizeof(j.target), "%s", target);
	return apiq_push(r->q, &j);
}

/* label, network-policy, revoke-rbac, delete-pod, event: as act_one */
static int api_act_one(struct responder *r, const struct rule *ru, uint32_t act,
		       struct incident *inc, const struct resp_target *t, const char *who,
		       enum outcome *out, char *msg, size_t msgn)
{
	const char *aname = action_name(act), *self_ns, *self_name;
	const struct pod_info *p = t->pod;
	char target[300], why[256], det[768];
	struct resp_case c = {
		.action = act, .rule = ru, .cgroup_id = t->cgroup_id, .is_container = t->is_container,
		.pod_namespace = p ? p->namespace : t->pod_namespace,
		/* an Event is a notification, not containment */
		.no_rate = act == ACT_EVENT,
	};
	enum resp_verdict v;
	char *args;
	int err = 0;

	*out = O_NOOP;
	if (msg && msgn)
		msg[0] = '\0';
	if (p)
		snprintf(target, sizeof(target), "pod:%s/%s", p->namespace, p->name);
	else
		target_str(act, t, false, target, sizeof(target));
	self_ns = getenv("POD_NAMESPACE");
	self_name = getenv("POD_NAME");
	if (p && self_ns && self_name && !strcmp(p->namespace, self_ns) && !strcmp(p->name, self_name))
		c.self_pod = true;
	if (api_state(inc, aname, target, NULL) != API_NONE) {
		if (msg)
			snprintf(msg, msgn, "%s %s: already done on incident %s", aname, target, inc->id);
		return 0;
	}
	if (!have_room(inc)) {
		log_warn("incident %s: %zu action records; %s of %s (rule %s) not journaled or done",
			 inc->id, inc->nactions, aname, target, ru->name);
		*out = O_FAILED;
		return -ENOSPC;
	}
	jsonw_reset(&r->w);
	api_args(r, &r->w, ru, act, inc, t, who);
	args = jsonw_str(&r->w) ? strdup(jsonw_str(&r->w)) : NULL;
	if (!args)
		return -ENOMEM;

	v = respond_decide(r->pol ? &r->pol->settings : NULL, &r->self, &c, r->rates, mono_ns(),
			   why, sizeof(why));
	if (v != RESP_DO) {
		*out = journal_verdict(r, inc, act, ru, v, target, args, why, msg, msgn);
		goto done;
	}
	err = rec(r, inc, aname, "intent", target, "", args, false);
	if (err) {
		*out = O_FAILED;
		goto done;
	}
	if (!r->q || !p) {
		snprintf(det, sizeof(det), "%s",
			 !r->q ? "no Kubernetes API configured"
			       : "the pod is not in this node's pod cache (not seen yet, or not a pod)");
		rec(r, inc, aname, "result", target, "skipped", det, false);
		log_info("incident %s: %s %s (rule %s): skipped: %s", inc->id, aname, target, ru->name,
			 det);
		*out = O_SKIPPED;
	} else if ((err = api_push(r, APIQ_DO, inc->id, aname, target, args))) {
		snprintf(det, sizeof(det), "not done: %s",
			 err == -ENOSPC ? "the API action queue is full (settings.api_queue_max)"
					: strerror(-err));
		rec(r, inc, aname, "result", target, "failed", det, false);
		log_err("incident %s: %s %s (rule %s): %s", inc->id, aname, target, ru->name, det);
		*out = O_FAILED;
	} else {
		snprintf(det, sizeof(det), "sent to the API action queue");
		*out = O_OK;
	}
	if (msg)
		snprintf(msg, msgn, "%s", det);
done:
	free(args);
	return err;
}

/* the field k of the intent's arguments (static buffer) */
static const char *intent_field(const struct incident *inc, size_t intent, const char *k, char *buf,
				size_t n)
{
	cJSON *o = intent < inc->nactions ? cJSON_Parse(inc->actions[intent].detail) : NULL;
	const char *v = jget(o, k);

	snprintf(buf, n, "%s", v ? v : "");
	cJSON_Delete(o);
	return buf;
}

/* an Event about one action of inc, when the incident asked for Events */
static void api_notify(struct responder *r, struct incident *inc, const char *action,
		       const char *target, const char *what)
{
	size_t ev = 0, i;
	cJSON *a;
	char key[96], msg[1200], *s;

	if (!r->q || !strcmp(action, "event"))
		return;
	for (i = 0; i < inc->nactions; i++)
		if (!strcmp(inc->actions[i].action, "event") &&
		    !strcmp(inc->actions[i].phase, "intent"))
			ev = i + 1;
	/* pending counts: the queue runs in order, the incident's Event first */
	if (!ev || api_state(inc, "event", inc->actions[ev - 1].target, NULL) == API_NONE)
		return;
	a = cJSON_Parse(inc->actions[ev - 1].detail);
	if (!a)
		return;
	/* one name per journal record: a repeat is the same Event */
	snprintf(key, sizeof(key), "%s-%zu", inc->id, inc->nactions);
	snprintf(msg, sizeof(msg), "nodeguard incident %s: %s %s: %s", inc->id, action, target, what);
	cJSON_ReplaceItemInObjectCaseSensitive(a, "event_key", cJSON_CreateString(key));
	cJSON_ReplaceItemInObjectCaseSensitive(a, "reason", cJSON_CreateString("NodeguardAction"));
	cJSON_ReplaceItemInObjectCaseSensitive(a, "message", cJSON_CreateString(msg));
	s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	if (s && api_push(r, APIQ_NOTIFY, inc->id, "event", inc->actions[ev - 1].target, s))
		log_warn("incident %s: the Event about %s %s was not sent (queue full)", inc->id,
			 action, target);
	free(s);
}

/* a "queued" result after the action's latest intent? */
static bool queued_since_intent(const struct incident *inc, const char *action, const char *target)
{
	size_t i = inc->nactions;

	while (i-- > 0) {
		const struct inc_action *a = &inc->actions[i];

		if (strcmp(a->action, action) || strcmp(a->target, target))
			continue;
		if (!strcmp(a->phase, "intent"))
			return false;
		if (!strcmp(a->phase, "result") && !strcmp(a->result, "queued"))
			return true;
	}
	return false;
}

static void api_done(const struct apiq_done *d, void *ctx)
{
	struct responder *r = ctx;
	struct incident *inc = incmgr_find(r->im, d->inc);
	const char *result = d->err ? "failed" : "ok";
	char rule[160], what[1200];
	size_t intent = 0;

	if (!inc) {
		log_warn("API %s %s of incident %s: %s (the incident is no longer in memory)", d->action,
			 d->target, d->inc, d->err ? d->detail : "done");
		return;
	}
	switch (d->kind) {
	case APIQ_DO:
		if (d->queued) {
			/* once per action, also across restarts of the agent */
			if (!queued_since_intent(inc, d->action, d->target))
				rec(r, inc, d->action, "result", d->target, "queued", d->detail, false);
			log_warn("incident %s: %s %s: %s", inc->id, d->action, d->target, d->detail);
			return;
		}
		rec_undo(r, inc, d->action, "result", d->target, result, d->detail, d->undo, false);
		if (d->err) {
			log_err("incident %s: %s %s failed: %s", inc->id, d->action, d->target, d->detail);
		} else {
			log_info("incident %s: %s %s: %s", inc->id, d->action, d->target, d->detail);
			if (strcmp(d->action, "event") &&
			    api_state(inc, d->action, d->target, &intent) == API_ACTIVE)
				set_contained(r, inc, d->action,
					      intent_field(inc, intent, "rule", rule, sizeof(rule)));
		}
		snprintf(what, sizeof(what), "%s: %s", result, d->detail);
		api_notify(r, inc, d->action, d->target, what);
		break;
	case APIQ_UNDO:
		if (d->queued) {
			log_warn("incident %s: release of %s %s: %s", inc->id, d->action, d->target,
				 d->detail);
			return;
		}
		snprintf(what, sizeof(what), "undone through the API%s%s",
			 strcmp(d->detail, "undone") ? ": " : "",
			 strcmp(d->detail, "undone") ? d->detail : "");
		rec(r, inc, d->action, "release", d->target, result, d->err ? d->detail : what, false);
		if (d->err)
			log_err("incident %s: release of %s %s failed: %s", inc->id, d->action, d->target,
				d->detail);
		else
			log_info("incident %s: %s %s released: %s", inc->id, d->action, d->target,
				 d->detail);
		snprintf(what, sizeof(what), "released (%s): %s", result, d->detail);
		api_notify(r, inc, d->action, d->target, what);
		break;
	case APIQ_NOTIFY:
		if (d->err)
			log_warn("incident %s: Event about an action not created: %s", inc->id, d->detail);
		break;
	}
}

void responder_set_apiq(struct responder *r, struct apiq *q)
{
	r->q = q;
}

size_t responder_api_poll(struct responder *r)
{
	return r && r->q ? apiq_drain(r->q, api_done, r) : 0;
}

long responder_api_pending(struct responder *r)
{
	return r && r->q ? (long)apiq_pending(r->q) : -1;
}

size_t responder_api_resume(struct responder *r)
{
	struct incident *inc;
	size_t n = 0, waiting = 0, i, j;

	for (inc = incmgr_first(r->im); inc; inc = inc->next) {
		for (i = 0; i < inc->nactions; i++) {
			const struct inc_action *a = &inc->actions[i];
			uint32_t act = (uint32_t)action_from_name(a->action);
			size_t intent = SIZE_MAX;
			bool later = false;

			if (!respond_action_is_api(act))
				continue;
			if (!strcmp(a->phase, "intent")) {
				if (api_state(inc, a->action, a->target, &intent) != API_PENDING ||
				    intent != i)
					continue;
			} else if (!strcmp(a->phase, "release") && !strcmp(a->result, "queued")) {
				/* a later release record of it: done (or given up) */
				for (j = i + 1; j < inc->nactions && !later; j++)
					later = !strcmp(inc->actions[j].phase, "release") &&
						same_action(&inc->actions[j], a) &&
						strcmp(inc->actions[j].result, "queued");
				if (later || !a->undo)
					continue;
			} else {
				continue;
			}
			if (!r->q) {
				waiting++;
				continue;
			}
			if (!strcmp(a->phase, "intent")
				    ? api_push(r, APIQ_DO, inc->id, a->action, a->target, a->detail)
				    : api_push(r, APIQ_UNDO, inc->id, a->action, a->target, a->undo)) {
				log_err("incident %s: %s %s could not be queued again (queue full)",
					inc->id, a->action, a->target);
				continue;
			}
			n++;
		}
	}
	if (waiting)
		log_warn("%zu Kubernetes action%s or release%s of earlier incidents wait for the API; "
			 "no Kubernetes API is configured", waiting, waiting == 1 ? "" : "s",
			 waiting == 1 ? "" : "s");
	if (n)
		log_info("%zu Kubernetes action%s or release%s queued again from the journal", n,
			 n == 1 ? "" : "s", n == 1 ? "" : "s");
	return n;
}

/*
 * One action of one detection (or of a manual request): guardrails, intent,
 * the action, result. *out says what happened; msg (may be NULL) gets one
 * line for a human. Returns 0, or -errno of a failed action.
 */
static int act_one(struct responder *r, const struct rule *ru, uint32_t act, struct incident *inc,
		   const struct resp_target *t, const char *who, enum outcome *out, char *msg,
		   size_t msgn)
{
	const char *aname = action_name(act), *rel = t->ctr && !t->ctr->path_truncated ? t->ctr->path : NULL;
	bool node_wide = act == ACT_DENY && !t->is_container && ru->match.scope != SCOPE_CONTAINER;
	char target[128], why[256], det[768], dres[300];
	struct deny_plan *dp = NULL;
	enum resp_verdict v;
	struct resp_case c = {
		.action = act, .rule = ru, .pid = act == ACT_KILL ? t->pid : 0,
		.cgroup_id = node_wide ? 0 : t->cgroup_id, .cgroup_path = rel,
		.is_container = t->is_container, .pod_namespace = t->pod_namespace,
	};
	const char *undo;
	int err = 0, derr = 0;

	if (respond_action_is_api(act))
		return api_act_one(r, ru, act, inc, t, who, out, msg, msgn);
	*out = O_NOOP;
	if (msg && msgn)
		msg[0] = '\0';
	target_str(act, t, node_wide, target, sizeof(target));

	/* the undo data of the intent */
	jsonw_reset(&r->w);
	jsonw_obj_open(&r->w);
	if (act == ACT_KILL) {
		char d[24];

		jsonw_kv_str(&r->w, "rule", ru->name);
		jsonw_kv_u64(&r->w, "pid", t->pid);
		jsonw_kv_str(&r->w, "comm", t->ev ? t->ev->comm : "");
		snprintf(d, sizeof(d), "%" PRIu64, t->cgroup_id);
		jsonw_kv_str(&r->w, "cgroup_id", d);
		jsonw_kv_str(&r->w, "container_id", t->ctr ? t->ctr->container_id : "");
		jsonw_kv_bool(&r->w, "in_kernel", false);
	} else if (act == ACT_DENY) {
		dp = malloc(sizeof(*dp));
		if (!dp) {
			jsonw_reset(&r->w);
			return -ENOMEM;
		}
		derr = deny_plan(ru, t, node_wide, dp, dres, sizeof(dres));
		undo_common(&r->w, ru->name, node_wide ? 0 : t->cgroup_id, node_wide ? NULL : t->ctr, who);
		if (!derr)
			deny_json(&r->w, dp);
	} else {
		undo_common(&r->w, ru->name, t->cgroup_id, t->ctr, who);
	}
	jsonw_obj_close(&r->w);
	undo = jsonw_str(&r->w) ? strdup(jsonw_str(&r->w)) : NULL;
	if (!undo) {
		free(dp);
		return -ENOMEM;
	}

	/* already in effect on this incident (a repeat of the detection) */
	if (in_effect(inc, aname, target, act == ACT_DENY ? undo : NULL)) {
		if (msg)
			snprintf(msg, msgn, "%s %s: already done on incident %s", aname, target, inc->id);
		goto done;
	}
	if (!have_room(inc)) {
		log_warn("incident %s: %zu action records; %s of %s (rule %s) not journaled or done",
			 inc->id, inc->nactions, aname, target, ru->name);
		if (msg)
			snprintf(msg, msgn, "incident %s has no room for more actions", inc->id);
		err = -ENOSPC;
		*out = O_FAILED;
		goto done;
	}

	v = respond_decide(r->pol ? &r->pol->settings : NULL, &r->self, &c, r->rates, mono_ns(),
			   why, sizeof(why));
	if (v != RESP_DO) {
		*out = journal_verdict(r, inc, act, ru, v, target, undo, why, msg, msgn);
		goto done;
	}

	err = rec(r, inc, aname, "intent", target, "", undo, false);
	if (err) {
		/* never act without the intent on disk: the undo data would be lost */
		snprintf(det, sizeof(det), "not done: the intent could not be journaled (%s)",
			 strerror(-err));
		if (msg)
			snprintf(msg, msgn, "%s", det);
		*out = O_FAILED;
		goto done;
	}
	switch (act) {
	case ACT_KILL:
		if (!t->pid) {
			snprintf(det, sizeof(det), "no process to kill");
			err = -ESRCH;
		} else {
			err = do_kill_pid(r, t, det, sizeof(det));
		}
		break;
	case ACT_DENY:
		if (derr) {
			snprintf(det, sizeof(det), "%s", dres);
			err = derr;
		} else {
			err = do_deny(r, dp, ru->id, det, sizeof(det));
		}
		break;
	case ACT_ISOLATE:
		err = do_isolate(r, t->cgroup_id, rel, ru->id, det, sizeof(det));
		break;
	case ACT_FREEZE:
		err = do_freeze(r, rel, det, sizeof(det));
		break;
	case ACT_KILL_CONTAINER:
		err = do_kill_container(r, rel, det, sizeof(det));
		break;
	default:
		snprintf(det, sizeof(det), "unknown action");
		err = -EINVAL;
		break;
	}
	rec(r, inc, aname, "result", target, err ? "failed" : "ok", det, false);
	if (err) {
		log_err("incident %s: %s %s (rule %s) failed: %s", inc->id, aname, target, ru->name, det);
		*out = O_FAILED;
	} else {
		log_info("incident %s: %s %s (rule %s): %s", inc->id, aname, target, ru->name, det);
		*out = O_OK;
		if (act == ACT_ISOLATE || act == ACT_FREEZE || act == ACT_DENY)
			set_contained(r, inc, aname, ru->name);
	}
	if (msg)
		snprintf(msg, msgn, "%s", det);
done:
	free((void *)undo);
	free(dp);
	return err;
}

/* ---------------------------------------------------------------- compiled deny */

static void enf_flush(struct responder *r, struct enfseen *e);

static size_t cgset_slot(const struct cgset *s, uint64_t id)
{
	size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (s->cap - 1);

	while (s->id[i] && s->id[i] != id)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static long cgset_find(const struct cgset *s, uint64_t id)
{
	size_t i;

	if (!s->cap || !id)
		return -1;
	i = cgset_slot(s, id);
	return s->id[i] ? (long)i : -1;
}

static void cgset_free(struct cgset *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->path ? s->path[i] : NULL);
	free(s->id);
	free(s->path);
	free(s->compiled);
	memset(s, 0, sizeof(*s));
}

static int cgset_add(struct cgset *s, uint64_t id, const char *path, bool compiled);

static int cgset_grow(struct cgset *s, size_t cap)
{
	struct cgset n = { 0 };
	size_t i;

	n.cap = cap;
	n.id = calloc(cap, sizeof(*n.id));
	n.path = calloc(cap, sizeof(*n.path));
	n.compiled = calloc(cap, sizeof(*n.compiled));
	if (!n.id || !n.path || !n.compiled) {
		cgset_free(&n);
		return -ENOMEM;
	}
	for (i = 0; i < s->cap; i++)
		if (s->id[i]) {
			size_t k = cgset_slot(&n, s->id[i]);

			n.id[k] = s->id[i];
			n.path[k] = s->path[i];
			n.compiled[k] = s->compiled[i];
			s->path[i] = NULL;
			n.n++;
		}
	cgset_free(s);
	*s = n;
	return 0;
}

static int cgset_add(struct cgset *s, uint64_t id, const char *path, bool compiled)
{
	size_t i;

	if (!id)
		return -EINVAL;
	if ((s->n + 1) * 2 > s->cap && cgset_grow(s, s->cap ? s->cap * 2 : 256))
		return -ENOMEM;
	i = cgset_slot(s, id);
	if (!s->id[i]) {
		s->id[i] = id;
		s->n++;
	}
	free(s->path[i]);
	s->path[i] = strdup(path ? path : "");
	s->compiled[i] = compiled;
	return 0;
}

/* keep the entries for which keep() holds (a rebuild: linear probing) */
static void cgset_filter(struct cgset *s, bool (*keep)(struct responder *, uint64_t, const char *, bool),
			 struct responder *r)
{
	struct cgset n = { 0 };
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->id[i] && keep(r, s->id[i], s->path[i], s->compiled[i]))
			cgset_add(&n, s->id[i], s->path[i], s->compiled[i]);
	cgset_free(s);
	*s = n;
}

/*
 * Can the kernel decide rule r exactly, for every container? Connect events
 * only, scope container, destination CIDRs (and ports, protocol), nothing
 * else to match and no exceptions, not in dry-run.
 */
static bool deny_compilable(const struct policy *p, const struct rule *r)
{
	const struct match *m = &r->match;

	if (!r->enabled || !(r->actions & ACT_DENY) || p->settings.dry_run || r->dry_run == TRI_TRUE)
		return false;
	if (m->events != RE_CONNECT || m->scope != SCOPE_CONTAINER || !m->ncidrs ||
	    m->ncidrs > CDENY_CIDRS_MAX || m->nports > NG_DENY_PORTS_MAX || r->nexceptions)
		return false;
	if (m->binary.n || m->parent_binary.n || m->ancestor_binary.n || m->comm.n || m->cmdline.n ||
	    m->uid.sel || m->tty || m->stdio_socket || m->parent_connected || m->locations ||
	    m->namespaces.n || m->images.n)
		return false;
	return true;
}

static void compile_deny(struct responder *r)
{
	size_t i, j, n = 0;

	free(r->cd);
	r->cd = NULL;
	r->ncd = 0;
	if (!r->pol || !r->enf)
		return;
	for (i = 0; i < r->pol->nrules; i++)
		n += deny_compilable(r->pol, &r->pol->rules[i]);
	if (!n || !(r->cd = calloc(n, sizeof(*r->cd))))
		return;
	for (i = 0; i < r->pol->nrules; i++) {
		const struct rule *ru = &r->pol->rules[i];
		struct cdeny *c = &r->cd[r->ncd];

		if (!deny_compilable(r->pol, ru))
			continue;
		c->rule_id = ru->id;
		snprintf(c->name, sizeof(c->name), "%s", ru->name);
		for (j = 0; j < ru->match.ncidrs; j++) {
			c->cidrs[c->ncidrs++] = ru->match.cidrs[j];
			if (ru->match.cidrs[j].family == AF_INET)
				c->cidrs[c->ncidrs++] = v4mapped(&ru->match.cidrs[j]);
		}
		memcpy(c->ports, ru->match.ports, ru->match.nports * sizeof(*c->ports));
		c->nports = ru->match.nports;
		c->protocol = ru->match.protocol;
		r->ncd++;
	}
}

static struct incident *find_by_key(struct responder *r, const char *key);

/* may the compiled deny rules apply to this container cgroup? */
static bool cdeny_allowed(struct responder *r, uint64_t cgid, const char *rel, const char *ctr_id)
{
	struct incident *inc;
	char key[80];

	if (!rel || path_depth(rel) < 2)
		return false;
	/* a protected namespace, once known (an incident's attribution) */
	snprintf(key, sizeof(key), "ctr:%s", ctr_id ? ctr_id : "");
	inc = ctr_id && *ctr_id ? find_by_key(r, key) : NULL;
	if (inc && r->pol && respond_namespace_protected(&r->pol->settings, inc->attr.pod_namespace))
		return false;
	if (r->self.cgroup_id && cgid == r->self.cgroup_id)
		return false; /* the agent's own cgroup */
	if (r->self.cgroup_path && path_contains(rel, r->self.cgroup_path))
		return false;
	return true;
}

static int cdeny_install(struct responder *r, uint64_t cgid)
{
	size_t i, j;
	int err = 0, e;

	for (i = 0; i < r->ncd; i++)
		for (j = 0; j < r->cd[i].ncidrs; j++) {
			e = enforcer_deny_add(r->enf, cgid, &r->cd[i].cidrs[j], r->cd[i].ports,
					      r->cd[i].nports, r->cd[i].protocol,
					      r->cd[i].rule_id | DENY_COMPILED);
			err = err ? err : e;
		}
	return err;
}

static void cgroup_consider(struct responder *r, uint64_t cgid, const char *rel, const char *ctr_id)
{
	bool ok = cdeny_allowed(r, cgid, rel, ctr_id);
	int err = 0;

	if (ok) {
		err = cdeny_install(r, cgid);
		if (err)
			log_err("Failed to compile the deny rules for cgroup %s: %s", rel, strerror(-err));
	} else if (r->enf && cgid && (err = enforcer_exempt_add(r->enf, cgid))) {
		/* the container-wide entries must not reach it either */
		log_err("Failed to exempt cgroup %s from container-wide deny rules: %s", rel,
			strerror(-err));
	}
	cgset_add(&r->seen, cgid, rel, ok && !err);
}

void responder_cgroup_seen(struct responder *r, uint64_t cgid, bool in_container)
{
	struct ctr_info ci;

	if (!r || !r->ncd || !r->enf || !cgid || !in_container || cgset_find(&r->seen, cgid) >= 0)
		return;
	/* an unresolvable cgroup is remembered too: no tree walk per event */
	if (!r->ctr || ctr_cache_lookup(r->ctr, cgid, &ci) || !ci.is_container || ci.is_conmon ||
	    ci.path_truncated) {
		cgset_add(&r->seen, cgid, "", false);
		return;
	}
	cgroup_consider(r, cgid, ci.path, ci.container_id);
}

/* every container cgroup under the mount, bounded */
static void walk_containers(struct responder *r, const char *rel, int depth, size_t *budget)
{
	char d[PATH_MAX], child[PATH_MAX];
	struct ctr_info ci;
	struct dirent *de;
	struct stat st;
	DIR *dir;

	if (depth > WALK_DEPTH_MAX || !*budget)
		return;
	(*budget)--;
	cg_dir(r, rel, d, sizeof(d));
	if (depth && container_parse_path(rel, &ci) == 0 && ci.is_container && !ci.is_conmon &&
	    stat(d, &st) == 0 && cgset_find(&r->seen, (uint64_t)st.st_ino) < 0)
		cgroup_consider(r, (uint64_t)st.st_ino, rel, ci.container_id);
	dir = opendir(d);
	if (!dir)
		return;
	while ((de = readdir(dir)) && *budget) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(child, sizeof(child), "%s/%s", depth ? rel : "", de->d_name) >=
		    (int)sizeof(child))
			continue;
		walk_containers(r, child, depth + 1, budget);
	}
	closedir(dir);
}

struct cd_stale {
	struct responder *r;
	struct {
		uint64_t cg;
		struct cidr c;
	} *v;
	size_t n, cap;
};

static bool cdeny_wants(const struct responder *r, uint64_t cgid, const struct cidr *c)
{
	long k = cgset_find(&r->seen, cgid);
	size_t i, j;

	if (cgid != NG_CG_ANY_CONTAINER && (k < 0 || !r->seen.compiled[k]))
		return false;
	for (i = 0; i < r->ncd; i++)
		for (j = 0; j < r->cd[i].ncidrs; j++)
			if (cidr_eq(&r->cd[i].cidrs[j], c))
				return true;
	return false;
}

static void stale_cb(uint64_t cgid, const struct cidr *c, const struct ng_deny_val *v, void *ctx)
{
	struct cd_stale *s = ctx;

	if (!(v->rule_id & DENY_COMPILED) || cdeny_wants(s->r, cgid, c))
		return;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		void *nv = realloc(s->v, nc * sizeof(*s->v));

		if (!nv)
			return;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n].cg = cgid;
	s->v[s->n].c = *c;
	s->n++;
}

/*
 * (Re)compile the policy's exact deny rules into every container's entries:
 * the containers there are now, then each new one as the agent first sees
 * it (responder_cgroup_seen). Entries a previous policy compiled and this
 * one does not are removed.
 */
static void apply_compiled_deny(struct responder *r)
{
	struct cd_stale st = { .r = r };
	size_t budget = WALK_DIRS_MAX, i;

	cgset_free(&r->seen);
	compile_deny(r);
	/* without a policy (nodeguardctl releasing offline) nothing is known
	 * about what should be compiled: leave the pinned entries alone */
	if (!r->enf || !r->pol)
		return;
	if (r->ncd) {
		int err;

		/* never the agent itself, then every container from its first
		 * connect on, then each container seen so far */
		if (r->self.cgroup_id && enforcer_exempt_add(r->enf, r->self.cgroup_id))
			log_err("Failed to exempt the agent's cgroup from container-wide deny rules");
		err = cdeny_install(r, NG_CG_ANY_CONTAINER);
		if (err)
			log_err("Failed to install the container-wide deny rules: %s", strerror(-err));
		walk_containers(r, "", 0, &budget);
		log_info("deny: %zu rule%s compiled into the kernel for %zu container cgroups", r->ncd,
			 r->ncd == 1 ? "" : "s", r->seen.n);
	}
	enforcer_foreach_deny(r->enf, stale_cb, &st);
	for (i = 0; i < st.n; i++)
		enforcer_deny_del(r->enf, st.v[i].cg, &st.v[i].c);
	free(st.v);
}

static bool seen_alive(struct responder *r, uint64_t cgid, const char *path, bool compiled)
{
	if (!path || !*path)
		return cgroup_alive(r, cgid, NULL);
	if (cgroup_alive(r, cgid, path))
		return true;
	if (compiled && r->enf)
		enforcer_clear_cgroup(r->enf, cgid);
	return false;
}

/* is the rule's deny compiled for this cgroup (the kernel refuses by itself)? */
static bool deny_in_kernel(const struct responder *r, const struct rule *ru, uint64_t cgid)
{
	long k = cgset_find(&r->seen, cgid);
	size_t i;

	if (k < 0 || !r->seen.compiled[k])
		return false;
	for (i = 0; i < r->ncd; i++)
		if (r->cd[i].rule_id == ru->id && !strcmp(r->cd[i].name, ru->name))
			return true;
	return false;
}

void responder_tick(struct responder *r)
{
	uint64_t now = mono_ns();
	size_t i;

	if (!r)
		return;
	for (i = 0; i < QUIET_MAX; i++) {
		struct quiet *q = &r->quiet[i];

		if (q->hidden && now - q->hidden_mono >= QUIET_FLUSH_NS)
			quiet_flush(r, q);
	}
	for (i = 0; i < ENFSEEN_MAX; i++) {
		struct enfseen *e = &r->enf_seen[i];

		if (e->hidden && now - e->hidden_mono >= QUIET_FLUSH_NS)
			enf_flush(r, e);
	}
	if (now - r->last_sweep >= SWEEP_NS) {
		r->last_sweep = now;
		if (r->seen.n)
			cgset_filter(&r->seen, seen_alive, r);
	}
}

/* ---------------------------------------------------------------- lifecycle */

static void compute_kkill(struct responder *r)
{
	struct kill_compiled *c;
	size_t i;

	free(r->kkill);
	r->kkill = NULL;
	r->nkkill = 0;
	if (!r->pol || !r->pol->nrules)
		return;
	r->kkill = calloc(r->pol->nrules, 1);
	if (!r->kkill)
		return;
	r->nkkill = r->pol->nrules;
	if (!r->kernel_kill)
		return;
	/* the placement killrules_load gave the kernel, from the same compiler */
	c = malloc(sizeof(*c));
	if (!c || killrules_compile(r->pol, false, c, NULL, 0)) {
		free(c);
		return;
	}
	for (i = 0; i < c->nslots; i++)
		r->kkill[c->rule_of_slot[i]] = 1;
	free(c);
}

bool responder_kill_in_kernel(const struct responder *r, const struct rule *rule)
{
	size_t i;

	if (!r->pol || !rule || !rule->id || rule->id > r->nkkill)
		return false;
	i = rule->id - 1;
	return &r->pol->rules[i] == rule && r->kkill[i];
}

void responder_set_kernel_kill(struct responder *r, bool loaded)
{
	r->kernel_kill = loaded;
	compute_kkill(r);
}

static int allow_collect(int fd, size_t ksz, struct cidr *out, size_t max, int family)
{
	unsigned char key[32], next[32];
	size_t n = 0;
	int err;

	for (err = bpf_map_get_next_key(fd, NULL, next); !err && n < max;
	     err = bpf_map_get_next_key(fd, key, next)) {
		uint64_t cg;

		memcpy(key, next, ksz);
		memcpy(&cg, key + 4, 8);
		if (cg)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].family = (uint8_t)family;
		{
			uint32_t pl;

			memcpy(&pl, key, 4);
			out[n].prefix = (uint8_t)(pl - 64);
		}
		memcpy(out[n].addr, key + 12, family == AF_INET ? 4 : 16);
		n++;
	}
	return (int)n;
}

/*
 * settings.isolate_allow -> node-wide allow entries (cgid 0), with the
 * v4-mapped twin of every IPv4 CIDR. Entries a previous policy (or a
 * previous agent) left in the pinned maps and this policy does not list are
 * removed: the pinned maps are read directly, as the enforcer has no
 * iterator for its allow tables.
 */
static void apply_allow(struct responder *r)
{
	const struct policy_settings *s = r->pol ? &r->pol->settings : NULL;
	struct cidr *want = NULL, *have = NULL;
	size_t nwant = 0, i, j, k;
	int nhave = 0, fd;
	char p[PATH_MAX];

	if (!r->enf || !s)
		return;
	want = calloc(2 * (s->nisolate_allow + 1), sizeof(*want));
	have = calloc(8192, sizeof(*have));
	if (!want || !have) {
		log_err("isolate_allow: out of memory");
		goto out;
	}
	for (i = 0; i < s->nisolate_allow; i++) {
		const struct cidr *c = &s->isolate_allow[i].cidr;
		struct port_range ports[ISOLATE_ALLOW_PORTS_MAX];
		size_t np = 0;
		bool all = false, seen = false;
		struct cidr m;
		int err;

		for (j = 0; j < nwant; j++)
			seen = seen || cidr_eq(&want[j], c);
		if (seen)
			continue;
		for (j = i; j < s->nisolate_allow; j++) {
			const struct allow_net *x = &s->isolate_allow[j];

			if (!cidr_eq(&x->cidr, c))
				continue;
			if (!x->port.lo)
				all = true;
			else if (np < ISOLATE_ALLOW_PORTS_MAX)
				ports[np++] = x->port;
		}
		want[nwant++] = *c;
		err = enforcer_allow_add(r->enf, 0, c, ports, all ? 0 : np, 0);
		if (!err && c->family == AF_INET) {
			m = v4mapped(c);
			want[nwant++] = m;
			err = enforcer_allow_add(r->enf, 0, &m, ports, all ? 0 : np, 0);
		}
		if (err) {
			cidr_str(c, p, sizeof(p));
			log_err("isolate_allow: Failed to add %s: %s", p, strerror(-err));
		}
	}
	/* what is pinned and no longer wanted */
	for (k = 0; k < 2; k++) {
		snprintf(p, sizeof(p), "%s/%s", enforcer_pin_dir(r->enf), k ? "ng_allow6" : "ng_allow4");
		fd = bpf_obj_get(p);
		if (fd < 0)
			continue;
		nhave = allow_collect(fd, k ? sizeof(struct ng_lpm6_key) : sizeof(struct ng_lpm4_key),
				      have, 8192, k ? AF_INET6 : AF_INET);
		close(fd);
		for (i = 0; i < (size_t)(nhave > 0 ? nhave : 0); i++) {
			bool keep = false;

			for (j = 0; j < nwant && !keep; j++)
				keep = cidr_eq(&want[j], &have[i]);
			if (!keep) {
				cidr_str(&have[i], p, sizeof(p));
				log_info("isolate_allow: %s is no longer in the policy: removed", p);
				enforcer_allow_del(r->enf, 0, &have[i]);
			}
		}
	}
	if (s->nisolate_allow)
		log_info("isolate_allow: %zu entries reachable from isolated containers", nwant);
out:
	free(want);
	free(have);
}

static void read_self_path(struct responder *r)
{
	char buf[4096];
	const char *l;

	if (read_file("/proc/self/cgroup", buf, sizeof(buf)) < 0)
		return;
	for (l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, "0::", 3)) {
			size_t n = strcspn(l + 3, "\n");

			if (n < sizeof(r->self_path)) {
				memcpy(r->self_path, l + 3, n);
				r->self_path[n] = '\0';
			}
			return;
		}
	}
}

struct responder *responder_new(const struct responder_opts *o)
{
	struct responder *r;

	if (!o || !o->incidents) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->rates = resp_rates_new();
	if (!r->rates) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	r->pol = o->policy;
	r->enf = o->enforcer;
	r->im = o->incidents;
	r->ctr = o->containers;
	snprintf(r->cgroup2, sizeof(r->cgroup2), "%s", o->cgroup2 ? o->cgroup2 : "");
	/* "/sys/fs/cgroup/" + "/kubepods..." must not double the slash */
	while (strlen(r->cgroup2) > 1 && r->cgroup2[strlen(r->cgroup2) - 1] == '/')
		r->cgroup2[strlen(r->cgroup2) - 1] = '\0';
	if (o->self_cgroup_path)
		snprintf(r->self_path, sizeof(r->self_path), "%s", o->self_cgroup_path);
	else
		read_self_path(r);
	r->self.pid = o->self_pid;
	r->self.cgroup_id = o->self_cgroup;
	r->self.cgroup_path = r->self_path[0] ? r->self_path : NULL;
	r->boot_off = evfmt_boot_offset_ns();
	jsonw_init(&r->w);
	r->last_sweep = mono_ns();
	compute_kkill(r);
	apply_allow(r);
	apply_compiled_deny(r);
	return r;
}

void responder_free(struct responder *r)
{
	size_t i;

	if (!r)
		return;
	/* counted non-actions are journaled before the agent goes */
	for (i = 0; i < QUIET_MAX; i++) {
		quiet_flush(r, &r->quiet[i]);
		free(r->quiet[i].undo);
	}
	for (i = 0; i < ENFSEEN_MAX; i++)
		enf_flush(r, &r->enf_seen[i]);
	resp_rates_free(r->rates);
	free(r->kkill);
	free(r->cd);
	cgset_free(&r->seen);
	jsonw_free(&r->w);
	free(r);
}

void responder_set_policy(struct responder *r, const struct policy *p)
{
	r->pol = p;
	compute_kkill(r);
	apply_allow(r);
	apply_compiled_deny(r);
}

/* ---------------------------------------------------------------- detections */

int responder_on_detection(struct responder *r, const struct rule *rule, struct incident *inc,
			   const struct resp_target *t)
{
	uint32_t acts = rule->actions & ~ACT_LOG;
	enum outcome out;
	int i, err = 0, e;

	if (!acts || !inc || !t)
		return 0;
	/* the quarantine NetworkPolicy selects the pod by its label */
	if (acts & ACT_NETWORK_POLICY)
		acts |= ACT_LABEL;
	for (i = 0; i < ACT_COUNT; i++) {
		uint32_t a = 1u << i;

		if (!(acts & a))
			continue;
		/* compiled into the kernel: it killed (or not) at the hook, and
		 * its NG_EV_ENFORCE record is journaled by responder_on_enforce */
		if (a == ACT_KILL && responder_kill_in_kernel(r, rule))
			continue;
		/* likewise a deny compiled for this container: the kernel refused
		 * the connect, and its record is journaled as "enforced" */
		if (a == ACT_DENY && deny_in_kernel(r, rule, t->cgroup_id))
			continue;
		e = act_one(r, rule, a, inc, t, NULL, &out, NULL, 0);
		err = err ? err : e;
	}
	return err;
}

/* ---------------------------------------------------------------- kernel records */

static struct incident *find_by_key(struct responder *r, const char *key)
{
	struct incident *i, *best = NULL;

	for (i = incmgr_first(r->im); i; i = i->next)
		if ((i->status == INC_OPEN || i->status == INC_CONTAINED) && !strcmp(i->key, key))
			best = i;
	return best;
}

static struct incident *find_host_by_pid(struct responder *r, uint32_t pid)
{
	struct incident *i, *best = NULL;
	size_t k;

	for (i = incmgr_first(r->im); i; i = i->next) {
		if ((i->status != INC_OPEN && i->status != INC_CONTAINED) || strncmp(i->key, "host:", 5))
			continue;
		for (k = 0; k < i->nprocs; k++)
			if (i->procs[k].pid == pid)
				best = i;
	}
	return best;
}

static void attr_of(struct inc_attr *a, const struct ctr_info *ci, uint64_t cgid, bool is_ctr)
{
	memset(a, 0, sizeof(*a));
	a->is_container = is_ctr;
	a->cgroup_id = cgid;
	if (!ci)
		return;
	a->is_container = is_ctr || ci->is_container;
	snprintf(a->runtime, sizeof(a->runtime), "%s", ctr_runtime_name(ci->runtime));
	snprintf(a->container_id, sizeof(a->container_id), "%s", ci->container_id);
	snprintf(a->pod_uid, sizeof(a->pod_uid), "%s", ci->pod_uid);
	snprintf(a->qos, sizeof(a->qos), "%s", ctr_qos_name(ci->qos));
	snprintf(a->cgroup_path, sizeof(a->cgroup_path), "%s", ci->path);
}

/* the incident of a cgroup/process, as the agent keys it (docs/incidents.md) */
static struct incident *incident_for(struct responder *r, uint64_t cgid, bool hdr_container,
				     uint32_t pid, struct ctr_info *ci, bool *have_ci, char *key,
				     size_t keyn)
{
	struct incident *inc;

	*have_ci = r->ctr && cgid && ctr_cache_lookup(r->ctr, cgid, ci) == 0;
	if (*have_ci && ci->container_id[0])
		snprintf(key, keyn, "ctr:%s", ci->container_id);
	else if (hdr_container || (*have_ci && ci->is_container))
		snprintf(key, keyn, "cg:%" PRIu64, cgid);
	else {
		inc = find_host_by_pid(r, pid);
		if (inc) {
			snprintf(key, keyn, "%s", inc->key);
			return inc;
		}
		snprintf(key, keyn, "host:%u", pid);
	}
	return find_by_key(r, key);
}

static struct incident *open_for_kernel(struct responder *r, const char *key,
					const struct ctr_info *ci, uint64_t cgid, bool is_ctr,
					const struct rule *ru, const char *rname,
					const char *summary, const char *fp, uint32_t pid,
					uint64_t when)
{
	struct inc_detection d = { 0 };
	struct inc_attr attr;
	struct incident *inc = NULL;
	bool opened;
	int err;

	attr_of(&attr, ci, cgid, is_ctr);
	d.source = "kernel";
	d.rule = rname;
	d.severity = ru ? ru->severity : SEV_HIGH;
	d.category = ru && ru->category ? ru->category : "response";
	d.mitre = ru ? &ru->mitre : NULL;
	d.wall_ns = when;
	d.summary = summary;
	d.fingerprint = fp;
	d.pid = pid;
	d.key = key;
	d.attr = &attr;
	err = incmgr_detect(r->im, &d, &inc, &opened);
	if (err && err != -ENOSPC)
		log_err("Failed to journal the incident of a kernel enforcement: %s", strerror(-err));
	return inc;
}

static int on_kernel_kill(struct responder *r, const struct ng_event *ev, int64_t boot_off)
{
	const struct rule *ru = rule_by_id(r, ev->enforce.rule_id);
	bool is_ctr = ev->hdr.flags & NG_HF_CONTAINER, have_ci;
	uint32_t f = ev->enforce.flags;
	char key[128], rname[160], target[32], det[256], summary[256], fp[128];
	const char *hook = ng_kind_name(ev->enforce.hook), *result;
	struct incident *inc;
	struct ctr_info ci;
	uint64_t when = (uint64_t)((int64_t)ev->hdr.ts_ns + boot_off);
	int verdict;
	bool dry = false;

	if (ru)
		snprintf(rname, sizeof(rname), "%s", ru->name);
	else
		snprintf(rname, sizeof(rname), "rule-%u", ev->enforce.rule_id);
	inc = incident_for(r, ev->hdr.cgroup_id, is_ctr, ev->hdr.pid, &ci, &have_ci, key, sizeof(key));
	if (!inc) {
		snprintf(summary, sizeof(summary), "kill rule %s matched pid %u (%s) at %s", rname,
			 ev->hdr.pid, ev->comm, hook);
		snprintf(fp, sizeof(fp), "enforce|kill|%u|%s", ev->hdr.pid, hook);
		inc = open_for_kernel(r, key, have_ci ? &ci : NULL, ev->hdr.cgroup_id, is_ctr, ru,
				      rname, summary, fp, ev->hdr.pid, when);
		if (!inc)
			return -ENOMEM;
	}
	snprintf(target, sizeof(target), "pid:%u", ev->hdr.pid);
	if (f & NG_ENF_FAILED) {
		result = "failed";
		verdict = -1;
		snprintf(det, sizeof(det), "bpf_send_signal(SIGKILL) at %s failed: %s", hook,
			 strerror(ev->enforce.err < 0 ? -ev->enforce.err : ev->enforce.err));
	} else if (f & NG_ENF_PROTECTED) {
		result = "refused";
		verdict = RESP_REFUSED;
		snprintf(det, sizeof(det), "protected (cgroup %" PRIu64 " is in ng_protected)",
			 (uint64_t)ev->hdr.cgroup_id);
	} else if (f & NG_ENF_DRY_RUN) {
		result = "would";
		verdict = RESP_WOULD;
		dry = true;
		snprintf(det, sizeof(det), "would kill (dry-run)");
	} else if (f & NG_ENF_SUPPRESSED) {
		result = "suppressed";
		verdict = RESP_SUPPRESSED;
		snprintf(det, sizeof(det), "suppressed by rate limit (rule %s: %u per minute, in the "
			 "kernel)", rname, r->pol ? r->pol->settings.rule_actions_per_minute : 0);
	} else {
		result = "ok";
		verdict = RESP_DO;
		snprintf(det, sizeof(det), "killed in kernel at %s, 0 round trips", hook);
		resp_rates_count(r->rates, rname, mono_ns());
	}
	if (!have_room(inc)) {
		log_warn("incident %s: no room for more action records; kernel kill of pid %u not "
			 "journaled", inc->id, ev->hdr.pid);
		return -ENOSPC;
	}
	jsonw_reset(&r->w);
	jsonw_obj_open(&r->w);
	{
		char d[24];

		jsonw_kv_str(&r->w, "rule", rname);
		jsonw_kv_u64(&r->w, "pid", ev->hdr.pid);
		jsonw_kv_str(&r->w, "comm", ev->comm);
		snprintf(d, sizeof(d), "%" PRIu64, (uint64_t)ev->hdr.cgroup_id);
		jsonw_kv_str(&r->w, "cgroup_id", d);
		jsonw_kv_str(&r->w, "container_id", have_ci ? ci.container_id : "");
		jsonw_kv_bool(&r->w, "in_kernel", true);
		jsonw_kv_str(&r->w, "hook", hook);
	}
	jsonw_obj_close(&r->w);
	{
		char *undo = jsonw_str(&r->w) ? strdup(jsonw_str(&r->w)) : NULL;

		if (verdict > 0) {
			if (!journal_quiet(r, inc, ACT_KILL, rname, verdict, target, undo ? undo : "{}",
					   det, dry)) {
				free(undo);
				return 0; /* counted; no log line either */
			}
		} else {
			rec(r, inc, "kill", "intent", target, "", undo ? undo : "{}", dry);
			rec(r, inc, "kill", "result", target, result, det, dry);
		}
		free(undo);
	}
	if (verdict == RESP_DO)
		log_info("incident %s: killed pid %u (%s) in the kernel at %s (rule %s)", inc->id,
			 ev->hdr.pid, ev->comm, hook, rname);
	else
		log_info("incident %s: kill of pid %u (%s), rule %s: %s", inc->id, ev->hdr.pid,
			 ev->comm, rname, det);
	return 0;
}

/* journal the counted refusals of e as one "enforced" record */
static void enf_flush(struct responder *r, struct enfseen *e)
{
	struct incident *inc;
	char det[700], t[32];

	if (!e->hidden)
		return;
	inc = incmgr_find(r->im, e->inc);
	if (inc && have_room(inc)) {
		snprintf(det, sizeof(det), "%s", e->det);
		if (e->hidden > 1)
			snprintf(det + strlen(det), sizeof(det) - strlen(det), " (%u more since %s)",
				 e->hidden - 1, wall_str(e->hidden_wall, t, sizeof(t)));
		rec(r, inc, e->action == NG_ENF_DENY ? "deny" : "isolate", "enforced", e->target, "ok",
		    det, false);
	}
	e->hidden = 0;
}

/*
 * A connect or send the kernel refused (deny entry or isolation): one
 * "enforced" record on the incident of the cgroup; QUIET_BURST a minute per
 * cgroup, action and rule, the rest counted (enf_flush).
 */
static int on_kernel_refusal(struct responder *r, const struct ng_event *ev, int64_t boot_off)
{
	uint32_t rid = ev->enforce.rule_id & ~DENY_COMPILED;
	bool compiled = ev->enforce.rule_id & DENY_COMPILED;
	const struct rule *ru = rule_by_id(r, rid);
	uint64_t cg = ev->enforce.target_cgroup ? ev->enforce.target_cgroup : ev->hdr.cgroup_id;
	uint64_t now = mono_ns(), when = (uint64_t)((int64_t)ev->hdr.ts_ns + boot_off);
	const char *aname = ev->enforce.action == NG_ENF_DENY ? "deny" : "isolate";
	char key[128], rname[160], target[128], det[512], ab[64], pb[8], summary[300], fp[160];
	struct enfseen *e = NULL, *lru = &r->enf_seen[0];
	struct incident *inc;
	struct ctr_info ci;
	bool have_ci;
	size_t i;

	if (ru)
		snprintf(rname, sizeof(rname), "%s", ru->name);
	else if (rid)
		snprintf(rname, sizeof(rname), "rule-%u", rid);
	else
		snprintf(rname, sizeof(rname), "manual");
	ng_addr_str(ev->enforce.family, ev->enforce.daddr, ab, sizeof(ab));
	/* the kernel marks every enforcement record "container": only an isolation
	 * is known to be one (a node-wide deny may hit a host process) */
	inc = incident_for(r, cg, ev->enforce.action == NG_ENF_ISOLATE, ev->hdr.pid, &ci, &have_ci,
			   key, sizeof(key));
	if (!inc) {
		snprintf(summary, sizeof(summary), "%s %s%s%s:%u refused by %s (rule %s)",
			 ng_kind_name(ev->enforce.hook), ev->enforce.family == AF_INET6 ? "[" : "", ab,
			 ev->enforce.family == AF_INET6 ? "]" : "", ev->enforce.dport, aname, rname);
		snprintf(fp, sizeof(fp), "enforce|%s|%s|%u", aname, ab, ev->enforce.dport);
		inc = open_for_kernel(r, key, have_ci ? &ci : NULL, cg,
				      ev->enforce.action == NG_ENF_ISOLATE || (have_ci && ci.is_container),
				      ev->enforce.action == NG_ENF_DENY ? ru : NULL, rname, summary, fp,
				      ev->hdr.pid, when);
		if (!inc)
			return -ENOMEM;
	}
	if (!have_room(inc))
		return -ENOSPC;
	if (ev->enforce.action == NG_ENF_DENY && !ev->enforce.target_cgroup)
		snprintf(target, sizeof(target), "node");
	else if (have_ci && ci.container_id[0])
		snprintf(target, sizeof(target), "container:%s", ci.container_id);
	else
		snprintf(target, sizeof(target), "cgroup:%" PRIu64, cg);
	snprintf(det, sizeof(det), "refused %s to %s%s%s:%u (%s) by pid %u (%s); %s %s%s",
		 ng_kind_name(ev->enforce.hook), ev->enforce.family == AF_INET6 ? "[" : "", ab,
		 ev->enforce.family == AF_INET6 ? "]" : "", ev->enforce.dport,
		 ng_proto_name(ev->enforce.protocol, pb, sizeof(pb)), ev->hdr.pid, ev->comm,
		 rid ? "rule" : "isolated by", rid ? rname : "hand",
		 compiled ? " (compiled from the policy)" : "");

	for (i = 0; i < ENFSEEN_MAX; i++) {
		struct enfseen *x = &r->enf_seen[i];

		if (x->last_use && x->cg == cg && x->action == ev->enforce.action &&
		    x->rule_id == ev->enforce.rule_id && !strcmp(x->inc, inc->id)) {
			e = x;
			break;
		}
		if (x->last_use < lru->last_use)
			lru = x;
	}
	if (!e) {
		e = lru;
		enf_flush(r, e);
		memset(e, 0, sizeof(*e));
		e->cg = cg;
		e->action = ev->enforce.action;
		e->rule_id = ev->enforce.rule_id;
		snprintf(e->inc, sizeof(e->inc), "%s", inc->id);
	}
	e->last_use = now ? now : 1;
	if (!e->win_start || now - e->win_start >= QUIET_WINDOW_NS) {
		enf_flush(r, e);
		e->win_start = now ? now : 1;
		e->in_win = 0;
	}
	if (e->in_win < QUIET_BURST) {
		e->in_win++;
		rec(r, inc, aname, "enforced", target, "ok", det, false);
		return 0;
	}
	if (!e->hidden) {
		e->hidden_mono = now;
		e->hidden_wall = wall_ns();
	}
	e->hidden++;
	snprintf(e->target, sizeof(e->target), "%s", target);
	snprintf(e->det, sizeof(e->det), "%s", det);
	return 0;
}

int responder_on_enforce(struct responder *r, const struct ng_event *ev)
{
	if (!ev || ev->hdr.kind != NG_EV_ENFORCE)
		return -EINVAL;
	switch (ev->enforce.action) {
	case NG_ENF_KILL:
		return on_kernel_kill(r, ev, r->boot_off);
	case NG_ENF_DENY:
	case NG_ENF_ISOLATE:
		return on_kernel_refusal(r, ev, r->boot_off);
	}
	return -EINVAL;
}

/* ---------------------------------------------------------------- manual */

int responder_manual(struct responder *r, const char *action, const char *container_id,
		     const char *who, char *incident_out, size_t incn, char *msg, size_t msgn)
{
	int act = action_from_name(action ? action : ""), err;
	struct rule mr = { 0 };
	struct inc_detection d = { 0 };
	struct resp_target t = { 0 };
	struct inc_attr attr;
	struct incident *inc = NULL;
	struct ctr_info ci;
	char rname[64], key[128], summary[256], fp[128];
	enum outcome out;
	bool opened;
	char mbuf[256];

	if (!msg || !msgn) {
		msg = mbuf;
		msgn = sizeof(mbuf);
	}
	if (incident_out && incn)
		incident_out[0] = '\0';
	if (act != ACT_ISOLATE && act != ACT_FREEZE && act != ACT_KILL_CONTAINER) {
		snprintf(msg, msgn, "unknown action '%s' (isolate, freeze or kill-container)",
			 action ? action : "");
		return -EINVAL;
	}
	if (!r->ctr) {
		snprintf(msg, msgn, "no container attribution (cgroup v2 not found)");
		return -ENOTSUP;
	}
	err = ctr_cache_find_container(r->ctr, container_id ? container_id : "", &ci);
	if (err) {
		snprintf(msg, msgn, "%s '%s'",
			 err == -ENOENT   ? "no running container"
			 : err == -EEXIST ? "more than one container starts with"
					  : "not a container id (12 to 64 hex digits)",
			 container_id ? container_id : "");
		return err;
	}
	snprintf(rname, sizeof(rname), "manual-%s", action_name((uint32_t)act));
	mr.name = rname;
	mr.description = "requested by hand (nodeguardctl)";
	mr.enabled = true;
	mr.severity = SEV_HIGH;
	mr.category = "response";
	mr.actions = (uint32_t)act;
	mr.dry_run = TRI_ANY;
	mr.match.scope = SCOPE_CONTAINER;

	snprintf(key, sizeof(key), "ctr:%s", ci.container_id);
	snprintf(summary, sizeof(summary), "%s requested by %s", action_name((uint32_t)act),
		 who && *who ? who : "unknown");
	snprintf(fp, sizeof(fp), "manual|%s|%s", action_name((uint32_t)act), who ? who : "");
	attr_of(&attr, &ci, ci.cgroup_id, true);
	d.source = "manual";
	d.rule = rname;
	d.severity = SEV_HIGH;
	d.category = "response";
	d.wall_ns = wall_ns();
	d.summary = summary;
	d.fingerprint = fp;
	d.key = key;
	d.attr = &attr;
	err = incmgr_detect(r->im, &d, &inc, &opened);
	if (!inc) {
		snprintf(msg, msgn, "Failed to open an incident: %s", strerror(-err));
		return err ? err : -ENOMEM;
	}
	if (incident_out && incn)
		snprintf(incident_out, incn, "%s", inc->id);
	t.cgroup_id = ci.cgroup_id;
	t.is_container = true;
	t.ctr = &ci;
	t.pod_namespace = inc->attr.pod_namespace;
	t.wall_ns = d.wall_ns;
	err = act_one(r, &mr, (uint32_t)act, inc, &t, who && *who ? who : "unknown", &out, msg, msgn);
	switch (out) {
	case O_OK:
	case O_WOULD:
	case O_NOOP:
		return 0;
	case O_SUPPRESSED:
		return -EBUSY;
	case O_REFUSED:
		return -EPERM;
	case O_SKIPPED:
		return -ENOTSUP;
	case O_FAILED:
		break;
	}
	return err ? err : -EIO;
}

/* ---------------------------------------------------------------- release */

/* undo one action in effect; det gets the error text; -errno or 0 */
/*
 * An API action's release: Events and deleted pods stay; the others are
 * undone from their result's undo document through the queue (journaled as
 * "queued", then ok/failed when the worker reports), or wait as "queued"
 * for an agent that has the API. *undo: the document to journal with it.
 */
static int undo_api(struct responder *r, const struct incident *inc, const struct inc_action *in,
		    const struct inc_action *res, const char **result, const char **undo, char *det,
		    size_t detn)
{
	int err;

	*undo = NULL;
	if (!strcmp(in->action, "event")) {
		*result = "irreversible";
		snprintf(det, detn, "an Event is a record: it stays until the cluster expires it");
		return 0;
	}
	if (!strcmp(in->action, "delete-pod")) {
		*result = "irreversible";
		snprintf(det, detn, "a deleted pod is not brought back (its controller may recreate it)");
		return 0;
	}
	if (!res->undo || !*res->undo) {
		*result = "ok";
		snprintf(det, detn, "nothing was changed");
		return 0;
	}
	*undo = res->undo;
	*result = "queued";
	if (!r->q) {
		snprintf(det, detn, "waiting for an agent with Kubernetes API access");
		return 0;
	}
	err = api_push(r, APIQ_UNDO, inc->id, in->action, in->target, res->undo);
	if (err) {
		*result = "failed";
		*undo = NULL;
		snprintf(det, detn, "the API action queue is full: not released (%s)", strerror(-err));
		return err;
	}
	snprintf(det, detn, "sent to the API action queue");
	return 0;
}

static int undo_one(struct responder *r, const struct inc_action *in, const char **result,
		    char *det, size_t detn)
{
	cJSON *u = cJSON_Parse(in->detail);
	uint64_t cgid = jget_u64(u, "cgroup_id");
	const char *rel = jget(u, "cgroup_path");
	int err = 0;

	*result = "ok";
	det[0] = '\0';
	if (!strcmp(in->action, "kill")) {
		*result = "irreversible";
		snprintf(det, detn, "a killed process cannot be brought back");
	} else if (!strcmp(in->action, "kill-container")) {
		*result = "irreversible";
		snprintf(det, detn, "the container's killed processes cannot be brought back");
	} else if (!strcmp(in->action, "isolate")) {
		if (!cgid) {
			err = -EINVAL;
			snprintf(det, detn, "no cgroup_id in the intent's undo data");
		} else if (!r->enf) {
			err = -ENOTSUP;
			snprintf(det, detn, "no enforcer: the pinned isolation cannot be lifted by this agent");
		} else if ((err = enforcer_release_isolation(r->enf, cgid))) {
			snprintf(det, detn, "Failed to lift the isolation of cgroup %" PRIu64 ": %s", cgid,
				 strerror(-err));
		}
	} else if (!strcmp(in->action, "freeze")) {
		char d[PATH_MAX];

		if (!rel || !*rel) {
			err = -EINVAL;
			snprintf(det, detn, "no cgroup_path in the intent's undo data");
		} else {
			cg_dir(r, rel, d, sizeof(d));
			err = write_cg_file(d, "cgroup.freeze", "0");
			if (err == -ENOENT && !cgroup_alive(r, cgid, rel)) {
				err = 0;
				snprintf(det, detn, "the cgroup is gone");
			} else if (err) {
				snprintf(det, detn, "Failed to write 0 to %s/cgroup.freeze: %s", d,
					 strerror(-err));
			}
		}
	} else if (!strcmp(in->action, "deny")) {
		const cJSON *ents = cJSON_GetObjectItemCaseSensitive(u, "entries"), *e;
		int n = 0;

		if (!r->enf) {
			err = -ENOTSUP;
			snprintf(det, detn, "no enforcer: the pinned deny entries cannot be removed by this agent");
		} else {
			cJSON_ArrayForEach(e, ents) {
				const char *s = jget(e, "cidr");
				struct cidr c;
				int e2;

				if (!s || cidr_parse(s, &c)) {
					err = err ? err : -EINVAL;
					continue;
				}
				e2 = enforcer_deny_del(r->enf, cgid, &c);
				if (e2)
					err = err ? err : e2;
				else
					n++;
			}
			if (err)
				snprintf(det, detn, "Failed to remove some deny entries: %s (%d removed)",
					 strerror(-err), n);
		}
	} else {
		*result = "irreversible";
		snprintf(det, detn, "nothing to undo");
	}
	cJSON_Delete(u);
	if (err)
		*result = "failed";
	return err;
}

static int release_incident(struct responder *r, struct incident *inc, const char *who,
			    const char *why, int *nreleased, int *nfailed)
{
	struct active act[INC_MAX_ACTIONS];
	size_t n = active_actions(inc, act, INC_MAX_ACTIONS), i;
	char det[600], res[700], reason[300];
	int err = 0;

	*nreleased = *nfailed = 0;
	/* newest first: undo in the reverse order of doing; what can be undone
	 * before the kills that cannot (the release records need room) */
	for (i = 2 * n; i > 0; i--) {
		const struct inc_action *in = &inc->actions[act[(i - 1) % n].intent];
		const struct inc_action *rs = &inc->actions[act[(i - 1) % n].result];
		bool irrev = !strcmp(in->action, "kill") || !strcmp(in->action, "kill-container") ||
			     !strcmp(in->action, "delete-pod") || !strcmp(in->action, "event");
		const char *result, *u = NULL;
		char *action, *target, *undo = NULL;
		int e;

		if (irrev != (i <= n))
			continue;
		action = strdup(in->action);
		target = strdup(in->target);
		if (!action || !target) {
			free(action);
			free(target);
			return -ENOMEM;
		}
		if (respond_action_is_api((uint32_t)action_from_name(in->action)))
			e = undo_api(r, inc, in, rs, &result, &u, det, sizeof(det));
		else
			e = undo_one(r, in, &result, det, sizeof(det));
		if (u && !(undo = strdup(u))) {
			free(action);
			free(target);
			return -ENOMEM;
		}
		snprintf(res, sizeof(res), "released by %s%s%s%s%s", who, why ? " (" : "", why ? why : "",
			 why ? ")" : "", det[0] ? ": " : "");
		strncat(res, det, sizeof(res) - strlen(res) - 1);
		/* in may move: incmgr_action reallocates the action array */
		rec_undo(r, inc, action, "release", target, result, res, undo, false);
		free(undo);
		if (e) {
			(*nfailed)++;
			err = err ? err : e;
			log_err("incident %s: release of %s %s failed: %s", inc->id, action, target, det);
		} else {
			(*nreleased)++;
			log_info("incident %s: %s %s released by %s%s%s", inc->id, action, target, who,
				 det[0] ? ": " : "", det);
		}
		free(action);
		free(target);
	}
	if (n || inc->status == INC_CONTAINED) {
		snprintf(reason, sizeof(reason), "released by %s%s%s%s", who, why ? " (" : "",
			 why ? why : "", why ? ")" : "");
		if (*nfailed)
			strncat(reason, "; some actions could not be undone", sizeof(reason) - strlen(reason) - 1);
		incmgr_set_status(r->im, inc, INC_RELEASED, reason, wall_ns());
	}
	return err;
}

int responder_release_incident(struct responder *r, const char *incident_id, const char *who,
			       char *msg, size_t msgn)
{
	struct incident *inc = incident_id && *incident_id ? incmgr_find_prefix(r->im, incident_id) : NULL;
	int nrel, nfail, err;

	if (!inc) {
		snprintf(msg, msgn, "no incident '%s' (or the prefix is ambiguous)",
			 incident_id ? incident_id : "");
		return -ENOENT;
	}
	if (inc->status == INC_RELEASED || inc->status == INC_CLOSED) {
		if (!active_actions(inc, (struct active[1]){ 0 }, 1)) {
			snprintf(msg, msgn, "incident %s is %s: nothing to release", inc->id,
				 inc_status_name(inc->status));
			return 0;
		}
	}
	err = release_incident(r, inc, who && *who ? who : "unknown", NULL, &nrel, &nfail);
	if (!nrel && !nfail)
		snprintf(msg, msgn, "incident %s: no action in effect; status %s", inc->id,
			 inc_status_name(inc->status));
	else
		snprintf(msg, msgn, "incident %s: %d action%s released%s%d failed; status %s", inc->id,
			 nrel, nrel == 1 ? "" : "s", ", ", nfail, inc_status_name(inc->status));
	return err;
}

int responder_release_container(struct responder *r, const char *container_id, const char *who,
				char *msg, size_t msgn)
{
	struct ctr_info ci;
	struct incident *i;
	const char *id = container_id ? container_id : "";
	char full[65] = "", extra[128] = "";
	bool running = false;
	int nrel = 0, nfail = 0, ninc = 0, err = 0, e, a, b;
	size_t idn = strlen(id), k;

	if (idn < CTR_ID_MIN_PREFIX || idn > CTR_ID_LEN) {
		snprintf(msg, msgn, "not a container id (12 to 64 hex digits): '%s'", id);
		return -EINVAL;
	}
	for (k = 0; k < idn; k++)
		if (!strchr("0123456789abcdefABCDEF", id[k])) {
			snprintf(msg, msgn, "not a container id (12 to 64 hex digits): '%s'", id);
			return -EINVAL;
		}
	if (r->ctr && ctr_cache_find_container(r->ctr, id, &ci) == 0) {
		snprintf(full, sizeof(full), "%s", ci.container_id);
		running = true;
	}
	/* incidents of the container (also when it is gone: by the journal's id) */
	for (i = incmgr_first(r->im); i; i = i->next) {
		const char *cid = i->attr.container_id;

		if (!cid[0] || (full[0] ? strcmp(cid, full) : strncasecmp(cid, id, idn)))
			continue;
		if (!full[0])
			snprintf(full, sizeof(full), "%s", cid);
		if (!active_actions(i, (struct active[1]){ 0 }, 1) && i->status != INC_CONTAINED)
			continue;
		e = release_incident(r, i, who && *who ? who : "unknown", NULL, &a, &b);
		err = err ? err : e;
		nrel += a;
		nfail += b;
		ninc++;
	}
	if (!full[0]) {
		snprintf(msg, msgn, "no container '%s' (running or in the journal)", id);
		return -ENOENT;
	}
	/* pinned isolation no journal record accounts for (a lost journal, an
	 * older agent): lift it too, the operator asked for the container */
	if (running && r->enf && enforcer_is_isolated(r->enf, ci.cgroup_id)) {
		e = enforcer_release_isolation(r->enf, ci.cgroup_id);
		log_warn("container %.12s: lifted a pinned isolation without a journal record "
			 "(released by %s)%s%s", full, who && *who ? who : "unknown", e ? ": " : "",
			 e ? strerror(-e) : "");
		snprintf(extra, sizeof(extra), "; a pinned isolation without a journal record %s",
			 e ? "could not be lifted" : "was lifted");
		err = err ? err : e;
	}
	if (!ninc)
		snprintf(msg, msgn, "container %.12s: no action in effect%s", full, extra);
	else
		snprintf(msg, msgn, "container %.12s: %d action%s released, %d failed, in %d incident%s%s",
			 full, nrel, nrel == 1 ? "" : "s", nfail, ninc, ninc == 1 ? "" : "s", extra);
	return err;
}

/* ---------------------------------------------------------------- reconcile */

struct deny_seen {
	uint64_t cg[1024];
	size_t n;
	const struct cidr *want;
	uint64_t want_cg;
	bool found;
};

static void deny_cb(uint64_t cgid, const struct cidr *c, const struct ng_deny_val *v, void *ctx)
{
	struct deny_seen *s = ctx;
	size_t i;

	(void)v;
	if (s->want && cgid == s->want_cg && cidr_eq(c, s->want))
		s->found = true;
	/* node-wide and container-wide entries belong to no cgroup: never "gone" */
	if (!cgid || cgid == NG_CG_ANY_CONTAINER)
		return;
	for (i = 0; i < s->n; i++)
		if (s->cg[i] == cgid)
			return;
	if (s->n < sizeof(s->cg) / sizeof(s->cg[0]))
		s->cg[s->n++] = cgid;
}

static bool deny_present(struct responder *r, uint64_t cgid, const struct cidr *c)
{
	struct deny_seen *s = calloc(1, sizeof(*s));
	bool f;

	if (!s)
		return true;
	s->want = c;
	s->want_cg = cgid;
	enforcer_foreach_deny(r->enf, deny_cb, s);
	f = s->found;
	free(s);
	return f;
}

struct iso_list {
	uint64_t cg[4096];
	size_t n;
};

static void iso_cb(uint64_t cgid, const struct ng_isolation *iso, void *ctx)
{
	struct iso_list *l = ctx;

	(void)iso;
	if (l->n < sizeof(l->cg) / sizeof(l->cg[0]))
		l->cg[l->n++] = cgid;
}

struct rc_stats {
	unsigned incidents, held, reapplied, failed, gone;
	unsigned orphan_released, orphan_kept, deny_cleared;
};

/* check (and re-apply) one action in effect; true if it still holds something */
static bool reconcile_one(struct responder *r, struct incident *inc, size_t ii,
			  struct rc_stats *st)
{
	const struct inc_action *in = &inc->actions[ii];
	cJSON *u = cJSON_Parse(in->detail);
	uint64_t cgid = jget_u64(u, "cgroup_id");
	const char *rel = jget(u, "cgroup_path");
	char action[32], target[128], det[600], d[PATH_MAX];
	bool holds = true, alive, is_deny = !strcmp(in->action, "deny");
	int err = 0;

	snprintf(action, sizeof(action), "%s", in->action);
	snprintf(target, sizeof(target), "%s", in->target);
	if (strcmp(action, "isolate") && strcmp(action, "freeze") && !is_deny) {
		cJSON_Delete(u);
		return false; /* kill, kill-container: nothing stays in effect */
	}
	alive = is_deny && !cgid ? true : cgroup_alive(r, cgid, rel);
	if (!alive) {
		const char *result;

		undo_one(r, in, &result, det, sizeof(det));
		if (!strcmp(det, "the cgroup is gone"))
			det[0] = '\0';
		snprintf(d, sizeof(d), "released by reconcile: the cgroup is gone%s%s",
			 det[0] ? ": " : "", det);
		rec(r, inc, action, "release", target, result, d, false);
		st->gone++;
		cJSON_Delete(u);
		return false;
	}
	if (!strcmp(action, "isolate")) {
		holds = r->enf && enforcer_is_isolated(r->enf, cgid);
		if (!holds && r->enf && rel) {
			char b[600];

			err = do_isolate(r, cgid, rel, 0, b, sizeof(b));
			snprintf(det, sizeof(det), "re-applied after a restart: the pinned isolation "
				 "was missing; %s", b);
		}
	} else if (!strcmp(action, "freeze")) {
		cg_dir(r, rel ? rel : "", d, sizeof(d));
		holds = rel && cg_frozen_file(d, "cgroup.freeze", "1");
		if (!holds && rel) {
			char b[600];

			err = do_freeze(r, rel, b, sizeof(b));
			snprintf(det, sizeof(det), "re-applied after a restart: cgroup.freeze was 0; %s", b);
		}
	} else {
		const cJSON *ents = cJSON_GetObjectItemCaseSensitive(u, "entries"), *e;
		const cJSON *ports;
		int missing = 0;

		cJSON_ArrayForEach(e, ents) {
			const char *s = jget(e, "cidr");
			struct cidr c;

			if (!s || cidr_parse(s, &c) || !r->enf || deny_present(r, cgid, &c))
				continue;
			missing++;
			/* put it back with its ports */
			{
				struct port_range pr[NG_DENY_PORTS_MAX];
				size_t np = 0;
				const cJSON *p;
				const char *proto = jget(u, "protocol");

				ports = cJSON_GetObjectItemCaseSensitive(e, "ports");
				cJSON_ArrayForEach(p, ports) {
					unsigned lo = 0, hi = 0;

					if (np >= NG_DENY_PORTS_MAX || !cJSON_IsString(p))
						continue;
					if (sscanf(p->valuestring, "%u-%u", &lo, &hi) == 1)
						hi = lo;
					pr[np++] = (struct port_range){ (uint16_t)lo, (uint16_t)hi };
				}
				int e2 = enforcer_deny_add(r->enf, cgid, &c, pr, np,
							   proto && !strcmp(proto, "tcp") ? 6
							   : proto && !strcmp(proto, "udp") ? 17 : 0,
							   0);
				err = err ? err : e2;
			}
		}
		holds = !missing;
		if (missing)
			snprintf(det, sizeof(det), "re-applied after a restart: %d pinned deny entr%s "
				 "missing%s%s", missing, missing == 1 ? "y was" : "ies were",
				 err ? ": " : "", err ? strerror(-err) : "");
	}
	if (holds) {
		st->held++;
	} else {
		rec(r, inc, action, "intent", target, "", in->detail, false);
		rec(r, inc, action, "result", target, err ? "failed" : "ok", det, false);
		if (err) {
			st->failed++;
			log_err("reconcile: incident %s: %s %s: %s", inc->id, action, target, det);
		} else {
			st->reapplied++;
			log_warn("reconcile: incident %s: %s %s: %s", inc->id, action, target, det);
		}
	}
	cJSON_Delete(u);
	return true;
}

int responder_reconcile(struct responder *r, char *summary, size_t n)
{
	struct rc_stats st = { 0 };
	struct iso_list *iso = NULL;
	struct deny_seen *ds = NULL;
	struct incident *inc;
	struct active *act = calloc(INC_MAX_ACTIONS, sizeof(*act));
	size_t i, k, na;

	if (!act)
		return -ENOMEM;
	for (inc = incmgr_first(r->im); inc; inc = inc->next) {
		bool any = false;

		if (inc->status != INC_CONTAINED)
			continue;
		st.incidents++;
		na = active_actions(inc, act, INC_MAX_ACTIONS);
		/* reconcile_one appends records: resolve the indices first */
		for (k = 0; k < na; k++)
			if (reconcile_one(r, inc, act[k].intent, &st))
				any = true;
		if (!any)
			incmgr_set_status(r->im, inc, INC_RELEASED,
					  "released by reconcile: the contained cgroups are gone",
					  wall_ns());
	}
	if (r->enf) {
		iso = calloc(1, sizeof(*iso));
		ds = calloc(1, sizeof(*ds));
		if (iso && ds) {
			enforcer_foreach_isolated(r->enf, iso_cb, iso);
			for (i = 0; i < iso->n; i++) {
				bool journaled = false;

				for (inc = incmgr_first(r->im); inc && !journaled; inc = inc->next) {
					if (inc->status != INC_CONTAINED)
						continue;
					na = active_actions(inc, act, INC_MAX_ACTIONS);
					for (k = 0; k < na && !journaled; k++) {
						cJSON *u = cJSON_Parse(inc->actions[act[k].intent].detail);

						journaled = !strcmp(inc->actions[act[k].intent].action, "isolate") &&
							    jget_u64(u, "cgroup_id") == iso->cg[i];
						cJSON_Delete(u);
					}
				}
				if (journaled)
					continue;
				if (!cgroup_alive(r, iso->cg[i], NULL)) {
					enforcer_release_isolation(r->enf, iso->cg[i]);
					st.orphan_released++;
					log_info("reconcile: released the pinned isolation of cgroup %" PRIu64
						 " (the cgroup is gone)", iso->cg[i]);
				} else {
					st.orphan_kept++;
					log_warn("reconcile: cgroup %" PRIu64 " is isolated but no contained "
						 "incident says so; kept (nodeguardctl release, or nodeguard "
						 "uninstall, lifts it)", iso->cg[i]);
				}
			}
			enforcer_foreach_deny(r->enf, deny_cb, ds);
			for (i = 0; i < ds->n; i++) {
				if (cgroup_alive(r, ds->cg[i], NULL))
					continue;
				st.deny_cleared += (unsigned)enforcer_clear_cgroup(r->enf, ds->cg[i]);
			}
		}
	}
	snprintf(summary, n,
		 "reconcile: %u contained incident%s: %u action%s holding, %u re-applied, %u failed, "
		 "%u released (cgroup gone); pinned: %u orphan isolation%s released, %u kept, "
		 "%u deny entr%s of gone cgroups removed",
		 st.incidents, st.incidents == 1 ? "" : "s", st.held, st.held == 1 ? "" : "s",
		 st.reapplied, st.failed, st.gone, st.orphan_released,
		 st.orphan_released == 1 ? "" : "s", st.orphan_kept, st.deny_cleared,
		 st.deny_cleared == 1 ? "y" : "ies");
	free(iso);
	free(ds);
	free(act);
	return st.failed ? -EIO : 0;
}
