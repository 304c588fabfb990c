/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small synchronous Kubernetes API client on one libcurl easy handle
 * (connections are reused between calls).
 *
 * Every call has a connect timeout and a total timeout; response bodies are
 * bounded (an overflow is an error, never a truncated body); GET, PUT and
 * DELETE are retried with exponential backoff and full jitter on connection
 * errors, timeouts, 429 and 5xx (Retry-After honoured up to a cap); POST and
 * PATCH are never retried. A 401 with a token file re-reads the token once.
 * Errors carry the HTTP status and the API's Status "message" and "reason".
 *
 * Library code: it never logs or exits. Not thread-safe (one client per
 * thread). The agent calls it from its single-threaded loop, so a call blocks
 * for at most about (max_retries + 1) * timeout_ms + the backoff sleeps.
 */
#ifndef NODEGUARD_K8S_CLIENT_H
#define NODEGUARD_K8S_CLIENT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s_config.h"

#ifndef NG_VERSION
#define NG_VERSION "0.1.0"
#endif

#define K8S_BODY_MAX_DEFAULT (8u << 20)   /* 8 MiB */
#define K8S_PATH_MAX 4096                 /* path + query of one request */

struct k8s_client_opts {
	uint32_t connect_timeout_ms;  /* default 5000 */
	uint32_t timeout_ms;          /* one attempt, connect included; default 30000 */
	size_t max_body;              /* response body bound; default K8S_BODY_MAX_DEFAULT */
	uint32_t max_retries;         /* idempotent verbs only; default 4 (K8S_NO_RETRIES: none) */
	uint32_t backoff_base_ms;     /* default 250; attempt n waits [d/2, d], d = base * 2^n */
	uint32_t backoff_max_ms;      /* d is capped here; default 8000 */
	uint32_t retry_after_max_s;   /* a longer Retry-After ends the retries; default 30 */
};
#define K8S_NO_RETRIES UINT32_MAX     /* max_retries: 0 means "default" */

struct k8s_resp {
	long status;                  /* HTTP status of the last attempt; 0: no response */
	char *body;                   /* NUL-terminated (malloc'ed, may be NULL) */
	size_t body_len;
	char status_message[512];     /* Status "message", or curl's error, or the body's start */
	char reason[64];              /* Status "reason" ("NotFound", "Forbidden", ...) or "" */
	uint32_t attempts;
};

enum k8s_patch_type {
	K8S_PATCH_MERGE = 0,          /* application/merge-patch+json */
	K8S_PATCH_JSON,               /* application/json-patch+json */
	K8S_PATCH_STRATEGIC,          /* application/strategic-merge-patch+json */
};

struct k8s_client_stats {
	uint64_t requests;            /* calls */
	uint64_t attempts;            /* HTTP attempts (requests + retries) */
	uint64_t retries;
	uint64_t transport_errors;    /* attempts without an HTTP response */
	uint64_t http_errors;         /* calls that ended with a status >= 400 */
	uint64_t token_reloads_401;   /* token re-read after a 401 */
	uint64_t body_overflows;
};

struct k8s_client;

/*
 * cfg: owned by the client from here on (freed by k8s_client_free), also
 * when this fails. o may be NULL (defaults). NULL + errno.
 */
struct k8s_client *k8s_client_new(struct k8s_config *cfg, const struct k8s_client_opts *o);
void k8s_client_free(struct k8s_client *c);
struct k8s_config *k8s_client_config(struct k8s_client *c);
const struct k8s_client_opts *k8s_client_opts(const struct k8s_client *c);
void k8s_client_get_stats(const struct k8s_client *c, struct k8s_client_stats *out);

/*
 * path: absolute API path with an already-escaped query ("/api/v1/...");
 * build it with k8s_path(). body: JSON (NULL: none). *r is overwritten; free
 * it with k8s_resp_free() whatever the result.
 *
 * 0 for a 2xx status. Otherwise -errno, with r->status and
 * r->status_message set:
 *   400 -EINVAL, 401 -EKEYREJECTED, 403 -EACCES, 404 -ENOENT, 405 -EOPNOTSUPP,
 *   409 -EEXIST, 410 -ESTALE, 413 -EMSGSIZE, 415 -EINVAL, 422 -EINVAL,
 *   429 -EBUSY, 504 -ETIMEDOUT, other 5xx -EIO, other statuses -EPROTO;
 *   no response: -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -ECONNRESET,
 *   -EPROTO (TLS), -EFBIG (body over max_body), -ENOMEM, -EIO;
 *   -EINVAL for bad arguments (path not starting with '/', too long),
 *   -EKEYREJECTED if the token file cannot be read.
 */
int k8s_get(struct k8s_client *c, const char *path, struct k8s_resp *r);
int k8s_post(struct k8s_client *c, const char *path, const char *body, struct k8s_resp *r);
int k8s_put(struct k8s_client *c, const char *path, const char *body, struct k8s_resp *r);
int k8s_patch(struct k8s_client *c, const char *path, enum k8s_patch_type t, const char *body,
	      struct k8s_resp *r);
/* body: DeleteOptions JSON ({"gracePeriodSeconds":0}, preconditions...) or NULL */
int k8s_delete(struct k8s_client *c, const char *path, const char *body, struct k8s_resp *r);
/* any verb; retried only when method is GET, HEAD, PUT or DELETE */
int k8s_request(struct k8s_client *c, const char *method, const char *path,
		const char *content_type, const char *body, struct k8s_resp *r);

void k8s_resp_free(struct k8s_resp *r);
/* "HTTP 404 NotFound: pods \"x\" not found" / "no response: <curl error>" */
const char *k8s_resp_error(const struct k8s_resp *r, char *buf, size_t n);
/* the -errno for an HTTP status (0 for 2xx) */
int k8s_status_errno(long status);

/*
 * Build "base?k1=v1&k2=v2" into buf with every value (and key) escaped
 * (curl_easy_escape); pairs whose value is NULL are skipped. The list of
 * key/value pointers ends with a NULL key.
 *   k8s_path(buf, sizeof(buf), "/api/v1/pods", "fieldSelector",
 *            "spec.nodeName=n1", "limit", "500", NULL);
 * 0, -ENAMETOOLONG (does not fit in n), -EINVAL, -ENOMEM.
 */
int k8s_path(char *buf, size_t n, const char *base, ...) __attribute__((sentinel));
/* one path segment (a name) escaped into buf; 0, -ENAMETOOLONG, -EINVAL */
int k8s_escape(char *buf, size_t n, const char *s);

/*
 * For k8s_watch.c: set up h (after curl_easy_reset) for GET path with the
 * client's TLS, auth, User-Agent and connect timeout. The caller sets the
 * total timeout and the callbacks. *hdrs must be freed with
 * curl_slist_free_all after the transfer. errbuf: CURL_ERROR_SIZE bytes.
 * 0 or -errno (-EKEYREJECTED: no token).
 */
int k8s_client_setup_get(struct k8s_client *c, CURL *h, const char *path, struct curl_slist **hdrs,
			 char *errbuf);
/* next pseudo-random number of the client's generator (backoff jitter) */
uint64_t k8s_client_rand(struct k8s_client *c);
/* map a curl result to -errno (see above) */
int k8s_curl_errno(CURLcode rc);
/* fill status_message/reason from a Status object in body (or its start) */
void k8s_parse_status(const char *body, size_t len, char *msg, size_t msgsz, char *reason,
		      size_t reasonsz);

#endif
