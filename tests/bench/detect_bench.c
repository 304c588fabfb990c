// SPDX-License-Identifier: Apache-2.0
/*
 * detect-bench: the detection-latency probe of `make bench-detect`
 * (tests/bench/detect_bench.sh starts the agent and calls this).
 *
 *   detect-bench latency JOURNAL AGENT_ERR SCOPE DIR TINY N WARMUP INTERVAL_MS TIMEOUT_MS
 *
 * A running `nodeguard run` writes JOURNAL and its stderr goes to AGENT_ERR.
 * We make WARMUP + N copies of TINY (a static binary) as DIR/t-000, t-001 ...
 * (DIR is under /tmp: rule exec-from-writable-or-anonymous-location), then
 * start a "container": a child joins the kubelet-shaped cgroup SCOPE and
 * unshares its mount and pid namespaces; its child (pid 1 inside) runs the
 * triggers. For trigger i, pid 1 forks; the fork records CLOCK_REALTIME into
 * shared memory and calls execve(DIR/t-<i>) right after.
 *
 * We watch both files with inotify (IN_MODIFY) and read new complete lines,
 * timestamping each read with CLOCK_REALTIME:
 *
 *   visible   the journal's "detection" record for DIR/t-<i> (the rule above)
 *             was read from JOURNAL: the write() happened, the record's own
 *             fdatasync may still be running
 *   durable   the agent's "opened/updated ... <rule>: exec DIR/t-<i>" line was
 *             read from AGENT_ERR: the agent logs it after incident_mgr_detect
 *             returned, i.e. after the record's fdatasync
 *   event     the record's "ts_ns": the sensor's bpf_ktime_get_boot_ns() at
 *             sched_process_exec plus the agent's boot-to-realtime offset
 *   first     the first journal line naming DIR/t-<i> was read: for a new
 *             pid that is the incident's "proc" record, written (and
 *             fdatasync'ed) before the detection record. event -> first is
 *             mostly the ring-buffer delivery (the sensors batch wake-ups; the
 *             agent drains every 20 ms) plus the agent's processing up to its
 *             first write; first -> visible is the proc record's fdatasync and
 *             the detection record's formatting and write
 *
 * Triggers are INTERVAL_MS apart (or later, if one takes longer); a trigger
 * whose record has not shown up in TIMEOUT_MS is counted as missed. The
 * first WARMUP triggers (incident opening, container-cache fill) are not in
 * the statistics. Percentiles interpolate linearly between closest ranks. Prints one JSON object on stdout; progress on stderr.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RULE "exec-from-writable-or-anonymous-location"
#define MAX_TRIGGERS 2000

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static pid_t ctr_pid = -1;

static void die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fprintf(stderr, "detect-bench: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e)
		fprintf(stderr, ": %s", strerror(e));
	fputc('\n', stderr);
	if (ctr_pid > 0)
		kill(ctr_pid, SIGKILL);
	exit(1);
}

static int64_t now_rt(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long parse_long(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max) {
		errno = 0;
		die("%s: '%s' is not an integer in [%ld, %ld]", what, s, min, max);
	}
	return v;
}

/* ------------------------------------------------------------ trigger copies */

static void copy_file(const char *from, const char *to)
{
	static char buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		die("open %s", from);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (out < 0)
		die("create %s", to);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			die("write %s", to);
	if (n < 0)
		die("read %s", from);
	close(in);
	if (close(out))
		die("close %s", to);
}

static char dir[PATH_MAX];

static void trig_path(char *buf, size_t n, int i)
{
	snprintf(buf, n, "%s/t-%03d", dir, i);
}

/* ------------------------------------------------------------ the container */

/*
 * Shape: this process ─fork─▶ shim (joins SCOPE, unshares mnt+pid)
 * ─fork─▶ init (pid 1 inside) ─fork per trigger─▶ execve(DIR/t-<i>).
 * Commands: an int index on cmd; init answers the wait status on ack.
 */
