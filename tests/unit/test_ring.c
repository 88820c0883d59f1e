/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for common/ring.c and common/pool.c: records from one worker
 * to two others, through the producer's packet pool and a descriptor ring
 * per consumer. Each test holds the private views the three processes
 * would have (struct ring_tx, struct ring_rx) over the producer's region
 * (two struct rings and the pool) and each consumer's head word (their
 * regions). A hostile producer is simulated by writing the rings and the
 * pool directly; a hostile consumer by writing its head word.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define QUOTA	4
#define CHUNKS	(2 * QUOTA)
#define HDR	sizeof(struct ring_rec)
#define BIG	65536		/* a packet of the largest size */

struct fix {
	struct ring	*r[2];		/* the producer's region: rings, pool */
	uint8_t		*base;
	uint64_t	*head[2];	/* each consumer's region */
	struct pool	 pool;		/* the producer's bookkeeping */
	struct ring_tx	 tx[2];
	struct ring_rx	 rx[2];
	uint32_t	 seq[2];	/* next to push, to each */
	uint32_t	 got[2];	/* next expected, by each */
};

static uint8_t payload_buf[RING_PAYLOAD_MAX + 8];

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	int i;

	if (f == NULL || (f->base = malloc((size_t)CHUNKS * POOL_CHUNK)) == NULL)
		return -1;
	/* Exact sizes: ASan sees a byte past any of them. */
	memset(f->base, 0x5c, (size_t)CHUNKS * POOL_CHUNK);
	if (pool_init(&f->pool, f->base, CHUNKS, QUOTA) != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if ((f->r[i] = malloc(sizeof(struct ring))) == NULL ||
		    (f->head[i] = malloc(sizeof(uint64_t))) == NULL)
			return -1;
		memset(f->r[i], 0x5c, sizeof(struct ring));
		*f->head[i] = 0;	/* a fresh memfd */
		ring_tx_start(&f->tx[i], f->r[i], f->head[i], &f->pool);
		ring_rx_start(&f->rx[i], f->r[i], f->base,
		    (size_t)CHUNKS * POOL_CHUNK, f->head[i]);
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	int i;

	for (i = 0; i < 2; i++) {
		free(f->r[i]);
		free(f->head[i]);
	}
	pool_free(&f->pool);
	free(f->base);
	free(f);
	return 0;
}

/* Payload bytes are a function of (seq, i), so any mix-up shows. */
static uint8_t
pbyte(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131 + i * 7 + (i >> 8));
}

/* Pushes record number f->seq[to] with len payload bytes; returns ring_push's. */
static int
push(struct fix *f, int to, uint32_t len, int *wake)
{
	uint8_t key[KEY_LEN];
	uint32_t seq = f->seq[to], i;
	int w, rc;

	for (i = 0; i < len; i++)
		payload_buf[i] = pbyte(seq, i);
	memset(key, (int)seq, sizeof(key));
	rc = ring_push(&f->tx[to], RING_PACKET, seq, seq + 1, 7, key,
	    payload_buf, len, wake != NULL ? wake : &w);
	if (rc == 0)
		f->seq[to]++;
	return rc;
}

/* Reads the next record at consumer `from` and checks it is the one due. */
static void
pop_expect(struct fix *f, int from, uint32_t len)
{
	struct ring_rec hdr;
	const uint8_t *p;
	uint32_t seq = f->got[from], i;

	assert_int_equal(ring_front(&f->rx[from], &hdr, &p), 1);
	assert_int_equal(hdr.kind, RING_PACKET);
	assert_int_equal(hdr.slot, seq);
	assert_int_equal(hdr.gen, seq + 1);
	assert_int_equal(hdr.epoch, 7);
	assert_int_equal(hdr.key[0], (uint8_t)seq);
	assert_int_equal(hdr.payload_len, len);
	for (i = 0; i < len; i++)
		if (p[i] != pbyte(seq, i))
			fail_msg("record %u byte %u changed", seq, i);
	ring_pop(&f->rx[from]);
	f->got[from]++;
}

static void
assert_empty(struct fix *f, int from)
{
	struct ring_rec hdr;
	const uint8_t *p;

	assert_int_equal(ring_front(&f->rx[from], &hdr, &p), 0);
}

/* Every chunk is free or held by exactly one ring, within its quota. */
static void
check_pool(struct fix *f)
{
	uint32_t held = 0, c, n;
	int i;

	for (i = 0; i < 2; i++) {
		assert_true(f->tx[i].held <= QUOTA);
		for (n = 0, c = f->tx[i].first; c != POOL_NONE; c = f->pool.next[c])
			n++;
		assert_int_equal(n, f->tx[i].held);
		held += n;
	}
	assert_int_equal(held + f->pool.nfree, CHUNKS);
}

