// SPDX-License-Identifier: Apache-2.0
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodeguard/event.h"
#include "nodeguard/credcheck.h"
#include "nodeguard/enforce.h"
#include "nodeguard/fnv.h"
#include "creds.skel.h"
#include "net.skel.h"
#include "process.skel.h"
#include "procfs.h"
#include "sensor.h"
#include "vlog.h"

struct sensor {
	struct prog_cost progs[SENSOR_PROGS_MAX];
	size_t nprogs;
	bool kill_in_kernel;
	char kill_why[SENSOR_WHY_MAX];
	struct ngsk_process *proc;
	struct ngsk_creds *creds;
	struct ngsk_net *net;
	struct ring_buffer *rb;
	int cgroup_fd;
	enum sensor_creds_mode mode;
	sensor_event_fn cb;
	void *ctx;
	uint64_t decode_errors;
	int stop;
	struct ng_event ev; /* decode target: large, so not on the stack */
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct sensor *s = ctx;

	if (ng_decode(data, len, &s->ev)) {
		s->decode_errors++;
		return 0;
	}
	if (s->cb(&s->ev, s->ctx)) {
		s->stop = 1;
		return 1;
	}
	return 0;
}

static void set_cfg(volatile struct ng_bpf_config *dst, const struct ng_bpf_config *src)
{
	memcpy((void *)dst, src, sizeof(*src));
}

static int share_map(struct bpf_map *dst, struct bpf_map *src)
{
	return bpf_map__reuse_fd(dst, bpf_map__fd(src));
}

uint64_t ng_fnv1a(const char *s, size_t n)
{
	/* capped like the kernel's copy of the path (NG_PATH_MAX with its NUL) */
	return ng_fnv1a_more(NG_FNV_OFFSET, s, n < NG_PATH_MAX - 1 ? n : NG_PATH_MAX - 1);
}

/* one task's state from /proc/<pid>/task/<tid>; 0 or -errno */
static int read_task_state(const char *dir, struct ng_taskstate *st, unsigned *pidns)
{
	char path[PATH_MAX], line[512];
	struct stat sb;
	FILE *f;
	const unsigned NEED = PROCFS_UID | PROCFS_GID | PROCFS_CAPEFF | PROCFS_CAPPRM;
	unsigned seen = 0;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/status", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		seen |= procfs_status_creds(line, &st->c);
	fclose(f);
	if ((seen & NEED) != NEED)
		return -EBADMSG;
#define NSINO(name, dst)                                            \
	do {                                                        \
		snprintf(path, sizeof(path), "%s/ns/" name, dir);   \
		if (stat(path, &sb))                                \
			return -errno;                              \
		dst = (unsigned)sb.st_ino;                          \
	} while (0)
	NSINO("mnt", st->mntns);
	NSINO("net", st->netns);
	NSINO("user", st->c.userns);
	NSINO("pid", *pidns);
#undef NSINO
	{
		char exe[PATH_MAX];
		ssize_t n;

		snprintf(path, sizeof(path), "%s/exe", dir);
		n = readlink(path, exe, sizeof(exe) - 1);
		st->exe_hash = n > 0 ? ng_fnv1a(exe, (size_t)n) : 0;
	}
	return 0;
}

/*
 * Record the state of in-scope tasks that predate the agent, so the first
 * unexplained change of an old task is caught too. BPF_NOEXIST: a record the
 * sensors made since attaching is fresher than what /proc said.
 */
