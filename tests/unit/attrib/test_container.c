// SPDX-License-Identifier: Apache-2.0
/*
 * agent/attrib/container.c: a table of real cgroup paths (kubelet with the systemd
 * and cgroupfs drivers, containerd, CRI-O, Docker, podman, kind, k3s) with
 * every field asserted, look-alikes that must stay host paths, and the cache
 * on a plain directory tree (no root: ids are inode numbers, resolved by the
 * bounded walk because kernfs handles need cgroup2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"

#define ID   "4f3c2b1a09e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100ffee"
#define ID2  "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9"
#define ID63 "4f3c2b1a09e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100ffe"
#define ID65 ID "0"
#define IDG  "4f3c2b1a09e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100ffeg"
#define IDUP "4F3C2B1A09E8D7C6B5A4938271605F4E3D2C1B0A99887766554433221100FFEE"
#define UIDU "0f1e2d3c_4b5a_6978_8695_a4b3c2d1e0f9" /* systemd unit names */
#define UIDD "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9" /* canonical */
#define UID2U "7c6b5a49_3827_4160_9f8e_7d6c5b4a3928"
#define UIDMIX "0f1e2d3c_4b5a-6978_8695_a4b3c2d1e0f9"

#define SD_BURST "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice"
#define SD_BE "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice"
#define SD_GUAR "/kubepods.slice/kubepods-pod" UIDU ".slice"
#define KIND_BE "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/" \
		"kubelet-kubepods-besteffort-pod" UIDU ".slice"

struct row {
	const char *in;
	const char *path;  /* NULL: same as in */
	bool is_container, is_conmon;
	enum ctr_runtime rt;
	const char *id, *pod;
	enum ctr_qos qos;
};

#define CTR(in_, rt_, id_, pod_, qos_) { in_, NULL, true, false, rt_, id_, pod_, qos_ }
#define CONMON(in_, rt_, id_, pod_, qos_) { in_, NULL, false, true, rt_, id_, pod_, qos_ }
#define HOST(in_) { in_, NULL, false, false, RT_HOST, "", "", QOS_NONE }

