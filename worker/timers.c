/* SPDX-License-Identifier: BSD-3-Clause */
#include "timers.h"

#include <sodium.h>
#include <stdlib.h>

#include "conn.h"
#include "loginmem.h"

#define MESH_WRITE_TIMEOUT_MS 30000

/*
 * derper sends a KeepAlive about every 60 s. A client that can ack pings
 * gets a Ping instead: it keeps the connection alive just the same and its
 * Pong tells us the round-trip time.
 */
static void
keep_alive(struct wk *w, struct conn *c)
{
	uint8_t f[DERP_FRAME_HDR_LEN + DERP_PING_LEN];

	if (c->info.can_ack_pings && c->ping_sent_ms == 0) {
		randombytes_buf(c->ping_data, sizeof(c->ping_data));
		if (conn_queue_control(w, c, f, frame_ping(f, c->ping_data)) == 0) {
			c->ping_sent_ms = w->now_ms;
			wk_stat(w, ST_SENT_PING, 1);
		}
	} else
		conn_queue_control(w, c, f, frame_keep_alive(f));
	c->next_keepalive_ms = w->now_ms + w->cfg->keepalive_ms +
	    (int64_t)(random() % 5000);
}

void
timers_tick(struct wk *w)
{
	struct conn *c, *next;
	int64_t wt;

	for (c = w->all; c != NULL; c = next) {
		next = c->next;
		/* derper gives mesh peers 30 s: they may be sent a long dump
		 * (and our own links to peer relays as long). */
		wt = c->can_mesh || c->outbound ? MESH_WRITE_TIMEOUT_MS :
		    w->cfg->tcp_write_timeout_ms;
		if (c->state != CS_RELAY) {
			if (w->now_ms >= c->deadline_ms) {
				if (c->state != CS_FLUSH_CLOSE)
					wk_stat(w, ST_HANDSHAKE_FAILURES, 1);
				if (c->state == CS_WAIT_VERIFY)
					wk_stat(w, ST_VERIFY_TIMEOUT, 1);
				conn_close(w, c, "handshake timeout");
			}
			continue;
		}
		if (wt > 0 && c->out_bytes > 0 &&
		    w->now_ms - c->stalled_since_ms > wt) {
			conn_close(w, c, "write timeout");
			continue;
		}
		if (w->now_ms >= c->next_keepalive_ms)
			keep_alive(w, c);
		if (c->paused_until_ms != 0 && w->now_ms >= c->paused_until_ms) {
			c->paused_until_ms = 0;
			conn_update_events(w, c);
			conn_mark_ready(w, c);	/* frames may be waiting in the buffer */
		}
	}
	conn_tick(w);
	loginmem_tick(w);
}
