/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for common/table.c: the shared connection table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "table.h"

#define NWORKERS	4

struct fixture {
	struct table	t;
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
fixture_new(uint32_t cap, int shared)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->size = table_size(cap);
	if (shared) {
		f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(f->mem != MAP_FAILED);
		f->mapped = 1;
	} else {
		f->mem = malloc(f->size);
		assert_non_null(f->mem);
	}
	assert_int_equal(table_init(&f->t, f->mem, cap, NWORKERS), 0);
	return f;
}

static int
small_setup(void **state)
{
	*state = fixture_new(64, 0);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	pthread_mutex_destroy(&f->t.sh->lock);
	if (f->mapped)
		munmap(f->mem, f->size);
	else
		free(f->mem);
	free(f);
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
	struct route r = { worker, slot, gen };

	return r;
}

static void
assert_route(const struct route *got, const struct route *want)
{
	assert_int_equal(got->worker, want->worker);
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
look(struct table *t, uint32_t n, struct route *out)
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_lookup(t, key, out);
}

static enum table_leave
unreg(struct table *t, uint32_t n, struct route r)
{
	uint8_t key[KEY_LEN];

	make_key(key, n);
	return table_unregister(t, key, &r);
}

/* ---- basics ---- */

static void
test_init_rejects_bad_capacity(void **state)
{
	struct table t;
	void *mem = malloc(table_size(1024));

	(void)state;
	assert_non_null(mem);
	assert_int_equal(table_init(&t, mem, 0, 4), -1);
	assert_int_equal(table_init(&t, mem, 4, 4), -1);
	assert_int_equal(table_init(&t, mem, 100, 4), -1);
	assert_int_equal(table_init(&t, mem, 1024, 4), 0);
	assert_int_equal(table_max_live(&t), 768);
	pthread_mutex_destroy(&t.sh->lock);
	free(mem);
}

static void
test_register_then_lookup(void **state)
{
	struct fixture *f = *state;
	struct table_join j;
	struct route got, want = rt(2, 17, 99);

	assert_int_equal(look(&f->t, 1, &got), 0);
	assert_int_equal(reg(&f->t, 1, want, &j), 0);
	assert_int_equal(j.nothers, 0);
	assert_int_equal(j.evicted, 0);
	assert_int_equal(look(&f->t, 1, &got), 1);
	assert_route(&got, &want);
	assert_int_equal(look(&f->t, 2, &got), 0);
	assert_int_equal(table_live(&f->t), 1);
}

static void
test_register_again_makes_new_route_active(void **state)
{
	struct fixture *f = *state;
	struct table_join j;
	struct route got, r1 = rt(0, 1, 1), r2 = rt(3, 2, 7);
	uint32_t keys, conns;

	assert_int_equal(reg(&f->t, 5, r1, NULL), 0);
	assert_int_equal(reg(&f->t, 5, r2, &j), 0);
	/* The join reports the connection that was there. */
	assert_int_equal(j.nothers, 1);
	assert_route(&j.others[0], &r1);
	assert_int_equal(j.evicted, 0);
	assert_int_equal(look(&f->t, 5, &got), 1);
	assert_route(&got, &r2);
	assert_int_equal(table_live(&f->t), 1);
	table_dup_counts(&f->t, &keys, &conns);
	assert_int_equal(keys, 1);
	assert_int_equal(conns, 2);
}

static void
test_fifth_connection_evicts_oldest(void **state)
{
	struct fixture *f = *state;
	struct table_join j;
	struct route out[TABLE_MAX_DUPS], got;
	uint32_t i, keys, conns;

	for (i = 0; i < TABLE_MAX_DUPS; i++) {
		assert_int_equal(reg(&f->t, 9, rt(i % NWORKERS, i, 100 + i), &j), 0);
		assert_int_equal(j.evicted, 0);
		assert_int_equal(j.nothers, i);
	}
	assert_int_equal(reg(&f->t, 9, rt(1, 50, 500), &j), 0);
	assert_int_equal(j.evicted, 1);
	assert_int_equal(j.evicted_route.slot, 0);
	assert_int_equal(j.evicted_route.gen, 100);
	{
		uint8_t key[KEY_LEN];

		make_key(key, 9);
		assert_int_equal(table_routes(&f->t, key, out), TABLE_MAX_DUPS);
	}
	for (i = 0; i < TABLE_MAX_DUPS - 1; i++)
		assert_int_equal(out[i].slot, i + 1);	/* oldest first */
	assert_int_equal(out[3].slot, 50);
	assert_int_equal(look(&f->t, 9, &got), 1);
	assert_int_equal(got.slot, 50);
	table_dup_counts(&f->t, &keys, &conns);
	assert_int_equal(keys, 1);
	assert_int_equal(conns, 4);
}

