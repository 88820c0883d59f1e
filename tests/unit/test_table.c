/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for common/table.c: the connection table. The writer (the
 * master) uses one handle; readers (workers) attach their own handle to the
 * same memory, as each process does with its mapping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "table.h"

#define NWORKERS	4
#define CAP		64
#define RCAP		8

static const uint8_t hash_key[16] = "derpd-test-hashk";

struct fixture {
	struct table	t;	/* the writer's handle */
	struct table	rd;	/* a reader's handle on the same memory */
	void		*mem;
	size_t		size;
	int		mapped;
};

static int
group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static struct fixture *
fixture_new(uint32_t cap, uint32_t rcap, int shared)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->size = table_size(cap, rcap);
	if (shared) {
		f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(f->mem != MAP_FAILED);
		f->mapped = 1;
	} else {
		/* Exactly table_size(): ASan sees any access past it. */
		f->mem = malloc(f->size);
		assert_non_null(f->mem);
		memset(f->mem, 0x5c, f->size);	/* table_init must zero it */
	}
	table_attach(&f->t, f->mem, cap, rcap, NWORKERS, hash_key);
	assert_int_equal(table_init(&f->t), 0);
	table_attach(&f->rd, f->mem, cap, rcap, NWORKERS, hash_key);
	return f;
}

static void
fixture_free(struct fixture *f)
{
	free(f->t.free_list);
	if (f->mapped)
		munmap(f->mem, f->size);
	else
		free(f->mem);
	free(f);
}

static int
small_setup(void **state)
{
	*state = fixture_new(CAP, 0, 0);
	return 0;
}

/* As with -mesh-with: room for RCAP keys reachable only through peers. */
static int
mesh_setup(void **state)
{
	*state = fixture_new(CAP, RCAP, 0);
	return 0;
}

static int
teardown(void **state)
{
	fixture_free(*state);
	return 0;
}

static void
make_key(uint8_t key[KEY_LEN], uint32_t n)
{
	memset(key, 0, KEY_LEN);
	memcpy(key, &n, sizeof(n));
	key[31] = 0xa5;
}

static struct route
rt(uint32_t worker, uint32_t slot, uint32_t gen)
{
	struct route r = { .worker = worker, .epoch = 1, .slot = slot,
	    .gen = gen };

	return r;
}

static struct route
rte(uint32_t worker, uint32_t epoch, uint32_t slot, uint32_t gen)
{
	struct route r = { .worker = worker, .epoch = epoch, .slot = slot,
	    .gen = gen };

	return r;
}

static int
same_route(const struct route *a, const struct route *b)
{
	return a->worker == b->worker && a->epoch == b->epoch &&
	    a->slot == b->slot && a->gen == b->gen;
}

static void
assert_route(const struct route *got, const struct route *want)
{
	assert_int_equal(got->worker, want->worker);
	assert_int_equal(got->epoch, want->epoch);
	assert_int_equal(got->slot, want->slot);
	assert_int_equal(got->gen, want->gen);
}

static int
reg(struct table *t, uint32_t n, struct route r, struct table_join *j)
{
	uint8_t key[KEY_LEN];
	struct table_join tmp;

	make_key(key, n);
	return table_register(t, key, &r, NULL, j ? j : &tmp);
}

static int
look(const struct table *t, uint32_t n, struct route *out)
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_lookup(t, key, out);
}

static int
routes(const struct table *t, uint32_t n, struct route out[TABLE_MAX_DUPS])
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_routes(t, key, out);
}

static enum table_leave
unreg(struct table *t, uint32_t n, struct route r)
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_unregister(t, key, &r);
}

static int
claim(struct table *t, uint32_t n, struct route r)
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_claim(t, key, &r);
}

static void
assert_counts(const struct table *t, uint32_t dkeys, uint32_t dconns,
    uint32_t conns)
{
	uint32_t k, c, a;

	table_counts(t, &k, &c, &a);
	assert_int_equal(k, dkeys);
	assert_int_equal(c, dconns);
	assert_int_equal(a, conns);
}

/* ---- basics ---- */

static void
test_register_then_lookup(void **state)
{
	struct fixture *f = *state;
	struct table_join j;
	struct route got, all[TABLE_MAX_DUPS], want = rte(2, 5, 17, 99);

	assert_int_equal(look(&f->rd, 1, &got), 0);
	assert_counts(&f->rd, 0, 0, 0);
	assert_int_equal(reg(&f->t, 1, want, &j), 0);
	assert_int_equal(j.nothers, 0);
	assert_int_equal(j.evicted, 0);
	assert_int_equal(look(&f->rd, 1, &got), 1);
	assert_route(&got, &want);
	assert_int_equal(routes(&f->rd, 1, all), 1);
	assert_route(&all[0], &want);
	assert_int_equal(look(&f->rd, 2, &got), 0);
	assert_counts(&f->rd, 0, 0, 1);
}

/* Keys never registered are not found, whatever is in the table. */
static void
test_lookup_of_unknown_keys_is_absent(void **state)
{
	struct fixture *f = *state;
	uint8_t key[KEY_LEN];
	struct route got, all[TABLE_MAX_DUPS];
	uint32_t n;

	for (n = 0; n < CAP; n += 2)
		assert_int_equal(reg(&f->t, n, rt(n % NWORKERS, n, 1), NULL), 0);
	for (n = 1; n < 4 * CAP; n += 2) {
		assert_int_equal(look(&f->rd, n, &got), 0);
		assert_int_equal(routes(&f->rd, n, all), 0);
	}
	memset(key, 0, sizeof(key));
	assert_int_equal(table_lookup(&f->rd, key, &got), 0);
	/* One bit away from a registered key. */
	make_key(key, 2);
	key[17] ^= 0x10;
	assert_int_equal(table_lookup(&f->rd, key, &got), 0);
	assert_int_equal(table_routes(&f->rd, key, all), 0);
	make_key(key, 2);
	assert_int_equal(table_lookup(&f->rd, key, &got), 1);
}

/*
 * An entry or index left mid-write (a master stopped inside a write, or
 * scribbled bytes) gives -1, "no clean read", never 0: a worker must not
 * tell a client that a peer is gone on the strength of a torn read.
 */
static void
test_torn_read_is_unknown_not_absent(void **state)
{
	struct fixture *f = *state;
	struct route got, want = rt(1, 3, 4);
	uint8_t key[KEY_LEN];
	uint32_t e;

	assert_int_equal(reg(&f->t, 9, want, NULL), 0);
	make_key(key, 9);
	for (e = 0; e < f->t.ecap; e++)
		if (f->t.entries[e].live &&
		    memcmp(f->t.entries[e].key, key, KEY_LEN) == 0)
			break;
	assert_true(e < f->t.ecap);
	f->t.entries[e].seq++;			/* odd: being written */
	assert_int_equal(look(&f->rd, 9, &got), -1);
	f->t.entries[e].seq++;
	assert_int_equal(look(&f->rd, 9, &got), 1);
	assert_route(&got, &want);

	f->t.sh->ihdr[f->t.sh->which & 1].seq++;	/* index mid-rebuild */
	assert_int_equal(look(&f->rd, 9, &got), -1);
	assert_int_equal(look(&f->rd, 10, &got), -1);
	f->t.sh->ihdr[f->t.sh->which & 1].seq++;
	assert_int_equal(look(&f->rd, 10, &got), 0);
}

