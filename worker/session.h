/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a connection's bytes mean at each stage (an HTTP request, the
 * ClientInfo frame, DERP frames), and what closing it must undo. These are
 * the connection layer's upcalls (struct conn_upcalls).
 */
#ifndef DERPD_SESSION_H
#define DERPD_SESSION_H

#include "wk.h"

void	session_input(struct wk *w, struct conn *c);
void	session_closing(struct wk *w, struct conn *c);

#endif
