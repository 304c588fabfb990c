/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Incidents for the report and nodeguardctl tests, built through
 * incident_mgr_detect() the way the agent builds them, with the journal records
 * captured in memory (and written out as journal.jsonl when a test needs a
 * journal directory).
 *
 * Include after <cmocka.h>.
 */
#ifndef NODEGUARD_REPORT_FIXTURE_H
#define NODEGUARD_REPORT_FIXTURE_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "incident.h"
#include "jsonw.h"

#define NS_PER_S 1000000000ull
/* 2023-11-14T22:13:20Z */
#define T0 (1700000000ull * NS_PER_S)

/* the hostile strings */
#define HOSTILE_EXE "/tmp/x|y`z"
#define HOSTILE_CMD                                                                  \
	"sh -c \"```\" ```````` <script>alert(1)</script> \x1b[31mred\x1b[0m\nline2\r" \
	"\x07 \xff\xfe\xc3 | *b* _i_ [l](javascript:x) <img src=x onerror=y> "         \
	"&amp; \xe2\x80\xae" "cod.exe \xc2\x9b tab\there \\n www.evil.com # ~~s~~"

/* every captured record, one per line */
struct capture {
	char *buf;
	size_t len, cap;
	size_t records;
};

static inline int capture_write(const char *line, size_t len, void *ctx)
{
	struct capture *c = ctx;

	if (c->len + len + 2 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		char *nb;

		while (c->len + len + 2 > cap)
			cap *= 2;
		nb = realloc(c->buf, cap);
		if (!nb)
			return -12;
		c->buf = nb;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, line, len);
	c->len += len;
	c->buf[c->len++] = '\n';
	c->buf[c->len] = '\0';
	c->records++;
	return 0;
}

static inline struct incmgr *fixture_mgr(struct capture *cap)
{
	struct incident_mgr_opts o = { .node = "node-a", .window_s = 600 };

	if (cap) {
		o.write = capture_write;
		o.write_ctx = cap;
	}
	return incident_mgr_new(&o);
}

/* the raw event fields of an exec, as the agent writes them (jsonw) */
static inline char *fixture_event_json(const char *exe, const char *cmdline, uint32_t pid)
{
	struct jsonw w;
	char *r;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_str(&w, "kind", "exec");
	jsonw_kv_str(&w, "time", "2023-11-14T22:13:20.000000000Z");
	jsonw_kv_u64(&w, "ts_ns", 5000000123ull);
	jsonw_kv_u64(&w, "pid", pid);
	jsonw_kv_str(&w, "comm", "\x1b]0;pwned\x07sh");
	jsonw_kv_u64(&w, "cgroup_id", 1234567890123ull);
	jsonw_kv_bool(&w, "container", true);
	jsonw_kv_str(&w, "filename", exe);
	jsonw_key(&w, "argv");
	jsonw_arr_open(&w);
	jsonw_str_val(&w, cmdline);
	jsonw_str_val(&w, "--flag=````````");
	jsonw_arr_close(&w);
	jsonw_obj_close(&w);
	r = strdup(jsonw_str(&w));
	jsonw_free(&w);
	return r;
}

struct fixture_det {
	const char *rule, *category, *mitre0, *mitre1;
	enum ng_severity sev;
	uint64_t wall_ns;
	const char *exe, *cmdline, *summary, *fingerprint;
	uint32_t pid;
	const char *key;
	const struct inc_attr *attr;
	const struct inc_proc *tree;
	size_t ntree;
	const char *event_json; /* NULL: fixture_event_json() */
	bool no_event;
};

static inline struct incident *fixture_detect(struct incmgr *m, const struct fixture_det *f)
{
	char *mv[2] = { (char *)f->mitre0, (char *)f->mitre1 };
	struct strlist ml = { .v = mv, .n = f->mitre1 ? 2 : f->mitre0 ? 1 : 0 };
	char *ej = NULL;
	struct incident *inc = NULL;
	bool opened;
	struct inc_detection d = {
		.source = "kernel", .rule = f->rule, .severity = f->sev, .category = f->category,
		.mitre = &ml, .wall_ns = f->wall_ns, .summary = f->summary ? f->summary : f->cmdline,
		.fingerprint = f->fingerprint ? f->fingerprint : f->cmdline, .pid = f->pid,
		.key = f->key, .attr = f->attr, .tree = f->tree, .ntree = f->ntree,
	};

	if (!f->no_event) {
		ej = f->event_json ? strdup(f->event_json)
				   : fixture_event_json(f->exe ? f->exe : "/bin/sh",
							f->cmdline ? f->cmdline : "sh", f->pid);
		assert_non_null(ej);
	}
	d.event_json = ej;
	assert_int_equal(incident_mgr_detect(m, &d, &inc, &opened), 0);
	free(ej);
	return inc;
}

