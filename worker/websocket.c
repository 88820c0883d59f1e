/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP over WebSocket, for browsers: GET /derp with "Upgrade: websocket"
 * and the "derp" subprotocol, then the DERP byte stream carried in binary
 * messages. wslay parses what the client sends; payload chunks stream
 * straight into the connection's input buffer (no per-message buffering).
 *
 * Output: each DERP frame is one binary message, as derper sends it
 * (Tailscale's Go client reads messages of at most 32 KiB). ws_queue_frame
 * puts the message's header in front of the frame as the frame is copied
 * into the output queue, so the queue holds the bytes as they go on the
 * wire and is written in batches like plain DERP, with no second copy.
 * wslay's own frames (Pong, Close) go into the same queue through its send
 * callback, always whole, so they fall between messages.
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "websocket.h"

#include "log.h"
#include "outq.h"
#include "transport.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN	16		/* RFC 6455 4.2.1: base64 of 16 bytes */
#define WS_MSG_MAX	32768		/* derper's (coder/websocket's) read limit */
#define WS_HDR_MAX	10		/* a server frame's header, RFC 6455 5.2 */

struct ws_conn {
	wslay_event_context_ptr ctx;
	struct wk	*w;
	struct conn	*c;
	int		 bad;		/* close code for a bad message, else 0 */
	uint64_t	 msg_len;	/* bytes of the message being received */
	int		 data;		/* the frame being received carries DERP bytes */
};

static ssize_t
ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct conn *c = ((struct ws_conn *)arg)->c;
	size_t room;
	ssize_t r;

	(void)flags;
	/* Never read more than the input buffer can take as payload. */
	room = c->in != NULL ? c->in->cap - c->in->wr : 0;
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

/* wslay's control frames, into the output queue. */
static ssize_t
ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct ws_conn *ws = arg;

	(void)flags;
	if (outq_append(ws->w, ws->c, data, len) == 0)
		return (ssize_t)len;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static void
ws_frame_start(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
	struct ws_conn *ws = user;

	(void)ctx;
	/* DERP is binary; a text message is a protocol error. */
	if (arg->opcode == WSLAY_TEXT_FRAME && ws->bad == 0)
		ws->bad = WSLAY_CODE_UNSUPPORTED_DATA;
	if (arg->opcode == WSLAY_BINARY_FRAME)
		ws->msg_len = 0;
	/* wslay hands us every frame's payload, pings' and pongs' too. */
	ws->data = arg->opcode == WSLAY_BINARY_FRAME ||
	    arg->opcode == WSLAY_CONTINUATION_FRAME;
	if (!ws->data)
		return;
	/* wslay does not count a message's bytes when it does not buffer. */
	ws->msg_len += arg->payload_length;
	if (ws->msg_len > WS_MSG_MAX && ws->bad == 0)
		ws->bad = WSLAY_CODE_MESSAGE_TOO_BIG;
}

static void
ws_chunk(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
	struct ws_conn *ws = user;
	struct conn *c = ws->c;

	(void)ctx;
	if (c->fd < 0 || ws->bad || !ws->data || c->in == NULL)
		return;
	/* ws_recv bounded the read by the room left, so this fits. */
	if (arg->data_length > c->in->cap - c->in->wr) {
		ws->bad = WSLAY_CODE_INTERNAL_SERVER_ERROR;
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

/* Sec-WebSocket-Accept for key, which must be base64 of 16 bytes. */
static int
accept_key(const struct http_str *key, char out[64])
{
	unsigned char md[SHA_DIGEST_LENGTH], raw[WS_KEY_LEN];
	char buf[128];
	size_t n;

	if (key->len > 64 || sodium_base642bin(raw, sizeof(raw), key->p,
	    key->len, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != WS_KEY_LEN)
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
	struct ws_conn *ws;
	int n;

	if (ver == NULL || !http_str_eq(ver, "13") || key == NULL ||
	    accept_key(key, accept) != 0)
		return -1;
	if ((ws = calloc(1, sizeof(*ws))) == NULL)
		return -1;
	ws->w = w;
	ws->c = c;
	if (wslay_event_context_server_init(&ws->ctx, &callbacks, ws) != 0) {
		free(ws);
		return -1;
	}
	wslay_event_config_set_no_buffering(ws->ctx, 1);
	wslay_event_config_set_max_recv_msg_length(ws->ctx, WS_MSG_MAX);
	n = snprintf(resp, sizeof(resp),
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "Sec-WebSocket-Protocol: derp\r\n\r\n", accept);
	c->ws = ws;
	if (outq_append(w, c, resp, n) != 0) {	/* as is, before any frame */
		ws_free(c);
		return -1;
	}
	return 0;
}

ssize_t
ws_read(struct conn *c)
{
	struct ws_conn *ws = c->ws;
	uint32_t before = c->in->wr;

	if (wslay_event_recv(ws->ctx) != 0)
		return -1;
	if (ws->bad != 0 && wslay_event_get_read_enabled(ws->ctx)) {
		wslay_event_shutdown_read(ws->ctx);
		if (wslay_event_queue_close(ws->ctx, ws->bad, NULL, 0) != 0)
			return -1;
	}
	/* Pongs and Close replies wslay queued go out with our frames. */
	if (wslay_event_send(ws->ctx) != 0)
		return -1;
	if (!wslay_event_get_read_enabled(ws->ctx))
		return WS_CLOSING;
	return (ssize_t)(c->in->wr - before);
}

/* A server frame's header: FIN, binary, unmasked, the length (RFC 6455 5.2). */
static size_t
frame_header(uint8_t out[WS_HDR_MAX], uint64_t len)
{
	int i;

	out[0] = 0x80 | WSLAY_BINARY_FRAME;
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return WS_HDR_MAX;
}

int
ws_queue_frame(struct wk *w, struct conn *c, const void *head, size_t hlen,
    const void *body, size_t blen)
{
	uint8_t hdr[WS_HDR_MAX];

	/* Closing: nothing may follow the close frame. */
	if (wslay_event_get_close_sent(c->ws->ctx))
		return 0;
	if (outq_append(w, c, hdr, frame_header(hdr, hlen + blen)) != 0 ||
	    outq_append(w, c, head, hlen) != 0 ||
	    (blen > 0 && outq_append(w, c, body, blen) != 0))
		return -1;
	return 0;
}

void
ws_free(struct conn *c)
{
	if (c->ws == NULL)
		return;
	wslay_event_context_free(c->ws->ctx);
	free(c->ws);
	c->ws = NULL;
}