static const struct row rows[] = {
	/* containerd, kubelet systemd driver */
	CTR(SD_BURST "/cri-containerd-" ID ".scope", RT_CONTAINERD, ID, UIDD, QOS_BURSTABLE),
	CTR(SD_BE "/cri-containerd-" ID ".scope", RT_CONTAINERD, ID, UIDD, QOS_BESTEFFORT),
	CTR(SD_GUAR "/cri-containerd-" ID ".scope", RT_CONTAINERD, ID, UIDD, QOS_GUARANTEED),
	/* containerd, cgroupfs driver: bare ids under pod<uid> */
	CTR("/kubepods/besteffort/pod" UIDD "/" ID, RT_CONTAINERD, ID, UIDD, QOS_BESTEFFORT),
	CTR("/kubepods/burstable/pod" UIDD "/" ID, RT_CONTAINERD, ID, UIDD, QOS_BURSTABLE),
	CTR("/kubepods/pod" UIDD "/" ID, RT_CONTAINERD, ID, UIDD, QOS_GUARANTEED),
	/* CRI-O: container, its conmon, a nested "container" sub-cgroup */
	CTR(SD_BURST "/crio-" ID ".scope", RT_CRIO, ID, UIDD, QOS_BURSTABLE),
	CONMON(SD_BURST "/crio-conmon-" ID ".scope", RT_CRIO, ID, UIDD, QOS_BURSTABLE),
	CTR(SD_BE "/crio-" ID ".scope/container", RT_CRIO, ID, UIDD, QOS_BESTEFFORT),
	CONMON("/system.slice/crio-conmon-" ID ".scope", RT_CRIO, ID, "", QOS_NONE),
	CTR("/kubepods/besteffort/pod" UIDD "/crio-" ID, RT_CRIO, ID, UIDD, QOS_BESTEFFORT),
	/* Docker: systemd and cgroupfs drivers, cri-dockerd in a pod */
	CTR("/system.slice/docker-" ID ".scope", RT_DOCKER, ID, "", QOS_NONE),
	CTR("/docker/" ID, RT_DOCKER, ID, "", QOS_NONE),
	CTR(SD_BE "/docker-" ID ".scope", RT_DOCKER, ID, UIDD, QOS_BESTEFFORT),
	/* podman: root, rootless, conmon, nested */
	CTR("/machine.slice/libpod-" ID ".scope", RT_PODMAN, ID, "", QOS_NONE),
	CTR("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope",
	    RT_PODMAN, ID, "", QOS_NONE),
	CONMON("/machine.slice/libpod-conmon-" ID ".scope", RT_PODMAN, ID, "", QOS_NONE),
	CONMON("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" ID ".scope",
	       RT_PODMAN, ID, "", QOS_NONE),
	CTR("/machine.slice/libpod-" ID ".scope/container", RT_PODMAN, ID, "", QOS_NONE),
	CTR("/libpod_parent/libpod-" ID, RT_PODMAN, ID, "", QOS_NONE),
	/* kind (kubelet in a slice of its own), k3s (an extra kubepods level) */
	CTR(KIND_BE "/cri-containerd-" ID ".scope", RT_CONTAINERD, ID, UIDD, QOS_BESTEFFORT),
	CTR("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" UIDU ".slice/cri-containerd-" ID
	    ".scope", RT_CONTAINERD, ID, UIDD, QOS_GUARANTEED),
	CTR("/kubepods/kubepods/besteffort/pod" UIDD "/" ID, RT_CONTAINERD, ID, UIDD, QOS_BESTEFFORT),
	CTR("/kubepods/kubepods/pod" UIDD "/" ID, RT_CONTAINERD, ID, UIDD, QOS_GUARANTEED),
	/* runc's "slice:prefix:id" left as a directory name */
	CTR("/system.slice/containerd.service/kubepods-besteffort-pod" UIDU ".slice:cri-containerd:" ID,
	    RT_CONTAINERD, ID, UIDD, QOS_BESTEFFORT),
	CTR("/system.slice/containerd.service/kubepods-pod" UIDU ".slice:cri-containerd:" ID,
	    RT_CONTAINERD, ID, UIDD, QOS_GUARANTEED),
	CTR("/kubepods-burstable-pod" UIDU ".slice:crio:" ID, RT_CRIO, ID, UIDD, QOS_BURSTABLE),
	CTR("/system.slice/system.slice:garden:" ID, RT_OTHER, ID, "", QOS_NONE),
	CTR("/x/:docker:" ID, RT_DOCKER, ID, "", QOS_NONE),
	/* pod UID written with '_' in a cgroupfs name is accepted too */
	CTR("/kubepods/besteffort/pod" UIDU "/" ID, RT_CONTAINERD, ID, UIDD, QOS_BESTEFFORT),
	/* the outermost container decides: inner names are the workload's */
	CTR("/docker/" ID "/docker/" ID2, RT_DOCKER, ID, "", QOS_NONE),
	CTR(SD_BE "/cri-containerd-" ID ".scope/kubepods.slice/kubepods-pod" UID2U
	    ".slice/cri-containerd-" ID2 ".scope", RT_CONTAINERD, ID, UIDD, QOS_BESTEFFORT),
	CTR("/system.slice/docker-" ID ".scope/init.scope", RT_DOCKER, ID, "", QOS_NONE),

	/* host */
	HOST("/"),
	HOST("/init.scope"),
	HOST("/system.slice/sshd.service"),
	HOST("/user.slice/user-0.slice/session-1.scope"),
	HOST("/system.slice/containerd.service"),
	HOST("/kubepods.slice"),
	HOST("/kubepods.slice/kubepods-besteffort.slice"),
	HOST("/kubepods/besteffort"),
	/* look-alikes */
	HOST("/system.slice/docker-" ID63 ".scope"),
	HOST("/system.slice/docker-" ID65 ".scope"),
	HOST("/system.slice/docker-" IDG ".scope"),
	HOST("/system.slice/docker-" IDUP ".scope"),
	HOST("/system.slice/docker-foo.scope"),
	HOST("/system.slice/docker-.scope"),
	HOST("/system.slice/podman-" ID ".scope"),
	HOST("/system.slice/docker-" ID ".scope.bak"),
	HOST("/system.slice/docker_" ID ".scope"),
	HOST("/system.slice/xdocker-" ID ".scope"),
	HOST("/docker/" ID63),
	HOST("/system.slice/" ID),     /* bare id without a pod or docker parent */
	HOST("/" ID),
	HOST("/foo/pod" UIDD "/" ID),  /* pod<uid> not under kubepods */
	HOST("/kubepods/besteffort/pod" UIDMIX "/" ID),
	HOST("/kubepods/besteffort/pod0f1e2d3c.4b5a.6978.8695.a4b3c2d1e0f9/" ID),
	HOST("/kubepods/besteffort/pod0F1E2D3C-4B5A-6978-8695-A4B3C2D1E0F9/" ID),
	HOST("/kubepods/besteffort/pod" UIDD "x/" ID),
	HOST("/kubepods/other/pod" UIDD "/" ID),
	HOST("/kubepods.slice/xkubepods-pod" UIDU ".slice/" ID),
	HOST("/system.slice/kubepods-besteffort-pod" UIDU ".slice:cri-containerd:" ID63),
	HOST("/system.slice/notaslice:cri-containerd:" ID),
	HOST("/a:b:c:" ID),
};

