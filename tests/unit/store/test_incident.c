// SPDX-License-Identifier: Apache-2.0
/*
 * Incident correlation (agent/store/incident.c): the correlation window, identical
 * repeats and their journal coalescing, severity escalation by category
 * chains, the bounded timeline and process tree, and replay of the journal
 * delta records (captured through opts.write) into a fresh manager.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "incident.h"
#include "jsonw.h"
#include "policy.h"
#include "unit_helpers.h"

#define NS 1000000000ull
#define MS 1000000ull
/* 2023-11-14T22:13:20Z */
#define T0 (1700000000ull * NS)
#define WIN 600

/* ------------------------------------------------------------------ journal capture */

struct cap {
	char **lines;
	size_t n, alloc;
	int fail; /* next write returns this (negative errno), once */
};

static int cap_write(const char *line, size_t len, void *ctx)
{
	struct cap *c = ctx;

	assert_int_equal(strlen(line), len);
	assert_null(memchr(line, '\n', len)); /* one record, one line */
	if (c->fail) {
		int e = c->fail;

		c->fail = 0;
		return e;
	}
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? 2 * c->alloc : 64;
		c->lines = realloc(c->lines, c->alloc * sizeof(*c->lines));
		assert_non_null(c->lines);
	}
	c->lines[c->n] = strndup(line, len);
	assert_non_null(c->lines[c->n]);
	c->n++;
	return 0;
}

static void cap_free(struct cap *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->lines[i]);
	free(c->lines);
	memset(c, 0, sizeof(*c));
}

static struct incmgr *mgr(struct cap *c, uint32_t window_s)
{
	struct incident_mgr_opts o = { .node = "node-a", .window_s = window_s };
	struct incmgr *m;

	if (c) {
		o.write = cap_write;
		o.write_ctx = c;
	}
	m = incident_mgr_new(&o);
	assert_non_null(m);
	return m;
}

/* the "rec" of captured line i */
static char *rec_type(const struct cap *c, size_t i, char *buf, size_t n)
{
	cJSON *r;

	assert_true(i < c->n);
	r = parse_doc(c->lines[i]);
	snprintf(buf, n, "%s", cJSON_GetStringValue(member(r, "rec")));
	cJSON_Delete(r);
	return buf;
}

/* "open,proc,detection,severity" for lines [from, c->n) */
static const char *rec_types(const struct cap *c, size_t from, char *buf, size_t n)
{
	size_t i, off = 0;
	char t[32];

	buf[0] = '\0';
	for (i = from; i < c->n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%s", i > from ? "," : "",
					rec_type(c, i, t, sizeof(t)));
	return buf;
}

static char *inc_json(const struct incident *inc)
{
	struct jsonw w;
	char *s;

	jsonw_init(&w);
	incident_to_json(inc, &w);
	assert_non_null(jsonw_str(&w));
	s = strdup(jsonw_str(&w));
	jsonw_free(&w);
	assert_non_null(s);
	return s;
}

static void assert_same_incident(const struct incident *a, const struct incident *b)
{
	char *ja = inc_json(a), *jb = inc_json(b);

	if (strcmp(ja, jb)) {
		size_t k = 0, from;

		while (ja[k] == jb[k])
			k++;
		from = k > 80 ? k - 80 : 0;
		fail_msg("incidents differ at byte %zu:\n...%.160s\n---\n...%.160s", k, ja + from,
			 jb + from);
	}
	free(ja);
	free(jb);
}

/* replay every captured record into a fresh manager */
static struct incmgr *replay(const struct cap *c)
{
	struct incmgr *m = mgr(NULL, WIN);
	size_t i;

	for (i = 0; i < c->n; i++) {
		cJSON *r = parse_doc(c->lines[i]);
		int err = incident_mgr_apply_record(m, r);

		if (err)
			fail_msg("record %zu rejected (%d): %s", i, err, c->lines[i]);
		cJSON_Delete(r);
	}
	return m;
}

static int apply_text(struct incmgr *m, const char *text)
{
	cJSON *r = parse_doc(text);
	int err = incident_mgr_apply_record(m, r);

	cJSON_Delete(r);
	return err;
}

/* ------------------------------------------------------------------ detections */

struct det {
	const char *key, *rule, *cat, *fp;
	enum ng_severity sev;
	uint64_t t;
	uint32_t pid;
	const struct inc_proc *tree;
	size_t ntree;
	const struct inc_attr *attr;
	const char *event_json;
	const char *summary;
};

static int detect_(struct incmgr *m, const struct det *a, struct incident **out, bool *opened)
{
	char *mv[2] = { "T1059.004", "T1609" };
	struct strlist mitre = { .v = mv, .n = 2 };
	struct inc_detection d = {
		.source = "kernel",
		.rule = a->rule ? a->rule : "shell-in-container",
		.severity = a->sev,
		.category = a->cat ? a->cat : "execution",
		.mitre = &mitre,
		.wall_ns = a->t,
		.summary = a->summary ? a->summary : "exec /bin/sh",
		.fingerprint = a->fp ? a->fp : "exec|/bin/sh|sh",
		.event_json = a->event_json,
		.pid = a->pid ? a->pid : 300,
		.key = a->key ? a->key : "ctr:aaaa",
		.attr = a->attr,
		.tree = a->tree,
		.ntree = a->ntree,
	};
	bool op = false;

	*out = NULL;
	return incident_mgr_detect(m, &d, out, opened ? opened : &op);
}

/* a detection that must succeed; returns its incident */
#define DETECT(m, ...)                                                                       \
	({                                                                                   \
		struct incident *i_ = NULL;                                                  \
		struct det a_ = { __VA_ARGS__ };                                             \
		assert_int_equal(detect_((m), &a_, &i_, NULL), 0);                           \
		assert_non_null(i_);                                                         \
		i_;                                                                          \
	})

/* ------------------------------------------------------------------ correlation */