/* A second handle attached to the same memory reads what the writer wrote. */
static void
test_reader_handle_sees_writer(void **state)
{
	struct fixture *f = *state;
	struct table rd2;
	struct route got, r1 = rte(3, 9, 4, 5), r2 = rte(1, 9, 6, 7);
	uint8_t key[KEY_LEN];

	table_attach(&rd2, f->mem, CAP, 0, NWORKERS, hash_key);
	assert_null(rd2.free_list);
	assert_int_equal(reg(&f->t, 77, r1, NULL), 0);
	assert_int_equal(look(&rd2, 77, &got), 1);
	assert_route(&got, &r1);
	assert_int_equal(reg(&f->t, 77, r2, NULL), 0);
	assert_int_equal(look(&rd2, 77, &got), 1);
	assert_route(&got, &r2);
	assert_counts(&rd2, 1, 2, 2);
	make_key(key, 77);
	assert_int_equal(table_claim(&f->t, key, &r1), 1);
	assert_int_equal(look(&rd2, 77, &got), 1);
	assert_route(&got, &r1);
	assert_int_equal(unreg(&f->t, 77, r1), TABLE_STAYS);
	assert_int_equal(unreg(&f->t, 77, r2), TABLE_GONE);
	assert_int_equal(look(&rd2, 77, &got), 0);
	assert_counts(&rd2, 0, 0, 0);
}

static void
test_register_again_makes_new_route_active(void **state)
{
	struct fixture *f = *state;
	struct table_join j;
	struct route got, r1 = rt(0, 1, 1), r2 = rt(3, 2, 7);

	assert_int_equal(reg(&f->t, 5, r1, NULL), 0);
	assert_int_equal(reg(&f->t, 5, r2, &j), 0);
	/* The join reports the connection that was there. */
	assert_int_equal(j.nothers, 1);
	assert_route(&j.others[0], &r1);
	assert_int_equal(j.evicted, 0);
	assert_int_equal(look(&f->rd, 5, &got), 1);
	assert_route(&got, &r2);
	assert_counts(&f->rd, 1, 2, 2);
}

static void
test_fifth_connection_evicts_oldest(void **state)
{
	struct fixture *f = *state;
	struct table_join j;
	struct route out[TABLE_MAX_DUPS], got;
	uint32_t i;

	for (i = 0; i < TABLE_MAX_DUPS; i++) {
		assert_int_equal(reg(&f->t, 9, rt(i % NWORKERS, i, 100 + i), &j), 0);
		assert_int_equal(j.evicted, 0);
		assert_int_equal(j.nothers, i);
	}
	assert_int_equal(reg(&f->t, 9, rt(1, 50, 500), &j), 0);
	assert_int_equal(j.nothers, TABLE_MAX_DUPS);
	for (i = 0; i < TABLE_MAX_DUPS; i++)
		assert_int_equal(j.others[i].slot, i);
	assert_int_equal(j.evicted, 1);
	assert_int_equal(j.evicted_route.slot, 0);
	assert_int_equal(j.evicted_route.gen, 100);
	assert_int_equal(routes(&f->rd, 9, out), TABLE_MAX_DUPS);
	for (i = 0; i < TABLE_MAX_DUPS - 1; i++)
		assert_int_equal(out[i].slot, i + 1);	/* oldest first */
	assert_int_equal(out[3].slot, 50);
	assert_int_equal(look(&f->rd, 9, &got), 1);
	assert_int_equal(got.slot, 50);
	assert_counts(&f->rd, 1, 4, 4);
	/* The evicted one is gone for good. */
	assert_int_equal(unreg(&f->t, 9, rt(0, 0, 100)), TABLE_NOT_FOUND);
}

static void
test_unregister_only_matching_route(void **state)
{
	struct fixture *f = *state;
	struct route got, r = rt(1, 4, 10);

	assert_int_equal(reg(&f->t, 7, r, NULL), 0);
	/* Generation, slot, worker or epoch mismatch: not removed. */
	assert_int_equal(unreg(&f->t, 7, rt(1, 4, 11)), TABLE_NOT_FOUND);
	assert_int_equal(unreg(&f->t, 7, rt(1, 5, 10)), TABLE_NOT_FOUND);
	assert_int_equal(unreg(&f->t, 7, rt(2, 4, 10)), TABLE_NOT_FOUND);
	assert_int_equal(unreg(&f->t, 7, rte(1, 2, 4, 10)), TABLE_NOT_FOUND);
	assert_int_equal(unreg(&f->t, 8, r), TABLE_NOT_FOUND);
	assert_int_equal(look(&f->rd, 7, &got), 1);
	assert_route(&got, &r);
	assert_counts(&f->rd, 0, 0, 1);
	assert_int_equal(unreg(&f->t, 7, r), TABLE_GONE);
	assert_int_equal(look(&f->rd, 7, &got), 0);
	assert_counts(&f->rd, 0, 0, 0);
	assert_int_equal(unreg(&f->t, 7, r), TABLE_NOT_FOUND);
}

/*
 * A worker's new incarnation reuses slot numbers and generations: its
 * routes differ from the old incarnation's by epoch alone, and the table
 * keeps them apart.
 */
static void
test_routes_carry_epochs(void **state)
{
	struct fixture *f = *state;
	struct route got, all[TABLE_MAX_DUPS];
	struct route old = rte(2, 1, 30, 4), young = rte(2, 2, 30, 4);
	struct table_join j;

	assert_int_equal(reg(&f->t, 11, old, NULL), 0);
	assert_int_equal(reg(&f->t, 11, young, &j), 0);
	assert_int_equal(j.nothers, 1);
	assert_route(&j.others[0], &old);
	assert_int_equal(routes(&f->rd, 11, all), 2);
	assert_route(&all[0], &old);
	assert_route(&all[1], &young);
	assert_int_equal(look(&f->rd, 11, &got), 1);
	assert_route(&got, &young);
	assert_counts(&f->rd, 1, 2, 2);
	/* Claims and removals name the epoch too. */
	assert_int_equal(claim(&f->t, 11, rte(2, 3, 30, 4)), -1);
	assert_int_equal(claim(&f->t, 11, old), 1);
	assert_int_equal(look(&f->rd, 11, &got), 1);
	assert_int_equal(got.epoch, 1);
	assert_int_equal(unreg(&f->t, 11, rte(2, 3, 30, 4)), TABLE_NOT_FOUND);
	assert_int_equal(unreg(&f->t, 11, old), TABLE_STAYS);
	assert_int_equal(look(&f->rd, 11, &got), 1);
	assert_route(&got, &young);
	assert_int_equal(unreg(&f->t, 11, old), TABLE_NOT_FOUND);
	assert_int_equal(unreg(&f->t, 11, young), TABLE_GONE);
}

static void
test_unregister_active_falls_back_to_most_recent(void **state)
{
	struct fixture *f = *state;
	struct route got, r0 = rt(0, 0, 1), r1 = rt(1, 1, 1), r2 = rt(2, 2, 1);

	assert_int_equal(reg(&f->t, 3, r0, NULL), 0);
	assert_int_equal(reg(&f->t, 3, r1, NULL), 0);
	assert_int_equal(reg(&f->t, 3, r2, NULL), 0);
	assert_counts(&f->rd, 1, 3, 3);
	/* Removing an older one keeps the active one. */
	assert_int_equal(unreg(&f->t, 3, r0), TABLE_STAYS);
	assert_int_equal(look(&f->rd, 3, &got), 1);
	assert_route(&got, &r2);
	assert_counts(&f->rd, 1, 2, 2);
	/* Removing the active one: the most recent left takes over. */
	assert_int_equal(unreg(&f->t, 3, r2), TABLE_STAYS);
	assert_int_equal(look(&f->rd, 3, &got), 1);
	assert_route(&got, &r1);
	assert_counts(&f->rd, 0, 0, 1);
	assert_int_equal(unreg(&f->t, 3, r1), TABLE_GONE);
	assert_int_equal(look(&f->rd, 3, &got), 0);
	assert_counts(&f->rd, 0, 0, 0);
}

