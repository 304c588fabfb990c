// SPDX-License-Identifier: Apache-2.0
/*
 * agent/k8s_actions.c against the real apiserver: the quarantine label and
 * its undo (absent and previous value), the deny-all NetworkPolicy (server
 * validated, idempotent, selects by the label, nodeguard's labels, undo
 * deletes it), ServiceAccount removal from RoleBindings and
 * ClusterRoleBindings (only that subject, never system:*, undo restores the
 * exact subjects), pod deletion (DaemonSet-owned and mirror pods refused,
 * grace 0 removes the pod), Events on the pod (named ones: one per key,
 * valid names from hostile keys and long pod names). The agent's token with
 * exactly the rules of its ClusterRole in daemonset/rbac.yaml (read with
 * libyaml): every action works, and reading Secrets, deleting a pod's
 * owners, changing ClusterRoles, creating bindings and impersonation are
 * each refused with HTTP 403.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <yaml.h>

#include "k8s_test.h"
#include "k8s_actions.h"

static cJSON *get_json(struct k8s_client *c, const char *path, long want)
{
	struct k8s_resp r;
	cJSON *j = NULL;

	kt_expect(k8s_get(c, path, &r), &r, want);
	if (want == 200) {
		j = cJSON_ParseWithLength(r.body, r.body_len);
		assert_non_null(j);
	}
	k8s_resp_free(&r);
	return j;
}

static const char *jpath_str(const cJSON *o, const char *a, const char *b, const char *k)
{
	const cJSON *v = o;

	if (a)
		v = cJSON_GetObjectItemCaseSensitive(v, a);
	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	v = cJSON_GetObjectItemCaseSensitive(v, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void post(struct k8s_client *c, const char *path, const char *body)
{
	struct k8s_resp r;

	kt_expect(k8s_post(c, path, body, &r), &r, 201);
	k8s_resp_free(&r);
}

static void test_label_value(void **state)
{
	char v[64];

	(void)state;
	k8s_label_value("inc-2026-11-26T16:43:23Z#42", v);
	assert_string_equal(v, "inc-2026-11-26T16-43-23Z-42");
	k8s_label_value("--__..x", v);
	assert_string_equal(v, "x");
	k8s_label_value("", v);
	assert_string_equal(v, "incident");
	k8s_label_value(NULL, v);
	assert_string_equal(v, "incident");
	k8s_label_value("/// ", v);
	assert_string_equal(v, "incident");
	k8s_label_value("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbbbbb", v);
	assert_int_equal(strlen(v), 63);
}

static void test_label(void **state)
{
	struct k8s_client *c;
	char ns[64], path[300], err[512], *undo = NULL;
	cJSON *pod;

	(void)state;
	KT_NEED_CLUSTER();
	c = kt_admin();
	kt_ns_create(c, "ng-act-label", ns);
	cJSON_Delete(kt_pod_create(c, ns, "web", "test-node", NULL, NULL, NULL));
	cJSON_Delete(kt_pod_create(c, ns, "old", "test-node",
				   ",\"annotations\":{},\"labels\":{\"nodeguard.io/quarantine\":\"before\"}",
				   NULL, NULL));

	/* absent before: undo removes it */
	assert_int_equal(k8s_act_label(c, ns, "web", "inc:42/abc", &undo, err, sizeof(err)), 0);
	assert_non_null(undo);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/web", ns);
	pod = get_json(c, path, 200);
	assert_string_equal(jpath_str(pod, "metadata", "labels", K8S_QUARANTINE_LABEL), "inc-42-abc");
	assert_string_equal(jpath_str(pod, "metadata", "labels", "app"), "web");
	cJSON_Delete(pod);
	assert_int_equal(k8s_act_undo(c, undo, err, sizeof(err)), 0);
	free(undo);
	pod = get_json(c, path, 200);
	assert_null(jpath_str(pod, "metadata", "labels", K8S_QUARANTINE_LABEL));
	assert_string_equal(jpath_str(pod, "metadata", "labels", "app"), "web");
	cJSON_Delete(pod);

	/* a previous value is restored */
	undo = NULL;
	assert_int_equal(k8s_act_label(c, ns, "old", "inc-7", &undo, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/old", ns);
	pod = get_json(c, path, 200);
	assert_string_equal(jpath_str(pod, "metadata", "labels", K8S_QUARANTINE_LABEL), "inc-7");
	cJSON_Delete(pod);
	assert_int_equal(k8s_act_undo(c, undo, err, sizeof(err)), 0);
	free(undo);
	pod = get_json(c, path, 200);
	assert_string_equal(jpath_str(pod, "metadata", "labels", K8S_QUARANTINE_LABEL), "before");
	cJSON_Delete(pod);

	/* two quarantines: undoing the first leaves the second's label */
	{
		char *ua = NULL, *ub = NULL;

		assert_int_equal(k8s_act_label(c, ns, "old", "inc-a", &ua, err, sizeof(err)), 0);
		assert_int_equal(k8s_act_label(c, ns, "old", "inc-b", &ub, err, sizeof(err)), 0);
		assert_int_equal(k8s_act_undo(c, ua, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "changed since"));
		pod = get_json(c, path, 200);
		assert_string_equal(jpath_str(pod, "metadata", "labels", K8S_QUARANTINE_LABEL), "inc-b");
		cJSON_Delete(pod);
		assert_int_equal(k8s_act_undo(c, ub, err, sizeof(err)), 0);
		pod = get_json(c, path, 200);
		assert_string_equal(jpath_str(pod, "metadata", "labels", K8S_QUARANTINE_LABEL), "inc-a");
		cJSON_Delete(pod);
		free(ua);
		free(ub);
	}

	/* pod gone: nothing to restore */
	undo = NULL;
	assert_int_equal(k8s_act_label(c, ns, "web", "inc-9", &undo, err, sizeof(err)), 0);
	kt_pod_delete(c, ns, "web");
	assert_int_equal(k8s_act_undo(c, undo, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "gone"));
	free(undo);

	/* no such pod */
	undo = (char *)"x";
	assert_int_equal(k8s_act_label(c, ns, "nope", "inc-7", &undo, err, sizeof(err)), -ENOENT);
	assert_null(undo);
	assert_non_null(strstr(err, "404"));
	k8s_client_free(c);
}

static void test_network_policy(void **state)
{
	static const char *const nss[] = { "monitoring" };
	static const char *const cidrs[] = { "10.1.0.0/16" };
	struct k8s_np_allows a = { .dns = true, .namespaces = nss, .nnamespaces = 1,
				   .cidrs = cidrs, .ncidrs = 1 };
	struct k8s_client *c;
	char ns[64], path[400], err[512], *undo = NULL, *undo2 = NULL;
	const cJSON *spec, *eg, *pt;
	cJSON *np, *u;
	char *s;

	(void)state;
	KT_NEED_CLUSTER();
	c = kt_admin();
	kt_ns_create(c, "ng-act-np", ns);
	cJSON_Delete(kt_pod_create(c, ns, "web", "test-node", NULL, NULL, NULL));
	assert_int_equal(k8s_act_label(c, ns, "web", "INC_0042", &undo, err, sizeof(err)), 0);
	free(undo);
	undo = NULL;
	if (k8s_act_network_policy(c, ns, "web", "INC_0042", &a, &undo, err, sizeof(err)))
		fail_msg("network policy: %s", err);
	assert_non_null(undo);
	u = cJSON_Parse(undo);
	assert_string_equal(jpath_str(u, NULL, NULL, "kind"), "NetworkPolicy");
	assert_string_equal(jpath_str(u, NULL, NULL, "namespace"), ns);
	assert_string_equal(jpath_str(u, NULL, NULL, "name"), "nodeguard-quarantine-inc-0042");
	cJSON_Delete(u);

	snprintf(path, sizeof(path),
		 "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies/nodeguard-quarantine-inc-0042", ns);
	np = get_json(c, path, 200);
	assert_string_equal(jpath_str(np, "metadata", "labels", "app.kubernetes.io/managed-by"), "nodeguard");
	assert_string_equal(jpath_str(np, "metadata", "labels", "nodeguard.io/incident"), "INC_0042");
	spec = cJSON_GetObjectItemCaseSensitive(np, "spec");
	assert_string_equal(jpath_str(spec, "podSelector", "matchLabels", K8S_QUARANTINE_LABEL), "INC_0042");
	/* exactly that one label: not the workload's labels */
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
				 cJSON_GetObjectItemCaseSensitive(spec, "podSelector"), "matchLabels")), 1);
	pt = cJSON_GetObjectItemCaseSensitive(spec, "policyTypes");
	assert_int_equal(cJSON_GetArraySize(pt), 2);
	assert_string_equal(cJSON_GetArrayItem(pt, 0)->valuestring, "Ingress");
	assert_string_equal(cJSON_GetArrayItem(pt, 1)->valuestring, "Egress");
	eg = cJSON_GetObjectItemCaseSensitive(spec, "egress");
	assert_int_equal(cJSON_GetArraySize(eg), 2);
	s = cJSON_PrintUnformatted(cJSON_GetArrayItem(eg, 0));
	assert_non_null(strstr(s, "\"k8s-app\":\"kube-dns\""));
	assert_non_null(strstr(s, "\"kubernetes.io/metadata.name\":\"kube-system\""));
	assert_non_null(strstr(s, "\"protocol\":\"UDP\",\"port\":53"));
	assert_non_null(strstr(s, "\"protocol\":\"TCP\",\"port\":53"));
	free(s);
	s = cJSON_PrintUnformatted(cJSON_GetArrayItem(eg, 1));
	assert_non_null(strstr(s, "\"monitoring\""));
	assert_non_null(strstr(s, "\"cidr\":\"10.1.0.0/16\""));
	free(s);
	s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(spec, "ingress"));
	assert_non_null(strstr(s, "\"monitoring\""));
	assert_null(strstr(s, "kube-dns"));
	free(s);
	cJSON_Delete(np);

	/* idempotent */
	assert_int_equal(k8s_act_network_policy(c, ns, "web", "INC_0042", &a, &undo2, err, sizeof(err)), 0);
	assert_string_equal(undo, undo2);
	free(undo2);

	/* same name, another incident's label value: not taken over */
	undo2 = (char *)"x";
	assert_int_equal(k8s_act_network_policy(c, ns, "web", "inc-0042", &a, &undo2, err, sizeof(err)),
			 -EEXIST);
	assert_null(undo2);
	assert_non_null(strstr(err, "not taken over"));

	/* no allows: empty ingress and egress (deny all) */
	undo2 = NULL;
	assert_int_equal(k8s_act_network_policy(c, ns, "web", "other", NULL, &undo2, err, sizeof(err)), 0);
	snprintf(path, sizeof(path),
		 "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies/nodeguard-quarantine-other", ns);
	np = get_json(c, path, 200);
	spec = cJSON_GetObjectItemCaseSensitive(np, "spec");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "egress")), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "ingress")), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "policyTypes")), 2);
	cJSON_Delete(np);
	assert_int_equal(k8s_act_undo(c, undo2, err, sizeof(err)), 0);
	free(undo2);

	/* undo deletes it; a second undo is fine */
	assert_int_equal(k8s_act_undo(c, undo, err, sizeof(err)), 0);
	snprintf(path, sizeof(path),
		 "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies/nodeguard-quarantine-inc-0042", ns);
	get_json(c, path, 404);
	assert_int_equal(k8s_act_undo(c, undo, err, sizeof(err)), 0);
	free(undo);
	k8s_client_free(c);
}

