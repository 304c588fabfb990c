// SPDX-License-Identifier: GPL-2.0-only
/*
 * Credential-change sensors: set*id, setgroups, capset.
 *
 * Entry stashes the caller's credentials (and, for execve/execveat, the
 * pre-exec credentials the exec sensor compares against); exit reports old
 * and new credentials with the syscall's return value.
 *
 * Preferred attach: the per-syscall tracepoints (syscalls/sys_{enter,exit}_*),
 * which cost nothing for other syscalls. Fallback when tracefs or those
 * tracepoints are missing: tp_btf/sys_enter + sys_exit with an in-kernel
 * syscall-number filter. The loader enables exactly one of the two sets.
 */
#include "task.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* tunables, set by the loader before load; the headers below read them */
const volatile struct ng_bpf_config ng_cfg = {};

#include "state.bpf.h"

/* Per-syscall tracepoint records: common header, syscall nr, then args/ret */
struct ng_tp_enter {
	__u64 common;
	__s64 nr;
	__u64 args[6];
};

struct ng_tp_exit {
	__u64 common;
	__s64 nr;
	__s64 ret;
};

static __always_inline int stash_enter(__u32 op, __u64 a0, __u64 a1, __u64 a2)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ng_stash *st;

	/* anything that changed since the last hook is unexplained */
	ng_task_check(t, op == NG_STASH_EXEC ? NG_EV_EXEC : NG_EV_CRED);
	if (!ng_task_in_scope(t))
		return 0;
	/* the thread's entry is written in place (an LRU update and delete per
	 * call cost more than the rest of the sensor); op 0 marks it used */
	st = bpf_map_lookup_elem(&ng_stash, &tid);
	if (!st) {
		struct ng_stash z = {};

		bpf_map_update_elem(&ng_stash, &tid, &z, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&ng_stash, &tid);
		if (!st)
			return 0;
	}
	ng_read_creds(t->cred, &st->old);
	st->args[0] = a0;
	st->args[1] = a1;
	st->args[2] = a2;
	st->op = op;
	return 0;
}

static __always_inline int report_exit(__u32 op, __s64 ret)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ng_stash *st;
	struct ng_cred *e;

	st = bpf_map_lookup_elem(&ng_stash, &tid);
	if (!st || !st->op) {
		/* entered before the sensors attached: the syscall still explains
		 * the change, so the record must follow it */
		if (bpf_map_lookup_elem(&ng_tasks, &tid))
			ng_state_record(t, tid);
		return 0;
	}
	if (st->op != op) {
		st->op = 0;
		return 0;
	}
	{
		/* old and new credentials live in the kill rules' input: the stack
		 * is shared with the kill evaluation's frame */
		struct ng_kill_in in;
		const struct ng_creds *oldc = &in.old, *newc = &in.cur;
		struct ng_taskstate *ts;

		__builtin_memset(&in, 0, sizeof(in));
		in.old = st->old;
		ng_read_creds(t->cred, &in.cur);
		/* A successful call that changed nothing (a no-op setresuid, capset to
		 * the same sets) can match no transition: count it, don't ship it
		 * (checked first: it is the common case of a storm, and the header
		 * is not needed). setgroups is always shipped: the group list itself
		 * is not compared. */
		if (!ng_cfg.emit_noop_creds && ret >= 0 && op != NG_CRED_SETGROUPS &&
		    oldc->uid == newc->uid && oldc->euid == newc->euid && oldc->suid == newc->suid &&
		    oldc->fsuid == newc->fsuid && oldc->gid == newc->gid && oldc->egid == newc->egid &&
		    oldc->sgid == newc->sgid && oldc->fsgid == newc->fsgid &&
		    oldc->cap_eff == newc->cap_eff && oldc->cap_prm == newc->cap_prm &&
		    oldc->cap_inh == newc->cap_inh) {
			ng_count(NG_EV_CRED, 2);
			st->op = 0;
			return 0; /* nothing changed: the recorded state still holds */
		}
		if (!ng_task_in_scope(t)) {
			/* the syscall explains the change: record the new state */
			ng_count(NG_EV_CRED, 2);
			ng_state_record(t, tid);
			st->op = 0;
			return 0;
		}
		ts = bpf_map_lookup_elem(&ng_tasks, &tid);
		in.events = NG_KR_CRED;
		in.op = op;
		in.success = ret >= 0;
		in.hook = NG_EV_CRED;
		in.has_old = 1;
		in.exe_hash = ts ? ts->exe_hash : 0;
		/* the syscall explains the change: record the new state */
		ng_state_record(t, tid);
		/* the header is filled in the record itself: no copy on the stack,
		 * which the kill evaluation's frame shares */
		e = bpf_ringbuf_reserve(&ng_events, sizeof(*e), 0);
		if (!e) {
			ng_count(NG_EV_CRED, 1);
		} else if (ng_hdr_fill(&e->hdr, t, NG_EV_CRED)) {
			bpf_ringbuf_discard(e, 0);
		} else {
			e->hdr.size = sizeof(*e);
			e->old = in.old;
			e->cur = in.cur;
			e->op = op;
			e->_pad0 = 0;
			e->ret = ret;
			e->args[0] = st->args[0];
			e->args[1] = st->args[1];
			e->args[2] = st->args[2];
			bpf_ringbuf_submit(e, ng_rb_flags());
			ng_count(NG_EV_CRED, 0);
		}
		st->op = 0;
		/* after the report, so user space sees the change, then the kill */
		ng_kill_eval(&in);
	}
	return 0;
}

/*
 * A tracepoint program may not read past its event's record (the kernel
 * refuses the attach with EACCES), so each pair reads exactly the arguments
 * its syscall has.
 */
