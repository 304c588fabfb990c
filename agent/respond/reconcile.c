// SPDX-License-Identifier: Apache-2.0
/*
 * Reconcile after a restart: every action the journal says is in effect on
 * a contained incident is checked against the pinned state and re-applied
 * when it is missing, or released when its cgroup is gone; pinned
 * isolations and deny entries no incident accounts for are released when
 * their cgroup is gone, kept (and logged) otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "respond_int.h"

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
	if (s->want && cgid == s->want_cg && netaddr_cidr_eq(c, s->want))
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
	const char *rel = jget_str(u, "cgroup_path");
	char action[32], target[128], det[600], d[PATH_MAX];
	bool holds = true, alive, is_deny = !strcmp(in->action, "deny");
	int err = 0;

	snprintf(action, sizeof(action), "%s", in->action);
	snprintf(target, sizeof(target), "%s", in->target);
	if (strcmp(action, "isolate") && strcmp(action, "freeze") && !is_deny) {
		cJSON_Delete(u);
		return false; /* kill, kill-container: nothing stays in effect */
	}
	alive = is_deny && !cgid ? true : contain_cgroup_alive(r, cgid, rel);
	if (!alive) {
		const char *result;

		release_undo_one(r, in, &result, det, sizeof(det));
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

			err = contain_isolate(r, cgid, rel, 0, b, sizeof(b));
			snprintf(det, sizeof(det), "re-applied after a restart: the pinned isolation "
				 "was missing; %s", b);
		}
	} else if (!strcmp(action, "freeze")) {
		cg_dir(r, rel ? rel : "", d, sizeof(d));
		holds = rel && contain_cg_frozen_file(d, "cgroup.freeze", "1");
		if (!holds && rel) {
			char b[600];

			err = contain_freeze(r, rel, b, sizeof(b));
			snprintf(det, sizeof(det), "re-applied after a restart: cgroup.freeze was 0; %s", b);
		}
	} else {
		const cJSON *ents = cJSON_GetObjectItemCaseSensitive(u, "entries"), *e;
		const cJSON *ports;
		int missing = 0;

		cJSON_ArrayForEach(e, ents) {
			const char *s = jget_str(e, "cidr");
			struct cidr c;

			if (!s || netaddr_cidr_parse(s, &c) || !r->enf || deny_present(r, cgid, &c))
				continue;
			missing++;
			/* put it back with its ports */
			{
				struct port_range pr[NG_DENY_PORTS_MAX];
				size_t np = 0;
				const cJSON *p;
				const char *proto = jget_str(u, "protocol");

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
	struct inc_active *act = calloc(INC_MAX_ACTIONS, sizeof(*act));
	size_t i, k, na;

	if (!act)
		return -ENOMEM;
	for (inc = incident_mgr_first(r->im); inc; inc = inc->next) {
		bool any = false;

		if (inc->status != INC_CONTAINED)
			continue;
		st.incidents++;
		na = incident_actions_active(inc, act, INC_MAX_ACTIONS);
		/* reconcile_one appends records: resolve the indices first */
		for (k = 0; k < na; k++)
			if (reconcile_one(r, inc, act[k].intent, &st))
				any = true;
		if (!any)
			incident_mgr_set_status(r->im, inc, INC_RELEASED,
					  "released by reconcile: the contained cgroups are gone",
					  clock_wall_ns());
	}
	if (r->enf) {
		iso = calloc(1, sizeof(*iso));
		ds = calloc(1, sizeof(*ds));
		if (iso && ds) {
			enforcer_foreach_isolated(r->enf, iso_cb, iso);
			for (i = 0; i < iso->n; i++) {
				bool journaled = false;

				for (inc = incident_mgr_first(r->im); inc && !journaled; inc = inc->next) {
					if (inc->status != INC_CONTAINED)
						continue;
					na = incident_actions_active(inc, act, INC_MAX_ACTIONS);
					for (k = 0; k < na && !journaled; k++) {
						cJSON *u = cJSON_Parse(inc->actions[act[k].intent].detail);

						journaled = !strcmp(inc->actions[act[k].intent].action, "isolate") &&
							    jget_u64(u, "cgroup_id") == iso->cg[i];
						cJSON_Delete(u);
					}
				}
				if (journaled)
					continue;
				if (!contain_cgroup_alive(r, iso->cg[i], NULL)) {
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
				if (contain_cgroup_alive(r, ds->cg[i], NULL))
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
