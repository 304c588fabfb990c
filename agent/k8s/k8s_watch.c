// SPDX-License-Identifier: Apache-2.0
/*
 * List-then-watch on a curl multi handle. curl's sockets and timer, and our
 * own backoff timer (a timerfd), all sit in one epoll fd, so the agent can
 * wait on it with everything else and never blocks in here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errptr.h"
#include "growbuf.h"
#include "jsonget.h"
#include "k8s_watch.h"

#define ERR_BODY_MAX (64u * 1024)   /* the body of a non-200 watch response */
#define CONT_MAX 8192               /* a LIST continue token */
#define HEALTHY_STREAM_MS 5000      /* a stream this long was not a failure */
#define WATCH_GRACE_S 30            /* our hard timeout beyond timeoutSeconds */
#define POLL_ROUNDS 1000

enum wstate { WS_WAIT = 0, WS_LIST, WS_WATCH };

struct k8s_watch {
	struct k8s_client *c;
	struct k8s_watch_opts o;
	char *path, *fsel, *lsel;
	struct k8s_watch_handler h;

	CURLM *m;
	CURL *e;
	bool e_added;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	int epfd, tfd;
	uint64_t curl_due;         /* ms, 0: no curl timer */

	enum wstate state;
	bool next_is_list;
	uint64_t next_at;          /* ms: when WS_WAIT starts the next request */
	uint32_t fails;            /* consecutive failures (backoff) */
	uint32_t gone_streak;      /* 410s without an event in between */
	uint32_t cur_limit;        /* page size; halved when a page overflows */
	char rv[64];
	char *cont;
	bool list_begun, ever_listed, after_list;

	/* the transfer in flight */
	struct growbuf body;       /* LIST page, or a watch's non-200 body */
	char *line;
	size_t line_len, line_cap;
	bool discarding;
	long tstatus;              /* -1 until the write callback looked */
	bool abort_gone, abort_error;
	uint64_t t_start, t_events;

	struct k8s_watch_stats st;
};

static void report(struct k8s_watch *w, int err, long status, const char *msg)
{
	w->st.errors++;
	if (w->h.on_error)
		w->h.on_error(w->h.ctx, err, status, msg ? msg : "");
}

/* out of memory counts as over the bound: the LIST asks for a smaller page */
static bool buf_add(struct growbuf *b, const char *d, size_t n)
{
	int rc = growbuf_add(b, d, n);

	if (rc == -ENOMEM)
		b->overflow = true;
	return !rc;
}

/* ---------------------------------------------------------------- curl hooks */

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct k8s_watch *w = userp;
	struct epoll_event ev = { 0 };

	(void)e;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	ev.data.fd = s;
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, s, &ev) && errno == ENOENT)
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct k8s_watch *w = userp;

	(void)m;
	w->curl_due = timeout_ms < 0 ? 0 : clock_mono_ms() + (uint64_t)timeout_ms;
	if (timeout_ms >= 0 && !w->curl_due)
		w->curl_due = 1;
	return 0;
}

/* ---------------------------------------------------------------- events */

