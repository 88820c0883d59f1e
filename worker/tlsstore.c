/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker's copy of the certificates and challenge answers (tlsstore.h). */
#include "tlsstore.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certshm.h"
#include "log.h"
#include "seqlock.h"

struct served {
	uint64_t	 version;
	char		 name[CERTSHM_NAME_MAX];
	char		*chain;		/* NULL: nothing served */
};

struct alpn {
	uint64_t	 version;
	char		 sni[CERTSHM_NAME_MAX];
	X509		*cert;		/* NULL: none */
	EVP_PKEY	*key;
};

struct http01 {
	uint64_t	 version;
	char		 token[CERTSHM_TOKEN_MAX];	/* empty: none */
	char		 key_auth[CERTSHM_KEYAUTH_MAX];
};

struct tls_store {
	uint64_t	 gen;
	struct served	 cert[CERTSHM_CERTS];
	struct alpn	 alpn[CERTSHM_ALPN];
	struct http01	 http[CERTSHM_HTTP];
	union {		/* one private copy at a time */
		struct certshm_cert	c;
		struct certshm_alpn	a;
		struct certshm_http	h;
	} scratch;
};

void
tlsstore_init(struct wk *w)
{
	if ((w->tls = calloc(1, sizeof(*w->tls))) == NULL)
		fatal("calloc");
}

/* The entry's version, peeked to skip unchanged ones (the copy decides). */
static uint64_t
peek(const uint64_t *version)
{
	return __atomic_load_n(version, __ATOMIC_RELAXED);
}

/* 1 changed, 0 unchanged, -1 no clean copy yet (try again next turn). */
static int
refresh_cert(struct wk *w, int i)
{
	struct served *s = &w->tls->cert[i];
	struct certshm_cert *c = &w->tls->scratch.c;
	char *chain = NULL;

	if (peek(&w->shm->tls->cert[i].version) == s->version)
		return 0;
	if (certshm_read_cert(w->shm->tls, i, c) != 0)
		return -1;
	if (c->chain_len > 0 && (chain = strdup(c->chain)) == NULL)
		return -1;
	free(s->chain);
	s->chain = chain;
	s->version = c->version;
	memcpy(s->name, c->name, sizeof(s->name));
	return 1;
}

static void
clear_alpn(struct alpn *a)
{
	X509_free(a->cert);
	EVP_PKEY_free(a->key);
	a->cert = NULL;
	a->key = NULL;
	a->sni[0] = '\0';
}

static int
refresh_alpn(struct wk *w, int i)
{
	struct alpn *a = &w->tls->alpn[i];
	struct certshm_alpn *c = &w->tls->scratch.a;
	BIO *cb, *kb;

	if (peek(&w->shm->tls->alpn[i].version) == a->version)
		return 0;
	if (certshm_read_alpn(w->shm->tls, i, c) != 0)
		return -1;
	clear_alpn(a);
	a->version = c->version;
	if (c->cert_len == 0)
		return 1;
	cb = BIO_new_mem_buf(c->cert, (int)c->cert_len);
	kb = BIO_new_mem_buf(c->key, (int)c->key_len);
	if (cb != NULL && kb != NULL &&
	    (a->cert = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL &&
	    (a->key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL)) != NULL)
		memcpy(a->sni, c->sni, sizeof(a->sni));
	else {
		log_warnx("a TLS-ALPN-01 answer is malformed; not serving it");
		clear_alpn(a);
	}
	BIO_free(cb);
	BIO_free(kb);
	OPENSSL_cleanse(c->key, sizeof(c->key));
	ERR_clear_error();
	return 1;
}

static int
refresh_http(struct wk *w, int i)
{
	struct http01 *h = &w->tls->http[i];
	struct certshm_http *c = &w->tls->scratch.h;

	if (peek(&w->shm->tls->http[i].version) == h->version)
		return 0;
	if (certshm_read_http(w->shm->tls, i, c) != 0)
		return -1;
	h->version = c->version;
	memcpy(h->token, c->token, sizeof(h->token));
	memcpy(h->key_auth, c->key_auth, sizeof(h->key_auth));
	return 1;
}

uint32_t
tlsstore_refresh(struct wk *w)
{
	uint64_t gen = certshm_gen(w->shm->tls);
	uint32_t changed = 0;
	int i, r, torn = 0;

	if (gen == w->tls->gen)
		return 0;
	for (i = 0; i < CERTSHM_CERTS; i++) {
		if ((r = refresh_cert(w, i)) > 0)
			changed |= 1u << i;
		torn |= r < 0;
	}
	for (i = 0; i < CERTSHM_ALPN; i++)
		torn |= refresh_alpn(w, i) < 0;
	for (i = 0; i < CERTSHM_HTTP; i++)
		torn |= refresh_http(w, i) < 0;
	if (!torn)
		w->tls->gen = gen;
	return changed;
}

const char *
tlsstore_chain(const struct wk *w, int i, const char **name)
{
	*name = w->tls->cert[i].name;
	return w->tls->cert[i].chain;
}

int
tlsstore_slot(const struct wk *w, const char *name)
{
	int i;

	for (i = 0; i < CERTSHM_CERTS; i++)
		if (w->tls->cert[i].chain != NULL &&
		    strcasecmp(w->tls->cert[i].name, name) == 0)
			return i;
	return -1;
}

int
tlsstore_alpn(const struct wk *w, const char *sni, X509 **cert, EVP_PKEY **key)
{
	int i;

	for (i = 0; sni != NULL && i < CERTSHM_ALPN; i++)
		if (w->tls->alpn[i].cert != NULL &&
		    strcasecmp(w->tls->alpn[i].sni, sni) == 0) {
			*cert = w->tls->alpn[i].cert;
			*key = w->tls->alpn[i].key;
			return 1;
		}
	return 0;
}

const char *
tlsstore_http(const struct wk *w, const char *token, size_t len)
{
	int i;

	for (i = 0; len > 0 && i < CERTSHM_HTTP; i++)
		if (strlen(w->tls->http[i].token) == len &&
		    memcmp(w->tls->http[i].token, token, len) == 0)
			return w->tls->http[i].key_auth;
	return NULL;
}

void
tlsstore_want(struct wk *w, const uint8_t ip[16])
{
	struct shm_want_cert *want = &w->shm->counters[w->id]->want_cert;

	seq_write_begin(&want->seq);
	memcpy(want->ip, ip, 16);
	seq_write_end(&want->seq);
}
