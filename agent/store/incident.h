/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Incidents: detections correlated per container (or per host process tree)
 * within a window, with an ordered timeline, process tree, attribution,
 * severity escalation, status and (later) actions.
 *
 * Every change is written to the journal as one delta record (see
 * docs/journal.md); replaying the records with incident_mgr_apply_record rebuilds
 * the same incidents, which is how the agent restores open incidents and how
 * nodeguardctl reads them.
 */
#ifndef NODEGUARD_INCIDENT_H
#define NODEGUARD_INCIDENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"
#include "policy.h"

#define INC_MAX_ENTRIES 256
#define INC_MAX_PROCS 128
#define INC_MAX_ACTIONS 128
#define INC_MAX_CATS 16

enum inc_status { INC_OPEN = 0, INC_CONTAINED, INC_RELEASED, INC_CLOSED };

struct inc_proc {
	uint32_t pid, ppid;
	uint32_t uid, euid;
	uint64_t start_ns;
	char *exe;
	char *cmdline;
};

struct inc_entry {
	uint64_t first_ns, last_ns;  /* wall clock ns */
	uint32_t count;              /* identical repeats included */
	char *source;                /* "kernel" or "k8s" */
	char *rule;
	enum ng_severity severity;
	char *category;
	char **mitre;
	size_t nmitre;
	char *summary;
	uint32_t pid;
	char *fingerprint;           /* what makes a repeat identical */
	char *event_json;            /* the raw event fields, one JSON object */
	uint64_t journaled_count;    /* count last written to the journal */
	uint64_t journaled_ns;
};

struct inc_action {
	uint64_t ts_ns;
	char *action;                /* "isolate", ... */
	char *phase;                 /* "intent", "result", "release" */
	char *target;
	char *result;                /* "ok", "failed", "would", "suppressed" */
	char *detail;                /* error text, undo data summary, who released */
	char *undo;                  /* JSON object an API action's undo needs, or NULL */
	bool dry_run;
};

struct inc_attr {                    /* attribution */
	bool is_container;
	char runtime[16];
	char container_id[65];
	char pod_uid[37];
	char qos[16];
	char cgroup_path[512];
	uint64_t cgroup_id;
	char *pod_namespace, *pod_name;  /* NULL until the pod is known */
	char *pod_json;                  /* extra pod fields as one JSON object, or NULL */
};

/*
 * The correlation key (docs/incidents.md), made here and nowhere else:
 * "ctr:<container id>" for a container, "cg:<cgroup id>" for a task in its
 * own namespaces whose cgroup is not container-shaped, "host:<pid>:<start>"
 * for a host process tree (its root just below PID 1; start in boot ns, 0
 * when the process table does not know the tree); for cluster Events,
 * "pod:<uid>" before any container of the pod is known and "node:<name>".
 */
#define INC_KEY_MAX 128
struct inc_key_of {
	const char *container_id;  /* non-empty: a container */
	const char *pod_uid;       /* else non-empty: a pod none of whose containers is known */
	const char *node;          /* else non-empty: the node itself (a cluster Event about it) */
	bool is_container;         /* else, in its own namespaces: its cgroup */
	uint64_t cgroup_id;
	uint32_t root_pid;         /* else the host tree's root */
	uint64_t root_start_ns;
};
void incident_key(char *key, size_t n, const struct inc_key_of *k);
/* a host process tree's key */
bool incident_key_is_host(const char *key);

struct incident {
	char id[48];
	char *node;
	char key[128];                   /* correlation key: ctr:<id> or host:<pid>:<start> */
	enum inc_status status;
	enum ng_severity severity;       /* after escalation */
	enum ng_severity max_detection;  /* highest single detection */
	char *severity_reason;
	uint64_t first_ns, last_ns;      /* wall clock ns */
	struct inc_attr attr;
	struct inc_proc *procs;
	size_t nprocs;
	uint64_t procs_dropped;
	struct inc_entry *entries;
	size_t nentries;
	uint64_t entries_dropped;
	struct inc_action *actions;
	size_t nactions;
	char *cats[INC_MAX_CATS];        /* categories, in order of first appearance */
	size_t ncats;
	struct incident *next;
};

