/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Clients that present the mesh key (other DERP servers of a region, and
 * monitoring) may watch every connection on the server (WatchConns), close
 * a peer (ClosePeer) and inject packets on behalf of another key
 * (ForwardPacket). A watcher first gets PeerPresent for everyone connected,
 * then live PeerPresent/PeerGone from all workers.
 */
#ifndef DERPD_MESH_H
#define DERPD_MESH_H

#include "table.h"
#include "wk.h"

/* Whether ClientInfo carried this server's mesh key (a zero key never matches). */
int	mesh_key_matches(const struct wk *w, const struct client_info *ci);
/* What a watcher learns about c (derper's PeerPresent). */
void	mesh_peer_info(const struct conn *c, struct peer_info *pi);
/* Whether any worker has a watcher (else presence is not broadcast). */
int	mesh_watchers_exist(const struct wk *w);
/* Tells this worker's watchers that key arrived, or left. */
void	mesh_note_present(struct wk *w, const uint8_t *key,
	    const struct peer_info *pi);
void	mesh_note_gone(struct wk *w, const uint8_t *key);
/* A worker died: tells watchers PeerGone for every key announced to them
 * that is connected no more. */
void	mesh_sweep(struct wk *w);
/* c is closing: it watches no more. */
void	mesh_drop_watcher(struct wk *w, struct conn *c);
/*
 * WatchConns, ClosePeer, ForwardPacket from c; -1 (c closed) without the
 * mesh key. A forwarded packet goes to a local client only.
 */
int	mesh_frame(struct wk *w, struct conn *c, uint8_t type,
	    const uint8_t *payload, uint32_t len);

#endif
