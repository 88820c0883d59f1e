/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP over WebSocket, as browsers and Tailscale's js client speak it: GET
 * /derp with "Upgrade: websocket" and the "derp" subprotocol, then one DERP
 * frame per binary message each way. wslay does the framing; received
 * message payloads are queued as one byte stream for the DERP reader.
 */
#ifndef CLIENT_WS_H
#define CLIENT_WS_H

#include <stddef.h>
#include <stdint.h>

struct bq;
struct tp;
struct url;
struct ws;

/* Upgrades t to WebSocket; NULL with err set if the relay refuses. */
struct ws *ws_open(struct tp *t, const struct url *u, int64_t deadline,
	    char *err, size_t errlen);
void	ws_free(struct ws *w);
/* Sends msg as one binary message by deadline; -1 with ws_error set. */
int	ws_write(struct ws *w, const void *msg, size_t len, int64_t deadline);
/*
 * Moves received payload bytes into ws_stream(w), waiting until deadline:
 * 1 after progress, 0 on timeout, -1 when closed or broken.
 */
int	ws_pull(struct ws *w, int64_t deadline);
struct bq *ws_stream(struct ws *w);
const char *ws_error(const struct ws *w);

#endif
