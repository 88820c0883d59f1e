/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The master's side of the table protocol (common/table_proto.h): it owns
 * the connection table and applies workers' requests to it. Like the key
 * process, it answers each worker in turn, a batch at a time, and never
 * drops an answer: while a worker's socket is full, that worker's requests
 * wait until it has read. It never blocks.
 */
#ifndef DERPD_TABLESRV_H
#define DERPD_TABLESRV_H

#include <poll.h>
#include <stdint.h>

#include "shm.h"
#include "table_proto.h"

struct tablesrv {
	struct shm	*shm;
	uint32_t	 max_slot;	/* slots per worker: requests name fewer */
	int		 fd[SHM_MAX_WORKERS];	/* -1: no worker */
	struct table_resp pending[SHM_MAX_WORKERS];
	int		 blocked[SHM_MAX_WORKERS];	/* pending waits for room */
	uint64_t	 bad[SHM_MAX_WORKERS];	/* malformed requests seen */
};

void	tablesrv_init(struct tablesrv *ts, struct shm *shm, uint32_t max_slot);
/* Worker w's socket (the master's end); replaces any old one. */
void	tablesrv_attach(struct tablesrv *ts, uint32_t w, int fd);
void	tablesrv_detach(struct tablesrv *ts, uint32_t w);
/* Adds a pollfd per attached worker; who[k] says which. Returns how many. */
int	tablesrv_pollfds(const struct tablesrv *ts, struct pollfd *pfd,
	    uint32_t *who, int max);
/* Serves worker w after poll said revents. */
void	tablesrv_serve(struct tablesrv *ts, uint32_t w, short revents);

#endif
