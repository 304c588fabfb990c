// SPDX-License-Identifier: Apache-2.0
/*
 * agent/journal.c: round trip, fsync policies, rotation and retention, torn
 * tails, malformed lines, bounds, the directory lock, injected write and
 * fdatasync failures, and a kill -9 of a writer in the middle of its work.
 *
 * Linked with -Wl,--wrap=write,--wrap=fdatasync: the wrappers below count
 * calls and inject failures; by default they pass straight through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

/* ---- syscall wrappers ---- */

ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fdatasync(int fd);

static int wrap_fd = -1;          /* the fd the injections below apply to (-1: none) */
static int inject_write_errno;    /* next write() fails with this errno */
static int inject_write_short;    /* next write() writes only half */
static int inject_fdatasync_errno;
static unsigned long write_calls, fdatasync_calls;

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	if (fd == wrap_fd) {
		write_calls++;
		if (inject_write_errno) {
			errno = inject_write_errno;
			inject_write_errno = 0;
			return -1;
		}
		if (inject_write_short && n > 1) {
			inject_write_short = 0;
			return __real_write(fd, buf, n / 2);
		}
	}
	return __real_write(fd, buf, n);
}

int __wrap_fdatasync(int fd)
{
	fdatasync_calls++;
	if (inject_fdatasync_errno) {
		errno = inject_fdatasync_errno;
		inject_fdatasync_errno = 0;
		return -1;
	}
	return __real_fdatasync(fd);
}

static void reset_wraps(void)
{
	wrap_fd = -1;
	inject_write_errno = inject_write_short = inject_fdatasync_errno = 0;
	write_calls = fdatasync_calls = 0;
}

/* ---- fixtures and helpers ---- */

struct fx {
	char dir[256];   /* the mkdtemp directory */
	char jdir[320];  /* the journal directory inside it (created by journal_open) */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/ng-journal-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->jdir, sizeof(f->jdir), "%s/var/lib/nodeguard", f->dir);
	reset_wraps();
	*state = f;
	return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	reset_wraps();
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct journal_opts opts(const struct fx *f, enum journal_fsync fs)
{
	struct journal_opts o = {
		.dir = f->jdir,
		.fsync = fs,
		.fsync_interval_ms = 1000,
		.max_bytes = 0,
		.keep = 3,
	};
	return o;
}

static char *pathof(const struct fx *f, const char *name)
{
	static char p[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", f->jdir, name);
	return p[k];
}

/* whole file into a malloc'ed NUL-terminated buffer; *n its size */
static char *slurp(const char *path, size_t *n)
{
	struct stat sb;
	char *b;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	b = malloc((size_t)sb.st_size + 1);
	assert_non_null(b);
	assert_int_equal(read(fd, b, (size_t)sb.st_size), sb.st_size);
	b[sb.st_size] = '\0';
	close(fd);
	if (n)
		*n = (size_t)sb.st_size;
	return b;
}

static void spit(const char *path, const char *s, size_t n, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, n), (ssize_t)n);
	close(fd);
}

