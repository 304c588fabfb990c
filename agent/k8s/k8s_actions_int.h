/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the Kubernetes response actions (k8s_actions.c: label,
 * NetworkPolicy, pod deletion, Events, undo; k8s_actions_rbac.c: the
 * ServiceAccount revoke and its restore): the error, JSON and request
 * helpers both use, and the restore k8s_act_undo() calls.
 */
#ifndef NODEGUARD_K8S_ACTIONS_INT_H
#define NODEGUARD_K8S_ACTIONS_INT_H

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nodeguard/fnv.h"
#include "errbuf.h"
#include "jsonget.h"
#include "k8s_actions.h"

static inline int resp_fail(int rc, struct k8s_resp *r, char *err, size_t n, const char *what)
{
	char eb[700];

	seterr(err, n, "%s: %s", what, k8s_resp_error(r, eb, sizeof(eb)));
	return rc;
}

static inline char *print_json(cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;

	return s;
}

static inline cJSON *parse_resp(const struct k8s_resp *r)
{
	return r->body ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
}

static inline cJSON *jget(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static inline int seg(char *buf, size_t n, const char *s, char *err, size_t en, const char *what)
{
	int rc;

	if (!s || !*s) {
		seterr(err, en, "%s: empty", what);
		return -EINVAL;
	}
	rc = k8s_escape(buf, n, s);
	if (rc)
		seterr(err, en, "%s: cannot escape \"%s\"", what, s);
	return rc;
}

static inline cJSON *get_obj(struct k8s_client *c, const char *path, int *rc, char *err, size_t n,
		      const char *what)
{
	struct k8s_resp r;
	cJSON *o = NULL;

	*rc = k8s_get(c, path, &r);
	if (*rc)
		resp_fail(*rc, &r, err, n, what);
	else if (!(o = parse_resp(&r))) {
		seterr(err, n, "%s: unparsable response", what);
		*rc = -EBADMSG;
	}
	k8s_resp_free(&r);
	return o;
}

/* FNV-1a 64 of a string: revoke annotation keys, Event name suffixes */
static inline uint64_t fnv1a64(const char *s)
{
	return ng_fnv1a_more(NG_FNV_OFFSET, s, strlen(s));
}

/* put back what one binding entry of a revoke-rbac undo removed; 0 or -errno */
int k8s_act_rbac_restore(struct k8s_client *c, const cJSON *b, char *err, size_t n);

#endif
