/*
 * Connection table in shared memory: client public key -> (worker, slot,
 * generation). Open addressing with linear probing and tombstones, keyed
 * SipHash so clients cannot choose colliding keys.
 *
 * Writers serialise on a robust process-shared mutex; a writer that dies
 * holding it is repaired by the next one (EOWNERDEAD). Readers take no lock:
 * a sequence counter (odd while a write is in progress) tells them to retry.
 */
#ifndef DERPD_TABLE_H
#define DERPD_TABLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define TABLE_KEY_LEN	32

struct route {
	uint32_t	worker;
	uint32_t	slot;
	uint32_t	gen;
};

/* What a mesh watcher learns about a client (derper's PeerPresent). */
struct peer_info {
	uint8_t		ip[16];		/* IPv4 as ::ffff:a.b.c.d */
	uint16_t	port;
	uint8_t		flags;
};

struct table_entry {
	uint64_t	key[4];
	uint32_t	state;
	uint32_t	worker;
	uint32_t	slot;
	uint32_t	gen;
	struct peer_info info;
};

/* The part in shared memory. */
struct table_shared {
	pthread_mutex_t	lock;
	uint64_t	seq;		/* odd while a writer is mid-update */
	uint32_t	live;
	uint32_t	dead;		/* tombstones */
	uint64_t	repairs;
	struct table_entry entries[];
};

/*
 * Each process's private handle. Sizes live here, not in shared memory, so
 * a worker that corrupts the shared part cannot make others read out of
 * bounds.
 */
struct table {
	struct table_shared *sh;
	struct table_entry *entries;
	uint32_t	cap;		/* power of two */
	uint32_t	nworkers;
	uint8_t		hash_key[16];
};

size_t	table_size(uint32_t cap);
/* Initialises the shared part at mem (before forking) and the handle t. */
int	table_init(struct table *t, void *mem, uint32_t cap, uint32_t nworkers);
/* Largest number of live entries before table_set refuses. */
uint32_t table_max_live(const struct table *t);

int	table_lookup(struct table *t, const uint8_t key[TABLE_KEY_LEN],
	    struct route *out);
/*
 * Points key at r (info may be NULL). Returns 1 if it replaced another route
 * (copied to *old), 0 if key was new, -1 if the table is full.
 */
int	table_set(struct table *t, const uint8_t key[TABLE_KEY_LEN],
	    const struct route *r, const struct peer_info *info, struct route *old);
/* Removes key only if it still points at r. Returns 1 if removed. */
int	table_remove_if(struct table *t, const uint8_t key[TABLE_KEY_LEN],
	    const struct route *r);
/* Removes every route of worker w, calling gone(key, arg) for each. */
size_t	table_remove_worker(struct table *t, uint32_t w,
	    void (*gone)(const uint8_t *key, void *arg), void *arg);
uint32_t table_live(struct table *t);
/* Calls fn for every live entry, with writers held off. */
void	table_foreach(struct table *t, void (*fn)(const uint8_t *key,
	    const struct route *r, const struct peer_info *info, void *arg),
	    void *arg);

#endif