/* What a detection brings; strings are copied. */
struct inc_detection {
	const char *source;              /* "kernel" / "k8s" */
	const char *rule;
	enum ng_severity severity;
	const char *category;
	const struct strlist *mitre;
	uint64_t wall_ns;
	const char *summary;
	const char *fingerprint;
	const char *event_json;          /* may be NULL */
	uint32_t pid;
	const char *key;
	const struct inc_attr *attr;
	const struct inc_proc *tree;     /* ancestry, the acting process first */
	size_t ntree;
};

/* writes one journal record; returns 0 once it is written */
typedef int (*inc_write_fn)(const char *line, size_t len, void *ctx);

struct incident_mgr_opts {
	const char *node;
	uint32_t window_s;
	inc_write_fn write;              /* NULL: in-memory only (nodeguardctl) */
	void *write_ctx;
};

struct incmgr;

struct incmgr *incident_mgr_new(const struct incident_mgr_opts *o);
void incident_mgr_free(struct incmgr *m);
void incident_mgr_set_window(struct incmgr *m, uint32_t window_s);

/* Join the open incident with the same key within the window, or open one.
 * *out is the incident; *opened tells whether it is new. 0, or -errno when
 * the journal write failed (the in-memory incident is still updated), or
 * -ENOSPC when the timeline is full (INC_MAX_ENTRIES): the detection is only
 * counted in entries_dropped, and has no journal record. */
int incident_mgr_detect(struct incmgr *m, const struct inc_detection *d, struct incident **out,
		  bool *opened);
/* record an action on an incident (intent, result, release) */
int incident_mgr_action(struct incmgr *m, struct incident *inc, const struct inc_action *a);
/* change status (contained, released, closed) with a reason */
int incident_mgr_set_status(struct incmgr *m, struct incident *inc, enum inc_status st, const char *reason,
		      uint64_t wall_ns);
/* close open incidents idle for longer than the window; returns how many */
int incident_mgr_tick(struct incmgr *m, uint64_t wall_ns);
/* write a snapshot record of every open incident (after a journal rotation) */
int incident_mgr_snapshot_open(struct incmgr *m);

/* rebuild from one journal record; unknown record types are ignored (0),
 * malformed ones return -EBADMSG and change nothing */
int incident_mgr_apply_record(struct incmgr *m, const cJSON *rec);

/* an "agent" journal record (no incident): what this agent run enforces
 * where, so a reader of the journal knows how a later kill was carried out */
struct inc_agent_start {
	const char *node;
	const char *policy;       /* source of the running policy */
	size_t rules;
	bool kill_in_kernel;      /* the sensors hold the kill evaluation */
	const char *kill_reason;  /* why not, when not */
	uint32_t kill_rules_kernel; /* kill rules compiled into the kernel */
	uint32_t kill_rules_user;   /* kill rules acted on from user space */
};
int incident_mgr_write_start(struct incmgr *m, uint64_t wall_ns, const struct inc_agent_start *s);

struct incident *incident_mgr_find(struct incmgr *m, const char *id);
/* id or a unique prefix of it */
struct incident *incident_mgr_find_prefix(struct incmgr *m, const char *prefix);
struct incident *incident_mgr_first(struct incmgr *m);   /* oldest first */
size_t incident_mgr_count(const struct incmgr *m, bool open_only);

/* What of an incident's actions is still in effect: an ok result after its
 * intent, with no release of the same action and target since. A result
 * re-applied (by reconcile) with the same intent detail counts once, as the
 * newest. Records with a field missing match nothing. */
struct inc_active {
	size_t intent, result;   /* indexes into inc->actions */
};
/* the same action (name) on the same target */
bool incident_action_same(const struct inc_action *a, const struct inc_action *b);
/* the actions in effect, oldest result first, at most max of them (which
 * are in effect does not depend on max); returns how many were stored */
size_t incident_actions_active(const struct incident *inc, struct inc_active *out, size_t max);
/* an action with this name and target (and intent detail, unless NULL) in effect? */
bool incident_action_in_effect(const struct incident *inc, const char *action, const char *target,
			       const char *detail);

/* the whole incident as one JSON object */
void incident_to_json(const struct incident *inc, struct jsonw *w);
const char *incident_status_name(enum inc_status s);
int incident_status_from_name(const char *s);

#endif
