// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "incident.h"

struct incmgr {
	struct incident *head, *tail;
	char *node;
	uint32_t window_s;
	inc_write_fn write;
	void *write_ctx;
	uint64_t write_errors;
	struct jsonw w;
};

static const char *const status_names[] = { "open", "contained", "released", "closed" };

const char *inc_status_name(enum inc_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "unknown";
}

int inc_status_from_name(const char *s)
{
	int i;

	for (i = 0; s && i < 4; i++)
		if (!strcmp(s, status_names[i]))
			return i;
	return -1;
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void replace_str(char **dst, const char *src)
{
	char *n = xstrdup(src);

	if (src && !n)
		return;
	free(*dst);
	*dst = n;
}

/* ---------------------------------------------------------------- freeing */

static void proc_clear(struct inc_proc *p)
{
	free(p->exe);
	free(p->cmdline);
	memset(p, 0, sizeof(*p));
}

static void entry_clear(struct inc_entry *e)
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

static void action_clear(struct inc_action *a)
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

static void incident_free(struct incident *inc)
{
	size_t i;

	if (!inc)
		return;
	free(inc->node);
	free(inc->severity_reason);
	attr_clear(&inc->attr);
	for (i = 0; i < inc->nprocs; i++)
		proc_clear(&inc->procs[i]);
	free(inc->procs);
	for (i = 0; i < inc->nentries; i++)
		entry_clear(&inc->entries[i]);
	free(inc->entries);
	for (i = 0; i < inc->nactions; i++)
		action_clear(&inc->actions[i]);
	free(inc->actions);
	for (i = 0; i < inc->ncats; i++)
		free(inc->cats[i]);
	free(inc);
}

/* ---------------------------------------------------------------- manager */

struct incmgr *incmgr_new(const struct incmgr_opts *o)
{
	struct incmgr *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->node = strdup(o->node ? o->node : "");
	if (!m->node) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	m->window_s = o->window_s ? o->window_s : 600;
	m->write = o->write;
	m->write_ctx = o->write_ctx;
	jsonw_init(&m->w);
	return m;
}

void incmgr_free(struct incmgr *m)
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

void incmgr_set_window(struct incmgr *m, uint32_t window_s)
{
	if (window_s)
		m->window_s = window_s;
}

static void link_incident(struct incmgr *m, struct incident *inc)
{
	inc->next = NULL;
	if (m->tail)
		m->tail->next = inc;
	else
		m->head = inc;
	m->tail = inc;
}

struct incident *incmgr_find(struct incmgr *m, const char *id)
{
	struct incident *i;

	for (i = m->head; i; i = i->next)
		if (!strcmp(i->id, id))
			return i;
	return NULL;
}

struct incident *incmgr_find_prefix(struct incmgr *m, const char *prefix)
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

struct incident *incmgr_first(struct incmgr *m)
{
	return m->head;
}

size_t incmgr_count(const struct incmgr *m, bool open_only)
{
	const struct incident *i;
	size_t n = 0;

	for (i = m->head; i; i = i->next)
		if (!open_only || i->status == INC_OPEN || i->status == INC_CONTAINED)
			n++;
	return n;
}

/* ---------------------------------------------------------------- JSON out */

static void ts_json(struct jsonw *w, const char *key, uint64_t ns)
{
	char k[64], b[48], d[24];
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;
	size_t l;

	gmtime_r(&s, &tm);
	l = strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(b + l, sizeof(b) - l, ".%09" PRIu64 "Z", (uint64_t)(ns % 1000000000ull));
	jsonw_kv_str(w, key, b);
	/* exact ns as a string: JSON numbers lose precision past 2^53 */
	snprintf(k, sizeof(k), "%s_ns", key);
	snprintf(d, sizeof(d), "%" PRIu64, ns);
	jsonw_kv_str(w, k, d);
}

static void proc_json(struct jsonw *w, const struct inc_proc *p)
{
	char d[24];

	jsonw_obj_open(w);
	jsonw_kv_u64(w, "pid", p->pid);
	jsonw_kv_u64(w, "ppid", p->ppid);
	jsonw_kv_u64(w, "uid", p->uid);
	jsonw_kv_u64(w, "euid", p->euid);
	snprintf(d, sizeof(d), "%" PRIu64, p->start_ns);
	jsonw_kv_str(w, "start_ns", d);
	jsonw_kv_str(w, "exe", p->exe ? p->exe : "");
	jsonw_kv_str(w, "cmdline", p->cmdline ? p->cmdline : "");
	jsonw_obj_close(w);
}

static void attr_json(struct jsonw *w, const struct inc_attr *a)
{
	char d[24];

	jsonw_obj_open(w);
	jsonw_kv_bool(w, "container", a->is_container);
	jsonw_kv_str(w, "runtime", a->runtime);
	jsonw_kv_str(w, "container_id", a->container_id);
	jsonw_kv_str(w, "pod_uid", a->pod_uid);
	jsonw_kv_str(w, "qos", a->qos);
	jsonw_kv_str(w, "cgroup_path", a->cgroup_path);
	snprintf(d, sizeof(d), "%" PRIu64, a->cgroup_id);
	jsonw_kv_str(w, "cgroup_id", d);
	jsonw_key(w, "pod_namespace");
	if (a->pod_namespace)
		jsonw_str_val(w, a->pod_namespace);
	else
		jsonw_null_val(w);
	jsonw_key(w, "pod_name");
	if (a->pod_name)
		jsonw_str_val(w, a->pod_name);
	else
		jsonw_null_val(w);
	jsonw_key(w, "pod");
	if (a->pod_json)
		jsonw_raw_val(w, a->pod_json);
	else
		jsonw_null_val(w);
	jsonw_obj_close(w);
}

static void entry_json(struct jsonw *w, const struct inc_entry *e)
{
	size_t i;

	jsonw_obj_open(w);
	ts_json(w, "first_seen", e->first_ns);
	ts_json(w, "last_seen", e->last_ns);
	jsonw_kv_u64(w, "count", e->count);
	jsonw_kv_str(w, "source", e->source);
	jsonw_kv_str(w, "rule", e->rule);
	jsonw_kv_str(w, "severity", severity_name(e->severity));
	jsonw_kv_str(w, "category", e->category);
	jsonw_key(w, "mitre");
	jsonw_arr_open(w);
	for (i = 0; i < e->nmitre; i++)
		jsonw_str_val(w, e->mitre[i]);
	jsonw_arr_close(w);
	jsonw_kv_str(w, "summary", e->summary);
	jsonw_kv_u64(w, "pid", e->pid);
	jsonw_kv_str(w, "fingerprint", e->fingerprint);
	jsonw_key(w, "event");
	if (e->event_json)
		jsonw_raw_val(w, e->event_json);
	else
		jsonw_null_val(w);
	jsonw_obj_close(w);
}

static void action_json(struct jsonw *w, const struct inc_action *a)
{
	jsonw_obj_open(w);
	ts_json(w, "time", a->ts_ns);
	jsonw_kv_str(w, "action", a->action);
	jsonw_kv_str(w, "phase", a->phase);
	jsonw_kv_str(w, "target", a->target);
	jsonw_kv_str(w, "result", a->result);
	jsonw_kv_str(w, "detail", a->detail);
	if (a->undo && *a->undo) {
		jsonw_key(w, "undo");
		jsonw_raw_val(w, a->undo);
	}
	jsonw_kv_bool(w, "dry_run", a->dry_run);
	jsonw_obj_close(w);
}

void incident_to_json(const struct incident *inc, struct jsonw *w)
{
	size_t i;

	jsonw_obj_open(w);
	jsonw_kv_str(w, "id", inc->id);
	jsonw_kv_str(w, "node", inc->node);
	jsonw_kv_str(w, "key", inc->key);
	jsonw_kv_str(w, "status", inc_status_name(inc->status));
	jsonw_kv_str(w, "severity", severity_name(inc->severity));
	jsonw_kv_str(w, "max_detection_severity", severity_name(inc->max_detection));
	jsonw_kv_str(w, "severity_reason", inc->severity_reason ? inc->severity_reason : "");
	ts_json(w, "first_seen", inc->first_ns);
	ts_json(w, "last_seen", inc->last_ns);
	jsonw_key(w, "attribution");
	attr_json(w, &inc->attr);
	jsonw_key(w, "categories");
	jsonw_arr_open(w);
	for (i = 0; i < inc->ncats; i++)
		jsonw_str_val(w, inc->cats[i]);
	jsonw_arr_close(w);
	jsonw_key(w, "process_tree");
	jsonw_arr_open(w);
	for (i = 0; i < inc->nprocs; i++)
		proc_json(w, &inc->procs[i]);
	jsonw_arr_close(w);
	jsonw_kv_u64(w, "processes_dropped", inc->procs_dropped);
	jsonw_key(w, "timeline");
	jsonw_arr_open(w);
	for (i = 0; i < inc->nentries; i++)
		entry_json(w, &inc->entries[i]);
	jsonw_arr_close(w);
	jsonw_kv_u64(w, "timeline_dropped", inc->entries_dropped);
	jsonw_key(w, "actions");
	jsonw_arr_open(w);
	for (i = 0; i < inc->nactions; i++)
		action_json(w, &inc->actions[i]);
	jsonw_arr_close(w);
	jsonw_obj_close(w);
}

/* ---------------------------------------------------------------- JSON in */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static uint64_t ju64(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(v))
		return strtoull(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v) && v->valuedouble >= 0)
		return (uint64_t)v->valuedouble;
	return 0;
}

