/* SPDX-License-Identifier: BSD-3-Clause */
#include "shm.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "seqlock.h"

#define PAGE	4096

static size_t
align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

/* Descriptor rings share pages: the same producer writes them all. */
static size_t
ring_stride(void)
{
	return align_up(sizeof(struct ring), 64);
}

static size_t
worker_rings_off(void)
{
	return align_up(sizeof(struct shm_counters), PAGE) +
	    align_up(sizeof(struct shm_heads), PAGE);
}

static size_t
master_table_off(void)
{
	return align_up(sizeof(struct shm_ctl), PAGE) +
	    align_up(sizeof(struct shm_tls), PAGE);
}

static size_t
master_size(const struct shm *s)
{
	return master_table_off() + table_size(s->max_conns, s->max_remote);
}

static size_t
pool_off(const struct shm *s)
{
	return align_up(worker_rings_off() + ring_stride() * (s->nworkers - 1),
	    PAGE);
}

static size_t
worker_size(const struct shm *s)
{
	return pool_off(s) + (size_t)shm_pool_chunks(s) * POOL_CHUNK;
}

uint32_t
shm_pool_quota(const struct shm *s)
{
	return (s->ring_data + POOL_CHUNK - 1) / POOL_CHUNK;
}

uint32_t
shm_pool_chunks(const struct shm *s)
{
	uint32_t others = s->nworkers - 1;

	return shm_pool_quota(s) * (others < POOL_SHARES ? others : POOL_SHARES);
}

uint8_t *
shm_pool(const struct shm *s, uint32_t p)
{
	return (uint8_t *)s->worker[p].base + pool_off(s);
}

static size_t
region_size(const struct shm *s, int idx)
{
	switch (idx) {
	case 0:
		return align_up(master_size(s), PAGE);
	case 1:
		return align_up(sizeof(struct shm_stun), PAGE);
	case 2:
		return align_up(sizeof(struct shm_dns), PAGE);
	default:
		return align_up(worker_size(s), PAGE);
	}
}

