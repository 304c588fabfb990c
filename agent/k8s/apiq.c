// SPDX-License-Identifier: Apache-2.0
/*
 * The Kubernetes action queue (apiq.h): one worker thread, a bounded FIFO of
 * jobs, a list of results handed back through an eventfd.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errptr.h"
#include "jsonget.h"
#include "apiq.h"
#include "k8s_actions.h"
#include "podcache.h"

#define APIQ_MAX_DEFAULT 1024
#define RETRY_MAX_S_DEFAULT 86400
#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 30000
/* an API server that has just come back can deny requests (403) until its
 * authorization caches have synced; for this long after an outage a 403 is
 * retried like an outage, not journaled as a final failure */
#define AUTHZ_SETTLE_MS 60000

struct qjob {
	uint64_t seq;
	struct apiq_job j;
	char *args;
	bool said;                 /* reported "queued" */
	struct qjob *next;
};

struct qdone {
	struct apiq_done d;
	struct qdone *next;
};

struct apiq {
	pthread_t thr;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct qjob *head, *tail;
	size_t njobs;              /* waiting, the running one included */
	size_t max;
	uint32_t retry_max_s;
	uint64_t seq;
	struct qdone *dhead, *dtail;
	int efd;
	struct k8s_client *c;
	char node[254];
	uint64_t rnd;
	bool down;                 /* the head job found the API unreachable */
	bool outage;               /* the last answer was no answer (apiq_transient) */
	uint64_t recovered_ms;     /* when the API answered again after an outage */
	char down_why[sizeof(((struct apiq_done *)0)->detail)];
};

bool apiq_transient(int err)
{
	switch (err) {
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -ECONNRESET:
	case -EIO:          /* 5xx, or a transport error curl does not name */
	case -EBUSY:        /* 429 */
	case -EAGAIN:
	case -EKEYREJECTED: /* 401 after a token re-read, or no token file yet */
	case -EPROTO:       /* TLS handshake while the server restarts */
		return true;
	default:
		return false;
	}
}

/* ------------------------------------------------------------------ one job */

/* the strings of a JSON array (pointers into o), up to max */
static size_t jstrs(const cJSON *o, const char *k, const char **out, size_t max)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k), *e;
	size_t n = 0;

	cJSON_ArrayForEach(e, a)
		if (cJSON_IsString(e) && n < max)
			out[n++] = e->valuestring;
	return n;
}

/*
 * The pod still is the one the detection saw (uid) and runs on this node:
 * 0; -EPERM (another node, or another pod by that name), -ENOENT (gone),
 * or the API's error.
 */
static int pod_guard(struct k8s_client *c, const char *node, const char *ns, const char *name,
		     const char *uid, char *det, size_t n)
{
	char path[K8S_PATH_MAX], ens[200], ename[800];
	struct k8s_resp r;
	const char *puid, *pnode;
	cJSON *o, *md, *spec;
	int rc;

	if (k8s_escape(ens, sizeof(ens), ns) || k8s_escape(ename, sizeof(ename), name)) {
		snprintf(det, n, "pod %s/%s: name too long or invalid", ns, name);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ens, ename);
	rc = k8s_get(c, path, &r);
	if (rc) {
		char e[600];

		snprintf(det, n, "read pod %s/%s: %s", ns, name, k8s_resp_error(&r, e, sizeof(e)));
		k8s_resp_free(&r);
		return rc;
	}
	o = r.body ? cJSON_Parse(r.body) : NULL;
	k8s_resp_free(&r);
	md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
	puid = jget_str(md, "uid");
	pnode = jget_str(spec, "nodeName");
	rc = 0;
	if (!o) {
		snprintf(det, n, "read pod %s/%s: the response is not JSON", ns, name);
		rc = -EBADMSG;
	} else if (uid && *uid && (!puid || strcasecmp(puid, uid))) {
		snprintf(det, n, "pod %s/%s is another pod now (uid %s, not %s): not touched", ns, name,
			 puid ? puid : "?", uid);
		rc = -EPERM;
	} else if (node && *node && (!pnode || strcmp(pnode, node))) {
		snprintf(det, n, "pod %s/%s runs on node %s, not this node %s: not touched", ns, name,
			 pnode ? pnode : "(none)", node);
		rc = -EPERM;
	}
	cJSON_Delete(o);
	return rc;
}

