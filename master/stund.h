/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_STUND_H
#define DERPD_STUND_H

#include "shm.h"

/*
 * Body of the STUN process (derpd[stun]), forked by the master after the
 * privilege drop: answers binding requests on the UDP socket fd, inside its
 * own seccomp sandbox, counting into shared memory.
 */
void	stund_main(int fd, struct shm_stun *stats) __attribute__((noreturn));

#endif
