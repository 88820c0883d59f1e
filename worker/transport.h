/* SPDX-License-Identifier: BSD-3-Clause */
/* Bytes on a connection's socket, through TLS when it has one. */
#ifndef DERPD_TRANSPORT_H
#define DERPD_TRANSPORT_H

#include <sys/types.h>
#include <sys/uio.h>

#include "wk.h"

/* Returns bytes read, 0 if it would block, -1 on EOF or error. */
ssize_t	transport_read(struct conn *c, uint8_t *p, size_t n);
/* Returns bytes written, 0 if it would block, -1 on error. With TLS only
 * iov[0] is written: OpenSSL cuts one buffer into records itself. */
ssize_t	transport_write(struct conn *c, struct iovec *iov, int iovcnt);
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
