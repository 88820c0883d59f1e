/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's TLS private key that is not here: a small OpenSSL 3
 * provider ("derpdkey") whose EC and RSA keys hold only the certificate's
 * public key, and whose ECDSA and RSA-PSS signatures are made by the key
 * process. A provider (not the deprecated EC_KEY_METHOD/RSA_METHOD, which
 * see only a digest) receives the whole TLS 1.3 CertificateVerify input,
 * so the key process can check it is one before it signs.
 *
 * Signing never blocks the event loop: handshakes run as OpenSSL async
 * jobs (SSL_MODE_ASYNC, set until the handshake is done); the provider
 * sends the request and pauses the job; the worker resumes the handshake
 * when the answer arrives (tlskey_answer), or cancels it when the
 * connection goes (tlskey_cancel).
 */
#ifndef DERPD_TLSKEY_H
#define DERPD_TLSKEY_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "wk.h"

/* Loads the provider beside OpenSSL's default one; once, before the sandbox. */
void	tlskey_init(struct wk *w);
/*
 * A key for leaf's public key, signing through w's key process with the
 * key it names by the SHA-256 of leaf's DER SubjectPublicKeyInfo, so a
 * signature is only ever made by the key of the certificate this
 * connection was sent (or, for a mesh link, sends). NULL on failure.
 */
EVP_PKEY *tlskey_new(struct wk *w, X509 *leaf);
/* The key process answered c's signature request: 1 if it was c's (resume it). */
int	tlskey_answer(struct conn *c, const struct keyd_resp *resp);
/* c is going: its paused signature, if any, fails (so its job ends). */
void	tlskey_cancel(struct conn *c);
/* A restarted key process lost what it had read: asks again for c. */
void	tlskey_resend(struct wk *w, struct conn *c);

#endif
