// SPDX-License-Identifier: Apache-2.0
/*
 * agent/k8s_config.c: kubeconfig parsing (token, tokenFile, client
 * certificate and key as files or -data, relative paths, contexts) and the
 * errors for everything missing or refused; in-cluster configuration from
 * the environment and a service-account directory; token re-reading.
 *
 * Offline except the last tests, which use the configurations for real
 * calls to the apiserver of tests/k8s/run_tests.sh (they skip without it).
 * Client-certificate authentication itself cannot be tested live (the test
 * apiserver has no client CA): a real certificate and key from run_tests.sh
 * ($K8S_TEST_CLIENT_CERT/_KEY) show that curl loads them, and a key that does
 * not match the certificate fails the TLS setup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "k8s_test.h"

static char dir[64];   /* a scratch directory for this run */

static const char CERT_PEM[] = "-----BEGIN CERTIFICATE-----\nTUlJQ2Zha2U=\n-----END CERTIFICATE-----\n";
static const char KEY_PEM[] = "-----BEGIN PRIVATE KEY-----\nTUlJRWZha2U=\n-----END PRIVATE KEY-----\n";

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static char *read_all(const char *path)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_true(getdelim(&buf, &n, '\0', f) > 0);
	fclose(f);
	return buf;
}

static const char *in_dir(const char *name)
{
	static char p[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static char *b64(const void *data, size_t n)
{
	static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *d = data;
	char *out = malloc(n / 3 * 4 + 8), *o = out;
	size_t i;

	assert_non_null(out);
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = tb[d[i] >> 2];
		*o++ = tb[(d[i] & 3) << 4 | d[i + 1] >> 4];
		*o++ = tb[(d[i + 1] & 15) << 2 | d[i + 2] >> 6];
		*o++ = tb[d[i + 2] & 63];
	}
	if (n - i == 1) {
		*o++ = tb[d[i] >> 2];
		*o++ = tb[(d[i] & 3) << 4];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		*o++ = tb[d[i] >> 2];
		*o++ = tb[(d[i] & 3) << 4 | d[i + 1] >> 4];
		*o++ = tb[(d[i + 1] & 15) << 2];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ng-k8s-config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	static const char *const files[] = { "kc", "token", "ca.crt", "namespace", "c.pem", "k.pem",
					     "sa/token", "sa/ca.crt", "sa/namespace", "ca-data-kc" };
	char p[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/sa", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

/* a kubeconfig from the template; returns the config or NULL with err */
static struct k8s_config *kc(const char *yaml, const char *context, char *err, size_t errsz)
{
	write_file(in_dir("kc"), yaml);
	return k8s_config_from_kubeconfig(in_dir("kc"), context, err, errsz);
}

static const char KC_BASE[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"clusters:\n"
	"- name: c1\n"
	"  cluster:\n"
	"    server: https://10.1.2.3:6443/\n"
	"    certificate-authority: ca.crt\n"
	"- name: c2\n"
	"  cluster:\n"
	"    server: https://api.example.com\n"
	"users:\n"
	"- name: u-token\n"
	"  user:\n"
	"    token: abc.def-ghi\n"
	"- name: u-file\n"
	"  user:\n"
	"    tokenFile: token\n"
	"- name: u-cert\n"
	"  user:\n"
	"    client-certificate: c.pem\n"
	"    client-key: /abs/k.pem\n"
	"contexts:\n"
	"- name: ctx-token\n"
	"  context: {cluster: c1, user: u-token, namespace: team-a}\n"
	"- name: ctx-file\n"
	"  context: {cluster: c2, user: u-file}\n"
	"- name: ctx-cert\n"
	"  context: {cluster: c1, user: u-cert}\n"
	"current-context: ctx-token\n";

static void test_kubeconfig_token(void **state)
{
	struct k8s_config *c;
	char err[512];

	(void)state;
	c = kc(KC_BASE, NULL, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	assert_string_equal(c->server, "https://10.1.2.3:6443");   /* trailing '/' dropped */
	assert_string_equal(c->ca_file, in_dir("ca.crt"));         /* relative to the kubeconfig */
	assert_int_equal(c->ca_data.len, 0);
	assert_string_equal(c->token, "abc.def-ghi");
	assert_null(c->token_file);
	assert_null(c->cert_file);
	assert_string_equal(c->namespace, "team-a");
	assert_string_equal(c->context, "ctx-token");
	assert_int_equal(c->token_reread_s, K8S_TOKEN_REREAD_S);
	k8s_config_free(c);
}

static void test_kubeconfig_token_file_and_context(void **state)
{
	struct k8s_config *c;
	const char *t;
	char err[512];

	(void)state;
	c = kc(KC_BASE, "ctx-file", err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	assert_string_equal(c->server, "https://api.example.com");
	assert_null(c->ca_file);                 /* the system CAs */
	assert_null(c->token);
	assert_string_equal(c->token_file, in_dir("token"));
	assert_null(c->namespace);
	write_file(in_dir("token"), "tok-1\n");
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "tok-1");
	k8s_config_free(c);
}

static void test_kubeconfig_client_cert_files(void **state)
{
	struct k8s_config *c;
	char err[512];

	(void)state;
	c = kc(KC_BASE, "ctx-cert", err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	assert_string_equal(c->cert_file, in_dir("c.pem"));
	assert_string_equal(c->key_file, "/abs/k.pem");
	assert_null(c->token);
	assert_null(c->token_file);
	k8s_config_free(c);
}

static void test_kubeconfig_data_fields(void **state)
{
	char *yaml, *cert = b64(CERT_PEM, strlen(CERT_PEM)), *key = b64(KEY_PEM, strlen(KEY_PEM));
	char *ca = b64(CERT_PEM, strlen(CERT_PEM));
	struct k8s_config *c;
	char err[512];

	(void)state;
	assert_true(asprintf(&yaml,
			     "clusters:\n- name: c\n  cluster:\n    server: https://k:443\n"
			     "    certificate-authority: ignored.crt\n"
			     "    certificate-authority-data: %s\n"
			     "users:\n- name: u\n  user:\n"
			     "    client-certificate-data: %s\n"
			     "    client-key-data: |\n      %.*s\n      %s\n"
			     "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
			     "current-context: x\n",
			     ca, cert, 20, key, key + 20) > 0);
	c = kc(yaml, NULL, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	/* -data wins over the file */
	assert_int_equal(c->ca_data.len, strlen(CERT_PEM));
	assert_memory_equal(c->ca_data.data, CERT_PEM, strlen(CERT_PEM));
	assert_int_equal(c->cert_data.len, strlen(CERT_PEM));
	assert_memory_equal(c->cert_data.data, CERT_PEM, strlen(CERT_PEM));
	/* base64 folded over lines */
	assert_int_equal(c->key_data.len, strlen(KEY_PEM));
	assert_memory_equal(c->key_data.data, KEY_PEM, strlen(KEY_PEM));
	assert_null(c->cert_file);
	assert_null(c->key_file);
	k8s_config_free(c);
	free(yaml);
	free(cert);
	free(key);
	free(ca);
}

/* a kubeconfig that must be refused, with err containing want */
static void refused(const char *yaml, const char *context, const char *want, int want_errno)
{
	struct k8s_config *c;
	char err[512] = "";

	c = kc(yaml, context, err, sizeof(err));
	if (c) {
		k8s_config_free(c);
		fail_msg("accepted; wanted \"%s\"", want);
	}
	assert_int_equal(errno, want_errno);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

#define CTX "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"
#define CL "clusters:\n- name: c\n  cluster:\n    server: https://k:6443\n"
#define US "users:\n- name: u\n  user:\n    token: t\n"

static void test_kubeconfig_errors(void **state)
{
	(void)state;
	refused(CL US "contexts: []\n", NULL, "kc: no context given and no current-context", EINVAL);
	refused(CL US CTX, "nope", "kc:10: context \"nope\" not found", EINVAL);
	refused(CL US "contexts:\n- name: x\n  context: {user: u}\ncurrent-context: x\n", NULL,
		"context \"x\" has no \"cluster\"", EINVAL);
	refused(CL US "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n", NULL,
		"context \"x\" has no \"user\"", EINVAL);
	refused(CL "users:\n- name: other\n  user: {token: t}\n" CTX, NULL, "user \"u\" not found", EINVAL);
	refused("clusters:\n- name: other\n  cluster: {server: https://x}\n" US CTX, NULL,
		"cluster \"c\" not found", EINVAL);
	refused(US CTX, NULL, "no \"clusters\" list", EINVAL);
	refused("clusters:\n- name: c\n  cluster:\n    certificate-authority: x\n" US CTX, NULL,
		"kc:4: cluster \"c\" has no \"server\"", EINVAL);
	refused("clusters:\n- name: c\n  cluster:\n    server: [a]\n" US CTX, NULL,
		"cluster \"c\": \"server\" must be a string", EINVAL);
	refused("clusters:\n- name: c\n  cluster:\n    server: https://k\n    insecure-skip-tls-verify: true\n" US CTX,
		NULL, "insecure-skip-tls-verify is not supported", EINVAL);
	refused("clusters:\n- name: c\n  cluster:\n    server: http://10.0.0.1:8080\n" US CTX, NULL,
		"plain http:// only to a loopback host", EINVAL);
	refused("clusters:\n- name: c\n  cluster:\n    server: ftp://k\n" US CTX, NULL, "is not https://",
		EINVAL);
	refused("clusters:\n- name: c\n  cluster:\n    server: https://k/?a=1\n" US CTX, NULL,
		"no spaces, query or fragment", EINVAL);
	refused("clusters:\n- name: c\n  cluster:\n    server: https://k\n    certificate-authority-data: \"not base64!\"\n" US CTX,
		NULL, "\"certificate-authority-data\" is not valid base64", EINVAL);
	refused(CL "users:\n- name: u\n  user:\n    exec: {command: aws}\n" CTX, NULL,
		"exec credential plugins are not supported", EINVAL);
	refused(CL "users:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n" CTX, NULL,
		"auth-provider plugins are not supported", EINVAL);
	refused(CL "users:\n- name: u\n  user:\n    username: a\n    password: b\n" CTX, NULL,
		"basic auth (username/password) is not supported", EINVAL);
	refused(CL "users:\n- name: u\n  user: {}\n" CTX, NULL,
		"user \"u\" has no credentials: give token, tokenFile or client-certificate + client-key",
		EINVAL);
	refused(CL "users:\n- name: u\n  user:\n    client-certificate: c.pem\n" CTX, NULL,
		"client-certificate and client-key go together", EINVAL);
	refused(CL "users:\n- name: u\n  user:\n    token: \"a b\"\n" CTX, NULL,
		"\"token\" must be visible ASCII without spaces", EINVAL);
	refused(CL "users:\n- name: u\n  user: \"x\"\n" CTX, NULL, "users \"u\": \"user\" must be a mapping",
		EINVAL);
	refused("- just\n- a list\n", NULL, "the top level must be a mapping", EINVAL);
	refused("clusters: [\n", NULL, "kc:2:1: YAML:", EINVAL);
	refused("clusters: {a: 1}\n" US CTX, NULL, "\"clusters\" must be a list", EINVAL);
}

static void test_kubeconfig_file_errors(void **state)
{
	struct k8s_config *c;
	char err[512], *big;
	int fd;

	(void)state;
	c = k8s_config_from_kubeconfig(in_dir("does-not-exist"), NULL, err, sizeof(err));
	assert_null(c);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "does-not-exist: No such file or directory"));
	c = k8s_config_from_kubeconfig(NULL, NULL, err, sizeof(err));
	assert_null(c);
	assert_int_equal(errno, EINVAL);
	/* over the 4 MiB bound */
	big = calloc(1, K8S_KUBECONFIG_MAX + 2);
	assert_non_null(big);
	memset(big, '#', K8S_KUBECONFIG_MAX + 1);
	fd = open(in_dir("kc"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, big, K8S_KUBECONFIG_MAX + 1), K8S_KUBECONFIG_MAX + 1);
	close(fd);
	free(big);
	c = k8s_config_from_kubeconfig(in_dir("kc"), NULL, err, sizeof(err));
	assert_null(c);
	assert_int_equal(errno, EFBIG);
	assert_non_null(strstr(err, "larger than the 4 MiB bound"));
}

static void test_server_urls(void **state)
{
	static const char *const ok[] = { "https://k", "https://10.0.0.1:6443", "https://[fd00::1]:443",
					  "https://k/prefix/", "http://127.0.0.1:8001", "http://localhost",
					  "http://[::1]:8001", "http://127.1.2.3" };
	static const char *const bad[] = { "", "k:443", "http://10.0.0.1", "http://localhost.evil.com",
					   "http://127.0.0.1.nip.io", "https://", "https://:443",
					   "https://u:p@k", "https://k/a b", "https://k#f", "HTTPS://k" };
	struct k8s_config *c;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		c = k8s_config_new(ok[i], err, sizeof(err));
		if (!c)
			fail_msg("%s refused: %s", ok[i], err);
		assert_int_equal(k8s_config_plain_http(c), !strncmp(ok[i], "http:", 5));
		k8s_config_free(c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = k8s_config_new(bad[i], err, sizeof(err));
		if (c)
			fail_msg("%s accepted", bad[i]);
		assert_int_equal(errno, EINVAL);
	}
	c = k8s_config_new("https://k/prefix///", err, sizeof(err));
	assert_string_equal(c->server, "https://k/prefix");
	k8s_config_free(c);
}

static void test_base64(void **state)
{
	struct k8s_blob b;

	(void)state;
	assert_int_equal(k8s_base64_decode("aGVsbG8=", 100, &b), 0);
	assert_int_equal(b.len, 5);
	assert_string_equal((char *)b.data, "hello");
	free(b.data);
	assert_int_equal(k8s_base64_decode("aGVsbG8", 100, &b), 0);   /* unpadded */
	assert_string_equal((char *)b.data, "hello");
	free(b.data);
	assert_int_equal(k8s_base64_decode(" aGVs\n bG8h\r\n", 100, &b), 0);
	assert_string_equal((char *)b.data, "hello!");
	free(b.data);
	assert_int_equal(k8s_base64_decode("", 100, &b), 0);
	assert_int_equal(b.len, 0);
	free(b.data);
	assert_int_equal(k8s_base64_decode("aGVsbG8=x", 100, &b), -EINVAL);   /* data after '=' */
	assert_int_equal(k8s_base64_decode("a", 100, &b), -EINVAL);
	assert_int_equal(k8s_base64_decode("aGVsbG8===", 100, &b), -EINVAL);
	assert_int_equal(k8s_base64_decode("aG-s", 100, &b), -EINVAL);
	assert_int_equal(k8s_base64_decode("aGVsbG8=", 4, &b), -EFBIG);
	assert_null(b.data);
}

static void test_token_reread(void **state)
{
	struct k8s_config *c;
	const char *t;
	char err[256];

	(void)state;
	c = k8s_config_new("https://k", err, sizeof(err));
	c->token_file = strdup(in_dir("token"));
	unlink(in_dir("token"));
	/* nothing readable and no static token */
	assert_int_equal(k8s_config_token(c, false, &t), -ENOENT);
	assert_null(t);
	write_file(in_dir("token"), "first\r\n");
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "first");
	write_file(in_dir("token"), "second");
	/* cached for token_reread_s (60 s) */
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "first");
	/* forced (after a 401) */
	assert_int_equal(k8s_config_token(c, true, &t), 0);
	assert_string_equal(t, "second");
	/* every call when the interval is 0 */
	c->token_reread_s = 0;
	write_file(in_dir("token"), "third\n");
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "third");
	/* a failed re-read keeps the last good token */
	unlink(in_dir("token"));
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "third");
	/* a token with control characters is refused, the old one kept */
	write_file(in_dir("token"), "bad\x01token");
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "third");
	assert_true(c->tok_read_errors >= 2);
	k8s_config_free(c);

	/* tokenFile with a static token as the fallback */
	c = k8s_config_new("https://k", err, sizeof(err));
	c->token_file = strdup(in_dir("no-such-token"));
	c->token = strdup("static");
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "static");
	k8s_config_free(c);
	/* no token at all: NULL, not an error (client certificates) */
	c = k8s_config_new("https://k", err, sizeof(err));
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_null(t);
	k8s_config_free(c);
}

static void sa_dir(const char *token, const char *ca, const char *ns)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/sa", dir);
	mkdir(p, 0700);
	unlink(in_dir("sa/token"));
	unlink(in_dir("sa/ca.crt"));
	unlink(in_dir("sa/namespace"));
	if (token)
		write_file(in_dir("sa/token"), token);
	if (ca)
		write_file(in_dir("sa/ca.crt"), ca);
	if (ns)
		write_file(in_dir("sa/namespace"), ns);
	setenv(K8S_SA_DIR_ENV, p, 1);
}

