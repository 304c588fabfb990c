// SPDX-License-Identifier: Apache-2.0
/*
 * agent/k8s_client.c against a real kube-apiserver (tests/k8s/run_tests.sh):
 * exact statuses of GET/POST/PATCH/PUT/DELETE round trips, Status messages
 * surfaced for 401/403/404/409/422, the body bound, query escaping, token
 * re-read after a 401. The fault cases a real apiserver cannot produce on
 * demand (5xx, 429 + Retry-After, a server that never answers) use a local
 * stub (k8s_test.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "k8s_test.h"

static char ns[64];             /* the namespace of this run */
static struct k8s_client *admin;

static int group_setup(void **state)
{
	(void)state;
	if (!kt_have_cluster())
		return 0;
	admin = kt_admin();
	kt_ns_create(admin, "ng-client", ns);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	k8s_client_free(admin);
	return 0;
}

static char *path_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_fmt(const char *fmt, ...)
{
	static char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* ---------------------------------------------------------------- offline */

static void test_path_escaping(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(k8s_path(buf, sizeof(buf), "/api/v1/pods", "fieldSelector",
				  "spec.nodeName=test-node", "labelSelector", "app in (a,b)", "limit",
				  "500", "continue", NULL, "resourceVersion", "12&x=1", NULL), 0);
	assert_string_equal(buf, "/api/v1/pods?fieldSelector=spec.nodeName%3Dtest-node"
				 "&labelSelector=app%20in%20%28a%2Cb%29&limit=500"
				 "&resourceVersion=12%26x%3D1");
	/* a base that already has a query gets '&' */
	assert_int_equal(k8s_path(buf, sizeof(buf), "/x?watch=1", "a", "b/c", NULL), 0);
	assert_string_equal(buf, "/x?watch=1&a=b%2Fc");
	assert_int_equal(k8s_path(buf, sizeof(buf), "/x", NULL), 0);
	assert_string_equal(buf, "/x");
	assert_int_equal(k8s_path(buf, 12, "/api/v1/pods", "a", "b", NULL), -ENAMETOOLONG);
	assert_int_equal(k8s_path(buf, 15, "/x", "k", "0123456789", NULL), -ENAMETOOLONG);
	assert_int_equal(k8s_path(buf, 16, "/x", "k", "0123456789", NULL), 0);
	assert_int_equal(k8s_path(buf, sizeof(buf), "x", NULL), -EINVAL);
	assert_int_equal(k8s_escape(buf, sizeof(buf), "a b/ü"), 0);
	assert_string_equal(buf, "a%20b%2F%C3%BC");
	assert_int_equal(k8s_escape(buf, 4, "abcd"), -ENAMETOOLONG);
}

static void test_status_parsing(void **state)
{
	struct k8s_resp r = { 0 };
	char msg[512], reason[64], eb[700];

	(void)state;
	k8s_parse_status("{\"kind\":\"Status\",\"message\":\"pods \\\"x\\\" not found\",\"reason\":\"NotFound\",\"code\":404}",
			 strlen("{\"kind\":\"Status\",\"message\":\"pods \\\"x\\\" not found\",\"reason\":\"NotFound\",\"code\":404}"),
			 msg, sizeof(msg), reason, sizeof(reason));
	assert_string_equal(msg, "pods \"x\" not found");
	assert_string_equal(reason, "NotFound");
	/* not JSON: the start of the body, printable */
	k8s_parse_status("<html>\n<b>Bad\x01 Gateway</b>", 26, msg, sizeof(msg), reason, sizeof(reason));
	assert_string_equal(msg, "<html> <b>Bad? Gateway</b>");
	assert_string_equal(reason, "");
	/* JSON without a message: nothing made up */
	k8s_parse_status("{\"a\":1}", 7, msg, sizeof(msg), reason, sizeof(reason));
	assert_string_equal(msg, "");
	k8s_parse_status(NULL, 0, msg, sizeof(msg), reason, sizeof(reason));
	assert_string_equal(msg, "");

	r.status = 404;
	snprintf(r.reason, sizeof(r.reason), "NotFound");
	snprintf(r.status_message, sizeof(r.status_message), "pods \"x\" not found");
	assert_string_equal(k8s_resp_error(&r, eb, sizeof(eb)), "HTTP 404 NotFound: pods \"x\" not found");
	r.status = 0;
	r.reason[0] = '\0';
	snprintf(r.status_message, sizeof(r.status_message), "Connection refused");
	assert_string_equal(k8s_resp_error(&r, eb, sizeof(eb)), "no response: Connection refused");

	assert_int_equal(k8s_status_errno(200), 0);
	assert_int_equal(k8s_status_errno(201), 0);
	assert_int_equal(k8s_status_errno(401), -EKEYREJECTED);
	assert_int_equal(k8s_status_errno(403), -EACCES);
	assert_int_equal(k8s_status_errno(404), -ENOENT);
	assert_int_equal(k8s_status_errno(409), -EEXIST);
	assert_int_equal(k8s_status_errno(410), -ESTALE);
	assert_int_equal(k8s_status_errno(422), -EINVAL);
	assert_int_equal(k8s_status_errno(429), -EBUSY);
	assert_int_equal(k8s_status_errno(500), -EIO);
	assert_int_equal(k8s_status_errno(504), -ETIMEDOUT);
	assert_int_equal(k8s_status_errno(302), -EPROTO);
}

static void test_bad_arguments(void **state)
{
	struct k8s_client *c;
	struct k8s_resp r;
	char err[256];
	struct k8s_config *cfg = k8s_config_new("https://127.0.0.1:1", err, sizeof(err));

	(void)state;
	assert_non_null(cfg);
	c = k8s_client_new(cfg, NULL);
	assert_non_null(c);
	assert_int_equal(k8s_get(c, "no-slash", &r), -EINVAL);
	k8s_resp_free(&r);
	assert_int_equal(k8s_get(NULL, "/x", &r), -EINVAL);
	k8s_resp_free(&r);
	assert_int_equal(k8s_patch(c, "/x", (enum k8s_patch_type)7, "{}", &r), -EINVAL);
	k8s_resp_free(&r);
	k8s_client_free(c);
	assert_null(k8s_client_new(NULL, NULL));
	assert_int_equal(errno, EINVAL);
}

/* ---------------------------------------------------------------- real apiserver */

static void test_version(void **state)
{
	struct k8s_resp r;
	cJSON *v;

	(void)state;
	KT_NEED_CLUSTER();
	kt_expect(k8s_get(admin, "/version", &r), &r, 200);
	v = cJSON_ParseWithLength(r.body, r.body_len);
	assert_non_null(v);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(v, "gitVersion")->valuestring, "v1.36.3");
	assert_int_equal(r.attempts, 1);
	cJSON_Delete(v);
	k8s_resp_free(&r);
}

