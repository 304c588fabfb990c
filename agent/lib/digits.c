// SPDX-License-Identifier: Apache-2.0
/* The value of one digit of hex or base64 (see digits.h). */
#include <string.h>

#include "digits.h"

int digit_value(const char *alphabet, int c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

int hex_digit(int c)
{
	int v = digit_value("0123456789abcdef", c);

	return v >= 0 ? v : digit_value("0123456789ABCDEF", c);
}
