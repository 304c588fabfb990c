// SPDX-License-Identifier: Apache-2.0
/* Typed reads of cJSON object members (see jsonget.h). */
#include "jsonget.h"

const char *jget_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

const char *jget_str_check(const cJSON *o, const char *k, bool *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!v || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v) || !v->valuestring) {
		*bad = true;
		return NULL;
	}
	return v->valuestring;
}

/* all decimal digits, at least one, no overflow; 0 otherwise */
static uint64_t dec_u64(const char *s)
{
	uint64_t v = 0;

	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

uint64_t jget_u64(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	double d;

	if (cJSON_IsString(v) && v->valuestring)
		return dec_u64(v->valuestring);
	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	/* 2^64 is the first double out of range; NaN fails both tests */
	if (!(d >= 0 && d < 18446744073709551616.0) || (double)(uint64_t)d != d)
		return 0;
	return (uint64_t)d;
}

bool jget_true(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}
