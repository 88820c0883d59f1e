/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The set-up each child role gets from the master (common/role.h): exactly
 * the descriptors and configuration it needs. The key process's is in
 * master/keyd.c.
 */
#ifndef DERPD_ROLES_H
#define DERPD_ROLES_H

#include <sys/types.h>

#include "master.h"

/*
 * Worker i, with its ends of the key process's, table's, verifier's (or -1)
 * and mesh dialer's (or -1) sockets.
 */
pid_t	roles_spawn_worker(struct master *m, uint32_t i, int keyd_fd, int table_fd,
	    int verify_fd, int dial_fd);
pid_t	roles_spawn_stun(struct master *m);
pid_t	roles_spawn_dns(struct master *m);
/* The mesh dialer, with its end of its control socket. */
pid_t	roles_spawn_dialer(struct master *m, int ctl_fd);
/* The ACME client, with its ends of our socket and the key process's. */
pid_t	roles_spawn_acme(struct master *m, int master_fd, int keyd_fd);

#endif