static off_t fsize(const char *path)
{
	struct stat sb;

	if (stat(path, &sb))
		return -1;
	return sb.st_size;
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* the fd of this process open on path with O_APPEND */
static int append_fd(const char *path)
{
	char real[PATH_MAX], link[64], target[PATH_MAX];
	int fd;

	assert_non_null(realpath(path, real));
	for (fd = 0; fd < 1024; fd++) {
		ssize_t n;
		int fl;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		fl = fcntl(fd, F_GETFL);
		if (!strcmp(target, real) && fl >= 0 && (fl & O_APPEND))
			return fd;
	}
	fail_msg("no O_APPEND fd on %s", real);
	return -1;
}

static int append_str(struct journal *j, const char *s)
{
	return journal_append(j, s, strlen(s));
}

static int append_n(struct journal *j, long n)
{
	char b[64];
	int len = snprintf(b, sizeof(b), "{\"n\":%ld,\"pad\":\"abcdefgh\"}", n);

	return journal_append(j, b, (size_t)len);
}

/* what replay delivered */
#define MAXREC 4096
struct seen {
	long n[MAXREC];             /* "n", or -1000-k for {"snap":k} */
	char file[MAXREC][32];      /* base name */
	uint64_t line[MAXREC];
	size_t count;
	struct {
		char file[32];
		uint64_t line;
		char why[64];
	} bad[64];
	size_t nbad;
	size_t stop_after;          /* return 7 after this many records (0: never) */
};

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static int on_record(const cJSON *rec, const char *file, uint64_t line, void *ctx)
{
	struct seen *s = ctx;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(rec, "n");
	const cJSON *snap = cJSON_GetObjectItemCaseSensitive(rec, "snap");

	assert_true(s->count < MAXREC);
	if (cJSON_IsNumber(n))
		s->n[s->count] = (long)n->valuedouble;
	else if (cJSON_IsNumber(snap))
		s->n[s->count] = -1000 - (long)snap->valuedouble;
	else
		s->n[s->count] = -1;
	snprintf(s->file[s->count], sizeof(s->file[0]), "%s", base(file));
	s->line[s->count] = line;
	s->count++;
	if (s->stop_after && s->count == s->stop_after)
		return 7;
	return 0;
}

static void on_bad(const char *file, uint64_t line, const char *why, void *ctx)
{
	struct seen *s = ctx;

	assert_true(s->nbad < 64);
	snprintf(s->bad[s->nbad].file, sizeof(s->bad[0].file), "%s", base(file));
	s->bad[s->nbad].line = line;
	snprintf(s->bad[s->nbad].why, sizeof(s->bad[0].why), "%s", why);
	s->nbad++;
}

static struct seen *replay(const struct fx *f, struct journal_replay_stats *st, int want_ret)
{
	struct seen *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_int_equal(journal_replay(f->jdir, on_record, on_bad, s, st), want_ret);
	assert_int_equal(st->records, s->count);
	assert_int_equal(st->malformed, s->nbad);
	return s;
}

/* ---- tests ---- */

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	struct journal_recovery rec;
	struct journal_replay_stats st;
	struct journal_stats js;
	struct journal *j;
	struct seen *s;
	struct stat sb;
	char *text, want[64];
	size_t n, off = 0;
	long i;

	/* the directory and its parents are created */
	memset(&rec, 0xff, sizeof(rec));
	j = journal_open(&o, &rec);
	assert_non_null(j);
	assert_false(rec.torn_tail);
	assert_int_equal(rec.torn_bytes, 0);
	assert_string_equal(rec.torn_saved_to, "");
	assert_int_equal(rec.records, 0);
	assert_string_equal(journal_path(j), pathof(f, "journal.jsonl"));
	assert_int_equal(stat(f->jdir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(stat(journal_path(j), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	for (i = 0; i < 100; i++)
		assert_int_equal(append_n(j, i), 0);
	journal_get_stats(j, &js);
	assert_int_equal(js.appends, 100);
	assert_int_equal(js.bytes, fsize(journal_path(j)));
	journal_close(j);

	/* the file is exactly the records, one per line */
	text = slurp(pathof(f, "journal.jsonl"), &n);
	for (i = 0; i < 100; i++) {
		int len = snprintf(want, sizeof(want), "{\"n\":%ld,\"pad\":\"abcdefgh\"}\n", i);

		assert_true(off + (size_t)len <= n);
		assert_memory_equal(text + off, want, (size_t)len);
		off += (size_t)len;
	}
	assert_int_equal(off, n);
	free(text);

	/* reopening counts them and changes nothing */
	j = journal_open(&o, &rec);
	assert_non_null(j);
	assert_false(rec.torn_tail);
	assert_int_equal(rec.records, 100);
	assert_int_equal(fsize(journal_path(j)), (off_t)n);
	assert_int_equal(append_n(j, 100), 0);
	journal_close(j);

	s = replay(f, &st, 0);
	assert_int_equal(st.records, 101);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.files, 1);
	for (i = 0; i < 101; i++) {
		assert_int_equal(s->n[i], i);
		assert_string_equal(s->file[i], "journal.jsonl");
		assert_int_equal(s->line[i], (uint64_t)i + 1);
	}
	free(s);
}

static void test_fsync_always(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_ALWAYS);
	struct journal_stats js;
	struct journal *j = journal_open(&o, NULL);
	int i;

	assert_non_null(j);
	fdatasync_calls = 0;
	for (i = 0; i < 5; i++) {
		assert_int_equal(append_n(j, i), 0);
		assert_int_equal(fdatasync_calls, (unsigned long)i + 1);
		journal_get_stats(j, &js);
		assert_int_equal(js.syncs, (uint64_t)i + 1);
		assert_int_equal(js.unsynced, 0);
	}
	/* tick is not needed and does nothing */
	assert_int_equal(journal_tick(j, 1000000), 0);
	assert_int_equal(fdatasync_calls, 5);

	/* a failed fdatasync is reported: the record does not count as written */
	inject_fdatasync_errno = EIO;
	assert_int_equal(append_n(j, 5), -EIO);
	journal_get_stats(j, &js);
	assert_int_equal(js.syncs, 5);
	assert_int_equal(js.unsynced, 1);
	assert_int_equal(append_n(j, 6), 0);
	journal_get_stats(j, &js);
	assert_int_equal(js.unsynced, 0);

	/* an explicit sync is always done */
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(fdatasync_calls, 8);
	journal_close(j);
	assert_int_equal(fdatasync_calls, 9);
}

static void test_fsync_interval(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_INTERVAL);
	struct journal_stats js;
	struct journal *j;

	o.fsync_interval_ms = 1000;
	j = journal_open(&o, NULL);
	assert_non_null(j);
	fdatasync_calls = 0;

	/* nothing written: nothing to sync */
	assert_int_equal(journal_tick(j, 5000), 0);
	assert_int_equal(append_n(j, 0), 0);
	assert_int_equal(append_n(j, 1), 0);
	assert_int_equal(append_n(j, 2), 0);
	assert_int_equal(fdatasync_calls, 0);
	journal_get_stats(j, &js);
	assert_int_equal(js.unsynced, 3);

	/* the first tick with pending records syncs at once */
	assert_int_equal(journal_tick(j, 5000), 1);
	assert_int_equal(fdatasync_calls, 1);
	journal_get_stats(j, &js);
	assert_int_equal(js.unsynced, 0);
	assert_int_equal(js.syncs, 1);
	/* clean: nothing to do even when due */
	assert_int_equal(journal_tick(j, 7000), 0);

	/* pending, but not before the interval has passed */
	assert_int_equal(append_n(j, 3), 0);
	assert_int_equal(journal_tick(j, 5001), 0);
	assert_int_equal(journal_tick(j, 5999), 0);
	assert_int_equal(fdatasync_calls, 1);
	assert_int_equal(journal_tick(j, 6000), 1);
	assert_int_equal(fdatasync_calls, 2);

	/* a failing sync is reported and tried again at the next tick */
	assert_int_equal(append_n(j, 4), 0);
	inject_fdatasync_errno = EIO;
	assert_int_equal(journal_tick(j, 8000), -EIO);
	journal_get_stats(j, &js);
	assert_int_equal(js.unsynced, 1);
	assert_int_equal(journal_tick(j, 8001), 1);
	assert_int_equal(fdatasync_calls, 4);
	journal_close(j);
}

static void test_fsync_never(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	struct journal_stats js;
	struct journal *j = journal_open(&o, NULL);
	int i;

	assert_non_null(j);
	fdatasync_calls = 0;
	for (i = 0; i < 10; i++)
		assert_int_equal(append_n(j, i), 0);
	assert_int_equal(journal_tick(j, 1), 0);
	assert_int_equal(journal_tick(j, 100000000), 0);
	assert_int_equal(fdatasync_calls, 0);
	journal_get_stats(j, &js);
	assert_int_equal(js.unsynced, 10);
	assert_int_equal(js.syncs, 0);
	/* close syncs whatever the policy */
	journal_close(j);
	assert_int_equal(fdatasync_calls, 1);
}

struct snapper {
	int calls;
	int rc;
	struct journal *j;
};

static void on_rotate(struct journal *j, void *ctx)
{
	struct snapper *sn = ctx;
	char b[32];
	int len;

	assert_ptr_equal(j, sn->j);
	/* the fresh file is empty when the callback runs */
	assert_int_equal(fsize(journal_path(j)), 0);
	len = snprintf(b, sizeof(b), "{\"snap\":%d}", sn->calls);
	sn->calls++;
	sn->rc |= journal_append(j, b, (size_t)len);
}

static void test_rotation(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_ALWAYS);
	struct journal_replay_stats st;
	struct journal_stats js;
	struct snapper sn = { 0 };
	struct journal *j;
	struct seen *s;
	size_t rec_len = strlen("{\"n\":10,\"pad\":\"abcdefgh\"}\n");
	size_t i, k;
	long n, last;
	char name[32];

	/* a left-over of a larger keep is replayed first, and deleted by the first rotation */
	j = journal_open(&o, NULL);
	assert_non_null(j);
	journal_close(j);
	spit(pathof(f, "journal.jsonl.7"), "{\"n\":-7}\n", 9, O_TRUNC);

	/* four two-digit records per file (snapshot included) */
	o.max_bytes = 4 * rec_len;
	o.keep = 2;
	j = journal_open(&o, NULL);
	assert_non_null(j);
	sn.j = j;
	journal_set_rotate_cb(j, on_rotate, &sn);

	s = replay(f, &st, 0);
	assert_int_equal(st.files, 2);
	assert_int_equal(s->n[0], -7);
	free(s);

	for (n = 10; n < 40; n++) {
		assert_int_equal(append_n(j, n), 0);
		assert_true(fsize(journal_path(j)) <= (off_t)o.max_bytes);
		if (n == 13)
			assert_false(exists(pathof(f, "journal.jsonl.1")));
		if (n == 14) {
			/* first rotation: the snapshot is the first line of the fresh file */
			assert_int_equal(sn.calls, 1);
			assert_false(exists(pathof(f, "journal.jsonl.7")));
			assert_true(exists(pathof(f, "journal.jsonl.1")));
		}
	}
	assert_int_equal(sn.rc, 0);
	journal_get_stats(j, &js);
	assert_int_equal(js.rotations, (uint64_t)sn.calls);
	assert_int_equal(js.rotate_errors, 0);
	assert_true(sn.calls >= 5);
	journal_close(j);

	/* keep = 2: exactly .1 and .2 besides the current file */
	assert_true(exists(pathof(f, "journal.jsonl")));
	assert_true(exists(pathof(f, "journal.jsonl.1")));
	assert_true(exists(pathof(f, "journal.jsonl.2")));
	assert_false(exists(pathof(f, "journal.jsonl.3")));
	assert_false(exists(pathof(f, "journal.jsonl.next")));

	/*
	 * Replay: .2, .1, then journal.jsonl; every file starts with a snapshot
	 * (they all came from rotations), snapshot numbers and record numbers
	 * increase, records are contiguous and end with the last one written.
	 */
	s = replay(f, &st, 0);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.malformed, 0);
	assert_string_equal(s->file[0], "journal.jsonl.2");
	assert_int_equal(s->line[0], 1);
	assert_int_equal(s->n[0], -1000 - (sn.calls - 3));
	last = -1;
	for (i = 0, k = 0; i < s->count; i++) {
		static const char *const files[] = { "journal.jsonl.2", "journal.jsonl.1",
						     "journal.jsonl" };

		if (s->n[i] <= -1000) {
			/* a snapshot: the first line of each file, in rotation order */
			if (i > 0)
				k++;
			assert_true(k < 3);
			assert_int_equal(s->line[i], 1);
			assert_int_equal(s->n[i], -1000 - (long)(sn.calls - 3 + (int)k));
		} else {
			if (last >= 0)
				assert_int_equal(s->n[i], last + 1);
			last = s->n[i];
		}
		assert_string_equal(s->file[i], files[k]);
	}
	assert_int_equal(k, 2);
	assert_int_equal(last, 39);
	/* the oldest records were deleted with the oldest file */
	assert_true(s->n[1] > 10);
	free(s);

	/* rotated files respect the bound too */
	for (k = 1; k <= 2; k++) {
		snprintf(name, sizeof(name), "journal.jsonl.%zu", k);
		assert_true(fsize(pathof(f, name)) <= (off_t)o.max_bytes);
	}
}

