// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's wiring: start-up (journal and restored incidents, the pod
 * cache, containment, the sensors, the responder and the control socket, in
 * that order), the journal's and the Kubernetes watches' glue, shutdown. The
 * loop is in loop.c; see agent_int.h for the other files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_int.h"
#include "attrib.h"
#include "apiq.h"
#include "container.h"
#include "enforcer.h"
#include "evfmt.h"
#include "incident.h"
#include "journal.h"
#include "k8s_client.h"
#include "k8s_config.h"
#include "log.h"
#include "podcache.h"
#include "proctab.h"
#include "respond.h"
#include "sensor.h"

/* ---------------------------------------------------------------- journal glue */

static int journal_write(const char *line, size_t len, void *ctx)
{
	struct agent *a = ctx;
	int err = journal_append(a->jr, line, len);

	if (err) {
		a->journal_errors++;
		log_err("Failed to write the journal %s: %s", journal_path(a->jr), strerror(-err));
	}
	return err;
}

static void on_rotate(struct journal *j, void *ctx)
{
	struct agent *a = ctx;

	(void)j;
	if (incident_mgr_snapshot_open(a->im))
		log_err("Failed to write incident snapshots after journal rotation");
}

static void remember_kev(struct agent *a, const cJSON *ev)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(ev, "count");
	const char *f[3] = { "uid", "namespace", "name" };
	struct seen_kev *s;
	size_t i;

	if (!cJSON_IsObject(ev))
		return;
	if (a->nseen == a->capseen) {
		size_t cap = a->capseen ? 2 * a->capseen : 64;
		struct seen_kev *n;

		if (cap > KEV_DEDUP_DEFAULT || !(n = realloc(a->seen, cap * sizeof(*n))))
			return;
		a->seen = n;
		a->capseen = cap;
	}
	s = &a->seen[a->nseen];
	memset(s, 0, sizeof(*s));
	for (i = 0; i < 3; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, f[i]);
		char *dst = i == 0 ? s->uid : i == 1 ? s->ns : s->name;
		size_t n = i == 0 ? sizeof(s->uid) : i == 1 ? sizeof(s->ns) : sizeof(s->name);

		if (cJSON_IsString(v))
			snprintf(dst, n, "%s", v->valuestring);
	}
	s->count = cJSON_IsNumber(c) && c->valuedouble >= 1 ? (uint32_t)c->valuedouble : 1;
	if (s->uid[0] || (s->ns[0] && s->name[0]))
		a->nseen++;
}

static int restore_record(const cJSON *rec, const char *file, uint64_t line, void *ctx)
{
	struct agent *a = ctx;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "detection");
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(d, "source");

	/* the cluster Events a previous agent handled: not again (kevents_seen) */
	if (cJSON_IsString(src) && !strcmp(src->valuestring, "k8s"))
		remember_kev(a, cJSON_GetObjectItemCaseSensitive(d, "event"));
	if (incident_mgr_apply_record(a->im, rec))
		log_warn("journal %s:%" PRIu64 ": record not applicable, skipped", file, line);
	return 0;
}

static void restore_bad(const char *file, uint64_t line, const char *why, void *ctx)
{
	(void)ctx;
	log_warn("journal %s:%" PRIu64 ": %s: skipped", file, line, why);
}

/* ---------------------------------------------------------------- pods */

static void pod_watch_error(void *ctx, int err, long status, const char *msg)
{
	struct agent *a = ctx;
	uint64_t now = clock_mono_ms();

	if (a->pod_err_ms && now - a->pod_err_ms < 30000)
		return; /* the watch retries by itself: say so every 30 s at most */
	a->pod_err_ms = now;
	log_warn("pod watch: %s (HTTP %ld): %s", strerror(err < 0 ? -err : err), status,
		 msg ? msg : "");
}

/* --kubeconfig (and --context), else the in-cluster configuration */
static struct k8s_config *kube_config(const struct agent *a, char *err, size_t n)
{
	return a->opts.kubeconfig
		       ? k8s_config_from_kubeconfig(a->opts.kubeconfig, a->opts.kube_context, err, n)
		       : k8s_config_in_cluster(err, n);
}

/*
 * The Kubernetes actions run on their own thread with their own client
 * (a second copy of the same configuration): short timeouts, no retries of
 * its own, since the queue retries with backoff while the API is away.
 */
