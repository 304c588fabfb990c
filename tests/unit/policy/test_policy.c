// SPDX-License-Identifier: Apache-2.0
/*
 * Policy parser: the embedded default policy, every error class with its
 * exact FILE:LINE:COL, list expansion, defaults and the size bounds.
 *
 * Error positions below were counted by hand from the inline documents
 * (1-based line and column of the offending node), not copied from output.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nodeguard/credcheck.h"
#include "nodeguard/event.h"
#include "caps.h"
#include "policy.h"

/* ------------------------------------------------------------------ helpers */

static void dump_errors(const struct policy_errors *e)
{
	char buf[600];
	size_t i;

	for (i = 0; i < e->n; i++) {
		policy_error_format(&e->v[i], buf, sizeof(buf));
		print_message("  got: %s\n", buf);
	}
}

/* The document must fail with exactly these errors, in this order. */
static void expect_errs_(const char *yaml, const char *const *exp)
{
	struct policy *p = NULL;
	struct policy_errors e = { 0 };
	char buf[600];
	size_t n = 0, i;
	bool ok;
	int r;

	while (exp[n])
		n++;
	r = policy_parse("t.yaml", yaml, strlen(yaml), &p, &e);
	ok = r == -EINVAL && e.n == n;
	for (i = 0; ok && i < n; i++) {
		policy_error_format(&e.v[i], buf, sizeof(buf));
		ok = !strcmp(buf, exp[i]);
	}
	if (!ok) {
		print_message("document:\n%s\nreturned %d, %zu errors; expected:\n", yaml, r, e.n);
		for (i = 0; i < n; i++)
			print_message("  exp: %s\n", exp[i]);
		dump_errors(&e);
	}
	assert_null(p);
	policy_errors_free(&e);
	assert_true(ok);
}

#define EXPECT_ERRS(yaml, ...) expect_errs_((yaml), (const char *const[]){ __VA_ARGS__, NULL })

static struct policy *parse_ok(const char *yaml)
{
	struct policy *p = NULL;
	struct policy_errors e = { 0 };
	int r = policy_parse("t.yaml", yaml, strlen(yaml), &p, &e);

	if (r != 0) {
		print_message("document:\n%s\nreturned %d\n", yaml, r);
		dump_errors(&e);
	}
	assert_int_equal(r, 0);
	assert_int_equal(e.n, 0);
	assert_null(e.v);
	assert_non_null(p);
	return p;
}

static void assert_strlist(const struct strlist *l, const char *const *exp)
{
	size_t n = 0, i;

	while (exp[n])
		n++;
	if (l->n != n) {
		for (i = 0; i < l->n; i++)
			print_message("  item %zu: %s\n", i, l->v[i]);
	}
	assert_int_equal(l->n, n);
	for (i = 0; i < n; i++)
		assert_string_equal(l->v[i], exp[i]);
}

#define ASSERT_LIST(l, ...) assert_strlist((l), (const char *const[]){ __VA_ARGS__, NULL })

static uint64_t cap(const char *name)
{
	int b = caps_from_name(name);

	assert_true(b >= 0);
	return 1ull << b;
}

/* lines 1-7; the next line is line 8, match keys indented by 6 */
#define HEAD(ev)                                                                             \
	"version: 1\n"                                                                       \
	"rules:\n"                                                                           \
	"  - name: r\n"                                                                      \
	"    severity: high\n"                                                               \
	"    category: execution\n"                                                          \
	"    match:\n"                                                                       \
	"      event: " ev "\n"

/* ------------------------------------------------------------------ default policy */

