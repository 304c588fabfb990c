// SPDX-License-Identifier: Apache-2.0
/*
 * tools/nodeguardctl end to end: the binary (./nodeguardctl, or
 * $NODEGUARDCTL) runs on a journal directory written through incmgr the way
 * the agent writes it. List filters, show and report by id or prefix, exit
 * codes for unknown and ambiguous ids and usage errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "unit_helpers.h"
#include "report_fixture.h"

struct env {
	char dir[64];
	char out[128], err[128];
	char ids[4][48]; /* old-host, web, db, coredns */
	const char *bin;
};

struct run {
	int rc;
	char *out, *err;
	size_t nlines;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	assert_non_null(f);
	do {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* run nodeguardctl with args (NULL-terminated); env_dir sets
 * NODEGUARD_JOURNAL_DIR (NULL: unset) */
static struct run ctl(struct env *e, const char *env_dir, ...)
{
	const char *argv[32];
	struct run r = { 0 };
	va_list ap;
	int n = 0, st;
	pid_t pid;
	char *p;

	argv[n++] = e->bin;
	va_start(ap, env_dir);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(e->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int er = open(e->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || er < 0 || dup2(o, 1) < 0 || dup2(er, 2) < 0)
			_exit(127);
		if (env_dir)
			setenv("NODEGUARD_JOURNAL_DIR", env_dir, 1);
		else
			unsetenv("NODEGUARD_JOURNAL_DIR");
		execv(e->bin, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	r.rc = WEXITSTATUS(st);
	if (r.rc == 127)
		fail_msg("could not run %s (build it: make nodeguardctl)", e->bin);
	r.out = slurp(e->out);
	r.err = slurp(e->err);
	for (p = r.out; *p; p++)
		r.nlines += *p == '\n';
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* the listed ids, in order, as "i,j,k" indexes into e->ids */
static void assert_listed(struct env *e, const struct run *r, const char *want)
{
	char got[64] = "", *line = r->out;
	size_t i;

	assert_int_equal(r->rc, 0);
	while (*line) {
		char *nl = strchr(line, '\n');

		for (i = 0; i < 4; i++)
			if (!strncmp(line, e->ids[i], strlen(e->ids[i])) && line[strlen(e->ids[i])] == ' ')
				break;
		if (i == 4)
			fail_msg("unexpected line: %s", line);
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%zu", *got ? "," : "", i);
		line = nl ? nl + 1 : line + strlen(line);
	}
	if (strcmp(got, want))
		fail_msg("listed %s, want %s\n%s", got, want, r->out);
}

static uint64_t wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct capture cap = { 0 };
	struct incmgr *m = fixture_mgr(&cap);
	uint64_t now = wall_now();
	struct inc_attr web = { .is_container = true, .pod_namespace = "shop", .pod_name = "web-1" };
	struct inc_attr db = { .is_container = true, .pod_namespace = "shop", .pod_name = "db-0" };
	struct inc_attr dns = { .is_container = true, .pod_namespace = "kube-system",
				.pod_name = "coredns-abc" };
	struct fixture_det f = {
		.rule = "host-discovery", .category = "discovery", .sev = SEV_LOW,
		.wall_ns = now - 3 * 3600 * NS_PER_S, .cmdline = "id", .pid = 10, .key = "host:10:1",
	};
	struct incident *inc;

	if (!e || !m)
		return -1;
	e->bin = getenv("NODEGUARDCTL") ? getenv("NODEGUARDCTL") : "./nodeguardctl";
	snprintf(e->dir, sizeof(e->dir), "/tmp/ng-ctl-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->out, sizeof(e->out), "%s.out", e->dir);
	snprintf(e->err, sizeof(e->err), "%s.err", e->dir);

	/* 0: a host incident, low, 3 h ago */
	inc = fixture_detect(m, &f);
	snprintf(e->ids[0], sizeof(e->ids[0]), "%s", inc->id);

	/* 1: shop/web-1, medium + medium in two categories = high, 10 min ago */
	f.rule = "shell-in-container";
	f.category = "execution";
	f.sev = SEV_MEDIUM;
	f.wall_ns = now - 600 * NS_PER_S;
	f.key = "ctr:web";
	f.attr = &web;
	f.cmdline = "sh";
	inc = fixture_detect(m, &f);
	f.rule = "setuid-root";
	f.category = "privilege_escalation";
	f.cmdline = "su";
	fixture_detect(m, &f);
	snprintf(e->ids[1], sizeof(e->ids[1]), "%s", inc->id);

	/* 2: shop/db-0, critical, 1 h ago, closed since */
	f.rule = "container-escape";
	f.category = "container_escape";
	f.sev = SEV_CRITICAL;
	f.wall_ns = now - 3600 * NS_PER_S;
	f.key = "ctr:db";
	f.attr = &db;
	inc = fixture_detect(m, &f);
	incident_mgr_set_status(m, inc, INC_CLOSED, "idle", now - 60 * NS_PER_S);
	snprintf(e->ids[2], sizeof(e->ids[2]), "%s", inc->id);

	/* 3: kube-system/coredns-abc, medium, 2 days ago */
	f.rule = "odd-connect";
	f.category = "network";
	f.sev = SEV_MEDIUM;
	f.wall_ns = now - 2 * 86400 * NS_PER_S;
	f.key = "ctr:dns";
	f.attr = &dns;
	inc = fixture_detect(m, &f);
	snprintf(e->ids[3], sizeof(e->ids[3]), "%s", inc->id);

	fixture_write_file(e->dir, JOURNAL_FILE, cap.buf, cap.len);
	free(cap.buf);
	incident_mgr_free(m);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	fixture_rmtree(e->dir);
	unlink(e->out);
	unlink(e->err);
	free(e);
	return 0;
}

static void test_list_all(void **state)
{
	struct env *e = *state;
	struct run r = ctl(e, NULL, "list", "--dir", e->dir, NULL);

	/* journal order (opening order); no header when stdout is not a tty */
	assert_listed(e, &r, "0,1,2,3");
	assert_string_equal(r.err, "");
	assert_non_null(strstr(r.out, "  high      open       "));
	assert_non_null(strstr(r.out, "shop/web-1"));
	assert_non_null(strstr(r.out, "setuid-root (+1)\n") || strstr(r.out, "shell-in-container (+1)\n"));
	run_free(&r);

	/* the directory from the environment; options after or before the command */
	r = ctl(e, e->dir, "list", NULL);
	assert_listed(e, &r, "0,1,2,3");
	run_free(&r);
}

static void test_list_severity(void **state)
{
	struct env *e = *state;
	struct run r = ctl(e, NULL, "list", "--severity", "high", "--dir", e->dir, NULL);

	assert_listed(e, &r, "1,2"); /* high (escalated) and critical */
	run_free(&r);
	r = ctl(e, NULL, "list", "--severity", "critical", "--dir", e->dir, NULL);
	assert_listed(e, &r, "2");
	run_free(&r);
	r = ctl(e, NULL, "list", "--severity", "info", "--dir", e->dir, NULL);
	assert_listed(e, &r, "0,1,2,3");
	run_free(&r);
	r = ctl(e, NULL, "list", "--severity", "severe", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "--severity 'severe'"));
	run_free(&r);
}

static void test_list_since(void **state)
{
	struct env *e = *state;
	struct run r = ctl(e, NULL, "list", "--since", "30m", "--dir", e->dir, NULL);
	char ts[64];
	time_t t;
	struct tm tm;

	assert_listed(e, &r, "1");
	run_free(&r);
	r = ctl(e, NULL, "list", "--since", "2h", "--dir", e->dir, NULL);
	assert_listed(e, &r, "1,2");
	run_free(&r);
	r = ctl(e, NULL, "list", "--since", "1d", "--dir", e->dir, NULL);
	assert_listed(e, &r, "0,1,2");
	run_free(&r);
	r = ctl(e, NULL, "list", "--since", "7d", "--dir", e->dir, NULL);
	assert_listed(e, &r, "0,1,2,3");
	run_free(&r);

	/* an RFC 3339 time 90 minutes ago */
	t = time(NULL) - 90 * 60;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	r = ctl(e, NULL, "list", "--since", ts, "--dir", e->dir, NULL);
	assert_listed(e, &r, "1,2");
	run_free(&r);

	/* filters combine */
	r = ctl(e, NULL, "list", "--since", "2h", "--severity", "critical", "--dir", e->dir, NULL);
	assert_listed(e, &r, "2");
	run_free(&r);

	r = ctl(e, NULL, "list", "--since", "soon", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = ctl(e, NULL, "list", "--since", "2026-11-26T14:00:00", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);
}

static void test_list_pod_status_json(void **state)
{
	struct env *e = *state;
	struct run r = ctl(e, NULL, "list", "--pod", "shop/web-1", "--dir", e->dir, NULL);
	char *line;
	size_t n = 0;

	assert_listed(e, &r, "1");
	run_free(&r);
	r = ctl(e, NULL, "list", "--pod", "shop/*", "--dir", e->dir, NULL);
	assert_listed(e, &r, "1,2");
	run_free(&r);
	r = ctl(e, NULL, "list", "--pod", "kube-system/coredns-abc", "--dir", e->dir, NULL);
	assert_listed(e, &r, "3");
	run_free(&r);
	r = ctl(e, NULL, "list", "--pod", "shop/nothing", "--dir", e->dir, NULL);
	assert_listed(e, &r, "");
	run_free(&r);
	r = ctl(e, NULL, "list", "--pod", "web-1", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);

	r = ctl(e, NULL, "list", "--status", "closed", "--dir", e->dir, NULL);
	assert_listed(e, &r, "2");
	run_free(&r);
	r = ctl(e, NULL, "list", "--status", "open", "--dir", e->dir, NULL);
	assert_listed(e, &r, "0,1,3");
	run_free(&r);
	r = ctl(e, NULL, "list", "--status", "gone", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);

	/* one JSON object per line */
	r = ctl(e, NULL, "list", "--json", "--severity", "high", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.nlines, 2);
	for (line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		cJSON *o = parse_doc(line);

		assert_json_str(member(o, "id"), e->ids[n == 0 ? 1 : 2]);
		assert_json_str(member(o, "severity"), n == 0 ? "high" : "critical");
		cJSON_Delete(o);
		n++;
	}
	assert_int_equal(n, 2);
	run_free(&r);
}

static void test_show(void **state)
{
	struct env *e = *state;
	char prefix[48], want[96];
	struct run r = ctl(e, NULL, "show", e->ids[1], "--dir", e->dir, NULL);

	assert_int_equal(r.rc, 0);
	snprintf(want, sizeof(want), "Incident %s\n", e->ids[1]);
	assert_true(!strncmp(r.out, want, strlen(want)));
	assert_non_null(strstr(r.out, "high (chain of 2 categories: execution -> privilege_escalation)"));
	assert_non_null(strstr(r.out, "  Pod:         shop/web-1"));
	run_free(&r);

	/* a unique prefix (the ids differ in their time part), option first */
	snprintf(prefix, sizeof(prefix), "%.*s", (int)strlen(e->ids[2]) - 8, e->ids[2]);
	r = ctl(e, NULL, "show", "--dir", e->dir, prefix, NULL);
	assert_int_equal(r.rc, 0);
	snprintf(want, sizeof(want), "Incident %s\n", e->ids[2]);
	assert_true(!strncmp(r.out, want, strlen(want)));
	run_free(&r);

	/* ambiguous */
	r = ctl(e, NULL, "show", "ng-", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "'ng-' is ambiguous: it matches 4 incidents"));
	assert_non_null(strstr(r.err, e->ids[0]));
	run_free(&r);

	/* unknown */
	r = ctl(e, NULL, "show", "ng-19700101", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "no incident matches 'ng-19700101'"));
	run_free(&r);

	/* usage */
	r = ctl(e, NULL, "show", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = ctl(e, NULL, "show", e->ids[0], e->ids[1], "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = ctl(e, NULL, "show", e->ids[0], "--json", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);
}

static void test_report(void **state)
{
	struct env *e = *state;
	char path[128], *doc;
	struct stat sb;
	struct run r = ctl(e, NULL, "report", e->ids[1], "--format", "json", "--dir", e->dir, NULL);
	cJSON *o;

	assert_int_equal(r.rc, 0);
	o = parse_doc(r.out);
	assert_json_str(member(o, "id"), e->ids[1]);
	assert_json_str(member(o, "severity"), "high");
	assert_int_equal(cJSON_GetArraySize(member(o, "timeline")), 2);
	cJSON_Delete(o);
	run_free(&r);

	snprintf(path, sizeof(path), "%s/report.md", e->dir);
	r = ctl(e, NULL, "report", e->ids[1], "--format", "md", "-o", path, "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "");
	doc = slurp(path);
	assert_true(!strncmp(doc, "# Incident ", 11));
	assert_non_null(strstr(doc, "No actions were taken."));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(doc);
	run_free(&r);

	r = ctl(e, NULL, "report", e->ids[1], "--format", "html", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 0);
	assert_true(!strncmp(r.out, "<!DOCTYPE html>", 15));
	run_free(&r);

	/* default format: Markdown */
	r = ctl(e, NULL, "report", e->ids[3], "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 0);
	assert_true(!strncmp(r.out, "# Incident ", 11));
	run_free(&r);

	r = ctl(e, NULL, "report", e->ids[1], "--format", "pdf", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = ctl(e, NULL, "report", "ng-", "--format", "json", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	run_free(&r);
	r = ctl(e, NULL, "report", "nope", "--format", "json", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 1);
	run_free(&r);
	snprintf(path, sizeof(path), "%s/no/such/dir/r.md", e->dir);
	r = ctl(e, NULL, "report", e->ids[1], "-o", path, "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "Failed to create"));
	run_free(&r);
}

static void test_usage_and_errors(void **state)
{
	struct env *e = *state;
	char path[128];
	struct run r = ctl(e, NULL, NULL);

	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = ctl(e, NULL, "frobnicate", NULL);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown command"));
	run_free(&r);
	r = ctl(e, NULL, "--help", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "Usage: nodeguardctl"));
	run_free(&r);
	r = ctl(e, NULL, "list", "--help", NULL);
	assert_int_equal(r.rc, 0);
	run_free(&r);
	r = ctl(e, NULL, "list", "--bogus", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = ctl(e, NULL, "list", "--dir", NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = ctl(e, NULL, "list", "extra", "--dir", e->dir, NULL);
	assert_int_equal(r.rc, 2);
	run_free(&r);

	/* a directory that is not there: an error, not an empty list */
	snprintf(path, sizeof(path), "%s/missing", e->dir);
	r = ctl(e, NULL, "list", "--dir", path, NULL);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "Failed to read the journal"));
	run_free(&r);
}

static void test_malformed_journal(void **state)
{
	struct env *e = *state;
	char dir[128], *text;
	struct run r;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/bad", e->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	/* the good journal with garbage around it */
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/" JOURNAL_FILE, e->dir);
		text = slurp(path);
	}
	n = strlen(text);
	text = realloc(text, n + 64);
	assert_non_null(text);
	memmove(text + 9, text, n + 1);
	memcpy(text, "garbage\n\n", 9);
	fixture_write_file(dir, JOURNAL_FILE, text, n + 9);
	r = ctl(e, NULL, "list", "--dir", dir, NULL);
	assert_listed(e, &r, "0,1,2,3");
	assert_non_null(strstr(r.err, JOURNAL_FILE ":1: invalid JSON"));
	assert_non_null(strstr(r.err, JOURNAL_FILE ":2: empty line"));
	assert_non_null(strstr(r.err, "skipped 2 malformed journal lines"));
	run_free(&r);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_all),
		cmocka_unit_test(test_list_severity),
		cmocka_unit_test(test_list_since),
		cmocka_unit_test(test_list_pod_status_json),
		cmocka_unit_test(test_show),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_usage_and_errors),
		cmocka_unit_test(test_malformed_journal),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
