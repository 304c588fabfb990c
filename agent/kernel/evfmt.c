// SPDX-License-Identifier: Apache-2.0
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "caps.h"
#include "clock.h"
#include "evfmt.h"
#include "textesc.h"
#include "nodeguard/enforce.h"

int64_t evfmt_boot_offset_ns(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
}

const char *evfmt_time(uint64_t boot_ns, int64_t offset_ns, char *buf, size_t n)
{
	int64_t ns = (int64_t)boot_ns + offset_ns;

	clock_rfc3339(ns > 0 ? (uint64_t)ns : 0, 9, buf, n);
	return buf;
}

static void creds_json(struct jsonw *w, const char *key, const struct ng_creds *c)
{
	char b[24];

	jsonw_key(w, key);
	jsonw_obj_open(w);
	jsonw_kv_u64(w, "uid", c->uid);
	jsonw_kv_u64(w, "euid", c->euid);
	jsonw_kv_u64(w, "suid", c->suid);
	jsonw_kv_u64(w, "fsuid", c->fsuid);
	jsonw_kv_u64(w, "gid", c->gid);
	jsonw_kv_u64(w, "egid", c->egid);
	jsonw_kv_u64(w, "sgid", c->sgid);
	jsonw_kv_u64(w, "fsgid", c->fsgid);
	snprintf(b, sizeof(b), "0x%016" PRIx64, (uint64_t)c->cap_eff);
	jsonw_kv_str(w, "cap_eff", b);
	snprintf(b, sizeof(b), "0x%016" PRIx64, (uint64_t)c->cap_prm);
	jsonw_kv_str(w, "cap_prm", b);
	snprintf(b, sizeof(b), "0x%016" PRIx64, (uint64_t)c->cap_inh);
	jsonw_kv_str(w, "cap_inh", b);
	jsonw_kv_u64(w, "ngroups", c->ngroups);
	jsonw_kv_u64(w, "userns", c->userns);
	jsonw_obj_close(w);
}

static void caps_list(struct jsonw *w, const char *key, uint64_t set)
{
	int i;

	jsonw_key(w, key);
	jsonw_arr_open(w);
	for (i = 0; i < 64; i++) {
		char tmp[16];

		if (!(set & (1ull << i)))
			continue;
		jsonw_str_val(w, caps_label(i, tmp));
	}
	jsonw_arr_close(w);
}

