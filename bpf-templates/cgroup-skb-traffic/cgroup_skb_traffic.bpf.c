// SPDX-License-Identifier: GPL-2.0
/*
 * Accounts the IP traffic of one cgroup's sockets: packets and bytes received (cgroup_skb/ingress,
 * run as a packet is queued to a socket of the cgroup) and sent (cgroup_skb/egress, run as one of
 * its sockets sends). Both allow every packet; returning 0 instead would drop it. The counts cover
 * the cgroup and every cgroup below it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "cgroup_skb_traffic.h"

#define ALLOW 1

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRAFFIC_DIRECTIONS);
	__type(key, __u32);
	__type(value, struct traffic_count);
} traffic SEC(".maps");

static int account(__u32 direction, struct __sk_buff *skb)
{
	struct traffic_count *count = bpf_map_lookup_elem(&traffic, &direction);

	if (count) {
		__sync_fetch_and_add(&count->packets, 1);
		__sync_fetch_and_add(&count->bytes, skb->len);
	}
	return ALLOW;
}

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
	return account(TRAFFIC_INGRESS, skb);
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	return account(TRAFFIC_EGRESS, skb);
}
