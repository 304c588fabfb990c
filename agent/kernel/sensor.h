/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loads the BPF objects, picks attach points from the probed features,
 * attaches, and turns ring-buffer records into struct ng_event callbacks.
 */
#ifndef NODEGUARD_SENSOR_H
#define NODEGUARD_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "probe.h"
#include "vlog.h"

enum sensor_creds_mode { CREDS_AUTO = 0, CREDS_TRACEPOINTS, CREDS_RAW_SYSCALLS };

struct sensor_opts {
	bool trace_host;        /* emit host processes too */
	uint32_t argv_max;      /* argv bytes per exec, <= NG_ARGV_MAX */
	uint32_t ringbuf_bytes; /* power of two, >= page size */
	enum sensor_creds_mode creds_mode;
	bool no_net;            /* do not attach the network sensors */
	const char *pin_dir;    /* pin the kill-rule maps here (NULL: not pinned) */
	bool noop_creds;        /* also report set*id/capset calls that changed nothing */
	bool kernel_kill;       /* compile the in-kernel kill evaluation into the sensors
				 * (dropped again if this kernel refuses it) */
	bool load_only;         /* load (verify) but do not attach or seed: probe */
};

#define SENSOR_PROGS_MAX 64
#define SENSOR_WHY_MAX VLOG_WHY_MAX

/* return non-zero to stop polling */
typedef int (*sensor_event_fn)(const struct ng_event *ev, void *ctx);

struct sensor;

/* load and attach everything; NULL with errno set, reason in errbuf */
struct sensor *sensor_open(const struct sensor_opts *opts, const struct ng_features *feat,
			   sensor_event_fn cb, void *ctx, char *errbuf, size_t errlen);
/* wait up to timeout_ms and dispatch; events handled, or -errno */
int sensor_poll(struct sensor *s, int timeout_ms);
/* deliver records of another ring buffer (the enforcer's) through the same callback */
int sensor_add_ringbuf(struct sensor *s, int map_fd);
/* FNV-1a 64 of a path, as the kernel hashes exec paths (nodeguard/fnv.h) */
uint64_t ng_fnv1a(const char *s, size_t n);
/* fd of a map of the sensors by name (ng_kill_rules, ng_protected, ...) */
int sensor_map_fd(struct sensor *s, const char *name);
/* fd of the task-state map (tid -> struct ng_taskstate) */
int sensor_tasks_fd(struct sensor *s);
/* the fd to add to an epoll set */
int sensor_fd(struct sensor *s);
/* counters summed over CPUs, indexed by enum ng_kind */
int sensor_counters(struct sensor *s, struct ng_counter out[NG_EV_KIND_MAX]);
/* records the decoder rejected */
uint64_t sensor_decode_errors(const struct sensor *s);
/* "tracepoint/syscalls/..." or "tp_btf/sys_enter+sys_exit (fallback)" */
const char *sensor_creds_attach(const struct sensor *s);
/* the programs loaded, in load order */
const struct prog_cost *sensor_progs(const struct sensor *s, size_t *n);
/* false if the kill evaluation is not in the kernel (why: the verifier's
 * refusal, or "not requested"); kill rules then act from user space */
bool sensor_kill_in_kernel(const struct sensor *s, const char **why);
/* detach and free; accepts NULL */
void sensor_free(struct sensor *s);

#endif
