/* SPDX-License-Identifier: BSD-3-Clause */
#include "derpconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errfmt.h"
#include "httpc.h"
#include "metacert.h"
#include "ws.h"

static int
fail(struct derpconn *c, const char *what, const char *why)
{
	errfmt(c->err, sizeof(c->err), "%s: %s", what, why);
	return -1;
}

/* Writes one whole frame (one WebSocket message under -ws). */
static int
write_frame(struct derpconn *c, uint8_t type, size_t len, int64_t deadline)
{
	size_t total = DERP_FRAME_HDR_LEN + len;

	frame_put_header(c->out, type, (uint32_t)len);
	if (c->ws != NULL ? ws_write(c->ws, c->out, total, deadline) :
	    tp_write(c->tp, c->out, total, deadline))
		return fail(c, "sending to the relay",
		    c->ws != NULL ? ws_error(c->ws) : c->tp->err);
	return 0;
}

/* More bytes into c->in: 1, 0 on timeout, -1 on EOF or error. */
static int
pull(struct derpconn *c, int64_t deadline)
{
	int r = c->ws != NULL ? ws_pull(c->ws, deadline) :
	    tp_fill(c->tp, deadline);

	if (r < 0)
		fail(c, "reading from the relay",
		    c->ws != NULL ? ws_error(c->ws) : c->tp->err);
	return r;
}

/* The next whole frame, consuming the previous one. */
static int
next_frame(struct derpconn *c, struct dmsg *m, int64_t deadline)
{
	const uint8_t *p;
	size_t len;
	int r;

	bq_consume(c->in, c->consumed);
	c->consumed = 0;
	for (;;) {
		p = bq_data(c->in, &len);
		if ((r = dmsg_split(p, len, m)) < 0)
			return fail(c, "garbage from the relay",
			    "a frame longer than DERP allows");
		if (r == 1) {
			c->consumed = m->total;
			return 1;
		}
		if ((r = pull(c, deadline)) <= 0)
			return r;
	}
}

static int
expect_frame(struct derpconn *c, struct dmsg *m, const char *what,
    int64_t deadline)
{
	int r = next_frame(c, m, deadline);

	if (r == 0)
		fail(c, what, "timed out");
	return r == 1 ? 0 : -1;
}

/* GET /derp; with fast start the relay sends no HTTP answer. */
static int
upgrade(struct derpconn *c, const struct url *u, int64_t deadline)
{
	struct httpc_resp r;
	char err[TP_ERR_MAX];

	if (httpc_send_get(c->tp, u, "/derp", c->fast_started ?
	    "Upgrade: DERP\r\nConnection: Upgrade\r\nDerp-Fast-Start: 1\r\n" :
	    "Upgrade: DERP\r\nConnection: Upgrade\r\n", deadline) != 0)
		return fail(c, "sending the upgrade request", c->tp->err);
	if (c->fast_started)
		return 0;
	if (httpc_read_head(c->tp, &r, deadline, err, sizeof(err)) != 0)
		return fail(c, "DERP upgrade", err);
	if (r.status != 101)
		return errfmt(c->err, sizeof(c->err), "DERP upgrade refused: "
		    "HTTP %d (is this a DERP relay?)", r.status), -1;
	bq_consume(c->in, r.head_len);
	return 0;
}

static int
login(struct derpconn *c, const struct dc_opts *o, int64_t deadline)
{
	uint8_t *ci = c->out + DERP_FRAME_HDR_LEN;
	const char *why;
	struct dmsg m;
	size_t n;

	if (expect_frame(c, &m, "waiting for ServerKey", deadline) != 0)
		return -1;
	if (dmsg_server_key(&m, c->server) != 0)
		return fail(c, "garbage from the relay", "no ServerKey frame");
	if (c->fast_started && memcmp(c->server, c->meta_key, KEY_LEN) != 0)
		return fail(c, "login", "ServerKey differs from the meta certificate");
	n = dmsg_client_info(ci, c->id->pub, c->id->priv, c->server, o->prober);
	if (n == 0)
		return fail(c, "login", "the relay's ServerKey is not a usable key");
	if (write_frame(c, FRAME_CLIENT_INFO, n, deadline) != 0)
		return -1;
	if (expect_frame(c, &m, "waiting for ServerInfo", deadline) != 0)
		return -1;
	if (dmsg_server_info(&m, c->server, c->id->priv, &c->info, &why) != 0)
		return fail(c, "login", why);
	return 0;
}

