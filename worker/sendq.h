/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a client is sent, as derper queues it: RecvPacket frames wait in
 * two packet queues of PKTQ_DEPTH (pktq.h), one for disco packets (NAT
 * traversal) and one for the rest, so bulk data cannot starve disco. They
 * move onto the connection's stream (outq.h) only while it holds less than
 * SENDQ_STREAM_LOW bytes, so the frames that are dropped when a queue is
 * full (its oldest) are whole and not yet started; a frame on the stream
 * is sent. Every queued byte is charged to the worker's -queue-budget-mib;
 * past it a client's own oldest packets give way to its new one, so no
 * client loses its newest packets to another's backlog.
 */
#ifndef DERPD_SENDQ_H
#define DERPD_SENDQ_H

#include <stdint.h>

#include "wk.h"

#define SENDQ_STREAM_LOW	(64 * 1024)

/*
 * Queues RecvPacket(src, pkt) for c, or drops and counts it. -1 when out
 * of memory, leaving c open for its caller to close.
 */
int	sendq_packet(struct wk *w, struct conn *c, const uint8_t src[KEY_LEN],
	    const uint8_t *pkt, uint32_t len);
/*
 * Moves queued frames onto c's stream while it is short, disco first.
 * -1 when out of memory (part of a frame may be on the stream: close c).
 */
int	sendq_refill(struct wk *w, struct conn *c);
/* Frees what c has queued. */
void	sendq_free(struct wk *w, struct conn *c);

#endif
