/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster Events (core/v1) about this node: its pods and its Node object.
 *
 * Two watches through k8s_watch:
 *   /api/v1/events  fieldSelector involvedObject.kind=Pod[,type=Warning]
 *     every namespace; kept only when involvedObject resolves through the
 *     pod cache (by involvedObject.uid, or namespace/name when the uid is
 *     absent) to a pod of this node. spec.nodeName is not an Event field, so
 *     this filter is client-side (see docs/k8s-events.md for the cost).
 *   /api/v1/events  fieldSelector involvedObject.kind=Node,
 *                   involvedObject.name=<node>[,type=Warning]
 *
 * Each kept Event is normalized into struct kevent (bounded strings) and
 * handed to a callback, once per (event uid, count): a re-list or a MODIFIED
 * event that does not raise the count (an annotation change) is a duplicate;
 * a higher count (the event repeated) is delivered again with that count.
 * Objects that cannot be used (no metadata.name/namespace, no reason or
 * involvedObject, wrong types) are counted as malformed and skipped.
 *
 * Until the pod cache has completed its first LIST, a Pod Event whose pod
 * it does not know yet is held back (up to KEV_PARK_MAX) and decided once
 * it has: the two watches start together, and the Events' LIST may come
 * first. kevents_seen() tells it what a previous agent delivered (from the
 * journal), so a restart does not report those Events again when the LIST
 * returns them.
 *
 * Library code: never logs, never exits. Single-threaded. The pod cache is
 * the caller's; the caller polls it (podcache_poll) as well.
 */
#ifndef NODEGUARD_KEVENTS_H
#define NODEGUARD_KEVENTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s_client.h"
#include "k8s_watch.h"
#include "podcache.h"
#include "nodeguard/event.h"
#include "policy.h"
#include "rules.h"

#define KEV_DEDUP_DEFAULT 4096
/* Pod Events held back until the pod cache's first LIST completes */
#define KEV_PARK_MAX 2048

struct kevent {
	char namespace[64];        /* the Event's own metadata */
	char name[254];
	char uid[40];
	char reason[128];
	char type[16];             /* "Normal", "Warning" (as sent; may be "") */
	char message[1024];        /* may be ""; cut at the bound */
	bool message_truncated;
	char kind[64];             /* involvedObject */
	char obj_name[254];
	char obj_uid[40];
	char obj_namespace[64];
	char field_path[128];      /* involvedObject.fieldPath, e.g. "spec.containers{app}" */
	uint32_t count;            /* count, else series.count, else 1 */
	int64_t first_ms;          /* unix ms; 0 when unknown */
	int64_t last_ms;
	const char *last_from;     /* "lastTimestamp", "eventTime", "firstTimestamp",
				      "creationTimestamp" or "" (static string) */
	char source_component[128];/* source.component, else reportingComponent */
	char source_host[254];
	bool node_event;           /* about this Node object (pod NULL) */
};

/* pod: the pod of this node the event is about; NULL for a Node event */
typedef void (*kevents_fn)(void *ctx, const struct kevent *ev, const struct pod_info *pod);

struct kevents_opts {
	const char *node_name;     /* required */
	bool warning_only;         /* add type=Warning to both field selectors */
	bool no_node_watch;        /* only the pod events */
	size_t max_dedup;          /* (uid,count) remembered; default KEV_DEDUP_DEFAULT */
	const struct k8s_watch_opts *watch; /* tuning (path and selectors are set here); may be NULL */
	kevents_fn on_event;       /* required */
	void (*on_error)(void *ctx, int err, long status, const char *msg); /* may be NULL */
	void *ctx;
};

struct kevents_stats {
	uint64_t received;         /* objects taken in (list items and watch events) */
	uint64_t delivered;
	uint64_t node_events;      /* of delivered: about the Node */
	uint64_t duplicates;       /* same uid and count already delivered (or lower) */
	uint64_t other_node;       /* pod not in the cache / another node's Node */
	uint64_t malformed;
	uint64_t ignored;          /* DELETED and BOOKMARK */
	struct k8s_watch_stats pods_watch, node_watch;
};

struct kevents;

/*
 * client NULL: no watches (feed objects with kevents_apply; tests). pc may
 * be NULL: then no pod event resolves. Both stay the caller's and must
 * outlive this. NULL + errno.
 */
struct kevents *kevents_new(struct k8s_client *client, struct podcache *pc,
			    const struct kevents_opts *o);
void kevents_free(struct kevents *k);

/* an Event delivered before (by uid, else namespace/name) with this count:
 * not delivered again unless its count rises; 0 or -EINVAL */
int kevents_seen(struct kevents *k, const char *uid, const char *ns, const char *name,
		 uint32_t count);

/* drive both watches; waits up to timeout_ms (0: never blocks); 0 or -errno */
int kevents_poll(struct kevents *k, int timeout_ms);
/* one epoll fd covering both watches (readable when kevents_poll has work); -EINVAL without watches */
int kevents_fd(const struct kevents *k);

/*
 * Take one Event object as a watch delivers it. node_watch: it came from the
 * Node watch. 1 delivered, 0 filtered (duplicate, other node, DELETED,
 * BOOKMARK), -EBADMSG malformed (counted).
 */
int kevents_apply(struct kevents *k, enum k8s_event_type t, const cJSON *ev, bool node_watch);

/* the field selectors used (for logs and docs); buf gets "" without a node */
void kevents_pod_selector(bool warning_only, char *buf, size_t n);
void kevents_node_selector(const char *node, bool warning_only, char *buf, size_t n);

void kevents_get_stats(const struct kevents *k, struct kevents_stats *out);

/*
 * Parse an RFC 3339 time ("2024-05-01T10:00:00Z", fractional seconds and
 * +hh:mm offsets accepted) into unix ms. 0 or -EINVAL.
 */
int kevent_parse_time(const char *s, int64_t *ms);

/*
 * Fill o (zeroed first) for rules_eval: events RE_K8S_EVENT, is_container
 * for pod events, pod_namespace, k8s_reason/type/kind/message (message ""
 * when empty) and the image of the container named by fieldPath when the pod
 * knows it. o points into ev and pod: it is valid while they are.
 */
void kevent_to_obs(const struct kevent *ev, const struct pod_info *pod, struct obs *o);

/*
 * Does every enabled rule that sees k8s-event require k8s_type Warning (and
 * nothing else)? Then kevents_opts.warning_only loses nothing. Also true
 * when no rule sees k8s-event (see kevents_policy_wants_events).
 */
bool kevents_policy_warning_only(const struct policy *p);
/* does any enabled rule see k8s-event? */
bool kevents_policy_wants_events(const struct policy *p);

#endif
