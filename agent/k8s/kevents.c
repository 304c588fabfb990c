// SPDX-License-Identifier: Apache-2.0
/*
 * Cluster Events about this node's pods and its Node (see kevents.h).
 */
#include "nodeguard/event.h"
#include "nodeguard/fnv.h"
#include "errptr.h"
#include "jsonget.h"
#include "kevents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct dedup_ent {
	uint64_t key;
	uint32_t count;
	int32_t next;              /* bucket chain */
	bool used;
};

struct kevents {
	struct kevents_opts o;
	char *node;
	struct podcache *pc;
	struct k8s_watch *wp, *wn;
	int epfd;
	struct dedup_ent *ents;
	int32_t *buckets;
	size_t nb, pos;
	struct kevents_stats st;
	/* Pod Events that came before the pod cache's first LIST completed */
	struct parked { enum k8s_event_type t; cJSON *obj; } *park;
	size_t npark;
};

/* ------------------------------------------------------------------ helpers */

static uint64_t fnv1a(const char *a, const char *b)
{
	uint64_t h = ng_fnv1a_more(NG_FNV_OFFSET, a ? a : "", a ? strlen(a) : 0);

	h = ng_fnv1a_step(h, 0xff); /* separator */
	return ng_fnv1a_more(h, b ? b : "", b ? strlen(b) : 0);
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

static int32_t dedup_find(const struct kevents *k, uint64_t key)
{
	int32_t i;

	for (i = k->buckets[key & (k->nb - 1)]; i >= 0; i = k->ents[i].next)
		if (k->ents[i].key == key)
			return i;
	return -1;
}

static void dedup_unlink(struct kevents *k, int32_t idx)
{
	int32_t *pp = &k->buckets[k->ents[idx].key & (k->nb - 1)];

	while (*pp >= 0) {
		if (*pp == idx) {
			*pp = k->ents[idx].next;
			break;
		}
		pp = &k->ents[*pp].next;
	}
	k->ents[idx].used = false;
}

static void dedup_put(struct kevents *k, uint64_t key, uint32_t count)
{
	int32_t idx = dedup_find(k, key);
	size_t b;

	if (idx >= 0) {
		k->ents[idx].count = count;
		return;
	}
	idx = (int32_t)k->pos; /* oldest slot (FIFO eviction) */
	k->pos = (k->pos + 1) % k->o.max_dedup;
	if (k->ents[idx].used)
		dedup_unlink(k, idx);
	b = key & (k->nb - 1);
	k->ents[idx] = (struct dedup_ent){ .key = key, .count = count, .next = k->buckets[b],
					   .used = true };
	k->buckets[b] = idx;
}

/* copy with a bound; true if it was cut */
static bool cp(char *dst, size_t n, const char *s)
{
	size_t l = s ? strlen(s) : 0;
	bool cut = l >= n;

	if (cut)
		l = n - 1;
	if (l)
		memcpy(dst, s, l);
	dst[l] = 0;
	/* do not leave half a UTF-8 sequence at the cut */
	if (cut)
		while (l && ((unsigned char)dst[l - 1] & 0xc0) == 0x80)
			dst[--l] = 0;
	if (cut && l && ((unsigned char)dst[l - 1] & 0xc0) == 0xc0)
		dst[--l] = 0;
	return cut;
}

int kevent_parse_time(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *p;
	int64_t frac = 0, t;
	int digits = 0, off = 0;

	if (!s || !ms)
		return -EINVAL;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (!digits)
			return -EINVAL;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
		   p[2] <= '9' && p[3] == ':' && p[4] >= '0' && p[4] <= '9' && p[5] >= '0' &&
		   p[5] <= '9') {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = (int64_t)timegm(&tm);
	if (t == -1 && tm.tm_year != 69)
		return -EINVAL;
	*ms = (t - off) * 1000 + frac;
	return 0;
}

/* first parseable time among names; sets *from to the name */
static int64_t pick_time(const cJSON *ev, const cJSON *meta, const char *const *names,
			 const char **from)
{
	int64_t ms;
	bool bad = false;
	size_t i;

	for (i = 0; names[i]; i++) {
		const cJSON *o = strcmp(names[i], "creationTimestamp") ? ev : meta;
		const char *s = jget_str_check(o, names[i], &bad);

		if (s && *s && !kevent_parse_time(s, &ms)) {
			if (from)
				*from = names[i];
			return ms;
		}
	}
	if (from)
		*from = "";
	return 0;
}

/* ------------------------------------------------------------------ normalize */

static int normalize(const cJSON *ev, struct kevent *out)
{
	static const char *const last_names[] = { "lastTimestamp", "eventTime", "firstTimestamp",
						  "creationTimestamp", NULL };
	static const char *const first_names[] = { "firstTimestamp", "eventTime",
						   "creationTimestamp", NULL };
	const cJSON *meta, *inv, *src, *series, *cnt;
	const char *s;
	bool bad = false;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(ev))
		return -EBADMSG;
	meta = cJSON_GetObjectItemCaseSensitive(ev, "metadata");
	inv = cJSON_GetObjectItemCaseSensitive(ev, "involvedObject");
	if (!cJSON_IsObject(meta) || !cJSON_IsObject(inv))
		return -EBADMSG;

	s = jget_str_check(meta, "name", &bad);
	if (!s || !*s || cp(out->name, sizeof(out->name), s))
		return -EBADMSG;
	s = jget_str_check(meta, "namespace", &bad);
	if (!s || !*s || cp(out->namespace, sizeof(out->namespace), s))
		return -EBADMSG;
	if (cp(out->uid, sizeof(out->uid), jget_str_check(meta, "uid", &bad)))
		return -EBADMSG;
	s = jget_str_check(ev, "reason", &bad);
	if (!s || !*s)
		return -EBADMSG;
	cp(out->reason, sizeof(out->reason), s);
	cp(out->type, sizeof(out->type), jget_str_check(ev, "type", &bad));
	out->message_truncated =
		cp(out->message, sizeof(out->message), jget_str_check(ev, "message", &bad));

	s = jget_str_check(inv, "kind", &bad);
	if (!s || !*s || cp(out->kind, sizeof(out->kind), s))
		return -EBADMSG;
	s = jget_str_check(inv, "name", &bad);
	if (!s || !*s || cp(out->obj_name, sizeof(out->obj_name), s))
		return -EBADMSG;
	if (cp(out->obj_uid, sizeof(out->obj_uid), jget_str_check(inv, "uid", &bad)) ||
	    cp(out->obj_namespace, sizeof(out->obj_namespace),
	       jget_str_check(inv, "namespace", &bad)))
		return -EBADMSG;
	cp(out->field_path, sizeof(out->field_path), jget_str_check(inv, "fieldPath", &bad));

	src = cJSON_GetObjectItemCaseSensitive(ev, "source");
	if (cJSON_IsObject(src)) {
		cp(out->source_component, sizeof(out->source_component),
		   jget_str_check(src, "component", &bad));
		cp(out->source_host, sizeof(out->source_host), jget_str_check(src, "host", &bad));
	}
	if (!out->source_component[0])
		cp(out->source_component, sizeof(out->source_component),
		   jget_str_check(ev, "reportingComponent", &bad));
	if (!out->source_host[0])
		cp(out->source_host, sizeof(out->source_host),
		   jget_str_check(ev, "reportingInstance", &bad));

	out->count = 1;
	cnt = cJSON_GetObjectItemCaseSensitive(ev, "count");
	series = cJSON_GetObjectItemCaseSensitive(ev, "series");
	if (!cJSON_IsNumber(cnt) && cJSON_IsObject(series))
		cnt = cJSON_GetObjectItemCaseSensitive(series, "count");
	if (cnt && !cJSON_IsNull(cnt)) {
		if (!cJSON_IsNumber(cnt))
			return -EBADMSG;
		if (cnt->valuedouble >= 1 && cnt->valuedouble <= (double)UINT32_MAX)
			out->count = (uint32_t)cnt->valuedouble;
	}
	if (bad)
		return -EBADMSG;

	out->last_ms = pick_time(ev, meta, last_names, &out->last_from);
	if (!out->last_ms && cJSON_IsObject(series)) {
		/* events.k8s.io series without any of the above */
		s = jget_str_check(series, "lastObservedTime", &bad);
		if (s && !kevent_parse_time(s, &out->last_ms))
			out->last_from = "series.lastObservedTime";
	}
	out->first_ms = pick_time(ev, meta, first_names, NULL);
	if (!out->first_ms)
		out->first_ms = out->last_ms;
	return 0;
}

