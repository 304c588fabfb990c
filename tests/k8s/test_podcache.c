// SPDX-License-Identifier: Apache-2.0
/*
 * agent/podcache.c: offline (objects fed with podcache_apply: every
 * container kind and id format, lookups, bounds, malformed objects, grace
 * period, re-list, the JSON for incidents) and against the real apiserver
 * with the agent's own token and RBAC: pods of this node only, container ids
 * from status patches (init, regular, ephemeral) resolve to the right pod and
 * container, a pod UID resolves before any status exists, a deleted pod stays
 * resolvable for the grace period and then is gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "k8s_test.h"
#include "podcache.h"

#define IDA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
#define IDB "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB2"
#define IDB_LC "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"
#define IDB0 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb0"
#define IDC "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define UID1 "8F1C2D3E-0000-4000-8000-00000000000A"
#define UID1_LC "8f1c2d3e-0000-4000-8000-00000000000a"

static const char POD1[] =
	"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"" UID1 "\","
	"\"labels\":{\"app\":\"web\",\"tier\":\"front\"},"
	"\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"n\",\"uid\":\"x\"},"
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-5d9\",\"uid\":\"y\",\"controller\":true}]},"
	"\"spec\":{\"nodeName\":\"n1\",\"serviceAccountName\":\"web-sa\","
	"\"initContainers\":[{\"name\":\"init\",\"image\":\"busybox:1.36\"}],"
	"\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.25\"},{\"name\":\"sidecar\",\"image\":\"envoy:1.29\"}],"
	"\"ephemeralContainers\":[{\"name\":\"debugger\",\"image\":\"busybox:debug\"}]},"
	"\"status\":{\"phase\":\"Running\","
	"\"initContainerStatuses\":[{\"name\":\"init\",\"containerID\":\"containerd://" IDA "\"}],"
	"\"containerStatuses\":[{\"name\":\"app\",\"containerID\":\"cri-o://" IDB "\","
	"\"lastState\":{\"terminated\":{\"containerID\":\"cri-o://" IDB0 "\"}}},{\"name\":\"sidecar\"}],"
	"\"ephemeralContainerStatuses\":[{\"name\":\"debugger\",\"containerID\":\"docker://" IDC "\"}]}}";

static struct podcache *offline(const char *node, uint32_t grace_ms)
{
	struct podcache_opts o = { .node_name = node, .grace_ms = grace_ms };
	struct podcache *pc = podcache_new(NULL, &o);

	assert_non_null(pc);
	return pc;
}

static int apply_str(struct podcache *pc, enum k8s_event_type t, const char *json)
{
	cJSON *j = cJSON_Parse(json);
	int rc;

	assert_non_null(j);
	rc = podcache_apply(pc, t, j);
	cJSON_Delete(j);
	return rc;
}

/* a minimal pod: name, uid, node and one container with an id (or none) */
static char *mini_pod(const char *name, const char *uid, const char *node, const char *cid)
{
	char *s;

	assert_true(asprintf(&s,
			     "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"%s\"},"
			     "\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]},"
			     "\"status\":{\"containerStatuses\":[{\"name\":\"c\"%s%s%s}]}}",
			     name, uid, node, cid ? ",\"containerID\":\"containerd://" : "", cid ? cid : "",
			     cid ? "\"" : "") > 0);
	return s;
}

static void test_parse_container_id(void **state)
{
	char rt[16], id[65];

	(void)state;
	assert_int_equal(pod_parse_container_id("containerd://" IDA, rt, id), 0);
	assert_string_equal(rt, "containerd");
	assert_string_equal(id, IDA);
	assert_int_equal(pod_parse_container_id("cri-o://" IDB, rt, id), 0);
	assert_string_equal(rt, "cri-o");
	assert_string_equal(id, IDB_LC);
	assert_int_equal(pod_parse_container_id("docker://" IDC, rt, id), 0);
	assert_string_equal(rt, "docker");
	assert_int_equal(pod_parse_container_id(IDC, rt, id), -EINVAL);                 /* no scheme */
	assert_int_equal(pod_parse_container_id("containerd://abc", rt, id), -EINVAL);  /* short */
	assert_int_equal(pod_parse_container_id("containerd://" IDA "0", rt, id), -EINVAL);
	assert_int_equal(pod_parse_container_id("containerd://" "g" IDC, rt, id), -EINVAL);
	assert_int_equal(pod_parse_container_id("://" IDC, rt, id), -EINVAL);
	assert_int_equal(pod_parse_container_id("Bad Scheme://" IDC, rt, id), -EINVAL);
	assert_int_equal(pod_parse_container_id("", rt, id), -EINVAL);
	assert_int_equal(pod_parse_container_id(NULL, rt, id), -EINVAL);
	assert_string_equal(id, "");
}

