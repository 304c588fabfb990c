// SPDX-License-Identifier: Apache-2.0
/*
 * agent/decode.c: every record kind decoded field by field, exec argv
 * splitting, and malformed records. Every record is handed to the decoder in
 * a heap buffer of exactly the stated length, so ASan/valgrind flag any read
 * past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "decode.h"
#include "nodeguard/credcheck.h"
#include "unit_helpers.h"

/* decode from an exact-size heap copy of rec[0..len) */
static int decode_exact(const void *rec, size_t len, struct ng_event *ev)
{
	void *p = malloc(len ? len : 1);
	int r;

	assert_non_null(p);
	memcpy(p, rec, len);
	r = ng_decode(p, len, ev);
	free(p);
	return r;
}

static struct ng_event *new_event(void)
{
	struct ng_event *ev = malloc(sizeof(*ev));

	assert_non_null(ev);
	memset(ev, 0xa5, sizeof(*ev)); /* poison: decoded fields must be set */
	return ev;
}

static void fill_hdr(struct ng_hdr *h, unsigned kind, size_t size)
{
	memset(h, 0, sizeof(*h));
	h->ts_ns = 0x1122334455667788ull;
	h->kind = (__u16)kind;
	h->size = (__u16)size;
	h->flags = NG_HF_CONTAINER;
	h->pid = 4242;
	h->tid = 4243;
	h->ppid = 4000;
	h->nspid = 7;
	h->uid = 1000;
	h->gid = 1001;
	h->euid = 1002;
	h->egid = 1003;
	h->cgroup_id = 0xdeadbeefcafeull;
	h->pidns = 4026532001u;
	h->mntns = 4026532002u;
	h->netns = 4026532003u;
	memcpy(h->comm, "bash", 5);
}

static void assert_hdr(const struct ng_event *ev, unsigned kind, size_t size)
{
	assert_int_equal(ev->hdr.ts_ns, 0x1122334455667788ull);
	assert_int_equal(ev->hdr.kind, kind);
	assert_int_equal(ev->hdr.size, size);
	assert_int_equal(ev->hdr.flags, NG_HF_CONTAINER);
	assert_int_equal(ev->hdr.pid, 4242);
	assert_int_equal(ev->hdr.tid, 4243);
	assert_int_equal(ev->hdr.ppid, 4000);
	assert_int_equal(ev->hdr.nspid, 7);
	assert_int_equal(ev->hdr.uid, 1000);
	assert_int_equal(ev->hdr.gid, 1001);
	assert_int_equal(ev->hdr.euid, 1002);
	assert_int_equal(ev->hdr.egid, 1003);
	assert_int_equal(ev->hdr.cgroup_id, 0xdeadbeefcafeull);
	assert_int_equal(ev->hdr.pidns, 4026532001u);
	assert_int_equal(ev->hdr.mntns, 4026532002u);
	assert_int_equal(ev->hdr.netns, 4026532003u);
	assert_string_equal(ev->comm, "bash");
}

/* creds whose every field is distinct, derived from a base */
static void fill_creds(struct ng_creds *c, unsigned base)
{
	c->uid = base + 1;
	c->euid = base + 2;
	c->suid = base + 3;
	c->fsuid = base + 4;
	c->gid = base + 5;
	c->egid = base + 6;
	c->sgid = base + 7;
	c->fsgid = base + 8;
	c->cap_eff = 0x1000000000ull * base + 0x11;
	c->cap_prm = 0x1000000000ull * base + 0x22;
	c->cap_inh = 0x1000000000ull * base + 0x33;
	c->ngroups = base + 9;
	c->userns = base + 10;
}

static void assert_creds(const struct ng_creds *c, unsigned base)
{
	assert_int_equal(c->uid, base + 1);
	assert_int_equal(c->euid, base + 2);
	assert_int_equal(c->suid, base + 3);
	assert_int_equal(c->fsuid, base + 4);
	assert_int_equal(c->gid, base + 5);
	assert_int_equal(c->egid, base + 6);
	assert_int_equal(c->sgid, base + 7);
	assert_int_equal(c->fsgid, base + 8);
	assert_int_equal(c->cap_eff, 0x1000000000ull * base + 0x11);
	assert_int_equal(c->cap_prm, 0x1000000000ull * base + 0x22);
	assert_int_equal(c->cap_inh, 0x1000000000ull * base + 0x33);
	assert_int_equal(c->ngroups, base + 9);
	assert_int_equal(c->userns, base + 10);
}

/* an exec record with the given tail; returns its size */
static size_t build_exec(struct ng_exec *e, const void *fn, size_t fnlen, const void *argv,
			 size_t argvlen, uint32_t eflags, uint32_t argc)
{
	size_t size = NG_EXEC_FIXED_SIZE + fnlen + argvlen;

	memset(e, 0, sizeof(*e));
	fill_hdr(&e->hdr, NG_EV_EXEC, size);
	fill_creds(&e->old, 100);
	fill_creds(&e->cur, 200);
	e->eflags = eflags;
	e->argc = argc;
	e->argv_full = (uint32_t)argvlen + 1000;
	e->filename_len = (__u16)fnlen;
	e->argv_len = (__u16)argvlen;
	e->exe_ino = 0x123456789abcull;
	e->exe_dev = 0xfd01;
	memcpy(e->data, fn, fnlen);
	memcpy(e->data + fnlen, argv, argvlen);
	return size;
}

