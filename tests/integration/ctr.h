/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A "container" for the integration tests, shaped the way the sensors and
 * agent/attrib/container.c expect a kubelet's to be (DESIGN.md §6):
 *
 *   <cgroup2 mount>/kubepods.slice/kubepods-besteffort.slice/
 *       kubepods-besteffort-pod<uid>.slice/cri-containerd-<64 hex>.scope
 *
 * with its own pid, mount, uts and net namespaces (`lo` up) and a trigger
 * program as pid 1 of the new pid namespace.
 *
 * Process shape: test ─fork─▶ shim (joins the scope, unshares) ─fork─▶ init
 * (pid 1 inside, execs the trigger). Fd 3 of the trigger is the report
 * channel (see trigger.c); every message carries the sender's host pid.
 */
#ifndef NG_IT_CTR_H
#define NG_IT_CTR_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define CTR_MAX_MSGS 64
#define CTR_MSG_LEN 1024

struct ctr_msg {
	pid_t pid; /* sender, host pid namespace */
	uid_t uid; /* sender's uid, host user namespace */
	char text[CTR_MSG_LEN];
};

struct ctr {
	char pod_uid[37];             /* random RFC 4122 v4 */
	char id[65];                  /* 64 hex: the container id */
	char scope[4096];             /* the scope's directory */
	char *dirs[16];               /* created by us, outermost first (for rmdir) */
	int ndirs;
	uint64_t cgroup_id;           /* what bpf_get_current_cgroup_id() returns inside */

	/* filled by ctr_run */
	pid_t shim_pid, init_pid;     /* host pids */
	uint32_t pidns, mntns, netns, utsns; /* the container's namespace inodes */
	int init_status;              /* wait(2) status of the trigger (pid 1) */
	int shim_status;              /* wait(2) status of the shim */
	int timed_out;
	struct ctr_msg msgs[CTR_MAX_MSGS];
	int nmsgs;
	char log[4096];               /* start of the trigger's stdout+stderr */
};

/* the cgroup v2 mount point, from /proc/self/mountinfo; 0 or -errno */
int ctr_cgroup2_root(char *out, size_t n);
/* the cgroup v2 id of a cgroup directory (name_to_handle_at); 0 on error */
uint64_t ctr_cgroup_id(const char *dir);
/* the v2 cgroup of pid ("0::/path"), as an id; 0 on error */
uint64_t ctr_cgroup_id_of(pid_t pid);

/* make the kubelet-shaped cgroup with a fresh pod uid and container id */
int ctr_create(struct ctr *c);
/*
 * Run argv (absolute path in argv[0]) as pid 1 of a new container in c's
 * cgroup; blocks until it exits or timeout_ms passes (then the cgroup is
 * killed and -ETIMEDOUT returned). logdir receives <id>.log.
 */
int ctr_run(struct ctr *c, char *const argv[], const char *logdir, int timeout_ms);
/* run argv as a plain host process (no cgroup, no namespaces), same channel */
int ctr_run_host(struct ctr *c, char *const argv[], const char *logdir, int timeout_ms);
/* kill what is left in the cgroup and remove the directories; NULL ok */
void ctr_destroy(struct ctr *c);

/* the value of the nth report "key=value" (NULL if absent); *pid the sender */
const char *ctr_report(const struct ctr *c, const char *key, int nth, pid_t *pid);
/* the whole report text, for failure messages */
void ctr_dump(const struct ctr *c, FILE *out);

/* remove every cgroup a ctr_create of this process left behind (atexit) */
void ctr_cleanup_all(void);

#endif
