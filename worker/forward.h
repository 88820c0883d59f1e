/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A packet for a key that is connected to a peer relay goes out on this
 * worker's mesh link to that relay as a ForwardPacket frame (source key,
 * destination key, packet), as derper's PacketForwarder does. The link's
 * queue is bounded in bytes, at four times -queue-kib since it carries
 * many clients' packets; drops are counted (mesh_queue_full).
 */
#ifndef DERPD_FORWARD_H
#define DERPD_FORWARD_H

#include "wk.h"

/* Queues pkt from src to dst on mesh link connection (slot, gen). */
void	forward_out(struct wk *w, uint32_t slot, uint32_t gen,
	    const uint8_t src[KEY_LEN], const uint8_t dst[KEY_LEN],
	    const uint8_t *pkt, uint32_t len);

#endif
