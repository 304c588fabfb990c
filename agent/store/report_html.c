// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports: HTML (report_html), one self-contained page with a
 * restrictive CSP and no script. Every incident string goes through h().
 * The markup for the walk report_doc.c shares with Markdown (html_fmt).
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

static void html_table(FILE *out, const struct doc_col *cols, size_t ncols)
{
	size_t i;

	fputs("<table>\n<tr>", out);
	for (i = 0; i < ncols; i++)
		fprintf(out, "<th>%s</th>", cols[i].name);
	fputs("</tr>\n", out);
}

static void html_cell(FILE *out, const char *cls)
{
	if (cls)
		fprintf(out, "<td class=\"%s\">", cls);
	else
		fputs("<td>", out);
}

static const struct doc_fmt html_fmt = {
	.esc = h,
	.head = html_top,
	.tail = "</body>\n</html>\n",
	.gap = "",
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
	.table = html_table,
	.table_end = "</table>\n",
	.row = "<tr>",
	.row_end = "</tr>\n",
	.cell = html_cell,
	.cell_end = "</td>",
	.tree = "<ul class=\"tree\">\n",
	.tree_end = "</ul>\n",
	.item = "<li>",
	.item_end = "</li>\n",
	.sub = "\n<ul>\n",
	.sub_end = "</ul></li>\n",
	.indent = "",
	.code = "<code>",
	.code_end = "</code>",
};

void report_html(FILE *out, const struct incident *inc)
{
	doc_report(out, inc, &html_fmt);
}