static void test_pod_round_trip(void **state)
{
	struct k8s_resp r;
	cJSON *pod, *md, *labels;
	char *body;
	const char *base = path_fmt("/api/v1/namespaces/%s/pods", ns);
	char podpath[300];

	(void)state;
	KT_NEED_CLUSTER();
	snprintf(podpath, sizeof(podpath), "%s/rt", base);
	pod = kt_pod_create(admin, ns, "rt", "test-node", NULL, NULL, NULL);
	cJSON_Delete(pod);

	/* the same name again: 409 AlreadyExists with the API's message */
	kt_expect(k8s_post(admin, base,
			   "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"rt\"},"
			   "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}", &r),
		  &r, 409);
	assert_string_equal(r.reason, "AlreadyExists");
	assert_string_equal(r.status_message, "pods \"rt\" already exists");
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);

	/* merge patch */
	kt_expect(k8s_patch(admin, podpath, K8S_PATCH_MERGE,
			    "{\"metadata\":{\"labels\":{\"nodeguard.io/quarantine\":\"true\"}}}", &r),
		  &r, 200);
	assert_non_null(strstr(r.body, "\"nodeguard.io/quarantine\":\"true\""));
	k8s_resp_free(&r);
	/* JSON patch */
	kt_expect(k8s_patch(admin, podpath, K8S_PATCH_JSON,
			    "[{\"op\":\"add\",\"path\":\"/metadata/labels/jp\",\"value\":\"1\"}]", &r),
		  &r, 200);
	assert_non_null(strstr(r.body, "\"jp\":\"1\""));
	k8s_resp_free(&r);
	/* strategic merge patch */
	kt_expect(k8s_patch(admin, podpath, K8S_PATCH_STRATEGIC,
			    "{\"metadata\":{\"annotations\":{\"smp\":\"yes\"}}}", &r),
		  &r, 200);
	assert_non_null(strstr(r.body, "\"smp\":\"yes\""));
	k8s_resp_free(&r);
	/* a JSON patch whose test fails: 422 */
	kt_expect(k8s_patch(admin, podpath, K8S_PATCH_JSON,
			    "[{\"op\":\"test\",\"path\":\"/metadata/labels/jp\",\"value\":\"2\"}]", &r),
		  &r, 422);
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	/* a body that is not JSON: 400 BadRequest */
	kt_expect(k8s_patch(admin, podpath, K8S_PATCH_MERGE, "{not json", &r), &r, 400);
	assert_string_equal(r.reason, "BadRequest");
	k8s_resp_free(&r);

	/* GET, change, PUT (replace) */
	kt_expect(k8s_get(admin, podpath, &r), &r, 200);
	pod = cJSON_ParseWithLength(r.body, r.body_len);
	k8s_resp_free(&r);
	assert_non_null(pod);
	md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
	labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
	cJSON_AddStringToObject(labels, "put", "done");
	body = cJSON_PrintUnformatted(pod);
	kt_expect(k8s_put(admin, podpath, body, &r), &r, 200);
	assert_non_null(strstr(r.body, "\"put\":\"done\""));
	k8s_resp_free(&r);
	/* the same body again: its resourceVersion is stale now: 409 Conflict */
	kt_expect(k8s_put(admin, podpath, body, &r), &r, 409);
	assert_string_equal(r.reason, "Conflict");
	assert_non_null(strstr(r.status_message, "the object has been modified"));
	k8s_resp_free(&r);
	free(body);
	cJSON_Delete(pod);

	/* DELETE with DeleteOptions in the body */
	kt_expect(k8s_delete(admin, podpath, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0}", &r),
		  &r, 200);
	k8s_resp_free(&r);
	kt_expect(k8s_get(admin, podpath, &r), &r, 404);
	assert_string_equal(r.reason, "NotFound");
	assert_string_equal(r.status_message, "pods \"rt\" not found");
	assert_int_equal(r.attempts, 1);   /* 404 is not retried */
	k8s_resp_free(&r);
	kt_expect(k8s_delete(admin, podpath, NULL, &r), &r, 404);
	k8s_resp_free(&r);
}

