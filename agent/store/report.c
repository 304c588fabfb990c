// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports. The escaping rules are described in report.h; the one
 * rule everywhere: no byte of an incident reaches the output without going
 * through put_esc() (text) or json_put() (raw event JSON).
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "report.h"

enum fmt { F_TEXT, F_MD, F_HTML };

#define LOAD_MAX_WARNINGS 20
#define INDENT_MAX 64

/* ---------------------------------------------------------------- escaping */

/* invisible and bidirectional format characters: they make text read
 * differently from what it is (Trojan Source), so they are shown as \uXXXX */
static bool format_char(uint32_t cp)
{
	return cp == 0x00ad || cp == 0x034f || cp == 0x061c || cp == 0x115f || cp == 0x1160 ||
	       cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x206f) || cp == 0x3164 || cp == 0xfeff ||
	       (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
}

static uint32_t utf8_cp(const unsigned char *s, size_t l)
{
	uint32_t cp = l == 1 ? s[0] : l == 2 ? s[0] & 0x1fu : l == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
	size_t i;

	for (i = 1; i < l; i++)
		cp = cp << 6 | (s[i] & 0x3fu);
	return cp;
}

/* Markdown punctuation that can start or end an inline construct (emphasis,
 * code, links, autolinks, HTML, entities, strikethrough, headings' closing
 * #, www. and scheme: autolinks). '/', ',', ';' and '-' have no inline
 * meaning and content never starts a line, so they stay readable. */
static bool md_special(unsigned char c)
{
	return ispunct(c) && c != '/' && c != ',' && c != ';' && c != '-';
}

/* one output unit: an ASCII character to encode for the medium, or a whole
 * (already vetted) UTF-8 sequence */
static void put_unit(FILE *out, enum fmt f, const char *p, size_t n)
{
	unsigned char c = (unsigned char)p[0];

	if (n > 1) {
		fwrite(p, 1, n, out);
		return;
	}
	if (f == F_MD) {
		if (c == '|')
			fputs("&#124;", out);
		else if (md_special(c))
			fprintf(out, "\\%c", c);
		else
			fputc(c, out);
	} else if (f == F_HTML) {
		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(c, out); break;
		}
	} else {
		fputc(c, out);
	}
}

static void put_ascii(FILE *out, enum fmt f, const char *s)
{
	for (; *s; s++)
		put_unit(out, f, s, 1);
}

/* text from an incident, made visible and encoded for the medium */
static void put_esc(FILE *out, enum fmt f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), i = 0, l;
	char e[16];

	while (i < n) {
		unsigned char c = p[i];

		if (c == '\\') {
			put_ascii(out, f, "\\\\");
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			put_unit(out, f, (const char *)p + i, 1);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			if (c == '\n')
				snprintf(e, sizeof(e), "\\n");
			else if (c == '\r')
				snprintf(e, sizeof(e), "\\r");
			else if (c == '\t')
				snprintf(e, sizeof(e), "\\t");
			else
				snprintf(e, sizeof(e), "\\x%02x", c);
			put_ascii(out, f, e);
			i++;
		} else if ((l = utf8_seq_len(p + i, n - i)) == 0) {
			snprintf(e, sizeof(e), "\\x%02x", c);
			put_ascii(out, f, e);
			i++;
		} else {
			uint32_t cp = utf8_cp(p + i, l);

			if (cp < 0xa0) { /* C1 controls: the raw bytes */
				snprintf(e, sizeof(e), "\\x%02x\\x%02x", p[i], p[i + 1]);
				put_ascii(out, f, e);
			} else if (format_char(cp)) {
				snprintf(e, sizeof(e), "\\u%04" PRIx32, cp);
				put_ascii(out, f, e);
			} else {
				put_unit(out, f, (const char *)p + i, l);
			}
			i += l;
		}
	}
}

void report_term_puts(FILE *out, const char *s)
{
	put_esc(out, F_TEXT, s);
}

