// SPDX-License-Identifier: Apache-2.0
/*
 * Kubernetes API configuration: in-cluster service account or kubeconfig.
 * The kubeconfig is read with libyaml's document API (the whole file, bounded
 * by K8S_KUBECONFIG_MAX), like the policy parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "clock.h"
#include "digits.h"
#include "errbuf.h"
#include "errptr.h"
#include "k8s_config.h"
#include "readall.h"

#define SERVER_MAX 2048

/* the whole file, NUL-terminated, at most max bytes; 0 or -errno (-EFBIG) */
static int read_bounded(const char *path, size_t max, char **out, size_t *len)
{
	int fd, rc;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	rc = read_all_fd(fd, max, out, len);
	close(fd);
	return rc;
}

/* ---------------------------------------------------------------- base64 */

int k8s_base64_decode(const char *in, size_t max, struct k8s_blob *out)
{
	size_t inlen, cap, n = 0, pad = 0, nq = 0;
	unsigned char *buf;
	uint32_t acc = 0;
	const char *p;

	if (!in || !out)
		return -EINVAL;
	out->data = NULL;
	out->len = 0;
	inlen = strlen(in);
	cap = inlen / 4 * 3 + 4;
	if (cap > max + 4)
		cap = max + 4;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (p = in; *p; p++) {
		unsigned char c = (unsigned char)*p;
		int v;

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = digit_value(BASE64_ALPHABET, c);
		if (v < 0 || pad)   /* data after padding */
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		if (++nq == 4) {
			if (n + 3 > max)
				goto big;
			buf[n++] = (unsigned char)(acc >> 16);
			buf[n++] = (unsigned char)(acc >> 8);
			buf[n++] = (unsigned char)acc;
			acc = 0;
			nq = 0;
		}
	}
	if (nq == 1 || pad > 2 || (pad && (nq + pad) != 4))
		goto bad;
	if (nq == 2) {
		if (n + 1 > max)
			goto big;
		buf[n++] = (unsigned char)(acc >> 4);
	} else if (nq == 3) {
		if (n + 2 > max)
			goto big;
		buf[n++] = (unsigned char)(acc >> 10);
		buf[n++] = (unsigned char)(acc >> 2);
	}
	buf[n] = '\0';
	out->data = buf;
	out->len = n;
	return 0;
bad:
	free(buf);
	return -EINVAL;
big:
	free(buf);
	return -EFBIG;
}

/* ---------------------------------------------------------------- config */

static bool host_is_loopback(const char *h, size_t n)
{
	if (n == 9 && !strncmp(h, "localhost", 9))
		return true;
	if (n == 5 && !strncmp(h, "[::1]", 5))
		return true;
	if (n >= 7 && !strncmp(h, "127.", 4)) {
		size_t i;

		for (i = 4; i < n; i++)
			if (!(h[i] == '.' || (h[i] >= '0' && h[i] <= '9')))
				return false;
		return true;
	}
	return false;
}

static int check_server(const char *s, char *err, size_t errsz)
{
	const char *host, *end;
	size_t i, n, hn;
	bool plain;

	if (!s || !*s) {
		seterr(err, errsz, "no server URL");
		return -EINVAL;
	}
	n = strlen(s);
	if (n > SERVER_MAX) {
		seterr(err, errsz, "server URL longer than %d bytes", SERVER_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '"' || c == '\\') {
			seterr(err, errsz, "server URL \"%.200s\": character %#x not allowed (no spaces, query or fragment)",
			       s, c);
			return -EINVAL;
		}
	}
	if (!strncmp(s, "https://", 8)) {
		host = s + 8;
		plain = false;
	} else if (!strncmp(s, "http://", 7)) {
		host = s + 7;
		plain = true;
	} else {
		seterr(err, errsz, "server URL \"%.200s\" is not https://", s);
		return -EINVAL;
	}
	end = strchr(host, '/');
	hn = end ? (size_t)(end - host) : strlen(host);
	if (!hn || host[0] == ':' || memchr(host, '@', hn)) {
		seterr(err, errsz, "server URL \"%.200s\" has no host (or has user info)", s);
		return -EINVAL;
	}
	if (plain) {
		/* drop the port: the last ':' after any ']' */
		const char *rb = memchr(host, ']', hn);
		const char *colon = NULL, *q;

		for (q = rb ? rb : host; q < host + hn; q++)
			if (*q == ':')
				colon = q;
		if (!host_is_loopback(host, colon ? (size_t)(colon - host) : hn)) {
			seterr(err, errsz,
			       "server URL \"%.200s\": plain http:// only to a loopback host; use https://", s);
			return -EINVAL;
		}
	}
	return 0;
}