static const char *meta_rv(const cJSON *obj)
{
	return jget_str(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
}

static void set_rv(struct k8s_watch *w, const char *rv)
{
	if (rv && *rv && strlen(rv) < sizeof(w->rv)) {
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
		snprintf(w->st.resource_version, sizeof(w->st.resource_version), "%s", rv);
	}
}

static void event_line(struct k8s_watch *w, const char *s, size_t n)
{
	const cJSON *type, *obj;
	enum k8s_event_type t;
	const char *ts;
	cJSON *ev;
	size_t i;

	for (i = 0; i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'); i++)
		;
	if (i == n)
		return;   /* blank line: keep-alive, not an event */
	ev = cJSON_ParseWithLength(s, n);
	type = cJSON_GetObjectItemCaseSensitive(ev, "type");
	obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
	if (!cJSON_IsObject(ev) || !cJSON_IsString(type) || !type->valuestring || !cJSON_IsObject(obj)) {
		w->st.malformed++;
		goto out;
	}
	ts = type->valuestring;
	if (!strcmp(ts, "ADDED"))
		t = K8S_EV_ADDED;
	else if (!strcmp(ts, "MODIFIED"))
		t = K8S_EV_MODIFIED;
	else if (!strcmp(ts, "DELETED"))
		t = K8S_EV_DELETED;
	else if (!strcmp(ts, "BOOKMARK"))
		t = K8S_EV_BOOKMARK;
	else if (!strcmp(ts, "ERROR")) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
		long c = cJSON_IsNumber(code) ? (long)code->valuedouble : 0;

		if (c == 410) {
			w->st.gone++;
			w->abort_gone = true;
		} else {
			w->abort_error = true;
			report(w, c ? k8s_status_errno(c) : -EPROTO, c,
			       cJSON_IsString(msg) ? msg->valuestring : "watch ERROR event");
		}
		goto out;
	} else {
		w->st.malformed++;
		goto out;
	}
	set_rv(w, meta_rv(obj));
	w->st.events++;
	w->t_events++;
	w->gone_streak = 0;
	if (t == K8S_EV_BOOKMARK)
		w->st.bookmarks++;
	if (w->h.on_object)
		w->h.on_object(w->h.ctx, t, obj);
out:
	cJSON_Delete(ev);
}

static bool line_add(struct k8s_watch *w, const char *d, size_t n)
{
	if (n > w->o.max_line || w->line_len > w->o.max_line - n)
		return false;
	if (w->line_len + n > w->line_cap) {
		size_t ncap = w->line_cap ? w->line_cap : 16384;
		char *np;

		while (ncap < w->line_len + n)
			ncap *= 2;
		if (ncap > w->o.max_line)
			ncap = w->o.max_line;
		np = realloc(w->line, ncap);
		if (!np)
			return false;
		w->line = np;
		w->line_cap = ncap;
	}
	memcpy(w->line + w->line_len, d, n);
	w->line_len += n;
	return true;
}

static size_t watch_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct k8s_watch *w = ud;
	size_t n = size * nmemb, off = 0;

	w->st.bytes += n;
	if (w->tstatus < 0) {
		long s = 0;

		curl_easy_getinfo(w->e, CURLINFO_RESPONSE_CODE, &s);
		w->tstatus = s;
	}
	if (w->tstatus != 200) {
		buf_add(&w->body, data, n);   /* an error body: keep its start */
		return n;
	}
	while (off < n) {
		const char *nl = memchr(data + off, '\n', n - off);
		size_t seg = nl ? (size_t)(nl - (data + off)) : n - off;

		if (!w->discarding && !line_add(w, data + off, seg)) {
			/* over the bound: count it once, skip to the next newline */
			w->st.malformed++;
			w->discarding = true;
			w->line_len = 0;
		}
		off += seg;
		if (!nl)
			break;
		off++;   /* the newline */
		if (w->discarding)
			w->discarding = false;
		else
			event_line(w, w->line, w->line_len);
		w->line_len = 0;
		if (w->abort_gone || w->abort_error)
			return 0;   /* ends the transfer (CURLE_WRITE_ERROR) */
	}
	return n;
}

static size_t list_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct k8s_watch *w = ud;
	size_t n = size * nmemb;

	w->st.bytes += n;
	return buf_add(&w->body, data, n) ? n : 0;
}

/* ---------------------------------------------------------------- requests */

static uint64_t backoff(struct k8s_watch *w)
{
	uint64_t d = w->o.backoff_base_ms;
	uint32_t n = w->fails ? w->fails - 1 : 0;

	while (n-- && d < w->o.backoff_max_ms)
		d *= 2;
	if (d > w->o.backoff_max_ms)
		d = w->o.backoff_max_ms;
	return d / 2 + k8s_client_rand(w->c) % (d / 2 + 1);
}

static void schedule(struct k8s_watch *w, bool list, bool failed)
{
	w->state = WS_WAIT;
	w->next_is_list = list || !w->rv[0];
	if (failed)
		w->fails++;
	w->next_at = clock_mono_ms() + (failed ? backoff(w) : 0);
}

