// SPDX-License-Identifier: Apache-2.0
/* nodeguard: command-line entry points. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "ctl.h"
#include "enforcer.h"
#include "evfmt.h"
#include "jsonw.h"
#include "killrules.h"
#include "log.h"
#include "policy.h"
#include "probe.h"
#include "sensor.h"

#ifndef NG_VERSION
#define NG_VERSION "0.1.0"
#endif

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		exiting = 1;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int need_root(const char *what)
{
	if (geteuid() == 0)
		return 0;
	log_err("%s needs root (it loads BPF programs: CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, "
		"CAP_NET_ADMIN); run it with sudo", what);
	return -EPERM;
}

/* ---------------------------------------------------------------- trace */

struct trace_ctx {
	bool json;
	struct jsonw w;
	int64_t boot_off;
	uint64_t events;
};

static int trace_event(const struct ng_event *ev, void *ctx)
{
	struct trace_ctx *t = ctx;

	t->events++;
	if (t->json) {
		const char *s;

		jsonw_reset(&t->w);
		evfmt_json(&t->w, ev, t->boot_off);
		s = jsonw_str(&t->w);
		if (s) {
			fputs(s, stdout);
			fputc('\n', stdout);
		}
	} else {
		evfmt_text(stdout, ev, t->boot_off);
	}
	return exiting;
}

static void report_drops(struct sensor *s, struct ng_counter *last, bool final, bool json)
{
	struct ng_counter now[NG_EV_KIND_MAX];
	unsigned k;

	if (sensor_counters(s, now))
		return;
	for (k = 1; k < NG_EV_KIND_MAX; k++) {
		uint64_t d = now[k].dropped - last[k].dropped;

		if (d)
			log_warn("%llu %s events dropped: ring buffer full (total %llu); "
				 "raise --ringbuf or lower --argv-max",
				 (unsigned long long)d, ng_kind_name(k),
				 (unsigned long long)now[k].dropped);
	}
	if (final) {
		uint64_t em = 0, dr = 0;

		for (k = 1; k < NG_EV_KIND_MAX; k++) {
			em += now[k].emitted;
			dr += now[k].dropped;
		}
		if (json) {
			/* a last machine-readable line with the counters */
			struct jsonw w;

			jsonw_init(&w);
			jsonw_obj_open(&w);
			jsonw_kv_str(&w, "kind", "stats");
			jsonw_kv_u64(&w, "emitted", em);
			jsonw_kv_u64(&w, "dropped", dr);
			jsonw_kv_u64(&w, "decode_errors", sensor_decode_errors(s));
			jsonw_key(&w, "per_kind");
			jsonw_obj_open(&w);
			for (k = 1; k < NG_EV_KIND_MAX; k++) {
				jsonw_key(&w, ng_kind_name(k));
				jsonw_obj_open(&w);
				jsonw_kv_u64(&w, "emitted", now[k].emitted);
				jsonw_kv_u64(&w, "dropped", now[k].dropped);
				jsonw_kv_u64(&w, "filtered", now[k].filtered);
				jsonw_obj_close(&w);
			}
			jsonw_obj_close(&w);
			jsonw_obj_close(&w);
			if (jsonw_str(&w))
				fprintf(stdout, "%s\n", jsonw_str(&w));
			jsonw_free(&w);
		}
		log_info("%llu events emitted, %llu dropped, %llu undecodable", (unsigned long long)em,
			 (unsigned long long)dr, (unsigned long long)sensor_decode_errors(s));
	}
	memcpy(last, now, sizeof(now));
}

