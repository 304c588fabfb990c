// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports: HTML (report_html), one self-contained page with a
 * restrictive CSP and no script. Every incident string goes through h().
 * The markup for the walk report_doc.c shares with Markdown (html_fmt) and
 * the sections whose markup differs in shape (timeline, process tree,
 * actions).
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
	size_t len, i;
	char *buf = json_pretty(json, false, &len);

	if (!buf)
		return;
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

/* the page up to the first section */
static void html_top(FILE *out, const struct incident *inc)
{
	html_head(out, inc);
	fputs("<h1>Incident ", out);
	h(out, inc->id);
	fputs("</h1>\n", out);
}

static void html_field(FILE *out, const char *label)
{
	fputs("<tr><th>", out);
	h(out, label);
	fputs("</th><td>", out);
}

static void html_severity(FILE *out, enum ng_severity s)
{
	fprintf(out, "<span class=\"sev-%s\">%s</span>", severity_name(s), severity_name(s));
}

static void html_para(FILE *out, const char *text)
{
	fprintf(out, "<p>%s</p>\n", text);
}

static void html_json(FILE *out, const char *label, const char *json)
{
	fprintf(out, "<p>%s:</p>\n", label);
	html_json_pre(out, json);
}

static void html_mitre_link(FILE *out, const char *id, const char *url)
{
	fprintf(out, "<a href=\"%s\" rel=\"noopener noreferrer\">%s</a>", url, id);
}

static const struct doc_fmt html_fmt = {
	.esc = h,
	.head = html_top,
	.tail = "</body>\n</html>\n",
	.h2 = "<h2>",
	.h2_end = "</h2>\n",
	.h3 = "<h3>",
	.h3_end = "</h3>\n",
	.list = "<table>\n",
	.list_end = "</table>\n",
	.field = html_field,
	.field_end = "</td></tr>\n",
	.dropped = "; dropped over the bounds: ",
	.severity = html_severity,
	.para = html_para,
	.json = html_json,
	.mitre_link = html_mitre_link,
	.timeline = html_timeline,
	.procs = html_procs,
	.actions = html_actions,
};

void report_html(FILE *out, const struct incident *inc)
{
	doc_report(out, inc, &html_fmt);
}
