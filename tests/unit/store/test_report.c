// SPDX-License-Identifier: Apache-2.0
/*
 * agent/store/report.c: JSON, Markdown, HTML and terminal reports of incidents
 * full of hostile strings (nothing from the incident may act as markup, a
 * control sequence, a table separator or a fence), the journal round trip
 * through incidents_load, severity escalation as the reports show it, the
 * process tree, and the list filters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "report.h"
#include "unit_helpers.h"
#include "report_fixture.h"

/* ---------------------------------------------------------------- helpers */

typedef void (*report_fn)(FILE *out, const struct incident *inc);

static char *render(report_fn fn, const struct incident *inc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	fn(m, inc);
	assert_int_equal(fclose(m), 0);
	assert_non_null(buf);
	assert_int_equal(strlen(buf), len); /* no NUL inside */
	return buf;
}

/* only printable bytes, newlines and well-formed UTF-8 */
static void assert_no_controls(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = 0; p[i]; i++)
		if ((p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7f)
			fail_msg("raw control byte 0x%02x at %zu: ...%.40s", p[i], i, s + (i > 20 ? i - 20 : 0));
	assert_true(strict_utf8(p, i));
	/* C1 controls (U+0080..U+009F) and the bidi override U+202E */
	assert_null(strstr(s, "\xc2\x9b"));
	assert_null(strstr(s, "\xe2\x80\xae"));
}

static struct incident *hostile(struct incmgr **m, struct capture *cap)
{
	*m = fixture_mgr(cap);
	assert_non_null(*m);
	return fixture_hostile(*m, T0);
}

static size_t count_char(const char *s, size_t n, char c)
{
	size_t k = 0, i;

	for (i = 0; i < n; i++)
		k += s[i] == c;
	return k;
}

/* the lines of the section "## title" up to the next "## " */
static void section(const char *doc, const char *title, const char **start, const char **end)
{
	char hdr[64];
	const char *s, *e;

	snprintf(hdr, sizeof(hdr), "\n## %s\n", title);
	s = strstr(doc, hdr);
	if (!s)
		fail_msg("no section %s", title);
	s += strlen(hdr);
	e = strstr(s, "\n## ");
	*start = s;
	*end = e ? e + 1 : s + strlen(s);
}

/* every table row in [s, e) has exactly `pipes` '|' */
static size_t check_table_rows(const char *s, const char *e, size_t pipes)
{
	size_t rows = 0;

	while (s < e) {
		const char *nl = memchr(s, '\n', (size_t)(e - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(e - s);

		if (n && s[0] == '|') {
			if (count_char(s, n, '|') != pipes)
				fail_msg("row with %zu '|' (want %zu): %.*s", count_char(s, n, '|'), pipes,
					 (int)n, s);
			rows++;
		}
		s += n + 1;
	}
	return rows;
}

static size_t backtick_run(const char *s, size_t n)
{
	size_t best = 0, cur = 0, i;

	for (i = 0; i < n; i++) {
		cur = s[i] == '`' ? cur + 1 : 0;
		best = cur > best ? cur : best;
	}
	return best;
}

/* every fenced block's content has backtick runs shorter than its fence;
 * returns the longest content run seen */
static size_t check_fences(const char *doc, size_t *blocks)
{
	const char *s = doc;
	size_t fence = 0, longest = 0;

	*blocks = 0;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		size_t lead = 0;

		while (lead < n && s[lead] == '`')
			lead++;
		if (!fence) {
			if (lead >= 3) {
				fence = lead;
				(*blocks)++;
			} else if (lead) {
				fail_msg("a line starts with a backtick outside a fence: %.*s", (int)n, s);
			}
		} else if (lead >= fence && lead == n) {
			fence = 0;
		} else {
			size_t run = backtick_run(s, n);

			if (run >= fence)
				fail_msg("content run of %zu backticks inside a %zu fence", run, fence);
			longest = run > longest ? run : longest;
		}
		s += n + (nl ? 1 : 0);
	}
	assert_int_equal(fence, 0); /* every block closed */
	return longest;
}

/* the document without the content of its fenced blocks */
static char *outside_fences(const char *doc)
{
	char *r = malloc(strlen(doc) + 1), *o = r;
	const char *s = doc;
	size_t fence = 0;

	assert_non_null(r);
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s + 1) : strlen(s), lead = 0;

		while (lead < n && s[lead] == '`')
			lead++;
		if (!fence && lead >= 3)
			fence = lead;
		else if (fence && lead >= fence)
			fence = 0;
		else if (!fence) {
			memcpy(o, s, n);
			o += n;
		}
		s += n;
	}
	*o = '\0';
	return r;
}

/* every '<' opens one of the tags the HTML writer itself uses */
static void check_html_tags(const char *doc)
{
	static const char *const tags[] = {
		"!DOCTYPE html>", "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3",
		"table", "tr", "th", "td", "ul", "li", "pre", "code", "p", "a", "span",
	};
	const char *p;
	size_t i;

	for (p = strchr(doc, '<'); p; p = strchr(p + 1, '<')) {
		const char *q = p + 1;
		bool ok = false;

		if (*q == '/')
			q++;
		for (i = 0; i < sizeof(tags) / sizeof(tags[0]) && !ok; i++) {
			size_t n = strlen(tags[i]);

			ok = !strncmp(q, tags[i], n) && (q[n] == '>' || q[n] == ' ' || tags[i][n - 1] == '>');
		}
		if (!ok)
			fail_msg("unexpected '<' in HTML: %.40s", p);
	}
	assert_null(strcasestr(doc, "<script"));
	assert_null(strcasestr(doc, "<img"));
	assert_null(strcasestr(doc, "href=\"javascript"));
}

