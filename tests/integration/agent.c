// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

const char *agent_stderr(const struct agent *a)
{
	static char buf[16384];
	int fd = open(a->err_path, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

int agent_start(struct agent *a, const char *bin, const char *const extra[], const char *dir,
		int timeout_ms)
{
	static int seq;
	const char *argv[32];
	int argc = 0, i, outfd, errfd;
	long deadline = now_ms() + timeout_ms;
	pid_t pid;

	memset(a, 0, sizeof(*a));
	a->out_fd = -1;
	a->exit_status = -1;
	seq++;
	snprintf(a->out_path, sizeof(a->out_path), "%s/agent%d.out", dir, seq);
	snprintf(a->err_path, sizeof(a->err_path), "%s/agent%d.err", dir, seq);
	outfd = open(a->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	errfd = open(a->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	a->out_fd = open(a->out_path, O_RDONLY | O_CLOEXEC);
	if (outfd < 0 || errfd < 0 || a->out_fd < 0) {
		int err = -errno;

		if (outfd >= 0)
			close(outfd);
		if (errfd >= 0)
			close(errfd);
		return err;
	}
	argv[argc++] = bin;
	argv[argc++] = "trace";
	argv[argc++] = "--json";
	for (i = 0; extra && extra[i] && argc < 30; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(outfd);
		close(errfd);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* if the test dies, the agent detaches and goes too */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (null < 0 || dup2(null, 0) < 0 || dup2(outfd, 1) < 0 || dup2(errfd, 2) < 0)
			_exit(126);
		syscall(SYS_close_range, 3, ~0U, 0);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(outfd);
	close(errfd);
	a->pid = pid;

	while (now_ms() < deadline) {
		int st;

		if (strstr(agent_stderr(a), "nodeguard: info: tracing"))
			return 0;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			a->exit_status = st;
			a->pid = 0;
			return -ECHILD;
		}
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &a->exit_status, 0);
	a->pid = 0;
	return -ETIMEDOUT;
}

/* RFC 8259 text: UTF-8 (no overlongs, no surrogates), no raw control bytes */
static int json_text_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], l, cp, j;

		if (c < 0x20)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			l = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			l = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			l = 4, cp = c & 0x07;
		else
			return 0;
		if (i + l > n)
			return 0;
		for (j = 1; j < l; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((l == 3 && cp < 0x800) || (l == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += l;
	}
	return 1;
}

static void add_line(struct agent *a, const char *line, size_t n)
{
	cJSON *o;

	if (!n)
		return;
	o = json_text_ok((const unsigned char *)line, n) ? cJSON_ParseWithLength(line, n) : NULL;
	if (!o || !cJSON_IsObject(o)) {
		if (!a->bad_lines++)
			snprintf(a->first_bad, sizeof(a->first_bad), "%.*s", (int)(n > 500 ? 500 : n), line);
		cJSON_Delete(o);
		return;
	}
	if (a->nev == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 1024;
		cJSON **nv = realloc(a->ev, cap * sizeof(*nv));

		if (!nv) {
			cJSON_Delete(o);
			return;
		}
		a->ev = nv;
		a->cap = cap;
	}
	a->ev[a->nev++] = o;
	if (js_str(o, "kind") && !strcmp(js_str(o, "kind"), "stats"))
		a->stats = o;
}

int agent_poll(struct agent *a)
{
	size_t before = a->nev;
	char buf[65536];
	ssize_t n;

	if (a->out_fd < 0)
		return -EBADF;
	while ((n = read(a->out_fd, buf, sizeof(buf))) > 0) {
		char *nb = realloc(a->partial, a->partial_len + (size_t)n);
		size_t start = 0, i;

		if (!nb)
			return -ENOMEM;
		a->partial = nb;
		memcpy(a->partial + a->partial_len, buf, (size_t)n);
		a->partial_len += (size_t)n;
		for (i = 0; i < a->partial_len; i++) {
			if (a->partial[i] != '\n')
				continue;
			add_line(a, a->partial + start, i - start);
			start = i + 1;
		}
		memmove(a->partial, a->partial + start, a->partial_len - start);
		a->partial_len -= start;
	}
	return (int)(a->nev - before);
}

cJSON *agent_wait(struct agent *a, const char *kind, pid_t pid, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		cJSON *e;

		agent_poll(a);
		e = agent_find(a, kind, pid, 0);
		if (e)
			return e;
		if (now_ms() >= deadline)
			return NULL;
		sleep_ms(20);
	}
}

int agent_stop(struct agent *a, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	int err = 0;

	if (a->pid > 0) {
		kill(a->pid, SIGINT);
		for (;;) {
			pid_t r = waitpid(a->pid, &a->exit_status, WNOHANG);

			if (r == a->pid)
				break;
			if (r < 0 && errno != EINTR) {
				err = -errno;
				break;
			}
			if (now_ms() >= deadline) {
				kill(a->pid, SIGKILL);
				waitpid(a->pid, &a->exit_status, 0);
				err = -ETIMEDOUT;
				break;
			}
			sleep_ms(10);
		}
		a->pid = 0;
	}
	agent_poll(a);
	/* a line without its newline at exit is a line too */
	if (a->partial_len) {
		add_line(a, a->partial, a->partial_len);
		a->partial_len = 0;
	}
	return err;
}

static int fdinfo_id(pid_t pid, const char *fd, const char *key, uint32_t *id)
{
	char p[128], line[256];
	size_t kl = strlen(key);
	FILE *f;
	int rc = -ENOENT;

	snprintf(p, sizeof(p), "/proc/%d/fdinfo/%s", (int)pid, fd);
	f = fopen(p, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			*id = (uint32_t)strtoul(line + kl + 1, NULL, 10);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

int agent_snapshot_bpf(struct agent *a)
{
	char p[64], target[256];
	struct dirent *d;
	DIR *dir;

	if (a->pid <= 0)
		return -ESRCH;
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)a->pid);
	dir = opendir(p);
	if (!dir)
		return -errno;
	a->nprogs = a->nlinks = 0;
	while ((d = readdir(dir))) {
		char lp[128];
		ssize_t n;
		uint32_t id;

		if (d->d_name[0] == '.')
			continue;
		snprintf(lp, sizeof(lp), "%s/%s", p, d->d_name);
		n = readlink(lp, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, "anon_inode:bpf-prog") && a->nprogs < AGENT_MAX_IDS &&
		    !fdinfo_id(a->pid, d->d_name, "prog_id", &id))
			a->prog_ids[a->nprogs++] = id;
		else if (!strcmp(target, "anon_inode:bpf_link") && a->nlinks < AGENT_MAX_IDS &&
			 !fdinfo_id(a->pid, d->d_name, "link_id", &id))
			a->link_ids[a->nlinks++] = id;
	}
	closedir(dir);
	return 0;
}

void agent_free(struct agent *a)
{
	size_t i;

	if (!a)
		return;
	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
		a->pid = 0;
	}
	for (i = 0; i < a->nev; i++)
		cJSON_Delete(a->ev[i]);
	free(a->ev);
	free(a->partial);
	if (a->out_fd >= 0)
		close(a->out_fd);
	memset(a, 0, sizeof(*a));
	a->out_fd = -1;
}

void agent_scope(struct agent *a, uint64_t cgroup)
{
	agent_poll(a);
	a->from = a->nev;
	a->cgroup = cgroup;
}

cJSON *agent_find(const struct agent *a, const char *kind, pid_t pid, int nth)
{
	size_t i;

	for (i = a->from; i < a->nev; i++) {
		const char *k = js_str(a->ev[i], "kind");

		if (a->cgroup && js_int(a->ev[i], "cgroup_id") != (int64_t)a->cgroup)
			continue;
		if (kind && (!k || strcmp(k, kind)))
			continue;
		if (pid && js_int(a->ev[i], "pid") != pid)
			continue;
		if (nth-- > 0)
			continue;
		return a->ev[i];
	}
	return NULL;
}

size_t agent_count(const struct agent *a, const char *kind, pid_t pid)
{
	size_t n = 0;

	while (agent_find(a, kind, pid, (int)n))
		n++;
	return n;
}

void agent_dump(const struct agent *a, pid_t pid, FILE *out)
{
	size_t i;

	for (i = a->from; i < a->nev; i++) {
		char *s;

		if (pid && js_int(a->ev[i], "pid") != pid)
			continue;
		s = cJSON_PrintUnformatted(a->ev[i]);
		fprintf(out, "  %s\n", s ? s : "?");
		free(s);
	}
}

int64_t js_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return INT64_MIN;
	return (int64_t)v->valuedouble;
}

const char *js_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int js_bool(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsBool(v))
		return -1;
	return cJSON_IsTrue(v);
}

const cJSON *js_obj(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}
