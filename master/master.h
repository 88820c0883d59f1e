/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_MASTER_H
#define DERPD_MASTER_H

#include <stdint.h>
#include <sys/types.h>

#include "certs.h"
#include "clientca.h"
#include "config.h"
#include "dialctl.h"
#include "keyd.h"
#include "privdrop.h"
#include "shm.h"
#include "tablesrv.h"
#include "verifyd.h"

/* What the master has published to the workers for TLS (tlspub.c). */
struct tlspub_state {
	char			name[CERTSHM_CERTS][CERTSHM_NAME_MAX];	/* "": free */
	struct certshm_status	status[CERTSHM_CERTS];
	char			alpn[CERTSHM_ALPN][CERTSHM_NAME_MAX];	/* SNI */
	char			http[CERTSHM_HTTP][CERTSHM_NAME_MAX];	/* token */
};

struct worker_proc {
	pid_t		pid;		/* 0 when not running */
	int64_t		started_ms;
	int64_t		respawn_at_ms;	/* when pid == 0 */
	uint32_t	backoff_ms;
};

struct master {
	const struct config *cfg;
	struct shm	 shm;
	struct keyd	 keyd;
	struct certs	 certs;		/* -certmode manual: the chain and the key's descriptor */
	struct tablesrv	 tables;		/* the connection table's writer */
	struct run_as	 ra;
	struct tlspub_state tlspub;
	uint32_t	 nworkers;
	int		 listen_fds[SHM_MAX_WORKERS];
	int		 http_fds[SHM_MAX_WORKERS];	/* -http-port beside TLS, or -1 */
	int		 evfds[SHM_MAX_WORKERS];
	struct worker_proc w[SHM_MAX_WORKERS];
	struct worker_proc keyp;	/* the key process (pid mirrors keyd.pid) */
	int		 stun_fd;	/* -1 with -stun=false */
	struct worker_proc stun;
	int		 run_dns;	/* bootstrap DNS names configured */
	struct worker_proc dns;
	struct worker_proc acme;	/* the ACME client, with -certmode letsencrypt/gcp */
	int		 acme_fd;	/* our end of its socket; -1 */
	int		 acme_certdir;	/* the certdir, opened as root; -1 */
	char		*acme_ca;	/* -acme-ca-file's PEM, read as root */
	int64_t		 acme_poll_ms;	/* next look at workers' want_cert */
	uint64_t	 want_seq[SHM_MAX_WORKERS];	/* want_cert seen */
	int64_t		 cert_poll_ms;	/* next look at manual certificate files */
	struct verifyd	 verifyd;	/* with -verify-clients, -verify-client-url, -allow-keys */
	struct worker_proc verp;	/* the verifier (pid mirrors verifyd.pid) */
	struct clientca	 clientca;	/* -client-ca, -client-crl */
	int		 run_mesh;	/* -mesh-with given */
	struct dialctl	 dial;		/* the mesh dialer's sockets, the links' CAs */
	struct worker_proc dialer;
	int		 sigfd;
	int		 stopping;
	int64_t		 stop_deadline_ms;
};

/* Starts the children and supervises them until a stop signal. Returns the exit status. */
int	master_run(struct master *m);

#endif