/* ------------------------------------------------------------------ apply */

static bool pod_cache_synced(const struct kevents *k)
{
	struct podcache_stats ps;

	podcache_get_stats(k->pc, &ps);
	return ps.synced;
}

/* the cache has synced: the parked Events again, in order */
static void unpark(struct kevents *k)
{
	size_t i, n = k->npark;

	if (!n || !pod_cache_synced(k))
		return;
	k->npark = 0;
	for (i = 0; i < n; i++) {
		kevents_apply(k, k->park[i].t, k->park[i].obj, false);
		cJSON_Delete(k->park[i].obj);
	}
}

int kevents_apply(struct kevents *k, enum k8s_event_type t, const cJSON *obj, bool node_watch)
{
	struct kevent ev;
	const struct pod_info *pod = NULL;
	uint64_t key;
	int32_t idx;

	if (!k)
		return -EINVAL;
	k->st.received++;
	if (t == K8S_EV_DELETED || t == K8S_EV_BOOKMARK) {
		k->st.ignored++;
		return 0;
	}
	if (normalize(obj, &ev)) {
		k->st.malformed++;
		return -EBADMSG;
	}
	if (!strcmp(ev.kind, "Node")) {
		if (!k->node || strcmp(ev.obj_name, k->node)) {
			k->st.other_node++;
			return 0;
		}
		ev.node_event = true;
	} else if (!strcmp(ev.kind, "Pod") && !node_watch) {
		if (k->pc) {
			if (ev.obj_uid[0])
				pod = podcache_by_uid(k->pc, ev.obj_uid);
			else
				pod = podcache_by_name(k->pc,
						       ev.obj_namespace[0] ? ev.obj_namespace
									   : ev.namespace,
						       ev.obj_name);
		}
		if (!pod && k->pc && k->npark < KEV_PARK_MAX && !pod_cache_synced(k)) {
			/* the pod may be this node's: decide once the cache is synced */
			cJSON *dup = cJSON_Duplicate(obj, true);

			if (dup) {
				k->park[k->npark].t = t;
				k->park[k->npark++].obj = dup;
				k->st.received--; /* counted when replayed */
				return 0;
			}
		}
		if (!pod) {
			k->st.other_node++;
			return 0;
		}
	} else {
		k->st.other_node++;
		return 0;
	}

	key = ev.uid[0] ? fnv1a(ev.uid, NULL) : fnv1a(ev.namespace, ev.name);
	idx = dedup_find(k, key);
	if (idx >= 0 && ev.count <= k->ents[idx].count) {
		k->st.duplicates++;
		return 0;
	}
	dedup_put(k, key, ev.count);
	k->st.delivered++;
	if (ev.node_event)
		k->st.node_events++;
	k->o.on_event(k->o.ctx, &ev, pod);
	return 1;
}

