/* SPDX-License-Identifier: BSD-3-Clause */
/* A worker in the harness's process: see fuzz_worker.h. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "flags.h"
#include "handshake.h"
#include "inbox.h"
#include "keyproc.h"
#include "keyd_client.h"
#include "keyfile.h"
#include "route.h"
#include "session.h"
#include "table_client.h"
#include "tablesrv.h"
#include "timers.h"
#include "fuzz.h"
#include "fuzz_worker.h"

#define MAX_EVENTS	64
#define MAX_TURNS	64

struct fw fw;

static struct shm shm;
static struct tablesrv ts;
static int keyd_end;		/* the key process's end */
static int evfds[1];
static struct sockaddr_un addr[2];	/* listeners: DERP port, port 80 */

static void
poll_fd(int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = tag;
	CHECK(epoll_ctl(fw.w.epfd, EPOLL_CTL_ADD, fd, &ev) == 0);
}

static int
listener(struct sockaddr_un *a, const char *name)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* Abstract names: nothing on disk, one set per process. */
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "derpd-fuzz-%d-%s",
	    (int)getpid(), name);
	CHECK(bind(fd, (struct sockaddr *)a, sizeof(*a)) == 0);
	CHECK(listen(fd, 64) == 0);
	return fd;
}

static void
seqpacket(int sv[2])
{
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == 0);
}

/* Shared memory as the master makes it; our worker's region writable here. */
static void
setup_shm(void)
{
	void *base;

	shm_create(&shm, 1, FW_MAX_CLIENTS, 0, RING_MIN_SIZE);
	base = mmap(NULL, shm.worker[0].size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    shm.worker[0].rw_fd, 0);
	CHECK(base != MAP_FAILED);
	munmap(shm.worker[0].base, shm.worker[0].size);
	shm.worker[0].base = base;
	shm.counters[0] = base;
	shm.ctl->workers[0].epoch = 1;
	shm.ctl->workers[0].alive = 1;
}

