/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy: the YAML schema (docs/policy.md) parsed into rules.
 *
 * The parser (policy.c) is library-like: it never logs and never exits; it
 * returns a list of errors, each with file:line:col, and loses nothing it
 * was given (a failed load leaves the caller's running policy untouched).
 */
#ifndef NODEGUARD_POLICY_H
#define NODEGUARD_POLICY_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

enum ng_severity { SEV_INFO = 0, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL, SEV_COUNT };

/* match.events: what kind of observation a rule looks at */
#define RE_EXEC        (1u << 0) /* any exec */
#define RE_SETUID_EXEC (1u << 1) /* exec that changed ids or raised capabilities */
#define RE_CRED_CHANGE (1u << 2) /* set*id / setgroups / capset syscall */
#define RE_CONNECT     (1u << 3) /* connect(2) and unconnected UDP sends */
#define RE_ANOMALY     (1u << 4) /* credential/namespace change no syscall explains */
#define RE_K8S_EVENT   (1u << 5) /* a cluster Event from the API server */

/* rule.actions */
#define ACT_LOG            (1u << 0)
#define ACT_KILL           (1u << 1)
#define ACT_DENY           (1u << 2)
#define ACT_ISOLATE        (1u << 3)
#define ACT_FREEZE         (1u << 4)
#define ACT_KILL_CONTAINER (1u << 5)
#define ACT_LABEL          (1u << 6)
#define ACT_NETWORK_POLICY (1u << 7)
#define ACT_REVOKE_RBAC    (1u << 8)
#define ACT_DELETE_POD     (1u << 9)
#define ACT_EVENT          (1u << 10)
#define ACT_COUNT 11

/* match.locations: where the executable lives */
#define LOC_TMP      (1u << 0) /* /tmp, /var/tmp */
#define LOC_DEV_SHM  (1u << 1) /* /dev/shm, /run/shm */
#define LOC_MEMFD    (1u << 2) /* memfd_create() file */
#define LOC_UNLINKED (1u << 3) /* deleted or anonymous file */

enum ng_scope { SCOPE_CONTAINER = 0, SCOPE_HOST, SCOPE_ANY };
enum ng_tri { TRI_ANY = 0, TRI_TRUE, TRI_FALSE };
enum ng_uidsel { UID_ANY = 0, UID_ROOT, UID_NONROOT, UID_VALUE };

struct uid_match {
	enum ng_uidsel sel;
	uint32_t value; /* UID_VALUE */
};

struct strlist {
	char **v;
	size_t n;
};

struct port_range {
	uint16_t lo, hi;
};

struct match {
	uint32_t events;            /* RE_*; 0 in an exception = any of the rule's */
	enum ng_scope scope;        /* default: container (rules), any (exceptions) */
	bool scope_set;

	/* process */
	struct strlist binary;         /* fnmatch globs on the executable path ('*' crosses '/') */
	struct strlist parent_binary;  /* globs on the parent's executable */
	struct strlist ancestor_binary;/* globs on any ancestor's executable (up to ancestry depth) */
	struct strlist comm;           /* globs on comm */
	struct strlist cmdline;        /* globs on argv joined by single spaces */
	struct uid_match uid;          /* the actor's real uid at the event */
	enum ng_tri tty;
	enum ng_tri stdio_socket;      /* fd 0, 1 or 2 is a socket at exec */
	enum ng_tri parent_connected;  /* an ancestor made an outbound connect */
	uint32_t locations;            /* LOC_*: any of */

	/* credentials */
	uint32_t ops;                  /* 1 << enum ng_cred_op: any of; 0 = any */
	struct uid_match uid_from, uid_to, euid_from, euid_to, fsuid_to;
	enum ng_tri gains_root;        /* some of uid/euid/suid/fsuid went from non-zero to 0 */
	uint64_t caps_gained;          /* any of these gained (exec, capset, anomaly) */
	uint64_t caps_effective;       /* any of these effective after the event */
	enum ng_tri success;           /* syscall result; default true for cred-change */
	uint32_t anomaly_reasons;      /* NG_AN_*: any of; 0 = any */

	/* network */
	struct cidr *cidrs;            /* destination in any of these */
	size_t ncidrs;
	struct port_range *ports;      /* destination port in any of these */
	size_t nports;
	uint8_t protocol;              /* 0 any, 6 tcp, 17 udp */

	/* Kubernetes (k8s-event rules; namespaces also for any rule once known) */
	struct strlist k8s_reason;     /* globs on Event.reason */
	struct strlist k8s_type;       /* Normal / Warning */
	struct strlist k8s_kind;       /* involvedObject.kind */
	struct strlist k8s_message;    /* case-insensitive substrings of Event.message */
	struct strlist k8s_not_message;/* ... none of these substrings */
	regex_t *message_re;           /* k8s_message_regex, REG_EXTENDED|REG_ICASE */
	struct strlist namespaces;     /* pod namespace globs */
	struct strlist images;         /* container image globs */

	int line, col;
};

struct rule {
	uint32_t id;               /* index + 1, stable for this policy */
	char *name;
	char *description;
	bool enabled;
	enum ng_severity severity;
	char *category;
	struct strlist mitre;      /* technique ids: T1068, T1611, ... */
	uint32_t actions;          /* ACT_* */
	enum ng_tri dry_run;       /* per-rule override of settings.dry_run */
	bool delete_daemonset_pods;/* delete-pod also deletes DaemonSet-owned pods */
	struct match match;
	struct match *exceptions;
	size_t nexceptions;
	int line, col;
};

enum journal_fsync { FSYNC_ALWAYS = 0, FSYNC_INTERVAL, FSYNC_NEVER };

/* settings.isolate_allow: a destination an isolated container may still
 * reach ("CIDR", "CIDR:PORT", "CIDR:LO-HI", "[V6CIDR]:PORT") */
#define ISOLATE_ALLOW_MAX 256      /* entries */
#define ISOLATE_ALLOW_PORTS_MAX 8  /* port ranges of one CIDR (the kernel's limit) */
struct allow_net {
	struct cidr cidr;
	struct port_range port;    /* lo = 0: every port */
};

struct policy_settings {
	char *node_name;               /* default: $NODE_NAME, else hostname */
	char *journal_dir;             /* default /var/lib/nodeguard */
	enum journal_fsync journal_fsync; /* default always */
	uint32_t journal_fsync_interval_ms; /* for interval, default 1000 */
	uint64_t journal_max_bytes;    /* rotate above this, default 64 MiB */
	uint32_t journal_keep;         /* rotated files kept, default 5 */
	uint32_t incident_window_s;    /* correlation window, default 600 */
	uint32_t ancestry_depth;       /* default 8 */
	uint32_t argv_max;             /* default 1024 */
	uint32_t proctab_max;          /* default 65536 */
	bool trace_host;               /* default false */
	bool dry_run;                  /* default false */
	struct strlist protected_namespaces; /* default kube-system, openshift-* */
	uint32_t actions_per_minute;   /* global rate limit, default 30 */
	uint32_t rule_actions_per_minute; /* per rule, default 10 */
	struct allow_net *isolate_allow; /* reachable while isolated, default none */
	size_t nisolate_allow;
	/* Kubernetes actions */
	bool quarantine_allow_dns;     /* quarantine NetworkPolicy allows cluster DNS, default false */
	struct strlist quarantine_allow_namespaces; /* ... to/from these namespaces */
	struct strlist quarantine_allow_cidrs;      /* ... to/from these CIDRs (validated) */
	int32_t delete_grace_s;        /* delete-pod grace period; -1 (default): the pod's own */
	uint32_t api_queue_max;        /* API actions waiting for the API server, default 1024 */
	uint32_t api_retry_max_s;      /* give a queued API action up after this, default 86400 */
};

struct policy {
	struct rule *rules;
	size_t nrules;
	struct policy_settings settings;
	char *source;                  /* file name or "<embedded>" */
};

struct policy_error {
	char file[256];
	int line, col;                 /* 1-based; 0 when unknown */
	char msg[256];
};

/* Errors past POLICY_MAX_ERRORS are dropped (truncated is set) and parsing
 * stops there. */
#define POLICY_MAX_ERRORS 100
/* Largest policy text accepted, by policy_parse and policy_load_file. */
#define POLICY_MAX_BYTES (4u << 20)

struct policy_errors {
	struct policy_error *v;
	size_t n;
	bool truncated;                /* more than POLICY_MAX_ERRORS were found */
};

/* Parse YAML text. 0 with *out set, or -EINVAL with errs filled (all errors
 * found, up to a bound), or -ENOMEM, or -EFBIG above POLICY_MAX_BYTES. `name`
 * is used in error locations. *out is written only on success. errs may be
 * NULL; otherwise it must be zeroed or hold a previous result, which is freed
 * and replaced. */
int policy_parse(const char *name, const char *text, size_t len, struct policy **out,
		 struct policy_errors *errs);
/* Read and parse a file (bounded to 4 MiB); -errno on I/O errors (also in errs). */
int policy_load_file(const char *path, struct policy **out, struct policy_errors *errs);
/* The embedded default policy (policy/default.yaml compiled in). */
int policy_load_default(struct policy **out, struct policy_errors *errs);
extern const char ng_default_policy_yaml[];
extern const size_t ng_default_policy_yaml_len;

void policy_free(struct policy *p);
void policy_errors_free(struct policy_errors *e);
/* "FILE:LINE:COL: message" */
void policy_error_format(const struct policy_error *e, char *buf, size_t n);

const char *severity_name(enum ng_severity s); /* "unknown" if out of range */
int severity_from_name(const char *s); /* -1 if unknown */
const char *action_name(uint32_t act_bit); /* "unknown" unless one ACT_* bit */
int action_from_name(const char *s);   /* ACT_* bit, or 0 if unknown */
/* "log,kill" */
const char *actions_format(uint32_t actions, char *buf, size_t n);
bool category_known(const char *s);

#endif