static bool jbool(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void copy_fixed(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A copy of the string member k, or of dflt when it is missing. jsonw writes
 * bytes that are not UTF-8 as U+FFFD and keeps the exact bytes in a sibling
 * "<k>_hex": take those, so replayed command lines and fingerprints are the
 * bytes the agent saw (a repeat after a restart must still match).
 */
static char *jdup(const cJSON *o, const char *k, const char *dflt)
{
	const char *s = jstr(o, k), *h;
	char hk[64], *b;
	size_t n, i;

	snprintf(hk, sizeof(hk), "%s_hex", k);
	h = s ? jstr(o, hk) : NULL;
	n = h ? strlen(h) : 0;
	if (n && n % 2 == 0 && (b = malloc(n / 2 + 1))) {
		for (i = 0; i < n / 2; i++) {
			int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);

			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				break;
			b[i] = (char)(hi << 4 | lo);
		}
		if (i == n / 2) {
			b[i] = '\0';
			return b;
		}
		free(b);
	}
	return xstrdup(s ? s : dflt);
}

static int proc_from_json(const cJSON *o, struct inc_proc *p)
{
	if (!cJSON_IsObject(o))
		return -EBADMSG;
	memset(p, 0, sizeof(*p));
	p->pid = (uint32_t)ju64(o, "pid");
	p->ppid = (uint32_t)ju64(o, "ppid");
	p->uid = (uint32_t)ju64(o, "uid");
	p->euid = (uint32_t)ju64(o, "euid");
	p->start_ns = ju64(o, "start_ns");
	p->exe = jdup(o, "exe", "");
	p->cmdline = jdup(o, "cmdline", "");
	return 0;
}

static int attr_from_json(const cJSON *o, struct inc_attr *a)
{
	const cJSON *pod;
	char *b;

	if (!cJSON_IsObject(o))
		return -EBADMSG;
	memset(a, 0, sizeof(*a));
	a->is_container = jbool(o, "container");
	copy_fixed(a->runtime, sizeof(a->runtime), jstr(o, "runtime"));
	copy_fixed(a->container_id, sizeof(a->container_id), jstr(o, "container_id"));
	copy_fixed(a->pod_uid, sizeof(a->pod_uid), jstr(o, "pod_uid"));
	copy_fixed(a->qos, sizeof(a->qos), jstr(o, "qos"));
	b = jdup(o, "cgroup_path", "");
	copy_fixed(a->cgroup_path, sizeof(a->cgroup_path), b);
	free(b);
	a->cgroup_id = ju64(o, "cgroup_id");
	a->pod_namespace = xstrdup(jstr(o, "pod_namespace"));
	a->pod_name = xstrdup(jstr(o, "pod_name"));
	pod = cJSON_GetObjectItemCaseSensitive(o, "pod");
	if (cJSON_IsObject(pod))
		a->pod_json = cJSON_PrintUnformatted(pod);
	return 0;
}

static int entry_from_json(const cJSON *o, struct inc_entry *e)
{
	const cJSON *mitre, *it, *ev;
	int sev;

	if (!cJSON_IsObject(o) || !jstr(o, "rule"))
		return -EBADMSG;
	memset(e, 0, sizeof(*e));
	e->first_ns = ju64(o, "first_seen_ns");
	e->last_ns = ju64(o, "last_seen_ns");
	e->count = (uint32_t)ju64(o, "count");
	if (!e->count)
		e->count = 1;
	e->source = xstrdup(jstr(o, "source") ? jstr(o, "source") : "kernel");
	e->rule = xstrdup(jstr(o, "rule"));
	sev = severity_from_name(jstr(o, "severity"));
	e->severity = sev < 0 ? SEV_INFO : (enum ng_severity)sev;
	e->category = xstrdup(jstr(o, "category") ? jstr(o, "category") : "");
	mitre = cJSON_GetObjectItemCaseSensitive(o, "mitre");
	if (cJSON_IsArray(mitre)) {
		size_t n = (size_t)cJSON_GetArraySize(mitre);

		e->mitre = calloc(n ? n : 1, sizeof(char *));
		cJSON_ArrayForEach(it, mitre)
			if (cJSON_IsString(it) && e->mitre)
				e->mitre[e->nmitre++] = xstrdup(it->valuestring);
	}
	e->summary = jdup(o, "summary", "");
	e->pid = (uint32_t)ju64(o, "pid");
	e->fingerprint = jdup(o, "fingerprint", "");
	ev = cJSON_GetObjectItemCaseSensitive(o, "event");
	if (cJSON_IsObject(ev))
		e->event_json = cJSON_PrintUnformatted(ev);
	e->journaled_count = e->count;
	return 0;
}

static int action_from_json(const cJSON *o, struct inc_action *a)
{
	const cJSON *undo;

	if (!cJSON_IsObject(o) || !jstr(o, "action"))
		return -EBADMSG;
	memset(a, 0, sizeof(*a));
	a->ts_ns = ju64(o, "time_ns");
	a->action = xstrdup(jstr(o, "action"));
	a->phase = xstrdup(jstr(o, "phase") ? jstr(o, "phase") : "");
	a->target = jdup(o, "target", "");
	a->result = xstrdup(jstr(o, "result") ? jstr(o, "result") : "");
	a->detail = jdup(o, "detail", "");
	undo = cJSON_GetObjectItemCaseSensitive(o, "undo");
	if (cJSON_IsObject(undo))
		a->undo = cJSON_PrintUnformatted(undo);
	a->dry_run = jbool(o, "dry_run");
	return 0;
}

/* ---------------------------------------------------------------- mutation */

static void add_category(struct incident *inc, const char *cat)
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

static int add_proc(struct incident *inc, const struct inc_proc *p, bool *added)
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

static int add_entry(struct incident *inc, struct inc_entry *e)
{
	struct inc_entry *ne;

	if (inc->nentries >= INC_MAX_ENTRIES) {
		inc->entries_dropped++;
		entry_clear(e);
		return -ENOSPC;
	}
	ne = realloc(inc->entries, (inc->nentries + 1) * sizeof(*ne));
	if (!ne) {
		entry_clear(e);
		return -ENOMEM;
	}
	inc->entries = ne;
	inc->entries[inc->nentries++] = *e;
	return 0;
}

static int add_action(struct incident *inc, struct inc_action *a)
{
	struct inc_action *na;

	if (inc->nactions >= INC_MAX_ACTIONS) {
		action_clear(a);
		return -ENOSPC;
	}
	na = realloc(inc->actions, (inc->nactions + 1) * sizeof(*na));
	if (!na) {
		action_clear(a);
		return -ENOMEM;
	}
	inc->actions = na;
	inc->actions[inc->nactions++] = *a;
	return 0;
}

/* ---------------------------------------------------------------- journal out */

static int emit(struct incmgr *m)
{
	const char *s = jsonw_str(&m->w);
	int err;

	if (!s)
		return -ENOMEM;
	if (!m->write)
		return 0;
	err = m->write(s, m->w.len, m->write_ctx);
	if (err)
		m->write_errors++;
	return err;
}

static void rec_begin(struct incmgr *m, const char *rec, const struct incident *inc, uint64_t ts)
{
	jsonw_reset(&m->w);
	jsonw_obj_open(&m->w);
	jsonw_kv_str(&m->w, "rec", rec);
	jsonw_kv_u64(&m->w, "v", 1);
	jsonw_kv_str(&m->w, "incident", inc->id);
	ts_json(&m->w, "ts", ts);
}

int incmgr_write_start(struct incmgr *m, uint64_t wall_ns, const struct inc_agent_start *st)
{
	jsonw_reset(&m->w);
	jsonw_obj_open(&m->w);
	jsonw_kv_str(&m->w, "rec", "agent");
	jsonw_kv_u64(&m->w, "v", 1);
	ts_json(&m->w, "ts", wall_ns);
	jsonw_kv_str(&m->w, "event", "start");
	jsonw_kv_str(&m->w, "node", st->node ? st->node : "");
	jsonw_kv_u64(&m->w, "pid", (uint64_t)getpid());
	jsonw_kv_str(&m->w, "policy", st->policy ? st->policy : "");
	jsonw_kv_u64(&m->w, "rules", st->rules);
	jsonw_key(&m->w, "kill");
	jsonw_obj_open(&m->w);
	jsonw_kv_str(&m->w, "where", st->kill_in_kernel ? "kernel" : "user-space");
	if (!st->kill_in_kernel)
		jsonw_kv_str(&m->w, "reason", st->kill_reason ? st->kill_reason : "");
	jsonw_kv_u64(&m->w, "rules_in_kernel", st->kill_rules_kernel);
	jsonw_kv_u64(&m->w, "rules_in_user_space", st->kill_rules_user);
	jsonw_obj_close(&m->w);
	jsonw_obj_close(&m->w);
	return emit(m);
}

static int write_open(struct incmgr *m, const struct incident *inc)
{
	rec_begin(m, "open", inc, inc->first_ns);
	jsonw_kv_str(&m->w, "node", inc->node);
	jsonw_kv_str(&m->w, "key", inc->key);
	jsonw_key(&m->w, "attribution");
	attr_json(&m->w, &inc->attr);
	jsonw_obj_close(&m->w);
	return emit(m);
}

static int write_proc(struct incmgr *m, const struct incident *inc, const struct inc_proc *p,
		      uint64_t ts)
{
	rec_begin(m, "proc", inc, ts);
	jsonw_key(&m->w, "proc");
	proc_json(&m->w, p);
	jsonw_obj_close(&m->w);
	return emit(m);
}

static int write_detection(struct incmgr *m, const struct incident *inc, size_t idx)
{
	rec_begin(m, "detection", inc, inc->entries[idx].first_ns);
	jsonw_kv_u64(&m->w, "entry", idx);
	jsonw_key(&m->w, "detection");
	entry_json(&m->w, &inc->entries[idx]);
	jsonw_obj_close(&m->w);
	return emit(m);
}

static int write_repeat(struct incmgr *m, const struct incident *inc, size_t idx)
{
	const struct inc_entry *e = &inc->entries[idx];

	rec_begin(m, "repeat", inc, e->last_ns);
	jsonw_kv_u64(&m->w, "entry", idx);
	jsonw_kv_u64(&m->w, "count", e->count);
	jsonw_obj_close(&m->w);
	return emit(m);
}

static int write_severity(struct incmgr *m, const struct incident *inc, uint64_t ts)
{
	rec_begin(m, "severity", inc, ts);
	jsonw_kv_str(&m->w, "severity", severity_name(inc->severity));
	jsonw_kv_str(&m->w, "reason", inc->severity_reason ? inc->severity_reason : "");
	jsonw_obj_close(&m->w);
	return emit(m);
}

static int write_status(struct incmgr *m, const struct incident *inc, const char *reason,
			uint64_t ts)
{
	char d[24];
	size_t i;

	rec_begin(m, "status", inc, ts);
	jsonw_kv_str(&m->w, "status", inc_status_name(inc->status));
	jsonw_kv_str(&m->w, "reason", reason ? reason : "");
	/* final repeat counts and times, so nothing is lost to repeat coalescing,
	 * and what the bounds dropped */
	jsonw_key(&m->w, "counts");
	jsonw_arr_open(&m->w);
	for (i = 0; i < inc->nentries; i++)
		jsonw_u64_val(&m->w, inc->entries[i].count);
	jsonw_arr_close(&m->w);
	jsonw_key(&m->w, "last_seen_ns");
	jsonw_arr_open(&m->w);
	for (i = 0; i < inc->nentries; i++) {
		snprintf(d, sizeof(d), "%" PRIu64, inc->entries[i].last_ns);
		jsonw_str_val(&m->w, d);
	}
	jsonw_arr_close(&m->w);
	jsonw_kv_u64(&m->w, "timeline_dropped", inc->entries_dropped);
	jsonw_kv_u64(&m->w, "processes_dropped", inc->procs_dropped);
	jsonw_obj_close(&m->w);
	return emit(m);
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

int incmgr_detect(struct incmgr *m, const struct inc_detection *d, struct incident **out,
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
		link_incident(m, inc);
		*opened = true;
		err = write_open(m, inc);
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

		if (add_proc(inc, &d->tree[i - 1], &added) == 0 && added) {
			e2 = write_proc(m, inc, &d->tree[i - 1], d->wall_ns);
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
				e2 = write_repeat(m, inc, i);
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
		entry_clear(&e);
		return -ENOMEM;
	}
	e2 = add_entry(inc, &e);
	if (e2 == -ENOSPC)
		return err ? err : -ENOSPC; /* counted in entries_dropped, not journaled */
	if (e2)
		return e2;
	e2 = write_detection(m, inc, inc->nentries - 1);
	err = err ? err : e2;

	add_category(inc, d->category);
	if (d->severity > inc->max_detection || inc->nentries == 1)
		inc->max_detection = d->severity > inc->max_detection ? d->severity : inc->max_detection;
	sev = escalate(inc, why, sizeof(why));
	if (sev != inc->severity || !inc->severity_reason || inc->nentries == 1) {
		inc->severity = sev;
		replace_str(&inc->severity_reason, why);
		e2 = write_severity(m, inc, d->wall_ns);
		err = err ? err : e2;
	}
	return err;
}

int incmgr_action(struct incmgr *m, struct incident *inc, const struct inc_action *a)
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
		action_clear(&c);
		return -ENOMEM;
	}
	err = add_action(inc, &c);
	if (err)
		return err;
	rec_begin(m, "action", inc, a->ts_ns);
	jsonw_key(&m->w, "action");
	action_json(&m->w, &inc->actions[inc->nactions - 1]);
	jsonw_obj_close(&m->w);
	return emit(m);
}

