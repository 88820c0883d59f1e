/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -client-ca: the TLS handshake requires a client certificate that chains
 * to the operator's CA and (with -client-crl) is not revoked, checked by
 * OpenSSL's own verification before a byte of HTTP is read; a client
 * without one gets an alert instead of a connection. Every handshake is a
 * full one (no session tickets), so each connection is checked anew. A
 * client that offers only ALPN "acme-tls/1" (a CA's TLS-ALPN-01 validator,
 * which has no certificate) is let through the handshake, to see ours, and
 * then closed: it never reaches HTTP either.
 */
#ifndef DERPD_CLIENTCERT_H
#define DERPD_CLIENTCERT_H

#include <openssl/ssl.h>

#include "wk.h"

/* Requires client certificates from ca_pem (CRLs in crl_pem, may be ""). */
void	clientcert_setup(struct wk *w, SSL_CTX *ctx, const char *ca_pem,
	    const char *crl_pem);
/* From the ALPN callback: only "acme-tls/1" offered, so no certificate asked. */
void	clientcert_alpn(SSL *ssl, const unsigned char *in, unsigned int inlen);
/* After the handshake: 0 if c may go on, -1 (close it) if it showed no certificate. */
int	clientcert_check(const struct wk *w, struct conn *c);

#endif
