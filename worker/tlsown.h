/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A relay client's TLS after its handshake, without OpenSSL's connection:
 * the handshake's application traffic secrets (OpenSSL's keylog callback)
 * go to the record layer (tlsrec.c), the SSL object is freed, and the
 * connection's records are read and written here. 13 KiB of OpenSSL state
 * a connection become two cipher contexts, and a record costs an AEAD
 * call instead of OpenSSL's record machinery (bench/README.md).
 */
#ifndef DERPD_TLSOWN_H
#define DERPD_TLSOWN_H

#include <openssl/ssl.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "wk.h"

/* On every server context: keeps a handshake's traffic secrets on its conn. */
void	tlsown_ctx(SSL_CTX *ctx);
/*
 * After c's handshake: 1 when its records are ours from now on (c->ssl
 * freed), 0 when OpenSSL keeps them (kTLS, or bytes it already read past
 * the handshake), -1 out of memory.
 */
int	tlsown_take(struct wk *w, struct conn *c);
/* As transport_read and transport_write (iovcnt 0: only what is sealed). */
ssize_t	tlsown_read(struct conn *c, uint8_t *p, size_t n);
ssize_t	tlsown_write(struct conn *c, const struct iovec *iov, int iovcnt);
/* Sealed bytes not yet written, or a KeyUpdate owed to the peer. */
int	tlsown_unsent(const struct conn *c);
/* A record, or its plaintext, is waiting to be read without the socket. */
int	tlsown_pending(const struct conn *c);
/* Part of a record is held. */
int	tlsown_partial(const struct conn *c);
/* Logged in: reads take what has arrived, into a pool buffer. */
void	tlsown_logged_in(struct conn *c);
/* Buffers that hold nothing go back to the pool. */
void	tlsown_rest(struct conn *c);
/* close_notify, best effort. */
void	tlsown_shutdown(struct conn *c);
/* Frees c's record state and the secrets of an unfinished handshake. */
void	tlsown_free(struct conn *c);

#endif
