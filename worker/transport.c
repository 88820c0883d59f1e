/* SPDX-License-Identifier: BSD-3-Clause */
/* Plain and TLS reads and writes, with OpenSSL's retry states kept on the conn. */
#include "transport.h"

#include <errno.h>
#include <openssl/err.h>
#include <unistd.h>

#include "tlskey.h"
#include "tlsown.h"

/*
 * Read-ahead once logged in: one read(2) takes whatever records have
 * arrived, up to this much, where OpenSSL would otherwise read each
 * record's header and body apart (two syscalls a packet). Logins read
 * without it, so that what OpenSSL holds for one is at most a part of a
 * record, as the login memory budget charges it.
 */
#define TLS_READ_BUF	(32 * 1024)

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

	if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE &&
	    err != SSL_ERROR_WANT_ASYNC)
		ERR_clear_error();
	return err;
}

ssize_t
transport_read(struct conn *c, uint8_t *p, size_t n)
{
	ssize_t r;
	int err;

	if (c->own != NULL)
		return tlsown_read(c, p, n);
	if (c->ssl == NULL) {
		if (c->rx_drained)
			return 0;
		r = read(c->fd, p, n);
		if (r > 0) {
			c->rx_drained = (size_t)r < n;
			return r;
		}
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

ssize_t
transport_write(struct conn *c, struct iovec *iov, int iovcnt)
{
	ssize_t r;
	int err;

	if (c->own != NULL)
		return tlsown_write(c, iov, iovcnt);
	if (c->ssl == NULL) {
		r = writev(c->fd, iov, iovcnt);
		if (r >= 0)
			return r;
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	}
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

/*
 * A read that came back short emptied the socket: the next would only say
 * EAGAIN, one syscall a turn for each connection. Until epoll reports the
 * socket readable again (conn.c clears rx_drained), OpenSSL's reads are
 * answered "retry" here without one. Epoll is level-triggered, so bytes
 * that came in between are reported on the next wait.
 */
static long
tls_bio_read_cb(BIO *b, int oper, const char *argp, size_t len, int argi,
    long argl, int ret, size_t *processed)
{
	struct conn *c = (struct conn *)BIO_get_callback_arg(b);

	(void)argp;
	(void)argi;
	(void)argl;
	if (oper == BIO_CB_READ && c->rx_drained) {
		BIO_set_retry_read(b);
		return -1;
	}
	if (oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 &&
	    processed != NULL && *processed < len)
		c->rx_drained = 1;
	return ret;
}

void
transport_tls_attach(struct conn *c)
{
	BIO *rb = SSL_get_rbio(c->ssl);

	BIO_set_callback_arg(rb, (char *)c);
	BIO_set_callback_ex(rb, tls_bio_read_cb);
}

void
transport_tls_ctx(SSL_CTX *ctx, int ktls)
{
	/* Queued frames may move in memory between a retried write's calls. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* The kernel encrypts when it has the tls ULP; OpenSSL else. */
	if (ktls)
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
}

void
transport_tls_logged_in(struct conn *c)
{
	tlsown_logged_in(c);
	if (c->ssl == NULL)
		return;
	SSL_set_default_read_buffer_len(c->ssl, TLS_READ_BUF);
	SSL_set_read_ahead(c->ssl, 1);
}

void
transport_tls_rest(struct conn *c)
{
	tlsown_rest(c);
	/* Not while they hold a record, or part of one, or its unread
	 * plaintext (OpenSSL before 3.0.14 freed that: CVE-2024-4741). */
	if (c->ssl != NULL && c->sign == NULL && !SSL_has_pending(c->ssl) &&
	    SSL_pending(c->ssl) == 0)
		(void)SSL_free_buffers(c->ssl);
}

int
transport_tls_ktls(const struct conn *c)
{
	return c->ssl != NULL && BIO_get_ktls_send(SSL_get_wbio(c->ssl));
}

int
transport_tls_handshake(struct wk *w, struct conn *c)
{
	int r, err;

	w->tls_current = c;	/* for the signature, which the key process makes */
	r = SSL_do_handshake(c->ssl);
	w->tls_current = NULL;
	if (r == 1) {
		c->tls_read_wants_write = 0;
		SSL_clear_mode(c->ssl, SSL_MODE_ASYNC);	/* no jobs for records */
		return 1;
	}
	err = tls_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_ASYNC)
		c->tls_read_wants_write = 0;
	else if (err == SSL_ERROR_WANT_WRITE)
		c->tls_read_wants_write = 1;
	else
		return -1;
	return 0;
}

void
transport_tls_abandon(struct wk *w, struct conn *c)
{
	if (c->sign == NULL)
		return;
	tlskey_cancel(c);
	w->tls_current = c;
	(void)SSL_do_handshake(c->ssl);	/* the job ends, failing */
	w->tls_current = NULL;
	ERR_clear_error();
}

void
transport_tls_drain(struct conn *c)
{
	uint8_t buf[4096];
	int i;

	for (i = 0; i < 16 && read(c->fd, buf, sizeof(buf)) > 0; i++)
		;
}

void
transport_tls_shutdown(struct conn *c)
{
	tlsown_shutdown(c);
	if (c->ssl != NULL && SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
}

int
transport_unsent(const struct conn *c)
{
	return tlsown_unsent(c);
}

int
transport_pending(const struct conn *c)
{
	return c->own != NULL ? tlsown_pending(c) :
	    c->ssl != NULL && SSL_pending(c->ssl) > 0;
}

int
transport_partial(const struct conn *c)
{
	return c->own != NULL ? tlsown_partial(c) :
	    c->ssl != NULL && SSL_has_pending(c->ssl);
}
