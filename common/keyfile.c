/* SPDX-License-Identifier: BSD-3-Clause */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfmt.h"

static int
check_stat(const char *path, const struct stat *st, char *err, size_t errlen)
{
	if (S_ISDIR(st->st_mode))
		snprintf(err, errlen, "key file %s is a directory: point -c at a "
		    "file in it (derpd creates a missing one)", path);
	else if (!S_ISREG(st->st_mode))
		snprintf(err, errlen, "key file %s is not a regular file: point -c "
		    "at a regular file (derpd creates a missing one)", path);
	else if (st->st_uid != 0 && st->st_uid != geteuid())
		snprintf(err, errlen, "key file %s is owned by uid %u; it must be "
		    "owned by root (or the user running derpd): chown root %s",
		    path, (unsigned)st->st_uid, path);
	else if ((st->st_mode & 077) != 0)
		snprintf(err, errlen, "key file %s has mode %04o; it must not be "
		    "accessible by group or others: chmod 600 %s",
		    path, (unsigned)(st->st_mode & 07777), path);
	else if (st->st_size > KEYFILE_MAX)
		snprintf(err, errlen, "key file %s is too large (%lld bytes) to be "
		    "a key file", path, (long long)st->st_size);
	else
		return 0;
	return -1;
}

/* Reads from offset 0, so a kept descriptor can be read again later. */
static ssize_t
pread_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t r;

	while (got < cap) {
		r = pread(fd, buf + got, cap - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += r;
	}
	return (ssize_t)got;
}

int
keyfile_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return KEYFILE_MISSING;
		if (errno == ELOOP)
			snprintf(err, errlen, "key file %s is a symbolic link; "
			    "refusing to follow it: point -c at the file itself",
			    path);
		else
			snprintf(err, errlen, "key file %s: %s", path,
			    strerror(errno));
		return KEYFILE_BAD;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		close(fd);
		return KEYFILE_BAD;
	}
	if (check_stat(path, &st, err, errlen) != 0) {
		close(fd);
		return KEYFILE_BAD;
	}
	return fd;
}

int
keyfile_read_fd(int fd, const char *path, uint8_t priv[KEY_LEN], char *err,
    size_t errlen)
{
	const char *why;
	char *buf;
	ssize_t n;
	int rc = KEYFILE_BAD;

	if ((buf = sodium_malloc(KEYFILE_MAX + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return KEYFILE_BAD;
	}
	n = pread_all(fd, buf, KEYFILE_MAX + 1);
	if (n < 0)
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
	else if (keyfile_parse(buf, (size_t)n, priv, &why) != 0)
		snprintf(err, errlen, "key file %s is malformed: %s; expected "
		    "{\"PrivateKey\": \"privkey:<64 hex digits>\"}", path, why);
	else
		rc = KEYFILE_OK;
	sodium_free(buf);
	return rc;
}

int
keyfile_load(const char *path, uint8_t priv[KEY_LEN], char *err, size_t errlen)
{
	int fd = keyfile_open(path, err, errlen), rc;

	if (fd < 0)
		return fd;
	rc = keyfile_read_fd(fd, path, priv, err, errlen);
	close(fd);
	return rc;
}

void
key_public(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN])
{
	crypto_scalarmult_base(pub, priv);
}

static int
mkdir_parents(const char *path)
{
	char *copy, *dir;
	struct stat st;
	int rc = 0;

	if ((copy = strdup(path)) == NULL)
		return -1;
	dir = dirname(copy);
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir_parents(dir) != 0 ||
		    (mkdir(dir, 0700) != 0 && errno != EEXIST))
			rc = -1;
	}
	free(copy);
	return rc;
}

static int
fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (copy == NULL)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

/* rename(2) without ever replacing an existing file. */
static int
install_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(tmp, path) != 0)
		return -1;
	unlink(tmp);
	return 0;
}

int
keyfile_create(const char *path, uint8_t priv[KEY_LEN], char *err, size_t errlen)
{
	char text[128], tmp[4096];
	size_t len;
	int fd, saved, ok;

	if (access(path, F_OK) == 0 || errno != ENOENT) {
		errno = EEXIST;
		snprintf(err, errlen, "%s already exists; refusing to overwrite it",
		    path);
		return -1;
	}
	if (mkdir_parents(path) != 0) {
		snprintf(err, errlen, "cannot create the directory for %s: %s",
		    path, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "key file path too long");
		return -1;
	}
	randombytes_buf(priv, KEY_LEN);
	priv[0] &= 248;		/* clamp, as Tailscale's key.NewNode does */
	priv[31] = (priv[31] & 127) | 64;
	len = keyfile_format(text, sizeof(text), priv);

	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		sodium_memzero(text, sizeof(text));
		return -1;
	}
	ok = fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len &&
	    fsync(fd) == 0;
	sodium_memzero(text, sizeof(text));
	saved = errno;
	if (close(fd) != 0 && ok)
		ok = 0, saved = errno;
	if (ok && install_noreplace(tmp, path) != 0)
		ok = 0, saved = errno;
	if (!ok) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
		unlink(tmp);
		errno = saved;
		return -1;
	}
	fsync_dir(path);
	return 0;
}
