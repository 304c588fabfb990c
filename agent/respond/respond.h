/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The action layer: turns a detection's rule actions into containment, with
 * guardrails, and journals every action twice (intent before, result after,
 * with what is needed to undo it). Kubernetes actions (label,
 * network-policy, revoke-rbac, delete-pod, event) slot in beside the node
 * actions here.
 *
 * Guardrails, in order: the agent's own process and cgroup are never
 * touched; host processes only when the rule's scope includes the host;
 * protected namespaces (settings.protected_namespaces) once attribution
 * knows the pod namespace; dry-run (global or per rule) records "would";
 * rate limits (per rule and global, per minute) record "suppressed".
 */
#ifndef NODEGUARD_RESPOND_H
#define NODEGUARD_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apiq.h"
#include "container.h"
#include "decode.h"
#include "enforcer.h"
#include "incident.h"
#include "podcache.h"
#include "policy.h"

struct responder;

struct responder_opts {
	const struct policy *policy;
	struct enforcer *enforcer;  /* NULL: deny and isolate fail ("no enforcer") */
	struct incmgr *incidents;
	struct container_cache *containers;
	const char *cgroup2;        /* cgroup v2 mount */
	uint32_t self_pid;
	uint64_t self_cgroup;
	/* the agent's cgroup path relative to cgroup2; NULL: read from
	 * /proc/self/cgroup. Cgroup-wide actions never touch it or an ancestor. */
	const char *self_cgroup_path;
	/* opens or joins the incident of what the responder records without a
	 * rule hit behind it (a manual action, a kernel enforcement whose task
	 * has no open incident): detection's (detect_open_incident), so incidents
	 * are made in one stage. 0 or -errno, *inc set when kept. NULL: this
	 * responder opens none (nodeguardctl's offline release). */
	int (*open_incident)(void *ctx, const struct inc_detection *d, struct incident **inc,
			     bool *opened);
	void *open_ctx;
};

/* what a detection acts on */
struct resp_target {
	uint32_t pid;
	uint64_t cgroup_id;
	bool is_container;
	const struct ctr_info *ctr;  /* NULL when the cgroup did not resolve */
	const char *pod_namespace;   /* NULL while unknown */
	const struct pod_info *pod;  /* this node's pod (pod cache), NULL while unknown */
	uint64_t wall_ns;
	const struct ng_event *ev;   /* the triggering event (connect: destination) */
};

struct responder *responder_new(const struct responder_opts *o);
void responder_free(struct responder *r);
void responder_set_policy(struct responder *r, const struct policy *p);

/* run the rule's actions for a detection on incident inc */
int responder_on_detection(struct responder *r, const struct rule *rule, struct incident *inc,
			   const struct resp_target *t);
/* the kernel enforced (NG_EV_ENFORCE): journal it on the incident of its
 * cgroup (opening one if none is open); host_key: attribution's incident key
 * of the task (a host process tree's key), or NULL */
int responder_on_enforce(struct responder *r, const struct ng_event *ev, const char *host_key);

/* by hand: "isolate", "freeze", "kill-container" on a container id (full or a
 * unique prefix of >= 12 hex chars), same guardrails and journal; opens or
 * joins the container's incident. 0, or -errno with msg set. */
int responder_manual(struct responder *r, const char *action, const char *container_id,
		     const char *who, char *incident_out, size_t incn, char *msg, size_t msgn);
/* lift isolate/freeze/deny of an incident (id or unique prefix), or of a
 * container; journals who released. 0, or -errno with msg set. */
int responder_release_incident(struct responder *r, const char *incident_id, const char *who,
			       char *msg, size_t msgn);
int responder_release_container(struct responder *r, const char *container_id, const char *who,
				char *msg, size_t msgn);

/*
 * Kubernetes actions go through q (apiq.h; NULL: none configured, they are
 * journaled as skipped, and releases of earlier ones wait as "queued" for
 * an agent that has the API). Set it before responder_api_resume.
 */
void responder_set_apiq(struct responder *r, struct apiq *q);
/* after a restart: push again the API actions whose intent has no result,
 * and the releases journaled as queued; returns how many */
size_t responder_api_resume(struct responder *r);
/* journal the results the queue's worker reported (call when apiq_fd is
 * readable, or every loop) */
size_t responder_api_poll(struct responder *r);
/* Kubernetes actions and undos waiting or running; -1 without an API */
long responder_api_pending(struct responder *r);

