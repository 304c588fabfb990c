// SPDX-License-Identifier: Apache-2.0
/*
 * nodeguardctl: read the node's incident journal, and act by hand through
 * the running agent.
 *
 *   nodeguardctl list [--since DURATION|RFC3339] [--severity S] [--pod NS/NAME]
 *                     [--status S] [--json] [--dir DIR]
 *   nodeguardctl show ID [--dir DIR]
 *   nodeguardctl report ID [--format json|md|html] [-o FILE] [--dir DIR]
 *   nodeguardctl isolate|freeze|kill-container --container ID [--socket PATH]
 *   nodeguardctl release INCIDENT | --container ID [--socket PATH] [--dir DIR]
 *   nodeguardctl status [--socket PATH]
 *
 * list/show/report only read: the journal is replayed into memory (no lock
 * is taken, so they work next to a running agent, and without root when the
 * files are readable). The actions go to the agent over its control socket
 * (agent/ctl.h), so they pass the same guardrails and land in the same
 * journal as automatic ones. Only release also works with the agent down:
 * it takes the journal's lock (proof that no agent runs), lifts what the
 * journal says is still in place on the pinned state, and journals that.
 * Exit status: 0 ok, 1 not found, refused or an error, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "container.h"
#include "ctl.h"
#include "enforcer.h"
#include "journal.h"
#include "log.h"
#include "probe.h"
#include "report.h"
#include "respond.h"
#include "nodeguardctl.h"

#define ARG_MAX_LEN 512
/* a manual action may take the agent a moment (freeze, kill); the agent's
 * loop picks requests up within a fraction of a second */
#define REQUEST_TIMEOUT_MS 15000
#define NOT_RUNNING "the agent is not running; start it to act through the guarded path"

enum {
	OPT_SINCE = 256,
	OPT_SEVERITY,
	OPT_POD,
	OPT_STATUS,
	OPT_JSON,
	OPT_DIR,
	OPT_FORMAT,
	OPT_CONTAINER,
	OPT_SOCKET,
	OPT_PIN_DIR,
};

/* --help around the commands' own lines (struct command.usage) */
static const char help_head[] = "Usage: nodeguardctl COMMAND [OPTIONS]\n";
static const char help_journal[] = "\nReading the journal:\n";
static const char help_root[] =
	"\n"
	"Acting by hand (root; through the running agent, with the same guardrails\n"
	"and journal as automatic actions):\n";
static const char help_tail[] =
	"\n"
	"Common options:\n"
	"  --dir DIR      journal directory (default $NODEGUARD_JOURNAL_DIR, else " DEFAULT_DIR ")\n"
	"  --socket PATH  the agent's control socket (default $NODEGUARD_SOCKET, else\n"
	"                 " CTL_DEFAULT_PATH ")\n"
	"  -h, --help     this help\n"
	"\n"
	"Removing every pinned object (links, maps) when uninstalling: 'nodeguard uninstall'.\n"
	"\n"
	"Exit status: 0 ok, 1 not found, refused or error, 2 usage error.\n";


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

