// SPDX-License-Identifier: Apache-2.0
/*
 * The process table (agent/proctab.c): exec/fork/exit/cred/connect events,
 * ancestry, argv joining, the bounded table's eviction order, gc, seeding
 * from a procfs tree built in a temporary directory, and the memory a large
 * table takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "proctab.h"

#define CTR_PIDNS 4026532301u
#define CTR_MNTNS 4026532299u

/* ------------------------------------------------------------------ events */

static struct ng_event *ev_new(unsigned kind, uint32_t pid, uint32_t ppid, uint64_t ts,
			       const char *comm)
{
	struct ng_event *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->hdr.kind = (uint16_t)kind;
	e->hdr.pid = e->hdr.tid = pid;
	e->hdr.ppid = ppid;
	e->hdr.ts_ns = ts;
	e->hdr.flags = NG_HF_CONTAINER;
	e->hdr.uid = e->hdr.euid = e->hdr.gid = e->hdr.egid = 1000;
	e->hdr.cgroup_id = 777;
	e->hdr.pidns = CTR_PIDNS;
	e->hdr.mntns = CTR_MNTNS;
	snprintf(e->comm, sizeof(e->comm), "%s", comm ? comm : "x");
	return e;
}

static void apply_free(struct proctab *t, struct ng_event *e)
{
	proctab_apply(t, e);
	free(e);
}

static struct ng_creds creds(uint32_t uid, uint64_t caps)
{
	return (struct ng_creds){ .uid = uid, .euid = uid, .suid = uid, .fsuid = uid, .gid = uid,
				  .egid = uid, .sgid = uid, .fsgid = uid, .cap_eff = caps,
				  .cap_prm = caps, .userns = 4026531837u };
}

/* argv is NUL-separated, n bytes */
static void do_exec(struct proctab *t, uint32_t pid, uint32_t ppid, uint64_t ts, const char *exe,
		    const char *argv, size_t n, struct ng_creds cur, uint32_t flags)
{
	struct ng_event *e = ev_new(NG_EV_EXEC, pid, ppid, ts, strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe);

	snprintf(e->exec.filename, sizeof(e->exec.filename), "%s", exe);
	e->exec.filename_len = strlen(exe);
	assert_true(n <= NG_ARGV_MAX);
	memcpy(e->exec.argv, argv, n);
	e->exec.argv_len = n;
	e->exec.cur = cur;
	e->exec.flags = flags;
	e->hdr.uid = cur.uid;
	e->hdr.euid = cur.euid;
	apply_free(t, e);
}

static void do_fork(struct proctab *t, uint32_t parent, uint32_t child, uint64_t ts)
{
	struct ng_event *e = ev_new(NG_EV_FORK, parent, 1, ts, "parent");

	e->fork.child_pid = e->fork.child_tid = child;
	apply_free(t, e);
}

static void do_exit(struct proctab *t, uint32_t pid, uint64_t ts, int32_t code, uint64_t start)
{
	struct ng_event *e = ev_new(NG_EV_EXIT, pid, 1, ts, "x");

	e->exit.exit_code = code;
	e->exit.start_ns = start;
	apply_free(t, e);
}

static void do_cred(struct proctab *t, uint32_t pid, uint64_t ts, struct ng_creds cur)
{
	struct ng_event *e = ev_new(NG_EV_CRED, pid, 1, ts, "cred");

	e->cred.op = NG_CRED_SETUID;
	e->cred.cur = cur;
	apply_free(t, e);
}

static void do_conn(struct proctab *t, unsigned kind, uint32_t pid, uint64_t ts, uint16_t proto)
{
	struct ng_event *e = ev_new(kind, pid, 1, ts, "conn");

	e->conn.family = 2;
	e->conn.protocol = proto;
	e->conn.dport = 443;
	apply_free(t, e);
}

#define ARGV(s) (s), sizeof(s) - 1 /* a string literal with its embedded NULs */

/* ------------------------------------------------------------------ events */

