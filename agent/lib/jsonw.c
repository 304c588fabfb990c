// SPDX-License-Identifier: Apache-2.0
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

void jsonw_init(struct jsonw *w)
{
	memset(w, 0, sizeof(*w));
}

void jsonw_free(struct jsonw *w)
{
	if (!w)
		return;
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void jsonw_reset(struct jsonw *w)
{
	w->len = 0;
	w->depth = 0;
	w->oom = false;
	memset(w->need_comma, 0, sizeof(w->need_comma));
	if (w->buf)
		w->buf[0] = '\0';
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 512;
		char *nb;

		while (w->len + n + 1 > cap)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->oom = true;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void putc_(struct jsonw *w, char c)
{
	put(w, &c, 1);
}

const char *jsonw_str(struct jsonw *w)
{
	if (w->oom)
		return NULL;
	if (!w->buf)
		put(w, "", 0);
	return w->oom ? NULL : w->buf;
}

static bool put_escaped(struct jsonw *w, const char *s, size_t n);

/* a value starts: separate it from the previous sibling */
static void value_start(struct jsonw *w)
{
	if (w->depth > 0 && w->depth < 32) {
		if (w->need_comma[w->depth])
			putc_(w, ',');
		w->need_comma[w->depth] = true;
	}
}

void jsonw_key(struct jsonw *w, const char *key)
{
	value_start(w);
	put_escaped(w, key, strlen(key));
	putc_(w, ':');
	/* the value that follows must not add a comma */
	if (w->depth > 0 && w->depth < 32)
		w->need_comma[w->depth] = false;
}

static void after_value(struct jsonw *w)
{
	if (w->depth > 0 && w->depth < 32)
		w->need_comma[w->depth] = true;
}

static void open_(struct jsonw *w, char c)
{
	value_start(w);
	putc_(w, c);
	w->depth++;
	if (w->depth < 32)
		w->need_comma[w->depth] = false;
}

static void close_(struct jsonw *w, char c)
{
	putc_(w, c);
	if (w->depth > 0)
		w->depth--;
	after_value(w);
}

void jsonw_obj_open(struct jsonw *w) { open_(w, '{'); }
void jsonw_obj_close(struct jsonw *w) { close_(w, '}'); }
void jsonw_arr_open(struct jsonw *w) { open_(w, '['); }
void jsonw_arr_close(struct jsonw *w) { close_(w, ']'); }

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < n) {
		if (p[i] == 0)
			return false;
		l = utf8_seq_len(p + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

/* JSON's two-character escapes (RFC 8259 section 7), by the character */
static const char *const short_escapes[] = {
	['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
	['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
};

const char *jsonw_short_escape(uint32_t c)
{
	return c < sizeof(short_escapes) / sizeof(short_escapes[0]) ? short_escapes[c] : NULL;
}

/* escaped string; returns false if any byte had to be replaced */
static bool put_escaped(struct jsonw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	bool exact = true;
	size_t i = 0, start = 0, l;
	char esc[8];

	putc_(w, '"');
	while (i < n) {
		unsigned char c = p[i];
		const char *named = jsonw_short_escape(c);

		if (c >= 0x20 && c < 0x7f && !named) {
			i++;
			continue;
		}
		put(w, s + start, i - start);
		if (named) {
			put(w, named, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
			i++;
		} else {
			l = utf8_seq_len(p + i, n - i);
			if (l) {
				put(w, s + i, l);
				i += l;
			} else {
				put(w, "\\ufffd", 6);
				exact = false;
				i++;
			}
		}
		start = i;
	}
	put(w, s + start, i - start);
	putc_(w, '"');
	return exact;
}

void jsonw_bytes_val(struct jsonw *w, const char *s, size_t n)
{
	value_start(w);
	put_escaped(w, s ? s : "", s ? n : 0);
	after_value(w);
}

void jsonw_str_val(struct jsonw *w, const char *s)
{
	jsonw_bytes_val(w, s, s ? strlen(s) : 0);
}

void jsonw_u64_val(struct jsonw *w, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRIu64, v);

	value_start(w);
	put(w, b, (size_t)n);
	after_value(w);
}

void jsonw_i64_val(struct jsonw *w, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);

	value_start(w);
	put(w, b, (size_t)n);
	after_value(w);
}

void jsonw_bool_val(struct jsonw *w, bool v)
{
	value_start(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
	after_value(w);
}

void jsonw_null_val(struct jsonw *w)
{
	value_start(w);
	put(w, "null", 4);
	after_value(w);
}

void jsonw_raw_val(struct jsonw *w, const char *json)
{
	value_start(w);
	put(w, json, strlen(json));
	after_value(w);
}

void jsonw_hex_val(struct jsonw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	value_start(w);
	putc_(w, '"');
	for (i = 0; i < n; i++) {
		char h[2] = { hex[(unsigned char)s[i] >> 4], hex[(unsigned char)s[i] & 15] };

		put(w, h, 2);
	}
	putc_(w, '"');
	after_value(w);
}

void jsonw_kv_str(struct jsonw *w, const char *key, const char *s)
{
	jsonw_kv_bytes(w, key, s, s ? strlen(s) : 0);
}

void jsonw_kv_bytes(struct jsonw *w, const char *key, const char *s, size_t n)
{
	bool exact;

	if (!s) {
		s = "";
		n = 0;
	}
	jsonw_key(w, key);
	value_start(w);
	exact = put_escaped(w, s, n);
	after_value(w);
	if (exact)
		return;
	/* keep the exact bytes beside the readable form */
	{
		char k[96];

		snprintf(k, sizeof(k), "%s_hex", key);
		jsonw_key(w, k);
		jsonw_hex_val(w, s, n);
	}
}

void jsonw_kv_u64(struct jsonw *w, const char *key, uint64_t v)
{
	jsonw_key(w, key);
	jsonw_u64_val(w, v);
}

void jsonw_kv_i64(struct jsonw *w, const char *key, int64_t v)
{
	jsonw_key(w, key);
	jsonw_i64_val(w, v);
}

void jsonw_kv_bool(struct jsonw *w, const char *key, bool v)
{
	jsonw_key(w, key);
	jsonw_bool_val(w, v);
}
