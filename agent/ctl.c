// SPDX-License-Identifier: Apache-2.0
/*
 * The control socket's protocol: the server (framing, peer checks, timeouts)
 * and the client, which the agent and nodeguardctl share. See ctl.h for the
 * protocol; the agent's handler of the requests is in ctl_dispatch.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"

#define CTL_LISTEN_BACKLOG 128
#define CTL_CLIENT_DEFAULT_TIMEOUT_MS 5000

struct ctl_conn {
	int fd;
	bool writing;
	uint64_t deadline;        /* monotonic ms: request complete / reply written by then */
	struct ucred cred;
	char comm[17];
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outpos;
};

struct ctl_server {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;                /* our socket file, so close unlinks only ours */
	ino_t ino;
	struct ctl_conn conns[CTL_MAX_CONNS];
	size_t nconns;
	struct ctl_server_stats st;
};

static void set_err(char *err, size_t n, const char *fmt, const char *a, int e)
{
	if (!err || !n)
		return;
	snprintf(err, n, fmt, a, strerror(e));
}

/* ---------------------------------------------------------------- helpers */

static void sanitize(char *dst, size_t n, const char *src, size_t max)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; src && src[i] && i < max && i + 1 < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
	}
	dst[i] = '\0';
}

void ctl_who_format(char *buf, size_t n, uid_t uid, pid_t pid, const char *comm,
		    const char *claim)
{
	char c[17], cl[CTL_CLAIM_MAX + 1];

	sanitize(c, sizeof(c), comm && *comm ? comm : "?", 16);
	if (claim && *claim) {
		sanitize(cl, sizeof(cl), claim, CTL_CLAIM_MAX);
		snprintf(buf, n, "uid %u pid %d (%s), claims \"%s\"", (unsigned)uid, (int)pid, c, cl);
	} else {
		snprintf(buf, n, "uid %u pid %d (%s)", (unsigned)uid, (int)pid, c);
	}
}

bool ctl_valid_container_id(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; s[i]; i++)
		if (i >= 64 || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i >= 12;
}

bool ctl_valid_incident_id(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; s[i]; i++)
		if (i >= 47 || !(isalnum((unsigned char)s[i]) || strchr("._:-", s[i])))
			return false;
	return i > 0;
}

static void read_comm(pid_t pid, char *out, size_t n)
{
	char path[64];
	ssize_t r;
	int fd;

	snprintf(out, n, "?");
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	r = read(fd, out, n - 1);
	close(fd);
	if (r <= 0) {
		snprintf(out, n, "?");
		return;
	}
	out[r] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

void ctl_reply(struct jsonw *w, bool ok, const char *incident, const char *msg)
{
	jsonw_obj_open(w);
	jsonw_kv_bool(w, "ok", ok);
	if (incident && *incident)
		jsonw_kv_str(w, "incident", incident);
	jsonw_kv_str(w, "message", msg);
	jsonw_obj_close(w);
}

/* ---------------------------------------------------------------- server */

/* does directory fd hold nothing but `name` (our socket, maybe stale)? */
static bool dir_only_ours(int fd, const char *name)
{
	int d = dup(fd);
	DIR *dp = d >= 0 ? fdopendir(d) : NULL;
	struct dirent *de;
	bool only = dp != NULL;

	if (!dp) {
		if (d >= 0)
			close(d);
		return false;
	}
	while (only && (de = readdir(dp)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, name))
			only = false;
	closedir(dp);
	return only;
}

/*
 * The socket's directory: a real directory of ours. A directory of its own
 * (nothing in it but the socket) is made 0700. A shared one (NODEGUARD_SOCKET
 * in /run or /tmp, say) keeps its mode (tightening it would break everything
 * else in it), unless others could replace the socket: group- or
 * other-writable without the sticky bit is refused.
 */
static int ensure_dir(const char *dir, const char *name, char *err, size_t n)
{
	struct stat st;
	int fd, e = 0;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		e = errno;
		set_err(err, n, "Failed to create %s: %s", dir, e);
		return -e;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		set_err(err, n, "Failed to open %s (a directory, not a symlink, is needed): %s", dir, e);
		return -e;
	}
	if (fstat(fd, &st)) {
		e = errno;
		set_err(err, n, "Failed to stat %s: %s", dir, e);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		e = EPERM;
		set_err(err, n, "Refusing %s: it is owned by another user (%s)", dir, e);
		goto out;
	}
	if ((st.st_mode & 07777) == 0700)
		goto out;
	if (dir_only_ours(fd, name)) {
		if (fchmod(fd, 0700)) {
			e = errno;
			set_err(err, n, "Failed to chmod 0700 %s: %s", dir, e);
		}
	} else if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
		e = EPERM;
		if (err && n)
			snprintf(err, n,
				 "Refusing %s: others may write to it (mode %03o, no sticky bit) and "
				 "could replace the socket; give the socket a directory of its own",
				 dir, (unsigned)(st.st_mode & 0777));
	}
