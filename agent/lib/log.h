/* SPDX-License-Identifier: Apache-2.0 */
#ifndef NODEGUARD_LOG_H
#define NODEGUARD_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* the one mutable global besides the exit flag: set once from the CLI */
extern int ng_log_level;

void ng_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* route libbpf's messages through ng_log */
void ng_log_setup_libbpf(void);

#define log_err(...) ng_log(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) ng_log(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) ng_log(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) ng_log(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