void apiq_exec(struct k8s_client *c, const char *node, const struct apiq_job *j,
	       struct apiq_done *d)
{
	cJSON *a = j->args ? cJSON_Parse(j->args) : NULL;
	const char *ns = jget_str(a, "pod_namespace"), *name = jget_str(a, "pod_name"),
		   *uid = jget_str(a, "pod_uid");
	const char *inc = jget_str(a, "incident") ? jget_str(a, "incident") : j->inc;
	char err[900] = "";
	char *undo = NULL;
	int rc;

	d->err = 0;
	d->detail[0] = '\0';
	if (!a) {
		d->err = -EINVAL;
		snprintf(d->detail, sizeof(d->detail), "the job's arguments are not JSON");
		return;
	}
	if (j->kind == APIQ_UNDO) {
		rc = k8s_act_undo(c, j->args, err, sizeof(err));
		d->err = rc;
		if (rc)
			snprintf(d->detail, sizeof(d->detail), "%s", err);
		else if (err[0])
			snprintf(d->detail, sizeof(d->detail), "%s", err);
		else
			snprintf(d->detail, sizeof(d->detail), "undone");
		cJSON_Delete(a);
		return;
	}
	if (!ns || !*ns || !name || !*name) {
		d->err = -EINVAL;
		snprintf(d->detail, sizeof(d->detail), "no pod namespace/name in the job's arguments");
		cJSON_Delete(a);
		return;
	}
	if (!strcmp(j->action, "label") || !strcmp(j->action, "network-policy") ||
	    !strcmp(j->action, "delete-pod")) {
		rc = pod_guard(c, node, ns, name, uid, d->detail, sizeof(d->detail));
		if (rc == -ENOENT) {
			snprintf(d->detail, sizeof(d->detail), "pod %s/%s is gone: nothing to do", ns,
				 name);
			rc = 0;
			goto out;
		}
		if (rc) {
			d->err = rc;
			goto out;
		}
	}
	if (!strcmp(j->action, "label")) {
		rc = k8s_act_label(c, ns, name, inc, &undo, err, sizeof(err));
		if (!rc) {
			char v[64];

			k8s_label_value(inc, v);
			snprintf(err, sizeof(err), "labelled %s/%s %s=%s", ns, name, K8S_QUARANTINE_LABEL, v);
		}
	} else if (!strcmp(j->action, "network-policy")) {
		const char *nss[64], *cidrs[64];
		struct k8s_np_allows al = {
			.dns = jget_true(a, "allow_dns"), .namespaces = nss, .cidrs = cidrs,
		};

		al.nnamespaces = jstrs(a, "allow_namespaces", nss, 64);
		al.ncidrs = jstrs(a, "allow_cidrs", cidrs, 64);
		rc = k8s_act_network_policy(c, ns, name, inc, &al, &undo, err, sizeof(err));
		if (!rc) {
			cJSON *u = undo ? cJSON_Parse(undo) : NULL;

			snprintf(err, sizeof(err), "NetworkPolicy %s/%s denies all ingress and egress of the pod%s",
				 ns, jget_str(u, "name") ? jget_str(u, "name") : "?",
				 al.dns || al.nnamespaces || al.ncidrs ? " but the policy's allows" : "");
			cJSON_Delete(u);
		}
	} else if (!strcmp(j->action, "revoke-rbac")) {
		const char *sa = jget_str(a, "service_account");

		if (!sa || !*sa)
			sa = "default";
		rc = k8s_act_revoke_rbac(c, ns, sa, &undo, err, sizeof(err));
		if (!rc) {
			cJSON *u = undo ? cJSON_Parse(undo) : NULL;
			int nb = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(u, "bindings"));

			snprintf(err, sizeof(err), "ServiceAccount %s/%s removed from %d binding%s", ns, sa,
				 nb, nb == 1 ? "" : "s");
			cJSON_Delete(u);
		}
	} else if (!strcmp(j->action, "delete-pod")) {
		struct pod_info p;
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(a, "grace_seconds");
		long grace = cJSON_IsNumber(g) ? (long)g->valuedouble : -1;

		memset(&p, 0, sizeof(p));
		snprintf(p.namespace, sizeof(p.namespace), "%s", ns);
		snprintf(p.name, sizeof(p.name), "%s", name);
		snprintf(p.uid, sizeof(p.uid), "%s", uid ? uid : "");
		rc = k8s_act_delete_pod(c, &p, grace, jget_true(a, "force_daemonset"), err,
					sizeof(err));
		if (!rc && !err[0])
			snprintf(err, sizeof(err), "deleted pod %s/%s (grace %s)", ns, name,
				 grace < 0 ? "the pod's own" : "set");
	} else if (!strcmp(j->action, "event")) {
		const char *key = jget_str(a, "event_key");

		rc = k8s_act_event_named(c, ns, name, uid, key ? key : inc, jget_str(a, "reason"),
					 jget_str(a, "message"), jget_str(a, "type"), err,
					 sizeof(err));
		if (!rc)
			snprintf(err, sizeof(err), "Event %s on pod %s/%s",
				 jget_str(a, "reason") ? jget_str(a, "reason") : "NodeGuard", ns,
				 name);
	} else {
		rc = -EINVAL;
		snprintf(err, sizeof(err), "unknown API action '%s'", j->action);
	}
	d->err = rc;
	snprintf(d->detail, sizeof(d->detail), "%s", err);
	/* a revoke retried after a partial failure returns every binding it
	 * changed, the earlier attempts' too (their annotations): the newest
	 * undo is the whole one */
	if (undo) {
		free(d->undo);
		d->undo = undo;
	}
