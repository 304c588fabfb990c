/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes action queue: pod-level actions (label, network-policy,
 * revoke-rbac, delete-pod, event) and their undos run on one worker thread
 * with its own API client, so a slow or unreachable API server never stalls
 * the agent's event loop, and kernel and node actions happen at once.
 *
 * Durability is the journal's, not the queue's: the responder journals an
 * action's intent (whose detail holds every argument the action needs)
 * before pushing the job, and its result after the worker reports it. After
 * a crash or restart, intents without a result (and releases journaled as
 * "queued") are pushed again (responder_api_resume). Every action is safe to
 * apply again: the label is a merge patch, a NetworkPolicy that exists is
 * success, revoke-rbac re-reads the bindings, delete-pod has a uid
 * precondition and 404 is success, Events have deterministic names (409 is
 * success). So none is lost, and a repeat changes nothing.
 *
 * Jobs run in order (a label before the NetworkPolicy that selects it).
 * When the API server is unreachable (no response, 429, 5xx, token
 * unreadable) the head job is retried with exponential backoff and jitter
 * (0.5 s doubling to 30 s) until it succeeds or retry_max_s passes since
 * its first attempt ("gave up", journaled as failed). While the API server
 * is unreachable every waiting job, and every job pushed meanwhile, is
 * reported once as not final ("queued").
 *
 * Guard: label, network-policy and delete-pod first read the pod and refuse
 * (-EPERM) unless it is the same pod (uid) and is scheduled on this node.
 */
#ifndef NODEGUARD_APIQ_H
#define NODEGUARD_APIQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s_client.h"

enum apiq_kind {
	APIQ_DO = 0,    /* args: the intent's detail (see docs/incidents.md) */
	APIQ_UNDO,      /* args: the undo document of the action's ok result */
	APIQ_NOTIFY,    /* an Event about an action; args as APIQ_DO of "event" */
};

struct apiq_job {
	enum apiq_kind kind;
	char inc[48];
	char action[24];
	char target[300];
	const char *args;          /* JSON object; copied by apiq_push */
};

struct apiq_done {
	uint64_t seq;
	enum apiq_kind kind;
	char inc[48];
	char action[24];
	char target[300];
	int err;                   /* 0 or -errno */
	bool queued;               /* not final: the API is unreachable, retrying */
	uint32_t attempts;
	char detail[1024];         /* what happened, for the journal */
	char *undo;                /* APIQ_DO ok of a reversible action: the undo document */
};

struct apiq_opts {
	struct k8s_client *client; /* owned; used only by the worker thread */
	const char *node;          /* this node: pods elsewhere are never touched */
	size_t max;                /* jobs waiting, 0: 1024 */
	uint32_t retry_max_s;      /* 0: 86400 */
};

struct apiq;

/* starts the worker; NULL + errno (the client is freed then too) */
struct apiq *apiq_new(const struct apiq_opts *o);
/* stops the worker (after its current call); waiting jobs are dropped:
 * they are in the journal */
void apiq_free(struct apiq *q);
void apiq_set_limits(struct apiq *q, size_t max, uint32_t retry_max_s);

/* 0, -ENOSPC (full), -EINVAL (bad args), -ENOMEM */
int apiq_push(struct apiq *q, const struct apiq_job *j);
/* readable (eventfd) while results wait for apiq_drain */
int apiq_fd(const struct apiq *q);
/* hand every finished result to cb (in order), from the caller's thread */
size_t apiq_drain(struct apiq *q, void (*cb)(const struct apiq_done *d, void *ctx), void *ctx);
/* jobs waiting or running */
size_t apiq_pending(struct apiq *q);

/* is err worth retrying (the API server unreachable or overloaded)? */
bool apiq_transient(int err);

/*
 * One job, synchronously, on client c (the worker's step; exposed for the
 * tests). Fills d (err, detail, undo). node may be NULL (no node check).
 */
void apiq_exec(struct k8s_client *c, const char *node, const struct apiq_job *j,
	       struct apiq_done *d);

#endif
