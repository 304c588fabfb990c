// SPDX-License-Identifier: Apache-2.0
/* A bounded, growing byte buffer (see growbuf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "growbuf.h"

int growbuf_add(struct growbuf *b, const char *d, size_t n)
{
	if (n > b->max || b->len > b->max - n) {
		b->overflow = true;
		return -EFBIG;
	}
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 16384;
		char *np;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		if (ncap > b->max + 1)
			ncap = b->max + 1;
		np = realloc(b->p, ncap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void growbuf_reset(struct growbuf *b, size_t max)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
	b->max = max;
}