out:
	cJSON_Delete(a);
}

/* ------------------------------------------------------------------ worker */

static void post_done(struct apiq *q, const struct apiq_done *d)
{
	struct qdone *x = calloc(1, sizeof(*x));
	uint64_t one = 1;

	if (!x) {
		free(d->undo);
		return;
	}
	x->d = *d;
	pthread_mutex_lock(&q->mu);
	if (q->dtail)
		q->dtail->next = x;
	else
		q->dhead = x;
	q->dtail = x;
	pthread_mutex_unlock(&q->mu);
	if (write(q->efd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the reader wakes anyway */
	}
}

/* sleep ms unless stopped; true when stopped */
static bool nap(struct apiq *q, uint64_t ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->mu);
	while (!q->stop && pthread_cond_timedwait(&q->cv, &q->mu, &ts) == 0)
		;
	stop = q->stop;
	pthread_mutex_unlock(&q->mu);
	return stop;
}

static uint64_t backoff_ms(struct apiq *q, uint32_t attempt)
{
	uint64_t d = BACKOFF_BASE_MS;

	while (attempt-- > 1 && d < BACKOFF_MAX_MS)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	q->rnd = q->rnd * 6364136223846793005ull + 1442695040888963407ull;
	return d / 2 + (q->rnd >> 33) % (d / 2 + 1);
}

/* a "queued" (not final) result for job x */
static void queued_done(const struct qjob *x, const char *why, struct apiq_done *d)
{
	char t[sizeof(d->detail)];

	memset(d, 0, sizeof(*d));
	d->seq = x->seq;
	d->kind = x->j.kind;
	d->queued = true;
	snprintf(d->inc, sizeof(d->inc), "%s", x->j.inc);
	snprintf(d->action, sizeof(d->action), "%s", x->j.action);
	snprintf(d->target, sizeof(d->target), "%s", x->j.target);
	snprintf(t, sizeof(t), "the API server is unreachable (%s): queued, retrying with backoff", why);
	memcpy(d->detail, t, sizeof(d->detail));
}

