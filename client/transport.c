/* SPDX-License-Identifier: BSD-3-Clause */
#include "transport.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "errfmt.h"

#define SRC_PORT_LO	32768	/* Linux's default ephemeral range */
#define SRC_PORT_N	28232

static int tp_ex_index = -1;	/* SSL ex_data slot pointing back at the tp */

static void
set_err(char *err, size_t errlen, const char *what, const char *why)
{
	errfmt(err, errlen, "%s: %s", what, why);
}

/* The first OpenSSL error on the queue, or the system's errno text. */
static const char *
ssl_reason(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		return errno != 0 ? strerror(errno) : "unexpected end of stream";
	ERR_error_string_n(e, buf, cap);
	ERR_clear_error();
	return buf;
}

static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, ms_left(deadline));
	while (r < 0 && errno == EINTR);
	return r;
}

/*
 * A random source port (RFC 6056), where Linux's connect() would pick an
 * even one every time: relays that choose a worker by source port (derpd
 * does) then spread our connections, and the probe can reach two workers.
 * Falls back to the kernel's choice when the ports tried are taken.
 */
static void
bind_random_port(int fd, int family)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	uint16_t port;
	int i;

	for (i = 0; i < 8; i++) {
		memset(&ss, 0, sizeof(ss));
		port = (uint16_t)(SRC_PORT_LO + randombytes_uniform(SRC_PORT_N));
		ss.ss_family = (sa_family_t)family;
		if (family == AF_INET)
			s4->sin_port = htons(port);
		else
			s6->sin6_port = htons(port);
		if (bind(fd, (struct sockaddr *)&ss, family == AF_INET ?
		    sizeof(*s4) : sizeof(*s6)) == 0 || errno != EADDRINUSE)
			return;
	}
}

static int
try_connect(const struct addrinfo *ai, int64_t deadline, int *err)
{
	socklen_t len = sizeof(*err);
	int fd, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
		bind_random_port(fd, ai->ai_family);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	*err = errno;
	if (errno == EINPROGRESS) {
		if (wait_fd(fd, POLLOUT, deadline) <= 0)
			*err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) == 0 &&
		    *err == 0)
			return fd;
	}
	close(fd);
	return -1;
}

/* The first address that answers; the URL's host unless -dial names another. */
static int
tcp_connect(const struct url *u, const char *dial, int64_t deadline,
    char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[URL_HOST_MAX + 1], port[URL_PORT_MAX], what[300];
	const char *why;
	int fd = -1, e = 0, r;

	snprintf(host, sizeof(host), "%s", u->host);
	snprintf(port, sizeof(port), "%s", u->port);
	if (dial != NULL && url_parse_hostport(dial, host, sizeof(host), port,
	    &why) != 0) {
		set_err(err, errlen, "-dial", why);
		return -1;
	}
	snprintf(what, sizeof(what), "connect to %s port %s", host, port);
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		set_err(err, errlen, what, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = try_connect(ai, deadline, &e);
	freeaddrinfo(res);
	if (fd < 0)
		set_err(err, errlen, what, strerror(e));
	return fd;
}

/*
 * Records the first verification error (and its depth). Strict mode fails
 * the handshake on it; record-only mode carries on so a probe can report
 * an expired or mismatched certificate next to everything else.
 */
static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tp *t = SSL_get_ex_data(ssl, tp_ex_index);

	if (!ok && t->verify_err == 0) {
		t->verify_err = X509_STORE_CTX_get_error(xs);
		t->verify_depth = X509_STORE_CTX_get_error_depth(xs);
	}
	return SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE ? 1 : ok;
}

static int
tls_setup(struct tp *t, const struct url *u, const struct tp_opts *o)
{
	X509_VERIFY_PARAM *param;

	if (tp_ex_index < 0)
		tp_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	if (o->cafile != NULL ?
	    SSL_CTX_load_verify_locations(t->ctx, o->cafile, NULL) != 1 :
	    SSL_CTX_set_default_verify_paths(t->ctx) != 1)
		return -1;
	if ((t->ssl = SSL_new(t->ctx)) == NULL ||
	    SSL_set_fd(t->ssl, t->fd) != 1)
		return -1;
	SSL_set_ex_data(t->ssl, tp_ex_index, t);
	SSL_set_verify(t->ssl, o->record_only ? SSL_VERIFY_NONE :
	    SSL_VERIFY_PEER, verify_cb);
	param = SSL_get0_param(t->ssl);
	if (url_host_is_ip(u->host))
		return X509_VERIFY_PARAM_set1_ip_asc(param, u->host) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(t->ssl, u->host) != 1 ||
	    X509_VERIFY_PARAM_set1_host(param, u->host, 0) != 1)
		return -1;
	return 0;
}

