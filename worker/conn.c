/* SPDX-License-Identifier: BSD-3-Clause */
/* Connections: accept, transport I/O (plain or TLS), queues, timers. */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "wk.h"

#define READ_BUDGET	(256 * 1024)	/* bytes per connection per turn */
#define ACCEPT_BUDGET	64
#define CONTROL_SLACK	(64 * 1024)	/* control frames may exceed the queue limit by this */
#define FLUSH_CLOSE_MS	5000
#define MESH_WRITE_TIMEOUT_MS 30000

static void process_input(struct wk *, struct conn *);

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
conn_tag(const struct conn *c)
{
	return (uint64_t)c->gen << 32 | c->slot;
}

struct conn *
conn_at(struct wk *w, uint32_t slot, uint32_t gen)
{
	struct conn *c;

	if (slot >= w->nslots || (c = w->slots[slot]) == NULL || c->gen != gen)
		return NULL;
	return c;
}

struct conn *
conn_by_tag(struct wk *w, uint64_t tag)
{
	return conn_at(w, (uint32_t)tag, (uint32_t)(tag >> 32));
}

static uint32_t
next_gen(struct wk *w)
{
	uint32_t g;

	do {
		g = __atomic_add_fetch(&w->shm->hdr->workers[w->id].next_gen, 1,
		    __ATOMIC_RELAXED);
	} while (g == 0 || g == 0xffffffffu);
	return g;
}

static void
tune_socket(const struct config *cfg, int fd)
{
	int one = 1, idle, ut;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg->tcp_keepalive_ms > 0) {
		idle = cfg->tcp_keepalive_ms / 1000 > 0 ? cfg->tcp_keepalive_ms / 1000 : 1;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
	}
	if (cfg->tcp_user_timeout_ms > 0) {
		ut = cfg->tcp_user_timeout_ms > 0x7fffffff ? 0x7fffffff :
		    (int)cfg->tcp_user_timeout_ms;
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	}
}

static void
list_add(struct wk *w, struct conn *c)
{
	c->next = w->all;
	c->prev = NULL;
	if (w->all != NULL)
		w->all->prev = c;
	w->all = c;
}

