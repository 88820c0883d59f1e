/* SPDX-License-Identifier: BSD-3-Clause */
#include "dialer.h"

#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dial_proto.h"
#include "fdpass.h"
#include "log.h"
#include "meshpeers.h"
#include "probe.h"
#include "sandbox.h"
#include "setup.h"
#include "shm.h"

#define DIAL_TIMEOUT_MS		10000	/* per request, every address together */
#define ATTEMPT_TIMEOUT_MS	5000	/* per address */
#define MAX_ADDRS		8

/* One peer's connection in progress (a peer has one owner, so one at a time). */
struct dial {
	int			 active;
	uint32_t		 worker;
	struct dial_req		 req;
	struct sockaddr_storage	 addr[MAX_ADDRS];
	socklen_t		 alen[MAX_ADDRS];
	int			 naddrs, next;
	int			 fd;		/* connecting, or -1 */
	uint32_t		 attempt;	/* bumped for every socket */
	int			 err;		/* the last attempt's */
	int64_t			 attempt_end, end;
};

struct dialer {
	struct mesh_peer	 peers[MESH_MAX_PEERS];
	int			 npeers;
	uint32_t		 nworkers;
	int			 ctl;
	int			 wfd[SHM_MAX_WORKERS];	/* our end of each worker's socket */
	struct dial		 dials[MESH_MAX_PEERS];
};

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Answers the worker; a socket goes with a success, and our copy is closed. */
static void
answer(struct dialer *d, struct dial *dl, int err, int fd)
{
	struct dial_resp resp = { dl->req.peer, dl->req.id, err, 0 };
	int w = (int)dl->worker;

	if (d->wfd[w] >= 0 && fdpass_send(d->wfd[w], &resp, sizeof(resp), fd,
	    MSG_DONTWAIT) != 0)
		log_warn("cannot answer worker %d about peer %u", w, dl->req.peer);
	if (fd >= 0)
		close(fd);
	dl->active = 0;
}

static void
abandon(struct dial *dl)
{
	if (dl->fd >= 0)
		close(dl->fd);
	dl->fd = -1;
	dl->active = 0;
}

/* Starts a connect to the next address; answers once none is left. */
static void
next_address(struct dialer *d, struct dial *dl, int64_t now)
{
	struct sockaddr *sa;

	while (dl->next < dl->naddrs && now < dl->end) {
		sa = (struct sockaddr *)&dl->addr[dl->next];
		dl->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		dl->next++;
		dl->attempt++;
		if (dl->fd < 0) {
			dl->err = errno;
			continue;
		}
		if (connect(dl->fd, sa, dl->alen[dl->next - 1]) == 0) {
			answer(d, dl, 0, dl->fd);
			dl->fd = -1;
			return;
		}
		if (errno == EINPROGRESS) {
			dl->attempt_end = now + ATTEMPT_TIMEOUT_MS;
			if (dl->attempt_end > dl->end)
				dl->attempt_end = dl->end;
			return;
		}
		dl->err = errno;
		close(dl->fd);
		dl->fd = -1;
	}
	answer(d, dl, dl->err != 0 ? dl->err : ETIMEDOUT, -1);
}

/* Resolves peer's dial host into dl's addresses; ENXIO if it does not. */
static int
resolve(const struct mesh_peer *p, struct dial *dl)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV }, *res, *ai;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", p->port);
	if ((rc = getaddrinfo(p->dial, port, &hints, &res)) != 0) {
		log_debug("%s: %s", p->dial, gai_strerror(rc));
		return ENXIO;
	}
	dl->naddrs = 0;
	for (ai = res; ai != NULL && dl->naddrs < MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(dl->addr[0]))
			continue;
		memcpy(&dl->addr[dl->naddrs], ai->ai_addr, ai->ai_addrlen);
		dl->alen[dl->naddrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	return dl->naddrs > 0 ? 0 : ENXIO;
}

