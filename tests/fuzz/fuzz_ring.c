/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/ring.c: each side of a ring must survive the
 * other being hostile. The ring (data and tail) is in the producer's region,
 * which the consumer maps read-only; the consumer's head word is in the
 * consumer's region, which the producer maps read-only. Either worker may be
 * compromised and write whatever it likes into its own region.
 *
 * The input is a script. Each step is one of:
 *   - a hostile producer: raw writes into the data area, over the header
 *     fields of the record at head/tail, or over the published tail word;
 *   - a hostile consumer: a new value for its published head word;
 *   - ring_push of a record whose size, kind, slot, gen and epoch come from
 *     the input, once or many times over (to fill the ring);
 *   - consuming like worker/inbox.c does: ring_front, copy payload_len bytes
 *     of the payload out, ring_pop; also with something happening between
 *     ring_front and the copy: the record scribbled on, the head word
 *     scribbled on, or a legitimate push;
 *   - restarting either side (ring_tx_start, ring_rx_start), as a new
 *     incarnation of a worker does, or both at a position of the script's
 *     choosing (near 2^64, say: positions are modular).
 * The ring is allocated at exactly ring_size(RING_MIN_SIZE) bytes and the
 * head word at exactly 8, so ASan sees any access past either.
 *
 * Invariants, always: whatever ring_front returns lies within the data area
 * and is a well-formed non-PAD record; draining always ends; the producer's
 * private positions stay aligned and at most a ring apart, the head it
 * believes never goes backwards nor past its tail (modulo 2^64), and a push
 * never changes a byte the producer must still count as unconsumed. While
 * nobody has scribbled on the ring and the producer has not believed a head
 * beyond the real consumer's, a push succeeds exactly when it fits, records
 * come out exactly as they were pushed, in order, with no resets, and a
 * restarted producer leaves the consumer an empty ring (not a reset).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "fuzz.h"

#define SIZE		RING_MIN_SIZE
#define HDR		sizeof(struct ring_rec)
#define FIFO_MAX	(SIZE / HDR + 1)	/* most records the ring holds */

struct script {
	const uint8_t	*p;
	size_t		 n;
};

struct pushed {
	uint16_t	kind;
	uint32_t	slot, gen, epoch, payload_len, seq;
	int		has_key;
};

/* A push as the script asked for it. */
struct push_args {
	uint16_t	kind;
	uint32_t	payload_len, slot, gen, epoch;
	int		no_key;
};

static struct ring *r;			/* the producer's region */
static uint64_t *head;			/* the consumer's region */
static struct ring_tx tx;		/* the producer's private view */
static struct ring_rx rx;		/* the consumer's private view */
/* Payloads are windows into noise; only ones that fit are ever read. */
static uint8_t stream[SIZE + SIZE / 2];
static uint8_t sink[SIZE];		/* where the consumer copies to */
static uint8_t shadow[SIZE];		/* unconsumed bytes before a push */
static struct pushed fifo[FIFO_MAX];
static size_t fifo_head, fifo_len;
static uint32_t seq;
static int clean;	/* nobody scribbled; no hostile head believed */

static uint8_t
get8(struct script *s)
{
	uint8_t v;

	if (s == NULL || s->n == 0)
		return 0;
	v = *s->p++;
	s->n--;
	return v;
}

/* Little-endian; each byte read in its own statement (C leaves the order
 * of operands unspecified). */
static uint16_t
get16(struct script *s)
{
	uint16_t lo = get8(s);

	return (uint16_t)(lo | get8(s) << 8);
}

static uint32_t
get32(struct script *s)
{
	uint32_t lo = get16(s);

	return lo | (uint32_t)get16(s) << 16;
}

static uint64_t
get64(struct script *s)
{
	uint64_t lo = get32(s);

	return lo | (uint64_t)get32(s) << 32;
}

/* Record sq's payload starts here: any mix-up of records shows. */
static const uint8_t *
payload_of(uint32_t sq)
{
	return stream + (sq * 7919u) % SIZE;
}

static uint32_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)*x;
}

static void
make_key(uint8_t key[KEY_LEN], uint32_t sq)
{
	memset(key, (int)(sq & 0xff), KEY_LEN);
	memcpy(key, &sq, sizeof(sq));
}

static uint64_t
load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
store64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static void
fifo_clear(void)
{
	fifo_head = fifo_len = 0;
}

/* A new value for a head or tail word, near the other one or anywhere. */
static uint64_t
new_offset(struct script *s, uint64_t cur, uint64_t other)
{
	switch (get8(s) % 6) {
	case 0:
		return get64(s);
	case 1:
		return other + (uint64_t)(int64_t)(int32_t)get32(s);
	case 2:
		return cur + get16(s);
	case 3:
		return cur + 8 * (uint64_t)get8(s);
	case 4:
		return cur - 8 * (uint64_t)get8(s);
	default:	/* near the end of the buffer */
		return (cur & ~(uint64_t)(SIZE - 1)) + SIZE - get8(s) % 64;
	}
}