static void test_rotation_keep0_and_oversize(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	struct journal_replay_stats st;
	struct journal *j;
	struct seen *s;
	char big[200];

	/* a record larger than max_bytes still goes out, alone in its file */
	o.max_bytes = 100;
	o.keep = 0;
	j = journal_open(&o, NULL);
	assert_non_null(j);
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"n\":1,\"p\":\"", 12);
	memcpy(big + sizeof(big) - 2, "\"}", 2);
	assert_int_equal(append_n(j, 0), 0);
	assert_int_equal(journal_append(j, big, sizeof(big)), 0);
	assert_int_equal(fsize(journal_path(j)), (off_t)sizeof(big) + 1);
	assert_int_equal(append_n(j, 2), 0);
	journal_close(j);

	/* keep = 0: no rotated file is kept */
	assert_false(exists(pathof(f, "journal.jsonl.1")));
	s = replay(f, &st, 0);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.records, 1);
	assert_int_equal(s->n[0], 2);
	free(s);
}

static void on_rotate_then_fail(struct journal *j, void *ctx)
{
	int *calls = ctx;

	(*calls)++;
	assert_int_equal(append_str(j, "{\"snap\":0}"), 0);
	/* the record that triggered the first rotation will not make it */
	if (*calls == 1) {
		wrap_fd = append_fd(journal_path(j));
		inject_write_errno = ENOSPC;
	}
}

