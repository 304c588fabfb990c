/* SPDX-License-Identifier: Apache-2.0 */
/*
 * List-then-watch of one Kubernetes collection, driven without blocking
 * from the agent's single-threaded loop.
 *
 *   LIST  path?limit=N[&continue=T][&fieldSelector=..][&labelSelector=..]
 *         (pages until no continue token), then
 *   WATCH path?watch=1&allowWatchBookmarks=true&resourceVersion=RV
 *         &timeoutSeconds=<random in [min,max]>
 *
 * and again from the last resourceVersion seen when the stream ends (the
 * server's timeout), breaks or times out, with exponential backoff and
 * jitter on failures. A 410 Gone (an ERROR event with code 410, or the HTTP
 * status) starts a new LIST. The stream is parsed as newline-delimited JSON
 * with a bounded line buffer: a line over the bound, a line that is not JSON
 * or not an event is counted as malformed and skipped; the watch goes on.
 *
 * The transfers run on a curl multi handle whose sockets and timers sit in
 * one epoll fd (k8s_watch_fd): add it to the agent's epoll set, or just call
 * k8s_watch_poll(w, 0) every loop iteration.
 *
 * Callbacks run inside k8s_watch_poll. They must not call k8s_watch_poll or
 * k8s_watch_free on the same watch. Library code: never logs, never exits.
 */
#ifndef NODEGUARD_K8S_WATCH_H
#define NODEGUARD_K8S_WATCH_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s_client.h"

enum k8s_event_type {
	K8S_EV_ADDED = 0,
	K8S_EV_MODIFIED,
	K8S_EV_DELETED,
	K8S_EV_BOOKMARK,
};

struct k8s_watch_handler {
	/* a LIST starts (the first time and on every re-list); may be NULL */
	void (*on_list_begin)(void *ctx);
	/*
	 * One object: list items come as K8S_EV_ADDED; watch events as they
	 * are. obj is the object (for a bookmark: only metadata.resourceVersion),
	 * valid during the call only.
	 */
	void (*on_object)(void *ctx, enum k8s_event_type type, const cJSON *obj);
	/* the LIST is complete: objects not delivered since on_list_begin are gone */
	void (*on_list_end)(void *ctx);
	/* a failed request, an error event or a broken stream (retried by the
	 * watch itself): err -errno, status the HTTP status or Status code
	 * (0: none), msg the Status message or the transport error */
	void (*on_error)(void *ctx, int err, long status, const char *msg);
	void *ctx;
};

struct k8s_watch_opts {
	const char *path;              /* collection, e.g. "/api/v1/pods" (required) */
	const char *field_selector;    /* e.g. "spec.nodeName=node-1", or NULL */
	const char *label_selector;    /* or NULL */
	uint32_t page_limit;           /* LIST page size; default 500 */
	uint32_t timeout_min_s;        /* watch timeoutSeconds, random in [min, max]; */
	uint32_t timeout_max_s;        /*   defaults 300 and 600 */
	size_t max_line;               /* one watch event; default 4 MiB */
	size_t max_list_body;          /* one LIST page; default the client's max_body */
	uint32_t backoff_base_ms;      /* after failures: [d/2, d], d = base * 2^n; default 500 */
	uint32_t backoff_max_ms;       /* default 30000 */
};

struct k8s_watch_stats {
	uint64_t lists;                /* LIST requests (pages) completed with 200 */
	uint64_t relists;              /* LISTs started again after the first */
	uint64_t gone;                 /* 410s (events or HTTP) */
	uint64_t watches;              /* WATCH requests started */
	uint64_t reconnects;           /* WATCHes started again from a resourceVersion */
	uint64_t events;               /* watch events delivered (ADDED/MODIFIED/DELETED/BOOKMARK) */
	uint64_t bookmarks;
	uint64_t objects_listed;       /* LIST items delivered */
	uint64_t malformed;            /* lines / list bodies skipped */
	uint64_t errors;               /* on_error calls */
	uint64_t bytes;                /* body bytes received */
	bool synced;                   /* the last LIST completed and no re-list is pending */
	char resource_version[64];     /* where the next watch starts */
};

struct k8s_watch;

/* The client stays the caller's and must outlive the watch. NULL + errno. */
struct k8s_watch *k8s_watch_new(struct k8s_client *c, const struct k8s_watch_opts *o,
				const struct k8s_watch_handler *h);
void k8s_watch_free(struct k8s_watch *w);

/*
 * Do what is due: start the next request when its time has come, move data,
 * parse events and call the handler. Waits up to timeout_ms for something
 * to happen (0: never blocks). 0, or -errno on a fatal error (epoll).
 */
int k8s_watch_poll(struct k8s_watch *w, int timeout_ms);
/* epoll fd: readable whenever k8s_watch_poll has work (sockets or timers) */
int k8s_watch_fd(const struct k8s_watch *w);
/* ms until the next timer (backoff or curl), -1 if none */
int k8s_watch_timeout_ms(const struct k8s_watch *w);
void k8s_watch_get_stats(const struct k8s_watch *w, struct k8s_watch_stats *out);

#endif
