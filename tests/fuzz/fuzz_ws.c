/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for DERP over WebSocket (worker/websocket.c over
 * wslay), through a whole worker (tests/fuzz/fuzz_worker.c): the harness
 * upgrades with a valid WebSocket request and then
 *   - raw (first byte even): sends the rest of the input as it is, any
 *     frames at all;
 *   - round trip (odd): logs in and sends a packet to itself (a length
 *     byte / 4, its bytes), as a real client would but framed as the rest
 *     of the input says: its DERP bytes cut into
 *     binary messages of up to 32 KiB, each cut into fragments, with pings
 *     and pongs between fragments and any masks.
 *
 * Checks: the 101 carries the right Sec-WebSocket-Accept and the derp
 * subprotocol; everything the worker sends after it is well-formed
 * server-to-client frames (unmasked, known opcodes, control frames short
 * and whole, nothing after a close); the binary payloads make a DERP stream
 * that starts with ServerKey; and on the round trip, the login succeeds and
 * the packet comes back to the sender byte for byte.
 */
#include <sodium.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "fuzz_worker.h"

#define OUT_MAX		(512 * 1024)
#define MSG_MAX		32768	/* Tailscale's client: its messages are no larger */

struct script {
	const uint8_t	*p;
	size_t		 n;
};

static uint8_t out[OUT_MAX], derp[OUT_MAX], wire[4 * 65536];
static size_t nwire;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fw_init();
	return 0;
}

static uint8_t
get8(struct script *s)
{
	uint8_t v;

	if (s->n == 0)
		return 0;
	v = *s->p++;
	s->n--;
	return v;
}

