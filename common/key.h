/* SPDX-License-Identifier: BSD-3-Clause */
/* One length for every 32-byte key: Curve25519 public and private keys, the
 * per-client shared key, and the mesh pre-shared key. */
#ifndef DERPD_KEY_H
#define DERPD_KEY_H

#define KEY_LEN		32

#endif
