// SPDX-License-Identifier: Apache-2.0
/*
 * The policy: loading it (errors logged with FILE:LINE:COL), compiling its
 * kill rules into the sensors' maps (or saying which are killed from user
 * space), and reloading it on SIGHUP.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent_int.h"
#include "apiq.h"
#include "killrules.h"
#include "incident.h"
#include "log.h"
#include "respond.h"
#include "sensor.h"

static void log_policy_errors(const struct policy_errors *errs)
{
	char line[600];
	size_t i;

	for (i = 0; i < errs->n; i++) {
		policy_error_format(&errs->v[i], line, sizeof(line));
		log_err("%s", line);
	}
}

struct policy *load_policy(const char *path)
{
	struct policy_errors errs = { 0 };
	struct policy *p = NULL;
	int err;

	err = path ? policy_load_file(path, &p, &errs) : policy_load_default(&p, &errs);
	if (err) {
		log_policy_errors(&errs);
		if (!errs.n)
			log_err("Failed to load policy %s: %s", path ? path : "<embedded>", strerror(-err));
		policy_errors_free(&errs);
		return NULL;
	}
	policy_errors_free(&errs);
	return p;
}

/*
 * Compile the policy's kill rules into the sensors' (pinned) maps. Rules
 * the kernel cannot evaluate are killed from user space by the responder;
 * say which, once per load.
 */
void load_kill_rules(struct agent *a, uint32_t *in_kernel, uint32_t *in_user)
{
	struct kill_maps km;
	char nc[4096], *line, *save = NULL;
	uint32_t loaded = 0;
	size_t i, nkill = 0, ncomp = 0;
	char why[160];
	int err;

	*in_kernel = *in_user = 0;
	if (!a->sensor)
		return;
	for (i = 0; i < a->pol->nrules; i++) {
		const struct rule *r = &a->pol->rules[i];

		if (!r->enabled || !(r->actions & ACT_KILL))
			continue;
		nkill++;
		ncomp += killrules_compilable(r, why, sizeof(why));
	}
	km.rules = sensor_map_fd(a->sensor, "ng_kill_rules");
	km.masks = sensor_map_fd(a->sensor, "ng_kill_masks");
	km.exe = sensor_map_fd(a->sensor, "ng_kill_exe");
	km.state = sensor_map_fd(a->sensor, "ng_kill_state");
	km.rate = sensor_map_fd(a->sensor, "ng_kill_rate");
	if (km.rules < 0 || km.masks < 0 || km.exe < 0 || km.state < 0 || km.rate < 0) {
		err = -ENOENT;
	} else if (!sensor_kill_in_kernel(a->sensor, NULL)) {
		/* the sensors were loaded without the kill code (said at start):
		 * clear what a previous agent pinned, kill from user space */
		struct ng_enf_state off = { 0 };
		uint32_t zero = 0;

		bpf_map_update_elem(km.state, &zero, &off, BPF_ANY);
		if (a->resp)
			responder_set_kernel_kill(a->resp, false);
		*in_user = (uint32_t)nkill;
		return;
	}
	else
		err = killrules_load(a->pol, &km, a->pol->settings.dry_run, &loaded, nc, sizeof(nc));
	if (err) {
		log_err("Failed to load the kill rules into the kernel: %s; %zu kill rule%s will be "
			"killed from user space", strerror(-err), nkill, nkill == 1 ? "" : "s");
		if (a->resp)
			responder_set_kernel_kill(a->resp, false);
		*in_user = (uint32_t)nkill;
		return;
	}
	*in_kernel = loaded;
	*in_user = (uint32_t)(nkill - loaded);
	if (a->resp)
		responder_set_kernel_kill(a->resp, true);
	if (nkill)
		log_info("kill rules: %u of %zu compiled into the kernel%s", loaded, nkill,
			 a->pol->settings.dry_run ? " (dry-run)" : "");
	for (line = strtok_r(nc, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_warn("kill rule %s; it will be killed from user space (pidfd), after the event "
			 "reaches the agent", line);
	/* killrules_load fills NG_KILL_RULES_MAX slots and does not list the
	 * compilable rules past them; the responder kills for those too */
	if (ncomp > loaded)
		log_warn("%zu kill rules compile but the kernel holds %d: the last %zu are killed "
			 "from user space", ncomp, NG_KILL_RULES_MAX, ncomp - loaded);
}

void reload_policy(struct agent *a)
{
	struct policy *np;
	uint32_t kk, ku;

	if (!a->opts.policy_path) {
		log_info("SIGHUP: running the embedded default policy; nothing to reload");
		return;
	}
	np = load_policy(a->opts.policy_path);
	if (!np) {
		log_err("SIGHUP: new policy %s rejected; the running policy stays", a->opts.policy_path);
		return;
	}
	if (np->settings.argv_max != a->pol->settings.argv_max ||
	    np->settings.trace_host != a->pol->settings.trace_host ||
	    strcmp(np->settings.journal_dir, a->pol->settings.journal_dir))
		log_warn("SIGHUP: argv_max, trace_host and journal_dir take effect at the next start");
	if (a->opts.dry_run)
		np->settings.dry_run = true;
	incident_mgr_set_window(a->im, np->settings.incident_window_s);
	apiq_set_limits(a->apiq, np->settings.api_queue_max, np->settings.api_retry_max_s);
	/* the responder holds the policy: hand it the new one before the old goes */
	if (a->resp)
		responder_set_policy(a->resp, np);
	policy_free(a->pol);
	a->pol = np;
	detect_set_policy(a->det, np);
	load_kill_rules(a, &kk, &ku);
	protect_known_namespaces(a);
	log_info("SIGHUP: policy %s reloaded: %zu rules", a->opts.policy_path, np->nrules);
}
