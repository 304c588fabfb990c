// SPDX-License-Identifier: Apache-2.0
#include <bpf/bpf.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "apiq.h"
#include "container.h"
#include "enforce.h"
#include "evfmt.h"
#include "incident.h"
#include "journal.h"
#include "jsonw.h"
#include "killrules.h"
#include "log.h"
#include "nodeguard/credcheck.h"
#include "policy.h"
#include "probe.h"
#include "proctab.h"
#include "respond.h"
#include "ctl.h"
#include "k8s_client.h"
#include "k8s_config.h"
#include "podcache.h"
#include "kevents.h"
#include "rules.h"
#include "sensor.h"

/* a shell started within this long of its process's (or parent's) connect */
#define PARENT_CONNECT_WINDOW_NS (60ull * 1000000000ull)

struct agent {
	struct agent_opts opts;
	struct policy *pol;
	struct ng_features feat;
	struct sensor *sensor;
	struct proctab *pt;
	struct ctr_cache *ctr;
	struct journal *jr;
	struct incmgr *im;
	/* containment: pinned enforcement state and the action layer */
	struct enforcer *enf;      /* NULL: deny/isolate unavailable (logged) */
	struct responder *resp;
	struct ctl_server *ctl;         /* nodeguardctl's root-only Unix socket */
	struct k8s_client *kc;          /* NULL: no cluster (attribution from cgroups only) */
	struct podcache *pods;          /* this node's pods, from the API watch */
	struct kevents *kev;            /* cluster Events about them and this Node */
	struct apiq *apiq;              /* Kubernetes actions (own client, own thread) */
	uint64_t pod_err_ms;            /* last pod-watch error logged (rate limit) */
	/* pod cgroups of protected namespaces, in ng_protected and ng_enf_exempt */
	struct prot_pod { char uid[37]; uint64_t cgid; bool mark; } *prot;
	size_t nprot, capprot;
	int prot_ino;                   /* inotify on the kubelet's QoS cgroups (-1: none) */
	uint64_t prot_applied;          /* pod cache objects taken in at the last look */
	/* cluster Events of the journal's k8s detections, for kevents_seen */
	struct seen_kev { char uid[40], ns[64], name[254]; uint32_t count; } *seen;
	size_t nseen, capseen;
	struct ctl_dispatch_ctx ctl_ctx;
	uint64_t self_cgroup;      /* the agent's own cgroup id (never contained) */
	char node[256];
	int64_t boot_off;
	struct jsonw ev_json;
	struct jsonw out;
	uint64_t events, detections, journal_errors;

	/* per event, for the rule-hit callback */
	const struct ng_event *ev;
	struct proc *chain[OBS_MAX_ANCESTORS + 1];
	size_t nchain;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void log_policy_errors(const struct policy_errors *errs)
{
	char line[600];
	size_t i;

	for (i = 0; i < errs->n; i++) {
		policy_error_format(&errs->v[i], line, sizeof(line));
		log_err("%s", line);
	}
}

static struct policy *load_policy(const char *path)
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
	if (incmgr_snapshot_open(a->im))
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
	if (incmgr_apply_record(a->im, rec))
		log_warn("journal %s:%" PRIu64 ": record not applicable, skipped", file, line);
	return 0;
}

static void restore_bad(const char *file, uint64_t line, const char *why, void *ctx)
{
	(void)ctx;
	log_warn("journal %s:%" PRIu64 ": %s: skipped", file, line, why);
}

/* ---------------------------------------------------------------- observation */

static bool recently(uint64_t then, uint64_t now)
{
	return then && now >= then && now - then <= PARENT_CONNECT_WINDOW_NS;
}

static void build_obs(struct agent *a, const struct ng_event *ev, struct obs *o,
		      struct ctr_info *ci, bool *have_ci)
{
	const struct ng_hdr *h = &ev->hdr;
	struct proc *self;
	size_t i;

	memset(o, 0, sizeof(*o));
	a->nchain = proctab_ancestry(a->pt, h->pid, a->chain, a->pol->settings.ancestry_depth + 1);
	self = a->nchain ? a->chain[0] : NULL;

	*have_ci = ctr_cache_lookup(a->ctr, h->cgroup_id, ci) == 0;
	o->is_container = (h->flags & NG_HF_CONTAINER) || (*have_ci && ci->is_container);
	if (*have_ci && a->pods) {
		int cidx = -1;
		const struct pod_info *pod =
			podcache_resolve(a->pods, ci->container_id, ci->pod_uid, &cidx);

		if (pod) {
			o->pod_namespace = pod->namespace;
			if (cidx >= 0)
				o->image = pod->containers[cidx].image;
		}
	}
	o->exe = self && self->exe ? self->exe : "";
	o->parent_exe = a->nchain > 1 && a->chain[1]->exe ? a->chain[1]->exe : "";
	for (i = 1; i < a->nchain && o->nancestors < OBS_MAX_ANCESTORS; i++)
		o->ancestors[o->nancestors++] = a->chain[i]->exe ? a->chain[i]->exe : "";
	o->comm = ev->comm;
	o->cmdline = self && self->cmdline ? self->cmdline : "";
	o->uid = h->uid;

