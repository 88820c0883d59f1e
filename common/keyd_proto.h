/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process's protocol with workers: fixed-size messages on one
 * SOCK_SEQPACKET socket per worker. The key process holds the relay's two
 * private keys and answers two questions:
 *
 *  KEYD_SHARED  crypto_box_beforenm(client_pub, DERP private key): the
 *               per-client shared key of a DERP login;
 *  KEYD_SIGN    the signature of a TLS 1.3 server CertificateVerify input
 *               (64 spaces, "TLS 1.3, server CertificateVerify", 0, and a
 *               transcript hash) with the TLS private key whose public key
 *               is in the certificate the worker served (named by the
 *               SHA-256 of its SubjectPublicKeyInfo); anything else, or a
 *               key the key process does not hold, is refused.
 *
 * When a certificate is replaced (ACME renewal, a reload), the key process
 * keeps the old key for handshakes still under way with the old chain, so
 * a handshake is never signed by a key that does not match the chain the
 * worker sent. Only the ACME child may ask for new keys (keyd_acme_proto.h).
 *
 * The key process side is master/keyproc.c, the worker side
 * worker/keyd_client.c (and worker/tlskey.c, which asks for signatures).
 */
#ifndef DERPD_KEYD_PROTO_H
#define DERPD_KEYD_PROTO_H

#include <stdint.h>

#include "key.h"

enum keyd_op {
	KEYD_SHARED = 1,
	KEYD_SIGN,
};

enum keyd_md {			/* the signature's digest */
	KEYD_SHA256 = 1,
	KEYD_SHA384,
	KEYD_SHA512,
};

enum keyd_pad {
	KEYD_PAD_NONE = 0,	/* ECDSA */
	KEYD_PAD_PSS,		/* RSA-PSS, salt as long as the digest */
};

#define KEYD_TBS_MAX	256	/* a CertificateVerify input is at most 146 */
#define KEYD_HASH_LEN	32	/* SHA-256 of a DER SubjectPublicKeyInfo */
#define KEYD_SIG_MAX	512	/* RSA-4096 */

/* The fixed CertificateVerify prefix: 64 spaces, the context string, a zero. */
#define KEYD_CV_CONTEXT	"TLS 1.3, server CertificateVerify"
#define KEYD_CV_CLIENT	"TLS 1.3, client CertificateVerify"	/* same length */
#define KEYD_CV_PREFIX	(64 + sizeof(KEYD_CV_CONTEXT))

struct keyd_req {
	uint32_t	op;		/* enum keyd_op */
	uint32_t	slot;		/* echoed: which connection asked */
	uint32_t	gen;
	uint32_t	id;		/* echoed: which attempt */
	uint8_t		client_pub[KEY_LEN];	/* KEYD_SHARED */
	uint32_t	md;		/* KEYD_SIGN: enum keyd_md */
	uint32_t	pad;		/* KEYD_SIGN: enum keyd_pad */
	uint32_t	tbs_len;
	uint8_t		tbs[KEYD_TBS_MAX];
	uint8_t		key_hash[KEYD_HASH_LEN];	/* KEYD_SIGN: whose key */
};

struct keyd_resp {
	uint32_t	op;		/* echoed, with slot, gen and id */
	uint32_t	slot;
	uint32_t	gen;
	uint32_t	id;
	uint32_t	ok;		/* 0: refused (a low-order point, a bad input) */
	uint32_t	sig_len;
	uint8_t		shared[KEY_LEN];	/* KEYD_SHARED */
	uint8_t		sig[KEYD_SIG_MAX];	/* KEYD_SIGN */
};

#endif
