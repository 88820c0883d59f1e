/* SPDX-License-Identifier: BSD-3-Clause */
#include "stopsig.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static volatile sig_atomic_t stop, busy;

static void
on_stop(int sig)
{
	(void)sig;
	if (busy)
		_exit(0);
	stop = 1;
}

void
stopsig_init(void)
{
	struct sigaction sa;
	sigset_t term;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigprocmask(SIG_BLOCK, &term, NULL) != 0)
		fatal("SIGTERM");
}

int
stopsig_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
	sigset_t open;
	int r;

	sigprocmask(SIG_SETMASK, NULL, &open);
	sigdelset(&open, SIGTERM);
	r = ppoll(&pfd, fd >= 0, timeout_ms < 0 ? NULL : &ts, &open);
	if (stop)
		return -1;
	if (r < 0 && errno != EINTR)
		log_warn("ppoll");
	return r > 0;
}

void
stopsig_busy(int on)
{
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	busy = on;
	if (sigprocmask(on ? SIG_UNBLOCK : SIG_BLOCK, &term, NULL) != 0)
		log_warn("sigprocmask");
}