static int
tls_handshake(struct tp *t, int64_t deadline)
{
	int r, e;

	while ((r = SSL_connect(t->ssl)) != 1) {
		e = SSL_get_error(t->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return -1;
		if (wait_fd(t->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		    deadline) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

static void
tls_fail(struct tp *t, char *err, size_t errlen)
{
	char buf[200];

	if (t->verify_err != 0)
		errfmt(err, errlen, "TLS: certificate verification failed: %s",
		    X509_verify_cert_error_string(t->verify_err));
	else
		set_err(err, errlen, "TLS handshake", ssl_reason(buf, sizeof(buf)));
}

struct tp *
tp_connect(const struct url *u, const struct tp_opts *o, int64_t deadline,
    char *err, size_t errlen)
{
	double start = now_msf();
	char buf[200];
	struct tp *t;

	if ((t = calloc(1, sizeof(*t))) == NULL || bq_init(&t->in, TP_INBUF) != 0) {
		free(t);
		set_err(err, errlen, "connect", "out of memory");
		return NULL;
	}
	if ((t->fd = tcp_connect(u, o->dial, deadline, err, errlen)) < 0) {
		tp_close(t);
		return NULL;
	}
	if (u->tls) {
		errno = 0;
		if (tls_setup(t, u, o) != 0) {
			set_err(err, errlen, o->cafile != NULL ? o->cafile : "TLS",
			    ssl_reason(buf, sizeof(buf)));
			tp_close(t);
			return NULL;
		}
		if (tls_handshake(t, deadline) != 0) {
			tls_fail(t, err, errlen);
			tp_close(t);
			return NULL;
		}
	}
	t->connect_ms = now_msf() - start;
	return t;
}

void
tp_close(struct tp *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL)
		SSL_free(t->ssl);
	if (t->ctx != NULL)
		SSL_CTX_free(t->ctx);
	if (t->fd >= 0)
		close(t->fd);
	bq_free(&t->in);
	free(t);
}

/* One read attempt: >0 bytes, 0 would block (*want set), -1 EOF/error. */
static ssize_t
read_once(struct tp *t, uint8_t *p, size_t room, short *want)
{
	char buf[200];
	ssize_t n;
	int r, e;

	*want = POLLIN;
	if (t->ssl == NULL) {
		if ((n = read(t->fd, p, room)) > 0)
			return n;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		errfmt(t->err, sizeof(t->err), "%s", n == 0 ?
		    "connection closed by the relay" : strerror(errno));
		return -1;
	}
	errno = 0;
	if ((r = SSL_read(t->ssl, p, (int)room)) > 0)
		return r;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	errfmt(t->err, sizeof(t->err), "%s", e == SSL_ERROR_ZERO_RETURN ?
	    "connection closed by the relay" : ssl_reason(buf, sizeof(buf)));
	return -1;
}

int
tp_fill(struct tp *t, int64_t deadline)
{
	size_t room;
	uint8_t *p = bq_tail(&t->in, &room);
	ssize_t n;
	short want;

	if (room == 0) {
		errfmt(t->err, sizeof(t->err), "input buffer full");
		return -1;
	}
	for (;;) {
		if ((n = read_once(t, p, room, &want)) != 0) {
			if (n < 0)
				return -1;
			bq_wrote(&t->in, (size_t)n);
			return 1;
		}
		if (deadline <= now_ms() || wait_fd(t->fd, want, deadline) == 0)
			return 0;
	}
}

static ssize_t
write_once(struct tp *t, const uint8_t *p, size_t len, short *want)
{
	char buf[200];
	ssize_t n;
	int r, e;

	*want = POLLOUT;
	if (t->ssl == NULL) {
		if ((n = send(t->fd, p, len, MSG_NOSIGNAL)) >= 0)
			return n;
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		errfmt(t->err, sizeof(t->err), "%s", strerror(errno));
		return -1;
	}
	errno = 0;
	if ((r = SSL_write(t->ssl, p, (int)len)) > 0)
		return r;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	errfmt(t->err, sizeof(t->err), "%s", ssl_reason(buf, sizeof(buf)));
	return -1;
}

int
tp_write(struct tp *t, const void *buf, size_t len, int64_t deadline)
{
	const uint8_t *p = buf;
	ssize_t n;
	short want;

	while (len > 0) {
		if ((n = write_once(t, p, len, &want)) < 0)
			return -1;
		p += n;
		len -= (size_t)n;
		if (n == 0 && wait_fd(t->fd, want, deadline) == 0) {
			errfmt(t->err, sizeof(t->err), "write timed out");
			return -1;
		}
	}
	return 0;
}