int incmgr_set_status(struct incmgr *m, struct incident *inc, enum inc_status st, const char *reason,
		      uint64_t wall_ns)
{
	inc->status = st;
	if (wall_ns > inc->last_ns && st != INC_CLOSED)
		inc->last_ns = wall_ns;
	return write_status(m, inc, reason, wall_ns);
}

int incmgr_tick(struct incmgr *m, uint64_t wall_ns)
{
	struct incident *i;
	int n = 0;

	for (i = m->head; i; i = i->next) {
		if (i->status != INC_OPEN)
			continue;
		if (wall_ns > i->last_ns && wall_ns - i->last_ns > (uint64_t)m->window_s * 1000000000ull) {
			incmgr_set_status(m, i, INC_CLOSED, "idle for the correlation window", wall_ns);
			n++;
		}
	}
	return n;
}

int incmgr_snapshot_open(struct incmgr *m)
{
	struct incident *i;
	int err = 0, e;

	for (i = m->head; i; i = i->next) {
		if (i->status == INC_CLOSED)
			continue;
		rec_begin(m, "snapshot", i, i->last_ns);
		jsonw_key(&m->w, "data");
		incident_to_json(i, &m->w);
		jsonw_obj_close(&m->w);
		e = emit(m);
		err = err ? err : e;
	}
	return err;
}