#define ARGS(lit) lit, sizeof(lit) - 1

static void assert_args(const struct ng_event *ev, const char *const *want, size_t n)
{
	size_t i;

	assert_int_equal(ev->exec.nargs, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(ev->exec.arg_lens[i], strlen(want[i]));
		assert_memory_equal(ev->exec.args[i], want[i], strlen(want[i]));
		/* args point into the event's own argv copy */
		assert_true(ev->exec.args[i] >= ev->exec.argv &&
			    ev->exec.args[i] + ev->exec.arg_lens[i] <= ev->exec.argv + ev->exec.argv_len);
	}
}

static struct ng_exec *new_exec(void)
{
	struct ng_exec *e = malloc(sizeof(*e));

	assert_non_null(e);
	return e;
}

static void test_exec_well_formed(void **state)
{
	static const char *const want[] = { "id", "-u" };
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t size = build_exec(e, "/usr/bin/id", 11, ARGS("id\0-u\0"),
				 NG_EXEC_SETUID | NG_EXEC_OLD_KNOWN | NG_EXEC_TTY, 2);

	assert_int_equal(size, 248 + 11 + 6);
	assert_int_equal(decode_exact(e, size, ev), 0);
	assert_hdr(ev, NG_EV_EXEC, size);
	assert_creds(&ev->exec.old, 100);
	assert_creds(&ev->exec.cur, 200);
	assert_int_equal(ev->exec.flags, NG_EXEC_SETUID | NG_EXEC_OLD_KNOWN | NG_EXEC_TTY);
	assert_int_equal(ev->exec.argc, 2);
	assert_int_equal(ev->exec.argv_full, 1006);
	assert_int_equal(ev->exec.exe_ino, 0x123456789abcull);
	assert_int_equal(ev->exec.exe_dev, 0xfd01);
	assert_int_equal(ev->exec.filename_len, 11);
	assert_string_equal(ev->exec.filename, "/usr/bin/id");
	/* the terminating NUL of the last argument is not an argument */
	assert_int_equal(ev->exec.argv_len, 5);
	assert_memory_equal(ev->exec.argv, "id\0-u", 6);
	assert_args(ev, want, 2);
	free(e);
	free(ev);
}

/* `sh -c ""`: a trailing empty argument is an argument */
static void test_exec_trailing_empty_arg(void **state)
{
	static const char *const want[] = { "sh", "-c", "" };
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t size = build_exec(e, "/bin/sh", 7, ARGS("sh\0-c\0\0"), 0, 3);

	assert_int_equal(decode_exact(e, size, ev), 0);
	assert_int_equal(ev->exec.argv_len, 6);
	assert_args(ev, want, 3);
	free(e);
	free(ev);
}

/* argv = { "" }: one empty argument */
static void test_exec_single_empty_arg(void **state)
{
	static const char *const want[] = { "" };
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t size = build_exec(e, "/bin/true", 9, ARGS("\0"), 0, 1);

	assert_int_equal(decode_exact(e, size, ev), 0);
	assert_int_equal(ev->exec.argv_len, 0);
	assert_args(ev, want, 1);
	free(e);
	free(ev);
}

static void test_exec_empty_args_in_the_middle(void **state)
{
	static const char *const want[] = { "a", "", "", "b" };
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t size = build_exec(e, "/x", 2, ARGS("a\0\0\0b\0"), 0, 4);

	assert_int_equal(decode_exact(e, size, ev), 0);
	assert_int_equal(ev->exec.argv_len, 5);
	assert_args(ev, want, 4);
	free(e);
	free(ev);
}

/* no argv at all (unreadable): no arguments, empty filename allowed */
static void test_exec_no_argv(void **state)
{
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t size = build_exec(e, "", 0, "", 0, NG_EXEC_ARGV_FAULT, 3);

	assert_int_equal(size, NG_EXEC_FIXED_SIZE);
	assert_int_equal(decode_exact(e, size, ev), 0);
	assert_int_equal(ev->exec.filename_len, 0);
	assert_string_equal(ev->exec.filename, "");
	assert_int_equal(ev->exec.argv_len, 0);
	assert_int_equal(ev->exec.argv[0], '\0');
	assert_int_equal(ev->exec.nargs, 0);
	assert_int_equal(ev->exec.argc, 3);
	assert_int_equal(ev->exec.flags, NG_EXEC_ARGV_FAULT);
	free(e);
	free(ev);
}

/* truncated argv: the last (cut) argument is kept, no NUL is stripped */
static void test_exec_truncated(void **state)
{
	static const char *const want1[] = { "aaa", "bbb" };
	static const char *const want2[] = { "aaa" };
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t size;

	size = build_exec(e, "/bin/x", 6, ARGS("aaa\0bbb"), NG_EXEC_ARGV_TRUNC, 9);
	assert_int_equal(decode_exact(e, size, ev), 0);
	assert_int_equal(ev->exec.flags & NG_EXEC_ARGV_TRUNC, NG_EXEC_ARGV_TRUNC);
	assert_int_equal(ev->exec.argv_len, 7);
	assert_args(ev, want1, 2);
	assert_int_equal(ev->exec.argc, 9);

	/* cut right after a NUL: the NUL stays in argv_len */
	size = build_exec(e, "/bin/x", 6, ARGS("aaa\0"), NG_EXEC_ARGV_TRUNC, 9);
	assert_int_equal(decode_exact(e, size, ev), 0);
	assert_int_equal(ev->exec.argv_len, 4);
	assert_args(ev, want2, 1);
	free(e);
	free(ev);
}

