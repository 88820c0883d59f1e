/* SPDX-License-Identifier: BSD-3-Clause */
#include "keyd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keyfile.h"
#include "log.h"
#include "sandbox.h"
#include "keyd_proto.h"

#define KEYD_BATCH	64	/* requests per worker per turn, for fairness */
#define START_TIMEOUT_MS 10000
#define TAG_CTL		0xffffffffu

struct attach_msg {
	uint32_t	worker;
};

/* --- in the key process --- */

static uint8_t *priv;	/* sodium_malloc'd, read-only after load */
static int worker_fd[SHM_MAX_WORKERS];
/* An answer its worker's socket had no room for yet (blocked[w] set). */
static struct keyd_resp pending[SHM_MAX_WORKERS];
static int blocked[SHM_MAX_WORKERS];

static void
load_key(struct keyd *k)
{
	char err[512];

	if ((priv = sodium_malloc(KEY_LEN)) == NULL)
		fatalx("out of memory for the key");
	if (k->key_fd < 0) {
		randombytes_buf(priv, KEY_LEN);	/* -dev without -c: ephemeral, like derper */
		priv[0] &= 248;
		priv[31] = (priv[31] & 127) | 64;
	} else if (keyfile_read_fd(k->key_fd, k->key_path, priv, err,
	    sizeof(err)) != KEYFILE_OK) {
		log_warnx("%s", err);
		exit(78);	/* EX_CONFIG */
	}
	if (k->key_fd >= 0)
		close(k->key_fd);
	sodium_mprotect_readonly(priv);
}

/* Sends pending[w]: 1 if sent, 0 if there is no room yet, -1 if w is gone. */
static int
send_answer(uint32_t w)
{
	ssize_t r;

	r = send(worker_fd[w], &pending[w], sizeof(pending[w]),
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == EINTR))
		return 0;
	sodium_memzero(&pending[w], sizeof(pending[w]));
	return r == (ssize_t)sizeof(pending[w]) ? 1 : -1;
}

/* While an answer waits for room, wait for writability, not for requests. */
static void
set_blocked(int epfd, uint32_t w, int on)
{
	struct epoll_event ev = { .events = on ? EPOLLOUT : EPOLLIN };

	ev.data.u32 = w;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, worker_fd[w], &ev) != 0)
		fatal("epoll_ctl");
	blocked[w] = on;
}

/*
 * Answers up to KEYD_BATCH requests of worker w. An answer is never dropped
 * (its login would hang): when w's socket is full, the answer waits and the
 * rest of w's requests wait in w's queue until w has read. Returns -1 once
 * the worker has gone away.
 */
static int
serve_worker(int epfd, uint32_t w)
{
	struct keyd_req req;
	ssize_t r;
	int i, sent;

	if (blocked[w]) {
		if ((sent = send_answer(w)) <= 0)
			return sent;
		set_blocked(epfd, w, 0);
	}
	for (i = 0; i < KEYD_BATCH; i++) {
		r = recv(worker_fd[w], &req, sizeof(req), MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r == 0 || (r < 0 && errno != EMSGSIZE))
			return -1;
		if (keyd_answer(&req, (size_t)r, priv, &pending[w]) != 0)
			continue;	/* malformed: ignore, never crash */
		if ((sent = send_answer(w)) < 0)
			return -1;
		if (sent == 0) {
			set_blocked(epfd, w, 1);
			return 0;
		}
	}
	return 0;
}

/*
 * EPOLL_CTL_DEL before close: the master holds a duplicate of the same open
 * file description, so close() alone would leave it registered.
 */
static void
drop_worker_fd(int epfd, uint32_t w)
{
	if (worker_fd[w] < 0)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, worker_fd[w], NULL);
	close(worker_fd[w]);
	worker_fd[w] = -1;
	sodium_memzero(&pending[w], sizeof(pending[w]));
	blocked[w] = 0;
}

static void
take_worker_fd(int epfd, int ctl)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct attach_msg msg;
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct epoll_event ev = { .events = EPOLLIN };
	struct cmsghdr *cm;
	ssize_t r;
	int fd;

	r = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
	if (r == 0) {		/* the master is stopping, or gone */
		sodium_free(priv);	/* wipes it */
		exit(0);
	}
	if (r != (ssize_t)sizeof(msg) || (cm = CMSG_FIRSTHDR(&mh)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS || msg.worker >= SHM_MAX_WORKERS)
		fatalx("bad message from the master");
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	drop_worker_fd(epfd, msg.worker);
	worker_fd[msg.worker] = fd;
	ev.data.u32 = msg.worker;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal("epoll_ctl");
}

