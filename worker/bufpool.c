/* SPDX-License-Identifier: BSD-3-Clause */
#include "bufpool.h"

#include <stdlib.h>
#include <string.h>

#define POOL_MAX	256	/* cached buffers kept per worker (17 MiB) */

struct buf *
buf_get(struct bufpool *p)
{
	struct buf *b = p->free;

	if (b != NULL) {
		p->free = b->next;
		p->len--;
	} else if ((b = buf_new(BUF_SIZE)) == NULL)
		return NULL;
	b->next = NULL;
	b->rd = b->wr = 0;
	return b;
}

struct buf *
buf_new(uint32_t cap)
{
	struct buf *b = malloc(sizeof(*b) + cap);

	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->rd = b->wr = 0;
	b->cap = cap;
	return b;
}

int
buf_grow(struct buf **b, uint32_t cap)
{
	struct buf *nb;

	buf_compact(*b);
	if (cap < (*b)->wr || (nb = realloc(*b, sizeof(*nb) + cap)) == NULL)
		return -1;
	nb->cap = cap;
	*b = nb;
	return 0;
}

void
buf_put(struct bufpool *p, struct buf *b)
{
	if (b == NULL)
		return;
	if (b->cap != BUF_SIZE || p->len >= POOL_MAX) {
		free(b);
		return;
	}
	b->next = p->free;
	p->free = b;
	p->len++;
}

void
buf_compact(struct buf *b)
{
	if (b->rd == 0)
		return;
	memmove(b->data, b->data + b->rd, b->wr - b->rd);
	b->wr -= b->rd;
	b->rd = 0;
}
