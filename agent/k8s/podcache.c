// SPDX-License-Identifier: Apache-2.0
/*
 * Pod cache: this node's pods from a list+watch, indexed by container id and
 * pod UID (two chained hash tables), with a grace period for deleted pods.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podcache.h"

#define LABEL_KEY_MAX 320     /* prefix (253) + '/' + name (63) */
#define LABEL_VAL_MAX 256     /* 63 by validation */
#define IMAGE_MAX 1024

struct pod_entry {
	struct pod_info info;
	uint64_t gen;                  /* list generation it was last seen in */
	struct pod_entry *uid_next;    /* uid hash chain */
	struct pod_entry *prev, *next; /* every entry */
};

struct cidx {
	struct cidx *next;
	char id[65];
	struct pod_entry *pe;
	int idx;
	bool prev;                     /* indexed from lastState (a restarted container) */
};

struct podcache {
	struct podcache_opts o;
	char *node;
	struct k8s_watch *w;
	struct pod_entry **uid_tab;
	size_t uid_nb;
	struct cidx **ctr_tab;
	size_t ctr_nb;
	struct pod_entry *head;
	size_t npods, ndeleted, nctr;
	uint64_t gen;
	struct podcache_stats st;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return (size_t)(h ^ (h >> 32));
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 64;

	while (p < n && p < ((size_t)1 << 30))
		p <<= 1;
	return p;
}

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
static bool hex64(const char *s, char id[65])
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
	if (!hex64(sep + 3, id)) {
		id[0] = '\0';
		return -EINVAL;
	}
	memcpy(runtime, s, n);
	runtime[n] = '\0';
	return 0;
}

/* ---------------------------------------------------------------- pod_info */

static void info_clear(struct pod_info *p)
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

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* copy s into dst[n]; false if it does not fit (or s is NULL) */
static bool cp_exact(char *dst, size_t n, const char *s)
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
		const char *n = jstr(st, "name");

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

	if (!pod_parse_container_id(jstr(st, "containerID"), rt, id)) {
		memcpy(c->runtime, rt, sizeof(rt));
		memcpy(c->id, id, sizeof(id));
	}
	if (!pod_parse_container_id(jstr(term, "containerID"), rt, id) && strcmp(id, c->id)) {
		memcpy(c->prev_id, id, sizeof(id));
		if (!c->runtime[0])
			memcpy(c->runtime, rt, sizeof(rt));
	}
}

static int add_container(const struct podcache *pc, struct pod_info *p, const char *name,
			 const char *image, enum pod_ctr_kind kind, const cJSON *st)
{
	struct pod_container *c;

	if (p->ncontainers >= pc->o.max_containers) {
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
static int parse_containers(const struct podcache *pc, struct pod_info *p, const cJSON *spec_arr,
			    const cJSON *status_arr, enum pod_ctr_kind kind)
{
	const cJSON *c, *st;
	int rc;

	if (spec_arr && !cJSON_IsArray(spec_arr) && !cJSON_IsNull(spec_arr))
		return -EBADMSG;
	if (status_arr && !cJSON_IsArray(status_arr) && !cJSON_IsNull(status_arr))
		return -EBADMSG;
	cJSON_ArrayForEach(c, (cJSON_IsArray(spec_arr) ? spec_arr : NULL)) {
		const char *name = jstr(c, "name");

		if (!cJSON_IsObject(c) || !name)
			return -EBADMSG;
		st = status_named(status_arr, name);
		rc = add_container(pc, p, name, jstr(c, "image") ? jstr(c, "image") : jstr(st, "image"),
				   kind, st);
		if (rc)
			return rc;
	}
	/* statuses without a spec entry (should not happen): keep their ids */
	cJSON_ArrayForEach(st, (cJSON_IsArray(status_arr) ? status_arr : NULL)) {
		const char *name = jstr(st, "name");
		const cJSON *sc;
		bool found = false;

		if (!name)
			continue;
		cJSON_ArrayForEach(sc, (cJSON_IsArray(spec_arr) ? spec_arr : NULL)) {
			const char *n = jstr(sc, "name");

			if (n && !strcmp(n, name)) {
				found = true;
				break;
			}
		}
		if (!found) {
			rc = add_container(pc, p, name, jstr(st, "image"), kind, st);
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
		if (!cJSON_IsObject(o) || !jstr(o, "kind") || !jstr(o, "name"))
			continue;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "controller"))) {
			pick = o;
			break;
		}
		if (!pick)
			pick = o;
	}
	if (pick) {
		cp_cut(p->owner_kind, sizeof(p->owner_kind), jstr(pick, "kind"));
		cp_cut(p->owner_name, sizeof(p->owner_name), jstr(pick, "name"));
	}
}

