// SPDX-License-Identifier: Apache-2.0
/*
 * Incidents, the model and the manager: detections correlated per key
 * (container, cgroup or host process tree) within the window, the timeline
 * with repeats, the process tree, categories and severity escalation,
 * actions and status, closing idle incidents. Each change is journaled as
 * one delta record; the records, their JSON and their replay are in
 * incident_journal.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "errptr.h"
#include "incident_int.h"

static const char *const status_names[] = { "open", "contained", "released", "closed" };

const char *incident_status_name(enum inc_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "unknown";
}

int incident_status_from_name(const char *s)
{
	int i;

	for (i = 0; s && i < 4; i++)
		if (!strcmp(s, status_names[i]))
			return i;
	return -1;
}

/* ---------------------------------------------------------------- freeing */

void incident_proc_clear(struct inc_proc *p)
{
	free(p->exe);
	free(p->cmdline);
	memset(p, 0, sizeof(*p));
}

void incident_entry_clear(struct inc_entry *e)
{
	size_t i;

	free(e->source);
	free(e->rule);
	free(e->category);
	for (i = 0; i < e->nmitre; i++)
		free(e->mitre[i]);
	free(e->mitre);
	free(e->summary);
	free(e->fingerprint);
	free(e->event_json);
	memset(e, 0, sizeof(*e));
}

void incident_action_clear(struct inc_action *a)
{
	free(a->action);
	free(a->phase);
	free(a->target);
	free(a->result);
	free(a->detail);
	free(a->undo);
	memset(a, 0, sizeof(*a));
}

static void attr_clear(struct inc_attr *a)
{
	free(a->pod_namespace);
	free(a->pod_name);
	free(a->pod_json);
	memset(a, 0, sizeof(*a));
}

void incident_free(struct incident *inc)
{
	size_t i;

	if (!inc)
		return;
	free(inc->node);
	free(inc->severity_reason);
	attr_clear(&inc->attr);
	for (i = 0; i < inc->nprocs; i++)
		incident_proc_clear(&inc->procs[i]);
	free(inc->procs);
	for (i = 0; i < inc->nentries; i++)
		incident_entry_clear(&inc->entries[i]);
	free(inc->entries);
	for (i = 0; i < inc->nactions; i++)
		incident_action_clear(&inc->actions[i]);
	free(inc->actions);
	for (i = 0; i < inc->ncats; i++)
		free(inc->cats[i]);
	free(inc);
}

/* ---------------------------------------------------------------- manager */

struct incmgr *incident_mgr_new(const struct incident_mgr_opts *o)
{
	struct incmgr *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->node = strdup(o->node ? o->node : "");
	if (!m->node) {
		free(m);
		return errno_null(ENOMEM);
	}
	m->window_s = o->window_s ? o->window_s : 600;
	m->write = o->write;
	m->write_ctx = o->write_ctx;
	jsonw_init(&m->w);
	return m;
}

void incident_mgr_free(struct incmgr *m)
{
	struct incident *i, *n;

	if (!m)
		return;
	for (i = m->head; i; i = n) {
		n = i->next;
		incident_free(i);
	}
	free(m->node);
	jsonw_free(&m->w);
	free(m);
}

void incident_mgr_set_window(struct incmgr *m, uint32_t window_s)
{
	if (window_s)
		m->window_s = window_s;
}

void incident_link(struct incmgr *m, struct incident *inc)
{
	inc->next = NULL;
	if (m->tail)
		m->tail->next = inc;
	else
		m->head = inc;
	m->tail = inc;
}

struct incident *incident_mgr_find(struct incmgr *m, const char *id)
{
	struct incident *i;

	for (i = m->head; i; i = i->next)
		if (!strcmp(i->id, id))
			return i;
	return NULL;
}

struct incident *incident_mgr_find_prefix(struct incmgr *m, const char *prefix)
{
	struct incident *i, *hit = NULL;
	size_t n = strlen(prefix);