/* argv without a final NUL and not flagged truncated: all bytes are argv */
static void test_exec_unterminated_argv(void **state)
{
	static const char *const want[] = { "a", "bc" };
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t size = build_exec(e, "/x", 2, ARGS("a\0bc"), 0, 2);

	assert_int_equal(decode_exact(e, size, ev), 0);
	assert_int_equal(ev->exec.argv_len, 4);
	assert_args(ev, want, 2);
	free(e);
	free(ev);
}

/* the largest record: filename NG_PATH_MAX, argv NG_ARGV_MAX, more args than
 * NG_MAX_ARGS (only the first NG_MAX_ARGS are split out) */
static void test_exec_maxima(void **state)
{
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	char fn[NG_PATH_MAX], argv[NG_ARGV_MAX];
	size_t size, i;

	for (i = 0; i < sizeof(fn); i++)
		fn[i] = (char)('A' + i % 26);
	/* 2048 one-byte args "0\0" "1\0" ... */
	for (i = 0; i < sizeof(argv); i += 2) {
		argv[i] = (char)('0' + (i / 2) % 10);
		argv[i + 1] = '\0';
	}
	size = build_exec(e, fn, sizeof(fn), argv, sizeof(argv), 0, 2048);
	assert_int_equal(size, sizeof(struct ng_exec));
	assert_int_equal(decode_exact(e, size, ev), 0);
	assert_int_equal(ev->exec.filename_len, NG_PATH_MAX);
	assert_memory_equal(ev->exec.filename, fn, NG_PATH_MAX);
	assert_int_equal(ev->exec.filename[NG_PATH_MAX], '\0');
	assert_int_equal(ev->exec.argv_len, NG_ARGV_MAX - 1);
	assert_memory_equal(ev->exec.argv, argv, NG_ARGV_MAX - 1);
	assert_int_equal(ev->exec.nargs, NG_MAX_ARGS);
	for (i = 0; i < NG_MAX_ARGS; i++) {
		assert_int_equal(ev->exec.arg_lens[i], 1);
		assert_int_equal(ev->exec.args[i][0], '0' + i % 10);
		assert_ptr_equal(ev->exec.args[i], ev->exec.argv + 2 * i);
	}
	free(e);
	free(ev);
}

/* bytes past hdr.size are ignored (len may exceed the record) */
static void test_exec_len_beyond_size(void **state)
{
	static const char *const want[] = { "ls" };
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t size = build_exec(e, "/bin/ls", 7, ARGS("ls\0"), 0, 1);

	/* garbage after the record that would look like more argv */
	memcpy(e->data + 7 + 3, "EVIL\0", 5);
	assert_int_equal(decode_exact(e, size + 5, ev), 0);
	assert_int_equal(ev->hdr.size, size);
	assert_int_equal(ev->exec.argv_len, 2);
	assert_args(ev, want, 1);
	free(e);
	free(ev);
}

/* comm fills all 16 bytes with no NUL: the event's copy is terminated */
static void test_comm_unterminated(void **state)
{
	struct ng_fork f;
	struct ng_event *ev = new_event();

	memset(&f, 0, sizeof(f));
	fill_hdr(&f.hdr, NG_EV_FORK, sizeof(f));
	memcpy(f.hdr.comm, "0123456789abcdef", NG_COMM_LEN);
	assert_int_equal(decode_exact(&f, sizeof(f), ev), 0);
	assert_int_equal(strlen(ev->comm), NG_COMM_LEN);
	assert_string_equal(ev->comm, "0123456789abcdef");
	free(ev);
}

static void test_fork(void **state)
{
	struct ng_fork f;
	struct ng_event *ev = new_event();

	memset(&f, 0, sizeof(f));
	fill_hdr(&f.hdr, NG_EV_FORK, sizeof(f));
	f.child_pid = 5555;
	f.child_tid = 5556;
	f.clone_flags = 0x11;
	assert_int_equal(decode_exact(&f, sizeof(f), ev), 0);
	assert_hdr(ev, NG_EV_FORK, sizeof(f));
	assert_int_equal(ev->fork.child_pid, 5555);
	assert_int_equal(ev->fork.child_tid, 5556);
	free(ev);
}

static void test_exit(void **state)
{
	struct ng_exit x;
	struct ng_event *ev = new_event();

	memset(&x, 0, sizeof(x));
	fill_hdr(&x.hdr, NG_EV_EXIT, sizeof(x));
	x.exit_code = (3 << 8) | 0;
	x.start_ns = 987654321012ull;
	assert_int_equal(decode_exact(&x, sizeof(x), ev), 0);
	assert_hdr(ev, NG_EV_EXIT, sizeof(x));
	assert_int_equal(ev->exit.exit_code, 0x300);
	assert_int_equal(ev->exit.start_ns, 987654321012ull);

	x.exit_code = -1;
	assert_int_equal(decode_exact(&x, sizeof(x), ev), 0);
	assert_int_equal(ev->exit.exit_code, -1);
	free(ev);
}