static int seed_tasks(struct sensor *s, const struct ng_features *feat, bool trace_host)
{
	int fd = bpf_map__fd(s->proc->maps.ng_tasks), n = 0;
	DIR *procd = opendir("/proc"), *taskd;
	struct dirent *pe, *te;
	char dir[PATH_MAX];

	if (!procd)
		return -errno;
	while ((pe = readdir(procd))) {
		if (pe->d_name[0] < '1' || pe->d_name[0] > '9')
			continue;
		snprintf(dir, sizeof(dir), "/proc/%s/task", pe->d_name);
		taskd = opendir(dir);
		if (!taskd)
			continue;
		while ((te = readdir(taskd))) {
			struct ng_taskstate st;
			unsigned pidns = 0;
			__u32 tid;

			if (te->d_name[0] < '1' || te->d_name[0] > '9')
				continue;
			snprintf(dir, sizeof(dir), "/proc/%s/task/%s", pe->d_name, te->d_name);
			if (read_task_state(dir, &st, &pidns))
				continue;
			if (!trace_host && pidns == feat->host_pidns && st.mntns == feat->host_mntns)
				continue;
			st.flags = NG_TS_SEEDED;
			tid = (__u32)strtoul(te->d_name, NULL, 10);
			if (!bpf_map_update_elem(fd, &tid, &st, BPF_NOEXIST))
				n++;
		}
		closedir(taskd);
	}
	closedir(procd);
	return n;
}

/* the kill-rule maps: shared by every sensor object */
static const char *const enf_maps[] = { "ng_kill_rules", "ng_kill_rate", "ng_protected",
					"ng_kill_state", "ng_kill_masks", "ng_kill_exe" };

static int share_enf_maps(struct bpf_object *dst, struct bpf_object *src)
{
	size_t i;

	for (i = 0; i < sizeof(enf_maps) / sizeof(enf_maps[0]); i++) {
		struct bpf_map *d = bpf_object__find_map_by_name(dst, enf_maps[i]);
		struct bpf_map *m = bpf_object__find_map_by_name(src, enf_maps[i]);

		if (!d || !m || share_map(d, m))
			return -1;
	}
	return 0;
}

/*
 * A pin left by an older agent whose map has another shape (an upgrade that
 * changed the kill-rule ABI) would make libbpf refuse the load. Everything in
 * these maps is derived again at start (rules recompiled, protected cgroups
 * re-added), so such a pin is replaced, never a reason to fail.
 */
static void unpin_if_stale(struct bpf_map *m, const char *path)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.type != (__u32)bpf_map__type(m) || info.key_size != bpf_map__key_size(m) ||
	    info.value_size != bpf_map__value_size(m) || info.max_entries != bpf_map__max_entries(m))
		unlink(path);
	close(fd);
}

/* maps of the kill rules that earlier versions pinned and this one does not use */
static const char *const enf_maps_gone[] = { "ng_kill_lists" };

/* pin the kill-rule maps so the compiled policy outlives the agent; an
 * existing pin of the same shape is reused by libbpf at load */
