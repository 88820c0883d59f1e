/* SPDX-License-Identifier: BSD-3-Clause */
/* One DERP client: connect, TLS, HTTP upgrade, login, then frames. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "derpbench.h"

#define IN_MIN		(32 * 1024)	/* free room kept for a read */
#define IN_MAX		(DERP_MAX_FRAME_LEN + IN_MIN)
#define READ_TURN	(64 * 1024)	/* a client's reads per wake-up */
#define PORT_LO		10000		/* placement ports stay below the */
#define PORT_HI		32000		/* kernel's ephemeral range */

static const char client_json[] = "{\"version\":2}";

/* Source ports for placement, shared by all threads. */
static uint32_t next_port;

static void
die(struct client *c, const char *why)
{
	int was_ready = c->state == C_READY;

	if (c->state == C_DEAD)
		return;
	if (c->lp->failed + c->lp->died < 5)
		log_warnx("%s%s", why, strstr(why, "certificate") != NULL ?
		    " (use -k, or --cafile)" : "");
	client_close(c, 1);
	loop_on_dead(c, was_ready);
}

static int
buf_room(struct buf *b, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len >= n)
		return 0;
	if (b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= n)
			return 0;
	}
	for (cap = b->cap ? b->cap : 4096; cap - b->len < n; cap *= 2)
		;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

uint8_t *
client_out_reserve(struct client *c, size_t n)
{
	uint8_t *p;

	if (buf_room(&c->out, n) != 0)
		fatal("out of memory");
	p = c->out.p + c->out.len;
	c->out.len += n;
	return p;
}

void
client_update_events(struct client *c)
{
	struct epoll_event ev;
	uint32_t want = EPOLLIN;

	if (c->state == C_DEAD)
		return;
	if (c->state == C_CONNECTING || c->tls_wants_write || c->more ||
	    c->out.len > c->out.off)
		want |= EPOLLOUT;
	if (c->state == C_CONNECTING)
		want = EPOLLOUT;
	if (want == c->events)
		return;
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(c->lp->epfd, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    c->fd, &ev) != 0)
		fatal("epoll_ctl");
	c->events = want;
}

/*
 * A source address and port p with p % workers == worker, so derpd puts
 * us there. Each address has (PORT_HI - PORT_LO) / workers such ports;
 * past them, against a server on IPv4 loopback, the next loopback address
 * (127.0.0.2, ...) starts over, so that one worker can be given more
 * clients than one address has ports.
 */
static int
bind_placed(int fd, int worker)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	uint32_t n, span = PORT_HI - PORT_LO, round, p;
	int one = 1;

	span -= span % (uint32_t)opt.workers;
	n = __atomic_fetch_add(&next_port, (uint32_t)opt.workers, __ATOMIC_RELAXED);
	round = n / span;
	p = PORT_LO + n % span;
	p = p - p % (uint32_t)opt.workers + (uint32_t)worker;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = opt.addr.ss_family;
	if (ss.ss_family == AF_INET) {
		sin->sin_port = htons((uint16_t)p);
		if (round > 0 && (ntohl(((struct sockaddr_in *)&opt.addr)->
		    sin_addr.s_addr) >> 24) == 127)
			sin->sin_addr.s_addr = htonl(0x7f000001 + round % 0xfffffe);
	} else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)p);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return bind(fd, (struct sockaddr *)&ss, opt.addrlen);
}

/* Receivers log in to the --rx-url server when there is one. */
static int
to_rx(const struct client *c)
{
	return opt.rx && c->role == R_RECV;
}

static const struct sockaddr_storage *
dest(const struct client *c, socklen_t *len)
{
	*len = to_rx(c) ? opt.rx_addrlen : opt.addrlen;
	return to_rx(c) ? &opt.rx_addr : &opt.addr;
}

static const char *
server_name(const struct client *c)
{
	if (to_rx(c))
		return opt.rx_servername ? opt.rx_servername : opt.rx_host;
	return opt.servername ? opt.servername : opt.host;
}

