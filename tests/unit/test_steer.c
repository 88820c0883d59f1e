/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for master/steer.c: the kernel accepts the steering program
 * for every worker count up to 64 and every way workers can be down, it
 * fits STEER_MAX_INSNS, and nothing is built when no worker serves. Where
 * connections go is tested end to end (tests/e2e/test_placement.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/filter.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "steer.h"

static int
reuseport_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)), 0);
	return fd;
}

static void
check(int fd, enum steer_mode mode, uint32_t n, const uint8_t *alive)
{
	struct sock_filter code[STEER_MAX_INSNS];
	int len = steer_build(mode, n, alive, code);

	assert_true(len > 0 && len <= STEER_MAX_INSNS);
	if (steer_apply(fd, mode, n, alive) != 0)
		fail_msg("kernel refused the program: mode %d, %u workers", mode, n);
}

static void
test_every_size_and_outage_is_accepted(void **state)
{
	uint8_t alive[64];
	uint32_t n, dead;
	int fd = reuseport_socket(), mode;

	(void)state;
	for (mode = STEER_HASH; mode <= STEER_SOURCE_PORT; mode++)
		for (n = 2; n <= 64; n++) {
			memset(alive, 1, sizeof(alive));
			check(fd, (enum steer_mode)mode, n, alive);
			for (dead = 0; dead < n; dead++) {	/* each one down */
				memset(alive, 1, sizeof(alive));
				alive[dead] = 0;
				check(fd, (enum steer_mode)mode, n, alive);
			}
			memset(alive, 0, sizeof(alive));	/* all but one down */
			alive[n - 1] = 1;
			check(fd, (enum steer_mode)mode, n, alive);
		}
	close(fd);
}

static void
test_nothing_when_no_worker_serves(void **state)
{
	struct sock_filter code[STEER_MAX_INSNS];
	uint8_t alive[64];

	(void)state;
	memset(alive, 0, sizeof(alive));
	assert_int_equal(steer_build(STEER_HASH, 4, alive, code), 0);
	assert_int_equal(steer_build(STEER_SOURCE_PORT, 4, alive, code), 0);
	memset(alive, 1, sizeof(alive));
	assert_int_equal(steer_build(STEER_HASH, 65, alive, code), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_size_and_outage_is_accepted),
		cmocka_unit_test(test_nothing_when_no_worker_serves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
