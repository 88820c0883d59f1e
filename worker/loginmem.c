/* SPDX-License-Identifier: BSD-3-Clause */
#include "loginmem.h"

#include <malloc.h>

#include "log.h"

/*
 * A login takes a few round trips; one still at it after this long is
 * stalled (or very slow) and may be closed to make room for a newer one.
 */
#define EVICT_AGE_MS	1000
#define LOG_EVERY_MS	10000
/* Freed login memory worth handing back to the system (malloc_trim). */
#define TRIM_SLACK	(4 * 1024 * 1024)

static uint64_t
budget(const struct wk *w)
{
	return (uint64_t)w->cfg->login_memory_mib * 1024 * 1024;
}

void
loginmem_add(struct wk *w, struct conn *c, uint32_t base)
{
	struct login_mem *m = &w->login_mem;

	c->lm_on = 1;
	c->lm_since_ms = w->now_ms;
	c->lm_next = NULL;
	c->lm_prev = m->newest;
	if (m->newest != NULL)
		m->newest->lm_next = c;
	else
		m->oldest = c;
	m->newest = c;
	loginmem_charge(w, c, base);
}

void
loginmem_charge(struct wk *w, struct conn *c, int64_t delta)
{
	struct login_mem *m = &w->login_mem;

	if (!c->lm_on)
		return;
	c->lm_charge += delta;
	m->used += delta;
	if (m->used > m->peak)
		m->peak = m->used;
	wk_stat(w, ST_LOGIN_MEM_BYTES, delta);
}

void
loginmem_remove(struct wk *w, struct conn *c)
{
	struct login_mem *m = &w->login_mem;

	if (!c->lm_on)
		return;
	loginmem_charge(w, c, -(int64_t)c->lm_charge);
	if (c->lm_prev != NULL)
		c->lm_prev->lm_next = c->lm_next;
	else
		m->oldest = c->lm_next;
	if (c->lm_next != NULL)
		c->lm_next->lm_prev = c->lm_prev;
	else
		m->newest = c->lm_prev;
	c->lm_prev = c->lm_next = NULL;
	c->lm_on = 0;
}

int
loginmem_fits(const struct wk *w, uint64_t need)
{
	return w->login_mem.used + need <= budget(w);
}

/*
 * Oldest first: a stalled login is old, a real one is young, so a client
 * that holds memory without using it cannot lock newer logins out. Young
 * logins are never closed for a newer one: in a burst of real logins that
 * would only make each start again; the newcomer is refused instead.
 */
struct conn *
loginmem_victim(const struct wk *w, uint64_t need)
{
	struct conn *v = w->login_mem.oldest;

	if (loginmem_fits(w, need) || v == NULL ||
	    w->now_ms - v->lm_since_ms < EVICT_AGE_MS)
		return NULL;
	return v;
}

void
loginmem_closed(struct wk *w)
{
	w->login_mem.closed++;
	wk_stat(w, ST_LOGIN_MEM_CLOSED, 1);
}

void
loginmem_tick(struct wk *w)
{
	struct login_mem *m = &w->login_mem;

	if (m->closed > 0 && w->now_ms - m->logged_ms >= LOG_EVERY_MS) {
		log_warnx("login memory budget (-login-memory-mib %lld) spent: "
		    "%llu connections that had not logged in closed or refused",
		    (long long)w->cfg->login_memory_mib,
		    (unsigned long long)m->closed);
		m->closed = 0;
		m->logged_ms = w->now_ms;
	}
	/* glibc keeps freed heap memory below the top of the heap. */
	if (m->peak - m->used >= TRIM_SLACK) {
		malloc_trim(0);
		m->peak = m->used;
	}
}
