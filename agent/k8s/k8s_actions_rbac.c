// SPDX-License-Identifier: Apache-2.0
/*
 * Kubernetes response actions, the RBAC side: take a ServiceAccount out of
 * the (Cluster)RoleBindings that name it (k8s_act_revoke_rbac) and put it
 * back from the undo (k8s_act_rbac_restore, for k8s_act_undo); see
 * k8s_actions.h.
 */
#include "k8s_actions_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RBAC "/apis/rbac.authorization.k8s.io/v1"
#define RBAC_RETRIES 3
#define RBAC_PAGE "500"   /* bindings per list request */

static bool subject_is_sa(const cJSON *s, const char *bkind, const char *bns, const char *ns,
			  const char *sa)
{
	const char *k = jget_str(s, "kind"), *nm = jget_str(s, "name"),
		   *sns = jget_str(s, "namespace");

	if (!k || strcmp(k, "ServiceAccount") || !nm || strcmp(nm, sa))
		return false;
	if (sns && *sns)
		return !strcmp(sns, ns);
	/* a RoleBinding's ServiceAccount without a namespace: the binding's */
	return !strcmp(bkind, "RoleBinding") && bns && !strcmp(bns, ns);
}

static int binding_path(char *path, size_t pn, const char *kind, const char *bns, const char *name)
{
	char ens[200], ename[800];

	if (k8s_escape(ename, sizeof(ename), name))
		return -EINVAL;
	if (!strcmp(kind, "ClusterRoleBinding")) {
		snprintf(path, pn, RBAC "/clusterrolebindings/%s", ename);
		return 0;
	}
	if (!bns || k8s_escape(ens, sizeof(ens), bns))
		return -EINVAL;
	snprintf(path, pn, RBAC "/namespaces/%s/rolebindings/%s", ens, ename);
	return 0;
}

/*
 * The annotation a revoke leaves on each binding it changed, in the same
 * PUT as the change: what it removed and where, so a revoke retried after
 * the agent died between the PUT and its journal gets the same undo back
 * (and `kubectl get -o yaml` shows what nodeguard took out). Release
 * removes it. Key: nodeguard.io/revoked-<16 hex of "ns/sa">.
 */
static void revoke_annotation_key(const char *ns, const char *sa, char out[64])
{
	char k[320];

	snprintf(k, sizeof(k), "%s/%s", ns, sa); /* names are bounded: 63 + 253 */
	snprintf(out, 64, "nodeguard.io/revoked-%016llx", (unsigned long long)fnv1a64(k));
}

/* the binding's undo entry */
static cJSON *revoke_entry(const char *kind, const char *bns, const char *name, const char *akey,
			   cJSON *got, cJSON *pos)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "kind", kind);
	cJSON_AddStringToObject(e, "namespace", bns ? bns : "");
	cJSON_AddStringToObject(e, "name", name);
	cJSON_AddItemToObject(e, "removed", got);
	cJSON_AddItemToObject(e, "positions", pos);
	cJSON_AddStringToObject(e, "annotation", akey);
	return e;
}

/*
 * A previous revoke's annotation on obj (nothing left to remove): its entry.
 * Anyone who may edit the binding may edit the annotation, so only what a
 * revoke of this ServiceAccount can have removed is taken from it: subjects
 * that are the ServiceAccount, at numeric positions.
 */
static cJSON *revoke_from_annotation(const cJSON *obj, const char *kind, const char *bns,
				     const char *name, const char *akey, const char *ns,
				     const char *sa)
{
	const char *v = jget_str(jget(jget(obj, "metadata"), "annotations"), akey);
	cJSON *a = v ? cJSON_Parse(v) : NULL, *got = cJSON_CreateArray(), *pos = cJSON_CreateArray();
	const cJSON *rg = jget(a, "removed"), *rp = jget(a, "positions"), *x;
	int i = 0;

	cJSON_ArrayForEach(x, rg)
	{
		const cJSON *p = cJSON_GetArrayItem(rp, i++);

		if (!subject_is_sa(x, kind, bns, ns, sa) || !cJSON_IsNumber(p) || p->valuedouble < 0 ||
		    p->valuedouble > 100000)
			continue;
		cJSON_AddItemToArray(got, cJSON_Duplicate(x, true));
		cJSON_AddItemToArray(pos, cJSON_CreateNumber((int)p->valuedouble));
	}
	cJSON_Delete(a);
	if (!cJSON_GetArraySize(got)) {
		cJSON_Delete(got);
		cJSON_Delete(pos);
		return NULL;
	}
	return revoke_entry(kind, bns, name, akey, got, pos);
}

/*
 * Remove the SA's subjects from one binding (obj: as listed, taken over).
 * removed: array the removed subjects go into. 0 (also when none), -errno.
 */
