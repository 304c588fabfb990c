// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "contain_lib.h"

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long now_ms(void)
{
	return (long)(mono_ns() / 1000000ull);
}

void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ================================================================ cbox */

static void *cbox_main(void *p)
{
	struct cbox *b = p;

	/* the helper runs until "exit" or a kill; ctr_run's own timeout is a backstop */
	b->run_err = ctr_run(&b->c, b->argv, b->logdir, 170000);
	return NULL;
}

static const char *take_line(struct cbox *b)
{
	char *nl = memchr(b->rbuf, '\n', b->rlen);
	size_t l;

	if (!nl)
		return NULL;
	l = (size_t)(nl - b->rbuf);
	if (l >= sizeof(b->line))
		l = sizeof(b->line) - 1;
	memcpy(b->line, b->rbuf, l);
	b->line[l] = '\0';
	l = (size_t)(nl - b->rbuf) + 1;
	memmove(b->rbuf, b->rbuf + l, b->rlen - l);
	b->rlen -= l;
	return b->line;
}

const char *cbox_read(struct cbox *b, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	const char *l;

	for (;;) {
		struct pollfd p = { .fd = b->reply_fd, .events = POLLIN };
		long left;
		ssize_t n;

		if ((l = take_line(b)))
			return l;
		left = deadline - now_ms();
		if (left <= 0 || b->reply_fd < 0)
			return NULL;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return NULL;
		if (b->rlen >= sizeof(b->rbuf) - 1)
			b->rlen = 0;
		n = read(b->reply_fd, b->rbuf + b->rlen, sizeof(b->rbuf) - 1 - b->rlen);
		if (n > 0)
			b->rlen += (size_t)n;
		else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			msleep(5); /* writer gone (or not yet there): keep waiting for the deadline */
	}
}

const char *cbox_cmd(struct cbox *b, int timeout_ms, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf) - 1 || b->cmd_fd < 0)
		return NULL;
	buf[n++] = '\n';
	if (write(b->cmd_fd, buf, (size_t)n) != n)
		return NULL;
	return cbox_read(b, timeout_ms);
}