	switch (h->kind) {
	case NG_EV_EXEC: {
		uint32_t f = ev->exec.flags;

		o->events = RE_EXEC;
		if (f & (NG_EXEC_SETUID | NG_EXEC_SETGID | NG_EXEC_CAPS_GAINED | NG_EXEC_SECURE))
			o->events |= RE_SETUID_EXEC;
		o->exe = ev->exec.filename;
		o->tty = f & NG_EXEC_TTY;
		o->stdio_socket = f & (NG_EXEC_STDIN_SOCK | NG_EXEC_STDOUT_SOCK | NG_EXEC_STDERR_SOCK);
		o->locations = rules_exe_location(ev->exec.filename, f);
		o->has_creds = true;
		o->old_known = f & NG_EXEC_OLD_KNOWN;
		o->old = ev->exec.old;
		o->cur = ev->exec.cur;
		o->success = true;
		o->parent_connected =
			(self && recently(self->last_connect_ns, h->ts_ns)) ||
			(a->nchain > 1 && recently(a->chain[1]->last_connect_ns, h->ts_ns));
		break;
	}
	case NG_EV_CRED:
		o->events = RE_CRED_CHANGE;
		o->op = ev->cred.op;
		o->has_creds = o->old_known = true;
		o->old = ev->cred.old;
		o->cur = ev->cred.cur;
		o->success = ev->cred.ret >= 0;
		break;
	case NG_EV_ANOMALY:
		o->events = RE_ANOMALY;
		o->has_creds = o->old_known = true;
		o->old = ev->anomaly.old;
		o->cur = ev->anomaly.cur;
		o->anomaly_reasons = ev->anomaly.reasons;
		o->success = true;
		break;
	case NG_EV_CONNECT:
	case NG_EV_SENDMSG:
		o->events = RE_CONNECT;
		o->family = ev->conn.family;
		memcpy(o->daddr, ev->conn.daddr, 16);
		o->dport = ev->conn.dport;
		o->protocol = (uint8_t)ev->conn.protocol;
		break;
	}
}

static void summarize(const struct ng_event *ev, const struct obs *o, char *buf, size_t n,
		      char *fp, size_t fpn)
{
	const struct ng_hdr *h = &ev->hdr;
	char ab[64], rb[128], pb[8];

	switch (h->kind) {
	case NG_EV_EXEC:
		snprintf(buf, n, "exec %s [%s] by uid %u (euid %u)%s%s", ev->exec.filename, o->cmdline,
			 ev->exec.cur.uid, ev->exec.cur.euid,
			 ev->exec.flags & NG_EXEC_SETUID ? " setuid" : "",
			 o->stdio_socket ? " with socket stdio" : "");
		snprintf(fp, fpn, "exec|%s|%s", ev->exec.filename, o->cmdline);
		break;
	case NG_EV_CRED:
		snprintf(buf, n, "%s(%" PRId64 ", %" PRId64 ", %" PRId64 ") = %" PRId64
			 " by %s: uid %u->%u euid %u->%u fsuid %u->%u",
			 ng_cred_op_name(ev->cred.op), ev->cred.args[0], ev->cred.args[1],
			 ev->cred.args[2], ev->cred.ret, o->exe, ev->cred.old.uid, ev->cred.cur.uid,
			 ev->cred.old.euid, ev->cred.cur.euid, ev->cred.old.fsuid, ev->cred.cur.fsuid);
		snprintf(fp, fpn, "cred|%s|%s|%u>%u|%u>%u", ng_cred_op_name(ev->cred.op), o->exe,
			 ev->cred.old.uid, ev->cred.cur.uid, ev->cred.old.euid, ev->cred.cur.euid);
		break;
	case NG_EV_ANOMALY:
		ng_anomaly_reasons(ev->anomaly.reasons, rb, sizeof(rb));
		snprintf(buf, n, "unexplained change (%s) seen at %s by %s: uid %u->%u euid %u->%u cap_eff %#" PRIx64 "->%#" PRIx64,
			 rb, ng_kind_name(ev->anomaly.hook), o->exe, ev->anomaly.old.uid,
			 ev->anomaly.cur.uid, ev->anomaly.old.euid, ev->anomaly.cur.euid,
			 (uint64_t)ev->anomaly.old.cap_eff, (uint64_t)ev->anomaly.cur.cap_eff);
		snprintf(fp, fpn, "anomaly|%s|%s|%u", rb, o->exe, h->pid);
		break;
	default:
		ng_addr_str(ev->conn.family, ev->conn.daddr, ab, sizeof(ab));
		snprintf(buf, n, "%s %s %s%s%s:%u by %s", h->kind == NG_EV_CONNECT ? "connect" : "sendmsg",
			 ng_proto_name(ev->conn.protocol, pb, sizeof(pb)),
			 ev->conn.family == AF_INET6 ? "[" : "", ab, ev->conn.family == AF_INET6 ? "]" : "",
			 ev->conn.dport, o->exe);
		snprintf(fp, fpn, "conn|%s|%s|%u|%u", o->exe, ab, ev->conn.dport, ev->conn.protocol);
		break;
	}
}

