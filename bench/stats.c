/* SPDX-License-Identifier: BSD-3-Clause */
/* Latency histograms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "derpbench.h"

int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Values below 2*HIST_SUB have a bucket each; above, every octave is cut
 * into HIST_SUB buckets, so a bucket is at most 1/64 (1.6 %) wide.
 */
static unsigned int
hist_index(uint64_t v)
{
	unsigned int shift;

	if (v < 2 * HIST_SUB)
		return (unsigned int)v;
	shift = (unsigned int)(63 - __builtin_clzll(v)) - 6;
	if (shift * HIST_SUB + (v >> shift) >= HIST_BUCKETS)
		return HIST_BUCKETS - 1;
	return shift * HIST_SUB + (unsigned int)(v >> shift);
}

static uint64_t
hist_value(unsigned int i)
{
	unsigned int shift;

	if (i < 2 * HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	/* the middle of the bucket */
	return ((uint64_t)(i - shift * HIST_SUB) << shift) +
	    ((1ULL << shift) >> 1);
}

void
hist_add(struct hist *h, uint64_t ns)
{
	h->b[hist_index(ns)]++;
	h->n++;
}

void
hist_merge(struct hist *to, const struct hist *from)
{
	unsigned int i;

	for (i = 0; i < HIST_BUCKETS; i++)
		to->b[i] += from->b[i];
	to->n += from->n;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0;
	unsigned int i;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want)
			return hist_value(i);
	}
	return hist_value(HIST_BUCKETS - 1);
}
