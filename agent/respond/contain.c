// SPDX-License-Identifier: Apache-2.0
/*
 * Containment on the node: kill a process from user space (pidfd), deny
 * (LPM entries for a cgroup or node-wide), isolate (and the node-wide
 * isolate_allow entries), freeze (confirmed through cgroup.events),
 * kill-container (cgroup.kill). Each action fills det with one line for
 * the journal and returns 0 or -errno; the caller journals. The cgroup file
 * and CIDR helpers here are shared with the rest of the responder.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "log.h"
#include "procfs.h"
#include "respond_int.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define FREEZE_CONFIRM_MS 2000

/* ---------------------------------------------------------------- cgroups and CIDRs */

/* ::ffff:a.b.c.d/(96+p): how a dual-stack socket reaches an IPv4 CIDR */
struct cidr contain_v4mapped(const struct cidr *c)
{
	struct cidr m = { .family = AF_INET6, .prefix = (uint8_t)(96 + c->prefix) };

	m.addr[10] = m.addr[11] = 0xff;
	memcpy(m.addr + 12, c->addr, 4);
	return m;
}

int contain_write_cg_file(const char *dir, const char *file, const char *val)
{
	char p[PATH_MAX];
	ssize_t w;
	int fd, err = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, val, strlen(val));
	if (w < 0)
		err = -errno;
	else if ((size_t)w != strlen(val))
		err = -EIO;
	close(fd);
	return err;
}

ssize_t contain_read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, n - 1);
	if (r < 0)
		r = -errno;
	else
		buf[r] = '\0';
	close(fd);
	return r;
}

/* does the cgroup still exist (directory with this id)? */
bool contain_cgroup_alive(struct responder *r, uint64_t cgid, const char *rel)
{
	struct ctr_info ci;
	char d[PATH_MAX];
	struct stat st;

	if (rel && *rel) {
		cg_dir(r, rel, d, sizeof(d));
		return stat(d, &st) == 0 && (!cgid || st.st_ino == cgid);
	}
	return cgid && r->ctr && container_cache_lookup(r->ctr, cgid, &ci) == 0;
}

bool contain_cg_frozen_file(const char *dir, const char *file, const char *want)
{
	char p[PATH_MAX], buf[512];

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	if (contain_read_file(p, buf, sizeof(buf)) < 0)
		return false;
	if (!strcmp(file, "cgroup.freeze"))
		return buf[0] == want[0];
	/* cgroup.events: "populated 1\nfrozen 1\n" */
	{
		const char *f = strstr(buf, "frozen ");

		return f && (f == buf || f[-1] == '\n') && f[7] == want[0];
	}
}

/* ---------------------------------------------------------------- the actions */

int contain_deny_plan(const struct rule *ru, const struct resp_target *t, bool node_wide,
		      struct deny_plan *p, char *err, size_t errn)
{
	const struct match *m = &ru->match;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->cgid = node_wide ? 0 : t->cgroup_id;
	if (m->ncidrs) {
		if (m->nports > NG_DENY_PORTS_MAX) {
			snprintf(err, errn, "the rule has %zu port ranges; a deny entry holds at most %d",
				 m->nports, NG_DENY_PORTS_MAX);
			return -E2BIG;
		}
		for (i = 0; i < m->ncidrs; i++) {
			if (p->n + 2 > DENY_ENTRIES_MAX) {
				snprintf(err, errn, "the rule has more than %d CIDRs", DENY_ENTRIES_MAX / 2);
				return -E2BIG;
			}
			p->cidrs[p->n++] = m->cidrs[i];
			/* as the rule matches it: also through a dual-stack socket */
			if (m->cidrs[i].family == AF_INET)
				p->cidrs[p->n++] = contain_v4mapped(&m->cidrs[i]);
		}
		memcpy(p->ports, m->ports, m->nports * sizeof(*m->ports));
		p->nports = m->nports;
		p->protocol = m->protocol;
		return 0;
	}
	/* no CIDRs in the rule: exactly the observed destination and port */
	if (!t->ev || (t->ev->hdr.kind != NG_EV_CONNECT && t->ev->hdr.kind != NG_EV_SENDMSG) ||
	    (t->ev->conn.family != AF_INET && t->ev->conn.family != AF_INET6)) {
		snprintf(err, errn, "deny needs a connect detection (a destination to refuse)");
		return -EINVAL;
	}
	p->cidrs[0].family = (uint8_t)t->ev->conn.family;
	p->cidrs[0].prefix = t->ev->conn.family == AF_INET ? 32 : 128;
	memcpy(p->cidrs[0].addr, t->ev->conn.daddr, t->ev->conn.family == AF_INET ? 4 : 16);
	p->n = 1;
	if (t->ev->conn.dport) {
		p->ports[0].lo = p->ports[0].hi = t->ev->conn.dport;
		p->nports = 1;
	}
	p->protocol = t->ev->conn.protocol == 6 || t->ev->conn.protocol == 17
			      ? (uint8_t)t->ev->conn.protocol : m->protocol;
	return 0;
}

