// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errptr.h"
#include "procfs.h"
#include "proctab.h"

/*
 * Entries live in a chained hash (by pid) and on one of two lists:
 *   live:   least recently seen first (eviction candidate of last resort)
 *   exited: oldest exit first (evicted first, and by proctab_gc)
 */
TAILQ_HEAD(plist, proc);

struct proctab {
	struct proc **buckets;
	size_t nbuckets;
	size_t count, max, evictions;
	size_t strbytes;
	struct plist live, exited;
};

static size_t bucket_of(const struct proctab *t, uint32_t pid)
{
	return (pid * 2654435761u) & (t->nbuckets - 1);
}

struct proctab *proctab_new(size_t max)
{
	struct proctab *t = calloc(1, sizeof(*t));
	size_t nb = 1024;

	if (!t)
		return NULL;
	if (max < 16)
		max = 16;
	while (nb < max && nb < (1u << 22))
		nb <<= 1;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return errno_null(ENOMEM);
	}
	t->nbuckets = nb;
	t->max = max;
	TAILQ_INIT(&t->live);
	TAILQ_INIT(&t->exited);
	return t;
}

static void proc_free_strings(struct proctab *t, struct proc *p)
{
	if (p->exe) {
		t->strbytes -= strlen(p->exe) + 1;
		free(p->exe);
	}
	if (p->cmdline) {
		t->strbytes -= strlen(p->cmdline) + 1;
		free(p->cmdline);
	}
	p->exe = p->cmdline = NULL;
}

static void set_str(struct proctab *t, char **dst, const char *src)
{
	char *n = strdup(src ? src : "");

	if (!n)
		return; /* keep the old value rather than lose it */
	if (*dst) {
		t->strbytes -= strlen(*dst) + 1;
		free(*dst);
	}
	*dst = n;
	t->strbytes += strlen(n) + 1;
}

static void unlink_proc(struct proctab *t, struct proc *p)
{
	struct proc **pp = &t->buckets[bucket_of(t, p->pid)];

	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	TAILQ_REMOVE(p->exited ? &t->exited : &t->live, p, link);
	proc_free_strings(t, p);
	free(p);
	t->count--;
}

void proctab_free(struct proctab *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		struct proc *p = t->buckets[i], *n;

		for (; p; p = n) {
			n = p->hnext;
			free(p->exe);
			free(p->cmdline);
			free(p);
		}
	}
	free(t->buckets);
	free(t);
}

struct proc *proctab_get(struct proctab *t, uint32_t pid)
{
	struct proc *p;

	for (p = t->buckets[bucket_of(t, pid)]; p; p = p->hnext)
		if (p->pid == pid)
			return p;
	return NULL;
}

/* a fresh entry for pid, replacing any old one (pid reuse) */
static struct proc *proc_insert(struct proctab *t, uint32_t pid)
{
	struct proc *p = proctab_get(t, pid);
	size_t b;

