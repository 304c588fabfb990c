// SPDX-License-Identifier: Apache-2.0
/*
 * Policy parser, the pieces every part of the walk uses: collected errors
 * (each at the line:col of the node at fault), typed scalars, mappings
 * checked against a key table, and the value parsers (CIDRs, ports, uids,
 * regexes). Callers in policy.c, policy_lists.c and policy_rules.c.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <yaml.h>

#include "policy_int.h"

/* ------------------------------------------------------------------ errors */

static void add_error(struct pctx *c, int line, int col, const char *msg)
{
	struct policy_errors *e = c->errs;
	struct policy_error *pe;
	size_t i;

	c->failed = true;
	/* the same node reached twice (YAML aliases, a list used twice) */
	for (i = 0; i < e->n; i++)
		if (e->v[i].line == line && e->v[i].col == col && !strcmp(e->v[i].msg, msg))
			return;
	if (e->n >= POLICY_MAX_ERRORS) {
		e->truncated = true;
		c->stop = true;
		return;
	}
	if (!e->v) {
		e->v = calloc(POLICY_MAX_ERRORS, sizeof(*e->v));
		if (!e->v) {
			c->oom = c->stop = true;
			return;
		}
	}
	pe = &e->v[e->n++];
	snprintf(pe->file, sizeof(pe->file), "%s", c->file);
	pe->line = line;
	pe->col = col;
	snprintf(pe->msg, sizeof(pe->msg), "%s", msg);
}

void verr(struct pctx *c, int line, int col, const char *suffix, const char *fmt, va_list ap)
{
	char msg[sizeof(((struct policy_error *)0)->msg)];
	int w;

	w = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suffix && w >= 0 && (size_t)w < sizeof(msg))
		snprintf(msg + w, sizeof(msg) - (size_t)w, "%s", suffix);
	add_error(c, line, col, msg);
}

__attribute__((format(printf, 4, 5))) void err_at(struct pctx *c, int line, int col,
						  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c, line, col, NULL, fmt, ap);
	va_end(ap);
}

int line_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

int col_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.column + 1 : 0;
}

__attribute__((format(printf, 3, 4))) void perr(struct pctx *c, const yaml_node_t *n,
						const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c, line_of(n), col_of(n), NULL, fmt, ap);
	va_end(ap);
}

void set_oom(struct pctx *c)
{
	c->oom = c->stop = true;
}

/* A short, printable copy of user text for messages. */
const char *quote(const char *s, char *buf, size_t n)
{
	size_t i, o = 0, lim = n > 4 ? n - 4 : 0;

	for (i = 0; s[i] && o < lim; i++)
		buf[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i]) {
		/* do not cut a UTF-8 sequence in half */
		while (o && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
			o--;
		if (o && (unsigned char)buf[o - 1] >= 0xc0)
			o--;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

const char *kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return is_null(n) ? "an empty value" : "a string";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

yaml_node_t *node_at(struct pctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

/* "a, b or c" */
const char *choices(const struct nameval *t, size_t n, char *buf, size_t bn)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < bn; i++) {
		int w = snprintf(buf + off, bn - off, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
				 t[i].name);

		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

bool lookup(const struct nameval *t, size_t n, const char *s, uint32_t *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, s)) {
			*out = t[i].val;
			return true;
		}
	return false;
}

/* ------------------------------------------------------------------ scalars */

bool str_ok(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && !is_null(n) && n->data.scalar.length > 0 &&
	       n->data.scalar.length <= MAX_STR &&
	       strlen((const char *)n->data.scalar.value) == n->data.scalar.length;
}

/* A non-empty string scalar, or NULL after reporting why not. */
const char *get_str(struct pctx *c, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		perr(c, n, "%s: expected a string, got %s", key, kind_name(n));
		return NULL;
	}
	if (n->data.scalar.length == 0) {
		perr(c, n, "%s: empty string", key);
		return NULL;
	}
	if (n->data.scalar.length > MAX_STR) {
		perr(c, n, "%s: string too long (%zu bytes, at most %d)", key, n->data.scalar.length,
		     MAX_STR);
		return NULL;
	}
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
		perr(c, n, "%s: string contains a NUL byte", key);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

bool get_bool(struct pctx *c, const yaml_node_t *n, const char *key, bool *out)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) {
			*out = true;
			return true;
		}
		if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) {
			*out = false;
			return true;
		}
	}
	if (n->type == YAML_SCALAR_NODE && !is_null(n))
		perr(c, n, "%s: expected true or false, got '%s'", key, Q(v));
	else
		perr(c, n, "%s: expected true or false, got %s", key, kind_name(n));
	return false;
}

