/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers of the k8s tests (cmocka): the cluster from
 * tests/k8s/run_tests.sh (KUBE_SERVER, KUBE_CA, KUBE_ADMIN_TOKEN,
 * KUBE_AGENT_TOKEN, KUBECONFIG in the environment), clients for the admin and
 * agent users, namespaces and pods, and a tiny scripted HTTP/1.1 stub server
 * (a thread on loopback) used ONLY for fault injection that a real apiserver
 * cannot be made to produce on demand (5xx, 429, broken streams, 410 events,
 * malformed lines).
 *
 * Include after <cmocka.h>.
 */
#ifndef NODEGUARD_K8S_TEST_H
#define NODEGUARD_K8S_TEST_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "k8s_client.h"
#include "k8s_config.h"

static inline uint64_t kt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void kt_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* the variable, or NULL (tests that need the cluster skip) */
static inline const char *kt_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static inline bool kt_have_cluster(void)
{
	return kt_env("KUBE_SERVER") && kt_env("KUBE_CA") && kt_env("KUBE_ADMIN_TOKEN") &&
	       kt_env("KUBE_AGENT_TOKEN");
}

#define KT_NEED_CLUSTER()                                                       \
	do {                                                                    \
		if (!kt_have_cluster()) {                                       \
			print_message("no cluster (run tests/k8s/run_tests.sh)\n"); \
			skip();                                                 \
		}                                                               \
	} while (0)

static inline void kt_rand_hex(char *out, size_t nbytes)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char b[64];
	size_t i;

	assert_true(nbytes <= sizeof(b));
	assert_int_equal(getrandom(b, nbytes, 0), (ssize_t)nbytes);
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

/* a client for the cluster with this token (default options unless o) */
static inline struct k8s_client *kt_client_tok(const char *token, const struct k8s_client_opts *o)
{
	char err[256];
	struct k8s_config *cfg = k8s_config_new(kt_env("KUBE_SERVER"), err, sizeof(err));
	struct k8s_client *c;

	if (!cfg)
		fail_msg("k8s_config_new: %s", err);
	cfg->ca_file = strdup(kt_env("KUBE_CA"));
	cfg->token = strdup(token);
	assert_non_null(cfg->ca_file);
	assert_non_null(cfg->token);
	c = k8s_client_new(cfg, o);
	assert_non_null(c);
	return c;
}

static inline struct k8s_client *kt_admin(void)
{
	return kt_client_tok(kt_env("KUBE_ADMIN_TOKEN"), NULL);
}

static inline struct k8s_client *kt_agent(void)
{
	return kt_client_tok(kt_env("KUBE_AGENT_TOKEN"), NULL);
}

/* expect exactly status (and rc) from a call; prints the error otherwise */
#define kt_expect(call, resp, want_status)                                      \
	do {                                                                    \
		int rc_ = (call);                                               \
		char eb_[700];                                                  \
		if ((resp)->status != (want_status))                            \
			fail_msg("%s: %s (rc %d), want HTTP %d", #call,         \
				 k8s_resp_error((resp), eb_, sizeof(eb_)), rc_,  \
				 (int)(want_status));                            \
		assert_int_equal(rc_, k8s_status_errno(want_status));           \
	} while (0)

/* create a namespace "<prefix>-<random>" into name[64] */
static inline void kt_ns_create(struct k8s_client *c, const char *prefix, char name[64])
{
	struct k8s_resp r;
	char body[256], hex[9];

	kt_rand_hex(hex, 4);
	snprintf(name, 64, "%s-%s", prefix, hex);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}", name);
	kt_expect(k8s_post(c, "/api/v1/namespaces", body, &r), &r, 201);
	k8s_resp_free(&r);
}

/*
 * A pod bound to node. extra_spec / extra_meta: JSON members appended to
 * spec / metadata (with a leading comma) or NULL. Returns the response body
 * (the created pod) as cJSON; uid into uid[37] if not NULL.
 */
static inline cJSON *kt_pod_create(struct k8s_client *c, const char *ns, const char *name,
				   const char *node, const char *extra_meta, const char *extra_spec,
				   char uid[37])
{
	struct k8s_resp r;
	char path[300], *body;
	cJSON *pod, *u;

	assert_true(asprintf(&body,
			     "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
			     "\"labels\":{\"app\":\"%s\"}%s},\"spec\":{\"nodeName\":\"%s\","
			     "\"containers\":[{\"name\":\"main\",\"image\":\"registry.invalid/%s:1\"}]%s}}",
			     name, name, extra_meta ? extra_meta : "", node, name,
			     extra_spec ? extra_spec : "") > 0);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	kt_expect(k8s_post(c, path, body, &r), &r, 201);
	free(body);
	pod = cJSON_ParseWithLength(r.body, r.body_len);
	assert_non_null(pod);
	u = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "metadata"), "uid");
	assert_true(cJSON_IsString(u));
	if (uid)
		snprintf(uid, 37, "%s", u->valuestring);
	k8s_resp_free(&r);
	return pod;
}

static inline void kt_pod_delete(struct k8s_client *c, const char *ns, const char *name)
{
	struct k8s_resp r;
	char path[300];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	kt_expect(k8s_delete(c, path, "{\"gracePeriodSeconds\":0}", &r), &r, 200);
	k8s_resp_free(&r);
}

/* ---------------------------------------------------------------- stub server */

#define STUB_MAX_REQ 64
#define STUB_MAX_SCRIPT 32

struct stub_step {
	char *raw;        /* the response bytes (malloc'ed) */
	size_t len;
	unsigned hold_ms; /* keep the connection open this long after sending */
	unsigned delay_ms;/* wait this long before sending */
};