static void trace_usage(FILE *out)
{
	fprintf(out,
		"usage: nodeguard trace [--json] [--all] [--duration S] [--argv-max N]\n"
		"                       [--ringbuf BYTES] [--creds-fallback] [-v]\n"
		"  --json            one JSON object per line (stable field names)\n"
		"  --all             trace host processes too (default: containers only)\n"
		"  --duration S      stop after S seconds\n"
		"  --argv-max N      argv bytes kept per exec (default %d, max %d)\n"
		"  --ringbuf BYTES   ring buffer size, power of two (default 8 MiB)\n"
		"  --creds-fallback  use tp_btf/sys_enter+sys_exit instead of syscall tracepoints\n"
		"  --noop-creds      also show set*id/capset calls that succeeded and changed nothing\n"
		"                    (counted as filtered by default)\n",
		NG_ARGV_DEFAULT, NG_ARGV_MAX);
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int cmd_trace(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },      { "all", no_argument, NULL, 'a' },
		{ "duration", required_argument, NULL, 'd' },
		{ "argv-max", required_argument, NULL, 'A' },
		{ "ringbuf", required_argument, NULL, 'R' },
		{ "creds-fallback", no_argument, NULL, 'F' },
		{ "noop-creds", no_argument, NULL, 'O' },
		{ "verbose", no_argument, NULL, 'v' },   { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sensor_opts so = { .argv_max = NG_ARGV_DEFAULT };
	struct trace_ctx t = { 0 };
	struct ng_counter last[NG_EV_KIND_MAX] = { 0 };
	struct ng_features feat;
	struct sensor *s;
	uint32_t duration = 0;
	uint64_t start, last_check;
	char err[512];
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jad:A:R:FOvh", lo, NULL)) != -1) {
		switch (c) {
		case 'j': t.json = true; break;
		case 'a': so.trace_host = true; break;
		case 'd':
			if (parse_u32(optarg, &duration)) {
				log_err("--duration: not a number of seconds: %s", optarg);
				return 2;
			}
			break;
		case 'A':
			if (parse_u32(optarg, &so.argv_max) || so.argv_max == 0 || so.argv_max > NG_ARGV_MAX) {
				log_err("--argv-max: expected 1..%d, got %s", NG_ARGV_MAX, optarg);
				return 2;
			}
			break;
		case 'R':
			if (parse_u32(optarg, &so.ringbuf_bytes) || so.ringbuf_bytes < 4096 ||
			    (so.ringbuf_bytes & (so.ringbuf_bytes - 1))) {
				log_err("--ringbuf: expected a power of two >= 4096, got %s", optarg);
				return 2;
			}
			break;
		case 'F': so.creds_mode = CREDS_RAW_SYSCALLS; break;
		case 'O': so.noop_creds = true; break;
		case 'v': ng_log_level = LOG_LVL_DEBUG; break;
		case 'h': trace_usage(stdout); return 0;
		default: trace_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		log_err("trace: unexpected argument '%s'", argv[optind]);
		trace_usage(stderr);
		return 2;
	}
	if (need_root("nodeguard trace"))
		return 1;

	probe_features(&feat, true);
	install_signals();
	s = sensor_open(&so, &feat, trace_event, &t, err, sizeof(err));
	if (!s) {
		log_err("%s", err);
		return 1;
	}
	log_info("tracing %s; credentials via %s; Ctrl-C to stop",
		 so.trace_host ? "all processes" : "containers only", sensor_creds_attach(s));
	jsonw_init(&t.w);
	t.boot_off = evfmt_boot_offset_ns();
	start = last_check = clock_mono_ms();
	while (!exiting) {
		int n = sensor_poll(s, 200);
		uint64_t now;

		if (n < 0) {
			log_err("Failed to poll the ring buffer: %s", strerror(-n));
			rc = 1;
			break;
		}
		fflush(stdout);
		now = clock_mono_ms();
		if (now - last_check >= 1000) {
			report_drops(s, last, false, t.json);
			last_check = now;
		}
		if (duration && now - start >= (uint64_t)duration * 1000)
			break;
	}
	/* drain what is already in the buffer, then report */
	sensor_poll(s, 0);
	report_drops(s, last, true, t.json);
	fflush(stdout);
	sensor_free(s);
	jsonw_free(&t.w);
	return rc;
}

/* ---------------------------------------------------------------- run */

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: nodeguard [run] [--policy FILE] [--journal-dir DIR] [--node-name NAME]\n"
		"                 [--dry-run] [--all] [--duration S] [--quiet] [-v]\n"
		"  --policy FILE      policy YAML (default: the embedded policy); SIGHUP reloads it\n"
		"  --journal-dir DIR  incident journal directory (default from the policy: /var/lib/nodeguard)\n"
		"  --node-name NAME   node name in incidents (default $NODE_NAME, then the hostname)\n"
		"  --dry-run          record what actions would do, do nothing\n"
		"  --all              watch host processes too (default: containers only)\n"
		"  --duration S       stop after S seconds\n"
		"  --quiet            no detection lines on stdout (the journal still gets everything)\n"
		"  --kubeconfig FILE  API access from outside the cluster (default: in-cluster config\n"
		"                     when KUBERNETES_SERVICE_HOST is set, else no pod attribution)\n"
		"  --context NAME     kubeconfig context (default: current-context)\n"
		"  --pin-dir DIR      pinned containment state, on bpffs (default $NODEGUARD_PIN_DIR,\n"
		"                     else " NG_PIN_DIR ");\n"
		"                     one per agent: agents sharing a directory share (and\n"
		"                     reconcile) each other's containment\n");
}