static int revoke_one(struct k8s_client *c, const char *kind, cJSON *obj, const char *ns,
		      const char *sa, cJSON *removed, char *err, size_t n)
{
	const cJSON *md = jget(obj, "metadata");
	char path[K8S_PATH_MAX], *name = NULL, *bns = NULL, akey[64];
	int rc = 0, attempt;

	revoke_annotation_key(ns, sa, akey);
	name = strdup(jget_str(md, "name") ? jget_str(md, "name") : "");
	bns = jget_str(md, "namespace") ? strdup(jget_str(md, "namespace")) : NULL;
	if (!name || binding_path(path, sizeof(path), kind, bns, name)) {
		rc = -EINVAL;
		seterr(err, n, "%s %s: bad name", kind, name ? name : "");
		goto out;
	}
	for (attempt = 0; attempt <= RBAC_RETRIES; attempt++) {
		cJSON *subj = jget(obj, "subjects"), *s, *keep, *got = cJSON_CreateArray();
		cJSON *pos = cJSON_CreateArray();
		int idx = 0;
		struct k8s_resp r = { 0 };
		char *body;

		if (!obj) {
			obj = get_obj(c, path, &rc, err, n, "get binding");
			if (rc == -ENOENT)
				rc = 0;
			if (!obj) {
				cJSON_Delete(got);
				cJSON_Delete(pos);
				goto out;
			}
			subj = jget(obj, "subjects");
		}
		keep = cJSON_CreateArray();
		cJSON_ArrayForEach(s, subj)
		{
			if (subject_is_sa(s, kind, bns, ns, sa)) {
				cJSON_AddItemToArray(got, cJSON_Duplicate(s, true));
				cJSON_AddItemToArray(pos, cJSON_CreateNumber(idx));
			} else
				cJSON_AddItemToArray(keep, cJSON_Duplicate(s, true));
			idx++;
		}
		if (!cJSON_GetArraySize(got)) {
			/* removed before (a revoke whose result was not journaled)? */
			cJSON *e = revoke_from_annotation(obj, kind, bns, name, akey, ns, sa);

			if (e)
				cJSON_AddItemToArray(removed, e);
			cJSON_Delete(got);
			cJSON_Delete(pos);
			cJSON_Delete(keep);
			goto out;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(obj, "subjects", keep);
		{
			cJSON *m = jget(obj, "metadata"), *an, *rec = cJSON_CreateObject();
			char *v;

			if (!m)
				m = cJSON_AddObjectToObject(obj, "metadata");
			an = jget(m, "annotations");
			if (!cJSON_IsObject(an)) {
				cJSON_DeleteItemFromObjectCaseSensitive(m, "annotations");
				an = cJSON_AddObjectToObject(m, "annotations");
			}
			cJSON_AddItemToObject(rec, "removed", cJSON_Duplicate(got, true));
			cJSON_AddItemToObject(rec, "positions", cJSON_Duplicate(pos, true));
			v = print_json(rec);
			cJSON_Delete(rec);
			cJSON_DeleteItemFromObjectCaseSensitive(an, akey);
			if (v)
				cJSON_AddStringToObject(an, akey, v);
			free(v);
		}
		body = print_json(obj);
		rc = body ? k8s_put(c, path, body, &r) : -ENOMEM;
		free(body);
		if (!rc) {
			cJSON_AddItemToArray(removed, revoke_entry(kind, bns, name, akey, got, pos));
			k8s_resp_free(&r);
			goto out;
		}
		cJSON_Delete(got);
		cJSON_Delete(pos);
		if (rc != -ENOMEM)
			resp_fail(rc, &r, err, n, kind);
		else
			seterr(err, n, "out of memory");
		k8s_resp_free(&r);
		cJSON_Delete(obj);
		obj = NULL;
		if (rc != -EEXIST)   /* 409 Conflict: re-read and retry */
			goto out;
	}
out:
	cJSON_Delete(obj);
	free(name);
	free(bns);
	return rc;
}

int k8s_act_revoke_rbac(struct k8s_client *c, const char *ns, const char *sa, char **undo_out,
			char *err, size_t n)
{
	char lpath[2][K8S_PATH_MAX], ens[200];
	const char *kinds[2] = { "RoleBinding", "ClusterRoleBinding" };
	cJSON *u, *removed;
	int rc, first = 0, k;

	if (undo_out)
		*undo_out = NULL;
	if ((rc = seg(ens, sizeof(ens), ns, err, n, "namespace")))
		return rc;
	if (!sa || !*sa) {
		seterr(err, n, "service account: empty");
		return -EINVAL;
	}
	snprintf(lpath[0], sizeof(lpath[0]), RBAC "/namespaces/%s/rolebindings", ens);
	snprintf(lpath[1], sizeof(lpath[1]), RBAC "/clusterrolebindings");
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "action", "revoke-rbac");
	cJSON_AddStringToObject(u, "namespace", ns);
	cJSON_AddStringToObject(u, "service_account", sa);
	removed = cJSON_AddArrayToObject(u, "bindings");
	for (k = 0; k < 2; k++) {
		char *cont = NULL;   /* paged: limit RBAC_PAGE, continue token */

		do {
			char page[K8S_PATH_MAX];
			const char *tok;
			cJSON *list = NULL, *it;

			rc = k8s_path(page, sizeof(page), lpath[k], "limit", RBAC_PAGE, "continue", cont,
				      NULL);
			free(cont);
			cont = NULL;
			if (!rc)
				list = get_obj(c, page, &rc, err, n, kinds[k]);
			else
				seterr(err, n, "%s: list path: %s", kinds[k], strerror(-rc));
			if (!list) {
				if (!first)
					first = rc;
				break;
			}
			cJSON_ArrayForEach(it, jget(list, "items"))
			{
				const char *bn = jget_str(jget(it, "metadata"), "name");
				char eb[512];

				if (!bn || !strncmp(bn, "system:", 7))
					continue;
				rc = revoke_one(c, kinds[k], cJSON_Duplicate(it, true), ns, sa, removed, eb,
						sizeof(eb));
				if (rc && !first) {
					first = rc;
					seterr(err, n, "%s", eb);
				}
			}
			tok = jget_str(jget(list, "metadata"), "continue");
			if (tok && *tok)
				cont = strdup(tok);
			cJSON_Delete(list);
		} while (cont);
	}
	if (undo_out && cJSON_GetArraySize(removed) && !(*undo_out = print_json(u)) && !first) {
		seterr(err, n, "out of memory");
		first = -ENOMEM;
	}
	cJSON_Delete(u);
	return first;
}

