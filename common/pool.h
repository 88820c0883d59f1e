/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker's packet pool: the part of its shared-memory region that holds
 * the records it sends to the other workers, cut into chunks of POOL_CHUNK
 * bytes (each holds the largest record). A destination's records fill a
 * chain of chunks in order (ring.c); a chunk goes back on the free list
 * once that destination's consumer has read past its last record. No
 * destination may hold more than the quota, so a consumer that never reads
 * pins that much of the pool and no more; the pool holds up to
 * POOL_SHARES quotas (shm.c), so three consumers may stop reading and the
 * producer still sends to every other at full speed.
 *
 * This bookkeeping is the producer's alone, in private memory: the chunks'
 * bytes are shared, but which chunk belongs to whom never is, and nothing
 * a consumer publishes can put a chunk in two lists.
 */
#ifndef DERPD_POOL_H
#define DERPD_POOL_H

#include <stddef.h>
#include <stdint.h>

#define POOL_CHUNK	(68 * 1024)	/* a page multiple */
#define POOL_NONE	UINT32_MAX
#define POOL_SHARES	4

struct pool {
	uint8_t		*base;		/* nchunks * POOL_CHUNK bytes, shared */
	uint32_t	 nchunks;
	uint32_t	 quota;		/* chunks one destination may hold */
	uint32_t	 free;		/* first free chunk, or POOL_NONE */
	uint32_t	 nfree;
	uint32_t	*next;		/* per chunk: the next one in its list */
	uint64_t	*end;		/* per chunk: its stream's tail after its
					 * last record (ring.c) */
};

/*
 * All nchunks chunks at base free, quota of them for any one destination.
 * Returns -1 when out of memory.
 */
int	pool_init(struct pool *p, uint8_t *base, uint32_t nchunks,
	    uint32_t quota);
void	pool_free(struct pool *p);
/* A free chunk, or POOL_NONE. */
uint32_t pool_get(struct pool *p);
void	pool_put(struct pool *p, uint32_t chunk);

#endif
