// SPDX-License-Identifier: Apache-2.0
/* agent/lib/digits.c: the value of one hex or base64 digit, as the journal's
 * replay (the "_hex" members), the report's JSON (\uXXXX) and the kubeconfig
 * decoder (base64) read them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>


#include "digits.h"

static void test_hex_digit(void **state)
{
	const char *lower = "0123456789abcdef", *upper = "0123456789ABCDEF";
	int i, n = 0;

	(void)state;
	for (i = 0; i < 16; i++) {
		assert_int_equal(hex_digit(lower[i]), i);
		assert_int_equal(hex_digit(upper[i]), i);
	}
	for (i = -128; i < 256; i++)
		n += hex_digit(i) >= 0;
	assert_int_equal(n, 22);
	assert_int_equal(hex_digit('\0'), -1);
	assert_int_equal(hex_digit('g'), -1);
	assert_int_equal(hex_digit('G'), -1);
	assert_int_equal(hex_digit((char)0xe1), -1);
	assert_int_equal(hex_digit(0xe1), -1);
}

static void test_base64(void **state)
{
	int i, n = 0;

	(void)state;
	assert_int_equal(digit_value(BASE64_ALPHABET, 'A'), 0);
	assert_int_equal(digit_value(BASE64_ALPHABET, 'Z'), 25);
	assert_int_equal(digit_value(BASE64_ALPHABET, 'a'), 26);
	assert_int_equal(digit_value(BASE64_ALPHABET, 'z'), 51);
	assert_int_equal(digit_value(BASE64_ALPHABET, '0'), 52);
	assert_int_equal(digit_value(BASE64_ALPHABET, '9'), 61);
	assert_int_equal(digit_value(BASE64_ALPHABET, '+'), 62);
	assert_int_equal(digit_value(BASE64_ALPHABET, '/'), 63);
	/* padding, URL-safe digits, the terminator and high bytes are not digits */
	assert_int_equal(digit_value(BASE64_ALPHABET, '='), -1);
	assert_int_equal(digit_value(BASE64_ALPHABET, '-'), -1);
	assert_int_equal(digit_value(BASE64_ALPHABET, '_'), -1);
	assert_int_equal(digit_value(BASE64_ALPHABET, '\0'), -1);
	assert_int_equal(digit_value(BASE64_ALPHABET, 0xc3), -1);
	for (i = 0; i < 256; i++)
		n += digit_value(BASE64_ALPHABET, i) >= 0;
	assert_int_equal(n, 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_digit),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