/* A worker's request: a new attempt for that peer replaces any before it. */
static void
start(struct dialer *d, uint32_t w, const struct dial_req *req)
{
	struct dial *dl = &d->dials[req->peer];
	uint32_t attempt;
	int err;

	abandon(dl);
	attempt = dl->attempt;
	memset(dl, 0, sizeof(*dl));
	dl->attempt = attempt;
	dl->fd = -1;
	dl->active = 1;
	dl->worker = w;
	dl->req = *req;
	dl->end = now_ms() + DIAL_TIMEOUT_MS;
	if ((err = resolve(&d->peers[req->peer], dl)) != 0) {
		answer(d, dl, err, -1);
		return;
	}
	next_address(d, dl, now_ms());
}

/* A connect in progress finished (or its time ran out). */
static void
progress(struct dialer *d, struct dial *dl, int64_t now, int ready)
{
	socklen_t len = sizeof(dl->err);
	int fd = dl->fd;

	if (!ready && now < dl->attempt_end)
		return;
	dl->fd = -1;
	if (ready && getsockopt(fd, SOL_SOCKET, SO_ERROR, &dl->err, &len) == 0 &&
	    dl->err == 0) {
		answer(d, dl, 0, fd);
		return;
	}
	if (!ready)
		dl->err = ETIMEDOUT;
	close(fd);
	next_address(d, dl, now);
}

static void
worker_gone(struct dialer *d, uint32_t w)
{
	int i;

	close(d->wfd[w]);
	d->wfd[w] = -1;
	for (i = 0; i < d->npeers; i++)
		if (d->dials[i].active && d->dials[i].worker == w)
			abandon(&d->dials[i]);
}

static void
worker_readable(struct dialer *d, uint32_t w)
{
	struct dial_req req;
	uint8_t buf[64];
	ssize_t r;

	for (;;) {
		r = recv(d->wfd[w], buf, sizeof(buf), MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			worker_gone(d, w);
			return;
		}
		if (dial_req_parse(buf, (size_t)r, w, d->nworkers,
		    (uint32_t)d->npeers, &req) != 0) {
			log_warnx("worker %u asked for something else than one "
			    "of its peers; ignored", w);
			continue;
		}
		start(d, w, &req);
	}
}

/* The master hands us a worker's socket (a new worker, or at our start). */
static void
ctl_readable(struct dialer *d)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct dial_attach at;
	uint8_t buf[64];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1, nfds = 0;
	ssize_t r;

	if ((r = recvmsg(d->ctl, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		fatal("recvmsg from the master");
	}
	if (r == 0)
		exit(0);	/* the master is gone */
	cm = CMSG_FIRSTHDR(&mh);
	if (cm != NULL && cm->cmsg_level == SOL_SOCKET &&
	    cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int))) {
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		nfds = 1;
	}
	if ((mh.msg_flags & MSG_CTRUNC) || dial_attach_parse(buf, (size_t)r, nfds,
	    d->nworkers, &at) != 0) {
		if (fd >= 0)
			close(fd);
		fatalx("bad message from the master");
	}
	if (d->wfd[at.worker] >= 0)
		worker_gone(d, at.worker);
	d->wfd[at.worker] = fd;
}

/* Until the next attempt times out: into *ts, or NULL for no limit. */
static struct timespec *
poll_timeout(const struct dialer *d, int64_t now, struct timespec *ts)
{
	int64_t t = -1;
	int i;

	for (i = 0; i < d->npeers; i++)
		if (d->dials[i].active && d->dials[i].fd >= 0 &&
		    (t < 0 || d->dials[i].attempt_end - now < t))
			t = d->dials[i].attempt_end - now;
	if (t < 0)
		return NULL;
	t = t > 0 ? t : 0;
	ts->tv_sec = t / 1000;
	ts->tv_nsec = t % 1000 * 1000000;
	return ts;
}