static void check_row(const struct row *r, const struct ctr_info *got)
{
	const char *path = r->path ? r->path : r->in;

	if (strcmp(got->path, path) || got->is_container != r->is_container ||
	    got->is_conmon != r->is_conmon || got->runtime != r->rt ||
	    strcmp(got->container_id, r->id) || strcmp(got->pod_uid, r->pod) || got->qos != r->qos ||
	    got->path_truncated || got->cgroup_id != 0)
		fail_msg("%s\n got: path=%s trunc=%d ctr=%d conmon=%d rt=%s id=%s pod=%s qos=%s",
			 r->in, got->path, got->path_truncated, got->is_container, got->is_conmon,
			 container_runtime_name(got->runtime), got->container_id, got->pod_uid,
			 container_qos_name(got->qos));
}

static void test_table(void **state)
{
	struct ctr_info info;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&info, 0xa5, sizeof(info));
		assert_int_equal(container_parse_path(rows[i].in, &info), 0);
		check_row(&rows[i], &info);
	}
}

/* each row once more, without its leading '/' and with doubled separators */
static void test_normalization(void **state)
{
	struct ctr_info info;
	char buf[1024], *o;
	const char *s;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		o = buf;
		for (s = rows[i].in + 1; *s; s++) {
			*o++ = *s;
			if (*s == '/')
				*o++ = '/';
		}
		*o++ = '/';
		*o = '\0';
		assert_int_equal(container_parse_path(buf, &info), 0);
		check_row(&rows[i], &info);
	}
	assert_int_equal(container_parse_path("", &info), 0);
	assert_string_equal(info.path, "/");
	assert_false(info.is_container);
	assert_int_equal(container_parse_path("///", &info), 0);
	assert_string_equal(info.path, "/");
}