static void test_exec_fork_exit(void **state)
{
	struct proctab *t = proctab_new(64);
	struct ng_creds root = creds(0, 0x3fffffffffull), user = creds(1000, 0);
	struct proc *p, *c;
	struct ng_event *e;

	(void)state;
	assert_non_null(t);
	do_exec(t, 100, 1, 10, "/usr/sbin/nginx", ARGV("nginx\0-g\0daemon off;\0"), root, 0);
	assert_int_equal(proctab_count(t), 1);
	p = proctab_get(t, 100);
	assert_non_null(p);
	assert_int_equal(p->pid, 100);
	assert_int_equal(p->ppid, 1);
	assert_string_equal(p->exe, "/usr/sbin/nginx");
	assert_string_equal(p->cmdline, "nginx -g daemon off;");
	assert_false(p->cmdline_truncated);
	assert_string_equal(p->comm, "nginx");
	assert_true(p->creds_known);
	assert_memory_equal(&p->creds, &root, sizeof(root));
	assert_true(p->container);
	assert_int_equal(p->cgroup_id, 777);
	assert_int_equal(p->pidns, CTR_PIDNS);
	assert_int_equal(p->mntns, CTR_MNTNS);
	assert_int_equal(p->seen_ns, 10);
	assert_int_equal(p->start_ns, 0); /* an exec does not say when the process started */
	assert_false(p->exited);
	assert_false(p->seeded);

	/* fork: the child has the parent's image and credentials */
	do_fork(t, 100, 101, 20);
	c = proctab_get(t, 101);
	assert_non_null(c);
	assert_int_equal(proctab_count(t), 2);
	assert_int_equal(c->ppid, 100);
	assert_int_equal(c->start_ns, 20);
	assert_int_equal(c->seen_ns, 20);
	assert_string_equal(c->exe, "/usr/sbin/nginx");
	assert_string_equal(c->cmdline, "nginx -g daemon off;");
	assert_ptr_not_equal(c->exe, p->exe);
	assert_true(c->creds_known);
	assert_memory_equal(&c->creds, &root, sizeof(root));
	assert_string_equal(c->comm, "parent");
	assert_int_equal(p->seen_ns, 20); /* the parent was seen too */

	/* exec replaces image, command line and credentials; keeps the start */
	do_exec(t, 101, 100, 30, "/bin/sh", ARGV("sh\0-c\0id\0"), user, 0);
	assert_int_equal(proctab_count(t), 2);
	assert_ptr_equal(proctab_get(t, 101), c);
	assert_string_equal(c->exe, "/bin/sh");
	assert_string_equal(c->cmdline, "sh -c id");
	assert_memory_equal(&c->creds, &user, sizeof(user));
	assert_int_equal(c->start_ns, 20);
	assert_string_equal(p->exe, "/usr/sbin/nginx");

	/* set*id */
	do_cred(t, 101, 35, root);
	assert_memory_equal(&c->creds, &root, sizeof(root));
	assert_int_equal(c->seen_ns, 35);
	/* an anomaly brings the credentials the kernel saw */
	e = ev_new(NG_EV_ANOMALY, 101, 100, 36, "sh");
	e->anomaly.cur = user;
	e->anomaly.reasons = 16;
	apply_free(t, e);
	assert_memory_equal(&c->creds, &user, sizeof(user));
	assert_int_equal(c->seen_ns, 36);
	/* ... for a process we know: an unknown one is not added */
	e = ev_new(NG_EV_ANOMALY, 999, 1, 37, "x");
	apply_free(t, e);
	assert_null(proctab_get(t, 999));

	/* exit */
	do_exit(t, 101, 40, 9, 19);
	assert_true(c->exited);
	assert_int_equal(c->exit_code, 9);
	assert_int_equal(c->exit_ns, 40);
	assert_int_equal(c->start_ns, 20); /* known: the exit's is not taken */
	assert_int_equal(proctab_count(t), 2);
	do_exit(t, 101, 50, 0, 19); /* once */
	assert_int_equal(c->exit_ns, 40);
	assert_int_equal(c->exit_code, 9);
	do_exit(t, 555, 50, 0, 19); /* unknown: nothing */
	assert_null(proctab_get(t, 555));
	assert_int_equal(proctab_count(t), 2);
	/* the exit's start time when none was known */
	do_exit(t, 100, 41, 0, 7);
	assert_int_equal(p->start_ns, 7);

	/* pid reuse: an exec on an exited pid is a new process */
	do_exec(t, 101, 1, 60, "/usr/bin/env", ARGV("env\0"), user, 0);
	c = proctab_get(t, 101);
	assert_false(c->exited);
	assert_int_equal(c->start_ns, 0);
	assert_int_equal(c->ppid, 1);
	assert_string_equal(c->cmdline, "env");
	assert_int_equal(proctab_count(t), 2);
	/* a fork onto a live pid (its exit was lost) replaces it too */
	do_exec(t, 102, 1, 61, "/bin/sleep", ARGV("sleep\0" "9\0"), user, 0);
	do_fork(t, 100, 102, 62);
	c = proctab_get(t, 102);
	assert_string_equal(c->exe, "/usr/sbin/nginx");
	assert_int_equal(c->start_ns, 62);
	assert_int_equal(proctab_count(t), 3);

	/* a fork of an unknown parent: the header's ids, nothing else */
	do_fork(t, 200, 201, 70);
	c = proctab_get(t, 201);
	assert_non_null(c);
	assert_null(proctab_get(t, 200));
	assert_string_equal(c->exe, "");
	assert_string_equal(c->cmdline, "");
	assert_false(c->creds_known);
	assert_int_equal(c->creds.uid, 1000);
	assert_int_equal(c->creds.euid, 1000);
	assert_int_equal(c->creds.suid, 0);
	/* a cred event of an unknown process adds it from the header */
	do_cred(t, 300, 80, root);
	c = proctab_get(t, 300);
	assert_non_null(c);
	assert_int_equal(c->ppid, 1);
	assert_string_equal(c->comm, "cred");
	assert_true(c->creds_known);
	assert_memory_equal(&c->creds, &root, sizeof(root));
	assert_int_equal(proctab_count(t), 5);

	/* a header without a mount ns (torn down) keeps the known one */
	e = ev_new(NG_EV_EXEC, 300, 1, 90, "x");
	snprintf(e->exec.filename, sizeof(e->exec.filename), "/x");
	e->hdr.mntns = 0;
	e->hdr.flags = 0;
	apply_free(t, e);
	assert_int_equal(c->mntns, CTR_MNTNS);
	assert_false(c->container);
	assert_string_equal(c->cmdline, "");
	proctab_free(t);
}

