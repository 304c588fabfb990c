/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The "unexplained credential change" test, shared by the BPF sensors (which
 * run it at every hook a task passes through) and the unit tests (which feed
 * it synthetic sequences). Plain C, no helpers: it must compile for both.
 *
 * Each sensor hook compares the task's current state with the last state the
 * sensors recorded for it. Legitimate changes are recorded where they happen
 * (set*id/setgroups/capset exit, exec, fork), so any difference seen anywhere
 * else was made by something no syscall explains: the mark of a kernel exploit
 * (commit_creds(prepare_kernel_cred(0)), a cred overwrite) or of a container
 * escape that joins the host's namespaces.
 */
#ifndef NODEGUARD_CREDCHECK_H
#define NODEGUARD_CREDCHECK_H

#include "nodeguard/event.h"

/* Last recorded state of a task (ng_tasks map value) */
struct ng_taskstate {
	struct ng_creds c;
	__u32 mntns;
	__u32 netns;
	__u64 exe_hash;   /* FNV-1a 64 of the path the task last exec'ed (enforce.h) */
	__u32 flags;      /* NG_TS_* */
	__u32 _pad0;
};

/* ng_taskstate.flags */
#define NG_TS_SEEDED (1u << 0) /* recorded from /proc at agent start, not by a hook */

/* ng_anomaly.reasons */
#define NG_AN_EUID_ROOT   (1u << 0) /* euid became 0 */
#define NG_AN_FSUID_ROOT  (1u << 1) /* fsuid became 0 */
#define NG_AN_UID_ROOT    (1u << 2) /* real uid became 0 */
#define NG_AN_CAPS_GAINED (1u << 3) /* eff/prm capabilities grew in the initial user ns */
#define NG_AN_IDS_CHANGED (1u << 4) /* some uid/gid changed */
#define NG_AN_HOST_MNTNS  (1u << 5) /* entered the host's mount namespace */
#define NG_AN_HOST_NETNS  (1u << 6) /* entered the host's network namespace */
#define NG_AN_SEEDED      (1u << 7) /* the baseline came from /proc at agent start, so a
				       * syscall in flight then may explain it: reported,
				       * never killed for */

/* the escalation bits: what makes a change dangerous, not just odd */
#define NG_AN_ESCALATION (NG_AN_EUID_ROOT | NG_AN_FSUID_ROOT | NG_AN_UID_ROOT | NG_AN_CAPS_GAINED)
#define NG_AN_ESCAPE (NG_AN_HOST_MNTNS | NG_AN_HOST_NETNS)

static inline __u32 ng_credcheck(const struct ng_taskstate *old, const struct ng_taskstate *cur,
				 __u32 host_userns, __u32 host_mntns, __u32 host_netns)
{
	__u32 r = 0;
	__u64 was = old->c.cap_eff | old->c.cap_prm;
	__u64 now = cur->c.cap_eff | cur->c.cap_prm;

	if (old->c.euid != 0 && cur->c.euid == 0)
		r |= NG_AN_EUID_ROOT;
	if (old->c.fsuid != 0 && cur->c.fsuid == 0)
		r |= NG_AN_FSUID_ROOT;
	if (old->c.uid != 0 && cur->c.uid == 0)
		r |= NG_AN_UID_ROOT;
	/* capabilities only mean power over the host in the initial user ns */
	if ((now & ~was) && cur->c.userns == host_userns && host_userns)
		r |= NG_AN_CAPS_GAINED;
	if (old->c.uid != cur->c.uid || old->c.euid != cur->c.euid || old->c.suid != cur->c.suid ||
	    old->c.fsuid != cur->c.fsuid || old->c.gid != cur->c.gid || old->c.egid != cur->c.egid ||
	    old->c.sgid != cur->c.sgid || old->c.fsgid != cur->c.fsgid)
		r |= NG_AN_IDS_CHANGED;
	if (host_mntns && old->mntns && old->mntns != host_mntns && cur->mntns == host_mntns)
		r |= NG_AN_HOST_MNTNS;
	if (host_netns && old->netns && old->netns != host_netns && cur->netns == host_netns)
		r |= NG_AN_HOST_NETNS;
	return r;
}

#endif
