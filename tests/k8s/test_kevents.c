// SPDX-License-Identifier: Apache-2.0
/*
 * agent/kevents.c against the real apiserver with the agent's own token:
 * pods on this node and on another node, core/v1 Events created about them
 * (Warning and Normal, an empty message, one with only eventTime as
 * events.k8s.io writes them, one without involvedObject.uid), Events about
 * this Node and another Node, about a ReplicaSet; the callback gets exactly
 * the ones about this node's pods and this Node, normalized; a repeat
 * (count raised) is delivered again, an annotation change is not; a
 * warning_only instance gets the Warning ones only. Then a stub server: the
 * request selectors, and malformed watch lines that do not stop the stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "k8s_test.h"
#include "kevents.h"
#include "podcache.h"

#define MAX_GOT 64

struct got {
	struct {
		struct kevent ev;
		char pod[254];      /* "" for the Node */
	} e[MAX_GOT];
	size_t n;
};

static void on_event(void *ctx, const struct kevent *ev, const struct pod_info *pod)
{
	struct got *g = ctx;

	assert_true(g->n < MAX_GOT);
	g->e[g->n].ev = *ev;
	snprintf(g->e[g->n].pod, sizeof(g->e[0].pod), "%s", pod ? pod->name : "");
	g->n++;
}

/* the delivery of event name with count, or NULL */
static const struct kevent *got_ev(const struct got *g, const char *name, uint32_t count,
				   const char **pod)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (!strcmp(g->e[i].ev.name, name) && g->e[i].ev.count == count) {
			if (pod)
				*pod = g->e[i].pod;
			return &g->e[i].ev;
		}
	return NULL;
}

static size_t got_named(const struct got *g, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < g->n; i++)
		n += !strcmp(g->e[i].ev.name, name);
	return n;
}

static void post_or_die(struct k8s_client *c, const char *path, const char *body)
{
	struct k8s_resp r;

	kt_expect(k8s_post(c, path, body, &r), &r, 201);
	k8s_resp_free(&r);
}

static void grant_agent(struct k8s_client *admin, const char *suffix)
{
	char body[1024];
	struct k8s_client *agent;
	struct k8s_resp r;
	int i;

	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
		 "\"metadata\":{\"name\":\"nodeguard-kevents-%s\"},\"rules\":[{\"apiGroups\":[\"\"],"
		 "\"resources\":[\"pods\",\"events\"],\"verbs\":[\"get\",\"list\",\"watch\"]}]}", suffix);
	post_or_die(admin, "/apis/rbac.authorization.k8s.io/v1/clusterroles", body);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
		 "\"metadata\":{\"name\":\"nodeguard-kevents-%s\"},\"subjects\":[{\"kind\":\"User\","
		 "\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"agent\"}],\"roleRef\":{\"kind\":\"ClusterRole\","
		 "\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"nodeguard-kevents-%s\"}}", suffix, suffix);
	post_or_die(admin, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body);
	agent = kt_agent();
	for (i = 0; i < 100; i++) {
		int rc = k8s_get(agent, "/api/v1/events?limit=1", &r);

		k8s_resp_free(&r);
		if (!rc)
			break;
		kt_sleep_ms(100);
	}
	assert_true(i < 100);
	k8s_client_free(agent);
}

/*
 * A core/v1 Event in ns. inv: the involvedObject members; rest: more
 * members (with a leading comma) or "".
 */
static void event_create(struct k8s_client *c, const char *ns, const char *name, const char *inv,
			 const char *rest)
{
	char path[300], *body;

	assert_true(asprintf(&body,
			     "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"%s\","
			     "\"namespace\":\"%s\"},\"involvedObject\":{%s}%s}",
			     name, ns, inv, rest) > 0);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	post_or_die(c, path, body);
	free(body);
}

