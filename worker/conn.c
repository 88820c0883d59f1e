/* SPDX-License-Identifier: BSD-3-Clause */
#include "conn.h"

#include <errno.h>
#include <math.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "clientcert.h"
#include "http.h"
#include "log.h"
#include "loginmem.h"
#include "outq.h"
#include "sendq.h"
#include "transport.h"
#include "websocket.h"

#define READ_BUDGET	(256 * 1024)	/* bytes per connection per turn */
#define ACCEPT_BUDGET	64
#define CONTROL_SLACK	(64 * 1024)	/* control frames may exceed the queue limit by this */
#define FLUSH_CLOSE_MS	5000
#define MAX_IOV		16
#define IN_FIRST	4096	/* a login's first input buffer: a request, a ClientInfo */
/*
 * What OpenSSL holds for a connection during its login, charged to the
 * login memory budget beside derpd's own buffers (measured with Pss: 14.8
 * KiB a connection after the handshake, 16.4 KiB more while it holds part
 * of a record).
 */
#define TLS_STATE_BYTES	(14 * 1024)
#define TLS_RECORD_BYTES (18 * 1024)
#define PAUSE_MIN_MS	250	/* accept back-off: one tick, doubling */
#define PAUSE_MAX_MS	1000

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

/* Generations of this incarnation; routes carry the epoch beside them. */
static uint32_t
next_gen(struct wk *w)
{
	if (++w->next_gen == 0)
		w->next_gen = 1;
	return w->next_gen;
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

/*
 * Makes room for need more bytes of login memory, closing the oldest
 * stalled logins (loginmem_victim); self, which asks, is left to its
 * caller. Returns -1 if it does not fit.
 */
static int
login_room(struct wk *w, const struct conn *self, uint64_t need)
{
	struct conn *v;

	while ((v = loginmem_victim(w, need)) != NULL && v != self) {
		loginmem_closed(w);
		conn_close(w, v, "login memory budget spent: oldest login closed");
	}
	return loginmem_fits(w, need) ? 0 : -1;
}

static void
accept_one(struct wk *w, int fd, const struct sockaddr_storage *ss, int port80)
{
	int tls = w->ssl_ctx != NULL && !port80;
	uint32_t base = sizeof(struct conn) + (tls ? TLS_STATE_BYTES : 0);
	struct epoll_event ev;
	struct conn *c;

	if (w->nfree == 0 || login_room(w, NULL, base) != 0 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		if (w->nfree > 0 && !loginmem_fits(w, base))
			loginmem_closed(w);
		close(fd);
		wk_stat(w, ST_HANDSHAKE_FAILURES, 1);
		return;
	}
	c->fd = fd;
	c->slot = w->free_slots[--w->nfree];
	c->gen = next_gen(w);
	c->peer = *ss;
	c->deadline_ms = w->now_ms + w->cfg->handshake_timeout_ms;
	c->port80 = port80;
	c->in_max = HTTP_MAX_HEAD;
	c->state = tls ? CS_TLS_HANDSHAKE : CS_HTTP;
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
		SSL_set_mode(c->ssl, SSL_MODE_ASYNC);	/* until the handshake is done */
	}
	tune_socket(w->cfg, fd);
	w->slots[c->slot] = c;
	list_add(w, c);
	loginmem_add(w, c, base);
	c->epoll_events = EPOLLIN;
	ev.events = c->epoll_events;
	ev.data.u64 = conn_tag(c);
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal("epoll_ctl add client");
	wk_stat(w, ST_TCP_ACCEPTS, 1);
	wk_stat(w, ST_TCP_CURRENT, 1);
}

struct conn *
conn_outbound(struct wk *w, int fd, SSL *ssl)
{
	struct epoll_event ev;
	struct conn *c;
	int one = 1;

	/* Only a TCP socket takes this: whatever else came is refused. */
	if (w->nfree == 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) != 0 || SSL_set_fd(ssl, fd) != 1 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->ssl = ssl;
	c->outbound = 1;
	c->slot = w->free_slots[--w->nfree];
	c->gen = next_gen(w);
	c->deadline_ms = w->now_ms + w->cfg->handshake_timeout_ms;
	c->in_max = BUF_SIZE;
	c->state = CS_TLS_HANDSHAKE;
	SSL_set_connect_state(ssl);
	tune_socket(w->cfg, fd);
	w->slots[c->slot] = c;
	list_add(w, c);
	c->epoll_events = EPOLLIN;
	ev.events = c->epoll_events;
	ev.data.u64 = conn_tag(c);
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal("epoll_ctl add mesh link");
	wk_stat(w, ST_TCP_CURRENT, 1);
	conn_mark_ready(w, c);	/* the ClientHello goes out this turn */
	return c;
}