static void test_cred_every_op(void **state)
{
	struct ng_cred c;
	struct ng_event *ev = new_event();
	unsigned op;

	for (op = NG_CRED_SETUID; op < NG_CRED_OP_MAX; op++) {
		memset(&c, 0, sizeof(c));
		fill_hdr(&c.hdr, NG_EV_CRED, sizeof(c));
		fill_creds(&c.old, 300);
		fill_creds(&c.cur, 400);
		c.op = op;
		c.ret = op == NG_CRED_SETGROUPS ? -EPERM : 0;
		c.args[0] = 0;
		c.args[1] = -1;
		c.args[2] = (int64_t)op << 40;
		assert_int_equal(decode_exact(&c, sizeof(c), ev), 0);
		assert_hdr(ev, NG_EV_CRED, sizeof(c));
		assert_creds(&ev->cred.old, 300);
		assert_creds(&ev->cred.cur, 400);
		assert_int_equal(ev->cred.op, op);
		assert_int_equal(ev->cred.ret, op == NG_CRED_SETGROUPS ? -EPERM : 0);
		assert_int_equal(ev->cred.args[0], 0);
		assert_int_equal(ev->cred.args[1], -1);
		assert_int_equal(ev->cred.args[2], (int64_t)op << 40);
	}
	free(ev);
}

static void test_conn_ipv4_and_ipv6(void **state)
{
	static const uint8_t v4[16] = { 127, 0, 0, 1 };
	static const uint8_t v4s[16] = { 10, 1, 2, 3 };
	static const uint8_t v6[16] = { [15] = 1 };
	static const uint8_t v6s[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x42 };
	struct ng_conn c;
	struct ng_event *ev = new_event();

	memset(&c, 0, sizeof(c));
	fill_hdr(&c.hdr, NG_EV_CONNECT, sizeof(c));
	c.family = AF_INET;
	c.protocol = IPPROTO_TCP;
	c.sock_type = SOCK_STREAM;
	c.dport = 8080;
	c.sport = 40000;
	c.verdict = 1;
	memcpy(c.daddr, v4, 16);
	memcpy(c.saddr, v4s, 16);
	assert_int_equal(decode_exact(&c, sizeof(c), ev), 0);
	assert_hdr(ev, NG_EV_CONNECT, sizeof(c));
	assert_int_equal(ev->conn.family, AF_INET);
	assert_int_equal(ev->conn.protocol, IPPROTO_TCP);
	assert_int_equal(ev->conn.sock_type, SOCK_STREAM);
	assert_int_equal(ev->conn.dport, 8080);
	assert_int_equal(ev->conn.sport, 40000);
	assert_int_equal(ev->conn.verdict, 1);
	assert_memory_equal(ev->conn.daddr, v4, 16);
	assert_memory_equal(ev->conn.saddr, v4s, 16);

	fill_hdr(&c.hdr, NG_EV_SENDMSG, sizeof(c));
	c.family = AF_INET6;
	c.protocol = IPPROTO_UDP;
	c.sock_type = SOCK_DGRAM;
	c.dport = 53;
	c.sport = 0;
	memcpy(c.daddr, v6, 16);
	memcpy(c.saddr, v6s, 16);
	assert_int_equal(decode_exact(&c, sizeof(c), ev), 0);
	assert_hdr(ev, NG_EV_SENDMSG, sizeof(c));
	assert_int_equal(ev->conn.family, AF_INET6);
	assert_int_equal(ev->conn.protocol, IPPROTO_UDP);
	assert_int_equal(ev->conn.sock_type, SOCK_DGRAM);
	assert_int_equal(ev->conn.dport, 53);
	assert_int_equal(ev->conn.sport, 0);
	assert_memory_equal(ev->conn.daddr, v6, 16);
	assert_memory_equal(ev->conn.saddr, v6s, 16);
	free(ev);
}

static void fill_anomaly(struct ng_anomaly *a)
{
	memset(a, 0, sizeof(*a));
	fill_hdr(&a->hdr, NG_EV_ANOMALY, sizeof(*a));
	a->reasons = NG_AN_EUID_ROOT | NG_AN_CAPS_GAINED | NG_AN_HOST_MNTNS;
	a->hook = NG_EV_CONNECT;
	fill_creds(&a->old, 500);
	fill_creds(&a->cur, 600);
	a->old_mntns = 4026532100u;
	a->old_netns = 4026532101u;
	a->cur_mntns = 4026531840u;
	a->cur_netns = 4026531841u;
}

static void test_anomaly(void **state)
{
	struct ng_anomaly a;
	struct ng_event *ev = new_event();

	fill_anomaly(&a);
	assert_int_equal(decode_exact(&a, sizeof(a), ev), 0);
	assert_hdr(ev, NG_EV_ANOMALY, sizeof(a));
	assert_int_equal(ev->anomaly.reasons, NG_AN_EUID_ROOT | NG_AN_CAPS_GAINED | NG_AN_HOST_MNTNS);
	assert_int_equal(ev->anomaly.hook, NG_EV_CONNECT);
	assert_creds(&ev->anomaly.old, 500);
	assert_creds(&ev->anomaly.cur, 600);
	assert_int_equal(ev->anomaly.old_mntns, 4026532100u);
	assert_int_equal(ev->anomaly.old_netns, 4026532101u);
	assert_int_equal(ev->anomaly.cur_mntns, 4026531840u);
	assert_int_equal(ev->anomaly.cur_netns, 4026531841u);

	/* an anomaly without a reason is not one */
	a.reasons = 0;
	assert_int_equal(decode_exact(&a, sizeof(a), ev), -EBADMSG);
	free(ev);
}

