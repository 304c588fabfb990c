// SPDX-License-Identifier: Apache-2.0
/*
 * ng-contain-helper: the workload of the containment tests
 * (tests/integration/test_contain.c) and benchmark (tests/bench/contain_bench.c).
 *
 *   ng-contain-helper shell CMD_FIFO REPLY_FIFO
 *       a shell-like process: pid 1 of a test container. It reads one command
 *       per line from CMD_FIFO and writes one reply line per command (two
 *       for "trigger") to REPLY_FIFO; the first line it writes is
 *       "ready <host pid>".
 *   ng-contain-helper mark MARKER [T0_FD]
 *       the setuid-root side (run from a root 04755 copy by uid 1000): write
 *       the CLOCK_MONOTONIC time to T0_FD, setuid(0), then create MARKER.
 *       A kill rule on gains_root kills it before the marker exists.
 *
 * Commands (every timeout in ms; errors are "err <ERRNO NAME>"):
 *   connect IP PORT TMO     TCP connect, then close: ok | err X | timeout
 *   udp IP PORT             UDP connect(2) (no packet leaves): ok | err X
 *   hold IP PORT TMO        TCP connect and keep it as the held connection
 *   send TEXT               write TEXT to the held connection: ok | err X
 *   recv TMO                data TEXT | timeout | eof | err X
 *   drop                    close the held connection: ok
 *   listen PORT             listen on 0.0.0.0:PORT (never accepts): ok | err X
 *   spin                    fork a child that burns CPU: pid <host pid>
 *   suid SUID MARKER        fork; the child drops to uid/gid 1000 and execs
 *                           SUID mark MARKER FD: status <wait status> lat_ns <ns>
 *                           (lat_ns: from just before setuid(0) to waitpid's return)
 *   burst N IP PORT0 MS     N children, child i connects to IP:PORT0+i then
 *                           sleeps MS and exits 0: statuses S1 .. SN
 *   trigger IP PORT         replies "t0 <ns>" first, then connects (TCP,
 *                           non-blocking, not waited for): done
 *   isotrial IP PORT PIP PPORT MAX
 *                           t0, TCP connect to IP:PORT (non-blocking), then UDP
 *                           connect()s to PIP:PPORT until one fails with EPERM
 *                           or MAX ms pass: lat_ns <ns> probes <n> | timeout
 *   exit                    bye, exit 0
 *
 * Pids are host pids: the container has its own pid namespace but sees the
 * host's /proc, so /proc/self names the host pid.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 512
#define MAX_BURST 16

static int reply_fd = -1;
static int held = -1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	char buf[MAX_LINE];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* a fifo write of < PIPE_BUF bytes is atomic */
	(void)!write(reply_fd, buf, (size_t)n);
}

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENETUNREACH: return "ENETUNREACH";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNRESET: return "ECONNRESET";
	case EPIPE: return "EPIPE";
	case EINVAL: return "EINVAL";
	case EADDRINUSE: return "EADDRINUSE";
	case ENOTCONN: return "ENOTCONN";
	case EBADF: return "EBADF";
	default: return strerror(e);
	}
}

static int in4(struct sockaddr_in *a, const char *ip, const char *port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(port));
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

/* TCP connect with a timeout: fd, or -errno (-ETIMEDOUT) */
static int tcp_connect(const char *ip, const char *port, int tmo_ms)
{
	struct sockaddr_in a;
	struct pollfd p;
	int fd, err = 0;
	socklen_t l = sizeof(err);

	if (in4(&a, ip, port))
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		goto ok;
	if (errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, tmo_ms) <= 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) || err) {
		err = err ? -err : -errno;
		close(fd);
		return err;
	}
ok:
	/* back to blocking for send/recv */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static void say_conn_result(int r)
{
	if (r >= 0)
		reply("ok");
	else if (r == -ETIMEDOUT)
		reply("timeout");
	else
		reply("err %s", errname(-r));
}

static int udp_connect(const char *ip, const char *port)
{
	struct sockaddr_in a;
	int fd, r;

	if (in4(&a, ip, port))
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
	close(fd);
	return r;
}

static pid_t host_pid(void)
{
	char b[32];
	ssize_t n = readlink("/proc/self", b, sizeof(b) - 1);

	if (n <= 0)
		return -1;
	b[n] = '\0';
	return (pid_t)atoi(b);
}

