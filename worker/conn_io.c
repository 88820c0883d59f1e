/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connections' bytes: the read loop into a connection's input buffer (its
 * own during the login, charged to the login memory budget; a pool buffer
 * after), the TLS handshake, and the write loop of its output queue.
 */
#include "conn.h"

#include <openssl/ssl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#include "clientcert.h"
#include "conn_int.h"
#include "loginmem.h"
#include "outq.h"
#include "sendq.h"
#include "tlsctx.h"
#include "tlsown.h"
#include "transport.h"
#include "websocket.h"

/*
 * What one connection may read in one turn of the event loop, in bytes and
 * in reads (records, over TLS): a sender of small packets under overload
 * would otherwise hold the loop for thousands of records while every other
 * connection of the worker waits. Past either it is served again next turn.
 */
#define READ_BUDGET	(256 * 1024)
#define READ_CALLS	64
#define CONTROL_SLACK	(64 * 1024)	/* control frames may exceed the queue limit by this */
#define MAX_IOV		16
#define IN_FIRST	4096	/* a login's first input buffer: a request, a ClientInfo */
/* OpenSSL's read buffer while it holds part of a record (Pss, measured). */
#define TLS_RECORD_BYTES (18 * 1024)

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

	while (c->out_bytes > 0 || transport_unsent(c)) {
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
	if (c->out_bytes > 0 || transport_unsent(c))
		return;
	transport_tls_rest(c);
	if (c->state == CS_FLUSH_CLOSE) {
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

	if ((c->ssl == NULL && c->own == NULL) || !c->lm_on || c->fd < 0)
		return;
	transport_tls_rest(c);	/* a paused handshake keeps its buffers */
	held = transport_partial(c);
	if (held == c->lm_tls_record)
		return;
	c->lm_tls_record = held;
	loginmem_charge(w, c, held ? TLS_RECORD_BYTES : -TLS_RECORD_BYTES);
}

/* A relay client's records become ours (tlsown.h); -1 when c was closed. */
static int
own_records(struct wk *w, struct conn *c)
{
	int r;

	if (c->outbound)
		return 0;	/* our mesh links keep OpenSSL's */
	if ((r = tlsown_take(w, c)) < 0) {
		conn_close(w, c, "out of memory");
		return -1;
	}
	if (r == 1)
		wk_stat(w, ST_TLS_OWN, 1);
	return 0;
}

static void
tls_handshake(struct wk *w, struct conn *c)
{
	int r = transport_tls_handshake(w, c);

	if (r == 1 && tlsctx_is_challenge(c->ssl)) {
		conn_close(w, c, "TLS-ALPN-01 validation answered");
		return;
	}
	if (r == 1 && clientcert_check(w, c) != 0) {
		conn_close(w, c, "no client certificate (ACME validation only)");
		return;
	}
	if (r == 1) {
		if (transport_tls_ktls(c))
			wk_stat(w, ST_TLS_KTLS, 1);
		if (own_records(w, c) != 0)
			return;
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
	if (c->lm_on && conn_login_room(w, c, IN_FIRST) != 0)
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
	if (conn_login_room(w, c, cap - old) != 0)
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
	transport_tls_logged_in(c);
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
	int calls = READ_CALLS;
	ssize_t r;

	c->read_turn = w->read_turn;

	while (c->fd >= 0 && budget > 0 && calls > 0 && c->paused_until_ms == 0 &&
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
		w->turn_bytes += (uint64_t)r;
		calls--;
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
	if (budget == 0 || calls == 0 || transport_pending(c))
		conn_mark_ready(w, c);
	else if (!c->lm_on)
		transport_tls_rest(c);
	if (transport_unsent(c))	/* a KeyUpdate the peer asked for */
		outq_schedule(w, c);
	tls_charge(w, c);
}

void
conn_io(struct wk *w, struct conn *c, uint32_t events)
{
	if (events & EPOLLERR) {
		conn_close(w, c, "socket error");
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP))
		c->rx_drained = 0;
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
		/* One read turn a connection per turn of the loop: one that
		 * epoll woke and that spent its budget waits for the next. */
		if (c->read_turn == w->read_turn) {
			conn_mark_ready(w, c);
			continue;
		}
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
	w->read_turn++;
}