static cJSON *subjects(struct k8s_client *c, const char *path)
{
	cJSON *b = get_json(c, path, 200);
	cJSON *s = cJSON_DetachItemFromObjectCaseSensitive(b, "subjects");

	cJSON_Delete(b);
	return s ? s : cJSON_CreateArray();
}

/* same subjects, any order */
static bool same_set(const cJSON *a, const cJSON *b)
{
	const cJSON *x, *y;

	if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
		return false;
	cJSON_ArrayForEach(x, a)
	{
		bool f = false;

		cJSON_ArrayForEach(y, b) f = f || cJSON_Compare(x, y, true);
		if (!f)
			return false;
	}
	return true;
}

static void test_revoke_rbac(void **state)
{
	struct k8s_client *c;
	char ns[64], hex[9], body[2048], path[3][400], crb[64], sysb[64], err[512], *undo = NULL;
	cJSON *before[3], *after, *u, *bs;
	int i;

	(void)state;
	KT_NEED_CLUSTER();
	c = kt_admin();
	kt_ns_create(c, "ng-act-rbac", ns);
	kt_rand_hex(hex, 4);
	snprintf(crb, sizeof(crb), "ng-test-%s", hex);
	snprintf(sysb, sizeof(sysb), "system:foo-%s", hex);

	snprintf(path[0], sizeof(path[0]), "/api/v1/namespaces/%s/serviceaccounts", ns);
	post(c, path[0], "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"app-sa\"}}");
	snprintf(path[0], sizeof(path[0]), "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles", ns);
	post(c, path[0],
	     "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":{\"name\":\"r1\"},"
	     "\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\"]}]}");
	snprintf(path[0], sizeof(path[0]), "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"rb1\"},"
		 "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"r1\"},"
		 "\"subjects\":[{\"kind\":\"User\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"alice\"},"
		 "{\"kind\":\"ServiceAccount\",\"name\":\"app-sa\",\"namespace\":\"%s\"},"
		 "{\"kind\":\"User\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"bob\"}]}", ns);
	post(c, path[0], body);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"%s\"},"
		 "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},"
		 "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"app-sa\",\"namespace\":\"%s\"},"
		 "{\"kind\":\"ServiceAccount\",\"name\":\"other\",\"namespace\":\"%s\"},"
		 "{\"kind\":\"ServiceAccount\",\"name\":\"app-sa\",\"namespace\":\"elsewhere\"}]}", crb, ns, ns);
	post(c, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"%s\"},"
		 "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},"
		 "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"app-sa\",\"namespace\":\"%s\"}]}", sysb, ns);
	post(c, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body);

	snprintf(path[0], sizeof(path[0]), "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings/rb1", ns);
	snprintf(path[1], sizeof(path[1]), "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/%s", crb);
	snprintf(path[2], sizeof(path[2]), "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/%s", sysb);
	for (i = 0; i < 3; i++)
		before[i] = subjects(c, path[i]);

	if (k8s_act_revoke_rbac(c, ns, "app-sa", &undo, err, sizeof(err)))
		fail_msg("revoke: %s", err);
	assert_non_null(undo);
	u = cJSON_Parse(undo);
	assert_non_null(u);
	bs = cJSON_GetObjectItemCaseSensitive(u, "bindings");
	assert_int_equal(cJSON_GetArraySize(bs), 2);
	assert_null(strstr(undo, "system:foo"));
	cJSON_Delete(u);

	after = subjects(c, path[0]);
	assert_int_equal(cJSON_GetArraySize(after), 2);
	assert_string_equal(jpath_str(cJSON_GetArrayItem(after, 0), NULL, NULL, "name"), "alice");
	assert_string_equal(jpath_str(cJSON_GetArrayItem(after, 1), NULL, NULL, "name"), "bob");
	cJSON_Delete(after);
	after = subjects(c, path[1]);
	assert_int_equal(cJSON_GetArraySize(after), 2);
	assert_string_equal(jpath_str(cJSON_GetArrayItem(after, 0), NULL, NULL, "name"), "other");
	assert_string_equal(jpath_str(cJSON_GetArrayItem(after, 1), NULL, NULL, "namespace"), "elsewhere");
	cJSON_Delete(after);
	after = subjects(c, path[2]);
	assert_true(cJSON_Compare(after, before[2], true));   /* system:* untouched */
	cJSON_Delete(after);

	/* the bindings carry what was removed: a revoke retried (the agent died
	 * before journaling the first one's result) gets the same undo back */
	{
		char *u2 = NULL;
		cJSON *a1 = cJSON_Parse(undo), *a2, *md;

		assert_int_equal(k8s_act_revoke_rbac(c, ns, "app-sa", &u2, err, sizeof(err)), 0);
		assert_non_null(u2);
		a2 = cJSON_Parse(u2);
		if (!cJSON_Compare(a1, a2, true))
			fail_msg("second revoke's undo %s != first %s", u2, undo);
		cJSON_Delete(a1);
		cJSON_Delete(a2);
		free(u2);
		{
			char *t;

			md = get_json(c, path[0], 200);
			t = cJSON_PrintUnformatted(md);
			assert_non_null(strstr(t, "nodeguard.io/revoked-"));
			free(t);
			cJSON_Delete(md);
		}
	}
	/* the annotation is anyone's to edit: a subject slipped into it that is
	 * not the ServiceAccount is never taken into the undo */
	{
		cJSON *b = get_json(c, path[0], 200), *an, *it, *v, *rm;
		char *patch, *u3 = NULL;
		struct k8s_resp r;

		an = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "metadata"),
						      "annotations");
		it = NULL;
		cJSON_ArrayForEach(it, an)
			if (!strncmp(it->string, "nodeguard.io/revoked-", 21))
				break;
		assert_non_null(it);
		v = cJSON_Parse(it->valuestring);
		rm = cJSON_GetObjectItemCaseSensitive(v, "removed");
		cJSON_AddItemToArray(rm, cJSON_Parse("{\"kind\":\"User\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"mallory\"}"));
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(v, "positions"), cJSON_CreateNumber(0));
		{
			char *vs = cJSON_PrintUnformatted(v);
			cJSON *pj = cJSON_CreateObject();

			cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(pj, "metadata"),
									 "annotations"),
						it->string, vs);
			patch = cJSON_PrintUnformatted(pj);
			cJSON_Delete(pj);
			free(vs);
		}
		kt_expect(k8s_patch(c, path[0], K8S_PATCH_MERGE, patch, &r), &r, 200);
		k8s_resp_free(&r);
		free(patch);
		cJSON_Delete(v);
		cJSON_Delete(b);
		assert_int_equal(k8s_act_revoke_rbac(c, ns, "app-sa", &u3, err, sizeof(err)), 0);
		assert_non_null(u3);
		assert_null(strstr(u3, "mallory"));
		{
			cJSON *a1 = cJSON_Parse(undo), *a3 = cJSON_Parse(u3);

			if (!cJSON_Compare(a1, a3, true))
				fail_msg("undo from a tampered annotation %s != %s", u3, undo);
			cJSON_Delete(a1);
			cJSON_Delete(a3);
		}
		free(u3);
	}

	assert_int_equal(k8s_act_undo(c, undo, err, sizeof(err)), 0);
	/* restored: the note is gone, and nothing is left to revoke again */
	for (i = 0; i < 2; i++) {
		cJSON *md = get_json(c, path[i], 200);
		char *t = cJSON_PrintUnformatted(md);

		assert_null(strstr(t, "nodeguard.io/revoked-"));
		free(t);
		cJSON_Delete(md);
	}
	for (i = 0; i < 3; i++) {
		after = subjects(c, path[i]);
		if (!cJSON_Compare(after, before[i], true)) {   /* same subjects, same order */
			char *a = cJSON_PrintUnformatted(after), *b = cJSON_PrintUnformatted(before[i]);

			fail_msg("binding %d: %s, want %s", i, a, b);
		}
		cJSON_Delete(after);
	}
	/* undo again: already present, nothing added */
	assert_int_equal(k8s_act_undo(c, undo, err, sizeof(err)), 0);
	after = subjects(c, path[0]);
	assert_true(same_set(after, before[0]));
	cJSON_Delete(after);

	/* a binding gone before the undo is reported */
	{
		struct k8s_resp r;

		kt_expect(k8s_delete(c, path[1], NULL, &r), &r, 200);
		k8s_resp_free(&r);
		assert_int_equal(k8s_act_undo(c, undo, err, sizeof(err)), -ENOENT);
		assert_non_null(strstr(err, crb));
		kt_expect(k8s_delete(c, path[2], NULL, &r), &r, 200);
		k8s_resp_free(&r);
	}
	for (i = 0; i < 3; i++)
		cJSON_Delete(before[i]);
	free(undo);
	k8s_client_free(c);
}