out:
	close(fd);
	return -e;
}

/* 0: something answers on path; -errno from connect() otherwise */
static int probe_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		e = errno == EAGAIN ? 0 : errno; /* a full backlog: alive */
	close(fd);
	return -e;
}

struct ctl_server *ctl_server_open(const char *path, char *err, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server *s = NULL;
	char dir[sizeof(sa.sun_path)];
	struct stat st;
	char *slash;
	int e = 0, r;

	if (err && n)
		err[0] = '\0';
	if (!path || !*path)
		path = CTL_DEFAULT_PATH;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		e = ENAMETOOLONG;
		set_err(err, n, "Socket path %s: %s", path, e);
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (path[0] != '/' || !slash || slash == dir || !slash[1]) {
		e = EINVAL;
		set_err(err, n, "Socket path %s: want an absolute path in its own directory (%s)",
			path, e);
		goto fail;
	}
	*slash = '\0';
	r = ensure_dir(dir, slash + 1, err, n);
	if (r) {
		e = -r;
		goto fail;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			e = EEXIST;
			set_err(err, n, "Refusing to replace %s: it is not a socket (%s)", path, e);
			goto fail;
		}
		r = probe_socket(path);
		if (r == 0) {
			e = EADDRINUSE;
			set_err(err, n, "Another nodeguard answers on %s (%s)", path, e);
			goto fail;
		}
		if (r != -ECONNREFUSED && r != -ENOENT) {
			e = -r;
			set_err(err, n, "Failed to probe the existing socket %s: %s", path, e);
			goto fail;
		}
		/* stale: nothing listens */
		if (unlink(path) && errno != ENOENT) {
			e = errno;
			set_err(err, n, "Failed to remove the stale socket %s: %s", path, e);
			goto fail;
		}
	} else if (errno != ENOENT) {
		e = errno;
		set_err(err, n, "Failed to stat %s: %s", path, e);
		goto fail;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		e = errno;
		set_err(err, n, "Failed to allocate the control server for %s: %s", path, e);
		goto fail;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		e = errno;
		set_err(err, n, "Failed to create the control socket %s: %s", path, e);
		goto fail;
	}
	/* the 0700 directory keeps others out until the chmod */
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		set_err(err, n, "Failed to bind %s: %s", path, e);
		goto fail;
	}
	if (chmod(path, 0600) || stat(path, &st)) {
		e = errno;
		set_err(err, n, "Failed to chmod 0600 %s: %s", path, e);
		unlink(path);
		goto fail;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (listen(s->fd, CTL_LISTEN_BACKLOG)) {
		e = errno;
		set_err(err, n, "Failed to listen on %s: %s", path, e);
		unlink(path);
		goto fail;
	}
	return s;
fail:
	if (s) {
		if (s->fd >= 0)
			close(s->fd);
		free(s);
	}
	errno = e ? e : EINVAL;
	return NULL;
}

int ctl_server_fd(const struct ctl_server *s)
{
	return s ? s->fd : -EINVAL;
}

bool ctl_server_busy(const struct ctl_server *s)
{
	return s && s->nconns;
}

const char *ctl_server_path(const struct ctl_server *s)
{
	return s ? s->path : NULL;
}

void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *st)
{
	*st = s->st;
}

static void conn_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->inlen = c->incap = c->outlen = c->outpos = 0;
}

/* queue one reply line and stop reading */
static void conn_reply(struct ctl_conn *c, const char *text, size_t len, uint64_t now)
{
	free(c->in);
	c->in = NULL;
	c->inlen = c->incap = 0;
	c->out = malloc(len + 1);
	if (!c->out) {
		conn_close(c);
		return;
	}
	memcpy(c->out, text, len);
	c->out[len] = '\n';
	c->outlen = len + 1;
	c->outpos = 0;
	c->writing = true;
	c->deadline = now + CTL_TIMEOUT_MS;
	/* nothing more is read; what the client still sends is discarded */
	shutdown(c->fd, SHUT_RD);
}

