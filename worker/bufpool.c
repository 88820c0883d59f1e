/* SPDX-License-Identifier: BSD-3-Clause */
#include "bufpool.h"

#include <stdlib.h>

#define POOL_MAX	256	/* cached buffers kept per worker (17 MiB) */

static struct buf *pool;
static unsigned int pool_len;

struct buf *
buf_get(void)
{
	struct buf *b = pool;

	if (b != NULL) {
		pool = b->next;
		pool_len--;
	} else if ((b = malloc(sizeof(*b))) == NULL)
		return NULL;
	b->next = NULL;
	b->rd = b->wr = 0;
	return b;
}

void
buf_put(struct buf *b)
{
	if (b == NULL)
		return;
	if (pool_len >= POOL_MAX) {
		free(b);
		return;
	}
	b->next = pool;
	pool = b;
	pool_len++;
}

void
bufpool_trim(void)
{
	struct buf *b;

	while ((b = pool) != NULL) {
		pool = b->next;
		free(b);
	}
	pool_len = 0;
}
