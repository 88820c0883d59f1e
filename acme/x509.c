/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * X.509 for the engine: subjectAltNames built as GENERAL_NAMEs (never from
 * config strings, so a name cannot inject syntax), the RFC 8737 challenge
 * certificate, CSRs for the key process, and the issued chain's checks.
 */
#include "acme_x509.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_MAX	8

static GENERAL_NAME *
general_name(const struct acme_identifier *id)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_STRING *s = NULL;
	unsigned char addr[16];
	int len = -1;

	if (gn == NULL)
		return NULL;
	if (id->type == ACME_ID_IP) {
		if (inet_pton(AF_INET, id->value, addr) == 1)
			len = 4;
		else if (inet_pton(AF_INET6, id->value, addr) == 1)
			len = 16;
		if (len > 0 && (s = ASN1_OCTET_STRING_new()) != NULL &&
		    ASN1_STRING_set(s, addr, len) == 1) {
			GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
			return gn;
		}
	} else if ((s = ASN1_IA5STRING_new()) != NULL &&
	    ASN1_STRING_set(s, id->value, (int)strlen(id->value)) == 1) {
		GENERAL_NAME_set0_value(gn, GEN_DNS, s);
		return gn;
	}
	ASN1_STRING_free(s);
	GENERAL_NAME_free(gn);
	return NULL;
}

static GENERAL_NAMES *
general_names(const struct acme_identifier *ids, size_t n)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *gn;
	size_t i;

	for (i = 0; gens != NULL && i < n; i++) {
		if ((gn = general_name(&ids[i])) == NULL ||
		    sk_GENERAL_NAME_push(gens, gn) == 0) {
			GENERAL_NAME_free(gn);
			GENERAL_NAMES_free(gens);
			return NULL;
		}
	}
	return gens;
}

/* The acmeIdentifier extension: critical, OCTET STRING of the digest. */
static int
add_acme_identifier(X509 *x, const char *key_auth)
{
	uint8_t der[2 + 32] = { 0x04, 0x20 };
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *obj = OBJ_txt2obj(ACME_OID_IDENTIFIER, 1);
	X509_EXTENSION *ext = NULL;
	int ok = 0;

	if (os != NULL && obj != NULL &&
	    EVP_Digest(key_auth, strlen(key_auth), der + 2, NULL, EVP_sha256(),
	    NULL) == 1 && ASN1_OCTET_STRING_set(os, der, sizeof(der)) == 1 &&
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os)) != NULL)
		ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	return ok ? 0 : -1;
}

static int
random_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY,
	    BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok ? 0 : -1;
}

static int
fill_alpn_cert(X509 *x, EVP_PKEY *key, const struct acme_identifier *id,
    const char *key_auth)
{
	X509_NAME *name = X509_get_subject_name(x);
	GENERAL_NAMES *gens = general_names(id, 1);
	int ok;

	ok = gens != NULL && X509_set_version(x, X509_VERSION_3) == 1 &&
	    random_serial(x) == 0 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -86400) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400) != NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"ACME challenge", -1, -1, 0) == 1 &&
	    X509_set_issuer_name(x, name) == 1 &&
	    X509_set_pubkey(x, key) == 1 &&
	    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) == 1 &&
	    add_acme_identifier(x, key_auth) == 0 &&
	    X509_sign(x, key, EVP_sha256()) > 0;
	GENERAL_NAMES_free(gens);
	return ok ? 0 : -1;
}

static char *
bio_text(BIO *b)
{
	char *data, *s;
	long len = BIO_get_mem_data(b, &data);

	if (len <= 0 || (s = malloc((size_t)len + 1)) == NULL)
		return NULL;
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	return s;
}

