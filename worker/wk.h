/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's data: one struct wk per process holding all of its state,
 * and one struct conn per client connection. Types only; each file's
 * functions are declared in that file's own header. The layers, bottom up:
 *
 *   bufpool, http, clientinfo,      no worker state
 *   pktq
 *   transport, loginmem, outq,      bytes in and out of one connection,
 *   websocket, clientcert, sendq    what it holds before it logs in, its
 *                                   TLS client certificate, its packets
 *   conn                            lifecycle, epoll, read/write loops, timers
 *   forward, dial_client,           a packet out on a mesh link, the mesh
 *   tlsclient, linkparse            dialer's answers, the links' TLS and bytes
 *   peergone, route, pushback,      what DERP means: who heard from whom,
 *   mesh, presence, remote, inbox,  where a packet goes, mesh watchers, the
 *   derp_in, keyd_client,           table entries (local and remote), records
 *   handshake, verify, meshlink,    from other workers, frames, the login,
 *   http_serve, metrics             who may log in, our own logins to peer
 *                                   relays, HTTP
 *   session                         which of those a connection's bytes go to
 *   main                            set-up, sandbox, event loop
 *
 * A file includes only headers of its own layer or below; `make check`
 * fails on an include cycle.
 */
#ifndef DERPD_WK_H
#define DERPD_WK_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bufpool.h"
#include "clientinfo.h"
#include "config.h"
#include "frame.h"
#include "keyd_proto.h"
#include "pktq.h"
#include "meshpeers.h"
#include "ratelimit.h"
#include "shm.h"
#include "table_proto.h"

enum conn_state {
	CS_TLS_HANDSHAKE,
	CS_HTTP,		/* reading the request head */
	CS_CLIENT_INFO,		/* ServerKey sent, waiting for ClientInfo */
	CS_WAIT_KEY,		/* asked the key process */
	CS_WAIT_VERIFY,		/* ClientInfo checked; the verifier is deciding */
	CS_WAIT_TABLE,		/* ClientInfo checked; the master is registering it */
	CS_RELAY,		/* logged in */
	CS_FLUSH_CLOSE,		/* writing a last response, then closing */
};

struct heard_src;
struct mesh_link;
struct tls_own;
struct tls_secrets;
struct tls_sign;
struct tls_store;
struct ws_conn;

struct conn {
	int		 fd;
	uint32_t	 slot;
	uint32_t	 gen;
	enum conn_state	 state;
	SSL		*ssl;		/* until the handshake is done (tlsown.c) */
	struct tls_own	*own;		/* after it: our record layer */
	struct tls_secrets *secrets;	/* the handshake's, for own */
	struct tls_sign	*sign;		/* the key process is signing for its handshake */
	uint32_t	 epoll_events;	/* currently registered */
	int		 tls_read_wants_write;
	int		 tls_write_wants_read;
	int		 rx_drained;	/* a read came back short: none until EPOLLIN */
	int		 registered;	/* key is in the connection table */
	int		 preferred;
	int		 can_mesh;	/* presented the mesh key */
	int		 is_watcher;	/* sent WatchConns */
	int		 is_dup;	/* its key has had another connection */
	int		 spoke_as_dup;	/* sent a frame while its key was duplicated */
	int		 claim_pending;	/* asked the master to make it active;
					 * its frames wait for the answer */
	int		 claim_done;	/* answered: the waiting frame goes on */
	int		 claim_fights;	/* ...after having spoken and lost the route */
	int		 not_ideal;	/* Ideal-Node header: not its ideal node */
	int		 port80;	/* accepted on -http-port beside TLS */
	uint32_t	 verify_id;	/* our request the verifier has not answered; 0: none */
	int64_t		 verify_next_ms;	/* when to ask about it again; 0: never */
	int		 outbound;	/* we connected: a mesh link (c->link) */
	struct mesh_link *link;
	int		 mesh_peer;	/* a peer relay's mesh client: its index + 1 */
	int		 in_ready;	/* on the ready list */
	uint64_t	 read_turn;	/* the turn it last read in (wk's read_turn) */
	struct conn	*ready_next;
	int		 in_flush;	/* on the flush list */
	struct conn	*flush_next;
	struct conn	*prev, *next;	/* all connections */

	uint8_t		 key[KEY_LEN];
	struct client_info info;
	uint8_t		*server_info;	/* sealed ServerInfo frame, sent once registered */
	uint32_t	 server_info_len;
	struct buf	*in;		/* partial input; NULL when none */
	uint32_t	 in_max;	/* before login: the most c->in may grow to */
	uint32_t	 skip;		/* payload bytes of a skipped frame left */
	int		 hdr_seen;	/* next frame counted and charged */
	struct buf	*out_head, *out_tail;	/* the stream: frames started or next */
	uint32_t	 out_bytes;
	struct pktq	 sendq[2];	/* packets before the stream (sendq.c) */