static size_t array_len(const cJSON *a)
{
	return cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
}

static int parse_pod(const struct podcache *pc, const cJSON *pod, struct pod_info *p)
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
	if (!cp_exact(p->namespace, sizeof(p->namespace), jstr(md, "namespace")) || !p->namespace[0] ||
	    !cp_exact(p->name, sizeof(p->name), jstr(md, "name")) || !p->name[0] ||
	    !cp_exact(p->uid, sizeof(p->uid), jstr(md, "uid")) || !p->uid[0])
		return -EBADMSG;
	for (i = 0; p->uid[i]; i++)
		if (p->uid[i] >= 'A' && p->uid[i] <= 'Z')
			p->uid[i] = (char)(p->uid[i] - 'A' + 'a');
	p->terminating = jstr(md, "deletionTimestamp") != NULL;
	cp_cut(p->node, sizeof(p->node), jstr(spec, "nodeName"));
	cp_cut(p->service_account, sizeof(p->service_account),
	       jstr(spec, "serviceAccountName") ? jstr(spec, "serviceAccountName")
						: jstr(spec, "serviceAccount"));
	cp_cut(p->phase, sizeof(p->phase), jstr(status, "phase"));
	pick_owner(p, cJSON_GetObjectItemCaseSensitive(md, "ownerReferences"));

	labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
	if (labels && !cJSON_IsObject(labels) && !cJSON_IsNull(labels))
		return -EBADMSG;
	if (cJSON_IsObject(labels)) {
		size_t want = (size_t)cJSON_GetArraySize(labels);

		if (want > pc->o.max_labels) {
			want = pc->o.max_labels;
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
	if (nc > pc->o.max_containers)
		nc = pc->o.max_containers;
	p->containers = nc ? calloc(nc, sizeof(*p->containers)) : NULL;
	if (nc && !p->containers)
		return -ENOMEM;
	rc = parse_containers(pc, p, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"),
			      cJSON_GetObjectItemCaseSensitive(status, "initContainerStatuses"), POD_CTR_INIT);
	if (!rc)
		rc = parse_containers(pc, p, cJSON_GetObjectItemCaseSensitive(spec, "containers"),
				      cJSON_GetObjectItemCaseSensitive(status, "containerStatuses"),
				      POD_CTR_REGULAR);
	if (!rc)
		rc = parse_containers(pc, p, cJSON_GetObjectItemCaseSensitive(spec, "ephemeralContainers"),
				      cJSON_GetObjectItemCaseSensitive(status, "ephemeralContainerStatuses"),
				      POD_CTR_EPHEMERAL);
	return rc;
}

/* ---------------------------------------------------------------- indexes */

static struct pod_entry *find_uid(const struct podcache *pc, const char *uid)
{
	struct pod_entry *e;

	for (e = pc->uid_tab[hash_str(uid) & (pc->uid_nb - 1)]; e; e = e->uid_next)
		if (!strcmp(e->info.uid, uid))
			return e;
	return NULL;
}

static void uid_unlink(struct podcache *pc, struct pod_entry *pe)
{
	struct pod_entry **pp = &pc->uid_tab[hash_str(pe->info.uid) & (pc->uid_nb - 1)];

	for (; *pp; pp = &(*pp)->uid_next)
		if (*pp == pe) {
			*pp = pe->uid_next;
			return;
		}
}

static struct cidx *find_ctr(const struct podcache *pc, const char *id)
{
	struct cidx *x;

	for (x = pc->ctr_tab[hash_str(id) & (pc->ctr_nb - 1)]; x; x = x->next)
		if (!strcmp(x->id, id))
			return x;
	return NULL;
}

static void ctr_unindex(struct podcache *pc, struct pod_entry *pe)
{
	size_t i;
	int k;

	for (i = 0; i < pe->info.ncontainers; i++) {
		const char *ids[2] = { pe->info.containers[i].id, pe->info.containers[i].prev_id };

		for (k = 0; k < 2; k++) {
			struct cidx **pp;

			if (!ids[k][0])
				continue;
			for (pp = &pc->ctr_tab[hash_str(ids[k]) & (pc->ctr_nb - 1)]; *pp; pp = &(*pp)->next)
				if ((*pp)->pe == pe && !strcmp((*pp)->id, ids[k])) {
					struct cidx *x = *pp;

					*pp = x->next;
					free(x);
					pc->nctr--;
					break;
				}
		}
	}
}

static void ctr_index(struct podcache *pc, struct pod_entry *pe)
{
	size_t i;
	int k;

	for (i = 0; i < pe->info.ncontainers; i++) {
		const char *ids[2] = { pe->info.containers[i].id, pe->info.containers[i].prev_id };

		for (k = 0; k < 2; k++) {
			struct cidx *x;
			size_t b;

			if (!ids[k][0])
				continue;
			x = find_ctr(pc, ids[k]);
			if (x) {
				/* a current id wins over a previous one, then the newest pod */
				if (x->pe != pe)
					pc->st.id_conflicts++;
				if (k == 1 && !x->prev)
					continue;
				x->pe = pe;
				x->idx = (int)i;
				x->prev = k == 1;
				continue;
			}
			x = calloc(1, sizeof(*x));
			if (!x)
				continue;   /* unindexed: still found by pod UID */
			memcpy(x->id, ids[k], sizeof(x->id));
			x->pe = pe;
			x->idx = (int)i;
			x->prev = k == 1;
			b = hash_str(x->id) & (pc->ctr_nb - 1);
			x->next = pc->ctr_tab[b];
			pc->ctr_tab[b] = x;
			pc->nctr++;
		}
	}
}

static void entry_remove(struct podcache *pc, struct pod_entry *pe)
{
	ctr_unindex(pc, pe);
	uid_unlink(pc, pe);
	if (pe->prev)
		pe->prev->next = pe->next;
	else
		pc->head = pe->next;
	if (pe->next)
		pe->next->prev = pe->prev;
	if (pe->info.deleted)
		pc->ndeleted--;
	else
		pc->npods--;
	info_clear(&pe->info);
	free(pe);
}

static void mark_deleted(struct podcache *pc, struct pod_entry *pe, uint64_t now)
{
	if (pe->info.deleted)
		return;
	pe->info.deleted = true;
	pe->info.deleted_ms = now;
	pc->npods--;
	pc->ndeleted++;
}

/* make room for one more pod: drop the deleted pod seen gone first */
static bool make_room(struct podcache *pc)
{
	struct pod_entry *e, *old = NULL;

	if (pc->npods + pc->ndeleted < pc->o.max_pods)
		return true;
	for (e = pc->head; e; e = e->next)
		if (e->info.deleted && (!old || e->info.deleted_ms < old->info.deleted_ms))
			old = e;
	if (!old)
		return false;
	entry_remove(pc, old);
	pc->st.purged++;
	return true;
}

/* ---------------------------------------------------------------- cache */

int podcache_apply(struct podcache *pc, enum k8s_event_type t, const cJSON *pod)
{
	struct pod_info p;
	struct pod_entry *pe;
	uint64_t now = mono_ms();
	int rc;

	if (!pc || !pod)
		return -EINVAL;
	if (t == K8S_EV_BOOKMARK)
		return 0;
	rc = parse_pod(pc, pod, &p);
	if (rc) {
		info_clear(&p);
		if (rc == -EBADMSG)
			pc->st.malformed++;
		return rc;
	}
	if (pc->node && strcmp(p.node, pc->node)) {
		info_clear(&p);
		pc->st.other_node++;
		return -EXDEV;
	}
	pe = find_uid(pc, p.uid);
	if (pe) {
		bool was_deleted = pe->info.deleted;
		uint64_t del_ms = pe->info.deleted_ms;

		ctr_unindex(pc, pe);
		info_clear(&pe->info);
		pe->info = p;
		if (t == K8S_EV_DELETED) {
			pe->info.deleted = was_deleted;
			pe->info.deleted_ms = del_ms;
			mark_deleted(pc, pe, now);
		} else if (was_deleted) {
			pc->ndeleted--;
			pc->npods++;
		}
		pe->gen = pc->gen;
		ctr_index(pc, pe);
		pc->st.applied++;
		return 0;
	}
	if (!make_room(pc)) {
		info_clear(&p);
		pc->st.dropped_full++;
		return -ENOSPC;
	}
	pe = calloc(1, sizeof(*pe));
	if (!pe) {
		info_clear(&p);
		return -ENOMEM;
	}
	pe->info = p;
	pe->gen = pc->gen;
	pe->next = pc->head;
	if (pc->head)
		pc->head->prev = pe;
	pc->head = pe;
	{
		size_t b = hash_str(pe->info.uid) & (pc->uid_nb - 1);

		pe->uid_next = pc->uid_tab[b];
		pc->uid_tab[b] = pe;
	}
	pc->npods++;
	if (t == K8S_EV_DELETED)   /* first seen deleted: still resolvable for a while */
		mark_deleted(pc, pe, now);
	ctr_index(pc, pe);
	pc->st.applied++;
	return 0;
}

void podcache_list_begin(struct podcache *pc)
{
	if (pc)
		pc->gen++;
}

void podcache_list_end(struct podcache *pc)
{
	struct pod_entry *e;
	uint64_t now = mono_ms();

	if (!pc)
		return;
	for (e = pc->head; e; e = e->next)
		if (!e->info.deleted && e->gen != pc->gen)
			mark_deleted(pc, e, now);
	pc->st.synced = true;
}

size_t podcache_expire(struct podcache *pc)
{
	struct pod_entry *e, *next;
	uint64_t now = mono_ms();
	size_t n = 0;

	if (!pc)
		return 0;
	for (e = pc->head; e; e = next) {
		next = e->next;
		if (e->info.deleted && now - e->info.deleted_ms >= pc->o.grace_ms) {
			entry_remove(pc, e);
			n++;
		}
	}
	pc->st.purged += n;
	return n;
}

/* ---------------------------------------------------------------- watch glue */

static void h_begin(void *ctx)
{
	podcache_list_begin(ctx);
}

static void h_object(void *ctx, enum k8s_event_type t, const cJSON *obj)
{
	podcache_apply(ctx, t, obj);
}

static void h_end(void *ctx)
{
	podcache_list_end(ctx);
}

static void h_error(void *ctx, int err, long status, const char *msg)
{
	struct podcache *pc = ctx;

	if (pc->o.on_error)
		pc->o.on_error(pc->o.ctx, err, status, msg);
}

struct podcache *podcache_new(struct k8s_client *client, const struct podcache_opts *o)
{
	struct podcache *pc;
	int e;

	if (!o || (client && (!o->node_name || !*o->node_name))) {
		errno = EINVAL;
		return NULL;
	}
	pc = calloc(1, sizeof(*pc));
	if (!pc) {
		errno = ENOMEM;
		return NULL;
	}
	pc->o = *o;
	if (!pc->o.grace_ms)
		pc->o.grace_ms = POD_GRACE_MS_DEFAULT;
	if (!pc->o.max_pods)
		pc->o.max_pods = POD_MAX_PODS_DEFAULT;
	if (!pc->o.max_containers)
		pc->o.max_containers = POD_MAX_CONTAINERS_DEFAULT;
	if (!pc->o.max_labels)
		pc->o.max_labels = POD_MAX_LABELS_DEFAULT;
	if (pc->o.max_pods > (1u << 20) || pc->o.max_containers > 4096 || pc->o.max_labels > 4096) {
		free(pc);
		errno = EINVAL;
		return NULL;
	}
	pc->o.watch = NULL;
	if (o->node_name && !(pc->node = strdup(o->node_name)))
		goto nomem;
	pc->o.node_name = pc->node;
	pc->uid_nb = pow2_at_least(pc->o.max_pods * 2);
	pc->ctr_nb = pow2_at_least(pc->o.max_pods * 4);
	pc->uid_tab = calloc(pc->uid_nb, sizeof(*pc->uid_tab));
	pc->ctr_tab = calloc(pc->ctr_nb, sizeof(*pc->ctr_tab));
	if (!pc->uid_tab || !pc->ctr_tab)
		goto nomem;
	if (client) {
		struct k8s_watch_opts wo = { 0 };
		struct k8s_watch_handler h = { .on_list_begin = h_begin, .on_object = h_object,
					       .on_list_end = h_end, .on_error = h_error, .ctx = pc };
		char fsel[300];

		if (o->watch)
			wo = *o->watch;
		wo.path = "/api/v1/pods";
		if ((size_t)snprintf(fsel, sizeof(fsel), "spec.nodeName=%s", pc->node) >= sizeof(fsel)) {
			podcache_free(pc);
			errno = EINVAL;
			return NULL;
		}
		wo.field_selector = fsel;
		pc->w = k8s_watch_new(client, &wo, &h);
		if (!pc->w) {
			e = errno;
			podcache_free(pc);
			errno = e;
			return NULL;
		}
	} else {
		pc->st.synced = true; /* fed by hand: as complete as its caller makes it */
	}
	return pc;
nomem:
	podcache_free(pc);
	errno = ENOMEM;
	return NULL;
}

void podcache_free(struct podcache *pc)
{
	size_t i;

	if (!pc)
		return;
	k8s_watch_free(pc->w);
	while (pc->head)
		entry_remove(pc, pc->head);
	if (pc->ctr_tab)
		for (i = 0; i < pc->ctr_nb; i++)
			while (pc->ctr_tab[i]) {
				struct cidx *x = pc->ctr_tab[i];

				pc->ctr_tab[i] = x->next;
				free(x);
			}
	free(pc->ctr_tab);
	free(pc->uid_tab);
	free(pc->node);
	free(pc);
}

int podcache_poll(struct podcache *pc, int timeout_ms)
{
	int rc = 0;

	if (!pc)
		return -EINVAL;
	if (pc->w)
		rc = k8s_watch_poll(pc->w, timeout_ms);
	podcache_expire(pc);
	return rc;
}

int podcache_fd(const struct podcache *pc)
{
	return pc && pc->w ? k8s_watch_fd(pc->w) : -EINVAL;
}

/* ---------------------------------------------------------------- lookups */

const struct pod_info *podcache_by_container(const struct podcache *pc, const char *id, int *ctr)
{
	char norm[65];
	const char *sep;
	struct cidx *x;

	if (ctr)
		*ctr = -1;
	if (!pc || !id)
		return NULL;
	sep = strstr(id, "://");
	if (sep)
		id = sep + 3;
	if (!hex64(id, norm))
		return NULL;
	x = find_ctr(pc, norm);
	if (!x)
		return NULL;
	if (ctr)
		*ctr = x->idx;
	return &x->pe->info;
}

const struct pod_info *podcache_by_uid(const struct podcache *pc, const char *uid)
{
	char norm[37];
	size_t i;
	struct pod_entry *pe;

	if (!pc || !uid || !cp_exact(norm, sizeof(norm), uid) || !norm[0])
		return NULL;
	for (i = 0; norm[i]; i++)
		if (norm[i] >= 'A' && norm[i] <= 'Z')
			norm[i] = (char)(norm[i] - 'A' + 'a');
	pe = find_uid(pc, norm);
	return pe ? &pe->info : NULL;
}

size_t podcache_foreach(const struct podcache *pc,
			void (*fn)(const struct pod_info *p, void *ctx), void *ctx)
{
	struct pod_entry *e;
	size_t n = 0;

	for (e = pc ? pc->head : NULL; e; e = e->next, n++)
		fn(&e->info, ctx);
	return n;
}

const struct pod_info *podcache_by_name(const struct podcache *pc, const char *ns,
					const char *name)
{
	const struct pod_info *found = NULL;
	struct pod_entry *e;

	if (!pc || !ns || !name || !*ns || !*name)
		return NULL;
	for (e = pc->head; e; e = e->next) {
		if (strcmp(e->info.namespace, ns) || strcmp(e->info.name, name))
			continue;
		if (!e->info.deleted)
			return &e->info;
		if (!found)
			found = &e->info;
	}
	return found;
}

const struct pod_info *podcache_resolve(const struct podcache *pc, const char *container_id,
					const char *pod_uid, int *ctr)
{
	const struct pod_info *p = NULL;

	if (ctr)
		*ctr = -1;
	if (container_id && *container_id)
		p = podcache_by_container(pc, container_id, ctr);
	if (!p && pod_uid && *pod_uid)
		p = podcache_by_uid(pc, pod_uid);
	return p;
}

void podcache_get_stats(const struct podcache *pc, struct podcache_stats *out)
{
	if (!pc || !out)
		return;
	*out = pc->st;
	out->pods = pc->npods;
	out->deleted = pc->ndeleted;
	out->containers = pc->nctr;
	if (pc->w)
		k8s_watch_get_stats(pc->w, &out->watch);
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