/*
 * The API is unreachable: every waiting job not reported yet is reported
 * "queued" (once each), not only the one being tried; jobs pushed while it
 * stays down are reported by apiq_push.
 */
static void say_queued(struct apiq *q, const char *why)
{
	struct apiq_done *v = NULL;
	struct qjob *x;
	size_t n = 0, cap = 0, i;

	pthread_mutex_lock(&q->mu);
	q->down = true;
	snprintf(q->down_why, sizeof(q->down_why), "%s", why);
	for (x = q->head; x; x = x->next) {
		if (x->said || x->j.kind == APIQ_NOTIFY)
			continue;
		if (n == cap) {
			struct apiq_done *nv = realloc(v, (cap ? 2 * cap : 16) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap = cap ? 2 * cap : 16;
		}
		x->said = true;
		queued_done(x, why, &v[n++]);
	}
	pthread_mutex_unlock(&q->mu);
	for (i = 0; i < n; i++)
		post_done(q, &v[i]);
	free(v);
}

static void *worker(void *arg)
{
	struct apiq *q = arg;

	for (;;) {
		struct qjob *jb;
		struct apiq_done d;
		uint64_t first;
		uint32_t retry_max_s;

		pthread_mutex_lock(&q->mu);
		while (!q->stop && !q->head)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		jb = q->head; /* stays queued (counted) while it runs */
		pthread_mutex_unlock(&q->mu);

		memset(&d, 0, sizeof(d));
		d.seq = jb->seq;
		d.kind = jb->j.kind;
		snprintf(d.inc, sizeof(d.inc), "%s", jb->j.inc);
		snprintf(d.action, sizeof(d.action), "%s", jb->j.action);
		snprintf(d.target, sizeof(d.target), "%s", jb->j.target);
		first = clock_mono_ms();
		for (;;) {
			bool settling;

			d.attempts++;
			apiq_exec(q->c, q->node, &jb->j, &d);
			pthread_mutex_lock(&q->mu);
			if (apiq_transient(d.err)) {
				q->outage = true;
			} else if (q->outage) {
				q->outage = false;
				q->recovered_ms = clock_mono_ms();
			}
			settling = q->recovered_ms &&
				   clock_mono_ms() - q->recovered_ms < AUTHZ_SETTLE_MS;
			pthread_mutex_unlock(&q->mu);
			if (!apiq_transient(d.err) && !(d.err == -EACCES && settling))
				break;
			pthread_mutex_lock(&q->mu);
			retry_max_s = q->retry_max_s;
			pthread_mutex_unlock(&q->mu);
			if (clock_mono_ms() - first >= (uint64_t)retry_max_s * 1000u) {
				char t[sizeof(d.detail)];

				snprintf(t, sizeof(t), "gave up after %u attempts in %u s: %s", d.attempts,
					 retry_max_s, d.detail);
				memcpy(d.detail, t, sizeof(d.detail));
				break;
			}
			say_queued(q, d.detail);
			if (nap(q, backoff_ms(q, d.attempts))) {
				free(d.undo);
				return NULL;
			}
		}
		post_done(q, &d);
		pthread_mutex_lock(&q->mu);
		if (!apiq_transient(d.err))
			q->down = false;
		q->head = jb->next;
		if (!q->head)
			q->tail = NULL;
		q->njobs--;
		pthread_mutex_unlock(&q->mu);
		free(jb->args);
		free(jb);
	}
}

/* ------------------------------------------------------------------ API */

struct apiq *apiq_new(const struct apiq_opts *o)
{
	struct apiq *q;
	pthread_condattr_t ca;
	int e;

	if (!o || !o->client)
		return errno_null(EINVAL);
	q = calloc(1, sizeof(*q));
	if (!q) {
		k8s_client_free(o->client);
		return errno_null(ENOMEM);
	}
	q->c = o->client;
	q->max = o->max ? o->max : APIQ_MAX_DEFAULT;
	q->retry_max_s = o->retry_max_s ? o->retry_max_s : RETRY_MAX_S_DEFAULT;
	snprintf(q->node, sizeof(q->node), "%s", o->node ? o->node : "");
	q->rnd = (uint64_t)clock_mono_ms() * 0x9e3779b97f4a7c15ull | 1;
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (q->efd < 0) {
		e = errno;
		apiq_free(q);
		return errno_null(e);
	}
	e = pthread_create(&q->thr, NULL, worker, q);
	if (e) {
		apiq_free(q);
		return errno_null(e);
	}
	q->started = true;
	return q;
}

void apiq_free(struct apiq *q)
{
	struct qjob *j, *jn;
	struct qdone *d, *dn;

	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	if (q->started)
		pthread_join(q->thr, NULL);
	for (j = q->head; j; j = jn) {
		jn = j->next;
		free(j->args);
		free(j);
	}
	for (d = q->dhead; d; d = dn) {
		dn = d->next;
		free(d->d.undo);
		free(d);
	}
	if (q->efd >= 0)
		close(q->efd);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	k8s_client_free(q->c);
	free(q);
}

void apiq_set_limits(struct apiq *q, size_t max, uint32_t retry_max_s)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->max = max ? max : APIQ_MAX_DEFAULT;
	q->retry_max_s = retry_max_s ? retry_max_s : RETRY_MAX_S_DEFAULT;
	pthread_mutex_unlock(&q->mu);
}

