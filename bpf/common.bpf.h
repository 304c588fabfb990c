/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by every nodeguard BPF object: the event ring buffer, the
 * per-CPU counters, the scope filter and the task/cred readers.
 *
 * Each object defines its own copy of the shared maps; the loader makes them
 * one by reusing the first object's map fds (bpf_map__reuse_fd) before load.
 */
#ifndef NODEGUARD_COMMON_BPF_H
#define NODEGUARD_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "nodeguard/event.h"
#include "nodeguard/credcheck.h"
#include "nodeguard/enforce.h"
#include "nodeguard/killmatch.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct ng_bpf_config ng_cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the loader */
} ng_events SEC(".maps");

/* Batch wake-ups: the agent drains on a short timer; wake it only when the
 * backlog crosses a watermark (once, not for every record above it). */
#define NG_WAKE_BYTES (512u << 10)
static __always_inline __u64 ng_rb_flags_sz(__u64 sz)
{
	__u64 avail = bpf_ringbuf_query(&ng_events, BPF_RB_AVAIL_DATA);

	return avail >= NG_WAKE_BYTES && avail < NG_WAKE_BYTES + sz + 8 ? BPF_RB_FORCE_WAKEUP
									 : BPF_RB_NO_WAKEUP;
}
#define ng_rb_flags() ng_rb_flags_kind(sizeof(*e), e->hdr.kind)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NG_EV_KIND_MAX);
	__type(key, __u32);
	__type(value, struct ng_counter);
} ng_counters SEC(".maps");

/* Credentials stashed at syscall entry so the exit (or the exec tracepoint)
 * can report old and new values. Keyed by tid; LRU so a task that dies inside
 * a syscall cannot leak an entry. */
#define NG_STASH_EXEC 100
struct ng_stash {
	struct ng_creds old;
	__s64 args[3];
	__u32 op;
	__u32 _pad0;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ng_stash);
} ng_stash SEC(".maps");

/* Last recorded credentials and namespaces of every in-scope task, keyed by
 * tid (see nodeguard/credcheck.h). LRU: a task we lose track of is simply
 * re-recorded at its next hook, never falsely flagged. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* resized by the loader */
	__type(key, __u32);
	__type(value, struct ng_taskstate);
} ng_tasks SEC(".maps");

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

static __always_inline void ng_count(__u32 kind, int what)
{
	struct ng_counter *c = bpf_map_lookup_elem(&ng_counters, &kind);

	if (!c)
		return;
	if (what == 0)
		c->emitted++;
	else if (what == 1)
		c->dropped++;
	else
		c->filtered++;
}

/* kernel_cap_t was __u32 cap[2] before 6.3 */
struct kernel_cap_struct___old {
	__u32 cap[2];
};

static __always_inline __u64 ng_cap_read(const kernel_cap_t *c)
{
	if (bpf_core_field_exists(c->val))
		return c->val;
	{
		const struct kernel_cap_struct___old *o = (const void *)c;
		__u32 lo = BPF_CORE_READ(o, cap[0]);
		__u32 hi = BPF_CORE_READ(o, cap[1]);
		return ((__u64)hi << 32) | lo;
	}
}

static __always_inline void ng_read_creds(const struct cred *c, struct ng_creds *o)
{
	o->uid = c->uid.val;
	o->euid = c->euid.val;
	o->suid = c->suid.val;
	o->fsuid = c->fsuid.val;
	o->gid = c->gid.val;
	o->egid = c->egid.val;
	o->sgid = c->sgid.val;
	o->fsgid = c->fsgid.val;
	o->cap_eff = ng_cap_read(&c->cap_effective);
	o->cap_prm = ng_cap_read(&c->cap_permitted);
	o->cap_inh = ng_cap_read(&c->cap_inheritable);
	o->ngroups = c->group_info->ngroups;
	o->userns = c->user_ns->ns.inum;
}

/* pid namespace inode and the pid inside it, from the task's struct pid */
static __always_inline void ng_task_pidns(struct task_struct *t, __u32 *inum, __u32 *nr)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	struct upid up = {};

	bpf_core_read(&up, sizeof(up), &p->numbers[level & 31]);
	*nr = up.nr;
	*inum = BPF_CORE_READ(up.ns, ns.inum);
}

/*
 * Scope: a task is "in a container" when its pid namespace or its mount
 * namespace differs from the host's (PID 1's, read by the loader). Every
 * container runtime gives a container its own mount namespace, and all but
 * hostPID pods their own pid namespace. A task whose namespaces are already
 * torn down (mnt 0 while exiting) is judged on its pid namespace alone.
 */
static __always_inline int ng_hdr_fill_scoped(struct ng_hdr *h, struct task_struct *t, __u16 kind,
					      int force)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 pidns = 0, nspid = 0, mntns;

	ng_task_pidns(t, &pidns, &nspid);
	mntns = t->nsproxy->mnt_ns->ns.inum;

	h->flags = 0;
	if ((pidns && pidns != ng_cfg.host_pidns) ||
	    (mntns && mntns != ng_cfg.host_mntns))
		h->flags |= NG_HF_CONTAINER;
	if (!(h->flags & NG_HF_CONTAINER) && !ng_cfg.trace_host && !force) {
		ng_count(kind, 2);
		return -1;
	}
	if (ng_cfg.self_pid && (__u32)(pt >> 32) == ng_cfg.self_pid)
		return -1;

	h->ts_ns = bpf_ktime_get_boot_ns();
	h->kind = kind;
	h->pid = t->tgid;
	h->tid = t->pid;
	h->ppid = t->real_parent->tgid;
	h->nspid = nspid;
	h->pidns = pidns;
	h->mntns = mntns;
	h->netns = t->nsproxy->net_ns->ns.inum;
	h->_pad0 = 0;
	{
		const struct cred *c = t->cred;

		h->uid = c->uid.val;
		h->gid = c->gid.val;
		h->euid = c->euid.val;
		h->egid = c->egid.val;
	}
	h->cgroup_id = bpf_get_current_cgroup_id();
	BPF_CORE_READ_STR_INTO(&h->comm, t, comm);
	return 0;
}

