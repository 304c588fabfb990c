/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process table: every process the sensors (or /proc at start) told us
 * about, with its ancestry, executable, command line, last-known credentials
 * and the time of its last outbound TCP connect.
 *
 * Bounded: at most `max` entries; when full, exited entries are evicted first
 * (oldest exit first), then the least recently seen live entry.
 */
#ifndef NODEGUARD_PROCTAB_H
#define NODEGUARD_PROCTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "decode.h"

#define PROC_CMDLINE_MAX 512

struct proc {
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_ns;       /* boot ns; 0 if unknown */
	uint64_t cgroup_id;
	char comm[NG_COMM_LEN + 1];
	char *exe;               /* heap; "" if unknown */
	char *cmdline;           /* heap; argv joined by ' ', bounded */
	bool cmdline_truncated;
	struct ng_creds creds;   /* last known */
	bool creds_known;
	uint32_t pidns, mntns;
	bool container;
	bool seeded;             /* came from /proc, not from an event */
	bool exited;
	int32_t exit_code;
	uint64_t exit_ns;
	uint64_t last_connect_ns;/* last outbound TCP connect (boot ns), 0 never */
	uint64_t seen_ns;        /* last event (boot ns) */
	/* private */
	struct proc *hnext;
	TAILQ_ENTRY(proc) link;  /* on the live or the exited list */
};

struct proctab;

struct proctab *proctab_new(size_t max);
void proctab_free(struct proctab *t);

/* seed from a procfs root ("/proc"); returns processes added or -errno */
int proctab_seed(struct proctab *t, const char *procroot, uint32_t host_pidns, uint32_t host_mntns);
/* update from one sensor event (exec, fork, exit, cred, connect, ...) */
void proctab_apply(struct proctab *t, const struct ng_event *ev);
struct proc *proctab_get(struct proctab *t, uint32_t pid);
/* pid itself first, then its parent, ...; stops at pid 0/1, a loop, or max */
size_t proctab_ancestry(struct proctab *t, uint32_t pid, struct proc **out, size_t max);
/* drop exited entries whose exit is older than keep_ns before now_ns */
size_t proctab_gc(struct proctab *t, uint64_t now_ns, uint64_t keep_ns);

size_t proctab_count(const struct proctab *t);
size_t proctab_evictions(const struct proctab *t);
/* bytes held by the table (entries, strings, buckets) */
size_t proctab_bytes(const struct proctab *t);

/* argv (NUL-separated, n bytes) -> "a b c", bounded; true if truncated */
bool proctab_join_argv(const char *argv, size_t n, char *out, size_t outsz);

#endif
