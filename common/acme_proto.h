/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ACME child's protocol with the master: fixed-size messages on one
 * SOCK_SEQPACKET socket. The child asks the master to serve a chain, to
 * publish or withdraw a challenge answer, and to show its figures on
 * /metrics; the master writes each into shared memory for the workers
 * (common/certshm.h), wakes them, and acknowledges, so the CA is told to
 * validate only once every worker can answer. The master tells the child
 * of IP addresses clients reached us at without a certificate
 * (-acme-ip-certs).
 *
 * The master checks every message (acme_msg_check) and copies the
 * certificates and keys it carries as opaque text: it parses none of them.
 * The master side is master/acmed.c, the child's acme/child_master.c.
 */
#ifndef DERPD_ACME_PROTO_H
#define DERPD_ACME_PROTO_H

#include <stdint.h>

#include "certshm.h"

enum acme_msg_op {
	ACME_MSG_CERT = 1,	/* serve data (a chain, len bytes) for name; len 0:
				 * serve nothing for it; not_after for /metrics */
	ACME_MSG_STATUS,	/* name's orders and last error (text), for /metrics */
	ACME_MSG_ALPN_PUT,	/* TLS-ALPN-01: for SNI name, the certificate (data,
				 * len bytes) then its key (len2 bytes), PEM */
	ACME_MSG_ALPN_DEL,	/* ...no longer for SNI name */
	ACME_MSG_HTTP_PUT,	/* HTTP-01: token name, key authorization text */
	ACME_MSG_HTTP_DEL,
	ACME_MSG_ACK,		/* master -> child: the last request, done (ok) or not */
	ACME_MSG_WANT_IP,	/* master -> child: a certificate for IP address name */
};

#define ACME_MSG_TEXT_MAX	CERTSHM_KEYAUTH_MAX

struct acme_msg {
	uint32_t	op;
	uint32_t	ok;		/* ACK */
	uint32_t	len;		/* of data */
	uint32_t	len2;		/* ALPN_PUT: of the key after the certificate */
	int64_t		not_after;	/* CERT */
	int64_t		last_error_at;	/* STATUS: 0, none since the last success */
	uint64_t	orders_issued;	/* STATUS */
	uint64_t	orders_failed;
	char		name[CERTSHM_NAME_MAX];
	char		text[ACME_MSG_TEXT_MAX];	/* STATUS: last error; HTTP_PUT */
	char		data[CERTSHM_CHAIN_MAX];
};

/*
 * 0 if msg (from the ACME child) is well-formed: a known operation, name
 * and text printable and terminated, lengths within what shared memory
 * holds, data without NULs; else -1 and *why.
 */
int	acme_msg_check(const struct acme_msg *msg, const char **why);

#endif
