/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The accept loop: derper's accept rate limit, and a pause while the
 * process is out of descriptors.
 */
#include "conn.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "conn_int.h"
#include "log.h"

#define ACCEPT_BUDGET	64
#define PAUSE_MIN_MS	250	/* accept back-off: one tick, doubling */
#define PAUSE_MAX_MS	1000

/*
 * Like derper, a connection over -accept-connection-limit/-burst is accepted
 * and closed at once: the client learns something is up, and the kernel's
 * queue does not fill. Each worker has its own bucket with an equal share
 * of the rate and burst, so no worker depends on another's bytes.
 */
static int
accept_allowed(struct wk *w)
{
	const struct config *cfg = w->cfg;
	struct timespec ts;
	double burst;
	int ok;

	if (isinf(cfg->accept_conn_limit))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	burst = ceil((double)cfg->accept_conn_burst / w->nworkers);
	ok = bucket_allow(&w->accept_bucket, cfg->accept_conn_limit / w->nworkers,
	    burst, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	wk_stat(w, ok ? ST_ACCEPT_LIMIT_ACCEPTED : ST_ACCEPT_LIMIT_REJECTED, 1);
	return ok;
}

static void
listen_ctl(struct wk *w, int op)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = TAG_LISTEN;
	if (epoll_ctl(w->epfd, op, w->listen_fd, &ev) != 0)
		log_warn("epoll_ctl listening socket");
	ev.data.u64 = TAG_HTTP;
	if (w->http_fd >= 0 && epoll_ctl(w->epfd, op, w->http_fd, &ev) != 0)
		log_warn("epoll_ctl listening socket");
}

/*
 * Out of descriptors (or of kernel memory for one): the listening socket
 * stays readable while accept fails, so trying again at once would spin.
 * As nginx does, the listening sockets leave epoll for a pause of one tick
 * doubling to 1 s while it lasts; clients already here are served, new
 * ones wait in the kernel's backlog. Logged when it starts and, with a
 * count, when it ends.
 */
static void
accept_pause(struct wk *w, int err)
{
	struct accept_pause *p = &w->accept_pause;

	wk_stat(w, ST_ACCEPT_NO_FDS, 1);
	if (p->failures++ == 0) {
		p->since_ms = w->now_ms;
		p->backoff_ms = PAUSE_MIN_MS;
		log_warnx("accept: %s: not accepting connections until "
		    "descriptors free up", strerror(err));
	} else if ((p->backoff_ms *= 2) > PAUSE_MAX_MS)
		p->backoff_ms = PAUSE_MAX_MS;
	p->resume_ms = w->now_ms + p->backoff_ms;
	p->paused = 1;
	listen_ctl(w, EPOLL_CTL_DEL);
}

/* accept4 took a descriptor (or found the queue empty, which it checks after). */
static void
accept_resumed(struct wk *w)
{
	struct accept_pause *p = &w->accept_pause;

	if (p->failures == 0)
		return;
	log_info("accepting connections again after %.1f s; %llu accept calls "
	    "failed for want of descriptors", (w->now_ms - p->since_ms) / 1000.0,
	    (unsigned long long)p->failures);
	p->failures = 0;
}

void
conn_accept(struct wk *w, int lfd, int port80)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i;

	for (i = 0; i < ACCEPT_BUDGET && !w->stopping && !w->accept_pause.paused;
	    i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE ||
		    errno == ENOBUFS || errno == ENOMEM)) {
			accept_pause(w, errno);
			return;
		}
		if (fd < 0) {
			if (errno == EAGAIN)
				accept_resumed(w);
			else if (errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		accept_resumed(w);
		if (!port80 && !accept_allowed(w)) {
			close(fd);
			continue;
		}
		conn_new(w, fd, &ss, port80);
	}
}

void
conn_tick(struct wk *w)
{
	struct accept_pause *p = &w->accept_pause;

	if (p->paused && w->now_ms >= p->resume_ms && !w->stopping) {
		p->paused = 0;
		listen_ctl(w, EPOLL_CTL_ADD);
	}
	/* Queued output is charged but not refused: settle up here. */
	conn_login_room(w, NULL, 0);
}