static void test_not_found_message(void **state)
{
	struct k8s_resp r;
	char eb[700];

	(void)state;
	KT_NEED_CLUSTER();
	kt_expect(k8s_get(admin, path_fmt("/api/v1/namespaces/%s/pods/x", ns), &r), &r, 404);
	assert_string_equal(r.status_message, "pods \"x\" not found");
	assert_string_equal(k8s_resp_error(&r, eb, sizeof(eb)), "HTTP 404 NotFound: pods \"x\" not found");
	k8s_resp_free(&r);
}

static void test_forbidden_and_unauthorized(void **state)
{
	struct k8s_client *agent, *bad;
	struct k8s_resp r;
	char want[300];

	(void)state;
	KT_NEED_CLUSTER();
	agent = kt_agent();
	kt_expect(k8s_get(agent, path_fmt("/api/v1/namespaces/%s/secrets", ns), &r), &r, 403);
	assert_string_equal(r.reason, "Forbidden");
	snprintf(want, sizeof(want),
		 "secrets is forbidden: User \"agent\" cannot list resource \"secrets\" in API group \"\" in the namespace \"%s\"",
		 ns);
	assert_string_equal(r.status_message, want);
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	k8s_client_free(agent);

	bad = kt_client_tok("not-a-valid-token", NULL);
	kt_expect(k8s_get(bad, "/api/v1/namespaces", &r), &r, 401);
	assert_string_equal(r.reason, "Unauthorized");
	assert_string_equal(r.status_message, "Unauthorized");
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	k8s_client_free(bad);
}

