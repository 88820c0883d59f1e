/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A byte queue: bytes received and not yet parsed. The transport fills it,
 * the HTTP, WebSocket and DERP readers consume from its front. Consumed
 * bytes are reclaimed lazily, when room is asked for at the end.
 */
#ifndef CLIENT_BQ_H
#define CLIENT_BQ_H

#include <stddef.h>
#include <stdint.h>

struct bq {
	uint8_t	*p;
	size_t	 rd;	/* first unconsumed byte */
	size_t	 wr;	/* end of the queued bytes */
	size_t	 cap;
};

int	bq_init(struct bq *q, size_t cap);
void	bq_free(struct bq *q);
static inline const uint8_t *
bq_data(const struct bq *q, size_t *len)
{
	*len = q->wr - q->rd;
	return q->p + q->rd;
}
/* Appends n bytes; -1 if they do not fit. */
int	bq_append(struct bq *q, const void *data, size_t n);
void	bq_consume(struct bq *q, size_t n);
/* Room at the end (the caller writes there and calls bq_wrote). */
uint8_t	*bq_tail(struct bq *q, size_t *room);
void	bq_wrote(struct bq *q, size_t n);

#endif