/* ---------------------------------------------------------------- JSON */

static void test_json_report_valid(void **state)
{
	struct incmgr *m;
	struct capture cap = { 0 };
	struct incident *inc = hostile(&m, &cap);
	char *pretty = render(report_json, inc), *compact = render(report_json_compact, inc);
	cJSON *a = parse_doc(pretty), *b = parse_doc(compact), *ref = fixture_inc_json(inc);
	cJSON *tl, *ev, *procs;

	(void)state;
	assert_true(cJSON_Compare(a, ref, 1));
	assert_true(cJSON_Compare(b, ref, 1));
	assert_int_equal(count_char(compact, strlen(compact), '\n'), 1);
	assert_non_null(strstr(pretty, "\n  \"id\": \""));
	assert_no_controls(pretty);

	assert_json_str(member(a, "id"), inc->id);
	assert_json_str(member(a, "severity"), "high");
	tl = member(a, "timeline");
	assert_int_equal(cJSON_GetArraySize(tl), 2);
	assert_json_num(member(cJSON_GetArrayItem(tl, 0), "count"), 3);
	/* the raw event is embedded as an object, not as a string */
	ev = member(cJSON_GetArrayItem(tl, 0), "event");
	assert_true(cJSON_IsObject(ev));
	assert_json_str(member(ev, "filename"), HOSTILE_EXE);
	assert_json_str(member(ev, "comm"), "\x1b]0;pwned\x07sh");
	/* the exact bytes of non-UTF-8 text survive beside the readable form */
	procs = member(a, "process_tree");
	assert_int_equal(cJSON_GetArraySize(procs), 3);
	assert_true(cJSON_IsString(member(cJSON_GetArrayItem(procs, 2), "cmdline_hex")));
	assert_json_str(member(cJSON_GetArrayItem(procs, 2), "exe"), HOSTILE_EXE);
	assert_true(cJSON_IsObject(member(member(a, "attribution"), "pod")));

	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(ref);
	free(pretty);
	free(compact);
	incident_mgr_free(m);
	free(cap.buf);
}

static void test_json_report_bad_raw_json(void **state)
{
	struct incmgr *m = fixture_mgr(NULL);
	struct inc_attr attr = { .is_container = true, .pod_json = "{\"a\":" };
	struct fixture_det f = {
		.rule = "r1", .category = "execution", .sev = SEV_LOW, .wall_ns = T0, .cmdline = "a",
		.pid = 1, .key = "ctr:x", .attr = &attr, .event_json = "{\"broken\": tru",
	};
	struct incident *inc;
	char *out, *md;
	cJSON *o, *tl;

	(void)state;
	inc = fixture_detect(m, &f);
	f.rule = "r2";
	f.event_json = "[1, 2]";
	fixture_detect(m, &f);
	f.rule = "r3";
	f.event_json = "{\"n\": 01, \"ok\": \"\x01\xff\", \"big\": 123456789012345678901234567890}";
	fixture_detect(m, &f);
	f.rule = "r4";
	f.no_event = true;
	fixture_detect(m, &f);

	out = render(report_json, inc);
	o = parse_doc(out);
	tl = member(o, "timeline");
	assert_json_str(member(member(cJSON_GetArrayItem(tl, 0), "event"), "unparsed"),
			"{\"broken\": tru");
	assert_json_str(member(member(cJSON_GetArrayItem(tl, 1), "event"), "unparsed"), "[1, 2]");
	/* laxer-than-RFC input is still written as valid JSON, big numbers exactly */
	assert_true(cJSON_IsObject(member(cJSON_GetArrayItem(tl, 2), "event")));
	assert_non_null(strstr(out, "123456789012345678901234567890"));
	assert_true(cJSON_IsNull(member(cJSON_GetArrayItem(tl, 3), "event")));
	assert_json_str(member(member(member(o, "attribution"), "pod"), "unparsed"), "{\"a\":");
	assert_no_controls(out);

	md = render(report_markdown, inc);
	assert_no_controls(md);
	cJSON_Delete(o);
	free(out);
	free(md);
	incident_mgr_free(m);
}

/* ---------------------------------------------------------------- Markdown */