static void
test_unregister_only_matching_route(void **state)
{
	struct fixture *f = *state;
	struct route got, r = rt(1, 4, 10);

	assert_int_equal(reg(&f->t, 7, r, NULL), 0);
	/* Generation, slot or worker mismatch: not removed. */
	assert_int_equal(unreg(&f->t, 7, rt(1, 4, 11)), TABLE_NOT_FOUND);
	assert_int_equal(unreg(&f->t, 7, rt(1, 5, 10)), TABLE_NOT_FOUND);
	assert_int_equal(unreg(&f->t, 7, rt(2, 4, 10)), TABLE_NOT_FOUND);
	assert_int_equal(unreg(&f->t, 8, r), TABLE_NOT_FOUND);
	assert_int_equal(look(&f->t, 7, &got), 1);
	assert_route(&got, &r);
	assert_int_equal(unreg(&f->t, 7, r), TABLE_GONE);
	assert_int_equal(look(&f->t, 7, &got), 0);
	assert_int_equal(table_live(&f->t), 0);
	assert_int_equal(unreg(&f->t, 7, r), TABLE_NOT_FOUND);
}

static void
test_unregister_active_falls_back_to_most_recent(void **state)
{
	struct fixture *f = *state;
	struct route got, r0 = rt(0, 0, 1), r1 = rt(1, 1, 1), r2 = rt(2, 2, 1);
	uint32_t keys, conns;

	assert_int_equal(reg(&f->t, 3, r0, NULL), 0);
	assert_int_equal(reg(&f->t, 3, r1, NULL), 0);
	assert_int_equal(reg(&f->t, 3, r2, NULL), 0);
	/* Removing an older one keeps the active one. */
	assert_int_equal(unreg(&f->t, 3, r0), TABLE_STAYS);
	assert_int_equal(look(&f->t, 3, &got), 1);
	assert_route(&got, &r2);
	/* Removing the active one: the most recent left takes over. */
	assert_int_equal(unreg(&f->t, 3, r2), TABLE_STAYS);
	assert_int_equal(look(&f->t, 3, &got), 1);
	assert_route(&got, &r1);
	table_dup_counts(&f->t, &keys, &conns);
	assert_int_equal(keys, 0);
	assert_int_equal(conns, 0);
	assert_int_equal(unreg(&f->t, 3, r1), TABLE_GONE);
	assert_int_equal(look(&f->t, 3, &got), 0);
}

static void
test_claim_switches_active(void **state)
{
	struct fixture *f = *state;
	uint8_t key[KEY_LEN];
	struct route got, r0 = rt(0, 10, 1), r1 = rt(1, 11, 1), r2 = rt(2, 12, 1);

	make_key(key, 4);
	assert_int_equal(reg(&f->t, 4, r0, NULL), 0);
	assert_int_equal(reg(&f->t, 4, r1, NULL), 0);
	assert_int_equal(reg(&f->t, 4, r2, NULL), 0);
	assert_int_equal(table_claim(&f->t, key, &r0), 1);
	assert_int_equal(look(&f->t, 4, &got), 1);
	assert_route(&got, &r0);
	assert_int_equal(table_claim(&f->t, key, &r0), 0);
	assert_int_equal(table_claim(&f->t, key, &(struct route){ 0, 10, 2 }), -1);
	/* Dropping a route before the active one keeps the active one. */
	assert_int_equal(table_claim(&f->t, key, &r1), 1);
	assert_int_equal(unreg(&f->t, 4, r0), TABLE_STAYS);
	assert_int_equal(look(&f->t, 4, &got), 1);
	assert_route(&got, &r1);
}

/* ---- table_remove_worker ---- */

