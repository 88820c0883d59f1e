/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's byte stream to a relay: TCP, optionally TLS (OpenSSL; the
 * system's roots or -ca, the URL's host checked against the certificate),
 * with one input queue that the HTTP, WebSocket and DERP readers share.
 * Nothing blocks past the caller's deadline.
 */
#ifndef CLIENT_TRANSPORT_H
#define CLIENT_TRANSPORT_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "bq.h"
#include "url.h"

#define TP_INBUF	(192 * 1024)	/* more than the largest DERP frame */
#define TP_ERR_MAX	256

struct tp_opts {
	const char	*cafile;	/* NULL: the system's roots */
	const char	*dial;		/* host[:port] to connect to instead */
	int		 record_only;	/* 1: finish the handshake whatever the
					   verification says (probe reports it) */
};

struct tp {
	int	 fd;
	SSL_CTX	*ctx;
	SSL	*ssl;		/* NULL for plain HTTP */
	struct bq in;
	long	 verify_err;	/* first X509_V_ERR_*, 0 if verified */
	int	 verify_depth;
	double	 connect_ms;	/* TCP connect and TLS handshake */
	char	 err[TP_ERR_MAX];
};

/* Connects (and handshakes) by deadline; NULL with err set on failure. */
struct tp *tp_connect(const struct url *u, const struct tp_opts *o,
	    int64_t deadline, char *err, size_t errlen);
void	tp_close(struct tp *t);
/*
 * Reads what is available into t->in, waiting until deadline for the
 * first byte (a deadline in the past: no waiting). Returns 1 after reading,
 * 0 on timeout, -1 on EOF or error (t->err says which).
 */
int	tp_fill(struct tp *t, int64_t deadline);
/* Writes all of buf by deadline; -1 with t->err set otherwise. */
int	tp_write(struct tp *t, const void *buf, size_t len, int64_t deadline);

#endif