static void conn_reply_error(struct ctl_conn *c, const char *msg, uint64_t now)
{
	struct jsonw w;
	const char *t;

	jsonw_init(&w);
	ctl_reply(&w, false, NULL, msg);
	t = jsonw_str(&w);
	if (t)
		conn_reply(c, t, w.len, now);
	else
		conn_close(c);
	jsonw_free(&w);
}

/* the request is c->in[0..len) */
static void conn_handle(struct ctl_server *s, struct ctl_conn *c, size_t len, ctl_handler_fn fn,
			void *ctx, uint64_t now)
{
	const cJSON *v, *claim;
	const char *end = NULL, *t;
	char who[CTL_WHO_MAX];
	cJSON *req = NULL;
	struct jsonw w;
	int rc;

	jsonw_init(&w);
	if (memchr(c->in, '\0', len)) {
		s->st.malformed++;
		conn_reply_error(c, "malformed request: it contains a NUL byte", now);
		goto out;
	}
	req = cJSON_ParseWithLengthOpts(c->in, len, &end, false);
	if (!req || !cJSON_IsObject(req)) {
		s->st.malformed++;
		conn_reply_error(c, "malformed request: want one JSON object on one line", now);
		goto out;
	}
	while (end && end < c->in + len && isspace((unsigned char)*end))
		end++;
	if (!end || end != c->in + len) {
		s->st.malformed++;
		conn_reply_error(c, "malformed request: data after the JSON object", now);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(req, "v");
	if (!cJSON_IsNumber(v) || v->valuedouble != CTL_PROTO_VERSION) {
		s->st.malformed++;
		conn_reply_error(c, "unsupported request: want \"v\":1", now);
		goto out;
	}
	claim = cJSON_GetObjectItemCaseSensitive(req, "who");
	if (claim && !cJSON_IsString(claim)) {
		s->st.malformed++;
		conn_reply_error(c, "malformed request: \"who\" must be a string", now);
		goto out;
	}
	ctl_who_format(who, sizeof(who), c->cred.uid, c->cred.pid, c->comm,
		       claim ? claim->valuestring : NULL);
	s->st.answered++;
	rc = fn(req, who, &w, ctx);
	t = jsonw_str(&w);
	if (t && w.len && !memchr(t, '\n', w.len)) {
		conn_reply(c, t, w.len, now);
	} else {
		char msg[128];

		snprintf(msg, sizeof(msg), "the request failed: %s",
			 rc < 0 ? strerror(-rc) : "no reply from the handler");
		conn_reply_error(c, msg, now);
	}
out:
	cJSON_Delete(req);
	jsonw_free(&w);
}

static void conn_read(struct ctl_server *s, struct ctl_conn *c, ctl_handler_fn fn, void *ctx,
		      uint64_t now)
{
	for (;;) {
		ssize_t r;
		char *nl;

		if (c->inlen == c->incap) {
			size_t cap = c->incap ? c->incap * 2 : 4096;
			char *p;

			if (cap > CTL_MAX_REQUEST + 1)
				cap = CTL_MAX_REQUEST + 1;
			p = realloc(c->in, cap);
			if (!p) {
				conn_reply_error(c, "out of memory", now);
				return;
			}
			c->in = p;
			c->incap = cap;
		}
		r = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
		if (r > 0) {
			nl = memchr(c->in + c->inlen, '\n', (size_t)r);
			c->inlen += (size_t)r;
			if (nl) {
				conn_handle(s, c, (size_t)(nl - c->in), fn, ctx, now);
				return;
			}
			if (c->inlen > CTL_MAX_REQUEST) {
				s->st.oversize++;
				conn_reply_error(c, "request too long: a request line is at most 65536 bytes",
						 now);
				return;
			}
			continue;
		}
		if (r == 0) {
			/* the client shut down its side: what it sent is the request */
			if (c->inlen)
				conn_handle(s, c, c->inlen, fn, ctx, now);
			else
				conn_close(c);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		s->st.dropped++;
		conn_close(c);
		return;
	}
	if (now >= c->deadline) {
		s->st.timeouts++;
		conn_reply_error(c, "timed out: no complete request line within 2 seconds", now);
	}
}

/* 1: the reply is out, 0: not yet */
static int conn_write(struct ctl_server *s, struct ctl_conn *c, uint64_t now)
{
	while (c->outpos < c->outlen) {
		ssize_t r = send(c->fd, c->out + c->outpos, c->outlen - c->outpos,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			c->outpos += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && now < c->deadline)
			return 0;
		s->st.dropped++;
		conn_close(c);
		return 0;
	}
	conn_close(c);
	return 1;
}

static int accept_pending(struct ctl_server *s, uint64_t now)
{
	while (s->nconns < CTL_MAX_CONNS) {
		struct ctl_conn *c;
		socklen_t len;
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		s->st.accepted++;
		c = &s->conns[s->nconns];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->deadline = now + CTL_TIMEOUT_MS;
		len = sizeof(c->cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) || len != sizeof(c->cred)) {
			s->st.dropped++;
			close(fd);
			continue;
		}
		s->nconns++;
		/* root only; the server's own euid is 0 in the agent (the unit
		 * tests run it unprivileged) */
		if (c->cred.uid != 0 && c->cred.uid != geteuid()) {
			s->st.refused++;
			conn_reply_error(c, "permission denied: the control socket serves uid 0 only "
					    "(run nodeguardctl as root)", now);
			continue;
		}
		read_comm(c->cred.pid, c->comm, sizeof(c->comm));
	}
	return 0;
}

int ctl_server_poll(struct ctl_server *s, ctl_handler_fn fn, void *ctx)
{
	uint64_t now = clock_mono_ms();
	int done = 0, err;
	size_t i;

	if (!s || !fn)
		return -EINVAL;
	err = accept_pending(s, now);
	for (i = 0; i < s->nconns;) {
		struct ctl_conn *c = &s->conns[i];

		if (c->fd >= 0 && !c->writing)
			conn_read(s, c, fn, ctx, now);
		if (c->fd >= 0 && c->writing)
			done += conn_write(s, c, now);
		if (c->fd < 0) {
			conn_close(c);
			s->conns[i] = s->conns[--s->nconns];
			continue;
		}
		i++;
	}
	return err ? err : done;
}

void ctl_server_close(struct ctl_server *s)
{
	struct stat st;
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nconns; i++)
		conn_close(&s->conns[i]);
	if (s->fd >= 0)
		close(s->fd);
	/* a newer agent may have replaced the socket: unlink only ours */
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	free(s);
}

