/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What send, recv and chat share: a logged-in connection under our key
 * (announced on stderr), sealed packets to a peer, and waiting on the
 * relay and one more descriptor (stdin).
 */
#ifndef CLIENT_SESSION_H
#define CLIENT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "derpconn.h"
#include "opts.h"

#define SESSION_RELAY	1	/* session_wait: the relay is readable */
#define SESSION_OTHER	2	/* the other descriptor is */

/* Connects and logs in, or exits 1 saying why; prints "nodekey:HEX" on stderr. */
struct derpconn *session_open(const struct copts *o, const struct ident *id);
/* Seals msg with the peer's shared key and sends it; -1 with c->err set. */
int	session_send(struct derpconn *c, const uint8_t peer[KEY_LEN],
	    const uint8_t shared[crypto_box_BEFORENMBYTES], const uint8_t *msg,
	    size_t len, int64_t deadline);
/* Waits until the relay or fd (-1: none) is readable, or deadline. */
int	session_wait(struct derpconn *c, int fd, int64_t deadline);

#endif
