// SPDX-License-Identifier: Apache-2.0
/*
 * In-kernel kill rules: killrules_compile() (agent/kernel/killrules.c) and the
 * matcher the sensors run, ng_kill_match() (nodeguard/killmatch.h).
 *
 * The masks replaced a per-slot evaluation whose meaning they must keep
 * exactly. The reference below is that evaluation written again from
 * struct rule (never from the masks), with its own FNV-1a, so a bug the
 * compiler and the matcher share cannot hide behind the other. The
 * differential tests draw deterministic pseudo-random observations, half of
 * them aimed at one rule and then perhaps knocked one field off, and demand
 * the same set of rules and the same first rule from both.
 *
 * Rule placement (which rules get a slot, and the overflow) is checked from
 * the policy on its own: enabled, `kill`, compilable, the first
 * NG_KILL_RULES_MAX of those in policy order.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nodeguard/enforce.h"
#include "nodeguard/event.h"
#include "nodeguard/killmatch.h"
#include "killrules.h"
#include "policy.h"
#include "sensor.h"

/* the reference reads the rule's RE_* bits against the observation's NG_KR_* */
_Static_assert(RE_EXEC == NG_KR_EXEC && RE_SETUID_EXEC == NG_KR_SETUID_EXEC &&
		       RE_CRED_CHANGE == NG_KR_CRED && RE_ANOMALY == NG_KR_ANOMALY,
	       "RE_* and NG_KR_* bits");

#define KILL_EVENTS (RE_EXEC | RE_SETUID_EXEC | RE_CRED_CHANGE | RE_ANOMALY)
#define OBS_PER_POLICY 200000ul
#define NOT_COMPILED_MAX 8192

/* ------------------------------------------------------------------ helpers */

/* splitmix64: deterministic, so a failure replays */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *g)
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_below(struct rng *g, uint32_t n)
{
	return (uint32_t)(rng_next(g) % n);
}

/* FNV-1a 64 as specified, capped like the kernel's copy of the path */
static uint64_t ref_fnv(const char *s)
{
	uint64_t h = NG_FNV_OFFSET;
	size_t i;

	for (i = 0; s[i] && i < NG_PATH_MAX - 1; i++)
		h = (h ^ (uint8_t)s[i]) * NG_FNV_PRIME;
	return h;
}

static struct policy *parse(const char *yaml)
{
	struct policy_errors e = { 0 };
	struct policy *p = NULL;
	char buf[600];
	size_t i;
	int r;

	r = policy_parse("t.yaml", yaml, strlen(yaml), &p, &e);
	if (r) {
		for (i = 0; i < e.n; i++) {
			policy_error_format(&e.v[i], buf, sizeof(buf));
			print_message("  %s\n", buf);
		}
		policy_errors_free(&e);
		fail_msg("policy rejected (%d):\n%s", r, yaml);
	}
	policy_errors_free(&e);
	return p;
}

static struct kill_compiled *compile(const struct policy *p, bool dry, char *nc, size_t n)
{
	struct kill_compiled *c = malloc(sizeof(*c));
	char scratch[NOT_COMPILED_MAX];
	int r;

	assert_non_null(c);
	if (!nc) {
		nc = scratch;
		n = sizeof(scratch);
	}
	r = killrules_compile(p, dry, c, nc, n);
	if (r)
		fail_msg("killrules_compile: %d", r);
	return c;
}

/* the ng_kill_exe map lookup of the sensors */
static const struct ng_kill_exe *exe_lookup(const struct kill_compiled *c, uint64_t h)
{
	size_t i;

	for (i = 0; i < c->nexe; i++)
		if (c->exe[i].hash == h)
			return &c->exe[i].v;
	return NULL;
}

static uint32_t kmatch(const struct kill_compiled *c, const struct ng_kill_in *in,
		       uint32_t container)
{
	return ng_kill_match(&c->masks, exe_lookup(c, in->exe_hash), in, container);
}

static size_t rule_index(const struct policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (!strcmp(p->rules[i].name, name))
			return i;
	fail_msg("no rule %s", name);
	return 0;
}

/* the slot of a rule, -1 if it has none */
static int slot_of(const struct kill_compiled *c, size_t ri)
{
	uint32_t s;

	for (s = 0; s < c->nslots; s++)
		if (c->rule_of_slot[s] == ri)
			return (int)s;
	return -1;
}

/* --------------------------------------------------------- the reference */

struct ref_rule {
	const struct rule *r;
	size_t index;          /* in policy->rules */
	uint64_t *bin, *allow; /* FNV of the binaries and the exception binaries */
	size_t nbin, nallow;
};

struct ref {
	struct ref_rule *v;    /* the rules that get a slot, in policy order */
	size_t n;
	uint32_t overflow;
	uint64_t *paths;       /* every path the policy names, for the generator */
	size_t npaths;
	uint64_t caps;         /* every capability a rule names */
};

static bool ref_sel_ok(enum ng_uidsel s, uint32_t v)
{
	switch (s) {
	case UID_ANY: return true;
	case UID_ROOT: return v == 0;
	case UID_NONROOT: return v != 0;
	default: return false; /* UID_VALUE never gets a slot */
	}
}

static bool ref_tri_ok(enum ng_tri t, bool v)
{
	return t == TRI_ANY || (t == TRI_TRUE) == v;
}

static bool ref_has(const uint64_t *v, size_t n, uint64_t h)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == h)
			return true;
	return false;
}

/* the per-slot evaluation the masks replaced */
static bool ref_match(const struct ref_rule *rr, const struct ng_kill_in *in, bool container)
{
	const struct match *m = &rr->r->match;
	const struct ng_creds *o = &in->old, *c = &in->cur;

	if (!rr->r->id || !(m->events & KILL_EVENTS & in->events))
		return false;
	if ((m->scope == SCOPE_CONTAINER && !container) || (m->scope == SCOPE_HOST && container))
		return false;
	if (m->ops && !(in->op && (m->ops & (1u << in->op))))
		return false;
	if (m->anomaly_reasons && !(m->anomaly_reasons & in->anomaly))
		return false;
	if (in->anomaly & NG_AN_SEEDED)
		return false;
	if (!ref_sel_ok(m->uid.sel, c->uid) || !ref_sel_ok(m->uid_to.sel, c->uid) ||
	    !ref_sel_ok(m->euid_to.sel, c->euid) || !ref_sel_ok(m->fsuid_to.sel, c->fsuid))
		return false;
	if (m->uid_from.sel || m->euid_from.sel || m->gains_root || m->caps_gained) {
		bool gains;
		uint64_t gained;

		if (!in->has_old)
			return false;
		if (!ref_sel_ok(m->uid_from.sel, o->uid) || !ref_sel_ok(m->euid_from.sel, o->euid))
			return false;
		gains = (o->uid && !c->uid) || (o->euid && !c->euid) || (o->suid && !c->suid) ||
			(o->fsuid && !c->fsuid);
		if (!ref_tri_ok(m->gains_root, gains))
			return false;
		gained = (c->cap_eff & ~o->cap_eff) | (c->cap_prm & ~o->cap_prm);
		if (m->caps_gained && !(m->caps_gained & gained))
			return false;
	}
	if ((in->events & NG_KR_CRED) && !ref_tri_ok(m->success, in->success != 0))
		return false;
	if (rr->nbin && !ref_has(rr->bin, rr->nbin, in->exe_hash))
		return false;
	if (ref_has(rr->allow, rr->nallow, in->exe_hash))
		return false;
	return true;
}

