// SPDX-License-Identifier: Apache-2.0
/*
 * agent/evfmt.c: the JSON form of every event kind (stable field names, exact
 * values), hostile strings that must stay valid JSON with their exact bytes
 * recoverable, terminal escaping and time formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "evfmt.h"
#include "nodeguard/credcheck.h"
#include "unit_helpers.h"

/* boot 5.000000123 s + offset = 2023-11-14T22:13:20.000000123Z */
#define BOOT_NS 5000000123ull
#define OFFSET_NS (1700000000000000000ll - 5000000000ll)
#define WANT_TIME "2023-11-14T22:13:20.000000123Z"

/* U+FFFD as a parser returns it, once per replaced byte */
#define R1 "\xef\xbf\xbd"
#define R2 R1 R1
#define R3 R1 R1 R1
#define R4 R1 R1 R1 R1

static const char *const hdr_keys[] = {
	"kind", "time", "ts_ns", "pid", "tid", "ppid", "nspid", "comm", "uid", "gid",
	"euid", "egid", "cgroup_id", "pidns", "mntns", "netns", "container",
};
#define NHDR (sizeof(hdr_keys) / sizeof(hdr_keys[0]))

static const char *const creds_keys[] = {
	"uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid",
	"cap_eff", "cap_prm", "cap_inh", "ngroups", "userns",
};

/* the object's members are exactly hdr_keys (unless skip_hdr) then extra, in order */
static void assert_keys(const cJSON *obj, bool with_hdr, const char *const *extra, size_t n)
{
	const cJSON *it = obj->child;
	size_t i;

	if (with_hdr)
		for (i = 0; i < NHDR; i++, it = it->next) {
			assert_non_null(it);
			assert_string_equal(it->string, hdr_keys[i]);
		}
	for (i = 0; i < n; i++, it = it->next) {
		if (!it)
			fail_msg("missing key %s", extra[i]);
		assert_string_equal(it->string, extra[i]);
	}
	if (it)
		fail_msg("unexpected key %s", it->string);
}

static void fill_hdr(struct ng_hdr *h, unsigned kind, size_t size, const char *comm, size_t clen)
{
	memset(h, 0, sizeof(*h));
	h->ts_ns = BOOT_NS;
	h->kind = (__u16)kind;
	h->size = (__u16)size;
	h->flags = NG_HF_CONTAINER;
	h->pid = 4242;
	h->tid = 4243;
	h->ppid = 4000;
	h->nspid = 7;
	h->uid = 1000;
	h->gid = 1001;
	h->euid = 0;
	h->egid = 1003;
	h->cgroup_id = 1234567890123ull;
	h->pidns = 4026532001u;
	h->mntns = 4026532002u;
	h->netns = 4026532003u;
	memcpy(h->comm, comm, clen);
}

static void assert_hdr_json(const cJSON *o, const char *kind, const char *comm, size_t clen,
			    bool container)
{
	assert_json_str(member(o, "kind"), kind);
	assert_json_str(member(o, "time"), WANT_TIME);
	assert_json_num(member(o, "ts_ns"), BOOT_NS);
	assert_json_num(member(o, "pid"), 4242);
	assert_json_num(member(o, "tid"), 4243);
	assert_json_num(member(o, "ppid"), 4000);
	assert_json_num(member(o, "nspid"), 7);
	assert_json_bytes(member(o, "comm"), comm, clen);
	assert_json_num(member(o, "uid"), 1000);
	assert_json_num(member(o, "gid"), 1001);
	assert_json_num(member(o, "euid"), 0);
	assert_json_num(member(o, "egid"), 1003);
	assert_json_num(member(o, "cgroup_id"), 1234567890123ull);
	assert_json_num(member(o, "pidns"), 4026532001u);
	assert_json_num(member(o, "mntns"), 4026532002u);
	assert_json_num(member(o, "netns"), 4026532003u);
	assert_json_bool(member(o, "container"), container);
}

static void fill_creds(struct ng_creds *c, unsigned base, uint64_t prm)
{
	c->uid = base + 1;
	c->euid = base + 2;
	c->suid = base + 3;
	c->fsuid = base + 4;
	c->gid = base + 5;
	c->egid = base + 6;
	c->sgid = base + 7;
	c->fsgid = base + 8;
	c->cap_eff = 0xa5ull << 56 | base;
	c->cap_prm = prm;
	c->cap_inh = 0;
	c->ngroups = base + 9;
	c->userns = 4026531837u;
}

static void assert_creds_json(const cJSON *o, unsigned base, uint64_t prm)
{
	char b[24];

	assert_true(cJSON_IsObject(o));
	assert_keys(o, false, creds_keys, sizeof(creds_keys) / sizeof(creds_keys[0]));
	assert_json_num(member(o, "uid"), base + 1);
	assert_json_num(member(o, "euid"), base + 2);
	assert_json_num(member(o, "suid"), base + 3);
	assert_json_num(member(o, "fsuid"), base + 4);
	assert_json_num(member(o, "gid"), base + 5);
	assert_json_num(member(o, "egid"), base + 6);
	assert_json_num(member(o, "sgid"), base + 7);
	assert_json_num(member(o, "fsgid"), base + 8);
	snprintf(b, sizeof(b), "0xa500000000%06x", base);
	assert_json_str(member(o, "cap_eff"), b);
	snprintf(b, sizeof(b), "0x%016llx", (unsigned long long)prm);
	assert_json_str(member(o, "cap_prm"), b);
	assert_json_str(member(o, "cap_inh"), "0x0000000000000000");
	assert_json_num(member(o, "ngroups"), base + 9);
	assert_json_num(member(o, "userns"), 4026531837u);
}