static void test_markdown_hostile(void **state)
{
	struct incmgr *m;
	struct incident *inc = hostile(&m, NULL);
	char *md = render(report_markdown, inc), *text = outside_fences(md);
	const char *s, *e, *p;
	size_t blocks, longest;

	(void)state;
	assert_no_controls(md);
	assert_true(!strncmp(md, "# Incident ", 11));
	/* no HTML from the content: every '<' is backslash-escaped, and the
	 * JSON blocks spell it \u003c */
	assert_null(strstr(md, "<script>"));
	for (p = strchr(md, '<'); p; p = strchr(p + 1, '<'))
		if (p == md || p[-1] != '\\')
			fail_msg("unescaped '<': %.30s", p);
	assert_non_null(strstr(md, "\\u003cscript\\u003e"));
	/* no link or emphasis can come from the content */
	assert_null(strstr(text, "](javascript"));
	assert_null(strstr(text, "*b*"));
	assert_non_null(strstr(text, "\\[l\\]\\(javascript\\:x\\)"));
	assert_non_null(strstr(md, "\\*b\\* \\_i\\_"));
	assert_non_null(strstr(md, "www\\.evil\\.com"));

	/* the pipe never reaches the document raw; backticks are escaped */
	assert_non_null(strstr(md, "/tmp/x&#124;y\\`z"));
	/* controls and bad bytes are visible escapes; a literal backslash is doubled */
	assert_non_null(strstr(md, "\\\\x1b\\[31mred"));
	assert_non_null(strstr(md, "red\\\\x1b\\[0m\\\\nline2\\\\r\\\\x07 \\\\xff\\\\xfe\\\\xc3 &#124;"));
	assert_non_null(strstr(md, "\\\\u202ecod\\.exe \\\\xc2\\\\x9b tab\\\\there \\\\\\\\n"));

	/* sections in order */
	assert_true(strstr(md, "## Summary") < strstr(md, "## Timeline"));
	assert_true(strstr(md, "## Timeline") < strstr(md, "## Process tree"));
	assert_true(strstr(md, "## Process tree") < strstr(md, "## Attribution"));
	assert_true(strstr(md, "## Attribution") < strstr(md, "## Detections"));
	assert_true(strstr(md, "## Detections") < strstr(md, "## Actions"));

	/* tables keep their columns: header, delimiter and one row per entry */
	section(md, "Timeline", &s, &e);
	assert_int_equal(check_table_rows(s, e, 9), 2 + 2);
	section(md, "Actions", &s, &e);
	assert_int_equal(check_table_rows(s, e, 8), 2 + 1);
	assert_non_null(strstr(s, "| isolate | intent | pod ns&#124;x/web\\`1\\\\n | would | "));
	assert_non_null(strstr(s, " | yes |"));

	/* fences are longer than any backtick run inside them (the event
	 * holds a run of 8) */
	longest = check_fences(md, &blocks);
	assert_int_equal(blocks, 3); /* pod fields + two events */
	assert_int_equal(longest, 8);
	assert_non_null(strstr(md, "\n`````````json\n"));

	/* MITRE ids link to ATT&CK; an invalid id is text, not a link */
	assert_non_null(strstr(md, "[T1059.004](https://attack.mitre.org/techniques/T1059/004/)"));
	assert_non_null(strstr(md, "[T1609](https://attack.mitre.org/techniques/T1609/)"));
	assert_non_null(strstr(md, "[T1068](https://attack.mitre.org/techniques/T1068/)"));
	assert_non_null(strstr(md, "bogus\\]\\(javascript\\:alert\\(1\\)\\)"));

	/* summary and attribution */
	assert_non_null(strstr(md, "- **Status:** contained\n"));
	assert_non_null(strstr(md, "- **Node:** node\\-a") || strstr(md, "- **Node:** node-a"));
	assert_non_null(strstr(md, ", pod shop/web-1\\<script\\>alert\\(2\\)\\</script\\>&#124;\n"));
	assert_non_null(strstr(md, "- **Counts:** 2 timeline entries, 4 detections with repeats, "
				   "3 processes, 1 actions\n"));
	assert_non_null(strstr(md, "- **QoS:** burstable\n"));
	assert_non_null(strstr(md, "- **Pod UID:** 11111111-2222-3333-4444-555555555555\n"));
	assert_non_null(strstr(md, "cri-containerd-0123&#124;\\`\\\\x1b\\.scope"));
	free(text);
	free(md);
	incident_mgr_free(m);
}

static void test_markdown_no_actions(void **state)
{
	struct incmgr *m = fixture_mgr(NULL);
	struct fixture_det f = {
		.rule = "r", .category = "execution", .sev = SEV_LOW, .wall_ns = T0, .cmdline = "a",
		.pid = 1, .key = "host:1:1", .no_event = true,
	};
	struct incident *inc = fixture_detect(m, &f);
	char *md = render(report_markdown, inc), *html = render(report_html, inc);
	char *txt = render(report_text, inc);

	(void)state;
	assert_non_null(strstr(md, "## Actions\n\nNo actions were taken.\n"));
	assert_non_null(strstr(md, "- **Host:** process tree host:1:1\n") ||
			strstr(md, "- **Host:** process tree host\\:1\\:1\n"));
	assert_non_null(strstr(md, "No processes recorded."));
	assert_non_null(strstr(html, "<p>No actions were taken.</p>"));
	assert_non_null(strstr(txt, "\nActions\n  No actions were taken.\n"));
	free(md);
	free(html);
	free(txt);
	incident_mgr_free(m);
}

/* ---------------------------------------------------------------- HTML */

