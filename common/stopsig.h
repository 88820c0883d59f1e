/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIGTERM for children that wait in one place (STUN for packets, the DNS
 * helper between refreshes): SIGTERM is blocked except inside
 * stopsig_wait(), so it cannot slip in between a check and a blocking
 * call, and the process leaves through exit() (its exit handlers run,
 * LeakSanitizer's check among them in the ASan build) instead of dying
 * by the signal.
 */
#ifndef DERPD_STOPSIG_H
#define DERPD_STOPSIG_H

void	stopsig_init(void);
/*
 * While on, SIGTERM is let in and ends the process at once (_exit(0)):
 * for long work with nothing to lose if cut short (an ACME order, whose
 * results are written by rename), which would otherwise hold the stop up.
 */
void	stopsig_busy(int on);
/*
 * Waits until fd (if >= 0) is readable or timeout_ms pass (-1: forever):
 * 1 readable, 0 not (timeout or another signal), -1 SIGTERM came.
 */
int	stopsig_wait(int fd, int timeout_ms);

#endif