void evfmt_json_fields(struct jsonw *w, const struct ng_event *ev, int64_t offset_ns)
{
	const struct ng_hdr *h = &ev->hdr;
	char tb[48], ab[64], pb[8];
	uint32_t i;

	jsonw_kv_str(w, "kind", ng_kind_name(h->kind));
	jsonw_kv_str(w, "time", evfmt_time(h->ts_ns, offset_ns, tb, sizeof(tb)));
	jsonw_kv_u64(w, "ts_ns", h->ts_ns);
	jsonw_kv_u64(w, "pid", h->pid);
	jsonw_kv_u64(w, "tid", h->tid);
	jsonw_kv_u64(w, "ppid", h->ppid);
	jsonw_kv_u64(w, "nspid", h->nspid);
	jsonw_kv_bytes(w, "comm", ev->comm, strnlen(ev->comm, NG_COMM_LEN));
	jsonw_kv_u64(w, "uid", h->uid);
	jsonw_kv_u64(w, "gid", h->gid);
	jsonw_kv_u64(w, "euid", h->euid);
	jsonw_kv_u64(w, "egid", h->egid);
	jsonw_kv_u64(w, "cgroup_id", h->cgroup_id);
	jsonw_kv_u64(w, "pidns", h->pidns);
	jsonw_kv_u64(w, "mntns", h->mntns);
	jsonw_kv_u64(w, "netns", h->netns);
	jsonw_kv_bool(w, "container", h->flags & NG_HF_CONTAINER);

	switch (h->kind) {
	case NG_EV_EXEC: {
		uint32_t f = ev->exec.flags;

		jsonw_kv_bytes(w, "filename", ev->exec.filename, ev->exec.filename_len);
		jsonw_key(w, "argv");
		jsonw_arr_open(w);
		for (i = 0; i < ev->exec.nargs; i++)
			jsonw_bytes_val(w, ev->exec.args[i], ev->exec.arg_lens[i]);
		jsonw_arr_close(w);
		for (i = 0; i < ev->exec.nargs; i++)
			if (!utf8_valid(ev->exec.args[i], ev->exec.arg_lens[i]))
				break;
		if (i < ev->exec.nargs) {
			/* some argument is not UTF-8: keep every argument's exact bytes */
			jsonw_key(w, "argv_hex");
			jsonw_arr_open(w);
			for (i = 0; i < ev->exec.nargs; i++)
				jsonw_hex_val(w, ev->exec.args[i], ev->exec.arg_lens[i]);
			jsonw_arr_close(w);
		}
		jsonw_kv_u64(w, "argc", ev->exec.argc);
		jsonw_kv_bool(w, "argv_truncated", f & NG_EXEC_ARGV_TRUNC);
		jsonw_kv_bool(w, "argv_unreadable", f & NG_EXEC_ARGV_FAULT);
		jsonw_kv_bool(w, "filename_truncated", f & NG_EXEC_PATH_TRUNC);
		jsonw_kv_bool(w, "setuid", f & NG_EXEC_SETUID);
		jsonw_kv_bool(w, "setgid", f & NG_EXEC_SETGID);
		jsonw_kv_bool(w, "secure_exec", f & NG_EXEC_SECURE);
		jsonw_kv_bool(w, "caps_gained", f & NG_EXEC_CAPS_GAINED);
		jsonw_kv_bool(w, "tty", f & NG_EXEC_TTY);
		jsonw_kv_bool(w, "stdin_socket", f & NG_EXEC_STDIN_SOCK);
		jsonw_kv_bool(w, "stdout_socket", f & NG_EXEC_STDOUT_SOCK);
		jsonw_kv_bool(w, "stderr_socket", f & NG_EXEC_STDERR_SOCK);
		jsonw_kv_bool(w, "exe_unlinked", f & NG_EXEC_ANON_FILE);
		jsonw_kv_bool(w, "exe_memfd", f & NG_EXEC_MEMFD);
		jsonw_kv_u64(w, "exe_ino", ev->exec.exe_ino);
		jsonw_kv_u64(w, "exe_dev", ev->exec.exe_dev);
		creds_json(w, "creds", &ev->exec.cur);
		if (f & NG_EXEC_OLD_KNOWN) {
			creds_json(w, "old_creds", &ev->exec.old);
			caps_list(w, "caps_gained_names",
				  ev->exec.cur.cap_prm & ~ev->exec.old.cap_prm);
		} else {
			jsonw_key(w, "old_creds");
			jsonw_null_val(w);
		}
		break;
	}
	case NG_EV_FORK:
		jsonw_kv_u64(w, "child_pid", ev->fork.child_pid);
		jsonw_kv_u64(w, "child_tid", ev->fork.child_tid);
		break;
	case NG_EV_EXIT:
		jsonw_kv_i64(w, "exit_code", ev->exit.exit_code);
		jsonw_kv_u64(w, "exit_status", (ev->exit.exit_code >> 8) & 0xff);
		jsonw_kv_u64(w, "exit_signal", ev->exit.exit_code & 0x7f);
		jsonw_kv_u64(w, "start_ns", ev->exit.start_ns);
		break;
	case NG_EV_CRED:
		jsonw_kv_str(w, "op", ng_cred_op_name(ev->cred.op));
		jsonw_kv_i64(w, "ret", ev->cred.ret);
		jsonw_key(w, "args");
		jsonw_arr_open(w);
		for (i = 0; i < 3; i++)
			jsonw_i64_val(w, ev->cred.args[i]);
		jsonw_arr_close(w);
		creds_json(w, "old", &ev->cred.old);
		creds_json(w, "new", &ev->cred.cur);
		caps_list(w, "caps_gained_names", ev->cred.cur.cap_prm & ~ev->cred.old.cap_prm);
		break;
	case NG_EV_ANOMALY: {
		char rb[128];

		jsonw_kv_str(w, "reasons", ng_anomaly_reasons(ev->anomaly.reasons, rb, sizeof(rb)));
		jsonw_kv_str(w, "hook", ng_kind_name(ev->anomaly.hook));
		creds_json(w, "old", &ev->anomaly.old);
		creds_json(w, "new", &ev->anomaly.cur);
		jsonw_kv_u64(w, "old_mntns", ev->anomaly.old_mntns);
		jsonw_kv_u64(w, "new_mntns", ev->anomaly.cur_mntns);
		jsonw_kv_u64(w, "old_netns", ev->anomaly.old_netns);
		jsonw_kv_u64(w, "new_netns", ev->anomaly.cur_netns);
		caps_list(w, "caps_gained_names",
			  (ev->anomaly.cur.cap_eff | ev->anomaly.cur.cap_prm) &
				  ~(ev->anomaly.old.cap_eff | ev->anomaly.old.cap_prm));
		break;
	}
	case NG_EV_ENFORCE: {
		uint32_t f = ev->enforce.flags;

		jsonw_kv_str(w, "action", ng_enf_action_name(ev->enforce.action));
		jsonw_kv_u64(w, "rule_id", ev->enforce.rule_id);
		jsonw_kv_str(w, "hook", ng_kind_name(ev->enforce.hook));
		jsonw_kv_bool(w, "dry_run", f & NG_ENF_DRY_RUN);
		jsonw_kv_bool(w, "suppressed", f & NG_ENF_SUPPRESSED);
		jsonw_kv_bool(w, "protected", f & NG_ENF_PROTECTED);
		jsonw_kv_bool(w, "failed", f & NG_ENF_FAILED);
		jsonw_kv_i64(w, "err", ev->enforce.err);
		jsonw_kv_u64(w, "target_cgroup", ev->enforce.target_cgroup);
		if (ev->enforce.family) {
			jsonw_kv_str(w, "daddr", ng_addr_str(ev->enforce.family, ev->enforce.daddr, ab, sizeof(ab)));
			jsonw_kv_u64(w, "dport", ev->enforce.dport);
			jsonw_kv_str(w, "protocol", ng_proto_name(ev->enforce.protocol, pb, sizeof(pb)));
		}
		break;
	}
	case NG_EV_CONNECT:
	case NG_EV_SENDMSG:
		jsonw_kv_str(w, "family", ev->conn.family == AF_INET ? "ipv4" : "ipv6");
		jsonw_kv_str(w, "protocol", ng_proto_name(ev->conn.protocol, pb, sizeof(pb)));
		jsonw_kv_str(w, "daddr", ng_addr_str(ev->conn.family, ev->conn.daddr, ab, sizeof(ab)));
		jsonw_kv_u64(w, "dport", ev->conn.dport);
		jsonw_kv_str(w, "saddr", ng_addr_str(ev->conn.family, ev->conn.saddr, ab, sizeof(ab)));
		jsonw_kv_u64(w, "sport", ev->conn.sport);
		break;
	}
}

