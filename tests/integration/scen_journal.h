/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scenario tests' own reader of the agent's incident journal
 * (docs/incidents.md): it replays the JSON lines of <dir>/journal.jsonl with
 * cJSON, independently of agent/store/incident.c, so the tests check what was
 * written, not what the agent's reader makes of it.
 */
#ifndef NG_IT_SCEN_JOURNAL_H
#define NG_IT_SCEN_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define SJ_MAX_DET 512

struct sj_det {
	uint64_t entry;
	const char *rule, *severity, *category, *summary;
	uint64_t count;             /* 1 + repeats seen in repeat/status records */
	const cJSON *event;         /* the raw event, or NULL */
};

struct sj_incident {
	const char *id;
	const char *node, *key;
	const cJSON *attribution;   /* from the open record */
	const char *container_id, *pod_uid, *runtime, *cgroup_id;
	const char *severity;       /* the last severity record, NULL if none */
	const char *severity_reason;
	const char *status;         /* the last status record, "open" if none */
	struct sj_det det[SJ_MAX_DET];
	size_t ndet;
	size_t nrepeat_recs;
	size_t nrecords;            /* every record of this incident */
};

struct sj {
	cJSON **recs;               /* every parsed line, in file order */
	size_t nrecs, cap;
	size_t malformed;           /* lines that were not a JSON object */
	size_t orphans;             /* records of an incident never opened */
	size_t bad_refs;            /* repeat/detection with an impossible entry */
	size_t agent_starts;        /* well-formed "agent" start records */
	struct sj_incident *inc;
	size_t ninc;
};

/* replay path; 0, or -errno when it cannot be read */
int sj_load(struct sj *j, const char *path);
void sj_free(struct sj *j);

struct sj_incident *sj_find(struct sj *j, const char *id);
/* incidents whose attribution names this container id (or cgroup id) */
size_t sj_count_for(const struct sj *j, const char *container_id, uint64_t cgroup_id);
struct sj_incident *sj_first_for(struct sj *j, const char *container_id);
/* incidents whose last status is open or contained */
size_t sj_count_open(const struct sj *j);
/* the detection of inc with this rule and summary, or NULL */
const struct sj_det *sj_find_det(const struct sj_incident *inc, const char *rule, const char *summary);
/* a one-line description of inc, for failure messages (static buffer) */
const char *sj_describe(const struct sj_incident *inc);

#endif