static void test_window(void **state)
{
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN);
	struct incident *a, *x;
	struct det d = { .key = "ctr:aaaa", .t = T0 };
	bool opened;

	(void)state;
	assert_int_equal(detect_(m, &d, &a, &opened), 0);
	assert_true(opened);
	assert_int_equal(a->status, INC_OPEN);
	assert_string_equal(a->key, "ctr:aaaa");
	assert_string_equal(a->node, "node-a");
	assert_int_equal(a->first_ns, T0);
	assert_int_equal(a->last_ns, T0);
	assert_int_equal(strncmp(a->id, "ng-20231114-221320-", 19), 0);
	assert_int_equal(strlen(a->id), 27);

	/* exactly the window after the last detection: joins */
	d.t = T0 + WIN * NS;
	d.fp = "exec|/bin/ls|ls";
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_false(opened);
	assert_ptr_equal(x, a);
	assert_int_equal(a->last_ns, T0 + WIN * NS);
	assert_int_equal(a->nentries, 2);
	/* the window runs from the last detection, not the first */
	d.t = T0 + 2 * WIN * NS;
	d.fp = "exec|/bin/id|id";
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_false(opened);
	assert_ptr_equal(x, a);
	/* a detection older than the last one joins and does not move last_seen */
	d.t = T0 + 5 * NS;
	d.fp = "exec|/bin/ps|ps";
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_false(opened);
	assert_ptr_equal(x, a);
	assert_int_equal(a->last_ns, T0 + 2 * WIN * NS);

	/* another key never joins */
	d.key = "ctr:bbbb";
	d.t = T0 + 2 * WIN * NS + NS;
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_true(opened);
	assert_ptr_not_equal(x, a);
	d.key = "host:1234:99";
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_true(opened);
	assert_int_equal(incident_mgr_count(m, false), 3);

	/* one nanosecond past the window: a new incident with the same key */
	d.key = "ctr:aaaa";
	d.t = T0 + 3 * WIN * NS + 1;
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_true(opened);
	assert_ptr_not_equal(x, a);
	assert_string_equal(x->key, "ctr:aaaa");
	assert_string_not_equal(x->id, a->id);
	assert_int_equal(incident_mgr_count(m, false), 4);
	/* the old one is still open (until a tick closes it) but no longer joined */
	assert_int_equal(a->status, INC_OPEN);
	assert_int_equal(a->nentries, 4);
	d.t += NS;
	d.fp = "exec|/bin/true|true";
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_false(opened);
	assert_int_equal(x->nentries, 2);
	assert_int_equal(a->nentries, 4);

	/* incident_mgr_set_window: 0 is ignored */
	incident_mgr_set_window(m, 0);
	d.t = x->last_ns + WIN * NS;
	d.fp = "exec|/bin/false|false";
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_false(opened);
	incident_mgr_set_window(m, 10);
	d.t = x->last_ns + 10 * NS + 1;
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_true(opened);
	incident_mgr_free(m);
	cap_free(&c);
}

static void test_status_and_joining(void **state)
{
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN);
	struct incident *a, *x;
	struct det d = { .key = "ctr:aaaa", .t = T0 };
	char buf[256];
	bool opened;

	(void)state;
	a = DETECT(m, .key = "ctr:aaaa", .t = T0);
	assert_int_equal(incident_mgr_set_status(m, a, INC_CONTAINED, "isolated", T0 + 5 * NS), 0);
	assert_int_equal(a->status, INC_CONTAINED);
	assert_int_equal(a->last_ns, T0 + 5 * NS);
	/* contained: still joinable long past the window */
	d.t = T0 + 100 * WIN * NS;
	d.fp = "exec|/bin/ls|ls";
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_false(opened);
	assert_ptr_equal(x, a);
	/* and the idle tick leaves it alone */
	assert_int_equal(incident_mgr_tick(m, T0 + 1000 * WIN * NS), 0);
	assert_int_equal(a->status, INC_CONTAINED);
	assert_int_equal(incident_mgr_count(m, true), 1);
	/* released: no longer joinable */
	assert_int_equal(incident_mgr_set_status(m, a, INC_RELEASED, "released by alice", d.t + NS), 0);
	assert_int_equal(incident_mgr_count(m, true), 0);
	d.t += 2 * NS;
	assert_int_equal(detect_(m, &d, &x, &opened), 0);
	assert_true(opened);
	assert_ptr_not_equal(x, a);
	/* closed: neither */
	assert_int_equal(incident_mgr_set_status(m, x, INC_CLOSED, "done", d.t + NS), 0);
	assert_int_equal(x->last_ns, d.t); /* closing does not move last_seen */
	d.t += 2 * NS;
	assert_int_equal(detect_(m, &d, &a, &opened), 0);
	assert_true(opened);
	assert_ptr_not_equal(a, x);
	assert_int_equal(incident_mgr_count(m, false), 3);
	assert_int_equal(incident_mgr_count(m, true), 1);

	/* the status records */
	assert_string_equal(rec_types(&c, 0, buf, sizeof(buf)),
			    "open,detection,severity,status,detection,status,"
			    "open,detection,severity,status,open,detection,severity");
	incident_mgr_free(m);
	cap_free(&c);
}

static void test_tick(void **state)
{
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN);
	struct incident *a, *b, *x;
	cJSON *r, *counts;
	size_t before;
	char buf[64];

	(void)state;
	a = DETECT(m, .key = "ctr:aaaa", .t = T0);
	DETECT(m, .key = "ctr:aaaa", .t = T0 + 2 * NS); /* a repeat */
	DETECT(m, .key = "ctr:aaaa", .t = T0 + 3 * NS, .fp = "exec|/bin/ls|ls");
	b = DETECT(m, .key = "ctr:bbbb", .t = T0 + 100 * NS);
	before = c.n;
	/* not idle for longer than the window yet */
	assert_int_equal(incident_mgr_tick(m, T0 + 3 * NS + WIN * NS), 0);
	assert_int_equal(c.n, before);
	/* a is, b is not */
	assert_int_equal(incident_mgr_tick(m, T0 + 3 * NS + WIN * NS + 1), 1);
	assert_int_equal(a->status, INC_CLOSED);
	assert_int_equal(b->status, INC_OPEN);
	assert_int_equal(a->last_ns, T0 + 3 * NS); /* closing does not move last_seen */
	assert_int_equal(c.n, before + 1);
	assert_string_equal(rec_type(&c, before, buf, sizeof(buf)), "status");
	r = parse_doc(c.lines[before]);
	assert_json_str(member(r, "incident"), a->id);
	assert_json_str(member(r, "status"), "closed");
	assert_json_str(member(r, "reason"), "idle for the correlation window");
	assert_json_str(member(r, "ts_ns"), "1700000603000000001");
	assert_json_str(member(r, "ts"), "2023-11-14T22:23:23.000000001Z");
	counts = member(r, "counts");
	assert_int_equal(cJSON_GetArraySize(counts), 2);
	assert_json_num(cJSON_GetArrayItem(counts, 0), 2);
	assert_json_num(cJSON_GetArrayItem(counts, 1), 1);
	counts = member(r, "last_seen_ns");
	assert_int_equal(cJSON_GetArraySize(counts), 2);
	assert_json_str(cJSON_GetArrayItem(counts, 0), "1700000002000000000");
	assert_json_str(cJSON_GetArrayItem(counts, 1), "1700000003000000000");
	assert_json_num(member(r, "timeline_dropped"), 0);
	assert_json_num(member(r, "processes_dropped"), 0);
	cJSON_Delete(r);
	/* closed once */
	assert_int_equal(incident_mgr_tick(m, T0 + 100 * WIN * NS), 1);
	assert_int_equal(b->status, INC_CLOSED);
	assert_int_equal(incident_mgr_tick(m, T0 + 200 * WIN * NS), 0);
	assert_int_equal(c.n, before + 2);
	/* a new detection on a closed key opens a new incident */
	x = DETECT(m, .key = "ctr:aaaa", .t = T0 + 4 * NS);
	assert_ptr_not_equal(x, a);
	assert_int_equal(incident_mgr_count(m, true), 1);
	incident_mgr_free(m);
	cap_free(&c);
}