static int cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "journal-dir", required_argument, NULL, 'J' },
		{ "node-name", required_argument, NULL, 'N' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "duration", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "kubeconfig", required_argument, NULL, 'K' },
		{ "context", required_argument, NULL, 'C' },
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct agent_opts ao = { 0 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:J:N:nad:qK:C:P:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'p': ao.policy_path = optarg; break;
		case 'J': ao.journal_dir = optarg; break;
		case 'N': ao.node_name = optarg; break;
		case 'n': ao.dry_run = true; break;
		case 'a': ao.trace_host = true; break;
		case 'd':
			if (parse_u32(optarg, &ao.duration_s)) {
				log_err("--duration: not a number of seconds: %s", optarg);
				return 2;
			}
			break;
		case 'q': ao.quiet = true; break;
		case 'K': ao.kubeconfig = optarg; break;
		case 'C': ao.kube_context = optarg; break;
		case 'P':
			if (optarg[0] != '/') {
				log_err("--pin-dir: must be an absolute path: %s", optarg);
				return 2;
			}
			ao.pin_dir = optarg;
			break;
		case 'v': ng_log_level = LOG_LVL_DEBUG; break;
		case 'h': run_usage(stdout); return 0;
		default: run_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		run_usage(stderr);
		return 2;
	}
	if (!ao.pin_dir && getenv("NODEGUARD_PIN_DIR") && *getenv("NODEGUARD_PIN_DIR")) {
		ao.pin_dir = getenv("NODEGUARD_PIN_DIR");
		if (ao.pin_dir[0] != '/') {
			log_err("$NODEGUARD_PIN_DIR: must be an absolute path: %s", ao.pin_dir);
			return 2;
		}
	}
	if (need_root("nodeguard"))
		return 1;
	install_signals();
	return agent_run(&ao, &exiting, &reload);
}

/* ---------------------------------------------------------------- policy */

static int cmd_policy(int argc, char **argv)
{
	struct policy_errors errs = { 0 };
	struct policy *p = NULL;
	char line[600];
	size_t i;
	int err;

	if (argc < 2 || strcmp(argv[1], "check") || argc > 3) {
		fprintf(stderr, "usage: nodeguard policy check [FILE]   (no FILE: the embedded policy)\n");
		return 2;
	}
	err = argc == 3 ? policy_load_file(argv[2], &p, &errs) : policy_load_default(&p, &errs);
	if (err) {
		for (i = 0; i < errs.n; i++) {
			policy_error_format(&errs.v[i], line, sizeof(line));
			fprintf(stderr, "%s\n", line);
		}
		if (errs.truncated)
			fprintf(stderr, "(more errors not shown: stopped after %zu)\n", errs.n);
		if (!errs.n)
			fprintf(stderr, "%s: %s\n", argc == 3 ? argv[2] : "<embedded>", strerror(-err));
		policy_errors_free(&errs);
		return 1;
	}
	printf("%s: ok, %zu rules\n", p->source, p->nrules);
	policy_free(p);
	policy_errors_free(&errs);
	return 0;
}

/* ---------------------------------------------------------------- probe */

/* a tenth of the kernel's 1M-instruction verifier limit: a program near the
 * limit on one machine is refused on another (DESIGN.md, verifier budget) */
#define NG_VERIFIER_BUDGET 100000u

static int sensor_nop(const struct ng_event *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
	return 0;
}

struct probe_load {
	struct sensor *s;
	char err[1024];
	/* every program, the sensors' and the enforcer's */
	struct prog_cost progs[SENSOR_PROGS_MAX + 16];
	size_t nprogs;
	int enf_err;
	char enf_msg[1024];
	uint32_t kill_rules, kill_loaded;
	int kill_err;
	char not_compiled[2048];
};