static int pin_enf_maps(struct bpf_object *obj, const char *dir)
{
	char path[PATH_MAX];
	size_t i;
	int err;

	for (i = 0; i < sizeof(enf_maps_gone) / sizeof(enf_maps_gone[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, enf_maps_gone[i]);
		unlink(path);
	}
	for (i = 0; i < sizeof(enf_maps) / sizeof(enf_maps[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, enf_maps[i]);

		if (!m)
			return -ENOENT;
		snprintf(path, sizeof(path), "%s/%s", dir, enf_maps[i]);
		unpin_if_stale(m, path);
		err = bpf_map__set_pin_path(m, path);
		if (err)
			return err;
	}
	return 0;
}

/* ------------------------------------------------------------ loading */

#define FAIL(...)                                            \
	do {                                                 \
		snprintf(errbuf, errlen, __VA_ARGS__);       \
		goto fail;                                   \
	} while (0)

enum sensor_obj { OBJ_PROCESS, OBJ_CREDS, OBJ_NET };
static const char *const obj_name[] = { "process", "credential", "network" };

static struct bpf_object *obj_of(struct sensor *s, enum sensor_obj which)
{
	switch (which) {
	case OBJ_PROCESS: return s->proc ? s->proc->obj : NULL;
	case OBJ_CREDS: return s->creds ? s->creds->obj : NULL;
	case OBJ_NET: return s->net ? s->net->obj : NULL;
	}
	return NULL;
}

static void obj_destroy(struct sensor *s, enum sensor_obj which)
{
	switch (which) {
	case OBJ_PROCESS: ngsk_process__destroy(s->proc); s->proc = NULL; break;
	case OBJ_CREDS: ngsk_creds__destroy(s->creds); s->creds = NULL; break;
	case OBJ_NET: ngsk_net__destroy(s->net); s->net = NULL; break;
	}
}

/* the maps every object shares with the process object (which owns them) */
static int share_common(struct bpf_object *dst, struct ngsk_process *p)
{
	static const char *const names[] = { "ng_events", "ng_counters", "ng_stash", "ng_tasks" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_map *d = bpf_object__find_map_by_name(dst, names[i]);
		struct bpf_map *m = bpf_object__find_map_by_name(p->obj, names[i]);

		if (!d || !m || share_map(d, m))
			return -errno ? -errno : -EINVAL;
	}
	return share_enf_maps(dst, p->obj) ? -EINVAL : 0;
}

/* open one object and configure it for load; 0 or -errno (reason in errbuf) */
static int obj_prepare(struct sensor *s, enum sensor_obj which, const struct ng_bpf_config *cfg,
		       const struct sensor_opts *opts, char *errbuf, size_t errlen)
{
	struct bpf_program *prog;
	int err;

	switch (which) {
	case OBJ_PROCESS:
		s->proc = ngsk_process__open();
		if (!s->proc)
			break;
		set_cfg(&s->proc->rodata->ng_cfg, cfg);
		if (opts->ringbuf_bytes)
			bpf_map__set_max_entries(s->proc->maps.ng_events, opts->ringbuf_bytes);
		if (opts->pin_dir && (err = pin_enf_maps(s->proc->obj, opts->pin_dir))) {
			snprintf(errbuf, errlen, "Failed to set pin paths under %s: %s", opts->pin_dir,
				 strerror(-err));
			return err;
		}
		return 0;
	case OBJ_CREDS:
		s->creds = ngsk_creds__open();
		if (!s->creds)
			break;
		set_cfg(&s->creds->rodata->ng_cfg, cfg);
		if ((err = share_common(s->creds->obj, s->proc))) {
			snprintf(errbuf, errlen, "Failed to share maps with the credential sensor: %s",
				 strerror(-err));
			return err;
		}
		bpf_object__for_each_program(prog, s->creds->obj) {
			bool raw = !strncmp(bpf_program__section_name(prog), "tp_btf/", 7);

			bpf_program__set_autoload(prog, raw == (s->mode == CREDS_RAW_SYSCALLS));
		}
		return 0;
	case OBJ_NET:
		s->net = ngsk_net__open();
		if (!s->net)
			break;
		set_cfg(&s->net->rodata->ng_cfg, cfg);
		if ((err = share_common(s->net->obj, s->proc))) {
			snprintf(errbuf, errlen, "Failed to share maps with the network sensor: %s",
				 strerror(-err));
			return err;
		}
		return 0;
	}
	err = -errno;
	snprintf(errbuf, errlen, "Failed to open the %s sensor: %s", obj_name[which], strerror(-err));
	return err;
}

/*
 * Load one object. With the in-kernel kill code compiled in (cfg->kill_rules)
 * a refusal is retried without it: that code only serves enforcement, and a
 * kernel that refuses it must not cost the node its detection. The reason is
 * kept for the agent to report; later objects load without it too, so the
 * kernel never enforces half a policy. A refusal without it is fatal, with
 * the verifier's last lines.
 */
static int obj_load(struct sensor *s, enum sensor_obj which, struct ng_bpf_config *cfg,
		    const struct sensor_opts *opts, char *errbuf, size_t errlen)
{
	char why[SENSOR_WHY_MAX];
	struct vlog v;
	int err;

	for (;;) {
		err = obj_prepare(s, which, cfg, opts, errbuf, errlen);
		if (err)
			return err;
		err = vlog_attach(&v, obj_of(s, which));
		if (!err)
			err = bpf_object__load(obj_of(s, which));
		if (!err) {
			s->nprogs += vlog_record(&v, obj_name[which], s->progs + s->nprogs,
						 SENSOR_PROGS_MAX - s->nprogs);
			vlog_free(&v);
			return 0;
		}
		vlog_refusal(&v, why, sizeof(why));
		vlog_free(&v);
		obj_destroy(s, which);
		if (!cfg->kill_rules) {
			snprintf(errbuf, errlen, "Failed to load the %s sensor: %s; verifier on %s",
				 obj_name[which], strerror(-err), why);
			return err;
		}
		s->kill_in_kernel = false;
		snprintf(s->kill_why, sizeof(s->kill_why), "the %s sensor with in-kernel kill was "
			 "refused (%s; verifier on %s)", obj_name[which], strerror(-err), why);
		cfg->kill_rules = 0;
	}
}

struct sensor *sensor_open(const struct sensor_opts *opts, const struct ng_features *feat,
			   sensor_event_fn cb, void *ctx, char *errbuf, size_t errlen)
{
	struct ng_bpf_config cfg = {
		.host_pidns = feat->host_pidns,
		.host_mntns = feat->host_mntns,
		.trace_host = opts->trace_host,
		.argv_max = opts->argv_max ? opts->argv_max : NG_ARGV_DEFAULT,
		.self_pid = (uint32_t)getpid(),
		.host_userns = feat->host_userns,
		.host_netns = feat->host_netns,
		.emit_noop_creds = opts->noop_creds,
		.kill_rules = opts->kernel_kill ? 1 : 0,
	};
	const char *reject = getenv("NODEGUARD_TEST_REJECT_KILL");
	struct sensor *s;
	int err = 0;

	if (cfg.argv_max > NG_ARGV_MAX)
		cfg.argv_max = NG_ARGV_MAX;
	/* test hook: load kill code the verifier refuses, to exercise the fallback */
	if (cfg.kill_rules && reject && !strcmp(reject, "1"))
		cfg.kill_rules = NG_KILL_CFG_REJECT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cgroup_fd = -1;
	s->cb = cb;
	s->ctx = ctx;
	s->kill_in_kernel = opts->kernel_kill;
	if (!opts->kernel_kill)
		snprintf(s->kill_why, sizeof(s->kill_why), "not requested");

	if (!feat->btf)
		FAIL("kernel BTF not found at /sys/kernel/btf/vmlinux: nodeguard needs a kernel "
		     "built with CONFIG_DEBUG_INFO_BTF=y");
	if (!feat->ringbuf)
		FAIL("BPF ring buffer not supported by this kernel (needs Linux >= 5.8)");
	if (!feat->tp_btf)
		FAIL("BTF tracepoints (tp_btf) cannot be attached: %s", strerror(-feat->tp_btf_err));

	s->mode = opts->creds_mode;
	if (s->mode == CREDS_AUTO)
		s->mode = feat->syscall_tps ? CREDS_TRACEPOINTS : CREDS_RAW_SYSCALLS;
	if (s->mode == CREDS_TRACEPOINTS && !feat->syscall_tps)
		FAIL("syscall tracepoints unavailable (tracefs %s%s%s)",
		     feat->tracefs ? "mounted" : "not mounted",
		     feat->syscall_tps_missing[0] ? ", missing " : "", feat->syscall_tps_missing);

	/* process: owns the shared maps */
	if ((err = obj_load(s, OBJ_PROCESS, &cfg, opts, errbuf, errlen)))
		goto fail;
	/* credentials: per-syscall tracepoints, or the raw fallback */
	if ((err = obj_load(s, OBJ_CREDS, &cfg, opts, errbuf, errlen)))
		goto fail;
	/* network: cgroup hooks on the cgroup v2 root */
	if (!opts->no_net) {
		if (!feat->cgroup2)
			FAIL("no cgroup v2 mount found in /proc/self/mountinfo: the network sensors need one");
		if ((err = obj_load(s, OBJ_NET, &cfg, opts, errbuf, errlen)))
			goto fail;
	}
	if (opts->load_only)
		return s;

	err = ngsk_process__attach(s->proc);
	if (err)
		FAIL("Failed to attach the process sensor (tp_btf/sched_process_*): %s", strerror(-err));
	err = ngsk_creds__attach(s->creds);
	if (err)
		FAIL("Failed to attach the credential sensor (%s): %s",
		     sensor_creds_attach(s), strerror(-err));
	if (s->net) {
		s->cgroup_fd = open(feat->cgroup2_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->cgroup_fd < 0)
			FAIL("Failed to open cgroup v2 root %s: %s", feat->cgroup2_path, strerror(errno));
#define ATTACH_CG(p)                                                                     \
	do {                                                                             \
		s->net->links.p = bpf_program__attach_cgroup(s->net->progs.p, s->cgroup_fd); \
		if (!s->net->links.p) {                                                  \
			err = -errno;                                                    \
			FAIL("Failed to attach %s to %s: %s", bpf_program__section_name(s->net->progs.p), \
			     feat->cgroup2_path, strerror(-err));                         \
		}                                                                        \
	} while (0)
		ATTACH_CG(ng_connect4);
		ATTACH_CG(ng_connect6);
		ATTACH_CG(ng_sendmsg4);
		ATTACH_CG(ng_sendmsg6);
#undef ATTACH_CG
	}

	err = seed_tasks(s, feat, opts->trace_host);
	if (err < 0)
		FAIL("Failed to read /proc to seed the task table: %s", strerror(-err));
	err = 0;

	s->rb = ring_buffer__new(bpf_map__fd(s->proc->maps.ng_events), on_record, s, NULL);
	if (!s->rb)
		FAIL("Failed to create the ring buffer reader: %s", strerror(errno));
	return s;
fail:
	sensor_free(s);
	errno = err ? -err : EINVAL;
	return NULL;
}

const struct prog_cost *sensor_progs(const struct sensor *s, size_t *n)
{
	*n = s->nprogs;
	return s->progs;
}

bool sensor_kill_in_kernel(const struct sensor *s, const char **why)
{
	if (why)
		*why = s->kill_in_kernel ? "" : s->kill_why;
	return s->kill_in_kernel;
}

int sensor_poll(struct sensor *s, int timeout_ms)
{
	/* producers do not wake us for every record (NO_WAKEUP below a
	 * watermark): wait at most 20 ms, then drain whatever is there */
	int n = ring_buffer__poll(s->rb, timeout_ms > 20 ? 20 : timeout_ms), m;

	if (n == -EINTR)
		n = 0;
	if (n < 0)
		return n;
	m = ring_buffer__consume(s->rb);
	return m < 0 ? m : n + m;
}

int sensor_add_ringbuf(struct sensor *s, int map_fd)
{
	return ring_buffer__add(s->rb, map_fd, on_record, s);
}

int sensor_map_fd(struct sensor *s, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(s->proc->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

int sensor_tasks_fd(struct sensor *s)
{
	return bpf_map__fd(s->proc->maps.ng_tasks);
}

int sensor_fd(struct sensor *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int sensor_counters(struct sensor *s, struct ng_counter out[NG_EV_KIND_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(s->proc->maps.ng_counters);
	struct ng_counter *per;
	__u32 k;
	int i;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	memset(out, 0, sizeof(*out) * NG_EV_KIND_MAX);
	for (k = 0; k < NG_EV_KIND_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, per))
			continue;
		for (i = 0; i < ncpu; i++) {
			out[k].emitted += per[i].emitted;
			out[k].dropped += per[i].dropped;
			out[k].filtered += per[i].filtered;
		}
	}
	free(per);
	return 0;
}

uint64_t sensor_decode_errors(const struct sensor *s)
{
	return s->decode_errors;
}

const char *sensor_creds_attach(const struct sensor *s)
{
	return s->mode == CREDS_RAW_SYSCALLS
		       ? "tp_btf/sys_enter+sys_exit with in-kernel syscall filter (fallback)"
		       : "tracepoint/syscalls/sys_{enter,exit}_*";
}

void sensor_free(struct sensor *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	ngsk_net__destroy(s->net);
	ngsk_creds__destroy(s->creds);
	ngsk_process__destroy(s->proc);
	if (s->cgroup_fd >= 0)
		close(s->cgroup_fd);
	free(s);
}
