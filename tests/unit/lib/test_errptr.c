// SPDX-License-Identifier: Apache-2.0
/* agent/lib/errptr.h: a constructor's failure, errno set and NULL returned
 * in one statement. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "errptr.h"

static int *make(int fail)
{
	static int obj;

	if (fail)
		return errno_null(fail);
	return &obj;
}

static void test_errno_null(void **state)
{
	(void)state;
	errno = 0;
	assert_null(errno_null(EINVAL));
	assert_int_equal(errno, EINVAL);
	assert_null(errno_null(ENOMEM));
	assert_int_equal(errno, ENOMEM);

	/* as a constructor uses it: NULL of the constructor's type, errno kept */
	errno = 0;
	assert_null(make(ENOENT));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_non_null(make(0));
	assert_int_equal(errno, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
