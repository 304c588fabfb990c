// SPDX-License-Identifier: Apache-2.0
/*
 * Policy parser: YAML text -> struct policy (schema: docs/policy.md).
 *
 * libyaml's document API gives every node its start mark, so each error
 * names the exact line:col of the node at fault. The walk never stops at the
 * first error: it collects all of them (up to POLICY_MAX_ERRORS) so one
 * `policy check` shows everything to fix. The schema has a fixed depth and
 * every list is flat, so the walk never recurses into user-controlled depth
 * (YAML aliases can make cycles; we never follow a node of the wrong type).
 * Everything a policy can make us allocate or visit is bounded below.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "nodeguard/credcheck.h"
#include "nodeguard/event.h"
#include "caps.h"
#include "policy.h"

#define MAX_STR        4096       /* bytes of one string value */
#define MAX_ITEMS      4096       /* items of one list, after expansion */
#define MAX_LISTS      1024       /* entries under lists: */
#define MAX_RULES      4096
#define MAX_EXCEPTIONS 256        /* per rule */
#define MAX_NAME       128        /* rule and list names */
#define MAX_VISITS     (4u << 20) /* list items visited, with expansion */
#define MAX_STR_BYTES  (64u << 20) /* bytes of strings copied into a policy */
#define MAX_RE_REPEAT  10000      /* product of regex {m,n} bounds */
#define MAX_NODES      (1u << 18) /* YAML nodes: ~150 bytes each once loaded */

struct nameval {
	const char *name;
	uint32_t val;
};

#define NV_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct nameval event_names[] = {
	{ "exec", RE_EXEC },       { "setuid-exec", RE_SETUID_EXEC }, { "cred-change", RE_CRED_CHANGE },
	{ "connect", RE_CONNECT }, { "anomaly", RE_ANOMALY },         { "k8s-event", RE_K8S_EVENT },
};

static const struct nameval op_names[] = {
	{ "setuid", 1u << NG_CRED_SETUID },       { "setgid", 1u << NG_CRED_SETGID },
	{ "setreuid", 1u << NG_CRED_SETREUID },   { "setregid", 1u << NG_CRED_SETREGID },
	{ "setresuid", 1u << NG_CRED_SETRESUID }, { "setresgid", 1u << NG_CRED_SETRESGID },
	{ "setfsuid", 1u << NG_CRED_SETFSUID },   { "setfsgid", 1u << NG_CRED_SETFSGID },
	{ "setgroups", 1u << NG_CRED_SETGROUPS }, { "capset", 1u << NG_CRED_CAPSET },
};

static const struct nameval anomaly_names[] = {
	{ "euid_root", NG_AN_EUID_ROOT },     { "fsuid_root", NG_AN_FSUID_ROOT },
	{ "uid_root", NG_AN_UID_ROOT },       { "caps_gained", NG_AN_CAPS_GAINED },
	{ "ids_changed", NG_AN_IDS_CHANGED }, { "host_mntns", NG_AN_HOST_MNTNS },
	{ "host_netns", NG_AN_HOST_NETNS },
};

static const struct nameval location_names[] = {
	{ "tmp", LOC_TMP },
	{ "dev_shm", LOC_DEV_SHM },
	{ "memfd", LOC_MEMFD },
	{ "unlinked", LOC_UNLINKED },
};

static const struct nameval scope_names[] = {
	{ "container", SCOPE_CONTAINER },
	{ "host", SCOPE_HOST },
	{ "any", SCOPE_ANY },
};

static const struct nameval protocol_names[] = {
	{ "tcp", 6 },
	{ "udp", 17 },
	{ "any", 0 },
};

static const struct nameval fsync_names[] = {
	{ "always", FSYNC_ALWAYS },
	{ "interval", FSYNC_INTERVAL },
	{ "never", FSYNC_NEVER },
};

static const struct nameval severity_names[] = {
	{ "info", SEV_INFO }, { "low", SEV_LOW },           { "medium", SEV_MEDIUM },
	{ "high", SEV_HIGH }, { "critical", SEV_CRITICAL },
};

/* indexed by bit number */
static const char *const action_names[ACT_COUNT] = {
	"log",   "kill",           "deny",        "isolate",    "freeze", "kill-container",
	"label", "network-policy", "revoke-rbac", "delete-pod", "event",
};

static const char *const categories[] = {
	"privilege_escalation", "suspicious_exec",     "execution",         "network",
	"unauthorized_access",  "container_escape",    "credential_access", "defense_evasion",
	"persistence",          "discovery",           "lateral_movement",  "exfiltration",
	"cryptomining",         "suspicious_activity", "network_breach",    "image_vulnerability",
	"impact",               "response",
};

/* ------------------------------------------------------------------ names */

const char *severity_name(enum ng_severity s)
{
	size_t i;

	for (i = 0; i < NV_LEN(severity_names); i++)
		if (severity_names[i].val == (uint32_t)s)
			return severity_names[i].name;
	return "unknown";
}

int severity_from_name(const char *s)
{
	size_t i;

	for (i = 0; s && i < NV_LEN(severity_names); i++)
		if (!strcmp(severity_names[i].name, s))
			return (int)severity_names[i].val;
	return -1;
}

const char *action_name(uint32_t act_bit)
{
	int i;

	for (i = 0; i < ACT_COUNT; i++)
		if (act_bit == 1u << i)
			return action_names[i];
	return "unknown";
}

int action_from_name(const char *s)
{
	int i;

	for (i = 0; s && i < ACT_COUNT; i++)
		if (!strcmp(action_names[i], s))
			return (int)(1u << i);
	return 0;
}

const char *actions_format(uint32_t actions, char *buf, size_t n)
{
	size_t off = 0;
	int i;

	if (!buf || !n)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < ACT_COUNT; i++) {
		int w;

		if (!(actions & (1u << i)))
			continue;
		w = snprintf(buf + off, n - off, "%s%s", off ? "," : "", action_names[i]);
		if (w < 0 || (size_t)w >= n - off) {
			buf[off] = '\0'; /* never a half name */
			break;
		}
		off += (size_t)w;
	}
	return buf;
}

bool category_known(const char *s)
{
	size_t i;

	for (i = 0; s && i < NV_LEN(categories); i++)
		if (!strcmp(categories[i], s))
			return true;
	return false;
}

void policy_error_format(const struct policy_error *e, char *buf, size_t n)
{
	if (!buf || !n)
		return;
	if (!e) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, n, "%s:%d:%d: %s", e->file, e->line, e->col, e->msg);
}

/* ------------------------------------------------------------------ freeing */

static void strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void match_free(struct match *m)
{
	strlist_free(&m->binary);
	strlist_free(&m->parent_binary);
	strlist_free(&m->ancestor_binary);
	strlist_free(&m->comm);
	strlist_free(&m->cmdline);
	free(m->cidrs);
	free(m->ports);
	strlist_free(&m->k8s_reason);
	strlist_free(&m->k8s_type);
	strlist_free(&m->k8s_kind);
	strlist_free(&m->k8s_message);
	strlist_free(&m->k8s_not_message);
	if (m->message_re) {
		regfree(m->message_re);
		free(m->message_re);
	}
	strlist_free(&m->namespaces);
	strlist_free(&m->images);
	memset(m, 0, sizeof(*m));
}

static void rule_free(struct rule *r)
{
	size_t i;

	free(r->name);
	free(r->description);
	free(r->category);
	strlist_free(&r->mitre);
	match_free(&r->match);
	for (i = 0; i < r->nexceptions; i++)
		match_free(&r->exceptions[i]);
	free(r->exceptions);
}

void policy_free(struct policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	free(p->settings.node_name);
	free(p->settings.journal_dir);
	strlist_free(&p->settings.protected_namespaces);
	strlist_free(&p->settings.quarantine_allow_namespaces);
	strlist_free(&p->settings.quarantine_allow_cidrs);
	free(p->settings.isolate_allow);
	free(p->source);
	free(p);
}

void policy_errors_free(struct policy_errors *e)
{
	if (!e)
		return;
	free(e->v);
	e->v = NULL;
	e->n = 0;
	e->truncated = false;
}

/* ------------------------------------------------------------------ context */

struct plist {
	const char *name;  /* points into the document */
	yaml_node_t *node; /* scalar or sequence of scalars */
};

struct pctx {
	yaml_document_t *doc;
	const char *file;
	struct policy_errors *errs;
	bool failed;  /* some error was found */
	bool oom;
	bool stop;    /* give up walking: error cap, budget or oom */
	struct plist *lists;
	size_t nlists;
	size_t visits;
	size_t str_bytes;
};

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

