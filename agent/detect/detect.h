/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Detection: observations against the policy's rules, rule hits into
 * incidents. Its input is attribution's context for a kernel event (every
 * lookup already done) or a cluster Event about one of this node's pods; its
 * output is an incident (journaled through the incident manager), one JSON
 * line per detection on stdout, and the rule's actions handed to the
 * responder with the rule, the incident and the target.
 */
#ifndef NODEGUARD_DETECT_H
#define NODEGUARD_DETECT_H

#include <stdbool.h>
#include <stdint.h>

struct attrib_ctx;
struct incmgr;
struct kevent;
struct pod_info;
struct policy;
struct responder;

struct detect_opts {
	const struct policy *policy;
	struct incmgr *incidents;
	const char *node;          /* the node's name (cluster Events about the Node) */
	int64_t boot_off;          /* realtime - boottime */
	bool quiet;                /* no JSON detection lines on stdout */
};

struct detect;

/* NULL with errno set */
struct detect *detect_new(const struct detect_opts *o);
void detect_free(struct detect *d);
/* a reloaded policy (the caller keeps it alive) */
void detect_set_policy(struct detect *d, const struct policy *p);
/* where rule actions go (set once the responder exists; NULL: none) */
void detect_set_responder(struct detect *d, struct responder *r);

/* a kernel event, through its attribution context */
void detect_event(struct detect *d, const struct attrib_ctx *cx);
/* a cluster Event about this node's pod (pod NULL: about the Node) */
void detect_kevent(struct detect *d, const struct kevent *ev, const struct pod_info *pod);
/*
 * Open or join the incident of something the responder records with no rule
 * hit behind it (responder_opts.open_incident; ctx is the struct detect):
 * every incident is made here, in one stage. 0 or -errno, *inc when kept.
 */
struct inc_detection;
struct incident;
int detect_open_incident(void *ctx, const struct inc_detection *det, struct incident **inc,
			 bool *opened);
/* detections so far */
uint64_t detect_count(const struct detect *d);

#endif
