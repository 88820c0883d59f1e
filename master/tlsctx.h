/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_TLSCTX_H
#define DERPD_TLSCTX_H

#include <openssl/ssl.h>
#include <stdint.h>

#include "config.h"
#include "key.h"

/*
 * Loads <certdir>/<hostname>.crt and .key (derper's -certmode manual, with
 * the hostname stripped of characters other than [A-Za-z0-9.-]) while still
 * root. Like derper: the certificate must be valid for the hostname, and
 * unless the hostname is an IP address, clients must send it as SNI; and
 * the served chain ends with the "meta certificate" naming derp_pub.
 */
SSL_CTX	*tls_ctx_new(const struct config *cfg, const uint8_t derp_pub[KEY_LEN]);

#endif
