/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker process: set up, enter the sandbox, run the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "conn.h"
#include "dial_proto.h"
#include "handshake.h"
#include "inbox.h"
#include "keyd_client.h"
#include "log.h"
#include "meshlink.h"
#include "role.h"
#include "route.h"
#include "sandbox.h"
#include "session.h"
#include "setup.h"
#include "table_client.h"
#include "probe.h"
#include "pushback.h"
#include "timers.h"
#include "tlsclient.h"
#include "tlsctx.h"
#include "verify.h"
#include "worker.h"

#define MAX_EVENTS	256
#define TICK_MS		250
#define RESTART_RECONNECT_MS	500	/* Restarting: come back after 0.5-2.5 s */
#define RESTART_SPREAD_MS	2000
#define RESTART_TRY_FOR_MS	5000	/* derp.go: TryFor at most a few seconds */
#define STOP_GRACE_MS		2000
/*
 * Batching. Under a stream of small packets a worker wakes for one or two
 * records at a time, and the wake-up (a context switch each way,
 * epoll_wait, a read, a write) costs more than relaying them. Woken again
 * within BATCH_GAP_US of going to sleep, after a turn that moved less
 * than BATCH_BYTES, it naps BATCH_US before it looks, so that one turn
 * takes what came meanwhile (bench/README.md, "Less CPU per packet").
 * Slower than that it never naps: a quiet connection's packets are not
 * delayed; nor are large ones, whose turn already paid for its wake-up.
 */
#define BATCH_US		30
#define BATCH_GAP_US		(4 * BATCH_US)
#define BATCH_BYTES		(16 * 1024)

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
now_ms(void)
{
	return now_us() / 1000;
}

static void
batch_nap(struct wk *w)
{
	const struct timespec ts = { 0, BATCH_US * 1000 };

	wk_stat(w, ST_BATCH_NAPS, 1);
	(void)clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

static void
poll_fd(struct wk *w, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = tag;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal("epoll_ctl");
}

static int
make_signalfd(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
#ifdef DERPD_TEST_HOOKS
	sigaddset(&set, SIGUSR1);	/* probe_run() */
#endif
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		fatal("sigprocmask");
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		fatal("signalfd");
	return fd;
}

static int
make_timer(void)
{
	struct itimerspec its = {
		.it_interval = { 0, TICK_MS * 1000000L },
		.it_value = { 0, TICK_MS * 1000000L },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) != 0)
		fatal("timerfd");
	return fd;
}

/*
 * Our region may hold what a previous incarnation (perhaps a compromised
 * one) left: gauges start at zero, the rings where the other side is.
 */
static void
start_region(struct wk *w)
{
	struct shm_counters *mine = w->shm->counters[w->id];
	uint32_t i;

	mine->stats[ST_TCP_CURRENT] = 0;
	mine->stats[ST_CLIENTS_CURRENT] = 0;
	mine->stats[ST_HOME_CLIENTS] = 0;
	mine->stats[ST_LOGIN_MEM_BYTES] = 0;
	mine->stats[ST_SENDQ_BYTES] = 0;
	mine->watchers = 0;
	mine->ready = 0;
	for (i = 0; i < MESH_MAX_PEERS; i++) {
		mine->mesh[i].state = LINK_WAIT;
		mine->mesh[i].slot = mine->mesh[i].gen = 0;
		mine->mesh[i].has_pub = 0;
	}
	inbox_start(w);
	w->verify_restarts = __atomic_load_n(&w->shm->ctl->verify_restarts,
	    __ATOMIC_ACQUIRE);
	w->verify_reloads = __atomic_load_n(&w->shm->ctl->verify_reloads,
	    __ATOMIC_ACQUIRE);
}

/* Every worker's eventfd, ours among them. */
static const int *
evfds_from(const json_t *setup, uint32_t n)
{
	const json_t *a = json_object_get(setup, "evfds"), *v;
	int *fds = calloc(SHM_MAX_WORKERS, sizeof(*fds));
	size_t i;

	if (fds == NULL || !json_is_array(a) || json_array_size(a) != n)
		fatalx("set-up: bad evfds");
	json_array_foreach(a, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) <= ROLE_SETUP_FD ||
		    json_integer_value(v) > 65535)
			fatalx("set-up: bad evfds");
		fds[i] = (int)json_integer_value(v);
	}
	return fds;
}

/*
 * -mesh-with: the whole list (for names in /metrics), the links that are
 * ours, the TLS client with its trust anchors, the dialer's socket.
 */
static void
mesh_from_setup(struct wk *w, const json_t *setup)
{
	struct mesh_links *ls = &w->links;
	char err[512];
	int i;

	ls->dial_fd = setup_fd(setup, "dialer");
	if (*w->cfg->mesh_with == '\0')
		return;
	if ((ls->peers = calloc(MESH_MAX_PEERS, sizeof(*ls->peers))) == NULL ||
	    (ls->own = calloc(MESH_MAX_PEERS, sizeof(*ls->own))) == NULL)
		fatal("mesh links");
	if (mesh_peers_parse(w->cfg->mesh_with, ls->peers, &ls->npeers, err,
	    sizeof(err)) != 0)
		fatalx("set-up: -mesh-with: %s", err);
	if (ls->dial_fd < 0)
		fatalx("set-up: -mesh-with but no mesh dialer");
	for (i = 0; i < ls->npeers; i++)
		if (dial_owner((uint32_t)i, w->nworkers) == w->id)
			ls->own[ls->nown++].peer = (uint32_t)i;
	ls->ctx = tlsclient_new(setup_str(setup, "mesh_ca"));
	if (*setup_str(setup, "mesh_chain") != '\0')
		tlsclient_present(w, ls->ctx, setup_str(setup, "mesh_chain"));
}