static void test_anomaly_reasons(void **state)
{
	char buf[128];

	assert_string_equal(ng_anomaly_reasons(0, buf, sizeof(buf)), "");
	assert_ptr_equal(ng_anomaly_reasons(0, buf, sizeof(buf)), buf);
	assert_string_equal(ng_anomaly_reasons(NG_AN_EUID_ROOT, buf, sizeof(buf)), "euid_root");
	assert_string_equal(ng_anomaly_reasons(NG_AN_FSUID_ROOT, buf, sizeof(buf)), "fsuid_root");
	assert_string_equal(ng_anomaly_reasons(NG_AN_UID_ROOT, buf, sizeof(buf)), "uid_root");
	assert_string_equal(ng_anomaly_reasons(NG_AN_CAPS_GAINED, buf, sizeof(buf)), "caps_gained");
	assert_string_equal(ng_anomaly_reasons(NG_AN_IDS_CHANGED, buf, sizeof(buf)), "ids_changed");
	assert_string_equal(ng_anomaly_reasons(NG_AN_HOST_MNTNS, buf, sizeof(buf)), "host_mntns");
	assert_string_equal(ng_anomaly_reasons(NG_AN_HOST_NETNS, buf, sizeof(buf)), "host_netns");
	assert_string_equal(ng_anomaly_reasons(NG_AN_SEEDED, buf, sizeof(buf)), "baseline_from_proc");
	assert_string_equal(ng_anomaly_reasons(0xffffffffu, buf, sizeof(buf)),
			    "euid_root,fsuid_root,uid_root,caps_gained,ids_changed,host_mntns,"
			    "host_netns,baseline_from_proc");
	/* unknown bits alone name nothing */
	assert_string_equal(ng_anomaly_reasons(1u << 8 | 1u << 31, buf, sizeof(buf)), "");
	/* small buffers keep whole names only */
	memset(buf, 'X', sizeof(buf));
	ng_anomaly_reasons(NG_AN_EUID_ROOT, buf, 0);
	assert_int_equal(buf[0], 'X');
	assert_string_equal(ng_anomaly_reasons(NG_AN_EUID_ROOT, buf, 9), "");
	assert_string_equal(ng_anomaly_reasons(NG_AN_EUID_ROOT, buf, 10), "euid_root");
	assert_string_equal(ng_anomaly_reasons(NG_AN_EUID_ROOT | NG_AN_UID_ROOT, buf, 15),
			    "euid_root");
	assert_string_equal(ng_anomaly_reasons(NG_AN_EUID_ROOT | NG_AN_UID_ROOT, buf, 18),
			    "euid_root");
	assert_string_equal(ng_anomaly_reasons(NG_AN_EUID_ROOT | NG_AN_UID_ROOT, buf, 19),
			    "euid_root,uid_root");
}

/* ---- malformed records ---- */

static void test_null_and_short(void **state)
{
	struct ng_fork f;
	struct ng_event *ev = new_event();
	size_t len;

	assert_int_equal(ng_decode(NULL, 0, ev), -EBADMSG);
	assert_int_equal(ng_decode(NULL, sizeof(f), ev), -EBADMSG);
	memset(&f, 0, sizeof(f));
	fill_hdr(&f.hdr, NG_EV_FORK, sizeof(f));
	/* len < header, whatever the header claims */
	for (len = 0; len < sizeof(struct ng_hdr); len++)
		assert_int_equal(decode_exact(&f, len, ev), -EBADMSG);
	free(ev);
}

static void test_size_vs_len(void **state)
{
	struct ng_fork f;
	struct ng_event *ev = new_event();

	memset(&f, 0, sizeof(f));
	fill_hdr(&f.hdr, NG_EV_FORK, sizeof(f));
	/* hdr.size > len */
	assert_int_equal(decode_exact(&f, sizeof(f) - 1, ev), -EBADMSG);
	f.hdr.size = 0xffff;
	assert_int_equal(decode_exact(&f, sizeof(f), ev), -EBADMSG);
	/* hdr.size < header */
	f.hdr.size = sizeof(struct ng_hdr) - 1;
	assert_int_equal(decode_exact(&f, sizeof(f), ev), -EBADMSG);
	f.hdr.size = 0;
	assert_int_equal(decode_exact(&f, sizeof(f), ev), -EBADMSG);
	/* a header-only fork record: size == header < sizeof(ng_fork) */
	f.hdr.size = sizeof(struct ng_hdr);
	assert_int_equal(decode_exact(&f, sizeof(f), ev), -EBADMSG);
	assert_int_equal(decode_exact(&f, sizeof(struct ng_hdr), ev), -EBADMSG);
	free(ev);
}

