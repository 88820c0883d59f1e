/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_NOTIFY_H
#define DERPD_NOTIFY_H

#include <stdint.h>

struct master;

/*
 * systemd's service notification protocol (sd_notify(3)), spoken by the
 * master alone: READY=1 once every worker serves, STATUS= with the client
 * count, RELOADING=1/READY=1 around SIGHUP, STOPPING=1, and WATCHDOG=1 at
 * half of $WATCHDOG_USEC. Everything is a no-op without $NOTIFY_SOCKET.
 */

/* Reads the environment and connects the socket; call before the privilege drop. */
void	notify_init(void);
/* Sends what is due now; returns ms until something next is, or -1. */
int	notify_tick(const struct master *m);
void	notify_reloading(void);
void	notify_reloaded(void);
void	notify_stopping(void);

#endif
