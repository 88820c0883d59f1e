/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test only: the certificate key made and kept by the test driver itself,
 * standing in for the key process (see csr_local.h).
 */
#include "csr_local.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme.h"

#define ACME_ERR	ACME_ERR_LEN

static int
save_key(int dirfd, const char *name, EVP_PKEY *key)
{
	char file[300];
	FILE *f;
	int fd, ok;

	snprintf(file, sizeof(file), "%s.key", name);
	if ((fd = openat(dirfd, file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
	    0600)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int
csr_local_make(void *arg, const char **names, size_t nnames, uint8_t **der,
    size_t *derlen, char *err)
{
	struct csr_local *c = arg;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	int rc = -1;

	if (key == NULL)
		snprintf(err, ACME_ERR, "cannot generate a key");
	else if (acme_csr_build(key, names, nnames, der, derlen) == -1)
		snprintf(err, ACME_ERR, "cannot build the CSR");
	else if (save_key(c->certdir_fd, names[0], key) == -1) {
		snprintf(err, ACME_ERR, "cannot save the key");
		free(*der);
	} else
		rc = 0;
	EVP_PKEY_free(key);
	return rc;
}

int
csr_local_spki(int certdir_fd, const char *name, uint8_t **spki, size_t *len)
{
	EVP_PKEY *key = NULL;
	unsigned char *out = NULL;
	char file[300];
	FILE *f;
	int fd, n = -1;

	snprintf(file, sizeof(file), "%s.key", name);
	if ((fd = openat(certdir_fd, file, O_RDONLY | O_NOFOLLOW)) == -1)
		return -1;
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return -1;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key != NULL)
		n = i2d_PUBKEY(key, &out);
	EVP_PKEY_free(key);
	if (n <= 0)
		return -1;
	*spki = malloc((size_t)n);
	if (*spki != NULL)
		memcpy(*spki, out, (size_t)n);
	OPENSSL_free(out);
	*len = (size_t)n;
	return *spki != NULL ? 0 : -1;
}