static void event_patch(struct k8s_client *c, const char *ns, const char *name, const char *patch)
{
	struct k8s_resp r;
	char path[400];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ns, name);
	kt_expect(k8s_patch(c, path, K8S_PATCH_MERGE, patch, &r), &r, 200);
	k8s_resp_free(&r);
}

static void poll_all(struct podcache *pc, struct kevents *k1, struct kevents *k2, int ms)
{
	assert_int_equal(podcache_poll(pc, 0), 0);
	assert_int_equal(kevents_poll(k1, ms), 0);
	assert_int_equal(kevents_poll(k2, 0), 0);
}

#define POLL_ALL(cond, ms)                                                      \
	({                                                                      \
		uint64_t end_ = kt_now_ms() + (ms);                             \
		while (!(cond) && kt_now_ms() < end_)                           \
			poll_all(pc, k, kw, 50);                                \
		(cond);                                                         \
	})

static bool synced(const struct kevents *k)
{
	struct kevents_stats st;

	kevents_get_stats(k, &st);
	return st.pods_watch.synced && st.node_watch.synced;
}

static void test_live_kevents(void **state)
{
	struct podcache_opts po = { 0 };
	struct kevents_opts ko = { .on_event = on_event }, kwo;
	struct k8s_client *admin, *agent;
	struct podcache *pc;
	struct kevents *k, *kw;
	struct kevents_stats st;
	struct got g = { 0 }, gw = { 0 };
	const struct kevent *e;
	const char *pod;
	char ns[64], node[64], other[64], hex[9], uid_web[37], uid_db[37], uid_far[37];
	char inv_web[400], inv_db_nouid[300], inv_far[400], inv_node[200], inv_other_node[200];
	cJSON *p;

	(void)state;
	KT_NEED_CLUSTER();
	admin = kt_admin();
	kt_rand_hex(hex, 4);
	snprintf(node, sizeof(node), "kev-node-%s", hex);
	snprintf(other, sizeof(other), "kev-other-%s", hex);
	grant_agent(admin, hex);
	kt_ns_create(admin, "ng-kevents", ns);

	p = kt_pod_create(admin, ns, "web", node, NULL, NULL, uid_web);
	cJSON_Delete(p);
	p = kt_pod_create(admin, ns, "db", node, NULL, NULL, uid_db);
	cJSON_Delete(p);
	p = kt_pod_create(admin, ns, "far", other, NULL, NULL, uid_far);
	cJSON_Delete(p);

	agent = kt_agent();
	po.node_name = node;
	pc = podcache_new(agent, &po);
	assert_non_null(pc);
	ko.node_name = node;
	ko.ctx = &g;
	k = kevents_new(agent, pc, &ko);
	assert_non_null(k);
	assert_true(kevents_fd(k) >= 0);
	kwo = ko;
	kwo.ctx = &gw;
	kwo.warning_only = true;
	kw = kevents_new(agent, pc, &kwo);
	assert_non_null(kw);
	assert_true(POLL_ALL(podcache_by_uid(pc, uid_web) && podcache_by_uid(pc, uid_db) &&
				     synced(k) && synced(kw),
			     8000));
	assert_null(podcache_by_uid(pc, uid_far));
	assert_int_equal(g.n, 0);

	snprintf(inv_web, sizeof(inv_web),
		 "\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"namespace\":\"%s\",\"name\":\"web\",\"uid\":\"%s\","
		 "\"fieldPath\":\"spec.containers{main}\"", ns, uid_web);
	snprintf(inv_db_nouid, sizeof(inv_db_nouid),
		 "\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"namespace\":\"%s\",\"name\":\"db\"", ns);
	snprintf(inv_far, sizeof(inv_far),
		 "\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"namespace\":\"%s\",\"name\":\"far\",\"uid\":\"%s\"",
		 ns, uid_far);
	snprintf(inv_node, sizeof(inv_node), "\"kind\":\"Node\",\"apiVersion\":\"v1\",\"name\":\"%s\",\"uid\":\"%s\"",
		 node, node);
	snprintf(inv_other_node, sizeof(inv_other_node), "\"kind\":\"Node\",\"apiVersion\":\"v1\",\"name\":\"%s\"",
		 other);

	/* kept: about web (uid), db (no uid: by name), the Node */
	event_create(admin, ns, "web.forbidden", inv_web,
		     ",\"reason\":\"FailedMount\",\"type\":\"Warning\",\"message\":\"secrets \\\"x\\\" is "
		     "forbidden: User \\\"system:node:n\\\" cannot get resource\",\"count\":1,"
		     "\"firstTimestamp\":\"2026-01-01T00:00:00Z\",\"lastTimestamp\":\"2026-01-01T00:00:10Z\","
		     "\"source\":{\"component\":\"kubelet\",\"host\":\"n\"}");
	event_create(admin, ns, "db.empty", inv_db_nouid,
		     ",\"reason\":\"BackOff\",\"type\":\"Warning\",\"count\":1,"
		     "\"lastTimestamp\":\"2026-01-01T00:01:00Z\",\"source\":{\"component\":\"kubelet\"}");
	event_create(admin, ns, "web.eventtime", inv_web,
		     ",\"reason\":\"Pulled\",\"type\":\"Normal\",\"message\":\"Container image pulled\","
		     "\"eventTime\":\"2026-01-01T00:02:00.123456Z\",\"action\":\"Pulling\","
		     "\"reportingComponent\":\"kubelet\",\"reportingInstance\":\"n\"");
	event_create(admin, "default", "node.notready", inv_node,
		     ",\"reason\":\"NodeNotReady\",\"type\":\"Warning\",\"message\":\"Node is not ready\","
		     "\"count\":1,\"lastTimestamp\":\"2026-01-01T00:03:00Z\",\"source\":{\"component\":\"node-controller\"}");
	event_create(admin, "default", "node.normal", inv_node,
		     ",\"reason\":\"Starting\",\"type\":\"Normal\",\"message\":\"Starting kubelet.\","
		     "\"count\":1,\"lastTimestamp\":\"2026-01-01T00:03:30Z\"");
	/* not kept: another node's pod, another Node, a ReplicaSet */
	event_create(admin, ns, "far.warning", inv_far,
		     ",\"reason\":\"BackOff\",\"type\":\"Warning\",\"message\":\"m\",\"count\":1,"
		     "\"lastTimestamp\":\"2026-01-01T00:04:00Z\"");
	event_create(admin, "default", "othernode.warning", inv_other_node,
		     ",\"reason\":\"NodeNotReady\",\"type\":\"Warning\",\"message\":\"m\",\"count\":1,"
		     "\"lastTimestamp\":\"2026-01-01T00:04:00Z\"");
	{
		char inv_rs[300];

		snprintf(inv_rs, sizeof(inv_rs),
			 "\"kind\":\"ReplicaSet\",\"apiVersion\":\"apps/v1\",\"namespace\":\"%s\",\"name\":\"web-1\"",
			 ns);
		event_create(admin, ns, "rs.warning", inv_rs,
			     ",\"reason\":\"FailedCreate\",\"type\":\"Warning\",\"message\":\"forbidden\","
			     "\"count\":1,\"lastTimestamp\":\"2026-01-01T00:04:00Z\"");
	}

	assert_true(POLL_ALL(g.n >= 5 && gw.n >= 3, 8000));
	/* a repeat raises the count; an annotation change does not */
	event_patch(admin, ns, "web.forbidden",
		    "{\"count\":4,\"lastTimestamp\":\"2026-01-01T00:05:00Z\"}");
	event_patch(admin, ns, "db.empty", "{\"metadata\":{\"annotations\":{\"a\":\"b\"}}}");
	assert_true(POLL_ALL(g.n >= 6 && gw.n >= 4, 8000));
	/* nothing more arrives */
	POLL_ALL(false, 1000);

	assert_int_equal(g.n, 6);
	e = got_ev(&g, "web.forbidden", 1, &pod);
	assert_non_null(e);
	assert_string_equal(pod, "web");
	assert_string_equal(e->namespace, ns);
	assert_string_equal(e->reason, "FailedMount");
	assert_string_equal(e->type, "Warning");
	assert_string_equal(e->message,
			    "secrets \"x\" is forbidden: User \"system:node:n\" cannot get resource");
	assert_string_equal(e->kind, "Pod");
	assert_string_equal(e->obj_name, "web");
	assert_string_equal(e->obj_uid, uid_web);
	assert_string_equal(e->obj_namespace, ns);
	assert_string_equal(e->field_path, "spec.containers{main}");
	assert_string_equal(e->source_component, "kubelet");
	assert_string_equal(e->source_host, "n");
	assert_int_equal(e->first_ms, 1767225600000LL);
	assert_int_equal(e->last_ms, 1767225610000LL);
	assert_string_equal(e->last_from, "lastTimestamp");
	assert_int_equal(strlen(e->uid), 36);
	e = got_ev(&g, "web.forbidden", 4, &pod);
	assert_non_null(e);
	assert_int_equal(e->last_ms, 1767225900000LL);
	assert_int_equal(got_named(&g, "web.forbidden"), 2);

	e = got_ev(&g, "db.empty", 1, &pod);
	assert_non_null(e);
	assert_string_equal(pod, "db");
	assert_string_equal(e->message, "");
	assert_string_equal(e->obj_uid, "");
	assert_int_equal(got_named(&g, "db.empty"), 1);

	e = got_ev(&g, "web.eventtime", 1, &pod);
	assert_non_null(e);
	assert_string_equal(pod, "web");
	assert_string_equal(e->type, "Normal");
	assert_string_equal(e->last_from, "eventTime");
	assert_int_equal(e->last_ms, 1767225720123LL);
	assert_string_equal(e->source_component, "kubelet");
	assert_string_equal(e->source_host, "n");

	e = got_ev(&g, "node.notready", 1, &pod);
	assert_non_null(e);
	assert_string_equal(pod, "");
	assert_true(e->node_event);
	assert_string_equal(e->namespace, "default");
	assert_string_equal(e->obj_name, node);
	assert_string_equal(e->source_component, "node-controller");
	assert_non_null(got_ev(&g, "node.normal", 1, NULL));

	assert_int_equal(got_named(&g, "far.warning") + got_named(&g, "othernode.warning") +
				 got_named(&g, "rs.warning"),
			 0);

	/* warning_only: web.forbidden x2, db.empty, node.notready */
	assert_int_equal(gw.n, 4);
	assert_non_null(got_ev(&gw, "web.forbidden", 1, NULL));
	assert_non_null(got_ev(&gw, "web.forbidden", 4, NULL));
	assert_non_null(got_ev(&gw, "db.empty", 1, NULL));
	assert_non_null(got_ev(&gw, "node.notready", 1, NULL));

	kevents_get_stats(k, &st);
	assert_int_equal(st.delivered, 6);
	assert_int_equal(st.node_events, 2);
	assert_int_equal(st.malformed, 0);
	assert_true(st.duplicates >= 1);  /* the annotation change */
	assert_int_equal(st.pods_watch.malformed, 0);
	assert_true(st.other_node >= 1);  /* far.warning (events of other runs too) */

	kevents_free(kw);
	kevents_free(k);
	podcache_free(pc);
	k8s_client_free(agent);
	kt_pod_delete(admin, ns, "web");
	kt_pod_delete(admin, ns, "db");
	kt_pod_delete(admin, ns, "far");
	k8s_client_free(admin);
}

