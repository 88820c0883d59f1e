/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Single-producer/single-consumer byte ring in shared memory carrying
 * variable-length records between processes. Offsets only grow; a record
 * never wraps (a PAD record fills the end instead). Lock-free: a producer
 * that dies leaves at most an unpublished record behind.
 *
 * The consumer validates every record header, since the producer is another
 * (sandboxed, but untrusted) process; a bad record resets the ring.
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
	RING_KIND_MAX,
};

struct ring_rec {
	uint32_t	len;		/* whole record, multiple of 8 */
	uint16_t	kind;
	uint16_t	flags;
	uint32_t	slot;
	uint32_t	gen;
	uint32_t	payload_len;
	uint32_t	reserved;
	uint8_t		key[KEY_LEN];
	uint8_t		payload[];
};

struct ring {
	uint64_t	tail;		/* producer-owned */
	uint64_t	drops;		/* records refused because the ring was full */
	uint8_t		pad0[48];
	uint64_t	head;		/* consumer-owned */
	uint64_t	resets;		/* corrupt records seen by the consumer */
	uint8_t		pad1[48];
	uint8_t		data[];
};

#define RING_REC_MAX	(sizeof(struct ring_rec) + 65536 + 64)
#define RING_MIN_SIZE	(256 * 1024)

size_t	ring_size(uint32_t data_size);
void	ring_init(struct ring *r);

/*
 * Producer: copies one record in. Returns 0, or -1 (counted in drops) when
 * it does not fit. Sets *wake when the consumer may be asleep and must be
 * signalled.
 */
int	ring_push(struct ring *r, uint32_t size, uint16_t kind, uint32_t slot,
	    uint32_t gen, const uint8_t key[KEY_LEN], const void *payload,
	    uint32_t payload_len, int *wake);

/*
 * Consumer: copies the oldest record's header to *hdr (so the producer cannot
 * change it after it was checked), points *payload at its bytes and returns
 * 1; returns 0 when the ring is empty. ring_pop releases the record. A
 * malformed record resets the ring.
 */
int	ring_front(struct ring *r, uint32_t size, struct ring_rec *hdr,
	    const uint8_t **payload);
void	ring_pop(struct ring *r, const struct ring_rec *hdr);
/* Discards everything queued (consumer side, or on behalf of a dead one). */
void	ring_discard(struct ring *r);
uint64_t ring_used(struct ring *r);

#endif
