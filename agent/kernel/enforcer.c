// SPDX-License-Identifier: Apache-2.0
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "nodeguard/event.h"
#include "clock.h"
#include "enforce.skel.h"
#include "enforcer.h"
#include "vlog.h"

#define BPF_FS_MAGIC_ 0xcafe4a11

struct enforcer {
	struct ngsk_enforce *skel;
	char pin_dir[PATH_MAX];
	char cgroup2[PATH_MAX];
	struct bpf_link *root[4];
};

static const char *const root_progs[4] = { "ng_enf_connect4", "ng_enf_connect6",
					   "ng_enf_sendmsg4", "ng_enf_sendmsg6" };

static int ensure_bpffs(const char *pin_dir)
{
	struct statfs sf;
	char links[PATH_MAX];

	if (statfs("/sys/fs/bpf", &sf) == 0 && (uint32_t)sf.f_type != BPF_FS_MAGIC_) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") && errno != EBUSY)
			return -errno;
	}
	if (mkdir(pin_dir, 0700) && errno != EEXIST)
		return -errno;
	snprintf(links, sizeof(links), "%s/links", pin_dir);
	if (mkdir(links, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void link_path(const struct enforcer *e, const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/links/%s", e->pin_dir, name);
}

/*
 * The hot path's "anything to look up?" flags: whether each table has an
 * entry (its first key exists), so a change costs O(1) map calls, not a
 * walk of every entry (bulk inserts stay linear).
 */
static int update_state(struct enforcer *e)
{
	struct ng_enf_state st = { 0 };
	__u32 zero = 0;
	__u64 k;
	struct ng_lpm4_key k4;
	struct ng_lpm6_key k6;

	st.n_isolated = !bpf_map_get_next_key(bpf_map__fd(e->skel->maps.ng_isolated), NULL, &k);
	st.n_deny = !bpf_map_get_next_key(bpf_map__fd(e->skel->maps.ng_deny4), NULL, &k4) ||
		    !bpf_map_get_next_key(bpf_map__fd(e->skel->maps.ng_deny6), NULL, &k6);
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.ng_enf_state), &zero, &st, BPF_ANY))
		return -errno;
	return 0;
}

/* open a pinned link and point it at our freshly loaded program */
static struct bpf_link *adopt_link(const char *path, struct bpf_program *prog, int *err)
{
	struct bpf_link *l = bpf_link__open(path);

	if (!l) {
		*err = -errno;
		return NULL;
	}
	*err = bpf_link__update_program(l, prog);
	if (*err) {
		bpf_link__destroy(l);
		return NULL;
	}
	return l;
}

static int attach_cg_pinned(struct enforcer *e, struct bpf_program *prog, int cgfd,
			    const char *name, bool *adopted)
{
	char path[PATH_MAX];
	struct bpf_link *l;
	int err = 0;

	link_path(e, name, path, sizeof(path));
	*adopted = false;
	if (access(path, F_OK) == 0) {
		l = adopt_link(path, prog, &err);
		if (l) {
			*adopted = true;
			bpf_link__disconnect(l); /* the pin holds it */
			bpf_link__destroy(l);
			return 0;
		}
		/* a stale pin: replace it */
		unlink(path);
	}
	l = bpf_program__attach_cgroup(prog, cgfd);
	if (!l)
		return -errno;
	err = bpf_link__pin(l, path);
	if (!err)
		bpf_link__disconnect(l);
	bpf_link__destroy(l);
	return err;
}

static void iso_link_names(uint64_t cgid, char *eg, char *in, size_t n)
{
	snprintf(eg, n, "iso-%" PRIu64 "-egress", cgid);
	snprintf(in, n, "iso-%" PRIu64 "-ingress", cgid);
}

static int isolate_links(struct enforcer *e, uint64_t cgid, int cgfd, uint32_t *relinked)
{
	char eg[64], in[64];
	bool a1 = false, a2 = false;
	int err;

	iso_link_names(cgid, eg, in, sizeof(eg));
	err = attach_cg_pinned(e, e->skel->progs.ng_enf_egress, cgfd, eg, &a1);
	if (!err)
		err = attach_cg_pinned(e, e->skel->progs.ng_enf_ingress, cgfd, in, &a2);
	if (!err && relinked && (!a1 || !a2))
		(*relinked)++;
	return err;
}