	if (p)
		unlink_proc(t, p);
	if (t->count >= t->max) {
		struct proc *victim = TAILQ_FIRST(&t->exited);

		if (!victim)
			victim = TAILQ_FIRST(&t->live);
		if (victim) {
			unlink_proc(t, victim);
			t->evictions++;
		}
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	b = bucket_of(t, pid);
	p->hnext = t->buckets[b];
	t->buckets[b] = p;
	TAILQ_INSERT_TAIL(&t->live, p, link);
	t->count++;
	return p;
}

static void touch(struct proctab *t, struct proc *p, uint64_t ts)
{
	p->seen_ns = ts;
	if (!p->exited) {
		TAILQ_REMOVE(&t->live, p, link);
		TAILQ_INSERT_TAIL(&t->live, p, link);
	}
}

bool proctab_join_argv(const char *argv, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;
	bool trunc = false;

	if (!outsz)
		return n > 0;
	for (i = 0; i < n; i++) {
		if (o + 1 >= outsz) {
			/* only trailing separators left: nothing is lost */
			while (i < n && !argv[i])
				i++;
			trunc = i < n;
			break;
		}
		out[o++] = argv[i] ? argv[i] : ' ';
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return trunc;
}

static void from_header(struct proc *p, const struct ng_event *ev)
{
	const struct ng_hdr *h = &ev->hdr;

	p->ppid = h->ppid;
	p->cgroup_id = h->cgroup_id;
	p->pidns = h->pidns;
	if (h->mntns)
		p->mntns = h->mntns;
	p->container = h->flags & NG_HF_CONTAINER;
	memcpy(p->comm, ev->comm, sizeof(p->comm));
	if (!p->creds_known) {
		p->creds.uid = h->uid;
		p->creds.euid = h->euid;
		p->creds.gid = h->gid;
		p->creds.egid = h->egid;
	}
}

void proctab_apply(struct proctab *t, const struct ng_event *ev)
{
	const struct ng_hdr *h = &ev->hdr;
	struct proc *p = proctab_get(t, h->pid), *c;
	char buf[PROC_CMDLINE_MAX];

	switch (h->kind) {
	case NG_EV_EXEC:
		if (!p || p->exited) {
			p = proc_insert(t, h->pid);
			if (!p)
				return;
		}
		from_header(p, ev);
		set_str(t, &p->exe, ev->exec.filename);
		p->cmdline_truncated = proctab_join_argv(ev->exec.argv, ev->exec.argv_len, buf, sizeof(buf)) ||
				       (ev->exec.flags & NG_EXEC_ARGV_TRUNC);
		set_str(t, &p->cmdline, buf);
		p->creds = ev->exec.cur;
		p->creds_known = true;
		p->seeded = false;
		touch(t, p, h->ts_ns);
		break;
	case NG_EV_FORK: {
		/* the child inherits the parent's image and credentials */
		char *exe = p && p->exe ? strdup(p->exe) : NULL;
		char *cmd = p && p->cmdline ? strdup(p->cmdline) : NULL;
		struct ng_creds cr = p ? p->creds : (struct ng_creds){ 0 };
		bool known = p && p->creds_known;

		c = proc_insert(t, ev->fork.child_pid);
		if (c) {
			c->ppid = h->pid;
			c->start_ns = h->ts_ns;
			c->cgroup_id = h->cgroup_id;
			c->pidns = h->pidns;
			c->mntns = h->mntns;
			c->container = h->flags & NG_HF_CONTAINER;
			memcpy(c->comm, ev->comm, sizeof(c->comm));
			set_str(t, &c->exe, exe ? exe : "");
			set_str(t, &c->cmdline, cmd ? cmd : "");
			c->creds = cr;
			c->creds_known = known;
			if (!known) {
				c->creds.uid = h->uid;
				c->creds.euid = h->euid;
				c->creds.gid = h->gid;
				c->creds.egid = h->egid;
			}
			c->seen_ns = h->ts_ns;
		}
		free(exe);
		free(cmd);
		p = proctab_get(t, h->pid);
		if (p)
			touch(t, p, h->ts_ns);
		break;
	}
	case NG_EV_EXIT:
		if (!p || p->exited)
			return;
		p->exited = true;
		p->exit_code = ev->exit.exit_code;
		p->exit_ns = h->ts_ns;
		if (!p->start_ns)
			p->start_ns = ev->exit.start_ns;
		TAILQ_REMOVE(&t->live, p, link);
		TAILQ_INSERT_TAIL(&t->exited, p, link);
		break;
	case NG_EV_CRED:
		if (!p) {
			p = proc_insert(t, h->pid);
			if (!p)
				return;
			from_header(p, ev);
		}
		p->creds = ev->cred.cur;
		p->creds_known = true;
		touch(t, p, h->ts_ns);
		break;
	case NG_EV_ANOMALY:
		if (p) {
			p->creds = ev->anomaly.cur;
			p->creds_known = true;
			touch(t, p, h->ts_ns);
		}
		break;
	case NG_EV_CONNECT:
	case NG_EV_SENDMSG:
		if (!p) {
			p = proc_insert(t, h->pid);
			if (!p)
				return;
			from_header(p, ev);
		}
		if (h->kind == NG_EV_CONNECT && ev->conn.protocol == 6)
			p->last_connect_ns = h->ts_ns;
		touch(t, p, h->ts_ns);
		break;
	}
}

size_t proctab_ancestry(struct proctab *t, uint32_t pid, struct proc **out, size_t max)
{
	size_t n = 0, i;
	struct proc *p;

	while (n < max && pid > 0) {
		p = proctab_get(t, pid);
		if (!p)
			break;
		for (i = 0; i < n; i++)
			if (out[i] == p)
				return n; /* a loop through pid reuse */
		out[n++] = p;
		if (p->ppid == pid || pid == 1)
			break;
		pid = p->ppid;
	}
	return n;
}

size_t proctab_gc(struct proctab *t, uint64_t now_ns, uint64_t keep_ns)
{
	struct proc *p;
	size_t n = 0;

	while ((p = TAILQ_FIRST(&t->exited)) && p->exit_ns + keep_ns < now_ns) {
		unlink_proc(t, p);
		n++;
	}
	return n;
}

size_t proctab_count(const struct proctab *t)
{
	return t->count;
}

size_t proctab_evictions(const struct proctab *t)
{
	return t->evictions;
}

size_t proctab_bytes(const struct proctab *t)
{
	return sizeof(*t) + t->nbuckets * sizeof(*t->buckets) + t->count * sizeof(struct proc) +
	       t->strbytes;
}

/* ---------------------------------------------------------------- /proc seeding */

static int read_file(const char *path, char *buf, size_t n, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t r;

	if (!f)
		return -errno;
	r = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[r] = '\0';
	if (len)
		*len = r;
	return 0;
}

static unsigned ns_ino(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/ns/%s", dir, name);
	return stat(p, &st) ? 0 : (unsigned)st.st_ino;
}

static int seed_one(struct proctab *t, const char *procroot, const char *pidstr, uint32_t host_pidns,
		    uint32_t host_mntns, long ticks, uint64_t boot_ns_now)
{
	char dir[PATH_MAX], path[PATH_MAX], buf[4096], exe[PATH_MAX];
	uint32_t pid = (uint32_t)strtoul(pidstr, NULL, 10);
	struct proc *p;
	size_t len = 0;
	ssize_t el;
	char *rp;
	unsigned long long start = 0;
	unsigned ppid = 0;

	(void)boot_ns_now;
	if (proctab_get(t, pid))
		return 0; /* an event got there first: it is fresher */
	snprintf(dir, sizeof(dir), "%s/%s", procroot, pidstr);
	snprintf(path, sizeof(path), "%s/stat", dir);
	if (read_file(path, buf, sizeof(buf), NULL))
		return -ENOENT;
	/* comm may contain ')' and spaces: parse after the last ')', which must
	 * not end the text (rp + 2 would be past the terminator) */
	rp = strrchr(buf, ')');
	if (!rp || !rp[1] || sscanf(rp + 2, "%*c %u %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			  &ppid, &start) != 2)
		return -EBADMSG;
	p = proc_insert(t, pid);
	if (!p)
		return -ENOMEM;
	p->ppid = ppid;
	p->start_ns = ticks > 0 ? start * (1000000000ull / (unsigned long long)ticks) : 0;
	p->seeded = true;
	{
		char *lp = strchr(buf, '(');
		size_t cl = lp ? (size_t)(rp - lp - 1) : 0;

		if (cl > NG_COMM_LEN)
			cl = NG_COMM_LEN;
		if (lp)
			memcpy(p->comm, lp + 1, cl);
		p->comm[cl] = '\0';
	}
	snprintf(path, sizeof(path), "%s/exe", dir);
	el = readlink(path, exe, sizeof(exe) - 1);
	exe[el > 0 ? el : 0] = '\0';
	set_str(t, &p->exe, exe);
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	if (!read_file(path, buf, sizeof(buf), &len)) {
		char cl[PROC_CMDLINE_MAX];

		p->cmdline_truncated = proctab_join_argv(buf, len, cl, sizeof(cl));
		set_str(t, &p->cmdline, cl);
	}
	snprintf(path, sizeof(path), "%s/status", dir);
	if (!read_file(path, buf, sizeof(buf), NULL)) {
		char *l = buf;

		while (l && *l) {
			if (procfs_status_creds(l, &p->creds) == PROCFS_UID)
				p->creds_known = true;
			l = strchr(l, '\n');
			if (l)
				l++;
		}
	}
	p->pidns = ns_ino(dir, "pid");
	p->mntns = ns_ino(dir, "mnt");
	p->container = (p->pidns && p->pidns != host_pidns) || (p->mntns && p->mntns != host_mntns);
	return 1;
}

int proctab_seed(struct proctab *t, const char *procroot, uint32_t host_pidns, uint32_t host_mntns)
{
	DIR *d = opendir(procroot);
	struct dirent *de;
	long ticks = sysconf(_SC_CLK_TCK);
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (seed_one(t, procroot, de->d_name, host_pidns, host_mntns, ticks, 0) > 0)
			n++;
	}
	closedir(d);
	return n;
}
