// SPDX-License-Identifier: Apache-2.0
/*
 * Kubernetes response actions on a pod: label, NetworkPolicy, deletion,
 * Events, and the undo of each; see k8s_actions.h. The RBAC revoke and
 * restore are in k8s_actions_rbac.c.
 */
#include "clock.h"
#include "k8s_actions_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void k8s_label_value(const char *id, char out[64])
{
	size_t i, o = 0;

	for (i = 0; id && id[i] && o < 63; i++) {
		unsigned char ch = (unsigned char)id[i];

		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.')
			out[o++] = (char)ch;
		else if (o && out[o - 1] != '-')
			out[o++] = '-';
	}
	out[o] = '\0';
	/* alphanumeric at both ends */
	while (o && !isalnum((unsigned char)out[o - 1]))
		out[--o] = '\0';
	i = 0;
	while (out[i] && !isalnum((unsigned char)out[i]))
		i++;
	memmove(out, out + i, o - i + 1);
	if (!out[0])
		snprintf(out, 64, "incident");
}

/* "nodeguard-quarantine-<≤ 32 lowercase alnum/- of the label value>" */
static void np_name(const char *value, char out[64])
{
	size_t i, o;

	o = (size_t)snprintf(out, 64, "nodeguard-quarantine-");
	for (i = 0; value[i] && o < 21 + 32; i++) {
		unsigned char ch = (unsigned char)value[i];

		out[o++] = isalnum(ch) ? (char)tolower(ch) : '-';
	}
	while (out[o - 1] == '-')
		o--;
	out[o] = '\0';
}

/* --------------------------------------------------------------------- label */

/*
 * Put the label back to prev (NULL: remove it) only while it still has our
 * value (JSON patch "test"): a later quarantine's value is left alone.
 * 0, 1 (changed since: left as is), -errno.
 */
static int label_restore(struct k8s_client *c, const char *ns, const char *name, const char *ours,
			 const char *prev, char *err, size_t n)
{
	static const char ptr[] = "/metadata/labels/nodeguard.io~1quarantine";
	char path[K8S_PATH_MAX], ens[200], ename[800];
	struct k8s_resp r;
	cJSON *p, *op;
	char *body;
	int rc;

	if ((rc = seg(ens, sizeof(ens), ns, err, n, "namespace")) ||
	    (rc = seg(ename, sizeof(ename), name, err, n, "pod name")))
		return rc;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ens, ename);
	p = cJSON_CreateArray();
	op = cJSON_CreateObject();
	cJSON_AddStringToObject(op, "op", "test");
	cJSON_AddStringToObject(op, "path", ptr);
	cJSON_AddStringToObject(op, "value", ours);
	cJSON_AddItemToArray(p, op);
	op = cJSON_CreateObject();
	cJSON_AddStringToObject(op, "op", prev ? "replace" : "remove");
	cJSON_AddStringToObject(op, "path", ptr);
	if (prev)
		cJSON_AddStringToObject(op, "value", prev);
	cJSON_AddItemToArray(p, op);
	body = print_json(p);
	cJSON_Delete(p);
	if (!body) {
		seterr(err, n, "out of memory");
		return -ENOMEM;
	}
	rc = k8s_patch(c, path, K8S_PATCH_JSON, body, &r);
	free(body);
	if (rc == -EINVAL && r.status == 422) {
		/* the test failed: the label is no longer ours */
		seterr(err, n, "pod %s/%s: label %s changed since; left as is", ns, name,
		       K8S_QUARANTINE_LABEL);
		rc = 1;
	} else if (rc)
		rc = resp_fail(rc, &r, err, n, "restore label");
	k8s_resp_free(&r);
	return rc;
}

static int label_set(struct k8s_client *c, const char *ns, const char *name, const char *value,
		     char *err, size_t n)
{
	char path[K8S_PATH_MAX], ens[200], ename[800];
	struct k8s_resp r;
	cJSON *p, *l;
	char *body;
	int rc;

	if ((rc = seg(ens, sizeof(ens), ns, err, n, "namespace")) ||
	    (rc = seg(ename, sizeof(ename), name, err, n, "pod name")))
		return rc;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ens, ename);
	p = cJSON_CreateObject();
	l = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "labels");
	if (value)
		cJSON_AddStringToObject(l, K8S_QUARANTINE_LABEL, value);
	else
		cJSON_AddNullToObject(l, K8S_QUARANTINE_LABEL);
	body = print_json(p);
	cJSON_Delete(p);
	if (!body) {
		seterr(err, n, "out of memory");
		return -ENOMEM;
	}
	rc = k8s_patch(c, path, K8S_PATCH_MERGE, body, &r);
	free(body);
	if (rc)
		rc = resp_fail(rc, &r, err, n, "label pod");
	k8s_resp_free(&r);
	return rc;
}

