/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for client/stunc.c: the probe's parser of a relay's
 * STUN answer.
 *
 * The first 12 bytes of the input are the transaction ID the probe asked
 * with, the rest is the datagram. Invariants: an accepted answer is a
 * binding success for that ID whose length field matches; the address is
 * IPv4 or IPv6; and an answer made by derpd's own STUN server
 * (common/stun.c) for an address taken from the input parses back to that
 * address.
 */
#include <netinet/in.h>
#include <string.h>

#include "fuzz.h"
#include "stunc.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
round_trip(const uint8_t txid[STUN_TXID_LEN], const uint8_t *seed, size_t n)
{
	struct sockaddr_storage in, out;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&in;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&in;
	uint8_t resp[STUN_RESP_MAX], req[STUNC_REQ_LEN];
	const char *why;
	size_t len;

	memset(&in, 0, sizeof(in));
	if (n >= 18) {
		a6->sin6_family = AF_INET6;
		memcpy(&a6->sin6_port, seed, 2);
		memcpy(&a6->sin6_addr, seed + 2, 16);
		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
			return;	/* answered as IPv4: a different address */
	} else if (n >= 6) {
		a4->sin_family = AF_INET;
		memcpy(&a4->sin_port, seed, 2);
		memcpy(&a4->sin_addr, seed + 2, 4);
	} else
		return;
	len = stun_binding_response(resp, txid, (struct sockaddr *)&in);
	CHECK(len > 0);
	CHECK(stunc_parse_response(resp, len, txid, &out, &why) == 0);
	CHECK(out.ss_family == in.ss_family);
	CHECK(in.ss_family == AF_INET ?
	    memcmp(a4, &out, sizeof(*a4)) == 0 : memcmp(a6, &out, sizeof(*a6)) == 0);
	CHECK(stunc_request(req, txid) == STUNC_REQ_LEN);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *txid = data, *pkt = data + STUN_TXID_LEN;
	struct sockaddr_storage addr;
	const char *why = NULL;
	size_t n;

	if (size < STUN_TXID_LEN)
		return 0;
	n = size - STUN_TXID_LEN;
	if (stunc_parse_response(pkt, n, txid, &addr, &why) == 0) {
		CHECK(n >= STUN_HDR_LEN && pkt[0] == 0x01 && pkt[1] == 0x01);
		CHECK((size_t)(pkt[2] << 8 | pkt[3]) == n - STUN_HDR_LEN);
		CHECK(memcmp(pkt + 8, txid, STUN_TXID_LEN) == 0);
		CHECK(addr.ss_family == AF_INET || addr.ss_family == AF_INET6);
	} else
		CHECK(why != NULL);
	round_trip(txid, pkt, n);
	return 0;
}
