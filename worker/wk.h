/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker internals shared by the files in worker/. */
#ifndef DERPD_WK_H
#define DERPD_WK_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "bufpool.h"
#include "clientinfo.h"
#include "worker.h"

enum conn_state {
	CS_TLS_HANDSHAKE,
	CS_HTTP,		/* reading the request head */
	CS_CLIENT_INFO,		/* ServerKey sent, waiting for ClientInfo */
	CS_WAIT_KEY,		/* asked the key oracle */
	CS_RELAY,		/* logged in */
	CS_FLUSH_CLOSE,		/* writing a last response, then closing */
};

struct watch_src;
struct wslay_event_context;
struct http_request;

struct conn {
	int		 fd;
	uint32_t	 slot;
	uint32_t	 gen;
	enum conn_state	 state;
	SSL		*ssl;
	uint32_t	 epoll_events;	/* currently registered */
	int		 tls_read_wants_write;
	int		 tls_write_wants_read;
	int		 registered;	/* key is in the connection table */
	int		 preferred;
	int		 can_mesh;	/* presented the mesh key */
	int		 is_watcher;	/* sent WatchConns */
	int		 is_dup;	/* its key has had another connection */
	int		 spoke_as_dup;	/* sent a frame while its key was duplicated */
	int		 not_ideal;	/* Ideal-Node header: not its ideal node */
	int		 port80;	/* accepted on -http-port beside TLS */
	int		 in_ready;	/* on the ready list */
	struct conn	*ready_next;
	int		 in_flush;	/* on the flush list */
	struct conn	*flush_next;
	struct conn	*prev, *next;	/* all connections */

	uint8_t		 key[DERP_KEY_LEN];
	struct client_info info;
	struct buf	*in;		/* partial input; NULL when none */
	uint32_t	 skip;		/* payload bytes of a skipped frame left */
	int		 hdr_seen;	/* next frame counted and charged */
	struct buf	*out_head, *out_tail;
	uint32_t	 out_bytes;

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

	struct watch_src **watched;	/* sources this client received from */
	uint32_t	 nwatched, watched_cap;
	struct watch_src *last_watched;	/* cache for the common case */

	struct sockaddr_storage peer;

	struct wslay_event_context *ws;	/* WebSocket framing, or NULL */
	uint32_t	 raw_out;	/* leading output bytes sent unframed (the 101) */
	int		 ws_bad;	/* close code for a bad message, else 0 */
	uint64_t	 ws_msg_len;	/* bytes of the message being received */
	int		 ws_progress;	/* wslay wrote something */
};

struct wk {
	const struct config *cfg;
	struct shm	*shm;
	uint32_t	 id;
	uint32_t	 nworkers;
	int		 epfd;
	int		 listen_fd;
	int		 http_fd;	/* plain HTTP beside TLS, or -1 */
	int		 oracle_fd;
	int		 evfd;
	int		 sigfd;
	int		 timerfd;
	const int	*evfds;
	SSL_CTX		*ssl_ctx;
	uint8_t		 server_pub[DERP_KEY_LEN];

	struct conn	**slots;
	uint32_t	 nslots;
	uint32_t	*free_slots;
	uint32_t	 nfree;
	struct conn	*all;		/* list of live connections */
	struct conn	*ready;		/* connections with buffered input */
	struct conn	*flush;		/* connections with output to write */
	struct conn	*graveyard;	/* closed, freed at the end of a turn */
	uint64_t	 wake_mask;	/* workers to signal at the end of a turn */
	int64_t		 now_ms;
	int		 stopping;
	int		 rings_pending;	/* records left for the next turn */

	struct oracle_req *oracle_backlog;	/* requests not yet sent */
	uint32_t	 oracle_backlog_len, oracle_backlog_cap;
	int		 oracle_wants_write;
};

/* Epoll tags for fds that are not connections. */
#define TAG_LISTEN	0xffffffff00000001ULL
#define TAG_EVENTFD	0xffffffff00000002ULL
#define TAG_ORACLE	0xffffffff00000003ULL
#define TAG_SIGNAL	0xffffffff00000004ULL
#define TAG_TIMER	0xffffffff00000005ULL
#define TAG_HTTP	0xffffffff00000006ULL

int64_t	now_ms(void);

