/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixed-size messages to a helper process (the key process, the master's
 * table service) on a SOCK_SEQPACKET socket that must never block the
 * event loop: a message goes out at once, or waits in order in a backlog
 * while the socket is full.
 */
#ifndef DERPD_REQQ_H
#define DERPD_REQQ_H

#include <stddef.h>

#include "wk.h"

/* Sends req (q->size bytes) on fd, or queues it and asks epoll for EPOLLOUT (tag). */
void	reqq_send(struct wk *w, struct req_queue *q, int fd, uint64_t tag,
	    const void *req);
/* fd has room again: sends the backlog. */
void	reqq_writable(struct wk *w, struct req_queue *q, int fd, uint64_t tag);
/*
 * Reads one answer of size bytes: 1, or 0 when none is waiting. Short
 * messages are skipped; a closed socket is fatal (who: for the message).
 */
int	reqq_recv(int fd, void *resp, size_t size, const char *who);

#endif
