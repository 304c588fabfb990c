/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs `nodeguard trace --json ...` for the integration tests: start it, wait
 * until it says it is tracing, read its JSON lines as they come (stdout goes
 * to a file, so a slow reader never blocks the agent), stop it with SIGINT.
 */
#ifndef NG_IT_AGENT_H
#define NG_IT_AGENT_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define AGENT_MAX_IDS 64

struct agent {
	pid_t pid;
	char out_path[4096], err_path[4096];
	int out_fd;                    /* read side of the stdout file */
	char *partial;                 /* a line not yet terminated */
	size_t partial_len;
	cJSON **ev;                    /* every parsed line, in order (stats too) */
	size_t nev, cap;
	size_t bad_lines;              /* lines that were not a JSON object */
	char first_bad[512];
	cJSON *stats;                  /* the final {"kind":"stats"} line */
	int exit_status;               /* wait(2) status, -1 while running */
	/*
	 * The view agent_find/agent_count/agent_wait search: events from index
	 * `from` on, and only those of cgroup `cgroup` when non-zero. Pids
	 * wrap fast on a busy node (pid_max may be 32768); an event of an
	 * earlier process that had the same pid must not match.
	 */
	size_t from;
	uint64_t cgroup;
	/* BPF objects the agent held while running (from /proc/<pid>/fdinfo) */
	uint32_t prog_ids[AGENT_MAX_IDS], link_ids[AGENT_MAX_IDS];
	int nprogs, nlinks;
};

/*
 * Start bin with "trace --json" and extra args (NULL-terminated); wait up to
 * timeout_ms for "nodeguard: info: tracing" on its stderr. Files go to dir.
 */
int agent_start(struct agent *a, const char *bin, const char *const extra[], const char *dir,
		int timeout_ms);
/* parse lines written so far; number of new events, or -errno */
int agent_poll(struct agent *a);
/*
 * Wait until an event of kind for pid has arrived (polling the output);
 * the event, or NULL on timeout.
 */
cJSON *agent_wait(struct agent *a, const char *kind, pid_t pid, int timeout_ms);
/* SIGINT, wait up to timeout_ms (then SIGKILL and -ETIMEDOUT), read the rest */
int agent_stop(struct agent *a, int timeout_ms);
/* record the prog and link ids held by the running agent */
int agent_snapshot_bpf(struct agent *a);
void agent_free(struct agent *a);

/* restrict the view to events that arrive from now on, in cgroup (0: any) */
void agent_scope(struct agent *a, uint64_t cgroup);
/* the nth event of kind (NULL: any) from pid (0: any), within the view */
cJSON *agent_find(const struct agent *a, const char *kind, pid_t pid, int nth);
size_t agent_count(const struct agent *a, const char *kind, pid_t pid);
/* the stderr text so far (static buffer) */
const char *agent_stderr(const struct agent *a);
/* print the events of pid (0: all) to out, for failure messages */
void agent_dump(const struct agent *a, pid_t pid, FILE *out);

/* small cJSON accessors: missing or mistyped fields read as sentinel values */
int64_t js_int(const cJSON *o, const char *key);      /* INT64_MIN if absent */
const char *js_str(const cJSON *o, const char *key);  /* NULL if absent */
int js_bool(const cJSON *o, const char *key);         /* -1 if absent */
const cJSON *js_obj(const cJSON *o, const char *key); /* NULL if absent */

#endif
