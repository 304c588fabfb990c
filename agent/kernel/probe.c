// SPDX-License-Identifier: Apache-2.0
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "probe.h"

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo */
static void unescape_octal(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

int probe_fs_mount(FILE *mi, const char *fstype, char *out, size_t n)
{
	/* whole lines: overlay options and escaped mount points outgrow any fixed
	 * buffer, and the tail of a cut line must not parse as a line of its own */
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;

	while (getline(&line, &cap, mi) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *save = NULL, *tok, *mnt = NULL;
		int field = 0;
		bool after_sep = false;

		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			if (field == 4)
				mnt = tok;
			field++;
			if (after_sep) {
				if (mnt && !strcmp(tok, fstype)) {
					unescape_octal(mnt);
					if (strlen(mnt) >= n) {
						r = -ENAMETOOLONG;
					} else {
						strcpy(out, mnt);
						r = 0;
					}
					goto out;
				}
				break;
			}
			if (field > 5 && !strcmp(tok, "-"))
				after_sep = true;
		}
	}
out:
	free(line);
	return r;
}

int probe_cgroup2_mount(FILE *mi, char *out, size_t n)
{
	return probe_fs_mount(mi, "cgroup2", out, n);
}

unsigned probe_ns_inode(const char *pid, const char *name)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%s/ns/%s", pid, name);
	if (stat(p, &st))
		return 0;
	return (unsigned)st.st_ino;
}

/* load "r0 = 0; exit" as a program of the given type against a BTF target */
static int try_btf_prog(enum bpf_prog_type type, enum bpf_attach_type at,
			const char *target, int kind, bool attach)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts);
	struct btf *vmlinux;
	int id, fd, lfd, err = 0;

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return -errno;
	id = btf__find_by_name_kind(vmlinux, target, kind);
	btf__free(vmlinux);
	if (id < 0)
		return -ENOENT;
	opts.expected_attach_type = at;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(type, NULL, "GPL", insns, 2, &opts);
	if (fd < 0)
		return -errno;
	if (attach) {
		if (type == BPF_PROG_TYPE_TRACING && at == BPF_TRACE_RAW_TP)
			lfd = bpf_raw_tracepoint_open(NULL, fd);
		else
			lfd = bpf_link_create(fd, 0, at, NULL);
		if (lfd < 0)
			err = -errno;
		else
			close(lfd);
	}
	close(fd);
	return err;
}

static bool tracefs_has(const char *root, const char *ev)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/events/syscalls/%s/id", root, ev);
	return access(p, R_OK) == 0;
}

static void probe_tracefs(struct ng_features *f, bool do_mount)
{
	static const char *const calls[] = { "setuid", "setgid", "setreuid", "setregid",
		"setresuid", "setresgid", "setfsuid", "setfsgid", "setgroups", "capset" };
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	char dir[] = "enter";
	size_t i;

	if (mi) {
		f->tracefs = probe_fs_mount(mi, "tracefs", f->tracefs_path, sizeof(f->tracefs_path)) == 0;
		fclose(mi);
	}
	if (!f->tracefs && do_mount && f->root) {
		if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0 || errno == EBUSY) {
			f->tracefs = true;
			f->tracefs_mounted_by_us = true;
			snprintf(f->tracefs_path, sizeof(f->tracefs_path), "/sys/kernel/tracing");
		}
	}
	if (!f->tracefs)
		return;
	f->syscall_tps = true;
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		char ev[64];
		int d;

		for (d = 0; d < 2; d++) {
			snprintf(dir, sizeof(dir), "%s", d ? "exit" : "enter");
			snprintf(ev, sizeof(ev), "sys_%s_%s", dir, calls[i]);
			if (!tracefs_has(f->tracefs_path, ev)) {
				f->syscall_tps = false;
				snprintf(f->syscall_tps_missing, sizeof(f->syscall_tps_missing), "%s", ev);
				return;
			}
		}
	}
}

