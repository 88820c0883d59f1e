/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker's side of the key process protocol (common/keyd_proto.h). */
#ifndef DERPD_KEYD_CLIENT_H
#define DERPD_KEYD_CLIENT_H

#include "wk.h"

/* Asks for the shared key of a client's public key for connection (slot, gen). */
void	keyd_client_ask(struct wk *w, uint32_t slot, uint32_t gen,
	    const uint8_t client_pub[KEY_LEN]);
/* Sends any request (a signature: worker/tlskey.c). */
void	keyd_client_send(struct wk *w, const struct keyd_req *req);
/* The socket has room again: sends the backlog. */
void	keyd_client_writable(struct wk *w);
/* Reads one answer: 1, or 0 when none is waiting. Fatal if the key process is gone. */
int	keyd_client_recv(struct wk *w, struct keyd_resp *resp);

#endif
