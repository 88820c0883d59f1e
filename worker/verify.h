/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Who may use the relay, the worker's side (common/verifyd_proto.h): a
 * login waits after ClientInfo, before ServerInfo, in CS_WAIT_VERIFY while
 * the verifier decides (counting against -handshake-timeout); a refused
 * client gets no ServerInfo and is closed. Logged-in clients are asked
 * about again at -verify-interval and after every SIGHUP; one now refused
 * is closed, and its peers hear PeerGone as for any departure. Mesh peers
 * (the mesh key) are never asked about, as in derper.
 */
#ifndef DERPD_VERIFY_H
#define DERPD_VERIFY_H

#include "wk.h"

/* ClientInfo checked: asks the verifier, or registers c at once. */
void	verify_login(struct wk *w, struct conn *c);
/* The verifier's answers (the socket is readable). */
void	verify_readable(struct wk *w);
/* The socket has room again: sends the backlog. */
void	verify_writable(struct wk *w);
/* From the tick: the re-checks that are due. */
void	verify_tick(struct wk *w);
/*
 * A new verifier is ready (what its predecessor had read is asked again),
 * or a reload (SIGHUP) made one: every logged-in client is asked about.
 */
void	verify_check_master(struct wk *w);

#endif