/* the container id as the agent takes it; a clear word if not */
static int check_container(const char *id)
{
	size_t n = strlen(id), i;

	for (i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return usage_error("--container '%s': a container id is hex digits (0-9, a-f; "
					   "as runc, containerd and CRI-O print it)", id);
	if (n < CTR_ID_MIN_PREFIX)
		return usage_error("--container '%s': too short; give the full id or a prefix of at "
				   "least %d hex digits", id, CTR_ID_MIN_PREFIX);
	if (n > 64)
		return usage_error("--container '%s': longer than a container id (64 hex digits)", id);
	return 0;
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
		{ "container", required_argument, NULL, OPT_CONTAINER },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned f = c->def->flags;
	/* commands that take no operand */
	bool no_operand = !(f & CMD_ID);
	int opt, i, li, err;

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
			if (!(f & CMD_FILTERS))
				return usage_error("--%s: only 'list' takes it", name);
			break;
		case OPT_FORMAT:
		case 'o':
			if (!(f & CMD_FORMAT))
				return usage_error("-%s%s: only 'report' takes it", li >= 0 ? "-" : "", name);
			break;
		case OPT_CONTAINER:
			if (!(f & CMD_CONTAINER))
				return usage_error("--container: only isolate, freeze, kill-container and "
						   "release take it");
			break;
		case OPT_SOCKET:
			if (!(f & CMD_SOCKET))
				return usage_error("--socket: only isolate, freeze, kill-container, release "
						   "and status take it");
			break;
		case OPT_PIN_DIR:
			if (!(f & CMD_PIN_DIR))
				return usage_error("--pin-dir: only release takes it (with the agent down)");
			if (optarg[0] != '/')
				return usage_error("--pin-dir '%s': must be an absolute path", optarg);
			break;
		case OPT_DIR:
			if (f & CMD_VIA_AGENT)
				return usage_error("--dir: '%s' goes through the agent, which has its own "
						   "journal", c->cmd);
			break;
		}
		switch (opt) {
		case OPT_SINCE:
			if (report_parse_since(optarg, clock_wall_ns(), &c->filter.since_ns))
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
			c->filter.status = incident_status_from_name(optarg);
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
		case OPT_CONTAINER:
			if (c->container)
				return usage_error("--container given twice");
			c->container = optarg;
			break;
		case OPT_SOCKET:
			c->socket = optarg;
			break;
		case OPT_PIN_DIR:
			c->pin_dir = optarg;
			break;
		case 'h':
			c->help = true;
			return 0;
		case 1:
			if (no_operand || c->id)
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
		if (no_operand || c->id)
			return usage_error("unexpected argument '%s'", argv[i]);
		c->id = argv[i];
	}
	if ((f & CMD_NEEDS_CTR) && !c->container)
		return usage_error("%s: which container? (--container ID)", c->cmd);
	if ((f & CMD_ID_OR_CTR) && !c->id == !c->container)
		return usage_error("release: give an incident ID or --container ID (one of them)");
	if (!no_operand && !(f & CMD_ID_OR_CTR) && !c->id)
		return usage_error("%s: which incident? (give its ID)", c->cmd);
	if (c->id && (!*c->id || strlen(c->id) >= sizeof(((struct incident *)0)->id)))
		return usage_error("'%s' is not an incident ID", c->id);
	if (c->id && (f & CMD_ID_OR_CTR) && !ctl_valid_incident_id(c->id))
		return usage_error("'%s' is not an incident ID (like ng-20261126-145945-1a2b3c4d)",
				   c->id);
	if (c->container) {
		err = check_container(c->container);
		if (err)
			return err;
	}
	if ((f & CMD_FORMAT) && !c->format)
		c->format = "md";
	if ((f & CMD_FORMAT) && strcmp(c->format, "json") && strcmp(c->format, "md") &&
	    strcmp(c->format, "markdown") && strcmp(c->format, "html") && strcmp(c->format, "text"))
		return usage_error("--format '%s': want json, md or html", c->format);
	if (!c->dir || !*c->dir)
		c->dir = getenv("NODEGUARD_JOURNAL_DIR");
	if (!c->dir || !*c->dir)
		c->dir = DEFAULT_DIR;
	if (!c->pin_dir || !*c->pin_dir)
		c->pin_dir = getenv("NODEGUARD_PIN_DIR");
	if (!c->pin_dir || !*c->pin_dir)
		c->pin_dir = NG_PIN_DIR;
	if (!c->socket || !*c->socket)
		c->socket = getenv("NODEGUARD_SOCKET");
	if (!c->socket || !*c->socket)
		c->socket = CTL_DEFAULT_PATH;
	if (strlen(c->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return usage_error("--socket '%s': longer than a Unix socket path may be", c->socket);
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
struct incident *nodeguardctl_find(struct incmgr *m, const char *id)
{
	struct incident *i, *hit = NULL;
	size_t n = strlen(id), matches = 0;

	for (i = incident_mgr_first(m); i; i = i->next) {
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
	for (i = incident_mgr_first(m); i; i = i->next) {
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

int nodeguardctl_finish(FILE *f, const char *what)
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
	for (i = incident_mgr_first(m); i; i = i->next) {
		if (!report_filter_match(&c->filter, i))
			continue;
		if (c->json)
			report_list_json(stdout, i);
		else
			report_list_line(stdout, i);
	}
	return nodeguardctl_finish(stdout, "the list");
}

static int cmd_show(const struct ctl *c, struct incmgr *m)
{
	struct incident *inc = nodeguardctl_find(m, c->id);

	if (!inc)
		return EXIT_NOTFOUND;
	report_text(stdout, inc);
	return nodeguardctl_finish(stdout, "the incident");
}

static int cmd_report(const struct ctl *c, struct incmgr *m)
{
	struct incident *inc = nodeguardctl_find(m, c->id);
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
	ret = nodeguardctl_finish(out, c->out_path ? c->out_path : "the report");
	if (out != stdout && fclose(out) && !ret) {
		fprintf(stderr, "nodeguardctl: Failed to write %s: %s\n", c->out_path, strerror(errno));
		ret = EXIT_NOTFOUND;
	}
	return ret;
}

/* ---------------------------------------------------------------- the agent */

/* who the user says they are; the agent puts the socket peer's uid, pid and
 * command in front of it */
void nodeguardctl_claim_name(char *buf, size_t n)
{
	const char *s = getenv("SUDO_USER");
	struct passwd *pw;

	if (s && *s) {
		snprintf(buf, n, "%s", s);
		return;
	}
	if (getlogin_r(buf, n) == 0 && *buf)
		return;
	pw = getpwuid(getuid());
	snprintf(buf, n, "%s", pw ? pw->pw_name : "unknown");
}

static int agent_request(const struct ctl *c, const char *cmd, char *reply, size_t n)
{
	char claim[CTL_CLAIM_MAX + 1];
	struct jsonw w;
	int err;

	nodeguardctl_claim_name(claim, sizeof(claim));
	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_u64(&w, "v", CTL_PROTO_VERSION);
	jsonw_kv_str(&w, "cmd", cmd);
	if (c->container)
		jsonw_kv_str(&w, "container", c->container);
	if (c->id)
		jsonw_kv_str(&w, "incident", c->id);
	jsonw_kv_str(&w, "who", claim);
	jsonw_obj_close(&w);
	err = jsonw_str(&w) ? ctl_request(c->socket, jsonw_str(&w), reply, n, REQUEST_TIMEOUT_MS)
			    : -ENOMEM;
	jsonw_free(&w);
	return err;
}

/* nothing listens: no socket file, or a stale one */
static bool agent_down(int err)
{
	return err == -ENOENT || err == -ECONNREFUSED;
}

static int transport_error(const struct ctl *c, int err)
{
	fputs("nodeguardctl: ", stderr);
	if (err == -EACCES || err == -EPERM) {
		fputs("permission denied on ", stderr);
		report_term_puts(stderr, c->socket);
		fputs(": the control socket is root-only (run with sudo)\n", stderr);
	} else if (err == -ETIMEDOUT) {
		fputs("the agent did not answer on ", stderr);
		report_term_puts(stderr, c->socket);
		fprintf(stderr, " within %d s\n", REQUEST_TIMEOUT_MS / 1000);
	} else {
		fputs("Failed to talk to the agent on ", stderr);
		report_term_puts(stderr, c->socket);
		fprintf(stderr, ": %s\n", strerror(-err));
	}
	return EXIT_NOTFOUND;
}

/* the reply's message on stdout (ok) or stderr (not ok) */
static int print_reply(const char *reply)
{
	cJSON *j = cJSON_Parse(reply);
	const cJSON *ok, *msg, *inc;
	const char *m, *id;
	FILE *out;
	bool good;

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		fputs("nodeguardctl: the agent's reply is not a JSON object\n", stderr);
		return EXIT_NOTFOUND;
	}
	ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
	msg = cJSON_GetObjectItemCaseSensitive(j, "message");
	inc = cJSON_GetObjectItemCaseSensitive(j, "incident");
	good = cJSON_IsTrue(ok);
	m = cJSON_IsString(msg) ? msg->valuestring : good ? "done" : "failed";
	id = cJSON_IsString(inc) ? inc->valuestring : NULL;
	out = good ? stdout : stderr;
	if (!good)
		fputs("nodeguardctl: ", out);
	report_term_puts(out, m);
	if (id && *id && !strstr(m, id)) {
		fputs(" (incident ", out);
		report_term_puts(out, id);
		fputc(')', out);
	}
	fputc('\n', out);
	cJSON_Delete(j);
	if (good)
		return nodeguardctl_finish(stdout, "the reply");
	return EXIT_NOTFOUND;
}

static int cmd_act(const struct ctl *c, struct incmgr *m)
{
	char reply[8192];
	int err = agent_request(c, c->cmd, reply, sizeof(reply));

	if (agent_down(err)) {
		fputs("nodeguardctl: " NOT_RUNNING "\n", stderr);
		return EXIT_NOTFOUND;
	}
	if (err)
		return transport_error(c, err);
	return print_reply(reply);
}

static int cmd_status(const struct ctl *c, struct incmgr *m)
{
	char reply[8192];
	int err = agent_request(c, "status", reply, sizeof(reply));

	if (agent_down(err)) {
		fputs("nodeguardctl: the agent is not running (nothing answers on ", stderr);
		report_term_puts(stderr, c->socket);
		fputs(")\n", stderr);
		return EXIT_NOTFOUND;
	}
	if (err)
		return transport_error(c, err);
	return print_reply(reply);
}

static int cmd_release(const struct ctl *c, struct incmgr *m)
{
	char reply[8192];
	int err = agent_request(c, "release", reply, sizeof(reply));

	if (agent_down(err))
		return release_offline(c);
	if (err)
		return transport_error(c, err);
	return print_reply(reply);
}

/* ---------------------------------------------------------------- commands */

static const struct command commands[] = {
	{ "list", cmd_list, false, CMD_JOURNAL | CMD_FILTERS,
	  "  list [--since DURATION|TIME] [--severity S] [--pod NS/NAME] [--status S] [--json]\n"
	  "        one line per incident: id, severity, status, first seen, pod (or short\n"
	  "        container id, or host), top rule (+ further timeline entries)\n"
	  "        --since     30m, 2h, 7d, 1h30m, or RFC 3339 (2026-11-26T14:00:00Z, 2026-11-26):\n"
	  "                    incidents seen at or after that time\n"
	  "        --severity  info|low|medium|high|critical: that severity or above\n"
	  "        --pod       NS/NAME of the pod (shell globs allowed)\n"
	  "        --status    open|contained|released|closed\n"
	  "        --json      one JSON object per incident and line\n" },
	{ "show", cmd_show, false, CMD_JOURNAL | CMD_ID,
	  "  show ID        the incident (ID or a unique prefix of it) for a terminal\n" },
	{ "report", cmd_report, false, CMD_JOURNAL | CMD_FORMAT | CMD_ID,
	  "  report ID [--format json|md|html|text] [-o FILE]\n"
	  "        a full report (default: md) to stdout or FILE (created 0600)\n" },
	{ "isolate", cmd_act, true, CMD_CONTAINER | CMD_SOCKET | CMD_VIA_AGENT | CMD_NEEDS_CTR,
	  "  isolate --container ID\n"
	  "        cut the container off the network (loopback and the allow-list stay)\n" },
	{ "freeze", cmd_act, true, CMD_CONTAINER | CMD_SOCKET | CMD_VIA_AGENT | CMD_NEEDS_CTR,
	  "  freeze --container ID\n"
	  "        freeze every process of the container (cgroup.freeze)\n" },
	/* with the lines about all three actions */
	{ "kill-container", cmd_act, true, CMD_CONTAINER | CMD_SOCKET | CMD_VIA_AGENT | CMD_NEEDS_CTR,
	  "  kill-container --container ID\n"
	  "        kill every process of the container\n"
	  "        Each opens an incident for the container, or joins its open one, and\n"
	  "        prints it. ID: the full container id or a unique prefix of it, at least\n"
	  "        12 hex digits. With the agent down these fail: start the agent first.\n" },
	{ "release", cmd_release, true,
	  CMD_CONTAINER | CMD_SOCKET | CMD_PIN_DIR | CMD_ID | CMD_ID_OR_CTR,
	  "  release INCIDENT\n"
	  "  release --container ID\n"
	  "        lift isolate, freeze and deny of the incident (ID or a unique prefix)\n"
	  "        or of every incident of the container, and journal who released it;\n"
	  "        remove its quarantine label and NetworkPolicy and give its pod's\n"
	  "        ServiceAccount back its bindings (through the agent's API queue).\n"
	  "        With the agent down, release acts itself: it locks the journal (--dir),\n"
	  "        undoes the still-active actions the journal records on the pinned state\n"
	  "        under --pin-dir (default $NODEGUARD_PIN_DIR, else " NG_PIN_DIR ") and the\n"
	  "        cgroup tree, and journals the release;\n"
	  "        Kubernetes undos wait in the journal for the next agent with API access.\n" },
	{ "status", cmd_status, true, CMD_SOCKET | CMD_VIA_AGENT,
	  "  status         whether the agent answers, its pid, incident counts and the\n"
	  "                 Kubernetes actions waiting for the API server\n" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *command_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* "list, show, ..., release" then last_sep and the last name */
static void command_names(char *buf, size_t n, const char *last_sep)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < NCOMMANDS && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s",
					!i ? "" : i + 1 < NCOMMANDS ? ", " : last_sep,
					commands[i].name);
}

/* the journal readers first, then the root-only commands */
static void print_help(void)
{
	size_t i;

	fputs(help_head, stdout);
	for (i = 0; i < NCOMMANDS; i++) {
		if (!i || commands[i].needs_root != commands[i - 1].needs_root)
			fputs(commands[i].needs_root ? help_root : help_journal, stdout);
		fputs(commands[i].usage, stdout);
	}
	fputs(help_tail, stdout);
}

int main(int argc, char **argv)
{
	struct ctl c = { .filter = { .min_severity = -1, .status = -1 } };
	struct incmgr *m = NULL;
	char names[160];
	int ret;

	if (argc < 2) {
		command_names(names, sizeof(names), " or ");
		return usage_error("a command is needed: %s", names);
	}
	c.cmd = argv[1];
	if (!strcmp(c.cmd, "-h") || !strcmp(c.cmd, "--help") || !strcmp(c.cmd, "help")) {
		print_help();
		return 0;
	}
	c.def = command_find(c.cmd);
	if (!c.def) {
		command_names(names, sizeof(names), ", ");
		return usage_error("unknown command '%s' (%s)", c.cmd, names);
	}
	/* options may come before or after the ID: parse argv[1..] with the
	 * command in argv[0]'s place */
	ret = parse_args(argc - 1, argv + 1, &c);
	if (ret)
		return ret;
	if (c.help) {
		print_help();
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!(c.def->flags & CMD_JOURNAL))
		return c.def->run(&c, NULL);
	ret = load(&c, &m);
	if (ret)
		return ret;
	ret = c.def->run(&c, m);
	incident_mgr_free(m);
	return ret;
}