static void test_truncation(void **state)
{
	char in[2048], want[2048];
	struct ctr_info info;
	size_t n = 0;

	/* exactly 511 characters fit */
	memset(in, 0, sizeof(in));
	in[n++] = '/';
	while (n < 511 - strlen("/docker-" ID ".scope"))
		in[n++] = 'a';
	strcat(in, "/docker-" ID ".scope");
	assert_int_equal(strlen(in), 511);
	assert_int_equal(container_parse_path(in, &info), 0);
	assert_false(info.path_truncated);
	assert_string_equal(info.path, in);
	assert_true(info.is_container);
	assert_string_equal(info.container_id, ID);

	/* one more: cut to 511 and flagged, attribution from the whole path */
	memmove(in + 2, in + 1, strlen(in));
	in[1] = 'b';
	assert_int_equal(strlen(in), 512);
	assert_int_equal(container_parse_path(in, &info), 0);
	assert_true(info.path_truncated);
	assert_int_equal(strlen(info.path), 511);
	assert_memory_equal(info.path, in, 511);
	assert_true(info.is_container);
	assert_int_equal(info.runtime, RT_DOCKER);
	assert_string_equal(info.container_id, ID);

	/* a long kubelet path, the container far past the cut */
	snprintf(in, sizeof(in), "/deep");
	while (strlen(in) < 1500)
		strcat(in, "/level");
	strcat(in, SD_BE "/cri-containerd-" ID ".scope/container");
	snprintf(want, sizeof(want), "%s", in);
	assert_int_equal(container_parse_path(in, &info), 0);
	assert_true(info.path_truncated);
	assert_int_equal(strlen(info.path), 511);
	assert_memory_equal(info.path, want, 511);
	assert_true(info.is_container);
	assert_int_equal(info.runtime, RT_CONTAINERD);
	assert_string_equal(info.container_id, ID);
	assert_string_equal(info.pod_uid, UIDD);
	assert_int_equal(info.qos, QOS_BESTEFFORT);

	/* truncation falls inside a separator */
	memset(in, 0, sizeof(in));
	memset(in, 'c', 510);
	in[0] = '/';
	strcat(in, "/x");
	assert_int_equal(container_parse_path(in, &info), 0);
	assert_true(info.path_truncated);
	assert_int_equal(strlen(info.path), 511);
	assert_memory_equal(info.path, in, 511);
}

static void test_names_and_null(void **state)
{
	struct ctr_info info;

	assert_string_equal(container_runtime_name(RT_HOST), "host");
	assert_string_equal(container_runtime_name(RT_CONTAINERD), "containerd");
	assert_string_equal(container_runtime_name(RT_CRIO), "cri-o");
	assert_string_equal(container_runtime_name(RT_DOCKER), "docker");
	assert_string_equal(container_runtime_name(RT_PODMAN), "podman");
	assert_string_equal(container_runtime_name(RT_OTHER), "other");
	assert_string_equal(container_runtime_name((enum ctr_runtime)77), "unknown");
	assert_string_equal(container_qos_name(QOS_NONE), "");
	assert_string_equal(container_qos_name(QOS_GUARANTEED), "guaranteed");
	assert_string_equal(container_qos_name(QOS_BURSTABLE), "burstable");
	assert_string_equal(container_qos_name(QOS_BESTEFFORT), "besteffort");
	assert_string_equal(container_qos_name((enum ctr_qos)9), "");

	assert_int_equal(container_parse_path(NULL, &info), -EINVAL);
	assert_int_equal(container_parse_path("/", NULL), -EINVAL);
}

/* a pod-level cgroup: pod and QoS, no container */
static void test_pod_level(void **state)
{
	struct ctr_info info;

	assert_int_equal(container_parse_path(SD_BURST, &info), 0);
	assert_false(info.is_container);
	assert_false(info.is_conmon);
	assert_int_equal(info.runtime, RT_HOST);
	assert_string_equal(info.container_id, "");
	assert_string_equal(info.pod_uid, UIDD);
	assert_int_equal(info.qos, QOS_BURSTABLE);

	assert_int_equal(container_parse_path("/kubepods/pod" UIDD, &info), 0);
	assert_false(info.is_container);
	assert_string_equal(info.pod_uid, UIDD);
	assert_int_equal(info.qos, QOS_GUARANTEED);
}

/* ---- the cache on a plain directory tree ------------------------------ */

struct tree {
	char root[PATH_MAX];
};

static void mkdirs(const char *root, const char *rel)
{
	char p[PATH_MAX], *s;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
	if (mkdir(p, 0755) && errno != EEXIST)
		fail_msg("mkdir %s: %s", p, strerror(errno));
}

static uint64_t ino_of(const char *root, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	if (stat(p, &st))
		fail_msg("stat %s: %s", p, strerror(errno));
	return (uint64_t)st.st_ino;
}

static void rmdir_rel(const char *root, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	if (rmdir(p))
		fail_msg("rmdir %s: %s", p, strerror(errno));
}

