/* SPDX-License-Identifier: BSD-3-Clause */
/* A token bucket with Go's golang.org/x/time/rate semantics for Allow(). */
#ifndef DERPD_RATELIMIT_H
#define DERPD_RATELIMIT_H

#include <stdint.h>

struct token_bucket {
	double		tokens;
	int64_t		last_ns;
	int		started;
};

/*
 * Refills at rate tokens/s up to burst (starting full), then takes one
 * token if there is one. rate = INFINITY always allows; burst = 0 never
 * does (unless rate is infinite), as in Go.
 */
int	bucket_allow(struct token_bucket *b, double rate, double burst,
	    int64_t now_ns);
/*
 * Spends n tokens, going into debt if needed (Go's ReserveN), and returns
 * how many ns to wait until the debt is repaid (0: none).
 */
int64_t	bucket_spend(struct token_bucket *b, double rate, double burst,
	    double n, int64_t now_ns);

#endif
