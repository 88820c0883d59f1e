/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/ring.c and common/pool.c: one producer, two
 * consumers, each side surviving the others being hostile. The producer's
 * region holds its descriptor ring to each consumer and the packet pool
 * both share; each consumer's head word is in its own region. Consumer 0
 * may be hostile (it writes whatever it likes into its head word), consumer
 * 1 is honest; the producer may be hostile too (it scribbles on its pool,
 * its descriptors and its tail words).
 *
 * The input is a script. Each step is one of:
 *   - ring_push to either consumer, once or many times over, of a record
 *     whose kind and size come from the input (up to the largest);
 *   - consuming like worker/inbox.c does: ring_front, copy payload_len
 *     bytes of the payload out, ring_pop; or with something happening
 *     between ring_front and the copy (a push, a scribble, a lie);
 *   - a hostile consumer 0: a new value for its head word, relative to what
 *     it has read or absolute;
 *   - a hostile producer: bytes written into the pool, a descriptor, or a
 *     tail word;
 *   - ring_tx_consumed (the producer looking at what was read);
 *   - restarting the producer (a fresh pool) or a consumer, as new
 *     incarnations of workers do, possibly at positions near 2^64.
 * The pool, the rings and the head words are allocated at exactly their
 * size, so ASan sees any access past them.
 *
 * Invariants, always: what ring_front returns lies within the pool; every
 * chunk is free or held by exactly one ring, within its quota; the head the
 * producer believes never passes its tail nor lags it by more than
 * RING_DESCS records. While the producer is honest: consumer 1 gets exactly
 * the records pushed to it, in order, intact, with no resets, whatever
 * consumer 0 writes; a push to consumer 1 fails only for its own reasons
 * (no descriptor free, or its quota spent), never for what consumer 0 pins;
 * and the same holds for consumer 0 as long as it has not lied.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "fuzz.h"

#define QUOTA		3
#define CHUNKS		(2 * QUOTA)
#define POOL_BYTES	((size_t)CHUNKS * POOL_CHUNK)
#define FIFO_MAX	RING_DESCS

struct script {
	const uint8_t	*p;
	size_t		 n;
};

struct pushed {
	uint16_t	kind;
	uint32_t	seq, len;
};

struct side {
	struct ring	*r;		/* in the producer's region */
	uint64_t	*head;		/* in the consumer's region */
	struct ring_tx	 tx;
	struct ring_rx	 rx;
	struct pushed	 fifo[FIFO_MAX];
	uint32_t	 fifo_head, fifo_len;
	int		 lied;		/* consumer 0 wrote a head of its own */
};

static uint8_t *base;			/* the pool, in the producer's region */
static struct pool pool;
static struct side side[2];
static int producer_lied;
static uint32_t seq;
static uint8_t payload[RING_PAYLOAD_MAX];
static uint8_t sink[RING_PAYLOAD_MAX];

static uint8_t
get8(struct script *s)
{
	uint8_t v = 0;

	if (s->n > 0) {
		v = *s->p++;
		s->n--;
	}
	return v;
}

static uint32_t
get32(struct script *s)
{
	return get8(s) | (uint32_t)get8(s) << 8 | (uint32_t)get8(s) << 16 |
	    (uint32_t)get8(s) << 24;
}

static uint64_t
get64(struct script *s)
{
	return get32(s) | (uint64_t)get32(s) << 32;
}

static inline uint8_t
pbyte(uint32_t sq, uint32_t i)
{
	return (uint8_t)(sq * 131 + i * 7 + (i >> 8));
}

/*
 * A payload's bytes, and whether p holds them: loops over up to 64 KiB
 * that tell the fuzzer nothing, so kept out of its coverage (traced, they
 * were nine tenths of its time).
 */
__attribute__((no_sanitize("coverage"), noinline)) static void
payload_fill(uint8_t *p, uint32_t sq, uint32_t len)
{
	for (uint32_t k = 0; k < len; k++)
		p[k] = pbyte(sq, k);
}

__attribute__((no_sanitize("coverage"), noinline)) static int
payload_is(const uint8_t *p, uint32_t sq, uint32_t len)
{
	for (uint32_t k = 0; k < len; k++)
		if (p[k] != pbyte(sq, k))
			return 0;
	return 1;
}

static int
clean(const struct side *sd)
{
	return !producer_lied && !sd->lied;
}

