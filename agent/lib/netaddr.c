// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netaddr.h"

int netaddr_cidr_parse(const char *s, struct cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s), i;
	unsigned max, prefix = 0, b;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	max = out->family == AF_INET6 ? 128 : 32;
	if (inet_pton(out->family, addr, out->addr) != 1)
		return -EINVAL;
	if (slash) {
		const char *p = slash + 1;

		if (!*p || strlen(p) > 3)
			return -EINVAL;
		for (i = 0; p[i]; i++) {
			if (p[i] < '0' || p[i] > '9')
				return -EINVAL;
			prefix = prefix * 10 + (unsigned)(p[i] - '0');
		}
		if (prefix > max)
			return -EINVAL;
	} else {
		prefix = max;
	}
	out->prefix = (uint8_t)prefix;
	for (b = prefix; b < max; b++)
		if (out->addr[b / 8] & (0x80 >> (b % 8)))
			return -ERANGE;
	return 0;
}

void netaddr_cidr_str(const struct cidr *c, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, n, "%s/%u", a, c->prefix);
}

bool netaddr_cidr_eq(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}
