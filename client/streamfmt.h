/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The byte stream of derpd-client send/recv over DERP, which may drop
 * packets by design. Each DERP packet between the two clients is an
 * end-to-end envelope (crypto.h) around one message; numbers big-endian:
 *
 *	DATA	'D' | stream (4) | seq (4) | 1..STREAM_CHUNK bytes
 *	FIN	'F' | stream (4) | seq (4)	end of stream: no seq after it
 *	ACK	'A' | stream (4) | next (4)	every seq below next has arrived
 *	DONE	'Z' | stream (4)		FIN's ACK arrived; the sender quits
 *
 * stream is random per send, so a receiver ignores anything else. seq
 * counts messages from 0; FIN takes the number after the last DATA. The
 * receiver acknowledges every message it gets, cumulatively (a lost ACK is
 * repaired by the next one), and keeps out-of-order DATA within the window.
 * The sender keeps at most STREAM_WINDOW messages unacknowledged,
 * retransmits the oldest after a timeout (from the measured round trip,
 * doubling while nothing is acknowledged) or on a third duplicate ACK, and
 * succeeds once FIN is acknowledged. DONE is a courtesy; a receiver that
 * misses it stops after STREAM_LINGER_MS of silence.
 */
#ifndef CLIENT_STREAMFMT_H
#define CLIENT_STREAMFMT_H

#include <stddef.h>
#include <stdint.h>

#define STREAM_CHUNK		16384	/* well under DERP's 64 KiB */
#define STREAM_WINDOW		16	/* messages in flight: 256 KiB */
#define STREAM_HDR_LEN		9
#define STREAM_MSG_MAX		(STREAM_HDR_LEN + STREAM_CHUNK)
#define STREAM_LINGER_MS	2000

enum smsg_kind {
	SMSG_DATA = 'D',
	SMSG_FIN = 'F',
	SMSG_ACK = 'A',
	SMSG_DONE = 'Z',
};

struct smsg {
	uint8_t		 kind;
	uint32_t	 stream;
	uint32_t	 seq;		/* DATA, FIN: its number; ACK: next */
	const uint8_t	*data;		/* DATA only */
	size_t		 len;
};

/* Writes m into out[STREAM_MSG_MAX]; returns its length. */
size_t	smsg_encode(uint8_t *out, const struct smsg *m);
/* Parses a decrypted message; -1 if it is not exactly one of the above. */
int	smsg_decode(const uint8_t *p, size_t len, struct smsg *m);

#endif
