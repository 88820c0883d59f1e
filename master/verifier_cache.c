/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verifier's answers by (key, address): a fixed array reused oldest
 * first, so its size never grows, chained from buckets by keyed SipHash (a
 * client cannot choose keys that collide). An entry lives until it expires
 * or its place is needed.
 */
#include "verifier.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static uint32_t
bucket(const struct verifier_cache *c, const uint8_t key[KEY_LEN],
    const uint8_t ip[16])
{
	uint8_t in[KEY_LEN + 16], h[crypto_shorthash_BYTES];
	uint32_t b;

	memcpy(in, key, KEY_LEN);
	memcpy(in + KEY_LEN, ip, 16);
	crypto_shorthash(h, in, sizeof(in), c->hash_key);
	memcpy(&b, h, sizeof(b));
	return b & (c->nbuckets - 1);
}

void
vcache_init(struct verifier_cache *c, uint32_t cap)
{
	memset(c, 0, sizeof(*c));
	c->cap = cap;
	for (c->nbuckets = 1; c->nbuckets < 2 * cap; c->nbuckets *= 2)
		;
	c->e = calloc(cap, sizeof(*c->e));
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (c->e == NULL || c->buckets == NULL)
		fatalx("out of memory for the verifier's cache");
	randombytes_buf(c->hash_key, sizeof(c->hash_key));
}

static struct vcache_entry *
find(struct verifier_cache *c, const uint8_t key[KEY_LEN], const uint8_t ip[16])
{
	uint32_t i;

	for (i = c->buckets[bucket(c, key, ip)]; i != 0; i = c->e[i - 1].next)
		if (memcmp(c->e[i - 1].key, key, KEY_LEN) == 0 &&
		    memcmp(c->e[i - 1].ip, ip, 16) == 0)
			return &c->e[i - 1];
	return NULL;
}

int
vcache_get(struct verifier_cache *c, const uint8_t key[KEY_LEN],
    const uint8_t ip[16], int64_t now_ms, uint32_t *reason)
{
	struct vcache_entry *e = find(c, key, ip);

	if (e == NULL || e->expires_ms <= now_ms)
		return 0;
	*reason = e->reason;
	return 1;
}

/* Takes entry i out of its bucket's chain. */
static void
unlink_entry(struct verifier_cache *c, uint32_t i)
{
	struct vcache_entry *e = &c->e[i];
	uint32_t *p = &c->buckets[bucket(c, e->key, e->ip)];

	while (*p != 0 && *p != i + 1)
		p = &c->e[*p - 1].next;
	if (*p == i + 1)
		*p = e->next;
	e->used = 0;
}

void
vcache_put(struct verifier_cache *c, const uint8_t key[KEY_LEN],
    const uint8_t ip[16], uint32_t reason, int64_t expires_ms)
{
	struct vcache_entry *e = find(c, key, ip);
	uint32_t i, b;

	if (e == NULL) {
		i = c->next;
		c->next = (c->next + 1) % c->cap;
		if (c->e[i].used)
			unlink_entry(c, i);
		e = &c->e[i];
		memcpy(e->key, key, KEY_LEN);
		memcpy(e->ip, ip, 16);
		b = bucket(c, key, ip);
		e->next = c->buckets[b];
		c->buckets[b] = i + 1;
		e->used = 1;
	}
	e->reason = reason;
	e->expires_ms = expires_ms;
}
