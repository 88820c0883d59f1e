/* SPDX-License-Identifier: BSD-3-Clause */
/* -certmode manual: new certificate files without a restart (certreload.c). */
#ifndef DERPD_CERTRELOAD_H
#define DERPD_CERTRELOAD_H

#include "master.h"

/* Reloads now (why: for the log); keeps the old pair on any failure. */
void	certreload_run(struct master *m, const char *why);
/* SIGHUP: reloads if the run user can read the files, else says why not. */
void	certreload_hup(struct master *m);
/* Reloads when either file changed; ms until the next look (-1: never). */
int	certreload_tick(struct master *m);

#endif