static void test_html_hostile(void **state)
{
	struct incmgr *m;
	struct incident *inc = hostile(&m, NULL);
	char *html = render(report_html, inc);

	(void)state;
	assert_no_controls(html);
	check_html_tags(html);
	assert_true(!strncmp(html, "<!DOCTYPE html>\n", 16));
	assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"));
	assert_non_null(strstr(html, "script-src 'none'"));
	/* text is escaped, also inside <pre> event blocks and attributes */
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "&lt;img src=x onerror=y&gt;"));
	assert_non_null(strstr(html, "&amp;amp;"));
	assert_non_null(strstr(html, "sh -c &#39;x | y&#39;"));
	assert_non_null(strstr(html, "\\x1b[31mred"));
	assert_non_null(strstr(html, "\\u202ecod.exe"));
	assert_non_null(strstr(html, "web-1&lt;script&gt;alert(2)&lt;/script&gt;|"));
	assert_non_null(strstr(html, "<pre>{\n  &quot;kind&quot;: &quot;exec&quot;,"));
	assert_non_null(strstr(html, "&quot;comm&quot;: &quot;\\u001b]0;pwned\\u0007sh&quot;"));
	assert_non_null(strstr(html, "<a href=\"https://attack.mitre.org/techniques/T1059/004/\""));
	assert_null(strstr(html, "href=\"bogus"));
	/* the process tree nests */
	assert_non_null(strstr(html, "<ul class=\"tree\">\n<li><code>pid 100</code>"));
	assert_true(strstr(html, "pid 100") < strstr(html, "pid 200"));
	assert_true(strstr(html, "pid 200") < strstr(html, "pid 300"));
	assert_non_null(strstr(html, "</ul></li>\n</ul></li>\n</ul>\n"));
	assert_non_null(strstr(html, "</body>\n</html>\n"));
	free(html);
	incident_mgr_free(m);
}

/* ---------------------------------------------------------------- text */

static void test_text_hostile(void **state)
{
	struct incmgr *m;
	struct incident *inc = hostile(&m, NULL);
	char *txt = render(report_text, inc);
	char line[512];

	(void)state;
	assert_no_controls(txt);
	assert_non_null(strstr(txt, "\\x1b[31mred\\x1b[0m\\nline2\\r\\x07 \\xff\\xfe\\xc3 | "));
	assert_non_null(strstr(txt, "\\u202ecod.exe \\xc2\\x9b tab\\there \\\\n"));
	snprintf(line, sizeof(line), "Incident %s\n  Severity:    high (chain of 2 categories: "
		 "execution -> privilege_escalation), highest single detection medium\n", inc->id);
	assert_true(!strncmp(txt, line, strlen(line)));
	assert_non_null(strstr(txt, "  Status:      contained\n"));
	assert_non_null(strstr(txt, "  Pod:         shop/web-1<script>alert(2)</script>| (uid "));
	assert_non_null(strstr(txt, "  2023-11-14T22:13:20.000Z  medium    shell-in-container  "
				    "[execution; T1059.004, T1609]  x3 (last 2023-11-14T22:13:22.000Z)\n"));
	assert_non_null(strstr(txt, "\nProcess tree\n  100 (uid 0, euid 0) /usr/bin/containerd-shim"));
	assert_non_null(strstr(txt, "\n    `- 200 (uid 1000, euid 1000) /bin/sh: sh -c 'x | y'\n"
				    "      `- 300 (uid 1000, euid 0) /tmp/x|y`z: sh -c"));
	assert_non_null(strstr(txt, "isolate intent -> would  target pod ns|x/web`1\\n: dry run: "
				    "<b>x</b> | y\\x1b[2J (dry run)\n"));
	free(txt);
	incident_mgr_free(m);
}

/* ---------------------------------------------------------------- round trip */