static void test_delete_pod(void **state)
{
	struct k8s_client *c;
	struct pod_info p;
	char ns[64], uid[37], path[300], err[512];
	struct k8s_resp r;
	int rc;

	(void)state;
	KT_NEED_CLUSTER();
	c = kt_admin();
	kt_ns_create(c, "ng-act-del", ns);
	cJSON_Delete(kt_pod_create(c, ns, "ds-pod", "test-node",
				   ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\","
				   "\"name\":\"agent\",\"uid\":\"11111111-2222-3333-4444-555555555555\",\"controller\":true}]",
				   NULL, uid));
	memset(&p, 0, sizeof(p));
	snprintf(p.namespace, sizeof(p.namespace), "%s", ns);
	snprintf(p.name, sizeof(p.name), "ds-pod");
	snprintf(p.uid, sizeof(p.uid), "%s", uid);
	assert_int_equal(k8s_act_delete_pod(c, &p, 0, false, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "DaemonSet"));
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/ds-pod", ns);
	cJSON_Delete(get_json(c, path, 200));
	/* forced */
	assert_int_equal(k8s_act_delete_pod(c, &p, 0, true, err, sizeof(err)), 0);
	get_json(c, path, 404);

	/* a mirror pod, if the apiserver takes one from us */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	snprintf(p.name, sizeof(p.name), "static-pod");
	p.uid[0] = '\0';
	{
		char body[600];

		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"static-pod\","
			 "\"annotations\":{\"kubernetes.io/config.mirror\":\"abc\"}},\"spec\":{\"nodeName\":\"test-node\","
			 "\"containers\":[{\"name\":\"m\",\"image\":\"registry.invalid/s:1\"}]}}");
		rc = k8s_post(c, path, body, &r);
		k8s_resp_free(&r);
	}
	if (rc == 0) {
		assert_int_equal(k8s_act_delete_pod(c, &p, 0, true, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "static"));
	} else
		print_message("mirror pod not creatable here (%d): check skipped\n", rc);

	/* a plain pod with grace 0 disappears */
	cJSON_Delete(kt_pod_create(c, ns, "web", "test-node", NULL, NULL, uid));
	snprintf(p.name, sizeof(p.name), "web");
	snprintf(p.uid, sizeof(p.uid), "%s", uid);
	if (k8s_act_delete_pod(c, &p, 0, false, err, sizeof(err)))
		fail_msg("delete: %s", err);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/web", ns);
	get_json(c, path, 404);
	/* already gone */
	assert_int_equal(k8s_act_delete_pod(c, &p, 0, false, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "already gone"));
	/* a new pod by the same name is not the one we meant */
	cJSON_Delete(kt_pod_create(c, ns, "web", "test-node", NULL, NULL, NULL));
	assert_int_equal(k8s_act_delete_pod(c, &p, 0, false, err, sizeof(err)), 0);
	cJSON_Delete(get_json(c, path, 200));
	k8s_client_free(c);
}