static void
test_claim_switches_active(void **state)
{
	struct fixture *f = *state;
	struct route got, r0 = rt(0, 10, 1), r1 = rt(1, 11, 1);
	struct route r2 = rt(2, 12, 1);

	assert_int_equal(reg(&f->t, 4, r0, NULL), 0);
	assert_int_equal(reg(&f->t, 4, r1, NULL), 0);
	assert_int_equal(reg(&f->t, 4, r2, NULL), 0);
	assert_int_equal(claim(&f->t, 4, r0), 1);
	assert_int_equal(look(&f->rd, 4, &got), 1);
	assert_route(&got, &r0);
	assert_int_equal(claim(&f->t, 4, r0), 0);
	assert_int_equal(claim(&f->t, 4, rt(0, 10, 2)), -1);
	assert_int_equal(claim(&f->t, 5, r0), -1);	/* unknown key */
	assert_int_equal(look(&f->rd, 4, &got), 1);
	assert_route(&got, &r0);
	/* Dropping a route before the active one keeps the active one. */
	assert_int_equal(claim(&f->t, 4, r1), 1);
	assert_int_equal(unreg(&f->t, 4, r0), TABLE_STAYS);
	assert_int_equal(look(&f->rd, 4, &got), 1);
	assert_route(&got, &r1);
	/* A claim moves nothing: order stays oldest first. */
	{
		struct route all[TABLE_MAX_DUPS];

		assert_int_equal(routes(&f->rd, 4, all), 2);
		assert_route(&all[0], &r1);
		assert_route(&all[1], &r2);
	}
	assert_counts(&f->rd, 1, 2, 2);
}

/* ---- table_remove_worker ---- */

static void
test_remove_worker_removes_only_that_worker(void **state)
{
	struct fixture *f = *state;
	struct route got, all[TABLE_MAX_DUPS];
	uint32_t n;

	/* Keys 0..19 on worker n % 4; 100 on workers 1, 2, 2; 101 on 3, 2. */
	for (n = 0; n < 20; n++)
		assert_int_equal(reg(&f->t, n, rt(n % NWORKERS, n, 1), NULL), 0);
	assert_int_equal(reg(&f->t, 100, rt(1, 200, 1), NULL), 0);
	assert_int_equal(reg(&f->t, 100, rt(2, 201, 1), NULL), 0);
	assert_int_equal(reg(&f->t, 100, rt(2, 202, 1), NULL), 0);
	assert_int_equal(reg(&f->t, 101, rt(3, 300, 1), NULL), 0);
	assert_int_equal(reg(&f->t, 101, rt(2, 301, 1), NULL), 0);
	assert_int_equal(claim(&f->t, 101, rt(3, 300, 1)), 1);
	assert_counts(&f->rd, 2, 5, 25);

	assert_int_equal(table_remove_worker(&f->t, 2), 5 + 2 + 1);
	for (n = 0; n < 20; n++) {
		if (n % NWORKERS == 2) {
			assert_int_equal(look(&f->rd, n, &got), 0);
		} else {
			assert_int_equal(look(&f->rd, n, &got), 1);
			assert_int_equal(got.worker, n % NWORKERS);
			assert_int_equal(got.slot, n);
		}
	}
	/* Key 100 keeps its worker-1 connection, now the active one. */
	assert_int_equal(routes(&f->rd, 100, all), 1);
	assert_int_equal(look(&f->rd, 100, &got), 1);
	assert_int_equal(got.worker, 1);
	assert_int_equal(got.slot, 200);
	/* Key 101 keeps its active worker-3 connection. */
	assert_int_equal(routes(&f->rd, 101, all), 1);
	assert_int_equal(look(&f->rd, 101, &got), 1);
	assert_int_equal(got.slot, 300);
	assert_counts(&f->rd, 0, 0, 17);
	/* Nothing left of worker 2; an unknown worker has nothing. */
	assert_int_equal(table_remove_worker(&f->t, 2), 0);
	assert_int_equal(table_remove_worker(&f->t, NWORKERS + 5), 0);
	assert_counts(&f->rd, 0, 0, 17);
	/* Its keys can come back. */
	assert_int_equal(reg(&f->t, 2, rt(2, 2, 9), NULL), 0);
	assert_int_equal(look(&f->rd, 2, &got), 1);
	assert_int_equal(got.gen, 9);
}

/* ---- capacity ---- */

/* max_conns connections are the limit, however they are spread over keys. */
static void
test_full_table_refuses(void **state)
{
	struct fixture *f = *state;
	struct table_join j;
	struct route got;
	uint32_t n;

	for (n = 0; n < CAP; n++)
		assert_int_equal(reg(&f->t, n, rt(0, n, 1), NULL), 0);
	assert_counts(&f->rd, 0, 0, CAP);
	assert_int_equal(reg(&f->t, CAP, rt(0, CAP, 1), &j), -1);
	assert_int_equal(j.evicted, 0);
	assert_int_equal(look(&f->rd, CAP, &got), 0);
	/* A further connection of a key already there is one too many, too. */
	assert_int_equal(reg(&f->t, 0, rt(1, 0, 2), NULL), -1);
	assert_int_equal(look(&f->rd, 0, &got), 1);
	assert_int_equal(got.gen, 1);
	/* After one leaves, one fits again (reusing a tombstone). */
	assert_int_equal(unreg(&f->t, 5, rt(0, 5, 1)), TABLE_GONE);
	assert_int_equal(reg(&f->t, CAP, rt(0, CAP, 1), NULL), 0);
	assert_int_equal(reg(&f->t, CAP + 1, rt(0, CAP + 1, 1), NULL), -1);
	for (n = 0; n <= CAP; n++)
		assert_int_equal(look(&f->rd, n, &got), n != 5);
	assert_counts(&f->rd, 0, 0, CAP);
}

static void
test_full_table_of_dups_refuses(void **state)
{
	struct fixture *f = *state;
	struct route got;
	uint32_t n, i;

	for (n = 0; n < CAP / TABLE_MAX_DUPS; n++)
		for (i = 0; i < TABLE_MAX_DUPS; i++)
			assert_int_equal(reg(&f->t, n, rt(i, n, i), NULL), 0);
	assert_counts(&f->rd, CAP / TABLE_MAX_DUPS, CAP, CAP);
	assert_int_equal(reg(&f->t, 1000, rt(0, 1, 1), NULL), -1);
	assert_int_equal(look(&f->rd, 1000, &got), 0);
	/* Even a replacement (which would evict) waits for room. */
	assert_int_equal(reg(&f->t, 0, rt(0, 0, 99), NULL), -1);
	assert_int_equal(unreg(&f->t, 3, rt(1, 3, 1)), TABLE_STAYS);
	assert_int_equal(reg(&f->t, 1000, rt(0, 1, 1), NULL), 0);
	assert_counts(&f->rd, CAP / TABLE_MAX_DUPS, CAP - 1, CAP);
}

static void
test_route_of_unknown_worker_is_absent(void **state)
{
	struct fixture *f = *state;
	struct route got, all[TABLE_MAX_DUPS];
	int n;

	assert_int_equal(reg(&f->t, 1, rt(NWORKERS, 1, 1), NULL), 0);
	assert_int_equal(look(&f->rd, 1, &got), 0);
	assert_int_equal(routes(&f->rd, 1, all), 0);
	assert_int_equal(reg(&f->t, 2, rt(0xffffffffu, 1, 1), NULL), 0);
	assert_int_equal(look(&f->rd, 2, &got), 0);
	assert_int_equal(reg(&f->t, 3, rt(NWORKERS - 1, 1, 1), NULL), 0);
	assert_int_equal(look(&f->rd, 3, &got), 1);
	/* A bad route beside good ones is never handed out either. */
	assert_int_equal(reg(&f->t, 3, rt(NWORKERS, 2, 1), NULL), 0);
	assert_int_equal(reg(&f->t, 3, rt(0, 3, 1), NULL), 0);
	assert_int_equal(claim(&f->t, 3, rt(NWORKERS, 2, 1)), 1);
	assert_true(!look(&f->rd, 3, &got) || got.worker < NWORKERS);
	n = routes(&f->rd, 3, all);
	assert_true(n >= 0 && n <= TABLE_MAX_DUPS);
	while (n-- > 0)
		assert_true(all[n].worker < NWORKERS);
}

/* ---- remote routes (-mesh-with) ---- */

