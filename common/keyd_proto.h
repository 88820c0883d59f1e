/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process's protocol with workers: fixed-size messages on one
 * SOCK_SEQPACKET socket per worker. A worker sends a client's public key and
 * gets back crypto_box_beforenm(client_pub, server_priv), the per-client
 * shared key of the DERP login; the DERP private key itself never leaves the
 * key process. The key process side is master/keyd.c, the worker side
 * worker/keyd_client.c.
 */
#ifndef DERPD_KEYD_PROTO_H
#define DERPD_KEYD_PROTO_H

#include <stdint.h>

#include "key.h"

struct keyd_req {
	uint32_t	slot;		/* echoed: which connection asked */
	uint32_t	gen;
	uint8_t		client_pub[KEY_LEN];
};

struct keyd_resp {
	uint32_t	slot;
	uint32_t	gen;
	uint32_t	ok;		/* 0: a low-order point, no shared key */
	uint8_t		shared[KEY_LEN];
};

#endif
