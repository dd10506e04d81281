/* SPDX-License-Identifier: MIT */
/* Standard base64 (RFC 4648, with padding), for sending object files inside JSON. */
#ifndef EBPF_AGENT_BASE64_H
#define EBPF_AGENT_BASE64_H

#include <stddef.h>

/* Returns a malloc'ed NUL-terminated encoding of @data, or NULL when out of memory. */
char *base64_encode(const void *data, size_t len);

#endif