int k8s_act_label(struct k8s_client *c, const char *ns, const char *name, const char *incident_id,
		  char **undo_out, char *err, size_t n)
{
	char path[K8S_PATH_MAX], ens[200], ename[800], value[64];
	const char *prev = NULL;
	struct k8s_resp r;
	cJSON *pod = NULL, *u;
	int rc;

	if (undo_out)
		*undo_out = NULL;
	if ((rc = seg(ens, sizeof(ens), ns, err, n, "namespace")) ||
	    (rc = seg(ename, sizeof(ename), name, err, n, "pod name")))
		return rc;
	k8s_label_value(incident_id, value);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ens, ename);
	rc = k8s_get(c, path, &r);
	if (rc) {
		rc = resp_fail(rc, &r, err, n, "get pod");
		k8s_resp_free(&r);
		return rc;
	}
	pod = parse_resp(&r);
	k8s_resp_free(&r);
	if (!pod) {
		seterr(err, n, "get pod: unparsable response");
		return -EBADMSG;
	}
	prev = jget_str(jget(jget(pod, "metadata"), "labels"), K8S_QUARANTINE_LABEL);
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "action", "label");
	cJSON_AddStringToObject(u, "namespace", ns);
	cJSON_AddStringToObject(u, "name", name);
	cJSON_AddStringToObject(u, "key", K8S_QUARANTINE_LABEL);
	cJSON_AddStringToObject(u, "value", value);
	if (prev)
		cJSON_AddStringToObject(u, "previous", prev);
	else
		cJSON_AddNullToObject(u, "previous");
	cJSON_Delete(pod);
	rc = label_set(c, ns, name, value, err, n);
	if (!rc && undo_out && !(*undo_out = print_json(u))) {
		seterr(err, n, "out of memory");
		rc = -ENOMEM;
	}
	cJSON_Delete(u);
	return rc;
}

/* ------------------------------------------------------------ network policy */

static cJSON *ns_peer(const char *ns)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(
		cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "namespaceSelector"), "matchLabels"),
		"kubernetes.io/metadata.name", ns);
	return p;
}

static cJSON *cidr_peer(const char *cidr)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "ipBlock"), "cidr", cidr);
	return p;
}

/* one rule {"from"|"to": [namespaces..., cidrs...]} into arr, if any peer */
static void add_peers_rule(cJSON *arr, const char *dir, const struct k8s_np_allows *a)
{
	cJSON *rule, *peers;
	size_t i;

	if (!a || (!a->nnamespaces && !a->ncidrs))
		return;
	rule = cJSON_CreateObject();
	peers = cJSON_AddArrayToObject(rule, dir);
	for (i = 0; i < a->nnamespaces; i++)
		if (a->namespaces[i] && *a->namespaces[i])
			cJSON_AddItemToArray(peers, ns_peer(a->namespaces[i]));
	for (i = 0; i < a->ncidrs; i++)
		if (a->cidrs[i] && *a->cidrs[i])
			cJSON_AddItemToArray(peers, cidr_peer(a->cidrs[i]));
	if (cJSON_GetArraySize(peers))
		cJSON_AddItemToArray(arr, rule);
	else
		cJSON_Delete(rule);
}

