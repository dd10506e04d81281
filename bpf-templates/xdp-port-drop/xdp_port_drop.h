/* What xdp_port_drop.bpf.c and its loader share: the defaults, the config's layout, the drop slots. */
#ifndef XDP_PORT_DROP_H
#define XDP_PORT_DROP_H

#define INTERFACE_NAME "{{interface}}"
#define DEFAULT_PORT {{port}}

/* The live configuration, in the map ".data.config" (one entry, key 0). */
struct drop_config {
	__u16 port;	/* destination port to drop, host byte order; 0 drops nothing */
	__u16 reserved;
};

/* Indexes of drop_counts. */
enum drop_slot {
	DROPPED_UDP = 0,
	DROPPED_TCP = 1,
	DROP_SLOTS = 2,
};

#endif /* XDP_PORT_DROP_H */
