// SPDX-License-Identifier: GPL-2.0
/*
 * A tc classifier on the egress of {{interface}}: sees every packet the host sends out of it, after
 * routing and before the driver, as an skb. It counts packets and bytes per IP protocol and lets
 * everything pass. Attached as a tcx link where the kernel has tcx (6.6+), else as a filter on a
 * clsact qdisc; the program is the same either way.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "tc_egress.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_HLEN 14
#define TC_ACT_OK 0

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROTOCOL_SLOTS);
	__type(key, __u32);
	__type(value, struct protocol_count);
} egress_counts SEC(".maps");

/* The packet's IP protocol. bpf_skb_load_bytes copies from the skb whether or not the bytes are in
 * its linear part, which direct access (skb->data) would need bpf_skb_pull_data for. */
static __u32 protocol_slot(struct __sk_buff *skb)
{
	__u8 protocol;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct iphdr, protocol), &protocol, 1))
			return SLOT_NOT_IP;
		return protocol;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct ipv6hdr, nexthdr), &protocol, 1))
			return SLOT_NOT_IP;
		return protocol;
	}
	return SLOT_NOT_IP;
}

SEC("tc")
int classify_egress(struct __sk_buff *skb)
{
	__u32 slot = protocol_slot(skb);
	struct protocol_count *count = bpf_map_lookup_elem(&egress_counts, &slot);

	if (count) {
		__sync_fetch_and_add(&count->packets, 1);
		__sync_fetch_and_add(&count->bytes, skb->len);
	}
	/* TC_ACT_SHOT (2) would drop the packet; skb->mark or skb->priority set here steer it further. */
	return TC_ACT_OK;
}
