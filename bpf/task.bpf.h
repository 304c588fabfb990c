/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Task and credential readers shared by every nodeguard BPF object, the
 * enforcer's included: capabilities, credentials, the pid namespace, and the
 * task's part of a record header. No maps and no configuration here, so an
 * object that must not allocate the sensors' maps can include it.
 */
#ifndef NODEGUARD_TASK_BPF_H
#define NODEGUARD_TASK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "nodeguard/event.h"
#include "nodeguard/credcheck.h"
#include "nodeguard/enforce.h"
#include "nodeguard/killmatch.h"

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
 * The task's part of a record header: when, who (ids, namespaces, cgroup,
 * comm). The caller decides the scope flags and the size, and passes the
 * namespaces it has already read (0 for none).
 */
static __always_inline void ng_hdr_task(struct ng_hdr *h, struct task_struct *t, __u16 kind,
					__u32 pidns, __u32 nspid, __u32 mntns)
{
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
}

#endif /* NODEGUARD_TASK_BPF_H */
