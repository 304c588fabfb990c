// SPDX-License-Identifier: Apache-2.0
/*
 * The unexplained credential/namespace change test (nodeguard/credcheck.h),
 * fed synthetic sequences of task states.
 *
 * A small simulator replays what the BPF sensors do with the ng_tasks map,
 * with the same record/compare discipline as bpf/state.bpf.h and its call
 * sites:
 *
 *   ng_task_check (compare, report, then record what was reported):
 *     - set*id/setgroups/capset and execve entry (creds.bpf.c stash_enter),
 *       which then stashes the old creds if the task is in scope
 *     - sched_process_fork, for the parent (process.bpf.c)
 *     - sched_process_exit (process.bpf.c), which then forgets the task
 *     - cgroup connect4/6 and sendmsg4/6 (net.bpf.c)
 *     A task without a record is recorded there (if in scope), never flagged;
 *     a comparison that finds nothing leaves the record as it was.
 *   ng_state_record (a legitimate new state):
 *     - set*id/... exit with a stash of the same op (creds.bpf.c report_exit)
 *     - sched_process_exec, if the task has a record or is in scope
 *     - sched_process_fork, for the child, if the parent has a record
 *
 * Each scenario is a list of steps (hook, task, the state the task has when
 * the hook runs or, for a syscall or an exec, the state it leaves behind) and
 * the exact reasons the step must raise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nodeguard/credcheck.h"
#include "nodeguard/event.h"

/* namespace inodes as a node shows them */
#define HOST_USERNS 4026531837u
#define HOST_PIDNS  4026531836u
#define HOST_MNTNS  4026531841u
#define HOST_NETNS  4026531840u
#define CTR_PIDNS   4026532301u
#define CTR_MNTNS   4026532299u
#define CTR_NETNS   4026532303u
#define NEW_USERNS  4026532410u
#define NEW_MNTNS   4026532411u
#define NEW_NETNS   4026532413u

#define CAP(n) (1ull << (n))
#define CAP_CHOWN 0
#define CAP_NET_BIND_SERVICE 10
#define CAP_SETUID 7
#define CAP_SETGID 6
#define CAP_NET_RAW 13
#define CAP_SYS_ADMIN 21
#define CAP_SYS_PTRACE 19
/* a container's default set (containerd/Docker), abbreviated to what matters */
#define CTR_CAPS (CAP(CAP_CHOWN) | CAP(CAP_SETGID) | CAP(CAP_SETUID) | CAP(CAP_NET_BIND_SERVICE) | \
		  CAP(CAP_NET_RAW))
#define ALL_CAPS ((1ull << 41) - 1)

/* ------------------------------------------------------------------ the simulator */

#define SIM_TASKS 8
#define SIM_MAX_AN 32
#define STASH_EXEC 100 /* NG_STASH_EXEC */

struct sim_task {
	struct ng_taskstate k; /* what the kernel has now (exe_hash unused) */
	uint32_t pidns;
};

struct sim_anomaly {
	int tid;
	uint32_t hook, reasons;
	struct ng_taskstate old, cur;
};

struct sim {
	uint32_t host_userns, host_pidns, host_mntns, host_netns;
	bool trace_host;
	struct sim_task t[SIM_TASKS];
	struct ng_taskstate rec[SIM_TASKS]; /* ng_tasks */
	bool has_rec[SIM_TASKS];
	uint32_t stash_op[SIM_TASKS];       /* ng_stash; 0 = none */
	struct sim_anomaly an[SIM_MAX_AN];  /* what ng_anomaly_emit sent */
	size_t nan;
};

static void sim_init(struct sim *s)
{
	memset(s, 0, sizeof(*s));
	s->host_userns = HOST_USERNS;
	s->host_pidns = HOST_PIDNS;
	s->host_mntns = HOST_MNTNS;
	s->host_netns = HOST_NETNS;
}

/* ng_task_in_scope */
static bool sim_in_scope(const struct sim *s, int tid)
{
	const struct sim_task *t = &s->t[tid];

	if (s->trace_host)
		return true;
	return (t->pidns && t->pidns != s->host_pidns) || (t->k.mntns && t->k.mntns != s->host_mntns);
}

/* ng_state_record_exe */
static void sim_record(struct sim *s, int tid, uint64_t exe_hash, bool set_exe)
{
	struct ng_taskstate st = s->t[tid].k;

	st.exe_hash = set_exe ? exe_hash : s->has_rec[tid] ? s->rec[tid].exe_hash : 0;
	s->rec[tid] = st;
	s->has_rec[tid] = true;
}

/* ng_task_check */
static uint32_t sim_check(struct sim *s, int tid, uint32_t hook)
{
	struct ng_taskstate cur;
	uint32_t reasons;

	if (!s->has_rec[tid]) {
		if (sim_in_scope(s, tid))
			sim_record(s, tid, 0, false);
		return 0;
	}
	cur = s->t[tid].k;
	cur.exe_hash = s->rec[tid].exe_hash;
	reasons = ng_credcheck(&s->rec[tid], &cur, s->host_userns, s->host_mntns, s->host_netns);
	if (reasons) {
		assert_true(s->nan < SIM_MAX_AN);
		s->an[s->nan++] = (struct sim_anomaly){ .tid = tid, .hook = hook, .reasons = reasons,
							.old = s->rec[tid], .cur = cur };
		s->rec[tid] = cur;
	}
	return reasons;
}

