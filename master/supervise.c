/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Supervision, after nginx's master: start the workers, restart any that
 * dies (with backoff when they keep dying), reclaim what a dead worker held
 * in shared memory, and stop everything on SIGTERM/SIGINT.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acmed.h"
#include "certreload.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "probe.h"
#include "rateconf.h"
#include "roles.h"
#include "tablesrv.h"

#define HEALTHY_RUN_MS	10000	/* a worker that lived this long restarts at once */
#define MIN_BACKOFF_MS	100
#define MAX_BACKOFF_MS	30000
#define STOP_GRACE_MS	10000

/*
 * Test builds may divide every back-off wait and the healthy-run threshold
 * (DERPD_TEST_BACKOFF_SCALE), so a test sees the 30 s cap in a second; the
 * delays logged stay in real milliseconds.
 */
static int64_t
backoff_scale(void)
{
#ifdef DERPD_TEST_HOOKS
	const char *v = getenv("DERPD_TEST_BACKOFF_SCALE");
	long long n;

	if (v != NULL && (n = strtoll(v, NULL, 10)) > 1)
		return n;
#endif
	return 1;
}

static int64_t
wait_ms(int64_t ms)
{
	return ms / backoff_scale();
}

/*
 * A child that lived this long restarts at once. Test builds may also set
 * it (DERPD_TEST_HEALTHY_RUN_MS), so a test can kill one many times.
 */
static int64_t
healthy_run_ms(void)
{
#ifdef DERPD_TEST_HOOKS
	const char *v = getenv("DERPD_TEST_HEALTHY_RUN_MS");

	if (v != NULL && *v != '\0')
		return strtoll(v, NULL, 10);
#endif
	return wait_ms(HEALTHY_RUN_MS);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tells every worker that a worker started or died (epochs changed). */
static void
announce_epochs(struct master *m)
{
	uint64_t one = 1;
	uint32_t j;

	__atomic_add_fetch(&m->shm.ctl->epochs_changed, 1, __ATOMIC_RELEASE);
	for (j = 0; j < m->nworkers; j++)
		if (m->w[j].pid != 0)
			(void)!write(m->evfds[j], &one, sizeof(one));
}

/*
 * New connections go to the workers that serve (master/steer.h): called
 * when one dies and when its successor starts, so none waits in a dead
 * worker's backlog through its back-off.
 */
static void
resteer(struct master *m)
{
	uint8_t alive[SHM_MAX_WORKERS];
	uint32_t i;

	if (m->nworkers < 2 || m->stopping)
		return;
	for (i = 0; i < m->nworkers; i++)
		alive[i] = m->w[i].pid != 0;
	if (steer_apply(m->listen_fds[0], listen_placement(m->cfg), m->nworkers,
	    alive) != 0 || (m->http_fds[0] >= 0 && steer_apply(m->http_fds[0],
	    listen_placement(m->cfg), m->nworkers, alive) != 0))
		log_warn("cannot steer new connections around worker changes");
}

static int
worker_sockets(uint32_t i, int keyd[2], int table[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, keyd) != 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, table) == 0)
		return 0;
	log_warn("socketpair for worker %u", i);
	close(keyd[0]);
	close(keyd[1]);
	return -1;
}

/* The worker's socket to the verifier, when there is one; else -1s. */
static int
verify_socket(const struct master *m, uint32_t i, int verify[2])
{
	verify[0] = verify[1] = -1;
	if (!m->cfg->verify_on ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, verify) == 0)
		return 0;
	log_warn("socketpair for worker %u", i);
	return -1;
}

/* With -mesh-with, a worker's socket to the mesh dialer; [0] is the worker's. */
static int
dial_socket(const struct master *m, uint32_t i, int dial[2])
{
	dial[0] = dial[1] = -1;
	if (!m->run_mesh ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, dial) == 0)
		return 0;
	log_warn("socketpair for worker %u", i);
	return -1;
}

static void
close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

