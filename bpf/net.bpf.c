// SPDX-License-Identifier: GPL-2.0-only
/*
 * Network sensors: connect(2) and unconnected UDP sends, attached to the
 * cgroup v2 root so every task on the node passes through them. They only
 * observe: every program returns 1 (allow).
 */
#include "task.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* tunables, set by the loader before load; the headers below read them */
const volatile struct ng_bpf_config ng_cfg = {};

#include "state.bpf.h"

#define AF_INET 2
#define AF_INET6 10

static __always_inline int report(struct bpf_sock_addr *ctx, __u16 kind, int v6)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct bpf_sock *sk;
	struct ng_conn *e;
	struct ng_hdr h;

	ng_task_check(t, kind);
	if (ng_hdr_fill(&h, t, kind))
		return 1;
	e = ng_reserve_hdr(&h, kind, sizeof(*e));
	if (!e)
		return 1;
	e->protocol = ctx->protocol;
	e->sock_type = ctx->type;
	e->dport = bpf_ntohs((__u16)ctx->user_port);
	e->sport = 0;
	e->_pad0 = 0;
	e->verdict = 1;
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	sk = ctx->sk;
	if (!v6) {
		__u32 d = ctx->user_ip4;

		e->family = AF_INET;
		__builtin_memcpy(e->daddr, &d, 4);
		if (kind == NG_EV_SENDMSG) {
			__u32 s = ctx->msg_src_ip4;

			__builtin_memcpy(e->saddr, &s, 4);
		} else if (sk) {
			__u32 s = sk->src_ip4;

			__builtin_memcpy(e->saddr, &s, 4);
			e->sport = sk->src_port;
		}
	} else {
		__u32 d[4];

		e->family = AF_INET6;
		d[0] = ctx->user_ip6[0];
		d[1] = ctx->user_ip6[1];
		d[2] = ctx->user_ip6[2];
		d[3] = ctx->user_ip6[3];
		__builtin_memcpy(e->daddr, d, 16);
		if (kind == NG_EV_SENDMSG) {
			d[0] = ctx->msg_src_ip6[0];
			d[1] = ctx->msg_src_ip6[1];
			d[2] = ctx->msg_src_ip6[2];
			d[3] = ctx->msg_src_ip6[3];
			__builtin_memcpy(e->saddr, d, 16);
		} else if (sk) {
			d[0] = sk->src_ip6[0];
			d[1] = sk->src_ip6[1];
			d[2] = sk->src_ip6[2];
			d[3] = sk->src_ip6[3];
			__builtin_memcpy(e->saddr, d, 16);
			e->sport = sk->src_port;
		}
	}
	bpf_ringbuf_submit(e, ng_rb_flags());
	ng_count(kind, 0);
	return 1;
}

SEC("cgroup/connect4")
int ng_connect4(struct bpf_sock_addr *ctx)
{
	return report(ctx, NG_EV_CONNECT, 0);
}

SEC("cgroup/connect6")
int ng_connect6(struct bpf_sock_addr *ctx)
{
	return report(ctx, NG_EV_CONNECT, 1);
}

SEC("cgroup/sendmsg4")
int ng_sendmsg4(struct bpf_sock_addr *ctx)
{
	return report(ctx, NG_EV_SENDMSG, 0);
}

SEC("cgroup/sendmsg6")
int ng_sendmsg6(struct bpf_sock_addr *ctx)
{
	return report(ctx, NG_EV_SENDMSG, 1);
}
