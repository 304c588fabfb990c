/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel <-> user-space ABI of nodeguard's sensors.
 *
 * Every record in the ring buffer starts with struct ng_hdr. Fields are
 * fixed-width, naturally aligned and padded explicitly; sizes are pinned by
 * _Static_assert so a change on one side without the other fails the build.
 * Variable-length tails (exec filename + argv) follow the fixed part and are
 * described by explicit lengths; user space never trusts a length without
 * checking it against the record size (agent/decode.c).
 */
#ifndef NODEGUARD_EVENT_H
#define NODEGUARD_EVENT_H

#ifdef __bpf__
/* vmlinux.h provides the __u* types */
#else
#include <linux/types.h>
#endif

#define NG_ABI_VERSION 1

#define NG_COMM_LEN 16
#define NG_PATH_MAX 512  /* exec filename bytes kept (power of two) */
#define NG_ARGV_MAX 4096 /* hard ceiling of argv bytes (power of two) */
#define NG_ARGV_DEFAULT 1024

enum ng_kind {
	NG_EV_EXEC = 1,
	NG_EV_FORK = 2,
	NG_EV_EXIT = 3,
	NG_EV_CRED = 4,
	NG_EV_CONNECT = 5,
	NG_EV_SENDMSG = 6,
	NG_EV_ANOMALY = 7, /* a state change no traced syscall explains */
	NG_EV_ENFORCE = 8, /* the kernel enforced (struct ng_enforce, enforce.h) */
	NG_EV_KIND_MAX, /* counters are indexed by kind */
};

/* Header flags (ng_hdr.flags) */
#define NG_HF_CONTAINER (1u << 0) /* task is outside the host pid or mnt ns */

/* The credential-changing syscalls we trace (ng_cred.op). */
enum ng_cred_op {
	NG_CRED_SETUID = 1,
	NG_CRED_SETGID,
	NG_CRED_SETREUID,
	NG_CRED_SETREGID,
	NG_CRED_SETRESUID,
	NG_CRED_SETRESGID,
	NG_CRED_SETFSUID,
	NG_CRED_SETFSGID,
	NG_CRED_SETGROUPS,
	NG_CRED_CAPSET,
	NG_CRED_OP_MAX,
};

struct ng_creds {
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u64 cap_eff;
	__u64 cap_prm;
	__u64 cap_inh;
	__u32 ngroups;
	__u32 userns; /* inode of the cred's user namespace */
};

struct ng_hdr {
	__u64 ts_ns;   /* bpf_ktime_get_boot_ns() */
	__u16 kind;    /* enum ng_kind */
	__u16 size;    /* bytes of the whole record, header included */
	__u32 flags;   /* NG_HF_* */
	__u32 pid;     /* thread-group id, as seen by the host */
	__u32 tid;
	__u32 ppid;    /* real parent's tgid */
	__u32 nspid;   /* pid inside the task's own pid namespace */
	__u32 uid, gid, euid, egid;
	__u64 cgroup_id;
	__u32 pidns;   /* pid namespace inode */
	__u32 mntns;   /* mount namespace inode */
	__u32 netns;   /* network namespace inode */
	__u32 _pad0;
	char comm[NG_COMM_LEN];
};
_Static_assert(sizeof(struct ng_hdr) == 88, "ng_hdr ABI");

/* Exec flags (ng_exec.eflags) */
#define NG_EXEC_ARGV_TRUNC     (1u << 0) /* argv longer than argv_max */
#define NG_EXEC_PATH_TRUNC     (1u << 1) /* filename longer than NG_PATH_MAX */
#define NG_EXEC_SETUID         (1u << 2) /* euid != uid after exec */
#define NG_EXEC_SETGID         (1u << 3) /* egid != gid after exec */
#define NG_EXEC_SECURE         (1u << 4) /* kernel set AT_SECURE (id or caps change) */
#define NG_EXEC_CAPS_GAINED    (1u << 5) /* permitted caps grew across the exec */
#define NG_EXEC_TTY            (1u << 6) /* has a controlling tty */
#define NG_EXEC_STDIN_SOCK     (1u << 7)
#define NG_EXEC_STDOUT_SOCK    (1u << 8)
#define NG_EXEC_STDERR_SOCK    (1u << 9)
#define NG_EXEC_ANON_FILE      (1u << 10) /* executable has no link (memfd, deleted) */
#define NG_EXEC_MEMFD          (1u << 11) /* executable is a memfd */
#define NG_EXEC_OLD_KNOWN      (1u << 12) /* ng_exec.old holds the pre-exec creds */
#define NG_EXEC_ARGV_FAULT     (1u << 13) /* argv could not be read */