/* ------------------------------------------------------------------ repeats */

static void test_repeats(void **state)
{
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN);
	struct incident *a, *x;
	char buf[256];
	size_t before;

	(void)state;
	a = DETECT(m, .t = T0, .sev = SEV_MEDIUM);
	before = c.n;
	/* same rule, same fingerprint: counted on the entry */
	x = DETECT(m, .t = T0 + NS, .sev = SEV_MEDIUM, .summary = "another summary", .pid = 301);
	assert_ptr_equal(x, a);
	x = DETECT(m, .t = T0 + 2 * NS, .sev = SEV_MEDIUM);
	assert_int_equal(a->nentries, 1);
	assert_int_equal(a->entries[0].count, 3);
	assert_int_equal(a->entries[0].first_ns, T0);
	assert_int_equal(a->entries[0].last_ns, T0 + 2 * NS);
	assert_int_equal(a->entries[0].pid, 300);        /* the first one's */
	assert_string_equal(a->entries[0].summary, "exec /bin/sh");
	assert_int_equal(a->last_ns, T0 + 2 * NS);
	assert_string_equal(rec_types(&c, before, buf, sizeof(buf)), "repeat,repeat");
	/* a different fingerprint is a new entry */
	DETECT(m, .t = T0 + 3 * NS, .sev = SEV_MEDIUM, .fp = "exec|/bin/sh|sh -i");
	assert_int_equal(a->nentries, 2);
	assert_int_equal(a->entries[1].count, 1);
	/* so is the same fingerprint under another rule */
	DETECT(m, .t = T0 + 4 * NS, .sev = SEV_MEDIUM, .rule = "other-rule");
	assert_int_equal(a->nentries, 3);
	/* a repeat of an earlier entry, after others */
	DETECT(m, .t = T0 + 5 * NS, .sev = SEV_MEDIUM);
	assert_int_equal(a->nentries, 3);
	assert_int_equal(a->entries[0].count, 4);
	assert_int_equal(a->entries[0].last_ns, T0 + 5 * NS);
	assert_string_equal(rec_types(&c, before, buf, sizeof(buf)),
			    "repeat,repeat,detection,detection,repeat");
	/* a repeat that arrives late does not move last_seen back */
	DETECT(m, .t = T0 + NS / 2, .sev = SEV_MEDIUM);
	assert_int_equal(a->entries[0].count, 5);
	assert_int_equal(a->entries[0].first_ns, T0);
	assert_int_equal(a->entries[0].last_ns, T0 + 5 * NS);
	/* repeats never change the severity */
	assert_int_equal(a->severity, SEV_MEDIUM);
	incident_mgr_free(m);
	cap_free(&c);
}

/* the counts of the repeat records written, in order */
static size_t repeat_counts(const struct cap *c, size_t from, uint64_t *out, size_t max)
{
	size_t i, n = 0;

	for (i = from; i < c->n; i++) {
		cJSON *r = parse_doc(c->lines[i]);

		if (!strcmp(cJSON_GetStringValue(member(r, "rec")), "repeat")) {
			assert_true(n < max);
			assert_json_num(member(r, "entry"), 0);
			out[n++] = (uint64_t)member(r, "count")->valuedouble;
		}
		cJSON_Delete(r);
	}
	return n;
}

static void test_repeat_coalescing(void **state)
{
	static const uint64_t storm[] = { 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32, 64, 128, 256 };
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN);
	struct incident *a;
	struct incmgr *back;
	uint64_t got[64];
	size_t n, i, before;
	cJSON *r;

	(void)state;
	a = DETECT(m, .t = T0);
	/* a storm: 299 repeats 1 ms apart (0.3 s in all) */
	for (i = 1; i < 300; i++)
		DETECT(m, .t = T0 + i * MS);
	assert_int_equal(a->entries[0].count, 300);
	n = repeat_counts(&c, 0, got, 64);
	assert_int_equal(n, sizeof(storm) / sizeof(storm[0]));
	for (i = 0; i < n; i++)
		assert_int_equal(got[i], storm[i]);
	assert_int_equal(a->entries[0].journaled_count, 256);
	assert_int_equal(a->entries[0].journaled_ns, T0 + 255 * MS);

	/* not a second since the last record (count 256 at 255 ms) */
	before = c.n;
	DETECT(m, .t = T0 + 255 * MS + NS - 1);
	assert_int_equal(c.n, before);
	/* a second since: written, whatever the count */
	DETECT(m, .t = T0 + 255 * MS + NS);
	assert_int_equal(c.n, before + 1);
	n = repeat_counts(&c, before, got, 64);
	assert_int_equal(n, 1);
	assert_int_equal(got[0], 302);
	assert_int_equal(a->entries[0].journaled_ns, T0 + 255 * MS + NS);
	/* and the next ones coalesce again */
	DETECT(m, .t = T0 + 256 * MS + NS);
	DETECT(m, .t = T0 + 257 * MS + NS);
	assert_int_equal(c.n, before + 1);
	assert_int_equal(a->entries[0].count, 304);
	assert_int_equal(a->entries[0].journaled_count, 302);

	/* a replay of the open incident knows the journaled count only */
	back = replay(&c);
	assert_int_equal(incident_mgr_first(back)->entries[0].count, 302);
	incident_mgr_free(back);

	/* the status record carries the final count */
	before = c.n;
	assert_int_equal(incident_mgr_set_status(m, a, INC_CLOSED, "done", T0 + 10 * NS), 0);
	r = parse_doc(c.lines[before]);
	assert_int_equal(cJSON_GetArraySize(member(r, "counts")), 1);
	assert_json_num(cJSON_GetArrayItem(member(r, "counts"), 0), 304);
	cJSON_Delete(r);
	back = replay(&c);
	assert_int_equal(incident_mgr_first(back)->entries[0].count, 304);
	assert_int_equal(incident_mgr_first(back)->status, INC_CLOSED);
	incident_mgr_free(back);
	incident_mgr_free(m);
	cap_free(&c);
}

/* ------------------------------------------------------------------ severity */

