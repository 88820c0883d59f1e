/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process (derpd: key): the only process that ever holds the
 * relay's private keys -- the DERP key (derper's key file) in
 * sodium_malloc memory, and the TLS certificate's key in OpenSSL's secure
 * heap (locked, guard pages, not in core dumps). It reads both from
 * descriptors the master opened as root, checks the TLS key against the
 * certificate, tells the master the DERP public key, drops privileges,
 * enters its own sandbox, and answers workers (common/keyd_proto.h).
 */
#ifndef DERPD_KEYPROC_H
#define DERPD_KEYPROC_H

#include <openssl/evp.h>
#include <stdint.h>

#include "keyd_proto.h"
#include "shm.h"

/* What the master and the key process say to each other on their socket. */
struct keyd_hello {			/* key process -> master, once loaded */
	uint8_t		pub[KEY_LEN];	/* the DERP public key */
};

struct keyd_attach {			/* master -> key process, with a descriptor */
	uint32_t	worker;
};

struct keyproc {
	uint8_t		*derp_priv;	/* sodium_malloc'd, read-only */
	EVP_PKEY	*tls_key;	/* NULL without TLS */
	int		 tls_rsa;	/* RSA (PSS) rather than ECDSA */
	int		 ctl;		/* to the master */
	int		 epfd;
	int		 worker_fd[SHM_MAX_WORKERS];
	struct keyd_resp pending[SHM_MAX_WORKERS];	/* waiting for room */
	int		 blocked[SHM_MAX_WORKERS];
	uint64_t	 refused[SHM_MAX_WORKERS];	/* bad requests seen */
};

/* The role's entry point (after exec): never returns. */
void	keyproc_main(void) __attribute__((noreturn));
/*
 * Answers one request, as a pure function of the keys and the request:
 * returns 0 and fills *resp, or -1 for a request to refuse outright
 * (*why says why; resp still says ok = 0).
 */
int	keyproc_answer(const struct keyproc *kp, const struct keyd_req *req,
	    struct keyd_resp *resp, const char **why);

#endif