/* A sealed memfd of size bytes, and a read-only descriptor of it. */
static void
region_create(struct shm_region *r, const char *name, size_t size)
{
	char path[64];

	r->size = align_up(size, PAGE);
	r->base = NULL;
	if ((r->rw_fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0)
		fatal("memfd_create %s", name);
	/* 0400: not even the owner can reopen it writable through /proc. */
	if (ftruncate(r->rw_fd, (off_t)r->size) != 0 || fchmod(r->rw_fd, 0400) != 0 ||
	    fcntl(r->rw_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) != 0)
		fatal("shared memory %s (%zu bytes)", name, r->size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->rw_fd);
	if ((r->ro_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fatal("%s: cannot reopen read-only (is /proc mounted?)", name);
}

static void
region_map(struct shm_region *r, int writable)
{
	int fd = writable ? r->rw_fd : r->ro_fd;

	if (fd < 0)
		fatalx("shared memory: no descriptor to map");
	r->base = mmap(NULL, r->size, PROT_READ | (writable ? PROT_WRITE : 0),
	    MAP_SHARED, fd, 0);
	if (r->base == MAP_FAILED)
		fatal("mmap %zu bytes of shared memory", r->size);
	r->writable = writable;
}

static void
region_unmap(struct shm_region *r)
{
	if (r->base != NULL)
		munmap(r->base, r->size);
	r->base = NULL;
}

static void
region_close(struct shm_region *r)
{
	if (r->rw_fd >= 0)
		close(r->rw_fd);
	if (r->ro_fd >= 0)
		close(r->ro_fd);
	r->rw_fd = r->ro_fd = -1;
}

/* Typed pointers into whatever is mapped. */
static void
set_pointers(struct shm *s)
{
	uint8_t *m = s->master.base;
	uint32_t i;

	s->ctl = (struct shm_ctl *)m;
	s->tls = m == NULL ? NULL :
	    (struct shm_tls *)(m + align_up(sizeof(struct shm_ctl), PAGE));
	if (m != NULL)
		table_attach(&s->table, m + master_table_off(), s->max_conns,
		    s->max_remote, s->nworkers, s->table_hash_key);
	s->stun = s->stun_region.base;
	s->dns = s->dns_region.base;
	for (i = 0; i < s->nworkers; i++) {
		m = s->worker[i].base;
		s->counters[i] = (struct shm_counters *)m;
		s->heads[i] = m == NULL ? NULL : (struct shm_heads *)(m +
		    align_up(sizeof(struct shm_counters), PAGE));
	}
}

void
shm_create(struct shm *s, uint32_t nworkers, uint32_t max_conns,
    uint32_t max_remote, uint32_t ring_data)
{
	char name[32];
	uint32_t i;

	if (nworkers == 0 || nworkers > SHM_MAX_WORKERS)
		fatalx("shm: bad worker count %u", nworkers);
	if (ring_data < RING_MIN_SIZE || (ring_data & (ring_data - 1)) != 0)
		fatalx("shm: ring size must be a power of two >= %u",
		    RING_MIN_SIZE);
	memset(s, 0, sizeof(*s));
	s->nworkers = nworkers;
	s->ring_data = ring_data;
	s->max_conns = max_conns;
	s->max_remote = max_remote;
	randombytes_buf(s->table_hash_key, sizeof(s->table_hash_key));
	region_create(&s->master, "derpd-master", region_size(s, 0));
	region_create(&s->stun_region, "derpd-stun", region_size(s, 1));
	region_create(&s->dns_region, "derpd-dns", region_size(s, 2));
	for (i = 0; i < nworkers; i++) {
		snprintf(name, sizeof(name), "derpd-worker%u", i);
		region_create(&s->worker[i], name, region_size(s, 3 + (int)i));
	}
	shm_enter_role(s, SHM_MASTER, 0);
	if (table_init(&s->table) != 0)
		fatalx("shm: out of memory for the connection table");
}

int
shm_nregions(const struct shm *s)
{
	return 3 + (int)s->nworkers;
}

struct shm_region *
shm_region_at(struct shm *s, int idx)
{
	switch (idx) {
	case 0:
		return &s->master;
	case 1:
		return &s->stun_region;
	case 2:
		return &s->dns_region;
	default:
		return idx >= 3 && idx < shm_nregions(s) ? &s->worker[idx - 3] : NULL;
	}
}

int
shm_role_maps(const struct shm *s, enum shm_role role, uint32_t id, int idx,
    int *writable)
{
	*writable = 0;
	switch (role) {
	case SHM_NONE:
		return 0;
	case SHM_MASTER:
		*writable = idx == 0;
		return 1;
	case SHM_WORKER:
		*writable = idx == 3 + (int)id;
		return 1;
	case SHM_STUN:
		*writable = 1;
		return idx == 1;
	case SHM_DNS:
		*writable = 1;
		return idx == 2;
	}
	(void)s;
	return 0;
}

static void
enter_region(struct shm *s, int idx, enum shm_role role, uint32_t id)
{
	struct shm_region *r = shm_region_at(s, idx);
	int writable;

	region_unmap(r);
	if (shm_role_maps(s, role, id, idx, &writable))
		region_map(r, writable);
	if (role != SHM_MASTER)
		region_close(r);
}

void
shm_enter_role(struct shm *s, enum shm_role role, uint32_t id)
{
	int i;

	for (i = 0; i < shm_nregions(s); i++)
		enter_region(s, i, role, id);
	set_pointers(s);
}

void
shm_import(struct shm *s, uint32_t nworkers, uint32_t max_conns,
    uint32_t max_remote, uint32_t ring_data, const uint8_t hash_key[16])
{
	int i;

	if (nworkers == 0 || nworkers > SHM_MAX_WORKERS || ring_data < RING_MIN_SIZE ||
	    (ring_data & (ring_data - 1)) != 0 || max_conns == 0 ||
	    max_remote > max_conns)
		fatalx("shm: bad layout in the set-up");
	memset(s, 0, sizeof(*s));
	s->nworkers = nworkers;
	s->ring_data = ring_data;
	s->max_conns = max_conns;
	s->max_remote = max_remote;
	memcpy(s->table_hash_key, hash_key, sizeof(s->table_hash_key));
	for (i = 0; i < shm_nregions(s); i++) {
		shm_region_at(s, i)->rw_fd = shm_region_at(s, i)->ro_fd = -1;
		shm_region_at(s, i)->size = region_size(s, i);
	}
}

struct ring *
shm_ring(const struct shm *s, uint32_t p, uint32_t c)
{
	uint32_t idx = c < p ? c : c - 1;	/* no ring to itself */

	return (struct ring *)((uint8_t *)s->worker[p].base + worker_rings_off() +
	    ring_stride() * idx);
}

uint64_t
shm_stat_total(const struct shm *s, enum stat_id id)
{
	uint64_t n = 0;
	uint32_t w;

	for (w = 0; w < s->nworkers; w++)
		if (s->counters[w] != NULL)
			n += __atomic_load_n(&s->counters[w]->stats[id],
			    __ATOMIC_RELAXED);
	return n;
}

uint64_t
shm_gauge_total(const struct shm *s, enum stat_id id)
{
	uint64_t n = 0;
	uint32_t w;

	for (w = 0; w < s->nworkers; w++)
		if (s->counters[w] != NULL && __atomic_load_n(
		    &s->ctl->workers[w].alive, __ATOMIC_ACQUIRE))
			n += __atomic_load_n(&s->counters[w]->stats[id],
			    __ATOMIC_RELAXED);
	return n;
}

int
shm_rate_get(const struct shm *s, uint64_t *bps, uint64_t *burst)
{
	struct shm_rate r;

	if (seq_read(&s->ctl->rate.seq, &r, &s->ctl->rate, sizeof(r)) != 0)
		return 0;
	*bps = r.bps;
	*burst = r.burst;
	return r.bps != 0;
}

void
shm_rate_set(struct shm *s, uint64_t bps, uint64_t burst)
{
	seq_write_begin(&s->ctl->rate.seq);
	s->ctl->rate.bps = bps;
	s->ctl->rate.burst = burst;
	seq_write_end(&s->ctl->rate.seq);
}

int
shm_route_live(const struct shm *s, const struct route *r)
{
	const struct shm_worker_state *ws;

	if (r->worker >= s->nworkers)
		return 0;
	ws = &s->ctl->workers[r->worker];
	return __atomic_load_n(&ws->alive, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&ws->epoch, __ATOMIC_RELAXED) == r->epoch;
}
