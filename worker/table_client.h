/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker's side of the table protocol (common/table_proto.h). */
#ifndef DERPD_TABLE_CLIENT_H
#define DERPD_TABLE_CLIENT_H

#include "wk.h"

/* Sends one request about connection (slot, gen) and key. */
void	table_client_ask(struct wk *w, enum table_op op, uint32_t slot,
	    uint32_t gen, const uint8_t key[KEY_LEN], const struct peer_info *info);
void	table_client_writable(struct wk *w);
/* Reads one answer: 1, or 0 when none is waiting. Fatal if the master is gone. */
int	table_client_recv(struct wk *w, struct table_resp *resp);

#endif
