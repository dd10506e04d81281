// SPDX-License-Identifier: GPL-2.0
/*
 * Counts the packets and bytes that arrive on {{interface}} per IP protocol, in a per-CPU array the
 * loader sums, and passes every packet on. XDP runs before the kernel allocates an skb, so this is
 * the cheapest place to look at (or drop) incoming traffic.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "xdp_protocol_count.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROTOCOL_SLOTS);
	__type(key, __u32);
	__type(value, struct protocol_count);
} protocol_counts SEC(".maps");

/* The frame's IP protocol, or SLOT_NOT_IP. Every header is bounds-checked against data_end first:
 * the verifier refuses a read it cannot prove is inside the packet. */
static __u32 protocol_slot(void *data, void *data_end)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return SLOT_NOT_IP;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return SLOT_NOT_IP;
		return ip->protocol;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return SLOT_NOT_IP;
		return ip6->nexthdr;	/* the first header after IPv6's: extension headers are not walked */
	}
	return SLOT_NOT_IP;
}

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 slot = protocol_slot(data, data_end);
	struct protocol_count *count = bpf_map_lookup_elem(&protocol_counts, &slot);

	if (count) {
		count->packets++;
		count->bytes += data_end - data;
	}
	return XDP_PASS;
}
