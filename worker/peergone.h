/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper tells a client PeerGone(disconnected) about every peer it received
 * packets from once that peer leaves the server. Each worker keeps, per
 * source key, the local connections that heard from it.
 */
#ifndef DERPD_PEERGONE_H
#define DERPD_PEERGONE_H

#include "wk.h"

/* c was sent a packet from src. */
void	peergone_note_src(struct wk *w, struct conn *c, const uint8_t src[KEY_LEN]);
/* src left the server: tell every local connection that heard from it. */
void	peergone_fire(struct wk *w, const uint8_t src[KEY_LEN]);
/*
 * A worker died, or a mesh link went down: PeerGone for every source that
 * is nowhere in the region now (neither here nor at a peer relay).
 */
void	peergone_sweep(struct wk *w);
/* c is closing: forget what it heard. */
void	peergone_drop_conn(struct wk *w, struct conn *c);

#endif