/* ------------------------------------------------------------------ watches */

static void h_pod_object(void *ctx, enum k8s_event_type t, const cJSON *obj)
{
	kevents_apply(ctx, t, obj, false);
}

static void h_node_object(void *ctx, enum k8s_event_type t, const cJSON *obj)
{
	kevents_apply(ctx, t, obj, true);
}

static void h_error(void *ctx, int err, long status, const char *msg)
{
	struct kevents *k = ctx;

	if (k->o.on_error)
		k->o.on_error(k->o.ctx, err, status, msg);
}

void kevents_pod_selector(bool warning_only, char *buf, size_t n)
{
	snprintf(buf, n, "involvedObject.kind=Pod%s", warning_only ? ",type=Warning" : "");
}

void kevents_node_selector(const char *node, bool warning_only, char *buf, size_t n)
{
	if (!node || !*node) {
		if (n)
			buf[0] = 0;
		return;
	}
	snprintf(buf, n, "involvedObject.kind=Node,involvedObject.name=%s%s", node,
		 warning_only ? ",type=Warning" : "");
}

static struct k8s_watch *start_watch(struct kevents *k, struct k8s_client *client,
				     const char *fsel, bool node)
{
	struct k8s_watch_opts wo = { 0 };
	struct k8s_watch_handler h = { .on_object = node ? h_node_object : h_pod_object,
				       .on_error = h_error, .ctx = k };
	struct k8s_watch *w;
	struct epoll_event ee = { .events = EPOLLIN };

	if (k->o.watch)
		wo = *k->o.watch;
	wo.path = "/api/v1/events";
	wo.field_selector = fsel;
	wo.label_selector = NULL;
	w = k8s_watch_new(client, &wo, &h);
	if (!w)
		return NULL;
	if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, k8s_watch_fd(w), &ee)) {
		int e = errno;

		k8s_watch_free(w);
		return errno_null(e);
	}
	return w;
}