/* ---------------------------------------------------------------- stub */

#define NODE_EV(name, uid, count)                                                               \
	"{\"kind\":\"Event\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name "\","            \
	"\"namespace\":\"default\",\"uid\":\"" uid "\",\"resourceVersion\":\"11\"},"                \
	"\"involvedObject\":{\"kind\":\"Node\",\"name\":\"stub-node\"},\"reason\":\"R\","           \
	"\"type\":\"Warning\",\"message\":\"m\",\"count\":" count "}"
#define WEV(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"

/* Pod Events that come before the pod cache's first LIST are held back and
 * decided once it completes (the two watches race at start) */
static void test_park_until_synced(void **state)
{
	struct podcache_opts po = { 0 };
	struct kevents_opts ko = { .on_event = on_event };
	struct k8s_client *admin, *agent;
	struct podcache_stats ps;
	struct kevents_stats st;
	struct podcache *pc;
	struct kevents *k;
	struct got g = { 0 };
	char ns[64], node[64], hex[9], uid_web[37], uid_far[37], ev[1200];
	cJSON *p, *j;
	uint64_t end;

	(void)state;
	KT_NEED_CLUSTER();
	admin = kt_admin();
	kt_rand_hex(hex, 4);
	snprintf(node, sizeof(node), "park-node-%s", hex);
	grant_agent(admin, hex);
	kt_ns_create(admin, "ng-kev-park", ns);
	p = kt_pod_create(admin, ns, "web", node, NULL, NULL, uid_web);
	cJSON_Delete(p);
	p = kt_pod_create(admin, ns, "far", "park-other", NULL, NULL, uid_far);
	cJSON_Delete(p);

	agent = kt_agent();
	po.node_name = node;
	pc = podcache_new(agent, &po);
	assert_non_null(pc);
	ko.node_name = node;
	ko.ctx = &g;
	k = kevents_new(NULL, pc, &ko); /* Events fed by hand, before the cache is polled */
	assert_non_null(k);
	podcache_get_stats(pc, &ps);
	assert_false(ps.synced);
	snprintf(ev, sizeof(ev),
		 "{\"metadata\":{\"name\":\"web.1\",\"namespace\":\"%s\",\"uid\":\"e1\"},"
		 "\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"%s\",\"name\":\"web\",\"uid\":\"%s\"},"
		 "\"reason\":\"FailedMount\",\"type\":\"Warning\",\"message\":\"forbidden\",\"count\":1,"
		 "\"lastTimestamp\":\"2026-01-01T00:00:10Z\"}", ns, ns, uid_web);
	j = cJSON_Parse(ev);
	assert_int_equal(kevents_apply(k, K8S_EV_ADDED, j, false), 0);
	cJSON_Delete(j);
	snprintf(ev, sizeof(ev),
		 "{\"metadata\":{\"name\":\"far.1\",\"namespace\":\"%s\",\"uid\":\"e2\"},"
		 "\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"%s\",\"name\":\"far\",\"uid\":\"%s\"},"
		 "\"reason\":\"FailedMount\",\"type\":\"Warning\",\"message\":\"forbidden\",\"count\":1,"
		 "\"lastTimestamp\":\"2026-01-01T00:00:10Z\"}", ns, ns, uid_far);
	j = cJSON_Parse(ev);
	assert_int_equal(kevents_apply(k, K8S_EV_ADDED, j, false), 0);
	cJSON_Delete(j);
	/* nothing decided yet: not delivered, not dropped */
	assert_int_equal(kevents_poll(k, 0), 0);
	kevents_get_stats(k, &st);
	assert_int_equal(g.n, 0);
	assert_int_equal(st.other_node, 0);
	assert_int_equal(st.received, 0);

	end = kt_now_ms() + 8000;
	do {
		assert_int_equal(podcache_poll(pc, 50), 0);
		podcache_get_stats(pc, &ps);
	} while (!ps.synced && kt_now_ms() < end);
	assert_true(ps.synced);
	assert_int_equal(kevents_poll(k, 0), 0);
	kevents_get_stats(k, &st);
	assert_int_equal(g.n, 1); /* web: this node's */
	assert_string_equal(g.e[0].ev.obj_name, "web");
	assert_string_equal(g.e[0].pod, "web");
	assert_int_equal(st.other_node, 1); /* far: another node's */
	assert_int_equal(st.received, 2);
	kevents_free(k);
	podcache_free(pc);
	k8s_client_free(agent);
	k8s_client_free(admin);
}

