/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP before (or instead of) the DERP upgrade, routed as derper's mux does:
 * /derp upgrades, /derp/probe and /derp/latency-check answer probes,
 * /generate_204 answers captive-portal checks, /debug/ and /metrics serve
 * metrics to loopback and Tailscale addresses, and every other path gets
 * the home page. Each response closes the connection.
 */
#ifndef DERPD_HTTP_SERVE_H
#define DERPD_HTTP_SERVE_H

#include "wk.h"

/* Returns 1 when a request was handled, 0 when more input is needed, -1 after an error response. */
int	serve_http(struct wk *w, struct conn *c);

#endif
