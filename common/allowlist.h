/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -allow-keys: the node keys admitted, one "nodekey:<64 hex digits>" a
 * line. '#' starts a comment; blank lines and blanks around a key are
 * ignored. Anything else is an error with its line number, so that a typo
 * never silently locks a node out (or in).
 */
#ifndef DERPD_ALLOWLIST_H
#define DERPD_ALLOWLIST_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define ALLOWLIST_LINE_MAX	1024
#define ALLOWLIST_FILE_MAX	(64 * 1024 * 1024)

struct allowlist {
	uint8_t		(*keys)[KEY_LEN];	/* sorted, no duplicates */
	size_t		 n;
};

/*
 * Parses len bytes of text into *al (malloc'd; allowlist_free). Returns 0,
 * or -1 with *line (1-based) and *why set; *al is then empty.
 */
int	allowlist_parse(const char *text, size_t len, struct allowlist *al,
	    size_t *line, const char **why);
/* Whether key is in the list (binary search). */
int	allowlist_has(const struct allowlist *al, const uint8_t key[KEY_LEN]);
/* Sorts keys in place and drops duplicates (a list from elsewhere). */
void	allowlist_sort(struct allowlist *al);
void	allowlist_free(struct allowlist *al);

#endif
