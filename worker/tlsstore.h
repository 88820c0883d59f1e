/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's copy of what it serves for TLS (common/certshm.h): the
 * chains by name, and the answers to ACME challenges. Refreshed at the top
 * of each event-loop turn when the master's generation moved; each entry
 * is copied once from shared memory, checked, and parsed from the copy.
 * tlsctx.c makes a TLS context of each chain; http_serve.c answers
 * HTTP-01 from here.
 */
#ifndef DERPD_TLSSTORE_H
#define DERPD_TLSSTORE_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "wk.h"

struct tls_store;

/* Allocates w->tls (fatal when out of memory). */
void	tlsstore_init(struct wk *w);
/*
 * Takes in what changed since the last call: returns a bit mask of the
 * certificate slots whose chain changed (tlsstore_chain says what it is
 * now), or 0.
 */
uint32_t tlsstore_refresh(struct wk *w);
/* Slot i's name and chain (PEM, NUL-terminated), or NULL when empty. */
const char *tlsstore_chain(const struct wk *w, int i, const char **name);
/* The slot serving name (a host name, or an IP address's text), or -1. */
int	tlsstore_slot(const struct wk *w, const char *name);
/* The TLS-ALPN-01 answer for sni: 1 and its certificate and key, or 0. */
int	tlsstore_alpn(const struct wk *w, const char *sni, X509 **cert,
	    EVP_PKEY **key);
/* The HTTP-01 key authorization for a token, or NULL. */
const char *tlsstore_http(const struct wk *w, const char *token, size_t len);
/* -acme-ip-certs: asks the master for a certificate for ip (16 bytes). */
void	tlsstore_want(struct wk *w, const uint8_t ip[16]);

#endif
