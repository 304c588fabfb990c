// SPDX-License-Identifier: Apache-2.0
/*
 * agent/k8s_watch.c: list+watch against the real apiserver (pods created,
 * patched and deleted on test-node are seen as ADDED/MODIFIED/DELETED, pods
 * of another node are not; bookmarks move the resourceVersion; the server's
 * timeout ends a stream and the watch goes on from where it was), and
 * against the stub for what the apiserver will not do on demand: ERROR 410
 * events and HTTP 410 (re-list), malformed and oversized lines, a cut-off
 * stream, an expired continue token, 5xx/403 with backoff, a LIST page over
 * its bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "k8s_test.h"
#include "k8s_watch.h"

#define MAX_EV 256

struct rec {
	int begins, ends;
	struct {
		enum k8s_event_type t;
		char name[64];
		char rv[32];
		bool in_list;          /* between on_list_begin and on_list_end */
	} ev[MAX_EV];
	size_t nev;
	bool listing;
	int nerr;
	struct {
		int err;
		long status;
		char msg[300];
	} err[16];
};

static void r_begin(void *ctx)
{
	struct rec *r = ctx;

	r->begins++;
	r->listing = true;
}

static void r_end(void *ctx)
{
	struct rec *r = ctx;

	r->ends++;
	r->listing = false;
}

static void r_obj(void *ctx, enum k8s_event_type t, const cJSON *obj)
{
	struct rec *r = ctx;
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(md, "name");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");

	assert_true(r->nev < MAX_EV);
	r->ev[r->nev].t = t;
	r->ev[r->nev].in_list = r->listing;
	snprintf(r->ev[r->nev].name, sizeof(r->ev[0].name), "%s", cJSON_IsString(n) ? n->valuestring : "");
	snprintf(r->ev[r->nev].rv, sizeof(r->ev[0].rv), "%s", cJSON_IsString(rv) ? rv->valuestring : "");
	r->nev++;
}

static void r_err(void *ctx, int err, long status, const char *msg)
{
	struct rec *r = ctx;

	if (r->nerr < 16) {
		r->err[r->nerr].err = err;
		r->err[r->nerr].status = status;
		snprintf(r->err[r->nerr].msg, sizeof(r->err[0].msg), "%s", msg);
	}
	r->nerr++;
}

static struct k8s_watch_handler handler(struct rec *r)
{
	struct k8s_watch_handler h = { .on_list_begin = r_begin, .on_object = r_obj,
				       .on_list_end = r_end, .on_error = r_err, .ctx = r };

	memset(r, 0, sizeof(*r));
	return h;
}

/* poll until cond holds or ms pass; the condition's value */
#define POLL_UNTIL(w, cond, ms)                                                 \
	({                                                                      \
		uint64_t end_ = kt_now_ms() + (ms);                             \
		while (!(cond) && kt_now_ms() < end_)                           \
			assert_int_equal(k8s_watch_poll((w), 50), 0);           \
		(cond);                                                         \
	})

/* index of the first event (from i0) of type t for name, or -1 */
static int find_ev(const struct rec *r, size_t i0, enum k8s_event_type t, const char *name)
{
	size_t i;

	for (i = i0; i < r->nev; i++)
		if (r->ev[i].t == t && !strcmp(r->ev[i].name, name))
			return (int)i;
	return -1;
}

static bool saw_name(const struct rec *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nev; i++)
		if (!strcmp(r->ev[i].name, name))
			return true;
	return false;
}

static void expect_ev(const struct rec *r, size_t i, enum k8s_event_type t, const char *name,
		      const char *rv)
{
	if (i >= r->nev)
		fail_msg("event %zu missing (have %zu)", i, r->nev);
	if (r->ev[i].t != t || strcmp(r->ev[i].name, name) || (rv && strcmp(r->ev[i].rv, rv)))
		fail_msg("event %zu is %d %s rv %s, want %d %s rv %s", i, r->ev[i].t, r->ev[i].name,
			 r->ev[i].rv, t, name, rv ? rv : "*");
}

#define POD(name, rv) "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\",\"uid\":\"u-" name "\",\"resourceVersion\":\"" rv "\"},\"spec\":{\"nodeName\":\"n1\"}}"
#define LIST(rv, cont, items) "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" rv "\"" cont "},\"items\":[" items "]}"
#define EV(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"

/* ---------------------------------------------------------------- stub */

