/* SPDX-License-Identifier: BSD-3-Clause */
#include "pktq.h"

#include <stddef.h>

struct buf *
pktq_alloc(struct pktq_budget *b, struct bufpool *pool, uint32_t len)
{
	struct buf *p;

	if (!pktq_fits(b, len))
		return NULL;
	p = pktq_cap(len) == BUF_SIZE ? buf_get(pool) : buf_new(len);
	if (p == NULL)
		return NULL;
	b->used += pktq_held(p);
	p->wr = len;
	return p;
}

uint64_t
pktq_held(const struct buf *p)
{
	return sizeof(struct buf) + (uint64_t)p->cap;
}

void
pktq_uncharge(struct pktq_budget *b, const struct buf *p)
{
	b->used -= pktq_held(p);
}

void
pktq_release(struct pktq_budget *b, struct bufpool *pool, struct buf *p)
{
	if (p == NULL)
		return;
	pktq_uncharge(b, p);
	buf_put(pool, p);
}

void
pktq_push(struct pktq *q, struct buf *p)
{
	p->next = NULL;
	if (q->tail != NULL)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	q->n++;
}

struct buf *
pktq_pop(struct pktq *q)
{
	struct buf *p = q->head;

	if (p == NULL)
		return NULL;
	q->head = p->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	p->next = NULL;
	return p;
}
