/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper's key file on disk. Loading refuses anything an attacker could have
 * swapped or read (symlinks, non-regular files, wrong owner, group/other
 * permissions), with a message that says how to fix it, as ssh does for
 * private keys. Creating never overwrites.
 */
#ifndef DERPD_KEYFILE_H
#define DERPD_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

enum { KEYFILE_OK = 0, KEYFILE_MISSING = -1, KEYFILE_BAD = -2 };

/*
 * Opens path for reading after the checks above. Returns a descriptor,
 * KEYFILE_MISSING, or KEYFILE_BAD with err set.
 */
int	keyfile_open(const char *path, char *err, size_t errlen);
/* Parses the key file open on fd into priv (sodium_malloc'd memory). */
int	keyfile_read_fd(int fd, const char *path, uint8_t priv[KEY_LEN], char *err,
	    size_t errlen);
/* keyfile_open + keyfile_read_fd. */
int	keyfile_load(const char *path, uint8_t priv[KEY_LEN], char *err, size_t errlen);
/*
 * Generates a new clamped Curve25519 key into priv and writes it atomically
 * (temporary file, fsync, no-replace rename), mode 0600 whatever the umask.
 * Creates missing parent directories with mode 0700. Returns 0, or -1 with
 * err set (EEXIST when the file already exists).
 */
int	keyfile_create(const char *path, uint8_t priv[KEY_LEN], char *err, size_t errlen);
void	key_public(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN]);

#endif
