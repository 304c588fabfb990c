// SPDX-License-Identifier: Apache-2.0
/*
 * Kubernetes API client: libcurl easy handle, bounded bodies, timeouts,
 * retries with backoff and jitter for idempotent verbs, Status messages.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "errptr.h"
#include "growbuf.h"
#include "k8s_client.h"

#define CA_CACHE_S 60   /* re-read a rotated CA file as often as the token */

struct k8s_client {
	struct k8s_config *cfg;
	struct k8s_client_opts o;
	CURL *h;
	char ua[64];
	uint64_t rng;
	struct k8s_client_stats st;
};

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t k8s_client_rand(struct k8s_client *c)
{
	return splitmix64(&c->rng);
}

struct k8s_client *k8s_client_new(struct k8s_config *cfg, const struct k8s_client_opts *o)
{
	struct k8s_client *c;

	if (!cfg || !cfg->server) {
		k8s_config_free(cfg);
		return errno_null(EINVAL);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		k8s_config_free(cfg);
		return errno_null(ENOMEM);
	}
	c->cfg = cfg;
	if (o)
		c->o = *o;
	if (!c->o.connect_timeout_ms)
		c->o.connect_timeout_ms = 5000;
	if (!c->o.timeout_ms)
		c->o.timeout_ms = 30000;
	if (!c->o.max_body)
		c->o.max_body = K8S_BODY_MAX_DEFAULT;
	if (!c->o.max_retries)
		c->o.max_retries = 4;
	else if (c->o.max_retries == K8S_NO_RETRIES)
		c->o.max_retries = 0;
	if (c->o.max_retries > 30)
		c->o.max_retries = 30;
	if (!c->o.backoff_base_ms)
		c->o.backoff_base_ms = 250;
	if (!c->o.backoff_max_ms)
		c->o.backoff_max_ms = 8000;
	if (!c->o.retry_after_max_s)
		c->o.retry_after_max_s = 30;
	snprintf(c->ua, sizeof(c->ua), "nodeguard/%s", NG_VERSION);
	if (getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) != sizeof(c->rng)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		c->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
	}
	c->h = curl_easy_init();
	if (!c->h) {
		k8s_client_free(c);
		return errno_null(ENOMEM);
	}
	return c;
}

void k8s_client_free(struct k8s_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	k8s_config_free(c->cfg);
	free(c);
}

struct k8s_config *k8s_client_config(struct k8s_client *c)
{
	return c ? c->cfg : NULL;
}

const struct k8s_client_opts *k8s_client_opts(const struct k8s_client *c)
{
	return c ? &c->o : NULL;
}

void k8s_client_get_stats(const struct k8s_client *c, struct k8s_client_stats *out)
{
	if (c && out)
		*out = c->st;
}

/* ---------------------------------------------------------------- errors */

int k8s_status_errno(long s)
{
	if (s >= 200 && s < 300)
		return 0;
	switch (s) {
	case 400:
	case 415:
	case 422:
		return -EINVAL;
	case 401:
		return -EKEYREJECTED;
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 405:
		return -EOPNOTSUPP;
	case 409:
		return -EEXIST;
	case 410:
		return -ESTALE;
	case 413:
		return -EMSGSIZE;
	case 429:
		return -EBUSY;
	case 504:
		return -ETIMEDOUT;
	}
	if (s >= 500 && s < 600)
		return -EIO;
	return -EPROTO;
}

int k8s_curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* printable ASCII copy of at most n-1 bytes of s[0..len) */
static void sanitize(char *dst, size_t n, const char *s, size_t len)
{
	size_t i, o = 0;

	if (!n)
		return;
	for (i = 0; i < len && o + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

void k8s_parse_status(const char *body, size_t len, char *msg, size_t msgsz, char *reason,
		      size_t reasonsz)
{
	cJSON *j;

	if (msgsz)
		msg[0] = '\0';
	if (reasonsz)
		reason[0] = '\0';
	if (!body || !len)
		return;
	j = cJSON_ParseWithLength(body, len);
	if (cJSON_IsObject(j)) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "reason");

		if (cJSON_IsString(m) && m->valuestring)
			snprintf(msg, msgsz, "%s", m->valuestring);
		if (cJSON_IsString(r) && r->valuestring)
			sanitize(reason, reasonsz, r->valuestring, strlen(r->valuestring));
	}
	if (!j || (msgsz && !msg[0] && !cJSON_IsObject(j)))
		sanitize(msg, msgsz > 201 ? 201 : msgsz, body, len);
	cJSON_Delete(j);
}

