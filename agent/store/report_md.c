// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports: Markdown (report_markdown). Every incident string goes
 * through md(); raw JSON goes into a fenced block its content cannot close.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* ---------------------------------------------------------------- Markdown */

static void md(FILE *out, const char *s)
{
	put_esc(out, F_MD, s);
}

/* the longest run of c in s */
static size_t longest_run(const char *s, char c)
{
	size_t best = 0, cur = 0;

	for (; *s; s++) {
		cur = *s == c ? cur + 1 : 0;
		if (cur > best)
			best = cur;
	}
	return best;
}

/* a fenced json block that its content cannot close */
static void md_json_block(FILE *out, const char *json)
{
	char *buf = NULL;
	size_t len = 0, fence, i;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	json_put(m, json, 2, 0, true);
	if (fclose(m)) {
		free(buf);
		return;
	}
	fence = longest_run(buf, '`') + 1;
	if (fence < 3)
		fence = 3;
	for (i = 0; i < fence; i++)
		fputc('`', out);
	fputs("json\n", out);
	fputs(buf, out);
	fputc('\n', out);
	for (i = 0; i < fence; i++)
		fputc('`', out);
	fputs("\n\n", out);
	free(buf);
}

static void md_severity(FILE *out, const struct incident *inc)
{
	fprintf(out, "- **Severity:** %s", severity_name(inc->severity));
	if (inc->severity_reason && *inc->severity_reason) {
		fputs(" \xe2\x80\x94 ", out);
		md(out, inc->severity_reason);
	}
	if (inc->severity != inc->max_detection)
		fprintf(out, " (highest single detection: %s)", severity_name(inc->max_detection));
	fputc('\n', out);
}

static void md_summary(FILE *out, const struct incident *inc)
{
	const struct inc_attr *a = &inc->attr;
	char tb[48];
	size_t i;

	fputs("## Summary\n\n", out);
	md_severity(out, inc);
	fprintf(out, "- **Status:** %s\n", inc_status_name(inc->status));
	fputs("- **Node:** ", out);
	md(out, inc->node);
	fprintf(out, "\n- **First seen:** %s\n", report_time(inc->first_ns, tb, sizeof(tb)));
	fprintf(out, "- **Last seen:** %s\n", report_time(inc->last_ns, tb, sizeof(tb)));
	if (a->is_container || a->container_id[0]) {
		fputs("- **Container:** ", out);
		container_line(out, a, md);
		fputc('\n', out);
	} else {
		fputs("- **Host:** process tree ", out);
		md(out, inc->key);
		fputc('\n', out);
	}
	fprintf(out, "- **Counts:** %zu timeline entries, %" PRIu64 " detections with repeats, "
		"%zu processes, %zu actions\n", inc->nentries, total_detections(inc), inc->nprocs,
		inc->nactions);
	if (inc->entries_dropped || inc->procs_dropped)
		fprintf(out, "- **Dropped over the bounds:** %" PRIu64 " timeline entries, %" PRIu64
			" processes\n", inc->entries_dropped, inc->procs_dropped);
	if (inc->ncats) {
		fputs("- **Categories:** ", out);
		for (i = 0; i < inc->ncats; i++) {
			if (i)
				fputs(" \xe2\x86\x92 ", out);
			md(out, inc->cats[i]);
		}
		fputc('\n', out);
	}
	fputc('\n', out);
}

static void md_timeline(FILE *out, const struct incident *inc)
{
	char tb[48];
	size_t i, k;

	fputs("## Timeline\n\n", out);
	if (!inc->nentries) {
		fputs("No detections.\n\n", out);
		return;
	}
	fputs("| Time | Source | Rule | Severity | Category | MITRE | Summary | Count |\n", out);
	fputs("|---|---|---|---|---|---|---|---:|\n", out);
	for (i = 0; i < inc->nentries; i++) {
		const struct inc_entry *e = &inc->entries[i];

		fprintf(out, "| %s | ", report_time(e->first_ns, tb, sizeof(tb)));
		md(out, e->source);
		fputs(" | ", out);
		md(out, e->rule);
		fprintf(out, " | %s | ", severity_name(e->severity));
		md(out, e->category);
		fputs(" | ", out);
		for (k = 0; k < e->nmitre; k++) {
			if (k)
				fputs(", ", out);
			md(out, e->mitre[k]);
		}
		fputs(" | ", out);
		md(out, e->summary);
		fprintf(out, " | %" PRIu32 " |\n", e->count);
	}
	fputc('\n', out);
}

static void md_proc_line(FILE *out, const struct inc_proc *p)
{
	fprintf(out, "pid %" PRIu32 " (uid %" PRIu32 ", euid %" PRIu32 ") ", p->pid, p->uid, p->euid);
	md(out, p->exe && *p->exe ? p->exe : "(unknown executable)");
	if (p->cmdline && *p->cmdline) {
		fputs(": ", out);
		md(out, p->cmdline);
	}
}

