/* SPDX-License-Identifier: MIT */
/* Standard base64 (RFC 4648, with padding), for binary data inside JSON. */
#ifndef EBPF_AGENT_BASE64_H
#define EBPF_AGENT_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Returns a malloc'ed NUL-terminated encoding of @data, or NULL when out of memory. */
char *base64_encode(const void *data, size_t len);
/* Encodes into @out, which has room for (len + 2) / 3 * 4 bytes; returns the bytes written (no NUL). */
size_t base64_encode_to(char *out, const void *data, size_t len);
/* Decodes padded base64; *data is malloc'ed. -EINVAL on a malformed text. */
int base64_decode(const char *text, void **data, size_t *len);

#endif
