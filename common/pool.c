/* SPDX-License-Identifier: BSD-3-Clause */
#include "pool.h"

#include <stdlib.h>

int
pool_init(struct pool *p, uint8_t *base, uint32_t nchunks, uint32_t quota)
{
	uint32_t i;

	p->base = base;
	p->nchunks = nchunks;
	p->quota = quota;
	/* + 1: never a zero-size allocation (one worker has no pool) */
	p->next = calloc(nchunks + 1, sizeof(*p->next));
	p->end = calloc(nchunks + 1, sizeof(*p->end));
	if (p->next == NULL || p->end == NULL) {
		pool_free(p);
		return -1;
	}
	/* Lowest first: the chunks in use stay few and warm. */
	for (i = 0; i < nchunks; i++)
		p->next[i] = i + 1 < nchunks ? i + 1 : POOL_NONE;
	p->free = nchunks > 0 ? 0 : POOL_NONE;
	p->nfree = nchunks;
	return 0;
}

void
pool_free(struct pool *p)
{
	free(p->next);
	free(p->end);
	p->next = NULL;
	p->end = NULL;
	p->nchunks = p->nfree = 0;
	p->free = POOL_NONE;
}

uint32_t
pool_get(struct pool *p)
{
	uint32_t c = p->free;

	if (c == POOL_NONE)
		return c;
	p->free = p->next[c];
	p->next[c] = POOL_NONE;
	p->nfree--;
	return c;
}

void
pool_put(struct pool *p, uint32_t chunk)
{
	p->next[chunk] = p->free;
	p->free = chunk;
	p->nfree++;
}
