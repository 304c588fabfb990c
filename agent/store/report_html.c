// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports: HTML (report_html), one self-contained page with a
 * restrictive CSP and no script. Every incident string goes through h().
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* ---------------------------------------------------------------- HTML */

static void h(FILE *out, const char *s)
{
	put_esc(out, F_HTML, s);
}

static void html_json_pre(FILE *out, const char *json)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	json_put(m, json, 2, 0, false);
	if (fclose(m)) {
		free(buf);
		return;
	}
	/* json_put leaves only printable text and its own newlines */
	fputs("<pre>", out);
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n')
			fputc('\n', out);
		else
			put_unit(out, F_HTML, buf + i, 1);
	}
	fputs("</pre>\n", out);
	free(buf);
}

static void html_row(FILE *out, const char *label, const char *value)
{
	fprintf(out, "<tr><th>%s</th><td>", label);
	h(out, value);
	fputs("</td></tr>\n", out);
}

static void html_head(FILE *out, const struct incident *inc)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; img-src 'none'; script-src 'none'; object-src 'none'; "
	      "base-uri 'none'; form-action 'none'\">\n"
	      "<meta name=\"referrer\" content=\"no-referrer\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>Incident ", out);
	h(out, inc->id);
	fputs("</title>\n<style>\n"
	      "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}\n"
	      "table{border-collapse:collapse;margin:0.5em 0 1.5em}\n"
	      "th,td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:left;vertical-align:top}\n"
	      "th{background:#f4f4f4}\n"
	      "td{word-break:break-all}\n"
	      "pre{background:#f6f8fa;padding:0.75em;overflow-x:auto;white-space:pre-wrap;"
	      "word-break:break-all}\n"
	      ".sev-critical,.sev-high{color:#b00020;font-weight:bold}\n"
	      ".sev-medium{color:#a15c00;font-weight:bold}\n"
	      "ul.tree,ul.tree ul{list-style:none;padding-left:1.5em}\n"
	      "code{font-family:ui-monospace,monospace}\n"
	      "</style>\n</head>\n<body>\n", out);
}