int cbox_start(struct cbox *b, struct ctr *ctr, const char *helper, const char *dir,
	       int timeout_ms, char *msg, size_t msgn)
{
	static int seq;
	long deadline = now_ms() + timeout_ms;
	const char *l;
	int err;

	memset(b, 0, sizeof(*b));
	b->cmd_fd = b->reply_fd = -1;
	if (ctr) {
		/* run in an existing cgroup: share its scope, never destroy it */
		memcpy(b->c.id, ctr->id, sizeof(b->c.id));
		memcpy(b->c.pod_uid, ctr->pod_uid, sizeof(b->c.pod_uid));
		snprintf(b->c.scope, sizeof(b->c.scope), "%s", ctr->scope);
		b->c.cgroup_id = ctr->cgroup_id;
	} else {
		err = ctr_create(&b->c);
		if (err) {
			snprintf(msg, msgn, "ctr_create: %s", strerror(-err));
			return err;
		}
		b->own_ctr = 1;
	}
	seq++;
	snprintf(b->cmd_path, sizeof(b->cmd_path), "%s/cbox%d-%d.cmd", dir, (int)getpid(), seq);
	snprintf(b->reply_path, sizeof(b->reply_path), "%s/cbox%d-%d.reply", dir, (int)getpid(), seq);
	unlink(b->cmd_path);
	unlink(b->reply_path);
	if (mkfifo(b->cmd_path, 0600) || mkfifo(b->reply_path, 0600)) {
		err = -errno;
		snprintf(msg, msgn, "mkfifo: %s", strerror(errno));
		goto fail;
	}
	b->reply_fd = open(b->reply_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (b->reply_fd < 0) {
		err = -errno;
		snprintf(msg, msgn, "open reply fifo: %s", strerror(errno));
		goto fail;
	}
	b->argv[0] = (char *)helper;
	b->argv[1] = "shell";
	b->argv[2] = b->cmd_path;
	b->argv[3] = b->reply_path;
	b->argv[4] = NULL;
	snprintf(b->logdir, sizeof(b->logdir), "%s", dir);
	b->run_err = -EINPROGRESS;
	err = pthread_create(&b->th, NULL, cbox_main, b);
	if (err) {
		err = -err;
		snprintf(msg, msgn, "pthread_create: %s", strerror(-err));
		goto fail;
	}
	b->running = 1;
	while (b->cmd_fd < 0 && now_ms() < deadline) {
		b->cmd_fd = open(b->cmd_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (b->cmd_fd < 0)
			msleep(5);
	}
	if (b->cmd_fd < 0) {
		err = -ETIMEDOUT;
		snprintf(msg, msgn, "the helper did not open its command fifo within %d ms", timeout_ms);
		goto fail;
	}
	l = cbox_read(b, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 1));
	if (!l || strncmp(l, "ready ", 6)) {
		err = -ETIMEDOUT;
		snprintf(msg, msgn, "the helper did not say ready (\"%s\")", l ? l : "nothing");
		goto fail;
	}
	b->pid = (pid_t)atoi(l + 6);
	return 0;
fail:
	cbox_stop(b, 1000);
	return err;
}

void cbox_stop(struct cbox *b, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	if (b->cmd_fd >= 0 && b->pid > 0) {
		char bye[] = "exit\n";

		(void)!write(b->cmd_fd, bye, sizeof(bye) - 1);
	}
	if (b->running && b->c.scope[0] && cg_frozen(b->c.scope) == 1) {
		/* a frozen container can neither exit nor be reaped: thaw it */
		char f[sizeof(b->c.scope) + 16];
		int fd;

		snprintf(f, sizeof(f), "%s/cgroup.freeze", b->c.scope);
		fd = open(f, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "0", 1);
			close(fd);
		}
	}
	if (b->running) {
		/* wait for pid 1 to leave; then kill it (its pid namespace goes with it) */
		while (b->pid > 0 && kill(b->pid, 0) == 0 && now_ms() < deadline)
			msleep(5);
		if (b->pid > 0) {
			/* only while it is still ours: a dead helper's pid may be reused */
			if (ctr_cgroup_id_of(b->pid) == b->c.cgroup_id)
				kill(b->pid, SIGKILL);
		} else if (b->own_ctr) {
			char k[sizeof(b->c.scope) + 16];
			int fd;

			snprintf(k, sizeof(k), "%s/cgroup.kill", b->c.scope);
			fd = open(k, O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				(void)!write(fd, "1", 1);
				close(fd);
			}
		} else {
			/* the shim's pid is set by the runner thread right after its fork */
			for (deadline = now_ms() + 1000; b->c.shim_pid <= 0 && now_ms() < deadline;)
				msleep(5);
			if (b->c.shim_pid > 0)
				kill(b->c.shim_pid, SIGKILL);
		}
		pthread_join(b->th, NULL);
		b->running = 0;
	}
	if (b->cmd_fd >= 0)
		close(b->cmd_fd);
	if (b->reply_fd >= 0)
		close(b->reply_fd);
	b->cmd_fd = b->reply_fd = -1;
	if (b->cmd_path[0])
		unlink(b->cmd_path);
	if (b->reply_path[0])
		unlink(b->reply_path);
	if (b->own_ctr)
		ctr_destroy(&b->c);
	b->own_ctr = 0;
	b->pid = 0;
}

/* ================================================================ network */

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			err = -errno;
	}
	close(fd);
	return err;
}

int peer_create(struct peer *p, const char *subnet)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->nsfd = -1;
	snprintf(p->subnet, sizeof(p->subnet), "%s", subnet);
	p->selffd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (p->selffd < 0)
		return -errno;
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		close(p->selffd);
		p->selffd = -1;
		return err;
	}
	p->nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	err = p->nsfd < 0 ? -errno : lo_up();
	if (setns(p->selffd, CLONE_NEWNET)) {
		/* cannot get back: nothing this process does afterwards is trustworthy */
		fprintf(stderr, "contain: setns back to our own netns: %s\n", strerror(errno));
		abort();
	}
	if (err)
		peer_destroy(p);
	return err;
}

void peer_destroy(struct peer *p)
{
	if (p->nsfd >= 0)
		close(p->nsfd);
	if (p->selffd >= 0)
		close(p->selffd);
	p->nsfd = p->selffd = -1;
}

