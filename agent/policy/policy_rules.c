// SPDX-License-Identifier: Apache-2.0
/*
 * Policy parser: rules. The names of severities, actions and categories
 * (and their public lookups), the typed list items of rule and match keys,
 * match mappings (which keys apply to which events), exceptions, and the
 * rules: list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "nodeguard/credcheck.h"
#include "nodeguard/event.h"
#include "caps.h"
#include "policy_int.h"

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

static void cidr_item(struct pctx *c, const struct item *it, void *arg)
{
	struct match *m = arg;
	struct cidr cd;
	int r = netaddr_cidr_parse(it->s, &cd);

	if (r == -EINVAL) {
		item_err(c, it, "cidrs: bad CIDR '%s' (expected ADDRESS or ADDRESS/PREFIX)",
			 Q(it->s));
		return;
	}
	if (r == -ERANGE) {
		item_err(c, it, "cidrs: '%s' has bits set past the /%u prefix", Q(it->s), cd.prefix);
		return;
	}
	if (!item_room(c, it, m->ncidrs, MAX_ITEMS))
		return;
	if (grow(c, (void **)&m->cidrs, m->ncidrs, sizeof(*m->cidrs)))
		m->cidrs[m->ncidrs++] = cd;
}

static void port_item(struct pctx *c, const struct item *it, void *arg)
{
	struct match *m = arg;
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
	if (!item_room(c, it, m->nports, MAX_ITEMS))
		return;
	if (grow(c, (void **)&m->ports, m->nports, sizeof(*m->ports)))
		m->ports[m->nports++] = pr;
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

	/* where the value of a key of a common kind goes: a list of strings, a
	 * uid selector or a tri-state */
	const struct {
		struct strlist *strlist;
		struct uid_match *uidsel;
		enum ng_tri *tri;
	} to[MK_COUNT] = {
		[MK_BINARY] = { .strlist = &m->binary },
		[MK_PARENT_BINARY] = { .strlist = &m->parent_binary },
		[MK_ANCESTOR_BINARY] = { .strlist = &m->ancestor_binary },
		[MK_COMM] = { .strlist = &m->comm },
		[MK_CMDLINE] = { .strlist = &m->cmdline },
		[MK_UID] = { .uidsel = &m->uid },
		[MK_TTY] = { .tri = &m->tty },
		[MK_STDIO_SOCKET] = { .tri = &m->stdio_socket },
		[MK_PARENT_CONNECTED] = { .tri = &m->parent_connected },
		[MK_UID_FROM] = { .uidsel = &m->uid_from },
		[MK_UID_TO] = { .uidsel = &m->uid_to },
		[MK_EUID_FROM] = { .uidsel = &m->euid_from },
		[MK_EUID_TO] = { .uidsel = &m->euid_to },
		[MK_FSUID_TO] = { .uidsel = &m->fsuid_to },
		[MK_GAINS_ROOT] = { .tri = &m->gains_root },
		[MK_SUCCESS] = { .tri = &m->success },
		[MK_K8S_REASON] = { .strlist = &m->k8s_reason },
		[MK_K8S_TYPE] = { .strlist = &m->k8s_type },
		[MK_K8S_KIND] = { .strlist = &m->k8s_kind },
		[MK_K8S_MESSAGE] = { .strlist = &m->k8s_message },
		[MK_K8S_NOT_MESSAGE] = { .strlist = &m->k8s_not_message },
		[MK_NAMESPACES] = { .strlist = &m->namespaces },
		[MK_IMAGES] = { .strlist = &m->images },
	};

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
		case MK_LOCATION:
			m->locations = GET_BITS(c, v, key, "location", location_names);
			break;
		case MK_CAPS_GAINED:
			m->caps_gained = 0;
			walk_nonempty(c, v, key, caps_item, &m->caps_gained);
			break;
		case MK_CAPS_EFFECTIVE:
			m->caps_effective = 0;
			walk_nonempty(c, v, key, caps_item, &m->caps_effective);
			break;
		case MK_ANOMALY:
			m->anomaly_reasons = GET_BITS(c, v, key, "anomaly reason", anomaly_names);
			break;
		case MK_CIDRS:
			walk_nonempty(c, v, key, cidr_item, m);
			break;
		case MK_PORTS:
			walk_nonempty(c, v, key, port_item, m);
			break;
		case MK_PROTOCOL:
			if (get_choice(c, v, key, "protocol", protocol_names, NV_LEN(protocol_names),
				       &u))
				m->protocol = (uint8_t)u;
			break;
		case MK_K8S_MESSAGE_REGEX:
			get_regex(c, v, key, &m->message_re);
			break;
		default: /* a key of a common kind (to[]) */
			if (to[i].strlist)
				get_strlist(c, v, key, to[i].strlist, false);
			else if (to[i].uidsel)
				get_uidsel(c, v, key, to[i].uidsel);
			else if (to[i].tri)
				get_tri(c, v, key, to[i].tri);
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
	if (!node_is(c, v, YAML_SEQUENCE_NODE, "exceptions: expected a list of mappings"))
		return;
	r->exceptions = node_calloc(c, v, MAX_EXCEPTIONS, sizeof(*r->exceptions), "exceptions", "",
				    &n);
	if (!r->exceptions)
		return;
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
	if (!node_is(c, n, YAML_MAPPING_NODE, "rule: expected a mapping"))
		return;
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
	if (kv[RK_MITRE].val)
		walk_nonempty(c, kv[RK_MITRE].val, "mitre", mitre_item, &r->mitre);
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

void parse_rules(struct pctx *c, yaml_node_t *v, struct policy *p)
{
	yaml_node_item_t *it;
	size_t n, i = 0;

	if (!node_is(c, v, YAML_SEQUENCE_NODE, "rules: expected a list of rules"))
		return;
	p->rules = node_calloc(c, v, MAX_RULES, sizeof(*p->rules), "rules", " rules", &n);
	if (!p->rules)
		return;
	p->nrules = n;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !c->stop; it++) {
		yaml_node_t *r = node_at(c, *it);

		if (r)
			parse_rule(c, r, p, i);
		i++;
	}
}