/* find a cgroup directory by id under the cgroup2 mount (adoption path) */
static int open_cgroup_by_id(const char *root, uint64_t cgid, int depth)
{
	DIR *d = opendir(root);
	struct dirent *de;
	struct stat st;
	int fd = -ENOENT;

	if (!d)
		return -errno;
	if (stat(root, &st) == 0 && st.st_ino == cgid) {
		closedir(d);
		return open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	while (fd < 0 && depth < 32 && (de = readdir(d))) {
		char p[PATH_MAX];

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", root, de->d_name);
		fd = open_cgroup_by_id(p, cgid, depth + 1);
	}
	closedir(d);
	return fd;
}

struct enforcer *enforcer_open(const char *pin_dir, const char *cgroup2_mount,
			       struct enforcer_adopted *adopted, char *errbuf, size_t errlen)
{
	struct enforcer *e = calloc(1, sizeof(*e));
	struct bpf_map *m;
	int err = 0, cgfd = -1, i;
	char path[PATH_MAX];
	__u64 k, next;

	memset(adopted, 0, sizeof(*adopted));
	if (!e)
		return NULL;
	snprintf(e->pin_dir, sizeof(e->pin_dir), "%s", pin_dir ? pin_dir : NG_PIN_DIR);
	snprintf(e->cgroup2, sizeof(e->cgroup2), "%s", cgroup2_mount);
	err = ensure_bpffs(e->pin_dir);
	if (err) {
		snprintf(errbuf, errlen, "Failed to prepare bpffs pin directory %s: %s", e->pin_dir,
			 strerror(-err));
		goto fail;
	}
	e->skel = ngsk_enforce__open();
	if (!e->skel) {
		err = -errno;
		snprintf(errbuf, errlen, "Failed to open the enforcement object: %s", strerror(errno));
		goto fail;
	}
	bpf_object__for_each_map(m, e->skel->obj) {
		if (bpf_map__is_internal(m))
			continue;
		snprintf(path, sizeof(path), "%s/%s", e->pin_dir, bpf_map__name(m));
		if ((err = bpf_map__set_pin_path(m, path)))
			goto fail_load;
	}
	{
		struct vlog v;
		char why[VLOG_WHY_MAX] = "";

		err = vlog_attach(&v, e->skel->obj);
		if (!err)
			err = ngsk_enforce__load(e->skel);
		if (err)
			vlog_refusal(&v, why, sizeof(why));
		vlog_free(&v);
		if (err) {
fail_load:
			snprintf(errbuf, errlen,
				 "Failed to load the enforcement object (a pinned map of another shape "
				 "under %s? 'nodeguard uninstall' clears it): %s%s%s", e->pin_dir,
				 strerror(-err), why[0] ? "; verifier on " : "", why);
			goto fail;
		}
	}

	cgfd = open(cgroup2_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "Failed to open cgroup v2 root %s: %s", cgroup2_mount,
			 strerror(errno));
		goto fail;
	}
	for (i = 0; i < 4; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(e->skel->obj, root_progs[i]);
		bool was;

		err = p ? attach_cg_pinned(e, p, cgfd, root_progs[i], &was) : -ENOENT;
		if (err) {
			snprintf(errbuf, errlen, "Failed to attach %s to %s: %s", root_progs[i],
				 cgroup2_mount, strerror(-err));
			goto fail;
		}
		adopted->root_links += was;
	}
	close(cgfd);
	cgfd = -1;

	/* adopt isolated cgroups: make sure their packet links exist */
	for (err = bpf_map_get_next_key(bpf_map__fd(e->skel->maps.ng_isolated), NULL, &next); !err;
	     err = bpf_map_get_next_key(bpf_map__fd(e->skel->maps.ng_isolated), &k, &next)) {
		int fd;

		k = next;
		adopted->isolated++;
		fd = open_cgroup_by_id(e->cgroup2, k, 0);
		if (fd < 0)
			continue; /* the cgroup is gone: the entry is released by reconcile */
		isolate_links(e, k, fd, &adopted->relinked);
		close(fd);
	}
	{
		struct ng_lpm4_key k4, n4;
		struct ng_lpm6_key k6, n6;
		int fd4 = bpf_map__fd(e->skel->maps.ng_deny4), fd6 = bpf_map__fd(e->skel->maps.ng_deny6);

		for (err = bpf_map_get_next_key(fd4, NULL, &n4); !err; err = bpf_map_get_next_key(fd4, &k4, &n4)) {
			k4 = n4;
			adopted->deny4++;
		}
		for (err = bpf_map_get_next_key(fd6, NULL, &n6); !err; err = bpf_map_get_next_key(fd6, &k6, &n6)) {
			k6 = n6;
			adopted->deny6++;
		}
	}
	err = update_state(e);
	if (err) {
		snprintf(errbuf, errlen, "Failed to update enforcement state: %s", strerror(-err));
		goto fail;
	}
	return e;
fail:
	if (cgfd >= 0)
		close(cgfd);
	enforcer_close(e);
	errno = err ? -err : EINVAL;
	return NULL;
}