bool get_tri(struct pctx *c, const yaml_node_t *n, const char *key, enum ng_tri *out)
{
	bool b;

	if (!get_bool(c, n, key, &b))
		return false;
	*out = b ? TRI_TRUE : TRI_FALSE;
	return true;
}

/* decimal digits only: no sign, no spaces, no 0x */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!*s)
		return false;
	for (i = 0; s[i]; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool get_uint(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t min,
	      uint64_t max, uint64_t *out)
{
	const char *v = (const char *)n->data.scalar.value;
	uint64_t x;

	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		perr(c, n, "%s: expected an integer, got %s", key, kind_name(n));
		return false;
	}
	if (!parse_u64(v, &x)) {
		perr(c, n, "%s: expected an integer, got '%s'", key, Q(v));
		return false;
	}
	if (x < min || x > max) {
		perr(c, n, "%s: %s is out of range (%llu..%llu)", key, Q(v), (unsigned long long)min,
		     (unsigned long long)max);
		return false;
	}
	*out = x;
	return true;
}

bool get_u32(struct pctx *c, const yaml_node_t *n, const char *key, uint32_t min,
	     uint32_t max, uint32_t *out)
{
	uint64_t x;

	if (!get_uint(c, n, key, min, max, &x))
		return false;
	*out = (uint32_t)x;
	return true;
}

/* A string from a closed set. */
bool get_choice(struct pctx *c, const yaml_node_t *n, const char *key, const char *what,
		const struct nameval *t, size_t nt, uint32_t *out)
{
	const char *s = get_str(c, n, key);
	char buf[160];

	if (!s)
		return false;
	if (lookup(t, nt, s, out))
		return true;
	perr(c, n, "unknown %s '%s' (expected %s)", what, Q(s), choices(t, nt, buf, sizeof(buf)));
	return false;
}

/* Owned copy, counted against the policy's string budget. */
char *dup_str(struct pctx *c, const yaml_node_t *at, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d;

	if (c->str_bytes + n > MAX_STR_BYTES) {
		perr(c, at, "policy holds more than %u MiB of strings after expanding lists",
		     MAX_STR_BYTES >> 20);
		c->stop = true;
		return NULL;
	}
	d = malloc(n);
	if (!d) {
		set_oom(c);
		return NULL;
	}
	memcpy(d, s, n);
	c->str_bytes += n;
	return d;
}

/* growth points of arrays that hold n elements: 0 -> 4 -> 8 -> 16 ... */
static bool need_grow(size_t n)
{
	return n == 0 || (n >= 4 && !(n & (n - 1)));
}

bool grow(struct pctx *c, void **v, size_t n, size_t size)
{
	void *nv;

	if (!need_grow(n))
		return true;
	nv = reallocarray(*v, n ? n * 2 : 4, size);
	if (!nv) {
		set_oom(c);
		return false;
	}
	*v = nv;
	return true;
}

/* Whether v is a node of that type; else the error "WHAT, got KIND" at v. */
bool node_is(struct pctx *c, const yaml_node_t *v, yaml_node_type_t type, const char *what)
{
	if (v->type == type)
		return true;
	perr(c, v, "%s, got %s", what, kind_name(v));
	return false;
}

/*
 * Zeroed room for the *n children of v (a sequence's items or a mapping's
 * pairs), size bytes each: NULL when there are none, more than max (the
 * error "WHAT: more than MAX[UNIT]") or no memory (set_oom).
 */