static void assert_str_array(const cJSON *a, const char *const *want, size_t n)
{
	size_t i;

	assert_true(cJSON_IsArray(a));
	assert_int_equal(cJSON_GetArraySize(a), n);
	for (i = 0; i < n; i++)
		assert_json_str(cJSON_GetArrayItem(a, (int)i), want[i]);
}

/* the document may hold no raw control byte (one line, log-safe) */
static void assert_no_raw_controls(const char *doc)
{
	size_t i;

	for (i = 0; doc[i]; i++)
		if ((unsigned char)doc[i] < 0x20 || doc[i] == 0x7f)
			fail_msg("raw control 0x%02x at %zu", (unsigned char)doc[i], i);
}

/* encode, check it is one valid line, parse */
static cJSON *to_json(const struct ng_event *ev, struct jsonw *w)
{
	jsonw_init(w);
	evfmt_json(w, ev, OFFSET_NS);
	assert_non_null(jsonw_str(w));
	assert_no_raw_controls(jsonw_str(w));
	return parse_doc(jsonw_str(w));
}

static struct ng_event *decode_rec(const void *rec, size_t len)
{
	struct ng_event *ev = calloc(1, sizeof(*ev));
	void *p = malloc(len);

	assert_non_null(ev);
	assert_non_null(p);
	memcpy(p, rec, len);
	assert_int_equal(ng_decode(p, len, ev), 0);
	free(p);
	return ev;
}

static size_t build_exec(struct ng_exec *e, const char *comm, size_t clen, const void *fn,
			 size_t fnlen, const void *argv, size_t argvlen, uint32_t eflags,
			 uint32_t argc)
{
	size_t size = NG_EXEC_FIXED_SIZE + fnlen + argvlen;

	memset(e, 0, sizeof(*e));
	fill_hdr(&e->hdr, NG_EV_EXEC, size, comm, clen);
	e->eflags = eflags;
	e->argc = argc;
	e->argv_full = (uint32_t)argvlen;
	e->filename_len = (__u16)fnlen;
	e->argv_len = (__u16)argvlen;
	e->exe_ino = 131077;
	e->exe_dev = 0xfd01;
	memcpy(e->data, fn, fnlen);
	memcpy(e->data + fnlen, argv, argvlen);
	return size;
}

static const char *const exec_keys[] = {
	"filename", "argv", "argc", "argv_truncated", "argv_unreadable",
	"filename_truncated", "setuid", "setgid", "secure_exec", "caps_gained", "tty",
	"stdin_socket", "stdout_socket", "stderr_socket", "exe_unlinked", "exe_memfd",
	"exe_ino", "exe_dev", "creds", "old_creds", "caps_gained_names",
};

static void test_exec_json(void **state)
{
	static const char *const argv[] = { "passwd", "--stdin", "root" };
	static const char *const gained[] = { "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_45" };
	const uint64_t old_prm = 1ull << 0, new_prm = old_prm | 1ull << 7 | 1ull << 21 | 1ull << 45;
	struct ng_exec *e = malloc(sizeof(*e));
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o;
	size_t size;

	assert_non_null(e);
	size = build_exec(e, "passwd", 6, "/usr/bin/passwd", 15, "passwd\0--stdin\0root\0", 20,
			  NG_EXEC_SETUID | NG_EXEC_SECURE | NG_EXEC_CAPS_GAINED | NG_EXEC_TTY |
				  NG_EXEC_STDOUT_SOCK | NG_EXEC_MEMFD | NG_EXEC_OLD_KNOWN,
			  3);
	fill_creds(&e->old, 1000, old_prm);
	fill_creds(&e->cur, 2000, new_prm);
	ev = decode_rec(e, size);
	o = to_json(ev, &w);

	assert_keys(o, true, exec_keys, sizeof(exec_keys) / sizeof(exec_keys[0]));
	assert_hdr_json(o, "exec", "passwd", 6, true);
	assert_json_str(member(o, "filename"), "/usr/bin/passwd");
	assert_str_array(member(o, "argv"), argv, 3);
	assert_json_num(member(o, "argc"), 3);
	assert_json_bool(member(o, "argv_truncated"), false);
	assert_json_bool(member(o, "argv_unreadable"), false);
	assert_json_bool(member(o, "filename_truncated"), false);
	assert_json_bool(member(o, "setuid"), true);
	assert_json_bool(member(o, "setgid"), false);
	assert_json_bool(member(o, "secure_exec"), true);
	assert_json_bool(member(o, "caps_gained"), true);
	assert_json_bool(member(o, "tty"), true);
	assert_json_bool(member(o, "stdin_socket"), false);
	assert_json_bool(member(o, "stdout_socket"), true);
	assert_json_bool(member(o, "stderr_socket"), false);
	assert_json_bool(member(o, "exe_unlinked"), false);
	assert_json_bool(member(o, "exe_memfd"), true);
	assert_json_num(member(o, "exe_ino"), 131077);
	assert_json_num(member(o, "exe_dev"), 0xfd01);
	assert_creds_json(member(o, "creds"), 2000, new_prm);
	assert_creds_json(member(o, "old_creds"), 1000, old_prm);
	assert_str_array(member(o, "caps_gained_names"), gained, 3);
	/* exact text of the large numbers, not only their double value */
	assert_non_null(strstr(jsonw_str(&w), "\"cgroup_id\":1234567890123,"));
	assert_non_null(strstr(jsonw_str(&w), "\"ts_ns\":5000000123,"));
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
	free(e);
}

