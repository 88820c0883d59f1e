/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The master's side of the ACME child (acme/child.c, common/acme_proto.h):
 * its sockets (one to us, one to the key process, which only it holds),
 * what it asks us to publish to the workers, and -acme-ip-certs requests
 * from the workers passed on to it.
 */
#ifndef DERPD_ACMED_H
#define DERPD_ACMED_H

#include <stdint.h>

#include "master.h"

/* As root, before the privilege drop: the certdir (created for the run
 * user, 0700), the key store in it, the trust store. Fatal on failure. */
void	acmed_prepare(struct master *m);
/* Starts the ACME child; its pid, or -1 (logged). */
pid_t	acmed_spawn(struct master *m);
/* It exited: its sockets and the challenge answers it published go. */
void	acmed_gone(struct master *m);
/* Its socket is readable: one request, applied and acknowledged. */
void	acmed_readable(struct master *m);
/* Passes on workers' requests for IP address certificates; ms until the
 * next look (-1: never). */
int	acmed_tick(struct master *m);

#endif