static void test_roundtrip_through_journal(void **state)
{
	char dir[] = "/tmp/ng-report-XXXXXX", warnbuf[1024] = "";
	struct capture cap = { 0 };
	struct journal_replay_stats st;
	struct incmgr *m, *back = NULL;
	struct incident *inc, *inc2, *r;
	cJSON *a, *b;
	FILE *warn = fmemopen(warnbuf, sizeof(warnbuf) - 1, "w");
	char *md1, *md2;
	struct fixture_det f = {
		.rule = "host-rule", .category = "discovery", .sev = SEV_LOW, .wall_ns = T0 + 100 * NS_PER_S,
		.cmdline = "id \xff", .pid = 77, .key = "host:77:1", .no_event = true,
	};

	(void)state;
	assert_non_null(warn);
	inc = hostile(&m, &cap);
	inc2 = fixture_detect(m, &f);
	assert_ptr_not_equal(inc, inc2);
	/* closing (as incident_mgr_tick does) does not move last_seen, live or replayed */
	assert_int_equal(incident_mgr_set_status(m, inc2, INC_CLOSED, "idle", T0 + 9000 * NS_PER_S), 0);
	assert_non_null(mkdtemp(dir));
	fixture_write_file(dir, JOURNAL_FILE, cap.buf, cap.len);

	assert_int_equal(incidents_load(dir, &back, &st, warn), 0);
	fclose(warn);
	assert_string_equal(warnbuf, "");
	assert_int_equal(st.records, cap.records);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(incident_mgr_count(back, false), 2);

	r = incident_mgr_find(back, inc->id);
	assert_non_null(r);
	assert_ptr_equal(incident_mgr_first(back), r);
	a = fixture_inc_json(inc);
	b = fixture_inc_json(r);
	if (!cJSON_Compare(a, b, 1)) {
		char *x = cJSON_Print(a), *y = cJSON_Print(b);

		fail_msg("reloaded incident differs:\n%s\n---\n%s", x, y);
	}
	/* the parts the brief names, explicitly */
	assert_string_equal(r->id, inc->id);
	assert_int_equal(r->severity, SEV_HIGH);
	assert_string_equal(r->severity_reason, inc->severity_reason);
	assert_int_equal(r->nentries, 2);
	assert_int_equal(r->entries[0].count, 3);
	assert_int_equal(r->nprocs, 3);
	assert_string_equal(r->procs[0].cmdline, inc->procs[0].cmdline);
	assert_string_equal(r->procs[2].cmdline, HOSTILE_CMD); /* exact bytes, from cmdline_hex */
	assert_string_equal(r->entries[0].fingerprint, HOSTILE_CMD);
	assert_int_equal(r->nactions, 1);
	assert_string_equal(r->actions[0].target, "pod ns|x/web`1\n");
	assert_int_equal(r->status, INC_CONTAINED);
	assert_int_equal(r->last_ns, inc->last_ns);
	cJSON_Delete(a);
	cJSON_Delete(b);

	/* the reports of the reloaded incident are the same documents */
	md1 = render(report_markdown, inc);
	md2 = render(report_markdown, r);
	assert_string_equal(md1, md2);
	free(md1);
	free(md2);

	r = incident_mgr_find(back, inc2->id);
	assert_non_null(r);
	a = fixture_inc_json(inc2);
	b = fixture_inc_json(r);
	assert_true(cJSON_Compare(a, b, 1));
	assert_int_equal(r->status, INC_CLOSED);
	assert_int_equal(r->last_ns, T0 + 100 * NS_PER_S);
	cJSON_Delete(a);
	cJSON_Delete(b);

	incident_mgr_free(back);
	incident_mgr_free(m);
	free(cap.buf);
	fixture_rmtree(dir);
}

/* records may replay more than once (a retried append, a snapshot after a
 * rotation): the incident comes out the same */
static void test_replay_idempotent(void **state)
{
	char dir[] = "/tmp/ng-report-XXXXXX";
	struct capture cap = { 0 };
	struct incmgr *m, *back = NULL;
	struct incident *inc;
	char *text;
	size_t n;
	cJSON *a, *b;

	(void)state;
	inc = hostile(&m, &cap);
	n = cap.len;
	/* the records, a snapshot of the open incident, the records again */
	assert_int_equal(incident_mgr_snapshot_open(m), 0);
	text = malloc(cap.len + n + 1);
	assert_non_null(text);
	memcpy(text, cap.buf, cap.len);
	memcpy(text + cap.len, cap.buf, n);
	assert_non_null(mkdtemp(dir));
	fixture_write_file(dir, JOURNAL_FILE, text, cap.len + n);

	assert_int_equal(incidents_load(dir, &back, NULL, NULL), 0);
	assert_int_equal(incident_mgr_count(back, false), 1);
	a = fixture_inc_json(inc);
	b = fixture_inc_json(incident_mgr_first(back));
	assert_true(cJSON_Compare(a, b, 1));
	assert_int_equal(incident_mgr_first(back)->nactions, 1);
	cJSON_Delete(a);
	cJSON_Delete(b);
	free(text);
	incident_mgr_free(back);
	incident_mgr_free(m);
	free(cap.buf);
	fixture_rmtree(dir);
}