/*
 * Load (verify, not attach) the sensors exactly as `nodeguard run` does with
 * this policy, and compile its kill rules into the loaded (unpinned) maps.
 */
static void probe_load_sensors(struct probe_load *pl, const struct ng_features *f,
			       const struct policy *p, bool fallback)
{
	struct sensor_opts so = {
		.trace_host = p->settings.trace_host, .argv_max = p->settings.argv_max,
		.creds_mode = fallback ? CREDS_RAW_SYSCALLS : CREDS_AUTO,
		.kernel_kill = true, .load_only = true,
	};
	struct kill_maps km;
	size_t i, n;

	for (i = 0; i < p->nrules; i++)
		pl->kill_rules += p->rules[i].enabled && (p->rules[i].actions & ACT_KILL);
	pl->s = sensor_open(&so, f, sensor_nop, NULL, pl->err, sizeof(pl->err));
	if (pl->s) {
		const struct prog_cost *sp = sensor_progs(pl->s, &n);

		memcpy(pl->progs, sp, n * sizeof(*sp));
		pl->nprogs = n;
		pl->enf_err = enforcer_probe(pl->progs + n, sizeof(pl->progs) / sizeof(pl->progs[0]) - n,
					     &n, pl->enf_msg, sizeof(pl->enf_msg));
		pl->nprogs += n;
	}
	if (!pl->s || !sensor_kill_in_kernel(pl->s, NULL))
		return;
	km.rules = sensor_map_fd(pl->s, "ng_kill_rules");
	km.masks = sensor_map_fd(pl->s, "ng_kill_masks");
	km.exe = sensor_map_fd(pl->s, "ng_kill_exe");
	km.state = sensor_map_fd(pl->s, "ng_kill_state");
	km.rate = sensor_map_fd(pl->s, "ng_kill_rate");
	pl->kill_err = killrules_load(p, &km, p->settings.dry_run, &pl->kill_loaded,
				      pl->not_compiled, sizeof(pl->not_compiled));
}

static void probe_print_progs(const struct probe_load *pl, const struct policy *p)
{
	const struct prog_cost *sp;
	const char *why;
	size_t n, i, worst = 0;

	printf("\nBPF programs (loaded as `nodeguard run` loads them, policy %s):\n", p->source);
	if (!pl->s) {
		printf("  load failed: %s\n", pl->err);
		return;
	}
	sp = pl->progs;
	n = pl->nprogs;
	printf("  %-10s %-22s %14s %12s\n", "object", "program", "verified insns", "verify time");
	for (i = 0; i < n; i++) {
		printf("  %-10s %-22s %14u %9.1f ms%s\n", sp[i].object, sp[i].name, sp[i].verified_insns,
		       sp[i].verify_us / 1000.0,
		       sp[i].verified_insns > NG_VERIFIER_BUDGET ? "  OVER BUDGET" : "");
		if (sp[i].verified_insns > sp[worst].verified_insns)
			worst = i;
	}
	if (n)
		printf("  budget %u instructions per program (a tenth of the verifier's limit); "
		       "largest %u (%s)\n", NG_VERIFIER_BUDGET, sp[worst].verified_insns, sp[worst].name);
	if (pl->enf_err)
		printf("  enforcer: %s (deny and isolate unavailable)\n", pl->enf_msg);
	if (sensor_kill_in_kernel(pl->s, &why))
		printf("in-kernel kill:    yes: %u of %u kill rules compiled into the kernel%s%s\n",
		       pl->kill_loaded, pl->kill_rules, pl->kill_err ? ", load failed: " : "",
		       pl->kill_err ? strerror(-pl->kill_err) : "");
	else
		printf("in-kernel kill:    no: %s; the %u kill rules act from user space (pidfd)\n", why,
		       pl->kill_rules);
}