static void html_summary(FILE *out, const struct incident *inc)
{
	const struct inc_attr *a = &inc->attr;
	char tb[48];
	size_t i;

	fputs("<h2>Summary</h2>\n<table>\n", out);
	fprintf(out, "<tr><th>Severity</th><td><span class=\"sev-%s\">%s</span>",
		severity_name(inc->severity), severity_name(inc->severity));
	if (inc->severity_reason && *inc->severity_reason) {
		fputs(" \xe2\x80\x94 ", out);
		h(out, inc->severity_reason);
	}
	if (inc->severity != inc->max_detection)
		fprintf(out, " (highest single detection: %s)", severity_name(inc->max_detection));
	fputs("</td></tr>\n", out);
	html_row(out, "Status", inc_status_name(inc->status));
	html_row(out, "Node", inc->node);
	html_row(out, "First seen", report_time(inc->first_ns, tb, sizeof(tb)));
	html_row(out, "Last seen", report_time(inc->last_ns, tb, sizeof(tb)));
	if (a->is_container || a->container_id[0]) {
		fputs("<tr><th>Container</th><td>", out);
		container_line(out, a, h);
		fputs("</td></tr>\n", out);
	} else {
		fputs("<tr><th>Host</th><td>process tree ", out);
		h(out, inc->key);
		fputs("</td></tr>\n", out);
	}
	fprintf(out, "<tr><th>Counts</th><td>%zu timeline entries, %" PRIu64 " detections with "
		"repeats, %zu processes, %zu actions", inc->nentries, total_detections(inc),
		inc->nprocs, inc->nactions);
	if (inc->entries_dropped || inc->procs_dropped)
		fprintf(out, "; dropped over the bounds: %" PRIu64 " timeline entries, %" PRIu64
			" processes", inc->entries_dropped, inc->procs_dropped);
	fputs("</td></tr>\n", out);
	if (inc->ncats) {
		fputs("<tr><th>Categories</th><td>", out);
		for (i = 0; i < inc->ncats; i++) {
			if (i)
				fputs(" \xe2\x86\x92 ", out);
			h(out, inc->cats[i]);
		}
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
}

static void html_timeline(FILE *out, const struct incident *inc)
{
	char tb[48];
	size_t i, k;

	fputs("<h2>Timeline</h2>\n", out);
	if (!inc->nentries) {
		fputs("<p>No detections.</p>\n", out);
		return;
	}
	fputs("<table>\n<tr><th>Time</th><th>Source</th><th>Rule</th><th>Severity</th>"
	      "<th>Category</th><th>MITRE</th><th>Summary</th><th>Count</th></tr>\n", out);
	for (i = 0; i < inc->nentries; i++) {
		const struct inc_entry *e = &inc->entries[i];

		fprintf(out, "<tr><td>%s</td><td>", report_time(e->first_ns, tb, sizeof(tb)));
		h(out, e->source);
		fputs("</td><td>", out);
		h(out, e->rule);
		fprintf(out, "</td><td class=\"sev-%s\">%s</td><td>", severity_name(e->severity),
			severity_name(e->severity));
		h(out, e->category);
		fputs("</td><td>", out);
		for (k = 0; k < e->nmitre; k++) {
			if (k)
				fputs(", ", out);
			h(out, e->mitre[k]);
		}
		fputs("</td><td>", out);
		h(out, e->summary);
		fprintf(out, "</td><td>%" PRIu32 "</td></tr>\n", e->count);
	}
	fputs("</table>\n", out);
}

static void html_procs(FILE *out, const struct incident *inc)
{
	size_t *order = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*order));
	unsigned *depth = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*depth));
	unsigned cur = 0, d, k;
	size_t n, i;

	fputs("<h2>Process tree</h2>\n", out);
	if (!inc->nprocs || !order || !depth) {
		fputs(inc->nprocs ? "<p>(out of memory)</p>\n" : "<p>No processes recorded.</p>\n", out);
		goto out;
	}
	n = proc_tree(inc, order, depth);
	fputs("<ul class=\"tree\">\n", out);
	for (i = 0; i < n; i++) {
		const struct inc_proc *p = &inc->procs[order[i]];

		d = depth[i] > INDENT_MAX ? INDENT_MAX : depth[i];
		if (i && d > cur) {
			/* depth-first order: one level deeper at most */
			fputs("\n<ul>\n", out);
			cur++;
		} else {
			if (i)
				fputs("</li>\n", out);
			for (; cur > d; cur--)
				fputs("</ul></li>\n", out);
		}
		fprintf(out, "<li><code>pid %" PRIu32 "</code> (uid %" PRIu32 ", euid %" PRIu32 ") <code>",
			p->pid, p->uid, p->euid);
		h(out, p->exe && *p->exe ? p->exe : "(unknown executable)");
		fputs("</code>", out);
		if (p->cmdline && *p->cmdline) {
			fputs(": <code>", out);
			h(out, p->cmdline);
			fputs("</code>", out);
		}
	}
	fputs("</li>\n", out);
	for (k = 0; k < cur; k++)
		fputs("</ul></li>\n", out);
	fputs("</ul>\n", out);
out:
	free(order);
	free(depth);
}

static void html_attr(FILE *out, const struct incident *inc)
{
	const struct inc_attr *a = &inc->attr;
	char b[32];

	fputs("<h2>Attribution</h2>\n<table>\n", out);
	html_row(out, "Where", a->is_container ? "container" : "host");
	html_row(out, "Runtime", a->runtime[0] ? a->runtime : "unknown");
	html_row(out, "Container ID", a->container_id[0] ? a->container_id : "none");
	html_row(out, "Pod UID", a->pod_uid[0] ? a->pod_uid : "none");
	fputs("<tr><th>Pod</th><td>", out);
	if (a->pod_namespace && a->pod_name) {
		h(out, a->pod_namespace);
		fputc('/', out);
		h(out, a->pod_name);
	} else {
		fputs("not known", out);
	}
	fputs("</td></tr>\n", out);
	html_row(out, "QoS", a->qos[0] ? a->qos : "none");
	html_row(out, "Cgroup path", a->cgroup_path[0] ? a->cgroup_path : "unknown");
	snprintf(b, sizeof(b), "%" PRIu64, a->cgroup_id);
	html_row(out, "Cgroup ID", b);
	html_row(out, "Correlation key", inc->key);
	fputs("</table>\n", out);
	if (a->pod_json) {
		fputs("<p>Pod fields:</p>\n", out);
		html_json_pre(out, a->pod_json);
	}
}