static void test_unknown_kind(void **state)
{
	static const unsigned kinds[] = { 0, NG_EV_KIND_MAX, NG_EV_KIND_MAX + 1, 0x7fff, 0xffff };
	/* the largest record there is, so no size check can be what rejects it */
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		build_exec(e, "/bin/ls", 7, ARGS("ls\0"), 0, 1);
		fill_hdr(&e->hdr, kinds[i], sizeof(*e));
		assert_int_equal(decode_exact(e, sizeof(*e), ev), -EBADMSG);
		/* the same bytes as an exec record are fine */
		e->hdr.kind = NG_EV_EXEC;
		assert_int_equal(decode_exact(e, sizeof(*e), ev), 0);
	}
	free(e);
	free(ev);
}

/*
 * Every prefix of a valid record is rejected, both when the header still
 * claims the full size (size > len) and when it claims the short length
 * (the kind's fixed part or tail is missing).
 */
static void sweep_prefixes(void *rec, size_t full, const char *what)
{
	struct ng_event *ev = new_event();
	struct ng_hdr *h = rec;
	size_t len;

	assert_int_equal(decode_exact(rec, full, ev), 0);
	for (len = 0; len < full; len++) {
		h->size = (__u16)full;
		if (decode_exact(rec, len, ev) != -EBADMSG)
			fail_msg("%s: len %zu < size %zu accepted", what, len, full);
		if (len >= sizeof(*h)) {
			h->size = (__u16)len;
			if (decode_exact(rec, len, ev) != -EBADMSG)
				fail_msg("%s: record cut to %zu accepted", what, len);
		}
	}
	h->size = (__u16)full;
	free(ev);
}

static void test_truncated_records_every_kind(void **state)
{
	struct ng_exec *e = new_exec();
	struct ng_fork f;
	struct ng_exit x;
	struct ng_cred c;
	struct ng_conn n;
	struct ng_anomaly a;
	size_t size;

	size = build_exec(e, "/usr/bin/id", 11, ARGS("id\0-u\0"), 0, 2);
	sweep_prefixes(e, size, "exec");
	memset(&f, 0, sizeof(f));
	fill_hdr(&f.hdr, NG_EV_FORK, sizeof(f));
	sweep_prefixes(&f, sizeof(f), "fork");
	memset(&x, 0, sizeof(x));
	fill_hdr(&x.hdr, NG_EV_EXIT, sizeof(x));
	sweep_prefixes(&x, sizeof(x), "exit");
	memset(&c, 0, sizeof(c));
	fill_hdr(&c.hdr, NG_EV_CRED, sizeof(c));
	c.op = NG_CRED_CAPSET;
	sweep_prefixes(&c, sizeof(c), "cred");
	memset(&n, 0, sizeof(n));
	fill_hdr(&n.hdr, NG_EV_CONNECT, sizeof(n));
	n.family = AF_INET6;
	sweep_prefixes(&n, sizeof(n), "connect");
	n.hdr.kind = NG_EV_SENDMSG;
	sweep_prefixes(&n, sizeof(n), "sendmsg");
	fill_anomaly(&a);
	sweep_prefixes(&a, sizeof(a), "anomaly");
	free(e);
}

static void test_exec_bad_lengths(void **state)
{
	struct ng_exec *e = new_exec();
	struct ng_event *ev = new_event();
	size_t size;

	/* filename_len past the record by one byte */
	size = build_exec(e, "/bin/ls", 7, ARGS("ls\0"), 0, 1);
	e->filename_len = 8;
	assert_int_equal(decode_exact(e, size, ev), -EBADMSG);
	/* argv_len past the record by one byte */
	size = build_exec(e, "/bin/ls", 7, ARGS("ls\0"), 0, 1);
	e->argv_len = 4;
	assert_int_equal(decode_exact(e, size, ev), -EBADMSG);
	/* each fits alone, not together: the tail holds 10 bytes */
	size = build_exec(e, "/bin/ls", 7, ARGS("ls\0"), 0, 1);
	e->filename_len = 8;
	e->argv_len = 2;
	assert_int_equal(decode_exact(e, size, ev), 0); /* 8 + 2 == 10 fits */
	assert_string_equal(ev->exec.filename, "/bin/lsl");
	e->filename_len = 10;
	e->argv_len = 1;
	assert_int_equal(decode_exact(e, size, ev), -EBADMSG);
	e->filename_len = 1;
	e->argv_len = 10;
	assert_int_equal(decode_exact(e, size, ev), -EBADMSG);
	/* absurd lengths */
	e->filename_len = 0xffff;
	e->argv_len = 0;
	assert_int_equal(decode_exact(e, size, ev), -EBADMSG);
	e->filename_len = 0;
	e->argv_len = 0xffff;
	assert_int_equal(decode_exact(e, size, ev), -EBADMSG);
	e->filename_len = 0xffff;
	e->argv_len = 0xffff;
	assert_int_equal(decode_exact(e, size, ev), -EBADMSG);
	free(e);
	free(ev);
}

