// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctr.h"

/* every container created and not yet destroyed, for the atexit sweep */
#define CTR_LIVE_MAX 128
static struct ctr *live[CTR_LIVE_MAX];

static void live_add(struct ctr *c)
{
	int i;

	for (i = 0; i < CTR_LIVE_MAX; i++)
		if (!live[i]) {
			live[i] = c;
			return;
		}
}

static void live_del(struct ctr *c)
{
	int i;

	for (i = 0; i < CTR_LIVE_MAX; i++)
		if (live[i] == c)
			live[i] = NULL;
}

void ctr_cleanup_all(void)
{
	int i;

	for (i = 0; i < CTR_LIVE_MAX; i++)
		if (live[i])
			ctr_destroy(live[i]);
}

/* mountinfo: id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
int ctr_cgroup2_root(char *out, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (rc == -ENOENT && fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok, *mnt = NULL;
		int field = 0, after = 0;

		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), field++) {
			if (field == 4)
				mnt = tok;
			if (after) {
				if (!strcmp(tok, "cgroup2") && mnt) {
					/* undo mountinfo's \ooo escapes */
					char *s = mnt, *o = out, *end = out + n - 1;

					while (*s && o < end) {
						if (s[0] == '\\' && s[1] && s[2] && s[3]) {
							*o++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
							s += 4;
						} else {
							*o++ = *s++;
						}
					}
					*o = '\0';
					rc = 0;
				}
				break;
			}
			if (field > 5 && !strcmp(tok, "-"))
				after = 1;
		}
	}
	fclose(f);
	return rc;
}

uint64_t ctr_cgroup_id(const char *dir)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	int mount_id;
	uint64_t id;

	if (name_to_handle_at(AT_FDCWD, dir, &h.fh, &mount_id, 0))
		return 0;
	memcpy(&id, h.fh.f_handle, sizeof(id));
	return id;
}

uint64_t ctr_cgroup_id_of(pid_t pid)
{
	char p[64], line[4096], root[PATH_MAX], dir[PATH_MAX + 4096];
	FILE *f;
	uint64_t id = 0;

	if (ctr_cgroup2_root(root, sizeof(root)))
		return 0;
	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	f = fopen(p, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(dir, sizeof(dir), "%s%s", root, line + 3);
		id = ctr_cgroup_id(dir);
		break;
	}
	fclose(f);
	return id;
}

static int random_bytes(unsigned char *b, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(b + got, n - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n != (ssize_t)strlen(s))
		err = n < 0 ? -errno : -EIO;
	close(fd);
	return err;
}

int ctr_create(struct ctr *c)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16 + 32];
	char root[PATH_MAX], path[PATH_MAX * 2];
	const char *parts[4];
	char pod_slice[128], scope[128];
	int i, err, try;

	memset(c, 0, sizeof(*c));
	err = ctr_cgroup2_root(root, sizeof(root));
	if (err)
		return err;
	err = random_bytes(r, sizeof(r));
	if (err)
		return err;
	r[6] = (r[6] & 0x0f) | 0x40; /* version 4 */
	r[8] = (r[8] & 0x3f) | 0x80; /* variant */
	snprintf(c->pod_uid, sizeof(c->pod_uid),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
		 r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
		 r[15]);
	for (i = 0; i < 32; i++) {
		c->id[2 * i] = hex[r[16 + i] >> 4];
		c->id[2 * i + 1] = hex[r[16 + i] & 15];
	}
	c->id[64] = '\0';

	/* systemd's cgroup driver: the pod uid's dashes become underscores */
	snprintf(pod_slice, sizeof(pod_slice), "kubepods-besteffort-pod%s.slice", c->pod_uid);
	for (i = 0; pod_slice[i]; i++)
		if (pod_slice[i] == '-' && i > (int)strlen("kubepods-besteffort-pod") - 1)
			pod_slice[i] = '_';
	snprintf(scope, sizeof(scope), "cri-containerd-%s.scope", c->id);
	parts[0] = "kubepods.slice";
	parts[1] = "kubepods-besteffort.slice";
	parts[2] = pod_slice;
	parts[3] = scope;

	/* another test run may remove a shared parent between our mkdirs: retry */
	for (try = 0; try < 5; try++) {
		snprintf(path, sizeof(path), "%s", root);
		err = 0;
		for (i = 0; i < 4; i++) {
			size_t l = strlen(path);

			snprintf(path + l, sizeof(path) - l, "/%s", parts[i]);
			if (mkdir(path, 0755) == 0) {
				if (c->ndirs < 16)
					c->dirs[c->ndirs++] = strdup(path);
			} else if (errno != EEXIST || i >= 2) {
				err = -errno;
				break;
			}
		}
		if (err != -ENOENT)
			break;
	}
	if (err)
		goto fail;
	snprintf(c->scope, sizeof(c->scope), "%s", path);
	c->cgroup_id = ctr_cgroup_id(c->scope);
	if (!c->cgroup_id) {
		err = -errno;
		goto fail;
	}
	live_add(c);
	return 0;