void contain_deny_json(struct jsonw *w, const struct deny_plan *p)
{
	char b[64];
	size_t i, j;

	jsonw_kv_str(w, "protocol", p->protocol == 6 ? "tcp" : p->protocol == 17 ? "udp" : "any");
	jsonw_key(w, "entries");
	jsonw_arr_open(w);
	for (i = 0; i < p->n; i++) {
		jsonw_obj_open(w);
		netaddr_cidr_str(&p->cidrs[i], b, sizeof(b));
		jsonw_kv_str(w, "cidr", b);
		jsonw_key(w, "ports");
		jsonw_arr_open(w);
		for (j = 0; j < p->nports; j++) {
			if (p->ports[j].lo == p->ports[j].hi)
				snprintf(b, sizeof(b), "%u", p->ports[j].lo);
			else
				snprintf(b, sizeof(b), "%u-%u", p->ports[j].lo, p->ports[j].hi);
			jsonw_str_val(w, b);
		}
		jsonw_arr_close(w);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
}

int contain_deny(struct responder *r, const struct deny_plan *p, uint32_t rule_id, char *det,
		 size_t detn)
{
	char b[64];
	size_t i;
	int err = 0;

	if (!r->enf) {
		snprintf(det, detn, "no enforcer: network containment is unavailable on this node");
		return -ENOTSUP;
	}
	for (i = 0; i < p->n; i++) {
		err = enforcer_deny_add(r->enf, p->cgid, &p->cidrs[i], p->ports, p->nports,
					p->protocol, rule_id);
		if (err)
			break;
	}
	if (err) {
		netaddr_cidr_str(&p->cidrs[i], b, sizeof(b));
		snprintf(det, detn, "Failed to add deny entry %s: %s (entries added before it were "
			 "removed)", b, strerror(-err));
		while (i-- > 0)
			enforcer_deny_del(r->enf, p->cgid, &p->cidrs[i]);
		return err;
	}
	netaddr_cidr_str(&p->cidrs[0], b, sizeof(b));
	snprintf(det, detn, "%s: connects and UDP sends to %s%s refused (EPERM), %zu entr%s",
		 p->cgid ? "cgroup" : "node-wide", b, p->n > 1 ? " and more" : "", p->n,
		 p->n == 1 ? "y" : "ies");
	return 0;
}

int contain_isolate(struct responder *r, uint64_t cgid, const char *rel, uint32_t rule_id,
		    char *det, size_t detn)
{
	char d[PATH_MAX];
	size_t nallow = r->pol ? r->pol->settings.nisolate_allow : 0;
	int err;

	if (!r->enf) {
		snprintf(det, detn, "no enforcer: network containment is unavailable on this node");
		return -ENOTSUP;
	}
	cg_dir(r, rel, d, sizeof(d));
	err = enforcer_isolate(r->enf, cgid, d, rule_id);
	if (err) {
		snprintf(det, detn, "Failed to isolate %s: %s", d, strerror(-err));
		return err;
	}
	snprintf(det, detn, "isolated: new connects and UDP sends refused, established traffic "
		 "dropped; %s", nallow ? "loopback and the isolate_allow list pass" : "loopback passes");
	return 0;
}

int contain_freeze(struct responder *r, const char *rel, char *det, size_t detn)
{
	char d[PATH_MAX], p[PATH_MAX + 16];
	uint64_t deadline;
	int err, fd;

	cg_dir(r, rel, d, sizeof(d));
	err = contain_write_cg_file(d, "cgroup.freeze", "1");
	if (err) {
		snprintf(det, detn, "Failed to write 1 to %s/cgroup.freeze: %s", d, strerror(-err));
		return err;
	}
	/* cgroup.events signals a change with POLLPRI; poll it, bounded */
	snprintf(p, sizeof(p), "%s/cgroup.events", d);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	deadline = clock_boot_ns() + FREEZE_CONFIRM_MS * 1000000ull;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLPRI };
		uint64_t now;

		if (contain_cg_frozen_file(d, "cgroup.events", "1")) {
			if (fd >= 0)
				close(fd);
			snprintf(det, detn, "frozen (cgroup.events: frozen 1)");
			return 0;
		}
		now = clock_boot_ns();
		if (now >= deadline)
			break;
		if (fd >= 0)
			poll(&pfd, 1, 20);
		else
			usleep(20000);
	}
	if (fd >= 0)
		close(fd);
	/* not frozen in time: undo, so "failed" means nothing stays in effect */
	contain_write_cg_file(d, "cgroup.freeze", "0");
	snprintf(det, detn, "not frozen within %d ms (cgroup.events never said frozen 1); "
		 "cgroup.freeze set back to 0", FREEZE_CONFIRM_MS);
	return -ETIMEDOUT;
}