static void test_stub_gone_and_malformed(void **state)
{
	struct k8s_watch_opts o = { .path = "/api/v1/pods", .field_selector = "spec.nodeName=n1",
				    .timeout_min_s = 300, .timeout_max_s = 600, .max_line = 1024 };
	struct k8s_client *c;
	struct k8s_watch *w;
	struct k8s_watch_stats st;
	struct stub *s = stub_start();
	struct rec r;
	struct k8s_watch_handler h = handler(&r);
	char line[512], big[2001], *stream;
	const char *ts;
	long t;

	(void)state;
	memset(big, 'x', 2000);
	big[2000] = '\0';
	stub_add(s, 200, NULL, LIST("100", "", POD("p1", "90")), true, 0);
	stub_add(s, 200, NULL,
		 EV("ADDED", POD("p2", "101"))
		 "this is not json\n"
		 "{\"type\":\"ADDED\"}\n"
		 "\n"
		 "{\"type\":\"SURPRISE\",\"object\":{}}\n"
		 EV("ERROR", "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: 101 (150)\",\"reason\":\"Expired\",\"code\":410}")
		 EV("ADDED", POD("never", "102")),
		 false, 3000);
	stub_add(s, 200, NULL, LIST("200", "", POD("p1", "90") "," POD("p2", "101")), true, 0);
	assert_true(asprintf(&stream, "%s\n" EV("MODIFIED", POD("p2", "201"))
				      EV("BOOKMARK", "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"205\"}}")
				      "{\"type\":\"ADDED\",\"obj", big) > 0);
	stub_add(s, 200, NULL, stream, false, 0);   /* ends cut off mid-line */
	free(stream);
	stub_add(s, 200, NULL, "", false, 10000);   /* then stays open, quiet */
	stub_run(s);
	c = stub_client(s, NULL);
	w = k8s_watch_new(c, &o, &h);
	assert_non_null(w);

	assert_true(POLL_UNTIL(w, stub_nreq(s) >= 5 && r.nev >= 6, 5000));
	assert_int_equal(k8s_watch_poll(w, 200), 0);
	assert_int_equal(r.begins, 2);
	assert_int_equal(r.ends, 2);
	assert_int_equal(r.nev, 6);
	expect_ev(&r, 0, K8S_EV_ADDED, "p1", "90");
	assert_true(r.ev[0].in_list);
	expect_ev(&r, 1, K8S_EV_ADDED, "p2", "101");
	assert_false(r.ev[1].in_list);
	expect_ev(&r, 2, K8S_EV_ADDED, "p1", "90");     /* the re-list */
	expect_ev(&r, 3, K8S_EV_ADDED, "p2", "101");
	assert_true(r.ev[3].in_list);
	expect_ev(&r, 4, K8S_EV_MODIFIED, "p2", "201");
	expect_ev(&r, 5, K8S_EV_BOOKMARK, "", "205");
	assert_false(saw_name(&r, "never"));           /* nothing after the 410 */
	assert_int_equal(r.nerr, 0);                    /* 410 and junk are handled, not errors */

	k8s_watch_get_stats(w, &st);
	assert_int_equal(st.lists, 2);
	assert_int_equal(st.relists, 1);
	assert_int_equal(st.gone, 1);
	assert_int_equal(st.watches, 3);
	assert_int_equal(st.reconnects, 1);
	assert_int_equal(st.events, 3);
	assert_int_equal(st.bookmarks, 1);
	assert_int_equal(st.objects_listed, 3);
	/* not json, no object, unknown type, the long line, the cut-off line */
	assert_int_equal(st.malformed, 5);
	assert_true(st.synced);
	assert_string_equal(st.resource_version, "205");

	assert_string_equal(stub_reqline(s, 0, line, sizeof(line)),
			    "GET /api/v1/pods?limit=500&fieldSelector=spec.nodeName%3Dn1 HTTP/1.1");
	stub_reqline(s, 1, line, sizeof(line));
	assert_non_null(strstr(line, "GET /api/v1/pods?watch=true&allowWatchBookmarks=true&resourceVersion=100&timeoutSeconds="));
	assert_non_null(strstr(line, "&fieldSelector=spec.nodeName%3Dn1 HTTP/1.1"));
	ts = strstr(line, "timeoutSeconds=") + 15;
	t = strtol(ts, NULL, 10);
	assert_true(t >= 300 && t <= 600);
	assert_string_equal(stub_reqline(s, 2, line, sizeof(line)),
			    "GET /api/v1/pods?limit=500&fieldSelector=spec.nodeName%3Dn1 HTTP/1.1");
	assert_non_null(strstr(stub_reqline(s, 3, line, sizeof(line)), "&resourceVersion=200&"));
	assert_non_null(strstr(stub_reqline(s, 4, line, sizeof(line)), "&resourceVersion=205&"));
	assert_true(stub_req_has(s, 4, "\r\nAuthorization: Bearer stub-token\r\n"));

	k8s_watch_free(w);
	k8s_client_free(c);
	stub_stop(s);
}