/* a container incident full of hostile strings: execution then privilege
 * escalation (medium + medium -> high), a repeat, a 3-level tree, an action */
static inline struct incident *fixture_hostile(struct incmgr *m, uint64_t t0)
{
	static const struct inc_proc tree[] = {
		/* the acting process first, then its ancestors */
		{ .pid = 300, .ppid = 200, .uid = 1000, .euid = 0, .start_ns = 30,
		  .exe = HOSTILE_EXE, .cmdline = HOSTILE_CMD },
		{ .pid = 200, .ppid = 100, .uid = 1000, .euid = 1000, .start_ns = 20,
		  .exe = "/bin/sh", .cmdline = "sh -c 'x | y'" },
		{ .pid = 100, .ppid = 1, .uid = 0, .euid = 0, .start_ns = 10,
		  .exe = "/usr/bin/containerd-shim-runc-v2", .cmdline = "containerd-shim -id abc" },
	};
	struct inc_attr attr = { .is_container = true };
	struct inc_action act = {
		.ts_ns = t0 + 5 * NS_PER_S, .action = "isolate", .phase = "intent",
		.target = "pod ns|x/web`1\n", .result = "would", .detail = "dry run: <b>x</b> | y\x1b[2J",
		.dry_run = true,
	};
	struct incident *inc;
	struct fixture_det f = {
		.rule = "shell-in-container", .category = "execution", .mitre0 = "T1059.004",
		.mitre1 = "T1609", .sev = SEV_MEDIUM, .wall_ns = t0, .exe = HOSTILE_EXE,
		.cmdline = HOSTILE_CMD, .pid = 300, .key = "ctr:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		.attr = &attr, .tree = tree, .ntree = 3,
	};

	snprintf(attr.runtime, sizeof(attr.runtime), "containerd");
	snprintf(attr.container_id, sizeof(attr.container_id),
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	snprintf(attr.pod_uid, sizeof(attr.pod_uid), "11111111-2222-3333-4444-555555555555");
	snprintf(attr.qos, sizeof(attr.qos), "burstable");
	snprintf(attr.cgroup_path, sizeof(attr.cgroup_path),
		 "/kubepods.slice/kubepods-burstable.slice/cri-containerd-0123|`\x1b.scope");
	attr.cgroup_id = 4242;
	attr.pod_namespace = "shop";
	attr.pod_name = "web-1<script>alert(2)</script>|";
	attr.pod_json = "{\"labels\":{\"app\":\"<b>web</b>|`x`\"},\"node\":\"node-a\"}";

	inc = fixture_detect(m, &f);
	/* two identical repeats */
	f.wall_ns = t0 + NS_PER_S;
	fixture_detect(m, &f);
	f.wall_ns = t0 + 2 * NS_PER_S;
	fixture_detect(m, &f);
	/* privilege escalation by the same process */
	f.rule = "setuid-root";
	f.category = "privilege_escalation";
	f.mitre0 = "T1068";
	f.mitre1 = "bogus](javascript:alert(1))";
	f.wall_ns = t0 + 3 * NS_PER_S;
	f.summary = "setuid(0) by " HOSTILE_EXE " \x1b[1m|";
	f.fingerprint = "cred|setuid|" HOSTILE_EXE;
	assert_ptr_equal(fixture_detect(m, &f), inc);
	assert_int_equal(incident_mgr_action(m, inc, &act), 0);
	assert_int_equal(incident_mgr_set_status(m, inc, INC_CONTAINED, "isolated", t0 + 6 * NS_PER_S), 0);
	return inc;
}

/* the incident as parsed JSON (incident_to_json) */
static inline cJSON *fixture_inc_json(const struct incident *inc)
{
	struct jsonw w;
	cJSON *o;

	jsonw_init(&w);
	incident_to_json(inc, &w);
	assert_non_null(jsonw_str(&w));
	o = cJSON_Parse(jsonw_str(&w));
	if (!o)
		fail_msg("incident_to_json is not JSON: %s", jsonw_str(&w));
	jsonw_free(&w);
	return o;
}

static inline void fixture_write_file(const char *dir, const char *name, const char *text,
				      size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static inline int fixture_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline void fixture_rmtree(const char *dir)
{
	nftw(dir, fixture_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
