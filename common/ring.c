/* SPDX-License-Identifier: BSD-3-Clause */
#include "ring.h"

#include <string.h>

#define ACQ(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define REL(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define OWN(p)		__atomic_load_n((p), __ATOMIC_RELAXED)

size_t
ring_size(uint32_t data_size)
{
	return sizeof(struct ring) + data_size;
}

void
ring_init(struct ring *r)
{
	memset(r, 0, sizeof(*r));
}

static uint32_t
round8(uint32_t n)
{
	return (n + 7) & ~7u;
}

int
ring_push(struct ring *r, uint32_t size, uint16_t kind, uint32_t slot,
    uint32_t gen, const uint8_t key[KEY_LEN], const void *payload,
    uint32_t payload_len, int *wake)
{
	uint64_t tail = OWN(&r->tail), head = ACQ(&r->head), new_tail;
	uint32_t pos = tail & (size - 1), to_end = size - pos;
	uint32_t len, need;
	struct ring_rec *rec;

	*wake = 0;
	/* Checked before any arithmetic that could wrap. */
	len = payload_len <= size / 2 ? round8(sizeof(struct ring_rec) +
	    payload_len) : UINT32_MAX;
	need = len <= to_end ? len : to_end + len;
	/* A tail that is not 8-aligned was scribbled on by another process;
	 * writing a PAD header there could run past the end of the buffer. */
	if ((tail & 7) != 0 || len > size / 2 || tail - head > size ||
	    size - (tail - head) < need) {
		__atomic_fetch_add(&r->drops, 1, __ATOMIC_RELAXED);
		return -1;
	}
	if (len > to_end) {
		struct ring_rec *padrec = (struct ring_rec *)(r->data + pos);

		padrec->len = to_end;
		padrec->kind = RING_PAD;
		pos = 0;
	}
	rec = (struct ring_rec *)(r->data + pos);
	rec->len = len;
	rec->kind = kind;
	rec->flags = 0;
	rec->slot = slot;
	rec->gen = gen;
	rec->payload_len = payload_len;
	rec->reserved = 0;
	if (key != NULL)
		memcpy(rec->key, key, KEY_LEN);
	else
		memset(rec->key, 0, KEY_LEN);
	if (payload_len > 0)
		memcpy(rec->payload, payload, payload_len);
	new_tail = tail + need;
	REL(&r->tail, new_tail);
	/*
	 * Pairs with the fence in ring_front: either the consumer sees the new
	 * tail, or we see that it had drained everything and may be asleep.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*wake = OWN(&r->head) == tail;
	return 0;
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

int
ring_front(struct ring *r, uint32_t size, struct ring_rec *hdr,
    const uint8_t **payload)
{
	uint64_t head, tail;
	uint32_t pos, to_end;

	for (;;) {
		head = OWN(&r->head);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		tail = ACQ(&r->tail);
		if (head == tail)
			return 0;
		pos = head & (size - 1);
		to_end = size - pos;
		memset(hdr, 0, sizeof(*hdr));
		/*
		 * Records are 8-aligned; a tail that is not (a broken producer,
		 * or one we reset to) must not lead us to read a header that
		 * straddles the end of the buffer.
		 */
		if (((head | tail) & 7) == 0)
			memcpy(hdr, r->data + pos,
			    to_end < sizeof(*hdr) ? 8 : sizeof(*hdr));
		if (((head | tail) & 7) != 0 || tail - head > size ||
		    !rec_valid(hdr, to_end, tail - head)) {
			__atomic_fetch_add(&r->resets, 1, __ATOMIC_RELAXED);
			REL(&r->head, tail);
			return 0;
		}
		if (hdr->kind != RING_PAD) {
			*payload = r->data + pos + sizeof(*hdr);
			return 1;
		}
		REL(&r->head, head + hdr->len);
	}
}

void
ring_pop(struct ring *r, const struct ring_rec *hdr)
{
	REL(&r->head, OWN(&r->head) + hdr->len);
}

void
ring_discard(struct ring *r)
{
	REL(&r->head, ACQ(&r->tail));
}

uint64_t
ring_used(struct ring *r)
{
	return ACQ(&r->tail) - ACQ(&r->head);
}