static void test_stub_pages_and_expired_continue(void **state)
{
	struct k8s_watch_opts o = { .path = "/api/v1/namespaces/ns/pods", .page_limit = 2,
				    .label_selector = "app=a" };
	struct k8s_client *c;
	struct k8s_watch *w;
	struct k8s_watch_stats st;
	struct stub *s = stub_start();
	struct rec r;
	struct k8s_watch_handler h = handler(&r);
	char line[512];

	(void)state;
	stub_add(s, 200, NULL, LIST("10", ",\"continue\":\"c1\"", POD("a", "5") "," POD("b", "6")), true, 0);
	stub_status(s, 410, NULL, "Expired",
		    "The provided continue parameter is too old to display a consistent list result.");
	stub_add(s, 200, NULL, LIST("11", ",\"continue\":\"c/2=\"", POD("a", "5") "," POD("b", "6")), true, 0);
	stub_add(s, 200, NULL, LIST("11", ",\"continue\":\"\"", POD("c", "7")), true, 0);
	stub_add(s, 200, NULL, "", false, 10000);
	stub_run(s);
	c = stub_client(s, NULL);
	w = k8s_watch_new(c, &o, &h);
	assert_non_null(w);
	assert_true(POLL_UNTIL(w, stub_nreq(s) >= 5, 5000));
	assert_int_equal(k8s_watch_poll(w, 100), 0);
	assert_int_equal(r.begins, 2);    /* again after the expired continue token */
	assert_int_equal(r.ends, 1);
	assert_int_equal(r.nev, 5);
	expect_ev(&r, 2, K8S_EV_ADDED, "a", "5");
	expect_ev(&r, 4, K8S_EV_ADDED, "c", "7");
	assert_true(r.ev[4].in_list);
	assert_int_equal(r.nerr, 0);
	k8s_watch_get_stats(w, &st);
	assert_int_equal(st.lists, 3);
	assert_int_equal(st.relists, 1);
	assert_int_equal(st.gone, 1);
	assert_string_equal(st.resource_version, "11");
	assert_string_equal(stub_reqline(s, 0, line, sizeof(line)),
			    "GET /api/v1/namespaces/ns/pods?limit=2&labelSelector=app%3Da HTTP/1.1");
	assert_string_equal(stub_reqline(s, 1, line, sizeof(line)),
			    "GET /api/v1/namespaces/ns/pods?limit=2&continue=c1&labelSelector=app%3Da HTTP/1.1");
	assert_string_equal(stub_reqline(s, 2, line, sizeof(line)),
			    "GET /api/v1/namespaces/ns/pods?limit=2&labelSelector=app%3Da HTTP/1.1");
	assert_string_equal(stub_reqline(s, 3, line, sizeof(line)),
			    "GET /api/v1/namespaces/ns/pods?limit=2&continue=c%2F2%3D&labelSelector=app%3Da HTTP/1.1");
	assert_non_null(strstr(stub_reqline(s, 4, line, sizeof(line)), "&resourceVersion=11&"));
	k8s_watch_free(w);
	k8s_client_free(c);
	stub_stop(s);
}