static void host_key(struct agent *a, char *key, size_t n)
{
	/* the tree below init (or the topmost ancestor we know) */
	struct proc *root = a->nchain ? a->chain[a->nchain - 1] : NULL;

	if (a->nchain >= 2 && (root->pid == 1 || root->ppid == 0))
		root = a->chain[a->nchain - 2];
	if (root)
		snprintf(key, n, "host:%u:%" PRIu64, root->pid, root->start_ns);
	else
		snprintf(key, n, "host:%u", a->ev->hdr.pid);
}

/*
 * Is the detection on the incident's timeline? A full timeline
 * (INC_MAX_ENTRIES) drops new entries without writing a record, so only a
 * detection that is there has a record in the journal.
 */
static bool on_timeline(const struct incident *inc, const char *rule, const char *fp)
{
	size_t i;

	for (i = inc->nentries; i > 0; i--)
		if (!strcmp(inc->entries[i - 1].rule, rule) && !strcmp(inc->entries[i - 1].fingerprint, fp))
			return true;
	return false;
}

static void on_hit(const struct rule *r, const struct obs *o, void *ctx)
{
	struct agent *a = ctx;
	const struct ng_event *ev = a->ev;
	struct inc_proc tree[OBS_MAX_ANCESTORS + 1];
	struct inc_attr attr = { 0 };
	struct ctr_info ci;
	const struct pod_info *pod = NULL;
	struct incident *inc = NULL;
	char summary[1024], fp[768], key[128];
	const char *ej;
	bool opened, journaled, have_ci = false;
	size_t i;
	int err;

	a->detections++;
	attr.is_container = o->is_container;
	if (ctr_cache_lookup(a->ctr, ev->hdr.cgroup_id, &ci) == 0) {
		have_ci = true;
		attr.is_container = attr.is_container || ci.is_container;
		snprintf(attr.runtime, sizeof(attr.runtime), "%s", ctr_runtime_name(ci.runtime));
		snprintf(attr.container_id, sizeof(attr.container_id), "%s", ci.container_id);
		snprintf(attr.pod_uid, sizeof(attr.pod_uid), "%s", ci.pod_uid);
		snprintf(attr.qos, sizeof(attr.qos), "%s", ctr_qos_name(ci.qos));
		snprintf(attr.cgroup_path, sizeof(attr.cgroup_path), "%s", ci.path);
		if (a->pods) {
			int cidx = -1;

			pod = podcache_resolve(a->pods, ci.container_id, ci.pod_uid, &cidx);
			/* incmgr_detect copies these */
			if (pod) {
				attr.pod_namespace = (char *)pod->namespace;
				attr.pod_name = (char *)pod->name;
				attr.pod_json = pod_info_json_str(pod, cidx);
			}
		}
	}
	attr.cgroup_id = ev->hdr.cgroup_id;
	if (attr.container_id[0])
		snprintf(key, sizeof(key), "ctr:%s", attr.container_id);
	else if (o->is_container)
		snprintf(key, sizeof(key), "cg:%" PRIu64, (uint64_t)ev->hdr.cgroup_id);
	else
		host_key(a, key, sizeof(key));

	for (i = 0; i < a->nchain; i++) {
		struct proc *p = a->chain[i];

		tree[i] = (struct inc_proc){ .pid = p->pid, .ppid = p->ppid, .uid = p->creds.uid,
					     .euid = p->creds.euid, .start_ns = p->start_ns,
					     .exe = p->exe, .cmdline = p->cmdline };
	}
	summarize(ev, o, summary, sizeof(summary), fp, sizeof(fp));
	jsonw_reset(&a->ev_json);
	evfmt_json(&a->ev_json, ev, a->boot_off);
	ej = jsonw_str(&a->ev_json);

	{
		struct inc_detection d = {
			.source = "kernel", .rule = r->name, .severity = r->severity,
			.category = r->category, .mitre = &r->mitre,
			.wall_ns = (uint64_t)((int64_t)ev->hdr.ts_ns + a->boot_off),
			.summary = summary, .fingerprint = fp, .event_json = ej, .pid = ev->hdr.pid,
			.key = key, .attr = &attr, .tree = tree, .ntree = a->nchain,
		};

		err = incmgr_detect(a->im, &d, &inc, &opened);
		free(attr.pod_json);
		attr.pod_json = NULL;
	}
	if (!inc) {
		log_err("Failed to record a detection of rule %s: %s", r->name, strerror(-err));
		return;
	}
	if (err && err != -ENOSPC)
		log_err("incident for rule %s: journal write failed (%s); kept in memory", r->name,
			strerror(-err));
	journaled = err == 0 && on_timeline(inc, r->name, fp);
	log_info("%s %s [%s] %s: %s%s", opened ? "opened" : "updated", inc->id,
		 severity_name(inc->severity), r->name, summary,
		 !err && !journaled ? " (timeline full: counted, not journaled)" : "");
	if (!a->opts.quiet) {
		jsonw_reset(&a->out);
		jsonw_obj_open(&a->out);
		jsonw_kv_str(&a->out, "kind", "detection");
		jsonw_kv_str(&a->out, "incident", inc->id);
		jsonw_kv_bool(&a->out, "incident_opened", opened);
		jsonw_kv_str(&a->out, "incident_severity", severity_name(inc->severity));
		jsonw_kv_str(&a->out, "rule", r->name);
		jsonw_kv_str(&a->out, "severity", severity_name(r->severity));
		jsonw_kv_str(&a->out, "category", r->category);
		jsonw_key(&a->out, "mitre");
		jsonw_arr_open(&a->out);
		for (i = 0; i < r->mitre.n; i++)
			jsonw_str_val(&a->out, r->mitre.v[i]);
		jsonw_arr_close(&a->out);
		jsonw_kv_str(&a->out, "summary", summary);
		jsonw_kv_str(&a->out, "container_id", attr.container_id);
		jsonw_kv_str(&a->out, "pod_uid", attr.pod_uid);
		jsonw_kv_bool(&a->out, "journaled", journaled);
		jsonw_key(&a->out, "event");
		if (ej)
			jsonw_raw_val(&a->out, ej);
		else
			jsonw_null_val(&a->out);
		jsonw_obj_close(&a->out);
		if (jsonw_str(&a->out)) {
			fputs(jsonw_str(&a->out), stdout);
			fputc('\n', stdout);
		}
	}

	/* the rule's actions, after the detection is journaled (guardrails,
	 * intent, action, result: agent/respond.c) */
	if (a->resp && (r->actions & ~ACT_LOG)) {
		struct resp_target t = {
			.pid = ev->hdr.pid, .cgroup_id = ev->hdr.cgroup_id,
			.is_container = attr.is_container, .ctr = have_ci ? &ci : NULL,
			.pod_namespace = inc->attr.pod_namespace, .pod = pod,
			.wall_ns = (uint64_t)((int64_t)ev->hdr.ts_ns + a->boot_off), .ev = ev,
		};

		responder_on_detection(a->resp, r, inc, &t);
	}
}