static void test_default_policy(void **state)
{
	struct policy *p = NULL;
	struct policy_errors e = { 0 };
	const struct rule *r;
	const struct match *x;
	int ret;

	ret = policy_load_default(&p, &e);
	if (ret)
		dump_errors(&e);
	assert_int_equal(ret, 0);
	assert_int_equal(e.n, 0);
	assert_non_null(p);
	assert_string_equal(p->source, "<embedded>");
	assert_int_equal(p->nrules, 20);

	/* settings given in the file, and defaults for the rest */
	assert_string_equal(p->settings.journal_dir, "/var/lib/nodeguard");
	assert_int_equal(p->settings.journal_fsync, FSYNC_ALWAYS);
	assert_int_equal(p->settings.incident_window_s, 600);
	assert_int_equal(p->settings.ancestry_depth, 8);
	assert_int_equal(p->settings.argv_max, 1024);
	assert_false(p->settings.dry_run);
	assert_false(p->settings.trace_host);
	assert_null(p->settings.node_name);
	ASSERT_LIST(&p->settings.protected_namespaces, "kube-system", "openshift-*");
	/* isolate_allow is a commented example: none */
	assert_int_equal(p->settings.nisolate_allow, 0);
	assert_null(p->settings.isolate_allow);

	/* ids and names in order */
	static const char *const names[] = {
		"setid-to-root-in-container",
		"setuid-exec-by-nonroot-in-container",
		"dangerous-capability-gained",
		"unexplained-credential-change",
		"unexplained-id-change",
		"container-entered-host-namespace",
		"namespace-tool-in-container",
		"interactive-shell-in-container",
		"shell-spawned-by-server",
		"exec-from-writable-or-anonymous-location",
		"reverse-shell-socket-stdio",
		"shell-after-outbound-connect",
		"cloud-metadata-connect",
		"mining-pool-port",
		"k8s-unauthorized-access",
		"k8s-podsecurity-violation",
		"k8s-exec-into-container",
		"k8s-network-policy-denial",
		"k8s-image-vulnerability-reported",
		"k8s-image-cve-in-event",
	};
	for (size_t i = 0; i < p->nrules; i++) {
		assert_int_equal(p->rules[i].id, i + 1);
		assert_string_equal(p->rules[i].name, names[i]);
		assert_true(p->rules[i].enabled);
		/* kill in the kernel for a kernel exploit and an escape; the rest log */
		assert_int_equal(p->rules[i].actions,
				 i == 3 || i == 5 ? (ACT_LOG | ACT_KILL) : ACT_LOG);
		assert_int_equal(p->rules[i].dry_run, TRI_ANY);
		assert_non_null(p->rules[i].description);
	}

	/* 1: set*id to root */
	r = &p->rules[0];
	assert_int_equal(r->line, 105);
	assert_int_equal(r->col, 5);
	assert_int_equal(r->severity, SEV_HIGH);
	assert_string_equal(r->category, "privilege_escalation");
	ASSERT_LIST(&r->mitre, "T1548.001", "T1068");
	assert_string_equal(r->description,
			    "A process in a container changed an id from non-root to root through set*id.");
	x = &r->match;
	assert_int_equal(x->line, 111);
	assert_int_equal(x->col, 7);
	assert_int_equal(x->events, RE_CRED_CHANGE);
	assert_int_equal(x->scope, SCOPE_CONTAINER);
	assert_true(x->scope_set);
	assert_int_equal(x->gains_root, TRI_TRUE);
	assert_int_equal(x->success, TRI_TRUE);
	assert_int_equal(x->ops, 0);
	assert_int_equal(x->uid.sel, UID_ANY);
	assert_int_equal(r->nexceptions, 1);
	x = &r->exceptions[0];
	assert_int_equal(x->line, 116);
	assert_int_equal(x->col, 9);
	assert_int_equal(x->events, 0);
	assert_int_equal(x->scope, SCOPE_ANY);
	assert_false(x->scope_set);
	assert_int_equal(x->success, TRI_ANY);
	ASSERT_LIST(&x->binary, "/usr/bin/sudo", "/bin/su", "/usr/bin/su", "/usr/sbin/sshd",
		    "/usr/sbin/cron", "/usr/sbin/crond", "/usr/bin/newgrp", "/bin/login",
		    "/usr/bin/login", "/usr/sbin/unix_chkpwd");

	/* 2: setuid exec by non-root; two lists expanded in order */
	r = &p->rules[1];
	assert_int_equal(r->match.events, RE_SETUID_EXEC);
	assert_int_equal(r->match.uid.sel, UID_NONROOT);
	assert_int_equal(r->match.success, TRI_ANY);
	assert_int_equal(r->nexceptions, 1);
	/* sudo and su are deliberately not exempt here (see the policy) */
	assert_int_equal(r->exceptions[0].binary.n, 11);
	assert_string_equal(r->exceptions[0].binary.v[0], "/bin/ping");
	assert_string_equal(r->exceptions[0].binary.v[10], "/usr/bin/fusermount3");

	/* 3: @dangerous_caps as a mask */
	r = &p->rules[2];
	assert_int_equal(r->match.events, RE_CRED_CHANGE | RE_SETUID_EXEC);
	assert_int_equal(r->match.caps_gained,
			 cap("CAP_SYS_ADMIN") | cap("CAP_SYS_PTRACE") | cap("CAP_SYS_MODULE") |
				 cap("CAP_NET_ADMIN") | cap("CAP_DAC_READ_SEARCH") | cap("CAP_BPF"));
	assert_int_equal(r->match.caps_gained, (1ull << 21) | (1ull << 19) | (1ull << 16) |
						       (1ull << 12) | (1ull << 2) | (1ull << 39));
	assert_int_equal(r->match.caps_effective, 0);
	assert_int_equal(r->match.success, TRI_TRUE);
	assert_int_equal(r->nexceptions, 0);
	assert_null(r->exceptions);

	/* 4-6: anomalies */
	r = &p->rules[3];
	assert_int_equal(r->severity, SEV_CRITICAL);
	assert_int_equal(r->match.events, RE_ANOMALY);
	assert_int_equal(r->match.scope, SCOPE_ANY);
	assert_int_equal(r->match.anomaly_reasons, NG_AN_ESCALATION);
	assert_string_equal(r->description,
			    "A task became root or gained capabilities in the initial user namespace "
			    "without any set*id, setgroups, capset or setuid exec: the mark of a "
			    "kernel exploit.");
	assert_int_equal(p->rules[4].match.anomaly_reasons, NG_AN_IDS_CHANGED);
	assert_int_equal(p->rules[4].severity, SEV_MEDIUM);
	r = &p->rules[5];
	assert_string_equal(r->category, "container_escape");
	ASSERT_LIST(&r->mitre, "T1611");
	assert_int_equal(r->match.anomaly_reasons, NG_AN_ESCAPE);

	/* 7-12: exec */
	ASSERT_LIST(&p->rules[6].match.binary, "*/nsenter", "*/unshare");
	r = &p->rules[7];
	assert_int_equal(r->match.events, RE_EXEC);
	assert_int_equal(r->match.tty, TRI_TRUE);
	assert_int_equal(r->match.binary.n, 16);
	assert_string_equal(r->match.binary.v[0], "/bin/sh");
	assert_string_equal(r->match.binary.v[15], "/usr/bin/busybox");
	ASSERT_LIST(&r->mitre, "T1059.004", "T1609");
	r = &p->rules[8];
	assert_int_equal(r->match.binary.n, 16);
	assert_int_equal(r->match.parent_binary.n, 15);
	assert_string_equal(r->match.parent_binary.v[3], "*/php-fpm*");
	assert_string_equal(r->description,
			    "A server process started a shell: command injection or a web shell.");
	r = &p->rules[9];
	assert_string_equal(r->category, "suspicious_exec");
	assert_int_equal(r->match.locations, LOC_TMP | LOC_DEV_SHM | LOC_MEMFD | LOC_UNLINKED);
	assert_int_equal(r->nexceptions, 1);
	ASSERT_LIST(&r->exceptions[0].comm, "runc:*");
	assert_int_equal(r->exceptions[0].binary.n, 0);
	assert_int_equal(p->rules[10].match.stdio_socket, TRI_TRUE);
	assert_int_equal(p->rules[11].match.parent_connected, TRI_TRUE);

	/* 13: cidrs */
	x = &p->rules[12].match;
	assert_int_equal(x->events, RE_CONNECT);
	assert_int_equal(x->ncidrs, 3);
	assert_int_equal(x->cidrs[0].family, AF_INET);
	assert_int_equal(x->cidrs[0].prefix, 32);
	assert_memory_equal(x->cidrs[0].addr, ((uint8_t[4]){ 169, 254, 169, 254 }), 4);
	assert_int_equal(x->cidrs[1].family, AF_INET6);
	assert_int_equal(x->cidrs[1].prefix, 128);
	assert_memory_equal(x->cidrs[1].addr,
			    ((uint8_t[16]){ 0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
					    0x54 }),
			    16);
	assert_int_equal(x->cidrs[2].family, AF_INET);
	assert_memory_equal(x->cidrs[2].addr, ((uint8_t[4]){ 100, 100, 100, 200 }), 4);
	assert_int_equal(x->nports, 0);
	assert_int_equal(x->protocol, 0);

	/* 14: port ranges */
	x = &p->rules[13].match;
	assert_string_equal(p->rules[13].category, "cryptomining");
	assert_int_equal(x->protocol, 6);
	assert_int_equal(x->ncidrs, 0);
	assert_int_equal(x->nports, 10);
	assert_int_equal(x->ports[0].lo, 3333);
	assert_int_equal(x->ports[0].hi, 3336);
	assert_int_equal(x->ports[1].lo, 3357);
	assert_int_equal(x->ports[1].hi, 3357);
	assert_int_equal(x->ports[9].lo, 45700);
	assert_int_equal(x->ports[9].hi, 45700);

	/* 15-20: cluster Events, all Warning only, any scope */
	static const char *const k8s_cats[] = { "unauthorized_access", "privilege_escalation",
						"suspicious_activity", "network_breach",
						"image_vulnerability", "image_vulnerability" };
	for (size_t i = 14; i < 20; i++) {
		r = &p->rules[i];
		assert_string_equal(r->category, k8s_cats[i - 14]);
		assert_int_equal(r->match.events, RE_K8S_EVENT);
		assert_int_equal(r->match.scope, SCOPE_ANY);
		ASSERT_LIST(&r->match.k8s_type, "Warning");
		assert_int_equal(r->nexceptions, 0);
	}
	x = &p->rules[14].match;
	assert_int_equal(p->rules[14].severity, SEV_MEDIUM);
	ASSERT_LIST(&x->k8s_kind, "Pod", "Node");
	ASSERT_LIST(&x->k8s_message, "forbidden", "unauthorized", "access denied");
	ASSERT_LIST(&x->k8s_not_message, "Liveness probe", "Readiness probe", "Startup probe",
		    "exceeded quota");
	assert_null(x->message_re);
	x = &p->rules[15].match;
	assert_int_equal(p->rules[15].severity, SEV_HIGH);
	assert_int_equal(x->k8s_message.n, 4);
	assert_string_equal(x->k8s_message.v[0], "violates PodSecurity");
	ASSERT_LIST(&x->k8s_not_message, "Liveness probe", "Readiness probe", "Startup probe");
	x = &p->rules[16].match;
	ASSERT_LIST(&x->k8s_kind, "Pod");
	ASSERT_LIST(&x->k8s_message, "exec into container", "kubectl exec");
	x = &p->rules[17].match;
	assert_non_null(x->message_re);
	assert_int_equal(x->k8s_message.n, 0);
	ASSERT_LIST(&x->k8s_not_message, "Liveness probe", "Readiness probe", "Startup probe",
		    "connection refused");
	x = &p->rules[18].match;
	ASSERT_LIST(&x->k8s_reason, "VulnerabilityFound", "VulnerabilitiesFound", "ScanFailed",
		    "ImageScanFailed");
	assert_null(x->message_re);
	assert_int_equal(x->k8s_not_message.n, 0);
	x = &p->rules[19].match;
	assert_non_null(x->message_re);
	assert_int_equal(x->k8s_reason.n, 0);

	policy_free(p);
	policy_errors_free(&e);
}

/* ------------------------------------------------------------------ defaults and settings */

static void test_defaults(void **state)
{
	struct policy *p = parse_ok("version: 1\nrules: []\n");
	const struct policy_settings *s = &p->settings;

	assert_int_equal(p->nrules, 0);
	assert_null(p->rules);
	assert_string_equal(p->source, "t.yaml");
	assert_null(s->node_name);
	assert_string_equal(s->journal_dir, "/var/lib/nodeguard");
	assert_int_equal(s->journal_fsync, FSYNC_ALWAYS);
	assert_int_equal(s->journal_fsync_interval_ms, 1000);
	assert_int_equal(s->journal_max_bytes, 64ull << 20);
	assert_int_equal(s->journal_keep, 5);
	assert_int_equal(s->incident_window_s, 600);
	assert_int_equal(s->ancestry_depth, 8);
	assert_int_equal(s->argv_max, 1024);
	assert_int_equal(s->proctab_max, 65536);
	assert_false(s->trace_host);
	assert_false(s->dry_run);
	ASSERT_LIST(&s->protected_namespaces, "kube-system", "openshift-*");
	assert_int_equal(s->actions_per_minute, 30);
	assert_int_equal(s->rule_actions_per_minute, 10);
	policy_free(p);
}