struct gone_log {
	int	calls;
	uint32_t keys[64];
};

static void
gone_cb(const uint8_t *key, void *arg)
{
	struct gone_log *g = arg;
	uint32_t n;

	assert_int_equal(key[31], 0xa5);
	memcpy(&n, key, sizeof(n));
	assert_true(g->calls < 64);
	g->keys[g->calls++] = n;
}

static void
test_remove_worker_removes_only_that_worker(void **state)
{
	struct fixture *f = *state;
	struct gone_log g;
	struct route got;
	uint32_t n, seen = 0;
	int i;

	memset(&g, 0, sizeof(g));
	/* Keys 0..19 on worker n % 4; key 100 on workers 1 and 2. */
	for (n = 0; n < 20; n++)
		assert_int_equal(reg(&f->t, n, rt(n % NWORKERS, n, 1), NULL), 0);
	assert_int_equal(reg(&f->t, 100, rt(1, 200, 1), NULL), 0);
	assert_int_equal(reg(&f->t, 100, rt(2, 201, 1), NULL), 0);

	assert_int_equal(table_remove_worker(&f->t, 2, gone_cb, &g), 5 + 1);
	/* Called once per key left with no connection: 2, 6, 10, 14, 18. */
	assert_int_equal(g.calls, 5);
	for (i = 0; i < g.calls; i++) {
		assert_int_equal(g.keys[i] % NWORKERS, 2);
		assert_true(g.keys[i] < 20);
		assert_int_equal(seen & (1u << g.keys[i]), 0);
		seen |= 1u << g.keys[i];
	}
	for (n = 0; n < 20; n++) {
		if (n % NWORKERS == 2) {
			assert_int_equal(look(&f->t, n, &got), 0);
		} else {
			assert_int_equal(look(&f->t, n, &got), 1);
			assert_int_equal(got.worker, n % NWORKERS);
		}
	}
	/* Key 100 keeps its worker-1 connection, now the active one. */
	assert_int_equal(look(&f->t, 100, &got), 1);
	assert_int_equal(got.worker, 1);
	assert_int_equal(got.slot, 200);
	assert_int_equal(table_live(&f->t), 16);
	/* Nothing left of worker 2. */
	assert_int_equal(table_remove_worker(&f->t, 2, gone_cb, &g), 0);
	assert_int_equal(g.calls, 5);
}

/* ---- capacity ---- */

static void
test_full_table_refuses_new_key(void **state)
{
	struct fixture *f = *state;
	uint32_t n, max = table_max_live(&f->t);
	struct route got;

	assert_int_equal(max, 48);
	for (n = 0; n < max; n++)
		assert_int_equal(reg(&f->t, n, rt(0, n, 1), NULL), 0);
	assert_int_equal(reg(&f->t, max, rt(0, max, 1), NULL), -1);
	assert_int_equal(look(&f->t, max, &got), 0);
	/* A new connection for a key already there still fits. */
	assert_int_equal(reg(&f->t, 0, rt(1, 0, 2), NULL), 0);
	/* After one leaves, a new key fits again (reusing a tombstone). */
	assert_int_equal(unreg(&f->t, 5, rt(0, 5, 1)), TABLE_GONE);
	assert_int_equal(reg(&f->t, max, rt(0, max, 1), NULL), 0);
	assert_int_equal(reg(&f->t, max + 1, rt(0, max + 1, 1), NULL), -1);
	for (n = 0; n <= max; n++) {
		if (n == 5)
			continue;
		assert_int_equal(look(&f->t, n, &got), 1);
	}
	assert_int_equal(table_live(&f->t), max);
}