static void test_in_cluster(void **state)
{
	struct k8s_config *c;
	const char *t;
	char err[512];

	(void)state;
	sa_dir("sa-token\n", CERT_PEM, "kube-system\n");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	c = k8s_config_in_cluster(err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	assert_string_equal(c->server, "https://10.96.0.1:443");
	assert_string_equal(c->token_file, in_dir("sa/token"));
	assert_string_equal(c->ca_file, in_dir("sa/ca.crt"));
	assert_string_equal(c->namespace, "kube-system");
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "sa-token");
	/* the kubelet rotates the projected token: seen after token_reread_s */
	write_file(in_dir("sa/token"), "rotated");
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "sa-token");
	c->token_reread_s = 0;
	assert_int_equal(k8s_config_token(c, false, &t), 0);
	assert_string_equal(t, "rotated");
	k8s_config_free(c);

	/* IPv6 service address */
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	c = k8s_config_in_cluster(err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(c->server, "https://[fd00:10:96::1]:443");
	k8s_config_free(c);

	/* no namespace file: fine */
	sa_dir("t", CERT_PEM, NULL);
	c = k8s_config_in_cluster(err, sizeof(err));
	assert_non_null(c);
	assert_null(c->namespace);
	k8s_config_free(c);

	/* missing pieces */
	sa_dir(NULL, CERT_PEM, NULL);
	assert_null(k8s_config_in_cluster(err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "service-account token"));
	assert_non_null(strstr(err, "No such file or directory"));
	sa_dir("\n", CERT_PEM, NULL);
	assert_null(k8s_config_in_cluster(err, sizeof(err)));
	assert_non_null(strstr(err, "empty"));
	sa_dir("t", NULL, NULL);
	assert_null(k8s_config_in_cluster(err, sizeof(err)));
	assert_non_null(strstr(err, "service-account CA"));
	sa_dir("t", CERT_PEM, NULL);
	setenv("KUBERNETES_SERVICE_PORT", "http", 1);
	assert_null(k8s_config_in_cluster(err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_PORT \"http\" is not a port"));
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("KUBERNETES_SERVICE_HOST", "evil/host", 1);
	assert_null(k8s_config_in_cluster(err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_null(k8s_config_in_cluster(err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "not in a cluster"));
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv(K8S_SA_DIR_ENV);
}

/* ---------------------------------------------------------------- live */

static int get_status(struct k8s_config *cfg, const char *path, struct k8s_resp *r)
{
	struct k8s_client_opts o = { .max_retries = K8S_NO_RETRIES, .timeout_ms = 10000 };
	struct k8s_client *c = k8s_client_new(cfg, &o);
	int rc;

	assert_non_null(c);
	rc = k8s_get(c, path, r);
	k8s_client_free(c);
	return rc;
}

static void test_live_kubeconfig(void **state)
{
	struct k8s_config *c;
	struct k8s_resp r;
	char err[512];

	(void)state;
	KT_NEED_CLUSTER();
	/* the harness's kubeconfig: admin is current, agent is another context */
	c = k8s_config_from_kubeconfig(kt_env("KUBECONFIG"), NULL, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	assert_string_equal(c->context, "admin");
	assert_string_equal(c->server, kt_env("KUBE_SERVER"));
	kt_expect(get_status(c, "/api/v1/namespaces/default/secrets", &r), &r, 200);
	k8s_resp_free(&r);
	c = k8s_config_from_kubeconfig(kt_env("KUBECONFIG"), "agent", err, sizeof(err));
	assert_non_null(c);
	kt_expect(get_status(c, "/api/v1/namespaces/default/secrets", &r), &r, 403);
	assert_non_null(strstr(r.status_message, "User \"agent\" cannot list resource \"secrets\""));
	k8s_resp_free(&r);
}

static void test_live_ca_data(void **state)
{
	char *ca = read_all(kt_env("KUBE_CA")), *ca64, *yaml, err[512];
	struct k8s_config *c;
	struct k8s_resp r;

	(void)state;
	KT_NEED_CLUSTER();
	ca64 = b64(ca, strlen(ca));
	assert_true(asprintf(&yaml,
			     "clusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n"
			     "users:\n- name: u\n  user:\n    token: %s\n" CTX,
			     kt_env("KUBE_SERVER"), ca64, kt_env("KUBE_ADMIN_TOKEN")) > 0);
	c = kc(yaml, NULL, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	assert_true(c->ca_data.len > 0);
	/* the CA from memory (CURLOPT_CAINFO_BLOB) verifies the server */
	kt_expect(get_status(c, "/version", &r), &r, 200);
	k8s_resp_free(&r);
	free(yaml);

	/* a CA that did not sign the server: TLS fails, no insecure fallback */
	ca64 = (free(ca64), b64(CERT_PEM, strlen(CERT_PEM)));
	assert_true(asprintf(&yaml,
			     "clusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n"
			     "users:\n- name: u\n  user:\n    token: %s\n" CTX,
			     kt_env("KUBE_SERVER"), ca64, kt_env("KUBE_ADMIN_TOKEN")) > 0);
	c = kc(yaml, NULL, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(get_status(c, "/version", &r), -EPROTO);
	assert_int_equal(r.status, 0);
	k8s_resp_free(&r);
	free(yaml);
	/* no CA at all: the system store does not know the test CA either */
	c = k8s_config_new(kt_env("KUBE_SERVER"), err, sizeof(err));
	c->token = strdup(kt_env("KUBE_ADMIN_TOKEN"));
	assert_int_equal(get_status(c, "/version", &r), -EPROTO);
	k8s_resp_free(&r);
	free(ca64);
	free(ca);
}

static void test_live_in_cluster(void **state)
{
	char *ca = read_all(kt_env("KUBE_CA")), *port, err[512];
	const char *server = kt_env("KUBE_SERVER");
	struct k8s_config *c;
	struct k8s_resp r;

	(void)state;
	KT_NEED_CLUSTER();
	port = strrchr(server, ':') + 1;
	sa_dir(kt_env("KUBE_AGENT_TOKEN"), ca, "default\n");
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	c = k8s_config_in_cluster(err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	kt_expect(get_status(c, "/api/v1/namespaces/default/secrets", &r), &r, 403);
	k8s_resp_free(&r);
	/* the token file now holds the admin token: read at the next call */
	sa_dir(kt_env("KUBE_ADMIN_TOKEN"), ca, "default\n");
	c = k8s_config_in_cluster(err, sizeof(err));
	assert_non_null(c);
	kt_expect(get_status(c, "/api/v1/namespaces/default/secrets", &r), &r, 200);
	k8s_resp_free(&r);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv(K8S_SA_DIR_ENV);
	free(ca);
}

static void test_live_client_cert(void **state)
{
	const char *cert = kt_env("K8S_TEST_CLIENT_CERT"), *key = kt_env("K8S_TEST_CLIENT_KEY");
	const char *other = kt_env("K8S_TEST_OTHER_KEY");
	char *certpem, *keypem, *c64, *k64, *o64, *otherpem, *yaml, err[512];
	struct k8s_config *c;
	struct k8s_resp r;

	(void)state;
	KT_NEED_CLUSTER();
	if (!cert || !key || !other) {
		print_message("no K8S_TEST_CLIENT_CERT/_KEY/K8S_TEST_OTHER_KEY\n");
		skip();
	}
	certpem = read_all(cert);
	keypem = read_all(key);
	otherpem = read_all(other);
	c64 = b64(certpem, strlen(certpem));
	k64 = b64(keypem, strlen(keypem));
	o64 = b64(otherpem, strlen(otherpem));
	/* cert + key as data; the test apiserver has no client CA, so the
	 * request is anonymous, and /version is open to everyone */
	assert_true(asprintf(&yaml,
			     "clusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority: %s\n"
			     "users:\n- name: u\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n" CTX,
			     kt_env("KUBE_SERVER"), kt_env("KUBE_CA"), c64, k64) > 0);
	c = kc(yaml, NULL, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	kt_expect(get_status(c, "/version", &r), &r, 200);
	k8s_resp_free(&r);
	free(yaml);
	/* as files */
	assert_true(asprintf(&yaml,
			     "clusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority: %s\n"
			     "users:\n- name: u\n  user:\n    client-certificate: %s\n    client-key: %s\n" CTX,
			     kt_env("KUBE_SERVER"), kt_env("KUBE_CA"), cert, key) > 0);
	c = kc(yaml, NULL, err, sizeof(err));
	assert_non_null(c);
	kt_expect(get_status(c, "/version", &r), &r, 200);
	k8s_resp_free(&r);
	free(yaml);
	/* a key that does not belong to the certificate: curl refuses it */
	assert_true(asprintf(&yaml,
			     "clusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority: %s\n"
			     "users:\n- name: u\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n" CTX,
			     kt_env("KUBE_SERVER"), kt_env("KUBE_CA"), c64, o64) > 0);
	c = kc(yaml, NULL, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(get_status(c, "/version", &r), -EPROTO);
	assert_int_equal(r.status, 0);
	k8s_resp_free(&r);
	free(yaml);
	free(certpem);
	free(keypem);
	free(otherpem);
	free(c64);
	free(k64);
	free(o64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubeconfig_token),
		cmocka_unit_test(test_kubeconfig_token_file_and_context),
		cmocka_unit_test(test_kubeconfig_client_cert_files),
		cmocka_unit_test(test_kubeconfig_data_fields),
		cmocka_unit_test(test_kubeconfig_errors),
		cmocka_unit_test(test_kubeconfig_file_errors),
		cmocka_unit_test(test_server_urls),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_token_reread),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_live_kubeconfig),
		cmocka_unit_test(test_live_ca_data),
		cmocka_unit_test(test_live_in_cluster),
		cmocka_unit_test(test_live_client_cert),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("k8s_config", tests, group_setup, group_teardown);
}
