// SPDX-License-Identifier: Apache-2.0
/*
 * Incidents in the journal (docs/journal.md): an incident and its parts as
 * JSON (incident_to_json), the delta records the manager writes (open,
 * proc, detection, repeat, severity, status, action, snapshot, and the
 * agent's start record), and the way back: parsing that JSON and replaying
 * the records (incident_mgr_apply_record), which rebuilds the same incidents for
 * the agent's restore and for nodeguardctl.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "digits.h"
#include "incident_int.h"
#include "jsonget.h"

/* ---------------------------------------------------------------- JSON out */

static void ts_json(struct jsonw *w, const char *key, uint64_t ns)
{
	char k[64], b[48], d[24];

	jsonw_kv_str(w, key, clock_rfc3339(ns, 9, b, sizeof(b)) ? b : "");
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

void incident_journal_action_json(struct jsonw *w, const struct inc_action *a)
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
	jsonw_kv_str(w, "status", incident_status_name(inc->status));
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
		incident_journal_action_json(w, &inc->actions[i]);
	jsonw_arr_close(w);
	jsonw_obj_close(w);
}

/* ---------------------------------------------------------------- JSON in */

/*
 * A copy of the string member k, or of dflt when it is missing. jsonw writes
 * bytes that are not UTF-8 as U+FFFD and keeps the exact bytes in a sibling
 * "<k>_hex": take those, so replayed command lines and fingerprints are the
 * bytes the agent saw (a repeat after a restart must still match).
 */
