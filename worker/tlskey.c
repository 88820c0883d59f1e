/* SPDX-License-Identifier: BSD-3-Clause */
#include "tlskey.h"

#include <openssl/async.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keyd_client.h"
#include "log.h"
#include "tlskey_mgmt.h"

#define PROVIDER	"derpdkey"
#define PROPS		"provider=" PROVIDER

/* A signature the key process is making for a connection. */
struct tls_sign {
	struct keyd_req	 req;		/* kept, to ask again after a restart */
	int		 done;
	int		 ok;
	size_t		 sig_len;
	uint8_t		 sig[KEYD_SIG_MAX];
};

struct tlssig {
	struct tlskey	*key;
	uint32_t	 md;		/* enum keyd_md */
	int		 pss;
	size_t		 tbs_len;
	int		 overflow;
	uint8_t		 tbs[KEYD_TBS_MAX];
};

/* --- the signature: the key process makes it --- */

static void *
sig_new(void *provctx, const char *propq)
{
	(void)provctx;
	(void)propq;
	return calloc(1, sizeof(struct tlssig));
}

static void
sig_free(void *ctx)
{
	free(ctx);
}

static void *
sig_dup(void *ctx)
{
	struct tlssig *d = malloc(sizeof(*d));

	if (d != NULL)
		memcpy(d, ctx, sizeof(*d));
	return d;
}

static uint32_t
md_of(const char *name)
{
	if (name == NULL)
		return 0;
	if (strcasecmp(name, "SHA256") == 0 || strcasecmp(name, "SHA2-256") == 0)
		return KEYD_SHA256;
	if (strcasecmp(name, "SHA384") == 0 || strcasecmp(name, "SHA2-384") == 0)
		return KEYD_SHA384;
	if (strcasecmp(name, "SHA512") == 0 || strcasecmp(name, "SHA2-512") == 0)
		return KEYD_SHA512;
	return 0;
}

/* Padding and salt: only RSA-PSS with a digest-long salt is made. */
static int
sig_set_params(void *ctx, const OSSL_PARAM params[])
{
	struct tlssig *s = ctx;
	const OSSL_PARAM *p;
	const char *mode;
	int n;

	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING &&
		    OSSL_PARAM_get_utf8_string_ptr(p, &mode) == 1)
			s->pss = strcmp(mode, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0;
		else if (OSSL_PARAM_get_int(p, &n) == 1)
			s->pss = n == RSA_PKCS1_PSS_PADDING;
		else
			return 0;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING)
			return OSSL_PARAM_get_utf8_string_ptr(p, &mode) == 1 &&
			    strcmp(mode, "digest") == 0;
		return OSSL_PARAM_get_int(p, &n) == 1 && n == RSA_PSS_SALTLEN_DIGEST;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
	    (OSSL_PARAM_get_utf8_string_ptr(p, &mode) != 1 || md_of(mode) != s->md))
		return 0;
	return 1;
}

static const OSSL_PARAM *
sig_settable(void *ctx, void *provctx)
{
	static const OSSL_PARAM settable[] = {
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_END
	};

	(void)ctx;
	(void)provctx;
	return settable;
}

static int
sig_init(void *ctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
	struct tlssig *s = ctx;

	s->key = provkey;
	s->md = md_of(mdname);
	s->pss = 0;
	s->tbs_len = 0;
	s->overflow = 0;
	return s->key != NULL && s->md != 0 && sig_set_params(s, params);
}

static int
sig_update(void *ctx, const unsigned char *data, size_t len)
{
	struct tlssig *s = ctx;

	if (len > sizeof(s->tbs) - s->tbs_len) {
		s->overflow = 1;	/* not a CertificateVerify: will be refused */
		return 1;
	}
	memcpy(s->tbs + s->tbs_len, data, len);
	s->tbs_len += len;
	return 1;
}

/* Sends c's request and pauses the handshake's job until the answer. */
static int
remote_sign(struct tlssig *s, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct wk *w = s->key->w;
	struct conn *c = w != NULL ? w->tls_current : NULL;
	struct tls_sign *ts;
	int ok;

	if (c == NULL || s->overflow || ASYNC_get_current_job() == NULL ||
	    c->sign != NULL || (ts = calloc(1, sizeof(*ts))) == NULL)
		return 0;
	ts->req.op = KEYD_SIGN;
	ts->req.slot = c->slot;
	ts->req.gen = c->gen;
	ts->req.id = ++w->next_sign_id;
	ts->req.md = s->md;
	ts->req.pad = s->key->rsa ? KEYD_PAD_PSS : KEYD_PAD_NONE;
	ts->req.tbs_len = (uint32_t)s->tbs_len;
	memcpy(ts->req.tbs, s->tbs, s->tbs_len);
	memcpy(ts->req.key_hash, s->key->hash, KEYD_HASH_LEN);
	c->sign = ts;
	keyd_client_send(w, &ts->req);
	while (!ts->done)
		if (ASYNC_pause_job() != 1)
			break;
	ok = ts->done && ts->ok && ts->sig_len <= sigsize;
	if (ok) {
		memcpy(sig, ts->sig, ts->sig_len);
		*siglen = ts->sig_len;
	}
	c->sign = NULL;
	free(ts);
	return ok;
}

