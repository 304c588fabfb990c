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

/* ---------------------------------------------------------------- slots */

/*
 * The slot of the n at slots (size bytes each, a struct burst first) that
 * same() finds like want, else the least recently used one, with *fresh
 * set (the caller flushes it and makes it want).
 */
void *storm_slot(void *slots, size_t n, size_t size, bool (*same)(const void *slot, const void *want),
		 const void *want, bool *fresh)
{
	char *p = slots, *lru = slots;
	size_t i;

	*fresh = false;
	for (i = 0; i < n; i++, p += size) {
		const struct burst *x = (const struct burst *)p;

		if (x->last_use && same(p, want))
			return p;
		if (x->last_use < ((const struct burst *)lru)->last_use)
			lru = p;
	}
	*fresh = true;
	return lru;
}

/* b used at now: true when a new minute starts (the caller flushes the count of the last) */
bool storm_burst_minute(struct burst *b, uint64_t now)
{
	b->last_use = now ? now : 1;
	if (b->win_start && now - b->win_start < QUIET_WINDOW_NS)
		return false;
	b->win_start = now ? now : 1;
	b->in_win = 0;
	return true;
}

/* one more record: true to journal it now, false when it is counted (its target and det kept) */
bool storm_burst_admit(struct burst *b, uint64_t now, const char *target, const char *det)
{
	if (b->in_win < QUIET_BURST) {
		b->in_win++;
		return true;
	}
	if (!b->hidden) {
		b->hidden_mono = now;
		b->hidden_wall = clock_wall_ns();
	}
	b->hidden++;
	snprintf(b->target, sizeof(b->target), "%s", target);
	snprintf(b->det, sizeof(b->det), "%s", det);
	return false;
}

/* the detail of a count's record: the last one's, and how many more since when */
static void burst_det(const struct burst *b, char *det, size_t n)
{
	char t[32];

	snprintf(det, n, "%s", b->det);
	if (b->hidden > 1)
		snprintf(det + strlen(det), n - strlen(det), " (%u more since %s)", b->hidden - 1,
			 clock_rfc3339(b->hidden_wall, 0, t, sizeof(t)));
}

/* ---------------------------------------------------------------- non-actions */

/* journal the counted non-actions of q as one intent/result pair */
void storm_quiet_flush(struct responder *r, struct quiet *q)
{
	struct incident *inc;
	char det[700];

	if (!q->b.hidden)
		return;
	inc = incident_mgr_find(r->im, q->b.inc);
	if (inc && have_room(inc)) {
		burst_det(&q->b, det, sizeof(det));
		rec(r, inc, action_name(q->action), "intent", q->b.target, "",
		    q->undo ? q->undo : "{}", q->dry);
		rec(r, inc, action_name(q->action), "result", q->b.target, verdict_result(q->verdict),
		    det, q->dry);
	} else {
		log_warn("incident %s: %u %s records of %s (rule %s) not journaled: no room", q->b.inc,
			 q->b.hidden, verdict_result(q->verdict), action_name(q->action), q->rule);
	}
	q->b.hidden = 0;
	free(q->undo);
	q->undo = NULL;
}

static bool quiet_same(const void *slot, const void *want)
{
	const struct quiet *x = slot, *w = want;

	return x->action == w->action && x->verdict == w->verdict && !strcmp(x->b.inc, w->b.inc) &&
	       !strcmp(x->rule, w->rule);
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
	struct quiet want = { .action = action, .verdict = verdict }, *q;
	uint64_t now = clock_boot_ns();
	bool fresh;

	snprintf(want.b.inc, sizeof(want.b.inc), "%s", inc->id);
	snprintf(want.rule, sizeof(want.rule), "%s", rule);
	q = storm_slot(r->quiet, QUIET_MAX, sizeof(*q), quiet_same, &want, &fresh);
	if (fresh) {
		storm_quiet_flush(r, q);
		*q = want;
	}
	if (storm_burst_minute(&q->b, now))
		storm_quiet_flush(r, q);
	if (storm_burst_admit(&q->b, now, target, det)) {
		rec(r, inc, action_name(action), "intent", target, "", undo, dry);
		rec(r, inc, action_name(action), "result", target, verdict_result(verdict), det, dry);
		return true;
	}
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
	char det[700];

	if (!e->b.hidden)
		return;
	inc = incident_mgr_find(r->im, e->b.inc);
	if (inc && have_room(inc)) {
		burst_det(&e->b, det, sizeof(det));
		rec(r, inc, e->action == NG_ENF_DENY ? "deny" : "isolate", "enforced", e->b.target,
		    "ok", det, false);
	}
	e->b.hidden = 0;
}