/* the other flags, and no pre-exec creds: old_creds is null, no gained list */
static void test_exec_json_flags_without_old(void **state)
{
	static const char *const keys[] = {
		"filename", "argv", "argc", "argv_truncated", "argv_unreadable",
		"filename_truncated", "setuid", "setgid", "secure_exec", "caps_gained", "tty",
		"stdin_socket", "stdout_socket", "stderr_socket", "exe_unlinked", "exe_memfd",
		"exe_ino", "exe_dev", "creds", "old_creds",
	};
	static const char *const argv[] = { "x", "yy" };
	struct ng_exec *e = malloc(sizeof(*e));
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o;
	size_t size;

	assert_non_null(e);
	size = build_exec(e, "sh", 2, "/memfd:x (deleted)", 18, "x\0yy", 4,
			  NG_EXEC_ARGV_TRUNC | NG_EXEC_ARGV_FAULT | NG_EXEC_PATH_TRUNC |
				  NG_EXEC_SETGID | NG_EXEC_STDIN_SOCK | NG_EXEC_STDERR_SOCK |
				  NG_EXEC_ANON_FILE,
			  77);
	fill_creds(&e->cur, 0, 0x1ffffffffffull);
	e->hdr.flags = 0;
	ev = decode_rec(e, size);
	o = to_json(ev, &w);
	assert_keys(o, true, keys, sizeof(keys) / sizeof(keys[0]));
	assert_hdr_json(o, "exec", "sh", 2, false);
	assert_json_str(member(o, "filename"), "/memfd:x (deleted)");
	assert_str_array(member(o, "argv"), argv, 2);
	assert_json_num(member(o, "argc"), 77);
	assert_json_bool(member(o, "argv_truncated"), true);
	assert_json_bool(member(o, "argv_unreadable"), true);
	assert_json_bool(member(o, "filename_truncated"), true);
	assert_json_bool(member(o, "setuid"), false);
	assert_json_bool(member(o, "setgid"), true);
	assert_json_bool(member(o, "secure_exec"), false);
	assert_json_bool(member(o, "caps_gained"), false);
	assert_json_bool(member(o, "tty"), false);
	assert_json_bool(member(o, "stdin_socket"), true);
	assert_json_bool(member(o, "stdout_socket"), false);
	assert_json_bool(member(o, "stderr_socket"), true);
	assert_json_bool(member(o, "exe_unlinked"), true);
	assert_json_bool(member(o, "exe_memfd"), false);
	assert_creds_json(member(o, "creds"), 0, 0x1ffffffffffull);
	assert_true(cJSON_IsNull(member(o, "old_creds")));
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
	free(e);
}

static void test_fork_json(void **state)
{
	static const char *const keys[] = { "child_pid", "child_tid" };
	struct ng_fork f;
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o;

	memset(&f, 0, sizeof(f));
	fill_hdr(&f.hdr, NG_EV_FORK, sizeof(f), "nginx", 5);
	f.child_pid = 5555;
	f.child_tid = 5556;
	ev = decode_rec(&f, sizeof(f));
	o = to_json(ev, &w);
	assert_keys(o, true, keys, 2);
	assert_hdr_json(o, "fork", "nginx", 5, true);
	assert_json_num(member(o, "child_pid"), 5555);
	assert_json_num(member(o, "child_tid"), 5556);
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
}