static void test_all_container_kinds(void **state)
{
	struct podcache *pc = offline("n1", 0);
	struct podcache_stats st;
	const struct pod_info *p;
	int ci;

	(void)state;
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, POD1), 0);
	p = podcache_by_container(pc, IDA, &ci);
	assert_non_null(p);
	assert_string_equal(p->namespace, "shop");
	assert_string_equal(p->name, "web-1");
	assert_string_equal(p->uid, UID1_LC);
	assert_string_equal(p->node, "n1");
	assert_string_equal(p->phase, "Running");
	assert_string_equal(p->service_account, "web-sa");
	assert_string_equal(p->owner_kind, "ReplicaSet");   /* the controller, not the first */
	assert_string_equal(p->owner_name, "web-5d9");
	assert_int_equal(p->nlabels, 2);
	assert_string_equal(p->labels[0].key, "app");
	assert_string_equal(p->labels[0].value, "web");
	assert_int_equal(p->ncontainers, 4);
	assert_false(p->deleted);
	assert_int_equal(ci, 0);
	assert_string_equal(p->containers[0].name, "init");
	assert_int_equal(p->containers[0].kind, POD_CTR_INIT);
	assert_string_equal(p->containers[0].image, "busybox:1.36");
	assert_string_equal(p->containers[0].runtime, "containerd");

	/* cri-o id given in uppercase; looked up with its scheme and in any case */
	assert_ptr_equal(podcache_by_container(pc, "cri-o://" IDB, &ci), p);
	assert_int_equal(ci, 1);
	assert_ptr_equal(podcache_by_container(pc, IDB_LC, &ci), p);
	assert_int_equal(ci, 1);
	assert_string_equal(p->containers[1].name, "app");
	assert_string_equal(p->containers[1].id, IDB_LC);
	assert_string_equal(p->containers[1].runtime, "cri-o");
	assert_int_equal(p->containers[1].kind, POD_CTR_REGULAR);
	/* the previous instance of a restarted container still attributes */
	assert_ptr_equal(podcache_by_container(pc, IDB0, &ci), p);
	assert_int_equal(ci, 1);
	assert_string_equal(p->containers[1].prev_id, IDB0);
	/* no status id yet */
	assert_string_equal(p->containers[2].name, "sidecar");
	assert_string_equal(p->containers[2].id, "");
	/* ephemeral (kubectl debug) */
	assert_ptr_equal(podcache_by_container(pc, IDC, &ci), p);
	assert_int_equal(ci, 3);
	assert_string_equal(p->containers[3].name, "debugger");
	assert_int_equal(p->containers[3].kind, POD_CTR_EPHEMERAL);
	assert_string_equal(p->containers[3].image, "busybox:debug");
	assert_string_equal(p->containers[3].runtime, "docker");

	/* by pod UID, in either case */
	assert_ptr_equal(podcache_by_uid(pc, UID1), p);
	assert_ptr_equal(podcache_by_uid(pc, UID1_LC), p);
	/* resolve: container first, then UID */
	assert_ptr_equal(podcache_resolve(pc, IDC, "nope", &ci), p);
	assert_int_equal(ci, 3);
	assert_ptr_equal(podcache_resolve(pc, IDC "x", UID1_LC, &ci), p);
	assert_int_equal(ci, -1);
	assert_ptr_equal(podcache_resolve(pc, "", UID1_LC, &ci), p);
	assert_null(podcache_resolve(pc, NULL, NULL, &ci));
	assert_null(podcache_by_container(pc, "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd", &ci));
	assert_int_equal(ci, -1);
	assert_null(podcache_by_container(pc, "aaaa", &ci));
	assert_null(podcache_by_uid(pc, "nope"));

	podcache_get_stats(pc, &st);
	assert_int_equal(st.pods, 1);
	assert_int_equal(st.containers, 4);   /* IDA, IDB, IDB0, IDC */
	assert_int_equal(st.applied, 1);
	podcache_free(pc);
}