static void
list_del(struct wk *w, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->all = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void
accept_one(struct wk *w, int fd, const struct sockaddr_storage *ss, int port80)
{
	struct epoll_event ev;
	struct conn *c;

	if (w->nfree == 0 || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		stat(w, ST_HANDSHAKE_FAILURES, 1);
		return;
	}
	c->fd = fd;
	c->slot = w->free_slots[--w->nfree];
	c->gen = next_gen(w);
	c->peer = *ss;
	c->deadline_ms = w->now_ms + w->cfg->handshake_timeout_ms;
	c->port80 = port80;
	c->state = w->ssl_ctx != NULL && !port80 ? CS_TLS_HANDSHAKE : CS_HTTP;
	if (c->state == CS_TLS_HANDSHAKE) {
		if ((c->ssl = SSL_new(w->ssl_ctx)) == NULL ||
		    SSL_set_fd(c->ssl, fd) != 1) {
			ERR_clear_error();
			SSL_free(c->ssl);
			w->free_slots[w->nfree++] = c->slot;
			free(c);
			close(fd);
			return;
		}
		SSL_set_accept_state(c->ssl);
	}
	tune_socket(w->cfg, fd);
	w->slots[c->slot] = c;
	list_add(w, c);
	c->epoll_events = EPOLLIN;
	ev.events = c->epoll_events;
	ev.data.u64 = conn_tag(c);
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal("epoll_ctl add client");
	stat(w, ST_TCP_ACCEPTS, 1);
	stat(w, ST_TCP_CURRENT, 1);
}

/*
 * Like derper, a connection over -accept-connection-limit/-burst is accepted
 * and closed at once: the client learns something is up, and the kernel's
 * queue does not fill.
 */
static int
accept_allowed(struct wk *w)
{
	const struct config *cfg = w->cfg;
	struct timespec ts;

	if (isinf(cfg->accept_conn_limit))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return shm_accept_allow(w->shm, cfg->accept_conn_limit,
	    (double)cfg->accept_conn_burst,
	    (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

void
conn_accept(struct wk *w, int lfd, int port80)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i;

	for (i = 0; i < ACCEPT_BUDGET && !w->stopping; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		if (!port80 && !accept_allowed(w)) {
			close(fd);
			continue;
		}
		accept_one(w, fd, &ss, port80);
	}
}

void
conn_update_events(struct wk *w, struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;

	if (c->fd < 0)
		return;
	if (c->state != CS_WAIT_KEY && c->state != CS_FLUSH_CLOSE &&
	    c->paused_until_ms == 0)
		want |= EPOLLIN;
	if (c->tls_write_wants_read)
		want |= EPOLLIN;
	if (c->out_bytes > 0 || c->tls_read_wants_write || ws_wants_write(c))
		want |= EPOLLOUT;
	if (want == c->epoll_events)
		return;
	ev.events = want;
	ev.data.u64 = conn_tag(c);
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		fatal("epoll_ctl mod client");
	c->epoll_events = want;
}

void
conn_mark_ready(struct wk *w, struct conn *c)
{
	if (c->in_ready || c->fd < 0)
		return;
	c->in_ready = 1;
	c->ready_next = w->ready;
	w->ready = c;
}

static void
mark_flush(struct wk *w, struct conn *c)
{
	if (c->in_flush || c->fd < 0)
		return;
	c->in_flush = 1;
	c->flush_next = w->flush;
	w->flush = c;
}

static void
free_queues(struct conn *c)
{
	struct buf *b;

	while ((b = c->out_head) != NULL) {
		c->out_head = b->next;
		buf_put(b);
	}
	c->out_tail = NULL;
	c->out_bytes = 0;
	buf_put(c->in);
	c->in = NULL;
}

void
conn_close(struct wk *w, struct conn *c, const char *why)
{
	if (c->fd < 0)
		return;
	log_debug("closing client slot %u: %s", c->slot, why);
	if (c->counted) {
		stat(w, ST_CLIENTS_CURRENT, -1);
		if (c->preferred)
			stat(w, ST_HOME_CLIENTS, -1);
	}
	relay_unregister(w, c);
	watch_drop_conn(w, c);
	mesh_drop_watcher(w, c);
	free_queues(c);
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	w->slots[c->slot] = NULL;
	w->free_slots[w->nfree++] = c->slot;
	list_del(w, c);
	stat(w, ST_TCP_CURRENT, -1);
	c->next = w->graveyard;
	w->graveyard = c;
}

void
conn_bury(struct wk *w)
{
	struct conn *c;

	while ((c = w->graveyard) != NULL) {
		w->graveyard = c->next;
		ws_free(c);	/* here: we may have been inside wslay */
		free(c);
	}
}

void
conn_flush_close(struct wk *w, struct conn *c)
{
	c->state = CS_FLUSH_CLOSE;
	c->deadline_ms = w->now_ms + FLUSH_CLOSE_MS;
	mark_flush(w, c);
}

/*
 * SSL_get_error needs an empty error queue. Clearing it before every
 * SSL_read and SSL_write cost some 800 instructions a call, a packet's worth
 * of relaying; instead the queue is kept empty: cleared after any call that
 * failed for real (WANT_READ/WANT_WRITE queue nothing), and at start-up.
 */
static int
tls_error(SSL *ssl, int r)
{
	int err = SSL_get_error(ssl, r);

	if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
		ERR_clear_error();
	return err;
}

/* Returns bytes read, 0 if it would block, -1 on EOF or error. */
ssize_t
conn_transport_read(struct conn *c, uint8_t *p, size_t n)
{
	ssize_t r;
	int err;

	if (c->ssl == NULL) {
		r = read(c->fd, p, n);
		if (r > 0)
			return r;
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	c->tls_read_wants_write = 0;
	r = SSL_read(c->ssl, p, (int)n);
	if (r > 0)
		return r;
	err = tls_error(c->ssl, (int)r);
	if (err == SSL_ERROR_WANT_READ)
		return 0;
	if (err == SSL_ERROR_WANT_WRITE) {
		c->tls_read_wants_write = 1;
		return 0;
	}
	return -1;
}

/* Returns bytes written, 0 if it would block, -1 on error. */
ssize_t
conn_transport_write(struct conn *c, struct iovec *iov, int iovcnt)
{
	ssize_t r;
	int err;

	if (c->ssl == NULL) {
		r = writev(c->fd, iov, iovcnt);
		if (r >= 0)
			return r;
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	}
	/* One buffer per SSL_write; OpenSSL cuts it into records itself. */
	c->tls_write_wants_read = 0;
	r = SSL_write(c->ssl, iov[0].iov_base, (int)iov[0].iov_len);
	if (r > 0)
		return r;
	err = tls_error(c->ssl, (int)r);
	if (err == SSL_ERROR_WANT_WRITE)
		return 0;
	if (err == SSL_ERROR_WANT_READ) {
		c->tls_write_wants_read = 1;
		return 0;
	}
	return -1;
}

void
conn_consume_out(struct conn *c, size_t n)
{
	struct buf *b;
	size_t take;

	c->out_bytes -= n;
	while (n > 0 && (b = c->out_head) != NULL) {
		take = b->wr - b->rd < n ? b->wr - b->rd : n;
		b->rd += take;
		n -= take;
		if (b->rd == b->wr) {
			c->out_head = b->next;
			if (c->out_head == NULL)
				c->out_tail = NULL;
			buf_put(b);
		}
	}
}

#define MAX_IOV	16

/* WebSocket: the 101 goes out raw, everything after it framed by wslay. */
static int
ws_write(struct wk *w, struct conn *c)
{
	c->ws_progress = 0;
	if (ws_flush(c) != 0)
		return -1;
	if (c->ws_progress)
		c->stalled_since_ms = w->now_ms;
	return 0;
}

static void
conn_write(struct wk *w, struct conn *c)
{
	struct iovec iov[MAX_IOV];
	struct buf *b;
	ssize_t r;
	int n;

	while (c->out_bytes > 0 && (c->ws == NULL || c->raw_out > 0)) {
		for (n = 0, b = c->out_head; b != NULL && n < MAX_IOV; b = b->next, n++) {
			iov[n].iov_base = b->data + b->rd;
			iov[n].iov_len = b->wr - b->rd;
		}
		if (c->raw_out > 0 && iov[0].iov_len > c->raw_out)
			iov[0].iov_len = c->raw_out;
		r = conn_transport_write(c, iov, c->raw_out > 0 ? 1 : n);
		if (r < 0) {
			conn_close(w, c, "write error");
			return;
		}
		if (r == 0)
			break;
		conn_consume_out(c, (size_t)r);
		c->raw_out -= c->raw_out < r ? c->raw_out : (uint32_t)r;
		c->stalled_since_ms = w->now_ms;
	}
	if (c->ws != NULL && c->raw_out == 0 && ws_write(w, c) != 0) {
		conn_close(w, c, "WebSocket write error");
		return;
	}
	if (c->out_bytes == 0 && !ws_wants_write(c) && c->state == CS_FLUSH_CLOSE) {
		if (c->ssl != NULL && SSL_shutdown(c->ssl) < 0)
			ERR_clear_error();
		conn_close(w, c, "response sent");
	}
}

void
conn_flush_all(struct wk *w)
{
	struct conn *c;

	while ((c = w->flush) != NULL) {
		w->flush = c->flush_next;
		c->in_flush = 0;
		if (c->fd < 0)
			continue;
		conn_write(w, c);
		conn_update_events(w, c);
	}
}

int
conn_append(struct wk *w, struct conn *c, const void *p, size_t len)
{
	const uint8_t *src = p;
	struct buf *b;
	size_t room, take;

	if (c->fd < 0)
		return -1;
	if (c->out_bytes == 0)
		c->stalled_since_ms = w->now_ms;
	while (len > 0) {
		b = c->out_tail;
		if (b == NULL || b->wr == BUF_SIZE) {
			if ((b = buf_get()) == NULL)
				return -1;
			if (c->out_tail != NULL)
				c->out_tail->next = b;
			else
				c->out_head = b;
			c->out_tail = b;
		}
		room = BUF_SIZE - b->wr;
		take = len < room ? len : room;
		memcpy(b->data + b->wr, src, take);
		b->wr += take;
		src += take;
		len -= take;
		c->out_bytes += take;
	}
	mark_flush(w, c);
	return 0;
}

int
conn_queue(struct wk *w, struct conn *c, const void *p, size_t len)
{
	if (conn_append(w, c, p, len) == 0)
		return 0;
	conn_close(w, c, "out of memory");
	return -1;
}

int
conn_queue_packet(struct wk *w, struct conn *c, const uint8_t src[DERP_KEY_LEN],
    const uint8_t *pkt, uint32_t len)
{
	uint8_t hdr[DERP_RECV_HDR_LEN];

	if (c->out_bytes + sizeof(hdr) + len > (uint64_t)w->cfg->queue_kib * 1024) {
		stat(w, ST_DROP_QUEUE_FULL, 1);
		stat(w, ST_DROP_BYTES_QUEUE_FULL, len);
		return -1;
	}
	frame_recv_packet_header(hdr, src, len);
	if (conn_queue(w, c, hdr, sizeof(hdr)) != 0 ||
	    conn_queue(w, c, pkt, len) != 0)
		return -1;
	stat(w, ST_PACKETS_SENT, 1);
	stat(w, ST_BYTES_SENT, len);
	watch_note_src(w, c, src);
	return 0;
}

int
conn_queue_control(struct wk *w, struct conn *c, const void *p, size_t len)
{
	if (c->out_bytes > (uint64_t)w->cfg->queue_kib * 1024 + CONTROL_SLACK)
		return -1;	/* a client that does not read gets no more replies */
	return conn_queue(w, c, p, len);
}

static void
tls_handshake(struct wk *w, struct conn *c)
{
	int r, err;

	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->state = CS_HTTP;
		c->tls_read_wants_write = 0;
		conn_mark_ready(w, c);	/* the request may already be buffered */
		return;
	}
	err = tls_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ)
		c->tls_read_wants_write = 0;
	else if (err == SSL_ERROR_WANT_WRITE)
		c->tls_read_wants_write = 1;
	else {
		stat(w, ST_HANDSHAKE_FAILURES, 1);
		conn_close(w, c, "TLS handshake failed");
	}
}

static int
ensure_in(struct wk *w, struct conn *c)
{
	if (c->in == NULL && (c->in = buf_get()) == NULL) {
		conn_close(w, c, "out of memory");
		return -1;
	}
	return 0;
}

/* Makes room at the end of the input buffer by moving the unread bytes. */
static void
compact_in(struct buf *b)
{
	if (b->rd == 0)
		return;
	memmove(b->data, b->data + b->rd, b->wr - b->rd);
	b->wr -= b->rd;
	b->rd = 0;
}

static void
conn_read(struct wk *w, struct conn *c)
{
	size_t budget = READ_BUDGET;
	ssize_t r;

	while (c->fd >= 0 && budget > 0 && c->paused_until_ms == 0 &&
	    (c->state == CS_HTTP || c->state == CS_CLIENT_INFO ||
	    c->state == CS_RELAY)) {
		if (ensure_in(w, c) != 0)
			return;
		if (c->in->wr == BUF_SIZE)
			compact_in(c->in);
		if (c->in->wr == BUF_SIZE) {
			conn_close(w, c, "input buffer full");
			return;
		}
		r = c->ws != NULL ? ws_read(c) :
		    conn_transport_read(c, c->in->data + c->in->wr, BUF_SIZE - c->in->wr);
		if (r == WS_CLOSING) {
			process_input(w, c);	/* what came before the close */
			if (c->fd >= 0 && c->state != CS_FLUSH_CLOSE)
				conn_flush_close(w, c);
			return;
		}
		if (r < 0) {
			conn_close(w, c, "connection closed");
			return;
		}
		if (r == 0)
			break;
		if (c->ws == NULL)	/* wslay's callbacks appended it already */
			c->in->wr += r;
		budget -= r > (ssize_t)budget ? budget : (size_t)r;
		process_input(w, c);
	}
	if (c->fd < 0)
		return;
	if (c->in != NULL && c->in->rd == c->in->wr && c->state != CS_WAIT_KEY) {
		buf_put(c->in);
		c->in = NULL;
	}
	if (budget == 0 || (c->ssl != NULL && SSL_has_pending(c->ssl)))
		conn_mark_ready(w, c);
}

static void
count_frame(struct wk *w, uint8_t type)
{
	uint64_t *p = &w->shm->hdr->workers[w->id].frames[type % STAT_FRAME_TYPES];

	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + 1,
	    __ATOMIC_RELAXED);
}

/*
 * derper's per-client receive limit: every frame's length is charged
 * before the frame is handled (capped at one full packet frame, as
 * derper does), and a client over its rate is not read from, nor its
 * frame handled, until it is back under it (the tick resumes it).
 */
static int
over_rate(struct wk *w, struct conn *c, uint32_t len)
{
	uint64_t bps, burst;
	int64_t wait_ns;

	if (c->can_mesh || !shm_rate_get(w->shm, &bps, &burst))
		return 0;
	if (len > DERP_MAX_PACKET + DERP_KEY_LEN)
		len = DERP_MAX_PACKET + DERP_KEY_LEN;
	wait_ns = bucket_spend(&c->rate, (double)bps, (double)burst, len,
	    w->now_ms * 1000000);
	if (wait_ns == 0)
		return 0;
	c->paused_until_ms = w->now_ms + wait_ns / 1000000 + 1;
	stat(w, ST_RATE_LIMIT_WAITS, 1);
	return 1;
}

/* Handles every complete frame in the input buffer. */
static void
process_frames(struct wk *w, struct conn *c)
{
	struct buf *b = c->in;
	enum frame_verdict v;
	const char *why = "bad frame";
	uint32_t len, avail;
	uint8_t type;

	while (c->fd >= 0 && c->state == CS_RELAY && c->paused_until_ms == 0) {
		avail = b->wr - b->rd;
		if (c->skip > 0) {
			len = c->skip < avail ? c->skip : avail;
			b->rd += len;
			c->skip -= len;
			if (c->skip > 0)
				return;
			continue;
		}
		if (!frame_get_header(b->data + b->rd, avail, &type, &len))
			break;
		v = frame_check_client(type, len, &why);
		if (!c->hdr_seen) {	/* once per frame, however it arrives */
			count_frame(w, type);
			if (v == FRAME_REJECT) {
				conn_close(w, c, why);
				return;
			}
			c->hdr_seen = 1;
			if (over_rate(w, c, len)) {
				conn_update_events(w, c);
				break;
			}
		}
		if (v == FRAME_SKIP) {
			stat(w, ST_UNKNOWN_FRAMES, 1);
			b->rd += DERP_FRAME_HDR_LEN;
			c->skip = len;
			c->hdr_seen = 0;
			continue;
		}
		if (avail - DERP_FRAME_HDR_LEN < len)
			break;
		c->hdr_seen = 0;
		relay_note_activity(w, c);
		if (relay_frame(w, c, type, b->data + b->rd + DERP_FRAME_HDR_LEN,
		    len) != 0)
			return;
		b->rd += DERP_FRAME_HDR_LEN + len;
	}
	if (c->fd >= 0 && b->rd == b->wr)
		b->rd = b->wr = 0;
	else if (c->fd >= 0 && b->rd > BUF_SIZE / 2)
		compact_in(b);
}

static void
process_client_info(struct wk *w, struct conn *c)
{
	struct buf *b = c->in;
	const char *why = "bad ClientInfo";
	uint32_t len;
	uint8_t type;

	if (!frame_get_header(b->data + b->rd, b->wr - b->rd, &type, &len))
		return;
	if (frame_check_client_info(type, len, &why) != FRAME_ACCEPT ||
	    (len > BUF_SIZE - DERP_FRAME_HDR_LEN && (why = "ClientInfo too large"))) {
		stat(w, ST_HANDSHAKE_FAILURES, 1);
		conn_close(w, c, why);
		return;
	}
	if (b->wr - b->rd - DERP_FRAME_HDR_LEN < len) {
		if (BUF_SIZE - b->rd < DERP_FRAME_HDR_LEN + len)
			compact_in(b);
		return;
	}
	count_frame(w, type);
	handshake_client_info(w, c, b->data + b->rd + DERP_FRAME_HDR_LEN);
}

static void
process_input(struct wk *w, struct conn *c)
{
	switch (c->state) {
	case CS_HTTP:
		if (serve_http(w, c) <= 0 || c->fd < 0)
			return;
		if (c->state != CS_CLIENT_INFO || c->in->rd == c->in->wr)
			return;
		/* ClientInfo may arrive along with the request */
		__attribute__((fallthrough));
	case CS_CLIENT_INFO:
		process_client_info(w, c);
		return;
	case CS_RELAY:
		process_frames(w, c);
		return;
	default:
		return;
	}
}

void
handshake_finish(struct wk *w, struct conn *c)
{
	conn_update_events(w, c);
	if (c->in != NULL && c->in->rd < c->in->wr)
		process_input(w, c);
	conn_mark_ready(w, c);
}

void
conn_io(struct wk *w, struct conn *c, uint32_t events)
{
	if (events & EPOLLERR) {
		conn_close(w, c, "socket error");
		return;
	}
	if (c->state == CS_TLS_HANDSHAKE) {
		tls_handshake(w, c);
		if (c->fd < 0 || c->state == CS_TLS_HANDSHAKE) {
			if (c->fd >= 0)
				conn_update_events(w, c);
			return;
		}
	}
	if ((events & EPOLLOUT) || c->tls_write_wants_read)
		conn_write(w, c);
	if (c->fd >= 0 && ((events & (EPOLLIN | EPOLLHUP)) ||
	    c->tls_read_wants_write || c->in_ready))
		conn_read(w, c);
	conn_update_events(w, c);
}

void
conn_run_ready(struct wk *w)
{
	struct conn *list = w->ready, *c;

	w->ready = NULL;
	while ((c = list) != NULL) {
		list = c->ready_next;
		c->in_ready = 0;
		if (c->fd < 0)
			continue;
		if (c->state == CS_TLS_HANDSHAKE)
			conn_io(w, c, EPOLLIN);
		else {
			if (c->in != NULL && c->in->rd < c->in->wr)
				process_input(w, c);
			if (c->fd >= 0)
				conn_read(w, c);
			conn_update_events(w, c);
		}
	}
}

/*
 * derper sends a KeepAlive about every 60 s. A client that can ack pings
 * gets a Ping instead: it keeps the connection alive just the same and its
 * Pong tells us the round-trip time.
 */
static void
keep_alive(struct wk *w, struct conn *c)
{
	uint8_t f[DERP_FRAME_HDR_LEN + DERP_PING_LEN];

	if (c->info.can_ack_pings && c->ping_sent_ms == 0) {
		randombytes_buf(c->ping_data, sizeof(c->ping_data));
		if (conn_queue_control(w, c, f, frame_ping(f, c->ping_data)) == 0) {
			c->ping_sent_ms = w->now_ms;
			stat(w, ST_SENT_PING, 1);
		}
	} else
		conn_queue_control(w, c, f, frame_keep_alive(f));
	c->next_keepalive_ms = w->now_ms + w->cfg->keepalive_ms +
	    (int64_t)(random() % 5000);
}

void
conn_tick(struct wk *w)
{
	struct conn *c, *next;
	int64_t wt;

	for (c = w->all; c != NULL; c = next) {
		next = c->next;
		/* derper gives mesh peers 30 s: they may be sent a long dump. */
		wt = c->can_mesh ? MESH_WRITE_TIMEOUT_MS : w->cfg->tcp_write_timeout_ms;
		if (c->state != CS_RELAY) {
			if (w->now_ms >= c->deadline_ms) {
				if (c->state != CS_FLUSH_CLOSE)
					stat(w, ST_HANDSHAKE_FAILURES, 1);
				conn_close(w, c, "handshake timeout");
			}
			continue;
		}
		if (wt > 0 && (c->out_bytes > 0 || ws_wants_write(c)) &&
		    w->now_ms - c->stalled_since_ms > wt) {
			conn_close(w, c, "write timeout");
			continue;
		}
		if (w->now_ms >= c->next_keepalive_ms)
			keep_alive(w, c);
		if (c->paused_until_ms != 0 && w->now_ms >= c->paused_until_ms) {
			c->paused_until_ms = 0;
			conn_update_events(w, c);
			conn_mark_ready(w, c);	/* frames may be waiting in the buffer */
		}
	}
}