static void test_stub_errors_and_backoff(void **state)
{
	struct k8s_watch_opts o = { .path = "/api/v1/pods", .backoff_base_ms = 400, .backoff_max_ms = 800 };
	struct k8s_client *c;
	struct k8s_watch *w;
	struct k8s_watch_stats st;
	struct stub *s = stub_start();
	struct rec r;
	struct k8s_watch_handler h = handler(&r);
	char line[512];
	uint64_t t0, t1, t_err;

	(void)state;
	stub_status(s, 500, NULL, "InternalError", "etcd down");
	stub_add(s, 200, NULL, LIST("5", "", ""), true, 0);
	stub_status(s, 410, NULL, "Gone", "too old resource version");    /* HTTP 410 on the watch */
	stub_add(s, 200, NULL, LIST("6", "", POD("z", "6")), true, 0);
	stub_status(s, 403, NULL, "Forbidden", "pods is forbidden: User \\\"agent\\\" cannot watch resource \\\"pods\\\"");
	stub_add(s, 200, NULL, EV("ERROR", "{\"kind\":\"Status\",\"code\":500,\"message\":\"internal error\"}"), false, 3000);
	stub_add(s, 200, NULL, "", false, 10000);
	stub_run(s);
	c = stub_client(s, NULL);
	w = k8s_watch_new(c, &o, &h);
	assert_non_null(w);

	t0 = kt_now_ms();
	assert_true(POLL_UNTIL(w, r.nerr >= 1, 3000));
	t_err = kt_now_ms();
	assert_int_equal(r.err[0].err, -EIO);
	assert_int_equal(r.err[0].status, 500);
	assert_string_equal(r.err[0].msg, "etcd down");
	assert_true(POLL_UNTIL(w, stub_nreq(s) >= 2, 3000));
	t1 = kt_now_ms();
	/* backoff after a failure: [base/2, base] */
	assert_true(t1 - t_err >= 150);
	(void)t0;
	assert_true(POLL_UNTIL(w, r.nerr >= 2, 5000));
	assert_int_equal(r.err[1].err, -EACCES);
	assert_int_equal(r.err[1].status, 403);
	assert_string_equal(r.err[1].msg, "pods is forbidden: User \"agent\" cannot watch resource \"pods\"");
	assert_true(POLL_UNTIL(w, r.nerr >= 3, 5000));
	assert_int_equal(r.err[2].err, -EIO);
	assert_int_equal(r.err[2].status, 500);
	assert_string_equal(r.err[2].msg, "internal error");
	assert_true(POLL_UNTIL(w, stub_nreq(s) >= 7, 5000));
	assert_int_equal(k8s_watch_poll(w, 100), 0);
	assert_int_equal(r.begins, 2);
	assert_int_equal(r.ends, 2);
	k8s_watch_get_stats(w, &st);
	assert_int_equal(st.errors, 3);
	assert_int_equal(st.gone, 1);
	assert_int_equal(st.relists, 2);      /* after the 500, after the 410 */
	assert_int_equal(st.reconnects, 2);   /* after the 403, after the ERROR event */
	/* the watches after an error go on from the same resourceVersion */
	assert_non_null(strstr(stub_reqline(s, 2, line, sizeof(line)), "&resourceVersion=5&"));
	assert_non_null(strstr(stub_reqline(s, 4, line, sizeof(line)), "&resourceVersion=6&"));
	assert_non_null(strstr(stub_reqline(s, 5, line, sizeof(line)), "&resourceVersion=6&"));
	assert_non_null(strstr(stub_reqline(s, 6, line, sizeof(line)), "&resourceVersion=6&"));
	k8s_watch_free(w);
	k8s_client_free(c);
	stub_stop(s);
}

static void test_stub_bad_lists(void **state)
{
	struct k8s_watch_opts o = { .path = "/api/v1/pods", .page_limit = 40, .max_list_body = 200,
				    .backoff_base_ms = 20, .backoff_max_ms = 40 };
	struct k8s_client *c;
	struct k8s_watch *w;
	struct k8s_watch_stats st;
	struct stub *s = stub_start();
	struct rec r;
	struct k8s_watch_handler h = handler(&r);
	char line[512];

	(void)state;
	stub_add(s, 200, NULL, "not json at all", true, 0);
	stub_add(s, 200, NULL, "{\"kind\":\"PodList\",\"items\":[]}", true, 0);   /* no resourceVersion */
	stub_add(s, 200, NULL, "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":{}}", true, 0);
	stub_add(s, 200, NULL, LIST("3", "", POD("p1", "1") "," POD("p2", "2")), true, 0);  /* > 200 bytes */
	stub_add(s, 200, NULL, LIST("3", "", "7,\"x\""), true, 0);   /* items that are not objects */
	stub_add(s, 200, NULL, "", false, 10000);
	stub_run(s);
	c = stub_client(s, NULL);
	w = k8s_watch_new(c, &o, &h);
	assert_non_null(w);
	assert_true(POLL_UNTIL(w, stub_nreq(s) >= 6, 5000));
	assert_int_equal(k8s_watch_poll(w, 100), 0);
	assert_int_equal(r.nerr, 4);
	assert_int_equal(r.err[0].err, -EBADMSG);
	assert_int_equal(r.err[1].err, -EBADMSG);
	assert_int_equal(r.err[2].err, -EBADMSG);
	assert_int_equal(r.err[3].err, -EFBIG);
	assert_non_null(strstr(r.err[3].msg, "LIST page larger than 200 bytes (limit 40)"));
	/* the page size is halved after an overflow */
	assert_non_null(strstr(stub_reqline(s, 3, line, sizeof(line)), "?limit=40"));
	assert_non_null(strstr(stub_reqline(s, 4, line, sizeof(line)), "?limit=20"));
	assert_int_equal(r.begins, 1);
	assert_int_equal(r.ends, 1);
	assert_int_equal(r.nev, 0);
	k8s_watch_get_stats(w, &st);
	assert_int_equal(st.malformed, 5);   /* 3 bodies, 2 items */
	assert_true(st.synced);
	k8s_watch_free(w);
	k8s_client_free(c);
	stub_stop(s);
}

