/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's TLS contexts: a base one every handshake starts on, and one
 * per certificate served (worker/tlsstore.h), each with a key that signs
 * through the key process (worker/tlskey.c); TLS 1.3 only. derper's SNI
 * rules pick the context; ALPN acme-tls/1 on a name being validated gets
 * the TLS-ALPN-01 certificate (RFC 8737) instead. A new chain replaces a
 * context for new handshakes only: connections keep the one they began on.
 */
#ifndef DERPD_TLSCTX_H
#define DERPD_TLSCTX_H

#include <openssl/ssl.h>

#include "wk.h"

/* The base context; once, before the sandbox. With -client-ca (client_ca
 * not ""), every context asks for client certificates (clientcert.h). */
SSL_CTX	*tlsctx_new(struct wk *w, const char *client_ca, const char *client_crl);
/* Takes in new chains and challenge answers the master published. */
void	tlsctx_refresh(struct wk *w);
/* The handshake answered a TLS-ALPN-01 validation: close, nothing more. */
int	tlsctx_is_challenge(SSL *ssl);
/*
 * ctx presents chain (PEM, leaf first): the leaf with a key that signs
 * through the key process, then the rest. With name, the leaf must be
 * valid for it. 0, or -1.
 */
int	tlsctx_use_chain(struct wk *w, SSL_CTX *ctx, const char *chain,
	    const char *name);

#endif
