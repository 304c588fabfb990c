/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Incident report internals, shared by the report writers and by nothing
 * else (report.h is the public API).
 *
 *   report.c       escaping, the helpers every writer uses (times, the
 *                  process tree), terminal text, list lines, filters,
 *                  loading the journal
 *   report_json.c  JSON re-serialization and the JSON reports
 *   report_doc.c   the walk the Markdown and HTML reports share: field
 *                  lists, tables, the process tree
 *   report_md.c    the Markdown markup (struct doc_fmt)
 *   report_html.c  the HTML markup (struct doc_fmt)
 */
#ifndef NODEGUARD_REPORT_INT_H
#define NODEGUARD_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"
#include "textesc.h"

enum fmt { F_TEXT, F_MD, F_HTML };

#define INDENT_MAX 64

/*
 * A shallow copy of the incident in which every raw JSON member (event
 * fields, pod fields) is a JSON object, so incident_to_json writes a valid
 * document. Usually the incident itself.
 */
struct safe_inc {
	const struct incident *orig;
	struct incident copy;
	bool copied;
};

/* report.c */
void put_unit(FILE *out, enum fmt f, const char *p, size_t n);
void put_esc(FILE *out, enum fmt f, const char *s);
uint64_t total_detections(const struct incident *inc);
size_t proc_tree(const struct incident *inc, size_t *order, unsigned *depth);

/* report_json.c */
void json_put(FILE *out, const char *s, int step, int depth, bool html_safe);
char *json_pretty(const char *json, bool html_safe, size_t *len);
const struct incident *safe_open(struct safe_inc *s, const struct incident *inc);
void safe_close(struct safe_inc *s);

/* a column of a report table: its heading, and whether it is right-aligned */
struct doc_col {
	const char *name;
	bool right;
};

/*
 * The markup of a Markdown or HTML report, for the walk both share
 * (report_doc.c). Strings are written as they are; esc writes incident text.
 */
struct doc_fmt {
	void (*esc)(FILE *out, const char *s);
	void (*head)(FILE *out, const struct incident *inc); /* up to the first section */
	const char *tail;                                    /* after the last */
	const char *gap;     /* after a section's last table, tree or paragraph, but the last's */
	const char *h2, *h2_end;                             /* a section heading */
	const char *h3, *h3_end;                             /* a detection's heading */
	const char *list, *list_end;                         /* around a list of fields */
	void (*field)(FILE *out, const char *label);         /* up to a field's value */
	const char *field_end;
	const char *dropped;      /* in Counts, before what was dropped over the bounds */
	void (*severity)(FILE *out, enum ng_severity s);     /* the incident's */
	void (*para)(FILE *out, const char *text);           /* a sentence of ours */
	void (*json)(FILE *out, const char *label, const char *json); /* raw event JSON */
	void (*mitre_link)(FILE *out, const char *id, const char *url);
	/* tables (timeline, actions): the opening and the header row, then rows of cells */
	void (*table)(FILE *out, const struct doc_col *cols, size_t ncols);
	const char *table_end;
	const char *row, *row_end;
	void (*cell)(FILE *out, const char *cls); /* up to a cell's text; cls: a class or NULL */
	const char *cell_end;
	/*
	 * The process tree, depth-first: an item, then either its children's
	 * list (sub) or the item's end and the end of every list it closes
	 * (sub_end closes a list and the item holding it). Markdown indents
	 * instead of nesting.
	 */
	const char *tree, *tree_end;
	const char *item, *item_end;
	const char *sub, *sub_end;
	const char *indent;                                  /* once a level */
	const char *code, *code_end;                         /* around a pid, a path, a command */
};

/* report_doc.c */
void doc_report(FILE *out, const struct incident *inc, const struct doc_fmt *d);

#endif /* NODEGUARD_REPORT_INT_H */