static void test_rotation_snapshot_only_file(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	struct journal_replay_stats st;
	struct journal_stats js;
	struct journal *j;
	struct seen *s;
	int calls = 0;

	o.max_bytes = 30;
	o.keep = 5;
	j = journal_open(&o, NULL);
	assert_non_null(j);
	journal_set_rotate_cb(j, on_rotate_then_fail, &calls);
	assert_int_equal(append_n(j, 0), 0);
	assert_int_equal(append_n(j, 1), -ENOSPC);
	assert_int_equal(calls, 1);
	/* the fresh file holds only the snapshot: it is not rotated again */
	assert_int_equal(append_n(j, 1), 0);
	assert_int_equal(calls, 1);
	journal_get_stats(j, &js);
	assert_int_equal(js.rotations, 1);
	/* now it holds a record: the next one rotates */
	assert_int_equal(append_n(j, 2), 0);
	assert_int_equal(calls, 2);
	journal_close(j);

	s = replay(f, &st, 0);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.records, 5);
	assert_int_equal(s->n[0], 0);
	assert_int_equal(s->n[1], -1000);
	assert_int_equal(s->n[2], 1);
	assert_string_equal(s->file[2], "journal.jsonl.1");
	assert_int_equal(s->n[3], -1000);
	assert_int_equal(s->n[4], 2);
	assert_string_equal(s->file[4], "journal.jsonl");
	free(s);
}

static void test_rotation_failure_keeps_records(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_ALWAYS);
	struct journal_replay_stats st;
	struct journal_stats js;
	struct journal *j;
	struct seen *s;
	long n;

	o.max_bytes = 64;
	o.keep = 5;
	j = journal_open(&o, NULL);
	assert_non_null(j);
	/* the fresh file cannot be prepared: rotations fail, records still land */
	assert_int_equal(mkdir(pathof(f, "journal.jsonl.next"), 0700), 0);
	for (n = 0; n < 6; n++)
		assert_int_equal(append_n(j, n), 0);
	journal_get_stats(j, &js);
	assert_int_equal(js.rotations, 0);
	assert_true(js.rotate_errors >= 1);
	assert_int_equal(js.last_rotate_error, -EISDIR);
	assert_true(exists(pathof(f, "journal.jsonl.next")));

	/* once it is possible again, the next append rotates */
	assert_int_equal(rmdir(pathof(f, "journal.jsonl.next")), 0);
	assert_int_equal(append_n(j, 6), 0);
	journal_get_stats(j, &js);
	assert_int_equal(js.rotations, 1);
	journal_close(j);

	s = replay(f, &st, 0);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.records, 7);
	for (n = 0; n < 7; n++)
		assert_int_equal(s->n[n], n);
	assert_string_equal(s->file[5], "journal.jsonl.1");
	assert_string_equal(s->file[6], "journal.jsonl");
	free(s);
}

