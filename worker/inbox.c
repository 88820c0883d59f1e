/* SPDX-License-Identifier: BSD-3-Clause */
#include "inbox.h"

#include <string.h>

#include "conn.h"
#include "log.h"
#include "mesh.h"
#include "peergone.h"
#include "route.h"

#define RING_BATCH	1024	/* records per ring per turn */

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

static void
handle_record(struct wk *w, const struct ring_rec *rec, const uint8_t *payload)
{
	struct conn *c;

	switch (rec->kind) {
	case RING_PACKET:
		route_deliver_local(w, rec->slot, rec->gen, rec->key, payload,
		    rec->payload_len);
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
		peergone_fire(w, rec->key);
		mesh_note_gone(w, rec->key);
		break;
	case RING_PEER_PRESENT:
		note_present(w, rec, payload);
		break;
	}
}

void
inbox_drain(struct wk *w)
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
			wk_stat(w, ST_RING_RESETS, 1);
			log_warnx("discarded a corrupt ring from %s %u",
			    p == w->nworkers ? "master" : "worker", p);
		}
	}
}