static void verr(struct pctx *c, int line, int col, const char *suffix, const char *fmt, va_list ap)
{
	char msg[sizeof(((struct policy_error *)0)->msg)];
	int w;

	w = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suffix && w >= 0 && (size_t)w < sizeof(msg))
		snprintf(msg + w, sizeof(msg) - (size_t)w, "%s", suffix);
	add_error(c, line, col, msg);
}

__attribute__((format(printf, 4, 5))) static void err_at(struct pctx *c, int line, int col,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c, line, col, NULL, fmt, ap);
	va_end(ap);
}

static int line_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

static int col_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.column + 1 : 0;
}

__attribute__((format(printf, 3, 4))) static void perr(struct pctx *c, const yaml_node_t *n,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c, line_of(n), col_of(n), NULL, fmt, ap);
	va_end(ap);
}

static void set_oom(struct pctx *c)
{
	c->oom = c->stop = true;
}

/* A short, printable copy of user text for messages. */
static const char *quote(const char *s, char *buf, size_t n)
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

#define Q(s) quote((s), (char[72]){ 0 }, 72)

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static const char *kind_name(const yaml_node_t *n)
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

static yaml_node_t *node_at(struct pctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

/* "a, b or c" */
static const char *choices(const struct nameval *t, size_t n, char *buf, size_t bn)
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

static bool lookup(const struct nameval *t, size_t n, const char *s, uint32_t *out)
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

static bool str_ok(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && !is_null(n) && n->data.scalar.length > 0 &&
	       n->data.scalar.length <= MAX_STR &&
	       strlen((const char *)n->data.scalar.value) == n->data.scalar.length;
}

/* A non-empty string scalar, or NULL after reporting why not. */
static const char *get_str(struct pctx *c, const yaml_node_t *n, const char *key)
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

static bool get_bool(struct pctx *c, const yaml_node_t *n, const char *key, bool *out)
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

static bool get_tri(struct pctx *c, const yaml_node_t *n, const char *key, enum ng_tri *out)
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

static bool get_uint(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t min,
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

static bool get_u32(struct pctx *c, const yaml_node_t *n, const char *key, uint32_t min,
		    uint32_t max, uint32_t *out)
{
	uint64_t x;

	if (!get_uint(c, n, key, min, max, &x))
		return false;
	*out = (uint32_t)x;
	return true;
}

/* A string from a closed set. */
static bool get_choice(struct pctx *c, const yaml_node_t *n, const char *key, const char *what,
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
static char *dup_str(struct pctx *c, const yaml_node_t *at, const char *s)
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

static bool grow(struct pctx *c, void **v, size_t n, size_t size)
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

/* ------------------------------------------------------------------ mappings */

struct keydef {
	const char *name;
	uint32_t applies; /* match keys: the RE_* kinds the key can be used with */
};

struct kv {
	yaml_node_t *key, *val;
};

/*
 * Validate a mapping's keys against a table: unknown and duplicate keys are
 * errors at the key. out[i] receives the pair of keys[i] (NULLs if absent).
 * Returns the number of known keys present.
 */
static size_t map_collect(struct pctx *c, yaml_node_t *map, const char *what,
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

/* ------------------------------------------------------------------ lists */

struct item {
	yaml_node_t *node; /* where the string is written */
	const char *s;     /* the string, "@@" unescaped to "@" */
	const char *key;   /* the key being parsed */
	const char *via;   /* list name when it came from lists:, else NULL */
	yaml_node_t *ref;  /* the "@name" scalar that pulled it in */
};

typedef void (*item_fn)(struct pctx *c, const struct item *it, void *arg);

/* An error about one list item; names the reference when it came from lists: */
__attribute__((format(printf, 3, 4))) static void item_err(struct pctx *c, const struct item *it,
							   const char *fmt, ...)
{
	char suffix[128] = "";
	va_list ap;

	if (it->via)
		snprintf(suffix, sizeof(suffix), " (list '%s' used at %d:%d)", it->via,
			 line_of(it->ref), col_of(it->ref));
	va_start(ap, fmt);
	verr(c, line_of(it->node), col_of(it->node), suffix, fmt, ap);
	va_end(ap);
}

static const struct plist *list_find(const struct pctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nlists; i++)
		if (!strcmp(c->lists[i].name, name))
			return &c->lists[i];
	return NULL;
}

static bool count_visit(struct pctx *c, const yaml_node_t *at)
{
	if (++c->visits <= MAX_VISITS)
		return true;
	perr(c, at, "policy is too large after expanding lists (more than %u items)", MAX_VISITS);
	c->stop = true;
	return false;
}

/* one item of a list definition (already validated by parse_lists) */
static size_t expand_item(struct pctx *c, const struct plist *l, yaml_node_t *d, yaml_node_t *ref,
			  const char *key, item_fn fn, void *arg)
{
	struct item item = { .node = d, .key = key, .via = l->name, .ref = ref };
	const char *s;

	if (!d || !str_ok(d))
		return 0; /* reported at the definition */
	s = (const char *)d->data.scalar.value;
	if (s[0] == '@' && s[1] != '@')
		return 0; /* reported at the definition */
	if (!count_visit(c, ref))
		return 0;
	item.s = s[0] == '@' ? s + 1 : s;
	fn(c, &item, arg);
	return 1;
}

static size_t expand_list(struct pctx *c, const struct plist *l, yaml_node_t *ref,
			  const char *key, item_fn fn, void *arg)
{
	yaml_node_item_t *it;
	size_t n = 0;

	if (l->node->type == YAML_SCALAR_NODE)
		return expand_item(c, l, l->node, ref, key, fn, arg);
	for (it = l->node->data.sequence.items.start;
	     it < l->node->data.sequence.items.top && !c->stop; it++)
		n += expand_item(c, l, node_at(c, *it), ref, key, fn, arg);
	return n;
}

static size_t visit_one(struct pctx *c, yaml_node_t *n, const char *key, item_fn fn, void *arg)
{
	struct item item = { .node = n, .key = key };
	const struct plist *l;
	const char *s = get_str(c, n, key);

	if (!s)
		return 1; /* counted: an empty-list error on top would be noise */
	if (s[0] == '@' && s[1] != '@') {
		l = list_find(c, s + 1);
		if (!l) {
			perr(c, n, "%s: unknown list '%s'", key, Q(s));
			return 1;
		}
		return expand_list(c, l, n, key, fn, arg);
	}
	if (!count_visit(c, n))
		return 1;
	item.s = s[0] == '@' ? s + 1 : s;
	fn(c, &item, arg);
	return 1;
}

/*
 * Visit the strings of a list-valued key: one scalar, or a sequence of
 * scalars; "@name" expands to lists.name. Returns how many items it saw
 * (0: the list is empty) after reporting type errors.
 */
static size_t walk_list(struct pctx *c, yaml_node_t *val, const char *key, item_fn fn, void *arg)
{
	yaml_node_item_t *it;
	size_t n = 0;

	if (val->type == YAML_SCALAR_NODE)
		return visit_one(c, val, key, fn, arg);
	if (val->type != YAML_SEQUENCE_NODE) {
		perr(c, val, "%s: expected a string or a list of strings, got %s", key,
		     kind_name(val));
		return 1;
	}
	for (it = val->data.sequence.items.start; it < val->data.sequence.items.top && !c->stop;
	     it++) {
		yaml_node_t *item = node_at(c, *it);

		if (item)
			n += visit_one(c, item, key, fn, arg);
	}
	return n;
}

static bool walk_nonempty(struct pctx *c, yaml_node_t *val, const char *key, item_fn fn,
			  void *arg)
{
	if (walk_list(c, val, key, fn, arg) || c->stop)
		return true;
	perr(c, val, "%s: empty list (a key that is given needs at least one item)", key);
	return false;
}

struct sl_arg {
	struct strlist *l;
	yaml_node_t *val;
	bool full;
};

static void strlist_item(struct pctx *c, const struct item *it, void *arg)
{
	struct sl_arg *a = arg;
	char *d;

	if (a->full)
		return;
	if (a->l->n >= MAX_ITEMS) {
		perr(c, a->val, "%s: more than %d items", it->key, MAX_ITEMS);
		a->full = true;
		return;
	}
	if (!grow(c, (void **)&a->l->v, a->l->n, sizeof(*a->l->v)))
		return;
	d = dup_str(c, it->node, it->s);
	if (d)
		a->l->v[a->l->n++] = d;
}

static void get_strlist(struct pctx *c, yaml_node_t *val, const char *key, struct strlist *l,
			bool allow_empty)
{
	struct sl_arg a = { .l = l, .val = val };

	strlist_free(l);
	if (allow_empty)
		walk_list(c, val, key, strlist_item, &a);
	else
		walk_nonempty(c, val, key, strlist_item, &a);
}

/* a set of names -> OR of their bits */
struct bits_arg {
	const struct nameval *t;
	size_t nt;
	const char *what;
	uint32_t bits;
};

static void bits_item(struct pctx *c, const struct item *it, void *arg)
{
	struct bits_arg *a = arg;
	uint32_t v;
	char buf[200];

	if (lookup(a->t, a->nt, it->s, &v))
		a->bits |= v;
	else
		item_err(c, it, "unknown %s '%s' (expected %s)", a->what, Q(it->s),
			 choices(a->t, a->nt, buf, sizeof(buf)));
}

static uint32_t get_bits(struct pctx *c, yaml_node_t *val, const char *key, const char *what,
			 const struct nameval *t, size_t nt)
{
	struct bits_arg a = { .t = t, .nt = nt, .what = what };

	walk_nonempty(c, val, key, bits_item, &a);
	return a.bits;
}

#define GET_BITS(c, val, key, what, t) get_bits((c), (val), (key), (what), (t), NV_LEN(t))

/* ------------------------------------------------------------------ typed items */

static void caps_item(struct pctx *c, const struct item *it, void *arg)
{
	int bit = caps_from_name(it->s);

	if (bit < 0 || bit > 63)
		item_err(c, it, "%s: unknown capability '%s'", it->key, Q(it->s));
	else
		*(uint64_t *)arg |= 1ull << bit;
}

static void action_item(struct pctx *c, const struct item *it, void *arg)
{
	int a = action_from_name(it->s);
	char buf[200];
	size_t i, off = 0;

	if (a) {
		*(uint32_t *)arg |= (uint32_t)a;
		return;
	}
	buf[0] = '\0';
	for (i = 0; i < ACT_COUNT; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? ", " : "",
					action_names[i]);
	item_err(c, it, "unknown action '%s' (expected %s)", Q(it->s), buf);
}

static bool mitre_ok(const char *s)
{
	size_t n = strlen(s), i;

	if ((n != 5 && n != 9) || s[0] != 'T')
		return false;
	for (i = 1; i < n; i++) {
		if (i == 5) {
			if (s[i] != '.')
				return false;
		} else if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

static void mitre_item(struct pctx *c, const struct item *it, void *arg)
{
	if (!mitre_ok(it->s)) {
		item_err(c, it, "mitre: '%s' is not a technique id (T1234 or T1234.567)", Q(it->s));
		return;
	}
	strlist_item(c, it, arg);
}

/* 0 ok, -1 syntax, -2 host bits set */
static int parse_cidr(const char *s, struct cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t prefix = 0;
	unsigned max, i;

	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (strchr(addr, ':')) {
		out->family = AF_INET6;
		max = 128;
	} else {
		out->family = AF_INET;
		max = 32;
	}
	if (inet_pton(out->family, addr, out->addr) != 1)
		return -1;
	if (slash) {
		if (strlen(slash + 1) > 3 || !parse_u64(slash + 1, &prefix) || prefix > max)
			return -1;
	} else {
		prefix = max;
	}
	out->prefix = (uint8_t)prefix;
	for (i = out->prefix; i < max; i++)
		if (out->addr[i / 8] & (0x80 >> (i % 8)))
			return -2;
	return 0;
}

struct cidr_arg {
	struct match *m;
	yaml_node_t *val;
	bool full;
};

static void cidr_item(struct pctx *c, const struct item *it, void *arg)
{
	struct cidr_arg *a = arg;
	struct cidr cd;
	int r = parse_cidr(it->s, &cd);

	if (r == -1) {
		item_err(c, it, "cidrs: bad CIDR '%s' (expected ADDRESS or ADDRESS/PREFIX)",
			 Q(it->s));
		return;
	}
	if (r == -2) {
		item_err(c, it, "cidrs: '%s' has bits set past the /%u prefix", Q(it->s), cd.prefix);
		return;
	}
	if (a->full)
		return;
	if (a->m->ncidrs >= MAX_ITEMS) {
		perr(c, a->val, "cidrs: more than %d items", MAX_ITEMS);
		a->full = true;
		return;
	}
	if (grow(c, (void **)&a->m->cidrs, a->m->ncidrs, sizeof(*a->m->cidrs)))
		a->m->cidrs[a->m->ncidrs++] = cd;
}

static bool parse_port(const char *s, size_t n, uint16_t *out)
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

static void port_item(struct pctx *c, const struct item *it, void *arg)
{
	struct cidr_arg *a = arg;
	const char *dash = strchr(it->s, '-');
	struct port_range pr;
	bool ok;

	if (dash)
		ok = parse_port(it->s, (size_t)(dash - it->s), &pr.lo) &&
		     parse_port(dash + 1, strlen(dash + 1), &pr.hi) && pr.lo <= pr.hi;
	else
		ok = parse_port(it->s, strlen(it->s), &pr.lo);
	if (!ok) {
		item_err(c, it,
			 dash ? "ports: bad port range '%s' (expected LO-HI with 1 <= LO <= HI <= 65535)"
			      : "ports: bad port '%s' (expected 1..65535 or a LO-HI range)",
			 Q(it->s));
		return;
	}
	if (!dash)
		pr.hi = pr.lo;
	if (a->full)
		return;
	if (a->m->nports >= MAX_ITEMS) {
		perr(c, a->val, "ports: more than %d items", MAX_ITEMS);
		a->full = true;
		return;
	}
	if (grow(c, (void **)&a->m->ports, a->m->nports, sizeof(*a->m->ports)))
		a->m->ports[a->m->nports++] = pr;
}

static bool get_uidsel(struct pctx *c, const yaml_node_t *n, const char *key,
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

static void get_regex(struct pctx *c, const yaml_node_t *n, const char *key, regex_t **out)
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

/* ------------------------------------------------------------------ match */

#define EV_PROC  (RE_EXEC | RE_SETUID_EXEC | RE_CRED_CHANGE | RE_CONNECT | RE_ANOMALY)
#define EV_EXEC  (RE_EXEC | RE_SETUID_EXEC)
#define EV_CREDS (RE_EXEC | RE_SETUID_EXEC | RE_CRED_CHANGE | RE_ANOMALY)
#define EV_ALL   (EV_PROC | RE_K8S_EVENT)

enum mkey {
	MK_EVENT, MK_EVENTS, MK_SCOPE,
	MK_BINARY, MK_PARENT_BINARY, MK_ANCESTOR_BINARY, MK_COMM, MK_CMDLINE,
	MK_UID, MK_TTY, MK_STDIO_SOCKET, MK_PARENT_CONNECTED, MK_LOCATION,
	MK_OP, MK_OPS, MK_UID_FROM, MK_UID_TO, MK_EUID_FROM, MK_EUID_TO, MK_FSUID_TO,
	MK_GAINS_ROOT, MK_CAPS_GAINED, MK_CAPS_EFFECTIVE, MK_SUCCESS, MK_ANOMALY,
	MK_CIDRS, MK_PORTS, MK_PROTOCOL,
	MK_K8S_REASON, MK_K8S_TYPE, MK_K8S_KIND, MK_K8S_MESSAGE, MK_K8S_NOT_MESSAGE,
	MK_K8S_MESSAGE_REGEX, MK_NAMESPACES, MK_IMAGES,
	MK_COUNT
};

static const struct keydef match_keys[MK_COUNT] = {
	[MK_EVENT] = { "event", EV_ALL },
	[MK_EVENTS] = { "events", EV_ALL },
	[MK_SCOPE] = { "scope", EV_PROC },
	[MK_BINARY] = { "binary", EV_PROC },
	[MK_PARENT_BINARY] = { "parent_binary", EV_PROC },
	[MK_ANCESTOR_BINARY] = { "ancestor_binary", EV_PROC },
	[MK_COMM] = { "comm", EV_PROC },
	[MK_CMDLINE] = { "cmdline", EV_PROC },
	[MK_UID] = { "uid", EV_PROC },
	[MK_TTY] = { "tty", EV_EXEC },
	[MK_STDIO_SOCKET] = { "stdio_socket", EV_EXEC },
	[MK_PARENT_CONNECTED] = { "parent_connected", EV_PROC },
	[MK_LOCATION] = { "location", EV_EXEC },
	[MK_OP] = { "op", RE_CRED_CHANGE },
	[MK_OPS] = { "ops", RE_CRED_CHANGE },
	[MK_UID_FROM] = { "uid_from", EV_CREDS },
	[MK_UID_TO] = { "uid_to", EV_CREDS },
	[MK_EUID_FROM] = { "euid_from", EV_CREDS },
	[MK_EUID_TO] = { "euid_to", EV_CREDS },
	[MK_FSUID_TO] = { "fsuid_to", EV_CREDS },
	[MK_GAINS_ROOT] = { "gains_root", EV_CREDS },
	[MK_CAPS_GAINED] = { "caps_gained", EV_CREDS },
	[MK_CAPS_EFFECTIVE] = { "caps_effective", EV_CREDS },
	[MK_SUCCESS] = { "success", EV_EXEC | RE_CRED_CHANGE },
	[MK_ANOMALY] = { "anomaly", RE_ANOMALY },
	[MK_CIDRS] = { "cidrs", RE_CONNECT },
	[MK_PORTS] = { "ports", RE_CONNECT },
	[MK_PROTOCOL] = { "protocol", RE_CONNECT },
	[MK_K8S_REASON] = { "k8s_reason", RE_K8S_EVENT },
	[MK_K8S_TYPE] = { "k8s_type", RE_K8S_EVENT },
	[MK_K8S_KIND] = { "k8s_kind", RE_K8S_EVENT },
	[MK_K8S_MESSAGE] = { "k8s_message", RE_K8S_EVENT },
	[MK_K8S_NOT_MESSAGE] = { "k8s_not_message", RE_K8S_EVENT },
	[MK_K8S_MESSAGE_REGEX] = { "k8s_message_regex", RE_K8S_EVENT },
	[MK_NAMESPACES] = { "namespaces", EV_ALL },
	[MK_IMAGES] = { "images", EV_ALL },
};

static const char *events_format(uint32_t ev, char *buf, size_t n)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < NV_LEN(event_names) && off < n; i++) {
		int w;

		if (!(ev & event_names[i].val))
			continue;
		w = snprintf(buf + off, n - off, "%s%s", off ? ", " : "", event_names[i].name);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

static const char *match_hint(const char *key)
{
	static const struct {
		const char *bad, *hint;
	} hints[] = {
		{ "caps", " (did you mean caps_gained or caps_effective?)" },
		{ "port", " (did you mean ports?)" },
		{ "cidr", " (did you mean cidrs?)" },
		{ "namespace", " (did you mean namespaces?)" },
		{ "image", " (did you mean images?)" },
		{ "locations", " (did you mean location?)" },
		{ "anomalies", " (did you mean anomaly?)" },
		{ "euid", " (did you mean euid_to or euid_from?)" },
		{ "exceptions", " (exceptions belong to the rule, next to match)" },
	};
	size_t i;

	for (i = 0; i < NV_LEN(hints); i++)
		if (!strcmp(hints[i].bad, key))
			return hints[i].hint;
	return NULL;
}

/* the one of two synonyms given (event/events, op/ops); both is an error */
static yaml_node_t *synonym(struct pctx *c, const struct kv *a, const struct kv *b)
{
	if (a->val && b->val) {
		perr(c, b->key, "'%s' and '%s' both given; use one", a->key->data.scalar.value,
		     b->key->data.scalar.value);
	}
	return a->val ? a->val : b->val;
}

/*
 * One match mapping: the rule's (exc false) or one exception, whose events
 * default to the rule's. rule_events is 0 when they are unknown (errors);
 * then applicability is not checked, to avoid a cascade.
 */
static bool parse_match(struct pctx *c, yaml_node_t *map, struct match *m, bool exc,
			uint32_t rule_events)
{
	const char *what = exc ? "exception" : "match";
	struct kv kv[MK_COUNT];
	yaml_node_t *v;
	uint32_t eff = 0;
	bool ev_ok = true;
	size_t nkeys, i;

	m->line = line_of(map);
	m->col = col_of(map);
	if (map->type != YAML_MAPPING_NODE) {
		perr(c, map, "%s: expected a mapping, got %s", what, kind_name(map));
		return false;
	}
	nkeys = map_collect(c, map, what, match_keys, MK_COUNT, kv, match_hint);

	v = synonym(c, &kv[MK_EVENT], &kv[MK_EVENTS]);
	if (v) {
		size_t before = c->errs->n;

		m->events = GET_BITS(c, v, "events", "event kind", event_names);
		ev_ok = c->errs->n == before && m->events;
		if (ev_ok && exc && rule_events && (m->events & ~rule_events)) {
			char buf[96];

			perr(c, v, "exception events must be among the rule's (%s is not)",
			     events_format(m->events & ~rule_events, buf, sizeof(buf)));
			ev_ok = false;
		}
		eff = m->events;
	} else if (exc) {
		eff = rule_events;
		ev_ok = rule_events != 0;
	} else {
		perr(c, map, "match has no 'event' or 'events'");
		ev_ok = false;
	}
	if (exc && nkeys == 0 && map->data.mapping.pairs.top == map->data.mapping.pairs.start)
		perr(c, map, "empty exception: it would suppress every detection of the rule");
	v = synonym(c, &kv[MK_OP], &kv[MK_OPS]);
	if (v)
		m->ops = GET_BITS(c, v, "ops", "cred op", op_names);

	/* a key must mean something for every kind of event the match sees */
	for (i = 0; ev_ok && i < MK_COUNT; i++) {
		char buf[96], buf2[96];

		if (i == MK_EVENT || i == MK_EVENTS || !kv[i].key)
			continue;
		if (eff & ~match_keys[i].applies)
			perr(c, kv[i].key, "'%s' does not apply to %s events (only to %s)",
			     match_keys[i].name,
			     events_format(eff & ~match_keys[i].applies, buf, sizeof(buf)),
			     events_format(match_keys[i].applies, buf2, sizeof(buf2)));
	}

	/* defaults */
	m->scope = exc || eff == RE_K8S_EVENT ? SCOPE_ANY : SCOPE_CONTAINER;
	if (!exc && !kv[MK_SUCCESS].val && (eff & RE_CRED_CHANGE))
		m->success = TRI_TRUE;

	for (i = 0; i < MK_COUNT && !c->stop; i++) {
		const char *key = match_keys[i].name;
		uint32_t u;

		v = kv[i].val;
		if (!v)
			continue;
		switch ((enum mkey)i) {
		case MK_EVENT:
		case MK_EVENTS:
		case MK_OP:
		case MK_OPS:
			break; /* above */
		case MK_SCOPE:
			if (get_choice(c, v, key, "scope", scope_names, NV_LEN(scope_names), &u)) {
				m->scope = (enum ng_scope)u;
				m->scope_set = true;
			}
			break;
		case MK_BINARY:
			get_strlist(c, v, key, &m->binary, false);
			break;
		case MK_PARENT_BINARY:
			get_strlist(c, v, key, &m->parent_binary, false);
			break;
		case MK_ANCESTOR_BINARY:
			get_strlist(c, v, key, &m->ancestor_binary, false);
			break;
		case MK_COMM:
			get_strlist(c, v, key, &m->comm, false);
			break;
		case MK_CMDLINE:
			get_strlist(c, v, key, &m->cmdline, false);
			break;
		case MK_UID:
			get_uidsel(c, v, key, &m->uid);
			break;
		case MK_TTY:
			get_tri(c, v, key, &m->tty);
			break;
		case MK_STDIO_SOCKET:
			get_tri(c, v, key, &m->stdio_socket);
			break;
		case MK_PARENT_CONNECTED:
			get_tri(c, v, key, &m->parent_connected);
			break;
		case MK_LOCATION:
			m->locations = GET_BITS(c, v, key, "location", location_names);
			break;
		case MK_UID_FROM:
			get_uidsel(c, v, key, &m->uid_from);
			break;
		case MK_UID_TO:
			get_uidsel(c, v, key, &m->uid_to);
			break;
		case MK_EUID_FROM:
			get_uidsel(c, v, key, &m->euid_from);
			break;
		case MK_EUID_TO:
			get_uidsel(c, v, key, &m->euid_to);
			break;
		case MK_FSUID_TO:
			get_uidsel(c, v, key, &m->fsuid_to);
			break;
		case MK_GAINS_ROOT:
			get_tri(c, v, key, &m->gains_root);
			break;
		case MK_CAPS_GAINED:
			m->caps_gained = 0;
			walk_nonempty(c, v, key, caps_item, &m->caps_gained);
			break;
		case MK_CAPS_EFFECTIVE:
			m->caps_effective = 0;
			walk_nonempty(c, v, key, caps_item, &m->caps_effective);
			break;
		case MK_SUCCESS:
			get_tri(c, v, key, &m->success);
			break;
		case MK_ANOMALY:
			m->anomaly_reasons = GET_BITS(c, v, key, "anomaly reason", anomaly_names);
			break;
		case MK_CIDRS: {
			struct cidr_arg a = { .m = m, .val = v };

			walk_nonempty(c, v, key, cidr_item, &a);
			break;
		}
		case MK_PORTS: {
			struct cidr_arg a = { .m = m, .val = v };

			walk_nonempty(c, v, key, port_item, &a);
			break;
		}
		case MK_PROTOCOL:
			if (get_choice(c, v, key, "protocol", protocol_names, NV_LEN(protocol_names),
				       &u))
				m->protocol = (uint8_t)u;
			break;
		case MK_K8S_REASON:
			get_strlist(c, v, key, &m->k8s_reason, false);
			break;
		case MK_K8S_TYPE:
			get_strlist(c, v, key, &m->k8s_type, false);
			break;
		case MK_K8S_KIND:
			get_strlist(c, v, key, &m->k8s_kind, false);
			break;
		case MK_K8S_MESSAGE:
			get_strlist(c, v, key, &m->k8s_message, false);
			break;
		case MK_K8S_NOT_MESSAGE:
			get_strlist(c, v, key, &m->k8s_not_message, false);
			break;
		case MK_K8S_MESSAGE_REGEX:
			get_regex(c, v, key, &m->message_re);
			break;
		case MK_NAMESPACES:
			get_strlist(c, v, key, &m->namespaces, false);
			break;
		case MK_IMAGES:
			get_strlist(c, v, key, &m->images, false);
			break;
		case MK_COUNT:
			break;
		}
	}
	return ev_ok;
}

/* ------------------------------------------------------------------ rules */

enum rkey {
	RK_NAME, RK_DESCRIPTION, RK_ENABLED, RK_SEVERITY, RK_CATEGORY, RK_MITRE,
	RK_ACTIONS, RK_DRY_RUN, RK_MATCH, RK_EXCEPTIONS, RK_DELETE_DAEMONSET_PODS, RK_COUNT
};

static const struct keydef rule_keys[RK_COUNT] = {
	[RK_NAME] = { "name", 0 },         [RK_DESCRIPTION] = { "description", 0 },
	[RK_ENABLED] = { "enabled", 0 },   [RK_SEVERITY] = { "severity", 0 },
	[RK_CATEGORY] = { "category", 0 }, [RK_MITRE] = { "mitre", 0 },
	[RK_ACTIONS] = { "actions", 0 },   [RK_DRY_RUN] = { "dry_run", 0 },
	[RK_MATCH] = { "match", 0 },       [RK_EXCEPTIONS] = { "exceptions", 0 },
	[RK_DELETE_DAEMONSET_PODS] = { "delete_daemonset_pods", 0 },
};

static const char *rule_hint(const char *key)
{
	size_t i;

	if (!strcmp(key, "exception"))
		return " (did you mean exceptions?)";
	if (!strcmp(key, "action"))
		return " (did you mean actions?)";
	for (i = 0; i < MK_COUNT; i++)
		if (!strcmp(match_keys[i].name, key))
			return " (it belongs under match)";
	return NULL;
}

static bool rule_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_' || s[i] == '.'))
			return false;
	return i > 0 && i <= MAX_NAME;
}

static void parse_exceptions(struct pctx *c, yaml_node_t *v, struct rule *r, uint32_t rule_events)
{
	yaml_node_item_t *it;
	size_t n, i = 0;

	if (is_null(v)) /* exceptions: with every entry commented out */
		return;
	if (v->type == YAML_MAPPING_NODE) { /* a single exception */
		r->exceptions = calloc(1, sizeof(*r->exceptions));
		if (!r->exceptions) {
			set_oom(c);
			return;
		}
		r->nexceptions = 1;
		parse_match(c, v, &r->exceptions[0], true, rule_events);
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		perr(c, v, "exceptions: expected a list of mappings, got %s", kind_name(v));
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > MAX_EXCEPTIONS) {
		perr(c, v, "exceptions: more than %d", MAX_EXCEPTIONS);
		return;
	}
	if (!n)
		return;
	r->exceptions = calloc(n, sizeof(*r->exceptions));
	if (!r->exceptions) {
		set_oom(c);
		return;
	}
	r->nexceptions = n;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !c->stop; it++) {
		yaml_node_t *e = node_at(c, *it);

		if (e)
			parse_match(c, e, &r->exceptions[i], true, rule_events);
		i++;
	}
}

static void rule_missing(struct pctx *c, const yaml_node_t *n, const char *name, const char *key)
{
	if (name)
		perr(c, n, "rule '%s' is missing '%s'", name, key);
	else
		perr(c, n, "rule is missing '%s'", key);
}

static void parse_rule(struct pctx *c, yaml_node_t *n, struct policy *p, size_t idx)
{
	struct rule *r = &p->rules[idx];
	struct kv kv[RK_COUNT];
	const char *s;
	uint32_t u;
	size_t i;
	bool b;

	r->id = (uint32_t)idx + 1;
	r->enabled = true;
	r->actions = ACT_LOG;
	r->dry_run = TRI_ANY;
	r->line = line_of(n);
	r->col = col_of(n);
	if (n->type != YAML_MAPPING_NODE) {
		perr(c, n, "rule: expected a mapping, got %s", kind_name(n));
		return;
	}
	map_collect(c, n, "rule", rule_keys, RK_COUNT, kv, rule_hint);

	if (kv[RK_NAME].val && (s = get_str(c, kv[RK_NAME].val, "name"))) {
		if (!rule_name_ok(s)) {
			perr(c, kv[RK_NAME].val,
			     "rule name '%s' must be 1-%d characters of a-z, 0-9, '-', '_', '.'", Q(s),
			     MAX_NAME);
		} else {
			for (i = 0; i < idx; i++)
				if (p->rules[i].name && !strcmp(p->rules[i].name, s))
					break;
			if (i < idx)
				perr(c, kv[RK_NAME].val, "duplicate rule name '%s' (first at %d:%d)",
				     s, p->rules[i].line, p->rules[i].col);
			else
				r->name = dup_str(c, kv[RK_NAME].val, s);
		}
	}
	if (!kv[RK_NAME].val)
		rule_missing(c, n, NULL, "name");
	if (!kv[RK_SEVERITY].val)
		rule_missing(c, n, r->name, "severity");
	if (!kv[RK_CATEGORY].val)
		rule_missing(c, n, r->name, "category");
	if (!kv[RK_MATCH].val)
		rule_missing(c, n, r->name, "match");

	if (kv[RK_DESCRIPTION].val && (s = get_str(c, kv[RK_DESCRIPTION].val, "description")))
		r->description = dup_str(c, kv[RK_DESCRIPTION].val, s);
	if (kv[RK_ENABLED].val && get_bool(c, kv[RK_ENABLED].val, "enabled", &b))
		r->enabled = b;
	if (kv[RK_SEVERITY].val &&
	    get_choice(c, kv[RK_SEVERITY].val, "severity", "severity", severity_names,
		       NV_LEN(severity_names), &u))
		r->severity = (enum ng_severity)u;
	if (kv[RK_CATEGORY].val && (s = get_str(c, kv[RK_CATEGORY].val, "category"))) {
		if (category_known(s))
			r->category = dup_str(c, kv[RK_CATEGORY].val, s);
		else
			perr(c, kv[RK_CATEGORY].val,
			     "unknown category '%s' (see docs/policy.md for the list)", Q(s));
	}
	if (kv[RK_MITRE].val) {
		struct sl_arg a = { .l = &r->mitre, .val = kv[RK_MITRE].val };

		walk_nonempty(c, kv[RK_MITRE].val, "mitre", mitre_item, &a);
	}
	if (kv[RK_ACTIONS].val) {
		r->actions = 0;
		walk_nonempty(c, kv[RK_ACTIONS].val, "actions", action_item, &r->actions);
	}
	if (kv[RK_DRY_RUN].val)
		get_tri(c, kv[RK_DRY_RUN].val, "dry_run", &r->dry_run);
	if (kv[RK_DELETE_DAEMONSET_PODS].val && get_bool(c, kv[RK_DELETE_DAEMONSET_PODS].val,
							 "delete_daemonset_pods", &b))
		r->delete_daemonset_pods = b;

	if (kv[RK_MATCH].val && !c->stop) {
		/* exceptions are checked against the rule's events only if those parsed */
		u = parse_match(c, kv[RK_MATCH].val, &r->match, false, 0) ? r->match.events : 0;
		if (kv[RK_EXCEPTIONS].val && !c->stop)
			parse_exceptions(c, kv[RK_EXCEPTIONS].val, r, u);
	} else if (kv[RK_EXCEPTIONS].val && !c->stop) {
		parse_exceptions(c, kv[RK_EXCEPTIONS].val, r, 0);
	}
}

static void parse_rules(struct pctx *c, yaml_node_t *v, struct policy *p)
{
	yaml_node_item_t *it;
	size_t n, i = 0;

	if (v->type != YAML_SEQUENCE_NODE) {
		perr(c, v, "rules: expected a list of rules, got %s", kind_name(v));
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > MAX_RULES) {
		perr(c, v, "rules: more than %d rules", MAX_RULES);
		return;
	}
	if (!n)
		return;
	p->rules = calloc(n, sizeof(*p->rules));
	if (!p->rules) {
		set_oom(c);
		return;
	}
	p->nrules = n;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !c->stop; it++) {
		yaml_node_t *r = node_at(c, *it);

		if (r)
			parse_rule(c, r, p, i);
		i++;
	}
}

/* ------------------------------------------------------------------ lists: */

static bool list_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return i > 0 && i <= MAX_NAME;
}

static void check_list_item(struct pctx *c, yaml_node_t *d, const char *name)
{
	const char *s = get_str(c, d, name);

	if (s && s[0] == '@' && s[1] != '@')
		perr(c, d, "%s: a list cannot refer to another list ('%s'); write '@@' for a "
			   "literal '@'", name, Q(s));
}

/* Record the definitions; their items are expanded where they are used. */
static void parse_lists(struct pctx *c, yaml_node_t *v)
{
	yaml_node_pair_t *p;
	size_t n;

	if (v->type != YAML_MAPPING_NODE) {
		perr(c, v, "lists: expected a mapping of name: [items], got %s", kind_name(v));
		return;
	}
	n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (n > MAX_LISTS) {
		perr(c, v, "lists: more than %d lists", MAX_LISTS);
		return;
	}
	if (!n)
		return;
	c->lists = calloc(n, sizeof(*c->lists));
	if (!c->lists) {
		set_oom(c);
		return;
	}
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top && !c->stop; p++) {
		yaml_node_t *k = node_at(c, p->key), *d = node_at(c, p->value);
		const struct plist *prev;
		const char *name;
		yaml_node_item_t *it;

		if (!k || !d)
			continue;
		if (k->type != YAML_SCALAR_NODE || !str_ok(k) ||
		    !list_name_ok((const char *)k->data.scalar.value)) {
			perr(c, k, "list names must be 1-%d characters of A-Z, a-z, 0-9, '-', '_', '.'",
			     MAX_NAME);
			continue;
		}
		name = (const char *)k->data.scalar.value;
		prev = list_find(c, name);
		if (prev) {
			perr(c, k, "duplicate list '%s'", name);
			continue;
		}
		if (d->type == YAML_SCALAR_NODE) {
			check_list_item(c, d, name);
		} else if (d->type == YAML_SEQUENCE_NODE) {
			if (d->data.sequence.items.top - d->data.sequence.items.start > MAX_ITEMS) {
				perr(c, d, "%s: more than %d items", name, MAX_ITEMS);
				continue;
			}
			for (it = d->data.sequence.items.start; it < d->data.sequence.items.top; it++) {
				yaml_node_t *e = node_at(c, *it);

				if (e)
					check_list_item(c, e, name);
			}
		} else {
			perr(c, d, "%s: expected a list of strings, got %s", name, kind_name(d));
			continue;
		}
		c->lists[c->nlists].name = name;
		c->lists[c->nlists].node = d;
		c->nlists++;
	}
}

/* ------------------------------------------------------------------ settings */

enum skey {
	SK_NODE_NAME, SK_JOURNAL_DIR, SK_JOURNAL_FSYNC, SK_JOURNAL_FSYNC_INTERVAL_MS,
	SK_JOURNAL_MAX_BYTES, SK_JOURNAL_KEEP, SK_INCIDENT_WINDOW_SECONDS, SK_ANCESTRY_DEPTH,
	SK_ARGV_MAX, SK_PROCTAB_MAX, SK_TRACE_HOST, SK_DRY_RUN, SK_PROTECTED_NAMESPACES,
	SK_ACTIONS_PER_MINUTE, SK_RULE_ACTIONS_PER_MINUTE, SK_ISOLATE_ALLOW,
	SK_QUARANTINE_ALLOW_DNS, SK_QUARANTINE_ALLOW_NAMESPACES, SK_QUARANTINE_ALLOW_CIDRS,
	SK_DELETE_GRACE_SECONDS, SK_API_QUEUE_MAX, SK_API_RETRY_MAX_SECONDS, SK_COUNT
};

static const struct keydef settings_keys[SK_COUNT] = {
	[SK_NODE_NAME] = { "node_name", 0 },
	[SK_JOURNAL_DIR] = { "journal_dir", 0 },
	[SK_JOURNAL_FSYNC] = { "journal_fsync", 0 },
	[SK_JOURNAL_FSYNC_INTERVAL_MS] = { "journal_fsync_interval_ms", 0 },
	[SK_JOURNAL_MAX_BYTES] = { "journal_max_bytes", 0 },
	[SK_JOURNAL_KEEP] = { "journal_keep", 0 },
	[SK_INCIDENT_WINDOW_SECONDS] = { "incident_window_seconds", 0 },
	[SK_ANCESTRY_DEPTH] = { "ancestry_depth", 0 },
	[SK_ARGV_MAX] = { "argv_max", 0 },
	[SK_PROCTAB_MAX] = { "proctab_max", 0 },
	[SK_TRACE_HOST] = { "trace_host", 0 },
	[SK_DRY_RUN] = { "dry_run", 0 },
	[SK_PROTECTED_NAMESPACES] = { "protected_namespaces", 0 },
	[SK_ACTIONS_PER_MINUTE] = { "actions_per_minute", 0 },
	[SK_RULE_ACTIONS_PER_MINUTE] = { "rule_actions_per_minute", 0 },
	[SK_ISOLATE_ALLOW] = { "isolate_allow", 0 },
	[SK_QUARANTINE_ALLOW_DNS] = { "quarantine_allow_dns", 0 },
	[SK_QUARANTINE_ALLOW_NAMESPACES] = { "quarantine_allow_namespaces", 0 },
	[SK_QUARANTINE_ALLOW_CIDRS] = { "quarantine_allow_cidrs", 0 },
	[SK_DELETE_GRACE_SECONDS] = { "delete_grace_seconds", 0 },
	[SK_API_QUEUE_MAX] = { "api_queue_max", 0 },
	[SK_API_RETRY_MAX_SECONDS] = { "api_retry_max_seconds", 0 },
};

static int settings_defaults(struct policy_settings *s)
{
	static const char *const prot[] = { "kube-system", "openshift-*" };
	size_t i;

	s->journal_dir = strdup("/var/lib/nodeguard");
	s->journal_fsync = FSYNC_ALWAYS;
	s->journal_fsync_interval_ms = 1000;
	s->journal_max_bytes = 64ull << 20;
	s->journal_keep = 5;
	s->incident_window_s = 600;
	s->ancestry_depth = 8;
	s->argv_max = NG_ARGV_DEFAULT;
	s->proctab_max = 65536;
	s->trace_host = false;
	s->dry_run = false;
	s->actions_per_minute = 30;
	s->rule_actions_per_minute = 10;
	s->delete_grace_s = -1;
	s->api_queue_max = 1024;
	s->api_retry_max_s = 86400;
	s->protected_namespaces.v = calloc(NV_LEN(prot), sizeof(char *));
	if (!s->journal_dir || !s->protected_namespaces.v)
		return -ENOMEM;
	for (i = 0; i < NV_LEN(prot); i++) {
		s->protected_namespaces.v[i] = strdup(prot[i]);
		if (!s->protected_namespaces.v[i])
			return -ENOMEM;
		s->protected_namespaces.n++;
	}
	return 0;
}

static void set_str(struct pctx *c, yaml_node_t *v, const char *key, char **out)
{
	const char *s = get_str(c, v, key);
	char *d;

	if (!s)
		return;
	d = dup_str(c, v, s);
	if (!d)
		return;
	free(*out);
	*out = d;
}

/*
 * settings.isolate_allow items: "CIDR" (every port), "CIDR:PORT",
 * "CIDR:LO-HI"; an IPv6 CIDR with a port is bracketed: "[fd00::/8]:53".
 * A CIDR may appear several times with different ports, at most
 * ISOLATE_ALLOW_PORTS_MAX of them (one kernel allow entry holds that many).
 */
struct allow_arg {
	struct policy_settings *s;
	yaml_node_t *val;
	bool full;
};

static void allow_item(struct pctx *c, const struct item *it, void *arg)
{
	struct allow_arg *a = arg;
	struct allow_net an = { 0 };
	char cidr[INET6_ADDRSTRLEN + 8];
	const char *port = NULL, *s = it->s, *close;
	size_t clen, i, same = 0;
	int r;

	if (s[0] == '[') {
		close = strchr(s, ']');
		if (!close || (close[1] && close[1] != ':') || (close[1] == ':' && !close[2])) {
			item_err(c, it, "isolate_allow: bad entry '%s' (expected [IPV6/PREFIX]:PORT)",
				 Q(s));
			return;
		}
		clen = (size_t)(close - s - 1);
		s++;
		port = close[1] ? close + 2 : NULL;
	} else if (strchr(s, ':') && strchr(s, ':') == strrchr(s, ':') && strchr(s, '.')) {
		/* one colon and a dot: IPv4 with a port */
		port = strchr(s, ':') + 1;
		clen = (size_t)(port - 1 - s);
	} else {
		clen = strlen(s);
	}
	if (clen == 0 || clen >= sizeof(cidr)) {
		item_err(c, it, "isolate_allow: bad CIDR in '%s'", Q(it->s));
		return;
	}
	memcpy(cidr, s, clen);
	cidr[clen] = '\0';
	r = parse_cidr(cidr, &an.cidr);
	if (r == -1) {
		item_err(c, it, "isolate_allow: bad CIDR '%s' (expected ADDRESS[/PREFIX][:PORT])",
			 Q(cidr));
		return;
	}
	if (r == -2) {
		item_err(c, it, "isolate_allow: '%s' has bits set past the /%u prefix", Q(cidr),
			 an.cidr.prefix);
		return;
	}
	if (it->s[0] == '[' && an.cidr.family != AF_INET6) {
		item_err(c, it, "isolate_allow: brackets are for IPv6 ('%s')", Q(it->s));
		return;
	}
	if (port) {
		const char *dash = strchr(port, '-');
		bool ok;

		if (dash)
			ok = parse_port(port, (size_t)(dash - port), &an.port.lo) &&
			     parse_port(dash + 1, strlen(dash + 1), &an.port.hi) &&
			     an.port.lo <= an.port.hi;
		else
			ok = parse_port(port, strlen(port), &an.port.lo);
		if (!ok) {
			item_err(c, it, "isolate_allow: bad port '%s' in '%s' (expected 1..65535 or LO-HI)",
				 Q(port), Q(it->s));
			return;
		}
		if (!dash)
			an.port.hi = an.port.lo;
	}
	if (a->full)
		return;
	for (i = 0; i < a->s->nisolate_allow; i++) {
		const struct allow_net *x = &a->s->isolate_allow[i];

		if (x->cidr.family == an.cidr.family && x->cidr.prefix == an.cidr.prefix &&
		    !memcmp(x->cidr.addr, an.cidr.addr, 16) && x->port.lo)
			same++;
	}
	if (an.port.lo && same >= ISOLATE_ALLOW_PORTS_MAX) {
		item_err(c, it, "isolate_allow: more than %d port ranges for %s", ISOLATE_ALLOW_PORTS_MAX,
			 Q(cidr));
		return;
	}
	if (a->s->nisolate_allow >= ISOLATE_ALLOW_MAX) {
		perr(c, a->val, "isolate_allow: more than %d items", ISOLATE_ALLOW_MAX);
		a->full = true;
		return;
	}
	if (grow(c, (void **)&a->s->isolate_allow, a->s->nisolate_allow, sizeof(an)))
		a->s->isolate_allow[a->s->nisolate_allow++] = an;
}

/* settings.quarantine_allow_cidrs items: "ADDRESS/PREFIX" with no host bits */
static void qcidr_item(struct pctx *c, const struct item *it, void *arg)
{
	struct cidr x;
	int e = parse_cidr(it->s, &x);

	if (e == -1)
		item_err(c, it, "quarantine_allow_cidrs: bad CIDR '%s' (expected ADDRESS/PREFIX)", Q(it->s));
	else if (e == -2)
		item_err(c, it, "quarantine_allow_cidrs: '%s' has bits set past the prefix", Q(it->s));
	else
		strlist_item(c, it, arg);
}

static void parse_settings(struct pctx *c, yaml_node_t *v, struct policy_settings *s)
{
	struct kv kv[SK_COUNT];
	uint32_t u;
	bool b;
	size_t i;

	if (v->type != YAML_MAPPING_NODE) {
		perr(c, v, "settings: expected a mapping, got %s", kind_name(v));
		return;
	}
	map_collect(c, v, "settings", settings_keys, SK_COUNT, kv, NULL);
	for (i = 0; i < SK_COUNT && !c->stop; i++) {
		const char *key = settings_keys[i].name;
		yaml_node_t *n = kv[i].val;

		if (!n)
			continue;
		switch ((enum skey)i) {
		case SK_NODE_NAME:
			if (n->type == YAML_SCALAR_NODE && n->data.scalar.length > 253)
				perr(c, n, "node_name: longer than 253 bytes");
			else
				set_str(c, n, key, &s->node_name);
			break;
		case SK_JOURNAL_DIR:
			if (n->type == YAML_SCALAR_NODE && n->data.scalar.value[0] != '/' &&
			    !is_null(n))
				perr(c, n, "journal_dir: must be an absolute path");
			else
				set_str(c, n, key, &s->journal_dir);
			break;
		case SK_JOURNAL_FSYNC:
			if (get_choice(c, n, key, "journal_fsync mode", fsync_names,
				       NV_LEN(fsync_names), &u))
				s->journal_fsync = (enum journal_fsync)u;
			break;
		case SK_JOURNAL_FSYNC_INTERVAL_MS:
			get_u32(c, n, key, 1, 3600000, &s->journal_fsync_interval_ms);
			break;
		case SK_JOURNAL_MAX_BYTES:
			get_uint(c, n, key, 1024, 1ull << 40, &s->journal_max_bytes);
			break;
		case SK_JOURNAL_KEEP:
			get_u32(c, n, key, 0, 1000, &s->journal_keep);
			break;
		case SK_INCIDENT_WINDOW_SECONDS:
			get_u32(c, n, key, 1, 86400, &s->incident_window_s);
			break;
		case SK_ANCESTRY_DEPTH:
			get_u32(c, n, key, 1, 64, &s->ancestry_depth);
			break;
		case SK_ARGV_MAX:
			get_u32(c, n, key, 1, NG_ARGV_MAX, &s->argv_max);
			break;
		case SK_PROCTAB_MAX:
			get_u32(c, n, key, 1, 1u << 24, &s->proctab_max);
			break;
		case SK_TRACE_HOST:
			if (get_bool(c, n, key, &b))
				s->trace_host = b;
			break;
		case SK_DRY_RUN:
			if (get_bool(c, n, key, &b))
				s->dry_run = b;
			break;
		case SK_PROTECTED_NAMESPACES:
			get_strlist(c, n, key, &s->protected_namespaces, true);
			break;
		case SK_ACTIONS_PER_MINUTE:
			get_u32(c, n, key, 1, 100000, &s->actions_per_minute);
			break;
		case SK_RULE_ACTIONS_PER_MINUTE:
			get_u32(c, n, key, 1, 100000, &s->rule_actions_per_minute);
			break;
		case SK_ISOLATE_ALLOW: {
			struct allow_arg a = { .s = s, .val = n };

			free(s->isolate_allow);
			s->isolate_allow = NULL;
			s->nisolate_allow = 0;
			walk_list(c, n, key, allow_item, &a);
			break;
		}
		case SK_QUARANTINE_ALLOW_DNS:
			if (get_bool(c, n, key, &b))
				s->quarantine_allow_dns = b;
			break;
		case SK_QUARANTINE_ALLOW_NAMESPACES:
			get_strlist(c, n, key, &s->quarantine_allow_namespaces, true);
			break;
		case SK_QUARANTINE_ALLOW_CIDRS: {
			struct sl_arg a = { .l = &s->quarantine_allow_cidrs, .val = n };

			strlist_free(&s->quarantine_allow_cidrs);
			walk_list(c, n, key, qcidr_item, &a);
			break;
		}
		case SK_DELETE_GRACE_SECONDS:
			if (get_u32(c, n, key, 0, 86400, &u))
				s->delete_grace_s = (int32_t)u;
			break;
		case SK_API_QUEUE_MAX:
			get_u32(c, n, key, 1, 1000000, &s->api_queue_max);
			break;
		case SK_API_RETRY_MAX_SECONDS:
			get_u32(c, n, key, 10, 30 * 86400, &s->api_retry_max_s);
			break;
		case SK_COUNT:
			break;
		}
	}
}

/* ------------------------------------------------------------------ top level */

enum tkey { TK_VERSION, TK_SETTINGS, TK_LISTS, TK_RULES, TK_COUNT };

static const struct keydef top_keys[TK_COUNT] = {
	[TK_VERSION] = { "version", 0 },
	[TK_SETTINGS] = { "settings", 0 },
	[TK_LISTS] = { "lists", 0 },
	[TK_RULES] = { "rules", 0 },
};

static void parse_root(struct pctx *c, yaml_node_t *root, struct policy *p)
{
	struct kv kv[TK_COUNT];
	uint64_t ver;

	if (root->type != YAML_MAPPING_NODE) {
		perr(c, root, "policy: expected a mapping with version and rules, got %s",
		     kind_name(root));
		return;
	}
	map_collect(c, root, "policy", top_keys, TK_COUNT, kv, NULL);
	if (!kv[TK_VERSION].val)
		perr(c, root, "policy is missing 'version' (write version: 1)");
	else if (get_uint(c, kv[TK_VERSION].val, "version", 0, UINT32_MAX, &ver) && ver != 1)
		perr(c, kv[TK_VERSION].val, "unsupported policy version %llu (this nodeguard reads 1)",
		     (unsigned long long)ver);
	if (!kv[TK_RULES].val)
		perr(c, root, "policy is missing 'rules'");
	/* an empty settings: or lists: (everything commented out) is absent */
	if (kv[TK_LISTS].val && !is_null(kv[TK_LISTS].val) && !c->stop)
		parse_lists(c, kv[TK_LISTS].val);
	if (kv[TK_SETTINGS].val && !is_null(kv[TK_SETTINGS].val) && !c->stop)
		parse_settings(c, kv[TK_SETTINGS].val, &p->settings);
	if (kv[TK_RULES].val && !c->stop)
		parse_rules(c, kv[TK_RULES].val, p);
}

/* libyaml's reader reports a byte offset, not a mark */
static void offset_pos(const char *text, size_t len, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80 && text[i] != '\r') {
			(*col)++;
		}
	}
}

