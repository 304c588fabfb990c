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
 * Everything a policy can make us allocate or visit is bounded (policy_int.h).
 *
 * This file: the entry points (policy_parse, policy_load_file,
 * policy_load_default), the document walk from the top level, settings, and
 * freeing; policy_int.h names the files that hold the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "nodeguard/event.h"
#include "policy_int.h"
#include "readall.h"

/* ------------------------------------------------------------------ errors */

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

/* ------------------------------------------------------------------ settings */

static const struct nameval fsync_names[] = {
	{ "always", FSYNC_ALWAYS },
	{ "interval", FSYNC_INTERVAL },
	{ "never", FSYNC_NEVER },
};

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
static void allow_item(struct pctx *c, const struct item *it, void *arg)
{
	struct policy_settings *set = arg;
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
	r = netaddr_cidr_parse(cidr, &an.cidr);
	if (r == -EINVAL) {
		item_err(c, it, "isolate_allow: bad CIDR '%s' (expected ADDRESS[/PREFIX][:PORT])",
			 Q(cidr));
		return;
	}
	if (r == -ERANGE) {
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
	if (it->walk->full)
		return;
	for (i = 0; i < set->nisolate_allow; i++) {
		const struct allow_net *x = &set->isolate_allow[i];

		if (x->cidr.family == an.cidr.family && x->cidr.prefix == an.cidr.prefix &&
		    !memcmp(x->cidr.addr, an.cidr.addr, 16) && x->port.lo)
			same++;
	}
	if (an.port.lo && same >= ISOLATE_ALLOW_PORTS_MAX) {
		item_err(c, it, "isolate_allow: more than %d port ranges for %s", ISOLATE_ALLOW_PORTS_MAX,
			 Q(cidr));
		return;
	}
	if (!item_room(c, it, set->nisolate_allow, ISOLATE_ALLOW_MAX))
		return;
	if (grow(c, (void **)&set->isolate_allow, set->nisolate_allow, sizeof(an)))
		set->isolate_allow[set->nisolate_allow++] = an;
}

/* settings.quarantine_allow_cidrs items: "ADDRESS/PREFIX" with no host bits */
static void qcidr_item(struct pctx *c, const struct item *it, void *arg)
{
	struct cidr x;
	int e = netaddr_cidr_parse(it->s, &x);

	if (e == -EINVAL)
		item_err(c, it, "quarantine_allow_cidrs: bad CIDR '%s' (expected ADDRESS/PREFIX)", Q(it->s));
	else if (e == -ERANGE)
		item_err(c, it, "quarantine_allow_cidrs: '%s' has bits set past the prefix", Q(it->s));
	else
		strlist_item(c, it, arg);
}

static void parse_settings(struct pctx *c, yaml_node_t *v, struct policy_settings *s)
{
	struct kv kv[SK_COUNT];
	uint32_t u;
	size_t i;

	if (!node_is(c, v, YAML_MAPPING_NODE, "settings: expected a mapping"))
		return;
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
			get_bool(c, n, key, &s->trace_host);
			break;
		case SK_DRY_RUN:
			get_bool(c, n, key, &s->dry_run);
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
			free(s->isolate_allow);
			s->isolate_allow = NULL;
			s->nisolate_allow = 0;
			walk_list(c, n, key, allow_item, s);
			break;
		}
		case SK_QUARANTINE_ALLOW_DNS:
			get_bool(c, n, key, &s->quarantine_allow_dns);
			break;
		case SK_QUARANTINE_ALLOW_NAMESPACES:
			get_strlist(c, n, key, &s->quarantine_allow_namespaces, true);
			break;
		case SK_QUARANTINE_ALLOW_CIDRS: {
			strlist_free(&s->quarantine_allow_cidrs);
			walk_list(c, n, key, qcidr_item, &s->quarantine_allow_cidrs);
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
	ret = read_all_fd(fd, POLICY_MAX_BYTES, &buf, &len);
	if (ret == -ENOMEM) {
		err_at(&c, 0, 0, "out of memory");
		goto out;
	}
	if (ret == -EFBIG) {
		err_at(&c, 0, 0, "file is larger than %u MiB", POLICY_MAX_BYTES >> 20);
		goto out;
	}
	if (ret) {
		err_at(&c, 0, 0, "cannot read: %s", strerror(-ret));
		goto out;
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