static int
radd(struct table *t, uint32_t n, struct route r)
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_remote_add(t, key, &r);
}

static enum table_leave
rdel(struct table *t, uint32_t n, struct route r)
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_remote_del(t, key, &r);
}

/* table_dest: 1 and where, with *remote; 0; -1. */
static int
dest(const struct table *t, uint32_t n, struct route *out, int *remote)
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_dest(t, key, out, remote);
}

static int
present(const struct table *t, uint32_t n)
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_present(t, key);
}

static void
assert_remote_counts(const struct table *t, uint32_t keys, uint32_t routes_)
{
	uint32_t k, r;

	table_remote_counts(t, &k, &r);
	assert_int_equal(k, keys);
	assert_int_equal(r, routes_);
}

static void
count_visit(const uint8_t *key, const struct route *r,
    const struct peer_info *info, void *arg)
{
	(void)key;
	(void)r;
	(void)info;
	(*(uint32_t *)arg)++;
}

/* A key a peer relay has: no local connection, but somewhere to send to. */
static void
test_remote_route_is_a_destination_not_a_connection(void **state)
{
	struct fixture *f = *state;
	struct route got, all[TABLE_MAX_DUPS], link = rt(2, 40, 7);
	uint32_t visits = 0;
	int remote;

	assert_int_equal(radd(&f->t, 1, link), 1);
	assert_int_equal(look(&f->rd, 1, &got), 0);
	assert_int_equal(routes(&f->rd, 1, all), 0);
	assert_int_equal(dest(&f->rd, 1, &got, &remote), 1);
	assert_int_equal(remote, 1);
	assert_route(&got, &link);
	assert_int_equal(present(&f->rd, 1), 1);
	assert_int_equal(present(&f->rd, 2), 0);
	assert_int_equal(dest(&f->rd, 2, &got, &remote), 0);
	table_foreach(&f->rd, count_visit, &visits);
	assert_int_equal(visits, 0);	/* watchers hear of local clients only */
	assert_counts(&f->rd, 0, 0, 0);
	assert_remote_counts(&f->rd, 1, 1);
}

/* derper's lookupDest: a local client always wins over a forwarder. */
static void
test_local_client_wins_over_remote_route(void **state)
{
	struct fixture *f = *state;
	struct route got, link = rt(1, 40, 7), mine = rt(3, 5, 9);
	int remote;

	assert_int_equal(radd(&f->t, 1, link), 1);
	assert_int_equal(reg(&f->t, 1, mine, NULL), 0);
	assert_int_equal(dest(&f->rd, 1, &got, &remote), 1);
	assert_int_equal(remote, 0);
	assert_route(&got, &mine);
	assert_int_equal(look(&f->rd, 1, &got), 1);
	/* Its last connection here leaves; the peer relay still has it. */
	assert_int_equal(unreg(&f->t, 1, mine), TABLE_LEFT);
	assert_int_equal(dest(&f->rd, 1, &got, &remote), 1);
	assert_int_equal(remote, 1);
	assert_route(&got, &link);
	assert_int_equal(look(&f->rd, 1, &got), 0);
	/* Local first, then remote: the same. */
	assert_int_equal(reg(&f->t, 2, mine, NULL), 0);
	assert_int_equal(radd(&f->t, 2, link), 1);
	assert_int_equal(dest(&f->rd, 2, &got, &remote), 1);
	assert_int_equal(remote, 0);
	assert_int_equal(rdel(&f->t, 2, link), TABLE_STAYS);
	assert_int_equal(unreg(&f->t, 2, mine), TABLE_GONE);
	assert_int_equal(present(&f->rd, 2), 0);
	assert_remote_counts(&f->rd, 1, 1);
}

/* derper's multiForwarder: once per link, the oldest preferred. */
static void
test_remote_routes_once_per_link_oldest_first(void **state)
{
	struct fixture *f = *state;
	struct route got, a = rt(0, 10, 1), b = rt(1, 11, 2), c = rt(2, 12, 3);
	int remote;

	assert_int_equal(radd(&f->t, 1, a), 1);
	assert_int_equal(radd(&f->t, 1, b), 1);
	assert_int_equal(radd(&f->t, 1, a), 0);
	assert_int_equal(radd(&f->t, 1, c), 1);
	assert_remote_counts(&f->rd, 1, 3);
	assert_int_equal(dest(&f->rd, 1, &got, &remote), 1);
	assert_route(&got, &a);
	assert_int_equal(rdel(&f->t, 1, a), TABLE_STAYS);
	assert_int_equal(dest(&f->rd, 1, &got, &remote), 1);
	assert_route(&got, &b);
	assert_int_equal(rdel(&f->t, 1, a), TABLE_NOT_FOUND);
	assert_int_equal(rdel(&f->t, 1, c), TABLE_STAYS);
	assert_int_equal(rdel(&f->t, 1, b), TABLE_GONE);
	assert_int_equal(present(&f->rd, 1), 0);
	assert_int_equal(rdel(&f->t, 1, b), TABLE_NOT_FOUND);
	assert_remote_counts(&f->rd, 0, 0);
}

static void
test_remote_links_per_key_are_bounded(void **state)
{
	struct fixture *f = *state;
	uint32_t i;

	for (i = 0; i < TABLE_MAX_REMOTE; i++)
		assert_int_equal(radd(&f->t, 1, rt(i % NWORKERS, i, 1)), 1);
	assert_int_equal(radd(&f->t, 1, rt(0, 99, 1)), -1);
	assert_remote_counts(&f->rd, 1, TABLE_MAX_REMOTE);
}

/* A link that goes down takes every route it taught, and nothing else. */
static void
test_remote_clear_takes_every_route_of_a_link(void **state)
{
	struct fixture *f = *state;
	struct route got, a = rt(0, 10, 1), b = rt(1, 11, 2), mine = rt(2, 3, 4);
	uint32_t n;
	int remote;

	for (n = 0; n < 6; n++)
		assert_int_equal(radd(&f->t, n, a), 1);
	assert_int_equal(radd(&f->t, 2, b), 1);		/* also through b */
	assert_int_equal(reg(&f->t, 3, mine, NULL), 0);	/* also here */
	assert_int_equal(radd(&f->t, 7, b), 1);		/* through b only */
	assert_int_equal(table_remote_clear(&f->t, &a), 6);
	for (n = 0; n < 6; n++)
		assert_int_equal(present(&f->rd, n), n == 2 || n == 3);
	assert_int_equal(dest(&f->rd, 2, &got, &remote), 1);
	assert_route(&got, &b);
	assert_int_equal(dest(&f->rd, 3, &got, &remote), 1);
	assert_int_equal(remote, 0);
	assert_int_equal(present(&f->rd, 7), 1);
	assert_int_equal(table_remote_clear(&f->t, &a), 0);
	assert_remote_counts(&f->rd, 2, 2);
}

/*
 * Keys only a peer relay has are bounded apart from local connections, so
 * a region full of keys never locks out this relay's own clients.
 */
static void
test_remote_only_keys_are_bounded(void **state)
{
	struct fixture *f = *state;
	struct route got, link = rt(0, 10, 1);
	uint32_t n;
	int remote;

	for (n = 0; n < RCAP; n++)
		assert_int_equal(radd(&f->t, 1000 + n, link), 1);
	assert_int_equal(radd(&f->t, 2000, link), -1);
	for (n = 0; n < CAP; n++)
		assert_int_equal(reg(&f->t, n, rt(1, n, 1), NULL), 0);
	assert_int_equal(reg(&f->t, CAP, rt(1, CAP, 1), NULL), -1);
	/* A key with a local connection may gain a remote route... */
	assert_int_equal(radd(&f->t, 0, link), 1);
	/* ...but when it leaves here there is no room to keep only that. */
	assert_int_equal(unreg(&f->t, 0, rt(1, 0, 1)), TABLE_GONE);
	assert_int_equal(dest(&f->rd, 0, &got, &remote), 0);
	/* With room again, it may. */
	assert_int_equal(rdel(&f->t, 1000, link), TABLE_GONE);
	assert_int_equal(radd(&f->t, 1, link), 1);
	assert_int_equal(unreg(&f->t, 1, rt(1, 1, 1)), TABLE_LEFT);
	assert_int_equal(dest(&f->rd, 1, &got, &remote), 1);
	assert_int_equal(remote, 1);
	assert_remote_counts(&f->rd, RCAP, RCAP);
}

