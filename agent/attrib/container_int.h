/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to container attribution (container_path.c: path parsing;
 * container.c: the id cache and the walks): what the cache needs of the
 * parser.
 */
#ifndef NODEGUARD_CONTAINER_INT_H
#define NODEGUARD_CONTAINER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "container.h"

static inline bool lower_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

/*
 * As container_parse_path(), and in *ctr_end (may be NULL) the normalized
 * length of the path up to and including the container component
 */
int container_parse_path_end(const char *cgpath, struct ctr_info *out, size_t *ctr_end);

#endif
