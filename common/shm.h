/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared memory: one region per writer. Each region is a sealed memfd
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, mode 0400 so no process can
 * reopen it through /proc); its writer maps it read-write, everyone else
 * maps it read-only from an O_RDONLY descriptor, so neither a stray write
 * nor mprotect() can change another's region. Sizes and addresses are each
 * process's private copy, never read back from shared memory.
 *
 *  region     writer      mapped read-only by   what readers trust, and how
 *  ---------  ----------  --------------------  -----------------------------
 *  master     master      workers               ctl: worker epochs (compared,
 *    ctl page, the                               never indexed by), rate limit
 *    certificates, then                          (seqlock, seq_read); table:
 *    the connection table                        entries copied under their
 *                                                seqlock and checked (table.h);
 *                                                certificates: each entry
 *                                                copied under its seqlock and
 *                                                checked (certshm.h)
 *  worker[i]  worker i    master, workers       counters: numbers for /metrics
 *    counters page,                              only (want_cert: an address,
 *                                                copied and checked; mesh
 *                                                links' states and keys for
 *                                                /debug/); heads: clamped by the
 *    ring heads page,                            producer (ring.h); rings:
 *    rings i -> others (descriptors),            every descriptor and record
 *    packet pool (the records)                   checked (ring.h, pool.h)
 *  stun       STUN        workers               counters: numbers only
 *  dns        DNS         workers               seqlock; lengths clamped to
 *                                                the buffer before use
 *
 * The key process maps nothing. Nobody takes a lock in shared memory, so a
 * dead or hostile process can stall nobody else.
 */
#ifndef DERPD_SHM_H
#define DERPD_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "certshm.h"
#include "meshpeers.h"
#include "ring.h"
#include "table.h"
#include "verifyd_proto.h"

#define SHM_MAX_WORKERS	64

/* Counters each worker keeps in its region; /metrics sums them. */
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
	ST_ACCEPT_LIMIT_ACCEPTED,	/* -accept-connection-limit */
	ST_ACCEPT_LIMIT_REJECTED,
	ST_TABLE_FULL,			/* logins refused: -max-clients reached */
	ST_ACCEPT_NO_FDS,		/* accept failed for want of descriptors */
	ST_LOGIN_MEM_BYTES,		/* gauge: held by connections not logged in */
	ST_LOGIN_MEM_CLOSED,		/* closed or refused: that memory was spent */
	ST_VERIFY_LOGIN,		/* + enum verifyd_reason: logins, by verdict */
	ST_VERIFY_LOGIN_LAST = ST_VERIFY_LOGIN + VR_NREASONS - 1,
	ST_VERIFY_TIMEOUT,		/* logins that timed out waiting for it */
	ST_VERIFY_RECHECK,		/* + enum verifyd_reason: re-checks, by verdict */
	ST_VERIFY_RECHECK_LAST = ST_VERIFY_RECHECK + VR_NREASONS - 1,
	ST_CERT_MISSING,		/* -client-ca: TLS handshakes refused, by why */
	ST_CERT_UNTRUSTED,
	ST_CERT_EXPIRED,
	ST_CERT_REVOKED,
	ST_CERT_INVALID,
	ST_PACKETS_FORWARDED_OUT,	/* sent on to a peer relay (derper's) */
	ST_DROP_UNKNOWN_DEST_FWD,	/* forwarded to us for a key not here */
	ST_DROP_BYTES_UNKNOWN_DEST_FWD,
	ST_DROP_MESH_LOOP,		/* ...and that we would forward ourselves */
	ST_DROP_BYTES_MESH_LOOP,
	ST_DROP_MESH_QUEUE,		/* a mesh link's queue was full */
	ST_DROP_BYTES_MESH_QUEUE,
	ST_REMOTE_ROUTES_REFUSED,	/* PeerPresent with no room in the table */
	ST_TLS_KTLS,			/* TLS handshakes the kernel encrypts after */
	ST_DROP_QUEUE_HEAD,		/* a client's queue was full: its oldest went */
	ST_DROP_BYTES_QUEUE_HEAD,
	ST_PUSHBACKS,			/* a client not read while a ring was full */
	ST_SENDQ_BYTES,			/* gauge: packets queued to clients */
	ST_TLS_OWN,			/* TLS handshakes after which OpenSSL's
					 * connection was freed (tlsown.c) */
	ST_BATCH_NAPS,			/* naps before a turn (worker/main.c) */
	ST_MAX,
};

