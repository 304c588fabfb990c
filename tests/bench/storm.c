// SPDX-License-Identifier: Apache-2.0
/*
 * bench-storm: the workload driver of `make bench` (tests/bench/run_bench.sh).
 *
 *   bench-storm exec N TINY   fork + execve(TINY) + waitpid, N times
 *   bench-storm connect N     TCP connect to a loopback listener of this
 *                             process, accept, close (RST: no TIME_WAIT), N times
 *   bench-storm setresuid N   setresuid(r, e, s) with the current ids (no-op), N times
 *   bench-storm getppid N     getppid(), N times (a syscall no sensor traces)
 *   bench-storm sink FILE     read stdin to EOF, discard it; write the number
 *                             of lines and the last line to FILE
 *
 * A storm first runs N/10 untimed operations (warm caches, fault in pages),
 * then prints one line on stdout:
 *
 *   <ns per op> <elapsed ns> <ops>
 *
 * The harness runs each storm inside a container-like cgroup and fresh mount
 * and pid namespaces, with and without the agent attached.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "bench-storm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ exec */

static const char *tiny_path;
static char *const tiny_argv[] = { "bench-tiny", NULL };
static char *const tiny_envp[] = { NULL };

static void op_exec(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execve(tiny_path, tiny_argv, tiny_envp);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-storm: %s exited with status 0x%x\n", tiny_path, status);
		exit(1);
	}
}

/* --------------------------------------------------------------- connect */

static int listen_fd;
static struct sockaddr_in listen_addr;

static void connect_setup(void)
{
	socklen_t len = sizeof(listen_addr);
	int one = 1;

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		die("socket");
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&listen_addr, 0, sizeof(listen_addr));
	listen_addr.sin_family = AF_INET;
	listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listen_addr.sin_port = 0; /* any free port */
	if (bind(listen_fd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)))
		die("bind 127.0.0.1");
	if (listen(listen_fd, 128))
		die("listen");
	if (getsockname(listen_fd, (struct sockaddr *)&listen_addr, &len))
		die("getsockname");
}

static void op_connect(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int c, a;

	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		die("socket");
	if (connect(c, (struct sockaddr *)&listen_addr, sizeof(listen_addr)))
		die("connect 127.0.0.1");
	a = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0)
		die("accept");
	/* abortive close: an RST, so no TIME_WAIT piles up and ports recycle */
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c);
	close(a);
}

/* ------------------------------------------------------------- setresuid */

static uid_t ruid, euid, suid;

static void op_setresuid(void)
{
	/* raw syscall: glibc's wrapper may broadcast to threads (there are none) */
	if (syscall(SYS_setresuid, ruid, euid, suid))
		die("setresuid");
}

/* --------------------------------------------------------------- getppid */

static void op_getppid(void)
{
	syscall(SYS_getppid);
}

/* ------------------------------------------------------------------ sink */

static int sink(const char *out)
{
	static char buf[1 << 20];
	static char last[1 << 16];
	size_t lastlen = 0; /* bytes of the current (possibly partial) line kept */
	size_t keep = 0;    /* length of the last complete line */
	static char done[1 << 16];
	unsigned long long lines = 0;
	FILE *f;
	ssize_t n;

	while ((n = read(0, buf, sizeof(buf))) != 0) {
		char *p = buf, *end;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read");
		}
		end = buf + n;
		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t chunk = (size_t)((nl ? nl : end) - p);

			if (lastlen + chunk < sizeof(last)) {
				memcpy(last + lastlen, p, chunk);
				lastlen += chunk;
			} else {
				lastlen = sizeof(last); /* too long to keep: marked truncated */
			}
			if (!nl)
				break;
			lines++;
			keep = lastlen < sizeof(last) ? lastlen : 0;
			memcpy(done, last, keep);
			lastlen = 0;
			p = nl + 1;
		}
	}
	f = fopen(out, "w");
	if (!f)
		die(out);
	fprintf(f, "%llu\n%.*s\n", lines, (int)keep, done);
	return fclose(f) ? 1 : 0;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr, "usage: bench-storm exec N TINY | connect N | setresuid N | getppid N | "
			"sink FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	void (*op)(void) = NULL;
	unsigned long long n, warm, i;
	uint64_t t0, t1;
	char *end;

	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "sink"))
		return sink(argv[2]);

	errno = 0;
	n = strtoull(argv[2], &end, 10);
	if (errno || *end || n == 0)
		usage();

	if (!strcmp(argv[1], "exec")) {
		if (argc != 4)
			usage();
		tiny_path = argv[3];
		if (access(tiny_path, X_OK))
			die(tiny_path);
		op = op_exec;
	} else if (!strcmp(argv[1], "connect")) {
		connect_setup();
		op = op_connect;
	} else if (!strcmp(argv[1], "setresuid")) {
		if (getresuid(&ruid, &euid, &suid))
			die("getresuid");
		op = op_setresuid;
	} else if (!strcmp(argv[1], "getppid")) {
		op = op_getppid;
	} else {
		usage();
	}

	warm = n / 10 ? n / 10 : 1;
	for (i = 0; i < warm; i++)
		op();
	t0 = now_ns();
	for (i = 0; i < n; i++)
		op();
	t1 = now_ns();
	printf("%.2f %llu %llu\n", (double)(t1 - t0) / (double)n, (unsigned long long)(t1 - t0), n);
	return fflush(stdout) ? 1 : 0;
}
