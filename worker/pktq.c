/* SPDX-License-Identifier: BSD-3-Clause */
#include "pktq.h"

#include <stdlib.h>

struct pktq_pkt *
pktq_alloc(struct pktq_budget *b, uint32_t len, uint32_t payload_len)
{
	struct pktq_pkt *p;

	if (!pktq_fits(b, len) || (p = malloc(sizeof(*p) + len)) == NULL)
		return NULL;
	b->used += pktq_charge(len);
	p->next = NULL;
	p->len = len;
	p->payload_len = payload_len;
	return p;
}

void
pktq_release(struct pktq_budget *b, struct pktq_pkt *p)
{
	if (p == NULL)
		return;
	b->used -= pktq_charge(p->len);
	free(p);
}

void
pktq_push(struct pktq *q, struct pktq_pkt *p)
{
	p->next = NULL;
	if (q->tail != NULL)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	q->n++;
}

struct pktq_pkt *
pktq_pop(struct pktq *q)
{
	struct pktq_pkt *p = q->head;

	if (p == NULL)
		return NULL;
	q->head = p->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	p->next = NULL;
	return p;
}

void
pktq_clear(struct pktq *q, struct pktq_budget *b)
{
	struct pktq_pkt *p;

	while ((p = pktq_pop(q)) != NULL)
		pktq_release(b, p);
}