static void test_severity(void **state)
{
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN);
	struct incident *a, *b;
	char buf[256];
	size_t before;
	cJSON *r;

	(void)state;
	a = DETECT(m, .t = T0, .sev = SEV_LOW, .cat = "execution");
	assert_int_equal(a->severity, SEV_LOW);
	assert_int_equal(a->max_detection, SEV_LOW);
	assert_string_equal(a->severity_reason, "highest detection");
	/* the same category again, higher: max detection, no chain */
	a = DETECT(m, .t = T0 + NS, .sev = SEV_MEDIUM, .cat = "execution", .fp = "f2");
	assert_int_equal(a->severity, SEV_MEDIUM);
	assert_string_equal(a->severity_reason, "highest detection");
	assert_int_equal(a->ncats, 1);
	/* a second category: one step up */
	before = c.n;
	a = DETECT(m, .t = T0 + 2 * NS, .sev = SEV_LOW, .cat = "privilege_escalation", .fp = "f3");
	assert_int_equal(a->max_detection, SEV_MEDIUM);
	assert_int_equal(a->severity, SEV_HIGH);
	assert_string_equal(a->severity_reason,
			    "chain of 2 categories: execution -> privilege_escalation");
	assert_string_equal(rec_types(&c, before, buf, sizeof(buf)), "detection,severity");
	r = parse_doc(c.lines[before + 1]);
	assert_json_str(member(r, "severity"), "high");
	assert_json_str(member(r, "reason"), "chain of 2 categories: execution -> privilege_escalation");
	assert_json_str(member(r, "ts_ns"), "1700000002000000000");
	cJSON_Delete(r);
	/* a third: two steps */
	a = DETECT(m, .t = T0 + 3 * NS, .sev = SEV_INFO, .cat = "credential_access", .fp = "f4");
	assert_int_equal(a->severity, SEV_CRITICAL);
	assert_string_equal(a->severity_reason, "chain of 3 categories: execution -> "
						"privilege_escalation -> credential_access");
	/* nothing changes: no severity record */
	before = c.n;
	a = DETECT(m, .t = T0 + 4 * NS, .sev = SEV_LOW, .cat = "execution", .fp = "f5");
	assert_string_equal(rec_types(&c, before, buf, sizeof(buf)), "detection");
	assert_int_equal(a->ncats, 3);
	assert_string_equal(a->cats[0], "execution");
	assert_string_equal(a->cats[2], "credential_access");

	/* capped at critical */
	b = DETECT(m, .key = "ctr:bbbb", .t = T0, .sev = SEV_HIGH, .cat = "execution");
	b = DETECT(m, .key = "ctr:bbbb", .t = T0 + 1, .sev = SEV_HIGH, .cat = "network", .fp = "g2");
	assert_int_equal(b->severity, SEV_CRITICAL);
	b = DETECT(m, .key = "ctr:bbbb", .t = T0 + 2, .sev = SEV_HIGH, .cat = "discovery", .fp = "g3");
	assert_int_equal(b->severity, SEV_CRITICAL);
	/* severity unchanged, so the reason stays the one that made it critical */
	assert_string_equal(b->severity_reason, "chain of 2 categories: execution -> network");
	b = DETECT(m, .key = "ctr:cccc", .t = T0, .sev = SEV_CRITICAL, .cat = "container_escape");
	assert_string_equal(b->severity_reason, "highest detection");
	b = DETECT(m, .key = "ctr:cccc", .t = T0 + 1, .sev = SEV_INFO, .cat = "network", .fp = "h2");
	assert_int_equal(b->severity, SEV_CRITICAL);
	assert_int_equal(b->max_detection, SEV_CRITICAL);
	assert_string_equal(b->severity_reason, "highest detection");

	/* more than three categories: still two steps */
	b = DETECT(m, .key = "ctr:dddd", .t = T0, .sev = SEV_INFO, .cat = "discovery");
	assert_int_equal(b->severity, SEV_INFO);
	b = DETECT(m, .key = "ctr:dddd", .t = T0 + 1, .sev = SEV_INFO, .cat = "network", .fp = "2");
	assert_int_equal(b->severity, SEV_LOW);
	b = DETECT(m, .key = "ctr:dddd", .t = T0 + 2, .sev = SEV_INFO, .cat = "persistence", .fp = "3");
	assert_int_equal(b->severity, SEV_MEDIUM);
	b = DETECT(m, .key = "ctr:dddd", .t = T0 + 3, .sev = SEV_INFO, .cat = "impact", .fp = "4");
	assert_int_equal(b->severity, SEV_MEDIUM);
	assert_string_equal(b->severity_reason, "chain of 3 categories: discovery -> network -> persistence");
	b = DETECT(m, .key = "ctr:dddd", .t = T0 + 4, .sev = SEV_LOW, .cat = "exfiltration", .fp = "5");
	assert_int_equal(b->severity, SEV_HIGH);
	assert_string_equal(b->severity_reason, "chain of 5 categories: discovery -> network -> "
						"persistence -> impact -> exfiltration");
	/* an empty category is none */
	b = DETECT(m, .key = "ctr:eeee", .t = T0, .sev = SEV_LOW, .cat = "");
	b = DETECT(m, .key = "ctr:eeee", .t = T0 + 1, .sev = SEV_LOW, .cat = "network", .fp = "2");
	assert_int_equal(b->ncats, 1);
	assert_int_equal(b->severity, SEV_LOW);
	assert_string_equal(b->severity_reason, "highest detection");

	/* the replayed incidents agree */
	{
		struct incmgr *back = replay(&c);
		struct incident *i, *j;

		for (i = incident_mgr_first(m), j = incident_mgr_first(back); i; i = i->next, j = j->next) {
			assert_non_null(j);
			assert_same_incident(i, j);
		}
		assert_null(j);
		incident_mgr_free(back);
	}
	incident_mgr_free(m);
	cap_free(&c);
}

/* ------------------------------------------------------------------ bounds */

