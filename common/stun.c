/* SPDX-License-Identifier: BSD-3-Clause */
#include "stun.h"

#include <netinet/in.h>
#include <string.h>
#include <zlib.h>

#define MAGIC_COOKIE		0x2112a442u
#define ATTR_FINGERPRINT	0x8028
#define ATTR_XOR_MAPPED_ADDRESS	0x0020
#define FINGERPRINT_XOR		0x5354554eu

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static uint32_t
fingerprint(const uint8_t *p, size_t len)
{
	return (uint32_t)crc32(0, p, (uInt)len) ^ FINGERPRINT_XOR;
}

int
stun_parse_binding_request(const uint8_t *pkt, size_t len,
    uint8_t txid[STUN_TXID_LEN])
{
	size_t off = STUN_HDR_LEN, alen;
	uint16_t type;

	if (len < STUN_HDR_LEN || len > 2048 || get16(pkt) != 0x0001 ||
	    get16(pkt + 2) != len - STUN_HDR_LEN || (len & 3) != 0 ||
	    get32(pkt + 4) != MAGIC_COOKIE)
		return -1;
	while (off < len) {
		if (len - off < 4)
			return -1;
		type = get16(pkt + off);
		alen = get16(pkt + off + 2);
		if (((alen + 3) & ~(size_t)3) > len - off - 4)
			return -1;
		if (type == ATTR_FINGERPRINT) {
			/* Must be last, and must match (RFC 5389 15.5). */
			if (alen != 4 || off + 8 != len ||
			    get32(pkt + off + 4) != fingerprint(pkt, off))
				return -1;
		}
		off += 4 + ((alen + 3) & ~(size_t)3);
	}
	memcpy(txid, pkt + 8, STUN_TXID_LEN);
	return 0;
}

size_t
stun_binding_response(uint8_t *out, const uint8_t txid[STUN_TXID_LEN],
    const struct sockaddr *addr)
{
	static const uint8_t cookie[4] = { 0x21, 0x12, 0xa4, 0x42 };
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)addr;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)addr;
	const uint8_t *ip;
	uint16_t port;
	size_t iplen, i;
	uint8_t fam;

	if (addr->sa_family == AF_INET) {
		ip = (const uint8_t *)&s4->sin_addr;
		iplen = 4;
		port = ntohs(s4->sin_port);
	} else if (addr->sa_family == AF_INET6) {
		ip = s6->sin6_addr.s6_addr;
		iplen = 16;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			ip += 12;
			iplen = 4;
		}
		port = ntohs(s6->sin6_port);
	} else
		return 0;
	fam = iplen == 4 ? 1 : 2;

	put16(out, 0x0101);			/* binding success */
	put16(out + 2, (uint16_t)(8 + iplen));
	memcpy(out + 4, cookie, 4);
	memcpy(out + 8, txid, STUN_TXID_LEN);
	put16(out + 20, ATTR_XOR_MAPPED_ADDRESS);
	put16(out + 22, (uint16_t)(4 + iplen));
	out[24] = 0;
	out[25] = fam;
	put16(out + 26, port ^ (MAGIC_COOKIE >> 16));
	for (i = 0; i < iplen; i++)
		out[28 + i] = ip[i] ^ (i < 4 ? cookie[i] : txid[i - 4]);
	return STUN_HDR_LEN + 8 + iplen;
}
