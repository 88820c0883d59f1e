/* SPDX-License-Identifier: BSD-3-Clause */
/* A message with a descriptor attached (SCM_RIGHTS), on a local socket. */
#ifndef DERPD_FDPASS_H
#define DERPD_FDPASS_H

#include <stddef.h>

/*
 * Sends msg (len bytes) on sock with fd attached, or with nothing attached
 * when fd < 0; flags go to sendmsg (MSG_NOSIGNAL is always added). 0 when
 * all of msg went, -1 otherwise.
 */
int	fdpass_send(int sock, const void *msg, size_t len, int fd, int flags);

#endif
