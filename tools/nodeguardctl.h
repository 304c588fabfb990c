/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nodeguardctl's own parts (not a library): the parsed command line and the
 * command table (nodeguardctl.c), and release with the agent down
 * (ctl_release.c).
 */
#ifndef NODEGUARD_NODEGUARDCTL_H
#define NODEGUARD_NODEGUARDCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "report.h"

#define DEFAULT_DIR "/var/lib/nodeguard"
#define EXIT_NOTFOUND 1
#define EXIT_USAGE 2

/* what a command takes and needs (struct command.flags) */
enum {
	CMD_JOURNAL = 1 << 0,      /* reads the journal: main replays it first */
	CMD_FILTERS = 1 << 1,      /* --since, --severity, --pod, --status, --json */
	CMD_FORMAT = 1 << 2,       /* --format, -o */
	CMD_CONTAINER = 1 << 3,    /* --container */
	CMD_SOCKET = 1 << 4,       /* --socket */
	CMD_PIN_DIR = 1 << 5,      /* --pin-dir */
	CMD_VIA_AGENT = 1 << 6,    /* only through the agent: no --dir */
	CMD_ID = 1 << 7,           /* takes an incident ID operand... */
	CMD_ID_OR_CTR = 1 << 8,    /* ...or --container instead, one of them */
	CMD_NEEDS_CTR = 1 << 9,    /* --container is required */
};

struct ctl;
struct incmgr;

struct command {
	const char *name;
	/* m: the replayed journal with CMD_JOURNAL, else NULL */
	int (*run)(const struct ctl *c, struct incmgr *m);
	bool needs_root;  /* the control socket or the pinned state: root only */
	unsigned flags;
	const char *usage; /* its lines in --help */
};

struct ctl {
	const char *cmd;
	const struct command *def; /* cmd's entry in the command table */
	const char *dir;
	const char *socket;
	const char *pin_dir;
	const char *id;
	const char *container;
	const char *out_path;
	const char *format;
	bool json;
	bool help;
	struct report_filter filter;
	char pod_ns[256], pod_name[256];
};

struct incident;
struct incmgr;
/* who the user says they are (the agent puts the socket peer's uid, pid and
 * command in front of it) */
void nodeguardctl_claim_name(char *buf, size_t n);
/* the incident with this id, or the only one it is a prefix of; NULL (and
 * a message) otherwise */
struct incident *nodeguardctl_find(struct incmgr *m, const char *id);
/* flush f; an exit status, "Failed to write <what>" on error */
int nodeguardctl_finish(FILE *f, const char *what);

/* release with the agent down: the agent's own release code on the journal
 * (ctl_release.c); an exit status */
int release_offline(const struct ctl *c);

#endif
