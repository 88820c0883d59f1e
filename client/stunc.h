/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client side of STUN (RFC 5389): a binding request as Tailscale's
 * netcheck sends it (SOFTWARE "tailnode", FINGERPRINT; derper answers only
 * those), and the parser of the relay's answer, fuzzed
 * (tests/fuzz/fuzz_client_stun.c).
 */
#ifndef CLIENT_STUNC_H
#define CLIENT_STUNC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"

#define STUNC_REQ_LEN	(STUN_HDR_LEN + 4 + 8 + 4 + 4)

/* Writes a binding request with txid into out; returns its length. */
size_t	stunc_request(uint8_t out[STUNC_REQ_LEN],
	    const uint8_t txid[STUN_TXID_LEN]);
/*
 * Parses a binding success response for txid: 0 with the XOR-MAPPED-ADDRESS
 * in addr, -1 with *why for anything else.
 */
int	stunc_parse_response(const uint8_t *p, size_t len,
	    const uint8_t txid[STUN_TXID_LEN], struct sockaddr_storage *addr,
	    const char **why);

#endif
