// SPDX-License-Identifier: Apache-2.0
/*
 * agent/jsonw.c: structure (nesting, commas), scalars, and strings an attacker
 * controls. Every document is compared as text and parsed back with cJSON;
 * decoded strings must equal the expected bytes exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>

#include "jsonw.h"
#include "unit_helpers.h"

#define DOC(w) jsonw_str(w)

static void test_empty_containers(void **state)
{
	struct jsonw w;

	jsonw_init(&w);
	assert_string_equal(DOC(&w), "");

	jsonw_obj_open(&w);
	jsonw_obj_close(&w);
	assert_string_equal(DOC(&w), "{}");

	jsonw_reset(&w);
	jsonw_arr_open(&w);
	jsonw_arr_close(&w);
	assert_string_equal(DOC(&w), "[]");
	jsonw_free(&w);
	/* free accepts NULL and a freed writer */
	jsonw_free(NULL);
	jsonw_free(&w);
	assert_null(w.buf);
}

static void test_nesting_and_commas(void **state)
{
	static const char want[] =
		"{\"a\":1,\"b\":[1,2,{\"c\":true,\"d\":null},[],{}],\"e\":{},"
		"\"f\":[],\"g\":false,\"h\":{\"i\":{\"j\":[\"x\",-3]}},\"k\":\"v\"}";
	struct jsonw w;
	cJSON *root, *b, *h;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_u64(&w, "a", 1);
	jsonw_key(&w, "b");
	jsonw_arr_open(&w);
	jsonw_u64_val(&w, 1);
	jsonw_u64_val(&w, 2);
	jsonw_obj_open(&w);
	jsonw_kv_bool(&w, "c", true);
	jsonw_key(&w, "d");
	jsonw_null_val(&w);
	jsonw_obj_close(&w);
	jsonw_arr_open(&w);
	jsonw_arr_close(&w);
	jsonw_obj_open(&w);
	jsonw_obj_close(&w);
	jsonw_arr_close(&w);
	jsonw_key(&w, "e");
	jsonw_obj_open(&w);
	jsonw_obj_close(&w);
	jsonw_key(&w, "f");
	jsonw_arr_open(&w);
	jsonw_arr_close(&w);
	jsonw_kv_bool(&w, "g", false);
	jsonw_key(&w, "h");
	jsonw_obj_open(&w);
	jsonw_key(&w, "i");
	jsonw_obj_open(&w);
	jsonw_key(&w, "j");
	jsonw_arr_open(&w);
	jsonw_str_val(&w, "x");
	jsonw_i64_val(&w, -3);
	jsonw_arr_close(&w);
	jsonw_obj_close(&w);
	jsonw_obj_close(&w);
	jsonw_kv_str(&w, "k", "v");
	jsonw_obj_close(&w);
	assert_string_equal(DOC(&w), want);
	assert_int_equal(w.depth, 0);

	root = parse_doc(DOC(&w));
	assert_int_equal(cJSON_GetArraySize(root), 7);
	assert_json_num(member(root, "a"), 1);
	b = member(root, "b");
	assert_true(cJSON_IsArray(b));
	assert_int_equal(cJSON_GetArraySize(b), 5);
	assert_json_num(cJSON_GetArrayItem(b, 0), 1);
	assert_json_num(cJSON_GetArrayItem(b, 1), 2);
	assert_json_bool(member(cJSON_GetArrayItem(b, 2), "c"), true);
	assert_true(cJSON_IsNull(member(cJSON_GetArrayItem(b, 2), "d")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(b, 3)), 0);
	assert_true(cJSON_IsObject(cJSON_GetArrayItem(b, 4)));
	assert_json_bool(member(root, "g"), false);
	h = member(member(member(root, "h"), "i"), "j");
	assert_json_str(cJSON_GetArrayItem(h, 0), "x");
	assert_json_num(cJSON_GetArrayItem(h, 1), -3);
	assert_json_str(member(root, "k"), "v");
	cJSON_Delete(root);
	jsonw_free(&w);
}

