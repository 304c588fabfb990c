// SPDX-License-Identifier: Apache-2.0
/*
 * Container attribution: cgroup path parsing and the cgroup id cache.
 *
 * Trust: the outermost container-shaped component of a path decides. A
 * workload with a delegated cgroup subtree can create sub-cgroups with any
 * name (including another container's), so nothing below the first container
 * component is believed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "container.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define FILEID_KERNFS 0xfe

#define CACHE_MAX_ENTRIES (1u << 20)
#define WALK_MAX_DEPTH 32       /* kubelet trees are < 10 deep */
#define WALK_MAX_DIRS 200000    /* directories visited by one walk */

/* ---- path parsing ---------------------------------------------------- */

struct comp {
	const char *s;
	size_t n;
};

static bool comp_is(const struct comp *c, const char *lit)
{
	size_t n = strlen(lit);

	return c->s && c->n == n && memcmp(c->s, lit, n) == 0;
}

static bool has_suffix(const char *s, size_t n, const char *sfx)
{
	size_t k = strlen(sfx);

	return n >= k && memcmp(s + n - k, sfx, k) == 0;
}

static bool lower_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

/* exactly 64 lowercase hex digits */
static bool is_id64(const char *s, size_t n)
{
	size_t i;

	if (n != CTR_ID_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!lower_hex(s[i]))
			return false;
	return true;
}

/*
 * 8-4-4-4-12 lowercase hex; separators all '-' (cgroupfs) or all '_'
 * (systemd unit names, where '-' means a level of the hierarchy).
 */
static bool parse_uid(const char *s, size_t n, char out[37])
{
	char sep;
	size_t i;

	if (n != 36)
		return false;
	sep = s[8];
	if (sep != '-' && sep != '_')
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != sep)
				return false;
			out[i] = '-';
		} else {
			if (!lower_hex(s[i]))
				return false;
			out[i] = s[i];
		}
	}
	out[36] = '\0';
	return true;
}

struct pod {
	bool found;
	char uid[37];
	enum ctr_qos qos;
};

/*
 * systemd driver: [<anything>-]kubepods[-burstable|-besteffort]-pod<uid>.slice
 * (kind and kubelet-in-a-slice setups prefix "kubelet-").
 */
static bool parse_pod_slice(const char *s, size_t n, struct pod *p)
{
	static const struct {
		const char *head;
		enum ctr_qos qos;
	} heads[] = {
		{ "kubepods-burstable", QOS_BURSTABLE },
		{ "kubepods-besteffort", QOS_BESTEFFORT },
		{ "kubepods", QOS_GUARANTEED },
	};
	size_t i, hn;

	if (!has_suffix(s, n, ".slice"))
		return false;
	n -= strlen(".slice");
	if (n < 36 + 4)
		return false;
	if (!parse_uid(s + n - 36, 36, p->uid))
		return false;
	n -= 36;
	if (memcmp(s + n - 4, "-pod", 4) != 0)
		return false;
	n -= 4;
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		hn = strlen(heads[i].head);
		if (!has_suffix(s, n, heads[i].head))
			continue;
		if (n > hn && s[n - hn - 1] != '-')
			continue;
		p->qos = heads[i].qos;
		p->found = true;
		return true;
	}
	return false;
}

/* cgroupfs driver: .../kubepods[/burstable|/besteffort]/pod<uid> */
static bool parse_pod_dir(const struct comp *c, const struct comp *parent,
			  const struct comp *grand, struct pod *p)
{
	if (!c->s || c->n != 39 || memcmp(c->s, "pod", 3) != 0)
		return false;
	if (comp_is(parent, "kubepods"))
		p->qos = QOS_GUARANTEED;
	else if (comp_is(parent, "burstable") && comp_is(grand, "kubepods"))
		p->qos = QOS_BURSTABLE;
	else if (comp_is(parent, "besteffort") && comp_is(grand, "kubepods"))
		p->qos = QOS_BESTEFFORT;
	else
		return false;
	if (!parse_uid(c->s + 3, 36, p->uid))
		return false;
	p->found = true;
	return true;
}