/* after a restart: compare the adopted pinned state with the journal's
 * contained incidents; release pins for cgroups that are gone; summary for
 * the log */
int responder_reconcile(struct responder *r, char *summary, size_t n);

/*
 * The policy's kill rules are (loaded = true) or are not compiled into the
 * kernel's maps (killrules_load succeeded). A kill rule that is compiled is
 * enforced by the kernel at the hook and journaled from its NG_EV_ENFORCE
 * record; any other kill rule (not compilable, past NG_KILL_RULES_MAX, or
 * no kernel maps) is killed from user space with pidfd_send_signal.
 * Default: not loaded.
 */
void responder_set_kernel_kill(struct responder *r, bool loaded);
/* is rule r's kill enforced in the kernel under the current policy? */
bool responder_kill_in_kernel(const struct responder *r, const struct rule *rule);

/*
 * A task of cgroup cgid ran (exec); in_container: the kernel saw it outside
 * the host's namespaces. Deny rules the kernel evaluates exactly (connect,
 * scope container, CIDRs/ports/protocol only, no exceptions, not dry-run)
 * are compiled into deny entries of every container cgroup: the ones there
 * at start or reload, and each new one here, the first time it is seen, so
 * its first matching connect is already refused. Cheap for a cgroup seen
 * before.
 */
void responder_cgroup_seen(struct responder *r, uint64_t cgid, bool in_container);
/* once a second: journal counted non-actions and refusals; drop compiled
 * entries of containers that are gone (every 30 s) */
void responder_tick(struct responder *r);

/* ------------------------------------------------------------------------
 * The guardrail decision, pure (no kernel, no journal): exposed so it is
 * tested without root (tests/unit/respond/test_respond.c).
 */
enum resp_verdict {
	RESP_DO = 0,      /* carry it out */
	RESP_WOULD,       /* dry-run (global or the rule's): journal "would" */
	RESP_SUPPRESSED,  /* a rate limit is used up: journal "suppressed by rate limit" */
	RESP_REFUSED,     /* a guardrail forbids it: self, host, protected namespace, node root */
};

/* per-rule and node-wide one-minute windows */
struct resp_rates;
struct resp_rates *decide_rates_new(void);
void decide_rates_free(struct resp_rates *rr);
/* count an action that happened without asking (the kernel killed) */
void decide_rates_count(struct resp_rates *rr, const char *rule, uint64_t now_ns);

struct resp_self {
	uint32_t pid;
	uint64_t cgroup_id;
	const char *cgroup_path;    /* relative to the cgroup2 mount; NULL unknown */
};

struct resp_case {
	uint32_t action;            /* one ACT_* bit */
	const struct rule *rule;    /* scope, dry_run; name keys the per-rule limit */
	uint32_t pid;               /* 0: no process */
	uint64_t cgroup_id;
	const char *cgroup_path;    /* relative to the cgroup2 mount; NULL unknown */
	bool is_container;
	const char *pod_namespace;  /* NULL while unknown */
	bool no_rate;               /* do not count against the rate limits (Events) */
	bool self_pod;              /* the target is the agent's own pod ($POD_NAMESPACE/$POD_NAME) */
};

/*
 * Guardrails in order: the agent itself (pid, cgroup, or for cgroup-wide
 * actions a cgroup that contains the agent), the node root and top-level
 * cgroups (cgroup-wide actions), host targets of container-scoped rules,
 * protected namespaces (fnmatch globs), dry-run (settings.dry_run or the
 * rule's dry_run: true; a rule's `false` does not override a global
 * dry-run, as in the kernel), then the per-rule and node-wide limits.
 * RESP_DO takes one token from both windows (unless no_rate). `why` says
 * what decided ("dry-run", "protected namespace kube-system", ...).
 */
enum resp_verdict decide_verdict(const struct policy_settings *s, const struct resp_self *self,
				 const struct resp_case *c, struct resp_rates *rr, uint64_t now_ns,
				 char *why, size_t n);
/* the settings.protected_namespaces glob that ns matches, or NULL */
const char *decide_namespace_protected(const struct policy_settings *s, const char *ns);
/* "ok" (RESP_DO), "would", "suppressed", "refused" */
const char *decide_verdict_result(enum resp_verdict v);
/* isolate, freeze, kill-container (act on a whole cgroup) */
bool decide_action_is_cgroup(uint32_t act);
/* label, network-policy, revoke-rbac, delete-pod, event (need the API) */
bool decide_action_is_api(uint32_t act);

#endif
