/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a connection's bytes mean at each stage (an HTTP request, the
 * ClientInfo frame, DERP frames; or, on our own mesh links, a peer relay's
 * answers), what closing it must undo, and what the
 * master's answers about the connection table mean for it. The first two
 * are the connection layer's upcalls (struct conn_upcalls).
 */
#ifndef DERPD_SESSION_H
#define DERPD_SESSION_H

#include "wk.h"

void	session_input(struct wk *w, struct conn *c);
void	session_closing(struct wk *w, struct conn *c);
/* The master's table service answered. */
void	session_table_readable(struct wk *w);

#endif
