/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The value of one digit of a textual encoding (hex, base64): its place in
 * the encoding's alphabet. Never logs or fails.
 */
#ifndef NODEGUARD_DIGITS_H
#define NODEGUARD_DIGITS_H

/* the base64 alphabet of RFC 4648 section 4 (not the URL-safe one) */
#define BASE64_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/* c's place in alphabet; -1 when c is not in it (or is '\0') */
int digit_value(const char *alphabet, int c);
/* a hex digit of either case: 0..15, or -1 */
int hex_digit(int c);

#endif
