/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connections: accept, close, epoll interest, the read and write loops, and
 * the per-turn lists (ready: input to process; flush: output to write). What
 * the bytes mean is the session layer's business (struct conn_upcalls).
 */
#ifndef DERPD_CONN_H
#define DERPD_CONN_H

#include <stddef.h>

#include "wk.h"

/* The live connection in slot with generation gen, or NULL. */
struct conn *conn_at(struct wk *w, uint32_t slot, uint32_t gen);
/* The connection an epoll tag names, or NULL. */
struct conn *conn_by_tag(struct wk *w, uint64_t tag);

/* Accepts what the listening socket lfd has queued. */
void	conn_accept(struct wk *w, int lfd, int port80);
/*
 * A connection we made (a mesh link): fd, connected, becomes the TLS
 * client ssl (both now c's). The established upcall runs once TLS is up.
 * NULL, with both freed, when no slot is free or fd is not TCP.
 */
struct conn *conn_outbound(struct wk *w, int fd, SSL *ssl);
/* From the tick: accepting again after a pause, the login memory budget. */
void	conn_tick(struct wk *w);
/* c finished its login: off the login memory budget, onto pool buffers; -1 if closed. */
int	conn_logged_in(struct wk *w, struct conn *c);
/* Closes c now (it is freed at the end of the turn); why is logged with -verbose. */
void	conn_close(struct wk *w, struct conn *c, const char *why);
/* Writes what is queued, then closes. */
void	conn_flush_close(struct wk *w, struct conn *c);
/* Frees the connections closed during this turn. */
void	conn_bury(struct wk *w);

/* Handles epoll events for c. */
void	conn_io(struct wk *w, struct conn *c, uint32_t events);
/* Registers the epoll events c needs now. */
void	conn_update_events(struct wk *w, struct conn *c);
/* Puts c on the ready list: its input is processed again this turn. */
void	conn_mark_ready(struct wk *w, struct conn *c);
void	conn_run_ready(struct wk *w);
void	conn_flush_all(struct wk *w);

/*
 * Queues one DERP frame for c (one message over WebSocket), given as head
 * then body (blen may be 0); before an upgrade, plain bytes. Returns -1
 * when out of memory, leaving c open for its caller to close.
 */
int	conn_append(struct wk *w, struct conn *c, const void *head, size_t hlen,
	    const void *body, size_t blen);
/* Queues one frame, or plain bytes, for c; out of memory closes c and returns -1. */
int	conn_queue(struct wk *w, struct conn *c, const void *p, size_t len);
/* Like conn_queue, for replies: a client that does not read gets no more. */
int	conn_queue_control(struct wk *w, struct conn *c, const void *p,
	    size_t len);

#endif
