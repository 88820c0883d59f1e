/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Workers' requests to the master, the connection table's only writer:
 * fixed-size messages on one SOCK_SEQPACKET socket per worker. The master
 * side is master/tablesrv.c, the worker side worker/table_client.c. The
 * master takes the worker's number and incarnation from the socket a
 * request came on, never from the request, and checks every field.
 */
#ifndef DERPD_TABLE_PROTO_H
#define DERPD_TABLE_PROTO_H

#include <stdint.h>

#include "key.h"
#include "table.h"

enum table_op {
	TOP_REGISTER = 1,	/* a client logged in on (slot, gen) */
	TOP_UNREGISTER,		/* (slot, gen) closed */
	TOP_CLAIM,		/* (slot, gen) spoke: make it the key's active one */
	TOP_REMOTE_ADD,		/* key is reachable through mesh link (slot, gen) */
	TOP_REMOTE_DEL,		/* ...no longer */
	TOP_REMOTE_CLEAR,	/* mesh link (slot, gen) went down: all its routes */
};

struct table_req {
	uint32_t	op;
	uint32_t	slot;
	uint32_t	gen;
	uint32_t	pad;
	uint8_t		key[KEY_LEN];
	struct peer_info info;		/* TOP_REGISTER */
};

struct table_resp {
	uint32_t	op;		/* echoed, with slot, gen and key */
	uint32_t	slot;
	uint32_t	gen;
	int32_t		result;		/* register: 0, or -1 full; unregister and
					 * remote del: enum table_leave; claim and
					 * remote add: 1, 0, -1; clear: how many */
	uint8_t		key[KEY_LEN];
	struct table_join join;		/* TOP_REGISTER */
};

#endif