static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_ALWAYS);
	static const char torn[] = "{\"n\":5,\"pad\":\"abc";
	struct journal_replay_stats st;
	struct journal_recovery rec;
	struct journal *j;
	struct seen *s;
	struct stat sb;
	off_t good;
	char *saved;
	size_t n;
	long i;

	j = journal_open(&o, NULL);
	assert_non_null(j);
	for (i = 0; i < 5; i++)
		assert_int_equal(append_n(j, i), 0);
	journal_close(j);
	good = fsize(pathof(f, "journal.jsonl"));
	spit(pathof(f, "journal.jsonl"), torn, strlen(torn), O_APPEND);

	/* replay before recovery reports the tail and still passes every record */
	s = replay(f, &st, 0);
	assert_int_equal(st.records, 5);
	assert_int_equal(st.malformed, 1);
	assert_string_equal(s->bad[0].file, "journal.jsonl");
	assert_int_equal(s->bad[0].line, 6);
	assert_non_null(strstr(s->bad[0].why, "torn"));
	free(s);

	j = journal_open(&o, &rec);
	assert_non_null(j);
	assert_true(rec.torn_tail);
	assert_int_equal(rec.torn_bytes, strlen(torn));
	assert_int_equal(rec.records, 5);
	assert_non_null(strstr(rec.torn_saved_to, "/journal.torn-"));
	assert_int_equal(strncmp(rec.torn_saved_to, f->jdir, strlen(f->jdir)), 0);
	/* the torn bytes, exactly, in a private file */
	saved = slurp(rec.torn_saved_to, &n);
	assert_int_equal(n, strlen(torn));
	assert_memory_equal(saved, torn, n);
	free(saved);
	assert_int_equal(stat(rec.torn_saved_to, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* the journal ends at its last newline */
	assert_int_equal(fsize(journal_path(j)), good);

	for (i = 5; i < 8; i++)
		assert_int_equal(append_n(j, i), 0);
	journal_close(j);

	s = replay(f, &st, 0);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.records, 8);
	for (i = 0; i < 8; i++) {
		assert_int_equal(s->n[i], i);
		assert_int_equal(s->line[i], (uint64_t)i + 1);
	}
	free(s);

	/* a clean reopen reports nothing */
	j = journal_open(&o, &rec);
	assert_non_null(j);
	assert_false(rec.torn_tail);
	assert_int_equal(rec.records, 8);
	journal_close(j);
}

static void test_torn_whole_file_twice(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	struct journal_recovery r1, r2;
	struct journal *j;
	char *saved;
	size_t n;

	/* no newline at all: everything is moved aside, the journal becomes empty */
	j = journal_open(&o, NULL);
	assert_non_null(j);
	journal_close(j);
	spit(pathof(f, "journal.jsonl"), "{\"a\":", 5, O_TRUNC);
	j = journal_open(&o, &r1);
	assert_non_null(j);
	assert_true(r1.torn_tail);
	assert_int_equal(r1.torn_bytes, 5);
	assert_int_equal(r1.records, 0);
	assert_int_equal(fsize(journal_path(j)), 0);
	journal_close(j);

	/* a second torn tail (likely within the same second) gets its own file */
	spit(pathof(f, "journal.jsonl"), "{\"b\":1}\n{\"b\"", 12, O_TRUNC);
	j = journal_open(&o, &r2);
	assert_non_null(j);
	assert_true(r2.torn_tail);
	assert_int_equal(r2.torn_bytes, 4);
	assert_int_equal(r2.records, 1);
	assert_string_not_equal(r1.torn_saved_to, r2.torn_saved_to);
	assert_int_equal(fsize(journal_path(j)), 8);
	journal_close(j);
	saved = slurp(r1.torn_saved_to, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(saved, "{\"a\":", 5);
	free(saved);
	saved = slurp(r2.torn_saved_to, &n);
	assert_int_equal(n, 4);
	assert_memory_equal(saved, "{\"b\"", 4);
	free(saved);
}

static void test_malformed_lines(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	static const char old[] = "{\"n\":0}\n{bad json\n{\"n\":1}\n";
	static const char cur[] = "{\"n\":2}\n[1,2]\n\n{\"n\":3} trailing\n{\"n\":4}\n{\"n\":5 \n";
	struct journal_replay_stats st;
	struct journal_recovery rec;
	struct journal *j;
	struct seen *s;
	char *text;
	size_t n;

	j = journal_open(&o, NULL);
	assert_non_null(j);
	journal_close(j);
	spit(pathof(f, "journal.jsonl.1"), old, strlen(old), O_TRUNC);
	spit(pathof(f, "journal.jsonl"), cur, strlen(cur), O_TRUNC);

	/* a malformed but complete last line is not touched at open */
	j = journal_open(&o, &rec);
	assert_non_null(j);
	assert_false(rec.torn_tail);
	assert_int_equal(rec.records, 6);
	assert_int_equal(append_n(j, 6), 0);
	journal_close(j);
	text = slurp(pathof(f, "journal.jsonl"), &n);
	assert_int_equal(strncmp(text, cur, strlen(cur)), 0);
	free(text);

	s = replay(f, &st, 0);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.records, 5);
	assert_int_equal(st.malformed, 5);
	assert_int_equal(s->n[0], 0);
	assert_int_equal(s->n[1], 1);
	assert_string_equal(s->file[1], "journal.jsonl.1");
	assert_int_equal(s->line[1], 3);
	assert_int_equal(s->n[2], 2);
	assert_int_equal(s->n[3], 4);
	assert_int_equal(s->line[3], 5);
	assert_int_equal(s->n[4], 6);
	assert_string_equal(s->file[4], "journal.jsonl");
	assert_int_equal(s->line[4], 7);

	assert_string_equal(s->bad[0].file, "journal.jsonl.1");
	assert_int_equal(s->bad[0].line, 2);
	assert_string_equal(s->bad[0].why, "invalid JSON");
	assert_string_equal(s->bad[1].file, "journal.jsonl");
	assert_int_equal(s->bad[1].line, 2);
	assert_string_equal(s->bad[1].why, "not a JSON object");
	assert_int_equal(s->bad[2].line, 3);
	assert_string_equal(s->bad[2].why, "empty line");
	assert_int_equal(s->bad[3].line, 4);
	assert_string_equal(s->bad[3].why, "invalid JSON");
	assert_int_equal(s->bad[4].line, 6);
	assert_string_equal(s->bad[4].why, "invalid JSON");
	free(s);

	/* bad_cb may be NULL; the count is still kept */
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(journal_replay(f->jdir, on_record, NULL, s, &st), 0);
	assert_int_equal(st.malformed, 5);
	assert_int_equal(st.records, 5);
	free(s);
}

