/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpd's ACME (RFC 8555) client engine: obtains a certificate for a set of
 * DNS names or IP addresses (RFC 8738) from a CA such as Let's Encrypt.
 *
 * One acme_obtain() runs the whole protocol once, blocking: the directory,
 * a nonce, the account (newAccount with the certdir's account key, External
 * Account Binding when configured), newOrder, for each pending authorization
 * one challenge (tls-alpn-01 first, then http-01, as derper's autocert
 * chooses), finalize with a CSR the caller makes, and the PEM chain, which is
 * checked against the CSR and stored in the certdir.
 *
 * Process model (see the lead's wiring notes): an unprivileged ACME child
 * runs this engine. It never holds the certificate's private key: the
 * caller's make_csr hook asks the key process for a CSR. It publishes
 * challenge answers through hooks the caller forwards to the workers. Its
 * only files are the certdir (opened once, used by descriptor) and the
 * trust store, read into memory before any sandbox (acme_trust_load).
 *
 * Not thread-safe; one struct acme per process is the intended use.
 */
#ifndef DERPD_ACME_H
#define DERPD_ACME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/types.h>

#define ACME_DIR_LETSENCRYPT	"https://acme-v02.api.letsencrypt.org/directory"
#define ACME_DIR_GCP		"https://dv.acme-v02.api.pki.goog/directory"
#define ACME_SYSTEM_CA		"/etc/ssl/certs/ca-certificates.crt"

#define ACME_MAX_NAMES		16
#define ACME_ERR_LEN		512

/* Challenge types the caller can answer (struct acme_config.challenges). */
#define ACME_CHALL_TLSALPN01	0x1
#define ACME_CHALL_HTTP01	0x2

struct acme_config {
	const char	 *directory;	/* https URL of the CA's directory */
	const char	**names;	/* DNS names or IP literals; names[0] */
	size_t		  nnames;	/*   names the cached chain's file */
	const char	 *email;	/* contact, or NULL */
	const char	 *eab_kid;	/* External Account Binding: both */
	const char	 *eab_key;	/*   or neither (key is base64url) */
	const char	 *profile;	/* e.g. "shortlived", or NULL */
	int		  challenges;	/* ACME_CHALL_* the caller answers */
	const char	 *ca_pem;	/* trust store (PEM), kept by the */
	size_t		  ca_pem_len;	/*   caller for the client's life */
	int		  certdir_fd;	/* from acme_certdir_open() */
	unsigned	  timeout;	/* seconds for one acme_obtain; 0: 300 */
};

/*
 * What the caller does for the engine. Each returns 0, or -1 with the reason
 * in err (ACME_ERR_LEN bytes). The engine withdraws every answer it
 * published, whether the authorization succeeded or not.
 */
struct acme_hooks {
	void	*arg;
	/* A DER CSR (malloc'd) for exactly these identifiers. */
	int	(*make_csr)(void *arg, const char **names, size_t nnames,
		    uint8_t **der, size_t *derlen, char *err);
	/* Serve key_auth at /.well-known/acme-challenge/<token> on port 80. */
	int	(*http01_publish)(void *arg, const char *token,
		    const char *key_auth, char *err);
	void	(*http01_withdraw)(void *arg, const char *token);
	/*
	 * Answer TLS connections that offer ALPN "acme-tls/1" with SNI `sni`
	 * (the name, or for an IP its reverse-DNS name, RFC 8738 section 6)
	 * with this certificate and key (PEM), and nothing else.
	 */
	int	(*tlsalpn01_publish)(void *arg, const char *sni,
		    const char *cert_pem, const char *key_pem, char *err);
	void	(*tlsalpn01_withdraw)(void *arg, const char *sni);
};

struct acme_cert {
	char	*chain_pem;	/* leaf first, NUL-terminated */
	size_t	 chain_len;
	time_t	 not_before;	/* the leaf's */
	time_t	 not_after;
};

struct acme_stats {
	unsigned	orders;			/* newOrder requests that succeeded */
	unsigned	badnonce_retries;	/* requests resent after badNonce */
	unsigned	requests;		/* HTTP requests made */
	int		account_created;	/* 201 (new) rather than 200 */
	int		failed_challenge;	/* ACME_CHALL_* the CA did not
						 * validate, or 0 */
	char		account_url[1024];	/* == ACME_URL_MAX */
};

struct acme;

/* Once per process, before any thread or sandbox (libcurl, OpenSSL). */
int	acme_global_init(void);

/* Checks a configuration (e.g. gcp's required EAB); 0 or -1 with err. */
int	acme_config_check(const struct acme_config *, char *err, size_t errlen);

/*
 * A client for cfg (copied; its strings and ca_pem must outlive the client)
 * or NULL with the reason in err. Loads or creates the account key.
 */
struct acme *acme_new(const struct acme_config *cfg,
	    const struct acme_hooks *hooks, char *err, size_t errlen);
void	acme_free(struct acme *);

/*
 * Places an order and, on success, stores the chain in the certdir and
 * returns it in *out (free with acme_cert_free). On failure returns -1;
 * acme_error() says why (with the CA's problem type and detail).
 */
int	acme_obtain(struct acme *, struct acme_cert *out);
const char *acme_error(const struct acme *);
const struct acme_stats *acme_stats(const struct acme *);

enum acme_cache {
	ACME_CACHE_NONE,	/* absent, unreadable, expired, wrong names/key */
	ACME_CACHE_FRESH,	/* usable, not yet due for renewal */
	ACME_CACHE_DUE		/* usable until not_after; renew now */
};

/*
 * The chain stored for cfg's names, judged at `now`. With spki (DER
 * SubjectPublicKeyInfo), the leaf must carry that public key. *out is
 * filled for FRESH and DUE only; an expired chain is never returned.
 */
enum acme_cache acme_cached(const struct acme_config *cfg, time_t now,
	    const uint8_t *spki, size_t spkilen, struct acme_cert *out);
void	acme_cert_free(struct acme_cert *);

/*
 * Opens the certdir, creating it (mode 0700, owned by owner) if missing;
 * refuses one owned by anyone else or open to group or others. Returns an
 * O_DIRECTORY descriptor or -1 with err. The master calls it as root with
 * the ACME child's uid and hands the child the descriptor.
 */
int	acme_certdir_open(const char *path, uid_t owner, char *err,
	    size_t errlen);

/* Reads a PEM trust store (at least one certificate) into memory. */
int	acme_trust_load(const char *path, char **pem, size_t *len,
	    char *err, size_t errlen);

/*
 * A DER CSR (malloc'd) for names, signed by key: what the key process runs
 * for make_csr. One SAN per name, dNSName or iPAddress. 0 or -1.
 */
int	acme_csr_build(EVP_PKEY *key, const char **names, size_t nnames,
	    uint8_t **der, size_t *derlen);

/* ---- renewal policy (renew.c): pure functions of time ---- */

#define ACME_RENEW_MAX_MARGIN	(30 * 86400)	/* renew 30 days early at most */
#define ACME_BACKOFF_FIRST	60		/* first retry after a failure */
#define ACME_BACKOFF_CAP	86400		/* never wait longer */

/* When to renew a certificate valid [not_before, not_after). */
time_t	acme_renew_at(time_t not_before, time_t not_after);
/*
 * Delay after the failures-th consecutive failure (>= 1): doubling from
 * ACME_BACKOFF_FIRST up to ACME_BACKOFF_CAP, then jittered into
 * [3/4, 1] of that by rnd (any random value).
 */
time_t	acme_backoff(unsigned failures, uint32_t rnd);

/* One certificate's schedule; zero-initialised means "no certificate". */
struct acme_renewal {
	time_t		not_after;	/* of the certificate in use; 0: none */
	time_t		renew_at;
	time_t		retry_at;	/* after a failure; 0: none */
	unsigned	failures;
	int		in_flight;
};

void	acme_renewal_set_cert(struct acme_renewal *, time_t not_before,
	    time_t not_after);
/* The earliest time the next order may start. */
time_t	acme_renewal_next(const struct acme_renewal *);
/* 1 and marks an order in flight if one may start at now; else 0. */
int	acme_renewal_begin(struct acme_renewal *, time_t now);
/* Ends the order in flight; a failure schedules the back-off. */
void	acme_renewal_end(struct acme_renewal *, time_t now, int ok,
	    uint32_t rnd);
/* True if the certificate in use may still be served at now. */
int	acme_renewal_usable(const struct acme_renewal *, time_t now);

#endif
