// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports: JSON. Raw event JSON re-serialized token by token
 * (json_put, also used by the Markdown and HTML writers), the guard that
 * makes every raw JSON member of an incident an object (safe_open), and
 * report_json / report_json_compact.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "jsonw.h"
#include "report_int.h"

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
	const char *named = jsonw_short_escape(cp);
	char u[4];

	if (named) {
		fputs(named, out);
	} else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || textesc_format_char(cp) ||
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
		int d = hex_digit(p[i]);

		if (d < 0)
			return false;
		*v = *v << 4 | (uint32_t)d;
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
			json_put_cp(out, textesc_utf8_cp(p, l), html_safe);
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
void json_put(FILE *out, const char *s, int step, int depth, bool html_safe)
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

/* json pretty-printed (json_put, two-space indent) into a new string and
 * *len; NULL on ENOMEM */
char *json_pretty(const char *json, bool html_safe, size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);

	if (!m)
		return NULL;
	json_put(m, json, 2, 0, html_safe);
	if (fclose(m)) {
		free(buf);
		return NULL;
	}
	return buf;
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

const struct incident *safe_open(struct safe_inc *s, const struct incident *inc)
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

void safe_close(struct safe_inc *s)
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
