/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small streaming JSON writer into a growable buffer.
 *
 * Strings are escaped per RFC 8259; bytes that are not valid UTF-8 are
 * written as U+FFFD and, so that nothing is lost, the writer adds a sibling
 * field "<key>_hex" with the exact bytes in hex (jsonw_kv_bytes).
 */
#ifndef NODEGUARD_JSONW_H
#define NODEGUARD_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
	char *buf;
	size_t len;
	size_t cap;
	int depth;
	bool need_comma[32];
	bool oom;
};

void jsonw_init(struct jsonw *w);
void jsonw_free(struct jsonw *w);
void jsonw_reset(struct jsonw *w);
/* the finished text, NUL-terminated; NULL if memory ran out */
const char *jsonw_str(struct jsonw *w);

void jsonw_obj_open(struct jsonw *w);
void jsonw_obj_close(struct jsonw *w);
void jsonw_arr_open(struct jsonw *w);
void jsonw_arr_close(struct jsonw *w);
void jsonw_key(struct jsonw *w, const char *key);

/* values (inside arrays, or after jsonw_key) */
void jsonw_str_val(struct jsonw *w, const char *s);
void jsonw_bytes_val(struct jsonw *w, const char *s, size_t n);
void jsonw_u64_val(struct jsonw *w, uint64_t v);
void jsonw_i64_val(struct jsonw *w, int64_t v);
void jsonw_bool_val(struct jsonw *w, bool v);
void jsonw_null_val(struct jsonw *w);
void jsonw_raw_val(struct jsonw *w, const char *json);
/* the bytes as a lowercase hex string value */
void jsonw_hex_val(struct jsonw *w, const char *s, size_t n);

/* key/value helpers */
void jsonw_kv_str(struct jsonw *w, const char *key, const char *s);
void jsonw_kv_bytes(struct jsonw *w, const char *key, const char *s, size_t n);
void jsonw_kv_u64(struct jsonw *w, const char *key, uint64_t v);
void jsonw_kv_i64(struct jsonw *w, const char *key, int64_t v);
void jsonw_kv_bool(struct jsonw *w, const char *key, bool v);

/* JSON's two-character escape of c ("\\n", "\\\"", ...), NULL when it has none */
const char *jsonw_short_escape(uint32_t c);
/* true if s[0..n) is valid UTF-8 without NUL */
bool utf8_valid(const char *s, size_t n);
/* length of a valid UTF-8 sequence at s (max n bytes), 0 if invalid */
size_t utf8_seq_len(const unsigned char *s, size_t n);

#endif
