/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The relay: routes SendPacket frames to the destination's connection,
 * locally or through the destination worker's ring, and keeps the shared
 * connection table in step with logins and logouts.
 */
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "wk.h"

#define RING_BATCH	1024	/* records per ring per turn */

static int
same_route(const struct route *a, const struct route *b)
{
	return a->worker == b->worker && a->slot == b->slot && a->gen == b->gen;
}

static struct route
own_route(const struct wk *w, const struct conn *c)
{
	struct route r = { w->id, c->slot, c->gen };

	return r;
}

void
relay_push(struct wk *w, uint32_t to, uint16_t kind, uint32_t slot, uint32_t gen,
    const uint8_t key[DERP_KEY_LEN], const uint8_t *payload, uint32_t len)
{
	int wake;

	if (ring_push(shm_ring(w->shm, w->id, to), w->shm->ring_data, kind, slot,
	    gen, key, payload, len, &wake) != 0) {
		stat(w, ST_DROP_RING_FULL, 1);
		stat(w, ST_DROP_BYTES_RING_FULL, len);
		return;
	}
	if (wake)
		w->wake_mask |= 1ULL << to;
}

void
relay_wake_peers(struct wk *w)
{
	uint64_t one = 1;
	uint32_t i;

	for (i = 0; w->wake_mask != 0 && i < w->nworkers; i++) {
		if (w->wake_mask & (1ULL << i))
			(void)!write(w->evfds[i], &one, sizeof(one));
	}
	w->wake_mask = 0;
}

/* Tells mesh watchers on every worker that key is here. */
static void
broadcast_present(struct wk *w, const uint8_t key[DERP_KEY_LEN],
    const struct peer_info *pi)
{
	uint8_t payload[19];
	uint32_t i;

	memcpy(payload, pi->ip, 16);
	payload[16] = pi->port >> 8;
	payload[17] = pi->port;
	payload[18] = pi->flags;
	mesh_note_present(w, key, pi);
	for (i = 0; i < w->nworkers; i++)
		if (i != w->id)
			relay_push(w, i, RING_PEER_PRESENT, 0, 0, key, payload,
			    sizeof(payload));
}

/* Tells the connection at route x that its key is now connected twice. */
static void
mark_dup(struct wk *w, const struct route *x, const uint8_t key[DERP_KEY_LEN])
{
	struct conn *oc;

	if (x->worker != w->id)
		relay_push(w, x->worker, RING_DUP, x->slot, x->gen, key, NULL, 0);
	else if ((oc = conn_at(w, x->slot, x->gen)) != NULL)
		oc->is_dup = 1;
}

static void
close_route(struct wk *w, const struct route *x, const uint8_t key[DERP_KEY_LEN],
    const char *why)
{
	struct conn *oc;

	if (x->worker != w->id)
		relay_push(w, x->worker, RING_CLOSE, x->slot, x->gen, key, NULL, 0);
	else if ((oc = conn_at(w, x->slot, x->gen)) != NULL)
		conn_close(w, oc, why);
}

/*
 * derper's duplicate policy: a key may be connected several times; the
 * newest connection receives, and a duplicate that sends becomes the one
 * that receives ("last writer is active"). derpd keeps at most
 * TABLE_MAX_DUPS connections per key and closes the oldest beyond that.
 */
int
relay_register(struct wk *w, struct conn *c)
{
	struct route r = own_route(w, c);
	struct table_join j;
	struct peer_info pi;
	uint32_t i;

	mesh_peer_info(c, &pi);
	if (table_register(&w->shm->table, c->key, &r, &pi, &j) != 0)
		return -1;
	c->registered = 1;
	if (mesh_watchers_exist(w))
		broadcast_present(w, c->key, &pi);
	if (j.nothers == 0)
		return 0;
	c->is_dup = 1;
	stat(w, ST_DUP_CONNS_TOTAL, 1);
	for (i = 0; i < j.nothers; i++)
		if (!j.evicted || !same_route(&j.others[i], &j.evicted_route))
			mark_dup(w, &j.others[i], c->key);
	if (j.evicted)
		close_route(w, &j.evicted_route, c->key,
		    "too many connections for one key; closing the oldest");
	return 0;
}

