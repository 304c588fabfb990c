// SPDX-License-Identifier: Apache-2.0
/*
 * Policy parser: list-valued keys and the lists: section. A key takes one
 * string or a list of strings; "@name" expands to lists.name ("@@" is a
 * literal '@'). List definitions are recorded when parsed and expanded
 * where they are used, counted against MAX_VISITS.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy_int.h"

void strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ------------------------------------------------------------------ lists */

/* An error about one list item; names the reference when it came from lists: */
__attribute__((format(printf, 3, 4))) void item_err(struct pctx *c, const struct item *it,
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
			  struct walk *w)
{
	struct item item = { .node = d, .key = w->key, .via = l->name, .ref = ref, .walk = w };
	const char *s;

	if (!d || !str_ok(d))
		return 0; /* reported at the definition */
	s = (const char *)d->data.scalar.value;
	if (s[0] == '@' && s[1] != '@')
		return 0; /* reported at the definition */
	if (!count_visit(c, ref))
		return 0;
	item.s = s[0] == '@' ? s + 1 : s;
	w->fn(c, &item, w->arg);
	return 1;
}

static size_t expand_list(struct pctx *c, const struct plist *l, yaml_node_t *ref, struct walk *w)
{
	yaml_node_item_t *it;
	size_t n = 0;

	if (l->node->type == YAML_SCALAR_NODE)
		return expand_item(c, l, l->node, ref, w);
	for (it = l->node->data.sequence.items.start;
	     it < l->node->data.sequence.items.top && !c->stop; it++)
		n += expand_item(c, l, node_at(c, *it), ref, w);
	return n;
}

static size_t visit_one(struct pctx *c, yaml_node_t *n, struct walk *w)
{
	struct item item = { .node = n, .key = w->key, .walk = w };
	const struct plist *l;
	const char *s = get_str(c, n, w->key);

	if (!s)
		return 1; /* counted: an empty-list error on top would be noise */
	if (s[0] == '@' && s[1] != '@') {
		l = list_find(c, s + 1);
		if (!l) {
			perr(c, n, "%s: unknown list '%s'", w->key, Q(s));
			return 1;
		}
		return expand_list(c, l, n, w);
	}
	if (!count_visit(c, n))
		return 1;
	item.s = s[0] == '@' ? s + 1 : s;
	w->fn(c, &item, w->arg);
	return 1;
}

/*
 * Visit the strings of a list-valued key: one scalar, or a sequence of
 * scalars; "@name" expands to lists.name. Returns how many items it saw
 * (0: the list is empty) after reporting type errors.
 */
size_t walk_list(struct pctx *c, yaml_node_t *val, const char *key, item_fn fn, void *arg)
{
	struct walk w = { .key = key, .fn = fn, .arg = arg, .val = val };
	yaml_node_item_t *it;
	size_t n = 0;

	if (val->type == YAML_SCALAR_NODE)
		return visit_one(c, val, &w);
	if (val->type != YAML_SEQUENCE_NODE) {
		perr(c, val, "%s: expected a string or a list of strings, got %s", key,
		     kind_name(val));
		return 1;
	}
	for (it = val->data.sequence.items.start; it < val->data.sequence.items.top && !c->stop;
	     it++) {
		yaml_node_t *item = node_at(c, *it);

		if (item)
			n += visit_one(c, item, &w);
	}
	return n;
}

bool walk_nonempty(struct pctx *c, yaml_node_t *val, const char *key, item_fn fn,
		   void *arg)
{
	if (walk_list(c, val, key, fn, arg) || c->stop)
		return true;
	perr(c, val, "%s: empty list (a key that is given needs at least one item)", key);
	return false;
}

/*
 * Whether the list an item goes to, holding n, has room for it: false once
 * it holds max, with "KEY: more than MAX items" said once, at the key's value.
 */
bool item_room(struct pctx *c, const struct item *it, size_t n, size_t max)
{
	if (it->walk->full)
		return false;
	if (n < max)
		return true;
	perr(c, it->walk->val, "%s: more than %zu items", it->key, max);
	it->walk->full = true;
	return false;
}

void strlist_item(struct pctx *c, const struct item *it, void *arg)
{
	struct strlist *l = arg;
	char *d;

	if (!item_room(c, it, l->n, MAX_ITEMS))
		return;
	if (!grow(c, (void **)&l->v, l->n, sizeof(*l->v)))
		return;
	d = dup_str(c, it->node, it->s);
	if (d)
		l->v[l->n++] = d;
}

void get_strlist(struct pctx *c, yaml_node_t *val, const char *key, struct strlist *l,
		 bool allow_empty)
{
	strlist_free(l);
	if (allow_empty)
		walk_list(c, val, key, strlist_item, l);
	else
		walk_nonempty(c, val, key, strlist_item, l);
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

uint32_t get_bits(struct pctx *c, yaml_node_t *val, const char *key, const char *what,
		  const struct nameval *t, size_t nt)
{
	struct bits_arg a = { .t = t, .nt = nt, .what = what };

	walk_nonempty(c, val, key, bits_item, &a);
	return a.bits;
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
void parse_lists(struct pctx *c, yaml_node_t *v)
{
	yaml_node_pair_t *p;
	size_t n;

	if (!node_is(c, v, YAML_MAPPING_NODE, "lists: expected a mapping of name: [items]"))
		return;
	c->lists = node_calloc(c, v, MAX_LISTS, sizeof(*c->lists), "lists", " lists", &n);
	if (!c->lists)
		return;
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