/* 31 levels (the writer's comma tracking covers depth 1..31) */
static void test_deep_nesting(void **state)
{
	char want[31 * 8 + 8];
	struct jsonw w;
	cJSON *root, *it;
	size_t o = 0;
	int d;

	jsonw_init(&w);
	for (d = 0; d < 31; d++) {
		jsonw_arr_open(&w);
		jsonw_u64_val(&w, (uint64_t)d);
		want[o++] = '[';
		o += (size_t)sprintf(want + o, "%d,", d);
	}
	for (d = 0; d < 31; d++) {
		jsonw_u64_val(&w, 99);
		jsonw_arr_close(&w);
	}
	/* innermost: [30,99] then each outer level: ,99] */
	for (d = 0; d < 31; d++)
		o += (size_t)sprintf(want + o, d ? ",99]" : "99]");
	assert_string_equal(DOC(&w), want);

	root = parse_doc(DOC(&w));
	for (d = 0, it = root; d < 31; d++) {
		assert_true(cJSON_IsArray(it));
		assert_json_num(cJSON_GetArrayItem(it, 0), d);
		assert_int_equal(cJSON_GetArraySize(it), d == 30 ? 2 : 3);
		it = cJSON_GetArrayItem(it, 1);
	}
	assert_json_num(it, 99);
	cJSON_Delete(root);
	jsonw_free(&w);
}

static void test_numbers_and_literals(void **state)
{
	static const char want[] =
		"[0,18446744073709551615,-9223372036854775808,9223372036854775807,"
		"-1,0,4294967296,true,false,null,{\"raw\":1}]";
	struct jsonw w;
	cJSON *root;

	jsonw_init(&w);
	jsonw_arr_open(&w);
	jsonw_u64_val(&w, 0);
	jsonw_u64_val(&w, UINT64_MAX);
	jsonw_i64_val(&w, INT64_MIN);
	jsonw_i64_val(&w, INT64_MAX);
	jsonw_i64_val(&w, -1);
	jsonw_i64_val(&w, 0);
	jsonw_u64_val(&w, 4294967296ull);
	jsonw_bool_val(&w, true);
	jsonw_bool_val(&w, false);
	jsonw_null_val(&w);
	jsonw_raw_val(&w, "{\"raw\":1}");
	jsonw_arr_close(&w);
	assert_string_equal(DOC(&w), want);

	root = parse_doc(DOC(&w));
	assert_int_equal(cJSON_GetArraySize(root), 11);
	assert_json_num(cJSON_GetArrayItem(root, 0), 0);
	assert_json_num(cJSON_GetArrayItem(root, 4), -1);
	assert_json_num(cJSON_GetArrayItem(root, 6), 4294967296.0);
	assert_json_bool(cJSON_GetArrayItem(root, 7), true);
	assert_json_bool(cJSON_GetArrayItem(root, 8), false);
	assert_true(cJSON_IsNull(cJSON_GetArrayItem(root, 9)));
	assert_json_num(member(cJSON_GetArrayItem(root, 10), "raw"), 1);
	cJSON_Delete(root);
	jsonw_free(&w);
}

static void test_kv_helpers(void **state)
{
	static const char want[] =
		"{\"u\":42,\"i\":-42,\"t\":true,\"f\":false,\"s\":\"str\","
		"\"b\":\"by\",\"nul\":\"\",\"nulb\":\"\"}";
	struct jsonw w;
	cJSON *root;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_u64(&w, "u", 42);
	jsonw_kv_i64(&w, "i", -42);
	jsonw_kv_bool(&w, "t", true);
	jsonw_kv_bool(&w, "f", false);
	jsonw_kv_str(&w, "s", "str");
	jsonw_kv_bytes(&w, "b", "bytes", 2);
	jsonw_kv_str(&w, "nul", NULL);
	jsonw_kv_bytes(&w, "nulb", NULL, 5);
	jsonw_obj_close(&w);
	assert_string_equal(DOC(&w), want);
	root = parse_doc(DOC(&w));
	assert_json_num(member(root, "u"), 42);
	assert_json_num(member(root, "i"), -42);
	assert_json_str(member(root, "s"), "str");
	assert_json_bytes(member(root, "b"), "by", 2);
	assert_json_bytes(member(root, "nul"), "", 0);
	assert_json_bytes(member(root, "nulb"), "", 0);
	cJSON_Delete(root);

	/* array values: str/bytes, NULL becomes "" */
	jsonw_reset(&w);
	jsonw_arr_open(&w);
	jsonw_str_val(&w, NULL);
	jsonw_bytes_val(&w, NULL, 3);
	jsonw_bytes_val(&w, "abc", 1);
	jsonw_arr_close(&w);
	assert_string_equal(DOC(&w), "[\"\",\"\",\"a\"]");
	jsonw_free(&w);
}