/* ---------------------------------------------------------------- replay */

static struct incident *incident_from_json(const cJSON *o)
{
	struct incident *inc;
	const cJSON *arr, *it;
	int v;

	if (!cJSON_IsObject(o) || !jstr(o, "id"))
		return NULL;
	inc = calloc(1, sizeof(*inc));
	if (!inc)
		return NULL;
	copy_fixed(inc->id, sizeof(inc->id), jstr(o, "id"));
	inc->node = xstrdup(jstr(o, "node") ? jstr(o, "node") : "");
	copy_fixed(inc->key, sizeof(inc->key), jstr(o, "key"));
	v = inc_status_from_name(jstr(o, "status"));
	inc->status = v < 0 ? INC_OPEN : (enum inc_status)v;
	v = severity_from_name(jstr(o, "severity"));
	inc->severity = v < 0 ? SEV_INFO : (enum ng_severity)v;
	v = severity_from_name(jstr(o, "max_detection_severity"));
	inc->max_detection = v < 0 ? inc->severity : (enum ng_severity)v;
	inc->severity_reason = xstrdup(jstr(o, "severity_reason"));
	inc->first_ns = ju64(o, "first_seen_ns");
	inc->last_ns = ju64(o, "last_seen_ns");
	attr_from_json(cJSON_GetObjectItemCaseSensitive(o, "attribution"), &inc->attr);
	arr = cJSON_GetObjectItemCaseSensitive(o, "categories");
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it))
			add_category(inc, it->valuestring);
	arr = cJSON_GetObjectItemCaseSensitive(o, "process_tree");
	cJSON_ArrayForEach(it, arr) {
		struct inc_proc p;
		bool added;

		if (proc_from_json(it, &p) == 0) {
			add_proc(inc, &p, &added);
			proc_clear(&p);
		}
	}
	arr = cJSON_GetObjectItemCaseSensitive(o, "timeline");
	cJSON_ArrayForEach(it, arr) {
		struct inc_entry e;

		if (entry_from_json(it, &e) == 0)
			add_entry(inc, &e);
	}
	arr = cJSON_GetObjectItemCaseSensitive(o, "actions");
	cJSON_ArrayForEach(it, arr) {
		struct inc_action a;

		if (action_from_json(it, &a) == 0)
			add_action(inc, &a);
	}
	inc->procs_dropped = ju64(o, "processes_dropped");
	inc->entries_dropped = ju64(o, "timeline_dropped");
	return inc;
}