static void test_timeline_bound(void **state)
{
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN);
	struct incident *a = NULL, *x;
	char fp[32], buf[64];
	size_t i, before;
	cJSON *r;
	bool opened;
	struct det d = { .t = T0, .sev = SEV_LOW, .cat = "execution" };

	(void)state;
	for (i = 0; i < INC_MAX_ENTRIES; i++) {
		snprintf(fp, sizeof(fp), "fp-%zu", i);
		d.fp = fp;
		d.t = T0 + i * MS;
		assert_int_equal(detect_(m, &d, &x, NULL), 0);
		a = a ? a : x;
		assert_ptr_equal(x, a);
	}
	assert_int_equal(a->nentries, 256);
	assert_int_equal(a->entries_dropped, 0);

	/* the 257th distinct detection: counted as dropped, not on the timeline,
	 * not journaled, and the caller is told (-ENOSPC) */
	before = c.n;
	d.fp = "fp-256";
	d.cat = "network";
	d.sev = SEV_CRITICAL;
	d.t = T0 + NS;
	assert_int_equal(detect_(m, &d, &x, &opened), -ENOSPC);
	assert_ptr_equal(x, a);
	assert_false(opened);
	assert_int_equal(a->nentries, 256);
	assert_int_equal(a->entries_dropped, 1);
	assert_int_equal(c.n, before);
	/* it changed neither the categories nor the severity */
	assert_int_equal(a->ncats, 1);
	assert_int_equal(a->severity, SEV_LOW);
	assert_int_equal(a->max_detection, SEV_LOW);
	assert_int_equal(a->last_ns, T0 + NS); /* but the incident saw it */
	/* and again: each dropped detection counts */
	assert_int_equal(detect_(m, &d, &x, NULL), -ENOSPC);
	assert_int_equal(a->entries_dropped, 2);
	/* repeats of entries on the timeline still count */
	d.fp = "fp-7";
	d.t = T0 + 2 * NS;
	assert_int_equal(detect_(m, &d, &x, NULL), 0);
	assert_int_equal(a->entries[7].count, 2);
	assert_int_equal(c.n, before + 1);
	assert_string_equal(rec_type(&c, before, buf, sizeof(buf)), "repeat");
	/* the dropped count is in the incident's JSON */
	{
		char *j = inc_json(a);

		r = parse_doc(j);
		assert_json_num(member(r, "timeline_dropped"), 2);
		assert_int_equal(cJSON_GetArraySize(member(r, "timeline")), 256);
		cJSON_Delete(r);
		free(j);
	}
	/* a journal failure on the way is reported first */
	d.fp = "fp-300";
	d.key = "ctr:aaaa";
	d.tree = &(struct inc_proc){ .pid = 77, .start_ns = 1, .exe = "/bin/x", .cmdline = "x" };
	d.ntree = 1;
	c.fail = -EIO;
	assert_int_equal(detect_(m, &d, &x, NULL), -EIO);
	assert_int_equal(a->entries_dropped, 3);
	assert_int_equal(a->nprocs, 1); /* kept in memory */

	/* the status record carries the dropped count into the journal */
	before = c.n;
	assert_int_equal(incident_mgr_set_status(m, a, INC_CLOSED, "done", T0 + 3 * NS), 0);
	r = parse_doc(c.lines[before]);
	assert_json_num(member(r, "timeline_dropped"), 3);
	assert_int_equal(cJSON_GetArraySize(member(r, "counts")), 256);
	assert_int_equal(cJSON_GetArraySize(member(r, "last_seen_ns")), 256);
	cJSON_Delete(r);
	{
		struct incmgr *back = replay(&c);
		struct incident *b = incident_mgr_first(back);

		assert_int_equal(b->nentries, 256);
		assert_int_equal(b->entries_dropped, 3);
		assert_int_equal(b->entries[7].count, 2);
		assert_int_equal(b->entries[7].last_ns, T0 + 2 * NS);
		assert_int_equal(b->last_ns, T0 + 2 * NS); /* the dropped ones are not known */
		assert_int_equal(b->nprocs, 0);            /* its record failed */
		assert_int_equal(b->status, INC_CLOSED);
		assert_int_equal(b->ncats, 1);
		incident_mgr_free(back);
	}
	incident_mgr_free(m);
	cap_free(&c);
}

static void test_process_tree(void **state)
{
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN);
	struct inc_proc tree[3] = {
		{ .pid = 300, .ppid = 200, .uid = 1000, .euid = 0, .start_ns = 30, .exe = "/tmp/x",
		  .cmdline = "x -p" },
		{ .pid = 200, .ppid = 100, .uid = 1000, .euid = 1000, .start_ns = 20, .exe = "/bin/sh",
		  .cmdline = "sh -c x" },
		{ .pid = 100, .ppid = 1, .start_ns = 10, .exe = NULL, .cmdline = NULL },
	};
	struct inc_proc many[INC_MAX_PROCS + 3];
	struct incident *a;
	char buf[256];
	size_t before, i;
	cJSON *r;

	(void)state;
	a = DETECT(m, .t = T0, .tree = tree, .ntree = 3);
	/* oldest first */
	assert_int_equal(a->nprocs, 3);
	assert_int_equal(a->procs[0].pid, 100);
	assert_int_equal(a->procs[1].pid, 200);
	assert_int_equal(a->procs[2].pid, 300);
	assert_string_equal(a->procs[0].exe, "");
	assert_string_equal(a->procs[0].cmdline, "");
	assert_string_equal(a->procs[2].exe, "/tmp/x");
	assert_int_equal(a->procs[2].euid, 0);
	assert_string_equal(rec_types(&c, 0, buf, sizeof(buf)), "open,proc,proc,proc,detection,severity");
	r = parse_doc(c.lines[1]);
	assert_json_num(member(member(r, "proc"), "pid"), 100);
	assert_json_str(member(member(r, "proc"), "start_ns"), "10");
	cJSON_Delete(r);
	/* known processes are not added again; a reused pid (new start) is */
	before = c.n;
	tree[0].start_ns = 31;
	DETECT(m, .t = T0 + NS, .tree = tree, .ntree = 3, .fp = "f2");
	assert_int_equal(a->nprocs, 4);
	assert_int_equal(a->procs[3].pid, 300);
	assert_int_equal(a->procs[3].start_ns, 31);
	assert_string_equal(rec_types(&c, before, buf, sizeof(buf)), "proc,detection");
	/* a repeat brings its process too */
	before = c.n;
	tree[0].start_ns = 32;
	DETECT(m, .t = T0 + 2 * NS, .tree = tree, .ntree = 1, .fp = "f2");
	assert_int_equal(a->nprocs, 5);
	assert_string_equal(rec_types(&c, before, buf, sizeof(buf)), "proc,repeat");

	/* bounded: INC_MAX_PROCS, the rest counted */
	for (i = 0; i < INC_MAX_PROCS + 3; i++)
		many[i] = (struct inc_proc){ .pid = 1000 + (uint32_t)i, .ppid = 1, .start_ns = 5,
					     .exe = "/bin/true", .cmdline = "true" };
	before = c.n;
	DETECT(m, .t = T0 + 3 * NS, .tree = many, .ntree = INC_MAX_PROCS + 3, .fp = "f3");
	assert_int_equal(a->nprocs, INC_MAX_PROCS);
	assert_int_equal(a->procs_dropped, 8); /* 5 known + 131 new, 128 kept */
	/* the last of the array is the oldest: those got in */
	assert_int_equal(a->procs[5].pid, 1000 + INC_MAX_PROCS + 2);
	assert_int_equal(a->procs[INC_MAX_PROCS - 1].pid, 1000 + 8);
	assert_int_equal(c.n - before, INC_MAX_PROCS - 5 + 1 /* detection */);
	/* replayed, with the dropped count from the status record */
	assert_int_equal(incident_mgr_set_status(m, a, INC_CLOSED, "done", T0 + 4 * NS), 0);
	{
		struct incmgr *back = replay(&c);

		assert_int_equal(incident_mgr_first(back)->procs_dropped, 8);
		assert_same_incident(incident_mgr_first(back), a);
		incident_mgr_free(back);
	}
	incident_mgr_free(m);
	cap_free(&c);
}

