/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enforcer: loads bpf/enforce.bpf.c, pins its maps and links under
 * /sys/fs/bpf/nodeguard, adopts what a previous agent pinned, and changes
 * containment state (isolation, deny and allow tables) on request.
 *
 * Pinned state outlives the agent: a crash or restart does not release a
 * contained container. enforcer_uninstall() removes every pinned object.
 */
#ifndef NODEGUARD_ENFORCE_AGENT_H
#define NODEGUARD_ENFORCE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodeguard/enforce.h"
#include "policy.h"

#define NG_PIN_DIR "/sys/fs/bpf/nodeguard"

struct enforcer;

struct enforcer_adopted {
	uint32_t isolated;     /* isolated cgroups found pinned */
	uint32_t deny4, deny6; /* deny entries found pinned */
	uint32_t root_links;   /* root cgroup links found pinned (and updated) */
	uint32_t relinked;     /* isolation links re-created (missing pins) */
};

/* mount bpffs if needed, load, adopt or create pins; NULL + errno, reason in err */
struct enforcer *enforcer_open(const char *pin_dir, const char *cgroup2_mount,
			       struct enforcer_adopted *adopted, char *err, size_t errlen);
/* close our handles; pinned state stays */
void enforcer_close(struct enforcer *e);
/* the host's pid/mnt namespaces, so "every container" deny entries
 * (NG_CG_ANY_CONTAINER) know what a container is; unset, they never apply */
int enforcer_set_host(struct enforcer *e, uint32_t pidns, uint32_t mntns);
/* a cgroup (and its descendants) "every container" entries never apply to */
int enforcer_exempt_add(struct enforcer *e, uint64_t cgid);
/* remove it again (a pod of a protected namespace gone); ENOENT is not an error */
int enforcer_exempt_del(struct enforcer *e, uint64_t cgid);
/* the enforcement-event ring buffer (struct ng_enforce records) */
int enforcer_events_fd(struct enforcer *e);
const char *enforcer_pin_dir(const struct enforcer *e);

/* isolate a cgroup (absolute path of its directory): connects/sends refused,
 * packets dropped except loopback and the allow-list */
int enforcer_isolate(struct enforcer *e, uint64_t cgid, const char *cgroup_dir, uint32_t rule_id);
int enforcer_release_isolation(struct enforcer *e, uint64_t cgid);
bool enforcer_is_isolated(struct enforcer *e, uint64_t cgid);
/* packets dropped / connects refused for an isolated cgroup */
int enforcer_isolation_stats(struct enforcer *e, uint64_t cgid, struct ng_isolation *out);

/* allow-list for isolated cgroups (cgid 0: every isolated cgroup) */
int enforcer_allow_add(struct enforcer *e, uint64_t cgid, const struct cidr *c,
		       const struct port_range *ports, size_t nports, uint8_t protocol);
int enforcer_allow_del(struct enforcer *e, uint64_t cgid, const struct cidr *c);

/* deny table (cgid 0: node-wide) */
int enforcer_deny_add(struct enforcer *e, uint64_t cgid, const struct cidr *c,
		      const struct port_range *ports, size_t nports, uint8_t protocol, uint32_t rule_id);
int enforcer_deny_del(struct enforcer *e, uint64_t cgid, const struct cidr *c);
/* remove every deny and allow entry of a cgroup; returns how many */
int enforcer_clear_cgroup(struct enforcer *e, uint64_t cgid);

typedef void (*enforcer_isolated_fn)(uint64_t cgid, const struct ng_isolation *iso, void *ctx);
int enforcer_foreach_isolated(struct enforcer *e, enforcer_isolated_fn fn, void *ctx);
typedef void (*enforcer_deny_fn)(uint64_t cgid, const struct cidr *c, const struct ng_deny_val *v,
				 void *ctx);
int enforcer_foreach_deny(struct enforcer *e, enforcer_deny_fn fn, void *ctx);

/* load (verify; nothing pinned or attached) the enforcement object and say
 * what the verifier spent on each of its programs (nodeguard probe); 0 or
 * -errno with the verifier's reason in err */
struct prog_cost;
int enforcer_probe(struct prog_cost *out, size_t max, size_t *n, char *err, size_t errlen);

/* remove every pinned object under pin_dir (links detach); 0 or -errno */
int enforcer_uninstall(const char *pin_dir, size_t *removed);

#endif
