/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text forms of Curve25519 keys, as Tailscale writes them: "privkey:<64 hex>"
 * for private keys, "nodekey:<64 hex>" for public keys, and derper's key file,
 * the JSON object {"PrivateKey": "privkey:<64 hex>"}.
 */
#ifndef DERPD_KEYFMT_H
#define DERPD_KEYFMT_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define KEY_HEX_LEN		64
#define PRIVKEY_PREFIX		"privkey:"
#define NODEKEY_PREFIX		"nodekey:"
#define KEY_TEXT_MAX		(8 + KEY_HEX_LEN + 1)
#define KEYFILE_MAX		4096	/* a real key file is ~90 bytes */

/* Parses prefix + 64 hex digits, nothing else. Returns 0 or -1. */
int	key_parse_text(const char *s, size_t len, const char *prefix,
	    uint8_t out[KEY_LEN]);
/* Writes prefix + 64 lowercase hex digits + NUL into out[KEY_TEXT_MAX]. */
void	key_format_text(char *out, const char *prefix, const uint8_t key[KEY_LEN]);
void	key_format_hex(char out[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN]);

/*
 * Parses a key file's contents into priv. On failure returns -1 and sets
 * *why to a message for the operator. Never copies the key anywhere else.
 */
int	keyfile_parse(const char *buf, size_t len, uint8_t priv[KEY_LEN],
	    const char **why);
/* Formats a key file exactly as derper writes it; returns length or 0. */
size_t	keyfile_format(char *out, size_t cap, const uint8_t priv[KEY_LEN]);

/*
 * Call once before forking: makes jansson wipe every buffer it frees (key
 * files, mesh keys) and seeds its hash function.
 */
void	json_setup(void);

#endif
