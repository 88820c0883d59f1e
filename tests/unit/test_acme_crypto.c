/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for acme/jws.c and acme/x509.c: JWS signatures checked with
 * OpenSSL's verifier, the RFC 7638 thumbprint against a value computed
 * independently, the RFC 8737 challenge certificate, CSRs, and the checks
 * on an issued chain.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme_jws.h"
#include "acme_x509.h"
#include "b64url.h"

/* A fixed P-256 key; its thumbprint was computed with Python's hashlib. */
static const char fixed_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjpsQnnGQmL+YBIff\n"
    "H1136cLyQ4YDhgRYbTpyOazCfVOhRANCAAT+dPY3h5QB51XlpzI6PtwicvweQK6H\n"
    "CtRztivcAsBpv0n99UfSCPq48udeGymIBQXNckZiFu618Wuq8AargNq+\n"
    "-----END PRIVATE KEY-----\n";
#define FIXED_X		"_nT2N4eUAedV5acyOj7cInL8HkCuhwrUc7Yr3ALAab8"
#define FIXED_THUMB	"lYHAdi4VZvi5xK7xyFRuYXxPy7QwDmHLakryQK3JL4o"

static EVP_PKEY *
load_fixed(void)
{
	BIO *b = BIO_new_mem_buf(fixed_key, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(k);
	return k;
}

static json_t *
b64_json(const char *s)
{
	uint8_t buf[2048];
	long n = b64url_decode(buf, sizeof(buf), s, strlen(s));

	assert_true(n > 0);
	return json_loadb((const char *)buf, (size_t)n, 0, NULL);
}

static void
test_thumbprint(void **state)
{
	EVP_PKEY *k = load_fixed();
	char thumb[JWS_THUMB_LEN + 1], *ka;
	json_t *jwk = jws_jwk(k);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(jwk, "x")), FIXED_X);
	assert_int_equal(jws_thumbprint(k, thumb), 0);
	assert_string_equal(thumb, FIXED_THUMB);
	ka = jws_key_authorization(k, "tok_en-123");
	assert_string_equal(ka, "tok_en-123." FIXED_THUMB);
	free(ka);
	json_decref(jwk);
	EVP_PKEY_free(k);
}