static cJSON *np_build(const char *ns, const char *npname, const char *pod, const char *value,
		       const struct k8s_np_allows *a)
{
	cJSON *np = cJSON_CreateObject(), *md, *l, *spec, *pt, *eg;

	cJSON_AddStringToObject(np, "apiVersion", "networking.k8s.io/v1");
	cJSON_AddStringToObject(np, "kind", "NetworkPolicy");
	md = cJSON_AddObjectToObject(np, "metadata");
	cJSON_AddStringToObject(md, "name", npname);
	cJSON_AddStringToObject(md, "namespace", ns);
	l = cJSON_AddObjectToObject(md, "labels");
	cJSON_AddStringToObject(l, K8S_MANAGED_BY_LABEL, K8S_MANAGED_BY);
	cJSON_AddStringToObject(l, K8S_INCIDENT_LABEL, value);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), "nodeguard.io/pod", pod);
	spec = cJSON_AddObjectToObject(np, "spec");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "podSelector"),
							"matchLabels"),
				K8S_QUARANTINE_LABEL, value);
	pt = cJSON_AddArrayToObject(spec, "policyTypes");
	cJSON_AddItemToArray(pt, cJSON_CreateString("Ingress"));
	cJSON_AddItemToArray(pt, cJSON_CreateString("Egress"));
	add_peers_rule(cJSON_AddArrayToObject(spec, "ingress"), "from", a);
	eg = cJSON_AddArrayToObject(spec, "egress");
	if (a && a->dns) {
		cJSON *rule = cJSON_CreateObject(), *to = cJSON_AddArrayToObject(rule, "to");
		cJSON *peer = ns_peer("kube-system"), *ports = cJSON_AddArrayToObject(rule, "ports");
		const char *protos[] = { "UDP", "TCP" };
		size_t i;

		cJSON_AddStringToObject(
			cJSON_AddObjectToObject(cJSON_AddObjectToObject(peer, "podSelector"), "matchLabels"),
			"k8s-app", "kube-dns");
		cJSON_AddItemToArray(to, peer);
		for (i = 0; i < 2; i++) {
			cJSON *p = cJSON_CreateObject();

			cJSON_AddStringToObject(p, "protocol", protos[i]);
			cJSON_AddNumberToObject(p, "port", 53);
			cJSON_AddItemToArray(ports, p);
		}
		cJSON_AddItemToArray(eg, rule);
	}
	add_peers_rule(eg, "to", a);
	return np;
}

int k8s_act_network_policy(struct k8s_client *c, const char *ns, const char *name,
			   const char *incident_id, const struct k8s_np_allows *allows,
			   char **undo_out, char *err, size_t n)
{
	char path[K8S_PATH_MAX], ens[200], value[64], npname[64];
	struct k8s_resp r;
	cJSON *np, *u;
	char *body;
	int rc;

	if (undo_out)
		*undo_out = NULL;
	if ((rc = seg(ens, sizeof(ens), ns, err, n, "namespace")))
		return rc;
	k8s_label_value(incident_id, value);
	np_name(value, npname);
	snprintf(path, sizeof(path), "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies", ens);
	np = np_build(ns, npname, name ? name : "", value, allows);
	body = print_json(np);
	cJSON_Delete(np);
	if (!body) {
		seterr(err, n, "out of memory");
		return -ENOMEM;
	}
	rc = k8s_post(c, path, body, &r);
	free(body);
	if (rc == -EEXIST && r.status == 409 && !strcmp(r.reason, "AlreadyExists")) {
		/* ours only if it selects the same label value (names are lowercased, cut) */
		char gpath[K8S_PATH_MAX];
		cJSON *old;
		const char *sel;

		k8s_resp_free(&r);
		snprintf(gpath, sizeof(gpath), "%s/%s", path, npname);
		old = get_obj(c, gpath, &rc, err, n, "get NetworkPolicy");
		if (!old)
			return rc;
		sel = jget_str(jget(jget(jget(old, "spec"), "podSelector"), "matchLabels"),
			       K8S_QUARANTINE_LABEL);
		if (!sel || strcmp(sel, value)) {
			seterr(err, n,
			       "NetworkPolicy %s/%s exists and does not select %s=%s; not taken over", ns,
			       npname, K8S_QUARANTINE_LABEL, value);
			cJSON_Delete(old);
			return -EEXIST;
		}
		cJSON_Delete(old);
		rc = 0;
	} else {
		if (rc)
			rc = resp_fail(rc, &r, err, n, "create NetworkPolicy");
		k8s_resp_free(&r);
		if (rc)
			return rc;
	}
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "action", "network-policy");
	cJSON_AddStringToObject(u, "kind", "NetworkPolicy");
	cJSON_AddStringToObject(u, "namespace", ns);
	cJSON_AddStringToObject(u, "name", npname);
	if (undo_out && !(*undo_out = print_json(u)))
		rc = -ENOMEM;
	cJSON_Delete(u);
	return rc;
}

/* ---------------------------------------------------------------- delete pod */