static void test_invalid_object(void **state)
{
	struct k8s_resp r;

	(void)state;
	KT_NEED_CLUSTER();
	kt_expect(k8s_post(admin, path_fmt("/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies", ns),
			   "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
			   "\"metadata\":{\"name\":\"bad\"},\"spec\":{\"podSelector\":{},"
			   "\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"not-a-cidr\"}}]}]}}", &r),
		  &r, 422);
	assert_string_equal(r.reason, "Invalid");
	assert_non_null(strstr(r.status_message, "NetworkPolicy.networking.k8s.io \"bad\" is invalid"));
	assert_non_null(strstr(r.status_message, "not-a-cidr"));
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
}

static void test_query_escaping_live(void **state)
{
	struct k8s_resp r;
	char path[512];
	cJSON *p;

	(void)state;
	KT_NEED_CLUSTER();
	p = kt_pod_create(admin, ns, "sel-a", "test-node", NULL, NULL, NULL);
	cJSON_Delete(p);
	p = kt_pod_create(admin, ns, "sel-b", "other-node", NULL, NULL, NULL);
	cJSON_Delete(p);
	p = kt_pod_create(admin, ns, "sel-c", "test-node", NULL, NULL, NULL);
	cJSON_Delete(p);
	assert_int_equal(k8s_path(path, sizeof(path), path_fmt("/api/v1/namespaces/%s/pods", ns),
				  "labelSelector", "app in (sel-a,sel-b)", "fieldSelector",
				  "spec.nodeName=test-node", NULL), 0);
	kt_expect(k8s_get(admin, path, &r), &r, 200);
	assert_non_null(strstr(r.body, "\"name\":\"sel-a\""));
	assert_null(strstr(r.body, "\"name\":\"sel-b\""));
	assert_null(strstr(r.body, "\"name\":\"sel-c\""));
	k8s_resp_free(&r);
	/* an invalid selector comes back as 400 with the API's reason */
	assert_int_equal(k8s_path(path, sizeof(path), "/api/v1/pods", "labelSelector", "app in (",
				  NULL), 0);
	kt_expect(k8s_get(admin, path, &r), &r, 400);
	assert_string_equal(r.reason, "BadRequest");
	k8s_resp_free(&r);
	kt_pod_delete(admin, ns, "sel-a");
	kt_pod_delete(admin, ns, "sel-b");
	kt_pod_delete(admin, ns, "sel-c");
}

