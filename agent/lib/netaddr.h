/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network addresses and CIDRs: one grammar for the policy, the journal's
 * undo records and the responder. Never logs or fails loudly.
 */
#ifndef NODEGUARD_NETADDR_H
#define NODEGUARD_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cidr {
	uint8_t family; /* AF_INET / AF_INET6 */
	uint8_t prefix;
	uint8_t addr[16];
};

/*
 * "ADDRESS/PREFIX" or a bare "ADDRESS" (a /32 or /128), IPv4 or IPv6; the
 * prefix is decimal digits only. 0, -EINVAL for bad syntax, -ERANGE when the
 * address has bits set past the prefix (out is filled all the same).
 */
int netaddr_cidr_parse(const char *s, struct cidr *out);
/* "ADDRESS/PREFIX", what netaddr_cidr_parse reads back */
void netaddr_cidr_str(const struct cidr *c, char *buf, size_t n);
bool netaddr_cidr_eq(const struct cidr *a, const struct cidr *b);

#endif