static void add_path(struct ref *ref, const char *s)
{
	uint64_t *a = realloc(ref->paths, (ref->npaths + 1) * sizeof(*a));

	assert_non_null(a);
	ref->paths = a;
	ref->paths[ref->npaths++] = ref_fnv(s);
}

static void ref_build(struct ref *ref, const struct policy *p)
{
	size_t i, j, x;
	char why[160];

	memset(ref, 0, sizeof(*ref));
	ref->v = calloc(p->nrules + 1, sizeof(*ref->v));
	assert_non_null(ref->v);
	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];
		struct ref_rule *rr = &ref->v[ref->n];

		for (j = 0; j < r->match.binary.n; j++)
			add_path(ref, r->match.binary.v[j]);
		for (x = 0; x < r->nexceptions; x++)
			for (j = 0; j < r->exceptions[x].binary.n; j++)
				add_path(ref, r->exceptions[x].binary.v[j]);
		ref->caps |= r->match.caps_gained;
		if (!r->enabled || !(r->actions & ACT_KILL) || !killrules_compilable(r, why, sizeof(why)))
			continue;
		if (ref->n == NG_KILL_RULES_MAX) {
			ref->overflow++;
			continue;
		}
		rr->r = r;
		rr->index = i;
		rr->bin = calloc(r->match.binary.n + 1, sizeof(uint64_t));
		assert_non_null(rr->bin);
		for (j = 0; j < r->match.binary.n; j++)
			rr->bin[rr->nbin++] = ref_fnv(r->match.binary.v[j]);
		for (x = 0; x < r->nexceptions; x++) {
			for (j = 0; j < r->exceptions[x].binary.n; j++) {
				uint64_t *a = realloc(rr->allow, (rr->nallow + 1) * sizeof(*a));

				assert_non_null(a);
				rr->allow = a;
				rr->allow[rr->nallow++] = ref_fnv(r->exceptions[x].binary.v[j]);
			}
		}
		ref->n++;
	}
}

static void ref_free(struct ref *ref)
{
	size_t i;

	for (i = 0; i < ref->n; i++) {
		free(ref->v[i].bin);
		free(ref->v[i].allow);
	}
	free(ref->v);
	free(ref->paths);
}

/*
 * What the compiler placed must be what the reference placed: the same
 * rules in the same slots, the same overflow, each slot's record taken from
 * its rule, empty slots empty, and an exe table that holds exactly the
 * placed rules' paths, once each.
 */
static void check_placement(const struct policy *p, const struct kill_compiled *c,
			    const struct ref *ref, bool dry)
{
	uint32_t s;
	size_t i, j;

	assert_int_equal(c->nslots, ref->n);
	assert_int_equal(c->overflow, ref->overflow);
	assert_int_equal(c->masks.live, ref->n == 32 ? 0xffffffffu : (1u << ref->n) - 1);
	for (s = 0; s < NG_KILL_RULES_MAX; s++) {
		const struct ng_kill_rule *k = &c->slot[s];

		if (s >= c->nslots) {
			assert_int_equal(k->rule_id, 0);
			continue;
		}
		assert_int_equal(c->rule_of_slot[s], ref->v[s].index);
		assert_int_equal(k->rule_id, ref->v[s].r->id);
		assert_int_equal(k->rule_id, ref->v[s].index + 1);
		assert_int_equal(k->dry_run, dry || ref->v[s].r->dry_run == TRI_TRUE);
		assert_int_equal(k->rate_per_min, p->settings.rule_actions_per_minute);
	}
	for (i = 0; i < c->nexe; i++) {
		bool listed = false;

		for (j = i + 1; j < c->nexe; j++)
			assert_true(c->exe[i].hash != c->exe[j].hash);
		assert_true(c->exe[i].v.binary || c->exe[i].v.allow);
		for (s = 0; s < ref->n; s++)
			listed = listed || ref_has(ref->v[s].bin, ref->v[s].nbin, c->exe[i].hash) ||
				 ref_has(ref->v[s].allow, ref->v[s].nallow, c->exe[i].hash);
		assert_true(listed);
	}
	for (s = 0; s < ref->n; s++) {
		for (j = 0; j < ref->v[s].nbin; j++)
			assert_non_null(exe_lookup(c, ref->v[s].bin[j]));
		for (j = 0; j < ref->v[s].nallow; j++)
			assert_non_null(exe_lookup(c, ref->v[s].allow[j]));
	}
}

/* ------------------------------------------------------- the observations */

static uint32_t gen_id(struct rng *g)
{
	static const uint32_t ids[] = { 1, 33, 999, 1000, 65534, 0x7fffffffu, 0xffffffffu };
	uint64_t x = rng_next(g);

	if (x & 1)
		return 0; /* root half the time */
	if (!((x >> 1) & 3))
		return (uint32_t)(x >> 32) | 1;
	return ids[(x >> 8) % (sizeof(ids) / sizeof(ids[0]))];
}

/* capabilities: mostly the ones the rules name, sometimes any */
static uint64_t gen_caps(struct rng *g, const struct ref *ref)
{
	uint64_t x = rng_next(g), caps = 0;
	unsigned k, n = (unsigned)(x & 3);

	if (!((x >> 2) & 7))
		return rng_next(g);
	for (k = 0; k < n; k++) {
		unsigned bit = rng_below(g, 64);

		if (ref->caps && rng_below(g, 3)) {
			while (!(ref->caps & (1ull << bit)))
				bit = (bit + 1) & 63;
		}
		caps |= 1ull << bit;
	}
	return caps;
}

static void gen_creds(struct rng *g, const struct ref *ref, struct ng_creds *cr)
{
	memset(cr, 0, sizeof(*cr));
	if (!rng_below(g, 4)) {
		cr->uid = cr->euid = cr->suid = cr->fsuid = gen_id(g);
	} else {
		cr->uid = gen_id(g);
		cr->euid = gen_id(g);
		cr->suid = gen_id(g);
		cr->fsuid = gen_id(g);
	}
	cr->gid = gen_id(g);
	cr->egid = cr->sgid = cr->fsgid = cr->gid;
	cr->cap_eff = gen_caps(g, ref);
	cr->cap_prm = rng_below(g, 2) ? cr->cap_eff : gen_caps(g, ref);
	cr->cap_inh = rng_below(g, 8) ? 0 : gen_caps(g, ref);
	cr->userns = 4026531837u;
}

static uint32_t gen_events(struct rng *g)
{
	static const uint32_t ev[] = { NG_KR_EXEC, NG_KR_EXEC | NG_KR_SETUID_EXEC, NG_KR_SETUID_EXEC,
				       NG_KR_CRED, NG_KR_ANOMALY };

	if (!rng_below(g, 8))
		return rng_below(g, 32); /* none, the connect bit, any mix */
	return ev[rng_below(g, sizeof(ev) / sizeof(ev[0]))];
}