static void test_body_bound(void **state)
{
	struct k8s_client_opts o = { .max_body = 8192 };
	struct k8s_client_stats st;
	struct k8s_client *small;
	struct k8s_resp r;
	char big[12001], meta[12100];
	cJSON *p;

	(void)state;
	KT_NEED_CLUSTER();
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(meta, sizeof(meta), ",\"annotations\":{\"big\":\"%s\"}", big);
	p = kt_pod_create(admin, ns, "big", "test-node", meta, NULL, NULL);
	cJSON_Delete(p);

	small = kt_client_tok(kt_env("KUBE_ADMIN_TOKEN"), &o);
	assert_int_equal(k8s_get(small, path_fmt("/api/v1/namespaces/%s/pods/big", ns), &r), -EFBIG);
	assert_null(strstr(r.status_message, "HTTP"));
	assert_non_null(strstr(r.status_message, "8192"));
	assert_int_equal(r.attempts, 1);   /* an overflow is not retried */
	k8s_resp_free(&r);
	/* a small object still fits */
	kt_expect(k8s_get(small, "/version", &r), &r, 200);
	k8s_resp_free(&r);
	k8s_client_get_stats(small, &st);
	assert_int_equal(st.body_overflows, 1);
	k8s_client_free(small);
	/* the default bound (8 MiB) takes it */
	kt_expect(k8s_get(admin, path_fmt("/api/v1/namespaces/%s/pods/big", ns), &r), &r, 200);
	assert_true(r.body_len > 12000);
	assert_int_equal(strlen(r.body), r.body_len);
	k8s_resp_free(&r);
	kt_pod_delete(admin, ns, "big");
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static void test_token_file_reread_on_401(void **state)
{
	char dir[] = "/tmp/ng-k8s-tok.XXXXXX", tf[300], err[256];
	struct k8s_client_stats st;
	struct k8s_config *cfg;
	struct k8s_client *c;
	struct k8s_resp r;
	const char *t;

	(void)state;
	KT_NEED_CLUSTER();
	assert_non_null(mkdtemp(dir));
	snprintf(tf, sizeof(tf), "%s/token", dir);
	write_file(tf, "expired-token\n");
	cfg = k8s_config_new(kt_env("KUBE_SERVER"), err, sizeof(err));
	assert_non_null(cfg);
	cfg->ca_file = strdup(kt_env("KUBE_CA"));
	cfg->token_file = strdup(tf);
	c = k8s_client_new(cfg, NULL);
	assert_non_null(c);
	/* the old token is cached (re-read only every 60 s) */
	assert_int_equal(k8s_config_token(k8s_client_config(c), false, &t), 0);
	assert_string_equal(t, "expired-token");
	/* the kubelet rotates the token */
	write_file(tf, kt_env("KUBE_ADMIN_TOKEN"));
	/* 401 with the cached one, then a forced re-read and 200 */
	kt_expect(k8s_get(c, "/api/v1/namespaces", &r), &r, 200);
	assert_int_equal(r.attempts, 2);
	k8s_resp_free(&r);
	k8s_client_get_stats(c, &st);
	assert_int_equal(st.token_reloads_401, 1);
	/* a token that stays bad: one re-read, then the 401 */
	write_file(tf, "still-bad");
	k8s_config_token(k8s_client_config(c), true, &t);
	write_file(tf, "still-bad");
	kt_expect(k8s_get(c, "/api/v1/namespaces", &r), &r, 401);
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	/* no token file at all (and nothing cached is lost) */
	unlink(tf);
	kt_expect(k8s_get(c, "/api/v1/namespaces", &r), &r, 401);
	k8s_resp_free(&r);
	k8s_client_free(c);
	rmdir(dir);
}

/* ---------------------------------------------------------------- fault injection (stub) */

static void test_timeout_enforced(void **state)
{
	struct k8s_client_opts o = { .timeout_ms = 600, .max_retries = K8S_NO_RETRIES };
	struct k8s_client *c;
	struct k8s_resp r;
	struct stub *s = stub_start();
	uint64_t t0, dt;

	(void)state;
	s->silent = true;   /* accepts, reads, never answers */
	stub_run(s);
	c = stub_client(s, &o);
	t0 = kt_now_ms();
	assert_int_equal(k8s_get(c, "/api/v1/pods", &r), -ETIMEDOUT);
	dt = kt_now_ms() - t0;
	assert_int_equal(r.status, 0);
	assert_int_equal(r.attempts, 1);
	assert_non_null(strstr(r.status_message, "imed out"));
	assert_true(dt >= 550 && dt < 2000);
	k8s_resp_free(&r);
	k8s_client_free(c);

	/* GET is retried after a timeout: 3 attempts */
	o.max_retries = 2;
	o.backoff_base_ms = 50;
	o.backoff_max_ms = 50;
	c = stub_client(s, &o);
	t0 = kt_now_ms();
	assert_int_equal(k8s_get(c, "/api/v1/pods", &r), -ETIMEDOUT);
	dt = kt_now_ms() - t0;
	assert_int_equal(r.attempts, 3);
	assert_true(dt >= 3 * 600 && dt < 4000);
	k8s_resp_free(&r);
	/* POST is not */
	t0 = kt_now_ms();
	assert_int_equal(k8s_post(c, "/api/v1/namespaces/x/pods", "{}", &r), -ETIMEDOUT);
	assert_int_equal(r.attempts, 1);
	assert_true(kt_now_ms() - t0 < 1500);
	k8s_resp_free(&r);
	k8s_client_free(c);
	stub_stop(s);
}

static void test_listener_never_accepts(void **state)
{
	/* a socket that listens and never accepts: the kernel completes the
	 * handshake, nothing ever answers */
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct k8s_client_opts o = { .timeout_ms = 400, .max_retries = K8S_NO_RETRIES };
	socklen_t al = sizeof(a);
	struct k8s_config *cfg;
	struct k8s_client *c;
	struct k8s_resp r;
	char url[64], err[256];
	uint64_t t0, dt;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	/* https: stuck in the TLS handshake */
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", ntohs(a.sin_port));
	cfg = k8s_config_new(url, err, sizeof(err));
	assert_non_null(cfg);
	c = k8s_client_new(cfg, &o);
	t0 = kt_now_ms();
	assert_int_equal(k8s_get(c, "/version", &r), -ETIMEDOUT);
	dt = kt_now_ms() - t0;
	assert_true(dt >= 350 && dt < 1500);
	k8s_resp_free(&r);
	k8s_client_free(c);
	close(fd);
}

static void test_connection_refused_retries(void **state)
{
	struct k8s_client_opts o = { .max_retries = 3, .backoff_base_ms = 20, .backoff_max_ms = 40 };
	struct k8s_client_stats st;
	struct k8s_client *c;
	struct k8s_resp r;
	struct stub *s = stub_start();
	char url[64], err[256];
	struct k8s_config *cfg;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", s->port);
	stub_stop(s);   /* nothing listens there now */
	cfg = k8s_config_new(url, err, sizeof(err));
	c = k8s_client_new(cfg, &o);
	assert_int_equal(k8s_get(c, "/x", &r), -ECONNREFUSED);
	assert_int_equal(r.attempts, 4);
	assert_int_equal(r.status, 0);
	k8s_resp_free(&r);
	assert_int_equal(k8s_delete(c, "/x", NULL, &r), -ECONNREFUSED);
	assert_int_equal(r.attempts, 4);
	k8s_resp_free(&r);
	assert_int_equal(k8s_post(c, "/x", "{}", &r), -ECONNREFUSED);
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	assert_int_equal(k8s_patch(c, "/x", K8S_PATCH_MERGE, "{}", &r), -ECONNREFUSED);
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	k8s_client_get_stats(c, &st);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.attempts, 10);
	assert_int_equal(st.retries, 6);
	assert_int_equal(st.transport_errors, 10);
	k8s_client_free(c);
}

