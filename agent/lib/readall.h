/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A whole file into memory, bounded: a file the user or a pod controls
 * (kubeconfig, token, policy) never grows a buffer past its bound, however
 * it changes while it is read. Never logs or exits.
 */
#ifndef NODEGUARD_READALL_H
#define NODEGUARD_READALL_H

#include <stddef.h>

/*
 * fd read to EOF into a new NUL-terminated *out (*len bytes, without the
 * NUL), at most max bytes: 0, or -errno (-EFBIG over max, -ENOMEM) with
 * *out NULL. fd stays open.
 */
int read_all_fd(int fd, size_t max, char **out, size_t *len);

#endif /* NODEGUARD_READALL_H */
