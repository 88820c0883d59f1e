/* SPDX-License-Identifier: BSD-3-Clause */
#include "mesh.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "dial_proto.h"
#include "keyset.h"
#include "log.h"
#include "route.h"

/* derper: a zero key is no key, even if the server was given zeros. */
int
mesh_key_matches(const struct wk *w, const struct client_info *ci)
{
	return w->cfg->has_mesh_key && ci->has_mesh_key &&
	    !sodium_is_zero(ci->mesh_key, KEY_LEN) &&
	    sodium_memcmp(ci->mesh_key, w->cfg->mesh_key, KEY_LEN) == 0;
}

void
mesh_peer_info(const struct conn *c, struct peer_info *pi)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&c->peer;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&c->peer;

	memset(pi, 0, sizeof(*pi));
	if (c->peer.ss_family == AF_INET6) {
		memcpy(pi->ip, s6->sin6_addr.s6_addr, 16);
		pi->port = ntohs(s6->sin6_port);
	} else if (c->peer.ss_family == AF_INET) {
		pi->ip[10] = pi->ip[11] = 0xff;
		memcpy(pi->ip + 12, &s4->sin_addr, 4);
		pi->port = ntohs(s4->sin_port);
	}
	if (c->info.is_prober)
		pi->flags |= PEER_PRESENT_PROBER;
	if (c->can_mesh)
		pi->flags |= PEER_PRESENT_MESH_PEER;
	if (c->not_ideal)
		pi->flags |= PEER_PRESENT_NOT_IDEAL;
	if (pi->flags == 0)
		pi->flags = PEER_PRESENT_REGULAR;
}

int
mesh_watchers_exist(const struct wk *w)
{
	uint32_t i;

	/* Pairs with add_watcher's: see watch(). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < w->nworkers; i++)
		if (__atomic_load_n(&w->shm->counters[i]->watchers,
		    __ATOMIC_ACQUIRE) != 0)
			return 1;
	return 0;
}

/* Watchers get everything: a slow one is closed by the write timeout. */
static void
send_present(struct wk *w, struct conn *c, const uint8_t *key,
    const struct peer_info *pi)
{
	uint8_t f[DERP_FRAME_HDR_LEN + DERP_PEER_PRESENT_LEN];

	conn_queue(w, c, f, frame_peer_present(f, key, pi->ip, pi->port,
	    pi->flags));
}

void
mesh_note_present(struct wk *w, const uint8_t *key, const struct peer_info *pi)
{
	uint32_t i;

	if (w->watchers.n == 0)
		return;
	(void)keyset_add(&w->watchers.announced, key);
	/* Backwards: a watcher closed on the way is replaced by the last. */
	for (i = w->watchers.n; i-- > 0;)
		send_present(w, w->watchers.conns[i], key, pi);
}

void
mesh_note_gone(struct wk *w, const uint8_t *key)
{
	uint8_t f[DERP_FRAME_HDR_LEN + KEY_LEN + 1];
	uint32_t i;

	if (w->watchers.n == 0)
		return;
	keyset_del(&w->watchers.announced, key);
	frame_peer_gone(f, key, PEER_GONE_DISCONNECTED);
	for (i = w->watchers.n; i-- > 0;)
		conn_queue(w, w->watchers.conns[i], f, sizeof(f));
}

static void
sweep_one(const uint8_t *key, void *arg)
{
	struct wk *w = arg;
	struct route r;

	if (table_lookup(&w->shm->table, key, &r) == 0)
		mesh_note_gone(w, key);
}

void
mesh_sweep(struct wk *w)
{
	if (w->watchers.n > 0)
		keyset_each(&w->watchers.announced, sweep_one, w);
}

struct dump {
	struct wk	*w;
	struct conn	*c;
	int		 failed;
};

/* Must not close the watcher itself: the caller does, after the walk. */
static void
dump_one(const uint8_t *key, const struct route *r, const struct peer_info *pi,
    void *arg)
{
	uint8_t f[DERP_FRAME_HDR_LEN + DERP_PEER_PRESENT_LEN];
	struct dump *d = arg;

	(void)r;
	if (!d->failed && (keyset_add(&d->w->watchers.announced, key) != 0 ||
	    conn_append(d->w, d->c, f, frame_peer_present(f, key, pi->ip,
	    pi->port, pi->flags), NULL, 0) != 0))
		d->failed = 1;
}

static void
add_watcher(struct wk *w, struct conn *c)
{
	struct watcher_list *l = &w->watchers;
	struct conn **nw;
	uint32_t ncap;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 8;
		if ((nw = reallocarray(l->conns, ncap, sizeof(*nw))) == NULL)
			fatal("watchers");
		l->conns = nw;
		l->cap = ncap;
	}
	l->conns[l->n++] = c;
	c->is_watcher = 1;
	__atomic_add_fetch(&w->shm->counters[w->id]->watchers, 1,
	    __ATOMIC_SEQ_CST);
}