static void
fifo_clear(struct side *sd)
{
	sd->fifo_head = sd->fifo_len = 0;
}

/* Every chunk free or in exactly one ring's list, within its quota. */
static void
check_pool(void)
{
	uint8_t seen[CHUNKS] = { 0 };
	uint32_t c, n, held = 0, nfree = 0;
	int i;

	for (i = 0; i < 2; i++) {
		struct ring_tx *tx = &side[i].tx;

		CHECK(tx->held <= QUOTA);
		CHECK(tx->tail - tx->head_seen <= RING_DESCS);
		for (n = 0, c = tx->first; c != POOL_NONE; c = pool.next[c], n++) {
			CHECK(c < CHUNKS && !seen[c] && n < CHUNKS);
			seen[c] = 1;
		}
		CHECK(n == tx->held);
		held += n;
	}
	for (c = pool.free; c != POOL_NONE; c = pool.next[c], nfree++) {
		CHECK(c < CHUNKS && !seen[c]);
		seen[c] = 1;
	}
	CHECK(nfree == pool.nfree && held + nfree == CHUNKS);
}

static uint32_t
record_len(uint32_t len)
{
	return (sizeof(struct ring_rec) + len + 7) & ~7u;
}

static void
push(int i, uint16_t kind, uint32_t len)
{
	struct side *sd = &side[i];
	struct ring_tx *tx = &sd->tx;
	uint8_t key[KEY_LEN];
	int wake, rc, fits;

	ring_tx_consumed(tx);
	/* Whether it fits by this ring's own limits alone. */
	fits = tx->tail - tx->head_seen < RING_DESCS &&
	    ((tx->last != POOL_NONE && POOL_CHUNK - tx->fill >= record_len(len)) ||
	    tx->held < QUOTA);
	payload_fill(payload, seq, len);
	memset(key, (int)seq, sizeof(key));
	rc = ring_push(tx, kind, seq, ~seq, seq ^ 7, key, payload, len, &wake);
	/*
	 * The other ring holds at most its quota, lie as its consumer may, so
	 * chunks are never short; and scribbles in shared memory do not reach
	 * the producer's own bookkeeping.
	 */
	CHECK(rc == (fits ? 0 : -1));
	if (rc == 0 && sd->fifo_len < FIFO_MAX) {
		sd->fifo[(sd->fifo_head + sd->fifo_len) % FIFO_MAX] =
		    (struct pushed){ kind, seq, len };
		sd->fifo_len++;
	}
	seq++;
	check_pool();
}

/* One record read as worker/inbox.c does; between: what `between` does. */
static int
consume_one(struct script *s, int i, int between)
{
	struct side *sd = &side[i];
	struct ring_rec hdr;
	const uint8_t *p;
	struct pushed want;
	int rc = ring_front(&sd->rx, &hdr, &p);

	if (rc < 0) {
		CHECK(!clean(sd));
		fifo_clear(sd);
		return 0;
	}
	if (rc == 0) {
		if (clean(sd))
			CHECK(sd->fifo_len == 0);
		return 0;
	}
	CHECK(p >= base + sizeof(hdr) && p + hdr.payload_len <= base + POOL_BYTES);
	CHECK(hdr.kind != RING_NONE && hdr.kind < RING_KIND_MAX);
	if (between == 1)
		push(get8(s) & 1, RING_PACKET, get8(s));
	else if (between == 2) {
		memset(base + get32(s) % (POOL_BYTES - 8), get8(s), 8);
		producer_lied = 1;
	}
	memcpy(sink, p, hdr.payload_len);
	if (clean(sd) && sd->fifo_len > 0) {
		want = sd->fifo[sd->fifo_head];
		CHECK(hdr.kind == want.kind && hdr.slot == want.seq &&
		    hdr.gen == ~want.seq && hdr.epoch == (want.seq ^ 7) &&
		    hdr.key[0] == (uint8_t)want.seq && hdr.payload_len == want.len);
		CHECK(payload_is(sink, (uint32_t)want.seq, want.len));
	} else if (clean(sd))
		CHECK(0);	/* a record nobody pushed */
	if (sd->fifo_len > 0) {
		sd->fifo_head = (sd->fifo_head + 1) % FIFO_MAX;
		sd->fifo_len--;
	}
	ring_pop(&sd->rx);
	return 1;
}

