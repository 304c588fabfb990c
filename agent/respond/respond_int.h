/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The responder's private state and what its files share; respond.h is the
 * public API. Included only by the files of agent/respond/, one a concern:
 *
 *   respond.c    lifecycle, kill placement, the actions of a detection or of
 *                a request by hand (act_one), the periodic tick
 *   decide.c     the guardrail decision and its rate windows (pure, tested
 *                without root)
 *   record.c     the incident side: which incident a cgroup or process is
 *                on, its action records, which actions are in effect
 *   storm.c      storm control: non-actions and kernel refusals journaled
 *                as a burst a minute, the rest counted
 *   contain.c    containment on cgroups and kernel maps: kill from user
 *                space, deny, isolate (and isolate_allow), freeze,
 *                kill-container; cgroup files and CIDR helpers
 *   cgset.c      the set of container cgroups compiled deny rules saw
 *   denyset.c    deny rules compiled into every container's entries
 *   k8sact.c     Kubernetes actions through the API action queue
 *   enforced.c   what the kernel enforced by itself (NG_EV_ENFORCE)
 *   release.c    releasing (undoing) the actions of an incident or container
 *   reconcile.c  the pinned state against the journal after a restart
 *
 * Cross-file functions carry the prefix of their file; everything else is
 * static.
 */
#ifndef NODEGUARD_RESPOND_INT_H
#define NODEGUARD_RESPOND_INT_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>

#include "clock.h"
#include "jsonget.h" /* the fields of an intent's undo data (its detail, JSON) */
#include "jsonw.h"
#include "respond.h"

#define NS_PER_S 1000000000ull
#define QUIET_WINDOW_NS (60ull * NS_PER_S) /* non-actions: a burst per minute ... */
#define QUIET_BURST 10                     /* ... of this many records, then counted */
#define QUIET_FLUSH_NS (5ull * NS_PER_S)   /* counted ones journaled this late at most */
#define ACTION_RESERVE 16                  /* action slots kept for release records */
#define QUIET_MAX 256
#define ENFSEEN_MAX 256
#define DENY_ENTRIES_MAX 256
#define CDENY_CIDRS_MAX 64                 /* CIDRs of a deny rule compiled per container */
#define SWEEP_NS (30ull * NS_PER_S)        /* gone containers' compiled entries dropped */
/* ng_deny_val.rule_id of an entry compiled from the policy (not an action) */
#define DENY_COMPILED (1u << 31)

enum outcome { O_OK, O_FAILED, O_WOULD, O_SUPPRESSED, O_REFUSED, O_SKIPPED, O_NOOP };

/*
 * A slot of a storm table (struct quiet, struct enfseen; the first member
 * of each): records of one kind on one incident, QUIET_BURST a minute, the
 * rest counted and journaled as one record ("(N more since T)") within
 * QUIET_FLUSH_NS.
 */
struct burst {
	uint64_t last_use;         /* 0: a free slot */
	char inc[48];
	uint64_t win_start;        /* monotonic ns: the minute's start */
	uint32_t in_win;           /* records journaled in this minute */
	uint32_t hidden;           /* counted, not journaled yet */
	uint64_t hidden_mono, hidden_wall; /* the first of them */
	/* the last counted one, journaled for all of them */
	char target[128];
	char det[512];
};

/* non-actions (would / suppressed / refused) of one rule and action */
struct quiet {
	struct burst b;
	uint32_t action;
	char rule[132];
	int verdict;
	char *undo;                /* of the last counted one */
	bool dry;
};

/* kernel refusals (deny / isolate) of one cgroup, action and rule */
struct enfseen {
	struct burst b;
	uint64_t cg;
	uint32_t action, rule_id;
};

_Static_assert(offsetof(struct quiet, b) == 0, "storm_slot reads a slot's burst first");
_Static_assert(offsetof(struct enfseen, b) == 0, "storm_slot reads a slot's burst first");

/* a deny rule the kernel evaluates exactly: compiled per container */
struct cdeny {
	uint32_t rule_id;
	char name[132];
	struct cidr cidrs[2 * CDENY_CIDRS_MAX]; /* with the v4-mapped twins */
	size_t ncidrs;
	struct port_range ports[NG_DENY_PORTS_MAX];
	size_t nports;
	uint8_t protocol;
};

/* container cgroups the compiled deny rules were considered for */
struct cgset {
	uint64_t *id;              /* open addressing, 0 = empty */
	char **path;
	bool *compiled;            /* entries installed (not a guardrail skip) */
	size_t cap, n;
};

struct responder {
	int (*open_incident)(void *ctx, const struct inc_detection *d, struct incident **inc,
			     bool *opened);       /* detection's: incidents are made there */
	void *open_ctx;
	const struct policy *pol;
	struct enforcer *enf;
	struct incmgr *im;
	struct container_cache *ctr;
	char cgroup2[PATH_MAX];
	char self_path[PATH_MAX];
	struct resp_self self;
	struct resp_rates *rates;
	bool kernel_kill;
	uint8_t *kkill;            /* per rule index: its kill runs in the kernel */
	size_t nkkill;
	struct quiet quiet[QUIET_MAX];
	struct enfseen enf_seen[ENFSEEN_MAX];
	int64_t boot_off;          /* realtime - boottime, for kernel timestamps */
	struct cdeny *cd;          /* compiled deny rules of the policy */
	size_t ncd;
	struct cgset seen;
	uint64_t last_sweep;
	struct jsonw w;
	struct apiq *q;            /* Kubernetes actions; NULL: no API */
};

