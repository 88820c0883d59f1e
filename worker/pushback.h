/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pushback when the ring to another worker is full. derper never makes a
 * sender wait, but its queues are in one heap; ours are split at the rings,
 * and a ring full for a moment (its consumer busy with a burst) would drop
 * what derper would have queued. So the SendPacket is held: its client is
 * not read, and the frame is tried again every millisecond, for at most
 * PUSHBACK_MS and only while the consumer's read position keeps moving
 * (none for PUSHBACK_STALL_MS ends it). Then the frame is dropped
 * (ring_full) and the consumer is marked stuck: packets for it are dropped
 * at once, without holding anyone, until its position moves. So a stopped
 * or hostile consumer costs a sender one short wait, and its traffic to
 * the other workers no more than that.
 */
#ifndef DERPD_PUSHBACK_H
#define DERPD_PUSHBACK_H

#include <stdint.h>

#include "wk.h"

#define PUSHBACK_MS		5
#define PUSHBACK_STALL_MS	3

/*
 * c's record for worker to did not fit. Returns 1 when c holds the frame
 * (and is not read until it goes), 0 when it must be dropped. c may be
 * NULL: no one to hold, dropped.
 */
int	pushback_full(struct wk *w, struct conn *c, uint32_t to);
/* c's record (c may be NULL) for worker to went in. */
void	pushback_done(struct wk *w, struct conn *c, uint32_t to);
/* From the event loop: held clients try their frame again this turn. */
void	pushback_run(struct wk *w);
/* The epoll timeout while clients are held: 1 ms, else -1. */
int	pushback_timeout(const struct wk *w);
/* c is closing. */
void	pushback_forget(struct wk *w, struct conn *c);

#endif
