// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports: Markdown (report_markdown). Every incident string goes
 * through md(); raw JSON goes into a fenced block its content cannot close.
 * The markup for the walk report_doc.c shares with HTML (md_fmt).
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
	size_t len, fence, i;
	char *buf = json_pretty(json, true, &len);

	if (!buf)
		return;
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

static void md_head(FILE *out, const struct incident *inc)
{
	fputs("# Incident ", out);
	md(out, inc->id);
	fputs("\n\n", out);
}

static void md_field(FILE *out, const char *label)
{
	fprintf(out, "- **%s:** ", label);
}

static void md_severity(FILE *out, enum ng_severity s)
{
	fputs(severity_name(s), out);
}

static void md_para(FILE *out, const char *text)
{
	fprintf(out, "%s\n", text);
}

static void md_json(FILE *out, const char *label, const char *json)
{
	fprintf(out, "%s:\n\n", label);
	md_json_block(out, json);
}

static void md_mitre_link(FILE *out, const char *id, const char *url)
{
	fprintf(out, "[%s](%s)", id, url);
}

/* | A | B |, then |---|---:| */
static void md_table(FILE *out, const struct doc_col *cols, size_t ncols)
{
	size_t i;

	fputc('|', out);
	for (i = 0; i < ncols; i++)
		fprintf(out, " %s |", cols[i].name);
	fputs("\n|", out);
	for (i = 0; i < ncols; i++)
		fputs(cols[i].right ? "---:|" : "---|", out);
	fputc('\n', out);
}

static void md_cell(FILE *out, const char *cls)
{
	fputc(' ', out);
}

static const struct doc_fmt md_fmt = {
	.esc = md,
	.head = md_head,
	.tail = "",
	.gap = "\n",
	.h2 = "## ",
	.h2_end = "\n\n",
	.h3 = "### ",
	.h3_end = "\n\n",
	.list = "",
	.list_end = "\n",
	.field = md_field,
	.field_end = "\n",
	.dropped = "\n- **Dropped over the bounds:** ",
	.severity = md_severity,
	.para = md_para,
	.json = md_json,
	.mitre_link = md_mitre_link,
	.table = md_table,
	.table_end = "",
	.row = "|",
	.row_end = "\n",
	.cell = md_cell,
	.cell_end = " |",
	.tree = "",
	.tree_end = "",
	.item = "- ",
	.item_end = "\n",
	.sub = "\n",
	.sub_end = "",
	.indent = "  ",
	.code = "",
	.code_end = "",
};

void report_markdown(FILE *out, const struct incident *inc)
{
	doc_report(out, inc, &md_fmt);
}