fail:
	ctr_destroy(c);
	return err ? err : -EIO;
}

static int cgroup_populated(const char *dir)
{
	char p[PATH_MAX + 32], buf[256];
	int fd, populated = -1;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/cgroup.events", dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		char *s;

		buf[n] = '\0';
		s = strstr(buf, "populated ");
		if (s)
			populated = s[10] == '1';
	}
	return populated;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void ctr_destroy(struct ctr *c)
{
	int i, waited;

	if (!c)
		return;
	live_del(c);
	if (c->scope[0]) {
		char p[PATH_MAX + 32];

		snprintf(p, sizeof(p), "%s/cgroup.kill", c->scope);
		if (cgroup_populated(c->scope) == 1)
			write_file(p, "1");
		for (waited = 0; waited < 3000 && cgroup_populated(c->scope) == 1; waited += 10)
			sleep_ms(10);
	}
	/* innermost first; shared parents only if we made them and they are empty */
	for (i = c->ndirs - 1; i >= 0; i--) {
		for (waited = 0; rmdir(c->dirs[i]) && errno == EBUSY && waited < 2000; waited += 10)
			sleep_ms(10);
		free(c->dirs[i]);
		c->dirs[i] = NULL;
	}
	c->ndirs = 0;
	c->scope[0] = '\0';
}

/* ------------------------------------------------------------------- run */

static uint32_t ns_inode(const char *name)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/self/ns/%s", name);
	if (stat(p, &st))
		return 0;
	return (uint32_t)st.st_ino;
}

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

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
	char buf[CTR_MSG_LEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)send(fd, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1),
			   MSG_NOSIGNAL);
}

#define SHIM_FAIL(what)                                                              \
	do {                                                                         \
		say(rep, "ctr.error=%s: %s", what, strerror(errno));                 \
		_exit(125);                                                          \
	} while (0)

/* the shim: joins the scope, unshares, starts pid 1, waits for it */
static void shim(struct ctr *c, char *const argv[], int rep, int logfd)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	char procs[PATH_MAX + 32];
	pid_t init;
	int st;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", c->scope);
	errno = 0;
	if (write_file(procs, "0"))
		SHIM_FAIL("join cgroup");
	if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID))
		SHIM_FAIL("unshare");
	/* nothing we mount here may leak back to the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		SHIM_FAIL("make / private");
	if (sethostname(c->id, 12))
		SHIM_FAIL("sethostname");
	errno = -lo_up();
	if (errno)
		SHIM_FAIL("bring up lo");
	init = fork();
	if (init < 0)
		SHIM_FAIL("fork");
	if (init == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* a session of its own: no controlling terminal from the test's */
		setsid();
		if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
		    dup2(rep, 3) < 0)
			SHIM_FAIL("set up stdio");
		syscall(SYS_close_range, 4, ~0U, 0);
		execve(argv[0], argv, envp);
		SHIM_FAIL("execve");
	}
	/* pid_for_children reads as nothing until the namespace has its init */
	say(rep, "ctr.ns=%u,%u,%u,%u", ns_inode("pid_for_children"), ns_inode("mnt"),
	    ns_inode("net"), ns_inode("uts"));
	say(rep, "ctr.init=%d", (int)init);
	while (waitpid(init, &st, 0) < 0) {
		if (errno != EINTR)
			SHIM_FAIL("waitpid");
	}
	say(rep, "ctr.status=%d", st);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* a plain host process with the same stdio and report channel */
static void host_exec(char *const argv[], int rep, int logfd)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setsid();
	if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
	    dup2(rep, 3) < 0)
		SHIM_FAIL("set up stdio");
	syscall(SYS_close_range, 4, ~0U, 0);
	execve(argv[0], argv, envp);
	SHIM_FAIL("execve");
}