static void yaml_error(struct pctx *c, const yaml_parser_t *yp, const char *text, size_t len)
{
	const char *problem = yp->problem ? yp->problem : "unknown error";
	int line, col;

	switch (yp->error) {
	case YAML_MEMORY_ERROR:
		set_oom(c);
		return;
	case YAML_READER_ERROR:
		offset_pos(text, len, yp->problem_offset, &line, &col);
		if (yp->problem_value != -1)
			err_at(c, line, col, "YAML: %s (#%X)", problem, (unsigned)yp->problem_value);
		else
			err_at(c, line, col, "YAML: %s", problem);
		return;
	default:
		line = (int)yp->problem_mark.line + 1;
		col = (int)yp->problem_mark.column + 1;
		if (yp->context)
			err_at(c, line, col, "YAML: %s (%s at %d:%d)", problem, yp->context,
			       (int)yp->context_mark.line + 1, (int)yp->context_mark.column + 1);
		else
			err_at(c, line, col, "YAML: %s", problem);
		return;
	}
}

/*
 * libyaml's document API holds every node in memory (a 4 MiB file of "x,"
 * items loads into ~300 MiB), so count them with the streaming API first.
 * Syntax errors are left to the load, which reports them the same way.
 */
static void check_node_count(struct pctx *c, const char *text, size_t len)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	size_t n = 0;
	bool done = false;

	if (!yaml_parser_initialize(&yp)) {
		set_oom(c);
		return;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	while (!done && yaml_parser_parse(&yp, &ev)) {
		switch (ev.type) {
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++n > MAX_NODES) {
				err_at(c, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
				       "policy has more than %u YAML nodes", MAX_NODES);
				c->stop = true;
				done = true;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	if (yp.error == YAML_MEMORY_ERROR)
		set_oom(c);
	yaml_parser_delete(&yp);
}

/* in file order (the walk finds some in another order); stable */
static void sort_errors(struct policy_errors *e)
{
	struct policy_error t;
	size_t i, j;

	for (i = 1; i < e->n; i++) {
		t = e->v[i];
		for (j = i; j > 0 && (e->v[j - 1].line > t.line ||
				      (e->v[j - 1].line == t.line && e->v[j - 1].col > t.col));
		     j--)
			e->v[j] = e->v[j - 1];
		e->v[j] = t;
	}
}

int policy_parse(const char *name, const char *text, size_t len, struct policy **out,
		 struct policy_errors *errs)
{
	struct policy_errors local = { 0 };
	yaml_document_t doc, doc2;
	yaml_parser_t yp;
	struct pctx c = { .file = name ? name : "<policy>" };
	struct policy *p = NULL;
	bool have_doc = false, have_parser = false;
	yaml_node_t *root;
	int ret;

	if (!errs)
		errs = &local;
	policy_errors_free(errs);
	c.errs = errs;
	c.doc = &doc;
	if (!text || !out) {
		err_at(&c, 0, 0, "invalid arguments");
		ret = -EINVAL;
		goto out;
	}
	if (len > POLICY_MAX_BYTES) {
		err_at(&c, 0, 0, "policy is larger than %u MiB (%zu bytes)", POLICY_MAX_BYTES >> 20,
		       len);
		ret = -EFBIG;
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p || settings_defaults(&p->settings) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	p->source = strdup(c.file);
	if (!p->source || !yaml_parser_initialize(&yp)) {
		ret = -ENOMEM;
		goto out;
	}
	have_parser = true;
	check_node_count(&c, text, len);
	if (c.stop) {
		ret = c.oom ? -ENOMEM : -EINVAL;
		goto out;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	if (!yaml_parser_load(&yp, &doc)) {
		yaml_error(&c, &yp, text, len);
		ret = c.oom ? -ENOMEM : -EINVAL;
		goto out;
	}
	have_doc = true;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		err_at(&c, 1, 1, "empty policy (expected a mapping with version and rules)");
		ret = -EINVAL;
		goto out;
	}
	/* one document per policy: a second one is a mistake, not an addendum */
	if (!yaml_parser_load(&yp, &doc2)) {
		yaml_error(&c, &yp, text, len);
	} else {
		yaml_node_t *r2 = yaml_document_get_root_node(&doc2);

		if (r2)
			err_at(&c, (int)doc2.start_mark.line + 1, (int)doc2.start_mark.column + 1,
			       "a policy is one YAML document; found a second one");
		yaml_document_delete(&doc2);
	}
	if (!c.stop)
		parse_root(&c, root, p);
	if (c.oom)
		ret = -ENOMEM;
	else if (c.failed)
		ret = -EINVAL;
	else
		ret = 0;
out:
	if (ret == -ENOMEM && !errs->n)
		err_at(&c, 0, 0, "out of memory");
	sort_errors(errs);
	if (ret == 0) {
		*out = p;
		p = NULL;
	}
	policy_free(p);
	free(c.lists);
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&yp);
	policy_errors_free(&local);
	return ret;
}

int policy_load_file(const char *path, struct policy **out, struct policy_errors *errs)
{
	struct policy_errors local = { 0 };
	struct pctx c = { .file = path ? path : "<null>" };
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, ret;

	if (!errs)
		errs = &local;
	policy_errors_free(errs);
	c.errs = errs;
	if (!path || !out) {
		err_at(&c, 0, 0, "invalid arguments");
		ret = -EINVAL;
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		err_at(&c, 0, 0, "cannot open: %s", strerror(-ret));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		err_at(&c, 0, 0, "cannot stat: %s", strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		err_at(&c, 0, 0, "not a regular file");
		goto out;
	}
	if (st.st_size > (off_t)POLICY_MAX_BYTES) {
		ret = -EFBIG;
		err_at(&c, 0, 0, "file is larger than %u MiB (%lld bytes)", POLICY_MAX_BYTES >> 20,
		       (long long)st.st_size);
		goto out;
	}
	/* read to EOF, never past the bound: the file may change under us */
	buf = malloc(POLICY_MAX_BYTES + 1);
	if (!buf) {
		ret = -ENOMEM;
		err_at(&c, 0, 0, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, POLICY_MAX_BYTES + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			err_at(&c, 0, 0, "cannot read: %s", strerror(-ret));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > POLICY_MAX_BYTES) {
			ret = -EFBIG;
			err_at(&c, 0, 0, "file is larger than %u MiB", POLICY_MAX_BYTES >> 20);
			goto out;
		}
	}
	ret = policy_parse(path, buf, len, out, errs);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	policy_errors_free(&local);
	return ret;
}

int policy_load_default(struct policy **out, struct policy_errors *errs)
{
	return policy_parse("<embedded>", ng_default_policy_yaml, ng_default_policy_yaml_len, out,
			    errs);
}