static void start_api_queue(struct agent *a)
{
	struct k8s_client_opts co = {
		.connect_timeout_ms = 3000, .timeout_ms = 10000, .max_retries = K8S_NO_RETRIES,
	};
	struct apiq_opts qo = {
		.node = a->node, .max = a->pol->settings.api_queue_max,
		.retry_max_s = a->pol->settings.api_retry_max_s,
	};
	struct k8s_config *kcfg;
	char err[512];

	kcfg = kube_config(a, err, sizeof(err));
	if (!kcfg) {
		log_err("Failed to configure the Kubernetes API for actions: %s; pod actions are skipped", err);
		return;
	}
	qo.client = k8s_client_new(kcfg, &co);
	if (!qo.client) {
		log_err("Failed to create the Kubernetes action client: %s", strerror(errno));
		return;
	}
	a->apiq = apiq_new(&qo);
	if (!a->apiq)
		log_err("Failed to start the Kubernetes action queue: %s", strerror(errno));
}

/* in-cluster (or --kubeconfig) API access for pod attribution; without a
 * cluster the agent attributes from cgroup paths alone */
static void start_pod_cache(struct agent *a)
{
	struct podcache_opts po = { .node_name = a->node, .on_error = pod_watch_error, .ctx = a };
	struct k8s_config *kcfg;
	char err[512];

	kcfg = kube_config(a, err, sizeof(err));
	if (!kcfg) {
		if (a->opts.kubeconfig || errno != ENOENT)
			log_err("Failed to configure the Kubernetes API: %s; no pod attribution", err);
		else
			log_info("not in a cluster (%s): attribution from cgroups only", err);
		return;
	}
	a->kc = k8s_client_new(kcfg, NULL); /* owns kcfg, also on failure */
	if (!a->kc) {
		log_err("Failed to create the Kubernetes API client: %s", strerror(errno));
		return;
	}
	a->pods = podcache_new(a->kc, &po);
	if (!a->pods) {
		log_err("Failed to start the pod cache: %s", strerror(errno));
		return;
	}
	log_info("watching the pods of node %s", a->node);
	prot_watch(a);
	start_api_queue(a);
	if (kevents_policy_wants_events(a->pol)) {
		struct kevents_opts ko = {
			.node_name = a->node, .warning_only = kevents_policy_warning_only(a->pol),
			.on_event = agent_on_kevent, .on_error = pod_watch_error, .ctx = a,
		};

		a->kev = kevents_new(a->kc, a->pods, &ko);
		if (!a->kev) {
			log_err("Failed to watch cluster Events: %s", strerror(errno));
			return;
		}
		/* before the first poll: the LIST's Events a previous agent
		 * handled are duplicates */
		for (size_t i = 0; i < a->nseen; i++)
			kevents_seen(a->kev, a->seen[i].uid, a->seen[i].ns, a->seen[i].name,
				     a->seen[i].count);
		log_info("watching cluster Events about node %s and its pods%s (%zu handled before)",
			 a->node, ko.warning_only ? " (Warning only)" : "", a->nseen);
	}
}

/* ---------------------------------------------------------------- events */

/*
 * The sensor's callback: the process table learns the event, attribution
 * builds its context once, then the kernel's own enforcement is journaled on
 * the incident the context names, and detection sees everything else.
 */
int agent_on_event(const struct ng_event *ev, void *ctx)
{
	struct agent *a = ctx;
	const struct attrib_src src = { .pt = a->pt, .ctr = a->ctr, .pods = a->pods,
					.depth = a->pol->settings.ancestry_depth };
	struct attrib_ctx cx;

	a->events++;
	proctab_apply(a->pt, ev);
	/* a container's first exec: compile the exact deny rules for it */
	if (ev->hdr.kind == NG_EV_EXEC && a->resp)
		responder_cgroup_seen(a->resp, ev->hdr.cgroup_id, ev->hdr.flags & NG_HF_CONTAINER);
	if (ev->hdr.kind == NG_EV_FORK || ev->hdr.kind == NG_EV_EXIT)
		return 0;
	attrib_event(&src, ev, &cx);
	/* the kernel enforced (a kill at a sensor hook, or a deny/isolation
	 * refusal from the enforcer's ring buffer): journal it, nothing to match */
	if (ev->hdr.kind == NG_EV_ENFORCE) {
		if (a->resp)
			responder_on_enforce(a->resp, ev, cx.key);
		return 0;
	}
	detect_event(a->det, &cx);
	return 0;
}

void agent_on_kevent(void *ctx, const struct kevent *ev, const struct pod_info *pod)
{
	struct agent *a = ctx;

	detect_kevent(a->det, ev, pod);
}

/* ---------------------------------------------------------------- lifecycle */

static void agent_close(struct agent *a)
{
	ctl_server_close(a->ctl);
	/* journal what the action queue finished, then stop it; what it had
	 * not finished is pushed again from the journal at the next start */
	responder_api_poll(a->resp);
	apiq_free(a->apiq);
	kevents_free(a->kev);   /* it reads the pod cache */
	podcache_free(a->pods); /* before the client its watch uses */
	k8s_client_free(a->kc);
	/* the sensors read the enforcer's ring buffer: free them first; pinned
	 * containment stays in place after the agent (enforcer_close) */
	sensor_free(a->sensor);
	responder_free(a->resp);
	enforcer_close(a->enf);
	journal_close(a->jr);
	incident_mgr_free(a->im);
	free(a->seen);
	protect_free(a);
	container_cache_free(a->ctr);
	proctab_free(a->pt);
	detect_free(a->det);
	policy_free(a->pol);
}

