// SPDX-License-Identifier: Apache-2.0
/*
 * Detection, the stage after attribution: a kernel event (with its
 * attribution context) becomes an observation the rules see; a cluster Event
 * about one of this node's pods does too. A rule hit joins or opens an
 * incident (journaled), is printed as a JSON line, and hands the rule, the
 * incident and the target to the responder. See detect.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "attrib.h"
#include "clock.h"
#include "detect.h"
#include "jsonw.h"
#include "kevents.h"
#include "rules.h"
#include "container.h"
#include "evfmt.h"
#include "incident.h"
#include "log.h"
#include "podcache.h"
#include "proctab.h"
#include "respond.h"

struct detect {
	const struct policy *pol;
	struct incmgr *im;
	struct responder *resp;        /* NULL: no actions */
	const char *node;
	int64_t boot_off;
	bool quiet;                    /* no JSON lines on stdout */
	struct jsonw out, ev_json;
	uint64_t detections;
};

/* a shell started within this long of its process's (or parent's) connect */
#define PARENT_CONNECT_WINDOW_NS (60ull * 1000000000ull)
/* ---------------------------------------------------------------- observation */

static bool recently(uint64_t then, uint64_t now)
{
	return then && now >= then && now - then <= PARENT_CONNECT_WINDOW_NS;
}

_Static_assert(ATTRIB_CHAIN_MAX == OBS_MAX_ANCESTORS + 1, "ancestry bounds agree");

/* what the rules see of an event, from its attribution context */
static void build_obs(const struct attrib_ctx *cx, struct obs *o)
{
	const struct ng_event *ev = cx->ev;
	const struct ng_hdr *h = &ev->hdr;
	const struct proc *self = cx->nchain ? cx->chain[0] : NULL;
	size_t i;

	memset(o, 0, sizeof(*o));
	o->is_container = cx->is_container;
	if (cx->pod) {
		o->pod_namespace = cx->pod->namespace;
		if (cx->cidx >= 0)
			o->image = cx->pod->containers[cx->cidx].image;
	}
	o->exe = self && self->exe ? self->exe : "";
	o->parent_exe = cx->nchain > 1 && cx->chain[1]->exe ? cx->chain[1]->exe : "";
	for (i = 1; i < cx->nchain && o->nancestors < OBS_MAX_ANCESTORS; i++)
		o->ancestors[o->nancestors++] = cx->chain[i]->exe ? cx->chain[i]->exe : "";
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
			(cx->nchain > 1 && recently(cx->chain[1]->last_connect_ns, h->ts_ns));
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

/* a rule hit's context: the stage and the event's attribution */
struct hit {
	struct detect *a;
	const struct attrib_ctx *cx;
};

static void on_hit(const struct rule *r, const struct obs *o, void *ctx)
{
	const struct hit *hx = ctx;
	struct detect *a = hx->a;
	const struct attrib_ctx *cx = hx->cx;
	const struct ng_event *ev = cx->ev;
	struct inc_proc tree[ATTRIB_CHAIN_MAX];
	struct inc_attr attr;
	struct incident *inc = NULL;
	char summary[1024], fp[768];
	const char *ej;
	bool opened, journaled;
	size_t i, ntree;
	int err;

	a->detections++;
	attrib_to_incident(cx, &attr);
	ntree = attrib_tree(cx, tree);
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
			.key = cx->key, .attr = &attr, .tree = tree, .ntree = ntree,
		};

		err = incident_mgr_detect(a->im, &d, &inc, &opened);
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
	if (!a->quiet) {
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
	 * intent, action, result: agent/respond/) */
	if (a->resp && (r->actions & ~ACT_LOG)) {
		struct resp_target t = {
			.pid = ev->hdr.pid, .cgroup_id = ev->hdr.cgroup_id,
			.is_container = cx->is_container, .ctr = cx->have_ci ? &cx->ci : NULL,
			.pod_namespace = inc->attr.pod_namespace, .pod = cx->pod,
			.wall_ns = (uint64_t)((int64_t)ev->hdr.ts_ns + a->boot_off), .ev = ev,
		};

		responder_on_detection(a->resp, r, inc, &t);
	}
}

