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

char LICENSE[] SEC("license") = "GPL";

const volatile struct ng_bpf_config ng_cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the loader */
} ng_events SEC(".maps");

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
		return BPF_CORE_READ(c, val);
	{
		const struct kernel_cap_struct___old *o = (const void *)c;
		__u32 lo = BPF_CORE_READ(o, cap[0]);
		__u32 hi = BPF_CORE_READ(o, cap[1]);
		return ((__u64)hi << 32) | lo;
	}
}

static __always_inline void ng_read_creds(const struct cred *c, struct ng_creds *o)
{
	o->uid = BPF_CORE_READ(c, uid.val);
	o->euid = BPF_CORE_READ(c, euid.val);
	o->suid = BPF_CORE_READ(c, suid.val);
	o->fsuid = BPF_CORE_READ(c, fsuid.val);
	o->gid = BPF_CORE_READ(c, gid.val);
	o->egid = BPF_CORE_READ(c, egid.val);
	o->sgid = BPF_CORE_READ(c, sgid.val);
	o->fsgid = BPF_CORE_READ(c, fsgid.val);
	o->cap_eff = ng_cap_read(&c->cap_effective);
	o->cap_prm = ng_cap_read(&c->cap_permitted);
	o->cap_inh = ng_cap_read(&c->cap_inheritable);
	o->ngroups = BPF_CORE_READ(c, group_info, ngroups);
	o->userns = BPF_CORE_READ(c, user_ns, ns.inum);
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
	mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);

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
	h->pid = BPF_CORE_READ(t, tgid);
	h->tid = BPF_CORE_READ(t, pid);
	h->ppid = BPF_CORE_READ(t, real_parent, tgid);
	h->nspid = nspid;
	h->pidns = pidns;
	h->mntns = mntns;
	h->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
	h->_pad0 = 0;
	h->uid = BPF_CORE_READ(t, cred, uid.val);
	h->gid = BPF_CORE_READ(t, cred, gid.val);
	h->euid = BPF_CORE_READ(t, cred, euid.val);
	h->egid = BPF_CORE_READ(t, cred, egid.val);
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
	ng_task_pidns(t, &pidns, &nspid);
	mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	return (pidns && pidns != ng_cfg.host_pidns) || (mntns && mntns != ng_cfg.host_mntns);
}

static __always_inline void ng_state_read(struct task_struct *t, struct ng_taskstate *s)
{
	ng_read_creds(BPF_CORE_READ(t, cred), &s->c);
	s->mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	s->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
}

/* Record a legitimate new state (after set*id, exec, for a new child). */
static __always_inline void ng_state_record(struct task_struct *t, __u32 tid)
{
	struct ng_taskstate st;

	ng_state_read(t, &st);
	bpf_map_update_elem(&ng_tasks, &tid, &st, BPF_ANY);
}

static __always_inline void ng_anomaly_emit(struct task_struct *t, __u32 hook, __u32 reasons,
					    const struct ng_taskstate *old,
					    const struct ng_taskstate *cur)
{
	struct ng_anomaly *e;
	struct ng_hdr h;

	/* an escaped task may look like a host task now: report it anyway */
	if (ng_hdr_fill_scoped(&h, t, NG_EV_ANOMALY, 1))
		return;
	e = bpf_ringbuf_reserve(&ng_events, sizeof(*e), 0);
	if (!e) {
		ng_count(NG_EV_ANOMALY, 1);
		return;
	}
	e->hdr = h;
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
static __always_inline __u32 ng_task_check(struct task_struct *t, __u32 hook)
{
	__u32 tid = BPF_CORE_READ(t, pid), reasons = 0;
	struct ng_taskstate *old, cur;

	if (ng_cfg.self_pid && BPF_CORE_READ(t, tgid) == ng_cfg.self_pid)
		return 0;
	old = bpf_map_lookup_elem(&ng_tasks, &tid);
	if (!old) {
		if (ng_task_in_scope(t))
			ng_state_record(t, tid);
		return 0;
	}
	ng_state_read(t, &cur);
	reasons = ng_credcheck(old, &cur, ng_cfg.host_userns, ng_cfg.host_mntns, ng_cfg.host_netns);
	if (reasons) {
		ng_anomaly_emit(t, hook, reasons, old, &cur);
		bpf_map_update_elem(&ng_tasks, &tid, &cur, BPF_ANY);
	}
	return reasons;
}

#endif /* NODEGUARD_COMMON_BPF_H */