static void test_replay_stop_and_errors(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	struct journal_replay_stats st;
	struct journal *j;
	struct seen *s;
	int i;

	/* a missing directory is an error, not an empty journal */
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(journal_replay(f->jdir, on_record, on_bad, s, &st), -ENOENT);
	assert_int_equal(st.records, 0);
	assert_int_equal(journal_replay(NULL, on_record, on_bad, s, &st), -EINVAL);
	assert_int_equal(journal_replay(f->jdir, NULL, on_bad, s, &st), -EINVAL);
	free(s);

	j = journal_open(&o, NULL);
	assert_non_null(j);
	for (i = 0; i < 10; i++)
		assert_int_equal(append_n(j, i), 0);
	journal_close(j);

	/* the callback's non-zero value stops the replay and is returned */
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->stop_after = 3;
	assert_int_equal(journal_replay(f->jdir, on_record, on_bad, s, &st), 7);
	assert_int_equal(st.records, 3);
	assert_int_equal(s->count, 3);
	free(s);
	/* st may be NULL */
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(journal_replay(f->jdir, on_record, on_bad, s, NULL), 0);
	assert_int_equal(s->count, 10);
	free(s);
}

static void test_reject_bad_records(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_ALWAYS);
	struct journal_stats js;
	struct journal *j = journal_open(&o, NULL);

	assert_non_null(j);
	assert_int_equal(append_str(j, "{\"a\":1}\n"), -EINVAL);
	assert_int_equal(append_str(j, "{\"a\":\n1}"), -EINVAL);
	assert_int_equal(journal_append(j, "{\"a\":\"\0\"}", 9), -EINVAL);
	assert_int_equal(journal_append(j, "{}", 0), -EINVAL);
	assert_int_equal(journal_append(j, NULL, 3), -EINVAL);
	assert_int_equal(journal_append(NULL, "{}", 2), -EINVAL);
	assert_int_equal(journal_sync(NULL), -EINVAL);
	assert_int_equal(journal_tick(NULL, 0), -EINVAL);
	assert_null(journal_path(NULL));
	journal_set_rotate_cb(NULL, NULL, NULL);
	journal_get_stats(NULL, &js);
	assert_int_equal(js.appends, 0);
	journal_get_stats(j, &js);
	assert_int_equal(js.appends, 0);
	assert_int_equal(fsize(journal_path(j)), 0);
	journal_close(j);
}

static void test_record_size_bound(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	struct journal_replay_stats st;
	struct journal *j;
	struct seen *s;
	size_t max = JOURNAL_MAX_RECORD;
	char *big = malloc(max + 2);

	assert_non_null(big);
	j = journal_open(&o, NULL);
	assert_non_null(j);
	/* {"n":7,"p":"xxxx...x"} of exactly the bound */
	memset(big, 'x', max + 1);
	memcpy(big, "{\"n\":7,\"p\":\"", 12);
	memcpy(big + max - 2, "\"}", 2);
	assert_int_equal(journal_append(j, big, max), 0);
	/* one byte more is refused and nothing is written */
	memcpy(big + max - 2, "x\"}", 3);
	assert_int_equal(journal_append(j, big, max + 1), -E2BIG);
	assert_int_equal(fsize(journal_path(j)), (off_t)max + 1);
	assert_int_equal(append_n(j, 8), 0);
	journal_close(j);

	/* a line over the bound written behind our back is reported, not parsed */
	big[max + 1] = '\n';
	spit(pathof(f, "journal.jsonl"), big, max + 2, O_APPEND);
	spit(pathof(f, "journal.jsonl"), "{\"n\":9}\n", 8, O_APPEND);
	free(big);

	s = replay(f, &st, 0);
	assert_int_equal(st.records, 3);
	assert_int_equal(s->n[0], 7);
	assert_int_equal(s->n[1], 8);
	assert_int_equal(s->n[2], 9);
	assert_int_equal(s->line[2], 4);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(s->bad[0].line, 3);
	assert_non_null(strstr(s->bad[0].why, "longer"));
	free(s);
}

