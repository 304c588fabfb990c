// SPDX-License-Identifier: Apache-2.0
/*
 * nodeguardctl release with the agent down (see the comment below the
 * includes); the rest of nodeguardctl is in nodeguardctl.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "container.h"
#include "ctl.h"
#include "enforcer.h"
#include "journal.h"
#include "log.h"
#include "nodeguardctl.h"
#include "probe.h"
#include "respond.h"

/* ---------------------------------------------------------------- offline release */

/*
 * The agent is down: release runs the agent's own release code (the
 * responder, agent/respond/) on the journal it replays here, so what is
 * undone, and the "release" action and "released" status records appended,
 * are exactly what the agent would write. The undo data is the intent
 * records' detail ({"cgroup_id":"123","cgroup_path":"/kubepods.slice/...",
 * "entries":[...]}); isolation and deny entries are lifted on the pinned
 * state, a freeze by writing 0 to <cgroup2><cgroup_path>/cgroup.freeze.
 *
 * With nothing pinned (after 'nodeguard uninstall'), isolation and deny
 * entries are gone already: those are journaled as released here (the
 * enforcer is not loaded, which would pin it all again), and the responder
 * does the rest.
 */

#define OFFLINE_MAX_TARGETS 256

struct offline {
	struct journal *jr;
	struct incmgr *im;
	struct enforcer *enf;
	struct responder *resp;
	char cgroup2[PATH_MAX];
	char who[CTL_WHO_MAX + 32];
	const char *pin_dir;
	uint64_t bad_lines, skipped;
};

static int offline_write(const char *line, size_t len, void *ctx)
{
	struct offline *o = ctx;

	return journal_append(o->jr, line, len);
}

static int offline_apply(const cJSON *rec, const char *file, uint64_t line, void *ctx)
{
	struct offline *o = ctx;

	(void)file;
	(void)line;
	if (incident_mgr_apply_record(o->im, rec))
		o->skipped++;
	return 0;
}

static void offline_bad(const char *file, uint64_t line, const char *why, void *ctx)
{
	struct offline *o = ctx;

	(void)file;
	(void)line;
	(void)why;
	o->bad_lines++;
}

/* the i-th action is an ok result of isolate/deny, and that action on that
 * target is in effect (incident_action_in_effect: after its intent, not
 * released since) */
static bool pinned_in_effect(const struct incident *inc, size_t i)
{
	const struct inc_action *a = &inc->actions[i];

	if (!a->action || !a->phase || !a->result || (strcmp(a->action, "isolate") &&
						       strcmp(a->action, "deny")) ||
	    strcmp(a->phase, "result") || strcmp(a->result, "ok"))
		return false;
	return incident_action_in_effect(inc, a->action, a->target, NULL);
}

/* nothing is pinned: journal the isolate/deny actions of inc as released */
static int release_unpinned(struct offline *o, struct incident *inc)
{
	char detail[CTL_WHO_MAX + 160];
	size_t i, n = inc->nactions;
	int err = 0, e;

	snprintf(detail, sizeof(detail),
		 "released by %s: nothing pinned under %s (uninstalled): already lifted", o->who,
		 o->pin_dir);
	for (i = 0; i < n; i++) {
		struct inc_action a = { 0 };
		char action[32], target[256];

		if (!pinned_in_effect(inc, i))
			continue;
		/* incident_mgr_action may move the array: copy first */
		snprintf(action, sizeof(action), "%s", inc->actions[i].action);
		snprintf(target, sizeof(target), "%s", inc->actions[i].target);
		a.ts_ns = clock_wall_ns();
		a.action = action;
		a.phase = "release";
		a.target = target;
		a.result = "ok";
		a.detail = detail;
		e = incident_mgr_action(o->im, inc, &a);
		if (e) {
			fprintf(stderr, "nodeguardctl: Failed to journal the release of %s on %s: %s\n",
				action, inc->id, strerror(-e));
			err = err ? err : e;
			continue;
		}
		fputs("incident ", stdout);
		report_term_puts(stdout, inc->id);
		fputs(": ", stdout);
		report_term_puts(stdout, action);
		fputc(' ', stdout);
		report_term_puts(stdout, target);
		fputs(" released: nothing is pinned (uninstalled)\n", stdout);
	}
	return err;
}

