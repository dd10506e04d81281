// SPDX-License-Identifier: GPL-2.0
/*
 * A socket filter: runs for each packet about to be queued to the socket it is attached to (here a
 * packet socket on {{interface}} that sees every frame in and out), counts it per IP protocol, and
 * decides how much of it the socket receives — the whole packet for UDP, nothing for the rest. A
 * filter only shapes what its own socket reads; the kernel's other sockets see the packet anyway.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "socket_filter.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_HLEN 14

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROTOCOL_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} packet_counts SEC(".maps");

/* On a packet socket the skb starts at the Ethernet header; skb->protocol is its EtherType. */
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

SEC("socket")
int count_by_protocol(struct __sk_buff *skb)
{
	__u32 slot = protocol_slot(skb);
	__u64 *count = bpf_map_lookup_elem(&packet_counts, &slot);

	if (count)
		__sync_fetch_and_add(count, 1);
	/* The return value is how many bytes of the packet the socket gets: 0 leaves it out. */
	return slot == KEPT_PROTOCOL ? skb->len : 0;
}
