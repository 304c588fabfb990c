/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How a constructor fails: errno set, NULL returned, in one statement
 * (`return errno_null(EINVAL);`), as libbpf's libbpf_err_ptr(). Never logs.
 */
#ifndef NODEGUARD_ERRPTR_H
#define NODEGUARD_ERRPTR_H

#include <errno.h>
#include <stddef.h>

/* errno = e, then NULL: the return value of a constructor that failed */
static inline void *errno_null(int e)
{
	errno = e;
	return NULL;
}

#endif