/* creds.bpf.c stash_enter */
static uint32_t sim_enter(struct sim *s, int tid, uint32_t op)
{
	uint32_t r = sim_check(s, tid, op == STASH_EXEC ? NG_EV_EXEC : NG_EV_CRED);

	if (sim_in_scope(s, tid))
		s->stash_op[tid] = op;
	return r;
}

/* creds.bpf.c report_exit */
static void sim_exit_syscall(struct sim *s, int tid, uint32_t op)
{
	if (!s->stash_op[tid])
		return;
	if (s->stash_op[tid] != op) {
		s->stash_op[tid] = 0;
		return;
	}
	sim_record(s, tid, 0, false);
	s->stash_op[tid] = 0;
}

enum sim_hook {
	H_NONE,    /* the state changes with no hook on the way (exploit, setns, unshare) */
	H_SYSCALL, /* a traced set*id/setgroups/capset: enter, change, exit */
	H_EXEC,    /* execve: enter, change (setuid bit, file caps), sched_process_exec */
	H_FORK,    /* the task forks `arg`: the child starts with a copy of its state */
	H_CONNECT,
	H_SENDMSG,
	H_EXIT,
	H_FORGET,  /* ng_tasks (LRU) evicts the task's record */
	H_SPAWN,   /* test setup: the task exists with this state, nothing recorded */
};

struct step {
	enum sim_hook hook;
	int tid;
	struct ng_taskstate st; /* the new state (ignored by H_FORK, H_FORGET) */
	uint32_t arg;           /* H_SYSCALL: enum ng_cred_op; H_FORK: child tid; H_EXEC: exe hash */
	uint32_t expect;        /* the reasons this step must raise */
};

static uint32_t sim_step(struct sim *s, const struct step *st)
{
	struct sim_task *t = &s->t[st->tid];
	uint32_t r = 0;

	switch (st->hook) {
	case H_SPAWN:
		t->k = st->st;
		t->pidns = st->arg ? st->arg : CTR_PIDNS;
		break;
	case H_NONE:
		t->k = st->st;
		break;
	case H_SYSCALL:
		r = sim_enter(s, st->tid, st->arg);
		t->k = st->st;
		sim_exit_syscall(s, st->tid, st->arg);
		break;
	case H_EXEC:
		r = sim_enter(s, st->tid, STASH_EXEC);
		t->k = st->st;
		/* process.bpf.c ng_exec: record the exec's own change */
		if (s->has_rec[st->tid] || sim_in_scope(s, st->tid))
			sim_record(s, st->tid, st->arg, true);
		if (sim_in_scope(s, st->tid))
			s->stash_op[st->tid] = 0;
		break;
	case H_FORK:
		t->k = st->st;
		r = sim_check(s, st->tid, NG_EV_FORK);
		s->t[st->arg].k = t->k;
		s->t[st->arg].pidns = t->pidns;
		s->has_rec[st->arg] = false;
		s->stash_op[st->arg] = 0;
		if (s->has_rec[st->tid])
			sim_record(s, (int)st->arg, 0, false);
		break;
	case H_CONNECT:
	case H_SENDMSG:
		t->k = st->st;
		r = sim_check(s, st->tid, st->hook == H_CONNECT ? NG_EV_CONNECT : NG_EV_SENDMSG);
		break;
	case H_EXIT:
		t->k = st->st;
		r = sim_check(s, st->tid, NG_EV_EXIT);
		s->has_rec[st->tid] = false;
		break;
	case H_FORGET:
		s->has_rec[st->tid] = false;
		break;
	}
	return r;
}

static const char *const hook_names[] = { "none", "syscall", "exec", "fork", "connect",
					  "sendmsg", "exit", "forget", "spawn" };

static void run_(struct sim *s, const struct step *steps, size_t n, const char *file, int line)
{
	size_t i, emitted = s->nan, want = 0;

	for (i = 0; i < n; i++) {
		uint32_t r = sim_step(s, &steps[i]);

		if (r != steps[i].expect)
			fail_msg("%s:%d: step %zu (%s, task %d) raised %#x, expected %#x", file, line,
				 i, hook_names[steps[i].hook], steps[i].tid, r, steps[i].expect);
		want += steps[i].expect != 0;
	}
	/* one anomaly record per step that raised something, and no other */
	assert_int_equal(s->nan - emitted, want);
}

#define RUN(s, ...)                                                                          \
	do {                                                                                 \
		const struct step st_[] = { __VA_ARGS__ };                                   \
		run_((s), st_, sizeof(st_) / sizeof(st_[0]), __FILE__, __LINE__);            \
	} while (0)

/* ------------------------------------------------------------------ states */

