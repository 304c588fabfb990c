// SPDX-License-Identifier: Apache-2.0
/*
 * agent/attrib/container.c on real cgroups (root): kubelet-shaped cgroups made
 * under the cgroup v2 mount found in /proc/self/mountinfo, ids taken from
 * stat(2), then lookup through kernfs handles and through the walk, sweep
 * after rmdir, and find-by-prefix. Every cgroup made here is removed at the
 * end, also when an assertion fails (group teardown and atexit).
 *
 * Without root, or without a cgroup v2 mount, prints SKIPPED and fails unless
 * NODEGUARD_ALLOW_SKIP=1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "container.h"
#include "probe.h"

static char mnt[PATH_MAX];

/* directories this process made, in creation order (parents first) */
#define MAX_MADE 64
static char *made[MAX_MADE];
static int nmade;

static bool has_subdirs(const char *p)
{
	struct dirent *de;
	bool r = false;
	DIR *d = opendir(p);

	while (d && !r && (de = readdir(d)))
		r = de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return r;
}

static void rmdir_retry(const char *p)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 100; i++) {
		if (rmdir(p) == 0 || errno == ENOENT)
			return;
		/* a parent another test (or run) still uses: not ours to remove */
		if (errno == ENOTEMPTY || errno == EEXIST || (errno == EBUSY && has_subdirs(p)))
			return;
		if (errno != EBUSY)
			break;
		/* a process that just exited may still count */
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "test_container: leaving %s: %s\n", p, strerror(errno));
}

static void cleanup_all(void)
{
	while (nmade > 0) {
		nmade--;
		rmdir_retry(made[nmade]);
		free(made[nmade]);
		made[nmade] = NULL;
	}
}

static void abs_path(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s%s", mnt, rel);
}

/*
 * mkdir -p of rel (starts with '/') below the mount. Parents that already
 * exist (shared with other tests) are left alone; a parent removed under us by
 * another test's cleanup is made again.
 */
static uint64_t mk_cgroup(const char *rel)
{
	char p[PATH_MAX], *s;
	struct stat st;
	int attempt;

	for (attempt = 0; attempt < 20; attempt++) {
		abs_path(p, sizeof(p), rel);
		for (s = p + strlen(mnt) + 1;; s++) {
			char *slash = strchr(s, '/');

			if (slash)
				*slash = '\0';
			if (mkdir(p, 0755) == 0) {
				assert_true(nmade < MAX_MADE);
				made[nmade] = strdup(p);
				assert_non_null(made[nmade]);
				nmade++;
			} else if (errno != EEXIST) {
				if (errno == ENOENT)
					break; /* parent vanished: again */
				fail_msg("mkdir %s: %s", p, strerror(errno));
			}
			if (!slash) {
				if (stat(p, &st))
					fail_msg("stat %s: %s", p, strerror(errno));
				return (uint64_t)st.st_ino;
			}
			*slash = '/';
			s = slash;
		}
	}
	fail_msg("mkdir -p %s kept racing", rel);
	return 0;
}

/* remove one cgroup we made, now */
static void rm_cgroup(const char *rel)
{
	char p[PATH_MAX];
	int i;

	abs_path(p, sizeof(p), rel);
	if (rmdir(p))
		fail_msg("rmdir %s: %s", p, strerror(errno));
	for (i = 0; i < nmade; i++)
		if (!strcmp(made[i], p)) {
			free(made[i]);
			memmove(made + i, made + i + 1, (size_t)(nmade - i - 1) * sizeof(made[0]));
			nmade--;
			break;
		}
}

static uint64_t ino_of(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	abs_path(p, sizeof(p), rel);
	if (stat(p, &st))
		fail_msg("stat %s: %s", p, strerror(errno));
	return (uint64_t)st.st_ino;
}

static void rand_bytes(unsigned char *b, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = getrandom(b + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r > 0);
		got += (size_t)r;
	}
}

