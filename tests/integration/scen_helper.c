// SPDX-License-Identifier: Apache-2.0
/*
 * ng-scen-helper: the workloads of the detection-engine scenario tests
 * (tests/integration/test_scenarios.c). It runs as pid 1 of a test container
 * (tests/integration/ctr.c) and plays one scenario: an attack shape the
 * default policy must report, or ordinary container life it must not.
 *
 * Report channel: fd 3, as for ng-trigger ("key=value" datagrams; the reader
 * gets the sender's host pid with every message). A process that is about to
 * exec something the test asserts on says so first ("shell=1"), so the test
 * knows its host pid.
 *
 * Exit codes: 0 the scenario ran as scripted, 1 a step under test failed,
 * 2 usage, 3 a setup step failed, 127 exec failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
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

#define REPORT_FD 3

enum { EX_OK = 0, EX_CALL = 1, EX_USAGE = 2, EX_SETUP = 3, EX_EXEC = 127 };

static char *const shell_argv[] = { "sh", "-c", "exit 0", NULL };

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	(void)send(REPORT_FD, buf, (size_t)n, MSG_NOSIGNAL);
}

static int die(int code, const char *what)
{
	int e = errno;

	report("error=%s: %s", what, strerror(e));
	fprintf(stderr, "ng-scen-helper: %s: %s\n", what, strerror(e));
	return code;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* wait for a child; its exit status as a shell would say it (128+sig) */
static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* fork, exec argv[0] with argv, stdout/stderr to /dev/null when quiet */
static int run(char *const argv[], int quiet)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);

			if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
				_exit(EX_SETUP);
		}
		execv(argv[0], argv);
		_exit(EX_EXEC);
	}
	return reap(pid);
}

static int in4(struct sockaddr_in *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

static int tcp_listen(const char *ip, uint16_t port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || in4(&a, ip, port))
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* a connected TCP client (not CLOEXEC: it may become a shell's stdio) */
static int tcp_connect(const char *ip, uint16_t port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || in4(&a, ip, port))
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---------------------------------------------------------------- escalation */

/* the capabilities containerd (and docker) leave a container by default */
static int default_cap(int cap)
{
	static const int keep[] = { 0 /* CHOWN */, 1 /* DAC_OVERRIDE */, 3 /* FOWNER */,
				    4 /* FSETID */, 5 /* KILL */, 6 /* SETGID */, 7 /* SETUID */,
				    8 /* SETPCAP */, 10 /* NET_BIND_SERVICE */, 13 /* NET_RAW */,
				    18 /* SYS_CHROOT */, 27 /* MKNOD */, 29 /* AUDIT_WRITE */,
				    31 /* SETFCAP */ };
	size_t i;

	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (keep[i] == cap)
			return 1;
	return 0;
}

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int v = 40;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 40;
		fclose(f);
	}
	return v;
}

/*
 * "escalate SUID default|privileged": as root, optionally narrow the
 * bounding set to a default container's, drop to uid/gid 1000 (raw
 * syscalls, as gosu would), then exec the setuid-root copy of this program
 * ("root-shell"), which makes itself root and starts a shell.
 */
