/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's state, shared by its files: net.c (HTTP, nonces, signed
 * requests), account.c, order.c (the protocol), store.c (the certdir).
 */
#ifndef DERPD_ACME_INT_H
#define DERPD_ACME_INT_H

#include <curl/curl.h>
#include <openssl/types.h>

#include "acme.h"
#include "acme_parse.h"

#define ACME_NONCE_MAX		256
#define ACME_BADNONCE_RETRIES	10	/* per request (RFC 8555 section 6.5) */
#define ACME_ACCOUNT_KEY_FILE	"acme-account.key"

struct acme_resp {
	long	 status;
	char	*body;			/* NUL-terminated */
	size_t	 len;
	int	 oversize;
	char	 location[ACME_URL_MAX];
	char	 nonce[ACME_NONCE_MAX];
	long	 retry_after;		/* seconds; -1 if absent */
};

struct acme {
	struct acme_config	 cfg;		/* names point into ids */
	struct acme_identifier	 ids[ACME_MAX_NAMES];
	const char		*idv[ACME_MAX_NAMES];
	struct acme_hooks	 hooks;
	CURL			*curl;
	struct curl_slist	*hdr_jose;
	struct curl_slist	*hdr_pem;
	struct curl_slist	*resolve;	/* resolve.c: the URL's host */
	EVP_PKEY		*account_key;
	char			 kid[ACME_URL_MAX];	/* account URL */
	char			 nonce[ACME_NONCE_MAX];
	struct acme_directory	 dir;
	time_t			 deadline;	/* of the running acme_obtain */
	struct acme_stats	 stats;
	char			 err[ACME_ERR_LEN];
};

/* Formats a->err; returns -1. */
int	acme_fail(struct acme *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* net.c */
int	net_init(struct acme *);
void	net_free(struct acme *);
/* GET; 0 on a 2xx, else -1 with a->err ("what: ..."). */
int	net_get(struct acme *, const char *what, const char *url,
	    struct acme_resp *);
/*
 * A JWS POST of payload (NULL: POST-as-GET) to url, signed with the account
 * key (kid once known, else jwk); fetches a nonce when none is left and
 * resends on badNonce. 0 on a 2xx, else -1 with the CA's problem in a->err.
 */
int	net_post(struct acme *, const char *what, const char *url,
	    const char *payload, int want_pem, struct acme_resp *);
void	net_resp_free(struct acme_resp *);
/* Sleeps secs (clamped to [1, 30]); -1 if that would pass the deadline. */
int	net_wait(struct acme *, long secs, const char *what);

/* resolve.c: looks up url's host for the next request; 0 or -1 (a->err). */
int	resolve_url(struct acme *, const char *what, const char *url);

/* account.c */
int	account_register(struct acme *);

/* order.c */
int	order_run(struct acme *, struct acme_cert *);

/* store.c */
EVP_PKEY *store_account_key(int dirfd, char *err, size_t errlen);
int	store_chain(int dirfd, const char *name, const char *pem, size_t len,
	    char *err, size_t errlen);

#endif
