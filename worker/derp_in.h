/* SPDX-License-Identifier: BSD-3-Clause */
/* Frames from a logged-in client: counted, rate-charged, checked, handled. */
#ifndef DERPD_DERP_IN_H
#define DERPD_DERP_IN_H

#include "wk.h"

/* Handles every complete frame in c's input buffer. */
void	derp_in_process(struct wk *w, struct conn *c);
/* Counts a received frame by type for /metrics. */
void	derp_in_count(struct wk *w, uint8_t type);

#endif