static void container_init(int cmd, int ack, volatile int64_t *trig_ns)
{
	static char *const envp[] = { NULL };
	int i;

	for (;;) {
		char path[PATH_MAX + 16];
		char *argv[] = { "bench-tiny", NULL };
		ssize_t n = read(cmd, &i, sizeof(i));
		int status = -1;
		pid_t p;

		if (n == 0)
			_exit(0);
		if (n != (ssize_t)sizeof(i))
			_exit(1);
		trig_path(path, sizeof(path), i);
		p = fork();
		if (p < 0)
			_exit(1);
		if (p == 0) {
			trig_ns[i] = now_rt();
			execve(path, argv, envp);
			_exit(127);
		}
		while (waitpid(p, &status, 0) < 0 && errno == EINTR)
			;
		if (write(ack, &status, sizeof(status)) != (ssize_t)sizeof(status))
			_exit(1);
	}
}

static void container_start(const char *scope, int *cmd_w, int *ack_r, volatile int64_t *trig_ns)
{
	int cmd[2], ack[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(ack, O_CLOEXEC))
		die("pipe");
	ctr_pid = fork();
	if (ctr_pid < 0)
		die("fork");
	if (ctr_pid == 0) {
		char procs[PATH_MAX + 32];
		char me[32];
		int fd, status;
		pid_t init;

		close(cmd[1]);
		close(ack[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", scope);
		snprintf(me, sizeof(me), "%d", (int)getpid());
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, me, strlen(me)) < 0) {
			fprintf(stderr, "detect-bench: join %s: %s\n", procs, strerror(errno));
			_exit(1);
		}
		close(fd);
		if (unshare(CLONE_NEWNS | CLONE_NEWPID)) {
			fprintf(stderr, "detect-bench: unshare: %s\n", strerror(errno));
			_exit(1);
		}
		/* as unshare(1) --mount does: nothing propagates back to the host */
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
			fprintf(stderr, "detect-bench: make / private: %s\n", strerror(errno));
			_exit(1);
		}
		init = fork();
		if (init < 0)
			_exit(1);
		if (init == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			container_init(cmd[0], ack[1], trig_ns);
		}
		close(cmd[0]);
		close(ack[1]);
		while (waitpid(init, &status, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	}
	close(cmd[0]);
	close(ack[1]);
	*cmd_w = cmd[1];
	*ack_r = ack[0];
}

/* ------------------------------------------------------------ file followers */

struct follower {
	const char *path;
	int fd;
	off_t off;
	char buf[1 << 17]; /* partial line carried over */
	size_t len;
};

static void follower_open(struct follower *f, const char *path)
{
	struct stat st;

	f->path = path;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		die("open %s", path);
	if (fstat(f->fd, &st))
		die("stat %s", path);
	f->off = st.st_size; /* only what is written from now on */
	f->len = 0;
}

/* read what is new; call fn for every complete line with the read's time */
static void follower_read(struct follower *f, void (*fn)(const char *line, int64_t t))
{
	for (;;) {
		ssize_t n;
		int64_t t;
		char *p, *nl;

		if (f->len == sizeof(f->buf) - 1)
			f->len = 0; /* a line longer than the buffer: not ours, drop it */
		n = pread(f->fd, f->buf + f->len, sizeof(f->buf) - 1 - f->len, f->off);
		t = now_rt();
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read %s", f->path);
		}
		if (n == 0)
			return;
		f->off += n;
		f->len += (size_t)n;
		f->buf[f->len] = '\0';
		p = f->buf;
		while ((nl = memchr(p, '\n', f->len - (size_t)(p - f->buf)))) {
			*nl = '\0';
			fn(p, t);
			p = nl + 1;
		}
		f->len -= (size_t)(p - f->buf);
		memmove(f->buf, p, f->len);
	}
}

/* ------------------------------------------------------------ matching */

struct sample {
	int64_t trig;    /* CLOCK_REALTIME just before execve */
	int64_t event;   /* the record's ts_ns */
	int64_t first;   /* first journal line naming the trigger read (its "proc" record) */
	int64_t visible; /* journal line read */
	int64_t durable; /* agent log line read */
	int status;      /* the trigger's wait status; -2 before the ack */
};

