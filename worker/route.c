/* SPDX-License-Identifier: BSD-3-Clause */
#include "route.h"

#include <unistd.h>

#include "conn.h"
#include "forward.h"
#include "peergone.h"
#include "pushback.h"
#include "sendq.h"

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
	if (sendq_packet(w, d, src, pkt, len) != 0) {
		conn_close(w, d, "out of memory");
		return;
	}
	peergone_note_src(w, d, src);
}

static void
drop(struct wk *w, enum stat_id packets, enum stat_id bytes, uint32_t len)
{
	wk_stat(w, packets, 1);
	wk_stat(w, bytes, len);
}

/* derper answers only disco packets with PeerGone(not here), 1/s, burst 3. */
static void
note_not_here(struct wk *w, struct conn *c, const uint8_t dst[KEY_LEN],
    const uint8_t *pkt, uint32_t len)
{
	uint8_t f[DERP_FRAME_HDR_LEN + KEY_LEN + 1];

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

/*
 * A packet into the ring of the worker r names. Returns 1 when sender c
 * (NULL: none to hold) must hold its frame and try again (pushback.h).
 */
static int
push_packet(struct wk *w, struct conn *c, const struct route *r,
    const uint8_t src[KEY_LEN], const uint8_t *pkt, uint32_t len)
{
	int wake;

	if (ring_push(&w->rings.tx[r->worker], RING_PACKET, r->slot, r->gen,
	    r->epoch, src, pkt, len, &wake) == 0) {
		pushback_done(w, c, r->worker);
		if (wake)
			w->wake_mask |= 1ULL << r->worker;
		return 0;
	}
	if (pushback_full(w, c, r->worker))
		return 1;
	drop(w, ST_DROP_RING_FULL, ST_DROP_BYTES_RING_FULL, len);
	return 0;
}

/*
 * To the worker route r names (a client, or a mesh link when forwarding).
 * Returns 1 when c must hold its frame (push_packet).
 */
static int
route_to(struct wk *w, struct conn *c, const struct route *r, int forward,
    const uint8_t src[KEY_LEN], const uint8_t dst[KEY_LEN],
    const uint8_t *pkt, uint32_t len)
{
	int wake;

	if (r->worker == w->id && r->epoch == w->epoch) {
		if (forward)
			forward_out(w, r->slot, r->gen, src, dst, pkt, len);
		else
			route_deliver_local(w, r->slot, r->gen, src, pkt, len);
	} else if (r->worker == w->id || !shm_route_live(w->shm, r))
		/* its worker died; the master is removing its routes */
		drop(w, ST_DROP_GONE, ST_DROP_BYTES_GONE, len);
	else if (!forward)
		return push_packet(w, c, r, src, pkt, len);
	else if (ring_push2(&w->rings.tx[r->worker], RING_FORWARD, r->slot,
	    r->gen, r->epoch, src, dst, KEY_LEN, pkt, len, &wake) != 0)
		drop(w, ST_DROP_RING_FULL, ST_DROP_BYTES_RING_FULL, len);
	else if (wake)
		w->wake_mask |= 1ULL << r->worker;
	return 0;
}

int
route_packet(struct wk *w, struct conn *c, const uint8_t src[KEY_LEN],
    const uint8_t dst[KEY_LEN], const uint8_t *pkt, uint32_t len)
{
	struct route r;
	int found, remote, held = 0, retry = c->pushed_back;

	if (!retry) {	/* a held frame was counted the first time */
		wk_stat(w, ST_PACKETS_RECV, 1);
		wk_stat(w, ST_BYTES_RECV, len);
	}
	if ((found = table_dest(&w->shm->table, dst, &r, &remote)) == 0) {
		drop(w, ST_DROP_UNKNOWN_DEST, ST_DROP_BYTES_UNKNOWN_DEST, len);
		note_not_here(w, c, dst, pkt, len);
	} else if (found < 0)	/* no clean read: drop it, claim nothing */
		drop(w, ST_DROP_GONE, ST_DROP_BYTES_GONE, len);
	else {
		if (remote && !retry)
			wk_stat(w, ST_PACKETS_FORWARDED_OUT, 1);
		held = route_to(w, c, &r, remote, src, dst, pkt, len);
	}
	if (!held)
		c->pushed_back = 0;
	return held;
}

/*
 * derper's handleFrameForwardPacket: a packet a peer relay forwarded goes
 * to a local client or nowhere, never on to another relay (no loops). A
 * key that is remote here too (both relays think the other has it) is a
 * loop, dropped and counted; a disco packet for a key not here gets
 * PeerGone(not here) back, which makes the sender drop its stale route.
 */
void
route_forwarded(struct wk *w, struct conn *c, const uint8_t src[KEY_LEN],
    const uint8_t dst[KEY_LEN], const uint8_t *pkt, uint32_t len)
{
	struct route r;
	int found, remote;

	if ((found = table_dest(&w->shm->table, dst, &r, &remote)) < 0) {
		drop(w, ST_DROP_GONE, ST_DROP_BYTES_GONE, len);
		return;
	}
	if (found == 1 && !remote) {
		route_to(w, NULL, &r, 0, src, dst, pkt, len);
		return;
	}
	if (remote)
		drop(w, ST_DROP_MESH_LOOP, ST_DROP_BYTES_MESH_LOOP, len);
	else
		drop(w, ST_DROP_UNKNOWN_DEST_FWD, ST_DROP_BYTES_UNKNOWN_DEST_FWD, len);
	note_not_here(w, c, dst, pkt, len);
}
