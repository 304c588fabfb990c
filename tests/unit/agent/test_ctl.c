// SPDX-License-Identifier: Apache-2.0
/*
 * agent/ctl.c: the control socket on a temporary path, served by a thread
 * (or, around fork(), by the main thread). Round trips through the real
 * dispatcher with a fake responder (the responder_* functions below), the
 * server-built "who", malformed and oversize requests, a slow client hitting
 * the 2 s timeout without stalling anyone else, many concurrent clients, a
 * stale socket replaced, a live one kept, file modes, and a non-root peer
 * refused (needs root: skipped loudly otherwise). And the nodeguardctl
 * binary (./nodeguardctl or $NODEGUARDCTL) as the client: help, usage
 * errors, "agent not running", replies and the who it sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_dispatch.h"
#include "incident.h"
#include "respond.h"
#include "unit_helpers.h"

/* ---------------------------------------------------------------- fake responder */

static struct {
	pthread_mutex_t lock;
	int calls;
	char fn[32], action[32], target[80], who[CTL_WHO_MAX];
	int ret;
	char msg[64], inc[48];
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void fake_record(const char *fn, const char *action, const char *target, const char *who)
{
	pthread_mutex_lock(&fake.lock);
	fake.calls++;
	snprintf(fake.fn, sizeof(fake.fn), "%s", fn);
	snprintf(fake.action, sizeof(fake.action), "%s", action ? action : "");
	snprintf(fake.target, sizeof(fake.target), "%s", target);
	snprintf(fake.who, sizeof(fake.who), "%s", who);
	pthread_mutex_unlock(&fake.lock);
}

static void fake_reset(int ret, const char *msg, const char *inc)
{
	pthread_mutex_lock(&fake.lock);
	fake.calls = 0;
	fake.fn[0] = fake.action[0] = fake.target[0] = fake.who[0] = '\0';
	fake.ret = ret;
	snprintf(fake.msg, sizeof(fake.msg), "%s", msg);
	snprintf(fake.inc, sizeof(fake.inc), "%s", inc);
	pthread_mutex_unlock(&fake.lock);
}

int responder_manual(struct responder *r, const char *action, const char *container_id,
		     const char *who, char *incident_out, size_t incn, char *msg, size_t msgn)
{
	fake_record("manual", action, container_id, who);
	snprintf(incident_out, incn, "%s", fake.inc);
	snprintf(msg, msgn, "%s", fake.msg);
	return fake.ret;
}

int responder_release_incident(struct responder *r, const char *incident_id, const char *who,
			       char *msg, size_t msgn)
{
	fake_record("release_incident", NULL, incident_id, who);
	snprintf(msg, msgn, "%s", fake.msg);
	return fake.ret;
}

int responder_release_container(struct responder *r, const char *container_id, const char *who,
				char *msg, size_t msgn)
{
	fake_record("release_container", NULL, container_id, who);
	snprintf(msg, msgn, "%s", fake.msg);
	return fake.ret;
}

long responder_api_pending(struct responder *r)
{
	return r ? 3 : -1;
}

/* ---------------------------------------------------------------- server thread */

struct srv {
	char dir[64], path[128];
	struct ctl_server *s;
	pthread_t th;
	atomic_bool stop;
	bool threaded;
	ctl_handler_fn fn;
	void *ctx;
	struct ctl_dispatch_ctx dctx;
	struct incmgr *im;
};

static int echo_handler(const cJSON *req, const char *who, struct jsonw *reply, void *ctx)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");

	(void)ctx;
	jsonw_obj_open(reply);
	jsonw_kv_bool(reply, "ok", true);
	jsonw_kv_str(reply, "message", who);
	jsonw_kv_str(reply, "cmd", cJSON_IsString(cmd) ? cmd->valuestring : "");
	jsonw_obj_close(reply);
	return 0;
}

static int failing_handler(const cJSON *req, const char *who, struct jsonw *reply, void *ctx)
{
	(void)req;
	(void)who;
	(void)reply;
	(void)ctx;
	return -EIO;
}

static void *srv_loop(void *arg)
{
	struct srv *v = arg;

	while (!atomic_load(&v->stop)) {
		struct pollfd p = { .fd = ctl_server_fd(v->s), .events = POLLIN };

		poll(&p, 1, 20);
		ctl_server_poll(v->s, v->fn, v->ctx);
	}
	return NULL;
}

static void make_dir(struct srv *v)
{
	snprintf(v->dir, sizeof(v->dir), "/tmp/ng-ctl-XXXXXX");
	assert_non_null(mkdtemp(v->dir));
	snprintf(v->path, sizeof(v->path), "%s/run/nodeguard.sock", v->dir);
}

