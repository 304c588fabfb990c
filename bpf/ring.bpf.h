/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The sensors' event ring buffer, the per-CPU counters, and the scoped record
 * header fill. Reads ng_cfg, which the including object defines first.
 *
 * Each object defines its own copy of the shared maps; the loader makes them
 * one by reusing the first object's map fds (bpf_map__reuse_fd) before load.
 */
#ifndef NODEGUARD_RING_BPF_H
#define NODEGUARD_RING_BPF_H

#include "task.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the loader */
} ng_events SEC(".maps");

/* Batch wake-ups: the agent drains on a short timer; wake it only when the
 * backlog crosses a watermark (once, not for every record above it).
 * ng_rb_flags_kind() (kill.bpf.h) adds the wake-ups the kill state asks for. */
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

	ng_hdr_task(h, t, kind, pidns, nspid, mntns);
	return 0;
}

static __always_inline int ng_hdr_fill(struct ng_hdr *h, struct task_struct *t, __u16 kind)
{
	return ng_hdr_fill_scoped(h, t, kind, 0);
}

/* a record of `size` bytes from the ring, starting with a copy of the filled
 * header h; NULL (and counted as dropped) when the ring is full */
static __always_inline void *ng_reserve_hdr(const struct ng_hdr *h, __u32 kind, __u32 size)
{
	struct ng_hdr *r = bpf_ringbuf_reserve(&ng_events, size, 0);

	if (!r) {
		ng_count(kind, 1);
		return NULL;
	}
	*r = *h;
	r->size = size;
	return r;
}

#endif /* NODEGUARD_RING_BPF_H */
