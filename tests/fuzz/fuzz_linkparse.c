/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for worker/linkparse.c: what a worker reads from a
 * peer relay on its mesh link, where the peer is network input like any
 * client.
 *
 * The input is the peer's byte stream: an HTTP answer to our upgrade, then
 * DERP frames from server to client, walked the way worker/meshlink.c walks
 * them (an accepted frame must arrive whole, a skipped one is passed over
 * however long, a rejected one ends the link). linkparse_head must agree
 * with itself on every prefix (incomplete until the blank line, then the
 * same length and status), and with the rules written out here: a status
 * line "HTTP/1.x NNN", a head of at most LINK_HEAD_MAX bytes. Each frame's
 * verdict is compared with derp.Client.Recv's rules written out again, and
 * every ServerKey payload is tried.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "linkparse.h"

static enum frame_verdict
expected(uint8_t type, uint32_t len)
{
	uint32_t min;

	if (len > (1u << 20))
		return FRAME_REJECT;
	switch (type) {
	case 0x01: min = 40; break;		/* ServerKey: magic, key */
	case 0x03: min = 40; break;		/* ServerInfo: nonce, box */
	case 0x05: case 0x08: case 0x09: min = 32; break;
	case 0x12: case 0x13: case 0x15: min = 8; break;
	case 0x06: case 0x14: min = 0; break;
	default:
		return FRAME_SKIP;
	}
	if (len > 65536 + 32)
		return FRAME_REJECT;
	return len < min ? FRAME_SKIP : FRAME_ACCEPT;
}

static void
check_head(const uint8_t *p, size_t size, int n, int status)
{
	size_t cut;
	int m, st = -1;

	for (cut = 0; cut <= size; cut += 1 + cut / 8) {
		m = linkparse_head(p, cut, &st);
		if (n > 0 && cut >= (size_t)n)
			CHECK(m == n && st == status);
		else if (n > 0)
			CHECK(m == 0 || (m < 0 && cut >= LINK_HEAD_MAX));
		else if (m > 0)
			CHECK(0);	/* a prefix cannot be whole if the input is not */
	}
	if (n > 0) {
		CHECK(n >= 16 && n <= LINK_HEAD_MAX && memcmp(p, "HTTP/1.", 7) == 0);
		CHECK(memcmp(p + n - 4, "\r\n\r\n", 4) == 0);
		CHECK(status >= 100 && status <= 599);
	}
}

static void
frames(const uint8_t *p, size_t len)
{
	uint8_t type, pub[32];
	uint32_t flen;
	enum frame_verdict v;

	while (frame_get_header(p, len, &type, &flen)) {
		v = linkparse_frame(type, flen);
		CHECK(v == expected(type, flen));
		p += DERP_FRAME_HDR_LEN;
		len -= DERP_FRAME_HDR_LEN;
		if (v == FRAME_REJECT || flen > len)
			return;
		if (type == FRAME_SERVER_KEY)
			CHECK((linkparse_server_key(p, flen, pub) == 0) == (v ==
			    FRAME_ACCEPT && memcmp(p, DERP_MAGIC, DERP_MAGIC_LEN) == 0));
		p += flen;
		len -= flen;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int status = -1, n = linkparse_head(data, size, &status);

	CHECK(n >= -1 && (size_t)(n > 0 ? n : 0) <= size);
	check_head(data, size, n, status);
	if (n > 0)
		frames(data + n, size - (size_t)n);
	else
		frames(data, size);	/* the frame walk on its own, too */
	return 0;
}