/* Copies script bytes over the data area at off (clamped to the area). */
static void
scribble(struct script *s, uint32_t off, size_t n)
{
	off &= SIZE - 1;
	if (n > s->n)
		n = s->n;
	if (n > SIZE - off)
		n = SIZE - off;
	memcpy(r->data + off, s->p, n);
	s->p += n;
	s->n -= n;
	if (n > 0)
		clean = 0;
}

/* Overwrites one header field of the record at head or at tail. */
static void
scribble_field(struct script *s)
{
	static const uint8_t fields[] = {
		offsetof(struct ring_rec, len),
		offsetof(struct ring_rec, kind),
		offsetof(struct ring_rec, payload_len),
		offsetof(struct ring_rec, slot),
	};
	uint8_t which = get8(s);
	uint64_t base = which & 1 ? load64(&r->tail) : rx.head;
	uint32_t off = (uint32_t)base + fields[(which >> 1) % sizeof(fields)];
	uint32_t v;

	switch ((which >> 3) % 4) {
	case 0:
		v = get32(s);
		break;
	case 1:
		v = SIZE - ((uint32_t)base & (SIZE - 1));	/* to_end */
		break;
	case 2:
		v = (uint32_t)(load64(&r->tail) - rx.head);	/* avail */
		break;
	default:
		v = 8 * (uint32_t)get8(s);
		break;
	}
	off &= SIZE - 1;
	if (off + sizeof(v) <= SIZE) {
		memcpy(r->data + off, &v, sizeof(v));
		clean = 0;
	}
}

/* The hostile consumer publishes a head of its choosing. */
static void
scribble_head(struct script *s)
{
	uint64_t other = get8(s) & 1 ? tx.tail : rx.head;

	store64(head, new_offset(s, load64(head), other));
}

/* Logical bytes [from, to) of the data area, wrapping, to or from buf. */
static void
copy_region(uint8_t *buf, uint64_t from, uint64_t to)
{
	uint32_t pos = (uint32_t)(from & (SIZE - 1));
	uint64_t n = to - from, first = n < SIZE - pos ? n : SIZE - pos;

	memcpy(buf, r->data + pos, first);
	memcpy(buf + first, r->data, n - first);
}

/* Whether logical bytes [from, to) still hold what shadow saved (it starts
 * at saved_from). */
static int
region_unchanged(uint64_t saved_from, uint64_t from, uint64_t to)
{
	const uint8_t *was = shadow + (from - saved_from);
	uint32_t pos = (uint32_t)(from & (SIZE - 1));
	uint64_t n = to - from, first = n < SIZE - pos ? n : SIZE - pos;

	return memcmp(r->data + pos, was, first) == 0 &&
	    memcmp(r->data, was + first, n - first) == 0;
}

static void
parse_push(struct script *s, struct push_args *a)
{
	uint8_t kb = get8(s), lb = get8(s);

	a->kind = kb & 0x80 ? (uint16_t)(kb | get8(s) << 8) : kb % RING_KIND_MAX;
	switch (lb % 5) {
	case 0:
		a->payload_len = get8(s);
		break;
	case 1:
		a->payload_len = get16(s);
		break;
	case 2:
		a->payload_len = 65536 + get8(s) % 128;	/* forwarded packets */
		break;
	case 3:
		a->payload_len = get32(s) % (SIZE + 1);
		break;
	default:	/* anything: must be refused unread beyond SIZE / 2 */
		a->payload_len = get32(s);
		break;
	}
	a->no_key = lb & 0x80;
	a->slot = get32(s);
	a->gen = get32(s);
	a->epoch = get32(s);
}

/* What a clean producer must do: refuse exactly what does not fit. */
static void
check_clean_push(const struct push_args *a, int rc, int wake,
    uint64_t tail, uint64_t believable, uint64_t hw)
{
	uint32_t len, need, pos, to_end;

	len = (uint32_t)((HDR + a->payload_len + 7) & ~(size_t)7);
	pos = (uint32_t)(tail & (SIZE - 1));
	to_end = SIZE - pos;
	need = len <= to_end ? len : to_end + len;
	CHECK(tx.head_seen == believable);
	if (a->payload_len > SIZE / 2 || len > SIZE / 2 ||
	    SIZE - (tail - believable) < need) {
		CHECK(rc == -1);
		return;
	}
	CHECK(rc == 0);
	CHECK(tx.tail == tail + need);
	if (hw == rx.head)	/* an honest head: wake iff it had drained */
		CHECK(wake == (rx.head == tail));
	if (a->kind == RING_PAD || a->kind >= RING_KIND_MAX) {
		clean = 0;	/* a record the consumer must refuse */
		return;
	}
	CHECK(fifo_len < FIFO_MAX);
	fifo[(fifo_head + fifo_len++) % FIFO_MAX] = (struct pushed){
		a->kind, a->slot, a->gen, a->epoch, a->payload_len, seq,
		!a->no_key };
}