int
x509_alpn_cert(const struct acme_identifier *id, const char *key_auth,
    char **cert_pem, char **key_pem)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	int rc = -1;

	*cert_pem = *key_pem = NULL;
	if (key != NULL && x != NULL && cb != NULL && kb != NULL &&
	    fill_alpn_cert(x, key, id, key_auth) == 0 &&
	    PEM_write_bio_X509(cb, x) == 1 &&
	    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) == 1) {
		*cert_pem = bio_text(cb);
		*key_pem = bio_text(kb);
		rc = *cert_pem != NULL && *key_pem != NULL ? 0 : -1;
	}
	if (rc == -1) {
		free(*cert_pem);
		free(*key_pem);
		*cert_pem = *key_pem = NULL;
	}
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int
x509_alpn_sni(const struct acme_identifier *id, char *out, size_t cap)
{
	unsigned char a[16];
	size_t off = 0;
	int i, n;

	if (id->type == ACME_ID_DNS)
		return snprintf(out, cap, "%s", id->value) < (int)cap ? 0 : -1;
	if (inet_pton(AF_INET, id->value, a) == 1)
		return snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]) < (int)cap ? 0 : -1;
	if (inet_pton(AF_INET6, id->value, a) != 1 || cap < 16 * 4 + 9)
		return -1;
	for (i = 15; i >= 0; i--) {
		n = snprintf(out + off, cap - off, "%x.%x.", a[i] & 0xf, a[i] >> 4);
		off += (size_t)n;
	}
	snprintf(out + off, cap - off, "ip6.arpa");
	return 0;
}

/* ---- CSRs ---- */

static int
fill_csr(X509_REQ *req, EVP_PKEY *key, const struct acme_identifier *ids,
    size_t n)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	GENERAL_NAMES *gens = general_names(ids, n);
	X509_EXTENSION *ext = NULL;
	int ok;

	ok = exts != NULL && gens != NULL &&
	    (ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens)) != NULL &&
	    sk_X509_EXTENSION_push(exts, ext) > 0;
	if (!ok)
		X509_EXTENSION_free(ext);
	ok = ok && X509_REQ_set_version(req, 0) == 1 &&
	    X509_REQ_set_pubkey(req, key) == 1 &&
	    X509_REQ_add_extensions(req, exts) == 1 &&
	    X509_REQ_sign(req, key, EVP_sha256()) > 0;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	return ok ? 0 : -1;
}

int
acme_csr_build(EVP_PKEY *key, const char **names, size_t nnames,
    uint8_t **der, size_t *derlen)
{
	struct acme_identifier ids[ACME_MAX_NAMES];
	X509_REQ *req;
	unsigned char *buf = NULL, *p;
	size_t i;
	int len = -1;

	if (nnames == 0 || nnames > ACME_MAX_NAMES)
		return -1;
	for (i = 0; i < nnames; i++)
		if (acme_ident_parse(names[i], &ids[i]) == -1)
			return -1;
	if ((req = X509_REQ_new()) != NULL &&
	    fill_csr(req, key, ids, nnames) == 0 &&
	    (len = i2d_X509_REQ(req, NULL)) > 0 &&
	    (buf = p = malloc((size_t)len)) != NULL &&
	    i2d_X509_REQ(req, &p) != len)
		len = -1;
	X509_REQ_free(req);
	if (len <= 0 || buf == NULL) {
		free(buf);
		return -1;
	}
	*der = buf;
	*derlen = (size_t)len;
	return 0;
}

int
x509_csr_spki(const uint8_t *der, size_t len, uint8_t **spki, size_t *spkilen)
{
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	unsigned char *out = NULL;
	int n = -1;

	if (req != NULL && p == der + len && X509_REQ_verify(req,
	    X509_REQ_get0_pubkey(req)) == 1)
		n = i2d_PUBKEY(X509_REQ_get0_pubkey(req), &out);
	X509_REQ_free(req);
	if (n <= 0)
		return -1;
	*spki = out;
	*spkilen = (size_t)n;
	return 0;
}

