/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bounded, growing, NUL-terminated byte buffer: where the Kubernetes
 * client and the watch collect a response body that must never grow past
 * its bound. Never logs or exits.
 */
#ifndef NODEGUARD_GROWBUF_H
#define NODEGUARD_GROWBUF_H

#include <stdbool.h>
#include <stddef.h>

struct growbuf {
	char *p;           /* NUL-terminated once anything was added; NULL before */
	size_t len, cap;
	size_t max;        /* bytes it may hold */
	bool overflow;     /* an add would have passed max */
};

/* Append n bytes of d. 0; -EFBIG (and overflow set) past max, the buffer
 * unchanged; -ENOMEM. */
int growbuf_add(struct growbuf *b, const char *d, size_t n);
/* free what it holds and start again empty, bounded by max */
void growbuf_reset(struct growbuf *b, size_t max);

#endif
