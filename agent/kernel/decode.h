/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Raw ring-buffer records -> struct ng_event.
 *
 * The decoder is the only place that trusts nothing about a record: it checks
 * kind, declared size against the received size, and every tail length
 * against the bytes present. A malformed record yields -EBADMSG, never a read
 * past the buffer.
 */
#ifndef NODEGUARD_DECODE_H
#define NODEGUARD_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "nodeguard/event.h"

#define NG_MAX_ARGS 128

struct ng_event {
	struct ng_hdr hdr;
	char comm[NG_COMM_LEN + 1];
	union {
		struct {
			struct ng_creds old;
			struct ng_creds cur;
			uint32_t flags;
			uint32_t argc;        /* as the kernel counted */
			uint32_t argv_full;   /* bytes of argv in the process */
			uint64_t exe_ino;
			uint32_t exe_dev;
			size_t filename_len;
			char filename[NG_PATH_MAX + 1];
			size_t argv_len;      /* bytes in argv[] (NUL separated) */
			char argv[NG_ARGV_MAX + 1];
			uint32_t nargs;       /* args decoded into args[] */
			const char *args[NG_MAX_ARGS];
			size_t arg_lens[NG_MAX_ARGS];
		} exec;
		struct {
			uint32_t child_pid, child_tid;
		} fork;
		struct {
			int32_t exit_code;
			uint64_t start_ns;
		} exit;
		struct {
			struct ng_creds old;
			struct ng_creds cur;
			uint32_t op;
			int64_t ret;
			int64_t args[3];
		} cred;
		struct {
			uint32_t reasons;
			uint32_t hook;
			struct ng_creds old, cur;
			uint32_t old_mntns, old_netns, cur_mntns, cur_netns;
		} anomaly;
		struct {
			uint32_t action, rule_id, hook, flags;
			int32_t err;
			uint16_t family, protocol, dport;
			uint64_t target_cgroup;
			uint8_t daddr[16];
		} enforce;
		struct {
			uint16_t family, protocol, sock_type, dport, sport;
			uint8_t daddr[16], saddr[16];
			uint32_t verdict;
		} conn;
	};
};

/* decode one record; 0 or -EBADMSG */
int ng_decode(const void *data, size_t len, struct ng_event *ev);

const char *ng_kind_name(unsigned kind);
/* "kill", "deny", "isolate" */
const char *ng_enf_action_name(unsigned action);
const char *ng_cred_op_name(unsigned op);
/* "euid_root,caps_gained" for NG_AN_* bits */
const char *ng_anomaly_reasons(uint32_t reasons, char *buf, size_t n);
/* "tcp", "udp", or the number */
const char *ng_proto_name(unsigned proto, char *buf, size_t n);
/* printable address (inet_ntop), "" for an unknown family */
const char *ng_addr_str(unsigned family, const uint8_t addr[16], char *buf, size_t n);

#endif
