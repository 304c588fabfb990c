// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "decode.h"
#include "nodeguard/credcheck.h"
#include "nodeguard/enforce.h"

static const char *const kind_names[NG_EV_KIND_MAX] = {
	[NG_EV_EXEC] = "exec",       [NG_EV_FORK] = "fork",
	[NG_EV_EXIT] = "exit",       [NG_EV_CRED] = "cred",
	[NG_EV_CONNECT] = "connect", [NG_EV_SENDMSG] = "sendmsg",
	[NG_EV_ANOMALY] = "anomaly", [NG_EV_ENFORCE] = "enforce",
};

const char *ng_enf_action_name(unsigned action)
{
	switch (action) {
	case NG_ENF_KILL: return "kill";
	case NG_ENF_DENY: return "deny";
	case NG_ENF_ISOLATE: return "isolate";
	}
	return "unknown";
}

static const char *const op_names[NG_CRED_OP_MAX] = {
	[NG_CRED_SETUID] = "setuid",       [NG_CRED_SETGID] = "setgid",
	[NG_CRED_SETREUID] = "setreuid",   [NG_CRED_SETREGID] = "setregid",
	[NG_CRED_SETRESUID] = "setresuid", [NG_CRED_SETRESGID] = "setresgid",
	[NG_CRED_SETFSUID] = "setfsuid",   [NG_CRED_SETFSGID] = "setfsgid",
	[NG_CRED_SETGROUPS] = "setgroups", [NG_CRED_CAPSET] = "capset",
};

const char *ng_kind_name(unsigned kind)
{
	return kind < NG_EV_KIND_MAX && kind_names[kind] ? kind_names[kind] : "unknown";
}

const char *ng_cred_op_name(unsigned op)
{
	return op < NG_CRED_OP_MAX && op_names[op] ? op_names[op] : "unknown";
}

const char *ng_anomaly_reasons(uint32_t r, char *buf, size_t n)
{
	static const char *const names[] = { "euid_root", "fsuid_root", "uid_root", "caps_gained",
					      "ids_changed", "host_mntns", "host_netns",
					      "baseline_from_proc" };
	size_t off = 0, i;

	if (n)
		buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int w;

		if (!(r & (1u << i)))
			continue;
		w = snprintf(buf + off, n - off, "%s%s", off ? "," : "", names[i]);
		if (w < 0 || (size_t)w >= n - off) {
			if (n)
				buf[off] = '\0'; /* whole names only */
			break;
		}
		off += (size_t)w;
	}
	return buf;
}

const char *ng_proto_name(unsigned proto, char *buf, size_t n)
{
	switch (proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	case 136: return "udplite";
	}
	snprintf(buf, n, "%u", proto);
	return buf;
}

const char *ng_addr_str(unsigned family, const uint8_t addr[16], char *buf, size_t n)
{
	int af = family == AF_INET ? AF_INET : family == AF_INET6 ? AF_INET6 : -1;

	if (af < 0 || !inet_ntop(af, addr, buf, (socklen_t)n))
		buf[0] = '\0';
	return buf;
}

/* terminated: argv[argv_len] was the last argument's NUL, so an argument
 * (perhaps empty) ends at argv_len */
static void split_args(struct ng_event *ev, bool terminated)
{
	size_t i = 0, start = 0, n = ev->exec.argv_len;

	ev->exec.nargs = 0;
	while ((start < n || (terminated && start == n)) && ev->exec.nargs < NG_MAX_ARGS) {
		for (i = start; i < n && ev->exec.argv[i]; i++)
			;
		ev->exec.args[ev->exec.nargs] = ev->exec.argv + start;
		ev->exec.arg_lens[ev->exec.nargs] = i - start;
		ev->exec.nargs++;
		start = i + 1;
	}
}

