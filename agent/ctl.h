/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket: a local Unix stream socket through which
 * `nodeguardctl isolate|freeze|kill-container|release|status` asks the
 * running agent to act, so that manual actions go through the responder's
 * guardrails and journal like automatic ones.
 *
 * Protocol: one request line, one reply line, then the server closes.
 *   request  {"v":1,"cmd":"isolate"|"freeze"|"kill-container"|"release"|"status",
 *             "container":"<id>","incident":"<id>","who":"<string>"}
 *   reply    {"ok":true|false,"incident":"...","message":"..."}
 * A request line is at most CTL_MAX_REQUEST bytes and must arrive within
 * CTL_TIMEOUT_MS of the connection. Only uid 0 is served (SO_PEERCRED; also
 * the server's own euid, which in the agent is 0), on top of the socket's
 * 0600 mode in a 0700 directory. The "who" handed to
 * the handler is built here from the peer's credentials; the client's own
 * "who" is appended as a claim and never trusted alone.
 *
 * The server never blocks the caller's loop: ctl_server_poll() accepts what
 * is pending, reads what has arrived, answers complete requests and drops
 * connections past their deadline, then returns.
 *
 * The agent (agent/agent.c opens it once the responder is reconciled and
 * closes it first at shutdown) puts ctl_server_fd() in its epoll set and
 * calls ctl_server_poll() when it is readable and while ctl_server_busy();
 * it wakes at least every 20 ms, so a request is picked up within that and
 * a slow client is cut off within CTL_TIMEOUT_MS + 20 ms. What a request
 * does is the agent's handler, ctl_dispatch.h; nodeguardctl needs only the
 * client below.
 */
#ifndef NODEGUARD_CTL_H
#define NODEGUARD_CTL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jsonw.h"

#define CTL_DEFAULT_PATH "/run/nodeguard/nodeguard.sock"
#define CTL_PROTO_VERSION 1
/* a request line, without its newline, may not be longer than this */
#define CTL_MAX_REQUEST (64u * 1024)
/* a request must be complete this long after the connection */
#define CTL_TIMEOUT_MS 2000
/* connections served at once; more wait in the listen backlog */
#define CTL_MAX_CONNS 64
/* the client's claimed "who" is cut to this many bytes */
#define CTL_CLAIM_MAX 64
/* room for the server-built who string */
#define CTL_WHO_MAX 160

struct ctl_server;

/*
 * Handle one request (a JSON object with "v":1). Write exactly one JSON
 * object into reply (jsonw_obj_open .. jsonw_obj_close). Return 0, or
 * -errno: if nothing was written then, the server replies
 * {"ok":false,"message":strerror}.
 */
typedef int (*ctl_handler_fn)(const cJSON *req, const char *who, struct jsonw *reply, void *ctx);

/*
 * Create the socket's directory (0700, ours) if missing, refuse one that is
 * not a directory owned by us (a directory with group/other bits is
 * tightened to 0700), remove a stale socket (a socket file nobody answers
 * on), bind, chmod 0600, listen; non-blocking. path NULL or "": the default.
 * NULL with errno set and the reason in err; EADDRINUSE: an agent answers.
 */
struct ctl_server *ctl_server_open(const char *path, char *err, size_t n);
/* the listening socket, for poll()/epoll: readable when a client waits */
int ctl_server_fd(const struct ctl_server *s);
/* connections open: their sockets are the server's own, not in the caller's
 * epoll set, so poll again soon (their deadlines, data that arrived) */
bool ctl_server_busy(const struct ctl_server *s);
const char *ctl_server_path(const struct ctl_server *s);
/*
 * Serve without blocking: accept pending connections, read, answer complete
 * requests through fn, time out slow clients. Returns how many replies were
 * completed, or -errno when accepting failed for a reason other than
 * "nothing pending" (the server stays usable).
 */
int ctl_server_poll(struct ctl_server *s, ctl_handler_fn fn, void *ctx);

struct ctl_server_stats {
	uint64_t accepted;
	uint64_t answered;  /* requests handed to the handler */
	uint64_t refused;   /* peers that are not uid 0 */
	uint64_t malformed; /* not JSON, not an object, wrong "v", NUL bytes */
	uint64_t oversize;  /* lines longer than CTL_MAX_REQUEST */
	uint64_t timeouts;  /* no complete line within CTL_TIMEOUT_MS */
	uint64_t dropped;   /* closed before the reply was fully written */
};
void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *st);
/* close every connection and the socket, unlink it; accepts NULL */
void ctl_server_close(struct ctl_server *s);

/*
 * Client: send one request line (json_line without a newline), wait for the
 * reply line, copy it without its newline into reply (NUL-terminated).
 * 0, or -errno: -ENOENT (no socket file) and -ECONNREFUSED (a stale socket
 * file) mean no agent listens; -EACCES the caller may not use the socket;
 * -ETIMEDOUT; -EMSGSIZE the reply did not fit; -EPROTO no reply line.
 */
int ctl_request(const char *path, const char *json_line, char *reply, size_t n, int timeout_ms);

/*
 * "uid 0 pid 1234 (nodeguardctl)" and, when claim is a non-empty string,
 * ", claims \"alice\"" with the claim cut to CTL_CLAIM_MAX bytes; anything
 * but printable ASCII (and '"', '\\') in comm or claim becomes '?'.
 */
void ctl_who_format(char *buf, size_t n, uid_t uid, pid_t pid, const char *comm,
		    const char *claim);
/* a container id as accepted on the socket: 12..64 lowercase hex digits */
bool ctl_valid_container_id(const char *s);
/* an incident id or prefix: 1..47 bytes of [A-Za-z0-9._:-] */
bool ctl_valid_incident_id(const char *s);
/* a reply object: {"ok":ok,"incident":incident (when non-empty),"message":msg} */
void ctl_reply(struct jsonw *w, bool ok, const char *incident, const char *msg);

#endif