static void test_pod_json(void **state)
{
	struct podcache *pc = offline(NULL, 0);
	const struct pod_info *p;
	char *s;
	int ci;

	(void)state;
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, POD1), 0);
	p = podcache_by_container(pc, IDB, &ci);
	s = pod_info_json_str(p, ci);
	assert_string_equal(s, "{\"namespace\":\"shop\",\"name\":\"web-1\",\"uid\":\"" UID1_LC "\","
			       "\"node\":\"n1\",\"service_account\":\"web-sa\","
			       "\"owner\":{\"kind\":\"ReplicaSet\",\"name\":\"web-5d9\"},"
			       "\"labels\":{\"app\":\"web\",\"tier\":\"front\"},"
			       "\"container\":\"app\",\"image\":\"nginx:1.25\"}");
	free(s);
	p = podcache_by_container(pc, IDA, &ci);
	s = pod_info_json_str(p, ci);
	assert_non_null(strstr(s, ",\"container\":\"init\",\"image\":\"busybox:1.36\",\"container_kind\":\"init\"}"));
	free(s);
	/* the pod only (UID lookup): no container fields */
	s = pod_info_json_str(podcache_by_uid(pc, UID1), -1);
	assert_null(strstr(s, "\"container\""));
	assert_non_null(strstr(s, "\"labels\":{\"app\":\"web\",\"tier\":\"front\"}}"));
	free(s);
	assert_null(pod_info_json_str(NULL, 0));
	podcache_free(pc);
}

static void test_malformed_objects(void **state)
{
	static const char *const bad[] = {
		"{}",
		"[]",
		"{\"metadata\":\"x\"}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"}}",                          /* no uid */
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":7}}",
		"{\"metadata\":{\"name\":\"\",\"namespace\":\"n\",\"uid\":\"u\"}}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"0123456789012345678901234567890123456789\"}}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\",\"labels\":[1]}}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\"},\"spec\":[]}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\"},\"spec\":{\"containers\":{}}}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\"},\"spec\":{\"containers\":[{\"image\":\"x\"}]}}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\"},\"spec\":{\"containers\":[7]}}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\"},\"status\":{\"containerStatuses\":\"x\"}}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\"},\"status\":7}",
	};
	struct podcache *pc = offline(NULL, 0);
	struct podcache_stats st;
	char name[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (apply_str(pc, K8S_EV_ADDED, bad[i]) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	/* a name longer than any valid one */
	memset(name, 'n', 260);
	name[260] = '\0';
	{
		char *s;

		assert_true(asprintf(&s, "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"n\",\"uid\":\"u\"}}", name) > 0);
		assert_int_equal(apply_str(pc, K8S_EV_MODIFIED, s), -EBADMSG);
		free(s);
	}
	/* odd but usable: kept, the odd parts ignored */
	assert_int_equal(apply_str(pc, K8S_EV_ADDED,
				   "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\","
				   "\"labels\":{\"k\":1,\"ok\":\"v\"},\"ownerReferences\":[1,{\"kind\":\"X\"}]},"
				   "\"spec\":{\"containers\":[{\"name\":\"c\"}]},"
				   "\"status\":{\"containerStatuses\":[7,{\"name\":\"c\",\"containerID\":\"containerd://short\"},"
				   "{\"name\":\"ghost\",\"containerID\":\"containerd://" IDA "\",\"image\":\"gi\"}]}}"),
			 0);
	podcache_get_stats(pc, &st);
	assert_int_equal(st.malformed, sizeof(bad) / sizeof(bad[0]) + 1);
	assert_int_equal(st.pods, 1);
	{
		const struct pod_info *p = podcache_by_uid(pc, "u");
		int ci;

		assert_non_null(p);
		assert_int_equal(p->nlabels, 1);
		assert_string_equal(p->labels[0].key, "ok");
		assert_string_equal(p->owner_kind, "");
		assert_int_equal(p->ncontainers, 2);
		assert_string_equal(p->containers[0].image, "");
		assert_string_equal(p->containers[0].id, "");   /* not 64 hex: no id */
		/* a status without a spec entry still attributes */
		assert_ptr_equal(podcache_by_container(pc, IDA, &ci), p);
		assert_int_equal(ci, 1);
		assert_string_equal(p->containers[1].name, "ghost");
		assert_string_equal(p->containers[1].image, "gi");
	}
	assert_int_equal(podcache_apply(pc, K8S_EV_ADDED, NULL), -EINVAL);
	assert_int_equal(podcache_apply(NULL, K8S_EV_ADDED, NULL), -EINVAL);
	podcache_free(pc);
}

static void test_bounds(void **state)
{
	struct podcache_opts o = { .max_pods = 3, .max_labels = 4, .max_containers = 3, .grace_ms = 60000 };
	struct podcache *pc = podcache_new(NULL, &o);
	struct podcache_stats st;
	const struct pod_info *p;
	char *s, *labels = NULL, *ctrs = NULL, *stats = NULL, uid[8], id[65];
	int i, ci;

	(void)state;
	assert_non_null(pc);
	/* 10 labels, 6 containers with ids */
	for (i = 0; i < 10; i++) {
		char *n;

		assert_true(asprintf(&n, "%s%s\"l%d\":\"v%d\"", labels ? labels : "", labels ? "," : "", i, i) > 0);
		free(labels);
		labels = n;
	}
	for (i = 0; i < 6; i++) {
		char *n, *m;

		memset(id, 'a' + i, 64);
		id[64] = '\0';
		assert_true(asprintf(&n, "%s%s{\"name\":\"c%d\",\"image\":\"i%d\"}", ctrs ? ctrs : "", ctrs ? "," : "", i, i) > 0);
		assert_true(asprintf(&m, "%s%s{\"name\":\"c%d\",\"containerID\":\"containerd://%s\"}", stats ? stats : "",
				     stats ? "," : "", i, id) > 0);
		free(ctrs);
		free(stats);
		ctrs = n;
		stats = m;
	}
	assert_true(asprintf(&s, "{\"metadata\":{\"name\":\"big\",\"namespace\":\"n\",\"uid\":\"u0\",\"labels\":{%s}},"
				 "\"spec\":{\"containers\":[%s]},\"status\":{\"containerStatuses\":[%s]}}",
			     labels, ctrs, stats) > 0);
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, s), 0);
	free(s);
	free(labels);
	free(ctrs);
	free(stats);
	p = podcache_by_uid(pc, "u0");
	assert_int_equal(p->nlabels, 4);
	assert_true(p->labels_truncated);
	assert_int_equal(p->ncontainers, 3);
	assert_true(p->containers_truncated);
	memset(id, 'c', 64);
	assert_ptr_equal(podcache_by_container(pc, id, &ci), p);
	assert_int_equal(ci, 2);
	memset(id, 'd', 64);
	assert_null(podcache_by_container(pc, id, &ci));   /* past the bound */
	s = pod_info_json_str(p, -1);
	assert_non_null(strstr(s, "\"labels_truncated\":true"));
	free(s);

	/* max 3 pods */
	for (i = 1; i < 3; i++) {
		snprintf(uid, sizeof(uid), "u%d", i);
		s = mini_pod(uid, uid, "n1", NULL);
		assert_int_equal(apply_str(pc, K8S_EV_ADDED, s), 0);
		free(s);
	}
	s = mini_pod("u3", "u3", "n1", NULL);
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, s), -ENOSPC);
	/* an update of a known pod is fine when full */
	free(s);
	s = mini_pod("u2", "u2", "n1", IDC);
	assert_int_equal(apply_str(pc, K8S_EV_MODIFIED, s), 0);
	free(s);
	/* a deleted pod in its grace period makes room when needed */
	s = mini_pod("u1", "u1", "n1", NULL);
	assert_int_equal(apply_str(pc, K8S_EV_DELETED, s), 0);
	free(s);
	s = mini_pod("u3", "u3", "n1", NULL);
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, s), 0);
	free(s);
	assert_null(podcache_by_uid(pc, "u1"));
	assert_non_null(podcache_by_uid(pc, "u3"));
	podcache_get_stats(pc, &st);
	assert_int_equal(st.pods, 3);
	assert_int_equal(st.deleted, 0);
	assert_int_equal(st.dropped_full, 1);
	assert_int_equal(st.purged, 1);
	podcache_free(pc);

	o.max_pods = 1u << 21;
	assert_null(podcache_new(NULL, &o));
	assert_int_equal(errno, EINVAL);
}

