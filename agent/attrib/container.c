// SPDX-License-Identifier: Apache-2.0
/*
 * Container attribution, the cgroup id cache: ids resolved through a kernfs
 * file handle or a bounded walk of the tree, kept until the cgroup goes away,
 * and containers found by id. Paths are parsed by container_path.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "container_int.h"
#include "errptr.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define FILEID_KERNFS 0xfe

#define CACHE_MAX_ENTRIES (1u << 20)
#define WALK_MAX_DEPTH 32       /* kubelet trees are < 10 deep */
#define WALK_MAX_DIRS 200000    /* directories visited by one walk */

/* ---- the cache ------------------------------------------------------- */

struct ctr_entry {
	struct ctr_entry *hnext;
	TAILQ_ENTRY(ctr_entry) lru;    /* first is the most recent */
	char *relpath;                 /* full path (info.path may be cut) */
	struct ctr_info info;
};

struct container_cache {
	int mntfd;
	bool cgroup2;
	char mnt[PATH_MAX];            /* the mount as /proc/self/fd shows it */
	size_t mntlen;
	size_t max, n;
	unsigned bits;
	struct ctr_entry **buckets;
	TAILQ_HEAD(ctr_lru, ctr_entry) lru;
	struct container_cache_stats st;
};

static size_t bucket_of(const struct container_cache *c, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> (64 - c->bits));
}

static struct ctr_entry *entry_find(const struct container_cache *c, uint64_t id)
{
	struct ctr_entry *e;

	for (e = c->buckets[bucket_of(c, id)]; e; e = e->hnext)
		if (e->info.cgroup_id == id)
			return e;
	return NULL;
}

/* e becomes the most recent */
static void lru_touch(struct container_cache *c, struct ctr_entry *e)
{
	TAILQ_REMOVE(&c->lru, e, lru);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
}

