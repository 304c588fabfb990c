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

#include "container.h"
#include "decode.h"
#include "enforce.h"
#include "incident.h"
#include "policy.h"

struct responder;

struct responder_opts {
	const struct policy *policy;
	struct enforcer *enforcer;
	struct incmgr *incidents;
	struct ctr_cache *containers;
	const char *cgroup2;        /* cgroup v2 mount */
	uint32_t self_pid;
	uint64_t self_cgroup;
};

/* what a detection acts on */
struct resp_target {
	uint32_t pid;
	uint64_t cgroup_id;
	bool is_container;
	const struct ctr_info *ctr;  /* NULL when the cgroup did not resolve */
	const char *pod_namespace;   /* NULL while unknown */
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
 * cgroup (opening one if none is open) */
int responder_on_enforce(struct responder *r, const struct ng_event *ev);

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

/* after a restart: compare the adopted pinned state with the journal's
 * contained incidents; release pins for cgroups that are gone; summary for
 * the log */
int responder_reconcile(struct responder *r, char *summary, size_t n);

#endif