struct ng_exec {
	struct ng_hdr hdr;
	struct ng_creds old; /* before the exec (valid with NG_EXEC_OLD_KNOWN) */
	struct ng_creds cur; /* after the exec */
	__u32 eflags;
	__u32 argc;
	__u32 argv_full;     /* bytes of argv in the process (may exceed argv_len) */
	__u16 filename_len;  /* bytes in data[], no NUL */
	__u16 argv_len;      /* bytes after the filename, NUL-separated args */
	__u64 exe_ino;
	__u32 exe_dev;
	__u32 _pad0;
	char data[NG_PATH_MAX + NG_ARGV_MAX];
};
#define NG_EXEC_FIXED_SIZE (sizeof(struct ng_exec) - NG_PATH_MAX - NG_ARGV_MAX)
_Static_assert(sizeof(struct ng_creds) == 64, "ng_creds ABI");
_Static_assert(NG_EXEC_FIXED_SIZE == 88 + 64 * 2 + 32, "ng_exec ABI");

struct ng_fork {
	struct ng_hdr hdr;    /* the parent */
	__u32 child_pid;      /* tgid of the new process */
	__u32 child_tid;
	__u64 clone_flags;    /* 0 when unknown */
};
_Static_assert(sizeof(struct ng_fork) == 104, "ng_fork ABI");

struct ng_exit {
	struct ng_hdr hdr;
	__s32 exit_code;      /* wait(2) status: exit status << 8 | signal */
	__u32 _pad0;
	__u64 start_ns;       /* task start time (boot ns) */
};
_Static_assert(sizeof(struct ng_exit) == 104, "ng_exit ABI");

struct ng_cred {
	struct ng_hdr hdr;
	struct ng_creds old;
	struct ng_creds cur;
	__u32 op;             /* enum ng_cred_op */
	__u32 _pad0;
	__s64 ret;            /* syscall return value */
	__s64 args[3];        /* syscall arguments (ids, or count for setgroups) */
};
_Static_assert(sizeof(struct ng_cred) == 88 + 128 + 40, "ng_cred ABI");

struct ng_conn {
	struct ng_hdr hdr;
	__u16 family;         /* AF_INET / AF_INET6 */
	__u16 protocol;       /* IPPROTO_TCP / IPPROTO_UDP / ... */
	__u16 sock_type;      /* SOCK_STREAM / SOCK_DGRAM */
	__u16 dport;          /* host byte order */
	__u16 sport;          /* host byte order, 0 when not bound yet */
	__u16 _pad0;
	__u32 verdict;        /* 1 allowed (sensors only observe) */
	__u8 daddr[16];       /* IPv4 in the first 4 bytes */
	__u8 saddr[16];       /* zero when unknown */
};
_Static_assert(sizeof(struct ng_conn) == 88 + 16 + 32, "ng_conn ABI");

/* An unexplained change of a task's credentials or namespaces, caught at the
 * hook named by `hook` (an enum ng_kind: the event the task was doing). */
struct ng_anomaly {
	struct ng_hdr hdr;
	__u32 reasons;        /* NG_AN_* (nodeguard/credcheck.h) */
	__u32 hook;           /* enum ng_kind of the hook that caught it */
	struct ng_creds old;  /* last recorded */
	struct ng_creds cur;  /* now */
	__u32 old_mntns, old_netns;
	__u32 cur_mntns, cur_netns;
};
_Static_assert(sizeof(struct ng_anomaly) == 88 + 8 + 128 + 16, "ng_anomaly ABI");

/* Per-CPU counters, indexed by enum ng_kind (ng_counters map). */
struct ng_counter {
	__u64 emitted;
	__u64 dropped;   /* ring buffer reserve/output failed */
	__u64 filtered;  /* seen but out of scope */
	__u64 _pad0;
};

/* Tunables shared by every BPF object (rodata, set before load). */
struct ng_bpf_config {
	__u32 host_pidns;
	__u32 host_mntns;
	__u32 trace_host;   /* 1: emit host processes too */
	__u32 argv_max;     /* <= NG_ARGV_MAX, power of two not required */
	__u32 self_pid;     /* the agent: never emitted */
	__u32 host_userns;
	__u32 host_netns;
	__u32 emit_noop_creds; /* 1: also report successful set*id/capset that changed nothing */
	__u32 kill_rules;   /* 1: evaluate kill rules in the kernel; 0: the code is dead
			     * to the verifier (a kernel that refused it) */
	__u32 _pad0;
};
_Static_assert(sizeof(struct ng_bpf_config) == 40, "ng_bpf_config ABI");
/* ng_bpf_config.kill_rules value for tests: kill code the verifier refuses,
 * so the loader's fallback runs against a real refusal */
#define NG_KILL_CFG_REJECT 2

#endif /* NODEGUARD_EVENT_H */