static void
push_one(const struct push_args *a)
{
	uint8_t key[KEY_LEN];
	uint64_t tail = tx.tail, seen = tx.head_seen, hw = load64(head);
	uint64_t believable;
	uint64_t drops = load64(&r->drops);
	int wake = -1, rc;

	/* The rule: a head is believed if it moves forward, up to the tail. */
	believable = hw - seen <= tail - seen && (hw & 7) == 0 ? hw : seen;
	seq++;
	make_key(key, seq);
	copy_region(shadow, seen, tail);

	rc = ring_push(&tx, a->kind, a->slot, a->gen, a->epoch,
	    a->no_key ? NULL : key, payload_of(seq), a->payload_len, &wake);
	CHECK(rc == 0 || rc == -1);
	CHECK(wake == 0 || wake == 1);
	CHECK(rc == 0 || wake == 0);
	CHECK(tx.tail % 8 == 0 && tx.head_seen % 8 == 0);
	CHECK(tx.head_seen - seen <= tail - seen);
	CHECK(tx.tail - tx.head_seen <= SIZE);
	CHECK(load64(&r->tail) == tx.tail || rc == -1);
	CHECK(rc == 0 ? tx.tail != tail : tx.tail == tail);
	CHECK(load64(&r->drops) == drops + (rc == -1));
	/* Nothing it must count as unconsumed was overwritten. */
	CHECK(region_unchanged(seen, tx.head_seen, tail));
	/* Believing more than the real consumer read: its data may be gone. */
	if (tail - tx.head_seen < tail - rx.head)
		clean = 0;
	if (clean)
		check_clean_push(a, rc, wake, tail, believable, hw);
}

static void
do_push(struct script *s, int times)
{
	struct push_args a;

	parse_push(s, &a);
	while (times-- > 0)
		push_one(&a);
}

/* What worker/inbox.c does with a record: reads payload_len bytes. */
static void
use_record(const struct ring_rec *hdr, const uint8_t *payload)
{
	uint8_t key[KEY_LEN];
	uintptr_t off;

	CHECK(hdr->kind != RING_PAD && hdr->kind < RING_KIND_MAX);
	CHECK(hdr->len >= HDR && hdr->len % 8 == 0 && hdr->len <= SIZE);
	CHECK(hdr->payload_len <= hdr->len - HDR);
	/* Compare addresses as integers: no pointer is formed out of range. */
	CHECK((uintptr_t)payload >= (uintptr_t)r->data + HDR);
	off = (uintptr_t)payload - (uintptr_t)r->data;
	CHECK(off <= SIZE);
	CHECK(hdr->payload_len <= SIZE - off);
	CHECK(off - HDR + hdr->len <= SIZE);
	memcpy(sink, payload, hdr->payload_len);
	if (hdr->kind == RING_PEER_PRESENT && hdr->payload_len == 19)
		(void)(payload[16] << 8 | payload[17] | payload[18]);

	if (!clean)
		return;
	CHECK(fifo_len > 0);
	{
		const struct pushed *w = &fifo[fifo_head];

		CHECK(hdr->kind == w->kind);
		CHECK(hdr->slot == w->slot && hdr->gen == w->gen);
		CHECK(hdr->epoch == w->epoch);
		CHECK(hdr->payload_len == w->payload_len);
		CHECK(hdr->len == ((HDR + w->payload_len + 7) & ~(size_t)7));
		if (w->has_key) {
			make_key(key, w->seq);
			CHECK(memcmp(hdr->key, key, KEY_LEN) == 0);
		} else {
			memset(key, 0, sizeof(key));
			CHECK(memcmp(hdr->key, key, KEY_LEN) == 0);
		}
		CHECK(memcmp(sink, payload_of(w->seq), w->payload_len) == 0);
	}
	fifo_head = (fifo_head + 1) % FIFO_MAX;
	fifo_len--;
}

/* Between ring_front and the copy: either side misbehaves, or the producer
 * just carries on. */
static void
meanwhile(struct script *s, const uint8_t *payload)
{
	uint8_t which = get8(s);

	switch (which % 4) {
	case 0:
		scribble(s, (uint32_t)(payload - HDR - r->data) + (which >> 2),
		    1 + get8(s) % 16);
		break;
	case 1:
		scribble_field(s);
		break;
	case 2:
		scribble_head(s);
		break;
	default:
		do_push(s, 1 + (which >> 2) % 8);
		break;
	}
}

