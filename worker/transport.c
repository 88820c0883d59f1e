/* SPDX-License-Identifier: BSD-3-Clause */
/* Plain and TLS reads and writes, with OpenSSL's retry states kept on the conn. */
#include "transport.h"

#include <errno.h>
#include <openssl/err.h>
#include <unistd.h>

#include "tlskey.h"

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

ssize_t
transport_write(struct conn *c, struct iovec *iov, int iovcnt)
{
	ssize_t r;
	int err;

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
	if (c->ssl != NULL && SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
}
