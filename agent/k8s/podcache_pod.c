// SPDX-License-Identifier: Apache-2.0
/*
 * Pod decoding for the pod cache: a Pod object (JSON from the API) into a
 * struct pod_info, bounded by the cache's options; container ids; and a
 * pod_info back out as JSON. No cache state here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonget.h"
#include "podcache_int.h"

#define LABEL_KEY_MAX 320     /* prefix (253) + '/' + name (63) */
#define LABEL_VAL_MAX 256     /* 63 by validation */
#define IMAGE_MAX 1024

const char *pod_ctr_kind_name(enum pod_ctr_kind k)
{
	switch (k) {
	case POD_CTR_INIT:
		return "init";
	case POD_CTR_EPHEMERAL:
		return "ephemeral";
	default:
		return "regular";
	}
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 64 hex digits into id (lowercase); false if s is not exactly that */
bool pod_hex64(const char *s, char id[65])
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!is_hex(s[i]))
			return false;
		id[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
	}
	if (s[64])
		return false;
	id[64] = '\0';
	return true;
}

int pod_parse_container_id(const char *s, char runtime[16], char id[65])
{
	const char *sep;
	size_t i, n;

	runtime[0] = id[0] = '\0';
	if (!s)
		return -EINVAL;
	sep = strstr(s, "://");
	if (!sep)
		return -EINVAL;
	n = (size_t)(sep - s);
	if (!n || n >= 16)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return -EINVAL;
	if (!pod_hex64(sep + 3, id)) {
		id[0] = '\0';
		return -EINVAL;
	}
	memcpy(runtime, s, n);
	runtime[n] = '\0';
	return 0;
}

/* ---------------------------------------------------------------- pod_info */

void pod_info_clear(struct pod_info *p)
{
	size_t i;

	for (i = 0; i < p->nlabels; i++) {
		free(p->labels[i].key);
		free(p->labels[i].value);
	}
	free(p->labels);
	for (i = 0; i < p->ncontainers; i++)
		free(p->containers[i].image);
	free(p->containers);
	memset(p, 0, sizeof(*p));
}

/* copy s into dst[n]; false if it does not fit (or s is NULL) */
bool pod_cp_exact(char *dst, size_t n, const char *s)
{
	size_t l;

	dst[0] = '\0';
	if (!s)
		return false;
	l = strlen(s);
	if (l >= n)
		return false;
	memcpy(dst, s, l + 1);
	return true;
}

/* copy s (NULL: "") cut to dst[n] */
static void cp_cut(char *dst, size_t n, const char *s)
{
	size_t l = s ? strnlen(s, n - 1) : 0;

	if (l)
		memcpy(dst, s, l);
	dst[l] = '\0';
}

static char *dup_cut(const char *s, size_t max)
{
	return strndup(s ? s : "", max);
}

static const cJSON *status_named(const cJSON *statuses, const char *name)
{
	const cJSON *st;

	cJSON_ArrayForEach(st, (cJSON_IsArray(statuses) ? statuses : NULL)) {
		const char *n = jget_str(st, "name");

		if (n && !strcmp(n, name))
			return st;
	}
	return NULL;
}

static void status_ids(struct pod_container *c, const cJSON *st)
{
	const cJSON *last = cJSON_GetObjectItemCaseSensitive(st, "lastState");
	const cJSON *term = cJSON_GetObjectItemCaseSensitive(last, "terminated");
	char rt[16], id[65];

	if (!pod_parse_container_id(jget_str(st, "containerID"), rt, id)) {
		memcpy(c->runtime, rt, sizeof(rt));
		memcpy(c->id, id, sizeof(id));
	}
	if (!pod_parse_container_id(jget_str(term, "containerID"), rt, id) && strcmp(id, c->id)) {
		memcpy(c->prev_id, id, sizeof(id));
		if (!c->runtime[0])
			memcpy(c->runtime, rt, sizeof(rt));
	}
}

static int add_container(const struct podcache_opts *o, struct pod_info *p, const char *name,
			 const char *image, enum pod_ctr_kind kind, const cJSON *st)
{
	struct pod_container *c;

	if (p->ncontainers >= o->max_containers) {
		p->containers_truncated = true;
		return 0;
	}
	c = &p->containers[p->ncontainers];
	memset(c, 0, sizeof(*c));
	cp_cut(c->name, sizeof(c->name), name);
	c->kind = kind;
	c->image = dup_cut(image, IMAGE_MAX);
	if (!c->image)
		return -ENOMEM;
	if (st)
		status_ids(c, st);
	p->ncontainers++;
	return 0;
}