static struct ng_taskstate ctr_state(uint32_t uid, uint64_t caps)
{
	struct ng_taskstate s = { 0 };

	s.c.uid = s.c.euid = s.c.suid = s.c.fsuid = uid;
	s.c.gid = s.c.egid = s.c.sgid = s.c.fsgid = uid;
	s.c.cap_eff = s.c.cap_prm = caps;
	s.c.userns = HOST_USERNS; /* containers without user namespaces */
	s.mntns = CTR_MNTNS;
	s.netns = CTR_NETNS;
	return s;
}

static struct ng_taskstate with_uids(struct ng_taskstate s, uint32_t uid, uint32_t euid, uint32_t suid,
				     uint32_t fsuid)
{
	s.c.uid = uid;
	s.c.euid = euid;
	s.c.suid = suid;
	s.c.fsuid = fsuid;
	return s;
}

static struct ng_taskstate with_gids(struct ng_taskstate s, uint32_t gid)
{
	s.c.gid = s.c.egid = s.c.sgid = s.c.fsgid = gid;
	return s;
}

static struct ng_taskstate with_caps(struct ng_taskstate s, uint64_t eff, uint64_t prm)
{
	s.c.cap_eff = eff;
	s.c.cap_prm = prm;
	return s;
}

static struct ng_taskstate with_ns(struct ng_taskstate s, uint32_t mnt, uint32_t net)
{
	s.mntns = mnt;
	s.netns = net;
	return s;
}

/* ------------------------------------------------------------------ tests */

static void test_masks(void **state)
{
	static const uint32_t bits[] = { NG_AN_EUID_ROOT, NG_AN_FSUID_ROOT, NG_AN_UID_ROOT,
					 NG_AN_CAPS_GAINED, NG_AN_IDS_CHANGED, NG_AN_HOST_MNTNS,
					 NG_AN_HOST_NETNS };
	uint32_t all = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		assert_int_equal(bits[i], 1u << i); /* the ABI: bit i, in this order */
		assert_int_equal(all & bits[i], 0);
		all |= bits[i];
	}
	assert_int_equal(NG_AN_ESCALATION, 0x0f);
	assert_int_equal(NG_AN_ESCALATION,
			 NG_AN_EUID_ROOT | NG_AN_FSUID_ROOT | NG_AN_UID_ROOT | NG_AN_CAPS_GAINED);
	assert_int_equal(NG_AN_ESCAPE, 0x60);
	assert_int_equal(NG_AN_ESCAPE, NG_AN_HOST_MNTNS | NG_AN_HOST_NETNS);
	assert_int_equal(NG_AN_ESCALATION & NG_AN_ESCAPE, 0);
	/* a change of ids alone is odd, not dangerous: in neither mask */
	assert_int_equal(NG_AN_IDS_CHANGED & (NG_AN_ESCALATION | NG_AN_ESCAPE), 0);
	assert_int_equal(all, NG_AN_ESCALATION | NG_AN_ESCAPE | NG_AN_IDS_CHANGED);
}

/* ng_credcheck on its own: each reason from exactly the change it names */
static void test_credcheck_direct(void **state)
{
	const struct ng_taskstate u = ctr_state(1000, 0), r = ctr_state(0, CTR_CAPS);
	struct ng_taskstate c;

#define CHK(old, cur) ng_credcheck(&(old), &(cur), HOST_USERNS, HOST_MNTNS, HOST_NETNS)
	(void)state;
	assert_int_equal(CHK(u, u), 0);
	assert_int_equal(CHK(r, r), 0);
	c = with_uids(u, 1000, 0, 1000, 1000);
	assert_int_equal(CHK(u, c), NG_AN_EUID_ROOT | NG_AN_IDS_CHANGED);
	c = with_uids(u, 1000, 1000, 1000, 0);
	assert_int_equal(CHK(u, c), NG_AN_FSUID_ROOT | NG_AN_IDS_CHANGED);
	c = with_uids(u, 0, 1000, 1000, 1000);
	assert_int_equal(CHK(u, c), NG_AN_UID_ROOT | NG_AN_IDS_CHANGED);
	/* the saved uid becoming 0 is a change, not a root reason of its own */
	c = with_uids(u, 1000, 1000, 0, 1000);
	assert_int_equal(CHK(u, c), NG_AN_IDS_CHANGED);
	/* each gid */
	c = u;
	c.c.gid = 0;
	assert_int_equal(CHK(u, c), NG_AN_IDS_CHANGED);
	c = u;
	c.c.egid = 5;
	assert_int_equal(CHK(u, c), NG_AN_IDS_CHANGED);
	c = u;
	c.c.sgid = 5;
	assert_int_equal(CHK(u, c), NG_AN_IDS_CHANGED);
	c = u;
	c.c.fsgid = 5;
	assert_int_equal(CHK(u, c), NG_AN_IDS_CHANGED);
	/* groups, inheritable caps: not part of the test */
	c = u;
	c.c.ngroups = 7;
	c.c.cap_inh = ALL_CAPS;
	assert_int_equal(CHK(u, c), 0);
	/* capabilities: growth of eff or prm, not a reshuffle within what was held */
	c = with_caps(r, CTR_CAPS | CAP(CAP_SYS_ADMIN), CTR_CAPS);
	assert_int_equal(CHK(r, c), NG_AN_CAPS_GAINED);
	c = with_caps(r, CTR_CAPS, CTR_CAPS | CAP(CAP_SYS_ADMIN));
	assert_int_equal(CHK(r, c), NG_AN_CAPS_GAINED);
	c = with_caps(r, 0, CTR_CAPS); /* eff dropped */
	assert_int_equal(CHK(r, c), 0);
	c = with_caps(u, CAP(CAP_NET_RAW), 0); /* eff grew, from an empty prm */
	assert_int_equal(CHK(u, c), NG_AN_CAPS_GAINED);
	/* moving a held capability from prm into eff only: (eff|prm) did not grow */
	c = with_caps(r, 0, CAP(CAP_SYS_ADMIN));
	{
		struct ng_taskstate c2 = with_caps(r, CAP(CAP_SYS_ADMIN), CAP(CAP_SYS_ADMIN));

		assert_int_equal(CHK(c, c2), 0);
	}
	/* root to root with everything at once */
	c = with_ns(with_caps(r, ALL_CAPS, ALL_CAPS), HOST_MNTNS, HOST_NETNS);
	assert_int_equal(CHK(r, c), NG_AN_CAPS_GAINED | NG_AN_HOST_MNTNS | NG_AN_HOST_NETNS);
	c = with_ns(with_caps(with_uids(u, 0, 0, 0, 0), ALL_CAPS, ALL_CAPS), HOST_MNTNS, HOST_NETNS);
	assert_int_equal(CHK(u, c), NG_AN_ESCALATION | NG_AN_ESCAPE | NG_AN_IDS_CHANGED);
#undef CHK
}