static void test_quotes_backslashes(void **state)
{
	static const char in[] = "a\"b\\c/d\\\"\"e";
	static const char want[] = "{\"k\\\"ey\\\\\":\"a\\\"b\\\\c/d\\\\\\\"\\\"e\"}";
	struct jsonw w;
	cJSON *root;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_str(&w, "k\"ey\\", in);
	jsonw_obj_close(&w);
	assert_string_equal(DOC(&w), want);
	root = parse_doc(DOC(&w));
	assert_json_str(member(root, "k\"ey\\"), in);
	assert_null(cJSON_GetObjectItemCaseSensitive(root, "k\"ey\\_hex"));
	cJSON_Delete(root);
	jsonw_free(&w);
}

/* the escape the writer must produce for a control byte */
static void control_escape(unsigned c, char *out)
{
	switch (c) {
	case '\n': strcpy(out, "\\n"); break;
	case '\r': strcpy(out, "\\r"); break;
	case '\t': strcpy(out, "\\t"); break;
	case '\b': strcpy(out, "\\b"); break;
	case '\f': strcpy(out, "\\f"); break;
	default: sprintf(out, "\\u%04x", c);
	}
}

static void test_every_control_char(void **state)
{
	unsigned c;

	for (c = 0; c <= 0x7f; c++) {
		char in[3] = { 'x', (char)c, 'y' };
		char want[64], esc[8];
		struct jsonw w;
		cJSON *root;
		size_t i;

		if (c >= 0x20 && c != 0x7f)
			continue;
		control_escape(c, esc);
		snprintf(want, sizeof(want), "{\"k\":\"x%sy\"}", esc);

		jsonw_init(&w);
		jsonw_obj_open(&w);
		jsonw_kv_bytes(&w, "k", in, sizeof(in));
		jsonw_obj_close(&w);
		if (strcmp(DOC(&w), want))
			fail_msg("byte 0x%02x: got %s want %s", c, DOC(&w), want);
		for (i = 0; DOC(&w)[i]; i++)
			assert_false((unsigned char)DOC(&w)[i] < 0x20 || DOC(&w)[i] == 0x7f);
		root = parse_doc(DOC(&w));
		assert_json_bytes(member(root, "k"), in, sizeof(in));
		/* escaped exactly: no lossy marker */
		assert_null(cJSON_GetObjectItemCaseSensitive(root, "k_hex"));
		assert_int_equal(cJSON_GetArraySize(root), 1);
		cJSON_Delete(root);
		jsonw_free(&w);
	}
}

/* all 33 controls (and NUL) in one string, as a key/value and an array value */
static void test_all_controls_one_string(void **state)
{
	char in[34], want[34 * 6 + 16], esc[8];
	struct jsonw w;
	cJSON *root;
	size_t o;
	unsigned c;

	for (c = 0; c < 0x20; c++)
		in[c] = (char)c;
	in[32] = 0x7f;
	in[33] = 0;
	o = (size_t)sprintf(want, "[\"");
	for (c = 0; c < 33; c++) {
		control_escape((unsigned char)in[c], esc);
		o += (size_t)sprintf(want + o, "%s", esc);
	}
	sprintf(want + o, "\"]");

	jsonw_init(&w);
	jsonw_arr_open(&w);
	jsonw_bytes_val(&w, in, 33);
	jsonw_arr_close(&w);
	assert_string_equal(DOC(&w), want);
	root = parse_doc(DOC(&w));
	assert_json_bytes(cJSON_GetArrayItem(root, 0), in, 33);
	cJSON_Delete(root);
	jsonw_free(&w);
}

static void test_embedded_nul(void **state)
{
	static const char in[] = { 'a', 0, 'b', 0, 0, 'c' };
	struct jsonw w;
	cJSON *root;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_bytes(&w, "k", in, sizeof(in));
	jsonw_kv_bytes(&w, "z", "", 1); /* a single NUL byte */
	jsonw_obj_close(&w);
	assert_string_equal(DOC(&w),
			    "{\"k\":\"a\\u0000b\\u0000\\u0000c\",\"z\":\"\\u0000\"}");
	root = parse_doc(DOC(&w));
	assert_json_bytes(member(root, "k"), in, sizeof(in));
	assert_json_bytes(member(root, "z"), "", 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(root, "k_hex"));
	assert_null(cJSON_GetObjectItemCaseSensitive(root, "z_hex"));
	cJSON_Delete(root);
	jsonw_free(&w);
}

