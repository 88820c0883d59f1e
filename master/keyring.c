/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process's TLS keys, named by the SHA-256 of their DER
 * SubjectPublicKeyInfo (keyproc.h), and their store in the certdir: the
 * served keys as PEM in one file, rewritten whole and synced after every
 * change, through a descriptor the master opened (the key process opens
 * nothing).
 */
#include "keyproc.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define KEYRING_MAX	(64 * 1024)	/* a PEM private key is a few KiB */

static int
hash_der(const uint8_t *der, int len, uint8_t out[KEYD_HASH_LEN])
{
	unsigned int n = 0;

	return len > 0 && EVP_Digest(der, (size_t)len, out, &n, EVP_sha256(),
	    NULL) == 1 && n == KEYD_HASH_LEN ? 0 : -1;
}

int
keyring_hash_key(EVP_PKEY *key, uint8_t out[KEYD_HASH_LEN])
{
	uint8_t *der = NULL;
	int len = i2d_PUBKEY(key, &der), rc;

	rc = hash_der(der, len, out);
	OPENSSL_free(der);
	return rc;
}

int
keyring_hash_cert(X509 *cert, uint8_t out[KEYD_HASH_LEN])
{
	uint8_t *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der), rc;

	rc = hash_der(der, len, out);
	OPENSSL_free(der);
	return rc;
}

const struct keyproc_tlskey *
keyring_find(const struct keyproc *kp, const uint8_t hash[KEYD_HASH_LEN])
{
	int i;

	for (i = 0; i < KEYPROC_TLS_KEYS; i++)
		if ((kp->tls[i].state == KEYPROC_SERVED ||
		    kp->tls[i].state == KEYPROC_RETIRING ||
		    kp->tls[i].state == KEYPROC_CLIENT) &&
		    memcmp(kp->tls[i].hash, hash, KEYD_HASH_LEN) == 0)
			return &kp->tls[i];
	return NULL;
}

struct keyproc_tlskey *
keyring_find_state(struct keyproc *kp, const uint8_t hash[KEYD_HASH_LEN],
    int state)
{
	int i;

	for (i = 0; i < KEYPROC_TLS_KEYS; i++)
		if (kp->tls[i].state == state &&
		    memcmp(kp->tls[i].hash, hash, KEYD_HASH_LEN) == 0)
			return &kp->tls[i];
	return NULL;
}

static void
forget(struct keyproc_tlskey *k)
{
	EVP_PKEY_free(k->key);	/* secure heap: cleared on free */
	memset(k, 0, sizeof(*k));
}

void
keyring_set_state(struct keyproc *kp, struct keyproc_tlskey *k, int state)
{
	k->state = state;
	k->since = ++kp->tls_clock;
}

/* A free slot, forgetting the oldest retiring key if need be; or NULL. */
static struct keyproc_tlskey *
free_slot(struct keyproc *kp)
{
	struct keyproc_tlskey *oldest = NULL;
	int i;

	for (i = 0; i < KEYPROC_TLS_KEYS; i++) {
		if (kp->tls[i].state == KEYPROC_FREE)
			return &kp->tls[i];
		if (kp->tls[i].state == KEYPROC_RETIRING &&
		    (oldest == NULL || kp->tls[i].since < oldest->since))
			oldest = &kp->tls[i];
	}
	if (oldest != NULL)
		forget(oldest);
	return oldest;
}

/* Only what TLS 1.3 certificates use: ECDSA, or RSA of 2048 bits or more. */
static int
key_kind(EVP_PKEY *key, int *rsa, const char **why)
{
	*rsa = EVP_PKEY_is_a(key, "RSA");
	if (!*rsa && !EVP_PKEY_is_a(key, "EC"))
		return (*why = "the TLS key is neither ECDSA nor RSA", -1);
	if (*rsa && EVP_PKEY_get_bits(key) < 2048)
		return (*why = "the TLS key is RSA of fewer than 2048 bits", -1);
	return 0;
}