/* the escaped text in a new string (for padded columns); NULL on ENOMEM */
static char *esc_dup(enum fmt f, const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return NULL;
	put_esc(m, f, s);
	if (fclose(m)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---------------------------------------------------------------- JSON */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static void put_u_escape(FILE *out, uint32_t cp)
{
	if (cp > 0xffff) {
		cp -= 0x10000;
		fprintf(out, "\\u%04" PRIx32 "\\u%04" PRIx32, 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
	} else {
		fprintf(out, "\\u%04" PRIx32, cp);
	}
}

/* one character of a JSON string in the canonical form: escapes only where
 * needed (and for controls, format characters, lone surrogates, and with
 * html_safe < > &), everything else as UTF-8 */
static void json_put_cp(FILE *out, uint32_t cp, bool html_safe)
{
	char u[4];

	switch (cp) {
	case '"': fputs("\\\"", out); return;
	case '\\': fputs("\\\\", out); return;
	case '\b': fputs("\\b", out); return;
	case '\f': fputs("\\f", out); return;
	case '\n': fputs("\\n", out); return;
	case '\r': fputs("\\r", out); return;
	case '\t': fputs("\\t", out); return;
	}
	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || format_char(cp) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    (html_safe && (cp == '<' || cp == '>' || cp == '&'))) {
		put_u_escape(out, cp > 0x10ffff ? 0xfffd : cp);
	} else if (cp < 0x80) {
		fputc((int)cp, out);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		fwrite(u, 1, 2, out);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		fwrite(u, 1, 3, out);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		fwrite(u, 1, 4, out);
	}
}

static bool hex4(const unsigned char *p, uint32_t *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if (!isxdigit(p[i]))
			return false;
		*v = *v << 4 | (uint32_t)(isdigit(p[i]) ? p[i] - '0' : (tolower(p[i]) - 'a' + 10));
	}
	return true;
}

/*
 * A JSON string starting at the '"'; returns what follows it. The value is
 * kept, the spelling made canonical (json_put_cp), so the same string reads
 * the same whether jsonw (\ufffd) or cJSON (raw UTF-8) wrote it. Bytes that
 * are not UTF-8 become U+FFFD.
 */
static const char *json_put_string(FILE *out, const char *s, bool html_safe)
{
	static const char named[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	const unsigned char *p = (const unsigned char *)s + 1;
	const char *k;
	uint32_t cp, lo;
	size_t l;

	fputc('"', out);
	while (*p && *p != '"') {
		if (*p == '\\' && p[1] == 'u' && hex4(p + 2, &cp)) {
			p += 6;
			if (cp >= 0xd800 && cp < 0xdc00 && p[0] == '\\' && p[1] == 'u' &&
			    hex4(p + 2, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			json_put_cp(out, cp, html_safe);
		} else if (*p == '\\' && p[1] && (k = strchr(named, p[1])) && (k - named) % 2 == 0) {
			json_put_cp(out, (unsigned char)k[1], html_safe);
			p += 2;
		} else if (*p == '\\') {
			json_put_cp(out, '\\', html_safe); /* not an escape: a backslash */
			p++;
		} else if (*p < 0x80) {
			json_put_cp(out, *p++, html_safe);
		} else if ((l = utf8_seq_len(p, strnlen((const char *)p, 4))) == 0) {
			json_put_cp(out, 0xfffd, html_safe);
			p++;
		} else {
			json_put_cp(out, utf8_cp(p, l), html_safe);
			p += l;
		}
	}
	fputc('"', out);
	return (const char *)(*p ? p + 1 : p);
}

/* RFC 8259 number grammar */
static bool json_number_ok(const char *p, size_t n)
{
	size_t i = 0;

	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0')
		i++;
	else if (i < n && p[i] >= '1' && p[i] <= '9')
		while (i < n && isdigit((unsigned char)p[i]))
			i++;
	else
		return false;
	if (i < n && p[i] == '.') {
		if (++i >= n || !isdigit((unsigned char)p[i]))
			return false;
		while (i < n && isdigit((unsigned char)p[i]))
			i++;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= n || !isdigit((unsigned char)p[i]))
			return false;
		while (i < n && isdigit((unsigned char)p[i]))
			i++;
	}
	return i == n;
}

static void newline_indent(FILE *out, int step, int depth)
{
	int i;

	if (step < 0)
		return;
	fputc('\n', out);
	if (depth > INDENT_MAX)
		depth = INDENT_MAX;
	for (i = 0; i < depth * step; i++)
		fputc(' ', out);
}

/*
 * Re-serialize JSON text that cJSON accepted: tokens are kept (numbers
 * exactly as written), whitespace is replaced by `step`-space indentation
 * starting at `depth` (step < 0: one line), strings go through
 * json_put_string.
 */
static void json_put(FILE *out, const char *s, int step, int depth, bool html_safe)
{
	const char *p = skip_ws(s), *q;
	int d = depth;

	while (*p) {
		char c = *p;

		if (c == '"') {
			p = json_put_string(out, p, html_safe);
		} else if (c == '{' || c == '[') {
			char close = c == '{' ? '}' : ']';

			fputc(c, out);
			q = skip_ws(p + 1);
			if (*q == close) {
				fputc(close, out);
				p = q + 1;
			} else {
				newline_indent(out, step, ++d);
				p++;
			}
		} else if (c == '}' || c == ']') {
			if (d > depth)
				d--;
			newline_indent(out, step, d);
			fputc(c, out);
			p++;
		} else if (c == ',') {
			fputc(',', out);
			newline_indent(out, step, d);
			p++;
		} else if (c == ':') {
			fputs(step < 0 ? ":" : ": ", out);
			p++;
		} else {
			/* a literal or a number */
			for (q = p; *q && !strchr(" \t\r\n,:]}[{\"", *q); q++)
				;
			if (q == p) {
				p++; /* cannot happen after cJSON accepted the text */
				continue;
			}
			if ((q - p == 4 && !strncmp(p, "true", 4)) || (q - p == 5 && !strncmp(p, "false", 5)) ||
			    (q - p == 4 && !strncmp(p, "null", 4)) || json_number_ok(p, (size_t)(q - p))) {
				fwrite(p, 1, (size_t)(q - p), out);
			} else {
				/* cJSON is laxer than RFC 8259 about numbers */
				fputc('"', out);
				for (; p < q; p++)
					if (isalnum((unsigned char)*p) || strchr("+-.", *p))
						fputc(*p, out);
				fputc('"', out);
			}
			p = q;
		}
		p = skip_ws(p);
	}
}

static bool raw_object_ok(const char *s)
{
	const char *end = NULL;
	cJSON *o;
	bool ok;

	if (!s)
		return true;
	o = cJSON_ParseWithOpts(s, &end, 1);
	ok = cJSON_IsObject(o);
	cJSON_Delete(o);
	return ok;
}

/* {"unparsed": "<text>"}: raw event text that is not a JSON object */
static char *wrap_unparsed(const char *s)
{
	struct jsonw w;
	char *r = NULL;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_str(&w, "unparsed", s);
	jsonw_obj_close(&w);
	if (jsonw_str(&w))
		r = strdup(jsonw_str(&w));
	jsonw_free(&w);
	return r;
}

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

static const struct incident *safe_open(struct safe_inc *s, const struct incident *inc)
{
	bool bad = !raw_object_ok(inc->attr.pod_json);
	size_t i;

	memset(s, 0, sizeof(*s));
	s->orig = inc;
	for (i = 0; i < inc->nentries && !bad; i++)
		bad = !raw_object_ok(inc->entries[i].event_json);
	if (!bad)
		return inc;
	s->copy = *inc;
	s->copied = true;
	s->copy.next = NULL;
	if (!raw_object_ok(inc->attr.pod_json))
		s->copy.attr.pod_json = wrap_unparsed(inc->attr.pod_json);
	s->copy.entries = inc->nentries ? calloc(inc->nentries, sizeof(*inc->entries)) : NULL;
	if (!s->copy.entries) {
		s->copy.nentries = 0; /* out of memory: better no timeline than bad JSON */
		return &s->copy;
	}
	memcpy(s->copy.entries, inc->entries, inc->nentries * sizeof(*inc->entries));
	for (i = 0; i < inc->nentries; i++)
		if (!raw_object_ok(inc->entries[i].event_json))
			s->copy.entries[i].event_json = wrap_unparsed(inc->entries[i].event_json);
	return &s->copy;
}

static void safe_close(struct safe_inc *s)
{
	size_t i;

	if (!s->copied)
		return;
	if (s->copy.attr.pod_json != s->orig->attr.pod_json)
		free(s->copy.attr.pod_json);
	for (i = 0; s->copy.entries && i < s->copy.nentries; i++)
		if (s->copy.entries[i].event_json != s->orig->entries[i].event_json)
			free(s->copy.entries[i].event_json);
	free(s->copy.entries);
}

static void json_report(FILE *out, const struct incident *inc, int step)
{
	struct safe_inc s;
	struct jsonw w;

	jsonw_init(&w);
	incident_to_json(safe_open(&s, inc), &w);
	if (jsonw_str(&w))
		json_put(out, jsonw_str(&w), step, 0, false);
	else
		fputs("{\"error\":\"out of memory\"}", out);
	fputc('\n', out);
	jsonw_free(&w);
	safe_close(&s);
}

void report_json(FILE *out, const struct incident *inc)
{
	json_report(out, inc, 2);
}

void report_json_compact(FILE *out, const struct incident *inc)
{
	json_report(out, inc, -1);
}

/* ---------------------------------------------------------------- helpers */

const char *report_time(uint64_t wall_ns, char *buf, size_t n)
{
	time_t s = (time_t)(wall_ns / 1000000000ull);
	struct tm tm;
	size_t l;

	if (!wall_ns || !gmtime_r(&s, &tm)) {
		snprintf(buf, n, "unknown");
		return buf;
	}
	l = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + l, n - l, ".%03uZ", (unsigned)(wall_ns % 1000000000ull / 1000000ull));
	return buf;
}

const struct inc_entry *report_top_entry(const struct incident *inc)
{
	const struct inc_entry *top = NULL;
	size_t i;

	for (i = 0; i < inc->nentries; i++)
		if (!top || inc->entries[i].severity > top->severity)
			top = &inc->entries[i];
	return top;
}

static uint64_t total_detections(const struct incident *inc)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < inc->nentries; i++)
		n += inc->entries[i].count;
	return n;
}