int k8s_act_delete_pod(struct k8s_client *c, const struct pod_info *pod, long grace_seconds,
		       bool force_daemonset, char *err, size_t n)
{
	char path[K8S_PATH_MAX], ens[200], ename[800];
	const cJSON *md, *o;
	struct k8s_resp r;
	cJSON *obj, *opts;
	const char *uid;
	char *body;
	int rc;

	if (!pod) {
		seterr(err, n, "no pod");
		return -EINVAL;
	}
	if ((rc = seg(ens, sizeof(ens), pod->namespace, err, n, "namespace")) ||
	    (rc = seg(ename, sizeof(ename), pod->name, err, n, "pod name")))
		return rc;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ens, ename);
	obj = get_obj(c, path, &rc, err, n, "get pod");
	if (!obj) {
		if (rc == -ENOENT) {
			seterr(err, n, "pod %s/%s already gone", pod->namespace, pod->name);
			return 0;
		}
		return rc;
	}
	md = jget(obj, "metadata");
	uid = jget_str(md, "uid");
	if (pod->uid[0] && uid && strcasecmp(uid, pod->uid)) {
		seterr(err, n, "pod %s/%s already gone (uid %s is another pod)", pod->namespace,
		       pod->name, uid);
		cJSON_Delete(obj);
		return 0;
	}
	if (jget_str(jget(md, "annotations"), "kubernetes.io/config.mirror")) {
		seterr(err, n, "pod %s/%s is a static (mirror) pod: the kubelet recreates it; not deleted",
		       pod->namespace, pod->name);
		cJSON_Delete(obj);
		return -EPERM;
	}
	cJSON_ArrayForEach(o, jget(md, "ownerReferences"))
	{
		const char *k = jget_str(o, "kind");

		if (k && !strcmp(k, "Node")) {
			seterr(err, n, "pod %s/%s is a static (mirror) pod owned by its Node; not deleted",
			       pod->namespace, pod->name);
			cJSON_Delete(obj);
			return -EPERM;
		}
		if (k && !strcmp(k, "DaemonSet") && !force_daemonset) {
			seterr(err, n,
			       "pod %s/%s is owned by DaemonSet %s (recreated at once); not deleted "
			       "without force",
			       pod->namespace, pod->name,
			       jget_str(o, "name") ? jget_str(o, "name") : "?");
			cJSON_Delete(obj);
			return -EPERM;
		}
	}
	opts = cJSON_CreateObject();
	cJSON_AddStringToObject(opts, "apiVersion", "v1");
	cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
	if (grace_seconds >= 0)
		cJSON_AddNumberToObject(opts, "gracePeriodSeconds", (double)grace_seconds);
	if (uid)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid", uid);
	body = print_json(opts);
	cJSON_Delete(opts);
	cJSON_Delete(obj);
	if (!body) {
		seterr(err, n, "out of memory");
		return -ENOMEM;
	}
	rc = k8s_delete(c, path, body, &r);
	free(body);
	if (rc == -ENOENT || (rc == -EEXIST && r.status == 409)) {
		/* gone, or the uid precondition failed: another pod by now */
		seterr(err, n, "pod %s/%s already gone", pod->namespace, pod->name);
		rc = 0;
	} else if (rc)
		rc = resp_fail(rc, &r, err, n, "delete pod");
	k8s_resp_free(&r);
	return rc;
}

/* --------------------------------------------------------------------- event */

#define EVENT_NAME_MAX 253   /* metadata.name: a DNS subdomain */
#define EVENT_KEY_MAX 128    /* the key part of a named Event, hash suffix included */

/*
 * The key part of a named Event's name (≤ EVENT_KEY_MAX chars, a valid DNS
 * subdomain: lowercase [a-z0-9], '-' and '.', every '.'-separated label
 * alphanumeric at both ends). A key that already is one is used as it is;
 * any other (changed by the mapping, or too long) becomes its first chars +
 * "-" + 16 hex of a hash of the whole key, so two keys that map to the same
 * text still name two Events, and the same key always the same one.
 */