static int on_event(const struct ng_event *ev, void *ctx)
{
	struct agent *a = ctx;
	struct ctr_info ci;
	bool have_ci;
	struct obs o;

	a->events++;
	/* the kernel enforced (a kill at a sensor hook, or a deny/isolation
	 * refusal from the enforcer's ring buffer): journal it, nothing to match */
	if (ev->hdr.kind == NG_EV_ENFORCE) {
		if (a->resp)
			responder_on_enforce(a->resp, ev);
		return 0;
	}
	/* a container's first exec: compile the exact deny rules for it */
	if (ev->hdr.kind == NG_EV_EXEC && a->resp)
		responder_cgroup_seen(a->resp, ev->hdr.cgroup_id, ev->hdr.flags & NG_HF_CONTAINER);
	proctab_apply(a->pt, ev);
	if (ev->hdr.kind == NG_EV_FORK || ev->hdr.kind == NG_EV_EXIT)
		return 0;
	a->ev = ev;
	build_obs(a, ev, &o, &ci, &have_ci);
	rules_eval(a->pol, &o, on_hit, a);
	return 0;
}

/* ---------------------------------------------------------------- pods */

static void pod_watch_error(void *ctx, int err, long status, const char *msg)
{
	struct agent *a = ctx;
	uint64_t now = mono_ms();

	if (a->pod_err_ms && now - a->pod_err_ms < 30000)
		return; /* the watch retries by itself: say so every 30 s at most */
	a->pod_err_ms = now;
	log_warn("pod watch: %s (HTTP %ld): %s", strerror(err < 0 ? -err : err), status,
		 msg ? msg : "");
}