/* A dead worker's links die with it: their routes leave the table. */
static void
test_remove_worker_takes_its_links(void **state)
{
	struct fixture *f = *state;
	struct route got, dead = rt(1, 10, 1), alive = rt(2, 11, 1);
	int remote;

	assert_int_equal(radd(&f->t, 1, dead), 1);
	assert_int_equal(radd(&f->t, 2, dead), 1);
	assert_int_equal(radd(&f->t, 2, alive), 1);
	assert_int_equal(reg(&f->t, 3, rt(1, 4, 4), NULL), 0);
	assert_int_equal(radd(&f->t, 3, alive), 1);
	assert_int_equal(table_remove_worker(&f->t, 1), 1);
	assert_int_equal(present(&f->rd, 1), 0);
	assert_int_equal(dest(&f->rd, 2, &got, &remote), 1);
	assert_route(&got, &alive);
	assert_int_equal(dest(&f->rd, 3, &got, &remote), 1);
	assert_int_equal(remote, 1);
	assert_route(&got, &alive);
	assert_remote_counts(&f->rd, 2, 2);
}

/* A remote route naming a worker that does not exist is never handed out. */
static void
test_remote_route_of_unknown_worker_is_absent(void **state)
{
	struct fixture *f = *state;
	struct route got;
	int remote;

	assert_int_equal(radd(&f->t, 1, rt(NWORKERS, 1, 1)), 1);
	assert_int_equal(dest(&f->rd, 1, &got, &remote), 0);
	assert_int_equal(reg(&f->t, 2, rt(0, 2, 2), NULL), 0);
	assert_int_equal(radd(&f->t, 2, rt(NWORKERS + 5, 1, 1)), 1);
	assert_int_equal(look(&f->rd, 2, &got), 0);
	assert_int_equal(dest(&f->rd, 2, &got, &remote), 0);
}

/* ---- churn against a model ---- */

struct model_key {
	uint32_t	n;			/* routes, oldest first */
	uint32_t	active;
	struct route	r[TABLE_MAX_DUPS];
};

struct model {
	struct model_key *k;
	uint32_t	 nkeys;
	uint32_t	 conns;
	uint32_t	 gen;
};

static void
model_drop(struct model_key *m, uint32_t i)
{
	memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(m->r[0]));
	m->n--;
	if (m->active == i)
		m->active = m->n > 0 ? m->n - 1 : 0;
	else if (m->active > i)
		m->active--;
}