static void event_key_part(const char *key, char out[EVENT_KEY_MAX + 1])
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0, keep;
	bool changed = false;
	uint64_t h;

	for (i = 0; key[i]; i++) {
		unsigned char ch = (unsigned char)key[i];

		if (o >= EVENT_KEY_MAX) {
			changed = true;
			break;
		}
		/* ASCII only, whatever the locale */
		if (ch >= 'A' && ch <= 'Z') {
			ch = (unsigned char)(ch - 'A' + 'a');
			changed = true;
		} else if (!(ch >= 'a' && ch <= 'z') && !(ch >= '0' && ch <= '9') && ch != '-' &&
			   ch != '.') {
			ch = '-';
			changed = true;
		}
		if (ch == '.') {
			/* a label ends alphanumeric; no empty label */
			while (o && out[o - 1] == '-') {
				o--;
				changed = true;
			}
			if (!o || out[o - 1] == '.') {
				changed = true;
				continue;
			}
		} else if (ch == '-' && (!o || out[o - 1] == '.')) {
			/* a label starts alphanumeric */
			changed = true;
			continue;
		}
		out[o++] = (char)ch;
	}
	while (o && (out[o - 1] == '-' || out[o - 1] == '.')) {
		o--;
		changed = true;
	}
	out[o] = '\0';
	if (!changed && o)
		return;
	/* "<prefix>-<16 hex>" (or the hash alone) */
	keep = o < EVENT_KEY_MAX - 17 ? o : EVENT_KEY_MAX - 17;
	while (keep && (out[keep - 1] == '-' || out[keep - 1] == '.'))
		keep--;
	o = keep;
	if (o)
		out[o++] = '-';
	h = fnv1a64(key);
	for (i = 0; i < 16; i++)
		out[o++] = hx[(h >> (60 - 4 * i)) & 15];
	out[o] = '\0';
}

/* "<pod>.<suffix>": the pod part is cut (never the suffix) to fit 253 chars */
static void event_name(const char *pod, const char *suffix, char out[EVENT_NAME_MAX + 1])
{
	size_t pl = strlen(pod), max = EVENT_NAME_MAX - 1 - strlen(suffix);

	if (pl > max)
		pl = max;
	/* a cut pod name ends alphanumeric too */
	while (pl && (pod[pl - 1] == '-' || pod[pl - 1] == '.'))
		pl--;
	snprintf(out, EVENT_NAME_MAX + 1, "%.*s.%s", (int)pl, pod, suffix);
}

/* 16 random hex: an Event per call */
static void event_random_suffix(struct k8s_client *c, const struct timespec *now, char hex[17])
{
	static const char hx[] = "0123456789abcdef";
	uint64_t rnd;
	int i;

	rnd = k8s_client_rand(c) ^ ((uint64_t)now->tv_nsec * 0x9e3779b97f4a7c15ull);
	for (i = 0; i < 16; i++)
		hex[i] = hx[(rnd >> (4 * i)) & 15];
	hex[16] = '\0';
}

/* key NULL: a random name; else the deterministic one, and 409 AlreadyExists = 0 */
static int event_create(struct k8s_client *c, const char *ns, const char *pod, const char *uid,
			const char *key, const char *reason, const char *message, const char *type,
			char *err, size_t n)
{
	char path[K8S_PATH_MAX], ens[200], evname[EVENT_NAME_MAX + 1], suffix[EVENT_KEY_MAX + 1];
	char ts[32], msg[1025];
	struct timespec now;
	struct k8s_resp r;
	cJSON *ev, *io, *src;
	char *body;
	int rc;

	if ((rc = seg(ens, sizeof(ens), ns, err, n, "namespace")))
		return rc;
	if (!pod || !*pod) {
		seterr(err, n, "pod name: empty");
		return -EINVAL;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (key)
		event_key_part(key, suffix);
	else
		event_random_suffix(c, &now, suffix);
	event_name(pod, suffix, evname);
	clock_rfc3339((uint64_t)now.tv_sec * 1000000000u, 0, ts, sizeof(ts));
	snprintf(msg, sizeof(msg), "%s", message ? message : "");
	if (message && strlen(message) >= sizeof(msg)) {
		/* cut on a UTF-8 boundary */
		size_t l = sizeof(msg) - 1;

		while (l && ((unsigned char)msg[l] & 0xC0) == 0x80)
			l--;
		msg[l] = '\0';
	}

	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "apiVersion", "v1");
	cJSON_AddStringToObject(ev, "kind", "Event");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(ev, "metadata"), "name", evname);
	io = cJSON_AddObjectToObject(ev, "involvedObject");
	cJSON_AddStringToObject(io, "apiVersion", "v1");
	cJSON_AddStringToObject(io, "kind", "Pod");
	cJSON_AddStringToObject(io, "namespace", ns);
	cJSON_AddStringToObject(io, "name", pod);
	if (uid && *uid)
		cJSON_AddStringToObject(io, "uid", uid);
	cJSON_AddStringToObject(ev, "reason", reason && *reason ? reason : "NodeGuard");
	cJSON_AddStringToObject(ev, "message", msg);
	cJSON_AddStringToObject(ev, "type", type && *type ? type : "Warning");
	src = cJSON_AddObjectToObject(ev, "source");
	cJSON_AddStringToObject(src, "component", K8S_MANAGED_BY);
	cJSON_AddStringToObject(ev, "reportingComponent", K8S_MANAGED_BY);
	cJSON_AddStringToObject(ev, "firstTimestamp", ts);
	cJSON_AddStringToObject(ev, "lastTimestamp", ts);
	cJSON_AddNumberToObject(ev, "count", 1);
	body = print_json(ev);
	cJSON_Delete(ev);
	if (!body) {
		seterr(err, n, "out of memory");
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ens);
	rc = k8s_post(c, path, body, &r);
	free(body);
	if (key && rc == -EEXIST && r.status == 409 && !strcmp(r.reason, "AlreadyExists")) {
		/* created by an earlier call with this key (a retry) */
		seterr(err, n, "Event %s/%s exists already", ns, evname);
		rc = 0;
	} else if (rc)
		rc = resp_fail(rc, &r, err, n, "create Event");
	k8s_resp_free(&r);
	return rc;
}

