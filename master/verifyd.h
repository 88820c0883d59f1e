/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The master's side of the verifier (master/verifier.c): starting it in
 * its role, handing it each worker's socket once it serves, and restarting
 * it on SIGHUP so that a new one reads -allow-keys, the CA bundle and the
 * controller's address afresh and has an empty cache. As with the key
 * process, the master keeps the verifier's ends of the workers' sockets,
 * so requests wait in them while it restarts.
 */
#ifndef DERPD_VERIFYD_H
#define DERPD_VERIFYD_H

#include <stdint.h>
#include <sys/types.h>

#include "allowkeys.h"
#include "config.h"
#include "shm.h"

struct verifyd {
	pid_t		 pid;		/* 0: not running */
	int		 ctl;		/* master <-> verifier; -1: none */
	int		 ready;		/* it said it serves */
	int		 reloading;	/* stopped for SIGHUP: its successor re-checks all */
	struct allowkeys keys;		/* -allow-keys */
	int		 worker_end[SHM_MAX_WORKERS];	/* the verifier's ends */
};

void	verifyd_init(struct verifyd *v);
/* Starts the verifier (not yet ready); -1 (logged) if it cannot. */
int	verifyd_spawn(struct verifyd *v, const struct config *cfg);
/* At start-up: waits until it serves; fatal if it does not. */
void	verifyd_wait_ready(struct verifyd *v);
/*
 * Its socket is readable while starting: 1 once it serves (every worker's
 * socket handed over), 0 not yet, -1 it failed (it exits; we reap it).
 */
int	verifyd_hello(struct verifyd *v);
/* It exited: its socket goes. */
void	verifyd_gone(struct verifyd *v);
/* SIGHUP: the running verifier is told to stop (its successor starts fresh). */
void	verifyd_stop(struct verifyd *v);
/* Gives the verifier its end of worker w's socket (replacing any old one). */
void	verifyd_attach(struct verifyd *v, uint32_t w, int fd);
void	verifyd_detach(struct verifyd *v, uint32_t w);

#endif