static void test_other_node_and_updates(void **state)
{
	struct podcache *pc = offline("n1", 0);
	struct podcache_stats st;
	const struct pod_info *p;
	char *s, id2[65];
	int ci;

	(void)state;
	s = mini_pod("far", "uf", "n2", IDA);
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, s), -EXDEV);
	free(s);
	assert_null(podcache_by_container(pc, IDA, &ci));
	assert_null(podcache_by_uid(pc, "uf"));

	/* an update that changes the container id (restart without lastState) */
	s = mini_pod("p", "up", "n1", IDA);
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, s), 0);
	free(s);
	memset(id2, 'e', 64);
	id2[64] = '\0';
	s = mini_pod("p", "up", "n1", id2);
	assert_int_equal(apply_str(pc, K8S_EV_MODIFIED, s), 0);
	free(s);
	p = podcache_by_container(pc, id2, &ci);
	assert_non_null(p);
	assert_null(podcache_by_container(pc, IDA, &ci));
	podcache_get_stats(pc, &st);
	assert_int_equal(st.pods, 1);
	assert_int_equal(st.containers, 1);
	assert_int_equal(st.other_node, 1);
	/* a bookmark changes nothing */
	assert_int_equal(apply_str(pc, K8S_EV_BOOKMARK, "{\"metadata\":{\"resourceVersion\":\"9\"}}"), 0);
	podcache_free(pc);
}

