/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * FNV-1a 64, the one hash kernel and user space must agree on: the sensors
 * hash exec paths with it for the kill rules' binary lists, user space hashes
 * the policy's paths and its own keys (names, dedup keys) with it. One
 * definition, included by both.
 */
#ifndef NODEGUARD_FNV_H
#define NODEGUARD_FNV_H

#define NG_FNV_OFFSET 0xcbf29ce484222325ULL
#define NG_FNV_PRIME 0x100000001b3ULL

static inline unsigned long long ng_fnv1a_step(unsigned long long h, unsigned char c)
{
	return (h ^ c) * NG_FNV_PRIME;
}

#ifndef __bpf__
#include <stddef.h>
#include <stdint.h>

/* the hash of n bytes of s, continuing from h (NG_FNV_OFFSET to start) */
static inline uint64_t ng_fnv1a_more(uint64_t h, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = ng_fnv1a_step(h, (unsigned char)s[i]);
	return h;
}
#endif

#endif
