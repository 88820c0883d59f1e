/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Records other workers (and the master) left in this worker's rings:
 * packets for local clients, closes, duplicate notices, arrivals and
 * departures. Every record was checked by ring_front before it gets here.
 */
#ifndef DERPD_INBOX_H
#define DERPD_INBOX_H

#include "wk.h"

/* Handles up to a batch of records per ring; sets w->rings_pending if more wait. */
void	inbox_drain(struct wk *w);

#endif
