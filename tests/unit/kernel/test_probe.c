// SPDX-License-Identifier: Apache-2.0
/*
 * agent/probe.c mountinfo parsing (fed through fmemopen) and agent/caps.c
 * capability names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caps.h"
#include "probe.h"

/* ---- mountinfo ---- */

static int find_fs(const char *text, const char *fstype, char *out, size_t n)
{
	size_t len = strlen(text);
	/* fmemopen wants a writable buffer even for "r"; keep one of its own */
	char *copy = malloc(len + 1);
	FILE *f;
	int r;

	assert_non_null(copy);
	memcpy(copy, text, len + 1);
	f = fmemopen(copy, len, "r");
	assert_non_null(f);
	r = fstype ? probe_fs_mount(f, fstype, out, n) : probe_cgroup2_mount(f, out, n);
	fclose(f);
	free(copy);
	return r;
}

#define V1(id, ctl)                                                                     \
	#id " 29 0:" #id " / /sys/fs/cgroup/" ctl                                        \
	" rw,nosuid,nodev,noexec,relatime shared:" #id " - cgroup cgroup rw," ctl "\n"

/* systemd "hybrid": tmpfs at /sys/fs/cgroup, v1 controllers, v2 at unified */
static const char hybrid[] =
	"22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"23 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
	"24 28 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=4013532k,nr_inodes=1003383,mode=755\n"
	"25 22 0:6 / /sys/kernel/security rw,nosuid,nodev,noexec,relatime shared:8 - securityfs securityfs rw\n"
	"28 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
	"29 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
	"31 29 0:26 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
	V1(33, "cpu,cpuacct") V1(34, "blkio") V1(35, "memory") V1(36, "devices")
	V1(37, "freezer") V1(38, "net_cls,net_prio") V1(39, "pids") V1(40, "perf_event")
	V1(41, "hugetlb") V1(42, "cpuset") V1(43, "rdma") V1(44, "misc")
	/* decoys: a mount point and a source called cgroup2 */
	"45 28 8:2 / /cgroup2 rw,relatime shared:30 - ext4 /dev/sda2 rw\n"
	"46 28 0:50 / /run/cg rw,relatime shared:31 - tmpfs cgroup2 rw\n"
	"30 29 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
	"47 22 0:12 / /sys/kernel/tracing rw,nosuid,nodev,noexec,relatime shared:20 - tracefs tracefs rw\n"
	"48 22 0:7 / /sys/kernel/debug rw,nosuid,nodev,noexec,relatime shared:21 - debugfs debugfs rw\n"
	"49 48 0:12 / /sys/kernel/debug/tracing rw,nosuid,nodev,noexec,relatime shared:22 - tracefs tracefs rw\n";

/* a modern node: pure v2 at /sys/fs/cgroup */
static const char pure_v2[] =
	"21 26 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
	"26 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
	"27 21 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	"28 21 0:24 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700\n";

