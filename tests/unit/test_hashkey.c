/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for SECURITY.md's "hash tables are keyed with SipHash so keys
 * cannot be chosen to collide": where the connection table (common/table.c)
 * and the worker's key sets (worker/keyset.c) put a key is SipHash-2-4
 * (libsodium's crypto_shorthash) of it under a key of their own, drawn at
 * random: with another hash key, the same client keys land elsewhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "shm.h"
#include "table.h"

#define CAP	64
#define NKEYS	40

static uint8_t keys[NKEYS][KEY_LEN];

static int
group_setup(void **state)
{
	int i;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	for (i = 0; i < NKEYS; i++)
		randombytes_buf(keys[i], KEY_LEN);
	return 0;
}

static uint64_t
siphash(const uint8_t key[KEY_LEN], const uint8_t hk[16])
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, key, KEY_LEN, hk);
	return h;
}

/* A table with hash key hk holding every key; *mem to free. */
static void
table_with(struct table *t, void **mem, const uint8_t hk[16])
{
	struct table_join j;
	struct route r = { 0, 1, 0, 1 };
	int i;

	*mem = calloc(1, table_size(CAP, 0));
	assert_non_null(*mem);
	table_attach(t, *mem, CAP, 0, 1, hk);
	assert_int_equal(table_init(t), 0);
	for (i = 0; i < NKEYS; i++) {
		r.slot = (uint32_t)i;
		assert_int_equal(table_register(t, keys[i], &r, NULL, &j), 0);
	}
}

/* The index position of key k (a live entry holding it), or -1. */
static int64_t
position(const struct table *t, const uint8_t k[KEY_LEN])
{
	const uint64_t *index = t->index[t->sh->which & 1];
	uint32_t i;
	uint64_t v;

	for (i = 0; i < t->icap; i++) {
		v = index[i];
		if (v > 1 && memcmp(t->entries[(uint32_t)v - 2].key, k, KEY_LEN) == 0)
			return i;
	}
	return -1;
}

static void
test_table_places_keys_by_keyed_siphash(void **state)
{
	uint8_t hk1[16], hk2[16];
	struct table t1, t2;
	void *m1, *m2;
	const uint64_t *index;
	int64_t p1, p2;
	int i, moved = 0;

	(void)state;
	randombytes_buf(hk1, sizeof(hk1));
	randombytes_buf(hk2, sizeof(hk2));
	table_with(&t1, &m1, hk1);
	table_with(&t2, &m2, hk2);
	for (i = 0; i < NKEYS; i++) {
		p1 = position(&t1, keys[i]);
		p2 = position(&t2, keys[i]);
		assert_true(p1 >= 0 && p2 >= 0);
		/* Its tag is SipHash's high half; its probe starts at the low bits. */
		index = t1.index[t1.sh->which & 1];
		assert_true(index[p1] >> 32 == siphash(keys[i], hk1) >> 32);
		assert_true(((uint64_t)p1 - (siphash(keys[i], hk1) & (t1.icap - 1))) %
		    t1.icap < NKEYS);
		moved += p1 != p2;
	}
	/* With 128 slots, a keyless hash would put (nearly) every key alike. */
	assert_true(moved > NKEYS / 2);
	free(t1.free_list);
	free(t2.free_list);
	free(m1);
	free(m2);
}

static void
test_every_start_draws_a_new_table_key(void **state)
{
	struct shm a, b;

	(void)state;
	shm_create(&a, 1, 16, 0, RING_MIN_SIZE);
	shm_create(&b, 1, 16, 0, RING_MIN_SIZE);
	assert_false(sodium_is_zero(a.table_hash_key, 16));
	assert_memory_not_equal(a.table_hash_key, b.table_hash_key, 16);
	free(a.table.free_list);	/* the master's own list (table_init) */
	free(b.table.free_list);
}

static void
test_keyset_places_keys_by_keyed_siphash(void **state)
{
	struct keyset s1, s2;
	int i, k, moved = 0;

	(void)state;
	memset(&s1, 0, sizeof(s1));
	memset(&s2, 0, sizeof(s2));
	for (i = 0; i < 8; i++) {
		assert_int_equal(keyset_add(&s1, keys[i]), 0);
		assert_int_equal(keyset_add(&s2, keys[i]), 0);
	}
	/* Each set drew its own hash key at its first key. */
	assert_false(sodium_is_zero(s1.hash_key, 16));
	assert_memory_not_equal(s1.hash_key, s2.hash_key, 16);
	for (i = 0; i < 8; i++) {
		uint32_t home1 = (uint32_t)siphash(keys[i], s1.hash_key) & (s1.cap - 1);
		uint32_t home2 = (uint32_t)siphash(keys[i], s2.hash_key) & (s2.cap - 1);

		/* Found at its home slot, or just past it (a collision). */
		for (k = 0; k < 8; k++)
			if (memcmp(s1.keys[(home1 + k) & (s1.cap - 1)], keys[i],
			    KEY_LEN) == 0)
				break;
		assert_true(k < 8);
		moved += home1 != home2;
	}
	assert_true(moved > 4);
	keyset_clear(&s1);
	keyset_clear(&s2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_places_keys_by_keyed_siphash),
		cmocka_unit_test(test_every_start_draws_a_new_table_key),
		cmocka_unit_test(test_keyset_places_keys_by_keyed_siphash),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
