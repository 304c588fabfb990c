/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's clocks, in one place: monotonic milliseconds for timeouts and
 * timers, boot-time nanoseconds for what is compared with the kernel's
 * clock, wall-clock nanoseconds for records. Never logs or fails.
 */
#ifndef NODEGUARD_CLOCK_H
#define NODEGUARD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds */
uint64_t clock_mono_ms(void);
/* CLOCK_BOOTTIME in nanoseconds: monotonic across suspend, the kernel's
 * bpf_ktime_get_boot_ns() clock (isolation times, responder rate windows) */
uint64_t clock_boot_ns(void);
/* CLOCK_REALTIME in nanoseconds */
uint64_t clock_wall_ns(void);

#endif
