/* What xdp_protocol_count.bpf.c and its loader share: the interface, the slots and a slot's value. */
#ifndef XDP_PROTOCOL_COUNT_H
#define XDP_PROTOCOL_COUNT_H

#define INTERFACE_NAME "{{interface}}"

/* One slot per IP protocol number (IPv4 protocol, IPv6 next header), and one for non-IP frames. */
#define SLOT_NOT_IP 256
#define PROTOCOL_SLOTS 257

/* Per CPU: each CPU adds to its own copy, so no atomics; the loader sums the copies. */
struct protocol_count {
	__u64 packets;
	__u64 bytes;
};

#endif /* XDP_PROTOCOL_COUNT_H */