static void test_stub_fd_readiness(void **state)
{
	struct k8s_watch_opts o = { .path = "/api/v1/pods" };
	struct k8s_client *c;
	struct k8s_watch *w;
	struct stub *s = stub_start();
	struct rec r;
	struct k8s_watch_handler h = handler(&r);
	struct pollfd pfd;
	uint64_t t0;

	(void)state;
	stub_add(s, 200, NULL, LIST("1", "", ""), true, 0);
	stub_add(s, 200, NULL, EV("ADDED", POD("late", "2")), false, 10000);
	stub_delay_last(s, 400);
	stub_run(s);
	c = stub_client(s, NULL);
	w = k8s_watch_new(c, &o, &h);
	assert_non_null(w);
	assert_true(k8s_watch_fd(w) >= 0);
	/* the first poll is due at once */
	assert_int_equal(k8s_watch_timeout_ms(w), 0);
	/* drive it the way the agent would: wait on the fd, then poll(0) */
	t0 = kt_now_ms();
	while (r.nev == 0 && kt_now_ms() - t0 < 5000) {
		pfd = (struct pollfd){ .fd = k8s_watch_fd(w), .events = POLLIN };
		poll(&pfd, 1, 1000);
		assert_int_equal(k8s_watch_poll(w, 0), 0);
	}
	assert_int_equal(r.nev, 1);
	expect_ev(&r, 0, K8S_EV_ADDED, "late", "2");
	assert_true(kt_now_ms() - t0 >= 400);
	/* nothing due now: a poll with a timeout waits for it, no longer */
	t0 = kt_now_ms();
	assert_int_equal(k8s_watch_poll(w, 150), 0);
	assert_true(kt_now_ms() - t0 >= 140);
	assert_true(kt_now_ms() - t0 < 1000);
	pfd = (struct pollfd){ .fd = k8s_watch_fd(w), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 0);
	k8s_watch_free(w);
	k8s_client_free(c);
	stub_stop(s);
}

/* a stream of valid events, junk (binary, NUL bytes, over-long lines) and
 * events with one random byte changed: every line is an event or counted as
 * malformed, nothing else happens (run under valgrind by k8s-test-valgrind) */
