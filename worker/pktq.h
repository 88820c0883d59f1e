/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client's packet queue, as derper's per-client sendQueue: up to
 * PKTQ_DEPTH whole frames, whatever their size, not yet started on the
 * connection's stream. Full, it gives up its oldest frame for a new one
 * (derper's queue_head drop). Every frame's bytes are charged to the
 * worker's budget, so many slow clients cannot take more than it.
 * No worker state: sendq.c puts it to work.
 */
#ifndef DERPD_PKTQ_H
#define DERPD_PKTQ_H

#include <stdint.h>

#define PKTQ_DEPTH	32	/* derper's sendQueue and discoSendQueue depth */

struct pktq_pkt {
	struct pktq_pkt	*next;
	uint32_t	 len;		/* bytes in data */
	uint32_t	 payload_len;	/* the packet's own, for the drop counters */
	uint8_t		 data[];
};

struct pktq {
	struct pktq_pkt	*head, *tail;	/* oldest first */
	uint32_t	 n;
};

/* A worker's packet memory; zeroed with max set is empty. */
struct pktq_budget {
	uint64_t	 used;		/* bytes of frames queued, headers included */
	uint64_t	 max;
};

/* What a frame of len bytes is charged. */
static inline uint64_t
pktq_charge(uint32_t len)
{
	return sizeof(struct pktq_pkt) + (uint64_t)len;
}

/* Whether b has room for a frame of len bytes. */
static inline int
pktq_fits(const struct pktq_budget *b, uint32_t len)
{
	return b->used <= b->max && pktq_charge(len) <= b->max - b->used;
}

/* A frame of len bytes charged to b; NULL when b is spent or out of memory. */
struct pktq_pkt *pktq_alloc(struct pktq_budget *b, uint32_t len,
	    uint32_t payload_len);
void	pktq_release(struct pktq_budget *b, struct pktq_pkt *p);
/* Appends p; q must not be full. */
void	pktq_push(struct pktq *q, struct pktq_pkt *p);
/* The oldest frame, taken off q; NULL when empty. */
struct pktq_pkt *pktq_pop(struct pktq *q);
/* Releases everything queued. */
void	pktq_clear(struct pktq *q, struct pktq_budget *b);

static inline int
pktq_full(const struct pktq *q)
{
	return q->n >= PKTQ_DEPTH;
}

#endif
