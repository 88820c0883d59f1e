/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_LISTEN_H
#define DERPD_LISTEN_H

#include <stdint.h>

#include "config.h"
#include "steer.h"

/*
 * Opens one listening TCP socket per worker on the -a address, all in one
 * SO_REUSEPORT group, steered (master/steer.h) by -placement. The master
 * keeps every socket open, so a dead worker's queue waits for its
 * successor instead of being reset.
 */
void	listen_open(const struct config *cfg, int port, int *fds, uint32_t n);
/* -placement, for steer_apply(). */
enum steer_mode listen_placement(const struct config *cfg);
/* Binds the STUN UDP socket on the -a host and -stun-port. */
int	listen_udp(const struct config *cfg, int port);

#endif