struct k8s_config *k8s_config_new(const char *server, char *err, size_t errsz)
{
	struct k8s_config *c;
	size_t n;
	int rc;

	rc = check_server(server, err, errsz);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->server = strdup(server))) {
		free(c);
		seterr(err, errsz, "out of memory");
		return errno_null(ENOMEM);
	}
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	c->token_reread_s = K8S_TOKEN_REREAD_S;
	return c;
}

static void blob_free(struct k8s_blob *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void k8s_config_free(struct k8s_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ca_file);
	blob_free(&c->ca_data);
	secret_free(c->token);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	blob_free(&c->cert_data);
	blob_free(&c->key_data);
	free(c->namespace);
	free(c->context);
	secret_free(c->tok_cached);
	free(c);
}

bool k8s_config_plain_http(const struct k8s_config *c)
{
	return c && c->server && !strncmp(c->server, "http://", 7);
}

/* a token goes into an HTTP header: visible ASCII only */
static bool token_ok(const char *t)
{
	if (!*t)
		return false;
	for (; *t; t++)
		if ((unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e)
			return false;
	return true;
}

/* read, trim trailing whitespace, validate; *out malloc'ed */
static int read_token_file(const char *path, char **out)
{
	char *buf;
	size_t n;
	int rc;

	*out = NULL;
	rc = read_bounded(path, K8S_TOKEN_MAX, &buf, &n);
	if (rc)
		return rc;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			 buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (!n || strlen(buf) != n || !token_ok(buf)) {
		secret_free(buf);
		return n ? -EINVAL : -ENODATA;
	}
	*out = buf;
	return 0;
}

int k8s_config_token(struct k8s_config *c, bool force, const char **out)
{
	uint64_t now;
	char *t;
	int rc;

	if (!c || !out)
		return -EINVAL;
	*out = NULL;
	if (!c->token_file) {
		*out = c->token;
		return 0;
	}
	now = clock_mono_ms();
	if (!force && c->tok_cached && c->tok_read_ms &&
	    now - c->tok_read_ms < (uint64_t)c->token_reread_s * 1000) {
		*out = c->tok_cached;
		return 0;
	}
	c->tok_reads++;
	rc = read_token_file(c->token_file, &t);
	if (rc) {
		c->tok_read_errors++;
		/* keep the last good token; retry on the next call after a while */
		c->tok_read_ms = now;
		if (c->tok_cached) {
			*out = c->tok_cached;
			return 0;
		}
		if (c->token) {
			*out = c->token;
			return 0;
		}
		c->tok_read_ms = 0;
		return rc;
	}
	secret_free(c->tok_cached);
	c->tok_cached = t;
	c->tok_read_ms = now;
	*out = t;
	return 0;
}

/* ---------------------------------------------------------------- in-cluster */

static char *path_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

struct k8s_config *k8s_config_in_cluster(char *err, size_t errsz)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv(K8S_SA_DIR_ENV);
	struct k8s_config *c = NULL;
	char server[600], *tok = NULL, *ns = NULL;
	size_t i, nslen;
	unsigned long pv;
	char *end;
	int rc = 0;

	if (!dir || !*dir)
		dir = K8S_SA_DIR;
	if (!host || !*host || !port || !*port) {
		seterr(err, errsz, "not in a cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set");
		return errno_null(ENOENT);
	}
	if (strlen(host) > 253) {
		seterr(err, errsz, "KUBERNETES_SERVICE_HOST is too long");
		return errno_null(EINVAL);
	}
	for (i = 0; host[i]; i++)
		if (!((host[i] >= 'a' && host[i] <= 'z') || (host[i] >= 'A' && host[i] <= 'Z') ||
		      (host[i] >= '0' && host[i] <= '9') || host[i] == '.' || host[i] == '-' ||
		      host[i] == ':')) {
			seterr(err, errsz, "KUBERNETES_SERVICE_HOST \"%.100s\" is not a host name or address", host);
			return errno_null(EINVAL);
		}
	errno = 0;
	pv = strtoul(port, &end, 10);
	if (errno || *end || pv == 0 || pv > 65535 || port[0] == '-' || port[0] == '+') {
		seterr(err, errsz, "KUBERNETES_SERVICE_PORT \"%.20s\" is not a port", port);
		return errno_null(EINVAL);
	}
	snprintf(server, sizeof(server), strchr(host, ':') ? "https://[%s]:%lu" : "https://%s:%lu", host, pv);
	c = k8s_config_new(server, err, errsz);
	if (!c)
		return NULL;
	c->token_file = path_join(dir, "token");
	c->ca_file = path_join(dir, "ca.crt");
	if (!c->token_file || !c->ca_file) {
		rc = -ENOMEM;
		seterr(err, errsz, "out of memory");
		goto fail;
	}
	rc = read_token_file(c->token_file, &tok);
	if (rc) {
		seterr(err, errsz, "service-account token %s: %s", c->token_file,
		       rc == -ENODATA ? "empty" : rc == -EINVAL ? "not a token (control characters)" : strerror(-rc));
		goto fail;
	}
	c->tok_cached = tok;
	c->tok_read_ms = clock_mono_ms();
	c->tok_reads = 1;
	if (access(c->ca_file, R_OK)) {
		rc = -errno;
		seterr(err, errsz, "service-account CA %s: %s", c->ca_file, strerror(errno));
		goto fail;
	}
	{
		char *nsp = path_join(dir, "namespace");

		if (nsp && !read_bounded(nsp, 253, &ns, &nslen)) {
			while (nslen > 0 && (ns[nslen - 1] == '\n' || ns[nslen - 1] == ' ' || ns[nslen - 1] == '\r'))
				ns[--nslen] = '\0';
			if (nslen && strlen(ns) == nslen)
				c->namespace = ns;
			else
				free(ns);
		}
		free(nsp);
	}
	return c;
fail:
	k8s_config_free(c);
	errno = -rc;
	return NULL;
}

