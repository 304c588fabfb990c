// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <time.h>

#include "clock.h"

uint64_t clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *clock_rfc3339(uint64_t wall_ns, unsigned digits, char *buf, size_t n)
{
	time_t s = (time_t)(wall_ns / 1000000000u);
	uint64_t frac = wall_ns % 1000000000u;
	struct tm tm;
	size_t l;
	unsigned i;

	if (!n)
		return NULL;
	buf[0] = '\0';
	if (!gmtime_r(&s, &tm))
		return NULL;
	l = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits > 9)
		digits = 9;
	for (i = digits; i < 9; i++)
		frac /= 10;
	if (digits)
		snprintf(buf + l, n - l, ".%0*lluZ", (int)digits, (unsigned long long)frac);
	else
		snprintf(buf + l, n - l, "Z");
	return buf;
}
