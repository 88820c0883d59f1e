/* SPDX-License-Identifier: BSD-3-Clause */
#include "tlskey_mgmt.h"

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

static struct tlskey *
key_new(int rsa)
{
	struct tlskey *k = calloc(1, sizeof(*k));

	if (k != NULL)
		k->rsa = rsa;
	return k;
}

static void *
ec_new(void *provctx)
{
	(void)provctx;
	return key_new(0);
}

static void *
rsa_new(void *provctx)
{
	(void)provctx;
	return key_new(1);
}

static void
key_free(void *kd)
{
	struct tlskey *k = kd;

	if (k != NULL)
		EVP_PKEY_free(k->pub);
	free(k);
}

static int
key_has(const void *kd, int selection)
{
	(void)selection;	/* the private half exists, in the key process */
	return kd != NULL && ((const struct tlskey *)kd)->pub != NULL;
}

static int
key_match(const void *a, const void *b, int selection)
{
	const struct tlskey *ka = a, *kb = b;

	(void)selection;
	return ka->pub != NULL && kb->pub != NULL && EVP_PKEY_eq(ka->pub, kb->pub) == 1;
}

/* The public key from params (as OpenSSL's own key manager exports it). */
static int
key_import(void *kd, int selection, const OSSL_PARAM params[])
{
	struct tlskey *k = kd;
	const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, TLSKEY_PARAM_WORKER);
	EVP_PKEY_CTX *ctx;
	int ok;

	(void)selection;
	if (p != NULL && p->data_size == sizeof(k->w))
		memcpy(&k->w, p->data, sizeof(k->w));
	p = OSSL_PARAM_locate_const(params, TLSKEY_PARAM_HASH);
	if (p != NULL && p->data_size == sizeof(k->hash))
		memcpy(k->hash, p->data, sizeof(k->hash));
	ctx = EVP_PKEY_CTX_new_from_name(NULL, k->rsa ? "RSA" : "EC",
	    "provider=default");
	EVP_PKEY_free(k->pub);
	k->pub = NULL;
	ok = ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &k->pub, EVP_PKEY_PUBLIC_KEY,
	    (OSSL_PARAM *)params) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* Public only: never pretend to hand out the private key. */
static int
key_export(void *kd, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct tlskey *k = kd;
	OSSL_PARAM *params = NULL;
	int ok;

	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) || k->pub == NULL ||
	    EVP_PKEY_todata(k->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
		return 0;
	ok = cb(params, cbarg);
	OSSL_PARAM_free(params);
	return ok;
}

static int
key_get_params(void *kd, OSSL_PARAM params[])
{
	struct tlskey *k = kd;

	return k->pub != NULL && EVP_PKEY_get_params(k->pub, params) == 1;
}

static const OSSL_PARAM ec_params[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM rsa_params[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
ec_gettable(void *provctx)
{
	(void)provctx;
	return ec_params;
}

static const OSSL_PARAM *
rsa_gettable(void *provctx)
{
	(void)provctx;
	return rsa_params;
}

static const OSSL_PARAM *
ec_types(int selection)
{
	(void)selection;
	return ec_params + 4;	/* group, encoded public key, public key */
}

static const OSSL_PARAM *
rsa_types(int selection)
{
	(void)selection;
	return rsa_params + 4;	/* n, e */
}

static const char *
ec_operation(int op)
{
	return op == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

static const char *
rsa_operation(int op)
{
	return op == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

#define KEYMGMT(prefix) {						\
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))prefix##_new },		\
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))key_free },		\
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))key_has },		\
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))key_match },		\
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))key_import },		\
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))prefix##_types },	\
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))key_export },		\
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))prefix##_types },	\
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))key_get_params },	\
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))prefix##_gettable }, \
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,				\
	    (void (*)(void))prefix##_operation },				\
	{ 0, NULL } }

const OSSL_DISPATCH tlskey_ec_keymgmt[] = KEYMGMT(ec);
const OSSL_DISPATCH tlskey_rsa_keymgmt[] = KEYMGMT(rsa);
