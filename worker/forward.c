/* SPDX-License-Identifier: BSD-3-Clause */
#include "forward.h"

#include <string.h>

#include "conn.h"

#define FWD_HDR_LEN	(DERP_FRAME_HDR_LEN + 2 * KEY_LEN)
/* A link carries many clients' packets: four clients' worth of queue. */
#define LINK_QUEUES	4

static void
count(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n,
	    __ATOMIC_RELAXED);
}

void
forward_out(struct wk *w, uint32_t slot, uint32_t gen, const uint8_t src[KEY_LEN],
    const uint8_t dst[KEY_LEN], const uint8_t *pkt, uint32_t len)
{
	struct conn *c = conn_at(w, slot, gen);
	struct shm_mesh_peer *mp;
	uint8_t hdr[FWD_HDR_LEN];

	/* A route names the link's connection: gone, or not (yet) logged in. */
	if (c == NULL || c->link == NULL || c->state != CS_RELAY) {
		wk_stat(w, ST_DROP_GONE, 1);
		wk_stat(w, ST_DROP_BYTES_GONE, len);
		return;
	}
	if (c->out_bytes + FWD_HDR_LEN + len >
	    (uint64_t)w->cfg->queue_kib * 1024 * LINK_QUEUES) {
		wk_stat(w, ST_DROP_MESH_QUEUE, 1);
		wk_stat(w, ST_DROP_BYTES_MESH_QUEUE, len);
		return;
	}
	frame_put_header(hdr, FRAME_FORWARD_PACKET, 2 * KEY_LEN + len);
	memcpy(hdr + DERP_FRAME_HDR_LEN, src, KEY_LEN);
	memcpy(hdr + DERP_FRAME_HDR_LEN + KEY_LEN, dst, KEY_LEN);
	if (conn_append(w, c, hdr, sizeof(hdr), pkt, len) != 0) {
		conn_close(w, c, "out of memory");
		return;
	}
	mp = &w->shm->counters[w->id]->mesh[c->link->peer];
	count(&mp->pkts_out, 1);
	count(&mp->bytes_out, len);
}