	/* A SendPacket held back while its ring was full (pushback.c). */
	int		 pushed_back;
	uint32_t	 pb_to;		/* the worker it is for */
	uint64_t	 pb_head;	/* that worker's read position, last seen */
	int64_t		 pb_since_ms, pb_progress_ms;
	struct conn	*pb_next;	/* on w->pushed_back */

	int64_t		 deadline_ms;	/* handshake / last flush */
	int64_t		 next_keepalive_ms;
	uint8_t		 ping_data[DERP_PING_LEN];	/* our outstanding Ping */
	int64_t		 ping_sent_ms;		/* 0: none outstanding */
	int64_t		 health_sent_ms;
	int		 counted;	/* in the current-clients gauge */
	struct token_bucket rate;	/* -rate-config, for non-mesh clients */
	int64_t		 paused_until_ms; /* over its rate: not read until then */
	int64_t		 stalled_since_ms; /* output queued, no progress */
	double		 peer_gone_tokens;
	int64_t		 peer_gone_last_ms;

	struct heard_src **heard;	/* sources this client received from */
	uint32_t	 nheard, heard_cap;
	struct heard_src *last_heard;	/* cache for the common case */

	struct sockaddr_storage peer;

	/* Until logged in: on the login memory list (loginmem.c). */
	int		 lm_on;
	int		 lm_tls_record;	/* OpenSSL holds part of a record */
	uint64_t	 lm_charge;	/* bytes charged to the budget */
	int64_t		 lm_since_ms;	/* accepted at */
	struct conn	*lm_prev, *lm_next;	/* oldest first */

	struct ws_conn	*ws;		/* WebSocket state (websocket.c), or NULL */
};

struct wk;

/*
 * Upcalls from the connection layer (conn.c) to the session layer
 * (session.c), which knows what a connection's bytes mean. Set once by
 * main.c; they keep conn.c below everything that uses it.
 */
struct conn_upcalls {
	void	(*input)(struct wk *, struct conn *);	/* c->in has new bytes */
	void	(*closing)(struct wk *, struct conn *);	/* before c goes away */
	/* An outbound c's TLS is up: it speaks first. */
	void	(*established)(struct wk *, struct conn *);
};

/* peergone.c: per source key, the local connections that heard from it. */
struct heard_table {
	struct heard_src **buckets;
	uint32_t	 nbuckets;
	uint32_t	 nsrcs;
	uint8_t		 hash_key[16];	/* crypto_shorthash_KEYBYTES */
};

/* mesh.c: keys this worker's watchers were told are present. */
struct keyset {
	uint8_t		(*keys)[KEY_LEN];	/* open addressing, all-zero: empty */
	uint32_t	 cap, n;		/* cap: power of two */
	uint8_t		 hash_key[16];
};

/* mesh.c: this worker's WatchConns clients. */
struct watcher_list {
	struct conn	**conns;
	uint32_t	 n, cap;
	struct keyset	 announced;
};

/* meshlink.c: this worker's link to one -mesh-with peer. */
struct mesh_link {
	uint32_t	 peer;		/* index into the -mesh-with list */
	int		 state;		/* enum link_state */
	int		 phase;		/* while LINK_LOGIN (meshlink.c) */
	struct conn	*c;		/* while LINK_LOGIN or LINK_UP */
	uint32_t	 dial_id;
	int64_t		 due_ms;	/* WAIT: next attempt; DIALING: give up */
	int64_t		 backoff_ms;
	int64_t		 up_since_ms;
	int64_t		 last_rx_ms;
	uint32_t	 failures;	/* attempts failed in a row */
	int		 learned;	/* routes were asked for: clear them on close */
	int		 watching;	/* the peer's dump began: our mesh key is good */
	int		 noted;		/* why it is closing was logged */
	char		 last_why[96];	/* the last failure's, logged */
	uint8_t		 peer_pub[KEY_LEN];
	uint8_t		 shared[KEY_LEN];	/* the login's box key, until ServerInfo */
};

/* meshlink.c: the -mesh-with list, and the links this worker owns. */
struct mesh_links {
	struct mesh_peer *peers;	/* the whole list */
	int		 npeers;
	struct mesh_link *own;		/* peers with dial_owner() == us */
	uint32_t	 nown;
	int		 dial_fd;	/* SOCK_SEQPACKET to the mesh dialer, or -1 */
	SSL_CTX		*ctx;		/* TLS client, the -mesh-ca-file or system roots */
	uint32_t	 next_id;
};

/* loginmem.c: what connections that have not logged in hold. */
struct login_mem {
	uint64_t	 used;		/* bytes charged now */
	uint64_t	 peak;		/* most used since memory was last trimmed */
	struct conn	*oldest, *newest;
	uint64_t	 closed;	/* closed or refused for it, not yet logged */
	int64_t		 logged_ms;
};

/* conn.c: accepting paused for want of descriptors, with back-off. */
struct accept_pause {
	int		 paused;	/* listening sockets out of epoll */
	int64_t		 resume_ms;
	int64_t		 backoff_ms;
	int64_t		 since_ms;	/* the episode began */
	uint64_t	 failures;	/* accept calls failed in this episode */
};

