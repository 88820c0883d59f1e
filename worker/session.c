/* SPDX-License-Identifier: BSD-3-Clause */
#include "session.h"

#include "derp_in.h"
#include "handshake.h"
#include "http_serve.h"
#include "mesh.h"
#include "peergone.h"
#include "presence.h"

void
session_input(struct wk *w, struct conn *c)
{
	switch (c->state) {
	case CS_HTTP:
		if (serve_http(w, c) <= 0 || c->fd < 0)
			return;
		if (c->state != CS_CLIENT_INFO || c->in->rd == c->in->wr)
			return;
		/* ClientInfo may arrive along with the request */
		__attribute__((fallthrough));
	case CS_CLIENT_INFO:
		handshake_input(w, c);
		return;
	case CS_RELAY:
		derp_in_process(w, c);
		return;
	default:
		return;
	}
}

void
session_closing(struct wk *w, struct conn *c)
{
	if (c->counted) {
		wk_stat(w, ST_CLIENTS_CURRENT, -1);
		if (c->preferred)
			wk_stat(w, ST_HOME_CLIENTS, -1);
	}
	presence_unregister(w, c);
	peergone_drop_conn(w, c);
	mesh_drop_watcher(w, c);
}