static struct sample S[MAX_TRIGGERS];
static int ntrig;
static size_t dirlen;

/* the trigger index of "DIR/t-NNN" in s (followed by a non-digit), or -1 */
static int find_trigger(const char *s)
{
	const char *p = s;

	while ((p = strstr(p, dir))) {
		const char *q = p + dirlen;

		p = q;
		if (q[0] == '/' && q[1] == 't' && q[2] == '-' && isdigit((unsigned char)q[3]) &&
		    isdigit((unsigned char)q[4]) && isdigit((unsigned char)q[5]) &&
		    !isdigit((unsigned char)q[6])) {
			int i = (q[3] - '0') * 100 + (q[4] - '0') * 10 + (q[5] - '0');

			return i < ntrig ? i : -1;
		}
	}
	return -1;
}

static void on_journal_line(const char *line, int64_t t)
{
	const char *ts;
	int i;

	i = find_trigger(line);
	if (i < 0)
		return;
	if (!S[i].first)
		S[i].first = t;
	if (!strstr(line, "\"rec\":\"detection\"") || !strstr(line, "\"rule\":\"" RULE "\"") ||
	    S[i].visible)
		return;
	S[i].visible = t;
	/* the record's own ts (rec_begin: "ts", then "ts_ns" as a string) */
	ts = strstr(line, "\"ts_ns\":\"");
	if (ts)
		S[i].event = strtoll(ts + 9, NULL, 10);
}

static void on_log_line(const char *line, int64_t t)
{
	const char *p = strstr(line, RULE ": exec ");
	int i;

	if (!p || !strstr(line, "nodeguard: info: "))
		return;
	i = find_trigger(p);
	if (i >= 0 && !S[i].durable)
		S[i].durable = t;
}

/* ------------------------------------------------------------ statistics */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	int n;
	double min, median, p90, p99, max, mean;
};

/* percentile q of sorted v, linear between closest ranks (numpy's default), in ms */
static double pct(const int64_t *v, int n, double q)
{
	double pos = q * (n - 1);
	int lo = (int)pos;

	if (lo >= n - 1)
		return v[n - 1] / 1e6;
	return ((double)v[lo] + (pos - lo) * (double)(v[lo + 1] - v[lo])) / 1e6;
}

/* in ms */
static struct stats stats_of(int64_t *v, int n)
{
	struct stats s = { .n = n };
	double sum = 0;
	int i;

	if (!n)
		return s;
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	for (i = 0; i < n; i++)
		sum += (double)v[i];
	s.min = v[0] / 1e6;
	s.max = v[n - 1] / 1e6;
	s.mean = sum / n / 1e6;
	s.median = (n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2) / 1e6;
	s.p90 = pct(v, n, 0.90);
	s.p99 = pct(v, n, 0.99);
	return s;
}

static void stats_json(const char *name, const struct stats *s, int last)
{
	printf("\"%s\":{\"n\":%d,\"min\":%.3f,\"median\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f,"
	       "\"mean\":%.3f}%s",
	       name, s->n, s->min, s->median, s->p90, s->p99, s->max, s->mean, last ? "" : ",");
}

/* ------------------------------------------------------------ main */

