// SPDX-License-Identifier: Apache-2.0
/* A whole file into memory, bounded (see readall.h). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "readall.h"

int read_all_fd(int fd, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*len = 0;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nb;

			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= n + 1) {
				rc = -EFBIG;
				goto out;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			rc = -EFBIG;
			goto out;
		}
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	return rc;
}
