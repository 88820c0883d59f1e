/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Who is here: a logged-in client's entry in the connection table (which
 * the master writes on our request), derper's duplicate-key policy, and the
 * PeerPresent/PeerGone news that arrivals and departures send to mesh
 * watchers and PeerGone listeners on every worker.
 */
#ifndef DERPD_PRESENCE_H
#define DERPD_PRESENCE_H

#include "wk.h"

/* Asks the master to add c's key; c waits in CS_WAIT_TABLE. */
void	presence_register(struct wk *w, struct conn *c);
/* The master's answer for c: 0 registered, -1 refused (the table is full). */
int	presence_registered(struct wk *w, struct conn *c,
	    const struct table_resp *resp);
/* The master registered a connection that has closed since: undo it. */
void	presence_orphaned(struct wk *w, const struct table_resp *resp);
/* c is closing: asks the master to remove it. */
void	presence_unregister(struct wk *w, struct conn *c);
/* The master's answer: the key's last connection left, announce it. */
void	presence_unregistered(struct wk *w, const struct table_resp *resp);
/* A frame from c: a duplicate that speaks asks to take its key's route;
 * 1 while that frame must wait for the master's answer. */
int	presence_note_activity(struct wk *w, struct conn *c);
/* The master's answer to that. */
void	presence_claimed(struct wk *w, struct conn *c,
	    const struct table_resp *resp);

#endif