/* Tells every worker (this one included) that key has left the server. */
static void
broadcast_gone(struct wk *w, const uint8_t key[DERP_KEY_LEN])
{
	uint32_t i;

	watch_fire(w, key);
	mesh_note_gone(w, key);
	for (i = 0; i < w->nworkers; i++)
		if (i != w->id)
			relay_push(w, i, RING_PEER_GONE, 0, 0, key, NULL, 0);
}

void
relay_unregister(struct wk *w, struct conn *c)
{
	struct route r = own_route(w, c);

	if (!c->registered)
		return;
	c->registered = 0;
	/* PeerGone only when the key's last connection leaves. */
	if (table_unregister(&w->shm->table, c->key, &r) == TABLE_GONE)
		broadcast_gone(w, c->key);
}

/* Tells a fighting client, at most once a minute, via a Health frame. */
static void
warn_fighting(struct wk *w, struct conn *c)
{
	static const char text[] = "this node's key is connected to this DERP "
	    "server more than once, and the connections are taking turns; "
	    "is the machine cloned?";
	uint8_t f[DERP_FRAME_HDR_LEN + sizeof(text)];

	if (c->health_sent_ms != 0 && w->now_ms - c->health_sent_ms < 60000)
		return;
	c->health_sent_ms = w->now_ms;
	if (conn_queue_control(w, c, f, frame_health(f, text, sizeof(text) - 1)) == 0)
		stat(w, ST_HEALTH_SENT, 1);
}

/*
 * A frame from a duplicate makes it the active connection. One that spoke
 * before, lost the route and now takes it back is fighting (derper's
 * sendHistory): two live connections are taking turns with one key.
 */
void
relay_note_activity(struct wk *w, struct conn *c)
{
	struct route r = own_route(w, c), cur;
	int spoke = c->spoke_as_dup;

	if (!c->is_dup || !c->registered)
		return;
	c->spoke_as_dup = 1;
	if (table_lookup(&w->shm->table, c->key, &cur) && same_route(&cur, &r))
		return;
	if (table_claim(&w->shm->table, c->key, &r) != 1)
		return;
	stat(w, ST_DUP_SWITCHES, 1);
	if (spoke) {
		stat(w, ST_DUP_FIGHTS, 1);
		warn_fighting(w, c);
	}
}

/* derper answers only disco packets with PeerGone(not here), 1/s, burst 3. */
static void
note_not_here(struct wk *w, struct conn *c, const uint8_t dst[DERP_KEY_LEN],
    const uint8_t *pkt, uint32_t len)
{
	uint8_t f[DERP_FRAME_HDR_LEN + DERP_KEY_LEN + 1];

	stat(w, ST_DROP_UNKNOWN_DEST, 1);
	stat(w, ST_DROP_BYTES_UNKNOWN_DEST, len);
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
	stat(w, ST_PEER_GONE_NOT_HERE, 1);
}

static void
deliver_local(struct wk *w, const struct route *r, const uint8_t src[DERP_KEY_LEN],
    const uint8_t *pkt, uint32_t len)
{
	struct conn *d = conn_at(w, r->slot, r->gen);

	if (d == NULL || d->state != CS_RELAY) {
		stat(w, ST_DROP_GONE, 1);
		stat(w, ST_DROP_BYTES_GONE, len);
		return;
	}
	conn_queue_packet(w, d, src, pkt, len);
}

/* Sends pkt from src to dst, wherever dst is connected. */
void
relay_route(struct wk *w, struct conn *c, const uint8_t *src, const uint8_t *dst,
    const uint8_t *pkt, uint32_t plen)
{
	struct route r;

	stat(w, ST_PACKETS_RECV, 1);
	stat(w, ST_BYTES_RECV, plen);
	if (!table_lookup(&w->shm->table, dst, &r)) {
		note_not_here(w, c, dst, pkt, plen);
		return;
	}
	if (r.worker == w->id)
		deliver_local(w, &r, src, pkt, plen);
	else
		relay_push(w, r.worker, RING_PACKET, r.slot, r.gen, src, pkt, plen);
}