static void
rx_start(int i)
{
	ring_rx_start(&side[i].rx, side[i].r, base, POOL_BYTES, side[i].head);
	fifo_clear(&side[i]);
}

/* A new incarnation of the producer: a fresh pool; the consumers notice. */
static void
restart_producer(void)
{
	int i;

	pool_free(&pool);
	if (pool_init(&pool, base, CHUNKS, QUOTA) != 0)
		abort();
	for (i = 0; i < 2; i++) {
		ring_tx_start(&side[i].tx, side[i].r, side[i].head, &pool);
		rx_start(i);	/* an honest head again */
		side[i].lied = 0;
	}
	producer_lied = 0;
}

static void
hostile_producer(struct script *s)
{
	uint8_t what = get8(s);
	struct side *sd = &side[what & 1];
	uint32_t off, n;

	producer_lied = 1;
	switch ((what >> 1) % 3) {
	case 0:
		off = get32(s) % POOL_BYTES;
		n = get8(s) % 16 + 1;
		if (n > POOL_BYTES - off)
			n = POOL_BYTES - off;
		for (uint32_t k = 0; k < n; k++)
			base[off + k] = get8(s);
		break;
	case 1:
		sd->r->desc[get8(s) % RING_DESCS].off = get32(s);
		sd->r->desc[get8(s) % RING_DESCS].len = get32(s);
		break;
	default:
		__atomic_store_n(&sd->r->tail, sd->r->tail + (int32_t)get32(s),
		    __ATOMIC_RELEASE);
		break;
	}
}

/* Consumer 0 lies about what it has read. */
static void
hostile_consumer(struct script *s)
{
	uint64_t v = get8(s) & 1 ? get64(s) :
	    side[0].rx.head + (int64_t)(int32_t)get32(s);

	__atomic_store_n(side[0].head, v, __ATOMIC_RELEASE);
	side[0].lied = 1;
}

static void
setup(void)
{
	int i;

	base = malloc(POOL_BYTES);
	for (i = 0; i < 2; i++) {
		side[i].r = malloc(sizeof(struct ring));
		side[i].head = malloc(sizeof(uint64_t));
		if (side[i].r == NULL || side[i].head == NULL)
			abort();
	}
	if (base == NULL)
		abort();
}

static void
reset(uint64_t start)
{
	int i;

	memset(base, 0xa5, POOL_BYTES);	/* no reliance on zeroes */
	for (i = 0; i < 2; i++) {
		memset(side[i].r, 0xa5, sizeof(struct ring));
		*side[i].head = start;
	}
	restart_producer();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };
	uint8_t op, arg;
	int n;

	if (base == NULL)
		setup();
	seq = 0;
	reset(0);
	while (s.n > 0) {
		op = get8(&s);
		arg = get8(&s);
		switch (op % 10) {
		case 0:		/* a push; arg: ring, size class */
			push(arg & 1, 1 + get8(&s) % (RING_KIND_MAX - 1),
			    arg & 2 ? RING_PAYLOAD_MAX - get8(&s) * 64 : get8(&s) * 9);
			break;
		case 1:		/* many of the largest, to fill */
			for (n = 0; n <= (arg >> 1) % 32; n++)
				push(arg & 1, RING_PACKET, 65536 + KEY_LEN);
			break;
		case 2:		/* read up to arg >> 1 records */
			for (n = 0; n < (arg >> 1) && consume_one(&s, arg & 1, 0); n++)
				;
			break;
		case 3:		/* read one with something in between */
			consume_one(&s, arg & 1, 1 + (arg >> 1) % 2);
			break;
		case 4:
			hostile_consumer(&s);
			break;
		case 5:
			hostile_producer(&s);
			break;
		case 6:
			ring_tx_consumed(&side[arg & 1].tx);
			check_pool();
			break;
		case 7:
			restart_producer();
			break;
		case 8:		/* a new consumer; a new 0 has not lied */
			rx_start(arg & 1);
			side[arg & 1].lied = 0;
			break;
		case 9:		/* everything anew, near 2^64 */
			reset(UINT64_MAX - arg);
			break;
		}
		check_pool();
	}
	/* Honest consumers drain what is left. */
	for (n = 0; n < RING_DESCS + 1 && consume_one(&s, 1, 0); n++)
		;
	CHECK(!clean(&side[1]) || side[1].fifo_len == 0);
	return 0;
}