static void test_stub_junk_stream(void **state)
{
	struct k8s_watch_opts o = { .path = "/api/v1/pods", .max_line = 512 };
	struct k8s_client *c;
	struct k8s_watch *w;
	struct k8s_watch_stats st;
	struct stub *s = stub_start();
	struct rec r;
	struct k8s_watch_handler h = handler(&r);
	unsigned seed = 42;
	size_t cap = 1 << 20, len = 0, lines = 0;
	char *stream = malloc(cap);
	int i;

	(void)state;
	assert_non_null(stream);
	for (i = 0; i < 400; i++) {
		char ev[300];
		int n, k, kind;

		seed = seed * 1103515245 + 12345;
		kind = (int)((seed >> 8) % 4);
		n = snprintf(ev, sizeof(ev), EV("MODIFIED", "{\"metadata\":{\"name\":\"p%d\",\"resourceVersion\":\"%d\"}}"),
			     i, 1000 + i);
		n--;   /* without its newline */
		if (kind == 0) {                       /* valid */
			memcpy(stream + len, ev, (size_t)n);
			len += (size_t)n;
		} else if (kind == 1) {                /* one byte changed (never to a newline) */
			seed = seed * 1103515245 + 12345;
			k = (int)((seed >> 8) % (unsigned)n);
			ev[k] = (char)((seed >> 16) & 0xff);
			if (ev[k] == '\n')
				ev[k] = 'x';
			memcpy(stream + len, ev, (size_t)n);
			len += (size_t)n;
		} else {                               /* '#' + binary junk, sometimes over 512 bytes */
			int jl = (int)((seed >> 12) % 900) + 1;

			stream[len++] = '#';
			for (k = 0; k < jl; k++) {
				seed = seed * 1103515245 + 12345;
				stream[len] = (char)((seed >> 16) & 0xff);
				if (stream[len] == '\n')
					stream[len] = 0;
				len++;
			}
		}
		stream[len++] = '\n';
		lines++;
		assert_true(len + 1000 < cap);
	}
	stream[len] = '\0';
	stub_add(s, 200, NULL, LIST("1", "", ""), true, 0);
	/* the stub sends strings: build the response by hand to keep the NULs */
	{
		struct stub_step *stp = &s->steps[s->nsteps++];
		static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";

		stp->raw = malloc(sizeof(hdr) + len);
		assert_non_null(stp->raw);
		memcpy(stp->raw, hdr, sizeof(hdr) - 1);
		memcpy(stp->raw + sizeof(hdr) - 1, stream, len);
		stp->len = sizeof(hdr) - 1 + len;
		stp->hold_ms = 0;
	}
	stub_add(s, 200, NULL, "", false, 10000);
	stub_run(s);
	c = stub_client(s, NULL);
	w = k8s_watch_new(c, &o, &h);
	assert_non_null(w);
	assert_true(POLL_UNTIL(w, stub_nreq(s) >= 3, 5000));
	assert_int_equal(k8s_watch_poll(w, 100), 0);
	k8s_watch_get_stats(w, &st);
	assert_int_equal(st.events + st.malformed, lines);
	assert_true(st.events >= 80 && st.malformed >= 150);
	assert_int_equal(st.events, r.nev);
	assert_int_equal(st.reconnects, 1);
	assert_int_equal(st.relists, 0);
	free(stream);
	k8s_watch_free(w);
	k8s_client_free(c);
	stub_stop(s);
}

/* a 401 re-reads a rotated token file at once, not after 60 s */
static void test_stub_401_rereads_token(void **state)
{
	struct k8s_watch_opts o = { .path = "/api/v1/pods", .backoff_base_ms = 50 };
	char tdir[] = "/tmp/ng-watch-tok.XXXXXX", tf[300], url[64], err[256];
	struct k8s_config *cfg;
	struct k8s_client *c;
	struct k8s_watch *w;
	struct stub *s = stub_start();
	struct rec r;
	struct k8s_watch_handler h = handler(&r);
	const char *t;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tdir));
	snprintf(tf, sizeof(tf), "%s/token", tdir);
	f = fopen(tf, "w");
	fputs("old-token\n", f);
	fclose(f);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", s->port);
	cfg = k8s_config_new(url, err, sizeof(err));
	cfg->token_file = strdup(tf);
	assert_int_equal(k8s_config_token(cfg, false, &t), 0);
	assert_string_equal(t, "old-token");
	f = fopen(tf, "w");
	fputs("new-token\n", f);
	fclose(f);
	stub_status(s, 401, NULL, "Unauthorized", "Unauthorized");
	stub_add(s, 200, NULL, LIST("1", "", ""), true, 0);
	stub_add(s, 200, NULL, "", false, 10000);
	stub_run(s);
	c = k8s_client_new(cfg, NULL);
	w = k8s_watch_new(c, &o, &h);
	assert_true(POLL_UNTIL(w, stub_nreq(s) >= 3, 5000));
	assert_int_equal(r.nerr, 1);
	assert_int_equal(r.err[0].err, -EKEYREJECTED);
	assert_int_equal(r.err[0].status, 401);
	assert_true(stub_req_has(s, 0, "\r\nAuthorization: Bearer old-token\r\n"));
	assert_true(stub_req_has(s, 1, "\r\nAuthorization: Bearer new-token\r\n"));
	assert_true(stub_req_has(s, 2, "\r\nAuthorization: Bearer new-token\r\n"));
	assert_int_equal(r.ends, 1);
	k8s_watch_free(w);
	k8s_client_free(c);
	stub_stop(s);
	unlink(tf);
	rmdir(tdir);
}