static int start_transfer(struct k8s_watch *w, const char *path, uint64_t timeout_ms,
			  size_t (*wr)(char *, size_t, size_t, void *), size_t body_max)
{
	int rc;

	curl_easy_reset(w->e);
	curl_slist_free_all(w->hdrs);
	w->hdrs = NULL;
	w->errbuf[0] = '\0';
	rc = k8s_client_setup_get(w->c, w->e, path, &w->hdrs, w->errbuf);
	if (rc)
		return rc;
	curl_easy_setopt(w->e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(w->e, CURLOPT_WRITEFUNCTION, wr);
	curl_easy_setopt(w->e, CURLOPT_WRITEDATA, w);
	growbuf_reset(&w->body, body_max);
	w->line_len = 0;
	w->discarding = false;
	w->tstatus = -1;
	w->abort_gone = w->abort_error = false;
	w->t_start = clock_mono_ms();
	w->t_events = 0;
	if (curl_multi_add_handle(w->m, w->e) != CURLM_OK)
		return -ENOMEM;
	w->e_added = true;
	return 0;
}

static int start_list(struct k8s_watch *w)
{
	char path[K8S_PATH_MAX], lim[16];
	int rc;

	snprintf(lim, sizeof(lim), "%u", w->cur_limit);
	rc = k8s_path(path, sizeof(path), w->path, "limit", lim, "continue", w->cont, "fieldSelector",
		      w->fsel, "labelSelector", w->lsel, NULL);
	if (rc)
		return rc;
	rc = start_transfer(w, path, k8s_client_opts(w->c)->timeout_ms, list_write, w->o.max_list_body);
	if (rc)
		return rc;
	if (!w->cont) {
		if (w->ever_listed)
			w->st.relists++;
		w->ever_listed = true;
	}
	w->state = WS_LIST;
	return 0;
}

static int start_watch(struct k8s_watch *w)
{
	char path[K8S_PATH_MAX], ts[16];
	uint32_t span = w->o.timeout_max_s - w->o.timeout_min_s;
	uint32_t t = w->o.timeout_min_s + (uint32_t)(k8s_client_rand(w->c) % ((uint64_t)span + 1));
	int rc;

	snprintf(ts, sizeof(ts), "%u", t);
	rc = k8s_path(path, sizeof(path), w->path, "watch", "true", "allowWatchBookmarks", "true",
		      "resourceVersion", w->rv, "timeoutSeconds", ts, "fieldSelector", w->fsel,
		      "labelSelector", w->lsel, NULL);
	if (rc)
		return rc;
	rc = start_transfer(w, path, ((uint64_t)t + WATCH_GRACE_S) * 1000, watch_write, ERR_BODY_MAX);
	if (rc)
		return rc;
	w->st.watches++;
	if (!w->after_list)
		w->st.reconnects++;
	w->after_list = false;
	w->state = WS_WATCH;
	return 0;
}

static void start_next(struct k8s_watch *w)
{
	bool list = w->next_is_list || !w->rv[0];
	int rc = list ? start_list(w) : start_watch(w);

	if (rc) {
		char msg[128];

		snprintf(msg, sizeof(msg), "cannot start the %s: %s", list ? "LIST" : "WATCH",
			 rc == -EKEYREJECTED ? "no bearer token" : strerror(-rc));
		report(w, rc, 0, msg);
		schedule(w, list, true);
	}
}

/* ---------------------------------------------------------------- completions */

/* a 401 may be a rotated bound token: read it again before the next try */
static void maybe_reload_token(struct k8s_watch *w, long status)
{
	const char *t;

	if (status == 401)
		k8s_config_token(k8s_client_config(w->c), true, &t);
}

static void list_failed(struct k8s_watch *w, int err, long status, const char *msg)
{
	maybe_reload_token(w, status);
	free(w->cont);
	w->cont = NULL;
	w->list_begun = false;
	report(w, err, status, msg);
	schedule(w, true, true);
}

static void finish_list(struct k8s_watch *w, CURLcode res, long status)
{
	const cJSON *items, *md, *cont, *it;
	char msg[512], reason[64];
	const char *rv;
	cJSON *root;

	if (res != CURLE_OK) {
		if (w->body.overflow) {
			snprintf(msg, sizeof(msg), "LIST page larger than %zu bytes (limit %u)",
				 w->o.max_list_body, w->cur_limit);
			if (w->cur_limit > 10)
				w->cur_limit /= 2;
			list_failed(w, -EFBIG, status, msg);
		} else {
			list_failed(w, k8s_curl_errno(res), 0,
				    w->errbuf[0] ? w->errbuf : curl_easy_strerror(res));
		}
		return;
	}
	if (status != 200) {
		k8s_parse_status(w->body.p, w->body.len, msg, sizeof(msg), reason, sizeof(reason));
		if (status == 410 && w->cont) {
			/* the continue token expired: list again from the start */
			w->st.gone++;
			free(w->cont);
			w->cont = NULL;
			w->list_begun = false;
			schedule(w, true, false);
			return;
		}
		list_failed(w, k8s_status_errno(status), status, msg[0] ? msg : "LIST failed");
		return;
	}
	root = cJSON_ParseWithLength(w->body.p ? w->body.p : "", w->body.len);
	items = cJSON_GetObjectItemCaseSensitive(root, "items");
	md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	cont = cJSON_GetObjectItemCaseSensitive(md, "continue");
	rv = meta_rv(root);
	if (!cJSON_IsObject(root) || !(cJSON_IsArray(items) || !items || cJSON_IsNull(items)) || !rv ||
	    !*rv || strlen(rv) >= sizeof(w->rv) ||
	    (cont && !cJSON_IsNull(cont) && !(cJSON_IsString(cont) && strlen(cont->valuestring) < CONT_MAX))) {
		cJSON_Delete(root);
		w->st.malformed++;
		list_failed(w, -EBADMSG, status, "LIST response is not a list");
		return;
	}
	w->st.lists++;
	if (!w->list_begun) {
		w->list_begun = true;
		w->st.synced = false;
		if (w->h.on_list_begin)
			w->h.on_list_begin(w->h.ctx);
	}
	cJSON_ArrayForEach(it, (cJSON_IsArray(items) ? items : NULL)) {
		if (!cJSON_IsObject(it)) {
			w->st.malformed++;
			continue;
		}
		w->st.objects_listed++;
		if (w->h.on_object)
			w->h.on_object(w->h.ctx, K8S_EV_ADDED, it);
	}
	free(w->cont);
	w->cont = NULL;
	if (cJSON_IsString(cont) && cont->valuestring[0]) {
		w->cont = strdup(cont->valuestring);
		cJSON_Delete(root);
		if (!w->cont) {
			list_failed(w, -ENOMEM, 0, "out of memory");
			return;
		}
		schedule(w, true, false);
		return;
	}
	w->rv[0] = '\0';
	set_rv(w, rv);
	cJSON_Delete(root);
	w->list_begun = false;
	w->fails = 0;
	w->after_list = true;
	w->st.synced = true;
	if (w->h.on_list_end)
		w->h.on_list_end(w->h.ctx);
	schedule(w, false, false);
}

static void finish_watch(struct k8s_watch *w, CURLcode res, long status)
{
	char msg[512], reason[64];
	uint64_t now = clock_mono_ms();
	bool healthy = w->t_events > 0 || now - w->t_start >= HEALTHY_STREAM_MS;

	if (w->line_len || w->discarding) {
		/* a cut-off last line: not an event */
		if (!w->discarding)
			w->st.malformed++;
		w->line_len = 0;
		w->discarding = false;
	}
	if (w->t_events)
		w->fails = 0;
	if (w->abort_gone || status == 410) {
		if (!w->abort_gone)
			w->st.gone++;
		w->rv[0] = '\0';
		w->st.synced = false;
		w->list_begun = false;
		/* the first 410 re-lists at once; repeated ones back off */
		w->state = WS_WAIT;
		w->next_is_list = true;
		w->next_at = now;
		if (w->gone_streak++) {
			w->fails++;
			w->next_at += backoff(w);
		}
		return;
	}
	if (w->abort_error) {
		schedule(w, false, true);   /* on_error already called */
		return;
	}
	if (res == CURLE_OK && status == 200) {
		/* the server ended the stream (timeoutSeconds): go on from rv */
		schedule(w, false, !healthy);
		return;
	}
	if (res == CURLE_OK) {
		k8s_parse_status(w->body.p, w->body.len, msg, sizeof(msg), reason, sizeof(reason));
		maybe_reload_token(w, status);
		report(w, k8s_status_errno(status), status, msg[0] ? msg : "WATCH failed");
		schedule(w, false, true);
		return;
	}
	/* a broken stream, or our own hard timeout (the server should have
	 * ended it first): go on from rv, backing off unless it had been fine */
	report(w, k8s_curl_errno(res), 0, w->errbuf[0] ? w->errbuf : curl_easy_strerror(res));
	schedule(w, false, !healthy || res != CURLE_OPERATION_TIMEDOUT);
}

static void check_done(struct k8s_watch *w)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(w->m, &left))) {
		CURLcode res;
		long status = 0;

		if (msg->msg != CURLMSG_DONE || msg->easy_handle != w->e)
			continue;
		res = msg->data.result;
		curl_easy_getinfo(w->e, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(w->m, w->e);
		w->e_added = false;
		curl_slist_free_all(w->hdrs);
		w->hdrs = NULL;
		if (w->state == WS_LIST)
			finish_list(w, res, status);
		else if (w->state == WS_WATCH)
			finish_watch(w, res, status);
	}
}

