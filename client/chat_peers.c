/* SPDX-License-Identifier: BSD-3-Clause */
#include "chat_peers.h"

#include <stdio.h>
#include <string.h>

struct peer *
peers_by_key(struct peers *ps, const uint8_t key[KEY_LEN])
{
	unsigned i;

	for (i = 0; i < ps->n; i++)
		if (memcmp(ps->p[i].key, key, KEY_LEN) == 0)
			return &ps->p[i];
	return NULL;
}

struct peer *
peers_by_name(struct peers *ps, const char *name)
{
	char buf[PEER_NAME_MAX];
	unsigned i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(peer_name(ps, &ps->p[i], buf), name) == 0)
			return &ps->p[i];
	return NULL;
}

struct peer *
peers_add(struct peers *ps, const uint8_t key[KEY_LEN], const struct ident *id)
{
	struct peer *p = peers_by_key(ps, key);

	if (p != NULL)
		return p;
	if (ps->n == CHAT_PEERS_MAX || memcmp(key, id->pub, KEY_LEN) == 0)
		return NULL;
	p = &ps->p[ps->n];
	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, KEY_LEN);
	if (e2e_shared(p->shared, key, id) != 0)
		return NULL;
	ps->n++;
	return p;
}

/* 1 if a peer other than p has this alias or announced name. */
static int
name_taken(const struct peers *ps, const struct peer *p, const char *name)
{
	unsigned i;

	for (i = 0; i < ps->n; i++)
		if (&ps->p[i] != p && (strcmp(ps->p[i].alias, name) == 0 ||
		    strcmp(ps->p[i].announced, name) == 0))
			return 1;
	return strcmp(name, "ALL") == 0;
}

const char *
peer_name(const struct peers *ps, const struct peer *p, char buf[PEER_NAME_MAX])
{
	char hex[KEY_HEX_LEN + 1];

	if (p->alias[0] != '\0')
		return p->alias;
	if (p->announced[0] != '\0' && !name_taken(ps, p, p->announced))
		return p->announced;
	key_format_hex(hex, p->key);
	snprintf(buf, PEER_NAME_MAX, "%.8s", hex);
	return buf;
}

int
peer_seen(struct peer *p, uint32_t id)
{
	unsigned i;

	for (i = 0; i < p->nseen && i < CHAT_SEEN_MAX; i++)
		if (p->seen[i] == id)
			return 1;
	p->seen[p->nseen++ % CHAT_SEEN_MAX] = id;
	return 0;
}
