// SPDX-License-Identifier: Apache-2.0
/*
 * What the kernel enforced by itself (NG_EV_ENFORCE): a kill of a rule
 * compiled into the kernel, a connect or send refused by a deny entry or an
 * isolation. Journaled on the incident of the cgroup (or host process),
 * opening one if none is open; refusals storm-controlled per cgroup, action
 * and rule.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "evfmt.h"
#include "log.h"
#include "respond_int.h"

static const struct rule *rule_by_id(const struct responder *r, uint32_t id)
{
	if (!r->pol || !id || id > r->pol->nrules)
		return NULL;
	return &r->pol->rules[id - 1];
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

	record_attr_of(&attr, ci, cgid, is_ctr);
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
	err = r->open_incident ? r->open_incident(r->open_ctx, &d, &inc, &opened) : -ENOTSUP;
	if (err && err != -ENOSPC)
		log_err("Failed to journal the incident of a kernel enforcement: %s", strerror(-err));
	return inc;
}

static int on_kernel_kill(struct responder *r, const struct ng_event *ev, const char *host_key,
			  int64_t boot_off)
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
	inc = record_incident_for(r, ev->hdr.cgroup_id, is_ctr, ev->hdr.pid, host_key, &ci, &have_ci,
				  key, sizeof(key));
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
		decide_rates_count(r->rates, rname, clock_boot_ns());
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
			if (!storm_journal_quiet(r, inc, ACT_KILL, rname, verdict, target,
						 undo ? undo : "{}", det, dry)) {
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

static bool enfseen_same(const void *slot, const void *want)
{
	const struct enfseen *x = slot, *w = want;

	return x->cg == w->cg && x->action == w->action && x->rule_id == w->rule_id &&
	       !strcmp(x->b.inc, w->b.inc);
}

/*
 * A connect or send the kernel refused (deny entry or isolation): one
 * "enforced" record on the incident of the cgroup; QUIET_BURST a minute per
 * cgroup, action and rule, the rest counted (storm_enf_flush).
 */
static int on_kernel_refusal(struct responder *r, const struct ng_event *ev, int64_t boot_off)
{
	uint32_t rid = ev->enforce.rule_id & ~DENY_COMPILED;
	bool compiled = ev->enforce.rule_id & DENY_COMPILED;
	const struct rule *ru = rule_by_id(r, rid);
	uint64_t cg = ev->enforce.target_cgroup ? ev->enforce.target_cgroup : ev->hdr.cgroup_id;
	uint64_t now = clock_boot_ns(), when = (uint64_t)((int64_t)ev->hdr.ts_ns + boot_off);
	const char *aname = ev->enforce.action == NG_ENF_DENY ? "deny" : "isolate";
	char key[128], rname[160], target[128], det[512], ab[64], pb[8], summary[300], fp[160];
	struct enfseen want = { .cg = cg, .action = ev->enforce.action,
				.rule_id = ev->enforce.rule_id }, *e;
	struct incident *inc;
	struct ctr_info ci;
	bool have_ci, fresh;

	if (ru)
		snprintf(rname, sizeof(rname), "%s", ru->name);
	else if (rid)
		snprintf(rname, sizeof(rname), "rule-%u", rid);
	else
		snprintf(rname, sizeof(rname), "manual");
	ng_addr_str(ev->enforce.family, ev->enforce.daddr, ab, sizeof(ab));
	/* the kernel marks every enforcement record "container": only an isolation
	 * is known to be one (a node-wide deny may hit a host process) */
	inc = record_incident_for(r, cg, ev->enforce.action == NG_ENF_ISOLATE, ev->hdr.pid, NULL, &ci,
				  &have_ci, key, sizeof(key));
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

	snprintf(want.b.inc, sizeof(want.b.inc), "%s", inc->id);
	e = storm_slot(r->enf_seen, ENFSEEN_MAX, sizeof(*e), enfseen_same, &want, &fresh);
	if (fresh) {
		storm_enf_flush(r, e);
		*e = want;
	}
	if (storm_burst_minute(&e->b, now))
		storm_enf_flush(r, e);
	if (storm_burst_admit(&e->b, now, target, det))
		rec(r, inc, aname, "enforced", target, "ok", det, false);
	return 0;
}

int responder_on_enforce(struct responder *r, const struct ng_event *ev, const char *host_key)
{
	if (!ev || ev->hdr.kind != NG_EV_ENFORCE)
		return -EINVAL;
	switch (ev->enforce.action) {
	case NG_ENF_KILL:
		return on_kernel_kill(r, ev, host_key, r->boot_off);
	case NG_ENF_DENY:
	case NG_ENF_ISOLATE:
		return on_kernel_refusal(r, ev, r->boot_off);
	}
	return -EINVAL;
}
