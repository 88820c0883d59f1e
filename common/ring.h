/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Single-producer/single-consumer byte ring in shared memory carrying
 * variable-length records between two workers. Offsets only grow; a record
 * never wraps (a PAD record fills the end instead). Lock-free.
 *
 * Each side writes only its own region: the ring (data and tail) lives in
 * the producer's region, which the consumer maps read-only; the consumer's
 * position (head) lives in the consumer's region, which the producer maps
 * read-only. Both keep their own position privately and only publish it, so
 * neither ever trusts the other's bytes: the consumer checks every record
 * header (a bad one resets the ring), the producer ignores a head that goes
 * backwards or past what it produced.
 */
#ifndef DERPD_RING_H
#define DERPD_RING_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

enum ring_kind {
	RING_PAD = 0,		/* filler up to the end of the buffer */
	RING_PACKET,		/* key = source; deliver to (slot, gen) */
	RING_CLOSE,		/* close (slot, gen): evicted, or ClosePeer */
	RING_DUP,		/* (slot, gen) now shares its key with another */
	RING_PEER_GONE,		/* key left the server: tell who heard from it */
	RING_PEER_PRESENT,	/* key arrived: tell mesh watchers (payload: peer info) */
	RING_FORWARD,		/* key = source; payload: destination key, packet;
				 * out on mesh link (slot, gen) as ForwardPacket */
	RING_LOCAL_GONE,	/* key's last connection here left, a peer relay
				 * still has it: tell mesh watchers only */
	RING_REGION_GONE,	/* key left the region (its last remote route
				 * went): tell who heard from it */
	RING_SWEEP,		/* a mesh link went down: PeerGone for every
				 * source heard from that is nowhere now */
	RING_KIND_MAX,
};

struct ring_rec {
	uint32_t	len;		/* whole record, multiple of 8 */
	uint16_t	kind;
	uint16_t	flags;
	uint32_t	slot;
	uint32_t	gen;
	uint32_t	payload_len;
	uint32_t	epoch;		/* the consumer's incarnation (slot, gen) belong to */
	uint8_t		key[KEY_LEN];
	uint8_t		payload[];
};

/* In the producer's region. */
struct ring {
	uint64_t	tail;
	uint64_t	drops;		/* records refused because the ring was full */
	uint8_t		pad[48];
	uint8_t		data[];
};

/* The producer's private view of one ring. */
struct ring_tx {
	struct ring	*r;		/* read-write */
	const uint64_t	*head;		/* the consumer's published head, read-only */
	uint64_t	 tail;		/* the truth; r->tail is a copy for the consumer */
	uint64_t	 head_seen;	/* the highest believable head */
	uint32_t	 size;		/* data bytes, power of two */
};

/* The consumer's private view of one ring. */
struct ring_rx {
	const struct ring *r;		/* read-only */
	uint64_t	*head_pub;	/* published for the producer, in our region */
	uint64_t	 head;		/* the truth */
	uint32_t	 size;
};

#define RING_REC_MAX	(sizeof(struct ring_rec) + 65536 + 64)
#define RING_MIN_SIZE	(256 * 1024)

size_t	ring_size(uint32_t data_size);

/*
 * Producer: starts (or restarts) at the consumer's published position, so a
 * new incarnation of either side resumes with an empty ring.
 */
void	ring_tx_start(struct ring_tx *tx, struct ring *r, const uint64_t *head,
	    uint32_t size);
/* The consumer's read position, as far as it is believable. */
uint64_t ring_tx_consumed(struct ring_tx *tx);
/*
 * Copies one record in. Returns 0, or -1 (counted in drops) when it does not
 * fit. Sets *wake when the consumer may be asleep and must be signalled.
 */
int	ring_push(struct ring_tx *tx, uint16_t kind, uint32_t slot, uint32_t gen,
	    uint32_t epoch, const uint8_t key[KEY_LEN], const void *payload,
	    uint32_t payload_len, int *wake);
/* The same, with the payload in two parts (p1 then p2), copied once. */
int	ring_push2(struct ring_tx *tx, uint16_t kind, uint32_t slot, uint32_t gen,
	    uint32_t epoch, const uint8_t key[KEY_LEN], const void *p1,
	    uint32_t len1, const void *p2, uint32_t len2, int *wake);

/* Consumer: starts (or restarts) at the producer's tail: nothing old is read. */
void	ring_rx_start(struct ring_rx *rx, const struct ring *r, uint64_t *head_pub,
	    uint32_t size);
/*
 * Copies the oldest record's header to *hdr (so the producer cannot change
 * it after it was checked), points *payload at its bytes and returns 1;
 * returns 0 when the ring is empty, -1 after discarding a malformed ring.
 */
int	ring_front(struct ring_rx *rx, struct ring_rec *hdr, const uint8_t **payload);
void	ring_pop(struct ring_rx *rx, const struct ring_rec *hdr);

#endif