static void srv_start(struct srv *v, ctl_handler_fn fn, void *ctx, bool threaded)
{
	char err[256];

	v->fn = fn;
	v->ctx = ctx;
	v->s = ctl_server_open(v->path, err, sizeof(err));
	if (!v->s)
		fail_msg("ctl_server_open: %s", err);
	atomic_store(&v->stop, false);
	v->threaded = threaded;
	if (threaded)
		assert_int_equal(pthread_create(&v->th, NULL, srv_loop, v), 0);
}

static void srv_stop(struct srv *v)
{
	if (v->threaded) {
		atomic_store(&v->stop, true);
		pthread_join(v->th, NULL);
		v->threaded = false;
	}
	ctl_server_close(v->s);
	v->s = NULL;
}

static void rm_dir(struct srv *v)
{
	char p[160];

	unlink(v->path);
	snprintf(p, sizeof(p), "%s/run", v->dir);
	rmdir(p);
	rmdir(v->dir);
}

static int setup(void **state)
{
	struct srv *v = calloc(1, sizeof(*v));
	struct incident_mgr_opts io = { .node = "test-node", .window_s = 600 };

	if (!v)
		return -1;
	make_dir(v);
	v->im = incident_mgr_new(&io);
	v->dctx.r = (struct responder *)v; /* never dereferenced: the responder is fake */
	v->dctx.im = v->im;
	*state = v;
	return 0;
}

static int teardown(void **state)
{
	struct srv *v = *state;

	if (v->s)
		srv_stop(v);
	rm_dir(v);
	incident_mgr_free(v->im);
	free(v);
	return 0;
}

/* ---------------------------------------------------------------- client helpers */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* send a request and parse the reply; asserts the transport worked */
static cJSON *request(const char *path, const char *line)
{
	char reply[4096];
	cJSON *j;
	int err = ctl_request(path, line, reply, sizeof(reply), 5000);

	if (err)
		fail_msg("ctl_request(%s): %s", line, strerror(-err));
	j = cJSON_Parse(reply);
	if (!j || !cJSON_IsObject(j))
		fail_msg("reply is not a JSON object: %s", reply);
	assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "ok")));
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "message")));
	return j;
}

static bool reply_ok(const cJSON *j)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"));
}

static const char *reply_str(const cJSON *j, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, key);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static void expect_error(const char *path, const char *line, const char *needle)
{
	cJSON *j = request(path, line);

	if (reply_ok(j) || !strstr(reply_str(j, "message"), needle))
		fail_msg("request %s: want an error with '%s', got %s", line, needle,
			 reply_str(j, "message"));
	cJSON_Delete(j);
}

/* a raw connection, for what ctl_request will not send */
static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t r = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return; /* the server answered and closed early */
		off += (size_t)r;
	}
}

/* read the reply line (up to EOF); returns the parsed object */
static cJSON *raw_reply(int fd, int timeout_ms)
{
	char buf[4096];
	size_t got = 0;
	cJSON *j;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		assert_true(poll(&p, 1, timeout_ms) > 0);
		r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		assert_true(got < sizeof(buf) - 1);
	}
	buf[got] = '\0';
	assert_true(got > 0 && buf[got - 1] == '\n');
	assert_null(memchr(buf, '\n', got - 1)); /* exactly one line */
	j = cJSON_Parse(buf);
	assert_non_null(j);
	return j;
}

static void expect_status_ok(const char *path)
{
	cJSON *j = request(path, "{\"v\":1,\"cmd\":\"status\"}");

	assert_true(reply_ok(j));
	cJSON_Delete(j);
}

/* ---------------------------------------------------------------- tests */

/* our comm as the server reads it (test_ctl, or valgrind's) */
static const char *self_comm(void)
{
	static char comm[32];
	FILE *f = fopen("/proc/self/comm", "r");

	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return comm;
}

