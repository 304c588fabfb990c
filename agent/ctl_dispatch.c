// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's handler of control-socket requests: manual actions and
 * releases through the responder (its guardrails and journal), and "status".
 * The socket itself is ctl.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl_dispatch.h"
#include "incident.h"
#include "jsonget.h"
#include "respond.h"

static bool is_manual_cmd(const char *cmd)
{
	return !strcmp(cmd, "isolate") || !strcmp(cmd, "freeze") || !strcmp(cmd, "kill-container");
}

static void reply_status(struct responder *r, struct incmgr *im, struct jsonw *w)
{
	uint64_t open = 0, contained = 0;
	const struct incident *i;
	char msg[320];
	long api;
	int len;

	len = snprintf(msg, sizeof(msg), "nodeguard is running (pid %d)", (int)getpid());
	if (im) {
		for (i = incident_mgr_first(im); i; i = i->next) {
			open += i->status == INC_OPEN;
			contained += i->status == INC_CONTAINED;
		}
		len += snprintf(msg + len, sizeof(msg) - (size_t)len,
				": %llu open incidents, %llu contained", (unsigned long long)open,
				(unsigned long long)contained);
	}
	api = r ? responder_api_pending(r) : -1;
	if (api >= 0 && len > 0 && (size_t)len < sizeof(msg))
		len += snprintf(msg + len, sizeof(msg) - (size_t)len,
				"; %ld Kubernetes action%s waiting for the API server", api,
				api == 1 ? "" : "s");
	if (!r && len > 0 && (size_t)len < sizeof(msg))
		snprintf(msg + len, sizeof(msg) - (size_t)len,
			 "; enforcement is not available (no responder)");
	jsonw_obj_open(w);
	jsonw_kv_bool(w, "ok", true);
	jsonw_kv_str(w, "message", msg);
	jsonw_kv_i64(w, "pid", getpid());
	jsonw_kv_bool(w, "responder", r != NULL);
	if (im) {
		jsonw_kv_u64(w, "open", open);
		jsonw_kv_u64(w, "contained", contained);
	}
	if (api >= 0)
		jsonw_kv_i64(w, "api_actions_waiting", api);
	jsonw_obj_close(w);
}

static int dispatch(const cJSON *req, struct responder *r, struct incmgr *im, const char *who,
		    struct jsonw *w)
{
	char inc[48] = "", msg[512] = "", m[160];
	const char *cmd, *ctr, *id;
	bool bad = false;
	int err;

	cmd = jget_str_check(req, "cmd", &bad);
	ctr = jget_str_check(req, "container", &bad);
	id = jget_str_check(req, "incident", &bad);
	if (bad) {
		ctl_reply(w, false, NULL, "malformed request: \"cmd\", \"container\" and \"incident\" "
					  "must be strings");
		return 0;
	}
	if (!cmd) {
		ctl_reply(w, false, NULL,
			  "missing \"cmd\" (isolate, freeze, kill-container, release, status)");
		return 0;
	}
	if (!strcmp(cmd, "status")) {
		reply_status(r, im, w);
		return 0;
	}
	if (!is_manual_cmd(cmd) && strcmp(cmd, "release")) {
		ctl_reply(w, false, NULL,
			  "unknown \"cmd\" (want isolate, freeze, kill-container, release or status)");
		return 0;
	}
	if (ctr && !ctl_valid_container_id(ctr)) {
		ctl_reply(w, false, NULL,
			  "\"container\": want the full container id or a unique prefix of it, "
			  "12 to 64 lowercase hex digits");
		return 0;
	}
	if (id && !ctl_valid_incident_id(id)) {
		ctl_reply(w, false, NULL, "\"incident\": not an incident id");
		return 0;
	}
	if (is_manual_cmd(cmd)) {
		if (!ctr || id) {
			snprintf(m, sizeof(m), "%s needs \"container\" (and no \"incident\")", cmd);
			ctl_reply(w, false, NULL, m);
			return 0;
		}
	} else if (!ctr == !id) {
		ctl_reply(w, false, NULL, "release needs either \"incident\" or \"container\"");
		return 0;
	}
	if (!r) {
		ctl_reply(w, false, NULL, "the agent runs without a responder (enforcement is not "
					  "available on this node): nothing was done");
		return 0;
	}
	if (is_manual_cmd(cmd))
		err = responder_manual(r, cmd, ctr, who, inc, sizeof(inc), msg, sizeof(msg));
	else if (id)
		err = responder_release_incident(r, id, who, msg, sizeof(msg));
	else
		err = responder_release_container(r, ctr, who, msg, sizeof(msg));
	if (!*msg)
		snprintf(msg, sizeof(msg), "%s", err ? strerror(-err) : "done");
	ctl_reply(w, err == 0, *inc ? inc : id, msg);
	return 0;
}

int ctl_dispatch(const cJSON *req, struct responder *r, const char *who, struct jsonw *reply)
{
	return dispatch(req, r, NULL, who, reply);
}

int ctl_dispatch_handler(const cJSON *req, const char *who, struct jsonw *reply, void *ctx)
{
	struct ctl_dispatch_ctx *d = ctx;

	return dispatch(req, d ? d->r : NULL, d ? d->im : NULL, who, reply);
}
