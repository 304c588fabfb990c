/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy parser internals, shared by the files of the parser and by nothing
 * else: the parse context, the bounds, and the helpers each file offers the
 * others (policy.h is the public API).
 *
 *   policy.c         load/parse entry points, the document walk, top level,
 *                    settings, freeing
 *   policy_values.c  collected errors, scalars, mappings, value parsers
 *                    (cidrs, ports, uids, regexes)
 *   policy_lists.c   list-valued keys, lists: and @name expansion
 *   policy_rules.c   rules, match keys, exceptions, actions; the names of
 *                    severities, actions and categories
 */
#ifndef NODEGUARD_POLICY_INT_H
#define NODEGUARD_POLICY_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "policy.h"

/* bounds on everything a policy can make us allocate or visit */
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

/* ------------------------------------------------------------------ mappings */

struct keydef {
	const char *name;
	uint32_t applies; /* match keys: the RE_* kinds the key can be used with */
};

struct kv {
	yaml_node_t *key, *val;
};

/* ------------------------------------------------------------------ lists */

struct item;
typedef void (*item_fn)(struct pctx *c, const struct item *it, void *arg);

/* one walk over a list-valued key (walk_list) */
struct walk {
	const char *key;
	item_fn fn;
	void *arg;
	yaml_node_t *val; /* the key's value: where "more than N items" points */
	bool full;        /* that was said: later items are still checked, not kept */
};

struct item {
	yaml_node_t *node; /* where the string is written */
	const char *s;     /* the string, "@@" unescaped to "@" */
	const char *key;   /* the key being parsed */
	const char *via;   /* list name when it came from lists:, else NULL */
	yaml_node_t *ref;  /* the "@name" scalar that pulled it in */
	struct walk *walk; /* the walk it came from (item_room) */
};

/* policy.c */
void strlist_free(struct strlist *l);

/* policy_values.c: errors */
void verr(struct pctx *c, int line, int col, const char *suffix, const char *fmt, va_list ap);
__attribute__((format(printf, 4, 5))) void err_at(struct pctx *c, int line, int col,
						  const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void perr(struct pctx *c, const yaml_node_t *n,
						const char *fmt, ...);
int line_of(const yaml_node_t *n);
int col_of(const yaml_node_t *n);
void set_oom(struct pctx *c);
const char *quote(const char *s, char *buf, size_t n);
#define Q(s) quote((s), (char[72]){ 0 }, 72)
bool is_null(const yaml_node_t *n);
const char *kind_name(const yaml_node_t *n);
yaml_node_t *node_at(struct pctx *c, int idx);
const char *choices(const struct nameval *t, size_t n, char *buf, size_t bn);
bool lookup(const struct nameval *t, size_t n, const char *s, uint32_t *out);

/* policy_values.c: scalars and mappings */
bool str_ok(const yaml_node_t *n);
const char *get_str(struct pctx *c, const yaml_node_t *n, const char *key);
bool get_bool(struct pctx *c, const yaml_node_t *n, const char *key, bool *out);
bool get_tri(struct pctx *c, const yaml_node_t *n, const char *key, enum ng_tri *out);
bool get_uint(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t min, uint64_t max,
	      uint64_t *out);
bool get_u32(struct pctx *c, const yaml_node_t *n, const char *key, uint32_t min, uint32_t max,
	     uint32_t *out);
bool get_choice(struct pctx *c, const yaml_node_t *n, const char *key, const char *what,
		const struct nameval *t, size_t nt, uint32_t *out);
char *dup_str(struct pctx *c, const yaml_node_t *at, const char *s);
bool grow(struct pctx *c, void **v, size_t n, size_t size);
bool node_is(struct pctx *c, const yaml_node_t *v, yaml_node_type_t type, const char *what);
void *node_calloc(struct pctx *c, yaml_node_t *v, size_t max, size_t size, const char *what,
		  const char *unit, size_t *n);
size_t map_collect(struct pctx *c, yaml_node_t *map, const char *what, const struct keydef *keys,
		   size_t nkeys, struct kv *out, const char *(*hint)(const char *key));

/* policy_values.c: values */
bool parse_port(const char *s, size_t n, uint16_t *out);
bool get_uidsel(struct pctx *c, const yaml_node_t *n, const char *key, struct uid_match *out);
void get_regex(struct pctx *c, const yaml_node_t *n, const char *key, regex_t **out);

/* policy_lists.c */
__attribute__((format(printf, 3, 4))) void item_err(struct pctx *c, const struct item *it,
						    const char *fmt, ...);
size_t walk_list(struct pctx *c, yaml_node_t *val, const char *key, item_fn fn, void *arg);
bool walk_nonempty(struct pctx *c, yaml_node_t *val, const char *key, item_fn fn, void *arg);
bool item_room(struct pctx *c, const struct item *it, size_t n, size_t max);
void strlist_item(struct pctx *c, const struct item *it, void *arg);
void get_strlist(struct pctx *c, yaml_node_t *val, const char *key, struct strlist *l,
		 bool allow_empty);
uint32_t get_bits(struct pctx *c, yaml_node_t *val, const char *key, const char *what,
		  const struct nameval *t, size_t nt);
#define GET_BITS(c, val, key, what, t) get_bits((c), (val), (key), (what), (t), NV_LEN(t))
void parse_lists(struct pctx *c, yaml_node_t *v);

/* policy_rules.c */
void parse_rules(struct pctx *c, yaml_node_t *v, struct policy *p);

#endif /* NODEGUARD_POLICY_INT_H */