#define STAT_FRAME_TYPES	32	/* frames received, by type (0x00..0x1f) */

/* --- the master's region --- */

/* One worker as the master sees it. */
struct shm_worker_state {
	uint32_t	epoch;		/* incarnation: bumped at every start */
	uint32_t	alive;		/* 1 while that incarnation runs */
	int32_t		pid;
	uint32_t	restarts;
};

/* -rate-config as the master last loaded it, under a seqlock. */
struct shm_rate {
	uint64_t	seq;
	uint64_t	bps;		/* 0: no limit */
	uint64_t	burst;
};

struct shm_ctl {
	struct shm_rate	rate;
	uint64_t	epochs_changed;	/* bumped when any worker starts or dies */
	uint64_t	keyd_restarts;	/* bumped when a new key process is ready */
	uint64_t	verify_restarts; /* bumped when a new verifier is ready */
	uint64_t	verify_reloads;	/* ...and when it was started by SIGHUP */
	struct shm_worker_state workers[SHM_MAX_WORKERS];
};

/* --- a worker's region --- */

/*
 * -acme-ip-certs: the last address a client reached this worker at for
 * which it had no certificate (IPv4 as ::ffff:a.b.c.d), under a seqlock.
 * The master reads it every second and asks the ACME child for one.
 */
struct shm_want_cert {
	uint64_t	seq;
	uint8_t		ip[16];
};

/* A mesh link's state (worker/meshlink.c). */
enum link_state {
	LINK_WAIT,		/* not connected; trying again later */
	LINK_DIALING,		/* the mesh dialer is connecting */
	LINK_LOGIN,		/* TLS, the HTTP upgrade, the DERP login */
	LINK_UP,		/* logged in and watching */
	LINK_SELF,		/* the peer is this relay: not used */
	LINK_NSTATES,
};

/*
 * One -mesh-with peer as a worker sees it. The link's own fields are
 * written by the worker that owns the link (dial_owner()); packets in are
 * counted by whichever worker the peer's own connection to us landed on.
 */
struct shm_mesh_peer {
	uint32_t	state;		/* enum link_state (owner) */
	uint32_t	slot, gen;	/* the link's connection while up (owner) */
	uint32_t	has_pub;
	uint8_t		pub[KEY_LEN];	/* the peer's DERP key, once seen (owner) */
	uint64_t	connects;	/* logins (owner) */
	uint64_t	present;	/* PeerPresent received (owner) */
	uint64_t	gone;		/* PeerGone received (owner) */
	uint64_t	pkts_out, bytes_out;	/* ForwardPacket sent (owner) */
	uint64_t	pkts_in, bytes_in;	/* ForwardPacket from the peer (any) */
};

struct shm_counters {
	uint64_t	stats[ST_MAX];
	uint64_t	frames[STAT_FRAME_TYPES];
	uint32_t	watchers;	/* mesh clients watching connections */
	uint32_t	ready;		/* 1 once in its event loop (READY=1 waits for it) */
	struct shm_want_cert want_cert;
	struct shm_mesh_peer mesh[MESH_MAX_PEERS];
};

/* Where this worker (the consumer) has read each producer's ring to. */
struct shm_heads {
	uint64_t	head[SHM_MAX_WORKERS];
};

/* --- the STUN process's region (derper's stun_* metrics) --- */

struct shm_stun {
	uint64_t	success;
	uint64_t	not_stun;
	uint64_t	write_error;
	uint64_t	ipv4;
	uint64_t	ipv6;
};

/*
 * --- the DNS process's region: /bootstrap-dns answers, under a seqlock ---
 * published: the whole JSON body. unpublished: records "name\0json\0",
 * answered only to ?q=name.
 */
#define DNS_BLOB_MAX	(64 * 1024)