static void test_event(void **state)
{
	struct k8s_client *c;
	char ns[64], uid[37], path[K8S_PATH_MAX], sel[200], err[512];
	const cJSON *it;
	cJSON *list;
	int found = 0;

	(void)state;
	KT_NEED_CLUSTER();
	c = kt_admin();
	kt_ns_create(c, "ng-act-ev", ns);
	cJSON_Delete(kt_pod_create(c, ns, "web", "test-node", NULL, NULL, uid));
	if (k8s_act_event(c, ns, "web", uid, "NodeGuardIncident", "incident inc-1: reverse shell", "Warning",
			  err, sizeof(err)))
		fail_msg("event: %s", err);
	assert_int_equal(k8s_act_event(c, ns, "web", uid, "NodeGuardAction", "label applied", "Normal",
				       err, sizeof(err)), 0);
	snprintf(sel, sizeof(sel), "involvedObject.name=web,involvedObject.kind=Pod");
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	assert_int_equal(k8s_path(path, sizeof(path), path, "fieldSelector", sel, NULL), 0);
	list = get_json(c, path, 200);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		const char *reason = jpath_str(it, NULL, NULL, "reason");

		assert_string_equal(jpath_str(it, "involvedObject", NULL, "uid"), uid);
		assert_string_equal(jpath_str(it, "involvedObject", NULL, "namespace"), ns);
		assert_string_equal(jpath_str(it, "source", NULL, "component"), "nodeguard");
		assert_string_equal(jpath_str(it, NULL, NULL, "reportingComponent"), "nodeguard");
		assert_int_equal(strncmp(jpath_str(it, "metadata", NULL, "name"), "web.", 4), 0);
		assert_non_null(jpath_str(it, NULL, NULL, "firstTimestamp"));
		if (!strcmp(reason, "NodeGuardIncident")) {
			assert_string_equal(jpath_str(it, NULL, NULL, "type"), "Warning");
			assert_string_equal(jpath_str(it, NULL, NULL, "message"), "incident inc-1: reverse shell");
			found |= 1;
		} else if (!strcmp(reason, "NodeGuardAction")) {
			assert_string_equal(jpath_str(it, NULL, NULL, "type"), "Normal");
			found |= 2;
		}
	}
	assert_int_equal(found, 3);
	cJSON_Delete(list);

	/* a long message is cut (on a UTF-8 boundary) and still accepted */
	{
		char big[3000];
		size_t i;

		for (i = 0; i + 2 < sizeof(big); i += 2)
			memcpy(big + i, "\xc3\xa9", 2);   /* é */
		big[i] = '\0';
		if (k8s_act_event(c, ns, "web", uid, "NodeGuardLong", big, NULL, err, sizeof(err)))
			fail_msg("long event: %s", err);
	}
	list = get_json(c, path, 200);
	found = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		if (!strcmp(jpath_str(it, NULL, NULL, "reason"), "NodeGuardLong")) {
			const char *m = jpath_str(it, NULL, NULL, "message");

			assert_int_equal(strlen(m), 1024);
			assert_null(strstr(m, "\xef\xbf\xbd"));   /* no U+FFFD */
			assert_string_equal(jpath_str(it, NULL, NULL, "type"), "Warning");
			found = 1;
		}
	}
	assert_int_equal(found, 1);
	cJSON_Delete(list);
	k8s_client_free(c);
}

/* the Events of the namespace whose reason is reason: their names into names[] */
static int events_by_reason(struct k8s_client *c, const char *ns, const char *reason,
			    char names[][254], int max)
{
	char path[K8S_PATH_MAX];
	const cJSON *it;
	cJSON *list;
	int n = 0;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	list = get_json(c, path, 200);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		const char *r = jpath_str(it, NULL, NULL, "reason");

		if (r && !strcmp(r, reason)) {
			if (n < max)
				snprintf(names[n], 254, "%s", jpath_str(it, "metadata", NULL, "name"));
			n++;
		}
	}
	cJSON_Delete(list);
	return n;
}

/* a lowercase RFC 1123 subdomain of ≤ 253 chars (what the apiserver requires) */
static bool dns_subdomain(const char *s)
{
	size_t i, l = strlen(s);

	if (!l || l > 253)
		return false;
	for (i = 0; i < l; i++) {
		char ch = s[i];
		bool an = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!an && ch != '-' && ch != '.')
			return false;
		/* every label alphanumeric at both ends */
		if (!an && (i == 0 || i == l - 1 || s[i - 1] == '.' || s[i + 1] == '.'))
			return false;
	}
	return true;
}