static void test_cmdline_bounds(void **state)
{
	struct proctab *t = proctab_new(16);
	char argv[NG_ARGV_MAX], exp[PROC_CMDLINE_MAX];
	struct proc *p;
	size_t i;

	(void)state;
	/* 700 bytes of argv: the command line keeps 511 */
	for (i = 0; i < 700; i++)
		argv[i] = i % 10 == 9 ? '\0' : (char)('a' + i % 10);
	do_exec(t, 10, 1, 1, "/bin/x", argv, 700, creds(0, 0), 0);
	p = proctab_get(t, 10);
	assert_true(p->cmdline_truncated);
	assert_int_equal(strlen(p->cmdline), PROC_CMDLINE_MAX - 1);
	for (i = 0; i < PROC_CMDLINE_MAX - 1; i++)
		exp[i] = argv[i] ? argv[i] : ' ';
	exp[PROC_CMDLINE_MAX - 1] = '\0';
	assert_string_equal(p->cmdline, exp);
	/* the sensor cut argv short (argv_max): truncated, however short */
	do_exec(t, 11, 1, 1, "/bin/x", ARGV("x\0y\0"), creds(0, 0), NG_EXEC_ARGV_TRUNC);
	assert_true(proctab_get(t, 11)->cmdline_truncated);
	assert_string_equal(proctab_get(t, 11)->cmdline, "x y");
	/* exactly fitting (511 bytes and the final NUL) is not truncated */
	memset(argv, 'z', 511);
	argv[511] = '\0';
	do_exec(t, 12, 1, 1, "/bin/x", argv, 512, creds(0, 0), 0);
	assert_int_equal(strlen(proctab_get(t, 12)->cmdline), 511);
	assert_false(proctab_get(t, 12)->cmdline_truncated);
	proctab_free(t);
}

