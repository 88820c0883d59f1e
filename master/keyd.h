/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The master's side of the key process (master/keyproc.c): starting it in
 * its role with the key files' descriptors (opened as root and kept, so a
 * restarted key process reads them again), handing it each worker's
 * socket, and noticing when a restarted one is ready. The master keeps the
 * key process's ends of the workers' sockets, so requests wait in them
 * while it restarts.
 */
#ifndef DERPD_KEYD_H
#define DERPD_KEYD_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "privdrop.h"
#include "shm.h"

struct keyd {
	pid_t		 pid;		/* 0: not running */
	int		 ctl;		/* master <-> key process; -1: none */
	int		 ready;		/* its hello arrived */
	int		 key_fd;	/* the DERP key file; -1 for an ephemeral key */
	const char	*key_path;
	int		 tls_key_fd;	/* the TLS key file (manual); -1 without */
	const char	*tls_chain;	/* the certificate chain, leaf first (PEM) */
	int		 tls_crt_fd;	/* at first start only: self-sign into it */
	const char	*selfsign;	/* ...for this IP -hostname */
	int		 keyring_fd;	/* ACME: the certdir's acme-keys.pem; -1 */
	int		 mesh_key_fd;	/* -mesh-client-key; -1 without */
	const char	*mesh_chain;	/* -mesh-client-cert (PEM), or NULL */
	int		 acme_end;	/* the key process's end of the ACME child's socket */
	struct run_as	 ra;
	int		 worker_end[SHM_MAX_WORKERS];	/* key process's ends */
	uint8_t		 pub[KEY_LEN];	/* the DERP public key, once known */
	int		 have_pub;
};

void	keyd_init(struct keyd *k);
/* Starts the key process (not yet ready); -1 (logged) if it cannot. */
int	keyd_spawn(struct keyd *k, const struct config *cfg);
/* At start-up: waits for the key process's hello; fatal on failure. */
void	keyd_wait_ready(struct keyd *k);
/*
 * Its socket is readable while starting: 1 once ready (every worker's
 * socket handed over), 0 not yet, -1 it failed (it exits; we reap it).
 * Fatal if a restarted key process serves another key than before.
 */
int	keyd_hello(struct keyd *k);
/* The key process exited: its socket goes. */
void	keyd_gone(struct keyd *k);
/* Gives the key process its end of worker w's socket (replacing any old one). */
void	keyd_attach(struct keyd *k, uint32_t w, int fd);
/* Likewise for the ACME child's socket (-1: none now). */
void	keyd_attach_acme(struct keyd *k, int fd);
/*
 * -certmode manual reload: the key process serves the key in fd if it
 * matches the leaf certificate (DER), and keeps the old one for handshakes
 * under way. Waits for its answer: 0 taken, -1 refused or no answer
 * (logged, here or by the key process).
 */
int	keyd_reload_tls_key(struct keyd *k, int fd, const uint8_t *leaf_der,
	    size_t len);
void	keyd_detach(struct keyd *k, uint32_t w);

#endif