static void test_event_named(void **state)
{
	struct k8s_client *c;
	char ns[64], uid[37], err[512], names[4][254], hostile[301], longpod[241];
	int i;

	(void)state;
	KT_NEED_CLUSTER();
	c = kt_admin();
	kt_ns_create(c, "ng-act-evn", ns);
	cJSON_Delete(kt_pod_create(c, ns, "web", "test-node", NULL, NULL, uid));

	/* same key twice: one Event, named "<pod>.<key>", both calls 0 */
	for (i = 0; i < 2; i++)
		if (k8s_act_event_named(c, ns, "web", uid, "inc-42.label", "NodeGuardOnce",
					i ? "second" : "first", "Normal", err, sizeof(err)))
			fail_msg("named event %d: %s", i, err);
	assert_non_null(strstr(err, "exists already"));
	assert_int_equal(events_by_reason(c, ns, "NodeGuardOnce", names, 4), 1);
	assert_string_equal(names[0], "web.inc-42.label");
	{
		char path[K8S_PATH_MAX];
		cJSON *ev;

		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/web.inc-42.label", ns);
		ev = get_json(c, path, 200);
		assert_string_equal(jpath_str(ev, NULL, NULL, "message"), "first");   /* left as it was */
		assert_string_equal(jpath_str(ev, "involvedObject", NULL, "uid"), uid);
		cJSON_Delete(ev);
	}
	/* another key: another Event; the unnamed call still makes one per call */
	assert_int_equal(k8s_act_event_named(c, ns, "web", uid, "inc-42.delete", "NodeGuardOnce", "x",
					     NULL, err, sizeof(err)), 0);
	assert_int_equal(events_by_reason(c, ns, "NodeGuardOnce", names, 4), 2);
	for (i = 0; i < 2; i++)
		assert_int_equal(k8s_act_event(c, ns, "web", uid, "NodeGuardMany", "x", NULL, err, sizeof(err)),
				 0);
	assert_int_equal(events_by_reason(c, ns, "NodeGuardMany", names, 4), 2);

	/* a hostile key: uppercase, '/', spaces, dots, 300 chars; still one valid name */
	for (i = 0; i < 300; i++)
		hostile[i] = "INC/42 ..--Ab c/"[i % 16];
	hostile[300] = '\0';
	for (i = 0; i < 2; i++)
		if (k8s_act_event_named(c, ns, "web", uid, hostile, "NodeGuardHostile", "h", NULL, err,
					sizeof(err)))
			fail_msg("hostile key %d: %s", i, err);
	assert_int_equal(events_by_reason(c, ns, "NodeGuardHostile", names, 4), 1);
	assert_true(dns_subdomain(names[0]));
	assert_int_equal(strncmp(names[0], "web.inc-42.ab-c-inc-42.", 23), 0);
	assert_true(strlen(names[0]) <= 4 + 128);
	/* a key that maps to the same text is still another Event */
	hostile[299] = 'x';
	assert_int_equal(k8s_act_event_named(c, ns, "web", uid, hostile, "NodeGuardHostile", "h", NULL,
					     err, sizeof(err)), 0);
	assert_int_equal(events_by_reason(c, ns, "NodeGuardHostile", names, 4), 2);
	assert_true(dns_subdomain(names[1]));
	assert_string_not_equal(names[0], names[1]);
	/* nothing usable at all: the hash alone */
	assert_int_equal(k8s_act_event_named(c, ns, "web", uid, "/// ...", "NodeGuardSlashes", "s", NULL,
					     err, sizeof(err)), 0);
	assert_int_equal(events_by_reason(c, ns, "NodeGuardSlashes", names, 4), 1);
	assert_true(dns_subdomain(names[0]));
	assert_int_equal(strlen(names[0]), 4 + 16);

	/* a 240-char pod name: the pod part is cut (not ending in '-'), never the key */
	for (i = 0; i < 240; i++)
		longpod[i] = i % 2 ? '-' : 'p';
	longpod[239] = 'p';
	longpod[240] = '\0';
	assert_int_equal(k8s_act_event_named(c, ns, longpod, NULL, "inc-42.a-key-of-some-length",
					     "NodeGuardLongPod", "l", NULL, err, sizeof(err)), 0);
	assert_int_equal(k8s_act_event_named(c, ns, longpod, NULL, hostile, "NodeGuardLongPod", "l", NULL,
					     err, sizeof(err)), 0);
	assert_int_equal(events_by_reason(c, ns, "NodeGuardLongPod", names, 4), 2);
	for (i = 0; i < 2; i++) {
		const char *e = names[i] + strlen(names[i]);

		assert_true(dns_subdomain(names[i]));
		assert_int_equal(strncmp(names[i], "p-p-p", 5), 0);
		if (strstr(names[i], ".inc-42.a-key-of-some-length")) {
			assert_string_equal(e - 28, ".inc-42.a-key-of-some-length");
			assert_int_equal(e - names[i], 253);
		} else {
			/* 124 chars of pod, its last one a '-': dropped */
			assert_int_equal(e - names[i], 123 + 1 + 128);
		}
	}

	/* no key */
	assert_int_equal(k8s_act_event_named(c, ns, "web", uid, "", "R", "m", NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(k8s_act_event_named(c, ns, "web", uid, NULL, "R", "m", NULL, err, sizeof(err)), -EINVAL);
	k8s_client_free(c);
}

static void test_bad_undo(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(k8s_act_undo(NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(k8s_act_undo(NULL, "{", err, sizeof(err)), -EINVAL);
	assert_int_equal(k8s_act_undo(NULL, "{\"action\":\"what\"}", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "what"));
}

/* a PUT that conflicts (409) re-reads the binding and retries on the fresh object */
static void test_revoke_conflict_retry(void **state)
{
	static const char RB_OLD[] =
		"{\"kind\":\"RoleBindingList\",\"items\":[{\"metadata\":{\"name\":\"rb\",\"namespace\":\"ns\","
		"\"resourceVersion\":\"1\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\","
		"\"name\":\"r\"},\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"sa\",\"namespace\":\"ns\"}]}]}";
	static const char RB_NEW[] =
		"{\"metadata\":{\"name\":\"rb\",\"namespace\":\"ns\",\"resourceVersion\":\"2\"},"
		"\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"r\"},"
		"\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"},{\"kind\":\"ServiceAccount\",\"name\":\"sa\"}]}";
	struct k8s_client_opts o = { .max_retries = K8S_NO_RETRIES };
	struct stub *st = stub_start();
	struct k8s_client *c;
	char err[512], line[300], *undo = NULL;
	cJSON *u, *b;

	(void)state;
	stub_add(st, 200, NULL, "{\"kind\":\"RoleBindingList\",\"metadata\":{\"continue\":\"tok 1\"},\"items\":[]}",
		 true, 0);
	stub_add(st, 200, NULL, RB_OLD, true, 0);
	stub_status(st, 409, NULL, "Conflict", "the object has been modified");
	stub_add(st, 200, NULL, RB_NEW, true, 0);
	stub_add(st, 200, NULL, "{}", true, 0);
	stub_add(st, 200, NULL, "{\"kind\":\"ClusterRoleBindingList\",\"items\":[]}", true, 0);
	stub_run(st);
	c = stub_client(st, &o);
	assert_non_null(c);
	if (k8s_act_revoke_rbac(c, "ns", "sa", &undo, err, sizeof(err)))
		fail_msg("revoke: %s", err);
	assert_int_equal(stub_nreq(st), 6);
	/* paged list: the second page asks with the first one's continue token */
	assert_string_equal(stub_reqline(st, 0, line, sizeof(line)),
			    "GET /apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings?limit=500 HTTP/1.1");
	assert_string_equal(stub_reqline(st, 1, line, sizeof(line)),
			    "GET /apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings?limit=500&continue=tok%201 HTTP/1.1");
	assert_string_equal(stub_reqline(st, 2, line, sizeof(line)),
			    "PUT /apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings/rb HTTP/1.1");
	assert_string_equal(stub_reqline(st, 3, line, sizeof(line)),
			    "GET /apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings/rb HTTP/1.1");
	assert_true(stub_req_has(st, 4, "\"resourceVersion\":\"2\""));
	assert_true(stub_req_has(st, 4, "\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}]"));
	assert_string_equal(stub_reqline(st, 5, line, sizeof(line)),
			    "GET /apis/rbac.authorization.k8s.io/v1/clusterrolebindings?limit=500 HTTP/1.1");
	/* the subject as the fresh object had it (namespace omitted), at index 1 */
	u = cJSON_Parse(undo);
	b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(u, "bindings"), 0);
	assert_non_null(b);
	{
		char *rm = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(b, "removed"));
		char *ps = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(b, "positions"));

		assert_string_equal(rm, "[{\"kind\":\"ServiceAccount\",\"name\":\"sa\"}]");
		assert_string_equal(ps, "[1]");
		free(rm);
		free(ps);
	}
	cJSON_Delete(u);
	free(undo);
	k8s_client_free(c);
	stub_stop(st);
}

/* ------------------------------------------------- daemonset/rbac.yaml rules */

#define AGENT_ROLE "nodeguard"   /* the agent's ClusterRole in daemonset/rbac.yaml */

/* run_tests.sh sets K8S_TEST_RBAC_YAML; else relative to this file's path */
static void rbac_yaml_path(char *out, size_t n)
{
	static const char self[] = "tests/k8s/test_k8s_actions.c";
	const char *f = __FILE__, *env = kt_env("K8S_TEST_RBAC_YAML");
	size_t fl = strlen(f), sl = strlen(self);

	if (env) {
		snprintf(out, n, "%s", env);
		return;
	}
	assert_true(fl >= sl && !strcmp(f + fl - sl, self));
	snprintf(out, n, "%.*sdaemonset/rbac.yaml", (int)(fl - sl), f);
}

/* a YAML node as JSON: mappings, sequences, scalars as strings (all an RBAC rule has) */
static cJSON *yaml_node_json(yaml_document_t *d, yaml_node_t *nd, int depth)
{
	cJSON *j;

	if (!nd || depth > 32)
		fail_msg("rbac.yaml: missing node or nested too deep");
	switch (nd->type) {
	case YAML_SCALAR_NODE:
	{
		char *v = strndup((const char *)nd->data.scalar.value, nd->data.scalar.length);

		assert_non_null(v);
		j = cJSON_CreateString(v);
		free(v);
		assert_non_null(j);
		return j;
	}
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;

		j = cJSON_CreateArray();
		for (it = nd->data.sequence.items.start; it < nd->data.sequence.items.top; it++)
			cJSON_AddItemToArray(j, yaml_node_json(d, yaml_document_get_node(d, *it), depth + 1));
		return j;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *pr;

		j = cJSON_CreateObject();
		for (pr = nd->data.mapping.pairs.start; pr < nd->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(d, pr->key);
			char *key;

			if (!k || k->type != YAML_SCALAR_NODE)
				fail_msg("rbac.yaml: a mapping key that is not a scalar");
			key = strndup((const char *)k->data.scalar.value, k->data.scalar.length);
			assert_non_null(key);
			cJSON_AddItemToObject(j, key, yaml_node_json(d, yaml_document_get_node(d, pr->value),
								     depth + 1));
			free(key);
		}
		return j;
	}
	default:
		fail_msg("rbac.yaml: unexpected YAML node type %d", (int)nd->type);
	}
	return NULL;
}