/* T1234 or T1234.567 */
static bool mitre_valid(const char *s)
{
	size_t n = strlen(s), i;

	if ((n != 5 && n != 9) || s[0] != 'T')
		return false;
	for (i = 1; i < n; i++)
		if (i == 5 ? s[i] != '.' : !isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* https://attack.mitre.org/techniques/T1234/567/ of a valid id */
static void mitre_url(const char *id, char *buf, size_t n)
{
	if (strlen(id) == 9)
		snprintf(buf, n, "https://attack.mitre.org/techniques/%.5s/%s/", id, id + 6);
	else
		snprintf(buf, n, "https://attack.mitre.org/techniques/%s/", id);
}

/*
 * The process tree in display order: depth-first from the roots (processes
 * whose parent is not in the incident), children in the order they joined.
 * Processes only reachable through a ppid cycle (pid reuse) start their own
 * tree. order/depth have room for nprocs; returns how many were filled.
 */
static size_t proc_tree(const struct incident *inc, size_t *order, unsigned *depth)
{
	size_t n = inc->nprocs, i, j, k, out = 0, sp;
	ssize_t *parent = calloc(n ? n : 1, sizeof(*parent));
	size_t *stack = calloc(n ? n : 1, sizeof(*stack));
	unsigned *sdepth = calloc(n ? n : 1, sizeof(*sdepth));
	bool *seen = calloc(n ? n : 1, sizeof(*seen));

	if (!parent || !stack || !sdepth || !seen) {
		/* out of memory: a flat list */
		for (i = 0; i < n; i++) {
			order[i] = i;
			depth[i] = 0;
		}
		out = n;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct inc_proc *c = &inc->procs[i];

		parent[i] = -1;
		for (j = 0; j < n; j++) {
			const struct inc_proc *p = &inc->procs[j];

			if (j == i || p->pid != c->ppid || c->ppid == 0)
				continue;
			/* with pid reuse, the parent started before the child */
			if (parent[i] < 0 || (p->start_ns <= c->start_ns &&
					      p->start_ns > inc->procs[parent[i]].start_ns))
				parent[i] = (ssize_t)j;
		}
	}
	for (k = 0; k < 2; k++) {
		for (i = 0; i < n; i++) {
			if (seen[i] || (k == 0 && parent[i] >= 0))
				continue;
			sp = 0;
			stack[sp] = i;
			sdepth[sp++] = 0;
			seen[i] = true;
			while (sp) {
				size_t cur = stack[--sp];
				unsigned d = sdepth[sp];

				order[out] = cur;
				depth[out++] = d;
				/* push children last-first so they come out in order */
				for (j = n; j-- > 0;) {
					if (parent[j] != (ssize_t)cur || seen[j])
						continue;
					seen[j] = true;
					stack[sp] = j;
					sdepth[sp++] = d + 1;
				}
			}
		}
	}
out:
	free(parent);
	free(stack);
	free(sdepth);
	free(seen);
	return out;
}

static void where_short(const struct incident *inc, char *buf, size_t n)
{
	const struct inc_attr *a = &inc->attr;

	if (a->pod_namespace && a->pod_name)
		snprintf(buf, n, "%s/%s", a->pod_namespace, a->pod_name);
	else if (a->container_id[0])
		snprintf(buf, n, "%.12s", a->container_id);
	else if (a->is_container)
		snprintf(buf, n, "container");
	else
		snprintf(buf, n, "host");
}

/* ---------------------------------------------------------------- Markdown */

/* "runtime id, pod ns/name" with every part escaped by esc (md or h) */
static void container_line(FILE *out, const struct inc_attr *a, void (*esc)(FILE *, const char *))
{
	esc(out, a->runtime[0] ? a->runtime : "unknown runtime");
	fputc(' ', out);
	esc(out, a->container_id[0] ? a->container_id : "(no container id)");
	if (a->pod_namespace && a->pod_name) {
		fputs(", pod ", out);
		esc(out, a->pod_namespace);
		fputc('/', out);
		esc(out, a->pod_name);
	} else if (a->pod_uid[0]) {
		fputs(", pod uid ", out);
		esc(out, a->pod_uid);
	}
}

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
	char *buf = NULL;
	size_t len = 0, fence, i;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	json_put(m, json, 2, 0, true);
	if (fclose(m)) {
		free(buf);
		return;
	}
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

static void md_severity(FILE *out, const struct incident *inc)
{
	fprintf(out, "- **Severity:** %s", severity_name(inc->severity));
	if (inc->severity_reason && *inc->severity_reason) {
		fputs(" \xe2\x80\x94 ", out);
		md(out, inc->severity_reason);
	}
	if (inc->severity != inc->max_detection)
		fprintf(out, " (highest single detection: %s)", severity_name(inc->max_detection));
	fputc('\n', out);
}

static void md_summary(FILE *out, const struct incident *inc)
{
	const struct inc_attr *a = &inc->attr;
	char tb[48];
	size_t i;

	fputs("## Summary\n\n", out);
	md_severity(out, inc);
	fprintf(out, "- **Status:** %s\n", inc_status_name(inc->status));
	fputs("- **Node:** ", out);
	md(out, inc->node);
	fprintf(out, "\n- **First seen:** %s\n", report_time(inc->first_ns, tb, sizeof(tb)));
	fprintf(out, "- **Last seen:** %s\n", report_time(inc->last_ns, tb, sizeof(tb)));
	if (a->is_container || a->container_id[0]) {
		fputs("- **Container:** ", out);
		container_line(out, a, md);
		fputc('\n', out);
	} else {
		fputs("- **Host:** process tree ", out);
		md(out, inc->key);
		fputc('\n', out);
	}
	fprintf(out, "- **Counts:** %zu timeline entries, %" PRIu64 " detections with repeats, "
		"%zu processes, %zu actions\n", inc->nentries, total_detections(inc), inc->nprocs,
		inc->nactions);
	if (inc->entries_dropped || inc->procs_dropped)
		fprintf(out, "- **Dropped over the bounds:** %" PRIu64 " timeline entries, %" PRIu64
			" processes\n", inc->entries_dropped, inc->procs_dropped);
	if (inc->ncats) {
		fputs("- **Categories:** ", out);
		for (i = 0; i < inc->ncats; i++) {
			if (i)
				fputs(" \xe2\x86\x92 ", out);
			md(out, inc->cats[i]);
		}
		fputc('\n', out);
	}
	fputc('\n', out);
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

static void md_attr(FILE *out, const struct incident *inc)
{
	const struct inc_attr *a = &inc->attr;

	fputs("## Attribution\n\n", out);
	fprintf(out, "- **Where:** %s\n", a->is_container ? "container" : "host");
	fputs("- **Runtime:** ", out);
	md(out, a->runtime[0] ? a->runtime : "unknown");
	fputs("\n- **Container ID:** ", out);
	md(out, a->container_id[0] ? a->container_id : "none");
	fputs("\n- **Pod UID:** ", out);
	md(out, a->pod_uid[0] ? a->pod_uid : "none");
	fputs("\n- **Pod:** ", out);
	if (a->pod_namespace && a->pod_name) {
		md(out, a->pod_namespace);
		fputc('/', out);
		md(out, a->pod_name);
	} else {
		fputs("not known", out);
	}
	fputs("\n- **QoS:** ", out);
	md(out, a->qos[0] ? a->qos : "none");
	fputs("\n- **Cgroup path:** ", out);
	md(out, a->cgroup_path[0] ? a->cgroup_path : "unknown");
	fprintf(out, "\n- **Cgroup ID:** %" PRIu64 "\n", a->cgroup_id);
	fputs("- **Correlation key:** ", out);
	md(out, inc->key);
	fputs("\n\n", out);
	if (a->pod_json) {
		fputs("Pod fields:\n\n", out);
		md_json_block(out, a->pod_json);
	}
}

static void md_detections(FILE *out, const struct incident *inc)
{
	char tb[48], tb2[48], url[96];
	size_t i, k;

	fputs("## Detections\n\n", out);
	if (!inc->nentries) {
		fputs("No detections.\n\n", out);
		return;
	}
	for (i = 0; i < inc->nentries; i++) {
		const struct inc_entry *e = &inc->entries[i];

		fprintf(out, "### Detection %zu: ", i + 1);
		md(out, e->rule);
		fputs("\n\n- **Rule:** ", out);
		md(out, e->rule);
		fprintf(out, "\n- **Severity:** %s\n- **Category:** ", severity_name(e->severity));
		md(out, e->category);
		fputs("\n- **MITRE ATT&CK:** ", out);
		if (!e->nmitre)
			fputs("none", out);
		for (k = 0; k < e->nmitre; k++) {
			if (k)
				fputs(", ", out);
			if (mitre_valid(e->mitre[k])) {
				mitre_url(e->mitre[k], url, sizeof(url));
				fprintf(out, "[%s](%s)", e->mitre[k], url);
			} else {
				md(out, e->mitre[k]);
			}
		}
		fputs("\n- **Source:** ", out);
		md(out, e->source);
		fprintf(out, "\n- **Seen:** %s to %s, %" PRIu32 " time%s\n- **PID:** %" PRIu32 "\n",
			report_time(e->first_ns, tb, sizeof(tb)), report_time(e->last_ns, tb2, sizeof(tb2)),
			e->count, e->count == 1 ? "" : "s", e->pid);
		fputs("- **Summary:** ", out);
		md(out, e->summary);
		fputs("\n\n", out);
		if (e->event_json) {
			fputs("Event fields:\n\n", out);
			md_json_block(out, e->event_json);
		}
	}
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

void report_markdown(FILE *out, const struct incident *inc0)
{
	struct safe_inc s;
	const struct incident *inc = safe_open(&s, inc0);

	fputs("# Incident ", out);
	md(out, inc->id);
	fputs("\n\n", out);
	md_summary(out, inc);
	md_timeline(out, inc);
	md_procs(out, inc);
	md_attr(out, inc);
	md_detections(out, inc);
	md_actions(out, inc);
	safe_close(&s);
}

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

/* ---------------------------------------------------------------- text */

static void t(FILE *out, const char *s)
{
	put_esc(out, F_TEXT, s);
}

void report_text(FILE *out, const struct incident *inc0)
{
	struct safe_inc s;
	const struct incident *inc = safe_open(&s, inc0);
	const struct inc_attr *a = &inc->attr;
	size_t *order = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*order));
	unsigned *depth = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*depth));
	char tb[48], tb2[48];
	size_t i, k, n;

	fputs("Incident ", out);
	t(out, inc->id);
	fprintf(out, "\n  Severity:    %s", severity_name(inc->severity));
	if (inc->severity_reason && *inc->severity_reason) {
		fputs(" (", out);
		t(out, inc->severity_reason);
		fputc(')', out);
	}
	if (inc->severity != inc->max_detection)
		fprintf(out, ", highest single detection %s", severity_name(inc->max_detection));
	fprintf(out, "\n  Status:      %s\n  Node:        ", inc_status_name(inc->status));
	t(out, inc->node);
	fprintf(out, "\n  First seen:  %s\n  Last seen:   %s\n",
		report_time(inc->first_ns, tb, sizeof(tb)), report_time(inc->last_ns, tb2, sizeof(tb2)));
	if (a->is_container || a->container_id[0]) {
		fputs("  Container:   ", out);
		t(out, a->runtime[0] ? a->runtime : "unknown runtime");
		fputc(' ', out);
		t(out, a->container_id[0] ? a->container_id : "(no container id)");
		fputs("\n  Pod:         ", out);
		if (a->pod_namespace && a->pod_name) {
			t(out, a->pod_namespace);
			fputc('/', out);
			t(out, a->pod_name);
		} else {
			fputs("not known", out);
		}
		if (a->pod_uid[0]) {
			fputs(" (uid ", out);
			t(out, a->pod_uid);
			fputc(')', out);
		}
		if (a->qos[0]) {
			fputs(", qos ", out);
			t(out, a->qos);
		}
		fputc('\n', out);
	} else {
		fputs("  Host:        process tree ", out);
		t(out, inc->key);
		fputc('\n', out);
	}
	fputs("  Cgroup:      ", out);
	t(out, a->cgroup_path[0] ? a->cgroup_path : "unknown");
	fprintf(out, " (id %" PRIu64 ")\n", a->cgroup_id);
	fprintf(out, "  Counts:      %zu timeline entries, %" PRIu64 " detections with repeats, "
		"%zu processes, %zu actions\n", inc->nentries, total_detections(inc), inc->nprocs,
		inc->nactions);
	if (inc->entries_dropped || inc->procs_dropped)
		fprintf(out, "  Dropped:     %" PRIu64 " timeline entries, %" PRIu64 " processes\n",
			inc->entries_dropped, inc->procs_dropped);

	fputs("\nTimeline\n", out);
	if (!inc->nentries)
		fputs("  No detections.\n", out);
	for (i = 0; i < inc->nentries; i++) {
		const struct inc_entry *e = &inc->entries[i];

		fprintf(out, "  %s  %-8s  ", report_time(e->first_ns, tb, sizeof(tb)),
			severity_name(e->severity));
		t(out, e->rule);
		fputs("  [", out);
		t(out, e->category);
		for (k = 0; k < e->nmitre; k++) {
			fputs(k ? ", " : "; ", out);
			t(out, e->mitre[k]);
		}
		fputc(']', out);
		if (e->count > 1)
			fprintf(out, "  x%" PRIu32 " (last %s)", e->count,
				report_time(e->last_ns, tb2, sizeof(tb2)));
		fputs("\n      ", out);
		t(out, e->summary);
		fputc('\n', out);
	}

	fputs("\nProcess tree\n", out);
	if (!inc->nprocs)
		fputs("  No processes recorded.\n", out);
	if (inc->nprocs && order && depth) {
		n = proc_tree(inc, order, depth);
		for (i = 0; i < n; i++) {
			const struct inc_proc *p = &inc->procs[order[i]];
			unsigned d = depth[i] > INDENT_MAX ? INDENT_MAX : depth[i];

			fputs("  ", out);
			for (k = 0; k < d; k++)
				fputs("  ", out);
			fprintf(out, "%s%" PRIu32 " (uid %" PRIu32 ", euid %" PRIu32 ") ", d ? "`- " : "",
				p->pid, p->uid, p->euid);
			t(out, p->exe && *p->exe ? p->exe : "(unknown executable)");
			if (p->cmdline && *p->cmdline) {
				fputs(": ", out);
				t(out, p->cmdline);
			}
			fputc('\n', out);
		}
	}

	fputs("\nActions\n", out);
	if (!inc->nactions)
		fputs("  No actions were taken.\n", out);
	for (i = 0; i < inc->nactions; i++) {
		const struct inc_action *ac = &inc->actions[i];

		fprintf(out, "  %s  ", report_time(ac->ts_ns, tb, sizeof(tb)));
		t(out, ac->action);
		fputc(' ', out);
		t(out, ac->phase);
		fputs(" -> ", out);
		t(out, ac->result);
		fputs("  target ", out);
		t(out, ac->target);
		if (ac->detail && *ac->detail) {
			fputs(": ", out);
			t(out, ac->detail);
		}
		if (ac->dry_run)
			fputs(" (dry run)", out);
		fputc('\n', out);
	}
	free(order);
	free(depth);
	safe_close(&s);
}

