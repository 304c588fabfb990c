/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attribution, the stage between the sensors and detection: one context per
 * kernel event with everything later stages ask about its actor — the
 * process ancestry (process table), the container (cgroup id -> runtime,
 * container id, pod uid), the pod (pod cache, when Kubernetes is configured)
 * and the incident correlation key — looked up once. Detection, the
 * responder and the journal read the context; none of them looks any of it
 * up again. Never logs.
 */
#ifndef NODEGUARD_ATTRIB_H
#define NODEGUARD_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "container.h"
#include "decode.h"
#include "incident.h"
#include "proctab.h"

struct podcache;
struct pod_info;

/* the process and this many ancestors (rules look at ancestry_depth <= 64) */
#define ATTRIB_CHAIN_MAX 65

/* where attribution looks (the agent's tables; pods NULL outside a cluster) */
struct attrib_src {
	struct proctab *pt;
	struct container_cache *ctr;
	struct podcache *pods;
	uint32_t depth;            /* ancestors wanted (settings.ancestry_depth) */
};

struct attrib_ctx {
	const struct ng_event *ev;
	struct proc *chain[ATTRIB_CHAIN_MAX]; /* the actor, then its ancestors */
	size_t nchain;
	bool have_ci;              /* ci holds the cgroup's container info */
	struct ctr_info ci;
	const struct pod_info *pod; /* this node's pod, NULL while unknown */
	int cidx;                  /* the container's index in pod, -1 unknown */
	bool is_container;         /* outside the host's namespaces, or a container cgroup */
	char key[INC_KEY_MAX];     /* the incident correlation key */
};

/* the context of ev; the proctab must have applied ev already */
void attrib_event(const struct attrib_src *src, const struct ng_event *ev, struct attrib_ctx *cx);
/* the incident attribution (pod_json allocated: free it) */
void attrib_to_incident(const struct attrib_ctx *cx, struct inc_attr *attr);
/* the process tree for an incident (out: ATTRIB_CHAIN_MAX entries); how many */
size_t attrib_tree(const struct attrib_ctx *cx, struct inc_proc *out);

#endif
