/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ACME child's state, shared by its files: child.c (the certificates
 * it keeps and when to order them), child_master.c (its socket to the
 * master: what to serve, challenge answers, /metrics) and child_keyd.c
 * (its socket to the key process: keys and CSRs).
 */
#ifndef DERPD_CHILD_H
#define DERPD_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "acme.h"
#include "acme_parse.h"
#include "certshm.h"
#include "config.h"
#include "keyd_proto.h"

#define CHILD_JOBS	CERTSHM_CERTS	/* the hostname's, then IP addresses' */

/* One certificate kept: its name, what is served, when to order. */
struct job {
	char		 name[ACME_IDENT_MAX];	/* canonical (acme_ident_parse) */
	int		 is_ip;
	struct acme_renewal sched;
	int		 serving;		/* the master serves our chain */
	uint8_t		 hash[KEYD_HASH_LEN];	/* ...whose key is this */
	uint64_t	 issued, failed;	/* orders, for /metrics */
	time_t		 last_error_at;		/* 0: none since a success */
	char		 last_error[CERTSHM_ERR_MAX];
};

struct child {
	json_t		*setup;		/* lives as long as we do: cfg's strings */
	struct config	 cfg;
	int		 master_fd;
	int		 keyd_fd;
	int		 certdir_fd;
	const char	*ca_pem;
	size_t		 ca_len;
	struct job	 jobs[CHILD_JOBS];
	int		 njobs;
	uint8_t		 aside[KEYD_HASH_LEN];	/* the key made for this order */
	char		 wanted[CHILD_JOBS][ACME_IDENT_MAX];	/* WANT_IP, queued */
	int		 nwanted;
	long		 clock_offset;		/* test builds: seconds ahead */
	unsigned	 backoff_div;		/* test builds: back-off divided */
};

/* The time as the child judges certificates (test builds may shift it). */
time_t	child_now(const struct child *c);

/* child_master.c */
/* Serves j's chain (NULL: nothing) everywhere; 0 once the master did. */
int	child_serve(struct child *c, const struct job *j, const char *chain,
	    size_t len, time_t not_after);
/* j's figures for /metrics. */
void	child_status(struct child *c, const struct job *j);
/* Waits up to timeout_ms for the master; queues WANT_IP in c->wanted.
 * Exits when the master is gone, or on SIGTERM (common/stopsig.h). */
void	child_wait(struct child *c, int timeout_ms);
int	child_http01_publish(void *arg, const char *token, const char *key_auth,
	    char *err);
void	child_http01_withdraw(void *arg, const char *token);
int	child_tlsalpn01_publish(void *arg, const char *sni, const char *cert,
	    const char *key, char *err);
void	child_tlsalpn01_withdraw(void *arg, const char *sni);

/* child_keyd.c */
/* Whether the key process serves the key named hash. */
int	child_keyd_has(struct child *c, const uint8_t hash[KEYD_HASH_LEN]);
/* The key made for this order (c->aside) becomes the one served, in place
 * of old (NULL: none). 0, or -1 (logged). */
int	child_keyd_install(struct child *c, const uint8_t *old);
/* The engine's make_csr hook: a new key in the key process, its CSR. */
int	child_make_csr(void *arg, const char **names, size_t nnames,
	    uint8_t **der, size_t *derlen, char *err);

#endif