static void rand_hex(char *out, size_t ndigits)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char b[64];
	size_t i;

	rand_bytes(b, (ndigits + 1) / 2);
	for (i = 0; i < ndigits; i++)
		out[i] = hx[(b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[ndigits] = '\0';
}

/* random v4 UUID: canonical (dashes) and as systemd unit names spell it */
static void rand_uid(char canon[37], char unit[37])
{
	unsigned char b[16];
	size_t i;

	rand_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(canon, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	for (i = 0; i < 37; i++)
		unit[i] = canon[i] == '-' ? '_' : canon[i];
}

struct kctr {
	char uid[37], uid_unit[37];
	char id[65];
	char pod[PATH_MAX];   /* the pod slice, relative */
	char scope[PATH_MAX]; /* the container scope, relative */
	uint64_t cgroup_id;
};

/*
 * kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/
 *     cri-containerd-<id>.scope
 */
static void kctr_make(struct kctr *k, const char *id)
{
	rand_uid(k->uid, k->uid_unit);
	if (id)
		snprintf(k->id, sizeof(k->id), "%s", id);
	else
		rand_hex(k->id, 64);
	snprintf(k->pod, sizeof(k->pod),
		 "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice",
		 k->uid_unit);
	snprintf(k->scope, sizeof(k->scope), "%s/cri-containerd-%s.scope", k->pod, k->id);
	k->cgroup_id = mk_cgroup(k->scope);
}

static void assert_kctr(const struct kctr *k, const struct ctr_info *i)
{
	assert_int_equal(i->cgroup_id, k->cgroup_id);
	assert_string_equal(i->path, k->scope);
	assert_false(i->path_truncated);
	assert_true(i->is_container);
	assert_false(i->is_conmon);
	assert_int_equal(i->runtime, RT_CONTAINERD);
	assert_string_equal(i->container_id, k->id);
	assert_string_equal(i->pod_uid, k->uid);
	assert_int_equal(i->qos, QOS_BESTEFFORT);
}

/* what this kernel hands out for a cgroup directory: FILEID_KERNFS, 8 bytes, the inode */
static void test_kernfs_handle_shape(void **state)
{
	union {
		struct file_handle fh;
		unsigned char buf[sizeof(struct file_handle) + 64];
	} h;
	struct kctr k;
	char p[PATH_MAX];
	uint64_t v;
	int mount_id;

	kctr_make(&k, NULL);
	abs_path(p, sizeof(p), k.scope);
	h.fh.handle_bytes = 64;
	assert_int_equal(name_to_handle_at(AT_FDCWD, p, &h.fh, &mount_id, 0), 0);
	assert_int_equal(h.fh.handle_type, 0xfe);
	assert_int_equal(h.fh.handle_bytes, 8);
	memcpy(&v, h.fh.f_handle, sizeof(v));
	assert_int_equal(v, k.cgroup_id);
	cleanup_all();
}

static void test_lookup_by_handle(void **state)
{
	struct container_cache_stats st;
	struct container_cache *c;
	struct ctr_info info;
	struct kctr k;

	kctr_make(&k, NULL);
	c = container_cache_new(mnt, 1024);
	assert_non_null(c);
	memset(&info, 0xa5, sizeof(info));
	assert_int_equal(container_cache_lookup(c, k.cgroup_id, &info), 0);
	assert_kctr(&k, &info);
	container_cache_get_stats(c, &st);
	assert_int_equal(st.by_handle, 1);
	assert_int_equal(st.by_walk, 0);
	assert_true(st.handles);
	assert_true(st.handles_worked);
	assert_int_equal(st.handle_err, 0);

	memset(&info, 0, sizeof(info));
	assert_int_equal(container_cache_lookup(c, k.cgroup_id, &info), 0);
	assert_kctr(&k, &info);
	container_cache_get_stats(c, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(container_cache_size(c), 1);

	/* the pod slice: pod and QoS, no container */
	assert_int_equal(container_cache_lookup(c, ino_of(k.pod), &info), 0);
	assert_string_equal(info.path, k.pod);
	assert_false(info.is_container);
	assert_int_equal(info.runtime, RT_HOST);
	assert_string_equal(info.pod_uid, k.uid);
	assert_int_equal(info.qos, QOS_BESTEFFORT);

	/* the root cgroup */
	assert_int_equal(container_cache_lookup(c, ino_of(""), &info), 0);
	assert_string_equal(info.path, "/");
	assert_false(info.is_container);

	/* a kernfs file id opens through a handle too: it is not a cgroup */
	assert_int_equal(container_cache_lookup(c, ino_of("/cgroup.procs"), &info), -ENOENT);
	container_cache_free(c);
	cleanup_all();
}

static void test_lookup_by_walk(void **state)
{
	struct container_cache_stats st;
	struct container_cache *c;
	struct ctr_info info;
	struct kctr k;

	kctr_make(&k, NULL);
	c = container_cache_new(mnt, 1024);
	assert_non_null(c);
	container_cache_use_handles(c, false);
	assert_int_equal(container_cache_lookup(c, k.cgroup_id, &info), 0);
	assert_kctr(&k, &info);
	container_cache_get_stats(c, &st);
	assert_int_equal(st.by_walk, 1);
	assert_int_equal(st.by_handle, 0);
	assert_false(st.handles);
	container_cache_free(c);
	cleanup_all();
}

/*
 * Without CAP_DAC_READ_SEARCH open_by_handle_at fails with EPERM: the cache
 * turns handles off, says why, and resolves by walking. Checked in a child
 * that drops the capability from its effective set (exit code = what broke).
 */
static void test_no_cap_dac_read_search(void **state)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	struct container_cache_stats st;
	struct container_cache *c;
	struct ctr_info info;
	struct kctr k;
	int status;
	pid_t pid;

	kctr_make(&k, NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (syscall(SYS_capget, &hdr, data))
			_exit(10);
		data[CAP_DAC_READ_SEARCH / 32].effective &= ~(1u << (CAP_DAC_READ_SEARCH % 32));
		if (syscall(SYS_capset, &hdr, data))
			_exit(11);
		c = container_cache_new(mnt, 16);
		if (!c)
			_exit(12);
		container_cache_get_stats(c, &st);
		if (st.handle_err != EPERM || st.handles || st.handles_worked)
			_exit(19); /* known from the start */
		if (container_cache_lookup(c, k.cgroup_id, &info))
			_exit(13);
		if (strcmp(info.path, k.scope) || strcmp(info.container_id, k.id) ||
		    strcmp(info.pod_uid, k.uid) || !info.is_container)
			_exit(14);
		container_cache_get_stats(c, &st);
		if (st.handle_err != EPERM)
			_exit(15);
		if (st.handles || st.by_walk != 1 || st.by_handle != 0)
			_exit(16);
		/* the next miss goes straight to the walk */
		container_cache_forget(c, k.cgroup_id);
		if (container_cache_lookup(c, k.cgroup_id, &info) || st.handle_err != EPERM)
			_exit(17);
		container_cache_get_stats(c, &st);
		if (st.by_walk != 2)
			_exit(18);
		container_cache_free(c);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child without CAP_DAC_READ_SEARCH: status 0x%x", status);
	cleanup_all();
}

/* a process moved into the scope sees the same path in /proc/self/cgroup */
static void test_matches_proc_cgroup(void **state)
{
	char procs[PATH_MAX], line[PATH_MAX + 8], want[PATH_MAX + 8];
	struct container_cache *c;
	struct ctr_info info;
	struct kctr k;
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	kctr_make(&k, NULL);
	abs_path(procs, sizeof(procs), k.scope);
	strcat(procs, "/cgroup.procs");
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *f;
		int fd = open(procs, O_WRONLY | O_CLOEXEC);

		close(pfd[0]);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(2);
		close(fd);
		f = fopen("/proc/self/cgroup", "re");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "0::", 3) && write(pfd[1], line, strlen(line)) < 0)
				_exit(3);
		_exit(f ? 0 : 4);
	}
	close(pfd[1]);
	n = read(pfd[0], line, sizeof(line) - 1);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(n > 0);
	line[n] = '\0';
	snprintf(want, sizeof(want), "0::%s\n", k.scope);
	assert_string_equal(line, want);

	c = container_cache_new(mnt, 16);
	assert_non_null(c);
	assert_int_equal(container_cache_lookup(c, k.cgroup_id, &info), 0);
	line[strcspn(line, "\n")] = '\0';
	assert_string_equal(info.path, line + strlen("0::"));
	assert_kctr(&k, &info);
	container_cache_free(c);
	cleanup_all();
}