/* ---------------------------------------------------------------- client */

static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = clock_mono_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t r = send(fd, buf + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		int err;

		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			err = wait_fd(fd, POLLOUT, deadline);
			if (err)
				return err;
			continue;
		}
		return r < 0 ? -errno : -EIO;
	}
	return 0;
}

int ctl_request(const char *path, const char *json_line, char *reply, size_t n, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline;
	size_t len, got = 0;
	int fd, err = 0;
	char *nl;

	if (!json_line || !reply || !n)
		return -EINVAL;
	reply[0] = '\0';
	if (!path || !*path)
		path = CTL_DEFAULT_PATH;
	len = strlen(json_line);
	if (!len || len > CTL_MAX_REQUEST || memchr(json_line, '\n', len))
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	deadline = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : CTL_CLIENT_DEFAULT_TIMEOUT_MS);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno == EAGAIN && clock_mono_ms() < deadline) {
			/* the backlog is full: the agent is busy, try again shortly */
			poll(NULL, 0, 10);
			continue;
		}
		err = errno == EAGAIN ? -ETIMEDOUT : -errno;
		goto out;
	}
	err = send_all(fd, json_line, len, deadline);
	if (!err)
		err = send_all(fd, "\n", 1, deadline);
	/* the server may have answered and closed early (refused, too long):
	 * its reply is still there to read */
	if (err && err != -EPIPE && err != -ECONNRESET)
		goto out;
	err = 0;
	for (;;) {
		ssize_t r;

		if (got + 1 >= n) {
			err = -EMSGSIZE;
			goto out;
		}
		r = recv(fd, reply + got, n - 1 - got, MSG_DONTWAIT);
		if (r > 0) {
			got += (size_t)r;
			reply[got] = '\0';
			nl = memchr(reply + got - (size_t)r, '\n', (size_t)r);
			if (nl) {
				*nl = '\0';
				goto out;
			}
			continue;
		}
		if (r == 0 || (r < 0 && errno == ECONNRESET)) {
			err = -EPROTO;
			goto out;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			err = -errno;
			goto out;
		}
		err = wait_fd(fd, POLLIN, deadline);
		if (err)
			goto out;
	}
out:
	close(fd);
	if (err)
		reply[0] = '\0';
	return err;
}
