/* SPDX-License-Identifier: BSD-3-Clause */
/* Bytes on a connection's socket, through TLS when it has one. */
#ifndef DERPD_TRANSPORT_H
#define DERPD_TRANSPORT_H

#include <openssl/ssl.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "wk.h"

/* Returns bytes read, 0 if it would block (or a short read said it
 * would: c->rx_drained, until epoll reports the socket readable), -1 on
 * EOF or error. */
ssize_t	transport_read(struct conn *c, uint8_t *p, size_t n);
/*
 * Returns bytes written, 0 if it would block, -1 on error. Over OpenSSL
 * only iov[0] is written: it cuts one buffer into records itself; our
 * record layer (tlsown.h) seals them all, and iovcnt 0 writes what it
 * sealed before.
 */
ssize_t	transport_write(struct conn *c, struct iovec *iov, int iovcnt);
/* Sealed bytes wait for the socket (or a KeyUpdate is owed): write again. */
int	transport_unsent(const struct conn *c);
/* Decrypted bytes (or a whole record) wait: read again without the socket. */
int	transport_pending(const struct conn *c);
/* Part of a record, or its plaintext, is held. */
int	transport_partial(const struct conn *c);
/*
 * The record path of a TLS context: partial writes, and with ktls the
 * kernel's TLS when it offers it. Record buffers are released once a turn
 * (transport_tls_rest), not after every record.
 */
void	transport_tls_ctx(SSL_CTX *ctx, int ktls);
/* After SSL_set_fd: c's reads skip the syscall that would say EAGAIN. */
void	transport_tls_attach(struct conn *c);
/* c logged in: from now on it reads ahead, into a larger buffer. */
void	transport_tls_logged_in(struct conn *c);
/*
 * c is done reading or writing for this turn: OpenSSL's record buffers go
 * back to the heap unless they hold part of a record. Once a turn, not
 * once a record as SSL_MODE_RELEASE_BUFFERS would: the next connection's
 * turn takes the same memory.
 */
void	transport_tls_rest(struct conn *c);
/* 1 if the kernel encrypts what c sends (kTLS). */
int	transport_tls_ktls(const struct conn *c);
/*
 * One step of the TLS handshake: 1 done, 0 more to do (the socket, or the
 * key process's signature: tlskey_answer), -1 failed.
 */
int	transport_tls_handshake(struct wk *w, struct conn *c);
/* Before freeing c's SSL: ends a handshake job paused for a signature. */
void	transport_tls_abandon(struct wk *w, struct conn *c);
/* Sends close_notify, best effort. */
void	transport_tls_shutdown(struct conn *c);
/*
 * After a failed handshake: reads and drops what the client has sent since
 * (bounded), so that closing sends FIN, not a RST that could lose the
 * alert that says why before the client reads it.
 */
void	transport_tls_drain(struct conn *c);

#endif