struct kevents *kevents_new(struct k8s_client *client, struct podcache *pc,
			    const struct kevents_opts *o)
{
	struct kevents *k;
	char fsel[400];
	size_t i;
	int e;

	if (!o || !o->on_event || !o->node_name || !*o->node_name ||
	    strlen(o->node_name) >= 254 || o->max_dedup > (1u << 24))
		return errno_null(EINVAL);
	k = calloc(1, sizeof(*k));
	if (!k)
		return errno_null(ENOMEM);
	k->epfd = -1;
	k->o = *o;
	k->o.watch = NULL;
	k->pc = pc;
	if (!k->o.max_dedup)
		k->o.max_dedup = KEV_DEDUP_DEFAULT;
	k->nb = pow2_at_least(k->o.max_dedup * 2);
	k->node = strdup(o->node_name);
	k->ents = calloc(k->o.max_dedup, sizeof(*k->ents));
	k->buckets = malloc(k->nb * sizeof(*k->buckets));
	k->park = calloc(KEV_PARK_MAX, sizeof(*k->park));
	if (!k->node || !k->ents || !k->buckets || !k->park) {
		kevents_free(k);
		return errno_null(ENOMEM);
	}
	k->o.node_name = k->node;
	for (i = 0; i < k->nb; i++)
		k->buckets[i] = -1;
	if (client) {
		k->o.watch = o->watch;
		k->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (k->epfd < 0)
			goto fail;
		kevents_pod_selector(o->warning_only, fsel, sizeof(fsel));
		if (!(k->wp = start_watch(k, client, fsel, false)))
			goto fail;
		if (!o->no_node_watch) {
			kevents_node_selector(k->node, o->warning_only, fsel, sizeof(fsel));
			if (!(k->wn = start_watch(k, client, fsel, true)))
				goto fail;
		}
		k->o.watch = NULL;
	}
	return k;
fail:
	e = errno ? errno : EIO;
	kevents_free(k);
	return errno_null(e);
}

int kevents_seen(struct kevents *k, const char *uid, const char *ns, const char *name,
		 uint32_t count)
{
	if (!k || ((!uid || !*uid) && (!ns || !name)))
		return -EINVAL;
	dedup_put(k, uid && *uid ? fnv1a(uid, NULL) : fnv1a(ns, name), count ? count : 1);
	return 0;
}