void
client_start(struct client *c)
{
	socklen_t len;
	const struct sockaddr_storage *to = dest(c, &len);
	int fd, one = 1, tries;

	for (tries = 0; tries < 1000; tries++) {
		fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0)
			fatal("socket");
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (c->worker >= 0 && bind_placed(fd, c->worker) != 0) {
			close(fd);
			if (errno == EADDRINUSE)
				continue;
			fatal("bind");
		}
		if (connect(fd, (const struct sockaddr *)to, len) == 0 ||
		    errno == EINPROGRESS)
			break;
		close(fd);
		fd = -1;
		if (errno != EADDRNOTAVAIL && errno != EADDRINUSE)
			break;
	}
	c->fd = fd;
	c->state = C_CONNECTING;
	c->events = 0;
	c->tls_wants_write = 0;
	c->t_start = mono_ns();
	if (fd < 0) {
		c->state = C_DEAD;
		c->lp->connecting++;	/* loop_on_dead undoes it */
		log_warn("connect");
		loop_on_dead(c, 0);
		return;
	}
	c->lp->connecting++;
	client_update_events(c);
}

void
client_close(struct client *c, int reset)
{
	struct linger lg = { 1, 0 };

	if (c->state == C_DEAD)
		return;
	if (reset)	/* no TIME_WAIT: the handshake mode makes many */
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	c->state = C_DEAD;
	c->events = 0;
	buf_free(&c->in);
	buf_free(&c->out);
}

