// SPDX-License-Identifier: Apache-2.0
/*
 * contain-bench (`make bench-contain`): how fast containment takes effect, and
 * what a loaded deny table costs. A benchmark, not a pass/fail test: it
 * prints a table and writes tests/bench/results/contain-<ts>.json (and
 * contain-latest.json). Root only.
 *
 * Latency, from the triggering syscall to enforcement, over TRIALS trials
 * each (median and p99; with 30 trials p99 is the slowest one):
 *
 *   kill     a kill rule (cred-change, gains_root) compiled into the kernel:
 *            uid 1000 runs a setuid-root helper that calls setuid(0).
 *            From just before setuid(0) to the parent's waitpid() returning
 *            the SIGKILL status. 0 kernel<->agent round trips.
 *   isolate  a connect matching an [isolate] rule; from just before that
 *            connect() to the first probe (a UDP connect(), which sends
 *            nothing) that fails with EPERM. 1 round trip: kernel event ->
 *            agent -> journal (intent) -> kernel maps.
 *   freeze   a connect matching a [freeze] rule; from just before that
 *            connect() to cgroup.events saying "frozen 1" (watched with
 *            POLLPRI). 1 round trip: kernel event -> agent -> cgroup.freeze.
 *
 * Each trial is released with `nodeguardctl release --container` before the
 * next; trial i connects to port BASE+i so every trigger is a new detection.
 *
 * Deny table overhead: the connect storm of `make bench` (bench-storm
 * connect N: TCP connect/accept/RST-close over loopback) in a container,
 * ROUNDS x [empty deny table, 1,000 entries] interleaved ABBA, after the
 * agent has stopped: its pinned connect programs stay attached and are then
 * the only BPF on the path, so the conditions differ by the table alone. The 1,000 entries (500 for the storm container's own
 * cgroup, 500 node-wide, /32s in 10.250.0.0/16 and 10.251.0.0/16, port 80)
 * never match the storm's destination; they are written straight into the
 * agent's pinned ng_deny4 map (and ng_enf_state.n_deny), because the policy
 * path adds deny entries per detection and caps a rule at 127 CIDRs. The
 * empty table is the shipping state of a policy without deny rules
 * (n_deny 0: the connect hook returns at once).
 *
 * Environment: NODEGUARD, NODEGUARDCTL, NG_CONTAIN_HELPER, BENCH_STORM
 * (build/tests/bench-storm), BENCH_CONTAIN_TRIALS (30), BENCH_CONTAIN_ROUNDS
 * (10), BENCH_CONTAIN_CONNECTS (20000), BENCH_RESULTS (tests/bench/results).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "nodeguard/enforce.h"
#include "contain_lib.h"
#include "ctr.h"
#include "scen_agent.h"

#define PIN_DIR "/sys/fs/bpf/nodeguard"
#define P_ALLOW 18080
#define P_ISO 41000           /* .4, 41000-41999: isolate rule */
#define P_FRZ 42000           /* .6, 42000-42999: freeze rule */
#define CMD_MS 20000
#define DENY_ENTRIES 1000
#define MAX_TRIALS 1000
#define MAX_ROUNDS 64

