/* SPDX-License-Identifier: BSD-3-Clause */
#include "shm.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

static size_t
align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

static int
robust_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;
	int rc;

	if (pthread_mutexattr_init(&attr) != 0)
		return -1;
	rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) ||
	    pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

void
shm_create(struct shm *s, uint32_t nworkers, uint32_t table_cap,
    uint32_t ring_data)
{
	size_t table_off, rings_off, stride, total;
	uint32_t p, c;
	uint8_t *base;

	if (nworkers == 0 || nworkers > SHM_MAX_WORKERS)
		fatalx("shm: bad worker count %u", nworkers);
	if (ring_data < RING_MIN_SIZE || (ring_data & (ring_data - 1)) != 0)
		fatalx("shm: ring size must be a power of two >= %u",
		    RING_MIN_SIZE);
	table_off = align_up(sizeof(struct shm_header), 4096);
	rings_off = align_up(table_off + table_size(table_cap), 4096);
	stride = align_up(ring_size(ring_data), 4096);
	total = rings_off + stride * (nworkers + 1) * nworkers;

	base = mmap(NULL, total, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		fatal("shm: mmap %zu bytes", total);
	memset(s, 0, sizeof(*s));
	s->hdr = (struct shm_header *)base;
	s->rings = base + rings_off;
	s->ring_stride = stride;
	s->total = total;
	s->nworkers = nworkers;
	s->ring_data = ring_data;
	if (table_init(&s->table, base + table_off, table_cap, nworkers) != 0)
		fatalx("shm: cannot initialise the connection table");
	if (robust_mutex_init(&s->hdr->accept.lock) != 0)
		fatalx("shm: cannot initialise the accept limiter");
	for (p = 0; p <= nworkers; p++)
		for (c = 0; c < nworkers; c++)
			ring_init(shm_ring(s, p, c));
}

struct ring *
shm_ring(const struct shm *s, uint32_t p, uint32_t c)
{
	return (struct ring *)(s->rings +
	    s->ring_stride * ((size_t)p * s->nworkers + c));
}

uint64_t
shm_stat_total(const struct shm *s, enum stat_id id)
{
	uint64_t n = 0;
	uint32_t w;

	for (w = 0; w < s->nworkers; w++)
		n += __atomic_load_n(&s->hdr->workers[w].stats[id],
		    __ATOMIC_RELAXED);
	return n;
}

int
shm_accept_allow(const struct shm *s, double rate, double burst, int64_t now_ns)
{
	struct shm_accept *a = &s->hdr->accept;
	int rc, ok;

	if ((rc = pthread_mutex_lock(&a->lock)) == EOWNERDEAD)
		pthread_mutex_consistent(&a->lock);	/* the bucket is always valid */
	else if (rc != 0)
		return 1;	/* fail open: never wedge accepts */
	ok = bucket_allow(&a->bucket, rate, burst, now_ns);
	if (ok)
		a->accepted++;
	else
		a->rejected++;
	pthread_mutex_unlock(&a->lock);
	return ok;
}

int
shm_rate_get(const struct shm *s, uint64_t *bps, uint64_t *burst)
{
	const struct shm_rate *r = &s->hdr->rate;
	uint64_t s1;

	do {
		s1 = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
		*bps = __atomic_load_n(&r->bytes_per_sec, __ATOMIC_RELAXED);
		*burst = __atomic_load_n(&r->burst, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((s1 & 1) || s1 != __atomic_load_n(&r->seq, __ATOMIC_RELAXED));
	return *bps != 0;
}

void
shm_rate_set(const struct shm *s, uint64_t bps, uint64_t burst)
{
	struct shm_rate *r = &s->hdr->rate;

	__atomic_store_n(&r->seq, r->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&r->bytes_per_sec, bps, __ATOMIC_RELAXED);
	__atomic_store_n(&r->burst, burst, __ATOMIC_RELAXED);
	__atomic_store_n(&r->seq, r->seq + 1, __ATOMIC_RELEASE);
}