static void drain(struct ctr *c, int fd)
{
	for (;;) {
		char buf[CTR_MSG_LEN];
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(struct ucred))];
		} cm;
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cm, .msg_controllen = sizeof(cm),
		};
		struct cmsghdr *h;
		struct ctr_msg *m;
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0)
			return;
		buf[n] = '\0';
		if (c->nmsgs >= CTR_MAX_MSGS)
			continue;
		m = &c->msgs[c->nmsgs++];
		m->pid = 0;
		m->uid = (uid_t)-1;
		snprintf(m->text, sizeof(m->text), "%s", buf);
		for (h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS) {
				struct ucred uc;

				memcpy(&uc, CMSG_DATA(h), sizeof(uc));
				m->pid = uc.pid;
				m->uid = uc.uid;
			}
		}
	}
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int run(struct ctr *c, char *const argv[], const char *logdir, int timeout_ms, int host)
{
	char logpath[PATH_MAX + 128];
	int sp[2] = { -1, -1 }, logfd = -1, pidfd = -1, one = 1, err = 0, st;
	long deadline = now_ms() + timeout_ms;
	const char *v;
	pid_t pid;

	c->nmsgs = 0;
	c->timed_out = 0;
	c->init_status = c->shim_status = -1;
	c->log[0] = '\0';
	snprintf(logpath, sizeof(logpath), "%s/%.12s.log", logdir, c->id);
	logfd = open(logpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp)) {
		err = -errno;
		goto out;
	}
	/* the reader must ask for credentials before anything is sent */
	if (setsockopt(sp[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
		err = -errno;
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (pid == 0) {
		close(sp[0]);
		if (host)
			host_exec(argv, sp[1], logfd);
		shim(c, argv, sp[1], logfd);
	}
	c->shim_pid = pid;
	close(sp[1]);
	sp[1] = -1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		err = -errno;
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		goto out;
	}
	/* read reports while it runs: a datagram queue holds only a few */
	for (;;) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = sp[0], .events = POLLIN } };
		long left = deadline - now_ms();

		if (left <= 0) {
			char k[PATH_MAX + 32];

			c->timed_out = 1;
			if (c->scope[0]) {
				snprintf(k, sizeof(k), "%s/cgroup.kill", c->scope);
				write_file(k, "1");
			}
			kill(pid, SIGKILL);
			err = -ETIMEDOUT;
			break;
		}
		if (poll(p, 2, (int)left) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		if (p[1].revents & POLLIN)
			drain(c, sp[0]);
		if (p[0].revents & POLLIN)
			break;
	}
	while (waitpid(pid, &c->shim_status, 0) < 0 && errno == EINTR)
		;
	drain(c, sp[0]);

	v = ctr_report(c, "ctr.ns", 0, NULL);
	if (v)
		sscanf(v, "%u,%u,%u,%u", &c->pidns, &c->mntns, &c->netns, &c->utsns);
	v = ctr_report(c, "ctr.init", 0, NULL);
	if (v)
		c->init_pid = atoi(v);
	v = ctr_report(c, "ctr.status", 0, NULL);
	if (v)
		c->init_status = atoi(v);
	if (host) {
		c->init_pid = c->shim_pid;
		c->init_status = c->shim_status;
	}
	if (!err && ctr_report(c, "ctr.error", 0, NULL))
		err = -ECHILD;
	{
		ssize_t n = pread(logfd, c->log, sizeof(c->log) - 1, 0);

		c->log[n > 0 ? n : 0] = '\0';
	}
out:
	if (pidfd >= 0)
		close(pidfd);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	close(logfd);
	return err;
}

int ctr_run(struct ctr *c, char *const argv[], const char *logdir, int timeout_ms)
{
	if (!c->scope[0])
		return -EINVAL;
	return run(c, argv, logdir, timeout_ms, 0);
}

int ctr_run_host(struct ctr *c, char *const argv[], const char *logdir, int timeout_ms)
{
	static int seq;
	unsigned char r[8];
	int i;

	memset(c, 0, sizeof(*c));
	/* a name for the log file only */
	if (random_bytes(r, sizeof(r)))
		memset(r, 0, sizeof(r));
	for (i = 0; i < 6; i++)
		snprintf(c->id + 2 * i, 3, "%02x", r[i]);
	snprintf(c->id + 12, sizeof(c->id) - 12, "-host%d", ++seq);
	return run(c, argv, logdir, timeout_ms, 1);
}

const char *ctr_report(const struct ctr *c, const char *key, int nth, pid_t *pid)
{
	size_t kl = strlen(key);
	int i;

	for (i = 0; i < c->nmsgs; i++) {
		const char *t = c->msgs[i].text;

		if (strncmp(t, key, kl) || t[kl] != '=')
			continue;
		if (nth-- > 0)
			continue;
		if (pid)
			*pid = c->msgs[i].pid;
		return t + kl + 1;
	}
	return NULL;
}

void ctr_dump(const struct ctr *c, FILE *out)
{
	int i;

	fprintf(out, "container %.12s (cgroup id %llu, init pid %d, status %#x, shim %#x%s):\n",
		c->id, (unsigned long long)c->cgroup_id, (int)c->init_pid, c->init_status,
		c->shim_status, c->timed_out ? ", TIMED OUT" : "");
	for (i = 0; i < c->nmsgs; i++)
		fprintf(out, "  [pid %d] %s\n", (int)c->msgs[i].pid, c->msgs[i].text);
	if (c->log[0])
		fprintf(out, "  output: %s\n", c->log);
}