static __always_inline int ng_hdr_fill(struct ng_hdr *h, struct task_struct *t, __u16 kind)
{
	return ng_hdr_fill_scoped(h, t, kind, 0);
}

/* Cheap pre-check used at syscall entry: is the current task in scope? */
static __always_inline int ng_task_in_scope(struct task_struct *t)
{
	__u32 pidns = 0, nspid = 0, mntns;

	if (ng_cfg.self_pid && (__u32)(bpf_get_current_pid_tgid() >> 32) == ng_cfg.self_pid)
		return 0;
	if (ng_cfg.trace_host)
		return 1;
	/* the mount namespace first: one pointer chain, and enough for most
	 * containers; the pid namespace only when it is the host's */
	mntns = t->nsproxy->mnt_ns->ns.inum;
	if (mntns && mntns != ng_cfg.host_mntns)
		return 1;
	ng_task_pidns(t, &pidns, &nspid);
	return pidns && pidns != ng_cfg.host_pidns;
}

static __always_inline void ng_state_read(struct task_struct *t, struct ng_taskstate *s)
{
	ng_read_creds(t->cred, &s->c);
	s->mntns = t->nsproxy->mnt_ns->ns.inum;
	s->netns = t->nsproxy->net_ns->ns.inum;
	s->flags = 0;
	s->_pad0 = 0;
}

/* Record a legitimate new state (after set*id, exec, for a new child),
 * keeping the exe hash unless a new one is given. */
static __always_inline void ng_state_record_exe(struct task_struct *t, __u32 tid, __u64 exe_hash,
						int set_exe)
{
	struct ng_taskstate st, *old;

	ng_state_read(t, &st);
	old = bpf_map_lookup_elem(&ng_tasks, &tid);
	st.exe_hash = set_exe ? exe_hash : old ? old->exe_hash : 0;
	bpf_map_update_elem(&ng_tasks, &tid, &st, BPF_ANY);
}

static __always_inline void ng_state_record(struct task_struct *t, __u32 tid)
{
	ng_state_record_exe(t, tid, 0, 0);
}

static __always_inline void ng_anomaly_emit(struct task_struct *t, __u32 hook, __u32 reasons,
					    const struct ng_taskstate *old,
					    const struct ng_taskstate *cur)
{
	struct ng_anomaly *e = bpf_ringbuf_reserve(&ng_events, sizeof(*e), 0);

	if (!e) {
		ng_count(NG_EV_ANOMALY, 1);
		return;
	}
	/* an escaped task may look like a host task now: report it anyway */
	if (ng_hdr_fill_scoped(&e->hdr, t, NG_EV_ANOMALY, 1)) {
		bpf_ringbuf_discard(e, 0);
		return;
	}
	e->hdr.size = sizeof(*e);
	e->reasons = reasons;
	e->hook = hook;
	e->old = old->c;
	e->cur = cur->c;
	e->old_mntns = old->mntns;
	e->old_netns = old->netns;
	e->cur_mntns = cur->mntns;
	e->cur_netns = cur->netns;
	bpf_ringbuf_submit(e, 0);
	ng_count(NG_EV_ANOMALY, 0);
}

/* ---------------------------------------------------------------- kill */

static __always_inline __u64 ng_fnv_step(__u64 h, __u8 c)
{
	return (h ^ c) * NG_FNV_PRIME;
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

/*
 * Compare the task's state with the last one recorded, report a difference
 * nothing explains, then record the current state so a change is reported
 * once. A task without a record is recorded if it is in scope.
 * Returns the anomaly reasons (0 if none).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ng_taskstate);
} ng_scratch SEC(".maps");

static __always_inline __u32 ng_task_check(struct task_struct *t, __u32 hook)
{
	__u32 tid = t->pid, reasons = 0, zero = 0;
	struct ng_taskstate *old, *cur = bpf_map_lookup_elem(&ng_scratch, &zero);

	if (ng_cfg.self_pid && t->tgid == ng_cfg.self_pid)
		return 0;
	if (!cur)
		return 0;
	old = bpf_map_lookup_elem(&ng_tasks, &tid);
	if (!old) {
		if (ng_task_in_scope(t))
			ng_state_record(t, tid);
		return 0;
	}
	ng_state_read(t, cur);
	cur->exe_hash = old->exe_hash;
	reasons = ng_credcheck(old, cur, ng_cfg.host_userns, ng_cfg.host_mntns, ng_cfg.host_netns);
	if (reasons && (old->flags & NG_TS_SEEDED))
		reasons |= NG_AN_SEEDED;
	if (reasons) {
		struct ng_kill_in in;

		ng_anomaly_emit(t, hook, reasons, old, cur);
		bpf_map_update_elem(&ng_tasks, &tid, cur, BPF_ANY);
		/* the transition itself is described by the anomaly reasons, so kill
		 * rules for anomalies match on those, not on old/new ids (has_old 0) */
		__builtin_memset(&in, 0, sizeof(in));
		in.events = NG_KR_ANOMALY;
		in.anomaly = reasons;
		in.success = 1;
		in.exe_hash = cur->exe_hash;
		in.hook = hook;
		in.cur = cur->c;
		ng_kill_eval(&in);
	}
	return reasons;
}

#endif /* NODEGUARD_COMMON_BPF_H */