struct deny_plan {
	uint64_t cgid;         /* 0: node-wide */
	struct cidr cidrs[DENY_ENTRIES_MAX];
	size_t n;
	struct port_range ports[NG_DENY_PORTS_MAX];
	size_t nports;
	uint8_t protocol;
};

static inline void cg_dir(const struct responder *r, const char *rel, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s", r->cgroup2, rel);
}

/* ---------------------------------------------------------------- record.c */

int record_undo(struct responder *r, struct incident *inc, const char *action,
		const char *phase, const char *target, const char *result, const char *detail,
		const char *undo, bool dry);

static inline int rec(struct responder *r, struct incident *inc, const char *action,
		      const char *phase, const char *target, const char *result,
		      const char *detail, bool dry)
{
	return record_undo(r, inc, action, phase, target, result, detail, NULL, dry);
}

/* room for one more intent/result pair, keeping slots for releases */
static inline bool have_room(const struct incident *inc)
{
	return inc->nactions + 2 + ACTION_RESERVE <= INC_MAX_ACTIONS;
}

void record_contained(struct responder *r, struct incident *inc, const char *action,
		      const char *rule);
void record_target_str(uint32_t act, const struct resp_target *t, bool node_wide, char *buf,
		       size_t n);
struct incident *record_find_by_key(struct responder *r, const char *key);
void record_attr_of(struct inc_attr *a, const struct ctr_info *ci, uint64_t cgid, bool is_ctr);
struct incident *record_incident_for(struct responder *r, uint64_t cgid, bool hdr_container,
				     uint32_t pid, const char *host_key, struct ctr_info *ci,
				     bool *have_ci, char *key, size_t keyn);

/* ---------------------------------------------------------------- storm.c */

void storm_quiet_flush(struct responder *r, struct quiet *q);
bool storm_journal_quiet(struct responder *r, struct incident *inc, uint32_t action,
			 const char *rule, int verdict, const char *target, const char *undo,
			 const char *det, bool dry);
bool storm_decide(struct responder *r, const struct resp_case *c, struct incident *inc,
		  uint32_t act, const struct rule *ru, const char *target, const char *undo,
		  enum outcome *out, char *msg, size_t msgn);
void storm_enf_flush(struct responder *r, struct enfseen *e);
void *storm_slot(void *slots, size_t n, size_t size, bool (*same)(const void *slot, const void *want),
		 const void *want, bool *fresh);
bool storm_burst_minute(struct burst *b, uint64_t now);
bool storm_burst_admit(struct burst *b, uint64_t now, const char *target, const char *det);

/* ---------------------------------------------------------------- decide.c */

int decide_path_depth(const char *p);
bool decide_path_contains(const char *anc, const char *p);

/* ---------------------------------------------------------------- contain.c */

struct cidr contain_v4mapped(const struct cidr *c);
int contain_write_cg_file(const char *dir, const char *file, const char *val);
ssize_t contain_read_file(const char *path, char *buf, size_t n);
bool contain_cgroup_alive(struct responder *r, uint64_t cgid, const char *rel);
bool contain_cg_frozen_file(const char *dir, const char *file, const char *want);
int contain_deny_plan(const struct rule *ru, const struct resp_target *t, bool node_wide,
		      struct deny_plan *p, char *err, size_t errn);
void contain_deny_json(struct jsonw *w, const struct deny_plan *p);
int contain_deny(struct responder *r, const struct deny_plan *p, uint32_t rule_id, char *det,
		 size_t detn);
int contain_isolate(struct responder *r, uint64_t cgid, const char *rel, uint32_t rule_id,
		    char *det, size_t detn);
int contain_freeze(struct responder *r, const char *rel, char *det, size_t detn);
int contain_kill_container(struct responder *r, const char *rel, char *det, size_t detn);
int contain_kill_pid(struct responder *r, const struct resp_target *t, char *det, size_t detn);
void contain_apply_allow(struct responder *r);

/* ---------------------------------------------------------------- cgset.c */

long cgset_find(const struct cgset *s, uint64_t id);
int cgset_add(struct cgset *s, uint64_t id, const char *path, bool compiled);
void cgset_filter(struct cgset *s, bool (*keep)(struct responder *, uint64_t, const char *, bool),
		  struct responder *r);
void cgset_free(struct cgset *s);

/* ---------------------------------------------------------------- denyset.c */

void denyset_apply(struct responder *r);
bool denyset_seen_alive(struct responder *r, uint64_t cgid, const char *path, bool compiled);
bool denyset_in_kernel(const struct responder *r, const struct rule *ru, uint64_t cgid);

/* ---------------------------------------------------------------- k8sact.c */

int k8sact_push(struct responder *r, enum apiq_kind kind, const char *inc, const char *action,
		const char *target, const char *args);
int k8sact_act_one(struct responder *r, const struct rule *ru, uint32_t act,
		   struct incident *inc, const struct resp_target *t, const char *who,
		   enum outcome *out, char *msg, size_t msgn);

/* ---------------------------------------------------------------- release.c */

int release_undo_one(struct responder *r, const struct inc_action *in, const char **result,
		     char *det, size_t detn);

#endif
