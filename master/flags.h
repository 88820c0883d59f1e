/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_FLAGS_H
#define DERPD_FLAGS_H

#include "config.h"

/*
 * Parses argv with Go's flag syntax into cfg (after setting derper's
 * defaults). Exits like Go's flag package: status 2 on a bad flag, 0 after
 * -h. Then refuses, with a clear message, flags that derpd accepts but does
 * not implement yet.
 */
void	flags_parse(struct config *cfg, int argc, char **argv);
/* Parses a Go duration ("10m", "1h2m3.5s", "250ms"). Returns 0 or -1. */
int	parse_go_duration(const char *s, int64_t *ms);

#endif