/*
 * The rules of the ClusterRole `role` in the YAML file as a JSON array; NULL
 * with the reason in err if the file cannot be read or parsed, or has not
 * exactly one such ClusterRole with a non-empty rules list.
 */
static cJSON *rbac_yaml_rules(const char *file, const char *role, char *err, size_t n)
{
	yaml_parser_t p;
	cJSON *rules = NULL;
	int found = 0, docs = 0;
	FILE *f;

	f = fopen(file, "r");
	if (!f) {
		snprintf(err, n, "cannot open %s: %s", file, strerror(errno));
		return NULL;
	}
	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_file(&p, f);
	for (;;) {
		yaml_document_t d;
		yaml_node_t *root;
		cJSON *j;
		const char *kind, *name;

		if (!yaml_parser_load(&p, &d)) {
			snprintf(err, n, "%s: YAML error: %s at line %zu", file,
				 p.problem ? p.problem : "?", p.problem_mark.line + 1);
			found = -1;
			break;
		}
		root = yaml_document_get_root_node(&d);
		if (!root) {   /* end of the stream */
			yaml_document_delete(&d);
			break;
		}
		docs++;
		j = yaml_node_json(&d, root, 0);
		yaml_document_delete(&d);
		kind = jpath_str(j, NULL, NULL, "kind");
		name = jpath_str(j, "metadata", NULL, "name");
		if (kind && name && !strcmp(kind, "ClusterRole") && !strcmp(name, role)) {
			found++;
			cJSON_Delete(rules);
			rules = cJSON_DetachItemFromObjectCaseSensitive(j, "rules");
		}
		cJSON_Delete(j);
	}
	yaml_parser_delete(&p);
	fclose(f);
	if (found != 1 || !cJSON_IsArray(rules) || !cJSON_GetArraySize(rules)) {
		if (found == 1)
			snprintf(err, n, "%s: ClusterRole %s has no rules", file, role);
		else if (found >= 0)
			snprintf(err, n, "%s: %d ClusterRoles named \"%s\" in %d documents, want 1", file,
				 found, role, docs);
		cJSON_Delete(rules);
		return NULL;
	}
	return rules;
}

/* rules has a rule for resource in group with verb */
static bool rules_grant(const cJSON *rules, const char *group, const char *resource, const char *verb)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, rules)
	{
		const char *keys[3] = { "apiGroups", "resources", "verbs" };
		const char *want[3] = { group, resource, verb };
		int k, ok = 0;

		for (k = 0; k < 3; k++) {
			const cJSON *v;

			cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(r, keys[k]))
			{
				if (cJSON_IsString(v) && !strcmp(v->valuestring, want[k])) {
					ok++;
					break;
				}
			}
		}
		if (ok == 3)
			return true;
	}
	return false;
}

/* the loader: the real file's agent role, a missing role, a missing file */
static void test_rbac_yaml_rules(void **state)
{
	char file[4096], err[600];
	const cJSON *r;
	cJSON *rules;

	(void)state;
	rbac_yaml_path(file, sizeof(file));
	rules = rbac_yaml_rules(file, AGENT_ROLE, err, sizeof(err));
	if (!rules)
		fail_msg("%s", err);
	cJSON_ArrayForEach(r, rules)
	{
		char *s = cJSON_PrintUnformatted(r);

		/* each group, resource and verb named: no wildcard */
		assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r, "apiGroups")));
		assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r, "resources")));
		assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "verbs")) > 0);
		assert_null(strstr(s, "\"*\""));
		free(s);
	}
	/* the core group is "" (a quoted empty scalar); comments are not values */
	assert_true(rules_grant(rules, "", "pods", "patch"));
	assert_true(rules_grant(rules, "", "events", "create"));
	assert_false(rules_grant(rules, "", "secrets", "get"));
	cJSON_Delete(rules);

	assert_null(rbac_yaml_rules(file, "no-such-role", err, sizeof(err)));
	assert_non_null(strstr(err, "0 ClusterRoles named \"no-such-role\""));
	assert_null(rbac_yaml_rules("/nonexistent/rbac.yaml", AGENT_ROLE, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
}

/* ------------------------------------------------------------ agent RBAC */

/* method path (body) as c: exactly HTTP 403 Forbidden */
static void want_403(struct k8s_client *c, const char *method, const char *path,
		     const char *ctype, const char *body)
{
	struct k8s_resp r;
	char eb[700];
	int rc;

	rc = k8s_request(c, method, path, ctype, body, &r);
	if (r.status != 403)
		fail_msg("%s %s as agent: %s (rc %d), want HTTP 403", method, path,
			 k8s_resp_error(&r, eb, sizeof(eb)), rc);
	assert_int_equal(rc, -EACCES);
	assert_string_equal(r.reason, "Forbidden");
	k8s_resp_free(&r);
}

struct sink {
	char buf[4096];
	size_t len;
};

static size_t sink_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct sink *s = ud;
	size_t n = sz * nm, room = sizeof(s->buf) - 1 - s->len;

	memcpy(s->buf + s->len, p, n < room ? n : room);
	s->len += n < room ? n : room;
	s->buf[s->len] = '\0';
	return n;
}

