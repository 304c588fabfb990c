// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errptr.h"
#include "journal.h"

/*
 * A rotation prepares the fresh file under this name first, so that running
 * out of fds or inodes leaves the current file untouched. Nothing is ever
 * written to it under this name: a leftover is empty and removed at open.
 */
#define NEXT_FILE JOURNAL_FILE ".next"
#define ROTATED_PREFIX JOURNAL_FILE "."
#define TORN_PREFIX "journal.torn-"
#define CHUNK 65536
/* journal.jsonl.<n> files considered in a directory */
#define MAX_ROTATED 65536

struct journal {
	char dir[JOURNAL_MAX_DIR + 1];
	char path[JOURNAL_MAX_DIR + sizeof("/" JOURNAL_FILE)];
	int dirfd;
	int lockfd;
	int fd;
	enum journal_fsync fsync;
	uint32_t interval_ms;
	uint64_t max_bytes;
	uint32_t keep;
	uint64_t size;          /* bytes of complete records in the current file */
	uint64_t base_size;     /* size once the rotate callback had written its snapshots */
	bool need_truncate;     /* a failed write left bytes past size */
	bool dir_dirty;         /* names changed since the directory was last fsync'ed */
	bool in_rotate;
	bool tick_synced;
	uint64_t last_tick_sync_ms;
	char *buf;              /* record + '\n', so it goes out in one write() */
	size_t cap;
	journal_rotate_fn rotate_fn;
	void *rotate_ctx;
	struct journal_stats st;
};

static int fsync_dir_path(const char *path)
{
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

/* mkdir -p with mode 0700 for what it creates; each new entry is made durable */
static int mkdir_parents(const char *dir)
{
	char p[JOURNAL_MAX_DIR + 1];
	size_t n = strlen(dir), i;
	int err;

	memcpy(p, dir, n + 1);
	for (i = 1; i <= n; i++) {
		char *slash;

		if (i < n && p[i] != '/')
			continue;
		if (p[i - 1] == '/') /* "//" or a trailing '/' */
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) == 0) {
			slash = strrchr(p, '/');
			if (!slash) {
				err = fsync_dir_path(".");
			} else if (slash == p) {
				err = fsync_dir_path("/");
			} else {
				*slash = '\0';
				err = fsync_dir_path(p);
				*slash = '/';
			}
			if (err)
				return err;
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (i < n)
			p[i] = '/';
	}
	return 0;
}

static int sync_dir(struct journal *j)
{
	if (fsync(j->dirfd)) {
		j->dir_dirty = true;
		return -errno;
	}
	j->dir_dirty = false;
	return 0;
}

static int do_sync(struct journal *j)
{
	int err;

	if (j->dir_dirty && (err = sync_dir(j)))
		return err;
	if (fdatasync(j->fd))
		return -errno;
	j->st.syncs++;
	j->st.unsynced = 0;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* copy bytes [from, to) of fd to a new journal.torn-<ts>[.<k>], durably */
static int save_torn(struct journal *j, int fd, uint64_t from, uint64_t to,
		     struct journal_recovery *rec)
{
	char name[64], *buf = NULL;
	long long ts = (long long)time(NULL);
	int tfd = -1, err = 0, k;
	uint64_t off;

	for (k = 0; k < 1000; k++) {
		if (k == 0)
			snprintf(name, sizeof(name), TORN_PREFIX "%lld", ts);
		else
			snprintf(name, sizeof(name), TORN_PREFIX "%lld.%d", ts, k);
		tfd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			     0600);
		if (tfd >= 0 || errno != EEXIST)
			break;
	}
	if (tfd < 0)
		return -errno;

	buf = malloc(CHUNK);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (off = from; off < to;) {
		size_t want = to - off < CHUNK ? (size_t)(to - off) : CHUNK;
		ssize_t r = pread(fd, buf, want, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			goto out;
		}
		err = write_all(tfd, buf, (size_t)r);
		if (err)
			goto out;
		off += (uint64_t)r;
	}
	if (fsync(tfd)) {
		err = -errno;
		goto out;
	}
	err = sync_dir(j);
	if (err)
		goto out;
	rec->torn_tail = true;
	rec->torn_bytes = to - from;
	snprintf(rec->torn_saved_to, sizeof(rec->torn_saved_to), "%s/%s", j->dir, name);
out:
	free(buf);
	close(tfd);
	if (err)
		unlinkat(j->dirfd, name, 0);
	return err;
}

/*
 * Count the complete lines of journal.jsonl; if it does not end with '\n',
 * preserve the bytes after the last '\n' and cut them off.
 */