static void cmd_spin(void)
{
	int p[2];
	pid_t pid, hp = -1;

	if (pipe2(p, O_CLOEXEC)) {
		reply("err %s", errname(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		reply("err %s", errname(errno));
		return;
	}
	if (pid == 0) {
		volatile uint64_t x = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		hp = host_pid();
		(void)!write(p[1], &hp, sizeof(hp));
		for (;;)
			x++;
	}
	close(p[1]);
	if (read(p[0], &hp, sizeof(hp)) != sizeof(hp))
		hp = -1;
	close(p[0]);
	reply("pid %d", (int)hp);
}

/* drop to uid/gid 1000 with raw syscalls (as gosu would), exec the setuid copy */
static void cmd_suid(const char *suid, const char *marker)
{
	int p[2], st;
	uint64_t t0 = 0, t1;
	pid_t pid;

	if (pipe(p)) {
		reply("err %s", errname(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		reply("err %s", errname(errno));
		return;
	}
	if (pid == 0) {
		char fd[16];
		char *argv[] = { (char *)suid, "mark", (char *)marker, fd, NULL };

		close(p[0]);
		snprintf(fd, sizeof(fd), "%d", p[1]);
		if (syscall(SYS_setgroups, 0L, NULL) || syscall(SYS_setresgid, 1000L, 1000L, 1000L) ||
		    syscall(SYS_setresuid, 1000L, 1000L, 1000L))
			_exit(3);
		execv(suid, argv);
		_exit(127);
	}
	close(p[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	t1 = now_ns();
	if (read(p[0], &t0, sizeof(t0)) != sizeof(t0))
		t0 = 0;
	close(p[0]);
	reply("status %d lat_ns %llu", st, t0 ? (unsigned long long)(t1 - t0) : 0ull);
}

static void cmd_burst(int n, const char *ip, int port0, int ms)
{
	pid_t pids[MAX_BURST];
	char out[MAX_LINE] = "statuses";
	int i, st;

	if (n < 1 || n > MAX_BURST) {
		reply("err EINVAL");
		return;
	}
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
			char port[16];
			int fd;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			snprintf(port, sizeof(port), "%d", port0 + i);
			fd = tcp_connect(ip, port, 1000);
			if (fd >= 0)
				close(fd);
			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
			_exit(0);
		}
	}
	for (i = 0; i < n; i++) {
		size_t l = strlen(out);

		st = -1;
		if (pids[i] > 0)
			while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
				;
		snprintf(out + l, sizeof(out) - l, " %d", st);
	}
	reply("%s", out);
}

static void cmd_trigger(const char *ip, const char *port)
{
	struct sockaddr_in a;
	int fd;

	if (in4(&a, ip, port)) {
		reply("err EINVAL");
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	reply("t0 %llu", (unsigned long long)now_ns());
	if (fd >= 0) {
		(void)!connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
	}
	reply("done");
}

static void cmd_isotrial(const char *ip, const char *port, const char *pip, const char *pport,
			 int max_ms)
{
	struct sockaddr_in a;
	uint64_t t0, t1, deadline;
	unsigned long probes = 0;
	int fd, r;

	if (in4(&a, ip, port)) {
		reply("err EINVAL");
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		reply("err %s", errname(errno));
		return;
	}
	t0 = now_ns();
	(void)!connect(fd, (struct sockaddr *)&a, sizeof(a));
	deadline = t0 + (uint64_t)max_ms * 1000000ull;
	for (;;) {
		r = udp_connect(pip, pport);
		probes++;
		if (r == -EPERM) {
			t1 = now_ns();
			break;
		}
		if (now_ns() > deadline) {
			close(fd);
			reply("timeout probes %lu last %s", probes, r ? errname(-r) : "ok");
			return;
		}
	}
	close(fd);
	reply("lat_ns %llu probes %lu", (unsigned long long)(t1 - t0), probes);
}

static void cmd_recv(int tmo)
{
	struct pollfd p = { .fd = held, .events = POLLIN };
	char buf[256];
	ssize_t n;
	int r;

	if (held < 0) {
		reply("err ENOTCONN");
		return;
	}
	r = poll(&p, 1, tmo);
	if (r == 0) {
		reply("timeout");
		return;
	}
	n = recv(held, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n == 0)
		reply("eof");
	else if (n < 0)
		reply("err %s", errname(errno));
	else {
		buf[n] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		reply("data %s", buf);
	}
}

static void cmd_listen(const char *port)
{
	struct sockaddr_in a;
	int fd, one = 1;

	if (in4(&a, "0.0.0.0", port)) {
		reply("err EINVAL");
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		reply("err %s", errname(errno));
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16)) {
		reply("err %s", errname(errno));
		close(fd);
		return;
	}
	reply("ok"); /* fd stays open for the life of the shell */
}

static int shell(const char *cmd_path, const char *reply_path)
{
	char line[MAX_LINE], *v[8];
	FILE *in;
	int n;

	/* open order matches the test's: reply (it reads), then commands */
	reply_fd = open(reply_path, O_WRONLY | O_CLOEXEC);
	if (reply_fd < 0)
		return 3;
	in = fopen(cmd_path, "re");
	if (!in)
		return 3;
	reply("ready %d", (int)host_pid());
	while (fgets(line, sizeof(line), in)) {
		char *save = NULL, *t;

		line[strcspn(line, "\n")] = '\0';
		n = 0;
		for (t = strtok_r(line, " ", &save); t && n < 8; t = strtok_r(NULL, " ", &save))
			v[n++] = t;
		if (!n)
			continue;
		if (!strcmp(v[0], "connect") && n == 4) {
			int fd = tcp_connect(v[1], v[2], atoi(v[3]));

			say_conn_result(fd);
			if (fd >= 0)
				close(fd);
		} else if (!strcmp(v[0], "udp") && n == 3) {
			say_conn_result(udp_connect(v[1], v[2]));
		} else if (!strcmp(v[0], "hold") && n == 4) {
			int fd = tcp_connect(v[1], v[2], atoi(v[3]));

			if (fd >= 0) {
				if (held >= 0)
					close(held);
				held = fd;
			}
			say_conn_result(fd);
		} else if (!strcmp(v[0], "send") && n == 2) {
			if (held < 0)
				reply("err ENOTCONN");
			else if (send(held, v[1], strlen(v[1]), MSG_NOSIGNAL) < 0)
				reply("err %s", errname(errno));
			else
				reply("ok");
		} else if (!strcmp(v[0], "recv") && n == 2) {
			cmd_recv(atoi(v[1]));
		} else if (!strcmp(v[0], "drop")) {
			if (held >= 0)
				close(held);
			held = -1;
			reply("ok");
		} else if (!strcmp(v[0], "listen") && n == 2) {
			cmd_listen(v[1]);
		} else if (!strcmp(v[0], "spin")) {
			cmd_spin();
		} else if (!strcmp(v[0], "suid") && n == 3) {
			cmd_suid(v[1], v[2]);
		} else if (!strcmp(v[0], "burst") && n == 5) {
			cmd_burst(atoi(v[1]), v[2], atoi(v[3]), atoi(v[4]));
		} else if (!strcmp(v[0], "trigger") && n == 3) {
			cmd_trigger(v[1], v[2]);
		} else if (!strcmp(v[0], "isotrial") && n == 6) {
			cmd_isotrial(v[1], v[2], v[3], v[4], atoi(v[5]));
		} else if (!strcmp(v[0], "exit")) {
			reply("bye");
			return 0;
		} else {
			reply("err usage");
		}
	}
	return 0;
}

/* uid 1000, euid 0 (setuid-root exec) -> setuid(0) -> marker */
static int mark(const char *marker, const char *t0fd)
{
	int fd;

	if (t0fd) {
		uint64_t t0;
		int w = atoi(t0fd);

		t0 = now_ns();
		(void)!write(w, &t0, sizeof(t0));
		close(w);
	}
	if (syscall(SYS_setuid, 0L))
		return 1;
	fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return 1;
	(void)!write(fd, "root\n", 5);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "shell"))
		return shell(argv[2], argv[3]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "mark"))
		return mark(argv[2], argc == 4 ? argv[3] : NULL);
	fprintf(stderr, "usage: ng-contain-helper shell CMD_FIFO REPLY_FIFO | mark MARKER [T0_FD]\n");
	return 2;
}
