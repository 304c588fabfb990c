// SPDX-License-Identifier: Apache-2.0
/* Error text into a caller's buffer (see errbuf.h). */
#include <stdarg.h>
#include <stdio.h>

#include "errbuf.h"

void seterr(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}