static void
test_churn_keeps_lookups_correct(void **state)
{
	enum { CAP = 256, KEYS = 1024, OPS = 100000 };
	struct fixture *f = fixture_new(CAP, 0);
	static uint32_t model_gen[KEYS];	/* 0 = absent */
	uint32_t live = 0, n, max, gen = 1, i, dead_before, rebuilds = 0;
	struct route got;
	int op;

	(void)state;
	max = table_max_live(&f->t);
	memset(model_gen, 0, sizeof(model_gen));
	for (op = 0; op < OPS; op++) {
		n = randombytes_uniform(KEYS);
		dead_before = f->t.sh->dead;
		if (model_gen[n] != 0) {
			assert_int_equal(unreg(&f->t, n, rt(n % NWORKERS, n,
			    model_gen[n])), TABLE_GONE);
			model_gen[n] = 0;
			live--;
		} else if (live < max) {
			assert_int_equal(reg(&f->t, n, rt(n % NWORKERS, n, gen),
			    NULL), 0);
			model_gen[n] = gen++;
			live++;
		} else {
			assert_int_equal(reg(&f->t, n, rt(n % NWORKERS, n, gen),
			    NULL), -1);
		}
		/* A rebuild empties the tombstones at once. */
		if (dead_before > 1 && f->t.sh->dead < dead_before - 1)
			rebuilds++;
		/* Spot-check a few keys every step, everything now and then. */
		for (i = 0; i < 4; i++) {
			uint32_t m = randombytes_uniform(KEYS);

			if (model_gen[m] != 0) {
				assert_int_equal(look(&f->t, m, &got), 1);
				assert_int_equal(got.gen, model_gen[m]);
			} else {
				assert_int_equal(look(&f->t, m, &got), 0);
			}
		}
		if (op % 10000 == 0 || op == OPS - 1) {
			assert_int_equal(table_live(&f->t), live);
			for (i = 0; i < KEYS; i++) {
				int found = look(&f->t, i, &got);

				assert_int_equal(found, model_gen[i] != 0);
				if (found)
					assert_int_equal(got.gen, model_gen[i]);
			}
		}
	}
	assert_true(f->t.sh->live + f->t.sh->dead < CAP);
	assert_true(rebuilds > 10);	/* the test did exercise rebuilding */
	*state = f;
	teardown(state);
}

static void
test_route_of_unknown_worker_is_absent(void **state)
{
	struct fixture *f = *state;
	struct route got;

	assert_int_equal(reg(&f->t, 1, rt(NWORKERS, 1, 1), NULL), 0);
	assert_int_equal(look(&f->t, 1, &got), 0);
	assert_int_equal(reg(&f->t, 2, rt(0xffffffffu, 1, 1), NULL), 0);
	assert_int_equal(look(&f->t, 2, &got), 0);
	assert_int_equal(reg(&f->t, 3, rt(NWORKERS - 1, 1, 1), NULL), 0);
	assert_int_equal(look(&f->t, 3, &got), 1);
}

/* ---- foreach ---- */

static void
foreach_cb(const uint8_t *key, const struct route *r,
    const struct peer_info *info, void *arg)
{
	uint32_t *mask = arg, n;

	memcpy(&n, key, sizeof(n));
	assert_true(n < 32);
	assert_int_equal(r->slot, n + 1000);
	assert_int_equal(info->port, n);
	*mask |= 1u << n;
}

static void
test_foreach_visits_each_live_key(void **state)
{
	struct fixture *f = *state;
	uint8_t key[KEY_LEN];
	struct peer_info info;
	struct table_join j;
	struct route r;
	uint32_t n, mask = 0;

	for (n = 0; n < 10; n++) {
		memset(&info, 0, sizeof(info));
		info.port = (uint16_t)n;
		make_key(key, n);
		r = rt(n % NWORKERS, n + 1000, 1);
		assert_int_equal(table_register(&f->t, key, &r, &info, &j), 0);
	}
	assert_int_equal(unreg(&f->t, 4, rt(0, 1004, 1)), TABLE_GONE);
	table_foreach(&f->t, foreach_cb, &mask);
	assert_int_equal(mask, 0x3ff & ~(1u << 4));
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
	table_foreach(&f->t, info_cb, &seen);
	assert_int_equal(seen.n, 1);
	assert_route(&seen.r, &r2);
	assert_int_equal(seen.info.port, 2222);
	/* Claiming back reports that connection's own info. */
	assert_int_equal(table_claim(&f->t, key, &r1), 1);
	memset(&seen, 0, sizeof(seen));
	table_foreach(&f->t, info_cb, &seen);
	assert_route(&seen.r, &r1);
	assert_int_equal(seen.info.port, 1111);
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
	table_foreach(&f->t, info_cb, &seen);
	assert_int_equal(seen.n, 1);
	assert_route(&seen.r, &r1);
	if (seen.info.port != 1111)
		fail_msg("regression: active route is r1 (port 1111) but foreach "
		    "reports the departed r2's info (port %u)", seen.info.port);
}

