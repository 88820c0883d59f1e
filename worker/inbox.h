/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Records other workers left in this worker's rings: packets for local
 * clients, closes, duplicate notices, arrivals and departures. Every record
 * was checked by ring_front before it gets here, and one meant for another
 * incarnation of this worker is dropped. Also notices when a worker starts
 * or dies (the master's epochs) and works out what that means here.
 */
#ifndef DERPD_INBOX_H
#define DERPD_INBOX_H

#include "wk.h"

/* This worker's ends of every ring, at start. */
void	inbox_start(struct wk *w);
/* Handles up to a batch of records per ring; sets w->rings_pending if more wait. */
void	inbox_drain(struct wk *w);

#endif