const char *k8s_resp_error(const struct k8s_resp *r, char *buf, size_t n)
{
	if (!r)
		snprintf(buf, n, "no response");
	else if (!r->status)
		snprintf(buf, n, "no response: %s", r->status_message[0] ? r->status_message : "unknown error");
	else
		snprintf(buf, n, "HTTP %ld%s%s%s%s", r->status, r->reason[0] ? " " : "", r->reason,
			 r->status_message[0] ? ": " : "", r->status_message);
	return buf;
}

void k8s_resp_free(struct k8s_resp *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------- paths */

int k8s_escape(char *buf, size_t n, const char *s)
{
	char *e;
	size_t len;

	if (!buf || !n || !s)
		return -EINVAL;
	e = curl_easy_escape(NULL, s, 0);
	if (!e)
		return -ENOMEM;
	len = strlen(e);
	if (len >= n) {
		curl_free(e);
		return -ENAMETOOLONG;
	}
	memcpy(buf, e, len + 1);
	curl_free(e);
	return 0;
}

int k8s_path(char *buf, size_t n, const char *base, ...)
{
	const char *k, *v;
	size_t len;
	va_list ap;
	int rc = 0;
	char sep;

	if (!buf || !n || !base || base[0] != '/')
		return -EINVAL;
	len = strlen(base);
	if (len >= n)
		return -ENAMETOOLONG;
	memcpy(buf, base, len + 1);
	sep = strchr(base, '?') ? '&' : '?';
	va_start(ap, base);
	while ((k = va_arg(ap, const char *))) {
		char *ek, *ev;
		size_t lk, lv;

		v = va_arg(ap, const char *);
		if (!v)
			continue;
		ek = curl_easy_escape(NULL, k, 0);
		ev = curl_easy_escape(NULL, v, 0);
		if (!ek || !ev) {
			curl_free(ek);
			curl_free(ev);
			rc = -ENOMEM;
			break;
		}
		lk = strlen(ek);
		lv = strlen(ev);
		if (len + 2 + lk + lv >= n) {
			curl_free(ek);
			curl_free(ev);
			rc = -ENAMETOOLONG;
			break;
		}
		buf[len++] = sep;
		memcpy(buf + len, ek, lk);
		len += lk;
		buf[len++] = '=';
		memcpy(buf + len, ev, lv + 1);
		len += lv;
		sep = '&';
		curl_free(ek);
		curl_free(ev);
	}
	va_end(ap);
	if (rc)
		buf[0] = '\0';
	return rc;
}

/* ---------------------------------------------------------------- requests */

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	size_t n = size * nmemb;

	if (!n)
		return 0;
	/* past the bound (overflow set) or out of memory: CURLE_WRITE_ERROR,
	 * the transfer stops here */
	return growbuf_add(ud, data, n) ? 0 : n;
}

