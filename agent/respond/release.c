// SPDX-License-Identifier: Apache-2.0
/*
 * Release: lift what an incident's actions still hold (isolate, freeze,
 * deny, and through the API queue the Kubernetes actions), newest first,
 * each journaled with who released it; kills, deleted pods and Events are
 * journaled as irreversible. By incident or by container.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "respond_int.h"

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
	err = k8sact_push(r, APIQ_UNDO, inc->id, in->action, in->target, res->undo);
	if (err) {
		*result = "failed";
		*undo = NULL;
		snprintf(det, detn, "the API action queue is full: not released (%s)", strerror(-err));
		return err;
	}
	snprintf(det, detn, "sent to the API action queue");
	return 0;
}

/* undo one action in effect; det gets the error text; -errno or 0 */
int release_undo_one(struct responder *r, const struct inc_action *in, const char **result,
		     char *det, size_t detn)
{
	cJSON *u = cJSON_Parse(in->detail);
	uint64_t cgid = jget_u64(u, "cgroup_id");
	const char *rel = jget_str(u, "cgroup_path");
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
			err = contain_write_cg_file(d, "cgroup.freeze", "0");
			if (err == -ENOENT && !contain_cgroup_alive(r, cgid, rel)) {
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
				const char *s = jget_str(e, "cidr");
				struct cidr c;
				int e2;

				if (!s || netaddr_cidr_parse(s, &c)) {
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
	struct inc_active act[INC_MAX_ACTIONS];
	size_t n = incident_actions_active(inc, act, INC_MAX_ACTIONS), i;
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
		if (decide_action_is_api((uint32_t)action_from_name(in->action)))
			e = undo_api(r, inc, in, rs, &result, &u, det, sizeof(det));
		else
			e = release_undo_one(r, in, &result, det, sizeof(det));
		if (u && !(undo = strdup(u))) {
			free(action);
			free(target);
			return -ENOMEM;
		}
		snprintf(res, sizeof(res), "released by %s%s%s%s%s", who, why ? " (" : "", why ? why : "",
			 why ? ")" : "", det[0] ? ": " : "");
		strncat(res, det, sizeof(res) - strlen(res) - 1);
		/* in may move: incident_mgr_action reallocates the action array */
		record_undo(r, inc, action, "release", target, result, res, undo, false);
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
		incident_mgr_set_status(r->im, inc, INC_RELEASED, reason, clock_wall_ns());
	}
	return err;
}

int responder_release_incident(struct responder *r, const char *incident_id, const char *who,
			       char *msg, size_t msgn)
{
	struct incident *inc = incident_id && *incident_id ? incident_mgr_find_prefix(r->im, incident_id) : NULL;
	int nrel, nfail, err;

	if (!inc) {
		snprintf(msg, msgn, "no incident '%s' (or the prefix is ambiguous)",
			 incident_id ? incident_id : "");
		return -ENOENT;
	}
	if (inc->status == INC_RELEASED || inc->status == INC_CLOSED) {
		if (!incident_actions_active(inc, (struct inc_active[1]){ 0 }, 1)) {
			snprintf(msg, msgn, "incident %s is %s: nothing to release", inc->id,
				 incident_status_name(inc->status));
			return 0;
		}
	}
	err = release_incident(r, inc, who && *who ? who : "unknown", NULL, &nrel, &nfail);
	if (!nrel && !nfail)
		snprintf(msg, msgn, "incident %s: no action in effect; status %s", inc->id,
			 incident_status_name(inc->status));
	else
		snprintf(msg, msgn, "incident %s: %d action%s released%s%d failed; status %s", inc->id,
			 nrel, nrel == 1 ? "" : "s", ", ", nfail, incident_status_name(inc->status));
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
	if (r->ctr && container_cache_find_container(r->ctr, id, &ci) == 0) {
		snprintf(full, sizeof(full), "%s", ci.container_id);
		running = true;
	}
	/* incidents of the container (also when it is gone: by the journal's id) */
	for (i = incident_mgr_first(r->im); i; i = i->next) {
		const char *cid = i->attr.container_id;

		if (!cid[0] || (full[0] ? strcmp(cid, full) : strncasecmp(cid, id, idn)))
			continue;
		if (!full[0])
			snprintf(full, sizeof(full), "%s", cid);
		if (!incident_actions_active(i, (struct inc_active[1]){ 0 }, 1) &&
		    i->status != INC_CONTAINED)
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
