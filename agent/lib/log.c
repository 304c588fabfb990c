// SPDX-License-Identifier: Apache-2.0
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

int ng_log_level = LOG_LVL_INFO;

static void vlog(int level, const char *fmt, va_list ap)
{
	static const char *const tag[] = { "error", "warning", "info", "debug" };
	char msg[2048];
	size_t n;

	if (level > ng_log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "nodeguard: %s: %s\n", tag[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

void ng_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	int level = lvl == LIBBPF_WARN ? LOG_LVL_WARN : lvl == LIBBPF_INFO ? LOG_LVL_DEBUG : LOG_LVL_DEBUG + 1;

	/* libbpf's warnings are detail for our own error message: debug unless -v */
	if (level > ng_log_level || (level == LOG_LVL_WARN && ng_log_level < LOG_LVL_DEBUG))
		return 0;
	/* verifier logs are long: no truncation here */
	fputs("nodeguard: libbpf: ", stderr);
	vfprintf(stderr, fmt, ap);
	return 0;
}

void ng_log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
