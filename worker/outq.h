/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A connection's output queue: a chain of pool buffers, written out by
 * conn.c at the end of the turn (the flush list).
 */
#ifndef DERPD_OUTQ_H
#define DERPD_OUTQ_H

#include <stddef.h>

#include "wk.h"

/* Copies bytes to the end of c's queue; -1 (nothing queued) when out of memory. */
int	outq_append(struct wk *w, struct conn *c, const void *p, size_t len);
/* Puts b, filled, at the end of c's queue as it is (c takes it). */
void	outq_splice(struct wk *w, struct conn *c, struct buf *b);
/* Drops n written bytes from the front. */
void	outq_consume(struct wk *w, struct conn *c, size_t n);
/* Frees everything queued. */
void	outq_free(struct wk *w, struct conn *c);
/* Puts c on the flush list, once. */
void	outq_schedule(struct wk *w, struct conn *c);
/* Whether c's stream is over the -queue-kib limit plus slack bytes. */
int	outq_over(const struct wk *w, const struct conn *c, uint64_t extra);

#endif