int apiq_push(struct apiq *q, const struct apiq_job *j)
{
	struct apiq_done qd;
	bool said = false;
	struct qjob *x;

	if (!q || !j || !j->args || !j->action[0])
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->j = *j;
	x->args = strdup(j->args);
	if (!x->args) {
		free(x);
		return -ENOMEM;
	}
	x->j.args = x->args;
	pthread_mutex_lock(&q->mu);
	/* notifications never take the last slots of actions */
	if (q->njobs >= q->max || (j->kind == APIQ_NOTIFY && q->njobs + q->max / 8 >= q->max)) {
		pthread_mutex_unlock(&q->mu);
		free(x->args);
		free(x);
		return -ENOSPC;
	}
	x->seq = ++q->seq;
	if (q->tail)
		q->tail->next = x;
	else
		q->head = x;
	q->tail = x;
	q->njobs++;
	/* the API is down: say so now, not at the worker's next attempt */
	if (q->down && x != q->head && j->kind != APIQ_NOTIFY) {
		x->said = true;
		queued_done(x, q->down_why, &qd);
		said = true;
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	if (said)
		post_done(q, &qd);
	return 0;
}

int apiq_fd(const struct apiq *q)
{
	return q ? q->efd : -1;
}

size_t apiq_drain(struct apiq *q, void (*cb)(const struct apiq_done *d, void *ctx), void *ctx)
{
	struct qdone *d, *dn;
	uint64_t v;
	size_t n = 0;

	if (!q)
		return 0;
	if (read(q->efd, &v, sizeof(v)) < 0) {
		/* nothing signalled: the list is checked anyway */
	}
	pthread_mutex_lock(&q->mu);
	d = q->dhead;
	q->dhead = q->dtail = NULL;
	pthread_mutex_unlock(&q->mu);
	for (; d; d = dn) {
		dn = d->next;
		if (cb)
			cb(&d->d, ctx);
		free(d->d.undo);
		free(d);
		n++;
	}
	return n;
}

size_t apiq_pending(struct apiq *q)
{
	size_t n;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->mu);
	n = q->njobs;
	pthread_mutex_unlock(&q->mu);
	return n;
}
