/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which worker a new TCP connection goes to: a classic BPF program on the
 * listening sockets' SO_REUSEPORT group (the index it returns is a
 * socket's place in the group, which is its worker's number).
 *
 * -placement hash (the default) spreads connections by a hash of the
 * client's address and port; -placement source-port puts each on worker
 * (source port % workers), stable and predictable for tests and benchmarks
 * (but Linux picks even ephemeral ports, so un-NATed Linux clients all land
 * on even workers). Either way, a worker that is down gets no new
 * connections: the master rebuilds the program without it when it dies and
 * with it when its successor starts, so nobody waits in a dead worker's
 * backlog through its back-off.
 */
#ifndef DERPD_STEER_H
#define DERPD_STEER_H

#include <stdint.h>

enum steer_mode { STEER_HASH, STEER_SOURCE_PORT };

#define STEER_MAX_INSNS	512	/* 64 workers fit with room to spare */

struct sock_filter;

/*
 * Builds the program for n workers of which alive[i] != 0 serve, into
 * code (STEER_MAX_INSNS). Returns its length, or 0 if none is alive.
 */
int	steer_build(enum steer_mode mode, uint32_t n, const uint8_t *alive,
	    struct sock_filter *code);
/* Attaches it to fd's reuseport group; -1 (errno set) if the kernel refuses. */
int	steer_apply(int fd, enum steer_mode mode, uint32_t n, const uint8_t *alive);

#endif
