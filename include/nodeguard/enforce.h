/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Enforcement ABI: the maps user space compiles the policy and containment
 * state into, and the record the kernel sends back when it enforced.
 *
 * Kill rules are evaluated by the sensor programs at the hook where the
 * forbidden change happens (set*id/capset exit, exec, unexplained change),
 * so bpf_send_signal(SIGKILL) lands before the task returns to user space.
 * Deny and isolation live in bpf/enforce.bpf.c, whose maps and links are
 * pinned under /sys/fs/bpf/nodeguard and survive an agent restart.
 */
#ifndef NODEGUARD_ENFORCE_H
#define NODEGUARD_ENFORCE_H

#include "nodeguard/event.h"
#include "nodeguard/fnv.h" /* NG_FNV_*, the exec path hash of ng_kill_exe */

#define NG_KILL_RULES_MAX 32 /* one bit of a __u32 slot mask per rule */
#define NG_KILL_LIST_MAX 16  /* exact binaries (and allowed binaries) per rule */

/* ng_kill_rule.events (same bits as the policy's RE_*) */
#define NG_KR_EXEC        (1u << 0)
#define NG_KR_SETUID_EXEC (1u << 1)
#define NG_KR_CRED        (1u << 2)
#define NG_KR_ANOMALY     (1u << 4)
#define NG_KR_BITS 5

enum ng_sel { NG_SEL_ANY = 0, NG_SEL_ROOT = 1, NG_SEL_NONROOT = 2 };
enum ng_ktri { NG_KT_ANY = 0, NG_KT_TRUE = 1, NG_KT_FALSE = 2 };

/*
 * Kill rules, compiled by user space into per-predicate slot masks (see
 * nodeguard/killmatch.h): for every key a rule can have and every value the
 * kernel can observe for it, the set of rule slots that accept that value.
 * The kernel ANDs a handful of masks and takes the lowest set bit: the cost of
 * an evaluation, and of verifying it, does not depend on the rules.
 *
 * ng_kill_rules[slot] holds what is needed once a slot has matched.
 */
struct ng_kill_rule {
	__u32 rule_id;      /* policy rule id; 0 marks an empty slot */
	__u32 dry_run;      /* 1: report "would kill", do nothing */
	__u32 rate_per_min; /* kills per minute for this rule, 0 unlimited */
	__u32 _pad0;
};
_Static_assert(sizeof(struct ng_kill_rule) == 16, "ng_kill_rule ABI");

#define NG_KM_OPS 16       /* enum ng_cred_op values fit below this */
#define NG_KM_ANOMALY 8    /* NG_AN_* bits (nodeguard/credcheck.h) */
#define NG_KM_CAPS 64      /* capability numbers */

/* ng_kill_masks[0]; every field a __u32 mask of rule slots. "[v]" arrays are
 * indexed by the observed value: [0] false / not root, [1] true / root. */
struct ng_kill_masks {
	__u32 live;                   /* slots that hold a rule */
	__u32 event[NG_KR_BITS];      /* slots whose events include NG_KR bit i */
	__u32 scope[2];               /* [0] host task, [1] container task */
	__u32 op[NG_KM_OPS];          /* [op]: slots accepting this cred op (0: no op) */
	__u32 anomaly_any;            /* slots without an anomaly-reason key */
	__u32 anomaly[NG_KM_ANOMALY]; /* slots whose reasons include NG_AN bit i */
	__u32 uid[2];                 /* [cur uid is 0] (uid key) */
	__u32 uid_to[2];              /* [cur uid is 0] */
	__u32 euid_to[2];             /* [cur euid is 0] */
	__u32 fsuid_to[2];            /* [cur fsuid is 0] */
	__u32 needs_old;              /* slots with a key on the old credentials */
	__u32 uid_from[2];            /* [old uid is 0] */
	__u32 euid_from[2];           /* [old euid is 0] */
	__u32 gains_root[2];          /* [some id went from non-root to root] */
	__u32 caps_any;               /* slots without a caps_gained key */
	__u32 caps[NG_KM_CAPS];       /* slots whose caps_gained include cap i */
	__u32 success[2];             /* [call succeeded]; cred-change events only */
	__u32 needs_binary;           /* slots that require a listed binary */
	__u32 _pad0;
};
_Static_assert(sizeof(struct ng_kill_masks) ==
		       4 * (1 + NG_KR_BITS + 2 + NG_KM_OPS + 1 + NG_KM_ANOMALY + 8 + 1 + 6 + 1 +
			    NG_KM_CAPS + 2 + 2),
	       "ng_kill_masks ABI");