static void
test_fifo_order_and_payload(void **state)
{
	struct fix *f = *state;
	uint32_t sizes[] = { 0, 1, 7, 8, 9, 100, 1400, BIG, 3, BIG - 1 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		assert_int_equal(push(f, 0, sizes[i], NULL), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		pop_expect(f, 0, sizes[i]);
	assert_empty(f, 0);
	assert_empty(f, 1);
	check_pool(f);
}

static void
test_two_payload_parts_and_null_key(void **state)
{
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;
	int wake;

	assert_int_equal(ring_push2(&f->tx[1], RING_FORWARD, 1, 2, 3, NULL,
	    "dst", 3, "packet", 6, &wake), 0);
	assert_int_equal(ring_front(&f->rx[1], &hdr, &p), 1);
	assert_int_equal(hdr.kind, RING_FORWARD);
	assert_int_equal(hdr.payload_len, 9);
	assert_memory_equal(p, "dstpacket", 9);
	for (size_t i = 0; i < KEY_LEN; i++)
		assert_int_equal(hdr.key[i], 0);
	ring_pop(&f->rx[1]);
	assert_empty(f, 1);
}

/* Chunks come back as records are read, and are used again. */
static void
test_chunks_reclaimed(void **state)
{
	struct fix *f = *state;
	uint32_t round, i;

	for (round = 0; round < 20; round++) {
		for (i = 0; i < QUOTA; i++)
			assert_int_equal(push(f, round & 1, BIG, NULL), 0);
		check_pool(f);
		for (i = 0; i < QUOTA; i++)
			pop_expect(f, round & 1, BIG);
		ring_tx_consumed(&f->tx[round & 1]);
		check_pool(f);
		assert_int_equal(f->pool.nfree, CHUNKS);
	}
}

/* Small records share a chunk; the descriptors bound how many are out. */
static void
test_descriptor_limit(void **state)
{
	struct fix *f = *state;
	uint32_t i;

	for (i = 0; i < RING_DESCS; i++)
		assert_int_equal(push(f, 0, 10, NULL), 0);
	assert_int_equal(push(f, 0, 10, NULL), -1);
	assert_int_equal(f->r[0]->drops, 1);
	assert_true(f->tx[0].held <= 1 + RING_DESCS * (HDR + 16) / POOL_CHUNK);
	pop_expect(f, 0, 10);
	assert_int_equal(push(f, 0, 10, NULL), 0);
	while (f->got[0] < f->seq[0])
		pop_expect(f, 0, 10);
	assert_empty(f, 0);
}

/*
 * A consumer that never reads pins its quota and no more: the other
 * consumer's records still go through, at full size, as many as its own
 * quota holds, and come out intact.
 */
static void
test_stuck_consumer_pins_only_its_quota(void **state)
{
	struct fix *f = *state;
	uint32_t i, round;

	for (i = 0; i < QUOTA; i++)
		assert_int_equal(push(f, 0, BIG, NULL), 0);
	assert_int_equal(push(f, 0, BIG, NULL), -1);	/* its quota */
	assert_int_equal(push(f, 0, 1, NULL), 0);	/* room left in its last */
	for (round = 0; round < 5; round++) {
		for (i = 0; i < QUOTA; i++)
			assert_int_equal(push(f, 1, BIG, NULL), 0);
		assert_int_equal(push(f, 1, BIG, NULL), -1);
		check_pool(f);
		for (i = 0; i < QUOTA; i++)
			pop_expect(f, 1, BIG);
	}
	assert_int_equal(f->tx[0].held, QUOTA);
}

static void
test_oversize_refused_not_wrapped(void **state)
{
	struct fix *f = *state;
	int wake;

	assert_int_equal(push(f, 0, RING_PAYLOAD_MAX + 1, NULL), -1);
	assert_int_equal(ring_push2(&f->tx[0], RING_PACKET, 0, 0, 0, NULL,
	    payload_buf, UINT32_MAX, payload_buf, 16, &wake), -1);
	assert_int_equal(ring_push2(&f->tx[0], RING_PACKET, 0, 0, 0, NULL,
	    payload_buf, 16, payload_buf, UINT32_MAX - 8, &wake), -1);
	assert_int_equal(f->r[0]->drops, 3);
	assert_int_equal(f->tx[0].held, 0);
	assert_int_equal(push(f, 0, RING_PAYLOAD_MAX, NULL), 0);
	pop_expect(f, 0, RING_PAYLOAD_MAX);
}

/* A wake-up only when the consumer had read everything (may be asleep). */
static void
test_wake_only_when_consumer_drained(void **state)
{
	struct fix *f = *state;
	int wake;

	assert_int_equal(push(f, 0, 5, &wake), 0);
	assert_true(wake);
	assert_int_equal(push(f, 0, 5, &wake), 0);
	assert_false(wake);
	pop_expect(f, 0, 5);
	pop_expect(f, 0, 5);
	assert_int_equal(push(f, 0, 5, &wake), 0);
	assert_true(wake);
}

/* The next descriptor, as a hostile producer may rewrite it. */
static struct ring_desc *
next_desc(struct fix *f, int i)
{
	return &f->r[i]->desc[f->rx[i].head % RING_DESCS];
}

static struct ring_rec *
next_rec(struct fix *f, int i)
{
	return (struct ring_rec *)(f->base + next_desc(f, i)->off);
}

/* After a corruption: one -1 (everything published skipped), then empty. */
static void
assert_discarded(struct fix *f, int i)
{
	struct ring_rec hdr;
	const uint8_t *p;

	assert_int_equal(ring_front(&f->rx[i], &hdr, &p), -1);
	assert_int_equal(*f->head[i], f->r[i]->tail);
	assert_empty(f, i);
	/* and the producer frees what the skipped records held */
	ring_tx_consumed(&f->tx[i]);
	assert_int_equal(f->tx[i].held, 0);
	check_pool(f);
}

static void
test_corrupt_descriptors(void **state)
{
	struct fix *f = *state;
	struct ring_desc bad[] = {
		{ .off = CHUNKS * POOL_CHUNK, .len = 64 },	/* past the pool */
		{ .off = CHUNKS * POOL_CHUNK - 56, .len = 64 },	/* runs off it */
		{ .off = 4, .len = 64 },			/* unaligned */
		{ .off = 0, .len = 60 },			/* not a multiple of 8 */
		{ .off = 0, .len = 8 },				/* shorter than a header */
		{ .off = 0, .len = POOL_CHUNK + 8 },		/* longer than a chunk */
		{ .off = UINT32_MAX - 7, .len = 16 },		/* wraps */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(push(f, 0, 100, NULL), 0);
		assert_int_equal(push(f, 0, 100, NULL), 0);
		*next_desc(f, 0) = bad[i];
		assert_discarded(f, 0);
		f->got[0] = f->seq[0];
	}
	/* the other consumer's records were never touched */
	assert_int_equal(push(f, 1, 100, NULL), 0);
	pop_expect(f, 1, 100);
}

/* A well-formed record at the pool's end, its descriptor running past it. */
static void
test_record_past_pool_end(void **state)
{
	struct fix *f = *state;
	struct ring_rec *rec;
	struct ring_desc *d;

	assert_int_equal(push(f, 0, 100, NULL), 0);
	d = next_desc(f, 0);
	rec = (struct ring_rec *)(f->base + d->off);
	memmove(f->base + CHUNKS * POOL_CHUNK - 64, rec, 64);
	rec = (struct ring_rec *)(f->base + CHUNKS * POOL_CHUNK - 64);
	rec->len = 128;
	rec->payload_len = 128 - HDR;
	d->off = CHUNKS * POOL_CHUNK - 64;
	d->len = 128;
	assert_discarded(f, 0);
}

static void
test_corrupt_records(void **state)
{
	struct fix *f = *state;
	int n;

	for (n = 0; n < 4; n++) {
		assert_int_equal(push(f, 0, 100, NULL), 0);
		switch (n) {
		case 0:
			next_rec(f, 0)->kind = RING_KIND_MAX;
			break;
		case 1:
			next_rec(f, 0)->kind = RING_NONE;
			break;
		case 2:
			next_rec(f, 0)->len += 8;	/* disagrees with its descriptor */
			break;
		case 3:
			next_rec(f, 0)->payload_len = next_desc(f, 0)->len - HDR + 1;
			break;
		}
		assert_discarded(f, 0);
		f->got[0] = f->seq[0];
	}
}

/* What ring_front returned is a copy: later writes do not reach it. */
static void
test_header_changed_after_front_is_not_seen(void **state)
{
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;

	assert_int_equal(push(f, 0, 100, NULL), 0);
	assert_int_equal(ring_front(&f->rx[0], &hdr, &p), 1);
	next_rec(f, 0)->payload_len = UINT32_MAX;
	next_desc(f, 0)->len = UINT32_MAX;
	assert_int_equal(hdr.payload_len, 100);
	ring_pop(&f->rx[0]);
}

static void
test_corrupt_tail_jumps(void **state)
{
	struct fix *f = *state;
	struct ring_rec hdr;
	const uint8_t *p;

	assert_int_equal(push(f, 0, 100, NULL), 0);
	f->r[0]->tail += RING_DESCS + 1;	/* more than a ring ahead */
	assert_int_equal(ring_front(&f->rx[0], &hdr, &p), -1);
	/* the head that followed the lie is not believed: the chunk stays */
	assert_int_equal(ring_tx_consumed(&f->tx[0]), f->tx[0].tail - 1);
	assert_int_equal(f->tx[0].held, 1);
	/* the next push publishes the true tail; the reader starts over there */
	assert_int_equal(push(f, 0, 100, NULL), 0);
	assert_int_equal(ring_front(&f->rx[0], &hdr, &p), -1);
	assert_empty(f, 0);
	assert_int_equal(ring_tx_consumed(&f->tx[0]), f->tx[0].tail);
	assert_int_equal(f->tx[0].held, 0);
	f->got[0] = f->seq[0];
	assert_int_equal(push(f, 0, 100, NULL), 0);
	pop_expect(f, 0, 100);
}

/* A head beyond what was published, or going backwards, is not believed:
 * the chunks stay held, the records intact. */
static void
test_hostile_head_not_believed(void **state)
{
	struct fix *f = *state;
	uint32_t i;

	for (i = 0; i < QUOTA; i++)
		assert_int_equal(push(f, 0, BIG, NULL), 0);
	*f->head[0] = f->tx[0].tail + 1;
	assert_int_equal(ring_tx_consumed(&f->tx[0]), 0);
	*f->head[0] = UINT64_MAX;
	assert_int_equal(ring_tx_consumed(&f->tx[0]), 0);
	assert_int_equal(f->tx[0].held, QUOTA);
	*f->head[0] = 2;
	assert_int_equal(ring_tx_consumed(&f->tx[0]), 2);
	*f->head[0] = 1;			/* backwards */
	assert_int_equal(ring_tx_consumed(&f->tx[0]), 2);
	assert_int_equal(f->tx[0].held, QUOTA - 2);
	check_pool(f);
	/* the honest reader finds what it has not read intact */
	f->rx[0].head = 2;
	f->got[0] = 2;
	pop_expect(f, 0, BIG);
	pop_expect(f, 0, BIG);
	assert_empty(f, 0);
}

/* Restarts: a new producer resumes at the consumer's head with an empty
 * ring; a new consumer at the producer's tail, which frees everything. */
static void
test_restarts(void **state)
{
	struct fix *f = *state;

	assert_int_equal(push(f, 0, 100, NULL), 0);
	assert_int_equal(push(f, 0, 100, NULL), 0);
	pop_expect(f, 0, 100);
	pool_free(&f->pool);
	assert_int_equal(pool_init(&f->pool, f->base, CHUNKS, QUOTA), 0);
	ring_tx_start(&f->tx[0], f->r[0], f->head[0], &f->pool);
	ring_tx_start(&f->tx[1], f->r[1], f->head[1], &f->pool);
	assert_empty(f, 0);
	f->seq[0] = f->got[0];
	assert_int_equal(push(f, 0, 100, NULL), 0);
	pop_expect(f, 0, 100);

	assert_int_equal(push(f, 0, BIG, NULL), 0);
	assert_int_equal(push(f, 0, BIG, NULL), 0);
	ring_rx_start(&f->rx[0], f->r[0], f->base, (size_t)CHUNKS * POOL_CHUNK,
	    f->head[0]);
	assert_empty(f, 0);
	ring_tx_consumed(&f->tx[0]);
	assert_int_equal(f->tx[0].held, 0);
	check_pool(f);
}

/* Positions are modular: nothing changes across 2^64. */
static void
test_positions_wrap_2_64(void **state)
{
	struct fix *f = *state;
	uint32_t i;

	*f->head[0] = UINT64_MAX - 3;
	ring_tx_start(&f->tx[0], f->r[0], f->head[0], &f->pool);
	ring_rx_start(&f->rx[0], f->r[0], f->base, (size_t)CHUNKS * POOL_CHUNK,
	    f->head[0]);
	for (i = 0; i < 3 * QUOTA; i++) {
		assert_int_equal(push(f, 0, BIG, NULL), 0);
		assert_int_equal(push(f, 0, 5, NULL), 0);
		pop_expect(f, 0, BIG);
		pop_expect(f, 0, 5);
		check_pool(f);
	}
	assert_true(f->rx[0].head < 100);
	ring_tx_consumed(&f->tx[0]);
	assert_int_equal(f->tx[0].held, 0);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fifo_order_and_payload),
		T(test_two_payload_parts_and_null_key),
		T(test_chunks_reclaimed),
		T(test_descriptor_limit),
		T(test_stuck_consumer_pins_only_its_quota),
		T(test_oversize_refused_not_wrapped),
		T(test_wake_only_when_consumer_drained),
		T(test_corrupt_descriptors),
		T(test_record_past_pool_end),
		T(test_corrupt_records),
		T(test_header_changed_after_front_is_not_seen),
		T(test_corrupt_tail_jumps),
		T(test_hostile_head_not_believed),
		T(test_restarts),
		T(test_positions_wrap_2_64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
