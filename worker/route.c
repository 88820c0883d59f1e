/* SPDX-License-Identifier: BSD-3-Clause */
#include "route.h"

#include <unistd.h>

#include "conn.h"
#include "peergone.h"

void
route_push(struct wk *w, uint32_t to, uint16_t kind, uint32_t slot, uint32_t gen,
    uint32_t epoch, const uint8_t key[KEY_LEN], const uint8_t *payload,
    uint32_t len)
{
	int wake;

	if (to >= w->nworkers || to == w->id)
		return;
	if (ring_push(&w->rings.tx[to], kind, slot, gen, epoch, key, payload, len,
	    &wake) != 0) {
		wk_stat(w, ST_DROP_RING_FULL, 1);
		wk_stat(w, ST_DROP_BYTES_RING_FULL, len);
		return;
	}
	if (wake)
		w->wake_mask |= 1ULL << to;
}

void
route_wake_peers(struct wk *w)
{
	uint64_t one = 1;
	uint32_t i;

	for (i = 0; w->wake_mask != 0 && i < w->nworkers; i++) {
		if (w->wake_mask & (1ULL << i))
			(void)!write(w->evfds[i], &one, sizeof(one));
	}
	w->wake_mask = 0;
}

/* RecvPacket into d's queue, unless the queue is full (derper drops too). */
static void
queue_packet(struct wk *w, struct conn *d, const uint8_t src[KEY_LEN],
    const uint8_t *pkt, uint32_t len)
{
	uint8_t hdr[DERP_RECV_HDR_LEN];

	if (d->out_bytes + sizeof(hdr) + len > (uint64_t)w->cfg->queue_kib * 1024) {
		wk_stat(w, ST_DROP_QUEUE_FULL, 1);
		wk_stat(w, ST_DROP_BYTES_QUEUE_FULL, len);
		return;
	}
	frame_recv_packet_header(hdr, src, len);
	if (conn_append(w, d, hdr, sizeof(hdr), pkt, len) != 0) {
		conn_close(w, d, "out of memory");
		return;
	}
	wk_stat(w, ST_PACKETS_SENT, 1);
	wk_stat(w, ST_BYTES_SENT, len);
	peergone_note_src(w, d, src);
}

void
route_deliver_local(struct wk *w, uint32_t slot, uint32_t gen,
    const uint8_t src[KEY_LEN], const uint8_t *pkt, uint32_t len)
{
	struct conn *d = conn_at(w, slot, gen);

	if (d == NULL || d->state != CS_RELAY) {
		wk_stat(w, ST_DROP_GONE, 1);
		wk_stat(w, ST_DROP_BYTES_GONE, len);
		return;
	}
	queue_packet(w, d, src, pkt, len);
}

/* derper answers only disco packets with PeerGone(not here), 1/s, burst 3. */
static void
note_not_here(struct wk *w, struct conn *c, const uint8_t dst[KEY_LEN],
    const uint8_t *pkt, uint32_t len)
{
	uint8_t f[DERP_FRAME_HDR_LEN + KEY_LEN + 1];

	wk_stat(w, ST_DROP_UNKNOWN_DEST, 1);
	wk_stat(w, ST_DROP_BYTES_UNKNOWN_DEST, len);
	if (!packet_looks_like_disco(pkt, len))
		return;
	c->peer_gone_tokens += (w->now_ms - c->peer_gone_last_ms) / 1000.0;
	c->peer_gone_last_ms = w->now_ms;
	if (c->peer_gone_tokens > 3)
		c->peer_gone_tokens = 3;
	if (c->peer_gone_tokens < 1)
		return;
	c->peer_gone_tokens -= 1;
	conn_queue_control(w, c, f, frame_peer_gone(f, dst, PEER_GONE_NOT_HERE));
	wk_stat(w, ST_PEER_GONE_NOT_HERE, 1);
}

void
route_packet(struct wk *w, struct conn *c, const uint8_t src[KEY_LEN],
    const uint8_t dst[KEY_LEN], const uint8_t *pkt, uint32_t len)
{
	struct route r;
	int found;

	wk_stat(w, ST_PACKETS_RECV, 1);
	wk_stat(w, ST_BYTES_RECV, len);
	if ((found = table_lookup(&w->shm->table, dst, &r)) == 0) {
		note_not_here(w, c, dst, pkt, len);
		return;
	}
	if (found < 0) {	/* no clean read: drop it, claim nothing */
		wk_stat(w, ST_DROP_GONE, 1);
		wk_stat(w, ST_DROP_BYTES_GONE, len);
		return;
	}
	if (r.worker == w->id && r.epoch == w->epoch)
		route_deliver_local(w, r.slot, r.gen, src, pkt, len);
	else if (r.worker != w->id && shm_route_live(w->shm, &r))
		route_push(w, r.worker, RING_PACKET, r.slot, r.gen, r.epoch, src,
		    pkt, len);
	else {		/* its worker died; the master is removing its routes */
		wk_stat(w, ST_DROP_GONE, 1);
		wk_stat(w, ST_DROP_BYTES_GONE, len);
	}
}
