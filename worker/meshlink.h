/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * This relay's links to the other relays of its region (-mesh-with), as
 * derper's mesh client (cmd/derper/mesh.go, derphttp.Client's
 * RunWatchConnectionLoop). Each peer's link belongs to one worker
 * (dial_owner). The mesh dialer makes the TCP connection; the worker runs
 * TLS, verified against the -mesh-ca-file or the system's roots, sends
 * GET /derp with Upgrade: DERP, and logs in with this relay's own DERP key
 * (the key process computes the login's box key, as for a client's login)
 * and the mesh key, then sends WatchConns. PeerPresent and PeerGone become
 * remote routes (worker/remote.c). A peer whose ServerKey is our own key
 * is this relay, and is left alone: one -mesh-with list serves every node.
 * A link that fails is retried after a jittered back-off, doubling up to
 * derper's 5 s; one that is up is pinged every -keepalive, and closed when
 * nothing has come from the peer for two of them.
 */
#ifndef DERPD_MESHLINK_H
#define DERPD_MESHLINK_H

#include "wk.h"

/* At start: this worker's links, the first attempts due now. */
void	meshlink_start(struct wk *w);
/* From the tick: attempts that are due, answers that did not come, idle links. */
void	meshlink_tick(struct wk *w);
/* The mesh dialer answered. */
void	meshlink_dial_readable(struct wk *w);
/* An outbound connection's TLS is up: the upgrade request goes out. */
void	meshlink_established(struct wk *w, struct conn *c);
/* Bytes from the peer relay on link connection c. */
void	meshlink_input(struct wk *w, struct conn *c);
/* The key process's answer for c's login. */
void	meshlink_keyd(struct wk *w, struct conn *c, const struct keyd_resp *resp);
/* c is closing: its routes go, the link tries again later. */
void	meshlink_closed(struct wk *w, struct conn *c);

#endif
