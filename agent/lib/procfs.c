// SPDX-License-Identifier: Apache-2.0
/* The agent's /proc parsers (see procfs.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

int procfs_cgroup_path(const char *file, char *out, size_t n)
{
	char buf[4096];
	const char *l;
	ssize_t r;
	size_t len;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	r = read(fd, buf, sizeof(buf) - 1);
	if (r < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return (int)r;
	buf[r] = '\0';
	for (l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "0::", 3))
			continue;
		len = strcspn(l + 3, "\n");
		if (len >= n)
			return -ENAMETOOLONG;
		memcpy(out, l + 3, len);
		out[len] = '\0';
		return 0;
	}
	return -ENOENT;
}

unsigned procfs_status_creds(const char *line, struct ng_creds *c)
{
	unsigned a, b, s, f;

	if (sscanf(line, "Uid: %u %u %u %u", &a, &b, &s, &f) == 4) {
		c->uid = a;
		c->euid = b;
		c->suid = s;
		c->fsuid = f;
		return PROCFS_UID;
	}
	if (sscanf(line, "Gid: %u %u %u %u", &a, &b, &s, &f) == 4) {
		c->gid = a;
		c->egid = b;
		c->sgid = s;
		c->fsgid = f;
		return PROCFS_GID;
	}
	if (!strncmp(line, "CapEff:", 7)) {
		c->cap_eff = strtoull(line + 7, NULL, 16);
		return PROCFS_CAPEFF;
	}
	if (!strncmp(line, "CapPrm:", 7)) {
		c->cap_prm = strtoull(line + 7, NULL, 16);
		return PROCFS_CAPPRM;
	}
	if (!strncmp(line, "CapInh:", 7)) {
		c->cap_inh = strtoull(line + 7, NULL, 16);
		return PROCFS_CAPINH;
	}
	if (!strncmp(line, "Groups:", 7)) {
		const char *p = line + 7;
		char *end;

		c->ngroups = 0;
		for (;;) {
			p += strspn(p, " \t"); /* not past the line's end */
			if (*p < '0' || *p > '9')
				break;
			strtoul(p, &end, 10);
			c->ngroups++;
			p = end;
		}
		return PROCFS_GROUPS;
	}
	return 0;
}