/* SIGTERM is blocked but while waiting, so it cannot slip in before ppoll. */
static void
run(struct dialer *d, const sigset_t *waiting)
{
	struct timespec ts;
	struct pollfd pfd[1 + SHM_MAX_WORKERS + MESH_MAX_PEERS];
	int who[1 + SHM_MAX_WORKERS + MESH_MAX_PEERS];
	uint32_t attempt[1 + SHM_MAX_WORKERS + MESH_MAX_PEERS];
	struct dial *dl;
	int n, k, i;
	int64_t now;

	while (!stop) {
		n = 0;
		pfd[n].fd = d->ctl;
		pfd[n].events = POLLIN;
		who[n++] = -1;
		for (i = 0; i < (int)d->nworkers; i++)
			if (d->wfd[i] >= 0) {
				pfd[n].fd = d->wfd[i];
				pfd[n].events = POLLIN;
				who[n++] = i;
			}
		for (i = 0; i < d->npeers; i++)
			if (d->dials[i].active && d->dials[i].fd >= 0) {
				pfd[n].fd = d->dials[i].fd;
				pfd[n].events = POLLOUT;
				attempt[n] = d->dials[i].attempt;
				who[n++] = SHM_MAX_WORKERS + i;
			}
		if (ppoll(pfd, (nfds_t)n, poll_timeout(d, now_ms(), &ts),
		    waiting) < 0) {
			if (errno != EINTR)
				fatal("ppoll");
			continue;
		}
		now = now_ms();
		/* Handling one entry may close another's descriptor, whose
		 * number a new socket then takes: attempts tell them apart. */
		for (k = 0; k < n; k++) {
			dl = who[k] >= SHM_MAX_WORKERS ?
			    &d->dials[who[k] - SHM_MAX_WORKERS] : NULL;
			if (who[k] < 0 && pfd[k].revents != 0)
				ctl_readable(d);
			else if (dl == NULL && pfd[k].revents != 0 &&
			    d->wfd[who[k]] == pfd[k].fd)
				worker_readable(d, (uint32_t)who[k]);
			else if (dl != NULL && dl->active && dl->fd >= 0 &&
			    dl->attempt == attempt[k])
				progress(d, dl, now, pfd[k].revents != 0);
		}
	}
}

static void
from_setup(struct dialer *d)
{
	char err[512];
	struct config cfg;
	json_t *setup;
	int64_t nw;
	uint32_t i;

	setup = setup_read();
	if (getppid() != (pid_t)setup_int(setup, "master_pid"))
		fatalx("master exited during start-up");
	setup_get_config(setup, &cfg, SETUP_CFG_DIALER);
	log_set_verbose(cfg.verbose);
	if (mesh_peers_parse(cfg.mesh_with, d->peers, &d->npeers, err,
	    sizeof(err)) != 0)
		fatalx("-mesh-with: %s", err);
	nw = setup_int(setup, "nworkers");
	if (nw < 1 || nw > SHM_MAX_WORKERS)
		fatalx("set-up: bad nworkers");
	d->nworkers = (uint32_t)nw;
	d->ctl = setup_fd(setup, "ctl");
	for (i = 0; i < SHM_MAX_WORKERS; i++)
		d->wfd[i] = -1;
	for (i = 0; i < MESH_MAX_PEERS; i++)
		d->dials[i].fd = -1;
	json_decref(setup);
}

void
dialer_main(void)
{
	static struct dialer d;
	struct addrinfo *warm;
	struct sigaction sa;
	sigset_t term, waiting;

	log_init("derpd[mesh dialer]");
	signal(SIGINT, SIG_IGN);	/* the master stops us */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigprocmask(SIG_BLOCK, &term, &waiting) != 0)
		fatal("sigaction");
	sigdelset(&waiting, SIGTERM);
	from_setup(&d);
	/* As the bootstrap-DNS resolver: /etc/hosts and DNS, nothing that
	 * loads code or talks to daemons; the warm-up opens what they open. */
	if (__nss_configure_lookup("hosts", "files dns") != 0)
		fatalx("cannot restrict name lookups to files and DNS");
	if (getaddrinfo("localhost", NULL, NULL, &warm) == 0)
		freeaddrinfo(warm);
#ifdef DERPD_TEST_HOOKS
	{
		static struct probe_target t = { .fd = -1, .keyd_fd = -1 };

		t.fd = d.ctl;
		probe_install(&t);
	}
#endif
	sandbox_apply(SANDBOX_DIALER);
	log_debug("ready for %d peers", d.npeers);
	run(&d, &waiting);
	exit(0);
}
