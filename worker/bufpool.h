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

struct buf *buf_get(void);		/* NULL when out of memory */
void	buf_put(struct buf *b);		/* NULL is fine */
void	bufpool_trim(void);		/* release cached buffers */

#endif
