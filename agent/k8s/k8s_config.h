/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the Kubernetes API is and how to authenticate to it: in-cluster
 * (service-account token, CA and namespace mounted into the pod) or from a
 * kubeconfig file (clusters, users, contexts, current-context).
 *
 * TLS verification is never turned off: a kubeconfig that asks for
 * insecure-skip-tls-verify is refused. Plain http:// is accepted only for a
 * loopback server (kubectl proxy, test stubs).
 *
 * Library code: errors come back as NULL/-errno with a message in the
 * caller's buffer; nothing here logs or exits.
 */
#ifndef NODEGUARD_K8S_CONFIG_H
#define NODEGUARD_K8S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* overrides K8S_SA_DIR (tests, unusual mounts) */
#define K8S_SA_DIR_ENV "NODEGUARD_K8S_SA_DIR"
#define K8S_TOKEN_REREAD_S 60          /* bound tokens rotate: re-read this often */
#define K8S_TOKEN_MAX (64u * 1024)     /* a token file larger than this is refused */
#define K8S_KUBECONFIG_MAX (4u << 20)  /* a kubeconfig larger than this is refused */
#define K8S_PEM_MAX (1u << 20)         /* CA bundle / cert / key, decoded */

/* bytes decoded from a kubeconfig *-data field (PEM text) */
struct k8s_blob {
	unsigned char *data;
	size_t len;
};

/*
 * Every pointer is owned by the config (k8s_config_free). Fields may be set
 * by hand after k8s_config_new() (strdup'ed values).
 * For each of CA, client certificate and key, the *_data blob wins over the
 * file (as in client-go). token_file wins over token; token is the fallback
 * when the file cannot be read.
 */
struct k8s_config {
	char *server;              /* "https://host:port[/prefix]", no trailing '/' */
	char *ca_file;             /* CA bundle file, or NULL */
	struct k8s_blob ca_data;   /* CA bundle PEM, or len 0 */
	char *token;               /* static bearer token, or NULL */
	char *token_file;          /* bearer token file, re-read every token_reread_s */
	char *cert_file, *key_file;      /* client certificate and key (PEM) */
	struct k8s_blob cert_data, key_data;
	char *namespace;           /* default namespace (in-cluster, context), or NULL */
	char *context;             /* kubeconfig context used, or NULL */
	uint32_t token_reread_s;   /* default K8S_TOKEN_REREAD_S; 0: every call */

	/* token cache (private) */
	char *tok_cached;
	uint64_t tok_read_ms;      /* CLOCK_MONOTONIC ms of the last read, 0: never */
	uint64_t tok_reads, tok_read_errors;
};

/*
 * An empty config for server (validated: https://, or http:// to a loopback
 * host; no query or fragment). NULL + errno (EINVAL with a message in err).
 */
struct k8s_config *k8s_config_new(const char *server, char *err, size_t errsz);
void k8s_config_free(struct k8s_config *c);

/*
 * In-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and the
 * service-account directory (K8S_SA_DIR, or $NODEGUARD_K8S_SA_DIR):
 * token (required, read now and re-read later), ca.crt (required),
 * namespace (optional). NULL + errno (ENOENT, EINVAL, EACCES...) with err.
 */
struct k8s_config *k8s_config_in_cluster(char *err, size_t errsz);

/*
 * A kubeconfig file: context (NULL: current-context) -> cluster (server,
 * certificate-authority[-data]) and user (token, tokenFile,
 * client-certificate[-data], client-key[-data]). Relative file names are
 * relative to the kubeconfig's directory. exec / auth-provider plugins,
 * basic auth and insecure-skip-tls-verify are refused with a message.
 * NULL + errno (ENOENT, EINVAL, EFBIG, ENOTSUP...) with err ("FILE:LINE: ...").
 */
struct k8s_config *k8s_config_from_kubeconfig(const char *path, const char *context, char *err,
					      size_t errsz);

/*
 * The bearer token to send now, or NULL when the config has none (client
 * certificate only). A token file is re-read when the cached copy is older
 * than token_reread_s, or when force (after a 401). A failed re-read keeps
 * the last good token. 0, or -errno when there is a token file and no token
 * could ever be read from it (and no static token).
 * The pointer stays valid until the next call.
 */
int k8s_config_token(struct k8s_config *c, bool force, const char **out);

/* true if the server URL is plain http:// (loopback only) */
bool k8s_config_plain_http(const struct k8s_config *c);

/* strict base64 (RFC 4648, whitespace ignored); *out malloc'ed, NUL-terminated.
 * 0, -EINVAL (bad input), -EFBIG (decoded size over max), -ENOMEM */
int k8s_base64_decode(const char *in, size_t max, struct k8s_blob *out);

#endif
