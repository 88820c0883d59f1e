/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS for our mesh links, as a client: peers are verified against the
 * certificates the master read (-mesh-ca-file, or the system's roots),
 * loaded here before the sandbox; nothing is read from disk afterwards.
 */
#ifndef DERPD_TLSCLIENT_H
#define DERPD_TLSCLIENT_H

#include <openssl/ssl.h>

#include "meshpeers.h"
#include "wk.h"

/* The context, from PEM text; fatal if it holds no certificate. */
SSL_CTX	*tlsclient_new(const char *ca_pem);
/*
 * -mesh-client-cert: ctx presents chain to peers that ask for a client
 * certificate, signing in the key process (TLS 1.3 only); before the sandbox.
 */
void	tlsclient_present(struct wk *w, SSL_CTX *ctx, const char *chain);
/* A client for peer p: its name sent (SNI) and verified, or its address. */
SSL	*tlsclient_ssl(SSL_CTX *ctx, const struct mesh_peer *p);

#endif
