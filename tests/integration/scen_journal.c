// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scen_journal.h"

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int u64(const cJSON *o, const char *k, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0)
		return -1;
	*out = (uint64_t)v->valuedouble;
	return 0;
}

struct sj_incident *sj_find(struct sj *j, const char *id)
{
	size_t i;

	for (i = 0; id && i < j->ninc; i++)
		if (!strcmp(j->inc[i].id, id))
			return &j->inc[i];
	return NULL;
}

static int add_rec(struct sj *j, cJSON *o)
{
	if (j->nrecs == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 256;
		cJSON **n = realloc(j->recs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		j->recs = n;
		j->cap = cap;
	}
	j->recs[j->nrecs++] = o;
	return 0;
}

static void apply(struct sj *j, const cJSON *r)
{
	const char *type = str(r, "rec"), *id = str(r, "incident");
	struct sj_incident *inc;
	uint64_t idx = 0, count = 0;

	if (type && !strcmp(type, "agent")) {
		/* an agent run's start record: no incident; where kills happen */
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(r, "kill");
		const char *where = str(k, "where");

		if (!str(r, "event") || !where || (strcmp(where, "kernel") && strcmp(where, "user-space")))
			j->malformed++;
		else
			j->agent_starts++;
		return;
	}
	if (!type || !id) {
		j->malformed++;
		return;
	}
	inc = sj_find(j, id);
	if (!strcmp(type, "open")) {
		struct sj_incident *n;

		if (inc)
			return;
		n = realloc(j->inc, (j->ninc + 1) * sizeof(*n));
		if (!n)
			return;
		j->inc = n;
		inc = &j->inc[j->ninc++];
		memset(inc, 0, sizeof(*inc));
		inc->id = id;
		inc->node = str(r, "node");
		inc->key = str(r, "key");
		inc->attribution = cJSON_GetObjectItemCaseSensitive(r, "attribution");
		inc->container_id = str(inc->attribution, "container_id");
		inc->pod_uid = str(inc->attribution, "pod_uid");
		inc->runtime = str(inc->attribution, "runtime");
		inc->cgroup_id = str(inc->attribution, "cgroup_id");
		inc->status = "open";
		inc->nrecords = 1;
		return;
	}
	if (!inc) {
		j->orphans++;
		return;
	}
	inc->nrecords++;
	if (!strcmp(type, "detection")) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "detection");
		struct sj_det *x;

		if (u64(r, "entry", &idx) || idx != inc->ndet || inc->ndet >= SJ_MAX_DET || !d) {
			j->bad_refs++;
			return;
		}
		x = &inc->det[inc->ndet++];
		x->entry = idx;
		x->rule = str(d, "rule");
		x->severity = str(d, "severity");
		x->category = str(d, "category");
		x->summary = str(d, "summary");
		x->count = 1;
		if (!u64(d, "count", &count) && count > x->count)
			x->count = count;
		x->event = cJSON_GetObjectItemCaseSensitive(d, "event");
	} else if (!strcmp(type, "repeat")) {
		inc->nrepeat_recs++;
		if (u64(r, "entry", &idx) || idx >= inc->ndet || u64(r, "count", &count)) {
			j->bad_refs++;
			return;
		}
		if (count > inc->det[idx].count)
			inc->det[idx].count = count;
	} else if (!strcmp(type, "severity")) {
		inc->severity = str(r, "severity");
		inc->severity_reason = str(r, "reason");
	} else if (!strcmp(type, "status")) {
		const cJSON *it, *counts = cJSON_GetObjectItemCaseSensitive(r, "counts");
		size_t i = 0;

		inc->status = str(r, "status");
		cJSON_ArrayForEach(it, counts) {
			if (i < inc->ndet && cJSON_IsNumber(it) && it->valuedouble > inc->det[i].count)
				inc->det[i].count = (uint64_t)it->valuedouble;
			i++;
		}
	}
}

int sj_load(struct sj *j, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, i;
	ssize_t n;

	memset(j, 0, sizeof(*j));
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		cJSON *o;

		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n)
			continue;
		o = cJSON_ParseWithLength(line, (size_t)n);
		if (!o || !cJSON_IsObject(o) || add_rec(j, o)) {
			cJSON_Delete(o);
			j->malformed++;
		}
	}
	free(line);
	fclose(f);
	/* incidents point into the records: replay once all are parsed */
	for (i = 0; i < j->nrecs; i++)
		apply(j, j->recs[i]);
	return 0;
}

void sj_free(struct sj *j)
{
	size_t i;

	for (i = 0; i < j->nrecs; i++)
		cJSON_Delete(j->recs[i]);
	free(j->recs);
	free(j->inc);
	memset(j, 0, sizeof(*j));
}

size_t sj_count_for(const struct sj *j, const char *container_id, uint64_t cgroup_id)
{
	char cg[24];
	size_t i, n = 0;

	snprintf(cg, sizeof(cg), "%" PRIu64, cgroup_id);
	for (i = 0; i < j->ninc; i++) {
		const struct sj_incident *x = &j->inc[i];

		if ((container_id && x->container_id && !strcmp(x->container_id, container_id)) ||
		    (cgroup_id && x->cgroup_id && !strcmp(x->cgroup_id, cg)))
			n++;
	}
	return n;
}

struct sj_incident *sj_first_for(struct sj *j, const char *container_id)
{
	size_t i;

	for (i = 0; i < j->ninc; i++)
		if (j->inc[i].container_id && !strcmp(j->inc[i].container_id, container_id))
			return &j->inc[i];
	return NULL;
}

size_t sj_count_open(const struct sj *j)
{
	size_t i, n = 0;

	for (i = 0; i < j->ninc; i++)
		if (j->inc[i].status &&
		    (!strcmp(j->inc[i].status, "open") || !strcmp(j->inc[i].status, "contained")))
			n++;
	return n;
}

const struct sj_det *sj_find_det(const struct sj_incident *inc, const char *rule, const char *summary)
{
	size_t i;

	for (i = 0; inc && i < inc->ndet; i++)
		if (inc->det[i].rule && inc->det[i].summary && !strcmp(inc->det[i].rule, rule) &&
		    !strcmp(inc->det[i].summary, summary))
			return &inc->det[i];
	return NULL;
}

const char *sj_describe(const struct sj_incident *inc)
{
	static char buf[4096];
	size_t off = 0, i;

	if (!inc)
		return "(no incident)";
	off += (size_t)snprintf(buf, sizeof(buf), "%s [%s, %s] ctr %.12s:", inc->id,
				inc->severity ? inc->severity : "?", inc->status ? inc->status : "?",
				inc->container_id ? inc->container_id : "?");
	for (i = 0; i < inc->ndet && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, " %s(%s,%s)x%" PRIu64,
					inc->det[i].rule ? inc->det[i].rule : "?",
					inc->det[i].severity ? inc->det[i].severity : "?",
					inc->det[i].category ? inc->det[i].category : "?",
					inc->det[i].count);
	return buf;
}
