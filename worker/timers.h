/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker's tick: deadlines, write timeouts, keepalives, rate pauses. */
#ifndef DERPD_TIMERS_H
#define DERPD_TIMERS_H

#include "wk.h"

void	timers_tick(struct wk *w);

#endif
