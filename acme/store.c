/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The certdir: the ACME account key (acme-account.key) and each issued
 * chain (<first name>.crt), mode 0600 in a 0700 directory. Every access
 * goes through the directory's descriptor (openat, renameat), so the
 * ACME child needs no path lookups above it; writes are atomic (a
 * temporary file, fsync, rename, fsync of the directory).
 */
#include "acme_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acme_jws.h"
#include "acme_x509.h"
#include "log.h"

#define STORE_FILE_MAX	(64 * 1024)
#define TRUST_FILE_MAX	(4 * 1024 * 1024)

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int
acme_certdir_open(const char *path, uid_t owner, char *err, size_t errlen)
{
	struct stat st;
	int fd, made;

	made = mkdir(path, 0700) == 0;
	if (!made && errno != EEXIST)
		return fail(err, errlen, "cannot create certdir %s: %s", path,
		    strerror(errno));
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW))
	    == -1)
		return fail(err, errlen, "cannot open certdir %s: %s", path,
		    strerror(errno));
	if (made && geteuid() != owner && fchown(fd, owner, (gid_t)-1) == -1) {
		close(fd);
		return fail(err, errlen, "cannot chown certdir %s: %s", path,
		    strerror(errno));
	}
	if (fstat(fd, &st) == -1 || (st.st_mode & 077) != 0 ||
	    st.st_uid != owner) {
		close(fd);
		return fail(err, errlen, "certdir %s must be owned by uid %u "
		    "and not accessible by others: chown %u %s; chmod 700 %s",
		    path, (unsigned)owner, (unsigned)owner, path, path);
	}
	return fd;
}

/* Reads a whole regular file of at most max bytes, NUL-terminated. */
static char *
read_fd(int fd, size_t max, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t got = 0;

	if (fstat(fd, &st) == -1)
		return NULL;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		errno = EFBIG;
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return NULL;
	while (got < (size_t)st.st_size) {
		if ((r = read(fd, buf + got, (size_t)st.st_size - got)) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

static char *
read_at(int dirfd, const char *name, size_t *len)
{
	char *buf;
	int fd, saved;

	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return NULL;
	buf = read_fd(fd, STORE_FILE_MAX, len);
	saved = errno;
	close(fd);
	errno = saved;
	return buf;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
write_at(int dirfd, const char *name, const char *data, size_t len,
    char *err, size_t errlen)
{
	char tmp[300];
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp))
		return fail(err, errlen, "file name too long: %s", name);
	unlinkat(dirfd, tmp, 0);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return fail(err, errlen, "cannot create %s in the certdir: %s",
		    tmp, strerror(errno));
	if (write_all(fd, data, len) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1 || renameat(dirfd, tmp, dirfd, name) == -1) {
		saved = errno;
		close(fd);		/* harmless EBADF if already closed */
		unlinkat(dirfd, tmp, 0);
		return fail(err, errlen, "cannot write %s in the certdir: %s",
		    name, strerror(saved));
	}
	fsync(dirfd);
	return 0;
}

static EVP_PKEY *
new_account_key(int dirfd, char *err, size_t errlen)
{
	EVP_PKEY *key = jws_keygen();
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;

	if (key == NULL || b == NULL ||
	    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(b, &data)) <= 0 ||
	    write_at(dirfd, ACME_ACCOUNT_KEY_FILE, data, (size_t)len, err,
	    errlen) == -1) {
		if (err[0] == '\0')
			fail(err, errlen, "cannot make an account key");
		EVP_PKEY_free(key);
		key = NULL;
	}
	BIO_free_all(b);
	if (key != NULL)
		log_info("acme: created a new account key");
	return key;
}

EVP_PKEY *
store_account_key(int dirfd, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	BIO *b;
	char *pem;
	size_t len = 0;

	err[0] = '\0';
	if ((pem = read_at(dirfd, ACME_ACCOUNT_KEY_FILE, &len)) == NULL) {
		if (errno == ENOENT)
			return new_account_key(dirfd, err, errlen);
		fail(err, errlen, "cannot read %s: %s", ACME_ACCOUNT_KEY_FILE,
		    strerror(errno));
		return NULL;
	}
	if ((b = BIO_new_mem_buf(pem, (int)len)) != NULL)
		key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	OPENSSL_cleanse(pem, len);
	free(pem);
	if (key == NULL || !EVP_PKEY_is_a(key, "EC") ||
	    EVP_PKEY_get_bits(key) != 256) {
		EVP_PKEY_free(key);
		fail(err, errlen, "%s is not a P-256 private key",
		    ACME_ACCOUNT_KEY_FILE);
		return NULL;
	}
	return key;
}

static int
chain_file(const char *name, char *out, size_t cap)
{
	return snprintf(out, cap, "%s.crt", name) < (int)cap ? 0 : -1;
}

int
store_chain(int dirfd, const char *name, const char *pem, size_t len,
    char *err, size_t errlen)
{
	char file[ACME_IDENT_MAX + 8];

	if (chain_file(name, file, sizeof(file)) == -1)
		return fail(err, errlen, "name too long: %s", name);
	return write_at(dirfd, file, pem, len, err, errlen);
}

enum acme_cache
acme_cached(const struct acme_config *cfg, time_t now, const uint8_t *spki,
    size_t spkilen, struct acme_cert *out)
{
	struct acme_identifier ids[ACME_MAX_NAMES];
	char file[ACME_IDENT_MAX + 8], why[ACME_ERR_LEN];
	char *pem;
	size_t i, len = 0;

	memset(out, 0, sizeof(*out));
	if (cfg->nnames == 0 || cfg->nnames > ACME_MAX_NAMES)
		return ACME_CACHE_NONE;
	for (i = 0; i < cfg->nnames; i++)
		if (acme_ident_parse(cfg->names[i], &ids[i]) == -1)
			return ACME_CACHE_NONE;
	if (chain_file(ids[0].value, file, sizeof(file)) == -1 ||
	    (pem = read_at(cfg->certdir_fd, file, &len)) == NULL)
		return ACME_CACHE_NONE;
	if (x509_check_chain(pem, len, ids, cfg->nnames, spki, spkilen, now,
	    out, why, sizeof(why)) == -1) {
		log_info("acme: cached %s not usable: %s", file, why);
		free(pem);
		memset(out, 0, sizeof(*out));
		return ACME_CACHE_NONE;
	}
	out->chain_pem = pem;
	out->chain_len = len;
	return now >= acme_renew_at(out->not_before, out->not_after) ?
	    ACME_CACHE_DUE : ACME_CACHE_FRESH;
}

void
acme_cert_free(struct acme_cert *c)
{
	free(c->chain_pem);
	memset(c, 0, sizeof(*c));
}

int
acme_trust_load(const char *path, char **pem, size_t *len, char *err,
    size_t errlen)
{
	STACK_OF(X509_INFO) *infos;
	BIO *b;
	int n = 0, fd;

	*pem = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		*pem = read_fd(fd, TRUST_FILE_MAX, len);
		close(fd);
	}
	if (*pem == NULL)
		return fail(err, errlen, "cannot read the CA file %s: %s", path,
		    strerror(errno));
	if ((b = BIO_new_mem_buf(*pem, (int)*len)) != NULL &&
	    (infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL)) != NULL) {
		n = sk_X509_INFO_num(infos);
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
	}
	BIO_free(b);
	if (n == 0) {
		free(*pem);
		*pem = NULL;
		return fail(err, errlen, "the CA file %s holds no PEM "
		    "certificate", path);
	}
	return 0;
}
