/* What cgroup_skb_traffic.bpf.c and its loader share: the traffic slots and their values. */
#ifndef CGROUP_SKB_TRAFFIC_H
#define CGROUP_SKB_TRAFFIC_H

/* Indexes of traffic. */
enum traffic_direction {
	TRAFFIC_INGRESS = 0,
	TRAFFIC_EGRESS = 1,
	TRAFFIC_DIRECTIONS = 2,
};

struct traffic_count {
	__u64 packets;
	__u64 bytes;	/* from the IP header on (skb->len at this hook) */
};

#endif /* CGROUP_SKB_TRAFFIC_H */
