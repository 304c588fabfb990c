// SPDX-License-Identifier: Apache-2.0
/*
 * agent/kevents.c without an API server (Event objects fed with
 * kevents_apply): normalization and bounds, the timestamp fallbacks
 * (lastTimestamp, eventTime, firstTimestamp, creationTimestamp), pods of
 * this node only (by involvedObject.uid, else namespace/name), this Node
 * only, dedup by uid+count, malformed objects counted and skipped.
 *
 * Then the default policy's k8s-event rules: for each category an Event that
 * matches and benign twins (a probe failure that mentions root or quotes a
 * 403 Forbidden, "connection refused", an empty message, type Normal),
 * asserting exactly which rules fire (kevent_to_obs + rules_eval).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kevents.h"
#include "podcache.h"
#include "policy.h"
#include "rules.h"

#define UID_POD "11111111-2222-4333-8444-555555555555"
#define UID_OTHER "99999999-2222-4333-8444-555555555555"

static const char POD_HERE[] =
	"{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"" UID_POD "\"},"
	"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.25\"}]}}";
static const char POD_NOUID_TWIN[] =
	"{\"metadata\":{\"name\":\"db-0\",\"namespace\":\"shop\",\"uid\":\"aaaaaaaa-2222-4333-8444-555555555555\"},"
	"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"db\",\"image\":\"postgres:16\"}]}}";

struct got {
	struct kevent ev[16];
	const struct pod_info *pod[16];
	size_t n;
};

static void on_event(void *ctx, const struct kevent *ev, const struct pod_info *pod)
{
	struct got *g = ctx;

	assert_true(g->n < 16);
	g->ev[g->n] = *ev;
	g->pod[g->n] = pod;
	g->n++;
}

struct fix {
	struct podcache *pc;
	struct kevents *k;
	struct got got;
	struct policy *pol;
};

static int apply_json(struct podcache *pc, const char *s)
{
	cJSON *j = cJSON_Parse(s);
	int rc;

	assert_non_null(j);
	rc = podcache_apply(pc, K8S_EV_ADDED, j);
	cJSON_Delete(j);
	return rc;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct podcache_opts po = { .node_name = "n1" };
	struct kevents_opts ko = { .node_name = "n1", .on_event = on_event };
	struct policy_errors e = { 0 };

	assert_non_null(f);
	f->pc = podcache_new(NULL, &po);
	assert_non_null(f->pc);
	assert_int_equal(apply_json(f->pc, POD_HERE), 0);
	assert_int_equal(apply_json(f->pc, POD_NOUID_TWIN), 0);
	ko.ctx = &f->got;
	f->k = kevents_new(NULL, f->pc, &ko);
	assert_non_null(f->k);
	assert_int_equal(policy_load_default(&f->pol, &e), 0);
	policy_errors_free(&e);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	kevents_free(f->k);
	podcache_free(f->pc);
	policy_free(f->pol);
	free(f);
	return 0;
}

/* feed one Event; returns kevents_apply's result */
static int feed(struct fix *f, enum k8s_event_type t, const char *json, bool node_watch)
{
	cJSON *j = cJSON_Parse(json);
	int rc;

	assert_non_null(j);
	rc = kevents_apply(f->k, t, j, node_watch);
	cJSON_Delete(j);
	return rc;
}

static char *pod_event(const char *uid, const char *reason, const char *type, const char *msg,
		       const char *extra)
{
	static unsigned seq;
	cJSON *j = cJSON_CreateObject(), *m, *inv;
	char name[64], euid[64], *s;

	snprintf(name, sizeof(name), "web-1.%x", ++seq);
	snprintf(euid, sizeof(euid), "e0000000-0000-4000-8000-%012x", seq);
	m = cJSON_AddObjectToObject(j, "metadata");
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "namespace", "shop");
	cJSON_AddStringToObject(m, "uid", euid);
	cJSON_AddStringToObject(m, "creationTimestamp", "2024-05-01T10:00:00Z");
	inv = cJSON_AddObjectToObject(j, "involvedObject");
	cJSON_AddStringToObject(inv, "kind", "Pod");
	cJSON_AddStringToObject(inv, "name", "web-1");
	cJSON_AddStringToObject(inv, "namespace", "shop");
	if (uid)
		cJSON_AddStringToObject(inv, "uid", uid);
	cJSON_AddStringToObject(inv, "fieldPath", "spec.containers{app}");
	cJSON_AddStringToObject(j, "reason", reason);
	cJSON_AddStringToObject(j, "type", type);
	if (msg)
		cJSON_AddStringToObject(j, "message", msg);
	cJSON_AddNumberToObject(j, "count", 1);
	cJSON_AddStringToObject(j, "lastTimestamp", "2024-05-01T10:00:05Z");
	if (extra) {
		cJSON *x = cJSON_Parse(extra), *it;

		assert_non_null(x);
		while ((it = x->child)) {
			cJSON_DetachItemViaPointer(x, it);
			cJSON_DeleteItemFromObjectCaseSensitive(j, it->string);
			cJSON_AddItemToObject(j, it->string, it);
		}
		cJSON_Delete(x);
	}
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	assert_non_null(s);
	return s;
}

