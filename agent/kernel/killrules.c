// SPDX-License-Identifier: Apache-2.0
/*
 * Kill rules in one module: killrules_compilable() says which rules the
 * kernel can evaluate, killrules_compile() turns them into slot masks in
 * policy order, killrules_load() writes them to the sensors' maps.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodeguard/event.h"
#include "killrules.h"
#include "sensor.h"

static bool exact_path(const char *s)
{
	return s && s[0] == '/' && !strpbrk(s, "*?[");
}

/* the values ([0] not root, [1] root) a uid selector accepts, as a bit pair */
static unsigned sel_accepts(const struct uid_match *m)
{
	switch (m->sel) {
	case UID_ROOT: return 2;
	case UID_NONROOT: return 1;
	default: return 3; /* UID_ANY (UID_VALUE never compiles) */
	}
}

/* the values ([0] false, [1] true) a tri-state key accepts */
static unsigned tri_accepts(enum ng_tri t)
{
	return t == TRI_TRUE ? 2 : t == TRI_FALSE ? 1 : 3;
}

static void set_pair(uint32_t pair[2], unsigned accepts, uint32_t bit)
{
	if (accepts & 1)
		pair[0] |= bit;
	if (accepts & 2)
		pair[1] |= bit;
}

static int add_exe(struct kill_compiled *c, const char *path, uint32_t bit, bool allow)
{
	uint64_t h = ng_fnv1a(path, strlen(path));
	size_t i;

	for (i = 0; i < c->nexe && c->exe[i].hash != h; i++)
		;
	if (i == c->nexe) {
		if (c->nexe == KILL_EXE_MAX)
			return -E2BIG;
		c->exe[c->nexe++] = (struct kill_exe){ .hash = h };
	}
	if (allow)
		c->exe[i].v.allow |= bit;
	else
		c->exe[i].v.binary |= bit;
	return 0;
}

/* one compilable rule into slot `slot` of c */
static int compile_rule(struct kill_compiled *c, const struct policy *p, const struct rule *ru,
			bool global_dry_run, uint32_t slot)
{
	const struct match *m = &ru->match;
	struct ng_kill_masks *km = &c->masks;
	uint32_t bit = 1u << slot, ev;
	bool old_keys;
	size_t i, x;
	int err;

	c->slot[slot] = (struct ng_kill_rule){
		.rule_id = ru->id,
		.dry_run = ru->dry_run == TRI_TRUE || global_dry_run,
		.rate_per_min = p->settings.rule_actions_per_minute,
	};
	km->live |= bit;
	ev = m->events & (RE_EXEC | RE_SETUID_EXEC | RE_CRED_CHANGE | RE_ANOMALY);
	for (i = 0; i < NG_KR_BITS; i++)
		if (ev & (1u << i))
			km->event[i] |= bit;
	if (m->scope != SCOPE_HOST)
		km->scope[1] |= bit;
	if (m->scope != SCOPE_CONTAINER)
		km->scope[0] |= bit;
	for (i = 0; i < NG_KM_OPS; i++)
		if (!m->ops || (i && (m->ops & (1u << i))))
			km->op[i] |= bit;
	if (!m->anomaly_reasons)
		km->anomaly_any |= bit;
	for (i = 0; i < NG_KM_ANOMALY; i++)
		if (m->anomaly_reasons & (1u << i))
			km->anomaly[i] |= bit;
	set_pair(km->uid, sel_accepts(&m->uid), bit);
	set_pair(km->uid_to, sel_accepts(&m->uid_to), bit);
	set_pair(km->euid_to, sel_accepts(&m->euid_to), bit);
	set_pair(km->fsuid_to, sel_accepts(&m->fsuid_to), bit);
	old_keys = m->uid_from.sel != UID_ANY || m->euid_from.sel != UID_ANY ||
		   m->gains_root != TRI_ANY || m->caps_gained;
	if (old_keys)
		km->needs_old |= bit;
	set_pair(km->uid_from, sel_accepts(&m->uid_from), bit);
	set_pair(km->euid_from, sel_accepts(&m->euid_from), bit);
	set_pair(km->gains_root, tri_accepts(m->gains_root), bit);
	if (!m->caps_gained)
		km->caps_any |= bit;
	for (i = 0; i < NG_KM_CAPS; i++)
		if (m->caps_gained & (1ull << i))
			km->caps[i] |= bit;
	set_pair(km->success, tri_accepts(m->success), bit);
	if (m->binary.n)
		km->needs_binary |= bit;
	for (i = 0; i < m->binary.n; i++)
		if ((err = add_exe(c, m->binary.v[i], bit, false)))
			return err;
	for (x = 0; x < ru->nexceptions; x++)
		for (i = 0; i < ru->exceptions[x].binary.n; i++)
			if ((err = add_exe(c, ru->exceptions[x].binary.v[i], bit, true)))
				return err;
	return 0;
}

