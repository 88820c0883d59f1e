/* SPDX-License-Identifier: BSD-3-Clause */
/* Latency histograms and the server's memory. */
#include <ctype.h>
#include <dirent.h>
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

static int
parent_of(int pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
		sscanf(p + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

static void
add_rollup(int pid, struct mem *m)
{
	char path[64], line[256];
	unsigned long long kib;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	m->nprocs++;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Rss: %llu kB", &kib) == 1)
			m->rss_kib += kib;
		else if (sscanf(line, "Pss: %llu kB", &kib) == 1)
			m->pss_kib += kib;
	}
	fclose(f);
}

static int
descends_from(int pid, int root, const int *pids, const int *ppids, int n)
{
	int i, depth;

	for (depth = 0; depth < 64 && pid > 1; depth++) {
		if (pid == root)
			return 1;
		for (i = 0; i < n && pids[i] != pid; i++)
			;
		if (i == n)
			return 0;
		pid = ppids[i];
	}
	return pid == root;
}

/* pid and every process below it; returns how many, or -1. */
static int
tree_pids(int root, int **out)
{
	struct dirent *de;
	int *pids = NULL, *ppids = NULL, n = 0, cap = 0, i, m = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			pids = realloc(pids, (size_t)cap * sizeof(int));
			ppids = realloc(ppids, (size_t)cap * sizeof(int));
			if (pids == NULL || ppids == NULL)
				fatal("realloc");
		}
		pids[n] = atoi(de->d_name);
		ppids[n] = parent_of(pids[n]);
		n++;
	}
	closedir(d);
	for (i = 0; i < n; i++)
		if (descends_from(pids[i], root, pids, ppids, n))
			pids[m++] = pids[i];
	free(ppids);
	*out = pids;
	return m;
}

/* Sums Rss and Pss over pid and every process below it. */
int
mem_tree(int root, struct mem *m)
{
	int *pids, n, i;

	memset(m, 0, sizeof(*m));
	if ((n = tree_pids(root, &pids)) < 0)
		return -1;
	for (i = 0; i < n; i++)
		add_rollup(pids[i], m);
	free(pids);
	return m->nprocs > 0 ? 0 : -1;
}

/* Nanoseconds on a CPU, user and kernel, of pid and its descendants. */
uint64_t
cpu_tree(int root)
{
	unsigned long long ns;
	char path[64];
	uint64_t sum = 0;
	int *pids, n, i;
	FILE *f;

	if ((n = tree_pids(root, &pids)) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/schedstat", pids[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	free(pids);
	return sum;
}
