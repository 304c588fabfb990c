// SPDX-License-Identifier: Apache-2.0
/*
 * Compiled deny sets: deny rules the kernel evaluates exactly (connect,
 * scope container, CIDRs/ports/protocol only, no exceptions, not dry-run)
 * are compiled into deny entries of every container cgroup: the ones there
 * at start or reload (a bounded walk of the cgroup tree), and each new one
 * the first time it is seen (responder_cgroup_seen). Entries a previous
 * policy compiled and this one does not are removed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "respond_int.h"

#define WALK_DIRS_MAX 65536
#define WALK_DEPTH_MAX 12

/*
 * Can the kernel decide rule r exactly, for every container? Connect events
 * only, scope container, destination CIDRs (and ports, protocol), nothing
 * else to match and no exceptions, not in dry-run.
 */
static bool deny_compilable(const struct policy *p, const struct rule *r)
{
	const struct match *m = &r->match;

	if (!r->enabled || !(r->actions & ACT_DENY) || p->settings.dry_run || r->dry_run == TRI_TRUE)
		return false;
	if (m->events != RE_CONNECT || m->scope != SCOPE_CONTAINER || !m->ncidrs ||
	    m->ncidrs > CDENY_CIDRS_MAX || m->nports > NG_DENY_PORTS_MAX || r->nexceptions)
		return false;
	if (m->binary.n || m->parent_binary.n || m->ancestor_binary.n || m->comm.n || m->cmdline.n ||
	    m->uid.sel || m->tty || m->stdio_socket || m->parent_connected || m->locations ||
	    m->namespaces.n || m->images.n)
		return false;
	return true;
}

static void compile_deny(struct responder *r)
{
	size_t i, j, n = 0;

	free(r->cd);
	r->cd = NULL;
	r->ncd = 0;
	if (!r->pol || !r->enf)
		return;
	for (i = 0; i < r->pol->nrules; i++)
		n += deny_compilable(r->pol, &r->pol->rules[i]);
	if (!n || !(r->cd = calloc(n, sizeof(*r->cd))))
		return;
	for (i = 0; i < r->pol->nrules; i++) {
		const struct rule *ru = &r->pol->rules[i];
		struct cdeny *c = &r->cd[r->ncd];

		if (!deny_compilable(r->pol, ru))
			continue;
		c->rule_id = ru->id;
		snprintf(c->name, sizeof(c->name), "%s", ru->name);
		for (j = 0; j < ru->match.ncidrs; j++) {
			c->cidrs[c->ncidrs++] = ru->match.cidrs[j];
			if (ru->match.cidrs[j].family == AF_INET)
				c->cidrs[c->ncidrs++] = contain_v4mapped(&ru->match.cidrs[j]);
		}
		memcpy(c->ports, ru->match.ports, ru->match.nports * sizeof(*c->ports));
		c->nports = ru->match.nports;
		c->protocol = ru->match.protocol;
		r->ncd++;
	}
}

/* may the compiled deny rules apply to this container cgroup? */
static bool cdeny_allowed(struct responder *r, uint64_t cgid, const char *rel, const char *ctr_id)
{
	struct incident *inc;
	char key[80];

	if (!rel || decide_path_depth(rel) < 2)
		return false;
	/* a protected namespace, once known (an incident's attribution) */
	incident_key(key, sizeof(key), &(struct inc_key_of){ .container_id = ctr_id });
	inc = ctr_id && *ctr_id ? record_find_by_key(r, key) : NULL;
	if (inc && r->pol && decide_namespace_protected(&r->pol->settings, inc->attr.pod_namespace))
		return false;
	if (r->self.cgroup_id && cgid == r->self.cgroup_id)
		return false; /* the agent's own cgroup */
	if (r->self.cgroup_path && decide_path_contains(rel, r->self.cgroup_path))
		return false;
	return true;
}

static int cdeny_install(struct responder *r, uint64_t cgid)
{
	size_t i, j;
	int err = 0, e;

	for (i = 0; i < r->ncd; i++)
		for (j = 0; j < r->cd[i].ncidrs; j++) {
			e = enforcer_deny_add(r->enf, cgid, &r->cd[i].cidrs[j], r->cd[i].ports,
					      r->cd[i].nports, r->cd[i].protocol,
					      r->cd[i].rule_id | DENY_COMPILED);
			err = err ? err : e;
		}
	return err;
}

static void cgroup_consider(struct responder *r, uint64_t cgid, const char *rel, const char *ctr_id)
{
	bool ok = cdeny_allowed(r, cgid, rel, ctr_id);
	int err = 0;

	if (ok) {
		err = cdeny_install(r, cgid);
		if (err)
			log_err("Failed to compile the deny rules for cgroup %s: %s", rel, strerror(-err));
	} else if (r->enf && cgid && (err = enforcer_exempt_add(r->enf, cgid))) {
		/* the container-wide entries must not reach it either */
		log_err("Failed to exempt cgroup %s from container-wide deny rules: %s", rel,
			strerror(-err));
	}
	cgset_add(&r->seen, cgid, rel, ok && !err);
}