/* setuid(0) through the syscall is explained; the same change seen at a
 * connect is not */
static void test_setuid_syscall_vs_connect(void **state)
{
	const struct ng_taskstate shell = ctr_state(1000, 0);
	/* an app with file capability cap_setuid+ep */
	const struct ng_taskstate app = with_caps(shell, CAP(CAP_SETUID), CAP(CAP_SETUID));
	const struct ng_taskstate root = with_uids(app, 0, 0, 0, 0);
	struct sim s;

	(void)state;
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 0, shell, 0, 0 },
	    { H_FORK, 0, shell, 1, 0 },   /* the shell forks: records it and the child */
	    { H_EXEC, 1, app, 0xa99, 0 }, /* the file caps come with the exec */
	    { H_SYSCALL, 1, root, NG_CRED_SETUID, 0 },
	    { H_CONNECT, 1, root, 0, 0 },
	    { H_SENDMSG, 1, root, 0, 0 },
	    { H_EXIT, 1, root, 0, 0 });
	assert_int_equal(s.nan, 0);
	assert_false(s.has_rec[1]);

	/* the same change with no syscall: caught at the connect, once */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 0, shell, 0, 0 },
	    { H_FORK, 0, shell, 1, 0 },
	    { H_EXEC, 1, app, 0xa99, 0 },
	    { H_CONNECT, 1, root, 0,
	      NG_AN_EUID_ROOT | NG_AN_FSUID_ROOT | NG_AN_UID_ROOT | NG_AN_IDS_CHANGED },
	    { H_CONNECT, 1, root, 0, 0 },
	    { H_EXIT, 1, root, 0, 0 });
	assert_int_equal(s.nan, 1);
	assert_int_equal(s.an[0].tid, 1);
	assert_int_equal(s.an[0].hook, NG_EV_CONNECT);
	assert_memory_equal(&s.an[0].old.c, &app.c, sizeof(app.c));
	assert_memory_equal(&s.an[0].cur.c, &root.c, sizeof(root.c));
	assert_int_equal(s.an[0].old.exe_hash, 0xa99);
	assert_int_equal(s.an[0].cur.exe_hash, 0xa99);

	/* with fsuid already 0 through a traced setfsuid(0): uid and euid only */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, app, 0, 0 },
	    { H_CONNECT, 1, app, 0, 0 }, /* first sight: recorded, not judged */
	    { H_SYSCALL, 1, with_uids(app, 1000, 1000, 1000, 0), NG_CRED_SETFSUID, 0 },
	    { H_CONNECT, 1, with_uids(app, 0, 0, 1000, 0), 0,
	      NG_AN_EUID_ROOT | NG_AN_UID_ROOT | NG_AN_IDS_CHANGED });
	assert_int_equal(s.an[0].reasons & NG_AN_ESCALATION, NG_AN_EUID_ROOT | NG_AN_UID_ROOT);

	/* a silent change right before a syscall is caught at the syscall's entry,
	 * and the syscall's own change after it is explained */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, shell, 0, 0 },
	    { H_CONNECT, 1, shell, 0, 0 },
	    { H_NONE, 1, with_uids(shell, 1000, 0, 1000, 0), 0, 0 },
	    { H_SYSCALL, 1, root, NG_CRED_SETUID, NG_AN_EUID_ROOT | NG_AN_FSUID_ROOT | NG_AN_IDS_CHANGED },
	    { H_CONNECT, 1, root, 0, 0 });
	assert_int_equal(s.an[0].hook, NG_EV_CRED);

	/* a failed setuid(0) changes nothing and raises nothing */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, shell, 0, 0 },
	    { H_CONNECT, 1, shell, 0, 0 },
	    { H_SYSCALL, 1, shell, NG_CRED_SETUID, 0 },
	    { H_CONNECT, 1, shell, 0, 0 });
	assert_memory_equal(&s.rec[1].c, &shell.c, sizeof(shell.c));
}

