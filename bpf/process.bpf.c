// SPDX-License-Identifier: GPL-2.0-only
/* Process lifecycle sensors: exec, fork, exit (tp_btf/sched_process_*). */
#include "task.bpf.h"
#include "nodeguard/fnv.h"

char LICENSE[] SEC("license") = "GPL";

/* tunables, set by the loader before load; the headers below read them */
const volatile struct ng_bpf_config ng_cfg = {};

#include "state.bpf.h"

#define S_IFMT 00170000
#define S_IFSOCK 0140000

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ng_exec);
} ng_exec_heap SEC(".maps");

static __always_inline int fd_is_socket(struct file **fds, unsigned int max_fds, int fd)
{
	struct file *f = NULL;
	umode_t mode;

	if ((unsigned int)fd >= max_fds)
		return 0;
	if (bpf_core_read(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & S_IFMT) == S_IFSOCK;
}

struct fnv_ctx {
	const char *s;
	__u64 h;
};

static int fnv_step(__u32 i, void *ctx)
{
	struct fnv_ctx *fc = ctx;
	char c = 0;

	if (i >= NG_PATH_MAX)
		return 1;
	bpf_probe_read_kernel(&c, 1, fc->s + i);
	fc->h = ng_fnv1a_step(fc->h, (__u8)c);
	return 0;
}

/* the kill-rule input of an exec, before its credentials */
static __always_inline void exec_kill_in(struct ng_kill_in *in, __u64 exe_hash)
{
	__builtin_memset(in, 0, sizeof(*in));
	in->events = NG_KR_EXEC;
	in->success = 1;
	in->hook = NG_EV_EXEC;
	in->exe_hash = exe_hash;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ng_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *t = p;
	__u32 zero = 0, tid, argv_max, flen, alen;
	__u64 exe_hash = 0;
	struct ng_stash *st;
	struct ng_exec *e;
	struct mm_struct *mm;
	struct file *exe;
	struct files_struct *files;
	struct fdtable *fdt;
	struct file **fds;
	unsigned int max_fds;
	unsigned long astart, aend;
	long n;
	char name[6];

	e = bpf_map_lookup_elem(&ng_exec_heap, &zero);
	if (!e)
		return 0;
	tid = BPF_CORE_READ(t, pid);
	/* the path as exec'ed, hashed for the in-kernel kill allow-lists */
	n = bpf_probe_read_kernel_str(e->data, NG_PATH_MAX, BPF_CORE_READ(bprm, filename));
	{
		struct fnv_ctx fc = { .s = e->data, .h = NG_FNV_OFFSET };

		bpf_loop(n > 1 ? (__u32)(n - 1) : 0, fnv_step, &fc, 0);
		exe_hash = fc.h;
	}
	/* the exec's own credential change is legitimate: record it (the state
	 * before it was checked at execve entry) */
	if (bpf_map_lookup_elem(&ng_tasks, &tid) || ng_task_in_scope(t))
		ng_state_record_exe(t, tid, exe_hash, 1);

	if (ng_hdr_fill(&e->hdr, t, NG_EV_EXEC)) {
		/* out of scope for the stream, but a host-scoped kill rule may apply */
		struct ng_kill_in in;

		if (!ng_kill_armed())
			return 0;
		exec_kill_in(&in, exe_hash);
		ng_read_creds(t->cred, &in.cur);
		if (in.cur.euid != in.cur.uid || in.cur.egid != in.cur.gid)
			in.events |= NG_KR_SETUID_EXEC;
		ng_kill_eval(&in);
		return 0;
	}

	tid = e->hdr.tid;
	e->eflags = 0;
	ng_read_creds(t->cred, &e->cur);
	st = bpf_map_lookup_elem(&ng_stash, &tid);
	if (st && st->op == NG_STASH_EXEC) {
		e->old = st->old;
		e->eflags |= NG_EXEC_OLD_KNOWN;
		if (e->cur.cap_prm & ~e->old.cap_prm)
			e->eflags |= NG_EXEC_CAPS_GAINED;
	} else {
		__builtin_memset(&e->old, 0, sizeof(e->old));
	}
	if (st)
		st->op = 0; /* used (creds.bpf.c writes entries in place) */

	if (e->cur.euid != e->cur.uid)
		e->eflags |= NG_EXEC_SETUID;
	if (e->cur.egid != e->cur.gid)
		e->eflags |= NG_EXEC_SETGID;
	if (BPF_CORE_READ_BITFIELD_PROBED(bprm, secureexec))
		e->eflags |= NG_EXEC_SECURE;
	if (BPF_CORE_READ(t, signal, tty))
		e->eflags |= NG_EXEC_TTY;

	files = BPF_CORE_READ(t, files);
	fdt = BPF_CORE_READ(files, fdt);
	fds = BPF_CORE_READ(fdt, fd);
	max_fds = BPF_CORE_READ(fdt, max_fds);
	if (fd_is_socket(fds, max_fds, 0))
		e->eflags |= NG_EXEC_STDIN_SOCK;
	if (fd_is_socket(fds, max_fds, 1))
		e->eflags |= NG_EXEC_STDOUT_SOCK;
	if (fd_is_socket(fds, max_fds, 2))
		e->eflags |= NG_EXEC_STDERR_SOCK;

	exe = BPF_CORE_READ(bprm, file);
	e->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
	e->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	e->_pad0 = 0;
	if (BPF_CORE_READ(exe, f_inode, __i_nlink) == 0)
		e->eflags |= NG_EXEC_ANON_FILE;
	__builtin_memset(name, 0, sizeof(name));
	bpf_probe_read_kernel(name, sizeof(name), BPF_CORE_READ(exe, f_path.dentry, d_name.name));
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' &&
	    name[4] == 'd' && name[5] == ':')
		e->eflags |= NG_EXEC_MEMFD;

	/* filename (read above), then argv right behind it */
	if (n <= 0)
		n = 1;
	if (n >= NG_PATH_MAX)
		e->eflags |= NG_EXEC_PATH_TRUNC;
	flen = (n - 1) & (NG_PATH_MAX - 1);

	mm = BPF_CORE_READ(t, mm);
	astart = BPF_CORE_READ(mm, arg_start);
	aend = BPF_CORE_READ(mm, arg_end);
	e->argc = BPF_CORE_READ(bprm, argc);
	e->argv_full = aend > astart ? aend - astart : 0;
	argv_max = ng_cfg.argv_max;
	if (argv_max > NG_ARGV_MAX || argv_max == 0)
		argv_max = NG_ARGV_MAX;
	alen = e->argv_full;
	if (alen > argv_max) {
		alen = argv_max;
		e->eflags |= NG_EXEC_ARGV_TRUNC;
	}
	if (alen >= NG_ARGV_MAX) {
		alen = NG_ARGV_MAX;
		n = bpf_probe_read_user(&e->data[flen], NG_ARGV_MAX, (void *)astart);
	} else {
		/* the mask only tells the verifier what the branch already ensures;
		 * asm so the compiler cannot drop it */
		__u64 sz = alen;

		asm volatile("%[v] &= %[m]" : [v] "+r"(sz) : [m] "i"(NG_ARGV_MAX - 1));
		n = bpf_probe_read_user(&e->data[flen], sz, (void *)astart);
	}
	if (n) {
		e->eflags |= NG_EXEC_ARGV_FAULT;
		alen = 0;
	}
	e->filename_len = flen;
	e->argv_len = alen;

	n = NG_EXEC_FIXED_SIZE + flen + alen;
	e->hdr.size = n;
	asm volatile("%[v] &= %[m]" : [v] "+r"(n) : [m] "i"(8191));
	if (n > (long)sizeof(*e))
		return 0;
	if (bpf_ringbuf_output(&ng_events, e, n, ng_rb_flags_kind(n, NG_EV_EXEC)))
		ng_count(NG_EV_EXEC, 1);
	else
		ng_count(NG_EV_EXEC, 0);

	{
		struct ng_kill_in in;

		if (!ng_kill_armed())
			return 0;
		exec_kill_in(&in, exe_hash);
		in.cur = e->cur;
		in.old = e->old; /* zeroed when unknown */
		in.has_old = !!(e->eflags & NG_EXEC_OLD_KNOWN);
		if (e->eflags & (NG_EXEC_SETUID | NG_EXEC_SETGID | NG_EXEC_CAPS_GAINED | NG_EXEC_SECURE))
			in.events |= NG_KR_SETUID_EXEC;
		ng_kill_eval(&in);
	}
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ng_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptid = BPF_CORE_READ(parent, pid), ctid = BPF_CORE_READ(child, pid);
	struct ng_fork *e;
	struct ng_hdr h;

	/* the child starts with a copy of the parent's credentials */
	ng_task_check(parent, NG_EV_FORK);
	{
		struct ng_taskstate *ps = bpf_map_lookup_elem(&ng_tasks, &ptid);

		/* and runs the same executable: keep its hash for the kill allow-lists */
		if (ps)
			ng_state_record_exe(child, ctid, ps->exe_hash, 1);
	}

	/* threads share the process entry: only new thread groups matter */
	if (ctid != BPF_CORE_READ(child, tgid))
		return 0;
	if (ng_hdr_fill(&h, parent, NG_EV_FORK))
		return 0;
	e = ng_reserve_hdr(&h, NG_EV_FORK, sizeof(*e));
	if (!e)
		return 0;
	e->child_pid = BPF_CORE_READ(child, tgid);
	e->child_tid = BPF_CORE_READ(child, pid);
	e->clone_flags = 0;
	bpf_ringbuf_submit(e, ng_rb_flags());
	ng_count(NG_EV_FORK, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ng_exit, struct task_struct *t)
{
	__u32 tid = BPF_CORE_READ(t, pid);
	struct ng_exit *e;
	struct ng_hdr h;

	ng_task_check(t, NG_EV_EXIT);
	bpf_map_delete_elem(&ng_tasks, &tid);
	/* its credential stash (kept between calls, creds.bpf.c) goes with it:
	 * an LRU that never fills never evicts on the fork path */
	bpf_map_delete_elem(&ng_stash, &tid);

	/* report the process once, when its last thread leaves */
	if (BPF_CORE_READ(t, signal, live.counter) != 0)
		return 0;
	if (ng_hdr_fill(&h, t, NG_EV_EXIT))
		return 0;
	e = ng_reserve_hdr(&h, NG_EV_EXIT, sizeof(*e));
	if (!e)
		return 0;
	e->exit_code = BPF_CORE_READ(t, exit_code);
	e->_pad0 = 0;
	e->start_ns = BPF_CORE_READ(t, start_boottime);
	bpf_ringbuf_submit(e, ng_rb_flags());
	ng_count(NG_EV_EXIT, 0);
	return 0;
}
