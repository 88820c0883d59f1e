/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A private set of 32-byte keys: open addressing, keyed SipHash, deletion
 * by backward shift (no tombstones). The all-zero key is never a member
 * (no client can log in with it: it is a low-order point).
 */
#ifndef DERPD_KEYSET_H
#define DERPD_KEYSET_H

#include "wk.h"

/* Adds key; -1 when out of memory. */
int	keyset_add(struct keyset *s, const uint8_t key[KEY_LEN]);
void	keyset_del(struct keyset *s, const uint8_t key[KEY_LEN]);
/* Calls fn for every member; fn may delete the member it is given. */
void	keyset_each(struct keyset *s, void (*fn)(const uint8_t *key, void *arg),
	    void *arg);
void	keyset_clear(struct keyset *s);

#endif
