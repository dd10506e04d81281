// SPDX-License-Identifier: GPL-2.0
/*
 * Drops UDP and TCP packets arriving on {{interface}} for one destination port, and counts the drops.
 * The port lives in a global variable of its own section, which libbpf makes a one-entry array map
 * named ".data.config": the loader, bpftool or the editor's Maps view change it while the program
 * runs, and the next packet sees the new value. No reload, no reattach.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "xdp_port_drop.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP_NUM 6
#define IPPROTO_UDP_NUM 17

char LICENSE[] SEC("license") = "GPL";

/* Not const: a const global would be frozen at load and folded into the code. */
struct drop_config port_config SEC(".data.config") = { .port = DEFAULT_PORT };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DROP_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} drop_counts SEC(".maps");

/* Where the transport header starts and which protocol it is; NULL when not IPv4/IPv6. */
static void *transport_header(void *data, void *data_end, __u8 *protocol)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return NULL;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl < 5)
			return NULL;
		*protocol = ip->protocol;
		return (void *)ip + ip->ihl * 4;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return NULL;
		*protocol = ip6->nexthdr;	/* extension headers are not walked */
		return ip6 + 1;
	}
	return NULL;
}

static void count_drop(__u32 slot)
{
	__u64 *count = bpf_map_lookup_elem(&drop_counts, &slot);

	if (count)
		__sync_fetch_and_add(count, 1);
}

SEC("xdp")
int drop_port(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 port = port_config.port;
	__u8 protocol = 0;
	void *l4 = transport_header(data, data_end, &protocol);

	if (!l4 || port == 0)
		return XDP_PASS;
	if (protocol == IPPROTO_UDP_NUM) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) <= data_end && udp->dest == bpf_htons(port)) {
			count_drop(DROPPED_UDP);
			return XDP_DROP;
		}
	} else if (protocol == IPPROTO_TCP_NUM) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) <= data_end && tcp->dest == bpf_htons(port)) {
			count_drop(DROPPED_TCP);
			return XDP_DROP;
		}
	}
	return XDP_PASS;
}