int killrules_compile(const struct policy *p, bool global_dry_run, struct kill_compiled *c,
		      char *not_compiled, size_t n)
{
	size_t r, off = 0;
	int err;

	memset(c, 0, sizeof(*c));
	if (n)
		not_compiled[0] = '\0';
	/* policy order: the first matching rule is the lowest slot */
	for (r = 0; r < p->nrules; r++) {
		const struct rule *ru = &p->rules[r];
		char why[160];

		if (!ru->enabled || !(ru->actions & ACT_KILL))
			continue;
		if (!killrules_compilable(ru, why, sizeof(why))) {
			if (off < n)
				off += (size_t)snprintf(not_compiled + off, n - off, "%s: %s\n", ru->name, why);
			continue;
		}
		if (c->nslots == NG_KILL_RULES_MAX) {
			c->overflow++;
			continue;
		}
		if ((err = compile_rule(c, p, ru, global_dry_run, c->nslots)))
			return err;
		c->rule_of_slot[c->nslots++] = r;
	}
	/* rules whose actions run in user space want their events at once */
	for (r = 0; r < p->nrules; r++) {
		const struct rule *ru = &p->rules[r];
		uint32_t ev = ru->match.events;
		char why[8];

		if (!ru->enabled || !(ru->actions & ~ACT_LOG))
			continue;
		if (!(ru->actions & ~(ACT_LOG | ACT_KILL)) && killrules_compilable(ru, why, sizeof(why)))
			continue; /* the kernel kills by itself */
		if (ev & (RE_EXEC | RE_SETUID_EXEC))
			c->wake_kinds |= 1u << NG_EV_EXEC;
		if (ev & RE_CRED_CHANGE)
			c->wake_kinds |= 1u << NG_EV_CRED;
		if (ev & RE_CONNECT)
			c->wake_kinds |= (1u << NG_EV_CONNECT) | (1u << NG_EV_SENDMSG);
	}
	return 0;
}

bool killrules_in_kernel(const struct kill_compiled *c, size_t rule_index)
{
	uint32_t i;

	for (i = 0; i < c->nslots; i++)
		if (c->rule_of_slot[i] == rule_index)
			return true;
	return false;
}