/* ------------------------------------------------------------------ replay */

static void test_replay_equal(void **state)
{
	static const struct inc_proc tree[] = {
		{ .pid = 300, .ppid = 200, .uid = 1000, .euid = 0, .start_ns = 30, .exe = "/tmp/x\xff",
		  .cmdline = "x \"q\" \\ \x01 \xc3\x28 caf\xc3\xa9" },
		{ .pid = 200, .ppid = 100, .uid = 1000, .euid = 1000, .start_ns = 20, .exe = "/bin/sh",
		  .cmdline = "sh -c 'x | y'" },
	};
	struct inc_attr attr = { .is_container = true, .cgroup_id = 4242 };
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN), *back;
	struct inc_action act = { .ts_ns = T0 + 7 * NS, .action = "isolate", .phase = "intent",
				  .target = "pod shop/web-1", .result = "ok", .detail = "cut \xfe",
				  .dry_run = false };
	struct incident *a, *b, *i, *j;
	size_t k;

	(void)state;
	snprintf(attr.runtime, sizeof(attr.runtime), "containerd");
	snprintf(attr.container_id, sizeof(attr.container_id), "%064d", 7);
	snprintf(attr.pod_uid, sizeof(attr.pod_uid), "11111111-2222-3333-4444-555555555555");
	snprintf(attr.qos, sizeof(attr.qos), "burstable");
	snprintf(attr.cgroup_path, sizeof(attr.cgroup_path), "/kubepods.slice/x\xff.scope");
	attr.pod_namespace = "shop";
	attr.pod_name = "web-1";
	attr.pod_json = "{\"labels\":{\"app\":\"web\"},\"node\":\"node-a\"}";

	a = DETECT(m, .t = T0, .sev = SEV_MEDIUM, .cat = "execution", .tree = tree, .ntree = 2,
		   .attr = &attr, .fp = "exec|/tmp/x\xff|x", .summary = "exec /tmp/x\xff",
		   .event_json = "{\"kind\":\"exec\",\"pid\":300,\"argv\":[\"x\",\"\\u0001\"]}");
	/* repeats, some coalesced */
	for (k = 1; k <= 40; k++)
		DETECT(m, .t = T0 + k * MS, .sev = SEV_MEDIUM, .cat = "execution", .tree = tree,
		       .ntree = 2, .attr = &attr, .fp = "exec|/tmp/x\xff|x");
	/* escalation by a second category */
	DETECT(m, .t = T0 + 2 * NS, .sev = SEV_HIGH, .rule = "setuid-to-root",
	       .cat = "privilege_escalation", .fp = "cred|setuid|0>0", .tree = tree, .ntree = 1,
	       .attr = &attr);
	assert_int_equal(incident_mgr_action(m, a, &act), 0);
	act.phase = "result";
	act.ts_ns = T0 + 8 * NS;
	assert_int_equal(incident_mgr_action(m, a, &act), 0);
	/* an API action's undo document comes back as the same object; text
	 * that is not a JSON object is never written raw into a record */
	act.action = "label";
	act.ts_ns = T0 + 8 * NS + 1;
	act.undo = "{\"action\":\"label\",\"namespace\":\"shop\",\"previous\":null,\"v\":\"\\u00e9\"}";
	assert_int_equal(incident_mgr_action(m, a, &act), 0);
	act.action = "revoke-rbac";
	act.ts_ns = T0 + 8 * NS + 2;
	act.undo = "{\"broken\":";
	assert_int_equal(incident_mgr_action(m, a, &act), 0);
	act.ts_ns = T0 + 8 * NS + 3;
	act.undo = "\"a string\"";
	assert_int_equal(incident_mgr_action(m, a, &act), 0);
	act.undo = NULL;
	assert_non_null(a->actions[2].undo);
	assert_null(a->actions[3].undo);
	assert_null(a->actions[4].undo);
	assert_int_equal(incident_mgr_set_status(m, a, INC_CONTAINED, "isolated", T0 + 8 * NS), 0);
	/* a host incident, closed by the tick */
	b = DETECT(m, .key = "host:77:1", .t = T0 + 3 * NS, .sev = SEV_LOW, .cat = "discovery",
		   .fp = "exec|/usr/bin/id|id");
	DETECT(m, .key = "host:77:1", .t = T0 + 4 * NS, .sev = SEV_LOW, .cat = "discovery",
	       .fp = "exec|/usr/bin/id|id");
	assert_int_equal(incident_mgr_tick(m, T0 + 4 * NS + WIN * NS + 1), 1);
	assert_int_equal(b->status, INC_CLOSED);
	assert_int_equal(a->status, INC_CONTAINED);

	back = replay(&c);
	assert_int_equal(incident_mgr_count(back, false), 2);
	for (i = incident_mgr_first(m), j = incident_mgr_first(back); i; i = i->next, j = j->next) {
		assert_non_null(j);
		assert_same_incident(i, j);
	}
	assert_null(j);
	/* the exact bytes came back (from the *_hex siblings) */
	i = incident_mgr_find(back, a->id);
	assert_non_null(i);
	assert_string_equal(i->procs[1].exe, "/tmp/x\xff");
	assert_string_equal(i->procs[1].cmdline, tree[0].cmdline);
	assert_string_equal(i->entries[0].fingerprint, "exec|/tmp/x\xff|x");
	assert_string_equal(i->attr.cgroup_path, "/kubepods.slice/x\xff.scope");
	assert_string_equal(i->actions[0].detail, "cut \xfe");
	assert_int_equal(i->nactions, 5);
	{
		cJSON *u = cJSON_Parse(i->actions[2].undo);

		assert_true(cJSON_IsObject(u));
		assert_string_equal(cJSON_GetObjectItem(u, "v")->valuestring, "\xc3\xa9");
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(u, "previous")));
		cJSON_Delete(u);
	}
	assert_null(i->actions[3].undo);
	assert_null(i->actions[4].undo);
	assert_int_equal(i->entries[0].count, 41);
	assert_int_equal(i->severity, SEV_CRITICAL);
	assert_int_equal(i->max_detection, SEV_HIGH);
	/* a detection after the replay is a repeat of the replayed entry */
	{
		struct incident *x = DETECT(back, .t = T0 + 9 * NS, .sev = SEV_MEDIUM, .cat = "execution",
					    .fp = "exec|/tmp/x\xff|x");

		assert_ptr_equal(x, i);
		assert_int_equal(i->nentries, 2);
		assert_int_equal(i->entries[0].count, 42);
	}
	incident_mgr_free(back);

	/* replaying everything twice changes nothing */
	{
		struct cap twice = { 0 };

		for (k = 0; k < 2 * c.n; k++) {
			cap_write(c.lines[k % c.n], strlen(c.lines[k % c.n]), &twice);
		}
		back = replay(&twice);
		for (i = incident_mgr_first(m), j = incident_mgr_first(back); i; i = i->next, j = j->next)
			assert_same_incident(i, j);
		incident_mgr_free(back);
		cap_free(&twice);
	}
	incident_mgr_free(m);
	cap_free(&c);
}