void kevents_free(struct kevents *k)
{
	if (!k)
		return;
	k8s_watch_free(k->wp);
	k8s_watch_free(k->wn);
	if (k->epfd >= 0)
		close(k->epfd);
	while (k->npark)
		cJSON_Delete(k->park[--k->npark].obj);
	free(k->park);
	free(k->ents);
	free(k->buckets);
	free(k->node);
	free(k);
}

int kevents_poll(struct kevents *k, int timeout_ms)
{
	struct epoll_event ee[2];
	int rc = 0, r;

	if (!k)
		return -EINVAL;
	unpark(k);
	if (!k->wp)
		return 0;
	if (timeout_ms) {
		int t1 = k8s_watch_timeout_ms(k->wp), t2 = k->wn ? k8s_watch_timeout_ms(k->wn) : -1;

		if (t1 >= 0 && (timeout_ms < 0 || t1 < timeout_ms))
			timeout_ms = t1;
		if (t2 >= 0 && (timeout_ms < 0 || t2 < timeout_ms))
			timeout_ms = t2;
		if (epoll_wait(k->epfd, ee, 2, timeout_ms) < 0 && errno != EINTR)
			return -errno;
	}
	r = k8s_watch_poll(k->wp, 0);
	if (r)
		rc = r;
	if (k->wn) {
		r = k8s_watch_poll(k->wn, 0);
		if (r && !rc)
			rc = r;
	}
	unpark(k);
	return rc;
}

int kevents_fd(const struct kevents *k)
{
	return k && k->wp ? k->epfd : -EINVAL;
}

void kevents_get_stats(const struct kevents *k, struct kevents_stats *out)
{
	if (!k || !out)
		return;
	*out = k->st;
	memset(&out->pods_watch, 0, sizeof(out->pods_watch));
	memset(&out->node_watch, 0, sizeof(out->node_watch));
	if (k->wp)
		k8s_watch_get_stats(k->wp, &out->pods_watch);
	if (k->wn)
		k8s_watch_get_stats(k->wn, &out->node_watch);
}

/* ------------------------------------------------------------------ rules */

void kevent_to_obs(const struct kevent *ev, const struct pod_info *pod, struct obs *o)
{
	memset(o, 0, sizeof(*o));
	if (!ev)
		return;
	o->events = RE_K8S_EVENT;
	o->is_container = pod != NULL;
	o->k8s_reason = ev->reason;
	o->k8s_type = ev->type;
	o->k8s_kind = ev->kind;
	o->k8s_message = ev->message;
	if (pod) {
		o->pod_namespace = pod->namespace;
		/* "spec.containers{app}", "spec.initContainers{init}", ... */
		const char *b = strchr(ev->field_path, '{');
		const char *e = b ? strchr(b, '}') : NULL;

		if (b && e && e > b + 1) {
			size_t i, l = (size_t)(e - b - 1);

			for (i = 0; i < pod->ncontainers; i++)
				if (strlen(pod->containers[i].name) == l &&
				    !memcmp(pod->containers[i].name, b + 1, l)) {
					o->image = pod->containers[i].image;
					break;
				}
		}
	} else if (!ev->node_event) {
		o->pod_namespace = ev->obj_namespace[0] ? ev->obj_namespace : NULL;
	}
}

static bool rule_sees_k8s(const struct rule *r)
{
	return r->enabled && (r->match.events & RE_K8S_EVENT);
}

bool kevents_policy_wants_events(const struct policy *p)
{
	size_t i;

	for (i = 0; p && i < p->nrules; i++)
		if (rule_sees_k8s(&p->rules[i]))
			return true;
	return false;
}

bool kevents_policy_warning_only(const struct policy *p)
{
	size_t i, j;

	for (i = 0; p && i < p->nrules; i++) {
		const struct strlist *t = &p->rules[i].match.k8s_type;

		if (!rule_sees_k8s(&p->rules[i]))
			continue;
		if (!t->n)
			return false;
		for (j = 0; j < t->n; j++)
			if (strcmp(t->v[j], "Warning"))
				return false;
	}
	return true;
}