static void test_retry_5xx_get(void **state)
{
	struct k8s_client_opts o = { .max_retries = 4, .backoff_base_ms = 100, .backoff_max_ms = 1000 };
	struct k8s_client *c;
	struct k8s_resp r;
	struct stub *s = stub_start();
	char line[256];
	uint64_t t0, dt;

	(void)state;
	stub_status(s, 503, NULL, "ServiceUnavailable", "etcd is sad");
	stub_status(s, 500, NULL, "InternalError", "oops");
	stub_status(s, 502, NULL, "", "bad gateway");
	stub_add(s, 200, NULL, "{\"kind\":\"PodList\",\"items\":[]}", true, 0);
	stub_run(s);
	c = stub_client(s, &o);
	t0 = kt_now_ms();
	assert_int_equal(k8s_get(c, "/api/v1/pods?limit=1", &r), 0);
	dt = kt_now_ms() - t0;
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 4);
	assert_string_equal(r.body, "{\"kind\":\"PodList\",\"items\":[]}");
	/* backoff with jitter: [50,100] + [100,200] + [200,400] ms */
	assert_true(dt >= 350 && dt < 1500);
	k8s_resp_free(&r);
	assert_int_equal(stub_nreq(s), 4);
	assert_string_equal(stub_reqline(s, 3, line, sizeof(line)), "GET /api/v1/pods?limit=1 HTTP/1.1");
	assert_true(stub_req_has(s, 0, "\r\nUser-Agent: nodeguard/" NG_VERSION "\r\n"));
	assert_true(stub_req_has(s, 0, "\r\nAuthorization: Bearer stub-token\r\n"));
	assert_true(stub_req_has(s, 0, "\r\nAccept: application/json\r\n"));
	k8s_client_free(c);
	stub_stop(s);
}

static void test_retries_exhausted(void **state)
{
	struct k8s_client_opts o = { .max_retries = 2, .backoff_base_ms = 10, .backoff_max_ms = 20 };
	struct k8s_client *c;
	struct k8s_resp r;
	struct stub *s = stub_start();

	(void)state;
	stub_status(s, 503, NULL, "ServiceUnavailable", "still down");
	stub_run(s);
	c = stub_client(s, &o);
	assert_int_equal(k8s_get(c, "/x", &r), -EIO);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.attempts, 3);
	assert_string_equal(r.status_message, "still down");
	assert_string_equal(r.reason, "ServiceUnavailable");
	k8s_resp_free(&r);
	assert_int_equal(stub_nreq(s), 3);
	k8s_client_free(c);
	stub_stop(s);
}

