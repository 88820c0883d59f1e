/* SPDX-License-Identifier: BSD-3-Clause */
#include "keyset.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
home(const struct keyset *s, const uint8_t key[KEY_LEN])
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, key, KEY_LEN, s->hash_key);
	return (uint32_t)h & (s->cap - 1);
}

/* The slot of key, or of the empty slot where it would go. */
static uint32_t
find(const struct keyset *s, const uint8_t key[KEY_LEN])
{
	uint32_t i = home(s, key);

	while (!sodium_is_zero(s->keys[i], KEY_LEN) &&
	    memcmp(s->keys[i], key, KEY_LEN) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int
grow(struct keyset *s)
{
	uint8_t (*old)[KEY_LEN] = s->keys;
	uint32_t oldcap = s->cap, i;

	if (oldcap == 0)
		randombytes_buf(s->hash_key, sizeof(s->hash_key));
	s->cap = oldcap ? oldcap * 2 : 64;
	if ((s->keys = calloc(s->cap, KEY_LEN)) == NULL) {
		s->keys = old;
		s->cap = oldcap;
		return -1;
	}
	for (i = 0; i < oldcap; i++)
		if (!sodium_is_zero(old[i], KEY_LEN))
			memcpy(s->keys[find(s, old[i])], old[i], KEY_LEN);
	free(old);
	return 0;
}

int
keyset_add(struct keyset *s, const uint8_t key[KEY_LEN])
{
	uint32_t i;

	if (sodium_is_zero(key, KEY_LEN))
		return 0;
	if ((s->n + 1) * 2 > s->cap && grow(s) != 0)
		return -1;
	i = find(s, key);
	if (sodium_is_zero(s->keys[i], KEY_LEN)) {
		memcpy(s->keys[i], key, KEY_LEN);
		s->n++;
	}
	return 0;
}

void
keyset_del(struct keyset *s, const uint8_t key[KEY_LEN])
{
	uint32_t i, j, h;

	if (s->cap == 0 || sodium_is_zero(key, KEY_LEN))
		return;
	i = find(s, key);
	if (sodium_is_zero(s->keys[i], KEY_LEN))
		return;
	/* Backward shift: pull later members of the run into the hole. */
	for (j = (i + 1) & (s->cap - 1); !sodium_is_zero(s->keys[j], KEY_LEN);
	    j = (j + 1) & (s->cap - 1)) {
		h = home(s, s->keys[j]);
		if (((j - h) & (s->cap - 1)) >= ((j - i) & (s->cap - 1))) {
			memcpy(s->keys[i], s->keys[j], KEY_LEN);
			i = j;
		}
	}
	memset(s->keys[i], 0, KEY_LEN);
	s->n--;
}

void
keyset_each(struct keyset *s, void (*fn)(const uint8_t *key, void *arg),
    void *arg)
{
	uint8_t key[KEY_LEN];
	uint32_t i = 0;

	/*
	 * fn may delete the key it is given; the backward shift then moves a
	 * later member into this slot, which is visited again. A member shifted
	 * across the wrap-around may be visited twice: callers are idempotent.
	 */
	while (i < s->cap) {
		if (sodium_is_zero(s->keys[i], KEY_LEN)) {
			i++;
			continue;
		}
		memcpy(key, s->keys[i], KEY_LEN);
		fn(key, arg);
		if (memcmp(s->keys[i], key, KEY_LEN) == 0)
			i++;
	}
}

void
keyset_clear(struct keyset *s)
{
	free(s->keys);
	s->keys = NULL;
	s->cap = s->n = 0;
}