static void test_sweep(void **state)
{
	struct container_cache_stats st;
	struct container_cache *c, *fresh;
	struct ctr_info info;
	struct kctr k, keep;

	kctr_make(&k, NULL);
	kctr_make(&keep, NULL);
	c = container_cache_new(mnt, 1024);
	assert_non_null(c);
	assert_int_equal(container_cache_lookup(c, k.cgroup_id, &info), 0);
	assert_kctr(&k, &info);
	assert_int_equal(container_cache_lookup(c, keep.cgroup_id, &info), 0);
	assert_kctr(&keep, &info);
	assert_int_equal(container_cache_size(c), 2);
	assert_int_equal(container_cache_sweep(c), 0);

	rm_cgroup(k.scope);
	/* cached until swept */
	assert_int_equal(container_cache_lookup(c, k.cgroup_id, &info), 0);
	assert_int_equal(container_cache_sweep(c), 1);
	assert_int_equal(container_cache_size(c), 1);
	container_cache_get_stats(c, &st);
	assert_int_equal(st.swept, 1);
	/* gone: the handle is stale */
	assert_int_equal(container_cache_lookup(c, k.cgroup_id, &info), -ENOENT);
	assert_int_equal(container_cache_size(c), 1);
	/* the survivor is untouched */
	assert_int_equal(container_cache_lookup(c, keep.cgroup_id, &info), 0);
	assert_kctr(&keep, &info);

	/* a fresh cache: the stale handle alone says so, and so does the walk */
	fresh = container_cache_new(mnt, 16);
	assert_non_null(fresh);
	container_cache_get_stats(fresh, &st);
	assert_true(st.handles_worked); /* probed on the mount's root */
	assert_int_equal(container_cache_lookup(fresh, k.cgroup_id, &info), -ENOENT);
	container_cache_get_stats(fresh, &st);
	assert_int_equal(st.walks, 0);
	container_cache_use_handles(fresh, false);
	assert_int_equal(container_cache_lookup(fresh, k.cgroup_id, &info), -ENOENT);
	container_cache_get_stats(fresh, &st);
	assert_int_equal(st.walks, 1);
	assert_int_equal(st.not_found, 2);
	assert_int_equal(container_cache_size(fresh), 0);
	container_cache_free(fresh);

	/* forget */
	container_cache_forget(c, keep.cgroup_id);
	assert_int_equal(container_cache_size(c), 0);
	container_cache_free(c);
	cleanup_all();
}

