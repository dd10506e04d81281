/* What socket_filter.bpf.c and its loader share: the interface and the protocol slots. */
#ifndef SOCKET_FILTER_H
#define SOCKET_FILTER_H

#define INTERFACE_NAME "{{interface}}"

/* One slot per IP protocol number (IPv4 protocol, IPv6 next header), and one for non-IP frames. */
#define SLOT_NOT_IP 256
#define PROTOCOL_SLOTS 257

/* The one IP protocol whose packets the filter lets into the socket (the others are only counted). */
#define KEPT_PROTOCOL 17	/* UDP */

#endif /* SOCKET_FILTER_H */
