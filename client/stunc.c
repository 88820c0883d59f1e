/* SPDX-License-Identifier: BSD-3-Clause */
#include "stunc.h"

#include <netinet/in.h>
#include <string.h>
#include <zlib.h>

#define BINDING_REQUEST		0x0001
#define BINDING_SUCCESS		0x0101
#define ATTR_XOR_MAPPED		0x0020
#define ATTR_SOFTWARE		0x8022
#define ATTR_FINGERPRINT	0x8028
#define FINGERPRINT_XOR		0x5354554eu

static const uint8_t cookie[4] = { 0x21, 0x12, 0xa4, 0x42 };

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

size_t
stunc_request(uint8_t out[STUNC_REQ_LEN], const uint8_t txid[STUN_TXID_LEN])
{
	uint8_t *a = out + STUN_HDR_LEN;
	uint32_t fp;

	put16(out, BINDING_REQUEST);
	put16(out + 2, STUNC_REQ_LEN - STUN_HDR_LEN);
	memcpy(out + 4, cookie, 4);
	memcpy(out + 8, txid, STUN_TXID_LEN);
	put16(a, ATTR_SOFTWARE);
	put16(a + 2, 8);
	memcpy(a + 4, "tailnode", 8);
	a += 12;
	fp = (uint32_t)crc32(0, out, (uInt)(a - out)) ^ FINGERPRINT_XOR;
	put16(a, ATTR_FINGERPRINT);
	put16(a + 2, 4);
	a[4] = fp >> 24;
	a[5] = fp >> 16;
	a[6] = fp >> 8;
	a[7] = fp;
	return STUNC_REQ_LEN;
}

/* XOR-MAPPED-ADDRESS value (RFC 5389 15.2) into addr. */
static int
xor_mapped(const uint8_t *v, size_t len, const uint8_t *hdr,
    struct sockaddr_storage *addr)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)addr;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)addr;
	uint8_t *ip;
	size_t iplen, i;

	if (len < 4 || (v[1] != 1 && v[1] != 2))
		return -1;
	iplen = v[1] == 1 ? 4 : 16;
	if (len != 4 + iplen)
		return -1;
	memset(addr, 0, sizeof(*addr));
	if (v[1] == 1) {
		s4->sin_family = AF_INET;
		ip = (uint8_t *)&s4->sin_addr;
	} else {
		s6->sin6_family = AF_INET6;
		ip = (uint8_t *)&s6->sin6_addr;
	}
	/* The port XORed with the cookie's top half, the address with the
	 * cookie and (IPv6) the transaction ID: hdr + 4 holds both. */
	for (i = 0; i < iplen; i++)
		ip[i] = v[4 + i] ^ hdr[4 + i];
	put16(v[1] == 1 ? (uint8_t *)&s4->sin_port : (uint8_t *)&s6->sin6_port,
	    get16(v + 2) ^ 0x2112);
	return 0;
}

int
stunc_parse_response(const uint8_t *p, size_t len,
    const uint8_t txid[STUN_TXID_LEN], struct sockaddr_storage *addr,
    const char **why)
{
	size_t off = STUN_HDR_LEN, alen;
	int found = 0;

	if (len < STUN_HDR_LEN || get16(p) != BINDING_SUCCESS ||
	    memcmp(p + 4, cookie, 4) != 0)
		return *why = "not a STUN binding success response", -1;
	if (get16(p + 2) != len - STUN_HDR_LEN || (len & 3) != 0)
		return *why = "STUN length field does not match the packet", -1;
	if (memcmp(p + 8, txid, STUN_TXID_LEN) != 0)
		return *why = "STUN answer for another transaction", -1;
	while (off < len) {
		if (len - off < 4)
			return *why = "truncated STUN attribute", -1;
		alen = get16(p + off + 2);
		if (((alen + 3) & ~(size_t)3) > len - off - 4)
			return *why = "truncated STUN attribute", -1;
		if (get16(p + off) == ATTR_XOR_MAPPED && !found) {
			if (xor_mapped(p + off + 4, alen, p, addr) != 0)
				return *why = "malformed XOR-MAPPED-ADDRESS", -1;
			found = 1;
		}
		off += 4 + ((alen + 3) & ~(size_t)3);
	}
	return found ? 0 : (*why = "no XOR-MAPPED-ADDRESS in the answer", -1);
}