static void test_no_retry_post_patch(void **state)
{
	struct k8s_client_opts o = { .max_retries = 4, .backoff_base_ms = 10 };
	struct k8s_client *c;
	struct k8s_resp r;
	struct stub *s = stub_start();
	char line[256];

	(void)state;
	stub_status(s, 503, NULL, "ServiceUnavailable", "busy");
	stub_run(s);
	c = stub_client(s, &o);
	assert_int_equal(k8s_post(c, "/api/v1/namespaces/a/pods", "{\"a\":1}", &r), -EIO);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.status, 503);
	k8s_resp_free(&r);
	assert_int_equal(stub_nreq(s), 1);
	assert_string_equal(stub_reqline(s, 0, line, sizeof(line)), "POST /api/v1/namespaces/a/pods HTTP/1.1");
	assert_true(stub_req_has(s, 0, "\r\nContent-Type: application/json\r\n"));
	assert_true(stub_req_has(s, 0, "\r\n\r\n{\"a\":1}"));

	assert_int_equal(k8s_patch(c, "/p", K8S_PATCH_JSON, "[]", &r), -EIO);
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	assert_int_equal(stub_nreq(s), 2);
	assert_string_equal(stub_reqline(s, 1, line, sizeof(line)), "PATCH /p HTTP/1.1");
	assert_true(stub_req_has(s, 1, "\r\nContent-Type: application/json-patch+json\r\n"));
	assert_int_equal(k8s_patch(c, "/p", K8S_PATCH_MERGE, "{}", &r), -EIO);
	k8s_resp_free(&r);
	assert_true(stub_req_has(s, 2, "\r\nContent-Type: application/merge-patch+json\r\n"));
	assert_int_equal(k8s_patch(c, "/p", K8S_PATCH_STRATEGIC, "{}", &r), -EIO);
	k8s_resp_free(&r);
	assert_true(stub_req_has(s, 3, "\r\nContent-Type: application/strategic-merge-patch+json\r\n"));
	assert_int_equal(stub_nreq(s), 4);
	k8s_client_free(c);
	stub_stop(s);
}

static void test_put_delete_retried(void **state)
{
	struct k8s_client_opts o = { .max_retries = 3, .backoff_base_ms = 10, .backoff_max_ms = 20 };
	struct k8s_client *c;
	struct k8s_resp r;
	struct stub *s = stub_start();
	char line[256];

	(void)state;
	stub_status(s, 500, NULL, "InternalError", "x");
	stub_add(s, 200, NULL, "{\"put\":true}", true, 0);
	stub_status(s, 504, NULL, "Timeout", "y");
	stub_add(s, 200, NULL, "{\"kind\":\"Status\",\"status\":\"Success\"}", true, 0);
	stub_run(s);
	c = stub_client(s, &o);
	assert_int_equal(k8s_put(c, "/o", "{\"v\":1}", &r), 0);
	assert_int_equal(r.attempts, 2);
	k8s_resp_free(&r);
	assert_string_equal(stub_reqline(s, 1, line, sizeof(line)), "PUT /o HTTP/1.1");
	assert_true(stub_req_has(s, 1, "\r\n\r\n{\"v\":1}"));
	assert_int_equal(k8s_delete(c, "/o", "{\"gracePeriodSeconds\":0}", &r), 0);
	assert_int_equal(r.attempts, 2);
	k8s_resp_free(&r);
	assert_string_equal(stub_reqline(s, 3, line, sizeof(line)), "DELETE /o HTTP/1.1");
	assert_true(stub_req_has(s, 3, "\r\n\r\n{\"gracePeriodSeconds\":0}"));
	k8s_client_free(c);
	stub_stop(s);
}