void enforcer_close(struct enforcer *e)
{
	if (!e)
		return;
	ngsk_enforce__destroy(e->skel);
	free(e);
}

int enforcer_set_host(struct enforcer *e, uint32_t pidns, uint32_t mntns)
{
	struct ng_enf_host h = { .pidns = pidns, .mntns = mntns };
	__u32 zero = 0;

	return bpf_map_update_elem(bpf_map__fd(e->skel->maps.ng_enf_host), &zero, &h, BPF_ANY) ? -errno : 0;
}

int enforcer_exempt_add(struct enforcer *e, uint64_t cgid)
{
	__u32 one = 1;

	return bpf_map_update_elem(bpf_map__fd(e->skel->maps.ng_enf_exempt), &cgid, &one, BPF_ANY) ? -errno : 0;
}

int enforcer_exempt_del(struct enforcer *e, uint64_t cgid)
{
	if (bpf_map_delete_elem(bpf_map__fd(e->skel->maps.ng_enf_exempt), &cgid) && errno != ENOENT)
		return -errno;
	return 0;
}

int enforcer_events_fd(struct enforcer *e)
{
	return bpf_map__fd(e->skel->maps.ng_enf_events);
}

const char *enforcer_pin_dir(const struct enforcer *e)
{
	return e->pin_dir;
}

int enforcer_isolate(struct enforcer *e, uint64_t cgid, const char *cgroup_dir, uint32_t rule_id)
{
	struct ng_isolation iso = { .since_ns = clock_boot_ns(), .rule_id = rule_id };
	int fd, err;

	fd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the map entry first: new connects are refused from this instant */
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.ng_isolated), &cgid, &iso, BPF_NOEXIST)) {
		err = -errno;
		close(fd);
		return err == -EEXIST ? 0 : err;
	}
	err = update_state(e);
	if (!err)
		err = isolate_links(e, cgid, fd, NULL);
	close(fd);
	if (err) {
		enforcer_release_isolation(e, cgid);
		return err;
	}
	return 0;
}

static int unpin_link(const char *path)
{
	struct bpf_link *l = bpf_link__open(path);
	int err = 0;

	if (!l)
		return errno == ENOENT ? 0 : -errno;
	/* detach now, whoever else holds the link */
	if (bpf_link__detach(l) && errno != ENOENT)
		err = -errno;
	bpf_link__destroy(l);
	if (unlink(path) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

int enforcer_release_isolation(struct enforcer *e, uint64_t cgid)
{
	char eg[64], in[64], path[PATH_MAX];
	int err = 0, e2;

	iso_link_names(cgid, eg, in, sizeof(eg));
	link_path(e, eg, path, sizeof(path));
	e2 = unpin_link(path);
	err = err ? err : e2;
	link_path(e, in, path, sizeof(path));
	e2 = unpin_link(path);
	err = err ? err : e2;
	if (bpf_map_delete_elem(bpf_map__fd(e->skel->maps.ng_isolated), &cgid) && errno != ENOENT)
		err = err ? err : -errno;
	e2 = update_state(e);
	return err ? err : e2;
}

bool enforcer_is_isolated(struct enforcer *e, uint64_t cgid)
{
	struct ng_isolation iso;

	return bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ng_isolated), &cgid, &iso) == 0;
}

int enforcer_isolation_stats(struct enforcer *e, uint64_t cgid, struct ng_isolation *out)
{
	return bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ng_isolated), &cgid, out) ? -errno : 0;
}

static void key4(struct ng_lpm4_key *k, uint64_t cgid, const struct cidr *c)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 64 + c->prefix;
	memcpy(k->cg, &cgid, 8);
	memcpy(k->addr, c->addr, 4);
}

static void key6(struct ng_lpm6_key *k, uint64_t cgid, const struct cidr *c)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 64 + c->prefix;
	memcpy(k->cg, &cgid, 8);
	memcpy(k->addr, c->addr, 16);
}