static void __attribute__((noreturn))
keyd_loop(int ctl)
{
	struct epoll_event evs[SHM_MAX_WORKERS + 1], ev = { .events = EPOLLIN };
	uint32_t w;
	int epfd, n, i;

	for (i = 0; i < SHM_MAX_WORKERS; i++)
		worker_fd[i] = -1;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll_create1");
	ev.data.u32 = TAG_CTL;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, ctl, &ev) != 0)
		fatal("epoll_ctl");
	sandbox_apply(SANDBOX_KEY);
	for (;;) {
		n = epoll_wait(epfd, evs, SHM_MAX_WORKERS + 1, -1);
		for (i = 0; i < n; i++) {
			w = evs[i].data.u32;
			if (w == TAG_CTL)
				take_worker_fd(epfd, ctl);
			else if (w >= SHM_MAX_WORKERS || worker_fd[w] < 0)
				continue;
			else if (serve_worker(epfd, w) != 0)
				drop_worker_fd(epfd, w);	/* its successor brings a new fd */
		}
	}
}

static void __attribute__((noreturn))
keyd_main(struct keyd *k, int ctl, const struct run_as *ra)
{
	uint8_t pub[KEY_LEN];
	sigset_t none;

	log_init("derpd[key]");
	/* Only the master stops the key process (a terminal's ^C reaches the
	 * whole process group). */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		fatal("PR_SET_PDEATHSIG");
	load_key(k);
	key_public(pub, priv);
	if (send(ctl, pub, sizeof(pub), MSG_NOSIGNAL) != (ssize_t)sizeof(pub))
		fatal("sending the public key");
	privdrop(ra);
	keyd_loop(ctl);
}

/* --- in the master --- */

static void
send_attach(struct keyd *k, uint32_t w)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct attach_msg msg = { w };
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(cbuf, 0, sizeof(cbuf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &k->worker_end[w], sizeof(int));
	if (sendmsg(k->ctl, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(msg))
		log_warn("cannot hand worker %u's socket to the key process", w);
}

void
keyd_attach(struct keyd *k, uint32_t w, int fd)
{
	keyd_detach(k, w);
	k->worker_end[w] = fd;
	send_attach(k, w);
}

void
keyd_detach(struct keyd *k, uint32_t w)
{
	if (k->worker_end[w] >= 0)
		close(k->worker_end[w]);
	k->worker_end[w] = -1;
}

void
keyd_close_in_child(struct keyd *k)
{
	uint32_t w;

	close(k->ctl);
	if (k->key_fd >= 0)
		close(k->key_fd);
	for (w = 0; w < SHM_MAX_WORKERS; w++)
		if (k->worker_end[w] >= 0)
			close(k->worker_end[w]);
}

static void
wait_for_pub(struct keyd *k)
{
	struct pollfd pfd = { .fd = k->ctl, .events = POLLIN };
	uint8_t pub[KEY_LEN];
	ssize_t r;

	if (poll(&pfd, 1, START_TIMEOUT_MS) != 1)
		fatalx("the key process did not start");
	r = recv(k->ctl, pub, sizeof(pub), 0);
	if (r != (ssize_t)sizeof(pub))
		fatalx("the key process could not load the key (see above)");
	memcpy(k->pub, pub, sizeof(pub));
}

void
keyd_start(struct keyd *k, const struct run_as *ra, struct shm *shm)
{
	int sv[2];
	uint32_t w;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		fatal("socketpair");
	if ((k->pid = fork()) < 0)
		fatal("fork");
	if (k->pid == 0) {
		if (shm != NULL)	/* a restart: the master's mappings stay behind */
			shm_enter_role(shm, SHM_NONE, 0);
		close(sv[0]);
		for (w = 0; w < SHM_MAX_WORKERS; w++)
			if (k->worker_end[w] >= 0)
				close(k->worker_end[w]);
		keyd_main(k, sv[1], ra);
	}
	close(sv[1]);
	k->ctl = sv[0];
	log_info("key process started, pid %d", (int)k->pid);
	wait_for_pub(k);
	for (w = 0; w < SHM_MAX_WORKERS; w++)
		if (k->worker_end[w] >= 0)
			send_attach(k, w);
}
