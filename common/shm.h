/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one shared mapping, created by the master before it forks: a header
 * with per-worker state and counters, the connection table, and an SPSC ring
 * for every (producer, consumer) pair. Producers are the workers plus the
 * master (index nworkers), which uses its rings to announce a dead worker's
 * clients as gone.
 */
#ifndef DERPD_SHM_H
#define DERPD_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"
#include "ring.h"
#include "table.h"

#define SHM_MAX_WORKERS	64

/* Counters each worker keeps in shared memory; /metrics sums them. */
enum stat_id {
	ST_TCP_ACCEPTS,
	ST_TCP_CURRENT,		/* gauge */
	ST_DERP_ACCEPTS,
	ST_CLIENTS_CURRENT,	/* gauge */
	ST_HOME_CLIENTS,	/* gauge */
	ST_HANDSHAKE_FAILURES,
	ST_HTTP_REQUESTS,
	ST_BOOTSTRAP_DNS_REQUESTS,
	ST_WEBSOCKET_ACCEPTS,
	ST_PACKETS_RECV,
	ST_BYTES_RECV,
	ST_PACKETS_SENT,
	ST_BYTES_SENT,
	ST_DROP_UNKNOWN_DEST,
	ST_DROP_GONE,
	ST_DROP_QUEUE_FULL,
	ST_DROP_RING_FULL,
	ST_DROP_WRITE_ERROR,
	ST_PEER_GONE_DISCONNECTED,
	ST_PEER_GONE_NOT_HERE,
	ST_GOT_PING,
	ST_SENT_PONG,
	ST_SENT_PING,
	ST_GOT_PONG,
	ST_PONG_RTT_MS_SUM,
	ST_RESTARTING_SENT,
	ST_HEALTH_SENT,
	ST_UNKNOWN_FRAMES,
	ST_DUP_CONNS_TOTAL,
	ST_RATE_LIMIT_WAITS,
	ST_DUP_SWITCHES,
	ST_DUP_FIGHTS,
	ST_PACKETS_FORWARDED_IN,
	ST_RING_RESETS,
	ST_DROP_BYTES_UNKNOWN_DEST,	/* bytes of the ST_DROP_* packets */
	ST_DROP_BYTES_GONE,
	ST_DROP_BYTES_QUEUE_FULL,
	ST_DROP_BYTES_RING_FULL,
	ST_MAX,
};

#define STAT_FRAME_TYPES	32	/* frames received, by type (0x00..0x1f) */

struct shm_worker {
	uint32_t	next_gen;	/* slot generations, kept across respawns */
	int32_t		pid;
	uint32_t	restarts;
	uint32_t	watchers;	/* mesh clients watching connections */
	uint32_t	ready;		/* 1 once in its event loop (READY=1 waits for it) */
	uint64_t	stats[ST_MAX];
	uint64_t	frames[STAT_FRAME_TYPES];
} __attribute__((aligned(64)));

/* Counters of the STUN process (derper's stun_* metrics). */
struct shm_stun {
	uint64_t	success;
	uint64_t	not_stun;
	uint64_t	write_error;
	uint64_t	ipv4;
	uint64_t	ipv6;
} __attribute__((aligned(64)));

/* -accept-connection-limit/-burst, one bucket for all workers. */
struct shm_accept {
	pthread_mutex_t	lock;		/* robust: a dead holder cannot wedge accepts */
	struct token_bucket bucket;
	uint64_t	accepted;
	uint64_t	rejected;
} __attribute__((aligned(64)));

/*
 * /bootstrap-dns answers, written by the DNS process under a sequence
 * counter (odd while writing). published: the whole JSON body. unpublished:
 * records "name\0json\0", answered only to ?q=name.
 */
#define DNS_BLOB_MAX	(64 * 1024)

struct shm_dns {
	uint64_t	seq;
	uint32_t	published_len;
	uint32_t	unpublished_len;
	char		published[DNS_BLOB_MAX];
	char		unpublished[DNS_BLOB_MAX];
};

/* -rate-config, as the master last loaded it (0: no limit). */
struct shm_rate {
	uint64_t	seq;		/* odd while the master writes */
	uint64_t	bytes_per_sec;
	uint64_t	burst;
};

/* Shared header. */
struct shm_header {
	struct shm_worker workers[SHM_MAX_WORKERS];
	struct shm_stun	stun;
	struct shm_accept accept;
	struct shm_dns	dns;
	struct shm_rate	rate;
};

/* Private handle with the layout (never read back from shared memory). */
struct shm {
	struct shm_header *hdr;
	struct table	table;
	uint8_t		*rings;
	size_t		ring_stride;
	size_t		total;
	uint32_t	nworkers;
	uint32_t	ring_data;	/* bytes per ring, power of two */
};

/* Maps and initialises the region into *s; fatal on failure. */
void	shm_create(struct shm *s, uint32_t nworkers, uint32_t table_cap,
	    uint32_t ring_data);
/* The ring from producer p (worker index, or nworkers for the master) to worker c. */
struct ring *shm_ring(const struct shm *s, uint32_t p, uint32_t c);
/* Takes an accept token; 0 means refuse the connection. */
int	shm_accept_allow(const struct shm *s, double rate, double burst,
	    int64_t now_ns);
/* Reads the per-client rate limit; returns 0 when there is none. */
int	shm_rate_get(const struct shm *s, uint64_t *bytes_per_sec, uint64_t *burst);
void	shm_rate_set(const struct shm *s, uint64_t bytes_per_sec, uint64_t burst);
/* Sum of one counter over all workers. */
uint64_t shm_stat_total(const struct shm *s, enum stat_id id);

/* Only worker w writes its counters, so no locked add is needed. */
static inline void
stat_add(const struct shm *s, uint32_t w, enum stat_id id, int64_t n)
{
	uint64_t *p = &s->hdr->workers[w].stats[id];

	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + (uint64_t)n,
	    __ATOMIC_RELAXED);
}

#endif
