/* SPDX-License-Identifier: BSD-3-Clause */
#include "session.h"

#include <stdlib.h>

#include "conn.h"
#include "derp_in.h"
#include "handshake.h"
#include "http_serve.h"
#include "mesh.h"
#include "meshlink.h"
#include "peergone.h"
#include "presence.h"
#include "pushback.h"
#include "remote.h"
#include "table_client.h"

#define TABLE_BATCH	64	/* answers per wake-up */

void
session_input(struct wk *w, struct conn *c)
{
	if (c->outbound) {	/* our mesh link to a peer relay */
		meshlink_input(w, c);
		return;
	}
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
	if (c->link != NULL)
		meshlink_closed(w, c);
	presence_unregister(w, c);
	pushback_forget(w, c);
	peergone_drop_conn(w, c);
	mesh_drop_watcher(w, c);
	free(c->server_info);
	c->server_info = NULL;
}

static void
registered(struct wk *w, const struct table_resp *resp)
{
	struct conn *c = conn_at(w, resp->slot, resp->gen);

	if (c == NULL || c->state != CS_WAIT_TABLE) {
		presence_orphaned(w, resp);
		return;
	}
	if (presence_registered(w, c, resp) != 0) {
		wk_stat(w, ST_TABLE_FULL, 1);
		wk_stat(w, ST_HANDSHAKE_FAILURES, 1);
		conn_close(w, c, "connection table full (-max-clients)");
		return;
	}
	handshake_logged_in(w, c);
}

static void
answer(struct wk *w, const struct table_resp *resp)
{
	struct conn *c;

	switch (resp->op) {
	case TOP_REGISTER:
		registered(w, resp);
		break;
	case TOP_UNREGISTER:
		presence_unregistered(w, resp);
		break;
	case TOP_CLAIM:
		if ((c = conn_at(w, resp->slot, resp->gen)) != NULL)
			presence_claimed(w, c, resp);
		break;
	case TOP_REMOTE_ADD:
	case TOP_REMOTE_DEL:
	case TOP_REMOTE_CLEAR:
		remote_answered(w, resp);
		break;
	}
}

void
session_table_readable(struct wk *w)
{
	struct table_resp resp;
	int i;

	for (i = 0; i < TABLE_BATCH && table_client_recv(w, &resp); i++)
		answer(w, &resp);
}
