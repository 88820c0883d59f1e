/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP over WebSocket, for browsers: GET /derp with "Upgrade: websocket"
 * and the "derp" subprotocol, then the DERP byte stream carried in binary
 * messages. wslay does the framing; payload chunks stream straight into the
 * connection's input buffer (no per-message buffering), and queued DERP
 * output is wrapped into one binary message per buffer.
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "websocket.h"

#include "log.h"
#include "outq.h"
#include "transport.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_QUEUE_MAX	(256 * 1024)	/* bytes wslay may hold for one client */
#define WS_MSG_MAX	32768		/* derper's (coder/websocket's) read limit */

static ssize_t
ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct conn *c = arg;
	size_t room;
	ssize_t r;

	(void)flags;
	/* Never read more than the input buffer can take as payload. */
	room = c->in != NULL ? BUF_SIZE - c->in->wr : 0;
	if (len > room)
		len = room;
	if (c->fd < 0 || len == 0) {
		wslay_event_set_error(ctx, c->fd < 0 ? WSLAY_ERR_CALLBACK_FAILURE :
		    WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	r = transport_read(c, buf, len);
	if (r > 0)
		return r;
	wslay_event_set_error(ctx, r == 0 ? WSLAY_ERR_WOULDBLOCK :
	    WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t
ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct conn *c = arg;
	struct iovec iov = { (void *)data, len };
	ssize_t r;

	(void)flags;
	r = c->fd < 0 ? -1 : transport_write(c, &iov, 1);
	if (r > 0) {
		c->ws_progress = 1;
		return r;
	}
	wslay_event_set_error(ctx, r == 0 ? WSLAY_ERR_WOULDBLOCK :
	    WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static void
ws_frame_start(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
	struct conn *c = user;

	(void)ctx;
	/* DERP is binary; a text message is a protocol error. */
	if (arg->opcode == WSLAY_TEXT_FRAME && c->ws_bad == 0)
		c->ws_bad = WSLAY_CODE_UNSUPPORTED_DATA;
	if (arg->opcode == WSLAY_BINARY_FRAME)
		c->ws_msg_len = 0;
	/* wslay hands us every frame's payload, pings' and pongs' too. */
	c->ws_data = arg->opcode == WSLAY_BINARY_FRAME ||
	    arg->opcode == WSLAY_CONTINUATION_FRAME;
	if (!c->ws_data)
		return;
	/* wslay does not count a message's bytes when it does not buffer. */
	c->ws_msg_len += arg->payload_length;
	if (c->ws_msg_len > WS_MSG_MAX && c->ws_bad == 0)
		c->ws_bad = WSLAY_CODE_MESSAGE_TOO_BIG;
}

static void
ws_chunk(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
	struct conn *c = user;

	(void)ctx;
	if (c->fd < 0 || c->ws_bad || !c->ws_data || c->in == NULL)
		return;
	/* ws_recv bounded the read by the room left, so this fits. */
	if (arg->data_length > BUF_SIZE - c->in->wr) {
		c->ws_bad = WSLAY_CODE_INTERNAL_SERVER_ERROR;
		return;
	}
	memcpy(c->in->data + c->in->wr, arg->data, arg->data_length);
	c->in->wr += arg->data_length;
}

static const struct wslay_event_callbacks callbacks = {
	.recv_callback = ws_recv,
	.send_callback = ws_send,
	.on_frame_recv_start_callback = ws_frame_start,
	.on_frame_recv_chunk_callback = ws_chunk,
};

static int
accept_key(const struct http_str *key, char out[64])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char buf[128];

	if (key->len == 0 || key->len > 64)
		return -1;
	memcpy(buf, key->p, key->len);
	memcpy(buf + key->len, WS_GUID, sizeof(WS_GUID) - 1);
	SHA1((unsigned char *)buf, key->len + sizeof(WS_GUID) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
	return 0;
}

int
ws_wanted(const struct http_request *req)
{
	const struct http_str *up = http_header(req, "Upgrade");
	const struct http_str *proto = http_header(req, "Sec-WebSocket-Protocol");

	/* Early clients said "Upgrade: WebSocket" but spoke plain DERP: only a
	 * request offering the derp subprotocol is really a WebSocket. */
	return up != NULL && http_str_caseeq(up, "websocket") && proto != NULL &&
	    http_list_has(proto, "derp");
}

int
ws_accept(struct wk *w, struct conn *c, const struct http_request *req)
{
	const struct http_str *ver = http_header(req, "Sec-WebSocket-Version");
	const struct http_str *key = http_header(req, "Sec-WebSocket-Key");
	char accept[64], resp[512];
	int n;

	if (ver == NULL || !http_str_eq(ver, "13") || key == NULL ||
	    accept_key(key, accept) != 0)
		return -1;
	if (wslay_event_context_server_init(&c->ws, &callbacks, c) != 0)
		return -1;
	wslay_event_config_set_no_buffering(c->ws, 1);
	wslay_event_config_set_max_recv_msg_length(c->ws, WS_MSG_MAX);
	n = snprintf(resp, sizeof(resp),
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "Sec-WebSocket-Protocol: derp\r\n\r\n", accept);
	if (outq_append(w, c, resp, n) != 0) {
		ws_free(c);
		return -1;
	}
	c->raw_out = (uint32_t)n;	/* goes out as is, before any frame */
	return 0;
}

ssize_t
ws_read(struct conn *c)
{
	uint32_t before = c->in->wr;

	if (wslay_event_recv(c->ws) != 0)
		return -1;
	if (c->ws_bad != 0 && wslay_event_get_read_enabled(c->ws)) {
		wslay_event_shutdown_read(c->ws);
		if (wslay_event_queue_close(c->ws, c->ws_bad, NULL, 0) != 0)
			return -1;
	}
	if (!wslay_event_get_read_enabled(c->ws))
		return WS_CLOSING;
	return (ssize_t)(c->in->wr - before);
}

int
ws_flush(struct wk *w, struct conn *c)
{
	struct wslay_event_msg msg;
	struct buf *b;

	while ((b = c->out_head) != NULL && c->raw_out == 0 &&
	    wslay_event_get_queued_msg_length(c->ws) < WS_QUEUE_MAX) {
		if (!wslay_event_get_read_enabled(c->ws)) {
			/* closing: nothing may follow the close frame */
			outq_consume(w, c, b->wr - b->rd);
			continue;
		}
		msg.opcode = WSLAY_BINARY_FRAME;
		msg.msg = b->data + b->rd;
		msg.msg_length = b->wr - b->rd;
		if (wslay_event_queue_msg(c->ws, &msg) != 0)
			return -1;
		outq_consume(w, c, msg.msg_length);
	}
	if (wslay_event_send(c->ws) != 0)
		return -1;
	return 0;
}

int
ws_wants_write(const struct conn *c)
{
	return c->ws != NULL && wslay_event_want_write(c->ws);
}

void
ws_free(struct conn *c)
{
	if (c->ws != NULL)
		wslay_event_context_free(c->ws);
	c->ws = NULL;
}
