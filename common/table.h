/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection table in shared memory: client public key -> the connections
 * that key has (derper's "dup set", at most TABLE_MAX_DUPS, on any workers)
 * and which one is active, i.e. receives packets. Open addressing with
 * linear probing and tombstones, keyed SipHash so clients cannot choose
 * colliding keys.
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

#include "key.h"

#define TABLE_MAX_DUPS	4	/* connections per key; the oldest goes first */

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
	uint32_t	nroutes;
	uint32_t	active;		/* index into routes */
	struct route	routes[TABLE_MAX_DUPS];	/* oldest first */
	struct peer_info info[TABLE_MAX_DUPS];	/* each connection's */
};

/* The part in shared memory. */
struct table_shared {
	pthread_mutex_t	lock;
	uint64_t	seq;		/* odd while a writer is mid-update */
	uint32_t	live;
	uint32_t	dead;		/* tombstones */
	uint32_t	dup_keys;	/* keys with more than one connection */
	uint32_t	dup_conns;	/* connections of those keys */
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

/* What table_register found. */
struct table_join {
	uint32_t	nothers;	/* connections the key already had */
	struct route	others[TABLE_MAX_DUPS];
	int		evicted;	/* the oldest had to make room: */
	struct route	evicted_route;	/* close it */
};

enum table_leave {
	TABLE_NOT_FOUND,	/* key or route unknown */
	TABLE_STAYS,		/* the key still has other connections */
	TABLE_GONE,		/* that was its last connection */
};

size_t	table_size(uint32_t cap);
/* Initialises the shared part at mem (before forking) and the handle t. */
int	table_init(struct table *t, void *mem, uint32_t cap, uint32_t nworkers);
/* Largest number of live keys before table_register refuses. */
uint32_t table_max_live(const struct table *t);

/* The route of key's active connection. */
int	table_lookup(struct table *t, const uint8_t key[KEY_LEN],
	    struct route *out);
/*
 * Adds connection r for key and makes it the active one (the most recent
 * connection receives). Returns 0 on success (*j says what was there), -1 if
 * the table is full.
 */
int	table_register(struct table *t, const uint8_t key[KEY_LEN],
	    const struct route *r, const struct peer_info *info,
	    struct table_join *j);
/* Removes connection r; a new active one is the most recent left. */
enum table_leave table_unregister(struct table *t,
	    const uint8_t key[KEY_LEN], const struct route *r);
/*
 * Makes r the active connection of key (derper: the last writer is active).
 * Returns 1 if it was not, 0 if it was, -1 if r is not one of key's.
 */
int	table_claim(struct table *t, const uint8_t key[KEY_LEN],
	    const struct route *r);
/* Drops every connection of worker w, calling gone(key, arg) for each key
 * left with none. Returns the number of connections dropped. */
size_t	table_remove_worker(struct table *t, uint32_t w,
	    void (*gone)(const uint8_t *key, void *arg), void *arg);
uint32_t table_live(struct table *t);
/* Copies every route of key (oldest first); returns how many. */
int	table_routes(struct table *t, const uint8_t key[KEY_LEN],
	    struct route out[TABLE_MAX_DUPS]);
/* derper's dup gauges: keys connected more than once, and their connections. */
void	table_dup_counts(struct table *t, uint32_t *keys, uint32_t *conns);
/* Calls fn for every key (its active connection), with writers held off. */
void	table_foreach(struct table *t, void (*fn)(const uint8_t *key,
	    const struct route *r, const struct peer_info *info, void *arg),
	    void *arg);

#endif