static void probe_json(const struct probe_load *pl, const struct ng_features *f,
		       const struct policy *p)
{
	const struct prog_cost *sp = NULL;
	const char *why = "";
	struct jsonw w;
	size_t n = 0, i;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_str(&w, "kernel", f->kernel);
	jsonw_kv_bool(&w, "root", f->root);
	jsonw_kv_bool(&w, "btf", f->btf);
	jsonw_kv_str(&w, "policy", p->source);
	jsonw_kv_u64(&w, "budget_insns", NG_VERIFIER_BUDGET);
	jsonw_kv_bool(&w, "loaded", pl->s != NULL);
	if (!pl->s)
		jsonw_kv_str(&w, "error", pl->err);
	else
		sp = pl->progs, n = pl->nprogs;
	jsonw_key(&w, "programs");
	jsonw_arr_open(&w);
	for (i = 0; i < n; i++) {
		jsonw_obj_open(&w);
		jsonw_kv_str(&w, "object", sp[i].object);
		jsonw_kv_str(&w, "program", sp[i].name);
		jsonw_kv_str(&w, "section", sp[i].section);
		jsonw_kv_u64(&w, "verified_insns", sp[i].verified_insns);
		jsonw_kv_u64(&w, "verify_us", sp[i].verify_us);
		jsonw_obj_close(&w);
	}
	jsonw_arr_close(&w);
	jsonw_key(&w, "enforcer");
	jsonw_obj_open(&w);
	jsonw_kv_bool(&w, "loaded", pl->s && !pl->enf_err);
	if (pl->s && pl->enf_err)
		jsonw_kv_str(&w, "error", pl->enf_msg);
	jsonw_obj_close(&w);
	jsonw_key(&w, "kill");
	jsonw_obj_open(&w);
	jsonw_kv_bool(&w, "in_kernel", pl->s && sensor_kill_in_kernel(pl->s, &why));
	jsonw_kv_str(&w, "reason", pl->s ? why : pl->err);
	jsonw_kv_u64(&w, "rules", pl->kill_rules);
	jsonw_kv_u64(&w, "rules_in_kernel", pl->kill_loaded);
	jsonw_kv_str(&w, "not_compiled", pl->not_compiled);
	jsonw_obj_close(&w);
	jsonw_obj_close(&w);
	printf("%s\n", jsonw_str(&w));
	jsonw_free(&w);
}

static void probe_usage(FILE *out)
{
	fprintf(out,
		"usage: nodeguard probe [--policy FILE] [--creds-fallback] [--json]\n"
		"  what this kernel supports, which attach point each sensor uses, and (as root)\n"
		"  every BPF program `nodeguard run` loads with the instructions the verifier\n"
		"  processed and the time it took, and whether kill rules run in the kernel\n"
		"  --policy FILE      the policy to compile (default: the embedded one)\n"
		"  --creds-fallback   load the tp_btf/sys_enter+sys_exit credential fallback\n"
		"  --json             one JSON object instead of text\n");
}

static int cmd_probe(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "creds-fallback", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct probe_load pl = { 0 };
	struct policy_errors errs = { 0 };
	struct ng_features f;
	struct policy *p = NULL;
	const char *policy_path = NULL;
	bool json = false, fallback = false;
	int c, rc, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:Fjvh", lo, NULL)) != -1) {
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 'F': fallback = true; break;
		case 'j': json = true; break;
		case 'v': ng_log_level = LOG_LVL_DEBUG; break;
		case 'h': probe_usage(stdout); return 0;
		default: probe_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		log_err("probe: unexpected argument '%s'", argv[optind]);
		probe_usage(stderr);
		return 2;
	}
	err = policy_path ? policy_load_file(policy_path, &p, &errs) : policy_load_default(&p, &errs);
	if (err) {
		char line[600];
		size_t i;

		for (i = 0; i < errs.n; i++) {
			policy_error_format(&errs.v[i], line, sizeof(line));
			log_err("%s", line);
		}
		if (!errs.n)
			log_err("Failed to load policy %s: %s", policy_path ? policy_path : "<embedded>",
				strerror(-err));
		policy_errors_free(&errs);
		return 2;
	}
	policy_errors_free(&errs);
	probe_features(&f, true);
	if (!json)
		probe_print(stdout, &f);
	if (f.root && f.btf && f.ringbuf && f.tp_btf)
		probe_load_sensors(&pl, &f, p, fallback);
	else
		snprintf(pl.err, sizeof(pl.err), "%s", f.root ? "kernel lacks BTF, ring buffer or tp_btf"
							   : "not root: programs not loaded");
	if (json)
		probe_json(&pl, &f, p);
	else if (f.root)
		probe_print_progs(&pl, p);
	if (!f.root) {
		log_err("run 'sudo nodeguard probe' to test BPF program types and load the sensors");
		rc = 1;
	} else {
		rc = pl.s ? 0 : 1;
	}
	sensor_free(pl.s);
	policy_free(p);
	return rc;
}