static int rm_tree(const char *p)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	return system(cmd);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	const char *tmp = getenv("TMPDIR");

	if (!t)
		return -1;
	snprintf(t->root, sizeof(t->root), "%s/ng-ctr-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t->root)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;

	if (t) {
		rm_tree(t->root);
		free(t);
	}
	return 0;
}

#define SCOPE SD_BE "/cri-containerd-" ID ".scope"

static void test_cache_new_args(void **state)
{
	struct tree *t = *state;
	char p[PATH_MAX + 8];

	errno = 0;
	assert_null(container_cache_new(NULL, 10));
	assert_int_equal(errno, EINVAL);
	assert_null(container_cache_new("", 10));
	assert_int_equal(errno, EINVAL);
	assert_null(container_cache_new(t->root, 0));
	assert_int_equal(errno, EINVAL);
	assert_null(container_cache_new(t->root, (1u << 20) + 1));
	assert_int_equal(errno, EINVAL);
	snprintf(p, sizeof(p), "%s/nope", t->root);
	assert_null(container_cache_new(p, 10));
	assert_int_equal(errno, ENOENT);

	/* destructors and getters take NULL */
	container_cache_free(NULL);
	container_cache_forget(NULL, 1);
	container_cache_use_handles(NULL, true);
	assert_int_equal(container_cache_size(NULL), 0);
	assert_int_equal(container_cache_sweep(NULL), -EINVAL);
}

