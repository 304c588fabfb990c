// SPDX-License-Identifier: Apache-2.0
/*
 * ng-trigger: the small programs the integration tests run inside their
 * "containers" (and once on the host). One static binary, one subcommand per
 * trigger; each does one thing the sensors must see and tells the test what
 * it did through the report channel.
 *
 * Report channel: fd 3, a unix datagram socket whose reader has SO_PASSCRED
 * set, so every message arrives with the sender's pid translated into the
 * reader's (the host's) pid namespace. Messages are "key=value" text. When
 * fd 3 is not a socket, reports are dropped silently.
 *
 * Exit codes: 0 the trigger did what it should, 1 a syscall under test
 * failed, 2 usage, 3 a setup step (socket, fork, ...) failed,
 * 127 exec failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPORT_FD 3

enum { EX_OK = 0, EX_CALL = 1, EX_USAGE = 2, EX_SETUP = 3, EX_EXEC = 127 };

extern char **environ;

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
	report("error=%s: %s", what, strerror(errno));
	fprintf(stderr, "ng-trigger: %s: %s\n", what, strerror(errno));
	return code;
}

/* uid r,e,s,fs / gid r,e,s,fs / ngroups / cap inh,prm,eff from /proc/self/status */
static void report_status(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	unsigned u[4] = { 0 }, g[4] = { 0 };
	unsigned long long inh = 0, prm = 0, eff = 0;
	unsigned ngroups = 0;
	char line[4096];

	if (!f) {
		report("error=open /proc/self/status: %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Uid:", 4))
			sscanf(line + 4, "%u %u %u %u", &u[0], &u[1], &u[2], &u[3]);
		else if (!strncmp(line, "Gid:", 4))
			sscanf(line + 4, "%u %u %u %u", &g[0], &g[1], &g[2], &g[3]);
		else if (!strncmp(line, "Groups:", 7)) {
			char *save = NULL, *t;

			for (t = strtok_r(line + 7, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
				ngroups++;
		} else if (!strncmp(line, "CapInh:", 7))
			inh = strtoull(line + 7, NULL, 16);
		else if (!strncmp(line, "CapPrm:", 7))
			prm = strtoull(line + 7, NULL, 16);
		else if (!strncmp(line, "CapEff:", 7))
			eff = strtoull(line + 7, NULL, 16);
	}
	fclose(f);
	report("%s=%u,%u,%u,%u,%u,%u,%u,%u,%u,%llx,%llx,%llx", key, u[0], u[1], u[2], u[3], g[0],
	       g[1], g[2], g[3], ngroups, inh, prm, eff);
}

/* ------------------------------------------------------------ credentials */

/*
 * Each op runs once, as root, with fixed arguments (tests/integration/
 * test_sensors.c holds the same table and the expected results). The raw
 * syscall is used so glibc's multi-thread setxid machinery stays out of it.
 */
static int cmd_cred(int argc, char **argv)
{
	static const gid_t groups[2] = { 1001, 1002 };
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	const char *op;
	long ret;

	if (argc != 3)
		return EX_USAGE;
	op = argv[2];
	report_status("before");
	errno = 0;
	if (!strcmp(op, "setuid"))
		ret = syscall(SYS_setuid, 1000L);
	else if (!strcmp(op, "setgid"))
		ret = syscall(SYS_setgid, 1000L);
	else if (!strcmp(op, "setreuid"))
		ret = syscall(SYS_setreuid, 1000L, 1001L);
	else if (!strcmp(op, "setregid"))
		ret = syscall(SYS_setregid, 1000L, 1001L);
	else if (!strcmp(op, "setresuid"))
		ret = syscall(SYS_setresuid, 1000L, 1001L, 1002L);
	else if (!strcmp(op, "setresgid"))
		ret = syscall(SYS_setresgid, 1000L, 1001L, 1002L);
	else if (!strcmp(op, "setfsuid"))
		ret = syscall(SYS_setfsuid, 1005L);
	else if (!strcmp(op, "setfsgid"))
		ret = syscall(SYS_setfsgid, 1005L);
	else if (!strcmp(op, "setgroups")) {
		report("ptr=%llu", (unsigned long long)(uintptr_t)groups);
		ret = syscall(SYS_setgroups, 2L, groups);
	} else if (!strcmp(op, "capset")) {
		if (syscall(SYS_capget, &hdr, data))
			return die(EX_SETUP, "capget");
		/* drop CAP_NET_RAW from effective and permitted, clear inheritable */
		data[0].effective &= ~(1u << CAP_NET_RAW);
		data[0].permitted &= ~(1u << CAP_NET_RAW);
		data[0].inheritable = 0;
		data[1].inheritable = 0;
		report("ptr=%llu,%llu", (unsigned long long)(uintptr_t)&hdr,
		       (unsigned long long)(uintptr_t)data);
		ret = syscall(SYS_capset, &hdr, data);
	} else {
		return EX_USAGE;
	}
	report("ret=%ld", ret);
	if (ret < 0)
		return die(EX_CALL, op);
	report_status("after");
	return EX_OK;
}

/* drop to uid/gid N, then exec a (setuid) program: "suid-exec N PATH" */
static int cmd_suid_exec(int argc, char **argv)
{
	unsigned id;
	char *args[] = { argv[3], "whoami", NULL };

	if (argc != 4)
		return EX_USAGE;
	id = (unsigned)strtoul(argv[2], NULL, 10);
	if (setgroups(0, NULL) || setresgid(id, id, id) || setresuid(id, id, id))
		return die(EX_SETUP, "drop privileges");
	execve(argv[3], args, environ);
	return die(EX_EXEC, "execve");
}

/* the target of the exec tests: says what the kernel named it */
static int cmd_argv(void)
{
	char comm[17] = { 0 };

	if (prctl(PR_GET_NAME, comm))
		return die(EX_SETUP, "PR_GET_NAME");
	report("comm=%s", comm);
	return EX_OK;
}

static int cmd_whoami(void)
{
	report_status("ids");
	return EX_OK;
}

/* ---------------------------------------------------------------- network */

static int loopback(int family, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	}
	return 0;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/*
 * A loopback TCP connection: listener on port 0, client connects to it.
 * bind_client binds the client to loopback:0 first (so the sensor sees a
 * source address and port); otherwise the kernel picks them after the hook.
 * Returns the connected client fd; *srv the accepted one.
 */
static int tcp_pair(int family, int bind_client, int *srv, int *port, int *sport)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l, c, one = 1;

	l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -1;
	loopback(family, 0, &ss, &len);
	if (bind(l, (struct sockaddr *)&ss, len) || listen(l, 4))
		return -1;
	*port = bound_port(l);
	c = socket(family, SOCK_STREAM, 0);
	if (c < 0)
		return -1;
	*sport = 0;
	if (bind_client) {
		setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		loopback(family, 0, &ss, &len);
		if (bind(c, (struct sockaddr *)&ss, len))
			return -1;
		*sport = bound_port(c);
	}
	loopback(family, (uint16_t)*port, &ss, &len);
	if (connect(c, (struct sockaddr *)&ss, len))
		return -1;
	*srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (*srv < 0)
		return -1;
	close(l);
	return c;
}