static void test_settings(void **state)
{
	struct policy *p = parse_ok("version: 1\n"
				    "lists:\n"
				    "  prod: [payments, \"billing-*\"]\n"
				    "settings:\n"
				    "  node_name: node-7\n"
				    "  journal_dir: /data/ng\n"
				    "  journal_fsync: interval\n"
				    "  journal_fsync_interval_ms: 250\n"
				    "  journal_max_bytes: 1048576\n"
				    "  journal_keep: 0\n"
				    "  incident_window_seconds: 30\n"
				    "  ancestry_depth: 64\n"
				    "  argv_max: 4096\n"
				    "  proctab_max: 1000\n"
				    "  trace_host: true\n"
				    "  dry_run: True\n"
				    "  protected_namespaces: [kube-system, \"@prod\"]\n"
				    "  actions_per_minute: 5\n"
				    "  rule_actions_per_minute: 2\n"
				    "rules: []\n");
	const struct policy_settings *s = &p->settings;

	assert_string_equal(s->node_name, "node-7");
	assert_string_equal(s->journal_dir, "/data/ng");
	assert_int_equal(s->journal_fsync, FSYNC_INTERVAL);
	assert_int_equal(s->journal_fsync_interval_ms, 250);
	assert_int_equal(s->journal_max_bytes, 1048576);
	assert_int_equal(s->journal_keep, 0);
	assert_int_equal(s->incident_window_s, 30);
	assert_int_equal(s->ancestry_depth, 64);
	assert_int_equal(s->argv_max, 4096);
	assert_int_equal(s->proctab_max, 1000);
	assert_true(s->trace_host);
	assert_true(s->dry_run);
	ASSERT_LIST(&s->protected_namespaces, "kube-system", "payments", "billing-*");
	assert_int_equal(s->actions_per_minute, 5);
	assert_int_equal(s->rule_actions_per_minute, 2);
	policy_free(p);

	/* empty sections (everything commented out) are absent */
	p = parse_ok("version: 1\nsettings:\nlists: ~\nrules:\n  - name: r\n    severity: low\n"
		     "    category: execution\n    match: {event: exec}\n    exceptions:\n");
	assert_int_equal(p->settings.ancestry_depth, 8);
	assert_int_equal(p->rules[0].nexceptions, 0);
	policy_free(p);

	/* an empty list protects nothing; fsync never */
	p = parse_ok("version: 1\nsettings:\n  protected_namespaces: []\n  journal_fsync: never\n"
		     "rules: []\n");
	assert_int_equal(p->settings.protected_namespaces.n, 0);
	assert_int_equal(p->settings.journal_fsync, FSYNC_NEVER);
	policy_free(p);
}

/* settings.isolate_allow: CIDR, CIDR:PORT, CIDR:LO-HI, [V6CIDR]:PORT, @lists */
static void test_isolate_allow(void **state)
{
	struct policy *p = parse_ok("version: 1\n"
				    "lists:\n"
				    "  dns: [\"10.96.0.10:53\", \"[fd00:10:96::a]:53\"]\n"
				    "settings:\n"
				    "  isolate_allow: [\"@dns\", 10.0.0.0/8, \"192.168.1.0/24:8000-8100\", "
				    "\"fd00::/8\", \"[fd00::/8]:443\", \"::ffff:10.1.2.3\"]\n"
				    "rules: []\n");
	const struct policy_settings *s = &p->settings;
	const struct allow_net *a = s->isolate_allow;

	(void)state;
	assert_int_equal(s->nisolate_allow, 7);
	assert_int_equal(a[0].cidr.family, AF_INET);
	assert_int_equal(a[0].cidr.prefix, 32);
	assert_memory_equal(a[0].cidr.addr, ((uint8_t[4]){ 10, 96, 0, 10 }), 4);
	assert_int_equal(a[0].port.lo, 53);
	assert_int_equal(a[0].port.hi, 53);
	assert_int_equal(a[1].cidr.family, AF_INET6);
	assert_int_equal(a[1].cidr.prefix, 128);
	assert_memory_equal(a[1].cidr.addr,
			    ((uint8_t[16]){ 0xfd, 0, 0, 0x10, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a }), 16);
	assert_int_equal(a[1].port.lo, 53);
	assert_int_equal(a[1].port.hi, 53);
	assert_int_equal(a[2].cidr.family, AF_INET);
	assert_int_equal(a[2].cidr.prefix, 8);
	assert_int_equal(a[2].port.lo, 0); /* every port */
	assert_int_equal(a[2].port.hi, 0);
	assert_int_equal(a[3].cidr.prefix, 24);
	assert_memory_equal(a[3].cidr.addr, ((uint8_t[4]){ 192, 168, 1, 0 }), 4);
	assert_int_equal(a[3].port.lo, 8000);
	assert_int_equal(a[3].port.hi, 8100);
	assert_int_equal(a[4].cidr.family, AF_INET6);
	assert_int_equal(a[4].cidr.prefix, 8);
	assert_memory_equal(a[4].cidr.addr, ((uint8_t[2]){ 0xfd, 0 }), 2);
	assert_int_equal(a[4].port.lo, 0);
	assert_int_equal(a[5].cidr.family, AF_INET6);
	assert_int_equal(a[5].cidr.prefix, 8);
	assert_int_equal(a[5].port.lo, 443);
	assert_int_equal(a[5].port.hi, 443);
	/* a v4-mapped address is IPv6 with colons: no port without brackets */
	assert_int_equal(a[6].cidr.family, AF_INET6);
	assert_int_equal(a[6].cidr.prefix, 128);
	assert_memory_equal(a[6].cidr.addr + 10, ((uint8_t[6]){ 0xff, 0xff, 10, 1, 2, 3 }), 6);
	assert_int_equal(a[6].port.lo, 0);
	policy_free(p);

	/* an empty list allows nothing more than the default */
	p = parse_ok("version: 1\nsettings:\n  isolate_allow: []\nrules: []\n");
	assert_int_equal(p->settings.nisolate_allow, 0);
	policy_free(p);

	EXPECT_ERRS("version: 1\nsettings:\n  isolate_allow: [\"10.0.0.1/8\", \"10.0.0.1:0\", "
		    "\"10.0.0.1:9-8\", \"[10.0.0.1]:53\", \"[fd00::1\", nonsense, \"fd00::1]:53\", "
		    "{a: b}]\nrules: []\n",
		    "t.yaml:3:19: isolate_allow: '10.0.0.1/8' has bits set past the /8 prefix",
		    "t.yaml:3:33: isolate_allow: bad port '0' in '10.0.0.1:0' (expected 1..65535 or LO-HI)",
		    "t.yaml:3:47: isolate_allow: bad port '9-8' in '10.0.0.1:9-8' (expected 1..65535 or LO-HI)",
		    "t.yaml:3:63: isolate_allow: brackets are for IPv6 ('[10.0.0.1]:53')",
		    "t.yaml:3:80: isolate_allow: bad entry '[fd00::1' (expected [IPV6/PREFIX]:PORT)",
		    "t.yaml:3:92: isolate_allow: bad CIDR 'nonsense' (expected ADDRESS[/PREFIX][:PORT])",
		    "t.yaml:3:102: isolate_allow: bad CIDR 'fd00::1]:53' (expected ADDRESS[/PREFIX][:PORT])",
		    "t.yaml:3:117: isolate_allow: expected a string, got a mapping");
	/* one kernel allow entry holds 8 port ranges of a CIDR; a bare CIDR (every port) is fine */
	EXPECT_ERRS("version: 1\nsettings:\n  isolate_allow: [\"10.0.0.1:1\", \"10.0.0.1:2\", "
		    "\"10.0.0.1:3\", \"10.0.0.1:4\", \"10.0.0.1:5\", \"10.0.0.1:6\", \"10.0.0.1:7\", "
		    "\"10.0.0.1:8\", \"10.0.0.1:9\", 10.0.0.1]\nrules: []\n",
		    "t.yaml:3:131: isolate_allow: more than 8 port ranges for 10.0.0.1");
	EXPECT_ERRS("version: 1\nsettings:\n  isolate_allow: {a: b}\nrules: []\n",
		    "t.yaml:3:18: isolate_allow: expected a string or a list of strings, got a mapping");
}

/* settings and rule keys of the Kubernetes actions */
static void test_k8s_action_settings(void **state)
{
	struct policy *p;
	const struct policy_settings *s;

	(void)state;
	p = parse_ok("version: 1\nrules: []\n");
	s = &p->settings;
	assert_false(s->quarantine_allow_dns);
	assert_int_equal(s->quarantine_allow_namespaces.n, 0);
	assert_int_equal(s->quarantine_allow_cidrs.n, 0);
	assert_int_equal(s->delete_grace_s, -1);
	assert_int_equal(s->api_queue_max, 1024);
	assert_int_equal(s->api_retry_max_s, 86400);
	policy_free(p);

	p = parse_ok("version: 1\nsettings:\n  quarantine_allow_dns: true\n"
		     "  quarantine_allow_namespaces: [monitoring, ingress]\n"
		     "  quarantine_allow_cidrs: [10.0.0.0/8, \"fd00::/8\"]\n"
		     "  delete_grace_seconds: 0\n  api_queue_max: 16\n  api_retry_max_seconds: 600\n"
		     "rules:\n  - {name: r, severity: high, category: execution, "
		     "actions: [delete-pod], delete_daemonset_pods: true, match: {event: exec}}\n");
	s = &p->settings;
	assert_true(s->quarantine_allow_dns);
	assert_int_equal(s->quarantine_allow_namespaces.n, 2);
	assert_string_equal(s->quarantine_allow_namespaces.v[1], "ingress");
	assert_int_equal(s->quarantine_allow_cidrs.n, 2);
	assert_string_equal(s->quarantine_allow_cidrs.v[1], "fd00::/8");
	assert_int_equal(s->delete_grace_s, 0);
	assert_int_equal(s->api_queue_max, 16);
	assert_int_equal(s->api_retry_max_s, 600);
	assert_true(p->rules[0].delete_daemonset_pods);
	policy_free(p);

	EXPECT_ERRS("version: 1\nsettings:\n  quarantine_allow_cidrs: [10.0.0.1/8, nonsense]\n"
		    "  delete_grace_seconds: -1\n  api_queue_max: 0\n  quarantine_allow_dns: maybe\n"
		    "rules:\n  - {name: r, severity: high, category: execution, actions: [delete-pod], "
		    "delete_daemonset_pods: 3, match: {event: exec}}\n",
		    "t.yaml:3:28: quarantine_allow_cidrs: '10.0.0.1/8' has bits set past the prefix",
		    "t.yaml:3:40: quarantine_allow_cidrs: bad CIDR 'nonsense' (expected ADDRESS/PREFIX)",
		    "t.yaml:4:25: delete_grace_seconds: expected an integer, got '-1'",
		    "t.yaml:5:18: api_queue_max: 0 is out of range (1..1000000)",
		    "t.yaml:6:25: quarantine_allow_dns: expected true or false, got 'maybe'",
		    "t.yaml:8:98: delete_daemonset_pods: expected true or false, got '3'");
}

