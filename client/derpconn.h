/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One logged-in DERP connection: transport (TCP/TLS, optionally
 * WebSocket), the HTTP upgrade (with Derp-Fast-Start when the TLS 1.3
 * chain carries the relay's meta certificate), the login (ServerKey,
 * ClientInfo, ServerInfo), then packets, pings and the events the relay
 * sends. Pings from the relay are answered and KeepAlives skipped here.
 */
#ifndef CLIENT_DERPCONN_H
#define CLIENT_DERPCONN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "derpmsg.h"
#include "transport.h"

struct dc_opts {
	struct tp_opts	 tp;
	int		 ws;		/* -ws */
	int		 fast_start;	/* use the meta certificate if present */
	int		 prober;	/* ClientInfo IsProber */
	int64_t		 timeout_ms;	/* connect + upgrade + login */
};

enum dc_event_type {
	DC_PACKET = 1,		/* src, data, len */
	DC_PONG,		/* data: 8 bytes */
	DC_PEER_GONE,		/* src, reason */
	DC_HEALTH,		/* data, len: text, empty when healthy */
	DC_RESTARTING,
};

struct dc_event {
	enum dc_event_type	 type;
	const uint8_t		*src;
	const uint8_t		*data;
	size_t			 len;
	int			 reason;
};

struct derpconn {
	struct tp		*tp;
	struct ws		*ws;
	struct bq		*in;		/* &tp->in, or the WebSocket's */
	const struct ident	*id;
	uint8_t			 server[KEY_LEN];
	struct server_info	 info;
	int			 fast_started;
	int			 meta_found;	/* a derpkey certificate was served */
	uint8_t			 meta_key[KEY_LEN];
	double			 login_ms;	/* upgrade and login */
	int64_t			 timeout_ms;	/* for writes of our own */
	size_t			 consumed;	/* of the last event's frame */
	uint8_t			 out[DERP_FRAME_HDR_LEN + DMSG_PAYLOAD_MAX];
	char			 err[TP_ERR_MAX];
};

/* Connects and logs in by the deadline; NULL with err set on failure. */
struct derpconn *dc_open(const struct url *u, const struct dc_opts *o,
	    const struct ident *id, char *err, size_t errlen);
void	dc_close(struct derpconn *c);
int	dc_fd(const struct derpconn *c);
int	dc_send_packet(struct derpconn *c, const uint8_t dst[KEY_LEN],
	    const void *pkt, size_t len, int64_t deadline);
int	dc_send_ping(struct derpconn *c, const uint8_t data[DERP_PING_LEN],
	    int64_t deadline);
/*
 * The next event, waiting until deadline (in the past: only what is
 * already readable). Returns 1 with ev filled (valid until the next call),
 * 0 on timeout, -1 when the connection failed (c->err says why). Call it
 * until it returns 0 before polling dc_fd.
 */
int	dc_next(struct derpconn *c, struct dc_event *ev, int64_t deadline);

#endif
