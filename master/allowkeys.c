/* SPDX-License-Identifier: BSD-3-Clause */
#include "allowkeys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allowlist.h"
#include "log.h"

void
allowkeys_init(struct allowkeys *a)
{
	a->fd = -1;
	a->n = 0;
}

/* The whole file, or NULL (logged). */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		log_warn("-allow-keys %s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ALLOWLIST_FILE_MAX) {
		log_warnx("-allow-keys %s: not a regular file of at most %d MiB",
		    path, ALLOWLIST_FILE_MAX >> 20);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		log_warnx("-allow-keys %s: out of memory", path);
		goto fail;
	}
	for (*len = 0; *len < (size_t)st.st_size; *len += (size_t)r)
		if ((r = read(fd, buf + *len, (size_t)st.st_size - *len)) <= 0) {
			log_warn("-allow-keys %s: read", path);
			goto fail;
		}
	close(fd);
	return buf;
fail:
	free(buf);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* The keys in a sealed memfd, or -1 (logged). */
static int
to_memfd(const struct allowlist *al)
{
	size_t len = al->n * KEY_LEN, off;
	ssize_t r;
	int fd;

	if ((fd = memfd_create("derpd-allow-keys", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
		log_warn("memfd_create");
		return -1;
	}
	for (off = 0; off < len; off += (size_t)r)
		if ((r = write(fd, (uint8_t *)al->keys + off, len - off)) <= 0)
			break;
	if (off != len || fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
	    F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
		log_warn("writing the allowed keys");
		close(fd);
		return -1;
	}
	return fd;
}

static void
keep_old(const struct allowkeys *a)
{
	if (a->fd >= 0)
		log_warnx("-allow-keys: the list of %zu keys read before stays "
		    "in force", a->n);
}

int
allowkeys_load(struct allowkeys *a, const char *path)
{
	struct allowlist al;
	const char *why;
	size_t len = 0, line;
	char *text;
	int fd;

	if ((text = slurp(path, &len)) == NULL) {
		keep_old(a);
		return -1;
	}
	if (allowlist_parse(text, len, &al, &line, &why) != 0) {
		log_warnx("-allow-keys %s:%zu: %s", path, line, why);
		free(text);
		keep_old(a);
		return -1;
	}
	free(text);
	fd = to_memfd(&al);
	if (fd < 0) {
		allowlist_free(&al);
		keep_old(a);
		return -1;
	}
	if (a->fd >= 0)
		close(a->fd);
	a->fd = fd;
	a->n = al.n;
	allowlist_free(&al);
	log_info("-allow-keys %s: %zu keys admitted", path, a->n);
	return 0;
}
