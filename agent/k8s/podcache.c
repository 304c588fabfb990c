// SPDX-License-Identifier: Apache-2.0
/*
 * Pod cache: this node's pods from a list+watch, indexed by container id and
 * pod UID (two chained hash tables), with a grace period for deleted pods.
 * Pod objects are decoded by podcache_pod.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "nodeguard/fnv.h"
#include "clock.h"
#include "errptr.h"
#include "podcache_int.h"

struct pod_entry {
	struct pod_info info;
	uint64_t gen;                  /* list generation it was last seen in */
	struct pod_entry *uid_next;    /* uid hash chain */
	LIST_ENTRY(pod_entry) all;     /* every entry */
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
	LIST_HEAD(, pod_entry) all;
	size_t npods, ndeleted, nctr;
	uint64_t gen;
	struct podcache_stats st;
};

static size_t hash_str(const char *s)
{
	uint64_t h = ng_fnv1a_more(NG_FNV_OFFSET, s, strlen(s));

	return (size_t)(h ^ (h >> 32));
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 64;

	while (p < n && p < ((size_t)1 << 30))
		p <<= 1;
	return p;
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
	LIST_REMOVE(pe, all);
	if (pe->info.deleted)
		pc->ndeleted--;
	else
		pc->npods--;
	pod_info_clear(&pe->info);
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
	LIST_FOREACH(e, &pc->all, all)
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
	uint64_t now = clock_mono_ms();
	int rc;

	if (!pc || !pod)
		return -EINVAL;
	if (t == K8S_EV_BOOKMARK)
		return 0;
	rc = pod_info_parse(&pc->o, pod, &p);
	if (rc) {
		pod_info_clear(&p);
		if (rc == -EBADMSG)
			pc->st.malformed++;
		return rc;
	}
	if (pc->node && strcmp(p.node, pc->node)) {
		pod_info_clear(&p);
		pc->st.other_node++;
		return -EXDEV;
	}
	pe = find_uid(pc, p.uid);
	if (pe) {
		bool was_deleted = pe->info.deleted;
		uint64_t del_ms = pe->info.deleted_ms;

		ctr_unindex(pc, pe);
		pod_info_clear(&pe->info);
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
		pod_info_clear(&p);
		pc->st.dropped_full++;
		return -ENOSPC;
	}
	pe = calloc(1, sizeof(*pe));
	if (!pe) {
		pod_info_clear(&p);
		return -ENOMEM;
	}
	pe->info = p;
	pe->gen = pc->gen;
	LIST_INSERT_HEAD(&pc->all, pe, all);
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
	uint64_t now = clock_mono_ms();

	if (!pc)
		return;
	LIST_FOREACH(e, &pc->all, all)
		if (!e->info.deleted && e->gen != pc->gen)
			mark_deleted(pc, e, now);
	pc->st.synced = true;
}

size_t podcache_expire(struct podcache *pc)
{
	struct pod_entry *e, *next;
	uint64_t now = clock_mono_ms();
	size_t n = 0;

	if (!pc)
		return 0;
	for (e = LIST_FIRST(&pc->all); e; e = next) {
		next = LIST_NEXT(e, all);
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

	if (!o || (client && (!o->node_name || !*o->node_name)))
		return errno_null(EINVAL);
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return errno_null(ENOMEM);
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
		return errno_null(EINVAL);
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
			return errno_null(EINVAL);
		}
		wo.field_selector = fsel;
		pc->w = k8s_watch_new(client, &wo, &h);
		if (!pc->w) {
			e = errno;
			podcache_free(pc);
			return errno_null(e);
		}
	} else {
		pc->st.synced = true; /* fed by hand: as complete as its caller makes it */
	}
	return pc;
nomem:
	podcache_free(pc);
	return errno_null(ENOMEM);
}

void podcache_free(struct podcache *pc)
{
	size_t i;

	if (!pc)
		return;
	k8s_watch_free(pc->w);
	while (!LIST_EMPTY(&pc->all))
		entry_remove(pc, LIST_FIRST(&pc->all));
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
	if (!pod_hex64(id, norm))
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

	if (!pc || !uid || !pod_cp_exact(norm, sizeof(norm), uid) || !norm[0])
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

	for (e = pc ? LIST_FIRST(&pc->all) : NULL; e; e = LIST_NEXT(e, all), n++)
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
	LIST_FOREACH(e, &pc->all, all) {
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
