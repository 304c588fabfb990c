/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The incident manager's private state and what its two files share;
 * incident.h is the public API. Included only by incident.c (the model and
 * the manager: correlate, status, tick) and incident_journal.c (the
 * journal's delta records out, JSON in, replay). Cross-file functions carry
 * the prefix of their file.
 */
#ifndef NODEGUARD_INCIDENT_INT_H
#define NODEGUARD_INCIDENT_INT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident.h"

struct incmgr {
	struct incident *head, *tail;
	char *node;
	uint32_t window_s;
	inc_write_fn write;
	void *write_ctx;
	uint64_t write_errors;
	struct jsonw w;
};

static inline char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static inline void replace_str(char **dst, const char *src)
{
	char *n = xstrdup(src);

	if (src && !n)
		return;
	free(*dst);
	*dst = n;
}

static inline void copy_fixed(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

/* ---------------------------------------------------------------- incident.c */

/* freeing: what the parts own (the clears also zero them); incident_free
 * accepts NULL */
void incident_proc_clear(struct inc_proc *p);
void incident_entry_clear(struct inc_entry *e);
void incident_action_clear(struct inc_action *a);
void incident_free(struct incident *inc);
/* append to the manager's list (oldest first) */
void incident_link(struct incmgr *m, struct incident *inc);
/* mutation, live and by replay, within the INC_MAX_* bounds: add_entry and
 * add_action take ownership of what they are given (also when they fail),
 * add_proc copies */
void incident_add_category(struct incident *inc, const char *cat);
int incident_add_proc(struct incident *inc, const struct inc_proc *p, bool *added);
int incident_add_entry(struct incident *inc, struct inc_entry *e);
int incident_add_action(struct incident *inc, struct inc_action *a);

/* ---------------------------------------------------------------- incident_journal.c */

int incident_journal_emit(struct incmgr *m);
void incident_journal_rec_begin(struct incmgr *m, const char *rec, const struct incident *inc,
				uint64_t ts);
void incident_journal_action_json(struct jsonw *w, const struct inc_action *a);
int incident_journal_write_open(struct incmgr *m, const struct incident *inc);
int incident_journal_write_proc(struct incmgr *m, const struct incident *inc,
				const struct inc_proc *p, uint64_t ts);
int incident_journal_write_detection(struct incmgr *m, const struct incident *inc, size_t idx);
int incident_journal_write_repeat(struct incmgr *m, const struct incident *inc, size_t idx);
int incident_journal_write_severity(struct incmgr *m, const struct incident *inc, uint64_t ts);
int incident_journal_write_status(struct incmgr *m, const struct incident *inc,
				  const char *reason, uint64_t ts);

#endif