static int recover(struct journal *j, struct journal_recovery *rec)
{
	struct stat sb;
	char *buf = NULL;
	uint64_t off = 0, end = 0, size;
	int fd, err = 0;

	fd = openat(j->dirfd, JOURNAL_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &sb)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	size = (uint64_t)sb.st_size;
	buf = malloc(CHUNK);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (off < size) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t r = pread(fd, buf, want, (off_t)off);
		const char *p, *e;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		for (p = buf, e = buf + r; (p = memchr(p, '\n', (size_t)(e - p))); p++) {
			rec->records++;
			end = off + (uint64_t)(p - buf) + 1;
		}
		off += (uint64_t)r;
	}
	if (end < off) {
		err = save_torn(j, fd, end, off, rec);
		if (err)
			goto out;
		if (ftruncate(fd, (off_t)end) || fsync(fd)) {
			err = -errno;
			goto out;
		}
	}
out:
	free(buf);
	close(fd);
	return err;
}

static int take_lock(struct journal *j)
{
	j->lockfd = openat(j->dirfd, JOURNAL_LOCK_FILE,
			   O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (j->lockfd < 0)
		return -errno;
	if (flock(j->lockfd, LOCK_EX | LOCK_NB))
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return 0;
}

static void close_fds(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->lockfd >= 0)
		close(j->lockfd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	j->fd = j->lockfd = j->dirfd = -1;
}

struct journal *journal_open(const struct journal_opts *o, struct journal_recovery *rec)
{
	struct journal_recovery local;
	struct journal *j;
	struct stat sb;
	int err;

	if (!rec)
		rec = &local;
	memset(rec, 0, sizeof(*rec));
	if (!o || !o->dir || !o->dir[0] || (unsigned)o->fsync > FSYNC_NEVER)
		return errno_null(EINVAL);
	if (strlen(o->dir) > JOURNAL_MAX_DIR)
		return errno_null(ENAMETOOLONG);
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->dirfd = j->lockfd = j->fd = -1;
	strcpy(j->dir, o->dir);
	snprintf(j->path, sizeof(j->path), "%s/%s", o->dir, JOURNAL_FILE);
	j->fsync = o->fsync;
	j->interval_ms = o->fsync_interval_ms;
	j->max_bytes = o->max_bytes;
	j->keep = o->keep > JOURNAL_MAX_KEEP ? JOURNAL_MAX_KEEP : o->keep;

	err = mkdir_parents(o->dir);
	if (err)
		goto fail;
	j->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		err = -errno;
		goto fail;
	}
	err = take_lock(j);
	if (err)
		goto fail;
	err = recover(j, rec);
	if (err)
		goto fail;
	/* left by a rotation interrupted before its final rename; always empty */
	unlinkat(j->dirfd, NEXT_FILE, 0);

	j->fd = openat(j->dirfd, JOURNAL_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		       0600);
	if (j->fd < 0) {
		err = -errno;
		goto fail;
	}
	if (fstat(j->fd, &sb)) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		err = -EINVAL;
		goto fail;
	}
	j->size = (uint64_t)sb.st_size;
	j->st.bytes = j->size;
	/* the journal or the lock file may be new */
	err = sync_dir(j);
	if (err)
		goto fail;
	return j;
fail:
	close_fds(j);
	free(j);
	errno = -err;
	return NULL;
}

static int cmp_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* "journal.jsonl.<n>", n in 1..UINT32_MAX-1 written without leading zeros */
static bool rotated_index(const char *name, uint32_t *out)
{
	const char *s;
	uint64_t v = 0;

	if (strncmp(name, ROTATED_PREFIX, sizeof(ROTATED_PREFIX) - 1))
		return false;
	s = name + sizeof(ROTATED_PREFIX) - 1;
	if (*s < '1' || *s > '9')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v >= UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* indexes of the rotated files in dfd, descending: oldest first */
static int list_rotated(int dfd, uint32_t **out, size_t *n)
{
	uint32_t *v = NULL, idx;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, err = 0;

	*out = NULL;
	*n = 0;
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			err = errno ? -errno : 0;
			break;
		}
		if (!rotated_index(de->d_name, &idx))
			continue;
		if (cnt == cap) {
			uint32_t *nv;

			if (cap >= MAX_ROTATED) {
				err = -E2BIG;
				break;
			}
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[cnt++] = idx;
	}
	closedir(d);
	if (err) {
		free(v);
		return err;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_desc);
	*out = v;
	*n = cnt;
	return 0;
}

/* delete rotated files numbered keep and above, rename the others n -> n+1 */
static int shift_rotated(struct journal *j)
{
	char from[32], to[32];
	uint32_t *v;
	size_t n, i;
	int err;

	err = list_rotated(j->dirfd, &v, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		snprintf(from, sizeof(from), ROTATED_PREFIX "%u", v[i]);
		if (v[i] >= j->keep) {
			if (unlinkat(j->dirfd, from, 0) && errno != ENOENT) {
				err = -errno;
				break;
			}
		} else {
			snprintf(to, sizeof(to), ROTATED_PREFIX "%u", v[i] + 1);
			if (renameat(j->dirfd, from, j->dirfd, to)) {
				err = -errno;
				break;
			}
		}
		j->dir_dirty = true;
	}
	free(v);
	return err;
}