static int cmd_escalate(int argc, char **argv)
{
	char *args[] = { argv[2], "root-shell", NULL };
	int cap, last = last_cap();

	if (argc != 4)
		return EX_USAGE;
	if (!strcmp(argv[3], "default")) {
		for (cap = 0; cap <= last; cap++)
			if (!default_cap(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
				return die(EX_SETUP, "PR_CAPBSET_DROP");
	} else if (strcmp(argv[3], "privileged")) {
		return EX_USAGE;
	}
	if (syscall(SYS_setgroups, 0L, NULL) || syscall(SYS_setresgid, 1000L, 1000L, 1000L) ||
	    syscall(SYS_setresuid, 1000L, 1000L, 1000L))
		return die(EX_SETUP, "drop to uid 1000");
	report("dropped=%u,%u", (unsigned)getuid(), (unsigned)geteuid());
	execv(argv[2], args);
	return die(EX_EXEC, "execv setuid helper");
}

/* the setuid-root side: uid 1000, euid 0 -> setuid(0) -> /bin/sh */
static int cmd_root_shell(void)
{
	report("suid=%u,%u", (unsigned)getuid(), (unsigned)geteuid());
	if (syscall(SYS_setuid, 0L))
		return die(EX_CALL, "setuid(0)");
	report("root=%u,%u", (unsigned)getuid(), (unsigned)geteuid());
	report("shell=1");
	execv("/bin/sh", shell_argv);
	return die(EX_EXEC, "execv /bin/sh");
}

/* ---------------------------------------------------------------- shells */

/* posix_openpt + setsid + TIOCSCTTY, then /bin/sh on the pty */
static int cmd_ctty_shell(void)
{
	char name[128];
	int m, rc;
	pid_t pid;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)))
		return die(EX_SETUP, "pty");
	pid = fork();
	if (pid < 0)
		return die(EX_SETUP, "fork");
	if (pid == 0) {
		int s;

		if (setsid() < 0)
			_exit(die(EX_SETUP, "setsid"));
		s = open(name, O_RDWR);
		if (s < 0)
			_exit(die(EX_SETUP, "open pty slave"));
		if (ioctl(s, TIOCSCTTY, 0))
			_exit(die(EX_SETUP, "TIOCSCTTY"));
		if (dup2(s, 0) < 0 || dup2(s, 1) < 0 || dup2(s, 2) < 0)
			_exit(die(EX_SETUP, "dup2 pty"));
		if (s > 2)
			close(s);
		report("shell=1");
		execv("/bin/sh", shell_argv);
		_exit(die(EX_EXEC, "execv /bin/sh"));
	}
	rc = reap(pid);
	close(m);
	report("shell.status=%d", rc);
	return rc == 0 ? EX_OK : EX_CALL;
}

/* listener on 127.0.0.1:PORT; a child connects, puts the socket on 0/1/2, execs sh */
static int cmd_reverse_shell(int argc, char **argv)
{
	uint16_t port;
	int l, a, rc;
	pid_t pid;

	if (argc != 3)
		return EX_USAGE;
	port = (uint16_t)atoi(argv[2]);
	l = tcp_listen("127.0.0.1", port);
	if (l < 0)
		return die(EX_SETUP, "listen 127.0.0.1");
	pid = fork();
	if (pid < 0)
		return die(EX_SETUP, "fork");
	if (pid == 0) {
		int c = tcp_connect("127.0.0.1", port);

		if (c < 0)
			_exit(die(EX_CALL, "connect 127.0.0.1"));
		report("shell=1");
		if (dup2(c, 0) < 0 || dup2(c, 1) < 0 || dup2(c, 2) < 0)
			_exit(die(EX_SETUP, "dup2 socket"));
		close(c);
		execv("/bin/sh", shell_argv);
		_exit(die(EX_EXEC, "execv /bin/sh"));
	}
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0)
		return die(EX_CALL, "accept");
	rc = reap(pid);
	close(a);
	close(l);
	report("shell.status=%d", rc);
	return rc == 0 ? EX_OK : EX_CALL;
}

/* ---------------------------------------------------------------- exec */

/* "exec-loop PATH N DELAY_MS": N children exec PATH with argv {PATH, i} */
static int cmd_exec_loop(int argc, char **argv)
{
	int i, n, delay, rc;

	if (argc != 5)
		return EX_USAGE;
	n = atoi(argv[3]);
	delay = atoi(argv[4]);
	for (i = 0; i < n; i++) {
		char num[16];
		char *args[] = { argv[2], num, NULL };

		snprintf(num, sizeof(num), "%d", i);
		rc = run(args, 1);
		if (rc != 0) {
			report("error=exec %s %d: status %d", argv[2], i, rc);
			return EX_CALL;
		}
		if (delay)
			sleep_ms(delay);
	}
	report("execs=%d", n);
	return EX_OK;
}

/* ---------------------------------------------------------------- network */

