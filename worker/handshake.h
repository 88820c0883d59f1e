/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP login: ServerKey, ClientInfo, ServerInfo. The worker does not hold
 * the server's private key; it asks the key process for the per-client
 * shared key crypto_box_beforenm(client_pub, server_priv) and wipes it as
 * soon as ServerInfo is sealed.
 */
#ifndef DERPD_HANDSHAKE_H
#define DERPD_HANDSHAKE_H

#include "wk.h"

/* After the HTTP upgrade: the 101 (unless fast start), then ServerKey. */
void	handshake_start(struct wk *w, struct conn *c, int fast_start);
/* Reads ClientInfo from c's input once it is complete, and asks the key process. */
void	handshake_input(struct wk *w, struct conn *c);
/* The key process answered: checks the ClientInfos waiting for it. */
void	handshake_keyd_readable(struct wk *w);
/* The master registered c: ServerInfo goes out, c is logged in. */
void	handshake_logged_in(struct wk *w, struct conn *c);

#endif