static struct {
	char dir[PATH_MAX];
	char helper[PATH_MAX], suid[PATH_MAX];
	char nodeguard[PATH_MAX], ctl[PATH_MAX], storm[PATH_MAX], ip[PATH_MAX];
	char policy[PATH_MAX + 32], jdir[PATH_MAX + 32], sock[PATH_MAX + 32];
	char subnet[32];
	char results[PATH_MAX];
	int trials, rounds, connects;
	struct agent ag;
	int agent_up;
	struct cbox box;
	int box_up;
	struct peer peer;
	int peer_up;
	struct ctr storm_ctr;
	int storm_made;
	int deny_loaded;
} B;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void cleanup(void)
{
	static int done;
	char *argv[] = { B.nodeguard, "uninstall", "--force", NULL };
	char o[2048], e[2048];

	if (done++)
		return;
	if (B.box_up)
		cbox_stop(&B.box, 1000);
	if (B.peer_up)
		peer_destroy(&B.peer);
	if (B.agent_up && B.ag.pid > 0) {
		kill(B.ag.pid, SIGINT);
		if (agent_stop(&B.ag, 10000))
			fprintf(stderr, "contain-bench: the agent did not stop on SIGINT\n");
	}
	if (B.storm_made)
		ctr_destroy(&B.storm_ctr);
	ctr_cleanup_all();
	/* the pinned containment outlives the agent: take it down, unless
	 * another agent uses it now */
	if (ng_other_agents(0) > 0)
		fprintf(stderr, "contain-bench: another nodeguard agent runs: pinned state left to it\n");
	else if (B.nodeguard[0])
		run_capture(argv, o, sizeof(o), e, sizeof(e), 30000);
	if (B.dir[0]) {
		char *rm[] = { "/bin/rm", "-rf", B.dir, NULL };

		run_capture(rm, NULL, 0, NULL, 0, 30000);
	}
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "contain-bench: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (B.ag.err_path[0]) {
		char *s = sa_stderr(&B.ag);
		size_t n = s ? strlen(s) : 0;

		fprintf(stderr, "agent stderr (last 3000 bytes):\n%s\n", s ? s + (n > 3000 ? n - 3000 : 0) : "");
		free(s);
	}
	cleanup();
	exit(1);
}

static void on_signal(int sig)
{
	(void)sig;
	cleanup();
	_exit(130);
}