/* What the master's set-up says (common/role.h); it lives as long as we do. */
static void
from_setup(struct wk *w, const json_t *setup)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct shm *shm = calloc(1, sizeof(*shm));

	if (cfg == NULL || shm == NULL)
		fatalx("out of memory");
	setup_get_config(setup, cfg, SETUP_CFG_WORKER);
	log_set_verbose(cfg->verbose);
	w->cfg = cfg;
	w->sendq_budget.max = (uint64_t)cfg->queue_budget_mib << 20;
	w->id = (uint32_t)setup_int(setup, "id");
	setup_get_shm(setup, shm, SHM_WORKER, w->id);
	if (w->id >= shm->nworkers)
		fatalx("set-up: bad worker number");
	w->shm = shm;
	w->nworkers = shm->nworkers;
	w->epoch = (uint32_t)setup_int(setup, "epoch");
	w->listen_fd = setup_fd(setup, "listen");
	w->http_fd = setup_fd(setup, "http");
	w->keyd_fd = setup_fd(setup, "keyd");
	w->table_fd = setup_fd(setup, "table");
	w->verify_fd = setup_fd(setup, "verify");
	w->evfds = evfds_from(setup, w->nworkers);
	w->evfd = w->evfds[w->id];
	setup_hex(setup, "server_pub", w->server_pub, KEY_LEN);
	if (cfg->tls)
		w->ssl_ctx = tlsctx_new(w, setup_str(setup, "client_ca"),
		    setup_str(setup, "client_crl"));
	mesh_from_setup(w, setup);
}

/* Everything that needs syscalls the sandbox forbids happens here. */
static void
setup(struct wk *w, const json_t *setup)
{
	uint32_t i;
	uint8_t warm[16];
	SSL *probe;

	from_setup(w, setup);
	w->keyd.size = sizeof(struct keyd_req);
	w->table.size = sizeof(struct table_req);
	w->verifyd.size = sizeof(struct verifyd_req);
	w->up.input = session_input;
	w->up.closing = session_closing;
	w->up.established = meshlink_established;
	w->nslots = (uint32_t)w->cfg->max_clients;
	w->slots = calloc(w->nslots, sizeof(*w->slots));
	w->free_slots = calloc(w->nslots, sizeof(*w->free_slots));
	if (w->slots == NULL || w->free_slots == NULL)
		fatal("slots");
	for (i = 0; i < w->nslots; i++)
		w->free_slots[i] = w->nslots - 1 - i;
	w->nfree = w->nslots;
	srandom(getpid());
	start_region(w);

	w->sigfd = make_signalfd();
	w->timerfd = make_timer();
	if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll_create1");
	poll_fd(w, w->listen_fd, TAG_LISTEN);
	if (w->http_fd >= 0)
		poll_fd(w, w->http_fd, TAG_HTTP);
	poll_fd(w, w->evfd, TAG_EVENTFD);
	poll_fd(w, w->keyd_fd, TAG_KEYD);
	poll_fd(w, w->table_fd, TAG_TABLE);
	if (w->verify_fd >= 0)
		poll_fd(w, w->verify_fd, TAG_VERIFYD);
	if (w->links.dial_fd >= 0)
		poll_fd(w, w->links.dial_fd, TAG_DIAL);
	poll_fd(w, w->sigfd, TAG_SIGNAL);
	poll_fd(w, w->timerfd, TAG_TIMER);

	/* Let libsodium and OpenSSL open what they lazily open, now. */
	randombytes_buf(warm, sizeof(warm));
	if (RAND_bytes(warm, sizeof(warm)) != 1)
		fatalx("OpenSSL RNG unavailable");
	if (w->ssl_ctx != NULL) {
		tlsctx_refresh(w);	/* the chains published so far */
		if ((probe = SSL_new(w->ssl_ctx)) == NULL)
			fatalx("SSL_new failed");
		SSL_free(probe);
	}
	tzset();	/* checking a client certificate's dates reads the zone */
	if (w->links.ctx != NULL) {
		if ((probe = SSL_new(w->links.ctx)) == NULL)
			fatalx("SSL_new failed");
		SSL_free(probe);
	}
	ERR_clear_error();	/* kept empty from now on: see tls_error() */
	sodium_memzero(warm, sizeof(warm));
}

