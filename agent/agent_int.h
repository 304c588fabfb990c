/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's private state, shared by the files that make up the agent
 * (and included by no other module):
 *   agent.c        wiring: start-up in order, the journal and Kubernetes glue,
 *                  shutdown
 *   loop.c         the main loop: one epoll set over every source, the timers
 *   agent.c        also the sensor's and the Event watch's callbacks: the
 *                  process table, attribution, then detection (detect/) or
 *                  the responder for what the kernel enforced
 *   protect.c      cgroups never contained: the agent's own, protected pods
 *   reload.c       the policy: loading it, its kill rules, SIGHUP reload
 *   ctl_dispatch.c the control socket's requests, served by the responder
 */
#ifndef NODEGUARD_AGENT_INT_H
#define NODEGUARD_AGENT_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent.h"
#include "clock.h"
#include "detect.h"
#include "ctl_dispatch.h"
#include "jsonw.h"
#include "kevents.h"
#include "policy.h"
#include "probe.h"
#include "rules.h"

struct agent {
	struct agent_opts opts;
	struct policy *pol;
	struct ng_features feat;
	struct sensor *sensor;
	struct proctab *pt;
	struct container_cache *ctr;
	struct journal *jr;
	struct incmgr *im;
	/* containment: pinned enforcement state and the action layer */
	struct enforcer *enf;      /* NULL: deny/isolate unavailable (logged) */
	struct responder *resp;
	struct ctl_server *ctl;         /* nodeguardctl's root-only Unix socket */
	struct k8s_client *kc;          /* NULL: no cluster (attribution from cgroups only) */
	struct podcache *pods;          /* this node's pods, from the API watch */
	struct kevents *kev;            /* cluster Events about them and this Node */
	struct apiq *apiq;              /* Kubernetes actions (own client, own thread) */
	uint64_t pod_err_ms;            /* last pod-watch error logged (rate limit) */
	/* pod cgroups of protected namespaces, in ng_protected and ng_enf_exempt */
	struct prot_pod { char uid[37]; uint64_t cgid; bool mark; } *prot;
	size_t nprot, capprot;
	int prot_ino;                   /* inotify on the kubelet's QoS cgroups (-1: none) */
	uint64_t prot_applied;          /* pod cache objects taken in at the last look */
	/* cluster Events of the journal's k8s detections, for kevents_seen */
	struct seen_kev { char uid[40], ns[64], name[254]; uint32_t count; } *seen;
	size_t nseen, capseen;
	struct ctl_dispatch_ctx ctl_ctx;
	uint64_t self_cgroup;      /* the agent's own cgroup id (never contained) */
	char node[256];
	int64_t boot_off;
	struct detect *det;             /* rules -> detections -> incidents -> actions */
	uint64_t events, journal_errors;
};

/* loop.c: run until *exiting (or opts.duration_s); 0, or 1 on a fatal error */
int agent_loop(struct agent *a, volatile sig_atomic_t *exiting, volatile sig_atomic_t *reload);

/* agent.c: the sensor's callback (sensor_event_fn) and the cluster Events'
 * (kevents_opts.on_event): attribution, then detection or the responder */
int agent_on_event(const struct ng_event *ev, void *ctx);
void agent_on_kevent(void *ctx, const struct kevent *ev, const struct pod_info *pod);

/* protect.c */
uint64_t self_cgroup_id(const char *cgroup2);
void protect_cgroup(struct agent *a, uint64_t cgid, const char *what);
void prot_watch(struct agent *a);
bool prot_news(struct agent *a);
void protect_free(struct agent *a);
void protect_pods(struct agent *a);
void protect_known_namespaces(struct agent *a);

/* reload.c: NULL (errors logged) or the policy at path (NULL: embedded) */
struct policy *load_policy(const char *path);
void load_kill_rules(struct agent *a, uint32_t *in_kernel, uint32_t *in_user);
void reload_policy(struct agent *a);

#endif
