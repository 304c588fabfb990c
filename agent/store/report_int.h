/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Incident report internals, shared by the report writers and by nothing
 * else (report.h is the public API).
 *
 *   report.c       escaping, the helpers every writer uses (times, the
 *                  process tree, MITRE links, the walks the Markdown and
 *                  HTML writers share), terminal text, list lines, filters,
 *                  loading the journal
 *   report_json.c  JSON re-serialization and the JSON reports
 *   report_md.c    the Markdown report
 *   report_html.c  the HTML report
 */
#ifndef NODEGUARD_REPORT_INT_H
#define NODEGUARD_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

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
bool format_char(uint32_t cp);
uint32_t utf8_cp(const unsigned char *s, size_t l);
void put_unit(FILE *out, enum fmt f, const char *p, size_t n);
void put_esc(FILE *out, enum fmt f, const char *s);
uint64_t total_detections(const struct incident *inc);
bool mitre_valid(const char *s);
void mitre_url(const char *id, char *buf, size_t n);
size_t proc_tree(const struct incident *inc, size_t *order, unsigned *depth);
void container_line(FILE *out, const struct inc_attr *a, void (*esc)(FILE *, const char *));

/* report_json.c */
void json_put(FILE *out, const char *s, int step, int depth, bool html_safe);
const struct incident *safe_open(struct safe_inc *s, const struct incident *inc);
void safe_close(struct safe_inc *s);

#endif /* NODEGUARD_REPORT_INT_H */
