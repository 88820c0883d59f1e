/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's identity and its end-to-end envelope. A key is loaded from
 * derper's key file (-k, as derpd-keygen writes it) or made fresh, kept in
 * sodium_malloc memory. Messages between two clients are
 *
 *	nonce (24 random bytes) || crypto_box_easy(message, nonce, peer, us)
 *
 * (XSalsa20-Poly1305 under the Curve25519 keys the relay routes by), so the
 * relay sees which keys talk and the sizes, never the contents.
 */
#ifndef CLIENT_CRYPTO_H
#define CLIENT_CRYPTO_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "keyfmt.h"

#define E2E_OVERHEAD	(crypto_box_NONCEBYTES + crypto_box_MACBYTES)

struct ident {
	uint8_t	*priv;		/* KEY_LEN bytes of sodium_malloc memory */
	uint8_t	 pub[KEY_LEN];
};

/* Loads keyfile, or makes a fresh key when keyfile is NULL; fatal on error. */
void	ident_init(struct ident *id, const char *keyfile);
void	ident_free(struct ident *id);

/* The shared key with a peer; -1 for a key no one can hold (low order). */
int	e2e_shared(uint8_t shared[crypto_box_BEFORENMBYTES],
	    const uint8_t peer[KEY_LEN], const struct ident *id);
/* Seals msg into out (len + E2E_OVERHEAD bytes); returns that length. */
size_t	e2e_seal(uint8_t *out, const uint8_t *msg, size_t len,
	    const uint8_t shared[crypto_box_BEFORENMBYTES]);
/* Opens in into out (len - E2E_OVERHEAD bytes); -1 if forged or short. */
int	e2e_open(uint8_t *out, size_t *outlen, const uint8_t *in, size_t len,
	    const uint8_t shared[crypto_box_BEFORENMBYTES]);

#endif
