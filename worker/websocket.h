/* SPDX-License-Identifier: BSD-3-Clause */
/* DERP over WebSocket (RFC 6455): wslay reads, each DERP frame goes out as one message. */
#ifndef DERPD_WEBSOCKET_H
#define DERPD_WEBSOCKET_H

#include <sys/types.h>

#include "http.h"
#include "wk.h"

#define WS_CLOSING	(-2)

/* Whether req asks for DERP over WebSocket (the "derp" subprotocol). */
int	ws_wanted(const struct http_request *req);
/*
 * Queues the 101 answer; -1 if req is not a valid WebSocket upgrade (the
 * version is not 13, or the key is not the base64 of 16 bytes).
 */
int	ws_accept(struct wk *w, struct conn *c, const struct http_request *req);
/*
 * Reads WebSocket frames into the DERP input buffer, and queues wslay's
 * answers (Pong, Close) on the way. Returns bytes added,
 * -1 to close, or WS_CLOSING once a close frame is queued (the client's, or
 * ours for a bad message or a protocol error): read no more, send it, close.
 */
ssize_t	ws_read(struct conn *c);
/*
 * Queues one DERP frame, given as head then body (blen may be 0), as one
 * binary message. -1 when out of memory; nothing is queued after our
 * close frame.
 */
int	ws_queue_frame(struct wk *w, struct conn *c, const void *head, size_t hlen,
	    const void *body, size_t blen);
void	ws_free(struct conn *c);

#endif