static void test_bad_args(void **state)
{
	struct k8s_watch_opts o = { .path = "no-slash" };
	struct k8s_watch_handler h = { 0 };
	struct k8s_client *c;
	struct stub *s = stub_start();

	(void)state;
	c = stub_client(s, NULL);
	assert_null(k8s_watch_new(c, &o, &h));
	assert_int_equal(errno, EINVAL);
	o.path = NULL;
	assert_null(k8s_watch_new(c, &o, &h));
	assert_null(k8s_watch_new(NULL, &o, &h));
	assert_int_equal(k8s_watch_poll(NULL, 0), -EINVAL);
	k8s_watch_free(NULL);
	k8s_client_free(c);
	stub_stop(s);
}

/* ---------------------------------------------------------------- real apiserver */

static void patch_label(struct k8s_client *c, const char *ns, const char *name)
{
	struct k8s_resp resp;
	char path[300];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	kt_expect(k8s_patch(c, path, K8S_PATCH_MERGE, "{\"metadata\":{\"labels\":{\"patched\":\"yes\"}}}", &resp),
		  &resp, 200);
	k8s_resp_free(&resp);
}

static void test_live_list_watch(void **state)
{
	struct k8s_watch_opts o = { 0 };
	struct k8s_client *admin;
	struct k8s_watch *w;
	struct k8s_watch_stats st;
	struct rec r;
	struct k8s_watch_handler h = handler(&r);
	char ns[64], path[128];
	int ia, im, id;
	cJSON *p;

	(void)state;
	KT_NEED_CLUSTER();
	admin = kt_admin();
	kt_ns_create(admin, "ng-watch", ns);
	p = kt_pod_create(admin, ns, "before", "test-node", NULL, NULL, NULL);
	cJSON_Delete(p);
	p = kt_pod_create(admin, ns, "elsewhere", "other-node", NULL, NULL, NULL);
	cJSON_Delete(p);

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	o.path = path;
	o.field_selector = "spec.nodeName=test-node";
	w = k8s_watch_new(admin, &o, &h);
	assert_non_null(w);
	assert_true(POLL_UNTIL(w, r.ends == 1, 5000));
	assert_int_equal(r.begins, 1);
	assert_int_equal(r.nev, 1);
	expect_ev(&r, 0, K8S_EV_ADDED, "before", NULL);
	assert_true(r.ev[0].in_list);
	/* let the WATCH start before changing things */
	assert_true(POLL_UNTIL(w, (k8s_watch_get_stats(w, &st), st.watches == 1), 2000));
	assert_int_equal(k8s_watch_poll(w, 300), 0);

	p = kt_pod_create(admin, ns, "new", "test-node", NULL, NULL, NULL);
	cJSON_Delete(p);
	p = kt_pod_create(admin, ns, "new-elsewhere", "other-node", NULL, NULL, NULL);
	cJSON_Delete(p);
	patch_label(admin, ns, "new");
	patch_label(admin, ns, "new-elsewhere");
	kt_pod_delete(admin, ns, "new");
	kt_pod_delete(admin, ns, "new-elsewhere");
	kt_pod_delete(admin, ns, "elsewhere");

	assert_true(POLL_UNTIL(w, find_ev(&r, 0, K8S_EV_DELETED, "new") >= 0, 5000));
	assert_int_equal(k8s_watch_poll(w, 300), 0);
	ia = find_ev(&r, 1, K8S_EV_ADDED, "new");
	im = find_ev(&r, 1, K8S_EV_MODIFIED, "new");
	id = find_ev(&r, 1, K8S_EV_DELETED, "new");
	assert_true(ia > 0 && im > ia && id > im);
	assert_false(r.ev[ia].in_list);
	/* the label patch, then the deletion marks the pod (deletionTimestamp)
	 * before it goes */
	assert_int_equal(r.nev, 5);
	expect_ev(&r, 1, K8S_EV_ADDED, "new", NULL);
	expect_ev(&r, 2, K8S_EV_MODIFIED, "new", NULL);
	expect_ev(&r, 3, K8S_EV_MODIFIED, "new", NULL);
	expect_ev(&r, 4, K8S_EV_DELETED, "new", NULL);
	assert_false(saw_name(&r, "elsewhere"));
	assert_false(saw_name(&r, "new-elsewhere"));
	assert_int_equal(r.nerr, 0);
	k8s_watch_get_stats(w, &st);
	assert_int_equal(st.events, 4);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.relists, 0);
	assert_string_equal(st.resource_version, r.ev[id].rv);
	k8s_watch_free(w);
	kt_pod_delete(admin, ns, "before");
	k8s_client_free(admin);
}