/* One ring_front/ring_pop; racing: something happens in between. */
static int
consume_one(struct script *s, int racing)
{
	struct ring_rec hdr;
	const uint8_t *payload = NULL;
	int rc;

	rc = ring_front(&rx, &hdr, &payload);
	CHECK(rc == -1 || rc == 0 || rc == 1);
	if (rc == -1) {
		CHECK(!clean);
		CHECK(load64(head) == rx.head);
		CHECK(rx.head == (load64(&r->tail) & ~(uint64_t)7));
		fifo_clear();
		return 0;
	}
	if (rc == 0) {
		if (clean)
			CHECK(fifo_len == 0);
		return 0;
	}
	if (racing)
		meanwhile(s, payload);
	use_record(&hdr, payload);
	ring_pop(&rx, &hdr);
	CHECK(load64(head) == rx.head);
	return 1;
}

/* Draining must end: every record moves head forward, towards tail. */
static void
drain(void)
{
	size_t n;

	for (n = 0; n < SIZE / 8 + 2; n++)
		if (!consume_one(NULL, 0))
			return;
	CHECK(!"ring_front never ran dry");
}

/* A new incarnation of the producer: resumes at the published head. */
static void
restart_producer(void)
{
	struct ring_rec hdr;
	const uint8_t *payload;
	uint64_t hw = load64(head);

	ring_tx_start(&tx, r, head, SIZE);
	CHECK(tx.tail == (hw & ~(uint64_t)7) && tx.head_seen == tx.tail);
	CHECK(load64(&r->tail) == tx.tail && load64(&r->drops) == 0);
	if (!clean)
		return;
	if (hw != rx.head) {		/* it resumed where a liar said */
		clean = 0;
		return;
	}
	fifo_clear();
	CHECK(ring_front(&rx, &hdr, &payload) == 0);	/* empty, no reset */
}

/* A new incarnation of the consumer: resumes at the tail, reads nothing old. */
static void
restart_consumer(void)
{
	struct ring_rec hdr;
	const uint8_t *payload;

	ring_rx_start(&rx, r, head, SIZE);
	CHECK(rx.head == (load64(&r->tail) & ~(uint64_t)7));
	CHECK(load64(head) == rx.head);
	fifo_clear();
	if (clean)
		CHECK(ring_front(&rx, &hdr, &payload) == 0);
}

/*
 * Both sides restarted at one position, as after a long life: a consistent
 * state whatever happened before, so checking starts afresh.
 */
static void
rebase(struct script *s)
{
	uint64_t pos;

	switch (get8(s) % 3) {
	case 0:
		pos = get64(s);
		break;
	case 1:		/* just before positions wrap */
		pos = (uint64_t)0 - 8 * (uint64_t)get16(s);
		break;
	default:
		pos = tx.tail + get32(s);
		break;
	}
	store64(head, pos);
	ring_tx_start(&tx, r, head, SIZE);
	ring_rx_start(&rx, r, head, SIZE);
	CHECK(tx.tail == (pos & ~(uint64_t)7) && rx.head == tx.tail);
	fifo_clear();
	clean = 1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	(void)argc;
	(void)argv;
	/* Exactly their sizes: ASan's redzones start right after. */
	r = malloc(ring_size(SIZE));
	head = malloc(sizeof(*head));
	if (r == NULL || head == NULL)
		abort();
	for (i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(xorshift(&x) >> 24);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };
	uint32_t n;

	memset(r, 0x5c, ring_size(SIZE));	/* no reliance on zeroes */
	*head = 0;
	ring_tx_start(&tx, r, head, SIZE);
	ring_rx_start(&rx, r, head, SIZE);
	memset(r->data, 0, SIZE);
	fifo_clear();
	seq = 0;
	clean = 1;

	while (s.n > 0) {
		switch (get8(&s) % 14) {
		case 0:
			n = get32(&s);
			scribble(&s, n, 1 + get8(&s));
			break;
		case 1:
			scribble_field(&s);
			break;
		case 2:
			store64(&r->tail, new_offset(&s, load64(&r->tail),
			    rx.head));
			clean = 0;
			break;
		case 3:
			scribble_head(&s);
			break;
		case 4:
			do_push(&s, 1);
			break;
		case 5:
			n = get8(&s);
			do_push(&s, (int)n % 64 + 1);
			break;
		case 6:
			for (n = get8(&s) % 32 + 1; n > 0; n--)
				if (!consume_one(&s, 0))
					break;
			break;
		case 7:
		case 8:
			consume_one(&s, 1);
			break;
		case 9:
			restart_producer();
			break;
		case 10:
			restart_consumer();
			break;
		case 12:
			rebase(&s);
			break;
		default:
			drain();
			break;
		}
	}
	drain();
	return 0;
}