static int latency(char **argv)
{
	const char *journal = argv[0], *agent_err = argv[1], *scope = argv[2], *tiny = argv[4];
	int n = (int)parse_long(argv[5], "N", 1, MAX_TRIGGERS - 100);
	int warm = (int)parse_long(argv[6], "WARMUP", 0, 100);
	int64_t interval = parse_long(argv[7], "INTERVAL_MS", 0, 10000) * 1000000LL;
	int64_t timeout = parse_long(argv[8], "TIMEOUT_MS", 100, 60000) * 1000000LL;
	static struct follower jf, lf;
	volatile int64_t *trig_ns;
	int cmd, ack, ino, i, missed = 0, missed_durable = 0, bad_exit = 0, status;
	int64_t *tot, *ker, *agt, *dlv, *wrt, *dur, *syn;
	int nt = 0, nd = 0;
	char path[PATH_MAX + 16];
	int64_t t_begin = now_mono();

	if (!realpath(argv[3], dir))
		die("%s", argv[3]);
	if (strncmp(dir, "/tmp/", 5))
		die("%s: the trigger directory must be under /tmp/ (the rule matches /tmp)", dir);
	dirlen = strlen(dir);
	ntrig = warm + n;
	for (i = 0; i < ntrig; i++) {
		trig_path(path, sizeof(path), i);
		copy_file(tiny, path);
	}
	trig_ns = mmap(NULL, sizeof(int64_t) * (size_t)ntrig, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (trig_ns == MAP_FAILED)
		die("mmap");

	follower_open(&jf, journal);
	follower_open(&lf, agent_err);
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino < 0)
		die("inotify_init1");
	if (inotify_add_watch(ino, journal, IN_MODIFY) < 0 || inotify_add_watch(ino, agent_err, IN_MODIFY) < 0)
		die("inotify_add_watch");

	signal(SIGPIPE, SIG_IGN);
	container_start(scope, &cmd, &ack, trig_ns);

	for (i = 0; i < ntrig; i++) {
		int64_t t0 = now_mono(), deadline = t0 + timeout;
		int acked = 0;

		S[i].status = -2;
		if (write(cmd, &i, sizeof(i)) != (ssize_t)sizeof(i))
			die("the container's init is gone (trigger %d)", i);
		for (;;) {
			struct pollfd pf[2] = { { .fd = ino, .events = POLLIN }, { .fd = ack, .events = POLLIN } };
			char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			int64_t now = now_mono();
			int r;

			if (acked && S[i].visible && S[i].durable)
				break;
			if (now >= deadline)
				break;
			r = poll(pf, 2, (int)((deadline - now) / 1000000 + 1));
			if (r < 0 && errno != EINTR)
				die("poll");
			if (pf[0].revents & POLLIN) {
				while (read(ino, evbuf, sizeof(evbuf)) > 0)
					;
				follower_read(&jf, on_journal_line);
				follower_read(&lf, on_log_line);
			}
			if (pf[1].revents & (POLLIN | POLLHUP)) {
				if (read(ack, &status, sizeof(status)) != (ssize_t)sizeof(status))
					die("the container's init is gone (trigger %d)", i);
				S[i].status = status;
				acked = 1;
			}
		}
		if (!acked)
			die("trigger %d did not finish in %lld ms", i, (long long)(timeout / 1000000));
		S[i].trig = trig_ns[i];
		if (i < warm)
			fprintf(stderr, "detect-bench:   warm-up trigger %d: %s\n", i,
				S[i].visible ? "journaled" : "no record yet");
		/* pace: INTERVAL after this trigger started */
		while (now_mono() < t0 + interval) {
			int64_t left = t0 + interval - now_mono();
			struct timespec ts = { .tv_sec = left / 1000000000LL, .tv_nsec = left % 1000000000LL };

			nanosleep(&ts, NULL);
		}
		/* a late record for an earlier trigger is still taken */
		follower_read(&jf, on_journal_line);
		follower_read(&lf, on_log_line);
	}
	close(cmd); /* init exits at EOF */
	while (waitpid(ctr_pid, &status, 0) < 0 && errno == EINTR)
		;
	ctr_pid = -1;

	tot = calloc((size_t)ntrig, sizeof(*tot));
	ker = calloc((size_t)ntrig, sizeof(*ker));
	agt = calloc((size_t)ntrig, sizeof(*agt));
	dur = calloc((size_t)ntrig, sizeof(*dur));
	syn = calloc((size_t)ntrig, sizeof(*syn));
	dlv = calloc((size_t)ntrig, sizeof(*dlv));
	wrt = calloc((size_t)ntrig, sizeof(*wrt));
	if (!tot || !ker || !agt || !dlv || !wrt || !dur || !syn)
		die("calloc");
	for (i = warm; i < ntrig; i++) {
		if (!WIFEXITED(S[i].status) || WEXITSTATUS(S[i].status)) {
			bad_exit++;
			continue;
		}
		if (!S[i].visible || !S[i].event || !S[i].trig) {
			missed++;
			continue;
		}
		tot[nt] = S[i].visible - S[i].trig;
		ker[nt] = S[i].event - S[i].trig;
		agt[nt] = S[i].visible - S[i].event;
		dlv[nt] = S[i].first - S[i].event;
		wrt[nt] = S[i].visible - S[i].first;
		nt++;
		if (!S[i].durable) {
			missed_durable++;
			continue;
		}
		dur[nd] = S[i].durable - S[i].trig;
		syn[nd] = S[i].durable - S[i].visible;
		nd++;
	}
	fprintf(stderr, "detect-bench:   %d triggers (+%d warm-up), %d journaled, %d missed, %d bad exits, "
		"%.1f s\n", n, warm, nt, missed, bad_exit, (now_mono() - t_begin) / 1e9);

	{
		double sum_tot = 0, sum_ker = 0, sum_agt = 0, sum_dlv = 0, sum_wrt = 0;
		struct stats st_tot, st_ker, st_agt, st_dlv, st_wrt, st_dur, st_syn;

		for (i = 0; i < nt; i++) {
			sum_tot += (double)tot[i];
			sum_ker += (double)ker[i];
			sum_agt += (double)agt[i];
			sum_dlv += (double)dlv[i];
			sum_wrt += (double)wrt[i];
		}
		st_dlv = stats_of(dlv, nt);
		st_wrt = stats_of(wrt, nt);
		st_tot = stats_of(tot, nt);
		st_ker = stats_of(ker, nt);
		st_agt = stats_of(agt, nt);
		st_dur = stats_of(dur, nd);
		st_syn = stats_of(syn, nd);
		printf("{\"triggers\":%d,\"warmup\":%d,\"interval_ms\":%lld,\"journaled\":%d,\"missed\":%d,"
		       "\"missed_durable\":%d,\"bad_exits\":%d,",
		       n, warm, (long long)(interval / 1000000), nt, missed, missed_durable, bad_exit);
		printf("\"unit\":\"ms\",");
		stats_json("trigger_to_journal", &st_tot, 0);
		stats_json("trigger_to_event_ts", &st_ker, 0);
		stats_json("event_ts_to_journal", &st_agt, 0);
		stats_json("event_ts_to_first_record", &st_dlv, 0);
		stats_json("first_record_to_journal", &st_wrt, 0);
		stats_json("trigger_to_durable", &st_dur, 0);
		stats_json("journal_to_durable", &st_syn, 0);
		if (sum_tot <= 0)
			sum_tot = 1;
		printf("\"share_trigger_to_event_ts\":%.4f,\"share_event_ts_to_journal\":%.4f,"
		       "\"share_event_ts_to_first_record\":%.4f,\"share_first_record_to_journal\":%.4f,",
		       sum_ker / sum_tot, sum_agt / sum_tot, sum_dlv / sum_tot, sum_wrt / sum_tot);
		printf("\"samples\":[");
		for (i = warm; i < ntrig; i++)
			printf("%s{\"trig_ns\":\"%" PRId64 "\",\"event_ns\":\"%" PRId64 "\","
			       "\"first_record_ns\":\"%" PRId64 "\",\"journal_ns\":\"%" PRId64 "\",\"durable_ns\":\"%" PRId64 "\"}",
			       i > warm ? "," : "", S[i].trig, S[i].event, S[i].first, S[i].visible, S[i].durable);
		printf("]}\n");
	}
	return fflush(stdout) || nt == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 11 && !strcmp(argv[1], "latency"))
		return latency(argv + 2);
	fprintf(stderr, "usage: detect-bench latency JOURNAL AGENT_ERR SCOPE DIR TINY N WARMUP "
			"INTERVAL_MS TIMEOUT_MS\n");
	return 2;
}