static void test_load_malformed(void **state)
{
	char dir[] = "/tmp/ng-report-XXXXXX", *warnbuf = NULL;
	size_t warnlen = 0, i;
	struct capture cap = { 0 };
	struct journal_replay_stats st;
	struct incmgr *m, *back = NULL;
	FILE *warn;
	char *text, path[600];
	size_t n;
	struct fixture_det f = {
		.rule = "r", .category = "execution", .sev = SEV_MEDIUM, .wall_ns = T0, .cmdline = "a",
		.pid = 1, .key = "host:1:1", .no_event = true,
	};

	(void)state;
	m = fixture_mgr(&cap);
	fixture_detect(m, &f);
	assert_non_null(mkdtemp(dir));
	/* good records with bad lines between them */
	text = malloc(cap.len + 4096);
	assert_non_null(text);
	n = (size_t)sprintf(text, "%s", "not json\n[1,2]\n\n");
	n += (size_t)sprintf(text + n, "%s", "{\"rec\":\"detection\",\"v\":1,\"incident\":\"ng-nope\"}\n");
	memcpy(text + n, cap.buf, cap.len);
	n += cap.len;
	fixture_write_file(dir, JOURNAL_FILE, text, n);

	warn = open_memstream(&warnbuf, &warnlen);
	assert_int_equal(incidents_load(dir, &back, &st, warn), 0);
	fclose(warn);
	snprintf(path, sizeof(path), "%s/" JOURNAL_FILE ":1: invalid JSON\n", dir);
	assert_non_null(strstr(warnbuf, path));
	snprintf(path, sizeof(path), "%s/" JOURNAL_FILE ":2: not a JSON object\n", dir);
	assert_non_null(strstr(warnbuf, path));
	snprintf(path, sizeof(path), "%s/" JOURNAL_FILE ":3: empty line\n", dir);
	assert_non_null(strstr(warnbuf, path));
	snprintf(path, sizeof(path), "%s/" JOURNAL_FILE ":4: record does not apply", dir);
	assert_non_null(strstr(warnbuf, path));
	assert_int_equal(st.malformed, 4);
	assert_int_equal(incident_mgr_count(back, false), 1);
	assert_int_equal(incident_mgr_first(back)->nentries, 1);
	incident_mgr_free(back);
	free(warnbuf);

	/* many bad lines: 20 warnings, then a count */
	n = 0;
	for (i = 0; i < 50; i++)
		n += (size_t)sprintf(text + n, "x%zu\n", i);
	fixture_write_file(dir, JOURNAL_FILE, text, n);
	warnbuf = NULL;
	warn = open_memstream(&warnbuf, &warnlen);
	assert_int_equal(incidents_load(dir, &back, &st, warn), 0);
	fclose(warn);
	assert_int_equal(count_char(warnbuf, warnlen, '\n'), 21);
	assert_non_null(strstr(warnbuf, "... and 30 more malformed journal lines\n"));
	assert_int_equal(st.malformed, 50);
	incident_mgr_free(back);
	free(warnbuf);

	/* a directory that is not there */
	back = (struct incmgr *)1;
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(incidents_load(path, &back, NULL, NULL), -ENOENT);
	assert_null(back);

	free(text);
	incident_mgr_free(m);
	free(cap.buf);
	fixture_rmtree(dir);
}

/* ---------------------------------------------------------------- severity */

static void test_escalation_in_reports(void **state)
{
	struct incmgr *m = fixture_mgr(NULL);
	struct fixture_det f = {
		.rule = "shell", .category = "execution", .sev = SEV_MEDIUM, .wall_ns = T0,
		.cmdline = "sh", .pid = 5, .key = "ctr:abc", .no_event = true,
	};
	struct incident *inc = fixture_detect(m, &f);
	char *md, *txt, *json;
	cJSON *o;

	(void)state;
	/* one category: the highest detection */
	assert_int_equal(inc->severity, SEV_MEDIUM);
	txt = render(report_text, inc);
	assert_non_null(strstr(txt, "  Severity:    medium (highest detection)\n"));
	free(txt);

	/* a second detection in the same category changes nothing */
	f.rule = "shell2";
	f.cmdline = "bash";
	fixture_detect(m, &f);
	assert_int_equal(inc->severity, SEV_MEDIUM);

	/* two categories: one step up, with the reason */
	f.rule = "setuid";
	f.category = "privilege_escalation";
	f.cmdline = "su";
	fixture_detect(m, &f);
	assert_int_equal(inc->severity, SEV_HIGH);
	assert_int_equal(inc->max_detection, SEV_MEDIUM);

	md = render(report_markdown, inc);
	assert_non_null(strstr(md, "- **Severity:** high \xe2\x80\x94 chain of 2 categories\\: "
				   "execution -\\> privilege\\_escalation (highest single detection: "
				   "medium)\n"));
	assert_non_null(strstr(md, "- **Categories:** execution \xe2\x86\x92 privilege\\_escalation\n"));
	txt = render(report_text, inc);
	assert_non_null(strstr(txt, "  Severity:    high (chain of 2 categories: execution -> "
				    "privilege_escalation), highest single detection medium\n"));
	json = render(report_json, inc);
	o = parse_doc(json);
	assert_json_str(member(o, "severity"), "high");
	assert_json_str(member(o, "max_detection_severity"), "medium");
	assert_json_str(member(o, "severity_reason"),
			"chain of 2 categories: execution -> privilege_escalation");
	cJSON_Delete(o);
	free(md);
	free(txt);
	free(json);

	/* three categories: two steps, capped at critical */
	f.rule = "shadow";
	f.category = "credential_access";
	f.cmdline = "cat /etc/shadow";
	fixture_detect(m, &f);
	assert_int_equal(inc->severity, SEV_CRITICAL);
	txt = render(report_text, inc);
	assert_non_null(strstr(txt, "  Severity:    critical (chain of 3 categories: execution -> "
				    "privilege_escalation -> credential_access), highest single "
				    "detection medium\n"));
	free(txt);
	incident_mgr_free(m);
}

/* ---------------------------------------------------------------- tree */