static int fill_val(struct ng_deny_val *v, const struct port_range *ports, size_t nports,
		    uint8_t protocol, uint32_t rule_id)
{
	size_t i;

	if (nports > NG_DENY_PORTS_MAX)
		return -E2BIG;
	memset(v, 0, sizeof(*v));
	v->rule_id = rule_id;
	v->protocol = protocol;
	v->nports = (uint16_t)nports;
	for (i = 0; i < nports; i++) {
		v->lo[i] = ports[i].lo;
		v->hi[i] = ports[i].hi;
	}
	return 0;
}

static int table_put(struct enforcer *e, bool allow, uint64_t cgid, const struct cidr *c,
		     const struct port_range *ports, size_t nports, uint8_t protocol, uint32_t rule_id)
{
	struct ng_deny_val v;
	int err = fill_val(&v, ports, nports, protocol, rule_id), fd;

	if (err)
		return err;
	if (c->family == AF_INET) {
		struct ng_lpm4_key k;

		key4(&k, cgid, c);
		fd = bpf_map__fd(allow ? e->skel->maps.ng_allow4 : e->skel->maps.ng_deny4);
		err = bpf_map_update_elem(fd, &k, &v, BPF_ANY) ? -errno : 0;
	} else if (c->family == AF_INET6) {
		struct ng_lpm6_key k;

		key6(&k, cgid, c);
		fd = bpf_map__fd(allow ? e->skel->maps.ng_allow6 : e->skel->maps.ng_deny6);
		err = bpf_map_update_elem(fd, &k, &v, BPF_ANY) ? -errno : 0;
	} else {
		return -EAFNOSUPPORT;
	}
	return err ? err : update_state(e);
}

static int table_del(struct enforcer *e, bool allow, uint64_t cgid, const struct cidr *c)
{
	int err;

	if (c->family == AF_INET) {
		struct ng_lpm4_key k;

		key4(&k, cgid, c);
		err = bpf_map_delete_elem(bpf_map__fd(allow ? e->skel->maps.ng_allow4 : e->skel->maps.ng_deny4), &k);
	} else if (c->family == AF_INET6) {
		struct ng_lpm6_key k;

		key6(&k, cgid, c);
		err = bpf_map_delete_elem(bpf_map__fd(allow ? e->skel->maps.ng_allow6 : e->skel->maps.ng_deny6), &k);
	} else {
		return -EAFNOSUPPORT;
	}
	if (err && errno != ENOENT)
		return -errno;
	return update_state(e);
}

int enforcer_allow_add(struct enforcer *e, uint64_t cgid, const struct cidr *c,
		       const struct port_range *ports, size_t nports, uint8_t protocol)
{
	return table_put(e, true, cgid, c, ports, nports, protocol, 0);
}

int enforcer_allow_del(struct enforcer *e, uint64_t cgid, const struct cidr *c)
{
	return table_del(e, true, cgid, c);
}

int enforcer_deny_add(struct enforcer *e, uint64_t cgid, const struct cidr *c,
		      const struct port_range *ports, size_t nports, uint8_t protocol, uint32_t rule_id)
{
	return table_put(e, false, cgid, c, ports, nports, protocol, rule_id);
}

int enforcer_deny_del(struct enforcer *e, uint64_t cgid, const struct cidr *c)
{
	return table_del(e, false, cgid, c);
}

/* collect, then delete: deleting while iterating an LPM trie skips keys */
static int clear_map(int fd, size_t ksz, uint64_t cgid)
{
	unsigned char key[32], next[32], *keys = NULL;
	size_t n = 0, i;
	int err, removed = 0;

	for (err = bpf_map_get_next_key(fd, NULL, next); !err;
	     err = bpf_map_get_next_key(fd, key, next)) {
		memcpy(key, next, ksz);
		if (memcmp(key + 4, &cgid, 8))
			continue;
		unsigned char *nk = realloc(keys, (n + 1) * ksz);

		if (!nk) {
			free(keys);
			return -ENOMEM;
		}
		keys = nk;
		memcpy(keys + n * ksz, key, ksz);
		n++;
	}
	for (i = 0; i < n; i++)
		if (!bpf_map_delete_elem(fd, keys + i * ksz))
			removed++;
	free(keys);
	return removed;
}

