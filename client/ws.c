/* SPDX-License-Identifier: BSD-3-Clause */
#include "ws.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "bq.h"
#include "derpmsg.h"
#include "errfmt.h"
#include "httpc.h"
#include "transport.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MSG_MAX	(DERP_FRAME_HDR_LEN + DMSG_PAYLOAD_MAX)
/* Stop reading while the stream could not take one more whole message
 * plus what wslay may already hold in its own read buffer. */
#define WS_ROOM_MIN	(WS_MSG_MAX + 8192)

struct ws {
	struct tp		*tp;
	wslay_event_context_ptr	 ctx;
	struct bq		 stream;
	int64_t			 deadline;	/* for the send callback */
	int			 closed;
	char			 err[TP_ERR_MAX];
};

static ssize_t
cb_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *user)
{
	struct ws *w = user;
	const uint8_t *p;
	size_t have, room;
	int f;

	(void)flags;
	bq_tail(&w->stream, &room);
	if (room < WS_ROOM_MIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	p = bq_data(&w->tp->in, &have);
	if (have == 0 && (f = tp_fill(w->tp, 0)) <= 0) {
		if (f < 0)
			errfmt(w->err, sizeof(w->err), "%s", w->tp->err);
		wslay_event_set_error(ctx, f == 0 ? WSLAY_ERR_WOULDBLOCK :
		    WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	p = bq_data(&w->tp->in, &have);
	if (have > len)
		have = len;
	memcpy(buf, p, have);
	bq_consume(&w->tp->in, have);
	return (ssize_t)have;
}

static ssize_t
cb_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct ws *w = user;

	(void)flags;
	if (tp_write(w->tp, data, len, w->deadline) != 0) {
		errfmt(w->err, sizeof(w->err), "%s", w->tp->err);
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static int
cb_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	(void)ctx;
	(void)user;
	randombytes_buf(buf, len);
	return 0;
}

static void
cb_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
    void *user)
{
	struct ws *w = user;

	if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
		w->closed = 1;
		errfmt(w->err, sizeof(w->err), "the relay closed the WebSocket");
		return;
	}
	if (arg->opcode != WSLAY_BINARY_FRAME ||
	    bq_append(&w->stream, arg->msg, arg->msg_length) != 0) {
		w->closed = 1;
		errfmt(w->err, sizeof(w->err), "%s from the relay",
		    arg->opcode != WSLAY_BINARY_FRAME ? "non-binary WebSocket message" :
		    "WebSocket message overflow");
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	}
}

static const struct wslay_event_callbacks callbacks = {
	.recv_callback = cb_recv,
	.send_callback = cb_send,
	.genmask_callback = cb_genmask,
	.on_msg_recv_callback = cb_msg,
};

/* base64(SHA-1(key GUID)), RFC 6455 section 4.2.2. */
static void
expected_accept(const char *key, char out[32])
{
	char cat[128];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);
	EVP_Digest(cat, strlen(cat), md, &mdlen, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

static int
check_answer(const struct httpc_resp *r, const char *key, char *err,
    size_t errlen)
{
	char want[32];

	expected_accept(key, want);
	if (r->status != 101)
		errfmt(err, errlen, "WebSocket upgrade refused: HTTP %d", r->status);
	else if (!httpc_header_is(r, "Upgrade", "websocket"))
		errfmt(err, errlen, "WebSocket upgrade: no \"Upgrade: websocket\"");
	else if (!httpc_header_is(r, "Sec-WebSocket-Accept", want))
		errfmt(err, errlen, "WebSocket upgrade: wrong Sec-WebSocket-Accept");
	else if (!httpc_header_is(r, "Sec-WebSocket-Protocol", "derp"))
		errfmt(err, errlen, "WebSocket upgrade: subprotocol is not derp");
	else
		return 0;
	return -1;
}

struct ws *
ws_open(struct tp *t, const struct url *u, int64_t deadline, char *err,
    size_t errlen)
{
	unsigned char nonce[16];
	char key[32], extra[256];
	struct httpc_resp r;
	struct ws *w;

	randombytes_buf(nonce, sizeof(nonce));
	EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
	snprintf(extra, sizeof(extra), "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: derp\r\n", key);
	if (httpc_get(t, u, "/derp", extra, &r, deadline, err, errlen) != 0 ||
	    check_answer(&r, key, err, errlen) != 0)
		return NULL;
	bq_consume(&t->in, r.head_len);
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    bq_init(&w->stream, 2 * WS_ROOM_MIN) != 0 ||
	    wslay_event_context_client_init(&w->ctx, &callbacks, w) != 0) {
		ws_free(w);
		errfmt(err, errlen, "WebSocket: out of memory");
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(w->ctx, WS_MSG_MAX);
	w->tp = t;
	return w;
}

void
ws_free(struct ws *w)
{
	if (w == NULL)
		return;
	if (w->ctx != NULL)
		wslay_event_context_free(w->ctx);
	bq_free(&w->stream);
	free(w);
}

int
ws_write(struct ws *w, const void *msg, size_t len, int64_t deadline)
{
	struct wslay_event_msg m = { WSLAY_BINARY_FRAME, msg, len };

	w->deadline = deadline;
	if (w->closed || wslay_event_queue_msg(w->ctx, &m) != 0 ||
	    wslay_event_send(w->ctx) != 0) {
		if (w->err[0] == '\0')
			errfmt(w->err, sizeof(w->err), "WebSocket send failed");
		return -1;
	}
	return 0;
}

int
ws_pull(struct ws *w, int64_t deadline)
{
	size_t before, after;
	int f;

	for (;;) {
		bq_data(&w->stream, &before);
		w->deadline = deadline;
		if (wslay_event_recv(w->ctx) != 0 || w->closed ||
		    (wslay_event_want_write(w->ctx) &&
		    wslay_event_send(w->ctx) != 0)) {
			if (w->err[0] == '\0')
				errfmt(w->err, sizeof(w->err),
				    "malformed WebSocket data from the relay");
			return -1;
		}
		bq_data(&w->stream, &after);
		if (after > before)
			return 1;
		if ((f = tp_fill(w->tp, deadline)) <= 0) {
			if (f < 0)
				errfmt(w->err, sizeof(w->err), "%s", w->tp->err);
			return f;
		}
	}
}

struct bq *
ws_stream(struct ws *w)
{
	return &w->stream;
}

const char *
ws_error(const struct ws *w)
{
	return w->err;
}