static void test_grace_and_relist(void **state)
{
	struct podcache *pc = offline("n1", 300);
	struct podcache_stats st;
	const struct pod_info *p;
	char *a = mini_pod("a", "ua", "n1", IDA), *b = mini_pod("b", "ub", "n1", IDC);
	int ci;

	(void)state;
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, a), 0);
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, b), 0);
	/* DELETED: still resolvable, marked */
	assert_int_equal(apply_str(pc, K8S_EV_DELETED, a), 0);
	p = podcache_by_container(pc, IDA, &ci);
	assert_non_null(p);
	assert_true(p->deleted);
	{
		char *s = pod_info_json_str(p, ci);

		assert_non_null(strstr(s, ",\"deleted\":true}"));
		free(s);
	}
	podcache_get_stats(pc, &st);
	assert_int_equal(st.pods, 1);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(podcache_expire(pc), 0);
	kt_sleep_ms(350);
	assert_int_equal(podcache_expire(pc), 1);
	assert_null(podcache_by_container(pc, IDA, &ci));
	assert_null(podcache_by_uid(pc, "ua"));
	/* a re-list that no longer has b: b is gone (after its grace) */
	podcache_list_begin(pc);
	assert_int_equal(apply_str(pc, K8S_EV_ADDED, a), 0);   /* a is back (same uid) */
	podcache_list_end(pc);
	p = podcache_by_uid(pc, "ub");
	assert_non_null(p);
	assert_true(p->deleted);
	assert_false(podcache_by_uid(pc, "ua")->deleted);
	/* a deleted pod that comes back (MODIFIED) is live again */
	assert_int_equal(apply_str(pc, K8S_EV_MODIFIED, b), 0);
	assert_false(podcache_by_uid(pc, "ub")->deleted);
	assert_int_equal(apply_str(pc, K8S_EV_DELETED, b), 0);
	kt_sleep_ms(350);
	assert_int_equal(podcache_poll(pc, 0), 0);   /* purges without a watch */
	assert_null(podcache_by_uid(pc, "ub"));
	/* DELETED for a pod never seen: kept for the grace period */
	assert_int_equal(apply_str(pc, K8S_EV_DELETED, b), 0);
	assert_true(podcache_by_container(pc, IDC, &ci)->deleted);
	podcache_get_stats(pc, &st);
	assert_int_equal(st.pods, 1);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.purged, 2);
	assert_true(st.synced);
	free(a);
	free(b);
	podcache_free(pc);
}

/* every node of the tree with its parent */
static size_t collect(cJSON *parent, cJSON **par, cJSON **node, size_t n, size_t max)
{
	cJSON *c;

	for (c = parent->child; c && n < max; c = c->next) {
		par[n] = parent;
		node[n++] = c;
		n = collect(c, par, node, n, max);
	}
	return n;
}

static cJSON *random_value(unsigned r)
{
	switch (r % 7) {
	case 0:
		return cJSON_CreateNull();
	case 1:
		return cJSON_CreateNumber(-1e300);
	case 2:
		return cJSON_CreateString("");
	case 3:
		return cJSON_CreateArray();
	case 4:
		return cJSON_CreateObject();
	case 5:
		return cJSON_CreateTrue();
	default:
		return cJSON_CreateString("containerd://zz");
	}
}

/* the same pod with random parts replaced by values of other types: never a
 * crash, a leak or an inconsistent index (run under valgrind by k8s-test-valgrind) */
