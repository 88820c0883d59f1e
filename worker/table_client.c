/* SPDX-License-Identifier: BSD-3-Clause */
#include "table_client.h"

#include <string.h>

#include "reqq.h"

void
table_client_ask(struct wk *w, enum table_op op, uint32_t slot, uint32_t gen,
    const uint8_t key[KEY_LEN], const struct peer_info *info)
{
	struct table_req req;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.slot = slot;
	req.gen = gen;
	memcpy(req.key, key, KEY_LEN);
	if (info != NULL)
		req.info = *info;
	reqq_send(w, &w->table, w->table_fd, TAG_TABLE, &req);
}

void
table_client_writable(struct wk *w)
{
	reqq_writable(w, &w->table, w->table_fd, TAG_TABLE);
}

int
table_client_recv(struct wk *w, struct table_resp *resp)
{
	return reqq_recv(w->table_fd, resp, sizeof(*resp), "the master");
}