static uint64_t gen_exe(struct rng *g, const struct ref *ref)
{
	uint32_t k = rng_below(g, 10);
	char path[64];

	if (k < 5 && ref->npaths)
		return ref->paths[rng_below(g, (uint32_t)ref->npaths)];
	if (k == 5)
		return 0;
	if (k < 8) {
		snprintf(path, sizeof(path), "/usr/bin/other%u", rng_below(g, 16));
		return ref_fnv(path);
	}
	return rng_next(g);
}

/* any value of one field of the observation, as a fault would change it */
static void gen_field(struct rng *g, const struct ref *ref, unsigned f, struct ng_kill_in *in,
		      uint32_t *container)
{
	switch (f) {
	case 0: in->events = gen_events(g); break;
	case 1: *container = rng_below(g, 2); break;
	case 2: in->op = rng_below(g, 3) ? rng_below(g, NG_CRED_OP_MAX) : rng_below(g, NG_KM_OPS); break;
	case 3:
		/* the reasons of an anomaly; now and then the seeded mark */
		in->anomaly = rng_below(g, 4) ? rng_below(g, NG_AN_SEEDED) : rng_below(g, 256);
		break;
	case 4: in->success = rng_below(g, 4) ? rng_below(g, 2) : (uint32_t)rng_next(g); break;
	case 5: in->has_old = rng_below(g, 2); break;
	case 6: in->exe_hash = gen_exe(g, ref); break;
	case 7: in->cur.uid = gen_id(g); break;
	case 8: in->cur.euid = gen_id(g); break;
	case 9: in->cur.fsuid = gen_id(g); break;
	case 10: in->old.uid = gen_id(g); break;
	case 11: in->old.euid = gen_id(g); break;
	case 12: in->cur.suid = gen_id(g); break;
	case 13: in->cur.cap_eff = gen_caps(g, ref); break;
	default: in->old.cap_prm = gen_caps(g, ref); break;
	}
}

#define GEN_FIELDS 15

static void gen_random(struct rng *g, const struct ref *ref, struct ng_kill_in *in,
		       uint32_t *container)
{
	unsigned f;

	memset(in, 0, sizeof(*in));
	for (f = 0; f < GEN_FIELDS; f++)
		gen_field(g, ref, f, in, container);
	gen_creds(g, ref, &in->cur);
	if (rng_below(g, 3)) {
		gen_creds(g, ref, &in->old);
	} else {
		in->old = in->cur;
		gen_field(g, ref, 7 + rng_below(g, 8), in, container);
	}
	/* op and reasons where they belong, mostly */
	if (!(in->events & NG_KR_CRED) && rng_below(g, 4))
		in->op = 0;
	if (!(in->events & NG_KR_ANOMALY) && rng_below(g, 4))
		in->anomaly = 0;
	if (!rng_below(g, 32))
		in->anomaly |= NG_AN_SEEDED;
	in->hook = 1 + rng_below(g, NG_EV_ENFORCE);
}

static uint32_t sel_value(enum ng_uidsel s, uint32_t v)
{
	if (s == UID_ROOT)
		return 0;
	if (s == UID_NONROOT)
		return v ? v : 1000;
	return v;
}

static unsigned pick_bit64(struct rng *g, uint64_t bits)
{
	unsigned i = rng_below(g, 64);

	while (!(bits & (1ull << i)))
		i = (i + 1) & 63;
	return i;
}

/*
 * An observation made to satisfy one rule (as far as its keys allow), so
 * rules with many keys match as often as they miss; the caller may then knock
 * one field off again.
 */
static void gen_aimed(struct rng *g, const struct ref *ref, const struct ref_rule *rr,
		      struct ng_kill_in *in, uint32_t *container)
{
	const struct match *m = &rr->r->match;
	struct ng_creds *o = &in->old, *c = &in->cur;
	unsigned b;

	gen_random(g, ref, in, container);
	in->events = 1u << pick_bit64(g, m->events & KILL_EVENTS);
	if (!rng_below(g, 4))
		in->events |= gen_events(g);
	if (m->scope != SCOPE_ANY)
		*container = m->scope == SCOPE_CONTAINER;
	if (m->ops)
		in->op = pick_bit64(g, m->ops);
	in->anomaly &= ~NG_AN_SEEDED;
	if (m->anomaly_reasons)
		in->anomaly |= 1u << pick_bit64(g, m->anomaly_reasons);
	c->uid = sel_value(m->uid.sel ? m->uid.sel : m->uid_to.sel, c->uid);
	c->euid = sel_value(m->euid_to.sel, c->euid);
	c->fsuid = sel_value(m->fsuid_to.sel, c->fsuid);
	if (m->uid_from.sel || m->euid_from.sel || m->gains_root || m->caps_gained)
		in->has_old = rng_below(g, 8) != 0;
	o->uid = sel_value(m->uid_from.sel, o->uid);
	o->euid = sel_value(m->euid_from.sel, o->euid);
	if (m->gains_root == TRI_TRUE) {
		/* the saved uid: no selector constrains it */
		o->suid = o->suid ? o->suid : 1000;
		c->suid = 0;
	} else if (m->gains_root == TRI_FALSE) {
		o->uid = c->uid ? o->uid : 0;
		o->euid = c->euid ? o->euid : 0;
		o->suid = c->suid ? o->suid : 0;
		o->fsuid = c->fsuid ? o->fsuid : 0;
	}
	if (m->caps_gained) {
		b = pick_bit64(g, m->caps_gained);
		if (rng_below(g, 2)) {
			o->cap_eff &= ~(1ull << b);
			c->cap_eff |= 1ull << b;
		} else {
			o->cap_prm &= ~(1ull << b);
			c->cap_prm |= 1ull << b;
		}
	}
	if (in->events & NG_KR_CRED && m->success != TRI_ANY)
		in->success = m->success == TRI_TRUE;
	if (rr->nbin)
		in->exe_hash = rr->bin[rng_below(g, (uint32_t)rr->nbin)];
	if (rr->nallow && !rng_below(g, 4))
		in->exe_hash = rr->allow[rng_below(g, (uint32_t)rr->nallow)];
}

/* ------------------------------------------------------------- reporting */

static const char *sel_name(enum ng_uidsel s)
{
	return s == UID_ANY ? "-" : s == UID_ROOT ? "root" : s == UID_NONROOT ? "nonroot" : "value";
}

static const char *tri_name(enum ng_tri t)
{
	return t == TRI_ANY ? "-" : t == TRI_TRUE ? "true" : "false";
}

