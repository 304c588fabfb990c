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
#include "creds.skel.h"
#include "net.skel.h"
#include "process.skel.h"
#include "sensor.h"

struct sensor {
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
	uint64_t h = NG_FNV_OFFSET;
	size_t i;

	for (i = 0; i < n && i < NG_PATH_MAX - 1; i++)
		h = (h ^ (uint8_t)s[i]) * NG_FNV_PRIME;
	return h;
}

static uint64_t parse_hex(const char *s)
{
	return strtoull(s, NULL, 16);
}

/* one task's state from /proc/<pid>/task/<tid>; 0 or -errno */
static int read_task_state(const char *dir, struct ng_taskstate *st, unsigned *pidns)
{
	char path[PATH_MAX], line[512];
	struct stat sb;
	FILE *f;
	int seen = 0;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/status", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned a, b, c, d;

		if (sscanf(line, "Uid: %u %u %u %u", &a, &b, &c, &d) == 4) {
			st->c.uid = a;
			st->c.euid = b;
			st->c.suid = c;
			st->c.fsuid = d;
			seen |= 1;
		} else if (sscanf(line, "Gid: %u %u %u %u", &a, &b, &c, &d) == 4) {
			st->c.gid = a;
			st->c.egid = b;
			st->c.sgid = c;
			st->c.fsgid = d;
			seen |= 2;
		} else if (!strncmp(line, "CapEff:", 7)) {
			st->c.cap_eff = parse_hex(line + 7);
			seen |= 4;
		} else if (!strncmp(line, "CapPrm:", 7)) {
			st->c.cap_prm = parse_hex(line + 7);
			seen |= 8;
		} else if (!strncmp(line, "CapInh:", 7)) {
			st->c.cap_inh = parse_hex(line + 7);
		} else if (!strncmp(line, "Groups:", 7)) {
			char *p = line + 7, *end;

			for (;;) {
				strtoul(p, &end, 10);
				if (end == p)
					break;
				st->c.ngroups++;
				p = end;
			}
		}
	}
	fclose(f);
	if (seen != 15)
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
					"ng_kill_state", "ng_kill_lists" };

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

/* pin the kill-rule maps so the compiled policy outlives the agent; an
 * existing pin of the same shape is reused by libbpf at load */
static int pin_enf_maps(struct bpf_object *obj, const char *dir)
{
	char path[PATH_MAX];
	size_t i;
	int err;

	for (i = 0; i < sizeof(enf_maps) / sizeof(enf_maps[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, enf_maps[i]);

		if (!m)
			return -ENOENT;
		snprintf(path, sizeof(path), "%s/%s", dir, enf_maps[i]);
		err = bpf_map__set_pin_path(m, path);
		if (err)
			return err;
	}
	return 0;
}

#define FAIL(...)                                            \
	do {                                                 \
		snprintf(errbuf, errlen, __VA_ARGS__);       \
		goto fail;                                   \
	} while (0)

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
	};
	struct bpf_program *prog;
	struct sensor *s;
	int err = 0;

	if (cfg.argv_max > NG_ARGV_MAX)
		cfg.argv_max = NG_ARGV_MAX;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cgroup_fd = -1;
	s->cb = cb;
	s->ctx = ctx;

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
	s->proc = ngsk_process__open();
	if (!s->proc)
		FAIL("Failed to open the process sensor: %s", strerror(errno));
	set_cfg(&s->proc->rodata->ng_cfg, &cfg);
	if (opts->ringbuf_bytes)
		bpf_map__set_max_entries(s->proc->maps.ng_events, opts->ringbuf_bytes);
	if (opts->pin_dir && (err = pin_enf_maps(s->proc->obj, opts->pin_dir)))
		FAIL("Failed to set pin paths under %s: %s", opts->pin_dir, strerror(-err));
	err = ngsk_process__load(s->proc);
	if (err)
		FAIL("Failed to load the process sensor: %s", strerror(-err));
	err = ngsk_process__attach(s->proc);
	if (err)
		FAIL("Failed to attach the process sensor (tp_btf/sched_process_*): %s", strerror(-err));

	/* credentials: per-syscall tracepoints, or the raw fallback */
	s->creds = ngsk_creds__open();
	if (!s->creds)
		FAIL("Failed to open the credential sensor: %s", strerror(errno));
	set_cfg(&s->creds->rodata->ng_cfg, &cfg);
	if (share_map(s->creds->maps.ng_events, s->proc->maps.ng_events) ||
	    share_map(s->creds->maps.ng_counters, s->proc->maps.ng_counters) ||
	    share_map(s->creds->maps.ng_stash, s->proc->maps.ng_stash) ||
	    share_map(s->creds->maps.ng_tasks, s->proc->maps.ng_tasks) ||
	    share_enf_maps(s->creds->obj, s->proc->obj))
		FAIL("Failed to share maps with the credential sensor: %s", strerror(errno));
	bpf_object__for_each_program(prog, s->creds->obj) {
		bool raw = !strncmp(bpf_program__section_name(prog), "tp_btf/", 7);

		bpf_program__set_autoload(prog, raw == (s->mode == CREDS_RAW_SYSCALLS));
	}
	err = ngsk_creds__load(s->creds);
	if (err)
		FAIL("Failed to load the credential sensor: %s", strerror(-err));
	err = ngsk_creds__attach(s->creds);
	if (err)
		FAIL("Failed to attach the credential sensor (%s): %s",
		     sensor_creds_attach(s), strerror(-err));

	/* network: cgroup hooks on the cgroup v2 root */
	if (!opts->no_net) {
		if (!feat->cgroup2)
			FAIL("no cgroup v2 mount found in /proc/self/mountinfo: the network sensors need one");
		s->cgroup_fd = open(feat->cgroup2_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->cgroup_fd < 0)
			FAIL("Failed to open cgroup v2 root %s: %s", feat->cgroup2_path, strerror(errno));
		s->net = ngsk_net__open();
		if (!s->net)
			FAIL("Failed to open the network sensor: %s", strerror(errno));
		set_cfg(&s->net->rodata->ng_cfg, &cfg);
		if (share_map(s->net->maps.ng_events, s->proc->maps.ng_events) ||
		    share_map(s->net->maps.ng_counters, s->proc->maps.ng_counters) ||
		    share_map(s->net->maps.ng_stash, s->proc->maps.ng_stash) ||
		    share_map(s->net->maps.ng_tasks, s->proc->maps.ng_tasks) ||
		    share_enf_maps(s->net->obj, s->proc->obj))
			FAIL("Failed to share maps with the network sensor: %s", strerror(errno));
		err = ngsk_net__load(s->net);
		if (err)
			FAIL("Failed to load the network sensor: %s", strerror(-err));
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