/*
 * journal.jsonl -> journal.jsonl.1 (older ones shifted, the oldest deleted),
 * a fresh journal.jsonl, then the rotate callback. On failure the current
 * fd stays in use: no record is lost, the file just grows past max_bytes,
 * and the next append tries again. Relative order survives any partial
 * rotation since renames only ever shift files towards older names.
 */
static int rotate(struct journal *j)
{
	int nfd = -1, err;

	/* the full file is never written again: make it durable once */
	if (j->fsync != FSYNC_NEVER && (err = do_sync(j)))
		goto fail;
	nfd = openat(j->dirfd, NEXT_FILE, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		     0600);
	if (nfd < 0) {
		err = -errno;
		goto fail;
	}
	err = shift_rotated(j);
	if (err)
		goto fail_unlink;
	if (j->keep == 0 ? unlinkat(j->dirfd, JOURNAL_FILE, 0)
			 : renameat(j->dirfd, JOURNAL_FILE, j->dirfd, ROTATED_PREFIX "1")) {
		/* ENOENT: moved by an earlier rotation that failed after it */
		if (errno != ENOENT) {
			err = -errno;
			goto fail_unlink;
		}
	}
	if (renameat(j->dirfd, NEXT_FILE, j->dirfd, JOURNAL_FILE)) {
		err = -errno;
		goto fail_unlink;
	}
	j->dir_dirty = true;
	/* if this fails, do_sync() retries it before any later record counts as durable */
	sync_dir(j);
	close(j->fd);
	j->fd = nfd;
	j->size = 0;
	j->need_truncate = false;
	j->st.bytes = 0;
	j->st.rotations++;
	if (j->rotate_fn) {
		j->in_rotate = true;
		j->rotate_fn(j, j->rotate_ctx);
		j->in_rotate = false;
	}
	j->base_size = j->size;
	return 0;
fail_unlink:
	unlinkat(j->dirfd, NEXT_FILE, 0);
	j->dir_dirty = true;
fail:
	if (nfd >= 0)
		close(nfd);
	j->st.rotate_errors++;
	j->st.last_rotate_error = err;
	return err;
}

int journal_append(struct journal *j, const char *line, size_t len)
{
	size_t total = len + 1;
	ssize_t w;
	int err;

	if (!j || !line || len == 0)
		return -EINVAL;
	if (len > JOURNAL_MAX_RECORD)
		return -E2BIG;
	if (memchr(line, '\n', len) || memchr(line, '\0', len))
		return -EINVAL;
	if (j->need_truncate) {
		if (ftruncate(j->fd, (off_t)j->size))
			return -errno;
		j->need_truncate = false;
	}
	/* a file holds at least one record besides the snapshots, so appends make progress */
	if (j->max_bytes && !j->in_rotate && j->size > j->base_size && j->size + total > j->max_bytes)
		rotate(j); /* failure is counted in the stats; the record still goes out */

	if (j->cap < total) {
		char *nb = realloc(j->buf, total);

		if (!nb)
			return -ENOMEM;
		j->buf = nb;
		j->cap = total;
	}
	memcpy(j->buf, line, len);
	j->buf[len] = '\n';
	do
		w = write(j->fd, j->buf, total);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)total) {
		err = w < 0 ? -errno : -EIO;
		/* leave no partial line behind; if that fails too, retry before the next record */
		if (ftruncate(j->fd, (off_t)j->size))
			j->need_truncate = true;
		return err;
	}
	j->size += total;
	j->st.bytes = j->size;
	j->st.appends++;
	j->st.unsynced++;
	if (j->fsync == FSYNC_ALWAYS)
		return do_sync(j);
	return 0;
}

int journal_sync(struct journal *j)
{
	if (!j)
		return -EINVAL;
	return do_sync(j);
}

int journal_tick(struct journal *j, uint64_t now_ms)
{
	int err;

	if (!j)
		return -EINVAL;
	if (j->fsync != FSYNC_INTERVAL || (!j->st.unsynced && !j->dir_dirty))
		return 0;
	if (j->tick_synced && now_ms - j->last_tick_sync_ms < j->interval_ms)
		return 0;
	err = do_sync(j);
	if (err)
		return err;
	j->tick_synced = true;
	j->last_tick_sync_ms = now_ms;
	return 1;
}