static void print_rule(const struct ref_rule *rr, int slot)
{
	const struct match *m = &rr->r->match;
	size_t i, x;

	print_message("  rule %s (index %zu, line %d, slot %d): events %#x scope %d ops %#x anomaly %#x\n"
		      "    uid %s uid_from %s uid_to %s euid_from %s euid_to %s fsuid_to %s\n"
		      "    gains_root %s success %s caps_gained %#" PRIx64 "\n",
		      rr->r->name, rr->index, rr->r->line, slot, m->events, m->scope, m->ops,
		      m->anomaly_reasons, sel_name(m->uid.sel), sel_name(m->uid_from.sel),
		      sel_name(m->uid_to.sel), sel_name(m->euid_from.sel), sel_name(m->euid_to.sel),
		      sel_name(m->fsuid_to.sel), tri_name(m->gains_root), tri_name(m->success),
		      m->caps_gained);
	for (i = 0; i < m->binary.n; i++)
		print_message("    binary %s (%#" PRIx64 ")\n", m->binary.v[i], rr->bin[i]);
	for (x = 0; x < rr->r->nexceptions; x++)
		for (i = 0; i < rr->r->exceptions[x].binary.n; i++)
			print_message("    exception %s (%#" PRIx64 ")\n", rr->r->exceptions[x].binary.v[i],
				      ref_fnv(rr->r->exceptions[x].binary.v[i]));
}

static void print_creds(const char *what, const struct ng_creds *c)
{
	print_message("  %s: uid %u euid %u suid %u fsuid %u cap_eff %#" PRIx64 " cap_prm %#" PRIx64 "\n",
		      what, c->uid, c->euid, c->suid, c->fsuid, (uint64_t)c->cap_eff,
		      (uint64_t)c->cap_prm);
}

static void print_obs(unsigned long n, const struct ng_kill_in *in, uint32_t container,
		      const struct ng_kill_exe *exe)
{
	print_message("observation %lu: events %#x op %u anomaly %#x success %u has_old %u container %u\n"
		      "  exe_hash %#" PRIx64 " (exe entry: %s, binary %#x allow %#x)\n",
		      n, in->events, in->op, in->anomaly, in->success, in->has_old, container,
		      (uint64_t)in->exe_hash, exe ? "yes" : "none", exe ? exe->binary : 0,
		      exe ? exe->allow : 0);
	print_creds("old", &in->old);
	print_creds("cur", &in->cur);
}

/* ------------------------------------------------------------ the differential */

struct diff_stats {
	unsigned long matched;             /* observations some rule matched */
	unsigned long hits[NG_KILL_RULES_MAX];
};

/*
 * One observation through both. The mask's slots, mapped to rules, must be
 * the rules the reference matches, and its first slot the reference's first
 * rule in policy order.
 */
static void diff_one(const struct kill_compiled *c, const struct ref *ref, unsigned long n,
		     const struct ng_kill_in *in, uint32_t container, struct diff_stats *st)
{
	const struct ng_kill_exe *exe = exe_lookup(c, in->exe_hash);
	uint32_t got = ng_kill_match(&c->masks, exe, in, container);
	size_t first = SIZE_MAX;
	bool bad = false;
	uint32_t s;
	size_t i;

	if (c->nslots < NG_KILL_RULES_MAX && (got >> c->nslots)) {
		print_obs(n, in, container, exe);
		fail_msg("mask %#x has slots past the %u in use", got, c->nslots);
	}
	for (i = 0; i < ref->n; i++) {
		bool want = ref_match(&ref->v[i], in, container), have = false;

		for (s = 0; s < c->nslots; s++)
			if (got & (1u << s) && c->rule_of_slot[s] == ref->v[i].index)
				have = true;
		if (want && first == SIZE_MAX)
			first = ref->v[i].index;
		if (want != have) {
			if (!bad)
				print_obs(n, in, container, exe);
			print_message("  reference %s, masks %s:\n", want ? "matches" : "does not match",
				      have ? "match" : "do not match");
			print_rule(&ref->v[i], slot_of(c, ref->v[i].index));
			bad = true;
		}
		if (have)
			st->hits[i]++;
	}
	if (bad)
		fail_msg("masks and reference disagree at observation %lu (mask %#x)", n, got);
	if (!got)
		return;
	st->matched++;
	if (c->rule_of_slot[ng_km_first(got)] != first) {
		print_obs(n, in, container, exe);
		fail_msg("first rule: masks slot %u (rule %zu), reference rule %zu (mask %#x)",
			 ng_km_first(got), c->rule_of_slot[ng_km_first(got)], first, got);
	}
}

/*
 * nobs observations against policy p. Every slot must match somewhere:
 * a rule the observations never reach proves nothing about it.
 */
static void differential(const char *what, const struct policy *p, uint64_t seed,
			 unsigned long nobs)
{
	struct rng g = { seed };
	struct diff_stats st = { 0 };
	struct kill_compiled *c;
	struct ref ref;
	unsigned long n;
	size_t i;

	ref_build(&ref, p);
	c = compile(p, false, NULL, 0);
	check_placement(p, c, &ref, false);
	for (n = 0; n < nobs; n++) {
		struct ng_kill_in in;
		uint32_t container = 0;

		if (ref.n && rng_below(&g, 2)) {
			gen_aimed(&g, &ref, &ref.v[rng_below(&g, (uint32_t)ref.n)], &in, &container);
			if (rng_below(&g, 2))
				gen_field(&g, &ref, rng_below(&g, GEN_FIELDS), &in, &container);
		} else {
			gen_random(&g, &ref, &in, &container);
		}
		diff_one(c, &ref, n, &in, container, &st);
	}
	print_message("%s: %zu rules, %u slots, %u overflow, %zu exe entries; %lu observations, "
		      "%lu matched\n",
		      what, p->nrules, c->nslots, c->overflow, c->nexe, nobs, st.matched);
	for (i = 0; i < ref.n; i++)
		if (!st.hits[i])
			fail_msg("%s: rule %s (slot %zu) never matched", what, ref.v[i].r->name, i);
	free(c);
	ref_free(&ref);
}

/* ------------------------------------------------------------- policies */

struct buf {
	char *s;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!b->cap) {
		b->cap = 4096;
		b->s = malloc(b->cap);
		assert_non_null(b->s);
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	b->len += (size_t)n;
}

