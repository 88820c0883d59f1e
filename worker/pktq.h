/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client's packet queue, as derper's per-client sendQueue: up to
 * PKTQ_DEPTH whole frames, whatever their size, not yet started on the
 * connection's stream. Each frame is a buffer of its own size (bufpool.h),
 * which goes onto the stream as it is, without another copy. Every
 * frame's bytes are charged to the worker's budget, so many slow clients
 * cannot take more than it. No worker state: sendq.c puts it to work.
 */
#ifndef DERPD_PKTQ_H
#define DERPD_PKTQ_H

#include <stdint.h>

#include "bufpool.h"

#define PKTQ_DEPTH	32	/* derper's sendQueue and discoSendQueue depth */

struct pktq {
	struct buf	*head, *tail;	/* oldest first */
	uint32_t	 n;
};

/* A worker's packet memory; zeroed with max set is empty. */
struct pktq_budget {
	uint64_t	 used;		/* bytes of frames queued, headers included */
	uint64_t	 max;
};

/* The capacity of the buffer pktq_alloc takes for a frame of len bytes. */
static inline uint32_t
pktq_cap(uint32_t len)
{
	return len > BUF_SIZE / 2 && len <= BUF_SIZE ? BUF_SIZE : len;
}

/* What a frame of len bytes is charged. */
static inline uint64_t
pktq_charge(uint32_t len)
{
	return sizeof(struct buf) + (uint64_t)pktq_cap(len);
}

/* Whether b has room for a frame of len bytes. */
static inline int
pktq_fits(const struct pktq_budget *b, uint32_t len)
{
	return b->used <= b->max && pktq_charge(len) <= b->max - b->used;
}

/*
 * A buffer for a frame of len bytes (wr = len, to be filled) charged to b:
 * a pool buffer (bufpool.h) for a frame of more than half of one, so that
 * large packets reuse memory instead of asking malloc for fresh pages each
 * time, else one of its own size. NULL when b is spent or out of memory.
 */
struct buf *pktq_alloc(struct pktq_budget *b, struct bufpool *pool,
	    uint32_t len);
/* What p is charged (its capacity). */
uint64_t pktq_held(const struct buf *p);
/* Takes p's charge off b (p is released, or handed on: the stream's now). */
void	pktq_uncharge(struct pktq_budget *b, const struct buf *p);
/* Uncharges p and gives it back (buf_put); NULL is fine. */
void	pktq_release(struct pktq_budget *b, struct bufpool *pool, struct buf *p);
/* Appends p; q must not be full. */
void	pktq_push(struct pktq *q, struct buf *p);
/* The oldest frame, taken off q; NULL when empty. */
struct buf *pktq_pop(struct pktq *q);

static inline int
pktq_full(const struct pktq *q)
{
	return q->n >= PKTQ_DEPTH;
}

#endif