static void
spawn_worker(struct master *m, uint32_t i)
{
	struct shm_worker_state *ws = &m->shm.ctl->workers[i];
	int keyd[2], table[2], verify[2], dial[2];
	pid_t pid;

	if (worker_sockets(i, keyd, table) != 0) {
		m->w[i].respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	if (verify_socket(m, i, verify) != 0) {
		close_pair(keyd);
		close_pair(table);
		m->w[i].respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	if (dial_socket(m, i, dial) != 0) {
		close_pair(keyd);
		close_pair(table);
		close_pair(verify);
		m->w[i].respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	__atomic_store_n(&ws->epoch, ws->epoch + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&ws->alive, 1, __ATOMIC_RELEASE);
	pid = roles_spawn_worker(m, i, keyd[0], table[0], verify[0], dial[0]);
	close(keyd[0]);
	close(table[0]);
	if (verify[0] >= 0)
		close(verify[0]);
	if (dial[0] >= 0)
		close(dial[0]);
	if (pid < 0) {
		__atomic_store_n(&ws->alive, 0, __ATOMIC_RELEASE);
		close(keyd[1]);
		close(table[1]);
		if (verify[1] >= 0)
			close(verify[1]);
		if (dial[1] >= 0)
			close(dial[1]);
		m->w[i].respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	keyd_attach(&m->keyd, i, keyd[1]);
	tablesrv_attach(&m->tables, i, table[1]);
	if (verify[1] >= 0)
		verifyd_attach(&m->verifyd, i, verify[1]);
	if (dial[1] >= 0)
		dialctl_attach(&m->dial, i, dial[1]);
	m->w[i].pid = pid;
	m->w[i].started_ms = mono_ms();
	__atomic_store_n(&ws->pid, pid, __ATOMIC_RELAXED);
	announce_epochs(m);
	resteer(m);
	log_info("worker %u started, pid %d", i, (int)pid);
}

static void
spawn_stun(struct master *m)
{
	pid_t pid = roles_spawn_stun(m);

	if (pid < 0) {
		m->stun.respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	m->stun.pid = pid;
	m->stun.started_ms = mono_ms();
	log_info("STUN server started, pid %d", (int)pid);
}

static void
spawn_dns(struct master *m)
{
	pid_t pid = roles_spawn_dns(m);

	if (pid < 0) {
		m->dns.respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	m->dns.pid = pid;
	m->dns.started_ms = mono_ms();
	log_info("bootstrap DNS resolver started, pid %d", (int)pid);
}

static void
spawn_dialer(struct master *m)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("socketpair for the mesh dialer");
		m->dialer.respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	pid = roles_spawn_dialer(m, sv[1]);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		m->dialer.respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	dialctl_started(&m->dial, sv[0]);
	m->dialer.pid = pid;
	m->dialer.started_ms = mono_ms();
	log_info("mesh dialer started, pid %d", (int)pid);
}

static void
spawn_acme(struct master *m)
{
	pid_t pid = acmed_spawn(m);

	if (pid < 0) {
		m->acme.respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	m->acme.pid = pid;
	m->acme.started_ms = mono_ms();
	log_info("ACME client started, pid %d", (int)pid);
}

static void
spawn_verifier(struct master *m)
{
	if (verifyd_spawn(&m->verifyd, m->cfg) != 0) {
		m->verp.respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	m->verp.pid = m->verifyd.pid;
	m->verp.started_ms = mono_ms();
}

static void
spawn_keyd(struct master *m)
{
	if (keyd_spawn(&m->keyd, m->cfg) != 0) {
		m->keyp.respawn_at_ms = mono_ms() + wait_ms(MIN_BACKOFF_MS);
		return;
	}
	m->keyp.pid = m->keyd.pid;
	m->keyp.started_ms = mono_ms();
}

/*
 * A dead worker's routes leave the table (the master's own data; the
 * worker's region is never read for this), then its incarnation is marked
 * dead: every other worker then works out, from its own records, whom to
 * tell PeerGone.
 */
static void
reclaim(struct master *m, uint32_t i)
{
	size_t n;

	tablesrv_detach(&m->tables, i);
	n = table_remove_worker(&m->shm.table, i);
	__atomic_store_n(&m->shm.ctl->workers[i].alive, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&m->shm.ctl->workers[i].pid, 0, __ATOMIC_RELAXED);
	announce_epochs(m);
	if (n > 0)
		log_info("worker %u: removed its %zu routes", i, n);
}

static void
log_exit(const struct master *m, const char *what, pid_t pid, int status)
{
	if (m->stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_debug("%s (pid %d) stopped", what, (int)pid);
	else if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by signal %d (%s)%s", what, (int)pid,
		    WTERMSIG(status), strsignal(WTERMSIG(status)),
		    WTERMSIG(status) == SIGSYS ? ": seccomp policy violation" : "");
	else
		log_warnx("%s (pid %d) exited with status %d", what, (int)pid,
		    WEXITSTATUS(status));
}

/* Schedules a restart: at once after a healthy run, else with backoff. */
static void
schedule_restart(struct worker_proc *p, const char *what)
{
	int64_t now = mono_ms(), ran = now - p->started_ms;

	if (ran >= healthy_run_ms())
		p->backoff_ms = 0;
	else
		p->backoff_ms = p->backoff_ms == 0 ? MIN_BACKOFF_MS :
		    p->backoff_ms * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS :
		    p->backoff_ms * 2;
	p->respawn_at_ms = now + wait_ms(p->backoff_ms);
	if (p->backoff_ms > 0)
		log_warnx("%s died after %lld ms; restarting it in %u ms", what,
		    (long long)ran, p->backoff_ms);
}

static void
worker_died(struct master *m, uint32_t i, int status)
{
	struct worker_proc *wp = &m->w[i];
	char what[32];

	snprintf(what, sizeof(what), "worker %u", i);
	log_exit(m, what, wp->pid, status);
	wp->pid = 0;
	resteer(m);
	keyd_detach(&m->keyd, i);
	verifyd_detach(&m->verifyd, i);
	dialctl_detach(&m->dial, i);
	reclaim(m, i);
	__atomic_add_fetch(&m->shm.ctl->workers[i].restarts, 1, __ATOMIC_RELAXED);
	if (!m->stopping)
		schedule_restart(wp, what);
}

static void
dns_died(struct master *m, int status)
{
	log_exit(m, "bootstrap DNS resolver", m->dns.pid, status);
	m->dns.pid = 0;
	if (!m->stopping)
		schedule_restart(&m->dns, "bootstrap DNS resolver");
}

static void
acme_died(struct master *m, int status)
{
	log_exit(m, "ACME client", m->acme.pid, status);
	m->acme.pid = 0;
	acmed_gone(m);
	if (!m->stopping)
		schedule_restart(&m->acme, "ACME client");
}

static void
stun_died(struct master *m, int status)
{
	log_exit(m, "STUN server", m->stun.pid, status);
	m->stun.pid = 0;
	if (!m->stopping)
		schedule_restart(&m->stun, "STUN server");
}

/* Stopped for a reload, the verifier's successor starts at once. */
static void
dialer_died(struct master *m, int status)
{
	log_exit(m, "mesh dialer", m->dialer.pid, status);
	m->dialer.pid = 0;
	dialctl_gone(&m->dial);
	if (!m->stopping)
		schedule_restart(&m->dialer, "mesh dialer");
}

static void
verifier_died(struct master *m, int status)
{
	int reloading = m->verifyd.reloading;

	if (!(reloading && WIFEXITED(status) && WEXITSTATUS(status) == 0))
		log_exit(m, "verifier", m->verifyd.pid, status);
	verifyd_gone(&m->verifyd);
	m->verp.pid = 0;
	if (m->stopping)
		return;
	if (reloading && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		m->verp.respawn_at_ms = mono_ms();
		return;
	}
	schedule_restart(&m->verp, "verifier");
}

/*
 * A restarted verifier serves: workers ask again what was lost, and after
 * a reload about every client logged in.
 */
static void
verifier_readable(struct master *m)
{
	uint64_t one = 1;
	uint32_t j;

	if (verifyd_hello(&m->verifyd) != 1)
		return;
	if (m->verifyd.reloading) {
		m->verifyd.reloading = 0;
		__atomic_add_fetch(&m->shm.ctl->verify_reloads, 1, __ATOMIC_RELEASE);
	}
	__atomic_add_fetch(&m->shm.ctl->verify_restarts, 1, __ATOMIC_RELEASE);
	for (j = 0; j < m->nworkers; j++)
		if (m->w[j].pid != 0)
			(void)!write(m->evfds[j], &one, sizeof(one));
}

/* A restarted key process starts with back-off, like every other child. */
static void
keyd_died(struct master *m, int status)
{
	log_exit(m, "key process", m->keyd.pid, status);
	keyd_gone(&m->keyd);
	m->keyp.pid = 0;
	if (m->stopping)
		return;
	if (m->keyd.key_fd < 0)
		fatalx("the ephemeral -dev key died with the key process; exiting");
	schedule_restart(&m->keyp, "key process");
}

/* A restarted key process is ready: workers ask again what was lost. */
static void
keyd_readable(struct master *m)
{
	uint64_t one = 1;
	uint32_t j;

	if (keyd_hello(&m->keyd) != 1)
		return;
	__atomic_add_fetch(&m->shm.ctl->keyd_restarts, 1, __ATOMIC_RELEASE);
	for (j = 0; j < m->nworkers; j++)
		if (m->w[j].pid != 0)
			(void)!write(m->evfds[j], &one, sizeof(one));
}

static void
reap(struct master *m)
{
	uint32_t i;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m->keyp.pid) {
			keyd_died(m, status);
			continue;
		}
		if (pid == m->stun.pid) {
			stun_died(m, status);
			continue;
		}
		if (pid == m->dns.pid) {
			dns_died(m, status);
			continue;
		}
		if (pid == m->dialer.pid) {
			dialer_died(m, status);
			continue;
		}
		if (pid == m->acme.pid) {
			acme_died(m, status);
			continue;
		}
		if (pid == m->verp.pid) {
			verifier_died(m, status);
			continue;
		}
		for (i = 0; i < m->nworkers; i++)
			if (m->w[i].pid == pid)
				worker_died(m, i, status);
	}
}

static int
running(const struct master *m)
{
	uint32_t i;
	int n = 0;

	for (i = 0; i < m->nworkers; i++)
		n += m->w[i].pid != 0;
	return n + (m->stun.pid != 0) + (m->dns.pid != 0) + (m->verp.pid != 0) +
	    (m->dialer.pid != 0) + (m->acme.pid != 0);
}

static void
signal_workers(struct master *m, int sig)
{
	uint32_t i;

	for (i = 0; i < m->nworkers; i++)
		if (m->w[i].pid != 0)
			kill(m->w[i].pid, sig);
	if (m->stun.pid != 0)
		kill(m->stun.pid, sig);
	if (m->dns.pid != 0)
		kill(m->dns.pid, sig);
	if (m->verp.pid != 0)
		kill(m->verp.pid, sig);
	if (m->dialer.pid != 0)
		kill(m->dialer.pid, sig);
	if (m->acme.pid != 0)
		kill(m->acme.pid, sig);
}

static void
begin_stop(struct master *m, int sig)
{
	if (m->stopping)
		return;
	log_info("%s: stopping", strsignal(sig));
	notify_stopping();
	m->stopping = 1;
	m->stop_deadline_ms = mono_ms() + STOP_GRACE_MS;
	signal_workers(m, SIGTERM);
}

/*
 * SIGHUP: -allow-keys is read again (the old list stays if the new one
 * does not parse) and a new verifier starts with it, an empty cache and
 * fresh addresses; once it serves, every logged-in client is re-checked.
 */
static void
reload_verifier(struct master *m)
{
	if (*m->cfg->allow_keys != '\0')
		allowkeys_load(&m->verifyd.keys, m->cfg->allow_keys);
	log_info("SIGHUP: restarting the verifier; connected clients will be "
	    "verified again");
	verifyd_stop(&m->verifyd);
}

static void
handle_signals(struct master *m)
{
	struct signalfd_siginfo si;

	while (read(m->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(m);
			break;
		case SIGTERM:
		case SIGINT:
			begin_stop(m, (int)si.ssi_signo);
			break;
#ifdef DERPD_TEST_HOOKS
		case SIGUSR1: {
			struct probe_target t = { .fd = -1, .keyd_fd = -1,
			    .verify_fd = -1 };

			probe_run(&t, si.ssi_int);
			break;
		}
#endif
		case SIGHUP:
			notify_reloading();
			if (*m->cfg->rate_config != '\0')
				rateconf_load(m->cfg->rate_config, &m->shm);
			if (m->cfg->tls && !m->cfg->acme)
				certreload_hup(m);
			if (m->cfg->verify_on)
				reload_verifier(m);
			if (*m->cfg->rate_config == '\0' && !m->cfg->verify_on &&
			    !(m->cfg->tls && !m->cfg->acme))
				log_info("SIGHUP: nothing to reload");
			notify_reloaded();
			break;
		}
	}
}

/* Starts p if it is due; keeps in *next the ms until the next one is. */
static int
due(const struct worker_proc *p, int64_t now, int64_t *next)
{
	int64_t d;

	if (p->pid != 0)
		return 0;
	if (p->respawn_at_ms <= now)
		return 1;
	d = p->respawn_at_ms - now;
	if (*next < 0 || d < *next)
		*next = d;
	return 0;
}

/* Starts what is due; returns ms until the next restart is due, or -1. */
static int
respawn_due(struct master *m)
{
	int64_t now = mono_ms(), next = -1;
	uint32_t i;

	if (m->stopping)
		return -1;
	for (i = 0; i < m->nworkers; i++)
		if (due(&m->w[i], now, &next))
			spawn_worker(m, i);
	if (due(&m->keyp, now, &next))
		spawn_keyd(m);
	if (m->stun_fd >= 0 && due(&m->stun, now, &next))
		spawn_stun(m);
	if (m->run_dns && due(&m->dns, now, &next))
		spawn_dns(m);
	if (m->cfg->verify_on && due(&m->verp, now, &next))
		spawn_verifier(m);
	if (m->run_mesh && due(&m->dialer, now, &next))
		spawn_dialer(m);
	if (m->cfg->acme && due(&m->acme, now, &next))
		spawn_acme(m);
	return (int)next;
}

/* Closing its socket makes the key process wipe the key and exit. */
static void
stop_keyd(struct master *m)
{
	int i;

	if (m->keyd.pid == 0)
		return;
	close(m->keyd.ctl);
	m->keyd.ctl = -1;
	for (i = 0; i < 40; i++) {
		if (waitpid(m->keyd.pid, NULL, WNOHANG) == m->keyd.pid)
			return;
		poll(NULL, 0, 50);
	}
	log_warnx("the key process did not exit; killing it");
	kill(m->keyd.pid, SIGKILL);
	waitpid(m->keyd.pid, NULL, 0);
}

/* Polled before the workers' table sockets: signals, the key process's and
 * the verifier's control sockets before they are ready, the ACME child. */
#define NFIXED	4

/* Waits for signals and table requests, at most timeout ms. */
static void
wait_events(struct master *m, int timeout)
{
	struct pollfd pfd[SHM_MAX_WORKERS + NFIXED];
	uint32_t who[SHM_MAX_WORKERS];
	int n, k;

	pfd[0].fd = m->sigfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = m->keyd.pid != 0 && !m->keyd.ready ? m->keyd.ctl : -1;
	pfd[1].events = POLLIN;
	pfd[2].fd = m->verifyd.pid != 0 && !m->verifyd.ready ? m->verifyd.ctl : -1;
	pfd[2].events = POLLIN;
	pfd[3].fd = m->acme_fd;
	pfd[3].events = POLLIN;
	n = tablesrv_pollfds(&m->tables, pfd + NFIXED, who, SHM_MAX_WORKERS);
	if (poll(pfd, (nfds_t)n + NFIXED, timeout) < 0) {
		if (errno != EINTR)
			fatal("poll");
		return;
	}
	for (k = 0; k < n; k++)
		if (pfd[k + NFIXED].revents != 0)
			tablesrv_serve(&m->tables, who[k], pfd[k + NFIXED].revents);
	if (pfd[3].revents != 0 && m->acme_fd >= 0)
		acmed_readable(m);
	if (pfd[1].revents != 0)
		keyd_readable(m);
	if (pfd[2].revents != 0)
		verifier_readable(m);
	if (pfd[0].revents != 0)
		handle_signals(m);
}

/* The earlier of two poll timeouts, -1 meaning none. */
static int
sooner(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int
master_run(struct master *m)
{
	int timeout;

	if (backoff_scale() > 1)
		log_info("back-off times divided by %lld (test build)",
		    (long long)backoff_scale());
	for (;;) {
		timeout = respawn_due(m);
		if (m->stopping) {
			if (running(m) == 0)
				break;
			timeout = (int)(m->stop_deadline_ms - mono_ms());
			if (timeout <= 0) {
				log_warnx("workers did not stop in time; killing them");
				signal_workers(m, SIGKILL);
				timeout = 1000;
			}
		}
		timeout = sooner(timeout, notify_tick(m));
		if (!m->stopping) {
			timeout = sooner(timeout, acmed_tick(m));
			timeout = sooner(timeout, certreload_tick(m));
		}
		wait_events(m, timeout);
	}
	stop_keyd(m);
	log_info("stopped");
	return 0;
}