/* ---------------------------------------------------------------- list */

void report_list_line(FILE *out, const struct incident *inc)
{
	const struct inc_entry *top = report_top_entry(inc);
	char tb[48], wb[400];
	char *id = esc_dup(F_TEXT, inc->id), *where;

	where_short(inc, wb, sizeof(wb));
	where = esc_dup(F_TEXT, wb);
	fprintf(out, "%-30s  %-8s  %-9s  %s  %-24s  ", id ? id : "?", severity_name(inc->severity),
		inc_status_name(inc->status), report_time(inc->first_ns, tb, sizeof(tb)),
		where ? where : "?");
	if (top)
		t(out, top->rule);
	else
		fputc('-', out);
	if (inc->nentries > 1)
		fprintf(out, " (+%zu)", inc->nentries - 1);
	fputc('\n', out);
	free(id);
	free(where);
}

void report_list_json(FILE *out, const struct incident *inc)
{
	const struct inc_entry *top = report_top_entry(inc);
	char tb[48], d[24];
	struct jsonw w;
	size_t i;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_str(&w, "id", inc->id);
	jsonw_kv_str(&w, "severity", severity_name(inc->severity));
	jsonw_kv_str(&w, "severity_reason", inc->severity_reason ? inc->severity_reason : "");
	jsonw_kv_str(&w, "status", inc_status_name(inc->status));
	jsonw_kv_str(&w, "node", inc->node);
	jsonw_kv_str(&w, "first_seen", report_time(inc->first_ns, tb, sizeof(tb)));
	snprintf(d, sizeof(d), "%" PRIu64, inc->first_ns);
	jsonw_kv_str(&w, "first_seen_ns", d);
	jsonw_kv_str(&w, "last_seen", report_time(inc->last_ns, tb, sizeof(tb)));
	snprintf(d, sizeof(d), "%" PRIu64, inc->last_ns);
	jsonw_kv_str(&w, "last_seen_ns", d);
	jsonw_kv_bool(&w, "container", inc->attr.is_container);
	jsonw_kv_str(&w, "container_id", inc->attr.container_id);
	jsonw_key(&w, "pod_namespace");
	if (inc->attr.pod_namespace)
		jsonw_str_val(&w, inc->attr.pod_namespace);
	else
		jsonw_null_val(&w);
	jsonw_key(&w, "pod_name");
	if (inc->attr.pod_name)
		jsonw_str_val(&w, inc->attr.pod_name);
	else
		jsonw_null_val(&w);
	jsonw_key(&w, "top_rule");
	if (top)
		jsonw_str_val(&w, top->rule);
	else
		jsonw_null_val(&w);
	jsonw_kv_u64(&w, "entries", inc->nentries);
	jsonw_kv_u64(&w, "detections", total_detections(inc));
	jsonw_key(&w, "categories");
	jsonw_arr_open(&w);
	for (i = 0; i < inc->ncats; i++)
		jsonw_str_val(&w, inc->cats[i]);
	jsonw_arr_close(&w);
	jsonw_obj_close(&w);
	if (jsonw_str(&w))
		json_put(out, jsonw_str(&w), -1, 0, false);
	else
		fputs("{\"error\":\"out of memory\"}", out);
	fputc('\n', out);
	jsonw_free(&w);
}