static void test_lock_busy(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	struct journal *a, *b;
	pid_t pid;
	int status;

	a = journal_open(&o, NULL);
	assert_non_null(a);
	errno = 0;
	b = journal_open(&o, NULL);
	assert_null(b);
	assert_int_equal(errno, EBUSY);

	/* another process is refused as well */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct journal *c;

		/*
		 * Its copy of the parent's journal goes first (flock belongs to
		 * the open file description, which the parent still holds).
		 */
		journal_close(a);
		errno = 0;
		c = journal_open(&o, NULL);
		_exit(c ? 100 : errno == EBUSY ? 0 : 101);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	journal_close(a);
	b = journal_open(&o, NULL);
	assert_non_null(b);
	journal_close(b);
	journal_close(NULL);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	char longdir[JOURNAL_MAX_DIR + 2];

	errno = 0;
	assert_null(journal_open(NULL, NULL));
	assert_int_equal(errno, EINVAL);
	o.dir = "";
	assert_null(journal_open(&o, NULL));
	assert_int_equal(errno, EINVAL);
	o.dir = f->jdir;
	o.fsync = (enum journal_fsync)7;
	assert_null(journal_open(&o, NULL));
	assert_int_equal(errno, EINVAL);
	o.fsync = FSYNC_NEVER;
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	o.dir = longdir;
	assert_null(journal_open(&o, NULL));
	assert_int_equal(errno, ENAMETOOLONG);
}

static void test_open_not_a_dir(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_NEVER);
	char p[320];

	snprintf(p, sizeof(p), "%s/file", f->dir);
	spit(p, "x", 1, O_TRUNC);
	o.dir = p;
	errno = 0;
	assert_null(journal_open(&o, NULL));
	assert_int_equal(errno, ENOTDIR);
}

static void test_short_write_undone(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_ALWAYS);
	struct journal_replay_stats st;
	struct journal_stats js;
	struct journal *j;
	struct seen *s;
	off_t before;

	j = journal_open(&o, NULL);
	assert_non_null(j);
	assert_int_equal(append_n(j, 0), 0);
	before = fsize(journal_path(j));

	wrap_fd = append_fd(journal_path(j));

	/* half a line reached the file: it is cut off again */
	inject_write_short = 1;
	write_calls = 0;
	assert_int_equal(append_n(j, 1), -EIO);
	assert_int_equal(write_calls, 1);
	assert_int_equal(fsize(journal_path(j)), before);

	/* an error before anything was written */
	inject_write_errno = ENOSPC;
	assert_int_equal(append_n(j, 1), -ENOSPC);
	assert_int_equal(fsize(journal_path(j)), before);

	/* EINTR is retried: still one record */
	inject_write_errno = EINTR;
	write_calls = 0;
	assert_int_equal(append_n(j, 1), 0);
	assert_int_equal(write_calls, 2);
	journal_get_stats(j, &js);
	assert_int_equal(js.appends, 2);

	/* every record goes out in exactly one write() */
	write_calls = 0;
	assert_int_equal(append_n(j, 2), 0);
	assert_int_equal(write_calls, 1);
	wrap_fd = -1;
	journal_close(j);

	s = replay(f, &st, 0);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.records, 3);
	assert_int_equal(s->n[0], 0);
	assert_int_equal(s->n[1], 1);
	assert_int_equal(s->n[2], 2);
	free(s);
}

/* ---- kill -9 in the middle of a FSYNC_ALWAYS writer ---- */

#define CRASH_MIN_REPORTED 20
#define CRASH_RUN_MS 200

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* record n: {"n":N,"pad":"<len(n) bytes, each 'a' + (n + i) % 26>"}; sizes from 0 to ~48 KiB */
static size_t crash_pad_len(uint32_t n)
{
	return n % 5 == 4 ? (size_t)(n * 7919u) % 49152 : (size_t)(n * 31u) % 1024;
}

static int crash_record(uint32_t n, char *buf, size_t cap)
{
	size_t pl = crash_pad_len(n), i;
	int len = snprintf(buf, cap, "{\"n\":%u,\"pad\":\"", n);

	for (i = 0; i < pl; i++)
		buf[len + (int)i] = (char)('a' + (n + i) % 26);
	len += (int)pl;
	memcpy(buf + len, "\"}", 2);
	return len + 2;
}