static int
is_ip_literal(const char *s)
{
	uint8_t b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static void
send_upgrade(struct client *c)
{
	char req[512];
	int n;

	n = snprintf(req, sizeof(req), "GET /derp HTTP/1.1\r\nHost: %s\r\n"
	    "Connection: Upgrade\r\nUpgrade: DERP\r\n\r\n", server_name(c));
	memcpy(client_out_reserve(c, (size_t)n), req, (size_t)n);
	c->state = C_HTTP;
}

static int
tls_begin(struct client *c)
{
	const char *name = server_name(c);

	if ((c->ssl = SSL_new(client_ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	if (!is_ip_literal(name))
		SSL_set_tlsext_host_name(c->ssl, name);
	if (!opt.insecure && SSL_set1_host(c->ssl, name) != 1)
		return -1;
	SSL_set_connect_state(c->ssl);
	c->state = C_TLS;
	return 0;
}

static int
tls_step(struct client *c)
{
	int r;

	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		c->tls_wants_write = 0;
		send_upgrade(c);
		return 0;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->tls_wants_write = 0;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->tls_wants_write = 1;
		return 0;
	default:
		return -1;
	}
}

int
client_flush(struct client *c)
{
	ssize_t r;
	int err;

	while (c->state != C_DEAD && c->out.off < c->out.len) {
		if (c->ssl == NULL) {
			r = write(c->fd, c->out.p + c->out.off, c->out.len - c->out.off);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (r < 0) {
				die(c, strerror(errno));
				return -1;
			}
		} else {
			ERR_clear_error();
			r = SSL_write(c->ssl, c->out.p + c->out.off,
			    (int)(c->out.len - c->out.off));
			if (r <= 0) {
				err = SSL_get_error(c->ssl, (int)r);
				if (err == SSL_ERROR_WANT_WRITE ||
				    err == SSL_ERROR_WANT_READ)
					break;
				die(c, "TLS write failed");
				return -1;
			}
		}
		c->out.off += (size_t)r;
	}
	if (c->out.off == c->out.len)
		c->out.off = c->out.len = 0;
	client_update_events(c);
	return 0;
}

/* Sends ClientInfo once the server's key is known. */
static int
send_client_info(struct client *c, const uint8_t *payload, uint32_t len)
{
	struct loop *lp = c->lp;
	size_t ki = (size_t)(c->key - lp->keys);
	int s = to_rx(c);
	uint8_t *f;
	uint32_t flen = KEY_LEN + DERP_NONCE_LEN + crypto_box_MACBYTES +
	    sizeof(client_json) - 1;

	if (len < DERP_MAGIC_LEN + KEY_LEN ||
	    memcmp(payload, DERP_MAGIC, DERP_MAGIC_LEN) != 0)
		return -1;
	payload += DERP_MAGIC_LEN;
	if (!lp->have_server_pub[s]) {
		memcpy(lp->server_pub[s], payload, KEY_LEN);
		lp->have_server_pub[s] = 1;
	} else if (memcmp(lp->server_pub[s], payload, KEY_LEN) != 0)
		return -1;	/* the server changed keys under us */
	if (!lp->shared_ok[ki]) {
		if (crypto_box_beforenm(lp->shared[ki], lp->server_pub[s],
		    c->key->sec) != 0)
			return -1;
		lp->shared_ok[ki] = 1;
	}
	f = client_out_reserve(c, DERP_FRAME_HDR_LEN + flen);
	frame_put_header(f, FRAME_CLIENT_INFO, flen);
	f += DERP_FRAME_HDR_LEN;
	memcpy(f, c->key->pub, KEY_LEN);
	randombytes_buf(f + KEY_LEN, DERP_NONCE_LEN);
	crypto_box_easy_afternm(f + KEY_LEN + DERP_NONCE_LEN,
	    (const uint8_t *)client_json, sizeof(client_json) - 1,
	    f + KEY_LEN, lp->shared[ki]);
	c->state = C_SERVER_INFO;
	return 0;
}

static int
open_server_info(struct client *c, const uint8_t *payload, uint32_t len)
{
	size_t ki = (size_t)(c->key - c->lp->keys);
	uint8_t plain[4096];

	if (len < DERP_NONCE_LEN + crypto_box_MACBYTES ||
	    len - DERP_NONCE_LEN - crypto_box_MACBYTES > sizeof(plain) ||
	    crypto_box_open_easy_afternm(plain, payload + DERP_NONCE_LEN,
	    len - DERP_NONCE_LEN, payload, c->lp->shared[ki]) != 0)
		return -1;
	c->state = C_READY;
	return 0;
}

static void
answer_ping(struct client *c, const uint8_t *payload, uint32_t len)
{
	uint8_t *f;

	if (len < DERP_PING_LEN)
		return;
	f = client_out_reserve(c, DERP_FRAME_HDR_LEN + DERP_PING_LEN);
	frame_put_header(f, FRAME_PONG, DERP_PING_LEN);
	memcpy(f + DERP_FRAME_HDR_LEN, payload, DERP_PING_LEN);
}

/* Returns -1 when the client died. */
static int
handle_frame(struct client *c, uint8_t type, const uint8_t *p, uint32_t len)
{
	switch (c->state) {
	case C_SERVER_KEY:
		if (type != FRAME_SERVER_KEY || send_client_info(c, p, len) != 0) {
			die(c, "bad ServerKey");
			return -1;
		}
		return 0;
	case C_SERVER_INFO:
		if (type != FRAME_SERVER_INFO || open_server_info(c, p, len) != 0) {
			die(c, "bad ServerInfo");
			return -1;
		}
		loop_on_ready(c);
		return c->state == C_DEAD ? -1 : 0;
	default:
		break;
	}
	switch (type) {
	case FRAME_RECV_PACKET:
		if (len >= KEY_LEN)
			loop_on_packet(c, p, p + KEY_LEN, len - KEY_LEN);
		break;
	case FRAME_PING:
		answer_ping(c, p, len);
		break;
	case FRAME_RESTARTING:
		c->lp->restarts++;
		break;
	default:	/* KeepAlive, PeerGone, Health, ...: nothing to do */
		break;
	}
	return 0;
}

static int
parse_http(struct client *c)
{
	struct buf *b = &c->in;
	const uint8_t *end;
	static const char ok[] = "HTTP/1.1 101 ";

	end = memmem(b->p + b->off, b->len - b->off, "\r\n\r\n", 4);
	if (end == NULL)
		return b->len - b->off > 16384 ? -1 : 0;
	if (b->len - b->off < sizeof(ok) - 1 ||
	    memcmp(b->p + b->off, ok, sizeof(ok) - 1) != 0)
		return -1;
	b->off = (size_t)(end + 4 - b->p);
	c->state = C_SERVER_KEY;
	return 1;
}

static int
process_in(struct client *c)
{
	struct buf *b = &c->in;
	uint32_t len;
	uint8_t type;
	int r;

	if (c->state == C_HTTP) {
		if ((r = parse_http(c)) <= 0) {
			if (r < 0)
				die(c, "upgrade refused");
			return r;
		}
	}
	while (c->state != C_DEAD &&
	    frame_get_header(b->p + b->off, b->len - b->off, &type, &len)) {
		if (len > DERP_MAX_FRAME_LEN) {
			die(c, "frame too long");
			return -1;
		}
		if (b->len - b->off - DERP_FRAME_HDR_LEN < len)
			break;
		if (handle_frame(c, type, b->p + b->off + DERP_FRAME_HDR_LEN, len) != 0)
			return -1;
		b->off += DERP_FRAME_HDR_LEN + len;
	}
	return 0;
}

/*
 * Reads until the socket would block, or READ_TURN bytes: past that the
 * other clients get their turn first (epoll is level-triggered; what
 * OpenSSL has already decrypted is read before leaving). Reading to the
 * end made a pair whose packets came back through a fast relay sooner
 * than its socket was emptied keep the thread, and the other pairs wait.
 */
static void
client_read(struct client *c)
{
	size_t got = 0;
	ssize_t r;
	int err;

	while (c->state != C_DEAD && (got < READ_TURN ||
	    (c->ssl != NULL && SSL_pending(c->ssl) > 0))) {
		if (buf_room(&c->in, IN_MIN) != 0 || c->in.cap > IN_MAX * 2) {
			die(c, "input buffer");
			return;
		}
		if (c->ssl == NULL) {
			r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (r <= 0) {
				die(c, r == 0 ? "server closed" : strerror(errno));
				return;
			}
		} else {
			ERR_clear_error();
			r = SSL_read(c->ssl, c->in.p + c->in.len,
			    (int)(c->in.cap - c->in.len));
			if (r <= 0) {
				err = SSL_get_error(c->ssl, (int)r);
				if (err == SSL_ERROR_WANT_READ)
					return;
				if (err == SSL_ERROR_WANT_WRITE) {
					c->tls_wants_write = 1;
					return;
				}
				die(c, "server closed");
				return;
			}
		}
		c->in.len += (size_t)r;
		got += (size_t)r;
		if (process_in(c) != 0)
			return;
	}
}

static void
connected(struct client *c)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
		die(c, err ? strerror(err) : "connect failed");
		return;
	}
	if (!opt.tls) {
		send_upgrade(c);
		return;
	}
	if (tls_begin(c) != 0)
		die(c, "SSL_new");
}

void
client_io(struct client *c, uint32_t events)
{
	if (c->state == C_DEAD)
		return;
	if (c->state == C_CONNECTING) {
		connected(c);
		if (c->state == C_DEAD)
			return;
	}
	if (c->state == C_TLS) {
		if (tls_step(c) != 0) {
			long v = SSL_get_verify_result(c->ssl);

			die(c, v == X509_V_OK ? "TLS handshake failed" :
			    X509_verify_cert_error_string(v));
			return;
		}
		if (c->state == C_TLS) {
			client_update_events(c);
			return;
		}
	}
	if ((events & EPOLLOUT) || c->out.len > c->out.off)
		if (client_flush(c) != 0)
			return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR) || c->tls_wants_write) {
		c->tls_wants_write = 0;
		client_read(c);
	}
	if (c->state != C_DEAD && c->out.len > c->out.off)
		client_flush(c);
	else
		client_update_events(c);
	/* Thousands of idle clients keep no buffers. */
	if (c->role == R_IDLE && c->state == C_READY && c->in.off == c->in.len &&
	    c->out.off == c->out.len) {
		buf_free(&c->in);
		buf_free(&c->out);
	}
}
