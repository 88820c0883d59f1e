/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key manager of the worker's TLS key provider (tlskey.h): EC and RSA
 * keys that hold the certificate's public key and a pointer to the worker
 * whose key process signs for them; never a private key, and they never
 * pretend to export one.
 */
#ifndef DERPD_TLSKEY_MGMT_H
#define DERPD_TLSKEY_MGMT_H

#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

#include "wk.h"

/* The worker's address, an octet string among the key's import params. */
#define TLSKEY_PARAM_WORKER	"derpd-worker"
/* Which key the key process signs with: the SHA-256 of the certificate's
 * SubjectPublicKeyInfo, another octet string among them. */
#define TLSKEY_PARAM_HASH	"derpd-key-hash"

struct tlskey {
	EVP_PKEY	*pub;		/* the certificate's key (default provider) */
	struct wk	*w;		/* NULL: a key only compared, never used */
	int		 rsa;
	uint8_t		 hash[KEYD_HASH_LEN];
};

extern const OSSL_DISPATCH tlskey_ec_keymgmt[];
extern const OSSL_DISPATCH tlskey_rsa_keymgmt[];

#endif