static void test_snapshot(void **state)
{
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN), *back;
	struct incident *a, *b, *r;
	size_t nlive;
	char *snap_b;

	(void)state;
	a = DETECT(m, .key = "ctr:aaaa", .t = T0, .sev = SEV_LOW, .cat = "execution");
	b = DETECT(m, .key = "ctr:bbbb", .t = T0 + NS, .sev = SEV_LOW, .cat = "execution");
	nlive = c.n;
	/* the replica knows the incidents as they were */
	back = replay(&c);
	/* they move on; a snapshot (after a rotation) carries the new state */
	DETECT(m, .key = "ctr:aaaa", .t = T0 + 2 * NS, .sev = SEV_HIGH, .cat = "network", .fp = "2");
	DETECT(m, .key = "ctr:bbbb", .t = T0 + 3 * NS, .sev = SEV_MEDIUM, .cat = "discovery", .fp = "3");
	incident_mgr_set_status(m, a, INC_CONTAINED, "frozen", T0 + 4 * NS);
	assert_int_equal(incident_mgr_snapshot_open(m), 0);
	assert_int_equal(c.n, nlive + 2 * 2 /* detection, severity */ + 1 /* status */ + 2);
	snap_b = c.lines[c.n - 1];
	/* b's snapshot only: b replaced in place, a untouched */
	assert_int_equal(apply_text(back, snap_b), 0);
	assert_int_equal(incident_mgr_count(back, false), 2);
	r = incident_mgr_first(back);
	assert_string_equal(r->id, a->id);
	assert_int_equal(r->nentries, 1);
	assert_int_equal(r->status, INC_OPEN);
	assert_same_incident(r->next, b);
	assert_null(r->next->next);
	/* a's too */
	assert_int_equal(apply_text(back, c.lines[c.n - 2]), 0);
	assert_same_incident(incident_mgr_first(back), a);
	assert_same_incident(incident_mgr_first(back)->next, b);
	/* a later detection joins the restored incident as if nothing happened */
	r = DETECT(back, .key = "ctr:aaaa", .t = T0 + 5 * NS, .sev = SEV_HIGH, .cat = "network",
		   .fp = "2");
	assert_int_equal(r->entries[1].count, 2);
	/* the replaced last incident is still the list's tail */
	r = DETECT(back, .key = "ctr:cccc", .t = T0 + 6 * NS);
	assert_int_equal(incident_mgr_count(back, false), 3);
	assert_ptr_equal(incident_mgr_first(back)->next->next, r);
	assert_ptr_equal(incident_mgr_find(back, r->id), r);
	incident_mgr_free(back);

	/* a snapshot of an incident never seen adds it */
	back = mgr(NULL, WIN);
	assert_int_equal(apply_text(back, snap_b), 0);
	assert_same_incident(incident_mgr_first(back), b);
	/* an open record of a known incident (a snapshot, then the original) is ignored */
	assert_int_equal(apply_text(back, c.lines[3]), 0); /* b's open */
	assert_same_incident(incident_mgr_first(back), b);
	assert_int_equal(incident_mgr_count(back, false), 1);
	/* nor does a replayed detection already in the snapshot add anything */
	assert_int_equal(apply_text(back, c.lines[4]), 0); /* b's first detection */
	assert_same_incident(incident_mgr_first(back), b);
	incident_mgr_free(back);
	incident_mgr_free(m);
	cap_free(&c);
}

static void test_malformed_records(void **state)
{
	static const char *const bad[] = {
		/* no incident id, no rec */
		"{\"rec\":\"detection\",\"v\":1,\"ts_ns\":\"1700000099000000000\"}",
		"{\"v\":1,\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\"}",
		"{\"rec\":\"severity\",\"incident\":7,\"severity\":\"high\"}",
		/* a change to an incident never opened */
		"{\"rec\":\"severity\",\"incident\":\"ng-x\",\"severity\":\"high\",\"reason\":\"r\"}",
		"{\"rec\":\"repeat\",\"incident\":\"ng-x\",\"entry\":0,\"count\":5}",
		/* bad values, each with a later timestamp that must not move last_seen */
		"{\"rec\":\"severity\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\","
		"\"severity\":\"urgent\",\"reason\":\"r\"}",
		"{\"rec\":\"severity\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\"}",
		"{\"rec\":\"status\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\","
		"\"status\":\"gone\",\"counts\":[99]}",
		"{\"rec\":\"repeat\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\","
		"\"entry\":1,\"count\":99}",
		"{\"rec\":\"detection\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\","
		"\"entry\":1,\"detection\":{\"severity\":\"critical\",\"category\":\"impact\"}}",
		"{\"rec\":\"detection\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\",\"entry\":1}",
		"{\"rec\":\"proc\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\",\"proc\":5}",
		"{\"rec\":\"action\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\","
		"\"action\":{\"phase\":\"intent\"}}",
		"{\"rec\":\"snapshot\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\","
		"\"data\":{\"node\":\"x\"}}",
		"{\"rec\":\"snapshot\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\"}",
	};
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN), *back;
	struct incident *a;
	char *before, *after, rec[512];
	size_t k;

	(void)state;
	a = DETECT(m, .t = T0, .sev = SEV_MEDIUM);
	back = replay(&c);
	before = inc_json(incident_mgr_first(back));
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		snprintf(rec, sizeof(rec), bad[k], a->id);
		if (apply_text(back, rec) != -EBADMSG)
			fail_msg("accepted: %s", rec);
		assert_int_equal(incident_mgr_count(back, false), 1);
		after = inc_json(incident_mgr_first(back));
		if (strcmp(before, after))
			fail_msg("%s\nchanged the incident:\n%s\n---\n%s", rec, before, after);
		free(after);
	}
	/* a record type from a newer version is ignored, and changes nothing */
	snprintf(rec, sizeof(rec),
		 "{\"rec\":\"hologram\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\"}", a->id);
	assert_int_equal(apply_text(back, rec), 0);
	after = inc_json(incident_mgr_first(back));
	assert_string_equal(after, before);
	free(after);
	/* the good records still apply */
	snprintf(rec, sizeof(rec),
		 "{\"rec\":\"severity\",\"incident\":\"%s\",\"ts_ns\":\"1700000099000000000\","
		 "\"severity\":\"high\",\"reason\":\"manual\"}", a->id);
	assert_int_equal(apply_text(back, rec), 0);
	assert_int_equal(incident_mgr_first(back)->severity, SEV_HIGH);
	assert_string_equal(incident_mgr_first(back)->severity_reason, "manual");
	assert_int_equal(incident_mgr_first(back)->last_ns, 1700000099000000000ull);
	free(before);
	incident_mgr_free(back);
	incident_mgr_free(m);
	cap_free(&c);
}