struct u8case {
	const char *name;
	const char *in;
	size_t n;
	const char *escaped; /* as it must appear between the quotes */
};

#define U8(name, lit, esc) { name, lit, sizeof(lit) - 1, esc }

static void test_valid_utf8_passthrough(void **state)
{
	static const struct u8case cases[] = {
		U8("U+0080", "\xc2\x80", "\xc2\x80"),
		U8("U+00E9", "caf\xc3\xa9", "caf\xc3\xa9"),
		U8("U+07FF", "\xdf\xbf", "\xdf\xbf"),
		U8("U+0800", "\xe0\xa0\x80", "\xe0\xa0\x80"),
		U8("U+20AC", "\xe2\x82\xac", "\xe2\x82\xac"),
		U8("U+D7FF", "\xed\x9f\xbf", "\xed\x9f\xbf"),
		U8("U+E000", "\xee\x80\x80", "\xee\x80\x80"),
		U8("U+FFFD", "\xef\xbf\xbd", "\xef\xbf\xbd"),
		U8("U+FFFF", "\xef\xbf\xbf", "\xef\xbf\xbf"),
		U8("U+10000", "\xf0\x90\x80\x80", "\xf0\x90\x80\x80"),
		U8("U+1D11E", "\xf0\x9d\x84\x9e", "\xf0\x9d\x84\x9e"),
		U8("U+10FFFF", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),
		U8("U+2028", "a\xe2\x80\xa8" "b", "a\xe2\x80\xa8" "b"),
		U8("mixed", "\xd0\x9f\xd1\x80\xd0\xb8 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x90\xa7\"",
		   "\xd0\x9f\xd1\x80\xd0\xb8 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x90\xa7\\\""),
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct u8case *t = &cases[i];
		char want[128];
		struct jsonw w;
		cJSON *root;

		snprintf(want, sizeof(want), "{\"k\":\"%s\"}", t->escaped);
		jsonw_init(&w);
		jsonw_obj_open(&w);
		jsonw_kv_bytes(&w, "k", t->in, t->n);
		jsonw_obj_close(&w);
		if (strcmp(DOC(&w), want))
			fail_msg("%s: got %s want %s", t->name, DOC(&w), want);
		assert_true(utf8_valid(t->in, t->n));
		root = parse_doc(DOC(&w));
		assert_json_bytes(member(root, "k"), t->in, t->n);
		assert_null(cJSON_GetObjectItemCaseSensitive(root, "k_hex"));
		cJSON_Delete(root);
		jsonw_free(&w);
	}
}

#define FFFD "\\ufffd"
#define R "\xef\xbf\xbd" /* U+FFFD as decoded */

struct badcase {
	const char *name;
	const char *in;
	size_t n;
	const char *escaped; /* between the quotes */
	const char *decoded; /* what a parser gives back */
	const char *hex;
};

#define BAD(name, lit, esc, dec, hex) { name, lit, sizeof(lit) - 1, esc, dec, hex }