/* spec containers of one kind, matched by name to their statuses */
static int parse_containers(const struct podcache_opts *o, struct pod_info *p, const cJSON *spec_arr,
			    const cJSON *status_arr, enum pod_ctr_kind kind)
{
	const cJSON *c, *st;
	int rc;

	if (spec_arr && !cJSON_IsArray(spec_arr) && !cJSON_IsNull(spec_arr))
		return -EBADMSG;
	if (status_arr && !cJSON_IsArray(status_arr) && !cJSON_IsNull(status_arr))
		return -EBADMSG;
	cJSON_ArrayForEach(c, (cJSON_IsArray(spec_arr) ? spec_arr : NULL)) {
		const char *name = jget_str(c, "name");

		if (!cJSON_IsObject(c) || !name)
			return -EBADMSG;
		st = status_named(status_arr, name);
		rc = add_container(o, p, name,
				   jget_str(c, "image") ? jget_str(c, "image")
							: jget_str(st, "image"),
				   kind, st);
		if (rc)
			return rc;
	}
	/* statuses without a spec entry (should not happen): keep their ids */
	cJSON_ArrayForEach(st, (cJSON_IsArray(status_arr) ? status_arr : NULL)) {
		const char *name = jget_str(st, "name");
		const cJSON *sc;
		bool found = false;

		if (!name)
			continue;
		cJSON_ArrayForEach(sc, (cJSON_IsArray(spec_arr) ? spec_arr : NULL)) {
			const char *n = jget_str(sc, "name");

			if (n && !strcmp(n, name)) {
				found = true;
				break;
			}
		}
		if (!found) {
			rc = add_container(o, p, name, jget_str(st, "image"), kind, st);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void pick_owner(struct pod_info *p, const cJSON *owners)
{
	const cJSON *o, *pick = NULL;

	cJSON_ArrayForEach(o, (cJSON_IsArray(owners) ? owners : NULL)) {
		if (!cJSON_IsObject(o) || !jget_str(o, "kind") || !jget_str(o, "name"))
			continue;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "controller"))) {
			pick = o;
			break;
		}
		if (!pick)
			pick = o;
	}
	if (pick) {
		cp_cut(p->owner_kind, sizeof(p->owner_kind), jget_str(pick, "kind"));
		cp_cut(p->owner_name, sizeof(p->owner_name), jget_str(pick, "name"));
	}
}

static size_t array_len(const cJSON *a)
{
	return cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
}

