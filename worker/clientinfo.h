/* SPDX-License-Identifier: BSD-3-Clause */
/* The JSON a client sends (boxed) in its ClientInfo frame. */
#ifndef DERPD_CLIENTINFO_H
#define DERPD_CLIENTINFO_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

struct client_info {
	int64_t		version;
	int		can_ack_pings;
	int		is_prober;
	int		has_mesh_key;
	uint8_t		mesh_key[KEY_LEN];
};

/*
 * Parses like Go's json.Unmarshal into derp.ClientInfo: keys match
 * case-insensitively, unknown keys and nulls are ignored, a value of the
 * wrong type is an error. Returns 0, or -1 with *why set.
 */
int	clientinfo_parse(const uint8_t *json, size_t len, struct client_info *ci,
	    const char **why);

#endif
