/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_LISTEN_H
#define DERPD_LISTEN_H

#include <stdint.h>

#include "config.h"

/*
 * Opens one listening TCP socket per worker on the -a address, all in one
 * SO_REUSEPORT group. With more than one worker and -placement source-port,
 * a classic BPF program steers each new connection to worker (client source
 * port % workers): stable, spread evenly by ephemeral ports, and
 * predictable for tests; fatal if the kernel refuses it. With -placement
 * hash, the kernel spreads them by its hash. The master keeps every socket
 * open so a dead worker's queue waits for its successor instead of being
 * reset.
 */
void	listen_open(const struct config *cfg, int port, int *fds, uint32_t n);
/* Binds the STUN UDP socket on the -a host and -stun-port. */
int	listen_udp(const struct config *cfg, int port);

#endif