/*
 * Like derper, a connection over -accept-connection-limit/-burst is accepted
 * and closed at once: the client learns something is up, and the kernel's
 * queue does not fill. Each worker has its own bucket with an equal share
 * of the rate and burst, so no worker depends on another's bytes.
 */
static int
accept_allowed(struct wk *w)
{
	const struct config *cfg = w->cfg;
	struct timespec ts;
	double burst;
	int ok;

	if (isinf(cfg->accept_conn_limit))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	burst = ceil((double)cfg->accept_conn_burst / w->nworkers);
	ok = bucket_allow(&w->accept_bucket, cfg->accept_conn_limit / w->nworkers,
	    burst, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	wk_stat(w, ok ? ST_ACCEPT_LIMIT_ACCEPTED : ST_ACCEPT_LIMIT_REJECTED, 1);
	return ok;
}

static void
listen_ctl(struct wk *w, int op)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = TAG_LISTEN;
	if (epoll_ctl(w->epfd, op, w->listen_fd, &ev) != 0)
		log_warn("epoll_ctl listening socket");
	ev.data.u64 = TAG_HTTP;
	if (w->http_fd >= 0 && epoll_ctl(w->epfd, op, w->http_fd, &ev) != 0)
		log_warn("epoll_ctl listening socket");
}

/*
 * Out of descriptors (or of kernel memory for one): the listening socket
 * stays readable while accept fails, so trying again at once would spin.
 * As nginx does, the listening sockets leave epoll for a pause of one tick
 * doubling to 1 s while it lasts; clients already here are served, new
 * ones wait in the kernel's backlog. Logged when it starts and, with a
 * count, when it ends.
 */
static void
accept_pause(struct wk *w, int err)
{
	struct accept_pause *p = &w->accept_pause;

	wk_stat(w, ST_ACCEPT_NO_FDS, 1);
	if (p->failures++ == 0) {
		p->since_ms = w->now_ms;
		p->backoff_ms = PAUSE_MIN_MS;
		log_warnx("accept: %s: not accepting connections until "
		    "descriptors free up", strerror(err));
	} else if ((p->backoff_ms *= 2) > PAUSE_MAX_MS)
		p->backoff_ms = PAUSE_MAX_MS;
	p->resume_ms = w->now_ms + p->backoff_ms;
	p->paused = 1;
	listen_ctl(w, EPOLL_CTL_DEL);
}

/* accept4 took a descriptor (or found the queue empty, which it checks after). */
static void
accept_resumed(struct wk *w)
{
	struct accept_pause *p = &w->accept_pause;

	if (p->failures == 0)
		return;
	log_info("accepting connections again after %.1f s; %llu accept calls "
	    "failed for want of descriptors", (w->now_ms - p->since_ms) / 1000.0,
	    (unsigned long long)p->failures);
	p->failures = 0;
}

void
conn_accept(struct wk *w, int lfd, int port80)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i;

	for (i = 0; i < ACCEPT_BUDGET && !w->stopping && !w->accept_pause.paused;
	    i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE ||
		    errno == ENOBUFS || errno == ENOMEM)) {
			accept_pause(w, errno);
			return;
		}
		if (fd < 0) {
			if (errno == EAGAIN)
				accept_resumed(w);
			else if (errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		accept_resumed(w);
		if (!port80 && !accept_allowed(w)) {
			close(fd);
			continue;
		}
		accept_one(w, fd, &ss, port80);
	}
}

void
conn_tick(struct wk *w)
{
	struct accept_pause *p = &w->accept_pause;

	if (p->paused && w->now_ms >= p->resume_ms && !w->stopping) {
		p->paused = 0;
		listen_ctl(w, EPOLL_CTL_ADD);
	}
	/* Queued output is charged but not refused: settle up here. */
	login_room(w, NULL, 0);
}