static void test_join_argv(void **state)
{
	char out[16];

	(void)state;
	assert_false(proctab_join_argv(ARGV("a\0b\0c\0"), out, sizeof(out)));
	assert_string_equal(out, "a b c");
	assert_false(proctab_join_argv(ARGV("a\0bc"), out, sizeof(out))); /* no final NUL */
	assert_string_equal(out, "a bc");
	assert_false(proctab_join_argv(ARGV("a\0\0b\0"), out, sizeof(out))); /* an empty arg */
	assert_string_equal(out, "a  b");
	assert_false(proctab_join_argv(ARGV("a b\0c\0\0\0"), out, sizeof(out)));
	assert_string_equal(out, "a b c");
	assert_false(proctab_join_argv(ARGV("\0\0\0"), out, sizeof(out)));
	assert_string_equal(out, "");
	assert_false(proctab_join_argv("", 0, out, sizeof(out)));
	assert_string_equal(out, "");

	/* bounds: outsz - 1 bytes at most, and the NUL */
	memset(out, '#', sizeof(out));
	assert_true(proctab_join_argv(ARGV("abcdef\0ghi\0"), out, 8));
	assert_string_equal(out, "abcdef");       /* "abcdef " with the space trimmed */
	assert_int_equal(out[8], '#');            /* nothing written past outsz */
	memset(out, '#', sizeof(out));
	assert_true(proctab_join_argv(ARGV("abcdef\0ghi\0"), out, 9));
	assert_string_equal(out, "abcdef g");
	assert_int_equal(out[9], '#');
	/* exactly fitting: all of it, not truncated */
	assert_false(proctab_join_argv(ARGV("abcdef\0ghi\0"), out, 11));
	assert_string_equal(out, "abcdef ghi");
	assert_false(proctab_join_argv(ARGV("abcdef\0ghi\0\0\0"), out, 11));
	assert_string_equal(out, "abcdef ghi");
	assert_true(proctab_join_argv(ARGV("abcdef\0ghi\0\0j"), out, 11));
	assert_string_equal(out, "abcdef ghi");
	assert_true(proctab_join_argv(ARGV("abcdef\0ghij"), out, 11));
	assert_string_equal(out, "abcdef ghi");
	/* degenerate buffers */
	out[0] = '#';
	assert_true(proctab_join_argv(ARGV("a\0"), out, 1));
	assert_string_equal(out, "");
	out[0] = '#';
	assert_true(proctab_join_argv(ARGV("a\0"), out, 0));
	assert_int_equal(out[0], '#');
	assert_false(proctab_join_argv("", 0, out, 0));
}

static void test_connect(void **state)
{
	struct proctab *t = proctab_new(16);
	struct proc *p;

	(void)state;
	do_exec(t, 10, 1, 5, "/usr/bin/curl", ARGV("curl\0x\0"), creds(1000, 0), 0);
	p = proctab_get(t, 10);
	assert_int_equal(p->last_connect_ns, 0);
	do_conn(t, NG_EV_CONNECT, 10, 100, 17); /* UDP connect: not an outbound session */
	assert_int_equal(p->last_connect_ns, 0);
	assert_int_equal(p->seen_ns, 100);
	do_conn(t, NG_EV_SENDMSG, 10, 110, 6);
	assert_int_equal(p->last_connect_ns, 0);
	do_conn(t, NG_EV_CONNECT, 10, 120, 6);
	assert_int_equal(p->last_connect_ns, 120);
	do_conn(t, NG_EV_SENDMSG, 10, 130, 17);
	assert_int_equal(p->last_connect_ns, 120);
	assert_int_equal(p->seen_ns, 130);
	/* an unknown process connecting is added from the header */
	do_conn(t, NG_EV_CONNECT, 11, 140, 6);
	p = proctab_get(t, 11);
	assert_non_null(p);
	assert_int_equal(p->last_connect_ns, 140);
	assert_string_equal(p->comm, "conn");
	assert_int_equal(p->creds.uid, 1000);
	assert_false(p->creds_known);
	/* forked children do not inherit it */
	do_fork(t, 11, 12, 150);
	assert_int_equal(proctab_get(t, 12)->last_connect_ns, 0);
	proctab_free(t);
}

/* ------------------------------------------------------------------ ancestry */

static void exec_ppid(struct proctab *t, uint32_t pid, uint32_t ppid)
{
	char exe[32];

	snprintf(exe, sizeof(exe), "/bin/p%u", pid);
	do_exec(t, pid, ppid, pid, exe, ARGV("p\0"), creds(0, 0), 0);
}

