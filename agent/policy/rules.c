// SPDX-License-Identifier: Apache-2.0
#include <fnmatch.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "nodeguard/credcheck.h"
#include "rules.h"

static bool glob_any(const struct strlist *l, const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < l->n; i++)
		if (fnmatch(l->v[i], s, 0) == 0)
			return true;
	return false;
}

static bool substr_any_ci(const struct strlist *l, const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < l->n; i++)
		if (strcasestr(s, l->v[i]))
			return true;
	return false;
}

static bool uid_ok(const struct uid_match *m, uint32_t v)
{
	switch (m->sel) {
	case UID_ANY: return true;
	case UID_ROOT: return v == 0;
	case UID_NONROOT: return v != 0;
	case UID_VALUE: return v == m->value;
	}
	return false;
}

static bool tri_ok(enum ng_tri t, bool v)
{
	return t == TRI_ANY || (t == TRI_TRUE) == v;
}

bool cidr_contains(const struct cidr *c, uint16_t family, const uint8_t addr[16])
{
	unsigned bits = c->prefix, i;

	if (c->family != family)
		return false;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (c->addr[i] != addr[i])
			return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		if ((c->addr[i] & mask) != (addr[i] & mask))
			return false;
	}
	return true;
}

uint64_t obs_caps_gained(const struct obs *o)
{
	if (!o->has_creds || !o->old_known)
		return 0;
	return (o->cur.cap_eff & ~o->old.cap_eff) | (o->cur.cap_prm & ~o->old.cap_prm);
}

static bool gains_root(const struct obs *o)
{
	if (!o->has_creds || !o->old_known)
		return false;
	return (o->old.uid && !o->cur.uid) || (o->old.euid && !o->cur.euid) ||
	       (o->old.suid && !o->cur.suid) || (o->old.fsuid && !o->cur.fsuid);
}

uint32_t rules_exe_location(const char *path, uint32_t exec_flags)
{
	uint32_t loc = 0;

	if (exec_flags & NG_EXEC_MEMFD)
		loc |= LOC_MEMFD;
	if (exec_flags & NG_EXEC_ANON_FILE)
		loc |= LOC_UNLINKED;
	if (!path)
		return loc;
	if (!strncmp(path, "/tmp/", 5) || !strncmp(path, "/var/tmp/", 9))
		loc |= LOC_TMP;
	if (!strncmp(path, "/dev/shm/", 9) || !strncmp(path, "/run/shm/", 9))
		loc |= LOC_DEV_SHM;
	if (!strncmp(path, "/memfd:", 7))
		loc |= LOC_MEMFD;
	return loc;
}

