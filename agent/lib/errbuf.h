/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error text of library-like code that returns -errno and leaves the
 * logging to its caller: one printf into the caller's buffer. Never logs or
 * exits.
 */
#ifndef NODEGUARD_ERRBUF_H
#define NODEGUARD_ERRBUF_H

#include <stddef.h>

/* printf into err[n]; nothing when err is NULL or n is 0 */
void seterr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
