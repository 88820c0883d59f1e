/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Remote routes: what our mesh links learn (PeerPresent, PeerGone) becomes
 * "key -> this link" in the connection table, which the master writes on
 * our request, next to local routes, as derper's Add/RemovePacketForwarder.
 * A link that goes down takes every route it taught at once (derper's
 * RunWatchConnectionLoop, PeerGoneReasonMeshConnBroke); a key that is then
 * nowhere in the region is PeerGone to whoever heard from it, on every
 * worker. Watchers of this relay hear of none of this.
 */
#ifndef DERPD_REMOTE_H
#define DERPD_REMOTE_H

#include "wk.h"

/* Link connection c's peer relay has key, or has it no more. */
void	remote_add(struct wk *w, struct conn *c, const uint8_t key[KEY_LEN]);
void	remote_del(struct wk *w, struct conn *c, const uint8_t key[KEY_LEN]);
/* Link connection c is closing: every route through it goes. */
void	remote_clear(struct wk *w, struct conn *c);
/* The master's answer to one of those. */
void	remote_answered(struct wk *w, const struct table_resp *resp);

#endif