/* records replayed out of order (twice, or after a snapshot) never move
 * counts or times back */
static void test_stale_records(void **state)
{
	struct cap c = { 0 };
	struct incmgr *m = mgr(&c, WIN), *back;
	struct incident *a, *r;
	char rec[512];

	(void)state;
	a = DETECT(m, .t = T0);
	DETECT(m, .t = T0 + NS);
	DETECT(m, .t = T0 + 2 * NS);
	back = replay(&c);
	r = incident_mgr_first(back);
	assert_int_equal(r->entries[0].count, 3);
	snprintf(rec, sizeof(rec),
		 "{\"rec\":\"repeat\",\"incident\":\"%s\",\"ts_ns\":\"1700000001000000000\","
		 "\"entry\":0,\"count\":2}", a->id);
	assert_int_equal(apply_text(back, rec), 0);
	snprintf(rec, sizeof(rec),
		 "{\"rec\":\"status\",\"incident\":\"%s\",\"ts_ns\":\"1700000000500000000\","
		 "\"status\":\"open\",\"counts\":[1],\"last_seen_ns\":[\"1700000000000000000\"]}",
		 a->id);
	assert_int_equal(apply_text(back, rec), 0);
	snprintf(rec, sizeof(rec),
		 "{\"rec\":\"severity\",\"incident\":\"%s\",\"ts_ns\":\"1700000000000000000\","
		 "\"severity\":\"info\",\"reason\":\"highest detection\"}", a->id);
	assert_int_equal(apply_text(back, rec), 0);
	assert_same_incident(r, a);
	assert_int_equal(r->entries[0].count, 3);
	assert_int_equal(r->entries[0].last_ns, T0 + 2 * NS);
	assert_int_equal(r->last_ns, T0 + 2 * NS);
	incident_mgr_free(back);
	incident_mgr_free(m);
	cap_free(&c);
}

static void test_find_and_names(void **state)
{
	struct incmgr *m = mgr(NULL, WIN);
	struct incident *a, *b;
	char pre[32];
	size_t k;

	(void)state;
	a = DETECT(m, .key = "ctr:aaaa", .t = T0);
	b = DETECT(m, .key = "ctr:bbbb", .t = T0);
	assert_ptr_equal(incident_mgr_find(m, a->id), a);
	assert_null(incident_mgr_find(m, "ng-nope"));
	assert_ptr_equal(incident_mgr_find_prefix(m, a->id), a);
	/* same second: a shared prefix is ambiguous, the random tail is not */
	assert_null(incident_mgr_find_prefix(m, "ng-20231114-221320-"));
	/* the shortest prefix that tells them apart */
	for (k = 0; a->id[k] && a->id[k] == b->id[k]; k++)
		;
	assert_true(k >= 19 && k < 27);
	snprintf(pre, sizeof(pre), "%.*s", (int)k + 1, a->id);
	assert_ptr_equal(incident_mgr_find_prefix(m, pre), a);
	pre[k] = b->id[k];
	assert_ptr_equal(incident_mgr_find_prefix(m, pre), b);
	pre[k] = '\0';
	assert_null(incident_mgr_find_prefix(m, pre));
	assert_null(incident_mgr_find_prefix(m, ""));
	assert_ptr_equal(incident_mgr_first(m), a);
	assert_string_equal(incident_status_name(INC_OPEN), "open");
	assert_string_equal(incident_status_name(INC_CONTAINED), "contained");
	assert_string_equal(incident_status_name(INC_RELEASED), "released");
	assert_string_equal(incident_status_name(INC_CLOSED), "closed");
	assert_string_equal(incident_status_name((enum inc_status)4), "unknown");
	assert_int_equal(incident_status_from_name("released"), INC_RELEASED);
	assert_int_equal(incident_status_from_name("Closed"), -1);
	assert_int_equal(incident_status_from_name(NULL), -1);
	incident_mgr_free(m);
}

/* every correlation key comes from incident_key, in docs/incidents.md's forms */
static void test_keys(void **state)
{
	char k[INC_KEY_MAX];

	(void)state;
	incident_key(k, sizeof(k), &(struct inc_key_of){ .container_id = "abc123", .is_container = true,
							  .cgroup_id = 7, .root_pid = 9 });
	assert_string_equal(k, "ctr:abc123");
	incident_key(k, sizeof(k), &(struct inc_key_of){ .is_container = true, .cgroup_id = 4242 });
	assert_string_equal(k, "cg:4242");
	incident_key(k, sizeof(k), &(struct inc_key_of){ .root_pid = 812, .root_start_ns = 5123456789ull });
	assert_string_equal(k, "host:812:5123456789");
	assert_true(incident_key_is_host(k));
	/* an unknown tree still has the documented shape */
	incident_key(k, sizeof(k), &(struct inc_key_of){ .root_pid = 33 });
	assert_string_equal(k, "host:33:0");
	incident_key(k, sizeof(k), &(struct inc_key_of){ .pod_uid = "0f1e-uid" });
	assert_string_equal(k, "pod:0f1e-uid");
	incident_key(k, sizeof(k), &(struct inc_key_of){ .node = "node-a" });
	assert_string_equal(k, "node:node-a");
	assert_false(incident_key_is_host("ctr:abc123"));
	/* an empty container id is no container */
	incident_key(k, sizeof(k), &(struct inc_key_of){ .container_id = "", .is_container = true,
							  .cgroup_id = 5 });
	assert_string_equal(k, "cg:5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_status_and_joining),
		cmocka_unit_test(test_tick),
		cmocka_unit_test(test_repeats),
		cmocka_unit_test(test_repeat_coalescing),
		cmocka_unit_test(test_severity),
		cmocka_unit_test(test_timeline_bound),
		cmocka_unit_test(test_process_tree),
		cmocka_unit_test(test_replay_equal),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_malformed_records),
		cmocka_unit_test(test_stale_records),
		cmocka_unit_test(test_find_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