void journal_set_rotate_cb(struct journal *j, journal_rotate_fn fn, void *ctx)
{
	if (!j)
		return;
	j->rotate_fn = fn;
	j->rotate_ctx = ctx;
}

const char *journal_path(const struct journal *j)
{
	return j ? j->path : NULL;
}

void journal_get_stats(const struct journal *j, struct journal_stats *st)
{
	if (!st)
		return;
	if (!j) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = j->st;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0) {
		if (j->need_truncate && ftruncate(j->fd, (off_t)j->size) == 0)
			j->need_truncate = false;
		do_sync(j);
	}
	close_fds(j);
	free(j->buf);
	free(j);
}

/* ---- replay ---- */

struct replay {
	const char *path;
	journal_record_fn cb;
	journal_bad_fn bad_cb;
	void *ctx;
	struct journal_replay_stats *st;
	char *line;             /* JOURNAL_MAX_RECORD + 1 */
	size_t len;
	bool overlong;
	uint64_t lineno;
};

static void replay_bad(struct replay *r, const char *why)
{
	r->st->malformed++;
	if (r->bad_cb)
		r->bad_cb(r->path, r->lineno, why, r->ctx);
}

/* one complete line in r->line[0..len) */
static int replay_line(struct replay *r)
{
	const char *end = NULL;
	cJSON *root;
	int ret;

	if (r->overlong) {
		replay_bad(r, "line longer than the record bound");
		return 0;
	}
	if (r->len == 0) {
		replay_bad(r, "empty line");
		return 0;
	}
	if (memchr(r->line, '\0', r->len)) {
		replay_bad(r, "NUL byte in line");
		return 0;
	}
	r->line[r->len] = '\0';
	root = cJSON_ParseWithOpts(r->line, &end, 1);
	if (!root) {
		replay_bad(r, "invalid JSON");
		return 0;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		replay_bad(r, "not a JSON object");
		return 0;
	}
	r->st->records++;
	ret = r->cb(root, r->path, r->lineno, r->ctx);
	cJSON_Delete(root);
	return ret;
}

static void replay_take(struct replay *r, const char *p, size_t n)
{
	if (r->overlong)
		return;
	if (n > JOURNAL_MAX_RECORD - r->len) {
		r->overlong = true;
		return;
	}
	memcpy(r->line + r->len, p, n);
	r->len += n;
}

static int replay_file(int dfd, const char *dir, const char *name, struct replay *r, char *chunk)
{
	char path[JOURNAL_MAX_DIR + 64];
	struct stat sb;
	int fd, ret = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &sb)) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode))
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r->path = path;
	r->len = 0;
	r->overlong = false;
	r->lineno = 0;
	r->st->files++;
	for (;;) {
		ssize_t got = read(fd, chunk, CHUNK);
		const char *p, *e, *nl;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ret = -errno;
			goto out;
		}
		if (got == 0)
			break;
		for (p = chunk, e = chunk + got; p < e; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(e - p));
			if (!nl) {
				replay_take(r, p, (size_t)(e - p));
				break;
			}
			replay_take(r, p, (size_t)(nl - p));
			r->lineno++;
			ret = replay_line(r);
			r->len = 0;
			r->overlong = false;
			if (ret)
				goto out;
		}
	}
	if (r->len || r->overlong) {
		r->lineno++;
		replay_bad(r, "unterminated last line (torn tail)");
	}
out:
	r->path = NULL;
	close(fd);
	return ret;
}

int journal_replay(const char *dir, journal_record_fn cb, journal_bad_fn bad_cb, void *ctx,
		   struct journal_replay_stats *st)
{
	struct journal_replay_stats local;
	struct replay r = { 0 };
	char *chunk = NULL, name[32];
	uint32_t *idx = NULL;
	size_t n = 0, i;
	int dfd, ret;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (!dir || !cb)
		return -EINVAL;
	if (strlen(dir) > JOURNAL_MAX_DIR)
		return -ENAMETOOLONG;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	ret = list_rotated(dfd, &idx, &n);
	if (ret)
		goto out;
	r.line = malloc(JOURNAL_MAX_RECORD + 1);
	chunk = malloc(CHUNK);
	if (!r.line || !chunk) {
		ret = -ENOMEM;
		goto out;
	}
	r.cb = cb;
	r.bad_cb = bad_cb;
	r.ctx = ctx;
	r.st = st;
	for (i = 0; i <= n && !ret; i++) {
		if (i < n)
			snprintf(name, sizeof(name), ROTATED_PREFIX "%u", idx[i]);
		else
			snprintf(name, sizeof(name), "%s", JOURNAL_FILE);
		ret = replay_file(dfd, dir, name, &r, chunk);
	}
out:
	free(chunk);
	free(r.line);
	free(idx);
	close(dfd);
	return ret;
}