static void test_type_confusion(void **state)
{
	struct podcache_opts o = { .node_name = "n1", .max_pods = 16, .max_containers = 3, .max_labels = 2 };
	struct podcache *pc = podcache_new(NULL, &o);
	struct podcache_stats st;
	uint64_t applied = 0, bad = 0, other = 0;
	unsigned seed = 12345;
	int it;

	(void)state;
	assert_non_null(pc);
	for (it = 0; it < 3000; it++) {
		cJSON *par[256], *node[256], *j = cJSON_Parse(POD1);
		size_t n = collect(j, par, node, 0, 256);
		int m, rc, ci;

		for (m = 0; m < 1 + it % 3; m++) {
			size_t k;
			cJSON *v;

			seed = seed * 1103515245 + 12345;
			k = (seed >> 8) % n;
			seed = seed * 1103515245 + 12345;
			v = random_value(seed >> 8);
			if (!cJSON_ReplaceItemViaPointer(par[k], node[k], v)) {
				cJSON_Delete(v);
				continue;
			}
			n = collect(j, par, node, 0, 256);
		}
		/* vary the uid so the cache fills and updates */
		{
			cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
			char uid[16];

			snprintf(uid, sizeof(uid), "u%d", it % 24);
			if (cJSON_IsObject(md) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(md, "uid")))
				cJSON_ReplaceItemInObjectCaseSensitive(md, "uid", cJSON_CreateString(uid));
		}
		rc = podcache_apply(pc, (enum k8s_event_type)(it % 3), j);
		assert_true(rc == 0 || rc == -EBADMSG || rc == -EXDEV || rc == -ENOSPC);
		applied += rc == 0;
		bad += rc == -EBADMSG;
		other += rc == -EXDEV;
		cJSON_Delete(j);
		/* lookups stay consistent */
		podcache_by_container(pc, IDC, &ci);
		podcache_by_uid(pc, "u3");
	}
	podcache_get_stats(pc, &st);
	assert_int_equal(st.applied, applied);
	assert_int_equal(st.malformed, bad);
	assert_int_equal(st.other_node, other);
	assert_true(applied > 100 && bad > 100);
	assert_true(st.pods + st.deleted <= 16);
	podcache_free(pc);
}

/* ---------------------------------------------------------------- real apiserver */

static void post_or_die(struct k8s_client *c, const char *path, const char *body)
{
	struct k8s_resp r;

	kt_expect(k8s_post(c, path, body, &r), &r, 201);
	k8s_resp_free(&r);
}

static void grant_agent_pod_watch(struct k8s_client *admin, const char *suffix)
{
	char body[1024], path[300];
	struct k8s_client *agent;
	struct k8s_resp r;
	int i;

	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
		 "\"metadata\":{\"name\":\"nodeguard-pods-%s\"},\"rules\":[{\"apiGroups\":[\"\"],"
		 "\"resources\":[\"pods\"],\"verbs\":[\"get\",\"list\",\"watch\"]}]}", suffix);
	post_or_die(admin, "/apis/rbac.authorization.k8s.io/v1/clusterroles", body);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
		 "\"metadata\":{\"name\":\"nodeguard-pods-%s\"},\"subjects\":[{\"kind\":\"User\","
		 "\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"agent\"}],\"roleRef\":{\"kind\":\"ClusterRole\","
		 "\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"nodeguard-pods-%s\"}}", suffix, suffix);
	post_or_die(admin, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body);
	/* the authorizer learns the binding through an informer */
	agent = kt_agent();
	snprintf(path, sizeof(path), "/api/v1/pods?limit=1");
	for (i = 0; i < 100; i++) {
		int rc = k8s_get(agent, path, &r);

		k8s_resp_free(&r);
		if (!rc)
			break;
		kt_sleep_ms(100);
	}
	assert_true(i < 100);
	k8s_client_free(agent);
}

static void patch_status(struct k8s_client *c, const char *ns, const char *name, const char *status)
{
	struct k8s_resp r;
	char path[300];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", ns, name);
	kt_expect(k8s_patch(c, path, K8S_PATCH_MERGE, status, &r), &r, 200);
	k8s_resp_free(&r);
}

#define POLL_PC(pc, cond, ms)                                                   \
	({                                                                      \
		uint64_t end_ = kt_now_ms() + (ms);                             \
		while (!(cond) && kt_now_ms() < end_)                           \
			assert_int_equal(podcache_poll((pc), 50), 0);           \
		(cond);                                                         \
	})

