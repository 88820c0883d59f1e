/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/ring.c. A ring joins two workers, each of
 * which may be compromised: the consumer must survive a hostile producer
 * (the ring and its tail live in the producer's region), and the producer a
 * hostile consumer (the head word lives in the consumer's region). The
 * harness holds both private views (struct ring_tx, struct ring_rx) over one
 * struct ring and one head word, as two processes would.
 *
 * The input is a script. Each step is one of:
 *   - raw writes into the ring's data area, or over the header fields of the
 *     record at head/tail, as a compromised producer would;
 *   - overwriting the published tail (a hostile producer) or the published
 *     head (a hostile consumer);
 *   - ring_push of a record whose size, kind, slot, gen and epoch come from
 *     the input;
 *   - consuming like worker/inbox.c does: ring_front, copy payload_len
 *     bytes of the payload out, ring_pop; also with the record overwritten
 *     between ring_front and the copy (a producer racing the consumer);
 *   - a new incarnation of the consumer or of the producer.
 * The ring is allocated at exactly ring_size(RING_MIN_SIZE) bytes, so ASan
 * sees any read or write past its data area.
 *
 * Invariants: whatever ring_front returns lies within the data area and is a
 * well-formed non-PAD record; draining always ends; the producer never
 * believes it has more than the ring's size outstanding, whatever the head
 * word says; and while nobody has scribbled, records come out exactly as
 * they were pushed, in order, with no resets.
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

static struct ring *r;			/* the producer's region */
static uint64_t *head_word;		/* the consumer's region */
static struct ring_tx tx;
static struct ring_rx rx;
static uint8_t payload_src[SIZE];	/* what ring_push copies from */
static uint8_t sink[SIZE];		/* where the consumer copies to */
static struct pushed fifo[FIFO_MAX];
static size_t fifo_head, fifo_len;
static uint32_t seq;
static int clean;			/* nobody scribbled on the ring */

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

static uint16_t
get16(struct script *s)
{
	return (uint16_t)(get8(s) | get8(s) << 8);
}

static uint32_t
get32(struct script *s)
{
	return (uint32_t)get16(s) | (uint32_t)get16(s) << 16;
}

static uint64_t
get64(struct script *s)
{
	return (uint64_t)get32(s) | (uint64_t)get32(s) << 32;
}

static uint8_t
pbyte(uint32_t sq, uint32_t i)
{
	return (uint8_t)(sq * 131 + i * 7 + (i >> 8));
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
	switch (get8(s) % 5) {
	case 0:
		return get64(s);
	case 1:
		return other + (uint64_t)(int64_t)(int32_t)get32(s);
	case 2:
		return cur + get16(s);
	case 3:
		return cur + 8 * (uint64_t)get8(s);
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
	uint64_t base = which & 1 ? tx.tail : rx.head;
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

/*
 * What the producer believes, whatever the consumer published: never more
 * than a ring outstanding (offsets are modular: a hostile consumer can
 * start a new producer near 2^64).
 */
static void
check_producer(void)
{
	CHECK(tx.tail - tx.head_seen <= SIZE);
	CHECK((tx.tail & 7) == 0 && (tx.head_seen & 7) == 0);
	CHECK(load64(&r->tail) == tx.tail || !clean);
}

static void
do_push(struct script *s)
{
	uint8_t kb = get8(s), lb = get8(s), key[KEY_LEN];
	uint16_t kind;
	uint32_t payload_len, slot, gen, epoch, len, need, pos, to_end, i;
	uint64_t used, tail = tx.tail, head = rx.head;
	int wake = -1, rc;

	kind = kb & 0x80 ? (uint16_t)(kb | get8(s) << 8) : kb % RING_KIND_MAX;
	switch (lb % 4) {
	case 0:
		payload_len = get8(s);
		break;
	case 1:
		payload_len = get16(s);
		break;
	case 2:
		payload_len = 65536 + get8(s) % 128;	/* forwarded packets */
		break;
	default:
		payload_len = get32(s) % (SIZE + 1);
		break;
	}
	slot = get32(s);
	gen = get32(s);
	epoch = lb & 0x40 ? get32(s) : 1;
	seq++;
	for (i = 0; i < payload_len; i++)
		payload_src[i] = pbyte(seq, i);
	make_key(key, seq);

	rc = ring_push(&tx, kind, slot, gen, epoch, lb & 0x80 ? NULL : key,
	    payload_src, payload_len, &wake);
	CHECK(rc == 0 || rc == -1);
	CHECK(wake == 0 || wake == 1);
	check_producer();
	if (!clean)
		return;

	/* Nobody interfered: the push must succeed exactly when it fits. */
	len = (uint32_t)((HDR + payload_len + 7) & ~(size_t)7);
	pos = (uint32_t)(tail & (SIZE - 1));
	to_end = SIZE - pos;
	need = len <= to_end ? len : to_end + len;
	used = tail - head;
	CHECK(used <= SIZE);
	if (len > SIZE / 2 || SIZE - used < need) {
		CHECK(rc == -1);
		return;
	}
	CHECK(rc == 0);
	CHECK(tx.tail == tail + need && load64(&r->tail) == tx.tail);
	CHECK(wake == (head == tail));
	if (kind == RING_PAD || kind >= RING_KIND_MAX) {
		clean = 0;	/* a record the consumer must refuse */
		return;
	}
	CHECK(fifo_len < FIFO_MAX);
	fifo[(fifo_head + fifo_len++) % FIFO_MAX] = (struct pushed){
		kind, slot, gen, epoch, payload_len, seq, !(lb & 0x80) };
}

/* What worker/inbox.c does with a record: reads payload_len bytes. */
static void
use_record(const struct ring_rec *hdr, const uint8_t *payload)
{
	uint8_t key[KEY_LEN];
	uintptr_t off;
	uint32_t i;

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
		if (w->has_key)
			make_key(key, w->seq);
		else
			memset(key, 0, sizeof(key));
		CHECK(memcmp(hdr->key, key, KEY_LEN) == 0);
		for (i = 0; i < w->payload_len; i++)
			CHECK(sink[i] == pbyte(w->seq, i));
	}
	fifo_head = (fifo_head + 1) % FIFO_MAX;
	fifo_len--;
}

/* One ring_front/ring_pop; racing: the producer scribbles in between. */
static int
consume_one(struct script *s, int racing)
{
	struct ring_rec hdr;
	const uint8_t *payload = NULL;
	int rc;

	rc = ring_front(&rx, &hdr, &payload);
	CHECK(rc == 0 || rc == 1 || rc == -1);
	if (clean)
		CHECK(rc != -1 && load64(head_word) == rx.head);
	if (rc == -1) {
		fifo_clear();
		return 0;	/* a reset: worker/inbox.c stops until woken */
	}
	if (rc == 0) {
		if (clean)
			CHECK(fifo_len == 0);
		return 0;
	}
	if (racing) {
		uint8_t which = get8(s);

		if (which & 1)
			scribble(s, (uint32_t)(payload - HDR - r->data) +
			    (which >> 1), 1 + get8(s) % 16);
		else
			scribble_field(s);
	}
	use_record(&hdr, payload);
	ring_pop(&rx, &hdr);
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

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Exactly the ring's size: ASan's redzone starts past the data area. */
	r = malloc(ring_size(SIZE));
	head_word = malloc(sizeof(*head_word));
	if (r == NULL || head_word == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };
	uint32_t n;

	memset(r, 0x5c, ring_size(SIZE));	/* no reliance on zeroed memory */
	*head_word = 0;				/* a fresh memfd */
	ring_tx_start(&tx, r, head_word, SIZE);
	ring_rx_start(&rx, r, head_word, SIZE);
	memset(r->data, 0, SIZE);
	fifo_clear();
	seq = 0;
	clean = 1;

	while (s.n > 0) {
		switch (get8(&s) % 11) {
		case 0:
			n = get32(&s);
			scribble(&s, n, 1 + get8(&s));
			break;
		case 1:
			scribble_field(&s);
			break;
		case 2:		/* a hostile producer's tail */
			store64(&r->tail, new_offset(&s, load64(&r->tail),
			    rx.head));
			clean = 0;
			break;
		case 3:		/* a hostile consumer's head */
			store64(head_word, new_offset(&s, load64(head_word),
			    tx.tail));
			clean = 0;
			break;
		case 4:
		case 5:
			do_push(&s);
			break;
		case 6:
			for (n = get8(&s) % 32 + 1; n > 0; n--)
				if (!consume_one(&s, 0))
					break;
			break;
		case 7:
			consume_one(&s, 1);
			break;
		case 8:		/* a new consumer: starts at the tail */
			ring_rx_start(&rx, r, head_word, SIZE);
			CHECK(rx.head == (load64(&r->tail) & ~(uint64_t)7));
			fifo_clear();
			break;
		case 10:	/* a new producer: starts at the published head */
			ring_tx_start(&tx, r, head_word, SIZE);
			check_producer();
			if (clean && tx.tail != rx.head)
				clean = 0;
			fifo_clear();
			break;
		default:
			drain();
			break;
		}
	}
	drain();
	return 0;
}