/* every key a kernel kill rule can have, each uid selector both ways */
static const char every_key_yaml[] =
	"version: 1\n"
	"settings:\n"
	"  rule_actions_per_minute: 7\n"
	"rules:\n"
	"  - name: shell-as-root\n"
	"    severity: high\n"
	"    category: execution\n"
	"    actions: [kill]\n"
	"    match:\n"
	"      event: exec\n"
	"      scope: container\n"
	"      binary: [/bin/sh, /bin/bash, /usr/bin/dash]\n"
	"      uid: root\n"
	"    exceptions:\n"
	"      - binary: [/bin/bash]\n"
	"  - name: setuid-exec-to-root-on-host\n"
	"    severity: critical\n"
	"    category: privilege_escalation\n"
	"    actions: [log, kill]\n"
	"    match: {event: setuid-exec, scope: host, uid_from: nonroot, euid_to: root,\n"
	"            gains_root: true}\n"
	"  - name: setuid-call-to-root\n"
	"    severity: critical\n"
	"    category: privilege_escalation\n"
	"    actions: [kill]\n"
	"    match:\n"
	"      event: cred-change\n"
	"      scope: any\n"
	"      ops: [setuid, setreuid, setresuid]\n"
	"      euid_from: nonroot\n"
	"      uid_to: root\n"
	"      success: true\n"
	"  - name: failed-capset\n"
	"    severity: high\n"
	"    category: privilege_escalation\n"
	"    dry_run: true\n"
	"    actions: [kill]\n"
	"    match: {event: cred-change, ops: [capset], success: false,\n"
	"            caps_gained: [sys_admin, CAP_SYS_PTRACE]}\n"
	"  - name: escape-anomaly\n"
	"    severity: critical\n"
	"    category: container_escape\n"
	"    actions: [kill]\n"
	"    match: {event: anomaly, scope: container, anomaly: [host_mntns, host_netns, caps_gained]}\n"
	"  - name: nonroot-fsuid-anomaly\n"
	"    severity: critical\n"
	"    category: privilege_escalation\n"
	"    actions: [kill]\n"
	"    match: {event: anomaly, scope: any, uid: nonroot, fsuid_to: root}\n"
	"  - name: host-no-gain\n"
	"    severity: low\n"
	"    category: execution\n"
	"    actions: [kill]\n"
	"    match:\n"
	"      events: [exec, setuid-exec, cred-change]\n"
	"      scope: host\n"
	"      gains_root: false\n"
	"      uid_from: root\n"
	"      euid_from: root\n"
	"      uid_to: nonroot\n"
	"      euid_to: nonroot\n"
	"      fsuid_to: nonroot\n"
	"      success: false\n"
	"  - name: ns-tools\n"
	"    severity: high\n"
	"    category: container_escape\n"
	"    actions: [kill]\n"
	"    match: {events: [exec, anomaly], scope: any, binary: [/usr/bin/nsenter, /usr/bin/unshare],\n"
	"            uid_to: root}\n"
	"    exceptions:\n"
	"      - binary: /usr/local/bin/allowed\n"
	"  - name: caps-on-setuid-exec\n"
	"    severity: high\n"
	"    category: privilege_escalation\n"
	"    actions: [kill]\n"
	"    match: {event: setuid-exec, caps_gained: [sys_admin, bpf], euid_to: nonroot, uid: nonroot}\n"
	"    exceptions:\n"
	"      - binary: [/usr/bin/ping]\n"
	"      - binary: [/usr/bin/newuidmap, /usr/bin/newgidmap]\n"
	"  - name: log-only\n"
	"    severity: info\n"
	"    category: execution\n"
	"    match: {event: exec, scope: any}\n"
	"  - name: disabled-kill\n"
	"    severity: high\n"
	"    category: execution\n"
	"    enabled: false\n"
	"    actions: [kill]\n"
	"    match: {event: exec, scope: any}\n"
	"  - name: kill-glob\n"
	"    severity: high\n"
	"    category: execution\n"
	"    actions: [kill]\n"
	"    match: {event: exec, binary: [\"*/nc\"]}\n"
	"  - name: kill-numeric-uid\n"
	"    severity: high\n"
	"    category: execution\n"
	"    actions: [kill]\n"
	"    match: {event: exec, uid: 1000}\n"
	"  - name: kill-anomaly-gains\n"
	"    severity: high\n"
	"    category: privilege_escalation\n"
	"    actions: [kill]\n"
	"    match: {event: anomaly, gains_root: true}\n"
	"  - name: kill-and-freeze\n"
	"    severity: critical\n"
	"    category: privilege_escalation\n"
	"    actions: [kill, freeze]\n"
	"    match: {event: cred-change, scope: any, gains_root: true, uid_from: nonroot}\n"
	"  - name: caps-any-op\n"
	"    severity: medium\n"
	"    category: privilege_escalation\n"
	"    actions: [kill]\n"
	"    match: {events: [cred-change, setuid-exec], caps_gained: [setuid], uid: nonroot,\n"
	"            euid_to: root, fsuid_to: nonroot}\n"
	"    exceptions: [{binary: [/bin/sh]}]\n"
	"  - name: anomaly-any-reason\n"
	"    severity: high\n"
	"    category: privilege_escalation\n"
	"    actions: [kill]\n"
	"    match: {event: anomaly, scope: host, uid: root, euid_to: nonroot}\n"
	"  - name: deny-metadata\n"
	"    severity: medium\n"
	"    category: network\n"
	"    actions: [deny]\n"
	"    match: {event: connect, cidrs: [169.254.169.254/32]}\n";

/* rule kinds of the generated policies: each key only where it applies */
static const char *const gen_events_yaml[] = {
	"[exec]", "[setuid-exec]", "[cred-change]", "[anomaly]", "[exec, setuid-exec]",
	"[exec, cred-change]", "[setuid-exec, cred-change]", "[exec, setuid-exec, cred-change]",
	"[exec, anomaly]", "[cred-change, anomaly]", "[exec, setuid-exec, cred-change, anomaly]",
};
static const char *const gen_ops[] = { "setuid", "setgid", "setreuid", "setregid", "setresuid",
				       "setresgid", "setfsuid", "setfsgid", "setgroups", "capset" };
static const char *const gen_reasons[] = { "euid_root", "fsuid_root", "uid_root", "caps_gained",
					   "ids_changed", "host_mntns", "host_netns" };
static const char *const gen_capnames[] = { "sys_admin", "sys_ptrace", "setuid", "net_raw",
					    "bpf", "chown", "sys_module", "dac_override" };
#define GEN_PATHS 8
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void gen_list(struct rng *g, struct buf *b, const char *key, const char *const *v, size_t n,
		     unsigned max)
{
	unsigned k = 1 + rng_below(g, max), i;
	size_t at = rng_below(g, (uint32_t)n);

	bprintf(b, "      %s: [", key);
	for (i = 0; i < k; i++)
		bprintf(b, "%s%s", i ? ", " : "", v[(at + i * 3) % n]);
	bprintf(b, "]\n");
}

static const char *gen_sel(struct rng *g)
{
	uint32_t k = rng_below(g, 4);

	return k == 0 ? "root" : k == 1 ? "nonroot" : NULL;
}

/*
 * A compilable kill rule with random keys. It is never contradictory (the
 * coverage check needs every rule to be able to match): one selector on the
 * current uid, no "from non-root" with gains_root false, and exceptions that
 * leave one of the rule's binaries.
 */
