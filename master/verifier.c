/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verifier's process (see verifier.h): its set-up, everything that
 * needs more than its sandbox allows, then one epoll loop over the
 * master's socket, the workers' sockets and libcurl's.
 */
#include "verifier.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "sandbox.h"
#include "setup.h"

#define DEFAULT_SOCKET	"/var/run/tailscale/tailscaled.sock"	/* tailscaled's, on Linux */
#define MAX_EVENTS	128
#define LOG_WINDOW_MS	10000
#define LOG_LINES	50

int64_t
verifier_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
verifier_log(struct verifier *v, int warn, const char *fmt, ...)
{
	int64_t now = verifier_now_ms();
	char line[512];
	va_list ap;

	if (now - v->log_window_ms >= LOG_WINDOW_MS) {
		if (v->log_dropped > 0)
			log_warnx("%llu more lines about clients were not logged "
			    "in the last %d s", (unsigned long long)v->log_dropped,
			    LOG_WINDOW_MS / 1000);
		v->log_window_ms = now;
		v->log_lines = 0;
		v->log_dropped = 0;
	}
	if (v->log_lines++ >= LOG_LINES) {
		v->log_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (warn)
		log_warnx("%s", line);
	else
		log_info("%s", line);
}

/* -allow-keys as the master parsed it: raw keys in a sealed memfd. */
static void
load_allowlist(struct verifier *v, int fd)
{
	struct stat st;
	size_t off;
	ssize_t r;

	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || st.st_size < 0 || st.st_size % KEY_LEN != 0)
		fatalx("set-up: the allowed keys are not a list of keys");
	v->allow.n = (size_t)st.st_size / KEY_LEN;
	if ((v->allow.keys = malloc(v->allow.n * KEY_LEN + 1)) == NULL)
		fatalx("out of memory for the allowed keys");
	for (off = 0; off < (size_t)st.st_size; off += (size_t)r)
		if ((r = pread(fd, (uint8_t *)v->allow.keys + off,
		    (size_t)st.st_size - off, (off_t)off)) <= 0)
			fatal("reading the allowed keys");
	close(fd);
	allowlist_sort(&v->allow);
	v->have_allow = 1;
}

static void
watch(struct verifier *v, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = tag;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal("epoll_ctl");
}

static int
make_signalfd(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the master stops us */
	signal(SIGHUP, SIG_IGN);	/* and restarts us to reload */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
#ifdef DERPD_TEST_HOOKS
	sigaddset(&set, SIGUSR1);	/* probe_run() */
#endif
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		fatal("signalfd");
	return fd;
}

static void
handle_signals(struct verifier *v)
{
	struct signalfd_siginfo si;

	while (read(v->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM)
			exit(0);
#ifdef DERPD_TEST_HOOKS
		if (si.ssi_signo == SIGUSR1) {
			struct probe_target t = { .fd = -1, .keyd_fd = -1,
			    .verify_fd = -1 };

			probe_run(&t, si.ssi_int);
		}
#endif
	}
}

/* The master hands us a worker's socket; its closing ours means stop. */
static void
take_worker_fd(struct verifier *v)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct verifyd_attach msg;
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t r;
	int fd;

	r = recvmsg(v->ctl, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r == 0)
		exit(0);
	if (r != (ssize_t)sizeof(msg) || (cm = CMSG_FIRSTHDR(&mh)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS || msg.worker >= SHM_MAX_WORKERS)
		fatalx("bad message from the master");
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	vserve_attach(v, msg.worker, fd);
}

static void
dispatch(struct verifier *v, const struct epoll_event *ev)
{
	uint32_t low = (uint32_t)ev->data.u64;

	switch (VTAG_KIND(ev->data.u64)) {
	case VTAG_CTL:
		take_worker_fd(v);
		break;
	case VTAG_SIGNAL:
		handle_signals(v);
		break;
	case VTAG_WORKER:
		vserve_worker(v, low, ev->events);
		break;
	case VTAG_CURL:
		vhttp_drive(v, (int)low, ev->events);
		break;
	}
}

static void __attribute__((noreturn))
run(struct verifier *v)
{
	struct epoll_event evs[MAX_EVENTS];
	int i, n;

	for (;;) {
		n = epoll_wait(v->epfd, evs, MAX_EVENTS, vhttp_timeout(&v->http));
		if (n < 0 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++)
			dispatch(v, &evs[i]);
		if (v->http.timer_ms >= 0 && verifier_now_ms() >= v->http.timer_ms)
			vhttp_drive(v, -1, 0);
	}
}

static char *
copy(const char *s)
{
	char *c = strdup(s);

	if (c == NULL)
		fatalx("out of memory");
	return c;
}

/* What the set-up says, copied: the set-up is freed. */
static void
from_setup(struct verifier *v, const json_t *setup)
{
	struct config cfg;

	setup_get_config(setup, &cfg, SETUP_CFG_VERIFY);
	log_set_verbose(cfg.verbose);
	v->ctl = setup_fd(setup, "ctl");
	load_allowlist(v, setup_fd(setup, "allow_keys"));
	v->http.tailscaled = cfg.verify_clients;
	v->http.socket_path = copy(*cfg.socket_path != '\0' ? cfg.socket_path :
	    DEFAULT_SOCKET);
	v->http.url = *cfg.verify_client_url != '\0' ?
	    copy(cfg.verify_client_url) : NULL;
	v->http.fail_open = cfg.verify_fail_open;
	v->lookups = v->http.tailscaled || v->http.url != NULL;
}

void
verifier_main(void)
{
	static struct verifier v;
	struct verifyd_hello hello = { 1 };
	json_t *setup;
	uint32_t i;

	log_init("derpd[verify]");
	v.sigfd = make_signalfd();
	setup = setup_read();
	if (getppid() != (pid_t)setup_int(setup, "master_pid"))
		fatalx("master exited during start-up");
	for (i = 0; i < SHM_MAX_WORKERS; i++)
		v.worker_fd[i] = -1;
	from_setup(&v, setup);
	json_decref(setup);
	if ((v.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll_create1");
	watch(&v, v.ctl, VTAG_CTL);
	watch(&v, v.sigfd, VTAG_SIGNAL);
	vcache_init(&v.cache, VERIFIER_CACHE);
	randombytes_buf(v.index_key, sizeof(v.index_key));
	v.http.timer_ms = -1;
	if (v.lookups)		/* -allow-keys alone needs no HTTP at all */
		vhttp_init(&v.http, v.epfd);
	tzset();	/* checking a certificate's dates reads the zone: now, not later */
	sandbox_apply(SANDBOX_VERIFY);
	if (send(v.ctl, &hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
		fatal("telling the master we serve");
	run(&v);
}
