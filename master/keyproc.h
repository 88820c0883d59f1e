/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process (derpd: key): the only process that ever holds the
 * relay's private keys -- the DERP key (derper's key file) in
 * sodium_malloc memory, and the TLS certificates' keys in OpenSSL's secure
 * heap (locked, guard pages, not in core dumps). It reads the DERP key and
 * a -certmode manual TLS key from descriptors the master opened, checks
 * the TLS key against the certificate, tells the master the DERP public
 * key, drops privileges, enters its own sandbox, and answers workers
 * (common/keyd_proto.h) and the ACME child (common/keyd_acme_proto.h).
 *
 * TLS keys are named by the SHA-256 of their DER SubjectPublicKeyInfo, as
 * the certificate workers serve names them (keyring.c): served keys, keys
 * kept for handshakes that began before a certificate changed, and one key
 * set aside for an ACME order. With ACME, the served keys are also stored
 * in the certdir (acme-keys.pem, through a descriptor the master opened),
 * so a restart serves the cached certificate again.
 */
#ifndef DERPD_KEYPROC_H
#define DERPD_KEYPROC_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "keyd_acme_proto.h"
#include "keyd_proto.h"
#include "shm.h"

/* What the master and the key process say to each other on their socket. */
enum keyd_ctl_op {
	KEYD_CTL_HELLO = 1,	/* key process -> master: loaded; the DERP public key */
	KEYD_CTL_WORKER,	/* master -> key process: worker's socket */
	KEYD_CTL_ACME,		/* master -> key process: the ACME child's socket */
	KEYD_CTL_TLS_KEY,	/* master -> key process: a manual key file, and
				 * key process -> master: whether it took it */
};

#define KEYD_CTL_DER_MAX	8192	/* a leaf certificate */

struct keyd_hello {			/* key process -> master */
	uint32_t	op;		/* KEYD_CTL_HELLO, KEYD_CTL_TLS_KEY */
	uint32_t	ok;
	uint8_t		pub[KEY_LEN];	/* HELLO: the DERP public key */
};

struct keyd_ctl {			/* master -> key process, with a descriptor */
	uint32_t	op;
	uint32_t	worker;		/* KEYD_CTL_WORKER */
	uint32_t	der_len;	/* KEYD_CTL_TLS_KEY: the certificate the */
	uint8_t		der[KEYD_CTL_DER_MAX];	/* key file's key must match */
};

#define KEYPROC_TLS_KEYS	16

enum keyproc_key_state {
	KEYPROC_FREE,
	KEYPROC_SERVED,		/* a certificate being served carries it */
	KEYPROC_RETIRING,	/* replaced: for handshakes under way only */
	KEYPROC_ASIDE,		/* made for an ACME order, not yet issued */
	KEYPROC_CLIENT,		/* -mesh-client-key: signs client CertificateVerify */
};

struct keyproc_tlskey {
	EVP_PKEY	*key;
	int		 rsa;		/* RSA (PSS) rather than ECDSA */
	int		 state;
	uint64_t	 since;		/* when it got its state: oldest retires first */
	uint8_t		 hash[KEYD_HASH_LEN];
};

struct keyproc {
	uint8_t		*derp_priv;	/* sodium_malloc'd, read-only */
	struct keyproc_tlskey tls[KEYPROC_TLS_KEYS];
	uint64_t	 tls_clock;
	int		 keyring_fd;	/* ACME: where served keys are stored; -1 */
	int		 acme_fd;	/* the ACME child's socket, or -1 */
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
 * Answers one worker request, as a pure function of the keys and the
 * request: returns 0 and fills *resp, or -1 for a request to refuse
 * outright (*why says why; resp still says ok = 0).
 */
int	keyproc_answer(const struct keyproc *kp, const struct keyd_req *req,
	    struct keyd_resp *resp, const char **why);
/*
 * Answers one request of the ACME child (keyproc_acme.c), without I/O:
 * 0 and *resp (ok or not), or -1 for a malformed request (*why). *changed
 * says the served keys changed and must be stored (keyring_save).
 */
int	keyproc_acme_answer(struct keyproc *kp, const struct keyd_acme_req *req,
	    struct keyd_acme_resp *resp, int *changed, const char **why);

/* --- keyproc_ctl.c: the master's messages, the ACME child's requests --- */

#define KEYPROC_TAG_CTL		0xffffffffu	/* epoll: not a worker's socket */
#define KEYPROC_TAG_ACME	0xfffffffeu

void	keyproc_ctl(struct keyproc *kp);
void	keyproc_serve_acme(struct keyproc *kp);
/* Stops serving worker w's socket (its successor brings a new one). */
void	keyproc_drop_fd(struct keyproc *kp, uint32_t w);
/*
 * Serves the private key in the file behind fd (read from its start),
 * which must match leaf, in place of the served keys (which retire).
 * 0, or -1 with *why.
 */
int	keyproc_add_key_file(struct keyproc *kp, int fd, X509 *leaf,
	    const char **why);

/* --- keyring.c: the TLS keys by hash --- */

/* The SHA-256 of key's (or cert's) DER SubjectPublicKeyInfo. 0 or -1. */
int	keyring_hash_key(EVP_PKEY *key, uint8_t out[KEYD_HASH_LEN]);
int	keyring_hash_cert(X509 *cert, uint8_t out[KEYD_HASH_LEN]);
/* A served or retiring key with that hash, or NULL. */
const struct keyproc_tlskey *keyring_find(const struct keyproc *kp,
	    const uint8_t hash[KEYD_HASH_LEN]);
struct keyproc_tlskey *keyring_find_state(struct keyproc *kp,
	    const uint8_t hash[KEYD_HASH_LEN], int state);
/*
 * Adds key (taken over; freed on failure) in state; makes room by
 * forgetting the oldest retiring key. 0, or -1 (no room, a key that is
 * neither ECDSA nor RSA of 2048 bits or more: *why).
 */
int	keyring_add(struct keyproc *kp, EVP_PKEY *key,
	    const uint8_t hash[KEYD_HASH_LEN], int state, const char **why);
void	keyring_set_state(struct keyproc *kp, struct keyproc_tlskey *k, int state);
/* Every served key becomes retiring (a manual reload replaces them). */
void	keyring_retire_all(struct keyproc *kp);
/* Loads the PEM keys in fd as served (before the sandbox). */
void	keyring_load(struct keyproc *kp, int fd);
/* Stores every served key in kp->keyring_fd (PEM, rewritten). 0 or -1. */
int	keyring_save(struct keyproc *kp);
/* Reads the whole file behind fd from its start into locked memory
 * (sodium_free it), at most 64 KiB; NULL on failure. */
char	*keyring_read_locked(int fd, size_t *len);
void	keyring_free(struct keyproc *kp);

/* --- selfsign.c: -certmode manual with an IP -hostname and no certificate --- */

/*
 * Makes a P-256 key and a self-signed certificate for ip (a year, as
 * derper), writes the key (PEM) to key_fd and the certificate to crt_fd,
 * and serves the key. Fatal on failure (start-up only).
 */
void	selfsign_make(struct keyproc *kp, const char *ip, int key_fd, int crt_fd);

#endif