/* One client frame (masked, as RFC 6455 requires) appended to wire. */
static void
put_frame(int fin, int opcode, const uint8_t *p, size_t len, const uint8_t mask[4])
{
	uint8_t *w = wire + nwire;
	size_t i, h = 2;

	CHECK(nwire + len + 14 <= sizeof(wire));
	w[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126)
		w[1] = (uint8_t)(0x80 | len);
	else if (len < 65536) {
		w[1] = 0x80 | 126;
		w[2] = (uint8_t)(len >> 8);
		w[3] = (uint8_t)len;
		h = 4;
	} else {
		w[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			w[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		h = 10;
	}
	memcpy(w + h, mask, 4);
	for (i = 0; i < len; i++)
		w[h + 4 + i] = p[i] ^ mask[i % 4];
	nwire += h + 4 + len;
}

/* DERP bytes as binary messages, fragmented and interleaved as s says. */
static void
put_messages(struct script *s, const uint8_t *p, size_t len)
{
	uint8_t mask[4], ping[8];
	size_t msg, frag;
	int first, i;

	while (len > 0) {
		msg = 1 + ((size_t)get8(s) << 8 | get8(s)) % MSG_MAX;
		if (msg > len)
			msg = len;
		len -= msg;
		for (first = 1; msg > 0; first = 0) {
			frag = 1 + ((size_t)get8(s) << 7 | get8(s)) % msg;
			for (i = 0; i < 4; i++)
				mask[i] = get8(s);
			put_frame(frag == msg, first ? 2 : 0, p, frag, mask);
			p += frag;
			msg -= frag;
			if (get8(s) % 4 == 0) {		/* a ping or a pong between */
				memset(ping, get8(s), sizeof(ping));
				put_frame(1, get8(s) & 1 ? 9 : 10, ping,
				    get8(s) % 9, mask);
			}
		}
	}
}

/*
 * Decodes the worker's frames into derp[]; checks them as a client would.
 * Returns the DERP bytes' length.
 */
static size_t
decode(const uint8_t *o, size_t len)
{
	size_t off = 0, n = 0, plen, h;
	int closed = 0, in_msg = 0, op, fin, i;

	while (off + 2 <= len) {
		CHECK(!closed);			/* nothing after a close */
		fin = o[off] >> 7;
		op = o[off] & 0x0f;
		CHECK((o[off] & 0x70) == 0);	/* no extensions */
		CHECK((o[off + 1] & 0x80) == 0);	/* servers do not mask */
		plen = o[off + 1] & 0x7f;
		h = 2;
		if (plen == 126) {
			if (off + 4 > len)
				break;
			plen = (size_t)o[off + 2] << 8 | o[off + 3];
			h = 4;
		} else if (plen == 127) {
			if (off + 10 > len)
				break;
			for (plen = 0, i = 0; i < 8; i++)
				plen = plen << 8 | o[off + 2 + i];
			h = 10;
		}
		if (plen > len - off - h)
			break;			/* the rest did not come */
		switch (op) {
		case 0:
			CHECK(in_msg);
			break;
		case 2:
			CHECK(!in_msg);
			break;
		case 8: case 9: case 10:
			CHECK(fin && plen <= 125);
			closed = op == 8;
			break;
		default:
			CHECK(!"text or reserved opcode from the server");
		}
		if (op == 0 || op == 2) {
			memcpy(derp + n, o + off + h, plen);
			n += plen;
			in_msg = !fin;
		}
		off += h + plen;
	}
	return n;
}

/* The 101 head; returns its length. */
static size_t
check_101(const uint8_t *o, size_t len)
{
	const uint8_t *end = memmem(o, len, "\r\n\r\n", 4);

	CHECK(end != NULL);
	CHECK(memcmp(o, "HTTP/1.1 101 ", 13) == 0);
	/* RFC 6455 1.3's example key and its answer. */
	CHECK(memmem(o, (size_t)(end + 2 - o),
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", 52) != NULL);
	CHECK(memmem(o, (size_t)(end + 2 - o), "Sec-WebSocket-Protocol: derp\r\n",
	    30) != NULL);
	return (size_t)(end + 4 - o);
}

static void
check_server_key(const uint8_t *d, size_t n)
{
	if (n == 0)
		return;
	CHECK(n < 45 || (d[0] == FRAME_SERVER_KEY &&
	    memcmp(d + 13, fw.w.server_pub, KEY_LEN) == 0));
}

/* A logged-in round trip: ClientInfo, then a packet to itself. */
static void
round_trip(int fd, struct script *s)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN], nonce[DERP_NONCE_LEN] = { 0 };
	uint8_t msg[2048], *p = msg + DERP_FRAME_HDR_LEN;
	static const char info[] = "{\"version\":2}";
	const uint8_t *sent;
	size_t len, n, plen, pkt, off;
	uint32_t flen;
	uint8_t type;
	int eof, got = 0;

	randombytes_buf(priv, sizeof(priv));
	crypto_scalarmult_base(pub, priv);
	memcpy(p, pub, KEY_LEN);
	memcpy(p + KEY_LEN, nonce, sizeof(nonce));
	CHECK(crypto_box_easy(p + KEY_LEN + DERP_NONCE_LEN, (const uint8_t *)info,
	    sizeof(info) - 1, nonce, fw.w.server_pub, priv) == 0);
	plen = KEY_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD + sizeof(info) - 1;
	frame_put_header(msg, FRAME_CLIENT_INFO, (uint32_t)plen);
	len = DERP_FRAME_HDR_LEN + plen;
	/* SendPacket to ourselves, its length and bytes from the script. */
	pkt = get8(s) * 4u;
	if (pkt > s->n)
		pkt = s->n;
	frame_put_header(msg + len, FRAME_SEND_PACKET, (uint32_t)(KEY_LEN + pkt));
	memcpy(msg + len + DERP_FRAME_HDR_LEN, pub, KEY_LEN);
	memcpy(msg + len + DERP_FRAME_HDR_LEN + KEY_LEN, s->p, pkt);
	s->p += pkt;
	s->n -= pkt;
	len += DERP_FRAME_HDR_LEN + KEY_LEN + pkt;
	nwire = 0;
	put_messages(s, msg, len);
	fw_send(fd, wire, nwire);

	sent = msg + len - pkt;
	len = fw_recv(fd, out, sizeof(out), &eof);
	CHECK(!eof);
	n = decode(out + check_101(out, len), len - check_101(out, len));
	check_server_key(derp, n);
	for (off = 0; frame_get_header(derp + off, n - off, &type, &flen) &&
	    n - off - DERP_FRAME_HDR_LEN >= flen; off += DERP_FRAME_HDR_LEN + flen) {
		const uint8_t *fp = derp + off + DERP_FRAME_HDR_LEN;

		if (type == FRAME_SERVER_INFO)
			got |= 1;
		if (type == FRAME_RECV_PACKET) {
			CHECK(flen == KEY_LEN + pkt && memcmp(fp, pub, KEY_LEN) == 0);
			CHECK(memcmp(fp + KEY_LEN, sent, pkt) == 0);
			got |= 2;
		}
	}
	CHECK(got == 3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char upgrade[] = "GET /derp HTTP/1.1\r\nHost: derp.test\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Protocol: derp\r\n\r\n";
	struct script s;
	size_t len, head;
	int fd, eof;

	if (size < 1)
		return 0;
	fw_reset();
	s.p = data + 1;
	s.n = size - 1;
	if ((fd = fw_connect(0, NULL)) < 0)
		return 0;
	fw_send(fd, upgrade, sizeof(upgrade) - 1);
	if (data[0] & 1) {
		round_trip(fd, &s);
	} else {
		fw_send(fd, s.p, s.n);
		len = fw_recv(fd, out, sizeof(out), &eof);
		head = check_101(out, len);
		check_server_key(derp, decode(out + head, len - head));
	}
	fw_close(fd);
	return 0;
}