static void test_settings_errors(void **state)
{
	EXPECT_ERRS("version: 1\n"
		    "settings:\n"
		    "  ancestry_depth: 0\n"
		    "  argv_max: 5000\n"
		    "  journal_fsync: sometimes\n"
		    "  journal_dir: var/lib\n"
		    "  trace_host: maybe\n"
		    "  colour: blue\n"
		    "  ancestry_depth: 65\n"
		    "  proctab_max: lots\n"
		    "  journal_keep: -1\n"
		    "  protected_namespaces: {a: b}\n"
		    "rules: []\n",
		    "t.yaml:3:19: ancestry_depth: 0 is out of range (1..64)",
		    "t.yaml:4:13: argv_max: 5000 is out of range (1..4096)",
		    "t.yaml:5:18: unknown journal_fsync mode 'sometimes' (expected always, interval or never)",
		    "t.yaml:6:16: journal_dir: must be an absolute path",
		    "t.yaml:7:15: trace_host: expected true or false, got 'maybe'",
		    "t.yaml:8:3: unknown key 'colour' in settings",
		    "t.yaml:9:3: duplicate key 'ancestry_depth' in settings (first at 3:3)",
		    "t.yaml:10:16: proctab_max: expected an integer, got 'lots'",
		    "t.yaml:11:17: journal_keep: expected an integer, got '-1'",
		    "t.yaml:12:25: protected_namespaces: expected a string or a list of strings, got a mapping");
	EXPECT_ERRS("version: 1\nsettings: [a]\nrules: []\n",
		    "t.yaml:2:11: settings: expected a mapping, got a list");
}

/* ------------------------------------------------------------------ rules and matches */

static void test_rule_fields(void **state)
{
	struct policy *p = parse_ok("version: 1\n"
				    "rules:\n"
				    "  - name: a.b_c-1\n"
				    "    description: one\n"
				    "    enabled: false\n"
				    "    severity: info\n"
				    "    category: network\n"
				    "    mitre: T1046\n"
				    "    actions: [log, kill, network-policy, event]\n"
				    "    dry_run: true\n"
				    "    match:\n"
				    "      events: [exec, connect]\n"
				    "      scope: host\n"
				    "      binary: /usr/bin/nc*\n"
				    "      cmdline: ['* -e *']\n"
				    "      ancestor_binary: ['*/cron']\n"
				    "      uid: 1000\n"
				    "      namespaces: [default]\n"
				    "      images: ['docker.io/*']\n"
				    "  - name: b\n"
				    "    severity: low\n"
				    "    category: credential_access\n"
				    "    dry_run: false\n"
				    "    match:\n"
				    "      event: cred-change\n"
				    "      ops: [setuid, capset]\n"
				    "      uid_from: nonroot\n"
				    "      uid_to: root\n"
				    "      euid_from: 33\n"
				    "      euid_to: 0\n"
				    "      fsuid_to: 4294967294\n"
				    "      caps_effective: [sys_admin, CAP_SYS_PTRACE]\n"
				    "      success: false\n"
				    "      gains_root: false\n"
				    "  - name: c\n"
				    "    severity: medium\n"
				    "    category: persistence\n"
				    "    match:\n"
				    "      event: cred-change\n"
				    "      op: setgroups\n"
				    "    exceptions: {comm: newgrp}\n"
				    "  - name: d\n"
				    "    severity: critical\n"
				    "    category: impact\n"
				    "    match:\n"
				    "      event: connect\n"
				    "      scope: any\n"
				    "      protocol: udp\n"
				    "      cidrs: [10.0.0.0/8, 2001:db8::/32, 192.0.2.1, '::']\n"
				    "      ports: 53\n");
	const struct rule *r = &p->rules[0];
	char buf[64];

	assert_int_equal(p->nrules, 4);
	assert_string_equal(r->name, "a.b_c-1");
	assert_string_equal(r->description, "one");
	assert_false(r->enabled);
	assert_int_equal(r->severity, SEV_INFO);
	assert_string_equal(r->category, "network");
	ASSERT_LIST(&r->mitre, "T1046");
	assert_int_equal(r->actions, ACT_LOG | ACT_KILL | ACT_NETWORK_POLICY | ACT_EVENT);
	assert_string_equal(actions_format(r->actions, buf, sizeof(buf)),
			    "log,kill,network-policy,event");
	assert_int_equal(r->dry_run, TRI_TRUE);
	assert_int_equal(r->match.events, RE_EXEC | RE_CONNECT);
	assert_int_equal(r->match.scope, SCOPE_HOST);
	assert_true(r->match.scope_set);
	ASSERT_LIST(&r->match.binary, "/usr/bin/nc*");
	ASSERT_LIST(&r->match.cmdline, "* -e *");
	ASSERT_LIST(&r->match.ancestor_binary, "*/cron");
	assert_int_equal(r->match.uid.sel, UID_VALUE);
	assert_int_equal(r->match.uid.value, 1000);
	ASSERT_LIST(&r->match.namespaces, "default");
	ASSERT_LIST(&r->match.images, "docker.io/*");
	assert_int_equal(r->match.success, TRI_ANY);

	r = &p->rules[1];
	assert_true(r->enabled);
	assert_int_equal(r->dry_run, TRI_FALSE);
	assert_null(r->description);
	assert_int_equal(r->mitre.n, 0);
	assert_int_equal(r->match.scope, SCOPE_CONTAINER);
	assert_false(r->match.scope_set);
	assert_int_equal(r->match.ops, (1u << NG_CRED_SETUID) | (1u << NG_CRED_CAPSET));
	assert_int_equal(r->match.uid_from.sel, UID_NONROOT);
	assert_int_equal(r->match.uid_to.sel, UID_ROOT);
	assert_int_equal(r->match.euid_from.sel, UID_VALUE);
	assert_int_equal(r->match.euid_from.value, 33);
	assert_int_equal(r->match.euid_to.sel, UID_VALUE);
	assert_int_equal(r->match.euid_to.value, 0);
	assert_int_equal(r->match.fsuid_to.value, 4294967294u);
	assert_int_equal(r->match.caps_effective, (1ull << 21) | (1ull << 19));
	assert_int_equal(r->match.success, TRI_FALSE);
	assert_int_equal(r->match.gains_root, TRI_FALSE);

	/* success defaults to true for cred-change */
	r = &p->rules[2];
	assert_int_equal(r->match.ops, 1u << NG_CRED_SETGROUPS);
	assert_int_equal(r->match.success, TRI_TRUE);
	/* a single mapping is a one-item exceptions list; success stays "any" there */
	assert_int_equal(r->nexceptions, 1);
	ASSERT_LIST(&r->exceptions[0].comm, "newgrp");
	assert_int_equal(r->exceptions[0].success, TRI_ANY);
	assert_int_equal(r->exceptions[0].scope, SCOPE_ANY);

	r = &p->rules[3];
	assert_int_equal(r->match.scope, SCOPE_ANY);
	assert_int_equal(r->match.protocol, 17);
	assert_int_equal(r->match.ncidrs, 4);
	assert_int_equal(r->match.cidrs[0].prefix, 8);
	assert_int_equal(r->match.cidrs[1].family, AF_INET6);
	assert_int_equal(r->match.cidrs[1].prefix, 32);
	assert_int_equal(r->match.cidrs[2].prefix, 32); /* bare address: full length */
	assert_int_equal(r->match.cidrs[3].family, AF_INET6);
	assert_int_equal(r->match.cidrs[3].prefix, 128);
	assert_int_equal(r->match.nports, 1);
	assert_int_equal(r->match.ports[0].lo, 53);
	assert_int_equal(r->match.ports[0].hi, 53);
	policy_free(p);
}