static int setup(struct k8s_client *c, CURL *h, const char *method, const char *path,
		 const char *ctype, bool force_token, struct curl_slist **hdrs, char *errbuf)
{
	const struct k8s_config *cfg = c->cfg;
	struct curl_slist *l = NULL, *nl;
	char url[K8S_PATH_MAX + 2100];
	const char *tok = NULL;
	char *auth = NULL;
	int rc;

	*hdrs = NULL;
	if (!path || path[0] != '/' || strlen(path) > K8S_PATH_MAX)
		return -EINVAL;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", cfg->server, path) >= sizeof(url))
		return -ENAMETOOLONG;
	rc = k8s_config_token(c->cfg, force_token, &tok);
	if (rc)
		return -EKEYREJECTED;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, k8s_config_plain_http(cfg) ? "http" : "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->ua);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_CA_CACHE_TIMEOUT, (long)CA_CACHE_S);
	if (cfg->ca_data.len) {
		struct curl_blob b = { .data = cfg->ca_data.data, .len = cfg->ca_data.len,
				       .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);   /* only this CA, not the system's */
	} else if (cfg->ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	if (cfg->cert_data.len) {
		struct curl_blob b = { .data = cfg->cert_data.data, .len = cfg->cert_data.len,
				       .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (cfg->cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (cfg->key_data.len) {
		struct curl_blob b = { .data = cfg->key_data.data, .len = cfg->key_data.len,
				       .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->key_file) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}

	if (!strcmp(method, "GET"))
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);

	if (!(nl = curl_slist_append(l, "Accept: application/json")))
		goto nomem;
	l = nl;
	if (!(nl = curl_slist_append(l, "Expect:")))
		goto nomem;
	l = nl;
	if (ctype) {
		char ct[128];

		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		if (!(nl = curl_slist_append(l, ct)))
			goto nomem;
		l = nl;
	}
	if (tok) {
		if (asprintf(&auth, "Authorization: Bearer %s", tok) < 0) {
			auth = NULL;
			goto nomem;
		}
		nl = curl_slist_append(l, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		if (!nl)
			goto nomem;
		l = nl;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	*hdrs = l;
	return 0;
nomem:
	curl_slist_free_all(l);
	return -ENOMEM;
}

int k8s_client_setup_get(struct k8s_client *c, CURL *h, const char *path, struct curl_slist **hdrs,
			 char *errbuf)
{
	if (!c || !h || !hdrs || !errbuf)
		return -EINVAL;
	return setup(c, h, "GET", path, NULL, false, hdrs, errbuf);
}

static bool idempotent(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") || !strcmp(m, "DELETE");
}

static bool retryable(int err, long status)
{
	if (status == 429 || (status >= 500 && status <= 599 && status != 501 && status != 505))
		return true;
	if (status)
		return false;
	return err == -ETIMEDOUT || err == -ECONNREFUSED || err == -ECONNRESET || err == -EHOSTUNREACH;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* attempt n (0-based) failed: how long to wait; full jitter in [d/2, d] */
static uint64_t backoff_ms(struct k8s_client *c, uint32_t n)
{
	uint64_t d = c->o.backoff_base_ms;

	while (n-- && d < c->o.backoff_max_ms)
		d *= 2;
	if (d > c->o.backoff_max_ms)
		d = c->o.backoff_max_ms;
	return d / 2 + (d ? k8s_client_rand(c) % (d / 2 + 1) : 0);
}

static int do_request(struct k8s_client *c, const char *method, const char *path,
		      const char *content_type, const char *body, struct k8s_resp *r)
{
	char errbuf[CURL_ERROR_SIZE];
	bool retry_ok, reloaded = false, force = false;
	uint32_t retries = 0;
	int err = 0;

	if (!r)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (!c || !method || !path)
		return -EINVAL;
	retry_ok = idempotent(method);
	c->st.requests++;
	for (;;) {
		struct growbuf b = { .max = c->o.max_body };
		struct curl_slist *hdrs = NULL;
		curl_off_t retry_after = 0;
		CURLcode cr;
		uint64_t wait;

		curl_easy_reset(c->h);
		errbuf[0] = '\0';
		free(r->body);
		r->body = NULL;
		r->body_len = 0;
		r->status = 0;
		r->status_message[0] = r->reason[0] = '\0';
		err = setup(c, c->h, method, path, content_type, force, &hdrs, errbuf);
		force = false;
		if (err) {
			snprintf(r->status_message, sizeof(r->status_message), "%s",
				 err == -EKEYREJECTED ? "no bearer token (token file unreadable)"
						      : strerror(-err));
			return err;
		}
		curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
		curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &b);
		if (body) {
			curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		}
		r->attempts++;
		c->st.attempts++;
		cr = curl_easy_perform(c->h);
		curl_slist_free_all(hdrs);
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
		r->body = b.p;
		r->body_len = b.len;
		if (b.overflow) {
			c->st.body_overflows++;
			snprintf(r->status_message, sizeof(r->status_message),
				 "response body larger than the %zu-byte bound", c->o.max_body);
			return -EFBIG;
		}
		if (cr != CURLE_OK) {
			err = k8s_curl_errno(cr);
			c->st.transport_errors++;
			r->status = 0;
			snprintf(r->status_message, sizeof(r->status_message), "%s",
				 errbuf[0] ? errbuf : curl_easy_strerror(cr));
		} else {
			err = k8s_status_errno(r->status);
			if (err)
				k8s_parse_status(r->body, r->body_len, r->status_message,
						 sizeof(r->status_message), r->reason, sizeof(r->reason));
			if (!err)
				return 0;
		}
		/* a rotated bound token: re-read it once and try again */
		if (r->status == 401 && c->cfg->token_file && !reloaded) {
			const char *before = c->cfg->tok_cached;
			char *old = before ? strdup(before) : NULL;
			const char *now = NULL;

			reloaded = true;
			if (!k8s_config_token(c->cfg, true, &now) && now && (!old || strcmp(old, now))) {
				c->st.token_reloads_401++;
				if (old) {
					explicit_bzero(old, strlen(old));
					free(old);
				}
				continue;
			}
			if (old) {
				explicit_bzero(old, strlen(old));
				free(old);
			}
		}
		if (!retry_ok || retries >= c->o.max_retries || !retryable(err, r->status))
			break;
		wait = backoff_ms(c, retries);
		if (r->status && !curl_easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &retry_after) &&
		    retry_after > 0) {
			if ((uint64_t)retry_after > c->o.retry_after_max_s)
				break;
			if ((uint64_t)retry_after * 1000 > wait)
				wait = (uint64_t)retry_after * 1000;
		}
		retries++;
		c->st.retries++;
		sleep_ms(wait);
	}
	if (r->status >= 400)
		c->st.http_errors++;
	return err;
}

int k8s_request(struct k8s_client *c, const char *method, const char *path,
		const char *content_type, const char *body, struct k8s_resp *r)
{
	int rc = do_request(c, method, path, content_type, body, r);

	/* drop the pointers into this call's stack and the caller's body
	 * (the connection stays for the next call) */
	if (c && c->h)
		curl_easy_reset(c->h);
	return rc;
}

int k8s_get(struct k8s_client *c, const char *path, struct k8s_resp *r)
{
	return k8s_request(c, "GET", path, NULL, NULL, r);
}

int k8s_post(struct k8s_client *c, const char *path, const char *body, struct k8s_resp *r)
{
	return k8s_request(c, "POST", path, "application/json", body ? body : "", r);
}

int k8s_put(struct k8s_client *c, const char *path, const char *body, struct k8s_resp *r)
{
	return k8s_request(c, "PUT", path, "application/json", body ? body : "", r);
}

int k8s_patch(struct k8s_client *c, const char *path, enum k8s_patch_type t, const char *body,
	      struct k8s_resp *r)
{
	static const char *const ct[] = {
		[K8S_PATCH_MERGE] = "application/merge-patch+json",
		[K8S_PATCH_JSON] = "application/json-patch+json",
		[K8S_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
	};

	if ((unsigned)t > K8S_PATCH_STRATEGIC) {
		if (r)
			memset(r, 0, sizeof(*r));
		return -EINVAL;
	}
	return k8s_request(c, "PATCH", path, ct[t], body ? body : "", r);
}

int k8s_delete(struct k8s_client *c, const char *path, const char *body, struct k8s_resp *r)
{
	return k8s_request(c, "DELETE", path, body ? "application/json" : NULL, body, r);
}