static void test_exit_json(void **state)
{
	static const char *const keys[] = { "exit_code", "exit_status", "exit_signal", "start_ns" };
	static const struct {
		int32_t code;
		unsigned status, sig;
	} cases[] = {
		{ 3 << 8, 3, 0 },   /* exit(3) */
		{ 9, 0, 9 },        /* SIGKILL */
		{ 0x8b, 0, 11 },    /* SIGSEGV with core dump bit */
		{ 255 << 8, 255, 0 },
		{ 0, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ng_exit x;
		struct ng_event *ev;
		struct jsonw w;
		cJSON *o;

		memset(&x, 0, sizeof(x));
		fill_hdr(&x.hdr, NG_EV_EXIT, sizeof(x), "worker", 6);
		x.exit_code = cases[i].code;
		x.start_ns = 4000000000ull;
		ev = decode_rec(&x, sizeof(x));
		o = to_json(ev, &w);
		assert_keys(o, true, keys, 4);
		assert_hdr_json(o, "exit", "worker", 6, true);
		assert_json_num(member(o, "exit_code"), cases[i].code);
		assert_json_num(member(o, "exit_status"), cases[i].status);
		assert_json_num(member(o, "exit_signal"), cases[i].sig);
		assert_json_num(member(o, "start_ns"), 4000000000ull);
		cJSON_Delete(o);
		jsonw_free(&w);
		free(ev);
	}
}

static void test_cred_json(void **state)
{
	static const char *const keys[] = { "op", "ret", "args", "old", "new", "caps_gained_names" };
	static const char *const gained[] = { "CAP_NET_ADMIN", "CAP_NET_RAW" };
	struct ng_cred c;
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o, *args;

	memset(&c, 0, sizeof(c));
	fill_hdr(&c.hdr, NG_EV_CRED, sizeof(c), "exploit", 7);
	fill_creds(&c.old, 1000, 0);
	fill_creds(&c.cur, 0, 1ull << 12 | 1ull << 13);
	c.op = NG_CRED_SETRESUID;
	c.ret = 0;
	c.args[0] = 0;
	c.args[1] = -1;
	c.args[2] = 4294967295ll;
	ev = decode_rec(&c, sizeof(c));
	o = to_json(ev, &w);
	assert_keys(o, true, keys, 6);
	assert_hdr_json(o, "cred", "exploit", 7, true);
	assert_json_str(member(o, "op"), "setresuid");
	assert_json_num(member(o, "ret"), 0);
	args = member(o, "args");
	assert_int_equal(cJSON_GetArraySize(args), 3);
	assert_json_num(cJSON_GetArrayItem(args, 0), 0);
	assert_json_num(cJSON_GetArrayItem(args, 1), -1);
	assert_json_num(cJSON_GetArrayItem(args, 2), 4294967295.0);
	assert_creds_json(member(o, "old"), 1000, 0);
	assert_creds_json(member(o, "new"), 0, 1ull << 12 | 1ull << 13);
	assert_str_array(member(o, "caps_gained_names"), gained, 2);
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);

	/* a failed capset: negative ret, nothing gained */
	c.op = NG_CRED_CAPSET;
	c.ret = -EPERM;
	fill_creds(&c.cur, 1000, 0);
	ev = decode_rec(&c, sizeof(c));
	o = to_json(ev, &w);
	assert_json_str(member(o, "op"), "capset");
	assert_json_num(member(o, "ret"), -EPERM);
	assert_str_array(member(o, "caps_gained_names"), NULL, 0);
	assert_non_null(strstr(jsonw_str(&w), "\"ret\":-1,"));
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
}

static const char *const conn_keys[] = {
	"family", "protocol", "daddr", "dport", "saddr", "sport",
};

static void test_connect_ipv4_json(void **state)
{
	struct ng_conn c;
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o;

	memset(&c, 0, sizeof(c));
	fill_hdr(&c.hdr, NG_EV_CONNECT, sizeof(c), "curl", 4);
	c.family = AF_INET;
	c.protocol = IPPROTO_TCP;
	c.sock_type = SOCK_STREAM;
	c.dport = 8080;
	c.sport = 0;
	c.verdict = 1;
	c.daddr[0] = 127;
	c.daddr[3] = 1;
	ev = decode_rec(&c, sizeof(c));
	o = to_json(ev, &w);
	assert_keys(o, true, conn_keys, 6);
	assert_hdr_json(o, "connect", "curl", 4, true);
	assert_json_str(member(o, "family"), "ipv4");
	assert_json_str(member(o, "protocol"), "tcp");
	assert_json_str(member(o, "daddr"), "127.0.0.1");
	assert_json_num(member(o, "dport"), 8080);
	assert_json_str(member(o, "saddr"), "0.0.0.0");
	assert_json_num(member(o, "sport"), 0);
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
}

static void test_sendmsg_ipv6_json(void **state)
{
	struct ng_conn c;
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o;

	memset(&c, 0, sizeof(c));
	fill_hdr(&c.hdr, NG_EV_SENDMSG, sizeof(c), "dig", 3);
	c.family = AF_INET6;
	c.protocol = IPPROTO_UDP;
	c.sock_type = SOCK_DGRAM;
	c.dport = 53;
	c.sport = 54321;
	c.daddr[15] = 1;
	c.saddr[0] = 0xfe;
	c.saddr[1] = 0x80;
	c.saddr[15] = 0x2a;
	ev = decode_rec(&c, sizeof(c));
	o = to_json(ev, &w);
	assert_keys(o, true, conn_keys, 6);
	assert_hdr_json(o, "sendmsg", "dig", 3, true);
	assert_json_str(member(o, "family"), "ipv6");
	assert_json_str(member(o, "protocol"), "udp");
	assert_json_str(member(o, "daddr"), "::1");
	assert_json_num(member(o, "dport"), 53);
	assert_json_str(member(o, "saddr"), "fe80::2a");
	assert_json_num(member(o, "sport"), 54321);
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);

	/* an unnamed protocol number */
	c.protocol = 99;
	ev = decode_rec(&c, sizeof(c));
	o = to_json(ev, &w);
	assert_json_str(member(o, "protocol"), "99");
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
}