static void test_process_tree(void **state)
{
	struct inc_proc procs[] = {
		{ .pid = 40, .ppid = 999, .exe = "/orphan", .cmdline = "" }, /* parent unknown */
		{ .pid = 20, .ppid = 10, .start_ns = 3, .exe = "/c", .cmdline = "c" },
		{ .pid = 10, .ppid = 1, .start_ns = 2, .exe = "/b", .cmdline = "b" },
		{ .pid = 1, .ppid = 0, .start_ns = 1, .exe = "/init", .cmdline = "init" },
		{ .pid = 30, .ppid = 10, .start_ns = 4, .exe = "/d", .cmdline = "d" },
		{ .pid = 50, .ppid = 60, .exe = "/cyc1", .cmdline = "" }, /* a ppid cycle (pid reuse) */
		{ .pid = 60, .ppid = 50, .exe = "/cyc2", .cmdline = "" },
		{ .pid = 70, .ppid = 70, .exe = "/self", .cmdline = "" },
	};
	struct incident inc = { .id = "ng-tree", .node = "n", .key = "host:1:1" };
	char *txt, *md, *html;

	(void)state;
	inc.procs = procs;
	inc.nprocs = sizeof(procs) / sizeof(procs[0]);
	txt = render(report_text, &inc);
	assert_non_null(strstr(txt, "\nProcess tree\n"
				    "  40 (uid 0, euid 0) /orphan\n"
				    "  1 (uid 0, euid 0) /init: init\n"
				    "    `- 10 (uid 0, euid 0) /b: b\n"
				    "      `- 20 (uid 0, euid 0) /c: c\n"
				    "      `- 30 (uid 0, euid 0) /d: d\n"
				    "  70 (uid 0, euid 0) /self\n"
				    "  50 (uid 0, euid 0) /cyc1\n"
				    "    `- 60 (uid 0, euid 0) /cyc2\n"
				    "\nActions\n"));
	md = render(report_markdown, &inc);
	assert_non_null(strstr(md, "## Process tree\n\n"
				   "- pid 40 (uid 0, euid 0) /orphan\n"
				   "- pid 1 (uid 0, euid 0) /init: init\n"
				   "  - pid 10 (uid 0, euid 0) /b: b\n"
				   "    - pid 20 (uid 0, euid 0) /c: c\n"
				   "    - pid 30 (uid 0, euid 0) /d: d\n"
				   "- pid 70 (uid 0, euid 0) /self\n"
				   "- pid 50 (uid 0, euid 0) /cyc1\n"
				   "  - pid 60 (uid 0, euid 0) /cyc2\n\n"));
	html = render(report_html, &inc);
	check_html_tags(html);
	{
		/* balanced lists */
		size_t open = 0, close = 0;
		const char *p;

		for (p = html; (p = strstr(p, "<ul")); p++)
			open++;
		for (p = html; (p = strstr(p, "</ul>")); p++)
			close++;
		assert_int_equal(open, close);
		assert_int_equal(open, 4);
		for (open = close = 0, p = html; (p = strstr(p, "<li>")); p++)
			open++;
		for (p = html; (p = strstr(p, "</li>")); p++)
			close++;
		assert_int_equal(open, close);
		assert_int_equal(open, 8);
	}
	free(txt);
	free(md);
	free(html);
}

/* ---------------------------------------------------------------- list */

static void test_list_line_and_json(void **state)
{
	struct incmgr *m;
	struct incident *inc = hostile(&m, NULL);
	char *line = render(report_list_line, inc), *js = render(report_list_json, inc);
	cJSON *o;

	(void)state;
	assert_no_controls(line);
	assert_true(!strncmp(line, inc->id, strlen(inc->id)));
	assert_non_null(strstr(line, "  high      contained  2023-11-14T22:13:20.000Z  "
				     "shop/web-1<script>alert(2)</script>|  shell-in-container (+1)\n"));
	assert_int_equal(count_char(line, strlen(line), '\n'), 1);
	o = parse_doc(js);
	assert_json_str(member(o, "id"), inc->id);
	assert_json_str(member(o, "severity"), "high");
	assert_json_str(member(o, "status"), "contained");
	assert_json_str(member(o, "top_rule"), "shell-in-container");
	assert_json_str(member(o, "pod_namespace"), "shop");
	assert_json_num(member(o, "detections"), 4);
	assert_json_str(member(o, "first_seen_ns"), "1700000000000000000");
	cJSON_Delete(o);
	free(line);
	free(js);
	incident_mgr_free(m);
}