/*
 * GET path as c with extra request headers (NULL-terminated); the HTTP
 * status, the body into s. Only for headers the client never sends
 * (Impersonate-*): the client's own setup (TLS, token) plus those.
 */
static long get_with_headers(struct k8s_client *c, const char *path, struct sink *s, ...)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	const char *h;
	long status = 0;
	CURLcode cr;
	va_list ap;
	CURL *ch;

	ch = curl_easy_init();
	assert_non_null(ch);
	assert_int_equal(k8s_client_setup_get(c, ch, path, &hdrs, errbuf), 0);
	va_start(ap, s);
	while ((h = va_arg(ap, const char *))) {
		struct curl_slist *nl = curl_slist_append(hdrs, h);

		assert_non_null(nl);
		hdrs = nl;
	}
	va_end(ap);
	curl_easy_setopt(ch, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(ch, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(ch, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(ch, CURLOPT_WRITEDATA, s);
	s->len = 0;
	s->buf[0] = '\0';
	cr = curl_easy_perform(ch);
	if (cr != CURLE_OK)
		fail_msg("GET %s: %s", path, errbuf[0] ? errbuf : curl_easy_strerror(cr));
	curl_easy_getinfo(ch, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(ch);
	return status;
}

/* a minimal valid apps/v1 workload of this kind (Deployment, ReplicaSet, DaemonSet) */
static void create_workload(struct k8s_client *adm, const char *ns, const char *kind,
			    const char *resource, const char *name)
{
	char path[400], body[1024];

	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/%s", ns, resource);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"%s\",\"metadata\":{\"name\":\"%s\"},"
		 "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},"
		 "\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},"
		 "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"registry.invalid/%s:1\"}]}}}}",
		 kind, name, name, name, name);
	post(adm, path, body);
}

/*
 * What the agent's role must not allow, each exactly 403 with the agent's
 * token: reading Secrets, deleting a pod's owners, changing ClusterRoles,
 * creating (Cluster)RoleBindings, impersonation. cr: the test's copy of the
 * agent's ClusterRole (unchanged afterwards).
 */
static void agent_denials(struct k8s_client *adm, struct k8s_client *ag, const char *ns,
			  const char *cr, const cJSON *rules)
{
	static const struct {
		const char *kind, *resource, *name;
	} owners[] = {
		{ "Deployment", "deployments", "dep" },
		{ "ReplicaSet", "replicasets", "rs" },
		{ "DaemonSet", "daemonsets", "ds" },
	};
	char path[400], body[2048], hex[9];
	struct sink s;
	cJSON *role;
	size_t i;

	/* Secrets: one, the namespace's, the cluster's */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets", ns);
	post(adm, path, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"creds\"},"
			"\"stringData\":{\"password\":\"hunter2\"}}");
	want_403(ag, "GET", path, NULL, NULL);
	want_403(ag, "GET", "/api/v1/secrets", NULL, NULL);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/creds", ns);
	want_403(ag, "GET", path, NULL, NULL);

	/* a pod's owners: deleting one is not the agent's to do */
	for (i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		create_workload(adm, ns, owners[i].kind, owners[i].resource, owners[i].name);
		snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/%s/%s", ns, owners[i].resource,
			 owners[i].name);
		want_403(ag, "DELETE", path, "application/json", "{\"propagationPolicy\":\"Background\"}");
		cJSON_Delete(get_json(adm, path, 200));   /* still there */
	}

	/*
	 * ClusterRoles: its own role can be neither changed (not even without
	 * widening it, which RBAC's escalation check would refuse anyway) nor
	 * deleted, and no new one made
	 */
	snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterroles/%s", cr);
	role = get_json(adm, path, 200);
	{
		cJSON *md = cJSON_GetObjectItemCaseSensitive(role, "metadata");
		char *put;

		cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), "changed-by", "agent");
		put = cJSON_PrintUnformatted(role);
		want_403(ag, "PUT", path, "application/json", put);
		free(put);
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(role, "rules"),
				     cJSON_Parse("{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],"
						 "\"verbs\":[\"get\",\"list\"]}"));
		put = cJSON_PrintUnformatted(role);
		want_403(ag, "PUT", path, "application/json", put);
		free(put);
	}
	cJSON_Delete(role);
	want_403(ag, "PATCH", path, "application/merge-patch+json",
		 "{\"metadata\":{\"annotations\":{\"changed-by\":\"agent\"}}}");
	want_403(ag, "PATCH", path, "application/merge-patch+json",
		 "{\"rules\":[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]}]}");
	want_403(ag, "PATCH", path, "application/json-patch+json",
		 "[{\"op\":\"add\",\"path\":\"/rules/-\",\"value\":{\"apiGroups\":[\"\"],"
		 "\"resources\":[\"secrets\"],\"verbs\":[\"get\"]}}]");
	want_403(ag, "DELETE", path, NULL, NULL);
	kt_rand_hex(hex, 4);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
		 "\"metadata\":{\"name\":\"ng-agent-made-%s\"},"
		 "\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\"]}]}", hex);
	want_403(ag, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "application/json", body);
	role = get_json(adm, path, 200);
	if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(role, "rules"), rules, true))
		fail_msg("ClusterRole %s changed by the denied calls", cr);
	cJSON_Delete(role);
	snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterroles/ng-agent-made-%s", hex);
	get_json(adm, path, 404);

	/* bindings: granting itself cluster-admin (or its own role) is not possible */
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
		 "\"metadata\":{\"name\":\"ng-agent-escalate-%s\"},"
		 "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"cluster-admin\"},"
		 "\"subjects\":[{\"kind\":\"User\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"agent\"}]}", hex);
	want_403(ag, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "application/json", body);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
		 "\"metadata\":{\"name\":\"ng-agent-own-%s\"},"
		 "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"%s\"},"
		 "\"subjects\":[{\"kind\":\"User\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"mallory\"}]}",
		 hex, cr);
	want_403(ag, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "application/json", body);
	snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ng-agent-escalate-%s",
		 hex);
	get_json(adm, path, 404);

	/*
	 * Impersonation, on a path the agent may read itself (its pods): the
	 * 403 can only be the impersonation's.
	 */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	assert_int_equal(get_with_headers(ag, path, &s, (const char *)NULL), 200);
	assert_int_equal(get_with_headers(ag, path, &s, "Impersonate-User: admin", (const char *)NULL), 403);
	if (!strstr(s.buf, "\"reason\":\"Forbidden\"") || !strstr(s.buf, "impersonate"))
		fail_msg("impersonation: %s", s.buf);
	assert_int_equal(get_with_headers(ag, path, &s, "Impersonate-User: agent",
					  "Impersonate-Group: system:masters", (const char *)NULL),
			 403);
	if (!strstr(s.buf, "impersonate"))
		fail_msg("impersonation (group): %s", s.buf);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/creds", ns);
	assert_int_equal(get_with_headers(ag, path, &s, "Impersonate-User: admin", (const char *)NULL), 403);
	if (!strstr(s.buf, "impersonate"))
		fail_msg("impersonation (secret): %s", s.buf);
	assert_null(strstr(s.buf, "hunter2"));
}