static void test_find_container(void **state)
{
	struct container_cache *c;
	struct ctr_info info;
	struct kctr a, b, u;
	char id[65], pfx[13];

	/* a and b share their first 12 digits, u does not */
	rand_hex(id, 64);
	kctr_make(&a, id);
	rand_hex(id + 13, 51);
	id[12] = a.id[12] == '0' ? '1' : '0';
	kctr_make(&b, id);
	do {
		rand_hex(id, 64);
	} while (!strncmp(id, a.id, 12));
	kctr_make(&u, id);

	c = container_cache_new(mnt, 1024);
	assert_non_null(c);

	/* 12 digits of u: found on disk, exact fields, then cached */
	memcpy(pfx, u.id, 12);
	pfx[12] = '\0';
	memset(&info, 0xa5, sizeof(info));
	assert_int_equal(container_cache_find_container(c, pfx, &info), 0);
	assert_kctr(&u, &info);
	assert_int_equal(container_cache_size(c), 1);
	assert_int_equal(container_cache_find_container(c, u.id, &info), 0);
	assert_kctr(&u, &info);

	/* too short, not hex */
	pfx[11] = '\0';
	assert_int_equal(container_cache_find_container(c, pfx, &info), -EINVAL);
	assert_int_equal(container_cache_find_container(c, "zzzzzzzzzzzz", &info), -EINVAL);

	/* shared by a and b */
	memcpy(pfx, a.id, 12);
	pfx[12] = '\0';
	assert_int_equal(container_cache_find_container(c, pfx, &info), -EEXIST);
	/* also when one of them is cached */
	assert_int_equal(container_cache_lookup(c, a.cgroup_id, &info), 0);
	assert_int_equal(container_cache_find_container(c, pfx, &info), -EEXIST);
	/* full ids tell them apart */
	assert_int_equal(container_cache_find_container(c, a.id, &info), 0);
	assert_kctr(&a, &info);
	assert_int_equal(container_cache_find_container(c, b.id, &info), 0);
	assert_kctr(&b, &info);

	/* b gone: the prefix names a alone */
	rm_cgroup(b.scope);
	assert_int_equal(container_cache_find_container(c, pfx, &info), 0);
	assert_kctr(&a, &info);
	assert_int_equal(container_cache_find_container(c, b.id, &info), -ENOENT);
	container_cache_free(c);
	cleanup_all();
}

