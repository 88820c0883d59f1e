/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The chat's known peers: key, shared key, the local alias (/add) and the
 * name the peer announces, when it last answered, and recently seen
 * message ids (a resent message is shown once). Names are local: an
 * announced name is used only while no other peer goes by it.
 */
#ifndef CLIENT_CHAT_PEERS_H
#define CLIENT_CHAT_PEERS_H

#include <stdint.h>

#include "chatmsg.h"
#include "crypto.h"

#define CHAT_PEERS_MAX	64
#define CHAT_SEEN_MAX	32
#define PEER_NAME_MAX	(CHAT_NAME_MAX + 1)

struct peer {
	uint8_t		key[KEY_LEN];
	uint8_t		shared[crypto_box_BEFORENMBYTES];
	char		alias[CHAT_NAME_MAX + 1];	/* ours for them */
	char		announced[CHAT_NAME_MAX + 1];	/* theirs */
	int		greeted;	/* we told them our name */
	int64_t		heard_at;	/* last message from them, 0: never */
	uint32_t	seen[CHAT_SEEN_MAX];
	unsigned	nseen;
};

struct peers {
	struct peer	p[CHAT_PEERS_MAX];
	unsigned	n;
};

struct peer *peers_by_key(struct peers *ps, const uint8_t key[KEY_LEN]);
struct peer *peers_by_name(struct peers *ps, const char *name);
/* Adds key (or finds it); NULL when the table is full or the key unusable. */
struct peer *peers_add(struct peers *ps, const uint8_t key[KEY_LEN],
	    const struct ident *id);
/* The name to show: alias, else a unique announced name, else a key prefix. */
const char *peer_name(const struct peers *ps, const struct peer *p,
	    char buf[PEER_NAME_MAX]);
/* 1 if id came from p before; otherwise remembers it and returns 0. */
int	peer_seen(struct peer *p, uint32_t id);

#endif
