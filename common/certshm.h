/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the workers serve for TLS, in the master's shared-memory region:
 * the certificate chains (the hostname's, and with -acme-ip-certs one per
 * IP address), the answers to ACME challenges while an order runs
 * (TLS-ALPN-01 certificates by SNI, HTTP-01 key authorizations by token),
 * and the ACME client's figures for /metrics.
 *
 * The master is the only writer: it copies in what it read from disk
 * (-certmode manual) or what the ACME child sent it (master/acmed.c), and
 * never parses a certificate it did not read itself. Each entry has its
 * own seqlock and a version bumped at every change; `gen` is bumped after
 * any entry changed, and the workers' eventfds are written, so a worker
 * sees the change at the top of its next event-loop turn. Readers copy an
 * entry once (certshm_read_*), check lengths and terminators there, and
 * parse only their private copy.
 *
 * A challenge's certificate and key (RFC 8737) are made for that one
 * validation and prove nothing else: every worker may hold them. The
 * keys of the certificates served are in the key process only.
 */
#ifndef DERPD_CERTSHM_H
#define DERPD_CERTSHM_H

#include <stddef.h>
#include <stdint.h>

#define CERTSHM_CERTS		8		/* the hostname's, then IP addresses' */
#define CERTSHM_CHAIN_MAX	(32 * 1024)	/* PEM, meta certificate included */
#define CERTSHM_NAME_MAX	256
#define CERTSHM_ALPN		4		/* challenges answered at once */
#define CERTSHM_ALPN_CERT_MAX	4096
#define CERTSHM_ALPN_KEY_MAX	1024
#define CERTSHM_HTTP		4
#define CERTSHM_TOKEN_MAX	256
#define CERTSHM_KEYAUTH_MAX	512
#define CERTSHM_ERR_MAX		256

/* A chain served for `name`; chain_len 0: none (yet, or any more). */
struct certshm_cert {
	uint64_t	seq;
	uint64_t	version;
	uint32_t	chain_len;
	uint32_t	pad;
	char		name[CERTSHM_NAME_MAX];
	char		chain[CERTSHM_CHAIN_MAX];
};

/* A TLS-ALPN-01 answer for connections with this SNI; cert_len 0: none. */
struct certshm_alpn {
	uint64_t	seq;
	uint64_t	version;
	uint32_t	cert_len;
	uint32_t	key_len;
	char		sni[CERTSHM_NAME_MAX];
	char		cert[CERTSHM_ALPN_CERT_MAX];
	char		key[CERTSHM_ALPN_KEY_MAX];
};

/* An HTTP-01 answer; token empty: none. */
struct certshm_http {
	uint64_t	seq;
	uint64_t	version;
	char		token[CERTSHM_TOKEN_MAX];
	char		key_auth[CERTSHM_KEYAUTH_MAX];
};

/* /metrics for the certificate in the same slot. */
struct certshm_status {
	uint64_t	seq;
	char		name[CERTSHM_NAME_MAX];	/* empty: slot unused */
	int64_t		not_after;	/* 0: no certificate */
	uint64_t	orders_issued;	/* ACME orders, by outcome */
	uint64_t	orders_failed;
	int64_t		last_error_at;	/* 0: none since the last success */
	char		last_error[CERTSHM_ERR_MAX];
};

struct shm_tls {
	uint64_t		gen;
	struct certshm_cert	cert[CERTSHM_CERTS];
	struct certshm_alpn	alpn[CERTSHM_ALPN];
	struct certshm_http	http[CERTSHM_HTTP];
	struct certshm_status	status[CERTSHM_CERTS];
};

/* --- the writer (the master); each returns -1 for an entry too large --- */

/* Slot i serves chain under name (len 0: serves nothing). */
int	certshm_put_cert(struct shm_tls *t, int i, const char *name,
	    const char *chain, size_t len);
/* An answer for sni, or for token, into slot i (cert_len 0, NULL token: gone). */
int	certshm_put_alpn(struct shm_tls *t, int i, const char *sni,
	    const char *cert, size_t cert_len, const char *key, size_t key_len);
int	certshm_put_http(struct shm_tls *t, int i, const char *token,
	    const char *key_auth);
void	certshm_put_status(struct shm_tls *t, int i,
	    const struct certshm_status *st);
/* After the puts of one change: readers look again. */
void	certshm_publish(struct shm_tls *t);

/* --- readers: a clean, checked private copy, or -1 (torn or malformed) --- */

uint64_t certshm_gen(const struct shm_tls *t);
int	certshm_read_cert(const struct shm_tls *t, int i, struct certshm_cert *out);
int	certshm_read_alpn(const struct shm_tls *t, int i, struct certshm_alpn *out);
int	certshm_read_http(const struct shm_tls *t, int i, struct certshm_http *out);
int	certshm_read_status(const struct shm_tls *t, int i,
	    struct certshm_status *out);
/* The checks alone, on a private copy (tests/fuzz/fuzz_certshm.c). */
int	certshm_check_cert(const struct certshm_cert *c);
int	certshm_check_alpn(const struct certshm_alpn *a);
int	certshm_check_http(const struct certshm_http *h);
int	certshm_check_status(const struct certshm_status *s);

#endif