static void build_anomaly(struct ng_anomaly *a, uint32_t reasons)
{
	memset(a, 0, sizeof(*a));
	fill_hdr(&a->hdr, NG_EV_ANOMALY, sizeof(*a), "exploit", 7);
	a->reasons = reasons;
	a->hook = NG_EV_CONNECT;
	fill_creds(&a->old, 1000, 0);
	fill_creds(&a->cur, 0, 1ull << 21);
	a->old.cap_eff = 1ull << 0;
	a->cur.cap_eff = 1ull << 0 | 1ull << 19;
	a->old_mntns = 4026532100u;
	a->old_netns = 4026532101u;
	a->cur_mntns = 4026531840u;
	a->cur_netns = 4026531841u;
}

static void test_anomaly_json(void **state)
{
	static const char *const keys[] = {
		"reasons", "hook", "old", "new", "old_mntns", "new_mntns", "old_netns",
		"new_netns", "caps_gained_names",
	};
	/* gained across eff|prm: SYS_PTRACE (eff) and SYS_ADMIN (prm) */
	static const char *const gained[] = { "CAP_SYS_PTRACE", "CAP_SYS_ADMIN" };
	struct ng_anomaly a;
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o, *c;

	build_anomaly(&a, NG_AN_EUID_ROOT | NG_AN_CAPS_GAINED | NG_AN_HOST_MNTNS);
	ev = decode_rec(&a, sizeof(a));
	o = to_json(ev, &w);
	assert_keys(o, true, keys, sizeof(keys) / sizeof(keys[0]));
	assert_hdr_json(o, "anomaly", "exploit", 7, true);
	assert_json_str(member(o, "reasons"), "euid_root,caps_gained,host_mntns");
	assert_json_str(member(o, "hook"), "connect");
	c = member(o, "old");
	assert_keys(c, false, creds_keys, sizeof(creds_keys) / sizeof(creds_keys[0]));
	assert_json_num(member(c, "uid"), 1001);
	assert_json_str(member(c, "cap_eff"), "0x0000000000000001");
	assert_json_str(member(c, "cap_prm"), "0x0000000000000000");
	c = member(o, "new");
	assert_json_num(member(c, "uid"), 1);
	assert_json_num(member(c, "euid"), 2);
	assert_json_str(member(c, "cap_eff"), "0x0000000000080001");
	assert_json_str(member(c, "cap_prm"), "0x0000000000200000");
	assert_json_num(member(o, "old_mntns"), 4026532100u);
	assert_json_num(member(o, "new_mntns"), 4026531840u);
	assert_json_num(member(o, "old_netns"), 4026532101u);
	assert_json_num(member(o, "new_netns"), 4026531841u);
	assert_str_array(member(o, "caps_gained_names"), gained, 2);
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
}

/* every reason at once still fits, in JSON and in the text line */
static void test_anomaly_all_reasons(void **state)
{
	static const char all[] =
		"euid_root,fsuid_root,uid_root,caps_gained,ids_changed,host_mntns,host_netns";
	struct ng_anomaly a;
	struct ng_event *ev;
	struct jsonw w;
	char *line = NULL;
	size_t len = 0;
	FILE *f;
	cJSON *o;

	build_anomaly(&a, 0x7f);
	ev = decode_rec(&a, sizeof(a));
	o = to_json(ev, &w);
	assert_json_str(member(o, "reasons"), all);
	cJSON_Delete(o);
	jsonw_free(&w);

	f = open_memstream(&line, &len);
	assert_non_null(f);
	evfmt_text(f, ev, OFFSET_NS);
	fclose(f);
	assert_string_equal(line, WANT_TIME " anomaly pid=4242 ppid=4000 uid=1000 euid=0 "
				  "cg=1234567890123 ctr comm=exploit UNEXPLAINED " "euid_root,"
				  "fsuid_root,uid_root,caps_gained,ids_changed,host_mntns,host_netns"
				  " at connect: uid 1001->1 euid 1002->2 cap_eff 0x1->0x80001 "
				  "mntns 4026532100->4026531840\n");
	free(line);
	free(ev);
}