void *node_calloc(struct pctx *c, yaml_node_t *v, size_t max, size_t size, const char *what,
		  const char *unit, size_t *n)
{
	void *a;

	*n = v->type == YAML_MAPPING_NODE
		     ? (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start)
		     : (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (*n > max) {
		perr(c, v, "%s: more than %zu%s", what, max, unit);
		return NULL;
	}
	if (!*n)
		return NULL;
	a = calloc(*n, size);
	if (!a)
		set_oom(c);
	return a;
}

/* ------------------------------------------------------------------ mappings */

/*
 * Validate a mapping's keys against a table: unknown and duplicate keys are
 * errors at the key. out[i] receives the pair of keys[i] (NULLs if absent).
 * Returns the number of known keys present.
 */
size_t map_collect(struct pctx *c, yaml_node_t *map, const char *what,
		   const struct keydef *keys, size_t nkeys, struct kv *out,
		   const char *(*hint)(const char *key))
{
	yaml_node_pair_t *p;
	size_t i, found = 0;

	memset(out, 0, nkeys * sizeof(*out));
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top && !c->stop; p++) {
		yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
		const char *name, *h;

		if (!k || !v)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			perr(c, k, "keys in %s must be strings, got %s", what, kind_name(k));
			continue;
		}
		name = (const char *)k->data.scalar.value;
		for (i = 0; i < nkeys; i++)
			if (!strcmp(keys[i].name, name))
				break;
		if (i == nkeys) {
			h = hint ? hint(name) : NULL;
			perr(c, k, "unknown key '%s' in %s%s", Q(name), what, h ? h : "");
			continue;
		}
		if (out[i].key) {
			perr(c, k, "duplicate key '%s' in %s (first at %d:%d)", name, what,
			     line_of(out[i].key), col_of(out[i].key));
			continue;
		}
		out[i].key = k;
		out[i].val = v;
		found++;
	}
	return found;
}

/* ------------------------------------------------------------------ values */

bool parse_port(const char *s, size_t n, uint16_t *out)
{
	char buf[8];
	uint64_t v;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!parse_u64(buf, &v) || v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

bool get_uidsel(struct pctx *c, const yaml_node_t *n, const char *key,
		struct uid_match *out)
{
	const char *v = (const char *)n->data.scalar.value;
	uint64_t x;

	if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
		if (!strcmp(v, "root")) {
			out->sel = UID_ROOT;
			return true;
		}
		if (!strcmp(v, "nonroot")) {
			out->sel = UID_NONROOT;
			return true;
		}
		/* (uid_t)-1 is "no change" to the kernel, never a real id */
		if (parse_u64(v, &x) && x < UINT32_MAX) {
			out->sel = UID_VALUE;
			out->value = (uint32_t)x;
			return true;
		}
		perr(c, n, "%s: expected root, nonroot or a uid (0..4294967294), got '%s'", key,
		     Q(v));
		return false;
	}
	perr(c, n, "%s: expected root, nonroot or a uid, got %s", key, kind_name(n));
	return false;
}

/*
 * glibc compiles counted repetition by copying the repeated tree, so nested
 * bounds multiply memory: refuse patterns whose bounds multiply past a limit.
 */
static bool regex_bounded(const char *re)
{
	uint64_t product = 1;
	const char *p;

	for (p = re; *p; p++) {
		uint64_t a = 0, b = 0;
		char *end;

		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p != '{')
			continue;
		a = strtoull(p + 1, &end, 10);
		if (*end == ',')
			b = strtoull(end + 1, &end, 10);
		if (*end != '}')
			continue;
		if (b > a)
			a = b;
		if (a > 1)
			product *= a;
		if (product > MAX_RE_REPEAT)
			return false;
	}
	return true;
}

void get_regex(struct pctx *c, const yaml_node_t *n, const char *key, regex_t **out)
{
	const char *s = get_str(c, n, key);
	char buf[160];
	regex_t *re;
	int r;

	if (!s)
		return;
	if (!regex_bounded(s)) {
		perr(c, n, "%s: repetition counts multiply past %d", key, MAX_RE_REPEAT);
		return;
	}
	re = calloc(1, sizeof(*re));
	if (!re) {
		set_oom(c);
		return;
	}
	r = regcomp(re, s, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	if (r) {
		if (r == REG_ESPACE) {
			set_oom(c);
		} else {
			regerror(r, re, buf, sizeof(buf));
			perr(c, n, "%s: invalid regex '%s': %s", key, Q(s), buf);
		}
		regfree(re);
		free(re);
		return;
	}
	*out = re;
}