static void gen_rule(struct rng *g, struct buf *b, unsigned k, const char *actions)
{
	static const char *const scopes[] = { NULL, "container", "host", "any" };
	uint32_t ev = rng_below(g, NELEM(gen_events_yaml));
	bool anomaly = strstr(gen_events_yaml[ev], "anomaly") != NULL;
	bool cred_only = !strcmp(gen_events_yaml[ev], "[cred-change]");
	const char *s, *gains = NULL;
	unsigned nbin = 0, first = 0, i;

	bprintf(b, "  - name: g%u\n    severity: high\n    category: execution\n"
		   "    actions: %s\n    match:\n      events: %s\n",
		k, actions, gen_events_yaml[ev]);
	if ((s = scopes[rng_below(g, 4)]))
		bprintf(b, "      scope: %s\n", s);
	if (cred_only && rng_below(g, 2))
		gen_list(g, b, "ops", gen_ops, NELEM(gen_ops), 3);
	if (!strcmp(gen_events_yaml[ev], "[anomaly]") && rng_below(g, 2))
		gen_list(g, b, "anomaly", gen_reasons, NELEM(gen_reasons), 3);
	if ((s = gen_sel(g)))
		bprintf(b, "      %s: %s\n", rng_below(g, 2) ? "uid" : "uid_to", s);
	if ((s = gen_sel(g)))
		bprintf(b, "      euid_to: %s\n", s);
	if ((s = gen_sel(g)))
		bprintf(b, "      fsuid_to: %s\n", s);
	if (!anomaly) {
		uint32_t t = rng_below(g, 3);

		gains = t == 0 ? "true" : t == 1 ? "false" : NULL;
		if (gains)
			bprintf(b, "      gains_root: %s\n", gains);
		if ((s = gen_sel(g)) && !(gains && !strcmp(gains, "false") && !strcmp(s, "nonroot")))
			bprintf(b, "      uid_from: %s\n", s);
		if ((s = gen_sel(g)) && !(gains && !strcmp(gains, "false") && !strcmp(s, "nonroot")))
			bprintf(b, "      euid_from: %s\n", s);
		if (!rng_below(g, 3))
			gen_list(g, b, "caps_gained", gen_capnames, NELEM(gen_capnames), 2);
		if (!rng_below(g, 3))
			bprintf(b, "      success: %s\n", rng_below(g, 2) ? "true" : "false");
	}
	if (!rng_below(g, 3)) {
		nbin = 1 + rng_below(g, 3);
		first = rng_below(g, GEN_PATHS);
		bprintf(b, "      binary: [");
		for (i = 0; i < nbin; i++)
			bprintf(b, "%s/usr/bin/t%u", i ? ", " : "", (first + i) % GEN_PATHS);
		bprintf(b, "]\n");
	}
	if (!rng_below(g, 4)) {
		unsigned x = rng_below(g, GEN_PATHS);

		if (nbin && x == first)
			x = (x + GEN_PATHS - 1) % GEN_PATHS;
		bprintf(b, "    exceptions:\n      - binary: [/usr/bin/t%u", x);
		if (rng_below(g, 2))
			bprintf(b, ", /opt/allowed/a%u", k);
		bprintf(b, "]\n");
	}
}

/*
 * nkill random compilable kill rules, with in between a disabled kill rule,
 * a kill rule the kernel cannot evaluate, a log-only rule and a kill rule
 * that also freezes (compilable: it takes a slot).
 */
static struct policy *gen_policy(uint64_t seed, unsigned nkill)
{
	struct rng g = { seed };
	struct buf b = { 0 };
	struct policy *p;
	unsigned k;

	bprintf(&b, "version: 1\nrules:\n");
	for (k = 0; k < nkill; k++) {
		if (k == 3)
			bprintf(&b, "  - {name: off, severity: high, category: execution, enabled: false,\n"
				    "     actions: [kill], match: {event: exec, scope: any}}\n");
		if (k == 10)
			bprintf(&b, "  - {name: needs-proctab, severity: high, category: execution,\n"
				    "     actions: [kill], match: {event: exec, scope: any, comm: [sh]}}\n");
		if (k == 20)
			bprintf(&b, "  - {name: logs, severity: info, category: execution,\n"
				    "     match: {event: exec, scope: any}}\n");
		gen_rule(&g, &b, k, k == 5 ? "[kill, freeze]" : "[log, kill]");
	}
	p = parse(b.s);
	free(b.s);
	return p;
}

/* ------------------------------------------------------- direct tests */

static void test_fnv(void **state)
{
	char longp[NG_PATH_MAX * 2];

	/* published FNV-1a 64 vectors */
	assert_true(ng_fnv1a("", 0) == 0xcbf29ce484222325ull);
	assert_true(ng_fnv1a("a", 1) == 0xaf63dc4c8601ec8cull);
	assert_true(ng_fnv1a("foobar", 6) == 0x85944171f73967e8ull);
	assert_true(ref_fnv("/usr/bin/nsenter") == ng_fnv1a("/usr/bin/nsenter", 16));
	/* the kernel hashes what it copied: at most NG_PATH_MAX - 1 bytes */
	memset(longp, 'x', sizeof(longp));
	longp[sizeof(longp) - 1] = '\0';
	assert_true(ng_fnv1a(longp, strlen(longp)) == ng_fnv1a(longp, NG_PATH_MAX - 1));
	assert_true(ng_fnv1a(longp, strlen(longp)) == ref_fnv(longp));
	assert_true(ng_fnv1a(longp, NG_PATH_MAX - 2) != ref_fnv(longp));
}

static void test_first_single_bits(void **state)
{
	unsigned i;

	for (i = 0; i < 32; i++) {
		assert_int_equal(ng_km_first(1u << i), i);
		/* higher bits do not change the first */
		assert_int_equal(ng_km_first((1u << i) | (i < 31 ? ~0u << (i + 1) : 0)), i);
	}
}

static void test_first_random(void **state)
{
	struct rng g = { 42 };
	unsigned long n;

	for (n = 0; n < 1000000; n++) {
		uint32_t m = (uint32_t)rng_next(&g);

		/* sparse masks too: the first slot is often high */
		if (n & 1)
			m &= (uint32_t)rng_next(&g) & (uint32_t)rng_next(&g);
		if (!m)
			continue;
		if (ng_km_first(m) != (uint32_t)__builtin_ctz(m))
			fail_msg("ng_km_first(%#x) = %u, want %d", m, ng_km_first(m), __builtin_ctz(m));
	}
}

static void test_is0_ones_union(void **state)
{
	static const uint32_t nonzero[] = { 1, 2, 3, 0x7fffffffu, 0x80000000u, 0x80000001u, 0xffffffffu };
	const uint32_t tbl[4] = { 0x1, 0x2, 0x40, 0x80000000u };
	struct rng g = { 7 };
	unsigned i;

	assert_int_equal(ng_km_is0(0), 1);
	for (i = 0; i < NELEM(nonzero); i++)
		assert_int_equal(ng_km_is0(nonzero[i]), 0);
	for (i = 0; i < 100000; i++) {
		uint32_t x = (uint32_t)rng_next(&g);

		assert_int_equal(ng_km_is0(x), x == 0);
	}
	for (i = 0; i < 64; i++) {
		assert_int_equal(ng_km_ones(1ull << i, i), 0xffffffffu);
		assert_int_equal(ng_km_ones(~(1ull << i), i), 0);
	}
	assert_int_equal(ng_km_union(tbl, 0, 4), 0);
	assert_int_equal(ng_km_union(tbl, 0x5, 4), 0x41);
	assert_int_equal(ng_km_union(tbl, 0xf, 4), 0x80000043u);
	/* bits past n are not looked at */
	assert_int_equal(ng_km_union(tbl, 0x30, 4), 0);
}

/* an observation every rule of the small policies below accepts */
static struct ng_kill_in obs_exec(const char *path)
{
	struct ng_kill_in in = { .events = NG_KR_EXEC, .success = 1, .hook = NG_EV_EXEC };

	in.exe_hash = path ? ref_fnv(path) : 0;
	in.cur.uid = in.cur.euid = in.cur.suid = in.cur.fsuid = 0;
	return in;
}