static void entry_remove(struct container_cache *c, struct ctr_entry *e)
{
	struct ctr_entry **pp = &c->buckets[bucket_of(c, e->info.cgroup_id)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	TAILQ_REMOVE(&c->lru, e, lru);
	c->n--;
	free(e->relpath);
	free(e);
}

/* best effort: a failed allocation only means the next lookup resolves again */
static void entry_put(struct container_cache *c, const char *relpath, const struct ctr_info *info)
{
	struct ctr_entry *e = entry_find(c, info->cgroup_id);
	char *p;
	size_t b;

	if (e) {
		p = strdup(relpath);
		if (!p)
			return;
		free(e->relpath);
		e->relpath = p;
		e->info = *info;
		lru_touch(c, e);
		return;
	}
	if (c->n >= c->max && !TAILQ_EMPTY(&c->lru)) {
		entry_remove(c, TAILQ_LAST(&c->lru, ctr_lru));
		c->st.evictions++;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->relpath = strdup(relpath);
	if (!e->relpath) {
		free(e);
		return;
	}
	e->info = *info;
	b = bucket_of(c, info->cgroup_id);
	e->hnext = c->buckets[b];
	c->buckets[b] = e;
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->n++;
}

/* 1: relpath is a directory with inode id; 0: gone or replaced; -errno: can't tell */
static int path_alive(const struct container_cache *c, const char *relpath, uint64_t id)
{
	const char *p = relpath;
	struct stat st;

	while (*p == '/')
		p++;
	if (fstatat(c->mntfd, *p ? p : ".", &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return -errno;
	}
	return S_ISDIR(st.st_mode) && (uint64_t)st.st_ino == id;
}

static int resolve_handle(struct container_cache *c, uint64_t id, char *rel, size_t n);

struct container_cache *container_cache_new(const char *cgroup2_mount, size_t max_entries)
{
	struct container_cache *c = NULL;
	struct statfs sfs;
	struct stat st;
	char fdpath[64], rootrel[16];
	ssize_t len;
	size_t nb;
	int err;

	if (!cgroup2_mount || !*cgroup2_mount || max_entries == 0 ||
	    max_entries > CACHE_MAX_ENTRIES)
		return errno_null(EINVAL);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->mntfd = -1;
	c->max = max_entries;
	TAILQ_INIT(&c->lru);
	for (c->bits = 4, nb = 16; nb < max_entries; c->bits++)
		nb <<= 1;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	if (!c->buckets) {
		err = ENOMEM;
		goto fail;
	}
	c->mntfd = open(cgroup2_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->mntfd < 0) {
		err = errno;
		goto fail;
	}
	c->cgroup2 = fstatfs(c->mntfd, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
	c->st.handles = c->cgroup2;

	/* the prefix readlink(/proc/self/fd/N) puts before every cgroup path */
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", c->mntfd);
	len = readlink(fdpath, c->mnt, sizeof(c->mnt) - 1);
	if (len > 0 && (size_t)len < sizeof(c->mnt) - 1 && c->mnt[0] == '/') {
		c->mnt[len] = '\0';
	} else if (!realpath(cgroup2_mount, c->mnt)) {
		/* no /proc and no realpath: handles can't be mapped to paths */
		c->mnt[0] = '\0';
		c->st.handles = false;
	}
	c->mntlen = strlen(c->mnt);
	if (c->mntlen == 1) /* mounted at "/" */
		c->mntlen = 0;

	/*
	 * Try a handle on the mount's own cgroup now: a missing capability
	 * shows at once (handle_err), and once one has worked ESTALE can be
	 * taken to mean "that cgroup is gone" without walking.
	 */
	if (c->st.handles && fstat(c->mntfd, &st) == 0)
		resolve_handle(c, (uint64_t)st.st_ino, rootrel, sizeof(rootrel));
	return c;
fail:
	container_cache_free(c);
	return errno_null(err);
}

void container_cache_free(struct container_cache *c)
{
	if (!c)
		return;
	while (!TAILQ_EMPTY(&c->lru))
		entry_remove(c, TAILQ_FIRST(&c->lru));
	free(c->buckets);
	if (c->mntfd >= 0)
		close(c->mntfd);
	free(c);
}

void container_cache_use_handles(struct container_cache *c, bool on)
{
	if (c)
		c->st.handles = on && c->cgroup2 && c->mnt[0];
}

size_t container_cache_size(const struct container_cache *c)
{
	return c ? c->n : 0;
}

void container_cache_get_stats(const struct container_cache *c, struct container_cache_stats *out)
{
	if (!out)
		return;
	if (c)
		*out = c->st;
	else
		memset(out, 0, sizeof(*out));
}

/*
 * id -> path through a kernfs file handle. 0; -ENOENT: the cgroup is gone;
 * -EAGAIN: can't tell, walk instead.
 */
static int resolve_handle(struct container_cache *c, uint64_t id, char *rel, size_t n)
{
	union {
		struct file_handle fh;
		unsigned char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	char fdpath[64], link[PATH_MAX];
	struct stat st;
	ssize_t len;
	int fd, r, err;

	h.fh.handle_bytes = sizeof(uint64_t);
	h.fh.handle_type = FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(c->mntfd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == ESTALE || err == ENOENT || err == EACCES)
			/* gone, or not below this mount; until a handle has
			 * worked once, don't trust ESTALE to mean "gone" */
			return c->st.handles_worked ? -ENOENT : -EAGAIN;
		if (err == EPERM || err == EOPNOTSUPP || err == ENOSYS || err == EINVAL ||
		    err == EBADF) {
			c->st.handle_err = err;
			c->st.handles = false;
		}
		return -EAGAIN;
	}
	r = -EAGAIN;
	/* file ids resolve too (cgroup.procs has one): only directories count */
	if (fstat(fd, &st) || !S_ISDIR(st.st_mode)) {
		r = -ENOENT;
		goto out;
	}
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	len = readlink(fdpath, link, sizeof(link));
	if (len < 0) {
		c->st.handle_err = errno;
		c->st.handles = false;
		goto out;
	}
	if ((size_t)len >= sizeof(link))
		goto out; /* longer than PATH_MAX: the walk can't do better */
	link[len] = '\0';
	if (strncmp(link, c->mnt, c->mntlen) != 0 ||
	    (link[c->mntlen] != '/' && link[c->mntlen] != '\0'))
		goto out;
	snprintf(rel, n, "%s", link[c->mntlen] ? link + c->mntlen : "/");
	/* removed between open and readlink ("... (deleted)"), or cut by n */
	if (strlen(link + c->mntlen) >= n || path_alive(c, rel, id) != 1) {
		r = -ENOENT;
		goto out;
	}
	c->st.handles_worked = true;
	r = 0;
out:
	close(fd);
	return r;
}

struct walk {
	struct container_cache *c;
	char path[PATH_MAX]; /* relative path of the directory being visited */
	size_t len;
	size_t dirs;
	bool truncated;
	/* path holds the directory; 1 stops the walk */
	int (*visit)(struct walk *w, int parentfd, const char *name, uint64_t ino);
	void *arg;
};

/* 1: stopped by visit */
static int walk_dir(struct walk *w, int fd, int depth)
{
	struct dirent *de;
	struct stat st;
	size_t nl, saved;
	DIR *d;
	int r = 0, sub;
	uint64_t ino;

	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while (r == 0 && (de = readdir(d))) {
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ino = de->d_ino;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
			    !S_ISDIR(st.st_mode))
				continue;
			ino = st.st_ino;
		}
		if (++w->dirs > WALK_MAX_DIRS) {
			w->truncated = true;
			r = -1;
			break;
		}
		nl = strlen(de->d_name);
		saved = w->len;
		if (saved + 1 + nl >= sizeof(w->path)) {
			w->truncated = true;
			continue;
		}
		w->path[saved] = '/';
		memcpy(w->path + saved + 1, de->d_name, nl + 1);
		w->len = saved + 1 + nl;
		r = w->visit(w, dirfd(d), de->d_name, ino);
		if (r == 0) {
			if (depth + 1 >= WALK_MAX_DEPTH) {
				w->truncated = true;
			} else {
				sub = openat(dirfd(d), de->d_name,
					     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub >= 0)
					r = walk_dir(w, sub, depth + 1);
			}
		}
		w->len = saved;
		w->path[saved] = '\0';
	}
	closedir(d);
	return r > 0 ? 1 : r;
}

static void walk_tree(struct walk *w)
{
	int fd;

	w->c->st.walks++;
	w->len = 0;
	w->path[0] = '\0';
	w->dirs = 0;
	w->truncated = false;
	fd = openat(w->c->mntfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		walk_dir(w, fd, 0);
	else
		w->truncated = true;
	if (w->truncated)
		w->c->st.walks_truncated++;
}

struct find_id {
	uint64_t id;
	char *rel;
	size_t n;
	bool found;
};

static int visit_id(struct walk *w, int parentfd, const char *name, uint64_t ino)
{
	struct find_id *f = w->arg;
	struct stat st;

	/* on cgroup2 d_ino is the kernfs id (confirmed below); other file
	 * systems (test trees) may report another number in d_ino */
	if (w->c->cgroup2 && ino != f->id)
		return 0;
	if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode) ||
	    (uint64_t)st.st_ino != f->id)
		return 0;
	if (w->len < f->n) {
		memcpy(f->rel, w->path, w->len + 1);
		f->found = true;
	}
	return 1;
}

static int resolve_walk(struct container_cache *c, uint64_t id, char *rel, size_t n)
{
	struct find_id f = { .id = id, .rel = rel, .n = n };
	struct walk *w;
	struct stat st;
	int r = -ENOENT;

	if (fstat(c->mntfd, &st) == 0 && (uint64_t)st.st_ino == id) {
		snprintf(rel, n, "/");
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOENT;
	w->c = c;
	w->visit = visit_id;
	w->arg = &f;
	walk_tree(w);
	if (f.found)
		r = 0;
	free(w);
	return r;
}

int container_cache_lookup(struct container_cache *c, uint64_t cgroup_id, struct ctr_info *out)
{
	char rel[PATH_MAX];
	struct ctr_entry *e;
	struct ctr_info info;
	int r = -EAGAIN;

	if (!c || !out)
		return -EINVAL;
	e = cgroup_id ? entry_find(c, cgroup_id) : NULL;
	if (e) {
		c->st.hits++;
		lru_touch(c, e);
		*out = e->info;
		return 0;
	}
	c->st.misses++;
	if (!cgroup_id) {
		c->st.not_found++;
		return -ENOENT;
	}
	if (c->st.handles)
		r = resolve_handle(c, cgroup_id, rel, sizeof(rel));
	if (r == 0) {
		c->st.by_handle++;
	} else if (r == -EAGAIN) {
		r = resolve_walk(c, cgroup_id, rel, sizeof(rel));
		if (r == 0)
			c->st.by_walk++;
	}
	if (r) {
		c->st.not_found++;
		return -ENOENT;
	}
	container_parse_path_end(rel, &info, NULL);
	info.cgroup_id = cgroup_id;
	entry_put(c, rel, &info);
	*out = info;
	return 0;
}

int container_cache_sweep(struct container_cache *c)
{
	struct ctr_entry *e, *next;
	int n = 0;

	if (!c)
		return -EINVAL;
	for (e = TAILQ_FIRST(&c->lru); e; e = next) {
		next = TAILQ_NEXT(e, lru);
		/* ids are never reused, so a directory with another inode at
		 * the same path is a new cgroup: drop the old entry too */
		if (path_alive(c, e->relpath, e->info.cgroup_id) == 0) {
			entry_remove(c, e);
			n++;
		}
	}
	c->st.swept += (uint64_t)n;
	return n;
}

void container_cache_forget(struct container_cache *c, uint64_t cgroup_id)
{
	struct ctr_entry *e;

	if (!c)
		return;
	e = entry_find(c, cgroup_id);
	if (e)
		entry_remove(c, e);
}

/* ---- finding a container by id --------------------------------------- */

struct match {
	char pfx[CTR_ID_LEN + 1];
	size_t plen;
	int nids;                 /* distinct container ids seen, 0..2 */
	struct ctr_info best;
	char best_rel[PATH_MAX];
};

/* the container's own cgroup for a (normalized) path inside it */
static int container_root(struct container_cache *c, const char *relpath, struct ctr_info *out,
			  char *root, size_t n)
{
	struct ctr_info info;
	struct stat st;
	size_t end;

	container_parse_path_end(relpath, &info, &end);
	if (!info.is_container || end == 0 || end >= n)
		return -ENOENT;
	memcpy(root, relpath, end);
	root[end] = '\0';
	if (fstatat(c->mntfd, root + 1, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
		return -ENOENT;
	container_parse_path_end(root, out, NULL);
	out->cgroup_id = (uint64_t)st.st_ino;
	return 0;
}

/* 1: a second container matched (ambiguous) */
static int match_add(struct container_cache *c, struct match *m, const char *relpath)
{
	char root[PATH_MAX];
	struct ctr_info info;

	if (container_root(c, relpath, &info, root, sizeof(root)))
		return 0;
	if (strncmp(info.container_id, m->pfx, m->plen) != 0)
		return 0;
	if (m->nids == 0) {
		m->best = info;
		memcpy(m->best_rel, root, strlen(root) + 1);
		m->nids = 1;
		return 0;
	}
	if (strcmp(m->best.container_id, info.container_id) == 0)
		return 0;
	m->nids = 2;
	return 1;
}

static int visit_match(struct walk *w, int parentfd, const char *name, uint64_t ino)
{
	struct match *m = w->arg;

	/* only a directory named after the container can be its own cgroup */
	if (!strstr(name, m->pfx))
		return 0;
	return match_add(w->c, m, w->path);
}

int container_cache_find_container(struct container_cache *c, const char *id, struct ctr_info *out)
{
	struct match *m = NULL;
	struct walk *w = NULL;
	struct ctr_entry *e;
	size_t i, n;
	int r;

	if (!c || !id || !out)
		return -EINVAL;
	n = strlen(id);
	if (n < CTR_ID_MIN_PREFIX || n > CTR_ID_LEN)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		char ch = id[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!lower_hex(ch)) {
			r = -EINVAL;
			goto out;
		}
		m->pfx[i] = ch;
	}
	m->plen = n;

	/* live cached containers first */
	TAILQ_FOREACH(e, &c->lru, lru) {
		if (!e->info.is_container || strncmp(e->info.container_id, m->pfx, n) != 0)
			continue;
		if (path_alive(c, e->relpath, e->info.cgroup_id) != 1)
			continue;
		if (match_add(c, m, e->relpath)) {
			r = -EEXIST;
			goto out;
		}
	}
	/* a short prefix is only unique if nothing on disk shares it */
	if (!(m->nids == 1 && n == CTR_ID_LEN)) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			r = -ENOMEM;
			goto out;
		}
		w->c = c;
		w->visit = visit_match;
		w->arg = m;
		walk_tree(w);
	}
	if (m->nids > 1) {
		r = -EEXIST;
	} else if (m->nids == 0) {
		r = -ENOENT;
	} else {
		entry_put(c, m->best_rel, &m->best);
		*out = m->best;
		r = 0;
	}
out:
	free(w);
	free(m);
	return r;
}
