// SPDX-License-Identifier: Apache-2.0
/* agent/lib/jsonget.c: the typed member reads every JSON reader shares. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include "jsonget.h"

static cJSON *parse(const char *s)
{
	cJSON *o = cJSON_Parse(s);

	assert_non_null(o);
	return o;
}

static void test_str(void **state)
{
	cJSON *o = parse("{\"s\":\"x\",\"n\":1,\"z\":null,\"t\":true,\"a\":[\"x\"]}");
	bool bad = false;

	(void)state;
	assert_string_equal(jget_str(o, "s"), "x");
	assert_null(jget_str(o, "n"));
	assert_null(jget_str(o, "z"));
	assert_null(jget_str(o, "a"));
	assert_null(jget_str(o, "missing"));
	assert_null(jget_str(NULL, "s"));

	assert_string_equal(jget_str_check(o, "s", &bad), "x");
	assert_null(jget_str_check(o, "z", &bad));
	assert_null(jget_str_check(o, "missing", &bad));
	assert_false(bad);
	assert_null(jget_str_check(o, "n", &bad));
	assert_true(bad);
	cJSON_Delete(o);
}

static void test_u64(void **state)
{
	cJSON *o = parse("{\"s\":\"18446744073709551615\",\"over\":\"18446744073709551616\","
			 "\"junk\":\"12x\",\"neg\":\"-1\",\"empty\":\"\",\"n\":1700000000000000000,"
			 "\"frac\":1.5,\"nn\":-3,\"big\":1e20,\"zero\":0,\"b\":true}");

	(void)state;
	assert_true(jget_u64(o, "s") == UINT64_MAX);
	assert_true(jget_u64(o, "over") == 0);
	assert_true(jget_u64(o, "junk") == 0);
	assert_true(jget_u64(o, "neg") == 0);
	assert_true(jget_u64(o, "empty") == 0);
	assert_true(jget_u64(o, "n") == 1700000000000000000ull);
	assert_true(jget_u64(o, "frac") == 0);
	assert_true(jget_u64(o, "nn") == 0);
	assert_true(jget_u64(o, "big") == 0);
	assert_true(jget_u64(o, "zero") == 0);
	assert_true(jget_u64(o, "b") == 0);
	assert_true(jget_u64(o, "missing") == 0);
	cJSON_Delete(o);
}

static void test_true(void **state)
{
	cJSON *o = parse("{\"t\":true,\"f\":false,\"s\":\"true\",\"n\":1}");

	(void)state;
	assert_true(jget_true(o, "t"));
	assert_false(jget_true(o, "f"));
	assert_false(jget_true(o, "s"));
	assert_false(jget_true(o, "n"));
	assert_false(jget_true(o, "missing"));
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_true),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
