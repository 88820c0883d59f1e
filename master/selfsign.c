/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * In the key process, at start-up: derper's self-signed certificate for an
 * IP -hostname in -certmode manual when the certdir has none (cmd/derper/
 * cert.go): ECDSA P-256, subject CN and iPAddress SAN the address, a year
 * of validity, for server authentication. Clients pin it by its SHA-256
 * ("CertName": "sha256-raw:<hex>" in the DERP map, which the master logs).
 * The key is written to the key file the master created and is kept.
 */
#include "keyproc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define SELFSIGN_DAYS	365	/* "a bit over that is rejected by macOS" */

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static int
random_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn != NULL && BN_rand(bn, 128, BN_RAND_TOP_ANY,
	    BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok ? 0 : -1;
}

static X509 *
make_cert(EVP_PKEY *key, const char *ip)
{
	X509 *x = X509_new();
	X509_NAME *name = x == NULL ? NULL : X509_get_subject_name(x);
	char san[64];

	snprintf(san, sizeof(san), "IP:%s", ip);
	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    random_serial(x) != 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x),
	    (long)SELFSIGN_DAYS * 86400) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)ip, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature,keyEncipherment")
	    != 0 || add_ext(x, NID_ext_key_usage, "serverAuth") != 0 ||
	    add_ext(x, NID_subject_alt_name, san) != 0 ||
	    X509_sign(x, key, EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
write_fd(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, p, len)) < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return fsync(fd);
}

/* Writes key or cert as PEM to fd; the key's text is in secure memory. */
static int
write_pem(int fd, EVP_PKEY *key, X509 *cert)
{
	BIO *b = BIO_new(key != NULL ? BIO_s_secmem() : BIO_s_mem());
	char *p;
	long len;
	int rc = -1;

	if (b != NULL && (key != NULL ? PEM_write_bio_PrivateKey(b, key, NULL,
	    NULL, 0, NULL, NULL) : PEM_write_bio_X509(b, cert)) == 1 &&
	    (len = BIO_get_mem_data(b, &p)) > 0)
		rc = write_fd(fd, p, (size_t)len);
	BIO_free(b);
	return rc;
}

void
selfsign_make(struct keyproc *kp, const char *ip, int key_fd, int crt_fd)
{
	uint8_t hash[KEYD_HASH_LEN], addr[16];
	const char *why;
	EVP_PKEY *key;
	X509 *cert;

	if (inet_pton(strchr(ip, ':') ? AF_INET6 : AF_INET, ip, addr) != 1)
		fatalx("set-up: %s is not an IP address", ip);
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (cert = make_cert(key, ip)) == NULL ||
	    keyring_hash_cert(cert, hash) != 0)
		fatalx("cannot make a self-signed certificate for %s", ip);
	if (write_pem(key_fd, key, NULL) != 0 || write_pem(crt_fd, NULL, cert) != 0)
		fatal("cannot write the self-signed certificate for %s", ip);
	X509_free(cert);
	close(crt_fd);
	if (keyring_add(kp, key, hash, KEYPROC_SERVED, &why) != 0)
		fatalx("%s", why);
	ERR_clear_error();
	log_info("made a self-signed certificate for %s (valid %d days)", ip,
	    SELFSIGN_DAYS);
}