static void
model_register(struct fixture *f, struct model *m, uint32_t n)
{
	struct model_key *mk = &m->k[n];
	struct route r = rte(randombytes_uniform(NWORKERS),
	    randombytes_uniform(3), n, ++m->gen);
	struct table_join j;
	uint32_t i;
	int rc;

	rc = reg(&f->t, n, r, &j);
	if (m->conns >= f->t.ecap) {
		assert_int_equal(rc, -1);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(j.nothers, mk->n);
	for (i = 0; i < mk->n; i++)
		assert_true(same_route(&j.others[i], &mk->r[i]));
	assert_int_equal(j.evicted, mk->n == TABLE_MAX_DUPS);
	if (mk->n == TABLE_MAX_DUPS) {
		assert_true(same_route(&j.evicted_route, &mk->r[0]));
		model_drop(mk, 0);
		m->conns--;
	}
	mk->r[mk->n] = r;
	mk->active = mk->n++;
	m->conns++;
}

static void
model_unregister(struct fixture *f, struct model *m, uint32_t n)
{
	struct model_key *mk = &m->k[n];
	uint32_t i = randombytes_uniform(mk->n);

	assert_int_equal(unreg(&f->t, n, mk->r[i]),
	    mk->n > 1 ? TABLE_STAYS : TABLE_GONE);
	model_drop(mk, i);
	m->conns--;
}

static void
model_claim(struct fixture *f, struct model *m, uint32_t n)
{
	struct model_key *mk = &m->k[n];
	uint32_t i = randombytes_uniform(mk->n);

	assert_int_equal(claim(&f->t, n, mk->r[i]), mk->active != i);
	mk->active = i;
}

static void
model_remove_worker(struct fixture *f, struct model *m, uint32_t w)
{
	uint32_t n, i;
	size_t gone = 0;

	for (n = 0; n < m->nkeys; n++)
		for (i = m->k[n].n; i-- > 0; )
			if (m->k[n].r[i].worker == w) {
				model_drop(&m->k[n], i);
				gone++;
			}
	m->conns -= (uint32_t)gone;
	assert_int_equal(table_remove_worker(&f->t, w), gone);
}

/* The reader's view of key n agrees with the model. */
static void
model_check_key(struct fixture *f, const struct model *m, uint32_t n)
{
	const struct model_key *mk = &m->k[n];
	struct route got, all[TABLE_MAX_DUPS];
	uint32_t i;

	if (mk->n == 0) {
		assert_int_equal(look(&f->rd, n, &got), 0);
		assert_int_equal(routes(&f->rd, n, all), 0);
		return;
	}
	assert_int_equal(look(&f->rd, n, &got), 1);
	assert_true(same_route(&got, &mk->r[mk->active]));
	assert_int_equal(routes(&f->rd, n, all), mk->n);
	for (i = 0; i < mk->n; i++)
		assert_true(same_route(&all[i], &mk->r[i]));
}

static void
model_check_all(struct fixture *f, const struct model *m)
{
	uint32_t n, dkeys = 0, dconns = 0;

	for (n = 0; n < m->nkeys; n++) {
		model_check_key(f, m, n);
		if (m->k[n].n > 1) {
			dkeys++;
			dconns += m->k[n].n;
		}
	}
	assert_counts(&f->rd, dkeys, dconns, m->conns);
}

/*
 * Thousands of random registers, unregisters, claims and (rarely) worker
 * removals, each checked against a model of derper's dup policy, over many
 * index rebuilds. Lookups go through a reader's handle.
 */
static void
test_churn_keeps_lookups_correct(void **state)
{
	enum { CHURN_CAP = 256, KEYS = 1024, OPS = 100000 };
	struct fixture *f = fixture_new(CHURN_CAP, 0, 0);
	struct model m = { .nkeys = KEYS };
	uint32_t n, i, flips = 0, which, op, x;

	(void)state;
	m.k = calloc(KEYS, sizeof(*m.k));
	assert_non_null(m.k);
	which = f->t.sh->which;
	for (op = 0; op < OPS; op++) {
		n = randombytes_uniform(KEYS);
		x = randombytes_uniform(100);
		if (x == 0)
			model_remove_worker(f, &m,
			    randombytes_uniform(NWORKERS));
		else if (m.k[n].n == 0 || x < 35)
			model_register(f, &m, n);
		else if (x < 80)
			model_unregister(f, &m, n);
		else
			model_claim(f, &m, n);
		/* A rebuild switches readers to the other index. */
		if (f->t.sh->which != which) {
			which = f->t.sh->which;
			flips++;
		}
		model_check_key(f, &m, n);
		for (i = 0; i < 4; i++)
			model_check_key(f, &m, randombytes_uniform(KEYS));
		if (op % 10000 == 0 || op == OPS - 1)
			model_check_all(f, &m);
	}
	assert_true(flips > 10);	/* the test did exercise rebuilding */
	free(m.k);
	fixture_free(f);
}

/* ---- foreach ---- */

struct visits {
	uint32_t	count[32];
	uint32_t	other;
};

static void
foreach_cb(const uint8_t *key, const struct route *r,
    const struct peer_info *info, void *arg)
{
	struct visits *v = arg;
	uint32_t n;

	memcpy(&n, key, sizeof(n));
	if (key[31] != 0xa5 || n >= 32) {
		v->other++;
		return;
	}
	v->count[n]++;
	/* The active route's own info: port = its slot. */
	assert_int_equal(r->slot, n + 1000 * (n % 3 == 0));
	assert_int_equal(info->port, r->slot);
	assert_int_equal(info->ip[15], (uint8_t)r->slot);
}

static void
reg_info(struct table *t, uint32_t n, struct route r)
{
	uint8_t key[KEY_LEN];
	struct peer_info info;
	struct table_join j;

	memset(&info, 0, sizeof(info));
	info.port = (uint16_t)r.slot;
	info.ip[15] = (uint8_t)r.slot;
	make_key(key, n);
	assert_int_equal(table_register(t, key, &r, &info, &j), 0);
}

static void
test_foreach_visits_each_live_key_once(void **state)
{
	struct fixture *f = *state;
	struct visits v;
	uint32_t n;

	/* Keys 0..19; every third has a second, active, connection. */
	for (n = 0; n < 20; n++) {
		reg_info(&f->t, n, rt(n % NWORKERS, n, 1));
		if (n % 3 == 0)
			reg_info(&f->t, n, rt(1, n + 1000, 1));
	}
	assert_int_equal(unreg(&f->t, 4, rt(0, 4, 1)), TABLE_GONE);
	assert_int_equal(unreg(&f->t, 9, rt(1, 9, 1)), TABLE_STAYS);
	memset(&v, 0, sizeof(v));
	table_foreach(&f->rd, foreach_cb, &v);
	assert_int_equal(v.other, 0);
	for (n = 0; n < 32; n++)
		assert_int_equal(v.count[n], n < 20 && n != 4);
}

struct info_seen {
	struct route	r;
	struct peer_info info;
	int		n;
};

static void
info_cb(const uint8_t *key, const struct route *r,
    const struct peer_info *info, void *arg)
{
	struct info_seen *s = arg;

	(void)key;
	s->r = *r;
	s->info = *info;
	s->n++;
}

static void
test_foreach_reports_info_of_new_active(void **state)
{
	struct fixture *f = *state;
	uint8_t key[KEY_LEN];
	struct peer_info a, b;
	struct table_join j;
	struct info_seen seen;
	struct route r1 = rt(0, 1, 1), r2 = rt(1, 2, 1);

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.port = 1111;
	b.port = 2222;
	make_key(key, 1);
	assert_int_equal(table_register(&f->t, key, &r1, &a, &j), 0);
	assert_int_equal(table_register(&f->t, key, &r2, &b, &j), 0);
	memset(&seen, 0, sizeof(seen));
	table_foreach(&f->rd, info_cb, &seen);
	assert_int_equal(seen.n, 1);
	assert_route(&seen.r, &r2);
	assert_int_equal(seen.info.port, 2222);
	/* Claiming back reports that connection's own info. */
	assert_int_equal(table_claim(&f->t, key, &r1), 1);
	memset(&seen, 0, sizeof(seen));
	table_foreach(&f->rd, info_cb, &seen);
	assert_int_equal(seen.n, 1);
	assert_route(&seen.r, &r1);
	assert_int_equal(seen.info.port, 1111);
	/* A connection registered without info reports zeroes. */
	assert_int_equal(table_register(&f->t, key, &r2, NULL, &j), 0);
	memset(&seen, 0, sizeof(seen));
	table_foreach(&f->rd, info_cb, &seen);
	assert_int_equal(seen.info.port, 0);
}

/*
 * Each connection keeps its own peer info: when the active connection
 * leaves and an older one becomes active, a watcher's dump reports the new
 * active connection's address, as derper does.
 */
static void
test_info_follows_active_after_unregister(void **state)
{
	struct fixture *f = *state;
	uint8_t key[KEY_LEN];
	struct peer_info a, b;
	struct table_join j;
	struct info_seen seen;
	struct route r1 = rt(0, 1, 1), r2 = rt(1, 2, 1);

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.port = 1111;
	b.port = 2222;
	make_key(key, 1);
	assert_int_equal(table_register(&f->t, key, &r1, &a, &j), 0);
	assert_int_equal(table_register(&f->t, key, &r2, &b, &j), 0);
	assert_int_equal(table_unregister(&f->t, key, &r2), TABLE_STAYS);
	memset(&seen, 0, sizeof(seen));
	table_foreach(&f->rd, info_cb, &seen);
	assert_int_equal(seen.n, 1);
	assert_route(&seen.r, &r1);
	if (seen.info.port != 1111)
		fail_msg("regression: active route is r1 (port 1111) but foreach "
		    "reports the departed r2's info (port %u)", seen.info.port);
}

/* ---- a reader racing the writer, in two processes ---- */

#define RACE_KEYS	24	/* more than RACE_CAP: the table fills up */
#define RACE_CAP	16
#define RACE_PINNED	1000000	/* keys registered before, never touched */
#define RACE_NPINNED	4
#define RACE_FILLERS	8

/* In a MAP_SHARED page; the writer publishes, the reader only reads. */
struct race {
	uint32_t	stop;		/* the reader to the writer */
	uint32_t	issued;		/* the highest gen handed out so far */
	uint32_t	flips;		/* index switches the writer made */
	uint32_t	ops;
	uint32_t	failed;		/* the writer's own checks */
};

/* What the reader saw. */
struct race_stats {
	uint64_t	lookups, found, pinned, scans;
	char		err[160];	/* the first wrong answer */
};

/* The writer gives key n routes of this shape, and no others. */
static uint32_t
race_epoch(uint32_t n, uint32_t gen)
{
	return (n * 2654435761u) ^ (gen * 0x9e3779b9u) ^ 0x5bd1e995u;
}

static struct route
race_route(uint32_t n, uint32_t gen)
{
	/* Worker 0 is the pinned keys' alone; others use 1..NWORKERS-1. */
	return rte(n >= RACE_PINNED ? 0 : 1 + gen % (NWORKERS - 1),
	    race_epoch(n, gen), n, gen);
}

/* Whether r is one the writer could have given key n by now. */
static int
race_plausible(const struct race *rc, uint32_t n, const struct route *r)
{
	uint32_t issued = __atomic_load_n(&rc->issued, __ATOMIC_ACQUIRE);
	struct route want = race_route(n, r->gen);

	return r->worker < NWORKERS && r->gen <= issued && same_route(r, &want);
}

/* A cheap generator: the writer must not spend its time in getrandom(). */
static uint32_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x >> 32);
}

static void
race_writer_remove(struct fixture *f, struct race *rc, struct model *m,
    uint32_t w)
{
	size_t got = table_remove_worker(&f->t, w);
	uint32_t n, i;

	for (n = 0; n < RACE_KEYS; n++)
		for (i = m->k[n].n; i-- > 0; )
			if (m->k[n].r[i].worker == w) {
				model_drop(&m->k[n], i);
				m->conns--;
				got--;
			}
	rc->failed += got != 0;
}

static void
race_writer_register(struct fixture *f, struct race *rc, struct model *m,
    uint32_t n)
{
	struct model_key *mk = &m->k[n];
	struct route r = race_route(n, m->gen + 1);
	struct table_join j;
	int got;

	__atomic_store_n(&rc->issued, ++m->gen, __ATOMIC_RELEASE);
	got = reg(&f->t, n, r, &j);
	if (m->conns >= RACE_CAP) {
		rc->failed += got != -1;
		return;
	}
	rc->failed += got != 0;
	if (j.evicted) {
		model_drop(mk, 0);
		m->conns--;
	}
	mk->r[mk->n] = r;
	mk->active = mk->n++;
	m->conns++;
}

