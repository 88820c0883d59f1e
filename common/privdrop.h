/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_PRIVDROP_H
#define DERPD_PRIVDROP_H

#include <sys/types.h>

struct run_as {
	uid_t		uid;
	gid_t		gid;
	char		name[64];
	int		switch_user;	/* we are root and must become uid/gid */
};

/*
 * Picks the user to run as: -user if given (must exist), else _derpd, else
 * nobody with a warning. Refuses root. When not started as root, stays the
 * invoking user. Call while still root (it reads the password database).
 */
void	runas_resolve(struct run_as *ra, const char *user_flag);
/*
 * Becomes ra's user without supplementary groups, clears every capability
 * set (effective, permitted, inheritable, bounding, ambient), sets
 * no_new_privs and makes the process non-dumpable. Verifies all of it.
 */
void	privdrop(const struct run_as *ra);

#endif
