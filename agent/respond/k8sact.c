// SPDX-License-Identifier: Apache-2.0
/*
 * Kubernetes actions (label, network-policy, revoke-rbac, delete-pod,
 * event) on the pod, through the API action queue (apiq.h): the intent
 * holds every argument; the worker's result (with the undo document) is
 * journaled when it reports (api_done); without an API they are journaled
 * as skipped. After a restart, intents without a result and releases
 * journaled as queued are pushed again (responder_api_resume).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "respond_int.h"

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

int k8sact_push(struct responder *r, enum apiq_kind kind, const char *inc, const char *action,
		const char *target, const char *args)
{
	struct apiq_job j = { .kind = kind, .args = args };

	snprintf(j.inc, sizeof(j.inc), "%s", inc);
	snprintf(j.action, sizeof(j.action), "%s", action);
	snprintf(j.target, sizeof(j.target), "%s", target);
	return apiq_push(r->q, &j);
}

/* label, network-policy, revoke-rbac, delete-pod, event: as act_one */
int k8sact_act_one(struct responder *r, const struct rule *ru, uint32_t act, struct incident *inc,
		   const struct resp_target *t, const char *who, enum outcome *out, char *msg,
		   size_t msgn)
{
	const char *aname = action_name(act), *self_ns, *self_name;
	const struct pod_info *p = t->pod;
	char target[300], det[768];
	struct resp_case c = {
		.action = act, .rule = ru, .cgroup_id = t->cgroup_id, .is_container = t->is_container,
		.pod_namespace = p ? p->namespace : t->pod_namespace,
		/* an Event is a notification, not containment */
		.no_rate = act == ACT_EVENT,
	};
	char *args;
	int err = 0;

	*out = O_NOOP;
	if (msg && msgn)
		msg[0] = '\0';
	if (p)
		snprintf(target, sizeof(target), "pod:%s/%s", p->namespace, p->name);
	else
		record_target_str(act, t, false, target, sizeof(target));
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

	if (!storm_decide(r, &c, inc, act, ru, target, args, out, msg, msgn))
		goto done;
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
	} else if ((err = k8sact_push(r, APIQ_DO, inc->id, aname, target, args))) {
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
	const char *v = jget_str(o, k);

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
	if (s && k8sact_push(r, APIQ_NOTIFY, inc->id, "event", inc->actions[ev - 1].target, s))
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
	struct incident *inc = incident_mgr_find(r->im, d->inc);
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
		record_undo(r, inc, d->action, "result", d->target, result, d->detail, d->undo,
			    false);
		if (d->err) {
			log_err("incident %s: %s %s failed: %s", inc->id, d->action, d->target, d->detail);
		} else {
			log_info("incident %s: %s %s: %s", inc->id, d->action, d->target, d->detail);
			if (strcmp(d->action, "event") &&
			    api_state(inc, d->action, d->target, &intent) == API_ACTIVE)
				record_contained(r, inc, d->action,
						 intent_field(inc, intent, "rule", rule,
							      sizeof(rule)));
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

	for (inc = incident_mgr_first(r->im); inc; inc = inc->next) {
		for (i = 0; i < inc->nactions; i++) {
			const struct inc_action *a = &inc->actions[i];
			uint32_t act = (uint32_t)action_from_name(a->action);
			size_t intent = SIZE_MAX;
			bool later = false;

			if (!decide_action_is_api(act))
				continue;
			if (!strcmp(a->phase, "intent")) {
				if (api_state(inc, a->action, a->target, &intent) != API_PENDING ||
				    intent != i)
					continue;
			} else if (!strcmp(a->phase, "release") && !strcmp(a->result, "queued")) {
				/* a later release record of it: done (or given up) */
				for (j = i + 1; j < inc->nactions && !later; j++)
					later = !strcmp(inc->actions[j].phase, "release") &&
						incident_action_same(&inc->actions[j], a) &&
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
				    ? k8sact_push(r, APIQ_DO, inc->id, a->action, a->target,
						  a->detail)
				    : k8sact_push(r, APIQ_UNDO, inc->id, a->action, a->target,
						  a->undo)) {
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