/* ---------------------------------------------------------------- filters */

static bool parse_digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static int parse_rfc3339(const char *s, uint64_t *ns)
{
	const char *p = s;
	int y, mo, d, hh = 0, mm = 0, ss = 0, oh = 0, om = 0, sign = 0;
	uint64_t frac = 0, scale = 100000000ull;
	struct tm tm = { 0 };
	time_t t;

	if (!parse_digits(&p, 4, &y) || *p++ != '-' || !parse_digits(&p, 2, &mo) || *p++ != '-' ||
	    !parse_digits(&p, 2, &d))
		return -EINVAL;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -EINVAL;
		p++;
		if (!parse_digits(&p, 2, &hh) || *p++ != ':' || !parse_digits(&p, 2, &mm) ||
		    *p++ != ':' || !parse_digits(&p, 2, &ss))
			return -EINVAL;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			for (; isdigit((unsigned char)*p); p++) {
				frac += (uint64_t)(*p - '0') * scale;
				scale /= 10;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (!parse_digits(&p, 2, &oh) || *p++ != ':' || !parse_digits(&p, 2, &om) ||
			    oh > 23 || om > 59)
				return -EINVAL;
		} else {
			return -EINVAL; /* RFC 3339 needs the offset */
		}
		if (*p)
			return -EINVAL;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	if (tm.tm_mday != d) /* Feb 30 normalized into March */
		return -EINVAL;
	t -= sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -EINVAL;
	*ns = (uint64_t)t * 1000000000ull + frac;
	return 0;
}