int pod_info_parse(const struct podcache_opts *o, const cJSON *pod, struct pod_info *p)
{
	const cJSON *md, *spec, *status, *labels, *l;
	size_t i, nc;
	int rc;

	memset(p, 0, sizeof(*p));
	md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
	spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	status = cJSON_GetObjectItemCaseSensitive(pod, "status");
	if (!cJSON_IsObject(pod) || !cJSON_IsObject(md))
		return -EBADMSG;
	if ((spec && !cJSON_IsObject(spec)) || (status && !cJSON_IsObject(status) && !cJSON_IsNull(status)))
		return -EBADMSG;
	if (!pod_cp_exact(p->namespace, sizeof(p->namespace), jget_str(md, "namespace")) ||
	    !p->namespace[0] || !pod_cp_exact(p->name, sizeof(p->name), jget_str(md, "name")) ||
	    !p->name[0] || !pod_cp_exact(p->uid, sizeof(p->uid), jget_str(md, "uid")) || !p->uid[0])
		return -EBADMSG;
	for (i = 0; p->uid[i]; i++)
		if (p->uid[i] >= 'A' && p->uid[i] <= 'Z')
			p->uid[i] = (char)(p->uid[i] - 'A' + 'a');
	p->terminating = jget_str(md, "deletionTimestamp") != NULL;
	cp_cut(p->node, sizeof(p->node), jget_str(spec, "nodeName"));
	cp_cut(p->service_account, sizeof(p->service_account),
	       jget_str(spec, "serviceAccountName") ? jget_str(spec, "serviceAccountName")
						: jget_str(spec, "serviceAccount"));
	cp_cut(p->phase, sizeof(p->phase), jget_str(status, "phase"));
	pick_owner(p, cJSON_GetObjectItemCaseSensitive(md, "ownerReferences"));

	labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
	if (labels && !cJSON_IsObject(labels) && !cJSON_IsNull(labels))
		return -EBADMSG;
	if (cJSON_IsObject(labels)) {
		size_t want = (size_t)cJSON_GetArraySize(labels);

		if (want > o->max_labels) {
			want = o->max_labels;
			p->labels_truncated = true;
		}
		p->labels = want ? calloc(want, sizeof(*p->labels)) : NULL;
		if (want && !p->labels)
			return -ENOMEM;
		cJSON_ArrayForEach(l, labels) {
			if (!cJSON_IsString(l) || !l->string)
				continue;
			if (p->nlabels >= want) {
				p->labels_truncated = true;
				break;
			}
			p->labels[p->nlabels].key = dup_cut(l->string, LABEL_KEY_MAX);
			p->labels[p->nlabels].value = dup_cut(l->valuestring, LABEL_VAL_MAX);
			p->nlabels++;
			if (!p->labels[p->nlabels - 1].key || !p->labels[p->nlabels - 1].value)
				return -ENOMEM;
		}
	}

	nc = array_len(cJSON_GetObjectItemCaseSensitive(spec, "initContainers")) +
	     array_len(cJSON_GetObjectItemCaseSensitive(spec, "containers")) +
	     array_len(cJSON_GetObjectItemCaseSensitive(spec, "ephemeralContainers")) +
	     array_len(cJSON_GetObjectItemCaseSensitive(status, "initContainerStatuses")) +
	     array_len(cJSON_GetObjectItemCaseSensitive(status, "containerStatuses")) +
	     array_len(cJSON_GetObjectItemCaseSensitive(status, "ephemeralContainerStatuses"));
	if (nc > o->max_containers)
		nc = o->max_containers;
	p->containers = nc ? calloc(nc, sizeof(*p->containers)) : NULL;
	if (nc && !p->containers)
		return -ENOMEM;
	rc = parse_containers(o, p, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"),
			      cJSON_GetObjectItemCaseSensitive(status, "initContainerStatuses"), POD_CTR_INIT);
	if (!rc)
		rc = parse_containers(o, p, cJSON_GetObjectItemCaseSensitive(spec, "containers"),
				      cJSON_GetObjectItemCaseSensitive(status, "containerStatuses"),
				      POD_CTR_REGULAR);
	if (!rc)
		rc = parse_containers(o, p, cJSON_GetObjectItemCaseSensitive(spec, "ephemeralContainers"),
				      cJSON_GetObjectItemCaseSensitive(status, "ephemeralContainerStatuses"),
				      POD_CTR_EPHEMERAL);
	return rc;
}

/* ---------------------------------------------------------------- JSON */

void pod_info_json(const struct pod_info *p, int ctr, struct jsonw *w)
{
	size_t i;

	jsonw_obj_open(w);
	jsonw_kv_str(w, "namespace", p->namespace);
	jsonw_kv_str(w, "name", p->name);
	jsonw_kv_str(w, "uid", p->uid);
	if (p->node[0])
		jsonw_kv_str(w, "node", p->node);
	if (p->service_account[0])
		jsonw_kv_str(w, "service_account", p->service_account);
	if (p->owner_kind[0]) {
		jsonw_key(w, "owner");
		jsonw_obj_open(w);
		jsonw_kv_str(w, "kind", p->owner_kind);
		jsonw_kv_str(w, "name", p->owner_name);
		jsonw_obj_close(w);
	}
	jsonw_key(w, "labels");
	jsonw_obj_open(w);
	for (i = 0; i < p->nlabels; i++)
		jsonw_kv_str(w, p->labels[i].key, p->labels[i].value);
	jsonw_obj_close(w);
	if (p->labels_truncated)
		jsonw_kv_bool(w, "labels_truncated", true);
	if (ctr >= 0 && (size_t)ctr < p->ncontainers) {
		const struct pod_container *c = &p->containers[ctr];

		jsonw_kv_str(w, "container", c->name);
		jsonw_kv_str(w, "image", c->image);
		if (c->kind != POD_CTR_REGULAR)
			jsonw_kv_str(w, "container_kind", pod_ctr_kind_name(c->kind));
	}
	if (p->deleted)
		jsonw_kv_bool(w, "deleted", true);
	jsonw_obj_close(w);
}

char *pod_info_json_str(const struct pod_info *p, int ctr)
{
	struct jsonw w;
	char *s = NULL;

	if (!p)
		return NULL;
	jsonw_init(&w);
	pod_info_json(p, ctr, &w);
	if (jsonw_str(&w))
		s = strdup(jsonw_str(&w));
	jsonw_free(&w);
	return s;
}
