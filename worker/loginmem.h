/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The login memory budget: what connections that have not finished the
 * DERP login hold (struct conn, OpenSSL's state for TLS, input buffers
 * sized to what has arrived, queued output), per worker, against
 * -login-memory-mib. Accounting only; conn.c decides whom to close when
 * it is spent, and returns freed memory to the system from the tick.
 */
#ifndef DERPD_LOGINMEM_H
#define DERPD_LOGINMEM_H

#include <stdint.h>

#include "wk.h"

/* Puts c on the list (newest) with base bytes charged. */
void	loginmem_add(struct wk *w, struct conn *c, uint32_t base);
/* Charges (or with delta < 0 releases) bytes held by c, if it is on the list. */
void	loginmem_charge(struct wk *w, struct conn *c, int64_t delta);
/* Takes c off the list, releasing all it was charged: it logged in or closed. */
void	loginmem_remove(struct wk *w, struct conn *c);
/* Whether need more bytes fit in the budget. */
int	loginmem_fits(const struct wk *w, uint64_t need);
/*
 * The connection to close to make room for need more bytes: the oldest,
 * if it has been at its login for a while; NULL if need fits, or if even
 * the oldest is young.
 */
struct conn *loginmem_victim(const struct wk *w, uint64_t need);
/* Counts a connection closed or refused because the budget was spent. */
void	loginmem_closed(struct wk *w);
/* From the tick: logs what the budget closed, returns freed memory to the system. */
void	loginmem_tick(struct wk *w);

#endif