static void test_k8s_rule(void **state)
{
	struct policy *p = parse_ok("version: 1\n"
				    "rules:\n"
				    "  - name: k\n"
				    "    severity: medium\n"
				    "    category: image_vulnerability\n"
				    "    match:\n"
				    "      event: k8s-event\n"
				    "      k8s_reason: [Failed, BackOff]\n"
				    "      k8s_type: Warning\n"
				    "      k8s_kind: Pod\n"
				    "      k8s_message: [pull]\n"
				    "      k8s_not_message: [rate limit]\n"
				    "      k8s_message_regex: 'back-?off (pulling|restarting)'\n"
				    "      namespaces: ['team-*']\n");
	const struct match *m = &p->rules[0].match;

	assert_int_equal(m->events, RE_K8S_EVENT);
	assert_int_equal(m->scope, SCOPE_ANY); /* cluster events have no container */
	assert_int_equal(m->success, TRI_ANY);
	ASSERT_LIST(&m->k8s_reason, "Failed", "BackOff");
	ASSERT_LIST(&m->k8s_type, "Warning");
	ASSERT_LIST(&m->k8s_kind, "Pod");
	ASSERT_LIST(&m->k8s_message, "pull");
	ASSERT_LIST(&m->k8s_not_message, "rate limit");
	ASSERT_LIST(&m->namespaces, "team-*");
	assert_non_null(m->message_re);
	assert_int_equal(regexec(m->message_re, "Back-off restarting failed container", 0, NULL, 0),
			 0);
	assert_int_equal(regexec(m->message_re, "BACKOFF PULLING image", 0, NULL, 0), 0);
	assert_int_equal(regexec(m->message_re, "pulling image", 0, NULL, 0), REG_NOMATCH);
	policy_free(p);
}

static void test_list_expansion(void **state)
{
	struct policy *p = parse_ok("version: 1\n"
				    "lists:\n"
				    "  a: [/x, /y]\n"
				    "  one: /z\n"
				    "  empty: []\n"
				    "  lit: ['@@at']\n"
				    "  ports: [22, '8000-8080']\n"
				    "  ev: [exec]\n"
				    "rules:\n"
				    "  - name: r\n"
				    "    severity: low\n"
				    "    category: execution\n"
				    "    match:\n"
				    "      event: '@ev'\n"
				    "      binary: ['/first', '@a', '@one', '@@literal', '@lit', '@empty']\n"
				    "      comm: '@a'\n"
				    "    exceptions:\n"
				    "      - parent_binary: ['@one', '@a']\n"
				    "  - name: s\n"
				    "    severity: low\n"
				    "    category: network\n"
				    "    match:\n"
				    "      event: connect\n"
				    "      ports: ['@ports', 443]\n");
	const struct rule *r = &p->rules[0];

	assert_int_equal(r->match.events, RE_EXEC);
	ASSERT_LIST(&r->match.binary, "/first", "/x", "/y", "/z", "@literal", "@at");
	ASSERT_LIST(&r->match.comm, "/x", "/y");
	ASSERT_LIST(&r->exceptions[0].parent_binary, "/z", "/x", "/y");
	assert_int_equal(r->nexceptions, 1);
	r = &p->rules[1];
	assert_int_equal(r->match.nports, 3);
	assert_int_equal(r->match.ports[0].lo, 22);
	assert_int_equal(r->match.ports[1].lo, 8000);
	assert_int_equal(r->match.ports[1].hi, 8080);
	assert_int_equal(r->match.ports[2].lo, 443);
	policy_free(p);
}

static void test_list_definition_errors(void **state)
{
	EXPECT_ERRS("version: 1\n"
		    "lists:\n"
		    "  nested: [[x]]\n"
		    "  ref: ['@nested']\n"
		    "  'bad name': [x]\n"
		    "  ref: [y]\n"
		    "  map: {a: b}\n"
		    "  nul: [\"a\\0b\"]\n"
		    "rules: []\n",
		    "t.yaml:3:12: nested: expected a string, got a list",
		    "t.yaml:4:9: ref: a list cannot refer to another list ('@nested'); write '@@' for a literal '@'",
		    "t.yaml:5:3: list names must be 1-128 characters of A-Z, a-z, 0-9, '-', '_', '.'",
		    "t.yaml:6:3: duplicate list 'ref'",
		    "t.yaml:7:8: map: expected a list of strings, got a mapping",
		    "t.yaml:8:9: nul: string contains a NUL byte");
	EXPECT_ERRS("version: 1\nlists: [a]\nrules: []\n",
		    "t.yaml:2:8: lists: expected a mapping of name: [items], got a list");
}

static void test_aliases(void **state)
{
	/* a shared exception list: parsed for each rule, errors reported once */
	struct policy *p = parse_ok("version: 1\n"
				    "rules:\n"
				    "  - name: a\n"
				    "    severity: low\n"
				    "    category: execution\n"
				    "    match: {event: exec}\n"
				    "    exceptions: &exc\n"
				    "      - binary: /bin/ok\n"
				    "  - name: b\n"
				    "    severity: low\n"
				    "    category: execution\n"
				    "    match: {event: exec}\n"
				    "    exceptions: *exc\n");

	ASSERT_LIST(&p->rules[0].exceptions[0].binary, "/bin/ok");
	ASSERT_LIST(&p->rules[1].exceptions[0].binary, "/bin/ok");
	policy_free(p);

	EXPECT_ERRS("version: 1\n"
		    "rules:\n"
		    "  - name: a\n"
		    "    severity: low\n"
		    "    category: execution\n"
		    "    match: {event: exec}\n"
		    "    exceptions: &exc\n"
		    "      - tty: sometimes\n"
		    "  - name: b\n"
		    "    severity: low\n"
		    "    category: execution\n"
		    "    match: {event: exec}\n"
		    "    exceptions: *exc\n",
		    "t.yaml:8:14: tty: expected true or false, got 'sometimes'");

	/* a cycle through an alias is a type error, not a hang */
	EXPECT_ERRS("version: 1\nrules: &r [*r]\n",
		    "t.yaml:2:8: rule: expected a mapping, got a list");
}

/* ------------------------------------------------------------------ one test per error class */

static void test_err_unknown_keys(void **state)
{
	EXPECT_ERRS(HEAD("exec") "      foo: 1\n", "t.yaml:8:7: unknown key 'foo' in match");
	EXPECT_ERRS(HEAD("exec") "    bar: 1\n", "t.yaml:8:5: unknown key 'bar' in rule");
	EXPECT_ERRS(HEAD("exec") "    binary: /x\n",
		    "t.yaml:8:5: unknown key 'binary' in rule (it belongs under match)");
	EXPECT_ERRS(HEAD("exec") "    exceptions:\n      - bogus: 1\n",
		    "t.yaml:9:9: unknown key 'bogus' in exception");
	EXPECT_ERRS(HEAD("exec") "      caps: [CAP_BPF]\n",
		    "t.yaml:8:7: unknown key 'caps' in match (did you mean caps_gained or caps_effective?)");
	EXPECT_ERRS("version: 1\nrule: []\n", "t.yaml:1:1: policy is missing 'rules'",
		    "t.yaml:2:1: unknown key 'rule' in policy");
}

static void test_err_types(void **state)
{
	EXPECT_ERRS("version: 1\n"
		    "rules:\n"
		    "  - name: r\n"
		    "    severity: [a]\n"
		    "    category: execution\n"
		    "    match: {event: exec}\n",
		    "t.yaml:4:15: severity: expected a string, got a list");
	EXPECT_ERRS(HEAD("exec") "      tty: 1\n",
		    "t.yaml:8:12: tty: expected true or false, got '1'");
	EXPECT_ERRS(HEAD("exec") "      tty: \"true\"\n",
		    "t.yaml:8:12: tty: expected true or false, got 'true'");
	EXPECT_ERRS(HEAD("exec") "      binary: {a: 1}\n",
		    "t.yaml:8:15: binary: expected a string or a list of strings, got a mapping");
	EXPECT_ERRS(HEAD("exec") "      binary: [/a, [b]]\n",
		    "t.yaml:8:20: binary: expected a string, got a list");
	EXPECT_ERRS(HEAD("exec") "      binary:\n",
		    "t.yaml:8:14: binary: expected a string, got an empty value");
	EXPECT_ERRS(HEAD("exec") "      binary: []\n",
		    "t.yaml:8:15: binary: empty list (a key that is given needs at least one item)");
	EXPECT_ERRS(HEAD("exec") "      binary: \"/bin/a\\0b\"\n",
		    "t.yaml:8:15: binary: string contains a NUL byte");
	EXPECT_ERRS(HEAD("exec") "      binary: ''\n", "t.yaml:8:15: binary: empty string");
	EXPECT_ERRS(HEAD("exec") "      uid: bob\n",
		    "t.yaml:8:12: uid: expected root, nonroot or a uid (0..4294967294), got 'bob'");
	EXPECT_ERRS(HEAD("exec") "      uid: 4294967295\n",
		    "t.yaml:8:12: uid: expected root, nonroot or a uid (0..4294967294), got '4294967295'");
	EXPECT_ERRS(HEAD("exec") "      uid: [0]\n",
		    "t.yaml:8:12: uid: expected root, nonroot or a uid, got a list");
	EXPECT_ERRS(HEAD("exec") "      scope: pod\n",
		    "t.yaml:8:14: unknown scope 'pod' (expected container, host or any)");
	EXPECT_ERRS(HEAD("exec") "      location: [tmp, home]\n",
		    "t.yaml:8:23: unknown location 'home' (expected tmp, dev_shm, memfd or unlinked)");
	EXPECT_ERRS(HEAD("exec") "    enabled: no\n",
		    "t.yaml:8:14: enabled: expected true or false, got 'no'");
	EXPECT_ERRS(HEAD("exec") "    exceptions: nope\n",
		    "t.yaml:8:17: exceptions: expected a list of mappings, got a string");
	EXPECT_ERRS("version: 1\nrules: {}\n",
		    "t.yaml:2:8: rules: expected a list of rules, got a mapping");
	EXPECT_ERRS("version: 1\nrules: [x]\n", "t.yaml:2:9: rule: expected a mapping, got a string");
	EXPECT_ERRS("[1]\n", "t.yaml:1:1: policy: expected a mapping with version and rules, got a list");
}