	if (!n)
		return NULL;
	for (i = m->head; i; i = i->next) {
		if (!strcmp(i->id, prefix))
			return i;
		if (!strncmp(i->id, prefix, n)) {
			if (hit)
				return NULL; /* ambiguous */
			hit = i;
		}
	}
	return hit;
}

struct incident *incident_mgr_first(struct incmgr *m)
{
	return m->head;
}

size_t incident_mgr_count(const struct incmgr *m, bool open_only)
{
	const struct incident *i;
	size_t n = 0;

	for (i = m->head; i; i = i->next)
		if (!open_only || i->status == INC_OPEN || i->status == INC_CONTAINED)
			n++;
	return n;
}

/* ---------------------------------------------------------------- mutation */

void incident_add_category(struct incident *inc, const char *cat)
{
	size_t i;

	/* "response" marks a responder's own entries (nodeguardctl isolate, ...):
	 * not a step of the attack, so not part of the category chain */
	if (!cat || !*cat || !strcmp(cat, "response"))
		return;
	for (i = 0; i < inc->ncats; i++)
		if (!strcmp(inc->cats[i], cat))
			return;
	if (inc->ncats < INC_MAX_CATS) {
		inc->cats[inc->ncats] = strdup(cat);
		if (inc->cats[inc->ncats])
			inc->ncats++;
	}
}

/*
 * Severity: the highest single detection, one step up when the timeline
 * chains two categories (e.g. execution -> privilege_escalation) and another
 * when it chains three or more. Capped at critical.
 */
static enum ng_severity escalate(const struct incident *inc, char *why, size_t n)
{
	int s = inc->max_detection, steps = (inc->ncats >= 2) + (inc->ncats >= 3);
	size_t i, off = 0;

	s += steps;
	if (s > SEV_CRITICAL)
		s = SEV_CRITICAL;
	if (why && n) {
		why[0] = '\0';
		if (steps) {
			off += (size_t)snprintf(why, n, "chain of %zu categories: ", inc->ncats);
			for (i = 0; i < inc->ncats && off < n; i++)
				off += (size_t)snprintf(why + off, n - off, "%s%s", i ? " -> " : "",
							inc->cats[i]);
		} else {
			snprintf(why, n, "highest detection");
		}
	}
	return (enum ng_severity)s;
}

