/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_RATECONF_H
#define DERPD_RATECONF_H

#include "shm.h"

/*
 * derper's -rate-config: a JSON file {"PerClientRateLimitBytesPerSec": N,
 * "PerClientRateBurstBytes": M}. A zero rate disables limiting; the burst
 * is raised to at least one full packet frame. Loads path into shared
 * memory; returns -1 (and logs why, leaving the old values) on error.
 */
int	rateconf_load(const char *path, struct shm *s);

#endif