static void test_429_retry_after(void **state)
{
	struct k8s_client_opts o = { .max_retries = 3, .backoff_base_ms = 10, .backoff_max_ms = 20 };
	struct k8s_client *c;
	struct k8s_resp r;
	struct stub *s = stub_start();
	uint64_t t0, dt;

	(void)state;
	stub_status(s, 429, "Retry-After: 1\r\n", "TooManyRequests", "slow down");
	stub_add(s, 200, NULL, "{}", true, 0);
	stub_status(s, 429, "Retry-After: 3600\r\n", "TooManyRequests", "come back in an hour");
	stub_status(s, 404, NULL, "NotFound", "never reached");
	stub_run(s);
	c = stub_client(s, &o);
	t0 = kt_now_ms();
	assert_int_equal(k8s_get(c, "/x", &r), 0);
	dt = kt_now_ms() - t0;
	assert_int_equal(r.attempts, 2);
	assert_true(dt >= 1000 && dt < 2500);   /* Retry-After, not the 10 ms backoff */
	k8s_resp_free(&r);
	/* a Retry-After beyond the cap (30 s) ends the retries */
	t0 = kt_now_ms();
	assert_int_equal(k8s_get(c, "/x", &r), -EBUSY);
	assert_int_equal(r.status, 429);
	assert_int_equal(r.attempts, 1);
	assert_string_equal(r.status_message, "come back in an hour");
	assert_true(kt_now_ms() - t0 < 1000);
	k8s_resp_free(&r);
	assert_int_equal(stub_nreq(s), 3);
	k8s_client_free(c);
	stub_stop(s);
}

static void test_4xx_not_retried(void **state)
{
	struct k8s_client_opts o = { .max_retries = 3, .backoff_base_ms = 10 };
	struct k8s_client *c;
	struct k8s_resp r;
	struct stub *s = stub_start();

	(void)state;
	stub_status(s, 404, NULL, "NotFound", "gone");
	stub_status(s, 501, NULL, "", "not implemented");
	stub_add(s, 502, "Content-Type: text/html\r\n", "<html><body>Bad Gateway</body></html>", true, 0);
	stub_run(s);
	c = stub_client(s, &o);
	assert_int_equal(k8s_get(c, "/x", &r), -ENOENT);
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	assert_int_equal(k8s_get(c, "/x", &r), -EIO);
	assert_int_equal(r.status, 501);
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	/* a 502 from a proxy, HTML: retried (the last step repeats), message is the body's start */
	assert_int_equal(k8s_get(c, "/x", &r), -EIO);
	assert_int_equal(r.status, 502);
	assert_int_equal(r.attempts, 4);
	assert_string_equal(r.status_message, "<html><body>Bad Gateway</body></html>");
	k8s_resp_free(&r);
	k8s_client_free(c);
	stub_stop(s);
}

static void test_body_bound_stub(void **state)
{
	struct k8s_client_opts o = { .max_body = 100, .max_retries = 3 };
	struct k8s_client *c;
	struct k8s_resp r;
	struct stub *s = stub_start();
	char body[101];

	(void)state;
	memset(body, 'x', 100);
	body[100] = '\0';
	stub_add(s, 200, NULL, body, true, 0);     /* exactly the bound: fine */
	stub_add(s, 200, NULL, "{\"a\":\"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"}", false, 0);
	stub_run(s);
	c = stub_client(s, &o);
	assert_int_equal(k8s_get(c, "/x", &r), 0);
	assert_int_equal(r.body_len, 100);
	k8s_resp_free(&r);
	/* one byte more (no Content-Length: read to the end) */
	assert_int_equal(k8s_get(c, "/x", &r), -EFBIG);
	assert_int_equal(r.attempts, 1);
	k8s_resp_free(&r);
	k8s_client_free(c);
	stub_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_escaping),
		cmocka_unit_test(test_status_parsing),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_pod_round_trip),
		cmocka_unit_test(test_not_found_message),
		cmocka_unit_test(test_forbidden_and_unauthorized),
		cmocka_unit_test(test_invalid_object),
		cmocka_unit_test(test_query_escaping_live),
		cmocka_unit_test(test_body_bound),
		cmocka_unit_test(test_token_file_reread_on_401),
		cmocka_unit_test(test_timeout_enforced),
		cmocka_unit_test(test_listener_never_accepts),
		cmocka_unit_test(test_connection_refused_retries),
		cmocka_unit_test(test_retry_5xx_get),
		cmocka_unit_test(test_retries_exhausted),
		cmocka_unit_test(test_no_retry_post_patch),
		cmocka_unit_test(test_put_delete_retried),
		cmocka_unit_test(test_429_retry_after),
		cmocka_unit_test(test_4xx_not_retried),
		cmocka_unit_test(test_body_bound_stub),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("k8s_client", tests, group_setup, group_teardown);
}
