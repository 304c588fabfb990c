/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers of the cmocka unit tests: an independent strict UTF-8
 * checker (so the writer is not judged by its own validator), hex encoding
 * and cJSON accessors that assert exact values.
 *
 * Include after <cmocka.h>.
 */
#ifndef NODEGUARD_UNIT_HELPERS_H
#define NODEGUARD_UNIT_HELPERS_H

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3629 table 3-7 well-formed sequences, written out independently */
static inline bool strict_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t len, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c == 0xe0) {
			len = 3;
			lo = 0xa0;
		} else if (c >= 0xe1 && c <= 0xec) {
			len = 3;
		} else if (c == 0xed) {
			len = 3;
			hi = 0x9f;
		} else if (c >= 0xee && c <= 0xef) {
			len = 3;
		} else if (c == 0xf0) {
			len = 4;
			lo = 0x90;
		} else if (c >= 0xf1 && c <= 0xf3) {
			len = 4;
		} else if (c == 0xf4) {
			len = 4;
			hi = 0x8f;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += len;
	}
	return true;
}

static inline void hex_encode(const void *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* parse a whole document (nothing may trail it); it must be strict UTF-8 */
#define parse_doc(doc)                                                          \
	({                                                                      \
		const char *doc_ = (doc);                                       \
		const char *end_ = NULL;                                        \
		cJSON *root_;                                                   \
		assert_non_null(doc_);                                          \
		assert_true(strict_utf8((const unsigned char *)doc_, strlen(doc_))); \
		root_ = cJSON_ParseWithOpts(doc_, &end_, 1);                    \
		if (!root_)                                                     \
			fail_msg("cJSON rejected %s (near %s)", doc_,           \
				 cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "?"); \
		root_;                                                          \
	})

/* a member that must exist */
#define member(obj, name)                                                       \
	({                                                                      \
		cJSON *m_ = cJSON_GetObjectItemCaseSensitive((obj), (name));    \
		if (!m_)                                                        \
			fail_msg("missing member \"%s\"", (name));              \
		m_;                                                             \
	})

/*
 * The string value must decode to exactly n bytes exp[0..n). cJSON keeps
 * \u0000 as a byte in valuestring and allocates at least one byte per
 * escaped input character plus the terminator, so comparing n + 1 bytes stays
 * inside its buffer for any document our writer produces.
 */
#define assert_json_bytes(item, exp, n)                                         \
	do {                                                                    \
		const cJSON *i_ = (item);                                       \
		const char *e_ = (const char *)(exp);                           \
		size_t n_ = (n), nul_ = strnlen(e_, n_);                        \
		assert_non_null(i_);                                            \
		assert_true(cJSON_IsString(i_));                                \
		assert_int_equal(strlen(i_->valuestring), nul_);                \
		assert_memory_equal(i_->valuestring, e_, n_);                   \
		assert_int_equal(i_->valuestring[n_], '\0');                    \
	} while (0)

#define assert_json_str(item, s) assert_json_bytes((item), (s), strlen(s))

/* numbers: cJSON keeps doubles, exact for integers below 2^53 */
#define assert_json_num(item, v)                                                \
	do {                                                                    \
		const cJSON *i_ = (item);                                       \
		double v_ = (double)(v);                                        \
		assert_non_null(i_);                                            \
		assert_true(cJSON_IsNumber(i_));                                \
		if (i_->valuedouble != v_)                                      \
			fail_msg("number %.17g != %.17g", i_->valuedouble, v_); \
	} while (0)

#define assert_json_bool(item, b)                                               \
	do {                                                                    \
		const cJSON *i_ = (item);                                       \
		assert_non_null(i_);                                            \
		assert_true(cJSON_IsBool(i_));                                  \
		assert_int_equal(cJSON_IsTrue(i_) ? 1 : 0, (b) ? 1 : 0);        \
	} while (0)

#endif