/* ---------------------------------------------------------------- uninstall */

static void uninstall_usage(FILE *out)
{
	fprintf(out,
		"usage: nodeguard uninstall [--force] [--socket PATH] [--pin-dir DIR]\n"
		"  removes every pinned object (links detach, maps go) under DIR\n"
		"  (default " NG_PIN_DIR "): isolation, deny tables and kill rules stop\n"
		"  --force        even while an agent answers on the control socket\n"
		"  --socket PATH  the agent's control socket (default $NODEGUARD_SOCKET, else\n"
		"                 " CTL_DEFAULT_PATH ")\n"
		"  --pin-dir DIR  the pinned state (default " NG_PIN_DIR ")\n");
}

static int cmd_uninstall(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 'S' },
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sock = getenv("NODEGUARD_SOCKET"), *pin = getenv("NODEGUARD_PIN_DIR");
	char reply[512];
	bool force = false;
	size_t removed = 0;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fh", lo, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'S': sock = optarg; break;
		case 'P': pin = optarg; break;
		case 'h': uninstall_usage(stdout); return 0;
		default: uninstall_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		log_err("uninstall: unexpected argument '%s'", argv[optind]);
		uninstall_usage(stderr);
		return 2;
	}
	if (!sock || !*sock)
		sock = CTL_DEFAULT_PATH;
	if (!pin || !*pin)
		pin = NG_PIN_DIR;
	if (strlen(pin) >= 256 || pin[0] != '/') {
		log_err("--pin-dir: want an absolute path");
		return 2;
	}
	if (geteuid() != 0) {
		log_err("nodeguard uninstall needs root (it removes pinned BPF objects); run it with sudo");
		return 1;
	}
	/* an agent that answers (or listens but is busy) would lose its
	 * enforcement under its feet */
	err = ctl_request(sock, "{\"v\":1,\"cmd\":\"status\",\"who\":\"nodeguard uninstall\"}",
			  reply, sizeof(reply), 3000);
	if (!err || err == -ETIMEDOUT || err == -EPROTO || err == -EMSGSIZE || err == -ECONNRESET) {
		if (!force) {
			log_err("an agent is running (%s on %s): stop it first, or use --force",
				err ? strerror(-err) : "it answers", sock);
			return 1;
		}
		log_warn("an agent is running (%s on %s): removing its pinned state anyway (--force)",
			 err ? strerror(-err) : "it answers", sock);
	}
	err = enforcer_uninstall(pin, &removed);
	if (err) {
		log_err("Failed to remove every pinned object under %s: %s (%zu removed)", pin,
			strerror(-err), removed);
		return 1;
	}
	printf("removed %zu pinned object%s under %s\n", removed, removed == 1 ? "" : "s", pin);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"nodeguard %s — eBPF node agent\n"
		"usage: nodeguard [COMMAND] [OPTIONS]\n"
		"  run (default)                           detect and journal incidents (--policy FILE, --dry-run, ...)\n"
		"  trace [--json] [--all] [--duration S]   stream decoded kernel events\n"
		"  policy check [FILE]                     validate a policy: FILE:LINE:COL: errors\n"
		"  probe                                   what this kernel supports, which attach points are used\n"
		"  uninstall [--force]                     remove every pinned object under " NG_PIN_DIR "\n"
		"  version                                 print the version\n"
		"Run 'nodeguard COMMAND --help' for a command's options.\n",
		NG_VERSION);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "run";

	ng_log_setup_libbpf();
	/* once, before any thread or handle: the API client uses libcurl */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* no command, or options only: run the agent */
	if (argc == 1 || cmd[0] == '-') {
		if (strcmp(cmd, "--help") && strcmp(cmd, "-h") && strcmp(cmd, "--version"))
			return cmd_run(argc, argv);
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "policy"))
		return cmd_policy(argc - 1, argv + 1);
	if (!strcmp(cmd, "trace"))
		return cmd_trace(argc - 1, argv + 1);
	if (!strcmp(cmd, "probe"))
		return cmd_probe(argc - 1, argv + 1);
	if (!strcmp(cmd, "uninstall"))
		return cmd_uninstall(argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("nodeguard %s (event ABI %d)\n", NG_VERSION, NG_ABI_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	log_err("unknown command '%s'", cmd);
	usage(stderr);
	return 2;
}