#define NG_ARGS1(c) (c)->args[0], 0, 0
#define NG_ARGS2(c) (c)->args[0], (c)->args[1], 0
#define NG_ARGS3(c) (c)->args[0], (c)->args[1], (c)->args[2]

#define NG_TP_PAIR(name, op, ARGS)                                \
	SEC("tracepoint/syscalls/sys_enter_" #name)               \
	int ng_enter_##name(struct ng_tp_enter *ctx)              \
	{                                                         \
		return stash_enter(op, ARGS(ctx));                \
	}                                                         \
	SEC("tracepoint/syscalls/sys_exit_" #name)                \
	int ng_exit_##name(struct ng_tp_exit *ctx)                \
	{                                                         \
		return report_exit(op, ctx->ret);                 \
	}

NG_TP_PAIR(setuid, NG_CRED_SETUID, NG_ARGS1)
NG_TP_PAIR(setgid, NG_CRED_SETGID, NG_ARGS1)
NG_TP_PAIR(setreuid, NG_CRED_SETREUID, NG_ARGS2)
NG_TP_PAIR(setregid, NG_CRED_SETREGID, NG_ARGS2)
NG_TP_PAIR(setresuid, NG_CRED_SETRESUID, NG_ARGS3)
NG_TP_PAIR(setresgid, NG_CRED_SETRESGID, NG_ARGS3)
NG_TP_PAIR(setfsuid, NG_CRED_SETFSUID, NG_ARGS1)
NG_TP_PAIR(setfsgid, NG_CRED_SETFSGID, NG_ARGS1)
NG_TP_PAIR(setgroups, NG_CRED_SETGROUPS, NG_ARGS2)
NG_TP_PAIR(capset, NG_CRED_CAPSET, NG_ARGS2)

/* pre-exec credentials for the exec sensor's "what did this exec change" */
SEC("tracepoint/syscalls/sys_enter_execve")
int ng_enter_execve(struct ng_tp_enter *ctx)
{
	return stash_enter(NG_STASH_EXEC, 0, 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int ng_enter_execveat(struct ng_tp_enter *ctx)
{
	return stash_enter(NG_STASH_EXEC, 0, 0, 0);
}

/* ---- fallback: raw syscall tracepoints with an in-kernel filter ---- */

#if defined(__TARGET_ARCH_x86)
#define NR_setuid 105
#define NR_setgid 106
#define NR_setreuid 113
#define NR_setregid 114
#define NR_setgroups 116
#define NR_setresuid 117
#define NR_setresgid 119
#define NR_setfsuid 122
#define NR_setfsgid 123
#define NR_capset 126
#define NR_execve 59
#define NR_execveat 322
#define NG_ARG0(r) BPF_CORE_READ(r, di)
#define NG_ARG1(r) BPF_CORE_READ(r, si)
#define NG_ARG2(r) BPF_CORE_READ(r, dx)
#elif defined(__TARGET_ARCH_arm64)
#define NR_setuid 146
#define NR_setgid 144
#define NR_setreuid 145
#define NR_setregid 143
#define NR_setgroups 159
#define NR_setresuid 147
#define NR_setresgid 149
#define NR_setfsuid 151
#define NR_setfsgid 152
#define NR_capset 91
#define NR_execve 221
#define NR_execveat 281
#define NG_ARG0(r) BPF_CORE_READ(r, regs[0])
#define NG_ARG1(r) BPF_CORE_READ(r, regs[1])
#define NG_ARG2(r) BPF_CORE_READ(r, regs[2])
#else
#error "nodeguard: syscall numbers for this architecture are not defined"
#endif

static __always_inline __u32 nr_to_op(long nr)
{
	switch (nr) {
	case NR_setuid: return NG_CRED_SETUID;
	case NR_setgid: return NG_CRED_SETGID;
	case NR_setreuid: return NG_CRED_SETREUID;
	case NR_setregid: return NG_CRED_SETREGID;
	case NR_setresuid: return NG_CRED_SETRESUID;
	case NR_setresgid: return NG_CRED_SETRESGID;
	case NR_setfsuid: return NG_CRED_SETFSUID;
	case NR_setfsgid: return NG_CRED_SETFSGID;
	case NR_setgroups: return NG_CRED_SETGROUPS;
	case NR_capset: return NG_CRED_CAPSET;
	case NR_execve:
	case NR_execveat: return NG_STASH_EXEC;
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ng_raw_enter, struct pt_regs *regs, long id)
{
	__u32 op = nr_to_op(id);

	if (!op)
		return 0;
	if (op == NG_STASH_EXEC)
		return stash_enter(op, 0, 0, 0);
	/* registers past the syscall's arity hold leftovers: report 0 there,
	 * as the per-syscall tracepoints do */
	switch (op) {
	case NG_CRED_SETUID:
	case NG_CRED_SETGID:
	case NG_CRED_SETFSUID:
	case NG_CRED_SETFSGID:
		return stash_enter(op, NG_ARG0(regs), 0, 0);
	case NG_CRED_SETREUID:
	case NG_CRED_SETREGID:
	case NG_CRED_SETGROUPS:
	case NG_CRED_CAPSET:
		return stash_enter(op, NG_ARG0(regs), NG_ARG1(regs), 0);
	}
	return stash_enter(op, NG_ARG0(regs), NG_ARG1(regs), NG_ARG2(regs));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ng_raw_exit, struct pt_regs *regs, long ret)
{
#if defined(__TARGET_ARCH_arm64)
	long id = BPF_CORE_READ(regs, syscallno);
#else
	long id = BPF_CORE_READ(regs, orig_ax);
#endif
	__u32 op;

	op = nr_to_op(id);
	if (!op || op == NG_STASH_EXEC)
		return 0;
	return report_exit(op, ret);
}