static void test_roundtrip_dispatch(void **state)
{
	struct srv *v = *state;
	char want[CTL_WHO_MAX];
	const cJSON *pid;
	cJSON *j;

	srv_start(v, ctl_dispatch_handler, &v->dctx, true);

	j = request(v->path, "{\"v\":1,\"cmd\":\"status\"}");
	assert_true(reply_ok(j));
	pid = cJSON_GetObjectItemCaseSensitive(j, "pid");
	assert_true(cJSON_IsNumber(pid));
	assert_int_equal((int)pid->valuedouble, getpid());
	assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "open")));
	assert_non_null(strstr(reply_str(j, "message"), "running"));
	/* the fake responder's queue holds 3 */
	assert_non_null(strstr(reply_str(j, "message"), "3 Kubernetes actions waiting"));
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "api_actions_waiting")->valueint, 3);
	cJSON_Delete(j);

	/* isolate: the responder gets the action, the id and a who built from
	 * the peer's credentials with the claim after it */
	fake_reset(0, "isolated container 0123456789ab", "ng-20260101-000000-0badf00d");
	j = request(v->path, "{\"v\":1,\"cmd\":\"isolate\",\"container\":\"0123456789ab\","
			     "\"who\":\"alice\"}");
	assert_true(reply_ok(j));
	assert_string_equal(reply_str(j, "incident"), "ng-20260101-000000-0badf00d");
	assert_string_equal(reply_str(j, "message"), "isolated container 0123456789ab");
	cJSON_Delete(j);
	assert_int_equal(fake.calls, 1);
	assert_string_equal(fake.fn, "manual");
	assert_string_equal(fake.action, "isolate");
	assert_string_equal(fake.target, "0123456789ab");
	snprintf(want, sizeof(want), "uid %u pid %d (%s), claims \"alice\"", geteuid(), getpid(),
		 self_comm());
	assert_string_equal(fake.who, want);

	/* a claim that pretends to be the server's text stays a quoted claim */
	fake_reset(0, "frozen", "ng-x");
	j = request(v->path, "{\"v\":1,\"cmd\":\"freeze\",\"container\":\"0123456789abcdef\","
			     "\"who\":\"uid 0 pid 1 (init)\\\"\\n\\u001b[2J\"}");
	assert_true(reply_ok(j));
	cJSON_Delete(j);
	snprintf(want, sizeof(want), "uid %u pid %d (%s), claims \"uid 0 pid 1 (init)???[2J\"",
		 geteuid(), getpid(), self_comm());
	assert_string_equal(fake.who, want);
	assert_string_equal(fake.action, "freeze");

	/* no claim */
	fake_reset(-EPERM, "refused: namespace kube-system is protected", "");
	j = request(v->path, "{\"v\":1,\"cmd\":\"kill-container\",\"container\":\"0123456789ab\"}");
	assert_false(reply_ok(j));
	assert_null(reply_str(j, "incident"));
	assert_string_equal(reply_str(j, "message"), "refused: namespace kube-system is protected");
	cJSON_Delete(j);
	snprintf(want, sizeof(want), "uid %u pid %d (%s)", geteuid(), getpid(), self_comm());
	assert_string_equal(fake.who, want);
	assert_string_equal(fake.action, "kill-container");

	/* an error without a message gets strerror */
	fake_reset(-ENOENT, "", "");
	j = request(v->path, "{\"v\":1,\"cmd\":\"isolate\",\"container\":\"0123456789ab\"}");
	assert_false(reply_ok(j));
	assert_string_equal(reply_str(j, "message"), strerror(ENOENT));
	cJSON_Delete(j);

	/* release by incident and by container */
	fake_reset(0, "released", "");
	j = request(v->path, "{\"v\":1,\"cmd\":\"release\",\"incident\":\"ng-20260101\",\"who\":\"bob\"}");
	assert_true(reply_ok(j));
	assert_string_equal(reply_str(j, "incident"), "ng-20260101");
	cJSON_Delete(j);
	assert_string_equal(fake.fn, "release_incident");
	assert_string_equal(fake.target, "ng-20260101");
	assert_non_null(strstr(fake.who, "claims \"bob\""));

	fake_reset(0, "released 2 incidents", "");
	j = request(v->path, "{\"v\":1,\"cmd\":\"release\",\"container\":\"abcdef0123456789\"}");
	assert_true(reply_ok(j));
	assert_string_equal(reply_str(j, "message"), "released 2 incidents");
	cJSON_Delete(j);
	assert_string_equal(fake.fn, "release_container");
	assert_string_equal(fake.target, "abcdef0123456789");

	/* requests the dispatcher refuses never reach the responder */
	fake_reset(0, "", "");
	expect_error(v->path, "{\"v\":1,\"cmd\":\"release\"}", "either");
	expect_error(v->path,
		     "{\"v\":1,\"cmd\":\"release\",\"incident\":\"ng-1\",\"container\":\"0123456789ab\"}",
		     "either");
	expect_error(v->path, "{\"v\":1,\"cmd\":\"isolate\"}", "needs \"container\"");
	expect_error(v->path, "{\"v\":1,\"cmd\":\"isolate\",\"incident\":\"ng-1\"}", "needs");
	expect_error(v->path, "{\"v\":1,\"cmd\":\"isolate\",\"container\":\"0123456789a\"}", "hex");
	expect_error(v->path, "{\"v\":1,\"cmd\":\"isolate\",\"container\":\"0123456789aZ\"}", "hex");
	expect_error(v->path, "{\"v\":1,\"cmd\":\"isolate\",\"container\":\"../../../etc/passwd\"}",
		     "hex");
	expect_error(v->path, "{\"v\":1,\"cmd\":\"release\",\"incident\":\"../x y\"}",
		     "not an incident id");
	expect_error(v->path, "{\"v\":1,\"cmd\":\"isolate\",\"container\":123456789012}",
		     "must be strings");
	expect_error(v->path, "{\"v\":1,\"cmd\":\"reboot\"}", "unknown");
	expect_error(v->path, "{\"v\":1}", "missing \"cmd\"");
	assert_int_equal(fake.calls, 0);

	/* without a responder: said, not crashed */
	v->dctx.r = NULL;
	expect_error(v->path, "{\"v\":1,\"cmd\":\"isolate\",\"container\":\"0123456789ab\"}",
		     "without a responder");
	j = request(v->path, "{\"v\":1,\"cmd\":\"status\"}");
	assert_true(reply_ok(j));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "responder")));
	cJSON_Delete(j);
	assert_int_equal(fake.calls, 0);
	srv_stop(v);
}