/* Verifies an ES256 JWS with OpenSSL: r || s turned back into DER. */
static int
es256_ok(EVP_PKEY *k, const char *prot, const char *pay, const char *sig64)
{
	uint8_t sig[64], *der = NULL;
	ECDSA_SIG *es = ECDSA_SIG_new();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char input[4096];
	int derlen, ok;

	assert_int_equal(b64url_decode(sig, sizeof(sig), sig64, strlen(sig64)), 64);
	ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
	derlen = i2d_ECDSA_SIG(es, &der);
	snprintf(input, sizeof(input), "%s.%s", prot, pay);
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestVerify(ctx, der, (size_t)derlen, (const uint8_t *)input,
	    strlen(input)) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

static void
test_jws_sign(void **state)
{
	EVP_PKEY *k = jws_keygen();
	char *s = jws_sign(k, NULL, "nonce1", "https://ca/new-acct", "{\"a\":1}");
	json_t *jws = json_loads(s, 0, NULL), *prot;
	const char *p, *pay, *sig;

	(void)state;
	p = json_string_value(json_object_get(jws, "protected"));
	pay = json_string_value(json_object_get(jws, "payload"));
	sig = json_string_value(json_object_get(jws, "signature"));
	assert_true(es256_ok(k, p, pay, sig));
	prot = b64_json(p);
	assert_string_equal(json_string_value(json_object_get(prot, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(prot, "nonce")), "nonce1");
	assert_string_equal(json_string_value(json_object_get(prot, "url")),
	    "https://ca/new-acct");
	assert_non_null(json_object_get(prot, "jwk"));
	assert_null(json_object_get(prot, "kid"));
	assert_string_equal(pay, "eyJhIjoxfQ");
	json_decref(prot);
	json_decref(jws);
	free(s);

	/* With a kid, and POST-as-GET: an empty payload. */
	s = jws_sign(k, "https://ca/acct/1", "n2", "https://ca/order/1", NULL);
	jws = json_loads(s, 0, NULL);
	p = json_string_value(json_object_get(jws, "protected"));
	assert_string_equal(json_string_value(json_object_get(jws, "payload")), "");
	assert_true(es256_ok(k, p, "", json_string_value(json_object_get(jws,
	    "signature"))));
	prot = b64_json(p);
	assert_string_equal(json_string_value(json_object_get(prot, "kid")),
	    "https://ca/acct/1");
	assert_null(json_object_get(prot, "jwk"));
	json_decref(prot);
	json_decref(jws);
	free(s);
	EVP_PKEY_free(k);
}

static void
test_eab(void **state)
{
	static const uint8_t mac_key[] = "0123456789abcdef0123456789abcdef";
	EVP_PKEY *k = load_fixed();
	json_t *eab = jws_eab(k, "kid-1", mac_key, 32, "https://ca/new-acct");
	json_t *prot, *payload;
	const char *p, *pay, *sig;
	uint8_t mac[32], got[32];
	char input[2048];
	unsigned int maclen;

	(void)state;
	p = json_string_value(json_object_get(eab, "protected"));
	pay = json_string_value(json_object_get(eab, "payload"));
	sig = json_string_value(json_object_get(eab, "signature"));
	prot = b64_json(p);
	assert_string_equal(json_string_value(json_object_get(prot, "alg")), "HS256");
	assert_string_equal(json_string_value(json_object_get(prot, "kid")), "kid-1");
	assert_string_equal(json_string_value(json_object_get(prot, "url")),
	    "https://ca/new-acct");
	assert_null(json_object_get(prot, "nonce"));	/* RFC 8555 7.3.4 */
	payload = b64_json(pay);	/* the account's JWK */
	assert_string_equal(json_string_value(json_object_get(payload, "x")), FIXED_X);
	snprintf(input, sizeof(input), "%s.%s", p, pay);
	HMAC(EVP_sha256(), mac_key, 32, (const uint8_t *)input, strlen(input), mac,
	    &maclen);
	assert_int_equal(b64url_decode(got, sizeof(got), sig, strlen(sig)), 32);
	assert_memory_equal(got, mac, 32);
	json_decref(payload);
	json_decref(prot);
	json_decref(eab);
	EVP_PKEY_free(k);
}

static X509 *
read_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(x);
	return x;
}

static void
check_alpn_cert(const char *name, enum acme_ident_type type, int gen_type)
{
	struct acme_identifier id = { .type = type };
	const char *ka = "token.thumbprint";
	char *cert, *key;
	uint8_t want[34] = { 0x04, 0x20 };
	X509 *x;
	X509_EXTENSION *ext;
	ASN1_OBJECT *oid = OBJ_txt2obj(ACME_OID_IDENTIFIER, 1);
	GENERAL_NAMES *sans;
	const ASN1_OCTET_STRING *v;
	int idx;

	snprintf(id.value, sizeof(id.value), "%s", name);
	assert_int_equal(x509_alpn_cert(&id, ka, &cert, &key), 0);
	x = read_cert(cert);
	idx = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(idx >= 0);
	ext = X509_get_ext(x, idx);
	assert_true(X509_EXTENSION_get_critical(ext));
	v = X509_EXTENSION_get_data(ext);
	EVP_Digest(ka, strlen(ka), want + 2, NULL, EVP_sha256(), NULL);
	assert_int_equal(ASN1_STRING_length(v), 34);
	assert_memory_equal(ASN1_STRING_get0_data(v), want, 34);
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(sans), 1);
	assert_int_equal(sk_GENERAL_NAME_value(sans, 0)->type, gen_type);
	if (type == ACME_ID_DNS)
		assert_int_equal(X509_check_host(x, name, 0, 0, NULL), 1);
	else
		assert_int_equal(X509_check_ip_asc(x, name, 0), 1);
	/* The key handed over is the certificate's. */
	{
		BIO *b = BIO_new_mem_buf(key, -1);
		EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

		assert_int_equal(X509_check_private_key(x, k), 1);
		EVP_PKEY_free(k);
		BIO_free(b);
	}
	GENERAL_NAMES_free(sans);
	ASN1_OBJECT_free(oid);
	X509_free(x);
	free(cert);
	free(key);
}

static void
test_alpn_cert(void **state)
{
	(void)state;
	check_alpn_cert("derp.example.com", ACME_ID_DNS, GEN_DNS);
	check_alpn_cert("192.0.2.7", ACME_ID_IP, GEN_IPADD);
	check_alpn_cert("2001:db8::7", ACME_ID_IP, GEN_IPADD);
}

