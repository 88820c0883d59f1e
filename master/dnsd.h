/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_DNSD_H
#define DERPD_DNSD_H

#include "config.h"
#include "shm.h"

/*
 * Body of the bootstrap-DNS process (derpd[dns]): every ten minutes it
 * resolves -bootstrap-dns-names and -unpublished-bootstrap-dns-names and
 * publishes derper's JSON in shared memory for the workers to serve. It is
 * the only process that resolves names; workers never do.
 */
void	dnsd_main(const struct config *cfg, struct shm_dns *out)
	    __attribute__((noreturn));
/* Refuses name lists derpd cannot serve yet (TXT rollout percentages). */
void	dnsd_check_flags(const struct config *cfg);

#endif