static void test_handler_failure(void **state)
{
	struct srv *v = *state;

	srv_start(v, failing_handler, NULL, true);
	expect_error(v->path, "{\"v\":1,\"cmd\":\"status\"}", strerror(EIO));
	srv_stop(v);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"not json",
		"[1,2,3]",
		"\"a string\"",
		"{\"v\":2,\"cmd\":\"status\"}",
		"{\"cmd\":\"status\"}",
		"{\"v\":\"1\",\"cmd\":\"status\"}",
		"{\"v\":1,\"cmd\":\"status\"} {\"v\":1}",
		"{\"v\":1,\"cmd\":\"status\"",
		"{\"v\":1,\"cmd\":\"status\",\"who\":7}",
		"{\"v\":1,\"cmd\":\"status\",\"who\":\"\\ud800\"}",
		"\xff\xfe{}",
	};
	struct srv *v = *state;
	struct ctl_server_stats st;
	char deep[40001];
	size_t i;
	cJSON *j;
	int fd;

	srv_start(v, ctl_dispatch_handler, &v->dctx, true);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = request(v->path, bad[i]);
		/* the lone surrogate is cJSON's to judge; everything else is refused */
		if (i != 9 && reply_ok(j))
			fail_msg("accepted malformed request %s", bad[i]);
		cJSON_Delete(j);
	}
	/* nesting far beyond cJSON's limit */
	memset(deep, '[', 20000);
	memset(deep + 20000, ']', 20000);
	deep[40000] = '\0';
	expect_error(v->path, deep, "malformed");

	/* a NUL byte inside the line */
	fd = raw_connect(v->path);
	raw_send(fd, "{\"v\":1,\"cmd\":\0\"status\"}\n", 24);
	j = raw_reply(fd, 5000);
	assert_false(reply_ok(j));
	assert_non_null(strstr(reply_str(j, "message"), "NUL"));
	cJSON_Delete(j);
	close(fd);

	/* the request may end with EOF instead of a newline */
	fd = raw_connect(v->path);
	raw_send(fd, "{\"v\":1,\"cmd\":\"status\"}", 22);
	shutdown(fd, SHUT_WR);
	j = raw_reply(fd, 5000);
	assert_true(reply_ok(j));
	cJSON_Delete(j);
	close(fd);

	/* connect and hang up at once: nothing to answer, nothing breaks */
	for (i = 0; i < 20; i++)
		close(raw_connect(v->path));

	expect_status_ok(v->path);
	srv_stop(v);
	(void)st;
}

static void test_oversize(void **state)
{
	struct srv *v = *state;
	const size_t big = CTL_MAX_REQUEST + 4096;
	struct ctl_server_stats st;
	char *buf = malloc(big + 1);
	const char *head = "{\"v\":1,\"cmd\":\"status\",\"pad\":\"";
	size_t hl = strlen(head);
	char reply[256];
	cJSON *j;
	int fd;

	assert_non_null(buf);
	srv_start(v, ctl_dispatch_handler, &v->dctx, true);

	/* exactly the bound: served */
	memcpy(buf, head, hl);
	memset(buf + hl, 'a', CTL_MAX_REQUEST - hl - 2);
	memcpy(buf + CTL_MAX_REQUEST - 2, "\"}", 3);
	assert_int_equal(strlen(buf), CTL_MAX_REQUEST);
	j = request(v->path, buf);
	assert_true(reply_ok(j));
	cJSON_Delete(j);

	/* one byte more: the client library refuses to send it ... */
	memcpy(buf + CTL_MAX_REQUEST - 2, "a\"}", 4);
	assert_int_equal(ctl_request(v->path, buf, reply, sizeof(reply), 2000), -EINVAL);
	/* ... and the server answers it with an error */
	buf[CTL_MAX_REQUEST + 1] = '\n';
	fd = raw_connect(v->path);
	raw_send(fd, buf, CTL_MAX_REQUEST + 2);
	j = raw_reply(fd, 5000);
	assert_false(reply_ok(j));
	assert_non_null(strstr(reply_str(j, "message"), "too long"));
	cJSON_Delete(j);
	close(fd);

	/* far more, no newline at all, the client still writing */
	memset(buf, 'x', big);
	fd = raw_connect(v->path);
	raw_send(fd, buf, big);
	j = raw_reply(fd, 5000);
	assert_false(reply_ok(j));
	assert_non_null(strstr(reply_str(j, "message"), "too long"));
	cJSON_Delete(j);
	close(fd);

	expect_status_ok(v->path);
	srv_stop(v);
	free(buf);
	(void)st;
}

