/* SPDX-License-Identifier: BSD-3-Clause */
/* base64url without padding (RFC 4648 section 5). */
#include "b64url.h"

#include <stdlib.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

void
b64url_encode(char *out, const uint8_t *in, size_t len)
{
	uint32_t v;
	size_t i, left;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = alphabet[v >> 18];
		*out++ = alphabet[(v >> 12) & 63];
		*out++ = alphabet[(v >> 6) & 63];
		*out++ = alphabet[v & 63];
	}
	left = len - i;
	if (left > 0) {
		v = (uint32_t)in[i] << 16 | (left == 2 ? (uint32_t)in[i + 1] << 8 : 0);
		*out++ = alphabet[v >> 18];
		*out++ = alphabet[(v >> 12) & 63];
		if (left == 2)
			*out++ = alphabet[(v >> 6) & 63];
	}
	*out = '\0';
}

char *
b64url_encode_alloc(const uint8_t *in, size_t len)
{
	char *out = malloc(B64URL_LEN(len) + 1);

	if (out != NULL)
		b64url_encode(out, in, len);
	return out;
}

long
b64url_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
	uint32_t acc = 0;
	size_t i, n = 0;
	int bits = 0, v;

	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = value_of(in[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0)	/* non-canonical tail */
		return -1;
	return (long)n;
}

int
b64url_is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (value_of(s[i]) < 0)
			return 0;
	return 1;
}