static void test_fsuid_only(void **state)
{
	const struct ng_taskstate u = with_caps(ctr_state(1000, 0), CAP(CAP_SETUID), CAP(CAP_SETUID));
	const struct ng_taskstate fs0 = with_uids(u, 1000, 1000, 1000, 0);
	struct sim s;

	(void)state;
	/* setfsuid(0): explained */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, u, 0, 0 },
	    { H_SENDMSG, 1, u, 0, 0 },
	    { H_SYSCALL, 1, fs0, NG_CRED_SETFSUID, 0 },
	    { H_SENDMSG, 1, fs0, 0, 0 },
	    { H_SYSCALL, 1, u, NG_CRED_SETFSUID, 0 },
	    { H_EXIT, 1, u, 0, 0 });
	/* a silent fsuid 0: file access as root, nothing else changed */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, u, 0, 0 },
	    { H_SENDMSG, 1, u, 0, 0 },
	    { H_SENDMSG, 1, fs0, 0, NG_AN_FSUID_ROOT | NG_AN_IDS_CHANGED },
	    /* and back: a change, not an escalation */
	    { H_EXIT, 1, u, 0, NG_AN_IDS_CHANGED });
	assert_int_equal(s.an[0].hook, NG_EV_SENDMSG);
	assert_int_equal(s.an[0].reasons & NG_AN_ESCALATION, NG_AN_FSUID_ROOT);
	assert_int_equal(s.an[1].hook, NG_EV_EXIT);
	assert_int_equal(s.an[1].reasons & NG_AN_ESCALATION, 0);
	assert_false(s.has_rec[1]);
}

static void test_caps_user_namespaces(void **state)
{
	const struct ng_taskstate r = ctr_state(0, CTR_CAPS);
	const struct ng_taskstate admin = with_caps(r, CTR_CAPS | CAP(CAP_SYS_ADMIN), CTR_CAPS | CAP(CAP_SYS_ADMIN));
	struct ng_taskstate inns = with_caps(ctr_state(1000, 0), ALL_CAPS, ALL_CAPS);
	struct ng_taskstate unknown_userns = with_caps(admin, ALL_CAPS, ALL_CAPS);
	struct sim s;

	(void)state;
	unknown_userns.c.userns = 0;
	/* capset within what was permitted: explained */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, with_caps(r, 0, CTR_CAPS), 0, 0 },
	    { H_CONNECT, 1, with_caps(r, 0, CTR_CAPS), 0, 0 },
	    { H_SYSCALL, 1, r, NG_CRED_CAPSET, 0 },
	    { H_CONNECT, 1, r, 0, 0 });
	/* CAP_SYS_ADMIN appearing in the initial user ns with no syscall */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, r, 0, 0 },
	    { H_CONNECT, 1, r, 0, 0 },
	    { H_CONNECT, 1, admin, 0, NG_AN_CAPS_GAINED },
	    { H_CONNECT, 1, admin, 0, 0 });
	assert_int_equal(s.an[0].reasons & NG_AN_ESCALATION, NG_AN_CAPS_GAINED);

	/* unshare(CLONE_NEWUSER): a full set, but over the new namespace only */
	inns.c.userns = NEW_USERNS;
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, ctr_state(1000, 0), 0, 0 },
	    { H_CONNECT, 1, ctr_state(1000, 0), 0, 0 },
	    { H_NONE, 1, inns, 0, 0 },
	    { H_CONNECT, 1, inns, 0, 0 },
	    { H_FORK, 1, inns, 2, 0 },
	    { H_CONNECT, 2, inns, 0, 0 });
	/* nothing was reported, so the record still holds the state before */
	assert_int_equal(s.rec[1].c.userns, HOST_USERNS);
	assert_int_equal(s.rec[1].c.cap_eff, 0);
	/* the forked child was recorded as it is (inside the new user ns) */
	assert_int_equal(s.rec[2].c.userns, NEW_USERNS);

	/* no host user ns known: capability growth cannot be judged, not even
	 * for a task whose user ns could not be read either (0 == 0) */
	sim_init(&s);
	s.host_userns = 0;
	RUN(&s,
	    { H_SPAWN, 1, r, 0, 0 },
	    { H_CONNECT, 1, r, 0, 0 },
	    { H_CONNECT, 1, admin, 0, 0 },
	    { H_CONNECT, 1, with_caps(admin, ALL_CAPS, ALL_CAPS), 0, 0 },
	    { H_NONE, 1, r, 0, 0 },
	    { H_CONNECT, 1, unknown_userns, 0, 0 },
	    /* ids are still judged */
	    { H_CONNECT, 1, with_uids(admin, 0, 0, 0, 1), 0, NG_AN_IDS_CHANGED });
}

