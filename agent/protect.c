// SPDX-License-Identifier: Apache-2.0
/*
 * Cgroups the agent never contains: its own, and the pod cgroups of pods in
 * protected namespaces, kept in the sensors' ng_protected map and the
 * enforcer's exempt set as pods come and go (pod cache, and inotify on the
 * kubelet's QoS cgroups so a new pod is covered as its cgroup appears).
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_int.h"
#include "enforcer.h"
#include "incident.h"
#include "log.h"
#include "podcache.h"
#include "procfs.h"
#include "respond.h"
#include "sensor.h"

/* the agent's own cgroup id: the inode of its cgroup v2 directory */
uint64_t self_cgroup_id(const char *cgroup2)
{
	char rel[PATH_MAX], path[PATH_MAX];
	struct stat st;

	if (procfs_cgroup_path("/proc/self/cgroup", rel, sizeof(rel)))
		return 0;
	snprintf(path, sizeof(path), "%s%s", cgroup2, rel);
	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

/*
 * Never contain: a cgroup in the sensors' ng_protected map is exempt from
 * in-kernel kills (the kill is reported as "protected"). The agent's own
 * cgroup goes in at start; protected-namespace cgroups go in once pod
 * attribution knows the namespace (the pod cache calls this).
 */
void protect_cgroup(struct agent *a, uint64_t cgid, const char *what)
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

	if (p->deleted || !decide_namespace_protected(&a->pol->settings, p->namespace))
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
void prot_watch(struct agent *a)
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
bool prot_news(struct agent *a)
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

/* at shutdown: what the protection holds in user space (the list of
 * protected pods, the inotify on the QoS cgroups) */
void protect_free(struct agent *a)
{
	free(a->prot);
	if (a->prot_ino >= 0)
		close(a->prot_ino);
}

/*
 * Once a second: the pod cgroups of this node's pods in protected
 * namespaces go into the kernel's protected and exempt sets (checked with
 * every ancestor of the task's cgroup, so their containers are covered from
 * their first instruction); those of pods gone, or no longer protected
 * after a reload, come out.
 */
void protect_pods(struct agent *a)
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
void protect_known_namespaces(struct agent *a)
{
	struct incident *inc;

	for (inc = incident_mgr_first(a->im); inc; inc = inc->next)
		if ((inc->status == INC_OPEN || inc->status == INC_CONTAINED) && inc->attr.cgroup_id &&
		    decide_namespace_protected(&a->pol->settings, inc->attr.pod_namespace))
			protect_cgroup(a, inc->attr.cgroup_id, inc->attr.pod_namespace);
}
