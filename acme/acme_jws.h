/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON Web Signatures for ACME (RFC 7515 flattened serialization, RFC 8555
 * section 6.2): ES256 with a P-256 account key, the account's JWK and its
 * RFC 7638 thumbprint (for key authorizations), and the HS256 inner JWS of
 * External Account Binding (RFC 8555 section 7.3.4).
 */
#ifndef DERPD_ACME_JWS_H
#define DERPD_ACME_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/types.h>

#define JWS_THUMB_LEN	43	/* base64url of a SHA-256, no NUL */

/* A new P-256 key, or NULL. */
EVP_PKEY *jws_keygen(void);
/* {"crv":"P-256","kty":"EC","x":..,"y":..} as a new object, or NULL. */
json_t	*jws_jwk(EVP_PKEY *key);
/* The RFC 7638 thumbprint of key's JWK. 0 or -1. */
int	 jws_thumbprint(EVP_PKEY *key, char out[JWS_THUMB_LEN + 1]);
/* token "." thumbprint, malloc'd, or NULL. */
char	*jws_key_authorization(EVP_PKEY *key, const char *token);
/*
 * The flattened JWS (malloc'd JSON text) of payload (NULL: POST-as-GET,
 * an empty payload) for url, identified by kid, or by the JWK when kid is
 * NULL. NULL on failure.
 */
char	*jws_sign(EVP_PKEY *key, const char *kid, const char *nonce,
	    const char *url, const char *payload);
/*
 * The externalAccountBinding object: HS256 over key's JWK with the
 * base64url-decoded mac_key, "kid" eab_kid, "url" the newAccount URL.
 */
json_t	*jws_eab(EVP_PKEY *key, const char *eab_kid, const uint8_t *mac_key,
	    size_t mac_len, const char *url);

#endif