/* ---- a writer that dies holding the lock ---- */

static int
shared_setup(void **state)
{
	*state = fixture_new(64, 1);
	return 0;
}

static void
die_holding_lock(struct table *t, int corrupt_key)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (pthread_mutex_lock(&t->sh->lock) != 0)
			_exit(3);
		/* Mid-update: seq odd, as write_begin leaves it. */
		__atomic_store_n(&t->sh->seq, t->sh->seq + 1, __ATOMIC_RELEASE);
		if (corrupt_key >= 0) {
			uint8_t key[KEY_LEN];
			uint32_t i;

			make_key(key, (uint32_t)corrupt_key);
			for (i = 0; i < t->cap; i++)
				if (t->entries[i].state == 1 /* live */ &&
				    memcmp(t->entries[i].key, key, 32) == 0)
					t->entries[i].nroutes = 99;
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(t->sh->seq & 1, 1);
}

static void
test_dead_writer_repaired_by_next_lookup(void **state)
{
	struct fixture *f = *state;
	struct route got;

	assert_int_equal(reg(&f->t, 1, rt(1, 1, 1), NULL), 0);
	assert_int_equal(f->t.sh->repairs, 0);
	die_holding_lock(&f->t, -1);
	assert_int_equal(look(&f->t, 1, &got), 1);
	assert_int_equal(got.worker, 1);
	assert_int_equal(f->t.sh->repairs, 1);
	assert_int_equal(f->t.sh->seq & 1, 0);
	/* The lock is usable again, and stays repaired. */
	assert_int_equal(reg(&f->t, 2, rt(2, 2, 2), NULL), 0);
	assert_int_equal(look(&f->t, 2, &got), 1);
	assert_int_equal(f->t.sh->repairs, 1);
}

static void
test_dead_writer_repaired_by_next_register(void **state)
{
	struct fixture *f = *state;
	struct route got;
	uint32_t n;

	for (n = 0; n < 10; n++)
		assert_int_equal(reg(&f->t, n, rt(n % NWORKERS, n, 1), NULL), 0);
	/* The dead writer left key 3's entry inconsistent. */
	die_holding_lock(&f->t, 3);
	assert_int_equal(reg(&f->t, 50, rt(0, 50, 1), NULL), 0);
	assert_int_equal(f->t.sh->repairs, 1);
	assert_int_equal(f->t.sh->seq & 1, 0);
	assert_int_equal(look(&f->t, 50, &got), 1);
	assert_int_equal(look(&f->t, 3, &got), 0);	/* dropped */
	for (n = 0; n < 10; n++) {
		if (n == 3)
			continue;
		assert_int_equal(look(&f->t, n, &got), 1);
		assert_int_equal(got.slot, n);
	}
	assert_int_equal(table_live(&f->t), 10);
}

#define SMALL(fn)	cmocka_unit_test_setup_teardown(fn, small_setup, teardown)
#define SHARED(fn)	cmocka_unit_test_setup_teardown(fn, shared_setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects_bad_capacity),
		SMALL(test_register_then_lookup),
		SMALL(test_register_again_makes_new_route_active),
		SMALL(test_fifth_connection_evicts_oldest),
		SMALL(test_unregister_only_matching_route),
		SMALL(test_unregister_active_falls_back_to_most_recent),
		SMALL(test_claim_switches_active),
		SMALL(test_remove_worker_removes_only_that_worker),
		SMALL(test_full_table_refuses_new_key),
		cmocka_unit_test(test_churn_keeps_lookups_correct),
		SMALL(test_route_of_unknown_worker_is_absent),
		SMALL(test_foreach_visits_each_live_key),
		SMALL(test_foreach_reports_info_of_new_active),
		SMALL(test_info_follows_active_after_unregister),
		SHARED(test_dead_writer_repaired_by_next_lookup),
		SHARED(test_dead_writer_repaired_by_next_register),
	};

	return cmocka_run_group_tests_name("table", tests, group_setup, NULL);
}
