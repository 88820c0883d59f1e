/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The master publishing to the workers what they serve for TLS (common/
 * certshm.h): chains by name (derper's meta certificate appended), ACME
 * challenge answers, and the figures /metrics shows. Each call writes
 * shared memory, bumps the generation and wakes every worker.
 */
#ifndef DERPD_TLSPUB_H
#define DERPD_TLSPUB_H

#include <stddef.h>
#include <time.h>

#include "master.h"

/* Serves chain (PEM, len bytes; 0: nothing) under name. 0, or -1 (full,
 * too large; logged). */
int	tlspub_cert(struct master *m, const char *name, const char *chain,
	    size_t len, time_t not_after);
/* ACME orders and last error for name (a slot of its own if need be). */
int	tlspub_status(struct master *m, const char *name, uint64_t issued,
	    uint64_t failed, time_t last_error_at, const char *last_error);
int	tlspub_alpn(struct master *m, const char *sni, const char *cert,
	    size_t cert_len, const char *key, size_t key_len);
void	tlspub_alpn_del(struct master *m, const char *sni);
int	tlspub_http(struct master *m, const char *token, const char *key_auth);
void	tlspub_http_del(struct master *m, const char *token);
/* The ACME child died: answers it published go with it. */
void	tlspub_clear_challenges(struct master *m);

#endif