static void test_slow_client(void **state)
{
	struct srv *v = *state;
	struct ctl_server_stats st;
	uint64_t t0, t;
	int slow, silent;
	cJSON *j;

	srv_start(v, ctl_dispatch_handler, &v->dctx, true);
	t0 = now_ms();
	slow = raw_connect(v->path);
	raw_send(slow, "{\"v\":1,", 7);
	silent = raw_connect(v->path);

	/* others are served meanwhile, at once */
	expect_status_ok(v->path);
	t = now_ms();
	assert_true(t - t0 < 1000);

	j = raw_reply(slow, 5000);
	t = now_ms() - t0;
	assert_false(reply_ok(j));
	assert_non_null(strstr(reply_str(j, "message"), "timed out"));
	cJSON_Delete(j);
	if (t < 1900 || t > 4000)
		fail_msg("the slow client was answered after %llu ms, want about 2000",
			 (unsigned long long)t);
	j = raw_reply(silent, 5000);
	assert_false(reply_ok(j));
	cJSON_Delete(j);
	close(slow);
	close(silent);

	/* a client-side timeout is reported as such */
	atomic_store(&v->stop, true);
	pthread_join(v->th, NULL);
	v->threaded = false;
	{
		char reply[256];

		assert_int_equal(ctl_request(v->path, "{\"v\":1,\"cmd\":\"status\"}", reply,
					     sizeof(reply), 200),
				 -ETIMEDOUT);
	}
	ctl_server_get_stats(v->s, &st);
	assert_true(st.timeouts >= 2);
	srv_stop(v);
}

#define NCLIENTS 100
#define NSLOW 8

struct client_arg {
	const char *path;
	int n;
	int ok;
};

static void *client_thread(void *p)
{
	struct client_arg *a = p;
	char line[128], reply[512], want[64];
	int err;

	snprintf(line, sizeof(line), "{\"v\":1,\"cmd\":\"status\",\"who\":\"client-%d\"}", a->n);
	snprintf(want, sizeof(want), "claims \\\"client-%d\\\"", a->n);
	err = ctl_request(a->path, line, reply, sizeof(reply), 10000);
	a->ok = !err && strstr(reply, "\"ok\":true") && strstr(reply, want);
	return NULL;
}

static void test_concurrent(void **state)
{
	struct srv *v = *state;
	struct client_arg args[NCLIENTS];
	pthread_t th[NCLIENTS];
	struct ctl_server_stats st;
	int slow[NSLOW], i;

	srv_start(v, echo_handler, NULL, true);
	/* a few slow clients hold connections the whole time */
	for (i = 0; i < NSLOW; i++) {
		slow[i] = raw_connect(v->path);
		raw_send(slow[i], "{", 1);
	}
	for (i = 0; i < NCLIENTS; i++) {
		args[i] = (struct client_arg){ .path = v->path, .n = i };
		assert_int_equal(pthread_create(&th[i], NULL, client_thread, &args[i]), 0);
	}
	for (i = 0; i < NCLIENTS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NCLIENTS; i++)
		if (!args[i].ok)
			fail_msg("client %d was not answered correctly", i);
	for (i = 0; i < NSLOW; i++) {
		cJSON *j = raw_reply(slow[i], 5000);

		assert_false(reply_ok(j));
		cJSON_Delete(j);
		close(slow[i]);
	}
	expect_status_ok(v->path);
	ctl_server_get_stats(v->s, &st);
	assert_int_equal(st.answered, NCLIENTS + 1);
	assert_int_equal(st.timeouts, NSLOW);
	srv_stop(v);
}

