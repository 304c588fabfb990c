/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What this kernel gives us, found by trying rather than by version numbers.
 */
#ifndef NODEGUARD_PROBE_H
#define NODEGUARD_PROBE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

struct ng_features {
	bool root;
	bool btf;              /* /sys/kernel/btf/vmlinux readable */
	bool ringbuf;
	bool tp_btf;           /* BTF raw tracepoints load and attach */
	int tp_btf_err;
	bool tracefs;          /* mounted (perhaps by us) */
	bool tracefs_mounted_by_us;
	char tracefs_path[PATH_MAX];
	bool syscall_tps;      /* syscalls/sys_{enter,exit}_* for every traced call */
	char syscall_tps_missing[64];
	bool cgroup_sockaddr;  /* cgroup/connect* programs load */
	bool fentry;
	int fentry_err;
	bool lsm;              /* BPF LSM program loads and "bpf" is an active LSM */
	int lsm_err;
	bool lsm_active;       /* "bpf" listed in /sys/kernel/security/lsm */
	bool cgroup2;
	char cgroup2_path[PATH_MAX];
	char kernel[128];
	unsigned host_pidns, host_mntns; /* inodes of PID 1's namespaces */
	unsigned host_userns, host_netns;
};

/* fill *f; never fails as a whole, each probe records its own result */
void probe_features(struct ng_features *f, bool mount_tracefs);
/* human-readable summary, including which attach point each sensor uses */
void probe_print(FILE *out, const struct ng_features *f);

/* first cgroup2 mount point in a mountinfo stream; 0 or -ENOENT */
int probe_cgroup2_mount(FILE *mountinfo, char *out, size_t n);
/* mount point of a file system type in a mountinfo stream; 0 or -ENOENT */
int probe_fs_mount(FILE *mountinfo, const char *fstype, char *out, size_t n);
/* inode of /proc/<pid>/ns/<name>, 0 when unreadable */
unsigned probe_ns_inode(const char *pid, const char *name);

#endif
