/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Records from one worker (the producer) to another (the consumer) through
 * shared memory, single producer, single consumer, lock-free. A record's
 * bytes go into the producer's packet pool (pool.h); a small ring of
 * descriptors per ordered pair of workers says where each record is. So
 * packet memory grows with the number of workers, and only the descriptor
 * rings (RING_DESCS * 8 bytes each) with its square.
 *
 * Each side writes only its own region. The pool and the descriptor ring
 * (with its tail: records published) are in the producer's region, which
 * the consumer maps read-only; the consumer's head (records read) is in the
 * consumer's region, which the producer maps read-only. Neither trusts the
 * other's bytes: the consumer copies each descriptor and record header once
 * and checks them against the pool's bounds (a bad one discards everything
 * published so far); the producer believes a head only if it moves forward
 * and not past what was published, and frees a chunk only once the head it
 * believes has passed the chunk's last record, chunks it keeps track of in
 * its own memory. A lying consumer can lose its own records, no one else's.
 */
#ifndef DERPD_RING_H
#define DERPD_RING_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "pool.h"

enum ring_kind {
	RING_NONE = 0,		/* never sent: a record of this kind is malformed */
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

/* A record in the pool: this header, then the payload. */
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

/* Where record number n (n % RING_DESCS) is: pool offset and length. */
struct ring_desc {
	uint32_t	off;
	uint32_t	len;
};

#define RING_DESCS	1024	/* records in flight from one worker to another */
#define RING_MIN_SIZE	(256 * 1024)	/* least pool bytes for one consumer */
#define RING_PAYLOAD_MAX (POOL_CHUNK - sizeof(struct ring_rec))

/* In the producer's region, one per consumer. */
struct ring {
	uint64_t	tail;		/* records published */
	uint64_t	drops;		/* records refused for want of room */
	uint8_t		pad[48];
	struct ring_desc desc[RING_DESCS];
};

/* The producer's private view of its ring to one consumer. */
struct ring_tx {
	struct ring	*r;		/* read-write */
	const uint64_t	*head;		/* the consumer's published head, read-only */
	struct pool	*pool;		/* shared by all of the producer's rings */
	uint64_t	 tail;		/* the truth; r->tail is a copy for the consumer */
	uint64_t	 head_seen;	/* the highest believable head */
	uint32_t	 first, last;	/* the chunks this ring holds, oldest first */
	uint32_t	 held;		/* how many */
	uint32_t	 fill;		/* bytes used in the last one */
};

/* The consumer's private view of one producer's ring to it. */
struct ring_rx {
	const struct ring *r;		/* read-only */
	const uint8_t	*pool;		/* the producer's pool, read-only */
	size_t		 pool_size;
	uint64_t	*head_pub;	/* published for the producer, in our region */
	uint64_t	 head;		/* the truth */
};

/*
 * Producer: starts (or restarts) at the consumer's published position with
 * no chunks, so a new incarnation of either side resumes with an empty ring.
 * pool is the producer's, initialised with pool_init.
 */
void	ring_tx_start(struct ring_tx *tx, struct ring *r, const uint64_t *head,
	    struct pool *pool);
/*
 * The consumer's read position, as far as it is believable; frees the
 * chunks whose records it has read.
 */
uint64_t ring_tx_consumed(struct ring_tx *tx);
/*
 * Copies one record in. Returns 0, or -1 (counted in drops) when it does
 * not fit: no descriptor free, or no room in this ring's last chunk and no
 * chunk to be had (the pool is empty, or this ring holds its quota). Sets
 * *wake when the consumer may be asleep and must be signalled.
 */
int	ring_push(struct ring_tx *tx, uint16_t kind, uint32_t slot, uint32_t gen,
	    uint32_t epoch, const uint8_t key[KEY_LEN], const void *payload,
	    uint32_t payload_len, int *wake);
/* The same, with the payload in two parts (p1 then p2), copied once. */
int	ring_push2(struct ring_tx *tx, uint16_t kind, uint32_t slot, uint32_t gen,
	    uint32_t epoch, const uint8_t key[KEY_LEN], const void *p1,
	    uint32_t len1, const void *p2, uint32_t len2, int *wake);

/* Consumer: starts (or restarts) at the producer's tail: nothing old is read. */
void	ring_rx_start(struct ring_rx *rx, const struct ring *r,
	    const uint8_t *pool, size_t pool_size, uint64_t *head_pub);
/*
 * Copies the oldest record's header to *hdr (so the producer cannot change
 * it after it was checked), points *payload at its bytes in the pool and
 * returns 1; returns 0 when the ring is empty, -1 after discarding a
 * malformed ring. The payload may be read until ring_pop.
 */
int	ring_front(struct ring_rx *rx, struct ring_rec *hdr, const uint8_t **payload);
void	ring_pop(struct ring_rx *rx);

#endif
