/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where a packet goes: to a connection on this worker, or into the ring of
 * the worker that serves its destination (which the shared table names);
 * for a key connected to a peer relay, out on the mesh link to it.
 */
#ifndef DERPD_ROUTE_H
#define DERPD_ROUTE_H

#include "wk.h"

/*
 * Sends pkt from src to dst, wherever dst is connected: here, or at a peer
 * relay (forwarded on our mesh link to it); c sent it. Returns 1 when c
 * must hold the frame and hand it again later (pushback.h), else 0.
 */
int	route_packet(struct wk *w, struct conn *c, const uint8_t src[KEY_LEN],
	    const uint8_t dst[KEY_LEN], const uint8_t *pkt, uint32_t len);
/* The same for a packet peer relay c forwarded: to a local client only. */
void	route_forwarded(struct wk *w, struct conn *c, const uint8_t src[KEY_LEN],
	    const uint8_t dst[KEY_LEN], const uint8_t *pkt, uint32_t len);
/* Queues a packet to local connection (slot, gen), counting a drop if gone. */
void	route_deliver_local(struct wk *w, uint32_t slot, uint32_t gen,
	    const uint8_t src[KEY_LEN], const uint8_t *pkt, uint32_t len);
/*
 * Copies a record into worker to's ring; the wake-up goes out at turn end.
 * (slot, gen) belong to to's incarnation epoch.
 */
void	route_push(struct wk *w, uint32_t to, uint16_t kind, uint32_t slot,
	    uint32_t gen, uint32_t epoch, const uint8_t key[KEY_LEN],
	    const uint8_t *payload, uint32_t len);
/* Wakes the workers whose rings got records this turn. */
void	route_wake_peers(struct wk *w);

#endif