/* conn.c */
void	conn_accept(struct wk *w, int fd, int port80);
struct conn *conn_by_tag(struct wk *w, uint64_t tag);
struct conn *conn_at(struct wk *w, uint32_t slot, uint32_t gen);
void	conn_io(struct wk *w, struct conn *c, uint32_t events);
void	conn_close(struct wk *w, struct conn *c, const char *why);
void	conn_flush_close(struct wk *w, struct conn *c);
void	conn_update_events(struct wk *w, struct conn *c);
void	conn_mark_ready(struct wk *w, struct conn *c);
void	conn_run_ready(struct wk *w);
void	conn_flush_all(struct wk *w);
void	conn_bury(struct wk *w);
void	conn_tick(struct wk *w);
/* Queues bytes for the client; a packet is refused when the queue is full. */
int	conn_queue(struct wk *w, struct conn *c, const void *p, size_t len);
/* Like conn_queue, but out of memory leaves c open: for callers holding the
 * table lock, which conn_close would take again. */
int	conn_append(struct wk *w, struct conn *c, const void *p, size_t len);
int	conn_queue_packet(struct wk *w, struct conn *c,
	    const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, uint32_t len);
int	conn_queue_control(struct wk *w, struct conn *c, const void *p,
	    size_t len);

ssize_t	conn_transport_read(struct conn *c, uint8_t *p, size_t n);
ssize_t	conn_transport_write(struct conn *c, struct iovec *iov, int iovcnt);
void	conn_consume_out(struct conn *c, size_t n);

/* websocket.c */
int	ws_wanted(const struct http_request *req);
int	ws_accept(struct wk *w, struct conn *c, const struct http_request *req);
#define WS_CLOSING	(-2)
ssize_t	ws_read(struct conn *c);
int	ws_flush(struct conn *c);
int	ws_wants_write(const struct conn *c);
void	ws_free(struct conn *c);

/* http_serve.c */
int	serve_http(struct wk *w, struct conn *c);

/* metrics.c */
size_t	metrics_render(struct wk *w, char *buf, size_t cap);

/* handshake.c */
void	handshake_start(struct wk *w, struct conn *c, int fast_start);
void	handshake_client_info(struct wk *w, struct conn *c, const uint8_t *frame);
void	oracle_readable(struct wk *w);
void	oracle_writable(struct wk *w);
void	handshake_finish(struct wk *w, struct conn *c);

/* main.c */
void	worker_watch_oracle(struct wk *w, int want_write);

/* relay.c */
int	relay_frame(struct wk *w, struct conn *c, uint8_t type,
	    const uint8_t *payload, uint32_t len);
void	relay_drain_rings(struct wk *w);
int	relay_register(struct wk *w, struct conn *c);
void	relay_unregister(struct wk *w, struct conn *c);
void	relay_note_activity(struct wk *w, struct conn *c);
void	relay_wake_peers(struct wk *w);
void	relay_push(struct wk *w, uint32_t to, uint16_t kind, uint32_t slot,
	    uint32_t gen, const uint8_t key[DERP_KEY_LEN], const uint8_t *payload,
	    uint32_t len);
void	relay_route(struct wk *w, struct conn *c, const uint8_t *src,
	    const uint8_t *dst, const uint8_t *pkt, uint32_t plen);

/* mesh.c */
int	mesh_key_matches(const struct wk *w, const struct client_info *ci);
void	mesh_peer_info(const struct conn *c, struct peer_info *pi);
int	mesh_watchers_exist(const struct wk *w);
void	mesh_note_present(struct wk *w, const uint8_t *key,
	    const struct peer_info *pi);
void	mesh_note_gone(struct wk *w, const uint8_t *key);
void	mesh_drop_watcher(struct wk *w, struct conn *c);
int	mesh_frame(struct wk *w, struct conn *c, uint8_t type,
	    const uint8_t *payload, uint32_t len);

/* watch.c: who must hear PeerGone(disconnected) when a key leaves */
void	watch_note_src(struct wk *w, struct conn *c, const uint8_t src[DERP_KEY_LEN]);
void	watch_fire(struct wk *w, const uint8_t src[DERP_KEY_LEN]);
void	watch_drop_conn(struct wk *w, struct conn *c);

static inline void
stat(struct wk *w, enum stat_id id, int64_t n)
{
	stat_add(w->shm, w->id, id, n);
}

#endif