static void test_ancestry(void **state)
{
	struct proctab *t = proctab_new(64);
	struct proc *out[16];
	size_t n;

	(void)state;
	exec_ppid(t, 500, 400);
	exec_ppid(t, 400, 300);
	exec_ppid(t, 300, 200);
	exec_ppid(t, 200, 1);
	n = proctab_ancestry(t, 500, out, 16);
	assert_int_equal(n, 4); /* pid 1 is not known: stops there */
	assert_int_equal(out[0]->pid, 500);
	assert_int_equal(out[1]->pid, 400);
	assert_int_equal(out[2]->pid, 300);
	assert_int_equal(out[3]->pid, 200);
	exec_ppid(t, 1, 900); /* (a parent pid 1 never has: the walk must stop at 1) */
	exec_ppid(t, 900, 0);
	n = proctab_ancestry(t, 500, out, 16);
	assert_int_equal(n, 5); /* ... and includes it when it is, then stops */
	assert_int_equal(out[4]->pid, 1);
	/* bounded by max */
	assert_int_equal(proctab_ancestry(t, 500, out, 2), 2);
	assert_int_equal(out[1]->pid, 400);
	assert_int_equal(proctab_ancestry(t, 500, out, 0), 0);
	/* from the middle; unknown pid; pid 0 */
	assert_int_equal(proctab_ancestry(t, 300, out, 16), 3);
	assert_int_equal(proctab_ancestry(t, 12345, out, 16), 0);
	assert_int_equal(proctab_ancestry(t, 0, out, 16), 0);
	/* loops through pid reuse: each process once */
	exec_ppid(t, 600, 601);
	exec_ppid(t, 601, 602);
	exec_ppid(t, 602, 600);
	n = proctab_ancestry(t, 600, out, 16);
	assert_int_equal(n, 3);
	assert_int_equal(out[0]->pid, 600);
	assert_int_equal(out[1]->pid, 601);
	assert_int_equal(out[2]->pid, 602);
	exec_ppid(t, 700, 700);
	assert_int_equal(proctab_ancestry(t, 700, out, 16), 1);
	/* a parent of 0 (the kernel's threads) ends the chain */
	exec_ppid(t, 800, 0);
	assert_int_equal(proctab_ancestry(t, 800, out, 16), 1);
	/* exited ancestors are still ancestors */
	do_exit(t, 400, 1000, 0, 0);
	assert_int_equal(proctab_ancestry(t, 500, out, 16), 5);
	proctab_free(t);
}

/* ------------------------------------------------------------------ bounds */

static void test_eviction(void **state)
{
	struct proctab *t = proctab_new(3); /* raised to 16 */
	uint32_t pid;
	struct proc *p;

	(void)state;
	for (pid = 1000; pid < 1016; pid++)
		exec_ppid(t, pid, 1);
	assert_int_equal(proctab_count(t), 16);
	assert_int_equal(proctab_evictions(t), 0);
	/* exits, in this order */
	do_exit(t, 1003, 2000, 0, 0);
	do_exit(t, 1001, 2001, 0, 0);
	do_exit(t, 1007, 2002, 0, 0);
	/* the oldest exit goes first, then the next */
	exec_ppid(t, 3000, 1);
	assert_null(proctab_get(t, 1003));
	assert_non_null(proctab_get(t, 1001));
	assert_non_null(proctab_get(t, 1007));
	assert_int_equal(proctab_count(t), 16);
	assert_int_equal(proctab_evictions(t), 1);
	exec_ppid(t, 3001, 1);
	assert_null(proctab_get(t, 1001));
	assert_non_null(proctab_get(t, 1007));
	exec_ppid(t, 3002, 1);
	assert_null(proctab_get(t, 1007));
	assert_int_equal(proctab_evictions(t), 3);
	/* no exited entry left: the least recently seen live one (1000), unless
	 * it was seen since (a connect, a set*id) */
	do_conn(t, NG_EV_CONNECT, 1000, 2100, 6);
	do_cred(t, 1002, 2101, creds(0, 0));
	exec_ppid(t, 3003, 1);
	assert_non_null(proctab_get(t, 1000));
	assert_non_null(proctab_get(t, 1002));
	assert_null(proctab_get(t, 1004));
	exec_ppid(t, 3004, 1);
	assert_null(proctab_get(t, 1005));
	/* now 1006 is the least recently seen; a fork by 1010 evicts it and
	 * makes 1010 recently seen */
	do_fork(t, 1010, 3005, 2200);
	assert_null(proctab_get(t, 1006));
	assert_int_equal(proctab_evictions(t), 6);
	exec_ppid(t, 3006, 1);
	assert_null(proctab_get(t, 1008));
	exec_ppid(t, 3007, 1);
	assert_null(proctab_get(t, 1009));
	exec_ppid(t, 3008, 1);
	assert_null(proctab_get(t, 1011));
	assert_non_null(proctab_get(t, 1010));
	/* an exec of a live process refreshes it, too */
	exec_ppid(t, 1012, 1);
	exec_ppid(t, 3009, 1);
	assert_non_null(proctab_get(t, 1012));
	assert_null(proctab_get(t, 1013));
	assert_int_equal(proctab_evictions(t), 10);
	assert_int_equal(proctab_count(t), 16);
	/* a pid that is already there is replaced, nothing evicted */
	do_fork(t, 1010, 3005, 2300);
	assert_int_equal(proctab_get(t, 3005)->start_ns, 2300);
	exec_ppid(t, 3000, 1);
	assert_int_equal(proctab_evictions(t), 10);
	assert_int_equal(proctab_count(t), 16);
	proctab_free(t);

	/* the forking parent itself can be the victim: the child still gets its
	 * image and credentials */
	t = proctab_new(16);
	for (pid = 2000; pid < 2016; pid++)
		do_exec(t, pid, 1, pid, "/usr/sbin/sshd", ARGV("sshd: u [priv]\0"), creds(0, 7), 0);
	do_fork(t, 2000, 2100, 5000);
	assert_null(proctab_get(t, 2000));
	p = proctab_get(t, 2100);
	assert_non_null(p);
	assert_string_equal(p->exe, "/usr/sbin/sshd");
	assert_string_equal(p->cmdline, "sshd: u [priv]");
	assert_true(p->creds_known);
	assert_int_equal(p->creds.cap_eff, 7);
	assert_int_equal(p->ppid, 2000);
	assert_int_equal(proctab_evictions(t), 1);
	assert_int_equal(proctab_count(t), 16);
	proctab_free(t);
}