struct shm_dns {
	uint64_t	seq;
	uint32_t	published_len;
	uint32_t	unpublished_len;
	char		published[DNS_BLOB_MAX];
	char		unpublished[DNS_BLOB_MAX];
};

enum shm_role {
	SHM_NONE,		/* the key process: maps nothing */
	SHM_MASTER,
	SHM_WORKER,
	SHM_STUN,
	SHM_DNS,
};

/* One memfd and this process's mapping of it. */
struct shm_region {
	int		 rw_fd;		/* -1 once not needed */
	int		 ro_fd;
	void		*base;		/* NULL: not mapped here */
	size_t		 size;
	int		 writable;
};

/* Each process's private handle: layout, descriptors, typed pointers. */
struct shm {
	uint32_t	 nworkers;
	uint32_t	 ring_data;	/* pool bytes one consumer may hold (-ring-kib) */
	uint32_t	 max_conns;
	uint32_t	 max_remote;	/* keys reachable only through mesh links */
	uint8_t		 table_hash_key[16];
	struct shm_region master, stun_region, dns_region;
	struct shm_region worker[SHM_MAX_WORKERS];

	struct shm_ctl	*ctl;
	struct shm_tls	*tls;		/* in the master's region */
	struct table	 table;
	struct shm_stun	*stun;
	struct shm_dns	*dns;
	struct shm_counters *counters[SHM_MAX_WORKERS];
	struct shm_heads *heads[SHM_MAX_WORKERS];
};

/*
 * Master, before anything else: creates every region and maps its own
 * read-write and the others read-only. Fatal on failure.
 */
void	shm_create(struct shm *s, uint32_t nworkers, uint32_t max_conns,
	    uint32_t max_remote, uint32_t ring_data);
/*
 * Takes a role (id: the worker's index): unmaps whatever was mapped, maps
 * the role's own region read-write and what it reads read-only, and (but
 * for the master) closes every shared-memory descriptor. Fatal on failure.
 */
void	shm_enter_role(struct shm *s, enum shm_role role, uint32_t id);
/* A child: the layout from its set-up, no descriptors yet (shm_region_at). */
void	shm_import(struct shm *s, uint32_t nworkers, uint32_t max_conns,
	    uint32_t max_remote, uint32_t ring_data, const uint8_t hash_key[16]);
/* Regions by number: 0 master, 1 STUN, 2 DNS, 3 + i worker i. */
int	shm_nregions(const struct shm *s);
struct shm_region *shm_region_at(struct shm *s, int idx);
/* Whether role maps region idx, and *writable whether read-write. */
int	shm_role_maps(const struct shm *s, enum shm_role role, uint32_t id,
	    int idx, int *writable);

/* Producer p's ring to consumer c (p != c), in p's region. */
struct ring *shm_ring(const struct shm *s, uint32_t p, uint32_t c);
/*
 * Producer p's packet pool, in p's region: shm_pool_chunks chunks, of
 * which one consumer may hold shm_pool_quota (ring_data rounded up).
 */
uint8_t	*shm_pool(const struct shm *s, uint32_t p);
uint32_t shm_pool_chunks(const struct shm *s);
uint32_t shm_pool_quota(const struct shm *s);
/* Sum of one counter over all workers. */
uint64_t shm_stat_total(const struct shm *s, enum stat_id id);
/* Sum of a gauge over the workers running now (a dead one's is stale). */
uint64_t shm_gauge_total(const struct shm *s, enum stat_id id);
/* The per-client rate limit: 1 and the values, or 0 when there is none. */
int	shm_rate_get(const struct shm *s, uint64_t *bytes_per_sec, uint64_t *burst);
/* Master only. */
void	shm_rate_set(struct shm *s, uint64_t bytes_per_sec, uint64_t burst);
/* Whether route r names a worker incarnation that is running now. */
int	shm_route_live(const struct shm *s, const struct route *r);

/* Only worker w writes its counters, so no locked add is needed. */
static inline void
stat_add(const struct shm *s, uint32_t w, enum stat_id id, int64_t n)
{
	uint64_t *p = &s->counters[w]->stats[id];

	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + (uint64_t)n,
	    __ATOMIC_RELAXED);
}

#endif
