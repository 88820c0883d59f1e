/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker's side of the mesh dialer's protocol (common/dial_proto.h). */
#ifndef DERPD_DIAL_CLIENT_H
#define DERPD_DIAL_CLIENT_H

#include "dial_proto.h"
#include "wk.h"

/* Asks for a connection to peer; -1 if the request could not be sent. */
int	dial_client_ask(struct wk *w, uint32_t peer, uint32_t id);
/*
 * Reads one answer: 1 (with *fd the connected socket when resp->err is 0,
 * else -1), 0 when none is waiting. Malformed answers are dropped, and any
 * descriptor with them closed. Fatal if the master is gone.
 */
int	dial_client_recv(struct wk *w, struct dial_resp *resp, int *fd);

#endif