/* "tcp4" binds the client first, "tcp6" leaves it unbound */
static int cmd_tcp(int family)
{
	int srv, port, sport, c;
	char b = 0;

	c = tcp_pair(family, family == AF_INET, &srv, &port, &sport);
	if (c < 0)
		return die(EX_CALL, "tcp connect");
	if (write(c, "x", 1) != 1 || read(srv, &b, 1) != 1 || b != 'x')
		return die(EX_CALL, "tcp exchange");
	report("port=%d", port);
	report("sport=%d", sport);
	close(c);
	close(srv);
	return EX_OK;
}

/* unconnected UDP: sendto() a receiver bound on loopback:0 */
static int cmd_udp(int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int r, s, port;
	char buf[8] = { 0 };

	r = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (r < 0 || s < 0)
		return die(EX_SETUP, "socket");
	loopback(family, 0, &ss, &len);
	if (bind(r, (struct sockaddr *)&ss, len))
		return die(EX_SETUP, "bind");
	port = bound_port(r);
	loopback(family, (uint16_t)port, &ss, &len);
	if (sendto(s, "ping", 4, 0, (struct sockaddr *)&ss, len) != 4)
		return die(EX_CALL, "sendto");
	if (recv(r, buf, sizeof(buf), 0) != 4 || memcmp(buf, "ping", 4))
		return die(EX_CALL, "recv");
	report("port=%d", port);
	return EX_OK;
}

/* ------------------------------------------------------------------- exec */

/* "exec PATH ARG0 ARGS...": execve(PATH, [ARG0, ARGS...]) */
static int cmd_exec(int argc, char **argv)
{
	if (argc < 4)
		return EX_USAGE;
	execve(argv[2], argv + 3, environ);
	return die(EX_EXEC, "execve");
}

/* reverse-shell shape: stdin/stdout/stderr are a TCP socket, then exec */
static int cmd_sock_exec(int argc, char **argv)
{
	char *args[] = { argv[2], "argv", "from-socket", NULL };
	int srv, port, sport, c;

	if (argc != 3)
		return EX_USAGE;
	c = tcp_pair(AF_INET, 0, &srv, &port, &sport);
	if (c < 0)
		return die(EX_SETUP, "tcp connect");
	report("port=%d", port);
	if (dup2(c, 0) < 0 || dup2(c, 1) < 0 || dup2(c, 2) < 0)
		return die(EX_SETUP, "dup2");
	execve(argv[2], args, environ);
	return die(EX_EXEC, "execve");
}