/* lengths above the maxima are rejected even when the record is that big */
static void test_exec_over_maxima(void **state)
{
	const size_t big = NG_EXEC_FIXED_SIZE + NG_PATH_MAX + NG_ARGV_MAX + 8;
	struct ng_exec *e = calloc(1, big);
	struct ng_event *ev = new_event();

	assert_non_null(e);
	fill_hdr(&e->hdr, NG_EV_EXEC, big);
	memset(e->data, 'x', NG_PATH_MAX + NG_ARGV_MAX + 8);
	e->filename_len = NG_PATH_MAX + 1;
	e->argv_len = 0;
	assert_int_equal(decode_exact(e, big, ev), -EBADMSG);
	e->filename_len = 0;
	e->argv_len = NG_ARGV_MAX + 1;
	assert_int_equal(decode_exact(e, big, ev), -EBADMSG);
	e->filename_len = NG_PATH_MAX;
	e->argv_len = NG_ARGV_MAX;
	assert_int_equal(decode_exact(e, big, ev), 0);
	assert_int_equal(ev->exec.filename_len, NG_PATH_MAX);
	assert_int_equal(ev->exec.argv_len, NG_ARGV_MAX);
	free(e);
	free(ev);
}

static void test_cred_bad_op(void **state)
{
	static const uint32_t ops[] = { 0, NG_CRED_OP_MAX, NG_CRED_OP_MAX + 1, 0x80000000u,
					0xffffffffu };
	struct ng_cred c;
	struct ng_event *ev = new_event();
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		memset(&c, 0, sizeof(c));
		fill_hdr(&c.hdr, NG_EV_CRED, sizeof(c));
		c.op = ops[i];
		if (decode_exact(&c, sizeof(c), ev) != -EBADMSG)
			fail_msg("cred op %u accepted", ops[i]);
	}
	free(ev);
}

static void test_conn_bad_family(void **state)
{
	static const uint16_t fams[] = { AF_UNSPEC, AF_UNIX, AF_NETLINK, AF_PACKET, 0xffff };
	struct ng_conn c;
	struct ng_event *ev = new_event();
	size_t i;
	unsigned kind;

	for (kind = NG_EV_CONNECT; kind <= NG_EV_SENDMSG; kind++)
		for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
			memset(&c, 0, sizeof(c));
			fill_hdr(&c.hdr, kind, sizeof(c));
			c.family = fams[i];
			if (decode_exact(&c, sizeof(c), ev) != -EBADMSG)
				fail_msg("kind %u family %u accepted", kind, fams[i]);
		}
	free(ev);
}

/* random headers over a fixed-size buffer: decode never crashes or overreads,
 * and only accepts what the checks allow */
static void test_random_records(void **state)
{
	struct ng_event *ev = new_event();
	unsigned seed = 12345;
	int iter;

	for (iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % (NG_EXEC_FIXED_SIZE + 64));
		unsigned char *p = malloc(len ? len : 1);
		struct ng_hdr h;
		size_t i;
		int r;

		assert_non_null(p);
		for (i = 0; i < len; i++)
			p[i] = (unsigned char)rand_r(&seed);
		if (len >= sizeof(h)) {
			memcpy(&h, p, sizeof(h));
			h.kind = (__u16)(rand_r(&seed) % (NG_EV_KIND_MAX + 1));
			h.size = (__u16)(rand_r(&seed) % 2 ? len : rand_r(&seed) % (len + 8));
			memcpy(p, &h, sizeof(h));
		}
		r = ng_decode(p, len, ev);
		assert_true(r == 0 || r == -EBADMSG);
		if (r == 0) {
			memcpy(&h, p, sizeof(h));
			assert_true(h.size <= len && h.size >= sizeof(h));
			assert_true(h.kind >= NG_EV_EXEC && h.kind < NG_EV_KIND_MAX);
		}
		free(p);
	}
	free(ev);
}

/* ---- names and addresses ---- */

static void test_addr_str(void **state)
{
	static const uint8_t lo4[16] = { 127, 0, 0, 1 };
	static const uint8_t any[16] = { 0 };
	static const uint8_t lo6[16] = { [15] = 1 };
	static const uint8_t doc6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 192, 168, 0, 1 };
	char buf[64];

	assert_string_equal(ng_addr_str(AF_INET, lo4, buf, sizeof(buf)), "127.0.0.1");
	assert_ptr_equal(ng_addr_str(AF_INET, lo4, buf, sizeof(buf)), buf);
	assert_string_equal(ng_addr_str(AF_INET, any, buf, sizeof(buf)), "0.0.0.0");
	assert_string_equal(ng_addr_str(AF_INET, (const uint8_t[16]){ 255, 255, 255, 255 },
					buf, sizeof(buf)), "255.255.255.255");
	assert_string_equal(ng_addr_str(AF_INET6, lo6, buf, sizeof(buf)), "::1");
	assert_string_equal(ng_addr_str(AF_INET6, any, buf, sizeof(buf)), "::");
	assert_string_equal(ng_addr_str(AF_INET6, doc6, buf, sizeof(buf)), "2001:db8::1");
	assert_string_equal(ng_addr_str(AF_INET6, mapped, buf, sizeof(buf)), "::ffff:192.168.0.1");
	/* unknown family */
	strcpy(buf, "stale");
	assert_string_equal(ng_addr_str(AF_UNIX, lo4, buf, sizeof(buf)), "");
	strcpy(buf, "stale");
	assert_string_equal(ng_addr_str(0, lo4, buf, sizeof(buf)), "");
	strcpy(buf, "stale");
	assert_string_equal(ng_addr_str(0xffff, lo4, buf, sizeof(buf)), "");
	/* a buffer too small for the address yields "", not a cut address */
	strcpy(buf, "stale");
	assert_string_equal(ng_addr_str(AF_INET, lo4, buf, 9), "");
	assert_string_equal(ng_addr_str(AF_INET, lo4, buf, 10), "127.0.0.1");
}

