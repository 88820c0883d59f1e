/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JWS signing for the ACME account key. ES256 signatures are the raw
 * 64-byte r || s (RFC 7518 section 3.4), not OpenSSL's DER.
 */
#include "acme_jws.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"

EVP_PKEY *
jws_keygen(void)
{
	return EVP_EC_gen("P-256");
}

json_t *
jws_jwk(EVP_PKEY *key)
{
	uint8_t pub[65];
	char x[B64URL_LEN(32) + 1], y[B64URL_LEN(32) + 1];
	size_t len = 0;

	if (!EVP_PKEY_is_a(key, "EC") ||
	    EVP_PKEY_get_octet_string_param(key,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof(pub), &len) != 1 ||
	    len != 65 || pub[0] != 0x04)	/* uncompressed P-256 point */
		return NULL;
	b64url_encode(x, pub + 1, 32);
	b64url_encode(y, pub + 33, 32);
	return json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256", "kty", "EC",
	    "x", x, "y", y);
}

/* Compact JSON with sorted keys: RFC 7638's canonical form for EC keys. */
static char *
jwk_text(EVP_PKEY *key)
{
	json_t *jwk = jws_jwk(key);
	char *s;

	if (jwk == NULL)
		return NULL;
	s = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(jwk);
	return s;
}

int
jws_thumbprint(EVP_PKEY *key, char out[JWS_THUMB_LEN + 1])
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	char *s = jwk_text(key);
	int ok;

	if (s == NULL)
		return -1;
	ok = EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL);
	free(s);
	if (!ok || mdlen != sizeof(md))
		return -1;
	b64url_encode(out, md, sizeof(md));
	return 0;
}

char *
jws_key_authorization(EVP_PKEY *key, const char *token)
{
	char thumb[JWS_THUMB_LEN + 1], *out;

	if (jws_thumbprint(key, thumb) == -1 ||
	    asprintf(&out, "%s.%s", token, thumb) == -1)
		return NULL;
	return out;
}

/* ECDSA P-256 with SHA-256 over msg, as r || s. */
static int
es256(EVP_PKEY *key, const char *msg, uint8_t sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t der[80];
	const uint8_t *p = der;
	size_t len = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	int ok = 0;

	if (ctx != NULL &&
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(ctx, der, &len, (const uint8_t *)msg,
	    strlen(msg)) == 1 &&
	    (es = d2i_ECDSA_SIG(NULL, &p, (long)len)) != NULL) {
		ECDSA_SIG_get0(es, &r, &s);
		ok = BN_bn2binpad(r, sig, 32) == 32 &&
		    BN_bn2binpad(s, sig + 32, 32) == 32;
	}
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static char *
b64_text(const char *s)
{
	return b64url_encode_alloc((const uint8_t *)s, strlen(s));
}

/* b64(protected) "." b64(payload), malloc'd. */
static char *
signing_input(json_t *protected, const char *payload, char **prot64,
    char **pay64)
{
	char *prot = json_dumps(protected, JSON_COMPACT), *in = NULL;

	*prot64 = prot != NULL ? b64_text(prot) : NULL;
	*pay64 = b64_text(payload);
	free(prot);
	if (*prot64 == NULL || *pay64 == NULL ||
	    asprintf(&in, "%s.%s", *prot64, *pay64) == -1)
		in = NULL;
	return in;
}

static json_t *
flattened(const char *prot64, const char *pay64, const uint8_t *sig,
    size_t siglen)
{
	char *sig64 = b64url_encode_alloc(sig, siglen);
	json_t *jws;

	if (sig64 == NULL)
		return NULL;
	jws = json_pack("{s:s, s:s, s:s}", "protected", prot64, "payload",
	    pay64, "signature", sig64);
	free(sig64);
	return jws;
}

char *
jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
    const char *payload)
{
	json_t *prot, *jws = NULL;
	char *prot64 = NULL, *pay64 = NULL, *in, *out = NULL;
	uint8_t sig[64];

	prot = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce,
	    "url", url);
	if (prot == NULL)
		return NULL;
	if (json_object_set_new(prot, kid != NULL ? "kid" : "jwk",
	    kid != NULL ? json_string(kid) : jws_jwk(key)) == -1) {
		json_decref(prot);
		return NULL;
	}
	in = signing_input(prot, payload != NULL ? payload : "", &prot64, &pay64);
	if (in != NULL && es256(key, in, sig) == 0 &&
	    (jws = flattened(prot64, pay64, sig, sizeof(sig))) != NULL)
		out = json_dumps(jws, JSON_COMPACT);
	json_decref(jws);
	json_decref(prot);
	free(in);
	free(prot64);
	free(pay64);
	return out;
}

json_t *
jws_eab(EVP_PKEY *key, const char *eab_kid, const uint8_t *mac_key,
    size_t mac_len, const char *url)
{
	json_t *prot, *jws = NULL;
	char *jwk = jwk_text(key), *prot64 = NULL, *pay64 = NULL, *in = NULL;
	uint8_t mac[32];
	unsigned int maclen = 0;

	prot = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", eab_kid,
	    "url", url);
	if (prot != NULL && jwk != NULL &&
	    (in = signing_input(prot, jwk, &prot64, &pay64)) != NULL &&
	    HMAC(EVP_sha256(), mac_key, (int)mac_len, (const uint8_t *)in,
	    strlen(in), mac, &maclen) != NULL && maclen == sizeof(mac))
		jws = flattened(prot64, pay64, mac, sizeof(mac));
	json_decref(prot);
	free(jwk);
	free(in);
	free(prot64);
	free(pay64);
	return jws;
}
