/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The connection table: client public key -> the connections that key has
 * (derper's "dup set", at most TABLE_MAX_DUPS, on any workers) and which
 * one is active, i.e. receives packets; and the mesh links it is reachable
 * through when it is connected to a peer relay of the region (remote
 * routes: derper's packet forwarders, oldest first, the oldest preferred).
 * A local connection always wins over a remote route. It lives in the master's region of
 * shared memory: the master is its only writer (workers ask it over their
 * control sockets, common/table_proto.h) and workers read it without locks.
 *
 * Layout: an array of entries that never move, and an open-addressing index
 * of (hash tag, entry number), keyed SipHash so clients cannot choose
 * colliding keys. There are two indexes; the master rebuilds the idle one
 * (dropping tombstones) and then switches, so a rebuild never stalls a
 * reader. Each entry and each index has its own seqlock.
 *
 * Readers treat every byte as untrusted: entries are copied out whole under
 * their seqlock and checked (route counts, indexes, worker numbers) before
 * use, probes are bounded, and a read that cannot get a clean copy says so
 * (neither found nor absent) instead of waiting.
 */
#ifndef DERPD_TABLE_H
#define DERPD_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define TABLE_MAX_DUPS	4	/* connections per key; the oldest goes first */
#define TABLE_MAX_REMOTE 4	/* mesh links per key; more are not recorded */

/*
 * Where a connection lives: worker, that worker's incarnation, slot,
 * generation. A remote route names the mesh link's connection the same way.
 */
struct route {
	uint32_t	worker;
	uint32_t	epoch;
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
	uint64_t	seq;		/* odd while the master writes it */
	uint8_t		key[KEY_LEN];
	uint32_t	live;		/* 0: free */
	uint32_t	nroutes;	/* local connections; 0: reachable only remotely */
	uint32_t	active;		/* index into routes */
	uint32_t	nremote;
	struct route	routes[TABLE_MAX_DUPS];	/* oldest first */
	struct route	remote[TABLE_MAX_REMOTE];	/* oldest (preferred) first */
	struct peer_info info[TABLE_MAX_DUPS];	/* each connection's */
};

struct table_index_hdr {
	uint64_t	seq;		/* odd while the master rebuilds it */
};

/* The shared header; the indexes and the entries follow it. */
struct table_shared {
	uint64_t	which;		/* the index readers use: 0 or 1 */
	uint32_t	live_keys;
	uint32_t	live_conns;
	uint32_t	dup_keys;	/* keys with more than one connection */
	uint32_t	dup_conns;	/* connections of those keys */
	uint32_t	remote_keys;	/* keys with a remote route */
	uint32_t	remote_routes;
	struct table_index_hdr ihdr[2];
};

/*
 * Each process's private handle. Sizes and addresses live here, never in
 * shared memory, so corrupt shared bytes cannot make anyone read out of
 * bounds.
 */
struct table {
	struct table_shared *sh;
	uint64_t	*index[2];
	struct table_entry *entries;
	uint32_t	 icap;		/* index slots, power of two */
	uint32_t	 ecap;		/* entries: max_conns + max_remote */
	uint32_t	 max_conns;	/* local connections at once */
	uint32_t	 max_remote;	/* keys reachable only through mesh links */
	uint32_t	 nworkers;
	uint8_t		 hash_key[16];
	/* the master's own bookkeeping (never shared) */
	uint32_t	*free_list;
	uint32_t	 nfree;
	uint32_t	 tombstones;
	uint32_t	 remote_only;	/* entries with no local connection */
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
	TABLE_STAYS,		/* the key still has other connections (or, for a
				 * remote route, is still reachable) */
	TABLE_GONE,		/* that was its last route: gone from the region */
	TABLE_LEFT,		/* its last connection here; a peer relay has it */
};

/*
 * Bytes of shared memory for at most max_conns connections, and as many as
 * max_remote more keys reachable only through mesh links (0 without -mesh-with).
 */
size_t	table_size(uint32_t max_conns, uint32_t max_remote);
/* Lays out a handle over mem (shared, of table_size() bytes). */
void	table_attach(struct table *t, void *mem, uint32_t max_conns,
	    uint32_t max_remote, uint32_t nworkers, const uint8_t hash_key[16]);

/* --- readers (workers), lock-free; every answer checked before use --- */

/*
 * The route of key's active connection: 1, 0 if key has none, -1 if no
 * clean read came (the master was mid-write, or the bytes are scribbled):
 * then nothing is known, and a caller must not act as if key were absent.
 * Local connections only: a key reachable only through a peer relay is 0.
 */
int	table_lookup(const struct table *t, const uint8_t key[KEY_LEN],
	    struct route *out);
/*
 * Where a packet for key goes: 1 and its active local connection (*remote
 * 0), or failing that its preferred mesh link (*remote 1); 0 nowhere; -1 no
 * clean read.
 */
int	table_dest(const struct table *t, const uint8_t key[KEY_LEN],
	    struct route *out, int *remote);
/* Whether key is in the region at all (here or at a peer relay): 1, 0, -1. */
int	table_present(const struct table *t, const uint8_t key[KEY_LEN]);
/* Copies every route of key (oldest first); returns how many. */
int	table_routes(const struct table *t, const uint8_t key[KEY_LEN],
	    struct route out[TABLE_MAX_DUPS]);
/* Calls fn for every live key (its active connection). */
void	table_foreach(const struct table *t, void (*fn)(const uint8_t *key,
	    const struct route *r, const struct peer_info *info, void *arg),
	    void *arg);
/* derper's dup gauges, and the connection count, as last published. */
void	table_counts(const struct table *t, uint32_t *dup_keys,
	    uint32_t *dup_conns, uint32_t *conns);
/* Keys with a remote route, and remote routes, as last published. */
void	table_remote_counts(const struct table *t, uint32_t *keys,
	    uint32_t *routes);

/* --- the writer (the master) --- */

/* Zeroes the shared part and sets up the free list; -1 out of memory. */
int	table_init(struct table *t);
/*
 * Adds connection r for key and makes it the active one (the most recent
 * connection receives). Returns 0 (*j says what was there), or -1 when
 * max_conns connections are registered already.
 */
int	table_register(struct table *t, const uint8_t key[KEY_LEN],
	    const struct route *r, const struct peer_info *info,
	    struct table_join *j);
/*
 * Removes connection r; a new active one is the most recent left. TABLE_LEFT
 * when it was the last connection but the key keeps remote routes.
 */
enum table_leave table_unregister(struct table *t,
	    const uint8_t key[KEY_LEN], const struct route *r);
/*
 * Makes r the active connection of key (derper: the last writer is active).
 * Returns 1 if it was not, 0 if it was, -1 if r is not one of key's.
 */
int	table_claim(struct table *t, const uint8_t key[KEY_LEN],
	    const struct route *r);
/* Drops every connection and mesh link of worker w; returns how many. */
size_t	table_remove_worker(struct table *t, uint32_t w);
/*
 * Key is reachable through mesh link r (derper's AddPacketForwarder): 1
 * added, 0 it was already, -1 no room (max_remote keys, or TABLE_MAX_REMOTE
 * links for this key).
 */
int	table_remote_add(struct table *t, const uint8_t key[KEY_LEN],
	    const struct route *r);
/* Key is no longer reachable through link r (RemovePacketForwarder). */
enum table_leave table_remote_del(struct table *t, const uint8_t key[KEY_LEN],
	    const struct route *r);
/* Link r went down: every route through it goes. Returns how many. */
size_t	table_remote_clear(struct table *t, const struct route *r);

#endif