static void test_cache_lookup_sweep(void **state)
{
	struct tree *t = *state;
	struct container_cache_stats st;
	struct ctr_info info;
	struct container_cache *c;
	uint64_t id, root_id;
	char f[PATH_MAX];
	int fd;

	mkdirs(t->root, SCOPE "/container");
	id = ino_of(t->root, SCOPE);
	root_id = ino_of(t->root, "");
	c = container_cache_new(t->root, 64);
	assert_non_null(c);
	container_cache_get_stats(c, &st);
	assert_false(st.handles); /* not a cgroup2 mount */

	assert_int_equal(container_cache_lookup(NULL, id, &info), -EINVAL);
	assert_int_equal(container_cache_lookup(c, id, NULL), -EINVAL);

	memset(&info, 0xa5, sizeof(info));
	assert_int_equal(container_cache_lookup(c, id, &info), 0);
	assert_int_equal(info.cgroup_id, id);
	assert_string_equal(info.path, SCOPE);
	assert_false(info.path_truncated);
	assert_true(info.is_container);
	assert_false(info.is_conmon);
	assert_int_equal(info.runtime, RT_CONTAINERD);
	assert_string_equal(info.container_id, ID);
	assert_string_equal(info.pod_uid, UIDD);
	assert_int_equal(info.qos, QOS_BESTEFFORT);
	assert_int_equal(container_cache_size(c), 1);

	/* second time from the cache */
	memset(&info, 0, sizeof(info));
	assert_int_equal(container_cache_lookup(c, id, &info), 0);
	assert_string_equal(info.path, SCOPE);
	container_cache_get_stats(c, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.by_walk, 1);
	assert_int_equal(st.by_handle, 0);

	/* the mount itself is "/" */
	assert_int_equal(container_cache_lookup(c, root_id, &info), 0);
	assert_string_equal(info.path, "/");
	assert_false(info.is_container);
	assert_int_equal(info.runtime, RT_HOST);
	assert_int_equal(container_cache_size(c), 2);

	/* a sub-cgroup of the container */
	assert_int_equal(container_cache_lookup(c, ino_of(t->root, SCOPE "/container"), &info), 0);
	assert_string_equal(info.path, SCOPE "/container");
	assert_true(info.is_container);
	assert_string_equal(info.container_id, ID);
	assert_int_equal(container_cache_size(c), 3);

	/* ids of files, 0 and unknown ids are not cgroups */
	snprintf(f, sizeof(f), "%s" SD_BE "/cgroup.procs", t->root);
	fd = open(f, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(container_cache_lookup(c, ino_of(t->root, SD_BE "/cgroup.procs"), &info), -ENOENT);
	assert_int_equal(container_cache_lookup(c, 0, &info), -ENOENT);
	assert_int_equal(container_cache_lookup(c, UINT64_MAX - 3, &info), -ENOENT);
	assert_int_equal(container_cache_size(c), 3);

	/* nothing gone: sweep keeps everything */
	assert_int_equal(container_cache_sweep(c), 0);
	assert_int_equal(container_cache_size(c), 3);

	/* the container goes away */
	rmdir_rel(t->root, SCOPE "/container");
	rmdir_rel(t->root, SCOPE);
	assert_int_equal(container_cache_sweep(c), 2);
	assert_int_equal(container_cache_size(c), 1);
	assert_int_equal(container_cache_lookup(c, id, &info), -ENOENT);
	assert_int_equal(container_cache_size(c), 1);
	container_cache_get_stats(c, &st);
	assert_int_equal(st.swept, 2);

	/* forget */
	container_cache_forget(c, root_id);
	container_cache_forget(c, 12345); /* unknown: no-op */
	assert_int_equal(container_cache_size(c), 0);
	container_cache_free(c);
}

static void test_cache_lru(void **state)
{
	struct tree *t = *state;
	struct container_cache_stats st;
	struct ctr_info info;
	struct container_cache *c;
	uint64_t a, b, d;

	mkdirs(t->root, "/docker/" ID);
	mkdirs(t->root, "/docker/" ID2);
	mkdirs(t->root, "/system.slice/sshd.service");
	a = ino_of(t->root, "/docker/" ID);
	b = ino_of(t->root, "/docker/" ID2);
	d = ino_of(t->root, "/system.slice/sshd.service");
	c = container_cache_new(t->root, 2);
	assert_non_null(c);
	assert_int_equal(container_cache_lookup(c, a, &info), 0);
	assert_int_equal(container_cache_lookup(c, b, &info), 0);
	assert_int_equal(container_cache_lookup(c, a, &info), 0); /* a most recent */
	assert_int_equal(container_cache_lookup(c, d, &info), 0); /* evicts b */
	assert_string_equal(info.path, "/system.slice/sshd.service");
	assert_int_equal(container_cache_size(c), 2);
	container_cache_get_stats(c, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);

	assert_int_equal(container_cache_lookup(c, a, &info), 0); /* still cached */
	assert_string_equal(info.container_id, ID);
	container_cache_get_stats(c, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(container_cache_lookup(c, b, &info), 0); /* resolved again, evicts d */
	assert_string_equal(info.container_id, ID2);
	assert_int_equal(info.runtime, RT_DOCKER);
	container_cache_get_stats(c, &st);
	assert_int_equal(st.misses, 4);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(container_cache_size(c), 2);
	container_cache_free(c);
}

/* a directory replaced at the same path is a new cgroup: the entry goes */
static void test_cache_sweep_replaced(void **state)
{
	struct tree *t = *state;
	struct ctr_info info;
	struct container_cache *c;
	char a[PATH_MAX], b[PATH_MAX];
	uint64_t old_id, new_id;
	int fd;

	mkdirs(t->root, "/docker/" ID);
	mkdirs(t->root, "/docker/" ID2);
	old_id = ino_of(t->root, "/docker/" ID);
	c = container_cache_new(t->root, 8);
	assert_non_null(c);
	assert_int_equal(container_cache_lookup(c, old_id, &info), 0);
	assert_int_equal(container_cache_lookup(c, ino_of(t->root, "/docker/" ID2), &info), 0);

	/* made while the old one exists, so its inode differs */
	mkdirs(t->root, "/docker/new");
	new_id = ino_of(t->root, "/docker/new");
	assert_true(new_id != old_id);
	snprintf(a, sizeof(a), "%s/docker/new", t->root);
	snprintf(b, sizeof(b), "%s/docker/" ID, t->root);
	rmdir_rel(t->root, "/docker/" ID);
	assert_int_equal(rename(a, b), 0);
	/* and a file where a directory was */
	rmdir_rel(t->root, "/docker/" ID2);
	snprintf(a, sizeof(a), "%s/docker/" ID2, t->root);
	fd = open(a, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(container_cache_sweep(c), 2);
	assert_int_equal(container_cache_size(c), 0);
	assert_int_equal(container_cache_lookup(c, new_id, &info), 0);
	assert_int_equal(info.cgroup_id, new_id);
	assert_string_equal(info.path, "/docker/" ID);
	assert_int_equal(container_cache_sweep(c), 0);
	container_cache_free(c);
}

/* deeper than the walk goes: not found, and the walk says it was cut */
static void test_cache_walk_bounds(void **state)
{
	struct tree *t = *state;
	struct container_cache_stats st;
	struct ctr_info info;
	struct container_cache *c;
	char rel[PATH_MAX] = "";
	uint64_t shallow, deep;
	int i;

	for (i = 0; i < 31; i++)
		strcat(rel, "/d");
	mkdirs(t->root, rel);
	shallow = ino_of(t->root, rel);
	for (; i < 40; i++)
		strcat(rel, "/d");
	mkdirs(t->root, rel);
	deep = ino_of(t->root, rel);

	c = container_cache_new(t->root, 8);
	assert_non_null(c);
	assert_int_equal(container_cache_lookup(c, shallow, &info), 0);
	assert_int_equal(strlen(info.path), 31 * 2);
	assert_int_equal(container_cache_lookup(c, deep, &info), -ENOENT);
	container_cache_get_stats(c, &st);
	assert_true(st.walks_truncated >= 1);
	assert_int_equal(st.not_found, 1);
	container_cache_free(c);
}

#define CRIO_POD "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID2U ".slice"
/* ID3 shares its first 12 digits with ID */
#define ID3 "4f3c2b1a09e8ffffffffffffffffffffffffffffffffffffffffffffffffffff"

static void test_find_container(void **state)
{
	struct tree *t = *state;
	struct ctr_info info;
	struct container_cache *c;
	uint64_t scope_id, crio_id;

	mkdirs(t->root, SCOPE);
	mkdirs(t->root, "/system.slice/docker-" ID3 ".scope");
	mkdirs(t->root, CRIO_POD "/crio-" ID2 ".scope/container");
	mkdirs(t->root, CRIO_POD "/crio-conmon-" ID2 ".scope");
	scope_id = ino_of(t->root, SCOPE);
	crio_id = ino_of(t->root, CRIO_POD "/crio-" ID2 ".scope");
	c = container_cache_new(t->root, 64);
	assert_non_null(c);

	/* arguments */
	assert_int_equal(container_cache_find_container(NULL, ID, &info), -EINVAL);
	assert_int_equal(container_cache_find_container(c, NULL, &info), -EINVAL);
	assert_int_equal(container_cache_find_container(c, ID, NULL), -EINVAL);
	assert_int_equal(container_cache_find_container(c, "4f3c2b1a09e", &info), -EINVAL); /* 11 */
	assert_int_equal(container_cache_find_container(c, "", &info), -EINVAL);
	assert_int_equal(container_cache_find_container(c, "4f3c2b1a09eg", &info), -EINVAL);
	assert_int_equal(container_cache_find_container(c, "4f3c2b1a09e-", &info), -EINVAL);
	assert_int_equal(container_cache_find_container(c, ID65, &info), -EINVAL);
	assert_int_equal(container_cache_size(c), 0);

	/* full id, from disk */
	memset(&info, 0xa5, sizeof(info));
	assert_int_equal(container_cache_find_container(c, ID, &info), 0);
	assert_int_equal(info.cgroup_id, scope_id);
	assert_string_equal(info.path, SCOPE);
	assert_true(info.is_container);
	assert_int_equal(info.runtime, RT_CONTAINERD);
	assert_string_equal(info.container_id, ID);
	assert_string_equal(info.pod_uid, UIDD);
	assert_int_equal(info.qos, QOS_BESTEFFORT);
	assert_int_equal(container_cache_size(c), 1); /* and now cached */
	assert_int_equal(container_cache_find_container(c, ID, &info), 0);
	assert_int_equal(info.cgroup_id, scope_id);

	/* 12 digits shared by two containers */
	assert_int_equal(container_cache_find_container(c, "4f3c2b1a09e8", &info), -EEXIST);
	/* one more digit tells them apart, upper case is folded */
	assert_int_equal(container_cache_find_container(c, "4f3c2b1a09e8d", &info), 0);
	assert_string_equal(info.container_id, ID);
	assert_int_equal(container_cache_find_container(c, "4F3C2B1A09E8F", &info), 0);
	assert_string_equal(info.container_id, ID3);
	assert_int_equal(info.runtime, RT_DOCKER);
	assert_string_equal(info.path, "/system.slice/docker-" ID3 ".scope");

	/* CRI-O: the scope, not its conmon nor the nested sub-cgroup */
	assert_int_equal(container_cache_find_container(c, "9a8b7c6d5e4f", &info), 0);
	assert_int_equal(info.cgroup_id, crio_id);
	assert_string_equal(info.path, CRIO_POD "/crio-" ID2 ".scope");
	assert_true(info.is_container);
	assert_false(info.is_conmon);
	assert_int_equal(info.runtime, RT_CRIO);
	assert_string_equal(info.pod_uid, "7c6b5a49-3827-4160-9f8e-7d6c5b4a3928");
	assert_int_equal(info.qos, QOS_BURSTABLE);

	/* only the nested sub-cgroup cached: the full id still gives the scope */
	container_cache_forget(c, crio_id);
	assert_int_equal(container_cache_lookup(c, ino_of(t->root, CRIO_POD "/crio-" ID2 ".scope/container"),
					  &info), 0);
	assert_int_equal(container_cache_find_container(c, ID2, &info), 0);
	assert_int_equal(info.cgroup_id, crio_id);
	assert_string_equal(info.path, CRIO_POD "/crio-" ID2 ".scope");

	/* nobody */
	assert_int_equal(container_cache_find_container(c, "0123456789ab", &info), -ENOENT);
	assert_int_equal(container_cache_find_container(c, ID63 "1", &info), -ENOENT);

	/* a cached container whose cgroup is gone is not found */
	rmdir_rel(t->root, SCOPE);
	assert_int_equal(container_cache_find_container(c, ID, &info), -ENOENT);
	/* and the prefix is no longer ambiguous */
	assert_int_equal(container_cache_find_container(c, "4f3c2b1a09e8", &info), 0);
	assert_string_equal(info.container_id, ID3);
	container_cache_free(c);
}

/* names nested inside a container are the workload's: never a container */
static void test_find_ignores_nested(void **state)
{
	struct tree *t = *state;
	struct ctr_info info;
	struct container_cache *c;

	mkdirs(t->root, "/docker/" ID "/docker/" ID2);
	mkdirs(t->root, "/system.slice/docker-" ID3 ".scope/kubepods.slice/kubepods-pod" UIDU
			".slice/cri-containerd-" ID2 ".scope");
	c = container_cache_new(t->root, 64);
	assert_non_null(c);
	assert_int_equal(container_cache_find_container(c, ID2, &info), -ENOENT);
	assert_int_equal(container_cache_find_container(c, "9a8b7c6d5e4f", &info), -ENOENT);
	assert_int_equal(container_cache_find_container(c, ID, &info), 0);
	assert_string_equal(info.path, "/docker/" ID);
	/* the workload's sub-cgroup is attributed to the outer container */
	assert_int_equal(container_cache_lookup(c, ino_of(t->root, "/docker/" ID "/docker/" ID2), &info), 0);
	assert_string_equal(info.container_id, ID);
	assert_int_equal(info.runtime, RT_DOCKER);
	container_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_normalization),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_names_and_null),
		cmocka_unit_test(test_pod_level),
		cmocka_unit_test_setup_teardown(test_cache_new_args, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cache_lookup_sweep, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cache_lru, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cache_sweep_replaced, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cache_walk_bounds, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_find_container, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_find_ignores_nested, tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