/*
 * Every action with the agent's own token and exactly the rules of the
 * agent's ClusterRole in daemonset/rbac.yaml (read from the file, bound to
 * the test user "agent"), and what those rules must not allow.
 */
static void test_agent_rbac(void **state)
{
	struct k8s_client *adm, *ag;
	struct pod_info p;
	char ns[64], hex[9], body[8192], crb[64], cr[64], path[400], err[600], uid[37];
	char file[4096], *u_label = NULL, *u_np = NULL, *u_rbac = NULL, *rules_json;
	struct k8s_resp r;
	cJSON *before, *after, *rules;

	(void)state;
	KT_NEED_CLUSTER();
	rbac_yaml_path(file, sizeof(file));
	rules = rbac_yaml_rules(file, AGENT_ROLE, err, sizeof(err));
	if (!rules)
		fail_msg("the agent's rules: %s", err);
	rules_json = cJSON_PrintUnformatted(rules);
	assert_non_null(rules_json);
	adm = kt_admin();
	ag = kt_agent();
	kt_ns_create(adm, "ng-act-agent", ns);
	kt_rand_hex(hex, 4);
	snprintf(cr, sizeof(cr), "nodeguard-test-%s", hex);
	snprintf(crb, sizeof(crb), "ng-agent-test-%s", hex);

	/* no rules yet: forbidden */
	cJSON_Delete(kt_pod_create(adm, ns, "web", "test-node", NULL, NULL, uid));
	assert_int_equal(k8s_act_label(ag, ns, "web", "inc-1", &u_label, err, sizeof(err)), -EACCES);

	assert_true((size_t)snprintf(body, sizeof(body),
				     "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
				     "\"metadata\":{\"name\":\"%s\"},\"rules\":%s}",
				     cr, rules_json) < sizeof(body));
	post(adm, "/apis/rbac.authorization.k8s.io/v1/clusterroles", body);
	/* the server keeps exactly these rules */
	snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterroles/%s", cr);
	after = get_json(adm, path, 200);
	assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(after, "rules"), rules, true));
	cJSON_Delete(after);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"%s-agent\"},"
		 "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"%s\"},"
		 "\"subjects\":[{\"kind\":\"User\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"agent\"}]}", cr, cr);
	post(adm, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body);
	/* a binding of a role the agent does not hold (cluster-admin) naming the pod's SA */
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"%s\"},"
		 "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"cluster-admin\"},"
		 "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"default\",\"namespace\":\"%s\"},"
		 "{\"kind\":\"Group\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"ops\"}]}", crb, ns);
	post(adm, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body);
	snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/%s", crb);
	before = subjects(adm, path);

	/* RBAC caches settle quickly; retry the first call for a few seconds */
	{
		uint64_t t0 = kt_now_ms();
		int rc;

		while ((rc = k8s_act_label(ag, ns, "web", "inc-1", &u_label, err, sizeof(err))) == -EACCES &&
		       kt_now_ms() - t0 < 5000)
			kt_sleep_ms(100);
		if (rc)
			fail_msg("label as agent: %s", err);
	}
	if (k8s_act_network_policy(ag, ns, "web", "inc-1", NULL, &u_np, err, sizeof(err)))
		fail_msg("network policy as agent: %s", err);
	{
		char *again = NULL;   /* exists: checked (get) and taken as ours */

		if (k8s_act_network_policy(ag, ns, "web", "inc-1", NULL, &again, err, sizeof(err)))
			fail_msg("network policy again as agent: %s", err);
		assert_string_equal(again, u_np);
		free(again);
	}
	if (k8s_act_revoke_rbac(ag, ns, "default", &u_rbac, err, sizeof(err)))
		fail_msg("revoke as agent: %s", err);
	assert_non_null(u_rbac);
	after = subjects(adm, path);
	assert_int_equal(cJSON_GetArraySize(after), 1);
	cJSON_Delete(after);
	if (k8s_act_event(ag, ns, "web", uid, "NodeGuardAction", "quarantined", "Normal", err, sizeof(err)))
		fail_msg("event as agent: %s", err);
	/* a named Event, and its retry (409 AlreadyExists, no get needed) */
	if (k8s_act_event_named(ag, ns, "web", uid, "inc-1.quarantine", "NodeGuardAction", "quarantined",
				"Normal", err, sizeof(err)))
		fail_msg("named event as agent: %s", err);
	if (k8s_act_event_named(ag, ns, "web", uid, "inc-1.quarantine", "NodeGuardAction", "quarantined",
				"Normal", err, sizeof(err)))
		fail_msg("named event again as agent: %s", err);

	agent_denials(adm, ag, ns, cr, rules);

	if (k8s_act_undo(ag, u_rbac, err, sizeof(err)))
		fail_msg("undo revoke as agent: %s", err);
	after = subjects(adm, path);
	assert_true(cJSON_Compare(after, before, true));
	cJSON_Delete(after);
	if (k8s_act_undo(ag, u_np, err, sizeof(err)))
		fail_msg("undo np as agent: %s", err);
	if (k8s_act_undo(ag, u_label, err, sizeof(err)))
		fail_msg("undo label as agent: %s", err);

	memset(&p, 0, sizeof(p));
	snprintf(p.namespace, sizeof(p.namespace), "%s", ns);
	snprintf(p.name, sizeof(p.name), "web");
	snprintf(p.uid, sizeof(p.uid), "%s", uid);
	if (k8s_act_delete_pod(ag, &p, 0, false, err, sizeof(err)))
		fail_msg("delete as agent: %s", err);
	snprintf(body, sizeof(body), "/api/v1/namespaces/%s/pods/web", ns);
	get_json(adm, body, 404);

	kt_expect(k8s_delete(adm, path, NULL, &r), &r, 200);
	k8s_resp_free(&r);
	snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/%s-agent", cr);
	kt_expect(k8s_delete(adm, path, NULL, &r), &r, 200);
	k8s_resp_free(&r);
	snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterroles/%s", cr);
	kt_expect(k8s_delete(adm, path, NULL, &r), &r, 200);
	k8s_resp_free(&r);
	cJSON_Delete(before);
	cJSON_Delete(rules);
	free(rules_json);
	free(u_label);
	free(u_np);
	free(u_rbac);
	k8s_client_free(ag);
	k8s_client_free(adm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_value),
		cmocka_unit_test(test_bad_undo),
		cmocka_unit_test(test_revoke_conflict_retry),
		cmocka_unit_test(test_rbac_yaml_rules),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_network_policy),
		cmocka_unit_test(test_revoke_rbac),
		cmocka_unit_test(test_delete_pod),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_event_named),
		cmocka_unit_test(test_agent_rbac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