static void test_privilege_drop(void **state)
{
	const struct ng_taskstate r = ctr_state(0, CTR_CAPS);
	const struct ng_taskstate g = with_gids(r, 999);
	const struct ng_taskstate u = with_caps(with_uids(g, 999, 999, 999, 999), 0, 0);
	struct sim s;

	(void)state;
	/* gosu: setgroups, setgid, setuid, exec */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, r, 0, 0 },
	    { H_EXEC, 1, r, 0x905, 0 },
	    { H_SYSCALL, 1, r, NG_CRED_SETGROUPS, 0 },
	    { H_SYSCALL, 1, g, NG_CRED_SETGID, 0 },
	    { H_SYSCALL, 1, u, NG_CRED_SETUID, 0 },
	    { H_EXEC, 1, u, 0x9057, 0 },
	    { H_CONNECT, 1, u, 0, 0 });
	assert_int_equal(s.rec[1].exe_hash, 0x9057);
	/* the same drop with no syscall: odd, not an escalation */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, r, 0, 0 },
	    { H_CONNECT, 1, r, 0, 0 },
	    { H_CONNECT, 1, u, 0, NG_AN_IDS_CHANGED });
	assert_int_equal(s.an[0].reasons & (NG_AN_ESCALATION | NG_AN_ESCAPE), 0);
	/* a gid change alone */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, r, 0, 0 },
	    { H_CONNECT, 1, r, 0, 0 },
	    { H_CONNECT, 1, g, 0, NG_AN_IDS_CHANGED });
}

static void test_exec_hook(void **state)
{
	const struct ng_taskstate u = ctr_state(1000, 0);
	const struct ng_taskstate sudo = with_caps(with_uids(u, 1000, 0, 0, 0), CTR_CAPS, CTR_CAPS);
	struct sim s;

	(void)state;
	/* a setuid-root exec changes ids and caps: the exec explains it */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, u, 0, 0 },
	    { H_EXEC, 1, u, 0x5a, 0 },
	    { H_EXEC, 1, sudo, 0x5d, 0 },
	    { H_SYSCALL, 1, with_uids(sudo, 0, 0, 0, 0), NG_CRED_SETRESUID, 0 },
	    { H_CONNECT, 1, with_uids(sudo, 0, 0, 0, 0), 0, 0 });
	assert_int_equal(s.rec[1].exe_hash, 0x5d);
	/* a silent change right before an exec: caught at execve entry, and the
	 * exec's record keeps the hash of the new program */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, u, 0, 0 },
	    { H_EXEC, 1, u, 0x5a, 0 },
	    { H_NONE, 1, with_uids(u, 1000, 0, 1000, 1000), 0, 0 },
	    { H_EXEC, 1, with_uids(u, 1000, 0, 1000, 1000), 0x5b, NG_AN_EUID_ROOT | NG_AN_IDS_CHANGED },
	    { H_CONNECT, 1, with_uids(u, 1000, 0, 1000, 1000), 0, 0 });
	assert_int_equal(s.an[0].hook, NG_EV_EXEC);
	assert_int_equal(s.an[0].old.exe_hash, 0x5a);
	assert_int_equal(s.rec[1].exe_hash, 0x5b);
}

static void test_fork_and_exit(void **state)
{
	const struct ng_taskstate u = ctr_state(1000, 0);
	const struct ng_taskstate esc = with_caps(with_uids(u, 0, 0, 0, 0), ALL_CAPS, ALL_CAPS);
	struct sim s;

	(void)state;
	/* the parent's silent change is caught at its fork; the child starts
	 * from the changed state and has nothing to report */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, u, 0, 0 },
	    { H_CONNECT, 1, u, 0, 0 },
	    { H_FORK, 1, esc, 2, NG_AN_ESCALATION | NG_AN_IDS_CHANGED },
	    { H_CONNECT, 2, esc, 0, 0 },
	    { H_EXIT, 2, esc, 0, 0 },
	    { H_EXIT, 1, esc, 0, 0 });
	assert_int_equal(s.an[0].hook, NG_EV_FORK);
	assert_int_equal(s.an[0].tid, 1);
	/* a child's change is the child's */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, u, 0, 0 },
	    { H_FORK, 1, u, 2, 0 },
	    { H_CONNECT, 2, esc, 0, NG_AN_ESCALATION | NG_AN_IDS_CHANGED },
	    { H_CONNECT, 1, u, 0, 0 });
	assert_int_equal(s.an[0].tid, 2);
	/* caught at exit; the record goes with the task, and a new task with the
	 * same tid is compared with nothing of its predecessor */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, u, 0, 0 },
	    { H_FORK, 1, u, 2, 0 },
	    { H_EXIT, 2, with_uids(u, 1000, 1000, 1000, 0), 0, NG_AN_FSUID_ROOT | NG_AN_IDS_CHANGED },
	    { H_FORK, 1, u, 2, 0 },
	    { H_CONNECT, 2, u, 0, 0 });
	assert_int_equal(s.an[0].hook, NG_EV_EXIT);
	/* an unrecorded parent is recorded at its fork, and so is the child */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, u, 0, 0 },
	    { H_FORK, 1, u, 2, 0 });
	assert_true(s.has_rec[1]);
	assert_true(s.has_rec[2]);
	assert_memory_equal(&s.rec[2].c, &u.c, sizeof(u.c));
}