static int
sig_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct tlssig *s = ctx;

	if (sig == NULL) {	/* the size to allocate */
		*siglen = (size_t)EVP_PKEY_get_size(s->key->pub);
		return 1;
	}
	if (s->pss != s->key->rsa)
		return 0;	/* RSA only with PSS (TLS 1.3), ECDSA without */
	return remote_sign(s, sig, siglen, sigsize);
}

static int
sig_oneshot(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
    const unsigned char *tbs, size_t tbslen)
{
	struct tlssig *s = ctx;

	if (sig != NULL) {
		s->tbs_len = 0;
		s->overflow = 0;
		sig_update(s, tbs, tbslen);
	}
	return sig_final(s, sig, siglen, sigsize);
}

static int
sig_get_params(void *ctx, OSSL_PARAM params[])
{
	(void)ctx;
	(void)params;
	return 1;
}

static const OSSL_PARAM *
sig_gettable(void *ctx, void *provctx)
{
	static const OSSL_PARAM none[] = { OSSL_PARAM_END };

	(void)ctx;
	(void)provctx;
	return none;
}

static const OSSL_DISPATCH signature[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_new },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_free },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dup },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_update },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_final },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_oneshot },
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable },
	{ OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_params },
	{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable },
	{ 0, NULL }
};

/* --- the provider --- */

static const OSSL_ALGORITHM keymgmts[] = {
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", PROPS, tlskey_ec_keymgmt, NULL },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", PROPS, tlskey_rsa_keymgmt, NULL },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM signatures[] = {
	{ "ECDSA", PROPS, signature, NULL },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", PROPS, signature, NULL },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *
query(void *provctx, int op, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	if (op == OSSL_OP_KEYMGMT)
		return keymgmts;
	if (op == OSSL_OP_SIGNATURE)
		return signatures;
	return NULL;
}

static const OSSL_DISPATCH provider[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query },
	{ 0, NULL }
};

static int
provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	(void)in;
	*out = provider;
	*provctx = (void *)handle;
	return 1;
}

void
tlskey_init(struct wk *w)
{
	/* Our EC and RSA key managers answer to OpenSSL's names; everything
	 * that is not our key (ECDHE, certificates) must keep using the
	 * default provider's, so default is preferred whenever it has one.
	 * The handles are kept: they are loaded for the process's life. */
	if (OSSL_PROVIDER_add_builtin(NULL, PROVIDER, provider_init) != 1 ||
	    (w->tls_providers[0] = OSSL_PROVIDER_load(NULL, "default")) == NULL ||
	    (w->tls_providers[1] = OSSL_PROVIDER_load(NULL, PROVIDER)) == NULL ||
	    EVP_set_default_properties(NULL, "?provider=default") != 1)
		fatalx("cannot load the TLS key provider");
}

/* The key process's name for leaf's key: the SHA-256 of its DER SPKI. */
static int
spki_hash(X509 *leaf, uint8_t out[KEYD_HASH_LEN])
{
	uint8_t *der = NULL;
	unsigned int n = 0;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &der), ok;

	ok = len > 0 && EVP_Digest(der, (size_t)len, out, &n, EVP_sha256(),
	    NULL) == 1 && n == KEYD_HASH_LEN;
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

EVP_PKEY *
tlskey_new(struct wk *w, X509 *leaf)
{
	EVP_PKEY *cert_pub = X509_get0_pubkey(leaf);
	OSSL_PARAM *pub = NULL, *all = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	uint8_t hash[KEYD_HASH_LEN];

	if (cert_pub == NULL || spki_hash(leaf, hash) != 0) {
		OSSL_PARAM_BLD_free(bld);
		return NULL;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, EVP_PKEY_is_a(cert_pub, "RSA") ?
	    "RSA" : "EC", PROPS);
	if (bld != NULL && ctx != NULL &&
	    EVP_PKEY_todata(cert_pub, EVP_PKEY_PUBLIC_KEY, &pub) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, TLSKEY_PARAM_WORKER, &w, sizeof(w)) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, TLSKEY_PARAM_HASH, hash,
	    KEYD_HASH_LEN) == 1 &&
	    (all = OSSL_PARAM_BLD_to_param(bld)) != NULL) {
		OSSL_PARAM *merged = OSSL_PARAM_merge(pub, all);

		if (merged == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
		    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, merged) != 1)
			key = NULL;
		OSSL_PARAM_free(merged);
	}
	OSSL_PARAM_free(pub);
	OSSL_PARAM_free(all);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

int
tlskey_answer(struct conn *c, const struct keyd_resp *resp)
{
	struct tls_sign *ts = c->sign;

	if (ts == NULL || ts->done || resp->id != ts->req.id)
		return 0;
	ts->done = 1;
	ts->ok = resp->ok && resp->sig_len <= sizeof(ts->sig);
	if (ts->ok) {
		ts->sig_len = resp->sig_len;
		memcpy(ts->sig, resp->sig, resp->sig_len);
	}
	return 1;
}

void
tlskey_cancel(struct conn *c)
{
	if (c->sign != NULL) {
		c->sign->done = 1;
		c->sign->ok = 0;
	}
}

void
tlskey_resend(struct wk *w, struct conn *c)
{
	if (c->sign != NULL && !c->sign->done)
		keyd_client_send(w, &c->sign->req);
}