static bool has_pinned_actions(const struct incident *inc)
{
	size_t i;

	for (i = 0; i < inc->nactions; i++)
		if (pinned_in_effect(inc, i))
			return true;
	return false;
}

/* the incidents of the container with this id or unique id prefix;
 * SIZE_MAX when the prefix names two containers */
static size_t container_incidents(struct incmgr *m, const char *prefix, struct incident **out,
				  size_t max, const char **ctr)
{
	size_t n = strlen(prefix), k = 0;
	struct incident *i;

	*ctr = NULL;
	for (i = incident_mgr_first(m); i; i = i->next) {
		if (!i->attr.container_id[0] || strncmp(i->attr.container_id, prefix, n))
			continue;
		if (*ctr && strcmp(*ctr, i->attr.container_id)) {
			fputs("nodeguardctl: --container ", stderr);
			report_term_puts(stderr, prefix);
			fputs(" is ambiguous: the journal has ", stderr);
			report_term_puts(stderr, *ctr);
			fputs(" and ", stderr);
			report_term_puts(stderr, i->attr.container_id);
			fputs("; give more of the id\n", stderr);
			return SIZE_MAX;
		}
		*ctr = i->attr.container_id;
		if (k < max)
			out[k++] = i;
	}
	return k;
}

static int offline_open(struct offline *o, const struct ctl *c)
{
	struct journal_opts jo = { .dir = c->dir, .fsync = FSYNC_ALWAYS };
	struct incident_mgr_opts io = { .window_s = 600 };
	struct responder_opts ro = { 0 };
	struct enforcer_adopted ad;
	char host[256] = "", claim[CTL_CLAIM_MAX + 1], err[512];
	const char *node = getenv("NODE_NAME");
	struct journal_replay_stats rs;
	struct stat st;
	FILE *mi;
	int e;

	if (geteuid() != 0) {
		fputs("nodeguardctl: the agent is not running, and releasing without it needs root "
		      "(it changes pinned BPF state, cgroups and the journal)\n", stderr);
		return EXIT_NOTFOUND;
	}
	if (stat(c->dir, &st) || !S_ISDIR(st.st_mode)) {
		fputs("nodeguardctl: no journal directory ", stderr);
		report_term_puts(stderr, c->dir);
		fputs(" (give --dir)\n", stderr);
		return EXIT_NOTFOUND;
	}
	/* the lock proves the agent is really down; no rotation here (max_bytes 0) */
	o->jr = journal_open(&jo, NULL);
	if (!o->jr) {
		fputs("nodeguardctl: ", stderr);
		if (errno == EBUSY) {
			fputs("the agent holds the journal lock in ", stderr);
			report_term_puts(stderr, c->dir);
			fputs(" but does not answer on ", stderr);
			report_term_puts(stderr, c->socket);
			fputs("; it may be starting or stopping: try again, or check --socket\n", stderr);
		} else {
			fputs("Failed to open the journal in ", stderr);
			report_term_puts(stderr, c->dir);
			fprintf(stderr, ": %s\n", strerror(errno));
		}
		return EXIT_NOTFOUND;
	}
	gethostname(host, sizeof(host) - 1);
	io.node = node && *node ? node : host;
	io.write = offline_write;
	io.write_ctx = o;
	o->im = incident_mgr_new(&io);
	if (!o->im) {
		fprintf(stderr, "nodeguardctl: Failed to allocate: %s\n", strerror(errno));
		return EXIT_NOTFOUND;
	}
	e = journal_replay(c->dir, offline_apply, offline_bad, o, &rs);
	if (e < 0) {
		fputs("nodeguardctl: Failed to read the journal in ", stderr);
		report_term_puts(stderr, c->dir);
		fprintf(stderr, ": %s\n", strerror(-e));
		return EXIT_NOTFOUND;
	}
	if (o->bad_lines + o->skipped)
		fprintf(stderr, "nodeguardctl: skipped %" PRIu64 " malformed journal line%s\n",
			o->bad_lines + o->skipped, o->bad_lines + o->skipped == 1 ? "" : "s");

	nodeguardctl_claim_name(claim, sizeof(claim));
	ctl_who_format(o->who, sizeof(o->who), geteuid(), getpid(), "nodeguardctl", claim);
	strncat(o->who, ", agent not running", sizeof(o->who) - strlen(o->who) - 1);
	mi = fopen("/proc/self/mountinfo", "re");
	if (!mi || probe_cgroup2_mount(mi, o->cgroup2, sizeof(o->cgroup2)))
		snprintf(o->cgroup2, sizeof(o->cgroup2), "/sys/fs/cgroup");
	if (mi)
		fclose(mi);
	/* the pinned state, only if there is any: loading the enforcer pins
	 * and attaches everything again */
	o->pin_dir = c->pin_dir;
	if (stat(o->pin_dir, &st) == 0) {
		o->enf = enforcer_open(o->pin_dir, o->cgroup2, &ad, err, sizeof(err));
		if (!o->enf) {
			fputs("nodeguardctl: ", stderr);
			report_term_puts(stderr, err);
			fputs("\nnodeguardctl: isolation and deny entries cannot be lifted; freezes can\n",
			      stderr);
		}
	}
	ro.enforcer = o->enf;
	ro.incidents = o->im;
	ro.cgroup2 = o->cgroup2;
	ro.self_pid = (uint32_t)getpid();
	o->resp = responder_new(&ro);
	if (!o->resp) {
		fprintf(stderr, "nodeguardctl: Failed to set up the responder: %s\n", strerror(errno));
		return EXIT_NOTFOUND;
	}
	return 0;
}

