/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the containment tests (test_contain.c) and benchmark
 * (tests/bench/contain_bench.c):
 *
 *  - cbox: a test container (tests/integration/ctr.c) whose pid 1 is
 *    `ng-contain-helper shell`, driven line by line through two fifos while
 *    ctr_run() waits for it in a background thread;
 *  - peer: a network namespace of our own playing the "host" on the other end
 *    of a veth pair whose other end is the container's eth0. Addresses are
 *    10.x inside those two namespaces only; nothing is routed anywhere else.
 *    Peer sockets are made by this process (setns there and back), so they
 *    live in the peer namespace and in this process's (host) cgroup;
 *  - the incident journal's action records, replayed with cJSON on top of
 *    scen_journal.c.
 */
#ifndef NG_IT_CONTAIN_LIB_H
#define NG_IT_CONTAIN_LIB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctr.h"
#include "scen_journal.h"

/* ------------------------------------------------------------ container */

struct cbox {
	struct ctr c;
	int own_ctr;              /* c was created here (destroy it) */
	char cmd_path[4200], reply_path[4200];
	int cmd_fd, reply_fd;
	char rbuf[4096];
	size_t rlen;
	pid_t pid;                /* the shell's host pid */
	pthread_t th;
	int running;              /* the ctr_run thread is live */
	int run_err;
	char *argv[5];
	char logdir[4096];
	char line[1024];          /* the last reply line */
};

/*
 * Start `helper shell` as pid 1 of a fresh container (ctr NULL) or of a
 * new container in an existing cgroup (ctr: its scope is joined, not
 * created). Files go to dir. 0 or -errno; msg says why.
 */
int cbox_start(struct cbox *b, struct ctr *ctr, const char *helper, const char *dir,
	       int timeout_ms, char *msg, size_t msgn);
/* send one command line, return the reply line (b->line) or NULL on timeout */
const char *cbox_cmd(struct cbox *b, int timeout_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* read one more reply line (commands that reply twice) */
const char *cbox_read(struct cbox *b, int timeout_ms);
/* "exit", wait for the container (kill it after timeout_ms), destroy what we made */
void cbox_stop(struct cbox *b, int timeout_ms);

/* ------------------------------------------------------------ network */

struct peer {
	int nsfd;                 /* the peer namespace */
	int selffd;               /* this thread's own namespace */
	char subnet[32];          /* "10.213.S" */
};

/* a namespace of our own with lo up; 0 or -errno */
int peer_create(struct peer *p, const char *subnet);
void peer_destroy(struct peer *p);
/*
 * veth between the peer and the namespace of pid (the container):
 * container eth0 = SUBNET.1/24, peer = SUBNET.2/24 plus SUBNET.3 .. .9.
 * ip is iproute2's binary. 0 or -errno (msg says which step).
 */
int peer_link(struct peer *p, pid_t ctr_pid, const char *ip, char *msg, size_t msgn);
/* a TCP listener in the peer namespace on SUBNET.<host>:port; fd or -errno */
int peer_listen(struct peer *p, int host, int port);
/* a TCP socket made in the peer namespace (not connected); fd or -errno */
int peer_socket(struct peer *p);
/* accept one connection within timeout_ms; fd or -errno */
int tcp_accept_tmo(int lfd, int timeout_ms);
/* non-blocking connect with timeout on fd: 0 or -errno (-ETIMEDOUT) */
int tcp_connect_tmo(int fd, const char *ip, int port, int timeout_ms);
/* wait up to timeout_ms for data; bytes read (0: eof), -ETIMEDOUT, -errno */
ssize_t recv_tmo(int fd, char *buf, size_t n, int timeout_ms);
/* run argv (argv[0] absolute) in the net namespace of fd; exit status or -errno */
int run_in_netns(int nsfd, char *const argv[], char *out, size_t outn);

/* ------------------------------------------------------------ journal */

struct cj_action {
	const char *incident;
	const char *time_ns;
	const char *action, *phase, *target, *result, *detail;
	int dry_run;              /* -1 absent */
	const cJSON *obj;         /* the "action" object */
};

#define CJ_MAX_ACTIONS 256
/* the action records of incident id (NULL: every incident), in file order */
size_t cj_actions(const struct sj *j, const char *id, struct cj_action *out, size_t max);
/* incidents for a container id (in journal order); how many */
size_t cj_incidents_for(const struct sj *j, const char *container_id, struct sj_incident **out,
			size_t max);
/* one line per action, for failure messages (static buffer) */
const char *cj_describe(const struct cj_action *a, size_t n);

/* ------------------------------------------------------------ misc */

/* cgroup.events "frozen" of a cgroup directory: 0, 1, or -1 */
int cg_frozen(const char *dir);
/* utime+stime of pid in clock ticks, or -1 */
long long proc_cpu_ticks(pid_t pid);
/* run argv, capture stdout and stderr (each up to n bytes); exit status or -errno */
int run_capture(char *const argv[], char *out, size_t outn, char *err, size_t errn, int timeout_ms);
uint64_t mono_ns(void);
/*
 * `nodeguard run` agents on the node other than pid except. Agents share the
 * pinned state under /sys/fs/bpf/nodeguard (kill rules, protected cgroups,
 * isolation, deny tables): a second one interferes, and an uninstall takes
 * its enforcement away. `nodeguard trace` pins nothing and does not count.
 */
int ng_other_agents(pid_t except);
void msleep(int ms);

#endif