void evfmt_json(struct jsonw *w, const struct ng_event *ev, int64_t offset_ns)
{
	jsonw_obj_open(w);
	evfmt_json_fields(w, ev, offset_ns);
	jsonw_obj_close(w);
}

const char *evfmt_term_escape(const char *s, size_t n, char *buf, size_t bufsz)
{
	return textesc_term(s, n, buf, bufsz);
}

void evfmt_text(FILE *out, const struct ng_event *ev, int64_t offset_ns)
{
	const struct ng_hdr *h = &ev->hdr;
	char tb[48], eb[NG_ARGV_MAX * 4 + 16], ab[64], ab2[64], pb[8];
	uint32_t i;

	evfmt_time(h->ts_ns, offset_ns, tb, sizeof(tb));
	fprintf(out, "%s %-7s pid=%u ppid=%u uid=%u euid=%u cg=%llu %s comm=%s", tb,
		ng_kind_name(h->kind), h->pid, h->ppid, h->uid, h->euid,
		(unsigned long long)h->cgroup_id, h->flags & NG_HF_CONTAINER ? "ctr" : "host",
		evfmt_term_escape(ev->comm, strnlen(ev->comm, NG_COMM_LEN), eb, sizeof(eb)));
	switch (h->kind) {
	case NG_EV_EXEC:
		fprintf(out, " file=%s argv=[",
			evfmt_term_escape(ev->exec.filename, ev->exec.filename_len, eb, sizeof(eb)));
		for (i = 0; i < ev->exec.nargs; i++)
			fprintf(out, "%s\"%s\"", i ? " " : "",
				evfmt_term_escape(ev->exec.args[i], ev->exec.arg_lens[i], eb, sizeof(eb)));
		fprintf(out, "]%s%s%s%s%s", ev->exec.flags & NG_EXEC_ARGV_TRUNC ? "..." : "",
			ev->exec.flags & NG_EXEC_SETUID ? " setuid" : "",
			ev->exec.flags & NG_EXEC_CAPS_GAINED ? " caps-gained" : "",
			ev->exec.flags & NG_EXEC_TTY ? " tty" : "",
			ev->exec.flags & (NG_EXEC_STDIN_SOCK | NG_EXEC_STDOUT_SOCK) ? " socket-stdio" : "");
		break;
	case NG_EV_FORK:
		fprintf(out, " child=%u", ev->fork.child_pid);
		break;
	case NG_EV_EXIT:
		fprintf(out, " status=%d signal=%d", (ev->exit.exit_code >> 8) & 0xff,
			ev->exit.exit_code & 0x7f);
		break;
	case NG_EV_CRED:
		fprintf(out, " %s(%lld,%lld,%lld)=%lld uid %u->%u euid %u->%u gid %u->%u cap_eff %#llx->%#llx",
			ng_cred_op_name(ev->cred.op), (long long)ev->cred.args[0],
			(long long)ev->cred.args[1], (long long)ev->cred.args[2],
			(long long)ev->cred.ret, ev->cred.old.uid, ev->cred.cur.uid,
			ev->cred.old.euid, ev->cred.cur.euid, ev->cred.old.gid, ev->cred.cur.gid,
			(unsigned long long)ev->cred.old.cap_eff,
			(unsigned long long)ev->cred.cur.cap_eff);
		break;
	case NG_EV_ANOMALY:
		/* all reasons need more than ab's 64 bytes; eb is free again here */
		fprintf(out, " UNEXPLAINED %s at %s: uid %u->%u euid %u->%u cap_eff %#llx->%#llx mntns %u->%u",
			ng_anomaly_reasons(ev->anomaly.reasons, eb, sizeof(eb)),
			ng_kind_name(ev->anomaly.hook), ev->anomaly.old.uid, ev->anomaly.cur.uid,
			ev->anomaly.old.euid, ev->anomaly.cur.euid,
			(unsigned long long)ev->anomaly.old.cap_eff,
			(unsigned long long)ev->anomaly.cur.cap_eff, ev->anomaly.old_mntns,
			ev->anomaly.cur_mntns);
		break;
	case NG_EV_CONNECT:
	case NG_EV_SENDMSG:
		fprintf(out, " %s %s:%u -> %s:%u", ng_proto_name(ev->conn.protocol, pb, sizeof(pb)),
			ng_addr_str(ev->conn.family, ev->conn.saddr, ab2, sizeof(ab2)), ev->conn.sport,
			ng_addr_str(ev->conn.family, ev->conn.daddr, ab, sizeof(ab)), ev->conn.dport);
		break;
	}
	fputc('\n', out);
}