int
keyring_add(struct keyproc *kp, EVP_PKEY *key, const uint8_t hash[KEYD_HASH_LEN],
    int state, const char **why)
{
	struct keyproc_tlskey *k;
	int rsa;

	if (key_kind(key, &rsa, why) != 0) {
		EVP_PKEY_free(key);
		return -1;
	}
	if ((k = free_slot(kp)) == NULL) {
		EVP_PKEY_free(key);
		return (*why = "no room for another TLS key", -1);
	}
	k->key = key;
	k->rsa = rsa;
	memcpy(k->hash, hash, KEYD_HASH_LEN);
	keyring_set_state(kp, k, state);
	return 0;
}

void
keyring_retire_all(struct keyproc *kp)
{
	int i;

	for (i = 0; i < KEYPROC_TLS_KEYS; i++)
		if (kp->tls[i].state == KEYPROC_SERVED)
			keyring_set_state(kp, &kp->tls[i], KEYPROC_RETIRING);
}

char *
keyring_read_locked(int fd, size_t *len)
{
	char *buf = sodium_malloc(KEYRING_MAX);
	ssize_t r;

	*len = 0;
	if (buf == NULL)
		return NULL;
	while ((r = pread(fd, buf + *len, KEYRING_MAX - 1 - *len, (off_t)*len)) > 0)
		*len += (size_t)r;
	if (r < 0 || *len == KEYRING_MAX - 1) {
		sodium_free(buf);
		return NULL;
	}
	buf[*len] = '\0';
	return buf;
}

void
keyring_load(struct keyproc *kp, int fd)
{
	uint8_t hash[KEYD_HASH_LEN];
	const char *why;
	EVP_PKEY *key;
	size_t len;
	char *pem;
	BIO *b;
	int n = 0;

	if ((pem = keyring_read_locked(fd, &len)) == NULL)
		fatalx("cannot read the certdir's TLS keys (acme-keys.pem)");
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("out of memory");
	while ((key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) != NULL) {
		if (keyring_hash_key(key, hash) != 0 ||
		    keyring_add(kp, key, hash, KEYPROC_SERVED, &why) != 0)
			log_warnx("acme-keys.pem: a key is unusable; it is left out");
		else
			n++;
	}
	ERR_clear_error();	/* the end of the file is an "error" */
	BIO_free(b);
	sodium_free(pem);	/* wipes it */
	if (n > 0)
		log_debug("loaded %d TLS keys of the ACME certificates", n);
}

static int
write_all_at(int fd, const char *p, size_t len)
{
	size_t off = 0;
	ssize_t w;

	while (off < len) {
		if ((w = pwrite(fd, p + off, len - off, (off_t)off)) < 0 &&
		    errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return ftruncate(fd, (off_t)len) == 0 && fdatasync(fd) == 0 ? 0 : -1;
}

int
keyring_save(struct keyproc *kp)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *p;
	long len;
	int i, rc = -1;

	if (kp->keyring_fd < 0)
		return 0;
	for (i = 0; b != NULL && i < KEYPROC_TLS_KEYS; i++)
		if (kp->tls[i].state == KEYPROC_SERVED &&
		    PEM_write_bio_PrivateKey(b, kp->tls[i].key, NULL, NULL, 0,
		    NULL, NULL) != 1)
			break;
	if (b != NULL && i == KEYPROC_TLS_KEYS &&
	    (len = BIO_get_mem_data(b, &p)) >= 0)
		rc = write_all_at(kp->keyring_fd, p, (size_t)len);
	BIO_free(b);	/* secure memory: cleared */
	ERR_clear_error();
	if (rc != 0)
		log_warn("cannot store the TLS keys in acme-keys.pem");
	return rc;
}

void
keyring_free(struct keyproc *kp)
{
	int i;

	for (i = 0; i < KEYPROC_TLS_KEYS; i++)
		forget(&kp->tls[i]);
}