static void test_cgroup2_hybrid(void **state)
{
	char out[PATH_MAX];

	memset(out, 'Z', sizeof(out));
	assert_int_equal(find_fs(hybrid, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
	assert_int_equal(find_fs(hybrid, "cgroup2", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
	/* v1 lookup finds the first v1 hierarchy, not the v2 one */
	assert_int_equal(find_fs(hybrid, "cgroup", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/systemd");
	assert_int_equal(find_fs(hybrid, "tmpfs", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	assert_int_equal(find_fs(hybrid, "ext4", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
}

static void test_cgroup2_pure_v2(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_fs(pure_v2, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	assert_int_equal(find_fs(pure_v2, "bpf", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/bpf");
}

static void test_no_cgroup2(void **state)
{
	static const char v1_only[] =
		"28 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
		"29 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
		V1(33, "cpu,cpuacct") V1(35, "memory")
		"45 28 8:2 / /cgroup2 rw,relatime shared:30 - ext4 /dev/sda2 rw\n"
		"46 28 0:50 / /run/cg rw,relatime shared:31 - tmpfs cgroup2 rw\n";
	char out[PATH_MAX];

	strcpy(out, "untouched");
	assert_int_equal(find_fs(v1_only, NULL, out, sizeof(out)), -ENOENT);
	assert_string_equal(out, "untouched");
	assert_int_equal(find_fs(pure_v2, "tracefs", out, sizeof(out)), -ENOENT);
	assert_int_equal(find_fs("", NULL, out, sizeof(out)), -ENOENT);
	assert_int_equal(find_fs("\n\n", NULL, out, sizeof(out)), -ENOENT);
	/* lines cut short never match */
	assert_int_equal(find_fs("1 2 0:1 / /x rw -\n1 2 0:1 / /y\n1 2\n- cgroup2\n", NULL, out,
				 sizeof(out)), -ENOENT);
	/* no trailing newline on the last line is fine */
	assert_int_equal(find_fs("1 2 0:1 / /z rw - cgroup2 cgroup2 rw", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/z");
}

static void test_escaped_mount_points(void **state)
{
	static const char text[] =
		"50 28 0:40 / /mnt/my\\040cgroup rw,relatime shared:40 - cgroup2 cgroup2 rw\n"
		"51 28 0:41 / /mnt/tab\\011x\\134y\\012z rw,relatime - tracefs tracefs rw\n"
		"52 28 0:42 / /mnt/odd\\9x\\04\\400 rw,relatime - debugfs debugfs rw\n";
	char out[PATH_MAX];

	assert_int_equal(find_fs(text, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/mnt/my cgroup");
	assert_int_equal(find_fs(text, "tracefs", out, sizeof(out)), 0);
	assert_string_equal(out, "/mnt/tab\tx\\y\nz");
	/* not an octal escape: left as is */
	assert_int_equal(find_fs(text, "debugfs", out, sizeof(out)), 0);
	assert_string_equal(out, "/mnt/odd\\9x\\04\\400");
}

static void test_tracefs_lookup(void **state)
{
	static const char debug_first[] =
		"48 22 0:7 / /sys/kernel/debug rw,relatime shared:21 - debugfs debugfs rw\n"
		"49 48 0:12 / /sys/kernel/debug/tracing rw,relatime shared:22 - tracefs tracefs rw\n"
		"47 22 0:12 / /sys/kernel/tracing rw,relatime shared:20 - tracefs tracefs rw\n";
	char out[PATH_MAX];

	assert_int_equal(find_fs(hybrid, "tracefs", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/kernel/tracing");
	/* the first tracefs mount wins */
	assert_int_equal(find_fs(debug_first, "tracefs", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/kernel/debug/tracing");
	assert_int_equal(find_fs(debug_first, "debugfs", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/kernel/debug");
}

/* none, one and many optional fields before the separator */
static void test_optional_fields(void **state)
{
	static const char none[] = "60 1 0:50 / /a rw,relatime - cgroup2 cgroup2 rw\n";
	static const char many[] =
		"61 1 0:51 / /b rw,relatime shared:5 master:3 propagate_from:2 unbindable - cgroup2 cgroup2 rw\n";
	/* "-" only counts as the separator after the mount options */
	static const char dash_root[] = "62 1 0:52 - /c rw,relatime - cgroup2 cgroup2 rw\n";
	char out[PATH_MAX];

	assert_int_equal(find_fs(none, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/a");
	assert_int_equal(find_fs(many, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/b");
	assert_int_equal(find_fs(dash_root, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/c");
	/* the fstype is the token right after "-"; the source is not matched */
	assert_int_equal(find_fs(many, "rw", out, sizeof(out)), -ENOENT);
	assert_int_equal(find_fs(many, "unbindable", out, sizeof(out)), -ENOENT);
}

static void test_out_buffer_too_small(void **state)
{
	char out[32];

	assert_int_equal(find_fs(pure_v2, NULL, out, 14), -ENAMETOOLONG);
	assert_int_equal(find_fs(pure_v2, NULL, out, 15), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

/* containerd overlay mounts carry lowerdir lists far longer than a page */
static void test_long_overlay_line(void **state)
{
	const size_t nlayers = 200;
	size_t cap = 64 * 1024, o = 0, i;
	char *text = malloc(cap), out[PATH_MAX];

	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o,
			      "900 28 0:90 / /run/containerd/io.containerd.runtime.v2.task/k8s.io/"
			      "abc/rootfs rw,relatime shared:90 - overlay overlay rw,lowerdir=");
	for (i = 0; i < nlayers; i++)
		o += (size_t)snprintf(text + o, cap - o, "%s/var/lib/containerd/"
				      "io.containerd.snapshotter.v1.overlayfs/snapshots/%zu/fs",
				      i ? ":" : "", i);
	o += (size_t)snprintf(text + o, cap - o, ",upperdir=/u,workdir=/w\n%s", pure_v2);
	assert_true(o > 3 * 4096 && o < cap);
	assert_int_equal(find_fs(text, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	assert_int_equal(find_fs(text, "overlay", out, sizeof(out)), 0);
	assert_string_equal(out, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs");
	free(text);
}

/*
 * A mount point longer than a 4 KiB line buffer (escaped spaces make it so)
 * with several optional fields: its tail must not be parsed as a line of its
 * own, which would report an optional field as the mount point.
 */
static void test_long_mount_point(void **state)
{
	const size_t reps = 1100; /* "\040" x 1100 = 4400 bytes escaped */
	size_t cap = 16 * 1024, o = 0, i;
	char *text = malloc(cap), *big = malloc(8192), *want = malloc(reps + 8);

	assert_non_null(text);
	assert_non_null(big);
	assert_non_null(want);
	o += (size_t)snprintf(text + o, cap - o, "70 1 0:70 / /s");
	for (i = 0; i < reps; i++)
		o += (size_t)snprintf(text + o, cap - o, "\\040");
	o += (size_t)snprintf(text + o, cap - o,
			      " rw shared:1 master:2 propagate_from:3 - cgroup2 cgroup2 rw\n%s",
			      pure_v2);
	want[0] = '/';
	want[1] = 's';
	memset(want + 2, ' ', reps);
	want[reps + 2] = '\0';

	/* it is the first cgroup2 mount; unescaped it is 1102 bytes */
	assert_int_equal(find_fs(text, NULL, big, 8192), 0);
	assert_string_equal(big, want);
	assert_int_equal(find_fs(text, NULL, big, reps + 2), -ENAMETOOLONG);
	assert_int_equal(find_fs(text, NULL, big, reps + 3), 0);
	assert_string_equal(big, want);
	/* the next file system after it is still found */
	assert_int_equal(find_fs(text, "bpf", big, 8192), 0);
	assert_string_equal(big, "/sys/fs/bpf");
	free(text);
	free(big);
	free(want);
}

static void test_ns_inode(void **state)
{
	struct stat st;

	assert_int_equal(stat("/proc/self/ns/pid", &st), 0);
	assert_int_equal(probe_ns_inode("self", "pid"), (unsigned)st.st_ino);
	assert_int_equal(stat("/proc/self/ns/mnt", &st), 0);
	assert_int_equal(probe_ns_inode("self", "mnt"), (unsigned)st.st_ino);
	assert_int_equal(probe_ns_inode("self", "nonexistent"), 0);
	assert_int_equal(probe_ns_inode("999999999", "pid"), 0);
}

/* ---- capabilities ---- */

#define CAP(x) { x, #x }
static const struct {
	int bit;
	const char *name;
} kernel_caps[] = {
	CAP(CAP_CHOWN), CAP(CAP_DAC_OVERRIDE), CAP(CAP_DAC_READ_SEARCH), CAP(CAP_FOWNER),
	CAP(CAP_FSETID), CAP(CAP_KILL), CAP(CAP_SETGID), CAP(CAP_SETUID), CAP(CAP_SETPCAP),
	CAP(CAP_LINUX_IMMUTABLE), CAP(CAP_NET_BIND_SERVICE), CAP(CAP_NET_BROADCAST),
	CAP(CAP_NET_ADMIN), CAP(CAP_NET_RAW), CAP(CAP_IPC_LOCK), CAP(CAP_IPC_OWNER),
	CAP(CAP_SYS_MODULE), CAP(CAP_SYS_RAWIO), CAP(CAP_SYS_CHROOT), CAP(CAP_SYS_PTRACE),
	CAP(CAP_SYS_PACCT), CAP(CAP_SYS_ADMIN), CAP(CAP_SYS_BOOT), CAP(CAP_SYS_NICE),
	CAP(CAP_SYS_RESOURCE), CAP(CAP_SYS_TIME), CAP(CAP_SYS_TTY_CONFIG), CAP(CAP_MKNOD),
	CAP(CAP_LEASE), CAP(CAP_AUDIT_WRITE), CAP(CAP_AUDIT_CONTROL), CAP(CAP_SETFCAP),
	CAP(CAP_MAC_OVERRIDE), CAP(CAP_MAC_ADMIN), CAP(CAP_SYSLOG), CAP(CAP_WAKE_ALARM),
	CAP(CAP_BLOCK_SUSPEND), CAP(CAP_AUDIT_READ), CAP(CAP_PERFMON), CAP(CAP_BPF),
	CAP(CAP_CHECKPOINT_RESTORE),
};

/* the table agrees with <linux/capability.h>, both ways */
static void test_caps_match_kernel_header(void **state)
{
	size_t i;

	assert_int_equal(sizeof(kernel_caps) / sizeof(kernel_caps[0]), NG_CAP_LAST + 1);
	assert_int_equal(CAP_LAST_CAP, NG_CAP_LAST);
	for (i = 0; i < sizeof(kernel_caps) / sizeof(kernel_caps[0]); i++) {
		assert_string_equal(caps_name(kernel_caps[i].bit), kernel_caps[i].name);
		assert_int_equal(caps_from_name(kernel_caps[i].name), kernel_caps[i].bit);
	}
}

static void test_caps_from_name(void **state)
{
	assert_int_equal(caps_from_name("CAP_SYS_ADMIN"), 21);
	assert_int_equal(caps_from_name("sys_admin"), 21);
	assert_int_equal(caps_from_name("Cap_Sys_Admin"), 21);
	assert_int_equal(caps_from_name("SYS_ADMIN"), 21);
	assert_int_equal(caps_from_name("chown"), 0);
	assert_int_equal(caps_from_name("cap_chown"), 0);
	assert_int_equal(caps_from_name("net_raw"), 13);
	assert_int_equal(caps_from_name("bpf"), 39);
	assert_int_equal(caps_from_name("CAP_CHECKPOINT_RESTORE"), 40);
	assert_int_equal(caps_from_name(NULL), -1);
	assert_int_equal(caps_from_name(""), -1);
	assert_int_equal(caps_from_name("CAP_"), -1);
	assert_int_equal(caps_from_name("CAP_FOO"), -1);
	assert_int_equal(caps_from_name("CAP_CAP_CHOWN"), -1);
	assert_int_equal(caps_from_name("SYS_ADMIN "), -1);
	assert_int_equal(caps_from_name(" SYS_ADMIN"), -1);
	assert_int_equal(caps_from_name("SYS_ADMI"), -1);
	assert_int_equal(caps_from_name("SYS_ADMINX"), -1);
	assert_int_equal(caps_from_name("21"), -1);
	assert_int_equal(caps_from_name("CAP_41"), -1);
}

static void test_caps_name(void **state)
{
	assert_string_equal(caps_name(0), "CAP_CHOWN");
	assert_string_equal(caps_name(21), "CAP_SYS_ADMIN");
	assert_string_equal(caps_name(40), "CAP_CHECKPOINT_RESTORE");
	assert_null(caps_name(41));
	assert_null(caps_name(63));
	assert_null(caps_name(64));
	assert_null(caps_name(-1));
	assert_null(caps_name(-2147483647 - 1));
}

static void test_caps_format(void **state)
{
	char buf[2048], want[2048];
	size_t o = 0;
	int i;

	assert_string_equal(caps_format(0, buf, sizeof(buf)), "");
	assert_ptr_equal(caps_format(0, buf, sizeof(buf)), buf);
	assert_string_equal(caps_format(1ull << 21, buf, sizeof(buf)), "CAP_SYS_ADMIN");
	assert_string_equal(caps_format(1ull << 0 | 1ull << 21 | 1ull << 63, buf, sizeof(buf)),
			    "CAP_CHOWN,CAP_SYS_ADMIN,CAP_63");
	assert_string_equal(caps_format(1ull << 41, buf, sizeof(buf)), "CAP_41");
	assert_string_equal(caps_format(0x00000000a80425fbull, buf, sizeof(buf)),
			    "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,"
			    "CAP_SETGID,CAP_SETUID,CAP_SETPCAP,CAP_NET_BIND_SERVICE,"
			    "CAP_NET_RAW,CAP_SYS_CHROOT,CAP_MKNOD,CAP_AUDIT_WRITE,CAP_SETFCAP");
	/* every bit: names up to 40, numbers for 41..63 */
	for (i = 0; i < 64; i++) {
		if (i <= 40)
			o += (size_t)sprintf(want + o, "%s%s", i ? "," : "", caps_name(i));
		else
			o += (size_t)sprintf(want + o, ",CAP_%d", i);
	}
	assert_string_equal(caps_format(~0ull, buf, sizeof(buf)), want);
}

/* a buffer too small holds only whole names, never a cut one */
static void test_caps_format_truncation(void **state)
{
	char buf[64];

	memset(buf, 'X', sizeof(buf));
	caps_format(1ull << 0, buf, 0);
	assert_int_equal(buf[0], 'X');
	assert_string_equal(caps_format(1ull << 0, buf, 1), "");
	assert_string_equal(caps_format(1ull << 0, buf, 9), "");           /* needs 10 */
	assert_string_equal(caps_format(1ull << 0, buf, 10), "CAP_CHOWN");
	assert_string_equal(caps_format(1ull << 0 | 1ull << 5, buf, 12), "CAP_CHOWN");
	assert_string_equal(caps_format(1ull << 0 | 1ull << 5, buf, 18), "CAP_CHOWN");
	assert_string_equal(caps_format(1ull << 0 | 1ull << 5, buf, 19), "CAP_CHOWN,CAP_KILL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup2_hybrid),
		cmocka_unit_test(test_cgroup2_pure_v2),
		cmocka_unit_test(test_no_cgroup2),
		cmocka_unit_test(test_escaped_mount_points),
		cmocka_unit_test(test_tracefs_lookup),
		cmocka_unit_test(test_optional_fields),
		cmocka_unit_test(test_out_buffer_too_small),
		cmocka_unit_test(test_long_overlay_line),
		cmocka_unit_test(test_long_mount_point),
		cmocka_unit_test(test_ns_inode),
		cmocka_unit_test(test_caps_match_kernel_header),
		cmocka_unit_test(test_caps_from_name),
		cmocka_unit_test(test_caps_name),
		cmocka_unit_test(test_caps_format),
		cmocka_unit_test(test_caps_format_truncation),
	};

	return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
