/* SPDX-License-Identifier: BSD-3-Clause */
#include "pushback.h"

#include "conn.h"

/* Onto the list pushback_run walks, once. */
static void
enlist(struct wk *w, struct conn *c)
{
	struct conn *p;

	for (p = w->pushed_back; p != NULL; p = p->pb_next)
		if (p == c)
			return;
	c->pb_next = w->pushed_back;
	w->pushed_back = c;
}

static void
hold(struct wk *w, struct conn *c, uint32_t to, uint64_t head)
{
	c->pushed_back = 1;
	c->pb_to = to;
	c->pb_head = head;
	c->pb_since_ms = c->pb_progress_ms = w->now_ms;
	wk_stat(w, ST_PUSHBACKS, 1);
}

int
pushback_full(struct wk *w, struct conn *c, uint32_t to)
{
	struct rings *r = &w->rings;
	uint64_t head = ring_tx_consumed(&r->tx[to]);

	if (c == NULL)
		return 0;
	if (c->pushed_back && c->pb_to == to) {
		if (head != c->pb_head) {
			c->pb_head = head;
			c->pb_progress_ms = w->now_ms;
		}
		if (w->now_ms - c->pb_since_ms < PUSHBACK_MS &&
		    w->now_ms - c->pb_progress_ms < PUSHBACK_STALL_MS) {
			enlist(w, c);
			return 1;
		}
		c->pushed_back = 0;
		r->stuck[to] = 1;
		r->stuck_head[to] = head;
		return 0;
	}
	c->pushed_back = 0;
	if (r->stuck[to] && head == r->stuck_head[to])
		return 0;
	r->stuck[to] = 0;
	hold(w, c, to, head);
	enlist(w, c);
	return 1;
}

void
pushback_done(struct wk *w, struct conn *c, uint32_t to)
{
	w->rings.stuck[to] = 0;
	if (c != NULL)
		c->pushed_back = 0;
}

void
pushback_run(struct wk *w)
{
	struct conn *c, *list = w->pushed_back;

	w->pushed_back = NULL;
	while ((c = list) != NULL) {
		list = c->pb_next;
		c->pb_next = NULL;
		if (c->pushed_back)
			conn_mark_ready(w, c);
	}
}

int
pushback_timeout(const struct wk *w)
{
	return w->pushed_back != NULL ? 1 : -1;
}

void
pushback_forget(struct wk *w, struct conn *c)
{
	struct conn **pp;

	c->pushed_back = 0;
	for (pp = &w->pushed_back; *pp != NULL; pp = &(*pp)->pb_next) {
		if (*pp == c) {
			*pp = c->pb_next;
			c->pb_next = NULL;
			return;
		}
	}
}