struct stub {
	int lfd;
	uint16_t port;
	pthread_t th;
	pthread_mutex_t mu;
	volatile int stop;
	struct stub_step steps[STUB_MAX_SCRIPT];
	size_t nsteps, next;          /* after the last step: the last one again */
	char req[STUB_MAX_REQ][2048]; /* request line + headers of each request */
	size_t nreq;
	bool silent;                  /* accept, read, never answer (timeouts) */
	bool running;
};

/* "HTTP/1.1 <status> X\r\n<headers>Content-Length..\r\n\r\n<body>" */
static inline void stub_add(struct stub *s, int status, const char *headers, const char *body,
			    bool content_length, unsigned hold_ms)
{
	struct stub_step *st;
	size_t blen = body ? strlen(body) : 0;
	char cl[64] = "";
	int n;

	assert_true(s->nsteps < STUB_MAX_SCRIPT);
	st = &s->steps[s->nsteps++];
	if (content_length)
		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", blen);
	n = asprintf(&st->raw,
		     "HTTP/1.1 %d Stub\r\nContent-Type: application/json\r\nConnection: close\r\n%s%s\r\n%s",
		     status, headers ? headers : "", cl, body ? body : "");
	assert_true(n > 0);
	st->len = (size_t)n;
	st->hold_ms = hold_ms;
}

static inline void stub_status(struct stub *s, int code, const char *headers, const char *reason,
			       const char *message)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
		 "\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
		 message, reason, code);
	stub_add(s, code, headers, body, true, 0);
}

/* the last step added waits ms before it answers */
static inline void stub_delay_last(struct stub *s, unsigned ms)
{
	assert_true(s->nsteps > 0);
	s->steps[s->nsteps - 1].delay_ms = ms;
}

static inline void *stub_main(void *arg)
{
	struct stub *s = arg;

	while (!s->stop) {
		struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
		char buf[8192];
		size_t n = 0, want_body = 0, hdr_end = 0;
		struct stub_step *st = NULL;
		uint64_t t0;
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		/* read the headers (and a Content-Length body), 2 s at most */
		t0 = kt_now_ms();
		while (n < sizeof(buf) - 1 && kt_now_ms() - t0 < 2000 && !s->stop) {
			struct pollfd cp = { .fd = fd, .events = POLLIN };
			ssize_t r;
			char *e;

			if (poll(&cp, 1, 50) <= 0)
				continue;
			r = read(fd, buf + n, sizeof(buf) - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			buf[n] = '\0';
			if (!hdr_end && (e = strstr(buf, "\r\n\r\n"))) {
				char *cl = strcasestr(buf, "\r\nContent-Length:");

				hdr_end = (size_t)(e - buf) + 4;
				if (cl && cl < e)
					want_body = strtoul(cl + 17, NULL, 10);
			}
			if (hdr_end && n >= hdr_end + want_body)
				break;
		}
		buf[n] = '\0';
		pthread_mutex_lock(&s->mu);
		if (s->nreq < STUB_MAX_REQ)
			snprintf(s->req[s->nreq++], sizeof(s->req[0]), "%s", buf);
		if (!s->silent && s->nsteps) {
			st = &s->steps[s->next < s->nsteps ? s->next : s->nsteps - 1];
			if (s->next < s->nsteps)
				s->next++;
		}
		pthread_mutex_unlock(&s->mu);
		if (st) {
			size_t off = 0;

			t0 = kt_now_ms();
			while (kt_now_ms() - t0 < st->delay_ms && !s->stop)
				kt_sleep_ms(10);

			while (off < st->len) {
				ssize_t w = send(fd, st->raw + off, st->len - off, MSG_NOSIGNAL);

				if (w <= 0)
					break;
				off += (size_t)w;
			}
		}
		t0 = kt_now_ms();
		while ((s->silent || (st && kt_now_ms() - t0 < st->hold_ms)) && !s->stop)
			kt_sleep_ms(10);
		close(fd);
	}
	return NULL;
}

static inline struct stub *stub_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct stub *s = calloc(1, sizeof(*s));
	int one = 1;

	assert_non_null(s);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

/* start serving (after the script is set up) */
static inline void stub_run(struct stub *s)
{
	assert_int_equal(pthread_create(&s->th, NULL, stub_main, s), 0);
	s->running = true;
}

static inline size_t stub_nreq(struct stub *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nreq;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* the request line of request i ("GET /path HTTP/1.1"), copied into out */
static inline const char *stub_reqline(struct stub *s, size_t i, char *out, size_t n)
{
	char *e;

	pthread_mutex_lock(&s->mu);
	snprintf(out, n, "%s", i < s->nreq ? s->req[i] : "");
	pthread_mutex_unlock(&s->mu);
	e = strstr(out, "\r\n");
	if (e)
		*e = '\0';
	return out;
}

static inline bool stub_req_has(struct stub *s, size_t i, const char *needle)
{
	bool r;

	pthread_mutex_lock(&s->mu);
	r = i < s->nreq && strstr(s->req[i], needle);
	pthread_mutex_unlock(&s->mu);
	return r;
}

static inline void stub_stop(struct stub *s)
{
	size_t i;

	if (!s)
		return;
	s->stop = 1;
	if (s->running)
		pthread_join(s->th, NULL);
	close(s->lfd);
	for (i = 0; i < s->nsteps; i++)
		free(s->steps[i].raw);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* a client for http://127.0.0.1:<port> with a static token */
static inline struct k8s_client *stub_client(struct stub *s, const struct k8s_client_opts *o)
{
	char url[64], err[256];
	struct k8s_config *cfg;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", s->port);
	cfg = k8s_config_new(url, err, sizeof(err));
	if (!cfg)
		fail_msg("%s", err);
	cfg->token = strdup("stub-token");
	return k8s_client_new(cfg, o);
}

#endif