static int parse_duration(const char *s, uint64_t *ns)
{
	const uint64_t max_s = 100ull * 366 * 86400;
	uint64_t total = 0, v, unit;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (v = 0; isdigit((unsigned char)*p); p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > max_s)
				return -EINVAL;
		}
		switch (*p++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return -EINVAL;
		}
		total += v * unit;
		if (total > max_s)
			return -EINVAL;
	}
	*ns = total * 1000000000ull;
	return 0;
}

int report_parse_since(const char *arg, uint64_t now_ns, uint64_t *since_ns)
{
	uint64_t v;

	if (!arg || strlen(arg) > 64)
		return -EINVAL;
	if (parse_duration(arg, &v) == 0) {
		*since_ns = v < now_ns ? now_ns - v : 0;
		return 0;
	}
	if (parse_rfc3339(arg, &v) == 0) {
		*since_ns = v;
		return 0;
	}
	return -EINVAL;
}

int report_parse_pod(const char *arg, char *ns, size_t nsz, char *name, size_t namesz)
{
	const char *slash = arg ? strchr(arg, '/') : NULL;
	size_t nl;

	if (!slash || strchr(slash + 1, '/'))
		return -EINVAL;
	nl = (size_t)(slash - arg);
	if (!nl || !slash[1] || nl >= nsz || strlen(slash + 1) >= namesz)
		return -EINVAL;
	memcpy(ns, arg, nl);
	ns[nl] = '\0';
	snprintf(name, namesz, "%s", slash + 1);
	return 0;
}