/* ---------------------------------------------------------------- kubeconfig */

struct kctx {
	yaml_document_t *doc;
	const char *path;
	char *dir;                 /* directory of the kubeconfig, for relative names */
	char *err;
	size_t errsz;
};

static int line_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

__attribute__((format(printf, 3, 4))) static int kerr(struct kctx *k, const yaml_node_t *n,
						      const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		seterr(k->err, k->errsz, "%s:%d: %s", k->path, line_of(n), msg);
	else
		seterr(k->err, k->errsz, "%s: %s", k->path, msg);
	return -EINVAL;
}

static yaml_node_t *map_get(struct kctx *k, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(k->doc, p->key);

		if (kn && kn->type == YAML_SCALAR_NODE && !strcmp((const char *)kn->data.scalar.value, key))
			return yaml_document_get_node(k->doc, p->value);
	}
	return NULL;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/*
 * The string value of key in map: NULL if absent or null (not an error),
 * *bad set (and an error written) if present but not a scalar.
 */
static const char *get_str(struct kctx *k, yaml_node_t *map, const char *key, const char *what,
			   int *bad)
{
	yaml_node_t *v = map_get(k, map, key);

	if (is_null(v))
		return NULL;
	if (v->type != YAML_SCALAR_NODE) {
		*bad = kerr(k, v, "%s: \"%s\" must be a string", what, key);
		return NULL;
	}
	if (strlen((const char *)v->data.scalar.value) != v->data.scalar.length) {
		*bad = kerr(k, v, "%s: \"%s\" contains a NUL byte", what, key);
		return NULL;
	}
	return (const char *)v->data.scalar.value;
}

static bool get_bool_true(struct kctx *k, yaml_node_t *map, const char *key)
{
	yaml_node_t *v = map_get(k, map, key);
	const char *s;

	if (!v || v->type != YAML_SCALAR_NODE)
		return false;
	s = (const char *)v->data.scalar.value;
	return !strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE");
}

/* clusters/users/contexts: a sequence of {name: X, <inner>: {...}} */
static int find_named(struct kctx *k, yaml_node_t *root, const char *list, const char *inner,
		      const char *name, yaml_node_t **out)
{
	yaml_node_t *seq = map_get(k, root, list);
	yaml_node_item_t *it;

	*out = NULL;
	if (is_null(seq))
		return kerr(k, NULL, "no \"%s\" list (looking for \"%s\")", list, name);
	if (seq->type != YAML_SEQUENCE_NODE)
		return kerr(k, seq, "\"%s\" must be a list", list);
	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(k->doc, *it);
		yaml_node_t *nm = map_get(k, e, "name");
		yaml_node_t *in;

		if (!e || e->type != YAML_MAPPING_NODE)
			return kerr(k, e, "entries of \"%s\" must be mappings", list);
		if (!nm || nm->type != YAML_SCALAR_NODE || strcmp((const char *)nm->data.scalar.value, name))
			continue;
		in = map_get(k, e, inner);
		if (is_null(in))
			return kerr(k, e, "%s \"%s\" has no \"%s\" mapping", list, name, inner);
		if (in->type != YAML_MAPPING_NODE)
			return kerr(k, in, "%s \"%s\": \"%s\" must be a mapping", list, name, inner);
		*out = in;
		return 0;
	}
	return kerr(k, seq, "%s \"%s\" not found", inner, name);
}