void
conn_update_events(struct wk *w, struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;

	if (c->fd < 0)
		return;
	if (c->state != CS_WAIT_KEY && c->state != CS_WAIT_VERIFY &&
	    c->state != CS_WAIT_TABLE && c->state != CS_FLUSH_CLOSE &&
	    c->paused_until_ms == 0 && !c->claim_pending && !c->pushed_back)
		want |= EPOLLIN;
	if (c->out_bytes > 0 || c->tls_read_wants_write)
		want |= EPOLLOUT;
	if (c->tls_write_wants_read)
		want |= EPOLLIN;
	if (want == c->epoll_events)
		return;
	ev.events = want;
	ev.data.u64 = conn_tag(c);
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		fatal("epoll_ctl mod client (slot %u, fd %d, state %d)", c->slot,
		    c->fd, (int)c->state);
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

void
conn_close(struct wk *w, struct conn *c, const char *why)
{
	if (c->fd < 0)
		return;
	log_debug("closing client slot %u: %s", c->slot, why);
	w->up.closing(w, c);
	loginmem_remove(w, c);
	outq_free(w, c);
	sendq_free(w, c);
	buf_put(&w->bufs, c->in);
	c->in = NULL;
	if (c->ssl != NULL) {
		transport_tls_abandon(w, c);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	w->slots[c->slot] = NULL;
	w->free_slots[w->nfree++] = c->slot;
	list_del(w, c);
	wk_stat(w, ST_TCP_CURRENT, -1);
	c->next = w->graveyard;
	w->graveyard = c;
}

/* Frees closed connections, but not one still on a list of the next turn. */
void
conn_bury(struct wk *w)
{
	struct conn *c, *keep = NULL;

	while ((c = w->graveyard) != NULL) {
		w->graveyard = c->next;
		if (c->in_ready || c->in_flush) {
			c->next = keep;
			keep = c;
			continue;
		}
		ws_free(c);	/* here: we may have been inside wslay */
		free(c);
	}
	w->graveyard = keep;
}

void
conn_flush_close(struct wk *w, struct conn *c)
{
	c->state = CS_FLUSH_CLOSE;
	c->deadline_ms = w->now_ms + FLUSH_CLOSE_MS;
	outq_schedule(w, c);
}

int
conn_append(struct wk *w, struct conn *c, const void *head, size_t hlen,
    const void *body, size_t blen)
{
	if (c->ws != NULL)
		return ws_queue_frame(w, c, head, hlen, body, blen);
	if (outq_append(w, c, head, hlen) != 0 ||
	    (blen > 0 && outq_append(w, c, body, blen) != 0))
		return -1;
	return 0;
}

int
conn_queue(struct wk *w, struct conn *c, const void *p, size_t len)
{
	if (conn_append(w, c, p, len, NULL, 0) == 0)
		return 0;
	conn_close(w, c, "out of memory");
	return -1;
}

int
conn_queue_control(struct wk *w, struct conn *c, const void *p, size_t len)
{
	if (outq_over(w, c, CONTROL_SLACK))
		return -1;	/* a client that does not read gets no more replies */
	return conn_queue(w, c, p, len);
}

static void
conn_write(struct wk *w, struct conn *c)
{
	struct iovec iov[MAX_IOV];
	struct buf *b;
	ssize_t r;
	int n;

	while (c->out_bytes > 0) {
		for (n = 0, b = c->out_head; b != NULL && n < MAX_IOV; b = b->next, n++) {
			iov[n].iov_base = b->data + b->rd;
			iov[n].iov_len = b->wr - b->rd;
		}
		r = transport_write(c, iov, n);
		if (r < 0) {
			conn_close(w, c, "write error");
			return;
		}
		if (r == 0)
			break;
		outq_consume(w, c, (size_t)r);
		c->stalled_since_ms = w->now_ms;
		if (sendq_refill(w, c) != 0) {	/* packets waiting behind it */
			conn_close(w, c, "out of memory");
			return;
		}
	}
	if (c->out_bytes == 0 && c->state == CS_FLUSH_CLOSE) {
		transport_tls_shutdown(c);
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

/* While OpenSSL holds part of a record, its read buffer is charged too. */
static void
tls_charge(struct wk *w, struct conn *c)
{
	int held;

	if (c->ssl == NULL || !c->lm_on || c->fd < 0)
		return;
	held = SSL_has_pending(c->ssl);
	if (held == c->lm_tls_record)
		return;
	c->lm_tls_record = held;
	loginmem_charge(w, c, held ? TLS_RECORD_BYTES : -TLS_RECORD_BYTES);
}

static void
tls_handshake(struct wk *w, struct conn *c)
{
	int r = transport_tls_handshake(w, c);

	if (r == 1 && clientcert_check(w, c) != 0) {
		conn_close(w, c, "no client certificate (ACME validation only)");
		return;
	}
	if (r == 1) {
		c->state = CS_HTTP;
		conn_mark_ready(w, c);	/* the request may already be buffered */
		if (c->outbound)
			w->up.established(w, c);
	} else if (r < 0) {
		if (!c->outbound)
			wk_stat(w, ST_HANDSHAKE_FAILURES, 1);
		transport_tls_drain(c);
		conn_close(w, c, "TLS handshake failed");
	}
	tls_charge(w, c);
}

static int
budget_spent(struct wk *w, struct conn *c)
{
	loginmem_closed(w);
	wk_stat(w, ST_HANDSHAKE_FAILURES, 1);
	conn_close(w, c, "login memory budget spent");
	return -1;
}

/*
 * An input buffer: a pool buffer once logged in; before, one of its own
 * (charged to the login memory budget), first IN_FIRST bytes, doubled
 * when full up to c->in_max: what the request head or the ClientInfo
 * frame being read may need.
 */
static int
in_alloc(struct wk *w, struct conn *c)
{
	if (c->lm_on && login_room(w, c, IN_FIRST) != 0)
		return budget_spent(w, c);
	if ((c->in = c->lm_on ? buf_new(IN_FIRST) : buf_get(&w->bufs)) == NULL) {
		conn_close(w, c, "out of memory");
		return -1;
	}
	loginmem_charge(w, c, c->in->cap);
	return 0;
}

static int
in_grow(struct wk *w, struct conn *c)
{
	uint32_t old = c->in->cap, cap = old < c->in_max / 2 ? 2 * old : c->in_max;

	if (!c->lm_on || cap <= old) {
		conn_close(w, c, "input buffer full");
		return -1;
	}
	if (login_room(w, c, cap - old) != 0)
		return budget_spent(w, c);
	if (buf_grow(&c->in, cap) != 0) {
		conn_close(w, c, "out of memory");
		return -1;
	}
	loginmem_charge(w, c, cap - old);
	return 0;
}

/* Room at the end of c->in; -1 when c was closed. */
static int
in_room(struct wk *w, struct conn *c)
{
	if (c->in == NULL)
		return in_alloc(w, c);
	if (c->in->wr == c->in->cap)
		buf_compact(c->in);
	return c->in->wr < c->in->cap ? 0 : in_grow(w, c);
}

static void
in_release(struct wk *w, struct conn *c)
{
	loginmem_charge(w, c, -(int64_t)c->in->cap);
	buf_put(&w->bufs, c->in);
	c->in = NULL;
}

int
conn_logged_in(struct wk *w, struct conn *c)
{
	struct buf *b = c->in, *nb = NULL;
	uint32_t n;

	loginmem_remove(w, c);
	if (b == NULL)
		return 0;
	/* Frames that came with ClientInfo move to a pool buffer. */
	if ((n = b->wr - b->rd) > 0 && (nb = buf_get(&w->bufs)) == NULL) {
		conn_close(w, c, "out of memory");
		return -1;
	}
	if (nb != NULL) {
		memcpy(nb->data, b->data + b->rd, n);
		nb->wr = n;
	}
	c->in = nb;
	buf_put(&w->bufs, b);
	return 0;
}

/* Reads into c->in, handing every chunk to the session layer. */
static void
conn_read(struct wk *w, struct conn *c)
{
	size_t budget = READ_BUDGET;
	ssize_t r;

	while (c->fd >= 0 && budget > 0 && c->paused_until_ms == 0 &&
	    !c->claim_pending && !c->pushed_back &&
	    (c->state == CS_HTTP || c->state == CS_CLIENT_INFO ||
	    c->state == CS_RELAY)) {
		if (in_room(w, c) != 0)
			return;
		r = c->ws != NULL ? ws_read(c) :
		    transport_read(c, c->in->data + c->in->wr, c->in->cap - c->in->wr);
		if (r == WS_CLOSING) {
			w->up.input(w, c);	/* what came before the close */
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
		w->up.input(w, c);
	}
	if (c->fd < 0)
		return;
	if (c->in != NULL && c->in->rd == c->in->wr && c->state != CS_WAIT_KEY &&
	    c->state != CS_WAIT_VERIFY && c->state != CS_WAIT_TABLE)
		in_release(w, c);
	/*
	 * Decrypted bytes the buffer had no room for are read again this
	 * turn. Not SSL_has_pending(): it is also true for part of a record,
	 * which only the socket can complete (re-reading at once would spin).
	 */
	if (budget == 0 || (c->ssl != NULL && SSL_pending(c->ssl) > 0))
		conn_mark_ready(w, c);
	tls_charge(w, c);
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
				w->up.input(w, c);
			if (c->fd >= 0)
				conn_read(w, c);
			conn_update_events(w, c);
		}
	}
}
