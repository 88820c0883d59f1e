/* SPDX-License-Identifier: BSD-3-Clause */
#include "bq.h"

#include <stdlib.h>
#include <string.h>

int
bq_init(struct bq *q, size_t cap)
{
	q->rd = q->wr = 0;
	q->cap = cap;
	return (q->p = malloc(cap)) == NULL ? -1 : 0;
}

void
bq_free(struct bq *q)
{
	free(q->p);
	q->p = NULL;
	q->rd = q->wr = q->cap = 0;
}

uint8_t *
bq_tail(struct bq *q, size_t *room)
{
	if (q->rd > 0) {
		memmove(q->p, q->p + q->rd, q->wr - q->rd);
		q->wr -= q->rd;
		q->rd = 0;
	}
	*room = q->cap - q->wr;
	return q->p + q->wr;
}

void
bq_wrote(struct bq *q, size_t n)
{
	q->wr += n;
}

int
bq_append(struct bq *q, const void *data, size_t n)
{
	size_t room;
	uint8_t *t = bq_tail(q, &room);

	if (n > room)
		return -1;
	memcpy(t, data, n);
	q->wr += n;
	return 0;
}

void
bq_consume(struct bq *q, size_t n)
{
	q->rd += n < q->wr - q->rd ? n : q->wr - q->rd;
	if (q->rd == q->wr)
		q->rd = q->wr = 0;
}