static int exchange(int srv_listen, int client)
{
	char b = 0;
	int a = accept4(srv_listen, NULL, NULL, SOCK_CLOEXEC);

	if (a < 0)
		return -1;
	if (write(client, "x", 1) != 1 || read(a, &b, 1) != 1 || b != 'x') {
		close(a);
		return -1;
	}
	close(a);
	return 0;
}

/*
 * "metadata IP": a link holding 169.254.169.254/32 in this (the container's)
 * network namespace, made with iproute2 (a dummy; a veth pair where the
 * kernel has no dummy driver), a listener on it, and a connect to it.
 */
static int cmd_metadata(int argc, char **argv)
{
	char *ip = argc == 3 ? argv[2] : NULL;
	char *dummy[] = { ip, "link", "add", "ngmd0", "type", "dummy", NULL };
	char *veth[] = { ip, "link", "add", "ngmd0", "type", "veth", "peer", "name", "ngmd1", NULL };
	char *peer_up[] = { ip, "link", "set", "ngmd1", "up", NULL };
	char *addr[] = { ip, "addr", "add", "169.254.169.254/32", "dev", "ngmd0", NULL };
	char *up[] = { ip, "link", "set", "ngmd0", "up", NULL };
	const char *kind = "dummy";
	int l, c;

	if (!ip)
		return EX_USAGE;
	if (run(dummy, 1) != 0) {
		kind = "veth";
		if (run(veth, 0) != 0 || run(peer_up, 0) != 0)
			return die(EX_SETUP, "ip link add (dummy, veth)");
	}
	if (run(addr, 0) != 0 || run(up, 0) != 0)
		return die(EX_SETUP, "ip addr add 169.254.169.254/32");
	report("md.link=%s", kind);
	l = tcp_listen("169.254.169.254", 80);
	if (l < 0)
		return die(EX_SETUP, "listen 169.254.169.254:80");
	report("connect=1");
	c = tcp_connect("169.254.169.254", 80);
	if (c < 0)
		return die(EX_CALL, "connect 169.254.169.254:80");
	if (exchange(l, c))
		return die(EX_CALL, "exchange with 169.254.169.254:80");
	close(c);
	close(l);
	report("md.ok=1");
	return EX_OK;
}

/*
 * "benign N PORT": a container's ordinary life. N health-probe-like execs of
 * /bin/true and /bin/cat, DNS-like UDP to 127.0.0.53:53, TCP connects to a
 * loopback service on PORT, and a root -> 65534 privilege drop (setgroups,
 * setresgid, setresuid, then exec) as gosu/su-exec do.
 */
