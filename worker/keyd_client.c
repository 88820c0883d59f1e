/* SPDX-License-Identifier: BSD-3-Clause */
#include "keyd_client.h"

#include <string.h>

#include "reqq.h"

void
keyd_client_ask(struct wk *w, uint32_t slot, uint32_t gen,
    const uint8_t client_pub[KEY_LEN])
{
	struct keyd_req req;

	memset(&req, 0, sizeof(req));
	req.op = KEYD_SHARED;
	req.slot = slot;
	req.gen = gen;
	memcpy(req.client_pub, client_pub, KEY_LEN);
	keyd_client_send(w, &req);
}

void
keyd_client_send(struct wk *w, const struct keyd_req *req)
{
	reqq_send(w, &w->keyd, w->keyd_fd, TAG_KEYD, req);
}

void
keyd_client_writable(struct wk *w)
{
	reqq_writable(w, &w->keyd, w->keyd_fd, TAG_KEYD);
}

int
keyd_client_recv(struct wk *w, struct keyd_resp *resp)
{
	return reqq_recv(w->keyd_fd, resp, sizeof(*resp), "the key process");
}
