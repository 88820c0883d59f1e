/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for worker/pktq.c (a client's packet queue: 32 whole frames,
 * the oldest given up when full, every byte charged to the worker's
 * budget) and worker/pushback.c (how long a sender is held for a full
 * ring: only while the consumer moves, never for a consumer that is
 * stuck). End to end: tests/e2e/test_queues.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pktq.h"
#include "pushback.h"

static struct bufpool pool;	/* zeroed: empty */

static struct buf *
tagged(struct pktq_budget *b, uint32_t seq, uint32_t len)
{
	struct buf *p = pktq_alloc(b, &pool, len);

	assert_non_null(p);
	assert_int_equal(p->cap, pktq_cap(len));
	assert_true(p->cap >= len);
	assert_int_equal(p->wr, len);
	assert_int_equal(p->rd, 0);
	memset(p->data, 0, len);
	memcpy(p->data, &seq, sizeof(seq));
	return p;
}

static uint32_t
seq_of(const struct buf *p)
{
	uint32_t seq;

	memcpy(&seq, p->data, sizeof(seq));
	return seq;
}

static void
clear(struct pktq *q, struct pktq_budget *b)
{
	struct buf *p;

	while ((p = pktq_pop(q)) != NULL)
		pktq_release(b, &pool, p);
}

/* As sendq.c does: full, the oldest goes; the newest 32 stay, in order. */
static void
test_drop_oldest(void **state)
{
	struct pktq_budget b = { .max = 64 << 20 };
	struct pktq q = { 0 };
	struct buf *p;
	uint32_t i, dropped = 0;

	(void)state;
	for (i = 0; i < 100; i++) {
		if (pktq_full(&q)) {
			p = pktq_pop(&q);
			assert_int_equal(seq_of(p), dropped);
			dropped++;
			pktq_release(&b, &pool, p);
		}
		pktq_push(&q, tagged(&b, i, i % 2 ? 65573 : 100));
	}
	assert_int_equal(q.n, PKTQ_DEPTH);
	assert_int_equal(dropped, 100 - PKTQ_DEPTH);
	for (i = 100 - PKTQ_DEPTH; i < 100; i++) {
		p = pktq_pop(&q);
		assert_non_null(p);
		assert_int_equal(seq_of(p), i);
		pktq_release(&b, &pool, p);
	}
	assert_null(pktq_pop(&q));
	assert_null(q.head);
	assert_null(q.tail);
	assert_int_equal(b.used, 0);
	assert_true(pool.len > 0);	/* large frames' buffers are reused */
}

/*
 * 32 frames of any size fit one queue; the budget is the worker's limit,
 * charged what each buffer holds: a pool buffer for a large frame, its own
 * size for a small one.
 */
static void
test_budget(void **state)
{
	struct pktq_budget b = { .max = 3 * (sizeof(struct buf) + BUF_SIZE) };
	struct pktq q = { 0 };
	struct buf *p;

	(void)state;
	assert_int_equal(pktq_cap(100), 100);
	assert_int_equal(pktq_cap(BUF_SIZE / 2 + 1), BUF_SIZE);
	assert_int_equal(pktq_cap(65573), BUF_SIZE);
	pktq_push(&q, tagged(&b, 0, 65573));
	pktq_push(&q, tagged(&b, 1, 40000));
	pktq_push(&q, tagged(&b, 2, 65573));
	assert_int_equal(b.used, b.max);
	assert_false(pktq_fits(&b, 1));
	assert_null(pktq_alloc(&b, &pool, 1));
	pktq_release(&b, &pool, pktq_pop(&q));
	assert_true(pktq_fits(&b, 65573));
	p = pktq_alloc(&b, &pool, 100);
	assert_non_null(p);
	assert_false(pktq_fits(&b, 65573));	/* the small one took some room */
	pktq_push(&q, p);
	/* handed on (to a stream): off the budget, not freed */
	p = pktq_pop(&q);
	pktq_uncharge(&b, p);
	assert_int_equal(b.used, sizeof(struct buf) + BUF_SIZE +
	    sizeof(struct buf) + 100);
	buf_put(&pool, p);
	clear(&q, &b);
	assert_int_equal(b.used, 0);
	pktq_release(&b, &pool, NULL);
}

