// SPDX-License-Identifier: GPL-2.0-only
/*
 * Network enforcement: deny tables and container isolation.
 *
 * connect4/6 and sendmsg4/6 run on the cgroup v2 root and refuse (EPERM)
 * connects and UDP sends of isolated containers (loopback and the allow-list
 * excepted) and to denied destinations. cgroup_skb ingress/egress are attached
 * only to isolated containers' cgroups, so an established connection dies too
 * while nothing else on the node pays for a per-packet check.
 *
 * Every map and link here is pinned under /sys/fs/bpf/nodeguard by the
 * loader: containment outlives the agent. Of the shared headers this object
 * includes only task.bpf.h (no maps, no configuration) on purpose: it must
 * not allocate the sensors' maps.
 */
#include "task.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define NG_MAX_CG_LEVEL 16

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct ng_isolation);
} ng_isolated SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ng_lpm4_key);
	__type(value, struct ng_deny_val);
} ng_deny4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ng_lpm6_key);
	__type(value, struct ng_deny_val);
} ng_deny6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ng_lpm4_key);
	__type(value, struct ng_deny_val);
} ng_allow4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ng_lpm6_key);
	__type(value, struct ng_deny_val);
} ng_allow6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ng_enf_state);
} ng_enf_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} ng_enf_events SEC(".maps");

/* the host's namespaces, to tell containers apart (NG_CG_ANY_CONTAINER) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ng_enf_host);
} ng_enf_host SEC(".maps");

/* cgroups "every container" deny entries never apply to (the agent's own,
 * protected namespaces') */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} ng_enf_exempt SEC(".maps");

/* [0] events emitted, [1] events dropped (ring buffer full) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} ng_enf_counters SEC(".maps");

static __always_inline void count(__u32 k)
{
	__u64 *c = bpf_map_lookup_elem(&ng_enf_counters, &k);

	if (c)
		(*c)++;
}

static __always_inline void cg_bytes(__u8 *dst, __u64 cg)
{
	__builtin_memcpy(dst, &cg, 8);
}

static __always_inline int ports_ok(const struct ng_deny_val *v, __u16 port, __u16 proto)
{
	int i;

	if (v->protocol && v->protocol != proto)
		return 0;
	if (!v->nports)
		return 1;
	for (i = 0; i < NG_DENY_PORTS_MAX; i++) {
		if (i >= v->nports)
			break;
		if (port >= v->lo[i] && port <= v->hi[i])
			return 1;
	}
	return 0;
}

static __always_inline struct ng_deny_val *lpm4(void *map, __u64 cg, __u32 addr)
{
	struct ng_lpm4_key k = { .prefixlen = 64 + 32 };

	cg_bytes(k.cg, cg);
	__builtin_memcpy(k.addr, &addr, 4);
	return bpf_map_lookup_elem(map, &k);
}

static __always_inline struct ng_deny_val *lpm6(void *map, __u64 cg, const __u32 *addr)
{
	struct ng_lpm6_key k = { .prefixlen = 64 + 128 };

	cg_bytes(k.cg, cg);
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(map, &k);
}

/* the nearest ancestor (or self) of the current task's cgroup that is isolated */
static __always_inline __u64 isolated_cgroup(struct ng_isolation **iso)
{
	int lvl;

	for (lvl = NG_MAX_CG_LEVEL; lvl >= 1; lvl--) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(lvl);

		if (!id)
			continue;
		*iso = bpf_map_lookup_elem(&ng_isolated, &id);
		if (*iso)
			return id;
	}
	return 0;
}

/* is the current task in a container, and not in an exempt cgroup? */
static __always_inline int any_container_applies(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 zero = 0, pidns, nspid, mntns;
	struct ng_enf_host *h = bpf_map_lookup_elem(&ng_enf_host, &zero);
	int lvl;

	if (!h || !h->pidns || !h->mntns)
		return 0; /* the host is unknown: never guess */
	ng_task_pidns(t, &pidns, &nspid);
	mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	if (pidns == h->pidns && (!mntns || mntns == h->mntns))
		return 0;
	for (lvl = NG_MAX_CG_LEVEL; lvl >= 1; lvl--) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(lvl);

		if (id && bpf_map_lookup_elem(&ng_enf_exempt, &id))
			return 0;
	}
	return 1;
}

