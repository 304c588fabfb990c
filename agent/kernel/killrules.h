/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kill rules in one module: compile, place, load. Never logs or exits.
 */
#ifndef NODEGUARD_KILLRULES_H
#define NODEGUARD_KILLRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodeguard/enforce.h"
#include "policy.h"

/*
 * Kill rules: compile the policy's `kill` rules into the sensors' maps
 * (fds from sensor_map_fd) as per-predicate slot masks
 * (nodeguard/killmatch.h). A rule the kernel cannot evaluate (it uses keys
 * beyond events, scope, uid selectors, gains_root, success, ops,
 * caps_gained, anomaly reasons, and exact binary paths) is not loaded;
 * its name and the reason go to not_compiled (one "rule: reason" per line)
 * and the agent kills for it from user space instead, as it does for the
 * compilable rules past NG_KILL_RULES_MAX.
 */
#define KILL_EXE_MAX (NG_KILL_RULES_MAX * NG_KILL_LIST_MAX * 2)
struct kill_exe {
	uint64_t hash;          /* ng_kill_exe key */
	struct ng_kill_exe v;
};
struct kill_compiled {
	struct ng_kill_masks masks;
	struct ng_kill_rule slot[NG_KILL_RULES_MAX];
	size_t rule_of_slot[NG_KILL_RULES_MAX]; /* index into policy->rules */
	uint32_t nslots;
	uint32_t overflow;      /* compilable kill rules past NG_KILL_RULES_MAX */
	struct kill_exe exe[KILL_EXE_MAX];
	size_t nexe;
	uint32_t wake_kinds;    /* ng_enf_state.wake_kinds */
};
/* pure: the policy's kill rules as the kernel will hold them; 0 or -errno */
int killrules_compile(const struct policy *p, bool global_dry_run, struct kill_compiled *c,
		      char *not_compiled, size_t n);
/* rule p->rules[rule_index] holds a kernel slot in c */
bool killrules_in_kernel(const struct kill_compiled *c, size_t rule_index);

struct kill_maps {
	int rules, masks, exe, state, rate;
};
int killrules_load(const struct policy *p, const struct kill_maps *m, bool global_dry_run,
		   uint32_t *loaded, char *not_compiled, size_t n);
/* true if rule r can be evaluated in the kernel (why: reason if not) */
bool killrules_compilable(const struct rule *r, char *why, size_t n);

#endif
