/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Buffers for a connection's input and output queues. Pool buffers hold
 * the largest frame, so frames are parsed in place; drained ones go back to
 * a bounded free list instead of to malloc, so the packet path does not
 * allocate. Idle connections hold none. A connection that has not logged
 * in reads into a buffer of its own size instead (buf_new, buf_grow), so
 * that what it holds follows what it has sent.
 */
#ifndef DERPD_BUFPOOL_H
#define DERPD_BUFPOOL_H

#include <stdint.h>

#define BUF_SIZE	(64 * 1024 + 4096)

struct buf {
	struct buf	*next;
	uint32_t	 rd;	/* first unconsumed byte */
	uint32_t	 wr;	/* end of data */
	uint32_t	 cap;	/* bytes in data: BUF_SIZE for the pool's */
	uint8_t		 data[];
};

/* The free list; zeroed is empty. */
struct bufpool {
	struct buf	*free;
	unsigned int	 len;
};

struct buf *buf_get(struct bufpool *p);		/* NULL when out of memory */
/* A buffer of cap bytes, outside the pool; NULL when out of memory. */
struct buf *buf_new(uint32_t cap);
/* Moves *b's bytes to the front of a buffer of cap >= its data; -1 when out of memory. */
int	buf_grow(struct buf **b, uint32_t cap);
void	buf_put(struct bufpool *p, struct buf *b);	/* NULL is fine */
/* Moves the unread bytes to the front, making room at the end. */
void	buf_compact(struct buf *b);

#endif