static void test_seeded_never_matches(void **state)
{
	struct policy *p = parse(
		"version: 1\nrules:\n"
		"  - {name: ex, severity: high, category: execution, actions: [kill],\n"
		"     match: {events: [exec, setuid-exec, cred-change], scope: any}}\n"
		"  - {name: an, severity: high, category: execution, actions: [kill],\n"
		"     match: {event: anomaly, scope: any}}\n"
		"  - {name: seeded-reason, severity: high, category: execution, actions: [kill],\n"
		"     match: {event: anomaly, scope: any, anomaly: [euid_root, host_netns]}}\n");
	struct kill_compiled *c = compile(p, false, NULL, 0);
	struct ng_kill_in in = obs_exec(NULL);
	uint32_t ev, cont;

	assert_int_equal(c->nslots, 3);
	for (ev = 0; ev < 32; ev++) {
		for (cont = 0; cont < 2; cont++) {
			in.events = ev;
			in.anomaly = NG_AN_EUID_ROOT | NG_AN_HOST_NETNS;
			in.has_old = ev & 1;
			/* without the mark, the same observation matches... */
			if (ev & KILL_EVENTS)
				assert_int_not_equal(kmatch(c, &in, cont), 0);
			/* ...with it, nothing does, whatever else is set */
			in.anomaly |= NG_AN_SEEDED;
			assert_int_equal(kmatch(c, &in, cont), 0);
			in.anomaly = NG_AN_SEEDED;
			assert_int_equal(kmatch(c, &in, cont), 0);
		}
	}
	free(c);
	policy_free(p);
}

static void test_binary_required(void **state)
{
	struct policy *p = parse(
		"version: 1\nrules:\n"
		"  - {name: a, severity: high, category: execution, actions: [kill],\n"
		"     match: {event: exec, scope: any, binary: [/usr/bin/a1, /usr/bin/a2]}}\n"
		"  - {name: b, severity: high, category: execution, actions: [kill],\n"
		"     match: {event: exec, scope: any, binary: [/usr/bin/b]}}\n");
	struct kill_compiled *c = compile(p, false, NULL, 0);
	struct ng_kill_in in;

	assert_int_equal(c->nslots, 2);
	assert_int_equal(c->nexe, 3);
	in = obs_exec("/usr/bin/a1");
	assert_int_equal(kmatch(c, &in, 1), 0x1);
	in = obs_exec("/usr/bin/a2");
	assert_int_equal(kmatch(c, &in, 0), 0x1);
	/* the other rule's binary: an exe entry, but not for slot 0 */
	in = obs_exec("/usr/bin/b");
	assert_int_equal(kmatch(c, &in, 1), 0x2);
	/* no exe entry at all, a prefix, a different path of the same length */
	in = obs_exec("/usr/bin/c");
	assert_int_equal(kmatch(c, &in, 1), 0);
	in = obs_exec("/usr/bin/a");
	assert_int_equal(kmatch(c, &in, 1), 0);
	in = obs_exec("/usr/bin/a3");
	assert_int_equal(kmatch(c, &in, 1), 0);
	in = obs_exec(NULL);
	assert_int_equal(kmatch(c, &in, 1), 0);
	free(c);
	policy_free(p);
}

static void test_exception_exempts(void **state)
{
	struct policy *p = parse(
		"version: 1\nrules:\n"
		"  - {name: any-exec, severity: high, category: execution, actions: [kill],\n"
		"     match: {event: exec, scope: any}, exceptions: [{binary: /opt/ok}]}\n"
		"  - {name: listed, severity: high, category: execution, actions: [kill],\n"
		"     match: {event: exec, scope: any, binary: [/bin/x, /bin/y]},\n"
		"     exceptions: [{binary: [/bin/y]}, {binary: [/opt/ok2]}]}\n");
	struct kill_compiled *c = compile(p, false, NULL, 0);
	struct ng_kill_in in;

	assert_int_equal(c->nslots, 2);
	in = obs_exec("/bin/true");
	assert_int_equal(kmatch(c, &in, 1), 0x1);
	in = obs_exec("/opt/ok");
	assert_int_equal(kmatch(c, &in, 1), 0);
	in = obs_exec("/bin/x");
	assert_int_equal(kmatch(c, &in, 1), 0x3);
	assert_int_equal(ng_km_first(kmatch(c, &in, 1)), 0);
	/* the exception wins over the binary list of the same rule */
	in = obs_exec("/bin/y");
	assert_int_equal(kmatch(c, &in, 1), 0x1);
	/* another rule's exception exempts only from that rule */
	in = obs_exec("/opt/ok2");
	assert_int_equal(kmatch(c, &in, 1), 0x1);
	free(c);
	policy_free(p);
}

static void test_slot_fields(void **state)
{
	struct policy *p = parse(
		"version: 1\n"
		"settings:\n  rule_actions_per_minute: 7\n"
		"rules:\n"
		"  - {name: log, severity: low, category: execution, match: {event: exec}}\n"
		"  - {name: dry, severity: high, category: execution, dry_run: true, actions: [kill],\n"
		"     match: {event: exec}}\n"
		"  - {name: live, severity: high, category: execution, actions: [log, kill],\n"
		"     match: {event: cred-change}}\n"
		"  - {name: notdry, severity: high, category: execution, dry_run: false, actions: [kill],\n"
		"     match: {event: anomaly}}\n");
	struct kill_compiled *c = compile(p, false, NULL, 0);
	uint32_t s;

	assert_int_equal(c->nslots, 3);
	assert_int_equal(c->overflow, 0);
	assert_int_equal(c->masks.live, 0x7);
	assert_int_equal(c->slot[0].rule_id, 2);
	assert_int_equal(c->slot[1].rule_id, 3);
	assert_int_equal(c->slot[2].rule_id, 4);
	assert_int_equal(c->rule_of_slot[0], 1);
	assert_int_equal(c->rule_of_slot[1], 2);
	assert_int_equal(c->rule_of_slot[2], 3);
	assert_int_equal(c->slot[0].dry_run, 1);
	assert_int_equal(c->slot[1].dry_run, 0);
	assert_int_equal(c->slot[2].dry_run, 0);
	for (s = 0; s < 3; s++)
		assert_int_equal(c->slot[s].rate_per_min, 7);
	for (s = 3; s < NG_KILL_RULES_MAX; s++)
		assert_int_equal(c->slot[s].rule_id, 0);
	assert_true(killrules_in_kernel(c, 1));
	assert_false(killrules_in_kernel(c, 0));
	free(c);
	/* a node-wide dry-run: `dry_run: false` does not take a rule out of it */
	c = compile(p, true, NULL, 0);
	for (s = 0; s < 3; s++)
		assert_int_equal(c->slot[s].dry_run, 1);
	free(c);
	policy_free(p);
}

