// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports: the walk the Markdown and HTML reports share. Both are
 * the same document (a heading, summary, timeline, process tree,
 * attribution, detections, actions) in two markups; struct doc_fmt
 * (report_int.h) holds the markup, the functions here the walk: field
 * lists (summary, attribution, detections), tables (timeline, actions) and
 * the process tree.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* T1234 or T1234.567 */
static bool mitre_valid(const char *s)
{
	size_t n = strlen(s), i;

	if ((n != 5 && n != 9) || s[0] != 'T')
		return false;
	for (i = 1; i < n; i++)
		if (i == 5 ? s[i] != '.' : !isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* https://attack.mitre.org/techniques/T1234/567/ of a valid id */
static void mitre_url(const char *id, char *buf, size_t n)
{
	if (strlen(id) == 9)
		snprintf(buf, n, "https://attack.mitre.org/techniques/%.5s/%s/", id, id + 6);
	else
		snprintf(buf, n, "https://attack.mitre.org/techniques/%s/", id);
}

/* "runtime id, pod ns/name" with every part escaped by esc (md or h) */
static void container_line(FILE *out, const struct inc_attr *a, void (*esc)(FILE *, const char *))
{
	esc(out, a->runtime[0] ? a->runtime : "unknown runtime");
	fputc(' ', out);
	esc(out, a->container_id[0] ? a->container_id : "(no container id)");
	if (a->pod_namespace && a->pod_name) {
		fputs(", pod ", out);
		esc(out, a->pod_namespace);
		fputc('/', out);
		esc(out, a->pod_name);
	} else if (a->pod_uid[0]) {
		fputs(", pod uid ", out);
		esc(out, a->pod_uid);
	}
}

/* one field, of incident text */
static void field_esc(FILE *out, const struct doc_fmt *d, const char *label, const char *value)
{
	d->field(out, label);
	d->esc(out, value);
	fputs(d->field_end, out);
}

/* ours (names, times, numbers): written as they are */
static void field_raw(FILE *out, const struct doc_fmt *d, const char *label, const char *value)
{
	d->field(out, label);
	fputs(value, out);
	fputs(d->field_end, out);
}

static void heading(FILE *out, const struct doc_fmt *d, const char *title)
{
	fputs(d->h2, out);
	fputs(title, out);
	fputs(d->h2_end, out);
}

/* a table cell, of incident text */
static void cell_esc(FILE *out, const struct doc_fmt *d, const char *value)
{
	d->cell(out, NULL);
	d->esc(out, value);
	fputs(d->cell_end, out);
}

/* ours: written as it is */
static void cell_raw(FILE *out, const struct doc_fmt *d, const char *value)
{
	d->cell(out, NULL);
	fputs(value, out);
	fputs(d->cell_end, out);
}

static void doc_summary(FILE *out, const struct incident *inc, const struct doc_fmt *d)
{
	const struct inc_attr *a = &inc->attr;
	char tb[48];
	size_t i;

	heading(out, d, "Summary");
	fputs(d->list, out);
	d->field(out, "Severity");
	d->severity(out, inc->severity);
	if (inc->severity_reason && *inc->severity_reason) {
		fputs(" \xe2\x80\x94 ", out);
		d->esc(out, inc->severity_reason);
	}
	if (inc->severity != inc->max_detection)
		fprintf(out, " (highest single detection: %s)", severity_name(inc->max_detection));
	fputs(d->field_end, out);
	field_raw(out, d, "Status", incident_status_name(inc->status));
	field_esc(out, d, "Node", inc->node);
	field_raw(out, d, "First seen", report_time(inc->first_ns, tb, sizeof(tb)));
	field_raw(out, d, "Last seen", report_time(inc->last_ns, tb, sizeof(tb)));
	if (a->is_container || a->container_id[0]) {
		d->field(out, "Container");
		container_line(out, a, d->esc);
	} else {
		d->field(out, "Host");
		fputs("process tree ", out);
		d->esc(out, inc->key);
	}
	fputs(d->field_end, out);
	d->field(out, "Counts");
	fprintf(out, "%zu timeline entries, %" PRIu64 " detections with repeats, %zu processes, "
		"%zu actions", inc->nentries, total_detections(inc), inc->nprocs, inc->nactions);
	if (inc->entries_dropped || inc->procs_dropped)
		fprintf(out, "%s%" PRIu64 " timeline entries, %" PRIu64 " processes", d->dropped,
			inc->entries_dropped, inc->procs_dropped);
	fputs(d->field_end, out);
	if (inc->ncats) {
		d->field(out, "Categories");
		for (i = 0; i < inc->ncats; i++) {
			if (i)
				fputs(" \xe2\x86\x92 ", out);
			d->esc(out, inc->cats[i]);
		}
		fputs(d->field_end, out);
	}
	fputs(d->list_end, out);
}

static void doc_attr(FILE *out, const struct incident *inc, const struct doc_fmt *d)
{
	const struct inc_attr *a = &inc->attr;
	char b[32];

	heading(out, d, "Attribution");
	fputs(d->list, out);
	field_raw(out, d, "Where", a->is_container ? "container" : "host");
	field_esc(out, d, "Runtime", a->runtime[0] ? a->runtime : "unknown");
	field_esc(out, d, "Container ID", a->container_id[0] ? a->container_id : "none");
	field_esc(out, d, "Pod UID", a->pod_uid[0] ? a->pod_uid : "none");
	d->field(out, "Pod");
	if (a->pod_namespace && a->pod_name) {
		d->esc(out, a->pod_namespace);
		fputc('/', out);
		d->esc(out, a->pod_name);
	} else {
		fputs("not known", out);
	}
	fputs(d->field_end, out);
	field_esc(out, d, "QoS", a->qos[0] ? a->qos : "none");
	field_esc(out, d, "Cgroup path", a->cgroup_path[0] ? a->cgroup_path : "unknown");
	snprintf(b, sizeof(b), "%" PRIu64, a->cgroup_id);
	field_raw(out, d, "Cgroup ID", b);
	field_esc(out, d, "Correlation key", inc->key);
	fputs(d->list_end, out);
	if (a->pod_json)
		d->json(out, "Pod fields", a->pod_json);
}

static void doc_detections(FILE *out, const struct incident *inc, const struct doc_fmt *d)
{
	char tb[48], tb2[48], url[96];
	size_t i, k;

	heading(out, d, "Detections");
	if (!inc->nentries) {
		d->para(out, "No detections.");
		fputs(d->gap, out);
		return;
	}
	for (i = 0; i < inc->nentries; i++) {
		const struct inc_entry *e = &inc->entries[i];

		fputs(d->h3, out);
		fprintf(out, "Detection %zu: ", i + 1);
		d->esc(out, e->rule);
		fputs(d->h3_end, out);
		fputs(d->list, out);
		field_esc(out, d, "Rule", e->rule);
		field_raw(out, d, "Severity", severity_name(e->severity));
		field_esc(out, d, "Category", e->category);
		d->field(out, "MITRE ATT&CK");
		if (!e->nmitre)
			fputs("none", out);
		for (k = 0; k < e->nmitre; k++) {
			if (k)
				fputs(", ", out);
			if (mitre_valid(e->mitre[k])) {
				mitre_url(e->mitre[k], url, sizeof(url));
				d->mitre_link(out, e->mitre[k], url);
			} else {
				d->esc(out, e->mitre[k]);
			}
		}
		fputs(d->field_end, out);
		field_esc(out, d, "Source", e->source);
		d->field(out, "Seen");
		fprintf(out, "%s to %s, %" PRIu32 " time%s", report_time(e->first_ns, tb, sizeof(tb)),
			report_time(e->last_ns, tb2, sizeof(tb2)), e->count, e->count == 1 ? "" : "s");
		fputs(d->field_end, out);
		d->field(out, "PID");
		fprintf(out, "%" PRIu32, e->pid);
		fputs(d->field_end, out);
		field_esc(out, d, "Summary", e->summary);
		fputs(d->list_end, out);
		if (e->event_json)
			d->json(out, "Event fields", e->event_json);
	}
}

static const struct doc_col timeline_cols[] = {
	{ "Time", false },     { "Source", false }, { "Rule", false },    { "Severity", false },
	{ "Category", false }, { "MITRE", false },  { "Summary", false }, { "Count", true },
};

static void doc_timeline(FILE *out, const struct incident *inc, const struct doc_fmt *d)
{
	char tb[48], cls[32];
	size_t i, k;

	heading(out, d, "Timeline");
	if (!inc->nentries) {
		d->para(out, "No detections.");
		fputs(d->gap, out);
		return;
	}
	d->table(out, timeline_cols, sizeof(timeline_cols) / sizeof(timeline_cols[0]));
	for (i = 0; i < inc->nentries; i++) {
		const struct inc_entry *e = &inc->entries[i];

		fputs(d->row, out);
		cell_raw(out, d, report_time(e->first_ns, tb, sizeof(tb)));
		cell_esc(out, d, e->source);
		cell_esc(out, d, e->rule);
		snprintf(cls, sizeof(cls), "sev-%s", severity_name(e->severity));
		d->cell(out, cls);
		fputs(severity_name(e->severity), out);
		fputs(d->cell_end, out);
		cell_esc(out, d, e->category);
		d->cell(out, NULL);
		for (k = 0; k < e->nmitre; k++) {
			if (k)
				fputs(", ", out);
			d->esc(out, e->mitre[k]);
		}
		fputs(d->cell_end, out);
		cell_esc(out, d, e->summary);
		d->cell(out, NULL);
		fprintf(out, "%" PRIu32, e->count);
		fputs(d->cell_end, out);
		fputs(d->row_end, out);
	}
	fputs(d->table_end, out);
	fputs(d->gap, out);
}

static void proc_line(FILE *out, const struct inc_proc *p, const struct doc_fmt *d)
{
	fputs(d->code, out);
	fprintf(out, "pid %" PRIu32, p->pid);
	fputs(d->code_end, out);
	fprintf(out, " (uid %" PRIu32 ", euid %" PRIu32 ") ", p->uid, p->euid);
	fputs(d->code, out);
	d->esc(out, p->exe && *p->exe ? p->exe : "(unknown executable)");
	fputs(d->code_end, out);
	if (p->cmdline && *p->cmdline) {
		fputs(": ", out);
		fputs(d->code, out);
		d->esc(out, p->cmdline);
		fputs(d->code_end, out);
	}
}

static void doc_procs(FILE *out, const struct incident *inc, const struct doc_fmt *d)
{
	size_t *order = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*order));
	unsigned *depth = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*depth));
	unsigned cur = 0, dep, k;
	size_t n, i;

	heading(out, d, "Process tree");
	if (!inc->nprocs || !order || !depth) {
		d->para(out, inc->nprocs ? "(out of memory)" : "No processes recorded.");
		fputs(d->gap, out);
		goto out;
	}
	n = proc_tree(inc, order, depth);
	fputs(d->tree, out);
	for (i = 0; i < n; i++) {
		dep = depth[i] > INDENT_MAX ? INDENT_MAX : depth[i];
		if (i && dep > cur) {
			/* depth-first order: one level deeper at most */
			fputs(d->sub, out);
			cur++;
		} else {
			if (i)
				fputs(d->item_end, out);
			for (; cur > dep; cur--)
				fputs(d->sub_end, out);
		}
		for (k = 0; k < dep; k++)
			fputs(d->indent, out);
		fputs(d->item, out);
		proc_line(out, &inc->procs[order[i]], d);
	}
	fputs(d->item_end, out);
	for (k = 0; k < cur; k++)
		fputs(d->sub_end, out);
	fputs(d->tree_end, out);
	fputs(d->gap, out);
