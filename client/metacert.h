/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper's meta certificate in a served TLS chain: subject CN
 * "derpkey<64 hex>" naming the relay's DERP key, serial number = DERP
 * protocol version (derphttp_client.go parseMetaCert).
 */
#ifndef CLIENT_METACERT_H
#define CLIENT_METACERT_H

#include <openssl/ssl.h>
#include <stdint.h>

#include "keyfmt.h"

#define METACERT_PREFIX	"derpkey"

/* 1 with key and version if ssl's peer chain has one, else 0. */
int	metacert_find(SSL *ssl, uint8_t key[KEY_LEN], long *version);

#endif
