/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for bench/procstat.c: derpbench's CPU time of a server counts
 * every thread of every process (a Go server such as derper runs on many
 * threads; the main thread's schedstat alone showed a quarter of it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../bench/derpbench.h"

static void *
spin(void *arg)
{
	volatile unsigned long n = 0;

	(void)arg;
	for (;;)
		n++;
	return NULL;
}

/* A child whose main thread sleeps while two others burn CPU. */
static pid_t
busy_child(void)
{
	pthread_t t;
	pid_t pid = fork();
	int i;

	assert_true(pid >= 0);
	if (pid == 0) {
		for (i = 0; i < 2; i++)
			if (pthread_create(&t, NULL, spin, NULL) != 0)
				_exit(1);
		for (;;)
			pause();
	}
	return pid;
}

/* utime + stime of the whole process (every thread), in ns. */
static uint64_t
stat_ns(pid_t pid)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_non_null(p = strrchr(buf, ')'));
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
	    "%*u %llu %llu", &ut, &st), 2);
	return (ut + st) * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
}

static void
test_every_thread_counts(void **state)
{
	struct timespec second = { 1, 0 }, warm = { 0, 200000000 };
	uint64_t c0, c1, s0, s1;
	pid_t pid = busy_child();

	(void)state;
	nanosleep(&warm, NULL);
	c0 = cpu_tree(pid);
	s0 = stat_ns(pid);
	nanosleep(&second, NULL);
	c1 = cpu_tree(pid);
	s1 = stat_ns(pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* The spinning threads ran (the main thread slept) and all of it
	 * was counted, within the kernel's tick accounting of stat. */
	assert_true(s1 - s0 >= 200000000ULL);
	if ((double)(c1 - c0) < 0.8 * (double)(s1 - s0))
		fail_msg("cpu_tree counted %llu ns of %llu", (unsigned long long)(c1 - c0),
		    (unsigned long long)(s1 - s0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_thread_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
