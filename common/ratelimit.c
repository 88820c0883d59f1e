/* SPDX-License-Identifier: BSD-3-Clause */
#include "ratelimit.h"

#include <math.h>

static void
refill(struct token_bucket *b, double rate, double burst, int64_t now_ns)
{
	double elapsed;

	if (!b->started) {
		b->tokens = burst;
		b->last_ns = now_ns;
		b->started = 1;
	}
	if (now_ns > b->last_ns) {
		elapsed = (double)(now_ns - b->last_ns) / 1e9;
		b->tokens = fmin(burst, b->tokens + elapsed * rate);
		b->last_ns = now_ns;
	}
}

int64_t
bucket_spend(struct token_bucket *b, double rate, double burst, double n,
    int64_t now_ns)
{
	if (isinf(rate) || rate <= 0)
		return 0;
	refill(b, rate, burst, now_ns);
	b->tokens -= n;
	return b->tokens >= 0 ? 0 : (int64_t)(-b->tokens / rate * 1e9) + 1;
}

int
bucket_allow(struct token_bucket *b, double rate, double burst, int64_t now_ns)
{
	if (isinf(rate))
		return 1;
	refill(b, rate, burst, now_ns);
	if (b->tokens < 1)
		return 0;
	b->tokens -= 1;
	return 1;
}