static void html_detections(FILE *out, const struct incident *inc)
{
	char tb[48], tb2[48], url[96];
	size_t i, k;

	fputs("<h2>Detections</h2>\n", out);
	if (!inc->nentries) {
		fputs("<p>No detections.</p>\n", out);
		return;
	}
	for (i = 0; i < inc->nentries; i++) {
		const struct inc_entry *e = &inc->entries[i];

		fprintf(out, "<h3>Detection %zu: ", i + 1);
		h(out, e->rule);
		fputs("</h3>\n<table>\n", out);
		html_row(out, "Rule", e->rule);
		html_row(out, "Severity", severity_name(e->severity));
		html_row(out, "Category", e->category);
		fputs("<tr><th>MITRE ATT&amp;CK</th><td>", out);
		if (!e->nmitre)
			fputs("none", out);
		for (k = 0; k < e->nmitre; k++) {
			if (k)
				fputs(", ", out);
			if (mitre_valid(e->mitre[k])) {
				mitre_url(e->mitre[k], url, sizeof(url));
				fprintf(out, "<a href=\"%s\" rel=\"noopener noreferrer\">%s</a>", url,
					e->mitre[k]);
			} else {
				h(out, e->mitre[k]);
			}
		}
		fputs("</td></tr>\n", out);
		html_row(out, "Source", e->source);
		fprintf(out, "<tr><th>Seen</th><td>%s to %s, %" PRIu32 " time%s</td></tr>\n",
			report_time(e->first_ns, tb, sizeof(tb)), report_time(e->last_ns, tb2, sizeof(tb2)),
			e->count, e->count == 1 ? "" : "s");
		fprintf(out, "<tr><th>PID</th><td>%" PRIu32 "</td></tr>\n", e->pid);
		html_row(out, "Summary", e->summary);
		fputs("</table>\n", out);
		if (e->event_json) {
			fputs("<p>Event fields:</p>\n", out);
			html_json_pre(out, e->event_json);
		}
	}
}

static void html_actions(FILE *out, const struct incident *inc)
{
	char tb[48];
	size_t i;

	fputs("<h2>Actions</h2>\n", out);
	if (!inc->nactions) {
		fputs("<p>No actions were taken.</p>\n", out);
		return;
	}
	fputs("<table>\n<tr><th>Time</th><th>Action</th><th>Phase</th><th>Target</th>"
	      "<th>Result</th><th>Detail</th><th>Dry run</th></tr>\n", out);
	for (i = 0; i < inc->nactions; i++) {
		const struct inc_action *a = &inc->actions[i];

		fprintf(out, "<tr><td>%s</td><td>", report_time(a->ts_ns, tb, sizeof(tb)));
		h(out, a->action);
		fputs("</td><td>", out);
		h(out, a->phase);
		fputs("</td><td>", out);
		h(out, a->target);
		fputs("</td><td>", out);
		h(out, a->result);
		fputs("</td><td>", out);
		h(out, a->detail);
		fprintf(out, "</td><td>%s</td></tr>\n", a->dry_run ? "yes" : "no");
	}
	fputs("</table>\n", out);
}

void report_html(FILE *out, const struct incident *inc0)
{
	struct safe_inc s;
	const struct incident *inc = safe_open(&s, inc0);

	html_head(out, inc);
	fputs("<h1>Incident ", out);
	h(out, inc->id);
	fputs("</h1>\n", out);
	html_summary(out, inc);
	html_timeline(out, inc);
	html_procs(out, inc);
	html_attr(out, inc);
	html_detections(out, inc);
	html_actions(out, inc);
	fputs("</body>\n</html>\n", out);
	safe_close(&s);
}