static bool parse_pod(const struct comp *c, const struct comp *parent, const struct comp *grand,
		      struct pod *p)
{
	struct pod t = { 0 };

	if (!c->s)
		return false;
	if (!parse_pod_slice(c->s, c->n, &t) && !parse_pod_dir(c, parent, grand, &t))
		return false;
	*p = t;
	return true;
}

static const struct {
	const char *prefix; /* as in "<prefix>-<id>.scope" and "slice:<prefix>:<id>" */
	enum ctr_runtime rt;
	bool conmon;
} runtimes[] = {
	{ "cri-containerd", RT_CONTAINERD, false },
	{ "crio-conmon", RT_CRIO, true },
	{ "crio", RT_CRIO, false },
	{ "docker", RT_DOCKER, false },
	{ "libpod-conmon", RT_PODMAN, true },
	{ "libpod", RT_PODMAN, false },
};

struct ctr {
	bool found;
	enum ctr_runtime rt;
	bool conmon;
	char id[65];
	struct pod pod; /* from a "slice:prefix:id" component */
};

/* a known runtime prefix sets k->rt and k->conmon */
static bool runtime_of(const char *prefix, size_t n, struct ctr *k)
{
	size_t i;

	for (i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		if (strlen(runtimes[i].prefix) != n || memcmp(prefix, runtimes[i].prefix, n) != 0)
			continue;
		k->rt = runtimes[i].rt;
		k->conmon = runtimes[i].conmon;
		return true;
	}
	return false;
}

static void set_id(struct ctr *k, const char *s)
{
	memcpy(k->id, s, CTR_ID_LEN);
	k->id[CTR_ID_LEN] = '\0';
	k->found = true;
}

/* <prefix>-<id>[.scope] with a known prefix */
static bool parse_ctr_named(const char *s, size_t n, struct ctr *k)
{
	size_t pn;

	if (has_suffix(s, n, ".scope"))
		n -= strlen(".scope");
	if (n <= CTR_ID_LEN + 1 || !is_id64(s + n - CTR_ID_LEN, CTR_ID_LEN))
		return false;
	pn = n - CTR_ID_LEN - 1;
	if (s[pn] != '-' || !runtime_of(s, pn, k))
		return false;
	set_id(k, s + n - CTR_ID_LEN);
	return true;
}

/*
 * runc's systemd cgroupsPath "slice:prefix:id" left as a directory name, e.g.
 * kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>. The slice is empty
 * or a .slice unit; an unknown prefix is RT_OTHER.
 */
static bool parse_ctr_colon(const char *s, size_t n, struct ctr *k)
{
	const char *c1, *c2;
	size_t sn, pn;

	c1 = memchr(s, ':', n);
	if (!c1)
		return false;
	sn = (size_t)(c1 - s);
	c2 = memchr(c1 + 1, ':', n - sn - 1);
	if (!c2)
		return false;
	pn = (size_t)(c2 - c1 - 1);
	if (!is_id64(c2 + 1, n - (size_t)(c2 + 1 - s)))
		return false;
	if (sn && !has_suffix(s, sn, ".slice"))
		return false;
	if (!runtime_of(c1 + 1, pn, k))
		k->rt = RT_OTHER;
	if (sn)
		parse_pod_slice(s, sn, &k->pod);
	set_id(k, c2 + 1);
	return true;
}

/*
 * Is c (with its parent and grandparent) a container component? A bare id
 * needs context: a pod directly above it (cgroupfs kubelet: containerd, or
 * cri-dockerd, which looks the same) or Docker's cgroupfs parent "docker".
 */
static bool parse_ctr(const struct comp *c, const struct comp *parent, const struct comp *grand,
		      const struct comp *great, struct ctr *k)
{
	struct pod p = { 0 };

	memset(k, 0, sizeof(*k));
	if (is_id64(c->s, c->n)) {
		if (parse_pod(parent, grand, great, &p))
			k->rt = RT_CONTAINERD;
		else if (comp_is(parent, "docker"))
			k->rt = RT_DOCKER;
		else
			return false;
		set_id(k, c->s);
		return true;
	}
	if (memchr(c->s, ':', c->n))
		return parse_ctr_colon(c->s, c->n, k);
	return parse_ctr_named(c->s, c->n, k);
}