static int env_int(const char *k, int def, int lo, int hi)
{
	const char *v = getenv(k);
	int x;

	if (!v || !*v)
		return def;
	x = atoi(v);
	if (x < lo || x > hi)
		die("%s=%s: want %d..%d", k, v, lo, hi);
	return x;
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	char *cp[] = { "/bin/cp", (char *)src, (char *)dst, NULL };

	if (run_capture(cp, NULL, 0, NULL, 0, 10000))
		return -EIO;
	if (chown(dst, 0, 0) || chmod(dst, mode))
		return -errno;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_dbl(const double *v, int n)
{
	double *s = malloc((size_t)n * sizeof(*s)), m;

	if (!s || !n)
		return 0;
	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_dbl);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

struct lat {
	uint64_t ns[MAX_TRIALS];
	int n;
	double median_ms, p99_ms, min_ms, max_ms;
};

static void lat_stats(struct lat *l)
{
	uint64_t s[MAX_TRIALS];
	int k;

	if (!l->n)
		return;
	memcpy(s, l->ns, (size_t)l->n * sizeof(*s));
	qsort(s, (size_t)l->n, sizeof(*s), cmp_u64);
	l->median_ms = (l->n % 2 ? (double)s[l->n / 2] : ((double)s[l->n / 2 - 1] + (double)s[l->n / 2]) / 2) / 1e6;
	/* nearest rank */
	k = (int)ceil(0.99 * l->n);
	l->p99_ms = (double)s[(k < 1 ? 1 : k) - 1] / 1e6;
	l->min_ms = (double)s[0] / 1e6;
	l->max_ms = (double)s[l->n - 1] / 1e6;
}

static const char *cmd(int ms, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *cmd(int ms, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	const char *r;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r = cbox_cmd(&B.box, ms, "%s", buf);
	if (!r)
		die("helper: `%s` did not answer", buf);
	return r;
}

static void release(void)
{
	char *argv[] = { B.ctl, "release", "--container", B.box.c.id, NULL };
	char o[2048], e[2048];
	int rc = run_capture(argv, o, sizeof(o), e, sizeof(e), 20000);

	if (rc)
		die("nodeguardctl release --container %.12s: exit %d: %s%s", B.box.c.id, rc, o, e);
}

/* ------------------------------------------------------------ setup */

static const char policy_fmt[] =
	"version: 1\n"
	"settings:\n"
	"  node_name: bench-node\n"
	"  protected_namespaces: []\n"
	"  actions_per_minute: 100000\n"
	"  rule_actions_per_minute: 100000\n"
	"rules:\n"
	"  - name: bench-kill-setuid-root\n"
	"    severity: critical\n"
	"    category: privilege_escalation\n"
	"    actions: [kill]\n"
	"    match:\n"
	"      event: cred-change\n"
	"      gains_root: true\n"
	"      binary: [%s]\n"
	"  - name: bench-isolate-on-connect\n"
	"    severity: high\n"
	"    category: network\n"
	"    actions: [isolate]\n"
	"    match:\n"
	"      event: connect\n"
	"      cidrs: [%s.4/32]\n"
	"      ports: [\"%d-%d\"]\n"
	"  - name: bench-freeze-on-connect\n"
	"    severity: high\n"
	"    category: network\n"
	"    actions: [freeze]\n"
	"    match:\n"
	"      event: connect\n"
	"      cidrs: [%s.6/32]\n"
	"      ports: [\"%d-%d\"]\n";

static void setup(void)
{
	const char *ng = getenv("NODEGUARD") ? getenv("NODEGUARD") : "./nodeguard";
	const char *ctl = getenv("NODEGUARDCTL") ? getenv("NODEGUARDCTL") : "./nodeguardctl";
	const char *hp = getenv("NG_CONTAIN_HELPER") ? getenv("NG_CONTAIN_HELPER") : "build/tests/ng-contain-helper";
	const char *st = getenv("BENCH_STORM") ? getenv("BENCH_STORM") : "build/tests/bench-storm";
	const char *res = getenv("BENCH_RESULTS") ? getenv("BENCH_RESULTS") : "tests/bench/results";
	static const char *const ips[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" };
	char text[4096], msg[512];
	unsigned char r = 0;
	FILE *f;
	size_t i;
	int err;

	if (geteuid() != 0)
		die("run as root (the agent loads BPF; the harness creates cgroups and namespaces)");
	if (!realpath(ng, B.nodeguard) || !realpath(ctl, B.ctl) || access(hp, X_OK) ||
	    !realpath(st, B.storm))
		die("missing %s, %s, %s or %s: run `make bench-contain`", ng, ctl, hp, st);
	for (i = 0; i < sizeof(ips) / sizeof(ips[0]) && !B.ip[0]; i++)
		if (!access(ips[i], X_OK))
			snprintf(B.ip, sizeof(B.ip), "%s", ips[i]);
	if (!B.ip[0])
		die("iproute2's ip not found");
	snprintf(B.results, sizeof(B.results), "%s", res);
	B.trials = env_int("BENCH_CONTAIN_TRIALS", 30, 1, MAX_TRIALS);
	B.rounds = env_int("BENCH_CONTAIN_ROUNDS", 10, 1, MAX_ROUNDS);
	B.connects = env_int("BENCH_CONTAIN_CONNECTS", 20000, 100, 10000000);
	if (B.trials > 1000 || B.trials > P_FRZ - P_ISO)
		die("BENCH_CONTAIN_TRIALS too large");

	snprintf(B.dir, sizeof(B.dir), "/var/lib/ng-cbench-XXXXXX");
	if (!mkdtemp(B.dir)) {
		B.dir[0] = '\0';
		die("mkdtemp: %s", strerror(errno));
	}
	chmod(B.dir, 0755);
	snprintf(B.helper, sizeof(B.helper), "%s/helper", B.dir);
	snprintf(B.suid, sizeof(B.suid), "%s/suid-kill", B.dir);
	if ((err = copy_file(hp, B.helper, 0755)) || (err = copy_file(hp, B.suid, 04755)))
		die("copy the helper: %s", strerror(-err));
	snprintf(B.jdir, sizeof(B.jdir), "%s/journal", B.dir);
	snprintf(B.policy, sizeof(B.policy), "%s/policy.yaml", B.dir);
	snprintf(B.sock, sizeof(B.sock), "%s/ctl/nodeguard.sock", B.dir);
	mkdir(B.jdir, 0700);
	setenv("NODEGUARD_SOCKET", B.sock, 1);
	setenv("NODEGUARD_JOURNAL_DIR", B.jdir, 1);
	if (getrandom(&r, 1, 0) != 1)
		r = 99;
	snprintf(B.subnet, sizeof(B.subnet), "10.214.%d", 16 + r % 200);
	snprintf(text, sizeof(text), policy_fmt, B.suid, B.subnet, P_ISO, P_ISO + 999, B.subnet, P_FRZ,
		 P_FRZ + 999);
	f = fopen(B.policy, "we");
	if (!f || fputs(text, f) == EOF || fclose(f))
		die("write %s", B.policy);

	{
		const char *args[] = { "run", "--policy", B.policy, "--journal-dir", B.jdir, "--quiet", NULL };

		err = sa_start(&B.ag, B.nodeguard, args, B.dir, NULL, 30000);
		if (err)
			die("nodeguard run did not start: %s", strerror(-err));
		B.agent_up = 1;
	}
	err = cbox_start(&B.box, NULL, B.helper, B.dir, 15000, msg, sizeof(msg));
	if (err)
		die("container: %s", msg);
	B.box_up = 1;
	err = peer_create(&B.peer, B.subnet);
	if (err)
		die("peer namespace: %s", strerror(-err));
	B.peer_up = 1;
	err = peer_link(&B.peer, B.box.pid, B.ip, msg, sizeof(msg));
	if (err)
		die("veth: %s", msg);
	if (!(cmd(CMD_MS, "udp %s.2 %d", B.subnet, P_ALLOW)[0] == 'o'))
		die("the container cannot reach its peer");
}

/* ------------------------------------------------------------ latencies */

static void bench_kill(struct lat *l)
{
	char marker[PATH_MAX + 32];
	int i;

	for (i = 0; i < B.trials; i++) {
		unsigned long long ns = 0;
		int st = 0;
		const char *r;

		snprintf(marker, sizeof(marker), "%s/marker-%d", B.dir, i);
		r = cmd(CMD_MS, "suid %s %s", B.suid, marker);
		if (sscanf(r, "status %d lat_ns %llu", &st, &ns) != 2)
			die("kill trial %d: \"%s\"", i, r);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL || !access(marker, F_OK))
			die("kill trial %d: not killed (wait status %#x)", i, st);
		l->ns[l->n++] = ns;
	}
}

static void wait_reachable(void)
{
	uint64_t deadline = mono_ns() + 10000000000ull;

	while (strcmp(cmd(CMD_MS, "udp %s.2 %d", B.subnet, P_ALLOW), "ok")) {
		if (mono_ns() > deadline)
			die("the container is still isolated 10 s after release");
		msleep(10);
	}
}

static void bench_isolate(struct lat *l, unsigned long *probes)
{
	int i;

	*probes = 0;
	for (i = 0; i < B.trials; i++) {
		unsigned long long ns;
		unsigned long p;
		const char *r = cmd(CMD_MS, "isotrial %s.4 %d %s.2 %d 5000", B.subnet, P_ISO + i, B.subnet,
				    P_ALLOW);

		if (sscanf(r, "lat_ns %llu probes %lu", &ns, &p) != 2)
			die("isolate trial %d: \"%s\"", i, r);
		l->ns[l->n++] = ns;
		*probes += p;
		release();
		wait_reachable();
	}
}

static void bench_freeze(struct lat *l)
{
	char ev[PATH_MAX + 32];
	int i;

	snprintf(ev, sizeof(ev), "%s/cgroup.events", B.box.c.scope);
	for (i = 0; i < B.trials; i++) {
		unsigned long long t0;
		uint64_t t1 = 0, deadline;
		const char *r;
		int fd = open(ev, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			die("open %s: %s", ev, strerror(errno));
		r = cbox_cmd(&B.box, CMD_MS, "trigger %s.6 %d", B.subnet, P_FRZ + i);
		if (!r || sscanf(r, "t0 %llu", &t0) != 1)
			die("freeze trial %d: \"%s\"", i, r ? r : "(nothing)");
		for (deadline = mono_ns() + 10000000000ull; mono_ns() < deadline;) {
			struct pollfd p = { .fd = fd, .events = POLLPRI };

			if (cg_frozen(B.box.c.scope) == 1) {
				t1 = mono_ns();
				break;
			}
			poll(&p, 1, 5);
		}
		close(fd);
		if (!t1)
			die("freeze trial %d: not frozen within 10 s", i);
		l->ns[l->n++] = t1 - t0;
		release();
		for (deadline = mono_ns() + 10000000000ull; cg_frozen(B.box.c.scope) != 0;) {
			if (mono_ns() > deadline)
				die("freeze trial %d: still frozen 10 s after release", i);
			msleep(2);
		}
		r = cbox_read(&B.box, CMD_MS);
		if (!r || strcmp(r, "done"))
			die("freeze trial %d: the trigger did not finish (\"%s\")", i, r ? r : "(nothing)");
	}
}

/* ------------------------------------------------------------ deny table */

static int pinned(const char *name)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", PIN_DIR, name);
	fd = bpf_obj_get(p);
	if (fd < 0)
		die("bpf_obj_get %s: %s (is the agent running with its enforcer?)", p, strerror(errno));
	return fd;
}

static int count_keys(int fd, size_t ksz)
{
	unsigned char k[64], n[64];
	int c = 0, err;

	for (err = bpf_map_get_next_key(fd, NULL, n); !err; err = bpf_map_get_next_key(fd, k, n)) {
		memcpy(k, n, ksz);
		c++;
	}
	return c;
}

static void deny_key(struct ng_lpm4_key *k, int i)
{
	uint64_t cg = i < DENY_ENTRIES / 2 ? B.storm_ctr.cgroup_id : 0;

	memset(k, 0, sizeof(*k));
	k->prefixlen = 64 + 32;
	memcpy(k->cg, &cg, 8);
	k->addr[0] = 10;
	k->addr[1] = i < DENY_ENTRIES / 2 ? 250 : 251;
	k->addr[2] = (uint8_t)((i % (DENY_ENTRIES / 2)) / 256);
	k->addr[3] = (uint8_t)((i % (DENY_ENTRIES / 2)) % 256);
}

/* load (1) or remove (0) the 1,000 entries; n_deny follows what is in the maps */
static void deny_table(int load)
{
	int d4 = pinned("ng_deny4"), d6 = pinned("ng_deny6"), st = pinned("ng_enf_state"), i;
	struct ng_deny_val v = { .rule_id = 0xbe7c, .protocol = 6, .nports = 1, .lo = { 80 }, .hi = { 80 } };
	struct ng_enf_state s;
	struct ng_lpm4_key k;
	__u32 zero = 0;

	for (i = 0; i < DENY_ENTRIES; i++) {
		deny_key(&k, i);
		if (load ? bpf_map_update_elem(d4, &k, &v, BPF_ANY) : bpf_map_delete_elem(d4, &k) && errno != ENOENT)
			die("%s deny entry %d: %s", load ? "add" : "remove", i, strerror(errno));
	}
	if (bpf_map_lookup_elem(st, &zero, &s))
		die("ng_enf_state: %s", strerror(errno));
	s.n_deny = (uint32_t)(count_keys(d4, sizeof(struct ng_lpm4_key)) +
			      count_keys(d6, sizeof(struct ng_lpm6_key)));
	if (bpf_map_update_elem(st, &zero, &s, BPF_ANY))
		die("ng_enf_state: %s", strerror(errno));
	if (load && s.n_deny < DENY_ENTRIES)
		die("the deny table holds %u entries after loading %d", s.n_deny, DENY_ENTRIES);
	if (!load && s.n_deny)
		die("%u deny entries are left in the table (a concurrent agent?); the empty condition "
		    "would not be empty", s.n_deny);
	B.deny_loaded = load;
	close(d4);
	close(d6);
	close(st);
}

/* one storm in the storm container: ns per connect */
static double storm(void)
{
	char n[24];
	char *argv[] = { B.storm, "connect", n, NULL };
	double ns = 0;
	int err;

	snprintf(n, sizeof(n), "%d", B.connects);
	err = ctr_run(&B.storm_ctr, argv, B.dir, 120000);
	if (err || B.storm_ctr.init_status != 0 || sscanf(B.storm_ctr.log, "%lf", &ns) != 1 || ns <= 0)
		die("connect storm: %s, status %#x, output \"%s\"", err ? strerror(-err) : "ok",
		    B.storm_ctr.init_status, B.storm_ctr.log);
	return ns;
}

/* ------------------------------------------------------------ report */

static void json_lat(FILE *f, const char *name, const struct lat *l, int rt, const char *from, const char *to)
{
	int i;

	fprintf(f, "\"%s\":{\"round_trips\":%d,\"from\":\"%s\",\"to\":\"%s\",\"trials\":%d,"
		"\"median_ms\":%.4f,\"p99_ms\":%.4f,\"min_ms\":%.4f,\"max_ms\":%.4f,\"samples_ms\":[",
		name, rt, from, to, l->n, l->median_ms, l->p99_ms, l->min_ms, l->max_ms);
	for (i = 0; i < l->n; i++)
		fprintf(f, "%s%.4f", i ? "," : "", (double)l->ns[i] / 1e6);
	fputs("]}", f);
}

static void json_arr(FILE *f, const double *v, int n)
{
	int i;

	fputc('[', f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%.2f", i ? "," : "", v[i]);
	fputc(']', f);
}

int main(void)
{
	static struct lat lk, li, lf;
	double empty[MAX_ROUNDS], loaded[MAX_ROUNDS], ratio[MAX_ROUNDS], me, ml, pr;
	unsigned long probes = 0;
	char ts[32], out[PATH_MAX + 64], latest[PATH_MAX + 64], git[64] = "unknown";
	struct utsname u;
	time_t now;
	FILE *f;
	int r, err, ne = 0, nl = 0;
	uint64_t t_start = mono_ns();

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	{
		/* another agent shares the pinned maps and its sensors load the connect path */
		int waited = 0, n;

		while ((n = ng_other_agents(0)) > 0 && waited < 120) {
			if (!waited)
				fprintf(stderr, "contain-bench: %d other nodeguard agent(s) running; waiting up "
					"to 120 s\n", n);
			sleep(1);
			waited++;
		}
		if (n > 0)
			fprintf(stderr, "contain-bench: WARNING: %d other nodeguard agent(s) still running: "
				"the numbers are disturbed\n", n);
	}
	atexit(cleanup);
	setup();
	fprintf(stderr, "contain-bench: %d trials per latency, deny table %d rounds x 2 x %d connects\n",
		B.trials, B.rounds, B.connects);

	fprintf(stderr, "contain-bench: kill ...\n");
	bench_kill(&lk);
	fprintf(stderr, "contain-bench: isolate ...\n");
	bench_isolate(&li, &probes);
	fprintf(stderr, "contain-bench: freeze ...\n");
	bench_freeze(&lf);
	lat_stats(&lk);
	lat_stats(&li);
	lat_stats(&lf);

	/*
	 * Deny table: the agent is stopped first. Its pinned connect/sendmsg
	 * programs stay attached (that is what pinning is for) and are the only
	 * BPF on the connect path then, so the two conditions differ by the
	 * table alone, without the sensors' per-connect event in the noise.
	 */
	B.agent_up = 0;
	if (agent_stop(&B.ag, 15000))
		die("the agent did not stop on SIGINT");
	err = ctr_create(&B.storm_ctr);
	if (err)
		die("storm container: %s", strerror(-err));
	B.storm_made = 1;
	deny_table(0);
	storm(); /* warm-up, not recorded */
	for (r = 0; r < B.rounds; r++) {
		int order[2] = { r % 2 ? 1 : 0, r % 2 ? 0 : 1 }, k;

		for (k = 0; k < 2; k++) {
			deny_table(order[k]);
			if (order[k])
				loaded[nl++] = storm();
			else
				empty[ne++] = storm();
		}
		ratio[r] = loaded[r] / empty[r];
		fprintf(stderr, "contain-bench: round %d: empty %.1f ns/connect, 1,000 entries %.1f ns/connect\n",
			r, empty[r], loaded[r]);
	}
	deny_table(0);
	me = median_dbl(empty, ne);
	ml = median_dbl(loaded, nl);
	pr = median_dbl(ratio, B.rounds);

	uname(&u);
	now = time(NULL);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", gmtime(&now));
	{
		char *argv[] = { "/usr/bin/git", "rev-parse", "--short", "HEAD", NULL };

		if (run_capture(argv, git, sizeof(git), NULL, 0, 5000) == 0)
			git[strcspn(git, "\n")] = '\0';
		else
			snprintf(git, sizeof(git), "unknown");
	}

	printf("\nnodeguard containment — %s, %ld CPUs, %d trials per action\n\n", u.release,
	       sysconf(_SC_NPROCESSORS_ONLN), B.trials);
	printf("%-9s %12s %10s %10s %10s  %s\n", "action", "round trips", "median", "p99", "max", "from -> to");
	printf("%-9s %12d %7.3f ms %7.3f ms %7.3f ms  %s\n", "kill", 0, lk.median_ms, lk.p99_ms, lk.max_ms,
	       "setuid(0) -> waitpid() sees SIGKILL (in-kernel)");
	printf("%-9s %12d %7.3f ms %7.3f ms %7.3f ms  %s\n", "isolate", 1, li.median_ms, li.p99_ms, li.max_ms,
	       "connect() matching the rule -> a probe connect() fails EPERM");
	printf("%-9s %12d %7.3f ms %7.3f ms %7.3f ms  %s\n", "freeze", 1, lf.median_ms, lf.p99_ms, lf.max_ms,
	       "connect() matching the rule -> cgroup.events frozen 1");
	printf("\ndeny table, connect storm of %d TCP connects in a container, %d rounds ABBA\n"
	       "(agent stopped: its pinned ng_enf_connect4/6 programs stay attached and do the lookups):\n",
	       B.connects, B.rounds);
	printf("  empty table        %10.1f ns/connect (median)\n", me);
	printf("  1,000 entries      %10.1f ns/connect (median)\n", ml);
	printf("  ratio %.4f (medians), paired ratio %.4f (median of per-round ratios)\n", ml / me, pr);
	printf("\nwall time %.0f s\n", (double)(mono_ns() - t_start) / 1e9);

	mkdir(B.results, 0755);
	snprintf(out, sizeof(out), "%s/contain-%s.json", B.results, ts);
	snprintf(latest, sizeof(latest), "%s/contain-latest.json", B.results);
	f = fopen(out, "we");
	if (!f)
		die("write %s: %s", out, strerror(errno));
	fprintf(f, "{\"timestamp\":\"%s\",\"kernel\":\"%s\",\"cpus\":%ld,\"git\":\"%s\",\"trials\":%d,"
		"\"journal_fsync\":\"always\",\"latency\":{",
		ts, u.release, sysconf(_SC_NPROCESSORS_ONLN), git, B.trials);
	json_lat(f, "kill", &lk, 0, "setuid(0) syscall", "waitpid() returns the SIGKILL status");
	fputc(',', f);
	json_lat(f, "isolate", &li, 1, "connect() matching an isolate rule", "a probe connect() fails with EPERM");
	fputc(',', f);
	json_lat(f, "freeze", &lf, 1, "connect() matching a freeze rule", "cgroup.events frozen 1");
	fprintf(f, "},\"isolate_probes_per_trial\":%.1f,", (double)probes / (B.trials ? B.trials : 1));
	fprintf(f, "\"deny_table\":{\"entries\":%d,\"matching_storm\":0,\"agent_running\":false,\"pinned_enforcement_attached\":true,\"rounds\":%d,"
		"\"connects_per_storm\":%d,\"unit\":\"ns_per_connect\",\"empty_median\":%.2f,"
		"\"loaded_median\":%.2f,\"ratio\":%.4f,\"paired_ratio\":%.4f,\"empty\":",
		DENY_ENTRIES, B.rounds, B.connects, me, ml, ml / me, pr);
	json_arr(f, empty, ne);
	fputs(",\"loaded\":", f);
	json_arr(f, loaded, nl);
	fputs("}}\n", f);
	if (fclose(f))
		die("write %s", out);
	{
		char *cp[] = { "/bin/cp", out, latest, NULL };

		run_capture(cp, NULL, 0, NULL, 0, 5000);
	}
	fprintf(stderr, "contain-bench: wrote %s and %s\n", out, latest);
	return 0;
}