/*
 * A cluster Event about one of this node's pods (or this Node) that a
 * k8s-event rule matches joins the open incident of the same pod, or opens
 * one keyed like the kernel's (the pod's container), so the timeline shows
 * what the API server saw next to what the kernel saw.
 */
struct kev_hit {
	struct agent *a;
	const struct kevent *ev;
	const struct pod_info *pod;
};

static void on_kev_hit(const struct rule *r, const struct obs *o, void *ctx)
{
	struct kev_hit *kh = ctx;
	struct agent *a = kh->a;
	const struct kevent *ev = kh->ev;
	const struct pod_info *pod = kh->pod;
	struct inc_attr attr = { 0 };
	struct incident *inc = NULL, *i;
	char key[128] = "", summary[1400], fp[512];
	uint64_t wall = ev->last_ms > 0 ? (uint64_t)ev->last_ms * 1000000ull : 0;
	bool opened;
	size_t c;
	int err;

	(void)o;
	if (!wall) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		wall = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	a->detections++;
	if (pod) {
		/* an open incident of this pod, whichever of its containers */
		for (i = incmgr_first(a->im); i; i = i->next)
			if (i->status != INC_CLOSED && i->status != INC_RELEASED &&
			    i->attr.pod_name && i->attr.pod_namespace &&
			    !strcmp(i->attr.pod_name, pod->name) &&
			    !strcmp(i->attr.pod_namespace, pod->namespace))
				snprintf(key, sizeof(key), "%s", i->key);
		for (c = 0; !key[0] && c < pod->ncontainers; c++)
			if (pod->containers[c].id[0])
				snprintf(key, sizeof(key), "ctr:%s", pod->containers[c].id);
		if (!key[0])
			snprintf(key, sizeof(key), "pod:%s", pod->uid);
		attr.is_container = true;
		snprintf(attr.pod_uid, sizeof(attr.pod_uid), "%s", pod->uid);
		if (!strncmp(key, "ctr:", 4))
			snprintf(attr.container_id, sizeof(attr.container_id), "%s", key + 4);
		attr.pod_namespace = (char *)pod->namespace;
		attr.pod_name = (char *)pod->name;
		attr.pod_json = pod_info_json_str(pod, -1);
	} else {
		snprintf(key, sizeof(key), "node:%s", a->node);
	}
	snprintf(summary, sizeof(summary), "cluster Event %s %s on %s %s/%s (x%u): %s", ev->type,
		 ev->reason, ev->kind, ev->obj_namespace, ev->obj_name, ev->count,
		 ev->message[0] ? ev->message : "(no message)");
	snprintf(fp, sizeof(fp), "k8s|%s|%s|%s", ev->reason, ev->kind, ev->obj_name);
	{
		struct jsonw w;
		struct inc_detection d = {
			.source = "k8s", .rule = r->name, .severity = r->severity,
			.category = r->category, .mitre = &r->mitre, .wall_ns = wall,
			.summary = summary, .fingerprint = fp, .key = key, .attr = &attr,
		};

		jsonw_init(&w);
		jsonw_obj_open(&w);
		jsonw_kv_str(&w, "kind", "k8s-event");
		jsonw_kv_str(&w, "namespace", ev->namespace);
		jsonw_kv_str(&w, "name", ev->name);
		jsonw_kv_str(&w, "uid", ev->uid);
		jsonw_kv_str(&w, "reason", ev->reason);
		jsonw_kv_str(&w, "type", ev->type);
		jsonw_kv_str(&w, "message", ev->message);
		jsonw_kv_str(&w, "involved_kind", ev->kind);
		jsonw_kv_str(&w, "involved_namespace", ev->obj_namespace);
		jsonw_kv_str(&w, "involved_name", ev->obj_name);
		jsonw_kv_str(&w, "involved_uid", ev->obj_uid);
		jsonw_kv_u64(&w, "count", ev->count);
		jsonw_kv_str(&w, "time_from", ev->last_from ? ev->last_from : "");
		jsonw_kv_str(&w, "source", ev->source_component);
		jsonw_obj_close(&w);
		d.event_json = jsonw_str(&w);
		err = incmgr_detect(a->im, &d, &inc, &opened);
		jsonw_free(&w);
	}
	free(attr.pod_json);
	if (err && err != -ENOSPC)
		log_err("incident for cluster Event rule %s: journal write failed (%s)", r->name,
			strerror(-err));
	if (inc)
		log_info("%s %s [%s] %s: %s", opened ? "opened" : "updated", inc->id,
			 severity_name(inc->severity), r->name, summary);
	/* the rule's actions on the pod (API actions; node actions need a
	 * process or cgroup, which an Event does not name) */
	if (inc && pod && a->resp && (r->actions & ~ACT_LOG)) {
		struct resp_target t = {
			.is_container = true, .pod_namespace = pod->namespace, .pod = pod,
			.wall_ns = wall,
		};

		responder_on_detection(a->resp, r, inc, &t);
	}
}