static void test_stub_malformed_lines(void **state)
{
	struct kevents_opts ko = { .node_name = "stub-node", .on_event = on_event,
				   .warning_only = true, .no_node_watch = true };
	struct k8s_watch_opts wo = { .backoff_base_ms = 50, .backoff_max_ms = 100 };
	struct stub *s = stub_start();
	struct k8s_client *c;
	struct kevents *k;
	struct kevents_stats st;
	struct got g = { 0 };
	char line[512];
	uint64_t end;

	(void)state;
	stub_add(s, 200, NULL,
		 "{\"kind\":\"EventList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"10\"},"
		 "\"items\":[" NODE_EV("listed", "u-0", "1") "]}",
		 true, 0);
	stub_add(s, 200, NULL,
		 WEV("ADDED", NODE_EV("first", "u-1", "1"))
		 "this is not json\n"
		 WEV("ADDED", "{\"kind\":\"Event\",\"metadata\":{\"name\":\"noreason\",\"namespace\":\"default\"},"
			      "\"involvedObject\":{\"kind\":\"Node\",\"name\":\"stub-node\"}}")
		 WEV("ADDED", "{\"kind\":\"Event\",\"metadata\":{\"name\":\"badcount\",\"namespace\":\"default\"},"
			      "\"involvedObject\":{\"kind\":\"Node\",\"name\":\"stub-node\"},\"reason\":\"R\",\"count\":\"x\"}")
		 WEV("ADDED", NODE_EV("second", "u-2", "1"))
		 WEV("MODIFIED", NODE_EV("second", "u-2", "3")),
		 false, 300);
	stub_add(s, 200, NULL, "", false, 10000);   /* then stays open, quiet */
	stub_run(s);
	c = stub_client(s, NULL);
	assert_non_null(c);
	ko.ctx = &g;
	ko.watch = &wo;
	k = kevents_new(c, NULL, &ko);
	assert_non_null(k);
	end = kt_now_ms() + 5000;
	while ((g.n < 4 || stub_nreq(s) < 3) && kt_now_ms() < end)
		assert_int_equal(kevents_poll(k, 50), 0);
	for (end = kt_now_ms() + 300; kt_now_ms() < end;)
		assert_int_equal(kevents_poll(k, 50), 0);

	assert_int_equal(g.n, 4);
	assert_non_null(got_ev(&g, "listed", 1, NULL));
	assert_non_null(got_ev(&g, "first", 1, NULL));
	assert_non_null(got_ev(&g, "second", 1, NULL));
	assert_non_null(got_ev(&g, "second", 3, NULL));
	kevents_get_stats(k, &st);
	assert_int_equal(st.malformed, 2);              /* no reason, count not a number */
	assert_int_equal(st.pods_watch.malformed, 1);   /* the line that is not JSON */
	assert_int_equal(st.delivered, 4);
	assert_int_equal(st.node_events, 4);

	assert_string_equal(stub_reqline(s, 0, line, sizeof(line)),
			    "GET /api/v1/events?limit=500&fieldSelector=involvedObject.kind%3DPod%2Ctype%3DWarning HTTP/1.1");
	stub_reqline(s, 1, line, sizeof(line));
	assert_non_null(strstr(line, "GET /api/v1/events?watch=true&allowWatchBookmarks=true&resourceVersion=10&"));
	assert_non_null(strstr(line, "&fieldSelector=involvedObject.kind%3DPod%2Ctype%3DWarning HTTP/1.1"));

	kevents_free(k);
	k8s_client_free(c);
	stub_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stub_malformed_lines),
		cmocka_unit_test(test_live_kevents),
		cmocka_unit_test(test_park_until_synced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
