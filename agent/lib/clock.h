/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's clocks, in one place: monotonic milliseconds for timeouts and
 * timers, wall-clock nanoseconds for records. Never logs or fails.
 */
#ifndef NODEGUARD_CLOCK_H
#define NODEGUARD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds */
uint64_t clock_mono_ms(void);
/* CLOCK_REALTIME in nanoseconds */
uint64_t clock_wall_ns(void);

#endif
