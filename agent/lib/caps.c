// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "caps.h"

static const char *const names[NG_CAP_LAST + 1] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

int caps_from_name(const char *name)
{
	int i;

	if (!name)
		return -1;
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (i = 0; i <= NG_CAP_LAST; i++)
		if (!strcasecmp(names[i] + 4, name))
			return i;
	return -1;
}

const char *caps_name(int bit)
{
	return bit >= 0 && bit <= NG_CAP_LAST ? names[bit] : NULL;
}

const char *caps_label(int bit, char tmp[16])
{
	const char *nm = caps_name(bit);

	if (nm)
		return nm;
	snprintf(tmp, 16, "CAP_%d", bit);
	return tmp;
}

const char *caps_format(uint64_t set, char *buf, size_t n)
{
	size_t off = 0;
	int i;

	if (n)
		buf[0] = '\0';
	for (i = 0; i < 64 && n; i++) {
		char tmp[16];
		int w;

		if (!(set & (1ull << i)))
			continue;
		w = snprintf(buf + off, n - off, "%s%s", off ? "," : "", caps_label(i, tmp));
		if (w < 0 || (size_t)w >= n - off) {
			buf[off] = '\0'; /* whole names only */
			break;
		}
		off += (size_t)w;
	}
	return buf;
}