void responder_cgroup_seen(struct responder *r, uint64_t cgid, bool in_container)
{
	struct ctr_info ci;

	if (!r || !r->ncd || !r->enf || !cgid || !in_container || cgset_find(&r->seen, cgid) >= 0)
		return;
	/* an unresolvable cgroup is remembered too: no tree walk per event */
	if (!r->ctr || container_cache_lookup(r->ctr, cgid, &ci) || !ci.is_container || ci.is_conmon ||
	    ci.path_truncated) {
		cgset_add(&r->seen, cgid, "", false);
		return;
	}
	cgroup_consider(r, cgid, ci.path, ci.container_id);
}

/* every container cgroup under the mount, bounded */
static void walk_containers(struct responder *r, const char *rel, int depth, size_t *budget)
{
	char d[PATH_MAX], child[PATH_MAX];
	struct ctr_info ci;
	struct dirent *de;
	struct stat st;
	DIR *dir;

	if (depth > WALK_DEPTH_MAX || !*budget)
		return;
	(*budget)--;
	cg_dir(r, rel, d, sizeof(d));
	if (depth && container_parse_path(rel, &ci) == 0 && ci.is_container && !ci.is_conmon &&
	    stat(d, &st) == 0 && cgset_find(&r->seen, (uint64_t)st.st_ino) < 0)
		cgroup_consider(r, (uint64_t)st.st_ino, rel, ci.container_id);
	dir = opendir(d);
	if (!dir)
		return;
	while ((de = readdir(dir)) && *budget) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(child, sizeof(child), "%s/%s", depth ? rel : "", de->d_name) >=
		    (int)sizeof(child))
			continue;
		walk_containers(r, child, depth + 1, budget);
	}
	closedir(dir);
}

struct cd_stale {
	struct responder *r;
	struct {
		uint64_t cg;
		struct cidr c;
	} *v;
	size_t n, cap;
};

static bool cdeny_wants(const struct responder *r, uint64_t cgid, const struct cidr *c)
{
	long k = cgset_find(&r->seen, cgid);
	size_t i, j;

	if (cgid != NG_CG_ANY_CONTAINER && (k < 0 || !r->seen.compiled[k]))
		return false;
	for (i = 0; i < r->ncd; i++)
		for (j = 0; j < r->cd[i].ncidrs; j++)
			if (netaddr_cidr_eq(&r->cd[i].cidrs[j], c))
				return true;
	return false;
}

static void stale_cb(uint64_t cgid, const struct cidr *c, const struct ng_deny_val *v, void *ctx)
{
	struct cd_stale *s = ctx;

	if (!(v->rule_id & DENY_COMPILED) || cdeny_wants(s->r, cgid, c))
		return;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		void *nv = realloc(s->v, nc * sizeof(*s->v));

		if (!nv)
			return;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n].cg = cgid;
	s->v[s->n].c = *c;
	s->n++;
}

/*
 * (Re)compile the policy's exact deny rules into every container's entries:
 * the containers there are now, then each new one as the agent first sees
 * it (responder_cgroup_seen). Entries a previous policy compiled and this
 * one does not are removed.
 */
void denyset_apply(struct responder *r)
{
	struct cd_stale st = { .r = r };
	size_t budget = WALK_DIRS_MAX, i;

	cgset_free(&r->seen);
	compile_deny(r);
	/* without a policy (nodeguardctl releasing offline) nothing is known
	 * about what should be compiled: leave the pinned entries alone */
	if (!r->enf || !r->pol)
		return;
	if (r->ncd) {
		int err;

		/* never the agent itself, then every container from its first
		 * connect on, then each container seen so far */
		if (r->self.cgroup_id && enforcer_exempt_add(r->enf, r->self.cgroup_id))
			log_err("Failed to exempt the agent's cgroup from container-wide deny rules");
		err = cdeny_install(r, NG_CG_ANY_CONTAINER);
		if (err)
			log_err("Failed to install the container-wide deny rules: %s", strerror(-err));
		walk_containers(r, "", 0, &budget);
		log_info("deny: %zu rule%s compiled into the kernel for %zu container cgroups", r->ncd,
			 r->ncd == 1 ? "" : "s", r->seen.n);
	}
	enforcer_foreach_deny(r->enf, stale_cb, &st);
	for (i = 0; i < st.n; i++)
		enforcer_deny_del(r->enf, st.v[i].cg, &st.v[i].c);
	free(st.v);
}

bool denyset_seen_alive(struct responder *r, uint64_t cgid, const char *path, bool compiled)
{
	if (!path || !*path)
		return contain_cgroup_alive(r, cgid, NULL);
	if (contain_cgroup_alive(r, cgid, path))
		return true;
	if (compiled && r->enf)
		enforcer_clear_cgroup(r->enf, cgid);
	return false;
}

/* is the rule's deny compiled for this cgroup (the kernel refuses by itself)? */
bool denyset_in_kernel(const struct responder *r, const struct rule *ru, uint64_t cgid)
{
	long k = cgset_find(&r->seen, cgid);
	size_t i;

	if (k < 0 || !r->seen.compiled[k])
		return false;
	for (i = 0; i < r->ncd; i++)
		if (r->cd[i].rule_id == ru->id && !strcmp(r->cd[i].name, ru->name))
			return true;
	return false;
}
