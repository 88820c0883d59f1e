/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for acme/renew.c: when to renew, and the back-off after failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "acme.h"

#define DAY	86400
#define T0	1700000000	/* an arbitrary not_before */

static void
test_renew_at_third_of_lifetime(void **state)
{
	(void)state;
	/* 6 days: at 2 days left; 30 days: at 10; 90 days: at 30. */
	assert_int_equal(acme_renew_at(T0, T0 + 6 * DAY), T0 + 4 * DAY);
	assert_int_equal(acme_renew_at(T0, T0 + 30 * DAY), T0 + 20 * DAY);
	assert_int_equal(acme_renew_at(T0, T0 + 90 * DAY), T0 + 60 * DAY);
	/* Short-lived: 160 hours, renewed with a third left. */
	assert_int_equal(acme_renew_at(T0, T0 + 160 * 3600), T0 + 160 * 3600 -
	    160 * 3600 / 3);
}

static void
test_renew_at_capped_at_30_days(void **state)
{
	(void)state;
	/* A third of 100 or 365 days is more than 30: renew 30 days before. */
	assert_int_equal(acme_renew_at(T0, T0 + 100 * DAY), T0 + 70 * DAY);
	assert_int_equal(acme_renew_at(T0, T0 + 365 * DAY), T0 + 335 * DAY);
	assert_int_equal(ACME_RENEW_MAX_MARGIN, 30 * DAY);
}

static void
test_renew_at_nonsense_validity(void **state)
{
	(void)state;
	assert_int_equal(acme_renew_at(T0, T0), T0);
	assert_int_equal(acme_renew_at(T0, T0 - DAY), T0);
}

static void
test_backoff_sequence(void **state)
{
	time_t base = 60;
	unsigned n;

	(void)state;
	/* rnd 0 gives the low end (3/4), a huge rnd the top (the base). */
	for (n = 1; n <= 11; n++, base *= 2) {
		assert_int_equal(acme_backoff(n, 0), base - base / 4);
		assert_int_equal(acme_backoff(n, (uint32_t)(base / 4)), base);
	}
	assert_int_equal(acme_backoff(1, 0), 45);
	assert_int_equal(acme_backoff(2, 0), 90);
	assert_int_equal(acme_backoff(3, 30), 210);
	assert_int_equal(acme_backoff(3, 61), 180);	/* rnd wraps within the window */
}

static void
test_backoff_cap(void **state)
{
	uint32_t r;

	(void)state;
	/* 60 * 2^11 > 24 h: capped from the 12th failure on, whatever rnd. */
	assert_int_equal(acme_backoff(12, 0), 86400 - 86400 / 4);
	assert_int_equal(acme_backoff(12, 86400 / 4), 86400);
	for (r = 0; r < 100000; r += 977) {
		assert_true(acme_backoff(1000, r) <= ACME_BACKOFF_CAP);
		assert_true(acme_backoff(~0u, r) <= ACME_BACKOFF_CAP);
		assert_true(acme_backoff(~0u, r) >= ACME_BACKOFF_CAP * 3 / 4);
		assert_true(acme_backoff(1, r) >= 45 && acme_backoff(1, r) <= 60);
	}
}

static void
test_backoff_zero_failures_is_not_zero(void **state)
{
	(void)state;
	/* Never a tight loop, even if called with 0 failures. */
	assert_true(acme_backoff(0, 0) >= 45);
}

static void
test_schedule_no_certificate(void **state)
{
	struct acme_renewal r = { 0 };

	(void)state;
	assert_false(acme_renewal_usable(&r, T0));
	assert_int_equal(acme_renewal_next(&r), 0);
	assert_true(acme_renewal_begin(&r, T0));
	/* One order in flight at a time. */
	assert_false(acme_renewal_begin(&r, T0));
	assert_false(acme_renewal_begin(&r, T0 + 365 * DAY));
}

static void
test_schedule_failures_back_off(void **state)
{
	struct acme_renewal r = { 0 };

	(void)state;
	assert_true(acme_renewal_begin(&r, T0));
	acme_renewal_end(&r, T0, 0, 0);
	assert_int_equal(r.failures, 1);
	assert_int_equal(acme_renewal_next(&r), T0 + 45);
	assert_false(acme_renewal_begin(&r, T0 + 44));
	assert_true(acme_renewal_begin(&r, T0 + 45));
	acme_renewal_end(&r, T0 + 45, 0, 0);
	assert_int_equal(acme_renewal_next(&r), T0 + 45 + 90);
	assert_true(acme_renewal_begin(&r, T0 + 200));
	acme_renewal_end(&r, T0 + 200, 1, 0);
	assert_int_equal(r.failures, 0);
	assert_int_equal(r.retry_at, 0);
}

static void
test_schedule_with_certificate(void **state)
{
	struct acme_renewal r = { 0 };

	(void)state;
	acme_renewal_set_cert(&r, T0, T0 + 6 * DAY);
	assert_int_equal(acme_renewal_next(&r), T0 + 4 * DAY);
	assert_false(acme_renewal_begin(&r, T0 + 4 * DAY - 1));
	assert_true(acme_renewal_usable(&r, T0 + 4 * DAY));
	assert_true(acme_renewal_begin(&r, T0 + 4 * DAY));
	/* A failed renewal keeps the old certificate until it expires... */
	acme_renewal_end(&r, T0 + 4 * DAY, 0, 0);
	assert_true(acme_renewal_usable(&r, T0 + 6 * DAY - 1));
	/* ...and never past it. */
	assert_false(acme_renewal_usable(&r, T0 + 6 * DAY));
	assert_int_equal(acme_renewal_next(&r), T0 + 4 * DAY + 45);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renew_at_third_of_lifetime),
		cmocka_unit_test(test_renew_at_capped_at_30_days),
		cmocka_unit_test(test_renew_at_nonsense_validity),
		cmocka_unit_test(test_backoff_sequence),
		cmocka_unit_test(test_backoff_cap),
		cmocka_unit_test(test_backoff_zero_failures_is_not_zero),
		cmocka_unit_test(test_schedule_no_certificate),
		cmocka_unit_test(test_schedule_failures_back_off),
		cmocka_unit_test(test_schedule_with_certificate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
