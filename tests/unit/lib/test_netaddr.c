// SPDX-License-Identifier: Apache-2.0
/* agent/lib/netaddr.c: the one CIDR grammar the policy, the responder and
 * the journal's undo records share. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "netaddr.h"

static void expect_cidr(const char *s, int family, unsigned prefix, const char *back)
{
	struct cidr c, d;
	char buf[64];

	assert_int_equal(netaddr_cidr_parse(s, &c), 0);
	assert_int_equal(c.family, family);
	assert_int_equal(c.prefix, prefix);
	netaddr_cidr_str(&c, buf, sizeof(buf));
	assert_string_equal(buf, back);
	/* what the journal writes reads back the same */
	assert_int_equal(netaddr_cidr_parse(buf, &d), 0);
	assert_true(netaddr_cidr_eq(&c, &d));
}

static void test_valid(void **state)
{
	(void)state;
	expect_cidr("10.0.0.0/8", AF_INET, 8, "10.0.0.0/8");
	expect_cidr("203.0.113.10", AF_INET, 32, "203.0.113.10/32"); /* bare: a host */
	expect_cidr("0.0.0.0/0", AF_INET, 0, "0.0.0.0/0");
	expect_cidr("2001:db8::/32", AF_INET6, 32, "2001:db8::/32");
	expect_cidr("::1", AF_INET6, 128, "::1/128");
	expect_cidr("169.254.169.254/32", AF_INET, 32, "169.254.169.254/32");
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/+8",
		"10.0.0.0/-1", "10.0.0.0/0x8", "10.0.0.0/ 8", "10.0.0.0/0008", "10.0.0/8",
		"10.0.0.0.0", "host.example", "10.0.0.0/8/8", "[::1]/128",
	};
	struct cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (netaddr_cidr_parse(bad[i], &c) != -EINVAL)
			fail_msg("'%s' was not refused as bad syntax", bad[i]);
	}
}

static void test_host_bits(void **state)
{
	struct cidr c;

	(void)state;
	assert_int_equal(netaddr_cidr_parse("10.1.2.3/8", &c), -ERANGE);
	assert_int_equal(netaddr_cidr_parse("2001:db8::1/64", &c), -ERANGE);
	assert_int_equal(netaddr_cidr_parse("11.0.0.0/7", &c), -ERANGE);
	assert_int_equal(netaddr_cidr_parse("10.0.0.0/7", &c), 0);
}

static void test_eq(void **state)
{
	struct cidr a, b;

	(void)state;
	assert_int_equal(netaddr_cidr_parse("10.0.0.0/8", &a), 0);
	assert_int_equal(netaddr_cidr_parse("10.0.0.0/16", &b), 0);
	assert_false(netaddr_cidr_eq(&a, &b));
	assert_int_equal(netaddr_cidr_parse("::ffff:10.0.0.0/104", &b), 0);
	assert_false(netaddr_cidr_eq(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_eq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
