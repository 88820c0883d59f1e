#include "ratelimit.h"

#include <math.h>

int
bucket_allow(struct token_bucket *b, double rate, double burst, int64_t now_ns)
{
	double elapsed;

	if (isinf(rate))
		return 1;
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
	if (b->tokens < 1)
		return 0;
	b->tokens -= 1;
	return 1;
}
