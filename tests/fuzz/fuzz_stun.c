/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/stun.c: the binding-request parser sees
 * every UDP datagram sent to the STUN port.
 *
 * Invariants: a request is accepted only if its header says binding
 * request, its length field matches, it is 4-aligned and carries the magic
 * cookie; the transaction ID handed back is the packet's; and the response
 * for an address made from the input decodes (XOR-MAPPED-ADDRESS) to that
 * address again.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "stun.h"
#include "fuzz.h"

static void
check_response(const uint8_t txid[STUN_TXID_LEN], const uint8_t *seed, int v6)
{
	static const uint8_t cookie[4] = { 0x21, 0x12, 0xa4, 0x42 };
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	uint8_t out[STUN_RESP_MAX], ip[16];
	size_t n, iplen, i;
	uint16_t port = (uint16_t)(seed[0] << 8 | seed[1]);

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(s6->sin6_addr.s6_addr, seed + 2, 16);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, seed + 2, 4);
	}
	n = stun_binding_response(out, txid, (struct sockaddr *)&ss);
	iplen = n - STUN_HDR_LEN - 8;
	CHECK(n == STUN_HDR_LEN + 8 + 4 || n == STUN_HDR_LEN + 8 + 16);
	CHECK(out[0] == 0x01 && out[1] == 0x01);
	CHECK((size_t)(out[2] << 8 | out[3]) == n - STUN_HDR_LEN);
	CHECK(memcmp(out + 4, cookie, 4) == 0);
	CHECK(memcmp(out + 8, txid, STUN_TXID_LEN) == 0);
	CHECK(out[25] == (iplen == 4 ? 1 : 2));
	CHECK((uint16_t)((out[26] << 8 | out[27]) ^ 0x2112) == port);
	for (i = 0; i < iplen; i++)
		ip[i] = out[28 + i] ^ (i < 4 ? cookie[i] : txid[i - 4]);
	if (!v6)
		CHECK(memcmp(ip, seed + 2, 4) == 0);
	else if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		CHECK(iplen == 4 && memcmp(ip, seed + 2 + 12, 4) == 0);
	else
		CHECK(iplen == 16 && memcmp(ip, seed + 2, 16) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t txid[STUN_TXID_LEN], seed[18] = { 0 };

	if (stun_parse_binding_request(data, size, txid) != 0)
		return 0;
	CHECK(size >= STUN_HDR_LEN && size % 4 == 0);
	CHECK(data[0] == 0x00 && data[1] == 0x01);
	CHECK((size_t)(data[2] << 8 | data[3]) == size - STUN_HDR_LEN);
	CHECK(data[4] == 0x21 && data[5] == 0x12 && data[6] == 0xa4 &&
	    data[7] == 0x42);
	CHECK(memcmp(txid, data + 8, STUN_TXID_LEN) == 0);
	memcpy(seed, data + size - (size < 38 ? size : 18), size < 38 ? 0 : 18);
	check_response(txid, seed, 0);
	check_response(txid, seed, 1);
	return 0;
}
