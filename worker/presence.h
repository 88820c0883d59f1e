/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Who is here: a logged-in client's entry in the shared connection table,
 * derper's duplicate-key policy, and the PeerPresent/PeerGone news that
 * arrivals and departures send to mesh watchers and PeerGone listeners on
 * every worker.
 */
#ifndef DERPD_PRESENCE_H
#define DERPD_PRESENCE_H

#include "wk.h"

/* Adds c's key to the table; -1 if the table is full. */
int	presence_register(struct wk *w, struct conn *c);
/* Removes c; the key's last connection leaving is announced as gone. */
void	presence_unregister(struct wk *w, struct conn *c);
/* A frame from c: a duplicate that speaks takes its key's route. */
void	presence_note_activity(struct wk *w, struct conn *c);

#endif
