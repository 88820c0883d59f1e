/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -allow-keys, as the master reads it: at start and on every SIGHUP, after
 * the privilege drop (so the -user must be able to read it), parsed
 * (common/allowlist.c) and kept as raw keys in a sealed memfd that every
 * verifier maps from its set-up. A file that does not parse is reported
 * with the line at fault, and the list in force stays.
 */
#ifndef DERPD_ALLOWKEYS_H
#define DERPD_ALLOWKEYS_H

#include <stddef.h>

struct allowkeys {
	int	 fd;		/* sealed memfd of the keys in force; -1: none yet */
	size_t	 n;
};

void	allowkeys_init(struct allowkeys *a);
/* Reads path; 0 and the new list in force, or -1 (logged) and the old one. */
int	allowkeys_load(struct allowkeys *a, const char *path);

#endif
