/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the key process's answers (keyproc_answer,
 * master/keyproc.c): every request a compromised worker could send.
 *
 * The input is the DERP private key (32 bytes), which TLS key the key
 * process holds (none, ECDSA P-256 or RSA-2048), then requests: each a
 * kind byte and then either a whole struct keyd_req of raw bytes, or the
 * parts of a well-formed KEYD_SHARED (a client key) or KEYD_SIGN (a
 * digest, a padding, whether it names the key held, and a TLS 1.3 server
 * CertificateVerify input around a transcript hash) request.
 *
 * Checks: every answer echoes op, slot, gen and id; a shared key is
 * X25519 + HSalsa20 as computed here, ok = 0 and no key bytes for a
 * low-order point; a signature is made exactly for a CertificateVerify
 * input with the key's padding and a known digest, by the key it names
 * (the SHA-256 of its SubjectPublicKeyInfo), and verifies under the
 * certificate's public key; anything else is refused with ok = 0 and no
 * signature bytes.
 */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <string.h>

#include "keyproc.h"
#include "fuzz.h"

static EVP_PKEY *ec_key, *rsa_key;
static uint8_t ec_hash[KEYD_HASH_LEN], rsa_hash[KEYD_HASH_LEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ec_key = EVP_EC_gen("P-256");
	rsa_key = EVP_RSA_gen(2048);
	if (ec_key == NULL || rsa_key == NULL ||
	    keyring_hash_key(ec_key, ec_hash) != 0 ||
	    keyring_hash_key(rsa_key, rsa_hash) != 0)
		abort();
	return 0;
}

/* crypto_box_beforenm as its definition says; 0 for a low-order point. */
static int
expected_shared(uint8_t k[KEY_LEN], const uint8_t pub[KEY_LEN],
    const uint8_t priv[KEY_LEN])
{
	static const uint8_t zero[16];
	uint8_t s[KEY_LEN];

	if (crypto_scalarmult(s, priv, pub) != 0)
		return 0;
	crypto_core_hsalsa20(k, zero, s, NULL);
	return 1;
}

static const EVP_MD *
md_of(uint32_t md)
{
	return md == KEYD_SHA256 ? EVP_sha256() : md == KEYD_SHA384 ?
	    EVP_sha384() : md == KEYD_SHA512 ? EVP_sha512() : NULL;
}

/* Whether the key process may sign req with key (written from the protocol). */
static int
signable(const struct keyd_req *req, EVP_PKEY *key)
{
	static const char context[] = KEYD_CV_CONTEXT;
	uint32_t i;

	if (key == NULL || md_of(req->md) == NULL ||
	    memcmp(req->key_hash, key == rsa_key ? rsa_hash : ec_hash,
	    KEYD_HASH_LEN) != 0 ||
	    req->pad != (key == rsa_key ? KEYD_PAD_PSS : KEYD_PAD_NONE) ||
	    (req->tbs_len != 64 + sizeof(context) + 32 &&
	    req->tbs_len != 64 + sizeof(context) + 48))
		return 0;
	for (i = 0; i < 64; i++)
		if (req->tbs[i] != ' ')
			return 0;
	return memcmp(req->tbs + 64, context, sizeof(context)) == 0;
}

static int
verifies(const struct keyd_req *req, const struct keyd_resp *resp, EVP_PKEY *key)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx;
	int ok;

	CHECK(m != NULL);
	ok = EVP_DigestVerifyInit(m, &pctx, md_of(req->md), NULL, key) == 1 &&
	    (key != rsa_key || (EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING) == 1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
	    RSA_PSS_SALTLEN_DIGEST) == 1)) &&
	    EVP_DigestVerify(m, resp->sig, resp->sig_len, req->tbs,
	    req->tbs_len) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

