/* SPDX-License-Identifier: BSD-3-Clause */
#include "inbox.h"

#include <string.h>

#include "conn.h"
#include "forward.h"
#include "keyd_client.h"
#include "log.h"
#include "mesh.h"
#include "peergone.h"
#include "route.h"
#include "tlskey.h"
#include "verify.h"

#define RING_BATCH	1024	/* records per ring per turn */

/* Our end of producer p's ring to us, from its tail on. */
static void
rx_start(struct wk *w, uint32_t p)
{
	ring_rx_start(&w->rings.rx[p], shm_ring(w->shm, p, w->id),
	    shm_pool(w->shm, p), (size_t)shm_pool_chunks(w->shm) * POOL_CHUNK,
	    &w->shm->heads[w->id]->head[p]);
}

void
inbox_start(struct wk *w)
{
	struct rings *r = &w->rings;
	uint32_t p;

	if (pool_init(&r->pool, shm_pool(w->shm, w->id), shm_pool_chunks(w->shm),
	    shm_pool_quota(w->shm)) != 0)
		fatalx("out of memory for the packet pool");
	for (p = 0; p < w->nworkers; p++) {
		if (p == w->id)
			continue;
		ring_tx_start(&r->tx[p], shm_ring(w->shm, w->id, p),
		    &w->shm->heads[p]->head[w->id], &r->pool);
		rx_start(w, p);
		r->epoch[p] = __atomic_load_n(&w->shm->ctl->workers[p].epoch,
		    __ATOMIC_ACQUIRE);
		r->alive[p] = 1;
	}
	r->epochs_seen = __atomic_load_n(&w->shm->ctl->epochs_changed,
	    __ATOMIC_ACQUIRE);
	w->keyd_restarts = __atomic_load_n(&w->shm->ctl->keyd_restarts,
	    __ATOMIC_ACQUIRE);
}

/*
 * A worker started or died. A new producer resumes at our head, so we
 * resume at its tail; a death is followed by PeerGone for every key our
 * clients and watchers knew that is no longer in the table (the master
 * removed the dead worker's routes before announcing it).
 */
static void
check_epochs(struct wk *w)
{
	struct rings *r = &w->rings;
	const struct shm_worker_state *ws;
	uint64_t seen = __atomic_load_n(&w->shm->ctl->epochs_changed,
	    __ATOMIC_ACQUIRE);
	uint32_t p, epoch, alive;
	int died = 0;

	if (seen == r->epochs_seen)
		return;
	r->epochs_seen = seen;
	for (p = 0; p < w->nworkers; p++) {
		if (p == w->id)
			continue;
		ws = &w->shm->ctl->workers[p];
		epoch = __atomic_load_n(&ws->epoch, __ATOMIC_ACQUIRE);
		alive = __atomic_load_n(&ws->alive, __ATOMIC_ACQUIRE) != 0;
		died |= r->alive[p] && (!alive || epoch != r->epoch[p]);
		if (epoch != r->epoch[p]) {
			rx_start(w, p);
			r->reset_logged[p] = 0;
		}
		r->epoch[p] = epoch;
		r->alive[p] = alive;
	}
	if (died) {
		peergone_sweep(w);
		mesh_sweep(w);
	}
}

/*
 * A new key process: what its predecessor had read but not answered is
 * lost, so every login waiting for the key process asks again (a second
 * answer is ignored).
 */
static void
check_keyd(struct wk *w)
{
	uint64_t restarts = __atomic_load_n(&w->shm->ctl->keyd_restarts,
	    __ATOMIC_ACQUIRE);
	struct conn *c;

	if (restarts == w->keyd_restarts)
		return;
	w->keyd_restarts = restarts;
	for (c = w->all; c != NULL; c = c->next) {
		if (c->state == CS_WAIT_KEY)
			keyd_client_ask(w, c->slot, c->gen, c->key);
		tlskey_resend(w, c);
	}
}

static void
note_present(struct wk *w, const struct ring_rec *rec, const uint8_t *payload)
{
	struct peer_info pi;

	if (rec->payload_len != 19)
		return;
	memcpy(pi.ip, payload, 16);
	pi.port = (uint16_t)(payload[16] << 8 | payload[17]);
	pi.flags = payload[18];
	mesh_note_present(w, rec->key, &pi);
}

/* The local connection a record names, if it is for this incarnation. */
static struct conn *
target(struct wk *w, const struct ring_rec *rec)
{
	return rec->epoch == w->epoch ? conn_at(w, rec->slot, rec->gen) : NULL;
}

static void
handle_record(struct wk *w, const struct ring_rec *rec, const uint8_t *payload)
{
	struct conn *c;

	switch (rec->kind) {
	case RING_PACKET:
		if (rec->epoch == w->epoch)
			route_deliver_local(w, rec->slot, rec->gen, rec->key,
			    payload, rec->payload_len);
		else {
			wk_stat(w, ST_DROP_GONE, 1);
			wk_stat(w, ST_DROP_BYTES_GONE, rec->payload_len);
		}
		break;
	case RING_CLOSE:
		if ((c = target(w, rec)) != NULL)
			conn_close(w, c, "closed by another worker (ClosePeer or "
			    "too many connections for its key)");
		break;
	case RING_DUP:
		if ((c = target(w, rec)) != NULL)
			c->is_dup = 1;
		break;
	case RING_PEER_GONE:
		peergone_fire(w, rec->key);
		mesh_note_gone(w, rec->key);
		break;
	case RING_PEER_PRESENT:
		note_present(w, rec, payload);
		break;
	case RING_FORWARD:
		if (rec->epoch == w->epoch && rec->payload_len >= KEY_LEN &&
		    rec->payload_len - KEY_LEN <= DERP_MAX_PACKET)
			forward_out(w, rec->slot, rec->gen, rec->key, payload,
			    payload + KEY_LEN, rec->payload_len - KEY_LEN);
		else {
			wk_stat(w, ST_DROP_GONE, 1);
			wk_stat(w, ST_DROP_BYTES_GONE, rec->payload_len);
		}
		break;
	case RING_LOCAL_GONE:
		mesh_note_gone(w, rec->key);
		break;
	case RING_REGION_GONE:
		peergone_fire(w, rec->key);
		break;
	case RING_SWEEP:
		peergone_sweep(w);
		break;
	}
}

void
inbox_drain(struct wk *w)
{
	struct ring_rec hdr;
	const uint8_t *payload;
	struct ring_rx *rx;
	uint32_t p, n;
	int rc;

	check_epochs(w);
	check_keyd(w);
	verify_check_master(w);
	w->rings_pending = 0;
	for (p = 0; p < w->nworkers; p++) {
		if (p == w->id)
			continue;
		rx = &w->rings.rx[p];
		for (n = 0; (rc = ring_front(rx, &hdr, &payload)) > 0; n++) {
			if (n == RING_BATCH) {
				w->rings_pending = 1;	/* let other work run first */
				break;
			}
			handle_record(w, &hdr, payload);
			w->turn_bytes += hdr.payload_len;
			ring_pop(rx);
		}
		if (rc < 0) {
			wk_stat(w, ST_RING_RESETS, 1);
			if (!w->rings.reset_logged[p]++)
				log_warnx("discarded a corrupt ring from worker %u "
				    "(logged once per incarnation)", p);
		}
	}
}