int ng_decode(const void *data, size_t len, struct ng_event *ev)
{
	const struct ng_hdr *h = data;

	if (!data || len < sizeof(*h))
		return -EBADMSG;
	if (h->size > len || h->size < sizeof(*h))
		return -EBADMSG;
	len = h->size;
	memcpy(&ev->hdr, h, sizeof(*h));
	memcpy(ev->comm, h->comm, NG_COMM_LEN);
	ev->comm[NG_COMM_LEN] = '\0';

	switch (h->kind) {
	case NG_EV_EXEC: {
		const struct ng_exec *e = data;
		bool terminated;

		if (len < NG_EXEC_FIXED_SIZE)
			return -EBADMSG;
		if (e->filename_len > NG_PATH_MAX || e->argv_len > NG_ARGV_MAX ||
		    NG_EXEC_FIXED_SIZE + (size_t)e->filename_len + e->argv_len > len)
			return -EBADMSG;
		ev->exec.old = e->old;
		ev->exec.cur = e->cur;
		ev->exec.flags = e->eflags;
		ev->exec.argc = e->argc;
		ev->exec.argv_full = e->argv_full;
		ev->exec.exe_ino = e->exe_ino;
		ev->exec.exe_dev = e->exe_dev;
		ev->exec.filename_len = e->filename_len;
		memcpy(ev->exec.filename, e->data, e->filename_len);
		ev->exec.filename[e->filename_len] = '\0';
		ev->exec.argv_len = e->argv_len;
		memcpy(ev->exec.argv, e->data + e->filename_len, e->argv_len);
		ev->exec.argv[e->argv_len] = '\0';
		/* argv from memory ends with a NUL; don't count it as an empty arg */
		terminated = ev->exec.argv_len && ev->exec.argv[ev->exec.argv_len - 1] == '\0' &&
			     !(e->eflags & NG_EXEC_ARGV_TRUNC);
		if (terminated)
			ev->exec.argv_len--;
		split_args(ev, terminated);
		return 0;
	}
	case NG_EV_FORK: {
		const struct ng_fork *e = data;

		if (len < sizeof(*e))
			return -EBADMSG;
		ev->fork.child_pid = e->child_pid;
		ev->fork.child_tid = e->child_tid;
		return 0;
	}
	case NG_EV_EXIT: {
		const struct ng_exit *e = data;

		if (len < sizeof(*e))
			return -EBADMSG;
		ev->exit.exit_code = e->exit_code;
		ev->exit.start_ns = e->start_ns;
		return 0;
	}
	case NG_EV_CRED: {
		const struct ng_cred *e = data;

		if (len < sizeof(*e) || e->op == 0 || e->op >= NG_CRED_OP_MAX)
			return -EBADMSG;
		ev->cred.old = e->old;
		ev->cred.cur = e->cur;
		ev->cred.op = e->op;
		ev->cred.ret = e->ret;
		memcpy(ev->cred.args, e->args, sizeof(e->args));
		return 0;
	}
	case NG_EV_ANOMALY: {
		const struct ng_anomaly *e = data;

		if (len < sizeof(*e) || !e->reasons)
			return -EBADMSG;
		ev->anomaly.reasons = e->reasons;
		ev->anomaly.hook = e->hook;
		ev->anomaly.old = e->old;
		ev->anomaly.cur = e->cur;
		ev->anomaly.old_mntns = e->old_mntns;
		ev->anomaly.old_netns = e->old_netns;
		ev->anomaly.cur_mntns = e->cur_mntns;
		ev->anomaly.cur_netns = e->cur_netns;
		return 0;
	}
	case NG_EV_ENFORCE: {
		const struct ng_enforce *e = data;

		if (len < sizeof(*e) || e->action < NG_ENF_KILL || e->action > NG_ENF_ISOLATE)
			return -EBADMSG;
		ev->enforce.action = e->action;
		ev->enforce.rule_id = e->rule_id;
		ev->enforce.hook = e->hook;
		ev->enforce.flags = e->flags;
		ev->enforce.err = e->err;
		ev->enforce.family = e->family;
		ev->enforce.protocol = e->protocol;
		ev->enforce.dport = e->dport;
		ev->enforce.target_cgroup = e->target_cgroup;
		memcpy(ev->enforce.daddr, e->daddr, 16);
		return 0;
	}
	case NG_EV_CONNECT:
	case NG_EV_SENDMSG: {
		const struct ng_conn *e = data;

		if (len < sizeof(*e))
			return -EBADMSG;
		if (e->family != AF_INET && e->family != AF_INET6)
			return -EBADMSG;
		ev->conn.family = e->family;
		ev->conn.protocol = e->protocol;
		ev->conn.sock_type = e->sock_type;
		ev->conn.dport = e->dport;
		ev->conn.sport = e->sport;
		ev->conn.verdict = e->verdict;
		memcpy(ev->conn.daddr, e->daddr, 16);
		memcpy(ev->conn.saddr, e->saddr, 16);
		return 0;
	}
	}
	return -EBADMSG;
}