static void test_live_podcache(void **state)
{
	struct podcache_opts o = { .grace_ms = 1500 };
	struct k8s_client *admin, *agent;
	struct podcache *pc;
	struct podcache_stats st;
	const struct pod_info *p;
	char ns[64], node[64], hex[9], uid[37], uid_other[37], path[300], *status;
	char cid_init[65], cid_main[65], cid_dbg[65], cid_other[65];
	cJSON *pod;
	struct k8s_resp r;
	int ci;
	uint64_t t_del;

	(void)state;
	KT_NEED_CLUSTER();
	admin = kt_admin();
	kt_rand_hex(hex, 4);
	snprintf(node, sizeof(node), "node-%s", hex);   /* this run's pods only */
	grant_agent_pod_watch(admin, hex);
	kt_ns_create(admin, "ng-podcache", ns);
	kt_rand_hex(cid_init, 32);
	kt_rand_hex(cid_main, 32);
	kt_rand_hex(cid_dbg, 32);
	kt_rand_hex(cid_other, 32);

	/* the agent's view: its own token, this node's pods */
	agent = kt_agent();
	o.node_name = node;
	pc = podcache_new(agent, &o);
	assert_non_null(pc);
	assert_true(podcache_fd(pc) >= 0);
	assert_true(POLL_PC(pc, (podcache_get_stats(pc, &st), st.synced), 5000));
	assert_int_equal(st.pods, 0);

	pod = kt_pod_create(admin, ns, "web", node,
			    ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
			    "\"name\":\"web-7f9\",\"uid\":\"11111111-2222-3333-4444-555555555555\",\"controller\":true}]",
			    ",\"serviceAccountName\":\"web-sa\",\"initContainers\":[{\"name\":\"setup\",\"image\":\"registry.invalid/setup:2\"}]",
			    uid);
	cJSON_Delete(pod);
	pod = kt_pod_create(admin, ns, "web-elsewhere", "other-node", NULL, NULL, uid_other);
	cJSON_Delete(pod);

	/* the pod UID attributes before the kubelet reports any container */
	assert_true(POLL_PC(pc, podcache_by_uid(pc, uid) != NULL, 5000));
	p = podcache_by_uid(pc, uid);
	assert_string_equal(p->namespace, ns);
	assert_string_equal(p->name, "web");
	assert_string_equal(p->node, node);
	assert_string_equal(p->service_account, "web-sa");
	assert_string_equal(p->owner_kind, "ReplicaSet");
	assert_string_equal(p->owner_name, "web-7f9");
	assert_int_equal(p->nlabels, 1);
	assert_string_equal(p->labels[0].key, "app");
	assert_string_equal(p->labels[0].value, "web");
	assert_int_equal(p->ncontainers, 2);
	assert_string_equal(p->containers[0].id, "");
	assert_null(podcache_by_uid(pc, uid_other));

	/* kubectl debug: an ephemeral container through its subresource */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/web/ephemeralcontainers", ns);
	kt_expect(k8s_patch(admin, path, K8S_PATCH_STRATEGIC,
			    "{\"spec\":{\"ephemeralContainers\":[{\"name\":\"debugger\","
			    "\"image\":\"registry.invalid/debug:1\",\"targetContainerName\":\"main\"}]}}", &r),
		  &r, 200);
	k8s_resp_free(&r);

	/* the kubelet reports the containers */
	assert_true(asprintf(&status,
			     "{\"status\":{\"phase\":\"Running\","
			     "\"initContainerStatuses\":[{\"name\":\"setup\",\"image\":\"registry.invalid/setup:2\",\"imageID\":\"\","
			     "\"containerID\":\"containerd://%s\",\"ready\":false,\"restartCount\":0,"
			     "\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}],"
			     "\"containerStatuses\":[{\"name\":\"main\",\"image\":\"registry.invalid/web:1\",\"imageID\":\"\","
			     "\"containerID\":\"containerd://%s\",\"ready\":true,\"restartCount\":0,"
			     "\"state\":{\"running\":{\"startedAt\":\"2026-01-01T00:00:00Z\"}}}],"
			     "\"ephemeralContainerStatuses\":[{\"name\":\"debugger\",\"image\":\"registry.invalid/debug:1\","
			     "\"imageID\":\"\",\"containerID\":\"containerd://%s\",\"ready\":false,\"restartCount\":0,"
			     "\"state\":{\"running\":{\"startedAt\":\"2026-01-01T00:00:01Z\"}}}]}}",
			     cid_init, cid_main, cid_dbg) > 0);
	patch_status(admin, ns, "web", status);
	free(status);
	assert_true(asprintf(&status,
			     "{\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"main\","
			     "\"image\":\"registry.invalid/web-elsewhere:1\",\"imageID\":\"\","
			     "\"containerID\":\"containerd://%s\",\"ready\":true,\"restartCount\":0,"
			     "\"state\":{\"running\":{}}}]}}", cid_other) > 0);
	patch_status(admin, ns, "web-elsewhere", status);
	free(status);

	assert_true(POLL_PC(pc, podcache_by_container(pc, cid_dbg, NULL) != NULL, 5000));
	p = podcache_by_container(pc, cid_main, &ci);
	assert_non_null(p);
	assert_string_equal(p->uid, uid);
	assert_string_equal(p->phase, "Running");
	assert_string_equal(p->containers[ci].name, "main");
	assert_string_equal(p->containers[ci].image, "registry.invalid/web:1");
	assert_int_equal(p->containers[ci].kind, POD_CTR_REGULAR);
	assert_string_equal(p->containers[ci].runtime, "containerd");
	p = podcache_by_container(pc, cid_init, &ci);
	assert_non_null(p);
	assert_string_equal(p->containers[ci].name, "setup");
	assert_int_equal(p->containers[ci].kind, POD_CTR_INIT);
	assert_string_equal(p->containers[ci].image, "registry.invalid/setup:2");
	p = podcache_by_container(pc, cid_dbg, &ci);
	assert_non_null(p);
	assert_string_equal(p->containers[ci].name, "debugger");
	assert_int_equal(p->containers[ci].kind, POD_CTR_EPHEMERAL);
	assert_string_equal(p->containers[ci].image, "registry.invalid/debug:1");
	assert_int_equal(p->ncontainers, 3);
	{
		char *js = pod_info_json_str(p, ci), want[700];

		snprintf(want, sizeof(want),
			 "{\"namespace\":\"%s\",\"name\":\"web\",\"uid\":\"%s\",\"node\":\"%s\","
			 "\"service_account\":\"web-sa\",\"owner\":{\"kind\":\"ReplicaSet\",\"name\":\"web-7f9\"},"
			 "\"labels\":{\"app\":\"web\"},\"container\":\"debugger\","
			 "\"image\":\"registry.invalid/debug:1\",\"container_kind\":\"ephemeral\"}",
			 ns, uid, node);
		assert_string_equal(js, want);
		free(js);
	}
	/* the other node's pod never shows up */
	assert_null(podcache_by_container(pc, cid_other, &ci));
	podcache_get_stats(pc, &st);
	assert_int_equal(st.pods, 1);
	assert_int_equal(st.other_node, 0);   /* the field selector kept it away */
	assert_int_equal(st.malformed, 0);

	/* deleted: resolvable for the grace period (1.5 s), then gone */
	kt_pod_delete(admin, ns, "web");
	t_del = kt_now_ms();
	assert_true(POLL_PC(pc, (p = podcache_by_container(pc, cid_main, &ci)) && p->deleted, 5000));
	podcache_get_stats(pc, &st);
	assert_int_equal(st.pods, 0);
	assert_int_equal(st.deleted, 1);
	assert_non_null(podcache_by_uid(pc, uid));
	assert_non_null(podcache_by_container(pc, cid_init, &ci));
	assert_true(POLL_PC(pc, podcache_by_container(pc, cid_main, &ci) == NULL, 5000));
	assert_true(kt_now_ms() - t_del >= 1400);
	assert_null(podcache_by_uid(pc, uid));
	assert_null(podcache_by_container(pc, cid_dbg, &ci));
	podcache_get_stats(pc, &st);
	assert_int_equal(st.deleted, 0);
	assert_int_equal(st.purged, 1);
	assert_int_equal(st.containers, 0);
	assert_int_equal(st.watch.relists, 0);
	assert_int_equal(st.watch.malformed, 0);

	podcache_free(pc);
	k8s_client_free(agent);
	kt_pod_delete(admin, ns, "web-elsewhere");
	k8s_client_free(admin);
}

