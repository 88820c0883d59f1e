/* SPDX-License-Identifier: BSD-3-Clause */
#include "presence.h"

#include <string.h>

#include "conn.h"
#include "mesh.h"
#include "peergone.h"
#include "route.h"
#include "table_client.h"

static int
same_route(const struct route *a, const struct route *b)
{
	return a->worker == b->worker && a->epoch == b->epoch &&
	    a->slot == b->slot && a->gen == b->gen;
}

static struct route
own_route(const struct wk *w, const struct conn *c)
{
	struct route r = { w->id, w->epoch, c->slot, c->gen };

	return r;
}

/* Tells mesh watchers on every worker that key is here. */
static void
broadcast_present(struct wk *w, const uint8_t key[KEY_LEN],
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
			route_push(w, i, RING_PEER_PRESENT, 0, 0, 0, key, payload,
			    sizeof(payload));
}

/* Tells the connection at route x that its key is now connected twice. */
static void
mark_dup(struct wk *w, const struct route *x, const uint8_t key[KEY_LEN])
{
	struct conn *oc;

	if (x->worker != w->id)
		route_push(w, x->worker, RING_DUP, x->slot, x->gen, x->epoch, key,
		    NULL, 0);
	else if (x->epoch == w->epoch && (oc = conn_at(w, x->slot, x->gen)) != NULL)
		oc->is_dup = 1;
}

static void
close_route(struct wk *w, const struct route *x, const uint8_t key[KEY_LEN],
    const char *why)
{
	struct conn *oc;

	if (x->worker != w->id)
		route_push(w, x->worker, RING_CLOSE, x->slot, x->gen, x->epoch, key,
		    NULL, 0);
	else if (x->epoch == w->epoch && (oc = conn_at(w, x->slot, x->gen)) != NULL)
		conn_close(w, oc, why);
}

void
presence_register(struct wk *w, struct conn *c)
{
	struct peer_info pi;

	mesh_peer_info(c, &pi);
	c->state = CS_WAIT_TABLE;
	table_client_ask(w, TOP_REGISTER, c->slot, c->gen, c->key, &pi);
}

/*
 * derper's duplicate policy: a key may be connected several times; the
 * newest connection receives, and a duplicate that sends becomes the one
 * that receives ("last writer is active"). derpd keeps at most
 * TABLE_MAX_DUPS connections per key and closes the oldest beyond that.
 */
int
presence_registered(struct wk *w, struct conn *c, const struct table_resp *resp)
{
	const struct table_join *j = &resp->join;
	struct peer_info pi;
	uint32_t i;

	if (resp->result != 0)
		return -1;
	c->registered = 1;
	if (mesh_watchers_exist(w)) {
		mesh_peer_info(c, &pi);
		broadcast_present(w, c->key, &pi);
	}
	if (j->nothers == 0)
		return 0;
	c->is_dup = 1;
	wk_stat(w, ST_DUP_CONNS_TOTAL, 1);
	for (i = 0; i < j->nothers && i < TABLE_MAX_DUPS; i++)
		if (!j->evicted || !same_route(&j->others[i], &j->evicted_route))
			mark_dup(w, &j->others[i], c->key);
	if (j->evicted)
		close_route(w, &j->evicted_route, c->key,
		    "too many connections for one key; closing the oldest");
	return 0;
}

void
presence_orphaned(struct wk *w, const struct table_resp *resp)
{
	if (resp->result == 0)
		table_client_ask(w, TOP_UNREGISTER, resp->slot, resp->gen,
		    resp->key, NULL);
}

/* Tells every worker (this one included) that key has left the server. */
static void
broadcast_gone(struct wk *w, const uint8_t key[KEY_LEN])
{
	uint32_t i;

	peergone_fire(w, key);
	mesh_note_gone(w, key);
	for (i = 0; i < w->nworkers; i++)
		if (i != w->id)
			route_push(w, i, RING_PEER_GONE, 0, 0, 0, key, NULL, 0);
}

void
presence_unregister(struct wk *w, struct conn *c)
{
	if (!c->registered)
		return;
	c->registered = 0;
	table_client_ask(w, TOP_UNREGISTER, c->slot, c->gen, c->key, NULL);
}

/* Tells watchers on every worker that key's last connection here left. */
static void
broadcast_left(struct wk *w, const uint8_t key[KEY_LEN])
{
	uint32_t i;

	mesh_note_gone(w, key);
	for (i = 0; i < w->nworkers; i++)
		if (i != w->id)
			route_push(w, i, RING_LOCAL_GONE, 0, 0, 0, key, NULL, 0);
}

void
presence_unregistered(struct wk *w, const struct table_resp *resp)
{
	/*
	 * PeerGone only when the key's last connection leaves: to watchers
	 * always (they hear of local clients only), to those who heard from
	 * it only if it is nowhere in the region now (derper's
	 * notePeerGoneFromRegionLocked).
	 */
	if (resp->result == TABLE_GONE)
		broadcast_gone(w, resp->key);
	else if (resp->result == TABLE_LEFT)
		broadcast_left(w, resp->key);
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
		wk_stat(w, ST_HEALTH_SENT, 1);
}

/*
 * A frame from a duplicate makes it the active connection, before the
 * frame itself is handled (as derper switches before it forwards): returns
 * 1 while the master is making it so, and c's frames wait (conn.c stops
 * reading it) until presence_claimed. One that spoke before, lost the
 * route and now takes it back is fighting (derper's sendHistory): two live
 * connections are taking turns with one key.
 */
int
presence_note_activity(struct wk *w, struct conn *c)
{
	struct route r = own_route(w, c), cur;
	int spoke = c->spoke_as_dup;

	if (c->claim_pending)
		return 1;
	if (c->claim_done) {
		c->claim_done = 0;
		return 0;
	}
	if (!c->is_dup || !c->registered)
		return 0;
	c->spoke_as_dup = 1;
	if (table_lookup(&w->shm->table, c->key, &cur) == 1 && same_route(&cur, &r))
		return 0;
	c->claim_pending = 1;
	c->claim_fights = spoke;
	table_client_ask(w, TOP_CLAIM, c->slot, c->gen, c->key, NULL);
	return 1;
}

void
presence_claimed(struct wk *w, struct conn *c, const struct table_resp *resp)
{
	c->claim_pending = 0;
	c->claim_done = 1;
	conn_update_events(w, c);
	conn_mark_ready(w, c);		/* the frame that waited */
	if (resp->result != 1)
		return;
	wk_stat(w, ST_DUP_SWITCHES, 1);
	if (c->claim_fights) {
		wk_stat(w, ST_DUP_FIGHTS, 1);
		warn_fighting(w, c);
	}
}
