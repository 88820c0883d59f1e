/* SPDX-License-Identifier: BSD-3-Clause */
#include "outq.h"

#include <string.h>

#include "loginmem.h"

void
outq_schedule(struct wk *w, struct conn *c)
{
	if (c->in_flush || c->fd < 0)
		return;
	c->in_flush = 1;
	c->flush_next = w->flush;
	w->flush = c;
}

/* b at the end of c's stream. */
static void
link_tail(struct conn *c, struct buf *b)
{
	b->next = NULL;
	if (c->out_tail != NULL)
		c->out_tail->next = b;
	else
		c->out_head = b;
	c->out_tail = b;
}

int
outq_append(struct wk *w, struct conn *c, const void *p, size_t len)
{
	const uint8_t *src = p;
	struct buf *b;
	size_t room, take;

	if (c->fd < 0)
		return -1;
	if (c->out_bytes == 0)
		c->stalled_since_ms = w->now_ms;
	while (len > 0) {
		b = c->out_tail;
		if (b == NULL || b->wr == b->cap) {
			if ((b = buf_get(&w->bufs)) == NULL)
				return -1;
			link_tail(c, b);
		}
		room = b->cap - b->wr;
		take = len < room ? len : room;
		memcpy(b->data + b->wr, src, take);
		b->wr += take;
		src += take;
		len -= take;
		c->out_bytes += take;
		loginmem_charge(w, c, (int64_t)take);
	}
	outq_schedule(w, c);
	return 0;
}

void
outq_splice(struct wk *w, struct conn *c, struct buf *b)
{
	if (c->out_bytes == 0)
		c->stalled_since_ms = w->now_ms;
	link_tail(c, b);
	c->out_bytes += b->wr - b->rd;
	loginmem_charge(w, c, b->wr - b->rd);
	outq_schedule(w, c);
}

void
outq_consume(struct wk *w, struct conn *c, size_t n)
{
	struct buf *b;
	size_t take;

	c->out_bytes -= n;
	loginmem_charge(w, c, -(int64_t)n);
	while (n > 0 && (b = c->out_head) != NULL) {
		take = b->wr - b->rd < n ? b->wr - b->rd : n;
		b->rd += take;
		n -= take;
		if (b->rd == b->wr) {
			c->out_head = b->next;
			if (c->out_head == NULL)
				c->out_tail = NULL;
			buf_put(&w->bufs, b);
		}
	}
}

void
outq_free(struct wk *w, struct conn *c)
{
	struct buf *b;

	while ((b = c->out_head) != NULL) {
		c->out_head = b->next;
		buf_put(&w->bufs, b);
	}
	loginmem_charge(w, c, -(int64_t)c->out_bytes);
	c->out_tail = NULL;
	c->out_bytes = 0;
}

int
outq_over(const struct wk *w, const struct conn *c, uint64_t extra)
{
	return c->out_bytes > (uint64_t)w->cfg->queue_kib * 1024 + extra;
}
