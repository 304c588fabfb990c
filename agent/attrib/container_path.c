// SPDX-License-Identifier: Apache-2.0
/*
 * Container attribution, the pure part: a cgroup path (relative to the
 * cgroup v2 mount) to runtime, container id, pod UID and QoS class.
 *
 * Trust: the outermost container-shaped component of a path decides. A
 * workload with a delegated cgroup subtree can create sub-cgroups with any
 * name (including another container's), so nothing below the first container
 * component is believed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "container_int.h"

/* ---- path parsing ---------------------------------------------------- */

struct comp {
	const char *s;
	size_t n;
};

static bool comp_is(const struct comp *c, const char *lit)
{
	size_t n = strlen(lit);

	return c->s && c->n == n && memcmp(c->s, lit, n) == 0;
}

static bool has_suffix(const char *s, size_t n, const char *sfx)
{
	size_t k = strlen(sfx);

	return n >= k && memcmp(s + n - k, sfx, k) == 0;
}

/* exactly 64 lowercase hex digits */
static bool is_id64(const char *s, size_t n)
{
	size_t i;

	if (n != CTR_ID_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!lower_hex(s[i]))
			return false;
	return true;
}

/*
 * 8-4-4-4-12 lowercase hex; separators all '-' (cgroupfs) or all '_'
 * (systemd unit names, where '-' means a level of the hierarchy).
 */
static bool parse_uid(const char *s, size_t n, char out[37])
{
	char sep;
	size_t i;

	if (n != 36)
		return false;
	sep = s[8];
	if (sep != '-' && sep != '_')
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != sep)
				return false;
			out[i] = '-';
		} else {
			if (!lower_hex(s[i]))
				return false;
			out[i] = s[i];
		}
	}
	out[36] = '\0';
	return true;
}

struct pod {
	bool found;
	char uid[37];
	enum ctr_qos qos;
};

/*
 * systemd driver: [<anything>-]kubepods[-burstable|-besteffort]-pod<uid>.slice
 * (kind and kubelet-in-a-slice setups prefix "kubelet-").
 */
static bool parse_pod_slice(const char *s, size_t n, struct pod *p)
{
	static const struct {
		const char *head;
		enum ctr_qos qos;
	} heads[] = {
		{ "kubepods-burstable", QOS_BURSTABLE },
		{ "kubepods-besteffort", QOS_BESTEFFORT },
		{ "kubepods", QOS_GUARANTEED },
	};
	size_t i, hn;

	if (!has_suffix(s, n, ".slice"))
		return false;
	n -= strlen(".slice");
	if (n < 36 + 4)
		return false;
	if (!parse_uid(s + n - 36, 36, p->uid))
		return false;
	n -= 36;
	if (memcmp(s + n - 4, "-pod", 4) != 0)
		return false;
	n -= 4;
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		hn = strlen(heads[i].head);
		if (!has_suffix(s, n, heads[i].head))
			continue;
		if (n > hn && s[n - hn - 1] != '-')
			continue;
		p->qos = heads[i].qos;
		p->found = true;
		return true;
	}
	return false;
}

/* cgroupfs driver: .../kubepods[/burstable|/besteffort]/pod<uid> */
static bool parse_pod_dir(const struct comp *c, const struct comp *parent,
			  const struct comp *grand, struct pod *p)
{
	if (!c->s || c->n != 39 || memcmp(c->s, "pod", 3) != 0)
		return false;
	if (comp_is(parent, "kubepods"))
		p->qos = QOS_GUARANTEED;
	else if (comp_is(parent, "burstable") && comp_is(grand, "kubepods"))
		p->qos = QOS_BURSTABLE;
	else if (comp_is(parent, "besteffort") && comp_is(grand, "kubepods"))
		p->qos = QOS_BESTEFFORT;
	else
		return false;
	if (!parse_uid(c->s + 3, 36, p->uid))
		return false;
	p->found = true;
	return true;
}

static bool parse_pod(const struct comp *c, const struct comp *parent, const struct comp *grand,
		      struct pod *p)
{
	struct pod t = { 0 };

	if (!c->s)
		return false;
	if (!parse_pod_slice(c->s, c->n, &t) && !parse_pod_dir(c, parent, grand, &t))
		return false;
	*p = t;
	return true;
}

static const struct {
	const char *prefix; /* as in "<prefix>-<id>.scope" and "slice:<prefix>:<id>" */
	enum ctr_runtime rt;
	bool conmon;
} runtimes[] = {
	{ "cri-containerd", RT_CONTAINERD, false },
	{ "crio-conmon", RT_CRIO, true },
	{ "crio", RT_CRIO, false },
	{ "docker", RT_DOCKER, false },
	{ "libpod-conmon", RT_PODMAN, true },
	{ "libpod", RT_PODMAN, false },
};

struct ctr {
	bool found;
	enum ctr_runtime rt;
	bool conmon;
	char id[65];
	struct pod pod; /* from a "slice:prefix:id" component */
};

/* a known runtime prefix sets k->rt and k->conmon */
static bool runtime_of(const char *prefix, size_t n, struct ctr *k)
{
	size_t i;

	for (i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		if (strlen(runtimes[i].prefix) != n || memcmp(prefix, runtimes[i].prefix, n) != 0)
			continue;
		k->rt = runtimes[i].rt;
		k->conmon = runtimes[i].conmon;
		return true;
	}
	return false;
}

static void set_id(struct ctr *k, const char *s)
{
	memcpy(k->id, s, CTR_ID_LEN);
	k->id[CTR_ID_LEN] = '\0';
	k->found = true;
}

