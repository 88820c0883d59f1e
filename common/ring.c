/* SPDX-License-Identifier: BSD-3-Clause */
#include "ring.h"

#include <string.h>

#define ACQ(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define REL(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

static uint32_t
round8(uint32_t n)
{
	return (n + 7) & ~7u;
}

void
ring_tx_start(struct ring_tx *tx, struct ring *r, const uint64_t *head,
    struct pool *pool)
{
	tx->r = r;
	tx->head = head;
	tx->pool = pool;
	tx->tail = tx->head_seen = ACQ(head);
	tx->first = tx->last = POOL_NONE;
	tx->held = tx->fill = 0;
	memset(r, 0, offsetof(struct ring, desc));
	REL(&r->tail, tx->tail);
}

/*
 * The consumer's head if it is believable: not behind what it said before,
 * not ahead of what was published. Modular: positions may pass 2^64.
 */
static void
believe_head(struct ring_tx *tx)
{
	uint64_t head = ACQ(tx->head);

	if (head - tx->head_seen <= tx->tail - tx->head_seen)
		tx->head_seen = head;
}

/* Whether every record in chunk c has been read: its end is at or behind
 * the believed head (both within [head_seen, tail]). */
static int
chunk_read(const struct ring_tx *tx, uint32_t c)
{
	return tx->tail - tx->pool->end[c] >= tx->tail - tx->head_seen;
}

/* Frees the chunks whose records the consumer has read. */
static void
reclaim(struct ring_tx *tx)
{
	struct pool *p = tx->pool;
	uint32_t c;

	believe_head(tx);
	while ((c = tx->first) != POOL_NONE && chunk_read(tx, c)) {
		tx->first = p->next[c];
		if (tx->first == POOL_NONE)
			tx->last = POOL_NONE;
		tx->held--;
		pool_put(p, c);
	}
}

/* Room for len bytes at the end of the last chunk, or a new chunk. */
static int
make_room(struct ring_tx *tx, uint32_t len)
{
	struct pool *p = tx->pool;
	uint32_t c;

	if (tx->last != POOL_NONE && POOL_CHUNK - tx->fill >= len)
		return 0;
	if (tx->held >= p->quota || (c = pool_get(p)) == POOL_NONE)
		return -1;
	if (tx->last != POOL_NONE)
		p->next[tx->last] = c;
	else
		tx->first = c;
	tx->last = c;
	tx->held++;
	tx->fill = 0;
	return 0;
}

uint64_t
ring_tx_consumed(struct ring_tx *tx)
{
	reclaim(tx);
	return tx->head_seen;
}

int
ring_push(struct ring_tx *tx, uint16_t kind, uint32_t slot, uint32_t gen,
    uint32_t epoch, const uint8_t key[KEY_LEN], const void *payload,
    uint32_t payload_len, int *wake)
{
	return ring_push2(tx, kind, slot, gen, epoch, key, payload, payload_len,
	    NULL, 0, wake);
}

int
ring_push2(struct ring_tx *tx, uint16_t kind, uint32_t slot, uint32_t gen,
    uint32_t epoch, const uint8_t key[KEY_LEN], const void *p1, uint32_t len1,
    const void *p2, uint32_t len2, int *wake)
{
	uint64_t tail = tx->tail;
	uint32_t len, off;
	struct ring_rec *rec;
	struct ring_desc *d;

	*wake = 0;
	reclaim(tx);
	/* Checked before any arithmetic that could wrap. */
	len = len1 <= RING_PAYLOAD_MAX && len2 <= RING_PAYLOAD_MAX - len1 ?
	    round8(sizeof(*rec) + len1 + len2) : UINT32_MAX;
	if (len > POOL_CHUNK || tail - tx->head_seen >= RING_DESCS ||
	    make_room(tx, len) != 0) {
		__atomic_fetch_add(&tx->r->drops, 1, __ATOMIC_RELAXED);
		return -1;
	}
	off = tx->last * POOL_CHUNK + tx->fill;
	rec = (struct ring_rec *)(tx->pool->base + off);
	rec->len = len;
	rec->kind = kind;
	rec->flags = 0;
	rec->slot = slot;
	rec->gen = gen;
	rec->payload_len = len1 + len2;
	rec->epoch = epoch;
	if (key != NULL)
		memcpy(rec->key, key, KEY_LEN);
	else
		memset(rec->key, 0, KEY_LEN);
	if (len1 > 0)
		memcpy(rec->payload, p1, len1);
	if (len2 > 0)
		memcpy(rec->payload + len1, p2, len2);
	tx->fill += len;
	tx->pool->end[tx->last] = tail + 1;
	d = &tx->r->desc[tail % RING_DESCS];
	d->off = off;
	d->len = len;
	tx->tail = tail + 1;
	REL(&tx->r->tail, tx->tail);
	/*
	 * Pairs with the fence in ring_front: either the consumer sees the new
	 * tail, or we see that it had read everything and may be asleep.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*wake = ACQ(tx->head) == tail;
	return 0;
}

void
ring_rx_start(struct ring_rx *rx, const struct ring *r, const uint8_t *pool,
    size_t pool_size, uint64_t *head_pub)
{
	rx->r = r;
	rx->pool = pool;
	rx->pool_size = pool_size;
	rx->head_pub = head_pub;
	rx->head = ACQ(&r->tail);
	REL(head_pub, rx->head);
}

/* Skips everything published so far; a reset. */
static int
discard(struct ring_rx *rx, uint64_t tail)
{
	rx->head = tail;
	REL(rx->head_pub, rx->head);
	return -1;
}

/* A descriptor, copied once, that names whole records inside the pool. */
static int
desc_valid(const struct ring_rx *rx, const struct ring_desc *d)
{
	return d->len >= sizeof(struct ring_rec) && d->len <= POOL_CHUNK &&
	    (d->len & 7) == 0 && (d->off & 7) == 0 &&
	    d->len <= rx->pool_size && d->off <= rx->pool_size - d->len;
}

static int
rec_valid(const struct ring_rec *rec, const struct ring_desc *d)
{
	return rec->len == d->len && rec->kind != RING_NONE &&
	    rec->kind < RING_KIND_MAX &&
	    rec->payload_len <= rec->len - sizeof(*rec);
}

int
ring_front(struct ring_rx *rx, struct ring_rec *hdr, const uint8_t **payload)
{
	struct ring_desc d;
	uint64_t tail;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	tail = ACQ(&rx->r->tail);
	if (rx->head == tail)
		return 0;
	if (tail - rx->head > RING_DESCS)
		return discard(rx, tail);
	memcpy(&d, &rx->r->desc[rx->head % RING_DESCS], sizeof(d));
	if (!desc_valid(rx, &d))
		return discard(rx, tail);
	memcpy(hdr, rx->pool + d.off, sizeof(*hdr));
	if (!rec_valid(hdr, &d))
		return discard(rx, tail);
	*payload = rx->pool + d.off + sizeof(*hdr);
	return 1;
}

void
ring_pop(struct ring_rx *rx)
{
	rx->head++;
	REL(rx->head_pub, rx->head);
}
