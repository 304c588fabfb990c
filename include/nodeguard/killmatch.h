/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * In-kernel kill-rule matching, shared by the BPF sensors (which run it at
 * every hook where a kill rule can apply) and the unit tests (which hold it
 * against a rule-by-rule reference). Plain C, no helpers, no branches that
 * depend on the rules: it must compile for both.
 *
 * Design (and why): user space compiles the policy's kill rules into
 * struct ng_kill_masks (nodeguard/enforce.h), one mask of rule slots per
 * value a rule key can see. Matching is the AND of those masks for the
 * observed values, so one evaluation costs the same few hundred instructions
 * whether 0 or 32 rules are loaded, and the verifier walks it once per call
 * site instead of once per rule (the bpf_loop over rules it replaces cost the
 * verifier over a million instructions on some machines). The first matching
 * rule is the lowest set bit: policy order, as before.
 *
 * The loops below have constant bounds and branch-free bodies: the verifier
 * walks each iteration once and never forks its state on them.
 */
#ifndef NODEGUARD_KILLMATCH_H
#define NODEGUARD_KILLMATCH_H

#include "nodeguard/event.h"
#include "nodeguard/credcheck.h"
#include "nodeguard/enforce.h"

/* what one hook observed, for the kill rules (by value: the BPF side hands it
 * to a global function, which may not follow pointers of its caller) */
struct ng_kill_in {
	__u32 events;               /* NG_KR_* of this observation */
	__u32 has_old;              /* 1: old holds the credentials before the change */
	__u32 op;                   /* enum ng_cred_op, 0 none */
	__u32 anomaly;              /* NG_AN_* */
	__u32 success;              /* the call succeeded (cred-change events) */
	__u32 hook;                 /* enum ng_kind */
	__u64 exe_hash;             /* FNV-1a 64 of the exec'ed path */
	struct ng_creds old;
	struct ng_creds cur;
};
_Static_assert(sizeof(struct ng_kill_in) == 32 + 2 * sizeof(struct ng_creds), "ng_kill_in");

/*
 * Hide a value from the compiler's pattern matching: without it clang turns
 * the arithmetic below back into compares and selects, which are branches in
 * BPF, and every branch doubles the paths the verifier walks.
 */
#ifdef __bpf__
#define NG_KM_OPAQUE(v) asm volatile("" : "+r"(v))
#else
#define NG_KM_OPAQUE(v) ((void)0)
#endif

/* 1 if x is 0, else 0, without a branch */
static inline __u32 ng_km_is0(__u32 x)
{
	__u32 t = x | (0u - x); /* top bit set iff x != 0 */

	NG_KM_OPAQUE(t);
	t = (t >> 31) ^ 1u;
	NG_KM_OPAQUE(t); /* nor that the result is 0 or 1 */
	return t;
}

/* all ones if bit i of bits is set, else 0, without a branch */
static inline __u32 ng_km_ones(__u64 bits, unsigned i)
{
	__u32 b = (__u32)((bits >> i) & 1);

	NG_KM_OPAQUE(b);
	b = 0u - b;
	NG_KM_OPAQUE(b);
	return b;
}

/* union of tbl[i] over the bits i set in bits (i < n) */
static inline __u32 ng_km_union(const __u32 *tbl, __u64 bits, const unsigned n)
{
	__u32 acc = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		acc |= tbl[i] & ng_km_ones(bits, i);
	return acc;
}

/* index of the lowest set bit of m (m != 0): popcount of the bits below it */
static inline __u32 ng_km_first(__u32 m)
{
	__u32 v = (m & (0u - m)) - 1;

	v = v - ((v >> 1) & 0x55555555u);
	v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
	v = (v + (v >> 4)) & 0x0f0f0f0fu;
	return ((v * 0x01010101u) >> 24) & (NG_KILL_RULES_MAX - 1);
}

/*
 * The slots whose rules match this observation. exe: the ng_kill_exe entry
 * of in->exe_hash, NULL when no rule lists that path. container: the task is
 * outside the host's pid or mount namespace.
 */
static inline __u32 ng_kill_match(const struct ng_kill_masks *km, const struct ng_kill_exe *exe,
				  const struct ng_kill_in *in, __u32 container)
{
	const struct ng_creds *o = &in->old, *c = &in->cur;
	__u32 m;

	/* never kill on a baseline /proc gave us: a set*id in flight while the
	 * agent started would look unexplained */
	if (in->anomaly & NG_AN_SEEDED)
		return 0;
	m = km->live & ng_km_union(km->event, in->events, NG_KR_BITS);
	m &= km->scope[container & 1];
	m &= km->op[in->op & (NG_KM_OPS - 1)];
	m &= km->anomaly_any | ng_km_union(km->anomaly, in->anomaly, NG_KM_ANOMALY);
	m &= km->uid[ng_km_is0(c->uid)] & km->uid_to[ng_km_is0(c->uid)];
	m &= km->euid_to[ng_km_is0(c->euid)] & km->fsuid_to[ng_km_is0(c->fsuid)];
	if (!in->has_old) {
		m &= ~km->needs_old;
	} else {
		__u32 gains = ((ng_km_is0(o->uid) ^ 1) & ng_km_is0(c->uid)) |
			      ((ng_km_is0(o->euid) ^ 1) & ng_km_is0(c->euid)) |
			      ((ng_km_is0(o->suid) ^ 1) & ng_km_is0(c->suid)) |
			      ((ng_km_is0(o->fsuid) ^ 1) & ng_km_is0(c->fsuid));
		__u64 gained = (c->cap_eff & ~o->cap_eff) | (c->cap_prm & ~o->cap_prm);

		m &= km->uid_from[ng_km_is0(o->uid)] & km->euid_from[ng_km_is0(o->euid)];
		m &= km->gains_root[gains];
		m &= km->caps_any | ng_km_union(km->caps, gained, NG_KM_CAPS);
	}
	/* the success key applies to cred-change events only */
	m &= km->success[ng_km_is0(in->success) ^ 1] | ~ng_km_ones(in->events, 2);
	m &= ~km->needs_binary | (exe ? exe->binary : 0);
	if (exe)
		m &= ~exe->allow;
	return m;
}

#endif
