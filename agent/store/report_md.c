// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports: Markdown (report_markdown). Every incident string goes
 * through md(); raw JSON goes into a fenced block its content cannot close.
 * The markup for the walk report_doc.c shares with HTML (md_fmt) and the
 * sections whose markup differs in shape (timeline, process tree, actions).
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
	fprintf(out, "%s\n\n", text);
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

static const struct doc_fmt md_fmt = {
	.esc = md,
	.head = md_head,
	.tail = "",
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
	.timeline = md_timeline,
	.procs = md_procs,
	.actions = md_actions,
};

void report_markdown(FILE *out, const struct incident *inc)
{
	doc_report(out, inc, &md_fmt);
}