void detect_event(struct detect *d, const struct attrib_ctx *cx)
{
	struct hit hx = { .a = d, .cx = cx };
	struct obs o;

	build_obs(cx, &o);
	rules_eval(d->pol, &o, on_hit, &hx);
}

/* ---------------------------------------------------------------- cluster Events */

/*
 * A cluster Event about one of this node's pods (or this Node) that a
 * k8s-event rule matches joins the open incident of the same pod, or opens
 * one keyed like the kernel's (the pod's container), so the timeline shows
 * what the API server saw next to what the kernel saw.
 */
struct kev_hit {
	struct detect *a;
	const struct kevent *ev;
	const struct pod_info *pod;
};

static void on_kev_hit(const struct rule *r, const struct obs *o, void *ctx)
{
	struct kev_hit *kh = ctx;
	struct detect *a = kh->a;
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
	if (!wall)
		wall = clock_wall_ns();
	a->detections++;
	if (pod) {
		/* an open incident of this pod, whichever of its containers */
		for (i = incident_mgr_first(a->im); i; i = i->next)
			if (i->status != INC_CLOSED && i->status != INC_RELEASED &&
			    i->attr.pod_name && i->attr.pod_namespace &&
			    !strcmp(i->attr.pod_name, pod->name) &&
			    !strcmp(i->attr.pod_namespace, pod->namespace))
				snprintf(key, sizeof(key), "%s", i->key);
		for (c = 0; !key[0] && c < pod->ncontainers; c++)
			if (pod->containers[c].id[0])
				incident_key(key, sizeof(key),
					     &(struct inc_key_of){ .container_id = pod->containers[c].id });
		if (!key[0])
			incident_key(key, sizeof(key), &(struct inc_key_of){ .pod_uid = pod->uid });
		attr.is_container = true;
		snprintf(attr.pod_uid, sizeof(attr.pod_uid), "%s", pod->uid);
		if (!strncmp(key, "ctr:", 4))
			snprintf(attr.container_id, sizeof(attr.container_id), "%s", key + 4);
		attr.pod_namespace = (char *)pod->namespace;
		attr.pod_name = (char *)pod->name;
		attr.pod_json = pod_info_json_str(pod, -1);
	} else {
		incident_key(key, sizeof(key), &(struct inc_key_of){ .node = a->node });
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
		err = incident_mgr_detect(a->im, &d, &inc, &opened);
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

void detect_kevent(struct detect *d, const struct kevent *ev, const struct pod_info *pod)
{
	struct kev_hit kh = { .a = d, .ev = ev, .pod = pod };
	struct obs o;

	kevent_to_obs(ev, pod, &o);
	rules_eval(d->pol, &o, on_kev_hit, &kh);
}

/* ---------------------------------------------------------------- lifecycle */

struct detect *detect_new(const struct detect_opts *o)
{
	struct detect *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->pol = o->policy;
	d->im = o->incidents;
	d->node = o->node;
	d->boot_off = o->boot_off;
	d->quiet = o->quiet;
	jsonw_init(&d->out);
	jsonw_init(&d->ev_json);
	return d;
}

void detect_free(struct detect *d)
{
	if (!d)
		return;
	jsonw_free(&d->out);
	jsonw_free(&d->ev_json);
	free(d);
}

void detect_set_policy(struct detect *d, const struct policy *p)
{
	d->pol = p;
}

void detect_set_responder(struct detect *d, struct responder *r)
{
	d->resp = r;
}

int detect_open_incident(void *ctx, const struct inc_detection *det, struct incident **inc,
			 bool *opened)
{
	struct detect *d = ctx;

	return incident_mgr_detect(d->im, det, inc, opened);
}

uint64_t detect_count(const struct detect *d)
{
	return d ? d->detections : 0;
}