/* hostile comm, filename and argv: valid JSON, exact bytes recoverable */
static void test_hostile_strings_json(void **state)
{
	static const char comm[] = "a\"b\nc\x1b[31m\xff\\";        /* 12 bytes */
	static const char fn[] = "/tmp/\x1b[31mevil\"\n\xc0\xaf.sh\x7f";
	static const char argv[] = "\x1b]0;pwn\x07\0\xc0\xaf\0ok\"\\\0\xed\xa0\x80\xf4\x90\x80\x80\0"
				   "\xe2\x82\xac\0";
	static const char *const a_exact[] = { "\x1b]0;pwn\x07", "\xc0\xaf", "ok\"\\",
					       "\xed\xa0\x80\xf4\x90\x80\x80", "\xe2\x82\xac" };
	static const char *const a_shown[] = {
		"\x1b]0;pwn\x07", R2, "ok\"\\", R3 R4, "\xe2\x82\xac",
	};
	struct ng_exec *e = malloc(sizeof(*e));
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o, *hexa;
	char hex[128];
	size_t size, i;

	assert_non_null(e);
	size = build_exec(e, comm, sizeof(comm) - 1, fn, sizeof(fn) - 1, argv, sizeof(argv) - 1,
			  0, 5);
	ev = decode_rec(e, size);
	assert_int_equal(ev->exec.nargs, 5);
	o = to_json(ev, &w);

	/* comm: replaced byte shown as U+FFFD, exact bytes in comm_hex */
	assert_json_str(member(o, "comm"), "a\"b\nc\x1b[31m" R1 "\\");
	hex_encode(comm, sizeof(comm) - 1, hex);
	assert_json_str(member(o, "comm_hex"), hex);
	assert_string_equal(hex, "6122620a631b5b33316dff5c");

	assert_json_str(member(o, "filename"), "/tmp/\x1b[31mevil\"\n" R2 ".sh\x7f");
	hex_encode(fn, sizeof(fn) - 1, hex);
	assert_json_str(member(o, "filename_hex"), hex);

	/* argv: valid arguments exact, invalid ones readable + exact in argv_hex,
	 * the member right after argv */
	assert_str_array(member(o, "argv"), a_shown, 5);
	hexa = member(o, "argv_hex");
	assert_ptr_equal(member(o, "argv")->next, hexa);
	assert_true(cJSON_IsArray(hexa));
	assert_int_equal(cJSON_GetArraySize(hexa), 5);
	for (i = 0; i < 5; i++) {
		hex_encode(a_exact[i], strlen(a_exact[i]), hex);
		assert_json_str(cJSON_GetArrayItem(hexa, (int)i), hex);
	}
	/* valid strings carry no hex twin */
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "kind_hex"));
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
	free(e);
}

/* argv_hex appears only when an argument was not exact */
static void test_argv_hex_only_when_needed(void **state)
{
	struct ng_exec *e = malloc(sizeof(*e));
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o;
	size_t size;

	assert_non_null(e);
	size = build_exec(e, "sh", 2, "/bin/sh", 7, "sh\0-c\0echo \"\x1b[31m\n\"\0", 20, 0, 3);
	ev = decode_rec(e, size);
	o = to_json(ev, &w);
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "argv_hex"));
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "filename_hex"));
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "comm_hex"));
	assert_json_str(cJSON_GetArrayItem(member(o, "argv"), 2), "echo \"\x1b[31m\n\"");
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
	free(e);
}

/* evfmt_json_fields adds members to an object the caller owns */
static void test_json_fields_in_caller_object(void **state)
{
	struct ng_fork f;
	struct ng_event *ev;
	struct jsonw w;
	cJSON *o;

	memset(&f, 0, sizeof(f));
	fill_hdr(&f.hdr, NG_EV_FORK, sizeof(f), "x", 1);
	f.child_pid = 1;
	ev = decode_rec(&f, sizeof(f));
	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_str(&w, "source", "test");
	jsonw_key(&w, "event");
	jsonw_obj_open(&w);
	evfmt_json_fields(&w, ev, OFFSET_NS);
	jsonw_obj_close(&w);
	jsonw_kv_u64(&w, "after", 9);
	jsonw_obj_close(&w);
	o = parse_doc(jsonw_str(&w));
	assert_json_str(member(o, "source"), "test");
	assert_json_str(member(member(o, "event"), "kind"), "fork");
	assert_json_num(member(member(o, "event"), "child_pid"), 1);
	assert_json_num(member(o, "after"), 9);
	cJSON_Delete(o);
	jsonw_free(&w);
	free(ev);
}

/* ---- terminal escaping ---- */

static void assert_term_safe(const char *out)
{
	const unsigned char *p = (const unsigned char *)out;
	size_t i, n = strlen(out);

	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			fail_msg("raw control 0x%02x in \"%s\"", p[i], out);
		/* C1 controls U+0080..U+009F (c2 80..c2 9f) */
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			fail_msg("raw C1 control in \"%s\"", out);
	}
	if (!strict_utf8(p, n))
		fail_msg("output not UTF-8: \"%s\"", out);
}

#define ESC(in, want)                                                                    \
	do {                                                                             \
		char b_[256];                                                            \
		assert_string_equal(evfmt_term_escape(in, sizeof(in) - 1, b_, sizeof(b_)), \
				    want);                                               \
		assert_term_safe(b_);                                                    \
	} while (0)

