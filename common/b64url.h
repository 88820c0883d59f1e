/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * base64url (RFC 4648 section 5) without padding, as JOSE and ACME use it.
 */
#ifndef DERPD_B64URL_H
#define DERPD_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Characters b64url_encode writes for len bytes, without the NUL. */
#define B64URL_LEN(len)	(((len) / 3) * 4 + ((len) % 3 ? (len) % 3 + 1 : 0))

/* Writes the encoding and a NUL into out[B64URL_LEN(len) + 1]. */
void	b64url_encode(char *out, const uint8_t *in, size_t len);
/* The encoding in a malloc'd string, or NULL. */
char	*b64url_encode_alloc(const uint8_t *in, size_t len);
/*
 * Decodes len characters (trailing '=' padding tolerated) into out[cap].
 * Returns the byte count, or -1 on a character outside the alphabet, an
 * impossible length, nonzero trailing bits or too small a buffer.
 */
long	b64url_decode(uint8_t *out, size_t cap, const char *in, size_t len);
/* True if s[0..len) is non-empty and uses only the base64url alphabet. */
int	b64url_is_token(const char *s, size_t len);

#endif
