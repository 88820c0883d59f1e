/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mesh links as /metrics and /debug/ show them, read from every
 * worker's counters (the link's owner publishes its state, connection and
 * the peer's key; packets in are counted wherever the peer's connection
 * landed). Numbers to show, never to act on.
 */
#ifndef DERPD_MESHSTAT_H
#define DERPD_MESHSTAT_H

#include <stddef.h>

#include "wk.h"

/* Peer i's link state (enum link_state), and its name. */
uint32_t meshstat_state(const struct wk *w, int i);
const char *meshstat_state_name(uint32_t state);
/* A uint64_t field of struct shm_mesh_peer at off, summed over the workers. */
uint64_t meshstat_sum(const struct wk *w, int i, size_t off);
/* The peer whose link remote route r names, or -1. */
int	meshstat_peer_of_route(const struct wk *w, const struct route *r);

#endif
