/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The master's side of the mesh dialer (master/dialer.c): its control
 * socket, and its ends of the workers' sockets, which the master keeps and
 * hands over (SCM_RIGHTS) whenever a dialer or a worker starts, so requests
 * wait in them while the dialer restarts. Also the trust store for the
 * links' TLS, read here as root so no worker ever opens a file for it.
 */
#ifndef DERPD_DIALCTL_H
#define DERPD_DIALCTL_H

#include <stdint.h>

#include "config.h"
#include "shm.h"

struct dialctl {
	int		 ctl;		/* master <-> dialer; -1: none */
	int		 worker_end[SHM_MAX_WORKERS];	/* the dialer's ends */
	char		*ca_pem;	/* the links' trust anchors (PEM) */
	char		*client_chain;	/* -mesh-client-cert (PEM), or NULL */
	int		 client_key_fd;	/* -mesh-client-key, for the key process; -1 */
};

void	dialctl_init(struct dialctl *d);
/*
 * As root, at start: refuses a bad -mesh-with (or one without a mesh key),
 * and reads -mesh-ca-file, or the system's roots, into memory; with
 * -mesh-client-cert, reads that chain and opens -mesh-client-key (which
 * only the key process reads). Fatal on failure. Returns whether there is
 * a mesh to run.
 */
int	dialctl_configure(struct dialctl *d, const struct config *cfg);
/* A dialer started with the other end of ctl: hands it every worker's socket. */
void	dialctl_started(struct dialctl *d, int ctl);
/* The dialer exited. */
void	dialctl_gone(struct dialctl *d);
/* Worker w's socket pair: fd is the dialer's end (kept, and handed over). */
void	dialctl_attach(struct dialctl *d, uint32_t w, int fd);
void	dialctl_detach(struct dialctl *d, uint32_t w);

#endif