static char *jdup(const cJSON *o, const char *k, const char *dflt)
{
	const char *s = jget_str(o, k), *h;
	char hk[64], *b;
	size_t n, i;

	snprintf(hk, sizeof(hk), "%s_hex", k);
	h = s ? jget_str(o, hk) : NULL;
	n = h ? strlen(h) : 0;
	if (n && n % 2 == 0 && (b = malloc(n / 2 + 1))) {
		for (i = 0; i < n / 2; i++) {
			int hi = hex_digit(h[2 * i]), lo = hex_digit(h[2 * i + 1]);

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
	p->pid = (uint32_t)jget_u64(o, "pid");
	p->ppid = (uint32_t)jget_u64(o, "ppid");
	p->uid = (uint32_t)jget_u64(o, "uid");
	p->euid = (uint32_t)jget_u64(o, "euid");
	p->start_ns = jget_u64(o, "start_ns");
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
	a->is_container = jget_true(o, "container");
	copy_fixed(a->runtime, sizeof(a->runtime), jget_str(o, "runtime"));
	copy_fixed(a->container_id, sizeof(a->container_id), jget_str(o, "container_id"));
	copy_fixed(a->pod_uid, sizeof(a->pod_uid), jget_str(o, "pod_uid"));
	copy_fixed(a->qos, sizeof(a->qos), jget_str(o, "qos"));
	b = jdup(o, "cgroup_path", "");
	copy_fixed(a->cgroup_path, sizeof(a->cgroup_path), b);
	free(b);
	a->cgroup_id = jget_u64(o, "cgroup_id");
	a->pod_namespace = xstrdup(jget_str(o, "pod_namespace"));
	a->pod_name = xstrdup(jget_str(o, "pod_name"));
	pod = cJSON_GetObjectItemCaseSensitive(o, "pod");
	if (cJSON_IsObject(pod))
		a->pod_json = cJSON_PrintUnformatted(pod);
	return 0;
}

static int entry_from_json(const cJSON *o, struct inc_entry *e)
{
	const cJSON *mitre, *it, *ev;
	int sev;

	if (!cJSON_IsObject(o) || !jget_str(o, "rule"))
		return -EBADMSG;
	memset(e, 0, sizeof(*e));
	e->first_ns = jget_u64(o, "first_seen_ns");
	e->last_ns = jget_u64(o, "last_seen_ns");
	e->count = (uint32_t)jget_u64(o, "count");
	if (!e->count)
		e->count = 1;
	e->source = xstrdup(jget_str(o, "source") ? jget_str(o, "source") : "kernel");
	e->rule = xstrdup(jget_str(o, "rule"));
	sev = severity_from_name(jget_str(o, "severity"));
	e->severity = sev < 0 ? SEV_INFO : (enum ng_severity)sev;
	e->category = xstrdup(jget_str(o, "category") ? jget_str(o, "category") : "");
	mitre = cJSON_GetObjectItemCaseSensitive(o, "mitre");
	if (cJSON_IsArray(mitre)) {
		size_t n = (size_t)cJSON_GetArraySize(mitre);

		e->mitre = calloc(n ? n : 1, sizeof(char *));
		cJSON_ArrayForEach(it, mitre)
			if (cJSON_IsString(it) && e->mitre)
				e->mitre[e->nmitre++] = xstrdup(it->valuestring);
	}
	e->summary = jdup(o, "summary", "");
	e->pid = (uint32_t)jget_u64(o, "pid");
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

	if (!cJSON_IsObject(o) || !jget_str(o, "action"))
		return -EBADMSG;
	memset(a, 0, sizeof(*a));
	a->ts_ns = jget_u64(o, "time_ns");
	a->action = xstrdup(jget_str(o, "action"));
	a->phase = xstrdup(jget_str(o, "phase") ? jget_str(o, "phase") : "");
	a->target = jdup(o, "target", "");
	a->result = xstrdup(jget_str(o, "result") ? jget_str(o, "result") : "");
	a->detail = jdup(o, "detail", "");
	undo = cJSON_GetObjectItemCaseSensitive(o, "undo");
	if (cJSON_IsObject(undo))
		a->undo = cJSON_PrintUnformatted(undo);
	a->dry_run = jget_true(o, "dry_run");
	return 0;
}

/* ---------------------------------------------------------------- journal out */

int incident_journal_emit(struct incmgr *m)
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

void incident_journal_rec_begin(struct incmgr *m, const char *rec, const struct incident *inc,
				uint64_t ts)
{
	jsonw_reset(&m->w);
	jsonw_obj_open(&m->w);
	jsonw_kv_str(&m->w, "rec", rec);
	jsonw_kv_u64(&m->w, "v", 1);
	jsonw_kv_str(&m->w, "incident", inc->id);
	ts_json(&m->w, "ts", ts);
}

int incident_mgr_write_start(struct incmgr *m, uint64_t wall_ns, const struct inc_agent_start *st)
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
	return incident_journal_emit(m);
}

int incident_journal_write_open(struct incmgr *m, const struct incident *inc)
{
	incident_journal_rec_begin(m, "open", inc, inc->first_ns);
	jsonw_kv_str(&m->w, "node", inc->node);
	jsonw_kv_str(&m->w, "key", inc->key);
	jsonw_key(&m->w, "attribution");
	attr_json(&m->w, &inc->attr);
	jsonw_obj_close(&m->w);
	return incident_journal_emit(m);
}

int incident_journal_write_proc(struct incmgr *m, const struct incident *inc,
				const struct inc_proc *p, uint64_t ts)
{
	incident_journal_rec_begin(m, "proc", inc, ts);
	jsonw_key(&m->w, "proc");
	proc_json(&m->w, p);
	jsonw_obj_close(&m->w);
	return incident_journal_emit(m);
}

int incident_journal_write_detection(struct incmgr *m, const struct incident *inc, size_t idx)
{
	incident_journal_rec_begin(m, "detection", inc, inc->entries[idx].first_ns);
	jsonw_kv_u64(&m->w, "entry", idx);
	jsonw_key(&m->w, "detection");
	entry_json(&m->w, &inc->entries[idx]);
	jsonw_obj_close(&m->w);
	return incident_journal_emit(m);
}

int incident_journal_write_repeat(struct incmgr *m, const struct incident *inc, size_t idx)
{
	const struct inc_entry *e = &inc->entries[idx];

	incident_journal_rec_begin(m, "repeat", inc, e->last_ns);
	jsonw_kv_u64(&m->w, "entry", idx);
	jsonw_kv_u64(&m->w, "count", e->count);
	jsonw_obj_close(&m->w);
	return incident_journal_emit(m);
}

int incident_journal_write_severity(struct incmgr *m, const struct incident *inc, uint64_t ts)
{
	incident_journal_rec_begin(m, "severity", inc, ts);
	jsonw_kv_str(&m->w, "severity", severity_name(inc->severity));
	jsonw_kv_str(&m->w, "reason", inc->severity_reason ? inc->severity_reason : "");
	jsonw_obj_close(&m->w);
	return incident_journal_emit(m);
}

int incident_journal_write_status(struct incmgr *m, const struct incident *inc, const char *reason,
				  uint64_t ts)
{
	char d[24];
	size_t i;

	incident_journal_rec_begin(m, "status", inc, ts);
	jsonw_kv_str(&m->w, "status", incident_status_name(inc->status));
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
	return incident_journal_emit(m);
}

/* ---------------------------------------------------------------- snapshot */

int incident_mgr_snapshot_open(struct incmgr *m)
{
	struct incident *i;
	int err = 0, e;

	for (i = m->head; i; i = i->next) {
		if (i->status == INC_CLOSED)
			continue;
		incident_journal_rec_begin(m, "snapshot", i, i->last_ns);
		jsonw_key(&m->w, "data");
		incident_to_json(i, &m->w);
		jsonw_obj_close(&m->w);
		e = incident_journal_emit(m);
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

	if (!cJSON_IsObject(o) || !jget_str(o, "id"))
		return NULL;
	inc = calloc(1, sizeof(*inc));
	if (!inc)
		return NULL;
	copy_fixed(inc->id, sizeof(inc->id), jget_str(o, "id"));
	inc->node = xstrdup(jget_str(o, "node") ? jget_str(o, "node") : "");
	copy_fixed(inc->key, sizeof(inc->key), jget_str(o, "key"));
	v = incident_status_from_name(jget_str(o, "status"));
	inc->status = v < 0 ? INC_OPEN : (enum inc_status)v;
	v = severity_from_name(jget_str(o, "severity"));
	inc->severity = v < 0 ? SEV_INFO : (enum ng_severity)v;
	v = severity_from_name(jget_str(o, "max_detection_severity"));
	inc->max_detection = v < 0 ? inc->severity : (enum ng_severity)v;
	inc->severity_reason = xstrdup(jget_str(o, "severity_reason"));
	inc->first_ns = jget_u64(o, "first_seen_ns");
	inc->last_ns = jget_u64(o, "last_seen_ns");
	attr_from_json(cJSON_GetObjectItemCaseSensitive(o, "attribution"), &inc->attr);
	arr = cJSON_GetObjectItemCaseSensitive(o, "categories");
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it))
			incident_add_category(inc, it->valuestring);
	arr = cJSON_GetObjectItemCaseSensitive(o, "process_tree");
	cJSON_ArrayForEach(it, arr) {
		struct inc_proc p;
		bool added;

		if (proc_from_json(it, &p) == 0) {
			incident_add_proc(inc, &p, &added);
			incident_proc_clear(&p);
		}
	}
	arr = cJSON_GetObjectItemCaseSensitive(o, "timeline");
	cJSON_ArrayForEach(it, arr) {
		struct inc_entry e;

		if (entry_from_json(it, &e) == 0)
			incident_add_entry(inc, &e);
	}
	arr = cJSON_GetObjectItemCaseSensitive(o, "actions");
	cJSON_ArrayForEach(it, arr) {
		struct inc_action a;

		if (action_from_json(it, &a) == 0)
			incident_add_action(inc, &a);
	}
	inc->procs_dropped = jget_u64(o, "processes_dropped");
	inc->entries_dropped = jget_u64(o, "timeline_dropped");
	return inc;
}

