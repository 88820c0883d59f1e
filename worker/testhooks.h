/* SPDX-License-Identifier: BSD-3-Clause */
/* Test builds only: the worker's side of common/probe.h. */
#ifndef DERPD_TESTHOOKS_H
#define DERPD_TESTHOOKS_H

#include "wk.h"

#ifdef DERPD_TEST_HOOKS
/* Attempts probe n (enum probe), logging what happens if it survives. */
void	testhooks_probe(struct wk *w, int n);
#endif

#endif
