/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's clocks, in one place: monotonic milliseconds for timeouts and
 * timers, boot-time nanoseconds for what is compared with the kernel's
 * clock, wall-clock nanoseconds for records. Never logs or fails.
 */
#ifndef NODEGUARD_CLOCK_H
#define NODEGUARD_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds */
uint64_t clock_mono_ms(void);
/* CLOCK_BOOTTIME in nanoseconds: monotonic across suspend, the kernel's
 * bpf_ktime_get_boot_ns() clock (isolation times, responder rate windows) */
uint64_t clock_boot_ns(void);
/* CLOCK_REALTIME in nanoseconds */
uint64_t clock_wall_ns(void);

/* wall_ns as RFC 3339 UTC with digits (0, 3 or 9) of the second, e.g.
 * "2024-05-01T12:00:00.123Z"; buf, or NULL (buf "") when the time has no
 * calendar date */
const char *clock_rfc3339(uint64_t wall_ns, unsigned digits, char *buf, size_t n);

#endif