static void test_live_bookmarks_and_timeout(void **state)
{
	/* the server ends each watch after 3 s; bookmarks carry the
	 * resourceVersion past changes the field selector hides */
	struct k8s_watch_opts o = { .timeout_min_s = 3, .timeout_max_s = 3 };
	struct k8s_client *admin;
	struct k8s_watch *w;
	struct k8s_watch_stats st;
	struct rec r;
	struct k8s_watch_handler h = handler(&r);
	char ns[64], path[128], list_rv[64];
	cJSON *p;

	(void)state;
	KT_NEED_CLUSTER();
	admin = kt_admin();
	kt_ns_create(admin, "ng-bookmark", ns);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	o.path = path;
	o.field_selector = "spec.nodeName=test-node";
	w = k8s_watch_new(admin, &o, &h);
	assert_non_null(w);
	assert_true(POLL_UNTIL(w, (k8s_watch_get_stats(w, &st), st.watches == 1), 5000));
	snprintf(list_rv, sizeof(list_rv), "%s", st.resource_version);
	/* a change the watch does not see */
	p = kt_pod_create(admin, ns, "hidden", "other-node", NULL, NULL, NULL);
	cJSON_Delete(p);
	assert_true(POLL_UNTIL(w, (k8s_watch_get_stats(w, &st), st.bookmarks >= 1), 8000));
	assert_true(strcmp(st.resource_version, list_rv) != 0);
	assert_int_equal(find_ev(&r, 0, K8S_EV_BOOKMARK, ""), 0);
	/* the stream ends at the server's timeout; the watch goes on from the bookmark */
	assert_true(POLL_UNTIL(w, (k8s_watch_get_stats(w, &st), st.reconnects >= 1), 8000));
	assert_int_equal(st.relists, 0);
	assert_int_equal(r.begins, 1);
	assert_int_equal(r.nerr, 0);
	assert_int_equal(k8s_watch_poll(w, 300), 0);
	p = kt_pod_create(admin, ns, "after", "test-node", NULL, NULL, NULL);
	cJSON_Delete(p);
	assert_true(POLL_UNTIL(w, find_ev(&r, 0, K8S_EV_ADDED, "after") >= 0, 5000));
	assert_false(saw_name(&r, "hidden"));
	k8s_watch_get_stats(w, &st);
	assert_int_equal(st.relists, 0);
	assert_int_equal(st.malformed, 0);
	k8s_watch_free(w);
	k8s_client_free(admin);
}

static void test_live_forbidden(void **state)
{
	/* the agent never gets secrets (pods may be granted by other tests) */
	struct k8s_watch_opts o = { .path = "/api/v1/secrets", .backoff_base_ms = 100 };
	struct k8s_client *agent;
	struct k8s_watch *w;
	struct rec r;
	struct k8s_watch_handler h = handler(&r);

	(void)state;
	KT_NEED_CLUSTER();
	agent = kt_agent();
	w = k8s_watch_new(agent, &o, &h);
	assert_true(POLL_UNTIL(w, r.nerr >= 2, 5000));
	assert_int_equal(r.err[0].err, -EACCES);
	assert_int_equal(r.err[0].status, 403);
	assert_string_equal(r.err[0].msg,
			    "secrets is forbidden: User \"agent\" cannot list resource \"secrets\" in API group \"\" at the cluster scope");
	assert_int_equal(r.begins, 0);
	k8s_watch_free(w);
	k8s_client_free(agent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_stub_gone_and_malformed),
		cmocka_unit_test(test_stub_pages_and_expired_continue),
		cmocka_unit_test(test_stub_errors_and_backoff),
		cmocka_unit_test(test_stub_bad_lists),
		cmocka_unit_test(test_stub_fd_readiness),
		cmocka_unit_test(test_stub_junk_stream),
		cmocka_unit_test(test_stub_401_rereads_token),
		cmocka_unit_test(test_live_list_watch),
		cmocka_unit_test(test_live_bookmarks_and_timeout),
		cmocka_unit_test(test_live_forbidden),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("k8s_watch", tests, NULL, NULL);
}