static void test_err_ports(void **state)
{
	EXPECT_ERRS(HEAD("connect") "      ports: abc\n",
		    "t.yaml:8:14: ports: bad port 'abc' (expected 1..65535 or a LO-HI range)");
	EXPECT_ERRS(HEAD("connect") "      ports: [0, \"10-5\", 70000, 65535, \"1-65535\"]\n",
		    "t.yaml:8:15: ports: bad port '0' (expected 1..65535 or a LO-HI range)",
		    "t.yaml:8:18: ports: bad port range '10-5' (expected LO-HI with 1 <= LO <= HI <= 65535)",
		    "t.yaml:8:26: ports: bad port '70000' (expected 1..65535 or a LO-HI range)");
	EXPECT_ERRS(HEAD("connect") "      ports: [\"1-\", \"-5\", \"1-2-3\", \" 80\"]\n",
		    "t.yaml:8:15: ports: bad port range '1-' (expected LO-HI with 1 <= LO <= HI <= 65535)",
		    "t.yaml:8:21: ports: bad port range '-5' (expected LO-HI with 1 <= LO <= HI <= 65535)",
		    "t.yaml:8:27: ports: bad port range '1-2-3' (expected LO-HI with 1 <= LO <= HI <= 65535)",
		    "t.yaml:8:36: ports: bad port ' 80' (expected 1..65535 or a LO-HI range)");
	EXPECT_ERRS(HEAD("connect") "      protocol: sctp\n",
		    "t.yaml:8:17: unknown protocol 'sctp' (expected tcp, udp or any)");
}

static void test_err_cidrs(void **state)
{
	EXPECT_ERRS(HEAD("connect")
		    "      cidrs: [10.0.0.0/8, 10.1.2.3/8, 300.1.1.1, \"::1/129\", fe80::/10, 1.2.3.4/]\n",
		    "t.yaml:8:27: cidrs: '10.1.2.3/8' has bits set past the /8 prefix",
		    "t.yaml:8:39: cidrs: bad CIDR '300.1.1.1' (expected ADDRESS or ADDRESS/PREFIX)",
		    "t.yaml:8:50: cidrs: bad CIDR '::1/129' (expected ADDRESS or ADDRESS/PREFIX)",
		    "t.yaml:8:72: cidrs: bad CIDR '1.2.3.4/' (expected ADDRESS or ADDRESS/PREFIX)");
	EXPECT_ERRS(HEAD("connect") "      cidrs: 10.0.0.0/-1\n",
		    "t.yaml:8:14: cidrs: bad CIDR '10.0.0.0/-1' (expected ADDRESS or ADDRESS/PREFIX)");
}

static void test_err_caps(void **state)
{
	EXPECT_ERRS(HEAD("setuid-exec") "      caps_gained: [CAP_SYS_ADMIN, sys_bogus]\n",
		    "t.yaml:8:36: caps_gained: unknown capability 'sys_bogus'");
	/* from a list: at the list item, naming where the list was used */
	EXPECT_ERRS("version: 1\n"
		    "lists:\n"
		    "  caps: [CAP_BPF, CAP_NOPE]\n"
		    "rules:\n"
		    "  - name: r\n"
		    "    severity: high\n"
		    "    category: execution\n"
		    "    match:\n"
		    "      event: exec\n"
		    "      caps_effective: \"@caps\"\n",
		    "t.yaml:3:19: caps_effective: unknown capability 'CAP_NOPE' (list 'caps' used at 10:23)");
}

static void test_err_enums(void **state)
{
	EXPECT_ERRS(HEAD("cred-change") "      op: [setuid, setfoo]\n",
		    "t.yaml:8:20: unknown cred op 'setfoo' (expected setuid, setgid, setreuid, setregid, "
		    "setresuid, setresgid, setfsuid, setfsgid, setgroups or capset)");
	EXPECT_ERRS(HEAD("anomaly") "      anomaly: euid_rot\n",
		    "t.yaml:8:16: unknown anomaly reason 'euid_rot' (expected euid_root, fsuid_root, "
		    "uid_root, caps_gained, ids_changed, host_mntns or host_netns)");
	EXPECT_ERRS(HEAD("exex"),
		    "t.yaml:7:14: unknown event kind 'exex' (expected exec, setuid-exec, cred-change, "
		    "connect, anomaly or k8s-event)");
	EXPECT_ERRS(HEAD("exec") "    actions: [log, nuke]\n",
		    "t.yaml:8:20: unknown action 'nuke' (expected log, kill, deny, isolate, freeze, "
		    "kill-container, label, network-policy, revoke-rbac, delete-pod, event)");
	EXPECT_ERRS(HEAD("exec") "    actions: []\n",
		    "t.yaml:8:14: actions: empty list (a key that is given needs at least one item)");
	EXPECT_ERRS("version: 1\n"
		    "rules:\n"
		    "  - name: r\n"
		    "    severity: urgent\n"
		    "    category: hacking\n"
		    "    match: {event: exec}\n",
		    "t.yaml:4:15: unknown severity 'urgent' (expected info, low, medium, high or critical)",
		    "t.yaml:5:15: unknown category 'hacking' (see docs/policy.md for the list)");
	EXPECT_ERRS(HEAD("exec") "    mitre: [T1059, T12, T1059.1, t1059]\n",
		    "t.yaml:8:20: mitre: 'T12' is not a technique id (T1234 or T1234.567)",
		    "t.yaml:8:25: mitre: 'T1059.1' is not a technique id (T1234 or T1234.567)",
		    "t.yaml:8:34: mitre: 't1059' is not a technique id (T1234 or T1234.567)");
}

static void test_err_rule_structure(void **state)
{
	EXPECT_ERRS("version: 1\n"
		    "rules:\n"
		    "  - name: same\n"
		    "    severity: low\n"
		    "    category: execution\n"
		    "    match: {event: exec}\n"
		    "  - name: same\n"
		    "    severity: low\n"
		    "    category: execution\n"
		    "    match: {event: exec}\n",
		    "t.yaml:7:11: duplicate rule name 'same' (first at 3:5)");
	EXPECT_ERRS("version: 1\nrules:\n  - description: x\n",
		    "t.yaml:3:5: rule is missing 'name'", "t.yaml:3:5: rule is missing 'severity'",
		    "t.yaml:3:5: rule is missing 'category'", "t.yaml:3:5: rule is missing 'match'");
	EXPECT_ERRS("version: 1\nrules:\n  - name: x\n    severity: low\n",
		    "t.yaml:3:5: rule 'x' is missing 'category'",
		    "t.yaml:3:5: rule 'x' is missing 'match'");
	EXPECT_ERRS("version: 1\n"
		    "rules:\n"
		    "  - name: r\n"
		    "    severity: low\n"
		    "    category: execution\n"
		    "    match:\n"
		    "      binary: /bin/x\n",
		    "t.yaml:7:7: match has no 'event' or 'events'");
	EXPECT_ERRS("version: 1\n"
		    "rules:\n"
		    "  - name: Bad Name\n"
		    "    severity: low\n"
		    "    category: execution\n"
		    "    match: {event: exec}\n",
		    "t.yaml:3:11: rule name 'Bad Name' must be 1-128 characters of a-z, 0-9, '-', '_', '.'");
	EXPECT_ERRS(HEAD("exec") "      binary: /a\n      binary: /b\n      events: [exec]\n",
		    "t.yaml:9:7: duplicate key 'binary' in match (first at 8:7)",
		    "t.yaml:10:7: 'event' and 'events' both given; use one");
	EXPECT_ERRS(HEAD("exec") "    exceptions:\n      - {}\n",
		    "t.yaml:9:9: empty exception: it would suppress every detection of the rule");
	EXPECT_ERRS(HEAD("exec") "    match: {event: exec}\n",
		    "t.yaml:8:5: duplicate key 'match' in rule (first at 6:5)");
}

static void test_err_regex(void **state)
{
	EXPECT_ERRS(HEAD("k8s-event") "      k8s_message_regex: \"a(b\"\n",
		    "t.yaml:8:26: k8s_message_regex: invalid regex 'a(b': Unmatched ( or \\(");
	EXPECT_ERRS(HEAD("k8s-event") "      k8s_message_regex: [a]\n",
		    "t.yaml:8:26: k8s_message_regex: expected a string, got a list");
	/* nested counted repetition would make regcomp build a huge automaton */
	EXPECT_ERRS(HEAD("k8s-event") "      k8s_message_regex: '((a{100}){100}){100}'\n",
		    "t.yaml:8:26: k8s_message_regex: repetition counts multiply past 10000");
}

