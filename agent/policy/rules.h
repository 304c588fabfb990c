/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rule matching: one observation (a kernel event seen through the process
 * table and container attribution, or a cluster Event) against the policy.
 *
 * The observation is flattened into struct obs first, so matching is pure
 * and testable without a kernel, a process table or an API server.
 */
#ifndef NODEGUARD_RULES_H
#define NODEGUARD_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

#define OBS_MAX_ANCESTORS 64

struct obs {
	uint32_t events;            /* RE_* this observation counts as */
	bool is_container;

	/* process (exec and everything a process does) */
	const char *exe;
	const char *parent_exe;
	const char *ancestors[OBS_MAX_ANCESTORS]; /* parents' executables, nearest first */
	uint32_t nancestors;
	const char *comm;
	const char *cmdline;
	uint32_t uid;               /* actor's real uid */
	bool tty, stdio_socket, parent_connected;
	uint32_t locations;         /* LOC_* of the executable */

	/* credentials (exec, cred-change, anomaly) */
	bool has_creds;             /* old/cur below are meaningful */
	bool old_known;
	struct ng_creds old, cur;
	uint32_t op;                /* enum ng_cred_op, 0 if not a syscall */
	bool success;
	uint32_t anomaly_reasons;

	/* network */
	uint16_t family;            /* AF_INET / AF_INET6, 0 if none */
	uint8_t daddr[16];
	uint16_t dport;
	uint8_t protocol;

	/* Kubernetes */
	const char *k8s_reason, *k8s_type, *k8s_kind, *k8s_message;
	const char *pod_namespace;  /* NULL while unknown */
	const char *image;
};

/* capabilities the observation gained: new eff/prm bits not held before */
uint64_t obs_caps_gained(const struct obs *o);
/* does the match (all its given keys) hold for o? */
bool match_eval(const struct match *m, const struct obs *o, uint32_t rule_events);
/* rule r matches o and no exception suppresses it */
bool rule_matches(const struct rule *r, const struct obs *o);

/* call fn for every enabled rule that matches; returns matches */
typedef void (*rules_hit_fn)(const struct rule *r, const struct obs *o, void *ctx);
int rules_eval(const struct policy *p, const struct obs *o, rules_hit_fn fn, void *ctx);

/* LOC_* of an executable path (and exec flags) */
uint32_t rules_exe_location(const char *path, uint32_t exec_flags);
/* is the address inside the CIDR? */
bool cidr_contains(const struct cidr *c, uint16_t family, const uint8_t addr[16]);

#endif