static void on_err(void *ctx, int err, long status, const char *msg)
{
	int *n = ctx;

	if (status == 401 && err == -EKEYREJECTED && !strcmp(msg, "Unauthorized"))
		(*n)++;
}

static void test_live_errors_reported(void **state)
{
	struct podcache_opts o = { .node_name = "some-node", .on_error = on_err };
	struct k8s_watch_opts wo = { .backoff_base_ms = 100, .backoff_max_ms = 200 };
	struct podcache_stats st;
	struct k8s_client *bad;
	struct podcache *pc;
	int n401 = 0;

	(void)state;
	KT_NEED_CLUSTER();
	bad = kt_client_tok("not-a-valid-token", NULL);
	assert_null(podcache_new(bad, &(struct podcache_opts){ 0 }));   /* no node */
	assert_int_equal(errno, EINVAL);
	o.ctx = &n401;
	o.watch = &wo;
	pc = podcache_new(bad, &o);
	assert_non_null(pc);
	/* reported to the caller, retried with backoff, never synced */
	assert_true(POLL_PC(pc, n401 >= 3, 5000));
	podcache_get_stats(pc, &st);
	assert_false(st.synced);
	assert_int_equal(st.watch.errors, (uint64_t)n401);
	assert_int_equal(st.watch.lists, 0);
	podcache_free(pc);
	k8s_client_free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_container_id),
		cmocka_unit_test(test_all_container_kinds),
		cmocka_unit_test(test_pod_json),
		cmocka_unit_test(test_malformed_objects),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_other_node_and_updates),
		cmocka_unit_test(test_grace_and_relist),
		cmocka_unit_test(test_type_confusion),
		cmocka_unit_test(test_live_errors_reported),
		cmocka_unit_test(test_live_podcache),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("podcache", tests, NULL, NULL);
}