static void test_wake_kinds(void **state)
{
	static const struct {
		const char *rules;
		uint32_t want;
	} cases[] = {
		/* the kernel kills by itself: nothing to wake for */
		{ "  - {name: k, severity: high, category: execution, actions: [log, kill],\n"
		  "     match: {events: [exec, cred-change, anomaly], scope: any}}\n"
		  "  - {name: l, severity: low, category: execution, match: {event: connect}}\n"
		  "  - {name: off, severity: low, category: execution, enabled: false, actions: [freeze],\n"
		  "     match: {event: exec}}\n",
		  0 },
		/* a kill rule the kernel cannot evaluate kills from user space */
		{ "  - {name: k, severity: high, category: execution, actions: [kill],\n"
		  "     match: {event: exec, binary: [\"/tmp/*\"]}}\n",
		  1u << NG_EV_EXEC },
		{ "  - {name: k, severity: high, category: execution, actions: [kill],\n"
		  "     match: {event: setuid-exec, uid: 0}}\n",
		  1u << NG_EV_EXEC },
		/* kill plus a user-space action, though the kill itself compiles */
		{ "  - {name: kf, severity: high, category: execution, actions: [kill, freeze],\n"
		  "     match: {event: cred-change}}\n",
		  1u << NG_EV_CRED },
		{ "  - {name: d, severity: high, category: network, actions: [deny],\n"
		  "     match: {event: connect, ports: [443]}}\n",
		  (1u << NG_EV_CONNECT) | (1u << NG_EV_SENDMSG) },
		{ "  - {name: i, severity: high, category: execution, actions: [isolate],\n"
		  "     match: {events: [setuid-exec, cred-change]}}\n"
		  "  - {name: e, severity: high, category: execution, actions: [event],\n"
		  "     match: {event: connect}}\n",
		  (1u << NG_EV_EXEC) | (1u << NG_EV_CRED) | (1u << NG_EV_CONNECT) | (1u << NG_EV_SENDMSG) },
	};
	char yaml[2048];
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		struct policy *p;
		struct kill_compiled *c;

		snprintf(yaml, sizeof(yaml), "version: 1\nrules:\n%s", cases[i].rules);
		p = parse(yaml);
		c = compile(p, false, NULL, 0);
		if (c->wake_kinds != cases[i].want)
			fail_msg("case %zu: wake_kinds %#x, want %#x", i, c->wake_kinds, cases[i].want);
		free(c);
		policy_free(p);
	}
}

/* which rules of the every-key policy compile, and why the others do not */
static void test_every_key_placement(void **state)
{
	static const char *const placed[] = {
		"shell-as-root", "setuid-exec-to-root-on-host", "setuid-call-to-root", "failed-capset",
		"escape-anomaly", "nonroot-fsuid-anomaly", "host-no-gain", "ns-tools",
		"caps-on-setuid-exec", "kill-and-freeze", "caps-any-op", "anomaly-any-reason",
	};
	struct policy *p = parse(every_key_yaml);
	char nc[NOT_COMPILED_MAX];
	struct kill_compiled *c = compile(p, false, nc, sizeof(nc));
	size_t i;

	assert_int_equal(c->nslots, NELEM(placed));
	assert_int_equal(c->overflow, 0);
	for (i = 0; i < NELEM(placed); i++)
		assert_int_equal(c->rule_of_slot[i], rule_index(p, placed[i]));
	assert_int_equal(slot_of(c, rule_index(p, "disabled-kill")), -1);
	assert_int_equal(slot_of(c, rule_index(p, "log-only")), -1);
	assert_non_null(strstr(nc, "kill-glob: binary '*/nc' is a glob"));
	assert_non_null(strstr(nc, "kill-numeric-uid: numeric uid selectors"));
	assert_non_null(strstr(nc, "kill-anomaly-gains: old-id keys on anomaly rules"));
	assert_null(strstr(nc, "disabled-kill"));
	assert_null(strstr(nc, "log-only"));
	assert_int_equal(c->slot[3].dry_run, 1);
	assert_int_equal(c->slot[0].rate_per_min, 7);
	assert_int_equal(c->wake_kinds, (1u << NG_EV_EXEC) | (1u << NG_EV_CRED) |
						(1u << NG_EV_CONNECT) | (1u << NG_EV_SENDMSG));
	free(c);
	policy_free(p);
}

/* 40 compilable kill rules: 32 slots, 8 over; the others never take a slot */
static void test_overflow_placement(void **state)
{
	struct policy *p = gen_policy(0x6b696c6cull, 40);
	struct kill_compiled *c = compile(p, false, NULL, 0);
	size_t i;

	assert_int_equal(p->nrules, 43);
	assert_int_equal(c->nslots, NG_KILL_RULES_MAX);
	assert_int_equal(c->overflow, 40 - NG_KILL_RULES_MAX);
	assert_int_equal(c->masks.live, 0xffffffffu);
	assert_int_equal(slot_of(c, rule_index(p, "off")), -1);
	assert_int_equal(slot_of(c, rule_index(p, "needs-proctab")), -1);
	assert_int_equal(slot_of(c, rule_index(p, "logs")), -1);
	assert_int_equal(slot_of(c, rule_index(p, "g5")), 5);
	/* the last slot holds g31; g32 and later are over */
	assert_int_equal(c->rule_of_slot[31], rule_index(p, "g31"));
	for (i = 32; i < 40; i++) {
		char name[8];

		snprintf(name, sizeof(name), "g%zu", i);
		assert_int_equal(slot_of(c, rule_index(p, name)), -1);
	}
	free(c);
	policy_free(p);
}

/* ------------------------------------------------------- differential tests */

static void test_diff_default(void **state)
{
	struct policy *p = NULL;

	assert_int_equal(policy_load_default(&p, NULL), 0);
	differential("default policy", p, 1, OBS_PER_POLICY);
	policy_free(p);
}

static void test_diff_every_key(void **state)
{
	struct policy *p = parse(every_key_yaml);

	differential("every key", p, 2, OBS_PER_POLICY);
	policy_free(p);
}

static void test_diff_overflow(void **state)
{
	struct policy *p = gen_policy(0x6b696c6cull, 40);

	differential("32 slots + overflow", p, 3, OBS_PER_POLICY);
	policy_free(p);
}

static void test_diff_generated(void **state)
{
	static const uint64_t seeds[] = { 11, 12, 13 };
	size_t i;

	for (i = 0; i < NELEM(seeds); i++) {
		struct policy *p = gen_policy(seeds[i], 12 + 8 * (unsigned)i);
		char what[32];

		snprintf(what, sizeof(what), "generated #%zu", i);
		differential(what, p, 100 + i, OBS_PER_POLICY);
		policy_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fnv),
		cmocka_unit_test(test_first_single_bits),
		cmocka_unit_test(test_first_random),
		cmocka_unit_test(test_is0_ones_union),
		cmocka_unit_test(test_seeded_never_matches),
		cmocka_unit_test(test_binary_required),
		cmocka_unit_test(test_exception_exempts),
		cmocka_unit_test(test_slot_fields),
		cmocka_unit_test(test_wake_kinds),
		cmocka_unit_test(test_every_key_placement),
		cmocka_unit_test(test_overflow_placement),
		cmocka_unit_test(test_diff_default),
		cmocka_unit_test(test_diff_every_key),
		cmocka_unit_test(test_diff_overflow),
		cmocka_unit_test(test_diff_generated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