/* ng_kill_exe: key FNV-1a 64 of an exact exec path (NG_FNV_*) */
struct ng_kill_exe {
	__u32 binary;       /* slots whose binary list holds this path */
	__u32 allow;        /* slots that exempt this path */
};
_Static_assert(sizeof(struct ng_kill_exe) == 8, "ng_kill_exe ABI");

struct ng_kill_rate {
	__u64 window_start_ns;
	__u32 count;
	__u32 _pad0;
};

/* ng_enforce.action */
enum ng_enf_action { NG_ENF_KILL = 1, NG_ENF_DENY = 2, NG_ENF_ISOLATE = 3 };
/* ng_enforce.flags */
#define NG_ENF_DRY_RUN    (1u << 0)
#define NG_ENF_SUPPRESSED (1u << 1) /* rate limit reached: not enforced */
#define NG_ENF_FAILED     (1u << 2) /* the helper returned an error (err) */
#define NG_ENF_PROTECTED  (1u << 3) /* target protected: not enforced */

/* NG_EV_ENFORCE record: the kernel enforced (or would have) */
struct ng_enforce {
	struct ng_hdr hdr;
	__u32 action;       /* enum ng_enf_action */
	__u32 rule_id;      /* 0 for isolation */
	__u32 hook;         /* enum ng_kind where it happened */
	__u32 flags;        /* NG_ENF_* */
	__s32 err;
	__u16 family, protocol;
	__u16 dport, _pad0;
	__u32 _pad1;
	__u64 target_cgroup;/* the isolated/denied cgroup (ancestor that matched) */
	__u8 daddr[16];
};
_Static_assert(sizeof(struct ng_enforce) == 88 + 32 + 8 + 16, "ng_enforce ABI");

/* LPM keys: the first 64 bits are the cgroup id (0 = node-wide), exact;
 * then the address. prefixlen = 64 + CIDR prefix. */
struct ng_lpm4_key {
	__u32 prefixlen;
	__u8 cg[8];
	__u8 addr[4];
};
struct ng_lpm6_key {
	__u32 prefixlen;
	__u8 cg[8];
	__u8 addr[16];
};

/* deny-table cgroup key meaning "every container" (tasks outside the host's
 * pid or mount namespace whose cgroups are not in ng_enf_exempt): applies from
 * a container's first connect, before user space has seen the container */
#define NG_CG_ANY_CONTAINER 0xffffffffffffffffULL

struct ng_enf_host {
	__u32 pidns;
	__u32 mntns;
};

#define NG_DENY_PORTS_MAX 8
struct ng_deny_val {
	__u32 rule_id;
	__u16 protocol;     /* 0 any, 6 tcp, 17 udp */
	__u16 nports;       /* 0: every port */
	__u16 lo[NG_DENY_PORTS_MAX];
	__u16 hi[NG_DENY_PORTS_MAX];
};

struct ng_isolation {
	__u64 since_ns;
	__u32 rule_id;
	__u32 flags;
	__u64 dropped_packets;  /* cgroup_skb drops (atomic adds) */
	__u64 denied_connects;  /* connect/sendmsg refused */
};

/* flags that let the hot path skip work when nothing is configured */
struct ng_enf_state {
	__u32 n_isolated; /* non-zero (1) while ng_isolated has an entry */
	__u32 n_deny;     /* non-zero (1) while ng_deny4 or ng_deny6 has one */
	__u32 n_kill;     /* rule slots in use; 0 skips the evaluation */
	__u32 wake_kinds; /* 1 << enum ng_kind: wake the agent at once for these
			   * (a rule on them acts from user space), instead of
			   * letting records batch until the next drain */
};

#endif