int run_in_netns(int nsfd, char *const argv[], char *out, size_t outn)
{
	int pp[2], st;
	size_t got = 0;
	pid_t pid;

	if (pipe2(pp, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pp[0]);
		close(pp[1]);
		return -errno;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(pp[1], 1) < 0 || dup2(pp[1], 2) < 0)
			_exit(126);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET)) {
			dprintf(2, "setns: %s\n", strerror(errno));
			_exit(125);
		}
		execv(argv[0], argv);
		dprintf(2, "execv %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pp[1]);
	for (;;) {
		char tmp[512];
		ssize_t n = read(pp[0], tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && got + 1 < outn) {
			size_t c = (size_t)n < outn - 1 - got ? (size_t)n : outn - 1 - got;

			memcpy(out + got, tmp, c);
			got += c;
		}
	}
	if (out && outn)
		out[got] = '\0';
	close(pp[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define IP_RUN(ns, ...)                                                                      \
	do {                                                                                 \
		char *av_[] = { (char *)ip, __VA_ARGS__, NULL };                            \
		char o_[512];                                                                \
		int r_ = run_in_netns(ns, av_, o_, sizeof(o_));                             \
		if (r_) {                                                                    \
			snprintf(msg, msgn, "ip %s %s %s: exit %d: %s", av_[1], av_[2],      \
				 av_[3] ? av_[3] : "", r_, o_);                              \
			err = -EIO;                                                          \
			goto out;                                                            \
		}                                                                            \
	} while (0)

int peer_link(struct peer *p, pid_t ctr_pid, const char *ip, char *msg, size_t msgn)
{
	char nspath[64], pidstr[16], addr[48];
	int cfd, err = 0, h;

	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", (int)ctr_pid);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)ctr_pid);
	cfd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (cfd < 0) {
		snprintf(msg, msgn, "open %s: %s", nspath, strerror(errno));
		return -errno;
	}
	/* created right where they belong: no name ever exists in the host's namespace */
	IP_RUN(p->nsfd, "link", "add", "name", "ngpeer0", "type", "veth", "peer", "name", "eth0",
	       "netns", pidstr);
	for (h = 2; h <= 9; h++) {
		snprintf(addr, sizeof(addr), "%s.%d/24", p->subnet, h);
		IP_RUN(p->nsfd, "addr", "add", addr, "dev", "ngpeer0");
	}
	IP_RUN(p->nsfd, "link", "set", "ngpeer0", "up");
	snprintf(addr, sizeof(addr), "%s.1/24", p->subnet);
	IP_RUN(cfd, "addr", "add", addr, "dev", "eth0");
	IP_RUN(cfd, "link", "set", "eth0", "up");
out:
	close(cfd);
	return err;
}

static int in_peer(struct peer *p, int (*fn)(void *), void *arg)
{
	int r;

	if (setns(p->nsfd, CLONE_NEWNET))
		return -errno;
	r = fn(arg);
	if (setns(p->selffd, CLONE_NEWNET)) {
		fprintf(stderr, "contain: setns back to our own netns: %s\n", strerror(errno));
		abort();
	}
	return r;
}

struct listen_arg {
	char ip[48];
	int port;
};

static int do_listen(void *v)
{
	struct listen_arg *a = v;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, err;

	if (fd < 0)
		return -errno;
	inet_pton(AF_INET, a->ip, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int peer_listen(struct peer *p, int host, int port)
{
	struct listen_arg a = { .port = port };

	snprintf(a.ip, sizeof(a.ip), "%s.%d", p->subnet, host);
	return in_peer(p, do_listen, &a);
}

static int do_socket(void *v)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)v;
	return fd < 0 ? -errno : fd;
}

int peer_socket(struct peer *p)
{
	return in_peer(p, do_socket, NULL);
}

int tcp_accept_tmo(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms), fd;

	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int tcp_connect_tmo(int fd, const char *ip, int port, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int fl = fcntl(fd, F_GETFL), err = 0, r;
	socklen_t l = sizeof(err);

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return -EINVAL;
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		goto ok;
	if (errno != EINPROGRESS)
		return -errno;
	r = poll(&p, 1, timeout_ms);
	if (r <= 0)
		return r < 0 ? -errno : -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l))
		return -errno;
	if (err)
		return -err;
ok:
	fcntl(fd, F_SETFL, fl);
	return 0;
}

ssize_t recv_tmo(int fd, char *buf, size_t n, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms);
	ssize_t got;

	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	got = recv(fd, buf, n, MSG_DONTWAIT);
	return got < 0 ? -errno : got;
}

/* ================================================================ journal */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

size_t cj_actions(const struct sj *j, const char *id, struct cj_action *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < j->nrecs; i++) {
		const cJSON *r = j->recs[i], *a, *dr;
		const char *type = jstr(r, "rec"), *inc = jstr(r, "incident");

		if (!type || strcmp(type, "action") || !inc || (id && strcmp(inc, id)))
			continue;
		a = cJSON_GetObjectItemCaseSensitive(r, "action");
		if (!cJSON_IsObject(a))
			continue;
		if (n < max) {
			struct cj_action *x = &out[n];

			x->incident = inc;
			x->obj = a;
			x->time_ns = jstr(a, "time_ns");
			x->action = jstr(a, "action");
			x->phase = jstr(a, "phase");
			x->target = jstr(a, "target");
			x->result = jstr(a, "result");
			x->detail = jstr(a, "detail");
			dr = cJSON_GetObjectItemCaseSensitive(a, "dry_run");
			x->dry_run = cJSON_IsBool(dr) ? cJSON_IsTrue(dr) : -1;
		}
		n++;
	}
	return n;
}

