/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for client/derpmsg.c: what derpd-client reads from a
 * relay after the HTTP upgrade, walked as client/derpconn.c walks it.
 *
 * The input is the relay's byte stream. Frames are split off one by one;
 * the first goes through the ServerKey parser, a ServerInfo frame through
 * the box-opening and JSON parser (the fuzzer cannot forge a box, so the
 * harness seals the frame's payload, taken as the JSON, with fixed keys
 * first: the opening and the JSON parser both see fuzzed data), and the
 * rest through the RecvPacket and PeerGone parsers. Invariants: a split
 * frame lies inside the input and its length is the header's; parsed
 * fields point inside the frame; a too-long frame is refused, never split.
 */
#include <sodium.h>
#include <string.h>

#include "derpmsg.h"
#include "fuzz.h"

static uint8_t server_pub[KEY_LEN], server_priv[KEY_LEN];
static uint8_t client_pub[KEY_LEN], client_priv[KEY_LEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(server_priv, 0x11, sizeof(server_priv));
	memset(client_priv, 0x22, sizeof(client_priv));
	crypto_scalarmult_base(server_pub, server_priv);
	crypto_scalarmult_base(client_pub, client_priv);
	return 0;
}

static int
inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
	return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

/* Seals the payload as ServerInfo JSON and checks it opens and parses. */
static void
server_info(const struct dmsg *m)
{
	static uint8_t buf[DERP_NONCE_LEN + DERP_BOX_OVERHEAD + DMSG_PAYLOAD_MAX];
	struct server_info si;
	struct dmsg sealed = { FRAME_SERVER_INFO, buf, 0, 0 };
	const char *why = NULL;
	int r;

	memset(buf, 0x5a, DERP_NONCE_LEN);
	CHECK(crypto_box_easy(buf + DERP_NONCE_LEN, m->payload, m->len, buf,
	    client_pub, server_priv) == 0);
	sealed.len = DERP_NONCE_LEN + DERP_BOX_OVERHEAD + m->len;
	r = dmsg_server_info(&sealed, server_pub, client_priv, &si, &why);
	CHECK(r == 0 || why != NULL);
	CHECK(r != 0 || m->len <= DMSG_INFO_MAX);
	r = dmsg_server_info(m, server_pub, client_priv, &si, &why);
	CHECK(r != 0);	/* no box is forged by chance */
}

static void
check_frame(const struct dmsg *m, int first)
{
	uint8_t key[KEY_LEN];
	const uint8_t *src, *pkt;
	size_t len;
	int reason;

	if (first && dmsg_server_key(m, key) == 0)
		CHECK(m->type == FRAME_SERVER_KEY &&
		    memcmp(key, m->payload + DERP_MAGIC_LEN, KEY_LEN) == 0);
	if (m->type == FRAME_SERVER_INFO)
		server_info(m);
	if (dmsg_recv_packet(m, &src, &pkt, &len) == 0)
		CHECK(src == m->payload && pkt == m->payload + KEY_LEN &&
		    len == m->len - KEY_LEN);
	if (dmsg_peer_gone(m, &src, &reason) == 0)
		CHECK(src == m->payload && reason >= 0 && reason <= 255);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	struct dmsg m;
	int r, first = 1;

	while ((r = dmsg_split(data + off, size - off, &m)) == 1) {
		CHECK(m.total == DERP_FRAME_HDR_LEN + (size_t)m.len);
		CHECK(m.len <= DMSG_PAYLOAD_MAX);
		CHECK(inside(m.payload, m.len, data + off, size - off));
		check_frame(&m, first);
		first = 0;
		off += m.total;
	}
	if (r < 0)
		CHECK(size - off >= DERP_FRAME_HDR_LEN);
	return 0;
}
