/* SPDX-License-Identifier: BSD-3-Clause */
/* The debug pages: derper's and derpd's, for allowed addresses only. */
#ifndef DERPD_HTTP_DEBUG_H
#define DERPD_HTTP_DEBUG_H

#include "http.h"
#include "wk.h"

/* tsweb.AllowDebugAccess: loopback and Tailscale addresses, never proxied. */
int	http_debug_allowed(const struct conn *c, const struct http_request *req);
/* Serves req's /debug/ path, or (metrics) the Prometheus text; 403 unless allowed. */
void	http_debug_serve(struct wk *w, struct conn *c,
	    const struct http_request *req, int metrics);

#endif
