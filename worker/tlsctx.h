/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's TLS context: the chain the master read (derper's meta
 * certificate included), a key that signs through the key process
 * (worker/tlskey.c), TLS 1.3 only, derper's SNI check and ALPN.
 */
#ifndef DERPD_TLSCTX_H
#define DERPD_TLSCTX_H

#include <openssl/ssl.h>

#include "wk.h"

/* sni: the name clients must send, or NULL (the hostname is an IP address). */
SSL_CTX	*tlsctx_new(struct wk *w, const char *chain_pem, const char *sni);

#endif
