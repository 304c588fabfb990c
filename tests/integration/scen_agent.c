// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scen_agent.h"

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

char *sa_stderr(const struct agent *a)
{
	int fd = open(a->err_path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf)
		return NULL;
	buf[0] = '\0';
	if (fd < 0)
		return buf;
	for (;;) {
		if (len + 4096 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
}

size_t sa_stderr_len(const struct agent *a)
{
	struct stat st;

	return stat(a->err_path, &st) ? 0 : (size_t)st.st_size;
}

int sa_wait_stderr(const struct agent *a, const char *needle, size_t from, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		char *s = sa_stderr(a);
		int hit = s && strlen(s) >= from && strstr(s + from, needle);

		free(s);
		if (hit)
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(20);
	}
}

/* the child: private mounts (if asked), stdio, exec */
static void child(const char *bin, const char *const argv[], int outfd, int errfd, const char *varlib)
{
	int null = open("/dev/null", O_RDONLY);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (null < 0 || dup2(null, 0) < 0 || dup2(outfd, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(126);
	if (varlib) {
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount(varlib, "/var/lib", NULL, MS_BIND, NULL)) {
			dprintf(2, "scen_agent: private /var/lib: %s\n", strerror(errno));
			_exit(125);
		}
	}
	syscall(SYS_close_range, 3, ~0U, 0);
	execv(bin, (char *const *)argv);
	_exit(127);
}

int sa_start(struct agent *a, const char *bin, const char *const args[], const char *dir,
	     const char *varlib, int timeout_ms)
{
	static int seq;
	const char *argv[40];
	int argc = 0, i, outfd, errfd, err;
	long deadline = now_ms() + timeout_ms;
	pid_t pid;

	memset(a, 0, sizeof(*a));
	a->out_fd = -1;
	a->exit_status = -1;
	seq++;
	snprintf(a->out_path, sizeof(a->out_path), "%s/run%d.out", dir, seq);
	snprintf(a->err_path, sizeof(a->err_path), "%s/run%d.err", dir, seq);
	outfd = open(a->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	errfd = open(a->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	a->out_fd = open(a->out_path, O_RDONLY | O_CLOEXEC);
	if (outfd < 0 || errfd < 0 || a->out_fd < 0) {
		err = -errno;
		goto fail;
	}
	/* argv[0] "nodeguard": the no-argument case is exactly `nodeguard` */
	argv[argc++] = "nodeguard";
	for (i = 0; args && args[i] && argc < 38; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto fail;
	}
	if (pid == 0)
		child(bin, argv, outfd, errfd, varlib);
	close(outfd);
	close(errfd);
	outfd = errfd = -1;
	a->pid = pid;

	while (now_ms() < deadline) {
		int st;

		if (!sa_wait_stderr(a, SA_READY, 0, 0))
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
fail:
	if (outfd >= 0)
		close(outfd);
	if (errfd >= 0)
		close(errfd);
	return err;
}

int sa_kill9(struct agent *a)
{
	if (a->pid <= 0)
		return -ESRCH;
	kill(a->pid, SIGKILL);
	while (waitpid(a->pid, &a->exit_status, 0) < 0 && errno == EINTR)
		;
	a->pid = 0;
	/* only complete lines: a torn last line is not a reported detection */
	agent_poll(a);
	return 0;
}
