// SPDX-License-Identifier: Apache-2.0
/*
 * The responder's side of an incident: its action records (intent, result,
 * release: docs/incidents.md), the contained status, the target strings,
 * and which open incident a cgroup or process belongs to, keyed as the agent
 * keys it. Which earlier actions are still in effect is the incident's
 * (incident_actions_active).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "respond_int.h"

/* ---------------------------------------------------------------- records */

int record_undo(struct responder *r, struct incident *inc, const char *action, const char *phase,
		const char *target, const char *result, const char *detail, const char *undo,
		bool dry)
{
	struct inc_action a = {
		.ts_ns = clock_wall_ns(), .action = (char *)action, .phase = (char *)phase,
		.target = (char *)target, .result = (char *)result, .detail = (char *)detail,
		.undo = (char *)undo, .dry_run = dry,
	};
	int err = incident_mgr_action(r->im, inc, &a);

	if (err)
		log_err("incident %s: Failed to journal the %s of %s on %s: %s", inc->id, phase,
			action, target, strerror(-err));
	return err;
}

void record_contained(struct responder *r, struct incident *inc, const char *action,
		      const char *rule)
{
	char why[256];

	if (inc->status == INC_CONTAINED)
		return;
	snprintf(why, sizeof(why), "%s (rule %s)", action, rule);
	if (incident_mgr_set_status(r->im, inc, INC_CONTAINED, why, clock_wall_ns()))
		log_err("incident %s: Failed to journal the contained status", inc->id);
}

/* target strings: what an action acts on (docs/incidents.md) */
void record_target_str(uint32_t act, const struct resp_target *t, bool node_wide, char *buf,
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

/* ---------------------------------------------------------------- which incident */

struct incident *record_find_by_key(struct responder *r, const char *key)
{
	struct incident *i, *best = NULL;

	for (i = incident_mgr_first(r->im); i; i = i->next)
		if ((i->status == INC_OPEN || i->status == INC_CONTAINED) && !strcmp(i->key, key))
			best = i;
	return best;
}

static struct incident *find_host_by_pid(struct responder *r, uint32_t pid)
{
	struct incident *i, *best = NULL;
	size_t k;

	for (i = incident_mgr_first(r->im); i; i = i->next) {
		if ((i->status != INC_OPEN && i->status != INC_CONTAINED) || !incident_key_is_host(i->key))
			continue;
		for (k = 0; k < i->nprocs; k++)
			if (i->procs[k].pid == pid)
				best = i;
	}
	return best;
}

void record_attr_of(struct inc_attr *a, const struct ctr_info *ci, uint64_t cgid, bool is_ctr)
{
	memset(a, 0, sizeof(*a));
	a->is_container = is_ctr;
	a->cgroup_id = cgid;
	if (!ci)
		return;
	a->is_container = is_ctr || ci->is_container;
	snprintf(a->runtime, sizeof(a->runtime), "%s", container_runtime_name(ci->runtime));
	snprintf(a->container_id, sizeof(a->container_id), "%s", ci->container_id);
	snprintf(a->pod_uid, sizeof(a->pod_uid), "%s", ci->pod_uid);
	snprintf(a->qos, sizeof(a->qos), "%s", container_qos_name(ci->qos));
	snprintf(a->cgroup_path, sizeof(a->cgroup_path), "%s", ci->path);
}

/*
 * The incident of a cgroup/process, keyed as attribution keys it
 * (incident_key): a container, a container-shaped cgroup, else the host tree
 * host_key names (attribution's, when the caller has it), else the open host
 * incident that holds pid.
 */
struct incident *record_incident_for(struct responder *r, uint64_t cgid, bool hdr_container,
				     uint32_t pid, const char *host_key, struct ctr_info *ci,
				     bool *have_ci, char *key, size_t keyn)
{
	struct inc_key_of k = { .cgroup_id = cgid, .root_pid = pid };
	struct incident *inc;

	*have_ci = r->ctr && cgid && container_cache_lookup(r->ctr, cgid, ci) == 0;
	k.container_id = *have_ci ? ci->container_id : NULL;
	k.is_container = hdr_container || (*have_ci && ci->is_container);
	if (!(k.container_id && k.container_id[0]) && !k.is_container) {
		if (host_key && incident_key_is_host(host_key)) {
			snprintf(key, keyn, "%s", host_key);
			return record_find_by_key(r, key);
		}
		inc = find_host_by_pid(r, pid);
		if (inc) {
			snprintf(key, keyn, "%s", inc->key);
			return inc;
		}
	}
	incident_key(key, keyn, &k);
	return record_find_by_key(r, key);
}