static void test_err_unknown_list(void **state)
{
	EXPECT_ERRS(HEAD("exec") "      binary: [\"/bin/a\", \"@nolist\"]\n",
		    "t.yaml:8:26: binary: unknown list '@nolist'");
	EXPECT_ERRS("version: 1\nsettings:\n  protected_namespaces: '@ns'\nrules: []\n",
		    "t.yaml:3:25: protected_namespaces: unknown list '@ns'");
}

static void test_err_cross_checks(void **state)
{
	EXPECT_ERRS(HEAD("exec")
		    "      ports: 80\n"
		    "      k8s_reason: x\n"
		    "      op: setuid\n"
		    "      anomaly: ids_changed\n",
		    "t.yaml:8:7: 'ports' does not apply to exec events (only to connect)",
		    "t.yaml:9:7: 'k8s_reason' does not apply to exec events (only to k8s-event)",
		    "t.yaml:10:7: 'op' does not apply to exec events (only to cred-change)",
		    "t.yaml:11:7: 'anomaly' does not apply to exec events (only to anomaly)");
	EXPECT_ERRS(HEAD("connect") "      success: true\n      tty: true\n      uid_to: root\n",
		    "t.yaml:8:7: 'success' does not apply to connect events (only to exec, setuid-exec, "
		    "cred-change)",
		    "t.yaml:9:7: 'tty' does not apply to connect events (only to exec, setuid-exec)",
		    "t.yaml:10:7: 'uid_to' does not apply to connect events (only to exec, setuid-exec, "
		    "cred-change, anomaly)");
	EXPECT_ERRS(HEAD("k8s-event") "      scope: container\n      binary: /x\n",
		    "t.yaml:8:7: 'scope' does not apply to k8s-event events (only to exec, setuid-exec, "
		    "cred-change, connect, anomaly)",
		    "t.yaml:9:7: 'binary' does not apply to k8s-event events (only to exec, setuid-exec, "
		    "cred-change, connect, anomaly)");
	/* every event of the match must support the key */
	EXPECT_ERRS("version: 1\n"
		    "rules:\n"
		    "  - name: r\n"
		    "    severity: high\n"
		    "    category: execution\n"
		    "    match:\n"
		    "      events: [exec, connect]\n"
		    "      ports: 80\n",
		    "t.yaml:8:7: 'ports' does not apply to exec events (only to connect)");
	/* exceptions: events within the rule's, keys checked against those */
	EXPECT_ERRS(HEAD("exec") "    exceptions:\n      - events: connect\n",
		    "t.yaml:9:17: exception events must be among the rule's (connect is not)");
	EXPECT_ERRS(HEAD("exec") "    exceptions:\n      - ports: 80\n",
		    "t.yaml:9:9: 'ports' does not apply to exec events (only to connect)");
	/* no cascade when the events themselves are wrong */
	EXPECT_ERRS(HEAD("bogus") "      ports: 80\n",
		    "t.yaml:7:14: unknown event kind 'bogus' (expected exec, setuid-exec, cred-change, "
		    "connect, anomaly or k8s-event)");
}

static void test_err_version(void **state)
{
	EXPECT_ERRS("rules: []\n", "t.yaml:1:1: policy is missing 'version' (write version: 1)");
	EXPECT_ERRS("version: 2\nrules: []\n",
		    "t.yaml:1:10: unsupported policy version 2 (this nodeguard reads 1)");
	EXPECT_ERRS("version: one\nrules: []\n",
		    "t.yaml:1:10: version: expected an integer, got 'one'");
	EXPECT_ERRS("version: 1\n", "t.yaml:1:1: policy is missing 'rules'");
	EXPECT_ERRS("", "t.yaml:1:1: empty policy (expected a mapping with version and rules)");
	EXPECT_ERRS("# only a comment\n",
		    "t.yaml:1:1: empty policy (expected a mapping with version and rules)");
}

static void test_multiple_errors(void **state)
{
	/* all of them, in file order, not just the first */
	EXPECT_ERRS("version: 3\n"
		    "settings:\n"
		    "  argv_max: 0\n"
		    "rules:\n"
		    "  - name: a\n"
		    "    severity: loud\n"
		    "    category: execution\n"
		    "    match:\n"
		    "      event: exec\n"
		    "      tty: maybe\n"
		    "  - name: b\n"
		    "    severity: low\n"
		    "    category: nope\n"
		    "    match:\n"
		    "      event: connect\n"
		    "      ports: 99999\n"
		    "    extra: 1\n",
		    "t.yaml:1:10: unsupported policy version 3 (this nodeguard reads 1)",
		    "t.yaml:3:13: argv_max: 0 is out of range (1..4096)",
		    "t.yaml:6:15: unknown severity 'loud' (expected info, low, medium, high or critical)",
		    "t.yaml:10:12: tty: expected true or false, got 'maybe'",
		    "t.yaml:13:15: unknown category 'nope' (see docs/policy.md for the list)",
		    "t.yaml:16:14: ports: bad port '99999' (expected 1..65535 or a LO-HI range)",
		    "t.yaml:17:5: unknown key 'extra' in rule");
}

static void test_error_cap(void **state)
{
	size_t cap = 64 + 150 * 96, off = 0, i;
	char *doc = malloc(cap);
	struct policy *p = NULL;
	struct policy_errors e = { 0 };
	char buf[600];

	assert_non_null(doc);
	off += (size_t)snprintf(doc + off, cap - off, "version: 1\nrules:\n");
	for (i = 0; i < 150; i++)
		off += (size_t)snprintf(doc + off, cap - off,
					"  - {name: r%zu, severity: low, category: execution, "
					"match: {event: exec}, bad: 1}\n",
					i);
	assert_int_equal(policy_parse("t.yaml", doc, off, &p, &e), -EINVAL);
	assert_null(p);
	assert_int_equal(e.n, POLICY_MAX_ERRORS);
	assert_true(e.truncated);
	policy_error_format(&e.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "t.yaml:3:74: unknown key 'bad' in rule");
	policy_error_format(&e.v[99], buf, sizeof(buf));
	assert_string_equal(buf, "t.yaml:102:75: unknown key 'bad' in rule");
	policy_errors_free(&e);
	assert_int_equal(e.n, 0);
	assert_false(e.truncated);
	free(doc);
}

static void test_yaml_syntax(void **state)
{
	EXPECT_ERRS("version: 1\nrules:\n  - name: a\n   bad: [\n",
		    "t.yaml:4:4: YAML: did not find expected '-' indicator (while parsing a block "
		    "collection at 3:3)");
	EXPECT_ERRS("version: 1\nrules:\n\t- name: x\n",
		    "t.yaml:3:1: YAML: found character that cannot start any token (while scanning "
		    "for the next token at 3:1)");
	EXPECT_ERRS("version: 1\nrules: [\n",
		    "t.yaml:3:1: YAML: did not find expected node content (while parsing a flow node "
		    "at 3:1)");
	EXPECT_ERRS(HEAD("exec") "      binary: @shells\n",
		    "t.yaml:8:15: YAML: found character that cannot start any token (while scanning "
		    "for the next token at 8:15)");
	EXPECT_ERRS("version: 1\nrules: *nope\n",
		    "t.yaml:2:8: YAML: found undefined alias");
	/* the reader: a byte offset turned into line:col */
	EXPECT_ERRS("version: 1\n# \xff\nrules: []\n",
		    "t.yaml:2:3: YAML: invalid leading UTF-8 octet (#FF)");
	EXPECT_ERRS("version: 1\nrules: []\n---\nversion: 1\n",
		    "t.yaml:3:1: a policy is one YAML document; found a second one");
}

/* ------------------------------------------------------------------ files and bounds */

static char *tmp_file(const char *content, size_t len)
{
	char *path = strdup("/tmp/ng-test-policy-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	while (len) {
		ssize_t w = write(fd, content, len);

		assert_true(w > 0);
		content += w;
		len -= (size_t)w;
	}
	close(fd);
	return path;
}

static void test_load_file(void **state)
{
	const char *good = "version: 1\nrules: []\n";
	struct policy_errors e = { 0 };
	struct policy *p = NULL;
	char buf[600], exp[600];
	char *path;

	path = tmp_file(good, strlen(good));
	assert_int_equal(policy_load_file(path, &p, &e), 0);
	assert_non_null(p);
	assert_string_equal(p->source, path);
	assert_int_equal(e.n, 0);
	policy_free(p);
	p = NULL;
	unlink(path);
	free(path);

	/* errors name the file */
	path = tmp_file("version: 1\nrules: [1]\n", 22);
	assert_int_equal(policy_load_file(path, &p, &e), -EINVAL);
	assert_null(p);
	assert_int_equal(e.n, 1);
	policy_error_format(&e.v[0], buf, sizeof(buf));
	snprintf(exp, sizeof(exp), "%s:2:9: rule: expected a mapping, got a string", path);
	assert_string_equal(buf, exp);
	unlink(path);
	free(path);

	/* e is replaced, not appended to */
	assert_int_equal(policy_load_file("/nonexistent/policy.yaml", &p, &e), -ENOENT);
	assert_null(p);
	assert_int_equal(e.n, 1);
	policy_error_format(&e.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "/nonexistent/policy.yaml:0:0: cannot open: No such file or directory");

	assert_int_equal(policy_load_file("/tmp", &p, &e), -EISDIR);
	assert_int_equal(e.n, 1);
	policy_error_format(&e.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "/tmp:0:0: not a regular file");

	/* errs may be NULL */
	assert_int_equal(policy_load_file("/nonexistent/policy.yaml", &p, NULL), -ENOENT);
	policy_errors_free(&e);
}