int incident_add_proc(struct incident *inc, const struct inc_proc *p, bool *added)
{
	size_t i;
	struct inc_proc *np;

	*added = false;
	for (i = 0; i < inc->nprocs; i++)
		if (inc->procs[i].pid == p->pid && inc->procs[i].start_ns == p->start_ns)
			return 0;
	if (inc->nprocs >= INC_MAX_PROCS) {
		inc->procs_dropped++;
		return 0;
	}
	np = realloc(inc->procs, (inc->nprocs + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	inc->procs = np;
	np = &inc->procs[inc->nprocs];
	*np = *p;
	np->exe = xstrdup(p->exe ? p->exe : "");
	np->cmdline = xstrdup(p->cmdline ? p->cmdline : "");
	inc->nprocs++;
	*added = true;
	return 0;
}

int incident_add_entry(struct incident *inc, struct inc_entry *e)
{
	struct inc_entry *ne;

	if (inc->nentries >= INC_MAX_ENTRIES) {
		inc->entries_dropped++;
		incident_entry_clear(e);
		return -ENOSPC;
	}
	ne = realloc(inc->entries, (inc->nentries + 1) * sizeof(*ne));
	if (!ne) {
		incident_entry_clear(e);
		return -ENOMEM;
	}
	inc->entries = ne;
	inc->entries[inc->nentries++] = *e;
	return 0;
}

int incident_add_action(struct incident *inc, struct inc_action *a)
{
	struct inc_action *na;

	if (inc->nactions >= INC_MAX_ACTIONS) {
		incident_action_clear(a);
		return -ENOSPC;
	}
	na = realloc(inc->actions, (inc->nactions + 1) * sizeof(*na));
	if (!na) {
		incident_action_clear(a);
		return -ENOMEM;
	}
	inc->actions = na;
	inc->actions[inc->nactions++] = *a;
	return 0;
}

/* ---------------------------------------------------------------- detect */

static void new_id(char *buf, size_t n, uint64_t wall_ns)
{
	time_t s = (time_t)(wall_ns / 1000000000ull);
	unsigned char r[4] = { 0 };
	struct tm tm;
	char t[32];

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
		uint64_t x = wall_ns ^ (uint64_t)clock();

		memcpy(r, &x, sizeof(r));
	}
	gmtime_r(&s, &tm);
	strftime(t, sizeof(t), "%Y%m%d-%H%M%S", &tm);
	snprintf(buf, n, "ng-%s-%02x%02x%02x%02x", t, r[0], r[1], r[2], r[3]);
}

static struct incident *find_open(struct incmgr *m, const char *key, uint64_t now)
{
	struct incident *i, *best = NULL;

	for (i = m->head; i; i = i->next) {
		if (i->status == INC_CLOSED || i->status == INC_RELEASED || strcmp(i->key, key))
			continue;
		/* a contained incident stays joinable: it is still being handled */
		if (i->status == INC_OPEN && now > i->last_ns &&
		    now - i->last_ns > (uint64_t)m->window_s * 1000000000ull)
			continue;
		best = i;
	}
	return best;
}

static bool repeat_due(const struct inc_entry *e)
{
	/* the first 10 repeats, then powers of two or once a second: a storm of
	 * identical detections must not turn into a storm of fsyncs */
	if (e->count <= 10 || !(e->count & (e->count - 1)))
		return true;
	return e->last_ns >= e->journaled_ns + 1000000000ull;
}

int incident_mgr_detect(struct incmgr *m, const struct inc_detection *d, struct incident **out,
		  bool *opened)
{
	struct incident *inc = find_open(m, d->key, d->wall_ns);
	struct inc_entry e = { 0 };
	enum ng_severity sev;
	char why[256];
	int err = 0, e2;
	size_t i;

	*opened = false;
	if (!inc) {
		inc = calloc(1, sizeof(*inc));
		if (!inc)
			return -ENOMEM;
		new_id(inc->id, sizeof(inc->id), d->wall_ns);
		inc->node = strdup(m->node);
		copy_fixed(inc->key, sizeof(inc->key), d->key);
		inc->status = INC_OPEN;
		inc->first_ns = inc->last_ns = d->wall_ns;
		if (d->attr) {
			inc->attr = *d->attr;
			inc->attr.pod_namespace = xstrdup(d->attr->pod_namespace);
			inc->attr.pod_name = xstrdup(d->attr->pod_name);
			inc->attr.pod_json = xstrdup(d->attr->pod_json);
		}
		incident_link(m, inc);
		*opened = true;
		err = incident_journal_write_open(m, inc);
	} else if (d->attr && d->attr->pod_name && !inc->attr.pod_name) {
		/* the pod became known after the incident opened */
		replace_str(&inc->attr.pod_namespace, d->attr->pod_namespace);
		replace_str(&inc->attr.pod_name, d->attr->pod_name);
		replace_str(&inc->attr.pod_json, d->attr->pod_json);
	}
	*out = inc;
	if (d->wall_ns > inc->last_ns)
		inc->last_ns = d->wall_ns;

	/* process tree: the acting process and its ancestry, oldest first */
	for (i = d->ntree; i > 0; i--) {
		bool added;

		if (incident_add_proc(inc, &d->tree[i - 1], &added) == 0 && added) {
			e2 = incident_journal_write_proc(m, inc, &d->tree[i - 1], d->wall_ns);
			err = err ? err : e2;
		}
	}

	/* identical repeat? */
	for (i = 0; i < inc->nentries; i++) {
		struct inc_entry *x = &inc->entries[i];

		if (!strcmp(x->rule, d->rule) && !strcmp(x->fingerprint, d->fingerprint ? d->fingerprint : "")) {
			x->count++;
			if (d->wall_ns > x->last_ns)
				x->last_ns = d->wall_ns;
			if (repeat_due(x)) {
				e2 = incident_journal_write_repeat(m, inc, i);
				if (!e2) {
					x->journaled_count = x->count;
					x->journaled_ns = x->last_ns;
				}
				err = err ? err : e2;
			}
			return err;
		}
	}

	e.first_ns = e.last_ns = d->wall_ns;
	e.count = 1;
	e.source = xstrdup(d->source ? d->source : "kernel");
	e.rule = xstrdup(d->rule);
	e.severity = d->severity;
	e.category = xstrdup(d->category ? d->category : "");
	if (d->mitre && d->mitre->n) {
		e.mitre = calloc(d->mitre->n, sizeof(char *));
		for (i = 0; e.mitre && i < d->mitre->n; i++)
			e.mitre[e.nmitre++] = xstrdup(d->mitre->v[i]);
	}
	e.summary = xstrdup(d->summary ? d->summary : "");
	e.pid = d->pid;
	e.fingerprint = xstrdup(d->fingerprint ? d->fingerprint : "");
	e.event_json = xstrdup(d->event_json);
	e.journaled_count = 1;
	e.journaled_ns = d->wall_ns;
	if (!e.rule || !e.source || !e.category || !e.summary || !e.fingerprint) {
		incident_entry_clear(&e);
		return -ENOMEM;
	}
	e2 = incident_add_entry(inc, &e);
	if (e2 == -ENOSPC)
		return err ? err : -ENOSPC; /* counted in entries_dropped, not journaled */
	if (e2)
		return e2;
	e2 = incident_journal_write_detection(m, inc, inc->nentries - 1);
	err = err ? err : e2;

	incident_add_category(inc, d->category);
	if (d->severity > inc->max_detection || inc->nentries == 1)
		inc->max_detection = d->severity > inc->max_detection ? d->severity : inc->max_detection;
	sev = escalate(inc, why, sizeof(why));
	if (sev != inc->severity || !inc->severity_reason || inc->nentries == 1) {
		inc->severity = sev;
		replace_str(&inc->severity_reason, why);
		e2 = incident_journal_write_severity(m, inc, d->wall_ns);
		err = err ? err : e2;
	}
	return err;
}

int incident_mgr_action(struct incmgr *m, struct incident *inc, const struct inc_action *a)
{
	struct inc_action c = { 0 };
	int err;

	c.ts_ns = a->ts_ns;
	c.action = xstrdup(a->action);
	c.phase = xstrdup(a->phase ? a->phase : "");
	c.target = xstrdup(a->target ? a->target : "");
	c.result = xstrdup(a->result ? a->result : "");
	c.detail = xstrdup(a->detail ? a->detail : "");
	/* written raw into the record: only a JSON object, never text that could
	 * break the record (and so lose it at the next replay) */
	if (a->undo && *a->undo) {
		cJSON *u = cJSON_Parse(a->undo);

		if (cJSON_IsObject(u))
			c.undo = cJSON_PrintUnformatted(u); /* as a replay will have it */
		cJSON_Delete(u);
	}
	c.dry_run = a->dry_run;
	if (!c.action) {
		incident_action_clear(&c);
		return -ENOMEM;
	}
	err = incident_add_action(inc, &c);
	if (err)
		return err;
	incident_journal_rec_begin(m, "action", inc, a->ts_ns);
	jsonw_key(&m->w, "action");
	incident_journal_action_json(&m->w, &inc->actions[inc->nactions - 1]);
	jsonw_obj_close(&m->w);
	return incident_journal_emit(m);
}

int incident_mgr_set_status(struct incmgr *m, struct incident *inc, enum inc_status st, const char *reason,
		      uint64_t wall_ns)
{
	inc->status = st;
	if (wall_ns > inc->last_ns && st != INC_CLOSED)
		inc->last_ns = wall_ns;
	return incident_journal_write_status(m, inc, reason, wall_ns);
}

int incident_mgr_tick(struct incmgr *m, uint64_t wall_ns)
{
	struct incident *i;
	int n = 0;

	for (i = m->head; i; i = i->next) {
		if (i->status != INC_OPEN)
			continue;
		if (wall_ns > i->last_ns && wall_ns - i->last_ns > (uint64_t)m->window_s * 1000000000ull) {
			incident_mgr_set_status(m, i, INC_CLOSED, "idle for the correlation window", wall_ns);
			n++;
		}
	}
	return n;
}

/* ---------------------------------------------------------------- keys */

void incident_key(char *key, size_t n, const struct inc_key_of *k)
{
	if (k->container_id && k->container_id[0])
		snprintf(key, n, "ctr:%s", k->container_id);
	else if (k->pod_uid && k->pod_uid[0])
		snprintf(key, n, "pod:%s", k->pod_uid);
	else if (k->node && k->node[0])
		snprintf(key, n, "node:%s", k->node);
	else if (k->is_container)
		snprintf(key, n, "cg:%" PRIu64, k->cgroup_id);
	else
		snprintf(key, n, "host:%u:%" PRIu64, k->root_pid, k->root_start_ns);
}

bool incident_key_is_host(const char *key)
{
	return !strncmp(key, "host:", 5);
}

/* ---------------------------------------------------------------- in effect */

static bool str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

bool incident_action_same(const struct inc_action *a, const struct inc_action *b)
{
	return str_eq(a->action, b->action) && str_eq(a->target, b->target);
}

/* the actions of inc in effect: ok results (with their intent) not released */
size_t incident_actions_active(const struct incident *inc, struct inc_active *out, size_t max)
{
	struct inc_active act[INC_MAX_ACTIONS];
	size_t i, j, k, n = 0;

	/* all of them first: which are in effect does not depend on max */
	for (i = 0; i < inc->nactions; i++) {
		const struct inc_action *a = &inc->actions[i];

		if (str_eq(a->phase, "release")) {
			for (j = 0; j < n;) {
				if (incident_action_same(&inc->actions[act[j].result], a))
					act[j] = act[--n];
				else
					j++;
			}
			continue;
		}
		if (!str_eq(a->phase, "result") || !str_eq(a->result, "ok") || n >= INC_MAX_ACTIONS)
			continue;
		for (j = i; j > 0; j--) {
			const struct inc_action *x = &inc->actions[j - 1];

			if (str_eq(x->phase, "intent") && incident_action_same(x, a))
				break;
		}
		if (!j)
			continue; /* a result without its intent: nothing to undo from */
		/* the same again (re-applied by reconcile): one action in effect */
		for (k = 0; k < n; k++)
			if (incident_action_same(&inc->actions[act[k].intent], a) &&
			    str_eq(inc->actions[act[k].intent].detail, inc->actions[j - 1].detail))
				break;
		if (k < n) {
			act[k] = (struct inc_active){ .intent = j - 1, .result = i };
			continue;
		}
		act[n++] = (struct inc_active){ .intent = j - 1, .result = i };
	}
	/* oldest first */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && act[j - 1].result > act[j].result; j--) {
			struct inc_active t = act[j];

			act[j] = act[j - 1];
			act[j - 1] = t;
		}
	if (n > max)
		n = max;
	memcpy(out, act, n * sizeof(*out));
	return n;
}

/* an action with this target (and undo detail, when given) already in effect? */
bool incident_action_in_effect(const struct incident *inc, const char *action, const char *target,
			       const char *detail)
{
	struct inc_active act[INC_MAX_ACTIONS];
	size_t i, n = incident_actions_active(inc, act, INC_MAX_ACTIONS);

	for (i = 0; i < n; i++) {
		const struct inc_action *in = &inc->actions[act[i].intent];

		if (str_eq(in->action, action) && str_eq(in->target, target) &&
		    (!detail || str_eq(in->detail, detail)))
			return true;
	}
	return false;
}
