// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrib.h"
#include "podcache.h"

/* the host tree a process belongs to: its ancestor just below init (or the
 * topmost ancestor the process table knows) */
static const struct proc *host_root(const struct attrib_ctx *cx)
{
	const struct proc *root = cx->nchain ? cx->chain[cx->nchain - 1] : NULL;

	if (cx->nchain >= 2 && (root->pid == 1 || root->ppid == 0))
		root = cx->chain[cx->nchain - 2];
	return root;
}

void attrib_event(const struct attrib_src *src, const struct ng_event *ev, struct attrib_ctx *cx)
{
	const struct ng_hdr *h = &ev->hdr;
	const struct proc *root;
	struct inc_key_of k = { 0 };
	size_t want = (size_t)src->depth + 1;

	cx->ev = ev;
	cx->nchain = src->pt ? proctab_ancestry(src->pt, h->pid, cx->chain,
						want < ATTRIB_CHAIN_MAX ? want : ATTRIB_CHAIN_MAX)
			     : 0;
	cx->have_ci = src->ctr && container_cache_lookup(src->ctr, h->cgroup_id, &cx->ci) == 0;
	cx->is_container = (h->flags & NG_HF_CONTAINER) || (cx->have_ci && cx->ci.is_container);
	cx->pod = NULL;
	cx->cidx = -1;
	if (cx->have_ci && src->pods)
		cx->pod = podcache_resolve(src->pods, cx->ci.container_id, cx->ci.pod_uid, &cx->cidx);

	k.container_id = cx->have_ci ? cx->ci.container_id : NULL;
	k.is_container = cx->is_container;
	k.cgroup_id = h->cgroup_id;
	root = host_root(cx);
	k.root_pid = root ? root->pid : h->pid;
	k.root_start_ns = root ? root->start_ns : 0;
	incident_key(cx->key, sizeof(cx->key), &k);
}

void attrib_to_incident(const struct attrib_ctx *cx, struct inc_attr *attr)
{
	const struct ctr_info *ci = &cx->ci;

	memset(attr, 0, sizeof(*attr));
	attr->is_container = cx->is_container;
	attr->cgroup_id = cx->ev->hdr.cgroup_id;
	if (!cx->have_ci)
		return;
	snprintf(attr->runtime, sizeof(attr->runtime), "%s", container_runtime_name(ci->runtime));
	snprintf(attr->container_id, sizeof(attr->container_id), "%s", ci->container_id);
	snprintf(attr->pod_uid, sizeof(attr->pod_uid), "%s", ci->pod_uid);
	snprintf(attr->qos, sizeof(attr->qos), "%s", container_qos_name(ci->qos));
	snprintf(attr->cgroup_path, sizeof(attr->cgroup_path), "%s", ci->path);
	/* incident_mgr_detect copies these */
	if (cx->pod) {
		attr->pod_namespace = (char *)cx->pod->namespace;
		attr->pod_name = (char *)cx->pod->name;
		attr->pod_json = pod_info_json_str(cx->pod, cx->cidx);
	}
}

size_t attrib_tree(const struct attrib_ctx *cx, struct inc_proc *out)
{
	size_t i;

	for (i = 0; i < cx->nchain; i++) {
		const struct proc *p = cx->chain[i];

		out[i] = (struct inc_proc){ .pid = p->pid, .ppid = p->ppid, .uid = p->creds.uid,
					    .euid = p->creds.euid, .start_ns = p->start_ns,
					    .exe = p->exe, .cmdline = p->cmdline };
	}
	return cx->nchain;
}