bool match_eval(const struct match *m, const struct obs *o, uint32_t rule_events)
{
	uint32_t events = m->events ? m->events : rule_events;
	size_t i;

	if (!(events & o->events))
		return false;
	if (m->scope == SCOPE_CONTAINER && !o->is_container)
		return false;
	if (m->scope == SCOPE_HOST && o->is_container)
		return false;

	if (m->binary.n && !glob_any(&m->binary, o->exe))
		return false;
	if (m->parent_binary.n && !glob_any(&m->parent_binary, o->parent_exe))
		return false;
	if (m->ancestor_binary.n) {
		bool hit = false;

		for (i = 0; i < o->nancestors && !hit; i++)
			hit = glob_any(&m->ancestor_binary, o->ancestors[i]);
		if (!hit)
			return false;
	}
	if (m->comm.n && !glob_any(&m->comm, o->comm))
		return false;
	if (m->cmdline.n && !glob_any(&m->cmdline, o->cmdline))
		return false;
	if (!uid_ok(&m->uid, o->uid))
		return false;
	if (!tri_ok(m->tty, o->tty) || !tri_ok(m->stdio_socket, o->stdio_socket) ||
	    !tri_ok(m->parent_connected, o->parent_connected))
		return false;
	if (m->locations && !(m->locations & o->locations))
		return false;

	/* credentials: keys that need old/new values fail without them */
	if (m->ops && !(o->op && (m->ops & (1u << o->op))))
		return false;
	if (m->uid_from.sel || m->euid_from.sel || m->gains_root != TRI_ANY) {
		if (!o->has_creds || !o->old_known)
			return false;
		if (!uid_ok(&m->uid_from, o->old.uid) || !uid_ok(&m->euid_from, o->old.euid))
			return false;
		if (!tri_ok(m->gains_root, gains_root(o)))
			return false;
	}
	if (m->uid_to.sel || m->euid_to.sel || m->fsuid_to.sel) {
		if (!o->has_creds)
			return false;
		if (!uid_ok(&m->uid_to, o->cur.uid) || !uid_ok(&m->euid_to, o->cur.euid) ||
		    !uid_ok(&m->fsuid_to, o->cur.fsuid))
			return false;
	}
	if (m->caps_gained && !(m->caps_gained & obs_caps_gained(o)))
		return false;
	if (m->caps_effective && !(o->has_creds && (m->caps_effective & o->cur.cap_eff)))
		return false;
	if (m->success != TRI_ANY && (o->events & RE_CRED_CHANGE) && !tri_ok(m->success, o->success))
		return false;
	if (m->anomaly_reasons && !(m->anomaly_reasons & o->anomaly_reasons))
		return false;

	/* network */
	if (m->ncidrs) {
		static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		uint8_t v4[16] = { 0 };
		bool hit = false, mapped;

		/* a dual-stack socket reaches 169.254.169.254 as ::ffff:169.254.169.254 */
		mapped = o->family == AF_INET6 && !memcmp(o->daddr, v4mapped, 12);
		if (mapped)
			memcpy(v4, o->daddr + 12, 4);
		for (i = 0; i < m->ncidrs && !hit; i++)
			hit = cidr_contains(&m->cidrs[i], o->family, o->daddr) ||
			      (mapped && cidr_contains(&m->cidrs[i], AF_INET, v4));
		if (!hit)
			return false;
	}
	if (m->nports) {
		bool hit = false;

		for (i = 0; i < m->nports && !hit; i++)
			hit = o->family && o->dport >= m->ports[i].lo && o->dport <= m->ports[i].hi;
		if (!hit)
			return false;
	}
	if (m->protocol && m->protocol != o->protocol)
		return false;

	/* Kubernetes */
	if (m->k8s_reason.n && !glob_any(&m->k8s_reason, o->k8s_reason))
		return false;
	if (m->k8s_type.n && !glob_any(&m->k8s_type, o->k8s_type))
		return false;
	if (m->k8s_kind.n && !glob_any(&m->k8s_kind, o->k8s_kind))
		return false;
	if (m->k8s_message.n && !substr_any_ci(&m->k8s_message, o->k8s_message))
		return false;
	if (m->k8s_not_message.n && substr_any_ci(&m->k8s_not_message, o->k8s_message))
		return false;
	if (m->message_re && (!o->k8s_message || regexec(m->message_re, o->k8s_message, 0, NULL, 0)))
		return false;
	if (m->namespaces.n && !glob_any(&m->namespaces, o->pod_namespace))
		return false;
	if (m->images.n && !glob_any(&m->images, o->image))
		return false;
	return true;
}

bool rule_matches(const struct rule *r, const struct obs *o)
{
	size_t i;

	if (!r->enabled || !match_eval(&r->match, o, r->match.events))
		return false;
	for (i = 0; i < r->nexceptions; i++)
		if (match_eval(&r->exceptions[i], o, r->match.events))
			return false;
	return true;
}

int rules_eval(const struct policy *p, const struct obs *o, rules_hit_fn fn, void *ctx)
{
	size_t i;
	int n = 0;

	for (i = 0; i < p->nrules; i++) {
		if (!rule_matches(&p->rules[i], o))
			continue;
		n++;
		if (fn)
			fn(&p->rules[i], o, ctx);
	}
	return n;
}