out:
	free(order);
	free(depth);
}

static const struct doc_col action_cols[] = {
	{ "Time", false },   { "Action", false }, { "Phase", false },   { "Target", false },
	{ "Result", false }, { "Detail", false }, { "Dry run", false },
};

/* the last section: no gap after it */
static void doc_actions(FILE *out, const struct incident *inc, const struct doc_fmt *d)
{
	char tb[48];
	size_t i;

	heading(out, d, "Actions");
	if (!inc->nactions) {
		d->para(out, "No actions were taken.");
		return;
	}
	d->table(out, action_cols, sizeof(action_cols) / sizeof(action_cols[0]));
	for (i = 0; i < inc->nactions; i++) {
		const struct inc_action *a = &inc->actions[i];

		fputs(d->row, out);
		cell_raw(out, d, report_time(a->ts_ns, tb, sizeof(tb)));
		cell_esc(out, d, a->action);
		cell_esc(out, d, a->phase);
		cell_esc(out, d, a->target);
		cell_esc(out, d, a->result);
		cell_esc(out, d, a->detail);
		cell_raw(out, d, a->dry_run ? "yes" : "no");
		fputs(d->row_end, out);
	}
	fputs(d->table_end, out);
}

void doc_report(FILE *out, const struct incident *inc0, const struct doc_fmt *d)
{
	struct safe_inc s;
	const struct incident *inc = safe_open(&s, inc0);

	d->head(out, inc);
	doc_summary(out, inc, d);
	doc_timeline(out, inc, d);
	doc_procs(out, inc, d);
	doc_attr(out, inc, d);
	doc_detections(out, inc, d);
	doc_actions(out, inc, d);
	fputs(d->tail, out);
	safe_close(&s);
}
