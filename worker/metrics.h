/* SPDX-License-Identifier: BSD-3-Clause */
/* Prometheus text for /metrics and /debug/varz, summed over every worker. */
#ifndef DERPD_METRICS_H
#define DERPD_METRICS_H

#include <stddef.h>

#include "wk.h"

/* Writes at most cap bytes into buf; returns the length. */
size_t	metrics_render(struct wk *w, char *buf, size_t cap);

#endif
