/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * When to renew, and how long to wait after a failure: pure functions of
 * the time, so the policy is unit-tested without a CA or a clock.
 *
 * A certificate is renewed when the time left falls below a third of its
 * lifetime, at most 30 days early (a 90-day certificate at 30 days left, a
 * 6-day one at 2). After a failed order the next waits 1 min, 2, 4, ...
 * up to 24 h, jittered so that relays restarted together spread out, and
 * only one order per certificate is ever in flight.
 */
#include "acme.h"

time_t
acme_renew_at(time_t not_before, time_t not_after)
{
	time_t margin;

	if (not_after <= not_before)
		return not_before;	/* nonsense validity: renew at once */
	margin = (not_after - not_before) / 3;
	if (margin > ACME_RENEW_MAX_MARGIN)
		margin = ACME_RENEW_MAX_MARGIN;
	return not_after - margin;
}

time_t
acme_backoff(unsigned failures, uint32_t rnd)
{
	time_t base = ACME_BACKOFF_FIRST;
	unsigned i;

	for (i = 1; i < failures && base < ACME_BACKOFF_CAP; i++)
		base *= 2;
	if (base > ACME_BACKOFF_CAP)
		base = ACME_BACKOFF_CAP;
	return base - base / 4 + (time_t)(rnd % (uint32_t)(base / 4 + 1));
}

void
acme_renewal_set_cert(struct acme_renewal *r, time_t not_before,
    time_t not_after)
{
	r->not_after = not_after;
	r->renew_at = acme_renew_at(not_before, not_after);
}

time_t
acme_renewal_next(const struct acme_renewal *r)
{
	time_t due = r->not_after == 0 ? 0 : r->renew_at;

	return r->retry_at > due ? r->retry_at : due;
}

int
acme_renewal_begin(struct acme_renewal *r, time_t now)
{
	if (r->in_flight || now < acme_renewal_next(r))
		return 0;
	r->in_flight = 1;
	return 1;
}

void
acme_renewal_end(struct acme_renewal *r, time_t now, int ok, uint32_t rnd)
{
	r->in_flight = 0;
	if (ok) {
		r->failures = 0;
		r->retry_at = 0;
		return;
	}
	if (r->failures < 64)
		r->failures++;
	r->retry_at = now + acme_backoff(r->failures, rnd);
}

int
acme_renewal_usable(const struct acme_renewal *r, time_t now)
{
	return r->not_after != 0 && now < r->not_after;
}