static void on_kevent(void *ctx, const struct kevent *ev, const struct pod_info *pod)
{
	struct agent *a = ctx;
	struct kev_hit kh = { .a = a, .ev = ev, .pod = pod };
	struct obs o;

	kevent_to_obs(ev, pod, &o);
	rules_eval(a->pol, &o, on_kev_hit, &kh);
}

static void prot_watch(struct agent *a);

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
			.on_event = on_kevent, .on_error = pod_watch_error, .ctx = a,
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
	incmgr_free(a->im);
	free(a->seen);
	free(a->prot);
	if (a->prot_ino >= 0)
		close(a->prot_ino);
	ctr_cache_free(a->ctr);
	proctab_free(a->pt);
	policy_free(a->pol);
	jsonw_free(&a->ev_json);
	jsonw_free(&a->out);
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

/* ---------------------------------------------------------------- containment */

/* the agent's own cgroup id: the inode of its cgroup v2 directory */
static uint64_t self_cgroup_id(const char *cgroup2)
{
	char buf[4096], path[PATH_MAX];
	struct stat st;
	const char *l;
	FILE *f = fopen("/proc/self/cgroup", "re");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "0::", 3))
			continue;
		snprintf(path, sizeof(path), "%s%.*s", cgroup2, (int)strcspn(l + 3, "\n"), l + 3);
		return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
	}
	return 0;
}

/*
 * Never contain: a cgroup in the sensors' ng_protected map is exempt from
 * in-kernel kills (the kill is reported as "protected"). The agent's own
 * cgroup goes in at start; protected-namespace cgroups go in once pod
 * attribution knows the namespace (the pod cache calls this).
 */
static void protect_cgroup(struct agent *a, uint64_t cgid, const char *what)
{
	int fd = a->sensor ? sensor_map_fd(a->sensor, "ng_protected") : -1;
	uint32_t one = 1;

	if (!cgid || fd < 0)
		return;
	if (bpf_map_update_elem(fd, &cgid, &one, BPF_ANY))
		log_warn("Failed to protect cgroup %" PRIu64 " (%s) from in-kernel kills: %s", cgid,
			 what, strerror(errno));
}

/*
 * The pod cgroup of a pod (kubelet's systemd or cgroupfs driver, every QoS
 * class): its id is the directory's inode on cgroup v2. 0 while it does not
 * exist (the kubelet has not created it yet).
 */
static uint64_t pod_cgroup_id(const struct agent *a, const char *uid)
{
	static const char *const fmt[] = {
		"%s/kubepods.slice/kubepods-pod%s.slice",
		"%s/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice",
		"%s/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice",
		"%s/kubepods/pod%s",
		"%s/kubepods/burstable/pod%s",
		"%s/kubepods/besteffort/pod%s",
	};
	char u[37], path[PATH_MAX];
	struct stat st;
	size_t i;

	if (!uid || !*uid || !a->feat.cgroup2)
		return 0;
	/* systemd slice names have '_' for the uid's '-' */
	snprintf(u, sizeof(u), "%s", uid);
	for (char *c = u; *c; c++)
		*c = *c == '-' ? '_' : *c;
	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		snprintf(path, sizeof(path), fmt[i], a->feat.cgroup2_path, i < 3 ? u : uid);
		if (!stat(path, &st) && S_ISDIR(st.st_mode))
			return (uint64_t)st.st_ino;
	}
	return 0;
}

static void prot_pod_cb(const struct pod_info *p, void *ctx)
{
	struct agent *a = ctx;
	uint64_t cgid;
	size_t i;

	if (p->deleted || !respond_namespace_protected(&a->pol->settings, p->namespace))
		return;
	for (i = 0; i < a->nprot; i++)
		if (!strcmp(a->prot[i].uid, p->uid)) {
			a->prot[i].mark = true;
			return;
		}
	cgid = pod_cgroup_id(a, p->uid);
	if (!cgid)
		return; /* not created yet: the next tick looks again */
	if (a->nprot == a->capprot) {
		size_t cap = a->capprot ? 2 * a->capprot : 32;
		struct prot_pod *n = realloc(a->prot, cap * sizeof(*n));

		if (!n)
			return;
		a->prot = n;
		a->capprot = cap;
	}
	a->prot[a->nprot] = (struct prot_pod){ .cgid = cgid, .mark = true };
	snprintf(a->prot[a->nprot].uid, sizeof(a->prot[0].uid), "%s", p->uid);
	a->nprot++;
	protect_cgroup(a, cgid, p->namespace);
	if (a->enf && enforcer_exempt_add(a->enf, cgid))
		log_warn("Failed to exempt pod %s/%s from container-wide deny rules", p->namespace,
			 p->name);
	log_info("protected namespace %s: pod %s (cgroup %" PRIu64 ") is never killed in the kernel "
		 "nor denied by container-wide rules", p->namespace, p->name, cgid);
}