size_t cj_incidents_for(const struct sj *j, const char *container_id, struct sj_incident **out,
			size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < j->ninc; i++)
		if (j->inc[i].container_id && !strcmp(j->inc[i].container_id, container_id)) {
			if (n < max)
				out[n] = &j->inc[i];
			n++;
		}
	return n;
}

const char *cj_describe(const struct cj_action *a, size_t n)
{
	static char buf[8192];
	size_t off = 0, i;

	buf[0] = '\0';
	for (i = 0; i < n && off < sizeof(buf); i++) {
		char *s = cJSON_PrintUnformatted(a[i].obj);

		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "    [%s] %s\n", a[i].incident,
					s ? s : "?");
		free(s);
	}
	if (!n)
		snprintf(buf, sizeof(buf), "    (no action records)\n");
	return buf;
}

/* ================================================================ misc */

int cg_frozen(const char *dir)
{
	char p[PATH_MAX + 32], buf[256], *s;
	int fd = -1;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/cgroup.events", dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	s = strstr(buf, "frozen ");
	return s ? s[7] == '1' : -1;
}

long long proc_cpu_ticks(pid_t pid)
{
	char p[64], buf[2048], *s;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	f = fopen(p, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	s = strrchr(buf, ')');
	/* after ") ": state(3) ... utime is field 14, stime 15 */
	if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

int run_capture(char *const argv[], char *out, size_t outn, char *err, size_t errn, int timeout_ms)
{
	int po[2], pe[2], st, open_n = 2;
	size_t go = 0, ge = 0;
	long deadline = now_ms() + timeout_ms;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC))
		return -errno;
	if (pipe2(pe, O_CLOEXEC)) {
		close(po[0]);
		close(po[1]);
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null < 0 || dup2(null, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (open_n > 0) {
		struct pollfd p[2] = { { .fd = po[0], .events = POLLIN }, { .fd = pe[0], .events = POLLIN } };
		long left = deadline - now_ms();
		int i;

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 2; i++) {
			char tmp[4096];
			ssize_t n;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, tmp, sizeof(tmp));
			if (n <= 0) {
				close(i ? pe[0] : po[0]);
				if (i)
					pe[0] = -1;
				else
					po[0] = -1;
				open_n--;
				continue;
			}
			if (i == 0 && out && go + 1 < outn) {
				size_t c = (size_t)n < outn - 1 - go ? (size_t)n : outn - 1 - go;

				memcpy(out + go, tmp, c);
				go += c;
			} else if (i == 1 && err && ge + 1 < errn) {
				size_t c = (size_t)n < errn - 1 - ge ? (size_t)n : errn - 1 - ge;

				memcpy(err + ge, tmp, c);
				ge += c;
			}
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (out && outn)
		out[go] = '\0';
	if (err && errn)
		err[ge] = '\0';
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (now_ms() >= deadline)
		return -ETIMEDOUT;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Other `nodeguard run` agents on the node (not ours): they share the pinned
 * state under /sys/fs/bpf/nodeguard (kill rules, protected cgroups,
 * isolation, deny tables), so two agents interfere. `nodeguard trace` pins
 * nothing and does not count.
 */
int ng_other_agents(pid_t except)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char p[64], comm[32] = "", cmd[512];
		FILE *f;
		size_t len = 0;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || (except > 0 && atoi(e->d_name) == (int)except))
			continue;
		snprintf(p, sizeof(p), "/proc/%s/comm", e->d_name);
		f = fopen(p, "re");
		if (f && (!fgets(comm, sizeof(comm), f) || strncmp(comm, "nodeguard\n", 10)))
			comm[0] = '\0';
		if (f)
			fclose(f);
		if (!comm[0])
			continue;
		snprintf(p, sizeof(p), "/proc/%s/cmdline", e->d_name);
		f = fopen(p, "re");
		if (f) {
			len = fread(cmd, 1, sizeof(cmd) - 1, f);
			fclose(f);
		}
		cmd[len] = '\0';
		if (!len)
			continue; /* a zombie: nothing of it is attached any more */
		/* argv[1] is "run", an option (the agent's default command), or absent */
		{
			const char *a1 = strlen(cmd) + 1 < len ? cmd + strlen(cmd) + 1 : NULL;

			if (!a1 || !strcmp(a1, "run") || a1[0] == '-')
				n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}