/* ---- the issued chain ---- */

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* Up to CHAIN_MAX certificates from PEM; nothing else may be there. */
static int
read_chain(const char *pem, size_t len, X509 **certs, int *n)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	unsigned long e;

	*n = 0;
	if (b == NULL || len > INT32_MAX)
		goto bad;
	ERR_clear_error();
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (*n == CHAIN_MAX) {
			X509_free(x);
			goto bad;
		}
		certs[(*n)++] = x;
	}
	e = ERR_peek_last_error();
	if (*n == 0 || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
		goto bad;
	ERR_clear_error();
	BIO_free(b);
	return 0;
bad:
	BIO_free(b);
	while (*n > 0)
		X509_free(certs[--(*n)]);
	ERR_clear_error();
	return -1;
}

static int
names_ok(X509 *leaf, const struct acme_identifier *ids, size_t n)
{
	unsigned int fl = X509_CHECK_FLAG_NO_WILDCARDS |
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
	size_t i;

	for (i = 0; i < n; i++)
		if ((ids[i].type == ACME_ID_IP ?
		    X509_check_ip_asc(leaf, ids[i].value, 0) :
		    X509_check_host(leaf, ids[i].value, 0, fl, NULL)) != 1)
			return -1;
	return 0;
}

static int
spki_ok(X509 *leaf, const uint8_t *spki, size_t spkilen)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(X509_get0_pubkey(leaf), &der), ok;

	ok = n > 0 && (size_t)n == spkilen && memcmp(der, spki, spkilen) == 0;
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

static int
check_leaf(X509 **certs, int n, const struct acme_identifier *ids,
    size_t nids, const uint8_t *spki, size_t spkilen, time_t now,
    struct acme_cert *out, char *err, size_t errlen)
{
	int i;

	for (i = 0; i + 1 < n; i++)
		if (X509_verify(certs[i], X509_get0_pubkey(certs[i + 1])) != 1)
			return fail(err, errlen, "certificate %d is not signed "
			    "by the next in the chain", i);
	if (to_time(X509_get0_notBefore(certs[0]), &out->not_before) == -1 ||
	    to_time(X509_get0_notAfter(certs[0]), &out->not_after) == -1)
		return fail(err, errlen, "unreadable validity dates");
	if (now >= out->not_after)
		return fail(err, errlen, "the certificate has expired");
	if (names_ok(certs[0], ids, nids) == -1)
		return fail(err, errlen, "the certificate does not name every "
		    "identifier");
	if (spki != NULL && spki_ok(certs[0], spki, spkilen) == -1)
		return fail(err, errlen, "the certificate is for another key");
	return 0;
}

int
x509_check_chain(const char *pem, size_t len,
    const struct acme_identifier *ids, size_t nids, const uint8_t *spki,
    size_t spkilen, time_t now, struct acme_cert *out, char *err,
    size_t errlen)
{
	X509 *certs[CHAIN_MAX];
	int n, rc;

	if (read_chain(pem, len, certs, &n) == -1)
		return fail(err, errlen, "not a PEM certificate chain (1 to %d "
		    "certificates)", CHAIN_MAX);
	rc = check_leaf(certs, n, ids, nids, spki, spkilen, now, out, err,
	    errlen);
	while (n > 0)
		X509_free(certs[--n]);
	return rc;
}

int
x509_leaf_key_hash(const char *pem, size_t len, uint8_t out[32])
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *leaf = b == NULL ? NULL : PEM_read_bio_X509(b, NULL, NULL, NULL);
	unsigned char *der = NULL;
	unsigned int n = 0;
	int dlen = leaf == NULL ? -1 :
	    i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &der), ok;

	ok = dlen > 0 && EVP_Digest(der, (size_t)dlen, out, &n, EVP_sha256(),
	    NULL) == 1 && n == 32;
	OPENSSL_free(der);
	X509_free(leaf);
	BIO_free(b);
	ERR_clear_error();
	return ok ? 0 : -1;
}