static void test_parse_since(void **state)
{
	const uint64_t now = T0;
	uint64_t v;

	(void)state;
	assert_int_equal(report_parse_since("30m", now, &v), 0);
	assert_true(v == now - 1800 * NS_PER_S);
	assert_int_equal(report_parse_since("2h", now, &v), 0);
	assert_true(v == now - 7200 * NS_PER_S);
	assert_int_equal(report_parse_since("7d", now, &v), 0);
	assert_true(v == now - 7 * 86400 * NS_PER_S);
	assert_int_equal(report_parse_since("1h30m", now, &v), 0);
	assert_true(v == now - 5400 * NS_PER_S);
	assert_int_equal(report_parse_since("90s", now, &v), 0);
	assert_true(v == now - 90 * NS_PER_S);
	assert_int_equal(report_parse_since("2w", now, &v), 0);
	assert_true(v == now - 14 * 86400 * NS_PER_S);
	assert_int_equal(report_parse_since("9999d", 5, &v), 0);
	assert_true(v == 0);

	assert_int_equal(report_parse_since("2023-11-14T22:13:20Z", now, &v), 0);
	assert_true(v == T0);
	assert_int_equal(report_parse_since("2023-11-14t22:13:20.25z", now, &v), 0);
	assert_true(v == T0 + 250000000ull);
	assert_int_equal(report_parse_since("2023-11-15T00:13:20+02:00", now, &v), 0);
	assert_true(v == T0);
	assert_int_equal(report_parse_since("2023-11-14T20:13:20.000000001-02:00", now, &v), 0);
	assert_true(v == T0 + 1);
	assert_int_equal(report_parse_since("2023-11-14", now, &v), 0);
	assert_true(v == (1700000000ull - 22 * 3600 - 13 * 60 - 20) * NS_PER_S);

	static const char *const bad[] = {
		"", "30", "m", "30x", "-5m", "1.5h", "30m ", " 30m", "h2", "999999999999999999999s",
		"2023-11-14T22:13:20", "2023-13-01", "2023-02-30", "2023-11-14T25:00:00Z",
		"2023-11-14T22:13:20+0200", "2023-11-14T22:13:20Zjunk", "1969-12-31", "yesterday",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (report_parse_since(bad[i], now, &v) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
}

static void test_filters(void **state)
{
	struct incmgr *m = fixture_mgr(NULL);
	struct inc_attr web = { .is_container = true, .pod_namespace = "shop", .pod_name = "web-1" };
	struct inc_attr db = { .is_container = true, .pod_namespace = "shop", .pod_name = "db-0" };
	struct fixture_det f = {
		.rule = "r", .category = "execution", .sev = SEV_MEDIUM, .wall_ns = T0, .cmdline = "a",
		.pid = 1, .key = "ctr:web", .attr = &web, .no_event = true,
	};
	struct incident *a, *b, *c;
	struct report_filter flt = { .min_severity = -1, .status = -1 };
	char ns[16], name[16];

	(void)state;
	a = fixture_detect(m, &f);
	f.key = "ctr:db";
	f.attr = &db;
	f.sev = SEV_CRITICAL;
	f.wall_ns = T0 + 3600 * NS_PER_S;
	b = fixture_detect(m, &f);
	f.key = "host:1:1";
	f.attr = NULL;
	f.sev = SEV_HIGH;
	c = fixture_detect(m, &f);
	incident_mgr_set_status(m, c, INC_CLOSED, "idle", T0 + 7200 * NS_PER_S);

	assert_true(report_filter_match(&flt, a) && report_filter_match(&flt, b) &&
		    report_filter_match(&flt, c));
	flt.min_severity = SEV_HIGH;
	assert_false(report_filter_match(&flt, a));
	assert_true(report_filter_match(&flt, b));
	assert_true(report_filter_match(&flt, c));
	flt.min_severity = -1;
	flt.since_ns = T0 + 1;
	assert_false(report_filter_match(&flt, a));
	assert_true(report_filter_match(&flt, b));
	flt.since_ns = 0;
	flt.status = INC_CLOSED;
	assert_false(report_filter_match(&flt, b));
	assert_true(report_filter_match(&flt, c));
	flt.status = -1;

	assert_int_equal(report_parse_pod("shop/web-1", ns, sizeof(ns), name, sizeof(name)), 0);
	assert_string_equal(ns, "shop");
	assert_string_equal(name, "web-1");
	flt.pod_ns = ns;
	flt.pod_name = name;
	assert_true(report_filter_match(&flt, a));
	assert_false(report_filter_match(&flt, b));
	assert_false(report_filter_match(&flt, c)); /* no pod */
	assert_int_equal(report_parse_pod("shop/*", ns, sizeof(ns), name, sizeof(name)), 0);
	assert_true(report_filter_match(&flt, a) && report_filter_match(&flt, b));
	assert_int_equal(report_parse_pod("shop", ns, sizeof(ns), name, sizeof(name)), -EINVAL);
	assert_int_equal(report_parse_pod("/x", ns, sizeof(ns), name, sizeof(name)), -EINVAL);
	assert_int_equal(report_parse_pod("x/", ns, sizeof(ns), name, sizeof(name)), -EINVAL);
	assert_int_equal(report_parse_pod("a/b/c", ns, sizeof(ns), name, sizeof(name)), -EINVAL);
	assert_int_equal(report_parse_pod("averyveryverylongnamespace/x", ns, sizeof(ns), name,
					  sizeof(name)), -EINVAL);
	incident_mgr_free(m);
}

static void test_time_and_top(void **state)
{
	char b[48];
	struct incident empty = { .id = "x" };

	(void)state;
	assert_string_equal(report_time(T0 + 123456789ull, b, sizeof(b)), "2023-11-14T22:13:20.123Z");
	assert_string_equal(report_time(0, b, sizeof(b)), "unknown");
	assert_null(report_top_entry(&empty));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_report_valid),
		cmocka_unit_test(test_json_report_bad_raw_json),
		cmocka_unit_test(test_markdown_hostile),
		cmocka_unit_test(test_markdown_no_actions),
		cmocka_unit_test(test_html_hostile),
		cmocka_unit_test(test_text_hostile),
		cmocka_unit_test(test_roundtrip_through_journal),
		cmocka_unit_test(test_replay_idempotent),
		cmocka_unit_test(test_load_malformed),
		cmocka_unit_test(test_escalation_in_reports),
		cmocka_unit_test(test_process_tree),
		cmocka_unit_test(test_list_line_and_json),
		cmocka_unit_test(test_parse_since),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_time_and_top),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