int contain_kill_container(struct responder *r, const char *rel, char *det, size_t detn)
{
	char d[PATH_MAX];
	int err;

	cg_dir(r, rel, d, sizeof(d));
	err = contain_write_cg_file(d, "cgroup.kill", "1");
	if (err) {
		snprintf(det, detn, "Failed to write 1 to %s/cgroup.kill: %s%s", d, strerror(-err),
			 err == -ENOENT ? " (cgroup.kill needs Linux >= 5.14)" : "");
		return err;
	}
	snprintf(det, detn, "cgroup.kill written: every process of the cgroup killed");
	return 0;
}

/* is pid still the process the detection saw? (checked after pidfd_open:
 * if it died since, the pidfd refers to the dead one and the signal fails) */
static bool same_process(const struct responder *r, const struct resp_target *t, char *why,
			 size_t n)
{
	char p[64], buf[4096];

	if (t->ctr && t->ctr->path[0] && !t->ctr->path_truncated) {
		char cur[PATH_MAX];

		snprintf(p, sizeof(p), "/proc/%u/cgroup", t->pid);
		/* gone (pidfd_send_signal will say so), or no cgroup v2 line */
		if (procfs_cgroup_path(p, cur, sizeof(cur)))
			return true;
		if (decide_path_contains(t->ctr->path, cur))
			return true;
		snprintf(why, n, "pid %u is no longer in cgroup %s", t->pid, t->ctr->path);
		return false;
	}
	if (t->ev && t->ev->comm[0]) {
		snprintf(p, sizeof(p), "/proc/%u/comm", t->pid);
		if (contain_read_file(p, buf, sizeof(buf)) < 0)
			return true;
		buf[strcspn(buf, "\n")] = '\0';
		if (strcmp(buf, t->ev->comm)) {
			snprintf(why, n, "pid %u is now \"%s\", not \"%s\"", t->pid, buf, t->ev->comm);
			return false;
		}
	}
	(void)r;
	return true;
}

int contain_kill_pid(struct responder *r, const struct resp_target *t, char *det, size_t detn)
{
	char why[256] = "";
	int fd, err;

	fd = (int)syscall(SYS_pidfd_open, (pid_t)t->pid, 0);
	if (fd < 0 && errno == ENOSYS) {
		/* no pidfd (Linux < 5.3, or valgrind): kill(2) right after the check */
		if (!same_process(r, t, why, sizeof(why))) {
			snprintf(det, detn, "not killed: %s (pid reused)", why);
			return -ESRCH;
		}
		if (kill((pid_t)t->pid, SIGKILL)) {
			err = -errno;
			snprintf(det, detn, "kill(%u, SIGKILL): %s", t->pid, strerror(-err));
			return err;
		}
		snprintf(det, detn, "killed pid %u from user space (kill(2) SIGKILL: no pidfd_open)",
			 t->pid);
		return 0;
	}
	if (fd < 0) {
		err = -errno;
		snprintf(det, detn, "pidfd_open(%u): %s%s", t->pid, strerror(errno),
			 err == -ESRCH ? " (the process had already exited)" : "");
		return err;
	}
	if (!same_process(r, t, why, sizeof(why))) {
		close(fd);
		snprintf(det, detn, "not killed: %s (pid reused)", why);
		return -ESRCH;
	}
	if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0)) {
		err = -errno;
		close(fd);
		snprintf(det, detn, "pidfd_send_signal(SIGKILL) to pid %u: %s%s", t->pid,
			 strerror(-err), err == -ESRCH ? " (the process had already exited)" : "");
		return err;
	}
	close(fd);
	snprintf(det, detn, "killed pid %u from user space (pidfd_send_signal SIGKILL)", t->pid);
	return 0;
}