static void
note_preferred(struct wk *w, struct conn *c, int preferred)
{
	if (preferred == c->preferred)
		return;
	c->preferred = preferred;
	stat(w, ST_HOME_CLIENTS, preferred ? 1 : -1);
}

int
relay_frame(struct wk *w, struct conn *c, uint8_t type, const uint8_t *payload,
    uint32_t len)
{
	uint8_t pong[DERP_FRAME_HDR_LEN + DERP_PING_LEN];

	switch (type) {
	case FRAME_SEND_PACKET:
		relay_route(w, c, c->key, payload, payload + DERP_KEY_LEN,
		    len - DERP_KEY_LEN);
		return 0;
	case FRAME_NOTE_PREFERRED:
		note_preferred(w, c, payload[0] != 0);
		return 0;
	case FRAME_PONG:
		if (c->ping_sent_ms != 0 &&
		    sodium_memcmp(payload, c->ping_data, DERP_PING_LEN) == 0) {
			stat(w, ST_GOT_PONG, 1);
			stat(w, ST_PONG_RTT_MS_SUM, w->now_ms - c->ping_sent_ms);
			c->ping_sent_ms = 0;
		}
		return 0;
	case FRAME_PING:
		stat(w, ST_GOT_PING, 1);
		if (conn_queue_control(w, c, pong, frame_pong(pong, payload)) == 0)
			stat(w, ST_SENT_PONG, 1);
		return 0;
	case FRAME_FORWARD_PACKET:
	case FRAME_WATCH_CONNS:
	case FRAME_CLOSE_PEER:
		return mesh_frame(w, c, type, payload, len);
	default:
		return 0;
	}
}

static void
handle_record(struct wk *w, const struct ring_rec *rec, const uint8_t *payload)
{
	struct route r = { w->id, rec->slot, rec->gen };
	struct conn *c;

	switch (rec->kind) {
	case RING_PACKET:
		deliver_local(w, &r, rec->key, payload, rec->payload_len);
		break;
	case RING_CLOSE:
		if ((c = conn_at(w, rec->slot, rec->gen)) != NULL)
			conn_close(w, c, "closed by another worker (ClosePeer or "
			    "too many connections for its key)");
		break;
	case RING_DUP:
		if ((c = conn_at(w, rec->slot, rec->gen)) != NULL)
			c->is_dup = 1;
		break;
	case RING_PEER_GONE:
		watch_fire(w, rec->key);
		mesh_note_gone(w, rec->key);
		break;
	case RING_PEER_PRESENT:
		if (rec->payload_len == 19) {
			struct peer_info pi;

			memcpy(pi.ip, payload, 16);
			pi.port = (uint16_t)(payload[16] << 8 | payload[17]);
			pi.flags = payload[18];
			mesh_note_present(w, rec->key, &pi);
		}
		break;
	}
}

void
relay_drain_rings(struct wk *w)
{
	struct ring_rec hdr;
	const uint8_t *payload;
	struct ring *ring;
	uint64_t resets;
	uint32_t p, n;

	w->rings_pending = 0;
	for (p = 0; p <= w->nworkers; p++) {
		if (p == w->id)
			continue;
		ring = shm_ring(w->shm, p, w->id);
		resets = ring->resets;
		for (n = 0; ring_front(ring, w->shm->ring_data, &hdr, &payload); n++) {
			if (n == RING_BATCH) {
				w->rings_pending = 1;	/* let other work run first */
				break;
			}
			handle_record(w, &hdr, payload);
			ring_pop(ring, &hdr);
		}
		if (ring->resets != resets) {
			stat(w, ST_RING_RESETS, 1);
			log_warnx("discarded a corrupt ring from %s %u",
			    p == w->nworkers ? "master" : "worker", p);
		}
	}
}