/* CRI-O: crio-<id>.scope with a nested "container" and a conmon scope */
static void test_crio_nested(void **state)
{
	char pod[PATH_MAX], scope[PATH_MAX], sub[PATH_MAX], conmon[PATH_MAX];
	char uid[37], unit[37], id[65];
	struct container_cache *c;
	struct ctr_info info;
	uint64_t scope_id, sub_id, conmon_id;

	rand_uid(uid, unit);
	rand_hex(id, 64);
	snprintf(pod, sizeof(pod),
		 "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice", unit);
	snprintf(scope, sizeof(scope), "%s/crio-%s.scope", pod, id);
	snprintf(sub, sizeof(sub), "%s/container", scope);
	snprintf(conmon, sizeof(conmon), "%s/crio-conmon-%s.scope", pod, id);
	mk_cgroup(sub);
	conmon_id = mk_cgroup(conmon);
	scope_id = ino_of(scope);
	sub_id = ino_of(sub);

	c = container_cache_new(mnt, 64);
	assert_non_null(c);
	assert_int_equal(container_cache_lookup(c, sub_id, &info), 0);
	assert_string_equal(info.path, sub);
	assert_true(info.is_container);
	assert_int_equal(info.runtime, RT_CRIO);
	assert_string_equal(info.container_id, id);
	assert_string_equal(info.pod_uid, uid);
	assert_int_equal(info.qos, QOS_BURSTABLE);

	assert_int_equal(container_cache_lookup(c, conmon_id, &info), 0);
	assert_string_equal(info.path, conmon);
	assert_false(info.is_container);
	assert_true(info.is_conmon);
	assert_int_equal(info.runtime, RT_CRIO);
	assert_string_equal(info.container_id, id);
	assert_string_equal(info.pod_uid, uid);

	/* find gives the scope itself */
	assert_int_equal(container_cache_find_container(c, id, &info), 0);
	assert_int_equal(info.cgroup_id, scope_id);
	assert_string_equal(info.path, scope);
	assert_true(info.is_container);
	assert_false(info.is_conmon);
	container_cache_free(c);
	cleanup_all();
}

static int group_teardown(void **state)
{
	cleanup_all();
	return 0;
}

static int skip_run(const char *why)
{
	const char *allow = getenv("NODEGUARD_ALLOW_SKIP");

	fprintf(stderr,
		"\n********************************************************************\n"
		"*** SKIPPED: tests/integration/test_container: %s\n"
		"********************************************************************\n\n",
		why);
	if (allow && !strcmp(allow, "1"))
		return 0;
	fprintf(stderr, "test_container: failing (set NODEGUARD_ALLOW_SKIP=1 to allow the skip)\n");
	return 1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernfs_handle_shape),
		cmocka_unit_test(test_lookup_by_handle),
		cmocka_unit_test(test_lookup_by_walk),
		cmocka_unit_test(test_no_cap_dac_read_search),
		cmocka_unit_test(test_matches_proc_cgroup),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_find_container),
		cmocka_unit_test(test_crio_nested),
	};
	FILE *mi;
	int r;

	if (geteuid() != 0)
		return skip_run("needs root (makes cgroups under the cgroup v2 mount)");
	mi = fopen("/proc/self/mountinfo", "re");
	r = mi ? probe_cgroup2_mount(mi, mnt, sizeof(mnt)) : -errno;
	if (mi)
		fclose(mi);
	if (r)
		return skip_run("no cgroup v2 mount in /proc/self/mountinfo");
	fprintf(stderr, "test_container: cgroup v2 at %s\n", mnt);
	atexit(cleanup_all);
	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
