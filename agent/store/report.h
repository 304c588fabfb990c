/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Incident reports (JSON, Markdown, HTML, terminal text) and the journal
 * reader behind nodeguardctl.
 *
 * Everything an incident holds may come from an attacker (executable paths,
 * command lines, summaries, pod names, raw event fields) or from a damaged
 * journal, so every writer escapes for its medium:
 *   - control characters, bytes that are not UTF-8, C1 controls and the
 *     invisible/bidirectional format characters become visible escapes
 *     (\n, \t, \x1b, \u202e) and a literal backslash is doubled, in every
 *     format;
 *   - Markdown: ASCII punctuation is backslash-escaped, '|' is written as
 *     &#124; (it can never split a table cell), fenced blocks use a fence
 *     longer than any backtick run inside them;
 *   - HTML: & < > " ' become entities; the page carries a restrictive CSP
 *     and no script;
 *   - embedded raw event JSON is re-serialized token by token (same values,
 *     exact numbers) with control and format characters as \u escapes, and
 *     in Markdown also < > & as \u003c \u003e \u0026; event text that is
 *     not a JSON object is shown as a string instead.
 * The writers never fail half-way on bad input; I/O errors are left in the
 * FILE's error flag for the caller to check.
 */
#ifndef NODEGUARD_REPORT_H
#define NODEGUARD_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "incident.h"
#include "journal.h"

/* incident_to_json, pretty-printed (two-space indent), always valid JSON */
void report_json(FILE *out, const struct incident *inc);
/* the same on one line */
void report_json_compact(FILE *out, const struct incident *inc);
void report_markdown(FILE *out, const struct incident *inc);
void report_html(FILE *out, const struct incident *inc);
/* the `nodeguardctl show` view for a terminal */
void report_text(FILE *out, const struct incident *inc);

/* `nodeguardctl list`: one line (id, severity, status, first seen,
 * pod / short container id / host, top rule) or one JSON object per line */
void report_list_line(FILE *out, const struct incident *inc);
void report_list_json(FILE *out, const struct incident *inc);
/* the timeline entry with the highest severity (the first of equals); NULL
 * when the incident has none */
const struct inc_entry *report_top_entry(const struct incident *inc);
/* "2026-11-26T14:59:45.123Z" (UTC, ms); "unknown" for 0 */
const char *report_time(uint64_t wall_ns, char *buf, size_t n);
/* s with control characters, non-UTF-8 bytes and format characters made
 * visible, for a terminal */
void report_term_puts(FILE *out, const char *s);

/*
 * Replay the journal in journal_dir into a new in-memory incmgr (nothing is
 * written). Lines that are not JSON objects, and records that do not apply
 * (a change to an unknown incident, missing fields), are skipped and
 * reported to warn (may be NULL) as "FILE:LINE: why", at most 20 lines and
 * then a count; st->malformed counts both. 0 with *out set, or -errno with
 * *out NULL (directory or file unreadable, out of memory). st may be NULL.
 */
int incidents_load(const char *journal_dir, struct incmgr **out,
		   struct journal_replay_stats *st, FILE *warn);

/* `nodeguardctl list` filters */
struct report_filter {
	uint64_t since_ns;      /* incidents last seen at or after this; 0 = any */
	int min_severity;       /* enum ng_severity or above; -1 = any */
	int status;             /* enum inc_status; -1 = any */
	const char *pod_ns;     /* fnmatch glob on the pod namespace; NULL = any */
	const char *pod_name;   /* fnmatch glob on the pod name; NULL = any */
};

/* "30m", "2h", "7d", "1h30m", "90s", "2w" (ago from now_ns), or an RFC 3339
 * time ("2026-11-26T14:00:00Z", fraction and +hh:mm offset allowed) or a
 * date ("2026-11-26", UTC midnight). 0 or -EINVAL. */
int report_parse_since(const char *arg, uint64_t now_ns, uint64_t *since_ns);
/* "NS/NAME" -> the two globs (copied into the buffers); 0 or -EINVAL */
int report_parse_pod(const char *arg, char *ns, size_t nsz, char *name, size_t namesz);
bool report_filter_match(const struct report_filter *f, const struct incident *inc);

#endif