/*
 * Insert item at index at of arr (at < 0 or past the end: append). Not
 * cJSON_InsertItemInArray: libcjson 1.7.15 (Debian bookworm) returns false
 * and inserts nothing for an index inside the array. Linked by hand from
 * the next pointers; the first item's prev is the last (cJSON's invariant).
 */
static bool array_insert(cJSON *arr, int at, cJSON *item)
{
	cJSON *prev = NULL, *cur = arr->child;
	int i;

	for (i = 0; cur && i < at; i++) {
		prev = cur;
		cur = cur->next;
	}
	if (at < 0 || !cur)
		return cJSON_AddItemToArray(arr, item);
	item->next = cur;
	if (!prev) {
		item->prev = cur->prev;
		arr->child = item;
	} else {
		prev->next = item;
		item->prev = prev;
	}
	cur->prev = item;
	return true;
}

int k8s_act_rbac_restore(struct k8s_client *c, const cJSON *b, char *err, size_t n)
{
	const char *kind = jget_str(b, "kind"), *bns = jget_str(b, "namespace"),
		   *name = jget_str(b, "name");
	const cJSON *want = jget(b, "removed"), *pos = jget(b, "positions");
	char path[K8S_PATH_MAX];
	int rc = 0, attempt;

	if (!kind || !name || !cJSON_IsArray(want) ||
	    (strcmp(kind, "RoleBinding") && strcmp(kind, "ClusterRoleBinding")) ||
	    binding_path(path, sizeof(path), kind, bns, name)) {
		seterr(err, n, "undo: malformed binding entry");
		return -EINVAL;
	}
	for (attempt = 0; attempt <= RBAC_RETRIES; attempt++) {
		cJSON *obj = get_obj(c, path, &rc, err, n, kind), *subj, *w;
		struct k8s_resp r = { 0 };
		bool changed = false;
		char *body;

		if (!obj) {
			if (rc == -ENOENT)
				seterr(err, n, "%s %s%s%s is gone: subjects not restored", kind,
				       bns && *bns ? bns : "", bns && *bns ? "/" : "", name);
			return rc;
		}
		subj = jget(obj, "subjects");
		if (!cJSON_IsArray(subj)) {
			cJSON_DeleteItemFromObjectCaseSensitive(obj, "subjects");
			subj = cJSON_AddArrayToObject(obj, "subjects");
		}
		int wi = 0;

		cJSON_ArrayForEach(w, want)
		{
			const cJSON *s, *p = cJSON_GetArrayItem(pos, wi++);
			bool have = false;

			cJSON_ArrayForEach(s, subj)
			{
				if (cJSON_Compare(s, w, true)) {
					have = true;
					break;
				}
			}
			if (!have) {
				/* back at its old position (ascending), else at the end */
				int at = cJSON_IsNumber(p) ? p->valueint : -1;

				cJSON *d = cJSON_Duplicate(w, true);

				if (!d || !array_insert(subj, at, d)) {
					cJSON_Delete(d);
					cJSON_Delete(obj);
					seterr(err, n, "out of memory");
					return -ENOMEM;
				}
				changed = true;
			}
		}
		/* the revoke's note on the binding goes with it */
		{
			const char *akey = jget_str(b, "annotation");
			cJSON *an = jget(jget(obj, "metadata"), "annotations");

			if (akey && jget(an, akey)) {
				cJSON_DeleteItemFromObjectCaseSensitive(an, akey);
				changed = true;
			}
		}
		if (!changed) {
			cJSON_Delete(obj);
			return 0;
		}
		body = print_json(obj);
		cJSON_Delete(obj);
		rc = body ? k8s_put(c, path, body, &r) : -ENOMEM;
		free(body);
		if (rc && rc != -ENOMEM)
			resp_fail(rc, &r, err, n, kind);
		k8s_resp_free(&r);
		if (rc != -EEXIST)
			return rc;
	}
	return rc;
}