int incmgr_apply_record(struct incmgr *m, const cJSON *rec)
{
	const char *type = jstr(rec, "rec"), *id = jstr(rec, "incident");
	struct incident *inc;
	uint64_t ts = ju64(rec, "ts_ns");
	bool bump;

	if (type && !strcmp(type, "agent"))
		return 0; /* about the agent run, not an incident */
	if (!type || !id)
		return -EBADMSG;
	inc = incmgr_find(m, id);

	if (!strcmp(type, "open")) {
		if (inc)
			return 0; /* replayed twice (snapshot + original): first wins */
		inc = calloc(1, sizeof(*inc));
		if (!inc)
			return -ENOMEM;
		copy_fixed(inc->id, sizeof(inc->id), id);
		inc->node = xstrdup(jstr(rec, "node") ? jstr(rec, "node") : "");
		copy_fixed(inc->key, sizeof(inc->key), jstr(rec, "key"));
		inc->first_ns = inc->last_ns = ts;
		attr_from_json(cJSON_GetObjectItemCaseSensitive(rec, "attribution"), &inc->attr);
		link_incident(m, inc);
		return 0;
	}
	if (!strcmp(type, "snapshot")) {
		struct incident *n = incident_from_json(cJSON_GetObjectItemCaseSensitive(rec, "data"));
		struct incident **pp;

		if (!n)
			return -EBADMSG;
		if (!inc) {
			link_incident(m, n);
			return 0;
		}
		/* replace in place, keeping list order */
		for (pp = &m->head; *pp && *pp != inc; pp = &(*pp)->next)
			;
		n->next = inc->next;
		*pp = n;
		if (m->tail == inc)
			m->tail = n;
		incident_free(inc);
		return 0;
	}
	if (!inc)
		return -EBADMSG; /* a change to an incident we never saw open */
	/* as live: actions and closing do not move last_ns (incmgr_action,
	 * incmgr_set_status); a record that is rejected or not understood moves
	 * nothing (bump is applied on the success paths below) */
	bump = ts > inc->last_ns && strcmp(type, "action") &&
	       !(!strcmp(type, "status") && inc_status_from_name(jstr(rec, "status")) == INC_CLOSED);

	if (!strcmp(type, "proc")) {
		struct inc_proc p;
		bool added;

		if (proc_from_json(cJSON_GetObjectItemCaseSensitive(rec, "proc"), &p))
			return -EBADMSG;
		add_proc(inc, &p, &added);
		proc_clear(&p);
		if (bump)
			inc->last_ns = ts;
		return 0;
	}
	if (!strcmp(type, "detection")) {
		struct inc_entry e;
		int err;

		if (entry_from_json(cJSON_GetObjectItemCaseSensitive(rec, "detection"), &e))
			return -EBADMSG;
		if (bump)
			inc->last_ns = ts;
		if (ju64(rec, "entry") < inc->nentries) {
			entry_clear(&e);
			return 0; /* already known (from a snapshot) */
		}
		add_category(inc, e.category);
		if (e.severity > inc->max_detection || inc->nentries == 0)
			inc->max_detection = e.severity > inc->max_detection ? e.severity : inc->max_detection;
		err = add_entry(inc, &e);
		return err == -ENOSPC ? 0 : err;
	}
	if (!strcmp(type, "repeat")) {
		uint64_t idx = ju64(rec, "entry"), count = ju64(rec, "count");

		if (idx >= inc->nentries)
			return -EBADMSG;
		if (bump)
			inc->last_ns = ts;
		if (count > inc->entries[idx].count)
			inc->entries[idx].count = (uint32_t)count;
		if (ts > inc->entries[idx].last_ns)
			inc->entries[idx].last_ns = ts;
		return 0;
	}
	if (!strcmp(type, "severity")) {
		int s = severity_from_name(jstr(rec, "severity"));

		if (s < 0)
			return -EBADMSG;
		if (bump)
			inc->last_ns = ts;
		inc->severity = (enum ng_severity)s;
		replace_str(&inc->severity_reason, jstr(rec, "reason"));
		return 0;
	}
	if (!strcmp(type, "status")) {
		int s = inc_status_from_name(jstr(rec, "status"));
		const cJSON *counts = cJSON_GetObjectItemCaseSensitive(rec, "counts"), *it;
		size_t i = 0;

		if (s < 0)
			return -EBADMSG;
		if (bump)
			inc->last_ns = ts;
		inc->status = (enum inc_status)s;
		cJSON_ArrayForEach(it, counts) {
			if (i < inc->nentries && cJSON_IsNumber(it) && it->valuedouble > inc->entries[i].count)
				inc->entries[i].count = (uint32_t)it->valuedouble;
			i++;
		}
		i = 0;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rec, "last_seen_ns")) {
			uint64_t ns = cJSON_IsString(it) ? strtoull(it->valuestring, NULL, 10) : 0;

			if (i < inc->nentries && ns > inc->entries[i].last_ns)
				inc->entries[i].last_ns = ns;
			/* the incident saw what its entries saw */
			if (i < inc->nentries && inc->entries[i].last_ns > inc->last_ns)
				inc->last_ns = inc->entries[i].last_ns;
			i++;
		}
		if (ju64(rec, "timeline_dropped") > inc->entries_dropped)
			inc->entries_dropped = ju64(rec, "timeline_dropped");
		if (ju64(rec, "processes_dropped") > inc->procs_dropped)
			inc->procs_dropped = ju64(rec, "processes_dropped");
		return 0;
	}
	if (!strcmp(type, "action")) {
		struct inc_action a;

		size_t i;

		if (action_from_json(cJSON_GetObjectItemCaseSensitive(rec, "action"), &a))
			return -EBADMSG;
		/* a record replayed twice (retried after a failed sync, or also in
		 * a snapshot) is one action */
		for (i = 0; i < inc->nactions; i++) {
			const struct inc_action *x = &inc->actions[i];

			if (x->ts_ns == a.ts_ns && !strcmp(x->action, a.action) &&
			    !strcmp(x->phase, a.phase) && !strcmp(x->target, a.target) &&
			    !strcmp(x->result, a.result)) {
				action_clear(&a);
				return 0;
			}
		}
		return add_action(inc, &a);
	}
	return 0; /* a record type from a newer version: ignore */
}
