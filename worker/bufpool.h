/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixed-size buffers shared by a worker's connections for input and output
 * queues. A buffer holds the largest frame, so frames are parsed in place.
 * Idle connections hold none; drained buffers go back to a bounded free list
 * instead of to malloc, so the packet path does not allocate.
 */
#ifndef DERPD_BUFPOOL_H
#define DERPD_BUFPOOL_H

#include <stdint.h>

#define BUF_SIZE	(64 * 1024 + 4096)

struct buf {
	struct buf	*next;
	uint32_t	 rd;	/* first unconsumed byte */
	uint32_t	 wr;	/* end of data */
	uint8_t		 data[BUF_SIZE];
};

/* The free list; zeroed is empty. */
struct bufpool {
	struct buf	*free;
	unsigned int	 len;
};

struct buf *buf_get(struct bufpool *p);		/* NULL when out of memory */
void	buf_put(struct bufpool *p, struct buf *b);	/* NULL is fine */
/* Moves the unread bytes to the front, making room at the end. */
void	buf_compact(struct buf *b);

#endif
