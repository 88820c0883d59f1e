/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sd_notify(3) without libsystemd: each state change is one datagram of
 * "NAME=value" lines on the AF_UNIX socket that $NOTIFY_SOCKET names, a
 * path or "@name" in the abstract namespace. The socket is connected before
 * the privilege drop, so the unprivileged master still reaches it where the
 * path's directory is closed to it. A full socket drops the message rather
 * than stall the supervisor.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "notify.h"

#define STATUS_EVERY_MS	2000
#define READY_POLL_MS	20	/* until every worker serves */

static struct {
	int	 fd;		/* -1: not run by systemd */
	int64_t	 watchdog_ms;	/* ping interval; 0: no watchdog */
	int64_t	 next_ping_ms;
	int64_t	 next_status_ms;
	int	 ready;		/* READY=1 sent */
	int	 warned;
	char	 status[96];	/* the last STATUS= line sent */
} nt = { .fd = -1 };

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
send_msg(const char *msg)
{
	if (nt.fd < 0)
		return;
	if (send(nt.fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    !nt.warned) {
		nt.warned = 1;
		log_warn("cannot notify systemd");
	}
}

static int
notify_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((path[0] != '/' && path[0] != '@') || n < 2 ||
	    n >= sizeof(sa->sun_path))
		return -1;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@')
		sa->sun_path[0] = '\0';	/* abstract: no terminating NUL */
	*len = offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/');
	return 0;
}

/* $WATCHDOG_USEC is ours unless $WATCHDOG_PID names another process. */
static void
read_watchdog(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (usec == NULL)
		return;
	if (pid != NULL && strtoll(pid, NULL, 10) != (long long)getpid())
		return;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || end == usec || *end != '\0' || v == 0) {
		log_warnx("ignoring WATCHDOG_USEC=%s", usec);
		return;
	}
	nt.watchdog_ms = v / 2000 > 0 ? (int64_t)(v / 2000) : 1;
}

void
notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (path == NULL || *path == '\0')
		return;
	if (notify_addr(path, &sa, &len) != 0) {
		log_warnx("ignoring NOTIFY_SOCKET=%s: not a path or @name", path);
		return;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		fatal("socket for NOTIFY_SOCKET");
	if (connect(fd, (struct sockaddr *)&sa, len) != 0) {
		log_warn("cannot connect to NOTIFY_SOCKET %s", path);
		close(fd);
		return;
	}
	nt.fd = fd;
	read_watchdog();
}

static uint32_t
workers_serving(const struct master *m)
{
	uint32_t i, n = 0;

	for (i = 0; i < m->nworkers; i++)
		n += m->w[i].pid != 0 && __atomic_load_n(
		    &m->shm.counters[i]->ready, __ATOMIC_ACQUIRE) != 0;
	return n;
}

/* Sends prefix and STATUS= when either is news. */
static void
send_status(const struct master *m, const char *prefix)
{
	char status[sizeof(nt.status)], msg[sizeof(nt.status) + 16];

	snprintf(status, sizeof(status), "STATUS=%llu clients, %u of %u "
	    "workers serving", (unsigned long long)shm_gauge_total(&m->shm,
	    ST_CLIENTS_CURRENT), workers_serving(m), m->nworkers);
	if (*prefix == '\0' && strcmp(status, nt.status) == 0)
		return;
	snprintf(msg, sizeof(msg), "%s%s", prefix, status);
	send_msg(msg);
	memcpy(nt.status, status, sizeof(status));
}

int
notify_tick(const struct master *m)
{
	int64_t now, next;

	if (nt.fd < 0)
		return -1;
	now = mono_us() / 1000;
	if (!nt.ready && !m->stopping && workers_serving(m) == m->nworkers) {
		send_status(m, "READY=1\n");
		nt.ready = 1;
		nt.next_status_ms = now + STATUS_EVERY_MS;
	}
	if (nt.ready && !m->stopping && now >= nt.next_status_ms) {
		send_status(m, "");
		nt.next_status_ms = now + STATUS_EVERY_MS;
	}
	if (nt.watchdog_ms > 0 && now >= nt.next_ping_ms) {
		send_msg("WATCHDOG=1");
		nt.next_ping_ms = now + nt.watchdog_ms;
	}
	next = m->stopping ? -1 : !nt.ready ? READY_POLL_MS :
	    nt.next_status_ms - now;
	if (nt.watchdog_ms > 0 && (next < 0 || nt.next_ping_ms - now < next))
		next = nt.next_ping_ms - now;
	return (int)next;
}

/* systemd wants the time the reload began, as CLOCK_MONOTONIC in µs. */
void
notify_reloading(void)
{
	char msg[64];

	if (!nt.ready)
		return;
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)mono_us());
	send_msg(msg);
}

void
notify_reloaded(void)
{
	if (nt.ready)
		send_msg("READY=1");
}

void
notify_stopping(void)
{
	send_msg("STOPPING=1");
}