/* A worker with one consumer ring whose read position we move by hand. */
struct pb_fixture {
	struct wk	w;
	struct conn	c, c2;
	uint64_t	head;
	struct shm	shm;
	struct shm_counters counters;
};

static struct pb_fixture *
pb_setup(void)
{
	static struct pb_fixture f;

	memset(&f, 0, sizeof(f));
	f.shm.counters[0] = &f.counters;
	f.w.shm = &f.shm;
	f.w.rings.tx[1].head = &f.head;
	f.w.rings.tx[1].tail = 1000;
	f.w.rings.tx[1].first = f.w.rings.tx[1].last = POOL_NONE;	/* no chunks */
	f.c.fd = f.c2.fd = -1;	/* never on the ready list */
	return &f;
}

/* Held while the consumer moves, for at most PUSHBACK_MS. */
static void
test_pushback_progress(void **state)
{
	struct pb_fixture *f = pb_setup();

	(void)state;
	f->w.now_ms = 100;
	assert_int_equal(pushback_full(&f->w, &f->c, 1), 1);
	assert_int_equal(f->counters.stats[ST_PUSHBACKS], 1);
	assert_true(f->c.pushed_back);
	assert_ptr_equal(f->w.pushed_back, &f->c);
	pushback_run(&f->w);
	assert_null(f->w.pushed_back);
	while (f->w.now_ms < 100 + PUSHBACK_MS - 1) {
		f->w.now_ms++;
		f->head += 8;
		assert_int_equal(pushback_full(&f->w, &f->c, 1), 1);
	}
	f->w.now_ms++;
	f->head += 8;
	assert_int_equal(pushback_full(&f->w, &f->c, 1), 0);
	assert_false(f->c.pushed_back);
}

/* A consumer that does not move: dropped after PUSHBACK_STALL_MS, then at
 * once for everyone until it moves again; a success clears it. */
static void
test_pushback_stuck(void **state)
{
	struct pb_fixture *f = pb_setup();
	struct conn *c;

	(void)state;
	f->w.now_ms = 100;
	assert_int_equal(pushback_full(&f->w, &f->c, 1), 1);
	f->w.now_ms += PUSHBACK_STALL_MS - 1;
	assert_int_equal(pushback_full(&f->w, &f->c, 1), 1);
	f->w.now_ms++;
	assert_int_equal(pushback_full(&f->w, &f->c, 1), 0);
	assert_false(f->c.pushed_back);
	assert_int_equal(pushback_full(&f->w, &f->c, 1), 0);
	assert_int_equal(pushback_full(&f->w, &f->c2, 1), 0);
	assert_false(f->c2.pushed_back);
	f->head += 8;
	assert_int_equal(pushback_full(&f->w, &f->c2, 1), 1);
	pushback_done(&f->w, &f->c2, 1);
	assert_false(f->c2.pushed_back);
	assert_false(f->w.rings.stuck[1]);
	/* A head that runs past what was produced is not believed. */
	f->head = 5000;
	f->w.now_ms = 200;
	assert_int_equal(pushback_full(&f->w, &f->c, 1), 1);
	f->w.now_ms += PUSHBACK_STALL_MS;
	f->head = 6000;
	assert_int_equal(pushback_full(&f->w, &f->c, 1), 0);
	pushback_forget(&f->w, &f->c);
	for (c = f->w.pushed_back; c != NULL; c = c->pb_next)
		assert_ptr_not_equal(c, &f->c);
	pushback_run(&f->w);
	assert_null(f->w.pushed_back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_oldest),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_pushback_progress),
		cmocka_unit_test(test_pushback_stuck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
