/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent reads of /proc, parsed once: a process's cgroup v2 path
 * (the "0::" line of /proc/<pid>/cgroup) and the credentials in the lines
 * of /proc/<pid>/status. Never logs or exits.
 */
#ifndef NODEGUARD_PROCFS_H
#define NODEGUARD_PROCFS_H

#include <stddef.h>

#include "nodeguard/event.h"

/* The cgroup v2 path in file (a /proc/<pid>/cgroup, its first 4095 bytes),
 * relative to the cgroup2 mount, into out[n]. 0; -ENOENT without a "0::"
 * line; -ENAMETOOLONG when it does not fit; -errno when unreadable. */
int procfs_cgroup_path(const char *file, char *out, size_t n);

/* what procfs_status_creds() took from a line */
#define PROCFS_UID (1u << 0)     /* Uid: real, effective, saved, fs */
#define PROCFS_GID (1u << 1)     /* Gid: the same four */
#define PROCFS_CAPEFF (1u << 2)
#define PROCFS_CAPPRM (1u << 3)
#define PROCFS_CAPINH (1u << 4)
#define PROCFS_GROUPS (1u << 5)  /* Groups: counted into ngroups */

/* One line of /proc/<pid>/status (it may go on past its newline) into c:
 * which of PROCFS_* it set, 0 for another line. */
unsigned procfs_status_creds(const char *line, struct ng_creds *c);

#endif
