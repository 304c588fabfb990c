// SPDX-License-Identifier: Apache-2.0
/*
 * nodeguardctl: read the node's incident journal.
 *
 *   nodeguardctl list [--since DURATION|RFC3339] [--severity S] [--pod NS/NAME]
 *                     [--status S] [--json] [--dir DIR]
 *   nodeguardctl show ID [--dir DIR]
 *   nodeguardctl report ID [--format json|md|html] [-o FILE] [--dir DIR]
 *
 * It only reads: the journal is replayed into memory (no lock is taken, so
 * it works next to a running agent, and without root when the files are
 * readable). Exit status: 0 ok, 1 not found or an error, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

#define DEFAULT_DIR "/var/lib/nodeguard"
#define EXIT_NOTFOUND 1
#define EXIT_USAGE 2
#define ARG_MAX_LEN 512

enum { OPT_SINCE = 256, OPT_SEVERITY, OPT_POD, OPT_STATUS, OPT_JSON, OPT_DIR, OPT_FORMAT };

static const char usage_text[] =
	"Usage: nodeguardctl COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  list [--since DURATION|TIME] [--severity S] [--pod NS/NAME] [--status S] [--json]\n"
	"        one line per incident: id, severity, status, first seen, pod (or short\n"
	"        container id, or host), top rule (+ further timeline entries)\n"
	"        --since     30m, 2h, 7d, 1h30m, or RFC 3339 (2026-11-26T14:00:00Z, 2026-11-26):\n"
	"                    incidents seen at or after that time\n"
	"        --severity  info|low|medium|high|critical: that severity or above\n"
	"        --pod       NS/NAME of the pod (shell globs allowed)\n"
	"        --status    open|contained|released|closed\n"
	"        --json      one JSON object per incident and line\n"
	"  show ID        the incident (ID or a unique prefix of it) for a terminal\n"
	"  report ID [--format json|md|html|text] [-o FILE]\n"
	"        a full report (default: md) to stdout or FILE (created 0600)\n"
	"\n"
	"Common options:\n"
	"  --dir DIR      journal directory (default $NODEGUARD_JOURNAL_DIR, else " DEFAULT_DIR ")\n"
	"  -h, --help     this help\n"
	"\n"
	"Exit status: 0 ok, 1 not found or error, 2 usage error.\n";

struct ctl {
	const char *cmd;
	const char *dir;
	const char *id;
	const char *out_path;
	const char *format;
	bool json;
	bool help;
	struct report_filter filter;
	char pod_ns[256], pod_name[256];
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("nodeguardctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'nodeguardctl --help'.\n", stderr);
	return EXIT_USAGE;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_args(int argc, char **argv, struct ctl *c)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "severity", required_argument, NULL, OPT_SEVERITY },
		{ "pod", required_argument, NULL, OPT_POD },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool is_list = !strcmp(c->cmd, "list"), is_report = !strcmp(c->cmd, "report");
	int opt, i, li;

	for (i = 1; i < argc; i++)
		if (strlen(argv[i]) > ARG_MAX_LEN)
			return usage_error("argument %d is longer than %d bytes", i, ARG_MAX_LEN);
	opterr = 0;
	optind = 1;
	/* "-": operands come back in order as option 1, so options may follow
	 * the ID even under POSIXLY_CORRECT; ":": we report errors ourselves */
	while ((li = -1, opt = getopt_long(argc, argv, "-:o:h", opts, &li)) != -1) {
		const char *name = li >= 0 ? opts[li].name : opt == 'o' ? "o" : "";

		switch (opt) {
		case OPT_SINCE:
		case OPT_SEVERITY:
		case OPT_POD:
		case OPT_STATUS:
		case OPT_JSON:
			if (!is_list)
				return usage_error("--%s: only 'list' takes it", name);
			break;
		case OPT_FORMAT:
		case 'o':
			if (!is_report)
				return usage_error("-%s%s: only 'report' takes it", li >= 0 ? "-" : "", name);
			break;
		}
		switch (opt) {
		case OPT_SINCE:
			if (report_parse_since(optarg, now_ns(), &c->filter.since_ns))
				return usage_error("--since '%s': want a duration (30m, 2h, 7d) or an "
						   "RFC 3339 time (2026-11-26T14:00:00Z)", optarg);
			break;
		case OPT_SEVERITY:
			c->filter.min_severity = severity_from_name(optarg);
			if (c->filter.min_severity < 0)
				return usage_error("--severity '%s': want info, low, medium, high or "
						   "critical", optarg);
			break;
		case OPT_POD:
			if (report_parse_pod(optarg, c->pod_ns, sizeof(c->pod_ns), c->pod_name,
					     sizeof(c->pod_name)))
				return usage_error("--pod '%s': want NAMESPACE/NAME", optarg);
			c->filter.pod_ns = c->pod_ns;
			c->filter.pod_name = c->pod_name;
			break;
		case OPT_STATUS:
			c->filter.status = inc_status_from_name(optarg);
			if (c->filter.status < 0)
				return usage_error("--status '%s': want open, contained, released or "
						   "closed", optarg);
			break;
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_DIR:
			c->dir = optarg;
			break;
		case OPT_FORMAT:
			c->format = optarg;
			break;
		case 'o':
			c->out_path = optarg;
			break;
		case 'h':
			c->help = true;
			return 0;
		case 1:
			if (is_list || c->id)
				return usage_error("unexpected argument '%s'", optarg);
			c->id = optarg;
			break;
		case ':':
			return usage_error("option %s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* operands after "--" */
	for (i = optind; i < argc; i++) {
		if (is_list || c->id)
			return usage_error("unexpected argument '%s'", argv[i]);
		c->id = argv[i];
	}
	if (!is_list && !c->id)
		return usage_error("%s: which incident? (give its ID)", c->cmd);
	if (c->id && (!*c->id || strlen(c->id) >= sizeof(((struct incident *)0)->id)))
		return usage_error("'%s' is not an incident ID", c->id);
	if (is_report && !c->format)
		c->format = "md";
	if (is_report && strcmp(c->format, "json") && strcmp(c->format, "md") &&
	    strcmp(c->format, "markdown") && strcmp(c->format, "html") && strcmp(c->format, "text"))
		return usage_error("--format '%s': want json, md or html", c->format);
	if (!c->dir || !*c->dir)
		c->dir = getenv("NODEGUARD_JOURNAL_DIR");
	if (!c->dir || !*c->dir)
		c->dir = DEFAULT_DIR;
	return 0;
}

static int load(const struct ctl *c, struct incmgr **m)
{
	struct journal_replay_stats st;
	int err = incidents_load(c->dir, m, &st, stderr);

	if (err) {
		fputs("nodeguardctl: Failed to read the journal in ", stderr);
		report_term_puts(stderr, c->dir);
		fprintf(stderr, ": %s\n", strerror(-err));
		return EXIT_NOTFOUND;
	}
	if (st.malformed)
		fprintf(stderr, "nodeguardctl: skipped %llu malformed journal line%s\n",
			(unsigned long long)st.malformed, st.malformed == 1 ? "" : "s");
	return 0;
}

/* the incident with this id, or the only one it is a prefix of */
static struct incident *find(struct incmgr *m, const char *id)
{
	struct incident *i, *hit = NULL;
	size_t n = strlen(id), matches = 0;

	for (i = incmgr_first(m); i; i = i->next) {
		if (!strcmp(i->id, id))
			return i;
		if (!strncmp(i->id, id, n)) {
			hit = i;
			matches++;
		}
	}
	if (matches == 1)
		return hit;
	fputs("nodeguardctl: ", stderr);
	if (!matches) {
		fputs("no incident matches '", stderr);
		report_term_puts(stderr, id);
		fputs("'\n", stderr);
		return NULL;
	}
	fputs("'", stderr);
	report_term_puts(stderr, id);
	fprintf(stderr, "' is ambiguous: it matches %zu incidents:\n", matches);
	matches = 0;
	for (i = incmgr_first(m); i; i = i->next) {
		if (strncmp(i->id, id, n))
			continue;
		if (++matches > 10) {
			fputs("  ...\n", stderr);
			break;
		}
		fputs("  ", stderr);
		report_term_puts(stderr, i->id);
		fputc('\n', stderr);
	}
	return NULL;
}

static int finish(FILE *f, const char *what)
{
	int err = ferror(f);

	if (fflush(f) || err) {
		fprintf(stderr, "nodeguardctl: Failed to write %s\n", what);
		return EXIT_NOTFOUND;
	}
	return 0;
}

static int cmd_list(const struct ctl *c, struct incmgr *m)
{
	struct incident *i;

	if (!c->json && isatty(STDOUT_FILENO))
		printf("%-30s  %-8s  %-9s  %-24s  %-24s  %s\n", "ID", "SEVERITY", "STATUS",
		       "FIRST SEEN", "POD/CONTAINER", "TOP RULE");
	for (i = incmgr_first(m); i; i = i->next) {
		if (!report_filter_match(&c->filter, i))
			continue;
		if (c->json)
			report_list_json(stdout, i);
		else
			report_list_line(stdout, i);
	}
	return finish(stdout, "the list");
}

static int cmd_show(const struct ctl *c, struct incmgr *m)
{
	struct incident *inc = find(m, c->id);

	if (!inc)
		return EXIT_NOTFOUND;
	report_text(stdout, inc);
	return finish(stdout, "the incident");
}

static int cmd_report(const struct ctl *c, struct incmgr *m)
{
	struct incident *inc = find(m, c->id);
	FILE *out = stdout;
	int fd, ret;

	if (!inc)
		return EXIT_NOTFOUND;
	if (c->out_path && strcmp(c->out_path, "-")) {
		fd = open(c->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || !(out = fdopen(fd, "w"))) {
			fprintf(stderr, "nodeguardctl: Failed to create %s: %s\n", c->out_path,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return EXIT_NOTFOUND;
		}
	}
	if (!strcmp(c->format, "json"))
		report_json(out, inc);
	else if (!strcmp(c->format, "html"))
		report_html(out, inc);
	else if (!strcmp(c->format, "text"))
		report_text(out, inc);
	else
		report_markdown(out, inc);
	ret = finish(out, c->out_path ? c->out_path : "the report");
	if (out != stdout && fclose(out) && !ret) {
		fprintf(stderr, "nodeguardctl: Failed to write %s: %s\n", c->out_path, strerror(errno));
		ret = EXIT_NOTFOUND;
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct ctl c = { .filter = { .min_severity = -1, .status = -1 } };
	struct incmgr *m = NULL;
	int ret;

	if (argc < 2)
		return usage_error("a command is needed: list, show or report");
	c.cmd = argv[1];
	if (!strcmp(c.cmd, "-h") || !strcmp(c.cmd, "--help") || !strcmp(c.cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(c.cmd, "list") && strcmp(c.cmd, "show") && strcmp(c.cmd, "report"))
		return usage_error("unknown command '%s' (list, show, report)", c.cmd);
	/* options may come before or after the ID: parse argv[1..] with the
	 * command in argv[0]'s place */
	ret = parse_args(argc - 1, argv + 1, &c);
	if (ret)
		return ret;
	if (c.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	ret = load(&c, &m);
	if (ret)
		return ret;
	if (!strcmp(c.cmd, "list"))
		ret = cmd_list(&c, m);
	else if (!strcmp(c.cmd, "show"))
		ret = cmd_show(&c, m);
	else
		ret = cmd_report(&c, m);
	incmgr_free(m);
	return ret;
}
