/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Task state: credentials stashed across a syscall, the last recorded
 * credentials and namespaces of every in-scope task, the scope pre-check,
 * and the unexplained-change check (nodeguard/credcheck.h) that reports an
 * anomaly and hands it to the kill rules. Reads ng_cfg, which the including
 * object defines first.
 */
#ifndef NODEGUARD_STATE_BPF_H
#define NODEGUARD_STATE_BPF_H

#include "kill.bpf.h"

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

#endif /* NODEGUARD_STATE_BPF_H */