static void test_lost_record(void **state)
{
	const struct ng_taskstate u = ctr_state(1000, 0);
	const struct ng_taskstate r = with_uids(u, 0, 0, 0, 0);
	struct sim s;

	(void)state;
	/* LRU eviction: the task is re-recorded at its next hook, never flagged
	 * for a difference with a state nobody remembers */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, u, 0, 0 },
	    { H_CONNECT, 1, u, 0, 0 },
	    { H_FORGET, 1, u, 0, 0 },
	    { H_CONNECT, 1, r, 0, 0 },
	    { H_CONNECT, 1, r, 0, 0 },
	    { H_CONNECT, 1, u, 0, NG_AN_IDS_CHANGED });
}

static void test_scope(void **state)
{
	struct ng_taskstate h = ctr_state(1000, 0), esc;
	struct sim s;

	(void)state;
	h = with_ns(h, HOST_MNTNS, HOST_NETNS);
	esc = with_uids(h, 0, 0, 0, 0);
	/* a host task, host not traced: never recorded, never judged */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, h, HOST_PIDNS, 0 },
	    { H_CONNECT, 1, h, 0, 0 },
	    { H_SYSCALL, 1, h, NG_CRED_SETUID, 0 },
	    { H_CONNECT, 1, esc, 0, 0 },
	    { H_FORK, 1, esc, 2, 0 });
	assert_false(s.has_rec[1]);
	assert_false(s.has_rec[2]);
	/* trace_host: the same task is judged */
	sim_init(&s);
	s.trace_host = true;
	RUN(&s,
	    { H_SPAWN, 1, h, HOST_PIDNS, 0 },
	    { H_CONNECT, 1, h, 0, 0 },
	    { H_CONNECT, 1, esc, 0, NG_AN_EUID_ROOT | NG_AN_FSUID_ROOT | NG_AN_UID_ROOT | NG_AN_IDS_CHANGED });
	/* a hostPID pod (host pid ns, own mount ns) is in scope by its mount ns */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, ctr_state(1000, 0), HOST_PIDNS, 0 },
	    { H_CONNECT, 1, ctr_state(1000, 0), 0, 0 },
	    { H_CONNECT, 1, with_uids(ctr_state(1000, 0), 0, 0, 0, 0), 0,
	      NG_AN_EUID_ROOT | NG_AN_FSUID_ROOT | NG_AN_UID_ROOT | NG_AN_IDS_CHANGED });
}

