/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * In-kernel kill rules: their maps (filled by agent/kernel/killrules.c), the
 * wake-ups they ask for, and ng_kill_eval(), the global function every
 * sensor calls to kill the current task when a rule says so. Reads ng_cfg,
 * which the including object defines first.
 */
#ifndef NODEGUARD_KILL_BPF_H
#define NODEGUARD_KILL_BPF_H

#include "ring.bpf.h"

/* Kill rules compiled from the policy (nodeguard/killmatch.h), their rate
 * limits, and cgroups that must never be acted on (protected namespaces, the
 * agent). Pinned by the loader so they outlive an agent restart. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NG_KILL_RULES_MAX);
	__type(key, __u32);
	__type(value, struct ng_kill_rule);
} ng_kill_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NG_KILL_RULES_MAX);
	__type(key, __u32);
	__type(value, struct ng_kill_rate);
} ng_kill_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ng_kill_masks);
} ng_kill_masks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NG_KILL_RULES_MAX * NG_KILL_LIST_MAX * 2);
	__type(key, __u64);
	__type(value, struct ng_kill_exe);
} ng_kill_exe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} ng_protected SEC(".maps");

/* [0]: how many kill rules are loaded (0: skip the evaluation) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ng_enf_state);
} ng_kill_state SEC(".maps");

/* batch, unless a rule acts on this kind of event from user space */
static __always_inline __u64 ng_rb_flags_kind(__u64 sz, __u32 kind)
{
	__u32 zero = 0;
	struct ng_enf_state *st = bpf_map_lookup_elem(&ng_kill_state, &zero);

	if (st && kind < 32 && (st->wake_kinds & (1u << kind)))
		return BPF_RB_FORCE_WAKEUP;
	return ng_rb_flags_sz(sz);
}

/* global functions (verified once, not per path into them): the kill
 * evaluation's outcomes (dry run, protected, rate-limited, failed) would
 * otherwise each verify the record fill again */
__noinline int ng_enforce_emit(__u32 action, __u32 rule_id, __u32 hook, __u32 flags, int err)
{
	struct ng_enforce *e = bpf_ringbuf_reserve(&ng_events, sizeof(*e), 0);
	struct task_struct *t = bpf_get_current_task_btf();

	if (!e) {
		ng_count(NG_EV_ENFORCE, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	if (ng_hdr_fill_scoped(&e->hdr, t, NG_EV_ENFORCE, 1)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	e->hdr.size = sizeof(*e);
	e->action = action;
	e->rule_id = rule_id;
	e->hook = hook;
	e->flags = flags;
	e->err = err;
	e->target_cgroup = e->hdr.cgroup_id;
	bpf_ringbuf_submit(e, 0);
	ng_count(NG_EV_ENFORCE, 0);
	return 0;
}

/*
 * The task's cgroup or one of its ancestors is in ng_protected: the agent's
 * own, and the pod cgroups (and containers) of protected namespaces, which
 * user space learns from the pod cache, so a pod's containers are covered
 * from their first instruction.
 */
__noinline int ng_cg_protected(__u64 cg)
{
	int lvl;

	if (bpf_map_lookup_elem(&ng_protected, &cg))
		return 1;
	for (lvl = 1; lvl <= 8; lvl++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(lvl);

		if (!id)
			break;
		if (bpf_map_lookup_elem(&ng_protected, &id))
			return 1;
	}
	return 0;
}

/* any kill rule loaded? Callers check before building a struct ng_kill_in
 * (160 bytes zeroed and filled) on a hot path such as every exec */
static __always_inline int ng_kill_armed(void)
{
	__u32 zero = 0;
	struct ng_enf_state *st;

	if (!ng_cfg.kill_rules)
		return 0;
	st = bpf_map_lookup_elem(&ng_kill_state, &zero);
	return st && st->n_kill;
}

/*
 * Kill the current task if a kill rule says so (nodeguard/killmatch.h: a
 * constant-cost AND of precompiled masks, the same for 0 or 32 rules). The
 * signal is queued now and delivered before the task runs another user-space
 * instruction.
 *
 * A global function: the verifier checks it once per program, on its own,
 * instead of once for every path that reaches each call site (inlined, it
 * multiplied a credential exit program's cost by 45). Every caller acts on
 * the current task. Loaded with ng_cfg.kill_rules 0 (a kernel that refused
 * this code), the verifier drops its body as dead and user space kills
 * instead. Returns 1 if a rule matched.
 */
__noinline int ng_kill_eval(const struct ng_kill_in *in)
{
	__u32 zero = 0, pidns = 0, nspid = 0, mntns, container, slot, flags, m;
	struct task_struct *t;
	struct ng_enf_state *st;
	struct ng_kill_masks *km;
	struct ng_kill_rule *r;
	struct ng_kill_rate *rt;
	__u64 exe, cg;
	int err = 0;

	if (!ng_cfg.kill_rules || !in)
		return 0;
	if (ng_cfg.kill_rules == NG_KILL_CFG_REJECT) /* an access the verifier refuses */
		asm volatile("r0 = *(u64 *)(r10 + 8)" ::: "r0");
	st = bpf_map_lookup_elem(&ng_kill_state, &zero);
	if (!st || !st->n_kill)
		return 0;
	if (ng_cfg.self_pid && (__u32)(bpf_get_current_pid_tgid() >> 32) == ng_cfg.self_pid)
		return 0;
	km = bpf_map_lookup_elem(&ng_kill_masks, &zero);
	if (!km)
		return 0;
	t = bpf_get_current_task_btf();
	/* the mount namespace first: the pid namespace costs more to read */
	mntns = t->nsproxy->mnt_ns->ns.inum;
	container = mntns && mntns != ng_cfg.host_mntns;
	if (!container) {
		ng_task_pidns(t, &pidns, &nspid);
		container = pidns && pidns != ng_cfg.host_pidns;
	}
	exe = in->exe_hash;
	m = ng_kill_match(km, bpf_map_lookup_elem(&ng_kill_exe, &exe), in, container);
	if (!m)
		return 0;
	slot = ng_km_first(m);
	r = bpf_map_lookup_elem(&ng_kill_rules, &slot);
	if (!r || !r->rule_id)
		return 0;
	flags = r->dry_run ? NG_ENF_DRY_RUN : 0;
	cg = bpf_get_current_cgroup_id();
	if (ng_cg_protected(cg))
		flags |= NG_ENF_PROTECTED;
	rt = bpf_map_lookup_elem(&ng_kill_rate, &slot);
	if (rt && r->rate_per_min && !(flags & (NG_ENF_PROTECTED | NG_ENF_DRY_RUN))) {
		__u64 now = bpf_ktime_get_boot_ns();

		if (now - rt->window_start_ns > 60000000000ULL) {
			rt->window_start_ns = now;
			rt->count = 0;
		}
		if (rt->count >= r->rate_per_min)
			flags |= NG_ENF_SUPPRESSED;
		else
			rt->count++;
	}
	if (!(flags & (NG_ENF_DRY_RUN | NG_ENF_PROTECTED | NG_ENF_SUPPRESSED))) {
		err = bpf_send_signal(9);
		if (err)
			flags |= NG_ENF_FAILED;
	}
	ng_enforce_emit(NG_ENF_KILL, r->rule_id, in->hook, flags, err);
	return 1;
}

#endif /* NODEGUARD_KILL_BPF_H */
