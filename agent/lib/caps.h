/* SPDX-License-Identifier: Apache-2.0 */
/* Linux capability names <-> bit numbers. */
#ifndef NODEGUARD_CAPS_H
#define NODEGUARD_CAPS_H

#include <stddef.h>
#include <stdint.h>

#define NG_CAP_LAST 40

/* "CAP_SYS_ADMIN" or "sys_admin" (any case) -> bit, -1 if unknown */
int caps_from_name(const char *name);
/* bit -> "CAP_SYS_ADMIN", NULL past the table */
const char *caps_name(int bit);
/* bit -> its name, or "CAP_<bit>" (in tmp) past the table */
const char *caps_label(int bit, char tmp[16]);
/* "CAP_A,CAP_B" into buf; "" for 0 */
const char *caps_format(uint64_t set, char *buf, size_t n);

#endif
