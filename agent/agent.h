/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The running agent: one struct agent owns every stage of the data flow
 * (sensor -> proctab -> container -> rules -> incident -> journal) and the
 * main loop (agent/loop.c) waits on them in one epoll set.
 */
#ifndef NODEGUARD_AGENT_H
#define NODEGUARD_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "decode.h"

struct agent_opts {
	const char *policy_path;   /* NULL: the embedded default policy */
	const char *journal_dir;   /* overrides settings.journal_dir */
	const char *node_name;     /* overrides settings.node_name / $NODE_NAME */
	bool dry_run;              /* forces settings.dry_run */
	bool trace_host;           /* forces settings.trace_host */
	bool quiet;                /* no detection lines on stdout */
	uint32_t duration_s;       /* stop after this long (0: until a signal) */
	const char *kubeconfig;    /* out-of-cluster API access; NULL: in-cluster if there */
	const char *kube_context;  /* kubeconfig context (NULL: current-context) */
	const char *pin_dir;       /* pinned state (NULL: NG_PIN_DIR) */
};

/* run until *exiting; reload the policy when *reload is set (SIGHUP) */
int agent_run(const struct agent_opts *o, volatile sig_atomic_t *exiting,
	      volatile sig_atomic_t *reload);

#endif