static void md_procs(FILE *out, const struct incident *inc)
{
	size_t *order = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*order));
	unsigned *depth = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*depth));
	size_t n, i;
	unsigned d, k;

	fputs("## Process tree\n\n", out);
	if (!inc->nprocs || !order || !depth) {
		fputs(inc->nprocs ? "(out of memory)\n\n" : "No processes recorded.\n\n", out);
		goto out;
	}
	n = proc_tree(inc, order, depth);
	for (i = 0; i < n; i++) {
		d = depth[i] > INDENT_MAX ? INDENT_MAX : depth[i];
		for (k = 0; k < d; k++)
			fputs("  ", out);
		fputs("- ", out);
		md_proc_line(out, &inc->procs[order[i]]);
		fputc('\n', out);
	}
	fputc('\n', out);
out:
	free(order);
	free(depth);
}

static void md_attr(FILE *out, const struct incident *inc)
{
	const struct inc_attr *a = &inc->attr;

	fputs("## Attribution\n\n", out);
	fprintf(out, "- **Where:** %s\n", a->is_container ? "container" : "host");
	fputs("- **Runtime:** ", out);
	md(out, a->runtime[0] ? a->runtime : "unknown");
	fputs("\n- **Container ID:** ", out);
	md(out, a->container_id[0] ? a->container_id : "none");
	fputs("\n- **Pod UID:** ", out);
	md(out, a->pod_uid[0] ? a->pod_uid : "none");
	fputs("\n- **Pod:** ", out);
	if (a->pod_namespace && a->pod_name) {
		md(out, a->pod_namespace);
		fputc('/', out);
		md(out, a->pod_name);
	} else {
		fputs("not known", out);
	}
	fputs("\n- **QoS:** ", out);
	md(out, a->qos[0] ? a->qos : "none");
	fputs("\n- **Cgroup path:** ", out);
	md(out, a->cgroup_path[0] ? a->cgroup_path : "unknown");
	fprintf(out, "\n- **Cgroup ID:** %" PRIu64 "\n", a->cgroup_id);
	fputs("- **Correlation key:** ", out);
	md(out, inc->key);
	fputs("\n\n", out);
	if (a->pod_json) {
		fputs("Pod fields:\n\n", out);
		md_json_block(out, a->pod_json);
	}
}

static void md_detections(FILE *out, const struct incident *inc)
{
	char tb[48], tb2[48], url[96];
	size_t i, k;

	fputs("## Detections\n\n", out);
	if (!inc->nentries) {
		fputs("No detections.\n\n", out);
		return;
	}
	for (i = 0; i < inc->nentries; i++) {
		const struct inc_entry *e = &inc->entries[i];

		fprintf(out, "### Detection %zu: ", i + 1);
		md(out, e->rule);
		fputs("\n\n- **Rule:** ", out);
		md(out, e->rule);
		fprintf(out, "\n- **Severity:** %s\n- **Category:** ", severity_name(e->severity));
		md(out, e->category);
		fputs("\n- **MITRE ATT&CK:** ", out);
		if (!e->nmitre)
			fputs("none", out);
		for (k = 0; k < e->nmitre; k++) {
			if (k)
				fputs(", ", out);
			if (mitre_valid(e->mitre[k])) {
				mitre_url(e->mitre[k], url, sizeof(url));
				fprintf(out, "[%s](%s)", e->mitre[k], url);
			} else {
				md(out, e->mitre[k]);
			}
		}
		fputs("\n- **Source:** ", out);
		md(out, e->source);
		fprintf(out, "\n- **Seen:** %s to %s, %" PRIu32 " time%s\n- **PID:** %" PRIu32 "\n",
			report_time(e->first_ns, tb, sizeof(tb)), report_time(e->last_ns, tb2, sizeof(tb2)),
			e->count, e->count == 1 ? "" : "s", e->pid);
		fputs("- **Summary:** ", out);
		md(out, e->summary);
		fputs("\n\n", out);
		if (e->event_json) {
			fputs("Event fields:\n\n", out);
			md_json_block(out, e->event_json);
		}
	}
}

static void md_actions(FILE *out, const struct incident *inc)
{
	char tb[48];
	size_t i;

	fputs("## Actions\n\n", out);
	if (!inc->nactions) {
		fputs("No actions were taken.\n", out);
		return;
	}
	fputs("| Time | Action | Phase | Target | Result | Detail | Dry run |\n", out);
	fputs("|---|---|---|---|---|---|---|\n", out);
	for (i = 0; i < inc->nactions; i++) {
		const struct inc_action *a = &inc->actions[i];

		fprintf(out, "| %s | ", report_time(a->ts_ns, tb, sizeof(tb)));
		md(out, a->action);
		fputs(" | ", out);
		md(out, a->phase);
		fputs(" | ", out);
		md(out, a->target);
		fputs(" | ", out);
		md(out, a->result);
		fputs(" | ", out);
		md(out, a->detail);
		fprintf(out, " | %s |\n", a->dry_run ? "yes" : "no");
	}
}

void report_markdown(FILE *out, const struct incident *inc0)
{
	struct safe_inc s;
	const struct incident *inc = safe_open(&s, inc0);

	fputs("# Incident ", out);
	md(out, inc->id);
	fputs("\n\n", out);
	md_summary(out, inc);
	md_timeline(out, inc);
	md_procs(out, inc);
	md_attr(out, inc);
	md_detections(out, inc);
	md_actions(out, inc);
	safe_close(&s);
}
