/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod cache: the pods of this node (LIST + WATCH with fieldSelector
 * spec.nodeName=<node>), indexed by container id (regular, init and
 * ephemeral containers, and the previous id of a restarted container) and by
 * pod UID, so a process is attributed from its cgroup's container id, or from
 * the cgroup's pod UID before the kubelet has reported the container.
 *
 * Deleted pods (a DELETED event, or gone from a re-list) stay resolvable for
 * a grace period, so the last events of a dying pod are still attributed,
 * then they are purged. Everything is bounded: pods, containers and labels
 * per pod, string lengths. A pod object that cannot be used (no
 * metadata.name/namespace/uid, wrong types) is counted and skipped.
 *
 * Pointers returned by lookups stay valid until the next podcache_poll,
 * podcache_apply, podcache_expire or podcache_free. Single-threaded.
 */
#ifndef NODEGUARD_PODCACHE_H
#define NODEGUARD_PODCACHE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"
#include "k8s_client.h"
#include "k8s_watch.h"

#define POD_MAX_LABELS_DEFAULT 64
#define POD_MAX_CONTAINERS_DEFAULT 64
#define POD_MAX_PODS_DEFAULT 1024
#define POD_GRACE_MS_DEFAULT (5u * 60 * 1000)

enum pod_ctr_kind { POD_CTR_REGULAR = 0, POD_CTR_INIT, POD_CTR_EPHEMERAL };

struct pod_container {
	char name[64];
	char *image;               /* spec image (status image if the spec has none); never NULL */
	enum pod_ctr_kind kind;
	char runtime[16];          /* "containerd", "cri-o", "docker", ... ("" while unknown) */
	char id[65];               /* 64 lowercase hex from status containerID, "" while unknown */
	char prev_id[65];          /* lastState.terminated.containerID (restarted container), or "" */
};

struct pod_label {
	char *key, *value;
};

struct pod_info {
	char namespace[64];
	char name[254];
	char uid[37];
	char node[254];
	char phase[16];
	char service_account[254];
	char owner_kind[64];       /* the controller ownerReference (else the first), or "" */
	char owner_name[254];
	struct pod_label *labels;
	size_t nlabels;
	bool labels_truncated;
	struct pod_container *containers;
	size_t ncontainers;
	bool containers_truncated;
	bool terminating;          /* metadata.deletionTimestamp is set */
	bool deleted;              /* gone from the API; kept for the grace period */
	uint64_t deleted_ms;       /* CLOCK_MONOTONIC ms when it was seen gone */
};

struct podcache_opts {
	const char *node_name;     /* required with a client */
	uint32_t grace_ms;         /* deleted pods stay resolvable; default 5 min */
	size_t max_pods;           /* default 1024 */
	size_t max_containers;     /* per pod; default 64 */
	size_t max_labels;         /* per pod; default 64 */
	/* watch tuning (path and field selector are set by the cache); may be NULL */
	const struct k8s_watch_opts *watch;
	/* the watch's errors, for the caller to log; may be NULL */
	void (*on_error)(void *ctx, int err, long status, const char *msg);
	void *ctx;
};

struct podcache_stats {
	size_t pods;               /* live */
	size_t deleted;            /* in their grace period */
	size_t containers;         /* container ids indexed */
	uint64_t applied;          /* objects taken in (list items and events) */
	uint64_t malformed;        /* pod objects skipped */
	uint64_t other_node;       /* pods of another node, ignored */
	uint64_t dropped_full;     /* new pods not kept: max_pods reached */
	uint64_t purged;           /* deleted pods dropped after the grace period */
	uint64_t id_conflicts;     /* a container id already indexed to another pod */
	bool synced;               /* a LIST has completed (always, without a client) */
	struct k8s_watch_stats watch;
};

struct podcache;

/*
 * client NULL: no watch (feed it with podcache_apply; tests). The client
 * stays the caller's and must outlive the cache. NULL + errno.
 */
struct podcache *podcache_new(struct k8s_client *client, const struct podcache_opts *o);
void podcache_free(struct podcache *pc);

/* drive the watch (see k8s_watch_poll) and purge expired pods; 0 or -errno */
int podcache_poll(struct podcache *pc, int timeout_ms);
/* the watch's epoll fd (k8s_watch_fd), -EINVAL without a watch */
int podcache_fd(const struct podcache *pc);

/*
 * Take one pod object (as a watch delivers it). ADDED/MODIFIED replace the
 * pod with the same UID, DELETED marks it deleted, BOOKMARK is ignored.
 * 0, -EBADMSG (malformed: counted), -ENOSPC (full: counted), -ENOMEM,
 * -EXDEV (another node's pod: counted, ignored).
 */
int podcache_apply(struct podcache *pc, enum k8s_event_type t, const cJSON *pod);
/* a list starts / ends: pods not seen in between are marked deleted */
void podcache_list_begin(struct podcache *pc);
void podcache_list_end(struct podcache *pc);
/* purge deleted pods older than the grace period; returns how many */
size_t podcache_expire(struct podcache *pc);

/*
 * Lookups. id: the 64-hex container id (case-insensitive; a
 * "runtime://" prefix is accepted). *ctr (may be NULL) gets the container
 * index, -1 when unknown. NULL if not found.
 */
const struct pod_info *podcache_by_container(const struct podcache *pc, const char *id, int *ctr);
const struct pod_info *podcache_by_uid(const struct podcache *pc, const char *uid);
/* by namespace and name (a live pod before a deleted one); linear in the pods */
const struct pod_info *podcache_by_name(const struct podcache *pc, const char *ns,
					const char *name);
/* by container id first, then by pod UID (either may be NULL or "") */
const struct pod_info *podcache_resolve(const struct podcache *pc, const char *container_id,
					const char *pod_uid, int *ctr);

/* every pod of the cache, deleted ones (still in their grace period) too;
 * fn must not change the cache. Returns how many. */
size_t podcache_foreach(const struct podcache *pc,
			void (*fn)(const struct pod_info *p, void *ctx), void *ctx);

void podcache_get_stats(const struct podcache *pc, struct podcache_stats *out);

/*
 * The pod as one compact JSON object (for inc_attr.pod_json):
 * {"namespace","name","uid","node","service_account",
 *  "owner":{"kind","name"},"labels":{...},
 *  "container","image","container_kind" (when ctr >= 0),"deleted":true (if so)}
 */
void pod_info_json(const struct pod_info *p, int ctr, struct jsonw *w);
/* the same as a malloc'ed string; NULL on ENOMEM */
char *pod_info_json_str(const struct pod_info *p, int ctr);
/* "regular", "init", "ephemeral" */
const char *pod_ctr_kind_name(enum pod_ctr_kind k);
/*
 * Split "containerd://<64 hex>" into runtime ("containerd") and id (lowercase).
 * 0, or -EINVAL when it is not <scheme>://<64 hex>.
 */
int pod_parse_container_id(const char *s, char runtime[16], char id[65]);

#endif
