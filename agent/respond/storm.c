// SPDX-License-Identifier: Apache-2.0
/*
 * Storm control of the responder's records. An action already in effect on
 * the incident is not done again (record_in_effect); "would",
 * "suppressed", "refused" outcomes of the same rule and action on one
 * incident are journaled once a minute with a count of the ones in between;
 * kernel refusals (deny/isolate) likewise. A few action slots of every
 * incident are kept for release records (have_room).
 *
 * The counted records are journaled here, by responder_tick within
 * QUIET_FLUSH_NS, or when the responder is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "respond_int.h"

static const char *verb(uint32_t act)
{
	switch (act) {
	case ACT_KILL: return "kill";
	case ACT_DENY: return "deny";
	case ACT_ISOLATE: return "isolate";
	case ACT_FREEZE: return "freeze";
	case ACT_KILL_CONTAINER: return "kill the container";
	default: return action_name(act);
	}
}

static const char *verdict_result(int v)
{
	return decide_verdict_result((enum resp_verdict)v);
}

/* journal the counted non-actions of q as one intent/result pair */
void storm_quiet_flush(struct responder *r, struct quiet *q)
{
	struct incident *inc;
	char det[700], t[32];

	if (!q->hidden)
		return;
	inc = incident_mgr_find(r->im, q->inc);
	if (inc && have_room(inc)) {
		snprintf(det, sizeof(det), "%s", q->det);
		if (q->hidden > 1)
			snprintf(det + strlen(det), sizeof(det) - strlen(det), " (%u more since %s)",
				 q->hidden - 1, clock_rfc3339(q->hidden_wall, 0, t, sizeof(t)));
		rec(r, inc, action_name(q->action), "intent", q->target, "", q->undo ? q->undo : "{}",
		    q->dry);
		rec(r, inc, action_name(q->action), "result", q->target, verdict_result(q->verdict), det,
		    q->dry);
	} else {
		log_warn("incident %s: %u %s records of %s (rule %s) not journaled: no room", q->inc,
			 q->hidden, verdict_result(q->verdict), action_name(q->action), q->rule);
	}
	q->hidden = 0;
	free(q->undo);
	q->undo = NULL;
}

/*
 * A non-action (would / suppressed / refused): journal it as an intent and
 * a result, unless QUIET_BURST like it were journaled on this incident in
 * the last minute; then count it (storm_quiet_flush journals the count).
 * true if it was journaled now (the caller logs only those).
 */
bool storm_journal_quiet(struct responder *r, struct incident *inc, uint32_t action,
			 const char *rule, int verdict, const char *target, const char *undo,
			 const char *det, bool dry)
{
	struct quiet *q = NULL, *lru = &r->quiet[0];
	uint64_t now = clock_boot_ns();
	size_t i;

	for (i = 0; i < QUIET_MAX; i++) {
		struct quiet *x = &r->quiet[i];

		if (x->last_use && x->action == action && x->verdict == verdict &&
		    !strcmp(x->inc, inc->id) && !strncmp(x->rule, rule, sizeof(x->rule) - 1)) {
			q = x;
			break;
		}
		if (x->last_use < lru->last_use)
			lru = x;
	}
	if (!q) {
		q = lru;
		storm_quiet_flush(r, q);
		memset(q, 0, sizeof(*q));
		snprintf(q->inc, sizeof(q->inc), "%s", inc->id);
		snprintf(q->rule, sizeof(q->rule), "%s", rule);
		q->action = action;
		q->verdict = verdict;
	}
	q->last_use = now ? now : 1;
	if (!q->win_start || now - q->win_start >= QUIET_WINDOW_NS) {
		storm_quiet_flush(r, q);
		q->win_start = now ? now : 1;
		q->in_win = 0;
	}
	if (q->in_win < QUIET_BURST) {
		q->in_win++;
		rec(r, inc, action_name(action), "intent", target, "", undo, dry);
		rec(r, inc, action_name(action), "result", target, verdict_result(verdict), det, dry);
		return true;
	}
	if (!q->hidden) {
		q->hidden_mono = now;
		q->hidden_wall = clock_wall_ns();
	}
	q->hidden++;
	snprintf(q->target, sizeof(q->target), "%s", target);
	snprintf(q->det, sizeof(q->det), "%s", det);
	free(q->undo);
	q->undo = strdup(undo ? undo : "{}");
	q->dry = dry;
	return false;
}

/* a decision other than RESP_DO: journaled (storm-controlled), logged, said */
static enum outcome storm_journal_verdict(struct responder *r, struct incident *inc, uint32_t act,
				   const struct rule *ru, enum resp_verdict v, const char *target,
				   const char *undo, const char *why, char *msg, size_t msgn)
{
	char det[768];

	if (v == RESP_WOULD)
		snprintf(det, sizeof(det), "would %s (dry-run)", verb(act));
	else if (v == RESP_SUPPRESSED)
		snprintf(det, sizeof(det), "suppressed by rate limit (%s)", why);
	else
		snprintf(det, sizeof(det), "refused: %s", why);
	if (storm_journal_quiet(r, inc, act, ru->name, (int)v, target, undo, det, v == RESP_WOULD))
		log_info("incident %s: %s %s (rule %s): %s", inc->id, action_name(act), target,
			 ru->name, det);
	if (msg)
		snprintf(msg, msgn, "%s", det);
	return v == RESP_WOULD ? O_WOULD : v == RESP_SUPPRESSED ? O_SUPPRESSED : O_REFUSED;
}

/*
 * The guardrails on an action (decide_verdict, with the responder's
 * settings, self and rates): true when it may go ahead; otherwise the
 * verdict is journaled as above and *out says what became of the action.
 */
bool storm_decide(struct responder *r, const struct resp_case *c, struct incident *inc,
		  uint32_t act, const struct rule *ru, const char *target, const char *undo,
		  enum outcome *out, char *msg, size_t msgn)
{
	char why[256];
	enum resp_verdict v = decide_verdict(r->pol ? &r->pol->settings : NULL, &r->self, c,
					     r->rates, clock_boot_ns(), why, sizeof(why));

	if (v == RESP_DO)
		return true;
	*out = storm_journal_verdict(r, inc, act, ru, v, target, undo, why, msg, msgn);
	return false;
}

/* journal the counted refusals of e as one "enforced" record */
void storm_enf_flush(struct responder *r, struct enfseen *e)
{
	struct incident *inc;
	char det[700], t[32];

	if (!e->hidden)
		return;
	inc = incident_mgr_find(r->im, e->inc);
	if (inc && have_room(inc)) {
		snprintf(det, sizeof(det), "%s", e->det);
		if (e->hidden > 1)
			snprintf(det + strlen(det), sizeof(det) - strlen(det), " (%u more since %s)",
				 e->hidden - 1, clock_rfc3339(e->hidden_wall, 0, t, sizeof(t)));
		rec(r, inc, e->action == NG_ENF_DENY ? "deny" : "isolate", "enforced", e->target, "ok",
		    det, false);
	}
	e->hidden = 0;
}