static void test_invalid_utf8_replaced_with_hex(void **state)
{
	static const struct badcase cases[] = {
		BAD("lone ff", "\xff", FFFD, R, "ff"),
		BAD("lone fe", "\xfe", FFFD, R, "fe"),
		BAD("lone continuation", "\x80", FFFD, R, "80"),
		BAD("continuation bf", "a\xbf" "b", "a" FFFD "b", "a" R "b", "61bf62"),
		BAD("truncated 2 at end", "\xc3", FFFD, R, "c3"),
		BAD("truncated 2 then ascii", "\xc3" "A", FFFD "A", R "A", "c341"),
		BAD("truncated 3", "\xe2\x82", FFFD FFFD, R R, "e282"),
		BAD("truncated 3 then ascii", "\xe2\x82" "z", FFFD FFFD "z", R R "z", "e2827a"),
		BAD("truncated 4", "\xf0\x9d\x84", FFFD FFFD FFFD, R R R, "f09d84"),
		BAD("overlong c0 af", "\xc0\xaf", FFFD FFFD, R R, "c0af"),
		BAD("overlong c1 bf", "\xc1\xbf", FFFD FFFD, R R, "c1bf"),
		BAD("overlong 3 e0 80 af", "\xe0\x80\xaf", FFFD FFFD FFFD, R R R, "e080af"),
		BAD("overlong 4 f0 80 80 af", "\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD, R R R R,
		    "f08080af"),
		BAD("overlong NUL c0 80", "\xc0\x80", FFFD FFFD, R R, "c080"),
		BAD("surrogate D800", "\xed\xa0\x80", FFFD FFFD FFFD, R R R, "eda080"),
		BAD("surrogate DFFF", "\xed\xbf\xbf", FFFD FFFD FFFD, R R R, "edbfbf"),
		BAD("above U+10FFFF", "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD, R R R R, "f4908080"),
		BAD("f5 lead", "\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD, R R R R, "f5808080"),
		BAD("5-byte form", "\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD,
		    R R R R R, "f888808080"),
		BAD("mixed with valid and escapes", "ok\xff\xc3\xa9\"\n\x1b[31m",
		    "ok" FFFD "\xc3\xa9\\\"\\n\\u001b[31m", "ok" R "\xc3\xa9\"\n\x1b[31m",
		    "6f6bffc3a9220a1b5b33316d"),
		BAD("nul and invalid", "\0\xff", "\\u0000" FFFD, "\0" R, "00ff"),
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct badcase *t = &cases[i];
		char want[256], hex[64];
		struct jsonw w;
		cJSON *root;
		size_t dn;

		snprintf(want, sizeof(want), "{\"pre\":1,\"k\":\"%s\",\"k_hex\":\"%s\",\"post\":2}",
			 t->escaped, t->hex);
		jsonw_init(&w);
		jsonw_obj_open(&w);
		jsonw_kv_u64(&w, "pre", 1);
		jsonw_kv_bytes(&w, "k", t->in, t->n);
		jsonw_kv_u64(&w, "post", 2);
		jsonw_obj_close(&w);
		if (strcmp(DOC(&w), want))
			fail_msg("%s: got %s want %s", t->name, DOC(&w), want);
		assert_false(utf8_valid(t->in, t->n));

		root = parse_doc(DOC(&w));
		/* decoded strlen is wrong for the NUL case: count explicitly */
		dn = t->in[0] ? strlen(t->decoded) : 1 + strlen(t->decoded + 1);
		assert_json_bytes(member(root, "k"), t->decoded, dn);
		hex_encode(t->in, t->n, hex);
		assert_string_equal(hex, t->hex);
		assert_json_str(member(root, "k_hex"), hex);
		assert_json_num(member(root, "pre"), 1);
		assert_json_num(member(root, "post"), 2);
		assert_int_equal(cJSON_GetArraySize(root), 4);
		cJSON_Delete(root);
		jsonw_free(&w);
	}
}

/* every single byte 0x80..0xff alone is invalid and round-trips through _hex */
static void test_every_high_byte_alone(void **state)
{
	unsigned c;

	for (c = 0x80; c <= 0xff; c++) {
		char in[1] = { (char)c }, hex[3], want[64];
		struct jsonw w;
		cJSON *root;

		hex_encode(in, 1, hex);
		snprintf(want, sizeof(want), "{\"k\":\"\\ufffd\",\"k_hex\":\"%s\"}", hex);
		jsonw_init(&w);
		jsonw_obj_open(&w);
		jsonw_kv_bytes(&w, "k", in, 1);
		jsonw_obj_close(&w);
		assert_string_equal(DOC(&w), want);
		root = parse_doc(DOC(&w));
		assert_json_str(member(root, "k"), R);
		assert_json_str(member(root, "k_hex"), hex);
		cJSON_Delete(root);
		jsonw_free(&w);
	}
}

/* array values have no sibling to carry hex; they must still be valid JSON */
static void test_invalid_utf8_in_array_value(void **state)
{
	struct jsonw w;
	cJSON *root;

	jsonw_init(&w);
	jsonw_arr_open(&w);
	jsonw_bytes_val(&w, "a\xff", 2);
	jsonw_str_val(&w, "\xed\xa0\x80");
	jsonw_arr_close(&w);
	assert_string_equal(DOC(&w), "[\"a\\ufffd\",\"\\ufffd\\ufffd\\ufffd\"]");
	root = parse_doc(DOC(&w));
	assert_json_str(cJSON_GetArrayItem(root, 0), "a" R);
	assert_json_str(cJSON_GetArrayItem(root, 1), R R R);
	cJSON_Delete(root);
	jsonw_free(&w);
}

static void test_utf8_seq_len_and_valid(void **state)
{
	static const struct {
		const char *s;
		size_t n, len;
	} seq[] = {
		{ "A", 1, 1 },
		{ "\x7f", 1, 1 },
		{ "\xc2\x80", 2, 2 },
		{ "\xdf\xbf", 2, 2 },
		{ "\xe0\xa0\x80", 3, 3 },
		{ "\xef\xbf\xbf", 3, 3 },
		{ "\xf0\x90\x80\x80", 4, 4 },
		{ "\xf4\x8f\xbf\xbf", 4, 4 },
		{ "\xc2\x80", 1, 0 },           /* n too small */
		{ "\xf0\x90\x80\x80", 3, 0 },
		{ "\xc0\x80", 2, 0 },
		{ "\xc1\xbf", 2, 0 },
		{ "\xe0\x9f\xbf", 3, 0 },       /* overlong U+07FF */
		{ "\xf0\x8f\xbf\xbf", 4, 0 },   /* overlong U+FFFF */
		{ "\xed\xa0\x80", 3, 0 },
		{ "\xf4\x90\x80\x80", 4, 0 },
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\x80", 1, 0 },
		{ "\xc3\x28", 2, 0 },
		{ "\xe2\x28\xa1", 3, 0 },
		{ "\xe2\x82\x28", 3, 0 },
		{ "\xf0\x28\x8c\xbc", 4, 0 },
		{ "\xf0\x90\x28\xbc", 4, 0 },
		{ "\xf0\x90\x8c\x28", 4, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		size_t got = utf8_seq_len((const unsigned char *)seq[i].s, seq[i].n);

		if (got != seq[i].len)
			fail_msg("case %zu: utf8_seq_len %zu want %zu", i, got, seq[i].len);
	}
	assert_true(utf8_valid("", 0));
	assert_true(utf8_valid("plain ascii", 11));
	assert_true(utf8_valid("\xe2\x82\xac\xf0\x9f\x90\xa7", 7));
	assert_false(utf8_valid("a\0b", 3));       /* NUL is not accepted */
	assert_false(utf8_valid("ab\xe2\x82", 4));
	assert_false(utf8_valid("\xe2\x82\xac\xff", 4));

	/* exhaustive over two bytes: agrees with the independent checker */
	for (i = 0; i < 0x10000; i++) {
		unsigned char b[2] = { (unsigned char)(i >> 8), (unsigned char)i };
		bool want = b[0] && b[1] && strict_utf8(b, 2);

		if (utf8_valid((const char *)b, 2) != want)
			fail_msg("utf8_valid(%02x %02x) != %d", b[0], b[1], want);
	}
}

/* every 3-byte sequence starting with a 3-byte lead, and 4-byte leads with a
 * valid tail: the writer's verdict matches the strict checker */
static void test_utf8_exhaustive_multibyte(void **state)
{
	unsigned a, b, c;

	for (a = 0xe0; a <= 0xef; a++)
		for (b = 0; b < 0x100; b++)
			for (c = 0x70; c < 0xd0; c++) {
				unsigned char s[3] = { (unsigned char)a, (unsigned char)b,
						       (unsigned char)c };
				bool want = strict_utf8(s, 3);

				if ((utf8_seq_len(s, 3) == 3) != want)
					fail_msg("%02x %02x %02x", a, b, c);
			}
	for (a = 0xf0; a <= 0xff; a++)
		for (b = 0; b < 0x100; b++) {
			unsigned char s[4] = { (unsigned char)a, (unsigned char)b, 0x80, 0xbf };
			bool want = strict_utf8(s, 4);

			if ((utf8_seq_len(s, 4) == 4) != want)
				fail_msg("%02x %02x 80 bf", a, b);
		}
}

static void test_reset_reuses_buffer(void **state)
{
	struct jsonw w;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_u64(&w, "a", 1);
	jsonw_key(&w, "deep");
	jsonw_arr_open(&w);
	/* left open on purpose: reset must forget the depth and commas */
	jsonw_reset(&w);
	assert_string_equal(DOC(&w), "");
	assert_int_equal(w.depth, 0);
	jsonw_obj_open(&w);
	jsonw_kv_u64(&w, "b", 2);
	jsonw_obj_close(&w);
	assert_string_equal(DOC(&w), "{\"b\":2}");
	jsonw_free(&w);
}

/* growth across many reallocations keeps every byte */
static void test_large_string(void **state)
{
	const size_t n = 300000;
	char *in = malloc(n), *hex = malloc(2 * n + 1);
	struct jsonw w;
	cJSON *root;
	size_t i;

	assert_non_null(in);
	assert_non_null(hex);
	for (i = 0; i < n; i++)
		in[i] = (char)('a' + i % 26);
	in[n - 1] = (char)0xff; /* forces the _hex sibling */
	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_bytes(&w, "big", in, n);
	jsonw_obj_close(&w);
	assert_int_equal(strlen(DOC(&w)), w.len);
	/* {"big":"<n-1>\ufffd","big_hex":"<2n>"} */
	assert_int_equal(w.len, 8 + (n - 1) + 6 + 13 + 2 * n + 2);
	root = parse_doc(DOC(&w));
	in[n - 1] = 0;
	assert_int_equal(strlen(member(root, "big")->valuestring), n - 1 + 3);
	assert_memory_equal(member(root, "big")->valuestring, in, n - 1);
	assert_string_equal(member(root, "big")->valuestring + n - 1, R);
	in[n - 1] = (char)0xff;
	hex_encode(in, n, hex);
	assert_string_equal(member(root, "big_hex")->valuestring, hex);
	cJSON_Delete(root);
	jsonw_free(&w);
	free(in);
	free(hex);
}

static void test_hex_val(void **state)
{
	static const char bytes[] = { 0, 1, 0x7f, (char)0x80, (char)0xff, 'A', '"' };
	struct jsonw w;
	cJSON *root;

	jsonw_init(&w);
	jsonw_arr_open(&w);
	jsonw_hex_val(&w, bytes, sizeof(bytes));
	jsonw_hex_val(&w, "", 0);
	jsonw_hex_val(&w, "\xde\xad\xbe\xef", 4);
	jsonw_arr_close(&w);
	assert_string_equal(DOC(&w), "[\"00017f80ff4122\",\"\",\"deadbeef\"]");
	root = parse_doc(DOC(&w));
	assert_json_str(cJSON_GetArrayItem(root, 0), "00017f80ff4122");
	assert_json_str(cJSON_GetArrayItem(root, 1), "");
	assert_json_str(cJSON_GetArrayItem(root, 2), "deadbeef");
	cJSON_Delete(root);
	jsonw_free(&w);
}

/* the sibling key of a hostile key: "<escaped key>_hex" */
static void test_hex_sibling_of_escaped_key(void **state)
{
	struct jsonw w;
	cJSON *root;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_bytes(&w, "a\"b", "\xfe", 1);
	jsonw_obj_close(&w);
	assert_string_equal(DOC(&w), "{\"a\\\"b\":\"\\ufffd\",\"a\\\"b_hex\":\"fe\"}");
	root = parse_doc(DOC(&w));
	assert_json_str(member(root, "a\"b_hex"), "fe");
	cJSON_Delete(root);
	jsonw_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_containers),
		cmocka_unit_test(test_nesting_and_commas),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_numbers_and_literals),
		cmocka_unit_test(test_kv_helpers),
		cmocka_unit_test(test_quotes_backslashes),
		cmocka_unit_test(test_every_control_char),
		cmocka_unit_test(test_all_controls_one_string),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_valid_utf8_passthrough),
		cmocka_unit_test(test_invalid_utf8_replaced_with_hex),
		cmocka_unit_test(test_every_high_byte_alone),
		cmocka_unit_test(test_invalid_utf8_in_array_value),
		cmocka_unit_test(test_utf8_seq_len_and_valid),
		cmocka_unit_test(test_utf8_exhaustive_multibyte),
		cmocka_unit_test(test_reset_reuses_buffer),
		cmocka_unit_test(test_large_string),
		cmocka_unit_test(test_hex_sibling_of_escaped_key),
		cmocka_unit_test(test_hex_val),
	};

	return cmocka_run_group_tests_name("jsonw", tests, NULL, NULL);
}