int enforcer_clear_cgroup(struct enforcer *e, uint64_t cgid)
{
	int n = 0, r;

	r = clear_map(bpf_map__fd(e->skel->maps.ng_deny4), sizeof(struct ng_lpm4_key), cgid);
	n += r > 0 ? r : 0;
	r = clear_map(bpf_map__fd(e->skel->maps.ng_deny6), sizeof(struct ng_lpm6_key), cgid);
	n += r > 0 ? r : 0;
	r = clear_map(bpf_map__fd(e->skel->maps.ng_allow4), sizeof(struct ng_lpm4_key), cgid);
	n += r > 0 ? r : 0;
	r = clear_map(bpf_map__fd(e->skel->maps.ng_allow6), sizeof(struct ng_lpm6_key), cgid);
	n += r > 0 ? r : 0;
	update_state(e);
	return n;
}

int enforcer_foreach_isolated(struct enforcer *e, enforcer_isolated_fn fn, void *ctx)
{
	int fd = bpf_map__fd(e->skel->maps.ng_isolated), err, n = 0;
	__u64 k, next;
	struct ng_isolation iso;

	for (err = bpf_map_get_next_key(fd, NULL, &next); !err; err = bpf_map_get_next_key(fd, &k, &next)) {
		k = next;
		if (bpf_map_lookup_elem(fd, &k, &iso))
			continue;
		fn(k, &iso, ctx);
		n++;
	}
	return n;
}

int enforcer_foreach_deny(struct enforcer *e, enforcer_deny_fn fn, void *ctx)
{
	int fd4 = bpf_map__fd(e->skel->maps.ng_deny4), fd6 = bpf_map__fd(e->skel->maps.ng_deny6);
	struct ng_lpm4_key k4, n4;
	struct ng_lpm6_key k6, n6;
	struct ng_deny_val v;
	int err, n = 0;

	for (err = bpf_map_get_next_key(fd4, NULL, &n4); !err; err = bpf_map_get_next_key(fd4, &k4, &n4)) {
		struct cidr c = { .family = AF_INET };
		uint64_t cg;

		k4 = n4;
		if (bpf_map_lookup_elem(fd4, &k4, &v))
			continue;
		c.prefix = (uint8_t)(k4.prefixlen - 64);
		memcpy(c.addr, k4.addr, 4);
		memcpy(&cg, k4.cg, 8);
		fn(cg, &c, &v, ctx);
		n++;
	}
	for (err = bpf_map_get_next_key(fd6, NULL, &n6); !err; err = bpf_map_get_next_key(fd6, &k6, &n6)) {
		struct cidr c = { .family = AF_INET6 };
		uint64_t cg;

		k6 = n6;
		if (bpf_map_lookup_elem(fd6, &k6, &v))
			continue;
		c.prefix = (uint8_t)(k6.prefixlen - 64);
		memcpy(c.addr, k6.addr, 16);
		memcpy(&cg, k6.cg, 8);
		fn(cg, &c, &v, ctx);
		n++;
	}
	return n;
}

static int remove_tree(const char *dir, size_t *removed)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			int e2 = remove_tree(p, removed);

			err = err ? err : e2;
			continue;
		}
		/* a link: detach it before dropping the pin */
		if (strstr(dir, "/links")) {
			struct bpf_link *l = bpf_link__open(p);

			if (l) {
				bpf_link__detach(l);
				bpf_link__destroy(l);
			}
		}
		if (unlink(p) == 0) {
			if (removed)
				(*removed)++;
		} else if (!err) {
			err = -errno;
		}
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

int enforcer_uninstall(const char *pin_dir, size_t *removed)
{
	if (removed)
		*removed = 0;
	return remove_tree(pin_dir ? pin_dir : NG_PIN_DIR, removed);
}

/* ---------------------------------------------------------------- probe */

int enforcer_probe(struct prog_cost *out, size_t max, size_t *n, char *errbuf, size_t errlen)
{
	struct ngsk_enforce *skel = ngsk_enforce__open();
	char why[VLOG_WHY_MAX];
	struct vlog v;
	int err;

	*n = 0;
	if (!skel) {
		err = -errno;
		snprintf(errbuf, errlen, "Failed to open the enforcement object: %s", strerror(-err));
		return err;
	}
	/* nothing pinned, nothing attached: the maps go with the object */
	err = vlog_attach(&v, skel->obj);
	if (!err)
		err = ngsk_enforce__load(skel);
	if (err) {
		vlog_refusal(&v, why, sizeof(why));
		snprintf(errbuf, errlen, "Failed to load the enforcement object: %s; verifier on %s",
			 strerror(-err), why);
	} else {
		*n = vlog_record(&v, "enforce", out, max);
	}
	vlog_free(&v);
	ngsk_enforce__destroy(skel);
	return err;
}