/* The child: the master, changing the table as fast as it can. */
static void
race_writer(struct fixture *f, struct race *rc, pid_t parent)
{
	struct model m = { .nkeys = RACE_KEYS };
	struct model_key *mk;
	uint64_t x = ((uint64_t)randombytes_random() << 32) | 1;
	uint32_t n, i, which = f->t.sh->which;

	/* Never outlive the test, whatever happens to it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(3);
	if ((m.k = calloc(RACE_KEYS, sizeof(*m.k))) == NULL)
		_exit(2);
	m.gen = rc->issued;
	m.conns = RACE_NPINNED;
	while (!__atomic_load_n(&rc->stop, __ATOMIC_ACQUIRE)) {
		n = xorshift(&x) % RACE_KEYS;
		mk = &m.k[n];
		i = xorshift(&x) % 100;
		if (i == 0) {
			/* A worker dies: never the pinned keys' worker 0. */
			race_writer_remove(f, rc, &m, 2);
		} else if (mk->n == 0 || i < 40) {
			race_writer_register(f, rc, &m, n);
		} else if (i < 80) {
			i = xorshift(&x) % mk->n;
			rc->failed += unreg(&f->t, n, mk->r[i]) !=
			    (mk->n > 1 ? TABLE_STAYS : TABLE_GONE);
			model_drop(mk, i);
			m.conns--;
		} else {
			i = xorshift(&x) % mk->n;
			rc->failed += claim(&f->t, n, mk->r[i]) !=
			    (mk->active != i);
			mk->active = i;
		}
		if (f->t.sh->which != which) {
			which = f->t.sh->which;
			__atomic_store_n(&rc->flips, rc->flips + 1,
			    __ATOMIC_RELAXED);
		}
		__atomic_store_n(&rc->ops, rc->ops + 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

struct race_scan {
	const struct race *rc;
	uint32_t	pinned, bad;
};

static void
race_foreach_cb(const uint8_t *key, const struct route *r,
    const struct peer_info *info, void *arg)
{
	struct race_scan *s = arg;
	uint32_t n;

	(void)info;
	memcpy(&n, key, sizeof(n));
	s->pinned += n >= RACE_PINNED;
	s->bad += key[31] != 0xa5 || !race_plausible(s->rc, n, r);
}

/* One lookup of a pinned key (i even) or of any other; 0, or -1 and why. */
static int
race_read_one(struct fixture *f, const struct race *rc, uint64_t i,
    struct race_stats *st)
{
	struct route got, all[TABLE_MAX_DUPS], want;
	uint32_t n;
	int k;

	if (i % 2 == 0) {
		n = RACE_PINNED + (uint32_t)(i / 2) % RACE_NPINNED;
		st->pinned++;
		if (look(&f->rd, n, &got) != 1)
			return snprintf(st->err, sizeof(st->err),
			    "pinned key %u not found", n), -1;
		want = race_route(n, n - RACE_PINNED + 1);
		if (!same_route(&got, &want))
			return snprintf(st->err, sizeof(st->err),
			    "pinned key %u: wrong route", n), -1;
		return 0;
	}
	n = randombytes_uniform(RACE_KEYS);
	if (look(&f->rd, n, &got) == 1) {	/* -1: no clean read, nothing claimed */
		st->found++;
		if (!race_plausible(rc, n, &got))
			return snprintf(st->err, sizeof(st->err),
			    "key %u: route w%u e%u s%u g%u was never the "
			    "writer's", n, got.worker, got.epoch, got.slot,
			    got.gen), -1;
	}
	k = routes(&f->rd, n, all);
	if (k < 0 || k > TABLE_MAX_DUPS)
		return snprintf(st->err, sizeof(st->err), "key %u: %d routes",
		    n, k), -1;
	while (k-- > 0)
		if (!race_plausible(rc, n, &all[k]))
			return snprintf(st->err, sizeof(st->err),
			    "key %u: a route that was never the writer's",
			    n), -1;
	return 0;
}

static int
race_scan(struct fixture *f, const struct race *rc, struct race_stats *st)
{
	struct race_scan scan = { .rc = rc };

	table_foreach(&f->rd, race_foreach_cb, &scan);
	st->scans++;
	if (scan.bad != 0 || scan.pinned != RACE_NPINNED)
		return snprintf(st->err, sizeof(st->err),
		    "foreach: %u bad routes, %u pinned keys", scan.bad,
		    scan.pinned), -1;
	return 0;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads for ms milliseconds; 0, or -1 at the first wrong answer. */
static int
race_read(struct fixture *f, const struct race *rc, int ms,
    struct race_stats *st)
{
	int64_t end = now_ns() + (int64_t)ms * 1000000;
	int i;

	while (now_ns() < end) {
		for (i = 0; i < 512; i++, st->lookups++)
			if (race_read_one(f, rc, st->lookups, st) != 0)
				return -1;
		if (race_scan(f, rc, st) != 0)
			return -1;
	}
	return 0;
}

/* The pinned keys sit behind entries the writer keeps reusing, so an index
 * rebuild moves them around. */
static void
race_pin(struct fixture *f)
{
	uint32_t n;

	for (n = 0; n < RACE_FILLERS; n++)
		assert_int_equal(reg(&f->t, 5000 + n, rt(1, n, 1), NULL), 0);
	for (n = 0; n < RACE_NPINNED; n++)
		assert_int_equal(reg(&f->t, RACE_PINNED + n,
		    race_route(RACE_PINNED + n, n + 1), NULL), 0);
	for (n = 0; n < RACE_FILLERS; n++)
		assert_int_equal(unreg(&f->t, 5000 + n, rt(1, n, 1)),
		    TABLE_GONE);
}

/*
 * Every answer a reader gets while the writer works is one the writer
 * could have produced (a route it gave that key), and keys registered
 * before are found every time: an index switch never hides them. First
 * both share one CPU, so the reader is preempted inside its reads and the
 * writer inside its rebuilds; then they run side by side.
 */
static void
test_reader_races_writer(void **state)
{
	struct fixture *f = fixture_new(RACE_CAP, 0, 1);
	struct race_stats st;
	cpu_set_t all, one;
	struct race *rc;
	pid_t pid, parent = getpid();
	int status, rv, cpu, pinned_cpu;

	(void)state;
	memset(&st, 0, sizeof(st));
	rc = mmap(NULL, sizeof(*rc), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(rc != MAP_FAILED);
	memset(rc, 0, sizeof(*rc));
	race_pin(f);
	rc->issued = RACE_NPINNED;

	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	for (cpu = 0; !CPU_ISSET(cpu, &all); cpu++)
		;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pinned_cpu = sched_setaffinity(0, sizeof(one), &one) == 0;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		race_writer(f, rc, parent);

	rv = race_read(f, rc, 500, &st);
	if (pinned_cpu)
		(void)sched_setaffinity(pid, sizeof(all), &all);
	(void)sched_setaffinity(0, sizeof(all), &all);
	if (rv == 0)
		rv = race_read(f, rc, 500, &st);

	__atomic_store_n(&rc->stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	print_message("race: %ju lookups (%ju pinned, %ju others found), %ju "
	    "scans; writer: %u ops, %u index switches\n",
	    (uintmax_t)st.lookups, (uintmax_t)st.pinned, (uintmax_t)st.found,
	    (uintmax_t)st.scans, rc->ops, rc->flips);
	if (rv != 0)
		fail_msg("after %ju lookups: %s", (uintmax_t)st.lookups,
		    st.err);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(rc->failed, 0);
	/* The race did happen: both sides busy, indexes switched. */
	assert_true(st.found > 1000);
	assert_true(rc->ops > 10000);
	assert_true(rc->flips > 10);
	munmap(rc, sizeof(*rc));
	fixture_free(f);
}

/* ---- a reader inside the writer's index rebuild, step by step ---- */

/*
 * table.c hashes a key at the start of every probe (after the reader chose
 * an index and read its seq) and for each entry while it rebuilds an index
 * (after wiping it). This crypto_shorthash is libsodium's own
 * (crypto_shorthash_siphash24) plus a hook at those points, where the test
 * passes the CPU to the other side: a writer thread can then be stopped in
 * the middle of rebuilding the very index a reader's lookup is probing.
 */
static void (*hash_hook)(void);

int
crypto_shorthash(unsigned char *out, const unsigned char *in,
    unsigned long long inlen, const unsigned char *k)
{
	int rv = crypto_shorthash_siphash24(out, in, inlen, k);

	if (hash_hook != NULL)
		hash_hook();
	return rv;
}

enum { READER, WRITER };

/* One side runs at a time; the mutex orders everything they do. */
static struct {
	pthread_mutex_t	lock;
	pthread_cond_t	cond;
	int		turn;
	struct fixture	*f;
	int		armed;		/* the reader's next probe hands over */
	uint32_t	target;		/* the index that probe reads */
	uint32_t	skip;		/* entries rebuilt before it stops */
	int		stopped;	/* the writer is inside that rebuild */
	int		quit;
	uint32_t	errors;		/* the writer's unexpected results */
} ho = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static __thread int role = -1;

static void
give_turn(int to)
{
	pthread_mutex_lock(&ho.lock);
	ho.turn = to;
	pthread_cond_broadcast(&ho.cond);
	pthread_mutex_unlock(&ho.lock);
}

static void
await_turn(int me)
{
	pthread_mutex_lock(&ho.lock);
	while (ho.turn != me)
		pthread_cond_wait(&ho.cond, &ho.lock);
	pthread_mutex_unlock(&ho.lock);
}

static void
rebuild_hook(void)
{
	const struct table_shared *sh = ho.f->t.sh;

	if (role == READER && ho.armed) {
		ho.armed = 0;
		ho.target = __atomic_load_n(&sh->which, __ATOMIC_RELAXED) & 1;
		give_turn(WRITER);
		await_turn(READER);
	} else if (role == WRITER && !ho.stopped &&
	    (__atomic_load_n(&sh->ihdr[ho.target].seq, __ATOMIC_RELAXED) & 1) &&
	    ho.skip-- == 0) {
		ho.stopped = 1;
		give_turn(READER);
		await_turn(WRITER);
	}
}

/* Fills the table with fresh keys, empties it, again: tombstones, rebuilds. */
struct churn {
	uint32_t	live[RACE_CAP];
	uint32_t	n, next, filling;
};

static void
churn_step(struct fixture *f, struct churn *c)
{
	uint32_t k;

	if (c->filling) {
		k = c->next++;
		ho.errors += reg(&f->t, 100 + k, rt(1 + k % 3, k, 1),
		    NULL) != 0;
		c->live[c->n++] = k;
		c->filling = c->n < RACE_CAP - RACE_NPINNED;
	} else {
		k = c->live[--c->n];
		ho.errors += unreg(&f->t, 100 + k, rt(1 + k % 3, k, 1)) !=
		    TABLE_GONE;
		c->filling = c->n == 0;
	}
}

static void *
rebuild_writer(void *arg)
{
	struct churn c = { .filling = 1 };
	uint32_t ops;

	(void)arg;
	role = WRITER;
	for (;;) {
		await_turn(WRITER);
		if (ho.quit)
			return NULL;
		for (ops = 0; !ho.stopped && ops < 100000; ops++)
			churn_step(ho.f, &c);
		ho.errors += !ho.stopped;
		give_turn(READER);	/* this round is over */
	}
}

/* Every pinned key found, with its own route; 0 or -1 (and why). */
static int
pinned_all_found(struct fixture *f, char *err, size_t errlen)
{
	struct route got, all[TABLE_MAX_DUPS], want;
	uint32_t n;

	for (n = RACE_PINNED; n < RACE_PINNED + RACE_NPINNED; n++) {
		want = race_route(n, n - RACE_PINNED + 1);
		if (look(&f->rd, n, &got) != 1 || !same_route(&got, &want) ||
		    routes(&f->rd, n, all) != 1 || !same_route(&all[0], &want))
			return snprintf(err, errlen, "pinned key %u lost",
			    n), -1;
	}
	return 0;
}

/*
 * A reader's lookup has chosen an index when the writer starts rebuilding
 * that very index (after switching readers to the other one) and stops
 * halfway; the lookup must still find its key, and so must lookups started
 * while the writer is stopped. 200 rounds, stopping after 0..13 entries.
 */
static void
test_reader_inside_rebuild(void **state)
{
	struct fixture *f = fixture_new(RACE_CAP, 0, 0);
	struct route got, want;
	pthread_t writer;
	char err[128] = "";
	uint32_t round, n, stops = 0;

	(void)state;
	race_pin(f);
	ho.f = f;
	ho.turn = READER;
	role = READER;
	hash_hook = rebuild_hook;
	assert_int_equal(pthread_create(&writer, NULL, rebuild_writer, NULL),
	    0);
	for (round = 0; round < 200 && err[0] == '\0'; round++) {
		n = RACE_PINNED + round % RACE_NPINNED;
		want = race_route(n, n - RACE_PINNED + 1);
		ho.stopped = 0;
		ho.skip = round % 14;
		ho.armed = 1;
		/* The writer runs inside this lookup, and stops mid-rebuild. */
		if (look(&f->rd, n, &got) != 1 || !same_route(&got, &want))
			snprintf(err, sizeof(err), "round %u: the lookup in "
			    "flight lost pinned key %u", round, n);
		stops += ho.stopped;
		/* So must lookups that start while it is stopped. */
		if (err[0] == '\0')
			(void)pinned_all_found(f, err, sizeof(err));
		give_turn(WRITER);	/* finish the rebuild */
		await_turn(READER);
		if (err[0] == '\0')
			(void)pinned_all_found(f, err, sizeof(err));
	}
	ho.quit = 1;
	give_turn(WRITER);
	assert_int_equal(pthread_join(writer, NULL), 0);
	hash_hook = NULL;
	role = -1;
	if (err[0] != '\0')
		fail_msg("%s", err);
	assert_int_equal(ho.errors, 0);
	assert_int_equal(stops, 200);
	fixture_free(f);
}

#define SMALL(fn)	cmocka_unit_test_setup_teardown(fn, small_setup, teardown)
#define MESH(fn)	cmocka_unit_test_setup_teardown(fn, mesh_setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		SMALL(test_register_then_lookup),
		SMALL(test_lookup_of_unknown_keys_is_absent),
		SMALL(test_torn_read_is_unknown_not_absent),
		SMALL(test_reader_handle_sees_writer),
		SMALL(test_register_again_makes_new_route_active),
		SMALL(test_fifth_connection_evicts_oldest),
		SMALL(test_unregister_only_matching_route),
		SMALL(test_routes_carry_epochs),
		SMALL(test_unregister_active_falls_back_to_most_recent),
		SMALL(test_claim_switches_active),
		SMALL(test_remove_worker_removes_only_that_worker),
		SMALL(test_full_table_refuses),
		SMALL(test_full_table_of_dups_refuses),
		SMALL(test_route_of_unknown_worker_is_absent),
		MESH(test_remote_route_is_a_destination_not_a_connection),
		MESH(test_local_client_wins_over_remote_route),
		MESH(test_remote_routes_once_per_link_oldest_first),
		MESH(test_remote_links_per_key_are_bounded),
		MESH(test_remote_clear_takes_every_route_of_a_link),
		MESH(test_remote_only_keys_are_bounded),
		MESH(test_remove_worker_takes_its_links),
		MESH(test_remote_route_of_unknown_worker_is_absent),
		cmocka_unit_test(test_churn_keeps_lookups_correct),
		SMALL(test_foreach_visits_each_live_key_once),
		SMALL(test_foreach_reports_info_of_new_active),
		SMALL(test_info_follows_active_after_unregister),
		cmocka_unit_test(test_reader_races_writer),
		cmocka_unit_test(test_reader_inside_rebuild),
	};

	return cmocka_run_group_tests_name("table", tests, group_setup, NULL);
}
