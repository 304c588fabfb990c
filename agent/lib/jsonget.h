/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed reads of one member of a cJSON object, the strict way every reader
 * of our JSON (journal replay, undo data, the control socket, the API's
 * objects) takes them: a string only when it is a JSON string, a number
 * only when it is in range. Never logs or exits.
 */
#ifndef NODEGUARD_JSONGET_H
#define NODEGUARD_JSONGET_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* the string member k of o; NULL when absent or not a string (o may be NULL) */
const char *jget_str(const cJSON *o, const char *k);
/* the same, for members that are optional but typed: NULL when absent or
 * JSON null; NULL and *bad set to true when present as another type */
const char *jget_str_check(const cJSON *o, const char *k, bool *bad);
/* the unsigned 64-bit member k: a non-negative integral number in range, or
 * a string of decimal digits that fits; 0 otherwise */
uint64_t jget_u64(const cJSON *o, const char *k);
/* true only when the member k is JSON true */
bool jget_true(const cJSON *o, const char *k);

#endif