static void
watch(struct wk *w, struct conn *c)
{
	struct dump d = { w, c, 0 };

	if (memcmp(c->key, w->server_pub, KEY_LEN) == 0)
		return;	/* our own mesh connection */
	/* Like derper, a repeated WatchConns gets the whole dump again. */
	if (!c->is_watcher)
		add_watcher(w, c);
	/* Announced first, then dumped: a client that registers meanwhile is
	 * either in the dump or broadcast to us (both sides fence). */
	table_foreach(&w->shm->table, dump_one, &d);
	if (d.failed)
		conn_close(w, c, "out of memory for the WatchConns dump");
}

void
mesh_drop_watcher(struct wk *w, struct conn *c)
{
	struct watcher_list *l = &w->watchers;
	uint32_t i;

	if (!c->is_watcher)
		return;
	c->is_watcher = 0;
	__atomic_sub_fetch(&w->shm->counters[w->id]->watchers, 1,
	    __ATOMIC_SEQ_CST);
	for (i = 0; i < l->n; i++) {
		if (l->conns[i] == c) {
			l->conns[i] = l->conns[--l->n];
			break;
		}
	}
	if (l->n == 0)
		keyset_clear(&l->announced);
}

/* derper closes every connection of the key. */
static void
close_peer(struct wk *w, const uint8_t *key)
{
	struct route r[TABLE_MAX_DUPS];
	struct conn *t;
	int i, n;

	n = table_routes(&w->shm->table, key, r);
	for (i = 0; i < n; i++) {
		if (r[i].worker != w->id)
			route_push(w, r[i].worker, RING_CLOSE, r[i].slot, r[i].gen,
			    r[i].epoch, key, NULL, 0);
		else if (r[i].epoch == w->epoch &&
		    (t = conn_at(w, r[i].slot, r[i].gen)) != NULL)
			conn_close(w, t, "closed by a mesh peer (ClosePeer)");
	}
}

/*
 * Which -mesh-with peer a mesh client is (the key our link to that peer
 * saw), for the per-peer counters: its index + 1, or 0 (a monitor, or a
 * relay we do not dial).
 */
static int
peer_of(struct wk *w, struct conn *c)
{
	const struct shm_mesh_peer *mp;
	int i;

	for (i = 0; c->mesh_peer == 0 && i < w->links.npeers; i++) {
		mp = &w->shm->counters[dial_owner((uint32_t)i, w->nworkers)]->mesh[i];
		if (__atomic_load_n(&mp->has_pub, __ATOMIC_ACQUIRE) &&
		    memcmp(mp->pub, c->key, KEY_LEN) == 0)
			c->mesh_peer = i + 1;
	}
	return c->mesh_peer;
}

static void
forwarded_in(struct wk *w, struct conn *c, const uint8_t *payload, uint32_t len)
{
	struct shm_mesh_peer *mp;
	uint64_t *p;
	int peer;

	wk_stat(w, ST_PACKETS_FORWARDED_IN, 1);
	if ((peer = peer_of(w, c)) != 0) {
		mp = &w->shm->counters[w->id]->mesh[peer - 1];
		p = &mp->pkts_in;
		__atomic_store_n(p, *p + 1, __ATOMIC_RELAXED);
		p = &mp->bytes_in;
		__atomic_store_n(p, *p + len - 2 * KEY_LEN, __ATOMIC_RELAXED);
	}
	route_forwarded(w, c, payload, payload + KEY_LEN, payload + 2 * KEY_LEN,
	    len - 2 * KEY_LEN);
}

int
mesh_frame(struct wk *w, struct conn *c, uint8_t type, const uint8_t *payload,
    uint32_t len)
{
	if (!c->can_mesh) {
		conn_close(w, c, "mesh frame without the mesh key");
		return -1;
	}
	switch (type) {
	case FRAME_WATCH_CONNS:
		watch(w, c);
		break;
	case FRAME_CLOSE_PEER:
		close_peer(w, payload);
		break;
	case FRAME_FORWARD_PACKET:
		forwarded_in(w, c, payload, len);
		break;
	}
	return 0;
}