static _Noreturn void crash_child(const struct journal_opts *o, int wfd)
{
	static char buf[65536];
	struct journal *j = journal_open(o, NULL);
	uint32_t n;

	if (!j)
		_exit(2);
	for (n = 0;; n++) {
		int len = crash_record(n, buf, sizeof(buf));

		if (journal_append(j, buf, (size_t)len))
			_exit(3);
		if (write(wfd, &n, sizeof(n)) != sizeof(n))
			_exit(4);
	}
}

struct crash_seen {
	uint32_t next;
	uint64_t bad;
};

static int crash_on_record(const cJSON *rec, const char *file, uint64_t line, void *ctx)
{
	struct crash_seen *cs = ctx;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(rec, "n");
	const cJSON *pad = cJSON_GetObjectItemCaseSensitive(rec, "pad");
	uint32_t v;
	size_t i, pl;

	assert_true(cJSON_IsNumber(n));
	assert_true(cJSON_IsString(pad));
	v = (uint32_t)n->valuedouble;
	/* in order, none missing, none twice */
	if (v != cs->next)
		fail_msg("record %u where %u was expected (%s:%lu)", v, cs->next, file,
			 (unsigned long)line);
	pl = crash_pad_len(v);
	assert_int_equal(strlen(pad->valuestring), pl);
	for (i = 0; i < pl; i++)
		assert_int_equal(pad->valuestring[i], 'a' + (v + i) % 26);
	cs->next++;
	return 0;
}

static void crash_on_bad(const char *file, uint64_t line, const char *why, void *ctx)
{
	struct crash_seen *cs = ctx;

	print_message("malformed %s:%lu: %s\n", file, (unsigned long)line, why);
	cs->bad++;
}

static void test_crash_kill9(void **state)
{
	struct fx *f = *state;
	struct journal_opts o = opts(f, FSYNC_ALWAYS);
	struct journal_replay_stats st;
	struct journal_recovery rec;
	struct crash_seen cs = { 0 };
	struct journal *j;
	uint32_t *reported = NULL, v;
	size_t nrep = 0, cap = 0, i;
	uint64_t start, first = 0;
	int pfd[2], status;
	pid_t pid;

	/* rotations happen during the run too; keep enough that nothing is deleted */
	o.max_bytes = 256 * 1024;
	o.keep = JOURNAL_MAX_KEEP;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		crash_child(&o, pfd[1]);
	}
	close(pfd[1]);

	/* let it report a few records, then run ~200 ms more, then kill -9 */
	start = now_ms();
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		uint64_t t = now_ms();
		ssize_t r;

		if (first && t - first >= CRASH_RUN_MS)
			break;
		if (t - start > 60000)
			fail_msg("the writer reported only %zu records in 60 s", nrep);
		if (poll(&p, 1, 10) <= 0)
			continue;
		if (nrep == cap) {
			cap = cap ? cap * 2 : 1024;
			reported = realloc(reported, cap * sizeof(*reported));
			assert_non_null(reported);
		}
		r = read(pfd[0], &reported[nrep], sizeof(v));
		if (r == 0)
			break; /* the child died on its own: waitpid tells why */
		assert_int_equal(r, sizeof(v));
		nrep++;
		if (!first && nrep >= CRASH_MIN_REPORTED)
			first = now_ms();
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		fail_msg("the writer exited with %d before the kill", WEXITSTATUS(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* what was reported before the kill and still sits in the pipe */
	for (;;) {
		ssize_t r;

		if (nrep == cap) {
			cap = cap ? cap * 2 : 1024;
			reported = realloc(reported, cap * sizeof(*reported));
			assert_non_null(reported);
		}
		r = read(pfd[0], &reported[nrep], sizeof(v));
		if (r == 0)
			break;
		assert_int_equal(r, sizeof(v));
		nrep++;
	}
	close(pfd[0]);
	assert_true(nrep >= CRASH_MIN_REPORTED);
	for (i = 0; i < nrep; i++)
		assert_int_equal(reported[i], i);
	free(reported);

	/* restart: a torn tail is allowed and must be recovered */
	j = journal_open(&o, &rec);
	assert_non_null(j);
	if (rec.torn_tail) {
		assert_int_equal(fsize(rec.torn_saved_to), (off_t)rec.torn_bytes);
		assert_true(rec.torn_bytes > 0);
	}
	journal_close(j);

	assert_int_equal(journal_replay(f->jdir, crash_on_record, crash_on_bad, &cs, &st), 0);
	assert_int_equal(cs.bad, 0);
	assert_int_equal(st.malformed, 0);
	/* every reported record survived; at most the one in flight on top */
	assert_true(cs.next >= nrep);
	assert_true(cs.next <= nrep + 1);
	print_message("kill -9: %zu reported, %u replayed from %lu files, torn tail %s (%lu bytes)\n",
		      nrep, cs.next, (unsigned long)st.files, rec.torn_tail ? "yes" : "no",
		      (unsigned long)rec.torn_bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_always, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_never, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_keep0_and_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_snapshot_only_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_failure_keeps_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_whole_file_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_stop_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_bad_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_size_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_not_a_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write_undone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_kill9, setup, teardown),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