bool killrules_compilable(const struct rule *r, char *why, size_t n)
{
	const struct match *m = &r->match;
	size_t i, j;

#define NOPE(...) do { snprintf(why, n, __VA_ARGS__); return false; } while (0)
	if (m->events & ~(RE_EXEC | RE_SETUID_EXEC | RE_CRED_CHANGE | RE_ANOMALY))
		NOPE("events other than exec, setuid-exec, cred-change, anomaly");
	if (m->parent_binary.n || m->ancestor_binary.n || m->comm.n || m->cmdline.n)
		NOPE("parent/ancestor/comm/cmdline keys need the process table");
	if (m->tty || m->stdio_socket || m->parent_connected || m->locations)
		NOPE("tty/stdio_socket/parent_connected/location keys");
	if (m->caps_effective || m->namespaces.n || m->images.n)
		NOPE("caps_effective/namespaces/images keys");
	if ((m->events & RE_ANOMALY) && (m->uid_from.sel || m->euid_from.sel || m->gains_root ||
					  m->caps_gained))
		NOPE("old-id keys on anomaly rules (use anomaly reasons)");
	if (m->uid.sel == UID_VALUE || m->uid_from.sel == UID_VALUE || m->uid_to.sel == UID_VALUE ||
	    m->euid_from.sel == UID_VALUE || m->euid_to.sel == UID_VALUE || m->fsuid_to.sel == UID_VALUE)
		NOPE("numeric uid selectors");
	if (m->binary.n > NG_KILL_LIST_MAX)
		NOPE("more than %d binaries", NG_KILL_LIST_MAX);
	for (i = 0; i < m->binary.n; i++)
		if (!exact_path(m->binary.v[i]))
			NOPE("binary '%s' is a glob, not an exact path", m->binary.v[i]);
	for (i = 0; i < r->nexceptions; i++) {
		const struct match *x = &r->exceptions[i];

		if (x->events || x->scope_set || x->parent_binary.n || x->ancestor_binary.n ||
		    x->comm.n || x->cmdline.n || x->uid.sel || x->ops || x->anomaly_reasons ||
		    x->namespaces.n || x->images.n || x->tty || x->locations || x->caps_gained ||
		    !x->binary.n)
			NOPE("exceptions other than exact binary paths");
		for (j = 0; j < x->binary.n; j++)
			if (!exact_path(x->binary.v[j]))
				NOPE("exception binary '%s' is a glob", x->binary.v[j]);
	}
#undef NOPE
	return true;
}

int killrules_load(const struct policy *p, const struct kill_maps *km, bool global_dry_run,
		   uint32_t *loaded, char *not_compiled, size_t n)
{
	struct kill_compiled *c = malloc(sizeof(*c));
	struct ng_enf_state st = { 0 };
	struct ng_kill_rule empty = { 0 };
	struct ng_kill_rate zr = { 0 };
	uint64_t key, next, *keys = NULL;
	uint32_t i, zero = 0;
	size_t nkeys = 0, j;
	int err;

	*loaded = 0;
	if (!c)
		return -ENOMEM;
	err = killrules_compile(p, global_dry_run, c, not_compiled, n);
	if (err)
		goto out;
	/* disable first (state 0), then rewrite, then enable: never half a policy */
	if (bpf_map_update_elem(km->state, &zero, &st, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	for (err = bpf_map_get_next_key(km->exe, NULL, &next); !err;
	     err = bpf_map_get_next_key(km->exe, &key, &next)) {
		uint64_t *a = realloc(keys, (nkeys + 1) * sizeof(*a));

		key = next;
		if (!a)
			break;
		keys = a;
		keys[nkeys++] = key;
	}
	for (j = 0; j < nkeys; j++)
		bpf_map_delete_elem(km->exe, &keys[j]);
	free(keys);
	err = 0;
	for (j = 0; j < c->nexe; j++)
		if (bpf_map_update_elem(km->exe, &c->exe[j].hash, &c->exe[j].v, BPF_ANY)) {
			err = -errno;
			goto out;
		}
	if (bpf_map_update_elem(km->masks, &zero, &c->masks, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < NG_KILL_RULES_MAX; i++) {
		if (bpf_map_update_elem(km->rules, &i, i < c->nslots ? &c->slot[i] : &empty, BPF_ANY) ||
		    bpf_map_update_elem(km->rate, &i, &zr, BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
	st.n_kill = c->nslots;
	st.wake_kinds = c->wake_kinds;
	if (bpf_map_update_elem(km->state, &zero, &st, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	*loaded = c->nslots;
out:
	free(c);
	return err;
}
