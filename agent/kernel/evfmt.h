/* SPDX-License-Identifier: Apache-2.0 */
/* struct ng_event -> one JSON object / one human-readable line. */
#ifndef NODEGUARD_EVFMT_H
#define NODEGUARD_EVFMT_H

#include <stdint.h>
#include <stdio.h>

#include "decode.h"
#include "jsonw.h"

/* realtime - boottime, to print kernel boot timestamps as wall time */
int64_t evfmt_boot_offset_ns(void);
/* "2026-11-26T14:39:34.123456789Z" from a boot timestamp */
const char *evfmt_time(uint64_t boot_ns, int64_t offset_ns, char *buf, size_t n);

/* the event's fields as members of the currently open JSON object */
void evfmt_json_fields(struct jsonw *w, const struct ng_event *ev, int64_t offset_ns);
/* a full JSON object */
void evfmt_json(struct jsonw *w, const struct ng_event *ev, int64_t offset_ns);
/* one line for a terminal: control characters and non-UTF-8 escaped */
void evfmt_text(FILE *out, const struct ng_event *ev, int64_t offset_ns);
/* s[0..n) made safe for a terminal (\xNN, \n, ...) */
const char *evfmt_term_escape(const char *s, size_t n, char *buf, size_t bufsz);

#endif