static void test_proto_name(void **state)
{
	char buf[8];

	assert_string_equal(ng_proto_name(6, buf, sizeof(buf)), "tcp");
	assert_string_equal(ng_proto_name(17, buf, sizeof(buf)), "udp");
	assert_string_equal(ng_proto_name(1, buf, sizeof(buf)), "icmp");
	assert_string_equal(ng_proto_name(58, buf, sizeof(buf)), "icmpv6");
	assert_string_equal(ng_proto_name(132, buf, sizeof(buf)), "sctp");
	assert_string_equal(ng_proto_name(136, buf, sizeof(buf)), "udplite");
	assert_string_equal(ng_proto_name(0, buf, sizeof(buf)), "0");
	assert_ptr_equal(ng_proto_name(0, buf, sizeof(buf)), buf);
	assert_string_equal(ng_proto_name(255, buf, sizeof(buf)), "255");
	assert_string_equal(ng_proto_name(65535, buf, sizeof(buf)), "65535");
	assert_string_equal(ng_proto_name(262, buf, sizeof(buf)), "262");
	/* bounded by n */
	assert_string_equal(ng_proto_name(12345, buf, 3), "12");
}

static void test_cred_op_names(void **state)
{
	static const char *const want[NG_CRED_OP_MAX] = {
		[NG_CRED_SETUID] = "setuid",       [NG_CRED_SETGID] = "setgid",
		[NG_CRED_SETREUID] = "setreuid",   [NG_CRED_SETREGID] = "setregid",
		[NG_CRED_SETRESUID] = "setresuid", [NG_CRED_SETRESGID] = "setresgid",
		[NG_CRED_SETFSUID] = "setfsuid",   [NG_CRED_SETFSGID] = "setfsgid",
		[NG_CRED_SETGROUPS] = "setgroups", [NG_CRED_CAPSET] = "capset",
	};
	unsigned op;

	for (op = 1; op < NG_CRED_OP_MAX; op++) {
		if (!want[op])
			fail_msg("cred op %u has no expected name here: extend this test", op);
		assert_string_equal(ng_cred_op_name(op), want[op]);
	}
	assert_string_equal(ng_cred_op_name(0), "unknown");
	assert_string_equal(ng_cred_op_name(NG_CRED_OP_MAX), "unknown");
	assert_string_equal(ng_cred_op_name(0xffffffffu), "unknown");
}

static void test_kind_names(void **state)
{
	static const char *const want[NG_EV_KIND_MAX] = {
		[NG_EV_EXEC] = "exec",       [NG_EV_FORK] = "fork",
		[NG_EV_EXIT] = "exit",       [NG_EV_CRED] = "cred",
		[NG_EV_CONNECT] = "connect", [NG_EV_SENDMSG] = "sendmsg",
		[NG_EV_ANOMALY] = "anomaly", [NG_EV_ENFORCE] = "enforce",
	};
	unsigned k;

	for (k = 1; k < NG_EV_KIND_MAX; k++) {
		if (!want[k])
			fail_msg("kind %u has no expected name here: extend this test", k);
		assert_string_equal(ng_kind_name(k), want[k]);
	}
	assert_string_equal(ng_kind_name(0), "unknown");
	assert_string_equal(ng_kind_name(NG_EV_KIND_MAX), "unknown");
	assert_string_equal(ng_kind_name(0xffff), "unknown");
	assert_string_equal(ng_kind_name(0xffffffffu), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_well_formed),
		cmocka_unit_test(test_exec_trailing_empty_arg),
		cmocka_unit_test(test_exec_single_empty_arg),
		cmocka_unit_test(test_exec_empty_args_in_the_middle),
		cmocka_unit_test(test_exec_no_argv),
		cmocka_unit_test(test_exec_truncated),
		cmocka_unit_test(test_exec_unterminated_argv),
		cmocka_unit_test(test_exec_maxima),
		cmocka_unit_test(test_exec_len_beyond_size),
		cmocka_unit_test(test_comm_unterminated),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_exit),
		cmocka_unit_test(test_cred_every_op),
		cmocka_unit_test(test_conn_ipv4_and_ipv6),
		cmocka_unit_test(test_anomaly),
		cmocka_unit_test(test_anomaly_reasons),
		cmocka_unit_test(test_null_and_short),
		cmocka_unit_test(test_size_vs_len),
		cmocka_unit_test(test_unknown_kind),
		cmocka_unit_test(test_truncated_records_every_kind),
		cmocka_unit_test(test_exec_bad_lengths),
		cmocka_unit_test(test_exec_over_maxima),
		cmocka_unit_test(test_cred_bad_op),
		cmocka_unit_test(test_conn_bad_family),
		cmocka_unit_test(test_random_records),
		cmocka_unit_test(test_addr_str),
		cmocka_unit_test(test_proto_name),
		cmocka_unit_test(test_cred_op_names),
		cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