/* ---------------------------------------------------------------- isolate_allow */

static int allow_collect(int fd, size_t ksz, struct cidr *out, size_t max, int family)
{
	unsigned char key[32], next[32];
	size_t n = 0;
	int err;

	for (err = bpf_map_get_next_key(fd, NULL, next); !err && n < max;
	     err = bpf_map_get_next_key(fd, key, next)) {
		uint64_t cg;

		memcpy(key, next, ksz);
		memcpy(&cg, key + 4, 8);
		if (cg)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].family = (uint8_t)family;
		{
			uint32_t pl;

			memcpy(&pl, key, 4);
			out[n].prefix = (uint8_t)(pl - 64);
		}
		memcpy(out[n].addr, key + 12, family == AF_INET ? 4 : 16);
		n++;
	}
	return (int)n;
}

/*
 * settings.isolate_allow -> node-wide allow entries (cgid 0), with the
 * v4-mapped twin of every IPv4 CIDR. Entries a previous policy (or a
 * previous agent) left in the pinned maps and this policy does not list are
 * removed: the pinned maps are read directly, as the enforcer has no
 * iterator for its allow tables.
 */
void contain_apply_allow(struct responder *r)
{
	const struct policy_settings *s = r->pol ? &r->pol->settings : NULL;
	struct cidr *want = NULL, *have = NULL;
	size_t nwant = 0, i, j, k;
	int nhave = 0, fd;
	char p[PATH_MAX];

	if (!r->enf || !s)
		return;
	want = calloc(2 * (s->nisolate_allow + 1), sizeof(*want));
	have = calloc(8192, sizeof(*have));
	if (!want || !have) {
		log_err("isolate_allow: out of memory");
		goto out;
	}
	for (i = 0; i < s->nisolate_allow; i++) {
		const struct cidr *c = &s->isolate_allow[i].cidr;
		struct port_range ports[ISOLATE_ALLOW_PORTS_MAX];
		size_t np = 0;
		bool all = false, seen = false;
		struct cidr m;
		int err;

		for (j = 0; j < nwant; j++)
			seen = seen || netaddr_cidr_eq(&want[j], c);
		if (seen)
			continue;
		for (j = i; j < s->nisolate_allow; j++) {
			const struct allow_net *x = &s->isolate_allow[j];

			if (!netaddr_cidr_eq(&x->cidr, c))
				continue;
			if (!x->port.lo)
				all = true;
			else if (np < ISOLATE_ALLOW_PORTS_MAX)
				ports[np++] = x->port;
		}
		want[nwant++] = *c;
		err = enforcer_allow_add(r->enf, 0, c, ports, all ? 0 : np, 0);
		if (!err && c->family == AF_INET) {
			m = contain_v4mapped(c);
			want[nwant++] = m;
			err = enforcer_allow_add(r->enf, 0, &m, ports, all ? 0 : np, 0);
		}
		if (err) {
			netaddr_cidr_str(c, p, sizeof(p));
			log_err("isolate_allow: Failed to add %s: %s", p, strerror(-err));
		}
	}
	/* what is pinned and no longer wanted */
	for (k = 0; k < 2; k++) {
		snprintf(p, sizeof(p), "%s/%s", enforcer_pin_dir(r->enf), k ? "ng_allow6" : "ng_allow4");
		fd = bpf_obj_get(p);
		if (fd < 0)
			continue;
		nhave = allow_collect(fd, k ? sizeof(struct ng_lpm6_key) : sizeof(struct ng_lpm4_key),
				      have, 8192, k ? AF_INET6 : AF_INET);
		close(fd);
		for (i = 0; i < (size_t)(nhave > 0 ? nhave : 0); i++) {
			bool keep = false;

			for (j = 0; j < nwant && !keep; j++)
				keep = netaddr_cidr_eq(&want[j], &have[i]);
			if (!keep) {
				netaddr_cidr_str(&have[i], p, sizeof(p));
				log_info("isolate_allow: %s is no longer in the policy: removed", p);
				enforcer_allow_del(r->enf, 0, &have[i]);
			}
		}
	}
	if (s->nisolate_allow)
		log_info("isolate_allow: %zu entries reachable from isolated containers", nwant);
out:
	free(want);
	free(have);
}
