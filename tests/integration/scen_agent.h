/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs the detection agent (`nodeguard run ...`, or `nodeguard` with no
 * arguments at all) for the scenario tests. The running agent is described
 * by tests/integration/agent.h's struct agent, so its line reader and stop
 * helpers (agent_poll, agent_find, agent_stop, agent_free) are reused as they
 * are; only the start differs (other arguments, another "ready" line, and
 * optionally a private mount namespace).
 */
#ifndef NG_IT_SCEN_AGENT_H
#define NG_IT_SCEN_AGENT_H

#include <stddef.h>

#include "agent.h"

#define SA_READY "nodeguard: info: nodeguard running on node "

/*
 * Start bin with exactly args (NULL-terminated, may be empty: `nodeguard`
 * alone). When varlib is set, the agent runs in a private mount namespace
 * where varlib is bind-mounted on /var/lib, so the default journal directory
 * (/var/lib/nodeguard) lands in varlib/nodeguard without touching the host's.
 * Waits up to timeout_ms for SA_READY on stderr. Files go to dir.
 */
int sa_start(struct agent *a, const char *bin, const char *const args[], const char *dir,
	     const char *varlib, int timeout_ms);
/* the agent's whole stderr so far (malloc'd, "" when unreadable) */
char *sa_stderr(const struct agent *a);
/* wait until needle appears in stderr at or after byte offset from; 0 or -ETIMEDOUT */
int sa_wait_stderr(const struct agent *a, const char *needle, size_t from, int timeout_ms);
/* bytes of stderr so far */
size_t sa_stderr_len(const struct agent *a);
/* SIGKILL, reap, then read every complete line it wrote */
int sa_kill9(struct agent *a);

#endif