/*
 * The kubelet's QoS-level cgroups, watched for new pod cgroups so a
 * protected namespace's pod is protected as its cgroup appears (the tick
 * would leave up to a second). Missing directories are watched once they
 * exist (retried every tick).
 */
static void prot_watch(struct agent *a)
{
	static const char *const dirs[] = {
		"kubepods.slice", "kubepods.slice/kubepods-burstable.slice",
		"kubepods.slice/kubepods-besteffort.slice", "kubepods", "kubepods/burstable",
		"kubepods/besteffort",
	};
	char path[PATH_MAX];
	size_t i;

	if (!a->pods || !a->feat.cgroup2)
		return;
	if (a->prot_ino < 0)
		a->prot_ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->prot_ino < 0)
		return;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", a->feat.cgroup2_path, dirs[i]);
		inotify_add_watch(a->prot_ino, path, IN_CREATE | IN_ONLYDIR); /* ENOENT: later */
	}
}

/* a pod cgroup appeared, or the pod cache changed: look again now */
static bool prot_news(struct agent *a)
{
	struct podcache_stats ps;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool news = false;

	while (a->prot_ino >= 0 && read(a->prot_ino, buf, sizeof(buf)) > 0)
		news = true;
	podcache_get_stats(a->pods, &ps);
	if (ps.applied != a->prot_applied) {
		a->prot_applied = ps.applied;
		news = true;
	}
	return news;
}

/*
 * Once a second: the pod cgroups of this node's pods in protected
 * namespaces go into the kernel's protected and exempt sets (checked with
 * every ancestor of the task's cgroup, so their containers are covered from
 * their first instruction); those of pods gone, or no longer protected
 * after a reload, come out.
 */
static void protect_pods(struct agent *a)
{
	int fd = a->sensor ? sensor_map_fd(a->sensor, "ng_protected") : -1;
	size_t i;

	if (!a->pods)
		return;
	for (i = 0; i < a->nprot; i++)
		a->prot[i].mark = false;
	podcache_foreach(a->pods, prot_pod_cb, a);
	for (i = 0; i < a->nprot;) {
		if (a->prot[i].mark) {
			i++;
			continue;
		}
		if (fd >= 0 && bpf_map_delete_elem(fd, &a->prot[i].cgid) && errno != ENOENT)
			log_warn("Failed to unprotect cgroup %" PRIu64 ": %s", a->prot[i].cgid,
				 strerror(errno));
		if (a->enf)
			enforcer_exempt_del(a->enf, a->prot[i].cgid);
		a->prot[i] = a->prot[--a->nprot];
	}
}

/* containers of protected namespaces known so far (the attribution of
 * restored incidents; the pod cache will add them as pods are learned) */
static void protect_known_namespaces(struct agent *a)
{
	struct incident *inc;

	for (inc = incmgr_first(a->im); inc; inc = inc->next)
		if ((inc->status == INC_OPEN || inc->status == INC_CONTAINED) && inc->attr.cgroup_id &&
		    respond_namespace_protected(&a->pol->settings, inc->attr.pod_namespace))
			protect_cgroup(a, inc->attr.cgroup_id, inc->attr.pod_namespace);
}

/*
 * Compile the policy's kill rules into the sensors' (pinned) maps. Rules
 * the kernel cannot evaluate are killed from user space by the responder;
 * say which, once per load.
 */
static void load_kill_rules(struct agent *a, uint32_t *in_kernel, uint32_t *in_user)
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

static void reload_policy(struct agent *a)
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
	incmgr_set_window(a->im, np->settings.incident_window_s);
	apiq_set_limits(a->apiq, np->settings.api_queue_max, np->settings.api_retry_max_s);
	/* the responder holds the policy: hand it the new one before the old goes */
	if (a->resp)
		responder_set_policy(a->resp, np);
	policy_free(a->pol);
	a->pol = np;
	load_kill_rules(a, &kk, &ku);
	protect_known_namespaces(a);
	log_info("SIGHUP: policy %s reloaded: %zu rules", a->opts.policy_path, np->nrules);
}