static int cmd_benign(int argc, char **argv)
{
	static const char query[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
				    "\x07kubelet\x05local\x00\x00\x01\x00\x01";
	struct sockaddr_in dns;
	char buf[512];
	int n, i, rc, r, s, l;
	uint16_t port;
	pid_t pid;

	if (argc != 4)
		return EX_USAGE;
	n = atoi(argv[2]);
	port = (uint16_t)atoi(argv[3]);
	for (i = 0; i < n; i++) {
		char *t[] = { "/bin/true", NULL };
		char *c[] = { "/bin/cat", "/etc/hostname", NULL };

		if ((rc = run(t, 1)) != 0 || (rc = run(c, 1)) != 0) {
			report("error=probe %d: status %d", i, rc);
			return EX_CALL;
		}
	}
	report("probes=%d", n);

	/* a resolver on 127.0.0.53:53 and a query to it */
	r = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (r < 0 || s < 0 || in4(&dns, "127.0.0.53", 53) || bind(r, (struct sockaddr *)&dns, sizeof(dns)))
		return die(EX_SETUP, "resolver on 127.0.0.53:53");
	for (i = 0; i < 3; i++) {
		if (sendto(s, query, sizeof(query) - 1, 0, (struct sockaddr *)&dns, sizeof(dns)) !=
		    (ssize_t)(sizeof(query) - 1))
			return die(EX_CALL, "sendto 127.0.0.53:53");
		if (recv(r, buf, sizeof(buf), 0) != (ssize_t)(sizeof(query) - 1))
			return die(EX_CALL, "recv on 127.0.0.53:53");
	}
	close(r);
	close(s);
	report("dns=3");

	/* ordinary connects to a loopback service */
	l = tcp_listen("127.0.0.1", port);
	if (l < 0)
		return die(EX_SETUP, "listen 127.0.0.1");
	for (i = 0; i < 5; i++) {
		int c = tcp_connect("127.0.0.1", port);

		if (c < 0 || exchange(l, c))
			return die(EX_CALL, "connect 127.0.0.1");
		close(c);
	}
	close(l);
	report("connects=5");

	/* the entrypoint drops root and execs the workload */
	pid = fork();
	if (pid < 0)
		return die(EX_SETUP, "fork");
	if (pid == 0) {
		char *t[] = { "/bin/true", NULL };

		if (syscall(SYS_setgroups, 0L, NULL) || syscall(SYS_setresgid, 65534L, 65534L, 65534L) ||
		    syscall(SYS_setresuid, 65534L, 65534L, 65534L))
			_exit(die(EX_CALL, "drop to 65534"));
		report("dropped=%u,%u", (unsigned)getuid(), (unsigned)geteuid());
		execv(t[0], t);
		_exit(die(EX_EXEC, "execv /bin/true"));
	}
	rc = reap(pid);
	if (rc != 0) {
		report("error=privilege drop child: status %d", rc);
		return EX_CALL;
	}
	report("benign.ok=1");
	return EX_OK;
}

/* ---------------------------------------------------------------- credentials */

/*
 * "wait-fork READY GO": tell the test our host pid through the READY fifo,
 * block on the GO fifo (no hooked syscall in between), then fork once.
 * The test rewrites our ng_tasks entry while we block.
 */
static int cmd_wait_fork(int argc, char **argv)
{
	char self[32], b = 0;
	ssize_t n;
	int fd, rc;
	pid_t pid;

	if (argc != 4)
		return EX_USAGE;
	/* /proc is the host's: "self" names our host pid */
	n = readlink("/proc/self", self, sizeof(self) - 1);
	if (n <= 0)
		return die(EX_SETUP, "readlink /proc/self");
	self[n] = '\0';
	fd = open(argv[2], O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return die(EX_SETUP, "open ready fifo");
	if (write(fd, self, (size_t)n) != n)
		return die(EX_SETUP, "write ready fifo");
	close(fd);
	fd = open(argv[3], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return die(EX_SETUP, "open go fifo");
	if (read(fd, &b, 1) != 1 || b != 'g')
		return die(EX_SETUP, "read go fifo");
	close(fd);
	pid = fork();
	if (pid < 0)
		return die(EX_CALL, "fork");
	if (pid == 0)
		_exit(0);
	rc = reap(pid);
	report("forked=%d", rc);
	return rc == 0 ? EX_OK : EX_CALL;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(cmd, "escalate"))
		return cmd_escalate(argc, argv);
	if (!strcmp(cmd, "root-shell"))
		return cmd_root_shell();
	if (!strcmp(cmd, "ctty-shell"))
		return cmd_ctty_shell();
	if (!strcmp(cmd, "reverse-shell"))
		return cmd_reverse_shell(argc, argv);
	if (!strcmp(cmd, "exec-loop"))
		return cmd_exec_loop(argc, argv);
	if (!strcmp(cmd, "metadata"))
		return cmd_metadata(argc, argv);
	if (!strcmp(cmd, "benign"))
		return cmd_benign(argc, argv);
	if (!strcmp(cmd, "wait-fork"))
		return cmd_wait_fork(argc, argv);
	fprintf(stderr,
		"usage: ng-scen-helper escalate SUID default|privileged | root-shell | ctty-shell |\n"
		"       reverse-shell PORT | exec-loop PATH N DELAY_MS | metadata IP |\n"
		"       benign N PORT | wait-fork READY_FIFO GO_FIFO\n");
	return EX_USAGE;
}
