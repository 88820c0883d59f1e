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

#include "log.h"
#include "outq.h"
#include "transport.h"
#include "websocket.h"

#define READ_BUDGET	(256 * 1024)	/* bytes per connection per turn */
#define ACCEPT_BUDGET	64
#define CONTROL_SLACK	(64 * 1024)	/* control frames may exceed the queue limit by this */
#define FLUSH_CLOSE_MS	5000
#define MAX_IOV		16

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

static void
accept_one(struct wk *w, int fd, const struct sockaddr_storage *ss, int port80)
{
	struct epoll_event ev;
	struct conn *c;

	if (w->nfree == 0 || (c = calloc(1, sizeof(*c))) == NULL) {
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
	wk_stat(w, ST_TCP_ACCEPTS, 1);
	wk_stat(w, ST_TCP_CURRENT, 1);
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
	if (c->state != CS_WAIT_KEY && c->state != CS_WAIT_TABLE &&
	    c->state != CS_FLUSH_CLOSE && c->paused_until_ms == 0)
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

void
conn_close(struct wk *w, struct conn *c, const char *why)
{
	if (c->fd < 0)
		return;
	log_debug("closing client slot %u: %s", c->slot, why);
	w->up.closing(w, c);
	outq_free(w, c);
	buf_put(&w->bufs, c->in);
	c->in = NULL;
	if (c->ssl != NULL) {
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

static void
tls_handshake(struct wk *w, struct conn *c)
{
	int r = transport_tls_handshake(c);

	if (r == 1) {
		c->state = CS_HTTP;
		conn_mark_ready(w, c);	/* the request may already be buffered */
	} else if (r < 0) {
		wk_stat(w, ST_HANDSHAKE_FAILURES, 1);
		conn_close(w, c, "TLS handshake failed");
	}
}

static int
ensure_in(struct wk *w, struct conn *c)
{
	if (c->in == NULL && (c->in = buf_get(&w->bufs)) == NULL) {
		conn_close(w, c, "out of memory");
		return -1;
	}
	return 0;
}

/* Reads into c->in, handing every chunk to the session layer. */
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
			buf_compact(c->in);
		if (c->in->wr == BUF_SIZE) {
			conn_close(w, c, "input buffer full");
			return;
		}
		r = c->ws != NULL ? ws_read(c) :
		    transport_read(c, c->in->data + c->in->wr, BUF_SIZE - c->in->wr);
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
	    c->state != CS_WAIT_TABLE) {
		buf_put(&w->bufs, c->in);
		c->in = NULL;
	}
	if (budget == 0 || (c->ssl != NULL && SSL_has_pending(c->ssl)))
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
				w->up.input(w, c);
			if (c->fd >= 0)
				conn_read(w, c);
			conn_update_events(w, c);
		}
	}
}