/* ---------------------------------------------------------------- public */

struct k8s_watch *k8s_watch_new(struct k8s_client *c, const struct k8s_watch_opts *o,
				const struct k8s_watch_handler *h)
{
	struct k8s_watch *w;
	int e;

	if (!c || !o || !o->path || o->path[0] != '/' || !h)
		return errno_null(EINVAL);
	w = calloc(1, sizeof(*w));
	if (!w)
		return errno_null(ENOMEM);
	w->epfd = w->tfd = -1;
	w->c = c;
	w->o = *o;
	w->h = *h;
	if (!w->o.page_limit)
		w->o.page_limit = 500;
	if (!w->o.timeout_min_s)
		w->o.timeout_min_s = 300;
	if (!w->o.timeout_max_s)
		w->o.timeout_max_s = 600;
	if (w->o.timeout_max_s < w->o.timeout_min_s)
		w->o.timeout_max_s = w->o.timeout_min_s;
	if (!w->o.max_line)
		w->o.max_line = 4u << 20;
	if (!w->o.max_list_body)
		w->o.max_list_body = k8s_client_opts(c)->max_body;
	if (!w->o.backoff_base_ms)
		w->o.backoff_base_ms = 500;
	if (!w->o.backoff_max_ms)
		w->o.backoff_max_ms = 30000;
	w->cur_limit = w->o.page_limit;
	w->path = strdup(o->path);
	w->fsel = o->field_selector ? strdup(o->field_selector) : NULL;
	w->lsel = o->label_selector ? strdup(o->label_selector) : NULL;
	w->o.path = w->path;
	w->o.field_selector = w->fsel;
	w->o.label_selector = w->lsel;
	if (!w->path || (o->field_selector && !w->fsel) || (o->label_selector && !w->lsel))
		goto nomem;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->epfd < 0 || w->tfd < 0)
		goto fail;
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = w->tfd };

		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tfd, &ev))
			goto fail;
	}
	w->m = curl_multi_init();
	w->e = curl_easy_init();
	if (!w->m || !w->e)
		goto nomem;
	curl_multi_setopt(w->m, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(w->m, CURLMOPT_SOCKETDATA, w);
	curl_multi_setopt(w->m, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(w->m, CURLMOPT_TIMERDATA, w);
	w->state = WS_WAIT;
	w->next_is_list = true;
	w->next_at = 0;
	return w;
nomem:
	errno = ENOMEM;
fail:
	e = errno;
	k8s_watch_free(w);
	return errno_null(e);
}

void k8s_watch_free(struct k8s_watch *w)
{
	if (!w)
		return;
	if (w->e_added)
		curl_multi_remove_handle(w->m, w->e);
	if (w->e)
		curl_easy_cleanup(w->e);
	if (w->m)
		curl_multi_cleanup(w->m);
	curl_slist_free_all(w->hdrs);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->tfd >= 0)
		close(w->tfd);
	free(w->body.p);
	free(w->line);
	free(w->cont);
	free(w->path);
	free(w->fsel);
	free(w->lsel);
	free(w);
}

