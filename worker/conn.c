/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connections' lifecycle: slots and generations, a new connection (accepted
 * or made), epoll interest, the ready list, close and the graveyard.
 */
#include "conn.h"

#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conn_int.h"
#include "http.h"
#include "log.h"
#include "loginmem.h"
#include "outq.h"
#include "sendq.h"
#include "tlsown.h"
#include "transport.h"
#include "websocket.h"

#define FLUSH_CLOSE_MS	5000
/*
 * What OpenSSL holds for a connection during its login, charged to the
 * login memory budget beside derpd's own buffers (measured with Pss: 14.8
 * KiB a connection after the handshake, 16.4 KiB more while it holds part
 * of a record).
 */
#define TLS_STATE_BYTES	(14 * 1024)

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
int
conn_login_room(struct wk *w, const struct conn *self, uint64_t need)
{
	struct conn *v;

	while ((v = loginmem_victim(w, need)) != NULL && v != self) {
		loginmem_closed(w);
		conn_close(w, v, "login memory budget spent: oldest login closed");
	}
	return loginmem_fits(w, need) ? 0 : -1;
}

void
conn_new(struct wk *w, int fd, const struct sockaddr_storage *ss, int port80)
{
	int tls = w->ssl_ctx != NULL && !port80;
	uint32_t base = sizeof(struct conn) + (tls ? TLS_STATE_BYTES : 0);
	struct epoll_event ev;
	struct conn *c;

	if (w->nfree == 0 || conn_login_room(w, NULL, base) != 0 ||
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
		transport_tls_attach(c);
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
	transport_tls_attach(c);
	SSL_set_connect_state(ssl);
	SSL_set_mode(ssl, SSL_MODE_ASYNC);	/* a client certificate's signature */
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
	if (c->out_bytes > 0 || c->tls_read_wants_write || transport_unsent(c))
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
	tlsown_free(c);
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