/* Upgrade (plain DERP or WebSocket) and login; c->tp is connected. */
static int
start(struct derpconn *c, const struct url *u, const struct dc_opts *o,
    int64_t deadline)
{
	double t0 = now_msf();
	long version = 0;
	char err[TP_ERR_MAX];

	if (c->tp->ssl != NULL)
		c->meta_found = metacert_find(c->tp->ssl, c->meta_key, &version);
	if (o->ws) {
		if ((c->ws = ws_open(c->tp, u, deadline, err, sizeof(err))) == NULL)
			return fail(c, "WebSocket", err);
		c->in = ws_stream(c->ws);
	} else {
		/* As Tailscale's client: only TLS 1.3 hides the chain. */
		c->fast_started = o->fast_start && c->meta_found && version != 0 &&
		    SSL_version(c->tp->ssl) >= TLS1_3_VERSION;
		if (upgrade(c, u, deadline) != 0)
			return -1;
	}
	if (login(c, o, deadline) != 0)
		return -1;
	c->login_ms = now_msf() - t0;
	return 0;
}

struct derpconn *
dc_open(const struct url *u, const struct dc_opts *o, const struct ident *id,
    char *err, size_t errlen)
{
	int64_t deadline = now_ms() + o->timeout_ms;
	struct derpconn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		errfmt(err, errlen, "out of memory");
		return NULL;
	}
	c->id = id;
	c->timeout_ms = o->timeout_ms;
	if ((c->tp = tp_connect(u, &o->tp, deadline, err, errlen)) == NULL) {
		free(c);
		return NULL;
	}
	c->in = &c->tp->in;
	if (start(c, u, o, deadline) != 0) {
		errfmt(err, errlen, "%s", c->err);
		dc_close(c);
		return NULL;
	}
	return c;
}

void
dc_close(struct derpconn *c)
{
	if (c == NULL)
		return;
	ws_free(c->ws);
	tp_close(c->tp);
	free(c);
}

int
dc_fd(const struct derpconn *c)
{
	return c->tp->fd;
}

int
dc_send_packet(struct derpconn *c, const uint8_t dst[KEY_LEN],
    const void *pkt, size_t len, int64_t deadline)
{
	uint8_t *p = c->out + DERP_FRAME_HDR_LEN;

	if (len > DERP_MAX_PACKET)
		return fail(c, "sending", "packet larger than 64 KiB");
	memcpy(p, dst, KEY_LEN);
	memcpy(p + KEY_LEN, pkt, len);
	return write_frame(c, FRAME_SEND_PACKET, KEY_LEN + len, deadline);
}

int
dc_send_ping(struct derpconn *c, const uint8_t data[DERP_PING_LEN],
    int64_t deadline)
{
	memcpy(c->out + DERP_FRAME_HDR_LEN, data, DERP_PING_LEN);
	return write_frame(c, FRAME_PING, DERP_PING_LEN, deadline);
}

/* 1 when m is an event for the caller, 0 when handled here, -1 on error. */
static int
to_event(struct derpconn *c, const struct dmsg *m, struct dc_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	switch (m->type) {
	case FRAME_RECV_PACKET:
		ev->type = DC_PACKET;
		if (dmsg_recv_packet(m, &ev->src, &ev->data, &ev->len) != 0)
			return fail(c, "garbage from the relay", "short RecvPacket");
		return 1;
	case FRAME_PEER_GONE:
		ev->type = DC_PEER_GONE;
		if (dmsg_peer_gone(m, &ev->src, &ev->reason) != 0)
			return fail(c, "garbage from the relay", "short PeerGone");
		return 1;
	case FRAME_PING:	/* we said CanAckPings */
		if (m->len < DERP_PING_LEN)
			return fail(c, "garbage from the relay", "short Ping");
		memcpy(c->out + DERP_FRAME_HDR_LEN, m->payload, DERP_PING_LEN);
		return write_frame(c, FRAME_PONG, DERP_PING_LEN,
		    now_ms() + c->timeout_ms) == 0 ? 0 : -1;
	case FRAME_PONG:
		ev->type = DC_PONG;
		break;
	case FRAME_HEALTH:
		ev->type = DC_HEALTH;
		break;
	case FRAME_RESTARTING:
		ev->type = DC_RESTARTING;
		break;
	default:		/* KeepAlive, and what a newer relay may add */
		return 0;
	}
	ev->data = m->payload;
	ev->len = m->len;
	return 1;
}

int
dc_next(struct derpconn *c, struct dc_event *ev, int64_t deadline)
{
	struct dmsg m;
	int r;

	for (;;) {
		if ((r = next_frame(c, &m, deadline)) <= 0)
			return r;
		if ((r = to_event(c, &m, ev)) != 0)
			return r;
	}
}
