/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Starting a child in its role (common/role.h): the descriptors it gets, at
 * known numbers, and its set-up document.
 */
#ifndef DERPD_SPAWN_H
#define DERPD_SPAWN_H

#include <jansson.h>
#include <sys/types.h>

#define SPAWN_MAX_FDS	(3 * 64 + 16)

struct spawn {
	const char	*role;		/* "worker", "key", "stun", "dns" */
	char		 title[48];	/* argv[0]: "derpd: worker 1" */
	int		 fds[SPAWN_MAX_FDS];	/* the master's descriptors to pass */
	int		 nfds;
	json_t		*setup;
};

/* Opens this binary for every later exec; call once, before dropping privileges. */
void	spawn_init(void);
void	spawn_begin(struct spawn *sp, const char *role, const char *title);
/* Passes fd (-1: none); returns the number the child will see it as (or -1). */
int	spawn_fd(struct spawn *sp, int fd);
/* Forks and execs; the set-up is consumed. Returns the pid, or -1 (logged). */
pid_t	spawn_run(struct spawn *sp);

#endif