/* normalized length of the path up to and including the container component */
static int parse_path(const char *cgpath, struct ctr_info *out, size_t *ctr_end)
{
	struct comp win[4] = { { 0 } }; /* current, parent, grandparent, great */
	struct pod first_pod = { 0 };
	struct ctr k = { 0 };
	const char *s;
	size_t len = 0, n;

	if (!cgpath || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (ctr_end)
		*ctr_end = 0;

	for (s = cgpath; *s;) {
		if (*s == '/') {
			s++;
			continue;
		}
		n = strcspn(s, "/");
		win[3] = win[2];
		win[2] = win[1];
		win[1] = win[0];
		win[0] = (struct comp){ s, n };

		/* normalized copy, flagged when cut */
		if (len + 1 + n < sizeof(out->path)) {
			out->path[len] = '/';
			memcpy(out->path + len + 1, s, n);
		} else if (!out->path_truncated) {
			size_t room = sizeof(out->path) - 1 - len;

			if (room) {
				out->path[len] = '/';
				memcpy(out->path + len + 1, s, room - 1);
			}
			out->path_truncated = true;
		}
		len += 1 + n;

		if (!k.found && parse_ctr(&win[0], &win[1], &win[2], &win[3], &k)) {
			if (ctr_end)
				*ctr_end = len;
		} else if (!k.found && !first_pod.found) {
			parse_pod(&win[0], &win[1], &win[2], &first_pod);
		}
		s += n;
	}
	if (len == 0)
		memcpy(out->path, "/", 2);
	else
		out->path[out->path_truncated ? sizeof(out->path) - 1 : len] = '\0';

	if (!first_pod.found && k.found)
		first_pod = k.pod;
	if (first_pod.found) {
		memcpy(out->pod_uid, first_pod.uid, sizeof(out->pod_uid));
		out->qos = first_pod.qos;
	}
	if (k.found) {
		out->runtime = k.rt;
		out->is_conmon = k.conmon;
		out->is_container = !k.conmon;
		memcpy(out->container_id, k.id, sizeof(out->container_id));
	}
	return 0;
}

int container_parse_path(const char *cgpath, struct ctr_info *out)
{
	return parse_path(cgpath, out, NULL);
}

const char *ctr_runtime_name(enum ctr_runtime r)
{
	switch (r) {
	case RT_HOST: return "host";
	case RT_CONTAINERD: return "containerd";
	case RT_CRIO: return "cri-o";
	case RT_DOCKER: return "docker";
	case RT_PODMAN: return "podman";
	case RT_OTHER: return "other";
	}
	return "unknown";
}

const char *ctr_qos_name(enum ctr_qos q)
{
	switch (q) {
	case QOS_NONE: return "";
	case QOS_GUARANTEED: return "guaranteed";
	case QOS_BURSTABLE: return "burstable";
	case QOS_BESTEFFORT: return "besteffort";
	}
	return "";
}

/* ---- the cache ------------------------------------------------------- */

struct ctr_entry {
	struct ctr_entry *hnext;
	struct ctr_entry *prev, *next; /* LRU, head is the most recent */
	char *relpath;                 /* full path (info.path may be cut) */
	struct ctr_info info;
};

struct ctr_cache {
	int mntfd;
	bool cgroup2;
	char mnt[PATH_MAX];            /* the mount as /proc/self/fd shows it */
	size_t mntlen;
	size_t max, n;
	unsigned bits;
	struct ctr_entry **buckets;
	struct ctr_entry *head, *tail;
	struct ctr_cache_stats st;
};

static size_t bucket_of(const struct ctr_cache *c, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> (64 - c->bits));
}

static struct ctr_entry *entry_find(const struct ctr_cache *c, uint64_t id)
{
	struct ctr_entry *e;

	for (e = c->buckets[bucket_of(c, id)]; e; e = e->hnext)
		if (e->info.cgroup_id == id)
			return e;
	return NULL;
}

