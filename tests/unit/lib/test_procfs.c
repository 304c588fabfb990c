// SPDX-License-Identifier: Apache-2.0
/* agent/lib/procfs.c: the /proc/<pid>/status credentials and the cgroup v2
 * path of /proc/<pid>/cgroup, as the sensors, the process table, the
 * protection and the responder read them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

static void test_status(void **state)
{
	const char *status = "Name:\tsh\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t6\t7\t8\n"
			     "Groups:\t4 24 27 \nNStgid:\t9\nCapInh:\t0000000000000004\n"
			     "CapPrm:\t00000000a80425fb\nCapEff:\t0000000000000001\n";
	struct ng_creds c = { 0 };
	unsigned seen = 0;
	const char *l;

	(void)state;
	for (l = status; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		seen |= procfs_status_creds(l, &c);
	assert_int_equal(seen, PROCFS_UID | PROCFS_GID | PROCFS_CAPEFF | PROCFS_CAPPRM |
				       PROCFS_CAPINH | PROCFS_GROUPS);
	assert_int_equal(c.uid, 1000);
	assert_int_equal(c.euid, 1001);
	assert_int_equal(c.suid, 1002);
	assert_int_equal(c.fsuid, 1003);
	assert_int_equal(c.gid, 5);
	assert_int_equal(c.fsgid, 8);
	assert_int_equal(c.ngroups, 3);
	assert_true(c.cap_inh == 4);
	assert_true(c.cap_prm == 0xa80425fbull);
	assert_true(c.cap_eff == 1);

	/* an empty Groups: line stops at its end, not in the next line */
	assert_int_equal(procfs_status_creds("Groups:\t\n12 13\n", &c), PROCFS_GROUPS);
	assert_int_equal(c.ngroups, 0);
	assert_int_equal(procfs_status_creds("Uid:\t1\t2\n", &c), 0);
	assert_int_equal(procfs_status_creds("State:\tS (sleeping)\n", &c), 0);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static void test_cgroup_path(void **state)
{
	char dir[] = "/tmp/ng-procfs-XXXXXX", path[64], out[64], small[8];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cgroup", dir);

	write_file(path, "0::/kubepods.slice/pod1/cri-containerd-ab.scope\n");
	assert_int_equal(procfs_cgroup_path(path, out, sizeof(out)), 0);
	assert_string_equal(out, "/kubepods.slice/pod1/cri-containerd-ab.scope");
	assert_int_equal(procfs_cgroup_path(path, small, sizeof(small)), -ENAMETOOLONG);

	/* hybrid hierarchy: the v2 line among v1 ones, without a final newline */
	write_file(path, "12:cpu,cpuacct:/x\n1:name=systemd:/y\n0::/init.scope");
	assert_int_equal(procfs_cgroup_path(path, out, sizeof(out)), 0);
	assert_string_equal(out, "/init.scope");

	write_file(path, "12:cpu:/x\n");
	assert_int_equal(procfs_cgroup_path(path, out, sizeof(out)), -ENOENT);

	unlink(path);
	assert_int_equal(procfs_cgroup_path(path, out, sizeof(out)), -ENOENT);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_cgroup_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