void
fw_init(void)
{
	static char *argv[] = { "derpd", "-a", "127.0.0.1:3340", "-workers", "1",
	    "-stun=false", "-http-port=-1", "-max-clients", "64", NULL };
	struct wk *w = &fw.w;
	int sv[2];
	uint32_t i;

	flags_parse(&fw.cfg, 9, argv);
	randombytes_buf(fw.priv, KEY_LEN);
	setup_shm();
	tablesrv_init(&ts, &shm, FW_MAX_CLIENTS);

	memset(w, 0, sizeof(*w));
	w->cfg = &fw.cfg;
	w->shm = &shm;
	w->epoch = 1;
	w->nworkers = 1;
	w->listen_fd = listener(&addr[0], "derp");
	w->http_fd = listener(&addr[1], "port80");
	seqpacket(sv);
	w->keyd_fd = sv[0];
	keyd_end = sv[1];
	seqpacket(sv);
	w->table_fd = sv[0];
	tablesrv_attach(&ts, 0, sv[1]);
	w->verify_fd = -1;		/* no verifier: every login is admitted */
	w->keyd.size = sizeof(struct keyd_req);
	w->table.size = sizeof(struct table_req);
	CHECK((evfds[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0);
	w->evfds = evfds;
	w->evfd = evfds[0];
	key_public(w->server_pub, fw.priv);
	w->up.input = session_input;
	w->up.closing = session_closing;
	w->nslots = FW_MAX_CLIENTS;
	w->slots = calloc(w->nslots, sizeof(*w->slots));
	w->free_slots = calloc(w->nslots, sizeof(*w->free_slots));
	CHECK(w->slots != NULL && w->free_slots != NULL);
	for (i = 0; i < w->nslots; i++)
		w->free_slots[i] = w->nslots - 1 - i;
	w->nfree = w->nslots;
	inbox_start(w);
	CHECK((w->epfd = epoll_create1(EPOLL_CLOEXEC)) >= 0);
	poll_fd(w->listen_fd, TAG_LISTEN);
	poll_fd(w->http_fd, TAG_HTTP);
	poll_fd(w->evfd, TAG_EVENTFD);
	poll_fd(w->keyd_fd, TAG_KEYD);
	poll_fd(w->table_fd, TAG_TABLE);
	w->now_ms = 1000000;
}

void
fw_reset(void)
{
	fw.keyd_mode = FW_KEYD_ANSWER;
	fw.cfg.home = "";
	fw.cfg.has_mesh_key = 0;
}

/* The key process: answers every request the worker sent. */
static int
serve_keyd(void)
{
	struct keyproc kp = { .derp_priv = fw.priv };
	struct keyd_resp resp;
	struct keyd_req req;
	const char *why;
	ssize_t r;
	int n = 0;

	while ((r = recv(keyd_end, &req, sizeof(req), MSG_DONTWAIT)) > 0) {
		CHECK(r == (ssize_t)sizeof(req));
		CHECK(keyproc_answer(&kp, &req, &resp, &why) == 0);
		if (fw.keyd_mode == FW_KEYD_REFUSE) {
			resp.ok = 0;
			sodium_memzero(resp.shared, sizeof(resp.shared));
		} else if (fw.keyd_mode == FW_KEYD_OTHER_CONN)
			resp.gen ^= 0x8000;
		CHECK(send(keyd_end, &resp, sizeof(resp), MSG_DONTWAIT) ==
		    (ssize_t)sizeof(resp));
		fw.keyd_answers++;
		n++;
	}
	return n;
}

/* worker/main.c's dispatch, less signals and timers. */
static void
dispatch(const struct epoll_event *ev)
{
	struct wk *w = &fw.w;
	struct conn *c;
	uint64_t v;

	switch (ev->data.u64) {
	case TAG_LISTEN:
		conn_accept(w, w->listen_fd, 0);
		break;
	case TAG_HTTP:
		conn_accept(w, w->http_fd, 1);
		break;
	case TAG_EVENTFD:
		while (read(w->evfd, &v, sizeof(v)) > 0)
			;
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
	default:
		if ((c = conn_by_tag(w, ev->data.u64)) != NULL)
			conn_io(w, c, ev->events);
		break;
	}
}

/* One turn of worker/main.c's loop, then the master and key process. */
static int
turn(void)
{
	struct epoll_event evs[MAX_EVENTS];
	struct wk *w = &fw.w;
	int i, n;

	n = epoll_wait(w->epfd, evs, MAX_EVENTS, 0);
	CHECK(n >= 0 || errno == EINTR);
	for (i = 0; i < n; i++)
		dispatch(&evs[i]);
	inbox_drain(w);
	conn_run_ready(w);
	conn_flush_all(w);
	route_wake_peers(w);
	conn_bury(w);
	n += serve_keyd();
	tablesrv_serve(&ts, 0, POLLIN);
	return n > 0 || w->ready != NULL;
}

void
fw_settle(void)
{
	int i;

	for (i = 0; i < MAX_TURNS && turn(); i++)
		;
	turn();		/* the master's answers */
	for (i = 0; i < MAX_TURNS && turn(); i++)
		;
}

int
fw_connect(int port80, const struct sockaddr_storage *peer)
{
	struct conn *before = fw.w.all;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&addr[port80 ? 1 : 0],
	    sizeof(addr[0])) == 0);
	CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	fw_settle();
	if (fw.w.all == before) {	/* refused: out of slots */
		close(fd);
		return -1;
	}
	if (peer != NULL)
		fw.w.all->peer = *peer;	/* the newest connection is first */
	return fd;
}

void
fw_send(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t r;

	while (n > 0) {
		r = send(fd, b, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EAGAIN) {
			fw_settle();
			continue;
		}
		if (r < 0)	/* the worker closed it */
			return;
		b += r;
		n -= (size_t)r;
	}
	fw_settle();
}

size_t
fw_recv(int fd, uint8_t *buf, size_t cap, int *eof)
{
	uint8_t sink[4096];
	size_t len = 0;
	ssize_t r;
	int idle = 0;

	*eof = 0;
	while (idle < 2) {
		if (len < cap)
			r = recv(fd, buf + len, cap - len, 0);
		else		/* more than the harness wants: drop it */
			r = recv(fd, sink, sizeof(sink), 0);
		if (r > 0) {
			if (len < cap)
				len += (size_t)r;
			idle = 0;
			continue;
		}
		if (r == 0 || errno != EAGAIN) {
			*eof = 1;
			break;
		}
		fw_settle();
		idle++;
	}
	return len;
}

void
fw_close(int fd)
{
	uint32_t conns;

	close(fd);
	fw_settle();
	if (fw.w.all != NULL) {	/* still waiting for an answer: time out */
		fw.w.now_ms += fw.cfg.handshake_timeout_ms + 1;
		timers_tick(&fw.w);
		fw_settle();
	}
	CHECK(fw.w.all == NULL);
	CHECK(fw.w.nfree == fw.w.nslots);
	CHECK(__atomic_load_n(&shm.counters[0]->stats[ST_TCP_CURRENT],
	    __ATOMIC_RELAXED) == 0);
	CHECK(__atomic_load_n(&shm.counters[0]->stats[ST_CLIENTS_CURRENT],
	    __ATOMIC_RELAXED) == 0);
	table_counts(&shm.table, &conns, &conns, &conns);
	CHECK(conns == 0);
}