static void lru_unlink(struct ctr_cache *c, struct ctr_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct ctr_cache *c, struct ctr_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void entry_remove(struct ctr_cache *c, struct ctr_entry *e)
{
	struct ctr_entry **pp = &c->buckets[bucket_of(c, e->info.cgroup_id)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(c, e);
	c->n--;
	free(e->relpath);
	free(e);
}

/* best effort: a failed allocation only means the next lookup resolves again */
static void entry_put(struct ctr_cache *c, const char *relpath, const struct ctr_info *info)
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
		lru_unlink(c, e);
		lru_push(c, e);
		return;
	}
	if (c->n >= c->max && c->tail) {
		entry_remove(c, c->tail);
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
	lru_push(c, e);
	c->n++;
}

/* 1: relpath is a directory with inode id; 0: gone or replaced; -errno: can't tell */
static int path_alive(const struct ctr_cache *c, const char *relpath, uint64_t id)
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

static int resolve_handle(struct ctr_cache *c, uint64_t id, char *rel, size_t n);

struct ctr_cache *ctr_cache_new(const char *cgroup2_mount, size_t max_entries)
{
	struct ctr_cache *c = NULL;
	struct statfs sfs;
	struct stat st;
	char fdpath[64], rootrel[16];
	ssize_t len;
	size_t nb;
	int err;

	if (!cgroup2_mount || !*cgroup2_mount || max_entries == 0 ||
	    max_entries > CACHE_MAX_ENTRIES) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->mntfd = -1;
	c->max = max_entries;
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
	ctr_cache_free(c);
	errno = err;
	return NULL;
}

void ctr_cache_free(struct ctr_cache *c)
{
	if (!c)
		return;
	while (c->head)
		entry_remove(c, c->head);
	free(c->buckets);
	if (c->mntfd >= 0)
		close(c->mntfd);
	free(c);
}

void ctr_cache_use_handles(struct ctr_cache *c, bool on)
{
	if (c)
		c->st.handles = on && c->cgroup2 && c->mnt[0];
}

size_t ctr_cache_size(const struct ctr_cache *c)
{
	return c ? c->n : 0;
}

void ctr_cache_get_stats(const struct ctr_cache *c, struct ctr_cache_stats *out)
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
static int resolve_handle(struct ctr_cache *c, uint64_t id, char *rel, size_t n)
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
	struct ctr_cache *c;
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

static int resolve_walk(struct ctr_cache *c, uint64_t id, char *rel, size_t n)
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

int ctr_cache_lookup(struct ctr_cache *c, uint64_t cgroup_id, struct ctr_info *out)
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
		lru_unlink(c, e);
		lru_push(c, e);
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
	parse_path(rel, &info, NULL);
	info.cgroup_id = cgroup_id;
	entry_put(c, rel, &info);
	*out = info;
	return 0;
}

int ctr_cache_sweep(struct ctr_cache *c)
{
	struct ctr_entry *e, *next;
	int n = 0;

	if (!c)
		return -EINVAL;
	for (e = c->head; e; e = next) {
		next = e->next;
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

void ctr_cache_forget(struct ctr_cache *c, uint64_t cgroup_id)
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
static int container_root(struct ctr_cache *c, const char *relpath, struct ctr_info *out,
			  char *root, size_t n)
{
	struct ctr_info info;
	struct stat st;
	size_t end;

	parse_path(relpath, &info, &end);
	if (!info.is_container || end == 0 || end >= n)
		return -ENOENT;
	memcpy(root, relpath, end);
	root[end] = '\0';
	if (fstatat(c->mntfd, root + 1, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
		return -ENOENT;
	parse_path(root, out, NULL);
	out->cgroup_id = (uint64_t)st.st_ino;
	return 0;
}

/* 1: a second container matched (ambiguous) */
static int match_add(struct ctr_cache *c, struct match *m, const char *relpath)
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

int ctr_cache_find_container(struct ctr_cache *c, const char *id, struct ctr_info *out)
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
	for (e = c->head; e; e = e->next) {
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