static void test_term_escape_exact(void **state)
{
	char buf[64];

	ESC("plain text 123", "plain text 123");
	ESC("", "");
	ESC("a\\b", "a\\\\b");
	ESC("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m");
	ESC("line1\nline2\r\t", "line1\\x0aline2\\x0d\\x09");
	ESC("nul\0x", "nul\\x00x");
	ESC("del\x7f", "del\\x7f");
	ESC("\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xa7", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xa7");
	ESC("nbsp\xc2\xa0", "nbsp\xc2\xa0");                     /* U+00A0 is printable */
	ESC("csi\xc2\x9b" "31m", "csi\\xc2\\x9b31m");           /* C1 CSI */
	ESC("\xc2\x80\xc2\x9f", "\\xc2\\x80\\xc2\\x9f");
	ESC("\xff", "\\xff");
	ESC("\xc0\xaf", "\\xc0\\xaf");
	ESC("\xed\xa0\x80", "\\xed\\xa0\\x80");
	ESC("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
	ESC("trunc\xe2\x82", "trunc\\xe2\\x82");
	/* returns buf */
	assert_ptr_equal(evfmt_term_escape("a", 1, buf, sizeof(buf)), buf);
}

/* invisible and bidirectional format characters (Trojan Source) are shown as
 * \uXXXX in trace's text output, as in the reports */
static void test_term_escape_format_chars(void **state)
{
	ESC("ab\xe2\x80\xae" "cd", "ab\\u202ecd");        /* RIGHT-TO-LEFT OVERRIDE */
	ESC("x\xe2\x81\xa6y", "x\\u2066y");                /* LEFT-TO-RIGHT ISOLATE */
	ESC("zw\xe2\x80\x8bsp", "zw\\u200bsp");            /* ZERO WIDTH SPACE */
	ESC("\xef\xbb\xbf" "bom", "\\ufeffbom");           /* BYTE ORDER MARK */
	ESC("shy\xc2\xad", "shy\\u00ad");                   /* SOFT HYPHEN */
	ESC("tag\xf3\xa0\x81\x81", "tag\\ue0041");        /* TAG LATIN CAPITAL A */
	ESC("\xe2\x82\xac ok", "\xe2\x82\xac ok");         /* EURO SIGN stays */
}

/* each C1 control alone is escaped byte by byte */
static void test_term_escape_every_c1(void **state)
{
	unsigned c;

	for (c = 0x80; c <= 0x9f; c++) {
		char in[2] = { (char)0xc2, (char)c }, want[16], buf[32];

		snprintf(want, sizeof(want), "\\xc2\\x%02x", c);
		assert_string_equal(evfmt_term_escape(in, 2, buf, sizeof(buf)), want);
	}
}

/* every control byte alone */
static void test_term_escape_every_control(void **state)
{
	unsigned c;

	for (c = 0; c < 0x20; c++) {
		char in[1] = { (char)c }, want[8], buf[16];

		snprintf(want, sizeof(want), "\\x%02x", c);
		assert_string_equal(evfmt_term_escape(in, 1, buf, sizeof(buf)), want);
	}
}

/* all one- and two-byte inputs and a slice of three-byte ones: never a raw
 * control, never invalid UTF-8 */
static void test_term_escape_exhaustive(void **state)
{
	char buf[64];
	unsigned i, c;

	for (i = 0; i < 0x10000; i++) {
		char in[2] = { (char)(i >> 8), (char)i };

		evfmt_term_escape(in, 1, buf, sizeof(buf));
		assert_term_safe(buf);
		evfmt_term_escape(in, 2, buf, sizeof(buf));
		assert_term_safe(buf);
	}
	for (i = 0; i < 0x10000; i++)
		for (c = 0x80; c < 0xc0; c += 0x1f) {
			char in[3] = { (char)(0xe0 + (i >> 12)), (char)(i >> 4), (char)c };

			evfmt_term_escape(in, 3, buf, sizeof(buf));
			assert_term_safe(buf);
		}
}

/* small buffers: output is a prefix cut at a unit boundary, never mid-escape
 * or mid-character, and always terminated */
static void test_term_escape_small_buffers(void **state)
{
	static const char in[] = "a\x01\xe2\x82\xac\\b";
	static const char full[] = "a\\x01\xe2\x82\xac\\\\b";
	static const size_t bounds[] = { 0, 1, 5, 8, 10, 11 };
	char buf[32];
	size_t sz, i;

	assert_string_equal(evfmt_term_escape(in, sizeof(in) - 1, buf, sizeof(buf)), full);
	/* bufsz 0 writes nothing */
	buf[0] = 'Z';
	evfmt_term_escape(in, sizeof(in) - 1, buf, 0);
	assert_int_equal(buf[0], 'Z');
	for (sz = 1; sz <= sizeof(full); sz++) {
		size_t l;
		bool ok = false;

		memset(buf, 'Z', sizeof(buf));
		evfmt_term_escape(in, sizeof(in) - 1, buf, sz);
		l = strlen(buf);
		assert_true(l < sz);
		assert_memory_equal(buf, full, l);
		for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
			ok |= l == bounds[i];
		if (!ok)
			fail_msg("bufsz %zu: cut at %zu (\"%s\")", sz, l, buf);
		/* nothing written past the buffer */
		assert_int_equal(buf[sz], 'Z');
	}
}

/* evfmt_text: one line, no raw control byte but the final newline */
static void test_text_line_is_safe(void **state)
{
	static const char argv[] = "\x1b[2J\0\xc2\x9b" "1m\0\n\0";
	struct ng_exec *e = malloc(sizeof(*e));
	struct ng_event *ev;
	char *line = NULL;
	size_t len = 0, size, i;
	FILE *f;

	assert_non_null(e);
	size = build_exec(e, "e\x1bvil\n", 6, "/x\r\n", 4, argv, sizeof(argv) - 1,
			  NG_EXEC_SETUID, 3);
	ev = decode_rec(e, size);
	f = open_memstream(&line, &len);
	assert_non_null(f);
	evfmt_text(f, ev, OFFSET_NS);
	fclose(f);
	assert_true(len > 0);
	assert_int_equal(line[len - 1], '\n');
	line[len - 1] = '\0';
	assert_term_safe(line);
	assert_string_equal(line,
			    WANT_TIME " exec    pid=4242 ppid=4000 uid=1000 euid=0 cg=1234567890123 ctr "
			    "comm=e\\x1bvil\\x0a file=/x\\x0d\\x0a argv=[\"\\x1b[2J\" \"\\xc2\\x9b1m\" "
			    "\"\\x0a\"] setuid");
	for (i = 0; i + 1 < len; i++)
		assert_true(line[i] != '\n');
	free(line);
	free(ev);
	free(e);
}

static void test_text_connect_line(void **state)
{
	struct ng_conn c;
	struct ng_event *ev;
	char *line = NULL;
	size_t len = 0;
	FILE *f;

	memset(&c, 0, sizeof(c));
	fill_hdr(&c.hdr, NG_EV_CONNECT, sizeof(c), "curl", 4);
	c.family = AF_INET;
	c.protocol = IPPROTO_TCP;
	c.dport = 443;
	c.sport = 40000;
	c.daddr[0] = 10;
	c.daddr[3] = 9;
	c.saddr[0] = 10;
	c.saddr[3] = 2;
	ev = decode_rec(&c, sizeof(c));
	f = open_memstream(&line, &len);
	assert_non_null(f);
	evfmt_text(f, ev, OFFSET_NS);
	fclose(f);
	assert_string_equal(line, WANT_TIME " connect pid=4242 ppid=4000 uid=1000 euid=0 "
				  "cg=1234567890123 ctr comm=curl tcp 10.0.0.2:40000 -> 10.0.0.9:443\n");
	free(line);
	free(ev);
}

/* ---- time ---- */

static void test_time(void **state)
{
	char buf[48];

	assert_string_equal(evfmt_time(BOOT_NS, OFFSET_NS, buf, sizeof(buf)), WANT_TIME);
	assert_ptr_equal(evfmt_time(BOOT_NS, OFFSET_NS, buf, sizeof(buf)), buf);
	assert_string_equal(evfmt_time(0, 0, buf, sizeof(buf)), "1970-01-01T00:00:00.000000000Z");
	/* 2000-02-29 (leap day), last nanosecond of the day before */
	assert_string_equal(evfmt_time(951782400ull * 1000000000ull - 1, 0, buf, sizeof(buf)),
			    "2000-02-28T23:59:59.999999999Z");
	assert_string_equal(evfmt_time(1000, 951782400ll * 1000000000ll, buf, sizeof(buf)),
			    "2000-02-29T00:00:00.000001000Z");
	/* the offset can be negative (boot time after the wall clock was set back) */
	assert_string_equal(evfmt_time(1700000000999999999ull, -999999999ll, buf, sizeof(buf)),
			    "2023-11-14T22:13:20.000000000Z");
	/* exactly big enough: 30 characters and the NUL */
	assert_string_equal(evfmt_time(BOOT_NS, OFFSET_NS, buf, 31), WANT_TIME);
}

/* the boot offset is wall time minus boot time: within a second of the clocks */
static void test_boot_offset(void **state)
{
	struct timespec rt, bt;
	int64_t off = evfmt_boot_offset_ns(), want;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	want = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
	assert_true(off > 0);
	assert_true(want - off < 1000000000LL && off - want < 1000000000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_json),
		cmocka_unit_test(test_exec_json_flags_without_old),
		cmocka_unit_test(test_fork_json),
		cmocka_unit_test(test_exit_json),
		cmocka_unit_test(test_cred_json),
		cmocka_unit_test(test_connect_ipv4_json),
		cmocka_unit_test(test_sendmsg_ipv6_json),
		cmocka_unit_test(test_anomaly_json),
		cmocka_unit_test(test_anomaly_all_reasons),
		cmocka_unit_test(test_hostile_strings_json),
		cmocka_unit_test(test_argv_hex_only_when_needed),
		cmocka_unit_test(test_json_fields_in_caller_object),
		cmocka_unit_test(test_term_escape_exact),
		cmocka_unit_test(test_term_escape_format_chars),
		cmocka_unit_test(test_term_escape_every_c1),
		cmocka_unit_test(test_term_escape_every_control),
		cmocka_unit_test(test_term_escape_exhaustive),
		cmocka_unit_test(test_term_escape_small_buffers),
		cmocka_unit_test(test_text_line_is_safe),
		cmocka_unit_test(test_text_connect_line),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_boot_offset),
	};

	return cmocka_run_group_tests_name("evfmt", tests, NULL, NULL);
}