/* Fixed-size requests a socket had no room for yet, sent in order. */
struct req_queue {
	uint8_t		*reqs;
	size_t		 size;		/* bytes per request */
	uint32_t	 len, cap;
	int		 wants_write;	/* EPOLLOUT registered */
};

/* inbox.c and route.c: this worker's ends of the rings. */
struct rings {
	struct pool	 pool;		/* our records to the others (pool.h) */
	struct ring_tx	 tx[SHM_MAX_WORKERS];	/* to each other worker */
	struct ring_rx	 rx[SHM_MAX_WORKERS];	/* from each other worker */
	uint32_t	 epoch[SHM_MAX_WORKERS];	/* producer incarnations seen */
	uint32_t	 alive[SHM_MAX_WORKERS];
	uint8_t		 reset_logged[SHM_MAX_WORKERS];	/* once per incarnation */
	/* pushback.c: a consumer that made no progress during a pushback. */
	uint8_t		 stuck[SHM_MAX_WORKERS];
	uint64_t	 stuck_head[SHM_MAX_WORKERS];
	uint64_t	 epochs_seen;	/* shm ctl->epochs_changed */
};

struct wk {
	const struct config *cfg;
	struct shm	*shm;
	uint32_t	 id;
	uint32_t	 epoch;		/* our incarnation: part of every route to us */
	uint32_t	 nworkers;
	int		 epfd;
	int		 listen_fd;
	int		 http_fd;	/* plain HTTP beside TLS, or -1 */
	int		 keyd_fd;	/* SOCK_SEQPACKET to the key process */
	int		 table_fd;	/* SOCK_SEQPACKET to the master's table service */
	int		 verify_fd;	/* SOCK_SEQPACKET to the verifier; -1: all admitted */
	int		 evfd;
	int		 sigfd;
	int		 timerfd;
	const int	*evfds;
	SSL_CTX		*ssl_ctx;	/* every handshake starts here (tlsctx.c) */
	SSL_CTX		*ssl_slot[CERTSHM_CERTS];	/* one per chain served */
	OSSL_PROVIDER	*tls_providers[2];	/* default, and our key's (tlskey.c) */
	char		*client_ca;	/* -client-ca's PEM, or NULL (clientcert.c) */
	char		*client_crl;	/* -client-crl's PEM ("": none) */
	struct tls_store *tls;		/* what the master published (tlsstore.c) */
	struct conn	*tls_current;	/* whose handshake is running (worker/tlskey.c) */
	uint32_t	 next_sign_id;
	uint64_t	 keyd_restarts;	/* the master's count, as last seen */
	uint64_t	 verify_restarts;	/* the master's counts, as last seen */
	uint64_t	 verify_reloads;
	uint32_t	 next_verify_id;
	uint8_t		 server_pub[KEY_LEN];
	struct conn_upcalls up;

	struct conn	**slots;
	uint32_t	 nslots;
	uint32_t	*free_slots;
	uint32_t	 nfree;
	uint32_t	 next_gen;
	struct token_bucket accept_bucket;	/* our share of -accept-connection-limit */
	struct accept_pause accept_pause;
	struct login_mem login_mem;
	struct conn	*all;		/* list of live connections */
	struct conn	*ready;		/* connections with buffered input */
	uint64_t	 read_turn;	/* turns of the event loop (conn_run_ready) */
	uint64_t	 turn_bytes;	/* read from clients and rings this turn
					 * (batching: worker/main.c) */
	struct conn	*flush;		/* connections with output to write */
	struct conn	*graveyard;	/* closed, freed at the end of a turn */
	uint64_t	 wake_mask;	/* workers to signal at the end of a turn */
	int64_t		 now_ms;
	int		 stopping;
	int		 rings_pending;	/* records left for the next turn */

	struct bufpool	 bufs;
	struct pktq_budget sendq_budget;	/* -queue-budget-mib */
	struct conn	*pushed_back;	/* clients held back for a full ring */
	struct heard_table heard;
	struct watcher_list watchers;
	struct req_queue keyd;		/* to the key process */
	struct req_queue table;		/* to the master */
	struct req_queue verifyd;	/* to the verifier */
	struct rings	 rings;
	struct mesh_links links;
};

/* Epoll tags for fds that are not connections. */
#define TAG_LISTEN	0xffffffff00000001ULL
#define TAG_EVENTFD	0xffffffff00000002ULL
#define TAG_KEYD	0xffffffff00000003ULL
#define TAG_SIGNAL	0xffffffff00000004ULL
#define TAG_TIMER	0xffffffff00000005ULL
#define TAG_HTTP	0xffffffff00000006ULL
#define TAG_TABLE	0xffffffff00000007ULL
#define TAG_VERIFYD	0xffffffff00000008ULL
#define TAG_DIAL	0xffffffff00000009ULL

/* Adds n to one of this worker's counters in shared memory. */
static inline void
wk_stat(struct wk *w, enum stat_id id, int64_t n)
{
	stat_add(w->shm, w->id, id, n);
}

#endif