static void
check(const struct keyproc *kp, const struct keyd_req *req, EVP_PKEY *key)
{
	struct keyd_resp resp;
	uint8_t want[KEY_LEN];
	const char *why = NULL;
	int rc;

	memset(&resp, 0x5a, sizeof(resp));
	rc = keyproc_answer(kp, req, &resp, &why);
	CHECK(rc == 0 || rc == -1);
	CHECK(resp.op == req->op && resp.slot == req->slot &&
	    resp.gen == req->gen && resp.id == req->id);
	CHECK(resp.ok == 0 || resp.ok == 1);
	if (rc != 0)
		CHECK(why != NULL && why[0] != '\0' && resp.ok == 0);
	if (req->op == KEYD_SHARED) {
		CHECK(rc == 0 && resp.sig_len == 0);
		CHECK((int)resp.ok == expected_shared(want, req->client_pub,
		    kp->derp_priv));
		if (resp.ok)
			CHECK(memcmp(resp.shared, want, KEY_LEN) == 0 &&
			    memcmp(resp.shared, kp->derp_priv, KEY_LEN) != 0);
		else
			CHECK(sodium_is_zero(resp.shared, KEY_LEN));
		return;
	}
	CHECK(sodium_is_zero(resp.shared, KEY_LEN));
	if (req->op == KEYD_SIGN && signable(req, key)) {
		CHECK(rc == 0 && resp.ok == 1);
		CHECK(resp.sig_len > 0 && resp.sig_len <= KEYD_SIG_MAX);
		CHECK(verifies(req, &resp, key));
		return;
	}
	CHECK(rc == -1 && resp.sig_len == 0 &&
	    sodium_is_zero(resp.sig, sizeof(resp.sig)));
}

static size_t
take(const uint8_t **p, size_t *n, void *out, size_t want)
{
	size_t k = *n < want ? *n : want;

	memset(out, 0, want);
	memcpy(out, *p, k);
	*p += k;
	*n -= k;
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char context[] = KEYD_CV_CONTEXT;
	struct keyproc kp;
	struct keyd_req req;
	uint8_t priv[KEY_LEN], kind, b[4];
	EVP_PKEY *key;

	if (size < KEY_LEN + 1)
		return 0;
	memcpy(priv, data, KEY_LEN);
	key = data[KEY_LEN] % 3 == 1 ? ec_key : data[KEY_LEN] % 3 == 2 ? rsa_key : NULL;
	memset(&kp, 0, sizeof(kp));
	kp.derp_priv = priv;
	if (key != NULL) {		/* served, named by its hash */
		kp.tls[0].key = key;
		kp.tls[0].rsa = key == rsa_key;
		kp.tls[0].state = KEYPROC_SERVED;
		memcpy(kp.tls[0].hash, key == rsa_key ? rsa_hash : ec_hash,
		    KEYD_HASH_LEN);
	}
	data += KEY_LEN + 1;
	size -= KEY_LEN + 1;
	while (size > 0) {
		take(&data, &size, &kind, 1);
		if (kind % 3 == 0) {		/* raw bytes */
			take(&data, &size, &req, sizeof(req));
		} else if (kind % 3 == 1) {	/* a login */
			memset(&req, 0, sizeof(req));
			req.op = KEYD_SHARED;
			take(&data, &size, b, 4);
			memcpy(&req.slot, b, 4);
			take(&data, &size, req.client_pub, KEY_LEN);
		} else {			/* a CertificateVerify input */
			memset(&req, 0, sizeof(req));
			req.op = KEYD_SIGN;
			take(&data, &size, b, 4);
			req.md = b[0] % 4;
			req.pad = b[1] % 2;
			if (b[3] % 4 != 0)	/* mostly the key held */
				memcpy(req.key_hash, b[3] % 2 ? rsa_hash :
				    ec_hash, KEYD_HASH_LEN);
			memset(req.tbs, ' ', 64);
			memcpy(req.tbs + 64, context, sizeof(context));
			req.tbs_len = 64 + sizeof(context) + (b[2] & 1 ? 48 : 32);
			take(&data, &size, req.tbs + 64 + sizeof(context),
			    req.tbs_len - 64 - sizeof(context));
		}
		check(&kp, &req, key);
	}
	return 0;
}