static void
drain_fd(int fd)
{
	uint8_t buf[sizeof(struct signalfd_siginfo)];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * Graceful stop: no new connections; every logged-in client is told to
 * reconnect soon (Restarting), with a spread so that they do not all come
 * back at once, and closed once that is written or after a grace period.
 */
static void
begin_stop(struct wk *w)
{
	uint8_t f[DERP_FRAME_HDR_LEN + 8];
	struct conn *c, *next;

	if (w->stopping)
		return;
	w->stopping = 1;
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fd, NULL);
	close(w->listen_fd);
	if (w->http_fd >= 0) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->http_fd, NULL);
		close(w->http_fd);
	}
	for (c = w->all; c != NULL; c = next) {
		next = c->next;
		if (c->state != CS_RELAY || c->outbound) {
			conn_close(w, c, "server stopping");
			continue;
		}
		frame_restarting(f, RESTART_RECONNECT_MS +
		    randombytes_uniform(RESTART_SPREAD_MS), RESTART_TRY_FOR_MS);
		if (conn_queue_control(w, c, f, sizeof(f)) == 0)
			wk_stat(w, ST_RESTARTING_SENT, 1);
		conn_flush_close(w, c);
		c->deadline_ms = w->now_ms + STOP_GRACE_MS;
	}
}

#ifdef DERPD_TEST_HOOKS
/* A compromised worker's view: its own region, the master's, its sockets. */
static void
run_probe(struct wk *w, int value)
{
	struct probe_target t = {
		.own = w->shm->worker[w->id].base,
		.own_size = w->shm->worker[w->id].size,
		.foreign = w->shm->master.base,
		.foreign_size = w->shm->master.size,
		.fd = w->listen_fd,
		.keyd_fd = w->keyd_fd,
		.verify_fd = w->verify_fd,
	};

	probe_run(&t, value);
}
#endif

static void
handle_signal(struct wk *w)
{
	struct signalfd_siginfo si;

	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			begin_stop(w);
#ifdef DERPD_TEST_HOOKS
		if (si.ssi_signo == SIGUSR1)
			run_probe(w, si.ssi_int);
#endif
	}
}

static void
dispatch(struct wk *w, const struct epoll_event *ev)
{
	struct conn *c;

	switch (ev->data.u64) {
	case TAG_LISTEN:
		conn_accept(w, w->listen_fd, 0);
		break;
	case TAG_HTTP:
		conn_accept(w, w->http_fd, 1);
		break;
	case TAG_EVENTFD:
		drain_fd(w->evfd);
		break;
	case TAG_KEYD:
		if (ev->events & EPOLLOUT)
			keyd_client_writable(w);
		if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			handshake_keyd_readable(w);
		break;
	case TAG_TABLE:
		if (ev->events & EPOLLOUT)
			table_client_writable(w);
		if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			session_table_readable(w);
		break;
	case TAG_VERIFYD:
		if (ev->events & EPOLLOUT)
			verify_writable(w);
		if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			verify_readable(w);
		break;
	case TAG_DIAL:
		meshlink_dial_readable(w);
		break;
	case TAG_SIGNAL:
		handle_signal(w);
		break;
	case TAG_TIMER:
		drain_fd(w->timerfd);
		timers_tick(w);
		verify_tick(w);
		meshlink_tick(w);
		break;
	default:
		if ((c = conn_by_tag(w, ev->data.u64)) != NULL)
			conn_io(w, c, ev->events);
		break;
	}
}

static void
run(struct wk *w)
{
	struct epoll_event evs[MAX_EVENTS];
	int64_t slept, woke;
	int i, n, busy = 0;

	for (;;) {
		if (busy && w->turn_bytes < BATCH_BYTES && w->ready == NULL &&
		    !w->rings_pending)
			batch_nap(w);
		w->turn_bytes = 0;
		slept = now_us();
		n = epoll_wait(w->epfd, evs, MAX_EVENTS,
		    w->ready != NULL || w->rings_pending ? 0 : pushback_timeout(w));
		if (n < 0 && errno != EINTR)
			fatal("epoll_wait");
		woke = now_us();
		busy = n > 0 && woke - slept < BATCH_GAP_US;
		w->now_ms = woke / 1000;
		if (w->ssl_ctx != NULL)
			tlsctx_refresh(w);	/* before any handshake this turn */
		for (i = 0; i < n; i++)
			dispatch(w, &evs[i]);
		inbox_drain(w);
		pushback_run(w);
		conn_run_ready(w);
		conn_flush_all(w);
		route_wake_peers(w);
		conn_bury(w);
		if (w->stopping && w->all == NULL)
			break;
	}
}

void
worker_main(void)
{
	static struct wk w;
	char tag[32];
	json_t *set;

	log_init("derpd[worker]");
	set = setup_read();
	if (getppid() != (pid_t)setup_int(set, "master_pid"))
		fatalx("master exited during start-up");
	snprintf(tag, sizeof(tag), "derpd[worker %u]",
	    (unsigned)setup_int(set, "id"));
	log_init(tag);
	setup(&w, set);
	w.now_ms = now_ms();
	if (!w.cfg->no_seccomp)
		sandbox_apply(SANDBOX_WORKER);
	log_info("ready");
	__atomic_store_n(&w.shm->counters[w.id]->ready, 1, __ATOMIC_RELEASE);
	meshlink_start(&w);
	run(&w);
	exit(0);
}
