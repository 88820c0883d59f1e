/* SPDX-License-Identifier: BSD-3-Clause */
/* DERP over WebSocket (RFC 6455), framed by wslay. */
#ifndef DERPD_WEBSOCKET_H
#define DERPD_WEBSOCKET_H

#include <sys/types.h>

#include "http.h"
#include "wk.h"

#define WS_CLOSING	(-2)

/* Whether req asks for DERP over WebSocket (the "derp" subprotocol). */
int	ws_wanted(const struct http_request *req);
/* Queues the 101 answer; -1 if req is not a valid WebSocket upgrade. */
int	ws_accept(struct wk *w, struct conn *c, const struct http_request *req);
/*
 * Reads WebSocket frames into the DERP input buffer. Returns bytes added,
 * -1 to close, or WS_CLOSING once a close frame is queued (the client's, or
 * ours for a bad message or a protocol error): read no more, send it, close.
 */
ssize_t	ws_read(struct conn *c);
/* Wraps queued DERP bytes into binary messages and writes what it can. Returns -1 to close. */
int	ws_flush(struct wk *w, struct conn *c);
int	ws_wants_write(const struct conn *c);
void	ws_free(struct conn *c);

#endif
