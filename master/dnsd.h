/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_DNSD_H
#define DERPD_DNSD_H

#include "config.h"
#include "shm.h"

/*
 * The bootstrap-DNS role's entry point (derpd: dns), after exec: every ten
 * minutes it resolves -bootstrap-dns-names and
 * -unpublished-bootstrap-dns-names and publishes derper's JSON in its
 * shared-memory region for the workers to serve. It is the only process
 * that resolves names; workers never do.
 */
void	dnsd_main(void) __attribute__((noreturn));
/* Refuses name lists derpd cannot serve yet (TXT rollout percentages). */
void	dnsd_check_flags(const struct config *cfg);

#endif