static __always_inline void emit(__u32 action, __u32 rule_id, __u32 hook, __u64 target,
				 __u16 family, __u16 proto, __u16 dport, const void *daddr)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct ng_enforce *e = bpf_ringbuf_reserve(&ng_enf_events, sizeof(*e), 0);

	if (!e) {
		count(1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	/* the pid namespace and the pid in it stay 0 in the enforcer's records */
	ng_hdr_task(&e->hdr, t, NG_EV_ENFORCE, 0, 0, BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum));
	e->hdr.size = sizeof(*e);
	e->hdr.flags = NG_HF_CONTAINER;
	e->action = action;
	e->rule_id = rule_id;
	e->hook = hook;
	e->target_cgroup = target;
	e->family = family;
	e->protocol = proto;
	e->dport = dport;
	if (family == AF_INET)
		__builtin_memcpy(e->daddr, daddr, 4);
	else
		__builtin_memcpy(e->daddr, daddr, 16);
	bpf_ringbuf_submit(e, 0);
	count(0);
}

static __always_inline int check4(struct bpf_sock_addr *ctx, __u32 hook)
{
	__u32 zero = 0, daddr = ctx->user_ip4;
	__u16 dport = bpf_ntohs((__u16)ctx->user_port), proto = ctx->protocol;
	struct ng_enf_state *st = bpf_map_lookup_elem(&ng_enf_state, &zero);
	struct ng_isolation *iso = NULL;
	struct ng_deny_val *v;
	__u64 cg;
	int lvl;

	if (!st || (!st->n_isolated && !st->n_deny))
		return 1;
	if (st->n_isolated && (cg = isolated_cgroup(&iso)) && iso) {
		/* loopback stays: it never leaves the container's own netns */
		if ((bpf_ntohl(daddr) >> 24) == 127)
			return 1;
		v = lpm4(&ng_allow4, cg, daddr);
		if (!v)
			v = lpm4(&ng_allow4, 0, daddr);
		if (v && ports_ok(v, dport, proto))
			return 1;
		__sync_fetch_and_add(&iso->denied_connects, 1);
		emit(NG_ENF_ISOLATE, iso->rule_id, hook, cg, AF_INET, proto, dport, &daddr);
		return 0;
	}
	if (!st->n_deny)
		return 1;
	for (lvl = NG_MAX_CG_LEVEL; lvl >= 0; lvl--) {
		cg = lvl ? bpf_get_current_ancestor_cgroup_id(lvl) : 0;
		if (lvl && !cg)
			continue;
		v = lpm4(&ng_deny4, cg, daddr);
		if (v && ports_ok(v, dport, proto)) {
			emit(NG_ENF_DENY, v->rule_id, hook, cg, AF_INET, proto, dport, &daddr);
			return 0;
		}
	}
	v = lpm4(&ng_deny4, NG_CG_ANY_CONTAINER, daddr);
	if (v && ports_ok(v, dport, proto) && any_container_applies()) {
		emit(NG_ENF_DENY, v->rule_id, hook, bpf_get_current_cgroup_id(), AF_INET, proto, dport,
		     &daddr);
		return 0;
	}
	return 1;
}

