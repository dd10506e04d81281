// SPDX-License-Identifier: MIT
/* Base64 (RFC 4648, padded): objects, stream records and map keys/values inside JSON. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode_to(char *out, const void *data, size_t len)
{
	const unsigned char *in = data;
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

char *base64_encode(const void *data, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1);

	if (!out)
		return NULL;
	out[base64_encode_to(out, data, len)] = '\0';
	return out;
}

static int sextet(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

int base64_decode(const char *text, void **data, size_t *len)
{
	size_t n = strlen(text), pad = 0, o = 0;
	unsigned char *out;

	if (n % 4)
		return -EINVAL;
	if (n && text[n - 1] == '=')
		pad++;
	if (n > 1 && text[n - 2] == '=')
		pad++;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		bool last = i + 4 == n;

		for (int k = 0; k < 4; k++) {
			v[k] = last && k >= 4 - (int)pad ? 0 : sextet(text[i + k]);
			if (v[k] < 0) {
				free(out);
				return -EINVAL;
			}
		}
		out[o++] = v[0] << 2 | v[1] >> 4;
		out[o++] = (v[1] & 15) << 4 | v[2] >> 2;
		out[o++] = (v[2] & 3) << 6 | v[3];
	}
	*data = out;
	*len = o - pad;
	return 0;
}
