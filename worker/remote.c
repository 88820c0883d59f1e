/* SPDX-License-Identifier: BSD-3-Clause */
#include "remote.h"

#include "peergone.h"
#include "route.h"
#include "table_client.h"

void
remote_add(struct wk *w, struct conn *c, const uint8_t key[KEY_LEN])
{
	c->link->learned = 1;
	table_client_ask(w, TOP_REMOTE_ADD, c->slot, c->gen, key, NULL);
}

void
remote_del(struct wk *w, struct conn *c, const uint8_t key[KEY_LEN])
{
	table_client_ask(w, TOP_REMOTE_DEL, c->slot, c->gen, key, NULL);
}

void
remote_clear(struct wk *w, struct conn *c)
{
	static const uint8_t none[KEY_LEN];

	if (c->link->learned)
		table_client_ask(w, TOP_REMOTE_CLEAR, c->slot, c->gen, none, NULL);
	c->link->learned = 0;
}

/* Tells every worker, this one first. */
static void
broadcast(struct wk *w, uint16_t kind, const uint8_t key[KEY_LEN])
{
	uint32_t i;

	if (kind == RING_SWEEP)
		peergone_sweep(w);
	else
		peergone_fire(w, key);
	for (i = 0; i < w->nworkers; i++)
		if (i != w->id)
			route_push(w, i, kind, 0, 0, 0, key, NULL, 0);
}

void
remote_answered(struct wk *w, const struct table_resp *resp)
{
	switch (resp->op) {
	case TOP_REMOTE_ADD:
		if (resp->result < 0)
			wk_stat(w, ST_REMOTE_ROUTES_REFUSED, 1);
		break;
	case TOP_REMOTE_DEL:
		if (resp->result == TABLE_GONE)
			broadcast(w, RING_REGION_GONE, resp->key);
		break;
	case TOP_REMOTE_CLEAR:
		if (resp->result > 0)
			broadcast(w, RING_SWEEP, resp->key);
		break;
	}
}
