/* SPDX-License-Identifier: BSD-3-Clause */
/* The server's memory and CPU time, from /proc, over its process tree. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derpbench.h"

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

/*
 * Nanoseconds on a CPU of every thread of pid: /proc/PID/schedstat alone is
 * the main thread's, a quarter of a Go server's real time.
 */
static uint64_t
cpu_threads(int pid)
{
	unsigned long long ns;
	struct dirent *de;
	char path[96];
	uint64_t sum = 0;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", pid,
		    de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* Nanoseconds on a CPU, user and kernel, of pid, its threads and descendants. */
uint64_t
cpu_tree(int root)
{
	uint64_t sum = 0;
	int *pids, n, i;

	if ((n = tree_pids(root, &pids)) < 0)
		return 0;
	for (i = 0; i < n; i++)
		sum += cpu_threads(pids[i]);
	free(pids);
	return sum;
}