/* the earliest deadline in ms (0: none) */
static uint64_t next_due(const struct k8s_watch *w)
{
	uint64_t due = w->curl_due;

	if (w->state == WS_WAIT && (!due || w->next_at < due))
		due = w->next_at ? w->next_at : 1;
	return due;
}

static void arm_timer(struct k8s_watch *w)
{
	struct itimerspec its = { 0 };
	uint64_t due = next_due(w);

	if (due) {
		its.it_value.tv_sec = (time_t)(due / 1000);
		its.it_value.tv_nsec = (long)(due % 1000) * 1000000L;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

int k8s_watch_poll(struct k8s_watch *w, int timeout_ms)
{
	struct epoll_event evs[16];
	uint64_t end;
	int rounds, rc = 0;

	if (!w)
		return -EINVAL;
	end = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (rounds = 0; rounds < POLL_ROUNDS; rounds++) {
		uint64_t now = clock_mono_ms(), due;
		int64_t wait;
		bool did = false;
		int n, i, running;

		if (w->state == WS_WAIT && now >= w->next_at) {
			start_next(w);
			did = true;
		}
		if (w->curl_due && now >= w->curl_due) {
			w->curl_due = 0;
			curl_multi_socket_action(w->m, CURL_SOCKET_TIMEOUT, 0, &running);
			check_done(w);
			did = true;
		}
		now = clock_mono_ms();
		wait = did ? 0 : (int64_t)end - (int64_t)now;
		due = next_due(w);
		if (due && (int64_t)due - (int64_t)now < wait)
			wait = (int64_t)due - (int64_t)now;
		if (wait < 0)
			wait = 0;
		n = epoll_wait(w->epfd, evs, 16, (int)wait);
		if (n < 0) {
			if (errno != EINTR)
				rc = -errno;
			break;
		}
		for (i = 0; i < n; i++) {
			int mask = 0;

			if (evs[i].data.fd == w->tfd) {
				uint64_t x;

				if (read(w->tfd, &x, sizeof(x)) < 0) {
					/* EAGAIN: already drained */
				}
				did = true;   /* something is due: look again */
				continue;
			}
			did = true;
			if (evs[i].events & EPOLLIN)
				mask |= CURL_CSELECT_IN;
			if (evs[i].events & EPOLLOUT)
				mask |= CURL_CSELECT_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				mask |= CURL_CSELECT_ERR;
			curl_multi_socket_action(w->m, evs[i].data.fd, mask, &running);
		}
		check_done(w);
		if (!did && clock_mono_ms() >= end)
			break;
	}
	arm_timer(w);
	return rc;
}

int k8s_watch_fd(const struct k8s_watch *w)
{
	return w ? w->epfd : -EINVAL;
}

int k8s_watch_timeout_ms(const struct k8s_watch *w)
{
	uint64_t due, now;

	if (!w)
		return -1;
	due = next_due(w);
	if (!due)
		return -1;
	now = clock_mono_ms();
	if (due <= now)
		return 0;
	return due - now > INT32_MAX ? INT32_MAX : (int)(due - now);
}

void k8s_watch_get_stats(const struct k8s_watch *w, struct k8s_watch_stats *out)
{
	if (w && out)
		*out = w->st;
}
