/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes response actions on a pod (library; synchronous, on a
 * k8s_client): quarantine label, deny-all NetworkPolicy, ServiceAccount
 * removal from (Cluster)RoleBindings, pod deletion, Events (also
 * idempotent ones, under a name from a key).
 *
 * Every action returns 0 or -errno with a message in err[n]. Reversible
 * actions hand back an "undo" JSON string (malloc'ed, the caller frees it)
 * that k8s_act_undo() takes to restore exactly what was there:
 *   {"action":"label","namespace":..,"name":..,"key":..,"value":<ours>,"previous":"v"|null}
 *     (restored only while the label still has our value: a later
 *     quarantine of the same pod is not released by an earlier one's undo)
 *   {"action":"network-policy","kind":"NetworkPolicy","namespace":..,"name":..}
 *   {"action":"revoke-rbac","namespace":..,"service_account":..,
 *    "bindings":[{"kind":"RoleBinding"|"ClusterRoleBinding","namespace":..|"",
 *                 "name":..,"removed":[<subject objects, exactly as they were>],
 *                 "positions":[<their indexes in the subjects, ascending>],
 *                 "annotation":"nodeguard.io/revoked-<hash of ns/sa>"}]}
 * Library code: never logs or exits. Not thread-safe (like the client).
 */
#ifndef NODEGUARD_K8S_ACTIONS_H
#define NODEGUARD_K8S_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "k8s_client.h"
#include "podcache.h"

#define K8S_QUARANTINE_LABEL "nodeguard.io/quarantine"
#define K8S_INCIDENT_LABEL "nodeguard.io/incident"
#define K8S_MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define K8S_MANAGED_BY "nodeguard"

/* allowed traffic of a quarantine NetworkPolicy (egress and ingress) */
struct k8s_np_allows {
	bool dns;                     /* egress to kube-system k8s-app=kube-dns, 53 UDP+TCP */
	const char *const *namespaces;/* ingress from + egress to these namespaces */
	size_t nnamespaces;
	const char *const *cidrs;     /* ingress from + egress to these CIDRs */
	size_t ncidrs;
};

/*
 * A label value (≤ 63 chars, [A-Za-z0-9._-], alphanumeric at both ends)
 * from an incident id; "incident" if nothing usable is left.
 */
void k8s_label_value(const char *incident_id, char out[64]);

/* merge-patch metadata.labels[nodeguard.io/quarantine] = value(incident_id) */
int k8s_act_label(struct k8s_client *c, const char *ns, const char *name, const char *incident_id,
		  char **undo_out, char *err, size_t n);

/*
 * POST a NetworkPolicy "nodeguard-quarantine-<short id>" selecting the pods
 * labelled nodeguard.io/quarantine=<value>, denying all ingress and egress
 * but the allows (may be NULL). Call k8s_act_label first. 409 = exists = 0.
 */
int k8s_act_network_policy(struct k8s_client *c, const char *ns, const char *name,
			   const char *incident_id, const struct k8s_np_allows *allows,
			   char **undo_out, char *err, size_t n);

/*
 * Remove {kind: ServiceAccount, name: sa, namespace: ns} from the subjects of
 * the RoleBindings of ns and of the ClusterRoleBindings (never "system:*").
 * Optimistic concurrency: PUT with the read resourceVersion, re-read and
 * retry on conflict (3 times). The same PUT annotates the binding with what
 * was removed (nodeguard.io/revoked-<hash>: {"removed","positions"}), so a
 * second call for the same ServiceAccount returns the same undo (a retry
 * after a crash loses nothing); the undo removes the annotation. *undo_out is set when anything was removed
 * (also on a partial failure, so the caller can undo what was done); NULL
 * when nothing named the SA.
 */
int k8s_act_revoke_rbac(struct k8s_client *c, const char *ns, const char *sa, char **undo_out,
			char *err, size_t n);

/*
 * DELETE the pod (uid precondition when pod->uid is set) with
 * gracePeriodSeconds (< 0: the pod's default). -EPERM for a DaemonSet-owned
 * pod unless force_daemonset, and always for a static (mirror) pod. 404 = 0.
 */
int k8s_act_delete_pod(struct k8s_client *c, const struct pod_info *pod, long grace_seconds,
		       bool force_daemonset, char *err, size_t n);

/*
 * A core/v1 Event on the pod; type "Normal" or "Warning" (NULL: Warning).
 * reason NULL or "": "NodeGuard"; message cut to 1024 bytes (UTF-8 safe).
 * Named "<pod>.<16 random hex>": every call creates another Event.
 */
int k8s_act_event(struct k8s_client *c, const char *ns, const char *pod, const char *uid,
		  const char *reason, const char *message, const char *type, char *err, size_t n);

/*
 * The same Event, under a name that depends only on pod and key, so a call
 * retried (after a crash, a lost response) does not create a second one:
 * an Event of that name existing already (409 AlreadyExists) is 0, left as
 * it is (err says so). The name is "<pod>.<key part>", ≤ 253 chars:
 *   - a key that is a valid lowercase DNS subdomain of ≤ 128 chars is the
 *     key part as it is ("inc-42.label" -> "web.inc-42.label");
 *   - any other key (uppercase, other characters, '-'/'.' misplaced, longer)
 *     is lowercased, other characters become '-', misplaced '-'/'.' dropped,
 *     cut to 111 chars, and "-<16 hex of a 64-bit FNV-1a hash of the whole
 *     key>" appended: deterministic, and two keys that map to the same text
 *     still get two names;
 *   - the pod part is cut (and its trailing '-'/'.' dropped) to fit, never
 *     the key part.
 * key NULL or "": -EINVAL. Events expire on the apiserver (--event-ttl,
 * 1 h by default): a retry after that creates the Event again.
 */
int k8s_act_event_named(struct k8s_client *c, const char *ns, const char *pod, const char *uid,
			const char *key, const char *reason, const char *message, const char *type,
			char *err, size_t n);

/* reverse one undo document (see above) */
int k8s_act_undo(struct k8s_client *c, const char *undo_json, char *err, size_t n);

#endif
