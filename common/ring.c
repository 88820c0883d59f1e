/* SPDX-License-Identifier: BSD-3-Clause */
#include "ring.h"

#include <string.h>

#define ACQ(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define REL(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

size_t
ring_size(uint32_t data_size)
{
	return sizeof(struct ring) + data_size;
}

static uint32_t
round8(uint32_t n)
{
	return (n + 7) & ~7u;
}

void
ring_tx_start(struct ring_tx *tx, struct ring *r, const uint64_t *head,
    uint32_t size)
{
	tx->r = r;
	tx->head = head;
	tx->size = size;
	tx->tail = tx->head_seen = ACQ(head) & ~(uint64_t)7;
	memset(r, 0, sizeof(*r));
	REL(&r->tail, tx->tail);
}

/* The consumer's head if it is believable: not behind what it said before,
 * not ahead of what was produced. Modular: positions may pass 2^64. */
static uint64_t
believe_head(struct ring_tx *tx)
{
	uint64_t head = ACQ(tx->head);

	if (head - tx->head_seen <= tx->tail - tx->head_seen && (head & 7) == 0)
		tx->head_seen = head;
	return tx->head_seen;
}

uint64_t
ring_tx_consumed(struct ring_tx *tx)
{
	return believe_head(tx);
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
	uint64_t tail = tx->tail, head = believe_head(tx);
	uint32_t size = tx->size, pos = tail & (size - 1), to_end = size - pos;
	uint32_t len, need, payload_len;
	struct ring_rec *rec;

	*wake = 0;
	/* Checked before any arithmetic that could wrap. */
	payload_len = len1 <= size / 2 && len2 <= size / 2 ? len1 + len2 :
	    UINT32_MAX;
	len = payload_len <= size / 2 ? round8(sizeof(struct ring_rec) +
	    payload_len) : UINT32_MAX;
	need = len <= to_end ? len : to_end + len;
	if (len > size / 2 || size - (tail - head) < need) {
		__atomic_fetch_add(&tx->r->drops, 1, __ATOMIC_RELAXED);
		return -1;
	}
	if (len > to_end) {
		struct ring_rec *padrec = (struct ring_rec *)(tx->r->data + pos);

		padrec->len = to_end;
		padrec->kind = RING_PAD;
		pos = 0;
	}
	rec = (struct ring_rec *)(tx->r->data + pos);
	rec->len = len;
	rec->kind = kind;
	rec->flags = 0;
	rec->slot = slot;
	rec->gen = gen;
	rec->payload_len = payload_len;
	rec->epoch = epoch;
	if (key != NULL)
		memcpy(rec->key, key, KEY_LEN);
	else
		memset(rec->key, 0, KEY_LEN);
	if (len1 > 0)
		memcpy(rec->payload, p1, len1);
	if (len2 > 0)
		memcpy(rec->payload + len1, p2, len2);
	tx->tail = tail + need;
	REL(&tx->r->tail, tx->tail);
	/*
	 * Pairs with the fence in ring_front: either the consumer sees the new
	 * tail, or we see that it had drained everything and may be asleep.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*wake = ACQ(tx->head) == tail;
	return 0;
}

void
ring_rx_start(struct ring_rx *rx, const struct ring *r, uint64_t *head_pub,
    uint32_t size)
{
	rx->r = r;
	rx->head_pub = head_pub;
	rx->size = size;
	rx->head = ACQ(&r->tail) & ~(uint64_t)7;
	REL(head_pub, rx->head);
}

static int
rec_valid(const struct ring_rec *rec, uint32_t to_end, uint64_t avail)
{
	if (rec->len < 8 || (rec->len & 7) != 0 || rec->len > avail ||
	    rec->len > to_end)
		return 0;
	if (rec->kind == RING_PAD)
		return rec->len == to_end;
	return rec->kind < RING_KIND_MAX && rec->len >= sizeof(*rec) &&
	    rec->payload_len <= rec->len - sizeof(*rec);
}

/* Skips everything produced so far; a reset. */
static int
discard(struct ring_rx *rx, uint64_t tail)
{
	rx->head = tail & ~(uint64_t)7;
	REL(rx->head_pub, rx->head);
	return -1;
}

int
ring_front(struct ring_rx *rx, struct ring_rec *hdr, const uint8_t **payload)
{
	uint64_t tail;
	uint32_t pos, to_end;

	for (;;) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		tail = ACQ(&rx->r->tail);
		if (rx->head == tail)
			return 0;
		/* Records are 8-aligned and never more than a ring apart: a tail
		 * that is not must not make us read a header off the end. */
		if ((tail & 7) != 0 || tail - rx->head > rx->size)
			return discard(rx, tail);
		pos = rx->head & (rx->size - 1);
		to_end = rx->size - pos;
		memset(hdr, 0, sizeof(*hdr));
		memcpy(hdr, rx->r->data + pos, to_end < sizeof(*hdr) ? 8 :
		    sizeof(*hdr));
		if (!rec_valid(hdr, to_end, tail - rx->head))
			return discard(rx, tail);
		if (hdr->kind != RING_PAD) {
			*payload = rx->r->data + pos + sizeof(*hdr);
			return 1;
		}
		rx->head += hdr->len;
		REL(rx->head_pub, rx->head);
	}
}

void
ring_pop(struct ring_rx *rx, const struct ring_rec *hdr)
{
	rx->head += hdr->len;
	REL(rx->head_pub, rx->head);
}