static __always_inline int check6(struct bpf_sock_addr *ctx, __u32 hook)
{
	__u32 zero = 0, daddr[4];
	__u16 dport = bpf_ntohs((__u16)ctx->user_port), proto = ctx->protocol;
	struct ng_enf_state *st = bpf_map_lookup_elem(&ng_enf_state, &zero);
	struct ng_isolation *iso = NULL;
	struct ng_deny_val *v;
	__u64 cg;
	int lvl;

	if (!st || (!st->n_isolated && !st->n_deny))
		return 1;
	daddr[0] = ctx->user_ip6[0];
	daddr[1] = ctx->user_ip6[1];
	daddr[2] = ctx->user_ip6[2];
	daddr[3] = ctx->user_ip6[3];
	if (st->n_isolated && (cg = isolated_cgroup(&iso)) && iso) {
		if (!daddr[0] && !daddr[1] && !daddr[2] && daddr[3] == bpf_htonl(1))
			return 1; /* ::1 */
		if (!daddr[0] && !daddr[1] && daddr[2] == bpf_htonl(0xffff) &&
		    (bpf_ntohl(daddr[3]) >> 24) == 127)
			return 1; /* ::ffff:127.x */
		v = lpm6(&ng_allow6, cg, daddr);
		if (!v)
			v = lpm6(&ng_allow6, 0, daddr);
		if (v && ports_ok(v, dport, proto))
			return 1;
		__sync_fetch_and_add(&iso->denied_connects, 1);
		emit(NG_ENF_ISOLATE, iso->rule_id, hook, cg, AF_INET6, proto, dport, daddr);
		return 0;
	}
	if (!st->n_deny)
		return 1;
	for (lvl = NG_MAX_CG_LEVEL; lvl >= 0; lvl--) {
		cg = lvl ? bpf_get_current_ancestor_cgroup_id(lvl) : 0;
		if (lvl && !cg)
			continue;
		v = lpm6(&ng_deny6, cg, daddr);
		if (v && ports_ok(v, dport, proto)) {
			emit(NG_ENF_DENY, v->rule_id, hook, cg, AF_INET6, proto, dport, daddr);
			return 0;
		}
	}
	v = lpm6(&ng_deny6, NG_CG_ANY_CONTAINER, daddr);
	if (v && ports_ok(v, dport, proto) && any_container_applies()) {
		emit(NG_ENF_DENY, v->rule_id, hook, bpf_get_current_cgroup_id(), AF_INET6, proto, dport,
		     daddr);
		return 0;
	}
	return 1;
}

SEC("cgroup/connect4")
int ng_enf_connect4(struct bpf_sock_addr *ctx)
{
	return check4(ctx, NG_EV_CONNECT);
}

SEC("cgroup/connect6")
int ng_enf_connect6(struct bpf_sock_addr *ctx)
{
	return check6(ctx, NG_EV_CONNECT);
}

SEC("cgroup/sendmsg4")
int ng_enf_sendmsg4(struct bpf_sock_addr *ctx)
{
	return check4(ctx, NG_EV_SENDMSG);
}

SEC("cgroup/sendmsg6")
int ng_enf_sendmsg6(struct bpf_sock_addr *ctx)
{
	return check6(ctx, NG_EV_SENDMSG);
}

/* ---- packets of isolated containers (attached to their cgroups only) ---- */

static __always_inline struct ng_isolation *skb_isolation(struct __sk_buff *skb, __u64 *cgo)
{
	int lvl;

	for (lvl = NG_MAX_CG_LEVEL; lvl >= 1; lvl--) {
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, lvl);
		struct ng_isolation *iso;

		if (!id)
			continue;
		iso = bpf_map_lookup_elem(&ng_isolated, &id);
		if (iso) {
			*cgo = id;
			return iso;
		}
	}
	return NULL;
}

/* 1 pass, 0 drop; `peer` is the remote address: dst on egress, src on ingress */
static __always_inline int skb_verdict(struct __sk_buff *skb, int egress)
{
	struct ng_isolation *iso;
	struct ng_deny_val *v;
	__u64 cg = 0;

	iso = skb_isolation(skb, &cg);
	if (!iso)
		return 1; /* released, or the link outlived its entry */
	if (skb->ifindex == 1)
		return 1; /* loopback device */
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		__u32 peer;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			goto drop;
		peer = egress ? ip.daddr : ip.saddr;
		if ((bpf_ntohl(peer) >> 24) == 127)
			return 1;
		v = lpm4(&ng_allow4, cg, peer);
		if (!v)
			v = lpm4(&ng_allow4, 0, peer);
		if (v)
			return 1;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		__u32 peer[4];

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			goto drop;
		if (egress)
			__builtin_memcpy(peer, &ip6.daddr, 16);
		else
			__builtin_memcpy(peer, &ip6.saddr, 16);
		if (!peer[0] && !peer[1] && !peer[2] && peer[3] == bpf_htonl(1))
			return 1;
		v = lpm6(&ng_allow6, cg, peer);
		if (!v)
			v = lpm6(&ng_allow6, 0, peer);
		if (v)
			return 1;
	}
drop:
	__sync_fetch_and_add(&iso->dropped_packets, 1);
	return 0;
}

SEC("cgroup_skb/egress")
int ng_enf_egress(struct __sk_buff *skb)
{
	return skb_verdict(skb, 1);
}

SEC("cgroup_skb/ingress")
int ng_enf_ingress(struct __sk_buff *skb)
{
	return skb_verdict(skb, 0);
}
