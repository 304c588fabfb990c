// SPDX-License-Identifier: Apache-2.0
/*
 * The guardrail decision (decide_verdict) and the per-rule and node-wide
 * one-minute rate windows it draws from: pure functions, no kernel, no
 * journal, exposed in respond.h so tests/unit/respond/test_respond.c checks them
 * without root. The cgroup path helpers are shared with the responder.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "respond_int.h"

#define RATE_WINDOW_NS (60ull * NS_PER_S)  /* rate limits: per minute */
#define RATE_RULES_MAX 8192

/* ---------------------------------------------------------------- rates */

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

struct resp_rates *decide_rates_new(void)
{
	return calloc(1, sizeof(struct resp_rates));
}

void decide_rates_free(struct resp_rates *rr)
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

void decide_rates_count(struct resp_rates *rr, const char *rule, uint64_t now_ns)
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

bool decide_action_is_cgroup(uint32_t act)
{
	return act == ACT_ISOLATE || act == ACT_FREEZE || act == ACT_KILL_CONTAINER;
}

bool decide_action_is_api(uint32_t act)
{
	return act == ACT_LABEL || act == ACT_NETWORK_POLICY || act == ACT_REVOKE_RBAC ||
	       act == ACT_DELETE_POD || act == ACT_EVENT;
}

const char *decide_verdict_result(enum resp_verdict v)
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
int decide_path_depth(const char *p)
{
	char prev = '/';
	int d = 0;

	for (; *p; prev = *p++)
		if (*p != '/' && prev == '/')
			d++;
	return d;
}

/* is `anc` the cgroup `p` or one of its ancestors? */
bool decide_path_contains(const char *anc, const char *p)
{
	size_t n = strlen(anc);

	while (n > 1 && anc[n - 1] == '/')
		n--;
	if (n == 1 && anc[0] == '/')
		return true;
	return !strncmp(anc, p, n) && (p[n] == '\0' || p[n] == '/');
}

const char *decide_namespace_protected(const struct policy_settings *s, const char *ns)
{
	size_t i;

	for (i = 0; s && ns && i < s->protected_namespaces.n; i++)
		if (fnmatch(s->protected_namespaces.v[i], ns, 0) == 0)
			return s->protected_namespaces.v[i];
	return NULL;
}

enum resp_verdict decide_verdict(const struct policy_settings *s, const struct resp_self *self,
				 const struct resp_case *c, struct resp_rates *rr, uint64_t now_ns,
				 char *why, size_t n)
{
	const struct rule *ru = c->rule;
	const char *rname = ru && ru->name ? ru->name : "?", *pat;
	bool cg = decide_action_is_cgroup(c->action);
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
		    *c->cgroup_path && decide_path_contains(c->cgroup_path, self->cgroup_path)) {
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
		if (decide_path_depth(c->cgroup_path) < 2) {
			SAY("cgroup %s is the node root or a top-level cgroup", c->cgroup_path);
			return RESP_REFUSED;
		}
	}
	if (!c->is_container && (!ru || ru->match.scope == SCOPE_CONTAINER)) {
		SAY("host process, and rule %s is scoped to containers", rname);
		return RESP_REFUSED;
	}
	if (s && c->pod_namespace && (pat = decide_namespace_protected(s, c->pod_namespace))) {
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