/* a file name from the kubeconfig, relative to its directory */
static int resolve_path(struct kctx *k, const yaml_node_t *at, const char *v, char **out)
{
	*out = NULL;
	if (!*v)
		return kerr(k, at, "empty file name");
	if (v[0] == '/' || !k->dir)
		*out = strdup(v);
	else if (asprintf(out, "%s/%s", k->dir, v) < 0)
		*out = NULL;
	if (!*out)
		return -ENOMEM;
	if (strlen(*out) >= PATH_MAX) {
		free(*out);
		*out = NULL;
		return kerr(k, at, "file name too long");
	}
	return 0;
}

/* key-data (base64 PEM) or key (a file) of map into blob / file */
static int get_pem(struct kctx *k, yaml_node_t *map, const char *what, const char *file_key,
		   const char *data_key, char **file, struct k8s_blob *blob)
{
	int bad = 0, rc;
	const char *d = get_str(k, map, data_key, what, &bad);
	const char *f = bad ? NULL : get_str(k, map, file_key, what, &bad);

	if (bad)
		return bad;
	if (d) {
		rc = k8s_base64_decode(d, K8S_PEM_MAX, blob);
		if (rc == -EINVAL)
			return kerr(k, map_get(k, map, data_key), "%s: \"%s\" is not valid base64", what, data_key);
		if (rc == -EFBIG)
			return kerr(k, map_get(k, map, data_key), "%s: \"%s\" is larger than %u bytes", what,
				    data_key, K8S_PEM_MAX);
		if (rc)
			return rc;
		if (!blob->len)
			return kerr(k, map_get(k, map, data_key), "%s: \"%s\" is empty", what, data_key);
		return 0;
	}
	if (f)
		return resolve_path(k, map_get(k, map, file_key), f, file);
	return 0;
}

static int parse_cluster(struct kctx *k, struct k8s_config **cp, yaml_node_t *cl, const char *name)
{
	char what[300], msg[400];
	const char *server;
	int bad = 0, rc;

	snprintf(what, sizeof(what), "cluster \"%s\"", name);
	server = get_str(k, cl, "server", what, &bad);
	if (bad)
		return bad;
	if (!server)
		return kerr(k, cl, "%s has no \"server\"", what);
	if (get_bool_true(k, cl, "insecure-skip-tls-verify"))
		return kerr(k, map_get(k, cl, "insecure-skip-tls-verify"),
			    "%s: insecure-skip-tls-verify is not supported; give certificate-authority(-data)", what);
	*cp = k8s_config_new(server, msg, sizeof(msg));
	if (!*cp)
		return errno == ENOMEM ? -ENOMEM : kerr(k, map_get(k, cl, "server"), "%s: %s", what, msg);
	rc = get_pem(k, cl, what, "certificate-authority", "certificate-authority-data",
		     &(*cp)->ca_file, &(*cp)->ca_data);
	return rc;
}

static int parse_user(struct kctx *k, struct k8s_config *c, yaml_node_t *u, const char *name)
{
	char what[300];
	const char *tok, *tokfile;
	int bad = 0, rc;

	snprintf(what, sizeof(what), "user \"%s\"", name);
	if (!is_null(map_get(k, u, "exec")))
		return kerr(k, map_get(k, u, "exec"), "%s: exec credential plugins are not supported", what);
	if (!is_null(map_get(k, u, "auth-provider")))
		return kerr(k, map_get(k, u, "auth-provider"), "%s: auth-provider plugins are not supported",
			    what);
	if (!is_null(map_get(k, u, "username")) || !is_null(map_get(k, u, "password")))
		return kerr(k, u, "%s: basic auth (username/password) is not supported", what);
	tok = get_str(k, u, "token", what, &bad);
	tokfile = bad ? NULL : get_str(k, u, "tokenFile", what, &bad);
	if (bad)
		return bad;
	if (tok) {
		if (!token_ok(tok))
			return kerr(k, map_get(k, u, "token"), "%s: \"token\" must be visible ASCII without spaces",
				    what);
		if (!(c->token = strdup(tok)))
			return -ENOMEM;
	}
	if (tokfile) {
		rc = resolve_path(k, map_get(k, u, "tokenFile"), tokfile, &c->token_file);
		if (rc)
			return rc;
	}
	rc = get_pem(k, u, what, "client-certificate", "client-certificate-data", &c->cert_file,
		     &c->cert_data);
	if (rc)
		return rc;
	rc = get_pem(k, u, what, "client-key", "client-key-data", &c->key_file, &c->key_data);
	if (rc)
		return rc;
	if ((c->cert_file || c->cert_data.len) != (c->key_file || c->key_data.len))
		return kerr(k, u, "%s: client-certificate and client-key go together (one is missing)", what);
	if (!c->token && !c->token_file && !c->cert_file && !c->cert_data.len)
		return kerr(k, u, "%s has no credentials: give token, tokenFile or client-certificate + client-key",
			    what);
	return 0;
}