int k8s_act_event(struct k8s_client *c, const char *ns, const char *pod, const char *uid,
		  const char *reason, const char *message, const char *type, char *err, size_t n)
{
	return event_create(c, ns, pod, uid, NULL, reason, message, type, err, n);
}

int k8s_act_event_named(struct k8s_client *c, const char *ns, const char *pod, const char *uid,
			const char *key, const char *reason, const char *message, const char *type,
			char *err, size_t n)
{
	if (!key || !*key) {
		seterr(err, n, "event key: empty");
		return -EINVAL;
	}
	return event_create(c, ns, pod, uid, key, reason, message, type, err, n);
}

/* ---------------------------------------------------------------------- undo */

int k8s_act_undo(struct k8s_client *c, const char *undo_json, char *err, size_t n)
{
	cJSON *u = undo_json ? cJSON_Parse(undo_json) : NULL;
	const char *action = jget_str(u, "action"), *ns = jget_str(u, "namespace"),
		   *name = jget_str(u, "name");
	int rc = 0;

	if (!action) {
		seterr(err, n, "undo: not an undo document");
		cJSON_Delete(u);
		return -EINVAL;
	}
	if (!strcmp(action, "label")) {
		const cJSON *prev = jget(u, "previous");
		const char *ours = jget_str(u, "value"),
			   *pv = cJSON_IsString(prev) ? prev->valuestring : NULL;

		rc = ours ? label_restore(c, ns, name, ours, pv, err, n) : label_set(c, ns, name, pv, err, n);
		if (rc == 1)
			rc = 0;
		if (rc == -ENOENT) {
			seterr(err, n, "pod %s/%s is gone: nothing to restore", ns ? ns : "",
			       name ? name : "");
			rc = 0;
		}
	} else if (!strcmp(action, "network-policy")) {
		char path[K8S_PATH_MAX], ens[200], ename[800];
		struct k8s_resp r;

		if (!(rc = seg(ens, sizeof(ens), ns, err, n, "namespace")) &&
		    !(rc = seg(ename, sizeof(ename), name, err, n, "name"))) {
			snprintf(path, sizeof(path),
				 "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies/%s", ens, ename);
			rc = k8s_delete(c, path, NULL, &r);
			if (rc == -ENOENT)
				rc = 0;
			else if (rc)
				rc = resp_fail(rc, &r, err, n, "delete NetworkPolicy");
			k8s_resp_free(&r);
		}
	} else if (!strcmp(action, "revoke-rbac")) {
		const cJSON *b;
		char eb[700];

		cJSON_ArrayForEach(b, jget(u, "bindings"))
		{
			int r1 = k8s_act_rbac_restore(c, b, eb, sizeof(eb));

			if (r1 && !rc) {
				rc = r1;
				seterr(err, n, "%s", eb);
			}
		}
	} else {
		seterr(err, n, "undo: unknown action \"%s\"", action);
		rc = -EINVAL;
	}
	cJSON_Delete(u);
	return rc;
}