static void
test_alpn_sni(void **state)
{
	struct acme_identifier id = { .type = ACME_ID_IP };
	char sni[128];

	(void)state;
	strcpy(id.value, "192.0.2.7");
	assert_int_equal(x509_alpn_sni(&id, sni, sizeof(sni)), 0);
	assert_string_equal(sni, "7.2.0.192.in-addr.arpa");
	strcpy(id.value, "2001:db8::1");
	assert_int_equal(x509_alpn_sni(&id, sni, sizeof(sni)), 0);
	assert_string_equal(sni, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "8.b.d.0.1.0.0.2.ip6.arpa");
	id.type = ACME_ID_DNS;
	strcpy(id.value, "derp.test");
	assert_int_equal(x509_alpn_sni(&id, sni, sizeof(sni)), 0);
	assert_string_equal(sni, "derp.test");
}

/* A certificate for the CSR's key and names, signed by the CA key. */
static char *
issue(const uint8_t *csr, size_t len, EVP_PKEY *ca, long from, long to)
{
	const unsigned char *p = csr;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *pem;
	long n;
	int i;

	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, X509_REQ_get0_pubkey(req));
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1);
	X509_sign(x, ca, EVP_sha256());
	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &data);
	pem = strndup(data, (size_t)n);
	BIO_free(b);
	X509_free(x);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return pem;
}

static void
test_csr_and_chain(void **state)
{
	const char *names[] = { "derp.test", "192.0.2.7" };
	struct acme_identifier ids[2];
	struct acme_cert out;
	EVP_PKEY *key = jws_keygen(), *ca = jws_keygen();
	uint8_t *csr, *spki, *other_spki;
	size_t len, spkilen, other_len;
	char *pem, *expired, why[256];
	time_t now = time(NULL);

	(void)state;
	acme_ident_parse(names[0], &ids[0]);
	acme_ident_parse(names[1], &ids[1]);
	assert_int_equal(acme_csr_build(key, names, 2, &csr, &len), 0);
	assert_int_equal(x509_csr_spki(csr, len, &spki, &spkilen), 0);
	/* Trailing bytes or a flipped signature bit: refused. */
	assert_int_equal(x509_csr_spki(csr, len - 1, &other_spki, &other_len), -1);
	csr[len - 1] ^= 1;
	assert_int_equal(x509_csr_spki(csr, len, &other_spki, &other_len), -1);
	csr[len - 1] ^= 1;

	pem = issue(csr, len, ca, -3600, 6 * 86400);
	assert_int_equal(x509_check_chain(pem, strlen(pem), ids, 2, spki, spkilen,
	    now, &out, why, sizeof(why)), 0);
	assert_true(out.not_after > now + 5 * 86400);
	/* Another key, another name, expired, or not PEM at all: refused. */
	free(csr);
	assert_int_equal(acme_csr_build(ca, names, 1, &csr, &len), 0);
	assert_int_equal(x509_csr_spki(csr, len, &other_spki, &other_len), 0);
	assert_int_equal(x509_check_chain(pem, strlen(pem), ids, 2, other_spki,
	    other_len, now, &out, why, sizeof(why)), -1);
	assert_string_equal(why, "the certificate is for another key");
	acme_ident_parse("other.test", &ids[1]);
	assert_int_equal(x509_check_chain(pem, strlen(pem), ids, 2, NULL, 0, now,
	    &out, why, sizeof(why)), -1);
	assert_int_equal(x509_check_chain(pem, strlen(pem), ids, 1, NULL, 0,
	    now + 7 * 86400, &out, why, sizeof(why)), -1);
	assert_string_equal(why, "the certificate has expired");
	expired = issue(csr, len, ca, -7200, -3600);
	assert_int_equal(x509_check_chain(expired, strlen(expired), ids, 1, NULL, 0,
	    now, &out, why, sizeof(why)), -1);
	assert_int_equal(x509_check_chain("garbage", 7, ids, 1, NULL, 0, now, &out,
	    why, sizeof(why)), -1);
	free(expired);
	free(pem);
	free(csr);
	OPENSSL_free(spki);
	OPENSSL_free(other_spki);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thumbprint),
		cmocka_unit_test(test_jws_sign),
		cmocka_unit_test(test_eab),
		cmocka_unit_test(test_alpn_cert),
		cmocka_unit_test(test_alpn_sni),
		cmocka_unit_test(test_csr_and_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