/* <prefix>-<id>[.scope] with a known prefix */
static bool parse_ctr_named(const char *s, size_t n, struct ctr *k)
{
	size_t pn;

	if (has_suffix(s, n, ".scope"))
		n -= strlen(".scope");
	if (n <= CTR_ID_LEN + 1 || !is_id64(s + n - CTR_ID_LEN, CTR_ID_LEN))
		return false;
	pn = n - CTR_ID_LEN - 1;
	if (s[pn] != '-' || !runtime_of(s, pn, k))
		return false;
	set_id(k, s + n - CTR_ID_LEN);
	return true;
}

/*
 * runc's systemd cgroupsPath "slice:prefix:id" left as a directory name, e.g.
 * kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>. The slice is empty
 * or a .slice unit; an unknown prefix is RT_OTHER.
 */
static bool parse_ctr_colon(const char *s, size_t n, struct ctr *k)
{
	const char *c1, *c2;
	size_t sn, pn;

	c1 = memchr(s, ':', n);
	if (!c1)
		return false;
	sn = (size_t)(c1 - s);
	c2 = memchr(c1 + 1, ':', n - sn - 1);
	if (!c2)
		return false;
	pn = (size_t)(c2 - c1 - 1);
	if (!is_id64(c2 + 1, n - (size_t)(c2 + 1 - s)))
		return false;
	if (sn && !has_suffix(s, sn, ".slice"))
		return false;
	if (!runtime_of(c1 + 1, pn, k))
		k->rt = RT_OTHER;
	if (sn)
		parse_pod_slice(s, sn, &k->pod);
	set_id(k, c2 + 1);
	return true;
}

/*
 * Is c (with its parent and grandparent) a container component? A bare id
 * needs context: a pod directly above it (cgroupfs kubelet: containerd, or
 * cri-dockerd, which looks the same) or Docker's cgroupfs parent "docker".
 */
static bool parse_ctr(const struct comp *c, const struct comp *parent, const struct comp *grand,
		      const struct comp *great, struct ctr *k)
{
	struct pod p = { 0 };

	memset(k, 0, sizeof(*k));
	if (is_id64(c->s, c->n)) {
		if (parse_pod(parent, grand, great, &p))
			k->rt = RT_CONTAINERD;
		else if (comp_is(parent, "docker"))
			k->rt = RT_DOCKER;
		else
			return false;
		set_id(k, c->s);
		return true;
	}
	if (memchr(c->s, ':', c->n))
		return parse_ctr_colon(c->s, c->n, k);
	return parse_ctr_named(c->s, c->n, k);
}

/* normalized length of the path up to and including the container component */
int container_parse_path_end(const char *cgpath, struct ctr_info *out, size_t *ctr_end)
{
	struct comp win[4] = { { 0 } }; /* current, parent, grandparent, great */
	struct pod first_pod = { 0 };
	struct ctr k = { 0 };
	const char *s;
	size_t len = 0, n;

	if (!cgpath || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (ctr_end)
		*ctr_end = 0;

	for (s = cgpath; *s;) {
		if (*s == '/') {
			s++;
			continue;
		}
		n = strcspn(s, "/");
		win[3] = win[2];
		win[2] = win[1];
		win[1] = win[0];
		win[0] = (struct comp){ s, n };

		/* normalized copy, flagged when cut */
		if (len + 1 + n < sizeof(out->path)) {
			out->path[len] = '/';
			memcpy(out->path + len + 1, s, n);
		} else if (!out->path_truncated) {
			size_t room = sizeof(out->path) - 1 - len;

			if (room) {
				out->path[len] = '/';
				memcpy(out->path + len + 1, s, room - 1);
			}
			out->path_truncated = true;
		}
		len += 1 + n;

		if (!k.found && parse_ctr(&win[0], &win[1], &win[2], &win[3], &k)) {
			if (ctr_end)
				*ctr_end = len;
		} else if (!k.found && !first_pod.found) {
			parse_pod(&win[0], &win[1], &win[2], &first_pod);
		}
		s += n;
	}
	if (len == 0)
		memcpy(out->path, "/", 2);
	else
		out->path[out->path_truncated ? sizeof(out->path) - 1 : len] = '\0';

	if (!first_pod.found && k.found)
		first_pod = k.pod;
	if (first_pod.found) {
		memcpy(out->pod_uid, first_pod.uid, sizeof(out->pod_uid));
		out->qos = first_pod.qos;
	}
	if (k.found) {
		out->runtime = k.rt;
		out->is_conmon = k.conmon;
		out->is_container = !k.conmon;
		memcpy(out->container_id, k.id, sizeof(out->container_id));
	}
	return 0;
}

int container_parse_path(const char *cgpath, struct ctr_info *out)
{
	return container_parse_path_end(cgpath, out, NULL);
}

const char *container_runtime_name(enum ctr_runtime r)
{
	switch (r) {
	case RT_HOST: return "host";
	case RT_CONTAINERD: return "containerd";
	case RT_CRIO: return "cri-o";
	case RT_DOCKER: return "docker";
	case RT_PODMAN: return "podman";
	case RT_OTHER: return "other";
	}
	return "unknown";
}

const char *container_qos_name(enum ctr_qos q)
{
	switch (q) {
	case QOS_NONE: return "";
	case QOS_GUARANTEED: return "guaranteed";
	case QOS_BURSTABLE: return "burstable";
	case QOS_BESTEFFORT: return "besteffort";
	}
	return "";
}
