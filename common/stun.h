/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STUN (RFC 5389) binding requests and XOR-MAPPED-ADDRESS responses, as
 * Tailscale's netcheck uses them. Any well-formed binding request is
 * answered, not only Tailscale's ("tailnode" SOFTWARE): a relay's STUN
 * service is useful to other clients, and a FINGERPRINT, when present, must
 * be right.
 */
#ifndef DERPD_STUN_H
#define DERPD_STUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_HDR_LEN	20
#define STUN_TXID_LEN	12
#define STUN_RESP_MAX	(STUN_HDR_LEN + 4 + 20)

/* Returns 0 and copies the transaction ID if pkt is a valid binding request. */
int	stun_parse_binding_request(const uint8_t *pkt, size_t len,
	    uint8_t txid[STUN_TXID_LEN]);
/*
 * Writes a binding success response carrying addr (IPv4, IPv6, or IPv4
 * mapped into IPv6, which is answered as IPv4) into out[STUN_RESP_MAX].
 * Returns its length, or 0 for an unsupported address family.
 */
size_t	stun_binding_response(uint8_t *out, const uint8_t txid[STUN_TXID_LEN],
	    const struct sockaddr *addr);

#endif
