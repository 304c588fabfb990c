/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's side of the control socket (ctl.h): what a request does.
 * The agent serves it from its loop (agent/loop.c):
 *	ctl_server_poll(a->ctl, ctl_dispatch_handler, &a->ctl_ctx);
 * with a->ctl_ctx = { .r = a->resp, .im = a->im }. The handler runs on the
 * agent's thread: the responder needs no locking.
 */
#ifndef NODEGUARD_CTL_DISPATCH_H
#define NODEGUARD_CTL_DISPATCH_H

#include <cjson/cJSON.h>

#include "ctl.h"
#include "jsonw.h"

struct responder;
struct incmgr;

/*
 * The agent's handler: maps "isolate", "freeze", "kill-container" to
 * responder_manual(), "release" to responder_release_incident() (with
 * "incident") or responder_release_container() (with "container"), and
 * "status" to the agent's pid and incident counts (r may be NULL: the
 * agent runs without a responder and says so). Replies always; returns 0.
 */
int ctl_dispatch(const cJSON *req, struct responder *r, const char *who, struct jsonw *reply);

/* ctl_dispatch() as a ctl_handler_fn; ctx is a struct ctl_dispatch_ctx
 * (im, may be NULL, gives "status" its incident counts) */
struct ctl_dispatch_ctx {
	struct responder *r;
	struct incmgr *im;
};
int ctl_dispatch_handler(const cJSON *req, const char *who, struct jsonw *reply, void *ctx);

#endif