int incident_mgr_apply_record(struct incmgr *m, const cJSON *rec)
{
	const char *type = jget_str(rec, "rec"), *id = jget_str(rec, "incident");
	struct incident *inc;
	uint64_t ts = jget_u64(rec, "ts_ns");
	bool bump;

	if (type && !strcmp(type, "agent"))
		return 0; /* about the agent run, not an incident */
	if (!type || !id)
		return -EBADMSG;
	inc = incident_mgr_find(m, id);

	if (!strcmp(type, "open")) {
		if (inc)
			return 0; /* replayed twice (snapshot + original): first wins */
		inc = calloc(1, sizeof(*inc));
		if (!inc)
			return -ENOMEM;
		copy_fixed(inc->id, sizeof(inc->id), id);
		inc->node = xstrdup(jget_str(rec, "node") ? jget_str(rec, "node") : "");
		copy_fixed(inc->key, sizeof(inc->key), jget_str(rec, "key"));
		inc->first_ns = inc->last_ns = ts;
		attr_from_json(cJSON_GetObjectItemCaseSensitive(rec, "attribution"), &inc->attr);
		incident_link(m, inc);
		return 0;
	}
	if (!strcmp(type, "snapshot")) {
		struct incident *n = incident_from_json(cJSON_GetObjectItemCaseSensitive(rec, "data"));
		struct incident **pp;

		if (!n)
			return -EBADMSG;
		if (!inc) {
			incident_link(m, n);
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
	/* as live: actions and closing do not move last_ns (incident_mgr_action,
	 * incident_mgr_set_status); a record that is rejected or not understood moves
	 * nothing (bump is applied on the success paths below) */
	bump = ts > inc->last_ns && strcmp(type, "action") &&
	       !(!strcmp(type, "status") &&
		 incident_status_from_name(jget_str(rec, "status")) == INC_CLOSED);

	if (!strcmp(type, "proc")) {
		struct inc_proc p;
		bool added;

		if (proc_from_json(cJSON_GetObjectItemCaseSensitive(rec, "proc"), &p))
			return -EBADMSG;
		incident_add_proc(inc, &p, &added);
		incident_proc_clear(&p);
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
		if (jget_u64(rec, "entry") < inc->nentries) {
			incident_entry_clear(&e);
			return 0; /* already known (from a snapshot) */
		}
		incident_add_category(inc, e.category);
		if (e.severity > inc->max_detection || inc->nentries == 0)
			inc->max_detection = e.severity > inc->max_detection ? e.severity : inc->max_detection;
		err = incident_add_entry(inc, &e);
		return err == -ENOSPC ? 0 : err;
	}
	if (!strcmp(type, "repeat")) {
		uint64_t idx = jget_u64(rec, "entry"), count = jget_u64(rec, "count");

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
		int s = severity_from_name(jget_str(rec, "severity"));

		if (s < 0)
			return -EBADMSG;
		if (bump)
			inc->last_ns = ts;
		inc->severity = (enum ng_severity)s;
		replace_str(&inc->severity_reason, jget_str(rec, "reason"));
		return 0;
	}
	if (!strcmp(type, "status")) {
		int s = incident_status_from_name(jget_str(rec, "status"));
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
		if (jget_u64(rec, "timeline_dropped") > inc->entries_dropped)
			inc->entries_dropped = jget_u64(rec, "timeline_dropped");
		if (jget_u64(rec, "processes_dropped") > inc->procs_dropped)
			inc->procs_dropped = jget_u64(rec, "processes_dropped");
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
				incident_action_clear(&a);
				return 0;
			}
		}
		return incident_add_action(inc, &a);
	}
	return 0; /* a record type from a newer version: ignore */
}
