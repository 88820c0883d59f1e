/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the connection layer's files (conn.c, conn_io.c, accept.c) share
 * among themselves; the session layer uses conn.h only.
 */
#ifndef DERPD_CONN_INT_H
#define DERPD_CONN_INT_H

#include <stdint.h>
#include <sys/socket.h>

#include "wk.h"

/* A connection for fd, accepted on the TLS port or (port80) on -http-port. */
void	conn_new(struct wk *w, int fd, const struct sockaddr_storage *ss,
	    int port80);
/* Room for need more bytes of login memory (see conn.c); -1 if none. */
int	conn_login_room(struct wk *w, const struct conn *self, uint64_t need);

#endif