/* fexecve() of a memfd holding a copy of this program */
static int cmd_memfd_exec(void)
{
	char *args[] = { "ng-memfd", "argv", "in-memory", NULL };
	struct stat st;
	int src, fd;
	off_t off = 0;

	src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0 || fstat(src, &st))
		return die(EX_SETUP, "open /proc/self/exe");
	fd = memfd_create("ng-memfd", MFD_CLOEXEC);
	if (fd < 0)
		return die(EX_SETUP, "memfd_create");
	while (off < st.st_size)
		if (sendfile(fd, src, &off, (size_t)(st.st_size - off)) <= 0)
			return die(EX_SETUP, "copy to memfd");
	close(src);
	if (fstat(fd, &st))
		return die(EX_SETUP, "fstat memfd");
	report("fd=%d", fd);
	report("exe=%llu,%u,%u", (unsigned long long)st.st_ino, major(st.st_dev), minor(st.st_dev));
	fexecve(fd, args, environ);
	return die(EX_EXEC, "fexecve");
}

/* take a pty as controlling terminal (we are a session leader), then exec */
static int cmd_ctty_exec(int argc, char **argv)
{
	char *args[] = { argv[2], "argv", "with-tty", NULL };
	char name[128];
	int m, s;

	if (argc != 3)
		return EX_USAGE;
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)))
		return die(EX_SETUP, "pty");
	s = open(name, O_RDWR | O_CLOEXEC);
	if (s < 0)
		return die(EX_SETUP, "open pty slave");
	if (ioctl(s, TIOCSCTTY, 0))
		return die(EX_SETUP, "TIOCSCTTY");
	execve(argv[2], args, environ);
	return die(EX_EXEC, "execve");
}

/* ---------------------------------------------------------- fork and exit */

static int cmd_fork_exit(void)
{
	pid_t a, b;
	int sa, sb;

	a = fork();
	if (a < 0)
		return die(EX_SETUP, "fork");
	if (a == 0) {
		report("child_a=%d", (int)getpid());
		_exit(7);
	}
	if (waitpid(a, &sa, 0) != a)
		return die(EX_SETUP, "waitpid");
	b = fork();
	if (b < 0)
		return die(EX_SETUP, "fork");
	if (b == 0) {
		report("child_b=%d", (int)getpid());
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
		_exit(99);
	}
	if (waitpid(b, &sb, 0) != b)
		return die(EX_SETUP, "waitpid");
	report("status=%d,%d", sa, sb);
	if (!WIFEXITED(sa) || WEXITSTATUS(sa) != 7 || !WIFSIGNALED(sb) || WTERMSIG(sb) != SIGTERM)
		return EX_CALL;
	return EX_OK;
}

/* ------------------------------------------------- host-side control run */

/*
 * Everything the sensors watch, done by one process: a fork, a credential
 * change, a TCP connect and a UDP send. Run on the host, it must produce no
 * event in container-only mode, and exactly these with --all.
 */
static int cmd_host_activity(void)
{
	pid_t c;
	int st, rc;

	c = fork();
	if (c < 0)
		return die(EX_SETUP, "fork");
	if (c == 0)
		_exit(0);
	if (waitpid(c, &st, 0) != c)
		return die(EX_SETUP, "waitpid");
	report("child=%d", (int)c);
	/* a real change (saved gid 0 -> 1): successful no-op calls are filtered */
	if (syscall(SYS_setresgid, (long)(gid_t)-1, 0L, 1L))
		return die(EX_CALL, "setresgid");
	rc = cmd_tcp(AF_INET);
	if (rc)
		return rc;
	return cmd_udp(AF_INET);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "exit"))
		return argc > 2 ? atoi(argv[2]) : 0;
	if (!strcmp(cmd, "argv"))
		return cmd_argv();
	if (!strcmp(cmd, "whoami"))
		return cmd_whoami();
	if (!strcmp(cmd, "exec"))
		return cmd_exec(argc, argv);
	if (!strcmp(cmd, "cred"))
		return cmd_cred(argc, argv);
	if (!strcmp(cmd, "suid-exec"))
		return cmd_suid_exec(argc, argv);
	if (!strcmp(cmd, "tcp4"))
		return cmd_tcp(AF_INET);
	if (!strcmp(cmd, "tcp6"))
		return cmd_tcp(AF_INET6);
	if (!strcmp(cmd, "udp4"))
		return cmd_udp(AF_INET);
	if (!strcmp(cmd, "udp6"))
		return cmd_udp(AF_INET6);
	if (!strcmp(cmd, "sock-exec"))
		return cmd_sock_exec(argc, argv);
	if (!strcmp(cmd, "memfd-exec"))
		return cmd_memfd_exec();
	if (!strcmp(cmd, "ctty-exec"))
		return cmd_ctty_exec(argc, argv);
	if (!strcmp(cmd, "fork-exit"))
		return cmd_fork_exit();
	if (!strcmp(cmd, "host-activity"))
		return cmd_host_activity();
	fprintf(stderr,
		"usage: ng-trigger exit N | argv ARGS... | whoami | exec PATH ARG0 ARGS... |\n"
		"       cred OP | suid-exec UID PATH | tcp4 | tcp6 | udp4 | udp6 |\n"
		"       sock-exec PATH | memfd-exec | ctty-exec PATH | fork-exit | host-activity\n");
	return EX_USAGE;
}