static void test_namespaces(void **state)
{
	const struct ng_taskstate c = ctr_state(0, CTR_CAPS);
	struct sim s;

	(void)state;
	/* setns into the host's mount namespace (nsenter -t 1 -m) */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, c, 0, 0 },
	    { H_CONNECT, 1, c, 0, 0 },
	    { H_NONE, 1, with_ns(c, HOST_MNTNS, CTR_NETNS), 0, 0 },
	    { H_CONNECT, 1, with_ns(c, HOST_MNTNS, CTR_NETNS), 0, NG_AN_HOST_MNTNS },
	    /* still in scope through its pid namespace, and reported once */
	    { H_CONNECT, 1, with_ns(c, HOST_MNTNS, CTR_NETNS), 0, 0 },
	    { H_NONE, 1, with_ns(c, HOST_MNTNS, HOST_NETNS), 0, 0 },
	    { H_SENDMSG, 1, with_ns(c, HOST_MNTNS, HOST_NETNS), 0, NG_AN_HOST_NETNS });
	assert_int_equal(s.an[0].old.mntns, CTR_MNTNS);
	assert_int_equal(s.an[0].cur.mntns, HOST_MNTNS);
	assert_int_equal(s.an[0].reasons & NG_AN_ESCAPE, NG_AN_HOST_MNTNS);
	assert_int_equal(s.an[0].reasons & NG_AN_ESCALATION, 0);
	/* both at once, seen at exit */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, c, 0, 0 },
	    { H_CONNECT, 1, c, 0, 0 },
	    { H_EXIT, 1, with_ns(c, HOST_MNTNS, HOST_NETNS), 0, NG_AN_ESCAPE });
	/* unshare into new namespaces: no reason; the record keeps the
	 * container's, so a later move into the host's is still seen */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, c, 0, 0 },
	    { H_CONNECT, 1, c, 0, 0 },
	    { H_NONE, 1, with_ns(c, NEW_MNTNS, NEW_NETNS), 0, 0 },
	    { H_CONNECT, 1, with_ns(c, NEW_MNTNS, NEW_NETNS), 0, 0 },
	    { H_FORK, 1, with_ns(c, NEW_MNTNS, NEW_NETNS), 2, 0 },
	    { H_CONNECT, 2, with_ns(c, NEW_MNTNS, NEW_NETNS), 0, 0 },
	    { H_CONNECT, 1, with_ns(c, HOST_MNTNS, NEW_NETNS), 0, NG_AN_HOST_MNTNS },
	    { H_CONNECT, 2, with_ns(c, NEW_MNTNS, HOST_NETNS), 0, NG_AN_HOST_NETNS });
	/* a task first seen in the host's namespaces did not enter them */
	sim_init(&s);
	s.trace_host = true;
	RUN(&s,
	    { H_SPAWN, 1, with_ns(c, HOST_MNTNS, HOST_NETNS), HOST_PIDNS, 0 },
	    { H_CONNECT, 1, with_ns(c, HOST_MNTNS, HOST_NETNS), 0, 0 },
	    { H_CONNECT, 1, with_ns(c, NEW_MNTNS, NEW_NETNS), 0, 0 },
	    { H_CONNECT, 1, with_ns(c, HOST_MNTNS, HOST_NETNS), 0, 0 });
	/* a record without namespaces (0: unknown) judges no namespace move */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, with_ns(c, 0, 0), 0, 0 },
	    { H_CONNECT, 1, with_ns(c, 0, 0), 0, 0 },
	    { H_CONNECT, 1, with_ns(c, HOST_MNTNS, HOST_NETNS), 0, 0 });
	assert_true(s.has_rec[1]);
	/* an exiting task whose namespaces are torn down reads 0: not the host's */
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, c, 0, 0 },
	    { H_CONNECT, 1, c, 0, 0 },
	    { H_EXIT, 1, with_ns(c, 0, 0), 0, 0 });
	/* host inodes unknown (0): the namespace checks are off, ids still judged */
	sim_init(&s);
	s.host_mntns = 0;
	s.host_netns = 0;
	RUN(&s,
	    { H_SPAWN, 1, c, 0, 0 },
	    { H_CONNECT, 1, c, 0, 0 },
	    { H_CONNECT, 1, with_ns(c, HOST_MNTNS, HOST_NETNS), 0, 0 },
	    { H_CONNECT, 1, with_ns(with_uids(c, 0, 0, 0, 1000), HOST_MNTNS, HOST_NETNS), 0,
	      NG_AN_IDS_CHANGED },
	    /* ... and a torn-down 0 does not equal an unknown 0 */
	    { H_EXIT, 1, with_ns(with_uids(c, 0, 0, 0, 1000), 0, 0), 0, 0 });
}

/* the kernel exploit, end to end: a container shell, an exploit binary run
 * from /tmp, commit_creds(prepare_kernel_cred(0)), then a setns escape and a
 * root shell on the host */
static void test_exploit_chain(void **state)
{
	const struct ng_taskstate sh = ctr_state(1000, 0);
	const struct ng_taskstate root = with_gids(with_caps(with_uids(sh, 0, 0, 0, 0), ALL_CAPS, ALL_CAPS), 0);
	const struct ng_taskstate host = with_ns(root, HOST_MNTNS, HOST_NETNS);
	struct sim s;

	(void)state;
	sim_init(&s);
	RUN(&s,
	    { H_SPAWN, 1, sh, 0, 0 },
	    { H_FORK, 1, sh, 2, 0 },
	    { H_EXEC, 2, sh, 0xe4, 0 },           /* /tmp/exploit */
	    { H_NONE, 2, root, 0, 0 },            /* the kernel bug */
	    { H_FORK, 2, root, 3, NG_AN_ESCALATION | NG_AN_IDS_CHANGED },
	    { H_NONE, 3, host, 0, 0 },            /* setns(/proc/1/ns/mnt), (.../net) */
	    { H_EXEC, 3, host, 0xb5, NG_AN_ESCAPE }, /* execve("/bin/sh") */
	    { H_CONNECT, 3, host, 0, 0 },
	    { H_EXIT, 3, host, 0, 0 },
	    { H_EXIT, 2, root, 0, 0 },
	    { H_CONNECT, 1, sh, 0, 0 });
	assert_int_equal(s.nan, 2);
	assert_int_equal(s.an[0].tid, 2);
	assert_int_equal(s.an[0].hook, NG_EV_FORK);
	assert_int_equal(s.an[1].tid, 3);
	assert_int_equal(s.an[1].hook, NG_EV_EXEC);
	assert_int_equal(s.an[1].old.mntns, CTR_MNTNS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_credcheck_direct),
		cmocka_unit_test(test_setuid_syscall_vs_connect),
		cmocka_unit_test(test_fsuid_only),
		cmocka_unit_test(test_caps_user_namespaces),
		cmocka_unit_test(test_privilege_drop),
		cmocka_unit_test(test_exec_hook),
		cmocka_unit_test(test_fork_and_exit),
		cmocka_unit_test(test_lost_record),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_exploit_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