void probe_features(struct ng_features *f, bool mount_tracefs)
{
	struct utsname u;
	FILE *mi, *lsm;
	char buf[512];

	memset(f, 0, sizeof(*f));
	f->root = geteuid() == 0;
	if (uname(&u) == 0)
		snprintf(f->kernel, sizeof(f->kernel), "%s", u.release);
	f->btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	/* PID 1's namespaces are the host's (the DaemonSet runs with hostPID).
	 * Where PID 1 is shielded from us, kthreadd (PID 2) lives in the same
	 * initial namespaces: every kernel thread does. */
	f->host_pidns = probe_ns_inode("1", "pid");
	f->host_mntns = probe_ns_inode("1", "mnt");
	f->host_userns = probe_ns_inode("1", "user");
	f->host_netns = probe_ns_inode("1", "net");
	if (!f->host_pidns || !f->host_mntns) {
		FILE *c = fopen("/proc/2/comm", "re");

		if (c) {
			if (fgets(buf, sizeof(buf), c) && !strcmp(buf, "kthreadd\n")) {
				f->host_pidns = probe_ns_inode("2", "pid");
				f->host_mntns = probe_ns_inode("2", "mnt");
				f->host_userns = probe_ns_inode("2", "user");
				f->host_netns = probe_ns_inode("2", "net");
			}
			fclose(c);
		}
	}

	mi = fopen("/proc/self/mountinfo", "re");
	if (mi) {
		f->cgroup2 = probe_cgroup2_mount(mi, f->cgroup2_path, sizeof(f->cgroup2_path)) == 0;
		fclose(mi);
	}
	probe_tracefs(f, mount_tracefs);

	if (!f->root)
		return;
	f->ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	f->cgroup_sockaddr = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, NULL) == 1;
	if (f->btf) {
		f->tp_btf_err = try_btf_prog(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP,
					     "btf_trace_sched_process_exec", BTF_KIND_TYPEDEF, true);
		f->tp_btf = f->tp_btf_err == 0;
		f->fentry_err = try_btf_prog(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY,
					     "security_file_open", BTF_KIND_FUNC, true);
		f->fentry = f->fentry_err == 0;
		f->lsm_err = try_btf_prog(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "bpf_lsm_file_open",
					  BTF_KIND_FUNC, false);
	}
	lsm = fopen("/sys/kernel/security/lsm", "re");
	if (lsm) {
		if (fgets(buf, sizeof(buf), lsm))
			f->lsm_active = strstr(buf, "bpf") != NULL;
		fclose(lsm);
	}
	f->lsm = f->btf && f->lsm_err == 0 && f->lsm_active;
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

static const char *err_str(int err, char *buf, size_t n)
{
	if (!err)
		return "ok";
	snprintf(buf, n, "%s", strerror(-err));
	return buf;
}

void probe_print(FILE *out, const struct ng_features *f)
{
	char e1[64], e2[64], e3[64];

	fprintf(out, "kernel:            %s\n", f->kernel);
	fprintf(out, "running as root:   %s\n", yesno(f->root));
	fprintf(out, "kernel BTF:        %s (/sys/kernel/btf/vmlinux)\n", yesno(f->btf));
	fprintf(out, "cgroup v2 mount:   %s\n", f->cgroup2 ? f->cgroup2_path : "not found");
	fprintf(out, "tracefs:           %s%s\n", f->tracefs ? f->tracefs_path : "not mounted",
		f->tracefs_mounted_by_us ? " (mounted by nodeguard)" : "");
	fprintf(out, "host namespaces:   pid %u, mnt %u, user %u, net %u\n", f->host_pidns,
		f->host_mntns, f->host_userns, f->host_netns);
	if (!f->root) {
		fprintf(out, "BPF probes:        skipped (needs root)\n");
		return;
	}
	fprintf(out, "ring buffer:       %s\n", yesno(f->ringbuf));
	fprintf(out, "tp_btf:            %s (%s)\n", yesno(f->tp_btf), err_str(f->tp_btf_err, e1, sizeof(e1)));
	fprintf(out, "syscall tracepoints: %s%s%s\n", yesno(f->syscall_tps),
		f->syscall_tps_missing[0] ? ", missing " : "", f->syscall_tps_missing);
	fprintf(out, "cgroup sock_addr:  %s\n", yesno(f->cgroup_sockaddr));
	fprintf(out, "fentry/fexit:      %s (%s)\n", yesno(f->fentry), err_str(f->fentry_err, e2, sizeof(e2)));
	fprintf(out, "BPF LSM:           %s (load: %s, active LSM: %s)\n", yesno(f->lsm),
		err_str(f->lsm_err, e3, sizeof(e3)), yesno(f->lsm_active));
	fprintf(out, "\nsensors:\n");
	fprintf(out, "  exec        %s\n", f->tp_btf ? "tp_btf/sched_process_exec" : "UNAVAILABLE (needs tp_btf)");
	fprintf(out, "  fork        %s\n", f->tp_btf ? "tp_btf/sched_process_fork" : "UNAVAILABLE (needs tp_btf)");
	fprintf(out, "  exit        %s\n", f->tp_btf ? "tp_btf/sched_process_exit" : "UNAVAILABLE (needs tp_btf)");
	fprintf(out, "  credentials %s\n",
		f->syscall_tps ? "tracepoint/syscalls/sys_{enter,exit}_{set*id,setgroups,capset}"
		: f->tp_btf ? "tp_btf/sys_enter + sys_exit with in-kernel syscall filter (fallback)"
		: "UNAVAILABLE");
	fprintf(out, "  connect     %s\n", f->cgroup_sockaddr && f->cgroup2
		? "cgroup/connect4, cgroup/connect6 on the cgroup v2 root" : "UNAVAILABLE");
	fprintf(out, "  udp send    %s\n", f->cgroup_sockaddr && f->cgroup2
		? "cgroup/sendmsg4, cgroup/sendmsg6 on the cgroup v2 root" : "UNAVAILABLE");
}
