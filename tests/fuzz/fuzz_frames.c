/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/frame.c: the checks the worker applies to
 * every frame header a client sends.
 *
 * The input is a client's byte stream after the HTTP upgrade, walked the way
 * worker/conn.c walks it: the first frame goes through
 * frame_check_client_info, the rest through frame_check_client (ACCEPT: the
 * payload must be there, then it is consumed; SKIP: the payload is skipped,
 * however much of it has arrived; REJECT: the client is closed). Every
 * verdict is compared with the limits spelled out in the DERP protocol, and
 * packet_looks_like_disco is tried on accepted packets and on slices.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"

/* What the protocol says, written independently of frame.c. */
static enum frame_verdict
expected_client(uint8_t type, uint32_t len)
{
	uint64_t l = len;

	switch (type) {
	case FRAME_SEND_PACKET:
		return l >= 32 && l <= 32 + 65536 ? FRAME_ACCEPT : FRAME_REJECT;
	case FRAME_FORWARD_PACKET:
		return l >= 64 && l <= 64 + 65536 ? FRAME_ACCEPT : FRAME_REJECT;
	case FRAME_NOTE_PREFERRED:
		return l == 1 ? FRAME_ACCEPT : FRAME_REJECT;
	case FRAME_WATCH_CONNS:
		return l == 0 ? FRAME_ACCEPT : FRAME_REJECT;
	case FRAME_CLOSE_PEER:
		return l == 32 ? FRAME_ACCEPT : FRAME_REJECT;
	case FRAME_PING:
		return l >= 8 && l <= 1000 ? FRAME_ACCEPT : FRAME_REJECT;
	case FRAME_PONG:
		return l == 8 ? FRAME_ACCEPT : FRAME_SKIP;
	default:
		return FRAME_SKIP;
	}
}

static int
expected_disco(const uint8_t *p, size_t len)
{
	return len >= 6 + 32 + 24 && p[0] == 'T' && p[1] == 'S' &&
	    p[2] == 0xf0 && p[3] == 0x9f && p[4] == 0x92 && p[5] == 0xac;
}

static void
check_disco(const uint8_t *p, size_t len)
{
	int got = packet_looks_like_disco(p, len);

	CHECK(got == 0 || got == 1);
	CHECK(got == expected_disco(p, len));
}

static void
check_header_roundtrip(uint8_t type, uint32_t len)
{
	uint8_t hdr[DERP_FRAME_HDR_LEN], t2;
	uint32_t l2;

	frame_put_header(hdr, type, len);
	CHECK(frame_get_header(hdr, sizeof(hdr), &t2, &l2) == 1);
	CHECK(t2 == type && l2 == len);
	CHECK(frame_get_header(hdr, sizeof(hdr) - 1, &t2, &l2) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	enum frame_verdict v;
	size_t off = 0, avail, i;
	uint64_t skip = 0;
	uint32_t len;
	uint8_t type;

	/* Handshake: the first frame must be a ClientInfo of sane size. */
	if (!frame_get_header(data, size, &type, &len)) {
		CHECK(size < DERP_FRAME_HDR_LEN);
		return 0;
	}
	CHECK(type == data[0]);
	check_header_roundtrip(type, len);
	why = NULL;
	v = frame_check_client_info(type, len, &why);
	CHECK(v == FRAME_ACCEPT || v == FRAME_REJECT);
	CHECK((v == FRAME_ACCEPT) == (type == FRAME_CLIENT_INFO &&
	    len >= KEY_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD &&
	    len <= DERP_MAX_CLIENTINFO));
	if (v == FRAME_REJECT)
		CHECK(why != NULL && why[0] != '\0');
	if (v == FRAME_ACCEPT && size - DERP_FRAME_HDR_LEN >= len)
		off = DERP_FRAME_HDR_LEN + len;	/* handshake done */
	/* Otherwise treat the whole input as post-handshake frames too. */

	/* Relay: worker/conn.c's loop. */
	for (;;) {
		avail = size - off;
		if (skip > 0) {
			/* Payload of a skipped frame; it may span reads. */
			len = skip < avail ? (uint32_t)skip : (uint32_t)avail;
			off += len;
			skip -= len;
			if (skip > 0)
				break;		/* stream ended mid-payload */
			continue;
		}
		if (!frame_get_header(data + off, avail, &type, &len)) {
			CHECK(avail < DERP_FRAME_HDR_LEN);
			break;
		}
		why = NULL;
		v = frame_check_client(type, len, &why);
		CHECK(v == FRAME_ACCEPT || v == FRAME_SKIP || v == FRAME_REJECT);
		CHECK(v == expected_client(type, len));
		if (v == FRAME_REJECT) {
			CHECK(why != NULL && why[0] != '\0');
			break;
		}
		if (v == FRAME_SKIP) {
			off += DERP_FRAME_HDR_LEN;
			skip = len;
			continue;
		}
		/* Accepted: the worker bounds its buffer by these. */
		CHECK(len <= KEY_LEN * 2 + DERP_MAX_PACKET);
		if (type == FRAME_SEND_PACKET)
			CHECK(len >= 32 && len <= 32 + 65536);
		if (avail - DERP_FRAME_HDR_LEN < len)
			break;		/* the worker waits for more */
		{
			const uint8_t *payload = data + off + DERP_FRAME_HDR_LEN;

			CHECK(payload + len <= data + size);
			if (type == FRAME_SEND_PACKET)
				check_disco(payload + KEY_LEN, len - KEY_LEN);
			else if (type == FRAME_FORWARD_PACKET)
				check_disco(payload + 2 * KEY_LEN,
				    len - 2 * KEY_LEN);
		}
		off += DERP_FRAME_HDR_LEN + len;
		CHECK(off <= size);
	}

	/* The disco sniffing on arbitrary slices of the input. */
	for (i = 0; i < size && i < 64; i++)
		check_disco(data + i, size - i);
	check_disco(data, 0);
	return 0;
}
