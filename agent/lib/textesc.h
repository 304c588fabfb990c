/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What makes attacker-controlled text unsafe to show, decided in one place:
 * C0/C1 controls and DEL (they drive terminals), bytes that are not UTF-8,
 * and invisible or bidirectional format characters (they make text read
 * differently from what it is: Trojan Source). The terminal escaper here is
 * what `nodeguard trace` prints; the reports encode the same classes for
 * their media (report.h). Never logs or fails.
 */
#ifndef NODEGUARD_TEXTESC_H
#define NODEGUARD_TEXTESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* an invisible or bidirectional format character (shown as \uXXXX) */
bool textesc_format_char(uint32_t cp);
/* the code point of a valid UTF-8 sequence of l bytes (utf8_seq_len) */
uint32_t textesc_utf8_cp(const unsigned char *s, size_t l);
/* s[0..n) for a terminal in buf: backslash doubled, controls, DEL, C1 and
 * bytes that are not UTF-8 as \xNN, format characters as \uXXXX; always
 * NUL-terminated, cut at a whole unit when buf is short; returns buf */
const char *textesc_term(const char *s, size_t n, char *buf, size_t bufsz);

#endif