int agent_run(const struct agent_opts *o, volatile sig_atomic_t *exiting,
	      volatile sig_atomic_t *reload)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct journal_recovery rec = { 0 };
	struct journal_replay_stats rs = { 0 };
	struct sensor_opts so = { 0 };
	struct journal_opts jo = { 0 };
	struct incmgr_opts io = { 0 };
	uint64_t start, last_tick, last_sweep, last_drops = 0;
	uint32_t kill_kernel = 0, kill_user = 0;
	char err[1024];
	int rc = 1, n;

	if (!a) {
		log_err("Failed to allocate the agent: %s", strerror(errno));
		return 1;
	}
	a->opts = *o;
	a->prot_ino = -1;
	jsonw_init(&a->ev_json);
	jsonw_init(&a->out);

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
	a->im = incmgr_new(&io);
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
			 incmgr_count(a->im, true));
	journal_set_rotate_cb(a->jr, on_rotate, a);
	/* after the replay: the Events watch starts from what it had handled */
	start_pod_cache(a);

	probe_features(&a->feat, true);
	a->pt = proctab_new(a->pol->settings.proctab_max);
	a->ctr = a->feat.cgroup2 ? ctr_cache_new(a->feat.cgroup2_path, 16384) : NULL;
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
	a->sensor = sensor_open(&so, &a->feat, on_event, a, err, sizeof(err));
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
		};
		char summary[512];

		a->resp = responder_new(&ro);
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
	a->boot_off = evfmt_boot_offset_ns();
	{
		struct inc_agent_start st = {
			.node = a->node, .policy = a->pol->source, .rules = a->pol->nrules,
			.kill_rules_kernel = kill_kernel, .kill_rules_user = kill_user,
		};

		st.kill_in_kernel = sensor_kill_in_kernel(a->sensor, &st.kill_reason);
		if (incmgr_write_start(a->im, wall_ns(), &st))
			log_err("Failed to write the agent start record to the journal");
	}
	log_info("nodeguard running on node %s: policy %s (%zu rules%s), journal %s, %s",
		 a->node, a->pol->source, a->pol->nrules, a->pol->settings.dry_run ? ", dry-run" : "",
		 journal_path(a->jr), a->pol->settings.trace_host ? "containers and host" : "containers");
	log_info("read incidents with: nodeguardctl list --dir %s (show ID, report ID --format md)",
		 jo.dir);

	start = last_tick = last_sweep = mono_ms();
	while (!*exiting) {
		uint64_t now;

		n = sensor_poll(a->sensor, 200);
		if (n < 0) {
			log_err("Failed to poll the ring buffer: %s", strerror(-n));
			goto out;
		}
		if (a->ctl)
			ctl_server_poll(a->ctl, ctl_dispatch_handler, &a->ctl_ctx);
		if (a->pods)
			podcache_poll(a->pods, 0);
		if (a->pods && prot_news(a))
			protect_pods(a);
		if (a->kev)
			kevents_poll(a->kev, 0);
		if (a->apiq)
			responder_api_poll(a->resp);
		fflush(stdout);
		if (*reload) {
			*reload = 0;
			reload_policy(a);
		}
		now = mono_ms();
		if (now - last_tick >= 1000) {
			struct ng_counter c[NG_EV_KIND_MAX];
			uint64_t drops = 0;
			unsigned k;

			last_tick = now;
			journal_tick(a->jr, now);
			incmgr_tick(a->im, wall_ns());
			responder_tick(a->resp);
			prot_watch(a);
			protect_pods(a);
			proctab_gc(a->pt, (uint64_t)((int64_t)wall_ns() - a->boot_off), 120ull * 1000000000ull);
			if (!sensor_counters(a->sensor, c)) {
				for (k = 1; k < NG_EV_KIND_MAX; k++)
					drops += c[k].dropped;
				if (drops > last_drops)
					log_warn("%" PRIu64 " kernel events dropped (ring buffer full); "
						 "detections may be missing", drops - last_drops);
				last_drops = drops;
			}
		}
		if (now - last_sweep >= 30000) {
			last_sweep = now;
			ctr_cache_sweep(a->ctr);
		}
		if (o->duration_s && now - start >= (uint64_t)o->duration_s * 1000)
			break;
	}
	sensor_poll(a->sensor, 0);
	fflush(stdout);
	rc = 0;
	log_info("stopping: %" PRIu64 " events, %" PRIu64 " detections, %zu open incidents, "
		 "%" PRIu64 " journal errors", a->events, a->detections, incmgr_count(a->im, true),
		 a->journal_errors);
out:
	agent_close(a);
	free(a);
	return rc;
}
