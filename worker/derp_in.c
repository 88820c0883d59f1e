/* SPDX-License-Identifier: BSD-3-Clause */
#include "derp_in.h"

#include <sodium.h>

#include "conn.h"
#include "mesh.h"
#include "presence.h"
#include "route.h"

void
derp_in_count(struct wk *w, uint8_t type)
{
	uint64_t *p = &w->shm->counters[w->id]->frames[type % STAT_FRAME_TYPES];

	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + 1,
	    __ATOMIC_RELAXED);
}

/*
 * derper's per-client receive limit: every frame's length is charged
 * before the frame is handled (capped at one full packet frame, as
 * derper does), and a client over its rate is not read from, nor its
 * frame handled, until it is back under it (the tick resumes it).
 */
static int
over_rate(struct wk *w, struct conn *c, uint32_t len)
{
	uint64_t bps, burst;
	int64_t wait_ns;

	if (c->can_mesh || !shm_rate_get(w->shm, &bps, &burst))
		return 0;
	if (len > DERP_MAX_PACKET + KEY_LEN)
		len = DERP_MAX_PACKET + KEY_LEN;
	wait_ns = bucket_spend(&c->rate, (double)bps, (double)burst, len,
	    w->now_ms * 1000000);
	if (wait_ns == 0)
		return 0;
	c->paused_until_ms = w->now_ms + wait_ns / 1000000 + 1;
	wk_stat(w, ST_RATE_LIMIT_WAITS, 1);
	return 1;
}

static void
note_preferred(struct wk *w, struct conn *c, int preferred)
{
	if (preferred == c->preferred)
		return;
	c->preferred = preferred;
	wk_stat(w, ST_HOME_CLIENTS, preferred ? 1 : -1);
}

static void
note_pong(struct wk *w, struct conn *c, const uint8_t *payload)
{
	if (c->ping_sent_ms != 0 &&
	    sodium_memcmp(payload, c->ping_data, DERP_PING_LEN) == 0) {
		wk_stat(w, ST_GOT_PONG, 1);
		wk_stat(w, ST_PONG_RTT_MS_SUM, w->now_ms - c->ping_sent_ms);
		c->ping_sent_ms = 0;
	}
}

/* Returns -1 when c was closed, 1 when it holds the frame (pushback.h). */
static int
handle_frame(struct wk *w, struct conn *c, uint8_t type, const uint8_t *payload,
    uint32_t len)
{
	uint8_t pong[DERP_FRAME_HDR_LEN + DERP_PING_LEN];

	switch (type) {
	case FRAME_SEND_PACKET:
		return route_packet(w, c, c->key, payload, payload + KEY_LEN,
		    len - KEY_LEN);
	case FRAME_NOTE_PREFERRED:
		note_preferred(w, c, payload[0] != 0);
		return 0;
	case FRAME_PONG:
		note_pong(w, c, payload);
		return 0;
	case FRAME_PING:
		wk_stat(w, ST_GOT_PING, 1);
		if (conn_queue_control(w, c, pong, frame_pong(pong, payload)) == 0)
			wk_stat(w, ST_SENT_PONG, 1);
		return 0;
	case FRAME_FORWARD_PACKET:
	case FRAME_WATCH_CONNS:
	case FRAME_CLOSE_PEER:
		return mesh_frame(w, c, type, payload, len);
	default:
		return 0;
	}
}

void
derp_in_process(struct wk *w, struct conn *c)
{
	struct buf *b = c->in;
	enum frame_verdict v;
	const char *why = "bad frame";
	uint32_t len, avail;
	uint8_t type;
	int rc;

	while (c->fd >= 0 && c->state == CS_RELAY && c->paused_until_ms == 0) {
		avail = b->wr - b->rd;
		if (c->skip > 0) {
			len = c->skip < avail ? c->skip : avail;
			b->rd += len;
			c->skip -= len;
			if (c->skip > 0)
				return;
			continue;
		}
		if (!frame_get_header(b->data + b->rd, avail, &type, &len))
			break;
		v = frame_check_client(type, len, &why);
		if (!c->hdr_seen) {	/* once per frame, however it arrives */
			derp_in_count(w, type);
			if (v == FRAME_REJECT) {
				conn_close(w, c, why);
				return;
			}
			c->hdr_seen = 1;
			if (over_rate(w, c, len)) {
				conn_update_events(w, c);
				break;
			}
		}
		if (v == FRAME_SKIP) {
			wk_stat(w, ST_UNKNOWN_FRAMES, 1);
			b->rd += DERP_FRAME_HDR_LEN;
			c->skip = len;
			c->hdr_seen = 0;
			continue;
		}
		if (avail - DERP_FRAME_HDR_LEN < len)
			break;
		if (!c->pushed_back && presence_note_activity(w, c))
			break;	/* hdr_seen stays: this frame resumes here */
		rc = handle_frame(w, c, type, b->data + b->rd +
		    DERP_FRAME_HDR_LEN, len);
		if (rc < 0 || c->fd < 0)
			return;	/* closed: c->in went back to the pool */
		if (rc > 0)
			break;	/* held: hdr_seen stays, tried again later */
		c->hdr_seen = 0;
		b->rd += DERP_FRAME_HDR_LEN + len;
	}
	if (c->fd >= 0 && b->rd == b->wr)
		b->rd = b->wr = 0;
	else if (c->fd >= 0 && b->rd > b->cap / 2)
		buf_compact(b);
}
