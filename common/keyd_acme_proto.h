/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process's protocol with the ACME child: fixed-size messages on a
 * SOCK_SEQPACKET socket that only the ACME child holds (workers cannot ask
 * for any of this). The private key of every certificate the ACME client
 * obtains is made here and never leaves the key process:
 *
 *  KEYD_ACME_HAS      does the key process hold the key named by hash (the
 *                     SHA-256 of its DER SubjectPublicKeyInfo)? A cached
 *                     chain is served only if so.
 *  KEYD_ACME_CSR      make a new ECDSA P-256 key (kept aside, not yet used
 *                     for any handshake) and answer a DER CSR for names,
 *                     signed with it, and the key's hash.
 *  KEYD_ACME_INSTALL  the CA issued a certificate for the key aside (hash):
 *                     it becomes a served key, stored in the certdir's key
 *                     file; the key named by old_hash (all zero: none) is
 *                     kept only for handshakes still under way.
 *
 * The key process side is master/keyproc_acme.c, the ACME child's side
 * acme/child_keyd.c.
 */
#ifndef DERPD_KEYD_ACME_PROTO_H
#define DERPD_KEYD_ACME_PROTO_H

#include <stdint.h>

#include "keyd_proto.h"

enum keyd_acme_op {
	KEYD_ACME_HAS = 1,
	KEYD_ACME_CSR,
	KEYD_ACME_INSTALL,
};

#define KEYD_ACME_NAMES		16	/* == ACME_MAX_NAMES */
#define KEYD_ACME_NAME_MAX	256	/* with the NUL */
#define KEYD_ACME_DER_MAX	8192	/* a CSR for 16 names fits */

struct keyd_acme_req {
	uint32_t	op;
	uint32_t	nnames;			/* CSR */
	uint8_t		hash[KEYD_HASH_LEN];	/* HAS, INSTALL */
	uint8_t		old_hash[KEYD_HASH_LEN];	/* INSTALL */
	char		names[KEYD_ACME_NAMES][KEYD_ACME_NAME_MAX];
};

struct keyd_acme_resp {
	uint32_t	op;			/* echoed */
	uint32_t	ok;
	uint32_t	der_len;		/* CSR */
	uint32_t	pad;
	uint8_t		hash[KEYD_HASH_LEN];	/* CSR: the new key's */
	uint8_t		der[KEYD_ACME_DER_MAX];
};

#endif
