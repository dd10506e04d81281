/* What tc_egress.bpf.c and its loader share: the interface, the slots and a slot's value. */
#ifndef TC_EGRESS_H
#define TC_EGRESS_H

#define INTERFACE_NAME "{{interface}}"

/* One slot per IP protocol number (IPv4 protocol, IPv6 next header), and one for non-IP frames. */
#define SLOT_NOT_IP 256
#define PROTOCOL_SLOTS 257

/* Shared by all CPUs: the program adds with atomic instructions. */
struct protocol_count {
	__u64 packets;
	__u64 bytes;
};

#endif /* TC_EGRESS_H */