int release_offline(const struct ctl *c)
{
	struct incident *targets[OFFLINE_MAX_TARGETS];
	struct offline o = { 0 };
	const char *ctr = NULL;
	char msg[512], id[48];
	struct stat st;
	bool pins;
	size_t n = 0, i;
	int ret, err = 0, e;

	/* the responder's info lines are the agent's log, not our output */
	ng_log_level = LOG_LVL_WARN;
	ng_log_setup_libbpf();
	ret = offline_open(&o, c);
	if (ret)
		goto out;
	fputs("the agent is not running: releasing through the journal in ", stdout);
	report_term_puts(stdout, c->dir);
	fputc('\n', stdout);

	if (c->id) {
		targets[0] = nodeguardctl_find(o.im, c->id);
		if (!targets[0]) {
			ret = EXIT_NOTFOUND;
			goto out;
		}
		n = 1;
	} else {
		n = container_incidents(o.im, c->container, targets, OFFLINE_MAX_TARGETS, &ctr);
		if (n == SIZE_MAX) {
			ret = EXIT_NOTFOUND;
			goto out;
		}
		if (!n) {
			fputs("nodeguardctl: no incident of container ", stderr);
			report_term_puts(stderr, c->container);
			fputs(" in the journal\n", stderr);
			ret = EXIT_NOTFOUND;
			goto out;
		}
	}
	pins = stat(c->pin_dir, &st) == 0;
	for (i = 0; i < n && !pins; i++)
		if (has_pinned_actions(targets[i])) {
			e = release_unpinned(&o, targets[i]);
			err = err ? err : e;
		}
	if (c->id) {
		snprintf(id, sizeof(id), "%s", targets[0]->id);
		e = responder_release_incident(o.resp, id, o.who, msg, sizeof(msg));
	} else {
		e = responder_release_container(o.resp, ctr, o.who, msg, sizeof(msg));
	}
	err = err ? err : e;
	report_term_puts(e ? stderr : stdout, msg);
	fputc('\n', e ? stderr : stdout);
	e = journal_sync(o.jr);
	if (e) {
		fprintf(stderr, "nodeguardctl: Failed to sync the journal: %s\n", strerror(-e));
		err = err ? err : e;
	}
	ret = err ? EXIT_NOTFOUND : nodeguardctl_finish(stdout, "the result");
out:
	responder_free(o.resp);
	enforcer_close(o.enf);
	incident_mgr_free(o.im);
	journal_close(o.jr);
	return ret;
}