bool report_filter_match(const struct report_filter *f, const struct incident *inc)
{
	if (f->since_ns && inc->last_ns < f->since_ns)
		return false;
	if (f->min_severity >= 0 && (int)inc->severity < f->min_severity)
		return false;
	if (f->status >= 0 && (int)inc->status != f->status)
		return false;
	if (f->pod_ns || f->pod_name) {
		if (!inc->attr.pod_namespace || !inc->attr.pod_name)
			return false;
		if (f->pod_ns && fnmatch(f->pod_ns, inc->attr.pod_namespace, 0))
			return false;
		if (f->pod_name && fnmatch(f->pod_name, inc->attr.pod_name, 0))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------- loading */

struct load_ctx {
	struct incmgr *m;
	FILE *warn;
	uint64_t problems;
	uint64_t rejected;
};

static void load_warn(struct load_ctx *c, const char *file, uint64_t line, const char *why)
{
	if (c->warn && c->problems < LOAD_MAX_WARNINGS) {
		put_esc(c->warn, F_TEXT, file);
		fprintf(c->warn, ":%" PRIu64 ": %s\n", line, why);
	}
	c->problems++;
}

static int load_record(const cJSON *rec, const char *file, uint64_t line, void *ctx)
{
	struct load_ctx *c = ctx;
	int err = incmgr_apply_record(c->m, rec);

	if (err == -ENOMEM)
		return err;
	if (err) {
		c->rejected++;
		load_warn(c, file, line, "record does not apply (unknown incident or missing fields)");
	}
	return 0;
}

static void load_bad(const char *file, uint64_t line, const char *why, void *ctx)
{
	load_warn(ctx, file, line, why);
}

int incidents_load(const char *journal_dir, struct incmgr **out,
		   struct journal_replay_stats *st, FILE *warn)
{
	struct incmgr_opts o = { .node = "", .write = NULL };
	struct journal_replay_stats local;
	struct load_ctx c = { .warn = warn };
	int err;

	*out = NULL;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	c.m = incmgr_new(&o);
	if (!c.m)
		return -ENOMEM;
	err = journal_replay(journal_dir, load_record, load_bad, &c, st);
	st->malformed += c.rejected;
	if (warn && c.problems > LOAD_MAX_WARNINGS)
		fprintf(warn, "... and %" PRIu64 " more malformed journal lines\n",
			c.problems - LOAD_MAX_WARNINGS);
	if (err) {
		incmgr_free(c.m);
		return err < 0 ? err : -EIO;
	}
	*out = c.m;
	return 0;
}