static void test_stale_and_live_socket(void **state)
{
	struct srv *v = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server *second;
	char rundir[160], err[256], reply[128];
	struct stat st;
	int fd;

	/* no socket at all */
	assert_int_equal(ctl_request(v->path, "{\"v\":1,\"cmd\":\"status\"}", reply, sizeof(reply),
				     1000),
			 -ENOENT);

	/* a socket file nobody listens on (an agent killed with -9) */
	snprintf(rundir, sizeof(rundir), "%s/run", v->dir);
	assert_int_equal(mkdir(rundir, 0700), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", v->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(lstat(v->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(ctl_request(v->path, "{\"v\":1,\"cmd\":\"status\"}", reply, sizeof(reply),
				     1000),
			 -ECONNREFUSED);

	srv_start(v, ctl_dispatch_handler, &v->dctx, true);
	expect_status_ok(v->path);

	/* a live one is not taken over */
	errno = 0;
	second = ctl_server_open(v->path, err, sizeof(err));
	assert_null(second);
	assert_int_equal(errno, EADDRINUSE);
	assert_non_null(strstr(err, "answers"));
	expect_status_ok(v->path);
	srv_stop(v);

	/* closing unlinks */
	assert_int_equal(lstat(v->path, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* something else at the path is never removed */
	fd = open(v->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	errno = 0;
	second = ctl_server_open(v->path, err, sizeof(err));
	assert_null(second);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(lstat(v->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(v->path);

	/* bad paths */
	second = ctl_server_open("relative.sock", err, sizeof(err));
	assert_null(second);
	assert_int_equal(errno, EINVAL);
	second = ctl_server_open("/x.sock", err, sizeof(err));
	assert_null(second);
	{
		char lng[200];

		memset(lng, 'a', sizeof(lng) - 1);
		lng[0] = '/';
		lng[sizeof(lng) - 1] = '\0';
		second = ctl_server_open(lng, err, sizeof(err));
		assert_null(second);
		assert_int_equal(errno, ENAMETOOLONG);
	}
}

static void test_modes(void **state)
{
	struct srv *v = *state;
	char rundir[160], err[256], link[160];
	struct ctl_server *s;
	struct stat st;

	/* a pre-existing directory that is too open gets tightened */
	snprintf(rundir, sizeof(rundir), "%s/run", v->dir);
	assert_int_equal(mkdir(rundir, 0755), 0);
	assert_int_equal(chmod(rundir, 0755), 0);
	srv_start(v, ctl_dispatch_handler, &v->dctx, false);
	assert_int_equal(lstat(v->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(lstat(rundir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, geteuid());
	srv_stop(v);

	/* a fresh directory is created 0700, whatever the umask */
	assert_int_equal(rmdir(rundir), 0);
	{
		mode_t old = umask(0);

		srv_start(v, ctl_dispatch_handler, &v->dctx, false);
		umask(old);
	}
	assert_int_equal(lstat(rundir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(v->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	srv_stop(v);

	/* a shared directory (something else in it: NODEGUARD_SOCKET in /run or
	 * /tmp) keeps its mode; one others may write to without the sticky bit
	 * is refused */
	{
		char other[200];
		int fd;

		snprintf(other, sizeof(other), "%s/other-file", rundir);
		fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(chmod(rundir, 0755), 0);
		srv_start(v, ctl_dispatch_handler, &v->dctx, false);
		assert_int_equal(lstat(rundir, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
		srv_stop(v);
		assert_int_equal(chmod(rundir, 01777), 0);
		srv_start(v, ctl_dispatch_handler, &v->dctx, false);
		assert_int_equal(lstat(rundir, &st), 0);
		assert_int_equal(st.st_mode & 07777, 01777);
		srv_stop(v);
		assert_int_equal(chmod(rundir, 0777), 0);
		s = ctl_server_open(v->path, err, sizeof(err));
		assert_null(s);
		assert_non_null(strstr(err, "others may write to it"));
		assert_int_equal(chmod(rundir, 0700), 0);
		assert_int_equal(unlink(other), 0);
	}

	/* the directory may not be a symlink */
	assert_int_equal(rmdir(rundir), 0);
	snprintf(link, sizeof(link), "%s/elsewhere", v->dir);
	assert_int_equal(mkdir(link, 0700), 0);
	assert_int_equal(symlink(link, rundir), 0);
	s = ctl_server_open(v->path, err, sizeof(err));
	assert_null(s);
	assert_non_null(strstr(err, "symlink"));
	unlink(rundir);
	rmdir(link);
}

/* in a forked child: drop to nobody, make one request, report through the
 * exit status (0: the expected outcome) */
static int child_request(const char *path, bool expect_eacces)
{
	char reply[512];
	int err;

	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		return 10;
	err = ctl_request(path, "{\"v\":1,\"cmd\":\"status\",\"who\":\"root\"}", reply, sizeof(reply),
			  4000);
	if (expect_eacces)
		return err == -EACCES ? 0 : 11;
	if (err) {
		fprintf(stderr, "child: ctl_request: %d %s\n", err, strerror(-err));
		return 12;
	}
	return strstr(reply, "\"ok\":false") && strstr(reply, "permission denied") ? 0 : 13;
}

static int run_child(struct srv *v, bool expect_eacces)
{
	uint64_t t0 = now_ms();
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_request(v->path, expect_eacces));
	/* single-threaded here: serve from this thread until the child is done */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() - t0 > 10000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("the unprivileged child did not finish");
		}
		ctl_server_poll(v->s, ctl_dispatch_handler, &v->dctx);
		poll(NULL, 0, 5);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_nonroot_refused(void **state)
{
	struct srv *v = *state;
	struct ctl_server_stats st;
	char rundir[160];

	if (geteuid() != 0) {
		fprintf(stderr, "\n*** SKIPPED test_nonroot_refused: not root, cannot setuid() to a "
				"non-root peer. Run 'sudo make unit' to cover the SO_PEERCRED check. ***\n\n");
		skip();
	}
	srv_start(v, ctl_dispatch_handler, &v->dctx, false);
	/* the file modes keep nobody out ... */
	assert_int_equal(run_child(v, true), 0);
	/* ... and with them opened up, SO_PEERCRED still does */
	snprintf(rundir, sizeof(rundir), "%s/run", v->dir);
	assert_int_equal(chmod(v->dir, 0711), 0);
	assert_int_equal(chmod(rundir, 0711), 0);
	assert_int_equal(chmod(v->path, 0666), 0);
	fake_reset(0, "", "");
	assert_int_equal(run_child(v, false), 0);
	assert_int_equal(fake.calls, 0);
	ctl_server_get_stats(v->s, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.answered, 0);
	/* root still served afterwards */
	{
		char reply[256];
		int err;

		/* serve from a thread for this one */
		assert_int_equal(pthread_create(&v->th, NULL, srv_loop, v), 0);
		v->threaded = true;
		err = ctl_request(v->path, "{\"v\":1,\"cmd\":\"status\"}", reply, sizeof(reply), 3000);
		assert_int_equal(err, 0);
		assert_non_null(strstr(reply, "\"ok\":true"));
	}
	srv_stop(v);
}

static void test_who_and_ids(void **state)
{
	char buf[CTL_WHO_MAX], claim[200];

	(void)state;
	ctl_who_format(buf, sizeof(buf), 0, 1234, "nodeguardctl", NULL);
	assert_string_equal(buf, "uid 0 pid 1234 (nodeguardctl)");
	ctl_who_format(buf, sizeof(buf), 0, 1234, "nodeguardctl", "");
	assert_string_equal(buf, "uid 0 pid 1234 (nodeguardctl)");
	ctl_who_format(buf, sizeof(buf), 0, 1234, "a\"b\\c\n", "x\xc3\xa9y");
	assert_string_equal(buf, "uid 0 pid 1234 (a?b?c?), claims \"x??y\"");
	memset(claim, 'z', sizeof(claim) - 1);
	claim[sizeof(claim) - 1] = '\0';
	ctl_who_format(buf, sizeof(buf), 0, 1, NULL, claim);
	assert_int_equal(strlen(buf), strlen("uid 0 pid 1 (?), claims \"\"") + CTL_CLAIM_MAX);

	assert_true(ctl_valid_container_id("0123456789ab"));
	assert_true(ctl_valid_container_id(
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(ctl_valid_container_id(
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"));
	assert_false(ctl_valid_container_id("0123456789a"));
	assert_false(ctl_valid_container_id("0123456789AB"));
	assert_false(ctl_valid_container_id(""));
	assert_false(ctl_valid_container_id(NULL));
	assert_true(ctl_valid_incident_id("ng-20260101-000000-0badf00d"));
	assert_true(ctl_valid_incident_id("ng-"));
	assert_false(ctl_valid_incident_id(""));
	assert_false(ctl_valid_incident_id("ng/../x"));
	assert_false(ctl_valid_incident_id("ng x"));
}

/* ---------------------------------------------------------------- nodeguardctl */

struct run {
	int rc;
	char out[8192], err[8192];
};

static void slurp_into(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t got;

	assert_non_null(f);
	got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
	unlink(path);
}

extern char **environ;

/* ./nodeguardctl (or $NODEGUARDCTL) with argv, SUDO_USER=carol, while the
 * server thread (if any) answers */
static struct run run_ctl(struct srv *v, ...)
{
	const char *bin = getenv("NODEGUARDCTL") ? getenv("NODEGUARDCTL") : "./nodeguardctl";
	const char *argv[32], *envp[256];
	char out[160], err[160];
	struct run r = { 0 };
	va_list ap;
	int n = 0, ne = 0, st;
	char **e;
	pid_t pid;

	/* the environment is built before fork(): the child of a threaded
	 * process only opens, dups and execs */
	for (e = environ; *e && ne < 250; e++)
		if (strncmp(*e, "NODEGUARD_", 10) && strncmp(*e, "SUDO_USER=", 10))
			envp[ne++] = *e;
	envp[ne++] = "SUDO_USER=carol";
	envp[ne] = NULL;
	argv[n++] = bin;
	va_start(ap, v);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/out", v->dir);
	snprintf(err, sizeof(err), "%s/err", v->dir);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int er = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || er < 0 || dup2(o, 1) < 0 || dup2(er, 2) < 0)
			_exit(127);
		execve(bin, (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	r.rc = WEXITSTATUS(st);
	if (r.rc == 127)
		fail_msg("could not run %s (build it: make nodeguardctl)", bin);
	slurp_into(out, r.out, sizeof(r.out));
	slurp_into(err, r.err, sizeof(r.err));
	return r;
}

static void expect_run(const struct run *r, int rc, const char *out, const char *err)
{
	if (r->rc != rc || (out && !strstr(r->out, out)) || (err && !strstr(r->err, err)))
		fail_msg("nodeguardctl: rc %d (want %d)\nstdout: %s\nstderr: %s\nwant out '%s' err '%s'",
			 r->rc, rc, r->out, r->err, out ? out : "", err ? err : "");
}

static void test_nodeguardctl_cli(void **state)
{
	static const char *const documented[] = {
		"isolate --container ID", "freeze --container ID", "kill-container --container ID",
		"release INCIDENT", "release --container ID", "status", "--socket PATH",
		CTL_DEFAULT_PATH, "12 hex digits", "agent down", "nodeguard uninstall", "list",
		"show ID", "report ID",
	};
	struct srv *v = *state;
	char missing[160], want[CTL_WHO_MAX];
	struct run r;
	size_t i;

	r = run_ctl(v, "--help", NULL);
	expect_run(&r, 0, "Usage: nodeguardctl", NULL);
	for (i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
		if (!strstr(r.out, documented[i]))
			fail_msg("--help does not mention '%s'", documented[i]);

	/* usage errors: 2, with a clear word, before any socket is tried */
	r = run_ctl(v, "isolate", NULL);
	expect_run(&r, 2, NULL, "--container ID");
	r = run_ctl(v, "isolate", "--container", "XYZ123456789", NULL);
	expect_run(&r, 2, NULL, "hex digits");
	r = run_ctl(v, "freeze", "--container", "0123456789A", NULL);
	expect_run(&r, 2, NULL, "hex digits");
	r = run_ctl(v, "kill-container", "--container", "0123", NULL);
	expect_run(&r, 2, NULL, "at least 12");
	r = run_ctl(v, "isolate", "--container", "0123456789ab", "extra", NULL);
	expect_run(&r, 2, NULL, "unexpected argument");
	r = run_ctl(v, "release", NULL);
	expect_run(&r, 2, NULL, "incident ID or --container");
	r = run_ctl(v, "release", "ng-1", "--container", "0123456789ab", NULL);
	expect_run(&r, 2, NULL, "one of them");
	r = run_ctl(v, "release", "ng/../1", NULL);
	expect_run(&r, 2, NULL, "not an incident ID");
	r = run_ctl(v, "list", "--container", "0123456789ab", NULL);
	expect_run(&r, 2, NULL, "--container");
	r = run_ctl(v, "status", "--dir", "/tmp", NULL);
	expect_run(&r, 2, NULL, "--dir");

	/* the agent is down */
	snprintf(missing, sizeof(missing), "%s/nothing/here.sock", v->dir);
	r = run_ctl(v, "isolate", "--container", "0123456789ab", "--socket", missing, NULL);
	expect_run(&r, 1, NULL,
		   "the agent is not running; start it to act through the guarded path");
	r = run_ctl(v, "status", "--socket", missing, NULL);
	expect_run(&r, 1, NULL, "not running");

	/* the agent answers */
	srv_start(v, ctl_dispatch_handler, &v->dctx, true);
	fake_reset(0, "isolated container 0123456789ab", "ng-20260101-000000-0badf00d");
	r = run_ctl(v, "isolate", "--socket", v->path, "--container", "0123456789ab", NULL);
	expect_run(&r, 0, "isolated container 0123456789ab (incident ng-20260101-000000-0badf00d)",
		   NULL);
	assert_string_equal(fake.fn, "manual");
	assert_string_equal(fake.action, "isolate");
	assert_string_equal(fake.target, "0123456789ab");
	/* the agent saw the real client, whose claim is only a claim */
	assert_true(!strncmp(fake.who, "uid ", 4));
	assert_non_null(strstr(fake.who, " (nodeguardctl), claims \"carol\""));

	fake_reset(-EPERM, "refused: protected namespace kube-system", "ng-x");
	r = run_ctl(v, "kill-container", "--container", "0123456789abcdef", "--socket", v->path, NULL);
	expect_run(&r, 1, NULL, "refused: protected namespace kube-system");
	assert_string_equal(fake.action, "kill-container");

	fake_reset(0, "incident ng-1: 1 action released, 0 failed; status released", "");
	r = run_ctl(v, "release", "ng-1", "--socket", v->path, NULL);
	expect_run(&r, 0, "1 action released", NULL);
	assert_string_equal(fake.fn, "release_incident");
	assert_string_equal(fake.target, "ng-1");

	fake_reset(0, "container 0123456789ab: 2 actions released", "");
	r = run_ctl(v, "release", "--container", "0123456789ab", "--socket", v->path, NULL);
	expect_run(&r, 0, "2 actions released", NULL);
	assert_string_equal(fake.fn, "release_container");

	r = run_ctl(v, "status", "--socket", v->path, NULL);
	expect_run(&r, 0, "running", NULL);
	srv_stop(v);

	/* release with the agent down and no journal: said, not guessed */
	snprintf(want, sizeof(want), "%s/nojournal", v->dir);
	r = run_ctl(v, "release", "ng-1", "--socket", missing, "--dir", want, NULL);
	expect_run(&r, 1, NULL, geteuid() == 0 ? "no journal directory" : "needs root");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_who_and_ids),
		cmocka_unit_test_setup_teardown(test_roundtrip_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_live_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonroot_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodeguardctl_cli, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