/* ------------------------------------------------------------------ kevents offline */

static void test_time_parse(void **state)
{
	int64_t ms;

	assert_int_equal(kevent_parse_time("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(kevent_parse_time("2024-05-01T10:00:05Z", &ms), 0);
	assert_int_equal(ms, 1714557605000LL);
	assert_int_equal(kevent_parse_time("2024-05-01T10:00:05.123456Z", &ms), 0);
	assert_int_equal(ms, 1714557605123LL);
	assert_int_equal(kevent_parse_time("2024-05-01T12:00:05.5+02:00", &ms), 0);
	assert_int_equal(ms, 1714557605500LL);
	assert_int_equal(kevent_parse_time("2024-05-01T10:00:05", &ms), -EINVAL);
	assert_int_equal(kevent_parse_time("2024-05-01T10:00:05.Z", &ms), -EINVAL);
	assert_int_equal(kevent_parse_time("yesterday", &ms), -EINVAL);
	assert_int_equal(kevent_parse_time("", &ms), -EINVAL);
	assert_int_equal(kevent_parse_time(NULL, &ms), -EINVAL);
}

static void test_normalize_and_filter(void **state)
{
	struct fix *f = *state;
	struct kevents_stats st;
	char *s;
	const struct kevent *e;

	/* by uid, full fields */
	s = pod_event(UID_POD, "BackOff", "Warning", "Back-off restarting failed container",
		      "{\"source\":{\"component\":\"kubelet\",\"host\":\"n1\"},\"count\":3,"
		      "\"firstTimestamp\":\"2024-05-01T09:59:00Z\"}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 1);
	free(s);
	assert_int_equal(f->got.n, 1);
	e = &f->got.ev[0];
	assert_string_equal(e->namespace, "shop");
	assert_string_equal(e->reason, "BackOff");
	assert_string_equal(e->type, "Warning");
	assert_string_equal(e->message, "Back-off restarting failed container");
	assert_string_equal(e->kind, "Pod");
	assert_string_equal(e->obj_name, "web-1");
	assert_string_equal(e->obj_uid, UID_POD);
	assert_string_equal(e->obj_namespace, "shop");
	assert_string_equal(e->source_component, "kubelet");
	assert_string_equal(e->source_host, "n1");
	assert_int_equal(e->count, 3);
	assert_int_equal(e->first_ms, 1714557540000LL);
	assert_int_equal(e->last_ms, 1714557605000LL);
	assert_string_equal(e->last_from, "lastTimestamp");
	assert_false(e->node_event);
	assert_non_null(f->got.pod[0]);
	assert_string_equal(f->got.pod[0]->name, "web-1");

	/* only eventTime (events.k8s.io style), no message, reportingComponent */
	s = pod_event(UID_POD, "Pulled", "Normal", NULL,
		      "{\"lastTimestamp\":null,\"count\":null,"
		      "\"eventTime\":\"2024-05-01T10:01:00.250000Z\",\"reportingComponent\":\"kubelet\","
		      "\"reportingInstance\":\"n1\",\"series\":{\"count\":7}}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 1);
	free(s);
	e = &f->got.ev[1];
	assert_string_equal(e->message, "");
	assert_int_equal(e->last_ms, 1714557660250LL);
	assert_int_equal(e->first_ms, 1714557660250LL);
	assert_string_equal(e->last_from, "eventTime");
	assert_string_equal(e->source_component, "kubelet");
	assert_int_equal(e->count, 7);

	/* firstTimestamp only, then creationTimestamp only */
	s = pod_event(UID_POD, "X", "Normal", "m",
		      "{\"lastTimestamp\":null,\"firstTimestamp\":\"2024-05-01T10:02:00Z\"}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 1);
	free(s);
	assert_string_equal(f->got.ev[2].last_from, "firstTimestamp");
	assert_int_equal(f->got.ev[2].last_ms, 1714557720000LL);
	s = pod_event(UID_POD, "X", "Normal", "m", "{\"lastTimestamp\":\"garbage\"}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 1);
	free(s);
	assert_string_equal(f->got.ev[3].last_from, "creationTimestamp");
	assert_int_equal(f->got.ev[3].last_ms, 1714557600000LL);

	/* no involvedObject.uid: resolved by namespace/name */
	s = pod_event(NULL, "Killing", "Normal", "Stopping container app", NULL);
	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 1);
	free(s);
	assert_string_equal(f->got.pod[4]->uid, UID_POD);

	/* another node's pod (uid unknown; no fallback to the name when a uid is given) */
	s = pod_event(UID_OTHER, "BackOff", "Warning", "x", NULL);
	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 0);
	free(s);
	s = pod_event(NULL, "BackOff", "Warning", "x",
		      "{\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"elsewhere\",\"namespace\":\"shop\"}}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 0);
	free(s);

	/* this Node and another Node; other kinds */
	s = pod_event(NULL, "NodeNotReady", "Warning", "Node n1 status is now: NodeNotReady",
		      "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"n1\",\"uid\":\"n1\"}}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s, true), 1);
	free(s);
	assert_true(f->got.ev[5].node_event);
	assert_null(f->got.pod[5]);
	s = pod_event(NULL, "NodeNotReady", "Warning", "x",
		      "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"n2\"}}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s, true), 0);
	free(s);
	s = pod_event(NULL, "FailedCreate", "Warning", "x",
		      "{\"involvedObject\":{\"kind\":\"ReplicaSet\",\"name\":\"web\",\"namespace\":\"shop\"}}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 0);
	free(s);

	assert_int_equal(f->got.n, 6);
	kevents_get_stats(f->k, &st);
	assert_int_equal(st.received, 10);
	assert_int_equal(st.delivered, 6);
	assert_int_equal(st.node_events, 1);
	assert_int_equal(st.other_node, 4);
	assert_int_equal(st.malformed, 0);
}

static void test_dedup(void **state)
{
	struct fix *f = *state;
	struct kevents_stats st;
	char *s1, *s2, *s3;

	s1 = pod_event(UID_POD, "BackOff", "Warning", "b", "{\"count\":2}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s1, false), 1);
	/* the same again (a re-list), and a MODIFIED with the same count */
	assert_int_equal(feed(f, K8S_EV_ADDED, s1, false), 0);
	assert_int_equal(feed(f, K8S_EV_MODIFIED, s1, false), 0);
	/* the same event uid with a higher count: a repeat, delivered with the count */
	s2 = strdup(s1);
	assert_non_null(s2);
	memcpy(strstr(s2, "\"count\":2"), "\"count\":5", 9);
	assert_int_equal(feed(f, K8S_EV_MODIFIED, s2, false), 1);
	assert_int_equal(f->got.ev[1].count, 5);
	/* a lower count afterwards (an old copy) is not */
	assert_int_equal(feed(f, K8S_EV_MODIFIED, s1, false), 0);
	/* DELETED and BOOKMARK are ignored */
	assert_int_equal(feed(f, K8S_EV_DELETED, s2, false), 0);
	s3 = pod_event(UID_POD, "BackOff", "Warning", "b", NULL);
	assert_int_equal(feed(f, K8S_EV_ADDED, s3, false), 1);
	assert_int_equal(f->got.n, 3);
	kevents_get_stats(f->k, &st);
	assert_int_equal(st.duplicates, 3);
	assert_int_equal(st.ignored, 1);
	free(s1);
	free(s2);
	free(s3);
}

/* what a previous agent delivered (from the journal) is not delivered again */
static void test_seen(void **state)
{
	static const char nouid_md[] = "{\"metadata\":{\"name\":\"nouid.1\",\"namespace\":\"shop\"}}";
	struct fix *f = *state;
	struct kevents_stats st;
	char *a, *b, *c;
	cJSON *ja;

	a = pod_event(UID_POD, "BackOff", "Warning", "b", "{\"count\":2}");
	b = pod_event(UID_POD, "BackOff", "Warning", "b", nouid_md);
	c = pod_event(UID_POD, "BackOff", "Warning", "b", NULL);
	ja = cJSON_Parse(a);
	assert_non_null(ja);
	assert_int_equal(kevents_seen(f->k, cJSON_GetObjectItem(cJSON_GetObjectItem(ja, "metadata"), "uid")->valuestring,
				      NULL, NULL, 2), 0);
	cJSON_Delete(ja);
	/* by namespace/name when the Event had no uid */
	assert_int_equal(kevents_seen(f->k, "", "shop", "nouid.1", 1), 0);
	assert_int_equal(kevents_seen(f->k, NULL, NULL, "x", 1), -EINVAL);
	/* the LIST returns them again: duplicates; c is new */
	assert_int_equal(feed(f, K8S_EV_ADDED, a, false), 0);
	assert_int_equal(feed(f, K8S_EV_ADDED, b, false), 0);
	assert_int_equal(feed(f, K8S_EV_ADDED, c, false), 1);
	assert_int_equal(f->got.n, 1);
	/* the seen one repeated (higher count): news */
	memcpy(strstr(a, "\"count\":2"), "\"count\":3", 9);
	assert_int_equal(feed(f, K8S_EV_MODIFIED, a, false), 1);
	assert_int_equal(f->got.ev[1].count, 3);
	kevents_get_stats(f->k, &st);
	assert_int_equal(st.duplicates, 2);
	free(a);
	free(b);
	free(c);
}

static void test_dedup_bounded(void **state)
{
	struct got g = { 0 };
	struct podcache_opts po = { .node_name = "n1" };
	struct kevents_opts ko = { .node_name = "n1", .on_event = on_event, .ctx = &g,
				   .max_dedup = 2 };
	struct podcache *pc = podcache_new(NULL, &po);
	struct kevents *k;
	char *s[3];
	size_t i;

	assert_non_null(pc);
	assert_int_equal(apply_json(pc, POD_HERE), 0);
	k = kevents_new(NULL, pc, &ko);
	assert_non_null(k);
	for (i = 0; i < 3; i++) {
		cJSON *j;

		s[i] = pod_event(UID_POD, "R", "Warning", "m", NULL);
		j = cJSON_Parse(s[i]);
		assert_int_equal(kevents_apply(k, K8S_EV_ADDED, j, false), 1);
		cJSON_Delete(j);
	}
	/* the oldest was forgotten (FIFO): seen again, delivered again; the newest not */
	for (i = 0; i < 3; i += 2) {
		cJSON *j = cJSON_Parse(s[i]);

		assert_int_equal(kevents_apply(k, K8S_EV_ADDED, j, false), i == 0 ? 1 : 0);
		cJSON_Delete(j);
	}
	for (i = 0; i < 3; i++)
		free(s[i]);
	kevents_free(k);
	podcache_free(pc);
}

static void test_malformed(void **state)
{
	struct fix *f = *state;
	struct kevents_stats st;
	static const char *const bad[] = {
		"[]",
		"{}",
		"{\"metadata\":{\"namespace\":\"shop\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\"},\"reason\":\"R\"}",
		"{\"metadata\":{\"name\":\"e\",\"namespace\":\"shop\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\"}}",
		"{\"metadata\":{\"name\":\"e\",\"namespace\":\"shop\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\"},\"reason\":7}",
		"{\"metadata\":{\"name\":\"e\",\"namespace\":\"shop\"},\"involvedObject\":\"web-1\",\"reason\":\"R\"}",
		"{\"metadata\":{\"name\":\"e\",\"namespace\":\"shop\"},\"involvedObject\":{\"kind\":\"Pod\"},\"reason\":\"R\"}",
		"{\"metadata\":{\"name\":\"e\",\"namespace\":\"shop\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\"},\"reason\":\"R\",\"message\":{}}",
		"{\"metadata\":{\"name\":\"e\",\"namespace\":\"shop\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\"},\"reason\":\"R\",\"count\":\"3\"}",
		"{\"metadata\":{\"name\":\"e\",\"namespace\":\"shop\",\"uid\":[]},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\"},\"reason\":\"R\"}",
	};
	char *s, *big;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(feed(f, K8S_EV_ADDED, bad[i], false), -EBADMSG);
	/* an over-long name is malformed; an over-long message is cut (UTF-8 safe) */
	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'a', 4999);
	big[4999] = 0;
	big[1022] = (char)0xc3; /* "é" straddling the cut */
	big[1023] = (char)0xa9;
	s = pod_event(UID_POD, "R", "Warning", big, NULL);
	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 1);
	free(s);
	assert_true(f->got.ev[0].message_truncated);
	assert_int_equal(strlen(f->got.ev[0].message), 1022);
	big[300] = 0;
	s = pod_event(UID_POD, "R", "Warning", "m", NULL);
	{
		char *p = strstr(s, "\"name\":\"web-1.");
		char *fixed;

		assert_non_null(p);
		assert_true(asprintf(&fixed, "%.*s\"name\":\"%s\",\"x\":\"%s", (int)(p - s), s, big,
				     p + 8) > 0);
		assert_int_equal(feed(f, K8S_EV_ADDED, fixed, false), -EBADMSG);
		free(fixed);
	}
	free(s);
	free(big);
	kevents_get_stats(f->k, &st);
	assert_int_equal(st.malformed, sizeof(bad) / sizeof(bad[0]) + 1);
	assert_int_equal(st.delivered, 1);
	/* nothing was delivered for a malformed object */
	assert_int_equal(f->got.n, 1);
}

static void test_selectors_and_args(void **state)
{
	char b[200];
	struct kevents_opts ko = { .node_name = "n1" };

	kevents_pod_selector(false, b, sizeof(b));
	assert_string_equal(b, "involvedObject.kind=Pod");
	kevents_pod_selector(true, b, sizeof(b));
	assert_string_equal(b, "involvedObject.kind=Pod,type=Warning");
	kevents_node_selector("n1", false, b, sizeof(b));
	assert_string_equal(b, "involvedObject.kind=Node,involvedObject.name=n1");
	kevents_node_selector("n1", true, b, sizeof(b));
	assert_string_equal(b, "involvedObject.kind=Node,involvedObject.name=n1,type=Warning");
	/* no callback, no node */
	assert_null(kevents_new(NULL, NULL, &ko));
	assert_int_equal(errno, EINVAL);
	ko.on_event = on_event;
	ko.node_name = "";
	assert_null(kevents_new(NULL, NULL, &ko));
	assert_int_equal(kevents_fd(NULL), -EINVAL);
}

/* ------------------------------------------------------------------ default rules */

struct hits {
	char names[512];
};

static void on_hit(const struct rule *r, const struct obs *o, void *ctx)
{
	struct hits *h = ctx;

	if (h->names[0])
		strcat(h->names, ",");
	strcat(h->names, r->name);
}

/* which default rules fire for a pod Event (delivered through kevents) */
static const char *fire(struct fix *f, const char *reason, const char *type, const char *msg)
{
	static struct hits h;
	struct obs o;
	char *s = pod_event(UID_POD, reason, type, msg, NULL);
	size_t n = f->got.n;

	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 1);
	free(s);
	assert_int_equal(f->got.n, n + 1);
	kevent_to_obs(&f->got.ev[n], f->got.pod[n], &o);
	memset(&h, 0, sizeof(h));
	rules_eval(f->pol, &o, on_hit, &h);
	f->got.n = 0; /* room for the next */
	return h.names;
}

static const char *fire_node(struct fix *f, const char *reason, const char *msg)
{
	static struct hits h;
	struct obs o;
	char *s = pod_event(NULL, reason, "Warning", msg,
			    "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"n1\"}}");

	f->got.n = 0;
	assert_int_equal(feed(f, K8S_EV_ADDED, s, true), 1);
	free(s);
	kevent_to_obs(&f->got.ev[0], NULL, &o);
	memset(&h, 0, sizeof(h));
	rules_eval(f->pol, &o, on_hit, &h);
	f->got.n = 0;
	return h.names;
}

static void test_obs_fields(void **state)
{
	struct fix *f = *state;
	struct obs o;
	char *s = pod_event(UID_POD, "Failed", "Warning", NULL, NULL);

	assert_int_equal(feed(f, K8S_EV_ADDED, s, false), 1);
	free(s);
	kevent_to_obs(&f->got.ev[0], f->got.pod[0], &o);
	assert_int_equal(o.events, RE_K8S_EVENT);
	assert_true(o.is_container);
	assert_string_equal(o.pod_namespace, "shop");
	assert_string_equal(o.k8s_reason, "Failed");
	assert_string_equal(o.k8s_type, "Warning");
	assert_string_equal(o.k8s_kind, "Pod");
	assert_string_equal(o.k8s_message, "");
	assert_string_equal(o.image, "nginx:1.25"); /* from fieldPath spec.containers{app} */
	assert_null(o.exe);

	f->got.n = 0;
	s = pod_event(NULL, "Rebooted", "Warning", "Node n1 has been rebooted",
		      "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"n1\"}}");
	assert_int_equal(feed(f, K8S_EV_ADDED, s, true), 1);
	free(s);
	kevent_to_obs(&f->got.ev[0], NULL, &o);
	assert_false(o.is_container);
	assert_null(o.pod_namespace);
	assert_null(o.image);
	assert_string_equal(o.k8s_kind, "Node");
}

static void test_default_policy_k8s(void **state)
{
	struct fix *f = *state;

	assert_true(kevents_policy_wants_events(f->pol));
	/* every default k8s-event rule is Warning-only: the watch may ask for type=Warning */
	assert_true(kevents_policy_warning_only(f->pol));
}

static void test_unauthorized_access(void **state)
{
	struct fix *f = *state;

	assert_string_equal(
		fire(f, "FailedMount", "Warning",
		     "MountVolume.SetUp failed for volume \"token\" : secrets \"admin-token\" is "
		     "forbidden: User \"system:node:n1\" cannot get resource \"secrets\" in API group \"\" "
		     "in the namespace \"kube-system\": no relationship found between node 'n1' and this object"),
		"k8s-unauthorized-access");
	assert_string_equal(fire(f, "Failed", "Warning",
				 "Failed to pull image \"registry.example/private:1\": unauthorized: "
				 "authentication required"),
			    "k8s-unauthorized-access");
	assert_string_equal(fire(f, "AccessCheck", "Warning", "vault agent: access denied for role web"),
			    "k8s-unauthorized-access");
	/* benign twins: a probe quoting the endpoint's 403, a probe mentioning root,
	 * a quota refusal, the same text as a Normal event, an empty message */
	assert_string_equal(fire(f, "Unhealthy", "Warning",
				 "Readiness probe failed: HTTP probe failed with statuscode: 403 Forbidden"),
			    "");
	assert_string_equal(fire(f, "Unhealthy", "Warning",
				 "Liveness probe failed: permission denied for root: Unauthorized"),
			    "");
	assert_string_equal(fire(f, "FailedCreate", "Warning",
				 "pods \"web-1\" is forbidden: exceeded quota: compute"),
			    "");
	assert_string_equal(fire(f, "Info", "Normal", "request forbidden by policy"), "");
	assert_string_equal(fire(f, "Forbidden", "Warning", ""), "");
	/* this Node */
	assert_string_equal(fire_node(f, "NodeAuth", "kubelet: Unauthorized to post node status"),
			    "k8s-unauthorized-access");
}

static void test_privilege_escalation(void **state)
{
	struct fix *f = *state;

	assert_string_equal(
		fire(f, "FailedCreate", "Warning",
		     "Error creating: pods \"web-1\" is forbidden: violates PodSecurity "
		     "\"restricted:latest\": privileged (container \"app\" must not set "
		     "securityContext.privileged=true)"),
		"k8s-unauthorized-access,k8s-podsecurity-violation");
	assert_string_equal(fire(f, "Failed", "Warning",
				 "Error: privileged containers are not allowed on this node"),
			    "k8s-podsecurity-violation");
	assert_string_equal(fire(f, "PolicyViolation", "Warning",
				 "container app: allowPrivilegeEscalation must be false"),
			    "k8s-podsecurity-violation");
	/* benign: a probe that runs as root, an empty message, Normal */
	assert_string_equal(fire(f, "Unhealthy", "Warning",
				 "Startup probe failed: /bin/check: running as root in a privileged container"),
			    "");
	assert_string_equal(fire(f, "Failed", "Warning", ""), "");
	assert_string_equal(fire(f, "Created", "Normal", "Created privileged container app"), "");
}

static void test_suspicious_activity(void **state)
{
	struct fix *f = *state;

	assert_string_equal(fire(f, "PolicyViolation", "Warning",
				 "admission webhook \"exec-guard\": user alice ran exec into container app "
				 "(command: /bin/sh)"),
			    "k8s-exec-into-container");
	assert_string_equal(fire(f, "ExecDetected", "Warning", "kubectl exec by system:admin into web-1"),
			    "k8s-exec-into-container");
	/* benign: an exec probe, a Normal audit note, empty */
	assert_string_equal(fire(f, "Unhealthy", "Warning",
				 "Liveness probe failed: exec into container app timed out as root"),
			    "");
	assert_string_equal(fire(f, "Audit", "Normal", "kubectl exec into container app"), "");
	assert_string_equal(fire(f, "Exec", "Warning", ""), "");
}

static void test_network_breach(void **state)
{
	struct fix *f = *state;

	assert_string_equal(fire(f, "PolicyDenied", "Warning",
				 "NetworkPolicy shop/deny-egress denied egress to 203.0.113.7:4444"),
			    "k8s-network-policy-denial");
	assert_string_equal(fire(f, "Dropped", "Warning",
				 "traffic dropped by network policy default-deny (ingress from 10.0.3.9)"),
			    "k8s-network-policy-denial");
	assert_string_equal(fire(f, "FirewallBlock", "Warning", "host firewall blocked outbound SSH"),
			    "k8s-network-policy-denial");
	assert_string_equal(fire_node(f, "FirewallBlock", "node firewall dropped 1200 packets from 198.51.100.4"),
			    "k8s-network-policy-denial");
	/* benign: connection refused (a probe and not), empty, a policy named without a denial */
	assert_string_equal(fire(f, "Unhealthy", "Warning",
				 "Readiness probe failed: dial tcp 10.0.0.5:8080: connect: connection refused"),
			    "");
	assert_string_equal(fire(f, "BackOff", "Warning",
				 "network policy sync: dial tcp 10.96.0.1:443: connection refused, "
				 "request denied by nothing"),
			    "");
	assert_string_equal(fire(f, "NetworkPolicy", "Warning", ""), "");
	assert_string_equal(fire(f, "Applied", "Warning", "NetworkPolicy default-deny applied"), "");
}

static void test_image_vulnerability(void **state)
{
	struct fix *f = *state;

	assert_string_equal(fire(f, "VulnerabilityFound", "Warning",
				 "image nginx:1.25 has 3 critical vulnerabilities (CVE-2024-6387)"),
			    "k8s-image-vulnerability-reported,k8s-image-cve-in-event");
	/* the reason alone is enough, even with an empty message */
	assert_string_equal(fire(f, "ScanFailed", "Warning", ""), "k8s-image-vulnerability-reported");
	assert_string_equal(fire(f, "Scan", "Warning", "image scan failed: registry timeout"),
			    "k8s-image-cve-in-event");
	assert_string_equal(fire(f, "Scan", "Warning", "trivy: CVE-2023-44487 in golang.org/x/net"),
			    "k8s-image-cve-in-event");
	/* benign: a Normal scan note, a probe quoting a CVE page, CVE without an id */
	assert_string_equal(fire(f, "VulnerabilityFound", "Normal", "CVE-2024-6387"), "");
	assert_string_equal(fire(f, "Unhealthy", "Warning",
				 "Liveness probe failed: GET /cve/CVE-2024-6387 returned 500 for root"),
			    "");
	assert_string_equal(fire(f, "Info", "Warning", "CVE- scanner database is stale"), "");
	/* unrelated Warnings fire nothing */
	assert_string_equal(fire(f, "BackOff", "Warning", "Back-off restarting failed container app"), "");
	assert_string_equal(fire(f, "FailedScheduling", "Warning",
				 "0/3 nodes are available: 3 Insufficient memory."),
			    "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test_setup_teardown(test_normalize_and_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen, setup, teardown),
		cmocka_unit_test(test_dedup_bounded),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test(test_selectors_and_args),
		cmocka_unit_test_setup_teardown(test_obs_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_policy_k8s, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unauthorized_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_privilege_escalation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspicious_activity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network_breach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_vulnerability, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