static void test_size_bound(void **state)
{
	const char *head = "version: 1\nrules: []\n";
	size_t len = POLICY_MAX_BYTES, off;
	struct policy_errors e = { 0 };
	struct policy *p = NULL;
	char buf[600], exp[600];
	char *doc = malloc(len + 1), *path;

	assert_non_null(doc);
	/* exactly the bound: accepted (a valid policy padded with comment lines) */
	memcpy(doc, head, strlen(head));
	for (off = strlen(head); off < len; off += 64) {
		size_t n = len - off < 64 ? len - off : 64;

		memset(doc + off, ' ', n);
		doc[off] = '#';
		doc[off + n - 1] = '\n';
	}
	assert_int_equal(policy_parse("big.yaml", doc, len, &p, &e), 0);
	policy_free(p);
	p = NULL;

	/* one byte more: refused, text and file */
	doc[len] = '\n';
	assert_int_equal(policy_parse("big.yaml", doc, len + 1, &p, &e), -EFBIG);
	assert_null(p);
	assert_int_equal(e.n, 1);
	policy_error_format(&e.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "big.yaml:0:0: policy is larger than 4 MiB (4194305 bytes)");

	path = tmp_file(doc, len + 1);
	assert_int_equal(policy_load_file(path, &p, &e), -EFBIG);
	assert_null(p);
	assert_int_equal(e.n, 1);
	policy_error_format(&e.v[0], buf, sizeof(buf));
	snprintf(exp, sizeof(exp), "%s:0:0: file is larger than 4 MiB (4194305 bytes)", path);
	assert_string_equal(buf, exp);
	unlink(path);
	free(path);

	/* too many YAML nodes: refused before libyaml builds them all */
	off = (size_t)snprintf(doc, len, "version: 1\nlists:\n  a: [x");
	for (int i = 1; i < 300000; i++)
		off += (size_t)snprintf(doc + off, len - off, ",x");
	off += (size_t)snprintf(doc + off, len - off, "]\nrules: []\n");
	assert_int_equal(policy_parse("t.yaml", doc, off, &p, &e), -EINVAL);
	assert_null(p);
	assert_int_equal(e.n, 1);
	policy_error_format(&e.v[0], buf, sizeof(buf));
	/* nodes: the root, version, 1, lists, the lists mapping, a, the sequence
	 * = 7, then the items: item 262137 (0-based, column 7 + 2 * 262137) is
	 * node 262145 */
	assert_string_equal(buf, "t.yaml:3:524281: policy has more than 262144 YAML nodes");

	/* one list item too many */
	off = (size_t)snprintf(doc, len, "version: 1\nlists:\n  big: [");
	for (int i = 0; i < 4097; i++)
		off += (size_t)snprintf(doc + off, len - off, "%sx", i ? "," : "");
	off += (size_t)snprintf(doc + off, len - off, "]\nrules: []\n");
	assert_int_equal(policy_parse("t.yaml", doc, off, &p, &e), -EINVAL);
	assert_int_equal(e.n, 1);
	policy_error_format(&e.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "t.yaml:3:8: big: more than 4096 items");

	/* a list used over and over: expansion is bounded too */
	off = (size_t)snprintf(doc, len, "version: 1\nlists:\n  big: [x");
	for (int i = 1; i < 4096; i++)
		off += (size_t)snprintf(doc + off, len - off, ",x");
	off += (size_t)snprintf(doc + off, len - off,
				"]\nrules:\n  - name: r\n    severity: low\n    category: execution\n"
				"    match:\n      event: exec\n      binary: [");
	for (int i = 0; i < 1100; i++)
		off += (size_t)snprintf(doc + off, len - off, "\"@big\", ");
	off += (size_t)snprintf(doc + off, len - off, "]\n");
	assert_int_equal(policy_parse("t.yaml", doc, off, &p, &e), -EINVAL);
	assert_null(p);
	assert_int_equal(e.n, 2);
	policy_error_format(&e.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "t.yaml:10:15: binary: more than 4096 items");
	policy_error_format(&e.v[1], buf, sizeof(buf));
	/* 1 visit for "event: exec" + 1023 * 4096 leaves 4095: the 1024th reference
	 * (column 16 + 8 * 1023) crosses the bound on its last item */
	assert_string_equal(
		buf, "t.yaml:10:8200: policy is too large after expanding lists (more than 4194304 items)");
	policy_errors_free(&e);
	free(doc);
}

/* ------------------------------------------------------------------ names */

static void test_names(void **state)
{
	char buf[128], small[8];
	struct policy_error pe = { .file = "f.yaml", .line = 3, .col = 14, .msg = "boom" };

	assert_string_equal(severity_name(SEV_INFO), "info");
	assert_string_equal(severity_name(SEV_CRITICAL), "critical");
	assert_string_equal(severity_name(SEV_COUNT), "unknown");
	assert_int_equal(severity_from_name("medium"), SEV_MEDIUM);
	assert_int_equal(severity_from_name("Medium"), -1);
	assert_int_equal(severity_from_name(NULL), -1);

	assert_string_equal(action_name(ACT_KILL_CONTAINER), "kill-container");
	assert_string_equal(action_name(ACT_EVENT), "event");
	assert_string_equal(action_name(ACT_LOG | ACT_KILL), "unknown");
	assert_string_equal(action_name(0), "unknown");
	assert_int_equal(action_from_name("revoke-rbac"), ACT_REVOKE_RBAC);
	assert_int_equal(action_from_name("network-policy"), ACT_NETWORK_POLICY);
	assert_int_equal(action_from_name("nuke"), 0);
	assert_int_equal(action_from_name(NULL), 0);
	for (int i = 0; i < ACT_COUNT; i++)
		assert_int_equal(action_from_name(action_name(1u << i)), 1u << i);

	assert_string_equal(actions_format(0, buf, sizeof(buf)), "");
	assert_string_equal(actions_format(ACT_LOG | ACT_DELETE_POD | (1u << 30), buf, sizeof(buf)),
			    "log,delete-pod");
	/* truncation never leaves half a name */
	assert_string_equal(actions_format(ACT_LOG | ACT_ISOLATE, small, sizeof(small)), "log");

	assert_true(category_known("privilege_escalation"));
	assert_true(category_known("impact"));
	assert_true(category_known("image_vulnerability"));
	assert_false(category_known("Impact"));
	assert_false(category_known(""));
	assert_false(category_known(NULL));

	policy_error_format(&pe, buf, sizeof(buf));
	assert_string_equal(buf, "f.yaml:3:14: boom");
	policy_error_format(&pe, small, sizeof(small));
	assert_string_equal(small, "f.yaml:");

	/* destructors accept NULL */
	policy_free(NULL);
	policy_errors_free(NULL);
}

static void test_errs_reused(void **state)
{
	struct policy_errors e = { 0 };
	struct policy *p = NULL;
	const char *bad = "version: 1\nrules: [1, 2]\n", *good = "version: 1\nrules: []\n";

	assert_int_equal(policy_parse("t.yaml", bad, strlen(bad), &p, &e), -EINVAL);
	assert_int_equal(e.n, 2);
	assert_int_equal(policy_parse("t.yaml", good, strlen(good), &p, &e), 0);
	assert_int_equal(e.n, 0);
	assert_null(e.v);
	assert_non_null(p);
	policy_free(p);
	/* a failed parse does not touch *out */
	p = (struct policy *)&e;
	assert_int_equal(policy_parse("t.yaml", bad, strlen(bad), &p, NULL), -EINVAL);
	assert_ptr_equal(p, &e);
	/* not NUL-terminated: only len bytes are read */
	assert_int_equal(policy_parse("t.yaml", "version: 1\nrules: []\nXXX", 21, &p, &e), 0);
	policy_free(p);
	policy_errors_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_settings_errors),
		cmocka_unit_test(test_isolate_allow),
		cmocka_unit_test(test_k8s_action_settings),
		cmocka_unit_test(test_rule_fields),
		cmocka_unit_test(test_k8s_rule),
		cmocka_unit_test(test_list_expansion),
		cmocka_unit_test(test_list_definition_errors),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_err_unknown_keys),
		cmocka_unit_test(test_err_types),
		cmocka_unit_test(test_err_ports),
		cmocka_unit_test(test_err_cidrs),
		cmocka_unit_test(test_err_caps),
		cmocka_unit_test(test_err_enums),
		cmocka_unit_test(test_err_rule_structure),
		cmocka_unit_test(test_err_regex),
		cmocka_unit_test(test_err_unknown_list),
		cmocka_unit_test(test_err_cross_checks),
		cmocka_unit_test(test_err_version),
		cmocka_unit_test(test_multiple_errors),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_yaml_syntax),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_errs_reused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