static void test_gc(void **state)
{
	struct proctab *t = proctab_new(16);

	(void)state;
	exec_ppid(t, 10, 1);
	exec_ppid(t, 11, 1);
	exec_ppid(t, 12, 1);
	exec_ppid(t, 13, 1);
	do_exit(t, 11, 100, 0, 0);
	do_exit(t, 12, 200, 0, 0);
	do_exit(t, 13, 300, 0, 0);
	assert_int_equal(proctab_gc(t, 350, 100), 2); /* exited before 250 */
	assert_null(proctab_get(t, 11));
	assert_null(proctab_get(t, 12));
	assert_non_null(proctab_get(t, 13));
	assert_int_equal(proctab_gc(t, 400, 100), 0); /* exactly keep_ns ago: kept */
	assert_int_equal(proctab_gc(t, 401, 100), 1);
	assert_null(proctab_get(t, 13));
	/* live entries are never collected */
	assert_int_equal(proctab_gc(t, UINT64_MAX / 2, 0), 0);
	assert_non_null(proctab_get(t, 10));
	assert_int_equal(proctab_count(t), 1);
	assert_int_equal(proctab_evictions(t), 0);
	proctab_free(t);
}

/* ------------------------------------------------------------------ seeding */

static void put(const char *dir, const char *rel, const char *data, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

#define PUT(dir, rel, lit) put((dir), (rel), (lit), sizeof(lit) - 1)

static void mkd(const char *dir, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void lnk(const char *dir, const char *rel, const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(symlink(target, path), 0);
}

static unsigned long ino(const char *dir, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(stat(path, &st), 0);
	return (unsigned long)st.st_ino;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* fields 3.. of /proc/PID/stat with ppid and starttime (field 22) */
#define STAT_TAIL(ppid, start) \
	" S " #ppid " 1 1 0 -1 4194560 100 0 0 0 3 4 0 0 20 0 1 0 " #start " 1000000 200 18446744073709551615\n"

static void test_seed(void **state)
{
	char dir[] = "/tmp/ng-proctab-XXXXXX";
	struct proctab *t = proctab_new(64);
	long ticks = sysconf(_SC_CLK_TCK);
	uint32_t host_pidns, host_mntns;
	struct proc *p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_true(ticks > 0);

	/* 1: init, with its namespaces (files whose inodes play the ns inodes) */
	mkd(dir, "1");
	PUT(dir, "1/stat", "1 (systemd)" STAT_TAIL(0, 5));
	PUT(dir, "1/status", "Name:\tsystemd\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"
			     "CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
			     "CapEff:\t000001ffffffffff\n");
	PUT(dir, "1/cmdline", "/sbin/init\0splash\0");
	lnk(dir, "1/exe", "/usr/lib/systemd/systemd");
	mkd(dir, "1/ns");
	PUT(dir, "1/ns/pid", "");
	PUT(dir, "1/ns/mnt", "");
	host_pidns = (uint32_t)ino(dir, "1/ns/pid");
	host_mntns = (uint32_t)ino(dir, "1/ns/mnt");

	/* 4242: a comm with ") (" and spaces, mixed ids, no ns links */
	mkd(dir, "4242");
	PUT(dir, "4242/stat", "4242 (x) (y z)" STAT_TAIL(77, 123456));
	PUT(dir, "4242/status", "Name:\tx) (y z\nUmask:\t0022\nState:\tS (sleeping)\n"
				"Uid:\t1000\t0\t1001\t1002\nGid:\t2000\t2001\t2002\t2003\n"
				"CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n"
				"CapEff:\t0000000000000400\nCapBnd:\t000001ffffffffff\n");
	PUT(dir, "4242/cmdline", "./x\0-p\0\0last\0");
	lnk(dir, "4242/exe", "/tmp/.x (deleted)");

	/* 5000: a container process: its own pid ns; comm longer than 16 */
	mkd(dir, "5000");
	PUT(dir, "5000/stat", "5000 (abcdefghijklmnopqrst)" STAT_TAIL(4242, 99));
	mkd(dir, "5000/ns");
	PUT(dir, "5000/ns/pid", "");
	lnk(dir, "5000/ns/mnt", "../../1/ns/mnt"); /* the host's mount ns */

	/* 5001: its own mount ns only */
	mkd(dir, "5001");
	PUT(dir, "5001/stat", "5001 (m)" STAT_TAIL(1, 1));
	mkd(dir, "5001/ns");
	lnk(dir, "5001/ns/pid", "../../1/ns/pid");
	PUT(dir, "5001/ns/mnt", "");

	/* not processes, or not readable ones */
	mkd(dir, "self");
	mkd(dir, "0");
	mkd(dir, "6000");                  /* no stat: gone meanwhile */
	mkd(dir, "6001");
	PUT(dir, "6001/stat", "6001 (x)"); /* cut short */
	mkd(dir, "6002");
	PUT(dir, "6002/stat", "6002 no parens S 1 1 1\n");
	PUT(dir, "sys", "");

	/* 7000: known from an event already: an event is fresher than /proc */
	mkd(dir, "7000");
	PUT(dir, "7000/stat", "7000 (stale)" STAT_TAIL(1, 1));
	do_exec(t, 7000, 50, 1, "/usr/bin/fresh", ARGV("fresh\0"), creds(5, 0), 0);

	assert_int_equal(proctab_seed(t, dir, host_pidns, host_mntns), 4);
	assert_int_equal(proctab_count(t), 5);

	p = proctab_get(t, 1);
	assert_non_null(p);
	assert_true(p->seeded);
	assert_int_equal(p->ppid, 0);
	assert_int_equal(p->start_ns, 5ull * (1000000000ull / (unsigned long long)ticks));
	assert_string_equal(p->comm, "systemd");
	assert_string_equal(p->exe, "/usr/lib/systemd/systemd");
	assert_string_equal(p->cmdline, "/sbin/init splash");
	assert_true(p->creds_known);
	assert_int_equal(p->creds.uid, 0);
	assert_int_equal(p->creds.cap_eff, 0x1ffffffffffull);
	assert_int_equal(p->creds.cap_prm, 0x1ffffffffffull);
	assert_int_equal(p->pidns, host_pidns);
	assert_int_equal(p->mntns, host_mntns);
	assert_false(p->container);
	assert_false(p->exited);

	p = proctab_get(t, 4242);
	assert_non_null(p);
	assert_string_equal(p->comm, "x) (y z");
	assert_int_equal(p->ppid, 77);
	assert_int_equal(p->start_ns, 123456ull * (1000000000ull / (unsigned long long)ticks));
	assert_string_equal(p->exe, "/tmp/.x (deleted)");
	assert_string_equal(p->cmdline, "./x -p  last");
	assert_false(p->cmdline_truncated);
	assert_true(p->creds_known);
	assert_int_equal(p->creds.uid, 1000);
	assert_int_equal(p->creds.euid, 0);
	assert_int_equal(p->creds.suid, 1001);
	assert_int_equal(p->creds.fsuid, 1002);
	assert_int_equal(p->creds.gid, 2000);
	assert_int_equal(p->creds.egid, 2001);
	assert_int_equal(p->creds.sgid, 2002);
	assert_int_equal(p->creds.fsgid, 2003);
	assert_int_equal(p->creds.cap_prm, 0xa80425fbull);
	assert_int_equal(p->creds.cap_eff, 0x400ull);
	assert_int_equal(p->pidns, 0);
	assert_int_equal(p->mntns, 0);
	assert_false(p->container); /* unknown namespaces are not a container */

	p = proctab_get(t, 5000);
	assert_non_null(p);
	assert_string_equal(p->comm, "abcdefghijklmnop"); /* 16 bytes kept */
	assert_int_equal(p->ppid, 4242);
	assert_string_equal(p->exe, "");
	assert_false(p->creds_known);
	assert_int_not_equal(p->pidns, host_pidns);
	assert_int_equal(p->mntns, host_mntns);
	assert_true(p->container);

	p = proctab_get(t, 5001);
	assert_non_null(p);
	assert_int_equal(p->pidns, host_pidns);
	assert_true(p->container);

	assert_null(proctab_get(t, 6000));
	assert_null(proctab_get(t, 6001));
	assert_null(proctab_get(t, 6002));
	p = proctab_get(t, 7000);
	assert_string_equal(p->exe, "/usr/bin/fresh");
	assert_false(p->seeded);
	assert_int_equal(p->ppid, 50);

	/* seeded ancestry */
	{
		struct proc *out[8];

		assert_int_equal(proctab_ancestry(t, 5000, out, 8), 2);
		assert_int_equal(out[1]->pid, 4242);
	}
	/* again: nothing new */
	assert_int_equal(proctab_seed(t, dir, host_pidns, host_mntns), 0);
	assert_int_equal(proctab_count(t), 5);

	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	assert_int_equal(proctab_seed(t, dir, host_pidns, host_mntns), -ENOENT);
	proctab_free(t);
}

/* ------------------------------------------------------------------ memory */

static void test_memory_30000(void **state)
{
	const uint32_t N = 30000;
	static const char exe[] = "/usr/local/bin/worker";
	static const char argv[] = "worker\0--queue=jobs\0";
	const char *cmd = "worker --queue=jobs";
	struct proctab *t;
	size_t empty, bytes, per;
	struct mallinfo2 mi0, mi1;
	uint32_t i;

	(void)state;
	mi0 = mallinfo2();
	t = proctab_new(65536); /* settings.proctab_max default */
	assert_non_null(t);
	empty = proctab_bytes(t);
	for (i = 0; i < N; i++) {
		do_fork(t, 1, 10000 + i, i);
		do_exec(t, 10000 + i, 1, i, exe, argv, sizeof(argv) - 1, creds(1000, 0), 0);
	}
	mi1 = mallinfo2();
	assert_int_equal(proctab_count(t), N);
	assert_int_equal(proctab_evictions(t), 0);
	bytes = proctab_bytes(t);
	/* exactly: the empty table, the entries and their strings */
	assert_int_equal(bytes, empty + N * (sizeof(struct proc) + sizeof(exe) + strlen(cmd) + 1));
	per = bytes / N;
	print_message("[ INFO ] %u live processes: %zu bytes, %zu bytes/process "
		      "(struct proc %zu, table and buckets %zu, strings %zu)\n",
		      N, bytes, per, sizeof(struct proc), empty / N, sizeof(exe) + strlen(cmd) + 1);
	/* what malloc really holds, with its per-allocation overhead (glibc;
	 * valgrind's allocator does not report it) */
	if (mi1.uordblks > mi0.uordblks)
		print_message("[ INFO ] malloc in use: %zu bytes/process\n",
			      (size_t)(mi1.uordblks - mi0.uordblks) / N);
	/*
	 * The bound: one struct proc (~240 bytes), its hash bucket share (65536
	 * buckets of 8 bytes over 30000 processes, ~17 bytes), and the two
	 * strings (here 42 bytes) come to ~300; 512 leaves room for ordinary
	 * exe paths and command lines but fails if the entry doubles or the
	 * table starts to keep per-process buffers (argv is PROC_CMDLINE_MAX
	 * bytes at most and must not be held at that size for everyone).
	 */
	assert_true(per < 512);
	proctab_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_fork_exit),
		cmocka_unit_test(test_cmdline_bounds),
		cmocka_unit_test(test_join_argv),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_ancestry),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_memory_30000),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
