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
 * The concerns around them live in the files listed in respond_int.h; this
 * one holds the lifecycle (responder_new/free/set_policy), where kill rules
 * run (kernel or user space), the entry points for a detection and for a
 * request by hand, one action from guardrails to result (act_one), and the
 * periodic tick.
 *
 * Record shapes are documented in docs/incidents.md (integration tests
 * assert them).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errptr.h"
#include "evfmt.h"
#include "jsonw.h"
#include "killrules.h"
#include "log.h"
#include "procfs.h"
#include "respond_int.h"

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
	char target[128], det[768], dres[300];
	struct deny_plan *dp = NULL;
	struct resp_case c = {
		.action = act, .rule = ru, .pid = act == ACT_KILL ? t->pid : 0,
		.cgroup_id = node_wide ? 0 : t->cgroup_id, .cgroup_path = rel,
		.is_container = t->is_container, .pod_namespace = t->pod_namespace,
	};
	const char *undo;
	int err = 0, derr = 0;

	if (decide_action_is_api(act))
		return k8sact_act_one(r, ru, act, inc, t, who, out, msg, msgn);
	*out = O_NOOP;
	if (msg && msgn)
		msg[0] = '\0';
	record_target_str(act, t, node_wide, target, sizeof(target));

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
		derr = contain_deny_plan(ru, t, node_wide, dp, dres, sizeof(dres));
		undo_common(&r->w, ru->name, node_wide ? 0 : t->cgroup_id, node_wide ? NULL : t->ctr, who);
		if (!derr)
			contain_deny_json(&r->w, dp);
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
	if (incident_action_in_effect(inc, aname, target, act == ACT_DENY ? undo : NULL)) {
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

	if (!storm_decide(r, &c, inc, act, ru, target, undo, out, msg, msgn))
		goto done;

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
			err = contain_kill_pid(r, t, det, sizeof(det));
		}
		break;
	case ACT_DENY:
		if (derr) {
			snprintf(det, sizeof(det), "%s", dres);
			err = derr;
		} else {
			err = contain_deny(r, dp, ru->id, det, sizeof(det));
		}
		break;
	case ACT_ISOLATE:
		err = contain_isolate(r, t->cgroup_id, rel, ru->id, det, sizeof(det));
		break;
	case ACT_FREEZE:
		err = contain_freeze(r, rel, det, sizeof(det));
		break;
	case ACT_KILL_CONTAINER:
		err = contain_kill_container(r, rel, det, sizeof(det));
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
			record_contained(r, inc, aname, ru->name);
	}
	if (msg)
		snprintf(msg, msgn, "%s", det);
done:
	free((void *)undo);
	free(dp);
	return err;
}

void responder_tick(struct responder *r)
{
	uint64_t now = clock_boot_ns();
	size_t i;

	if (!r)
		return;
	for (i = 0; i < QUIET_MAX; i++) {
		struct quiet *q = &r->quiet[i];

		if (q->b.hidden && now - q->b.hidden_mono >= QUIET_FLUSH_NS)
			storm_quiet_flush(r, q);
	}
	for (i = 0; i < ENFSEEN_MAX; i++) {
		struct enfseen *e = &r->enf_seen[i];

		if (e->b.hidden && now - e->b.hidden_mono >= QUIET_FLUSH_NS)
			storm_enf_flush(r, e);
	}
	if (now - r->last_sweep >= SWEEP_NS) {
		r->last_sweep = now;
		if (r->seen.n)
			cgset_filter(&r->seen, denyset_seen_alive, r);
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

struct responder *responder_new(const struct responder_opts *o)
{
	struct responder *r;

	if (!o || !o->incidents)
		return errno_null(EINVAL);
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->open_incident = o->open_incident;
	r->open_ctx = o->open_ctx;
	r->rates = decide_rates_new();
	if (!r->rates) {
		free(r);
		return errno_null(ENOMEM);
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
		if (procfs_cgroup_path("/proc/self/cgroup", r->self_path, sizeof(r->self_path)))
			r->self_path[0] = '\0';
	r->self.pid = o->self_pid;
	r->self.cgroup_id = o->self_cgroup;
	r->self.cgroup_path = r->self_path[0] ? r->self_path : NULL;
	r->boot_off = evfmt_boot_offset_ns();
	jsonw_init(&r->w);
	r->last_sweep = clock_boot_ns();
	compute_kkill(r);
	contain_apply_allow(r);
	denyset_apply(r);
	return r;
}

void responder_free(struct responder *r)
{
	size_t i;

	if (!r)
		return;
	/* counted non-actions are journaled before the agent goes */
	for (i = 0; i < QUIET_MAX; i++) {
		storm_quiet_flush(r, &r->quiet[i]);
		free(r->quiet[i].undo);
	}
	for (i = 0; i < ENFSEEN_MAX; i++)
		storm_enf_flush(r, &r->enf_seen[i]);
	decide_rates_free(r->rates);
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
	contain_apply_allow(r);
	denyset_apply(r);
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
		if (a == ACT_DENY && denyset_in_kernel(r, rule, t->cgroup_id))
			continue;
		e = act_one(r, rule, a, inc, t, NULL, &out, NULL, 0);
		err = err ? err : e;
	}
	return err;
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
	err = container_cache_find_container(r->ctr, container_id ? container_id : "", &ci);
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

	incident_key(key, sizeof(key), &(struct inc_key_of){ .container_id = ci.container_id });
	snprintf(summary, sizeof(summary), "%s requested by %s", action_name((uint32_t)act),
		 who && *who ? who : "unknown");
	snprintf(fp, sizeof(fp), "manual|%s|%s", action_name((uint32_t)act), who ? who : "");
	record_attr_of(&attr, &ci, ci.cgroup_id, true);
	d.source = "manual";
	d.rule = rname;
	d.severity = SEV_HIGH;
	d.category = "response";
	d.wall_ns = clock_wall_ns();
	d.summary = summary;
	d.fingerprint = fp;
	d.key = key;
	d.attr = &attr;
	err = r->open_incident ? r->open_incident(r->open_ctx, &d, &inc, &opened) : -ENOTSUP;
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