struct k8s_config *k8s_config_from_kubeconfig(const char *path, const char *context, char *err,
					      size_t errsz)
{
	struct kctx k = { .path = path, .err = err, .errsz = errsz };
	yaml_parser_t parser;
	yaml_document_t doc;
	struct k8s_config *c = NULL;
	yaml_node_t *root, *ctx, *cl, *us;
	const char *ctxname, *clname, *uname, *ns;
	char *buf = NULL;
	size_t len;
	int rc, bad = 0;
	bool parser_ok = false, doc_ok = false;

	if (!path || !*path) {
		seterr(err, errsz, "no kubeconfig path");
		return errno_null(EINVAL);
	}
	rc = read_bounded(path, K8S_KUBECONFIG_MAX, &buf, &len);
	if (rc) {
		seterr(err, errsz, "%s: %s", path,
		       rc == -EFBIG ? "larger than the 4 MiB bound" : strerror(-rc));
		errno = -rc;
		return NULL;
	}
	{
		const char *slash = strrchr(path, '/');

		k.dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : NULL;
		if (slash && !k.dir) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (!yaml_parser_initialize(&parser)) {
		rc = -ENOMEM;
		goto out;
	}
	parser_ok = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		seterr(err, errsz, "%s:%zu:%zu: YAML: %s", path, parser.problem_mark.line + 1,
		       parser.problem_mark.column + 1, parser.problem ? parser.problem : "parse error");
		rc = -EINVAL;
		goto out;
	}
	doc_ok = true;
	k.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rc = kerr(&k, root, "not a kubeconfig (the top level must be a mapping)");
		goto out;
	}
	ctxname = context;
	if (!ctxname || !*ctxname) {
		ctxname = get_str(&k, root, "current-context", "kubeconfig", &bad);
		if (bad) {
			rc = bad;
			goto out;
		}
		if (!ctxname || !*ctxname) {
			rc = kerr(&k, NULL, "no context given and no current-context");
			goto out;
		}
	}
	rc = find_named(&k, root, "contexts", "context", ctxname, &ctx);
	if (rc)
		goto out;
	clname = get_str(&k, ctx, "cluster", "context", &bad);
	uname = bad ? NULL : get_str(&k, ctx, "user", "context", &bad);
	ns = bad ? NULL : get_str(&k, ctx, "namespace", "context", &bad);
	if (bad) {
		rc = bad;
		goto out;
	}
	if (!clname) {
		rc = kerr(&k, ctx, "context \"%s\" has no \"cluster\"", ctxname);
		goto out;
	}
	if (!uname) {
		rc = kerr(&k, ctx, "context \"%s\" has no \"user\"", ctxname);
		goto out;
	}
	rc = find_named(&k, root, "clusters", "cluster", clname, &cl);
	if (rc)
		goto out;
	rc = find_named(&k, root, "users", "user", uname, &us);
	if (rc)
		goto out;
	rc = parse_cluster(&k, &c, cl, clname);
	if (rc)
		goto out;
	rc = parse_user(&k, c, us, uname);
	if (rc)
		goto out;
	if ((ns && !(c->namespace = strdup(ns))) || !(c->context = strdup(ctxname))) {
		rc = -ENOMEM;
		goto out;
	}
out:
	if (rc == -ENOMEM)
		seterr(err, errsz, "out of memory");
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	free(k.dir);
	if (rc) {
		k8s_config_free(c);
		errno = -rc;
		return NULL;
	}
	return c;
}