static void pick_node_name(struct agent *a)
{
	const char *env = getenv("NODE_NAME");

	if (a->opts.node_name)
		snprintf(a->node, sizeof(a->node), "%s", a->opts.node_name);
	else if (a->pol->settings.node_name && *a->pol->settings.node_name)
		snprintf(a->node, sizeof(a->node), "%s", a->pol->settings.node_name);
	else if (env && *env)
		snprintf(a->node, sizeof(a->node), "%s", env);
	else if (gethostname(a->node, sizeof(a->node) - 1))
		snprintf(a->node, sizeof(a->node), "unknown");
}

int agent_run(const struct agent_opts *o, volatile sig_atomic_t *exiting,
	      volatile sig_atomic_t *reload)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct journal_recovery rec = { 0 };
	struct journal_replay_stats rs = { 0 };
	struct sensor_opts so = { 0 };
	struct journal_opts jo = { 0 };
	struct incident_mgr_opts io = { 0 };
	uint32_t kill_kernel = 0, kill_user = 0;
	char err[1024];
	int rc = 1, n;

	if (!a) {
		log_err("Failed to allocate the agent: %s", strerror(errno));
		return 1;
	}
	a->opts = *o;
	a->prot_ino = -1;

	a->pol = load_policy(o->policy_path);
	if (!a->pol)
		goto out;
	if (o->dry_run)
		a->pol->settings.dry_run = true;
	if (o->trace_host)
		a->pol->settings.trace_host = true;
	pick_node_name(a);

	/* journal first: what is already there is restored before new events */
	jo.dir = o->journal_dir ? o->journal_dir : a->pol->settings.journal_dir;
	jo.fsync = a->pol->settings.journal_fsync;
	jo.fsync_interval_ms = a->pol->settings.journal_fsync_interval_ms;
	jo.max_bytes = a->pol->settings.journal_max_bytes;
	jo.keep = a->pol->settings.journal_keep;
	a->jr = journal_open(&jo, &rec);
	if (!a->jr) {
		log_err("Failed to open the journal in %s: %s", jo.dir,
			errno == EBUSY ? "another nodeguard holds its lock" : strerror(errno));
		goto out;
	}
	if (rec.torn_tail)
		log_warn("journal: the last record was torn by a crash; %" PRIu64
			 " bytes moved to %s, every complete record kept",
			 rec.torn_bytes, rec.torn_saved_to);
	io.node = a->node;
	io.window_s = a->pol->settings.incident_window_s;
	io.write = journal_write;
	io.write_ctx = a;
	a->im = incident_mgr_new(&io);
	if (!a->im) {
		log_err("Failed to create the incident manager: %s", strerror(errno));
		goto out;
	}
	n = journal_replay(jo.dir, restore_record, restore_bad, a, &rs);
	if (n < 0)
		log_err("Failed to replay the journal in %s: %s", jo.dir, strerror(-n));
	else
		log_info("journal %s: %" PRIu64 " records in %" PRIu64 " files, %" PRIu64
			 " malformed; %zu open incidents restored",
			 journal_path(a->jr), rs.records, rs.files, rs.malformed,
			 incident_mgr_count(a->im, true));
	journal_set_rotate_cb(a->jr, on_rotate, a);
	a->boot_off = evfmt_boot_offset_ns();
	{
		struct detect_opts dopt = { .policy = a->pol, .incidents = a->im, .node = a->node,
					    .boot_off = a->boot_off, .quiet = o->quiet };

		a->det = detect_new(&dopt);
		if (!a->det) {
			log_err("Failed to set up detection: %s", strerror(errno));
			goto out;
		}
	}
	/* after the replay: the Events watch starts from what it had handled */
	start_pod_cache(a);

	probe_features(&a->feat, true);
	a->pt = proctab_new(a->pol->settings.proctab_max);
	a->ctr = a->feat.cgroup2 ? container_cache_new(a->feat.cgroup2_path, 16384) : NULL;
	if (!a->pt || !a->ctr) {
		log_err("Failed to set up the process table / container cache: %s",
			a->feat.cgroup2 ? strerror(errno) : "no cgroup v2 mount");
		goto out;
	}

	/*
	 * Containment, before the sensors: adopt what a previous agent pinned
	 * (isolations, deny entries, root links), so nothing is released by a
	 * restart. Without it the agent still detects; deny and isolate fail
	 * (journaled as failed).
	 */
	{
		struct enforcer_adopted ad;

		a->self_cgroup = self_cgroup_id(a->feat.cgroup2_path);
		a->enf = enforcer_open(a->opts.pin_dir ? a->opts.pin_dir : NG_PIN_DIR,
				       a->feat.cgroup2_path, &ad, err, sizeof(err));
		if (!a->enf)
			log_err("%s; network containment (deny, isolate) is unavailable", err);
		else
			log_info("adopted pinned state: %u isolated cgroups, %u deny entries, %u root "
				 "links%s", ad.isolated, ad.deny4 + ad.deny6, ad.root_links,
				 ad.relinked ? " (isolation links re-created)" : "");
		if (a->enf && enforcer_set_host(a->enf, a->feat.host_pidns, a->feat.host_mntns))
			log_warn("Failed to tell the enforcer the host namespaces: container-wide "
				 "deny entries stay inactive");
	}

	so.trace_host = a->pol->settings.trace_host;
	so.argv_max = a->pol->settings.argv_max;
	/* the kill-rule maps are pinned beside the enforcer's (bpffs is ready) */
	so.pin_dir = a->enf ? enforcer_pin_dir(a->enf) : NULL;
	so.kernel_kill = true;
	a->sensor = sensor_open(&so, &a->feat, agent_on_event, a, err, sizeof(err));
	if (!a->sensor) {
		log_err("%s", err);
		goto out;
	}
	{
		const char *why;

		/* detection runs either way; say once that kills take the slow path */
		if (!sensor_kill_in_kernel(a->sensor, &why))
			log_warn("in-kernel kill unavailable on this kernel: %s. Sensors and detection "
				 "run; kill rules are enforced from user space (pidfd), after the event "
				 "reaches the agent", why);
	}
	/* enforcement records (deny/isolation refusals) come through on_event too */
	if (a->enf && (n = sensor_add_ringbuf(a->sensor, enforcer_events_fd(a->enf))))
		log_err("Failed to read the enforcer's ring buffer: %s; refusals will not be "
			"journaled", strerror(-n));
	protect_cgroup(a, a->self_cgroup, "the agent's own cgroup");
	protect_known_namespaces(a);
	{
		struct responder_opts ro = {
			.policy = a->pol, .enforcer = a->enf, .incidents = a->im,
			.containers = a->ctr, .cgroup2 = a->feat.cgroup2_path,
			.self_pid = (uint32_t)getpid(), .self_cgroup = a->self_cgroup,
					.open_incident = detect_open_incident, .open_ctx = a->det,
		};
		char summary[512];

		a->resp = responder_new(&ro);
		detect_set_responder(a->det, a->resp);
		if (!a->resp) {
			log_err("Failed to create the responder: %s", strerror(errno));
			goto out;
		}
		load_kill_rules(a, &kill_kernel, &kill_user);
		responder_set_apiq(a->resp, a->apiq);
		responder_api_resume(a->resp);
		n = responder_reconcile(a->resp, summary, sizeof(summary));
		if (n)
			log_warn("%s", summary);
		else
			log_info("%s", summary);
		/* manual actions and release come through the same responder */
		a->ctl_ctx = (struct ctl_dispatch_ctx){ .r = a->resp, .im = a->im };
		a->ctl = ctl_server_open(getenv("NODEGUARD_SOCKET"), err, sizeof(err));
		if (!a->ctl)
			log_warn("control socket disabled: %s", err);
	}
	n = proctab_seed(a->pt, "/proc", a->feat.host_pidns, a->feat.host_mntns);
	if (n < 0)
		log_warn("Failed to seed the process table from /proc: %s", strerror(-n));
	{
		struct inc_agent_start st = {
			.node = a->node, .policy = a->pol->source, .rules = a->pol->nrules,
			.kill_rules_kernel = kill_kernel, .kill_rules_user = kill_user,
		};

		st.kill_in_kernel = sensor_kill_in_kernel(a->sensor, &st.kill_reason);
		if (incident_mgr_write_start(a->im, clock_wall_ns(), &st))
			log_err("Failed to write the agent start record to the journal");
	}
	log_info("nodeguard running on node %s: policy %s (%zu rules%s), journal %s, %s",
		 a->node, a->pol->source, a->pol->nrules, a->pol->settings.dry_run ? ", dry-run" : "",
		 journal_path(a->jr), a->pol->settings.trace_host ? "containers and host" : "containers");
	log_info("read incidents with: nodeguardctl list --dir %s (show ID, report ID --format md)",
		 jo.dir);

	rc = agent_loop(a, exiting, reload);
	if (!rc)
		log_info("stopping: %" PRIu64 " events, %" PRIu64 " detections, %zu open incidents, "
			 "%" PRIu64 " journal errors", a->events, detect_count(a->det),
			 incident_mgr_count(a->im, true), a->journal_errors);
out:
	agent_close(a);
	free(a);
	return rc;
}
